"""Functional core of the spiking layers: explicit state in, explicit state out.

Neuron model (spec ``deep_snn.md`` §1), per neuron and time step ``t = 1..T``::

    H_t = charge(V_{t-1}, X_t)               # leak + input
    S_t = Θ(H_t − V_th)                       # ">=" (default) or ">"
    V_t = reset(H_t, S_t)                     # hard / soft / none

Charge, chosen by :class:`LIFSpec`:

* ``"tau"`` (SpikingJelly ``LIFNode``): ``H = V + (X − (V − V_reset))/τ`` if ``decay_input`` else
  ``H = V − (V − V_reset)/τ + X`` (``V_reset`` taken as 0 unless the reset is hard);
* ``"decay"`` (STBP / tdBN ``τ_decay``, snnTorch ``beta``): ``H = β·V + X`` (``decay_input=False``)
  or ``H = β·V + (1 − β)·X``;
* ``"if"``: ``H = V + X``.

Reset: ``hard`` ``V = V_reset if S else H``; ``soft`` ``V = H − V_th·S``; ``none`` ``V = H``;
``soft_delayed`` (snnTorch's ``reset_mechanism="subtract"`` with its default ``reset_delay=True``): the
state is not reset within the step (``V_t = H_t``) and the *next* charge subtracts the threshold after the
leak, ``H_t = charge(V_{t-1}, X_t) − V_th·Θ(V_{t-1} − V_th)``. ``detach_reset`` stops the gradient
through ``S`` inside the reset.

Adaptive LIF (:class:`ALIFSpec`, :func:`alif_step`, :func:`alif_multi_step_reference`): the same charge and
reset around a threshold ``θ_t = V_th + β·a_t`` that each spike raises, ``a_t = ρ·a_{t-1} + S_{t-1}``,
``ρ = exp(−1/τ_a)`` (Bellec et al. 2018). Pure torch: one fused autograd node (:func:`alif_multi_step`) or the
per-step autograd loop (:func:`alif_multi_step_reference`); no compiled kernel.

Izhikevich (2003) (:class:`IzhikevichSpec`, :func:`izhikevich_step`, :func:`izhikevich_multi_step_reference`):
``v' = 0.04·v² + 5·v + 140 − u + I``, ``u' = a·(b·v − u)``, spike and ``v ← c``, ``u ← u + d`` at
``v ≥ v_peak``, integrated with Izhikevich's Euler scheme (``v`` in substeps, by default two of 0.5 ms per
1 ms step), each substep clamped to ``[v_min, v_peak]`` against overflow; the surrogate sees
``(v − v_peak)/v_scale``. Pure torch.

Multi-step tensors are time-first ``[T, B, ...]``. :func:`lif_multi_step` runs the whole sequence in one
fused :class:`torch.autograd.Function` (one pass over time forward, one backward, only the input and the
initial state saved); :func:`lif_multi_step_reference` is the readable per-step autograd twin used by
the tests.

Under :func:`torch.compile` the same kernels run as two ``torch.library`` custom operators
(``spikeforge::lif_forward`` and ``spikeforge::lif_backward``, with shape functions and a registered
autograd formula), so a compiled model keeps the fused kernels and traces with ``fullgraph=True``.
"""

from __future__ import annotations

import functools
import json
import math
import numbers
import warnings
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from . import _cpu_kernel
from .surrogate import SURROGATES, Surrogate, heaviside, spike_fn, surrogate

__all__ = [
    "ALIF_BACKENDS",
    "ALIFSpec",
    "BACKENDS",
    "IZHIKEVICH_BACKENDS",
    "PLIF_BACKENDS",
    "IZHIKEVICH_PRESETS",
    "IzhikevichSpec",
    "LIFSpec",
    "alif_multi_step",
    "alif_multi_step_reference",
    "alif_step",
    "check_sequence",
    "izhikevich_multi_step",
    "izhikevich_multi_step_reference",
    "izhikevich_step",
    "lif_multi_step",
    "lif_multi_step_reference",
    "lif_step",
    "plif_multi_step",
    "plif_step",
    "plif_tau",
    "plif_w",
    "select_backend",
]

BACKENDS = ("auto", "cpu", "torch", "triton", "reference")
#: Backends of PLIF: the compiled CPU kernel (``auto`` on CPU), an opt-in Triton kernel for CUDA, the pure-torch
#: node (``auto`` elsewhere) and the per-step loop.
PLIF_BACKENDS = ("auto", "cpu", "triton", "torch", "reference")
_CHARGES = ("tau", "decay", "if")
_RESETS = ("hard", "soft", "none", "soft_delayed")


def _spec_key(spec: LIFSpec) -> str:
    """A string naming ``spec`` exactly (floats round-trip through JSON): the custom operators'
    non-tensor argument, kept on the spec as ``spec._key``."""
    d = {f.name: getattr(spec, f.name) for f in fields(spec) if f.name != "surrogate"}
    sg = spec.surrogate
    d["surrogate"] = [sg.name, None if sg.is_custom else sg.alpha, sg.spiking]
    return json.dumps(d, sort_keys=True)


@dataclass(frozen=True)
class LIFSpec:
    """Parameters of LIF / IF dynamics (immutable, hashable).

    Parameters
    ----------
    charge : {"tau", "decay", "if"}
        Leak parametrisation (see the module docstring).
    tau : float
        Membrane time constant in time steps (``charge="tau"``), ≥ 1. SpikingJelly's ``tau``.
    decay : float
        Per-step decay factor β in [0, 1] (``charge="decay"``): STBP's ``τ_decay``, snnTorch's ``beta``.
        For ``charge="tau"`` the equivalent factor is ``1 − 1/τ``.
    decay_input : bool
        Whether the input is scaled by the leak (``1/τ`` or ``1 − β``).
    v_th : float
        Firing threshold (same unit as the input), > 0.
    v_reset : float
        Potential after a spike with ``reset="hard"``; the leak target of ``charge="tau"``.
    reset : {"hard", "soft", "none", "soft_delayed"}
    detach_reset : bool
        Stop the gradient through the spike in the reset term (snnTorch always does).
    spike_compare : {">=", ">"}
        Fire at ``H >= V_th`` (SpikingJelly, QCFS; default) or ``H > V_th`` (STBP, snnTorch, Norse).
    surrogate : Surrogate or str or (name, alpha)
        Surrogate derivative of the spike (see :mod:`spikeforge.nn.surrogate`).

    The numeric fields accept Python or NumPy real scalars and are stored as Python floats.

    Raises
    ------
    ValueError
        Unknown ``charge``, ``reset`` or ``spike_compare``; a numeric field that is not a finite real
        number (or is a bool); ``v_th <= 0``; ``tau < 1`` (``charge="tau"``); ``decay`` outside [0, 1]
        (``charge="decay"``).
    """

    charge: str = "tau"
    tau: float = 2.0
    decay: float = 0.5
    decay_input: bool = True
    v_th: float = 1.0
    v_reset: float = 0.0
    reset: str = "hard"
    detach_reset: bool = False
    spike_compare: str = ">="
    surrogate: Surrogate = field(default_factory=lambda: Surrogate("atan"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "surrogate", surrogate(self.surrogate))
        if self.charge not in _CHARGES:
            raise ValueError(f"charge must be one of {_CHARGES}; got {self.charge!r}")
        if self.reset not in _RESETS:
            raise ValueError(f"reset must be one of {_RESETS}; got {self.reset!r}")
        if self.spike_compare not in (">=", ">"):
            raise ValueError(f"spike_compare must be '>=' or '>'; got {self.spike_compare!r}")
        for name in ("tau", "decay", "v_th", "v_reset"):
            val = getattr(self, name)
            # numbers.Real covers Python and NumPy scalars (np.float32, np.int64, ...); bool is not a value
            if isinstance(val, bool) or not isinstance(val, numbers.Real) or not math.isfinite(val):
                raise ValueError(f"{name} must be a finite real number; got {val!r}")
            object.__setattr__(self, name, float(val))
        if self.v_th <= 0.0:
            raise ValueError(f"v_th must be > 0; got {self.v_th}")
        if self.charge == "tau" and self.tau < 1.0:
            raise ValueError(f"tau must be >= 1 time step; got {self.tau}")
        if self.charge == "decay" and not 0.0 <= self.decay <= 1.0:
            raise ValueError(f"decay must lie in [0, 1]; got {self.decay}")
        # the custom operators' name for this spec (a value, so equal specs share compiled graphs)
        object.__setattr__(self, "_key", _spec_key(self))

    # ------------------------------------------------------------------ derived constants
    @property
    def ge(self) -> bool:
        """True when the comparison is ``>=``."""
        return self.spike_compare == ">="

    @property
    def _vr_charge(self) -> float:
        return self.v_reset if self.reset == "hard" else 0.0

    def _linear(self) -> tuple[float, float, float]:
        """``(a, b, c)`` of ``H = a·V + b·X + c`` for the linear charges."""
        if self.charge == "if":
            return 1.0, 1.0, 0.0
        return self.decay, (1.0 - self.decay) if self.decay_input else 1.0, 0.0

    def kernel_params(self) -> tuple[list[float], list[int]]:
        """Parameters in the layout of the compiled kernels (``_cpu_kernel.cpp``, ``_triton_kernel.py``)."""
        if self.charge == "tau":
            a, b, c = 1.0 - 1.0 / self.tau, 1.0, 0.0
            mode = 1 if self.decay_input else 2
        else:
            a, b, c = self._linear()
            mode = 0
        fp = [a, b, c, self.tau, self._vr_charge, self.v_th, self.surrogate.alpha, 0.0 if self.detach_reset else 1.0]
        ip = [mode, _RESETS.index(self.reset), int(self.ge), self.surrogate.kernel_id, int(not self.surrogate.spiking)]
        return fp, ip

    def charge_fn(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``H = charge(V, X)`` with exactly the kernels' operation order."""
        if self.charge == "tau":
            vr = self._vr_charge
            if self.decay_input:
                return v + (x - (v - vr)) / self.tau
            return v - (v - vr) / self.tau + x
        a, b, c = self._linear()
        return v * a + x * b + c

    @property
    def dh_dv(self) -> float:
        """``∂H_t/∂V_{t-1}``."""
        return 1.0 - 1.0 / self.tau if self.charge == "tau" else self._linear()[0]

    @property
    def dh_dx(self) -> float:
        """``∂H_t/∂X_t``."""
        if self.charge == "tau":
            return 1.0 / self.tau if self.decay_input else 1.0
        return self._linear()[1]


# ---------------------------------------------------------------------------- validation
def check_sequence(x: object, *, name: str = "x_seq", min_dim: int = 2) -> torch.Tensor:
    """Validate a time-first input ``[T, B, ...]``: a floating tensor with ``T ≥ 1``.

    Raises
    ------
    TypeError
        Not a tensor, or not a floating-point dtype.
    ValueError
        Fewer than ``min_dim`` dimensions, or ``T = 0``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [T, B, ...]; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (spikes and currents are real-valued); got {x.dtype}. "
            "Convert with x.float()."
        )
    if x.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimensions, time first: [T, B, ...]; got shape {tuple(x.shape)}. "
            "For a single time step use step_mode='s' or x.unsqueeze(0)."
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} has T = 0 time steps (shape {tuple(x.shape)}); need T >= 1")
    return x


def _nan_error(name: str = "x_seq") -> ValueError:
    return ValueError(f"{name} contains NaN; check the layer before this one (or the data)")


def _first_order_only(backward):
    """Mark a hand-written ``backward`` as first order. Double backward (``create_graph=True``: a gradient penalty,
    MAML) runs backward with grad mode on; then this raises instead of returning a second derivative that would
    miss the backward's own dependence on its inputs (``torch.autograd.function.once_differentiable`` raises only
    when the incoming gradients require grad, and otherwise silently treats the result as a constant)."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        if torch.is_grad_enabled():
            raise RuntimeError(
                "double backward (create_graph=True) is not supported by the fused spiking layers: their hand-written "
                "backward passes are first order. Use backend='reference' (the per-step autograd loop) for "
                "higher-order gradients"
            )
        return backward(ctx, *grads)

    return wrapper


def _check_nan(x: torch.Tensor, name: str = "x_seq") -> None:
    """``ValueError`` if ``x`` holds a NaN. Skipped while ``torch.compile`` traces: the check is a
    data-dependent branch that would break the graph (``fullgraph=True`` would fail)."""
    if torch.compiler.is_compiling():
        return
    if torch.isnan(x).any():
        raise _nan_error(name)


def _prepare_v0(v0: torch.Tensor | None, x: torch.Tensor, spec: LIFSpec) -> torch.Tensor | None:
    if v0 is None:
        if spec.reset == "hard" and spec.v_reset != 0.0:  # start at rest, V_reset (as SpikingJelly)
            return torch.full(x.shape[1:], spec.v_reset, dtype=x.dtype, device=x.device)
        return None
    return _state_like(v0, x, "initial state v0")


def _state_like(value: torch.Tensor | float, x: torch.Tensor, what: str) -> torch.Tensor:
    """An initial state (tensor or number) broadcast to one time step of ``x`` [T, B, ...]: [B, ...],
    in ``x``'s dtype and device. Raises ``ValueError`` naming ``what`` if it does not broadcast."""
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    if value.shape != x.shape[1:]:
        try:
            value = value.expand(x.shape[1:])
        except RuntimeError as exc:
            raise ValueError(
                f"{what} of shape {tuple(value.shape)} does not match one time step of the input "
                f"{tuple(x.shape[1:])}"
            ) from exc
    return value.to(dtype=x.dtype, device=x.device)


# ---------------------------------------------------------------------------- reference
def lif_multi_step_reference(
    x_seq: torch.Tensor,
    v0: torch.Tensor | None = None,
    spec: LIFSpec = LIFSpec(),
    *,
    return_sequences: bool = False,
) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Naive per-step autograd loop (the readable twin of :func:`lif_multi_step`).

    Parameters
    ----------
    x_seq : Tensor [T, B, ...]
        Input current per step.
    v0 : Tensor [B, ...] or None
        Initial membrane potential; when None, ``V_reset`` for a hard reset (the resting potential, as in
        SpikingJelly) and 0 otherwise.
    spec : LIFSpec
    return_sequences : bool
        Also return ``h_seq`` (charged potentials) and ``v_seq`` (after reset), both ``[T, B, ...]``.

    Returns
    -------
    spikes [T, B, ...], v_T [B, ...] (and h_seq, v_seq)
    """
    x_seq = check_sequence(x_seq)
    v0 = _prepare_v0(v0, x_seq, spec)
    return _lif_loop(x_seq, torch.zeros_like(x_seq[0]) if v0 is None else v0, spec, spec.charge_fn, return_sequences)


def _lif_loop(x_seq: torch.Tensor, v: torch.Tensor, spec: LIFSpec, charge, return_sequences: bool):
    """The per-step loop of :func:`lif_multi_step_reference` with the charge ``charge(v, x) -> h`` (the spec's,
    or a parametric one: :func:`plif_multi_step`); threshold, spike and reset are the spec's."""
    sg, ge = spec.surrogate, spec.ge
    spikes, hs, vs = [], [], []
    s_prev = spike_fn(v - spec.v_th, sg, ge) if spec.reset == "soft_delayed" else None
    for x in x_seq.unbind(0):
        h = charge(v, x)
        if s_prev is not None:  # soft_delayed: subtract the previous step's spike after the leak
            h = h - (s_prev.detach() if spec.detach_reset else s_prev) * spec.v_th
        s = spike_fn(h - spec.v_th, sg, ge)
        sr = s.detach() if spec.detach_reset else s
        if spec.reset == "soft_delayed":
            s_prev = s
            v = h
        elif spec.reset == "hard":
            v = sr * spec.v_reset + (1 - sr) * h
        elif spec.reset == "soft":
            v = h - sr * spec.v_th
        else:
            v = h
        spikes.append(s)
        if return_sequences:
            hs.append(h)
            vs.append(v)
    out = torch.stack(spikes)
    if return_sequences:
        return out, v, torch.stack(hs), torch.stack(vs)
    return out, v


# ---------------------------------------------------------------------------- fused implementations
def _kernel_layout(x: torch.Tensor) -> torch.Tensor:
    """``x`` as the compiled kernels read it: contiguous, or one contiguous step broadcast over
    time (stride 0, direct encoding; read without a copy)."""
    if x.is_contiguous() or (x.shape[0] > 1 and x.stride(0) == 0 and x[0].is_contiguous()):
        return x
    return x.contiguous()


class _CpuImpl:
    """Compiled C++ kernel (float32 / float64 on CPU); saves only ``x`` and ``v0``."""

    name = "cpu"

    @staticmethod
    def forward(x: torch.Tensor, v0: torch.Tensor | None, spec: LIFSpec, check_nan: bool):
        lib = _cpu_kernel.load(x.dtype, not spec.surrogate.spiking)
        x = _kernel_layout(x)
        if v0 is not None:
            v0 = v0.contiguous()
        fp, ip = spec.kernel_params()
        s, vT, n_nan = _cpu_kernel.forward(lib, x, v0, fp, ip)
        if check_nan and n_nan:
            raise _nan_error()
        return s, vT, (x, v0)

    # the custom operators' view of what forward saves: inputs are saved by the autograd
    # formula, ``aux`` is the one tensor forward makes for backward (nothing here)
    saves_x = True

    @staticmethod
    def aux(saved, x: torch.Tensor) -> torch.Tensor:
        return x.new_empty(0)

    @staticmethod
    def aux_like(x: torch.Tensor, spec: LIFSpec) -> torch.Tensor:
        return x.new_empty(0)

    @staticmethod
    def restore(x, v0, aux, spec: LIFSpec, dtype: torch.dtype):
        return _kernel_layout(x), (None if v0 is None else v0.contiguous())

    @staticmethod
    def backward(saved, gs, gvT, spec: LIFSpec, need_gv0: bool):
        x, v0 = saved
        fp, ip = spec.kernel_params()
        lib = _cpu_kernel.load(x.dtype, not spec.surrogate.spiking)
        gx, gv0, _ = _cpu_kernel.backward(lib, x, v0, gs, gvT, fp, ip, need_gv0)  # LIF: no kv
        return gx, gv0


class _TorchImpl:
    """Pure-torch fused path (any device and dtype): forward under no_grad, hand-written backward."""

    name = "torch"

    @staticmethod
    def _spike(h: torch.Tensor, spec: LIFSpec) -> torch.Tensor:
        if spec.surrogate.spiking:
            return heaviside(h - spec.v_th, spec.ge)
        return spec.surrogate.primitive(h - spec.v_th)

    @staticmethod
    def _reset(h: torch.Tensor, s: torch.Tensor, spec: LIFSpec) -> torch.Tensor:
        if spec.reset == "hard":
            if not spec.surrogate.spiking:
                return s * spec.v_reset + (1 - s) * h
            return torch.where(s != 0, torch.full_like(h, spec.v_reset), h)
        if spec.reset == "soft":
            return h - s * spec.v_th
        return h

    @staticmethod
    def forward(x: torch.Tensor, v0: torch.Tensor | None, spec: LIFSpec, check_nan: bool):
        if check_nan:
            _check_nan(x)
        if v0 is None and spec.reset == "soft_delayed":
            v0 = torch.zeros_like(x[0])
        v = torch.zeros_like(x[0]) if v0 is None else v0
        spikes, hs = [], []
        delayed = spec.reset == "soft_delayed"
        for xt in x.unbind(0):
            h = spec.charge_fn(v, xt)
            if delayed:
                h = h - _TorchImpl._spike(v, spec) * spec.v_th
            s = _TorchImpl._spike(h, spec)
            v = _TorchImpl._reset(h, s, spec)
            spikes.append(s)
            hs.append(h)
        return torch.stack(spikes), v, (torch.stack(hs), v0 if spec.reset == "soft_delayed" else None)

    saves_x = False

    @staticmethod
    def aux(saved, x: torch.Tensor) -> torch.Tensor:
        return saved[0]

    @staticmethod
    def aux_like(x: torch.Tensor, spec: LIFSpec) -> torch.Tensor:
        return x.new_empty(x.shape)

    @staticmethod
    def restore(x, v0, aux, spec: LIFSpec, dtype: torch.dtype):
        if spec.reset != "soft_delayed":
            return aux, None
        return aux, (torch.zeros_like(aux[0]) if v0 is None else v0)

    @staticmethod
    def backward(saved, gs, gvT, spec: LIFSpec, need_gv0: bool):
        h_seq, v0 = saved
        nd = 0.0 if spec.detach_reset else 1.0
        g = torch.zeros_like(h_seq[0]) if gvT is None else gvT.to(h_seq.dtype)
        gx = torch.empty_like(h_seq)
        gs_t = [None] * h_seq.shape[0] if gs is None else gs.unbind(0)
        dhdv = spec.dh_dv
        sd = spec.v_th * nd if spec.reset == "soft_delayed" else 0.0
        c = None  # delayed soft reset: -c·sg(H_t) completes dL/dV_t once sg(H_t) is known
        for t in range(h_seq.shape[0] - 1, -1, -1):
            h = h_seq[t]
            sg = spec.surrogate.derivative(h - spec.v_th)
            if c is not None:
                g = g - c * sg
            if spec.reset == "hard":
                dvdh = (1 - _TorchImpl._spike(h, spec)) + (spec.v_reset - h) * sg * nd
            elif spec.reset == "soft":
                dvdh = 1 - spec.v_th * sg * nd
            else:
                dvdh = 1.0
            gh = g * dvdh
            if gs_t[t] is not None:
                gh = gh + gs_t[t] * sg
            if spec.charge == "tau":
                gx[t] = gh / spec.tau if spec.decay_input else gh
                g = gh - gh / spec.tau
            else:
                gx[t] = gh * spec.dh_dx
                g = gh * dhdv
            if sd:
                c = gh * sd
        if sd and need_gv0:
            g = g - c * spec.surrogate.derivative(v0 - spec.v_th)
        return gx, (g if need_gv0 else None)


class _FusedLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, spec, impl, check_nan):  # type: ignore[override]
        ctx.set_materialize_grads(False)
        s, vT, saved = impl.forward(x, v0, spec, check_nan)
        ctx.spec, ctx.impl = spec, impl
        ctx.save_for_backward(*saved)
        return s, vT

    @staticmethod
    @_first_order_only  # the hand-written backward is not itself differentiable
    def backward(ctx, gs, gvT):  # type: ignore[override]
        if gs is None and gvT is None:
            return None, None, None, None, None
        gx, gv0 = ctx.impl.backward(ctx.saved_tensors, gs, gvT, ctx.spec, ctx.needs_input_grad[1])
        return gx, gv0, None, None, None


def _triton_impl():
    from . import _triton_kernel  # imported only for CUDA tensors

    return _triton_kernel.TritonImpl


def select_backend(x: torch.Tensor, backend: str = "auto", smooth: bool = False, custom: bool = False) -> str:
    """The implementation ``lif_multi_step`` uses for ``x``: ``cpu``, ``triton``, ``torch`` or ``reference``.

    ``auto``: the compiled CPU kernel for float32/float64 CPU tensors when it builds, Triton for CUDA
    tensors when ``triton`` is installed, else the pure-torch fused path. ``custom=True`` (a custom
    surrogate, which the compiled kernels cannot run) resolves ``auto`` to ``torch`` and refuses an
    explicit ``cpu`` or ``triton`` with a ``ValueError``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
    if custom:
        if backend in ("cpu", "triton"):
            raise ValueError(
                f"backend {backend!r} runs only the built-in surrogates {sorted(SURROGATES)}; a custom "
                "surrogate runs on backend='torch' (what 'auto' picks) or 'reference'"
            )
        return "torch" if backend == "auto" else backend
    if backend != "auto":
        return backend
    return _auto_backend(x.device.type, x.dtype, smooth)


def _auto_backend(device_type: str, dtype: torch.dtype, smooth: bool) -> str:
    if device_type == "cpu":
        if dtype in (torch.float32, torch.float64) and _cpu_kernel.load(dtype, smooth) is not None:
            return "cpu"
        return "torch"
    if device_type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return "torch"
        return "triton"
    return "torch"


@torch.compiler.assume_constant_result
def _concrete_backend(backend: str, device_type: str, dtype: torch.dtype, smooth: bool) -> str:
    """``backend`` with ``"auto"`` resolved, evaluated once when a graph is traced: the graph
    then names the implementation, so the forward, its saved tensors and the backward agree."""
    return _auto_backend(device_type, dtype, smooth) if backend == "auto" else backend


def lif_multi_step(
    x_seq: torch.Tensor,
    v0: torch.Tensor | None = None,
    spec: LIFSpec = LIFSpec(),
    *,
    backend: str = "auto",
    check_nan: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run LIF/IF dynamics over a whole sequence in one fused autograd node.

    Parameters
    ----------
    x_seq : Tensor [T, B, ...], floating
        Input current per time step (time first).
    v0 : Tensor [B, ...] (or broadcastable), optional
        Initial membrane potential; when None, ``V_reset`` for a hard reset (the resting potential, as in
        SpikingJelly) and 0 otherwise. Gradients flow into it.
    spec : LIFSpec
        Neuron dynamics.
    backend : {"auto", "cpu", "torch", "triton", "reference"}
        See :func:`select_backend`. All give the same spikes and (to rounding) the same gradients for
        the same dtype, with one exception: the Triton kernels compute in float32 whatever the input
        dtype, so for float64 input a membrane within float32 rounding of the threshold may spike
        differently there.
    check_nan : bool
        Raise ``ValueError`` on NaN input (free on the CPU kernel; one reduction elsewhere).

    Returns
    -------
    spikes : Tensor [T, B, ...], 0/1 in ``x_seq``'s dtype
    v_T : Tensor [B, ...], membrane potential after the last step (after reset)
    """
    x_seq = check_sequence(x_seq)
    v0 = _prepare_v0(v0, x_seq, spec)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
    if backend == "reference":
        if check_nan:
            _check_nan(x_seq)
        return lif_multi_step_reference(x_seq, v0, spec)  # type: ignore[return-value]
    if torch.compiler.is_compiling() and spec.surrogate.is_custom:  # a user's function cannot be named by a key:
        return lif_multi_step_reference(x_seq, v0, spec)  # type: ignore[return-value]  # the traced plain loop
    if torch.compiler.is_compiling():  # opaque custom operators, the backend fixed in the graph
        which = _concrete_backend(backend, x_seq.device.type, x_seq.dtype, not spec.surrogate.spiking)
        s, vT, _ = torch.ops.spikeforge.lif_forward(x_seq, v0, spec._key, which, check_nan)
        return s, vT
    return _FusedLIF.apply(x_seq, v0, spec, _resolve_impl(x_seq, backend, spec), check_nan)


def _resolve_impl(x: torch.Tensor, backend: str, spec: LIFSpec):
    """The fused implementation (``_CpuImpl``, ``TritonImpl`` or ``_TorchImpl``) for ``x``, with a
    clear error when an explicitly requested backend cannot run it."""
    which = select_backend(x, backend, not spec.surrogate.spiking, spec.surrogate.is_custom)
    if which == "cpu":
        if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"backend 'cpu' needs a float32/float64 CPU tensor; got {x.dtype} on {x.device}")
        if _cpu_kernel.load(x.dtype, not spec.surrogate.spiking) is None:
            raise RuntimeError(f"the compiled CPU kernel is unavailable: {_cpu_kernel.unavailable_reason()}")
        return _CpuImpl
    if which == "triton":
        if x.device.type != "cuda":
            raise ValueError(f"backend 'triton' needs CUDA tensors; got a tensor on {x.device} (use 'auto')")
        try:
            return _triton_impl()
        except ImportError as err:
            raise ValueError(f"backend 'triton' needs the triton package ({err}); use 'auto' or 'torch'") from err
    if which == "reference":  # not reachable from lif_multi_step, which runs the reference itself
        raise ValueError("the reference backend has no fused implementation")
    return _TorchImpl


# ---------------------------------------------------------------------------- torch.compile
def _spec_from_key(key: str) -> LIFSpec:
    """The spec of a key (:func:`_spec_key`; also the spec stored in NIR metadata). A custom surrogate's
    function is not in the key: its spec comes back with the default ``atan`` surrogate and a warning, at
    every read (such keys are not cached)."""
    if '"custom:' not in key:
        return _spec_from_plain_key(key)
    d = json.loads(key)
    sg = _stored_surrogate(*d.pop("surrogate"))
    return LIFSpec(**d, surrogate=sg)


@functools.lru_cache(maxsize=256)
def _spec_from_plain_key(key: str) -> LIFSpec:
    d = json.loads(key)
    sg = _stored_surrogate(*d.pop("surrogate"))
    return LIFSpec(**d, surrogate=sg)


def _stored_surrogate(name: str, alpha: float | None = None, spiking: bool = True) -> Surrogate:
    """The surrogate stored as ``[name, alpha, spiking]`` (spec keys, NIR metadata, checkpoints). A custom
    surrogate's function cannot be stored: it comes back as ``atan`` with a warning."""
    if isinstance(name, str) and name.startswith("custom:"):
        warnings.warn(
            f"the surrogate {name} was a user's function, which a stored spec cannot hold; using 'atan' "
            "(pass surrogate= to the layer to train with it again)", stacklevel=3,
        )
        return Surrogate("atan", spiking=spiking)
    return Surrogate(name, float("nan") if alpha is None else alpha, spiking)


@torch.library.custom_op(
    "spikeforge::lif_forward", mutates_args=(),
    schema="(Tensor x, Tensor? v0, str spec_key, str backend, bool check_nan) -> (Tensor, Tensor, Tensor)",
)
def _lif_forward_op(x, v0, spec_key, backend, check_nan):
    """Fused forward: ``(spikes [T, ...], v_T [...], aux)``; ``aux`` is what the backward needs
    besides the inputs (``h_seq`` for the torch and Triton paths, empty for the CPU kernel)."""
    spec = _spec_from_key(spec_key)
    impl = _resolve_impl(x, backend, spec)
    s, vT, saved = impl.forward(x, v0, spec, check_nan)
    # contiguous, as the fake function says (the torch path keeps a permuted input's layout)
    return s.contiguous(), vT.contiguous(), impl.aux(saved, x).contiguous()


@_lif_forward_op.register_fake
def _(x, v0, spec_key, backend, check_nan):
    spec = _spec_from_key(spec_key)
    return x.new_empty(x.shape), x.new_empty(x.shape[1:]), _resolve_impl(x, backend, spec).aux_like(x, spec)


@torch.library.custom_op(
    "spikeforge::lif_backward", mutates_args=(),
    schema="(Tensor? x, Tensor? v0, Tensor aux, Tensor? gs, Tensor? gvT, str spec_key, str backend, "
           "ScalarType dtype, bool need_gv0) -> (Tensor, Tensor)",
)
def _lif_backward_op(x, v0, aux, gs, gvT, spec_key, backend, dtype, need_gv0):
    """Fused backward: ``(dL/dx [T, ...], dL/dv0 [...])`` (the latter empty unless ``need_gv0``)."""
    spec = _spec_from_key(spec_key)
    like = aux if x is None else x
    impl = _resolve_impl(like, backend, spec)
    if gvT is not None and not gvT.any():  # compiled graphs pass zeros for an unused v_T: skip them
        gvT = None
    gx, gv0 = impl.backward(impl.restore(x, v0, aux, spec, dtype), gs, gvT, spec, need_gv0)
    return gx.contiguous(), (gv0.contiguous() if gv0 is not None else like.new_empty(0, dtype=dtype))


@_lif_backward_op.register_fake
def _(x, v0, aux, gs, gvT, spec_key, backend, dtype, need_gv0):
    shape = aux.shape if x is None else x.shape
    return aux.new_empty(shape, dtype=dtype), aux.new_empty(shape[1:] if need_gv0 else (0,), dtype=dtype)


def _lif_forward_setup(ctx, inputs, output):
    x, v0, spec_key, backend, _ = inputs
    impl = _resolve_impl(x, backend, _spec_from_key(spec_key))
    ctx.save_for_backward(x if impl.saves_x else None, v0, output[2])
    ctx.spec_key, ctx.backend, ctx.dtype = spec_key, backend, x.dtype


def _lif_forward_backward(ctx, gs, gvT, _gaux):
    x, v0, aux = ctx.saved_tensors
    need_gv0 = bool(ctx.needs_input_grad[1])
    gx, gv0 = torch.ops.spikeforge.lif_backward(x, v0, aux, gs, gvT, ctx.spec_key, ctx.backend, ctx.dtype, need_gv0)
    return gx, (gv0 if need_gv0 else None), None, None, None


torch.library.register_autograd("spikeforge::lif_forward", _lif_forward_backward, setup_context=_lif_forward_setup)


def lif_step(
    x: torch.Tensor,
    v: torch.Tensor | None = None,
    spec: LIFSpec = LIFSpec(),
    *,
    backend: str = "auto",
    check_nan: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One time step: ``(spike [B, ...], v_next [B, ...])`` from input ``x [B, ...]`` and state ``v``.

    Equivalent to :func:`lif_multi_step` on ``x.unsqueeze(0)``; gradients flow through ``v`` so that a
    Python loop over steps trains exactly like the multi-step call.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape [B, ...]; got {type(x).__name__}")
    if x.dim() < 1:
        raise ValueError("x must have at least one dimension [B, ...] in single-step mode")
    s, v_next = lif_multi_step(x.unsqueeze(0), v, spec, backend=backend, check_nan=check_nan)
    return s[0], v_next


# ---------------------------------------------------------------------------- parametric LIF (PLIF)
def plif_tau(w: torch.Tensor) -> torch.Tensor:
    """Membrane time constant (steps) of the PLIF parameter ``w``: ``τ = 1 + exp(−w)`` (``1/τ = sigmoid(w)``)."""
    return 1.0 + torch.exp(-w)


def plif_w(tau: float | torch.Tensor) -> float | torch.Tensor:
    """The PLIF parameter ``w`` of a time constant ``tau`` (steps, > 1): ``w = −log(τ − 1)``; elementwise for a
    floating tensor of time constants (e.g. to set a per-neuron PLIF: ``layer.w.data = plif_w(taus)``)."""
    if isinstance(tau, torch.Tensor):
        if not tau.is_floating_point() or not bool(torch.isfinite(tau).all()) or not bool((tau > 1.0).all()):
            raise ValueError(f"tau must hold finite numbers of steps > 1 (τ = 1 + exp(−w)); got {tau!r}")
        return -torch.log(tau - 1.0)
    if isinstance(tau, (bool, np.bool_)) or not isinstance(tau, numbers.Real) or not (math.isfinite(tau) and tau > 1.0):
        raise ValueError(f"tau must be a finite number of steps > 1 (τ = 1 + exp(−w)); got {tau!r}")
    return -math.log(float(tau) - 1.0)


def plif_multi_step(
    x_seq: torch.Tensor,
    w: torch.Tensor,
    v0: torch.Tensor | None = None,
    spec: LIFSpec = LIFSpec(),
    *,
    return_sequences: bool = False,
    backend: str = "auto",
    check_nan: bool = True,
) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Parametric LIF (Fang et al. 2021, SpikingJelly's ``ParametricLIFNode``): LIF with a learnable time constant.

    The charge of :class:`LIFSpec` in its ``tau`` form with ``1/τ = sigmoid(w)`` (so ``τ > 1`` for every ``w``)::

        H_t = V_{t-1} + (X_t − (V_{t-1} − V_reset))·sigmoid(w)     (decay_input=True)
        H_t = V_{t-1} − (V_{t-1} − V_reset)·sigmoid(w) + X_t       (decay_input=False)

    then the spec's threshold, surrogate spike and reset. ``backend="auto"`` / ``"torch"`` runs one fused
    autograd node with a hand-written backward (gradients reach ``w``, the input and ``v0``);
    ``"reference"`` (and ``return_sequences=True``) runs the readable per-step autograd loop, against which
    the fused path is tested. With ``w = plif_w(spec.tau)`` both equal :func:`lif_multi_step_reference`.

    Parameters
    ----------
    x_seq : Tensor [T, B, ...]
        Input current per step.
    w : Tensor
        The parameter: a scalar (one τ for the layer) or a tensor that broadcasts to one step ``[B, ...]``
        (e.g. ``[C, 1, 1]`` for one τ per channel).
    v0 : Tensor [B, ...] or None
        Initial membrane potential (as :func:`lif_multi_step_reference`).
    spec : LIFSpec
        Everything but ``tau``, which ``w`` replaces; ``spec.charge`` must be ``"tau"``.
    return_sequences : bool
        Also return ``h_seq`` and ``v_seq`` (runs the reference loop).
    backend : {"auto", "cpu", "triton", "torch", "reference"}
        ``auto``: the compiled CPU kernel (``cpu``) for a float32/float64 CPU input with a built-in surrogate
        (when the kernel builds), else the fused pure-torch path (``torch``, any device and dtype);
        ``reference`` is the per-step autograd loop; ``triton`` an opt-in CUDA kernel (not yet run on a GPU).
    check_nan : bool
        Raise ``ValueError`` on NaN input (fused path; one reduction).

    Returns
    -------
    spikes [T, B, ...], v_T [B, ...] (and h_seq, v_seq)

    Raises
    ------
    ValueError
        ``spec.charge`` is not ``"tau"``, ``w`` does not broadcast to one step of ``x_seq``, an unknown
        ``backend``, or NaN input.
    """
    if backend not in PLIF_BACKENDS:
        raise ValueError(f"backend must be one of {PLIF_BACKENDS} for PLIF; got {backend!r}")
    if spec.charge != "tau":
        raise ValueError(f"PLIF learns the tau form of the charge; spec.charge must be 'tau', got {spec.charge!r}")
    x_seq = check_sequence(x_seq)
    if not isinstance(w, torch.Tensor):
        w = torch.as_tensor(w, dtype=x_seq.dtype, device=x_seq.device)
    try:
        fits = torch.broadcast_shapes(w.shape, x_seq.shape[1:]) == x_seq.shape[1:]
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"w of shape {tuple(w.shape)} does not broadcast to one time step {tuple(x_seq.shape[1:])}")
    k = torch.sigmoid(w.to(x_seq.dtype))
    vr = spec._vr_charge
    if spec.decay_input:
        def charge(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return v + (x - (v - vr)) * k
    else:
        def charge(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return v - (v - vr) * k + x
    v0 = _prepare_v0(v0, x_seq, spec)
    if return_sequences or backend == "reference":
        if check_nan:
            _check_nan(x_seq)
        return _lif_loop(x_seq, torch.zeros_like(x_seq[0]) if v0 is None else v0, spec, charge, return_sequences)
    if _kernel_fits(x_seq, spec, backend, "PLIF"):
        return _CpuPLIF.apply(x_seq, k, v0, spec, check_nan)
    if _triton_fits(x_seq, spec, backend, "PLIF"):
        return _TritonPLIF.apply(x_seq, k, v0, spec, check_nan)
    if check_nan:
        _check_nan(x_seq)
    return _FusedPLIF.apply(x_seq, k, v0, spec)


class _CpuPLIF(torch.autograd.Function):
    """PLIF on the compiled CPU kernel (its ``CHARGE_K*`` modes, ``k = sigmoid(w)`` broadcast to one step and
    read per neuron): saves only ``x``, ``k`` and ``v0``; the backward recomputes H and also returns ``dL/dk``
    per neuron, reduced to ``k``'s shape. Tested against the per-step loop (``backend="reference"``) and the
    pure-torch :class:`_FusedPLIF`."""

    @staticmethod
    def _params(spec: LIFSpec, x: torch.Tensor, k: torch.Tensor) -> tuple[list[float], list[int], torch.Tensor]:
        fp, ip = spec.kernel_params()
        ip[0] = 3 if spec.decay_input else 4
        kv = k.detach().to(x.dtype).expand(x.shape[1:]).contiguous()
        return fp, ip, kv

    @staticmethod
    def forward(ctx, x, k, v0, spec, check_nan):  # type: ignore[override]
        ctx.set_materialize_grads(False)
        lib = _cpu_kernel.load(x.dtype, not spec.surrogate.spiking)
        x = _kernel_layout(x)
        v0c = None if v0 is None else v0.contiguous()
        fp, ip, kv = _CpuPLIF._params(spec, x, k)
        s, vT, n_nan = _cpu_kernel.forward(lib, x, v0c, fp, ip, kv)
        if check_nan and n_nan:
            raise _nan_error()
        ctx.spec = spec
        ctx.save_for_backward(x, k, v0c)
        return s, vT

    @staticmethod
    @_first_order_only
    def backward(ctx, gs, gvT):  # type: ignore[override]
        x, k, v0 = ctx.saved_tensors
        spec = ctx.spec
        fp, ip, kv = _CpuPLIF._params(spec, x, k)
        lib = _cpu_kernel.load(x.dtype, not spec.surrogate.spiking)
        need_gk = ctx.needs_input_grad[1]
        gx, gv0, gk = _cpu_kernel.backward(lib, x, v0, gs, gvT, fp, ip, ctx.needs_input_grad[2], kv, need_gk)
        gk_out = gk.sum_to_size(k.shape).to(k.dtype) if need_gk else None
        return gx, gk_out, gv0, None, None


class _TritonPLIF(torch.autograd.Function):
    """PLIF on the opt-in Triton kernel (``backend="triton"``, CUDA): saves ``x``, ``k``, ``v0`` and the float32
    ``H``; the backward also returns ``dL/dk``. Not yet run on a GPU: tested in Triton's interpreter mode on CPU
    tensors against the reference loop (``tests/nn/test_nn_gpu.py``)."""

    @staticmethod
    def forward(ctx, x, k, v0, spec, check_nan):  # type: ignore[override]
        from . import _triton_kernel

        ctx.set_materialize_grads(False)
        if check_nan:
            _check_nan(x)
        kv = k.detach().to(torch.float32).expand(x.shape[1:]).contiguous()
        v0c = None if v0 is None else v0.contiguous()
        s, vT, h = _triton_kernel.plif_forward(x, kv, v0c, spec)
        ctx.spec = spec
        ctx.save_for_backward(x, k, v0c, h)
        return s, vT

    @staticmethod
    @_first_order_only
    def backward(ctx, gs, gvT):  # type: ignore[override]
        from . import _triton_kernel

        x, k, v0, h = ctx.saved_tensors
        kv = k.to(torch.float32).expand(x.shape[1:]).contiguous()
        need_gk = ctx.needs_input_grad[1]
        gx, gv0, gk = _triton_kernel.plif_backward(h, x, kv, v0, gs, gvT, ctx.spec, ctx.needs_input_grad[2], need_gk,
                                                  x.dtype)
        gk_out = gk.sum_to_size(k.shape).to(k.dtype) if need_gk else None
        return gx, gk_out, gv0, None, None


class _FusedPLIF(torch.autograd.Function):
    """PLIF over a whole sequence in one autograd node (pure torch, any device), with the per-element charge
    factor ``k = 1/τ = sigmoid(w)``. The forward keeps ``h_seq`` only (the spikes are recomputed); the backward
    walks back in time once and also returns ``dL/dk`` (reduced to ``k``'s shape), from
    ``∂H_t/∂k = X_t − V_{t−1} + V_reset`` (``decay_input``) or ``V_reset − V_{t−1}``, with ``V_{t−1}`` rebuilt
    from ``H_{t−1}`` and ``S_{t−1}``. The same algebra as :class:`_TorchImpl` (tested against the per-step
    autograd loop of :func:`plif_multi_step`, ``backend="reference"``)."""

    @staticmethod
    def _v_after(h: torch.Tensor, s: torch.Tensor, spec: LIFSpec) -> torch.Tensor:
        """``V`` after the reset of a step with charge ``h`` and spike ``s`` (0/1, or the smooth primitive)."""
        if spec.reset == "hard":
            return h + s * (spec.v_reset - h)
        if spec.reset == "soft":
            return h - s * spec.v_th
        return h

    @staticmethod
    def forward(ctx, x, k, v0, spec):  # type: ignore[override]
        ctx.set_materialize_grads(False)
        vr = spec._vr_charge
        delayed = spec.reset == "soft_delayed"
        v = torch.zeros_like(x[0]) if v0 is None else v0
        if delayed and v0 is None:
            v0 = v
        s_prev = _TorchImpl._spike(v, spec) if delayed else None
        h_seq, spikes = torch.empty_like(x), torch.empty_like(x)
        for t in range(x.shape[0]):
            h = h_seq[t]
            if spec.decay_input:
                torch.add(v, (x[t] - v).add_(vr).mul_(k), out=h)
            else:
                torch.add(x[t], (v - vr).mul_(k).neg_().add_(v), out=h)
            if delayed:
                h.sub_(s_prev * spec.v_th)
            if spec.surrogate.spiking:
                sb = h >= spec.v_th if spec.ge else h > spec.v_th
                spikes[t] = sb
                v = h.masked_fill(sb, spec.v_reset) if spec.reset == "hard" else _FusedPLIF._v_after(h, spikes[t], spec)
            else:
                spikes[t] = spec.surrogate.primitive(h - spec.v_th)
                v = _FusedPLIF._v_after(h, spikes[t], spec)
            if delayed:
                s_prev = spikes[t]
        ctx.spec = spec
        # the spikes are recomputed from H in backward (saving the output would forbid in-place ops on it)
        ctx.save_for_backward(x, k, h_seq, v0)
        if spec.reset in ("none", "soft_delayed"):  # V_T is H_T: do not hand out a view of the saved H
            v = v.clone()
        return spikes, v

    @staticmethod
    @_first_order_only
    def backward(ctx, gs, gvT):  # type: ignore[override]
        x, k, h_seq, v0 = ctx.saved_tensors
        spec = ctx.spec
        vr = spec._vr_charge
        nd = 0.0 if spec.detach_reset else 1.0
        delayed = spec.reset == "soft_delayed"
        sd = spec.v_th * nd if delayed else 0.0
        g = torch.zeros_like(h_seq[0]) if gvT is None else gvT.to(h_seq.dtype)
        gx = torch.empty_like(h_seq)
        gk = torch.zeros_like(h_seq[0]) if ctx.needs_input_grad[1] else None
        one_minus_k = 1 - k
        c = None  # delayed soft reset: -c·sg(H_t) completes dL/dV_t once sg(H_t) is known
        hard = spec.reset == "hard"
        need_s = spec.reset in ("hard", "soft")  # V_{t-1} depends on S_{t-1}
        T = h_seq.shape[0]
        s_t = _TorchImpl._spike(h_seq[T - 1], spec) if hard else None  # S_t, carried from step to step
        for t in range(T - 1, -1, -1):
            h = h_seq[t]
            sg = spec.surrogate.derivative(h - spec.v_th)
            if c is not None:
                g = g - c * sg
            if hard:  # dV/dH = 1 − S + (V_reset − H)·σ'
                gh = g * (spec.v_reset - h).mul_(sg).mul_(nd).sub_(s_t).add_(1)
            elif spec.reset == "soft":
                gh = g * (sg * (-spec.v_th * nd)).add_(1)
            else:
                gh = g
            if gs is not None:
                gh = gh + gs[t] * sg
            if spec.decay_input:
                torch.mul(gh, k, out=gx[t])
            else:
                gx[t] = gh
            s_prev = _TorchImpl._spike(h_seq[t - 1], spec) if t > 0 and (hard or (need_s and gk is not None)) else None
            if gk is not None:  # dL/dk += dL/dH_t · ∂H_t/∂k
                if t > 0:
                    v_prev = _FusedPLIF._v_after(h_seq[t - 1], s_prev, spec)  # S only read by hard / soft resets
                else:
                    v_prev = torch.zeros_like(h) if v0 is None else v0
                dh_dk = (x[t] - v_prev).add_(vr) if spec.decay_input else (vr - v_prev)
                gk.addcmul_(gh, dh_dk)
            s_t = s_prev
            g = gh * one_minus_k
            if sd:
                c = gh * sd
        if sd and v0 is not None:
            g = g - c * spec.surrogate.derivative(v0 - spec.v_th)
        gk_out = None if gk is None else gk.sum_to_size(k.shape)
        return gx, gk_out, (g if ctx.needs_input_grad[2] else None), None


def plif_step(x: torch.Tensor, w: torch.Tensor, v: torch.Tensor | None = None, spec: LIFSpec = LIFSpec(), *,
              backend: str = "auto", check_nan: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of :func:`plif_multi_step`: ``(spike [B, ...], v_next [B, ...])``."""
    if not isinstance(x, torch.Tensor) or x.dim() < 1:
        raise ValueError("x must be a torch.Tensor of shape [B, ...] in single-step mode")
    s, v_next = plif_multi_step(x.unsqueeze(0), w, v, spec, backend=backend, check_nan=check_nan)
    return s[0], v_next


# ---------------------------------------------------------------------------- adaptive LIF (ALIF)
@dataclass(frozen=True)
class ALIFSpec:
    """Parameters of adaptive-threshold LIF dynamics (Bellec et al. 2018, LSNN): immutable, hashable.

    Per neuron and time step ``t = 1..T`` (one step = ``dt``; the package counts time in steps, so with
    ``dt = 1 ms`` every time constant below is in ms)::

        H_t = charge(V_{t-1}, X_t)                # exactly LIF's charge (``lif.charge_fn``)
        θ_t = V_th + β·a_t                        # adaptive threshold
        S_t = Θ(H_t − θ_t)                        # ">=" or ">" as ``lif.spike_compare``
        V_t = reset(H_t, S_t)                     # LIF's reset with V_th replaced by θ_t
        a_{t+1} = ρ·a_t + S_t,   ρ = exp(−1/τ_a)  # i.e. a_t = ρ·a_{t-1} + S_{t-1}

    Parameters
    ----------
    lif : LIFSpec
        The membrane: charge (``tau`` / ``decay`` / ``if``), ``v_th`` (the baseline threshold V_th),
        ``v_reset``, reset mode, ``detach_reset``, ``spike_compare`` and surrogate. The reset modes
        ``hard`` (``V = V_reset``), ``soft`` (``V = H − θ_t·S``, the crossed threshold) and ``none``
        are supported; ``soft_delayed`` is not (it would need the previous step's threshold as a
        third state).
    tau_a : float
        Adaptation time constant in time steps (ms at ``dt = 1 ms``), > 0. Default 200 (Bellec et al.'s
        LSNN). The per-step factor is the exact exponential ``ρ = exp(−1/τ_a)`` (not LIF's Euler
        ``1 − 1/τ``; the two agree to O(1/τ²)).
    beta : float
        Threshold increase per unit of adaptation, in the unit of ``v_th`` (each spike raises θ by β,
        decaying with τ_a), ≥ 0. ``beta=0`` is exactly the LIF of ``lif``. Default 0.1. Bellec et al.'s
        form ``b_{t+1} = ρ·b_t + (1 − ρ)·S_t``, ``θ = V_th + β_B·b`` is ``beta = β_B·(1 − ρ)``.
    detach_adaptation : bool
        Stop the gradient through the spike in the adaptation update ``a_{t+1} = ρ·a_t + S_t``. Default
        False (full BPTT through the threshold, as in LSNN).

    Raises
    ------
    TypeError
        ``lif`` is not a :class:`LIFSpec`.
    ValueError
        ``tau_a`` or ``beta`` not a finite real number (NaN, inf, bool, str), ``tau_a <= 0``,
        ``beta < 0``, or ``lif.reset == "soft_delayed"``.
    """

    lif: LIFSpec = field(default_factory=LIFSpec)
    tau_a: float = 200.0
    beta: float = 0.1
    detach_adaptation: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.lif, LIFSpec):
            raise TypeError(f"lif must be a LIFSpec; got {type(self.lif).__name__}")
        for name in ("tau_a", "beta"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, numbers.Real) or not math.isfinite(val):
                raise ValueError(f"ALIF {name} must be a finite real number; got {val!r}")
            object.__setattr__(self, name, float(val))
        if self.tau_a <= 0.0:
            raise ValueError(f"ALIF tau_a must be > 0 time steps; got {self.tau_a}")
        if self.beta < 0.0:
            raise ValueError(f"ALIF beta must be >= 0 (a spike raises the threshold); got {self.beta}")
        if self.lif.reset == "soft_delayed":
            raise ValueError("ALIF supports reset='hard', 'soft' or 'none'; 'soft_delayed' is LIF-only")

    @property
    def rho(self) -> float:
        """Per-step adaptation decay ``ρ = exp(−1/τ_a)`` (dimensionless, in (0, 1))."""
        return math.exp(-1.0 / self.tau_a)


#: ``backend=`` values ALIF accepts: ``auto`` / ``torch`` run the fused autograd node, ``reference`` the per-step loop
ALIF_BACKENDS = ("auto", "cpu", "triton", "torch", "reference")


def _check_torch_only_backend(backend: str, neuron: str, allowed: tuple[str, ...]) -> None:
    """``ValueError`` unless ``backend`` is one of ``allowed`` (neurons with only the pure-torch implementation)."""
    if backend not in allowed:
        lif_only = ", ".join(repr(b) for b in ("cpu", "triton", "reference") if b not in allowed)
        raise ValueError(
            f"{neuron} has only the pure-torch implementation: backend must be one of {allowed}; got {backend!r} "
            f"(the compiled {lif_only} backends are the LIF's and do not model {neuron})"
        )


def _check_kernel_backend(backend: str, neuron: str, allowed: tuple[str, ...]) -> None:
    """``ValueError`` unless ``backend`` is one of ``allowed``."""
    if backend not in allowed:
        extra = "" if "triton" in allowed else f" (no Triton kernel models {neuron})"
        raise ValueError(f"backend must be one of {allowed} for {neuron}; got {backend!r}{extra}")


def _triton_fits(x: torch.Tensor, spec: LIFSpec, backend: str, neuron: str) -> bool:
    """Whether PLIF / ALIF run their opt-in Triton kernel: only for ``backend="triton"``, which needs CUDA tensors,
    the ``triton`` package and a built-in spiking surrogate (``ValueError`` otherwise); never while
    ``torch.compile`` traces (the pure-torch node is traced)."""
    if backend != "triton" or torch.compiler.is_compiling():
        return False
    if x.device.type != "cuda":
        raise ValueError(f"backend 'triton' needs CUDA tensors; got a tensor on {x.device} (use 'auto')")
    if spec.surrogate.is_custom or not spec.surrogate.spiking:
        raise ValueError(f"backend 'triton' runs {neuron} with a built-in spiking surrogate; got "
                         f"{spec.surrogate.name!r} (spiking={spec.surrogate.spiking}); use 'torch'")
    try:
        import triton  # noqa: F401
    except ImportError as err:
        raise ValueError(f"backend 'triton' needs the triton package ({err}); use 'auto' or 'torch'") from err
    return True


def _check_alif_backend(backend: str) -> None:
    _check_kernel_backend(backend, "ALIF", ALIF_BACKENDS)


def _kernel_fits(x: torch.Tensor, spec: LIFSpec | IzhikevichSpec, backend: str, neuron: str) -> bool:
    """Whether a neuron with a compiled-CPU-kernel path (PLIF, ALIF, Izhikevich) runs it: ``auto`` picks it for a
    float32/float64 CPU input with a built-in surrogate when the kernel builds; an explicit ``cpu`` that cannot
    run is a ``ValueError`` (``RuntimeError`` when the kernel is missing); other backends never do, and neither
    does any while ``torch.compile`` traces (the pure-torch path is traced instead)."""
    if backend not in ("auto", "cpu") or torch.compiler.is_compiling():
        return False  # while compiling, the pure-torch path is traced (the kernel has no custom operator)
    smooth = not spec.surrogate.spiking
    fits = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and not spec.surrogate.is_custom
    if backend == "auto":
        return fits and _cpu_kernel.load(x.dtype, smooth) is not None
    if not fits:
        raise ValueError(f"backend 'cpu' runs {neuron} with a built-in surrogate on a float32/float64 CPU input; got "
                         f"surrogate {spec.surrogate.name!r}, {x.dtype} on {x.device} (use 'auto' or 'torch')")
    if _cpu_kernel.load(x.dtype, smooth) is None:
        raise RuntimeError(f"the compiled CPU kernel is unavailable: {_cpu_kernel.unavailable_reason()}")
    return True


def _prepare_a0(a0: torch.Tensor | float | None, x: torch.Tensor) -> torch.Tensor:
    """The initial adaptation ``a_1`` as a tensor of one step's shape (zeros when None)."""
    if a0 is None:
        return torch.zeros_like(x[0])
    return _state_like(a0, x, "initial adaptation a0")


def _alif_update(
    x: torch.Tensor, v: torch.Tensor, a: torch.Tensor, spec: ALIFSpec
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One ALIF step on ``[B, ...]`` tensors: ``(S_t, V_t, a_{t+1}, H_t, θ_t)`` (shared by the step and
    the multi-step functions, so a loop of steps equals the sequence bit for bit)."""
    lif = spec.lif
    h = lif.charge_fn(v, x)
    theta = a * spec.beta + lif.v_th
    s = spike_fn(h - theta, lif.surrogate, lif.ge)
    sr = s.detach() if lif.detach_reset else s
    if lif.reset == "hard":
        v_next = sr * lif.v_reset + (1 - sr) * h
    elif lif.reset == "soft":
        v_next = h - sr * theta
    else:
        v_next = h
    a_next = a * spec.rho + (s.detach() if spec.detach_adaptation else s)
    return s, v_next, a_next, h, theta


def alif_multi_step_reference(
    x_seq: torch.Tensor,
    v0: torch.Tensor | None = None,
    a0: torch.Tensor | None = None,
    spec: ALIFSpec = ALIFSpec(),
    *,
    return_sequences: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | tuple[torch.Tensor, ...]:
    """Adaptive LIF over a whole sequence: a readable per-step autograd loop (see :class:`ALIFSpec`).

    Parameters
    ----------
    x_seq : Tensor [T, B, ...], floating
        Input current per time step (time first; one step = ``dt``, e.g. 1 ms).
    v0 : Tensor [B, ...] (or broadcastable), optional
        Initial membrane potential; when None, ``V_reset`` for a hard reset and 0 otherwise (as LIF).
    a0 : Tensor [B, ...] (or broadcastable), optional
        Initial adaptation ``a_1`` (dimensionless, in spikes); default 0. Gradients flow into it.
    spec : ALIFSpec
    return_sequences : bool
        Also return ``h_seq`` (charged potentials), ``v_seq`` (after reset) and ``theta_seq`` (thresholds
        θ_t), each ``[T, B, ...]``.

    Returns
    -------
    spikes [T, B, ...], v_T [B, ...], a_{T+1} [B, ...] (and h_seq, v_seq, theta_seq). ``a_{T+1} =
    ρ·a_T + S_T`` is the adaptation the next step would use: pass ``(v_T, a_{T+1})`` back in to continue.

    Raises
    ------
    TypeError
        ``x_seq`` is not a floating-point tensor; ``spec`` is not an :class:`ALIFSpec`.
    ValueError
        ``x_seq`` has fewer than 2 dimensions or ``T = 0``; ``v0`` / ``a0`` of a shape that does not
        broadcast to one step ``[B, ...]``.
    """
    if not isinstance(spec, ALIFSpec):
        raise TypeError(f"spec must be an ALIFSpec; got {type(spec).__name__}")
    x_seq = check_sequence(x_seq)
    v0 = _prepare_v0(v0, x_seq, spec.lif)
    v = torch.zeros_like(x_seq[0]) if v0 is None else v0
    a = _prepare_a0(a0, x_seq)
    spikes, hs, vs, ths = [], [], [], []
    for x in x_seq.unbind(0):
        s, v, a, h, theta = _alif_update(x, v, a, spec)
        spikes.append(s)
        if return_sequences:
            hs.append(h)
            vs.append(v)
            ths.append(theta)
    out = torch.stack(spikes)
    if return_sequences:
        return out, v, a, torch.stack(hs), torch.stack(vs), torch.stack(ths)
    return out, v, a


def alif_multi_step(
    x_seq: torch.Tensor,
    v0: torch.Tensor | None = None,
    a0: torch.Tensor | None = None,
    spec: ALIFSpec = ALIFSpec(),
    *,
    backend: str = "auto",
    check_nan: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Adaptive LIF over a sequence (what :class:`~spikeforge.nn.ALIF` calls in multi-step mode).

    One fused autograd node with a hand-written backward (the compiled CPU kernel, or :class:`_FusedALIF` in
    pure torch), or with
    ``backend="reference"`` the readable per-step autograd loop :func:`alif_multi_step_reference`; both give the
    same spikes, states and gradients (to rounding). Also checks the backend and NaN input.

    Parameters
    ----------
    x_seq : Tensor [T, B, ...], floating
        Input current per time step (one step = ``dt``, e.g. 1 ms).
    v0, a0 : Tensor [B, ...] or None
        Initial membrane potential and adaptation (see :func:`alif_multi_step_reference`).
    spec : ALIFSpec
    backend : {"auto", "cpu", "triton", "torch", "reference"}
        ``auto``: the compiled CPU kernel (``cpu``) for a float32/float64 CPU input with a built-in surrogate
        (when the kernel builds), else ``torch``, the fused pure-torch node (any device and dtype);
        ``reference``: the per-step autograd loop; ``triton`` an opt-in CUDA kernel (not yet run on a GPU).
    check_nan : bool
        Raise ``ValueError`` on NaN input.

    Returns
    -------
    spikes [T, B, ...], v_T [B, ...], a_{T+1} [B, ...]

    Raises
    ------
    TypeError
        As :func:`alif_multi_step_reference`.
    ValueError
        ``backend`` other than ``"auto"`` / ``"torch"``; NaN in ``x_seq`` (with ``check_nan``); and as
        :func:`alif_multi_step_reference`.
    """
    _check_alif_backend(backend)
    x_seq = check_sequence(x_seq)
    if backend == "reference":
        if check_nan:
            _check_nan(x_seq)
        return alif_multi_step_reference(x_seq, v0, a0, spec)  # type: ignore[return-value]
    if not isinstance(spec, ALIFSpec):
        raise TypeError(f"spec must be an ALIFSpec; got {type(spec).__name__}")
    v0 = _prepare_v0(v0, x_seq, spec.lif)
    a0 = _prepare_a0(a0, x_seq)
    if _kernel_fits(x_seq, spec.lif, backend, "ALIF"):
        return _CpuALIF.apply(x_seq, v0, a0, spec, check_nan)
    if _triton_fits(x_seq, spec.lif, backend, "ALIF"):
        return _TritonALIF.apply(x_seq, v0, a0, spec, check_nan)
    if check_nan:
        _check_nan(x_seq)
    return _FusedALIF.apply(x_seq, v0, a0, spec)


class _TritonALIF(torch.autograd.Function):
    """ALIF on the opt-in Triton kernel (``backend="triton"``, CUDA): saves the float32 ``H`` and ``a`` sequences.
    Not yet run on a GPU: tested in Triton's interpreter mode on CPU tensors (``tests/nn/test_nn_gpu.py``)."""

    @staticmethod
    def forward(ctx, x, v0, a0, spec, check_nan):  # type: ignore[override]
        from . import _triton_kernel

        ctx.set_materialize_grads(False)
        if check_nan:
            _check_nan(x)
        s, vT, aT, h, a_seq = _triton_kernel.alif_forward(x, None if v0 is None else v0.contiguous(),
                                                          a0.contiguous(), spec)
        ctx.spec, ctx.dtype = spec, x.dtype
        ctx.save_for_backward(h, a_seq)
        return s, vT, aT

    @staticmethod
    @_first_order_only
    def backward(ctx, gs, gvT, gaT):  # type: ignore[override]
        from . import _triton_kernel

        h, a_seq = ctx.saved_tensors
        gx, gv0, ga0 = _triton_kernel.alif_backward(h, a_seq, gs, gvT, gaT, ctx.spec, ctx.needs_input_grad[1],
                                                    ctx.needs_input_grad[2], ctx.dtype)
        return gx, gv0, ga0, None, None


class _CpuALIF(torch.autograd.Function):
    """ALIF on the compiled CPU kernel (``sf_alif_forward`` / ``sf_alif_backward``): saves only ``x``, ``v0`` and
    ``a0``; the backward recomputes H and a and walks back with the adjoints of V and a (the algebra of
    :class:`_FusedALIF`). Tested against :func:`alif_multi_step_reference`."""

    @staticmethod
    def _params(spec: ALIFSpec) -> tuple[list[float], list[int]]:
        fp, ip = spec.lif.kernel_params()
        return fp + [spec.beta, spec.rho, 0.0 if spec.detach_adaptation else 1.0], ip

    @staticmethod
    def forward(ctx, x, v0, a0, spec, check_nan):  # type: ignore[override]
        return _two_state_forward(ctx, x, v0, a0, spec, check_nan, "alif", _CpuALIF._params(spec), spec.lif.surrogate)

    @staticmethod
    @_first_order_only
    def backward(ctx, gs, gvT, gaT):  # type: ignore[override]
        return _two_state_backward(ctx, gs, gvT, gaT, "alif", _CpuALIF._params(ctx.spec), ctx.spec.lif.surrogate)


def _two_state_forward(ctx, x, v0, w0, spec, check_nan: bool, kind: str, params, surrogate: Surrogate):
    """Forward of a two-state neuron (ALIF's ``(v, a)``, Izhikevich's ``(v, u)``) on the compiled CPU kernel: runs
    ``kind``'s kernel with ``params = (fp, ip)``, raises on NaN input (with ``check_nan``) and saves ``x``, ``v0``,
    ``w0`` for :func:`_two_state_backward`."""
    ctx.set_materialize_grads(False)
    lib = _cpu_kernel.load(x.dtype, not surrogate.spiking)
    x = _kernel_layout(x)
    v0c = None if v0 is None else v0.contiguous()
    w0c = w0.contiguous()
    s, vT, wT, n_nan = _cpu_kernel.two_state_forward(lib, x, v0c, w0c, *params, kind=kind)
    if check_nan and n_nan:
        raise _nan_error()
    ctx.spec = spec
    ctx.save_for_backward(x, v0c, w0c)
    return s, vT, wT


def _two_state_backward(ctx, gs, gvT, gwT, kind: str, params, surrogate: Surrogate):
    """Backward of :func:`_two_state_forward`: ``(dL/dx, dL/dv0, dL/dw0, None, None)``."""
    x, v0, w0 = ctx.saved_tensors
    lib = _cpu_kernel.load(x.dtype, not surrogate.spiking)
    gx, gv0, gw0 = _cpu_kernel.two_state_backward(lib, x, v0, w0, gs, gvT, gwT, *params, ctx.needs_input_grad[1],
                                             ctx.needs_input_grad[2], kind=kind)
    return gx, gv0, gw0, None, None


class _FusedALIF(torch.autograd.Function):
    """ALIF over a whole sequence in one autograd node (pure torch, any device): the forward keeps ``H_t`` and
    ``a_t`` (the spikes are recomputed from them); the backward walks back in time once with the adjoints of ``V`` and ``a``. Per step, with
    ``σ' = σ'(H_t − θ_t)``, ``θ_t = V_th + β·a_t``, ``n = 1 − detach_reset``, ``m = 1 − detach_adaptation``::

        dL/dH_t = gV·∂V_t/∂H_t + gA·m·σ' + gS_t·σ'
        dL/da_t = gV·∂V_t/∂a_t + gA·(ρ − m·β·σ') − gS_t·β·σ'
        hard:  ∂V/∂H = 1 − S + (V_reset − H)·n·σ',   ∂V/∂a = −(V_reset − H)·n·β·σ'
        soft:  ∂V/∂H = 1 − θ·n·σ',                    ∂V/∂a = β·(θ·n·σ' − S)
        none:  ∂V/∂H = 1,                             ∂V/∂a = 0

    with ``gV = dL/dV_t`` and ``gA = dL/da_{t+1}`` from the future; then ``dL/dX_t = dL/dH_t·∂H/∂X`` and
    ``dL/dV_{t−1} = dL/dH_t·∂H/∂V``. Tested against :func:`alif_multi_step_reference`."""

    @staticmethod
    def forward(ctx, x, v0, a0, spec):  # type: ignore[override]
        ctx.set_materialize_grads(False)
        v = torch.zeros_like(x[0]) if v0 is None else v0
        a = a0
        h_seq, a_seq, spikes = torch.empty_like(x), torch.empty_like(x), torch.empty_like(x)
        for t in range(x.shape[0]):  # the reference's step (autograd is off inside forward)
            a_seq[t] = a
            spikes[t], v, a, h_seq[t], _ = _alif_update(x[t], v, a, spec)
        ctx.spec = spec
        ctx.save_for_backward(h_seq, a_seq)  # the spikes are recomputed from H and a in backward
        return spikes, v, a

    @staticmethod
    @_first_order_only
    def backward(ctx, gs, gvT, gaT):  # type: ignore[override]
        h_seq, a_seq = ctx.saved_tensors
        spec = ctx.spec
        lif = spec.lif
        n = 0.0 if lif.detach_reset else 1.0
        m = 0.0 if spec.detach_adaptation else 1.0
        beta, rho = spec.beta, spec.rho
        dh_dx, dh_dv = lif.dh_dx, lif.dh_dv
        zero = torch.zeros_like(h_seq[0])
        gV = zero if gvT is None else gvT.to(h_seq.dtype)
        gA = zero if gaT is None else gaT.to(h_seq.dtype)
        gx = torch.empty_like(h_seq)
        for t in range(h_seq.shape[0] - 1, -1, -1):
            h = h_seq[t]
            theta = a_seq[t] * beta + lif.v_th
            u = h - theta
            sg = lif.surrogate.derivative(u)
            s = (heaviside(u, lif.ge) if lif.surrogate.spiking else lif.surrogate.primitive(u)) if lif.reset != "none" \
                else None
            if lif.reset == "hard":
                d = (lif.v_reset - h) * sg * n  # the reset's dependence on S through σ'
                dv_dh, dv_da = (1 - s) + d, d * (-beta)
            elif lif.reset == "soft":
                dv_dh = 1 - theta * sg * n
                dv_da = (theta * sg * n - s) * beta
            else:
                dv_dh, dv_da = None, None
            g_sig = gA * m if gs is None else gA * m + gs[t]  # what multiplies σ' in dL/dH (and −β·σ' in dL/da)
            gh = (gV if dv_dh is None else gV * dv_dh) + g_sig * sg  # reset "none": ∂V/∂H = 1
            ga = gA * rho - g_sig * sg * beta
            if dv_da is not None:
                ga = ga + gV * dv_da
            gx[t] = gh * dh_dx
            gV = gh * dh_dv
            gA = ga
        return gx, (gV if ctx.needs_input_grad[1] else None), (gA if ctx.needs_input_grad[2] else None), None


def alif_step(
    x: torch.Tensor,
    v: torch.Tensor | None = None,
    a: torch.Tensor | None = None,
    spec: ALIFSpec = ALIFSpec(),
    *,
    backend: str = "auto",
    check_nan: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One adaptive-LIF time step (``dt``, e.g. 1 ms): ``(spike, v_next, a_next)``, each ``[B, ...]``.

    Parameters
    ----------
    x : Tensor [B, ...], floating
        Input current of this step.
    v : Tensor [B, ...] or None
        Membrane potential after the previous step (None: the resting value, as LIF).
    a : Tensor [B, ...] or None
        Adaptation for this step, ``a_t`` (the ``a_next`` of the previous call; None: 0).
    spec : ALIFSpec
    backend : {"auto", "cpu", "triton", "torch", "reference"}
    check_nan : bool
        Raise ``ValueError`` on NaN input.

    Equals :func:`alif_multi_step` on ``x.unsqueeze(0)``; gradients flow through ``v`` and ``a``, so a
    Python loop over steps trains exactly like the multi-step call.

    Raises
    ------
    TypeError
        ``x`` is not a floating-point tensor; ``spec`` is not an :class:`ALIFSpec`.
    ValueError
        ``x`` with no dimension; an unknown ``backend`` or ``"triton"``; NaN in ``x``; a state
        of the wrong shape.
    """
    return _single_step(alif_multi_step, x, v, a, spec, backend, check_nan)


def _single_step(multi_fn, x: torch.Tensor, v, w, spec, backend: str, check_nan: bool):
    """One step ``x`` [B, ...] of a two-state neuron through its multi-step function (so a loop of steps
    equals the sequence bit for bit): ``(S_t, v_next, w_next)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape [B, ...]; got {type(x).__name__}")
    if x.dim() < 1:
        raise ValueError("x must have at least one dimension [B, ...] in single-step mode")
    s, v_next, w_next = multi_fn(x.unsqueeze(0), v, w, spec, backend=backend, check_nan=check_nan)
    return s[0], v_next, w_next


# ---------------------------------------------------------------------------- Izhikevich (2003)
#: ``(a, b, c, d)`` of the cortical cell classes of Izhikevich (2003), "Simple model of spiking neurons",
#: IEEE TNN 14(6), Fig. 2: ``a`` in 1/ms, ``b`` dimensionless, ``c`` in mV, ``d`` in mV/ms (the unit of u)
IZHIKEVICH_PRESETS: dict[str, tuple[float, float, float, float]] = {
    "RS": (0.02, 0.2, -65.0, 8.0),  # regular spiking (excitatory): tonic spikes with frequency adaptation
    "IB": (0.02, 0.2, -55.0, 4.0),  # intrinsically bursting (excitatory): a first burst, then single spikes
    "CH": (0.02, 0.2, -50.0, 2.0),  # chattering (excitatory): repeated bursts of closely spaced spikes
    "FS": (0.1, 0.2, -65.0, 2.0),  # fast spiking (inhibitory): high rate, little adaptation
    "LTS": (0.02, 0.25, -65.0, 2.0),  # low-threshold spiking (inhibitory): high rate with adaptation
}


def _preset_params(name: str) -> tuple[float, float, float, float]:
    """``(a, b, c, d)`` of the preset ``name`` (case-insensitive); ``ValueError`` naming the presets if unknown."""
    key = name.upper() if isinstance(name, str) else name
    if key not in IZHIKEVICH_PRESETS:
        raise ValueError(f"unknown Izhikevich preset {name!r}; choose one of {', '.join(IZHIKEVICH_PRESETS)}")
    return IZHIKEVICH_PRESETS[key]


@dataclass(frozen=True)
class IzhikevichSpec:
    """Parameters of Izhikevich (2003) neuron dynamics, integrated as in his published code: immutable, hashable.

    The model (``v`` in mV, ``t`` in ms; ``u`` and the input current ``I`` in mV/ms, the unit of ``dv/dt``)::

        v' = 0.04·v² + 5·v + 140 − u + I,     u' = a·(b·v − u)
        if v ≥ v_peak:  spike,  v ← c,  u ← u + d

    One time step lasts ``dt_ms`` (the input ``I_t`` is held over it) and is explicit Euler as in Izhikevich's
    code, whose ``v`` update is two half-steps of 0.5 ms (``v_substeps = 2``, ``dt_ms = 1``) with ``u`` held, and
    whose ``u`` update is one full step that uses the new ``v``. With ``h = dt_ms / v_substeps``::

        repeat v_substeps times:  v ← v + h·(0.04·v² + 5·v + 140 − u_{t-1} + I_t)      # then the guard below
        H_t = v;   u' = u_{t-1} + dt_ms·a·(b·H_t − u_{t-1})
        S_t = Θ(H_t − v_peak)            # forward H_t ≥ v_peak; backward σ'((H_t − v_peak)/v_scale)/v_scale
        V_t = S_t·c + (1 − S_t)·H_t;   U_t = u' + d·S_t

    This is Izhikevich's loop with the spike reported in the step whose integration reached the peak (his code
    tests ``v ≥ 30`` at the top of the next iteration; states and resets are the same operations in the same
    order). The reset goes through the spike tensor; ``detach_reset`` stops its gradient there.

    Overflow guard (``clamp_peak=True`` and ``v_min``, the defaults). Euler steps of a quadratic explode: a
    substep that ends above ``v_peak`` is squared by the next (an overshoot of 10³ mV becomes 10⁴–10⁶), the
    overshoot leaks into ``u``, and ``v`` reaches ``inf`` (then ``0·inf = NaN`` in the reset) within a few steps
    for ``I`` of 10⁷ with two substeps (float32), of 10³ with four. Below about −112 mV (with ``h = 0.5`` ms)
    the Euler step is unstable too: a strong inhibitory current (``I ≲ −300`` with two substeps, ``≲ −100``
    with one) drives ``v`` so far down that the next substep's ``0.04·v²`` throws it above the peak, so
    inhibition makes the neuron fire at every step. The guard:

    * ``clamp_peak``: each substep ends at ``min(v, v_peak)``, and a neuron that has reached ``v_peak`` stays
      there for the rest of the step (it fires; the overshoot is never squared). ``u`` then integrates
      ``v_peak`` rather than the overshoot, which is closer to the continuous model (the overshoot is an Euler
      artefact: at ``I = 10`` over 300 ms, RS/CH/FS fire 7/22/27 spikes clamped, 7/14/20 unclamped, and
      8/28/42 for the ODE solved with 0.5 µs steps).
    * ``v_min`` (default −100 mV): each substep ends at ``max(v, v_min)``. Positive input never takes ``v``
      that low; strong inhibition holds it there instead of making it fire.

    With both, every value, and each step's derivatives, stay finite for any finite input. Gradients: on the
    state path the clamps have their true derivative (0 where they clamp), which (with the detached reset) keeps
    backpropagation through time from exploding; only the spike's surrogate sees, for a neuron that reached the
    peak, the unclamped value of the substep that reached it (straight through), so the step that fires still
    passes a gradient to its input. ``clamp_peak=False, v_min=None`` reproduces Izhikevich's code step for step
    (bit for bit in float64; BindsNET's ``IzhikevichNodes`` uses the same scheme, with its own threshold),
    overshoot, artefacts and overflow included.

    Parameters
    ----------
    a : float
        Recovery rate of ``u``, in 1/ms. Default 0.02 (RS).
    b : float
        Sensitivity of ``u`` to ``v`` (dimensionless). Default 0.2 (RS).
    c : float
        Reset potential after a spike, in mV, < ``v_peak``. Default −65 (RS).
    d : float
        Increment of ``u`` per spike, in mV/ms. Default 8 (RS).
    v_peak : float
        Spike cut-off, in mV (Izhikevich's 30). Default 30.
    dt_ms : float
        Time step in ms, > 0. Default 1 (Izhikevich's code). Every input step lasts ``dt_ms``.
    v_substeps : int
        Euler substeps of ``v`` per time step (each ``dt_ms / v_substeps``), ≥ 1. Default 2 (Izhikevich's two
        0.5 ms half-steps "for numerical stability").
    v_init : float
        Initial membrane potential in mV when no state is given; the initial ``u`` is then ``b·v`` (as
        Izhikevich's code: ``v = −65``, ``u = b·v``, whatever ``c``). Default −65.
    v_scale : float
        Voltage scale of the surrogate, in mV, > 0: the spike's surrogate derivative is
        ``σ'((H − v_peak)/v_scale)/v_scale``. Default 30: the atan surrogate's half width is then ≈ 10 mV
        around the peak, and rest (−65 mV) gets ≈ 1 % of the peak gradient.
    clamp_peak : bool
        Clamp ``v`` at ``v_peak`` within the step (the guard above). Default True.
    v_min : float or None
        Floor of ``v`` within the step in mV, < ``c``; None: no floor. Default −100.
    detach_reset : bool
        Stop the gradient through the spike in the reset of ``v`` and the increment of ``u``. Default True
        (unlike LIF): through the reset, each spike multiplies the gradient by about ``(c − v_peak)/v_scale``
        (−3 for RS) on top of the upstroke's expansion, and the gradient of the last step's spikes with
        respect to the input 100 steps earlier grows to 10¹ (RS) … 10¹⁹ (CH) under ``I = 10 ± 5``, inf/NaN in
        float32 over a few hundred steps; detached, it decays (≈ 10⁻⁵ … 10⁻²).
    surrogate : Surrogate or str or (name, alpha)
        Surrogate derivative of the spike (see :mod:`spikeforge.nn.surrogate`); default atan (α = 2).

    Spikes fire at ``H ≥ v_peak`` (no ``>`` option: with the clamp a firing neuron ends exactly at ``v_peak``).

    Raises
    ------
    ValueError
        A numeric field that is not a finite real number (NaN, inf, bool, str); ``dt_ms <= 0``;
        ``v_scale <= 0``; ``c >= v_peak`` (the reset would fire again at once); ``v_min >= c``;
        ``v_substeps`` not an integer ``>= 1``.
    """

    a: float = 0.02
    b: float = 0.2
    c: float = -65.0
    d: float = 8.0
    v_peak: float = 30.0
    dt_ms: float = 1.0
    v_substeps: int = 2
    v_init: float = -65.0
    v_scale: float = 30.0
    clamp_peak: bool = True
    v_min: float | None = -100.0
    detach_reset: bool = True
    surrogate: Surrogate = field(default_factory=lambda: Surrogate("atan"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "surrogate", surrogate(self.surrogate))
        names = ["a", "b", "c", "d", "v_peak", "dt_ms", "v_init", "v_scale"] + ([] if self.v_min is None else ["v_min"])
        for name in names:
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, numbers.Real) or not math.isfinite(val):
                raise ValueError(f"Izhikevich {name} must be a finite real number; got {val!r}")
            object.__setattr__(self, name, float(val))
        n = self.v_substeps
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"Izhikevich v_substeps must be an integer >= 1; got {n!r}")
        object.__setattr__(self, "v_substeps", int(n))
        if self.dt_ms <= 0.0:
            raise ValueError(f"Izhikevich dt_ms must be > 0 ms; got {self.dt_ms}")
        if self.v_scale <= 0.0:
            raise ValueError(f"Izhikevich v_scale must be > 0 mV; got {self.v_scale}")
        if self.c >= self.v_peak:
            raise ValueError(
                f"Izhikevich c (reset, {self.c} mV) must be below v_peak ({self.v_peak} mV): a reset at or above "
                "the peak would fire at every step"
            )
        if self.v_min is not None and self.v_min >= self.c:
            raise ValueError(f"Izhikevich v_min ({self.v_min} mV) must be below the reset c ({self.c} mV), or None")

    @classmethod
    def preset(cls, name: str, **overrides) -> IzhikevichSpec:
        """The spec of a cell class of Izhikevich (2003): ``"RS"``, ``"IB"``, ``"CH"``, ``"FS"`` or ``"LTS"``
        (case-insensitive; see :data:`IZHIKEVICH_PRESETS`); ``overrides`` replace any field (``dt_ms=0.5``).

        Raises
        ------
        ValueError
            An unknown name (the message lists the presets), or invalid ``overrides``.
        """
        params = dict(zip("abcd", _preset_params(name)))
        params.update(overrides)
        return cls(**params)

    @property
    def h_ms(self) -> float:
        """Length of one Euler substep of ``v``, ``dt_ms / v_substeps``, in ms."""
        return self.dt_ms / self.v_substeps

    @property
    def u_init(self) -> float:
        """Initial recovery ``b·v_init`` (mV/ms) used when no state is given."""
        return self.b * self.v_init


#: ``backend=`` values the Izhikevich neuron accepts: ``cpu`` the compiled kernel (what ``auto`` picks on CPU),
#: ``triton`` an opt-in CUDA kernel, ``torch`` / ``reference`` the pure-torch per-step autograd loop
IZHIKEVICH_BACKENDS = ("auto", "cpu", "triton", "torch", "reference")


def _check_izhikevich_backend(backend: str) -> None:
    _check_kernel_backend(backend, "Izhikevich", IZHIKEVICH_BACKENDS)


def _prepare_izhikevich_state(
    v0: torch.Tensor | float | None, u0: torch.Tensor | float | None, x: torch.Tensor, spec: IzhikevichSpec
) -> tuple[torch.Tensor, torch.Tensor]:
    """Initial ``(v, u)`` of one step's shape ``[B, ...]``: ``v0`` (default ``v_init``) and ``u0`` (default
    ``b·v0``, elementwise, as Izhikevich's ``u = b.*v``)."""
    if v0 is None:
        v = torch.full(x.shape[1:], spec.v_init, dtype=x.dtype, device=x.device)
    else:
        v = _state_like(v0, x, "initial membrane potential v0")
    u = v * spec.b if u0 is None else _state_like(u0, x, "initial recovery u0")
    return v, u


class _SpikeInput(torch.autograd.Function):
    """Forward ``v`` (the clamped potential); backward: the gradient goes to ``v_sg`` (the unclamped value of
    the substep that reached the peak) where ``v`` is at the peak, and to ``v`` elsewhere."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, v_sg: torch.Tensor, v_peak: float) -> torch.Tensor:  # type: ignore[override]
        fired = v >= v_peak
        ctx.save_for_backward(fired)
        return v.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (fired,) = ctx.saved_tensors
        zero = torch.zeros_like(grad)
        return torch.where(fired, zero, grad), torch.where(fired, grad, zero), None


def _izhikevich_update(
    x: torch.Tensor, v: torch.Tensor, u: torch.Tensor, spec: IzhikevichSpec
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One Izhikevich step on ``[B, ...]`` tensors: ``(S_t, V_t, U_t, H_t)`` (shared by the step and the
    multi-step functions, so a loop of steps equals the sequence bit for bit). The arithmetic follows
    Izhikevich's code operation by operation (``v + 0.5*(0.04*v.^2 + 5*v + 140 - u + I)`` with ``v.^2 = v·v``,
    ``u + a.*(b.*v - u)``), so that ``clamp_peak=False, v_min=None`` reproduces it exactly in float64."""
    h, dta, peak, floor = spec.h_ms, spec.dt_ms * spec.a, spec.v_peak, spec.v_min
    v_sg = v  # with clamp_peak: the unclamped value of the substep that reached the peak (surrogate path only)
    for _ in range(spec.v_substeps):
        v_new = v + (v * v * 0.04 + v * 5.0 + 140.0 - u + x) * h
        if spec.clamp_peak:
            # a neuron at the peak has fired: hold it there (never square the overshoot); clamp the others
            held = v >= peak
            v_sg = torch.where(held, v_sg, v_new)
            v = torch.where(held, v, v_new).clamp(min=floor, max=peak)
        else:
            v = v_new if floor is None else v_new.clamp(min=floor)
    u_new = u + (v * spec.b - u) * dta
    v_spike = _SpikeInput.apply(v, v_sg, peak) if spec.clamp_peak else v
    s = spike_fn((v_spike - peak) / spec.v_scale, spec.surrogate, True)
    sr = s.detach() if spec.detach_reset else s
    v_next = sr * spec.c + (1 - sr) * v
    u_next = u_new + sr * spec.d
    return s, v_next, u_next, v


def izhikevich_multi_step_reference(
    x_seq: torch.Tensor,
    v0: torch.Tensor | float | None = None,
    u0: torch.Tensor | float | None = None,
    spec: IzhikevichSpec = IzhikevichSpec(),
    *,
    return_sequences: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | tuple[torch.Tensor, ...]:
    """Izhikevich neurons over a whole sequence: a readable per-step autograd loop (see :class:`IzhikevichSpec`).

    Parameters
    ----------
    x_seq : Tensor [T, B, ...], floating
        Input current ``I`` per time step, in mV/ms (the unit of ``dv/dt``; Izhikevich's "I = 10"), held
        for the step's ``dt_ms``.
    v0 : Tensor [B, ...] (or broadcastable) or float, optional
        Initial membrane potential in mV; default ``spec.v_init`` (−65 mV). Gradients flow into it.
    u0 : Tensor [B, ...] (or broadcastable) or float, optional
        Initial recovery variable in mV/ms; default ``b·v0`` elementwise. Gradients flow into it.
    spec : IzhikevichSpec
    return_sequences : bool
        Also return ``h_seq`` (the potential at the end of each step's integration, before the reset: what the
        spike compares with ``v_peak``), ``v_seq`` and ``u_seq`` (after the reset), each ``[T, B, ...]``.

    Returns
    -------
    spikes [T, B, ...], v_T [B, ...] (mV), u_T [B, ...] (mV/ms) (and h_seq, v_seq, u_seq). Pass ``(v_T, u_T)``
    back in to continue the sequence.

    Raises
    ------
    TypeError
        ``x_seq`` is not a floating-point tensor; ``spec`` is not an :class:`IzhikevichSpec`.
    ValueError
        ``x_seq`` has fewer than 2 dimensions or ``T = 0``; ``v0`` / ``u0`` of a shape that does not
        broadcast to one step ``[B, ...]``.
    """
    if not isinstance(spec, IzhikevichSpec):
        raise TypeError(f"spec must be an IzhikevichSpec; got {type(spec).__name__}")
    x_seq = check_sequence(x_seq)
    v, u = _prepare_izhikevich_state(v0, u0, x_seq, spec)
    spikes, hs, vs, us = [], [], [], []
    for x in x_seq.unbind(0):
        s, v, u, h = _izhikevich_update(x, v, u, spec)
        spikes.append(s)
        if return_sequences:
            hs.append(h)
            vs.append(v)
            us.append(u)
    out = torch.stack(spikes)
    if return_sequences:
        return out, v, u, torch.stack(hs), torch.stack(vs), torch.stack(us)
    return out, v, u


def izhikevich_multi_step(
    x_seq: torch.Tensor,
    v0: torch.Tensor | float | None = None,
    u0: torch.Tensor | float | None = None,
    spec: IzhikevichSpec = IzhikevichSpec(),
    *,
    backend: str = "auto",
    check_nan: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Izhikevich neurons over a sequence (what :class:`~spikeforge.nn.Izhikevich` calls in multi-step mode).

    The compiled CPU kernel (:class:`_CpuIzhikevich`, what ``auto`` picks for float32/float64 CPU input with a
    built-in surrogate) or :func:`izhikevich_multi_step_reference`, with the module-level checks: the backend
    and NaN input.

    Parameters
    ----------
    x_seq : Tensor [T, B, ...], floating
        Input current per time step, in mV/ms (one step = ``spec.dt_ms``).
    v0, u0 : Tensor [B, ...] or float or None
        Initial membrane potential (mV) and recovery (mV/ms); see :func:`izhikevich_multi_step_reference`.
    spec : IzhikevichSpec
    backend : {"auto", "cpu", "triton", "torch", "reference"}
        ``cpu``: the compiled kernel; ``torch`` / ``reference``: the per-step autograd loop; ``auto``: the kernel
        where it runs; ``triton``: an opt-in CUDA kernel (not yet run on a GPU).
    check_nan : bool
        Raise ``ValueError`` on NaN input.

    Returns
    -------
    spikes [T, B, ...], v_T [B, ...] (mV), u_T [B, ...] (mV/ms)

    Raises
    ------
    TypeError
        As :func:`izhikevich_multi_step_reference`.
    ValueError
        An unknown ``backend``, ``"triton"`` on non-CUDA tensors; NaN in ``x_seq`` (with ``check_nan``); and as
        :func:`izhikevich_multi_step_reference`.
    """
    _check_izhikevich_backend(backend)
    x_seq = check_sequence(x_seq)
    if isinstance(spec, IzhikevichSpec):
        fused = (_CpuIzhikevich if _kernel_fits(x_seq, spec, backend, "Izhikevich")
                 else _TritonIzhikevich if _triton_fits(x_seq, spec, backend, "Izhikevich") else None)
        if fused is not None:
            v, u = _prepare_izhikevich_state(v0, u0, x_seq, spec)
            return fused.apply(x_seq, v, u, spec, check_nan)
    if check_nan:
        _check_nan(x_seq)
    return izhikevich_multi_step_reference(x_seq, v0, u0, spec)  # type: ignore[return-value]


class _TritonIzhikevich(torch.autograd.Function):
    """Izhikevich neurons on the opt-in Triton kernel (``backend="triton"``, CUDA): saves ``x`` and the float32 states
    before each step. Not yet run on a GPU: tested in Triton's interpreter mode (``tests/nn/test_nn_gpu.py``)."""

    @staticmethod
    def forward(ctx, x, v0, u0, spec, check_nan):  # type: ignore[override]
        from . import _triton_kernel

        ctx.set_materialize_grads(False)
        if check_nan:
            _check_nan(x)
        s, vT, uT, vp, up = _triton_kernel.izhikevich_forward(x, v0.contiguous(), u0.contiguous(), spec)
        ctx.spec = spec
        ctx.save_for_backward(x, vp, up)
        return s, vT, uT

    @staticmethod
    @_first_order_only
    def backward(ctx, gs, gvT, guT):  # type: ignore[override]
        from . import _triton_kernel

        x, vp, up = ctx.saved_tensors
        gx, gv0, gu0 = _triton_kernel.izhikevich_backward(x, vp, up, gs, gvT, guT, ctx.spec, ctx.needs_input_grad[1],
                                                          ctx.needs_input_grad[2])
        return gx, gv0, gu0, None, None


class _CpuIzhikevich(torch.autograd.Function):
    """Izhikevich neurons on the compiled CPU kernel (``sf_izh_forward`` / ``sf_izh_backward``): saves only ``x``,
    ``v0`` and ``u0``; the backward recomputes each step's substeps and backpropagates through them with the
    clamps' masks and the straight-through spike input of :class:`_SpikeInput` (see ``_cpu_kernel.cpp``). Tested
    against :func:`izhikevich_multi_step_reference`."""

    @staticmethod
    def _params(spec: IzhikevichSpec) -> tuple[list[float], list[int]]:
        fp = [spec.dt_ms * spec.a, spec.b, spec.c, spec.d, spec.v_peak, spec.h_ms,
              0.0 if spec.v_min is None else spec.v_min, spec.v_scale, spec.surrogate.alpha]
        ip = [spec.v_substeps, int(spec.v_min is not None), int(spec.clamp_peak), int(not spec.detach_reset),
              spec.surrogate.kernel_id, int(not spec.surrogate.spiking)]
        return fp, ip

    @staticmethod
    def forward(ctx, x, v0, u0, spec, check_nan):  # type: ignore[override]
        return _two_state_forward(ctx, x, v0, u0, spec, check_nan, "izhikevich", _CpuIzhikevich._params(spec),
                                  spec.surrogate)

    @staticmethod
    @_first_order_only
    def backward(ctx, gs, gvT, guT):  # type: ignore[override]
        return _two_state_backward(ctx, gs, gvT, guT, "izhikevich", _CpuIzhikevich._params(ctx.spec),
                                   ctx.spec.surrogate)


def izhikevich_step(
    x: torch.Tensor,
    v: torch.Tensor | float | None = None,
    u: torch.Tensor | float | None = None,
    spec: IzhikevichSpec = IzhikevichSpec(),
    *,
    backend: str = "auto",
    check_nan: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One Izhikevich time step (``spec.dt_ms``): ``(spike, v_next, u_next)``, each ``[B, ...]``.

    Parameters
    ----------
    x : Tensor [B, ...], floating
        Input current of this step, in mV/ms.
    v : Tensor [B, ...] or float or None
        Membrane potential (mV) after the previous step (None: ``spec.v_init``).
    u : Tensor [B, ...] or float or None
        Recovery variable (mV/ms) after the previous step (None: ``b·v``).
    spec : IzhikevichSpec
    backend : {"auto", "cpu", "triton", "torch", "reference"}
    check_nan : bool
        Raise ``ValueError`` on NaN input.

    Equals :func:`izhikevich_multi_step` on ``x.unsqueeze(0)``; gradients flow through ``v`` and ``u``, so a
    Python loop over steps trains exactly like the multi-step call.

    Raises
    ------
    TypeError
        ``x`` is not a floating-point tensor; ``spec`` is not an :class:`IzhikevichSpec`.
    ValueError
        ``x`` with no dimension; an unknown ``backend``, ``"triton"`` on non-CUDA tensors; NaN in ``x``; a state
        of the wrong shape.
    """
    return _single_step(izhikevich_multi_step, x, v, u, spec, backend, check_nan)

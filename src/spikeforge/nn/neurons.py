"""Spiking neuron layers: :class:`LIF`, :class:`IF`, the adaptive :class:`ALIF` and :class:`Izhikevich` as
``nn.Module``s.

Thin wrappers over :mod:`spikeforge.nn.functional`. Two step modes, as in SpikingJelly:

* ``step_mode="m"`` (default): input ``[T, B, ...]``, the whole sequence in one fused call. Each call
  starts from ``v0`` (by default the resting potential: ``V_reset`` for a hard reset, 0 otherwise): no
  state survives between calls, so nothing needs resetting.
* ``step_mode="s"``: input ``[B, ...]``, one step per call. The membrane is kept in ``self.v`` until
  :meth:`reset_state` (or :func:`reset_states` on a whole network, scoped to that module tree).

With ``return_state=True`` the state is explicit in both modes: ``forward(x, v)`` returns
``(spikes, v_next)`` and the module holds nothing (Norse style). :class:`ALIF` has two state tensors,
``(v, a)`` (an :class:`ALIFState`): ``forward(x, state) -> (spikes, ALIFState)``; :class:`Izhikevich` has
``(v, u)`` (an :class:`IzhikevichState`).
"""

from __future__ import annotations

import copy
import weakref
from typing import NamedTuple

import torch
from torch import nn

from .functional import (
    BACKENDS,
    PLIF_BACKENDS,
    ALIFSpec,
    IzhikevichSpec,
    LIFSpec,
    _check_alif_backend,
    _check_izhikevich_backend,
    _check_nan,
    _preset_params,
    alif_multi_step,
    alif_step,
    izhikevich_multi_step,
    izhikevich_step,
    lif_multi_step,
    lif_step,
    plif_multi_step,
    plif_step,
    plif_tau,
    plif_w,
)
from .surrogate import Surrogate
from .surrogate import surrogate as make_surrogate

__all__ = ["ALIF", "ALIFState", "IF", "Izhikevich", "IzhikevichState", "LIF", "PLIF", "reset_states"]


def _check_step_mode(step_mode: str) -> None:
    if step_mode not in ("m", "s"):
        raise ValueError(f"step_mode must be 'm' (multi-step [T, B, ...]) or 's' (single step); got {step_mode!r}")


def _lif_spec(
    tau: float | None,
    decay: float | None,
    decay_input: bool,
    v_th: float,
    v_reset: float | None,
    reset: str | None,
    detach_reset: bool,
    spike_compare: str,
    surrogate: str | Surrogate | tuple[str, float],
    alpha: float | None,
    charge: str | None = None,
) -> LIFSpec:
    """The :class:`LIFSpec` of the LIF constructor arguments (shared by :class:`LIF` and :class:`ALIF`)."""
    if tau is not None and decay is not None:
        raise ValueError("give either tau (SpikingJelly form) or decay (per-step factor β), not both")
    if reset is None:
        reset = "soft" if v_reset is None else "hard"
    if reset == "hard" and v_reset is None:
        raise ValueError("reset='hard' needs a v_reset value (v_reset=None means soft reset)")
    return LIFSpec(
        charge=charge or ("decay" if decay is not None else "tau"),
        tau=2.0 if tau is None else tau,
        decay=0.5 if decay is None else decay,
        decay_input=decay_input,
        v_th=v_th,
        v_reset=0.0 if v_reset is None else v_reset,
        reset=reset,
        detach_reset=detach_reset,
        spike_compare=spike_compare,
        surrogate=make_surrogate(surrogate, alpha),
    )


def _lif_repr_parts(sp: LIFSpec) -> list[str]:
    leak = {"tau": f"tau={sp.tau:g}", "decay": f"decay={sp.decay:g}", "if": "no leak"}[sp.charge]
    parts = [leak]
    if sp.charge != "if":
        parts.append(f"decay_input={sp.decay_input}")
    parts += [f"v_th={sp.v_th:g}", f"reset={sp.reset}"]
    if sp.reset == "hard":
        parts.append(f"v_reset={sp.v_reset:g}")
    parts += [f"detach_reset={sp.detach_reset}", f"spike_compare='{sp.spike_compare}'", f"surrogate={sp.surrogate!r}"]
    return parts


def _layer_from_spec(cls: type, spec: object, spec_type: type, kwargs: dict) -> nn.Module:
    """``cls(**kwargs)`` with ``spec`` as its dynamics (the ``from_spec`` of every neuron layer).

    Raises ``TypeError`` if ``spec`` is not a ``spec_type`` or ``kwargs`` names a parameter of the dynamics.
    """
    if not isinstance(spec, spec_type):
        article = "an" if spec_type.__name__[0] in "AEIOU" else "a"
        raise TypeError(f"spec must be {article} {spec_type.__name__}; got {type(spec).__name__}")
    bad = sorted(set(kwargs) - set(cls._FROM_SPEC_KWARGS))
    if bad:
        raise TypeError(
            f"from_spec takes only {', '.join(cls._FROM_SPEC_KWARGS)}; {', '.join(bad)} would be ignored "
            "(the spec fixes the dynamics: use dataclasses.replace(spec, ...))"
        )
    layer = cls(**kwargs)
    layer.spec = spec
    return layer


def _two_state_forward(layer: nn.Module, x: torch.Tensor, state: tuple | None, state_type: type, second: str,
                       label: str, step_fn, multi_fn):
    """``forward`` of a neuron layer with state ``(v, second)`` (:class:`ALIF`, :class:`Izhikevich`): multi-step,
    explicit single-step (``return_state``) or single-step with the state kept in ``layer.v`` and
    ``layer.<second>`` (checked against the input's shape)."""
    if layer.step_mode == "m" and isinstance(x, torch.Tensor) and x.dim() >= 2:
        state = _carried_in(layer, state, x.shape[1])
    if state is None:
        v = w = None
    else:
        if not isinstance(state, tuple) or len(state) != 2:
            raise ValueError(f"state must be an {state_type.__name__} / (v, {second}) pair or None; "
                             f"got {type(state).__name__}")
        v, w = state
    kw = dict(backend=layer.backend, check_nan=layer.check_nan)
    if layer.step_mode == "m":
        s, v_next, w_next = multi_fn(x, v, w, layer.spec, **kw)
        _carry_out(layer, state_type(v_next, w_next))
        return (s, state_type(v_next, w_next)) if layer.return_state else s
    if layer.return_state:
        s, v_next, w_next = step_fn(x, v, w, layer.spec, **kw)
        return s, state_type(v_next, w_next)
    if state is None:
        v, w = layer.v, getattr(layer, second)
        for name, t in (("membrane", v), (label, w)):
            if t is not None and isinstance(x, torch.Tensor) and t.shape != x.shape:
                raise ValueError(
                    f"stored {name} has shape {tuple(t.shape)} but the input has {tuple(x.shape)}; "
                    "call reset_state() (or spikeforge.nn.reset_states(net)) between sequences"
                )
    s, layer.v, w_next = step_fn(x, v, w, layer.spec, **kw)
    setattr(layer, second, w_next)
    return s


#: ``layer -> [state]`` for the layers inside :func:`~spikeforge.nn.carry_state` (keyed weakly by the layer
#: object, so copies, pickles and replicas of a layer never carry and a dropped layer leaves no entry)
_CARRIED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _carried_in(layer: nn.Module, state, batch: int):
    """The state a multi-step layer continues from: ``state`` when given, else, inside
    :func:`~spikeforge.nn.carry_state`, what the layer's previous call left (None at the start). ``ValueError``
    when a carried state was for another batch size."""
    if state is not None:
        return state
    slot = _CARRIED.get(layer)
    carried = None if slot is None else slot[0]
    if carried is not None:
        first = carried[0] if isinstance(carried, tuple) else carried
        if first.shape[0] != batch:
            raise ValueError(f"{type(layer).__name__}: the carried state is for batch size {first.shape[0]}, the input has "
                             f"{batch}; call spikeforge.nn.reset_states(net) between independent sequences")
    return carried


def _carry_out(layer: nn.Module, state) -> None:
    """Keep ``state`` (the layer's state after a multi-step call) when carrying (:func:`carry_state`)."""
    slot = _CARRIED.get(layer)
    if slot is not None:
        slot[0] = state


def _forget_carried(layer: nn.Module) -> None:
    """Drop a state carried by :func:`carry_state` (the layer keeps carrying from rest)."""
    slot = _CARRIED.get(layer)
    if slot is not None:
        slot[0] = None


class _DetachedStateCopy:
    """Mixin: ``copy.deepcopy`` of a layer whose single-step state (``_STATE_ATTRS``) holds tensors with autograd
    history (after a training step in ``step_mode="s"``: the "keep the best model" / EMA pattern). PyTorch refuses to
    deep-copy such non-leaf tensors; the copy gets them detached (the same values, no graph)."""

    _STATE_ATTRS: tuple[str, ...] = ("v",)

    def __deepcopy__(self, memo):
        state = {k: (v.detach() if k in self._STATE_ATTRS and isinstance(v, torch.Tensor) else v)
                 for k, v in self.__dict__.items()}
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__setstate__(copy.deepcopy(state, memo))
        return new


def _one_state_forward(layer: nn.Module, x: torch.Tensor, v: torch.Tensor | None, multi_fn, step_fn):
    """``forward`` of a neuron layer with one state tensor (:class:`LIF`, :class:`PLIF`): multi-step,
    explicit single-step (``return_state``) or single-step with the membrane kept in ``layer.v`` (checked
    against the input's shape). ``multi_fn`` / ``step_fn`` map ``(x, v)`` to ``(spikes, v_next)``."""
    if layer.step_mode == "m":
        v = _carried_in(layer, v, x.shape[1]) if isinstance(x, torch.Tensor) and x.dim() >= 2 else v
        s, v_next = multi_fn(x, v)
        _carry_out(layer, v_next)
        return (s, v_next) if layer.return_state else s
    if layer.return_state:
        return step_fn(x, v)
    if v is None:
        v = layer.v
        if v is not None and isinstance(x, torch.Tensor) and v.shape != x.shape:
            raise ValueError(
                f"stored membrane has shape {tuple(v.shape)} but the input has {tuple(x.shape)}; "
                "call reset_state() (or spikeforge.nn.reset_states(net)) between sequences"
            )
    s, layer.v = step_fn(x, v)
    return s


class LIF(_DetachedStateCopy, nn.Module):
    """Leaky integrate-and-fire neurons (spec ``deep_snn.md`` §1).

    Parameters
    ----------
    tau : float, optional
        Membrane time constant in steps (SpikingJelly form, ``H = V + (X − (V − V_reset))/τ``); default 2.
        Mutually exclusive with ``decay``.
    decay : float, optional
        Per-step decay factor β in [0, 1] instead of ``tau`` (STBP/tdBN ``τ_decay``, snnTorch ``beta``):
        ``H = β·V + X`` (``decay_input=False``) or ``β·V + (1 − β)·X``.
    decay_input : bool
        Scale the input by the leak (``1/τ`` or ``1 − β``). Default True (SpikingJelly's default).
    v_th : float
        Firing threshold, > 0. Default 1.
    v_reset : float or None
        Reset potential for ``reset="hard"``. ``None`` means soft reset (SpikingJelly's convention).
    reset : {"hard", "soft", "none", "soft_delayed"}, optional
        Default: ``"hard"``, or ``"soft"`` when ``v_reset`` is None. ``"soft_delayed"`` is snnTorch's
        ``"subtract"`` (the spike is subtracted at the next step, after the leak).
    detach_reset : bool
        Stop gradients through the spike in the reset. Default False.
    spike_compare : {">=", ">"}
        Fire at ``H >= V_th`` (default) or ``H > V_th``.
    surrogate : str or Surrogate or (name, alpha)
        Surrogate derivative; see :mod:`spikeforge.nn.surrogate`. Default ``"atan"`` (α = 2, peak 1).
    alpha : float, optional
        Surrogate sharpness (overrides the surrogate's default).
    step_mode : {"m", "s"}
        Multi-step ``[T, B, ...]`` or single-step ``[B, ...]`` input.
    return_state : bool
        Return ``(spikes, v)`` and take the state as an argument instead of keeping it.
    backend : {"auto", "cpu", "torch", "triton", "reference"}
        Implementation (see :func:`spikeforge.nn.functional.select_backend`).
    check_nan : bool
        Raise ``ValueError`` on NaN input.

    Shapes
    ------
    ``step_mode="m"``: ``x [T, B, ...] -> spikes [T, B, ...]``; ``"s"``: ``x [B, ...] -> spikes [B, ...]``.

    Raises
    ------
    ValueError
        Invalid dynamics (see :class:`~spikeforge.nn.functional.LIFSpec`, e.g. ``v_th <= 0``), both
        ``tau`` and ``decay``, ``reset="hard"`` without ``v_reset``, unknown ``step_mode`` or ``backend``.
    """

    _FROM_SPEC_KWARGS = ("step_mode", "return_state", "backend", "check_nan")

    def __init__(
        self,
        tau: float | None = None,
        *,
        decay: float | None = None,
        decay_input: bool = True,
        v_th: float = 1.0,
        v_reset: float | None = 0.0,
        reset: str | None = None,
        detach_reset: bool = False,
        spike_compare: str = ">=",
        surrogate: str | Surrogate | tuple[str, float] = "atan",
        alpha: float | None = None,
        step_mode: str = "m",
        return_state: bool = False,
        backend: str = "auto",
        check_nan: bool = True,
        _charge: str | None = None,
    ) -> None:
        super().__init__()
        _check_step_mode(step_mode)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
        self.spec = _lif_spec(tau, decay, decay_input, v_th, v_reset, reset, detach_reset, spike_compare,
                              surrogate, alpha, _charge)
        self.step_mode = step_mode
        self.return_state = return_state
        self.backend = backend
        self.check_nan = check_nan
        self.v: torch.Tensor | None = None  # single-step membrane (not a parameter, not saved)

    @classmethod
    def from_spec(cls, spec: LIFSpec, **kwargs) -> LIF:
        """A layer with the dynamics of ``spec`` (``kwargs``: step_mode, return_state, backend, check_nan).

        Raises
        ------
        TypeError
            ``spec`` is not a :class:`LIFSpec`, or ``kwargs`` names a parameter of the dynamics (``tau``,
            ``v_th``, ...), which ``spec`` fixes: build the spec with it instead
            (``dataclasses.replace(spec, tau=3.0)``).
        """
        return _layer_from_spec(cls, spec, LIFSpec, kwargs)

    @property
    def v_th(self) -> float:
        """Firing threshold."""
        return self.spec.v_th

    @property
    def tau(self) -> float:
        """Membrane time constant in steps (meaningful for ``charge="tau"``; see :class:`LIFSpec`)."""
        return self.spec.tau

    @property
    def decay(self) -> float:
        """Per-step decay factor β (meaningful for ``charge="decay"``; see :class:`LIFSpec`)."""
        return self.spec.decay

    @property
    def surrogate(self):
        """The surrogate derivative (:class:`~spikeforge.nn.surrogate.Surrogate`)."""
        return self.spec.surrogate

    def reset_state(self) -> None:
        """Forget the single-step membrane potential (and a state carried by :func:`carry_state`)."""
        self.v = None
        _forget_carried(self)

    def forward(self, x: torch.Tensor, v: torch.Tensor | None = None):
        """Spikes for input ``x`` (see the class docstring for shapes and state handling)."""
        kw = dict(backend=self.backend, check_nan=self.check_nan)
        return _one_state_forward(self, x, v, lambda x_, v_: lif_multi_step(x_, v_, self.spec, **kw),
                                  lambda x_, v_: lif_step(x_, v_, self.spec, **kw))

    def extra_repr(self) -> str:
        return ", ".join([*_lif_repr_parts(self.spec), f"step_mode='{self.step_mode}'"])


class IF(LIF):
    """Integrate-and-fire neurons, ``H = V + X`` (no leak); otherwise as :class:`LIF`.

    Parameters: ``v_th, v_reset, reset, detach_reset, spike_compare, surrogate, alpha, step_mode,
    return_state, backend, check_nan`` as for :class:`LIF`.
    """

    def __init__(self, *, v_th: float = 1.0, v_reset: float | None = 0.0, **kwargs) -> None:
        for bad in ("tau", "decay", "decay_input"):
            if bad in kwargs:
                raise TypeError(f"IF has no {bad!r} (no leak); use LIF")
        super().__init__(v_th=v_th, v_reset=v_reset, _charge="if", **kwargs)


class PLIF(_DetachedStateCopy, nn.Module):
    """Parametric LIF (Fang et al. 2021; SpikingJelly's ``ParametricLIFNode``): :class:`LIF` whose membrane
    time constant is learned, ``1/τ = sigmoid(w)`` with ``w`` an ``nn.Parameter`` (one fused autograd node
    with a hand-written backward: the compiled CPU kernel on CPU, pure torch elsewhere).

    Parameters
    ----------
    tau : float
        Initial time constant in steps, > 1 (default 2, SpikingJelly's ``init_tau``): ``w = −log(τ − 1)``.
    shape : tuple of int
        Shape of ``w``: ``()`` (default) shares one τ across the layer; e.g. ``(C, 1, 1)`` learns one τ per
        channel of ``[T, B, C, H, W]`` input (it must broadcast to one step ``[B, ...]``).
    decay_input, v_th, v_reset, reset, detach_reset, spike_compare, surrogate, alpha, step_mode, return_state,
    check_nan :
        As :class:`LIF`.
    backend : {"auto", "cpu", "triton", "torch", "reference"}
        ``auto``: the compiled CPU kernel (``cpu``, shared with :class:`LIF`) for float32/float64 CPU input
        with a built-in surrogate, else ``torch``: one fused autograd node with a hand-written backward (pure
        torch, any device). ``reference``: the readable per-step autograd loop. ``triton``: an opt-in
        Triton kernel for CUDA tensors (spiking built-in surrogates; computes in float32), tested in Triton's
        interpreter but not yet run on a GPU, so ``auto`` does not pick it.

    Attributes
    ----------
    w : nn.Parameter
        The learned parameter (trained with the rest of the network by any torch optimiser).
    tau : Tensor
        Current time constants ``1 + exp(−w)`` (steps; detached).

    Raises
    ------
    ValueError
        ``tau <= 1``, or as :class:`LIF`.
    """

    def __init__(
        self,
        tau: float = 2.0,
        *,
        shape: tuple[int, ...] = (),
        decay_input: bool = True,
        v_th: float = 1.0,
        v_reset: float | None = 0.0,
        reset: str | None = None,
        detach_reset: bool = False,
        spike_compare: str = ">=",
        surrogate: str | Surrogate | tuple[str, float] = "atan",
        alpha: float | None = None,
        step_mode: str = "m",
        return_state: bool = False,
        backend: str = "auto",
        check_nan: bool = True,
    ) -> None:
        super().__init__()
        _check_step_mode(step_mode)
        if backend not in PLIF_BACKENDS:
            raise ValueError(f"backend must be one of {PLIF_BACKENDS} for PLIF; got {backend!r}")
        w0 = plif_w(tau)
        self.spec = _lif_spec(float(tau), None, decay_input, v_th, v_reset, reset, detach_reset, spike_compare,
                              surrogate, alpha)
        self.w = nn.Parameter(torch.full(tuple(shape), w0))
        self.step_mode = step_mode
        self.return_state = return_state
        self.backend = backend
        self.check_nan = check_nan
        self.v: torch.Tensor | None = None

    _FROM_SPEC_KWARGS = ("shape", "step_mode", "return_state", "backend", "check_nan")

    @classmethod
    def from_spec(cls, spec: LIFSpec, **kwargs) -> PLIF:
        """A layer with the dynamics of ``spec`` (``charge="tau"``), its ``tau`` the initial τ (``kwargs``: shape,
        step_mode, return_state, backend, check_nan); ``TypeError`` as :meth:`LIF.from_spec`."""
        if isinstance(spec, LIFSpec) and spec.charge != "tau":
            raise ValueError(f"PLIF learns the tau form of the charge; spec.charge must be 'tau', got {spec.charge!r}")
        layer = _layer_from_spec(cls, spec, LIFSpec, kwargs)
        with torch.no_grad():
            layer.w.fill_(plif_w(spec.tau))
        return layer

    @property
    def tau(self) -> torch.Tensor:
        """Current membrane time constants in steps, ``1 + exp(−w)`` (detached)."""
        return plif_tau(self.w.detach())

    @property
    def v_th(self) -> float:
        """Firing threshold."""
        return self.spec.v_th

    @property
    def surrogate(self) -> Surrogate:
        """The surrogate derivative."""
        return self.spec.surrogate

    def reset_state(self) -> None:
        """Forget the single-step membrane potential (and a state carried by :func:`carry_state`)."""
        self.v = None
        _forget_carried(self)

    def forward(self, x: torch.Tensor, v: torch.Tensor | None = None):
        """Spikes for input ``x`` (shapes and state handling as :class:`LIF`)."""
        if self.check_nan and isinstance(x, torch.Tensor):
            _check_nan(x, "input")
        kw = {"backend": self.backend, "check_nan": False}  # NaN checked above
        return _one_state_forward(self, x, v, lambda x_, v_: plif_multi_step(x_, self.w, v_, self.spec, **kw),
                                  lambda x_, v_: plif_step(x_, self.w, v_, self.spec, **kw))

    def extra_repr(self) -> str:
        tau = self.tau
        t = f"tau={float(tau):.4g}" if tau.numel() == 1 else f"tau shape={tuple(tau.shape)}"
        return ", ".join([t + " (learned)", *_lif_repr_parts(self.spec)[1:], f"step_mode='{self.step_mode}'"])


class ALIFState(NamedTuple):
    """The state of :class:`ALIF` neurons after a step, both ``[B, ...]``.

    Attributes
    ----------
    v : Tensor [B, ...]
        Membrane potential after the reset (unit of the input / ``v_th``).
    a : Tensor [B, ...]
        Adaptation the *next* step uses, ``a_{t+1} = ρ·a_t + S_t`` (dimensionless, in spikes).
    """

    v: torch.Tensor
    a: torch.Tensor


class ALIF(_DetachedStateCopy, nn.Module):
    """Adaptive-threshold LIF neurons (Bellec et al. 2018, LSNN; spec in :class:`~spikeforge.nn.functional.ALIFSpec`).

    LIF's membrane (same charge, ``tau`` / ``decay`` semantics and resets) with a threshold that each spike
    raises and that relaxes with time constant ``tau_a``. Per step (one step = ``dt``; time constants are
    in steps, i.e. in ms for ``dt = 1 ms``)::

        H_t = charge(V_{t-1}, X_t)                     # as LIF
        θ_t = v_th + beta·a_t,   a_t = ρ·a_{t-1} + S_{t-1},   ρ = exp(−1/tau_a)
        S_t = Θ(H_t − θ_t)                             # surrogate gradient as LIF
        V_t = reset(H_t, S_t)                          # LIF's reset, V_th replaced by θ_t

    Parameters
    ----------
    tau : float, optional
        Membrane time constant in time steps (ms at ``dt = 1 ms``), ≥ 1, SpikingJelly form as :class:`LIF`;
        default 2. Mutually exclusive with ``decay``.
    tau_a : float
        Adaptation time constant in time steps (ms at ``dt = 1 ms``), > 0; default 200.
    beta : float
        Threshold increase per spike (unit of ``v_th``), ≥ 0; default 0.1. ``beta=0`` is exactly :class:`LIF`.
    decay, decay_input, v_th, v_reset, detach_reset, spike_compare, surrogate, alpha, step_mode, check_nan
        As :class:`LIF` (``v_th`` is the baseline threshold).
    reset : {"hard", "soft", "none"}, optional
        As :class:`LIF`; ``soft`` subtracts the crossed threshold θ_t. ``soft_delayed`` is refused.
        Like LIF, the default is a hard reset to ``v_reset = 0``; Bellec et al.'s LSNN subtracts the
        threshold instead: pass ``v_reset=None`` (or ``reset="soft"``) for their form.
    detach_adaptation : bool
        Stop gradients through the spike in the adaptation update. Default False.
    return_state : bool
        ``forward(x, state) -> (spikes, ALIFState(v, a))``; the module keeps nothing.
    backend : {"auto", "cpu", "triton", "torch", "reference"}
        One fused autograd node with a hand-written backward: ``auto`` runs the compiled CPU kernel (``cpu``,
        beside the LIF's) for float32/float64 CPU input with a built-in surrogate, else ``torch`` (pure torch,
        any device); ``reference``: the readable per-step autograd loop. ``triton``: an opt-in
        Triton kernel for CUDA tensors (spiking built-in surrogates; computes in float32), tested in Triton's
        interpreter but not yet run on a GPU, so ``auto`` does not pick it.

    Shapes
    ------
    ``step_mode="m"``: ``x [T, B, ...] -> spikes [T, B, ...]``; ``"s"``: ``x [B, ...] -> spikes [B, ...]``.
    The state ``(v, a)`` is ``[B, ...]`` each. Single-step mode keeps it in ``self.v`` and ``self.a``
    until :meth:`reset_state` / :func:`reset_states`.

    Raises
    ------
    ValueError
        ``tau_a <= 0``, ``beta < 0``, NaN/inf in any parameter, ``reset="soft_delayed"``, an unknown ``backend``,
        and
        everything :class:`LIF` refuses (``v_th <= 0``, both ``tau`` and ``decay``, unknown ``step_mode``).

    Example
    -------
    >>> alif = ALIF(tau=2.0, tau_a=50.0, beta=0.2)
    >>> spikes = alif(torch.full((100, 1, 1), 2.0))     # [T, B, N]: the rate falls as θ rises
    """

    _STATE_ATTRS = ("v", "a")
    _FROM_SPEC_KWARGS = ("step_mode", "return_state", "backend", "check_nan")

    def __init__(
        self,
        tau: float | None = None,
        *,
        tau_a: float = 200.0,
        beta: float = 0.1,
        decay: float | None = None,
        decay_input: bool = True,
        v_th: float = 1.0,
        v_reset: float | None = 0.0,
        reset: str | None = None,
        detach_reset: bool = False,
        detach_adaptation: bool = False,
        spike_compare: str = ">=",
        surrogate: str | Surrogate | tuple[str, float] = "atan",
        alpha: float | None = None,
        step_mode: str = "m",
        return_state: bool = False,
        backend: str = "auto",
        check_nan: bool = True,
    ) -> None:
        super().__init__()
        _check_step_mode(step_mode)
        _check_alif_backend(backend)
        lif = _lif_spec(tau, decay, decay_input, v_th, v_reset, reset, detach_reset, spike_compare, surrogate, alpha)
        self.spec = ALIFSpec(lif=lif, tau_a=tau_a, beta=beta, detach_adaptation=detach_adaptation)
        self.step_mode = step_mode
        self.return_state = return_state
        self.backend = backend
        self.check_nan = check_nan
        self.v: torch.Tensor | None = None  # single-step state (not parameters, not saved)
        self.a: torch.Tensor | None = None

    @classmethod
    def from_spec(cls, spec: ALIFSpec, **kwargs) -> ALIF:
        """A layer with the dynamics of ``spec`` (``kwargs``: step_mode, return_state, backend, check_nan).

        Raises
        ------
        TypeError
            ``spec`` is not an :class:`~spikeforge.nn.functional.ALIFSpec`, or ``kwargs`` names a parameter
            of the dynamics (use ``dataclasses.replace(spec, ...)``).
        ValueError
            A bad ``step_mode`` or ``backend``.
        """
        return _layer_from_spec(cls, spec, ALIFSpec, kwargs)

    @property
    def v_th(self) -> float:
        """Baseline firing threshold (unit of the input)."""
        return self.spec.lif.v_th

    @property
    def tau(self) -> float:
        """Membrane time constant in steps (meaningful for the ``tau`` charge)."""
        return self.spec.lif.tau

    @property
    def decay(self) -> float:
        """Per-step membrane decay factor (meaningful for the ``decay`` charge)."""
        return self.spec.lif.decay

    @property
    def tau_a(self) -> float:
        """Adaptation time constant in steps (ms at ``dt = 1 ms``)."""
        return self.spec.tau_a

    @property
    def beta(self) -> float:
        """Threshold increase per unit of adaptation (unit of ``v_th``)."""
        return self.spec.beta

    @property
    def rho(self) -> float:
        """Per-step adaptation decay ``exp(−1/tau_a)``."""
        return self.spec.rho

    @property
    def surrogate(self) -> Surrogate:
        """The surrogate derivative (:class:`~spikeforge.nn.surrogate.Surrogate`)."""
        return self.spec.lif.surrogate

    def reset_state(self) -> None:
        """Forget the single-step state (membrane ``v`` and adaptation ``a``) and a carried one."""
        self.v = None
        self.a = None
        _forget_carried(self)

    def forward(
        self, x: torch.Tensor, state: ALIFState | tuple[torch.Tensor | None, torch.Tensor | None] | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, ALIFState]:
        """Spikes for input ``x``; with ``return_state`` also the new :class:`ALIFState`.

        Parameters
        ----------
        x : Tensor [T, B, ...] (``step_mode="m"``) or [B, ...] (``"s"``)
            Input current (one step = ``dt``).
        state : ALIFState or (v, a) or None
            Initial / previous state, each ``[B, ...]`` or None (rest: ``v`` as LIF, ``a = 0``). In
            single-step mode without ``return_state``, None means the state kept in the module.

        Raises
        ------
        ValueError
            A stored single-step state whose shape differs from ``x`` (call :meth:`reset_state`), NaN
            input, a malformed ``state``, and the input errors of :func:`~spikeforge.nn.functional.alif_multi_step`.
        """
        return _two_state_forward(self, x, state, ALIFState, "a", "adaptation", alif_step, alif_multi_step)

    def extra_repr(self) -> str:
        sp = self.spec
        parts = _lif_repr_parts(sp.lif)
        parts += [
            f"tau_a={sp.tau_a:g}",
            f"beta={sp.beta:g}",
            f"detach_adaptation={sp.detach_adaptation}",
            f"step_mode='{self.step_mode}'",
        ]
        return ", ".join(parts)


class IzhikevichState(NamedTuple):
    """The state of :class:`Izhikevich` neurons after a step, both ``[B, ...]``.

    Attributes
    ----------
    v : Tensor [B, ...]
        Membrane potential after the reset, in mV.
    u : Tensor [B, ...]
        Recovery variable after the spike increment, in mV/ms (the unit of ``dv/dt`` and of the input).
    """

    v: torch.Tensor
    u: torch.Tensor


class Izhikevich(_DetachedStateCopy, nn.Module):
    """Izhikevich (2003) neurons for gradient training (spec in :class:`~spikeforge.nn.functional.IzhikevichSpec`).

    The "simple model" (``v`` in mV, time in ms, ``u`` and the input current ``I`` in mV/ms)::

        v' = 0.04·v² + 5·v + 140 − u + I,     u' = a·(b·v − u)
        if v ≥ v_peak (30 mV):  spike,  v ← c,  u ← u + d

    integrated as Izhikevich's code does: per time step of ``dt_ms`` (1 ms), ``v_substeps`` (2) Euler substeps of
    ``v`` with ``u`` held, then one Euler step of ``u`` with the new ``v``. Each substep is clamped to
    ``[v_min, v_peak]`` (the overflow guard: finite values for any finite input, no Euler-artefact spikes under
    strong inhibition; ``clamp_peak=False, v_min=None`` gives Izhikevich's exact arithmetic). The spike
    ``Θ(v − v_peak)`` has the surrogate gradient ``σ'((v − v_peak)/v_scale)/v_scale`` and resets ``v ← c``,
    ``u ← u + d`` through the spike tensor (detached by default). Details and measurements:
    :class:`~spikeforge.nn.functional.IzhikevichSpec`.

    Parameters
    ----------
    a : float
        Recovery rate of ``u``, in 1/ms. Default 0.02 (regular spiking, RS).
    b : float
        Sensitivity of ``u`` to ``v`` (dimensionless). Default 0.2.
    c : float
        Reset potential in mV, < ``v_peak``. Default −65.
    d : float
        Increment of ``u`` per spike, in mV/ms. Default 8.
    v_peak : float
        Spike cut-off in mV. Default 30.
    dt_ms : float
        Length of one time step (one input step) in ms, > 0. Default 1.
    v_substeps : int
        Euler substeps of ``v`` per step, ≥ 1. Default 2 (Izhikevich's two 0.5 ms half-steps).
    v_init : float
        Initial ``v`` in mV when no state is given (``u`` starts at ``b·v``). Default −65 (Izhikevich's code).
    v_scale : float
        Voltage scale of the surrogate in mV, > 0. Default 30.
    clamp_peak : bool
        Clamp ``v`` at ``v_peak`` within the step and hold a neuron that reached it (overflow guard). Default True.
    v_min : float or None
        Floor of ``v`` within the step in mV, < ``c`` (guard against the Euler instability under strong
        inhibition); None: no floor. Default −100.
    detach_reset : bool
        Stop gradients through the spike in the reset (``v ← c``, ``u ← u + d``). Default True, unlike
        :class:`LIF`: through the reset the gradient grows with every spike (by 10¹–10¹⁹ over 100 steps at
        ``I = 10 ± 5``, depending on the preset), detached it decays.
    surrogate : str or Surrogate or (name, alpha)
        Surrogate derivative; see :mod:`spikeforge.nn.surrogate`. Default ``"atan"`` (α = 2, peak 1).
    alpha : float, optional
        Surrogate sharpness (overrides the surrogate's default).
    step_mode : {"m", "s"}
        Multi-step ``[T, B, ...]`` or single-step ``[B, ...]`` input.
    return_state : bool
        ``forward(x, state) -> (spikes, IzhikevichState(v, u))``; the module keeps nothing.
    backend : {"auto", "cpu", "torch", "reference"}
        ``auto``: the compiled CPU kernel (``cpu``: one pass forward, a hand-written backward that recomputes
        the substeps) for float32/float64 CPU input with a built-in surrogate, else the pure-torch per-step
        autograd loop (``torch`` = ``reference``; any device). ``triton``: an opt-in Triton kernel for CUDA
        tensors (spiking built-in surrogates; float32), tested in Triton's interpreter but not yet run on a GPU,
        so ``auto`` does not pick it.
    check_nan : bool
        Raise ``ValueError`` on NaN input.

    Presets: :meth:`preset` (``"RS"``, ``"IB"``, ``"CH"``, ``"FS"``, ``"LTS"``; values in
    :data:`~spikeforge.nn.functional.IZHIKEVICH_PRESETS`).

    Shapes
    ------
    ``step_mode="m"``: ``x [T, B, ...] -> spikes [T, B, ...]``; ``"s"``: ``x [B, ...] -> spikes [B, ...]``.
    The state ``(v, u)`` is ``[B, ...]`` each. Single-step mode keeps it in ``self.v`` and ``self.u``
    until :meth:`reset_state` / :func:`reset_states`.

    Raises
    ------
    ValueError
        NaN/inf (or a bool) in any numeric parameter, ``dt_ms <= 0``, ``v_substeps`` not an integer ``>= 1``,
        ``v_scale <= 0``, ``c >= v_peak``, ``v_min >= c``, an unknown ``backend``, an unknown
        ``step_mode``.

    Example
    -------
    >>> rs = Izhikevich.preset("RS")                  # a, b, c, d = 0.02, 0.2, -65, 8; dt = 1 ms
    >>> spikes = rs(torch.full((1000, 1, 1), 10.0))   # [T, B, N]: 1 s of I = 10, regular spiking with adaptation
    """

    _STATE_ATTRS = ("v", "u")
    _FROM_SPEC_KWARGS = ("step_mode", "return_state", "backend", "check_nan")

    def __init__(
        self,
        a: float = 0.02,
        b: float = 0.2,
        c: float = -65.0,
        d: float = 8.0,
        *,
        v_peak: float = 30.0,
        dt_ms: float = 1.0,
        v_substeps: int = 2,
        v_init: float = -65.0,
        v_scale: float = 30.0,
        clamp_peak: bool = True,
        v_min: float | None = -100.0,
        detach_reset: bool = True,
        surrogate: str | Surrogate | tuple[str, float] = "atan",
        alpha: float | None = None,
        step_mode: str = "m",
        return_state: bool = False,
        backend: str = "auto",
        check_nan: bool = True,
    ) -> None:
        super().__init__()
        _check_step_mode(step_mode)
        _check_izhikevich_backend(backend)
        self.spec = IzhikevichSpec(
            a=a, b=b, c=c, d=d, v_peak=v_peak, dt_ms=dt_ms, v_substeps=v_substeps, v_init=v_init, v_scale=v_scale,
            clamp_peak=clamp_peak, v_min=v_min, detach_reset=detach_reset, surrogate=make_surrogate(surrogate, alpha),
        )
        self.step_mode = step_mode
        self.return_state = return_state
        self.backend = backend
        self.check_nan = check_nan
        self.v: torch.Tensor | None = None  # single-step state (not parameters, not saved)
        self.u: torch.Tensor | None = None

    @classmethod
    def preset(cls, name: str, **kwargs) -> Izhikevich:
        """Neurons of a cell class of Izhikevich (2003), Fig. 2: ``"RS"``, ``"IB"``, ``"CH"``, ``"FS"`` or ``"LTS"``
        (case-insensitive).

        ======= ===================================== ======= ====== ===== ===
        name    cell class                            a       b      c     d
        ======= ===================================== ======= ====== ===== ===
        ``RS``  regular spiking (excitatory)          0.02    0.2    −65   8
        ``IB``  intrinsically bursting (excitatory)   0.02    0.2    −55   4
        ``CH``  chattering (excitatory)               0.02    0.2    −50   2
        ``FS``  fast spiking (inhibitory)             0.1     0.2    −65   2
        ``LTS`` low-threshold spiking (inhibitory)    0.02    0.25   −65   2
        ======= ===================================== ======= ====== ===== ===

        ``kwargs`` go to the constructor (``step_mode="s"``, ``dt_ms=0.5``, ...) and may override ``a``–``d``.

        Raises
        ------
        ValueError
            An unknown ``name`` (the message lists the presets), and whatever the constructor refuses.
        """
        params: dict = dict(zip("abcd", _preset_params(name)))
        params.update(kwargs)
        return cls(**params)

    @classmethod
    def from_spec(cls, spec: IzhikevichSpec, **kwargs) -> Izhikevich:
        """A layer with the dynamics of ``spec`` (``kwargs``: step_mode, return_state, backend, check_nan).

        Raises
        ------
        TypeError
            ``spec`` is not an :class:`~spikeforge.nn.functional.IzhikevichSpec`, or ``kwargs`` names a
            parameter of the dynamics (use ``dataclasses.replace(spec, ...)``).
        ValueError
            A bad ``step_mode`` or ``backend``.
        """
        return _layer_from_spec(cls, spec, IzhikevichSpec, kwargs)

    @property
    def a(self) -> float:
        """Recovery rate of ``u`` (1/ms)."""
        return self.spec.a

    @property
    def b(self) -> float:
        """Sensitivity of ``u`` to ``v`` (dimensionless)."""
        return self.spec.b

    @property
    def c(self) -> float:
        """Reset potential (mV)."""
        return self.spec.c

    @property
    def d(self) -> float:
        """Increment of ``u`` per spike (mV/ms)."""
        return self.spec.d

    @property
    def v_peak(self) -> float:
        """Spike cut-off (mV)."""
        return self.spec.v_peak

    @property
    def dt_ms(self) -> float:
        """Length of one time step (ms)."""
        return self.spec.dt_ms

    @property
    def v_substeps(self) -> int:
        """Euler substeps of ``v`` per time step."""
        return self.spec.v_substeps

    @property
    def surrogate(self) -> Surrogate:
        """The surrogate derivative (:class:`~spikeforge.nn.surrogate.Surrogate`)."""
        return self.spec.surrogate

    def reset_state(self) -> None:
        """Forget the single-step state (membrane ``v`` and recovery ``u``) and a carried one."""
        self.v = None
        self.u = None
        _forget_carried(self)

    def forward(
        self,
        x: torch.Tensor,
        state: IzhikevichState | tuple[torch.Tensor | None, torch.Tensor | None] | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, IzhikevichState]:
        """Spikes for input ``x``; with ``return_state`` also the new :class:`IzhikevichState`.

        Parameters
        ----------
        x : Tensor [T, B, ...] (``step_mode="m"``) or [B, ...] (``"s"``)
            Input current in mV/ms (one step = ``dt_ms``).
        state : IzhikevichState or (v, u) or None
            Initial / previous state, each ``[B, ...]`` or None (``v = v_init``, ``u = b·v``). In single-step
            mode without ``return_state``, None means the state kept in the module.

        Raises
        ------
        ValueError
            A stored single-step state whose shape differs from ``x`` (call :meth:`reset_state`), NaN input, a
            malformed ``state``, and the input errors of :func:`~spikeforge.nn.functional.izhikevich_multi_step`.
        """
        return _two_state_forward(self, x, state, IzhikevichState, "u", "recovery", izhikevich_step,
                                  izhikevich_multi_step)

    def extra_repr(self) -> str:
        sp = self.spec
        parts = [f"a={sp.a:g}", f"b={sp.b:g}", f"c={sp.c:g}", f"d={sp.d:g}", f"v_peak={sp.v_peak:g}",
                 f"dt_ms={sp.dt_ms:g}", f"v_substeps={sp.v_substeps}", f"v_init={sp.v_init:g}",
                 f"v_scale={sp.v_scale:g}", f"clamp_peak={sp.clamp_peak}",
                 f"v_min={'None' if sp.v_min is None else format(sp.v_min, 'g')}", f"detach_reset={sp.detach_reset}",
                 f"surrogate={sp.surrogate!r}", f"step_mode='{self.step_mode}'"]
        return ", ".join(parts)


def reset_states(module: nn.Module) -> None:
    """Call ``reset_state()`` on every spiking layer (:class:`LIF`, :class:`IF`, :class:`PLIF`, :class:`ALIF`,
    :class:`Izhikevich`, :class:`~spikeforge.nn.CubaLIF`, :class:`~spikeforge.nn.RecurrentLIF`) inside ``module``
    (and nowhere else): single-step states and states carried by :func:`~spikeforge.nn.carry_state`."""
    for m in module.modules():
        if callable(getattr(m, "reset_state", None)) and (isinstance(m, (LIF, PLIF, ALIF, Izhikevich))
                                                           or getattr(m, "_has_carried_state", False)):
            m.reset_state()

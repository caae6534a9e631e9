"""NIR export (:func:`to_nir`) and import (:func:`from_nir`) for ``spikeforge.nn`` networks.

Time
----
NIR describes neurons as continuous-time equations; spikeforge's layers are discrete (one update per
step). Both directions use **forward Euler with step** ``dt`` (in the graph's time unit: seconds by NIR
convention; default ``1e-3``, i.e. 1 ms). A discrete update ``H = a·V + b·X + (1 − a)·v_leak`` is the
Euler step of ``τ dV/dt = (v_leak − V) + R·I`` with

    a = 1 − dt/τ,   b = dt·R/τ      (so τ = dt/(1 − a), R = b/(1 − a))

and of the IF node ``dV/dt = R·I`` with ``a = 1``, ``b = dt·R``. This is the convention of snnTorch and
Norse's NIR bridges (``β = 1 − dt/τ``). Export and import with the same ``dt``.

What NIR cannot say, and what we do
-----------------------------------
- **Soft reset** (reset by subtraction, RMP), ``reset="none"`` and snnTorch's delayed subtraction: NIR
  neurons reset to ``v_reset``. They are exported as a hard reset to 0 with a :class:`UserWarning`;
  the exact :class:`~spikeforge.nn.LIFSpec` is kept in the node's metadata (``"spikeforge.spec"``), and
  :func:`from_nir` restores it when the node's parameters still match it. Other tools see the hard
  reset.
- **Initial membrane** (``v0 = ½`` of converted QCFS networks): metadata only, with a warning.
- **Start at v_reset**: ``IF`` and ``decay``-form ``LIF`` with a hard reset to ``v_reset ≠ 0`` start at
  ``v_reset`` but rest at 0; other tools start at rest. Export warns; :func:`from_nir` restores it.
- **Division by λ** (converted networks): ``Scale(1/λ)`` in float32 is not ``x / λ``; λ goes into the
  node metadata (``"spikeforge.divide_by"``) and :func:`from_nir` divides.
- **Readout over time** (``readout(mean_t(spikes))`` of :class:`~spikeforge.nn.ConvSNN` /
  :class:`~spikeforge.nn.SpikingResNet19`, :class:`~spikeforge.nn.MeanOverTime`): an affine readout
  commutes with the mean, so the graph computes the readout at every step and records
  ``graph.metadata["spikeforge.readout"] = "mean_over_time"``; average the output over time.
- **BatchNorm / tdBN** are folded into the preceding conv / linear layer (evaluation statistics).
- Max pooling and ReLU have no NIR node: export raises an error that says so.

Learned and recurrent neurons
-----------------------------
- :class:`~spikeforge.nn.PLIF` with one τ per neuron / channel: a ``LIF`` node with per-neuron ``tau`` (the
  learned τ broadcast to the population); ``w`` in the metadata (``"spikeforge.plif_w"``) brings the PLIF
  back exactly.
- :class:`~spikeforge.nn.RecurrentLIF`: its input projection, then a nested ``NIRGraph`` ``input → lif ⇄
  w_rec``, ``lif → output`` (snnTorch's ``RLeaky`` form; ``w_rec`` is ``Affine`` / ``Linear`` for
  ``all_to_all``, ``Linear(diag(r))`` for ``one_to_one``). The loop has one step of delay: ``s_{t−1}`` feeds
  ``I_t``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..nn.batchnorm import fold_batchnorm
from ..nn.dropout import SequenceDropout
from ..nn.functional import LIFSpec, _spec_from_key, lif_step
from ..nn.layers import BatchFirst, MeanOverTime, SeqToANN
from ..nn.neurons import ALIF, LIF, PLIF, Izhikevich, _carried_in, _carry_out, _forget_carried
from ..nn.recurrent import RecurrentLIF
from ..nn.surrogate import Surrogate, spike_fn
from ..nn.synaptic import CubaLIF
from ..plasticity.torch_stdp import STDPUpdater

__all__ = ["NIRBuilder", "NIRNetwork", "Source", "from_nir", "register_nir_exporter", "to_nir"]

_SPEC_KEY = "spikeforge.spec"
_V0_KEY = "spikeforge.v0"
_READOUT_KEY = "spikeforge.readout"
_DT_KEY = "spikeforge.dt"
_COMPARE_KEY = "spikeforge.spike_compare"
_DIVIDE_KEY = "spikeforge.divide_by"
_CUBA_ALPHA_KEY = "spikeforge.cuba_alpha"
_PLIF_W_KEY = "spikeforge.plif_w"
_RECURRENT_KEY = "spikeforge.recurrent"
_PLASTICITY_KEY = "spikeforge.plasticity"
# relative tolerance for "tau equals dt" (parameters are stored as float32)
_TAU_RTOL = 1e-6


def _nir():
    """The ``nir`` module, or an ImportError that says how to get it."""
    try:
        import nir
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "NIR support needs the optional 'nir' package: pip install \"spikeforge[nir]\" (or pip install nir)"
        ) from err
    return nir


def _check_dt(dt: float) -> float:
    if not isinstance(dt, (int, float)) or not math.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be a positive finite step length (seconds by NIR convention); got {dt!r}")
    return float(dt)


# ============================================================================ discretisation
def _euler_of_spec(spec: LIFSpec, tau: np.ndarray | None = None):
    """``(a, b, v_leak)`` of ``H = a·V + b·X + (1 − a)·v_leak`` for a :class:`LIFSpec` (see module docs).

    ``tau`` (steps, one per neuron; ``tau`` form only) replaces ``spec.tau``: a :class:`PLIF` with one learned τ
    per neuron or channel. ``a`` and ``b`` are then arrays (float64), computed element by element exactly as
    the scalar ones."""
    if spec.charge == "tau":
        t = spec.tau if tau is None else np.asarray(tau, dtype=np.float64)
        return 1.0 - 1.0 / t, (1.0 / t if spec.decay_input else 1.0), spec._vr_charge
    if spec.charge == "decay":
        return spec.decay, ((1.0 - spec.decay) if spec.decay_input else 1.0), 0.0
    return 1.0, 1.0, 0.0


def _spec_to_json(spec: LIFSpec) -> str:
    return spec._key


def _neuron_node(spec: LIFSpec, shape: tuple[int, ...], dt: float, *, scale_note: str = "",
                 tau: np.ndarray | None = None):
    """The NIR ``LIF`` / ``IF`` node of ``spec`` for a population of per-step ``shape`` (``tau``: one time
    constant per neuron, of ``shape``, in steps; see :func:`_euler_of_spec`)."""
    nir = _nir()
    a, b, vl = _euler_of_spec(spec, tau)
    full = lambda v: np.broadcast_to(np.asarray(v, dtype=np.float64), shape).astype(np.float32)  # noqa: E731
    if spec.reset != "hard":
        warnings.warn(
            f"NIR neurons reset to v_reset; this layer's reset={spec.reset!r}{scale_note} is exported as a hard "
            "reset to 0 (spikeforge.interop.from_nir restores it from the node metadata; other tools will not)",
            UserWarning,
            stacklevel=4,
        )
    v_reset = full(spec.v_reset if spec.reset == "hard" else 0.0)
    if spec.reset == "hard" and vl != spec.v_reset:
        warnings.warn(
            f"this layer starts at v_reset = {spec.v_reset:g} but rests at {vl:g}; NIR has no initial membrane and "
            "other tools start at rest (or 0), so their first steps differ (spikeforge.interop.from_nir restores "
            "the start from the node metadata)",
            UserWarning,
            stacklevel=4,
        )
    meta = {_SPEC_KEY: _spec_to_json(spec), _COMPARE_KEY: spec.spike_compare, _DT_KEY: dt}
    if np.all(np.asarray(a) == 1.0):
        return nir.IF(r=full(b / dt), v_threshold=full(spec.v_th), v_reset=v_reset, metadata=meta)
    return nir.LIF(
        tau=full(dt / (1.0 - a)),
        r=full(b / (1.0 - a)),
        v_leak=full(vl),
        v_threshold=full(spec.v_th),
        v_reset=v_reset,
        metadata=meta,
    )


def _euler_of_node(node, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a, b, c)`` arrays of ``H = a·V + b·X + c`` for a NIR ``LIF`` / ``IF`` / ``LI`` node."""
    nir = _nir()
    if isinstance(node, nir.IF):
        r = np.asarray(node.r, dtype=np.float64)
        return np.ones_like(r), dt * r, np.zeros_like(r)
    tau = np.asarray(node.tau, dtype=np.float64)
    r = np.asarray(node.r, dtype=np.float64)
    vl = np.asarray(node.v_leak, dtype=np.float64)
    if np.any(~np.isfinite(tau)) or np.any(tau <= 0):
        raise ValueError(f"{type(node).__name__} node has non-positive or non-finite tau")
    if np.any(tau < dt * (1 - _TAU_RTOL)):
        raise ValueError(
            f"{type(node).__name__} node has tau = {float(tau.min()):g} shorter than dt = {dt:g}: the Euler step would "
            "overshoot; import with a smaller dt"
        )
    k = np.minimum(dt / tau, 1.0)  # τ = dt up to float32 rounding: a = 0 exactly
    return 1.0 - k, k * r, k * vl


def _spec_matches(spec: LIFSpec, node, dt: float, tau: np.ndarray | None = None) -> bool:
    """True when ``node``'s parameters are those :func:`_neuron_node` writes for ``spec`` (and per-neuron
    ``tau``, when given) at this ``dt`` (not edited since)."""
    nir = _nir()
    sa, sb, svl = _euler_of_spec(spec, tau)
    if isinstance(node, nir.IF) != bool(np.all(np.asarray(sa) == 1.0)):
        return False
    a, b, c = _euler_of_node(node, dt)
    if np.shape(sa) and np.shape(a) != np.shape(sa):
        return False
    vr = 0.0 if node.v_reset is None else np.asarray(node.v_reset, dtype=np.float64)
    want_vr = spec.v_reset if spec.reset == "hard" else 0.0
    close = lambda x, y: bool(np.allclose(x, y, rtol=1e-5, atol=1e-6))  # noqa: E731
    return (
        close(a, sa)
        and close(b, sb)
        and close(c, (1.0 - sa) * svl)
        and close(np.asarray(node.v_threshold, dtype=np.float64), spec.v_th)
        and close(vr, want_vr)
    )


# ============================================================================ export
@dataclass(frozen=True)
class Source:
    """What feeds the next node: the NIR nodes whose outputs are **summed** (NIR adds all edges into a
    node), and the per-step shape of that sum (no time, no batch axis)."""

    names: tuple[str, ...]
    shape: tuple[int, ...]


Exporter = Callable[["NIRBuilder", nn.Module, Source, str], Source]
_EXPORTERS: dict[type, Exporter] = {}


def register_nir_exporter(cls: type) -> Callable[[Exporter], Exporter]:
    """Decorator: ``fn(builder, module, source, name) -> Source`` exports modules of type ``cls``.

    Use it for a module with a custom ``forward``: emit its children with ``builder.emit(child, src,
    f"{name}.child")`` and join branches with ``builder.sum(a, b)``. Example (a residual block)::

        @register_nir_exporter(MyBlock)
        def _(builder, block, src, name):
            h = builder.emit(block.body, src, f"{name}.body")
            return builder.emit(block.act, builder.sum(h, src), f"{name}.act")
    """

    def deco(fn: Exporter) -> Exporter:
        _EXPORTERS[cls] = fn
        return fn

    return deco


class NIRBuilder:
    """Collects NIR nodes and edges while :func:`to_nir` walks a network (see :func:`register_nir_exporter`).

    Parameters
    ----------
    dt : float
        Step length used to turn the discrete layers into NIR's continuous-time nodes.

    Attributes
    ----------
    lead : int
        Number of leading axes in front of one sample's axes that the module being exported sees: 2
        (``[T, B, ...]``) for a layer called directly in a multi-step ``nn.Sequential``, 1 (``[T·B, ...]`` or
        ``[B, ...]``) inside :class:`~spikeforge.nn.SeqToANN` and in the per-sample parts of the model
        exporters (see :meth:`per_sample`). Layers whose meaning depends on axis numbers (``nn.Flatten``)
        read it.
    """

    def __init__(self, dt: float) -> None:
        self.dt = _check_dt(dt)
        self.lead = 2
        self.nodes: dict[str, object] = {}
        self.edges: list[tuple[str, str]] = []
        self.metadata: dict[str, object] = {}
        #: ``id(module) -> node name`` of every emitted module that became one node (for plasticity metadata)
        self.node_of: dict[int, str] = {}

    def add(self, name: str, node: object, src: Source, shape: tuple[int, ...]) -> Source:
        """Add ``node`` fed by ``src``; returns the node as a source of per-step ``shape``."""
        base = name or type(node).__name__.lower()
        name, i = base, 1
        while name in self.nodes:
            i += 1
            name = f"{base}_{i}"
        self.nodes[name] = node
        self.edges += [(s, name) for s in src.names]
        return Source((name,), tuple(int(d) for d in shape))

    def sum(self, *sources: Source) -> Source:
        """The elementwise sum of several sources (a residual connection); shapes must agree."""
        shapes = {s.shape for s in sources}
        if len(shapes) != 1:
            raise ValueError(f"cannot add sources of different per-step shapes {sorted(shapes)}")
        names = tuple(n for s in sources for n in s.names)
        if len(set(names)) != len(names):
            raise ValueError("a sum that uses the same node twice (x + x) has no NIR form; scale the branch instead")
        return Source(names, sources[0].shape)

    @contextmanager
    def per_sample(self) -> Iterator[None]:
        """Within the block, modules see one leading axis (``[T·B, ...]`` or ``[B, ...]``): use it in an
        exporter for a model whose stateless layers run on folded or per-sample tensors."""
        old, self.lead = self.lead, 1
        try:
            yield
        finally:
            self.lead = old

    def emit(self, module: nn.Module, src: Source, name: str) -> Source:
        """Export ``module`` fed by ``src``; returns what it outputs."""
        for cls in type(module).__mro__:
            if cls in _EXPORTERS:
                n_before = len(self.nodes)
                out = _EXPORTERS[cls](self, module, src, name)
                if len(self.nodes) == n_before + 1 and len(out.names) == 1 and out.names[0] in self.nodes:
                    self.node_of[id(module)] = out.names[0]
                return out
        fwd = type(module).forward
        if isinstance(module, nn.Sequential) and fwd in (nn.Sequential.forward, SeqToANN.forward):
            with self.per_sample() if fwd is SeqToANN.forward else _nullcontext():
                for key, child in module.named_children():
                    src = self.emit(child, src, f"{name}.{key}" if name else key)
            return src
        raise TypeError(
            f"no NIR export for {type(module).__name__} at {name or '<root>'!r}. Supported: nn.Sequential trees of "
            "Conv1d/Conv2d, Linear, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dropout, SequenceDropout, Identity, LIF/IF, PLIF (one τ per "
            "layer or per neuron/channel), CubaLIF, RecurrentLIF, SpikingActivation, MeanOverTime; ConvSNN, "
            "SpikingResNet19, ConvertedSNN. Register others with "
            "spikeforge.interop.register_nir_exporter"
        )


@contextmanager
def _nullcontext() -> Iterator[None]:
    yield


def _probe(module: nn.Module, shape: tuple[int, ...], lead: int = 1) -> tuple[int, ...]:
    """Per-step output shape of a stateless module for per-step input ``shape`` behind ``lead`` axes."""
    p = next(iter(module.parameters()), None)
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    device = p.device if p is not None else torch.device("cpu")
    with torch.no_grad():
        return tuple(module(torch.zeros(*([1] * lead), *shape, dtype=dtype, device=device)).shape[lead:])


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).numpy().copy()


def _pair(v) -> np.ndarray:
    return np.array(v if isinstance(v, (tuple, list)) else (v, v), dtype=np.int64)


@register_nir_exporter(nn.Linear)
def _export_linear(b: NIRBuilder, m: nn.Linear, src: Source, name: str) -> Source:
    nir = _nir()
    if src.shape[-1] != m.in_features:
        raise ValueError(f"{name}: Linear expects {m.in_features} input features; the graph gives shape {src.shape}")
    node = nir.Linear(weight=_np(m.weight)) if m.bias is None else nir.Affine(weight=_np(m.weight), bias=_np(m.bias))
    return b.add(name, node, src, _probe(m, src.shape))


@register_nir_exporter(nn.Conv2d)
@register_nir_exporter(nn.Conv1d)
def _export_conv(b: NIRBuilder, m: nn.Conv1d | nn.Conv2d, src: Source, name: str) -> Source:
    nir = _nir()
    if m.padding_mode != "zeros" or isinstance(m.padding, str):
        raise ValueError(f"{name}: only numeric zero padding is exported (got {m.padding!r}, {m.padding_mode!r})")
    # nir.Conv1d takes ints, nir.Conv2d pairs
    one_d = isinstance(m, nn.Conv1d)
    want = "(C, L)" if one_d else "(C, H, W)"
    if len(src.shape) != (2 if one_d else 3) or src.shape[0] != m.in_channels:
        raise ValueError(f"{name}: {type(m).__name__} takes one time step of one sample {want} with C = "
                         f"{m.in_channels}; the graph gives shape {src.shape} (input_shape has no batch or time axis, "
                         "e.g. (1, 28, 28))")
    fmt = (lambda v: int(v[0])) if one_d else (lambda v: tuple(int(d) for d in v))  # noqa: E731
    bias = _np(m.bias) if m.bias is not None else np.zeros(m.out_channels, dtype=np.float32)
    node = (nir.Conv1d if one_d else nir.Conv2d)(
        input_shape=fmt(src.shape[1:]),
        weight=_np(m.weight),
        stride=fmt(m.stride),
        padding=fmt(m.padding),
        dilation=fmt(m.dilation),
        groups=m.groups,
        bias=bias,
    )
    if m.groups != 1:
        # nir 1.0.8 infers a conv's input channels as weight.shape[1] = C_in / groups: give the grouped
        # (depthwise) conv its true input type so the graph's type check passes
        node.input_type = {"input": np.array(src.shape, dtype=np.int64)}
    return b.add(name, node, src, _probe(m, src.shape))


@register_nir_exporter(nn.AvgPool2d)
def _export_avgpool(b: NIRBuilder, m: nn.AvgPool2d, src: Source, name: str) -> Source:
    nir = _nir()
    if m.ceil_mode or m.divisor_override is not None or (not m.count_include_pad and np.any(_pair(m.padding))):
        raise ValueError(f"{name}: AvgPool2d with ceil_mode, divisor_override or count_include_pad=False has no NIR form")
    stride = m.stride if m.stride is not None else m.kernel_size
    node = nir.AvgPool2d(kernel_size=_pair(m.kernel_size), stride=_pair(stride), padding=_pair(m.padding))
    return b.add(name, node, src, _probe(m, src.shape))


@register_nir_exporter(nn.AdaptiveAvgPool2d)
def _export_adaptive_avgpool(b: NIRBuilder, m: nn.AdaptiveAvgPool2d, src: Source, name: str) -> Source:
    nir = _nir()
    H, W = src.shape[-2:]
    size = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size, m.output_size)
    oh, ow = (H if size[0] is None else int(size[0])), (W if size[1] is None else int(size[1]))
    if H % oh or W % ow:
        raise ValueError(f"{name}: AdaptiveAvgPool2d({m.output_size}) on {H}x{W} is not a plain average pool")
    k = np.array((H // oh, W // ow), dtype=np.int64)
    node = nir.AvgPool2d(kernel_size=k, stride=k.copy(), padding=np.zeros(2, dtype=np.int64))
    return b.add(name, node, src, _probe(m, src.shape))


@register_nir_exporter(nn.Flatten)
def _export_flatten(b: NIRBuilder, m: nn.Flatten, src: Source, name: str) -> Source:
    nir = _nir()
    lead = b.lead  # axes in front of the sample: [T, B] in a multi-step Sequential, [T·B] inside SeqToANN
    nd = len(src.shape) + lead
    start = m.start_dim if m.start_dim >= 0 else m.start_dim + nd
    end = m.end_dim if m.end_dim >= 0 else m.end_dim + nd
    if start < lead:
        where = "time and batch axes [T, B, ...]" if lead == 2 else "batch axis"
        raise ValueError(
            f"{name}: Flatten(start_dim={m.start_dim}) here folds the {where} and has no per-step meaning "
            f"(this layer sees {lead} leading axes; use start_dim={lead} or wrap it in SeqToANN with start_dim=1)"
        )
    node = nir.Flatten(input_type={"input": np.array(src.shape)}, start_dim=start - lead, end_dim=end - lead)
    return b.add(name, node, src, _probe(m, src.shape, lead))


@register_nir_exporter(nn.Identity)
@register_nir_exporter(nn.Dropout)
@register_nir_exporter(SequenceDropout)
def _export_identity(b: NIRBuilder, m: nn.Module, src: Source, name: str) -> Source:
    return src


@register_nir_exporter(MeanOverTime)
def _export_mean(b: NIRBuilder, m: nn.Module, src: Source, name: str) -> Source:
    b.metadata[_READOUT_KEY] = "mean_over_time"
    return src


@register_nir_exporter(nn.modules.batchnorm._BatchNorm)
def _export_bn(b: NIRBuilder, m: nn.Module, src: Source, name: str) -> Source:
    raise TypeError(
        f"{name}: {type(m).__name__} could not be folded (it must follow a Conv/Linear inside an nn.Sequential); "
        "NIR has no BatchNorm node"
    )


@register_nir_exporter(nn.ReLU)
@register_nir_exporter(nn.MaxPool2d)
def _export_unsupported(b: NIRBuilder, m: nn.Module, src: Source, name: str) -> Source:
    hint = (
        "convert the ANN first (spikeforge.conversion.convert)"
        if isinstance(m, nn.ReLU)
        else "use average pooling (e.g. ConvSNN(pool='avg'))"
    )
    raise TypeError(f"{name}: NIR has no {type(m).__name__} node; {hint}")


@register_nir_exporter(ALIF)
def _refuse_alif(b: NIRBuilder, m: ALIF, src: Source, name: str) -> Source:
    raise TypeError(f"{name}: NIR has no adaptive-threshold neuron node (ALIF's threshold v_th + beta*a "
                    "moves with its spike history; NIR's LIF/IF/CubaLIF nodes have a fixed threshold); export a "
                    "network with LIF neurons, or register your own exporter with register_nir_exporter")


@register_nir_exporter(Izhikevich)
def _refuse_izhikevich(b: NIRBuilder, m: Izhikevich, src: Source, name: str) -> Source:
    raise TypeError(f"{name}: NIR has no Izhikevich neuron node (its quadratic membrane 0.04*v^2 + 5*v + 140 - u "
                    "and recovery variable u have no counterpart in NIR's linear LIF/IF/CubaLIF nodes); export a "
                    "network with LIF neurons, or register your own exporter with register_nir_exporter")


@register_nir_exporter(LIF)
def _export_lif(b: NIRBuilder, m: LIF, src: Source, name: str) -> Source:
    return b.add(name, _neuron_node(m.spec, src.shape, b.dt), src, src.shape)


@register_nir_exporter(CubaLIF)
def _export_cuba(b: NIRBuilder, m: CubaLIF, src: Source, name: str) -> Source:
    """``I ← α·I + x`` is NIR's synapse ``τ_syn·dI/dt = −I + w_in·x`` at ``τ_syn = dt/(1 − α)``,
    ``w_in = 1/(1 − α)``; the membrane is written as for :class:`LIF`."""
    nir = _nir()
    if _euler_of_spec(m.spec)[0] >= 1.0:
        raise TypeError(f"{name}: a CubaLIF membrane without leak has no NIR CubaLIF form (tau_mem would be infinite)")
    mem = _neuron_node(m.spec, src.shape, b.dt)
    full = lambda v: np.full(src.shape, v, dtype=np.float32)  # noqa: E731
    k = 1.0 - m.alpha
    node = nir.CubaLIF(tau_syn=full(b.dt / k), tau_mem=mem.tau, r=mem.r, v_leak=mem.v_leak,
                       v_threshold=mem.v_threshold, v_reset=mem.v_reset, w_in=full(1.0 / k),
                       metadata={**mem.metadata, _CUBA_ALPHA_KEY: m.alpha})
    return b.add(name, node, src, src.shape)


@register_nir_exporter(PLIF)
def _export_plif(b: NIRBuilder, m: PLIF, src: Source, name: str) -> Source:
    """A PLIF exports as the LIF of its learned τ (NIR has no learnable parameters).

    One τ for the layer: the node of ``spec`` with that τ, reimported as :class:`LIF`. One τ per neuron or
    channel (``w`` with several elements): ``τ = 1 + exp(−w)`` broadcast to the population's per-step shape
    (as ``w`` broadcasts against one step ``[B, ...]``, e.g. ``[C, 1, 1]`` against ``[B, C, H, W]``) gives
    per-neuron ``tau`` (and ``r`` without ``decay_input``) arrays; ``w`` itself goes into the node metadata
    (``"spikeforge.plif_w"``) so that :func:`from_nir` restores the :class:`PLIF` exactly while the node is
    unedited."""
    if m.w.numel() == 1:
        spec = dataclasses.replace(m.spec, tau=float(m.tau))
        return b.add(name, _neuron_node(spec, src.shape, b.dt), src, src.shape)
    step = (1, *src.shape)
    try:
        fits = tuple(torch.broadcast_shapes(tuple(m.w.shape), step)) == step
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"{name}: PLIF w of shape {tuple(m.w.shape)} does not broadcast to one time step "
                         f"[B, {', '.join(map(str, src.shape))}] of its input")
    w = m.w.detach().to("cpu", torch.float64).numpy()
    tau = np.broadcast_to(1.0 + np.exp(-w), step)[0]  # plif_tau in float64, one per neuron
    if not np.all(1.0 - 1.0 / tau < 1.0):  # also refuses NaN
        raise ValueError(f"{name}: PLIF has a τ too long for a NIR LIF node (w = {float(np.nanmin(w)):g}: 1 − 1/τ "
                         "rounds to 1, the node's tau would be infinite)")
    node = _neuron_node(m.spec, src.shape, b.dt, tau=tau)
    node.metadata[_PLIF_W_KEY] = _np(m.w)
    return b.add(name, node, src, src.shape)


@register_nir_exporter(RecurrentLIF)
def _export_recurrent(b: NIRBuilder, m: RecurrentLIF, src: Source, name: str) -> Source:
    """A :class:`~spikeforge.nn.RecurrentLIF` exports as snnTorch exports ``RLeaky``: the input projection
    (``Affine`` / ``Linear`` node ``"<name>.linear"``), then a nested ``NIRGraph`` ``"<name>"`` with nodes
    ``input``, ``lif``, ``w_rec``, ``output`` and edges ``input → lif``, ``lif → w_rec``, ``w_rec → lif``,
    ``lif → output``. ``w_rec`` is the recurrent matrix (``Affine`` with the recurrent bias, or ``Linear``)
    for ``recurrent="all_to_all"`` and ``Linear(diag(r))`` for ``"one_to_one"`` (the form snnTorch reads);
    the subgraph's metadata names the mode (``"spikeforge.recurrent"``). The loop is read with one step of
    delay: the spikes of step ``t − 1`` feed the current of step ``t``, as in the layer."""
    nir = _nir()
    if len(src.shape) != 1:
        raise ValueError(f"{name}: RecurrentLIF takes [T, B, features] input; the graph gives per-step shape {src.shape}")
    p = f"{name}." if name else ""
    h = b.emit(m.linear, src, p + "linear")
    n = m.linear.out_features
    if m.recurrent_linear is not None:
        rl = m.recurrent_linear
        w_rec = nir.Linear(weight=_np(rl.weight)) if rl.bias is None else nir.Affine(weight=_np(rl.weight), bias=_np(rl.bias))
    else:
        w_rec = nir.Linear(weight=np.diag(_np(m.recurrent_weight)))
    shape = np.array([n], dtype=np.int64)
    sub = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": shape}),
            "lif": _neuron_node(m.spec, (n,), b.dt),
            "w_rec": w_rec,
            "output": nir.Output(output_type={"output": shape.copy()}),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        metadata={_RECURRENT_KEY: m.recurrent},
    )
    return b.add(name or "recurrent", sub, h, (n,))


def _register_model_exporters() -> None:
    from ..conversion.snn import ConvertedSNN, SpikingActivation
    from ..nn.models import ConvSNN, SpikingBasicBlock, SpikingResNet19

    @register_nir_exporter(SpikingActivation)
    def _export_spiking_activation(b: NIRBuilder, m: SpikingActivation, src: Source, name: str) -> Source:
        nir = _nir()
        lam = m.scale.detach().to("cpu", torch.float64)
        lam = lam.reshape(-1, *([1] * (len(src.shape) - 1))) if lam.dim() == 1 else lam
        lam_full = np.broadcast_to(lam.numpy(), src.shape).astype(np.float32)
        # 1/λ in float32 is not exact (x = λ would give 0.99999994 and miss a spike): keep λ for from_nir
        in_scale = nir.Scale(scale=(1.0 / lam_full).astype(np.float32), metadata={_DIVIDE_KEY: lam_full.copy()})
        h = b.add(f"{name}.in_scale", in_scale, src, src.shape)
        node = _neuron_node(m.neuron.spec, src.shape, b.dt, scale_note=" (converted network)")
        if m.v0 != 0.0:
            warnings.warn(
                f"{name}: NIR has no initial membrane; v0 = {m.v0:g} (threshold units) is kept in metadata only",
                UserWarning,
                stacklevel=3,
            )
            node.metadata[_V0_KEY] = m.v0
        h = b.add(f"{name}.if", node, h, src.shape)
        return b.add(f"{name}.out_scale", nir.Scale(scale=lam_full.copy()), h, src.shape)

    @register_nir_exporter(ConvertedSNN)
    def _export_converted(b: NIRBuilder, m: ConvertedSNN, src: Source, name: str) -> Source:
        b.metadata[_READOUT_KEY] = "mean_over_time"
        with b.per_sample():  # ConvertedSNN runs its stateless layers on [T·B, ...]
            return b.emit(m.net, src, name)

    @register_nir_exporter(ConvSNN)
    def _export_convsnn(b: NIRBuilder, m: ConvSNN, src: Source, name: str) -> Source:
        with b.per_sample():
            return _export_convsnn_body(b, m, src, name)

    def _export_convsnn_body(b: NIRBuilder, m: ConvSNN, src: Source, name: str) -> Source:
        p = (name + ".") if name else ""
        h = b.emit(m.stem_act, b.emit(m.stem, src, p + "stem"), p + "stem_act")
        for i, stage in enumerate(m.stages):
            for key in ("pool", "conv", "act"):
                h = b.emit(stage[key], h, f"{p}stages.{i}.{key}")
        h = b.emit(m.last_pool, h, p + "last_pool")
        if m.hidden is not None:
            h = b.emit(m.hidden["act"], b.emit(m.hidden["fc"], h, p + "hidden.fc"), p + "hidden.act")
        b.metadata[_READOUT_KEY] = "mean_over_time"
        return b.emit(m.readout, h, p + "readout")

    @register_nir_exporter(SpikingBasicBlock)
    def _export_block(b: NIRBuilder, m: SpikingBasicBlock, src: Source, name: str) -> Source:
        h = b.emit(m.act_a, b.emit(m.conv_a, src, f"{name}.conv_a"), f"{name}.act_a")
        h = b.emit(m.conv_b, h, f"{name}.conv_b")
        sc = b.emit(m.shortcut, src, f"{name}.shortcut")
        return b.emit(m.act_out, b.sum(h, sc), f"{name}.act_out")

    @register_nir_exporter(SpikingResNet19)
    def _export_resnet(b: NIRBuilder, m: SpikingResNet19, src: Source, name: str) -> Source:
        with b.per_sample():
            return _export_resnet_body(b, m, src, name)

    def _export_resnet_body(b: NIRBuilder, m: SpikingResNet19, src: Source, name: str) -> Source:
        p = (name + ".") if name else ""
        h = b.emit(m.stem_act, b.emit(m.stem, src, p + "stem"), p + "stem_act")
        h = b.emit(m.blocks, h, p + "blocks")
        h = b.emit(m.fc_act, b.emit(m.fc, b.emit(m.pool, h, p + "pool"), p + "fc"), p + "fc_act")
        b.metadata[_READOUT_KEY] = "mean_over_time"
        return b.emit(m.readout, h, p + "readout")


_register_model_exporters()


def to_nir(model: nn.Module, input_shape: tuple[int, ...], *, dt: float = 1e-3,
           plasticity: STDPUpdater | Iterable[STDPUpdater] | None = None):
    """Export a spiking network to a ``nir.NIRGraph``.

    Parameters
    ----------
    model : nn.Module
        ``nn.Sequential`` tree of supported layers (see :class:`NIRBuilder.emit`), or a
        :class:`~spikeforge.nn.ConvSNN`, :class:`~spikeforge.nn.SpikingResNet19`,
        :class:`~spikeforge.conversion.ConvertedSNN`, or a module with a registered exporter. The model is
        not modified (BatchNorm is folded in a copy, with its evaluation statistics). A
        :class:`~spikeforge.nn.BatchFirst` wrapper is exported as the module it wraps (a NIR graph has no
        batch or time axis; the imported network takes time-first input, wrap it again if needed).
    input_shape : tuple of int
        Shape of one time step of one sample, e.g. ``(1, 28, 28)`` (no time, no batch axis).
    dt : float
        Step length in the graph's time unit (seconds by NIR convention; default 1 ms); see the module docs.
    plasticity : iterable of STDPUpdater, optional
        Learning rules to carry with the graph: each :class:`~spikeforge.plasticity.STDPUpdater`'s settings
        (:meth:`~spikeforge.plasticity.STDPUpdater.config`) go into the metadata of its layer's node
        (``"spikeforge.plasticity"``, JSON). NIR has no plasticity primitive, so other tools ignore it;
        :meth:`NIRNetwork.stdp_updaters` rebuilds the updaters on the imported layers.

    Returns
    -------
    nir.NIRGraph
        Nodes named after the model's modules, plus ``"input"`` and ``"output"``; write it with
        ``nir.write(path, graph)``. ``graph.metadata`` holds ``"spikeforge.dt"`` and, for networks that
        average the readout over time, ``"spikeforge.readout" = "mean_over_time"``.

    Raises
    ------
    ValueError
        An updater whose layer is not in ``model`` or did not become a node of its own.

    Warns
    -----
    UserWarning
        For parts NIR cannot express (soft reset, initial membrane): see the module docs.
    """
    nir = _nir()
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
    while isinstance(model, BatchFirst):  # layout only: the graph is the same
        model = model.module
    shape = tuple(int(d) for d in input_shape)
    if not shape or any(d < 1 for d in shape):
        raise ValueError(f"input_shape must be the positive per-step shape of one sample, e.g. (1, 28, 28); got {input_shape!r}")
    builder = NIRBuilder(dt)
    folded = fold_batchnorm(model)  # a copy in eval mode
    src = builder.add("input", nir.Input(input_type={"input": np.array(shape)}), Source((), shape), shape)
    out = builder.emit(folded, src, "")
    builder.add("output", nir.Output(output_type={"output": np.array(out.shape)}), out, out.shape)
    builder.metadata[_DT_KEY] = builder.dt
    _attach_plasticity(builder, model, folded, plasticity)
    return nir.NIRGraph(nodes=builder.nodes, edges=builder.edges, metadata=builder.metadata)


def _attach_plasticity(builder: NIRBuilder, model: nn.Module, folded: nn.Module,
                       plasticity: STDPUpdater | Iterable[STDPUpdater] | None) -> None:
    """Write each updater's config into the metadata of its layer's node (see :func:`to_nir`)."""
    if plasticity is None:
        return
    updaters = [plasticity] if isinstance(plasticity, STDPUpdater) else list(plasticity)
    names = {id(m): q for q, m in model.named_modules()}
    copies = dict(folded.named_modules())
    for up in updaters:
        if not isinstance(up, STDPUpdater):
            raise TypeError(f"plasticity must hold STDPUpdater objects; got {type(up).__name__}")
        qual = names.get(id(up.layer))
        if qual is None:
            raise ValueError(f"the layer of {up!r} is not a module of the exported model")
        node = builder.node_of.get(id(copies.get(qual)))
        if node is None:
            raise ValueError(f"the layer {qual or '<root>'!r} of {up!r} did not become one NIR node of its own, so its "
                             "rule has nowhere to go")
        meta = builder.nodes[node].metadata
        if _PLASTICITY_KEY in meta:
            raise ValueError(f"two updaters for the layer {qual!r} (node {node!r})")
        meta[_PLASTICITY_KEY] = json.dumps(up.config(), sort_keys=True)


# ============================================================================ import
class _ScaleShift(nn.Module):
    """``x ↦ b·x + c`` per neuron (``b``, ``c`` of one step's shape, broadcast over ``[T, B]``)."""

    def __init__(self, b: np.ndarray, c: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("b", torch.as_tensor(np.asarray(b, dtype=np.float32)))
        self.register_buffer("c", torch.as_tensor(np.asarray(c, dtype=np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, ...] -> [T, B, ...]``."""
        return x * self.b.to(x.dtype) + self.c.to(x.dtype)


class _Leaky(nn.Module):
    """Per-neuron Euler dynamics ``H = a·V + b·X + c`` over ``[T, B, ...]`` (pure torch, one step per loop).

    With ``v_th`` set it spikes (``H > v_th``, or ``>=``; arctan surrogate gradient, α = 2) and resets hard to
    ``v_reset`` (through the spike, as :class:`~spikeforge.nn.LIF`'s hard reset); without, it is a leaky
    integrator (NIR ``LI``) that outputs ``V``. ``V`` starts at ``v_init`` (the rest, ``v_leak``), or inside
    :func:`~spikeforge.nn.carry_state` where the previous call left it. Used for heterogeneous parameters and
    ``LI`` / ``CubaLIF`` nodes, and as the reference of the fused path.
    """

    _has_carried_state = True
    _SURROGATE = Surrogate("atan")

    def __init__(self, a, b, c, v_th=None, v_reset=None, spike_compare: str = ">", v_init=0.0) -> None:
        super().__init__()
        for k, v in (("a", a), ("b", b), ("c", c), ("v_init", v_init)):
            self.register_buffer(k, torch.as_tensor(np.asarray(v, dtype=np.float32)))
        self.spiking = v_th is not None
        if self.spiking:
            self.register_buffer("v_th", torch.as_tensor(np.asarray(v_th, dtype=np.float32)))
            self.register_buffer("v_reset", torch.as_tensor(np.asarray(0.0 if v_reset is None else v_reset, dtype=np.float32)))
        self.ge = spike_compare == ">="

    def step(self, x: torch.Tensor, v: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: ``(output [B, ...], v_next [B, ...])`` of input ``x`` ``[B, ...]`` from ``v`` (None: ``v_init``)."""
        if v is None:
            v = self.v_init.to(x.dtype).expand_as(x)
        h = self.a * v + (self.b * x + self.c)  # the fused path's operation order
        if not self.spiking:
            return h, h
        s = spike_fn(h - self.v_th.to(x.dtype), self._SURROGATE, self.ge)  # = Θ(h − v_th), with a gradient
        return s, s * self.v_reset.to(x.dtype) + (1 - s) * h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, ...]`` input → ``[T, B, ...]`` spikes (or potentials for a leaky integrator)."""
        v, out = _carried_in(self, None, x.shape[1]), []
        for t in range(x.shape[0]):
            y, v = self.step(x[t], v)
            out.append(y)
        _carry_out(self, v)
        return torch.stack(out)

    def reset_state(self) -> None:
        """Forget a state carried by :func:`~spikeforge.nn.carry_state`."""
        _forget_carried(self)


class _Scale(nn.Module):
    """``x · scale`` per neuron; or ``x / divide_by`` when the node stored the divisor (a converted network's
    ``x / λ``, which ``x · float32(1/λ)`` does not reproduce exactly)."""

    def __init__(self, scale: np.ndarray, divide_by: np.ndarray | None = None) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale, dtype=np.float32)))
        self.divide = divide_by is not None
        if self.divide:
            self.register_buffer("divide_by", torch.as_tensor(np.asarray(divide_by, dtype=np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, ...] -> [T, B, ...]``."""
        if self.divide:
            return x / self.divide_by.to(x.dtype)
        return x * self.scale.to(x.dtype)


class _Threshold(nn.Module):
    def __init__(self, threshold: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("threshold", torch.as_tensor(np.asarray(threshold, dtype=np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > self.threshold.to(x.dtype)).to(x.dtype)


def _uniform(x) -> float | None:
    arr = np.asarray(x, dtype=np.float64)
    return float(arr.flat[0]) if arr.size and np.all(arr == arr.flat[0]) else None


def _stored_spec(node, dt: float, name: str) -> LIFSpec | None:
    """The :class:`LIFSpec` that spikeforge stored on ``node`` while the node's parameters still match it at
    this ``dt``; None (with a warning when a spec was stored but the node was edited) otherwise."""
    meta = dict(getattr(node, "metadata", {}) or {})
    if _SPEC_KEY not in meta:
        return None
    spec = _spec_from_key(str(meta[_SPEC_KEY]))
    if _PLIF_W_KEY not in meta and _spec_matches(spec, node, dt):
        return spec
    if _PLIF_W_KEY in meta:
        tau = _plif_tau_of(meta[_PLIF_W_KEY], np.shape(node.tau) if hasattr(node, "tau") else ())
        if tau is not None and _spec_matches(spec, node, dt, tau=tau):
            return spec
    warnings.warn(f"{name}: parameters differ from the stored spikeforge spec (edited, or another dt); "
                  "using the NIR parameters", UserWarning, stacklevel=4)
    return None


def _plif_tau_of(w, shape: tuple[int, ...]) -> np.ndarray | None:
    """τ = 1 + exp(−w) (float64, as :func:`_export_plif` computes it) broadcast to one step of ``shape``;
    None when the stored ``w`` does not fit the node."""
    w = np.asarray(w, dtype=np.float64)
    step = (1, *shape)
    try:
        if np.broadcast_shapes(w.shape, step) != step:
            return None
    except ValueError:
        return None
    return np.broadcast_to(1.0 + np.exp(-w), step)[0]


def _neuron_parts(node, dt: float) -> tuple[np.ndarray, ...]:
    """``(a, b, c, v_reset, v_rest)`` per neuron of a NIR ``LIF`` / ``IF`` node (:func:`_euler_of_node`)."""
    a, b, c = _euler_of_node(node, dt)
    v_reset = np.zeros_like(a) if node.v_reset is None else np.asarray(node.v_reset, dtype=np.float64)
    v_rest = np.broadcast_to(np.asarray(getattr(node, "v_leak", 0.0), dtype=np.float64), a.shape)
    return a, b, c, v_reset, v_rest


def _leaky_of_node(node, dt: float, compare: str = ">") -> _Leaky:
    """The per-neuron Euler module of a NIR ``LIF`` / ``IF`` node (starts at rest, ``v_leak``)."""
    a, b, c, v_reset, v_rest = _neuron_parts(node, dt)
    return _Leaky(a, b, c, node.v_threshold, v_reset, compare, v_init=v_rest)


def _import_neuron(node, dt: float, name: str) -> nn.Module:
    """A NIR ``LIF`` / ``IF`` node → spikeforge layer(s) over ``[T, B, ...]``."""
    meta = dict(getattr(node, "metadata", {}) or {})
    spec = _stored_spec(node, dt, name)
    if spec is not None and _PLIF_W_KEY in meta:  # a PLIF with one τ per neuron / channel
        w = np.asarray(meta[_PLIF_W_KEY], dtype=np.float32)
        plif = PLIF.from_spec(spec, shape=w.shape)
        with torch.no_grad():
            plif.w.copy_(torch.as_tensor(w))
        return plif
    if spec is not None:
        v0 = float(meta.get(_V0_KEY, 0.0))  # threshold units
        return _InitialMembrane(LIF.from_spec(spec), v0 * spec.v_th) if v0 else LIF.from_spec(spec)
    compare = str(meta.get(_COMPARE_KEY, ">"))
    a, b, c, v_reset, v_rest = _neuron_parts(node, dt)
    ua, uth, uvr = _uniform(a), _uniform(node.v_threshold), _uniform(v_reset)
    if ua is None or uth is None or uvr is None:
        return _Leaky(a, b, c, node.v_threshold, v_reset, compare, v_init=v_rest)
    lif: nn.Module = LIF(decay=min(max(ua, 0.0), 1.0), decay_input=False, v_th=uth, v_reset=uvr, spike_compare=compare)
    if not np.all(v_rest == uvr):  # the layer would start at v_reset; NIR neurons start at rest (v_leak)
        lif = _InitialMembrane(lif, v_rest)
    if np.all(b == 1.0) and np.all(c == 0.0):
        return lif
    return nn.Sequential(_ScaleShift(b, c), lif)


class _RecurrentNeurons(nn.Module):
    """A recurrent NIR loop (``LIF`` / ``IF`` ⇄ ``Affine`` / ``Linear`` / ``Scale``) over ``[T, B, n]``: per step

        I_t = x_t + R(s_{t−1}),   s_t, V_t = neuron step of I_t from V_{t−1}

    (``s_0 = 0``; the loop's one step of delay) — :class:`~spikeforge.nn.RecurrentLIF` without its input
    projection, which the graph holds as the node before. The neuron is a :class:`~spikeforge.nn.LIF` with
    spikeforge's stored spec (the exact step of ``RecurrentLIF``), else the per-neuron Euler step of the
    node's parameters.

    Attributes
    ----------
    recurrent : str
        ``"all_to_all"`` or ``"one_to_one"``.
    recurrent_linear : nn.Linear or None
        ``R`` for ``"all_to_all"``.
    recurrent_weight : nn.Parameter or None
        ``r`` (one per neuron) for ``"one_to_one"``: ``R(s) = s ⊙ r``.
    neuron : LIF or _Leaky
    """

    def __init__(self, neuron: nn.Module, weight: np.ndarray, bias: np.ndarray | None, recurrent: str) -> None:
        super().__init__()
        self.neuron = neuron
        self.recurrent = recurrent
        self.recurrent_linear: nn.Linear | None = None
        self.recurrent_weight: nn.Parameter | None = None
        w = torch.as_tensor(np.asarray(weight, dtype=np.float32))
        if recurrent == "all_to_all":
            self.recurrent_linear = nn.Linear(w.shape[1], w.shape[0], bias=bias is not None)
            with torch.no_grad():
                self.recurrent_linear.weight.copy_(w)
                if bias is not None:
                    self.recurrent_linear.bias.copy_(torch.as_tensor(np.asarray(bias, dtype=np.float32)))
        else:
            self.recurrent_weight = nn.Parameter(w.clone())

    def feedback(self, s: torch.Tensor) -> torch.Tensor:
        """``R(s)`` of the spikes ``s`` ``[B, n]``."""
        if self.recurrent_linear is not None:
            return self.recurrent_linear(s)
        return s * self.recurrent_weight

    _has_carried_state = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, n]`` input current → ``[T, B, n]`` spikes (from rest, or inside
        :func:`~spikeforge.nn.carry_state` from the ``(v, s)`` the previous call left)."""
        carried = _carried_in(self, None, x.shape[1])
        s, v = (x.new_zeros(x.shape[1:]), None) if carried is None else (carried[1], carried[0])
        out = []
        for t in range(x.shape[0]):
            h = x[t] + self.feedback(s)
            if isinstance(self.neuron, LIF):
                s, v = lif_step(h, v, self.neuron.spec, backend=self.neuron.backend, check_nan=False)
            else:
                s, v = self.neuron.step(h, v)
            out.append(s)
        _carry_out(self, (v, s))
        return torch.stack(out)

    def reset_state(self) -> None:
        """Forget a state carried by :func:`~spikeforge.nn.carry_state`."""
        _forget_carried(self)


_LOOP_FORM = ("Input → LIF/IF → Output with a loop LIF/IF → Affine/Linear/Scale → LIF/IF (snnTorch's RLeaky; "
              "spikeforge's RecurrentLIF)")


def _import_recurrent(neuron, weight, dt: float, name: str, hint: str | None = None) -> _RecurrentNeurons:
    """The module of a recurrent loop: NIR neuron node ``neuron`` fed back through ``weight``. ``hint``: the
    stored ``"spikeforge.recurrent"`` mode (a diagonal ``Linear`` reads as ``one_to_one`` unless it says
    ``all_to_all``)."""
    nir = _nir()
    if isinstance(neuron, nir.CubaLIF):
        raise NotImplementedError(f"{name}: a recurrent CubaLIF loop (snnTorch's RSynaptic) has no spikeforge "
                                  "counterpart yet; recurrent LIF / IF loops are supported")
    if not isinstance(neuron, (nir.LIF, nir.IF)):
        raise NotImplementedError(f"{name}: a recurrent loop through a {type(neuron).__name__} node is not supported; "
                                  f"the recognised form is {_LOOP_FORM}")
    sizes = {int(np.size(getattr(neuron, k))) for k in ("tau", "r", "v_leak", "v_threshold", "v_reset")
             if getattr(neuron, k, None) is not None}
    bias = None
    if isinstance(weight, nir.Scale):
        w = np.asarray(weight.scale, dtype=np.float32)
        mode, n = "one_to_one", int(w.size)
    else:
        w = np.asarray(weight.weight, dtype=np.float32)
        if w.ndim != 2 or w.shape[0] != w.shape[1]:
            raise ValueError(f"{name}: the recurrent weight of a loop must be a square [n, n] matrix; got {w.shape}")
        n = int(w.shape[0])
        bias = np.asarray(weight.bias, dtype=np.float32) if isinstance(weight, nir.Affine) else None
        if bias is not None and bias.size not in (1, n):
            raise ValueError(f"{name}: the recurrent bias has {bias.size} values for {n} neurons")
        diagonal = bias is None and np.array_equal(w, np.diag(np.diag(w)))
        mode = "one_to_one" if diagonal and hint != "all_to_all" else "all_to_all"
        if mode == "one_to_one":
            w = np.diag(w).copy()
    if not sizes <= {1, n}:
        raise ValueError(f"{name}: the loop's neuron node has parameters of sizes {sorted(sizes)} but its recurrent "
                         f"weight is for {n} neurons")
    spec = _stored_spec(neuron, dt, name)
    if spec is not None:
        module: nn.Module = LIF.from_spec(spec)
    else:
        meta = dict(getattr(neuron, "metadata", {}) or {})
        module = _leaky_of_node(neuron, dt, str(meta.get(_COMPARE_KEY, ">")))
    return _RecurrentNeurons(module, w, bias, mode)


def _import_subgraph(graph, dt: float, name: str) -> nn.Module:
    """A nested ``NIRGraph`` node: the recurrent loop of :data:`_LOOP_FORM` (as snnTorch writes ``RLeaky`` and
    :func:`to_nir` writes :class:`~spikeforge.nn.RecurrentLIF`); other nested graphs raise."""
    nir = _nir()
    nodes = dict(graph.nodes)
    edges = {(str(a), str(b)) for a, b in graph.edges}
    kinds = {"in": [], "out": [], "neuron": [], "weight": []}
    for k, v in nodes.items():
        if isinstance(v, nir.Input):
            kinds["in"].append(k)
        elif isinstance(v, nir.Output):
            kinds["out"].append(k)
        elif isinstance(v, (nir.LIF, nir.IF, nir.CubaLIF)):
            kinds["neuron"].append(k)
        elif isinstance(v, (nir.Affine, nir.Linear, nir.Scale)):
            kinds["weight"].append(k)
    if len(nodes) == 4 and all(len(v) == 1 for v in kinds.values()) and len(graph.edges) == 4:
        i, o, lif, w = kinds["in"][0], kinds["out"][0], kinds["neuron"][0], kinds["weight"][0]
        if edges == {(i, lif), (lif, w), (w, lif), (lif, o)}:
            hint = (getattr(graph, "metadata", None) or {}).get(_RECURRENT_KEY)
            return _import_recurrent(nodes[lif], nodes[w], dt, name, None if hint is None else str(hint))
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        if a in preds and b in preds:
            preds[b].append(a)
    try:
        _topological(nodes, preds)
    except NotImplementedError:
        raise NotImplementedError(f"{name}: a nested graph with a cycle that is not a recurrent loop of the "
                                  f"recognised form ({_LOOP_FORM}); other recurrent graphs are not supported") from None
    raise NotImplementedError(f"{name}: nested NIR graphs other than a recurrent loop ({_LOOP_FORM}) are not "
                              "supported; flatten the graph first")


def _find_loops(nodes: dict, preds: dict[str, list[str]]) -> dict[str, str]:
    """Recurrent loops written flat in a graph: ``{neuron: weight}`` for each ``Affine`` / ``Linear`` /
    ``Scale`` node whose only input and only output is one ``LIF`` / ``IF`` node (at most one per neuron)."""
    nir = _nir()
    succ: dict[str, list[str]] = {k: [] for k in nodes}
    for b, ps in preds.items():
        for a in ps:
            succ[a].append(b)
    loops: dict[str, str] = {}
    for w, node in nodes.items():
        if not isinstance(node, (nir.Affine, nir.Linear, nir.Scale)) or len(preds[w]) != 1 or succ[w] != preds[w]:
            continue
        lif = preds[w][0]
        if lif != w and isinstance(nodes[lif], (nir.LIF, nir.IF)) and lif not in loops:
            loops[lif] = w
    return loops


class _InitialMembrane(nn.Module):
    """A LIF layer started from a given membrane ``v0`` (a number or one value per neuron of a step)."""

    def __init__(self, lif: LIF, v0) -> None:
        super().__init__()
        self.lif = lif
        self.lif.return_state = True
        self.register_buffer("v0", torch.as_tensor(np.asarray(v0, dtype=np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, ...] -> [T, B, ...]`` spikes (from ``v0``, or inside :func:`~spikeforge.nn.carry_state` from where
        the layer's previous call left its membrane)."""
        v = _carried_in(self.lif, None, x.shape[1])
        return self.lif(x, self.v0.to(x.dtype).expand_as(x[0]).contiguous() if v is None else v)[0]


def _import_node(node, dt: float, name: str) -> nn.Module:
    """A NIR node → a module over ``[T, B, ...]``."""
    nir = _nir()
    if isinstance(node, (nir.Input, nir.Output)):
        return nn.Identity()
    if isinstance(node, (nir.LIF, nir.IF)):
        return _import_neuron(node, dt, name)
    if isinstance(node, nir.LI):
        a, b, c = _euler_of_node(node, dt)
        return _Leaky(a, b, c, v_init=np.broadcast_to(np.asarray(node.v_leak, dtype=np.float64), a.shape))
    if isinstance(node, nir.CubaLIF):
        meta = dict(getattr(node, "metadata", {}) or {})
        if _CUBA_ALPHA_KEY in meta and _SPEC_KEY in meta:  # written by spikeforge: restore the layer if unedited
            alpha, spec = float(meta[_CUBA_ALPHA_KEY]), _spec_from_key(str(meta[_SPEC_KEY]))
            ks = np.minimum(dt / np.asarray(node.tau_syn, dtype=np.float64), 1.0)
            w_in = np.asarray(node.w_in, dtype=np.float64)
            mem = nir.LIF(tau=node.tau_mem, r=node.r, v_leak=node.v_leak, v_threshold=node.v_threshold,
                          v_reset=node.v_reset)
            # float32 node values: compare with float32 tolerances (α near 0 has no relative precision)
            if np.allclose(1.0 - ks, alpha, rtol=1e-5, atol=1e-6) and np.allclose(ks * w_in, 1.0, rtol=1e-5, atol=1e-6) \
                    and _spec_matches(spec, mem, dt):
                return CubaLIF.from_spec(alpha, spec)
            warnings.warn(f"{name}: parameters differ from the stored spikeforge CubaLIF (edited, or another dt); "
                          "using the NIR parameters", UserWarning, stacklevel=3)
        tau_syn = np.asarray(node.tau_syn, dtype=np.float64)
        if np.any(tau_syn < dt * (1 - _TAU_RTOL)):
            raise ValueError(f"{name}: tau_syn shorter than dt; import with a smaller dt")
        ks = np.minimum(dt / tau_syn, 1.0)
        syn = _Leaky(1.0 - ks, ks * np.asarray(node.w_in, dtype=np.float64), np.zeros_like(ks))
        mem = nir.LIF(tau=node.tau_mem, r=node.r, v_leak=node.v_leak, v_threshold=node.v_threshold, v_reset=node.v_reset)
        return nn.Sequential(syn, _import_neuron(mem, dt, name))
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = torch.as_tensor(np.asarray(node.weight, dtype=np.float32))
        bias = isinstance(node, nir.Affine)
        lin = nn.Linear(w.shape[1], w.shape[0], bias=bias)
        with torch.no_grad():
            lin.weight.copy_(w)
            if bias:
                lin.bias.copy_(torch.as_tensor(np.asarray(node.bias, dtype=np.float32)))
        return SeqToANN(lin)
    if isinstance(node, (nir.Conv2d, nir.Conv1d)):
        w = torch.as_tensor(np.asarray(node.weight, dtype=np.float32))
        cls = nn.Conv2d if isinstance(node, nir.Conv2d) else nn.Conv1d
        pad = node.padding
        if isinstance(pad, np.ndarray):
            pad = tuple(int(p) for p in pad.reshape(-1)) if pad.size > 1 else int(pad)
        conv = cls(
            w.shape[1] * int(node.groups), w.shape[0], tuple(w.shape[2:]),
            stride=_ints(node.stride), padding=pad, dilation=_ints(node.dilation), groups=int(node.groups),
        )
        with torch.no_grad():
            conv.weight.copy_(w)
            conv.bias.copy_(torch.as_tensor(np.broadcast_to(np.asarray(node.bias, dtype=np.float32), (w.shape[0],)).copy()))
        return SeqToANN(conv)
    if isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
        k, s, p = _ints(node.kernel_size), _ints(node.stride), _ints(node.padding)
        pool = nn.AvgPool2d(k, s, p, divisor_override=1 if isinstance(node, nir.SumPool2d) else None)
        return SeqToANN(pool)
    if isinstance(node, nir.Flatten):
        start, end = int(node.start_dim), int(node.end_dim)  # per-sample axes; negative ones count from the end
        return SeqToANN(nn.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end))
    if isinstance(node, nir.Scale):
        div = (getattr(node, "metadata", None) or {}).get(_DIVIDE_KEY)
        scale = np.asarray(node.scale, dtype=np.float32)
        if div is not None:
            div = np.asarray(div, dtype=np.float32)
            # use the divisor only while the scale is still its reciprocal (not edited by another tool)
            if div.shape != scale.shape or not np.allclose(scale * div, 1.0, rtol=1e-5, atol=0):
                div = None
        return _Scale(scale, div)
    if isinstance(node, nir.Threshold):
        return _Threshold(node.threshold)
    if isinstance(node, nir.NIRGraph):
        return _import_subgraph(node, dt, name)
    raise NotImplementedError(f"{name}: NIR node type {type(node).__name__} has no spikeforge counterpart yet")


def _ints(v):
    arr = np.asarray(v).reshape(-1)
    return tuple(int(x) for x in arr) if arr.size > 1 else int(arr[0])


class NIRNetwork(nn.Module):
    """A NIR graph as a runnable module over time-first sequences.

    Nodes run in topological order; a node's input is the **sum** of its predecessors' outputs (NIR's
    rule). Stateless nodes (conv, linear, pooling, flatten) see ``[T·B, ...]``; neurons run over the
    whole sequence with spikeforge's fused kernels (uniform parameters) or a per-step torch loop
    (per-neuron parameters, ``LI`` / ``CubaLIF``, recurrent loops). Each call starts from rest; inside
    :func:`~spikeforge.nn.carry_state` every neuron module (fused or per-step) continues from the previous call.

    Attributes
    ----------
    node_modules : nn.ModuleDict
        One module per NIR node (keys: node names with ``.`` replaced by ``__``, plus a ``_2``... suffix
        where two names would give the same key; :meth:`module` looks a node up by its NIR name).
    order : list of str
        Node names in execution order.
    loops : dict of str to str
        Recurrent loops written flat in the graph, ``{neuron node: weight node}`` (see :func:`from_nir`); each
        runs as one module at its neuron's node.
    readout : str or None
        ``"mean_over_time"`` when the exported network averaged its output over time.
    """

    def __init__(self, graph, dt: float) -> None:
        super().__init__()
        nir = _nir()
        self.dt = _check_dt(dt)
        nodes = dict(graph.nodes)
        self.preds: dict[str, list[str]] = {n: [] for n in nodes}
        for a, b in graph.edges:
            if a not in nodes or b not in nodes:
                raise ValueError(f"edge ({a!r}, {b!r}) names a node that is not in the graph")
            self.preds[b].append(a)
        # a recurrent loop written flat (neuron ⇄ weight) runs as one module at the neuron's node
        self.loops = _find_loops(nodes, self.preds)
        weights = {w: nodes.pop(w) for w in self.loops.values()}
        for lif, w in self.loops.items():
            self.preds[lif].remove(w)
            del self.preds[w]
        self._key = _module_keys(nodes)
        self.inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input)]
        self.outputs = [n for n, v in nodes.items() if isinstance(v, nir.Output)]
        if len(self.inputs) != 1:
            raise ValueError(f"the graph must have exactly one Input node; it has {len(self.inputs)}")
        if not self.outputs:
            raise ValueError("the graph has no Output node")
        self.order = _topological(nodes, self.preds)
        self.node_modules = nn.ModuleDict({
            self._key[n]: _import_recurrent(nodes[n], weights[self.loops[n]], self.dt, n) if n in self.loops
            else _import_node(nodes[n], self.dt, n)
            for n in self.order
        })
        in_type = nodes[self.inputs[0]].input_type
        self.input_shape = tuple(int(d) for d in np.asarray(next(iter(in_type.values()))).reshape(-1))
        meta = dict(getattr(graph, "metadata", {}) or {})
        self.readout = meta.get(_READOUT_KEY)
        #: ``{node name: STDPUpdater config}`` of the nodes that carry a learning rule (see :func:`to_nir`)
        self.plasticity: dict[str, dict] = {}
        for n in self.order:
            text = (getattr(nodes[n], "metadata", None) or {}).get(_PLASTICITY_KEY)
            if text is not None:
                self.plasticity[n] = json.loads(text.decode() if isinstance(text, bytes) else str(text))

    def stdp_updaters(self) -> dict[str, STDPUpdater]:
        """Fresh :class:`~spikeforge.plasticity.STDPUpdater` objects, one per node that carries a rule
        (:attr:`plasticity`), each bound to the imported ``nn.Linear`` / ``Conv1d`` / ``Conv2d`` of its node:
        ``{node name: updater}``. Empty when the graph carries none."""
        out = {}
        for n, cfg in self.plasticity.items():
            layer = next((m for m in self.module(n).modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))),
                         None)
            if layer is None:
                raise ValueError(f"node {n!r} carries a learning rule but has no linear / conv layer")
            out[n] = STDPUpdater.from_config(layer, cfg)
        return out

    def module(self, node_name: str) -> nn.Module:
        """The module that runs NIR node ``node_name`` (for the weight node of a flat recurrent loop: the
        loop's module, which runs at its neuron's node)."""
        node_name = next((lif for lif, w in self.loops.items() if w == node_name), node_name)
        if node_name not in self._key:
            raise KeyError(f"no node {node_name!r} in the graph; nodes: {self.order}")
        return self.node_modules[self._key[node_name]]

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        """``x [T, B, *input_shape]`` → output ``[T, B, ...]`` per step (a dict if the graph has several
        outputs). For a static image use ``spikeforge.nn.repeat_in_time(img, T)``; average over time when
        :attr:`readout` is ``"mean_over_time"``."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError("input must be a floating-point tensor [T, B, ...]")
        if tuple(x.shape[2:]) != self.input_shape:
            raise ValueError(f"input must be [T, B, {', '.join(map(str, self.input_shape))}]; got {tuple(x.shape)}")
        p = next(iter(self.parameters()), None)
        if p is not None and x.dtype != p.dtype:
            raise TypeError(f"input is {x.dtype} but the network's weights are {p.dtype}; pass {p.dtype} input or "
                            f"convert the network (e.g. net.to({x.dtype}))")
        vals: dict[str, torch.Tensor] = {}
        for n in self.order:
            if n == self.inputs[0]:
                h = x
            else:
                ps = self.preds[n]
                if not ps:
                    raise ValueError(f"node {n!r} has no input edge")
                h = vals[ps[0]]
                for p in ps[1:]:
                    h = h + vals[p]
            vals[n] = self.node_modules[self._key[n]](h)
        if len(self.outputs) == 1:
            return vals[self.outputs[0]]
        return {n: vals[n] for n in self.outputs}


def _module_keys(nodes: dict) -> dict[str, str]:
    """Node name → ``nn.ModuleDict`` key: ``.`` becomes ``__`` (keys may not contain dots); a name that
    would collide with an earlier key (``"a.b"`` and ``"a__b"``) gets a ``_2``, ``_3``... suffix."""
    keys: dict[str, str] = {}
    used: set[str] = set()
    for n in nodes:
        base = str(n).replace(".", "__") or "node"
        key, i = base, 1
        while key in used:
            i += 1
            key = f"{base}_{i}"
        keys[n] = key
        used.add(key)
    return keys


def _topological(nodes: dict, preds: dict[str, list[str]]) -> list[str]:
    """Kahn's order (ties in the graph's node order); raises on cycles (recurrent graphs other than the loops
    that :func:`_find_loops` and :func:`_import_subgraph` recognise)."""
    indeg = {n: len(set(preds[n])) for n in nodes}
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for b, ps in preds.items():
        for a in set(ps):
            succ[a].append(b)
    ready = [n for n in nodes if indeg[n] == 0]
    order: list[str] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
    if len(order) != len(nodes):
        cyc = sorted(n for n in nodes if indeg[n] > 0)
        raise NotImplementedError(
            f"the graph has a cycle (recurrent connections through {cyc[:4]}...) that is not a recurrent loop of the "
            f"recognised form ({_LOOP_FORM}); other recurrent NIR graphs are not supported"
        )
    return order


def from_nir(graph, *, dt: float | None = None) -> NIRNetwork:
    """Build a runnable :class:`NIRNetwork` from a ``nir.NIRGraph`` or a path to a ``.nir`` file.

    Parameters
    ----------
    graph : nir.NIRGraph or str or os.PathLike
    dt : float, optional
        Euler step (see the module docs). Default: the ``"spikeforge.dt"`` stored by :func:`to_nir`, else
        1e-3.

    Returns
    -------
    NIRNetwork
        ``[T, B, ...] -> [T, B, ...]``. Nodes written by :func:`to_nir` come back with their exact
        :class:`~spikeforge.nn.LIFSpec` (reset mode, comparison, surrogate) when their parameters are
        unchanged (a per-neuron :class:`~spikeforge.nn.PLIF` as that ``PLIF``).

    Recurrent loops
    ---------------
    A ``LIF`` / ``IF`` node fed back through an ``Affine`` / ``Linear`` / ``Scale`` node runs with one step of
    delay (``I_t = x_t + R(s_{t−1})``, as snnTorch's ``RLeaky`` and :class:`~spikeforge.nn.RecurrentLIF`),
    whether the loop is a nested ``NIRGraph`` node (``input → lif ⇄ w_rec``, ``lif → output``: what snnTorch
    and :func:`to_nir` write) or written flat (a weight node whose only input and output is the neuron). A
    diagonal ``Linear`` is read as one weight per neuron. Other cycles raise ``NotImplementedError``.
    """
    nir = _nir()
    if isinstance(graph, (str, os.PathLike)):
        # nir 1.0.8's type check misreads grouped convolutions (input channels = weight.shape[1]); shapes are
        # checked when the network runs
        graph = nir.read(graph, type_check=False)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph or a path to a .nir file; got {type(graph).__name__}")
    if dt is None:
        dt = float((getattr(graph, "metadata", {}) or {}).get(_DT_KEY, 1e-3))
    return NIRNetwork(graph, dt)

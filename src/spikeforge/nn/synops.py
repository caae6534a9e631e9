"""Synaptic operations (SynOps) and an energy estimate for spiking networks.

:func:`count_synops` runs one forward pass and counts, for every weight layer (``nn.Conv1d``,
``nn.Conv2d``, ``nn.Conv3d``, ``nn.Linear``), the operations a neuromorphic or sparse accelerator would
perform, the standard accounting of the SNN literature (SpikingJelly- and syops-counter-style energy
tables, Sinabs' ``SNNAnalyzer``):

* **AC (accumulate)** when the layer's input is *events* (spikes): each input event adds its weights to
  exactly the output neurons it is connected to, so the layer costs ``Σ_events fan-out`` additions.
  The fan-out is computed exactly, borders included: for a convolution, an event at input position
  ``p`` reaches the output positions whose receptive field contains ``p`` (padding, stride, dilation and
  padding mode respected), times ``C_out / groups`` output channels; for ``nn.Linear`` it is
  ``out_features``. Zero inputs cost nothing.
* **MAC (multiply-accumulate)** when the input is *analog*: the dense count of a conventional layer,
  ``output elements × fan-in`` (fan-in = ``C_in / groups · ∏ kernel`` or ``in_features``), zeros included.

Energy: ``E = N_AC · e_AC + N_MAC · e_MAC`` with the 45 nm CMOS figures of Horowitz (M. Horowitz,
"Computing's energy problem (and what we can do about it)", ISSCC 2014, pp. 10–14): a 32-bit float add
costs 0.9 pJ and a 32-bit float multiply 3.7 pJ, so ``e_AC = 0.9 pJ`` and ``e_MAC = 3.7 + 0.9 = 4.6 pJ``.
Like the papers that use them, this counts synaptic operations only: neuron updates (leak, threshold,
reset), pooling, normalisation (BatchNorm/tdBN fold into the preceding weights at inference), residual
additions and memory traffic are *not* counted, and only weight layers called as modules are seen (a
functional ``F.conv2d`` inside a custom ``forward`` is not).

Event or analog input (per call of a layer)
-------------------------------------------
1. **Spiking layers.** The outputs of :class:`spikeforge.nn.LIF` / :class:`~spikeforge.nn.IF` /
   :class:`~spikeforge.nn.ALIF` / :class:`~spikeforge.nn.Izhikevich`,
   :class:`spikeforge.conversion.SpikingActivation` (spikes · λ, i.e. values in ``{0, λ_c}``, per channel)
   and of any module type in ``spiking_types`` are events, and so is every view of them (the
   ``flatten(0, 1)`` / ``unflatten`` of :class:`~spikeforge.nn.SeqToANN`, ``nn.Flatten``, ``x_seq[t]``):
   the tensors are recognised by their storage, not by their values, as long as that storage is not
   modified in place afterwards (e.g. ``s.mul_(w)``: from then on the tensor is judged by rule 4).
2. **Event-preserving layers** pass events on: max pooling, zero padding, ``nn.Flatten`` /
   ``nn.Unflatten`` (also when they copy). Max pooling of graded events (rule 3) passes on the spikes
   of the input cell whose *value* wins, which need not be the cell with the most spikes.
3. **Average pooling of events** (``pooled_events=True``, the default) gives *graded* events: a pooled value
   is (spikes in its window) · c / divisor, and the layer after it is counted as receiving each of those
   spikes, one AC per spike and fan-out target (``Σ_cells n_cell · fan-out(cell)``). This is what hardware
   that implements average pooling as sum pooling with the 1/k² folded into the next weights does (the
   Sinabs count, ``input spikes × fan-out``), and it makes ConvSNN's conv–LIF–avgpool–conv stages count as
   AC layers. With ``pooled_events=False`` the strict rule applies: pooled values other than ``{0, c}``
   are analog and the next layer is counted as dense MACs (the syops-counter rule "binary or not").
4. **Any other input** is events if it is binary, ``{0, c}`` for one value ``c`` (e.g. Poisson/rate- or
   latency-coded input spikes, or spikes of a neuron type this module does not know), else analog
   (images under direct encoding, time-averaged spikes fed to a readout, BatchNorm outputs).
5. ``event_layers`` / ``analog_layers`` (qualified layer names) override the rule. A layer forced to
   events counts each nonzero input as one event (or each spike, for graded inputs).

Direct encoding. :class:`~spikeforge.nn.ConvSNN`, :class:`~spikeforge.nn.SpikingResNet19` and a
:class:`~spikeforge.conversion.ConvertedSNN` given ``repeat_in_time(x, T)`` run the layers before the first
neuron *once* on ``[B, ...]`` and repeat the result over time. A chip receives the analog input at every
step, and the standard accounting (e.g. Rathi & Roy, DIET-SNN, 2021) charges the first layer its dense
MACs at each of the T steps; ``static_input_per_step=True`` (default) does that for every weight layer that
ran once per sample on *static* data. Static are the model input (when T > 1 and it is ``[B, ...]`` or a
stride-0 ``repeat_in_time`` sequence) and, propagated through forward hooks, the outputs of every module
that contains no spiking layer and whose tensor inputs are all static, together with the views of these
tensors: so a conv → conv chain, BatchNorm, or a copying ``nn.Flatten`` (e.g. of a channels-last
tensor) before the first neuron are all charged T times. A tensor made by a functional operation outside
a module (other than a view, e.g. ``x * 2`` in a custom ``forward``), or modified in place, is not
static. ``False`` counts what the PyTorch model computes (once).

The readout of ConvSNN / ResNet-19 is ``M(mean_t o_t)``: a dense layer on spike *rates*, so it is always
counted as an analog (MAC) layer executed once per sample (source ``"rates"``: the spike counts are
integrated over T and multiplied by M once), even when the rates happen to take a single value.

Units: every count is **per sample** (divided by the batch size) and summed over the T time steps;
energies are in **picojoules per sample**.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .models import ConvSNN, SpikingResNet19
from .neurons import ALIF, LIF, PLIF, Izhikevich
from .recurrent import RecurrentLIF
from .stochastic import ProbabilisticNeuron, StochasticLIF
from .synaptic import CubaLIF

__all__ = ["E_AC_PJ", "E_MAC_PJ", "WEIGHT_LAYERS", "SynOpsReport", "SynOpsRow", "count_synops"]

#: Energy of one accumulate (32-bit float add, 45 nm; Horowitz, ISSCC 2014), picojoules.
E_AC_PJ = 0.9
#: Energy of one multiply-accumulate (32-bit float mult 3.7 pJ + add 0.9 pJ, 45 nm), picojoules.
E_MAC_PJ = 4.6

#: The layers whose synaptic operations are counted.
WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)

_AVG_POOLS = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_ADAPTIVE_AVG_POOLS = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
#: Modules whose output holds the events of their input (``counts_out = module(counts_in)`` exactly:
#: max commutes with the positive scale of graded events, padding adds zeros).
_EVENT_PRESERVING = (
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
    nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d,
    nn.Flatten, nn.Unflatten,
)  # fmt: skip


@dataclass(frozen=True)
class SynOpsRow:
    """One weight layer of a :class:`SynOpsReport`; all counts per sample, summed over time steps.

    Attributes
    ----------
    name : str
        Qualified module name (``model.named_modules()``).
    layer : str
        Short description, e.g. ``"Conv2d(4→8, k=3×3)"``.
    kind : {"ac", "mac", "ac+mac"}
        Events in (accumulates) or analog in (multiply-accumulates); ``"ac+mac"`` if calls differed.
    source : str
        Why: ``"spikes"`` (a spiking layer's output), ``"pooled spikes"`` (average-pooled events),
        ``"binary"`` (values ``{0, c}``), ``"analog"``, ``"rates"`` (a ConvSNN / ResNet-19 readout), or ``"forced ac"`` / ``"forced mac"``; calls that
        differ are joined with ``+``.
    steps : float
        Executions per sample: T for a per-step layer, 1 for a readout on time-averaged spikes.
    events : float
        Input events per sample (AC calls: nonzero inputs, or spikes behind graded pooled inputs) plus,
        for MAC calls, the nonzero analog inputs (informational).
    ac_ops, mac_ops : float
        Accumulates and multiply-accumulates per sample.
    ann_macs : float
        Dense MACs of the same layer in one forward pass of the equivalent ANN (one step, not × T).
    energy_pj : float
        ``ac_ops · e_AC + mac_ops · e_MAC``, picojoules per sample.
    """

    name: str
    layer: str
    kind: str
    source: str
    steps: float
    events: float
    ac_ops: float
    mac_ops: float
    ann_macs: float
    energy_pj: float

    @property
    def synops(self) -> float:
        """Synaptic operations per sample, ``ac_ops + mac_ops``."""
        return self.ac_ops + self.mac_ops


@dataclass(frozen=True)
class SynOpsReport:
    """Result of :func:`count_synops`: per-layer rows and totals, **per sample**.

    Attributes
    ----------
    rows : tuple of SynOpsRow
        Weight layers in the order they first ran.
    batch_size : int
        B, the samples the counts were divided by.
    T : int
        Time steps (1 for a non-temporal model).
    e_ac_pj, e_mac_pj : float
        Energy per accumulate / per multiply-accumulate used, picojoules.
    static_input_per_step : bool
        Whether layers run once on the static (direct-encoded) input were counted T times.
    pooled_events : bool
        Whether average-pooled events counted as events (see the module docstring).
    """

    rows: tuple[SynOpsRow, ...]
    batch_size: int
    T: int
    e_ac_pj: float = E_AC_PJ
    e_mac_pj: float = E_MAC_PJ
    static_input_per_step: bool = True
    pooled_events: bool = True

    @property
    def ac_ops(self) -> float:
        """Accumulates per sample (all layers, all steps)."""
        return sum(r.ac_ops for r in self.rows)

    @property
    def mac_ops(self) -> float:
        """Multiply-accumulates per sample (all layers, all steps)."""
        return sum(r.mac_ops for r in self.rows)

    @property
    def synops(self) -> float:
        """Synaptic operations per sample, ``ac_ops + mac_ops``."""
        return self.ac_ops + self.mac_ops

    @property
    def events(self) -> float:
        """Input events per sample summed over the layers (see :attr:`SynOpsRow.events`)."""
        return sum(r.events for r in self.rows)

    @property
    def energy_pj(self) -> float:
        """Estimated synaptic energy of the SNN, picojoules per sample."""
        return sum(r.energy_pj for r in self.rows)

    @property
    def ann_macs(self) -> float:
        """Dense MACs per sample of the same layers in one ANN forward pass (one step, not × T)."""
        return sum(r.ann_macs for r in self.rows)

    @property
    def ann_energy_pj(self) -> float:
        """``ann_macs · e_MAC``: the equivalent ANN's synaptic energy, picojoules per sample."""
        return self.ann_macs * self.e_mac_pj

    @property
    def energy_ratio(self) -> float:
        """SNN energy / ANN energy (< 1: the SNN is estimated cheaper); NaN if the ANN count is 0."""
        ann = self.ann_energy_pj
        return self.energy_pj / ann if ann > 0 else math.nan

    def totals(self) -> dict[str, float]:
        """The totals as a dict (per sample; energies in pJ)."""
        return {
            "events": self.events,
            "ac_ops": self.ac_ops,
            "mac_ops": self.mac_ops,
            "synops": self.synops,
            "energy_pj": self.energy_pj,
            "ann_macs": self.ann_macs,
            "ann_energy_pj": self.ann_energy_pj,
            "energy_ratio": self.energy_ratio,
        }

    def as_dict(self) -> dict:
        """Plain-Python form (JSON-serialisable): rows, totals and the settings."""
        rows = [{**asdict(r), "synops": r.synops} for r in self.rows]
        return {
            "rows": rows,
            "totals": self.totals(),
            "batch_size": self.batch_size,
            "T": self.T,
            "e_ac_pj": self.e_ac_pj,
            "e_mac_pj": self.e_mac_pj,
            "static_input_per_step": self.static_input_per_step,
            "pooled_events": self.pooled_events,
            "units": "counts per sample summed over the T steps (ann_macs: one ANN pass); energies in pJ per sample",
        }

    def to_markdown(self) -> str:
        """A Markdown table, one row per layer and a total row (counts per sample, energy in pJ)."""
        head = ("layer", "type", "kind", "input", "steps", "events", "SynOps", "ANN MACs", "energy pJ")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            cells = (r.name or "(model)", r.layer, r.kind, r.source, _fmt(r.steps), _fmt(r.events),
                     _fmt(r.synops), _fmt(r.ann_macs), _fmt(r.energy_pj))
            lines.append("| " + " | ".join(cells) + " |")
        total = ("**total**", "", "", "", "", _fmt(self.events), _fmt(self.synops), _fmt(self.ann_macs),
                 _fmt(self.energy_pj))
        lines.append("| " + " | ".join(total) + " |")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line: SynOps, energy, and the comparison with the equivalent ANN (per sample)."""
        ratio = self.energy_ratio
        return (
            f"per sample (T={self.T}): {_fmt(self.synops)} SynOps ({_fmt(self.ac_ops)} AC + "
            f"{_fmt(self.mac_ops)} MAC), {self.energy_pj / 1e3:.4g} nJ; equivalent ANN: "
            f"{_fmt(self.ann_macs)} MAC, {self.ann_energy_pj / 1e3:.4g} nJ; SNN/ANN energy {ratio:.3f}"
        )

    def __str__(self) -> str:
        return self.to_markdown() + "\n" + self.summary()

    def __repr__(self) -> str:
        return (
            f"SynOpsReport(layers={len(self.rows)}, T={self.T}, batch_size={self.batch_size}, "
            f"synops={self.synops:.6g}, ac_ops={self.ac_ops:.6g}, mac_ops={self.mac_ops:.6g}, "
            f"energy_pj={self.energy_pj:.6g}, ann_macs={self.ann_macs:.6g}, energy_ratio={self.energy_ratio:.4g})"
        )


def _fmt(v: float) -> str:
    """Compact number: 3 significant digits with k / M / G suffixes."""
    a = abs(v)
    for scale, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if a >= scale:
            return f"{v / scale:.3g}{suffix}"
    return f"{v:.3g}"


def _describe(m: nn.Module) -> str:
    if isinstance(m, nn.Linear):
        return f"Linear({m.in_features}→{m.out_features})"
    k = "×".join(str(s) for s in m.kernel_size)
    extra = "".join(
        f", {n}={v[0] if len(set(v)) == 1 else v}"
        for n, v, default in (("s", m.stride, 1), ("d", m.dilation, 1))
        if any(x != default for x in v)
    )
    if m.groups != 1:
        extra += f", g={m.groups}"
    return f"{type(m).__name__}({m.in_channels}→{m.out_channels}, k={k}{extra})"


def _storage_key(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def _version(t: torch.Tensor) -> int | None:
    """The in-place modification counter of ``t`` (shared with its views); None for inference tensors."""
    try:
        return t._version
    except RuntimeError:  # an inference tensor (torch.inference_mode()): no version counter
        return None


class _EventTracker:
    """Which tensors (by storage) hold events, and how many spikes each element stands for, and which hold
    static data (the direct-encoded input and what non-spiking modules computed from it).

    A tensor counts only while its storage has not been modified in place since it was recorded (its
    version counter, shared by all its views, is unchanged). Recorded tensors are kept alive for the
    duration of the pass so that no other tensor can reuse their memory (and be mistaken for them).
    """

    def __init__(self) -> None:
        self._store: dict[int, tuple[torch.Tensor, torch.Tensor | None, str, int | None]] = {}
        self._static: dict[int, tuple[torch.Tensor, int | None]] = {}

    def mark(self, t: torch.Tensor, counts: torch.Tensor | None, source: str) -> None:
        """Record ``t`` as events; ``counts`` (same shape) gives spikes per element for graded events."""
        if not isinstance(t, torch.Tensor) or t.numel() == 0:
            return
        buf = None
        if counts is not None:  # lay the counts out like t's storage, so that views of t can be mapped
            n = t.untyped_storage().nbytes() // t.element_size()
            buf = torch.zeros(n, dtype=torch.float64, device=t.device)
            buf.as_strided(t.size(), t.stride(), t.storage_offset()).copy_(counts)
        self._store[_storage_key(t)] = (t, buf, source, _version(t))

    def mark_static(self, t: torch.Tensor) -> None:
        """Record ``t`` (and so its views) as static: the same at every time step."""
        if isinstance(t, torch.Tensor) and t.numel():
            self._static[_storage_key(t)] = (t, _version(t))

    def is_static(self, x: torch.Tensor) -> bool:
        """Whether ``x`` is (a view of) a tensor recorded as static and not modified in place since."""
        hit = self._static.get(_storage_key(x)) if x.numel() else None
        return hit is not None and _version(hit[0]) == hit[1]

    def lookup(self, x: torch.Tensor) -> tuple[torch.Tensor | None, str]:
        """Spikes per element of ``x`` (float64, shape of ``x``) and the source, or ``(None, "analog")``."""
        hit = self._store.get(_storage_key(x)) if x.numel() else None
        if hit is not None and hit[0].dtype == x.dtype and _version(hit[0]) == hit[3]:
            _, buf, source, _ = hit
            if buf is None:
                return (x != 0).to(torch.float64), source
            return buf.as_strided(x.size(), x.stride(), x.storage_offset()).clone(), source
        if _is_binary(x):
            return (x != 0).to(torch.float64), "binary"
        return None, "analog"


def _is_binary(x: torch.Tensor) -> bool:
    """All nonzero entries equal one value ``c`` (an all-zero tensor counts as binary)."""
    nz = x[x != 0]
    return nz.numel() == 0 or bool((nz == nz[0]).all())


def _sum_pool(m: nn.Module, c: torch.Tensor) -> torch.Tensor:
    """Spikes per output element of the average pool ``m`` whose inputs carry ``c`` spikes each."""
    if isinstance(m, nn.AvgPool1d):
        (k,), (s,), (p,) = m.kernel_size, m.stride, m.padding
        return F.avg_pool2d(c.unsqueeze(-2), (1, k), (1, s), (0, p), m.ceil_mode, m.count_include_pad,
                            divisor_override=1).squeeze(-2)
    if isinstance(m, (nn.AvgPool2d, nn.AvgPool3d)):
        pool = F.avg_pool2d if isinstance(m, nn.AvgPool2d) else F.avg_pool3d
        return pool(c, m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, divisor_override=1)
    # adaptive: mean over each cell × cell size (cell i of n over length L spans floor(iL/n)..ceil((i+1)L/n))
    y = m.forward(c)  # not m(c): that would run this hook again
    nd = {nn.AdaptiveAvgPool1d: 1, nn.AdaptiveAvgPool2d: 2, nn.AdaptiveAvgPool3d: 3}[type(m)]
    area = torch.ones((), dtype=c.dtype, device=c.device)
    for d in range(nd):
        L, n = c.shape[c.dim() - nd + d], y.shape[y.dim() - nd + d]
        i = torch.arange(n, device=c.device)
        size = ((i + 1) * L + n - 1) // n - (i * L) // n
        area = area.unsqueeze(-1) * size.to(c.dtype)
    return (y * area).round()


#: (module type, functional form, spatial dims) of the max pools.
_MAX_POOLS = (
    (nn.MaxPool1d, F.max_pool1d, 1), (nn.MaxPool2d, F.max_pool2d, 2), (nn.MaxPool3d, F.max_pool3d, 3),
    (nn.AdaptiveMaxPool1d, F.adaptive_max_pool1d, 1), (nn.AdaptiveMaxPool2d, F.adaptive_max_pool2d, 2),
    (nn.AdaptiveMaxPool3d, F.adaptive_max_pool3d, 3),
)  # fmt: skip


def _max_pool_counts(m: nn.Module, x: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Spikes per output element of the max pool ``m`` on graded events ``x`` (``counts`` spikes each): the
    spikes of the input cell whose *value* wins, which need not hold the most spikes (e.g. average-pooled
    spikes with different divisors)."""
    fn, nd = next((fn, nd) for cls, fn, nd in _MAX_POOLS if isinstance(m, cls))
    if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        _, idx = fn(x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, True)  # indices
    else:
        _, idx = fn(x, m.output_size, return_indices=True)
    # indices are flat over the spatial dims of each (sample, channel) plane
    return counts.flatten(-nd).gather(-1, idx.flatten(-nd)).reshape(idx.shape)


def _conv_fanout_ops(m: nn.Module, counts: torch.Tensor) -> float:
    """Exact ``Σ_p counts[p] · fan-out(p)`` of a convolution: a spike at input position ``p`` reaches every
    output position whose receptive field contains ``p``, in ``C_out / groups`` output channels."""
    nd = len(m.kernel_size)
    c = counts if counts.dim() == nd + 2 else counts.unsqueeze(0)
    s = c.sum(1, keepdim=True)  # [N, 1, *spatial]: every channel has the same spatial fan-out
    padding = m.padding
    if m.padding_mode != "zeros":
        s = F.pad(s, m._reversed_padding_repeated_twice, mode=m.padding_mode)
        padding = 0
    ones = torch.ones(1, 1, *m.kernel_size, dtype=s.dtype, device=s.device)
    conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    y = conv(s, ones, None, m.stride, padding, m.dilation)
    return float(y.sum()) * (m.out_channels // m.groups)


@dataclass
class _Acc:
    layer: str
    samples: int = 0
    events: float = 0.0
    ac_ops: float = 0.0
    mac_ops: float = 0.0
    dense: float = 0.0
    static: bool = True
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def add_source(self, kind: str, source: str) -> None:
        if kind not in self.kinds:
            self.kinds += (kind,)
        if source not in self.sources:
            self.sources += (source,)


def _names(value: Iterable[str] | str | None, arg: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset([value])
    names = frozenset(value)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"{arg} must be layer names (str)")
    return names


def _layout(model: nn.Module, x: torch.Tensor, spiking: tuple[type[nn.Module], ...]) -> tuple[bool, int, int]:
    """(time_first, B, T) inferred from the model type and the input (see :func:`count_synops`)."""
    from ..conversion.snn import ConvertedSNN, SpikingActivation
    from .layers import BatchFirst

    if isinstance(model, BatchFirst):  # [B, T, ...] in, time-first inside
        if x.dim() < 2:
            raise ValueError(f"expected a batch-first input [B, T, ...] for BatchFirst; got shape {tuple(x.shape)}")
        return True, x.shape[0], x.shape[1]
    # the model itself or one inside it (e.g. wrapped in nn.Sequential): the first in model.modules()
    types = (ConvertedSNN, ConvSNN, SpikingResNet19)
    known = next((m for m in model.modules() if isinstance(m, types)), None)
    if isinstance(known, ConvertedSNN):
        time_first = True
    elif known is not None:
        time_first = x.dim() == 5
        model = known  # its T
    else:
        inner = {id(m.neuron) for m in model.modules() if isinstance(m, SpikingActivation)}
        time_first = any(
            getattr(m, "step_mode", None) == "m" and id(m) not in inner
            for m in model.modules()
            if isinstance(m, (LIF, PLIF, ALIF, Izhikevich, SpikingActivation, StochasticLIF, ProbabilisticNeuron,
                              *spiking))
        )
    if time_first:
        if x.dim() < 2:
            raise ValueError(f"expected a time-first input [T, B, ...]; got shape {tuple(x.shape)}")
        return True, x.shape[1], x.shape[0]
    t = getattr(model, "T", 1)
    return False, x.shape[0], t if isinstance(t, int) and t >= 1 else 1


def _neuron_state(model: nn.Module) -> list[tuple[nn.Module, str, object]]:
    """(module, attribute, value) of the state that spiking layers keep between calls (step mode)."""
    from ..conversion.snn import SpikingActivation

    state = []
    for m in model.modules():
        if isinstance(m, (LIF, PLIF)):
            state.append((m, "v", m.v))
        elif isinstance(m, ALIF):
            state += [(m, "v", m.v), (m, "a", m.a)]
        elif isinstance(m, Izhikevich):
            state += [(m, "v", m.v), (m, "u", m.u)]
        elif isinstance(m, SpikingActivation):
            state += [(m, "_v", m._v), (m, "spike_counts", m.spike_counts)]
    return state


@torch.no_grad()
def count_synops(
    model: nn.Module,
    x: torch.Tensor,
    *,
    e_ac_pj: float = E_AC_PJ,
    e_mac_pj: float = E_MAC_PJ,
    static_input_per_step: bool = True,
    pooled_events: bool = True,
    event_layers: Iterable[str] | str | None = None,
    analog_layers: Iterable[str] | str | None = None,
    spiking_types: tuple[type[nn.Module], ...] = (),
    batch_size: int | None = None,
    T: int | None = None,
) -> SynOpsReport:
    """Count synaptic operations (AC / MAC) and estimate the energy of one forward pass, per sample.

    The model runs once under ``torch.no_grad()`` in evaluation mode (each module's ``training`` flag is
    restored afterwards) with forward hooks on its ``nn.Conv1d/2d/3d`` and ``nn.Linear`` layers; see the
    module docstring for what is counted and how event and analog inputs are told apart. The spike tensors
    of the pass are kept until it ends (memory of one inference; use a small batch for large models).
    Single-step (``step_mode="s"``) LIF / IF and SpikingActivation layers start the pass from rest: their
    stored state (``LIF.v``, ``SpikingActivation._v`` and ``spike_counts``) is cleared for the pass and
    restored afterwards, so counting leaves the model as it was (the state of ``spiking_types`` modules is
    not touched). Under ``torch.inference_mode()`` tensors carry no version counter, so a spike tensor
    modified in place is not noticed there (rule 1 of the module docstring).

    Parameters
    ----------
    model : nn.Module
        E.g. :class:`~spikeforge.nn.ConvSNN`, :class:`~spikeforge.nn.SpikingResNet19`, a
        :class:`~spikeforge.conversion.ConvertedSNN` or any module of LIF layers and weight layers.
    x : Tensor
        The model's input: ``[B, ...]`` images (direct encoding) or a time-first ``[T, B, ...]`` sequence.
        Layout inference: a :class:`~spikeforge.nn.BatchFirst` model takes ``[B, T, ...]``; a ConvertedSNN
        takes ``[T, B, ...]``; ConvSNN / ResNet-19 take ``[T, B, C, H, W]``
        (5-d) or ``[B, C, H, W]`` with ``T = model.T``; a model that contains one of these (e.g. wrapped in
        ``nn.Sequential``) takes the layout of the first in ``model.modules()``; any other model is
        time-first if it contains a multi-step spiking layer (LIF, SpikingActivation, ``spiking_types``),
        else ``[B, ...]`` with ``T = model.T`` if it has an integer ``T`` attribute, else 1. An unbatched
        ``x`` that goes straight into the first weight layer to run (``[C, H, W]`` into a ``Conv2d``,
        ``[F]`` into a ``Linear``) is one sample (B = 1); other unbatched inputs (e.g. unbatched steps
        ``[T, C, H, W]`` of a step-mode ConvertedSNN) need ``batch_size=1``. ``batch_size`` / ``T``
        override the inference.
    e_ac_pj, e_mac_pj : float
        Energy per accumulate / multiply-accumulate, picojoules (default 0.9 / 4.6: 32-bit float, 45 nm,
        Horowitz ISSCC 2014).
    static_input_per_step : bool
        Count a layer that ran once per sample on static data (the direct-encoded input or what
        non-spiking modules computed from it; see the module docstring) at every one of the T steps
        (default; the usual accounting for the analog input layer). ``False``: count it once.
    pooled_events : bool
        Average-pooled events stay events, one AC per spike and target (default); ``False``: the strict
        rule, non-binary pooled values are analog (dense MACs).
    event_layers, analog_layers : iterable of str
        Qualified names of weight layers whose input is forced to events / analog.
    spiking_types : tuple of module types
        Extra neuron types whose outputs are spikes (e.g. a peer library's LIF node).
    batch_size, T : int, optional
        Override the inferred batch size B (the divisor of every count) and number of steps.

    Returns
    -------
    SynOpsReport
        Rows per weight layer and totals; counts are operations **per sample** summed over the T steps,
        ``ann_macs`` is one dense ANN pass per sample, energies are **pJ per sample**.

    Raises
    ------
    TypeError
        ``model`` is not an ``nn.Module`` or ``x`` is not a tensor.
    ValueError
        ``x`` is 0-dimensional or has no elements, no weight layer in the model (or none ran), an override
        names an unknown layer or both sets name the same one, a negative or non-finite energy, a
        ``batch_size`` or ``T`` that is not a positive int, a time-first input with fewer than 2 dims, or
        a batch size that does not divide a layer's samples.
    """
    from ..conversion.snn import SpikingActivation

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor (the model's input, [B, ...] or [T, B, ...]); got {type(x).__name__}")
    if x.dim() == 0 or x.numel() == 0:
        raise ValueError(f"x must have a batch dimension and elements; got shape {tuple(x.shape)}")
    for name, e in (("e_ac_pj", e_ac_pj), ("e_mac_pj", e_mac_pj)):
        if not (isinstance(e, (int, float)) and math.isfinite(e) and e >= 0):
            raise ValueError(f"{name} must be a finite number >= 0 (picojoules per operation); got {e!r}")
    spiking_types = tuple(spiking_types)
    weights = {n: m for n, m in model.named_modules() if isinstance(m, WEIGHT_LAYERS)}
    if not weights:
        raise ValueError(
            f"{type(model).__name__} has no weight layer to count (nn.Conv1d/2d/3d or nn.Linear modules)"
        )
    forced_ac, forced_mac = _names(event_layers, "event_layers"), _names(analog_layers, "analog_layers")
    unknown = sorted((forced_ac | forced_mac) - set(weights))
    if unknown:
        raise ValueError(f"unknown weight layer name(s) {unknown}; the weight layers are {sorted(weights)}")
    if forced_ac & forced_mac:
        raise ValueError(f"layer(s) {sorted(forced_ac & forced_mac)} are in both event_layers and analog_layers")

    # ConvSNN / ResNet-19 apply the readout to spike rates mean_t(o_t): analog, whatever values they take
    rates = {
        f"{n}.readout" if n else "readout"
        for n, m in model.named_modules()
        if isinstance(m, (ConvSNN, SpikingResNet19))
    }
    rates = (rates & set(weights)) - (forced_ac | forced_mac)
    time_first, B, steps = _layout(model, x, spiking_types)
    if batch_size is not None:
        B = batch_size
    if T is not None:
        steps = T
    for name, v in (("batch_size", B), ("T", steps)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int; got {v!r}")
    static_input = steps > 1 and (not time_first or (x.dim() >= 2 and x.stride(0) == 0))

    tracker = _EventTracker()
    if static_input:
        tracker.mark_static(x)
    acc: dict[str, _Acc] = {}
    neuron_types = (LIF, PLIF, ALIF, Izhikevich, CubaLIF, RecurrentLIF, SpikingActivation, StochasticLIF,
                    ProbabilisticNeuron, *spiking_types)
    # [whether the first weight layer to run read x itself, unbatched]
    unbatched_input: list[bool] = []

    def weight_hook(name: str):
        def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
            inp = args[0]
            counts, source = tracker.lookup(inp)
            if name in forced_ac:
                kind = "ac"
                if counts is None:
                    counts, source = (inp != 0).to(torch.float64), "forced ac"
            elif name in forced_mac:
                kind, source = "mac", "forced mac"
            elif name in rates:
                kind, source = "mac", "rates"
            else:
                kind = "ac" if counts is not None else "mac"
            if isinstance(m, nn.Linear):
                samples, fan_in = inp.numel() // max(m.in_features, 1), m.in_features
                unbatched = inp.dim() == 1
            else:
                unbatched = inp.dim() == len(m.kernel_size) + 1
                samples = 1 if unbatched else inp.shape[0]
                fan_in = m.in_channels // m.groups * math.prod(m.kernel_size)
            if not unbatched_input:
                unbatched_input.append(
                    unbatched and inp.shape == x.shape and _storage_key(inp) == _storage_key(x)
                )
            dense = float(out.numel()) * fan_in
            a = acc.setdefault(name, _Acc(_describe(m)))
            a.samples += samples
            a.dense += dense
            a.static = a.static and tracker.is_static(inp)
            a.add_source(kind, source)
            if kind == "ac":
                a.events += float(counts.sum())
                if isinstance(m, nn.Linear):
                    a.ac_ops += float(counts.sum()) * m.out_features
                else:
                    a.ac_ops += _conv_fanout_ops(m, counts)
            else:
                a.events += float((inp != 0).sum())
                a.mac_ops += dense

        return hook

    def spike_hook(m: nn.Module, args: tuple, out) -> None:
        tracker.mark(out[0] if isinstance(out, tuple) else out, None, "spikes")

    def pass_hook(m: nn.Module, args: tuple, out) -> None:
        counts, source = tracker.lookup(args[0])
        if counts is None:
            return
        out = out[0] if isinstance(out, tuple) else out  # a max pool with return_indices=True
        if isinstance(m, _AVG_POOLS + _ADAPTIVE_AVG_POOLS):
            if not pooled_events:
                return
            tracker.mark(out, _sum_pool(m, counts), "pooled spikes")
        elif source != "pooled spikes":  # one spike per nonzero output
            tracker.mark(out, None, source)
        elif isinstance(m, tuple(cls for cls, _, _ in _MAX_POOLS)):
            tracker.mark(out, _max_pool_counts(m, args[0], counts), source)
        else:  # padding, flatten: the counts move with the values
            tracker.mark(out, m.forward(counts), source)

    def static_hook(m: nn.Module, args: tuple, out) -> None:
        # a module without spiking layers, all of whose tensor inputs are static, computes static outputs
        ins = [a for a in args if isinstance(a, torch.Tensor)]
        if ins and all(tracker.is_static(a) for a in ins):
            for o in out if isinstance(out, (tuple, list)) else (out,):
                tracker.mark_static(o)

    # single-step neurons keep their membrane between calls: count from rest, leave the model as it was
    state = _neuron_state(model)
    generators = {id(g): (g, g.get_state()) for m in model.modules()
                  for g in [getattr(m, "generator", None)] if isinstance(g, torch.Generator)}
    handles = []
    training = {m: m.training for m in model.modules()}
    try:
        model.eval()
        for m, attr, _ in state:
            setattr(m, attr, None)
        for n, m in weights.items():
            handles.append(m.register_forward_hook(weight_hook(n)))
        for m in model.modules():
            if isinstance(m, neuron_types):
                handles.append(m.register_forward_hook(spike_hook))
            elif isinstance(m, _AVG_POOLS + _ADAPTIVE_AVG_POOLS + _EVENT_PRESERVING):
                handles.append(m.register_forward_hook(pass_hook))
            if static_input and not any(isinstance(s, neuron_types) for s in m.modules()):
                handles.append(m.register_forward_hook(static_hook))
        # stochastic neurons draw random numbers: torch's global generators are forked (restored after)
        with torch.random.fork_rng(devices=[x.device.index or 0] if x.is_cuda else []):
            model(x)
    finally:
        for g, g_state in generators.values():  # and the layers' own generators
            g.set_state(g_state)
        for h in handles:
            h.remove()
        for m, flag in training.items():
            m.training = flag
        for m, attr, value in state:
            setattr(m, attr, value)

    if not acc:
        raise ValueError(f"none of the weight layers {sorted(weights)} ran in the forward pass")
    if batch_size is None and not time_first and unbatched_input[0]:
        B = 1  # x went unbatched ([C, H, W] to a conv, [F] to a Linear) straight into the first weight layer
    rows = []
    for name, a in acc.items():
        if a.samples % B:
            raise ValueError(
                f"layer {name!r} processed {a.samples} samples, not a multiple of the batch size {B}; "
                "pass batch_size= (and T=) to count_synops"
            )
        repeat = steps if static_input_per_step and static_input and a.static and a.samples == B else 1
        ac, mac = a.ac_ops * repeat / B, a.mac_ops * repeat / B
        rows.append(SynOpsRow(
            name=name,
            layer=a.layer,
            kind="+".join(a.kinds),
            source="+".join(a.sources),
            steps=a.samples * repeat / B,
            events=a.events * repeat / B,
            ac_ops=ac,
            mac_ops=mac,
            ann_macs=a.dense / a.samples if a.samples else 0.0,
            energy_pj=ac * e_ac_pj + mac * e_mac_pj,
        ))
    return SynOpsReport(tuple(rows), B, steps, float(e_ac_pj), float(e_mac_pj), static_input_per_step,
                        pooled_events)

"""Trace-based STDP with per-synapse gates, All-LTD, and the "use it or lose it" decay
(spec §B.2, §D, §E).

Every synapse ``j → k`` carries a presynaptic trace ``x`` (time constant ``τ_pre``) and sees
the postsynaptic traces ``y1`` (``τ_post``) and, for the triplet term, ``y2`` (``τ_post2``) of
its target. A trace decays exponentially and is bumped on each spike: ``+1`` (all-to-all
pairing, Antonov's Brian code) or set to ``1`` (nearest-spike pairing, Diehl & Cook). The
updates, with gates ``lr1`` (pre events) and ``lr2`` (post events)::

    on a presynaptic spike arriving:   x ← bump(x);   w ← clip(w − lr1·A−·y1·f−(w))
    on a postsynaptic spike:           w ← clip(w + lr2·A+·x·(y2 if triplet else 1)·f+(w));
                                       y1, y2 ← bump(y1), bump(y2)

so the weight change follows the classic window ``+A+·e^{−Δt/τ_pre}`` (pre before post) and
``−A−·e^{Δt/τ_post}`` (post before pre). With ``(lr1, lr2) = (1, 1)`` this is STDP; with
``(1, −1)`` both orders depress — **All-LTD**, Antonov's rule for the neurons of the wrong
class (spec §B.2): one rule, two gate settings (:data:`GATES`).

**Weight dependence** ("soft bounds": Gütig et al. 2003, van Rossum et al. 2000; the power-law
variant of Diehl & Cook) scales each term by a factor of the weight *before* that update::

    f+(w) = ((w_max − w)/(w_max − w_min))^μ+,        f−(w) = ((w − w_min)/(w_max − w_min))^μ−

(the ratio clamped to ``[0, 1]`` for a weight outside the bounds). ``μ± = 0``, the default, is
the additive rule: the factor is exactly 1, also at the bounds. The factor belongs to the term,
not to the sign of the change: with All-LTD's ``lr2 = −1`` the post-event term depresses and is
still scaled by ``f+`` (as in BindsNET's and Brian's soft-bound rules). With ``μ+ = 1`` a
potentiation moves ``w`` a fraction ``lr2·A+·x·y2/(w_max − w_min)`` of its distance to ``w_max``,
so while that fraction is below 1 the weight approaches ``w_max`` without reaching it (``μ− = 1``:
the same towards ``w_min``); the clip still acts on larger steps.

**Use it or lose it** (spec §D) is an option of the same rule: with ``prune_tau_ms`` set, on
each presynaptic spike arriving at time ``t``, *before* the spike is transmitted::

    w ← w · exp(−(k_p · (t − t_last)/τ_prun)²),    then t_last ← t

where ``t_last`` is the previous arrival on that synapse (0 at the start), ``k_p = 1`` in
training and 0 in testing. Synapses whose inputs stay silent keep their weight until their
next spike; a final sweep that drives every input (spec §D) applies the accumulated decay.

The compiled primitives below are the single definition of each formula; the engine
(:mod:`spikeforge.sim`) and the per-synapse reference :func:`trace_stdp_reference` use them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from .. import _numba_cache  # noqa: F401  (cache stamps that see inlined primitives; before any @njit)
from .._validation import check_number

__all__ = [
    "GATES",
    "TraceSTDP",
    "decay_table",
    "normalize_columns",
    "segment_gates",
    "stdp_ltd_factor",
    "stdp_ltp_factor",
    "stdp_post_update",
    "stdp_pre_update",
    "trace_bump",
    "trace_read",
    "trace_stdp_reference",
    "reward_stdp_reference",
    "use_it_or_lose_it",
]

#: Gate values ``(lr1, lr2)``: STDP, All-LTD (spec §B.2) and no learning.
GATES: dict[str, tuple[float, float]] = {"stdp": (1.0, 1.0), "all_ltd": (1.0, -1.0), "off": (0.0, 0.0)}


@dataclass(frozen=True)
class TraceSTDP:
    """Parameters of trace-based STDP.

    Attributes
    ----------
    a_plus : float
        Potentiation amplitude ``A+`` (weight units per unit trace) applied on post events.
    a_minus : float
        Depression amplitude ``A−`` (≥ 0) applied on pre events.
    tau_pre_ms, tau_post_ms : float
        Time constants of the presynaptic trace ``x`` and postsynaptic trace ``y1`` (ms).
    tau_post2_ms : float or None
        Time constant of the second postsynaptic trace ``y2`` used by the triplet factor of
        Diehl & Cook (``w += A+·x·y2`` with ``y2`` read before its bump); None disables it.
    nearest : bool
        Traces are set to 1 on a spike (nearest-spike pairing) instead of incremented by 1.
    w_min, w_max : float
        Weight bounds (every update is clipped to them), in weight units.
    prune_tau_ms : float or None
        ``τ_prun`` of the use-it-or-lose-it decay (ms); None disables it.
    mu_plus, mu_minus : float
        Weight-dependence exponents ``μ+`` / ``μ−`` (dimensionless, ≥ 0): the potentiation
        (``A+``) term is scaled by ``((w_max − w)/(w_max − w_min))^μ+`` and the depression
        (``A−``) term by ``((w − w_min)/(w_max − w_min))^μ−``, with ``w`` the weight before the
        update. 0 (default): the additive rule; 1: soft bounds (multiplicative STDP).
    """

    a_plus: float = 0.01
    a_minus: float = 1e-4
    tau_pre_ms: float = 20.0
    tau_post_ms: float = 20.0
    tau_post2_ms: float | None = None
    nearest: bool = False
    w_min: float = 0.0
    w_max: float = 1.0
    prune_tau_ms: float | None = None
    mu_plus: float = 0.0
    mu_minus: float = 0.0

    def __post_init__(self) -> None:
        """Check the parameters.

        Raises
        ------
        ValueError
            For a NaN or infinite number, a time constant that is not positive, ``w_max < w_min``,
            a negative amplitude, a negative ``mu_plus`` / ``mu_minus``, or ``w_max == w_min``
            with ``mu_plus`` or ``mu_minus`` > 0 (the weight dependence divides by ``w_max − w_min``).
        """
        for name, value in asdict(self).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isfinite(value):
                raise ValueError(f"TraceSTDP.{name} must be finite; got {value}")
        if self.tau_pre_ms <= 0 or self.tau_post_ms <= 0:
            raise ValueError("tau_pre_ms and tau_post_ms must be positive")
        if self.tau_post2_ms is not None and self.tau_post2_ms <= 0:
            raise ValueError("tau_post2_ms must be positive or None")
        if self.prune_tau_ms is not None and not (math.isfinite(self.prune_tau_ms) and self.prune_tau_ms > 0):
            raise ValueError(f"prune_tau_ms must be a positive finite number or None; got {self.prune_tau_ms}")
        if self.w_max < self.w_min:
            raise ValueError("w_max must be >= w_min")
        if self.a_plus < 0 or self.a_minus < 0:
            raise ValueError("a_plus and a_minus must be non-negative (signs come from the gates)")
        if self.mu_plus < 0 or self.mu_minus < 0:
            raise ValueError(f"mu_plus and mu_minus must be >= 0; got {self.mu_plus}, {self.mu_minus}")
        if self.w_max == self.w_min and (self.mu_plus > 0 or self.mu_minus > 0):
            raise ValueError(f"weight dependence (mu_plus, mu_minus > 0) needs w_max > w_min; got "
                             f"w_min = w_max = {self.w_min}")

    def replace(self, **changes) -> TraceSTDP:
        """A copy with some fields changed."""
        return TraceSTDP(**{**asdict(self), **changes})

    @classmethod
    def stdp_all_ltd(cls, g_max: float = 0.05, prune_tau_ms: float | None = None) -> TraceSTDP:
        """Antonov's rule (spec §B.2): ``ΔA_pre = 0.01·g_max``, ``ΔA_post = −1.05·0.01·g_max``,
        τ = 20 ms, all-to-all traces, ``w ∈ [0, g_max]``."""
        return cls(a_plus=0.01 * g_max, a_minus=1.05 * 0.01 * g_max, tau_pre_ms=20.0, tau_post_ms=20.0,
                   tau_post2_ms=None, nearest=False, w_min=0.0, w_max=g_max, prune_tau_ms=prune_tau_ms)

    @classmethod
    def diehl_cook(cls) -> TraceSTDP:
        """Diehl & Cook's triplet-style rule (spec §E, original sign G.27): ``ν_pre = 1e-4``,
        ``ν_post = 1e-2``, τ_pre = τ_post1 = 20 ms, τ_post2 = 40 ms, nearest traces, ``w ∈ [0, 1]``."""
        return cls(a_plus=1e-2, a_minus=1e-4, tau_pre_ms=20.0, tau_post_ms=20.0, tau_post2_ms=40.0,
                   nearest=True, w_min=0.0, w_max=1.0)


# --------------------------------------------------------------------------- compiled primitives
@njit(cache=True, nogil=True, inline="always")
def trace_read(value, last_step, now, table, start, length):
    """A trace stored as ``value`` at ``last_step``, read at ``now``: ``value·e^{−(now−last)·dt/τ}``.

    ``table[start + n] = e^{−n·dt/τ}`` for ``n < length`` (see :func:`decay_table`; several
    tables can share one flat array); beyond its end the trace is 0.
    """
    n = now - last_step
    if n < length:
        return value * table[start + n]
    return 0.0


@njit(cache=True, nogil=True, inline="always")
def trace_bump(value_now, nearest):
    """A trace after a spike: 1 (nearest-spike pairing) or ``value_now + 1`` (all-to-all)."""
    return 1.0 if nearest else value_now + 1.0


@njit(cache=True, nogil=True, inline="always")
def _clip(w, w_min, w_max):
    if w < w_min:
        return w_min
    if w > w_max:
        return w_max
    return w


@njit(cache=True, nogil=True, inline="always")
def _soft_bound(distance, span, mu):
    """``(distance/span)^μ`` with the ratio clamped to ``[0, 1]``; exactly 1.0 for ``μ = 0``
    (the additive rule, also at a bound, where the ratio is 0 and ``0^0`` is taken as 1)."""
    if mu == 0.0:
        return 1.0  # the additive rule: ``term·1.0`` is ``term`` bit for bit
    r = distance / span
    if r <= 0.0:
        return 0.0
    if r >= 1.0:
        return 1.0
    return r**mu


@njit(cache=True, nogil=True, inline="always")
def stdp_ltd_factor(w, mu_minus, w_min, w_max):
    """Weight dependence of the depression: ``((w − w_min)/(w_max − w_min))^μ−``, the ratio clamped
    to ``[0, 1]``; exactly 1.0 for ``μ− = 0``. Dimensionless; ``w``, ``w_min``, ``w_max`` in weight units."""
    return _soft_bound(w - w_min, w_max - w_min, mu_minus)


@njit(cache=True, nogil=True, inline="always")
def stdp_ltp_factor(w, mu_plus, w_min, w_max):
    """Weight dependence of the potentiation: ``((w_max − w)/(w_max − w_min))^μ+``, the ratio clamped
    to ``[0, 1]``; exactly 1.0 for ``μ+ = 0``. Dimensionless; ``w``, ``w_min``, ``w_max`` in weight units."""
    return _soft_bound(w_max - w, w_max - w_min, mu_plus)


@njit(cache=True, nogil=True, inline="always")
def stdp_pre_update(w, y1, lr1, a_minus, mu_minus, w_min, w_max):
    """Pre event: ``clip(w − lr1·A−·y1·f−(w))`` with ``y1`` the postsynaptic trace now and
    ``f−`` :func:`stdp_ltd_factor` of the weight before the update (1 for ``μ− = 0``)."""
    return _clip(w - lr1 * a_minus * y1 * stdp_ltd_factor(w, mu_minus, w_min, w_max), w_min, w_max)


@njit(cache=True, nogil=True, inline="always")
def stdp_post_update(w, x, y2, lr2, a_plus, mu_plus, w_min, w_max):
    """Post event: ``clip(w + lr2·A+·x·y2·f+(w))`` (``y2 = 1`` without the triplet factor) with
    ``f+`` :func:`stdp_ltp_factor` of the weight before the update (1 for ``μ+ = 0``)."""
    return _clip(w + lr2 * a_plus * x * y2 * stdp_ltp_factor(w, mu_plus, w_min, w_max), w_min, w_max)


@njit(cache=True, nogil=True, inline="always")
def use_it_or_lose_it(w, elapsed_ms, tau_ms, k_p):
    """The decay ``w·exp(−(k_p·elapsed/τ_prun)²)`` applied at a presynaptic spike (spec §D)."""
    z = k_p * elapsed_ms / tau_ms
    return w * math.exp(-(z * z))


def decay_table(tau_ms: float, dt_ms: float, tol: float = 1e-7) -> np.ndarray:
    """``e^{−n·dt/τ}`` for ``n = 0, 1, …`` while it is at least ``tol`` (float64 [L]).

    Beyond the table a trace reads as 0: with the default ``tol`` a trace is dropped once it has
    decayed below 1e-7 of a single spike's contribution (16 time constants), which changes a
    weight by less than ``1e-7·A±`` and lets the engine skip the update.

    Parameters
    ----------
    tau_ms, dt_ms : float
        Time constant and step (ms), positive and finite.
    tol : float
        Smallest tabulated value, in ``(0, 1)``.

    Raises
    ------
    ValueError
        If ``tau_ms`` or ``dt_ms`` is not a positive finite number or ``tol`` is outside ``(0, 1)``.
    """
    for name, value in (("tau_ms", tau_ms), ("dt_ms", dt_ms)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number; got {value}")
    if not 0.0 < tol < 1.0:
        raise ValueError(f"tol must lie in (0, 1); got {tol}")
    n = int(math.floor(-math.log(tol) * tau_ms / dt_ms)) + 1
    return np.exp(-np.arange(n, dtype=np.float64) * (dt_ms / tau_ms))


# --------------------------------------------------------------------------- argument checks
def _spike_steps(train: Sequence[int] | np.ndarray, what: str) -> np.ndarray:
    """One spike train as int64 [n]: a 1-D sequence of non-negative integer steps.

    Integral floats (``10.0``) are accepted; ``10.7`` is refused rather than truncated.
    Shared by the rule references and batch paths of this package.
    """
    arr = np.asarray(train)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D sequence of spike steps; got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{what} must hold integer spike steps; got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.floor(arr))
        if bad.any():
            raise ValueError(f"{what} must hold integer spike steps; got {arr[bad][0]}")
    if (arr < 0).any():
        raise ValueError(f"{what} must hold non-negative spike steps; got {arr[arr < 0][0]}")
    return arr.astype(np.int64)


def _check_step_arguments(dt_ms: float, delay_steps: int) -> int:
    """Check a step size (ms, positive and finite) and a delay (integer steps ≥ 0); the delay as int."""
    if not (math.isfinite(dt_ms) and dt_ms > 0):
        raise ValueError(f"dt_ms must be a positive finite number; got {dt_ms}")
    if isinstance(delay_steps, (bool, np.bool_)) or not float(delay_steps).is_integer() or delay_steps < 0:
        raise ValueError(f"delay_steps must be a non-negative integer; got {delay_steps}")
    return int(delay_steps)


# --------------------------------------------------------------------------- helpers
def segment_gates(
    n_post: int, segment: Sequence[int] | np.ndarray, target: int, *, ltd_gain: float = 1.0
) -> np.ndarray:
    """Gates ``[n_post, 2]`` for a labelled presentation: STDP on the neurons whose segment is
    ``target``, All-LTD on the others (spec §B.2).

    Parameters
    ----------
    n_post : int
        Number of postsynaptic neurons.
    segment : sequence of int, length n_post
        Class segment of each neuron.
    target : int
        The segment of the presented label.
    ltd_gain : float, default 1.0
        Scale of All-LTD on the other segments: their gates are ``(ltd_gain, −ltd_gain)``
        (1 is the seed's rule; 0 switches All-LTD off, leaving supervised STDP alone).
    """
    seg = np.asarray(segment)
    if seg.shape != (n_post,):
        raise ValueError(f"segment must have shape [{n_post}]; got {seg.shape}")
    gain = check_number(ltd_gain, "ltd_gain", low=0.0, low_inclusive=True)
    gates = np.empty((n_post, 2))
    gates[:] = GATES["all_ltd"]
    gates *= gain
    gates[seg == target] = GATES["stdp"]
    return gates


def normalize_columns(w: np.ndarray, total: float, mask: np.ndarray | None = None) -> np.ndarray:
    """Rescale each column (one postsynaptic neuron's inputs) of ``w`` [n_pre, n_post] to sum
    to ``total`` (Diehl & Cook's normalisation to 78); all-zero columns are left unchanged."""
    w = np.asarray(w, dtype=np.float64)
    ww = w if mask is None else np.where(mask, w, 0.0)
    s = ww.sum(axis=0)
    factor = np.where(s > 0, total / np.where(s > 0, s, 1.0), 1.0)
    return ww * factor[None, :]


def _reference_factor(distance: float, span: float, mu: float) -> float:
    """The weight dependence, written out: ``(distance/span)^μ``, the ratio clamped to [0, 1];
    1 for ``μ = 0`` (the additive rule, at the bounds too)."""
    if mu == 0.0:
        return 1.0
    return min(max(distance / span, 0.0), 1.0) ** mu


def trace_stdp_reference(
    pre_steps: Sequence[int],
    post_steps: Sequence[int],
    w0: float,
    rule: TraceSTDP,
    dt_ms: float,
    *,
    lr1: float = 1.0,
    lr2: float = 1.0,
    delay_steps: int = 0,
    k_p: float = 1.0,
) -> tuple[float, list[float]]:
    """Readable event-driven reference of the rule on one synapse, with exact exponentials.

    Presynaptic spikes at ``pre_steps`` arrive ``delay_steps`` later; postsynaptic spikes at
    ``post_steps`` act at once. At equal steps the arrival is processed before the post spike
    (as in the engine and in Brian). Times are integer steps of ``dt_ms``; ``t_last`` of the
    decay starts at step 0. Weights (``w0``, the result, ``rule.w_min`` / ``w_max``) are in the
    rule's weight units; the weight dependence ``rule.mu_plus`` / ``mu_minus`` scales each update
    by its factor of the weight before that update (see the module docstring).

    Returns
    -------
    w : float
        Final weight.
    history : list of float
        The weight after each event.

    Raises
    ------
    ValueError
        If ``dt_ms`` is not a positive finite number, ``delay_steps`` is not a non-negative
        integer, a spike step is negative or not an integer, or ``w0``, ``lr1``, ``lr2`` or ``k_p``
        is not finite.
    """
    _check_step_arguments(dt_ms, delay_steps)
    for name, value in (("w0", w0), ("lr1", lr1), ("lr2", lr2), ("k_p", k_p)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite; got {value}")
    pre_steps, post_steps = _spike_steps(pre_steps, "pre_steps"), _spike_steps(post_steps, "post_steps")
    events = sorted(
        [(int(t) + int(delay_steps), 0) for t in pre_steps] + [(int(t), 1) for t in post_steps]
    )
    w = float(w0)
    x = y1 = y2 = 0.0
    tx = ty = 0
    t_last = 0
    hist = []
    for t, kind in events:
        if kind == 0:
            if rule.prune_tau_ms is not None:
                w = w * math.exp(-((k_p * (t - t_last) * dt_ms / rule.prune_tau_ms) ** 2))
            t_last = t
            x_now = x * math.exp(-(t - tx) * dt_ms / rule.tau_pre_ms)
            x = 1.0 if rule.nearest else x_now + 1.0
            tx = t
            y1_now = y1 * math.exp(-(t - ty) * dt_ms / rule.tau_post_ms)
            f_minus = _reference_factor(w - rule.w_min, rule.w_max - rule.w_min, rule.mu_minus)
            w = min(max(w - lr1 * rule.a_minus * y1_now * f_minus, rule.w_min), rule.w_max)
        else:
            x_now = x * math.exp(-(t - tx) * dt_ms / rule.tau_pre_ms)
            y1_now = y1 * math.exp(-(t - ty) * dt_ms / rule.tau_post_ms)
            y2_now = 1.0
            if rule.tau_post2_ms is not None:
                y2_now = y2 * math.exp(-(t - ty) * dt_ms / rule.tau_post2_ms)
            f_plus = _reference_factor(rule.w_max - w, rule.w_max - rule.w_min, rule.mu_plus)
            w = min(max(w + lr2 * rule.a_plus * x_now * y2_now * f_plus, rule.w_min), rule.w_max)
            y1 = 1.0 if rule.nearest else y1_now + 1.0
            y2 = 1.0 if rule.nearest else y2_now + 1.0
            ty = t
        hist.append(w)
    return w, hist


def reward_stdp_reference(
    pre_steps: Sequence[int],
    post_steps: Sequence[int],
    rule: TraceSTDP,
    dt_ms: float,
    reward: Sequence[float],
    *,
    tau_e_ms: float = 0.0,
    lr1: float = 1.0,
    lr2: float = 1.0,
    e0: float = 0.0,
) -> tuple[float, float]:
    """Readable reference of reward-modulated trace STDP on one synapse (MSTDP / MSTDPET, Florian 2007).

    Step by step over ``t = 0 … len(reward) − 1`` (steps of ``dt_ms`` ms), with the traces of
    :class:`TraceSTDP` (exact per-step decays, pre event before post event)::

        x, y1, y2 decay;   Δ(t) = 0
        pre spike at t:   x ← bump(x);      Δ(t) −= lr1·A−·y1
        post spike at t:  Δ(t) += lr2·A+·x·(y2 if triplet else 1);   y1, y2 ← bump(y1), bump(y2)
        e ← e·exp(−dt/τ_e) + Δ(t)          (eligibility; τ_e = 0: e = Δ(t), plain MSTDP)
        Δw += r(t)·e

    The weight is not clipped and the weight dependence (``mu_plus`` / ``mu_minus``) and the
    use-it-or-lose-it decay are not applied: this is the summed change that the torch layers'
    ``trace_stdp_linear(..., reward=...)`` computes.

    Parameters
    ----------
    pre_steps, post_steps : sequence of int
        Spike steps (each at most once; steps ≥ ``len(reward)`` are ignored).
    rule : TraceSTDP
    dt_ms : float
        Step (ms).
    reward : sequence of float
        Reward ``r(t)`` of each step (dimensionless); its length is the number of steps.
    tau_e_ms : float
        Time constant of the eligibility trace (ms); 0 (default) leaves none.
    lr1, lr2 : float
        Gates of the pre-event and post-event updates.
    e0 : float
        Eligibility before step 0 (to continue a sequence).

    Returns
    -------
    dw : float
        Total weight change (weight units).
    e : float
        Eligibility after the last step.
    """
    _check_step_arguments(dt_ms, 0)
    if not (isinstance(tau_e_ms, (int, float, np.number)) and math.isfinite(tau_e_ms) and tau_e_ms >= 0):
        raise ValueError(f"tau_e_ms must be a non-negative finite number (ms); got {tau_e_ms!r}")
    r = [float(v) for v in reward]
    if not all(math.isfinite(v) for v in r):
        raise ValueError("reward must be finite")
    pre = set(int(t) for t in _spike_steps(pre_steps, "pre_steps"))
    post = set(int(t) for t in _spike_steps(post_steps, "post_steps"))
    d_pre = math.exp(-dt_ms / rule.tau_pre_ms)
    d_post = math.exp(-dt_ms / rule.tau_post_ms)
    d_post2 = math.exp(-dt_ms / rule.tau_post2_ms) if rule.tau_post2_ms is not None else 0.0
    d_e = math.exp(-dt_ms / tau_e_ms) if tau_e_ms > 0 else 0.0
    x = y1 = y2 = 0.0
    e, dw = float(e0), 0.0
    for t in range(len(r)):
        x, y1, y2 = x * d_pre, y1 * d_post, y2 * d_post2
        delta = 0.0
        if t in pre:
            x = 1.0 if rule.nearest else x + 1.0
            delta -= lr1 * rule.a_minus * y1
        if t in post:
            delta += lr2 * rule.a_plus * x * (y2 if rule.tau_post2_ms is not None else 1.0)
            y1 = 1.0 if rule.nearest else y1 + 1.0
            y2 = 1.0 if rule.nearest else y2 + 1.0
        e = e * d_e + delta
        dw += r[t] * e
    return dw, e

"""First-spike STDP and reward-modulated STDP of time-to-first-spike networks (SpykeTorch;
Mozafari et al. 2018; spec §C.1).

Every neuron fires at most once, so the ordering of a pre- and a postsynaptic spike is all
the rule looks at. For a winner neuron with first-spike step ``t_post`` and an input of its
receptive field with first-spike step ``t_pre`` (``T`` = never fired)::

    ltp = t_pre ≤ t_post                       (pre before or together with post)
    Δw  = (a+ if ltp else a−) · S(w)            S(w) = (w − w_min)(w_max − w)  or 1
    w  ← clip(w + Δw, w_min, w_max)

``S`` is the stabiliser (on in the unsupervised layers, off in the decision layer); it always
uses the rule's own bounds ``w_min``/``w_max``. Under a
:class:`~spikeforge.plasticity.WeightConstraint` ``Δw`` is this same increment (what the rule
alone would add), scaled by ``plastic`` and then clipped to the effective bounds (the rule's,
tightened by the constraint's ``lower``/``upper``); frozen synapses (``plastic == 0``) keep
their value, see :func:`~spikeforge.plasticity.constrained_update`.
Reward-modulated STDP uses the same step with one rate pair when the decision was right
(*reward*: STDP, ``a+ > 0 > a−``) and another when it was wrong (*punishment*: anti-STDP,
``a+ < 0 < a−``); Mozafari's adaptive rates scale the reward pair by the miss rate and the
punishment pair by the hit rate of the previous batch (:meth:`RSTDP.adapted`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from numba import njit

from .. import _numba_cache  # noqa: F401  (cache stamps that see inlined primitives; before any @njit)

__all__ = [
    "RSTDP",
    "FirstSpikeSTDP",
    "first_spike_stdp_delta",
    "first_spike_stdp_reference",
    "first_spike_stdp_step",
]


@dataclass(frozen=True)
class FirstSpikeSTDP:
    """Parameters of first-spike STDP.

    Attributes
    ----------
    a_plus, a_minus : float
        Rates for pre-before-post (``a+``) and post-before-pre or pre-silent (``a−``).
    stabilizer : bool
        Multiply by ``(w − w_min)(w_max − w)``.
    w_min, w_max : float
        Weight bounds.
    """

    a_plus: float = 0.004
    a_minus: float = -0.003
    stabilizer: bool = True
    w_min: float = 0.0
    w_max: float = 1.0

    def __post_init__(self) -> None:
        if not self.w_min < self.w_max:
            raise ValueError(f"w_min must be below w_max; got {self.w_min}, {self.w_max}")


@dataclass(frozen=True)
class RSTDP:
    """Reward-modulated first-spike STDP of the decision layer (spec §C.1).

    Attributes
    ----------
    reward : (a+, a−)
        Rates applied when the decision is right (STDP).
    punish : (a+, a−)
        Rates applied when it is wrong (anti-STDP: depress the inputs that fired, potentiate
        the silent ones).
    w_min, w_max : float
        Weight bounds (0.2, 0.8 in the seed).
    stabilizer : bool
        Off in the seed.
    """

    reward: tuple[float, float] = (0.004, -0.003)
    punish: tuple[float, float] = (-0.004, 0.0005)
    w_min: float = 0.2
    w_max: float = 0.8
    stabilizer: bool = False

    def __post_init__(self) -> None:
        if not self.w_min < self.w_max:
            raise ValueError(f"w_min must be below w_max; got {self.w_min}, {self.w_max}")

    def adapted(self, hit_rate: float, miss_rate: float, scale: float = 1.0) -> RSTDP:
        """Mozafari's adaptive rates: reward × (miss·scale), punishment × (hit·scale).

        ``hit_rate`` and ``miss_rate`` are fractions of the previous batch (silent samples
        count in neither); ``scale`` is the notebooks' ``adaptive_int`` (1 on the first
        task, 0.5 on later ones).
        """
        r, p = miss_rate * scale, hit_rate * scale
        return replace(
            self,
            reward=(self.reward[0] * r, self.reward[1] * r),
            punish=(self.punish[0] * p, self.punish[1] * p),
        )


@njit(cache=True, nogil=True, inline="always")
def first_spike_stdp_delta(
    w: float, ltp: bool, a_plus: float, a_minus: float, stabilizer: bool, w_min: float, w_max: float
) -> float:
    """One synapse's increment before clipping: ``(a+ if ltp else a−)·S(w)``, ``S`` with the
    rule's bounds ``w_min``/``w_max`` (weight units)."""
    a = a_plus if ltp else a_minus
    if stabilizer:
        a = a * (w - w_min) * (w_max - w)
    return a


@njit(cache=True, nogil=True, inline="always")
def first_spike_stdp_step(
    w: float, ltp: bool, a_plus: float, a_minus: float, stabilizer: bool, w_min: float, w_max: float
) -> float:
    """One synapse: ``clip(w + (a+ if ltp else a−)·S(w), w_min, w_max)`` (weight units)."""
    w = w + first_spike_stdp_delta(w, ltp, a_plus, a_minus, stabilizer, w_min, w_max)
    if w < w_min:
        return w_min
    if w > w_max:
        return w_max
    return w


def first_spike_stdp_reference(
    weight: torch.Tensor,
    pre_latency: torch.Tensor,
    winners: Sequence[tuple[int, int, int]],
    post_latency: Sequence[int],
    *,
    a_plus: float | Sequence[float],
    a_minus: float | Sequence[float],
    stabilizer: bool,
    w_min: float,
    w_max: float,
    plastic: torch.Tensor | None = None,
    lower: torch.Tensor | None = None,
    upper: torch.Tensor | None = None,
) -> torch.Tensor:
    """Readable reference: apply first-spike STDP at the winners of a convolutional layer.

    Parameters
    ----------
    weight : Tensor of shape [F, C, kh, kw]
        Convolution weights (not modified).
    pre_latency : Tensor of shape [C, H, W]
        First-spike steps of the layer's (padded) input; ``≥ T`` means silent.
    winners : sequence of (feature, row, col)
        Winner neurons; each feature at most once.
    post_latency : sequence of int
        First-spike step of each winner.
    a_plus, a_minus : float or per-winner sequence
    stabilizer, w_min, w_max : see :class:`FirstSpikeSTDP`
        The stabiliser always uses the rule's ``w_min``/``w_max``, not ``lower``/``upper``.
    plastic : Tensor of shape [F, C, kh, kw], optional
        Multiplier of every increment (0 freezes a synapse: it keeps its value, even outside
        ``[lower, upper]``).
    lower, upper : Tensor of shape [F, C, kh, kw], optional
        Per-synapse bounds, applied after the global ones (to the plastic synapses).

    Returns
    -------
    Tensor of shape [F, C, kh, kw]: the new weights.
    """
    w = weight.clone()
    kh, kw = w.shape[-2:]
    feats = [f for f, _, _ in winners]
    if len(set(feats)) != len(feats):
        raise ValueError("each feature may win at most once")
    ap = list(a_plus) if isinstance(a_plus, Sequence) else [a_plus] * len(winners)
    am = list(a_minus) if isinstance(a_minus, Sequence) else [a_minus] * len(winners)
    for i, (f, y, x) in enumerate(winners):
        patch = pre_latency[:, y : y + kh, x : x + kw].to(torch.int64)
        ltp = patch <= int(post_latency[i])
        rate = torch.where(ltp, torch.tensor(ap[i]), torch.tensor(am[i])).to(w.dtype)
        if stabilizer:
            rate = rate * (w[f] - w_min) * (w_max - w[f])
        if plastic is not None:
            rate = rate * plastic[f]
        new = (w[f] + rate).clamp(w_min, w_max)
        if lower is not None:
            new = torch.maximum(new, lower[f].to(w.dtype))
        if upper is not None:
            new = torch.minimum(new, upper[f].to(w.dtype))
        if plastic is not None:
            new = torch.where(plastic[f] != 0, new, w[f])
        w[f] = new
    return w

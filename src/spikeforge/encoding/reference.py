"""Reference-train coding of seed 000 (spec §A.3).

One reference spike train ``S0`` (a Bernoulli approximation of a Poisson train) is drawn
when the model is fitted. Each sample shares the spikes of ``S0`` out among its inputs in
proportion to their (L1-normalised) values, so that every ``S0`` spike goes to at most one
input and at most one input spike reaches an output neuron per time step.

Times are integer step indices on a grid of ``dt_ms`` milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ReferenceTrain",
    "allocate_reference_spikes",
    "allocation_counts",
    "draw_reference_train",
    "reference_train_length",
]


@dataclass(frozen=True)
class ReferenceTrain:
    """A reference spike train ``S0`` on a discrete time grid.

    Attributes
    ----------
    steps : ndarray of int64, shape [M]
        Sorted step indices of the ``M`` spikes, each in ``[0, n_steps)``.
    n_steps : int
        Length of one sample presentation, in steps.
    dt_ms : float
        Grid resolution (ms).
    rate_hz : float
        Rate of the Bernoulli process that produced the train (Hz).
    """

    steps: np.ndarray
    n_steps: int
    dt_ms: float
    rate_hz: float

    @property
    def n_spikes(self) -> int:
        """Number of spikes ``M`` in the train."""
        return int(self.steps.shape[0])

    @property
    def duration_ms(self) -> float:
        """Presentation time of one sample (ms)."""
        return self.n_steps * self.dt_ms

    def times_ms(self) -> np.ndarray:
        """Spike times in milliseconds, shape [M]."""
        return self.steps * self.dt_ms


def reference_train_length(X_l1: np.ndarray, min_spikes: int) -> int:
    """Number of reference spikes ``n_ref`` needed for a training set (spec §A.3).

    ``g_min`` is the smallest positive value in ``X_l1``; each sample needs
    ``Σ_j floor(min_spikes · x_j / g_min)`` spikes (zeros need none), so that its smallest
    positive input still gets ``min_spikes`` spikes. ``n_ref`` is the maximum over samples.

    Parameters
    ----------
    X_l1 : ndarray of shape [n_samples, n_inputs]
        Non-negative, row-wise L1-normalised inputs.
    min_spikes : int
        Spikes guaranteed to the weakest positive input.

    Returns
    -------
    int, at least 1
    """
    X_l1 = np.asarray(X_l1, dtype=np.float64)
    pos = X_l1[X_l1 > 0]
    if pos.size == 0:
        return 1
    g_min = pos.min()
    needed = np.floor(min_spikes * X_l1 / g_min).sum(axis=1)
    return max(int(needed.max()), 1)


def draw_reference_train(
    n_spikes: float, rate_hz: float, dt_ms: float, rng: np.random.Generator
) -> ReferenceTrain:
    """Draw ``S0``: Bernoulli(p = rate·dt/1000) per step over ``T = 1000·n_spikes/rate`` ms.

    The expected number of spikes is ``n_spikes``. A train with no spike at all is redrawn.

    Parameters
    ----------
    n_spikes : float
        Expected number of spikes (``n_ref``).
    rate_hz : float
        Firing rate (Hz); ``rate_hz · dt_ms / 1000`` must be ≤ 1.
    dt_ms : float
        Step (ms).
    rng : numpy.random.Generator
    """
    if rate_hz <= 0 or dt_ms <= 0:
        raise ValueError(f"rate_hz and dt_ms must be positive; got {rate_hz}, {dt_ms}")
    p = rate_hz * dt_ms / 1000.0
    if p > 1.0:
        raise ValueError(
            f"rate_hz * dt_ms / 1000 = {p:.3g} > 1: a Bernoulli train cannot reach {rate_hz} Hz "
            f"at dt = {dt_ms} ms; lower the rate or the step"
        )
    duration_ms = 1000.0 * float(n_spikes) / rate_hz
    n_steps = max(int(round(duration_ms / dt_ms)), 1)
    for _ in range(100):
        steps = np.flatnonzero(rng.random(n_steps) < p).astype(np.int64)
        if steps.size:
            return ReferenceTrain(steps=steps, n_steps=n_steps, dt_ms=float(dt_ms), rate_hz=rate_hz)
    raise RuntimeError("could not draw a non-empty reference train; increase n_spikes or rate")


#: relative tolerance of ``floor(pool·x_j/P)``: round-off of the floating-point sums is far
#: below it, so a quotient that is an integer in exact arithmetic is never floored one short
_FLOOR_RTOL = 1e-10


def allocation_counts(
    X_l1: np.ndarray, n_available: int, *, zero_gets_spike: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """How many reference spikes each input receives (deterministic; spec §A.3).

    Inputs are visited in descending order of value with a pool of ``n_available`` spikes
    and a remaining mass ``P`` (initially the row sum). Input ``j`` takes
    ``k_j = max(floor(pool · x_j / P), 1)`` spikes (at most the pool), then
    ``pool -= k_j`` and ``P -= x_j``. The walk stops when the pool is empty or ``P ≤ 0``.
    Zero-valued inputs get no spike unless ``zero_gets_spike`` (the authors' code; spec G.8).

    The rule is evaluated as in exact arithmetic: ``P`` is the sum of the values not yet
    visited (a reversed cumulative sum of the sorted values, not a running ``P -= x_j``,
    whose round-off made the floor land one short of an integer), the floor has a relative
    tolerance of 1e-10, and the last positive input (``P == x_j``) takes the whole remaining
    pool. So every spike is used whenever there are at most ``n_available`` positive inputs.
    ``zero_gets_spike=True`` reproduces the authors' code, including its floating-point walk
    (``P -= x_j`` from the row sum): there the weakest positive inputs sometimes get a spike
    fewer, and the spikes left over go to zero inputs, one each, while ``P`` stays above 0.

    Parameters
    ----------
    X_l1 : ndarray of shape [n_samples, n_inputs]
        Non-negative inputs, normally L1-normalised per row.
    n_available : int
        Number of spikes in the reference train (``M``).
    zero_gets_spike : bool
        Reproduce the code's quirk of giving 1 spike to zero inputs while spikes remain.

    Returns
    -------
    counts : ndarray of int64, shape [n_samples, n_inputs]
        Spikes per input, in the original input order.
    order : ndarray of int64, shape [n_samples, n_inputs]
        The visiting order (inputs by descending value, ties by index).

    Raises
    ------
    ValueError
        If ``X_l1`` is not 2-D or has a negative entry.
    """
    X = np.asarray(X_l1, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X_l1 must be 2-D [n_samples, n_inputs]; got shape {X.shape}")
    if np.any(X < 0):
        raise ValueError("reference-train allocation needs non-negative inputs")
    B, D = X.shape
    order = np.argsort(-X, axis=1, kind="stable")
    xs = np.take_along_axis(X, order, axis=1)
    pool = np.full(B, int(n_available), dtype=np.int64)
    k_sorted = np.zeros((B, D), dtype=np.int64)
    if zero_gets_spike:
        _authors_walk(xs, pool, k_sorted)
    else:
        # tail[:, i] = Σ_{i' ≥ i} xs[:, i']: the mass not yet visited, exactly x_j (plus
        # zeros) at the last positive input; rest = the mass after input i
        tail = np.cumsum(xs[:, ::-1], axis=1)[:, ::-1]
        rest = np.concatenate([tail[:, 1:], np.zeros((B, 1))], axis=1)
        for pos in range(D):
            v = xs[:, pos]
            active = (pool > 0) & (v > 0)
            if not active.any():
                break
            P = np.where(active, tail[:, pos], 1.0)
            k = np.floor(pool * v / P * (1.0 + _FLOOR_RTOL)).astype(np.int64)
            k = np.minimum(np.maximum(k, 1), pool)
            k = np.where(rest[:, pos] > 0, k, pool)  # the last positive input takes the pool
            k[~active] = 0
            k_sorted[:, pos] = k
            pool -= k
    counts = np.zeros_like(k_sorted)
    np.put_along_axis(counts, order, k_sorted, axis=1)
    return counts, order


def _authors_walk(xs: np.ndarray, pool: np.ndarray, k_sorted: np.ndarray) -> None:
    """The authors' floating-point walk over sorted rows ``xs`` [B, D] (``P -= x_j``), zeros
    included; fills ``k_sorted`` [B, D] and takes the spikes from ``pool`` [B], in place."""
    P = xs.sum(axis=1)
    for pos in range(xs.shape[1]):
        v = xs[:, pos]
        active = (pool > 0) & (P > 0)
        if not active.any():
            break
        k = np.floor(pool * v / np.where(P > 0, P, 1.0)).astype(np.int64)
        k = np.minimum(np.maximum(k, 1), pool)
        k[~active] = 0
        k_sorted[:, pos] = k
        pool -= k
        P = np.where(active, P - v, P)


def allocate_reference_spikes(
    X_l1: np.ndarray,
    ref: ReferenceTrain,
    rng: np.random.Generator,
    *,
    zero_gets_spike: bool = False,
) -> np.ndarray:
    """Assign the spikes of ``S0`` to inputs: which input owns each reference spike.

    The spikes of input ``j`` are a uniformly random subset of ``S0`` of size
    ``counts[j]`` (:func:`allocation_counts`), disjoint from the other inputs' subsets.
    Drawing the subsets one after another without replacement is equivalent to splitting
    one random permutation of ``S0`` into consecutive chunks, which is what is done here.

    Parameters
    ----------
    X_l1 : ndarray of shape [n_samples, n_inputs]
    ref : ReferenceTrain
    rng : numpy.random.Generator
        Fresh randomness is drawn on every call.

    Returns
    -------
    owners : ndarray of int32, shape [n_samples, M]
        ``owners[b, a]`` is the input that fires at reference spike ``a`` in sample ``b``,
        or -1 if that reference spike is not used.
    """
    counts, order = allocation_counts(X_l1, ref.n_spikes, zero_gets_spike=zero_gets_spike)
    B, D = counts.shape
    M = ref.n_spikes
    k_sorted = np.take_along_axis(counts, order, axis=1)
    perm = rng.permuted(np.broadcast_to(np.arange(M, dtype=np.int32), (B, M)), axis=1)
    owners = np.full((B, M), -1, dtype=np.int32)
    tot = k_sorted.sum(axis=1)
    rows = np.repeat(np.arange(B), tot)
    inputs = np.repeat(order.ravel(), k_sorted.ravel()).astype(np.int32)
    starts = np.repeat(np.cumsum(tot) - tot, tot)
    within = np.arange(rows.shape[0]) - starts
    owners[rows, perm[rows, within]] = inputs
    return owners

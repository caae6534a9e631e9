"""Nanocomposite (Co-Fe-B)x(LiNbO3)100−x memristor plasticity (NEST ``stdp_tanh_synapse``; §A.5).

For one synapse with dendritic delay ``d`` (times in integer steps of ``dt_ms``,
``ŵ = w / w_max``), on each presynaptic spike at ``t`` with predecessor ``t_prev``:

* facilitation, skipped for the very first pre spike: for **every** post spike ``q`` with
  ``t_prev − d < q ≤ t − d``, in time order, ``Δt = q + d − t_prev > 0`` and::

      ŵ ← min(1, ŵ + A+·ŵ·[1 + tanh((μ+ − Δt)/τ+)])

  (the corrected LTP form of spec G.1; the slide's ``(−Δt − μ+)`` gives almost no LTP);
* depression with the latest post spike ``q ≤ t − d`` in the whole history,
  ``Δt = q + d − t ≤ 0``::

      ŵ ← max(0, ŵ + A−·ŵ·[1 + tanh((Δt − μ−)/τ−)])

Constants are the published fit (Demin et al. 2021); ``A−`` is a parameter (spec G.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from .. import _numba_cache  # noqa: F401  (cache stamps that see inlined primitives; before any @njit)
from .stdp import _check_rule_arguments, _run_batch

__all__ = [
    "TANH_CUTOFF",
    "MemristiveTanh",
    "memristive_depress",
    "memristive_facilitate",
    "memristive_stdp",
    "memristive_stdp_reference",
]

#: tanh arguments below ``-TANH_CUTOFF`` change ``w`` by less than 1e-16 relative; the
#: compiled paths skip them (the reference does not).
TANH_CUTOFF = 18.0


@dataclass(frozen=True)
class MemristiveTanh:
    """Parameters of the memristive tanh rule.

    Defaults are the constants of the authors' NEST module (spec §A.5 table);
    :meth:`slide` gives the rounded values printed in seed 000.

    Attributes
    ----------
    a_plus, a_minus : float
        Amplitudes ``A+ ≥ 0`` and ``−0.5 < A− ≤ 0`` (dimensionless, relative to ``ŵ``; 0 switches
        the branch off, as ``CorrelationClassifier(memristive_scale=0)`` does).
    mu_plus_ms, mu_minus_ms : float
        Centres of the LTP and LTD windows (ms).
    tau_plus_ms, tau_minus_ms : float
        Widths of the LTP and LTD windows (ms), positive.
    w_max : float
        Upper weight bound.
    """

    a_plus: float = 0.07376001452742792
    a_minus: float = -0.04963699617346189
    mu_plus_ms: float = 26.730656991521247
    mu_minus_ms: float = -22.325265872889496
    tau_plus_ms: float = 9.300596954566565
    tau_minus_ms: float = 10.81180238558187
    w_max: float = 1.0

    def __post_init__(self) -> None:
        """Check the parameters.

        Raises
        ------
        ValueError
            For a NaN or infinite number, a width or ``w_max`` that is not positive, ``A+ < 0``
            (LTP would depress), ``A− > 0`` (LTD would potentiate) or ``A− ≤ −0.5``.
        """
        for name, value in asdict(self).items():
            if not math.isfinite(value):
                raise ValueError(f"MemristiveTanh.{name} must be finite; got {value}")
        if self.tau_plus_ms <= 0 or self.tau_minus_ms <= 0:
            raise ValueError("tau_plus_ms and tau_minus_ms must be positive (the sign is in the formula)")
        if self.a_plus < 0 or self.a_minus > 0:
            raise ValueError(f"need a_plus >= 0 (potentiation) and a_minus <= 0 (depression); got "
                             f"a_plus={self.a_plus}, a_minus={self.a_minus}")
        if not self.a_minus > -0.5:
            raise ValueError("a_minus must exceed -0.5 so that a step never flips the sign of w")
        if self.w_max <= 0:
            raise ValueError("w_max must be positive")

    @classmethod
    def slide(cls) -> MemristiveTanh:
        """The rounded constants of seed 000's slide (A− = −0.047)."""
        return cls(0.074, -0.047, 26.7, -22.3, 9.3, 10.8)

    def as_array(self) -> np.ndarray:
        """Parameters packed for the compiled kernels, in field order."""
        return np.array(list(asdict(self).values()), dtype=np.float64)


@njit(cache=True, nogil=True)
def memristive_facilitate(
    w: float, dt_ms: float, a_plus: float, mu_plus: float, tau_plus: float, w_max: float
) -> float:
    """One LTP pairing at ``Δt = dt_ms > 0``: ``ŵ ← min(1, ŵ + A+ŵ[1 + tanh((μ+ − Δt)/τ+)])``."""
    nw = w / w_max
    nw = nw + a_plus * nw * (1.0 + math.tanh((mu_plus - dt_ms) / tau_plus))
    return nw * w_max if nw < 1.0 else w_max


@njit(cache=True, nogil=True)
def memristive_depress(
    w: float, dt_ms: float, a_minus: float, mu_minus: float, tau_minus: float, w_max: float
) -> float:
    """One LTD pairing at ``Δt = dt_ms ≤ 0``: ``ŵ ← max(0, ŵ + A−ŵ[1 + tanh((Δt − μ−)/τ−)])``."""
    nw = w / w_max
    nw = nw + a_minus * nw * (1.0 + math.tanh((dt_ms - mu_minus) / tau_minus))
    return nw * w_max if nw > 0.0 else 0.0


def memristive_stdp_reference(
    pre_steps: Sequence[int],
    post_steps: Sequence[int],
    w0: float,
    params: MemristiveTanh,
    *,
    delay_steps: int,
    dt_ms: float,
    return_trace: bool = False,
):
    """Readable reference: apply the memristive rule to one synapse, spike by spike.

    Parameters and errors are as in :func:`spikeforge.plasticity.stdp_nn_restricted_reference`.
    """
    pre_steps, post_steps, d = _check_rule_arguments(pre_steps, post_steps, w0, delay_steps, dt_ms)
    post = sorted(int(q) for q in post_steps)
    p = params
    w = float(w0)
    t_prev = None  # NEST initialises t_lastspike_ to -inf: no facilitation at the first spike
    trace = []
    for t in (int(x) for x in pre_steps):
        w_n = w / p.w_max
        if t_prev is not None:
            for q in post:
                if t_prev - d < q <= t - d:
                    dt = (q + d - t_prev) * dt_ms
                    w_n = min(1.0, w_n + p.a_plus * w_n * (1 + math.tanh((p.mu_plus_ms - dt) / p.tau_plus_ms)))
        earlier = [q for q in post if q <= t - d]
        if earlier:
            dt = (max(earlier) + d - t) * dt_ms
            w_n = max(0.0, w_n + p.a_minus * w_n * (1 + math.tanh((dt - p.mu_minus_ms) / p.tau_minus_ms)))
        w = w_n * p.w_max
        t_prev = t
        trace.append(w)
    return (w, trace) if return_trace else w


@njit(cache=True, nogil=True)
def _memristive_batch(pre, pre_ptr, post, post_ptr, w, d, dt_ms, p):
    a_p, a_m, mu_p, mu_m, tau_p, tau_m, w_max = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    n_in, n_out = w.shape
    for j in range(n_in):
        for c in range(n_out):
            posts = post[post_ptr[c] : post_ptr[c + 1]]
            n_post = posts.shape[0]
            wj = w[j, c]
            have_prev = False
            t_prev = 0
            for i in range(pre_ptr[j], pre_ptr[j + 1]):
                t = pre[i]
                if have_prev:
                    b = np.searchsorted(posts, t_prev - d, side="right")
                    while b < n_post and posts[b] <= t - d:
                        dt = (posts[b] + d - t_prev) * dt_ms
                        if (mu_p - dt) / tau_p < -TANH_CUTOFF:
                            break
                        wj = memristive_facilitate(wj, dt, a_p, mu_p, tau_p, w_max)
                        b += 1
                hi = np.searchsorted(posts, t - d, side="right") - 1
                if hi >= 0:
                    dt = (posts[hi] + d - t) * dt_ms
                    if (dt - mu_m) / tau_m >= -TANH_CUTOFF:
                        wj = memristive_depress(wj, dt, a_m, mu_m, tau_m, w_max)
                t_prev = t
                have_prev = True
            w[j, c] = wj
    return w


def memristive_stdp(
    pre_trains: Sequence[Sequence[int]],
    post_trains: Sequence[Sequence[int]],
    w0: np.ndarray,
    params: MemristiveTanh,
    *,
    delay_steps: int,
    dt_ms: float,
) -> np.ndarray:
    """Compiled batch path of the memristive rule for an all-to-all layer.

    Parameters, result and errors as in :func:`spikeforge.plasticity.stdp_nn_restricted`;
    equal to :func:`memristive_stdp_reference` per synapse up to float rounding.
    """
    return _run_batch(_memristive_batch, pre_trains, post_trains, w0, params, delay_steps, dt_ms)

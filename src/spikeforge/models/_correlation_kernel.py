"""Event-driven training kernel of the correlation classifier (spec §A.5, §A.11).

The training timeline is the concatenation of sample presentations (no pause): sample ``n``
occupies steps ``[n·N, (n+1)·N)``. In sample ``n`` with label ``c*``:

* input ``j`` fires at the reference spikes it owns (``owners[n, a] == j``) at ``n·N + s0[a]``;
* the teacher makes neuron ``c*`` fire at every reference spike, one delay later
  (``n·N + s0[a] + d``); all other output neurons are silent (spec G.5).

So the postsynaptic history of neuron ``c`` is the union over the class-``c`` samples of
``offset + s0 + d``; it is stored as the list of those offsets. Every synapse ``(j, c)``
follows its rule exactly as the references in :mod:`spikeforge.plasticity` define it;
``general_*`` functions do this by binary search in that history. The hot case, a pre spike
whose predecessor lies in the same sample, uses per-reference-spike tables instead (O(1)).
The per-pairing formulas are the shared ones from :mod:`spikeforge.plasticity`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import _numba_cache  # noqa: F401  (cache stamps that see inlined primitives; before any @njit)
from ..plasticity.memristive import TANH_CUTOFF, memristive_depress, memristive_facilitate
from ..plasticity.stdp import stdp_depress, stdp_facilitate

NO_SPIKE = np.int64(-(2**60))
FAR_FUTURE = np.int64(2**60)
RULE_STDP = 0
RULE_MEMRISTIVE = 1


@njit(cache=True, nogil=True, inline="always")
def _first_post_after(x, c, cls_off, cls_cnt, s0, d):
    """Earliest post time of neuron ``c`` strictly after ``x``: (time, k, b) or FAR_FUTURE."""
    M = s0.shape[0]
    n = cls_cnt[c]
    last = s0[M - 1] + d
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if cls_off[c, mid] + last > x:
            hi = mid
        else:
            lo = mid + 1
    if lo == n:
        return FAR_FUTURE, -1, -1
    off = cls_off[c, lo]
    b = np.searchsorted(s0, x - off - d, side="right")
    return off + s0[b] + d, lo, b


@njit(cache=True, nogil=True, inline="always")
def _last_post_before(y, inclusive, c, cls_off, cls_cnt, s0, d):
    """Latest post time of neuron ``c`` that is < y (≤ y if inclusive), or NO_SPIKE."""
    n = cls_cnt[c]
    first = s0[0] + d
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        v = cls_off[c, mid] + first
        if (v <= y) if inclusive else (v < y):
            lo = mid + 1
        else:
            hi = mid
    k = lo - 1
    if k < 0:
        return NO_SPIKE
    off = cls_off[c, k]
    if inclusive:
        b = np.searchsorted(s0, y - off - d, side="right") - 1
    else:
        b = np.searchsorted(s0, y - off - d, side="left") - 1
    return off + s0[b] + d


@njit(cache=True, nogil=True)
def _general_stdp(w, t, t_prev, c, cls_off, cls_cnt, s0, d, dt_ms, p):
    lam, alpha, mu_p, mu_m, tau_p, tau_m, w_max = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    q0, _, _ = _first_post_after(t_prev - d, c, cls_off, cls_cnt, s0, d)
    if q0 <= t - d:
        w = stdp_facilitate(w, math.exp(-((q0 + d - t_prev) * dt_ms) / tau_p), lam, mu_p, w_max)
        ql = _last_post_before(t - d, False, c, cls_off, cls_cnt, s0, d)
        k_minus = 0.0
        if ql != NO_SPIKE:
            k_minus = math.exp(-((t - d - ql) * dt_ms) / tau_m)
        w = stdp_depress(w, k_minus, lam, alpha, mu_m, w_max)
    return w


@njit(cache=True, nogil=True)
def _general_memristive(w, t, t_prev, c, cls_off, cls_cnt, s0, d, dt_ms, p):
    a_p, a_m, mu_p, mu_m, tau_p, tau_m, w_max = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    M = s0.shape[0]
    if t_prev != NO_SPIKE:
        q, k, b = _first_post_after(t_prev - d, c, cls_off, cls_cnt, s0, d)
        while q <= t - d:
            dt = (q + d - t_prev) * dt_ms
            if (mu_p - dt) / tau_p < -TANH_CUTOFF:
                break
            w = memristive_facilitate(w, dt, a_p, mu_p, tau_p, w_max)
            b += 1
            if b == M:
                b = 0
                k += 1
            if k >= cls_cnt[c]:
                break
            q = cls_off[c, k] + s0[b] + d
    ql = _last_post_before(t - d, True, c, cls_off, cls_cnt, s0, d)
    if ql != NO_SPIKE:
        dt = (ql + d - t) * dt_ms
        if (dt - mu_m) / tau_m >= -TANH_CUTOFF:
            w = memristive_depress(w, dt, a_m, mu_m, tau_m, w_max)
    return w


@njit(cache=True, nogil=True)
def build_tables(s0, d, dt_ms, rule, p):
    """Per-reference-spike lookup tables for the in-sample fast path.

    ``lo[a]``: first reference index ``b`` with ``s0[b] > s0[a] − 2d``, i.e. the first
    teacher-driven post spike after ``t − d`` for a pre spike at ``s0[a]``; the posts in the
    window of a pair of pre spikes at ``a_prev < a`` are ``lo[a_prev] … lo[a] − 1``.
    ``hi_lt[a]``: last ``b`` with ``s0[b] < s0[a] − 2d``.

    STDP: ``f1[a] = exp(−Δt+/τ+)`` for the first post after ``s0[a]``; ``f2[a] = exp(−Δt−/τ−)``
    for the latest post strictly before.
    Memristive: ``f2[a]`` is the depression factor for the latest post ``≤ t − d``;
    ``cum[ptr[a] + i]`` the product of the first ``i`` facilitation factors after ``s0[a]``.
    """
    M = s0.shape[0]
    lo = np.searchsorted(s0, s0 - 2 * d, side="right")
    hi_lt = np.searchsorted(s0, s0 - 2 * d, side="left") - 1
    f1 = np.zeros(M)
    f2 = np.zeros(M)
    ptr = np.zeros(M + 1, dtype=np.int64)
    if rule == RULE_STDP:
        tau_p, tau_m = p[4], p[5]
        for a in range(M):
            if lo[a] < M:
                f1[a] = math.exp(-((s0[lo[a]] + 2 * d - s0[a]) * dt_ms) / tau_p)
            if hi_lt[a] >= 0:
                f2[a] = math.exp(-((s0[a] - 2 * d - s0[hi_lt[a]]) * dt_ms) / tau_m)
        return lo, hi_lt, f1, f2, ptr, np.ones(1)
    a_p, a_m, mu_p, mu_m, tau_p, tau_m = p[0], p[1], p[2], p[3], p[4], p[5]
    for a in range(M):
        hi_le = lo[a] - 1
        if hi_le >= 0:
            dt = (s0[hi_le] + 2 * d - s0[a]) * dt_ms
            z = (dt - mu_m) / tau_m
            f2[a] = 1.0 + a_m * (1.0 + math.tanh(z)) if z >= -TANH_CUTOFF else 1.0
        n = 0
        b = lo[a]
        while b < M and (mu_p - (s0[b] + 2 * d - s0[a]) * dt_ms) / tau_p >= -TANH_CUTOFF:
            n += 1
            b += 1
        ptr[a + 1] = ptr[a] + n + 1
    cum = np.empty(ptr[M])
    for a in range(M):
        base = ptr[a]
        cum[base] = 1.0
        for i in range(ptr[a + 1] - base - 1):
            dt = (s0[lo[a] + i] + 2 * d - s0[a]) * dt_ms
            cum[base + i + 1] = cum[base + i] * (1.0 + a_p * (1.0 + math.tanh((mu_p - dt) / tau_p)))
    return lo, hi_lt, f1, f2, ptr, cum


@njit(cache=True, nogil=True)
def train_chunk(
    s0, n_steps, owners, labels, first_sample, w, t_last, a_last, cls_off, cls_cnt,
    rule, p, d, dt_ms, lo, hi_lt, f1, f2, ptr, cum,
):  # fmt: skip
    """Train on consecutive samples ``first_sample …`` (state arrays are updated in place).

    Parameters
    ----------
    s0 : int64[M]  reference spike steps, sorted, in [0, n_steps)
    owners : int32[B, M]  input owning each reference spike in each sample, -1 if none
    labels : int64[B]  target neuron of each sample
    w : float64[D, C]  weights
    t_last : int64[D]  absolute step of each input's last pre spike (0 / NO_SPIKE initially)
    a_last : int64[D]  reference index of that spike
    cls_off : int64[C, S]; cls_cnt : int64[C]  offsets of the samples taught to each neuron
    """
    M = s0.shape[0]
    C = w.shape[1]
    w_max = p[6]
    margin = 2 * d
    for bi in range(owners.shape[0]):
        off = (first_sample + bi) * n_steps
        cs = labels[bi]
        cls_off[cs, cls_cnt[cs]] = off
        cls_cnt[cs] += 1
        for a in range(M):
            j = owners[bi, a]
            if j < 0:
                continue
            t = off + s0[a]
            tl = t_last[j]
            same_sample = tl >= off + margin
            al = a_last[j]
            for c in range(C):
                wj = w[j, c]
                if c == cs:
                    if rule == RULE_STDP:
                        if same_sample:
                            if lo[a] > lo[al]:
                                wj = stdp_facilitate(wj, f1[al], p[0], p[2], w_max)
                                if hi_lt[a] >= 0:
                                    wj = stdp_depress(wj, f2[a], p[0], p[1], p[3], w_max)
                                else:
                                    ql = _last_post_before(t - d, False, c, cls_off, cls_cnt, s0, d)
                                    k_minus = 0.0
                                    if ql != NO_SPIKE:
                                        k_minus = math.exp(-((t - d - ql) * dt_ms) / p[5])
                                    wj = stdp_depress(wj, k_minus, p[0], p[1], p[3], w_max)
                        else:
                            wj = _general_stdp(wj, t, tl, c, cls_off, cls_cnt, s0, d, dt_ms, p)
                    else:
                        if same_sample and lo[a] > 0:
                            count = lo[a] - lo[al]
                            if count > 0:
                                n_tab = ptr[al + 1] - ptr[al] - 1
                                nw = wj / w_max * cum[ptr[al] + min(count, n_tab)]
                                wj = nw * w_max if nw < 1.0 else w_max
                            nw = wj / w_max * f2[a]
                            wj = nw * w_max if nw > 0.0 else 0.0
                        else:
                            wj = _general_memristive(wj, t, tl, c, cls_off, cls_cnt, s0, d, dt_ms, p)
                else:
                    n_c = cls_cnt[c]
                    if n_c == 0:  # no post spike yet: neither rule changes the weight
                        continue
                    last_post = cls_off[c, n_c - 1] + s0[M - 1] + d
                    if rule == RULE_STDP:
                        if last_post > tl - d:
                            wj = _general_stdp(wj, t, tl, c, cls_off, cls_cnt, s0, d, dt_ms, p)
                    else:
                        if (tl != NO_SPIKE and last_post > tl - d) or last_post > t - d:
                            wj = _general_memristive(wj, t, tl, c, cls_off, cls_cnt, s0, d, dt_ms, p)
                        else:
                            dt = (last_post + d - t) * dt_ms
                            if (dt - p[3]) / p[5] >= -TANH_CUTOFF:
                                wj = memristive_depress(wj, dt, p[1], p[3], p[5], w_max)
                w[j, c] = wj
            t_last[j] = t
            a_last[j] = a

"""Compiled kernels of CoLaNET (spec colanet.md §1.7) and its digital twin (§2.2).

Layout: neuron ``n = c·M + m`` is microcolumn ``m`` of column (class) ``c``; synapse arrays
are input-major ``[n_inputs, n_neurons]``. Input spikes arrive as a CSR list per
(sample, tact): the inputs that spike in tact ``t`` of sample ``k`` are
``idx[ptr[k·T_in + t] : ptr[k·T_in + t + 1]]``. Plasticity is exclusively the shared resource
primitives of :mod:`spikeforge.plasticity.resource`. Randomness (noise, tie-breaks) comes from
a splitmix64 stream passed explicitly, so runs are reproducible and inference of a sample
does not depend on the batch.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import _numba_cache  # noqa: F401  (cache stamps that see inlined primitives; before any @njit)
from ..plasticity.resource import (
    NEVER,
    resource_on_dopamine,
    resource_on_spike,
    resource_one_factor,
    resource_redistribute,
)

# indices into the network configuration array ``cfg``
(C_NCLS, C_M, C_PERIOD, C_LEAK, C_THETA0, C_KTHR, C_NOISE, C_UMIN, C_FORCE_W, C_T_LABEL, C_FORCE_DELAY,
 C_DOPAMINE, C_DOP_DELAY, C_GATE, C_TIE, C_SCOPE, C_GATE_MODE, C_LATENCY) = range(18)  # fmt: skip
N_CFG = 18
TIE_MARGIN, TIE_RANDOM = 0, 1
SCOPE_GLOBAL, SCOPE_COLUMN = 0, 1
GATE_SUPPRESS, GATE_BLOCK = 0, 1

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True, inline="always")
def _next(state):
    """splitmix64 step on a one-element uint64 array; returns a uint64."""
    state[0] = state[0] + _GOLDEN
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True, inline="always")
def _uniform(state):
    """A float in [0, 1) from the splitmix64 stream."""
    return float(_next(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True)
def seed_stream(seed, index):
    """A fresh stream state for (``seed``, ``index``) (e.g. one per test sample)."""
    st = np.empty(1, dtype=np.uint64)
    st[0] = np.uint64(seed) ^ (np.uint64(index) * _M2)
    _next(st)
    return st


@njit(cache=True, nogil=True)
def theta_of(n, w, theta0, k_thr):
    """Adaptive threshold ``θ0 + k_thr·Σ_i max(w_in, 0)`` of neuron ``n``."""
    s = 0.0
    for i in range(w.shape[0]):
        if w[i, n] > 0.0:
            s += w[i, n]
    return theta0 + k_thr * s


@njit(cache=True, nogil=True)
def _refresh_all(w, theta, cfg):
    for n in range(w.shape[1]):
        theta[n] = theta_of(n, w, cfg[C_THETA0], cfg[C_KTHR])


@njit(cache=True, nogil=True)
def _argmax_count(out):
    best = -1
    bv = 0
    for c in range(out.shape[0]):
        if out[c] > bv:
            bv = out[c]
            best = c
    return best


@njit(cache=True, nogil=True)
def present(
    idx, ptr, row0, t_in, y, train, clock,
    W, w, theta, ns, contributed, hebb_done, t_pre,
    u, drive, gate, out, rng, cfg, p,
):  # fmt: skip
    """Simulate one presentation (``cfg[C_PERIOD]`` tacts from absolute tact ``clock``).

    ``out[c]`` receives the OUT spike counts (forced spikes are not counted). With
    ``train`` the label ``y`` drives BIASGATE forcing and dopamine, and the resource rule
    updates ``W, w, theta, ns, contributed, hebb_done``; ``t_pre`` holds input arrival tacts.
    """
    n_cls = int(cfg[C_NCLS])
    m_per = int(cfg[C_M])
    n_neu = n_cls * m_per
    period = int(cfg[C_PERIOD])
    lam = cfg[C_LEAK]
    noise = cfg[C_NOISE]
    u_min = cfg[C_UMIN]
    t_label = int(cfg[C_T_LABEL])
    t_force = t_label + int(cfg[C_FORCE_DELAY])
    t_dop = t_label + int(cfg[C_DOP_DELAY])
    gate_len = cfg[C_GATE]
    tie = int(cfg[C_TIE])
    scope = int(cfg[C_SCOPE])
    block = int(cfg[C_GATE_MODE]) == GATE_BLOCK
    dop = cfg[C_DOPAMINE]
    redistribute = train and p[8] < np.inf
    n_groups = n_cls if scope == SCOPE_COLUMN else 1
    g_size = m_per if scope == SCOPE_COLUMN else n_neu
    for n in range(n_neu):
        u[n] = 0.0
        drive[n] = 0.0
        gate[n] = NEVER
    for c in range(n_cls):
        out[c] = 0
    if train:
        for i in range(t_pre.shape[0]):
            t_pre[i] = NEVER
    bias_on = False
    for t in range(period):
        T = clock + t
        if t < t_in:
            r = row0 + t
            for e in range(ptr[r], ptr[r + 1]):
                i = idx[e]
                if train:
                    t_pre[i] = T
                for n in range(n_neu):
                    drive[n] += w[i, n]
        forcing = train and bias_on and t == t_force
        for n in range(n_neu):
            open_ = gate[n] < T
            un = u[n] * lam
            if open_ or not block:
                un += drive[n]
                if noise > 0.0:
                    un += noise * _uniform(rng)
            drive[n] = 0.0
            if forcing and n // m_per == y:
                un += cfg[C_FORCE_W]
            u[n] = un if un > u_min else u_min
        for g in range(n_groups):
            lo = g * g_size
            winner = -1
            best = -np.inf
            n_tied = 0
            for n in range(lo, lo + g_size):
                forced_n = forcing and n // m_per == y
                if (gate[n] < T or forced_n) and u[n] >= theta[n]:
                    if tie == TIE_MARGIN:
                        score = u[n] - theta[n]
                        if score > best:
                            best = score
                            winner = n
                    else:  # uniform choice among all crossers (reservoir sampling)
                        n_tied += 1
                        if _uniform(rng) * n_tied < 1.0:
                            winner = n
            if winner < 0:
                continue
            c_win = winner // m_per
            forced = forcing and c_win == y
            u[winner] = 0.0
            for n in range(lo, lo + g_size):
                if n != winner:
                    gate[n] = T + gate_len
            if train:
                if resource_on_spike(winner, float(T), forced, W, w, contributed, hebb_done, t_pre, ns, p):
                    theta[winner] = theta_of(winner, w, cfg[C_THETA0], cfg[C_KTHR])
            if not forced:
                out[c_win] += 1
        if train:
            if t == t_label:
                bias_on = out[y] == 0
            if t == t_dop and dop != 0.0:
                for n in range(y * m_per, (y + 1) * m_per):
                    if resource_on_dopamine(n, float(T), dop, W, w, contributed, ns, p):
                        theta[n] = theta_of(n, w, cfg[C_THETA0], cfg[C_KTHR])
            if redistribute:
                for n in range(n_neu):
                    if resource_redistribute(n, float(T), W, w, ns, p):
                        theta[n] = theta_of(n, w, cfg[C_THETA0], cfg[C_KTHR])
            if resource_one_factor(float(T), W, w, p):
                _refresh_all(w, theta, cfg)


@njit(cache=True, nogil=True)
def train_spiking(idx, ptr, t_in, labels, order, W, w, theta, ns, contributed, hebb_done, t_pre, clock, rng, cfg, p, pred):
    """Present samples ``order`` in sequence with plasticity on; ``pred[k]`` gets the network's
    answer to the k-th presentation before learning from it (−1: no answer). Returns the clock."""
    n_neu = w.shape[1]
    u = np.zeros(n_neu)
    drive = np.zeros(n_neu)
    gate = np.zeros(n_neu)
    out = np.zeros(int(cfg[C_NCLS]), dtype=np.int64)
    period = int(cfg[C_PERIOD])
    for k in range(order.shape[0]):
        s = order[k]
        present(idx, ptr, s * t_in, t_in, labels[s], True, clock,
                W, w, theta, ns, contributed, hebb_done, t_pre, u, drive, gate, out, rng, cfg, p)  # fmt: skip
        pred[k] = _argmax_count(out)
        clock += period
    return clock


@njit(cache=True, nogil=True, parallel=True)
def infer_spiking(idx, ptr, t_in, n_samples, w, theta, cfg, seed, counts):
    """OUT spike counts ``counts[k, c]`` of every sample with plasticity off (parallel over samples).

    Each sample starts from a reset network and draws its noise from stream (``seed``, k).
    """
    n_neu = w.shape[1]
    n_cls = int(cfg[C_NCLS])
    p = np.full(11, np.inf)
    for k in prange(n_samples):
        u = np.zeros(n_neu)
        drive = np.zeros(n_neu)
        gate = np.zeros(n_neu)
        out = np.zeros(n_cls, dtype=np.int64)
        rng = seed_stream(seed, k)
        dummy_f = np.zeros((1, 1))
        dummy_b = np.zeros((1, 1), dtype=np.bool_)
        present(idx, ptr, k * t_in, t_in, 0, False, 0.0,
                dummy_f, w, theta, dummy_f, dummy_b, dummy_b, np.zeros(1), u, drive, gate, out, rng, cfg, p)  # fmt: skip
        for c in range(n_cls):
            counts[k, c] += out[c]


# ---------------------------------------------------------------------------- digital CoLaNET
@njit(cache=True, nogil=True)
def _potentials(idx_s, cnt_s, w, pot):
    for n in range(w.shape[1]):
        pot[n] = 0.0
    for e in range(idx_s.shape[0]):
        i = idx_s[e]
        c = cnt_s[e]
        for n in range(w.shape[1]):
            pot[n] += c * w[i, n]


@njit(cache=True, nogil=True)
def _digital_winner(pot, theta, n_neu, tie, rng):
    winner = -1
    best = -np.inf
    n_tied = 0
    for n in range(n_neu):
        if pot[n] >= theta[n]:
            score = pot[n] - theta[n] if tie == TIE_MARGIN else pot[n]
            if score > best:
                best = score
                winner = n
                n_tied = 1
            elif score == best:
                n_tied += 1
                if _uniform(rng) * n_tied < 1.0:
                    winner = n
    return winner


@njit(cache=True, nogil=True)
def train_digital(idx, cnt, ptr, labels, order, W, w, theta, ns, contributed, hebb_done, t_pre, clock, rng, cfg, p, pred):
    """Digital CoLaNET (spec §2.2): one presentation = one potential ``U = Σ_i w_i n_i``.

    The resource rule is applied through the same primitives as in the spiking network, on a
    virtual time line of ``cfg[C_PERIOD]`` tacts per sample: inputs with ``n_i > 0`` arrive at
    the sample's first tact, the winner (if any) spikes then (unforced), the best-matching
    neuron of the true column (largest ``ρ·U − θ``, ``ρ = cfg[C_FORCE_W]``) is forced one tact later if the winner is of another class or
    absent, and dopamine reaches the true column ``cfg[C_LATENCY]`` tacts after the start.
    ``cnt`` holds the counts ``n_i`` of the CSR entries (one row per sample).
    """
    n_cls = int(cfg[C_NCLS])
    m_per = int(cfg[C_M])
    n_neu = n_cls * m_per
    period = cfg[C_PERIOD]
    tie = int(cfg[C_TIE])
    dop = cfg[C_DOPAMINE]
    rho = cfg[C_FORCE_W]  # share of U still present when the forcing arrives
    pot = np.zeros(n_neu)
    for k in range(order.shape[0]):
        s = order[k]
        y = labels[s]
        a, b = ptr[s], ptr[s + 1]
        for i in range(t_pre.shape[0]):
            t_pre[i] = NEVER
        for e in range(a, b):
            t_pre[idx[e]] = clock
        _potentials(idx[a:b], cnt[a:b], w, pot)
        winner = _digital_winner(pot, theta, n_neu, tie, rng)
        pred[k] = -1 if winner < 0 else winner // m_per
        if winner >= 0:
            if resource_on_spike(winner, clock, False, W, w, contributed, hebb_done, t_pre, ns, p):
                theta[winner] = theta_of(winner, w, cfg[C_THETA0], cfg[C_KTHR])
        if winner < 0 or winner // m_per != y:
            best = -1
            bv = -np.inf
            for n in range(y * m_per, (y + 1) * m_per):
                score = rho * pot[n] - theta[n] if tie == TIE_MARGIN else pot[n]
                if score > bv:
                    bv = score
                    best = n
            if resource_on_spike(best, clock + 1.0, True, W, w, contributed, hebb_done, t_pre, ns, p):
                theta[best] = theta_of(best, w, cfg[C_THETA0], cfg[C_KTHR])
        if dop != 0.0:
            for n in range(y * m_per, (y + 1) * m_per):
                if resource_on_dopamine(n, clock + cfg[C_LATENCY], dop, W, w, contributed, ns, p):
                    theta[n] = theta_of(n, w, cfg[C_THETA0], cfg[C_KTHR])
        if p[8] < np.inf:
            for n in range(n_neu):
                if resource_redistribute(n, clock + period - 1.0, W, w, ns, p):
                    theta[n] = theta_of(n, w, cfg[C_THETA0], cfg[C_KTHR])
        for t in range(int(period)):
            if resource_one_factor(clock + t, W, w, p):
                _refresh_all(w, theta, cfg)
        clock += period
    return clock


@njit(cache=True, nogil=True, parallel=True)
def infer_digital(idx, cnt, ptr, n_samples, w, theta, cfg, seed, counts):
    """Votes ``counts[k, c]`` (+1 for the winner's class) of the digital network, in parallel."""
    n_neu = w.shape[1]
    m_per = int(cfg[C_M])
    tie = int(cfg[C_TIE])
    for k in prange(n_samples):
        pot = np.zeros(n_neu)
        rng = seed_stream(seed, k)
        _potentials(idx[ptr[k] : ptr[k + 1]], cnt[ptr[k] : ptr[k + 1]], w, pot)
        winner = _digital_winner(pot, theta, n_neu, tie, rng)
        if winner >= 0:
            counts[k, winner // m_per] += 1

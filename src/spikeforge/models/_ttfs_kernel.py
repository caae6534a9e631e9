"""Compiled (numba) fast path of the time-to-first-spike convolutional network.

Everything works on **latency maps** (uint8 first-spike steps, ``T`` = silent) instead of
``[T, ...]`` spike waves: a non-leaky integrate-and-fire neuron driven by a cumulative wave
has potential ``V(t) = Σ w`` over the inputs that fired by step ``t``, so the layer is
simulated event by event (each input spike adds one kernel column to the potentials) and
the 15 time steps are a loop over spike buckets inside compiled code, never a Python loop.
The readable twins live in :mod:`spikeforge.models.ttfs`; tests compare the two.

Weight layout inside the kernels: ``[C, kh, kw, F]`` (features last, contiguous), so that one
input spike updates ``F`` consecutive potentials.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import _numba_cache  # noqa: F401  (cache stamps that see inlined primitives; before any @njit)
from ..plasticity.first_spike import first_spike_stdp_delta

__all__ = [
    "conv_first_spikes",
    "decide_batch",
    "k_winners",
    "decide_batch_serial",
    "layer_forward_batch",
    "layer_forward_batch_serial",
    "pointwise_inhibition",
    "train_rstdp",
    "train_stdp_layer",
]


@njit(cache=True, nogil=True, inline="always")
def _add_input_spike(V, wt, c, y, x):
    """Add the kernel column of input ``(c, y, x)`` to every output it reaches:
    ``V[oy, ox, :] += wt[c, y − oy, x − ox, :]`` (valid convolution)."""
    kh, kw, F = wt.shape[1], wt.shape[2], wt.shape[3]
    Ho, Wo = V.shape[0], V.shape[1]
    ox0, ox1 = max(x - kw + 1, 0), min(x, Wo - 1)
    for dy in range(kh):
        oy = y - dy
        if oy < 0 or oy >= Ho:
            continue
        for ox in range(ox0, ox1 + 1):
            acc = V[oy, ox]
            col = wt[c, dy, x - ox]
            for f in range(F):
                acc[f] += col[f]


@njit(cache=True, nogil=True)
def conv_first_spikes(lat, wt, threshold, last_step, T, t_out, v_out):
    """Potentials and first spikes of one convolutional IF layer for one sample.

    Parameters
    ----------
    lat : uint8 [C, H, W]
        Input latency map (``T`` = silent).
    wt : float32 [C, kh, kw, F]
    threshold : float
        Firing threshold (fires when ``V > threshold``); ignored if ``last_step``.
    last_step : bool
        No threshold: every neuron with ``V > 0`` at the last step fires there.
    T : int
    t_out : uint8 [Ho, Wo, F] (output)
        First-spike step, ``T`` if silent.
    v_out : float32 [Ho, Wo, F] (output)
        Potential at the first spike (0 if silent).
    """
    C, H, W = lat.shape
    kh, kw, F = wt.shape[1], wt.shape[2], wt.shape[3]
    Ho, Wo = H - kh + 1, W - kw + 1
    V = np.zeros((Ho, Wo, F), dtype=np.float32)
    t_out[:] = T
    v_out[:] = 0.0
    # bucket the input spikes by step (counting sort)
    counts = np.zeros(T + 1, dtype=np.int64)
    for c in range(C):
        for y in range(H):
            for x in range(W):
                s = lat[c, y, x]
                if s < T:
                    counts[s + 1] += 1
    for t in range(T):
        counts[t + 1] += counts[t]
    ev = np.empty(counts[T], dtype=np.int64)
    fill = counts[:T].copy()
    for c in range(C):
        for y in range(H):
            for x in range(W):
                s = lat[c, y, x]
                if s < T:
                    ev[fill[s]] = (c * H + y) * W + x
                    fill[s] += 1
    row_lo = np.empty(Ho, dtype=np.int64)  # columns touched in this step, per output row
    row_hi = np.empty(Ho, dtype=np.int64)
    for t in range(T):
        lo, hi = counts[t], counts[t + 1]
        if lo == hi:
            continue
        row_lo[:] = Wo
        row_hi[:] = 0
        for e in range(lo, hi):
            idx = ev[e]
            x = idx % W
            y = (idx // W) % H
            c = idx // (W * H)
            _add_input_spike(V, wt, c, y, x)
            ox0, ox1 = max(x - kw + 1, 0), min(x, Wo - 1)
            for oy in range(max(y - kh + 1, 0), min(y, Ho - 1) + 1):
                row_lo[oy] = min(row_lo[oy], ox0)
                row_hi[oy] = max(row_hi[oy], ox1 + 1)
        if not last_step:
            tt = np.uint8(t)
            for oy in range(Ho):
                for ox in range(row_lo[oy], row_hi[oy]):
                    for f in range(F):  # branch-free so that it vectorises
                        v = V[oy, ox, f]
                        new = (t_out[oy, ox, f] == T) & (v > threshold)
                        t_out[oy, ox, f] = tt if new else t_out[oy, ox, f]
                        v_out[oy, ox, f] = v if new else v_out[oy, ox, f]
    if last_step:
        for oy in range(Ho):
            for ox in range(Wo):
                for f in range(F):
                    if V[oy, ox, f] > 0.0:
                        t_out[oy, ox, f] = T - 1
                        v_out[oy, ox, f] = V[oy, ox, f]


@njit(cache=True, nogil=True)
def pointwise_inhibition(t_out, v_out, T, cand):
    """Keep, at every position, only the feature that fired first (then the largest
    potential, then the lowest index).

    ``t_out`` / ``v_out`` [Ho, Wo, F] are edited in place (losers become silent); the
    survivors are written to ``cand`` int64 [Ho·Wo, 3] as ``(f, y, x)``.

    Returns
    -------
    int: number of survivors.
    """
    Ho, Wo, F = t_out.shape
    n = 0
    for oy in range(Ho):
        for ox in range(Wo):
            best = -1
            tb = T
            vb = np.float32(0.0)
            for f in range(F):
                t = t_out[oy, ox, f]
                if t < tb or (t == tb and t < T and v_out[oy, ox, f] > vb):
                    best, tb, vb = f, t, v_out[oy, ox, f]
            for f in range(F):
                if f != best:
                    t_out[oy, ox, f] = T
                    v_out[oy, ox, f] = 0.0
            if best >= 0:
                cand[n, 0], cand[n, 1], cand[n, 2] = best, oy, ox
                n += 1
    return n


@njit(cache=True, nogil=True)
def k_winners(cand, n_cand, t_out, v_out, k, radius, win):
    """Up to ``k`` winners among candidate neurons: earliest spike, then largest potential,
    then lowest flat index ``(f·Ho + y)·Wo + x``. A winner removes its feature everywhere
    and, if ``radius > 0``, every feature in the ``(2r+1)²`` square around it.

    Parameters
    ----------
    cand : int64 [≥ n_cand, 3]
        Firing neurons ``(f, y, x)`` (after pointwise inhibition).
    t_out, v_out : [Ho, Wo, F]
    win : int64 [k, 3] (output)
        ``(f, y, x)`` of each winner, in selection order.

    Returns
    -------
    int: number of winners.
    """
    Ho, Wo = t_out.shape[0], t_out.shape[1]
    alive = np.ones(n_cand, dtype=np.bool_)
    n = 0
    for _ in range(k):
        b = -1
        for i in range(n_cand):
            if not alive[i]:
                continue
            if b < 0:
                b = i
                continue
            f, y, x = cand[i, 0], cand[i, 1], cand[i, 2]
            fb, yb, xb = cand[b, 0], cand[b, 1], cand[b, 2]
            t, tb = t_out[y, x, f], t_out[yb, xb, fb]
            v, vb = v_out[y, x, f], v_out[yb, xb, fb]
            if t < tb or (t == tb and (v > vb or (v == vb and (f * Ho + y) * Wo + x < (fb * Ho + yb) * Wo + xb))):
                b = i
        if b < 0:
            break
        fb, yb, xb = cand[b, 0], cand[b, 1], cand[b, 2]
        win[n, 0], win[n, 1], win[n, 2] = fb, yb, xb
        n += 1
        for i in range(n_cand):
            if cand[i, 0] == fb or (
                radius > 0 and abs(cand[i, 1] - yb) <= radius and abs(cand[i, 2] - xb) <= radius
            ):
                alive[i] = False
    return n


@njit(cache=True, nogil=True)
def _pool_pad(t_out, k, s, pad, T, out):
    """Max-pool a spike wave (= min-pool of latencies) over [Ho, Wo, F], window ``k``,
    stride ``s``, floor mode, then pad by ``pad`` with silence; ``out`` is [F, Hp, Wp]."""
    Ho, Wo, F = t_out.shape
    Hp, Wp = (Ho - k) // s + 1, (Wo - k) // s + 1
    out[:] = T
    for py in range(Hp):
        for px in range(Wp):
            for f in range(F):
                m = T
                for dy in range(k):
                    for dx in range(k):
                        v = t_out[py * s + dy, px * s + dx, f]
                        if v < m:
                            m = v
                out[f, py + pad, px + pad] = m


@njit(cache=True, nogil=True)
def _layer_forward_one(lat, wt, threshold, pool_k, pool_s, pad, T, out):
    """Frozen layer for one sample: convolution, threshold, pooling, padding."""
    kh, kw, F = wt.shape[1], wt.shape[2], wt.shape[3]
    Ho, Wo = lat.shape[1] - kh + 1, lat.shape[2] - kw + 1
    t_out = np.empty((Ho, Wo, F), dtype=np.uint8)
    v_out = np.empty((Ho, Wo, F), dtype=np.float32)
    conv_first_spikes(lat, wt, threshold, False, T, t_out, v_out)
    _pool_pad(t_out, pool_k, pool_s, pad, T, out)


# Batch kernels exist twice: multi-threaded (``prange``) and single-threaded. GNU OpenMP,
# numba's default threading layer here, does not survive ``fork``: a process that forks
# workers must never have run a parallel kernel, so process pools use the serial versions.
@njit(cache=True, parallel=True)
def layer_forward_batch(lat, wt, threshold, pool_k, pool_s, pad, T, out):
    """Frozen layer over a batch (threads): ``lat`` uint8 [N, C, H, W] → ``out`` uint8
    [N, F, Hp + 2·pad, Wp + 2·pad]."""
    for n in prange(lat.shape[0]):
        _layer_forward_one(lat[n], wt, threshold, pool_k, pool_s, pad, T, out[n])


@njit(cache=True)
def layer_forward_batch_serial(lat, wt, threshold, pool_k, pool_s, pad, T, out):
    """:func:`layer_forward_batch` in one thread."""
    for n in range(lat.shape[0]):
        _layer_forward_one(lat[n], wt, threshold, pool_k, pool_s, pad, T, out[n])


@njit(cache=True, nogil=True)
def _decide_one(lat, wt, n_per_class, T, V):
    """Decision of the last layer for one sample: ``(class, feature, y, x)``; class −1 if
    no neuron has a positive potential. ``V`` is scratch [Ho, Wo, F]."""
    C, H, W = lat.shape
    kh, kw, F = wt.shape[1], wt.shape[2], wt.shape[3]
    Ho, Wo = H - kh + 1, W - kw + 1
    V[:] = 0.0
    for c in range(C):
        for y in range(H):
            for x in range(W):
                if lat[c, y, x] < T:
                    _add_input_spike(V, wt, c, y, x)
    bf, by, bx = -1, -1, -1
    best = np.float32(0.0)
    for f in range(F):  # flat-index order: ties keep the first
        for y in range(Ho):
            for x in range(Wo):
                if V[y, x, f] > best:
                    best = V[y, x, f]
                    bf, by, bx = f, y, x
    if bf < 0:
        return -1, -1, -1, -1
    return bf // n_per_class, bf, by, bx


@njit(cache=True, parallel=True)
def decide_batch(lat, wt, n_per_class, T, out):
    """Decisions of the last layer for a batch (threads): ``out`` int64 [N] (−1 = silent)."""
    kh, kw, F = wt.shape[1], wt.shape[2], wt.shape[3]
    for n in prange(lat.shape[0]):
        V = np.empty((lat.shape[2] - kh + 1, lat.shape[3] - kw + 1, F), dtype=np.float32)
        out[n] = _decide_one(lat[n], wt, n_per_class, T, V)[0]


@njit(cache=True)
def decide_batch_serial(lat, wt, n_per_class, T, out):
    """:func:`decide_batch` in one thread."""
    kh, kw, F = wt.shape[1], wt.shape[2], wt.shape[3]
    V = np.empty((lat.shape[2] - kh + 1, lat.shape[3] - kw + 1, F), dtype=np.float32)
    for n in range(lat.shape[0]):
        out[n] = _decide_one(lat[n], wt, n_per_class, T, V)[0]


@njit(cache=True, nogil=True)
def _update_winner(wt, lat, f, y, x, t_post, a_plus, a_minus, stabilizer, plastic, lower, upper, w_min, w_max):
    """First-spike STDP on the receptive field of winner ``(f, y, x)`` (first spike
    ``t_post``) against the input latencies ``lat`` [C, H, W]: the rule's increment (the
    stabiliser with the rule's bounds ``w_min``/``w_max``), scaled by ``plastic`` (0: frozen,
    bit-identical), then clipped to the per-synapse effective bounds ``[lower, upper]``
    (as :func:`~spikeforge.plasticity.constrained_update`)."""
    C, kh, kw = wt.shape[0], wt.shape[1], wt.shape[2]
    for c in range(C):
        for dy in range(kh):
            for dx in range(kw):
                m = plastic[c, dy, dx, f]
                if m == 0.0:
                    continue
                w = wt[c, dy, dx, f]
                w = w + first_spike_stdp_delta(
                    w, lat[c, y + dy, x + dx] <= t_post, m * a_plus, m * a_minus, stabilizer, w_min, w_max
                )
                lo, hi = lower[c, dy, dx, f], upper[c, dy, dx, f]
                wt[c, dy, dx, f] = lo if w < lo else (hi if w > hi else w)


@njit(cache=True, nogil=True)
def train_stdp_layer(lat, order, wt, threshold, k, radius, T, rates, schedule, plastic, lower, upper, w_min=0.0, w_max=1.0):
    """Unsupervised first-spike STDP of one convolutional layer, one sample at a time.

    Per sample: potentials → threshold → pointwise inhibition → k winners (radius) → STDP
    with the stabiliser at the winners, against the sample's input latencies.

    Parameters
    ----------
    lat : uint8 [N, C, H, W]
        Input latency maps (already padded).
    order : int64 [M]
        Sample indices in presentation order.
    wt : float32 [C, kh, kw, F]
        Weights, updated in place.
    rates : float64 [3]
        ``(a+, a−, counter)``, updated in place (the rate schedule state).
    schedule : float64 [3]
        ``(every, a_plus_max, a_minus_ratio)``: every ``every`` samples ``a+ ← min(2a+,
        a_plus_max)`` and ``a− ← a_minus_ratio·a+`` (before that sample's update).
    plastic, lower, upper : float32 [C, kh, kw, F]
        Increment multiplier (0 = frozen) and per-synapse effective bounds (the rule's,
        tightened by a constraint), which clip every updated weight.
    w_min, w_max : float, default 0 and 1
        The rule's own bounds, used by the stabiliser ``(w − w_min)(w_max − w)`` (not the
        constraint's: the increment is what the rule alone would add).
    """
    N, C, H, W = lat.shape
    kh, kw, F = wt.shape[1], wt.shape[2], wt.shape[3]
    Ho, Wo = H - kh + 1, W - kw + 1
    t_out = np.empty((Ho, Wo, F), dtype=np.uint8)
    v_out = np.empty((Ho, Wo, F), dtype=np.float32)
    win = np.empty((k, 3), dtype=np.int64)
    cand = np.empty((Ho * Wo, 3), dtype=np.int64)
    every, ap_max, ratio = int(schedule[0]), schedule[1], schedule[2]
    s_lo, s_hi = np.float32(w_min), np.float32(w_max)
    for i in range(order.shape[0]):
        n = order[i]
        rates[2] += 1
        if every > 0 and rates[2] >= every:
            rates[2] = 0
            rates[0] = min(rates[0] * 2.0, ap_max)
            rates[1] = rates[0] * ratio
        conv_first_spikes(lat[n], wt, threshold, False, T, t_out, v_out)
        n_cand = pointwise_inhibition(t_out, v_out, T, cand)
        nw = k_winners(cand, n_cand, t_out, v_out, k, radius, win)
        for j in range(nw):
            f, y, x = win[j, 0], win[j, 1], win[j, 2]
            _update_winner(
                wt, lat[n], f, y, x, t_out[y, x, f], rates[0], rates[1], True, plastic, lower, upper, s_lo, s_hi
            )


@njit(cache=True, nogil=True)
def train_rstdp(
    lat, labels, order, wt, plastic, lower, upper, rates, stabilizer, n_per_class, T, noise, sigma, out,
    w_min=0.2, w_max=0.8,
):
    """Reward-modulated STDP of the decision layer, one sample at a time.

    Per sample: final potentials → the single winner (largest potential) → its class
    ``f // n_per_class``; right: STDP with ``rates[0:2]``, wrong: anti-STDP with
    ``rates[2:4]``, silent: nothing. Inputs that fired at all count as "pre before post"
    (the winner fires at the last step). Each increment is multiplied by ``plastic`` and
    the result clipped to ``[lower, upper]`` (per synapse). If ``sigma > 0``, after every
    update all synapses get ``plastic·σ·ξ`` (``ξ`` read from ``noise``) and are clipped again
    (Langevin "research" phase). With ``stabilizer`` the increment is scaled by
    ``(w − w_min)(w_max − w)``, with the rule's bounds (not the constraint's).

    Parameters
    ----------
    lat : uint8 [N, C, H, W]
    labels : int64 [N]
    order : int64 [M]
    wt, plastic, lower, upper : float32 [C, kh, kw, F]
    rates : float64 [4]
        ``(reward a+, reward a−, punish a+, punish a−)``.
    noise : float32 [M, C·kh·kw·F] or [0, 0]
        Standard normal draws, row ``i`` used after the update of sample ``order[i]``.
    out : int64 [M]
        Decision for each presented sample (−1 silent).
    w_min, w_max : float, default 0.2 and 0.8
        The rule's own bounds, used only by the stabiliser (pass the model's decision bounds
        when ``stabilizer`` is on); ``lower``/``upper`` must already lie within them.

    Returns
    -------
    (hits, misses, silent) : counts over the presented samples.
    """
    N, C, H, W = lat.shape
    kh, kw, F = wt.shape[1], wt.shape[2], wt.shape[3]
    V = np.empty((H - kh + 1, W - kw + 1, F), dtype=np.float32)
    wflat = wt.reshape(-1)
    pflat = plastic.reshape(-1)
    lflat = lower.reshape(-1)
    uflat = upper.reshape(-1)
    hits, misses, silent = 0, 0, 0
    s_lo, s_hi = np.float32(w_min), np.float32(w_max)
    for i in range(order.shape[0]):
        n = order[i]
        d, f, y, x = _decide_one(lat[n], wt, n_per_class, T, V)
        out[i] = d
        if d < 0:
            silent += 1
            continue
        if d == labels[n]:
            hits += 1
            ap, am = rates[0], rates[1]
        else:
            misses += 1
            ap, am = rates[2], rates[3]
        # the winner fires at the last step: every input that fired at all came first
        _update_winner(wt, lat[n], f, y, x, T - 1, ap, am, stabilizer, plastic, lower, upper, s_lo, s_hi)
        if sigma > 0.0:
            for j in range(wflat.shape[0]):
                if pflat[j] == 0.0:
                    continue
                w = wflat[j] + pflat[j] * sigma * noise[i, j]
                lo, hi = lflat[j], uflat[j]
                wflat[j] = lo if w < lo else (hi if w > hi else w)
    return hits, misses, silent

"""Compiled (numba) time loop of :class:`spikeforge.sim.Network`.

The network is flattened into arrays (see ``Network._compile``): every neuron of every
population has a global index; every synapse of every connection has a global index, stored
connection by connection, presynaptic-major. A *slot* is one (connection, postsynaptic
neuron) pair and carries that neuron's postsynaptic traces and learning gates for that
connection. A *segment* is a run of synapses with one source, delay and connection: its
synapses receive every spike at the same step, so their presynaptic trace and last-arrival
step are stored once per segment (``sx``, ``stl``). Nothing here knows about any particular model.

One step ``t`` of a presentation, in this order (the reference stepper in
:mod:`spikeforge.sim.reference` follows the same order, so both produce identical spikes):

1. input neurons whose Poisson train has a spike at ``t`` fire;
2. every LIF neuron integrates one Euler step (unless clamped while refractory), its synaptic
   variables and ``θ`` decay, and it fires if ``v > threshold`` and it is not refractory;
3. spikes are delivered: first those emitted at ``t`` through zero-delay synapses, then those
   emitted at ``t − d`` through synapses of delay ``d = 1 … D``; each delivery applies the
   use-it-or-lose-it decay (if enabled), adds ``w`` to the target's ``g_e``/``g_i``, bumps the
   synapse's presynaptic trace and applies the pre-event weight update (gate ``lr1``);
   within one delay, sources are taken input spikes first, then LIF spikes, each in ascending
   global index, and each source's synapses in (connection, target) order;
4. for every LIF neuron that fired at ``t``: post-event weight updates of its plastic inputs
   (gate ``lr2``), its postsynaptic traces bump, then ``v ← v_reset`` and ``θ ← θ + θ_plus``.

Synaptic input delivered at step ``t`` acts on the membrane from step ``t + 1`` on (Brian's
order: state update → thresholds → synaptic pathways (pre before post) → resets).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from .. import _numba_cache  # noqa: F401  (cache stamps that see inlined primitives; before any @njit)
from ..encoding.poisson import _combine, _poisson_by_step, _presentation_key
from ..neurons.lif import lif_conductance_euler, lif_current_euler
from ..plasticity.trace_stdp import (
    stdp_ltd_factor,
    stdp_post_update,
    trace_bump,
    trace_read,
    use_it_or_lose_it,
)

# neuron parameter columns (nprm[N, NP])
N_KIND, N_V_REST, N_V_RESET, N_V_TH, N_E_EXC, N_E_INH, N_DT_TAU, N_DEC_GE, N_DEC_GI = range(9)
N_REF, N_CLAMP, N_TH_PLUS, N_DEC_TH, N_SNAP, N_MAXD, N_V_INIT, N_BLOCK = range(9, 17)
NP = 17
KIND_INPUT, KIND_CONDUCTANCE, KIND_CURRENT = 0, 1, 2

# connection parameter columns (cprm[C, CP])
C_RECEPTOR, C_PLASTIC, C_A_PLUS, C_A_MINUS, C_W_MIN, C_W_MAX, C_NEAREST, C_TRIPLET = range(8)
C_TAB_PRE, C_TAB_POST, C_TAB_POST2, C_LEN_PRE, C_LEN_POST, C_LEN_POST2 = range(8, 14)
C_PRUNE_TAU, C_NORM, C_SLOT_OFF, C_N_POST, C_SLOT_SHIFT = range(14, 19)
C_MU_PLUS, C_MU_MINUS = range(19, 21)  # weight-dependence exponents (0: the additive rule)
CP = 21

# run flags (flags[F], float64)
F_LEARN, F_ADAPT, F_USE_THETA, F_KP, F_NORMALIZE, F_TRACES = range(6)
F_MIN_SPIKES, F_RETRY_LO, F_RETRY_HI, F_MAX_RETRIES, F_RETRY_GAIN = range(6, 11)
NF = 11

NEVER = -(2**40)  # "last spike" of a neuron that never fired

# how a connection's segments are delivered within one presentation (see ``_present``)
K_EXC, K_INH, K_LEARN, K_SEGMENT = range(4)
FLAT_W = 16  # segments up to this many synapses are listed with one fixed-width store


@njit(cache=True, nogil=True)
def _normalize(cprm, w, syn_post, norm_run, colsum):
    """Rescale each plastic slot's incoming weights to its connection's ``norm_total``.

    ``norm_run`` lists runs ``[lo, hi)`` of synapses of normalised connections in storage order
    (so each slot's weights are summed in ascending presynaptic order) with the connection's
    slot shift (slot = target + shift).
    """
    colsum[:] = 0.0
    for r in range(norm_run.shape[0]):
        shift = norm_run[r, 2]
        for s in range(uint64(norm_run[r, 0]), uint64(norm_run[r, 1])):
            colsum[uint64(syn_post[s] + shift)] += w[s]
    for c in range(cprm.shape[0]):
        total = cprm[c, C_NORM]
        if cprm[c, C_PLASTIC] == 0.0 or total <= 0.0:
            continue
        off = int(cprm[c, C_SLOT_OFF])
        for p in range(off, off + int(cprm[c, C_N_POST])):
            colsum[p] = total / colsum[p] if colsum[p] > 0.0 else 1.0
    for r in range(norm_run.shape[0]):
        shift = norm_run[r, 2]
        for s in range(uint64(norm_run[r, 0]), uint64(norm_run[r, 1])):
            w[s] *= colsum[uint64(syn_post[s] + shift)]  # × 1.0 (slot left unchanged) is exact


@njit(cache=True, nogil=True)
def index_keys(seed, first_index, n):
    """Random keys of presentations ``first_index … first_index + n − 1`` under ``seed``."""
    out = np.empty(n, dtype=np.uint64)
    for a in range(n):
        out[a] = _combine(seed, first_index + a)
    return out


@njit(cache=True, nogil=True)
def content_keys(seed, bits):
    """Random keys derived from the content of each row of ``bits`` (the uint64 view of float64
    rates): FNV-1a over the row, mixed with ``seed``."""
    out = np.empty(bits.shape[0], dtype=np.uint64)
    for a in range(bits.shape[0]):
        h = np.uint64(14695981039346656037)
        for b in range(bits.shape[1]):
            h = (h ^ bits[a, b]) * np.uint64(1099511628211)
        out[a] = _combine(seed, h)
    return out


@njit(cache=True, nogil=True, inline="always")
def _pre_event(w, s, ws, pre_lin, p, mu_minus, w_min, w_max):
    """Pre-event weight update of synapse ``s`` (weight ``ws``) into slot ``p``, branch-free for
    the additive rule (``mu_minus = 0``).

    ``pre_lin[p] = (lr1·A−·y1, lo, hi)`` holds the slot's terms at the current step, with
    ``(lo, hi) = (w_min, w_max)`` where the gate ``lr1`` is on and ``(−inf, inf)`` where it is 0,
    so ``min(max(ws − lr1·A−·y1·f−(ws), lo), hi)`` (``f−`` the connection's
    :func:`~spikeforge.plasticity.trace_stdp.stdp_ltd_factor`, exactly 1 for ``mu_minus = 0``)
    equals :func:`~spikeforge.plasticity.trace_stdp.stdp_pre_update` where the gate is on and
    leaves the weight unchanged where it is off (the term is 0), exactly as the reference stepper does.
    """
    wn = ws - pre_lin[p, 0] * stdp_ltd_factor(ws, mu_minus, w_min, w_max)
    wn = wn if wn >= pre_lin[p, 1] else pre_lin[p, 1]
    w[s] = wn if wn <= pre_lin[p, 2] else pre_lin[p, 2]


@njit(cache=True, nogil=True)
def _present(topo, nprm, cprm, tab, st, rates, ext_row, ext_idx, gain, key, n_active, n_rest, dt, gates, flags,
             onset, counts, rec_t, rec_i, rec_n, rec_v_idx, rec_v, rec_v_n):
    """Simulate one presentation (``n_active`` steps of input, ``n_rest`` steps without).

    Input spikes are Poisson trains of ``rates`` (Hz, times ``gain``) drawn with ``key``, or, when
    ``ext_row`` is not empty, the given trains: the spikes of active step ``s`` are input indices
    ``ext_idx[ext_row[s]:ext_row[s + 1]]`` (ascending within a step, as the Poisson trains).

    With ``onset`` the presentation starts with the threshold snapshot and, if enabled, the
    weight normalisation.
    ``counts`` [N] accumulates spikes of the active phase. Spikes are recorded into
    ``rec_t/rec_i`` (while capacity lasts) and potentials of ``rec_v_idx`` into ``rec_v``.

    Speed notes (none of these changes an operation on a value): each step first lists the
    segments it delivers, in delivery order; the synapse indices of segments of "flat"
    connections (no decay, nearest-spike or no traces) are appended to one list with a
    fixed-width store, so the delivery loop runs over all of a connection's synapses of the step
    at once instead of segment by segment (with random delays a segment holds ≈ 5 synapses, and
    each segment's loop exit was a mispredicted branch); the connection's parameters are loaded
    once per run; the postsynaptic term ``lr1·A−·y1`` each pre event reads is refreshed once per
    step, and only for the "hot" slots whose trace is not yet 0 (it only changes in the
    post-event phase, after every delivery; each connection keeps its own hot list, so the
    refresh never scans another connection's slots); the pre-event update is branch-free
    (:func:`_pre_event`). Diehl & Cook image with learning, chunks of 50
    (``benchmarks/diehl_cook_speed.py``): 2.6 → 2.0 ms with the segment listing of the previous
    version, 2.1–2.2 → 1.9 ms with the flat list and the hot slots (A/B in docs/local_learning.md).
    """
    (lif_pops, pprm, input_idx, seg_ptr, seg_lo, seg_conn, syn_post, slot_conn, inp_ptr, inp_syn, inp_seg,
     kslot_ptr, kslot, norm_run) = topo
    v, ge, gi, theta, theta_snap, last_spike, w, sx, stl, y1, y2, ylast, ring_ids, ring_n, clock = st
    learning = flags[F_LEARN] != 0.0
    adapt = flags[F_ADAPT] != 0.0
    use_theta = flags[F_USE_THETA] != 0.0
    kp = flags[F_KP]
    traces_on = flags[F_TRACES] != 0.0
    R = ring_n.shape[0]
    N = v.shape[0]
    C = cprm.shape[0]
    P = slot_conn.shape[0]

    # onset: threshold snapshot, weight normalisation
    for g in range(lif_pops.shape[0]):
        if onset and pprm[g, N_SNAP] != 0.0:
            for i in range(lif_pops[g, 0], lif_pops[g, 1]):
                theta_snap[i] = theta[i]
    if onset and flags[F_NORMALIZE] != 0.0:
        _normalize(cprm, w, syn_post, norm_run, np.empty(P))

    if ext_row.shape[0] > 0:
        in_ptr, in_idx = ext_row, ext_idx
    else:
        in_ptr, in_idx = _poisson_by_step(rates, gain, n_active, dt, key)
    spk = np.empty(N, dtype=np.int32)
    rec_cap = rec_t.shape[0]
    rec_v_cap = rec_v.shape[0]
    # pre-event terms per slot: lr1·A−·y1 (valid where y_step[c] == t), lower and upper bound.
    # Only "hot" slots (gate lr1 on and postsynaptic trace not yet 0) have a term that changes
    # with t; the others hold lr1·A−·0, exactly what the trace read would give. A slot turns hot
    # when its neuron fires and cold when a refresh finds its trace past the decay table.
    # Connection c's hot slots are hot[off_c : off_c + n_hot[c]] (off_c its first slot: a
    # connection's slots are contiguous, so its region can hold all of them).
    pre_lin = np.zeros((P, 3))
    y_step = np.full(C, NEVER, dtype=np.int64)
    hot = np.empty(P, dtype=np.int64)
    is_hot = np.zeros(P, dtype=np.bool_)
    n_hot = np.zeros(C, dtype=np.int64)
    # per connection, fixed for the presentation: whether pre events update weights (``learn``),
    # how its segments are delivered (``kind``) and whether a delivery sets its segments'
    # nearest-spike presynaptic trace (``mark``); every learning slot starts hot
    learn = np.zeros(C, dtype=np.bool_)
    kind = np.empty(C, dtype=np.int64)
    mark = np.zeros(C, dtype=np.bool_)
    for c in range(C):
        plastic = cprm[c, C_PLASTIC] != 0.0
        exc = cprm[c, C_RECEPTOR] == 0.0
        nearest = cprm[c, C_NEAREST] != 0.0
        prune = plastic and cprm[c, C_PRUNE_TAU] > 0.0 and kp != 0.0
        learn[c] = plastic and traces_on and learning
        if not plastic:
            kind[c] = K_EXC if exc else K_INH
        elif prune or (traces_on and not nearest) or (learn[c] and not exc):
            kind[c] = K_SEGMENT
        else:
            kind[c] = K_LEARN if learn[c] else (K_EXC if exc else K_INH)
            mark[c] = traces_on
        if learn[c]:
            off = int(cprm[c, C_SLOT_OFF])
            for p in range(off, off + int(cprm[c, C_N_POST])):
                on = gates[p, 0] != 0.0
                pre_lin[p, 1] = cprm[c, C_W_MIN] if on else -np.inf
                pre_lin[p, 2] = cprm[c, C_W_MAX] if on else np.inf
                hot[off + n_hot[c]] = p
                is_hot[p] = True
                n_hot[c] += 1
    runs = np.empty((seg_conn.shape[0], 4), dtype=np.int64)  # a step delivers each segment at most once
    flat = np.empty(syn_post.shape[0] + FLAT_W, dtype=np.int64)

    for step in range(n_active + n_rest):
        t = clock[0]
        n_spk = 0
        # 1. input spikes
        if step < n_active:
            for a in range(in_ptr[step], in_ptr[step + 1]):
                spk[n_spk] = input_idx[in_idx[a]]
                n_spk += 1
        n_in = n_spk
        # 2. LIF neurons, population by population (parameters hoisted)
        for g in range(lif_pops.shape[0]):
            conductance = pprm[g, N_KIND] == KIND_CONDUCTANCE
            v_rest = pprm[g, N_V_REST]
            e_exc = pprm[g, N_E_EXC]
            e_inh = pprm[g, N_E_INH]
            dt_tau = pprm[g, N_DT_TAU]
            dec_ge = pprm[g, N_DEC_GE]
            dec_gi = pprm[g, N_DEC_GI]
            dec_th = pprm[g, N_DEC_TH]
            ref = int(pprm[g, N_REF])
            block = int(pprm[g, N_BLOCK])
            clamp = pprm[g, N_CLAMP] != 0.0
            v_th = pprm[g, N_V_TH]
            snap = pprm[g, N_SNAP] != 0.0
            lo = uint64(lif_pops[g, 0])
            hi = uint64(lif_pops[g, 1])
            # integrate and decay (a branch-free loop over contiguous arrays: vectorised), then fire
            for i in range(lo, hi):
                vi = v[i]
                if conductance:
                    vn = lif_conductance_euler(vi, ge[i], gi[i], v_rest, e_exc, e_inh, dt_tau)
                else:
                    vn = lif_current_euler(vi, ge[i], gi[i], v_rest, dt_tau)
                v[i] = vi if (clamp and t - last_spike[i] < ref) else vn
                ge[i] *= dec_ge
                gi[i] *= dec_gi
            if adapt:
                for i in range(lo, hi):
                    theta[i] *= dec_th
            for i in range(lo, hi):
                thr = v_th
                if use_theta:
                    thr += theta_snap[i] if snap else theta[i]
                if v[i] > thr and t - last_spike[i] >= block:
                    spk[n_spk] = i
                    n_spk += 1
        # 3. deliveries: delay 0 from this step's spikes, then delays 1..D from the ring
        # (a) list this step's segments in delivery order. Segments of "flat" connections (a fixed
        # per-presentation kind, see above) have their synapse indices appended to ``flat``, and
        # consecutive segments of one connection form one run; any other segment is a run of its own.
        sl0 = t % R
        n_run = 0
        n_flat = 0
        run_c = -1
        for d in range(R):
            if d == 0:
                n_from = n_spk
                sl = 0
            else:
                sl = sl0 - d if d <= sl0 else sl0 - d + R  # (t − d) mod R without a division
                n_from = ring_n[sl]
            for a in range(n_from):
                base = (spk[a] if d == 0 else ring_ids[sl, a]) * R + d
                for g in range(seg_ptr[base], seg_ptr[base + 1]):
                    c = seg_conn[g]
                    kd = kind[c]
                    if kd == K_SEGMENT:
                        if run_c >= 0:  # close the open run
                            runs[n_run - 1, 3] = n_flat
                        runs[n_run, 0] = K_SEGMENT
                        runs[n_run, 1] = c
                        runs[n_run, 2] = g
                        n_run += 1
                        run_c = -1
                        continue
                    if c != run_c:
                        if run_c >= 0:
                            runs[n_run - 1, 3] = n_flat
                        runs[n_run, 0] = kd
                        runs[n_run, 1] = c
                        runs[n_run, 2] = n_flat
                        n_run += 1
                        run_c = c
                    if mark[c]:
                        sx[g] = 1.0
                        stl[g] = t
                    lo = seg_lo[g]
                    n = seg_lo[g + 1] - lo
                    if n <= FLAT_W:  # fixed-width store (no data-dependent loop exit); the tail is overwritten
                        for j in range(FLAT_W):
                            flat[uint64(n_flat + j)] = lo + j
                    else:
                        for j in range(n):
                            flat[uint64(n_flat + j)] = lo + j
                    n_flat += n
        if run_c >= 0:
            runs[n_run - 1, 3] = n_flat
        # (b) ... then deliver them, run by run
        c_cur = -1
        exc = True
        prune = False
        tau_prun = 0.0
        nearest = False
        mu_minus = 0.0
        cw_min = cw_max = 0.0
        pre_start = pre_len = shift = 0
        for r in range(n_run):
            kd = runs[r, 0]
            c = runs[r, 1]
            if c != c_cur:
                c_cur = c
                exc = cprm[c, C_RECEPTOR] == 0.0
                tau_prun = cprm[c, C_PRUNE_TAU]
                prune = tau_prun > 0.0 and kp != 0.0  # read only by K_SEGMENT runs, all plastic
                nearest = cprm[c, C_NEAREST] != 0.0
                pre_start = int(cprm[c, C_TAB_PRE])
                pre_len = int(cprm[c, C_LEN_PRE])
                shift = int(cprm[c, C_SLOT_SHIFT])
                mu_minus = cprm[c, C_MU_MINUS]
                cw_min = cprm[c, C_W_MIN]
                cw_max = cprm[c, C_W_MAX]
                if learn[c] and y_step[c] != t:  # refresh the pre-event terms of c's hot slots
                    y_step[c] = t
                    a_minus = cprm[c, C_A_MINUS]
                    post_start = int(cprm[c, C_TAB_POST])
                    post_len = int(cprm[c, C_LEN_POST])
                    off = int(cprm[c, C_SLOT_OFF])
                    i = off
                    while i < off + n_hot[c]:
                        p = hot[i]
                        lr1 = gates[p, 0]
                        on = lr1 != 0.0 and t - ylast[p] < post_len
                        y = trace_read(y1[p], ylast[p], t, tab, post_start, post_len) if on else 0.0
                        pre_lin[p, 0] = lr1 * a_minus * y
                        if on:
                            i += 1
                        else:  # its trace reads 0 until its neuron fires again: cold
                            is_hot[p] = False
                            n_hot[c] -= 1
                            hot[i] = hot[off + n_hot[c]]
            if kd == K_EXC:
                for q in range(uint64(runs[r, 2]), uint64(runs[r, 3])):
                    s = flat[q]
                    ge[uint64(syn_post[s])] += w[s]
            elif kd == K_INH:
                for q in range(uint64(runs[r, 2]), uint64(runs[r, 3])):
                    s = flat[q]
                    gi[uint64(syn_post[s])] += w[s]
            elif kd == K_LEARN:  # Diehl & Cook's input synapses
                for q in range(uint64(runs[r, 2]), uint64(runs[r, 3])):
                    s = flat[q]
                    k = syn_post[s]
                    ws = w[s]
                    ge[uint64(k)] += ws
                    _pre_event(w, s, ws, pre_lin, uint64(k + shift), mu_minus, cw_min, cw_max)
            else:  # one segment of a plastic connection: decay, inhibitory learning, all-to-all traces
                g = runs[r, 2]
                since_ms = (t - stl[g]) * dt  # the segment's synapses share their last arrival
                for s in range(uint64(seg_lo[g]), uint64(seg_lo[g + 1])):
                    if prune:
                        w[s] = use_it_or_lose_it(w[s], since_ms, tau_prun, kp)
                    k = uint64(syn_post[s])
                    ws = w[s]
                    if exc:
                        ge[k] += ws
                    else:
                        gi[k] += ws
                    if traces_on and learning:
                        _pre_event(w, s, ws, pre_lin, uint64(k + shift), mu_minus, cw_min, cw_max)
                if traces_on:
                    sx[g] = 1.0 if nearest else trace_bump(trace_read(sx[g], stl[g], t, tab, pre_start, pre_len),
                                                           False)
                    stl[g] = t
        # 4. post events and resets of the LIF neurons that fired
        for a in range(n_in, n_spk):
            k = spk[a]
            if traces_on:
                for b in range(kslot_ptr[k], kslot_ptr[k + 1]):
                    p = kslot[b]
                    c = slot_conn[p]
                    y1_now = trace_read(y1[p], ylast[p], t, tab, int(cprm[c, C_TAB_POST]), int(cprm[c, C_LEN_POST]))
                    triplet = cprm[c, C_TRIPLET] != 0.0
                    y2_now = 1.0
                    if triplet:
                        y2_now = trace_read(y2[p], ylast[p], t, tab, int(cprm[c, C_TAB_POST2]), int(cprm[c, C_LEN_POST2]))
                    lr2 = gates[p, 1]
                    if learning and lr2 != 0.0:
                        pre_start = int(cprm[c, C_TAB_PRE])
                        pre_len = int(cprm[c, C_LEN_PRE])
                        a_plus = cprm[c, C_A_PLUS]
                        mu_plus = cprm[c, C_MU_PLUS]
                        w_min = cprm[c, C_W_MIN]
                        w_max = cprm[c, C_W_MAX]
                        for q in range(uint64(inp_ptr[p]), uint64(inp_ptr[p + 1])):
                            s = uint64(inp_syn[q])
                            gq = uint64(inp_seg[q])
                            x_now = trace_read(sx[gq], stl[gq], t, tab, pre_start, pre_len)
                            ws = w[s]
                            if x_now != 0.0 or ws > w_max or ws < w_min:  # else the identity
                                w[s] = stdp_post_update(ws, x_now, y2_now, lr2, a_plus, mu_plus, w_min, w_max)
                    nearest = cprm[c, C_NEAREST] != 0.0
                    y1[p] = trace_bump(y1_now, nearest)
                    if triplet:
                        y2[p] = trace_bump(y2_now, nearest)
                    ylast[p] = t
                    if learn[c] and not is_hot[p]:
                        hot[int(cprm[c, C_SLOT_OFF]) + n_hot[c]] = p
                        is_hot[p] = True
                        n_hot[c] += 1
            v[k] = nprm[k, N_V_RESET]
            last_spike[k] = t
            if adapt:
                theta[k] += nprm[k, N_TH_PLUS]
        # bookkeeping: counts, ring, monitors
        if step < n_active:
            for a in range(n_spk):
                counts[spk[a]] += 1
        sl = t % R
        ring_n[sl] = 0
        for a in range(n_spk):
            if nprm[spk[a], N_MAXD] > 0:
                ring_ids[sl, ring_n[sl]] = spk[a]
                ring_n[sl] += 1
        for a in range(n_spk):
            if rec_n[0] < rec_cap:
                rec_t[rec_n[0]] = t
                rec_i[rec_n[0]] = spk[a]
            rec_n[0] += 1
        if rec_v_idx.shape[0] > 0 and rec_v_n[0] < rec_v_cap:
            for a in range(rec_v_idx.shape[0]):
                rec_v[rec_v_n[0], a] = v[rec_v_idx[a]]
            rec_v_n[0] += 1
        clock[0] = t + 1


@njit(cache=True, nogil=True)
def _present_retry(topo, nprm, cprm, tab, st, rates, ext_row, ext_idx, gates, seed, index, n_active, n_rest, dt, flags,
                   rest_after_last, counts, rec_t, rec_i, rec_n, rec_v_idx, rec_v, rec_v_n):
    """One presentation with Diehl & Cook's repetition rule; returns the number of repetitions.

    With ``flags[F_MIN_SPIKES] > 0`` a presentation whose neurons ``[retry_lo, retry_hi)`` fire
    fewer spikes than that in the active phase is repeated (after its rest phase) with the
    input rates multiplied by ``1 + attempt·retry_gain``, up to ``max_retries`` times;
    ``counts`` keeps the last attempt. Attempt ``a`` uses random key ``(seed, index, a)``.
    """
    min_spikes = flags[F_MIN_SPIKES]
    lo = int(flags[F_RETRY_LO])
    hi = int(flags[F_RETRY_HI])
    max_retries = int(flags[F_MAX_RETRIES])
    attempt = 0
    while True:
        counts[:] = 0
        key = _presentation_key(seed, index, attempt)
        gain = 1.0 + attempt * flags[F_RETRY_GAIN]
        _present(topo, nprm, cprm, tab, st, rates, ext_row, ext_idx, gain, key, n_active, 0, dt, gates, flags, True,
                 counts, rec_t, rec_i, rec_n, rec_v_idx, rec_v, rec_v_n)
        again = False
        if min_spikes > 0.0 and attempt < max_retries:
            total = 0
            for i in range(lo, hi):
                total += counts[i]
            again = total < min_spikes
        if n_rest > 0 and (again or rest_after_last):
            _present(topo, nprm, cprm, tab, st, rates, ext_row, ext_idx, gain, key, 0, n_rest, dt, gates, flags,
                     False, counts, rec_t, rec_i, rec_n, rec_v_idx, rec_v, rec_v_n)
        if not again:
            return attempt
        attempt += 1


@njit(cache=True, nogil=True)
def run_sequential(topo, nprm, cprm, tab, st, rates, ext_ptr, ext_idx, gate_pat, gate_idx, seed, first_index, n_active,
                   n_rest, dt, flags, counts, attempts, rec_t, rec_i, rec_n, rec_v_idx, rec_v, rec_v_n):
    """Present ``rates.shape[0]`` inputs one after another with persistent state (training or
    sequential testing); presentation ``n`` has index ``first_index + n`` (random keys). Given
    input trains: ``ext_ptr`` [n, n_active + 1] (offsets into ``ext_idx``, see :func:`_present`);
    Poisson trains of ``rates``: ``ext_ptr`` [n, 0]."""
    for n in range(rates.shape[0]):
        attempts[n] = _present_retry(topo, nprm, cprm, tab, st, rates[n], ext_ptr[n], ext_idx, gate_pat[gate_idx[n]], seed,
                                     first_index + n, n_active, n_rest, dt, flags, True, counts[n],
                                     rec_t, rec_i, rec_n, rec_v_idx, rec_v, rec_v_n)


@njit(cache=True, nogil=True)
def _batch_one(n, topo, nprm, cprm, tab, st, rates, ext_ptr, ext_idx, gate_pat, keys, n_active, n_rest, dt, flags, counts,
               attempts):
    """Presentation ``n`` of a frozen batch, on its own fresh state (see :func:`run_batch`)."""
    v0, _, _, theta0, snap0, _, w, sx, stl, y1, y2, ylast, ring0, _, _ = st
    N = v0.shape[0]
    R = ring0.shape[0]
    v = np.empty(N)
    for a in range(N):
        v[a] = nprm[a, N_V_REST]
    # The ring of spikes in flight is read only below ``ring_n[slot]`` (zeroed here), so its ids need
    # no zero-fill: ``np.empty`` touches only the pages that spikes are written to, where a zeroed
    # ``[R, N]`` array would cost its full size (hundreds of MB at long delays) per presentation.
    state = (v, np.zeros(N), np.zeros(N), theta0.copy(), snap0.copy(), np.full(N, NEVER, dtype=np.int64), w, sx, stl,
             y1, y2, ylast, np.empty((R, N), dtype=np.int32), np.zeros(R, dtype=np.int32), np.zeros(1, dtype=np.int64))
    attempts[n] = _present_retry(topo, nprm, cprm, tab, state, rates[n], ext_ptr[n], ext_idx, gate_pat[0], keys[n], 0,
                                 n_active, n_rest,
                                 dt, flags, False, counts[n], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32),
                                 np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros((0, 0)),
                                 np.zeros(1, dtype=np.int64))


@njit(cache=True, parallel=True)
def run_batch(topo, nprm, cprm, tab, st, rates, ext_ptr, ext_idx, gate_pat, keys, n_active, n_rest, dt, flags, counts,
              attempts):
    """Frozen-weight inference of many presentations in parallel (one thread per image).

    Every presentation starts from the resting state (``v = v_rest``, no synaptic input, not
    refractory, no spikes in flight) with the network's current ``θ``; weights, traces and
    ``θ`` are not modified. Repetitions (``flags[F_MIN_SPIKES]``) follow the presentation's
    rest phase. Presentation ``n`` uses random keys ``(keys[n], 0, attempt)``, so its result does
    not depend on the batch it is in.
    """
    for n in prange(rates.shape[0]):
        _batch_one(n, topo, nprm, cprm, tab, st, rates, ext_ptr, ext_idx, gate_pat, keys, n_active, n_rest, dt, flags,
                   counts, attempts)


@njit(cache=True, nogil=True)
def run_batch_serial(topo, nprm, cprm, tab, st, rates, ext_ptr, ext_idx, gate_pat, keys, n_active, n_rest, dt, flags,
                     counts, attempts):
    """:func:`run_batch` on one thread (no threading layer: safe before ``fork``)."""
    for n in range(rates.shape[0]):
        _batch_one(n, topo, nprm, cprm, tab, st, rates, ext_ptr, ext_idx, gate_pat, keys, n_active, n_rest, dt, flags,
                   counts, attempts)

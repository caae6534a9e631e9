"""Readable reference stepper for :class:`~spikeforge.sim.Network` (for tests, not for speed).

:class:`ReferenceNetwork` copies a network's structure and weights and simulates it with
plain Python loops over steps, neurons and synapses, on dense per-connection matrices
(``W[j, k]``, delays ``D[j, k]``, presynaptic traces ``X[j, k]``). It is an independent
implementation of the semantics documented in :mod:`spikeforge.sim._kernel` and shares only
the per-event formulas (:mod:`spikeforge.neurons.lif`, :mod:`spikeforge.plasticity.trace_stdp`)
and the Poisson input trains (:mod:`spikeforge.encoding.poisson`, same counter-based keys).
Because both process events in the same order with the same floating-point operations, the
compiled engine and this stepper produce **identical** spikes, counts and weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..encoding.poisson import _poisson_by_step, presentation_key
from ..neurons.lif import lif_conductance_euler, lif_current_euler
from ..plasticity.trace_stdp import (
    decay_table,
    stdp_post_update,
    stdp_pre_update,
    trace_bump,
    trace_read,
    use_it_or_lose_it,
)
from .network import Network, RunResult

__all__ = ["ReferenceNetwork"]


def _read(value: float, last: int, now: int, table: np.ndarray) -> float:
    """A lazily decayed trace (see :func:`~spikeforge.plasticity.trace_stdp.trace_read`)."""
    return trace_read(value, last, now, table, 0, table.shape[0])


class ReferenceNetwork:
    """A slow, readable twin of a :class:`Network`, starting from the network's initial state
    and its current weights (call it before running the network you compare with)."""

    def __init__(self, net: Network) -> None:
        net.build()
        self.net = net
        self.dt = net.dt_ms
        self.seed = net.poisson_seed
        self.presented = net.presented
        self.clock = 0
        self.pops = list(net.populations.values())
        self.conns = list(net.connections.values())
        self.inputs = [p for p in self.pops if p.is_input]
        self.lif = [p for p in self.pops if not p.is_input]
        self.state = {}
        for p in self.lif:
            prm = p.params
            self.state[p.name] = {
                "v": np.full(p.n, prm.v_rest_mv if prm.v_init_mv is None else prm.v_init_mv, dtype=np.float64),
                "ge": np.zeros(p.n),
                "gi": np.zeros(p.n),
                "theta": np.full(p.n, prm.theta_init_mv, dtype=np.float64),
                "snap": np.full(p.n, prm.theta_init_mv, dtype=np.float64),
                "last": np.full(p.n, -(2**40), dtype=np.int64),
            }
        self.syn = {}
        for c in self.conns:
            s = {"W": c.weights, "D": c.delay_steps, "M": c.mask}
            if c.plasticity is not None:
                r = c.plasticity
                s.update(X=np.zeros(c.mask.shape), TL=np.zeros(c.mask.shape, dtype=np.int64),
                         Y1=np.zeros(c.post.n), Y2=np.zeros(c.post.n), YL=np.zeros(c.post.n, dtype=np.int64),
                         tab_pre=decay_table(r.tau_pre_ms, self.dt), tab_post=decay_table(r.tau_post_ms, self.dt),
                         tab_post2=decay_table(r.tau_post2_ms, self.dt) if r.tau_post2_ms else None)
            self.syn[c.name] = s
        self.history: dict[int, list[int]] = {}
        self.max_delay = max((int(c.delays.max()) for c in self.conns if c.delays.size), default=0)

    def weights(self, name: str) -> np.ndarray:
        """Current dense weights of a connection."""
        return self.syn[name]["W"].copy()

    def theta(self, population: str) -> np.ndarray:
        return self.state[population]["theta"].copy()

    def _pop_of(self, g: int):
        for p in self.pops:
            if p.offset <= g < p.offset + p.n:
                return p
        raise IndexError(g)

    def _deliver(self, conn, j, k, t, kp, learning, gates):
        s = self.syn[conn.name]
        W = s["W"]
        r = conn.plasticity
        if r is not None and r.prune_tau_ms and kp != 0.0:
            W[j, k] = use_it_or_lose_it(W[j, k], (t - s["TL"][j, k]) * self.dt, r.prune_tau_ms, kp)
        st = self.state[conn.post.name]
        if conn.receptor == "exc":
            st["ge"][k] += W[j, k]
        else:
            st["gi"][k] += W[j, k]
        if r is not None:
            x_now = _read(s["X"][j, k], s["TL"][j, k], t, s["tab_pre"])
            s["X"][j, k] = trace_bump(x_now, r.nearest)
            s["TL"][j, k] = t
            if learning:
                lr1 = gates[conn.name][k, 0]
                if lr1 != 0.0:
                    y = _read(s["Y1"][k], s["YL"][k], t, s["tab_post"])
                    W[j, k] = stdp_pre_update(W[j, k], y, lr1, r.a_minus, r.mu_minus, r.w_min, r.w_max)

    def _post_event(self, conn, k, t, learning, gates):
        s = self.syn[conn.name]
        r = conn.plasticity
        y1_now = _read(s["Y1"][k], s["YL"][k], t, s["tab_post"])
        y2_now = _read(s["Y2"][k], s["YL"][k], t, s["tab_post2"]) if r.tau_post2_ms else 1.0
        lr2 = gates[conn.name][k, 1]
        if learning and lr2 != 0.0:
            for j in range(conn.pre.n):
                if s["M"][j, k]:
                    x_now = _read(s["X"][j, k], s["TL"][j, k], t, s["tab_pre"])
                    s["W"][j, k] = stdp_post_update(s["W"][j, k], x_now, y2_now, lr2, r.a_plus, r.mu_plus,
                                                    r.w_min, r.w_max)
        s["Y1"][k] = trace_bump(y1_now, r.nearest)
        if r.tau_post2_ms:
            s["Y2"][k] = trace_bump(y2_now, r.nearest)
        s["YL"][k] = t

    def _normalize(self):
        for c in self.conns:
            if c.plasticity is None or not c.norm_total:
                continue
            W, M = self.syn[c.name]["W"], self.syn[c.name]["M"]
            for k in range(c.post.n):
                total = 0.0
                for j in range(c.pre.n):
                    if M[j, k]:
                        total += W[j, k]
                if total > 0.0:
                    f = c.norm_total / total
                    for j in range(c.pre.n):
                        if M[j, k]:
                            W[j, k] *= f

    def _presentation(self, rates, gain, key, n_active, n_rest, flags, gates, counts, given=None):
        learning, adapt, use_theta, kp = flags
        for p in self.lif:
            if p.params.theta_snapshot:
                self.state[p.name]["snap"][:] = self.state[p.name]["theta"]
        if self._normalize_on:
            self._normalize()
        # the engine's own generator: rates were checked by Network._rates; repetitions may raise
        # rate·gain past 1000/dt, where both paths fire at every step
        if given is not None:  # the given trains: (ptr [T + 1], idx), as Network._spike_trains makes them
            ptr, idx = given
        else:
            ptr, idx = _poisson_by_step(rates, float(gain), int(n_active), float(self.dt), np.uint64(key % 2**64))
        in_offsets = np.concatenate([np.arange(p.offset, p.offset + p.n) for p in self.inputs]) if self.inputs \
            else np.zeros(0, dtype=np.int64)
        for step in range(n_active + n_rest):
            t = self.clock
            spikes = []
            if step < n_active:
                spikes.extend(int(in_offsets[i]) for i in idx[ptr[step] : ptr[step + 1]])
            fired = []
            for p in self.lif:
                prm, st = p.params, self.state[p.name]
                dge, dgi, dth = prm.decay_factors(self.dt)
                ref_steps = round(prm.refractory_ms / self.dt)
                block_steps = prm.block_steps(self.dt)
                dt_tau = self.dt / prm.tau_m_ms
                for i in range(p.n):
                    refractory = t - st["last"][i] < ref_steps
                    if not (refractory and prm.clamp_refractory):
                        if prm.synapse == "conductance":
                            st["v"][i] = lif_conductance_euler(st["v"][i], st["ge"][i], st["gi"][i], prm.v_rest_mv,
                                                               prm.e_exc_mv, prm.e_inh_mv, dt_tau)
                        else:
                            st["v"][i] = lif_current_euler(st["v"][i], st["ge"][i], st["gi"][i], prm.v_rest_mv, dt_tau)
                    st["ge"][i] *= dge
                    st["gi"][i] *= dgi
                    if adapt:
                        st["theta"][i] *= dth
                    thr = prm.v_thresh_mv
                    if use_theta:
                        thr += st["snap"][i] if prm.theta_snapshot else st["theta"][i]
                    if t - st["last"][i] >= block_steps and st["v"][i] > thr:
                        fired.append(p.offset + i)
            spikes.extend(fired)
            self.history[t] = spikes
            self.history.pop(t - self.max_delay - 1, None)
            for d in range(self.max_delay + 1):
                for src in self.history.get(t - d, []):
                    for c in self.conns:
                        if not (c.pre.offset <= src < c.pre.offset + c.pre.n):
                            continue
                        j = src - c.pre.offset
                        M, D = self.syn[c.name]["M"], self.syn[c.name]["D"]
                        for k in range(c.post.n):
                            if M[j, k] and D[j, k] == d:
                                self._deliver(c, j, k, t, kp, learning, gates)
            for g in fired:
                p = self._pop_of(g)
                k = g - p.offset
                for c in self.conns:
                    if c.plasticity is not None and c.post is p:
                        self._post_event(c, k, t, learning, gates)
                st = self.state[p.name]
                st["v"][k] = p.params.v_reset_mv
                st["last"][k] = t
                if adapt:
                    st["theta"][k] += p.params.theta_plus_mv
            if step < n_active:
                for g in spikes:
                    counts[g] += 1
            self.clock += 1

    def run(
        self,
        inputs: Any = None,
        *,
        spikes: Any = None,
        active_ms: float | None = None,
        rest_ms: float = 150.0,
        learning: bool = True,
        adapt_thresholds: bool | None = None,
        use_thresholds: bool = True,
        gates: Mapping[str, np.ndarray] | None = None,
        normalize: bool = False,
        decay: bool = False,
        min_spikes: int = 0,
        retry_population: str | None = None,
        retry_gain: float = 0.5,
        max_retries: int = 20,
    ) -> RunResult:
        """Same arguments and semantics as :meth:`Network.run` (monitors: counts only).

        The arguments are converted and checked by the network's own code (same errors).
        """
        # inputs, durations, gates and repetition arguments: exactly as Network.run takes them
        rates, ext_ptr, ext_idx, n_active = self.net._inputs(inputs, spikes, active_ms, min_spikes)
        n_pres = rates.shape[0]
        n_rest = self.net._steps(rest_ms, "rest_ms")
        self.net._gates(gates, n_pres)
        rp = self.net._retry_population(min_spikes, retry_population, retry_gain, max_retries)
        adapt = learning if adapt_thresholds is None else adapt_thresholds
        flags = (bool(learning), bool(adapt), bool(use_thresholds), 1.0 if decay else 0.0)
        self._normalize_on = bool(normalize)
        n_total = sum(p.n for p in self.pops)
        counts = np.zeros((n_pres, n_total), dtype=np.int64)
        attempts = np.zeros(n_pres, dtype=np.int64)
        for n in range(n_pres):
            g = {}
            for c in self.conns:
                if gates and c.name in gates:
                    arr = np.asarray(gates[c.name], dtype=np.float64)
                    g[c.name] = arr if arr.ndim == 2 else arr[n]
                else:
                    g[c.name] = np.ones((c.post.n, 2))
            attempt = 0
            while True:
                counts[n] = 0
                key = presentation_key(self.seed, self.presented + n, attempt)
                given = (ext_ptr[n], ext_idx) if ext_ptr.shape[1] else None
                self._presentation(rates[n], 1.0 + attempt * retry_gain, key, n_active, n_rest, flags, g, counts[n],
                                   given)
                if min_spikes <= 0 or attempt >= max_retries:
                    break
                if counts[n, rp.offset : rp.offset + rp.n].sum() >= min_spikes:
                    break
                attempt += 1
            attempts[n] = attempt
        self.presented += n_pres
        return RunResult({p.name: counts[:, p.offset : p.offset + p.n] for p in self.pops}, attempts)

"""Networks of Poisson inputs and LIF populations with plastic, delayed connections.

Build a network, then present inputs::

    net = Network(dt_ms=0.5, seed=0)
    net.add_input("X", 784)
    net.add_population("E", 100, LIFParameters(...))
    net.connect("X", "E", "all_to_all", weight=(0.0, 0.3), delay_ms=(0.0, 10.0),
                plasticity=TraceSTDP.diehl_cook(), norm_total=78.0)
    res = net.run(rates_hz, active_ms=350, rest_ms=150, learning=True)   # sequential, compiled
    counts = net.infer(rates_hz, active_ms=350)["E"]                     # frozen, parallel

Time is discrete (step ``dt_ms``); inputs are given as rates (Hz) per presentation, time-first
``[n_presentations, n_inputs]``; results are spike counts per presentation and neuron. The
whole time loop runs in compiled code (:mod:`spikeforge.sim._kernel`); Python only loops over
chunks of presentations (for the progress bar). See :mod:`spikeforge.sim.reference` for the
readable stepper with the same semantics.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import rng_from_seed
from ..neurons.lif import LIFParameters
from ..plasticity.trace_stdp import TraceSTDP, decay_table
from . import _kernel as K

__all__ = ["Connection", "Network", "Population", "RunResult"]

TOPOLOGIES = ("all_to_all", "one_to_one", "all_but_self")
#: Largest voltage recording (bytes) one :meth:`Network.run` returns.
MAX_VOLTAGE_BYTES = 2**31
#: Largest voltage buffer (bytes) of one compiled call; recording runs use smaller chunks.
_VOLTAGE_CHUNK_BYTES = 2**28
#: Longest synaptic delay (steps of ``dt_ms``) a connection may have (2**20: ≈ 524 s at 0.5 ms).
MAX_DELAY_STEPS = 2**20
#: Largest size (bytes) of the arrays that grow with the longest delay ``D`` (steps): the ring
#: buffer of spikes in flight (int32 ``[D + 1, N]``) and the delivery index (int64 ``[N·(D + 1)]``),
#: :data:`_DELAY_BYTES` per neuron and step of delay. Caps ``D`` further in large networks.
MAX_DELAY_BYTES = 2**30
_DELAY_BYTES = 4 + 8


@dataclass
class Population:
    """A group of neurons. ``params`` is None for a Poisson input population."""

    name: str
    n: int
    params: LIFParameters | None
    offset: int = 0

    @property
    def is_input(self) -> bool:
        return self.params is None

    @property
    def slice(self) -> slice:
        """Global indices of the population's neurons."""
        return slice(self.offset, self.offset + self.n)


@dataclass
class Connection:
    """Synapses from one population to another.

    Attributes
    ----------
    name : str
    pre, post : Population
    mask : ndarray of bool, shape [n_pre, n_post]
        Which synapses exist (``all_to_all``, ``one_to_one``, ``all_but_self`` or custom).
    receptor : {"exc", "inh"}
        The target's variable a spike adds ``w`` to (``g_e`` or ``g_i``).
    plasticity : TraceSTDP or None
    norm_total : float or None
        If set, ``normalize=True`` runs rescale each target's incoming weights to sum to it.
    """

    name: str
    pre: Population
    post: Population
    mask: np.ndarray
    receptor: str
    plasticity: TraceSTDP | None
    norm_total: float | None
    init_weights: np.ndarray  # [n_syn]
    delays: np.ndarray  # [n_syn] steps
    index: int = 0
    _idx: np.ndarray | None = None  # flat positions of this connection's synapses (mask order)
    slot_offset: int = 0
    _net: Any = None

    @property
    def n_synapses(self) -> int:
        return int(self.init_weights.shape[0])

    @property
    def weights(self) -> np.ndarray:
        """Current weights as a dense copy [n_pre, n_post] (0 where there is no synapse)."""
        w = self._net._w_flat()[self._idx] if self._net is not None and self._net._built else self.init_weights
        dense = np.zeros(self.mask.shape)
        dense[self.mask] = w
        return dense

    def _checked_weights(self, weights: Any) -> np.ndarray:
        """``weights`` as a float64 [n_pre, n_post] array; ``ValueError`` for another shape or NaN/inf."""
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != self.mask.shape:
            raise ValueError(f"weights of {self.name!r} must have shape {self.mask.shape}; got {weights.shape}")
        if not np.all(np.isfinite(weights)):
            raise ValueError(f"weights of {self.name!r} must be finite")
        return weights

    def set_weights(self, weights: np.ndarray) -> None:
        """Replace the weights from a dense array [n_pre, n_post] (entries off the mask ignored).

        Values are taken as they are, not clipped to the plasticity rule's ``[w_min, w_max]``:
        the engine itself leaves that range (normalisation, the use-it-or-lose-it decay), so a
        saved state must load unchanged. Plastic updates clip a weight as they change it.

        Raises
        ------
        ValueError
            If ``weights`` does not have shape [n_pre, n_post] or holds NaN/inf.
        """
        vals = self._checked_weights(weights)[self.mask]
        if self._net is not None and self._net._built:
            self._net._state["w"][self._idx] = vals
        else:
            self.init_weights = vals.copy()

    @property
    def delay_steps(self) -> np.ndarray:
        """Delays as a dense int array [n_pre, n_post] (steps; 0 where there is no synapse)."""
        dense = np.zeros(self.mask.shape, dtype=np.int64)
        dense[self.mask] = self.delays
        return dense


def _csr(n_idx: np.ndarray, t_idx: np.ndarray, i_idx: np.ndarray, T: int, n_pres: int) -> np.ndarray:
    """Offsets ``ptr [n_pres, T + 1]`` of spikes sorted by (presentation, step, input): the spikes of
    presentation ``n`` at step ``s`` are entries ``ptr[n, s]:ptr[n, s + 1]``."""
    per_step = np.bincount(n_idx * T + t_idx, minlength=n_pres * T)
    flat = np.concatenate([[0], np.cumsum(per_step)]).astype(np.int64)
    return flat[np.arange(n_pres)[:, None] * T + np.arange(T + 1)]  # row n: flat[n·T : n·T + T + 1]


@dataclass(frozen=True)
class SpikeEvents:
    """Input spikes as a list of events, the sparse form of ``spikes=`` in :meth:`Network.run` / :meth:`Network.infer`.

    Event ``k`` is a spike of input neuron ``input[k]`` (an index over all input neurons, input populations
    side by side in the order they were added) in presentation ``presentation[k]`` at active step
    ``step[k]`` (steps of ``dt_ms``). Memory grows with the number of spikes, not with ``T·n·n_inputs``.

    Attributes
    ----------
    step, presentation, input : ndarray of int [n_events]
        In any order; at most one event per (presentation, step, input).
    T : int
        Active steps per presentation.
    n_presentations : int
        Presentations (some may have no events).
    """

    step: np.ndarray
    presentation: np.ndarray
    input: np.ndarray
    T: int
    n_presentations: int

    def __post_init__(self) -> None:
        for name in ("T", "n_presentations"):
            v = getattr(self, name)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"SpikeEvents.{name} must be a non-negative integer; got {v!r}")

    @classmethod
    def from_dense(cls, spikes: Any) -> SpikeEvents:
        """The events of a 0/1 array ``[T, n_presentations, n_inputs]`` (time first)."""
        arr = np.asarray(spikes)
        if arr.ndim != 3:
            raise ValueError(f"spikes must have shape [T, n_presentations, n_inputs]; got {arr.shape}")
        t, n, i = np.nonzero(arr)
        return cls(t, n, i, int(arr.shape[0]), int(arr.shape[1]))


@dataclass
class RunResult:
    """What a run returns.

    Attributes
    ----------
    counts : dict name -> ndarray of int64 [n_presentations, n]
        Spikes of each population during the active phase of each presentation (of its last
        attempt, when presentations are repeated).
    attempts : ndarray of int64 [n_presentations]
        Repetitions needed (0: the first attempt had enough spikes).
    spikes : dict name -> (times_ms, neuron) or None
        Recorded spikes (absolute network time in ms, index within the population), every
        attempt included.
    voltages : dict name -> ndarray [n_recorded_steps, n] or None
        Membrane potentials (mV) at the end of every simulated step, every attempt of a repeated
        presentation included, in time order: row ``r`` is the step at network time
        ``voltage_t0_ms + r·dt_ms`` (a neuron's row at one of its spike times holds ``v_reset``).
    voltage_offsets : ndarray of int64 [n_recorded_presentations + 1] or None
        Rows ``voltage_offsets[n] : voltage_offsets[n + 1]`` of ``voltages`` belong to
        presentation ``n``: ``attempts[n] + 1`` blocks of ``active + rest`` steps, the last block
        being the attempt ``counts`` describes. Shorter than ``n_presentations + 1`` only if the
        recording reached :data:`MAX_VOLTAGE_BYTES` (a ``RuntimeWarning`` says so).
    voltage_t0_ms : float or None
        Network time (ms) of the first recorded row (the network time when the run started).
    seconds : float
        Wall-clock time of the run.
    """

    counts: dict[str, np.ndarray]
    attempts: np.ndarray
    spikes: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
    voltages: dict[str, np.ndarray] | None = None
    seconds: float = 0.0
    voltage_offsets: np.ndarray | None = None
    voltage_t0_ms: float | None = None


def _population_rows(nprm: np.ndarray, lif_pops: np.ndarray) -> np.ndarray:
    """The kernel's per-population parameters ``pprm`` [n_populations, NP]: one row of ``nprm`` per
    LIF population (its first neuron's; parameters are uniform within a population)."""
    return np.ascontiguousarray(nprm[lif_pops[:, 0]]) if lif_pops.shape[0] else np.zeros((0, K.NP))


def _values(spec: Any, n: int, rng: np.random.Generator, what: str, mask: np.ndarray) -> np.ndarray:
    """Per-synapse values from a scalar, a ``(low, high)`` uniform range, a dense array or a callable."""
    if callable(spec):
        arr = np.asarray(spec(rng, mask.shape), dtype=np.float64)
        if arr.shape != mask.shape:
            raise ValueError(f"{what} callable must return shape {mask.shape}; got {arr.shape}")
        return arr[mask]
    if isinstance(spec, tuple):
        bounds = np.asarray(spec, dtype=np.float64)
        if bounds.shape != (2,) or not np.all(np.isfinite(bounds)) or bounds[1] < bounds[0]:
            raise ValueError(f"{what} range must be (low, high), finite, with low <= high; got {spec}")
        return rng.uniform(bounds[0], bounds[1], size=n)
    arr = np.asarray(spec, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != mask.shape:
        raise ValueError(f"{what} array must have shape {mask.shape}; got {arr.shape}")
    return arr[mask]


class Network:
    """A network of Poisson input populations and LIF populations.

    Parameters
    ----------
    dt_ms : float
        Time step (ms).
    seed : int, Generator or None
        Seeds the initial weights and delays (drawn when :meth:`connect` is called) and the
        Poisson input streams.
    """

    def __init__(self, dt_ms: float = 0.5, seed: Any = None) -> None:
        if not (math.isfinite(dt_ms) and dt_ms > 0):
            raise ValueError(f"dt_ms must be a positive finite number; got {dt_ms}")
        self.dt_ms = float(dt_ms)
        self._rng = rng_from_seed(seed, 0)
        self.poisson_seed = int(rng_from_seed(seed, 1).integers(0, 2**63 - 1))
        self.infer_seed = int(rng_from_seed(seed, 2).integers(0, 2**63 - 1))
        self.populations: dict[str, Population] = {}
        self.connections: dict[str, Connection] = {}
        self.presented = 0
        self._n = 0
        self._built = False
        self._state: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ construction
    def _add(self, name: str, n: int, params: LIFParameters | None) -> Population:
        if self._built:
            raise RuntimeError("the network is built; add populations before the first run")
        if not isinstance(name, str):
            raise TypeError(f"a population name must be a str; got {name!r}")
        if name in self.populations:
            raise ValueError(f"population {name!r} already exists")
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Real):
            raise TypeError(f"population size must be an integer >= 1; got {n!r}")
        if not float(n).is_integer():
            raise ValueError(f"population size must be an integer >= 1; got {n}")
        if n < 1:
            raise ValueError(f"population size must be >= 1; got {n}")
        pop = Population(name, int(n), params, self._n)
        self._n += pop.n
        self.populations[name] = pop
        return pop

    def add_input(self, name: str, n: int) -> Population:
        """Add ``n`` Poisson input neurons (their rates are given to :meth:`run`).

        Raises
        ------
        TypeError
            If ``name`` is not a str or ``n`` is not a number.
        ValueError
            If the name is taken or ``n`` is not an integer ≥ 1 (``3.0`` is accepted, ``2.7`` is not).
        RuntimeError
            If the network is already built.
        """
        return self._add(name, n, None)

    def add_population(self, name: str, n: int, params: LIFParameters) -> Population:
        """Add ``n`` LIF neurons with the given parameters.

        Raises
        ------
        TypeError, ValueError, RuntimeError
            As :meth:`add_input`; also ``TypeError`` if ``params`` is not a
            :class:`LIFParameters` and ``ValueError`` if ``dt_ms`` exceeds one of its time
            constants (``τ_m`` included: forward Euler is unstable there).
        """
        if not isinstance(params, LIFParameters):
            raise TypeError("params must be a LIFParameters")
        params.decay_factors(self.dt_ms)  # validates dt against the time constants
        return self._add(name, n, params)

    def connect(
        self,
        pre: str,
        post: str,
        topology: str | np.ndarray = "all_to_all",
        *,
        weight: Any = 1.0,
        delay_ms: Any = 0.0,
        receptor: str = "exc",
        plasticity: TraceSTDP | None = None,
        norm_total: float | None = None,
        name: str | None = None,
    ) -> Connection:
        """Connect two populations.

        Parameters
        ----------
        pre, post : str
            Population names (``post`` must be a LIF population).
        topology : "all_to_all" | "one_to_one" | "all_but_self" | ndarray of bool [n_pre, n_post]
        weight : float, (low, high), ndarray [n_pre, n_post] or callable(rng, shape) -> ndarray
            Initial weights (``(low, high)``: uniform).
        delay_ms : float, (low, high), ndarray or callable
            Synaptic delays (ms), rounded to steps (Brian's convention). At most
            :data:`MAX_DELAY_STEPS` steps, and fewer in a network so large that the spikes in
            flight would take more than :data:`MAX_DELAY_BYTES` (see :meth:`build`).
        receptor : {"exc", "inh"}
        plasticity : TraceSTDP, optional
        norm_total : float, optional
            Target sum of each postsynaptic neuron's incoming weights (plastic connections;
            positive and finite).
        name : str, optional
            Default ``pre + post``.

        Raises
        ------
        ValueError
            For unknown populations, an input population as ``post``, a bad topology, receptor,
            weight or delay (NaN/inf, negative delay, wrong shape), a delay longer than the
            limit above (the message gives the delay in ms, its steps at ``dt_ms`` and the
            limit; nothing is allocated), a taken name, or a ``norm_total`` that is not positive
            and finite or is given without plasticity.
        TypeError
            If ``plasticity`` is not a :class:`TraceSTDP`.
        RuntimeError
            If the network is already built.
        """
        if self._built:
            raise RuntimeError("the network is built; connect populations before the first run")
        for p in (pre, post):
            if p not in self.populations:
                raise ValueError(f"unknown population {p!r}; known: {list(self.populations)}")
        P, Q = self.populations[pre], self.populations[post]
        if Q.is_input:
            raise ValueError(f"{post!r} is an input population and cannot receive synapses")
        if receptor not in ("exc", "inh"):
            raise ValueError(f"receptor must be 'exc' or 'inh'; got {receptor!r}")
        name = name or f"{pre}{post}"
        if name in self.connections:
            raise ValueError(f"connection {name!r} already exists")
        if isinstance(topology, str):
            if topology not in TOPOLOGIES:
                raise ValueError(f"topology must be one of {TOPOLOGIES} or a boolean mask; got {topology!r}")
            if topology == "all_to_all":
                mask = np.ones((P.n, Q.n), dtype=bool)
            else:
                if P.n != Q.n:
                    raise ValueError(f"{topology} needs populations of equal size; got {P.n} and {Q.n}")
                eye = np.eye(P.n, dtype=bool)
                mask = eye if topology == "one_to_one" else ~eye
        else:
            mask = np.asarray(topology, dtype=bool)
            if mask.shape != (P.n, Q.n):
                raise ValueError(f"mask must have shape {(P.n, Q.n)}; got {mask.shape}")
        n_syn = int(mask.sum())
        w = _values(weight, n_syn, self._rng, "weight", mask)
        d_ms = _values(delay_ms, n_syn, self._rng, "delay_ms", mask)
        bad = ~(np.isfinite(d_ms) & (d_ms >= 0))
        if bad.any():
            raise ValueError(f"delays of {name!r} must be finite and non-negative (ms); got {d_ms[bad][0]}")
        if d_ms.size:
            d_max = float(d_ms.max())
            self._check_delay(name, d_max, d_max / self.dt_ms)
        if not np.all(np.isfinite(w)):
            raise ValueError("weights must be finite")
        if plasticity is not None:
            if not isinstance(plasticity, TraceSTDP):
                raise TypeError("plasticity must be a TraceSTDP")
            w = np.clip(w, plasticity.w_min, plasticity.w_max)
        if norm_total is not None and (plasticity is None or not (math.isfinite(norm_total) and norm_total > 0)):
            raise ValueError(f"norm_total needs a plastic connection and a positive finite value; got {norm_total}")
        conn = Connection(
            name=name, pre=P, post=Q, mask=mask, receptor=receptor, plasticity=plasticity,
            norm_total=None if norm_total is None else float(norm_total),
            init_weights=w, delays=np.rint(d_ms / self.dt_ms).astype(np.int64),
            index=len(self.connections), _net=self,
        )
        self.connections[name] = conn
        return conn

    def _check_delay(self, name: str, delay_ms: float, steps: float) -> None:
        """Refuse a delay of ``delay_ms`` ms (``steps`` steps, rounded here) on connection ``name``
        beyond :data:`MAX_DELAY_STEPS` or whose ring buffer for the network's neurons so far would
        exceed :data:`MAX_DELAY_BYTES`: ``ValueError`` saying the delay, its steps and the limit.
        """
        n = max(self._n, 1)
        max_steps = min(MAX_DELAY_STEPS, max(0, MAX_DELAY_BYTES // (_DELAY_BYTES * n) - 1))
        steps = round(steps) if math.isfinite(steps) else steps  # inf: delay_ms / dt_ms overflowed
        if steps > max_steps:
            raise ValueError(
                f"delay of {delay_ms:.10g} ms on connection {name!r} needs {steps} steps at dt_ms={self.dt_ms:g}; "
                f"at most {max_steps} steps ({max_steps * self.dt_ms:.10g} ms) are supported (MAX_DELAY_STEPS = "
                f"{MAX_DELAY_STEPS}, and the spike ring buffer of {n} neurons may take at most MAX_DELAY_BYTES = "
                f"{MAX_DELAY_BYTES / 2**30:g} GiB)"
            )

    def _fill_neuron_params(self, nprm: np.ndarray, pop: Population) -> None:
        """Write ``pop``'s rows of the per-neuron parameter array of the kernel."""
        sl = pop.slice
        dt = self.dt_ms
        if pop.is_input:
            nprm[sl, K.N_KIND] = K.KIND_INPUT
            return
        p = pop.params
        dge, dgi, dth = p.decay_factors(dt)
        nprm[sl, K.N_KIND] = K.KIND_CONDUCTANCE if p.synapse == "conductance" else K.KIND_CURRENT
        nprm[sl, K.N_V_REST] = p.v_rest_mv
        nprm[sl, K.N_V_RESET] = p.v_reset_mv
        nprm[sl, K.N_V_TH] = p.v_thresh_mv
        nprm[sl, K.N_E_EXC] = p.e_exc_mv
        nprm[sl, K.N_E_INH] = p.e_inh_mv
        nprm[sl, K.N_DT_TAU] = dt / p.tau_m_ms
        nprm[sl, K.N_DEC_GE] = dge
        nprm[sl, K.N_DEC_GI] = dgi
        nprm[sl, K.N_REF] = round(p.refractory_ms / dt)
        nprm[sl, K.N_BLOCK] = p.block_steps(dt)
        nprm[sl, K.N_CLAMP] = float(p.clamp_refractory)
        nprm[sl, K.N_TH_PLUS] = p.theta_plus_mv
        nprm[sl, K.N_DEC_TH] = dth
        nprm[sl, K.N_SNAP] = float(p.theta_snapshot)
        nprm[sl, K.N_V_INIT] = p.v_rest_mv if p.v_init_mv is None else p.v_init_mv

    def set_population_params(self, name: str, params: LIFParameters) -> None:
        """Replace the parameters of LIF population ``name`` (e.g. its threshold, in mV) without
        touching weights, thresholds θ or any other state; takes effect from the next run.

        The population's kind (conductance/current) cannot change once the network is built.
        Parameters are structure, not state: :meth:`state_dict` does not carry them, so a model
        that rebuilds its network from its own settings (the classifiers' ``load``) gets its
        original parameters back.
        """
        if name not in self.populations or self.populations[name].is_input:
            raise ValueError(f"{name!r} is not a LIF population; known: "
                             f"{[k for k, v in self.populations.items() if not v.is_input]}")
        if not isinstance(params, LIFParameters):
            raise TypeError("params must be a LIFParameters")
        params.decay_factors(self.dt_ms)
        pop = self.populations[name]
        if self._built and params.synapse != pop.params.synapse:
            raise ValueError("the synapse kind of a built population cannot change")
        pop.params = params
        if self._built:
            self._ensure_writeable()
            self._fill_neuron_params(self._nprm, pop)
            lif_pops = self._topo[0]
            self._topo = (lif_pops, _population_rows(self._nprm, lif_pops)) + tuple(self._topo[2:])

    def set_prune_tau(self, name: str, tau_ms: float | None) -> None:
        """Change ``τ_prun`` (ms) of the use-it-or-lose-it decay of plastic connection ``name``
        without touching weights or any other state; takes effect from the next run.

        ``None`` removes the decay from the rule. Like :meth:`set_population_params`, this is
        structure, not state: :meth:`state_dict` does not carry it.
        """
        if name not in self.connections:
            raise ValueError(f"unknown connection {name!r}; known: {list(self.connections)}")
        conn = self.connections[name]
        if conn.plasticity is None:
            raise ValueError(f"connection {name!r} is not plastic; the decay is an option of its plasticity rule")
        conn.plasticity = conn.plasticity.replace(prune_tau_ms=None if tau_ms is None else float(tau_ms))
        if self._built:
            self._ensure_writeable()
            self._cprm[conn.index, K.C_PRUNE_TAU] = conn.plasticity.prune_tau_ms or 0.0

    # ------------------------------------------------------------------ compilation
    def build(self) -> Network:
        """Flatten the network into the arrays of the compiled kernel (done on first use).

        Raises
        ------
        RuntimeError
            If the network has no populations.
        ValueError
            If the longest delay of a connection needs a ring buffer of spikes in flight larger
            than :data:`MAX_DELAY_BYTES` for all the network's neurons (populations added after
            :meth:`connect` checked it count too). Checked before anything is allocated.
        """
        if self._built:
            return self
        if not self.populations:
            raise RuntimeError("the network has no populations")
        for conn in self.connections.values():
            if conn.delays.size:
                steps = int(conn.delays.max())
                self._check_delay(conn.name, steps * self.dt_ms, steps)
        dt = self.dt_ms
        N = self._n
        conns = list(self.connections.values())
        nprm = np.zeros((N, K.NP))
        inputs = []
        for pop in self.populations.values():
            self._fill_neuron_params(nprm, pop)
            if pop.is_input:
                inputs.extend(range(pop.slice.start, pop.slice.stop))

        # synapses, connection by connection, presynaptic-major
        pre_l, post_l, w_l, d_l, conn_l, slot_l = [], [], [], [], [], []
        n_syn = 0
        n_slots = 0
        tables: list[np.ndarray] = []
        cprm = np.zeros((len(conns), K.CP))

        def table(tau: float | None) -> tuple[int, int]:
            """(start, length) of tau's decay table in the flat table array."""
            if tau is None:
                return 0, 0
            start = sum(t.shape[0] for t in tables)
            tables.append(decay_table(tau, dt))
            return start, tables[-1].shape[0]

        for c, conn in enumerate(conns):
            j, k = np.nonzero(conn.mask)
            conn._idx = np.arange(n_syn, n_syn + j.size)  # original order; permuted below
            conn.slot_offset = n_slots
            pre_l.append(j + conn.pre.offset)
            post_l.append(k + conn.post.offset)
            w_l.append(conn.init_weights)
            d_l.append(conn.delays)
            conn_l.append(np.full(j.size, c))
            slot_l.append(k + n_slots)
            n_syn += j.size
            n_slots += conn.post.n
            rule = conn.plasticity
            cprm[c, K.C_RECEPTOR] = 0.0 if conn.receptor == "exc" else 1.0
            cprm[c, K.C_SLOT_OFF] = conn.slot_offset
            cprm[c, K.C_N_POST] = conn.post.n
            cprm[c, K.C_SLOT_SHIFT] = conn.slot_offset - conn.post.offset
            if rule is not None:
                cprm[c, K.C_PLASTIC] = 1.0
                cprm[c, K.C_A_PLUS] = rule.a_plus
                cprm[c, K.C_A_MINUS] = rule.a_minus
                cprm[c, K.C_W_MIN] = rule.w_min
                cprm[c, K.C_W_MAX] = rule.w_max
                cprm[c, K.C_NEAREST] = float(rule.nearest)
                cprm[c, K.C_TRIPLET] = float(rule.tau_post2_ms is not None)
                cprm[c, K.C_TAB_PRE], cprm[c, K.C_LEN_PRE] = table(rule.tau_pre_ms)
                cprm[c, K.C_TAB_POST], cprm[c, K.C_LEN_POST] = table(rule.tau_post_ms)
                cprm[c, K.C_TAB_POST2], cprm[c, K.C_LEN_POST2] = table(rule.tau_post2_ms)
                cprm[c, K.C_PRUNE_TAU] = rule.prune_tau_ms or 0.0
                cprm[c, K.C_NORM] = conn.norm_total or 0.0
                cprm[c, K.C_MU_PLUS] = rule.mu_plus
                cprm[c, K.C_MU_MINUS] = rule.mu_minus
        cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
        syn_pre = cat(pre_l, np.int64)
        syn_post = cat(post_l, np.int32)
        syn_w = cat(w_l, np.float64)
        syn_d = cat(d_l, np.int64)
        syn_conn = cat(conn_l, np.int16 if len(conns) < 2**15 else np.int32)
        syn_slot = cat(slot_l, np.int32)
        D = int(syn_d.max()) if syn_d.size else 0
        R = D + 1

        # store synapses in delivery order: by (source, delay), then connection, then target
        key = syn_pre * R + syn_d
        perm = np.argsort(key, kind="stable")
        pos = np.empty_like(perm)
        pos[perm] = np.arange(perm.size)
        for conn in conns:
            conn._idx = pos[conn._idx]
        syn_pre, syn_post, syn_w, syn_d = syn_pre[perm], syn_post[perm], syn_w[perm], syn_d[perm]
        syn_conn, syn_slot = syn_conn[perm], syn_slot[perm]
        # segments: runs of one (source, delay, connection); those of (source, delay) ``b`` are
        # ``seg_ptr[b] … seg_ptr[b + 1] − 1`` and segment ``g`` holds synapses ``seg_lo[g] … seg_lo[g + 1] − 1``
        key = key[perm]
        new_seg = np.ones(n_syn, dtype=bool)
        if n_syn:
            new_seg[1:] = (key[1:] != key[:-1]) | (syn_conn[1:] != syn_conn[:-1])
        seg_first = np.flatnonzero(new_seg)
        seg_lo = np.append(seg_first, n_syn).astype(np.int64)
        seg_conn = syn_conn[seg_first].astype(np.int32)
        seg_ptr = np.zeros(N * R + 1, dtype=np.int64)
        np.cumsum(np.bincount(key[seg_first], minlength=N * R), out=seg_ptr[1:])
        maxd = np.full(N, -1, dtype=np.int64)
        np.maximum.at(maxd, syn_pre, syn_d)
        nprm[:, K.N_MAXD] = maxd

        plastic = cprm[syn_conn, K.C_PLASTIC] != 0 if n_syn else np.zeros(0, dtype=bool)
        pl_syn = np.flatnonzero(plastic)
        order = pl_syn[np.argsort(syn_slot[pl_syn], kind="stable")]
        inp_syn = order.astype(np.int32)
        # presynaptic traces live per segment (its synapses share source, delay and so every arrival)
        inp_seg = (np.cumsum(new_seg) - 1)[order].astype(np.int32)
        inp_ptr = np.zeros(n_slots + 1, dtype=np.int64)
        np.cumsum(np.bincount(syn_slot[pl_syn], minlength=n_slots), out=inp_ptr[1:])
        slot_conn = np.zeros(n_slots, dtype=np.int32)
        slot_post = np.zeros(n_slots, dtype=np.int64)
        for c, conn in enumerate(conns):
            slot_conn[conn.slot_offset : conn.slot_offset + conn.post.n] = c
            slot_post[conn.slot_offset : conn.slot_offset + conn.post.n] = np.arange(conn.post.n) + conn.post.offset
        pl_slots = np.flatnonzero(cprm[slot_conn, K.C_PLASTIC] != 0) if n_slots else np.zeros(0, np.int64)
        ks_order = pl_slots[np.argsort(slot_post[pl_slots], kind="stable")]
        kslot = ks_order.astype(np.int32)
        kslot_ptr = np.zeros(N + 1, dtype=np.int64)
        np.cumsum(np.bincount(slot_post[pl_slots], minlength=N), out=kslot_ptr[1:])

        tab = np.concatenate(tables) if tables else np.zeros(1)

        norm_on = (cprm[syn_conn, K.C_PLASTIC] != 0) & (cprm[syn_conn, K.C_NORM] > 0) if n_syn else np.zeros(0, bool)
        # runs of consecutive normalised synapses of one connection: [norm_run[r, 0], norm_run[r, 1]), slot shift
        edge = np.ones(n_syn, dtype=bool)
        if n_syn:
            edge[1:] = (norm_on[1:] != norm_on[:-1]) | (syn_conn[1:] != syn_conn[:-1])
        starts = np.flatnonzero(edge)
        ends = np.append(starts[1:], n_syn)
        keep = norm_on[starts] if n_syn else np.zeros(0, bool)
        starts, ends = starts[keep], ends[keep]
        norm_run = np.stack([starts, ends, cprm[syn_conn[starts], K.C_SLOT_SHIFT].astype(np.int64)], axis=1) \
            .astype(np.int64).reshape(-1, 3)
        lif_list = [p for p in self.populations.values() if not p.is_input]
        lif_pops = np.array([[p.slice.start, p.slice.stop] for p in lif_list], dtype=np.int64).reshape(-1, 2)
        self._topo = (
            lif_pops, _population_rows(nprm, lif_pops), np.asarray(inputs, dtype=np.int64), seg_ptr, seg_lo, seg_conn, syn_post,
            slot_conn, inp_ptr, inp_syn, inp_seg, kslot_ptr, kslot, norm_run,
        )
        self._nprm = nprm
        self._cprm = cprm
        self._tab = tab
        self._n_slots = n_slots
        self._n_seg = seg_conn.shape[0]
        self._R = R
        self._input_pops = [p for p in self.populations.values() if p.is_input]
        self._state = {"w": syn_w}
        self._built = True
        self.reset_state()
        return self

    def _w_flat(self) -> np.ndarray:
        return self._state["w"]

    def reset_state(self, *, theta: bool = True, clock: bool = True, presented: bool = False) -> None:
        """Return every neuron, trace and spike in flight to its initial state (weights kept).

        The presentation counter :attr:`presented`, which keys the Poisson input spikes of
        :meth:`run`, is kept by default: after a reset the same inputs get *new* random spikes.
        Pass ``presented=True`` to replay the same spikes (a reset run then repeats the earlier
        one exactly, if the weights did not change).

        Parameters
        ----------
        theta : bool
            Also reset the adaptive thresholds to ``theta_init_mv``.
        clock : bool
            Also reset the network time (and the use-it-or-lose-it reference times) to 0.
        presented : bool
            Also reset the presentation counter to 0.
        """
        self.build()
        if presented:
            self.presented = 0
        N, G, P = self._n, self._n_seg, self._n_slots
        st = self._state
        st["v"] = self._nprm[:, K.N_V_INIT].copy()
        st["ge"] = np.zeros(N)
        st["gi"] = np.zeros(N)
        if theta or "theta" not in st:
            th = np.zeros(N)
            for pop in self.populations.values():
                if not pop.is_input:
                    th[pop.slice] = pop.params.theta_init_mv
            st["theta"] = th
            st["theta_snap"] = th.copy()
        st["last_spike"] = np.full(N, K.NEVER, dtype=np.int64)
        st["sx"] = np.zeros(G)  # presynaptic trace and last arrival step, per segment
        if clock or "stl" not in st:
            st["stl"] = np.zeros(G, dtype=np.int64)
            st["clock"] = np.zeros(1, dtype=np.int64)
        else:
            st["stl"] = np.minimum(st["stl"], st["clock"][0])
        st["y1"] = np.zeros(P)
        st["y2"] = np.zeros(P)
        st["ylast"] = np.zeros(P, dtype=np.int64)
        st["ring_ids"] = np.zeros((self._R, N), dtype=np.int32)
        st["ring_n"] = np.zeros(self._R, dtype=np.int32)

    def _ensure_writeable(self) -> None:
        """Unpickled or memory-mapped arrays may be read-only; the kernels need writeable ones."""

        def fix(a: np.ndarray) -> np.ndarray:
            return a if a.flags.writeable and a.flags.c_contiguous else np.array(a, copy=True, order="C")

        self._state = {k: fix(v) for k, v in self._state.items()}
        self._topo = tuple(fix(a) for a in self._topo)
        self._nprm, self._cprm, self._tab = fix(self._nprm), fix(self._cprm), fix(self._tab)

    def _state_tuple(self) -> tuple:
        self._ensure_writeable()
        st = self._state
        return (st["v"], st["ge"], st["gi"], st["theta"], st["theta_snap"], st["last_spike"], st["w"], st["sx"],
                st["stl"], st["y1"], st["y2"], st["ylast"], st["ring_ids"], st["ring_n"], st["clock"])

    # ------------------------------------------------------------------ state access
    @property
    def time_ms(self) -> float:
        """Network time (ms)."""
        self.build()
        return float(self._state["clock"][0]) * self.dt_ms

    def _lif_population(self, name: str, what: str) -> Population:
        """The LIF population ``name``; ``ValueError`` if it is unknown or an input population
        (which has no ``what``)."""
        if name not in self.populations:
            raise ValueError(f"unknown population {name!r}; known: {list(self.populations)}")
        pop = self.populations[name]
        if pop.is_input:
            raise ValueError(f"{name!r} is an input population: it has no {what}")
        return pop

    def _checked_theta(self, pop: Population, theta: Any) -> np.ndarray:
        """``theta`` as float64 [pop.n] (a scalar is broadcast); ``ValueError`` for another shape or NaN/inf."""
        arr = np.asarray(theta, dtype=np.float64)
        if arr.shape not in ((), (pop.n,)):
            raise ValueError(f"theta of {pop.name!r} must be a scalar or have shape [{pop.n}]; got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"theta of {pop.name!r} must be finite")
        return np.broadcast_to(arr, (pop.n,))

    def theta(self, population: str) -> np.ndarray:
        """Adaptive threshold ``θ`` (mV) of a LIF population (a copy).

        Raises
        ------
        ValueError
            If ``population`` is unknown or an input population.
        """
        pop = self._lif_population(population, "threshold")
        self.build()
        return self._state["theta"][pop.slice].copy()

    def set_theta(self, population: str, theta: np.ndarray) -> None:
        """Set ``θ`` (mV) of a LIF population: a scalar or an array [n].

        Raises
        ------
        ValueError
            If ``population`` is unknown or an input population, or ``theta`` has another
            shape or holds NaN/inf.
        """
        pop = self._lif_population(population, "threshold")
        theta = self._checked_theta(pop, theta)
        self.build()
        self._state["theta"][pop.slice] = theta
        self._state["theta_snap"][pop.slice] = theta

    def potentials(self, population: str) -> np.ndarray:
        """Membrane potentials (mV) of a LIF population (a copy).

        Raises
        ------
        ValueError
            If ``population`` is unknown or an input population.
        """
        pop = self._lif_population(population, "membrane potential")
        self.build()
        return self._state["v"][pop.slice].copy()

    def state_dict(self) -> dict[str, np.ndarray]:
        """Weights of every connection (``"w/<name>"``, dense) and ``θ`` of every LIF population."""
        self.build()
        out = {f"w/{c.name}": c.weights for c in self.connections.values()}
        for pop in self.populations.values():
            if not pop.is_input:
                out[f"theta/{pop.name}"] = self.theta(pop.name)
        return out

    def _state_keys(self) -> list[str]:
        """The entries of :meth:`state_dict`."""
        return [f"w/{c}" for c in self.connections] + [f"theta/{n}" for n, p in self.populations.items()
                                                       if not p.is_input]

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Load weights and thresholds saved by :meth:`state_dict` (a subset of its entries is
        fine). Every entry is checked before any is loaded, so a bad one changes nothing.
        Weights are loaded as they are (see :meth:`Connection.set_weights`).

        Raises
        ------
        KeyError
            For an entry this network does not have (``theta/`` of an input population included).
        ValueError
            For an entry of the wrong shape or with NaN/inf.
        """
        self.build()
        checked = []
        for key, val in state.items():
            kind, _, name = key.partition("/")
            if kind == "w" and name in self.connections:
                conn = self.connections[name]
                checked.append((conn.set_weights, conn._checked_weights(val)))
            elif kind == "theta" and name in self.populations and not self.populations[name].is_input:
                checked.append((lambda v, name=name: self.set_theta(name, v),
                                self._checked_theta(self.populations[name], val)))
            else:
                raise KeyError(f"unexpected entry {key!r} for this network; expected some of {self._state_keys()}")
        for load, val in checked:
            load(val)

    # ------------------------------------------------------------------ running
    def _rates(self, inputs: Any) -> np.ndarray:
        """Checked rates (Hz) as float64 [n_presentations, n_inputs], input populations side by side.

        ``inputs`` is an array [n_presentations, n_inputs] (a 1-D row is one presentation) or a
        dict input population name -> [n_presentations, n]. Shared by :meth:`run`,
        :meth:`infer` and :class:`~spikeforge.sim.ReferenceNetwork`.

        Raises ``ValueError`` for a wrong shape, NaN/inf or negative rates, rates above
        ``1000/dt_ms`` Hz (more than one spike per step; repetitions that raise the rates by
        ``retry_gain`` past that bound fire at every step), a dict entry for an unknown input
        population or a missing one, and entries of different lengths.
        """
        n_in = sum(p.n for p in self._input_pops)
        if isinstance(inputs, Mapping):
            def block(value: Any, pop: Population) -> np.ndarray:
                part = np.asarray(value, dtype=np.float64)
                part = part[None, :] if part.ndim == 1 else part
                if part.ndim != 2 or part.shape[1] != pop.n:
                    raise ValueError(f"rates[{pop.name!r}] must have shape [n_presentations, {pop.n}] (input population "
                                     f"{pop.name!r} has {pop.n} neurons); got {part.shape}")
                return part

            parts = self._population_blocks(inputs, "rates", block)
            if len({p.shape[0] for p in parts}) > 1:
                raise ValueError("every input population needs the same number of presentations")
            rates = np.concatenate(parts, axis=1) if parts else np.zeros((0, 0))
        else:
            rates = np.asarray(inputs, dtype=np.float64)
        if rates.ndim == 1:
            rates = rates[None, :]
        if rates.ndim != 2 or rates.shape[1] != n_in:
            raise ValueError(f"rates must have shape [n_presentations, {n_in}]; got {rates.shape}")
        if not np.all(np.isfinite(rates)) or (rates.size and rates.min() < 0):
            raise ValueError("rates must be finite and non-negative (Hz)")
        if rates.size and float((rates * self.dt_ms / 1000.0).max()) > 1.0:
            raise ValueError(
                f"rates above 1000/dt = {1000.0 / self.dt_ms:.4g} Hz cannot be drawn (at most one spike per "
                f"step); got {float(rates.max()):.4g} Hz — lower the rates or the step dt_ms"
            )
        return np.ascontiguousarray(rates)

    def _population_blocks(self, per_population: Mapping[str, Any], what: str,
                           block: Callable[[Any, Population], np.ndarray]) -> list[np.ndarray]:
        """``block(value, population)`` of each input population in network order, from a dict input
        population name -> value. ``ValueError`` naming ``what`` for an unknown or a missing population."""
        known = [p.name for p in self._input_pops]
        unknown = [k for k in per_population if k not in known]
        if unknown:
            raise ValueError(f"{what} given for unknown input population(s) {unknown}; input populations: {known}")
        parts = []
        for pop in self._input_pops:
            if pop.name not in per_population:
                raise ValueError(f"no {what} given for input population {pop.name!r}")
            parts.append(block(per_population[pop.name], pop))
        return parts

    def _spike_trains(self, spikes: Any) -> tuple[np.ndarray, np.ndarray, int]:
        """Given input spike trains as the kernel's CSR: ``(ptr [n_pres, T + 1] int64, idx int32, T)``;
        the spikes of presentation ``n`` at active step ``s`` are input indices
        ``idx[ptr[n, s]:ptr[n, s + 1]]``, ascending (input populations side by side, as the rates).

        ``spikes`` is an array ``[T, n_presentations, n_inputs]`` of 0/1 (bool or numbers; time first;
        ``[T, n_inputs]`` is one presentation) or a dict input population name -> ``[T, n_presentations, n]``.

        Raises ``ValueError`` for a wrong shape, values other than 0/1, a dict entry for an unknown
        input population or a missing one, and entries of different shapes ``[T, n_presentations]``.
        """
        n_in = sum(p.n for p in self._input_pops)

        def as_array(a: Any, what: str) -> np.ndarray:
            arr = np.asarray(a)
            if arr.dtype.kind not in "biuf":
                raise ValueError(f"{what} must hold 0/1 spikes; got dtype {arr.dtype}")
            if arr.ndim == 2:
                arr = arr[:, None, :]
            if arr.ndim != 3:
                raise ValueError(f"{what} must have shape [T, n_presentations, n] (time first); got {arr.shape}")
            if arr.dtype != np.bool_:
                bad = (arr != 0) & (arr != 1)
                if bad.any():
                    raise ValueError(f"{what} must hold 0/1 spikes; got the value {arr[bad].flat[0].item()!r}")
            return arr.astype(np.bool_)

        if isinstance(spikes, SpikeEvents):
            return self._event_trains(spikes, n_in)
        if isinstance(spikes, Mapping):
            def block(value: Any, pop: Population) -> np.ndarray:
                part = as_array(value, f"spikes[{pop.name!r}]")
                if part.shape[2] != pop.n:
                    raise ValueError(f"spikes[{pop.name!r}] must have shape [T, n_presentations, {pop.n}] "
                                     f"(input population {pop.name!r} has {pop.n} neurons); got {part.shape}")
                return part

            parts = self._population_blocks(spikes, "spikes", block)
            if len({p.shape[:2] for p in parts}) > 1:
                raise ValueError("every input population needs spikes of the same [T, n_presentations]")
            arr = np.concatenate(parts, axis=2) if parts else np.zeros((0, 0, 0), dtype=np.bool_)
        else:
            arr = as_array(spikes, "spikes")
        if arr.shape[2] != n_in:
            raise ValueError(f"spikes must have shape [T, n_presentations, {n_in}] (time first); got {arr.shape}")
        T, n_pres = arr.shape[0], arr.shape[1]
        n_idx, t_idx, i_idx = np.nonzero(arr.transpose(1, 0, 2))  # presentation, step, input: the kernel's order
        return _csr(n_idx, t_idx, i_idx, T, n_pres), i_idx.astype(np.int32), T

    @staticmethod
    def _event_trains(ev: SpikeEvents, n_in: int) -> tuple[np.ndarray, np.ndarray, int]:
        """:meth:`_spike_trains` of :class:`SpikeEvents` (checked; sorted into the kernel's order)."""
        T, n_pres = ev.T, ev.n_presentations
        cols = []
        for name, a, upper in (("step", ev.step, T), ("presentation", ev.presentation, n_pres), ("input", ev.input, n_in)):
            arr = np.asarray(a)
            if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
                raise ValueError(f"SpikeEvents.{name} must be a 1-D integer array; got {arr.dtype} of shape {arr.shape}")
            if arr.size and (arr.min() < 0 or arr.max() >= upper):
                raise ValueError(f"SpikeEvents.{name} must lie in [0, {upper}); got values in [{arr.min()}, {arr.max()}]")
            cols.append(arr.astype(np.int64))
        if len({c.size for c in cols}) > 1:
            raise ValueError(f"SpikeEvents.step, .presentation and .input must have one length; got "
                             f"{[c.size for c in cols]}")
        t_idx, n_idx, i_idx = cols
        order = np.lexsort((i_idx, t_idx, n_idx))  # presentation, then step, then input
        t_idx, n_idx, i_idx = t_idx[order], n_idx[order], i_idx[order]
        key = (n_idx * T + t_idx) * n_in + i_idx
        if key.size > 1 and bool((np.diff(key) == 0).any()):
            raise ValueError("SpikeEvents holds the same input twice at one step of one presentation (at most one "
                             "spike per input and step)")
        return _csr(n_idx, t_idx, i_idx, T, n_pres), i_idx.astype(np.int32), T

    def _inputs(self, inputs: Any, spikes: Any, active_ms: float | None, min_spikes: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """``(rates [n_pres, n_in], ext_ptr, ext_idx, n_active)`` of :meth:`run` / :meth:`infer`: Poisson
        rates (``ext_ptr`` [n_pres, 0]) or given trains (zero rates). Shared with the reference stepper."""
        if (inputs is None) == (spikes is None):
            raise ValueError("give either inputs (Poisson rates, Hz) or spikes (input spike trains), not "
                             + ("both" if inputs is not None else "neither"))
        if spikes is None:
            rates = self._rates(inputs)
            n_active = self._steps(350.0 if active_ms is None else active_ms, "active_ms")
            return rates, np.zeros((rates.shape[0], 0), dtype=np.int64), np.zeros(0, dtype=np.int32), n_active
        ptr, idx, T = self._spike_trains(spikes)
        if active_ms is not None and self._steps(active_ms, "active_ms") != T:
            raise ValueError(f"active_ms = {active_ms:g} ms is {self._steps(active_ms, 'active_ms')} steps of "
                             f"dt_ms = {self.dt_ms:g}, but the spike trains have T = {T} steps; leave active_ms out "
                             "(it is then T·dt_ms)")
        if not (math.isfinite(min_spikes) and min_spikes >= 0):
            raise ValueError(f"min_spikes must be a non-negative number; got {min_spikes}")
        if min_spikes > 0:
            raise ValueError("min_spikes repeats a presentation with stronger Poisson input; it cannot be used with "
                             "given spike trains")
        return np.zeros((ptr.shape[0], sum(p.n for p in self._input_pops))), ptr, idx, T

    def _steps(self, ms: float, what: str) -> int:
        """A duration (ms, finite and ≥ 0) in steps, rounded."""
        if not (math.isfinite(ms) and ms >= 0):
            raise ValueError(f"{what} must be finite and non-negative; got {ms}")
        return int(round(ms / self.dt_ms))

    def _gates(self, gates: Mapping[str, np.ndarray] | None, n_pres: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-presentation gate arrays → (patterns [G, n_slots, 2], index [n_pres]).

        Raises ``ValueError`` for an unknown connection, a connection without a plasticity rule
        (gates only scale STDP updates, so they would have no effect), a wrong shape or NaN/inf
        gates.
        """
        base = np.ones((self._n_slots, 2))
        if not gates:
            return base[None], np.zeros(n_pres, dtype=np.int64)
        per_conn = []
        for name, g in gates.items():
            if name not in self.connections:
                raise ValueError(f"gates for unknown connection {name!r}; known: {list(self.connections)}")
            conn = self.connections[name]
            if conn.plasticity is None:
                plastic = [c.name for c in self.connections.values() if c.plasticity is not None]
                raise ValueError(f"gates given for connection {name!r}, which has no plasticity rule: gates only "
                                 f"scale STDP updates and would be ignored; plastic connections: {plastic}")
            g = np.asarray(g, dtype=np.float64)
            if g.shape == (conn.post.n, 2):
                g = np.broadcast_to(g, (n_pres, conn.post.n, 2))
            if g.shape != (n_pres, conn.post.n, 2):
                raise ValueError(f"gates[{name!r}] must have shape [{conn.post.n}, 2] or "
                                 f"[{n_pres}, {conn.post.n}, 2]; got {g.shape}")
            if not np.all(np.isfinite(g)):
                raise ValueError(f"gates[{name!r}] must be finite")
            if n_pres == 0:
                continue
            uniq, inv = np.unique(g.reshape(n_pres, -1), axis=0, return_inverse=True)
            per_conn.append((conn, uniq.reshape(-1, conn.post.n, 2), inv.ravel()))
        if n_pres == 0:
            return base[None], np.zeros(0, dtype=np.int64)
        combo = np.stack([inv for _, _, inv in per_conn], axis=1)
        uniq_combo, gate_idx = np.unique(combo, axis=0, return_inverse=True)
        pat = np.repeat(base[None], uniq_combo.shape[0], axis=0)
        for g_i, row in enumerate(uniq_combo):
            for (conn, uniq, _), u in zip(per_conn, row):
                pat[g_i, conn.slot_offset : conn.slot_offset + conn.post.n] = uniq[u]
        return np.ascontiguousarray(pat), gate_idx.ravel().astype(np.int64)

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
        record_spikes: bool = False,
        record_voltages: list[str] | None = None,
        max_recorded_spikes: int = 1_000_000,
        progress: bool | str = False,
        chunk: int = 50,
    ) -> RunResult:
        """Present inputs one after another; state, weights and time carry over (compiled).

        Parameters
        ----------
        inputs : ndarray [n_presentations, n_inputs] or dict input name -> [n_presentations, n]
            Poisson rates (Hz) of the input neurons during the active phase (0 during rest).
            An empty batch (``n_presentations = 0``) simulates nothing and returns empty results.
        spikes : ndarray [T, n_presentations, n_inputs], dict input name -> [T, n_presentations, n], or SpikeEvents
            Instead of ``inputs``: the input spike trains themselves, 0/1 per active step (time
            first; e.g. latency codes or binned event data), or the same as a list of events
            (:class:`SpikeEvents`, memory per spike). The active phase is then ``T`` steps.
        active_ms, rest_ms : float
            Duration of the input phase (default 350 ms; with ``spikes``, ``T·dt_ms``) and of the
            following rest phase (ms, finite, ≥ 0).
        learning : bool
            Apply plasticity (weights change). Traces follow spikes either way.
        adapt_thresholds : bool, optional
            ``θ`` grows on spikes and decays (default: same as ``learning``).
        use_thresholds : bool
            ``θ`` (live or snapshot) enters the firing threshold; False uses ``v_thresh`` only.
        gates : dict connection name -> ndarray [n_post, 2] or [n_presentations, n_post, 2]
            Learning gates ``(lr1, lr2)`` per postsynaptic neuron (default 1, 1) of plastic
            connections (only those: gates for a connection without plasticity are refused).
        normalize : bool
            Rescale incoming weights of connections with ``norm_total`` before each presentation.
        decay : bool
            Apply the use-it-or-lose-it decay (``k_p = 1``) of plastic connections that have one.
        min_spikes : int
            Repeat a presentation with stronger input while ``retry_population`` fires fewer
            spikes (Diehl & Cook: 5); 0 disables. Only with Poisson ``inputs``.
        retry_population : str, optional
            LIF population counted for ``min_spikes`` (default: the first LIF population).
        retry_gain : float
            Rates of repetition ``a`` are multiplied by ``1 + a·retry_gain`` (finite, ≥ 0).
        max_retries : int
            Upper bound on repetitions per presentation.
        record_spikes : bool
            Record every spike, every attempt included (up to ``max_recorded_spikes``; a
            ``RuntimeWarning`` says when spikes beyond it were not recorded).
        record_voltages : list of str, optional
            LIF populations whose membrane potentials are recorded at every simulated step,
            every attempt of a repeated presentation included; ``RunResult.voltage_offsets``
            maps rows to presentations. At most :data:`MAX_VOLTAGE_BYTES` are recorded: a run that
            needs more even without repetitions is refused before it starts; if repetitions
            make the recording reach it, later presentations are not recorded (only whole
            presentations are kept) and a ``RuntimeWarning`` says so.
        progress : bool or str
            Show a progress bar (a string is used as its label).
        chunk : int
            Presentations per compiled call (granularity of the progress bar; smaller while
            voltages are recorded, to bound the buffer). Results do not depend on it.

        Returns
        -------
        RunResult

        Raises
        ------
        ValueError
            For rates of the wrong shape or with NaN/inf/negative values (or a dict naming an
            unknown input population or missing one), spikes of the wrong shape or not 0/1,
            both or neither of ``inputs`` and ``spikes``, ``active_ms`` that disagrees with the
            spikes' ``T``, ``min_spikes`` with ``spikes``, a negative or non-finite duration, bad
            gates (unknown connection, a connection without a plasticity rule, shape, NaN/inf),
            a negative ``min_spikes``, ``max_retries`` or ``max_recorded_spikes``, a non-finite
            or negative ``retry_gain``, a ``retry_population`` or ``record_voltages`` entry that
            is not a LIF population (unknown populations are listed), or a voltage recording
            that cannot fit in :data:`MAX_VOLTAGE_BYTES`. Nothing is simulated then. On first
            use, also as :meth:`build` (a delay too long for the network).
        TypeError
            If ``record_voltages`` is a str rather than a list of names.
        """
        self.build()
        rates, ext_ptr, ext_idx, n_active = self._inputs(inputs, spikes, active_ms, min_spikes)
        n_pres = rates.shape[0]
        n_rest = self._steps(rest_ms, "rest_ms")
        gate_pat, gate_idx = self._gates(gates, n_pres)
        flags = np.zeros(K.NF)
        flags[K.F_LEARN] = float(learning)
        flags[K.F_ADAPT] = float(learning if adapt_thresholds is None else adapt_thresholds)
        flags[K.F_USE_THETA] = float(use_thresholds)
        flags[K.F_KP] = 1.0 if decay else 0.0
        flags[K.F_NORMALIZE] = float(normalize)
        flags[K.F_TRACES] = 1.0
        self._retry_flags(flags, min_spikes, retry_population, retry_gain, max_retries)
        if not max_recorded_spikes >= 0:
            raise ValueError(f"max_recorded_spikes must be non-negative; got {max_recorded_spikes}")

        cap = int(max_recorded_spikes) if record_spikes else 0
        rec_t = np.zeros(cap, dtype=np.int64)
        rec_i = np.zeros(cap, dtype=np.int32)
        rec_n = np.zeros(1, dtype=np.int64)
        # voltages: every step of every attempt, in time order; each compiled call gets a buffer
        # for the most attempts its presentations can take, and only whole presentations are kept
        v_pops = self._voltage_populations(record_voltages)
        rec_v_idx = np.concatenate([np.arange(p.slice.start, p.slice.stop) for p in v_pops]).astype(np.int32) \
            if v_pops else np.zeros(0, dtype=np.int32)
        no_v_idx, no_v = np.zeros(0, dtype=np.int32), np.zeros((0, 0))
        per_attempt = n_active + n_rest
        max_attempts = 1 + (int(max_retries) if min_spikes > 0 else 0)
        row_bytes = 8 * rec_v_idx.size
        if v_pops and n_pres * per_attempt * row_bytes > MAX_VOLTAGE_BYTES:
            raise ValueError(f"recording these voltages needs more than {MAX_VOLTAGE_BYTES} bytes "
                             f"({MAX_VOLTAGE_BYTES / 2**30:g} GiB); record fewer presentations or populations")
        cap_rows = MAX_VOLTAGE_BYTES // row_bytes if v_pops else 0
        v_parts: list[np.ndarray] = []
        n_v_rows = n_v_pres = 0
        recording = bool(v_pops)
        rec_v_n = np.zeros(1, dtype=np.int64)
        t0_ms = self.time_ms

        counts = np.zeros((n_pres, self._n), dtype=np.int64)
        attempts = np.zeros(n_pres, dtype=np.int64)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_pres, desc=progress if isinstance(progress, str) else "run", unit="img",
                       dynamic_ncols=True, leave=False)
        t0 = time.perf_counter()
        st = self._state_tuple()
        step = max(1, int(chunk))
        if recording and per_attempt:
            step = max(1, min(step, _VOLTAGE_CHUNK_BYTES // (max_attempts * per_attempt * row_bytes)))
        for a in range(0, n_pres, step):
            b = min(n_pres, a + step)
            if recording:
                rec_v = np.zeros((min((b - a) * max_attempts * per_attempt, cap_rows - n_v_rows), rec_v_idx.size))
                rec_v_n[0] = 0
            K.run_sequential(self._topo, self._nprm, self._cprm, self._tab, st, rates[a:b], ext_ptr[a:b], ext_idx,
                             gate_pat, gate_idx[a:b],
                             np.uint64(self.poisson_seed), self.presented + a, n_active, n_rest, self.dt_ms, flags,
                             counts[a:b], attempts[a:b], rec_t, rec_i, rec_n,
                             rec_v_idx if recording else no_v_idx, rec_v if recording else no_v, rec_v_n)
            if recording:
                ends = np.cumsum((attempts[a:b] + 1) * per_attempt)
                whole = int(np.searchsorted(ends, rec_v_n[0], side="right"))  # presentations recorded in full
                keep = int(ends[whole - 1]) if whole else 0
                v_parts.append(rec_v[:keep])
                n_v_rows += keep
                n_v_pres += whole
                if whole < b - a:
                    recording = False
                    warnings.warn(f"record_voltages: the recording reached MAX_VOLTAGE_BYTES "
                                  f"({MAX_VOLTAGE_BYTES / 2**30:g} GiB) with the repetitions; voltages cover "
                                  f"presentations 0..{n_v_pres - 1} of {n_pres} only (RunResult.voltage_offsets)",
                                  RuntimeWarning, stacklevel=2)
            if bar is not None:
                bar.update(b - a)
        if bar is not None:
            bar.close()
        self.presented += n_pres
        res = RunResult(self._split(counts), attempts, seconds=time.perf_counter() - t0)
        if record_spikes:
            n = int(min(rec_n[0], cap))
            if rec_n[0] > cap:
                warnings.warn(f"max_recorded_spikes = {cap} reached: RunResult.spikes holds the first {cap} of "
                              f"{int(rec_n[0])} spikes", RuntimeWarning, stacklevel=2)
            res.spikes = self._split_spikes(rec_t[:n], rec_i[:n])
        if v_pops:
            rv = np.concatenate(v_parts) if v_parts else np.zeros((0, rec_v_idx.size))
            res.voltages = {}
            col = 0
            for p in v_pops:
                res.voltages[p.name] = rv[:, col : col + p.n]
                col += p.n
            res.voltage_offsets = np.concatenate([[0], np.cumsum((attempts[:n_v_pres] + 1) * per_attempt)]) \
                .astype(np.int64)
            res.voltage_t0_ms = t0_ms
        return res

    def _voltage_populations(self, record_voltages: Sequence[str] | None) -> list[Population]:
        """The LIF populations named by ``record_voltages`` (``TypeError`` for a bare str,
        ``ValueError`` for unknown and input populations)."""
        if record_voltages is None:
            return []
        if isinstance(record_voltages, str):
            raise TypeError(f"record_voltages must be a list of population names; got the str {record_voltages!r}")
        return [self._lif_population(name, "membrane potential to record") for name in record_voltages]

    def _retry_population(self, min_spikes: int, retry_population: str | None, retry_gain: float,
                          max_retries: int) -> Population | None:
        """Check the repetition arguments of :meth:`run` / :meth:`infer`; the population whose
        spikes are counted for ``min_spikes`` (None when repetitions are off).

        Raises ``ValueError`` for a negative or NaN ``min_spikes``, a negative or non-integer
        ``max_retries``, a negative or non-finite ``retry_gain``, or a ``retry_population`` (given,
        or needed and missing) that is not a LIF population of this network.
        """
        if not (math.isfinite(min_spikes) and min_spikes >= 0):
            raise ValueError(f"min_spikes must be a non-negative number; got {min_spikes}")
        if not (float(max_retries).is_integer() and max_retries >= 0):
            raise ValueError(f"max_retries must be a non-negative integer; got {max_retries}")
        if not (math.isfinite(retry_gain) and retry_gain >= 0):
            raise ValueError(f"retry_gain must be finite and non-negative; got {retry_gain}")
        lif_pops = [p for p in self.populations.values() if not p.is_input]
        rp = None
        if retry_population is not None:
            rp = self.populations.get(retry_population)
            if rp is None or rp.is_input:
                raise ValueError(f"retry_population must name a LIF population ({[p.name for p in lif_pops]}); "
                                 f"got {retry_population!r}")
        elif min_spikes > 0:
            if not lif_pops:
                raise ValueError("min_spikes needs a LIF population (retry_population)")
            rp = lif_pops[0]
        return rp if min_spikes > 0 else None

    def _retry_flags(self, flags: np.ndarray, min_spikes: int, retry_population: str | None, retry_gain: float,
                     max_retries: int) -> None:
        rp = self._retry_population(min_spikes, retry_population, retry_gain, max_retries)
        lo, hi = (rp.slice.start, rp.slice.stop) if rp is not None else (0, 0)
        flags[K.F_MIN_SPIKES] = float(min_spikes)
        flags[K.F_RETRY_LO], flags[K.F_RETRY_HI] = lo, hi
        flags[K.F_MAX_RETRIES] = float(max_retries)
        flags[K.F_RETRY_GAIN] = float(retry_gain)

    def infer(
        self,
        inputs: Any = None,
        *,
        spikes: Any = None,
        active_ms: float | None = None,
        rest_ms: float = 150.0,
        use_thresholds: bool = True,
        min_spikes: int = 0,
        retry_population: str | None = None,
        retry_gain: float = 0.5,
        max_retries: int = 20,
        first_index: int = 0,
        keys: str | np.ndarray | None = None,
        n_jobs: int | None = None,
        chunk: int = 256,
        progress: bool | str = False,
        return_attempts: bool = False,
    ):
        """Frozen-weight inference of many presentations at once (parallel, compiled).

        Each presentation starts from the resting state (``v = v_rest``, no synaptic input,
        nothing in flight) with the current thresholds; nothing in the network changes. With
        ``min_spikes`` a presentation is repeated after ``rest_ms`` with stronger input as in
        :meth:`run` (``rest_ms`` is only simulated before a repetition). The random stream of
        presentation ``n`` is keyed by ``first_index + n`` only (or, with ``keys="content"``, by the
        content of its input row, so that a given input always gets the same spikes), so results do
        not depend on batching or threads.

        ``n_jobs=1`` runs on the calling thread without numba's threading layer (which keeps the
        process safe to ``fork`` afterwards); otherwise presentations run on ``n_jobs`` threads
        (default: all cores).

        ``inputs`` are Poisson rates (Hz) ``[n_presentations, n_inputs]``, or ``spikes`` the input
        trains ``[T, n_presentations, n_inputs]`` (0/1, time first; the active phase is then ``T``
        steps, ``min_spikes`` is refused), as in :meth:`run`.

        Returns
        -------
        dict name -> ndarray of int64 [n_presentations, n]
            Spike counts of each population during the active phase (of the last attempt);
            with ``return_attempts`` also the repetitions per presentation.

        Raises
        ------
        ValueError
            For bad rates, durations, repetition arguments (as in :meth:`run`) or ``keys``; on
            first use, also as :meth:`build` (a delay too long for the network).
        """
        self.build()
        rates, ext_ptr, ext_idx, n_active = self._inputs(inputs, spikes, active_ms, min_spikes)
        n_rest = self._steps(rest_ms, "rest_ms")
        flags = np.zeros(K.NF)
        flags[K.F_USE_THETA] = float(use_thresholds)
        self._retry_flags(flags, min_spikes, retry_population, retry_gain, max_retries)
        counts = np.zeros((rates.shape[0], self._n), dtype=np.int64)
        attempts = np.zeros(rates.shape[0], dtype=np.int64)
        gate_pat = np.ones((1, self._n_slots, 2))
        seed = np.uint64(self.infer_seed)
        if keys is None:
            key_arr = K.index_keys(seed, int(first_index), rates.shape[0])
        elif isinstance(keys, str):
            if keys != "content":
                raise ValueError(f"keys must be None, 'content' or an array; got {keys!r}")
            key_arr = K.content_keys(seed, rates.view(np.uint64))
        else:
            key_arr = np.asarray(keys, dtype=np.uint64)
            if key_arr.shape != (rates.shape[0],):
                raise ValueError(f"keys must have shape [{rates.shape[0]}]")
        serial = n_jobs is not None and int(n_jobs) <= 1
        if not serial:
            import numba

            old = numba.get_num_threads()
            if n_jobs is not None:
                numba.set_num_threads(max(1, min(int(n_jobs), numba.config.NUMBA_NUM_THREADS)))
        kernel = K.run_batch_serial if serial else K.run_batch
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=rates.shape[0], desc=progress if isinstance(progress, str) else "infer", unit="img",
                       dynamic_ncols=True, leave=False)
        try:
            st = self._state_tuple()
            for a in range(0, rates.shape[0], max(1, int(chunk))):
                b = min(rates.shape[0], a + max(1, int(chunk)))
                kernel(self._topo, self._nprm, self._cprm, self._tab, st, rates[a:b], ext_ptr[a:b], ext_idx, gate_pat,
                       key_arr[a:b], n_active, n_rest, self.dt_ms, flags, counts[a:b], attempts[a:b])
                if bar is not None:
                    bar.update(b - a)
        finally:
            if not serial:
                numba.set_num_threads(old)
            if bar is not None:
                bar.close()
        out = self._split(counts)
        return (out, attempts) if return_attempts else out

    def _split(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        return {name: counts[:, p.slice] for name, p in self.populations.items()}

    def _split_spikes(self, t: np.ndarray, i: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for name, p in self.populations.items():
            m = (i >= p.slice.start) & (i < p.slice.stop)
            out[name] = (t[m] * self.dt_ms, i[m] - p.offset)
        return out

    def __repr__(self) -> str:
        pops = ", ".join(f"{p.name}[{p.n}]" for p in self.populations.values())
        conns = ", ".join(f"{c.name}({c.n_synapses})" for c in self.connections.values())
        return f"Network(dt_ms={self.dt_ms}, populations: {pops}; connections: {conns})"

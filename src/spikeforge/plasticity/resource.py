"""Kiselev's synaptic-resource plasticity (CoLaNET; spec colanet.md §1.5–1.6).

Every plastic synapse stores an unbounded **resource** ``W``; plasticity changes ``W`` and the
weight follows from it::

    w(W) = w_min + (w_max − w_min)·max(W, 0) / (w_max − w_min + max(W, 0))
    W(w) = (w − w_min)(w_max − w_min) / (w_max − w)          (inverse, w_min ≤ w < w_max)

Per neuron (times in integer tacts of 1 ms):

* **A. spike** at tact ``t``. Forced spikes (teacher/forcing input this tact) are marked
  forced. An unforced spike *starts* a dense spike sequence (DSS) if ``t − t_last ≥ ISImax``,
  the previous spike was forced, or dopamine arrived since; otherwise it *continues* it.
  ``contributed_i`` = a presynaptic spike arrived in ``(t − T_c, t]`` (OR-ed while a DSS
  continues). A new DSS clears ``hebb_done``. Unforced spikes then apply the anti-Hebbian step
  ``ΔW_i = d_H·min(2^(−s), 1)`` once per synapse per DSS (``W += ΔW, F −= ΔW``).
* **B. dopamine** ``D ≠ 0`` at tact ``t`` (ignored if ``D < 0`` and the last spike was forced):
  ``ΔW_i = D·min(2^(−s), 1)`` on contributed synapses if ``t − t_spike ≤ T_D``; then the
  stability ``s ← max(0, s − r·D)`` if the last spike was forced or ``D < 0``, otherwise
  ``s ← max(0, s + r·D·max(2 − |t − t_first − ISImax|/ISImax, −1))``. The next unforced spike
  starts a new DSS.
* **C. redistribution** (off by default, ``F_thr = ∞``): outside a DSS, if ``|F| ≥ F_thr``,
  every synapse gets ``W += F/(N_syn + n_silent)`` and ``F ← 0``.
* **E. one-factor term**: every ``period`` tacts ``W += one_factor`` on every synapse
  (our reading of ArNI ``_1_factor_plasticity``, spec §7.7; 0 by default).

Readings of the spec that are ours: ``min(2^(−s), 1)`` uses ``s ≥ 0`` so it is ``2^(−s)``;
``s`` is clamped at 0 in both branches of B; a neuron that never spiked has ``t_first = −∞``,
so rewarding it lowers its stability (``g = −1``).

The same compiled primitives (:func:`resource_on_spike`, :func:`resource_on_dopamine`,
:func:`resource_redistribute`, :func:`resource_one_factor`) are used by the batch path
:func:`resource_plasticity`, by :class:`spikeforge.models.CoLaNET`, and (the formulas
:func:`resource_to_weight`, :func:`stability_factor`, :func:`stability_after_dopamine`) by
:class:`spikeforge.models.DigitalCoLaNET` and :class:`spikeforge.models.ConvMatrixLearner`.
:func:`resource_plasticity_reference` is the readable pure-Python twin that tests compare with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from .. import _numba_cache  # noqa: F401  (cache stamps that see inlined primitives; before any @njit)

__all__ = [
    "NEURON_STATE_FIELDS",
    "SynapticResource",
    "anti_hebbian_delta",
    "dopamine_delta",
    "initial_neuron_state",
    "resource_at_zero_weight",
    "resource_on_dopamine",
    "resource_on_spike",
    "resource_one_factor",
    "resource_plasticity",
    "resource_plasticity_reference",
    "resource_redistribute",
    "resource_to_weight",
    "stability_after_dopamine",
    "stability_factor",
    "weight_to_resource",
]

#: Columns of the per-neuron state array ``ns[n, :]`` used by the compiled primitives.
NEURON_STATE_FIELDS = ("stability", "free_resource", "t_last", "t_spike", "t_first", "new_dss", "forced")
S_STAB, S_FREE, S_TLAST, S_TSPIKE, S_TFIRST, S_NEWDSS, S_FORCED = range(7)
#: "Never" for spike times (tacts); far enough that every window test fails.
NEVER = -1e15


@dataclass(frozen=True)
class SynapticResource:
    """Parameters of the synaptic-resource rule (defaults: KNP MNIST BLIFAT, spec §1.8).

    Attributes
    ----------
    w_min, w_max : float
        Weight bounds, ``w_min < 0 < w_max`` (units of the membrane potential).
    d_hebb : float
        Anti-Hebbian resource step ``d_H`` (< 0 depresses), applied once per synapse per DSS.
    dopamine_window : int
        ``T_D`` (tacts): dopamine acts if the last spike is at most this old.
    contribution_window : int
        ``T_c`` (tacts): a synapse contributed to a spike at ``t`` if its input spiked in
        ``(t − T_c, t]``.
    isi_max : int
        ``ISImax`` (tacts): the largest gap inside a dense spike sequence.
    stability_ratio : float
        ``r``: stability change per unit of dopamine.
    n_silent : float
        ``n_silent``: virtual synapses that drain a share of redistributed resource.
    free_threshold : float
        ``F_thr``: redistribution happens when ``|F| ≥ F_thr``; ``inf`` switches it off.
    one_factor : float
        Resource added to every synapse each ``one_factor_period`` tacts (0: off).
    one_factor_period : int
        Period of the one-factor term (tacts).
    """

    w_min: float = -0.253
    w_max: float = 0.0924
    d_hebb: float = -0.177
    dopamine_window: int = 10
    contribution_window: int = 10
    isi_max: int = 10
    stability_ratio: float = 0.05
    n_silent: float = 27.0
    free_threshold: float = math.inf
    one_factor: float = 0.0
    one_factor_period: int = 10

    def __post_init__(self) -> None:
        """Check the parameters.

        Raises
        ------
        ValueError
            For a NaN or infinite number (``free_threshold`` may be ``inf``), ``w_min ≥ w_max``,
            ``w_max ≤ 0``, a window or period below one tact, or a negative ``stability_ratio``,
            ``n_silent`` or ``free_threshold``.
        """
        for name, value in asdict(self).items():
            if math.isnan(value) or (math.isinf(value) and name != "free_threshold"):
                raise ValueError(f"SynapticResource.{name} must be finite; got {value}")
        if not self.w_min < self.w_max:
            raise ValueError(f"w_min ({self.w_min}) must be below w_max ({self.w_max})")
        if self.w_max <= 0:
            raise ValueError(f"w_max must be positive; got {self.w_max}")
        for name in ("dopamine_window", "contribution_window", "isi_max", "one_factor_period"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive number of tacts; got {getattr(self, name)}")
        if self.stability_ratio < 0 or self.n_silent < 0 or self.free_threshold < 0:
            raise ValueError("stability_ratio, n_silent and free_threshold must be non-negative")

    @property
    def resource_zero(self) -> float:
        """The resource that gives ``w = 0`` (the initial value)."""
        return float(resource_at_zero_weight(self.w_min, self.w_max))

    def as_array(self) -> np.ndarray:
        """Parameters packed for the compiled kernels, in field order."""
        return np.array([float(v) for v in asdict(self).values()], dtype=np.float64)


# ---------------------------------------------------------------------------- formulas
@njit(cache=True, nogil=True)
def resource_to_weight(W, w_min, w_max):
    """``w(W) = w_min + (w_max − w_min)·max(W,0)/(w_max − w_min + max(W,0))`` (scalar or array)."""
    Wp = W * (W > 0)
    span = w_max - w_min
    return w_min + span * Wp / (span + Wp)


@njit(cache=True, nogil=True)
def weight_to_resource(w, w_min, w_max):
    """Inverse mapping ``W(w) = (w − w_min)(w_max − w_min)/(w_max − w)`` for ``w_min ≤ w < w_max``."""
    return (w - w_min) * (w_max - w_min) / (w_max - w)


@njit(cache=True, nogil=True)
def resource_at_zero_weight(w_min, w_max):
    """``W₀ = −w_min(w_max − w_min)/w_max``, the resource of ``w = 0`` (``w_min < 0 < w_max``)."""
    return -w_min * (w_max - w_min) / w_max


@njit(cache=True, nogil=True)
def stability_factor(s):
    """Plasticity factor ``min(2^(−s), 1)`` of stability ``s``."""
    return min(2.0 ** (-s), 1.0)


@njit(cache=True, nogil=True)
def anti_hebbian_delta(d_hebb, s):
    """Anti-Hebbian resource step ``d_H·min(2^(−s), 1)``."""
    return d_hebb * stability_factor(s)


@njit(cache=True, nogil=True)
def dopamine_delta(dopamine, s):
    """Dopamine resource step ``D·min(2^(−s), 1)``."""
    return dopamine * stability_factor(s)


@njit(cache=True, nogil=True)
def stability_after_dopamine(s, dopamine, ratio, forced, latency, isi_max):
    """Stability after dopamine ``D`` (spec §1.6 B.2), clamped at 0.

    Parameters
    ----------
    s : float
        Current stability.
    dopamine : float
        ``D`` of this tact.
    ratio : float
        ``r``.
    forced : bool
        Whether the neuron's last spike was forced.
    latency : float
        ``t − t_first`` (tacts); ``inf`` if the neuron never started a DSS.
    isi_max : float
        ``ISImax`` (tacts).
    """
    if forced or dopamine < 0:
        return max(0.0, s - ratio * dopamine)
    g = max(2.0 - abs(latency - isi_max) / isi_max, -1.0)
    return max(0.0, s + ratio * dopamine * g)


# ---------------------------------------------------------------------------- state
def initial_neuron_state(n_neurons: int) -> np.ndarray:
    """Per-neuron plasticity state ``[n_neurons, 7]`` (columns :data:`NEURON_STATE_FIELDS`)."""
    ns = np.zeros((n_neurons, len(NEURON_STATE_FIELDS)), dtype=np.float64)
    ns[:, S_TLAST] = NEVER
    ns[:, S_TSPIKE] = NEVER
    ns[:, S_TFIRST] = NEVER
    ns[:, S_NEWDSS] = 1.0
    return ns


# ---------------------------------------------------------------------------- compiled primitives
# Synapse arrays are input-major ``[n_inputs, n_neurons]`` (W, w, contributed, hebb_done);
# ``t_pre[i]`` is the arrival tact of input i's last spike, shared by all neurons.


@njit(cache=True, nogil=True)
def _set_weights(n, W, w, w_min, w_max):
    for i in range(W.shape[0]):
        w[i, n] = resource_to_weight(W[i, n], w_min, w_max)


@njit(cache=True, nogil=True)
def resource_on_spike(n, t, forced, W, w, contributed, hebb_done, t_pre, ns, p):
    """Rule A for neuron ``n`` spiking at tact ``t``; returns True if ``W`` changed.

    ``p`` is :meth:`SynapticResource.as_array`. Arrays are updated in place.
    """
    w_min, w_max, d_h, t_c, isi = p[0], p[1], p[2], p[4], p[5]
    n_in = W.shape[0]
    continued = False
    if forced:
        ns[n, S_FORCED] = 1.0
        ns[n, S_NEWDSS] = 1.0
    else:
        if ns[n, S_NEWDSS] != 0.0 or t - ns[n, S_TLAST] >= isi:
            ns[n, S_TFIRST] = t
            ns[n, S_NEWDSS] = 0.0
            for i in range(n_in):
                hebb_done[i, n] = False
        else:
            continued = True
        ns[n, S_TLAST] = t
        ns[n, S_FORCED] = 0.0
    ns[n, S_TSPIKE] = t
    lo = t - t_c
    for i in range(n_in):
        c = t_pre[i] > lo
        contributed[i, n] = (contributed[i, n] or c) if continued else c
    if forced:
        return False
    dw = anti_hebbian_delta(d_h, ns[n, S_STAB])
    changed = False
    if dw != 0.0:
        for i in range(n_in):
            if contributed[i, n] and not hebb_done[i, n]:
                W[i, n] += dw
                ns[n, S_FREE] -= dw
                hebb_done[i, n] = True
                w[i, n] = resource_to_weight(W[i, n], w_min, w_max)
                changed = True
    return changed


@njit(cache=True, nogil=True)
def resource_on_dopamine(n, t, dopamine, W, w, contributed, ns, p):
    """Rule B for neuron ``n`` receiving dopamine ``D`` at tact ``t``; returns True if ``W`` changed."""
    if dopamine == 0.0:
        return False
    forced = ns[n, S_FORCED] != 0.0
    if dopamine < 0.0 and forced:
        return False
    w_min, w_max, t_d, isi, r = p[0], p[1], p[3], p[5], p[6]
    changed = False
    if t - ns[n, S_TSPIKE] <= t_d:
        dw = dopamine_delta(dopamine, ns[n, S_STAB])
        for i in range(W.shape[0]):
            if contributed[i, n]:
                W[i, n] += dw
                ns[n, S_FREE] -= dw
                w[i, n] = resource_to_weight(W[i, n], w_min, w_max)
                changed = True
    ns[n, S_STAB] = stability_after_dopamine(ns[n, S_STAB], dopamine, r, forced, t - ns[n, S_TFIRST], isi)
    ns[n, S_NEWDSS] = 1.0
    return changed


@njit(cache=True, nogil=True)
def resource_redistribute(n, t, W, w, ns, p):
    """Rule C for neuron ``n`` at tact ``t`` (no-op unless ``|F| ≥ F_thr`` outside a DSS)."""
    f_thr = p[8]
    f = ns[n, S_FREE]
    if not abs(f) >= f_thr or f == 0.0:
        return False
    if not (ns[n, S_FORCED] != 0.0 or t - ns[n, S_TLAST] >= p[5]):
        return False
    share = f / (W.shape[0] + p[7])
    for i in range(W.shape[0]):
        W[i, n] += share
    ns[n, S_FREE] = 0.0
    _set_weights(n, W, w, p[0], p[1])
    return True


@njit(cache=True, nogil=True)
def resource_one_factor(t, W, w, p):
    """Rule E at tact ``t``: ``W += one_factor`` on every synapse when ``t % period == period − 1``."""
    amount, period = p[9], int(p[10])
    if amount == 0.0 or int(t) % period != period - 1:
        return False
    W += amount
    for n in range(W.shape[1]):
        _set_weights(n, W, w, p[0], p[1])
    return True


# ---------------------------------------------------------------------------- batch path
@njit(cache=True, nogil=True)
def _resource_batch(pre_t, pre_i, post_t, post_f, dop_t, dop_v, n_steps, W, ns, p, hist):
    n_in = W.shape[0]
    w = np.empty_like(W)
    for i in range(n_in):
        w[i, 0] = resource_to_weight(W[i, 0], p[0], p[1])
    contributed = np.zeros((n_in, 1), dtype=np.bool_)
    hebb_done = np.zeros((n_in, 1), dtype=np.bool_)
    t_pre = np.full(n_in, NEVER)
    a = b = c = 0
    for t in range(n_steps):
        while a < pre_t.shape[0] and pre_t[a] == t:
            t_pre[pre_i[a]] = t
            a += 1
        while b < post_t.shape[0] and post_t[b] == t:
            resource_on_spike(0, float(t), post_f[b], W, w, contributed, hebb_done, t_pre, ns, p)
            b += 1
        while c < dop_t.shape[0] and dop_t[c] == t:
            resource_on_dopamine(0, float(t), dop_v[c], W, w, contributed, ns, p)
            c += 1
        resource_redistribute(0, float(t), W, w, ns, p)
        resource_one_factor(float(t), W, w, p)
        hist[t, :] = W[:, 0]
    return W


def _tact(t, what: str) -> int:
    """An event time as int; integral floats (``3.0``) are accepted, ``2.5`` is refused."""
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} must be integer tacts; got {t!r}")
    if not (math.isfinite(t) and float(t).is_integer()):
        raise ValueError(f"{what} must be integer tacts; got {t}")
    return int(t)


def _events(pre_times, post_spikes, dopamine, n_steps):
    """Check and sort the events of :func:`resource_plasticity`: (pre, post, dopamine, n_steps).

    Raises ``ValueError`` for a negative or non-integer ``n_steps``, a train of ``pre_times``
    that is not 1-D, an event time that is not an integer tact (``2.5``) or lies outside
    ``[0, n_steps)``, or a NaN/infinite dopamine value.
    """
    if isinstance(n_steps, (bool, np.bool_)) or not float(n_steps).is_integer() or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer; got {n_steps}")
    n_steps = int(n_steps)
    trains = [np.asarray(ts) for ts in pre_times]
    for i, ts in enumerate(trains):
        if ts.ndim != 1:
            raise ValueError(f"pre_times[{i}] must be a 1-D sequence of tacts; got shape {ts.shape}")
    pre = sorted((_tact(t, "pre_times"), i) for i, ts in enumerate(trains) for t in ts.tolist())
    post = sorted((_tact(t, "post_spikes"), bool(f)) for t, f in post_spikes)
    dop = sorted((_tact(t, "dopamine tacts"), float(v)) for t, v in dopamine.items())
    for t, v in dop:
        if not math.isfinite(v):
            raise ValueError(f"dopamine at tact {t} must be finite; got {v}")
    for t, *_ in pre + post + dop:
        if not 0 <= t < n_steps:
            raise ValueError(f"event at tact {t} lies outside [0, {n_steps})")
    return pre, post, dop, n_steps


def _initial_resources(W0, n_in: int, params: SynapticResource) -> np.ndarray:
    """``W0`` as float64 [n_in] (default: the resource of ``w = 0``); ``ValueError`` if its length
    differs from the number of synapses or it holds NaN/inf."""
    if W0 is None:
        return np.full(n_in, params.resource_zero)
    W = np.array(W0, dtype=np.float64)
    if W.shape != (n_in,):
        raise ValueError(f"W0 must have shape [{n_in}] (one resource per synapse); got {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("W0 must be finite")
    return W


def resource_plasticity(
    pre_times: Sequence[Sequence[int]],
    post_spikes: Sequence[tuple[int, bool]],
    dopamine: Mapping[int, float],
    n_steps: int,
    params: SynapticResource,
    W0: np.ndarray | None = None,
    *,
    return_history: bool = False,
):
    """Compiled batch path: the resource rule on one neuron's synapses over ``n_steps`` tacts.

    Parameters
    ----------
    pre_times : list of D sequences of int
        Arrival tacts of each synapse's presynaptic spikes.
    post_spikes : sequence of (tact, forced)
        The neuron's spikes; ``forced`` marks spikes caused by forcing input.
    dopamine : mapping tact -> D
        Dopamine delivered to the neuron.
    n_steps : int
        Tacts to simulate (every event must lie in ``[0, n_steps)``).
    params : SynapticResource
    W0 : ndarray of shape [D], optional
        Initial resources; default :attr:`SynapticResource.resource_zero` (``w = 0``).
    return_history : bool
        Also return the resource after every tact, ``[n_steps, D]``.

    Returns
    -------
    (W, state) or (W, state, history): final resources ``[D]``, the neuron state as a dict
    (:data:`NEURON_STATE_FIELDS`), and optionally the history.

    Raises
    ------
    ValueError
        If ``n_steps`` is not a non-negative integer, an event time is not an integer tact
        (``3.0`` is accepted, ``2.5`` is not) or lies outside ``[0, n_steps)``, a train of
        ``pre_times`` is not 1-D, a dopamine value is NaN or infinite, or ``W0`` does not have
        shape ``[D]`` or is not finite.
    """
    pre, post, dop, n_steps = _events(pre_times, post_spikes, dopamine, n_steps)
    n_in = len(pre_times)
    W = _initial_resources(W0, n_in, params).reshape(n_in, 1)
    ns = initial_neuron_state(1)
    hist = np.zeros((n_steps, n_in))
    _resource_batch(
        np.array([t for t, _ in pre], dtype=np.int64), np.array([i for _, i in pre], dtype=np.int64),
        np.array([t for t, _ in post], dtype=np.int64), np.array([f for _, f in post], dtype=np.bool_),
        np.array([t for t, _ in dop], dtype=np.int64), np.array([v for _, v in dop], dtype=np.float64),
        int(n_steps), W, ns, params.as_array(), hist,
    )  # fmt: skip
    state = dict(zip(NEURON_STATE_FIELDS, ns[0].tolist()))
    return (W[:, 0], state, hist) if return_history else (W[:, 0], state)


# ---------------------------------------------------------------------------- readable reference
def resource_plasticity_reference(
    pre_times: Sequence[Sequence[int]],
    post_spikes: Sequence[tuple[int, bool]],
    dopamine: Mapping[int, float],
    n_steps: int,
    params: SynapticResource,
    W0: Sequence[float] | None = None,
) -> tuple[np.ndarray, dict]:
    """Readable pure-Python twin of :func:`resource_plasticity` (same arguments, result and errors).

    Within a tact the order is: presynaptic arrivals, the neuron's spike (rule A), dopamine
    (rule B), redistribution (rule C), the one-factor term (rule E).
    """
    p = params
    pre, post, dop, n_steps = _events(pre_times, post_spikes, dopamine, n_steps)
    n = len(pre_times)
    W = _initial_resources(W0, n, p).tolist()
    s = F = 0.0
    t_last = t_spike = t_first = -math.inf
    new_dss, last_forced = True, False
    t_pre = [-math.inf] * n
    contributed = [False] * n
    hebb_done = [False] * n
    for t in range(n_steps):
        for tt, i in pre:
            if tt == t:
                t_pre[i] = t
        for tt, forced in post:
            if tt != t:
                continue
            continued = False
            if forced:
                last_forced, new_dss = True, True
            else:
                if new_dss or t - t_last >= p.isi_max:  # a new dense spike sequence
                    t_first, new_dss = t, False
                    hebb_done = [False] * n
                else:
                    continued = True
                t_last, last_forced = t, False
            t_spike = t
            now = [t_pre[i] > t - p.contribution_window for i in range(n)]
            contributed = [c or x for c, x in zip(contributed, now)] if continued else now
            if not forced:
                for i in range(n):
                    if contributed[i] and not hebb_done[i]:
                        dW = p.d_hebb * min(2.0 ** (-s), 1.0)
                        W[i] += dW
                        F -= dW
                        hebb_done[i] = True
        for tt, D in dop:
            if tt != t or D == 0 or (D < 0 and last_forced):
                continue
            if t - t_spike <= p.dopamine_window:
                for i in range(n):
                    if contributed[i]:
                        dW = D * min(2.0 ** (-s), 1.0)
                        W[i] += dW
                        F -= dW
            if last_forced or D < 0:
                s = max(0.0, s - p.stability_ratio * D)
            else:
                g = max(2.0 - abs(t - t_first - p.isi_max) / p.isi_max, -1.0)
                s = max(0.0, s + p.stability_ratio * D * g)
            new_dss = True
        if F != 0 and abs(F) >= p.free_threshold and (last_forced or t - t_last >= p.isi_max):
            W = [x + F / (n + p.n_silent) for x in W]
            F = 0.0
        if p.one_factor != 0 and t % p.one_factor_period == p.one_factor_period - 1:
            W = [x + p.one_factor for x in W]
    state = {
        "stability": s, "free_resource": F, "t_last": t_last, "t_spike": t_spike, "t_first": t_first,
        "new_dss": float(new_dss), "forced": float(last_forced),
    }  # fmt: skip
    return np.array(W), state

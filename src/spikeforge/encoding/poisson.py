"""Poisson input trains from inter-spike intervals, with a counter-based random stream.

A clock-driven Poisson generator (Brian's ``PoissonGroup``, BindsNET's ``poisson``) draws one
Bernoulli(``p = rate·dt/1000``) number per input per step: 784 × 700 draws for one 350 ms
MNIST presentation at dt = 0.5 ms, of which only ≈ 2 000 are spikes. Here each input's train
is built from its inter-spike intervals instead: the gap between successive spikes of a
Bernoulli process on steps is Geometric(``p``), so one draw per *spike* produces a train with
exactly the same distribution as the per-step draws (spike steps, counts and intervals).

Randomness is counter-based (SplitMix64 of a key and a counter): the train of input ``j``
in presentation ``key`` depends on nothing else, so a presentation gives the same spikes
whether it is simulated alone, in a batch, on another thread, or by the reference stepper.
Functions with a leading underscore are compiled (numba) and called from the engine's kernels.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numba import njit, uint64

from .. import _numba_cache  # noqa: F401  (cache stamps that see inlined primitives; before any @njit)

__all__ = ["counter_uniform", "poisson_spike_steps", "presentation_key", "spike_steps_to_dense"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, nogil=True, inline="always")
def _splitmix64(x):
    """SplitMix64 finaliser of a uint64 (a bijective avalanche mix)."""
    z = uint64(x) + _GOLDEN
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(cache=True, nogil=True, inline="always")
def _combine(key, value):
    """Derive a sub-key: mix of ``key`` and an integer ``value``."""
    return _splitmix64(uint64(key) ^ _splitmix64(uint64(value)))


@njit(cache=True, nogil=True, inline="always")
def _uniform(stream, counter):
    """Uniform draw in (0, 1] (never 0, so ``log`` is finite) for ``(stream, counter)``."""
    bits = _splitmix64(uint64(stream) + uint64(counter) * _GOLDEN) >> uint64(11)
    return (float(bits) + 1.0) * _INV53


@njit(cache=True, nogil=True)
def _presentation_key(seed, index, attempt):
    return _combine(_combine(uint64(seed), index), attempt)


@njit(cache=True, nogil=True)
def _poisson_fill(rates_hz, gain, n_steps, dt_ms, key, steps_out, idx_out):
    """ISI Poisson spikes of every input on steps ``[0, n_steps)``, input by input.

    Writes (step, input) pairs into the output buffers, grouped by input (ascending) and
    sorted by step within an input; returns the number written, or ``-needed`` (a lower
    bound of the needed capacity) if the buffers are too small.
    """
    n = 0
    cap = steps_out.shape[0]
    overflow = False
    for j in range(rates_hz.shape[0]):
        p = rates_hz[j] * gain * dt_ms / 1000.0
        if p <= 0.0 or n_steps <= 0:
            continue
        stream = _combine(key, j)
        log_q = math.log1p(-p) if p < 1.0 else 0.0
        s = -1
        c = 0
        while True:
            # gap to the next spike: Geometric(p) >= 1 trials (every step when p >= 1)
            gap = 1 if p >= 1.0 else 1 + int(math.floor(math.log(_uniform(stream, c)) / log_q))
            c += 1
            s += gap
            if s >= n_steps:
                break
            if n < cap:
                steps_out[n] = s
                idx_out[n] = j
            else:
                overflow = True
            n += 1
    return -n if overflow else n


@njit(cache=True, nogil=True)
def _poisson_by_step(rates_hz, gain, n_steps, dt_ms, key):
    """ISI Poisson spikes bucketed by step.

    Returns
    -------
    ptr : int64[n_steps + 1]
        Spikes of step ``s`` are ``idx[ptr[s]:ptr[s + 1]]``.
    idx : int32[n_spikes]
        Input indices, ascending within a step.
    """
    mean = 0.0
    for j in range(rates_hz.shape[0]):
        p = rates_hz[j] * gain * dt_ms / 1000.0
        if p > 0.0:
            mean += min(p, 1.0) * n_steps
    cap = int(mean + 8.0 * math.sqrt(mean) + 64.0)
    steps = np.empty(cap, dtype=np.int64)
    idx = np.empty(cap, dtype=np.int32)
    n = _poisson_fill(rates_hz, gain, n_steps, dt_ms, key, steps, idx)
    if n < 0:  # astronomically rare: regenerate into exact-size buffers
        cap = -n
        steps = np.empty(cap, dtype=np.int64)
        idx = np.empty(cap, dtype=np.int32)
        n = _poisson_fill(rates_hz, gain, n_steps, dt_ms, key, steps, idx)
    ptr = np.zeros(n_steps + 1, dtype=np.int64)
    for a in range(n):
        ptr[steps[a] + 1] += 1
    for s in range(n_steps):
        ptr[s + 1] += ptr[s]
    fill = ptr[:-1].copy()
    out = np.empty(n, dtype=np.int32)
    for a in range(n):  # stable counting sort: inputs stay ascending within a step
        s = steps[a]
        out[fill[s]] = idx[a]
        fill[s] += 1
    return ptr, out


def presentation_key(seed: int, index: int, attempt: int = 0) -> int:
    """The random-stream key of one presentation (``seed``, presentation ``index``, retry ``attempt``)."""
    return int(_presentation_key(np.uint64(seed % 2**64), np.int64(index), np.int64(attempt)))


def counter_uniform(key: int, counter: int) -> float:
    """The counter-based uniform draw in (0, 1] used by the Poisson generator."""
    return float(_uniform(np.uint64(key % 2**64), np.int64(counter)))


def poisson_spike_steps(
    rates_hz, n_steps: int, dt_ms: float, key: int, *, gain: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson spike trains of many inputs, generated from inter-spike intervals.

    Statistically identical to independent Bernoulli(``rate·gain·dt/1000``) draws per input
    and step (at most one spike per input and step), but costs one random draw per spike.
    As in :func:`spikeforge.encoding.poisson_spikes`, a probability above 1 is an error
    (``p = 1`` spikes at every step).

    Parameters
    ----------
    rates_hz : array-like of shape [n_inputs]
        Firing rates (Hz), finite and non-negative.
    n_steps : int
        Number of steps ``T`` (≥ 0).
    dt_ms : float
        Step (ms), finite and > 0.
    key : int
        Random-stream key (e.g. :func:`presentation_key`); the same key gives the same trains.
    gain : float
        Multiplier of every rate, finite and ≥ 0.

    Returns
    -------
    ptr : ndarray of int64, shape [T + 1]
    inputs : ndarray of int32, shape [n_spikes]
        The inputs spiking at step ``s`` are ``inputs[ptr[s]:ptr[s + 1]]`` (ascending).

    Raises
    ------
    ValueError
        If a rate is negative or not finite, ``n_steps`` is not an integer ≥ 0, ``dt_ms`` is
        not finite and > 0, ``gain`` is not finite and ≥ 0, or
        ``rate·gain·dt_ms/1000 > 1`` for some input.
    """
    rates = np.ascontiguousarray(rates_hz, dtype=np.float64).ravel()
    if rates.size and (not np.all(np.isfinite(rates)) or rates.min() < 0):
        raise ValueError("rates_hz must be finite and non-negative")
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0; got {n_steps!r}")
    dt_ms, gain = float(dt_ms), float(gain)
    if not (math.isfinite(dt_ms) and dt_ms > 0):
        raise ValueError(f"dt_ms must be finite and > 0; got {dt_ms}")
    if not (math.isfinite(gain) and gain >= 0):
        raise ValueError(f"gain must be finite and >= 0; got {gain}")
    # the kernels' expression, so the check and the draws agree on the boundary p = 1
    if rates.size and float((rates * gain * dt_ms / 1000.0).max()) > 1.0:
        raise ValueError(
            f"rate·gain·dt/1000 exceeds 1 (max rate·gain {float(rates.max()) * gain:.4g} Hz at "
            f"dt = {dt_ms} ms); lower the rate, the gain or the step"
        )
    return _poisson_by_step(rates, gain, int(n_steps), dt_ms, np.uint64(key % 2**64))


def spike_steps_to_dense(ptr: np.ndarray, inputs: np.ndarray, n_inputs: int) -> np.ndarray:
    """Bucketed spikes (from :func:`poisson_spike_steps`) as a time-first 0/1 array ``[T, n_inputs]``."""
    n_steps = ptr.shape[0] - 1
    dense = np.zeros((n_steps, n_inputs), dtype=np.uint8)
    step_of = np.repeat(np.arange(n_steps), np.diff(ptr))
    dense[step_of, inputs] = 1
    return dense

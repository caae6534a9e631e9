"""The probabilistic neuron of seed 000 (spec §A.4).

One state variable ``I``: each step it sums the weights of the spikes arriving now, emits a
spike if ``U(0,1) < I``, and is reset to 0. No membrane, threshold or refractoriness. With at
most one input spike per step, ``P(spike at t + τ_syn | input spike at t) = w``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["probabilistic_spike_counts", "probabilistic_step", "simulate_probabilistic_layer"]


def probabilistic_step(current: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One step: spike where ``u < current``.

    Parameters
    ----------
    current : ndarray of shape [B, C]
        Summed weights of the spikes arriving this step (dimensionless probability).
    u : ndarray of shape [B, C]
        Uniform(0, 1) draws.

    Returns
    -------
    ndarray of bool, shape [B, C]
    """
    return np.asarray(u) < np.asarray(current)


def simulate_probabilistic_layer(
    input_spikes: np.ndarray,
    weights: np.ndarray,
    rng: np.random.Generator,
    *,
    delay_steps: int = 0,
) -> np.ndarray:
    """Clock-driven reference simulation of a layer of probabilistic neurons.

    Parameters
    ----------
    input_spikes : ndarray of shape [T, B, D]
        0/1 input spikes per step (time-first).
    weights : ndarray of shape [D, C]
        Synaptic weights in [0, 1].
    rng : numpy.random.Generator
    delay_steps : int
        Synaptic delay ``τ_syn`` in steps: an input spike at ``t`` acts at ``t + delay``.

    Returns
    -------
    ndarray of bool, shape [T, B, C]
        Output spikes; the last ``delay_steps`` steps of input cannot produce output.

    Raises
    ------
    ValueError
        Wrong shapes, non-binary input, weights outside [0, 1], or a negative/non-integer delay.
    """
    x = np.asarray(input_spikes, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"input_spikes must be [T, B, D]; got shape {x.shape}")
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != x.shape[2]:
        raise ValueError(f"weights must be [D={x.shape[2]}, C]; got shape {w.shape}")
    if isinstance(delay_steps, bool) or not isinstance(delay_steps, (int, np.integer)) or delay_steps < 0:
        raise ValueError(f"delay_steps must be a non-negative integer; got {delay_steps!r}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(w > 1):
        raise ValueError("weights of probabilistic neurons are probabilities; keep them in [0, 1]")
    if np.any((x != 0) & (x != 1)):
        raise ValueError("input_spikes must be 0/1")
    T, B, _ = x.shape
    out = np.zeros((T, B, w.shape[1]), dtype=bool)
    for t in range(T - delay_steps):
        current = x[t] @ w
        out[t + delay_steps] = probabilistic_step(current, rng.random(current.shape))
    return out


def probabilistic_spike_counts(
    counts: np.ndarray, weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Exact fast path: output spike counts when at most one input spike arrives per step.

    Each input spike then triggers an independent Bernoulli(``w_jc``) output spike in every
    neuron ``c``, so neuron ``c`` emits ``Σ_j Binomial(n_j, w_jc)`` spikes, with mean
    ``Σ_j n_j·w_jc``.

    Parameters
    ----------
    counts : ndarray of int, shape [B, D]
        Input spikes per input and sample.
    weights : ndarray of shape [D, C]
        Weights in [0, 1].
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape [B, C]
    """
    n = np.asarray(counts)
    w = np.asarray(weights, dtype=np.float64)
    if n.ndim != 2 or w.ndim != 2 or n.shape[1] != w.shape[0]:
        raise ValueError(f"counts [B, D] and weights [D, C] disagree: {n.shape} vs {w.shape}")
    if np.any(w < 0) or np.any(w > 1):
        raise ValueError("weights of probabilistic neurons are probabilities; keep them in [0, 1]")
    draws = rng.binomial(n[:, :, None].astype(np.int64), w[None, :, :])
    return draws.sum(axis=1)

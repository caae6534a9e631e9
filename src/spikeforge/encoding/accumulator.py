"""Accumulator ("incrementing") spike coding (Kaspersky KNP; spec colanet.md §1.3).

Each tact every input adds its intensity ``x ∈ [0, 1]`` to an accumulator and emits a spike
(subtracting 1) once the accumulator reaches 1. The accumulator starts at 0 for every sample,
so over ``T`` tacts an input emits ``⌊T·x⌋`` evenly spaced spikes; ``x = 1`` spikes every tact.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_n_steps

__all__ = ["accumulator_spikes"]

#: guards ⌊(t+1)·x⌋ against round-off (0.1·10 = 0.9999999999999999)
_EPS = 1e-9


def accumulator_spikes(x: np.ndarray, n_steps: int) -> np.ndarray:
    """Spike trains of accumulator coding, time-first.

    Parameters
    ----------
    x : ndarray of shape [...]
        Intensities in [0, 1] (values outside, infinities included, are clipped; NaN is an
        error).
    n_steps : int
        Number of tacts ``T`` (an integer ≥ 1).

    Returns
    -------
    ndarray of uint8, shape [T, ...]: ``s[t] = ⌊(t+1)·x⌋ − ⌊t·x⌋`` (closed form of the
    accumulator), so ``s.sum(0) = ⌊T·x⌋``.

    Raises
    ------
    TypeError
        If ``n_steps`` is not an integer (a float or a bool).
    ValueError
        If ``n_steps < 1`` or ``x`` contains NaN.
    """
    n_steps = check_n_steps(n_steps)
    x = np.asarray(x, dtype=np.float64)
    if np.isnan(x).any():
        raise ValueError("intensities x must not contain NaN")
    x = np.clip(x, 0.0, 1.0)
    t = np.arange(int(n_steps) + 1, dtype=np.float64).reshape((-1,) + (1,) * x.ndim)
    cum = np.floor(t * x[None] + _EPS)
    return np.diff(cum, axis=0).astype(np.uint8)

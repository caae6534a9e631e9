"""Accumulator spike coding: closed form vs the step-by-step accumulator."""

import numpy as np
import pytest

from spikeforge.encoding import accumulator_spikes


def test_counts_and_spacing():
    s = accumulator_spikes(np.array([1.0, 0.5, 0.1, 0.0, 0.25, 255 / 255 * 0.99]), 10)
    assert s.shape == (10, 6) and s.dtype == np.uint8
    np.testing.assert_array_equal(s.sum(0), [10, 5, 1, 0, 2, 9])
    np.testing.assert_array_equal(np.flatnonzero(s[:, 1]), [1, 3, 5, 7, 9])   # evenly spaced
    np.testing.assert_array_equal(np.flatnonzero(s[:, 2]), [9])               # 0.1·10 = 1 despite round-off


def test_matches_step_by_step_accumulator():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(5, 30)) / 255.0
    s = accumulator_spikes(x, 12)
    acc = np.zeros_like(x)
    for t in range(12):
        acc += x
        spk = acc >= 1 - 1e-9
        acc[spk] -= 1
        np.testing.assert_array_equal(s[t], spk.astype(np.uint8))
    with pytest.raises(ValueError):
        accumulator_spikes(x, 0)


def test_nan_input_and_non_integer_steps_rejected():
    """Regression (review #11): NaN gave 0 spikes silently (a NaN cast to uint8), and
    ``n_steps=2.7`` was truncated to 2 tacts."""
    with pytest.raises(ValueError, match="NaN"):
        accumulator_spikes(np.array([np.nan, 0.5]), 4)
    for bad in (2.7, 2.0, True, "3"):
        with pytest.raises(TypeError, match="n_steps must be an integer"):
            accumulator_spikes(np.array([1.0]), bad)
    # NumPy integers are integers; values outside [0, 1] (infinities too) are still clipped
    s = accumulator_spikes(np.array([np.inf, -np.inf, 2.0]), np.int64(3))
    np.testing.assert_array_equal(s.sum(0), [3, 0, 3])

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

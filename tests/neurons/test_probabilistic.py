"""The probabilistic neuron: P(spike at t + τ | input spike at t) = w."""

import numpy as np
import pytest

from spikeforge.neurons import (
    probabilistic_spike_counts,
    probabilistic_step,
    simulate_probabilistic_layer,
)


def test_step():
    assert probabilistic_step(np.array([[0.3, 0.7]]), np.array([[0.5, 0.5]])).tolist() == [[False, True]]


def test_single_input_spike_fires_with_probability_w():
    rng = np.random.default_rng(0)
    T, B = 3, 20000
    x = np.zeros((T, B, 1))
    x[0] = 1
    out = simulate_probabilistic_layer(x, np.array([[0.3, 0.8]]), rng, delay_steps=1)
    assert out[0].sum() == 0 and out[2].sum() == 0  # only one delay after the input
    np.testing.assert_allclose(out[1].mean(axis=0), [0.3, 0.8], atol=0.015)


def test_fast_counts_match_clock_driven_simulation():
    rng = np.random.default_rng(1)
    T, B, D, C = 200, 400, 6, 3
    w = rng.uniform(0, 1, (D, C))
    # at most one input spike per step, as the reference-train coding guarantees
    owner = rng.integers(-1, D, size=(T, B))
    x = np.zeros((T, B, D))
    t_idx, b_idx = np.nonzero(owner >= 0)
    x[t_idx, b_idx, owner[t_idx, b_idx]] = 1
    counts = x.sum(axis=0).astype(int)
    slow = simulate_probabilistic_layer(x, w, rng, delay_steps=0).sum(axis=0)
    fast = probabilistic_spike_counts(counts, w, rng)
    expected = counts @ w  # E[r_c] = Σ_j n_j w_jc
    for r in (slow, fast):
        assert abs(r.mean(axis=0) - expected.mean(axis=0)).max() < 0.5
    var = (counts[:, :, None] * w * (1 - w)).sum(axis=1)
    z = (fast - expected) / np.sqrt(var)
    assert abs(z.mean()) < 0.1 and 0.9 < z.std() < 1.1


def test_bad_weights():
    with pytest.raises(ValueError, match="probabilities"):
        probabilistic_spike_counts(np.ones((1, 2), int), np.array([[1.5], [0.1]]), np.random.default_rng())
    with pytest.raises(ValueError, match="T, B, D"):
        simulate_probabilistic_layer(np.zeros((3, 4)), np.zeros((4, 1)), np.random.default_rng())


def test_reference_layer_rejects_bad_arguments():
    rng = np.random.default_rng(0)
    x = np.zeros((5, 1, 2))
    w = np.full((2, 3), 0.5)
    for kw, bad_w, bad_x, msg in [({"delay_steps": -1}, w, x, "delay_steps"), ({"delay_steps": 1.5}, w, x, "delay_steps"),
                                  ({}, w * 3, x, r"\[0, 1\]"), ({}, w, x + 2, "0/1")]:
        with pytest.raises(ValueError, match=msg):
            simulate_probabilistic_layer(bad_x, bad_w, rng, **kw)

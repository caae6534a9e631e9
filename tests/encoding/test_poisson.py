"""ISI-based Poisson input: determinism and equivalence to per-step Bernoulli draws."""

import numpy as np
import pytest
from scipy import stats

from spikeforge.encoding import poisson_spike_steps, presentation_key, spike_steps_to_dense


def test_same_key_same_trains_and_keys_differ():
    r = np.linspace(0, 100, 50)
    a = poisson_spike_steps(r, 700, 0.5, presentation_key(1, 0))
    b = poisson_spike_steps(r, 700, 0.5, presentation_key(1, 0))
    c = poisson_spike_steps(r, 700, 0.5, presentation_key(1, 1))
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[1], c[1])
    assert presentation_key(1, 0, 1) != presentation_key(1, 0, 0)


def test_layout_zero_and_saturated_rates():
    ptr, idx = poisson_spike_steps(np.array([0.0, 5000.0, 0.0]), 10, 0.5, 7)  # p = 2.5 → every step
    np.testing.assert_array_equal(np.diff(ptr), 1)
    np.testing.assert_array_equal(idx, 1)
    ptr, idx = poisson_spike_steps(np.full(40, 300.0), 50, 1.0, 3)
    for s in range(50):  # inputs ascending within a step, at most one spike per input and step
        step = idx[ptr[s] : ptr[s + 1]]
        assert np.all(np.diff(step) > 0)
    dense = spike_steps_to_dense(ptr, idx, 40)
    assert dense.shape == (50, 40) and dense.sum() == idx.size


def test_statistically_equivalent_to_per_step_bernoulli():
    """Counts and inter-spike intervals of the ISI generator follow the per-step Bernoulli law."""
    p, n_steps, n_in = 0.03, 4000, 400
    ptr, idx = poisson_spike_steps(np.full(n_in, p * 1000 / 0.5), n_steps, 0.5, presentation_key(9, 9))
    dense = spike_steps_to_dense(ptr, idx, n_in)
    counts = dense.sum(axis=0)
    # counts ~ Binomial(n_steps, p): mean and variance within 5 standard errors
    mean, var = n_steps * p, n_steps * p * (1 - p)
    assert abs(counts.mean() - mean) < 5 * np.sqrt(var / n_in)
    assert abs(counts.var() / var - 1) < 5 * np.sqrt(2 / n_in)
    # gaps ~ Geometric(p): chi-square goodness of fit on the pooled gaps (binned, tail merged)
    gaps = np.concatenate([np.diff(np.flatnonzero(dense[:, j])) for j in range(n_in)])
    edges = np.unique(np.round(np.geomspace(1, 150, 25)).astype(int))
    observed = np.array([np.sum((gaps >= a) & (gaps < b)) for a, b in zip(edges[:-1], edges[1:])] +
                        [np.sum(gaps >= edges[-1])])
    geo = stats.geom(p)
    probs = np.array([geo.cdf(b - 1) - geo.cdf(a - 1) for a, b in zip(edges[:-1], edges[1:])] + [geo.sf(edges[-1] - 1)])
    chi2 = stats.chisquare(observed, probs / probs.sum() * observed.sum())
    assert chi2.pvalue > 1e-3
    # per-step occupancy is flat in time (no edge effects at the start)
    per_step = dense.mean(axis=1)
    assert abs(per_step[:100].mean() - p) < 5 * np.sqrt(p * (1 - p) / (100 * n_in))
    # the same comparison for a clock-driven Bernoulli train (what Brian's PoissonGroup does)
    rng = np.random.default_rng(0)
    bern = rng.random((n_steps, n_in)) < p
    res = stats.ks_2samp(counts, bern.sum(axis=0))
    assert res.pvalue > 1e-3


def test_validation():
    with pytest.raises(ValueError):
        poisson_spike_steps(np.array([-1.0]), 10, 0.5, 0)
    with pytest.raises(ValueError):
        poisson_spike_steps(np.array([1.0]), 10, 0.0, 0)

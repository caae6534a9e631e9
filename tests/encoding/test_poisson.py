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
    ptr, idx = poisson_spike_steps(np.array([0.0, 2000.0, 0.0]), 10, 0.5, 7)  # p = 1 → every step
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


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(dt_ms=float("nan")), "dt_ms"),
        (dict(dt_ms=float("inf")), "dt_ms"),
        (dict(dt_ms=-0.5), "dt_ms"),
        (dict(gain=float("nan")), "gain"),
        (dict(gain=float("inf")), "gain"),
        (dict(gain=-1.0), "gain"),
        (dict(n_steps=2.5), "n_steps"),
        (dict(n_steps=True), "n_steps"),
        (dict(rates_hz=np.array([np.nan])), "rates_hz"),
        (dict(rates_hz=np.array([np.inf])), "rates_hz"),
        (dict(rates_hz=np.array([3000.0])), "exceeds 1"),  # p = 1.5
        (dict(rates_hz=np.array([600.0]), gain=4.0), "exceeds 1"),  # p = 1.2
    ],
)
def test_bad_parameters_raise_like_poisson_spikes(kw, msg):
    """Regression (review #10): NaN dt/gain hit a bare ZeroDivisionError inside the kernel,
    a negative gain gave no spikes, and ``rate·gain·dt/1000 > 1`` spiked at every step
    where :func:`poisson_spikes` raises."""
    args = dict(rates_hz=np.array([10.0]), n_steps=100, dt_ms=0.5, key=1) | kw
    rates, n_steps, dt_ms, key = (args.pop(k) for k in ("rates_hz", "n_steps", "dt_ms", "key"))
    with pytest.raises(ValueError, match=msg):
        poisson_spike_steps(rates, n_steps, dt_ms, key, **args)


def test_gain_zero_and_p_one_are_allowed():
    ptr, idx = poisson_spike_steps(np.array([10.0]), 20, 1.0, 1, gain=0.0)
    assert ptr[-1] == 0
    ptr, idx = poisson_spike_steps(np.array([500.0]), 20, 1.0, 1, gain=2.0)  # p = 1 exactly
    assert ptr[-1] == 20
    ptr, idx = poisson_spike_steps(np.array([10.0]), np.int64(20), 1.0, 1)  # NumPy ints are fine
    assert ptr.shape == (21,)

"""Restricted nearest-neighbour STDP: hand-computed values and fast path vs reference."""

import math

import numpy as np
import pytest

from spikeforge.plasticity import (
    NNRestrictedSTDP,
    stdp_depress,
    stdp_facilitate,
    stdp_nn_restricted,
    stdp_nn_restricted_reference,
)

P = NNRestrictedSTDP(lam=0.01, alpha=1.0, mu_plus=0.0, mu_minus=0.0, tau_plus_ms=10.0, tau_minus_ms=20.0)


def test_pairing_primitives_hand_values():
    # additive LTP at Δt = 3 ms, τ+ = 10 ms: 0.5 + 0.01·e^{-0.3}
    assert stdp_facilitate(0.5, math.exp(-0.3), 0.01, 0.0, 1.0) == pytest.approx(0.507408182206817)
    # multiplicative LTP: 0.5 + 0.01·(1 - 0.5)·e^{-0.3}
    assert stdp_facilitate(0.5, math.exp(-0.3), 0.01, 1.0, 1.0) == pytest.approx(0.503704091103408)
    # LTD, additive and multiplicative
    assert stdp_depress(0.5, math.exp(-0.35), 0.01, 1.0, 0.0, 1.0) == pytest.approx(0.5 - 0.01 * 0.7046880897187134)
    assert stdp_depress(0.5, 1.0, 0.01, 2.0, 1.0, 1.0) == pytest.approx(0.5 - 0.02 * 0.5)
    # bounds
    assert stdp_facilitate(0.999, 1.0, 0.5, 0.0, 1.0) == 1.0
    assert stdp_depress(0.001, 1.0, 0.5, 1.0, 0.0, 1.0) == 0.0
    # w_max scaling: the rule acts on w / w_max
    assert stdp_facilitate(5.0, 1.0, 0.1, 1.0, 10.0) == pytest.approx(10 * (0.5 + 0.1 * 0.5))


def test_reference_hand_computed_sequence():
    # pre at 10 and 20 ms, post at 12 ms, d = 1 ms, dt = 1 ms.
    # pre@10: window (-1, 9] is empty -> no change.
    # pre@20: window (9, 19] holds 12: LTP Δt = 12 + 1 - 10 = 3 ms; LTD K = e^{-(19 - 12)/20}
    w, trace = stdp_nn_restricted_reference([10, 20], [12], 0.5, P, delay_steps=1, dt_ms=1.0, return_trace=True)
    assert trace[0] == 0.5
    assert w == pytest.approx(0.5003613013096301, rel=1e-12)
    Pm = NNRestrictedSTDP(lam=0.01, mu_plus=1.0, mu_minus=1.0, tau_plus_ms=10.0, tau_minus_ms=20.0)
    wm = stdp_nn_restricted_reference([10, 20], [12], 0.5, Pm, delay_steps=1, dt_ms=1.0)
    assert wm == pytest.approx(0.5001545483659771, rel=1e-12)


def test_restricted_pairing_rules():
    # no post spike in the window -> no change at all (restricted scheme)
    assert stdp_nn_restricted_reference([10, 20, 30], [], 0.4, P, delay_steps=1, dt_ms=1.0) == 0.4
    # a post exactly at t_prev - d is outside the next window (an exact zero Δt is skipped):
    # post@9 pairs with pre@10 only, through NEST's initial t_prev = 0 (Δt = 9 + 1 - 0 = 10 ms);
    # pre@20's window (9, 19] excludes it.
    w0 = stdp_nn_restricted_reference([10, 20], [9], 0.4, P, delay_steps=1, dt_ms=1.0)
    assert w0 == pytest.approx(0.4 + 0.01 * math.exp(-1.0))
    # a post exactly at t - d belongs to the window (LTP) but not to the LTD search
    w = stdp_nn_restricted_reference([10, 20], [19], 0.4, P, delay_steps=1, dt_ms=1.0)
    assert w == pytest.approx(0.4 + 0.01 * math.exp(-1.0))  # Δt = 19 + 1 - 10 = 10 ms; no earlier post
    # only the earliest post of the window potentiates
    w2 = stdp_nn_restricted_reference([10, 20], [12, 15], 0.4, P, delay_steps=1, dt_ms=1.0)
    assert w2 == pytest.approx(0.4 + 0.01 * math.exp(-0.3) - 0.01 * math.exp(-(19 - 15) / 20))


@pytest.mark.parametrize("mu", [0.0, 1.0, 0.5])
@pytest.mark.parametrize("seed", range(5))
def test_fast_path_matches_reference(mu, seed):
    rng = np.random.default_rng(seed)
    params = NNRestrictedSTDP(lam=0.03, alpha=1.2, mu_plus=mu, mu_minus=mu, tau_plus_ms=8.0, tau_minus_ms=15.0)
    D, C = 6, 4
    pre = [np.sort(rng.choice(2000, rng.integers(0, 60), replace=False)) for _ in range(D)]
    post = [np.sort(rng.choice(2000, rng.integers(0, 80), replace=False)) for _ in range(C)]
    w0 = rng.uniform(0, 1, (D, C))
    d = int(rng.integers(0, 20))
    fast = stdp_nn_restricted(pre, post, w0, params, delay_steps=d, dt_ms=0.1)
    for j in range(D):
        for c in range(C):
            ref = stdp_nn_restricted_reference(pre[j], post[c], w0[j, c], params, delay_steps=d, dt_ms=0.1)
            assert fast[j, c] == pytest.approx(ref, rel=1e-12, abs=1e-15)
    assert not np.allclose(fast, w0)


def test_fast_path_input_checks():
    with pytest.raises(ValueError, match="sorted"):
        stdp_nn_restricted([[5, 3]], [[1]], np.zeros((1, 1)), P, delay_steps=1, dt_ms=1.0)
    with pytest.raises(ValueError, match="shape"):
        stdp_nn_restricted([[1]], [[1]], np.zeros((2, 1)), P, delay_steps=1, dt_ms=1.0)
    with pytest.raises(ValueError):
        NNRestrictedSTDP(tau_plus_ms=0.0)


NAN = float("nan")


@pytest.mark.parametrize("fn", [stdp_nn_restricted, stdp_nn_restricted_reference])
@pytest.mark.parametrize(
    "pre, post, w0, kw, msg",
    [
        ([10, 30], [20], 0.5, dict(dt_ms=0.0), "dt_ms"),
        ([10, 30], [20], 0.5, dict(dt_ms=-1.0), "dt_ms"),
        ([10, 30], [20], 0.5, dict(dt_ms=NAN), "dt_ms"),
        ([10, 30], [20], 0.5, dict(delay_steps=-5), "delay_steps"),
        ([10, 30], [20], 0.5, dict(delay_steps=1.5), "delay_steps"),
        ([10, 30], [20], NAN, {}, "w0"),
        ([10, 30], [20], np.inf, {}, "w0"),
        ([-5, 10], [20], 0.5, {}, "non-negative"),
        ([10, 30], [-1], 0.5, {}, "non-negative"),
        ([10.7, 30.2], [20], 0.5, {}, "integer"),
        ([10, 30], [20.5], 0.5, {}, "integer"),
        ([[10], [30]], [20], 0.5, {}, "1-D"),
    ],
)
def test_bad_arguments_are_refused(fn, pre, post, w0, kw, msg):
    args = {"delay_steps": 1, "dt_ms": 1.0, **kw}
    with pytest.raises(ValueError, match=msg):
        if fn is stdp_nn_restricted:
            fn([pre], [post], np.array([[w0]]), P, **args)
        else:
            fn(pre, post, w0, P, **args)


def test_integral_float_steps_are_accepted():
    a = stdp_nn_restricted([[10.0, 30.0]], [[20.0]], np.array([[0.5]]), P, delay_steps=1, dt_ms=1.0)
    b = stdp_nn_restricted([[10, 30]], [[20]], np.array([[0.5]]), P, delay_steps=np.int64(1), dt_ms=1.0)
    assert a[0, 0] == b[0, 0] == stdp_nn_restricted_reference([10, 30], [20], 0.5, P, delay_steps=1, dt_ms=1.0)


@pytest.mark.parametrize("field", ["lam", "alpha", "mu_plus", "mu_minus", "tau_plus_ms", "tau_minus_ms", "w_max"])
def test_parameters_refuse_nan(field):
    with pytest.raises(ValueError, match="finite"):
        NNRestrictedSTDP(**{field: NAN})

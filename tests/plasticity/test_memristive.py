"""Memristive tanh rule: hand-computed values and fast path vs reference."""

import math

import numpy as np
import pytest

from spikeforge.plasticity import (
    MemristiveTanh,
    memristive_depress,
    memristive_facilitate,
    memristive_stdp,
    memristive_stdp_reference,
)

P = MemristiveTanh()


def test_published_constants():
    assert P.a_plus == pytest.approx(0.07376, abs=1e-5)
    assert P.a_minus == pytest.approx(-0.049637, abs=1e-6)
    assert P.mu_plus_ms == pytest.approx(26.731, abs=1e-3)
    assert P.mu_minus_ms == pytest.approx(-22.325, abs=1e-3)
    assert P.tau_plus_ms == pytest.approx(9.3006, abs=1e-4)
    assert P.tau_minus_ms == pytest.approx(10.812, abs=1e-3)
    s = MemristiveTanh.slide()
    assert (s.a_plus, s.a_minus, s.mu_plus_ms, s.mu_minus_ms, s.tau_plus_ms, s.tau_minus_ms) == (
        0.074, -0.047, 26.7, -22.3, 9.3, 10.8)


def test_pairing_primitives_hand_values():
    # LTP at Δt = 3 ms on w = 0.2: 0.2·(1 + A+·(1 + tanh((26.7307 - 3)/9.3006)))
    assert memristive_facilitate(0.2, 3.0, P.a_plus, P.mu_plus_ms, P.tau_plus_ms, 1.0) == pytest.approx(
        0.22932575672343952, rel=1e-12)
    # LTD at Δt = -7 ms on w = 0.22932575672343952
    assert memristive_depress(0.22932575672343952, -7.0, P.a_minus, P.mu_minus_ms, P.tau_minus_ms, 1.0) == pytest.approx(
        0.20782242559216016, rel=1e-12)
    # far from the windows nothing happens
    assert memristive_facilitate(0.2, 500.0, P.a_plus, P.mu_plus_ms, P.tau_plus_ms, 1.0) == pytest.approx(0.2)
    assert memristive_depress(0.2, -500.0, P.a_minus, P.mu_minus_ms, P.tau_minus_ms, 1.0) == pytest.approx(0.2)
    # saturation at w_max and the multiplicative zero
    assert memristive_facilitate(0.99, 0.1, 0.3, P.mu_plus_ms, P.tau_plus_ms, 1.0) == 1.0
    assert memristive_facilitate(0.0, 3.0, P.a_plus, P.mu_plus_ms, P.tau_plus_ms, 1.0) == 0.0


def test_slide_ltp_form_is_almost_zero():
    """Spec G.1: the slide's (−Δt − μ+) form gives essentially no potentiation."""
    slide_factor = 1 + math.tanh((-3.0 - 26.7) / 9.3)
    code_factor = 1 + math.tanh((26.7 - 3.0) / 9.3)
    assert slide_factor < 0.004 < 1.9 < code_factor


def test_reference_hand_computed_sequence():
    # pre at 10, 20 ms; post at 12 ms; d = 1 ms.
    # pre@10: first spike -> no facilitation; no post <= 9 -> no depression.
    # pre@20: facilitation for post 12 (Δt = 3 ms), depression with post 12 (Δt = 12 + 1 - 20 = -7 ms).
    w, trace = memristive_stdp_reference([10, 20], [12], 0.2, P, delay_steps=1, dt_ms=1.0, return_trace=True)
    assert trace[0] == 0.2
    assert w == pytest.approx(0.20782242559216016, rel=1e-12)


def test_every_post_in_window_facilitates_and_depression_uses_whole_history():
    w = memristive_stdp_reference([10, 40], [12, 15], 0.3, P, delay_steps=1, dt_ms=1.0)
    expected = 0.3
    for q in (12, 15):
        expected += P.a_plus * expected * (1 + math.tanh((P.mu_plus_ms - (q + 1 - 10)) / P.tau_plus_ms))
    expected += P.a_minus * expected * (1 + math.tanh(((15 + 1 - 40) - P.mu_minus_ms) / P.tau_minus_ms))
    assert w == pytest.approx(expected, rel=1e-12)
    # depression pairs with an old post even when no post came since the last pre
    w_old = memristive_stdp_reference([30, 35], [5], 0.3, P, delay_steps=1, dt_ms=1.0)
    assert w_old < 0.3


@pytest.mark.parametrize("seed", range(6))
def test_fast_path_matches_reference(seed):
    rng = np.random.default_rng(seed)
    D, C = 5, 3
    pre = [np.sort(rng.choice(3000, rng.integers(0, 50), replace=False)) for _ in range(D)]
    post = [np.sort(rng.choice(3000, rng.integers(0, 90), replace=False)) for _ in range(C)]
    w0 = rng.uniform(0.01, 1, (D, C))
    d = int(rng.integers(0, 25))
    fast = memristive_stdp(pre, post, w0, P, delay_steps=d, dt_ms=0.1)
    for j in range(D):
        for c in range(C):
            ref = memristive_stdp_reference(pre[j], post[c], w0[j, c], P, delay_steps=d, dt_ms=0.1)
            assert fast[j, c] == pytest.approx(ref, rel=1e-9, abs=1e-15)
    assert not np.allclose(fast, w0)


def test_parameter_validation():
    with pytest.raises(ValueError):
        MemristiveTanh(tau_minus_ms=-10.8)
    with pytest.raises(ValueError):
        MemristiveTanh(a_minus=-0.7)


NAN = float("nan")


@pytest.mark.parametrize("kw", [dict(a_plus=-0.4), dict(a_minus=0.3), dict(a_plus=NAN), dict(a_minus=NAN),
                                dict(mu_plus_ms=NAN), dict(mu_minus_ms=np.inf), dict(tau_plus_ms=NAN),
                                dict(w_max=np.inf)])
def test_signs_and_finiteness_of_parameters(kw):
    with pytest.raises(ValueError):
        MemristiveTanh(**kw)
    MemristiveTanh(a_plus=0.0, a_minus=0.0)  # zero amplitudes switch a branch off


@pytest.mark.parametrize("fn", [memristive_stdp, memristive_stdp_reference])
@pytest.mark.parametrize(
    "pre, post, w0, kw, msg",
    [
        ([10, 30], [20], 0.5, dict(dt_ms=0.0), "dt_ms"),
        ([10, 30], [20], 0.5, dict(dt_ms=-1.0), "dt_ms"),
        ([10, 30], [20], 0.5, dict(delay_steps=-1), "delay_steps"),
        ([10, 30], [20], NAN, {}, "w0"),
        ([-5, 10], [20], 0.5, {}, "non-negative"),
        ([10.7, 30], [20], 0.5, {}, "integer"),
    ],
)
def test_bad_arguments_are_refused(fn, pre, post, w0, kw, msg):
    P = MemristiveTanh()
    args = {"delay_steps": 1, "dt_ms": 1.0, **kw}
    with pytest.raises(ValueError, match=msg):
        if fn is memristive_stdp:
            fn([pre], [post], np.array([[w0]]), P, **args)
        else:
            fn(pre, post, w0, P, **args)

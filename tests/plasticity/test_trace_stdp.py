"""Trace STDP / All-LTD / use-it-or-lose-it: hand-computed values of the per-synapse reference."""

import math

import numpy as np
import pytest

from spikeforge.plasticity import (
    GATES,
    TraceSTDP,
    decay_table,
    normalize_columns,
    segment_gates,
    stdp_post_update,
    stdp_pre_update,
    trace_stdp_reference,
    use_it_or_lose_it,
)

DT = 0.5
RULE = TraceSTDP(a_plus=0.01, a_minus=0.02, tau_pre_ms=20.0, tau_post_ms=10.0, w_max=1.0)


def test_pre_then_post_potentiates_by_the_window():
    w, hist = trace_stdp_reference([10], [30], 0.5, RULE, DT)  # Δt = 20 steps = 10 ms
    assert hist[0] == 0.5  # the pre spike alone: no post trace yet
    assert w == pytest.approx(0.5 + 0.01 * math.exp(-10.0 / 20.0), abs=1e-15)


def test_post_then_pre_depresses_by_the_window():
    w, _ = trace_stdp_reference([30], [10], 0.5, RULE, DT)  # post 10 ms before pre
    assert w == pytest.approx(0.5 - 0.02 * math.exp(-10.0 / 10.0), abs=1e-15)


def test_all_ltd_gates_depress_in_both_orders():
    lr1, lr2 = GATES["all_ltd"]
    w_causal, _ = trace_stdp_reference([10], [30], 0.5, RULE, DT, lr1=lr1, lr2=lr2)
    w_acausal, _ = trace_stdp_reference([30], [10], 0.5, RULE, DT, lr1=lr1, lr2=lr2)
    assert w_causal == pytest.approx(0.5 - 0.01 * math.exp(-0.5), abs=1e-15)
    assert w_acausal == pytest.approx(0.5 - 0.02 * math.exp(-1.0), abs=1e-15)
    off, _ = trace_stdp_reference([10, 40], [30], 0.5, RULE, DT, lr1=0.0, lr2=0.0)
    assert off == 0.5


def test_all_to_all_traces_add_and_nearest_traces_reset():
    pre = [0, 20]  # two pre spikes 10 ms apart, then a post spike 10 ms after the second
    w_add, _ = trace_stdp_reference(pre, [40], 0.0, RULE, DT)
    x_add = math.exp(-20 / 20) + math.exp(-10 / 20)  # the pre spikes are 20 ms and 10 ms before
    assert w_add == pytest.approx(0.01 * x_add, abs=1e-15)
    w_near, _ = trace_stdp_reference(pre, [40], 0.0, RULE.replace(nearest=True), DT)
    assert w_near == pytest.approx(0.01 * math.exp(-10 / 20), abs=1e-15)


def test_triplet_factor_uses_the_second_post_trace_before_its_bump():
    rule = TraceSTDP.diehl_cook()
    # post at 0, pre at 10 ms, post at 20 ms: potentiation x(10 ms)·y2(20 ms) read before the bump
    w, hist = trace_stdp_reference([20], [0, 40], 0.5, rule, DT)
    after_pre = 0.5 - 1e-4 * math.exp(-10 / 20)
    assert hist[1] == pytest.approx(after_pre, abs=1e-15)
    assert w == pytest.approx(after_pre + 1e-2 * math.exp(-10 / 20) * math.exp(-20 / 40), abs=1e-15)
    # the first post spike of all: y2 = 0, so no potentiation
    w0, _ = trace_stdp_reference([0], [20], 0.5, rule, DT)
    assert w0 == 0.5


def test_weights_are_clipped():
    big = RULE.replace(a_plus=5.0, a_minus=5.0)
    assert trace_stdp_reference([10], [30], 0.5, big, DT)[0] == 1.0
    assert trace_stdp_reference([30], [10], 0.5, big, DT)[0] == 0.0


def test_delay_shifts_the_presynaptic_arrival():
    w, _ = trace_stdp_reference([10], [30], 0.5, RULE, DT, delay_steps=10)  # arrives at 20: Δt = 5 ms
    assert w == pytest.approx(0.5 + 0.01 * math.exp(-5 / 20), abs=1e-15)


def test_use_it_or_lose_it_decay():
    rule = TraceSTDP.stdp_all_ltd(0.05, prune_tau_ms=7500.0)
    assert use_it_or_lose_it(0.04, 7500.0, 7500.0, 1.0) == pytest.approx(0.04 * math.exp(-1.0))
    assert use_it_or_lose_it(0.04, 7500.0, 7500.0, 0.0) == 0.04  # k_p = 0 at test time
    # two pre spikes 3 s and 2 s after the start, no post spikes: each decays by its own interval
    w, hist = trace_stdp_reference([6000, 10000], [], 0.04, rule, DT)
    assert hist[0] == pytest.approx(0.04 * math.exp(-((3000 / 7500) ** 2)))
    assert w == pytest.approx(hist[0] * math.exp(-((2000 / 7500) ** 2)))
    assert trace_stdp_reference([6000], [], 0.04, rule, DT, k_p=0.0)[0] == 0.04


def test_presets_match_the_specification():
    al = TraceSTDP.stdp_all_ltd(0.05)
    assert al.a_plus == pytest.approx(5e-4) and al.a_minus == pytest.approx(5.25e-4)
    assert not al.nearest and al.tau_post2_ms is None and al.w_max == 0.05
    dc = TraceSTDP.diehl_cook()
    assert (dc.a_minus, dc.a_plus, dc.tau_post2_ms, dc.nearest) == (1e-4, 1e-2, 40.0, True)


def test_segment_gates_and_normalisation():
    g = segment_gates(6, [0, 0, 1, 1, 2, 2], 1)
    np.testing.assert_array_equal(g[:, 1], [-1, -1, 1, 1, -1, -1])
    np.testing.assert_array_equal(g[:, 0], 1)
    with pytest.raises(ValueError):
        segment_gates(5, [0, 1], 0)
    g = segment_gates(6, [0, 0, 1, 1, 2, 2], 2, ltd_gain=0.25)
    np.testing.assert_array_equal(g, [[0.25, -0.25]] * 4 + [[1.0, 1.0]] * 2)
    np.testing.assert_array_equal(segment_gates(3, [0, 1, 2], 0, ltd_gain=0.0)[1:], 0.0)
    for bad in (-0.1, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match="ltd_gain"):
            segment_gates(3, [0, 1, 2], 0, ltd_gain=bad)
    w = np.array([[1.0, 0.0], [3.0, 0.0]])
    np.testing.assert_allclose(normalize_columns(w, 8.0), [[2.0, 0.0], [6.0, 0.0]])


def test_decay_table():
    t = decay_table(20.0, 0.5)
    assert t[0] == 1.0 and t[40] == pytest.approx(math.exp(-1.0)) and 1e-7 <= t[-1] < 1.1e-7
    assert decay_table(20.0, 0.5, tol=1e-13)[-1] < 1e-12


@pytest.mark.parametrize("kw", [dict(tau_pre_ms=0), dict(tau_post2_ms=-1.0), dict(prune_tau_ms=0.0),
                                dict(w_min=1.0, w_max=0.5), dict(a_plus=-1.0)])
def test_bad_parameters(kw):
    with pytest.raises(ValueError):
        TraceSTDP(**kw)


@pytest.mark.parametrize("kw, match", [
    (dict(mu_plus=-0.5), "mu_plus and mu_minus must be >= 0"),
    (dict(mu_minus=-1e-9), "mu_plus and mu_minus must be >= 0"),
    (dict(mu_plus=float("nan")), "TraceSTDP.mu_plus must be finite"),
    (dict(mu_minus=float("inf")), "TraceSTDP.mu_minus must be finite"),
    (dict(w_min=0.5, w_max=0.5, mu_plus=1.0), "needs w_max > w_min"),
    (dict(w_min=0.5, w_max=0.5, mu_minus=0.1), "needs w_max > w_min"),
])
def test_bad_weight_dependence(kw, match):
    with pytest.raises(ValueError, match=match):
        TraceSTDP(**kw)
    assert TraceSTDP(w_min=0.5, w_max=0.5).mu_plus == 0.0  # equal bounds are fine for the additive rule
    with pytest.raises(ValueError, match="needs w_max > w_min"):
        TraceSTDP(w_min=0.5, w_max=1.0, mu_plus=1.0).replace(w_max=0.5)


@pytest.mark.parametrize(
    "tau, dt, tol", [(20.0, 0.0, 1e-7), (20.0, -1.0, 1e-7), (20.0, float("nan"), 1e-7), (0.0, 0.5, 1e-7),
                     (float("inf"), 0.5, 1e-7), (20.0, 0.5, 0.0), (20.0, 0.5, 1.5)]
)
def test_decay_table_refuses_bad_arguments(tau, dt, tol):
    with pytest.raises(ValueError):
        decay_table(tau, dt, tol)


@pytest.mark.parametrize(
    "pre, post, w0, kw, msg",
    [
        ([10], [12], 0.5, dict(dt_ms=0.0), "dt_ms"),
        ([10], [12], 0.5, dict(dt_ms=-0.5), "dt_ms"),
        ([10], [12], 0.5, dict(delay_steps=-2), "delay_steps"),
        ([10], [12], float("nan"), {}, "w0"),
        ([-3], [12], 0.5, {}, "non-negative"),
        ([10.5], [12], 0.5, {}, "integer"),
        ([10], [12], 0.5, dict(lr1=float("nan")), "lr1"),
    ],
)
def test_reference_refuses_bad_arguments(pre, post, w0, kw, msg):
    args = {"dt_ms": 0.5, **kw}
    dt = args.pop("dt_ms")
    with pytest.raises(ValueError, match=msg):
        trace_stdp_reference(pre, post, w0, TraceSTDP(), dt, **args)


# --------------------------------------------------------------------------- weight dependence (μ±)
SOFT = TraceSTDP(a_plus=0.3, a_minus=0.2, tau_pre_ms=20.0, tau_post_ms=10.0, w_min=-1.0, w_max=3.0,
                 mu_plus=1.0, mu_minus=2.0)


def test_weight_dependence_scales_each_term_by_the_weight_before_the_update():
    x = math.exp(-10.0 / 20.0)  # pre 10 ms before post
    w, _ = trace_stdp_reference([10], [30], 0.5, SOFT, DT)
    assert w == pytest.approx(0.5 + 0.3 * x * ((3.0 - 0.5) / 4.0) ** 1.0, abs=1e-15)
    y = math.exp(-10.0 / 10.0)  # post 10 ms before pre
    w, _ = trace_stdp_reference([30], [10], 0.5, SOFT, DT)
    assert w == pytest.approx(0.5 - 0.2 * y * ((0.5 + 1.0) / 4.0) ** 2.0, abs=1e-15)
    # the compiled primitives give the same numbers (the engine uses them)
    post = stdp_post_update(0.5, x, 1.0, 1.0, 0.3, 1.0, -1.0, 3.0)  # (w, x, y2, lr2, A+, μ+, w_min, w_max)
    assert post == pytest.approx(0.5 + 0.3 * x * 2.5 / 4.0, abs=1e-15)
    pre = stdp_pre_update(0.5, y, 1.0, 0.2, 2.0, -1.0, 3.0)  # (w, y1, lr1, A−, μ−, w_min, w_max)
    assert pre == pytest.approx(0.5 - 0.2 * y * (1.5 / 4.0) ** 2, abs=1e-15)
    # two events: the second factor is taken at the weight the first one left
    w, hist = trace_stdp_reference([10], [30, 50], 0.5, SOFT, DT)
    x2 = math.exp(-20.0 / 20.0)
    assert w == pytest.approx(hist[1] + 0.3 * x2 * (3.0 - hist[1]) / 4.0, abs=1e-15)


def _old_additive_reference(pre_steps, post_steps, w0, rule, dt_ms, lr1=1.0, lr2=1.0):
    """The rule before μ± existed (no delay, no decay): the additive formulas, written out."""
    events = sorted([(t, 0) for t in pre_steps] + [(t, 1) for t in post_steps])
    w, x, y1, y2, tx, ty = w0, 0.0, 0.0, 0.0, 0, 0
    for t, kind in events:
        if kind == 0:
            x_now = x * math.exp(-(t - tx) * dt_ms / rule.tau_pre_ms)
            x, tx = (1.0 if rule.nearest else x_now + 1.0), t
            y1_now = y1 * math.exp(-(t - ty) * dt_ms / rule.tau_post_ms)
            w = min(max(w - lr1 * rule.a_minus * y1_now, rule.w_min), rule.w_max)
        else:
            x_now = x * math.exp(-(t - tx) * dt_ms / rule.tau_pre_ms)
            y1_now = y1 * math.exp(-(t - ty) * dt_ms / rule.tau_post_ms)
            y2_now = y2 * math.exp(-(t - ty) * dt_ms / rule.tau_post2_ms) if rule.tau_post2_ms else 1.0
            w = min(max(w + lr2 * rule.a_plus * x_now * y2_now, rule.w_min), rule.w_max)
            y1, y2, ty = (1.0 if rule.nearest else y1_now + 1.0), (1.0 if rule.nearest else y2_now + 1.0), t
    return w


@pytest.mark.parametrize("nearest", [True, False])
@pytest.mark.parametrize("lr1, lr2", [(1.0, 1.0), (1.0, -1.0), (0.7, 1.6)])
def test_mu_zero_is_the_additive_rule_bit_for_bit(nearest, lr1, lr2):
    # large amplitudes: the weight hits both bounds, where the factor's ratio is 0 (0**0 must be 1)
    rule = TraceSTDP(a_plus=0.4, a_minus=0.35, tau_pre_ms=5.0, tau_post_ms=4.0, tau_post2_ms=7.0, nearest=nearest)
    rng = np.random.default_rng(3)
    pre, post = np.sort(rng.choice(400, 60, replace=False)), np.sort(rng.choice(400, 60, replace=False))
    old = _old_additive_reference(pre, post, 0.5, rule, DT, lr1, lr2)
    w, hist = trace_stdp_reference(pre, post, 0.5, rule, DT, lr1=lr1, lr2=lr2)
    assert w == old  # bit-identical, mu omitted
    assert trace_stdp_reference(pre, post, 0.5, rule.replace(mu_plus=0.0, mu_minus=0.0), DT, lr1=lr1, lr2=lr2)[0] == old
    assert 0.0 in hist or 1.0 in hist  # a bound was reached (and left again: 0**0 = 1)
    # the compiled primitives at the bounds with μ = 0: the full additive step, exactly
    assert stdp_pre_update(0.0, 0.5, 1.0, 0.3, 0.0, 0.0, 1.0) == 0.0
    assert stdp_pre_update(1.0, 0.5, 1.0, 0.3, 0.0, 0.0, 1.0) == 1.0 - 1.0 * 0.3 * 0.5
    assert stdp_post_update(1.0, 0.5, 1.0, -1.0, 0.3, 0.0, 0.0, 1.0) == 1.0 + -1.0 * 0.3 * 0.5 * 1.0
    assert stdp_post_update(0.0, 0.5, 1.0, 1.0, 0.3, 0.0, 0.0, 1.0) == 1.0 * 0.3 * 0.5 * 1.0


@pytest.mark.parametrize("a", [0.5, 20.0])
def test_mu_one_approaches_the_bounds_and_never_crosses_them(a):
    """Soft bounds: each pairing moves w a fraction a·x/(w_max − w_min) of its distance to the bound."""
    soft = TraceSTDP(a_plus=a, a_minus=a, tau_pre_ms=20.0, tau_post_ms=20.0, nearest=True, w_min=-1.0, w_max=1.0,
                     mu_plus=1.0, mu_minus=1.0)
    pre = np.arange(0, 2000, 50)
    # pre 2 ms before post, potentiation only; post 2 ms before pre, depression only
    _, up = trace_stdp_reference(pre, pre + 4, 0.0, soft.replace(a_minus=0.0), DT)
    _, down = trace_stdp_reference(pre + 4, pre, 0.0, soft.replace(a_plus=0.0), DT)
    for hist in (up, down):
        assert all(-1.0 <= w <= 1.0 for w in hist)
    pots, deps = np.array(up[1::2]), np.array(down[1::2])  # after each potentiating / depressing event
    if a < 2.0:  # the step is a fraction < 1 of the distance: asymptotic, strictly inside the bounds
        assert np.all(np.diff(pots) > 0) and pots.max() < 1.0 and pots[-1] > 1.0 - 1e-4
        assert np.all(np.diff(deps) < 0) and deps.min() > -1.0 and deps[-1] < -1.0 + 1e-4
        gap = 1.0 - pots  # geometric: the distance shrinks by (1 − a·x/2) per pairing
        np.testing.assert_allclose(gap[1:] / gap[:-1], 1.0 - a * math.exp(-2.0 / 20.0) / 2.0, rtol=1e-6)
        additive, _ = trace_stdp_reference(pre, pre + 4, 0.0, soft.replace(a_minus=0.0, mu_plus=0.0), DT)
        assert additive == 1.0  # the additive rule reaches the bound
    else:  # overshooting steps are clipped: at the bound, never past it
        assert max(up) == 1.0 and min(down) == -1.0


def test_weight_dependence_outside_the_bounds_and_with_all_ltd():
    rule = TraceSTDP(a_plus=0.3, a_minus=0.2, w_min=0.0, w_max=1.0, mu_plus=0.5, mu_minus=0.5)
    # a weight outside the bounds takes the factor of the nearest bound (the ratio is clamped to [0, 1])
    assert trace_stdp_reference([10], [12], 1.5, rule, DT)[0] == 1.0  # f+ = 0: no potentiation, clipped
    w, _ = trace_stdp_reference([12], [10], 1.5, rule, DT)  # the post event clips to 1 first, then f− = 1
    assert w == pytest.approx(1.0 - 0.2 * math.exp(-1.0 / 20.0), abs=1e-15)
    assert stdp_post_update(1.5, 1.0, 1.0, 1.0, 0.3, 0.5, 0.0, 1.0) == 1.0
    assert stdp_pre_update(1.1, 1.0, 1.0, 0.5, 0.5, 0.0, 1.0) == pytest.approx(0.6, abs=1e-15)  # f− = 1, not 1.1**0.5
    assert stdp_post_update(-0.1, 1.0, 1.0, 1.0, 0.5, 0.5, 0.0, 1.0) == pytest.approx(0.4, abs=1e-15)  # f+ = 1
    assert stdp_pre_update(-0.5, 1.0, 1.0, 0.2, 0.5, 0.0, 1.0) == 0.0  # f− = 0, clipped
    # All-LTD: the post-event term keeps its factor f+ (term-based): at w_max it cannot depress
    lr1, lr2 = GATES["all_ltd"]
    assert trace_stdp_reference([10], [12], 1.0, rule, DT, lr1=lr1, lr2=lr2)[0] == 1.0
    w, _ = trace_stdp_reference([10], [12], 0.75, rule, DT, lr1=lr1, lr2=lr2)
    assert w == pytest.approx(0.75 - 0.3 * math.exp(-1.0 / 20.0) * 0.25**0.5, abs=1e-15)

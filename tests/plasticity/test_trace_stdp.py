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

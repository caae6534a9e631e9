"""Synaptic-resource plasticity (spec colanet.md §1.5–1.6): hand-computed values, the W↔w
round trip, and the compiled path against the readable reference."""

import math

import numpy as np
import pytest

from spikeforge.plasticity import (
    SynapticResource,
    anti_hebbian_delta,
    dopamine_delta,
    resource_at_zero_weight,
    resource_plasticity,
    resource_plasticity_reference,
    resource_to_weight,
    stability_after_dopamine,
    stability_factor,
    weight_to_resource,
)

#: simple numbers for hand computation: span 2, W0 = 2
P = SynapticResource(w_min=-1.0, w_max=1.0, d_hebb=-0.5, dopamine_window=5, contribution_window=3,
                     isi_max=4, stability_ratio=0.5, n_silent=1.0)


def test_mapping_hand_values():
    assert resource_to_weight(2.0, -1.0, 1.0) == pytest.approx(0.0)          # −1 + 2·2/4
    assert resource_to_weight(6.0, -1.0, 1.0) == pytest.approx(0.5)          # −1 + 12/8
    assert resource_to_weight(0.0, -1.0, 1.0) == -1.0
    assert resource_to_weight(-3.0, -1.0, 1.0) == -1.0                       # W ≤ 0 → w_min
    assert resource_to_weight(1e12, -1.0, 1.0) == pytest.approx(1.0)         # saturates at w_max
    # KNP MNIST bounds: W0 = 0.253·0.3454/0.0924, w(1) = −0.253 + 0.3454/1.3454
    assert resource_at_zero_weight(-0.253, 0.0924) == pytest.approx(0.0873862 / 0.0924, rel=1e-12)
    assert resource_to_weight(1.0, -0.253, 0.0924) == pytest.approx(-0.253 + 0.3454 / 1.3454, rel=1e-12)
    assert SynapticResource().resource_zero == pytest.approx(0.94573809523, rel=1e-9)
    assert weight_to_resource(0.5, -1.0, 1.0) == pytest.approx(6.0)          # 1.5·2/0.5


def test_mapping_round_trip_and_slope():
    rng = np.random.default_rng(0)
    for w_min, w_max in [(-0.253, 0.0924), (-1.634, 1.714), (-1.0, 1.0)]:
        w = rng.uniform(w_min, w_max * 0.999, 1000)
        np.testing.assert_allclose(resource_to_weight(weight_to_resource(w, w_min, w_max), w_min, w_max), w,
                                   rtol=1e-10, atol=1e-12)
        W = rng.uniform(0, 50, 1000)
        np.testing.assert_allclose(weight_to_resource(resource_to_weight(W, w_min, w_max), w_min, w_max), W,
                                   rtol=1e-8, atol=1e-10)
        assert resource_to_weight(resource_at_zero_weight(w_min, w_max), w_min, w_max) == pytest.approx(0.0, abs=1e-12)
        # dw/dW = 1 at 0⁺ and ((w_max − w_min)/(w_max − w_min + W))² in general
        h = 1e-7
        span = w_max - w_min
        for W0 in (1e-6, 0.3, 2.0):
            slope = (resource_to_weight(W0 + h, w_min, w_max) - resource_to_weight(W0 - h, w_min, w_max)) / (2 * h)
            assert slope == pytest.approx((span / (span + W0)) ** 2, rel=1e-5)
        # monotone
        grid = np.linspace(-1, 30, 500)
        assert np.all(np.diff(resource_to_weight(grid, w_min, w_max)) >= 0)


def test_step_formulas_hand_values():
    assert stability_factor(0.0) == 1.0
    assert stability_factor(2.0) == 0.25
    assert stability_factor(-1.0) == 1.0                      # min(2^(−s), 1)
    assert anti_hebbian_delta(-0.177, 1.0) == pytest.approx(-0.0885)
    assert dopamine_delta(0.18, 3.0) == pytest.approx(0.0225)
    # self-generated rewarded response: g = max(2 − |latency − ISImax|/ISImax, −1)
    assert stability_after_dopamine(0.0, 1.0, 0.5, False, 10.0, 10.0) == pytest.approx(1.0)   # g = 2
    assert stability_after_dopamine(0.0, 1.0, 0.5, False, 0.0, 10.0) == pytest.approx(0.5)    # g = 1
    assert stability_after_dopamine(1.0, 1.0, 0.5, False, 40.0, 10.0) == pytest.approx(0.5)   # g = −1
    assert stability_after_dopamine(0.2, 1.0, 0.5, False, math.inf, 10.0) == 0.0             # clamped at 0
    # forced, or negative dopamine: s ← max(0, s − r·D)
    assert stability_after_dopamine(1.0, 1.0, 0.5, True, 10.0, 10.0) == pytest.approx(0.5)
    assert stability_after_dopamine(0.0, -1.0, 0.5, False, 10.0, 10.0) == pytest.approx(0.5)


# pre: syn0 @1, syn1 @3, syn2 @0 and @8; post: unforced @3, @5, @8, forced @10; dopamine 1 @7 and @11
SCENARIO = dict(
    pre_times=[[1], [3], [0, 8]],
    post_spikes=[(3, False), (5, False), (8, False), (10, True)],
    dopamine={7: 1.0, 11: 1.0},
)


@pytest.mark.parametrize("fn", [resource_plasticity, resource_plasticity_reference])
def test_hand_computed_scenario(fn):
    # t=3: new DSS, contributed {0,1} (t_pre > 0): W0,W1 = 2 − 0.5 = 1.5, F = 1
    # t=5: continued DSS, hebb_done → nothing
    # t=7: dopamine, t − t_spike = 2 ≤ 5: W0,W1 = 2.5, F = −1; g = 2 − |7−3−4|/4 = 2 → s = 1
    # t=8: new DSS (after dopamine), contributed {2} (t_pre > 5): ΔW = −0.5·2^−1 → W2 = 1.75, F = −0.75
    # t=10: forced, contributed {2}; t=11: dopamine ΔW = 0.5 → W2 = 2.25, F = −1.25; s = 1 − 0.5 = 0.5
    W, st = fn(n_steps=12, params=P, **SCENARIO)
    np.testing.assert_allclose(W, [2.5, 2.5, 2.25])
    assert st["stability"] == pytest.approx(0.5)
    assert st["free_resource"] == pytest.approx(-1.25)
    assert st["t_first"] == 8 and st["t_last"] == 8 and st["t_spike"] == 10 and st["forced"] == 1.0
    np.testing.assert_allclose(resource_to_weight(W, -1.0, 1.0), [1 / 9, 1 / 9, 1 / 17])


@pytest.mark.parametrize("fn", [resource_plasticity, resource_plasticity_reference])
def test_redistribution_and_one_factor_hand_values(fn):
    # with F_thr = 1 the only redistribution is at t=11 (forced, |F| = 1.25): share −1.25/(3 + 1)
    p = SynapticResource(**{**P.__dict__, "free_threshold": 1.0})
    W, st = fn(n_steps=12, params=p, **SCENARIO)
    np.testing.assert_allclose(W, [2.1875, 2.1875, 1.9375])
    assert st["free_resource"] == 0.0
    # one-factor: −0.1 at t = 4 and t = 9 (every 5 tacts), no other event
    p = SynapticResource(**{**P.__dict__, "one_factor": -0.1, "one_factor_period": 5})
    W, _ = fn([[], []], [], {}, 10, p)
    np.testing.assert_allclose(W, [1.8, 1.8])


@pytest.mark.parametrize("fn", [resource_plasticity, resource_plasticity_reference])
def test_negative_dopamine_ignored_after_forced_spike(fn):
    W, st = fn([[0]], [(1, True)], {2: -1.0}, 4, P)
    np.testing.assert_allclose(W, [2.0])
    assert st["stability"] == 0.0
    W, st = fn([[0]], [(1, False)], {2: -1.0}, 4, P)       # unforced: d_H then −D·1
    np.testing.assert_allclose(W, [2.0 - 0.5 - 1.0])
    assert st["stability"] == pytest.approx(0.5)           # s − r·D with D < 0


@pytest.mark.parametrize("seed", range(12))
def test_compiled_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n_in, n_steps = 6, 80
    p = SynapticResource(
        w_min=-rng.uniform(0.2, 1.5), w_max=rng.uniform(0.1, 2.0), d_hebb=-rng.uniform(0.05, 0.5),
        dopamine_window=int(rng.integers(2, 12)), contribution_window=int(rng.integers(2, 12)),
        isi_max=int(rng.integers(2, 12)), stability_ratio=rng.uniform(0, 0.5), n_silent=rng.uniform(0, 5),
        free_threshold=[math.inf, rng.uniform(0.1, 1.0)][seed % 2],
        one_factor=[0.0, -0.01][seed % 3 == 0], one_factor_period=int(rng.integers(1, 10)),
    )  # fmt: skip
    pre = [sorted(rng.choice(n_steps, int(rng.integers(0, 15)), replace=False).tolist()) for _ in range(n_in)]
    post_t = sorted(rng.choice(n_steps, 15, replace=False).tolist())
    post = [(t, bool(rng.random() < 0.3)) for t in post_t]
    dop = {int(t): float(rng.choice([-0.3, 0.2, 0.5])) for t in rng.choice(n_steps, 8, replace=False)}
    W0 = rng.uniform(0, 3, n_in)
    Wc, sc = resource_plasticity(pre, post, dop, n_steps, p, W0)
    Wr, sr = resource_plasticity_reference(pre, post, dop, n_steps, p, W0)
    np.testing.assert_allclose(Wc, Wr, rtol=1e-12, atol=1e-12)
    for k in ("stability", "free_resource", "new_dss", "forced"):
        assert sc[k] == pytest.approx(sr[k], abs=1e-12), k
    assert not np.allclose(Wc, W0)  # the scenario exercised the rule


def test_history_and_validation():
    W, _, hist = resource_plasticity(SCENARIO["pre_times"], SCENARIO["post_spikes"], SCENARIO["dopamine"], 12, P,
                                     return_history=True)
    assert hist.shape == (12, 3)
    np.testing.assert_allclose(hist[2], [2, 2, 2])
    np.testing.assert_allclose(hist[3], [1.5, 1.5, 2])
    np.testing.assert_allclose(hist[-1], W)
    with pytest.raises(ValueError, match="outside"):
        resource_plasticity([[20]], [], {}, 10, P)
    with pytest.raises(ValueError, match="below"):
        SynapticResource(w_min=1.0, w_max=0.5)
    with pytest.raises(ValueError, match="tacts"):
        SynapticResource(isi_max=0)


@pytest.mark.parametrize("fn", [resource_plasticity, resource_plasticity_reference])
@pytest.mark.parametrize(
    "pre, post, dop, n_steps, W0, msg",
    [
        ([[2.5]], [(3, False)], {}, 5, None, "integer"),
        ([[2]], [(3.5, False)], {}, 5, None, "integer"),
        ([[2]], [(3, False)], {4.5: 1.0}, 6, None, "integer"),
        ([[2]], [(3, False)], {4: float("nan")}, 6, None, "finite"),
        ([[-1]], [], {}, 5, None, "outside"),
        ([[]], [], {}, -1, None, "n_steps"),
        ([[]], [], {}, 2.5, None, "n_steps"),
        ([[1], [2]], [], {}, 5, [1.0, 2.0, 3.0], "W0"),
        ([[1]], [], {}, 5, [float("nan")], "W0"),
        ([[[1], [2]]], [], {}, 5, None, "1-D"),
    ],
)
def test_bad_events_are_refused(fn, pre, post, dop, n_steps, W0, msg):
    with pytest.raises(ValueError, match=msg):
        fn(pre, post, dop, n_steps, P, W0)


@pytest.mark.parametrize("field", ["w_min", "d_hebb", "stability_ratio", "n_silent", "free_threshold", "one_factor"])
def test_parameters_refuse_nan(field):
    with pytest.raises(ValueError, match="finite"):
        SynapticResource(**{field: float("nan")})
    SynapticResource(free_threshold=math.inf)

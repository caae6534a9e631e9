"""Goryunov's analytical model: hand-computed formulas, the corrected prefactor, and a measured
microcolumn count against N ≈ (b − a)/2l."""

import math

import numpy as np
import pytest

from spikeforge.experiments.colanet_theory import simulate, theory
from spikeforge.models.goryunov import GoryunovTheory, grf_binary_task
from spikeforge.plasticity import resource_to_weight

T = GoryunovTheory(sigma=0.01, f_max=20.0, t_p=1.0, a=0.0, b=1.0, density=100.0, theta=5.0, d=0.05,
                   w_min=-0.5, w_max=0.5, chi=0.03)


def test_hand_values():
    assert T.activity_width == pytest.approx(0.02 * math.sqrt(2 * math.log(20)), rel=1e-12)      # 0.048954
    assert T.n_microcolumns == pytest.approx(1 / (2 * 0.048954), rel=1e-4)          # 10.21
    root = math.sqrt(2 * math.pi * 1e-4 * 9e-4 / 1e-3)
    assert T.w_t0 == pytest.approx(5.0 / (20 * 100 * root), rel=1e-12)
    assert resource_to_weight(T.W_t0, -0.5, 0.5) == pytest.approx(T.w_t0, rel=1e-10)
    assert T.w_1 == pytest.approx(T.w_t0 * math.exp(T.activity_width**2 / (2 * 1e-3)), rel=1e-12)
    # L = ∫ P(count ≥ 1) dx is close to l (the sensory neurons with mean count ≥ 1)
    assert T.coverage == pytest.approx(T.activity_width, rel=0.25)


def test_corrected_prefactor_is_consistent():
    # spec §5.3: W_t0 − W_0 = w_t0 (w_max − w_min)² / (w_max (w_max − w_t0)), so the slide's t_0 is
    # (W_t0 − W_0)/(d/(b − a)); ours uses k = d·L/(b − a) in both t_0 and t_1
    span = T.w_max - T.w_min
    assert T.W_t0 - T.W_0 == pytest.approx(T.w_t0 * span**2 / (T.w_max * (T.w_max - T.w_t0)), rel=1e-12)
    assert T.t_0 == pytest.approx((T.W_t0 - T.W_0) / (T.d * T.coverage), rel=1e-12)
    # t_1 is the linearisation of dW/dt = k(1 − l_f(w(W))/2l) at W_1
    def rhs(W):
        return T.rate * (1 - T.response_width(resource_to_weight(W, T.w_min, T.w_max)) / (2 * T.activity_width))
    h = 1e-6 * T.W_1
    slope = (rhs(T.W_1 + h) - rhs(T.W_1 - h)) / (2 * h)
    assert -1 / slope == pytest.approx(T.t_1, rel=1e-4)
    # the learning-curve formula reaches 1 at the fixed point and is 0 before t_0
    assert T.accuracy(np.array([0.0]))[0] == pytest.approx(0.0)
    assert T.accuracy(np.array([T.t_0 + 50 * T.t_1]))[0] == pytest.approx(1.0, abs=1e-3)


def test_task_generator():
    X, y, x, c = grf_binary_task(100, sigma=0.02, rng=np.random.default_rng(0))
    assert X.shape == (100, c.shape[0]) and set(y) == {0, 1} and X.max() <= 1.0
    assert np.all((x[y == 0] >= 0) & (x[y == 0] <= 1)) and np.all((x[y == 1] >= 2) & (x[y == 1] <= 3))


def test_measured_microcolumns_match_prediction():
    row = simulate(0.02, 0, 2000, 100)
    pred = theory(0.02, row["chi"]).n_microcolumns
    assert abs(np.mean(row["active_per_class"]) - pred) <= 1
    assert row["final_accuracy"] > 0.95


# ---------------------------------------------------------------------------- review regressions
BASE = dict(sigma=0.01, f_max=100.0, t_p=0.5, a=0.0, b=1.0, density=100.0, theta=2.0, d=0.01, w_min=-0.5,
            w_max=0.5, chi=0.02)


def test_coverage_does_not_need_numpy2_trapezoid(monkeypatch):
    expected = T.coverage
    monkeypatch.delattr(np, "trapezoid", raising=False)   # numpy 1.x has no np.trapezoid
    monkeypatch.delattr(np, "trapz", raising=False)       # and numpy >= 2.4 has no np.trapz
    assert T.coverage == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("bad, match", [
    (dict(f_max=1.0, t_p=1.0), "f_max·t_p"), (dict(f_max=1.0, t_p=0.5), "f_max·t_p"),
    (dict(f_max=-100.0), "f_max"), (dict(t_p=0.0), "t_p"),
    (dict(sigma=0.0), "sigma"), (dict(chi=0.0), "chi"), (dict(chi=-0.01), "chi"),
    (dict(d=0.0), "d must"), (dict(density=0.0), "density"), (dict(theta=0.0), "theta"),
    (dict(b=0.0), "b > a"), (dict(w_min=0.1), "w_min < 0 < w_max"), (dict(w_max=-0.1), "w_min < 0 < w_max"),
    (dict(kappa=1.5), "kappa"), (dict(sigma=float("nan")), "finite"),
])
def test_impossible_settings_are_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        GoryunovTheory(**{**BASE, **bad})


def test_unreachable_threshold_never_answers():
    g = GoryunovTheory(**{**BASE, "theta": 200.0})     # w_t0 = 1.78 > w_max = 0.5
    assert g.w_t0 > g.w_max and not g.threshold_reachable
    assert g.W_t0 == math.inf and g.t_0 == math.inf and g.t_1 == math.inf
    t = np.array([0.0, 1e3, 1e6])
    np.testing.assert_allclose(g.central_resource(t), g.W_0 + g.rate * t)    # only the linear growth
    np.testing.assert_allclose(g.accuracy(t), 1.0 - g.kappa)                 # no microcolumn ever answers
    ok = GoryunovTheory(**BASE)
    assert ok.threshold_reachable and 0 < ok.t_0 < math.inf and ok.t_1 > 0

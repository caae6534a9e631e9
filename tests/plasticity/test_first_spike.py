"""First-spike STDP / R-STDP: hand-computed values; weight constraints."""

import numpy as np
import pytest
import torch

from spikeforge.models import _ttfs_kernel as K
from spikeforge.plasticity import (
    RSTDP,
    WeightConstraint,
    constrained_update,
    effective_bounds,
    first_spike_stdp_reference,
    first_spike_stdp_step,
    project,
)


def test_step_hand_values():
    # stabilised LTP at w = 0.5: 0.5 + 0.004·0.5·0.5
    assert first_spike_stdp_step(0.5, True, 0.004, -0.003, True, 0.0, 1.0) == pytest.approx(0.501)
    assert first_spike_stdp_step(0.5, False, 0.004, -0.003, True, 0.0, 1.0) == pytest.approx(0.49925)
    # the stabiliser uses the bounds: (w - 0.2)(0.8 - w)
    assert first_spike_stdp_step(0.5, True, 1.0, -1.0, True, 0.2, 0.8) == pytest.approx(0.59)
    # unstabilised, clipped
    assert first_spike_stdp_step(0.799, True, 0.004, -0.003, False, 0.2, 0.8) == 0.8
    assert first_spike_stdp_step(0.201, False, 0.004, -0.003, False, 0.2, 0.8) == 0.2
    assert first_spike_stdp_step(0.5, False, -0.004, 0.0005, False, 0.2, 0.8) == pytest.approx(0.5005)


def test_reference_at_winners():
    w = torch.full((2, 1, 2, 2), 0.5)
    pre = torch.tensor([[[0, 3, 9], [2, 1, 9], [9, 9, 9]]], dtype=torch.uint8)  # T = 9 silent
    # feature 1 wins at (0, 0) with first spike at step 2: inputs 0, 2, 1 fire by then, 3 later
    out = first_spike_stdp_reference(w, pre, [(1, 0, 0)], [2], a_plus=0.1, a_minus=-0.1, stabilizer=False,
                                     w_min=0.0, w_max=1.0)  # fmt: skip
    assert torch.equal(out[0], w[0])
    assert out[1, 0].flatten().tolist() == pytest.approx([0.6, 0.4, 0.6, 0.6])
    frozen = first_spike_stdp_reference(w, pre, [(1, 0, 0)], [2], a_plus=0.1, a_minus=-0.1, stabilizer=False,
                                        w_min=0.0, w_max=1.0, plastic=torch.zeros_like(w))  # fmt: skip
    assert torch.equal(frozen, w)
    with pytest.raises(ValueError, match="at most once"):
        first_spike_stdp_reference(w, pre, [(1, 0, 0), (1, 1, 1)], [2, 2], a_plus=0.1, a_minus=-0.1,
                                   stabilizer=False, w_min=0.0, w_max=1.0)  # fmt: skip


def test_rstdp_adaptive_rates():
    r = RSTDP().adapted(hit_rate=0.8, miss_rate=0.15, scale=0.5)
    assert r.reward == pytest.approx((0.004 * 0.075, -0.003 * 0.075))
    assert r.punish == pytest.approx((-0.004 * 0.4, 0.0005 * 0.4))
    with pytest.raises(ValueError):
        RSTDP(w_min=0.8, w_max=0.2)


def test_bounds_and_projection():
    c = WeightConstraint(lower=torch.tensor([0.1, 0.5]), upper=0.7, plastic=torch.tensor([1.0, 0.0]))
    lo, hi = effective_bounds((2,), 0.2, 0.8, c)
    assert lo.tolist() == pytest.approx([0.2, 0.5]) and hi.tolist() == pytest.approx([0.7, 0.7])
    w = torch.tensor([0.75, 0.3])
    assert project(w, c, 0.2, 0.8).tolist() == pytest.approx([0.7, 0.3])  # frozen entry untouched
    with pytest.raises(ValueError, match="intersect"):
        effective_bounds((1,), 0.0, 0.1, WeightConstraint(lower=0.5))
    with pytest.raises(ValueError, match="shape"):
        WeightConstraint(plastic=torch.ones(3)).check_shape((2,))


def test_reference_keeps_frozen_synapses_even_outside_the_bounds():
    """Regression: ``plastic == 0`` synapses stay bit-identical, even where they lie outside
    ``[lower, upper]`` (as :func:`constrained_update` and the compiled kernel keep them)."""
    w = torch.tensor([0.9, 0.9, 0.1, 0.4]).reshape(1, 1, 2, 2)
    plastic = torch.tensor([0.0, 1.0, 0.0, 1.0]).reshape(1, 1, 2, 2)
    lower = torch.full_like(w, 0.2)
    upper = torch.full_like(w, 0.5)
    pre = torch.zeros(1, 2, 2, dtype=torch.int64)  # every input fires at step 0: LTP
    out = first_spike_stdp_reference(w, pre, [(0, 0, 0)], [3], a_plus=0.01, a_minus=-0.01, stabilizer=False,
                                     w_min=0.0, w_max=1.0, plastic=plastic, lower=lower, upper=upper)  # fmt: skip
    assert out.flatten().tolist() == pytest.approx([0.9, 0.5, 0.1, 0.41])
    assert out[0, 0, 0, 0] == w[0, 0, 0, 0] and out[0, 0, 1, 0] == w[0, 0, 1, 0]  # bit-identical
    c = WeightConstraint(plastic=plastic, lower=lower, upper=upper)
    spec = constrained_update(w, torch.full_like(w, 0.01), c, w_min=0.0, w_max=1.0)
    assert torch.equal(out, spec)


def test_stabiliser_uses_the_rule_bounds_in_kernel_and_reference():
    """Regression: with per-synapse constraint bounds inside the rule's ``[w_min, w_max]``,
    the stabiliser is ``(w − w_min)(w_max − w)`` of the *rule* ("Δ is what the rule alone
    would add", then clipped to the effective bounds) in the compiled layer update, in
    :func:`first_spike_stdp_reference` and in :func:`constrained_update`."""
    # one synapse, w = 0.3, constraint [0.2, 0.8] inside the rule's [0, 1]: Δ = 0.05·0.3·0.7
    wt = np.full((1, 1, 1, 1), 0.3, np.float32)
    K._update_winner(wt, np.zeros((1, 1, 1), np.uint8), 0, 0, 0, 3, 0.05, -0.04, True, np.ones_like(wt),
                     np.full_like(wt, 0.2), np.full_like(wt, 0.8), np.float32(0.0), np.float32(1.0))  # fmt: skip
    assert wt.item() == pytest.approx(0.3 + 0.05 * 0.3 * 0.7, abs=1e-7)

    # a whole layer: random weights, bounds, freeze mask and latencies, several winners
    rng = np.random.default_rng(11)
    F, C, kh, kw, T = 4, 3, 3, 3, 6
    w = rng.uniform(0.0, 1.0, (F, C, kh, kw)).astype(np.float32)
    lo = np.where(rng.random(w.shape) < 0.5, rng.uniform(0.0, 0.4, w.shape), 0.0).astype(np.float32)
    hi = np.where(rng.random(w.shape) < 0.5, rng.uniform(0.6, 1.0, w.shape), 1.0).astype(np.float32)
    plastic = (rng.random(w.shape) < 0.8).astype(np.float32)
    c = WeightConstraint(plastic=torch.from_numpy(plastic), lower=torch.from_numpy(lo), upper=torch.from_numpy(hi))
    w = project(torch.from_numpy(w), c, 0.0, 1.0).numpy()  # as set_constraints does
    lat = rng.integers(0, T + 1, (C, 7, 7)).astype(np.uint8)
    winners, post = [(0, 0, 0), (2, 3, 1), (3, 4, 4)], [2, 4, 1]
    ref = first_spike_stdp_reference(torch.from_numpy(w), torch.from_numpy(lat), winners, post, a_plus=0.3,
                                     a_minus=-0.2, stabilizer=True, w_min=0.0, w_max=1.0,
                                     plastic=torch.from_numpy(plastic), lower=torch.from_numpy(lo),
                                     upper=torch.from_numpy(hi))  # fmt: skip
    to_k = lambda a: np.ascontiguousarray(np.transpose(a, (1, 2, 3, 0)))  # noqa: E731
    wt = to_k(w)
    for (f, y, x), t in zip(winners, post):
        K._update_winner(wt, lat, f, y, x, t, 0.3, -0.2, True, to_k(plastic), to_k(lo), to_k(hi),
                         np.float32(0.0), np.float32(1.0))  # fmt: skip
    out = np.transpose(wt, (3, 0, 1, 2))
    assert np.allclose(out, ref.numpy(), atol=1e-6)
    moved = (plastic != 0) & (np.abs(out - w) > 1e-6)
    assert moved.sum() > 20  # the test exercises the stabiliser, not only the clipping
    # the per-synapse form of the same update: constrained_update with the rule's Δ
    f, y, x = winners[0]
    ltp = torch.from_numpy(lat[:, y : y + kh, x : x + kw].astype(np.int64)) <= post[0]
    w0 = torch.from_numpy(w[f]).double()
    delta = torch.where(ltp, 0.3, -0.2) * w0 * (1.0 - w0)
    cf = WeightConstraint(plastic=torch.from_numpy(plastic[f]), lower=torch.from_numpy(lo[f]),
                          upper=torch.from_numpy(hi[f]))  # fmt: skip
    spec = constrained_update(w0, delta, cf, w_min=0.0, w_max=1.0)
    assert np.allclose(out[f], spec.numpy(), atol=1e-6)

    # the whole layer kernel (winners found by the compiled k-WTA) against the reference
    lat_n = rng.integers(0, T + 1, (1, C, 9, 9)).astype(np.uint8)
    Ho, k = 9 - kh + 1, 3
    t_out, v_out = np.empty((Ho, Ho, F), np.uint8), np.empty((Ho, Ho, F), np.float32)
    K.conv_first_spikes(lat_n[0], to_k(w), 2.0, False, T, t_out, v_out)
    cand, win = np.empty((Ho * Ho, 3), np.int64), np.empty((k, 3), np.int64)
    nw = K.k_winners(cand, K.pointwise_inhibition(t_out, v_out, T, cand), t_out, v_out, k, 0, win)
    winners = [tuple(int(v) for v in win[j]) for j in range(nw)]
    assert len(winners) >= 2
    ref = first_spike_stdp_reference(torch.from_numpy(w), torch.from_numpy(lat_n[0]), winners,
                                     [int(t_out[y, x, f]) for f, y, x in winners], a_plus=0.3, a_minus=-0.2,
                                     stabilizer=True, w_min=0.0, w_max=1.0, plastic=torch.from_numpy(plastic),
                                     lower=torch.from_numpy(lo), upper=torch.from_numpy(hi))  # fmt: skip
    wt = to_k(w)
    K.train_stdp_layer(lat_n, np.array([0]), wt, 2.0, k, 0, T, np.array([0.3, -0.2, 0.0]), np.array([0.0, 1.0, -0.75]),
                       to_k(plastic), to_k(lo), to_k(hi))  # fmt: skip
    assert np.allclose(np.transpose(wt, (3, 0, 1, 2)), ref.numpy(), atol=1e-6)


def test_merge_constraints_intersects():
    from spikeforge.plasticity.constraints import merge_constraints

    freeze = WeightConstraint(plastic=torch.tensor([True, False, True, True]))
    bounds = WeightConstraint(lower=torch.tensor([0.1, 0.2, 0.3, 0.0]), upper=0.7)
    tighter = WeightConstraint(lower=0.15, upper=torch.tensor([0.9, 0.9, 0.6, 0.9]),
                               plastic=torch.tensor([1.0, 1.0, 0.5, 0.0]))  # fmt: skip
    g = np.random.default_rng(0)
    noise = WeightConstraint(noise_std=0.01, generator=g)
    m = merge_constraints(freeze, bounds, tighter, noise, None)
    assert m.plastic.tolist() == [1.0, 0.0, 0.5, 0.0]
    assert torch.as_tensor(m.lower).tolist() == pytest.approx([0.15, 0.2, 0.3, 0.15])
    assert torch.as_tensor(m.upper).tolist() == pytest.approx([0.7, 0.7, 0.6, 0.7])
    assert m.noise_std == 0.01 and m.generator is g
    assert merge_constraints(None, None) is None
    assert merge_constraints(bounds) is bounds
    only = merge_constraints(freeze, None)
    assert only.lower is None and only.upper is None and only.noise_std == 0
    with pytest.raises(ValueError, match="intersect"):
        merge_constraints(WeightConstraint(lower=0.6), WeightConstraint(upper=0.5))
    with pytest.raises(ValueError, match="noise"):
        merge_constraints(noise, WeightConstraint(noise_std=0.02, generator=np.random.default_rng(1)))

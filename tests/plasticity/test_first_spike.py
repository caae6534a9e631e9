"""First-spike STDP / R-STDP: hand-computed values; weight constraints."""

import pytest
import torch

from spikeforge.plasticity import (
    RSTDP,
    WeightConstraint,
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

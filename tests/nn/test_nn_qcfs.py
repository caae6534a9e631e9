"""QCFS activation: hand-computed forward values, straight-through gradients, λ learning, bad inputs."""

import pytest
import torch

from spikeforge.nn import QCFS, floor_ste


def test_forward_hand_computed_L4_lam2():
    # x/λ clipped to [0,1], ·4 + ½, floor, /4, ·2
    x = torch.tensor([-1.0, 0.0, 0.2, 0.25, 0.5, 0.74, 1.0, 1.9, 2.0, 3.0])
    expected = torch.tensor([0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 2.0, 2.0, 2.0])
    assert torch.equal(QCFS(4, lam=2.0)(x), expected)


def test_forward_without_shift_is_floor():
    x = torch.tensor([0.1, 0.49, 0.5, 0.99, 1.0, 1.5])
    # L = 2, λ = 1, φ = 0: floor(2x)/2 clipped
    assert torch.equal(QCFS(2, lam=1.0, shift=0.0)(x), torch.tensor([0.0, 0.0, 0.5, 0.5, 1.0, 1.0]))


def test_output_takes_L_plus_1_levels_in_0_lam():
    q = QCFS(8, lam=3.0)
    y = q(torch.linspace(-2, 5, 10001)).detach()
    assert y.min() == 0 and y.max() == pytest.approx(3.0)
    assert len(torch.unique(y)) == 9


def test_floor_ste_gradient_is_identity():
    x = torch.tensor([0.3, 1.7, -2.2], requires_grad=True)
    y = floor_ste(x)
    assert torch.equal(y, torch.tensor([0.0, 1.0, -3.0]))
    y.backward(torch.tensor([1.0, 2.0, 3.0]))
    assert torch.equal(x.grad, torch.tensor([1.0, 2.0, 3.0]))


def test_straight_through_gradients_input_and_lambda():
    q = QCFS(4, lam=2.0)
    x = torch.tensor([-1.0, 0.3, 1.1, 2.5], requires_grad=True)
    y = q(x)
    y.sum().backward()
    # inside (0, λ): dh/dx = 1; below 0 and above λ: 0
    assert torch.equal(x.grad, torch.tensor([0.0, 1.0, 1.0, 0.0]))
    # dh/dλ: 0 below, h/λ − x/λ inside, 1 above
    h = y.detach()
    expected = (h[1] - 0.3) / 2 + (h[2] - 1.1) / 2 + 1.0
    assert q.lam.grad.item() == pytest.approx(expected.item(), abs=1e-6)


def test_lambda_learns_towards_the_data():
    torch.manual_seed(0)
    q = QCFS(8, lam=8.0)
    opt = torch.optim.Adam(q.parameters(), lr=0.1)
    x = torch.rand(1024) * 2.0
    losses = []
    for _ in range(120):
        opt.zero_grad()
        loss = ((q(x) - x) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert 1.7 < float(q.lam.detach()) < 2.3  # starts at 8, the data's range is [0, 2]
    assert losses[-1] < losses[0] / 5


def test_fixed_lambda_is_a_buffer():
    q = QCFS(4, lam=1.5, trainable=False)
    assert list(q.parameters()) == []
    assert "lam" in dict(q.named_buffers())


@pytest.mark.parametrize("kwargs", [{"levels": 0}, {"levels": 2.5}, {"lam": 0.0}, {"lam": float("nan")}, {"shift": 1.0}, {"shift": -0.1}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        QCFS(**kwargs)


def test_integer_input_rejected():
    with pytest.raises(TypeError):
        QCFS()(torch.tensor([1, 2]))

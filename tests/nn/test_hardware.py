"""Weight quantisation and device mismatch: grid properties by construction, in-place model transforms,
reproducible mismatch, argument checks."""

import pytest
import torch
from torch import nn

from spikeforge.nn import add_weight_mismatch_, quantize_tensor, quantize_weights_


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("per_channel", [True, False])
def test_grid_properties(bits, symmetric, per_channel):
    w = torch.randn(6, 5, 3, generator=torch.Generator().manual_seed(bits), dtype=torch.float64)
    q, scale = quantize_tensor(w, bits, per_channel=per_channel, symmetric=symmetric)
    rows_w = w.reshape(6, -1) if per_channel else w.reshape(1, -1)
    rows_q = q.reshape(6, -1) if per_channel else q.reshape(1, -1)
    assert scale.shape == (rows_w.shape[0],)
    for r in range(rows_w.shape[0]):
        levels = torch.unique(rows_q[r])
        assert len(levels) <= 2 ** bits
        if symmetric:
            k = rows_q[r] / scale[r]
            torch.testing.assert_close(k, torch.round(k))  # on the grid k·scale
            assert rows_q[r].abs().max() == pytest.approx(float(rows_w[r].abs().max()))  # the largest keeps its value
        else:
            assert float(rows_q[r].min()) == pytest.approx(float(rows_w[r].min()))
            assert float(rows_q[r].max()) == pytest.approx(float(rows_w[r].max()))
        if not (symmetric and bits == 1):  # 1-bit symmetric is the sign times max|w|: no half-step bound
            assert float((rows_q[r] - rows_w[r]).abs().max()) <= float(scale[r]) / 2 + 1e-12
    q2, _ = quantize_tensor(q, bits, per_channel=per_channel, symmetric=symmetric)
    torch.testing.assert_close(q2, q)  # idempotent


def test_zero_and_constant_channels():
    w = torch.tensor([[0.0, 0.0], [0.3, 0.3], [-1.0, 0.5]])
    q, scale = quantize_tensor(w, 4)
    torch.testing.assert_close(q[:2], w[:2])  # an all-zero row stays; a constant row is exact (±max)
    assert float(scale[0]) == 0.0
    assert float(q[2, 0]) == -1.0


def test_model_transforms_are_in_place_and_reported():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    bias = net[2].bias.detach().clone()
    report = quantize_weights_(net, 3)
    assert set(report) == {"0", "2"}
    assert all(r.levels_used <= 8 * (4 if name == "0" else 3) for name, r in report.items())
    assert torch.equal(net[2].bias, bias)  # biases stay in float
    for m in (net[0], net[2]):
        assert len(torch.unique(m.weight[0])) <= 8
    w0 = net[2].weight.detach().clone()
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = nn.Linear(400, 300)
    b = nn.Linear(400, 300)
    b.load_state_dict(a.state_dict())
    ra = add_weight_mismatch_(a, 0.1, generator=g1)
    add_weight_mismatch_(b, 0.1, generator=g2)
    assert torch.equal(a.weight, b.weight)  # reproducible with a generator
    assert ra["<root>"] == pytest.approx(0.1, rel=0.02)
    add_weight_mismatch_(net, 0.0)
    assert torch.equal(net[2].weight, w0)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
def test_levels_used_counts_one_channels_grid(bits, symmetric):
    torch.manual_seed(bits)
    net = nn.Sequential(nn.Linear(64, 32))
    r = quantize_weights_(net, bits, symmetric=symmetric)["0"]
    per_row = [len(torch.unique(row)) for row in net[0].weight]
    assert r.levels_used == max(per_row) <= 2 ** bits  # the documented bound holds
    assert r.distinct_values == len(torch.unique(net[0].weight))  # the whole layer, across channels
    if bits == 4:
        assert r.distinct_values > 2 ** bits  # 32 grids of different steps
    whole = quantize_weights_(nn.Linear(64, 32), bits, per_channel=False, symmetric=symmetric)["<root>"]
    assert whole.levels_used == whole.distinct_values <= 2 ** bits
    conv = quantize_weights_(nn.Conv2d(3, 8, 3), bits, symmetric=symmetric)["<root>"]
    assert conv.levels_used <= 2 ** bits


def test_bad_arguments():
    net = nn.Linear(3, 2)
    for bits in (0, 17, 2.5, True):
        with pytest.raises(ValueError, match="bits must be"):
            quantize_weights_(net, bits)
    for s in (-0.1, float("nan"), True):
        with pytest.raises(ValueError, match="rel_std"):
            add_weight_mismatch_(net, s)
    with pytest.raises(ValueError, match="no Linear / Conv1d / Conv2d layer"):
        quantize_weights_(nn.ReLU(), 4)
    with torch.no_grad():
        net.weight[0, 0] = float("inf")
    with pytest.raises(ValueError, match="non-finite"):
        quantize_weights_(net, 4)

"""convert(): IF dynamics hand-computed, rate ≈ ANN activation over large T, BN folding, QCFS exactness,
multi-step vs step-by-step execution, unsupported layers named in the error."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spikeforge.conversion import (
    ConvertedSNN,
    SpikingActivation,
    UnsupportedLayerError,
    convert,
)
from spikeforge.nn import QCFS, repeat_in_time


def _bn(c, seed):
    g = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm2d(c) if seed >= 0 else nn.BatchNorm1d(c)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
        bn.running_var.copy_(torch.rand(c, generator=g) + 0.5)
        bn.weight.copy_(torch.rand(c, generator=g) + 0.5)
        bn.bias.copy_(torch.randn(c, generator=g) * 0.1)
    return bn


def small_cnn(act=nn.ReLU):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), _bn(4, 1), act(), nn.AvgPool2d(2),
        nn.Conv2d(4, 6, 3), _bn(6, 2), act(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(6, 3),
    ).eval()


# ---------------------------------------------------------------------------- the neuron
def test_soft_and_hard_reset_hand_computed():
    x = repeat_in_time(torch.tensor([[0.75]]), 4)  # threshold 1, input 0.75 per step
    soft = SpikingActivation(1.0, reset="soft")(x)
    hard = SpikingActivation(1.0, reset="hard")(x)
    # soft: .75, 1.5→.5, 1.25→.25, 1.0→0 ; hard: .75, 1.5→0, .75, 1.5→0
    assert soft.flatten().tolist() == [0.0, 1.0, 1.0, 1.0]
    assert hard.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]


def test_scale_and_initial_membrane():
    x = repeat_in_time(torch.tensor([[0.5]]), 2)  # λ = 2: 0.25 of the threshold per step
    assert SpikingActivation(2.0)(x).flatten().tolist() == [0.0, 0.0]
    # v0 = ½: .75, 1.0 → spike of amplitude λ = 2 at step 2
    assert SpikingActivation(2.0, v0=0.5)(x).flatten().tolist() == [0.0, 2.0]


def test_per_channel_scale_broadcasts_over_channels():
    x = torch.ones(3, 1, 2, 2, 2)  # [T, B, C, H, W], input 1 everywhere
    act = SpikingActivation(torch.tensor([1.0, 4.0]))
    s = act(x)
    assert s[:, 0, 0].sum() == 3 * 4 * 1.0  # λ = 1: fires every step, amplitude 1
    assert s[:, 0, 1].sum() == 0  # λ = 4: 3 steps of ¼ do not reach the threshold


def test_single_step_mode_equals_multi_step():
    torch.manual_seed(1)
    x = torch.rand(7, 2, 5) * 2
    m = SpikingActivation(torch.tensor(1.3), v0=0.5)
    s = SpikingActivation(torch.tensor(1.3), v0=0.5, step_mode="s")
    assert torch.equal(m(x), torch.stack([s(x[t]) for t in range(7)]))
    s.reset_state()
    assert torch.equal(m(x), torch.stack([s(x[t]) for t in range(7)]))


def test_channels_last_input_gives_same_spikes():
    torch.manual_seed(2)
    x = torch.rand(4, 3, 5, 6, 6) * 2
    a = SpikingActivation(torch.tensor([0.7, 1.0, 1.4, 2.0, 0.5]))
    xcl = x.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, (4, 3))
    assert not xcl.is_contiguous()
    assert torch.equal(a(x), a(xcl))


@pytest.mark.parametrize("kwargs", [{"scale": 0.0}, {"scale": torch.ones(2, 2)}, {"scale": 1.0, "reset": "none"}, {"scale": 1.0, "step_mode": "x"}])
def test_spiking_activation_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        SpikingActivation(**kwargs)


# ---------------------------------------------------------------------------- equivalences
def test_single_layer_rate_is_quantised_clip():
    # one ReLU layer at the output: mean over T of the SNN = λ·floor(T·clip(a/λ, 0, 1))/T (V0 = 0)
    torch.manual_seed(3)
    ann = nn.Sequential(nn.Linear(5, 4), nn.ReLU()).eval()
    X = torch.randn(64, 5)
    snn = convert(ann, X, "max")
    lam = float(snn.net[1].scale)
    T = 50
    a = ann(X).detach()
    expected = lam * torch.floor(T * (a / lam).clamp(0, 1) + 1e-5) / T
    assert torch.allclose(snn(repeat_in_time(X, T)).mean(0), expected, atol=1e-5)


def test_qcfs_layer_converts_exactly_at_T_equal_L():
    # IF with V0 = λ/2 and soft reset, constant input: mean over T = λ·floor(T·x/λ + ½)/T, clipped = QCFS with L = T
    torch.manual_seed(4)
    ann = nn.Sequential(nn.Linear(5, 7), QCFS(4, lam=1.5)).eval()
    X = torch.randn(256, 5)
    snn = convert(ann, None, "qcfs")
    assert float(snn.net[1].scale) == 1.5 and snn.net[1].v0 == 0.5
    assert torch.allclose(snn(repeat_in_time(X, 4)).mean(0), ann(X).detach(), atol=1e-5)


def test_deep_cnn_rate_approaches_ann_with_bn_folded():
    ann = small_cnn()
    X = torch.rand(32, 1, 12, 12)
    snn = convert(ann, X, "max")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in snn.modules())
    ref = ann(X).detach()
    with torch.no_grad():
        err = [float((snn(repeat_in_time(X, T)).mean(0) - ref).abs().max()) for T in (16, 256)]
    assert err[1] < 0.1 * float(ref.abs().max())
    assert err[1] < err[0] / 4  # the error shrinks about as 1/T


def test_ann_is_not_modified():
    ann = small_cnn()
    before = copy.deepcopy(ann.state_dict())
    convert(ann, torch.rand(8, 1, 12, 12), "robust")
    assert all(torch.equal(before[k], v) for k, v in ann.state_dict().items())
    assert isinstance(ann[1], nn.BatchNorm2d)


def test_multi_step_and_step_by_step_agree_for_direct_and_spike_input():
    ann = small_cnn()
    X = torch.rand(6, 1, 12, 12)
    multi = convert(ann, X, "channel", mode="multi")
    step = convert(ann, X, "channel", mode="step")
    assert multi.mode == "multi" and step.mode == "step"
    for x_seq in (repeat_in_time(X, 9), (torch.rand(9, *X.shape) < X).float()):
        assert torch.allclose(multi(x_seq), step(x_seq), atol=1e-6)


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.fc1 = nn.Linear(6, 6)
        self.bn1 = _bn(6, -1)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(6, 6)
        self.act2 = nn.ReLU()
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        h = self.act1(self.bn1(self.fc1(x)))
        h = self.act2(self.fc2(h) + x)  # a residual sum is linear: fine
        return self.out(h.flatten(1))


def test_custom_forward_runs_step_by_step_and_converges():
    ann = _Residual().eval()
    X = torch.rand(64, 6)
    snn = convert(ann, X, "max")
    assert snn.mode == "step"
    ref = ann(X).detach()
    with torch.no_grad():
        out = snn(repeat_in_time(X, 200)).mean(0)
    assert float((out - ref).abs().max()) < 0.05 * float(ref.abs().max()) + 0.02
    with pytest.raises(ValueError, match="nn.Sequential"):
        convert(ann, X, "max", mode="multi")


def test_soft_reset_beats_hard_reset_on_a_deep_net():
    ann = small_cnn()
    X = torch.rand(64, 1, 12, 12)
    ref = ann(X).detach()
    errs = {}
    for reset in ("soft", "hard"):
        snn = convert(ann, X, "max", reset=reset)
        with torch.no_grad():
            errs[reset] = float((snn(repeat_in_time(X, 32)).mean(0) - ref).abs().mean())
    assert errs["soft"] < errs["hard"]


def test_precomputed_scales_reproduce_calibration():
    ann = small_cnn()
    X = torch.rand(16, 1, 12, 12)
    a = convert(ann, X, "robust")
    b = convert(ann, None, "robust", scales=a.scales())
    x_seq = repeat_in_time(X, 5)
    assert torch.equal(a(x_seq), b(x_seq))
    with pytest.raises(ValueError, match="not for the activations"):
        convert(ann, None, "robust", scales={"2": torch.tensor(1.0)})


# ---------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "net, name, words",
    [
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 5 * 5, 2)), "'2'", "MaxPool2d"),
        (nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.LSTM(4, 4)), "'2'", "recurrent"),
        (nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 2)), "'1'", "ReLU"),
        (nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.Linear(4, 2)), "'1'", "GELU"),
        (nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.LayerNorm(4)), "'2'", "LayerNorm"),
        (nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2), nn.Softmax(-1)), "'3'", "softmax"),
    ],
)
def test_unsupported_layers_are_named(net, name, words):
    with pytest.raises(UnsupportedLayerError) as err:
        convert(net, torch.rand(4, 1, 12, 12) if isinstance(net[0], nn.Conv2d) else torch.rand(4, 4), "robust")
    assert name in str(err.value) and words in str(err.value)


class _FunctionalRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.act = nn.ReLU()
        self.b = nn.Linear(4, 2)

    def forward(self, x):
        return self.b(F.relu(self.act(self.a(x))))


class _FunctionalMaxPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 2, 3)
        self.act = nn.ReLU()

    def forward(self, x):
        return torch.flatten(F.max_pool2d(self.act(self.c(x)), 2), 1)


def test_functional_non_linearities_are_named():
    with pytest.raises(UnsupportedLayerError, match="relu"):
        convert(_FunctionalRelu(), torch.rand(4, 4), "max")
    with pytest.raises(UnsupportedLayerError, match="max_pool2d"):
        convert(_FunctionalMaxPool(), torch.rand(4, 1, 8, 8), "max")


class _Unknown(nn.Module):
    def forward(self, x):
        return x * 2


def test_unknown_leaf_module_is_named():
    with pytest.raises(UnsupportedLayerError, match=r"'1' \(_Unknown\)"):
        convert(nn.Sequential(nn.Linear(3, 3), _Unknown(), nn.ReLU()), torch.rand(2, 3), "max")


def test_bad_arguments():
    relu_net = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
    with pytest.raises(ValueError, match="method"):
        convert(relu_net, torch.rand(2, 3), "median")
    with pytest.raises(ValueError, match="reset"):
        convert(relu_net, torch.rand(2, 3), "max", reset="none")
    with pytest.raises(ValueError, match="calibration_data"):
        convert(relu_net, None, "robust")
    with pytest.raises(ValueError, match="QCFS"):
        convert(relu_net, None, "qcfs")
    with pytest.raises(ValueError, match="no nn.ReLU"):
        convert(nn.Sequential(nn.Linear(3, 3)), torch.rand(2, 3), "max")
    with pytest.raises(TypeError):
        convert("not a model", torch.rand(2, 3))
    snn = convert(relu_net, torch.rand(4, 3), "max")
    with pytest.raises(ValueError, match="T, B"):
        snn(torch.rand(3))
    with pytest.raises(ValueError, match="mode"):
        ConvertedSNN(relu_net, mode="fast")

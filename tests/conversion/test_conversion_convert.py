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


class _OnlyFunctionalRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)

    def forward(self, x):
        return F.relu(self.a(x))


def test_functional_non_linearities_are_named():
    with pytest.raises(UnsupportedLayerError, match="relu"):
        convert(_FunctionalRelu(), torch.rand(4, 4), "max")
    # review 2026-12-07: with no activation module at all, the functional call used to be reported as
    # "the model has no nn.ReLU" (a ValueError) instead of being named
    with pytest.raises(UnsupportedLayerError, match=r"cannot convert the call relu\(\)"):
        convert(_OnlyFunctionalRelu(), torch.rand(4, 4), "max")
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


# ---------------------------------------------------------------------------- review regressions
def test_converted_snn_is_in_eval_mode_like_its_network():
    ann = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 4)).train()
    snn = convert(ann, torch.rand(32, 8), "max")
    assert not any(m.training for m in snn.modules())
    assert ann.training and ann[2].training  # the ANN keeps its own flags
    x_seq = repeat_in_time(torch.rand(4, 8), 6)
    assert torch.equal(snn(x_seq), snn(x_seq))  # no dropout noise
    net = nn.Sequential(nn.Linear(3, 3), SpikingActivation(1.0)).train()
    net[0].eval()
    wrapped = ConvertedSNN(net)
    assert wrapped.training and not net[0].training  # mirrors the net without touching its children


def test_module_used_at_two_positions_runs_at_both_in_multi_step():
    torch.manual_seed(0)
    lin = nn.Linear(8, 8)  # weight-tied block used twice
    ann = nn.Sequential(lin, nn.ReLU(), lin, nn.ReLU(), nn.Linear(8, 3)).eval()
    X = torch.rand(64, 8)
    multi = convert(ann, X, "max")
    step = convert(ann, X, "max", mode="step")
    assert multi.mode == "multi"
    x_seq = repeat_in_time(X[:6], 50)
    with torch.no_grad():
        assert torch.allclose(multi(x_seq), step(x_seq), atol=1e-6)
        assert torch.allclose(multi(repeat_in_time(X[:6], 2000)).mean(0), ann(X[:6]), atol=2e-3)


class _CalledTwice(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2)
        self.q = QCFS(4, lam=2.0)

    def forward(self, x):
        return self.b(self.q(self.a(self.q(x))))


@pytest.mark.parametrize("method", ["max", "robust", "channel", "qcfs", "scales"])
def test_activation_module_at_two_positions_is_refused_for_every_method(method):
    q = QCFS(4, lam=2.0)
    shared = nn.Sequential(nn.Linear(4, 4), q, nn.Linear(4, 4), q, nn.Linear(4, 2)).eval()
    kwargs = {"scales": {"1": torch.tensor(2.0)}} if method == "scales" else {}
    m = "robust" if method == "scales" else method
    with pytest.raises(ValueError, match=r"'1'.*'3'"):
        convert(shared, torch.rand(8, 4), m, **kwargs)
    with pytest.raises(ValueError, match="called 2 times"):
        convert(_CalledTwice().eval(), torch.rand(8, 4), m, **kwargs)


class _Op(nn.Module):
    def __init__(self, op):
        super().__init__()
        self.op = op
        self.l1, self.r, self.l2 = nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)

    def forward(self, x):
        return self.l2(self.op(self.r(self.l1(x))))


@pytest.mark.parametrize(
    "op, name",
    [
        (lambda h: F.layer_norm(h, (16,)), "layer_norm"),
        (torch.square, "square"),
        (F.normalize, "normalize"),
        (torch.exp, "exp"),
        (lambda h: h * h, "mul"),
        (lambda h: h / h.sum(1, keepdim=True), "truediv"),
        (lambda h: h.pow(2), "pow"),
        (lambda h: h.abs(), "abs"),
        (lambda h: F.dropout(h, 0.5), "dropout"),
    ],
)
def test_non_linear_functional_calls_are_refused(op, name):
    with pytest.raises(UnsupportedLayerError, match=name):
        convert(_Op(op).eval(), torch.rand(16, 8), "max")


class _LinearOps(nn.Module):
    """Every kind of linear functional call the converter accepts, between IF layers."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(6)
        self.c1, self.r1 = nn.Conv2d(1, 4, 3, padding=1), nn.ReLU()
        self.c2, self.r2 = nn.Conv2d(8, 4, 3), nn.ReLU()
        self.gain = nn.Parameter(torch.rand(4, 1, 1) + 0.5)
        self.fc, self.r3 = nn.Linear(4 * 3 * 3 + 4, 8), nn.ReLU()
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        h = self.r1(self.c1(x))                              # [B, 4, 8, 8]
        h = torch.cat([h, 0.5 * h - h[:, :1]], 1)            # cat, mul by a constant, sub, slicing
        h = F.avg_pool2d(F.pad(h, (1, 1, 1, 1)), 2)          # pad, avg pool -> [B, 8, 5, 5]
        g = self.r2(self.c2(h)) * self.gain / 2              # mul / div by parameters and constants
        flat = g.view(g.size(0), -1)                         # size, getitem on shapes, view
        pooled = g.mean((2, 3)) + torch.flatten(F.adaptive_avg_pool2d(g, 1), 1)
        h = self.r3(self.fc(torch.cat([flat, pooled], dim=1)))
        return self.out(h + h.sum(1, keepdim=True) / 8 + torch.zeros_like(h))


def test_linear_functional_calls_are_accepted_and_convert():
    ann = _LinearOps().eval()
    X = torch.rand(64, 1, 8, 8)
    snn = convert(ann, X, "max")
    assert snn.mode == "step"
    ref = ann(X[:8]).detach()
    with torch.no_grad():
        out = snn(repeat_in_time(X[:8], 400)).mean(0)
    assert float((out - ref).abs().max()) < 0.05 * float(ref.abs().max()) + 0.02


@pytest.mark.parametrize("v0", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_v0_is_refused(v0):
    ann = nn.Sequential(nn.Linear(8, 4), nn.ReLU())
    with pytest.raises(ValueError, match="v0"):
        convert(ann, torch.rand(8, 8), "max", v0=v0)
    with pytest.raises(ValueError, match="v0"):
        SpikingActivation(1.0, v0=v0)


@pytest.mark.parametrize("v0", [-0.5, 1.0, 3.0])
def test_v0_outside_0_1_warns_once(v0):
    ann = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU())
    with pytest.warns(UserWarning, match=r"v0") as rec:
        convert(ann, torch.rand(8, 8), "max", v0=v0)
    assert len([w for w in rec if "v0" in str(w.message)]) == 1
    with pytest.warns(UserWarning, match=r"v0"):
        SpikingActivation(1.0, v0=v0)


def test_multi_step_input_without_time_axis_gets_a_clear_error():
    ann = nn.Sequential(nn.Dropout(0.1), nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
    X = torch.rand(16, 8)
    snn = convert(ann, X, "max")
    assert snn.mode == "multi"
    with pytest.raises(ValueError, match="repeat_in_time"):
        snn(X[:2])  # [B, F]: no time axis
    with pytest.raises(ValueError, match=r"'1' \(Linear\) with 8 input features"):
        snn(torch.rand(3, 2, 9))
    cnn = convert(small_cnn(), torch.rand(4, 1, 12, 12), "max")
    with pytest.raises(ValueError, match=r"'0' \(Conv2d\) with 1 input channels"):
        cnn(torch.rand(3, 2, 2, 12, 12))
    with pytest.raises(ValueError, match=r"'0' \(Conv2d\)"):
        cnn(torch.rand(3, 1, 12, 12))  # [T, C, H, W]: no batch axis
    # step mode passes each step on as it is: [T, F] is one unbatched sample
    step = convert(ann, X, "max", mode="step")
    with torch.no_grad():
        assert torch.allclose(step(repeat_in_time(X[0], 5)), step(repeat_in_time(X[:1], 5))[:, 0], atol=1e-6)

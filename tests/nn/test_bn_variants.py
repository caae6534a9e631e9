"""BNTT (per-step BatchNorm) and TEBN (BatchNorm over T·B times a learnable p_t): equations, errors, models,
checkpoints and the refusal to fold."""

import copy

import pytest
import torch
from torch import nn

import spikeforge.nn as sfnn
from spikeforge.nn import (
    BatchNormThroughTime1d,
    BatchNormThroughTime2d,
    NotFoldableError,
    TemporalEffectiveBatchNorm1d,
    TemporalEffectiveBatchNorm2d,
)

T, B, C = 3, 6, 4
# (class of ours, reference torch BatchNorm class, per-step input shape [B, C, ...])
BNTT_CASES = [
    (BatchNormThroughTime1d, nn.BatchNorm1d, (B, C)),
    (BatchNormThroughTime1d, nn.BatchNorm1d, (B, C, 5)),
    (BatchNormThroughTime2d, nn.BatchNorm2d, (B, C, 3, 2)),
]
TEBN_CASES = [
    (TemporalEffectiveBatchNorm1d, nn.BatchNorm1d, (B, C)),
    (TemporalEffectiveBatchNorm1d, nn.BatchNorm1d, (B, C, 5)),
    (TemporalEffectiveBatchNorm2d, nn.BatchNorm2d, (B, C, 3, 2)),
]


def _seq(step_shape, seed=0):
    """[T, B, C, ...] whose steps have different means and scales (so per-step statistics differ)."""
    gen = torch.Generator().manual_seed(seed)
    shift = torch.arange(T, dtype=torch.float32).view(-1, *([1] * len(step_shape)))
    return torch.randn(T, *step_shape, generator=gen) * (1 + shift) + 2 * shift


def _randomise(module: nn.Module, seed=1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=gen) + 0.5)


# ---------------------------------------------------------------------------- BNTT
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("cls,ref_cls,step_shape", BNTT_CASES)
def test_bntt_equals_one_batchnorm_per_step(cls, ref_cls, step_shape, bias):
    bntt = cls(C, T, bias=bias)
    _randomise(bntt)
    refs = [ref_cls(C) for _ in range(T)]
    for t, ref in enumerate(refs):
        if not bias:
            ref.bias = None
        ref.load_state_dict(bntt.bn_list[t].state_dict())
    assert (bntt.bn_list[0].bias is not None) == bias
    # two training batches, then evaluation
    for seed in (0, 1):
        x = _seq(step_shape, seed)
        y = bntt(x)
        assert y.shape == x.shape
        expected = torch.stack([refs[t](x[t]) for t in range(T)])
        torch.testing.assert_close(y, expected)
    for t in range(T):
        torch.testing.assert_close(bntt.bn_list[t].running_mean, refs[t].running_mean)
        torch.testing.assert_close(bntt.bn_list[t].running_var, refs[t].running_var)
        assert bntt.bn_list[t].num_batches_tracked.item() == 2
    # the running statistics are per step (the steps of _seq have means 0, 2, 4)
    means = torch.stack([bn.running_mean for bn in bntt.bn_list]).mean(1)
    assert means[0] < means[1] < means[2]
    # each step normalised on its own: zero mean per step and channel (before the affine map)
    if not bias:
        y = copy.deepcopy(bntt)(_seq(step_shape, 2))
        per_step = y.transpose(1, 2).flatten(2).mean(2)  # [T, C]
        torch.testing.assert_close(per_step, torch.zeros(T, C), atol=1e-5, rtol=0)
    bntt.eval()
    x = _seq(step_shape, 3)
    torch.testing.assert_close(bntt(x), torch.stack([refs[t].eval()(x[t]) for t in range(T)]))


def test_bntt_gradients_stay_in_their_step():
    bntt = BatchNormThroughTime2d(C, T, bias=True)
    x = _seq((B, C, 3, 2)).requires_grad_(True)
    w = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    (bntt(x)[1] * w[1]).sum().backward()  # a loss on step 1 only
    for t, bn in enumerate(bntt.bn_list):
        touched = bn.weight.grad.abs().sum() > 0 and bn.bias.grad.abs().sum() > 0
        assert bool(touched) == (t == 1)
    assert x.grad[1].abs().sum() > 0 and x.grad[0].abs().sum() == 0 and x.grad[2].abs().sum() == 0
    # the full loss reaches every step's gamma and beta
    bntt.zero_grad()
    (bntt(x) * w).sum().backward()
    for bn in bntt.bn_list:
        assert bn.weight.grad.abs().sum() > 0 and bn.bias.grad.abs().sum() > 0


def test_bntt_options():
    assert BatchNormThroughTime1d(C, T, affine=False).bn_list[0].weight is None
    assert len(list(BatchNormThroughTime2d(C, 5).parameters())) == 5  # gamma_t only, no beta by default
    assert len(list(BatchNormThroughTime2d(C, 5, bias=True).parameters())) == 10
    assert "T=5" in repr(BatchNormThroughTime2d(C, 5))
    with pytest.raises(ValueError, match="affine"):
        BatchNormThroughTime2d(C, T, affine=False, bias=True)


# ---------------------------------------------------------------------------- TEBN
@pytest.mark.parametrize("cls,ref_cls,step_shape", TEBN_CASES)
def test_tebn_equals_bn_over_merged_time_batch_times_p(cls, ref_cls, step_shape):
    tebn = cls(C, T)
    assert torch.equal(tebn.scale.detach(), torch.ones(T))  # p_t = 1 at init: plain BN over T·B
    ref = ref_cls(C)
    x = _seq(step_shape, 0)
    torch.testing.assert_close(tebn(x), ref(x.flatten(0, 1)).unflatten(0, (T, B)))
    _randomise(tebn)  # gamma, beta and p_t away from 1 and 0: p_t must scale the shift too
    ref.weight.data.copy_(tebn.weight.data)
    ref.bias.data.copy_(tebn.bias.data)
    p = tebn.scale.detach().view(-1, *([1] * len(step_shape)))
    assert tebn.scale.detach().unique().numel() == T
    x = _seq(step_shape, 1)
    torch.testing.assert_close(tebn(x), ref(x.flatten(0, 1)).unflatten(0, (T, B)) * p)
    torch.testing.assert_close(tebn.running_mean, ref.running_mean)
    torch.testing.assert_close(tebn.running_var, ref.running_var)
    assert tebn.num_batches_tracked.item() == 2
    tebn.eval()
    ref.eval()
    x = _seq(step_shape, 2)
    torch.testing.assert_close(tebn(x), ref(x.flatten(0, 1)).unflatten(0, (T, B)) * p)


def test_tebn_gradient_of_p_t():
    tebn = TemporalEffectiveBatchNorm2d(C, T)
    _randomise(tebn)
    x = _seq((B, C, 3, 2))
    w = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    (tebn(x) * w).sum().backward()
    with torch.no_grad():
        bn_out = tebn(x) / tebn.scale.view(-1, 1, 1, 1, 1)
    # dL/dp_t = sum over step t of BN(x)[t] * w[t]
    torch.testing.assert_close(tebn.scale.grad, (bn_out * w).flatten(1).sum(1))
    assert tebn.weight.grad.abs().sum() > 0 and tebn.bias.grad.abs().sum() > 0


def test_tebn_without_affine_keeps_p_t():
    tebn = TemporalEffectiveBatchNorm1d(C, T, affine=False)
    assert [n for n, _ in tebn.named_parameters()] == ["scale"]
    assert list(tebn.state_dict()) == ["scale", "running_mean", "running_var", "num_batches_tracked"]


# ---------------------------------------------------------------------------- errors
ALL = [
    (BatchNormThroughTime1d, (B, C)),
    (BatchNormThroughTime2d, (B, C, 3, 2)),
    (TemporalEffectiveBatchNorm1d, (B, C)),
    (TemporalEffectiveBatchNorm2d, (B, C, 3, 2)),
]


@pytest.mark.parametrize("cls,step_shape", ALL)
def test_wrong_steps_layout_or_channels_raise(cls, step_shape):
    norm = cls(C, T)
    with pytest.raises(ValueError, match=rf"T={T} time steps but got an input with T={T + 1} steps"):
        norm(torch.randn(T + 1, *step_shape))
    with pytest.raises(ValueError, match=f"T={T} time steps but got an input with T={T - 1} steps"):
        norm(torch.randn(T - 1, *step_shape))
    with pytest.raises(ValueError, match="time-first"):  # flattened [T*B, ...] (what SeqToANN would pass)
        norm(torch.randn(T * B, *step_shape[1:]))
    with pytest.raises(ValueError, match="time-first"):
        norm(torch.randn(T, *step_shape, 2, 2))
    with pytest.raises(ValueError, match=f"got {C + 1} channels"):
        norm(torch.randn(T, B, C + 1, *step_shape[2:]))
    with pytest.raises(TypeError, match="floating"):
        norm(torch.ones(T, *step_shape, dtype=torch.long))
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="T"):
            cls(C, bad)


# ---------------------------------------------------------------------------- models
@pytest.mark.parametrize("norm,cls", [("bntt", BatchNormThroughTime2d), ("tebn", TemporalEffectiveBatchNorm2d)])
def test_convsnn_forward_backward(norm, cls):
    torch.manual_seed(0)
    net = sfnn.ConvSNN(channels=(4, 8), hidden=16, T=T, image_size=8, norm=norm)
    norms = [m for m in net.modules() if isinstance(m, (cls, BatchNormThroughTime1d, TemporalEffectiveBatchNorm1d))]
    assert len(norms) == 3 and all(m.T == T for m in norms)  # stem, stage, hidden FC
    assert not any(isinstance(m, sfnn.ThresholdDependentBatchNorm2d) for m in net.modules())
    x = 3 * torch.rand(5, 1, 8, 8)
    out = net(x)
    assert out.shape == (5, 10) and torch.isfinite(out).all()
    out.square().sum().backward()
    for m in norms:
        for name, p in m.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert norms[0].parameters().__next__().grad.abs().sum() > 0  # the stem norm (before the first LIF)
    # direct encoding (image repeated after the stem conv) equals the explicit [T, B, ...] sequence
    a, b = copy.deepcopy(net), copy.deepcopy(net)
    torch.testing.assert_close(a(x), b(sfnn.repeat_in_time(x, T)))
    net.eval()
    torch.testing.assert_close(net(x), net(sfnn.repeat_in_time(x, T).contiguous()))
    with pytest.raises(ValueError, match=f"T={T} time steps but got an input with T={T + 1}"):
        net(torch.rand(T + 1, 5, 1, 8, 8))


@pytest.mark.parametrize("norm", ["bntt", "tebn"])
def test_resnet_blocks_take_the_norm(norm):
    block = sfnn.models.SpikingBasicBlock(4, 8, 2, sfnn.STBP_NEURON, norm, T=2)
    x = torch.rand(2, 3, 4, 8, 8)
    assert block(x).shape == (2, 3, 8, 4, 4)
    assert sum(isinstance(m, (BatchNormThroughTime2d, TemporalEffectiveBatchNorm2d)) for m in block.modules()) == 3
    with pytest.raises(ValueError, match="pass T"):
        sfnn.models.SpikingBasicBlock(4, 8, 2, sfnn.STBP_NEURON, norm)
    net = sfnn.SpikingResNet19(T=2, norm=norm)
    assert isinstance(net.stem_act[0], (BatchNormThroughTime2d, TemporalEffectiveBatchNorm2d))
    assert net.stem_act[0].T == 2


def _trained(norm: str) -> nn.Module:
    torch.manual_seed(0)
    net = sfnn.ConvSNN(channels=(4, 8), hidden=16, T=T, image_size=8, norm=norm)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(2):  # moves gamma_t / p_t and the running statistics away from their initial values
        opt.zero_grad()
        nn.functional.cross_entropy(net(3 * torch.rand(8, 1, 8, 8)), torch.arange(8) % 10).backward()
        opt.step()
    return net


@pytest.mark.parametrize("norm", ["bntt", "tebn"])
def test_state_dict_round_trip(norm, tmp_path):
    net = _trained(norm)
    sd = net.state_dict()
    if norm == "tebn":
        assert not torch.equal(sd["stem_act.0.scale"], torch.ones(T))
    else:
        assert not torch.equal(sd["stem_act.0.bn_list.0.weight"], sd["stem_act.0.bn_list.1.weight"])
        assert not torch.equal(sd["stages.0.conv.1.bn_list.1.running_mean"], sd["stages.0.conv.1.bn_list.2.running_mean"])
    torch.save(sd, tmp_path / "sd.pt")
    fresh = sfnn.ConvSNN(channels=(4, 8), hidden=16, T=T, image_size=8, norm=norm)
    fresh.load_state_dict(torch.load(tmp_path / "sd.pt"))  # strict: same keys
    x = 3 * torch.rand(4, 1, 8, 8)
    net.eval()
    fresh.eval()
    torch.testing.assert_close(fresh(x), net(x), rtol=0, atol=0)
    other = sfnn.ConvSNN(channels=(4, 8), hidden=16, T=T, image_size=8, norm=norm).eval()
    assert not torch.equal(other(x), net(x))  # the comparison can tell models apart


@pytest.mark.parametrize("norm", ["bntt", "tebn"])
def test_train_checkpoint_round_trip(norm, tmp_path):
    from spikeforge.nn.train import TrainConfig, fit, model_from_checkpoint

    cfg = TrainConfig(model="convsnn", data="digits", batch_size=32, lr=2e-3, T=2, n_train=64, n_test=32, epochs=1,
                      norm=norm, extra={"channels": [4, 8]})
    result = fit(cfg, out_dir=tmp_path, progress=False, log=None)
    model, meta = model_from_checkpoint(tmp_path)
    assert meta["config"]["norm"] == norm
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), result["model"].eval()(x), rtol=0, atol=0)


@pytest.mark.parametrize("norm", ["bntt", "tebn"])
def test_cli_train_norm_choice(norm, tmp_path, capsys):
    from spikeforge.cli import build_parser, main

    assert build_parser().parse_args(["train", "convsnn", "--data", "digits", "--norm", norm]).norm == norm
    out = tmp_path / "run"
    argv = ["train", "convsnn", "--data", "digits", "--norm", norm, "--epochs", "1", "-T", "2", "--n-train", "32",
            "--n-test", "16", "--batch-size", "16", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    assert (out / "checkpoint.safetensors").exists()
    # export refuses in one line (the norm cannot be folded into the convs), not with a traceback
    pytest.importorskip("nir")
    capsys.readouterr()
    assert main(["export-nir", str(out)]) == 2
    assert "cannot fold stem_act.0" in capsys.readouterr().err


def test_unknown_norm_still_refused():
    from spikeforge.nn.train import TrainConfig

    with pytest.raises(ValueError, match="bntt"):
        TrainConfig(norm="BNTT")
    with pytest.raises(ValueError, match="tebn"):
        sfnn.ConvSNN(norm="tebn2d")


# ---------------------------------------------------------------------------- folding
@pytest.mark.parametrize("norm,what", [("bntt", "BatchNormThroughTime2d"), ("tebn", "TemporalEffectiveBatchNorm2d")])
def test_fold_batchnorm_refuses(norm, what):
    net = _trained(norm).train()
    before = copy.deepcopy(net.state_dict())
    for inplace in (False, True):
        with pytest.raises(NotFoldableError, match=rf"cannot fold stem_act\.0 \({what}\).*time step") as info:
            sfnn.fold_batchnorm(net, inplace=inplace)
        assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)
    assert net.training  # untouched: not put in eval mode, nothing replaced
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("norm", [BatchNormThroughTime2d(C, T), TemporalEffectiveBatchNorm2d(C, T)])
def test_fold_bn_into_refuses(norm):
    with pytest.raises(NotFoldableError, match="one time-invariant conv"):
        sfnn.fold_bn_into(nn.Conv2d(2, C, 3), norm)


def test_fold_batchnorm_still_folds_plain_bn():
    net = _trained("bn").eval()
    folded = sfnn.fold_batchnorm(net)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    x = 3 * torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(folded(x), net(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("norm", ["bntt", "tebn"])
def test_nir_export_refuses(norm):
    pytest.importorskip("nir")
    from spikeforge.interop import to_nir

    with pytest.raises(NotFoldableError, match="cannot fold"):
        to_nir(_trained(norm), (1, 8, 8))

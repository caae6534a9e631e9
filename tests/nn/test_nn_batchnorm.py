"""tdBN: statistics over T and B, the α·V_th scale, both parametrisations, folding."""

import math

import pytest
import torch
from torch import nn

import spikeforge.nn as sfnn
from spikeforge.nn import ThresholdDependentBatchNorm1d, ThresholdDependentBatchNorm2d


def test_normalises_over_time_and_batch_to_alpha_vth():
    torch.manual_seed(0)
    bn = ThresholdDependentBatchNorm2d(3, alpha=1 / math.sqrt(2), v_th=0.5)
    x = torch.randn(4, 8, 3, 5, 5) * 3 + 2
    y = bn(x)
    assert y.shape == x.shape
    target = 0.5 / math.sqrt(2)
    std = y.transpose(0, 2).reshape(3, -1).std(1, unbiased=False)
    mean = y.transpose(0, 2).reshape(3, -1).mean(1)
    torch.testing.assert_close(std, torch.full((3,), target), rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(mean, torch.zeros(3), rtol=0, atol=1e-5)
    # the same as plain BatchNorm on the [T*B] batch, times alpha*V_th
    ref = nn.BatchNorm2d(3)(x.flatten(0, 1)).unflatten(0, (4, 8)) * target
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-6)
    # running statistics: EMA (momentum 0.1) of the mean and the unbiased variance over (T, B, H, W)
    flat = x.transpose(0, 2).reshape(3, -1)
    torch.testing.assert_close(bn.running_mean, 0.1 * flat.mean(1), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bn.running_var, 0.9 + 0.1 * flat.var(1, unbiased=True), rtol=1e-5, atol=1e-6)
    assert bn.num_batches_tracked.item() == 1


def test_flattened_input_and_1d():
    bn2 = ThresholdDependentBatchNorm2d(3)
    x = torch.randn(2, 4, 3, 2, 2)
    torch.testing.assert_close(bn2(x), bn2(x.flatten(0, 1)).unflatten(0, (2, 4)))
    bn1 = ThresholdDependentBatchNorm1d(6, v_th=2.0)
    y = bn1(torch.randn(5, 7, 6))
    assert y.shape == (5, 7, 6)
    assert y.reshape(-1, 6).std(0, unbiased=False).mean().item() == pytest.approx(2.0, rel=1e-3)


def test_paper_and_spikingjelly_forms():
    torch.manual_seed(1)
    x = torch.randn(3, 4, 2, 3, 3)
    paper = ThresholdDependentBatchNorm2d(2, alpha=0.5, v_th=0.8)
    sj = ThresholdDependentBatchNorm2d(2, alpha=0.5, v_th=0.8, parametrization="spikingjelly")
    assert torch.allclose(sj.weight, torch.full((2,), 0.4)) and torch.allclose(paper.weight, torch.ones(2))
    yp, ys = paper(x), sj(x)
    torch.testing.assert_close(yp, ys)  # identical at initialisation
    g = torch.randn_like(yp)
    (gp,) = torch.autograd.grad((yp * g).sum(), paper.weight)
    (gs,) = torch.autograd.grad((ys * g).sum(), sj.weight)
    torch.testing.assert_close(gp, 0.4 * gs)  # gamma_SJ = alpha*V_th*lambda_paper
    with pytest.raises(ValueError, match="parametrization"):
        ThresholdDependentBatchNorm2d(2, parametrization="other")


def test_non_affine_keeps_the_scale():
    bn = ThresholdDependentBatchNorm1d(4, v_th=0.5, affine=False)
    y = bn(torch.randn(3, 20, 4))
    assert y.reshape(-1, 4).std(0, unbiased=False).mean().item() == pytest.approx(0.5, rel=1e-3)


def test_eval_uses_running_stats():
    bn = ThresholdDependentBatchNorm2d(2, v_th=0.5)
    for _ in range(20):
        bn(torch.randn(2, 8, 2, 3, 3) * 2 + 1)
    bn.eval()
    x = torch.randn(2, 1, 2, 3, 3)
    expected = 0.5 * (x - bn.running_mean.view(1, 1, -1, 1, 1)) / torch.sqrt(bn.running_var.view(1, 1, -1, 1, 1) + bn.eps)
    torch.testing.assert_close(bn(x), expected, rtol=1e-5, atol=1e-6)


def test_bad_input():
    bn = ThresholdDependentBatchNorm2d(2)
    with pytest.raises(ValueError, match=r"\[T, B, C"):
        bn(torch.zeros(2, 2))
    with pytest.raises(TypeError, match="floating"):
        bn(torch.zeros(1, 2, 2, 3, 3, dtype=torch.int32))
    with pytest.raises(ValueError, match="positive"):
        ThresholdDependentBatchNorm2d(2, alpha=0.0)


def _trained_stats(model, x, steps=5):
    model.train()
    for _ in range(steps):
        model(x)
    # perturb the affine parameters so folding has something to fold
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None:
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)


@pytest.mark.parametrize("norm", ["tdbn", "bn"])
def test_folded_network_gives_identical_outputs(norm):
    """§2.3: fold (conv, BN) pairs; the folded SNN without BN computes the same logits and spikes."""
    torch.manual_seed(0)
    model = sfnn.ConvSNN(channels=(8, 16), hidden=32, T=3, norm=norm)
    x = torch.rand(16, 1, 28, 28)
    _trained_stats(model, x)
    model.eval()
    folded = sfnn.fold_batchnorm(model)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    with torch.no_grad():
        a, b = model(x), folded(x)
        fa, fb = model.features(x), folded.features(x)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    # spikes agree except where a membrane lands within rounding of the threshold (none expected here)
    assert (fa != fb).float().mean().item() < 1e-3


def test_fold_bn_into_linear_and_conv1d():
    torch.manual_seed(2)
    for layer, bn, shape in [
        (nn.Linear(5, 4), ThresholdDependentBatchNorm1d(4, alpha=0.7, v_th=1.5), (6, 5)),
        (nn.Conv1d(3, 4, 3, bias=False), nn.BatchNorm1d(4), (6, 3, 9)),
    ]:
        x = torch.randn(*shape)
        bn.train()
        for _ in range(3):
            bn(layer(x))
        bn.eval()
        folded = sfnn.fold_bn_into(layer, bn)
        torch.testing.assert_close(folded(x), bn(layer(x)), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError):
        sfnn.fold_bn_into(nn.ReLU(), nn.BatchNorm1d(3))
    with pytest.raises(ValueError, match="features"):
        sfnn.fold_bn_into(nn.Linear(2, 3), nn.BatchNorm1d(4))


def test_tdbn1d_after_conv1d_inside_seq_to_ann():
    """Regression: SeqToANN(Conv1d, tdBN1d) feeds [T*B, C, L]; it was read as [T, B, C] (an error for
    L != C, the wrong axis normalised for L == C). Now it is PyTorch's [N, C, L]."""
    torch.manual_seed(0)
    conv = nn.Conv1d(2, 4, 3, padding=1)
    x = torch.randn(2, 3, 2, 5)  # [T, B, C_in, L]
    td = sfnn.SeqToANN(conv, ThresholdDependentBatchNorm1d(4, v_th=0.5))
    ref = sfnn.SeqToANN(conv, nn.BatchNorm1d(4))
    torch.testing.assert_close(td(x), ref(x) * 0.5, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(td[1].running_var, ref[1].running_var)
    # L == C: ambiguous under layout="auto"; explicit layouts read it either way
    z = torch.randn(6, 4, 4)
    with pytest.raises(ValueError, match="ambiguous"):
        ThresholdDependentBatchNorm1d(4)(z)
    torch.testing.assert_close(ThresholdDependentBatchNorm1d(4, layout="ncl")(z), nn.BatchNorm1d(4)(z))
    torch.testing.assert_close(ThresholdDependentBatchNorm1d(4, layout="tbc")(z),
                               nn.BatchNorm1d(4)(z.flatten(0, 1)).view(6, 4, 4))
    # [T, B, C, L]: statistics over T, B and L
    s = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(ThresholdDependentBatchNorm1d(4)(s), nn.BatchNorm1d(4)(s.flatten(0, 1)).view(s.shape))
    with pytest.raises(ValueError, match="channels"):
        ThresholdDependentBatchNorm1d(4)(torch.randn(6, 3, 5))
    with pytest.raises(ValueError, match="got 5 channels"):
        ThresholdDependentBatchNorm1d(4, layout="tbc")(torch.randn(6, 4, 5))
    with pytest.raises(ValueError, match="layout"):
        ThresholdDependentBatchNorm1d(4, layout="nlc")


def test_fold_conv1d_tdbn1d_in_seq_to_ann():
    torch.manual_seed(3)
    model = nn.Sequential(sfnn.SeqToANN(nn.Conv1d(2, 4, 3, padding=1), ThresholdDependentBatchNorm1d(4, alpha=0.7)),
                          sfnn.LIF(tau=2.0))
    x = torch.randn(3, 4, 2, 6)
    _trained_stats(model, x)
    model.eval()
    folded = sfnn.fold_batchnorm(model)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    with torch.no_grad():
        torch.testing.assert_close(folded[0](x), model[0](x), rtol=1e-5, atol=1e-5)

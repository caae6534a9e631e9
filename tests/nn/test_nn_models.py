"""Models: the ResNet-19 layout and size, the small conv SNN, direct encoding, readout."""

import math

import pytest
import torch
from torch import nn

import spikeforge.nn as sfnn
from spikeforge.nn.batchnorm import ThresholdDependentBatchNorm2d
from spikeforge.nn.models import SpikingBasicBlock


def test_resnet19_parameter_count_and_layout(capsys):
    model = sfnn.SpikingResNet19(num_classes=10)
    n = sfnn.count_parameters(model)
    print(f"spiking ResNet-19 parameters: {n} ({n / 1e6:.2f} M)")
    assert abs(n / 1e6 - 12.70) < 0.05  # spec §2.5: ≈ 12.70 M with 1×1 projections and BN affine
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert sum(m.kernel_size == (3, 3) for m in convs) == 17  # conv1 + 8 blocks × 2
    assert sum(m.kernel_size == (1, 1) for m in convs) == 2  # two projection shortcuts
    assert all(m.bias is None for m in convs)
    blocks = [m for m in model.modules() if isinstance(m, SpikingBasicBlock)]
    assert [b.conv_a[0].out_channels for b in blocks] == [128] * 3 + [256] * 3 + [512] * 2
    a2 = 1 / math.sqrt(2)
    for b in blocks:
        assert b.conv_a[1].alpha == 1.0 and b.conv_b[1].alpha == pytest.approx(a2)
        if not isinstance(b.shortcut, nn.Identity):
            assert b.shortcut[1].alpha == pytest.approx(a2)
    assert all(m.v_th == 0.5 for m in model.modules() if isinstance(m, ThresholdDependentBatchNorm2d))
    assert model.readout.in_features == 256 and model.fc[0].in_features == 512


def test_resnet19_forward_backward_small():
    torch.manual_seed(0)
    model = sfnn.SpikingResNet19(num_classes=10, T=1)
    x = torch.rand(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert model.stem[0].weight.grad is not None and model.stem[0].weight.grad.abs().sum() > 0


def test_convsnn_shapes_and_inputs():
    torch.manual_seed(0)
    m = sfnn.ConvSNN(T=3)
    assert m(torch.rand(5, 1, 28, 28)).shape == (5, 10)
    assert m(torch.rand(3, 5, 1, 28, 28)).shape == (5, 10)
    assert m.features(torch.rand(5, 1, 28, 28)).shape == (3, 5, 64 * 7 * 7)
    assert sfnn.ConvSNN(image_size=8, hidden=16)(torch.rand(2, 1, 8, 8)).shape == (2, 10)
    assert sfnn.ConvSNN(in_channels=3, image_size=32, norm="none")(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    relu = sfnn.ConvSNN(act="relu")
    assert not any(isinstance(x, sfnn.LIF) for x in relu.modules())


def test_direct_encoding_shortcut_is_exact():
    """The stem runs once on [B, ...] and is repeated; feeding the repeated sequence gives the same result."""
    torch.manual_seed(0)
    m = sfnn.ConvSNN(T=4, hidden=20)
    x = torch.rand(6, 1, 28, 28)
    seq = x.unsqueeze(0).repeat(4, 1, 1, 1, 1)
    a = m(x)
    b = m(seq)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_readout_is_mean_over_time_of_last_layer():
    torch.manual_seed(0)
    m = sfnn.ConvSNN(T=4)
    x = torch.rand(3, 1, 28, 28)
    feats = m.features(x)
    per_step = torch.stack([m.readout(f) for f in feats])  # Q = (1/T) Σ_t M o_t
    torch.testing.assert_close(m(x), per_step.mean(0), rtol=1e-5, atol=1e-5)


def test_bad_model_input():
    m = sfnn.ConvSNN()
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        m(torch.rand(28, 28))
    with pytest.raises(TypeError, match="floating"):
        m(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="channel"):
        m(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="T = 0"):
        m(torch.rand(0, 2, 1, 28, 28))
    with pytest.raises(ValueError, match="NaN"):
        m(torch.full((2, 1, 28, 28), float("nan")))
    with pytest.raises(ValueError, match="divisible"):
        sfnn.ConvSNN(image_size=30)
    with pytest.raises(ValueError, match="norm"):
        sfnn.ConvSNN(norm="layer")


def test_model_argument_checks():
    """Regressions: ConvSNN(pool='foo') raised KeyError, SpikingResNet19(T=0) was accepted, a dict neuron
    failed later with AttributeError."""
    with pytest.raises(ValueError, match="pool"):
        sfnn.ConvSNN(pool="foo")
    for T in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="T must be an integer"):
            sfnn.SpikingResNet19(T=T)
        with pytest.raises(ValueError, match="T must be an integer"):
            sfnn.ConvSNN(T=T)
    with pytest.raises(ValueError, match="norm"):
        sfnn.SpikingResNet19(norm="layer")
    with pytest.raises(TypeError, match="LIFSpec"):
        sfnn.ConvSNN(neuron={"v_th": 0.5})
    with pytest.raises(TypeError, match="LIFSpec"):
        sfnn.SpikingResNet19(neuron={"v_th": 0.5})


def test_sequence_input_runs_for_its_own_length():
    """Documented: T sets how often an image is repeated; a [T', B, ...] sequence runs T' steps."""
    m = sfnn.ConvSNN(T=3, image_size=8, channels=(4,))
    seq = torch.rand(5, 2, 1, 8, 8)
    assert m.features(seq).shape[:2] == (5, 2) and m(seq).shape == (2, 10)


def test_convsnn_names_a_wrong_image_size():
    from spikeforge.nn import ConvSNN

    with pytest.raises(ValueError, match="built for 28×28 images"):
        ConvSNN(image_size=28)(torch.rand(2, 1, 32, 32))


@pytest.mark.parametrize("decay_input", [False, True])
def test_plif_models_start_as_their_lif_twins_and_learn_tau(decay_input):
    """act="plif": each spiking layer is a PLIF whose initial τ = 1/(1 − β) gives the LIF's dynamics, so the
    untrained models agree exactly; the loss reaches every layer's τ."""
    import dataclasses

    from spikeforge.nn.models import STBP_NEURON, plif_spec

    neuron = dataclasses.replace(STBP_NEURON, decay_input=decay_input, decay=0.75)
    assert plif_spec(neuron).tau == pytest.approx(4.0) and plif_spec(neuron).charge == "tau"
    x = torch.rand(3, 1, 8, 8)
    for build in (lambda act: sfnn.ConvSNN(image_size=8, hidden=12, T=3, neuron=neuron, act=act),
                  lambda act: SpikingBasicBlock(4, 8, 2, neuron, act=act)):
        torch.manual_seed(0)
        lif = build("lif").double()
        torch.manual_seed(0)
        plif = build("plif").double()
        plifs = [m for m in plif.modules() if isinstance(m, sfnn.PLIF)]
        assert plifs and not any(isinstance(m, sfnn.PLIF) for m in lif.modules())
        inp = x.double() if isinstance(lif, sfnn.ConvSNN) else torch.rand(2, 3, 4, 8, 8, dtype=torch.float64)
        out_l, out_p = lif(inp), plif(inp)
        torch.testing.assert_close(out_p, out_l, rtol=1e-12, atol=1e-12)
        out_p.sum().backward()  # (a square would vanish where the block does not spike)
        assert all(m.w.grad is not None and torch.isfinite(m.w.grad).all() for m in plifs)
        assert any(m.w.grad.abs().sum() > 0 for m in plifs)


def test_plif_resnet19_and_bad_activations():
    torch.manual_seed(0)
    model = sfnn.SpikingResNet19(num_classes=10, T=1, act="plif")
    n_plif = sum(isinstance(m, sfnn.PLIF) for m in model.modules())
    assert n_plif == 1 + 8 * 2 + 1  # stem, two per block, FC
    # one learned τ per layer: 18 parameters more than the LIF model
    assert sfnn.count_parameters(model) == sfnn.count_parameters(sfnn.SpikingResNet19(num_classes=10)) + n_plif
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 10)
    with pytest.raises(ValueError, match="act must be one of"):
        sfnn.ConvSNN(act="gelu")
    with pytest.raises(ValueError, match="act must be one of"):
        sfnn.SpikingResNet19(act="tanh")
    from spikeforge.nn.functional import LIFSpec

    with pytest.raises(ValueError, match="learns the leak"):
        sfnn.ConvSNN(act="plif", neuron=LIFSpec(charge="if"))
    with pytest.raises(ValueError, match="learns the leak"):
        sfnn.ConvSNN(act="plif", neuron=LIFSpec(charge="decay", decay=1.0))

"""Surrogate derivatives: shape, peak, primitive/derivative consistency, spike function."""

import math

import pytest
import torch

from spikeforge.nn.surrogate import SURROGATES, Surrogate, heaviside, spike_fn, surrogate

NAMES = sorted(SURROGATES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0])
def test_primitive_derivative_match_autograd(name, alpha):
    sg = Surrogate(name, alpha)
    # avoid the kinks of rect/triangle where the derivative is discontinuous
    x = torch.linspace(-3, 3, 601, dtype=torch.float64)
    kinks = {"rect": [0.5 / alpha, -0.5 / alpha], "triangle": [1 / alpha, -1 / alpha, 0.0], "piecewise_exp": [0.0]}
    for k in kinks.get(name, []):
        x = x[(x - k).abs() > 1e-3]
    x.requires_grad_(True)
    (g,) = torch.autograd.grad(sg.primitive(x).sum(), x)
    torch.testing.assert_close(g, sg.derivative(x.detach()), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_peak_is_the_maximum_at_zero(name):
    sg = Surrogate(name, 2.0)
    x = torch.linspace(-5, 5, 10001, dtype=torch.float64)
    d = sg.derivative(x)
    assert d.max().item() == pytest.approx(sg.peak, rel=1e-6)
    assert sg.derivative(torch.zeros(1, dtype=torch.float64)).item() == pytest.approx(sg.peak, rel=1e-12)
    assert (d >= 0).all()


def test_documented_peaks_and_defaults():
    assert Surrogate("atan").alpha == 2.0 and Surrogate("atan").peak == 1.0  # SJ/snnTorch default
    assert Surrogate("sigmoid").peak == 1.0  # SJ Sigmoid(alpha=4)
    assert Surrogate("sigmoid", 25).peak == 6.25  # snnTorch sigmoid(slope=25)
    assert Surrogate("rect").peak == 1.0
    assert Surrogate("erf", 2).peak == pytest.approx(2 / math.sqrt(math.pi))
    assert Surrogate("fast_sigmoid", 100).peak == 1.0  # Norse SuperSpike


def test_aliases_and_builders():
    assert Surrogate("piecewise_quadratic").name == "triangle"
    assert Surrogate("superspike").name == "fast_sigmoid"
    assert surrogate("atan", 3.0) == Surrogate("atan", 3.0)
    assert surrogate(("rect", 2.0)) == Surrogate("rect", 2.0)
    assert surrogate(Surrogate("erf"), 5.0).alpha == 5.0
    assert "peak=1" in repr(Surrogate("atan"))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan")])
def test_bad_alpha(bad):
    if math.isnan(bad):  # NaN means "default"
        assert Surrogate("atan", bad).alpha == 2.0
        return
    with pytest.raises(ValueError, match="alpha"):
        Surrogate("atan", bad)


def test_unknown_name_and_type():
    with pytest.raises(ValueError, match="unknown surrogate"):
        Surrogate("gaussian_bump")
    with pytest.raises(TypeError):
        surrogate(3.0)


def test_spike_fn_forward_backward():
    x = torch.tensor([-1.0, 0.0, 0.3], requires_grad=True)
    sg = Surrogate("atan")
    s = spike_fn(x, sg, ge=True)
    assert s.tolist() == [0.0, 1.0, 1.0]
    assert spike_fn(x, sg, ge=False).tolist() == [0.0, 0.0, 1.0]
    (g,) = torch.autograd.grad(s.sum(), x)
    torch.testing.assert_close(g, sg.derivative(x.detach()))
    assert heaviside(torch.tensor([0.0]), ge=False).item() == 0.0
    smooth = Surrogate("sigmoid", 4.0, spiking=False)
    torch.testing.assert_close(spike_fn(x, smooth), torch.sigmoid(4 * x))


@pytest.mark.parametrize("name", NAMES)
def test_primitive_is_centred_and_its_documented_range(name):
    """The primitive is increasing with g(0) = 1/2; it spans (0, 1) except fast_sigmoid's 1/2 ± 1/α."""
    sg = Surrogate(name)
    x = torch.linspace(-1e4, 1e4, 200_001, dtype=torch.float64)
    g = sg.primitive(x)
    assert sg.primitive(torch.zeros(1, dtype=torch.float64)).item() == pytest.approx(0.5)
    assert (g[1:] >= g[:-1]).all()
    lo, hi = (0.5 - 1 / sg.alpha, 0.5 + 1 / sg.alpha) if name == "fast_sigmoid" else (0.0, 1.0)
    assert g[0].item() == pytest.approx(lo, abs=1e-3) and g[-1].item() == pytest.approx(hi, abs=1e-3)
    assert all(len(v) == 2 for v in SURROGATES.values())  # (kernel id, default alpha)

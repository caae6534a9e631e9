"""CubaLIF (current-based LIF with an exponential synapse): against a naive loop of the reference LIF
(spikes and input gradients), snnTorch's Synaptic equations by hand, state continuation, NIR round trip
and argument checks."""

import math

import pytest
import torch

from spikeforge.nn import CubaLIF, synaptic_current
from spikeforge.nn.functional import lif_multi_step_reference


def test_synaptic_current_is_the_filter():
    x = torch.rand(7, 2, 3, generator=torch.Generator().manual_seed(0))
    i = torch.zeros(2, 3)
    for t in range(7):
        i = 0.6 * i + x[t]
        torch.testing.assert_close(synaptic_current(x, 0.6)[t], i)


@pytest.mark.parametrize("kwargs", [dict(decay=0.8, decay_input=False), dict(tau=3.0), dict(decay=0.9, v_reset=None)])
def test_equals_the_reference_lif_on_the_filtered_current(kwargs):
    x = (torch.rand(20, 3, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 1.2).requires_grad_()
    layer = CubaLIF(0.5, **kwargs)
    s1 = layer(x)
    current = torch.stack([sum(0.5 ** (t - k) * x[k] for k in range(t + 1)) for t in range(20)])
    s2, _ = lif_multi_step_reference(current, None, layer.spec)
    torch.testing.assert_close(s1, s2)
    assert s1.sum() > 0
    g1, = torch.autograd.grad((s1 * torch.arange(4.0, dtype=torch.float64)).sum(), x)
    g2, = torch.autograd.grad((s2 * torch.arange(4.0, dtype=torch.float64)).sum(), x)
    torch.testing.assert_close(g1, g2)


def test_snntorch_synaptic_equations_by_hand():
    # snnTorch Synaptic(alpha, beta), reset by zeroing: syn = a·syn + x; mem = b·mem + syn; spike if mem >= 1
    a, b = 0.5, 0.8
    layer = CubaLIF(a, decay=b, decay_input=False, v_reset=0.0)
    x = torch.tensor([0.3, 0.3, 0.3, 0.0, 0.9, 0.0]).reshape(6, 1, 1)
    syn = mem = 0.0
    want = []
    for t in range(6):
        syn = a * syn + float(x[t])
        mem = b * mem + syn
        spk = 1.0 if mem >= 1.0 else 0.0
        mem = 0.0 if spk else mem
        want.append(spk)
    assert layer(x).flatten().tolist() == want and sum(want) > 0


def test_state_continues_a_sequence_and_tau_syn():
    x = torch.rand(12, 2, 3, generator=torch.Generator().manual_seed(2)) * 1.5
    layer = CubaLIF(tau_syn=4.0, tau=2.0)
    assert layer.alpha == pytest.approx(math.exp(-0.25))
    whole = layer(x)
    first, state = layer(x[:5], return_state=True)
    torch.testing.assert_close(torch.cat([first, layer(x[5:], state)]), whole)


def test_nir_round_trip_is_exact(tmp_path):
    nir = pytest.importorskip("nir")
    from spikeforge.interop import from_nir, to_nir
    from spikeforge.nn import repeat_in_time

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), CubaLIF(0.7, decay=0.9, decay_input=False))
    g = to_nir(net, (5,))
    assert any(isinstance(n, nir.CubaLIF) for n in g.nodes.values())
    nir.write(tmp_path / "cuba.nir", g)
    back = from_nir(tmp_path / "cuba.nir")
    assert any(isinstance(m, CubaLIF) and m.alpha == pytest.approx(0.7) for m in back.modules())
    x = repeat_in_time(torch.rand(6, 5) * 3, 15)
    with torch.no_grad():
        want = net(x)
        torch.testing.assert_close(back(x), want)
    assert want.sum() > 0
    # the same node without spikeforge's metadata imports through NIR's own equations: same spikes
    node = next(n for n in g.nodes.values() if isinstance(n, nir.CubaLIF))
    node.metadata.clear()
    with torch.no_grad():
        torch.testing.assert_close(from_nir(g)(x), want)


def test_bad_arguments():
    with pytest.raises(ValueError, match="exactly one of alpha"):
        CubaLIF()
    with pytest.raises(ValueError, match="exactly one of alpha"):
        CubaLIF(0.5, tau_syn=3.0)
    for a in (1.0, -0.1, True):
        with pytest.raises(ValueError, match="alpha must be"):
            CubaLIF(a)
    with pytest.raises(ValueError, match="tau_syn"):
        CubaLIF(tau_syn=0.0)
    with pytest.raises(TypeError, match="multi-step"):
        CubaLIF(0.5, step_mode="s")
    with pytest.raises(ValueError, match="NaN"):
        CubaLIF(0.5)(torch.full((2, 1, 1), float("nan")))


def test_review_fixes():
    import numpy as np

    with pytest.raises(ValueError, match="T = 0|T >= 1|at least one"):
        CubaLIF(0.5)(torch.rand(0, 2, 3))
    with pytest.raises(ValueError, match="i0 must be"):
        CubaLIF(0.5)(torch.rand(3, 2, 3), (torch.zeros(5), None))
    with pytest.raises(ValueError, match="state must be"):
        CubaLIF(0.5)(torch.rand(3, 2, 3), torch.zeros(2, 3))
    assert CubaLIF(np.float32(0.5)).alpha == 0.5 and CubaLIF(tau_syn=np.float64(2.0)).alpha > 0


@pytest.mark.parametrize("alpha", [0.0, 1e-3, math.exp(-5)])
def test_nir_round_trip_restores_a_small_alpha(alpha):
    pytest.importorskip("nir")
    import warnings

    from spikeforge.interop import from_nir, to_nir

    net = torch.nn.Sequential(torch.nn.Linear(5, 4), CubaLIF(alpha, tau=3.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # review: small α came back as the generic form with a warning
        back = from_nir(to_nir(net, (5,)))
    assert any(isinstance(m, CubaLIF) for m in back.modules())


def test_synaptic_current_gradients_equal_a_naive_autograd_loop():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(9, 2, 3, generator=g, dtype=torch.float64)
    i0 = torch.randn(2, 3, generator=g, dtype=torch.float64)
    w = torch.randn(9, 2, 3, generator=g, dtype=torch.float64)
    xa, ia = x.clone().requires_grad_(), i0.clone().requires_grad_()
    (synaptic_current(xa, 0.7, ia) * w).sum().backward()
    xb, ib = x.clone().requires_grad_(), i0.clone().requires_grad_()
    i, outs = ib, []
    for t in range(9):
        i = 0.7 * i + xb[t]
        outs.append(i)
    (torch.stack(outs) * w).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ia.grad, ib.grad, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda a, b: synaptic_current(a, 0.3, b), (xa.detach().requires_grad_(),
                                                                               ia.detach().requires_grad_()))
    # a broadcast i0 (one value per feature) gets the summed gradient
    i1 = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    synaptic_current(x, 0.5, i1).sum().backward()
    assert i1.grad.shape == (3,)

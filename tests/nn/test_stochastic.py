"""Stochastic neurons: seed 000's probabilistic neuron equals the numpy reference on the same draws and fires
with probability I; the escape-noise LIF is the deterministic LIF in the limit draws = 1/2, fires with
probability sigmoid(β(H − V_th)), passes its pseudo-gradient, repeats with a seeded generator; probabilistic
neurons learn with STDPUpdater; clear errors."""

import numpy as np
import pytest
import torch

import spikeforge.nn as sfnn
from spikeforge.neurons.probabilistic import probabilistic_step
from spikeforge.nn.functional import lif_multi_step_reference
from spikeforge.plasticity import STDPUpdater, TraceSTDP


def test_probabilistic_neuron_equals_the_numpy_reference_on_the_same_draws():
    g = torch.Generator().manual_seed(0)
    current = torch.rand(20, 4, 7, generator=g, dtype=torch.float64) * 1.4 - 0.2
    u = torch.rand(20, 4, 7, generator=g, dtype=torch.float64)
    got = sfnn.ProbabilisticNeuron()(current, u=u)
    ref = np.stack([probabilistic_step(current[t].numpy(), u[t].numpy()) for t in range(20)])
    np.testing.assert_array_equal(got.numpy().astype(bool), ref)


def test_probabilistic_neuron_fires_with_probability_i_and_repeats_with_a_seed():
    current = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0, 1.5]).expand(4000, 1, 6).contiguous()
    a = sfnn.ProbabilisticNeuron(torch.Generator().manual_seed(3))(current)
    b = sfnn.ProbabilisticNeuron(torch.Generator().manual_seed(3))(current)
    assert torch.equal(a, b)
    rate = a.mean(dim=(0, 1))
    np.testing.assert_allclose(rate.numpy(), [0.0, 0.1, 0.5, 0.9, 1.0, 1.0], atol=0.03)  # 4000 draws: ±0.016 s.d.


@pytest.mark.parametrize("kw", [dict(), dict(reset="soft", v_reset=None), dict(reset="none", v_reset=None),
                                dict(decay=0.7, decay_input=False), dict(v_reset=-0.3)])
def test_escape_noise_lif_with_half_draws_is_the_deterministic_lif(kw):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(25, 3, 5, generator=g, dtype=torch.float64) + 0.7
    layer = sfnn.StochasticLIF(**({"tau": 2.0, **kw} if "decay" not in kw else kw), beta=8.0)
    s = layer(x, u=torch.full_like(x, 0.5))  # 1[1/2 < sigmoid(β(H − θ))] = 1[H > θ]
    ref, _ = lif_multi_step_reference(x, None, layer.spec)  # the layer's spec compares with ">"
    assert ref.sum() > 0
    torch.testing.assert_close(s, ref)


def test_escape_noise_firing_probability_and_gradient():
    # first step from rest (v = 0, no reset yet): H = x/τ, so P(S = 1) = sigmoid(β(x/τ − 1))
    beta, tau = 4.0, 2.0
    xs = torch.tensor([1.0, 1.8, 2.0, 2.4, 3.0])
    x = xs.expand(1, 6000, 5).contiguous()
    s = sfnn.StochasticLIF(tau, beta=beta, generator=torch.Generator().manual_seed(5))(x)
    want = torch.sigmoid(beta * (xs / tau - 1))
    torch.testing.assert_close(s[0].mean(0), want, atol=0.02, rtol=0)
    # the gradient of a spike is dp/dH (times dH/dx = 1/τ here), whatever the draw
    xg = xs.clone().view(1, 1, 5).requires_grad_()
    out = sfnn.StochasticLIF(tau, beta=beta)(xg, u=torch.full((1, 1, 5), 0.3))
    out.sum().backward()
    p = torch.sigmoid(beta * (xs / tau - 1))
    torch.testing.assert_close(xg.grad.view(5), beta * p * (1 - p) / tau)


def test_seeded_generator_repeats_and_state_continues():
    x = torch.rand(30, 2, 4) * 3
    a = sfnn.StochasticLIF(2.0, generator=torch.Generator().manual_seed(9))(x)
    b = sfnn.StochasticLIF(2.0, generator=torch.Generator().manual_seed(9))(x)
    assert torch.equal(a, b) and 0 < a.mean() < 1
    u = torch.rand(30, 2, 4, generator=torch.Generator().manual_seed(2))
    layer = sfnn.StochasticLIF(2.0, return_state=True)
    whole, _ = layer(x, u=u)
    s1, v = layer(x[:11], u=u[:11])
    s2, _ = layer(x[11:], v, u=u[11:])
    torch.testing.assert_close(torch.cat([s1, s2]), whole)


def test_probabilistic_neurons_learn_with_stdp():
    # input 0 fires every 5 steps and drives the probabilistic neuron one step later (pre before post:
    # potentiation); input 1 fires two steps after input 0, i.e. after the post spikes it would pair with
    # (post before pre: depression). STDP on the Linear in front of the neurons separates the two weights.
    lin = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(0.5)
    neuron = sfnn.ProbabilisticNeuron(torch.Generator().manual_seed(1))
    rule = TraceSTDP(a_plus=0.01, a_minus=0.01, tau_pre_ms=2.0, tau_post_ms=2.0)
    up = STDPUpdater(lin, rule, 1.0)
    pre = torch.zeros(50, 8, 2)
    pre[::5, :, 0] = 1
    pre[2::5, :, 1] = 1
    for _ in range(20):
        current = torch.nn.functional.pad(lin(pre)[:-1], (0, 0, 0, 0, 1, 0))  # one step of synaptic delay
        post = neuron(current.detach())
        assert post.sum() > 0
        up.step(pre, post)
        up.reset()
    w = lin.weight.detach()[0]
    assert w[0] > 0.6 and w[1] < 0.4


def test_errors():
    with pytest.raises(ValueError, match="beta"):
        sfnn.StochasticLIF(beta=0.0)
    with pytest.raises(ValueError, match="soft_delayed"):
        sfnn.StochasticLIF(reset="soft_delayed", v_reset=None)
    with pytest.raises(TypeError, match="generator"):
        sfnn.ProbabilisticNeuron(generator=3)
    with pytest.raises(ValueError, match="shape"):
        sfnn.ProbabilisticNeuron()(torch.rand(3, 2, 2), u=torch.rand(3, 2))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        sfnn.StochasticLIF()(torch.rand(3, 2, 2), u=torch.full((3, 2, 2), 1.0))
    with pytest.raises(ValueError, match="NaN"):
        sfnn.probabilistic_spikes(torch.full((2, 2), float("nan")))
    with pytest.raises(TypeError, match="floating"):
        sfnn.probabilistic_spikes(torch.ones(2, 2, dtype=torch.int64))


def test_count_synops_treats_stochastic_outputs_as_events():
    from torch import nn

    for neuron in (sfnn.StochasticLIF(2.0, generator=torch.Generator().manual_seed(0)),
                   sfnn.ProbabilisticNeuron(torch.Generator().manual_seed(0))):
        net = nn.Sequential(nn.Linear(4, 6), neuron, nn.Linear(6, 2))
        rep = sfnn.count_synops(net, torch.rand(5, 3, 4))
        assert {r.name: r.kind for r in rep.rows} == {"0": "mac", "2": "ac"}
    # review 2026-12-07 (stop 21): counting advanced the layer's generator (and torch's global one)
    x = torch.rand(5, 3, 4)
    torch.manual_seed(7)
    counted = nn.Sequential(nn.Linear(4, 6), sfnn.StochasticLIF(2.0, generator=torch.Generator().manual_seed(0)))
    torch.manual_seed(7)
    twin = nn.Sequential(nn.Linear(4, 6), sfnn.StochasticLIF(2.0, generator=torch.Generator().manual_seed(0)))
    sfnn.count_synops(counted, x)
    torch.testing.assert_close(counted(x), twin(x))
    net = nn.Sequential(nn.Linear(4, 6), sfnn.StochasticLIF(2.0))  # draws from the global generator
    global_state = torch.get_rng_state()
    sfnn.count_synops(net, x)
    assert torch.equal(torch.get_rng_state(), global_state)


def test_review_precision_and_devices():
    # a float64 draw just below 1 is not rounded to 1 before the comparison with a float32 current of 1
    assert sfnn.probabilistic_spikes(torch.tensor([[1.0]]), u=torch.tensor([[1 - 1e-10]], dtype=torch.float64)) == 1
    cur, u = torch.tensor([[0.5]]), torch.tensor([[0.5 - 1e-10]], dtype=torch.float64)
    assert bool(sfnn.probabilistic_spikes(cur, u=u)) == bool(probabilistic_step(cur.numpy(), u.numpy())[0, 0])
    # with draws 1/2 the escape-noise LIF fires for H just above V_th, where sigmoid(β(H − V_th)) rounds to 1/2
    th = 0.01
    h_above = torch.nextafter(torch.tensor(th), torch.tensor(1.0))
    layer = sfnn.StochasticLIF(decay=0.0, decay_input=False, v_th=th, beta=5.0)  # H = X at the first step
    assert float(torch.sigmoid(5.0 * (h_above - th))) == 0.5
    assert layer(h_above.view(1, 1, 1), u=torch.full((1, 1, 1), 0.5)).item() == 1.0
    assert layer(torch.tensor(th).view(1, 1, 1), u=torch.full((1, 1, 1), 0.5)).item() == 0.0
    # a generator on another device than the input is a clear error (meta stands in for a second device)
    from spikeforge.nn.stochastic import _draws

    with pytest.raises(ValueError, match="generator is on"):
        _draws(None, torch.empty(2, 2, device="meta"), torch.Generator())

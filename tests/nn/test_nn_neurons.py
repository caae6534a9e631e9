"""LIF / IF modules: step modes, explicit and module-held state, parameters, bad input."""

import pytest
import torch
from torch import nn

import spikeforge.nn as sfnn
from spikeforge.nn.functional import lif_multi_step_reference


def test_multi_step_is_stateless_between_calls():
    lif = sfnn.LIF(tau=2.0, v_th=0.5)
    x = torch.rand(4, 3, 10)
    assert torch.equal(lif(x), lif(x))
    assert lif.v is None


def test_single_step_keeps_state_until_reset():
    lif = sfnn.LIF(tau=2.0, step_mode="s")
    multi = sfnn.LIF(tau=2.0)
    x = torch.rand(5, 3, 10) * 1.5
    out = torch.stack([lif(xt) for xt in x])
    assert torch.equal(out, multi(x))
    assert lif.v is not None
    with pytest.raises(ValueError, match="reset_state"):
        lif(torch.rand(2, 10))  # different batch with stale state
    net = nn.Sequential(nn.Linear(10, 10), lif)
    sfnn.reset_states(net)
    assert lif.v is None
    lif(torch.rand(2, 10))


def test_return_state_is_explicit():
    lif = sfnn.LIF(decay=0.5, decay_input=False, return_state=True)
    x = torch.rand(6, 2, 4)
    s1, v1 = lif(x[:3])
    s2, v2 = lif(x[3:], v1)
    s, v = lif(x)
    assert torch.equal(torch.cat([s1, s2]), s) and torch.equal(v2, v)
    single = sfnn.LIF(decay=0.5, decay_input=False, step_mode="s", return_state=True)
    st, vt = single(x[0])
    assert torch.equal(st, s[0]) and single.v is None


def test_parameters_reach_the_dynamics():
    lif = sfnn.LIF(tau=4 / 3, decay_input=False, v_th=0.3, v_reset=None, detach_reset=True,
                   spike_compare=">", surrogate="sigmoid", alpha=5.0)
    sp = lif.spec
    assert (sp.charge, sp.reset, sp.detach_reset, sp.spike_compare, sp.v_th) == ("tau", "soft", True, ">", 0.3)
    assert sp.surrogate.name == "sigmoid" and sp.surrogate.alpha == 5.0
    assert sp.dh_dv == pytest.approx(0.25)  # tau_decay = 1 - 1/tau (spec §1.1)
    x = torch.randn(5, 2, 7)
    ref, _ = lif_multi_step_reference(x, None, sp)
    assert torch.equal(lif(x), ref)
    assert "tau=1.33333" in repr(lif) and "reset=soft" in repr(lif)
    # read-only views of the spec on the layer
    assert (lif.tau, lif.v_th, lif.surrogate) == (sp.tau, 0.3, sp.surrogate)
    assert sfnn.LIF(decay=0.8).decay == 0.8


def test_if_neuron():
    neuron = sfnn.IF(v_th=1.0, v_reset=None)
    x = torch.full((4, 1, 1), 0.6)
    assert neuron(x).flatten().tolist() == [0.0, 1.0, 0.0, 1.0]  # 0.6, 1.2->0.2, 0.8, 1.4
    assert neuron.spec.charge == "if"
    with pytest.raises(TypeError, match="no 'tau'"):
        sfnn.IF(tau=2.0)


def test_constructor_errors():
    with pytest.raises(ValueError, match="either tau"):
        sfnn.LIF(tau=2.0, decay=0.5)
    with pytest.raises(ValueError, match="v_reset"):
        sfnn.LIF(v_reset=None, reset="hard")
    with pytest.raises(ValueError, match="step_mode"):
        sfnn.LIF(step_mode="multi")
    with pytest.raises(ValueError, match="backend"):
        sfnn.LIF(backend="gpu")


def test_wrong_rank_message_mentions_layout():
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        sfnn.LIF()(torch.zeros(8))
    with pytest.raises(ValueError, match="at least one dimension"):
        sfnn.LIF(step_mode="s")(torch.tensor(1.0))


def test_module_is_trainable_in_a_network():
    torch.manual_seed(0)
    net = nn.Sequential(sfnn.SeqToANN(nn.Linear(8, 16)), sfnn.LIF(v_th=0.2), sfnn.MeanOverTime(), nn.Linear(16, 2))
    x = torch.randn(4, 32, 8)
    y = (x.mean((0, 2)) > 0).long()
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    losses = []
    for _ in range(60):
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_from_spec_refuses_dynamics_kwargs():
    """Regression: LIF.from_spec(spec, tau=3.0) silently kept the spec's tau."""
    spec = sfnn.LIFSpec(tau=2.0)
    with pytest.raises(TypeError, match="tau"):
        sfnn.LIF.from_spec(spec, tau=3.0)
    with pytest.raises(TypeError, match="v_th"):
        sfnn.IF.from_spec(spec, v_th=0.5)
    with pytest.raises(TypeError, match="LIFSpec"):
        sfnn.LIF.from_spec({"tau": 2.0})
    layer = sfnn.LIF.from_spec(spec, step_mode="s", return_state=True, backend="torch", check_nan=False)
    assert layer.spec is spec and layer.step_mode == "s" and layer.return_state and layer.backend == "torch"


def test_multi_step_starts_from_v_reset_for_hard_reset():
    """The documented start of a multi-step call: V_reset for a hard reset, 0 otherwise."""
    x = torch.zeros(1, 1, 1)
    _, v = sfnn.LIF(tau=2.0, v_reset=-0.5, return_state=True)(x)  # H = V + (0 - (V - V_r))/2 = V_r
    assert v.item() == -0.5
    _, v = sfnn.LIF(tau=2.0, v_reset=None, return_state=True)(x)
    assert v.item() == 0.0

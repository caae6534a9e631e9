"""Carried state across calls (truncated BPTT): chunked calls equal one call for every neuron layer, the graph
is cut by detach_states, states are forgotten on exit and by reset_states, clear errors."""

import pytest
import torch
from torch import nn

import spikeforge.nn as sfnn
from spikeforge.nn.neurons import _CARRIED


def _carried(layer):
    slot = _CARRIED.get(layer)
    return None if slot is None else slot[0]

LAYERS = {
    "LIF": lambda: sfnn.LIF(tau=2.0),
    "LIF soft_delayed": lambda: sfnn.LIF(tau=2.0, reset="soft_delayed", v_reset=None),
    "IF": lambda: sfnn.IF(),
    "PLIF per channel": lambda: sfnn.PLIF(2.0, shape=(6,)),
    "ALIF": lambda: sfnn.ALIF(tau=2.0, beta=0.4, tau_a=6.0),
    "Izhikevich": lambda: sfnn.Izhikevich(),
    "CubaLIF": lambda: sfnn.CubaLIF(alpha=0.6),
    "StochasticLIF (half draws: deterministic)": lambda: _HalfDraws(),
}


class _HalfDraws(torch.nn.Module):
    """StochasticLIF with every draw 1/2, so that chunked and whole calls can be compared exactly."""

    def __init__(self):
        super().__init__()
        self.inner = sfnn.StochasticLIF(2.0, beta=6.0)

    def forward(self, x):
        return self.inner(x, u=torch.full_like(x, 0.5))


def _x(T=24, B=3, N=6, seed=0):
    return torch.randn(T, B, N, generator=torch.Generator().manual_seed(seed)) * 1.5 + 0.8


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_chunked_calls_with_carried_state_equal_one_call(name):
    layer = LAYERS[name]()
    x = _x() * (20 if name == "Izhikevich" else 1)
    whole = layer(x)
    assert whole.sum() > 0
    with sfnn.carry_state(layer):
        parts = torch.cat([layer(c) for c in x.split((5, 11, 8))])
    torch.testing.assert_close(parts, whole, rtol=1e-6, atol=1e-6)
    # without the context every call starts from rest (the chunks differ from one call)
    restart = torch.cat([layer(c) for c in x.split((5, 11, 8))])
    assert not torch.equal(restart, whole)


def test_recurrent_layer_and_a_network_of_several_layers():
    torch.manual_seed(0)
    net = nn.Sequential(sfnn.SeqToANN(nn.Linear(6, 8)), sfnn.ALIF(tau=2.0, beta=0.3), sfnn.RecurrentLIF(8, 5, tau=2.0),
                        sfnn.CubaLIF(alpha=0.5))
    x = _x() * 2
    whole = net(x)
    with sfnn.carry_state(net):
        parts = torch.cat([net(c) for c in x.split(7)])
        assert net[3].lif not in _CARRIED  # only the outer layer carries (its inner LIF does not)
        assert _carried(net[3]) is not None
    torch.testing.assert_close(parts, whole)
    assert not any(m in _CARRIED for m in net.modules())  # forgotten on exit


def test_truncated_bptt_cuts_the_graph_and_reset_states_starts_afresh():
    torch.manual_seed(1)
    net = nn.Sequential(sfnn.SeqToANN(nn.Linear(6, 4)), sfnn.PLIF(2.0, shape=(4,)))
    x = _x().requires_grad_()
    for detach in (False, True):
        with sfnn.carry_state(net):
            net(x[:12])
            if detach:
                sfnn.detach_states(net)
            out2 = net(x[12:])
            (g,) = torch.autograd.grad(out2.sum(), [x])
        reaches_chunk_1 = bool(g[:12].abs().sum() > 0)
        assert reaches_chunk_1 != detach  # the carried membrane links the chunks unless detached
        assert g[12:].abs().sum() > 0
    with sfnn.carry_state(net):
        net(x[:12])
        sfnn.reset_states(net)  # between independent sequences: the next call starts from rest
        after_reset = net(x[12:])
    torch.testing.assert_close(after_reset, net(x[12:]))  # outside the block every call starts from rest


def test_errors():
    layer = sfnn.LIF()
    with pytest.raises(TypeError, match="nn.Module"):
        with sfnn.carry_state("net"):
            pass
    with sfnn.carry_state(layer):
        layer(_x(B=3))
        with pytest.raises(ValueError, match="batch size 3"):
            layer(_x(B=2))
        sfnn.reset_states(layer)
        layer(_x(B=2))  # fine after a reset


def test_single_step_states_are_detached_too():
    layer = sfnn.LIF(step_mode="s")
    x = _x(T=2).requires_grad_()
    layer(x[0] * 3)
    assert layer.v.requires_grad
    sfnn.detach_states(layer)
    assert not layer.v.requires_grad


def test_copies_do_not_carry_and_nested_blocks_continue_the_outer_state():
    import copy

    layer = sfnn.LIF(tau=2.0)
    x = _x()
    whole = layer(x)
    with sfnn.carry_state(layer):
        first = layer(x[:10])
        best = copy.deepcopy(layer)  # e.g. keeping the best model: works mid-sequence, and the copy is stateless
        assert best not in _CARRIED and torch.equal(best(x[10:]), best(x[10:]))
        with sfnn.carry_state(layer):  # nested: continues, and leaves the state to the outer block
            second = layer(x[10:17])
        third = layer(x[17:])
    torch.testing.assert_close(torch.cat([first, second, third]), whole)
    assert layer not in _CARRIED

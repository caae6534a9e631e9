"""Learning rules carried through NIR: an STDPUpdater's settings go into its layer's node metadata, and the
imported network rebuilds updaters that learn exactly like the originals (in memory and through a file)."""

import pytest
import torch
from torch import nn

nir = pytest.importorskip("nir")

from spikeforge.interop import from_nir, to_nir  # noqa: E402
from spikeforge.nn import LIF, RecurrentLIF, SeqToANN  # noqa: E402
from spikeforge.plasticity import STDPUpdater, TraceSTDP  # noqa: E402

RULE = TraceSTDP(a_plus=0.05, a_minus=0.03, tau_pre_ms=5.0, tau_post_ms=4.0, tau_post2_ms=8.0, w_min=-1.0, w_max=1.0)


def _spikes(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < 0.3).float()


def _learn(updater, steps=3):
    for k in range(steps):
        updater.step(_spikes((10, 2, *updater.layer.weight.shape[1:2]) if isinstance(updater.layer, nn.Linear)
                             else (10, 2, updater.layer.in_channels, 8, 8), 10 + k),
                     _spikes((10, 2, updater.layer.weight.shape[0]) if isinstance(updater.layer, nn.Linear)
                             else (10, 2, updater.layer.out_channels, 8, 8), 20 + k))


@pytest.mark.parametrize("via_file", [False, True])
def test_linear_and_conv_rules_round_trip_and_learn_identically(via_file, tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(
        SeqToANN(nn.Conv2d(2, 3, 3, padding=1, bias=False)), LIF(tau=2.0), nn.Flatten(2),
        SeqToANN(nn.Linear(3 * 8 * 8, 5, bias=False)), LIF(tau=2.0),
    )
    conv, lin = model[0][0], model[3][0]
    ups = [STDPUpdater(conv, RULE, 0.5, lr=0.5), STDPUpdater(lin, RULE, 0.5, lr1=torch.tensor([1.0, -1, 1, 0, 1]),
                                                             online_clip=True, reduction="sum")]
    graph = to_nir(model, (2, 8, 8), plasticity=ups)
    if via_file:
        nir.write(tmp_path / "g.nir", graph)
        net = from_nir(tmp_path / "g.nir")
    else:
        net = from_nir(graph)
    assert set(net.plasticity) == {"0.0", "3.0"}
    got = net.stdp_updaters()
    assert set(got) == {"0.0", "3.0"}
    for mine, theirs in zip(ups, (got["0.0"], got["3.0"])):
        assert theirs.config() == mine.config()
        assert torch.equal(theirs.layer.weight, mine.layer.weight)
        _learn(mine)
        _learn(theirs)
        assert torch.equal(theirs.layer.weight, mine.layer.weight)  # the imported layer learns the same
    assert theirs.layer is net.module("3.0")[0]  # bound to the network's own layer


def test_recurrent_input_projection_and_no_plasticity():
    torch.manual_seed(1)
    model = nn.Sequential(RecurrentLIF(4, 3, tau=2.0))
    up = STDPUpdater(model[0].linear, RULE, 1.0)
    net = from_nir(to_nir(model, (4,), plasticity=up))  # a single updater is accepted too
    assert list(net.stdp_updaters()) == ["0.linear"]
    plain = from_nir(to_nir(model, (4,)))
    assert plain.plasticity == {} and plain.stdp_updaters() == {}


def test_errors_name_the_problem():
    model = nn.Sequential(SeqToANN(nn.Linear(4, 3)), LIF())
    other = nn.Linear(4, 3)
    with pytest.raises(ValueError, match="not a module of the exported model"):
        to_nir(model, (4,), plasticity=[STDPUpdater(other, RULE, 1.0)])
    with pytest.raises(TypeError, match="STDPUpdater"):
        to_nir(model, (4,), plasticity=[RULE])
    lin = model[0][0]
    with pytest.raises(ValueError, match="two updaters"):
        to_nir(model, (4,), plasticity=[STDPUpdater(lin, RULE, 1.0), STDPUpdater(lin, RULE, 2.0)])


class _Wrapped(nn.Module):
    """A test module whose exporter writes its linear layer's node itself (not through ``emit``)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3, bias=False)

    def forward(self, x):
        return self.lin(x)


def test_a_layer_that_is_not_its_own_node_is_refused():
    from spikeforge.interop import register_nir_exporter

    @register_nir_exporter(_Wrapped)
    def _export(b, m, src, name):
        node = nir.Linear(weight=m.lin.weight.detach().numpy())
        return b.add(name, node, src, (3,))

    model = nn.Sequential(_Wrapped(), LIF())
    with pytest.raises(ValueError, match="did not become one NIR node"):
        to_nir(model, (4,), plasticity=[STDPUpdater(model[0].lin, RULE, 1.0)])
    # the wrapper itself became one node, but it is not a linear / conv layer an updater can take
    assert "0" in to_nir(model, (4,)).nodes

"""count_synops: exact AC counts against a brute-force loop over the connections, MAC counts, event/analog
classification (spikes, binary, pooled spikes, rates, overrides), ConvSNN and ConvertedSNN, energy
arithmetic, report formatting and error messages."""

import itertools
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import spikeforge.nn as sfnn
from spikeforge.conversion import SpikingActivation, convert
from spikeforge.nn import E_AC_PJ, E_MAC_PJ, count_synops, repeat_in_time


# ----------------------------------------------------------------------------- the reference
def brute_force_acs(conv: nn.Module, counts: torch.Tensor, pads: tuple[int, ...]) -> float:
    """Σ over every synapse (n, c_out, output position, c_in of its group, kernel offset) of the spikes at
    the input position it reads: the accumulates an event-driven layer performs. ``pads`` = padding on
    each side per spatial dim; circular padding wraps around."""
    nd = len(conv.kernel_size)
    N, C_in = counts.shape[:2]
    size = counts.shape[2:]
    out_size = [
        (size[d] + 2 * pads[d] - conv.dilation[d] * (conv.kernel_size[d] - 1) - 1) // conv.stride[d] + 1
        for d in range(nd)
    ]
    cin_g, cout_g = C_in // conv.groups, conv.out_channels // conv.groups
    c = counts.tolist()
    total = 0.0
    for n, o in itertools.product(range(N), range(conv.out_channels)):
        g = o // cout_g
        for pos in itertools.product(*(range(s) for s in out_size)):
            for ci in range(g * cin_g, (g + 1) * cin_g):
                for k in itertools.product(*(range(s) for s in conv.kernel_size)):
                    idx = [pos[d] * conv.stride[d] + k[d] * conv.dilation[d] - pads[d] for d in range(nd)]
                    if conv.padding_mode == "circular":
                        idx = [i % size[d] for d, i in enumerate(idx)]
                    elif any(i < 0 or i >= size[d] for d, i in enumerate(idx)):
                        continue
                    v = c[n][ci]
                    for i in idx:
                        v = v[i]
                    total += v
    return total


CONVS = [
    (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), (5, 6), (1, 1)),
    (lambda: nn.Conv2d(4, 4, (3, 2), stride=(1, 2), padding=(2, 0), dilation=(2, 1)), (5, 5), (2, 0)),
    (lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"), (4, 5), (1, 1)),
    (lambda: nn.Conv2d(2, 4, 3, padding="same", groups=2, bias=False), (4, 4), (1, 1)),
    (lambda: nn.Conv1d(3, 6, 4, stride=3, padding=2, groups=3), (11,), (2,)),
]


@pytest.mark.parametrize("make, size, pads", CONVS)
def test_conv_acs_equal_brute_force_at_borders(make, size, pads):
    torch.manual_seed(0)
    conv = make()
    x = (torch.rand(2, conv.in_channels, *size) < 0.4).float() * 0.7  # binary {0, 0.7}
    r = count_synops(conv, x)
    (row,) = r.rows
    assert (row.kind, row.source) == ("ac", "binary") and row.events > 0
    assert row.events == float((x != 0).sum()) / 2
    assert row.ac_ops == brute_force_acs(conv, (x != 0).double(), pads) / 2
    assert row.mac_ops == 0
    # the ANN equivalent is dense: output elements × C_in/groups × kernel
    out = conv(x)
    dense = out[0].numel() * conv.in_channels // conv.groups * math.prod(conv.kernel_size)
    assert row.ann_macs == dense
    # analog input: dense MACs, zeros included
    xa = torch.rand_like(x)
    (ra,) = count_synops(conv, xa).rows
    assert (ra.kind, ra.source, ra.ac_ops, ra.mac_ops) == ("mac", "analog", 0, dense)


def test_linear_hand_counts_and_energy():
    lin = nn.Linear(4, 3)
    x = torch.tensor([[1.0, 0, 1, 1], [0, 0, 1, 0]])  # 3 + 1 events in a batch of 2
    r = count_synops(lin, x)
    (row,) = r.rows
    assert (row.kind, row.events, row.ac_ops, row.ann_macs, row.steps) == ("ac", 2.0, 6.0, 12.0, 1.0)
    assert r.energy_pj == pytest.approx(6 * 0.9)
    assert r.ann_energy_pj == pytest.approx(12 * 4.6)
    assert r.energy_ratio == pytest.approx(5.4 / 55.2)
    assert (E_AC_PJ, E_MAC_PJ) == (0.9, 4.6)
    # analog input: 4·3 MACs per sample at the chosen energy
    ra = count_synops(lin, torch.tensor([[1.0, 0, 2, 0], [0.5, 0, 0, 0]]), e_ac_pj=1.0, e_mac_pj=3.0)
    assert (ra.rows[0].kind, ra.mac_ops, ra.ac_ops) == ("mac", 12.0, 0.0)
    assert ra.energy_pj == 36.0 and ra.ann_energy_pj == 36.0 and ra.energy_ratio == 1.0
    assert ra.events == 1.5  # nonzero analog inputs per sample (informational)
    # mixed: events into a MAC and an AC layer add with their own energies
    net = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    rm = count_synops(net, x, e_ac_pj=2.0, e_mac_pj=5.0)
    assert [r.kind for r in rm.rows] == ["ac", "mac"]
    assert rm.energy_pj == pytest.approx(rm.ac_ops * 2.0 + rm.mac_ops * 5.0)
    assert rm.mac_ops == 6.0 and rm.synops == rm.ac_ops + rm.mac_ops


# ----------------------------------------------------------------------------- classification
def test_per_channel_spikes_count_as_events_by_provenance():
    torch.manual_seed(1)
    act = SpikingActivation(torch.tensor([0.5, 1.0, 2.0, 3.0]))
    net = nn.Sequential(nn.Linear(5, 4), act, nn.Linear(4, 2))
    x = torch.rand(6, 3, 5) * 3  # [T, B, F]: time-first because of the multi-step spiking layer
    spikes = {}
    act.register_forward_hook(lambda m, a, o: spikes.setdefault("s", o.clone()))
    r = count_synops(net, x)
    s = spikes["s"]
    assert len(s[s != 0].unique()) > 1  # {0, λ_c}: not binary as a whole tensor
    assert (r.batch_size, r.T) == (3, 6)
    first, last = r.rows
    assert (first.kind, first.source, first.mac_ops, first.steps) == ("mac", "analog", 6 * 4 * 5, 6)
    assert (last.kind, last.source) == ("ac", "spikes")
    assert last.events == float((s != 0).sum()) / 3 and last.ac_ops == last.events * 2


class _Spiker(nn.Module):
    """A foreign neuron type: spikes where the input exceeds 0.5, of amplitude c + 1 in channel c
    (not binary as a whole tensor, so only ``spiking_types`` makes them events)."""

    def forward(self, x):
        amp = torch.arange(1, x.shape[1] + 1, dtype=x.dtype).reshape(-1, *[1] * (x.dim() - 2))
        return (x > 0.5).to(x.dtype) * amp


def test_pooled_spikes_rule_and_overrides():
    torch.manual_seed(2)
    net = nn.Sequential(_Spiker(), nn.AvgPool2d(2), nn.Conv2d(3, 5, 3, padding=1))
    x = torch.rand(4, 3, 8, 8)
    spikes = (x > 0.5).double()
    counts = F.avg_pool2d(spikes, 2, divisor_override=1)  # spikes per pooled cell, 0..4
    assert len(counts.unique()) > 2
    expected = brute_force_acs(net[2], counts, (1, 1)) / 4
    r = count_synops(net, x, spiking_types=(_Spiker,))
    (row,) = r.rows
    assert (row.name, row.kind, row.source) == ("2", "ac", "pooled spikes")
    assert row.events == float(spikes.sum()) / 4 and row.ac_ops == expected
    # unknown neuron type (graded amplitudes): analog; the same with the strict rule
    dense = 5 * 16 * 27
    for kw in ({}, {"spiking_types": (_Spiker,), "pooled_events": False}):
        (row,) = count_synops(net, x, **kw).rows
        assert (row.kind, row.source, row.mac_ops) == ("mac", "analog", dense)
    # overrides: forced events count nonzero inputs, forced analog counts dense MACs
    (row,) = count_synops(net, x, event_layers=["2"]).rows
    nz = (counts != 0).double()
    assert (row.kind, row.source, row.ac_ops) == ("ac", "forced ac", brute_force_acs(net[2], nz, (1, 1)) / 4)
    (row,) = count_synops(net, x, spiking_types=(_Spiker,), analog_layers="2").rows
    assert (row.kind, row.source, row.mac_ops) == ("mac", "forced mac", dense)


def test_adaptive_pool_flatten_linear_counts_every_spike():
    torch.manual_seed(3)
    net = nn.Sequential(_Spiker(), nn.AdaptiveAvgPool2d((2, 1)), nn.Flatten(), nn.Linear(3 * 2, 7))
    x = torch.rand(2, 3, 5, 4)  # 5 rows into 2 cells: rows 0–2 and 2–4 (row 2 in both)
    s = (x > 0.5).double()
    per_cell = torch.stack([s[:, :, 0:3].sum((2, 3)), s[:, :, 2:5].sum((2, 3))], -1)
    (row,) = count_synops(net, x, spiking_types=(_Spiker,)).rows
    assert row.source == "pooled spikes"
    assert row.events == float(per_cell.sum()) / 2 and row.ac_ops == row.events * 7
    # binary spikes of an unknown neuron type are events by value, and stay events through the pool
    net[0] = nn.Threshold(0.5, 0.0)  # x where x > 0.5: analog
    assert count_synops(net, x).rows[0].kind == "mac"
    (row,) = count_synops(nn.Sequential(*net[1:]), s.float()).rows
    assert (row.kind, row.source, row.events) == ("ac", "pooled spikes", float(per_cell.sum()) / 2)


# ----------------------------------------------------------------------------- the models
def _active_convsnn() -> sfnn.ConvSNN:
    torch.manual_seed(0)
    net = sfnn.ConvSNN(image_size=8, channels=(4, 8), T=3)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(6.0)  # an untrained net barely fires; make every layer spike
    return net


def test_convsnn_direct_encoding_counts():
    net = _active_convsnn()
    x = torch.rand(2, 1, 8, 8)
    rec = {}
    net.stem_act.register_forward_hook(lambda m, a, o: rec.setdefault("s", o.clone()))
    net.train()
    bn_mean = net.stem[1].running_mean.clone()
    r = count_synops(net, x)
    assert net.training and torch.equal(net.stem[1].running_mean, bn_mean)  # eval pass, flags restored
    assert (r.batch_size, r.T) == (2, 3)
    stem, conv, readout = r.rows
    assert [row.name for row in r.rows] == ["stem.0", "stages.0.conv.0", "readout"]
    # the analog stem runs once in PyTorch but at each of the T steps on a chip
    assert (stem.kind, stem.source, stem.steps) == ("mac", "analog", 3)
    assert stem.mac_ops == 3 * 4 * 64 * 9 and stem.ann_macs == 4 * 64 * 9
    # conv after LIF → avgpool: one AC per spike and target, exact at the borders
    counts = F.avg_pool2d(rec["s"].flatten(0, 1).double(), 2, divisor_override=1)
    assert counts.max() > 1  # graded: several spikes per cell
    f = torch.tensor([2.0, 3, 3, 2], dtype=torch.float64)  # outputs reached per row/col (4×4, k3, pad 1)
    fan = (f[:, None] * f[None, :]) * 8
    assert (conv.kind, conv.source, conv.steps) == ("ac", "pooled spikes", 3)
    assert conv.events == float(rec["s"].sum()) / 2 > 0
    assert conv.ac_ops == pytest.approx(float((counts.sum(1) * fan).sum()) / 2, abs=0)
    assert conv.ann_macs == 8 * 16 * 36
    assert (readout.kind, readout.source, readout.steps, readout.mac_ops) == ("mac", "rates", 1, 320)
    assert r.ann_macs == 2304 + 4608 + 320
    assert r.energy_pj == pytest.approx(r.ac_ops * 0.9 + r.mac_ops * 4.6)
    # counted once, as PyTorch computes it
    once = count_synops(net, x, static_input_per_step=False)
    assert once.rows[0].mac_ops == 2304 and once.rows[0].steps == 1
    assert once.rows[1].ac_ops == conv.ac_ops


def test_convsnn_spike_sequence_input():
    net = _active_convsnn()
    torch.manual_seed(4)
    x = (torch.rand(3, 2, 1, 8, 8) < 0.3).float()  # rate-coded input [T, B, C, H, W]
    r = count_synops(net, x)
    assert (r.batch_size, r.T) == (2, 3)
    stem = r.rows[0]
    f = torch.tensor([2.0, 3, 3, 3, 3, 3, 3, 2])
    fan = (f[:, None] * f[None, :]) * 4
    assert (stem.kind, stem.source, stem.steps) == ("ac", "binary", 3)
    assert stem.ac_ops == float((x[:, :, 0] * fan).sum()) / 2
    forced = count_synops(net, x, analog_layers=["stem.0"]).rows[0]
    assert (forced.kind, forced.mac_ops) == ("mac", 3 * 2304)
    with pytest.raises(ValueError, match="not a multiple of the batch size 4"):
        count_synops(net, x, batch_size=4)


def _converted(method: str, mode: str = "auto"):
    torch.manual_seed(0)
    ann = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(4, 6, 3), nn.BatchNorm2d(6), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(6, 3),
    ).eval()  # fmt: skip
    return convert(ann, torch.rand(16, 1, 12, 12), method, mode=mode)


@pytest.mark.parametrize("method", ["robust", "channel"])
def test_converted_snn_counts(method):
    snn = _converted(method)
    x = torch.rand(3, 1, 12, 12)
    out = {}
    snn.net[2].register_forward_hook(lambda m, a, o: out.setdefault("s2", o.clone()))
    snn.net[6].register_forward_hook(lambda m, a, o: out.setdefault("s6", o.clone()))
    r = count_synops(snn, repeat_in_time(x, 4))
    assert (r.batch_size, r.T) == (3, 4)
    assert [(row.name, row.kind, row.source) for row in r.rows] == [
        ("net.0", "mac", "analog"), ("net.4", "ac", "pooled spikes"), ("net.9", "ac", "pooled spikes"),
    ]
    assert [row.steps for row in r.rows] == [4, 4, 4]
    assert r.rows[0].mac_ops == 4 * 4 * 100 * 9  # direct encoding: dense at each of the 4 steps
    s2, s6 = ((out[k].flatten(0, 1) != 0).double() for k in ("s2", "s6"))
    assert s2.sum() > 0 and s6.sum() > 0
    counts = F.avg_pool2d(s2, 2, divisor_override=1)
    assert r.rows[1].events == float(s2.sum()) / 3
    assert r.rows[1].ac_ops == brute_force_acs(snn.net[4], counts, (0, 0)) / 3
    assert r.rows[2].events == float(s6.sum()) / 3 and r.rows[2].ac_ops == r.rows[2].events * 3
    # step-by-step execution performs the same operations
    rs = count_synops(_converted(method, mode="step"), repeat_in_time(x, 4))
    assert [row.synops for row in rs.rows] == pytest.approx([row.synops for row in r.rows])
    assert r.energy_ratio < 4  # sanity: T = 4 steps of sparse ACs plus the dense first layer


# ----------------------------------------------------------------------------- report and errors
def test_report_formats():
    r = count_synops(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)), torch.tensor([[1.0, 0, 1, 1]]))
    md = r.to_markdown().splitlines()
    assert md[0].startswith("| layer | type | kind |") and len(md) == 2 + 2 + 1
    assert md[2].startswith("| 0 | Linear(4→3) | ac | binary |") and md[-1].startswith("| **total** |")
    d = r.as_dict()
    json.dumps(d)
    assert d["totals"]["synops"] == r.synops == 3 * 3 + 6 and d["rows"][1]["kind"] == "mac"
    assert "SNN/ANN energy" in str(r) and "per sample (T=1)" in str(r)
    assert repr(r).startswith("SynOpsReport(layers=2, T=1, batch_size=1, synops=15,")


class _Unused(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return x * 2


def test_errors():
    lin = nn.Linear(4, 3)
    x = torch.rand(2, 4)
    with pytest.raises(ValueError, match="no weight layer to count"):
        count_synops(nn.Sequential(nn.ReLU()), x)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        count_synops(lin, [[0.0, 1.0, 0.0, 1.0]])
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        count_synops(lambda t: t, x)
    with pytest.raises(ValueError, match=r"unknown weight layer name\(s\) \['fc'\]"):
        count_synops(lin, x, event_layers=["fc"])
    with pytest.raises(ValueError, match="in both event_layers and analog_layers"):
        count_synops(lin, x, event_layers=[""], analog_layers=[""])
    with pytest.raises(ValueError, match="e_mac_pj must be a finite number >= 0"):
        count_synops(lin, x, e_mac_pj=-1.0)
    with pytest.raises(ValueError, match="none of the weight layers"):
        count_synops(_Unused(), x[:, :2])
    with pytest.raises(ValueError, match="T must be a positive int"):
        count_synops(lin, x, T=0)
    for bad in (torch.tensor(1.0), torch.zeros(0, 4)):
        with pytest.raises(ValueError, match="x must have a batch dimension and elements"):
            count_synops(lin, bad)


# ----------------------------------------------------------------------------- regressions
class _InPlaceAfterSpikes(nn.Module):
    """LIF spikes rescaled in place (per feature) before the next layer."""

    def __init__(self, scale):
        super().__init__()
        self.lif = sfnn.LIF(v_th=0.5)
        self.fc = nn.Linear(4, 3)
        self.scale = scale

    def forward(self, x):
        return self.fc(self.lif(x).mul_(self.scale))


def test_spikes_modified_in_place_are_not_events():
    torch.manual_seed(5)
    x = torch.rand(4, 3, 4) * 2  # [T, B, F]
    (row,) = count_synops(_InPlaceAfterSpikes(torch.tensor([0.5, 1.0, 1.5, 2.0])), x).rows
    assert (row.kind, row.source, row.mac_ops) == ("mac", "analog", 4 * 4 * 3)
    # an in-place change that keeps the values binary: events by value
    (row,) = count_synops(_InPlaceAfterSpikes(2.0), x).rows
    assert (row.kind, row.source) == ("ac", "binary") and row.events > 0


def test_static_input_propagates_through_layers_before_the_first_neuron():
    torch.manual_seed(6)
    T = 3
    ann = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 25, 6),
        nn.ReLU(), nn.Linear(6, 3),
    ).eval()  # fmt: skip
    snn = convert(ann, torch.rand(16, 2, 5, 5), "robust")
    assert snn.mode == "multi"
    x = torch.rand(2, 2, 5, 5).to(memory_format=torch.channels_last)  # Flatten copies the conv output
    r = count_synops(snn, repeat_in_time(x, T))
    conv0, conv1, fc, out = r.rows
    # conv → conv → Flatten (a copy) → Linear run once on the static input; each is charged T times
    assert [row.source for row in r.rows] == ["analog", "analog", "analog", "spikes"]
    assert [row.steps for row in r.rows] == [T, T, T, T]
    assert conv0.mac_ops == T * 4 * 25 * 18 and conv1.mac_ops == T * 4 * 25 * 36
    assert fc.mac_ops == T * 6 * 100
    once = count_synops(snn, repeat_in_time(x, T), static_input_per_step=False)
    assert [row.steps for row in once.rows] == [1, 1, 1, T]


def test_convsnn_inside_sequential_keeps_its_layout_and_readout():
    net = _active_convsnn()
    for x in (torch.rand(2, 1, 8, 8), (torch.rand(3, 2, 1, 8, 8) < 0.3).float()):
        bare = count_synops(net, x)
        wrapped = count_synops(nn.Sequential(net), x)
        assert (wrapped.batch_size, wrapped.T) == (bare.batch_size, bare.T) == (2, 3)
        assert [row.name for row in wrapped.rows] == ["0." + row.name for row in bare.rows]
        assert wrapped.rows[-1].source == "rates"
        fields = lambda row: (row.kind, row.source, row.steps, row.synops, row.energy_pj)  # noqa: E731
        assert [fields(a) for a in wrapped.rows] == [fields(b) for b in bare.rows]
    # a step-mode ConvertedSNN has no multi-step neuron to tell its [T, B, ...] layout by
    snn = _converted("robust", mode="step")
    x = repeat_in_time(torch.rand(3, 1, 12, 12), 4)
    bare, wrapped = count_synops(snn, x), count_synops(nn.Sequential(snn), x)
    assert (wrapped.batch_size, wrapped.T) == (bare.batch_size, bare.T) == (3, 4)
    assert [row.synops for row in wrapped.rows] == [row.synops for row in bare.rows]


def test_single_step_state_is_reset_for_the_count_and_restored():
    torch.manual_seed(7)
    lif = sfnn.LIF(v_th=1.0, step_mode="s")
    act = SpikingActivation(1.0, step_mode="s")
    act.record = True
    net = nn.Sequential(nn.Linear(4, 6), lif, nn.Linear(6, 5), act, nn.Linear(5, 2))
    x = torch.rand(3, 4) * 2
    fresh = count_synops(net, x)
    assert lif.v is None and act._v is None and act.spike_counts is None
    for _ in range(3):
        net(x)  # the membranes charge up: the next step would spike more
    v, v_act, counts = lif.v.clone(), act._v.clone(), act.spike_counts.clone()
    r = count_synops(net, x)
    assert torch.equal(lif.v, v) and torch.equal(act._v, v_act) and torch.equal(act.spike_counts, counts)
    assert [row.synops for row in r.rows] == [row.synops for row in fresh.rows]


@pytest.mark.parametrize("pool", [nn.MaxPool2d(3), nn.AdaptiveMaxPool2d(1)])
def test_max_pool_of_graded_events_follows_the_values(pool):
    # average pool with border cells of 1, 2 and 4 inputs (count_include_pad=False): a corner cell with
    # 1 spike (value 1) beats an inner cell with 3 spikes (value 0.75); the max pool passes the former
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = x[0, 0, 2, 1] = 1.0
    net = nn.Sequential(nn.AvgPool2d(2, padding=1, count_include_pad=False), pool, nn.Flatten(), nn.Linear(1, 5))
    (row,) = count_synops(net, x).rows
    assert (row.kind, row.source, row.events, row.ac_ops) == ("ac", "pooled spikes", 1.0, 5.0)


def test_unbatched_input_to_a_weight_layer():
    torch.manual_seed(8)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = (torch.rand(1, 2, 5, 5) < 0.4).float()
    batched = count_synops(conv, x)
    for model in (conv, nn.Sequential(conv, nn.ReLU())):
        r = count_synops(model, x[0])
        assert r.batch_size == 1 and r.rows[0].ac_ops == batched.rows[0].ac_ops
    lin = nn.Linear(4, 3)
    assert count_synops(lin, torch.tensor([1.0, 0, 1, 0])).ac_ops == 6.0


def test_batch_first_models_take_batch_first_input():
    # review 2026-12-07 (stop 21): a BatchFirst model's [B, T, F] input was read as [T, B, F] (counts off by B/T)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), sfnn.LIF(tau=2.0), nn.Linear(16, 4))
    x = torch.rand(5, 3, 8)  # [T, B, F]
    ref = count_synops(net, x)
    got = count_synops(sfnn.BatchFirst(net), x.transpose(0, 1).contiguous())
    assert got.T == ref.T == 5
    assert [(r.mac_ops, r.ac_ops) for r in got.rows] == [(r.mac_ops, r.ac_ops) for r in ref.rows]
    assert ref.rows[0].mac_ops == 5 * 8 * 16  # per sample over the 5 steps
    with pytest.raises(ValueError, match="batch-first input"):
        count_synops(sfnn.BatchFirst(net), torch.rand(8))

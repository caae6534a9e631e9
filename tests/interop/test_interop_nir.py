"""NIR export/import: exact round trips of spikeforge networks, hand-computed Euler dynamics of foreign
nodes, the fast (fused LIF) import path against the per-step reference path, and clear errors."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

nir = pytest.importorskip("nir")

from spikeforge.conversion import convert  # noqa: E402
from spikeforge.interop import NIRNetwork, from_nir, register_nir_exporter, to_nir  # noqa: E402
from spikeforge.interop._nir import _Leaky  # noqa: E402
from spikeforge.nn import IF, LIF, QCFS, ConvSNN, SeqToANN, SpikingResNet19, repeat_in_time  # noqa: E402

DT = 1e-3


def _trained_bn(model, x):
    """Give BatchNorm layers non-trivial running statistics."""
    model.train()
    with torch.no_grad():
        model(x)
    return model.eval()


# ---------------------------------------------------------------------------- parameter mapping
def test_lif_parameters_follow_the_euler_convention():
    seq = nn.Sequential(
        SeqToANN(nn.Linear(3, 4)),
        LIF(tau=2.0),                                   # a = 1/2, b = 1/2 → τ = 2 dt, R = 1
        SeqToANN(nn.Linear(4, 4, bias=False)),
        LIF(decay=0.9, decay_input=False, v_th=0.5),    # a = 0.9, b = 1 → τ = 10 dt, R = 10
        SeqToANN(nn.Linear(4, 2)),
        IF(v_th=2.0),                                   # dV/dt = R·I with R = 1/dt
    )
    g = to_nir(seq, (3,), dt=DT)
    n1, n2, n3 = g.nodes["1"], g.nodes["3"], g.nodes["5"]
    assert isinstance(n1, nir.LIF) and isinstance(n3, nir.IF) and isinstance(g.nodes["2.0"], nir.Linear)
    np.testing.assert_allclose(n1.tau, 2 * DT) and np.testing.assert_allclose(n1.r, 1.0)
    np.testing.assert_allclose(n2.tau, 10 * DT, rtol=1e-6)
    np.testing.assert_allclose(n2.r, 10.0, rtol=1e-6)
    np.testing.assert_allclose(n2.v_threshold, 0.5)
    np.testing.assert_allclose(n3.r, 1 / DT)
    assert n1.tau.shape == (4,) and n3.v_threshold.shape == (2,)
    assert g.edges[0] == ("input", "0.0") and g.edges[-1] == ("5", "output")


def test_foreign_lif_node_matches_hand_computed_euler():
    # a graph as another tool writes it: τ = 5 ms, R = 2, v_leak = 0.1, θ = 1, reset to 0, dt = 1 ms
    # → V_t = 0.8·V + 0.4·X + 0.02 ; spike when V > 1; V starts at rest (v_leak)
    g = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([1])}),
            "lif": nir.LIF(tau=np.array([5e-3]), r=np.array([2.0]), v_leak=np.array([0.1]),
                           v_threshold=np.array([1.0]), v_reset=np.array([0.0])),
            "output": nir.Output(output_type={"output": np.array([1])}),
        },
        edges=[("input", "lif"), ("lif", "output")],
    )
    x = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, 2.0]).reshape(6, 1, 1)
    v, expected = 0.1, []
    for xt in x.flatten().tolist():
        v = 0.8 * v + 0.4 * xt + 0.02
        s = v > 1.0
        expected.append(float(s))
        v = 0.0 if s else v
    out = from_nir(g, dt=1e-3)(x)
    assert out.flatten().tolist() == expected
    assert sum(expected) >= 1  # the case exercises a spike and a reset


def test_uniform_fast_path_equals_per_neuron_reference_path():
    rng = np.random.default_rng(0)
    n = 16
    lif = nir.LIF(tau=np.full(n, 4e-3), r=rng.uniform(0.5, 2, n), v_leak=rng.uniform(-0.1, 0.1, n),
                  v_threshold=np.full(n, 0.7), v_reset=np.full(n, -0.1))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([n])}), "lif": lif,
                            "output": nir.Output(output_type={"output": np.array([n])})},
                     edges=[("input", "lif"), ("lif", "output")])
    net = from_nir(g, dt=1e-3)
    assert not any(isinstance(m, _Leaky) for m in net.modules())  # fused LIF + per-neuron input scale
    from spikeforge.interop._nir import _euler_of_node
    a, b, c = _euler_of_node(lif, 1e-3)
    ref = _Leaky(a, b, c, lif.v_threshold, lif.v_reset, ">", v_init=lif.v_leak)
    x = torch.rand(40, 3, n) * 0.8
    fast, slow = net(x), ref(x)
    assert fast.sum() > 0
    assert torch.equal(fast, slow)


def test_heterogeneous_thresholds_use_the_reference_path():
    n = 3
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([n])}),
                            "lif": nir.IF(r=np.full(n, 1e3), v_threshold=np.array([1.0, 2.0, 3.0]), v_reset=np.zeros(n)),
                            "output": nir.Output(output_type={"output": np.array([n])})},
                     edges=[("input", "lif"), ("lif", "output")])
    net = from_nir(g, dt=1e-3)
    out = net(torch.ones(6, 1, n))  # input 1 per step: neuron k spikes every (k+1)th step... after exceeding θ
    assert out[:, 0, 0].tolist() == [0, 1, 0, 1, 0, 1]          # V: 1, 2>1 → spike
    assert out[:, 0, 2].tolist() == [0, 0, 0, 1, 0, 0]          # V: 1, 2, 3, 4>3 → spike


def test_leaky_integrator_and_cuba_lif_nodes():
    # LI: τ = 2 ms, R = 1 → V = ½V + ½X ; CubaLIF: I = ½I + X (w_in = 2 dt/τ_syn... see below), V = ½V + ½I
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([1])}),
        "li": nir.LI(tau=np.array([2e-3]), r=np.array([1.0]), v_leak=np.array([0.0])),
        "cuba": nir.CubaLIF(tau_syn=np.array([2e-3]), tau_mem=np.array([2e-3]), r=np.array([1.0]),
                            v_leak=np.array([0.0]), v_threshold=np.array([0.6]), v_reset=np.array([0.0]),
                            w_in=np.array([2.0])),
        "o1": nir.Output(output_type={"output": np.array([1])}),
        "o2": nir.Output(output_type={"output": np.array([1])}),
    }, edges=[("input", "li"), ("li", "o1"), ("input", "cuba"), ("cuba", "o2")])
    out = from_nir(g, dt=1e-3)(torch.ones(4, 1, 1))
    assert out["o1"].flatten().tolist() == [0.5, 0.75, 0.875, 0.9375]
    # I: 1, 1.5, 1.75, 1.875 ; V: .5, 1.0→spike→0, .875→spike→0, .9375→spike
    assert out["o2"].flatten().tolist() == [0.0, 1.0, 1.0, 1.0]


# ---------------------------------------------------------------------------- round trips
def test_convsnn_round_trip_through_a_file_is_exact(tmp_path):
    torch.manual_seed(0)
    m = _trained_bn(ConvSNN(image_size=8, channels=(4, 8), hidden=16, T=3), torch.rand(16, 1, 8, 8))
    g = to_nir(m, (1, 8, 8))
    assert g.metadata["spikeforge.readout"] == "mean_over_time"
    assert not any("BatchNorm" in type(n).__name__ for n in g.nodes.values())
    nir.write(tmp_path / "convsnn.nir", g)
    net = from_nir(tmp_path / "convsnn.nir")
    assert isinstance(net, NIRNetwork) and net.readout == "mean_over_time" and net.dt == 1e-3
    x = torch.rand(6, 1, 8, 8)
    with torch.no_grad():
        ref = m(x)
        seq = net(repeat_in_time(x, 3))
    assert seq.shape == (3, 6, 10)
    assert torch.equal(seq.mean(0), ref)
    # the imported LIF layers carry the exact spec (strict ">" comparison, rect surrogate)
    lifs = [mod for mod in net.modules() if isinstance(mod, LIF)]
    assert len(lifs) == 3 and all(lif.spec == m.stem_act.spec for lif in lifs)


def test_model_is_not_modified_by_export():
    torch.manual_seed(0)
    m = _trained_bn(ConvSNN(image_size=8, channels=(4,), T=2), torch.rand(8, 1, 8, 8)).train()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    to_nir(m, (1, 8, 8))
    assert m.training and all(torch.equal(before[k], v) for k, v in m.state_dict().items())


def test_resnet19_residual_sums_round_trip():
    torch.manual_seed(1)
    r = SpikingResNet19(num_classes=10, T=1).eval()
    g = to_nir(r, (3, 32, 32))
    # every block's output neuron sums two edges (residual branch + shortcut)
    fan_in = {}
    for _a, b in g.edges:
        fan_in[b] = fan_in.get(b, 0) + 1
    assert sum(1 for k, v in fan_in.items() if k.endswith("act_out") and v == 2) == 8
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(from_nir(g)(repeat_in_time(x, 1)).mean(0), r(x))


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(SeqToANN(nn.Linear(4, 4)), LIF(tau=2.0))
        self.act = LIF(tau=3.0)

    def forward(self, x):
        return self.act(self.body(x) + x)


def test_register_exporter_for_a_custom_module():
    @register_nir_exporter(_Block)
    def _(builder, block, src, name):
        h = builder.emit(block.body, src, f"{name}.body")
        return builder.emit(block.act, builder.sum(h, src), f"{name}.act")

    torch.manual_seed(2)
    model = nn.Sequential(SeqToANN(nn.Linear(3, 4)), LIF(tau=2.0), _Block())
    g = to_nir(model, (3,))
    assert sorted(a for a, b in g.edges if b == "2.act") == ["1", "2.body.1"]
    x = torch.rand(8, 5, 3) * 3
    with torch.no_grad():
        assert torch.equal(from_nir(g)(x), model(x))


def test_converted_snn_soft_reset_and_v0_warn_and_round_trip():
    torch.manual_seed(4)
    ann = nn.Sequential(nn.Linear(5, 7), QCFS(4, lam=1.5), nn.Linear(7, 3)).eval()
    snn = convert(ann, None, "qcfs")  # soft reset, v0 = ½
    with pytest.warns(UserWarning) as rec:
        g = to_nir(snn, (5,))
    text = " ".join(str(w.message) for w in rec)
    assert "soft" in text and "v0" in text
    node = g.nodes["1.if"]
    assert isinstance(node, nir.IF) and np.all(node.v_reset == 0)  # what other tools see: a hard reset
    np.testing.assert_allclose(g.nodes["1.in_scale"].scale, 1 / 1.5, rtol=1e-6)
    x = repeat_in_time(torch.randn(32, 5), 4)
    with torch.no_grad():
        assert torch.allclose(from_nir(g)(x), snn(x), atol=1e-6)


def test_edited_parameters_override_the_stored_spec():
    model = nn.Sequential(SeqToANN(nn.Linear(2, 2)), LIF(tau=2.0, v_th=1.0))
    g = to_nir(model, (2,))
    g.nodes["1"].v_threshold = np.full(2, 0.25)  # edited in another tool
    with pytest.warns(UserWarning, match="differ from the stored spikeforge spec"):
        net = from_nir(g)
    lif = next(m for m in net.modules() if isinstance(m, LIF))
    assert lif.v_th == 0.25


def test_sum_pool_and_flatten_import():
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([1, 4, 4])}),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([1, 2, 2])}, start_dim=0, end_dim=-1),
        "output": nir.Output(output_type={"output": np.array([4])}),
    }, edges=[("input", "pool"), ("pool", "flat"), ("flat", "output")])
    x = torch.ones(2, 3, 1, 4, 4)
    out = from_nir(g)(x)
    assert out.shape == (2, 3, 4) and torch.all(out == 4.0)


# ---------------------------------------------------------------------------- errors
def test_export_errors_name_the_problem():
    with pytest.raises(TypeError, match="MaxPool2d.*average pooling"):
        to_nir(nn.Sequential(SeqToANN(nn.MaxPool2d(2)), LIF()), (1, 4, 4))
    with pytest.raises(TypeError, match="ReLU.*convert"):
        to_nir(nn.Sequential(SeqToANN(nn.Linear(2, 2), nn.ReLU())), (2,))
    with pytest.raises(TypeError, match="no NIR export for GRU"):
        to_nir(nn.Sequential(nn.GRU(2, 2)), (2,))
    with pytest.raises(ValueError, match="input_shape"):
        to_nir(nn.Sequential(LIF()), ())
    with pytest.raises(ValueError, match="dt"):
        to_nir(nn.Sequential(LIF()), (2,), dt=0.0)
    with pytest.raises(ValueError, match="Linear expects 3"):
        to_nir(nn.Sequential(SeqToANN(nn.Linear(3, 2))), (2,))
    with pytest.raises(TypeError, match="nn.Module"):
        to_nir("model", (2,))


def test_import_errors_name_the_problem():
    inp = nir.Input(input_type={"input": np.array([2])})
    out = nir.Output(output_type={"output": np.array([2])})
    w = nir.Linear(weight=np.eye(2, dtype=np.float32))
    lif = nir.LIF(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2), v_reset=np.zeros(2))
    cyc = nir.NIRGraph(nodes={"input": inp, "w": w, "lif": lif, "output": out},
                       edges=[("input", "w"), ("w", "lif"), ("lif", "w"), ("lif", "output")], type_check=False)
    with pytest.raises(NotImplementedError, match="cycle"):
        from_nir(cyc)
    short = nir.NIRGraph(nodes={"input": inp, "lif": lif, "output": out}, edges=[("input", "lif"), ("lif", "output")])
    with pytest.raises(ValueError, match="shorter than dt"):
        from_nir(short, dt=2e-3)
    net = from_nir(short, dt=1e-3)
    with pytest.raises(ValueError, match=r"\[T, B, 2\]"):
        net(torch.zeros(3, 1, 5))
    with pytest.raises(TypeError, match="NIRGraph"):
        from_nir(42)
    delay = nir.NIRGraph(nodes={"input": inp, "d": nir.Delay(delay=np.ones(2)), "output": out},
                         edges=[("input", "d"), ("d", "output")])
    with pytest.raises(NotImplementedError, match="Delay"):
        from_nir(delay)


def test_no_warning_for_exactly_representable_networks():
    model = nn.Sequential(SeqToANN(nn.Linear(2, 3)), LIF(decay=0.5, decay_input=False, v_reset=0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        to_nir(model, (2,))


# ---------------------------------------------------------------------------- review findings (regressions)
def test_converted_snn_divides_by_lambda_exactly():
    # x·float32(1/λ) ≠ x/λ for some λ (about 15 % of float32 values): x = λ then gives 0.99999994 and misses the
    # spike at the threshold. The exporter keeps λ in the in_scale node's metadata and the importer divides.
    lam = np.float32(1.4099537)
    assert lam * (np.float32(1) / lam) < 1  # this λ has an inexact reciprocal
    ann = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False)).eval()
    with torch.no_grad():
        ann[0].weight.copy_(torch.eye(2))
        ann[2].weight.fill_(1.0)
    snn = convert(ann, None, "max", reset="hard", v0=0.0, scales={"1": torch.tensor(float(lam))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = to_nir(snn, (2,))
    assert "spikeforge.divide_by" in g.nodes["1.in_scale"].metadata
    x = repeat_in_time(torch.tensor([[float(lam), 0.5]]), 3)
    net = from_nir(g)
    with torch.no_grad():
        ref = snn(x)
        assert ref[0, 0, 0] == float(lam)  # the neuron at the threshold spikes at the first step
        assert torch.equal(net(x), ref)
        net.module("1.in_scale").divide = False  # what multiplying by float32(1/λ) gives
        assert not torch.equal(net(x), ref)


def test_edited_scale_ignores_the_stored_divisor():
    from spikeforge.interop._nir import _Scale
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    snn = convert(ann, torch.rand(8, 3), "max", reset="hard")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = to_nir(snn, (3,))
    g.nodes["1.in_scale"].scale = g.nodes["1.in_scale"].scale * 2  # edited in another tool
    net = from_nir(g)
    sc = net.module("1.in_scale")
    assert isinstance(sc, _Scale) and not sc.divide


@pytest.mark.parametrize("dt", [1e-3, 1e-4, 3e-5])
def test_tau_equal_to_dt_imports_at_any_dt(dt):
    # LIF(tau=1) (decay 0: no memory) exports τ = dt, stored as float32; import must accept it at any dt
    model = nn.Sequential(SeqToANN(nn.Linear(3, 4)), LIF(tau=1.0), SeqToANN(nn.Linear(4, 2)),
                          LIF(decay=0.0, decay_input=False))
    g = to_nir(model, (3,), dt=dt)
    for name in ("1", "3"):
        g.nodes[name].metadata.clear()  # force the NIR-parameter path
    x = torch.rand(6, 5, 3) * 3
    with torch.no_grad():
        assert torch.equal(from_nir(g, dt=dt)(x), model(x))
    lif = nir.LIF(tau=np.full(2, dt, dtype=np.float32), r=np.ones(2), v_leak=np.zeros(2),
                  v_threshold=np.ones(2), v_reset=np.zeros(2))
    cuba = nir.CubaLIF(tau_syn=np.full(2, dt, dtype=np.float32), tau_mem=np.full(2, 2 * dt), r=np.ones(2),
                       v_leak=np.zeros(2), v_threshold=np.ones(2), v_reset=np.zeros(2), w_in=np.ones(2))
    for node in (lif, cuba):
        g2 = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([2])}), "n": node,
                                 "output": nir.Output(output_type={"output": np.array([2])})},
                          edges=[("input", "n"), ("n", "output")], type_check=False)
        from_nir(g2, dt=dt)(torch.rand(4, 1, 2))  # no "shorter than dt" error


def test_foreign_flatten_with_negative_start_dim():
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([2, 3, 4])}),
        "flat": nir.Flatten(input_type={"input": np.array([2, 3, 4])}, start_dim=-2, end_dim=-1),
        "output": nir.Output(output_type={"output": np.array([2, 12])}),
    }, edges=[("input", "flat"), ("flat", "output")])
    x = torch.rand(3, 5, 2, 3, 4)
    out = from_nir(g)(x)
    assert out.shape == (3, 5, 2, 12) and torch.equal(out, x.flatten(-2))


def test_grouped_conv_round_trip_through_a_file(tmp_path):
    torch.manual_seed(1)
    model = nn.Sequential(SeqToANN(nn.Conv2d(4, 8, 3, padding=1, groups=4)), LIF(tau=2.0),
                          SeqToANN(nn.Conv2d(8, 8, 3, padding=1, groups=8)), LIF(tau=2.0))
    g = to_nir(model, (4, 6, 6))
    path = tmp_path / "grouped.nir"
    nir.write(path, g)
    x = torch.rand(4, 2, 4, 6, 6) * 2
    with torch.no_grad():
        assert torch.equal(from_nir(path)(x), model(x))


def test_adaptive_avg_pool_with_a_free_axis():
    model = nn.Sequential(SeqToANN(nn.AdaptiveAvgPool2d((2, None))), LIF(tau=2.0))
    g = to_nir(model, (1, 4, 6))
    assert tuple(g.nodes["0.0"].kernel_size) == (2, 1)
    x = torch.rand(3, 2, 1, 4, 6) * 3
    with torch.no_grad():
        assert torch.equal(from_nir(g)(x), model(x))


def test_node_names_that_collide_as_module_keys_stay_distinct():
    inp = nir.Input(input_type={"input": np.array([2])})
    a = nir.Scale(scale=np.array([2.0, 2.0], dtype=np.float32))
    b = nir.Scale(scale=np.array([3.0, 3.0], dtype=np.float32))
    g = nir.NIRGraph(nodes={"input": inp, "a.b": a, "a__b": b, "output": nir.Output(output_type={"output": np.array([2])})},
                     edges=[("input", "a.b"), ("a.b", "a__b"), ("a__b", "output")])
    net = from_nir(g)
    assert len(net.node_modules) == 4
    assert net.module("a.b") is not net.module("a__b")
    assert torch.equal(net(torch.ones(1, 1, 2)), torch.full((1, 1, 2), 6.0))


@pytest.mark.parametrize("layer", [IF(v_reset=-0.5), LIF(decay=0.8, decay_input=False, v_reset=0.3)])
def test_start_at_v_reset_warns_and_round_trips(layer):
    model = nn.Sequential(SeqToANN(nn.Linear(2, 3)), layer)
    with pytest.warns(UserWarning, match="starts at v_reset"):
        g = to_nir(model, (2,))
    x = torch.rand(5, 4, 2) * 2
    with torch.no_grad():
        assert torch.equal(from_nir(g)(x), model(x))


def test_bare_flatten_in_a_multistep_sequential():
    torch.manual_seed(2)
    # nn.Flatten(2) called on [T, B, C, H, W] flattens one sample's C, H, W
    model = nn.Sequential(SeqToANN(nn.Conv2d(1, 2, 3)), LIF(tau=2.0), nn.Flatten(2), SeqToANN(nn.Linear(8, 3)), LIF())
    g = to_nir(model, (1, 4, 4))
    x = torch.rand(4, 3, 1, 4, 4) * 3
    with torch.no_grad():
        assert torch.equal(from_nir(g)(x), model(x))
    with pytest.raises(ValueError, match="time and batch"):
        to_nir(nn.Sequential(SeqToANN(nn.Conv2d(1, 2, 3)), LIF(), nn.Flatten()), (1, 4, 4))


def test_float64_input_gets_a_clear_error():
    model = nn.Sequential(SeqToANN(nn.Linear(2, 3)), LIF())
    net = from_nir(to_nir(model, (2,)))
    with pytest.raises(TypeError, match="float64.*float32"):
        net(torch.zeros(2, 1, 2, dtype=torch.float64))


def test_conv1d_round_trip_through_a_file(tmp_path):
    torch.manual_seed(3)
    model = nn.Sequential(SeqToANN(nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=1)), LIF(tau=2.0),
                          SeqToANN(nn.Conv1d(4, 4, 3, padding=2, dilation=2, groups=2)), LIF(tau=2.0))
    g = to_nir(model, (2, 11))
    assert isinstance(g.nodes["0.0"], nir.Conv1d)
    nir.write(tmp_path / "c1.nir", g)
    x = torch.rand(5, 3, 2, 11) * 2
    with torch.no_grad():
        assert torch.equal(from_nir(tmp_path / "c1.nir")(x), model(x))


def test_input_shape_with_a_batch_axis_is_named():
    from spikeforge.nn import ConvSNN

    with pytest.raises(ValueError, match="no batch or time axis"):
        to_nir(ConvSNN(image_size=28), input_shape=(4, 1, 28, 28))

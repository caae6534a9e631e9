"""torch.compile: the fused LIF runs as custom operators, traces without graph breaks, and gives
the eager results (spikes, final state, gradients)."""

import dataclasses
import shutil

import pytest
import torch

import spikeforge.nn as sfnn
from spikeforge.nn import _cpu_kernel
from spikeforge.nn.functional import LIFSpec, _spec_from_key, _spec_key, lif_multi_step
from spikeforge.nn.surrogate import Surrogate

HAVE_KERNEL = _cpu_kernel.load(torch.float32) is not None
SPECS = [
    LIFSpec(),
    LIFSpec(charge="decay", decay=0.8, reset="soft_delayed", detach_reset=True),
    LIFSpec(reset="soft", surrogate=("sigmoid", 4.0), spike_compare=">", v_th=0.7),
    LIFSpec(charge="tau", tau=3.0, decay_input=False, v_reset=-0.2),
    LIFSpec(charge="if", reset="none", surrogate=Surrogate("atan", 2.0, spiking=False)),
]


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _run(fn, x, v0, w):
    x = x.detach().clone().requires_grad_(True)
    v0 = None if v0 is None else v0.detach().clone().requires_grad_(True)
    s, vT = fn(x, v0)
    ((s * w).sum() + (vT * vT).sum()).backward()
    return s.detach(), vT.detach(), x.grad, None if v0 is None else v0.grad


def test_spec_key_round_trips_exactly():
    for spec in SPECS + [LIFSpec(tau=1.0 + 1e-15, v_th=0.1 + 0.2)]:
        assert _spec_from_key(_spec_key(spec)) == spec


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.charge}-{s.reset}-{s.surrogate.name}")
@pytest.mark.parametrize("backend", ["auto", "torch"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_matches_eager(spec, backend, dtype):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(7, 3, 5, generator=gen, dtype=dtype) * 1.5
    w = torch.randn(x.shape, generator=gen, dtype=dtype)
    v0 = torch.randn(3, 5, generator=gen, dtype=dtype) * 0.5 if spec.reset != "hard" else None

    def f(x, v0):
        return lif_multi_step(x, v0, spec, backend=backend)

    eager = _run(f, x, v0, w)
    compiled = _run(torch.compile(f, backend="aot_eager", fullgraph=True), x, v0, w)
    for a, b in zip(eager, compiled):
        if a is None:
            assert b is None
        else:
            torch.testing.assert_close(b, a, rtol=0, atol=0)
    assert eager[0].sum() > 0  # the case spikes at all


def test_layer_stack_traces_into_one_graph_with_the_fused_operator():
    net = torch.nn.Sequential(torch.nn.Linear(12, 10), sfnn.LIF(tau=2.0, step_mode="m"),
                              torch.nn.Linear(10, 4), sfnn.IF(step_mode="m"))
    expl = torch._dynamo.explain(net)(torch.randn(6, 2, 12))
    assert expl.graph_break_count == 0 and expl.graph_count == 1
    targets = [str(n.target) for n in expl.graphs[0].graph.nodes if n.op == "call_function"]
    assert sum("spikeforge.lif_forward" in t for t in targets) == 2


def test_single_step_state_under_compile():
    layer = sfnn.LIF(tau=2.0, step_mode="s")
    gen = torch.Generator().manual_seed(3)
    xs = torch.randn(5, 4, 6, generator=gen) * 1.5
    eager = [layer(x) for x in xs]
    layer.reset_state()
    step = torch.compile(layer, backend="aot_eager")
    compiled = [step(x) for x in xs]
    for a, b in zip(eager, compiled):
        torch.testing.assert_close(b, a, rtol=0, atol=0)


def test_bad_input_still_raises_under_compile():
    spec = LIFSpec()  # specs are built outside the compiled function (as layers do)
    f = torch.compile(lambda x: lif_multi_step(x, None, spec), backend="aot_eager")
    x = torch.zeros(3, 2, 4)
    x[1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        f(x)
    with pytest.raises(ValueError, match="backend must be one of"):
        torch.compile(lambda x: lif_multi_step(x, None, spec, backend="cuda"), backend="aot_eager")(x)


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_operators_pass_opcheck(backend):
    """Schema, fake (shape) functions and the autograd registration, checked by torch itself."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(5, 3, 4, generator=gen, requires_grad=True)
    v0 = torch.randn(3, 4, generator=gen, requires_grad=True)
    key = LIFSpec(reset="soft")._key
    assert key == _spec_key(LIFSpec(reset="soft"))
    torch.library.opcheck(torch.ops.spikeforge.lif_forward.default, (x, v0, key, backend, True),
                          test_utils=("test_schema", "test_faketensor", "test_autograd_registration"))


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None, reason="inductor needs a C++ compiler")
def test_inductor_training_step_matches_eager():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 12), sfnn.LIF(tau=2.0, step_mode="m"), torch.nn.Linear(12, 3))
    x = torch.randn(6, 4, 16)
    y_e = net(x)
    g_e = torch.autograd.grad(y_e.square().sum(), list(net.parameters()))
    compiled = torch.compile(net, fullgraph=True)
    y_c = compiled(x)
    g_c = torch.autograd.grad(y_c.square().sum(), list(net.parameters()))
    torch.testing.assert_close(y_c, y_e, rtol=1e-5, atol=1e-5)
    for a, b in zip(g_e, g_c):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


def test_torch_export_keeps_the_fused_operator():
    net = torch.nn.Sequential(torch.nn.Linear(12, 10), sfnn.LIF(tau=2.0, step_mode="m"), torch.nn.Linear(10, 4))
    x = torch.randn(6, 2, 12)
    ep = torch.export.export(net, (x,))
    assert any("spikeforge.lif_forward" in str(n.target) for n in ep.graph.nodes)
    torch.testing.assert_close(ep.module()(x), net(x), rtol=0, atol=0)


def test_permuted_input_gives_contiguous_outputs_as_the_fake_says():
    """The torch path keeps a permuted input's layout; the operators return contiguous tensors."""
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(4, 5, 3, generator=gen).permute(0, 2, 1).requires_grad_(True)  # [T, 3, 5], not contiguous
    key = LIFSpec(reset="soft")._key
    for backend in ("torch", "auto"):
        torch.library.opcheck(torch.ops.spikeforge.lif_forward.default, (x, None, key, backend, True),
                              test_utils=("test_schema", "test_faketensor", "test_autograd_registration"))


def test_spec_built_inside_the_compiled_function():
    base = LIFSpec(tau=2.0)

    def f(x):
        return lif_multi_step(x, None, dataclasses.replace(base, v_th=0.8))[0]

    x = torch.randn(5, 2, 3) * 2
    torch.testing.assert_close(torch.compile(f, backend="aot_eager")(x), f(x), rtol=0, atol=0)


def test_equal_specs_share_one_compiled_graph():
    calls = []

    def counting_backend(gm, example_inputs):
        calls.append(gm)
        return gm.forward

    @torch.compile(backend=counting_backend)
    def f(x, spec):
        return lif_multi_step(x, None, spec)[0]

    x = torch.randn(5, 2, 3)
    for _ in range(4):
        f(x, LIFSpec(tau=3.0))  # a fresh but equal spec each call
    assert len(calls) == 1
    f(x, LIFSpec(tau=4.0))  # a different spec is a different graph
    assert len(calls) == 2


def test_the_graph_names_the_resolved_backend():
    net = sfnn.LIF(tau=2.0, step_mode="m")
    expl = torch._dynamo.explain(net)(torch.randn(4, 2, 3))
    ops = [n for n in expl.graphs[0].graph.nodes if "spikeforge.lif_forward" in str(n.target)]
    assert len(ops) == 1
    assert ops[0].args[3] == ("cpu" if HAVE_KERNEL else "torch")  # "auto" is resolved when tracing


def test_double_backward_raises_instead_of_a_wrong_answer():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    spec = LIFSpec(surrogate=Surrogate("atan", 2.0, spiking=False))
    for backend in ("torch", "auto"):
        s, _ = lif_multi_step(x, None, spec, backend=backend)
        with pytest.raises(RuntimeError, match="double backward"):  # raised as soon as a graph is asked for
            torch.autograd.grad(s.sum(), x, create_graph=True)


@pytest.mark.parametrize("make", [
    lambda: sfnn.PLIF(2.0), lambda: sfnn.ALIF(), lambda: sfnn.CubaLIF(alpha=0.5), lambda: sfnn.Izhikevich(),
    lambda: sfnn.RecurrentLIF(4, 3),
], ids=["PLIF", "ALIF", "CubaLIF", "Izhikevich", "RecurrentLIF"])
def test_torch_only_layers_compile_fullgraph_with_the_default_nan_check(make):
    layer = make()
    x = torch.randn(6, 2, 4, generator=torch.Generator().manual_seed(0))
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
    assert torch.equal(compiled(x), layer(x))
    with pytest.raises(ValueError, match="NaN"):  # eager calls still check
        layer(torch.full((2, 1, 4), float("nan")))

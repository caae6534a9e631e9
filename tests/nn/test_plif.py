"""Parametric LIF: equal to LIF at its initial τ, gradients reach w (checked numerically on a smooth
surrogate), τ is learned, per-channel τ, state handling and argument checks."""

import dataclasses

import pytest
import torch

from spikeforge.nn import ALIF, LIF, PLIF, Izhikevich, _cpu_kernel, reset_states
from spikeforge.nn.functional import (
    LIFSpec,
    lif_multi_step_reference,
    plif_multi_step,
    plif_tau,
    plif_w,
)
from spikeforge.nn.surrogate import Surrogate

HAVE_KERNEL = _cpu_kernel.load(torch.float64) is not None


@pytest.mark.parametrize("kwargs", [dict(), dict(decay_input=False), dict(v_reset=None), dict(reset="soft_delayed",
                                                                                             v_reset=None),
                                    dict(v_reset=-0.2, detach_reset=True)])
def test_plif_at_its_initial_tau_equals_lif(kwargs):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(12, 3, 5, generator=g, dtype=torch.float64) + 0.5).requires_grad_()
    plif, lif = PLIF(3.0, **kwargs).double(), LIF(3.0, backend="reference", **kwargs)
    s1 = plif(x)
    s2 = lif(x)
    torch.testing.assert_close(s1, s2)
    assert s1.sum() > 0
    g1, = torch.autograd.grad((s1 * torch.arange(5.0, dtype=torch.float64)).sum(), x)
    g2, = torch.autograd.grad((s2 * torch.arange(5.0, dtype=torch.float64)).sum(), x)
    torch.testing.assert_close(g1, g2)
    assert float(plif.tau) == pytest.approx(3.0)


def test_gradient_reaches_w_and_matches_finite_differences_on_a_smooth_surrogate():
    # with a non-spiking (smooth) surrogate the whole map is differentiable, so gradcheck applies to w
    spec = LIFSpec(tau=2.5, surrogate=Surrogate("sigmoid", 4.0, spiking=False), reset="soft")
    x = torch.randn(8, 2, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    w = torch.tensor([0.3, -0.4, 0.9], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w_: plif_multi_step(x, w_, None, spec)[0].sum(), (w,))
    # and at w = plif_w(τ) the smooth PLIF equals the reference LIF with that τ
    w0 = torch.full((3,), plif_w(2.5), dtype=torch.float64)
    torch.testing.assert_close(plif_multi_step(x, w0, None, spec)[0], lif_multi_step_reference(x, None, spec)[0])


def test_tau_is_learned():
    # H = V − V/τ + X: a constant input 0.6 settles at 0.6·τ, so it reaches the threshold 1 only for τ > 5/3.
    # Trained to fire at rate 0.5 from τ = 1.5 (silent), the layer must lengthen its time constant.
    torch.manual_seed(0)
    layer = PLIF(1.5, decay_input=False, v_reset=None, reset="soft")
    x = torch.full((20, 4, 1), 0.6)
    assert float(layer(x).detach().sum()) == 0.0
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)
    for _ in range(40):
        loss = (layer(x).mean() - 0.5) ** 2
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(layer.tau) > 5 / 3 and float(layer(x).detach().mean()) > 0.2


def test_per_channel_tau_and_single_step_mode():
    layer = PLIF(2.0, shape=(3, 1, 1))
    with torch.no_grad():
        layer.w.copy_(torch.tensor([plif_w(1.5), plif_w(2.0), plif_w(8.0)]).reshape(3, 1, 1))
    torch.testing.assert_close(layer.tau.flatten(), torch.tensor([1.5, 2.0, 8.0]))
    x = torch.rand(6, 2, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    multi = layer(x)
    for c, tau in enumerate((1.5, 2.0, 8.0)):
        torch.testing.assert_close(multi[:, :, c], LIF(tau, backend="reference")(x[:, :, c]))
    single = PLIF(2.0, shape=(3, 1, 1), step_mode="s")
    single.load_state_dict(layer.state_dict())
    steps = torch.stack([single(x[t]) for t in range(6)])
    torch.testing.assert_close(steps, multi)
    reset_states(single)
    assert single.v is None
    assert "w" in dict(layer.named_parameters()) and "learned" in repr(layer)


def test_bad_arguments():
    for tau in (1.0, 0.5, float("inf"), True):
        with pytest.raises(ValueError, match="tau must be"):
            PLIF(tau)
    with pytest.raises(ValueError, match="does not broadcast"):
        PLIF(2.0, shape=(5,))(torch.zeros(3, 2, 4))
    with pytest.raises(ValueError, match="spec.charge must be 'tau'"):
        plif_multi_step(torch.zeros(3, 2), torch.tensor(0.0), None, dataclasses.replace(LIFSpec(), charge="decay"))
    with pytest.raises(ValueError, match="NaN"):
        PLIF()(torch.full((2, 1, 1), float("nan")))
    assert float(plif_tau(torch.tensor(plif_w(4.0)))) == pytest.approx(4.0)


def test_nir_export_freezes_the_learned_tau():
    pytest.importorskip("nir")
    from torch import nn

    from spikeforge.interop import from_nir, to_nir
    from spikeforge.nn import repeat_in_time

    torch.manual_seed(0)
    layer = PLIF(2.0)
    with torch.no_grad():
        layer.w.fill_(plif_w(3.7))
    net = nn.Sequential(nn.Linear(4, 3), layer)
    back = from_nir(to_nir(net, (4,)))
    lif = [m for m in back.modules() if isinstance(m, LIF)]
    assert len(lif) == 1 and lif[0].tau == pytest.approx(3.7, rel=1e-6)
    x = repeat_in_time(torch.rand(5, 4), 6)
    with torch.no_grad():
        torch.testing.assert_close(back(x), net(x))
    # one τ per neuron: exported as a LIF node with a τ array, reimported as the same PLIF
    per_neuron = nn.Sequential(nn.Linear(4, 3), PLIF(2.0, shape=(3,)))
    with torch.no_grad():
        per_neuron[1].w.copy_(torch.tensor([plif_w(1.5), plif_w(2.5), plif_w(6.0)]))
    back = from_nir(to_nir(per_neuron, (4,)))
    assert isinstance(back.module("1"), PLIF)
    with torch.no_grad():
        torch.testing.assert_close(back(x), per_neuron(x))


def test_review_fixes():
    import numpy as np

    # w must fit one step: a w that would grow the output is refused
    with pytest.raises(ValueError, match="does not broadcast"):
        plif_multi_step(torch.rand(4, 3, 5), torch.zeros(2, 1, 1))
    # float64 input: τ in float64 too (equal to the float64 LIF reference to rounding)
    x = torch.rand(30, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 2
    spec = LIFSpec(tau=3.0)
    v1 = plif_multi_step(x, torch.tensor(plif_w(3.0), dtype=torch.float64), None, spec)[1]
    v2 = lif_multi_step_reference(x, None, spec)[1]
    torch.testing.assert_close(v1, v2, atol=1e-12, rtol=0)
    # NumPy scalars, backend and from_spec as for LIF
    assert float(PLIF(np.float32(2.5)).tau) == pytest.approx(2.5)
    assert PLIF(backend="torch").backend == "torch" and PLIF(backend="cpu").backend == "cpu"
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        PLIF(backend="triton")(torch.rand(3, 2, 4))  # the opt-in Triton kernel: CUDA only
    with pytest.raises(ValueError, match="backend must be one of"):
        PLIF(backend="gpu")
    layer = PLIF.from_spec(LIFSpec(tau=4.0, v_th=0.7), shape=(3,))
    assert layer.v_th == 0.7 and torch.allclose(layer.tau, torch.full((3,), 4.0))
    with pytest.raises(TypeError, match="from_spec takes only"):
        PLIF.from_spec(LIFSpec(), tau=2.0)
    # count_synops sees PLIF as a spiking layer (time first, spikes into the next layer)
    from torch import nn

    from spikeforge.nn import count_synops

    report = count_synops(nn.Sequential(nn.Linear(10, 6), PLIF(), nn.Linear(6, 4), PLIF()), torch.rand(8, 3, 10))
    assert report.T == 8 and [r.source for r in report.rows] == ["analog", "spikes"]


# ---------------------------------------------------------------------------- the fused path against the reference loop
RESETS = [dict(), dict(decay_input=False), dict(v_reset=None), dict(reset="soft_delayed", v_reset=None),
          dict(v_reset=-0.2, detach_reset=True), dict(reset="none", v_reset=None),
          dict(v_reset=None, detach_reset=True, decay_input=False)]


@pytest.mark.parametrize("kwargs", RESETS)
@pytest.mark.parametrize("w_shape", [(), (4, 1), (3, 4, 1)])
@pytest.mark.parametrize("with_v0", [False, True])
def test_fused_equals_the_reference_loop_spikes_and_gradients(kwargs, w_shape, with_v0):
    g = torch.Generator().manual_seed(7)
    spec = PLIF(2.0, **kwargs).spec  # the layer's reading of the arguments (v_reset=None: soft reset)
    x = (torch.randn(10, 3, 4, 5, generator=g, dtype=torch.float64) * 0.8 + 0.4)
    w = (torch.randn(w_shape, generator=g, dtype=torch.float64) if w_shape else torch.tensor(0.3, dtype=torch.float64))
    v0 = torch.rand(3, 4, 5, generator=g, dtype=torch.float64) * 0.5 if with_v0 else None
    gs_w = torch.randn(10, 3, 4, 5, generator=g, dtype=torch.float64)
    gv_w = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
    outs = []
    backends = ("reference", "torch", "cpu") if HAVE_KERNEL else ("reference", "torch")
    for backend in backends:
        xx, ww = x.clone().requires_grad_(), w.clone().requires_grad_()
        vv = None if v0 is None else v0.clone().requires_grad_()
        s, vT = plif_multi_step(xx, ww, vv, spec, backend=backend)
        ((s * gs_w).sum() + (vT * gv_w).sum()).backward()
        outs.append((s.detach(), vT.detach(), xx.grad, ww.grad, None if vv is None else vv.grad))
    ref = outs[0]
    assert ref[0].sum() > 0
    for fused in outs[1:]:
        for a, b in zip(ref, fused):
            if a is None:
                assert b is None
            else:
                torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)


def test_fused_smooth_mode_passes_gradcheck_for_w_x_and_v0():
    spec = LIFSpec(tau=2.5, surrogate=Surrogate("sigmoid", 4.0, spiking=False), reset="soft_delayed")
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 2, 3, generator=g, dtype=torch.float64).requires_grad_()
    w = torch.randn(3, generator=g, dtype=torch.float64).requires_grad_()
    v0 = torch.rand(2, 3, generator=g, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b, c: plif_multi_step(a, b, c, spec, backend="torch"), (x, w, v0))


@pytest.mark.skipif(not HAVE_KERNEL, reason="no C++ compiler for the CPU kernel")
@pytest.mark.parametrize("reset", ["hard", "soft", "none", "soft_delayed"])
@pytest.mark.parametrize("decay_input", [True, False])
def test_cpu_kernel_smooth_mode_passes_gradcheck_for_w_x_and_v0(reset, decay_input):
    if _cpu_kernel.load(torch.float64, True) is None:
        pytest.skip("the smooth test build of the kernel did not compile")
    spec = LIFSpec(tau=2.5, surrogate=Surrogate("sigmoid", 4.0, spiking=False), reset=reset, decay_input=decay_input,
                   v_reset=0.1 if reset == "hard" else 0.0)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 2, 3, generator=g, dtype=torch.float64).requires_grad_()
    v0 = torch.rand(2, 3, generator=g, dtype=torch.float64).requires_grad_()
    for w in (torch.tensor(0.4, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)):
        w.requires_grad_()
        assert torch.autograd.gradcheck(lambda a, b, c: plif_multi_step(a, b, c, spec, backend="cpu"), (x, w, v0))


@pytest.mark.skipif(not HAVE_KERNEL, reason="no C++ compiler for the CPU kernel")
def test_cpu_kernel_float32_equals_the_reference_and_auto_picks_it():
    g = torch.Generator().manual_seed(11)
    x = torch.randn(40, 16, 256, generator=g) * 0.7 + 0.45  # enough neuron-steps for several threads
    spec = PLIF(3.0).spec
    res = {}
    for backend in ("reference", "cpu", "auto"):
        xx, ww = x.clone().requires_grad_(), torch.tensor(plif_w(3.0)).requires_grad_()
        s, vT = plif_multi_step(xx, ww, None, spec, backend=backend)
        (s.sum() + vT.square().sum()).backward()  # a broadcast dL/dS (read as one scalar by the kernel)
        res[backend] = (s, vT, xx.grad, ww.grad)
    for backend in ("cpu", "auto"):
        assert torch.equal(res[backend][0], res["reference"][0])
        for a, b in zip(res[backend][1:], res["reference"][1:]):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    from spikeforge.nn import functional as F

    assert F._kernel_fits(x, spec, "auto", "PLIF")
    assert F._kernel_fits(x, spec, "cpu", "PLIF")
    assert not F._kernel_fits(x.half(), spec, "auto", "PLIF")
    custom = dataclasses.replace(spec, surrogate=Surrogate.custom(lambda v: torch.sigmoid(v) * (1 - torch.sigmoid(v))))
    assert not F._kernel_fits(x, custom, "auto", "PLIF")
    with pytest.raises(ValueError, match="backend 'cpu' runs PLIF with a built-in surrogate"):
        plif_multi_step(x, torch.tensor(0.5), None, custom, backend="cpu")
    with pytest.raises(ValueError, match="backend 'cpu' runs PLIF with a built-in surrogate"):
        plif_multi_step(x.half(), torch.tensor(0.5), None, spec, backend="cpu")
    with pytest.raises(ValueError, match="NaN"):
        plif_multi_step(torch.full((2, 1, 1), float("nan")), torch.tensor(0.0), None, spec, backend="cpu")


def test_layer_backend_choice_and_errors():
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(PLIF(2.0, backend="reference")(x), PLIF(2.0)(x))
    with pytest.raises(ValueError, match="backend"):
        plif_multi_step(x, torch.tensor(0.0), None, LIFSpec(), backend="triton")
    for backend in ("auto", "torch", "reference"):
        with pytest.raises(ValueError, match="NaN"):
            plif_multi_step(torch.full((2, 1, 1), float("nan")), torch.tensor(0.0), None, LIFSpec(), backend=backend)


@pytest.mark.parametrize("backend", ["auto", "torch", "reference"])
@pytest.mark.parametrize("reset", ["hard", "none", "soft_delayed"])
def test_in_place_ops_on_outputs_and_state_are_allowed(backend, reset):
    # review 2026-12-07: the fused node saved its spike output (an in-place dropout broke backward) and
    # returned V_T as a view of its saved H (an in-place edit of the state raised; the view kept [T, ...] alive)
    kw = {"reset": reset} if reset == "hard" else {"reset": reset, "v_reset": None}
    layer = PLIF(2.0, backend=backend, return_state=True, **kw)
    x = (torch.randn(30, 4, 8, generator=torch.Generator().manual_seed(0)) * 2).requires_grad_()
    s, v = layer(x)
    torch.nn.Dropout(0.5, inplace=True).train()(s)
    v.mul_(0.5)
    (s.sum() + v.sum()).backward()
    assert x.grad is not None and layer.w.grad is not None
    assert v.untyped_storage().nbytes() == v.numel() * v.element_size()


# review 2026-12-07 (stop 21): an empty batch reached the PLIF kernel with a NULL k array ("unsupported kernel
# mode"), and an explicit backend="cpu" broke torch.compile(fullgraph=True) (no custom operator for it)
@pytest.mark.parametrize("make", [lambda b: PLIF(backend=b), lambda b: PLIF(shape=(8,), backend=b),
                                  lambda b: ALIF(tau=2.0, backend=b), lambda b: Izhikevich(backend=b)])
@pytest.mark.parametrize("backend", ["auto", "cpu"])
def test_kernel_layers_take_an_empty_batch_and_compile_with_an_explicit_cpu_backend(make, backend):
    if backend == "cpu" and not HAVE_KERNEL:
        pytest.skip("no C++ compiler for the CPU kernel")
    layer = make(backend)
    x = torch.randn(4, 0, 8, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert y.shape == (4, 0, 8) and x.grad.shape == (4, 0, 8)
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    x = torch.randn(5, 2, 8, generator=torch.Generator().manual_seed(0)) * 3 + 1
    torch.testing.assert_close(compiled(x), layer(x))


# review 2026-12-07 (stop 21): with create_graph=True the fused paths returned a second derivative that missed the
# hand-written backward's own dependence on its inputs (relative error 1.0 against finite differences)
@pytest.mark.parametrize("make", [lambda: LIF(), lambda: LIF(backend="torch"), lambda: PLIF(), lambda: PLIF(backend="torch"),
                                  lambda: ALIF(tau=2.0), lambda: ALIF(tau=2.0, backend="torch"), lambda: Izhikevich()])
def test_double_backward_through_fused_layers_is_an_error(make):
    layer = make().double()
    x = (torch.rand(6, 2, 3, dtype=torch.float64) * 20).requires_grad_()
    assert torch.autograd.grad(layer(x).sum(), x)[0] is not None  # first order is fine
    with pytest.raises(RuntimeError, match="double backward"):
        torch.autograd.grad((layer(x) * torch.randn(6, 2, 3, dtype=torch.float64)).sum(), x, create_graph=True)


def test_double_backward_through_the_reference_loop_matches_finite_differences():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 2, 3, dtype=torch.float64, generator=g) * 2
    w0 = torch.randn(3, 3, dtype=torch.float64, generator=g)
    r = torch.randn(6, 2, 3, dtype=torch.float64, generator=g)
    layer = LIF(backend="reference", surrogate="sigmoid")

    def penalty(w, create):
        xx = x.clone().requires_grad_()
        (gx,) = torch.autograd.grad((layer(xx @ w) * r).sum(), xx, create_graph=create)
        return gx.square().sum()

    w = w0.clone().requires_grad_()
    (gw,) = torch.autograd.grad(penalty(w, True), w)
    eps, fd = 1e-6, torch.zeros_like(w0)
    for i in range(3):
        for j in range(3):
            d = torch.zeros_like(w0)
            d[i, j] = eps
            fd[i, j] = (penalty(w0 + d, False) - penalty(w0 - d, False)) / (2 * eps)
    assert float((gw - fd).norm() / fd.norm()) < 1e-2


@pytest.mark.parametrize("make", [lambda: LIF(step_mode="s"), lambda: PLIF(step_mode="s"),
                                  lambda: ALIF(tau=2.0, step_mode="s"), lambda: Izhikevich(step_mode="s")])
def test_deepcopy_after_a_single_step_training_step(make):
    # review 2026-12-07 (stop 21): the single-step state carried autograd history, and deepcopy (the "keep the
    # best model" / EMA pattern) raised PyTorch's "graph leaves" error
    import copy

    net = torch.nn.Sequential(torch.nn.Linear(3, 4), make())
    for _ in range(3):
        y = net(torch.rand(2, 3) * 30)
    y.sum().backward()
    twin = copy.deepcopy(net)
    layer, copied = net[1], twin[1]
    for name in type(layer)._STATE_ATTRS:
        a, b = getattr(layer, name), getattr(copied, name)
        assert torch.equal(a, b) and b.grad_fn is None and a.data_ptr() != b.data_ptr()
    torch.testing.assert_close(twin(torch.ones(2, 3)), net(torch.ones(2, 3)))  # continues from the same state


def test_plif_w_of_a_tensor_sets_fixed_per_neuron_time_constants():
    taus = torch.tensor([2.0, 3.5, 10.0])
    layer = PLIF(shape=(3,))
    layer.w.data = plif_w(taus)
    layer.requires_grad_(False)
    torch.testing.assert_close(layer.tau, taus)
    x = torch.rand(6, 2, 3, generator=torch.Generator().manual_seed(0)) * 2
    for i, tau in enumerate(taus.tolist()):  # neuron i behaves as a LIF with its own τ
        torch.testing.assert_close(layer(x)[:, :, i], LIF(tau, backend="reference")(x[:, :, i : i + 1])[:, :, 0])
    with pytest.raises(ValueError, match="tau must hold"):
        plif_w(torch.tensor([2.0, 1.0]))


@pytest.mark.skipif(not HAVE_KERNEL, reason="no C++ compiler for the CPU kernel")
@pytest.mark.parametrize("sg", ["piecewise_exp", "sigmoid", "erf"])
def test_float32_kernel_surrogates_vanish_far_from_the_threshold(sg):
    # review 2026-12-07 (stop 21): the float32 kernel's exp floored at 1.6e-38 instead of reaching 0, which the
    # unguarded Izhikevich multiplied by potentials of 1e20+ into gradients where the reference has exactly 0
    x = torch.full((3, 2, 4), -500.0, requires_grad=True)
    LIF(tau=2.0, surrogate=sg, backend="cpu")(x).sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))

"""ALIF (adaptive-threshold LIF): reduction to LIF, adaptation, gradients, step modes, state, bad input."""

import dataclasses
import math

import pytest
import torch
from torch import nn

import spikeforge.nn as sfnn
from spikeforge.nn import _cpu_kernel
from spikeforge.nn.functional import (
    ALIFSpec,
    LIFSpec,
    alif_multi_step,
    alif_multi_step_reference,
    alif_step,
    lif_multi_step_reference,
)
from spikeforge.nn.surrogate import Surrogate

HAVE_KERNEL = _cpu_kernel.load(torch.float64) is not None

# LIF constructor settings that ALIF shares (charges, resets, comparisons)
LIF_SETTINGS = [
    dict(tau=2.0),
    dict(tau=3.0, decay_input=False),
    dict(decay=0.7, decay_input=False, spike_compare=">"),
    dict(decay=0.6),
    dict(tau=2.0, v_reset=None),
    dict(tau=2.0, reset="none"),
    dict(tau=2.0, v_reset=-0.3, v_th=0.8),
    dict(tau=2.0, v_reset=None, detach_reset=True, surrogate="sigmoid", alpha=5.0),
]


def _x(T=30, B=4, N=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, B, N, generator=g) * 1.5 + 0.6


@pytest.mark.parametrize("kw", LIF_SETTINGS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
@pytest.mark.parametrize("backend", ["auto", "torch", "reference"])
def test_beta_zero_is_exactly_lif(kw, backend):
    x = _x()
    s_lif, v_lif = sfnn.LIF(return_state=True, backend=backend, **kw)(x)
    s, (v, a) = sfnn.ALIF(beta=0.0, tau_a=20.0, return_state=True, **kw)(x)
    assert s.sum() > 0 and (s == 0).any()  # the comparison means something
    assert torch.equal(s, s_lif) and torch.equal(v, v_lif)
    # every step's charged and reset potentials too, and the threshold stays at v_th
    lif_spec = sfnn.LIF(**kw).spec
    ref = lif_multi_step_reference(x, None, lif_spec, return_sequences=True)
    out = alif_multi_step_reference(x, None, None, ALIFSpec(lif_spec, beta=0.0), return_sequences=True)
    for mine, theirs in zip((out[0], out[1], out[3], out[4]), ref):
        assert torch.equal(mine, theirs)
    assert torch.equal(out[5], torch.full_like(x, lif_spec.v_th))


@pytest.mark.parametrize("compare, first", [(">=", 1.0), (">", 0.0)])
def test_spike_compare_at_the_threshold(compare, first):
    # tau=2 from rest: H_1 = x/2 = 1.0 = v_th exactly, so only ">=" fires at step 1
    x = torch.full((6, 1, 3), 2.0)
    s = sfnn.ALIF(tau=2.0, beta=0.0, spike_compare=compare)(x)
    assert torch.equal(s, sfnn.LIF(tau=2.0, spike_compare=compare)(x))
    assert s[0, 0, 0].item() == first


def test_beta_zero_gradients_equal_lif():
    x = _x().requires_grad_()
    w = torch.randn(x.shape)
    (sfnn.LIF(tau=2.0, backend="reference")(x) * w).sum().backward()
    g_lif = x.grad.clone()
    x.grad = None
    (sfnn.ALIF(tau=2.0, beta=0.0, backend="reference")(x) * w).sum().backward()
    torch.testing.assert_close(x.grad, g_lif, rtol=0, atol=0)  # the reference loop: bit for bit
    x.grad = None
    (sfnn.ALIF(tau=2.0, beta=0.0)(x) * w).sum().backward()
    torch.testing.assert_close(x.grad, g_lif, rtol=1e-6, atol=1e-7)  # the fused path: to float32 rounding


def test_beta_positive_differs_from_lif():
    x = _x()
    assert not torch.equal(sfnn.ALIF(tau=2.0, beta=0.5, tau_a=20.0)(x), sfnn.LIF(tau=2.0)(x))


def _rates(layer, T=400, level=2.0):
    s = layer(torch.full((T, 1, 8), level))
    q = T // 4
    return s[:q].mean().item(), s[-q:].mean().item()


def test_firing_rate_adapts_under_constant_input():
    early, late = _rates(sfnn.ALIF(tau=2.0, tau_a=50.0, beta=0.2))
    assert early > 0 and late > 0
    assert late < 0.75 * early  # the threshold rises with the spikes
    early0, late0 = _rates(sfnn.ALIF(tau=2.0, tau_a=50.0, beta=0.0))
    assert early0 == late0 == 1.0  # no adaptation: fires every step, as LIF does at this input
    # the first window fires most (then a steady state), and stronger adaptation fires less
    s = sfnn.ALIF(tau=2.0, tau_a=50.0, beta=0.2)(torch.full((400, 1, 1), 2.0)).view(8, 50).mean(1)
    assert s[0] > s[1:].max()
    assert _rates(sfnn.ALIF(tau=2.0, tau_a=50.0, beta=0.5))[1] < late


def test_adaptation_state_follows_its_recurrence():
    spec = ALIFSpec(LIFSpec(tau=2.0), tau_a=10.0, beta=0.3)
    x = _x(T=12, B=2, N=5)
    s, v, a, h, vs, th = alif_multi_step_reference(x, None, None, spec, return_sequences=True)
    rho = math.exp(-1 / 10.0)
    a_t = torch.zeros_like(x[0])
    for t in range(x.shape[0]):
        torch.testing.assert_close(th[t], 1.0 + 0.3 * a_t)
        assert torch.equal(s[t], (h[t] >= th[t]).float())
        a_t = rho * a_t + s[t]
    torch.testing.assert_close(a, a_t)
    assert spec.rho == pytest.approx(rho)
    # soft reset subtracts the crossed (adaptive) threshold
    spec_soft = dataclasses.replace(spec, lif=LIFSpec(tau=2.0, reset="soft"))
    s, _, _, h, vs, th = alif_multi_step_reference(x, None, None, spec_soft, return_sequences=True)
    torch.testing.assert_close(vs, h - s * th)


def test_surrogate_gradients_are_finite_and_nonzero():
    x = _x().requires_grad_()
    a0 = torch.full(x.shape[1:], 0.5, requires_grad=True)
    v0 = torch.zeros(x.shape[1:], requires_grad=True)
    layer = sfnn.ALIF(tau=2.0, tau_a=20.0, beta=0.3, return_state=True)
    s, (v, a) = layer(x, (v0, a0))
    (s * torch.linspace(0.5, 1.5, x.shape[-1])).sum().backward()
    for g in (x.grad, a0.grad, v0.grad):
        assert torch.isfinite(g).all() and g.abs().sum() > 0
    assert (a0.grad <= 0).all() and (a0.grad < 0).any()  # a higher threshold means fewer spikes


def test_gradient_flows_through_the_adaptation():
    x = _x()
    grads = {}
    for detach in (False, True):
        xg = x.clone().requires_grad_()
        sfnn.ALIF(tau=2.0, tau_a=20.0, beta=0.3, detach_adaptation=detach)(xg).sum().backward()
        grads[detach] = xg.grad
    assert not torch.allclose(grads[False], grads[True])


def test_smooth_surrogate_gradcheck():
    lif = LIFSpec(tau=2.0, reset="soft", surrogate=Surrogate("sigmoid", 4.0, spiking=False))
    spec = ALIFSpec(lif, tau_a=5.0, beta=0.4)
    x = (torch.rand(6, 2, 3, dtype=torch.float64) * 2).requires_grad_()
    a0 = torch.rand(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, a0: alif_multi_step_reference(x, None, a0, spec), (x, a0))


def test_single_step_loop_equals_multi_step():
    x = _x(T=20)
    multi = sfnn.ALIF(tau=2.0, tau_a=15.0, beta=0.3, return_state=True)
    single = sfnn.ALIF(tau=2.0, tau_a=15.0, beta=0.3, step_mode="s")
    xm, xs = x.clone().requires_grad_(), x.clone().requires_grad_()
    s_m, (v_m, a_m) = multi(xm)
    s_s = torch.stack([single(xt) for xt in xs])
    assert s_m.sum() > 0
    assert torch.equal(s_s, s_m) and torch.equal(single.v, v_m) and torch.equal(single.a, a_m)
    w = torch.randn(x.shape)
    (s_m * w).sum().backward()
    (s_s * w).sum().backward()
    torch.testing.assert_close(xs.grad, xm.grad, rtol=0, atol=0)
    # explicit state, functional step and continuation across calls
    st = None
    explicit = sfnn.ALIF(tau=2.0, tau_a=15.0, beta=0.3, step_mode="s", return_state=True)
    for t in range(x.shape[0]):
        s_t, st = explicit(x[t], st)
        assert torch.equal(s_t, s_m[t])
    assert isinstance(st, sfnn.ALIFState) and explicit.v is None and explicit.a is None
    s1, st1 = multi(x[:7])
    s2, st2 = multi(x[7:], st1)
    assert torch.equal(torch.cat([s1, s2]), s_m) and torch.equal(st2.a, a_m)
    s0, v1, a1 = alif_step(x[0], None, None, multi.spec)
    assert torch.equal(s0, s_m[0])


def test_reset_states_clears_v_and_a():
    layer = sfnn.ALIF(tau=2.0, tau_a=15.0, beta=0.3, step_mode="s")
    net = nn.Sequential(nn.Identity(), layer)
    x = _x(T=10, B=3, N=5)
    first = torch.stack([net(xt) for xt in x])
    assert layer.v is not None and layer.a is not None and layer.a.abs().sum() > 0
    with pytest.raises(ValueError, match="reset_state"):
        net(torch.rand(2, 5))  # another batch size with stale state
    sfnn.reset_states(net)
    assert layer.v is None and layer.a is None
    again = torch.stack([net(xt) for xt in x])
    assert torch.equal(first, again)  # from rest again, the same sequence
    layer(x[0])
    layer.reset_state()
    assert layer.v is None and layer.a is None


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(tau_a=0.0), "tau_a"),
        (dict(tau_a=-5.0), "tau_a"),
        (dict(tau_a=float("nan")), "tau_a"),
        (dict(tau_a=float("inf")), "tau_a"),
        (dict(beta=-0.1), "beta"),
        (dict(beta=float("nan")), "beta"),
        (dict(beta=True), "beta"),
        (dict(v_th=float("nan")), "v_th"),
        (dict(v_th=0.0), "v_th"),
        (dict(tau=0.5), "tau"),
        (dict(tau=2.0, decay=0.5), "either tau"),
        (dict(reset="soft_delayed", v_reset=None), "soft_delayed"),
        (dict(backend="gpu0"), "backend must be one of"),
        (dict(backend="gpu"), "backend must be one of"),
        (dict(step_mode="x"), "step_mode"),
    ],
)
def test_bad_parameters_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        sfnn.ALIF(**kw)


def test_bad_functional_input_raises():
    spec = ALIFSpec()
    with pytest.raises(ValueError, match="backend"):
        alif_multi_step(torch.rand(3, 2), spec=spec, backend="triton")  # needs CUDA tensors
    with pytest.raises(ValueError, match="backend 'cpu' runs ALIF with a built-in surrogate"):
        alif_multi_step(torch.rand(3, 2).half(), spec=spec, backend="cpu")
    with pytest.raises(ValueError, match="NaN"):
        alif_multi_step(torch.tensor([[float("nan")]]), spec=spec, backend="torch")
    with pytest.raises(ValueError, match="NaN"):
        alif_multi_step(torch.tensor([[float("nan")]]), spec=spec)
    with pytest.raises(ValueError, match="time first"):
        sfnn.ALIF()(torch.rand(5))
    with pytest.raises(ValueError, match="a0"):
        alif_multi_step(torch.rand(3, 2, 4), None, torch.zeros(3), spec)
    with pytest.raises(TypeError, match="ALIFSpec"):
        alif_multi_step_reference(torch.rand(3, 2), spec=LIFSpec())
    with pytest.raises(TypeError, match="LIFSpec"):
        ALIFSpec(lif="tau")
    with pytest.raises(ValueError, match="state"):
        sfnn.ALIF()(torch.rand(3, 2), torch.zeros(2))


def test_trains_in_sequential_with_linear():
    torch.manual_seed(0)
    net = nn.Sequential(sfnn.SeqToANN(nn.Linear(6, 8)), sfnn.ALIF(tau=2.0, tau_a=10.0, beta=0.2),
                        sfnn.SeqToANN(nn.Linear(8, 3)))
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    x, y = torch.rand(12, 5, 6) * 2, torch.tensor([0, 1, 2, 0, 1])
    before = [p.detach().clone() for p in net.parameters()]
    loss = nn.functional.cross_entropy(net(x).mean(0), y)
    loss.backward()
    assert torch.isfinite(loss)
    w_grad = net[0][0].weight.grad
    assert torch.isfinite(w_grad).all() and w_grad.abs().sum() > 0  # reached through the surrogate
    opt.step()
    assert all(not torch.equal(p, q) for p, q in zip(net.parameters(), before))
    # plain nn.Linear on [T, B, F] also works (Linear acts on the last axis)
    net2 = nn.Sequential(nn.Linear(6, 8), sfnn.ALIF(beta=0.2, tau_a=10.0), nn.Linear(8, 3))
    nn.functional.cross_entropy(net2(x).mean(0), y).backward()
    assert net2[0].weight.grad.abs().sum() > 0


def test_repr_and_properties():
    layer = sfnn.ALIF(tau=3.0, tau_a=40.0, beta=0.25, v_reset=None, detach_adaptation=True)
    r = repr(layer)
    for part in ("tau=3", "tau_a=40", "beta=0.25", "reset=soft", "detach_adaptation=True", "step_mode='m'"):
        assert part in r
    assert (layer.tau, layer.tau_a, layer.beta, layer.v_th) == (3.0, 40.0, 0.25, 1.0)
    assert layer.rho == pytest.approx(math.exp(-1 / 40))
    assert layer.surrogate.name == "atan"
    again = sfnn.ALIF.from_spec(layer.spec, step_mode="s")
    assert again.spec == layer.spec and again.step_mode == "s"
    with pytest.raises(TypeError):
        sfnn.ALIF.from_spec(layer.spec, beta=1.0)
    with pytest.raises(TypeError):
        sfnn.ALIF.from_spec(LIFSpec())
    assert hash(layer.spec) == hash(ALIFSpec(layer.spec.lif, 40.0, 0.25, True))


def test_state_dict_round_trip_and_no_parameters():
    layer = sfnn.ALIF(tau=2.0, tau_a=30.0, beta=0.2)
    assert list(layer.parameters()) == [] and layer.state_dict() == {}
    net = nn.Sequential(nn.Linear(4, 4), layer)
    net2 = nn.Sequential(nn.Linear(4, 4), sfnn.ALIF(tau=2.0, tau_a=30.0, beta=0.2))
    net2.load_state_dict(net.state_dict())
    x = torch.rand(10, 2, 4) * 3
    assert torch.equal(net(x), net2(x))


def test_training_checkpoint_config_refuses_alif_spec_clearly():
    from spikeforge.nn.train import TrainConfig

    with pytest.raises(TypeError, match="cannot be stored in a checkpoint"):
        TrainConfig(extra={"neuron": ALIFSpec()})


def test_nir_export_refuses_alif_by_name():
    pytest.importorskip("nir")
    from spikeforge.interop import to_nir

    net = nn.Sequential(nn.Linear(4, 3), sfnn.ALIF(beta=0.2))
    with pytest.raises(TypeError, match="NIR has no adaptive-threshold neuron node"):
        to_nir(net, (4,))
    # the same network with LIF exports (so it is ALIF that is refused)
    to_nir(nn.Sequential(nn.Linear(4, 3), sfnn.LIF()), (4,))


def test_count_synops_treats_alif_output_as_events():
    net = nn.Sequential(nn.Linear(4, 6), sfnn.ALIF(beta=0.2, tau_a=10.0), nn.Linear(6, 2))
    rep = sfnn.count_synops(net, torch.rand(5, 3, 4) * 3)
    kinds = {r.name: r.kind for r in rep.rows}
    assert kinds == {"0": "mac", "2": "ac"}
    single = sfnn.ALIF(beta=0.2, tau_a=10.0, step_mode="s")
    single(torch.rand(3, 6) * 3)
    v, a = single.v, single.a
    sfnn.count_synops(nn.Sequential(nn.Linear(4, 6), single, nn.Linear(6, 2)), torch.rand(3, 4))
    assert single.v is v and single.a is a  # state restored


# ---------------------------------------------------------------------------- the fused path against the reference loop
@pytest.mark.parametrize("lif_kw", [dict(), dict(reset="soft", v_reset=None), dict(reset="none", v_reset=None),
                                    dict(decay=0.6, tau=None, decay_input=False), dict(detach_reset=True),
                                    dict(v_reset=-0.3), dict(spike_compare=">", reset="soft", v_reset=None)])
@pytest.mark.parametrize("detach_adaptation", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_fused_equals_the_reference_spikes_states_and_gradients(lif_kw, detach_adaptation, with_state):
    g = torch.Generator().manual_seed(11)
    layer = sfnn.ALIF(**{"tau": 2.0, **lif_kw}, beta=0.4, tau_a=7.0, detach_adaptation=detach_adaptation)
    spec = layer.spec
    x = torch.randn(14, 3, 6, generator=g, dtype=torch.float64) * 0.9 + 0.6
    v0 = torch.rand(3, 6, generator=g, dtype=torch.float64) if with_state else None
    a0 = torch.rand(3, 6, generator=g, dtype=torch.float64) * 2 if with_state else None
    ws, wv, wa = (torch.randn(14, 3, 6, generator=g, dtype=torch.float64), torch.randn(3, 6, generator=g, dtype=torch.float64),
                  torch.randn(3, 6, generator=g, dtype=torch.float64))
    outs = []
    for backend in ("reference", "torch", "cpu") if HAVE_KERNEL else ("reference", "torch"):
        xx = x.clone().requires_grad_()
        vv = None if v0 is None else v0.clone().requires_grad_()
        aa = None if a0 is None else a0.clone().requires_grad_()
        s, vT, aT = alif_multi_step(xx, vv, aa, spec, backend=backend)
        ((s * ws).sum() + (vT * wv).sum() + (aT * wa).sum()).backward()
        outs.append([s.detach(), vT.detach(), aT.detach(), xx.grad] + ([vv.grad, aa.grad] if with_state else []))
    assert outs[0][0].sum() > 0 and 0 < outs[0][0].mean() < 1
    for fused in outs[1:]:
        for a, b in zip(outs[0], fused):
            torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", ["torch", "cpu"])
@pytest.mark.parametrize("reset", [dict(reset="soft", v_reset=None), dict(v_reset=0.2), dict(reset="none", v_reset=None)])
def test_fused_smooth_mode_passes_gradcheck(backend, reset):
    if backend == "cpu" and (not HAVE_KERNEL or _cpu_kernel.load(torch.float64, True) is None):
        pytest.skip("the smooth test build of the CPU kernel is unavailable")
    layer = sfnn.ALIF(tau=2.0, beta=0.5, tau_a=5.0, surrogate=Surrogate("sigmoid", 4.0, spiking=False), **reset)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 2, 3, generator=g, dtype=torch.float64).requires_grad_()
    v0 = torch.rand(2, 3, generator=g, dtype=torch.float64).requires_grad_()
    a0 = torch.rand(2, 3, generator=g, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b, c: alif_multi_step(a, b, c, layer.spec, backend=backend), (x, v0, a0))


@pytest.mark.skipif(not HAVE_KERNEL, reason="no C++ compiler for the CPU kernel")
def test_cpu_kernel_float32_many_threads_and_auto_choice():
    from spikeforge.nn import functional as F

    layer = sfnn.ALIF(tau=2.0, beta=0.3, tau_a=9.0)
    x = torch.randn(40, 16, 256, generator=torch.Generator().manual_seed(4)) * 0.8 + 0.5
    res = {}
    for backend in ("reference", "cpu", "auto"):
        xx = x.clone().requires_grad_()
        s, vT, aT = alif_multi_step(xx, None, None, layer.spec, backend=backend)
        (s.sum() + vT.square().sum() + aT.sum()).backward()  # dL/dS broadcast: read as one scalar
        res[backend] = (s, vT, aT, xx.grad)
    for backend in ("cpu", "auto"):
        assert torch.equal(res[backend][0], res["reference"][0])
        for a, b in zip(res[backend][1:], res["reference"][1:]):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert F._kernel_fits(x, layer.spec.lif, "auto", "ALIF") and not F._kernel_fits(x, layer.spec.lif, "torch", "ALIF")


@pytest.mark.parametrize("backend", ["auto", "torch", "reference"])
@pytest.mark.parametrize("reset", [dict(), dict(reset="none", v_reset=None)])
def test_in_place_ops_on_outputs_and_state_are_allowed(backend, reset):
    layer = sfnn.ALIF(tau=2.0, beta=0.3, backend=backend, return_state=True, **reset)
    x = (torch.randn(30, 4, 8, generator=torch.Generator().manual_seed(0)) * 2).requires_grad_()
    s, (v, a) = layer(x)
    torch.nn.Dropout(0.5, inplace=True).train()(s)
    v.mul_(0.5)
    (s.sum() + v.sum() + a.sum()).backward()
    assert x.grad is not None
    assert v.untyped_storage().nbytes() == v.numel() * v.element_size()

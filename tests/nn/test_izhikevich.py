"""Izhikevich (2003) neurons: firing patterns of the presets, Izhikevich's own loop, the overflow guard,
gradients, step modes, state, bad input, NIR and SynOps."""

import dataclasses
import statistics

import pytest
import torch
from torch import nn

import spikeforge.nn as sfnn
from spikeforge.nn import _cpu_kernel
from spikeforge.nn.functional import (
    IZHIKEVICH_PRESETS,
    IzhikevichSpec,
    LIFSpec,
    izhikevich_multi_step,
    izhikevich_multi_step_reference,
    izhikevich_step,
)
from spikeforge.nn.surrogate import Surrogate

HAVE_KERNEL = _cpu_kernel.load(torch.float64) is not None


def _x(T=40, B=4, N=8, seed=0, mean=10.0, sd=5.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, B, N, generator=g, dtype=dtype) * sd + mean


def _spike_steps(layer: nn.Module, current: float = 10.0, T: int = 1000) -> list[int]:
    """Steps (ms at dt = 1 ms) at which one neuron fires under a constant current."""
    s = layer(torch.full((T, 1, 1), current))
    return s[:, 0, 0].nonzero().flatten().tolist()


def _isis(steps: list[int]) -> list[int]:
    return [b - a for a, b in zip(steps, steps[1:])]


def _bursts(isis: list[int]) -> int:
    """Bursts that end: an interval under 10 ms followed by one over 30 ms."""
    return sum(1 for i in range(len(isis) - 1) if isis[i] < 10 and isis[i + 1] > 30)


# ---------------------------------------------------------------------------- firing patterns (Fig. 2 of the paper)
def test_rs_spikes_regularly_with_frequency_adaptation():
    isis = _isis(_spike_steps(sfnn.Izhikevich.preset("RS")))
    assert 10 <= len(isis) + 1 <= 40  # tens of Hz, not silent, not every step
    late = isis[-10:]
    assert max(late) - min(late) <= 2  # regular (tonic) spiking once adapted
    assert isis[0] < 0.75 * statistics.median(late)  # the first interval is the shortest: adaptation
    assert min(isis) >= 10 and _bursts(isis) == 0  # single spikes, no bursts
    # the adaptation is mostly u's spike increment d: without it the adapted intervals are several times shorter
    no_d = _isis(_spike_steps(sfnn.Izhikevich.preset("RS", d=0.0)))
    assert statistics.median(late) > 3 * statistics.median(no_d[-10:])


@pytest.mark.parametrize("current", [5.0, 10.0, 20.0])
def test_fs_fires_faster_than_rs(current):
    n_rs = len(_spike_steps(sfnn.Izhikevich.preset("RS"), current))
    n_fs = len(_spike_steps(sfnn.Izhikevich.preset("FS"), current))
    assert n_rs > 0 and n_fs >= 2 * n_rs


def test_ch_chatters_in_repeated_bursts():
    isis = _isis(_spike_steps(sfnn.Izhikevich.preset("CH")))
    assert _bursts(isis) >= 5  # at least five bursts (intervals < 10 ms, then a pause > 30 ms) in 1 s
    assert sum(i < 10 for i in isis) >= 2 * sum(i > 30 for i in isis)  # several spikes per burst
    # RS under the same input never bursts; IB bursts once, at the onset, then fires single spikes
    assert _bursts(_isis(_spike_steps(sfnn.Izhikevich.preset("RS")))) == 0
    ib = _isis(_spike_steps(sfnn.Izhikevich.preset("IB")))
    assert ib[0] < 10 and ib[1] < 10 and min(ib[2:]) > 30


def test_lts_fires_fast_and_adapts():
    lts = _isis(_spike_steps(sfnn.Izhikevich.preset("LTS")))
    rs = _isis(_spike_steps(sfnn.Izhikevich.preset("RS")))
    assert len(lts) > len(rs)
    assert lts[0] < 0.5 * statistics.median(lts[-10:])


def test_presets_are_the_papers_values():
    assert IZHIKEVICH_PRESETS == {
        "RS": (0.02, 0.2, -65.0, 8.0),
        "IB": (0.02, 0.2, -55.0, 4.0),
        "CH": (0.02, 0.2, -50.0, 2.0),
        "FS": (0.1, 0.2, -65.0, 2.0),
        "LTS": (0.02, 0.25, -65.0, 2.0),
    }
    fs = sfnn.Izhikevich.preset("fs", step_mode="s")  # case-insensitive, constructor keywords pass through
    assert (fs.a, fs.b, fs.c, fs.d, fs.step_mode) == (0.1, 0.2, -65.0, 2.0, "s")
    assert fs.spec == IzhikevichSpec.preset("FS") == sfnn.Izhikevich(0.1, 0.2, -65.0, 2.0).spec
    assert sfnn.Izhikevich().spec == IzhikevichSpec.preset("RS")  # RS is the default
    assert IzhikevichSpec.preset("RS", d=6.0, dt_ms=0.5) == IzhikevichSpec(d=6.0, dt_ms=0.5)
    with pytest.raises(ValueError, match="RS, IB, CH, FS, LTS"):
        sfnn.Izhikevich.preset("TC")


# ---------------------------------------------------------------------------- the integration scheme
def _izhikevich_2003_loop(a, b, c, d, currents):
    """Izhikevich's (2003) MATLAB loop for one neuron, transcribed with Python floats (``v.^2`` as ``v*v``):
    the steps at which it reports a spike and ``(v, u)`` after each iteration's reset."""
    v = -65.0
    u = b * v
    fired, vs, us = [], [], []
    for t in range(len(currents) + 1):
        if v >= 30:
            fired.append(t)
            v = c
            u = u + d
        if t:
            vs.append(v)
            us.append(u)
        if t == len(currents):
            break
        current = currents[t]
        v = v + 0.5 * (0.04 * (v * v) + 5 * v + 140 - u + current)  # step 0.5 ms
        v = v + 0.5 * (0.04 * (v * v) + 5 * v + 140 - u + current)  # for numerical stability
        u = u + a * (b * v - u)
    return fired, vs, us


@pytest.mark.parametrize("name", list(IZHIKEVICH_PRESETS))
def test_unguarded_mode_is_izhikevichs_code_bit_for_bit(name):
    x = _x(T=400, B=1, N=1, seed=3, mean=8.0, sd=6.0, dtype=torch.float64)
    spec = IzhikevichSpec.preset(name, clamp_peak=False, v_min=None)
    s, v, u, h, vs, us = izhikevich_multi_step_reference(x, spec=spec, return_sequences=True)
    fired, v_ref, u_ref = _izhikevich_2003_loop(*IZHIKEVICH_PRESETS[name], x[:, 0, 0].tolist())
    assert len(fired) >= 5
    # his loop reports a spike at the top of the next iteration: one step later, the same spikes
    assert (s[:, 0, 0].nonzero().flatten() + 1).tolist() == fired
    assert vs[:, 0, 0].tolist() == v_ref and us[:, 0, 0].tolist() == u_ref


def _guarded_loop(spec: IzhikevichSpec, currents):
    """The documented guarded scheme for one neuron with Python floats: spike steps and ``(v, u)``."""
    v, u = spec.v_init, spec.b * spec.v_init
    h, dta, peak = spec.dt_ms / spec.v_substeps, spec.dt_ms * spec.a, spec.v_peak
    fired, vs, us = [], [], []
    for t, current in enumerate(currents):
        for _ in range(spec.v_substeps):
            if v < peak:  # a neuron at the peak is held there for the rest of the step
                v = v + (v * v * 0.04 + v * 5.0 + 140.0 - u + current) * h
                v = min(max(v, spec.v_min), peak)
        u = u + (v * spec.b - u) * dta  # u sees the new v
        if v >= peak:
            fired.append(t)
            v, u = spec.c, u + spec.d
        vs.append(v)
        us.append(u)
    return fired, vs, us


@pytest.mark.parametrize("dt_ms, n", [(1.0, 2), (0.8, 3), (0.5, 1), (1.0, 4)])
def test_guarded_scheme_substeps_and_clamps_as_documented(dt_ms, n):
    x = _x(T=300, B=1, N=1, seed=4, mean=12.0, sd=40.0, dtype=torch.float64)  # with strong inhibition too
    x[50:60] = 1e6  # and an enormous drive
    spec = IzhikevichSpec.preset("CH", dt_ms=dt_ms, v_substeps=n)
    s, v, u, h, vs, us = izhikevich_multi_step_reference(x, spec=spec, return_sequences=True)
    fired, v_ref, u_ref = _guarded_loop(spec, x[:, 0, 0].tolist())
    assert len(fired) >= 10 and s.sum() == len(fired)
    assert s[:, 0, 0].nonzero().flatten().tolist() == fired
    assert vs[:, 0, 0].tolist() == v_ref and us[:, 0, 0].tolist() == u_ref
    assert h.max() <= spec.v_peak and h.min() >= spec.v_min


def test_initial_state_is_izhikevichs():
    x = _x(T=30, B=3, N=5)
    spec = IzhikevichSpec.preset("CH")  # c = -50, but the start is v = -65, u = b*v, as in his code
    s, v, u = izhikevich_multi_step(x, spec=spec)
    s2, v2, u2 = izhikevich_multi_step(x, -65.0, -65.0 * 0.2, spec)
    assert torch.equal(s, s2) and torch.equal(v, v2) and torch.equal(u, u2)
    v0 = torch.linspace(-70.0, -60.0, 5)  # v0 alone: u0 = b*v0 elementwise
    a = izhikevich_multi_step(x, v0, None, spec)
    b = izhikevich_multi_step(x, v0, v0 * 0.2, spec)
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not torch.equal(a[1], v)
    assert spec.u_init == pytest.approx(-13.0)


def test_overflow_guard_keeps_everything_finite():
    for n in (1, 2, 8):
        for level in (1e6, 1e30, -1e6, -1e30, -300.0):
            x = torch.full((5, 2, 3), level).requires_grad_()
            s, (v, u) = sfnn.Izhikevich(v_substeps=n, detach_reset=False, return_state=True)(x)
            (s.sum() + v.sum() + u.sum()).backward()
            for t in (s, v, u, x.grad):
                assert torch.isfinite(t).all(), (n, level)
            assert (s.sum() == 0) if level < 0 else (s.sum() == s.numel())  # inhibition never fires
    # the same inputs break the unguarded Euler scheme: non-finite values, and inhibition firing
    x = torch.full((5, 1), 1e6)
    _, v, u = izhikevich_multi_step(x, spec=IzhikevichSpec(v_substeps=4, clamp_peak=False, v_min=None))
    assert not (torch.isfinite(v).all() and torch.isfinite(u).all())
    s, _, _ = izhikevich_multi_step(torch.full((20, 1), -300.0), spec=IzhikevichSpec(v_min=None))
    assert s.sum() > 0


# ---------------------------------------------------------------------------- gradients
def test_surrogate_gradients_are_finite_and_nonzero():
    x = _x(T=100).requires_grad_()
    v0 = torch.full(x.shape[1:], -65.0, requires_grad=True)
    u0 = torch.full(x.shape[1:], -13.0, requires_grad=True)
    s, (v, u) = sfnn.Izhikevich(return_state=True)(x, (v0, u0))
    assert s.sum() > 0 and (s == 0).any()
    (s * torch.linspace(0.5, 1.5, x.shape[-1])).sum().backward()
    for g in (x.grad, v0.grad, u0.grad):
        assert torch.isfinite(g).all() and g.abs().sum() > 0
    assert u0.grad.sum() < 0  # more recovery current, fewer spikes (on the whole)


@pytest.mark.parametrize(
    "n, v0, x, dv_dx",
    [
        (2, 0.0, 100.0, 0.5),  # reaches the peak in the first half-step: dv/dx = h
        (2, -20.0, 40.0, 0.5 + (1 + 0.5 * (0.08 * 28.0 + 5.0)) * 0.5),  # in the second (v = 28 after the first)
        (3, -20.0, 40.0, 1 / 3 + (1 + (0.08 * 12.0 + 5.0) / 3) / 3),  # in the second of three (v = 12 after one)
    ],
)
def test_the_firing_step_passes_its_surrogate_gradient(n, v0, x, dv_dx):
    # atan with alpha = 2 has peak 1: dS/dx = σ'(0)/v_scale · d(v of the substep that reached the peak)/dx
    spec = IzhikevichSpec(v_substeps=n)
    xt = torch.tensor([x], dtype=torch.float64, requires_grad=True)
    v0, u0 = torch.tensor([v0], dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    s, v, u = izhikevich_step(xt, v0, u0, spec)
    assert s.item() == 1.0 and v.item() == -65.0
    s.sum().backward()
    torch.testing.assert_close(xt.grad, torch.tensor([dv_dx / 30.0], dtype=torch.float64))


def test_a_neuron_that_reached_the_peak_fires_even_if_a_later_substep_would_fall():
    # without the floor and with 1 ms substeps, v = -300 jumps past the peak in the first substep, and a large u
    # would pull it back below in the second: it has fired all the same (held at the peak)
    spec = IzhikevichSpec(dt_ms=2.0, v_substeps=2, v_min=None)
    s, v, u, h, _, _ = izhikevich_multi_step_reference(torch.zeros(1, 1), -300.0, 1000.0, spec, return_sequences=True)
    assert s.item() == 1.0 and h.item() == 30.0 and v.item() == -65.0


def test_gradients_stay_bounded_over_long_sequences():
    # through the reset, every spike multiplies the gradient (hence detach_reset=True by default)
    for name in ("FS", "CH"):
        grads = {}
        for detach in (True, False):
            x = _x(T=300, B=8, N=8, seed=1, dtype=torch.float64).requires_grad_()
            s = sfnn.Izhikevich.preset(name, detach_reset=detach)(x)
            s[-1].sum().backward()  # the last step's spikes
            grads[detach] = x.grad.abs().mean((1, 2))
        assert torch.isfinite(grads[True]).all()
        assert grads[True][-5:].sum() > 0  # recent inputs matter
        assert grads[True][:200].max() < 1.0  # inputs 100+ steps back: decayed, not exploded
        assert grads[False][:200].max() > 1e3  # (the gradient through the reset explodes)


def test_smooth_surrogate_gradcheck():
    # the smooth primitive instead of the spike (spiking=False) makes the whole step differentiable
    sg = Surrogate("sigmoid", 4.0, spiking=False)
    g = torch.Generator().manual_seed(0)
    v0 = (torch.rand(2, 3, dtype=torch.float64, generator=g) * 10 - 65).requires_grad_()
    u0 = (torch.rand(2, 3, dtype=torch.float64, generator=g) * 2 - 14).requires_grad_()
    x = (torch.rand(6, 2, 3, dtype=torch.float64, generator=g) * 3).requires_grad_()
    spec = IzhikevichSpec(surrogate=sg, detach_reset=False, clamp_peak=False, v_min=None)
    assert izhikevich_multi_step_reference(x, v0, u0, spec)[0].max() > 0.99  # through spikes and resets
    assert torch.autograd.gradcheck(lambda x, v0, u0: izhikevich_multi_step_reference(x, v0, u0, spec), (x, v0, u0))
    # with the guard, where its clamps do not act (below the peak, above the floor)
    spec = IzhikevichSpec(surrogate=sg, detach_reset=False, v_substeps=3)
    x = (x.detach() - 2).requires_grad_()
    h = izhikevich_multi_step_reference(x, v0, u0, spec, return_sequences=True)[3]
    assert spec.v_min < h.min() and h.max() < spec.v_peak
    assert torch.autograd.gradcheck(lambda x, v0, u0: izhikevich_multi_step_reference(x, v0, u0, spec), (x, v0, u0))


def test_detach_reset_changes_the_gradient():
    x = _x(T=60)
    grads = []
    for detach in (True, False):
        xg = x.clone().requires_grad_()
        sfnn.Izhikevich(detach_reset=detach)(xg).sum().backward()
        grads.append(xg.grad)
    assert not torch.allclose(grads[0], grads[1])


# ---------------------------------------------------------------------------- modes and state
def test_reference_equals_module_bit_for_bit():
    x = _x(T=60, seed=2)
    kw = dict(dt_ms=0.5, v_substeps=3)
    multi = sfnn.Izhikevich.preset("LTS", return_state=True, **kw)
    single = sfnn.Izhikevich.preset("LTS", step_mode="s", **kw)
    ref = izhikevich_multi_step_reference(x, None, None, multi.spec)
    xm, xs = x.clone().requires_grad_(), x.clone().requires_grad_()
    s_m, (v_m, u_m) = multi(xm)
    s_s = torch.stack([single(xt) for xt in xs])
    assert s_m.sum() > 0 and (s_m == 0).any()
    assert torch.equal(s_m, ref[0]) and torch.equal(v_m, ref[1]) and torch.equal(u_m, ref[2])
    assert torch.equal(s_s, s_m) and torch.equal(single.v, v_m) and torch.equal(single.u, u_m)
    w = torch.randn(x.shape)
    (s_m * w).sum().backward()
    (s_s * w).sum().backward()
    torch.testing.assert_close(xs.grad, xm.grad, rtol=0, atol=0)
    # explicit state, functional step, and a sequence continued across calls
    st = None
    explicit = sfnn.Izhikevich.preset("LTS", step_mode="s", return_state=True, **kw)
    for t in range(x.shape[0]):
        s_t, st = explicit(x[t], st)
        assert torch.equal(s_t, s_m[t])
    assert isinstance(st, sfnn.IzhikevichState) and explicit.v is None and explicit.u is None
    assert torch.equal(st.v, v_m) and torch.equal(st.u, u_m)
    s1, st1 = multi(x[:25])
    s2, st2 = multi(x[25:], st1)
    assert torch.equal(torch.cat([s1, s2]), s_m) and torch.equal(st2.u, u_m)
    s0, v1, u1 = izhikevich_step(x[0], None, None, multi.spec)
    assert torch.equal(s0, s_m[0])


def test_reset_states_clears_v_and_u():
    layer = sfnn.Izhikevich.preset("FS", step_mode="s")
    net = nn.Sequential(nn.Identity(), layer)
    x = _x(T=20, B=3, N=5)
    first = torch.stack([net(xt) for xt in x])
    assert first.sum() > 0 and layer.v is not None and layer.u is not None
    with pytest.raises(ValueError, match="reset_state"):
        net(torch.rand(2, 5))  # another batch size with stale state
    sfnn.reset_states(net)
    assert layer.v is None and layer.u is None
    again = torch.stack([net(xt) for xt in x])
    assert torch.equal(first, again)  # from rest again, the same sequence
    layer(x[0])
    layer.reset_state()
    assert layer.v is None and layer.u is None


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(a=float("nan")), "a must be a finite"),
        (dict(b=float("inf")), "b must be a finite"),
        (dict(c=float("nan")), "c must be a finite"),
        (dict(d=float("nan")), "d must be a finite"),
        (dict(d=True), "d must be a finite"),
        (dict(v_peak=float("nan")), "v_peak"),
        (dict(v_init=float("nan")), "v_init"),
        (dict(v_min=float("nan")), "v_min must be a finite"),
        (dict(dt_ms=0.0), "dt_ms must be > 0"),
        (dict(dt_ms=-1.0), "dt_ms must be > 0"),
        (dict(dt_ms=float("nan")), "dt_ms"),
        (dict(v_substeps=0), "v_substeps"),
        (dict(v_substeps=-2), "v_substeps"),
        (dict(v_substeps=2.5), "v_substeps"),
        (dict(v_substeps=True), "v_substeps"),
        (dict(v_scale=0.0), "v_scale"),
        (dict(c=30.0), "below v_peak"),
        (dict(v_min=-65.0), "v_min"),
        (dict(backend="gpu"), "backend must be one of"),
        (dict(backend="gpu"), "backend must be one of"),
        (dict(step_mode="x"), "step_mode"),
    ],
)
def test_bad_parameters_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        sfnn.Izhikevich(**kw)
    if "backend" not in kw and "step_mode" not in kw:
        with pytest.raises(ValueError, match=match):
            IzhikevichSpec(**kw)


def test_bad_functional_input_raises():
    spec = IzhikevichSpec()
    with pytest.raises(ValueError, match="backend"):
        izhikevich_multi_step(torch.rand(3, 2), spec=spec, backend="triton")  # needs CUDA tensors
    with pytest.raises(ValueError, match="backend 'cpu' runs Izhikevich with a built-in surrogate"):
        izhikevich_multi_step(torch.rand(3, 2).half(), spec=spec, backend="cpu")
    for backend in ("auto", "cpu", "torch"):
        with pytest.raises(ValueError, match="NaN"):
            izhikevich_multi_step(torch.tensor([[float("nan")]]), spec=spec, backend=backend)
    with pytest.raises(ValueError, match="NaN"):
        sfnn.Izhikevich(step_mode="s")(torch.tensor([float("nan")]))
    with pytest.raises(ValueError, match="time first"):
        sfnn.Izhikevich()(torch.rand(5))
    with pytest.raises(ValueError, match="u0"):
        izhikevich_multi_step(torch.rand(3, 2, 4), None, torch.zeros(3), spec)
    with pytest.raises(ValueError, match="v0"):
        izhikevich_multi_step(torch.rand(3, 2, 4), torch.zeros(3), None, spec)
    with pytest.raises(TypeError, match="IzhikevichSpec"):
        izhikevich_multi_step_reference(torch.rand(3, 2), spec=LIFSpec())
    with pytest.raises(TypeError, match="floating"):
        sfnn.Izhikevich()(torch.ones(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="state"):
        sfnn.Izhikevich()(torch.rand(3, 2), torch.zeros(2))


def test_trains_in_sequential_with_linear():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), sfnn.Izhikevich.preset("FS"), nn.Linear(8, 3))
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    x, y = torch.rand(30, 5, 6) * 40, torch.tensor([0, 1, 2, 0, 1])  # currents of about ±20
    before = [p.detach().clone() for p in net.parameters()]
    out = net(x)
    loss = nn.functional.cross_entropy(out.mean(0), y)
    loss.backward()
    assert torch.isfinite(loss)
    w_grad = net[0].weight.grad
    assert torch.isfinite(w_grad).all() and w_grad.abs().sum() > 0  # reached through the surrogate
    opt.step()
    assert all(not torch.equal(p, q) for p, q in zip(net.parameters(), before))


def test_repr_properties_from_spec_and_no_parameters():
    layer = sfnn.Izhikevich.preset("CH", dt_ms=0.5, v_substeps=1, v_min=None)
    r = repr(layer)
    for part in ("a=0.02", "b=0.2", "c=-50", "d=2", "dt_ms=0.5", "v_substeps=1", "v_min=None", "clamp_peak=True",
                 "detach_reset=True", "step_mode='m'"):
        assert part in r
    assert (layer.a, layer.b, layer.c, layer.d, layer.v_peak, layer.dt_ms, layer.v_substeps) == (
        0.02, 0.2, -50.0, 2.0, 30.0, 0.5, 1)
    assert layer.surrogate.name == "atan" and layer.spec.h_ms == 0.5
    again = sfnn.Izhikevich.from_spec(layer.spec, step_mode="s")
    assert again.spec == layer.spec and again.step_mode == "s"
    with pytest.raises(TypeError):
        sfnn.Izhikevich.from_spec(layer.spec, d=1.0)
    with pytest.raises(TypeError):
        sfnn.Izhikevich.from_spec(LIFSpec())
    assert hash(layer.spec) == hash(dataclasses.replace(layer.spec))
    assert list(layer.parameters()) == [] and layer.state_dict() == {}


def test_training_checkpoint_config_refuses_izhikevich_spec_clearly():
    from spikeforge.nn.train import TrainConfig

    with pytest.raises(TypeError, match="cannot be stored in a checkpoint"):
        TrainConfig(extra={"neuron": IzhikevichSpec()})


# ---------------------------------------------------------------------------- interop and SynOps
def test_nir_export_refuses_izhikevich_by_name():
    pytest.importorskip("nir")
    from spikeforge.interop import to_nir

    net = nn.Sequential(nn.Linear(4, 3), sfnn.Izhikevich())
    with pytest.raises(TypeError, match="NIR has no Izhikevich neuron node"):
        to_nir(net, (4,))
    to_nir(nn.Sequential(nn.Linear(4, 3), sfnn.LIF()), (4,))  # the same network with LIF exports


def test_count_synops_treats_izhikevich_as_a_spiking_layer():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), sfnn.Izhikevich.preset("FS"), nn.Linear(6, 2))
    x = torch.rand(20, 3, 4) * 40  # [T, B, F]
    rep = sfnn.count_synops(net, x)
    rows = {r.name: r for r in rep.rows}
    assert (rows["0"].kind, rows["2"].kind) == ("mac", "ac")
    assert rows["2"].source == "spikes"  # known as a spiking layer, not merely judged binary
    spikes = net[1](net[0](x))
    assert spikes.sum() > 0
    assert rows["2"].events == pytest.approx(spikes.sum().item() / 3)  # per sample: B = 3, time first
    assert rows["2"].ac_ops == pytest.approx(spikes.sum().item() / 3 * 2)
    # single-step state is counted from rest and restored afterwards
    single = sfnn.Izhikevich.preset("FS", step_mode="s")
    single(torch.rand(3, 6) * 40)
    v, u = single.v, single.u
    sfnn.count_synops(nn.Sequential(nn.Linear(4, 6), single, nn.Linear(6, 2)), torch.rand(3, 4))
    assert single.v is v and single.u is u


# ---------------------------------------------------------------------------- the compiled CPU kernel
@pytest.mark.skipif(not HAVE_KERNEL, reason="no C++ compiler for the CPU kernel")
@pytest.mark.parametrize("preset", ["RS", "CH", "FS"])
@pytest.mark.parametrize("guards", [dict(), dict(clamp_peak=False, v_min=None), dict(v_min=None), dict(clamp_peak=False)])
@pytest.mark.parametrize("kw", [dict(), dict(v_substeps=3, detach_reset=False), dict(v_substeps=1, surrogate="sigmoid")])
def test_cpu_kernel_equals_the_reference_loop(preset, guards, kw):
    spec = IzhikevichSpec.preset(preset, **guards, **kw)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(40, 3, 7, generator=g, dtype=torch.float64) * 8 + 12
    x[5:9, 0] = -400.0  # strong inhibition: the floor (or, without it, Euler's artefact spikes)
    x[12:14, 1] = 300.0  # strong drive: the peak clamp (or the overshoot)
    v0 = torch.rand(3, 7, generator=g, dtype=torch.float64) * 80 - 70
    u0 = torch.randn(3, 7, generator=g, dtype=torch.float64) * 3 - 10
    ws, wv, wu = (torch.randn(40, 3, 7, generator=g, dtype=torch.float64),
                  torch.randn(3, 7, generator=g, dtype=torch.float64) * 0.01, torch.randn(3, 7, generator=g, dtype=torch.float64))
    out = []
    for backend in ("reference", "cpu"):
        xx, vv, uu = x.clone().requires_grad_(), v0.clone().requires_grad_(), u0.clone().requires_grad_()
        s, vT, uT = izhikevich_multi_step(xx, vv, uu, spec, backend=backend)
        ((s * ws).sum() + (vT * wv).sum() + (uT * wu).sum()).backward()
        out.append((s.detach(), vT.detach(), uT.detach(), xx.grad, vv.grad, uu.grad))
    assert out[0][0].sum() > 5
    assert torch.equal(out[1][0], out[0][0])
    for a, b in zip(out[1][1:], out[0][1:]):
        assert torch.isfinite(b).all()
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9 * float(b.abs().max().clamp(min=1.0)))


@pytest.mark.skipif(not HAVE_KERNEL, reason="no C++ compiler for the CPU kernel")
def test_cpu_kernel_smooth_mode():
    """Without the guards the smooth-mode kernel passes gradcheck; with them (straight-through spike input, not
    the true derivative by design) its gradients equal the reference loop's in smooth mode."""
    if _cpu_kernel.load(torch.float64, True) is None:
        pytest.skip("the smooth test build of the CPU kernel is unavailable")
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(6, 2, 3, generator=g, dtype=torch.float64) * 3 + 8).requires_grad_()
    v0 = (torch.rand(2, 3, generator=g, dtype=torch.float64) * 20 - 70).requires_grad_()
    u0 = (torch.randn(2, 3, generator=g, dtype=torch.float64) - 13).requires_grad_()
    smooth = Surrogate("sigmoid", 4.0, spiking=False)
    plain = IzhikevichSpec(surrogate=smooth, detach_reset=False, clamp_peak=False, v_min=None)
    assert torch.autograd.gradcheck(lambda a, b, c: izhikevich_multi_step(a, b, c, plain, backend="cpu"), (x, v0, u0))
    guarded = IzhikevichSpec(surrogate=smooth, detach_reset=False)
    xs = x.detach() * 4  # strong enough to reach the clamp
    grads = []
    for backend in ("reference", "cpu"):
        xx, vv, uu = xs.clone().requires_grad_(), v0.detach().clone().requires_grad_(), u0.detach().clone().requires_grad_()
        s, vT, uT = izhikevich_multi_step(xx, vv, uu, guarded, backend=backend)
        (s.sum() + vT.sum() * 0.01 + uT.sum()).backward()
        grads.append((s.detach(), xx.grad, vv.grad, uu.grad))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.skipif(not HAVE_KERNEL, reason="no C++ compiler for the CPU kernel")
def test_cpu_kernel_float32_threads_default_state_and_auto_choice():
    from spikeforge.nn import functional as F

    layer = sfnn.Izhikevich.preset("CH")
    x = torch.randn(60, 16, 128, generator=torch.Generator().manual_seed(2)) * 5 + 10
    res = {}
    for backend in ("reference", "cpu", "auto"):
        xx = x.clone().requires_grad_()
        s, vT, uT = izhikevich_multi_step(xx, None, None, layer.spec, backend=backend)  # u0 = b·v0 from v_init
        (s.sum() + 0.01 * vT.sum()).backward()
        res[backend] = (s, vT, uT, xx.grad)
    for backend in ("cpu", "auto"):
        assert torch.equal(res[backend][0], res["reference"][0])
        for a, b in zip(res[backend][1:], res["reference"][1:]):
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3 * float(b.detach().abs().max().clamp(min=1.0)))
    assert F._kernel_fits(x, layer.spec, "auto", "Izhikevich")
    assert not F._kernel_fits(x, layer.spec, "torch", "Izhikevich")

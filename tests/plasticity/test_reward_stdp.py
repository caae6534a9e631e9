"""Reward-modulated trace STDP (MSTDP / MSTDPET) on torch layers: the closed form against the
step-by-step reference, chunking with the carried eligibility, conv2d per position, the updater and
the argument checks."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spikeforge.plasticity import (  # noqa: E402
    STDPUpdater,
    TraceSTDP,
    reward_stdp_reference,
    trace_stdp_conv2d,
    trace_stdp_linear,
    trace_stdp_reference,
)

from .test_torch_stdp import DT, RULES, spikes  # noqa: E402  (the same rules and spike trains)


def rewards(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64)


def reference(pre, post, rule, r, tau_e_ms, lr1=None, lr2=None, e0=None):
    """Per sample and synapse: (Σ over samples of dw [O, I], eligibility [B, O, I])."""
    T, B, n_in = pre.shape
    n_out = post.shape[2]
    lr1 = np.ones(n_out) if lr1 is None else np.broadcast_to(np.asarray(lr1, dtype=float), (n_out,))
    lr2 = np.ones(n_out) if lr2 is None else np.broadcast_to(np.asarray(lr2, dtype=float), (n_out,))
    r = r[:, None].expand(T, B) if r.dim() == 1 else r
    dw, e = np.zeros((n_out, n_in)), np.zeros((B, n_out, n_in))
    for b in range(B):
        for o in range(n_out):
            for i in range(n_in):
                d, e[b, o, i] = reward_stdp_reference(
                    np.flatnonzero(pre[:, b, i].numpy()), np.flatnonzero(post[:, b, o].numpy()), rule, DT,
                    r[:, b].tolist(), tau_e_ms=tau_e_ms, lr1=float(lr1[o]), lr2=float(lr2[o]),
                    e0=0.0 if e0 is None else float(e0[b, o, i]))
                dw[o, i] += d
    return dw, e


# --------------------------------------------------------------------------- the reference itself
@pytest.mark.parametrize("rule_name", sorted(RULES))
def test_reference_with_unit_reward_and_no_eligibility_is_plain_stdp(rule_name):
    # an independent check of the new reference against trace_stdp_reference (event-driven, exact exponentials)
    rule = RULES[rule_name]
    g = np.random.default_rng(3)
    for _ in range(5):
        pre_steps = np.flatnonzero(g.random(70) < 0.2)
        post_steps = np.flatnonzero(g.random(70) < 0.2)
        dw, e = reward_stdp_reference(pre_steps, post_steps, rule, DT, [1.0] * 70, lr1=0.7, lr2=-1.3)
        w, _ = trace_stdp_reference(pre_steps, post_steps, 0.0, rule, DT, lr1=0.7, lr2=-1.3)
        assert dw == pytest.approx(w, abs=1e-12)


def test_reference_credits_pairings_by_the_delay_to_the_reward():
    rule = TraceSTDP(a_plus=1.0, a_minus=0.0, tau_pre_ms=20.0, tau_post_ms=20.0, w_min=-1, w_max=1)
    r = np.zeros(40)
    r[30] = 1.0  # reward 20 steps (10 ms) after a pre (step 8) → post (step 10) pairing
    dw, e = reward_stdp_reference([8], [10], rule, DT, r, tau_e_ms=10.0)
    pairing = np.exp(-2 * DT / 20.0)  # x after 2 steps
    assert dw == pytest.approx(pairing * np.exp(-20 * DT / 10.0))
    assert e == pytest.approx(pairing * np.exp(-29 * DT / 10.0))
    assert reward_stdp_reference([8], [10], rule, DT, r, tau_e_ms=0.0)[0] == 0.0  # MSTDP: too late
    r[10] = -2.0
    assert reward_stdp_reference([8], [10], rule, DT, r, tau_e_ms=0.0)[0] == pytest.approx(-2 * pairing)
    with pytest.raises(ValueError, match="tau_e_ms"):
        reward_stdp_reference([8], [10], rule, DT, r, tau_e_ms=-1.0)


# --------------------------------------------------------------------------- linear vs the reference
@pytest.mark.parametrize("rule_name", sorted(RULES))
@pytest.mark.parametrize("tau_e_ms", [0.0, 2.0, 25.0])
@pytest.mark.parametrize("per_sample", [False, True])
def test_linear_equals_the_reference(rule_name, tau_e_ms, per_sample):
    rule = RULES[rule_name]
    T, B = 50, 3
    pre, post = spikes((T, B, 4), 0.25, 11), spikes((T, B, 3), 0.25, 12)
    r = rewards((T, B) if per_sample else (T,), 13)
    lr1, lr2 = torch.tensor([1.0, 0.5, 1.0], dtype=torch.float64), torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    dw, state = trace_stdp_linear(pre, post, torch.zeros(3, 4, dtype=torch.float64), rule, DT, reward=r,
                                  tau_e_ms=tau_e_ms, lr1=lr1, lr2=lr2, return_state=True)
    want, e = reference(pre, post, rule, r, tau_e_ms, lr1.numpy(), lr2.numpy())
    assert np.abs(want).max() > 0.05
    np.testing.assert_allclose(dw.numpy(), want, atol=1e-10, rtol=0)
    if tau_e_ms == 0:
        assert state.e is None  # nothing to carry: the eligibility is the step's change only
    else:
        assert state.e.shape == (B, 3, 4)
        np.testing.assert_allclose(state.e.numpy(), e, atol=1e-12, rtol=0)
    mean = trace_stdp_linear(pre, post, torch.zeros(3, 4, dtype=torch.float64), rule, DT, reward=r,
                             tau_e_ms=tau_e_ms, lr1=lr1, lr2=lr2, reduction="mean")
    np.testing.assert_allclose(mean.numpy(), want / B, atol=1e-10, rtol=0)


def test_unit_reward_without_eligibility_is_plain_stdp_and_zero_reward_learns_nothing():
    rule = RULES["triplet_all_to_all"]
    pre, post = spikes((40, 2, 5), 0.3, 1), spikes((40, 2, 4), 0.3, 2)
    w = torch.zeros(4, 5, dtype=torch.float64)
    plain = trace_stdp_linear(pre, post, w, rule, DT)
    torch.testing.assert_close(trace_stdp_linear(pre, post, w, rule, DT, reward=torch.ones(40)), plain)
    assert trace_stdp_linear(pre, post, w, rule, DT, reward=torch.zeros(40, 2), tau_e_ms=50.0).abs().max() == 0


@pytest.mark.parametrize("chunk_elements", [None, 1])
@pytest.mark.parametrize("tau_e_ms", [0.0, 7.0])
def test_chunked_calls_carry_the_eligibility(monkeypatch, chunk_elements, tau_e_ms):
    import spikeforge.plasticity.torch_stdp as ts

    if chunk_elements is not None:
        monkeypatch.setattr(ts, "_CHUNK_ELEMENTS", chunk_elements)  # and one step per internal chunk
    rule = RULES["nearest"]
    pre, post, r = spikes((60, 2, 4), 0.25, 21), spikes((60, 2, 3), 0.25, 22), rewards((60, 2), 23)
    w = torch.zeros(3, 4, dtype=torch.float64)
    whole, final = trace_stdp_linear(pre, post, w, rule, DT, reward=r, tau_e_ms=tau_e_ms, return_state=True)
    total, state = torch.zeros_like(w), None
    for a, b in ((0, 13), (13, 13), (13, 41), (41, 60)):  # an empty chunk too
        dw, state = trace_stdp_linear(pre[a:b], post[a:b], w, rule, DT, reward=r[a:b], tau_e_ms=tau_e_ms,
                                      state=state, return_state=True)
        total += dw
    torch.testing.assert_close(total, whole, atol=1e-12, rtol=0)
    torch.testing.assert_close(state.e, final.e, atol=1e-12, rtol=0)
    if tau_e_ms > 0:  # dropping the carried eligibility loses the credit of earlier pairings
        restart = trace_stdp_linear(pre[:30], post[:30], w, rule, DT, reward=r[:30], tau_e_ms=tau_e_ms) + \
            trace_stdp_linear(pre[30:], post[30:], w, rule, DT, reward=r[30:], tau_e_ms=tau_e_ms)
        assert (restart - whole).abs().max() > 1e-3


def test_conv2d_equals_the_reference_per_position():
    rule = RULES["all_to_all"]
    T, B = 30, 2
    pre, post = spikes((T, B, 2, 4, 4), 0.3, 31), spikes((T, B, 3, 3, 3), 0.3, 32)
    r = rewards((T, B), 33)
    w = torch.zeros(3, 2, 2, 2, dtype=torch.float64)
    dw, state = trace_stdp_conv2d(pre, post, w, rule, DT, reward=r, tau_e_ms=5.0, return_state=True)
    want, e = np.zeros((3, 2, 2, 2)), np.zeros((B, 3, 2, 2, 2))
    for b in range(B):
        for o in range(3):
            for c in range(2):
                for a in range(2):
                    for k in range(2):
                        for oh in range(3):
                            for ow in range(3):
                                d, ee = reward_stdp_reference(
                                    np.flatnonzero(pre[:, b, c, oh + a, ow + k].numpy()),
                                    np.flatnonzero(post[:, b, o, oh, ow].numpy()), rule, DT, r[:, b].tolist(),
                                    tau_e_ms=5.0)
                                want[o, c, a, k] += d
                                e[b, o, c, a, k] += ee
    assert np.abs(want).max() > 0.05
    np.testing.assert_allclose(dw.numpy(), want, atol=1e-10, rtol=0)
    np.testing.assert_allclose(state.e.numpy(), e, atol=1e-10, rtol=0)


def test_updater_steps_with_reward_equal_one_call():
    # bounds far from the weights: the updater's clamp after each step must not act
    rule = TraceSTDP(a_plus=0.01, a_minus=0.012, tau_pre_ms=10.0, tau_post_ms=10.0, w_min=-10.0, w_max=10.0)
    layer = torch.nn.Linear(4, 3, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.linspace(-0.5, 0.5, 12, dtype=torch.float64).reshape(3, 4))
    w0 = layer.weight.detach().clone()
    pre, post, r = spikes((40, 2, 4), 0.3, 41), spikes((40, 2, 3), 0.3, 42), rewards((40,), 43)
    up = STDPUpdater(layer, rule, DT, tau_e_ms=8.0, reduction="sum")
    up.step(pre[:17], post[:17], r[:17])
    up.step(pre[17:], post[17:], r[17:])
    whole = trace_stdp_linear(pre, post, w0, rule, DT, reward=r, tau_e_ms=8.0)
    torch.testing.assert_close(layer.weight.detach() - w0, whole, atol=1e-12, rtol=0)
    assert up.state.e is not None
    with pytest.raises(ValueError, match="eligibility"):  # the carried eligibility needs a reward
        up.step(pre[:5], post[:5])
    up.reset()
    up.step(pre[:5], post[:5])  # a fresh sequence without reward is plain STDP again


def test_bad_reward_arguments_are_clear_errors():
    rule = RULES["all_to_all"]
    pre, post = spikes((10, 2, 4), 0.3, 1), spikes((10, 2, 3), 0.3, 2)
    w = torch.zeros(3, 4, dtype=torch.float64)
    for bad, msg in ((torch.ones(9), r"reward must be a real tensor of shape \[T\] = \[10\]"),
                     (torch.ones(10, 3), r"\[T, B\] = \[10, 2\]"),
                     (torch.ones(10, 2, 1), "3-D"),
                     (torch.ones(10, dtype=torch.bool), "dtype torch.bool"),
                     (torch.tensor([float("nan")] * 10), "non-finite")):
        with pytest.raises(ValueError, match=msg):
            trace_stdp_linear(pre, post, w, rule, DT, reward=bad)
    for tau in (-1.0, float("inf"), True, "5"):
        with pytest.raises(ValueError, match="tau_e_ms"):
            trace_stdp_linear(pre, post, w, rule, DT, reward=torch.ones(10), tau_e_ms=tau)
    with pytest.raises(ValueError, match="online_clip"):
        trace_stdp_linear(pre, post, w, rule, DT, reward=torch.ones(10), online_clip=True)
    _, state = trace_stdp_linear(pre, post, w, rule, DT, reward=torch.ones(10), tau_e_ms=3.0, return_state=True)
    with pytest.raises(ValueError, match="state carries an eligibility"):
        trace_stdp_linear(pre, post, w, rule, DT, state=state)
    with pytest.raises(ValueError, match=r"state.e must have shape \[2, 3, 4\]"):
        trace_stdp_linear(pre, post, w, rule, DT, state=type(state)(state.x, state.y1, None, torch.zeros(3, 4)),
                          reward=torch.ones(10))
    with pytest.raises(ValueError, match="tau_e_ms"):
        STDPUpdater(torch.nn.Linear(4, 3), rule, DT, tau_e_ms=-2.0)


def test_no_eligibility_is_carried_without_a_time_constant():
    # review: tau_e_ms = 0 kept a [B, O, I] eligibility that could never contribute and then refused
    # a following step without reward
    rule = RULES["all_to_all"]
    pre, post = spikes((5, 2, 4), 0.4, 1), spikes((5, 2, 3), 0.4, 2)
    _, state = trace_stdp_linear(pre, post, torch.zeros(3, 4, dtype=torch.float64), rule, DT,
                                 reward=torch.ones(5), return_state=True)
    assert state.e is None
    up = STDPUpdater(torch.nn.Linear(4, 3).double(), rule, DT)
    up.step(pre, post, torch.ones(5))
    up.step(pre, post)  # plain STDP next: allowed
    with pytest.raises(ValueError, match="reward must be finite"):
        reward_stdp_reference([1], [2], rule, DT, [float("nan")] * 3)
    with pytest.raises(ValueError, match="tau_e_ms"):
        reward_stdp_reference([1], [2], rule, DT, [1.0] * 3, tau_e_ms=None)
    import numpy as _np
    trace_stdp_linear(pre, post, torch.zeros(3, 4, dtype=torch.float64), rule, DT, reward=torch.ones(5),
                      tau_e_ms=_np.float32(5.0))  # NumPy scalars are numbers too


@pytest.mark.parametrize("tau_e_ms", [0.0, 6.0])
def test_per_neuron_reward_equals_the_reference_and_chunks(tau_e_ms):
    rule = RULES["triplet_all_to_all"]
    T, B = 40, 2
    pre, post = spikes((T, B, 4), 0.3, 61), spikes((T, B, 3), 0.3, 62)
    r = rewards((T, B, 3), 63)
    w = torch.zeros(3, 4, dtype=torch.float64)
    dw, state = trace_stdp_linear(pre, post, w, rule, DT, reward=r, tau_e_ms=tau_e_ms, return_state=True)
    want = np.zeros((3, 4))
    for b in range(B):
        for o in range(3):
            for i in range(4):
                want[o, i] += reward_stdp_reference(np.flatnonzero(pre[:, b, i].numpy()),
                                                    np.flatnonzero(post[:, b, o].numpy()), rule, DT,
                                                    r[:, b, o].tolist(), tau_e_ms=tau_e_ms)[0]
    assert np.abs(want).max() > 0.05
    np.testing.assert_allclose(dw.numpy(), want, atol=1e-10, rtol=0)
    total, st = torch.zeros_like(w), None
    for a, b in ((0, 17), (17, 40)):
        d, st = trace_stdp_linear(pre[a:b], post[a:b], w, rule, DT, reward=r[a:b], tau_e_ms=tau_e_ms, state=st,
                                  return_state=True)
        total += d
    torch.testing.assert_close(total, dw, atol=1e-12, rtol=0)
    # a per-sample reward is the per-neuron reward repeated over the neurons
    r2 = rewards((T, B), 64)
    torch.testing.assert_close(
        trace_stdp_linear(pre, post, w, rule, DT, reward=r2, tau_e_ms=tau_e_ms),
        trace_stdp_linear(pre, post, w, rule, DT, reward=r2[:, :, None].expand(T, B, 3), tau_e_ms=tau_e_ms))
    # per output channel on a convolution: chunked calls with the carried eligibility equal one call
    cpre, cpost = spikes((20, 2, 2, 5, 5), 0.3, 65), spikes((20, 2, 3, 4, 4), 0.3, 66)
    cr, cw = rewards((20, 2, 3), 67), torch.zeros(3, 2, 2, 2, dtype=torch.float64)
    whole = trace_stdp_conv2d(cpre, cpost, cw, rule, DT, reward=cr, tau_e_ms=tau_e_ms)
    d1, s1 = trace_stdp_conv2d(cpre[:9], cpost[:9], cw, rule, DT, reward=cr[:9], tau_e_ms=tau_e_ms, return_state=True)
    d2 = trace_stdp_conv2d(cpre[9:], cpost[9:], cw, rule, DT, reward=cr[9:], tau_e_ms=tau_e_ms, state=s1)
    torch.testing.assert_close(d1 + d2, whole, atol=1e-12, rtol=0)
    # channel c's kernel follows reward c alone: zeroing the others' rewards leaves its change
    only0 = cr.clone()
    only0[:, :, 1:] = 0.0
    part = trace_stdp_conv2d(cpre, cpost, cw, rule, DT, reward=only0, tau_e_ms=tau_e_ms)
    torch.testing.assert_close(part[0], whole[0], atol=1e-12, rtol=0)
    assert part[1:].abs().max() == 0
    with pytest.raises(ValueError, match=r"\[T, B, n_out\] = \[40, 2, 3\]"):
        trace_stdp_linear(pre, post, w, rule, DT, reward=torch.ones(T, B, 4))

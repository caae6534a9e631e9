"""Trace STDP on torch layers: the vectorised path against the per-synapse reference, batch
reductions, conv2d against per-position loops, chunking, the updater and the argument checks."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spikeforge.plasticity import (  # noqa: E402
    GATES,
    STDPTraceState,
    STDPUpdater,
    TraceSTDP,
    trace_stdp_conv2d,
    trace_stdp_linear,
    trace_stdp_reference,
)

DT = 0.5
W0 = 0.5
# large amplitudes so that atol 1e-5 is strict; bounds far away so that the reference never clips
FAR = {"a_plus": 0.5, "a_minus": 0.3, "tau_pre_ms": 4.0, "tau_post_ms": 3.0, "w_min": -1e4, "w_max": 1e4}
RULES = {
    "all_to_all": TraceSTDP(**FAR),
    "nearest": TraceSTDP(**FAR, nearest=True),
    "triplet_all_to_all": TraceSTDP(**FAR, tau_post2_ms=6.0),
    "triplet_nearest": TraceSTDP(**FAR, tau_post2_ms=6.0, nearest=True),
}


def spikes(shape, p, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=torch.float64) < p).to(torch.float64)


def reference_dw(pre, post, rule, w0=W0, lr1=1.0, lr2=1.0):
    """Per-synapse reference total change for pre [T, 1, I], post [T, 1, O] (or w0 [O, I])."""
    n_in, n_out = pre.shape[2], post.shape[2]
    w0 = np.broadcast_to(np.asarray(w0, dtype=np.float64), (n_out, n_in))
    lr1 = np.broadcast_to(np.asarray(lr1, dtype=np.float64), (n_out,))
    lr2 = np.broadcast_to(np.asarray(lr2, dtype=np.float64), (n_out,))
    out = np.empty((n_out, n_in))
    for o in range(n_out):
        post_steps = np.flatnonzero(post[:, 0, o].numpy())
        for i in range(n_in):
            pre_steps = np.flatnonzero(pre[:, 0, i].numpy())
            w, _ = trace_stdp_reference(pre_steps, post_steps, float(w0[o, i]), rule, DT,
                                        lr1=float(lr1[o]), lr2=float(lr2[o]))
            out[o, i] = w - w0[o, i]
    return out


# --------------------------------------------------------------------------- (a) the reference
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("rule_name", sorted(RULES))
@pytest.mark.parametrize("gates", ["stdp", "all_ltd", "uneven"])
def test_batch_of_one_equals_the_reference(seed, rule_name, gates):
    rule = RULES[rule_name]
    lr1, lr2 = GATES.get(gates, (0.7, 1.6))
    pre, post = spikes((80, 1, 5), 0.25, seed), spikes((80, 1, 4), 0.25, 100 + seed)
    assert ((pre[:, 0, :, None] * post[:, 0, None, :]) > 0).any()  # same-step pairs: tests the order
    weight = torch.full((4, 5), W0, dtype=torch.float64)
    dw = trace_stdp_linear(pre, post, weight, rule, DT, lr1=lr1, lr2=lr2)
    ref = reference_dw(pre, post, rule, lr1=lr1, lr2=lr2)
    assert dw.dtype == torch.float64 and dw.shape == (4, 5)
    assert np.abs(ref).max() > 0.1
    np.testing.assert_allclose(dw.numpy(), ref, atol=1e-5, rtol=0)


def test_per_neuron_gates_equal_the_reference_per_neuron():
    rule = RULES["nearest"]
    lr1, lr2 = torch.tensor([1.0, 1.0, 0.0, 0.5]), torch.tensor([1.0, -1.0, 2.0, 0.0])
    pre, post = spikes((60, 1, 3), 0.3, 7), spikes((60, 1, 4), 0.3, 8)
    dw = trace_stdp_linear(pre, post, torch.zeros(4, 3, dtype=torch.float64), rule, DT, lr1=lr1, lr2=lr2)
    ref = reference_dw(pre, post, rule, lr1=lr1.numpy(), lr2=lr2.numpy())
    np.testing.assert_allclose(dw.numpy(), ref, atol=1e-5, rtol=0)


def test_same_step_pre_and_post_pair_with_zero_lag():
    # pre and post at step 3 only: the pre event is processed first, so the post sees x = 1
    rule = TraceSTDP(a_plus=0.25, a_minus=0.5, w_min=-1.0, w_max=1.0)
    pre, post = torch.zeros(6, 1, 1), torch.zeros(6, 1, 1)
    pre[3], post[3] = 1.0, 1.0
    dw = trace_stdp_linear(pre, post, torch.zeros(1, 1), rule, DT)
    assert dw.item() == pytest.approx(0.25, abs=1e-7)


def test_clipping_online_equals_the_reference_at_the_bounds():
    rule = TraceSTDP(a_plus=0.3, a_minus=0.2, tau_pre_ms=4.0, tau_post_ms=3.0, w_min=0.0, w_max=1.0)
    pre, post = spikes((80, 1, 5), 0.3, 3), spikes((80, 1, 4), 0.3, 4)
    w0 = torch.linspace(0.05, 0.95, 20, dtype=torch.float64).reshape(4, 5)
    ref = reference_dw(pre, post, rule, w0=w0.numpy())
    online = trace_stdp_linear(pre, post, w0, rule, DT, online_clip=True)
    np.testing.assert_allclose(online.numpy(), ref, atol=1e-10, rtol=0)
    # the default (sum, clipped once afterwards) is another semantics at the bounds
    summed = (w0 + trace_stdp_linear(pre, post, w0, rule, DT)).clamp(0.0, 1.0) - w0
    assert np.abs(summed.numpy() - ref).max() > 1e-3
    # by hand: post at step 2, then pre and post at step 3 with w0 = 0.05: the pre event clips
    # to 0 (0.05 − 0.2·e^{−0.5/3} < 0) before the post event adds 0.3·1 -> 0.3
    pre1, post1 = torch.zeros(4, 1, 1, dtype=torch.float64), torch.zeros(4, 1, 1, dtype=torch.float64)
    post1[2], pre1[3], post1[3] = 1.0, 1.0, 1.0
    w1 = torch.full((1, 1), 0.05, dtype=torch.float64)
    assert reference_dw(pre1, post1, rule, w0=0.05)[0, 0] == pytest.approx(0.25, abs=1e-12)
    assert trace_stdp_linear(pre1, post1, w1, rule, DT, online_clip=True).item() == pytest.approx(0.25, abs=1e-12)
    unclipped = 0.3 - 0.2 * math.exp(-DT / 3.0)
    assert trace_stdp_linear(pre1, post1, w1, rule, DT).item() == pytest.approx(unclipped, abs=1e-12)
    # and near the upper bound the post event clips: w0 = 0.95, pre at 0 and post at 1
    pre1, post1 = torch.zeros(2, 1, 1, dtype=torch.float64), torch.zeros(2, 1, 1, dtype=torch.float64)
    pre1[0], post1[1] = 1.0, 1.0
    w1 = torch.full((1, 1), 0.95, dtype=torch.float64)
    assert trace_stdp_linear(pre1, post1, w1, rule, DT, online_clip=True).item() == pytest.approx(0.05, abs=1e-12)


# --------------------------------------------------------------------------- (b) reductions
@pytest.mark.parametrize("rule_name", ["all_to_all", "triplet_nearest"])
@pytest.mark.parametrize("online_clip", [False, True])
def test_reduction_sum_is_the_sum_of_samples_and_mean_divides_by_b(rule_name, online_clip):
    rule = RULES[rule_name]
    B = 4
    pre, post = spikes((40, B, 6), 0.2, 11), spikes((40, B, 3), 0.2, 12)
    weight = torch.zeros(3, 6, dtype=torch.float64)
    per_sample = [trace_stdp_linear(pre[:, b:b + 1], post[:, b:b + 1], weight, rule, DT) for b in range(B)]
    total = torch.stack(per_sample).sum(0)
    assert not torch.allclose(per_sample[0], per_sample[1])
    kw = {"online_clip": online_clip}  # far bounds: online clipping never acts
    torch.testing.assert_close(trace_stdp_linear(pre, post, weight, rule, DT, reduction="sum", **kw), total,
                               atol=1e-10, rtol=0)
    torch.testing.assert_close(trace_stdp_linear(pre, post, weight, rule, DT, reduction="mean", **kw), total / B,
                               atol=1e-10, rtol=0)


def test_bool_spikes_and_float32_weights():
    pre, post = spikes((30, 2, 4), 0.3, 1), spikes((30, 2, 2), 0.3, 2)
    rule = RULES["all_to_all"]
    ref = trace_stdp_linear(pre, post, torch.zeros(2, 4, dtype=torch.float64), rule, DT)
    got = trace_stdp_linear(pre.bool(), post.bool(), torch.zeros(2, 4), rule, DT)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, ref.float(), atol=1e-4, rtol=1e-5)


# --------------------------------------------------------------------------- (c) conv2d
def _padded(pre, padding):
    ph, pw = padding
    return torch.nn.functional.pad(pre, (pw, pw, ph, ph))


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), ((1, 2), (1, 0), (2, 1))])
@pytest.mark.parametrize("rule_name", ["all_to_all", "triplet_nearest"])
def test_conv2d_equals_a_per_position_loop_of_linear(stride, padding, dilation, rule_name):
    rule = RULES[rule_name]
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    dh, dw_ = (dilation, dilation) if isinstance(dilation, int) else dilation
    T, B, C_in, C_out, H, W, k = 12, 2, 2, 3, 6, 5, 2
    weight = torch.zeros(C_out, C_in, k, k, dtype=torch.float64)
    out_h, out_w = (H + 2 * ph - dh * (k - 1) - 1) // sh + 1, (W + 2 * pw - dw_ * (k - 1) - 1) // sw + 1
    pre, post = spikes((T, B, C_in, H, W), 0.3, 5), spikes((T, B, C_out, out_h, out_w), 0.3, 6)
    got = trace_stdp_conv2d(pre, post, weight, rule, DT, stride=stride, padding=padding, dilation=dilation)
    padded = _padded(pre, (ph, pw))
    naive = torch.zeros(C_out, C_in * k * k, dtype=torch.float64)
    for oh in range(out_h):
        for ow in range(out_w):
            rows = [oh * sh + a * dh for a in range(k)]
            cols = [ow * sw + b * dw_ for b in range(k)]
            patch = padded[:, :, :, rows][:, :, :, :, cols].reshape(T, B, C_in * k * k)
            naive += trace_stdp_linear(patch, post[:, :, :, oh, ow], naive, rule, DT)
    assert naive.abs().max() > 0.1
    torch.testing.assert_close(got, naive.reshape(weight.shape), atol=1e-10, rtol=0)


def test_conv2d_equals_the_per_synapse_reference_summed_over_positions():
    rule = RULES["nearest"]
    T, C_in, C_out, H, W, k, p = 16, 2, 2, 3, 3, 2, 1
    pre, post = spikes((T, 1, C_in, H, W), 0.3, 21), spikes((T, 1, C_out, H + 1, W + 1), 0.3, 22)
    got = trace_stdp_conv2d(pre, post, torch.zeros(C_out, C_in, k, k, dtype=torch.float64), rule, DT, padding=p)
    padded = _padded(pre, (p, p))
    want = np.zeros((C_out, C_in, k, k))
    for o in range(C_out):
        for c in range(C_in):
            for a in range(k):
                for b in range(k):
                    for oh in range(H + 1):
                        for ow in range(W + 1):
                            pre_steps = np.flatnonzero(padded[:, 0, c, oh + a, ow + b].numpy())
                            post_steps = np.flatnonzero(post[:, 0, o, oh, ow].numpy())
                            w, _ = trace_stdp_reference(pre_steps, post_steps, W0, rule, DT)
                            want[o, c, a, b] += w - W0
    np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=0)


def test_conv2d_chunks_of_unfold_do_not_change_the_result(monkeypatch):
    import spikeforge.plasticity.torch_stdp as ts

    rule = RULES["all_to_all"]
    pre, post = spikes((20, 2, 2, 5, 5), 0.3, 31), spikes((20, 2, 3, 4, 4), 0.3, 32)
    weight = torch.zeros(3, 2, 2, 2, dtype=torch.float64)
    whole = trace_stdp_conv2d(pre, post, weight, rule, DT)
    monkeypatch.setattr(ts, "_CHUNK_ELEMENTS", 1)  # one step per chunk
    torch.testing.assert_close(trace_stdp_conv2d(pre, post, weight, rule, DT), whole, atol=1e-12, rtol=0)


@pytest.mark.parametrize("rule_name", sorted(RULES))
@pytest.mark.parametrize("online_clip", [False, True])
@pytest.mark.parametrize("chunk_elements", [1, 40])
def test_chunks_of_traces_do_not_change_the_result(monkeypatch, rule_name, online_clip, chunk_elements):
    # debt of the previous session: the traces of the whole sequence were held at once (5-6x the spikes);
    # they are now computed a chunk of steps at a time, which must not change dw or the final state
    import spikeforge.plasticity.torch_stdp as ts

    rule = RULES[rule_name]
    if online_clip:
        rule = rule.replace(w_min=0.0, w_max=0.05)  # so that clipping acts
    pre, post = spikes((37, 3, 4), 0.3, 51), spikes((37, 3, 2), 0.3, 52)
    weight = torch.full((2, 4), 0.02, dtype=torch.float64)
    whole, final = trace_stdp_linear(pre, post, weight, rule, DT, return_state=True, online_clip=online_clip,
                                     lr1=torch.tensor([1.0, 0.0], dtype=torch.float64), lr2=torch.tensor([1.0, -1.0], dtype=torch.float64))
    monkeypatch.setattr(ts, "_CHUNK_ELEMENTS", chunk_elements)  # 1 step, or 2 steps (20 elements each) per chunk
    got, state = trace_stdp_linear(pre, post, weight, rule, DT, return_state=True, online_clip=online_clip,
                                   lr1=torch.tensor([1.0, 0.0], dtype=torch.float64), lr2=torch.tensor([1.0, -1.0], dtype=torch.float64))
    torch.testing.assert_close(got, whole, atol=1e-12, rtol=0)
    assert whole.abs().max() > 0
    for a, b in ((state.x, final.x), (state.y1, final.y1), (state.y2, final.y2)):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, atol=0, rtol=0)


# --------------------------------------------------------------------------- (d) chunks with state
@pytest.mark.parametrize("rule_name", sorted(RULES))
@pytest.mark.parametrize("online_clip", [False, True])
def test_chunked_linear_calls_with_state_equal_one_call(rule_name, online_clip):
    rule = RULES[rule_name]
    pre, post = spikes((50, 3, 4), 0.25, 41), spikes((50, 3, 2), 0.25, 42)
    weight = torch.zeros(2, 4, dtype=torch.float64)
    whole, final = trace_stdp_linear(pre, post, weight, rule, DT, return_state=True, online_clip=online_clip)
    total, state = torch.zeros_like(weight), None
    for a, b in ((0, 17), (17, 17), (17, 33), (33, 50)):  # an empty chunk too
        dw, state = trace_stdp_linear(pre[a:b], post[a:b], weight + total, rule, DT, state=state,
                                      return_state=True, online_clip=online_clip)
        total += dw
    torch.testing.assert_close(total, whole, atol=1e-10, rtol=0)
    torch.testing.assert_close(state.x, final.x)
    torch.testing.assert_close(state.y1, final.y1)
    assert (state.y2 is None) == (rule.tau_post2_ms is None)
    # without the state the second half forgets the first half's traces
    restart = trace_stdp_linear(pre[:25], post[:25], weight, rule, DT) + trace_stdp_linear(
        pre[25:], post[25:], weight, rule, DT)
    assert (restart - whole).abs().max() > 1e-3


def test_chunked_conv2d_calls_with_state_equal_one_call():
    rule = RULES["triplet_all_to_all"]
    pre, post = spikes((30, 2, 2, 5, 5), 0.25, 51), spikes((30, 2, 3, 3, 3), 0.25, 52)
    weight = torch.zeros(3, 2, 3, 3, dtype=torch.float64)
    whole = trace_stdp_conv2d(pre, post, weight, rule, DT, padding=0, reduction="mean")
    dw1, st = trace_stdp_conv2d(pre[:11], post[:11], weight, rule, DT, reduction="mean", return_state=True)
    assert st.x.shape == (2, 2, 5, 5) and st.y1.shape == (2, 3, 3, 3) and st.y2.shape == (2, 3, 3, 3)
    dw2 = trace_stdp_conv2d(pre[11:], post[11:], weight, rule, DT, reduction="mean", state=st)
    torch.testing.assert_close(dw1 + dw2, whole, atol=1e-10, rtol=0)


def test_state_is_not_modified():
    rule = RULES["nearest"]
    pre, post = spikes((10, 1, 3), 0.4, 61), spikes((10, 1, 2), 0.4, 62)
    _, st = trace_stdp_linear(pre, post, torch.zeros(2, 3), rule, DT, return_state=True)
    x, y1 = st.x.clone(), st.y1.clone()
    trace_stdp_linear(pre, post, torch.zeros(2, 3), rule, DT, state=st)
    assert torch.equal(st.x, x) and torch.equal(st.y1, y1)


# --------------------------------------------------------------------------- (e) the updater
def test_updater_as_grad_with_sgd_gives_weight_plus_dw():
    torch.manual_seed(0)
    rule = RULES["all_to_all"]
    layer = torch.nn.Linear(5, 3).double()
    w_before, b_before = layer.weight.detach().clone(), layer.bias.detach().clone()
    opt = torch.optim.SGD(layer.parameters(), lr=1.0)
    up = STDPUpdater(layer, rule, DT, as_grad=True)
    pre, post = spikes((40, 4, 5), 0.3, 71), spikes((40, 4, 3), 0.3, 72)
    opt.zero_grad()
    dw = up.step(pre, post)
    torch.testing.assert_close(dw, trace_stdp_linear(pre, post, w_before, rule, DT, reduction="mean"))
    torch.testing.assert_close(layer.weight.grad, -dw)
    opt.step()
    assert dw.abs().max() > 0.1
    torch.testing.assert_close(layer.weight.detach(), w_before + dw)
    assert torch.equal(layer.bias.detach(), b_before)  # the bias has no grad: SGD leaves it


def test_updater_applies_lr_and_clamps_to_the_rule_bounds():
    rule = TraceSTDP(a_plus=0.5, a_minus=0.3, tau_pre_ms=4.0, tau_post_ms=3.0, w_min=-0.2, w_max=0.3)
    layer = torch.nn.Linear(6, 4, bias=False).double()
    torch.nn.init.zeros_(layer.weight)
    w_before = layer.weight.detach().clone()
    pre, post = spikes((40, 2, 6), 0.3, 81), spikes((40, 2, 4), 0.3, 82)
    lr2 = torch.tensor([1.0, 1.0, -1.0, -1.0])  # All-LTD on neurons 2 and 3
    dw = STDPUpdater(layer, rule, DT, lr=0.02, reduction="sum", lr2=lr2).step(pre, post)
    torch.testing.assert_close(dw, trace_stdp_linear(pre, post, w_before, rule, DT, lr2=lr2))
    torch.testing.assert_close(layer.weight.detach(), (w_before + 0.02 * dw).clamp(-0.2, 0.3))
    assert layer.weight.min() >= -0.2 and layer.weight.max() <= 0.3
    inside = ((layer.weight > -0.2) & (layer.weight < 0.3)).sum()
    assert (layer.weight == 0.3).any() and (layer.weight == -0.2).any() and inside > 0
    # as_grad leaves the clamping to clamp_() after the optimizer
    layer2 = torch.nn.Linear(6, 4, bias=False).double()
    up = STDPUpdater(layer2, rule, DT, as_grad=True)
    up.step(pre, post)
    torch.optim.SGD(layer2.parameters(), lr=10.0).step()
    assert layer2.weight.max() > 0.3 or layer2.weight.min() < -0.2
    up.clamp_()
    assert layer2.weight.min() >= -0.2 and layer2.weight.max() <= 0.3


def test_updater_carries_traces_until_reset():
    rule = RULES["all_to_all"]
    layer = torch.nn.Linear(3, 2, bias=False)
    up = STDPUpdater(layer, rule, DT, as_grad=True)
    pre, post = spikes((30, 2, 3), 0.3, 91), spikes((30, 2, 2), 0.3, 92)
    whole = trace_stdp_linear(pre.float(), post.float(), layer.weight, rule, DT, reduction="mean")
    first = up.step(pre[:13], post[:13])
    torch.testing.assert_close(first + up.step(pre[13:], post[13:]), whole, atol=1e-5, rtol=0)
    assert up.state is not None and up.state.x.shape == (2, 3)
    carried = up.step(pre[:13], post[:13])
    up.reset()
    assert up.state is None
    torch.testing.assert_close(up.step(pre[:13], post[:13]), first)
    assert (carried - first).abs().max() > 1e-4


def test_updater_on_conv2d_matches_the_function():
    rule = RULES["nearest"]
    conv = torch.nn.Conv2d(2, 3, 3, stride=2, padding=1, bias=False).double()
    w_before = conv.weight.detach().clone()
    pre = spikes((10, 2, 2, 7, 7), 0.3, 101)
    post = spikes((10, 2, 3, 4, 4), 0.3, 102)
    dw = STDPUpdater(conv, rule, DT, reduction="sum").step(pre, post)
    torch.testing.assert_close(dw, trace_stdp_conv2d(pre, post, w_before, rule, DT, stride=2, padding=1))
    torch.testing.assert_close(conv.weight.detach(), w_before + dw)
    same = torch.nn.Conv2d(2, 3, 3, padding="same", bias=False).double()
    dw_same = STDPUpdater(same, rule, DT).step(pre, spikes((10, 2, 3, 7, 7), 0.3, 103))
    assert dw_same.shape == same.weight.shape


# --------------------------------------------------------------------------- (f) bad inputs
def _linear_args():
    return spikes((10, 2, 4), 0.3, 0), spikes((10, 2, 3), 0.3, 1), torch.zeros(3, 4)


@pytest.mark.parametrize("change,match", [
    (lambda a: {**a, "pre": a["pre"][:, 0]}, r"pre must have shape \[T, B, I\] \(time first\); got 2-D \[10, 4\]"),
    (lambda a: {**a, "pre": a["pre"][..., :3]}, r"pre must have shape \[T, B, I\] = \[\?, \?, 4\].*got \[10, 2, 3\]"),
    (lambda a: {**a, "post": a["post"][..., :2]}, r"post must have shape \[T, B, O\] = \[10, 2, 3\].*expected 3"),
    (lambda a: {**a, "post": a["post"][:9]}, r"T = 9, expected 10"),
    (lambda a: {**a, "post": a["post"][:, :1]}, r"B = 1, expected 2"),
    (lambda a: {**a, "weight": torch.zeros(3, 4, 1)}, r"weight must have shape \[O, I\]; got 3-D"),
    (lambda a: {**a, "pre": a["pre"] * float("nan")}, r"pre contains non-finite values"),
    (lambda a: {**a, "post": a["post"] + float("inf")}, r"post contains non-finite values"),
    (lambda a: {**a, "pre": a["pre"] * 0.5}, r"pre must hold 0/1 spikes; got the value 0.5"),
    (lambda a: {**a, "dt_ms": 0.0}, r"dt_ms must be a positive finite number \(ms\)"),
    (lambda a: {**a, "dt_ms": float("nan")}, r"dt_ms must be a positive finite number"),
    (lambda a: {**a, "reduction": "avg"}, r"reduction must be 'sum' or 'mean'; got 'avg'"),
    (lambda a: {**a, "lr1": torch.ones(4)}, r"lr1 must be a number or a tensor of shape \[3\]"),
    (lambda a: {**a, "lr2": float("inf")}, r"lr2 must be finite"),
    (lambda a: {**a, "rule": TraceSTDP(prune_tau_ms=100.0)}, r"prune_tau_ms\) is not supported"),
    (lambda a: {**a, "pre": a["pre"][:, :0], "post": a["post"][:, :0]}, r"batch size B >= 1"),
    (lambda a: {**a, "state": STDPTraceState(torch.zeros(3, 4), torch.zeros(3, 3))},
     r"state.x must have shape \[2, 4\].*got \[3, 4\]"),
    (lambda a: {**a, "rule": RULES["triplet_nearest"], "state": STDPTraceState(torch.zeros(2, 4), torch.zeros(2, 3))},
     r"state.y2 is None"),
])
def test_linear_rejects_bad_inputs(change, match):
    pre, post, weight = _linear_args()
    args = change({"pre": pre, "post": post, "weight": weight, "rule": RULES["all_to_all"], "dt_ms": DT})
    kwargs = {k: args.pop(k) for k in ("reduction", "lr1", "lr2", "state") if k in args}
    with pytest.raises(ValueError, match=match):
        trace_stdp_linear(args["pre"], args["post"], args["weight"], args["rule"], args["dt_ms"], **kwargs)


def test_type_errors():
    pre, post, weight = _linear_args()
    with pytest.raises(TypeError, match="rule must be a spikeforge.plasticity.TraceSTDP"):
        trace_stdp_linear(pre, post, weight, {"a_plus": 0.1}, DT)
    with pytest.raises(TypeError, match="weight must be a torch.Tensor"):
        trace_stdp_linear(pre, post, np.zeros((3, 4)), RULES["all_to_all"], DT)
    with pytest.raises(TypeError, match="layer must be a torch.nn.Linear, Conv1d or Conv2d; got Conv3d"):
        STDPUpdater(torch.nn.Conv3d(2, 3, 3), RULES["all_to_all"], DT)


def test_conv2d_rejects_bad_inputs():
    rule, weight = RULES["all_to_all"], torch.zeros(3, 2, 3, 3)
    pre, post = spikes((5, 2, 2, 6, 6), 0.3, 0), spikes((5, 2, 3, 4, 4), 0.3, 1)
    trace_stdp_conv2d(pre, post, weight, rule, DT)  # the valid call
    with pytest.raises(ValueError, match=r"post must have shape \[T, B, C_out, H', W'\] = \[5, 2, 3, 2, 2\].*H' = 4, expected 2"):
        trace_stdp_conv2d(pre, post, weight, rule, DT, stride=2)
    with pytest.raises(ValueError, match=r"pre must have shape \[T, B, C_in, H, W\].*got 4-D \[5, 2, 6, 6\]"):
        trace_stdp_conv2d(pre[:, :, 0], post, weight, rule, DT)
    with pytest.raises(ValueError, match=r"C_in = 1, expected 2"):
        trace_stdp_conv2d(pre[:, :, :1], post, weight, rule, DT)
    with pytest.raises(ValueError, match=r"smaller than the \(dilated\) 3 x 3 kernel"):
        trace_stdp_conv2d(pre[..., :2, :2], post, weight, rule, DT)
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        trace_stdp_conv2d(pre, post, weight, rule, DT, stride=0)
    with pytest.raises(ValueError, match=r"weight must have shape \[C_out, C_in, kH, kW\]"):
        trace_stdp_conv2d(pre, post, weight[0], rule, DT)


def test_updater_rejects_mismatched_layers_and_batches():
    rule = RULES["all_to_all"]
    with pytest.raises(ValueError, match="groups != 1"):
        STDPUpdater(torch.nn.Conv2d(2, 4, 3, groups=2), rule, DT)
    with pytest.raises(ValueError, match="padding_mode='zeros'"):
        STDPUpdater(torch.nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular"), rule, DT)
    with pytest.raises(ValueError, match="lr must be a finite number"):
        STDPUpdater(torch.nn.Linear(4, 3), rule, DT, lr=float("nan"))
    up = STDPUpdater(torch.nn.Linear(4, 3), rule, DT)
    with pytest.raises(ValueError, match=r"pre must have shape \[T, B, I\] = \[\?, \?, 4\].*got \[10, 2, 5\]"):
        up.step(spikes((10, 2, 5), 0.3, 0), spikes((10, 2, 3), 0.3, 1))
    up.step(spikes((10, 2, 4), 0.3, 0), spikes((10, 2, 3), 0.3, 1))
    with pytest.raises(ValueError, match="batch size changed from 2 to 5.*call reset"):
        up.step(spikes((10, 5, 4), 0.3, 0), spikes((10, 5, 3), 0.3, 1))
    up.reset()
    up.step(spikes((10, 5, 4), 0.3, 0), spikes((10, 5, 3), 0.3, 1))


# --------------------------------------------------------------------------- (g) end to end
def test_inputs_that_precede_post_spikes_grow_and_the_others_do_not():
    """Inputs 0-3 fire 2 steps before a (teacher) post spike, inputs 4-7 fire 10 steps after it."""
    rule = TraceSTDP(a_plus=0.02, a_minus=0.02, tau_pre_ms=10.0, tau_post_ms=10.0, w_min=0.0, w_max=1.0)
    layer = torch.nn.Linear(8, 1, bias=False)
    torch.nn.init.constant_(layer.weight, 0.5)
    up = STDPUpdater(layer, rule, dt_ms=1.0)
    episode_pre, episode_post = torch.zeros(40, 1, 8), torch.zeros(40, 1, 1)
    episode_pre[5, 0, :4] = 1.0
    episode_post[7, 0, 0] = 1.0
    episode_pre[17, 0, 4:] = 1.0
    for _ in range(20):
        up.step(episode_pre, episode_post)
    w = layer.weight.detach()[0]
    assert (w[:4] > 0.5 + 20 * 0.02 * math.exp(-2 / 10) * 0.9).all()  # grown by the causal window
    assert (w[4:] < 0.5).all()  # the acausal inputs were depressed


# --------------------------------------------------------------------------- (h) weight dependence (μ±)
def _soft(rule_name, mu_plus, mu_minus):
    return RULES[rule_name].replace(a_plus=0.06, a_minus=0.05, w_min=0.0, w_max=1.0, mu_plus=mu_plus, mu_minus=mu_minus)


@pytest.mark.parametrize("rule_name", sorted(RULES))
@pytest.mark.parametrize("mu_plus, mu_minus", [(1.0, 1.0), (0.5, 2.0), (0.0, 1.0), (2.0, 0.0)])
@pytest.mark.parametrize("gates", ["stdp", "all_ltd", "uneven"])
def test_weight_dependence_online_equals_the_reference(rule_name, mu_plus, mu_minus, gates):
    rule = _soft(rule_name, mu_plus, mu_minus)
    lr1, lr2 = GATES.get(gates, (0.7, 1.6))
    pre, post = spikes((50, 1, 5), 0.2, 3), spikes((50, 1, 4), 0.2, 4)
    w0 = torch.linspace(0.0, 1.0, 20, dtype=torch.float64).reshape(4, 5)  # the bounds included
    ref = reference_dw(pre, post, rule, w0=w0.numpy(), lr1=lr1, lr2=lr2)
    got = trace_stdp_linear(pre, post, w0, rule, DT, online_clip=True, lr1=lr1, lr2=lr2)
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-10, rtol=0)
    additive = reference_dw(pre, post, rule.replace(mu_plus=0.0, mu_minus=0.0), w0=w0.numpy(), lr1=lr1, lr2=lr2)
    assert np.abs(additive - ref).max() > 1e-2  # the weight dependence acts


def test_weight_dependence_with_chunks_conv2d_and_the_updater():
    rule = _soft("triplet_all_to_all", 1.0, 0.5)
    pre, post = spikes((40, 2, 3), 0.3, 5), spikes((40, 2, 2), 0.3, 6)
    w0 = torch.tensor([[0.1, 0.5, 0.9], [0.0, 1.0, 0.3]], dtype=torch.float64)
    whole = trace_stdp_linear(pre, post, w0, rule, DT, online_clip=True, reduction="mean")
    dw1, st = trace_stdp_linear(pre[:15], post[:15], w0, rule, DT, online_clip=True, reduction="mean",
                                return_state=True)
    dw2 = trace_stdp_linear(pre[15:], post[15:], w0 + dw1, rule, DT, online_clip=True, reduction="mean", state=st)
    torch.testing.assert_close(dw1 + dw2, whole, atol=1e-12, rtol=0)
    # a 1 x 1 convolution on a 1 x 1 map is the linear layer (B = 2: the factor scales the batch's change)
    conv = trace_stdp_conv2d(pre[..., None, None], post[..., None, None], w0[..., None, None], rule, DT,
                             online_clip=True, reduction="mean")
    torch.testing.assert_close(conv[..., 0, 0], whole, atol=1e-12, rtol=0)
    layer = torch.nn.Linear(3, 2, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(w0)
    dw = STDPUpdater(layer, rule, DT, online_clip=True).step(pre, post)
    torch.testing.assert_close(dw, whole)
    torch.testing.assert_close(layer.weight.detach(), w0 + whole)


def test_weight_dependence_needs_online_clip():
    rule = RULES["nearest"].replace(mu_plus=1.0)
    pre, post, weight = _linear_args()
    with pytest.raises(ValueError, match=r"mu_plus = 1.0, mu_minus = 0.0\) needs the weight at every step: "
                                         r"pass online_clip=True"):
        trace_stdp_linear(pre, post, weight, rule, DT)
    with pytest.raises(ValueError, match="pass online_clip=True"):
        trace_stdp_conv2d(pre[..., None, None], post[..., None, None], weight[..., None, None],
                          RULES["nearest"].replace(mu_minus=0.5), DT)
    with pytest.raises(ValueError, match="pass online_clip=True"):
        STDPUpdater(torch.nn.Linear(4, 3), rule, DT)
    trace_stdp_linear(pre, post, weight, rule, DT, online_clip=True)  # accepted


def test_online_clip_clips_only_synapses_with_events():
    # review bug: online_clip clamped every synapse every step, so a weight outside the bounds moved
    # with no spike at all (and with gates (0, 0)); the reference clips at events only
    rule = TraceSTDP(a_plus=0.01, a_minus=0.01, w_min=0.0, w_max=1.0)
    w = torch.tensor([[0.3, -0.5, 1.5]])
    silent_pre, silent_post = torch.zeros(4, 1, 3), torch.zeros(4, 1, 1)
    for gates in ((1.0, 1.0), (0.0, 0.0)):
        dw = trace_stdp_linear(silent_pre, silent_post, w, rule, 1.0, online_clip=True, lr1=gates[0], lr2=gates[1])
        assert torch.equal(dw, torch.zeros_like(w)), gates
    # a pre spike of input 1 only clips the synapses of input 1 (no post spike: no post-phase clip)
    pre = torch.zeros(4, 1, 3)
    pre[1, 0, 1] = 1.0
    dw = trace_stdp_linear(pre, silent_post, w, rule, 1.0, online_clip=True)
    assert torch.allclose(dw, torch.tensor([[0.0, 0.5, 0.0]]))
    # a post spike clips every synapse of that output
    post = torch.zeros(4, 1, 1)
    post[2, 0, 0] = 1.0
    dw = trace_stdp_linear(silent_pre, post, w, rule, 1.0, online_clip=True)
    assert torch.allclose(w + dw, torch.tensor([[0.3, 0.0, 1.0]]))


def test_layers_without_synapses_and_gates_with_grad():
    # review bugs: nn.Linear(3, 0) crashed in a reshape; a gate with requires_grad leaked autograd into dw
    rule = TraceSTDP()
    pre, post = (torch.rand(5, 2, 3) < 0.5).float(), torch.zeros(5, 2, 0)
    assert trace_stdp_linear(pre, post, torch.zeros(0, 3), rule, 1.0).shape == (0, 3)
    assert trace_stdp_linear(torch.zeros(5, 2, 0), torch.ones(5, 2, 4), torch.zeros(4, 0), rule, 1.0).shape == (4, 0)
    conv_w = torch.zeros(0, 2, 3, 3)
    dw = trace_stdp_conv2d(torch.ones(2, 1, 2, 5, 5), torch.zeros(2, 1, 0, 3, 3), conv_w, rule, 1.0)
    assert dw.shape == conv_w.shape
    gate = torch.ones(4, requires_grad=True)
    dw = trace_stdp_linear((torch.rand(5, 2, 3) < 0.5).float(), (torch.rand(5, 2, 4) < 0.5).float(),
                           torch.zeros(4, 3), rule, 1.0, lr2=gate)
    assert not dw.requires_grad and dw.grad_fn is None


# --------------------------------------------------------------------------- denormals
def _has_denormals(t):
    t = t.abs()
    return bool(((t > 0) & (t < torch.finfo(t.dtype).tiny)).any())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("chunked", [False, True])
def test_traces_never_become_denormal_after_long_silence(dtype, chunked):
    # τ = 2 ms at dt = 0.5 ms (decay e^-0.25 per step): a trace of order 1 is denormal after ≈ 350–413 steps
    # of silence in float32 and ≈ 2 830–2 980 in float64; the silences below end inside those windows, so
    # without the flush the final traces would be denormal (and not 0)
    rule = TraceSTDP(**{**FAR, "tau_pre_ms": 2.0, "tau_post_ms": 2.0}, tau_post2_ms=3.0)
    T = 20 + (385 if dtype == torch.float32 else 2910)
    pre, post = spikes((T, 2, 5), 0.3, 7).to(dtype), spikes((T, 2, 3), 0.3, 8).to(dtype)
    pre[20:], post[20:] = 0, 0
    post[-1] = 1  # a post spike at the very end reads the (flushed) presynaptic trace
    w = torch.zeros(3, 5, dtype=dtype)
    if chunked:
        dw, state = torch.zeros_like(w), None
        for a, b in ((0, 150), (150, T - 1), (T - 1, T)):
            d, state = trace_stdp_linear(pre[a:b], post[a:b], w, rule, DT, state=state, return_state=True)
            dw += d
    else:
        dw, state = trace_stdp_linear(pre, post, w, rule, DT, return_state=True)
    for name in ("x", "y1", "y2"):
        assert not _has_denormals(getattr(state, name)), name
    # long silence: flushed to exactly 0 (the post traces then took the final spike's bump of exactly 1)
    assert bool((state.x == 0).all()) and bool((state.y1 == 1).all()) and bool((state.y2 == 1).all())
    # the change equals the float64 per-synapse reference of the active part (the flushed tail adds < 1e-30)
    ref = reference_dw(pre[:, :1].double(), post[:, :1].double(), rule, w0=0.0)
    one = trace_stdp_linear(pre[:, :1], post[:, :1], w, rule, DT)
    torch.testing.assert_close(one.double(), torch.as_tensor(ref), atol=1e-5 if dtype == torch.float32 else 1e-12,
                               rtol=0)


def test_flush_keeps_small_normal_traces_and_the_carried_state_of_the_caller():
    from spikeforge.plasticity.torch_stdp import _flush_, _flush_every

    v = torch.tensor([1e-29, 5e-31, -5e-31, 1e-39, 0.0, 1.0])
    _flush_(v)
    assert v.tolist() == pytest.approx([1e-29, 0.0, 0.0, 0.0, 0.0, 1.0], abs=0, rel=1e-6)
    assert _flush_every(1.0, 20.0) == int(26 * math.log(2) * 20)  # 360 steps at τ = 20 ms, dt = 1 ms
    assert _flush_every(1.0, 0.1) == 1
    # the caller's state tensors are not modified in place
    rule = TraceSTDP(a_plus=0.5, a_minus=0.3, tau_pre_ms=2.0, tau_post_ms=2.0)
    st = STDPTraceState(torch.full((1, 2), 1e-37), torch.full((1, 1), 1e-37), None)
    before = st.x.clone()
    trace_stdp_linear(torch.zeros(3, 1, 2), torch.zeros(3, 1, 1), torch.zeros(1, 2), rule, DT, state=st,
                      return_state=True)
    assert torch.equal(st.x, before)


# --------------------------------------------------------------------------- config round trip
def test_updater_config_round_trip_learns_identically():
    import json

    torch.manual_seed(0)
    a, b = torch.nn.Linear(6, 3, bias=False), torch.nn.Linear(6, 3, bias=False)
    b.load_state_dict(a.state_dict())
    rule = TraceSTDP(**{**FAR, "w_min": -1.0, "w_max": 1.0}, tau_post2_ms=6.0, mu_plus=1.0)
    up = STDPUpdater(a, rule, DT, reduction="sum", lr=0.1, lr1=torch.tensor([1.0, 0.0, 1.0]), lr2=-1.0,
                     online_clip=True)
    cfg = json.loads(json.dumps(up.config()))  # JSON-able
    again = STDPUpdater.from_config(b, cfg)
    assert again.config() == up.config() and "TraceSTDP" in repr(again)
    pre, post = spikes((30, 2, 6), 0.3, 3).float(), spikes((30, 2, 3), 0.3, 4).float()
    for lo, hi in ((0, 12), (12, 30)):
        up.step(pre[lo:hi], post[lo:hi])
        again.step(pre[lo:hi], post[lo:hi])
    assert torch.equal(a.weight, b.weight)
    with pytest.raises(ValueError, match="format"):
        STDPUpdater.from_config(b, {"rule": {}})
    with pytest.raises(ValueError, match="unknown keys"):
        STDPUpdater.from_config(b, {**cfg, "colour": 1})
    with pytest.raises(ValueError, match="not a TraceSTDP"):
        STDPUpdater.from_config(b, {**cfg, "rule": {"speed": 3}})


def test_updater_config_missing_keys_are_value_errors():
    lin = torch.nn.Linear(3, 2)
    for cfg in ({"format": "spikeforge.STDPUpdater/1"}, {"format": "spikeforge.STDPUpdater/1", "rule": {}},
                {"format": "spikeforge.STDPUpdater/1", "rule": [], "dt_ms": 1.0}):
        with pytest.raises(ValueError):
            STDPUpdater.from_config(lin, cfg)


def test_stdp_through_batchnorm_changes_only_the_conv():
    from spikeforge.nn import LIF, SeqToANN

    torch.manual_seed(0)
    conv, bn = torch.nn.Conv2d(2, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4)
    net = torch.nn.Sequential(SeqToANN(conv), SeqToANN(bn), LIF(tau=2.0))
    rule = TraceSTDP(a_plus=0.05, a_minus=0.03, tau_pre_ms=5.0, tau_post_ms=5.0, w_min=-1.0, w_max=1.0)
    up = STDPUpdater(conv, rule, 1.0)
    pre = (torch.rand(12, 3, 2, 6, 6) < 0.3).float()
    bn_before = {k: v.clone() for k, v in bn.state_dict().items()}
    w_before = conv.weight.detach().clone()
    with torch.no_grad():
        post = net(pre)
    assert post.sum() > 0
    dw = up.step(pre, post)
    torch.testing.assert_close(conv.weight.detach(), (w_before + dw).clamp(-1.0, 1.0))
    assert dw.abs().sum() > 0
    for k, v in bn.state_dict().items():  # the updater never touches the BN (its running stats moved in forward)
        if k in ("weight", "bias"):
            assert torch.equal(v, bn_before[k])

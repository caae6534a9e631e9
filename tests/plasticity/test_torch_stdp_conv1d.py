"""Trace STDP on Conv1d layers: against per-position loops of the reference, the conv2d path on maps of
height 1, chunking with state (reward and eligibility included) and the updater."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spikeforge.plasticity import (  # noqa: E402
    STDPUpdater,
    trace_stdp_conv1d,
    trace_stdp_conv2d,
    trace_stdp_reference,
)

from .test_torch_stdp import DT, RULES, spikes  # noqa: E402

RULE = RULES["all_to_all"]


@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (1, 2, 2)])
def test_conv1d_equals_the_reference_per_position(stride, padding, dilation):
    T, C, O, L, k = 40, 2, 3, 9, 3  # noqa: E741
    pre = spikes((T, 1, C, L), 0.3, 1)
    L_out = (L + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    post = spikes((T, 1, O, L_out), 0.3, 2)
    w0 = 0.5
    dw = trace_stdp_conv1d(pre, post, torch.full((O, C, k), w0, dtype=torch.float64), RULE, DT, stride=stride,
                           padding=padding, dilation=dilation)
    padded = torch.nn.functional.pad(pre, (padding, padding))
    want = np.zeros((O, C, k))
    for o in range(O):
        for c in range(C):
            for j in range(k):
                for p in range(L_out):
                    pre_steps = np.flatnonzero(padded[:, 0, c, p * stride + j * dilation].numpy())
                    post_steps = np.flatnonzero(post[:, 0, o, p].numpy())
                    w, _ = trace_stdp_reference(pre_steps, post_steps, w0, RULE, DT)
                    want[o, c, j] += w - w0
    assert np.abs(want).max() > 0.1
    np.testing.assert_allclose(dw.numpy(), want, atol=1e-8, rtol=0)


def test_conv1d_chunks_with_state_and_reward_equal_one_call_and_conv2d():
    pre, post, r = spikes((30, 2, 2, 12), 0.3, 3), spikes((30, 2, 4, 10), 0.3, 4), torch.randn(30, 2, dtype=torch.float64)
    w = torch.zeros(4, 2, 3, dtype=torch.float64)
    whole, final = trace_stdp_conv1d(pre, post, w, RULE, DT, reward=r, tau_e_ms=5.0, return_state=True)
    assert final.x.shape == (2, 2, 12) and final.y1.shape == (2, 4, 10) and final.e.shape == (2, 4, 2, 3)
    as2d = trace_stdp_conv2d(pre.unsqueeze(-2), post.unsqueeze(-2), w.unsqueeze(-2), RULE, DT, reward=r, tau_e_ms=5.0)
    torch.testing.assert_close(whole, as2d.squeeze(-2))
    total, state = torch.zeros_like(w), None
    for a, b in ((0, 11), (11, 30)):
        dw, state = trace_stdp_conv1d(pre[a:b], post[a:b], w, RULE, DT, reward=r[a:b], tau_e_ms=5.0, state=state,
                                      return_state=True)
        total += dw
    torch.testing.assert_close(total, whole, atol=1e-12, rtol=0)
    torch.testing.assert_close(state.e, final.e, atol=1e-12, rtol=0)


def test_updater_on_a_conv1d_layer():
    layer = torch.nn.Conv1d(2, 4, 3, padding=1, bias=False).double()
    with torch.no_grad():
        layer.weight.fill_(0.5)
    rule = RULE.replace(w_min=-10.0, w_max=10.0, a_plus=0.01, a_minus=0.01)  # bounds never reached
    pre, post = spikes((20, 3, 2, 12), 0.3, 5), spikes((20, 3, 4, 12), 0.3, 6)
    up = STDPUpdater(layer, rule, DT, reduction="sum")
    up.step(pre[:8], post[:8])
    up.step(pre[8:], post[8:])
    want = trace_stdp_conv1d(pre, post, torch.full((4, 2, 3), 0.5, dtype=torch.float64), rule, DT, padding=1)
    torch.testing.assert_close(layer.weight.detach() - 0.5, want, atol=1e-12, rtol=0)
    assert STDPUpdater(torch.nn.Conv1d(2, 4, 3, padding="same"), rule, DT)._geometry["padding"] == 1
    with pytest.raises(ValueError, match="groups"):
        STDPUpdater(torch.nn.Conv1d(2, 4, 3, groups=2), rule, DT)


def test_conv1d_bad_shapes():
    w = torch.zeros(4, 2, 3)
    with pytest.raises(ValueError, match=r"pre must have shape \[T, B, C_in, L\]"):
        trace_stdp_conv1d(torch.zeros(5, 2, 12), torch.zeros(5, 1, 4, 10), w, RULE, DT)
    with pytest.raises(ValueError, match=r"weight must have shape \[C_out, C_in, k\]"):
        trace_stdp_conv1d(torch.zeros(5, 1, 2, 12), torch.zeros(5, 1, 4, 10), torch.zeros(4, 2, 3, 3), RULE, DT)
    with pytest.raises(ValueError, match="stride"):
        trace_stdp_conv1d(torch.zeros(5, 1, 2, 12), torch.zeros(5, 1, 4, 10), w, RULE, DT, stride=(1, 2))


def test_conv1d_errors_name_the_1d_layout():
    # review: errors came from the 2-D path and named H, W
    w = torch.zeros(3, 2, 3)
    with pytest.raises(ValueError, match=r"post must have shape \[T, B, C_out, L'\] = \[4, 2, 3, 8\]"):
        trace_stdp_conv1d(torch.zeros(4, 2, 2, 10), torch.zeros(4, 2, 3, 7), w, RULE, DT)
    with pytest.raises(ValueError, match="length L = 2 is shorter than the"):
        trace_stdp_conv1d(torch.zeros(4, 2, 2, 2), torch.zeros(4, 2, 3, 1), w, RULE, DT)
    _, st = trace_stdp_conv1d(torch.zeros(4, 2, 2, 10), torch.zeros(4, 2, 3, 8), w, RULE, DT, return_state=True)
    with pytest.raises(ValueError, match=r"state.x must have shape \[1, 2, 10\]"):
        trace_stdp_conv1d(torch.zeros(4, 1, 2, 10), torch.zeros(4, 1, 3, 8), w, RULE, DT, state=st)

"""RecurrentLIF against a naive loop of the reference LIF step: spikes, final state and gradients; without
recurrent weights it is Linear + LIF; state continuation and argument checks."""

import pytest
import torch

from spikeforge.nn import LIF, RecurrentLIF
from spikeforge.nn.functional import lif_multi_step_reference


def _naive(layer, x, v=None, s=None):
    """Step by step with the readable reference LIF (autograd through both paths)."""
    T, B, _ = x.shape
    n = layer.linear.out_features
    s = torch.zeros(B, n, dtype=x.dtype) if s is None else s
    out = []
    for t in range(T):
        i_t = x[t] @ layer.linear.weight.t() + (layer.linear.bias if layer.linear.bias is not None else 0.0)
        if layer.recurrent == "all_to_all":
            i_t = i_t + s @ layer.recurrent_linear.weight.t()
            if layer.recurrent_linear.bias is not None:
                i_t = i_t + layer.recurrent_linear.bias
        else:
            i_t = i_t + s * layer.recurrent_weight
        spk, v = lif_multi_step_reference(i_t[None], v, layer.spec)
        s = spk[0]
        out.append(s)
    return torch.stack(out), v, s


@pytest.mark.parametrize("recurrent, kwargs", [("all_to_all", dict(tau=2.0)),
                                               ("one_to_one", dict(tau=3.0, v_reset=None)),
                                               ("all_to_all", dict(decay=0.8, decay_input=False, reset="soft_delayed",
                                                                   v_reset=None, recurrent_bias=True))])
def test_equals_a_naive_loop_with_gradients(recurrent, kwargs):
    torch.manual_seed(0)
    layer = RecurrentLIF(5, 4, recurrent=recurrent, backend="torch", **kwargs).double()
    with torch.no_grad():
        layer.linear.weight.uniform_(0.0, 1.0)  # enough drive for spikes (and so recurrent input)
    x = torch.rand(15, 3, 5, dtype=torch.float64) * 1.5
    s1, (v1, last1) = layer(x, return_state=True)
    s2, v2, last2 = _naive(layer, x)
    torch.testing.assert_close(s1, s2)
    torch.testing.assert_close(v1, v2)
    assert s1.sum() > 0
    params = [p for p in layer.parameters()]
    g1 = torch.autograd.grad((s1 * torch.arange(4.0, dtype=torch.float64)).sum(), params)
    g2 = torch.autograd.grad((s2 * torch.arange(4.0, dtype=torch.float64)).sum(), params)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)
    assert any(float(g.abs().sum()) > 0 for g in g1[2:])  # the recurrent weights receive gradient


def test_without_recurrent_weights_it_is_linear_then_lif_and_state_continues():
    torch.manual_seed(1)
    layer = RecurrentLIF(6, 3, tau=2.0)
    with torch.no_grad():
        layer.recurrent_linear.weight.zero_()
    x = torch.rand(10, 2, 6) * 2
    torch.testing.assert_close(layer(x), LIF(2.0)(layer.linear(x)))
    with torch.no_grad():
        layer.recurrent_linear.weight.normal_()
    whole = layer(x)
    first, state = layer(x[:4], return_state=True)
    second = layer(x[4:], state)
    torch.testing.assert_close(torch.cat([first, second]), whole)


def test_bad_arguments():
    with pytest.raises(ValueError, match="recurrent must be"):
        RecurrentLIF(3, 2, recurrent="sparse")
    with pytest.raises(TypeError, match="step_mode"):
        RecurrentLIF(3, 2, step_mode="s")
    layer = RecurrentLIF(3, 2)
    with pytest.raises(ValueError, match=r"\[T, B, 3\]"):
        layer(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="state"):
        layer(torch.zeros(4, 2, 3), (torch.zeros(5, 2), torch.zeros(5, 2)))
    with pytest.raises(ValueError, match="NaN"):
        layer(torch.full((2, 1, 3), float("nan")))


def test_review_fixes():
    layer = RecurrentLIF(3, 2)
    with pytest.raises(ValueError):
        layer(torch.zeros(0, 2, 3))  # T = 0: as LIF
    with pytest.raises(ValueError, match="state must be the"):
        layer(torch.zeros(4, 2, 3), (torch.zeros(2, 2), None))

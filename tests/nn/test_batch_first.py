"""BatchFirst / to_time_first / to_batch_first: batch-first data around time-first layers."""

import pytest
import torch
from torch import nn

import spikeforge.nn as sfnn


def test_helpers_swap_time_and_batch():
    x = torch.randn(3, 5, 2, 4)  # [B, T, ...]
    t = sfnn.to_time_first(x)
    assert t.shape == (5, 3, 2, 4) and t.is_contiguous()
    assert torch.equal(t, x.transpose(0, 1))
    assert torch.equal(sfnn.to_batch_first(t), x) and sfnn.to_batch_first(t).is_contiguous()
    assert t.data_ptr() != x.data_ptr()  # a copy, not a strided view


@pytest.mark.parametrize("fn", [sfnn.to_time_first, sfnn.to_batch_first])
def test_helpers_refuse_fewer_than_two_dims(fn):
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fn(torch.rand(4))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fn(torch.tensor(1.0))
    with pytest.raises(TypeError):
        fn([[1.0]])


@pytest.mark.parametrize("make", [lambda: sfnn.LIF(tau=2.0, v_th=0.8), lambda: sfnn.ALIF(tau=2.0, beta=0.3, tau_a=5.0)])
def test_batch_first_lif_equals_transposed_call(make):
    torch.manual_seed(0)
    x = torch.rand(4, 9, 6) * 2  # [B, T, N]
    out = sfnn.BatchFirst(make())(x)
    ref = make()(x.transpose(0, 1)).transpose(0, 1)
    assert out.shape == (4, 9, 6) and out.is_contiguous()
    assert out.sum() > 0 and torch.equal(out, ref)
    # per-sample sequences stay per sample (not mixed across the batch)
    assert torch.equal(sfnn.BatchFirst(make())(x[1:2]), out[1:2])


def test_batch_first_gradients_match():
    torch.manual_seed(0)
    lin = nn.Linear(6, 5)
    x1 = (torch.rand(4, 9, 6) * 2).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    w = torch.randn(4, 9, 5)
    net = sfnn.BatchFirst(nn.Sequential(lin, sfnn.LIF(tau=2.0)))
    (net(x1) * w).sum().backward()
    g_lin1 = lin.weight.grad.clone()
    lin.weight.grad = None
    ref = nn.Sequential(lin, sfnn.LIF(tau=2.0))(x2.transpose(0, 1)).transpose(0, 1)
    (ref * w).sum().backward()
    assert x1.grad.abs().sum() > 0
    torch.testing.assert_close(x1.grad, x2.grad)
    torch.testing.assert_close(g_lin1, lin.weight.grad)


def test_batch_first_refuses_one_dim_input():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        sfnn.BatchFirst(sfnn.LIF())(torch.rand(7))


def test_batch_first_passes_state_through():
    torch.manual_seed(0)
    x = torch.rand(3, 8, 4) * 2
    wrapped = sfnn.BatchFirst(sfnn.ALIF(beta=0.3, tau_a=5.0, return_state=True))
    s1, st1 = wrapped(x[:, :5])
    s2, st2 = wrapped(x[:, 5:], st1)  # the state is [B, ...] and returned untouched
    s, st = wrapped(x)
    assert st.v.shape == (3, 4) and torch.equal(torch.cat([s1, s2], 1), s) and torch.equal(st2.a, st.a)
    s_lif, v = sfnn.BatchFirst(sfnn.LIF(return_state=True))(x)
    assert s_lif.shape == x.shape and v.shape == (3, 4)


def test_batch_first_refuses_outputs_without_time_first_layout():
    with pytest.raises(ValueError, match="time-first"):
        sfnn.BatchFirst(nn.Sequential(sfnn.LIF(), sfnn.MeanOverTime()))(torch.rand(3, 8, 5))
    # review bug: a time-reduced [B, N] output with N = B passed the batch check and came back transposed
    with pytest.raises(ValueError, match="time-first"):
        sfnn.BatchFirst(nn.Sequential(sfnn.LIF(), sfnn.MeanOverTime()))(torch.rand(4, 6, 4))
    # a module that flattens features keeps [T, B, F]: still accepted
    out = sfnn.BatchFirst(nn.Sequential(sfnn.LIF(), nn.Flatten(2)))(torch.rand(4, 6, 2, 2))
    assert out.shape == (4, 6, 4)
    with pytest.raises(TypeError, match="nn.Module"):
        sfnn.BatchFirst(lambda x: x)


def test_exported_from_spikeforge_nn():
    for name in ("BatchFirst", "to_time_first", "to_batch_first", "ALIF", "ALIFSpec", "ALIFState", "alif_step"):
        assert name in sfnn.__all__ and hasattr(sfnn, name)
    assert "BatchFirst" in repr(sfnn.BatchFirst(sfnn.LIF()))

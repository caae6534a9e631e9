"""SequenceDropout (one mask per sequence) and the rate / count losses, against readable re-computations."""

import pytest
import torch
import torch.nn.functional as F

import spikeforge.nn as sfnn


def test_sequence_dropout_uses_one_mask_for_all_steps():
    drop = sfnn.SequenceDropout(0.4, generator=torch.Generator().manual_seed(0))
    x = torch.ones(6, 50, 20)
    y = drop(x)
    assert torch.equal(y, y[:1].expand_as(y))  # the same at every step
    kept = y[0] != 0
    assert torch.allclose(y[0][kept], torch.tensor(1 / 0.6)) and 0.45 < kept.float().mean() < 0.75
    assert not torch.equal(drop(x), y)  # a new sequence draws a new mask
    drop.eval()
    assert drop(x) is x
    ch = sfnn.SequenceDropout(0.5, per_channel=True, generator=torch.Generator().manual_seed(1))(torch.ones(3, 4, 8, 5, 5))
    assert torch.equal(ch, ch[:, :, :, :1, :1].expand_as(ch))  # whole channels
    assert torch.equal(sfnn.SequenceDropout(1.0)(x), torch.zeros_like(x))
    assert torch.equal(sfnn.SequenceDropout(0.0)(x), x)


def test_sequence_dropout_keeps_its_mask_across_chunks_inside_carry_state():
    net = torch.nn.Sequential(sfnn.SequenceDropout(0.5, generator=torch.Generator().manual_seed(3)), sfnn.LIF(tau=2.0))
    x = torch.rand(12, 4, 16) * 2
    with sfnn.carry_state(net):
        parts = torch.cat([net(c) for c in x.split(4)])
        masks = [net[0](torch.ones(1, 4, 16)) for _ in range(2)]
        sfnn.reset_states(net)
        fresh = net[0](torch.ones(1, 4, 16))
    assert torch.equal(masks[0], masks[1]) and not torch.equal(fresh, masks[0])
    net[0].generator.manual_seed(3)
    torch.testing.assert_close(parts, net(x))  # one call with the same mask


def test_sequence_dropout_bad_arguments():
    for p in (-0.1, 1.5, float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="p"):
            sfnn.SequenceDropout(p)
    with pytest.raises(ValueError, match="time-first"):
        sfnn.SequenceDropout(0.5)(torch.ones(5))
    with pytest.raises(ValueError, match="C"):
        sfnn.SequenceDropout(0.5, per_channel=True)(torch.ones(5, 3))


def test_losses_equal_their_definitions():
    g = torch.Generator().manual_seed(0)
    out = (torch.rand(10, 4, 3, generator=g) < 0.3).float().requires_grad_()
    y = torch.tensor([0, 2, 1, 2])
    rates = out.mean(0)
    torch.testing.assert_close(sfnn.rate_cross_entropy(out, y, scale=5.0), F.cross_entropy(5.0 * rates, y))
    onehot = F.one_hot(y, 3).float()
    torch.testing.assert_close(sfnn.rate_mse(out, y), ((rates - onehot) ** 2).mean())
    torch.testing.assert_close(sfnn.rate_mse(out, y, on=0.9, off=0.1), ((rates - (0.1 + 0.8 * onehot)) ** 2).mean())
    goal = 10 * (0.2 + 0.6 * onehot)
    loss = sfnn.count_mse(out, y)
    torch.testing.assert_close(loss, ((out.sum(0) - goal) ** 2).mean())
    loss.backward()
    assert out.grad is not None and out.grad.abs().sum() > 0


def test_losses_refuse_bad_shapes_and_targets():
    out = torch.rand(5, 2, 3)
    with pytest.raises(ValueError, match=r"\[T, B, C\]"):
        sfnn.rate_mse(torch.rand(2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="class indices"):
        sfnn.count_mse(out, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="outside"):
        sfnn.rate_cross_entropy(out, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="correct_rate"):
        sfnn.count_mse(out, torch.tensor([0, 1]), correct_rate=1.5)


def test_sequence_dropout_exports_to_nir_as_identity_and_counts_in_eval():
    pytest.importorskip("nir")
    from spikeforge.interop import from_nir, to_nir

    net = torch.nn.Sequential(sfnn.SeqToANN(torch.nn.Linear(4, 6)), sfnn.LIF(tau=2.0), sfnn.SequenceDropout(0.5),
                              sfnn.SeqToANN(torch.nn.Linear(6, 2)))
    x = torch.rand(5, 3, 4) * 3
    net.eval()
    torch.testing.assert_close(from_nir(to_nir(net, (4,)))(x), net(x))
    assert {r.name: r.kind for r in sfnn.count_synops(net, x).rows} == {"0.0": "mac", "3.0": "ac"}

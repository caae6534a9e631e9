"""Running, balancing and fine-tuning converted SNNs: prefix readouts, spike counts, spike-norm
thresholds, surrogate-gradient fine-tuning (multi-step and step-by-step)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spikeforge.conversion import accuracy_over_time, convert, finetune, threshold_balance
from spikeforge.encoding import latency_encode, rate_encode
from spikeforge.nn import repeat_in_time


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)).eval()


def _toy(n=240, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 4, generator=g)
    y = (X[:, 0] + X[:, 1] > X[:, 2] + 0.5).long() + (X[:, 3] > 0.7).long()
    return X, y


def test_prefix_readout_equals_separate_runs_and_counts_spikes():
    X, y = _toy()
    snn = convert(_mlp(), X, "robust")
    r = accuracy_over_time(snn, X, y, [3, 7, 12], steps_per_batch=500)
    for T, acc, spk in zip(r["T"], r["accuracy"], r["spikes_per_image"]):
        with torch.no_grad():
            snn.set_record(True)
            out = snn(repeat_in_time(X, T))
            counts = sum(c.sum() for c in snn.spike_counts().values())
            snn.set_record(False)
        assert acc == pytest.approx(float((out.mean(0).argmax(1) == y).float().mean()))
        assert spk == pytest.approx(float(counts) / len(X))
    nonzero = float((X != 0).sum()) / len(X)
    assert r["input_spikes_per_image"] == pytest.approx([nonzero * T for T in (3, 7, 12)])


def test_rate_and_latency_encoders_plug_in():
    X, y = _toy()
    snn = convert(_mlp(), X, "max")
    g = torch.Generator().manual_seed(0)
    r = accuracy_over_time(snn, X, y, [4, 8], encode=lambda x, T, gen: rate_encode(x, T, generator=gen), generator=g)
    assert r["input_spikes_per_image"][1] > r["input_spikes_per_image"][0] > 0
    lat = accuracy_over_time(snn, X, y, [4, 8], encode=lambda x, T, gen: latency_encode(x, T), prefix=False)
    # one spike per non-zero pixel whatever T
    assert lat["input_spikes_per_image"] == pytest.approx([float((X > 0).sum()) / len(X)] * 2)


def test_threshold_balance_sets_scaled_max_input_current():
    X, _ = _toy(64)
    ann = _mlp()
    snn = convert(ann, X, "robust")
    threshold_balance(snn, X, T=6, scale_factor=0.7)
    layers = list(snn.spiking_layers().values())
    # layer 1 sees the constant current W1 x + b1 (direct input)
    assert float(layers[0].scale) == pytest.approx(0.7 * float(ann[0](X).detach().max()), rel=1e-5)
    # layer 2: the largest current it receives from the balanced layer 1 over data and steps
    seen = []
    h = layers[1].register_forward_pre_hook(lambda m, inp: seen.append(float(inp[0].max())))
    with torch.no_grad():
        snn(repeat_in_time(X, 6))
    h.remove()
    assert float(layers[1].scale) == pytest.approx(0.7 * max(seen), rel=1e-5)
    assert snn.method.startswith("spike-norm")


def _loss(snn, X, y, T):
    with torch.no_grad():
        return float(F.cross_entropy(snn(repeat_in_time(X, T)).mean(0), y))


def _fit(ann, X, y):
    """A quick full-batch Adam fit of the ANN (150 steps)."""
    opt = torch.optim.Adam(ann.parameters(), 1e-2)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(ann(X), y).backward()
        opt.step()
    return ann.eval()


def test_finetune_lowers_the_loss_at_small_T():
    X, y = _toy()
    snn = convert(_fit(_mlp(), X, y), X, "robust")
    before = _loss(snn, X, y, 3)
    w0 = snn.net[0].weight.detach().clone()
    hist = finetune(snn, X, y, T=3, epochs=4, lr=3e-3, batch_size=32, generator=torch.Generator().manual_seed(0))
    assert len(hist) == 4 and hist[-1]["batches"] == 8
    assert not torch.equal(w0, snn.net[0].weight)
    assert _loss(snn, X, y, 3) < 0.8 * before
    assert not snn.training


class _Res(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.a, self.act1 = nn.Linear(4, 4), nn.ReLU()
        self.b, self.act2 = nn.Linear(4, 4), nn.ReLU()
        self.out = nn.Linear(4, 3)

    def forward(self, x):
        h = self.act1(self.a(x))
        return self.out(self.act2(self.b(h) + h))


def test_finetune_step_by_step_network_gets_gradients_through_time():
    X, y = _toy(120)
    snn = convert(_fit(_Res(), X, y), X, "robust")
    assert snn.mode == "step"
    before = _loss(snn, X, y, 3)
    finetune(snn, X, y, T=3, epochs=4, lr=3e-3, batch_size=30, generator=torch.Generator().manual_seed(0))
    assert _loss(snn, X, y, 3) < before


def test_fractional_epochs_and_bad_arguments():
    X, y = _toy(64)
    snn = convert(_mlp(), X, "max")
    hist = finetune(snn, X, y, T=2, epochs=0.5, batch_size=8)
    assert hist[0]["batches"] == 4
    with pytest.raises(ValueError):
        finetune(snn, X, y, T=0)
    with pytest.raises(ValueError):
        finetune(snn, X, y[:10], T=2)
    with pytest.raises(ValueError):
        accuracy_over_time(snn, X, y, [0, 4])
    with pytest.raises(ValueError):
        threshold_balance(snn, X, T=0)
    for p in snn.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="trainable"):
        finetune(snn, X, y, T=2)


# ---------------------------------------------------------------------------- review regressions
def _dropout_snn():
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    X, y = _toy(64)
    return convert(ann.eval(), X, "max"), X, y


def _flags(snn):
    return [m.training for m in snn.modules()]


@pytest.mark.parametrize("helper", ["accuracy_over_time", "threshold_balance", "finetune"])
def test_helpers_restore_every_training_flag(helper):
    snn, X, y = _dropout_snn()
    run = {
        "accuracy_over_time": lambda: accuracy_over_time(snn, X, y, [2, 4]),
        "threshold_balance": lambda: threshold_balance(snn, X, T=3),
        "finetune": lambda: finetune(snn, X, y, T=2, epochs=0.25, batch_size=16),
    }[helper]
    assert not any(_flags(snn))
    run()
    assert not any(_flags(snn))  # the Dropout stays off
    x_seq = repeat_in_time(X[:8], 4)
    with torch.no_grad():
        assert torch.equal(snn(x_seq), snn(x_seq))
    snn.train()
    snn.net[2].eval()  # mixed flags come back one by one
    before = _flags(snn)
    run()
    assert _flags(snn) == before


def test_eval_helpers_run_with_dropout_off():
    snn, X, y = _dropout_snn()
    ref = accuracy_over_time(snn, X, y, [3])
    snn.train()
    assert accuracy_over_time(snn, X, y, [3]) == ref


def test_threshold_balance_reads_a_generator_once_per_layer():
    X, _ = _toy(64)
    a = convert(_mlp(), X, "max")
    b = convert(_mlp(), X, "max")
    threshold_balance(a, X, T=4, batch_size=16)
    threshold_balance(b, (X[i : i + 16] for i in range(0, 64, 16)), T=4)
    assert {k: float(v) for k, v in a.scales().items()} == pytest.approx({k: float(v) for k, v in b.scales().items()})


def test_threshold_balance_refuses_non_finite_data():
    X, _ = _toy(64)
    X[20, 1] = float("nan")
    with pytest.raises(ValueError, match=r"batch 1 .*NaN or inf"):
        threshold_balance(convert(_mlp(), X[:16], "max"), X, T=2, batch_size=16)


@pytest.mark.parametrize("T", [2.5, 0, -1, True, "4"])
def test_time_steps_must_be_positive_integers(T):
    X, y = _toy(32)
    snn = convert(_mlp(), X, "max")
    with pytest.raises(ValueError, match="T must be a positive integer"):
        threshold_balance(snn, X, T=T)
    with pytest.raises(ValueError, match="T must be a positive integer"):
        finetune(snn, X, y, T=T)
    with pytest.raises(ValueError, match="positive integers"):
        accuracy_over_time(snn, X, y, [4, T])


def test_empty_data_is_refused():
    X, y = _toy(32)
    snn = convert(_mlp(), X, "max")
    with pytest.raises(ValueError, match="empty"):
        accuracy_over_time(snn, X[:0], y[:0], [2])
    with pytest.raises(ValueError, match="empty"):
        finetune(snn, X[:0], y[:0], T=2)


def test_labels_must_be_integers():
    X, y = _toy(32)
    snn = convert(_mlp(), X, "max")
    with pytest.raises(TypeError, match="integer"):
        accuracy_over_time(snn, X, y.float(), [2])
    with pytest.raises(TypeError, match="integer"):
        finetune(snn, X, y.float(), T=2)


def test_finetune_accepts_int32_labels():
    X, y = _toy(64)
    a = convert(_mlp(), X, "max")
    b = convert(_mlp(), X, "max")
    ha = finetune(a, X, y, T=2, epochs=1, batch_size=16, generator=torch.Generator().manual_seed(0))
    hb = finetune(b, X, y.int(), T=2, epochs=1, batch_size=16, generator=torch.Generator().manual_seed(0))
    assert ha == hb
    assert accuracy_over_time(a, X, y, [2]) == accuracy_over_time(b, X, y.int(), [2])


def test_accuracy_over_time_restores_recording():
    X, y = _toy(32)
    snn = convert(_mlp(), X, "max")
    snn.set_record(True)
    with torch.no_grad():
        snn(repeat_in_time(X, 5))
    counts = {k: v.clone() for k, v in snn.spike_counts().items()}
    accuracy_over_time(snn, X, y, [2, 3])
    assert all(m.record for m in snn.spiking_layers().values())
    after = snn.spike_counts()
    assert after.keys() == counts.keys() and all(torch.equal(after[k], counts[k]) for k in counts)
    snn.set_record(False)
    accuracy_over_time(snn, X, y, [2])
    assert not any(m.record for m in snn.spiking_layers().values()) and snn.spike_counts() == {}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_accuracy_over_time_on_cuda_matches_cpu():
    X, y = _toy(64)
    snn = convert(_mlp(), X, "max")
    ref = accuracy_over_time(snn, X, y, [2, 5])
    snn.cuda()
    got = accuracy_over_time(snn, X.cuda(), y.cuda(), [2, 5])
    assert got["accuracy"] == pytest.approx(ref["accuracy"])
    assert got["spikes_per_image"] == pytest.approx(ref["spikes_per_image"], rel=1e-5)
    threshold_balance(snn, X.cuda(), T=3)
    assert all(s.device.type == "cuda" for s in snn.scales().values())

"""Calibration statistics: histogram percentiles vs exact quantiles, hand-made activations, bad inputs."""

import math

import pytest
import torch
from torch import nn

from spikeforge.conversion import activation_scales, percentile_from_histogram


def nearest_rank(x: torch.Tensor, q: float) -> float:
    """The smallest value with at least q % of the data at or below it."""
    n = x.numel()
    return float(torch.sort(x.flatten()).values[math.ceil(q * n / 100 - 1e-9 * n) - 1])


def test_percentile_from_histogram_matches_nearest_rank():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(20000, generator=g) ** 3 * 5.0
    bins = 4096
    hist = torch.bincount((x / x.max() * bins).clamp(0, bins - 1).long(), minlength=bins)
    for q in (50.0, 90.0, 99.0, 99.9):
        got = percentile_from_histogram(hist, x.max(), q)
        assert abs(float(got) - nearest_rank(x, q)) <= float(x.max()) / bins + 1e-6
    assert float(percentile_from_histogram(hist, x.max(), 100.0)) == pytest.approx(float(x.max()))


class _Pass(nn.Module):
    """The input, through a ReLU: activations equal the (non-negative) data."""

    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(x)


def test_max_robust_and_channel_on_known_activations():
    # 2 channels: channel 0 holds 0..999, channel 1 holds 0..99 (×10 repeats); plus negatives (→ 0)
    c0 = torch.arange(1000.0)
    c1 = torch.arange(100.0).repeat(10)
    data = torch.stack([c0, c1], 1)  # [1000, 2]
    data = torch.cat([data, -torch.ones(1000, 2)])  # 2000 samples, half zero after the ReLU
    m = _Pass()
    assert float(activation_scales(m, data, method="max")["act"]) == 999.0
    rob = float(activation_scales(m, data, method="robust", percentile=99.9, bins=100000)["act"])
    # 4000 values: 2000 zeros, 0..999 and 10 × 0..99; rank ceil(0.999·4000) = 3996 is the value 995
    assert nearest_rank(torch.relu(data), 99.9) == 995.0
    assert 995.0 <= rob <= 995.0 + 999 / 100000
    ch = activation_scales(m, data, method="channel", percentile=100.0)["act"]
    assert ch.tolist() == [999.0, 99.0]
    ch90 = activation_scales(m, data, method="channel", percentile=90.0, bins=100000)["act"]
    exact90 = [nearest_rank(torch.relu(data[:, c]), 90.0) for c in range(2)]  # 799 and 79
    assert exact90 == [799.0, 79.0]
    assert ch90.tolist() == pytest.approx(exact90, abs=0.02)


def test_dead_channel_gets_the_layer_value():
    data = torch.stack([torch.rand(500) + 1.0, -torch.rand(500)], 1)
    ch = activation_scales(_Pass(), data, method="channel", percentile=100.0)["act"]
    assert ch[1] == ch[0] == data[:, 0].max()


def test_dead_layer_warns_and_uses_one():
    with pytest.warns(UserWarning, match="never positive"):
        s = activation_scales(_Pass(), -torch.rand(50, 3), method="max")
    assert float(s["act"]) == 1.0


def test_batches_from_an_iterable_of_tuples():
    data = torch.rand(100, 4)
    loader = [(data[i : i + 30], torch.zeros(len(data[i : i + 30]))) for i in range(0, 100, 30)]
    a = activation_scales(_Pass(), loader, method="robust", percentile=95)
    b = activation_scales(_Pass(), data, method="robust", percentile=95, batch_size=7)
    assert float(a["act"]) == pytest.approx(float(b["act"]))


class _Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.lin(self.act(x)))


def test_module_called_twice_is_refused():
    with pytest.raises(ValueError, match="called 2 times"):
        activation_scales(_Twice(), torch.rand(5, 3))


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"method": "median"}, ValueError),
        ({"percentile": 0.0}, ValueError),
        ({"percentile": 101}, ValueError),
        ({"bins": 1}, ValueError),
    ],
)
def test_bad_arguments(kwargs, exc):
    with pytest.raises(exc):
        activation_scales(_Pass(), torch.rand(5, 3), **kwargs)


def test_bad_data():
    with pytest.raises(ValueError, match="non-empty"):
        activation_scales(_Pass(), torch.empty(0, 3))
    with pytest.raises(TypeError):
        activation_scales(_Pass(), 3.0)
    with pytest.raises(ValueError, match="no ReLU"):
        activation_scales(nn.Linear(3, 3), torch.rand(4, 3))


# ---------------------------------------------------------------------------- review regressions
@pytest.mark.parametrize("method", ["max", "robust", "channel"])
def test_single_pass_generator_is_buffered(method):
    # percentiles need two passes; a generator can be read once: it is buffered, not "empty"
    data = torch.rand(100, 4) * 3 - 1
    gen = (data[i : i + 30] for i in range(0, 100, 30))
    a = activation_scales(_Pass(), gen, method=method, percentile=95)
    b = activation_scales(_Pass(), data, method=method, percentile=95, batch_size=30)
    assert torch.equal(a["act"], b["act"])
    # an iterator of (x, y) tuples as well
    it = iter([(data[i : i + 30], torch.zeros(30)) for i in range(0, 100, 30)])
    assert torch.equal(activation_scales(_Pass(), it, method=method, percentile=95)["act"], b["act"])


class _OncePerIter:
    """Re-iterable in form (``iter()`` gives a fresh object) but empty after the first pass."""

    def __init__(self, batches):
        self.batches = list(batches)

    def __iter__(self):
        batches, self.batches = self.batches, []
        return iter(batches)


def test_iterable_that_runs_dry_on_the_second_pass_is_named():
    with pytest.raises(ValueError, match="second pass"):
        activation_scales(_Pass(), _OncePerIter([torch.rand(5, 3)]), method="robust")


@pytest.mark.parametrize("method", ["max", "robust", "channel"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_calibration_data_names_the_batch(method, bad):
    data = torch.rand(40, 3)
    data[17, 1] = bad
    with pytest.raises(ValueError, match=r"batch 2 .*NaN or inf"):
        activation_scales(_Pass(), data, method=method, batch_size=8)
    batches = [data[i : i + 10] for i in range(0, 40, 10)]
    with pytest.raises(ValueError, match=r"batch 1 .*NaN or inf"):
        activation_scales(_Pass(), batches, method=method)


def test_non_finite_activation_is_named():
    m = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
    with torch.no_grad():
        m[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"'1'.*NaN or inf"):
        activation_scales(m, torch.rand(10, 3), method="robust")


@pytest.mark.parametrize("bs", [0, -1, 2.5, True])
def test_batch_size_must_be_a_positive_integer(bs):
    with pytest.raises(ValueError, match="batch_size"):
        activation_scales(_Pass(), torch.rand(10, 3), method="max", batch_size=bs)


def test_train_mode_model_is_calibrated_in_eval_mode_and_left_as_it_was():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.ReLU())
    model.train()
    model[2].eval()  # mixed flags are restored one by one
    state = {k: v.clone() for k, v in model.state_dict().items()}
    X = torch.randn(50, 3)
    a = activation_scales(model, X, method="robust")
    model[2].train()
    b = activation_scales(model, X, method="robust")
    assert torch.equal(a["3"], b["3"])  # no dropout noise, no batch statistics
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())  # BN running stats untouched
    assert [m.training for m in model.modules()] == [True, True, True, True, True]
    model[2].eval()
    activation_scales(model, X, method="max")
    assert [m.training for m in model.modules()] == [True, True, True, False, True]
    ref = model.eval()(X).detach().clamp(min=0).max()
    assert float(activation_scales(model, X, method="max")["3"]) == pytest.approx(float(ref))

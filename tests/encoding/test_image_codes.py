"""Image latency (time-to-first-spike) and rate codes: hand-computed spike times, shapes, bad inputs."""

import math

import pytest
import torch

from spikeforge.encoding import latency_encode, latency_times, rate_encode


def test_linear_latency_times_hand_computed():
    x = torch.tensor([1.0, 0.5, 0.0, 0.25, 0.8])
    # t = round((1 − x)·(T − 1)), T = 5; x = 0 never fires (reported as T)
    assert latency_times(x, 5).tolist() == [0, 2, 5, 3, 1]


def test_linear_threshold_silences_dim_pixels():
    x = torch.tensor([0.05, 0.1, 0.11])
    assert latency_times(x, 11, threshold=0.1).tolist() == [11, 11, 9]  # round(0.89·10)


def test_log_latency_times_hand_computed():
    x = torch.tensor([1.0, 0.1, 0.01, 0.001, 0.0005, 0.0])
    # t = round(3·ln x / ln 0.001): 0, 1, 2, 3; below x_min never
    assert latency_times(x, 4, mode="log").tolist() == [0, 1, 2, 3, 4, 4]


def test_log_latency_with_threshold_as_x_min():
    x = torch.tensor([1.0, 0.5, 0.25, 0.2])
    t = latency_times(x, 9, mode="log", threshold=0.25)
    # x_min = 0.25: t = round(8·ln x / ln 0.25) = 0, 4, (0.25 is not above the threshold) never, never
    assert t.tolist() == [0, 4, 9, 9]
    assert math.log(0.5) / math.log(0.25) == pytest.approx(0.5)


def test_latency_encode_one_spike_at_its_time():
    x = torch.tensor([[1.0, 0.5], [0.0, 0.75]])
    s = latency_encode(x, 5)
    assert s.shape == (5, 2, 2)
    assert s.sum(0).tolist() == [[1.0, 1.0], [0.0, 1.0]]
    assert s[0, 0, 0] == 1 and s[2, 0, 1] == 1 and s[1, 1, 1] == 1


def test_latency_encode_amplitude_and_T1():
    x = torch.tensor([0.2, 0.9, 0.0])
    s = latency_encode(x, 1, amplitude=3.0)
    assert s.tolist() == [[3.0, 3.0, 0.0]]


def test_brighter_fires_no_later():
    x = torch.rand(1000)
    for mode in ("linear", "log"):
        t = latency_times(x, 16, mode=mode).float()
        order = torch.argsort(x)
        assert bool((t[order][1:] <= t[order][:-1]).all())


def test_rate_encode_extremes_are_exact_and_mean_matches():
    g = torch.Generator().manual_seed(0)
    x = torch.tensor([0.0, 1.0, 0.3])
    s = rate_encode(x, 4000, generator=g)
    assert s.shape == (4000, 3)
    assert s[:, 0].sum() == 0 and s[:, 1].sum() == 4000
    assert abs(float(s[:, 2].mean()) - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 4000)


def test_rate_encode_gain_and_determinism():
    x = torch.full((2, 3), 1.0)
    a = rate_encode(x, 2000, gain=0.25, generator=torch.Generator().manual_seed(1))
    b = rate_encode(x, 2000, gain=0.25, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert abs(float(a.mean()) - 0.25) < 0.02


@pytest.mark.parametrize(
    "call",
    [
        lambda: latency_times(torch.tensor([1.5]), 4),
        lambda: latency_times(torch.tensor([-0.1]), 4),
        lambda: latency_times(torch.tensor([float("nan")]), 4),
        lambda: latency_times(torch.tensor([0.5]), 0),
        lambda: latency_times(torch.tensor([0.5]), 4, mode="exp"),
        lambda: latency_times(torch.tensor([0.5]), 4, threshold=1.0),
        lambda: rate_encode(torch.tensor([0.5]), 4, gain=0.0),
        lambda: rate_encode(torch.tensor([2.0]), 4),
    ],
)
def test_bad_values(call):
    with pytest.raises(ValueError):
        call()


def test_bad_types():
    with pytest.raises(TypeError):
        latency_encode(torch.tensor([1, 2], dtype=torch.uint8), 4)
    with pytest.raises(TypeError):
        rate_encode([0.5], 4)


def test_latency_encode_amplitude_must_fit_an_integer_dtype():
    """Regression (review, doubtful): an integer dtype with a fractional amplitude gave zeros."""
    x = torch.tensor([0.2, 0.9, 0.0])
    with pytest.raises(ValueError, match="amplitude"):
        latency_encode(x, 4, amplitude=0.5, dtype=torch.int64)
    with pytest.raises(ValueError, match="amplitude"):
        latency_encode(x, 4, amplitude=300.0, dtype=torch.uint8)
    with pytest.raises(ValueError, match="amplitude"):
        latency_encode(x, 4, amplitude=2.0, dtype=torch.bool)
    s = latency_encode(x, 4, amplitude=4.0, dtype=torch.uint8)
    assert s.dtype == torch.uint8 and s.sum(0).tolist() == [4, 4, 0]
    assert latency_encode(x, 4, dtype=torch.bool).sum(0).tolist() == [1, 1, 0]

"""Bernoulli / Poisson rate trains (``spikeforge.encoding.rate``): argument validation."""

import numpy as np
import pytest
import torch

from spikeforge.encoding import bernoulli_spikes, poisson_spikes


@pytest.mark.parametrize("n_steps", [2.0, True, 2.7, "3", None])
def test_bernoulli_n_steps_must_be_an_integer(n_steps):
    """Regression (review #11): a float or bool ``n_steps`` gave an obscure ``torch.rand`` TypeError."""
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        bernoulli_spikes(torch.tensor([0.5]), n_steps)


def test_bernoulli_n_steps_range_and_numpy_integers():
    with pytest.raises(ValueError, match=">= 1"):
        bernoulli_spikes(torch.tensor([0.5]), 0)
    g = torch.Generator().manual_seed(0)
    assert bernoulli_spikes(torch.tensor([0.5, 1.0]), np.int64(3), generator=g).shape == (3, 2)


def test_poisson_duration_shorter_than_half_a_step_raises():
    """Regression (review, doubtful): 0.3 ms at dt = 1 ms silently became one full step."""
    with pytest.raises(ValueError, match="half a step"):
        poisson_spikes(torch.tensor([500.0]), 0.3, 1.0)
    with pytest.raises(ValueError, match="half a step"):
        poisson_spikes(torch.tensor([500.0]), 0.5, 1.0)  # round(0.5) = 0 steps
    assert poisson_spikes(torch.tensor([500.0]), 0.6, 1.0).shape == (1, 1)  # rounds to 1 step


@pytest.mark.parametrize(
    "args, msg",
    [
        ((torch.tensor([5.0]), 10.0, float("nan")), "dt_ms"),
        ((torch.tensor([5.0]), float("inf"), 1.0), "duration_ms"),
        ((torch.tensor([5.0]), float("nan"), 1.0), "duration_ms"),
        ((torch.tensor([float("nan")]), 10.0, 1.0), "rate_hz"),
        ((torch.tensor([-5.0]), 10.0, 1.0), "rate_hz"),
        ((torch.tensor([1500.0]), 10.0, 1.0), "exceeds 1"),
    ],
)
def test_poisson_bad_values_raise_value_error(args, msg):
    """dt NaN gave 'cannot convert float NaN to integer', an infinite duration an OverflowError."""
    with pytest.raises(ValueError, match=msg):
        poisson_spikes(*args)


def test_poisson_keeps_float64_rates():
    """float64 rates are not rounded to float32 before the p ≤ 1 check and the draw."""
    just_above = torch.tensor([1000.0 + 1e-9], dtype=torch.float64)  # float32 would round to 1000
    with pytest.raises(ValueError, match="exceeds 1"):
        poisson_spikes(just_above, 5.0, 1.0)
    s = poisson_spikes(torch.tensor([1000.0], dtype=torch.float64), 5.0, 1.0, dtype=torch.float64)
    assert s.dtype == torch.float64 and s.sum() == 5
    # integer rates still work
    assert poisson_spikes(torch.tensor([0, 1000]), 3.0, 1.0).sum(0).tolist() == [0, 3]

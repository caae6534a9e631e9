"""Rate coding: Bernoulli and Poisson spike trains, time-first ``[T, ...]``."""

from __future__ import annotations

import torch

__all__ = ["bernoulli_spikes", "poisson_spikes"]


def bernoulli_spikes(
    prob: torch.Tensor,
    n_steps: int,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Independent Bernoulli spikes with per-input probability per step.

    Parameters
    ----------
    prob : Tensor of shape [...]
        Spike probability per step, in [0, 1].
    n_steps : int
        Number of time steps ``T`` (≥ 1).
    generator : torch.Generator, optional
        Explicit random state.
    dtype : torch.dtype
        Output dtype (0/1 values).

    Returns
    -------
    Tensor of shape [T, ...]
    """
    prob = torch.as_tensor(prob)
    if not torch.is_floating_point(prob):
        prob = prob.to(torch.float32)
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1; got {n_steps}")
    if torch.isnan(prob).any() or (prob < 0).any() or (prob > 1).any():
        raise ValueError("prob must lie in [0, 1] and contain no NaN")
    u = torch.rand((n_steps, *prob.shape), generator=generator, device=prob.device)
    return (u < prob.unsqueeze(0)).to(dtype)


def poisson_spikes(
    rate_hz: torch.Tensor,
    duration_ms: float,
    dt_ms: float = 1.0,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Poisson spike trains approximated by Bernoulli(``rate·dt/1000``) per step.

    Parameters
    ----------
    rate_hz : Tensor of shape [...]
        Firing rates (Hz), non-negative, with ``rate_hz·dt_ms/1000 ≤ 1``.
    duration_ms : float
        Length of the train (ms); ``T = round(duration_ms / dt_ms)`` steps.
    dt_ms : float
        Step (ms).

    Returns
    -------
    Tensor of shape [T, ...] of 0/1 values.
    """
    rate = torch.as_tensor(rate_hz, dtype=torch.float32)
    if dt_ms <= 0 or duration_ms <= 0:
        raise ValueError(f"duration_ms and dt_ms must be positive; got {duration_ms}, {dt_ms}")
    p = rate * (dt_ms / 1000.0)
    if (p > 1).any():
        raise ValueError(
            f"rate·dt/1000 exceeds 1 (max rate {float(rate.max()):.4g} Hz at dt = {dt_ms} ms); "
            "lower the rate or the step"
        )
    n_steps = max(int(round(duration_ms / dt_ms)), 1)
    return bernoulli_spikes(p, n_steps, generator=generator, dtype=dtype)

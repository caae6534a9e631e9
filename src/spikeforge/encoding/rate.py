"""Rate coding: Bernoulli and Poisson spike trains, time-first ``[T, ...]``."""

from __future__ import annotations

import math

import torch

from .._validation import check_n_steps

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
    Tensor of shape [T, ...], on the device of ``prob``.

    Raises
    ------
    TypeError
        If ``n_steps`` is not an integer (a float or a bool).
    ValueError
        If ``n_steps < 1`` or ``prob`` has a value outside [0, 1] or a NaN.
    """
    prob = torch.as_tensor(prob)
    if not torch.is_floating_point(prob):
        prob = prob.to(torch.float32)
    n_steps = check_n_steps(n_steps)
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
        Firing rates (Hz), finite and non-negative, with ``rate_hz·dt_ms/1000 ≤ 1``. The
        probability is computed in the rates' floating dtype (float32 for integer rates).
    duration_ms : float
        Length of the train (ms); ``T = round(duration_ms / dt_ms)`` steps, which must be
        at least 1 (the duration must exceed half a step).
    dt_ms : float
        Step (ms), finite and > 0.
    generator : torch.Generator, optional
        Explicit random state.
    dtype : torch.dtype
        Output dtype (0/1 values).

    Returns
    -------
    Tensor of shape [T, ...] of 0/1.

    Raises
    ------
    ValueError
        If ``dt_ms`` or ``duration_ms`` is not finite and positive, the duration rounds to
        0 steps, a rate is negative or NaN, or ``rate_hz·dt_ms/1000 > 1``.
    """
    rate = torch.as_tensor(rate_hz)
    if not torch.is_floating_point(rate):
        rate = rate.to(torch.float32)
    duration_ms, dt_ms = float(duration_ms), float(dt_ms)
    if not (math.isfinite(dt_ms) and dt_ms > 0):
        raise ValueError(f"dt_ms must be finite and positive; got {dt_ms}")
    if not (math.isfinite(duration_ms) and duration_ms > 0):
        raise ValueError(f"duration_ms must be finite and positive; got {duration_ms}")
    n_steps = int(round(duration_ms / dt_ms))
    if n_steps < 1:
        raise ValueError(
            f"duration_ms = {duration_ms} rounds to 0 steps of dt = {dt_ms} ms; the duration "
            "must be more than half a step"
        )
    if torch.isnan(rate).any() or (rate < 0).any():
        raise ValueError("rate_hz must be non-negative and contain no NaN")
    p = rate * (dt_ms / 1000.0)
    if (p > 1).any():
        raise ValueError(
            f"rate·dt/1000 exceeds 1 (max rate {float(rate.max()):.4g} Hz at dt = {dt_ms} ms); "
            "lower the rate or the step"
        )
    return bernoulli_spikes(p, n_steps, generator=generator, dtype=dtype)

"""Loss functions on time-first spike (or membrane) outputs ``[T, B, C]`` of a classifier.

The three readouts users of snnTorch and SpikingJelly reach for, with the time axis first:

- :func:`rate_cross_entropy`: cross-entropy of the firing rates (the mean over time) used as logits;
- :func:`rate_mse`: mean squared error between the firing rates and a one-hot target (SpikingJelly's examples);
- :func:`count_mse`: mean squared error between spike counts and target counts, ``correct_rate·T`` for the
  target class and ``incorrect_rate·T`` for the others (snnTorch's ``mse_count_loss``).

Rates are spikes per step (multiply by ``1/dt`` for Hz); counts are spikes over the ``T`` steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._validation import check_number

__all__ = ["count_mse", "rate_cross_entropy", "rate_mse"]


def _check(out: torch.Tensor, target: torch.Tensor) -> tuple[int, int, int]:
    if not isinstance(out, torch.Tensor) or out.dim() != 3 or not out.is_floating_point():
        raise ValueError(f"out must be a floating [T, B, C] tensor (time first); got {getattr(out, 'shape', type(out))}")
    T, B, C = out.shape
    if not isinstance(target, torch.Tensor) or target.shape != (B,) or target.dtype not in (torch.int64, torch.int32,
                                                                                         torch.int16, torch.uint8):
        raise ValueError(f"target must be an integer tensor of class indices [B] = [{B}]; got "
                         f"{getattr(target, 'dtype', type(target))} of shape {tuple(getattr(target, 'shape', ()))}")
    if B and (int(target.min()) < 0 or int(target.max()) >= C):
        raise ValueError(f"target holds class indices outside [0, {C}); got {int(target.min())}..{int(target.max())}")
    return T, B, C


def rate_cross_entropy(out: torch.Tensor, target: torch.Tensor, *, scale: float = 1.0) -> torch.Tensor:
    """Cross-entropy of the firing rates as logits: ``CE(scale · mean_t out[t], target)``.

    Parameters
    ----------
    out : Tensor [T, B, C]
        Output spikes (or any per-step output) of the last layer.
    target : Tensor [B], integer
        Class indices.
    scale : float, default 1
        Multiplies the rates (in [0, 1] for spikes) before the softmax: a larger scale sharpens it.

    Returns
    -------
    Tensor (scalar): the mean over the batch.
    """
    _check(out, target)
    scale = check_number(scale, "scale", low=0.0)
    return F.cross_entropy(out.mean(0) * scale, target.long())


def rate_mse(out: torch.Tensor, target: torch.Tensor, *, on: float = 1.0, off: float = 0.0) -> torch.Tensor:
    """Mean squared error between the firing rates ``mean_t out[t]`` ``[B, C]`` and ``on`` for the target class,
    ``off`` for the others (spikes per step; SpikingJelly's examples use ``on=1, off=0``)."""
    _, _, C = _check(out, target)
    on, off = check_number(on, "on"), check_number(off, "off")
    goal = torch.full_like(out[0], off).scatter_(1, target.long().view(-1, 1), on)
    return F.mse_loss(out.mean(0), goal)


def count_mse(out: torch.Tensor, target: torch.Tensor, *, correct_rate: float = 0.8,
              incorrect_rate: float = 0.2) -> torch.Tensor:
    """Mean squared error between spike counts ``Σ_t out[t]`` ``[B, C]`` and ``correct_rate·T`` (target class) /
    ``incorrect_rate·T`` (others), as snnTorch's ``mse_count_loss``; rates are spikes per step in ``[0, 1]``."""
    T, _, _ = _check(out, target)
    for name, r in (("correct_rate", correct_rate), ("incorrect_rate", incorrect_rate)):
        v = check_number(r, name, low=0.0, low_inclusive=True)
        if v > 1.0:
            raise ValueError(f"{name} must be a rate of spikes per step in [0, 1]; got {v}")
    goal = torch.full_like(out[0], incorrect_rate * T).scatter_(1, target.long().view(-1, 1), correct_rate * T)
    return F.mse_loss(out.sum(0), goal)

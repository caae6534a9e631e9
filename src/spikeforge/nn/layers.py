"""Glue between stateless ANN layers and time-first spiking tensors."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MeanOverTime", "SeqToANN", "repeat_in_time"]


class SeqToANN(nn.Sequential):
    """Apply stateless layers to a sequence by folding time into the batch.

    ``x [T, B, ...] -> flatten [T·B, ...] -> layers -> [T, B, ...]`` (SpikingJelly's
    ``SeqToANNContainer``). Convolutions, pooling, plain BatchNorm and tdBN all see the ``T·B`` batch, so
    BatchNorm statistics cover time and batch together (spec §2.1). ``fold_batchnorm`` folds the
    ``(conv, BN)`` pairs inside it like any ``nn.Sequential``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """``[T, B, ...] -> [T, B, ...']``."""
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            raise ValueError(f"SeqToANN expects a [T, B, ...] tensor; got {getattr(x, 'shape', type(x))}")
        T, B = x.shape[:2]
        y = super().forward(x.flatten(0, 1))
        return y.unflatten(0, (T, B))


class MeanOverTime(nn.Module):
    """Readout ``[T, B, ...] -> [B, ...]``: the average over the time axis."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over dimension 0."""
        return x.mean(0)


def repeat_in_time(x: torch.Tensor, T: int) -> torch.Tensor:
    """Direct encoding: the same input at each of ``T`` steps, ``[B, ...] -> [T, B, ...]``.

    Returns an expanded view (no copy); the fused LIF kernel reads it without materialising it.
    """
    if T < 1:
        raise ValueError(f"T must be >= 1; got {T}")
    return x.unsqueeze(0).expand(T, *x.shape)

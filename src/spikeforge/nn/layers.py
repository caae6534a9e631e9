"""Glue between stateless ANN layers and time-first spiking tensors."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BatchFirst", "MeanOverTime", "SeqToANN", "repeat_in_time", "to_batch_first", "to_time_first"]


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


def _swap_time_batch(x: torch.Tensor, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} expects a torch.Tensor; got {type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(
            f"{what} needs a tensor with a time and a batch axis (at least 2 dimensions); got shape {tuple(x.shape)}"
        )
    return x.transpose(0, 1).contiguous()


def to_time_first(x: torch.Tensor) -> torch.Tensor:
    """Batch-first ``[B, T, ...]`` to time-first ``[T, B, ...]`` (dimensions 0 and 1 swapped, contiguous copy).

    The time axis counts steps (one step = ``dt``, e.g. 1 ms); nothing is resampled. Differentiable.

    Raises
    ------
    TypeError
        ``x`` is not a tensor.
    ValueError
        ``x`` has fewer than 2 dimensions.
    """
    return _swap_time_batch(x, "to_time_first")


def to_batch_first(x: torch.Tensor) -> torch.Tensor:
    """Time-first ``[T, B, ...]`` to batch-first ``[B, T, ...]`` (the inverse of :func:`to_time_first`).

    Raises
    ------
    TypeError
        ``x`` is not a tensor.
    ValueError
        ``x`` has fewer than 2 dimensions.
    """
    return _swap_time_batch(x, "to_batch_first")


class BatchFirst(nn.Module):
    """Run a time-first module on batch-first sequences: ``[B, T, ...] -> module([T, B, ...]) -> [B, T', ...]``.

    For data pipelines that yield ``[B, T, ...]`` (snnTorch / Norse ``batch_first`` habits, ``DataLoader``
    batches of sequences): ``BatchFirst(net)(x) == to_batch_first(net(to_time_first(x)))``. Time is in steps
    (one step = ``dt``, e.g. 1 ms). Extra positional / keyword arguments (an initial state) go to ``module``
    unchanged. When ``module`` returns a tuple (``return_state=True``: ``(spikes, state)``), only the first
    element is made batch-first; the states (``[B, ...]``, no time axis) are returned as they are.

    Parameters
    ----------
    module : nn.Module
        A time-first module (``LIF``/``ALIF`` in ``step_mode="m"``, an ``nn.Sequential`` of ``SeqToANN`` and
        neurons, ...) that maps ``[T, B, ...]`` to ``[T', B, ...]``.

    Shapes
    ------
    ``x [B, T, ...] -> [B, T', ...]`` (``T' = T`` for neurons).

    Raises
    ------
    TypeError
        ``module`` is not an ``nn.Module`` (at construction); the module returns something other than a
        tensor (or a tuple starting with one).
    ValueError
        Input with fewer than 2 dimensions; an output without a batch axis at position 1 (e.g. a
        :class:`MeanOverTime` readout ``[B, ...]``: put it after the wrapper instead).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"BatchFirst wraps an nn.Module; got {type(module).__name__}")
        self.module = module

    def forward(self, x: torch.Tensor, *args, **kwargs):
        """``[B, T, ...] -> [B, T', ...]`` (or ``(out, *rest)`` when the module returns a tuple)."""
        xt = _swap_time_batch(x, "BatchFirst")
        out = self.module(xt, *args, **kwargs)
        seq, rest = (out[0], out[1:]) if isinstance(out, tuple) else (out, None)
        if not isinstance(seq, torch.Tensor):
            raise TypeError(f"BatchFirst: the wrapped module returned {type(seq).__name__}, not a tensor")
        # a time-reduced [B, N] output whose N happens to equal B passes the batch check: it is caught by
        # its lost dimension and its first axis that is no longer T (undecidable only when T = B as well)
        reduced = seq.dim() < xt.dim() and seq.shape[0] != xt.shape[0]
        if seq.dim() < 2 or seq.shape[1] != xt.shape[1] or reduced:
            raise ValueError(
                f"BatchFirst: the wrapped module must return a time-first [T, B, ...] tensor with B = {xt.shape[1]}; "
                f"got shape {tuple(seq.shape)} (reduce over time after the wrapper, not inside it)"
            )
        seq = seq.transpose(0, 1).contiguous()
        return seq if rest is None else (seq, *rest)

"""Dropout for time-first sequences with one mask per sequence (SpikingJelly's ``layer.Dropout``).

``torch.nn.Dropout`` applied to ``[T, B, ...]`` draws a new mask at every time step, so a neuron that is
dropped at one step fires at the next and the network sees flickering noise rather than a thinned network.
:class:`SequenceDropout` draws one mask per sample (``[B, ...]``, or ``[B, C, 1, ...]`` with
``per_channel=True``) and applies it at every step.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_number
from .neurons import _carried_in, _carry_out, _forget_carried

__all__ = ["SequenceDropout"]


class SequenceDropout(nn.Module):
    """Dropout with the same mask at every time step of a ``[T, B, ...]`` sequence.

    In training each element of one step's shape ``[B, ...]`` (or each channel, dimension 2 of the input, with
    ``per_channel=True``: the spiking counterpart of ``nn.Dropout2d``) is zeroed with probability ``p`` and the
    kept ones are scaled by ``1 / (1 − p)``; the mask is drawn once per call and broadcast over time. In
    evaluation it is the identity. Inside :func:`~spikeforge.nn.carry_state` the mask is kept across chunked calls
    (one sequence, one mask) until :func:`~spikeforge.nn.reset_states`.

    Parameters
    ----------
    p : float, default 0.5
        Drop probability in ``[0, 1]``.
    per_channel : bool, default False
        One draw per sample and channel (inputs ``[T, B, C, ...]``) instead of per element.
    generator : torch.Generator, optional
        Source of the masks (default: torch's global generator).

    Raises
    ------
    ValueError
        ``p`` outside ``[0, 1]`` or not a number; an input with fewer than 2 dimensions (3 with ``per_channel``).
    """

    _has_carried_state = True

    def __init__(self, p: float = 0.5, *, per_channel: bool = False, generator: torch.Generator | None = None) -> None:
        super().__init__()
        p = check_number(p, "p", low=0.0, low_inclusive=True)
        if p > 1.0:
            raise ValueError(f"p must be a probability in [0, 1]; got {p}")
        self.p = p
        self.per_channel = bool(per_channel)
        self.generator = generator

    def _mask_shape(self, x: torch.Tensor) -> list[int]:
        shape = list(x.shape[1:])
        if self.per_channel:
            shape[2:] = [1] * len(shape[2:])
        return shape

    def mask(self, x: torch.Tensor) -> torch.Tensor:
        """A fresh mask for the sequence ``x`` ``[T, B, ...]``: ``[B, ...]`` (``[B, C, 1, ...]`` per channel), values
        ``0`` or ``1 / (1 − p)`` (all 0 for ``p = 1``)."""
        shape = self._mask_shape(x)
        if self.p >= 1.0:
            return x.new_zeros(shape)
        keep = torch.rand(shape, generator=self.generator, dtype=x.dtype, device=x.device) >= self.p
        return keep.to(x.dtype) / (1.0 - self.p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, ...] -> [T, B, ...]``."""
        need = 3 if self.per_channel else 2
        if not isinstance(x, torch.Tensor) or x.dim() < need:
            raise ValueError(f"SequenceDropout expects a time-first tensor with at least {need} dimensions "
                             f"([T, B{', C' if self.per_channel else ''}, ...]); got {getattr(x, 'shape', type(x))}")
        if not self.training or self.p == 0.0:
            return x
        m = _carried_in(self, None, x.shape[1])
        if m is None or list(m.shape) != self._mask_shape(x) or m.dtype != x.dtype:
            m = self.mask(x)  # a new sequence (or a carried mask of another shape: start afresh)
        _carry_out(self, m)
        return x * m

    def reset_state(self) -> None:
        """Forget a mask kept by :func:`~spikeforge.nn.carry_state`."""
        _forget_carried(self)

    def extra_repr(self) -> str:
        return f"p={self.p}" + (", per_channel=True" if self.per_channel else "")

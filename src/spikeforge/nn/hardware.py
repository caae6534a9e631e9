"""Hardware-aware transforms of trained networks: weight quantisation and device mismatch.

Neuromorphic chips store weights with few bits (Loihi: up to 8-bit signed synaptic weights; many mixed-signal
and memristive designs fewer) and their analog parts vary from device to device. These two in-place
transforms let a user measure what a trained network keeps under such constraints before moving it to a chip:

- :func:`quantize_weights_` rounds the weights of every ``Linear`` / ``Conv1d`` / ``Conv2d`` layer onto a
  uniform grid of ``2**bits`` levels (symmetric around 0, or spanning ``[min, max]``), per output channel or per
  layer ("fake quantisation": the weights stay floats, on the grid). Biases are left in float.
- :func:`add_weight_mismatch_` multiplies every weight by ``1 + σ·ε``, ``ε ~ N(0, 1)`` independent per weight
  (the multiplicative mismatch model of Rockpool's ``mismatch_generator``), from an explicit ``torch.Generator``.

Both act under ``torch.no_grad()`` and return a per-layer report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["QuantizedLayer", "add_weight_mismatch_", "quantize_weights_", "quantize_tensor"]

_WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


@dataclass(frozen=True)
class QuantizedLayer:
    """What :func:`quantize_weights_` did to one layer.

    Attributes
    ----------
    bits : int
        Bits per weight.
    scale : Tensor
        Grid step per output channel ``[out]`` (or one value, ``per_channel=False``), in weight units.
    levels_used : int
        Grid levels used: the largest number of distinct weight values in any one quantisation
        group, i.e. in one output channel (``per_channel=True``) or in the whole layer; at most
        ``2**bits``, the number of levels a chip needs per channel.
    max_abs_error : float
        Largest ``|w_q − w|`` (at most ``scale/2`` per channel).
    distinct_values : int or None
        Distinct weight values in the whole layer, across channels (each channel has its own
        grid, so up to ``out_channels · 2**bits``); None when not computed. Before this field
        existed, ``levels_used`` held this count.
    """

    bits: int
    scale: torch.Tensor
    levels_used: int
    max_abs_error: float
    distinct_values: int | None = None


def _check_bits(bits: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
        raise ValueError(f"bits must be an integer in [1, 16]; got {bits!r}")
    return bits


def quantize_tensor(w: torch.Tensor, bits: int, *, per_channel: bool = True, symmetric: bool = True
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(w_q, scale)``: ``w`` rounded onto a uniform grid of at most ``2**bits`` levels.

    Symmetric (default): levels ``k·scale`` for integers ``|k| ≤ 2**(bits−1) − 1`` (for ``bits = 1``:
    ``±scale``), ``scale = max|w| / (2**(bits−1) − 1)``, so 0 is exact and the largest weight keeps its value.
    Asymmetric: ``min + k·scale`` for ``0 ≤ k ≤ 2**bits − 1``, ``scale = (max − min)/(2**bits − 1)``.
    ``per_channel`` computes the range per output channel (dim 0), else over the whole tensor. A channel
    whose weights are all equal keeps them (``scale`` 0).

    Raises
    ------
    ValueError
        ``bits`` outside [1, 16], or ``w`` not finite.
    """
    bits = _check_bits(bits)
    if not bool(torch.isfinite(w).all()):
        raise ValueError("cannot quantise non-finite weights")
    flat = w.reshape(w.shape[0], -1) if per_channel and w.dim() > 1 else w.reshape(1, -1)
    if symmetric:
        top = max(2 ** (bits - 1) - 1, 1)
        amax = flat.abs().amax(1, keepdim=True)
        scale = amax / top
        safe = torch.where(scale > 0, scale, torch.ones_like(scale))
        if bits == 1:  # two levels ±scale: the sign
            q = torch.where(flat >= 0, scale, -scale).expand_as(flat)
        else:
            q = torch.clamp(torch.round(flat / safe), -top, top) * scale
        q = torch.where(scale > 0, q, flat)
    else:
        lo, hi = flat.amin(1, keepdim=True), flat.amax(1, keepdim=True)
        scale = (hi - lo) / (2 ** bits - 1)
        safe = torch.where(scale > 0, scale, torch.ones_like(scale))
        q = torch.where(scale > 0, torch.round((flat - lo) / safe) * scale + lo, flat)
    return q.reshape(w.shape).to(w.dtype), scale.reshape(-1)


def _layers(model: nn.Module, layers: tuple[type, ...]) -> list[tuple[str, nn.Module]]:
    found = [(name or "<root>", m) for name, m in model.named_modules() if isinstance(m, layers)]
    if not found:
        raise ValueError(f"the model has no {' / '.join(t.__name__ for t in layers)} layer to transform")
    return found


@torch.no_grad()
def quantize_weights_(model: nn.Module, bits: int = 8, *, per_channel: bool = True, symmetric: bool = True,
                      layers: tuple[type, ...] = _WEIGHT_LAYERS) -> dict[str, QuantizedLayer]:
    """Round the weights of every layer of type ``layers`` in ``model`` in place (see :func:`quantize_tensor`).

    Returns
    -------
    dict layer name -> :class:`QuantizedLayer`
        Its ``levels_used`` is at most ``2**bits`` (the levels of one channel's grid);
        ``distinct_values`` counts the values of the whole layer.

    Raises
    ------
    ValueError
        ``bits`` outside [1, 16], non-finite weights, or no such layer in ``model``.
    """
    report = {}
    for name, m in _layers(model, layers):
        w = m.weight
        q, scale = quantize_tensor(w, bits, per_channel=per_channel, symmetric=symmetric)
        err = float((q - w).abs().max()) if w.numel() else 0.0
        w.copy_(q)
        report[name] = QuantizedLayer(bits, scale, _levels_per_group(q, per_channel), err, int(torch.unique(q).numel()))
    return report


def _levels_per_group(q: torch.Tensor, per_channel: bool) -> int:
    """Largest number of distinct values in one quantisation group (an output channel, or the tensor)."""
    if q.numel() == 0:
        return 0
    rows = q.reshape(q.shape[0], -1) if per_channel and q.dim() > 1 else q.reshape(1, -1)
    srt = torch.sort(rows, dim=1).values
    distinct = 1 + (srt[:, 1:] != srt[:, :-1]).sum(dim=1)
    return int(distinct.max())


@torch.no_grad()
def add_weight_mismatch_(model: nn.Module, rel_std: float, *, generator: torch.Generator | None = None,
                         layers: tuple[type, ...] = _WEIGHT_LAYERS) -> dict[str, float]:
    """Multiply every weight of the layers of type ``layers`` by ``1 + rel_std·ε``, ``ε ~ N(0, 1)`` (in place).

    Parameters
    ----------
    model : nn.Module
    rel_std : float
        Relative standard deviation of the mismatch (≥ 0; e.g. 0.1 for 10 %).
    generator : torch.Generator, optional
        Source of ``ε`` (on the weights' device); pass one for reproducible draws.
    layers : tuple of module types
        Which layers (default: Linear, Conv1d, Conv2d).

    Returns
    -------
    dict layer name -> the realised relative standard deviation of the change

    Raises
    ------
    ValueError
        ``rel_std`` negative or not finite, or no such layer in ``model``.
    """
    if isinstance(rel_std, bool) or not isinstance(rel_std, (int, float)) or not (math.isfinite(rel_std)
                                                                                  and rel_std >= 0):
        raise ValueError(f"rel_std must be a non-negative finite number; got {rel_std!r}")
    report = {}
    for name, m in _layers(model, layers):
        w = m.weight
        eps = torch.randn(w.shape, generator=generator, dtype=w.dtype, device=w.device)
        w.mul_(1.0 + rel_std * eps)
        report[name] = float((rel_std * eps).std()) if eps.numel() > 1 else 0.0
    return report

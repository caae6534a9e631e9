"""QCFS: the quantisation-clip-floor-shift activation (Bu et al., ICLR 2022), for training ANNs that
convert to SNNs at very low latency (spec ``deep_snn.md`` §3.5).

Forward, per element (λ a trainable per-layer scale, L the number of levels, φ the shift)::

    h(x) = λ · floor( clip(x/λ, 0, 1) · L + φ ) / L            (then clipped to [0, λ])

which is the authors' code order (clip ``x/λ`` to [0, 1] first, then quantise; ``putshua/ANN_SNN_QCFS``
``Models/layer.py``). With φ = ½ the expected ANN→SNN conversion error is zero for any T and L when each
QCFS layer becomes an IF neuron with threshold λ, initial membrane ½·λ and soft reset (done by
:func:`spikeforge.conversion.convert` with ``method="qcfs"``).

Gradients: ``floor`` passes the gradient straight through (identity backward); everything else —
the division by λ, the clip, the multiplication by λ — is differentiated by autograd, so λ learns as in
the authors' code (spec §6 item 10: the paper's printed λ-derivative is wrong, the code is right). Inside
``(0, λ)`` the input gradient is 1 and the λ gradient is ``h/λ − x/λ`` (zero in expectation); above λ the
input gradient is 0 and the λ gradient is 1; below 0 both are 0.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["QCFS", "floor_ste"]


class _FloorSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad


def floor_ste(x: torch.Tensor) -> torch.Tensor:
    """``floor(x)`` in the forward pass, identity in the backward pass (straight-through estimator)."""
    return _FloorSTE.apply(x)


class QCFS(nn.Module):
    """Quantisation-clip-floor-shift activation with a trainable upper bound λ.

    Parameters
    ----------
    levels : int
        L, the number of quantisation steps (≥ 1): the output takes the ``L + 1`` values
        ``0, λ/L, …, λ``. The authors' default is 8; their CIFAR-10 example uses 4.
    lam : float
        Initial λ (> 0), the activation's upper bound, in the unit of the input. 8.0 in the authors'
        current code, 4.0 in the older one; after BatchNorm (inputs ≈ N(0, 1)) a smaller start such as
        2–4 trains faster.
    shift : float
        φ in [0, 1); ½ makes the expected conversion error zero.
    trainable : bool
        Whether λ is an ``nn.Parameter`` (default) or a fixed buffer.

    Shapes
    ------
    any ``[...]`` → same shape. λ is one scalar per layer.
    """

    def __init__(self, levels: int = 8, lam: float = 8.0, shift: float = 0.5, *, trainable: bool = True) -> None:
        super().__init__()
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
            raise ValueError(f"levels (L) must be an integer >= 1; got {levels!r}")
        if not (isinstance(lam, (int, float)) and math.isfinite(lam) and lam > 0):
            raise ValueError(f"lam (λ) must be a positive finite number; got {lam!r}")
        if not (isinstance(shift, (int, float)) and 0.0 <= shift < 1.0):
            raise ValueError(f"shift (φ) must lie in [0, 1); got {shift!r}")
        self.levels = int(levels)
        self.shift = float(shift)
        value = torch.tensor(float(lam))
        if trainable:
            self.lam = nn.Parameter(value)
        else:
            self.register_buffer("lam", value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``λ · floor(clip(x/λ, 0, 1)·L + φ)/L``, clipped to ``[0, λ]``; same shape as ``x``."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"QCFS expects a floating-point tensor; got {getattr(x, 'dtype', type(x))}")
        lam = self.lam.to(x.dtype)
        y = torch.clamp(x / lam, 0.0, 1.0)
        # φ < 1 and y <= 1, so floor(y·L + φ) <= L: the result already lies in [0, λ]
        return floor_ste(y * self.levels + self.shift) / self.levels * lam

    def extra_repr(self) -> str:
        return f"levels={self.levels}, lam={float(self.lam):.4g}, shift={self.shift:g}, trainable={isinstance(self.lam, nn.Parameter)}"

"""Current-based LIF with an exponential synapse (snnTorch's ``Synaptic``, Norse's default ``LIF``, NIR ``CubaLIF``).

Per step ``t`` (time first, ``x`` ``[T, B, ...]``)::

    I_t = α·I_{t−1} + X_t                  synaptic current, α = exp(−dt/τ_syn) ∈ [0, 1)
    s_t, V_t = LIF step of I_t from V_{t−1} (any :class:`~spikeforge.nn.functional.LIFSpec`; snnTorch's
               ``Synaptic(alpha, beta)`` is ``decay=beta, decay_input=False``)

The current is a linear filter of the input, so it is computed first over the whole sequence (a short loop
of element-wise operations) and the membrane then runs in the fused multi-step LIF kernel.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .functional import LIFSpec
from .neurons import LIF

__all__ = ["CubaLIF", "synaptic_current"]


def synaptic_current(x: torch.Tensor, alpha: float, i0: torch.Tensor | None = None) -> torch.Tensor:
    """``I_t = α·I_{t−1} + X_t`` over ``x`` ``[T, B, ...]`` from ``I_{−1} = i0`` (default 0): ``[T, B, ...]``."""
    if not (isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and 0.0 <= alpha < 1.0):
        raise ValueError(f"alpha must be a number in [0, 1) (per-step decay of the synaptic current); got {alpha!r}")
    out = torch.empty_like(x)
    i = torch.zeros_like(x[0]) if i0 is None else i0.to(x.dtype).expand_as(x[0])
    for t in range(x.shape[0]):
        i = alpha * i + x[t]
        out[t] = i
    return out


class CubaLIF(nn.Module):
    """LIF neurons driven through an exponentially decaying synaptic current.

    Parameters
    ----------
    alpha : float, optional
        Per-step decay of the synaptic current in [0, 1) (snnTorch's ``alpha``). Mutually exclusive with
        ``tau_syn``.
    tau_syn : float, optional
        Synaptic time constant in steps (> 0): ``alpha = exp(−1/tau_syn)``.
    **lif_kwargs
        The membrane, as for :class:`~spikeforge.nn.LIF`: e.g. ``decay=beta, decay_input=False`` for
        snnTorch's ``Synaptic(alpha, beta)``; ``tau=...`` for SpikingJelly's form. ``step_mode`` is not
        accepted (multi-step only).

    Attributes
    ----------
    lif : LIF
        The membrane.
    alpha : float
        The synaptic decay per step.

    Notes
    -----
    ``forward(x [T, B, ...], state=None, *, return_state=False)`` returns spikes ``[T, B, ...]`` (and the
    final ``(i, v)`` to continue a sequence). Exported to NIR as a ``CubaLIF`` node (``tau_syn = dt/(1 − α)``,
    ``w_in = 1/(1 − α)`` under NIR's Euler convention; the membrane as for ``LIF``).
    """

    def __init__(self, alpha: float | None = None, *, tau_syn: float | None = None, **lif_kwargs) -> None:
        super().__init__()
        if "step_mode" in lif_kwargs or "return_state" in lif_kwargs:
            raise TypeError("CubaLIF is multi-step; pass return_state to forward()")
        if (alpha is None) == (tau_syn is None):
            raise ValueError("give exactly one of alpha (per-step decay) and tau_syn (steps)")
        if tau_syn is not None:
            if isinstance(tau_syn, bool) or not isinstance(tau_syn, (int, float)) or not (
                    math.isfinite(tau_syn) and tau_syn > 0):
                raise ValueError(f"tau_syn must be a positive finite number of steps; got {tau_syn!r}")
            alpha = math.exp(-1.0 / tau_syn)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha must be a number in [0, 1); got {alpha!r}")
        self.alpha = float(alpha)
        self.lif = LIF(**lif_kwargs, return_state=True)

    @classmethod
    def from_spec(cls, alpha: float, spec: LIFSpec, **kwargs) -> CubaLIF:
        """A layer with synaptic decay ``alpha`` and the membrane ``spec`` (``kwargs``: ``backend``, ``check_nan``)."""
        layer = cls(alpha)
        layer.lif = LIF.from_spec(spec, return_state=True, **kwargs)
        return layer

    @property
    def spec(self) -> LIFSpec:
        """The membrane's dynamics."""
        return self.lif.spec

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None, *,
                return_state: bool = False):
        """Spikes ``[T, B, ...]`` of input ``x`` ``[T, B, ...]`` (``state``: the ``(i, v)`` of a previous call)."""
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            raise ValueError("x must be a tensor of shape [T, B, ...] (time first)")
        if self.lif.check_nan and bool(torch.isnan(x).any()):
            raise ValueError("input contains NaN")
        i0, v0 = (None, None) if state is None else state
        current = synaptic_current(x, self.alpha, i0)
        spikes, v = self.lif(current, v0)
        if not return_state:
            return spikes
        i_last = current[-1] if x.shape[0] else (torch.zeros_like(x[0]) if i0 is None else i0)
        return spikes, (i_last, v)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}"

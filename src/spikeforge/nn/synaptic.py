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
import numbers

import numpy as np
import torch
from torch import nn

from .functional import LIFSpec, _check_nan, check_sequence
from .neurons import LIF, _carried_in, _carry_out, _forget_carried

__all__ = ["CubaLIF", "synaptic_current"]


def _check_alpha(alpha) -> float:
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real) or not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha must be a number in [0, 1) (per-step decay of the synaptic current); got {alpha!r}")
    return float(alpha)


def synaptic_current(x: torch.Tensor, alpha: float, i0: torch.Tensor | None = None) -> torch.Tensor:
    """``I_t = α·I_{t−1} + X_t`` over ``x`` ``[T, B, ...]`` from ``I_{−1} = i0`` (default 0): ``[T, B, ...]``."""
    alpha = _check_alpha(alpha)
    x = check_sequence(x)
    if i0 is None:
        i = torch.zeros_like(x[0])
    else:
        try:
            fits = isinstance(i0, torch.Tensor) and torch.broadcast_shapes(i0.shape, x.shape[1:]) == x.shape[1:]
        except RuntimeError:
            fits = False
        if not fits:
            got = tuple(i0.shape) if isinstance(i0, torch.Tensor) else type(i0).__name__
            raise ValueError(f"i0 must be a tensor of one step's shape {tuple(x.shape[1:])}; got {got}")
        i = i0.to(x.dtype).expand_as(x[0])
    return _ExpFilter.apply(x, i, alpha)


class _ExpFilter(torch.autograd.Function):
    """``I_t = α·I_{t−1} + X_t`` as one autograd node: the forward fills ``[T, ...]`` in place, the backward
    is the same filter run backwards in time (``G_t = g_t + α·G_{t+1}``; ``dL/dX_t = G_t``,
    ``dL/dI_{−1} = α·G_0``). A per-step autograd loop writing into slices would copy the whole
    gradient tensor at every step."""

    @staticmethod
    def forward(ctx, x, i, alpha):  # type: ignore[override]
        ctx.alpha = alpha
        out = torch.empty_like(x)
        i = i.clone()
        for t in range(x.shape[0]):
            out[t] = i.mul_(alpha).add_(x[t])
        return out

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        alpha = ctx.alpha
        gx = torch.empty_like(g)
        acc = torch.zeros_like(g[0])
        for t in range(g.shape[0] - 1, -1, -1):
            gx[t] = acc.mul_(alpha).add_(g[t])
        return gx, (acc * alpha if ctx.needs_input_grad[1] else None), None


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
            if isinstance(tau_syn, (bool, np.bool_)) or not isinstance(tau_syn, numbers.Real) or not (
                    math.isfinite(tau_syn) and tau_syn > 0):
                raise ValueError(f"tau_syn must be a positive finite number of steps; got {tau_syn!r}")
            alpha = math.exp(-1.0 / float(tau_syn))
        self.alpha = _check_alpha(alpha)
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
        x = check_sequence(x)
        if self.lif.check_nan:
            _check_nan(x, "input")
        if state is not None and (not isinstance(state, tuple) or len(state) != 2):
            raise ValueError(f"state must be the (i, v) pair of a previous call or None; got {type(state).__name__}")
        state = _carried_in(self, state, x.shape[1])
        i0, v0 = (None, None) if state is None else state
        current = synaptic_current(x, self.alpha, i0)
        spikes, v = self.lif(current, v0)
        _carry_out(self, (current[-1], v))
        return (spikes, (current[-1], v)) if return_state else spikes

    _has_carried_state = True

    def reset_state(self) -> None:
        """Forget a state carried by :func:`~spikeforge.nn.carry_state`."""
        _forget_carried(self)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}"

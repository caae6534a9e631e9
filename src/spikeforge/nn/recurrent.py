"""Recurrent LIF layer (snnTorch's ``RLeaky``): a LIF population that feeds its own spikes back.

Per step ``t`` (time first, ``x`` ``[T, B, in_features]``)::

    I_t = W·x_t + b + R(s_{t−1})          R: all-to-all (a Linear, ``recurrent="all_to_all"``) or one weight
                                           per neuron (``recurrent="one_to_one"``: ``r ⊙ s_{t−1}``)
    s_t, V_t = LIF step of I_t from V_{t−1} (any :class:`~spikeforge.nn.functional.LIFSpec`)

Gradients flow through the membrane and through the fed-back spikes (their surrogate), so the layer
trains with backpropagation through time like any module.
"""

from __future__ import annotations

import torch
from torch import nn

from .functional import LIFSpec, _check_nan, check_sequence, lif_step
from .neurons import LIF, _carried_in, _carry_out, _forget_carried

__all__ = ["RecurrentLIF"]


class RecurrentLIF(nn.Module):
    """A LIF layer with input weights and recurrent weights on its own spikes.

    Parameters
    ----------
    in_features, out_features : int
        Inputs and neurons.
    recurrent : {"all_to_all", "one_to_one"}
        A full recurrent matrix ``[out, out]`` (with its own optional bias) or one self-weight per neuron.
    bias : bool
        Bias of the input projection.
    recurrent_bias : bool
        Bias of the all-to-all recurrent projection.
    **lif_kwargs
        The neuron, as for :class:`~spikeforge.nn.LIF` (``tau``, ``decay``, ``v_th``, ``v_reset``, ``reset``,
        ``surrogate``, ``backend``, ...). ``step_mode`` and ``return_state`` are not accepted: the layer is
        multi-step and returns ``spikes`` (or ``(spikes, (v, s))`` with ``return_state=True`` passed to
        :meth:`forward`).

    Attributes
    ----------
    linear : nn.Linear
        The input weights ``W`` ``[out, in]``.
    recurrent_linear : nn.Linear or None
        ``R`` for ``recurrent="all_to_all"``.
    recurrent_weight : nn.Parameter or None
        ``r`` ``[out]`` for ``recurrent="one_to_one"``.
    lif : LIF
        The neuron (its ``spec`` and ``backend``).
    """

    def __init__(self, in_features: int, out_features: int, *, recurrent: str = "all_to_all", bias: bool = True,
                 recurrent_bias: bool = False, **lif_kwargs) -> None:
        super().__init__()
        for bad in ("step_mode", "return_state"):
            if bad in lif_kwargs:
                raise TypeError(f"RecurrentLIF takes no {bad!r}: it is multi-step; pass return_state to forward()")
        if recurrent not in ("all_to_all", "one_to_one"):
            raise ValueError(f"recurrent must be 'all_to_all' or 'one_to_one'; got {recurrent!r}")
        self.recurrent = recurrent
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.lif = LIF(**lif_kwargs)
        self.recurrent_linear: nn.Linear | None = None
        self.recurrent_weight: nn.Parameter | None = None
        if recurrent == "all_to_all":
            self.recurrent_linear = nn.Linear(out_features, out_features, bias=recurrent_bias)
        else:
            self.recurrent_weight = nn.Parameter(torch.empty(out_features).uniform_(-1.0, 1.0))

    @property
    def spec(self) -> LIFSpec:
        """The neuron's dynamics."""
        return self.lif.spec

    def feedback(self, s: torch.Tensor) -> torch.Tensor:
        """``R(s)``: the recurrent input of spikes ``s`` ``[B, out]``."""
        if self.recurrent_linear is not None:
            return self.recurrent_linear(s)
        return s * self.recurrent_weight

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None, *,
                return_state: bool = False):
        """Spikes ``[T, B, out]`` of input ``x`` ``[T, B, in]``.

        ``state`` is ``(v, s)`` of the previous call (membrane and last spikes, ``[B, out]`` each) to continue
        a sequence; None starts at rest without spikes. With ``return_state`` also return the final ``(v, s)``.
        """
        x = check_sequence(x)
        if x.dim() != 3 or x.shape[2] != self.linear.in_features:
            raise ValueError(f"x must have shape [T, B, {self.linear.in_features}] (time first); got {tuple(x.shape)}")
        if self.lif.check_nan:
            _check_nan(x, "input")
        T, B = x.shape[:2]
        n = self.linear.out_features
        current = self.linear(x)  # [T, B, out]: one matmul for every step
        state = _carried_in(self, state, B)
        if state is None:
            v, s = None, current.new_zeros(B, n)
        else:
            ok = isinstance(state, tuple) and len(state) == 2 and all(
                isinstance(t, torch.Tensor) and tuple(t.shape) == (B, n) for t in state)
            if not ok:
                got = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__ for t in state] \
                    if isinstance(state, tuple) else type(state).__name__
                raise ValueError(f"state must be the (v, s) pair of a previous call, [B, {n}] = [{B}, {n}] tensors; "
                                 f"got {got}")
            v, s = state
        out = []
        for t in range(T):
            s, v = lif_step(current[t] + self.feedback(s), v, self.lif.spec, backend=self.lif.backend,
                            check_nan=False)
            out.append(s)
        spikes = torch.stack(out)
        _carry_out(self, (v, s))
        return (spikes, (v, s)) if return_state else spikes

    _has_carried_state = True

    def reset_state(self) -> None:
        """Forget a state carried by :func:`~spikeforge.nn.carry_state`."""
        _forget_carried(self)

    def extra_repr(self) -> str:
        return f"in_features={self.linear.in_features}, out_features={self.linear.out_features}, " \
               f"recurrent={self.recurrent!r}"

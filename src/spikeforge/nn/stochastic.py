"""Stochastic spiking neurons as torch layers (batched, any device), for local plasticity and for gradients.

Two models:

* **Probabilistic neuron of seed 000** (spec ``local_learning.md`` §A.4): no membrane. Each step the
  neuron sums the weights of the spikes arriving now, ``I_t``, and fires with probability ``clamp(I_t, 0, 1)``::

      S_t = 1[U_t < I_t],   U_t ~ Uniform(0, 1)

  :func:`probabilistic_spikes`, :class:`ProbabilisticNeuron`. With the same draws it is
  :func:`spikeforge.neurons.probabilistic.probabilistic_step` (the numpy reference of seed 000's engine)
  element for element (a given ``u`` is compared at the wider precision of ``u`` and ``I``). Put an
  ``nn.Linear`` with weights in [0, 1] before it and train that with :class:`~spikeforge.plasticity.STDPUpdater`:
  probabilistic neurons with local plasticity, batched in torch.

* **Escape-noise LIF** (Gerstner & Kistler's escape noise; the "stochastic" neurons of snnTorch and
  SpikingJelly's noisy neurons): the LIF charge and reset of a :class:`~spikeforge.nn.functional.LIFSpec`, but
  the spike is drawn::

      H_t = charge(V_{t-1}, X_t)
      p_t = sigmoid(β·(H_t − V_th))            firing probability, β > 0 (1/β: the noise width)
      S_t = 1[U_t < p_t]
      V_t = reset(H_t, S_t)

  :func:`stochastic_lif_multi_step`, :class:`StochasticLIF`. β → ∞ is the deterministic LIF, and with draws
  ``U = 1/2`` it fires exactly at ``H > V_th`` (the draw is compared on the logit scale, ``logit(U) < β·(H −
  V_th)``, so the sigmoid's rounding near 1/2 does not enter; tested). The gradient of the sampled spike is the derivative of
  its probability, ``∂S/∂H := dp/dH = β·p·(1 − p)`` (the score-free "stochastic straight-through"
  estimator), so the layer trains with backpropagation like a LIF whose surrogate is the sigmoid.

Randomness is explicit: pass a ``torch.Generator`` (``generator=``) for reproducible draws, or the draws
themselves (``u=``, ``[T, B, ...]`` in [0, 1)) to replay a run or compare implementations.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from .functional import LIFSpec, _check_nan, _state_like, check_sequence
from .neurons import _carried_in, _carry_out, _forget_carried, _lif_repr_parts, _lif_spec

__all__ = ["ProbabilisticNeuron", "StochasticLIF", "probabilistic_spikes", "stochastic_lif_multi_step"]


def _draws(u: torch.Tensor | None, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform(0, 1) draws of ``like``'s shape: ``u`` checked (kept in its own dtype, so that comparisons run at
    the wider precision of the two), or fresh ones from ``generator`` (on ``like``'s device)."""
    if u is None:
        if generator is not None and generator.device.type != like.device.type:
            raise ValueError(f"the generator is on {generator.device} but the input on {like.device}; give a "
                             f"torch.Generator(device={like.device.type!r})")
        return torch.rand(like.shape, generator=generator, dtype=like.dtype, device=like.device)
    if not isinstance(u, torch.Tensor) or tuple(u.shape) != tuple(like.shape):
        got = tuple(u.shape) if isinstance(u, torch.Tensor) else type(u).__name__
        raise ValueError(f"u must be a tensor of the input's shape {tuple(like.shape)}; got {got}")
    if bool(((u < 0) | (u >= 1) | torch.isnan(u)).any()):
        raise ValueError("u must hold uniform draws in [0, 1)")
    return u.to(device=like.device)


def probabilistic_spikes(current: torch.Tensor, *, u: torch.Tensor | None = None,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """Seed 000's probabilistic neurons: ``S = 1[U < I]`` elementwise (no state, no gradient).

    Parameters
    ----------
    current : Tensor [T, B, ...] (or any shape), floating
        ``I``: the summed weights of the spikes arriving each step (a probability; values outside [0, 1]
        act as 0 and 1).
    u : Tensor of ``current``'s shape, optional
        The Uniform(0, 1) draws (default: drawn with ``generator``).
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of ``current``'s shape, 0/1 in its dtype
    """
    if not isinstance(current, torch.Tensor) or not current.is_floating_point():
        raise TypeError(f"current must be a floating-point tensor; got {type(current).__name__}")
    _check_nan(current, "current")
    with torch.no_grad():
        return (_draws(u, current, generator) < current).to(current.dtype)


class ProbabilisticNeuron(nn.Module):
    """Seed 000's probabilistic neurons as a layer: ``[T, B, ...]`` currents → ``[T, B, ...]`` 0/1 spikes
    (:func:`probabilistic_spikes`). Stateless; no gradient path (train the layer before it with
    :class:`~spikeforge.plasticity.STDPUpdater`).

    Parameters
    ----------
    generator : torch.Generator, optional
        Source of the draws (default: torch's global generator). A seeded generator makes runs repeat.
    """

    step_mode = "m"  # multi-step only: [T, B, ...] in and out

    def __init__(self, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
        self.generator = generator

    def forward(self, current: torch.Tensor, *, u: torch.Tensor | None = None) -> torch.Tensor:
        """Spikes of ``current`` ``[T, B, ...]`` (``u``: the draws, to replay a run)."""
        return probabilistic_spikes(check_sequence(current, name="current"), u=u, generator=self.generator)


class _EscapeSpike(torch.autograd.Function):
    """Forward ``S = 1[logit(U) < z]`` (the same event as ``U < sigmoid(z)``, without the rounding of the
    sigmoid near 1/2: with ``U = 1/2`` it is exactly ``z > 0``); backward ``dS/dz := p·(1 − p)``,
    ``p = sigmoid(z)``, the derivative of the firing probability."""

    @staticmethod
    def forward(ctx, z, logit_u):  # type: ignore[override]
        ctx.save_for_backward(z)
        return (logit_u < z).to(z.dtype)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (z,) = ctx.saved_tensors
        p = torch.sigmoid(z)
        return g * p * (1 - p), None


def _check_beta(beta: object) -> float:
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a positive finite number (1/β is the noise width, in threshold units); "
                         f"got {beta!r}")
    return float(beta)


def stochastic_lif_multi_step(
    x_seq: torch.Tensor,
    v0: torch.Tensor | None = None,
    spec: LIFSpec | None = None,
    *,
    beta: float = 5.0,
    u: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    check_nan: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Escape-noise LIF over a sequence (see the module docstring): a readable per-step autograd loop.

    Parameters
    ----------
    x_seq : Tensor [T, B, ...], floating
        Input current per step.
    v0 : Tensor [B, ...], optional
        Initial membrane potential (default 0, or ``V_reset`` for a hard reset, as :func:`lif_multi_step`).
    spec : LIFSpec, optional
        Charge, threshold ``V_th`` and reset (default ``LIFSpec()``; the spec's ``spike_compare`` and surrogate
        are not used: the spike is drawn and its gradient is ``dp/dH``; ``reset="soft_delayed"`` is not
        supported).
    beta : float
        Sharpness of the firing probability ``sigmoid(β·(H − V_th))`` (per unit of ``H``), > 0.
    u : Tensor [T, B, ...], optional
        The Uniform(0, 1) draws (default: drawn with ``generator``).
    generator : torch.Generator, optional
    check_nan : bool
        Raise ``ValueError`` on NaN input.

    Returns
    -------
    spikes [T, B, ...] (0/1), v_T [B, ...]
    """
    x_seq = check_sequence(x_seq)
    beta = _check_beta(beta)
    spec = LIFSpec() if spec is None else spec
    if not isinstance(spec, LIFSpec):
        raise TypeError(f"spec must be a LIFSpec; got {type(spec).__name__}")
    if spec.reset == "soft_delayed":
        raise ValueError("StochasticLIF does not support reset='soft_delayed'; use 'hard', 'soft' or 'none'")
    if check_nan:
        _check_nan(x_seq)
    logit_u = torch.logit(_draws(u, x_seq, generator))  # −inf for a draw of 0: always fires
    if v0 is None:
        v = torch.full_like(x_seq[0], spec.v_reset if spec.reset == "hard" else 0.0)
    else:
        v = _state_like(v0, x_seq, "initial state v0")
    nd = 0.0 if spec.detach_reset else 1.0
    spikes = []
    for t in range(x_seq.shape[0]):
        h = spec.charge_fn(v, x_seq[t])
        s = _EscapeSpike.apply(beta * (h - spec.v_th), logit_u[t])
        sr = s.detach() + nd * (s - s.detach())  # detach_reset: no gradient through S in the reset
        if spec.reset == "hard":
            v = h + sr * (spec.v_reset - h)
        elif spec.reset == "soft":
            v = h - sr * spec.v_th
        else:
            v = h
        spikes.append(s)
    return torch.stack(spikes), v


class StochasticLIF(nn.Module):
    """Escape-noise LIF layer over ``[T, B, ...]`` (:func:`stochastic_lif_multi_step`): multi-step,
    stateless between calls (pass ``v`` to continue a sequence; ``return_state=True`` returns it; inside
    :func:`~spikeforge.nn.carry_state` it continues by itself).

    Parameters
    ----------
    tau, decay, decay_input, v_th, v_reset, reset, detach_reset
        The membrane, as :class:`~spikeforge.nn.LIF` (``reset="soft_delayed"`` is not supported).
    beta : float
        Sharpness of the firing probability ``sigmoid(β·(H − V_th))``, > 0; default 5.
    generator : torch.Generator, optional
        Source of the draws (default: torch's global generator).
    return_state : bool
        ``forward`` returns ``(spikes, v_T)``.
    check_nan : bool
        Raise ``ValueError`` on NaN input.
    """

    step_mode = "m"  # multi-step only: [T, B, ...] in and out

    def __init__(self, tau: float | None = None, *, decay: float | None = None, decay_input: bool = True,
                 v_th: float = 1.0, v_reset: float | None = 0.0, reset: str | None = None, detach_reset: bool = False,
                 beta: float = 5.0, generator: torch.Generator | None = None, return_state: bool = False,
                 check_nan: bool = True) -> None:
        super().__init__()
        self.spec = _lif_spec(tau, decay, decay_input, v_th, v_reset, reset, detach_reset, ">", "sigmoid", None)
        if self.spec.reset == "soft_delayed":
            raise ValueError("StochasticLIF does not support reset='soft_delayed'; use 'hard', 'soft' or 'none'")
        self.beta = _check_beta(beta)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
        self.generator = generator
        self.return_state = bool(return_state)
        self.check_nan = bool(check_nan)

    def forward(self, x: torch.Tensor, v: torch.Tensor | None = None, *, u: torch.Tensor | None = None):
        """Spikes ``[T, B, ...]`` of input ``x`` ``[T, B, ...]`` (``v``: the membrane to continue from;
        ``u``: the draws, to replay a run)."""
        if isinstance(x, torch.Tensor) and x.dim() >= 2:
            v = _carried_in(self, v, x.shape[1])
        s, v_next = stochastic_lif_multi_step(x, v, self.spec, beta=self.beta, u=u, generator=self.generator,
                                              check_nan=self.check_nan)
        _carry_out(self, v_next)
        return (s, v_next) if self.return_state else s

    _has_carried_state = True

    def reset_state(self) -> None:
        """Forget a state carried by :func:`~spikeforge.nn.carry_state`."""
        _forget_carried(self)

    def extra_repr(self) -> str:
        parts = [p for p in _lif_repr_parts(self.spec) if not p.startswith(("surrogate", "spike_compare"))]
        return ", ".join([*parts, f"beta={self.beta:g}"])

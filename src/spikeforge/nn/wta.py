"""Winner-take-all spiking layer with homeostasis, for local (STDP) learning on torch tensors.

What Diehl & Cook (2015) build from inhibitory populations and what BindsNET, Brian 2 and the
:mod:`spikeforge.sim` engine simulate neuron by neuron, as batched tensor operations: a linear
projection onto leaky integrators, k-winner-take-all lateral inhibition, an adaptive threshold ``θ``
(neurons that win often become harder to excite) and per-neuron weight normalisation. It has no
gradient path (learning is local: pair it with :class:`~spikeforge.plasticity.STDPUpdater`).

Per step ``t`` (``dt_ms``), for each sample ``b`` and neuron ``n``::

    v ← v·exp(−dt/τ_m) + (W·x_t)_n
    winners: the (at most) k neurons with the largest v − (v_th + θ) ≥ 0   (ties: lower index first)
    s_t = 1 for the winners;   reset: every membrane of a sample with a winner (``reset="all"``,
          lateral inhibition) or the winners' only (``reset="winners"``) ← v_reset
    θ ← θ·exp(−dt/τ_θ) + θ_plus · Σ_b s_t / B           (training mode, ``adapt=True``)

``θ`` is one value per neuron shared by the batch (a buffer, saved in ``state_dict``); the
membranes start at ``v_reset`` in every call (each call is an independent presentation).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["WTALayer", "kwta_step", "kwta_step_reference"]


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1; got {k!r}")
    return k


def kwta_step(v: Tensor, threshold: Tensor | float, k: int = 1) -> Tensor:
    """k-winner-take-all spikes of one step.

    Parameters
    ----------
    v : Tensor [B, N]
        Membrane potentials (any units; the same as ``threshold``).
    threshold : Tensor [N] or [B, N], or float
        Firing threshold.
    k : int
        At most ``k`` neurons fire per sample: those with the largest ``v − threshold`` among the
        ones at or above threshold; ties go to the lower neuron index.

    Returns
    -------
    Tensor [B, N]
        0/1 spikes in ``v``'s dtype.
    """
    k = _check_k(k)
    if v.dim() != 2:
        raise ValueError(f"v must have shape [B, N]; got {tuple(v.shape)}")
    over = v - threshold
    n = v.shape[1]
    if k >= n:
        return (over >= 0).to(v.dtype)
    # stable ranking (ties: lower index first): sort by −over, stable, and keep the first k
    order = torch.sort(-over, dim=1, stable=True).indices[:, :k]
    chosen = torch.zeros_like(over, dtype=torch.bool).scatter_(1, order, torch.ones_like(order, dtype=torch.bool))
    return (chosen & (over >= 0)).to(v.dtype)


def kwta_step_reference(v: Tensor, threshold: Tensor | float, k: int = 1) -> Tensor:
    """Readable per-sample loop of :func:`kwta_step` (for tests)."""
    k = _check_k(k)
    thr = torch.as_tensor(threshold, dtype=v.dtype).expand_as(v)
    out = torch.zeros_like(v)
    for b in range(v.shape[0]):
        cands = [(float(v[b, i] - thr[b, i]), i) for i in range(v.shape[1]) if float(v[b, i] - thr[b, i]) >= 0]
        cands.sort(key=lambda c: (-c[0], c[1]))
        for _, i in cands[:k]:
            out[b, i] = 1.0
    return out


class WTALayer(nn.Module):
    """Linear projection onto LIF membranes with k-WTA lateral inhibition and an adaptive threshold.

    Parameters
    ----------
    in_features, out_features : int
        Inputs ``I`` and neurons ``N``.
    k : int
        Winners per sample and step (1: Diehl & Cook's strict winner-take-all).
    tau_m_ms : float
        Membrane time constant (ms).
    dt_ms : float
        Step (ms).
    v_th, v_reset : float
        Base threshold and reset potential (the units of ``W·x``).
    reset : {"all", "winners"}
        Reset every membrane of a sample with a winner (lateral inhibition), or only the winners'.
    theta_plus : float
        Threshold increase per spike (averaged over the batch); 0 disables the adaptation.
    tau_theta_ms : float
        Decay time constant of ``θ`` (ms); ``math.inf`` keeps it.
    w_init : (float, float)
        Uniform range of the initial weights.
    norm_total : float, optional
        If given, :meth:`normalize_` (and construction) scales each neuron's incoming weights to sum
        to it (Diehl & Cook: 78 for 784 inputs).

    Attributes
    ----------
    linear : nn.Linear
        The weights ``[N, I]`` (no bias): give ``linear`` to :class:`~spikeforge.plasticity.STDPUpdater`.
    theta : Tensor [N]
        The adaptive thresholds (buffer).
    """

    def __init__(self, in_features: int, out_features: int, *, k: int = 1, tau_m_ms: float = 20.0, dt_ms: float = 1.0,
                 v_th: float = 1.0, v_reset: float = 0.0, reset: str = "all", theta_plus: float = 0.0,
                 tau_theta_ms: float = math.inf, w_init: tuple[float, float] = (0.0, 0.3),
                 norm_total: float | None = None) -> None:
        super().__init__()
        for name, value, low in (("tau_m_ms", tau_m_ms, 0.0), ("dt_ms", dt_ms, 0.0), ("tau_theta_ms", tau_theta_ms, 0.0)):
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and value > low
                    and not math.isnan(value) and (name == "tau_theta_ms" or math.isfinite(value))):
                raise ValueError(f"{name} must be a positive number (ms){'' if name != 'tau_theta_ms' else ' or inf'}; "
                                 f"got {value!r}")
        for name, value in (("v_th", v_th), ("v_reset", v_reset), ("theta_plus", theta_plus)):
            if not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number; got {value!r}")
        if theta_plus < 0:
            raise ValueError(f"theta_plus must be >= 0; got {theta_plus}")
        if reset not in ("all", "winners"):
            raise ValueError(f"reset must be 'all' or 'winners'; got {reset!r}")
        if norm_total is not None and not (math.isfinite(norm_total) and norm_total > 0):
            raise ValueError(f"norm_total must be a positive finite number; got {norm_total!r}")
        lo, hi = w_init
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"w_init must be a finite (low, high) with low <= high; got {w_init!r}")
        self.k = _check_k(k)
        self.tau_m_ms, self.dt_ms, self.tau_theta_ms = float(tau_m_ms), float(dt_ms), float(tau_theta_ms)
        self.v_th, self.v_reset, self.reset, self.theta_plus = float(v_th), float(v_reset), reset, float(theta_plus)
        self.norm_total = None if norm_total is None else float(norm_total)
        self.linear = nn.Linear(in_features, out_features, bias=False)
        with torch.no_grad():
            self.linear.weight.uniform_(lo, hi)
        self.register_buffer("theta", torch.zeros(out_features))
        if self.norm_total is not None:
            self.normalize_()

    @torch.no_grad()
    def normalize_(self) -> None:
        """Scale each neuron's incoming weights to sum to ``norm_total`` (no-op without one; rows whose
        sum is not positive are left as they are)."""
        if self.norm_total is None:
            return
        w = self.linear.weight
        total = w.sum(1, keepdim=True)
        w.mul_(torch.where(total > 0, self.norm_total / total.clamp_min(1e-30), torch.ones_like(total)))

    @torch.no_grad()
    def forward(self, x: Tensor, *, use_theta: bool = True, adapt: bool | None = None) -> Tensor:
        """Output spikes ``[T, B, N]`` of input spikes (or currents) ``x`` ``[T, B, I]``, time first.

        ``use_theta=False`` fires at ``v_th`` alone; ``adapt`` (default: ``self.training``) updates
        ``θ`` during the call.
        """
        if x.dim() != 3 or x.shape[2] != self.linear.in_features:
            raise ValueError(f"x must have shape [T, B, {self.linear.in_features}] (time first); got {tuple(x.shape)}")
        adapt = self.training if adapt is None else adapt
        T, B = x.shape[:2]
        w = self.linear.weight
        current = x.to(w.dtype) @ w.t()  # [T, B, N]
        d_m = math.exp(-self.dt_ms / self.tau_m_ms)
        d_th = math.exp(-self.dt_ms / self.tau_theta_ms)
        v = torch.full((B, w.shape[0]), self.v_reset, dtype=w.dtype, device=w.device)
        out = torch.zeros_like(current)
        theta = self.theta
        for t in range(T):
            v = v * d_m + current[t]
            thr = self.v_th + theta if use_theta else self.v_th
            s = kwta_step(v, thr, self.k)
            out[t] = s
            fired = s > 0
            if self.reset == "all":
                v = torch.where(fired.any(1, keepdim=True), torch.full_like(v, self.v_reset), v)
            else:
                v = torch.where(fired, torch.full_like(v, self.v_reset), v)
            if adapt and B > 0 and (self.theta_plus > 0 or d_th != 1.0):
                theta.mul_(d_th).add_(s.sum(0), alpha=self.theta_plus / B)
        return out

    def extra_repr(self) -> str:
        return (f"in_features={self.linear.in_features}, out_features={self.linear.out_features}, k={self.k}, "
                f"tau_m_ms={self.tau_m_ms:g}, dt_ms={self.dt_ms:g}, v_th={self.v_th:g}, reset={self.reset!r}, "
                f"theta_plus={self.theta_plus:g}, tau_theta_ms={self.tau_theta_ms:g}, norm_total={self.norm_total}")

"""Goryunov & Klinshov's analytical model of CoLaNET training (seed 002; spec colanet.md §5).

A binary task on a scalar ``x``: examples of each class are spread uniformly over an interval
of length ``b − a``. Sensory neuron ``i`` (centre ``m_i``, density ``n`` per unit of ``x``) has
rate ``f_i(x) = f_max·exp(−(x − m_i)²/(2σ²))`` and emits a Poisson count with mean
``T_p·f_i(x)``. Classifying neurons are the digital CoLaNET (``U = Σ_i w_i n_i``) trained by the
resource rule with ``d_H = −D = −d`` (a correct self-response is weight-neutral) and no
stability, so learning is driven by forced events.

:class:`GoryunovTheory` evaluates the formulas. **Corrected prefactor (spec §5.3):** the
slide's ``dW_c/dt ≈ d·l/(b − a)`` is inconsistent with its own ``t_0`` and ``t_1``, which
follow from the rate ``d/(b − a)``. We re-derive with our own rate constant
``k = d·L/(b − a)``, ``L = ∫ P(count ≥ 1 | x) dx`` — the x-range of examples that make the
central sensory neuron spike (≈ ``l``) — and use it consistently::

    t_0 = (W_t0 − W_0)/k,     t_1 = w_1·l²·(w_max − w_min)² / (k·(σ² + χ²)·(w_max − w_1)²)

(the slide's expressions are these with ``k = d/(b − a)``). ``χ`` is the width of the learned
weight profile, measured from the simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..plasticity.resource import resource_at_zero_weight, resource_to_weight, weight_to_resource

__all__ = ["GoryunovTheory", "grf_binary_task"]


@dataclass(frozen=True)
class GoryunovTheory:
    """The analytical predictions for one setting (units: ``x`` units, examples, resource).

    Attributes
    ----------
    sigma, f_max, t_p : float
        GRF width, peak rate and presentation time (``f_max·t_p`` = peak mean count).
    a, b : float
        Interval of one class's examples.
    density : float
        Sensory neurons per unit of ``x`` (``n``).
    theta : float
        Threshold of the classifying neurons (count scale).
    d : float
        Plasticity increment (resource per forced event).
    w_min, w_max : float
        Weight bounds of the resource mapping.
    chi : float
        Width of the Gaussian weight profile.
    kappa : float, default 1.0
        Error rate on examples no microcolumn answers (1: no answer = error).

    If the threshold cannot be reached (``w_t0 ≥ w_max``: no weight in the range lets the
    neuron answer) the microcolumn never responds: :attr:`t_0`, :attr:`t_1` and :attr:`W_t0`
    are ``inf``, the central resource only grows linearly and the accuracy stays ``1 − κ``
    (see :attr:`threshold_reachable`).

    Raises
    ------
    ValueError
        For a non-finite field or an impossible setting: ``σ, χ, T_p, f_max, n, θ, d ≤ 0``,
        ``f_max·T_p ≤ 1`` (no sensory neuron has a mean count above 1, so ``l`` is not real),
        ``b ≤ a``, not ``w_min < 0 < w_max``, or ``κ`` outside [0, 1].
    """

    sigma: float
    f_max: float
    t_p: float
    a: float
    b: float
    density: float
    theta: float
    d: float
    w_min: float
    w_max: float
    chi: float
    kappa: float = 1.0

    def __post_init__(self) -> None:
        names = ("sigma", "f_max", "t_p", "a", "b", "density", "theta", "d", "w_min", "w_max", "chi", "kappa")
        bad = [n for n in names if not math.isfinite(float(getattr(self, n)))]
        if bad:
            raise ValueError(f"GoryunovTheory fields must be finite; got {', '.join(f'{n}={getattr(self, n)}' for n in bad)}")
        for n in ("sigma", "chi", "f_max", "t_p", "density", "theta", "d"):
            if getattr(self, n) <= 0:
                raise ValueError(f"{n} must be positive; got {getattr(self, n)}")
        if self.f_max * self.t_p <= 1.0:
            raise ValueError(
                f"need f_max·t_p > 1 (peak mean count above one spike, so that l = 2σ√(2 ln(f_max·t_p)) > 0); "
                f"got {self.f_max}·{self.t_p} = {self.f_max * self.t_p}"
            )
        if not self.b > self.a:
            raise ValueError(f"need b > a; got a={self.a}, b={self.b}")
        if not self.w_min < 0 < self.w_max:
            raise ValueError(f"need w_min < 0 < w_max; got {self.w_min}, {self.w_max}")
        if not 0.0 <= self.kappa <= 1.0:
            raise ValueError(f"kappa must lie in [0, 1]; got {self.kappa}")

    @property
    def activity_width(self) -> float:
        """Activity width ``l = 2σ·√(2 ln(f_max·T_p))``: sensory neurons with mean count ≥ 1."""
        return 2.0 * self.sigma * math.sqrt(2.0 * math.log(self.f_max * self.t_p))

    @property
    def n_microcolumns(self) -> float:
        """Most probable number of microcolumns ``N ≈ (b − a)/(2l)``."""
        return (self.b - self.a) / (2.0 * self.activity_width)

    @property
    def coverage(self) -> float:
        """``L = ∫ P(count ≥ 1 | x) dx`` of one sensory neuron (x units), by quadrature."""
        u = np.linspace(-8 * self.sigma, 8 * self.sigma, 4001)
        mean = self.f_max * self.t_p * np.exp(-(u**2) / (2 * self.sigma**2))
        p = 1.0 - np.exp(-mean)
        # the trapezoid rule by hand: np.trapezoid is numpy >= 2 only, np.trapz is gone from numpy 2.4
        return float(np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(u)))

    @property
    def rate(self) -> float:
        """``k = d·L/(b − a)``: growth of the central resource per example before the first response."""
        return self.d * self.coverage / (self.b - self.a)

    @property
    def _var(self) -> float:
        return self.sigma**2 + self.chi**2

    @property
    def w_t0(self) -> float:
        """Central weight at which the neuron starts to answer: ``θ/(T_p f_max n √(2πσ²χ²/(σ²+χ²)))``."""
        return self.theta / (self.t_p * self.f_max * self.density * math.sqrt(2 * math.pi * self.sigma**2 * self.chi**2 / self._var))

    @property
    def threshold_reachable(self) -> bool:
        """Whether some weight below ``w_max`` reaches the threshold (``w_t0 < w_max``)."""
        return self.w_t0 < self.w_max

    @property
    def W_0(self) -> float:
        """Initial resource (``w = 0``)."""
        return float(resource_at_zero_weight(self.w_min, self.w_max))

    @property
    def W_t0(self) -> float:
        """Resource of ``w_t0`` (``inf`` if the threshold is unreachable)."""
        if not self.threshold_reachable:
            return math.inf
        return float(weight_to_resource(self.w_t0, self.w_min, self.w_max))

    @property
    def t_0(self) -> float:
        """Incubation time (examples of the class) ``(W_t0 − W_0)/k``; ``inf`` if the threshold is unreachable."""
        return (self.W_t0 - self.W_0) / self.rate

    @property
    def w_1(self) -> float:
        """Fixed point where ``l_f = 2l``: ``w_t0·exp(l²/(2(σ² + χ²)))`` (capped below ``w_max``)."""
        return min(self.w_t0 * math.exp(self.activity_width**2 / (2 * self._var)), self.w_max * (1 - 1e-9))

    @property
    def W_1(self) -> float:
        """Resource of ``w_1``."""
        return float(weight_to_resource(self.w_1, self.w_min, self.w_max))

    @property
    def t_1(self) -> float:
        """Relaxation time ``w_1 l² (w_max − w_min)² / (k (σ²+χ²)(w_max − w_1)²)``; ``inf`` if the
        threshold is unreachable."""
        if not self.threshold_reachable:
            return math.inf
        span = self.w_max - self.w_min
        return self.w_1 * self.activity_width**2 * span**2 / (self.rate * self._var * (self.w_max - self.w_1) ** 2)

    def central_resource(self, t: np.ndarray) -> np.ndarray:
        """``W_c(t)``: linear growth until ``t_0``, then ``W_1 + (W_t0 − W_1)·exp(−(t − t_0)/t_1)``."""
        t = np.asarray(t, dtype=np.float64)
        early = self.W_0 + self.rate * t
        if not self.threshold_reachable:
            return early
        late = self.W_1 + (self.W_t0 - self.W_1) * np.exp(-(t - self.t_0) / self.t_1)
        return np.where(t < self.t_0, early, late)

    def response_width(self, w: np.ndarray) -> np.ndarray:
        """``l_f(w) = 2√(2(σ²+χ²) ln(w/w_t0))`` (0 below ``w_t0``)."""
        w = np.asarray(w, dtype=np.float64)
        ratio = np.maximum(w / self.w_t0, 1.0)
        return 2.0 * np.sqrt(2.0 * self._var * np.log(ratio))

    def accuracy(self, t: np.ndarray) -> np.ndarray:
        """``1 − κ(1 − l_f/(2l))`` at ``t`` examples per class (spec §5.3's dimensionally consistent form)."""
        w = resource_to_weight(self.central_resource(t), self.w_min, self.w_max)
        frac = np.clip(self.response_width(w) / (2 * self.activity_width), 0.0, 1.0)
        return 1.0 - self.kappa * (1.0 - frac)


def grf_binary_task(
    n_samples: int,
    *,
    sigma: float,
    a: float = 0.0,
    b: float = 1.0,
    gap: float = 1.0,
    density: float = 100.0,
    margin: float | None = None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Examples of the binary task: class 0 uniform on ``[a, b]``, class 1 on ``[b + gap, 2b − a + gap]``.

    Returns
    -------
    X : ndarray [n_samples, n_sensory]  GRF intensities ``f_i(x)/f_max`` in [0, 1]
    y : ndarray [n_samples]  labels (balanced, shuffled)
    x : ndarray [n_samples]  the scalars
    centres : ndarray [n_sensory]  sensory centres ``m_i`` (spacing ``1/density``)
    """
    width = b - a
    margin = 4 * sigma if margin is None else margin
    lo, hi = a - margin, b + gap + width + margin
    centres = np.arange(lo, hi + 1e-12, 1.0 / density)
    y = rng.permutation(np.arange(n_samples) % 2)
    x = rng.uniform(a, b, n_samples) + y * (width + gap)
    X = np.exp(-((x[:, None] - centres[None, :]) ** 2) / (2 * sigma**2))
    return X, y, x, centres

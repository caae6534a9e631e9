"""Restricted symmetric nearest-neighbour STDP (NEST ``stdp_nn_restr_synapse``; spec §A.5).

Semantics, for one synapse with dendritic delay ``d`` (all times in integer steps of
``dt_ms``; ``ŵ = w / w_max``). On each presynaptic spike at ``t`` with predecessor
``t_prev`` (initially 0, as in NEST), collect the postsynaptic spikes ``q`` with
``t_prev − d < q ≤ t − d``. If there are none, nothing changes. Otherwise:

* LTP, pairing the *previous* pre spike with the earliest such post spike ``q0``::

      Δt = q0 + d − t_prev > 0,    ŵ ← min(1, ŵ + λ·(1 − ŵ)^μ+ · exp(−Δt/τ+))

* LTD, pairing this pre spike with the latest post spike strictly before ``t − d``::

      K = exp(−(t − d − q_last)/τ−),    ŵ ← max(0, ŵ − α·λ·ŵ^μ− · K)

``μ± = 0`` is additive STDP (the authors' configs), ``μ± = 1`` multiplicative (NEST's default
and the slide's wording; spec G.3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from .. import _numba_cache  # noqa: F401  (cache stamps that see inlined primitives; before any @njit)
from .trace_stdp import _check_step_arguments, _spike_steps

__all__ = [
    "NNRestrictedSTDP",
    "stdp_depress",
    "stdp_facilitate",
    "stdp_nn_restricted",
    "stdp_nn_restricted_reference",
]


@dataclass(frozen=True)
class NNRestrictedSTDP:
    """Parameters of the restricted nearest-neighbour STDP rule.

    Attributes
    ----------
    lam : float
        Learning rate ``λ`` (NEST ``lambda``); 0.01 in the authors' configs.
    alpha : float
        Depression/potentiation ratio ``α``.
    mu_plus, mu_minus : float
        Weight-dependence exponents ``μ±`` (0 additive, 1 multiplicative).
    tau_plus_ms, tau_minus_ms : float
        Time constants of the LTP and LTD windows (ms). ``τ−`` is a neuron parameter in
        NEST and defaults to 20 ms there (spec G.11).
    w_max : float
        Upper weight bound ``W_max``.
    """

    lam: float = 0.01
    alpha: float = 1.0
    mu_plus: float = 0.0
    mu_minus: float = 0.0
    tau_plus_ms: float = 20.0
    tau_minus_ms: float = 20.0
    w_max: float = 1.0

    def __post_init__(self) -> None:
        """Check the parameters.

        Raises
        ------
        ValueError
            For a NaN or infinite number, a time constant or ``w_max`` that is not positive, or a
            negative ``lam`` or ``alpha``.
        """
        for name, value in asdict(self).items():
            if not math.isfinite(value):
                raise ValueError(f"NNRestrictedSTDP.{name} must be finite; got {value}")
        if self.tau_plus_ms <= 0 or self.tau_minus_ms <= 0:
            raise ValueError("tau_plus_ms and tau_minus_ms must be positive")
        if self.w_max <= 0:
            raise ValueError("w_max must be positive")
        if self.lam < 0 or self.alpha < 0:
            raise ValueError("lam and alpha must be non-negative")

    def as_array(self) -> np.ndarray:
        """Parameters packed for the compiled kernels, in field order."""
        return np.array(list(asdict(self).values()), dtype=np.float64)


@njit(cache=True, nogil=True)
def stdp_facilitate(w: float, k_plus: float, lam: float, mu_plus: float, w_max: float) -> float:
    """LTP step: ``ŵ ← min(1, ŵ + λ(1 − ŵ)^μ+ · k_plus)`` with ``k_plus = exp(−Δt/τ+)``.

    Parameters and return value are weights in units of ``w`` (not normalised).
    """
    nw = w / w_max
    nw = nw + lam * (1.0 - nw) ** mu_plus * k_plus
    return nw * w_max if nw < 1.0 else w_max


@njit(cache=True, nogil=True)
def stdp_depress(
    w: float, k_minus: float, lam: float, alpha: float, mu_minus: float, w_max: float
) -> float:
    """LTD step: ``ŵ ← max(0, ŵ − αλ ŵ^μ− · k_minus)`` with ``k_minus = exp(−Δt/τ−)``."""
    nw = w / w_max
    nw = nw - alpha * lam * nw**mu_minus * k_minus
    return nw * w_max if nw > 0.0 else 0.0


def stdp_nn_restricted_reference(
    pre_steps: Sequence[int],
    post_steps: Sequence[int],
    w0: float,
    params: NNRestrictedSTDP,
    *,
    delay_steps: int,
    dt_ms: float,
    return_trace: bool = False,
):
    """Readable reference: apply the rule to one synapse, spike by spike.

    Parameters
    ----------
    pre_steps, post_steps : sequences of int
        Pre- and postsynaptic spike times (steps), sorted ascending.
    w0 : float
        Initial weight.
    params : NNRestrictedSTDP
    delay_steps : int
        Dendritic delay ``d`` (steps, ≥ 0).
    dt_ms : float
        Step size (ms, positive).
    return_trace : bool
        Also return the weight after each pre spike.

    Returns
    -------
    float, or (float, list of float) with ``return_trace``.

    Raises
    ------
    ValueError
        If ``dt_ms`` is not a positive finite number, ``delay_steps`` is not a non-negative
        integer, a train is not 1-D or holds a negative or non-integer step (``10.0`` is
        accepted, ``10.7`` is not), or ``w0`` is not finite.
    """
    pre_steps, post_steps, d = _check_rule_arguments(pre_steps, post_steps, w0, delay_steps, dt_ms)
    post = sorted(int(q) for q in post_steps)
    w = float(w0)
    t_prev = 0  # NEST initialises t_lastspike_ to 0
    trace = []
    for t in (int(x) for x in pre_steps):
        window = [q for q in post if t_prev - d < q <= t - d]
        if window:
            q0 = min(window)
            dt_plus = (q0 + d - t_prev) * dt_ms
            w_n = w / params.w_max
            w_n = min(1.0, w_n + params.lam * (1 - w_n) ** params.mu_plus * math.exp(-dt_plus / params.tau_plus_ms))
            earlier = [q for q in post if q < t - d]
            k_minus = math.exp(-((t - d - max(earlier)) * dt_ms) / params.tau_minus_ms) if earlier else 0.0
            w_n = max(0.0, w_n - params.alpha * params.lam * w_n**params.mu_minus * k_minus)
            w = w_n * params.w_max
        t_prev = t
        trace.append(w)
    return (w, trace) if return_trace else w


@njit(cache=True, nogil=True)
def _stdp_batch(pre, pre_ptr, post, post_ptr, w, d, dt_ms, p):
    lam, alpha, mu_p, mu_m, tau_p, tau_m, w_max = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    n_in, n_out = w.shape
    for j in range(n_in):
        for c in range(n_out):
            posts = post[post_ptr[c] : post_ptr[c + 1]]
            n_post = posts.shape[0]
            wj = w[j, c]
            t_prev = 0
            for i in range(pre_ptr[j], pre_ptr[j + 1]):
                t = pre[i]
                lo = np.searchsorted(posts, t_prev - d, side="right")
                if lo < n_post and posts[lo] <= t - d:
                    k_plus = math.exp(-((posts[lo] + d - t_prev) * dt_ms) / tau_p)
                    wj = stdp_facilitate(wj, k_plus, lam, mu_p, w_max)
                    hi = np.searchsorted(posts, t - d, side="left") - 1
                    k_minus = 0.0
                    if hi >= 0:
                        k_minus = math.exp(-((t - d - posts[hi]) * dt_ms) / tau_m)
                    wj = stdp_depress(wj, k_minus, lam, alpha, mu_m, w_max)
                t_prev = t
            w[j, c] = wj
    return w


def _check_rule_arguments(
    pre_steps: Sequence[int], post_steps: Sequence[int], w0: float, delay_steps: int, dt_ms: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Check the arguments of a one-synapse reference; return the trains as int64 and the delay.

    Raises ``ValueError`` if ``dt_ms`` is not a positive finite number, ``delay_steps`` is not
    a non-negative integer, a spike step is negative or not an integer (``10.0`` is accepted,
    ``10.7`` is not), a train is not 1-D, or ``w0`` is not finite.
    """
    d = _check_step_arguments(dt_ms, delay_steps)
    if not math.isfinite(w0):
        raise ValueError(f"w0 must be finite; got {w0}")
    return _spike_steps(pre_steps, "pre_steps"), _spike_steps(post_steps, "post_steps"), d


def _to_csr(trains: Sequence[Sequence[int]], what: str) -> tuple[np.ndarray, np.ndarray]:
    """Pack a list of sorted spike-step sequences into (values, pointers)."""
    arrays = [_spike_steps(t, f"{what}[{i}]") for i, t in enumerate(trains)]
    for a in arrays:
        if a.size > 1 and np.any(np.diff(a) < 0):
            raise ValueError("spike trains must be sorted ascending")
    ptr = np.zeros(len(arrays) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([a.size for a in arrays])
    vals = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    return vals, ptr


def _run_batch(kernel, pre_trains, post_trains, w0, params, delay_steps: int, dt_ms: float) -> np.ndarray:
    """Pack the trains, check ``w0`` [D, C] and run a compiled all-to-all batch kernel on a copy.

    Raises ``ValueError`` as :func:`_check_rule_arguments` does, for unsorted trains and for a
    ``w0`` of the wrong shape.
    """
    d = _check_step_arguments(dt_ms, delay_steps)
    pre, pre_ptr = _to_csr(pre_trains, "pre_trains")
    post, post_ptr = _to_csr(post_trains, "post_trains")
    w = np.array(w0, dtype=np.float64, copy=True)
    if w.shape != (len(pre_trains), len(post_trains)):
        raise ValueError(f"w0 must have shape [{len(pre_trains)}, {len(post_trains)}]; got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("w0 must be finite")
    return kernel(pre, pre_ptr, post, post_ptr, w, d, float(dt_ms), params.as_array())


def stdp_nn_restricted(
    pre_trains: Sequence[Sequence[int]],
    post_trains: Sequence[Sequence[int]],
    w0: np.ndarray,
    params: NNRestrictedSTDP,
    *,
    delay_steps: int,
    dt_ms: float,
) -> np.ndarray:
    """Compiled batch path: the rule on every synapse of an all-to-all layer.

    Parameters
    ----------
    pre_trains : list of D sorted int sequences
        Presynaptic spike steps of each input.
    post_trains : list of C sorted int sequences
        Postsynaptic spike steps of each output neuron.
    w0 : ndarray of shape [D, C]
        Initial weights (not modified), finite.
    params : NNRestrictedSTDP
    delay_steps : int
        Dendritic delay ``d`` (steps, ≥ 0).
    dt_ms : float
        Step size (ms, positive).

    Returns
    -------
    ndarray of shape [D, C]: final weights, equal to
    :func:`stdp_nn_restricted_reference` applied to each synapse.

    Raises
    ------
    ValueError
        If ``dt_ms`` is not a positive finite number, ``delay_steps`` is not a non-negative
        integer, a train is not 1-D, unsorted, or holds a negative or non-integer step
        (``10.0`` is accepted, ``10.7`` is not), or ``w0`` has the wrong shape or a NaN/inf.
    """
    return _run_batch(_stdp_batch, pre_trains, post_trains, w0, params, delay_steps, dt_ms)

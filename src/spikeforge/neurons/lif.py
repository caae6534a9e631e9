"""Leaky integrate-and-fire neurons with conductance- or current-based synapses, refractoriness
and an adaptive threshold (spec §B.1, §B.3, §E).

Conductance-based (Diehl & Cook 2015; Antonov's STDP + All-LTD network), with dimensionless
conductances ``g_e, g_i`` (multiples of the leak conductance)::

    τ_m dv/dt = (v_rest − v) + g_e (E_exc − v) + g_i (E_inh − v)
    dg_e/dt = −g_e / τ_ge,        dg_i/dt = −g_i / τ_gi

Current-based, with synaptic "currents" ``g_e, g_i`` in mV::

    τ_m dv/dt = (v_rest − v) + g_e − g_i

A presynaptic spike through a synapse of weight ``w`` adds ``w`` to ``g_e`` (excitatory
receptor) or ``g_i`` (inhibitory). A neuron spikes when ``v > v_thresh + θ`` and it is not
refractory; then ``v ← v_reset`` and ``θ ← θ + θ_plus``; ``dθ/dt = −θ/τ_θ``. Two readings of
the adaptive threshold exist and both are supported:

* **live** (Diehl & Cook's θ): the current ``θ`` enters the threshold at every step;
* **snapshot** (Antonov's ``v2 ← vt`` at each image onset, spec §B.3 and G.18): the threshold
  uses a copy of ``θ`` taken at the onset of each presentation and held for the presentation.

Refractoriness lasts ``refractory_ms`` after a spike. ``clamp_refractory=True`` holds ``v`` at
``v_reset`` meanwhile (Brian 1, NEST, BindsNET); ``False`` lets ``v`` integrate and only blocks
spiking (Brian 2 without ``(unless refractory)``, as in Antonov's notebooks).

Integration is forward Euler with step ``dt`` (Brian's ``method='euler'``; Brian 1 also used
Euler for these non-linear equations). The per-step formulas below are compiled with numba and
shared by the simulation engine (:mod:`spikeforge.sim`) and its readable reference stepper.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from .. import _numba_cache  # noqa: F401  (cache stamps that see inlined primitives; before any @njit)

__all__ = [
    "LIFParameters",
    "lif_conductance_euler",
    "lif_current_euler",
    "simulate_lif_reference",
]


@dataclass(frozen=True)
class LIFParameters:
    """Parameters of a LIF population (all potentials in mV, times in ms).

    Attributes
    ----------
    synapse : {"conductance", "current"}
        Conductance-based (reversal potentials ``e_exc_mv``, ``e_inh_mv``) or current-based.
    tau_m_ms : float
        Membrane time constant.
    v_rest_mv, v_reset_mv, v_thresh_mv : float
        Resting, reset and base threshold potentials.
    v_init_mv : float or None
        Initial membrane potential (None: ``v_rest_mv``).
    refractory_ms : float
        Refractory period after a spike.
    clamp_refractory : bool
        Hold ``v`` at ``v_reset_mv`` during the refractory period (True) or let it integrate
        and only block spiking (False).
    spike_block_ms : float or None
        Minimum time between two spikes, if longer than ``refractory_ms`` (``v`` integrates
        after the refractory period but cannot cross the threshold). Diehl & Cook's Brian 1
        code has ``dtimer/dt = 100`` with the condition ``timer > 5 ms``: 50 ms. None: no extra block.
    e_exc_mv, e_inh_mv : float
        Reversal potentials (conductance-based only).
    tau_ge_ms, tau_gi_ms : float
        Decay time constants of the excitatory / inhibitory synaptic variables (≥ 0; 0 makes a
        synaptic input act during one step only).
    theta_plus_mv : float
        Threshold increment per spike (0: no adaptive threshold).
    tau_theta_ms : float
        Decay time constant of ``θ`` (towards 0).
    theta_init_mv : float
        Initial ``θ``.
    theta_snapshot : bool
        Use the snapshot reading of the adaptive threshold (see module docstring).
    """

    synapse: str = "conductance"
    tau_m_ms: float = 100.0
    v_rest_mv: float = -65.0
    v_reset_mv: float = -65.0
    v_thresh_mv: float = -52.0
    v_init_mv: float | None = None
    refractory_ms: float = 5.0
    clamp_refractory: bool = True
    spike_block_ms: float | None = None
    e_exc_mv: float = 0.0
    e_inh_mv: float = -100.0
    tau_ge_ms: float = 1.0
    tau_gi_ms: float = 2.0
    theta_plus_mv: float = 0.0
    tau_theta_ms: float = 1e7
    theta_init_mv: float = 0.0
    theta_snapshot: bool = False

    def __post_init__(self) -> None:
        """Store numbers as floats and check them.

        Raises
        ------
        ValueError
            For an unknown ``synapse``, a NaN or infinite number, a time constant ``τ_m`` or
            ``τ_θ`` that is not positive, a negative ``τ_ge``, ``τ_gi``, refractory period,
            spike block or ``θ_plus``.
        """
        for name, value in asdict(self).items():  # accept ints, store floats
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
                if not math.isfinite(value):
                    raise ValueError(f"LIFParameters.{name} must be finite; got {value}")
        if self.synapse not in ("conductance", "current"):
            raise ValueError(f"synapse must be 'conductance' or 'current'; got {self.synapse!r}")
        if self.tau_m_ms <= 0 or self.tau_theta_ms <= 0:
            raise ValueError("tau_m_ms and tau_theta_ms must be positive")
        if self.tau_ge_ms < 0 or self.tau_gi_ms < 0 or self.refractory_ms < 0:
            raise ValueError("tau_ge_ms, tau_gi_ms and refractory_ms must be non-negative")
        if self.theta_plus_mv < 0:
            raise ValueError("theta_plus_mv must be non-negative")
        if self.spike_block_ms is not None and self.spike_block_ms < 0:
            raise ValueError("spike_block_ms must be non-negative or None")

    def block_steps(self, dt_ms: float) -> int:
        """Steps after a spike during which the neuron cannot spike (≥ the refractory steps)."""
        ref = int(round(self.refractory_ms / dt_ms))
        if self.spike_block_ms is None:
            return ref
        return max(ref, int(round(self.spike_block_ms / dt_ms)))

    def replace(self, **changes) -> LIFParameters:
        """A copy with some fields changed."""
        return LIFParameters(**{**asdict(self), **changes})

    def decay_factors(self, dt_ms: float) -> tuple[float, float, float]:
        """Per-step Euler factors ``(1 − dt/τ_ge, 1 − dt/τ_gi, 1 − dt/τ_θ)`` (0 for τ = 0).

        Also checks the step against the membrane time constant ``τ_m`` (its factor
        ``dt/τ_m`` is applied by the Euler step itself): every simulation of these parameters
        calls this first.

        Parameters
        ----------
        dt_ms : float
            Time step (ms).

        Raises
        ------
        ValueError
            If ``dt_ms`` is not a positive finite number, or exceeds ``τ_m``, ``τ_θ`` or a
            non-zero ``τ_ge`` / ``τ_gi`` (forward Euler is unstable there: the factor
            ``1 − dt/τ`` is negative and below −1 for ``dt > 2τ``).
        """
        if not (math.isfinite(dt_ms) and dt_ms > 0):
            raise ValueError(f"dt_ms must be a positive finite number; got {dt_ms}")

        def f(tau: float) -> float:
            if tau == 0:
                return 0.0
            if dt_ms > tau:
                raise ValueError(f"dt_ms = {dt_ms} exceeds a time constant ({tau} ms): Euler is unstable")
            return 1.0 - dt_ms / tau

        f(self.tau_m_ms)
        return f(self.tau_ge_ms), f(self.tau_gi_ms), f(self.tau_theta_ms)


@njit(cache=True, nogil=True, inline="always")
def lif_conductance_euler(v, ge, gi, v_rest, e_exc, e_inh, dt_over_tau):
    """One Euler step of the conductance-based membrane: returns the new ``v`` (mV)."""
    return v + dt_over_tau * ((v_rest - v) + ge * (e_exc - v) + gi * (e_inh - v))


@njit(cache=True, nogil=True, inline="always")
def lif_current_euler(v, ge, gi, v_rest, dt_over_tau):
    """One Euler step of the current-based membrane: returns the new ``v`` (mV)."""
    return v + dt_over_tau * ((v_rest - v) + ge - gi)


def simulate_lif_reference(
    params: LIFParameters,
    ge_input: np.ndarray,
    gi_input: np.ndarray,
    dt_ms: float,
    *,
    adapt: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Readable clock-driven simulation of one LIF population driven by synaptic increments.

    Parameters
    ----------
    params : LIFParameters
    ge_input, gi_input : ndarray of shape [T, N]
        Increments added to ``g_e`` / ``g_i`` at the end of each step (after threshold and
        reset), so they act from the next step on, as spikes arriving through synapses do.
    dt_ms : float
        Step (ms).
    adapt : bool
        Whether ``θ`` decays and grows (live reading; the snapshot reading needs presentations
        and lives in :mod:`spikeforge.sim`).

    Returns
    -------
    spikes : ndarray of bool, shape [T, N]
    v : ndarray of shape [T, N]
        Membrane potential at the end of each step (after reset).
    """
    ge_input = np.asarray(ge_input, dtype=np.float64)
    gi_input = np.asarray(gi_input, dtype=np.float64)
    T, N = ge_input.shape
    dge, dgi, dth = params.decay_factors(dt_ms)
    ref_steps = int(round(params.refractory_ms / dt_ms))
    block_steps = params.block_steps(dt_ms)
    v0 = params.v_rest_mv if params.v_init_mv is None else params.v_init_mv
    v = np.full(N, float(v0))
    ge = np.zeros(N)
    gi = np.zeros(N)
    theta = np.full(N, float(params.theta_init_mv))
    last = np.full(N, -(2**40), dtype=np.int64)
    spikes = np.zeros((T, N), dtype=bool)
    trace = np.zeros((T, N))
    dt_tau = dt_ms / params.tau_m_ms
    for t in range(T):
        for i in range(N):
            refractory = t - last[i] < ref_steps
            if not (params.clamp_refractory and refractory):
                if params.synapse == "conductance":
                    v[i] = lif_conductance_euler(
                        v[i], ge[i], gi[i], params.v_rest_mv, params.e_exc_mv, params.e_inh_mv, dt_tau
                    )
                else:
                    v[i] = lif_current_euler(v[i], ge[i], gi[i], params.v_rest_mv, dt_tau)
            ge[i] *= dge
            gi[i] *= dgi
            if adapt:
                theta[i] *= dth
            if t - last[i] >= block_steps and v[i] > params.v_thresh_mv + theta[i]:
                spikes[t, i] = True
                v[i] = params.v_reset_mv
                last[i] = t
                if adapt:
                    theta[i] += params.theta_plus_mv
        ge += ge_input[t]
        gi += gi_input[t]
        trace[t] = v
    return spikes, trace

"""LIF neuron: parameters, the shared Euler formulas and the readable reference simulation."""

import numpy as np
import pytest

from spikeforge.neurons.lif import (
    LIFParameters,
    lif_conductance_euler,
    lif_current_euler,
    simulate_lif_reference,
)


def test_euler_steps_by_hand():
    # v = -60, ge = 0.5, gi = 0.2, v_rest = -65, E = (0, -100), dt/τ = 0.005
    v = lif_conductance_euler(-60.0, 0.5, 0.2, -65.0, 0.0, -100.0, 0.005)
    assert v == pytest.approx(-60.0 + 0.005 * (-5.0 + 0.5 * 60.0 + 0.2 * -40.0))
    assert lif_current_euler(-70.0, 3.0, 1.0, -70.0, 0.1) == pytest.approx(-70.0 + 0.1 * 2.0)


def test_decay_factors_and_validation():
    p = LIFParameters(tau_ge_ms=1.0, tau_gi_ms=0.0, tau_theta_ms=1e7)
    assert p.decay_factors(0.5) == (0.5, 0.0, 1.0 - 0.5e-7)
    with pytest.raises(ValueError, match="unstable"):
        LIFParameters(tau_ge_ms=0.1).decay_factors(0.5)
    with pytest.raises(ValueError):
        LIFParameters(synapse="gap")
    with pytest.raises(ValueError):
        LIFParameters(tau_m_ms=0)
    assert isinstance(LIFParameters(v_rest_mv=-60).v_rest_mv, float)


def test_constant_drive_gives_regular_spiking_with_refractory_period():
    p = LIFParameters(synapse="current", tau_m_ms=10.0, v_rest_mv=-70.0, v_reset_mv=-70.0, v_thresh_mv=-60.0,
                      tau_ge_ms=0.0, refractory_ms=5.0)
    T = 2000
    drive = np.full((T, 1), 20.0)  # a 20 mV "current" every step: v_inf = -50 mV
    spikes, v = simulate_lif_reference(p, drive, np.zeros((T, 1)), 0.1)
    isi = np.diff(np.flatnonzero(spikes[:, 0]))
    assert isi.size > 10 and np.all(isi == isi[-1]) and isi[-1] > 50  # refractory 5 ms = 50 steps
    assert v.min() >= -70.0 - 1e-9


def test_adaptive_threshold_slows_firing_and_block_delays_the_next_spike():
    base = LIFParameters(synapse="current", tau_m_ms=10.0, v_rest_mv=-70.0, v_reset_mv=-70.0, v_thresh_mv=-60.0,
                         tau_ge_ms=0.0, refractory_ms=1.0)
    drive = np.full((3000, 1), 30.0)
    n_plain = simulate_lif_reference(base, drive, 0 * drive, 0.1)[0].sum()
    n_adapt = simulate_lif_reference(base.replace(theta_plus_mv=2.0, tau_theta_ms=500.0), drive, 0 * drive, 0.1)[0].sum()
    n_block = simulate_lif_reference(base.replace(spike_block_ms=20.0), drive, 0 * drive, 0.1)[0].sum()
    assert n_adapt < n_plain and n_block <= 300 / 20 + 1 < n_plain


def test_clamped_refractory_holds_the_potential():
    p = LIFParameters(synapse="current", tau_m_ms=10.0, v_rest_mv=-70.0, v_reset_mv=-75.0, v_thresh_mv=-60.0,
                      tau_ge_ms=0.0, refractory_ms=2.0, clamp_refractory=True)
    spikes, v = simulate_lif_reference(p, np.full((300, 1), 40.0), np.zeros((300, 1)), 0.1)
    first = int(np.flatnonzero(spikes[:, 0])[0])
    np.testing.assert_array_equal(v[first : first + 20, 0], -75.0)  # held for 2 ms
    assert v[first + 20, 0] > -75.0


def test_membrane_time_constant_below_the_step_is_refused():
    with pytest.raises(ValueError, match="unstable"):
        LIFParameters(tau_m_ms=0.1).decay_factors(0.5)
    with pytest.raises(ValueError, match="unstable"):
        simulate_lif_reference(LIFParameters(tau_m_ms=0.2), np.zeros((3, 1)), np.zeros((3, 1)), 0.5)
    LIFParameters(tau_m_ms=0.5, tau_ge_ms=0.5, tau_gi_ms=0.5).decay_factors(0.5)  # dt = τ is still allowed
    for dt in (0.0, -0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="dt_ms"):
            LIFParameters().decay_factors(dt)

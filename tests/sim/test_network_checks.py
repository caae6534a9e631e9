"""Network monitors with repetitions, argument checks and state loading (regressions from review)."""

import warnings

import numpy as np
import pytest

from spikeforge.neurons.lif import LIFParameters
from spikeforge.plasticity.trace_stdp import TraceSTDP
from spikeforge.sim import Network, ReferenceNetwork
from spikeforge.sim import network as network_module

NAN = float("nan")


def small(seed=0, **lif):
    net = Network(dt_ms=0.5, seed=seed)
    net.add_input("X", 4)
    net.add_population("E", 3, LIFParameters(**lif))
    net.connect("X", "E", weight=(0.0, 1.0), plasticity=TraceSTDP(), name="XE")
    return net


def retrying(threshold=1e6):
    """One neuron that never fires (``threshold``): every presentation is repeated ``max_retries`` times."""
    net = Network(dt_ms=1.0, seed=0)
    net.add_input("X", 2)
    net.add_population("E", 1, LIFParameters(v_thresh_mv=threshold))
    net.connect("X", "E", weight=0.5)
    return net


# ---------------------------------------------------------------- voltages with repetitions
def test_voltages_cover_every_step_of_every_attempt():
    net = retrying()
    res = net.run(np.full((3, 2), 50.0), active_ms=10, rest_ms=5, min_spikes=1, max_retries=2, learning=False,
                  record_voltages=["E"], record_spikes=True)
    assert res.attempts.tolist() == [2, 2, 2]
    steps = int(round(net.time_ms / net.dt_ms))
    assert steps == 135
    assert res.voltages["E"].shape == (135, 1)
    np.testing.assert_array_equal(res.voltage_offsets, [0, 45, 90, 135])
    assert res.voltage_t0_ms == 0.0
    # the last recorded input spike lies inside the recorded time span
    assert res.spikes["X"][0].max() < res.voltage_t0_ms + res.voltages["E"].shape[0] * net.dt_ms


def test_voltage_rows_map_to_network_time_across_repetitions_and_runs():
    """A neuron's recorded potential is ``v_reset`` exactly at its recorded spikes (row = time / dt)."""
    exc = LIFParameters(v_rest_mv=-65, v_reset_mv=-80, v_thresh_mv=-60, refractory_ms=2, tau_ge_ms=3)
    net = Network(dt_ms=0.5, seed=1)
    net.add_input("X", 20)
    net.add_population("E", 4, exc)
    net.connect("X", "E", weight=(0.0, 0.4))
    rates = np.full((5, 20), 20.0)
    rates[::2] = 2.0  # the weak presentations need repetitions
    kw = dict(active_ms=20, rest_ms=5, min_spikes=3, max_retries=3, retry_gain=2.0, learning=False,
              record_voltages=["E"], record_spikes=True)
    net.run(rates[:1], active_ms=7, rest_ms=0)  # the second run starts later than 0 ms
    res = net.run(rates, **kw)
    assert res.attempts.max() > 0
    v = res.voltages["E"]
    per = 50  # steps of one attempt
    np.testing.assert_array_equal(np.diff(res.voltage_offsets), (res.attempts + 1) * per)
    assert v.shape[0] == res.voltage_offsets[-1]
    assert res.voltage_t0_ms == 7.0
    t, i = res.spikes["E"]
    assert t.size > 0
    rows = np.rint((t - res.voltage_t0_ms) / net.dt_ms).astype(int)
    np.testing.assert_array_equal(v[rows, i], -80.0)
    # the last attempt of presentation n is the last `per` rows of its block, as the counts are
    for n in range(rates.shape[0]):
        lo = res.voltage_offsets[n + 1] - per
        in_last = (rows >= lo) & (rows < lo + 40)  # active phase of the last attempt
        np.testing.assert_array_equal(np.bincount(i[in_last], minlength=4), res.counts["E"][n])
    # independent of the chunking
    other = Network(dt_ms=0.5, seed=1)
    other.add_input("X", 20)
    other.add_population("E", 4, exc)
    other.connect("X", "E", weight=(0.0, 0.4))
    other.run(rates[:1], active_ms=7, rest_ms=0)
    res1 = other.run(rates, chunk=1, **kw)
    np.testing.assert_array_equal(res1.voltages["E"], v)


def test_voltage_recording_cap_warns_and_keeps_whole_presentations(monkeypatch):
    net = retrying()
    # room for 2 attempts of 15 steps: presentation 0 (3 attempts) does not fit
    monkeypatch.setattr(network_module, "MAX_VOLTAGE_BYTES", 8 * 75)
    with pytest.warns(RuntimeWarning, match="voltages"):
        res = net.run(np.full((3, 2), 50.0), active_ms=10, rest_ms=5, min_spikes=1, max_retries=2,
                      learning=False, record_voltages=["E"])
    assert res.attempts.tolist() == [2, 2, 2]
    n_rows = res.voltages["E"].shape[0]
    assert n_rows == res.voltage_offsets[-1]
    assert res.voltage_offsets.shape[0] - 1 < 3  # fewer presentations than run, and said so
    # without repetitions a recording that cannot fit is refused before anything runs
    monkeypatch.setattr(network_module, "MAX_VOLTAGE_BYTES", 8 * 20)
    before = net.time_ms
    with pytest.raises(ValueError, match="GiB|bytes"):
        net.run(np.full((3, 2), 50.0), active_ms=10, rest_ms=5, record_voltages=["E"])
    assert net.time_ms == before


def test_spike_recording_overflow_warns():
    net = small(v_thresh_mv=-64.9, refractory_ms=0.0)
    with pytest.warns(RuntimeWarning, match="max_recorded_spikes"):
        res = net.run(np.full((1, 4), 500.0), active_ms=20, rest_ms=0, record_spikes=True, max_recorded_spikes=5)
    assert sum(t.size for t, _ in res.spikes.values()) == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small().run(np.full((1, 4), 50.0), active_ms=20, rest_ms=0, record_spikes=True)


# ---------------------------------------------------------------- NaN and other bad values
@pytest.mark.parametrize("field", ["a_plus", "a_minus", "tau_pre_ms", "tau_post_ms", "tau_post2_ms", "w_min",
                                   "w_max", "prune_tau_ms"])
def test_trace_stdp_refuses_nan(field):
    with pytest.raises(ValueError, match="finite|NaN"):
        TraceSTDP(**{field: NAN})


@pytest.mark.parametrize("field", ["tau_m_ms", "v_rest_mv", "v_reset_mv", "v_thresh_mv", "v_init_mv",
                                   "refractory_ms", "spike_block_ms", "e_exc_mv", "e_inh_mv", "tau_ge_ms",
                                   "tau_gi_ms", "theta_plus_mv", "tau_theta_ms", "theta_init_mv"])
def test_lif_parameters_refuse_nan_and_infinity(field):
    with pytest.raises(ValueError, match="finite"):
        LIFParameters(**{field: NAN})
    with pytest.raises(ValueError, match="finite"):
        LIFParameters(**{field: float("inf")})


@pytest.mark.parametrize(
    "action, exc, msg",
    [
        (lambda n: n.connect("X", "E", plasticity=TraceSTDP(), norm_total=NAN, name="q"), ValueError, "norm_total"),
        (lambda n: n.connect("X", "E", plasticity=TraceSTDP(), norm_total=np.inf, name="q"), ValueError,
         "norm_total"),
        (lambda n: n.run(np.ones((1, 4)), active_ms=5, gates={"XE": np.full((3, 2), NAN)}), ValueError, "finite"),
        (lambda n: n.run(np.ones((1, 4)), active_ms=5, min_spikes=1, retry_gain=NAN), ValueError, "retry_gain"),
        (lambda n: n.run(np.ones((1, 4)), active_ms=5, min_spikes=1, retry_gain=np.inf), ValueError,
         "retry_gain"),
        (lambda n: n.set_theta("E", NAN), ValueError, "finite"),
        (lambda n: n.set_theta("E", [1.0, 2.0]), ValueError, "shape"),
        (lambda n: n.run(np.ones((1, 4)), active_ms=NAN), ValueError, "active_ms"),
        (lambda n: n.run(np.ones((1, 4)), active_ms=5, rest_ms=np.inf), ValueError, "rest_ms"),
        (lambda n: Network(dt_ms=np.inf), ValueError, "dt_ms"),
        (lambda n: Network(dt_ms=NAN), ValueError, "dt_ms"),
    ],
)
def test_nan_and_infinite_arguments_are_refused(action, exc, msg):
    net = small()
    with pytest.raises(exc, match=msg):
        action(net)
    np.testing.assert_array_equal(net.theta("E"), 0.0)


# ---------------------------------------------------------------- clear errors
@pytest.mark.parametrize(
    "action, exc, msg",
    [
        (lambda n: n.run(np.ones((1, 4)), active_ms=5, record_voltages=["Z"]), ValueError, "unknown population.*E"),
        (lambda n: n.run(np.ones((1, 4)), active_ms=5, record_voltages=["X"]), ValueError, "input population"),
        (lambda n: n.run(np.ones((1, 4)), active_ms=5, record_voltages="E"), TypeError, "list"),
        (lambda n: n.theta("Z"), ValueError, "unknown population.*E"),
        (lambda n: n.theta("X"), ValueError, "input population"),
        (lambda n: n.potentials("Z"), ValueError, "unknown population.*E"),
        (lambda n: n.potentials("X"), ValueError, "input population"),
        (lambda n: n.set_theta("X", 1.0), ValueError, "input population"),
        (lambda n: n.set_theta("Z", 1.0), ValueError, "unknown population"),
        (lambda n: n.run(np.ones((1, 4)), active_ms=5, min_spikes=-3), ValueError, "min_spikes"),
        (lambda n: n.run(np.ones((1, 4)), active_ms=5, max_retries=-1), ValueError, "max_retries"),
        (lambda n: n.run(np.ones((1, 4)), active_ms=5, retry_population="Z"), ValueError, "retry_population"),
        (lambda n: n.run(np.ones((1, 4)), active_ms=5, record_spikes=True, max_recorded_spikes=-1), ValueError,
         "max_recorded_spikes"),
        (lambda n: n.run({"X": np.ones((1, 4)), "typo": np.ones((1, 4))}, active_ms=5), ValueError, "typo"),
        (lambda n: n.run(np.ones((1, 4)), active_ms=5, gates={"XE": np.ones((2, 3))}), ValueError, "gates"),
        (lambda n: n.run(np.zeros((0, 4)), active_ms=5, gates={"XE": np.ones((2, 2))}), ValueError, "gates"),
    ],
)
def test_clear_errors(action, exc, msg):
    net = small()
    with pytest.raises(exc, match=msg):
        action(net)


@pytest.mark.parametrize("n, exc", [(2.7, ValueError), (0, ValueError), (-1, ValueError), ("abc", TypeError),
                                    (True, TypeError), (None, TypeError)])
def test_population_size_must_be_a_positive_integer(n, exc):
    net = Network()
    with pytest.raises(exc, match="integer|>= 1"):
        net.add_population("F", n, LIFParameters())
    with pytest.raises(exc, match="integer|>= 1"):
        net.add_input("Y", n)
    assert not net.populations


def test_population_size_accepts_integral_values_and_names_must_be_strings():
    net = Network()
    assert net.add_input("X", np.int64(3)).n == 3
    assert net.add_population("E", 2.0, LIFParameters()).n == 2
    with pytest.raises(TypeError, match="name"):
        net.add_input(3, 2)


def test_empty_batch_returns_empty_results():
    net = small()
    for gates in (None, {"XE": np.ones((3, 2))}, {"XE": np.ones((0, 3, 2))}):
        res = net.run(np.zeros((0, 4)), active_ms=5, gates=gates, record_spikes=True, record_voltages=["E"])
        assert res.counts["E"].shape == (0, 3) and res.attempts.shape == (0,)
        assert res.voltages["E"].shape == (0, 3)
        np.testing.assert_array_equal(res.voltage_offsets, [0])
        assert res.spikes["E"][0].shape == (0,)
    assert net.time_ms == 0.0 and net.presented == 0
    assert net.infer(np.zeros((0, 4)), active_ms=5)["E"].shape == (0, 3)
    ref = ReferenceNetwork(small())
    assert ref.run(np.zeros((0, 4)), active_ms=5, gates={"XE": np.ones((3, 2))}).counts["E"].shape == (0, 3)


# ---------------------------------------------------------------- state
def test_load_state_dict_checks_every_entry_before_loading_any():
    net = small()
    w = net.connections["XE"].weights.copy()
    for bad in ({"w/XE": np.zeros((4, 3)), "w/ZZ": np.zeros(1)},
                {"w/XE": np.zeros((4, 3)), "theta/E": np.ones(7)},
                {"w/XE": np.zeros((4, 3)), "theta/E": np.full(3, NAN)},
                {"theta/E": np.ones(3), "w/XE": np.zeros((3, 4))},
                {"w/XE": np.zeros((4, 3)), "theta/X": np.zeros(4)}):
        with pytest.raises((KeyError, ValueError)):
            net.load_state_dict(bad)
        np.testing.assert_array_equal(net.connections["XE"].weights, w)
        np.testing.assert_array_equal(net.theta("E"), 0.0)
    with pytest.raises(KeyError, match="ZZ"):
        net.load_state_dict({"w/ZZ": np.zeros(1)})


def test_reset_state_can_reset_the_presentation_counter():
    net = small(v_thresh_mv=-64.0)
    kw = dict(active_ms=20, rest_ms=5, learning=False, adapt_thresholds=False)
    rates = np.full((2, 4), 100.0)
    first = net.run(rates, **kw)
    net.reset_state()
    again = net.run(rates, **kw)  # counter kept: fresh Poisson spikes
    assert net.presented == 4
    assert not np.array_equal(first.counts["X"], again.counts["X"])
    net.reset_state(presented=True)
    assert net.presented == 0
    same = net.run(rates, **kw)
    for name in first.counts:
        np.testing.assert_array_equal(same.counts[name], first.counts[name])


# ---------------------------------------------------------------- reference stepper
def test_reference_run_takes_the_same_inputs_and_checks_as_network_run():
    net = small(v_thresh_mv=-64.0)
    ref = ReferenceNetwork(net)
    kw = dict(active_ms=20, rest_ms=5)
    rates = np.full((2, 4), 100.0)
    a = ref.run({"X": rates}, **kw)
    b = net.run({"X": rates}, **kw)
    for name in a.counts:
        np.testing.assert_array_equal(a.counts[name], b.counts[name])
    for bad, msg in ((np.ones((1, 5)), "shape"), (-np.ones((1, 4)), "non-negative"), ({"Y": rates}, "'X'"),
                     (np.full((1, 4), NAN), "finite")):
        with pytest.raises(ValueError, match=msg):
            ref.run(bad, **kw)
    for kwargs, msg in ((dict(active_ms=-1.0), "active_ms"), (dict(min_spikes=-1), "min_spikes"),
                        (dict(min_spikes=1, retry_population="X"), "LIF"),
                        (dict(gates={"XE": np.full((3, 2), NAN)}), "finite"),
                        (dict(gates={"nope": np.ones((3, 2))}), "unknown connection"),
                        (dict(gates={"XE": np.ones((5, 3, 2))}), "gates")):
        with pytest.raises(ValueError, match=msg):
            ref.run(rates, **{**kw, **kwargs})


def test_rates_beyond_one_spike_per_step_are_refused_and_retries_saturate_like_the_reference():
    def build():
        net = Network(dt_ms=1.0, seed=0)
        net.add_input("X", 3)
        net.add_population("E", 2, LIFParameters())
        net.connect("X", "E", weight=0.05)
        return net

    net = build()
    with pytest.raises(ValueError, match="1000/dt"):
        net.run(np.full((1, 3), 1500.0), active_ms=5.0, rest_ms=0.0)
    with pytest.raises(ValueError, match="1000/dt"):
        ReferenceNetwork(build()).run(np.full((1, 3), 1500.0), active_ms=5.0, rest_ms=0.0)
    # repetitions raise rate·gain to 1.8 spikes per step: both paths fire at every step
    kw = dict(active_ms=5.0, rest_ms=0.0, learning=False, min_spikes=10**6, retry_population="E", retry_gain=1.0,
              max_retries=2)
    rates = np.full((1, 3), 900.0)
    fast = build().run(rates, **kw)
    ref = ReferenceNetwork(build()).run(rates, **kw)
    np.testing.assert_array_equal(fast.attempts, ref.attempts)
    np.testing.assert_array_equal(fast.counts["E"], ref.counts["E"])
    assert fast.attempts[0] == 2  # the last attempt ran at rate·gain·dt = 2.7

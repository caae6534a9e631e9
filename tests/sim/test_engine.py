"""The compiled engine against the readable reference stepper, and the engine's contract."""

import numpy as np
import pytest

from spikeforge.neurons.lif import LIFParameters
from spikeforge.plasticity.trace_stdp import GATES, TraceSTDP, segment_gates
from spikeforge.sim import Network, ReferenceNetwork
from spikeforge.sim import _kernel as K

DC_EXC = LIFParameters(v_rest_mv=-65, v_reset_mv=-65, v_thresh_mv=-72, theta_init_mv=20, theta_plus_mv=0.5,
                       tau_theta_ms=1e4, refractory_ms=5, clamp_refractory=True, v_init_mv=-105, spike_block_ms=12)
DC_INH = LIFParameters(tau_m_ms=10, v_rest_mv=-60, v_reset_mv=-45, v_thresh_mv=-40, e_inh_mv=-85, refractory_ms=2)
AL_EXC = LIFParameters(v_rest_mv=-60, v_reset_mv=-65, v_thresh_mv=-52, v_init_mv=-80, refractory_ms=5,
                       clamp_refractory=False, tau_ge_ms=5, tau_gi_ms=10, theta_plus_mv=3, tau_theta_ms=150,
                       theta_snapshot=True)
AL_INH = LIFParameters(tau_m_ms=10, v_rest_mv=-60, v_reset_mv=-45, v_thresh_mv=-40, v_init_mv=-80, refractory_ms=2,
                       clamp_refractory=False, tau_ge_ms=5)


def dc_like(seed=0, n_in=30, n=6):
    net = Network(dt_ms=0.5, seed=seed)
    net.add_input("X", n_in)
    net.add_population("E", n, DC_EXC)
    net.add_population("I", n, DC_INH)
    net.connect("X", "E", weight=(0, 0.3), delay_ms=(0, 10), plasticity=TraceSTDP.diehl_cook(), norm_total=3.0)
    net.connect("E", "I", "one_to_one", weight=10.4)
    net.connect("I", "E", "all_but_self", weight=17.0, receptor="inh", delay_ms=(0, 3))
    return net


def al_like(seed=0, n_in=60, per_class=3, n_cls=3, prune=2000.0):
    n = per_class * n_cls
    net = Network(dt_ms=0.25, seed=seed)
    net.add_input("X", n_in)
    net.add_population("E", n, AL_EXC)
    net.add_population("I", n, AL_INH)
    net.add_population("C", 2, LIFParameters(synapse="current", tau_m_ms=20, v_rest_mv=-70, v_reset_mv=-70,
                                             v_thresh_mv=-60, tau_ge_ms=2, tau_gi_ms=0, refractory_ms=1))
    net.connect("X", "E", weight=(0, 0.05), plasticity=TraceSTDP.stdp_all_ltd(0.05, prune_tau_ms=prune), name="XE")
    net.connect("E", "I", "one_to_one", weight=3.0, delay_ms=(0, 10))
    net.connect("I", "E", "all_but_self", weight=3.0 / n, delay_ms=(0, 5), receptor="inh")
    net.connect("E", "C", weight=(20.0, 60.0), plasticity=TraceSTDP(a_plus=0.5, a_minus=0.4, w_max=80.0), name="EC")
    net.connect("I", "C", weight=2.0, receptor="inh", delay_ms=1.0)
    return net


def _same(res_a, res_b):
    for name in res_a.counts:
        np.testing.assert_array_equal(res_a.counts[name], res_b.counts[name], err_msg=name)
    np.testing.assert_array_equal(res_a.attempts, res_b.attempts)


def test_dc_like_network_matches_reference_exactly():
    rng = np.random.default_rng(1)
    rates = rng.uniform(0, 120, (4, 30))
    net = dc_like()
    ref = ReferenceNetwork(net)
    kw = dict(active_ms=100, rest_ms=40, normalize=True, min_spikes=3, retry_population="E")
    a, b = net.run(rates, **kw), ref.run(rates, **kw)
    _same(a, b)
    assert a.counts["E"].sum() > 0 and a.attempts.max() > 0  # the case exercises spikes and repetitions
    np.testing.assert_array_equal(net.connections["XE"].weights, ref.weights("XE"))
    np.testing.assert_array_equal(net.theta("E"), ref.theta("E"))
    # frozen sequential test afterwards, thresholds used but not adapting
    kw = dict(active_ms=60, rest_ms=20, learning=False, adapt_thresholds=False)
    _same(net.run(rates[:2], **kw), ref.run(rates[:2], **kw))


def test_al_like_network_with_gates_snapshot_decay_and_current_neurons_matches_reference():
    rng = np.random.default_rng(2)
    rates = rng.uniform(0, 250, (5, 60))
    labels = np.array([0, 2, 1, 1, 0])
    seg = np.repeat(np.arange(3), 3)
    gates = {"XE": np.stack([segment_gates(9, seg, c) for c in labels])}
    net = al_like()
    ref = ReferenceNetwork(net)
    kw = dict(active_ms=100, rest_ms=20, gates=gates, decay=True)
    a, b = net.run(rates, **kw), ref.run(rates, **kw)
    _same(a, b)
    assert a.counts["E"].sum() > 0 and a.counts["C"].sum() > 0
    # a test block (thresholds ignored, learning off), then the pruning sweep
    kw = dict(active_ms=40, rest_ms=10, learning=False, adapt_thresholds=True, use_thresholds=False)
    _same(net.run(rates[:2], **kw), ref.run(rates[:2], **kw))
    sweep = np.full((1, 60), 63.0)
    kw = dict(active_ms=20, rest_ms=0, learning=False, decay=True)
    _same(net.run(sweep, **kw), ref.run(sweep, **kw))
    for name in ("XE", "EC"):
        np.testing.assert_array_equal(net.connections[name].weights, ref.weights(name))
    np.testing.assert_array_equal(net.theta("E"), ref.theta("E"))


@pytest.mark.parametrize("nearest", [True, False])
def test_short_post_traces_and_partial_gates_match_reference(nearest):
    """Postsynaptic traces that die within a presentation (τ_post 1 ms: the decay table is 33
    steps), gates with lr1 off on some neurons, and a second plastic connection: the fast
    kernel refreshes pre-event terms only for slots whose trace is alive and must still give
    the reference stepper's spikes and weights exactly."""
    rng = np.random.default_rng(5)
    net = Network(dt_ms=0.5, seed=7)
    net.add_input("X", 40)
    net.add_population("E", 8, DC_INH)
    net.add_population("F", 4, DC_INH)
    rule = TraceSTDP(a_plus=0.02, a_minus=0.03, tau_pre_ms=3.0, tau_post_ms=1.0, nearest=nearest, w_max=2.0)
    net.connect("X", "E", weight=(0, 1.2), delay_ms=(0, 4), plasticity=rule, name="XE")
    net.connect("E", "F", weight=(0, 2.0), delay_ms=(0, 2), plasticity=rule.replace(tau_post_ms=2.0), name="EF")
    net.connect("F", "E", "all_to_all", weight=1.0, receptor="inh", delay_ms=1.0)
    ref = ReferenceNetwork(net)
    rates = rng.uniform(0, 300, (4, 40))
    gates = {"XE": np.stack([np.where(rng.random((8, 1)) < 0.4, 0.0, 1.0) * np.ones((8, 2)) for _ in range(4)])}
    kw = dict(active_ms=120, rest_ms=10, gates=gates)
    a, b = net.run(rates, **kw), ref.run(rates, **kw)
    _same(a, b)
    assert a.counts["E"].sum() > 50 and a.counts["F"].sum() > 0
    for name in ("XE", "EF"):
        np.testing.assert_array_equal(net.connections[name].weights, ref.weights(name))


def test_infer_matches_reference_started_at_rest_and_is_batch_independent():
    net = dc_like(seed=3)
    rates = np.random.default_rng(4).uniform(0, 150, (6, 30))
    counts, att = net.infer(rates, active_ms=80, rest_ms=20, min_spikes=2, retry_population="E", return_attempts=True)
    w_before = net.connections["XE"].weights
    for i in (0, 4):
        single = net.infer(rates[i : i + 1], active_ms=80, rest_ms=20, min_spikes=2, retry_population="E",
                           first_index=i)
        for name in counts:
            np.testing.assert_array_equal(single[name][0], counts[name][i])
    # reference: a copy of the network whose initial potential is v_rest, same random stream
    twin = dc_like(seed=3)
    for pop in ("E", "I"):
        twin.populations[pop].params = twin.populations[pop].params.replace(v_init_mv=None)
    ref = ReferenceNetwork(twin)
    ref.seed = int(K.index_keys(np.uint64(net.infer_seed), 2, 1)[0])  # presentation 2 of the batch
    ref.presented = 0
    b = ref.run(rates[2:3], active_ms=80, rest_ms=20, learning=False, adapt_thresholds=False, min_spikes=2,
                retry_population="E")
    np.testing.assert_array_equal(b.counts["E"][0], counts["E"][2])
    assert b.attempts[0] == att[2]
    np.testing.assert_array_equal(net.connections["XE"].weights, w_before)  # inference changes nothing
    by_content = net.infer(rates, active_ms=80, keys="content")["E"]
    np.testing.assert_array_equal(net.infer(rates[::-1], active_ms=80, keys="content")["E"][::-1], by_content)


def test_same_seed_same_run_and_different_seed_differs():
    rates = np.random.default_rng(0).uniform(0, 100, (3, 30))
    a = dc_like(seed=5).run(rates, active_ms=50, rest_ms=10)
    b = dc_like(seed=5).run(rates, active_ms=50, rest_ms=10)
    c = dc_like(seed=6).run(rates, active_ms=50, rest_ms=10)
    _same(a, b)
    assert not np.array_equal(a.counts["X"], c.counts["X"])


def test_topologies_and_dense_views():
    net = Network(dt_ms=1.0, seed=0)
    net.add_input("X", 4)
    net.add_population("A", 4, LIFParameters())
    one = net.connect("X", "A", "one_to_one", weight=2.0, delay_ms=3.0)
    abs_ = net.connect("A", "A", "all_but_self", weight=(1.0, 2.0), receptor="inh", name="AA")
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, 3] = mask[2, 1] = True
    custom = net.connect("X", "A", mask, weight=np.arange(16.0).reshape(4, 4), name="custom")
    net.build()
    np.testing.assert_array_equal(one.weights, 2.0 * np.eye(4))
    np.testing.assert_array_equal(one.delay_steps, 3 * np.eye(4, dtype=int))
    assert abs_.n_synapses == 12 and np.all(np.diag(abs_.weights) == 0)
    assert custom.weights[0, 3] == 3.0 and custom.weights[2, 1] == 9.0 and custom.n_synapses == 2
    new = np.full((4, 4), 0.5)
    abs_.set_weights(new)
    np.testing.assert_array_equal(abs_.weights, np.where(~np.eye(4, dtype=bool), 0.5, 0.0))


def test_normalisation_sets_column_sums():
    net = dc_like(seed=1)
    net.run(np.zeros((1, 30)), active_ms=1, rest_ms=0, normalize=True)
    np.testing.assert_allclose(net.connections["XE"].weights.sum(axis=0), 3.0)


def test_zero_gates_freeze_weights_but_neurons_still_spike():
    net = dc_like(seed=2)
    w0 = net.connections["XE"].weights
    res = net.run(np.full((2, 30), 150.0), active_ms=100, rest_ms=10, gates={"XE": np.zeros((6, 2))})
    assert res.counts["E"].sum() > 0
    np.testing.assert_array_equal(net.connections["XE"].weights, w0)
    assert GATES["all_ltd"] == (1.0, -1.0)


def test_use_it_or_lose_it_decays_a_silent_input_exactly_at_its_next_spike():
    tau = 500.0
    net = Network(dt_ms=0.5, seed=0)
    net.add_input("X", 2)
    net.add_population("E", 1, LIFParameters(v_thresh_mv=1e6))  # never fires: no STDP, only the decay
    net.connect("X", "E", weight=0.04, plasticity=TraceSTDP.stdp_all_ltd(0.05, prune_tau_ms=tau))
    net.run(np.array([[0.0, 0.0]]), active_ms=400, rest_ms=0, decay=True)  # input silent for 400 ms
    np.testing.assert_array_equal(net.connections["XE"].weights[:, 0], 0.04)  # nothing happens without spikes
    res = net.run(np.array([[200.0, 0.0]]), active_ms=50, rest_ms=0, decay=True, record_spikes=True)
    times = res.spikes["X"][0]
    first, last = times.min(), times.max()
    expected = 0.04 * np.exp(-((first / tau) ** 2))
    for a, b in zip(np.sort(times)[:-1], np.sort(times)[1:]):
        expected *= np.exp(-(((b - a) / tau) ** 2))
    assert last > first
    np.testing.assert_allclose(net.connections["XE"].weights[0, 0], expected, rtol=1e-12)
    assert net.connections["XE"].weights[1, 0] == 0.04  # input 1 never fired


def test_set_prune_tau_matches_a_network_built_with_it():
    rng = np.random.default_rng(5)
    rates = rng.uniform(0, 60, (4, 60))
    sweep = np.full((1, 60), 63.0)
    seg = np.repeat(np.arange(3), 3)
    gates = {"XE": np.stack([segment_gates(9, seg, c % 3) for c in range(4)])}
    changed, built = al_like(prune=2000.0), al_like(prune=300.0)
    for net in (changed, built):  # identical training (no decay in training), then a decaying sweep
        net.run(rates, active_ms=80, rest_ms=420, gates=gates)
    changed.set_prune_tau("XE", 300.0)
    assert changed.connections["XE"].plasticity.prune_tau_ms == 300.0
    for net in (changed, built):
        net.run(sweep, active_ms=50, rest_ms=0, learning=False, decay=True)
    np.testing.assert_array_equal(changed.connections["XE"].weights, built.connections["XE"].weights)
    before = changed.connections["XE"].weights
    changed.set_prune_tau("XE", None)  # no decay left in the rule: a sweep leaves the weights alone
    changed.run(np.full((1, 60), 63.0), active_ms=50, rest_ms=2000, learning=False, decay=True)
    np.testing.assert_array_equal(changed.connections["XE"].weights, before)
    with pytest.raises(ValueError, match="unknown connection"):
        changed.set_prune_tau("nope", 1.0)
    with pytest.raises(ValueError, match="not plastic"):
        changed.set_prune_tau(next(n for n, c in changed.connections.items() if c.plasticity is None), 1.0)
    with pytest.raises(ValueError, match="positive"):
        changed.set_prune_tau("XE", -1.0)


def test_monitors():
    net = dc_like(seed=0)
    res = net.run(np.full((2, 30), 250.0), active_ms=50, rest_ms=10, record_spikes=True, record_voltages=["E"])
    t, i = res.spikes["E"]
    assert t.shape == i.shape and i.max() < 6
    assert res.voltages["E"].shape == (2 * 120, 6)
    assert np.all(res.voltages["E"] < 0) and res.counts["E"].sum() > 0
    active = (t % 60.0) < 50.0  # spikes in the active windows are the counted ones
    assert active.sum() == res.counts["E"].sum()


def test_state_dict_round_trip_and_reset():
    net = dc_like(seed=0)
    net.run(np.full((2, 30), 80.0), active_ms=50, rest_ms=10)
    sd = net.state_dict()
    other = dc_like(seed=9)
    other.load_state_dict(sd)
    np.testing.assert_array_equal(other.connections["XE"].weights, net.connections["XE"].weights)
    np.testing.assert_array_equal(other.theta("E"), net.theta("E"))
    net.reset_state()
    assert net.time_ms == 0.0
    np.testing.assert_array_equal(net.theta("E"), DC_EXC.theta_init_mv)
    with pytest.raises(KeyError):
        other.load_state_dict({"w/nope": np.zeros(1)})


@pytest.mark.parametrize(
    "action, exc, msg",
    [
        (lambda n: n.connect("E", "X"), ValueError, "input population"),
        (lambda n: n.connect("X", "Q"), ValueError, "unknown population"),
        (lambda n: n.connect("X", "E", "diagonal"), ValueError, "topology"),
        (lambda n: n.connect("X", "E", "one_to_one"), ValueError, "equal size"),
        (lambda n: n.connect("X", "E", receptor="glu"), ValueError, "receptor"),
        (lambda n: n.connect("X", "E", delay_ms=-1.0), ValueError, "non-negative"),
        (lambda n: n.connect("X", "E", weight=np.ones((2, 2))), ValueError, "shape"),
        (lambda n: n.connect("X", "E", norm_total=5.0), ValueError, "plastic"),
        (lambda n: n.add_population("E", 3, LIFParameters()), ValueError, "already exists"),
        (lambda n: n.add_population("F", 3, LIFParameters(tau_ge_ms=0.1)), ValueError, "unstable"),
        (lambda n: n.add_population("F", 0, LIFParameters()), ValueError, ">= 1"),
        (lambda n: n.run(np.ones((2, 3))), ValueError, "shape"),
        (lambda n: n.run(-np.ones((2, 5))), ValueError, "non-negative"),
        (lambda n: n.run(np.full((1, 5), np.nan)), ValueError, "finite"),
        (lambda n: n.run(np.ones((1, 5)), gates={"XE": np.ones((3, 2))}), ValueError, "gates"),
        (lambda n: n.run(np.ones((1, 5)), min_spikes=2, retry_population="X"), ValueError, "LIF"),
    ],
)
def test_bad_construction_and_inputs(action, exc, msg):
    net = Network(dt_ms=0.5, seed=0)
    net.add_input("X", 5)
    net.add_population("E", 4, LIFParameters())
    if "run" in action.__code__.co_names:
        net.connect("X", "E", plasticity=TraceSTDP(), name="XE")
    with pytest.raises(exc, match=msg):
        action(net)


def test_no_changes_after_build():
    net = dc_like()
    net.build()
    with pytest.raises(RuntimeError):
        net.add_input("Y", 3)
    with pytest.raises(RuntimeError):
        net.connect("X", "E")
    assert "Network(dt_ms=0.5" in repr(net)


def test_set_population_params_changes_the_threshold_and_keeps_the_state():
    rng = np.random.default_rng(3)
    rates = rng.uniform(0, 60, (6, 60))
    net = al_like()
    seg = np.repeat(np.arange(3), 3)
    net.run(rates, active_ms=80, rest_ms=20, gates={"XE": np.stack([segment_gates(9, seg, c % 3) for c in range(6)])})
    w = net.connections["XE"].weights.copy()
    base = net.infer(rates, active_ms=80, use_thresholds=False, n_jobs=1)["E"]
    assert base.sum() > 0
    net.set_population_params("E", AL_EXC.replace(v_thresh_mv=-46.0))
    high = net.infer(rates, active_ms=80, use_thresholds=False, n_jobs=1)["E"]
    assert high.sum() < base.sum()
    np.testing.assert_array_equal(net.connections["XE"].weights, w)
    net.set_population_params("E", AL_EXC)
    np.testing.assert_array_equal(net.infer(rates, active_ms=80, use_thresholds=False, n_jobs=1)["E"], base)
    with pytest.raises(ValueError, match="not a LIF population"):
        net.set_population_params("X", AL_EXC)
    with pytest.raises(ValueError, match="synapse kind"):
        net.set_population_params("E", AL_EXC.replace(synapse="current"))

"""Given input spike trains (``spikes=``) in the engine: the same trains as the engine's own Poisson
draws give the identical run, the compiled path equals the reference stepper, and bad trains are
clear errors."""

import numpy as np
import pytest

from spikeforge.encoding.poisson import _poisson_by_step, presentation_key
from spikeforge.sim import ReferenceNetwork
from spikeforge.sim import _kernel as K

from .test_engine import _same, al_like, dc_like


def _poisson_trains(net, rates, n_active, infer=False):
    """The engine's own Poisson trains of ``rates`` as dense spikes [T, n, n_in] (attempt 0): those
    of ``run`` (key: poisson seed, presentation index) or of ``infer`` (key: the index key)."""
    S = np.zeros((n_active, rates.shape[0], rates.shape[1]), dtype=bool)
    index_keys = K.index_keys(np.uint64(net.infer_seed), 0, rates.shape[0])
    for n in range(rates.shape[0]):
        key = presentation_key(int(index_keys[n]), 0, 0) if infer else presentation_key(net.poisson_seed, n, 0)
        ptr, idx = _poisson_by_step(rates[n], 1.0, n_active, net.dt_ms, np.uint64(key))
        for s in range(n_active):
            S[s, n, idx[ptr[s]:ptr[s + 1]]] = True
    return S


def test_the_engines_own_poisson_trains_given_as_spikes_give_the_identical_run():
    rates = np.random.default_rng(2).uniform(0, 600, (5, 30))
    a, b = dc_like(), dc_like()
    ra = a.run(rates, active_ms=150, rest_ms=20, normalize=True)
    S = _poisson_trains(b.build(), rates, 300)
    rb = b.run(spikes=S, rest_ms=20, normalize=True)  # active phase = T·dt = 150 ms
    _same(ra, rb)
    assert ra.counts["E"].sum() > 0 and ra.counts["X"].sum() == S.sum()
    w0 = dc_like().build().connections["XE"].weights
    assert np.abs(a.connections["XE"].weights - w0).max() > 0  # it learned, identically
    np.testing.assert_array_equal(a.connections["XE"].weights, b.connections["XE"].weights)
    np.testing.assert_array_equal(a.theta("E"), b.theta("E"))
    # frozen batch inference, parallel and serial, with the trains of infer's own keys
    T = 300
    ia = a.infer(rates, active_ms=T * a.dt_ms, rest_ms=0, n_jobs=1)
    Si = _poisson_trains(a, rates, T, infer=True)
    for n_jobs in (1, 2):
        ib = b.infer(spikes=Si, n_jobs=n_jobs)
        assert ia["E"].sum() > 0
        for name in ia:
            np.testing.assert_array_equal(ia[name], ib[name], err_msg=name)


def test_spike_inputs_match_the_reference_with_gates_decay_and_dict_inputs():
    net = al_like()
    ref = ReferenceNetwork(net)
    rng = np.random.default_rng(5)
    S = rng.random((60, 4, 60)) < 0.08  # [T, n, n_in]: not Poisson-like, e.g. a bursty code
    S[:10, 1] = True
    gates = {"XE": np.stack([np.ones((9, 2))] * 4)}
    gates["XE"][:, :3, 1] = -1.0
    kw = dict(rest_ms=5, gates=gates, decay=True)
    a, b = net.run(spikes={"X": S}, **kw), ref.run(spikes=S, **kw)
    _same(a, b)
    assert a.counts["E"].sum() > 0
    np.testing.assert_array_equal(net.connections["XE"].weights, ref.weights("XE"))
    one = net.run(spikes=S[:, 0], learning=False, rest_ms=0)  # [T, n_inputs] is one presentation
    assert one.counts["X"].shape == (1, 60) and one.counts["X"].sum() == S[:, 0].sum()


def test_recorded_input_spikes_are_the_given_ones():
    net = dc_like()
    S = np.zeros((20, 1, 30), dtype=np.uint8)
    S[[0, 3, 3, 19], 0, [5, 1, 7, 29]] = 1
    res = net.run(spikes=S, rest_ms=0, learning=False, record_spikes=True)
    t_ms, idx = res.spikes["X"]
    assert sorted(zip((t_ms / net.dt_ms).round().astype(int).tolist(), idx.tolist())) == [(0, 5), (3, 1), (3, 7), (19, 29)]
    assert net.time_ms == pytest.approx(20 * net.dt_ms)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give either inputs"),
    ({"inputs": np.zeros((1, 30)), "spikes": np.zeros((5, 1, 30))}, "not both"),
    ({"spikes": np.zeros((5, 1, 29))}, r"spikes must have shape \[T, n_presentations, 30\]"),
    ({"spikes": np.zeros(30)}, "time first"),
    ({"spikes": np.full((5, 1, 30), 2.0)}, "0/1 spikes; got the value 2.0"),
    ({"spikes": np.full((5, 1, 30), np.nan)}, "0/1 spikes"),
    ({"spikes": np.array([["a"] * 30] * 5)}, "dtype"),
    ({"spikes": np.zeros((5, 1, 30)), "active_ms": 10.0}, r"spike trains have T = 5 steps"),
    ({"spikes": np.zeros((5, 1, 30)), "min_spikes": 3}, "min_spikes"),
    ({"spikes": {"Y": np.zeros((5, 1, 30))}}, "unknown input population"),
])
def test_bad_spike_inputs_are_clear_errors(kwargs, message):
    net = dc_like()
    with pytest.raises(ValueError, match=message):
        net.run(**kwargs)
    with pytest.raises(ValueError, match=message):
        net.infer(**kwargs)
    assert net.presented == 0  # nothing was simulated


def test_each_input_population_must_have_its_own_size():
    # review: only the total width was checked, so swapped arrays sent spikes to the wrong population
    from spikeforge.neurons import LIFParameters
    from spikeforge.sim import Network

    net = Network(dt_ms=0.5, seed=0)
    net.add_input("A", 10)
    net.add_input("B", 20)
    net.add_population("E", 2, LIFParameters())
    net.connect("A", "E", weight=1.0)
    net.connect("B", "E", weight=1.0)
    with pytest.raises(ValueError, match=r"spikes\['A'\] must have shape \[T, n_presentations, 10\]"):
        net.run(spikes={"A": np.zeros((5, 1, 20)), "B": np.zeros((5, 1, 10))})
    with pytest.raises(ValueError, match=r"rates\['A'\] must have shape \[n_presentations, 10\]"):
        net.run({"A": np.zeros((1, 20)), "B": np.zeros((1, 10))})
    res = net.run(spikes={"A": np.ones((5, 1, 10)), "B": np.zeros((5, 1, 20))}, learning=False, rest_ms=0)
    assert res.counts["A"].sum() == 50 and res.counts["B"].sum() == 0


def test_event_list_input_equals_the_dense_trains():
    from spikeforge.sim import SpikeEvents

    rng = np.random.default_rng(9)
    S = rng.random((80, 3, 30)) < 0.2
    ev = SpikeEvents.from_dense(S)
    shuffled = np.random.default_rng(1).permutation(ev.step.size)  # any order
    ev = SpikeEvents(ev.step[shuffled], ev.presentation[shuffled], ev.input[shuffled], ev.T, ev.n_presentations)
    a, b = dc_like(), dc_like()
    ra, rb = a.run(spikes=S, rest_ms=10), b.run(spikes=ev, rest_ms=10)
    _same(ra, rb)
    np.testing.assert_array_equal(a.connections["XE"].weights, b.connections["XE"].weights)
    ia, ib = a.infer(spikes=S, n_jobs=1), b.infer(spikes=ev, n_jobs=1)
    np.testing.assert_array_equal(ia["E"], ib["E"])
    ref = ReferenceNetwork(dc_like())
    _same(ref.run(spikes=ev, rest_ms=10), ra)
    # a presentation without events is an empty presentation
    empty = SpikeEvents(np.array([3]), np.array([0]), np.array([5]), T=20, n_presentations=2)
    assert dc_like().run(spikes=empty, learning=False, rest_ms=0).counts["X"].sum(1).tolist() == [1, 0]


@pytest.mark.parametrize("events, message", [
    (dict(step=[0, 25], presentation=[0, 0], input=[1, 2], T=20, n_presentations=1), r"step must lie in \[0, 20\)"),
    (dict(step=[0], presentation=[3], input=[1], T=20, n_presentations=2), r"presentation must lie in \[0, 2\)"),
    (dict(step=[0], presentation=[0], input=[30], T=20, n_presentations=1), r"input must lie in \[0, 30\)"),
    (dict(step=[0, 0], presentation=[0, 0], input=[4, 4], T=20, n_presentations=1), "same input twice"),
    (dict(step=[0, 1], presentation=[0], input=[4, 5], T=20, n_presentations=1), "one length"),
    (dict(step=[0.5], presentation=[0], input=[4], T=20, n_presentations=1), "integer array"),
])
def test_bad_event_lists_are_clear_errors(events, message):
    from spikeforge.sim import SpikeEvents

    ev = SpikeEvents(np.asarray(events.pop("step")), np.asarray(events.pop("presentation")),
                     np.asarray(events.pop("input")), **events)
    with pytest.raises(ValueError, match=message):
        dc_like().run(spikes=ev)
    with pytest.raises(ValueError, match="non-negative integer"):
        SpikeEvents(np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), T=-1, n_presentations=1)

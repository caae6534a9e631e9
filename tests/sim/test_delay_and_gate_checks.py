"""Delays too long for the ring buffer and gates for static connections are refused (regressions)."""

import numpy as np
import pytest

from spikeforge.neurons.lif import LIFParameters
from spikeforge.plasticity.trace_stdp import TraceSTDP
from spikeforge.sim import Network, ReferenceNetwork
from spikeforge.sim import network as network_module

NAN = float("nan")


def two_layers(seed=0):
    """A plastic input connection ``XE`` and a static one ``EI``."""
    net = Network(dt_ms=0.5, seed=seed)
    net.add_input("X", 4)
    net.add_population("E", 3, LIFParameters(v_thresh_mv=-64.0))
    net.add_population("I", 2, LIFParameters())
    net.connect("X", "E", weight=(0.0, 1.0), plasticity=TraceSTDP(), name="XE")
    net.connect("E", "I", weight=0.5, name="EI")
    return net


def bare(n_in=4, n=3, dt_ms=0.5):
    net = Network(dt_ms=dt_ms, seed=0)
    net.add_input("X", n_in)
    net.add_population("E", n, LIFParameters())
    return net


# ---------------------------------------------------------------- gates
@pytest.mark.parametrize("n_pres", [2, 0])
@pytest.mark.parametrize(
    "gates", [{"EI": np.zeros((2, 2))}, {"XE": np.ones((3, 2)), "EI": np.ones((2, 2))}]
)
def test_gates_for_a_connection_without_plasticity_are_refused(gates, n_pres):
    net = two_layers()
    w = {name: c.weights for name, c in net.connections.items()}
    with pytest.raises(
        ValueError, match=r"connection 'EI'.*no plasticity rule.*plastic connections: \['XE'\]"
    ):
        net.run(np.full((n_pres, 4), 100.0), active_ms=10, rest_ms=0, gates=gates)
    assert net.time_ms == 0.0 and net.presented == 0  # nothing was simulated
    for name, c in net.connections.items():
        np.testing.assert_array_equal(c.weights, w[name])
    with pytest.raises(ValueError, match="'EI'.*no plasticity rule"):
        ReferenceNetwork(two_layers()).run(
            np.full((n_pres, 4), 100.0), active_ms=10, rest_ms=0, gates=gates
        )


def test_gates_for_plastic_connections_are_still_taken():
    net = two_layers()
    w0 = net.connections["XE"].weights
    res = net.run(np.full((2, 4), 150.0), active_ms=50, rest_ms=5, gates={"XE": np.zeros((3, 2))})
    assert res.counts["X"].sum() > 0
    np.testing.assert_array_equal(
        net.connections["XE"].weights, w0
    )  # zero gates freeze the weights


# ---------------------------------------------------------------- delays
@pytest.mark.parametrize(
    "delay_ms, steps",
    [(1e9, "2000000000"), (1e30, str(round(1e30 / 0.5))), (np.finfo(np.float64).max, "inf")],
)
def test_a_huge_delay_is_refused_by_connect_with_its_steps_and_the_limit(delay_ms, steps):
    net = bare()
    with pytest.raises(ValueError) as info:
        net.connect("X", "E", delay_ms=delay_ms, name="XE")
    msg = str(info.value)
    assert f"{delay_ms:.10g} ms" in msg and "'XE'" in msg
    assert f"{steps} steps at dt_ms=0.5" in msg
    assert f"at most {network_module.MAX_DELAY_STEPS} steps" in msg
    assert "MAX_DELAY_STEPS" in msg
    assert "XE" not in net.connections
    net.connect("X", "E", delay_ms=2.0, name="XE")  # the network stays usable
    assert net.run(np.full((1, 4), 50.0), active_ms=5, rest_ms=0).counts["E"].shape == (1, 3)


def test_the_message_does_not_round_the_delay_into_a_contradiction():
    # review nit: "delay of 524288 ms ... needs 1048577 steps" (6 significant figures of 524288.5)
    net = bare()
    limit = network_module.MAX_DELAY_STEPS
    with pytest.raises(ValueError, match=rf"delay of {(limit + 1) * 0.5:.10g} ms .* {limit + 1} steps"):
        net.connect("X", "E", delay_ms=(limit + 1) * 0.5)


def test_one_huge_delay_among_many_is_refused_whatever_the_form_of_delay_ms():
    net = bare()
    d = np.full((4, 3), 1.0)
    d[2, 1] = 1e9
    with pytest.raises(ValueError, match=r"1000000000 ms .*2000000000 steps"):
        net.connect("X", "E", delay_ms=d)
    with pytest.raises(ValueError, match="2000000000 steps"):
        net.connect("X", "E", delay_ms=lambda rng, shape: d)
    with pytest.raises(ValueError, match="steps"):
        net.connect("X", "E", delay_ms=(0.0, 1e12))
    assert not net.connections


def test_the_longest_delay_of_max_delay_steps_is_accepted_and_one_more_step_refused():
    dt = 0.5
    limit = network_module.MAX_DELAY_STEPS
    net = bare(dt_ms=dt)
    conn = net.connect("X", "E", delay_ms=limit * dt, name="ok")
    assert conn.delays.max() == limit
    with pytest.raises(ValueError, match=f"{limit + 1} steps at dt_ms=0.5; at most {limit} steps"):
        net.connect("X", "E", delay_ms=(limit + 1) * dt, name="too_long")


@pytest.mark.parametrize("delay_ms", [-1.0, -1e-9, NAN, np.inf, -np.inf])
def test_negative_nan_and_infinite_delays_are_refused(delay_ms):
    net = bare()
    for spec in (
        delay_ms,
        np.where(np.eye(4, 3, dtype=bool), delay_ms, 1.0),
        lambda rng, shape: np.full(shape, delay_ms),
    ):
        with pytest.raises(
            ValueError,
            match=f"delays of 'XE' must be finite and non-negative \\(ms\\); got {delay_ms}",
        ):
            net.connect("X", "E", delay_ms=spec, name="XE")
    assert not net.connections


@pytest.mark.parametrize("bounds", [(0.0, np.inf), (NAN, 1.0), (0.0, NAN), (-np.inf, 1.0)])
def test_a_delay_or_weight_range_with_nan_or_infinite_bounds_is_refused_as_a_value_error(bounds):
    net = bare()
    with pytest.raises(ValueError, match="delay_ms range must be .*finite"):
        net.connect("X", "E", delay_ms=bounds)
    with pytest.raises(ValueError, match="weight range must be .*finite"):
        net.connect("X", "E", weight=bounds)
    assert not net.connections


def test_the_ring_buffer_size_caps_delays_of_large_networks(monkeypatch):
    """The cap depends on the network's neurons: checked by ``connect`` with those so far and
    again by ``build`` with all of them, before the ring buffer is allocated."""
    # 10 neurons, 12 bytes per neuron and step: a ring of at most 101 rows, i.e. delays ≤ 100 steps
    monkeypatch.setattr(network_module, "MAX_DELAY_BYTES", 12 * 10 * 101)
    net = bare(n_in=6, n=4)
    net.connect("X", "E", delay_ms=50.0, name="ok")  # 100 steps: fits
    with pytest.raises(
        ValueError,
        match=r"delay of 50.5 ms on connection 'long' needs 101 steps at dt_ms=0.5; "
        r"at most 100 steps \(50 ms\)",
    ):
        net.connect("X", "E", delay_ms=50.5, name="long")
    assert net.build().time_ms == 0.0
    assert net._state["ring_ids"].shape == (101, 10)

    grown = bare(n_in=6, n=4)
    grown.connect("X", "E", delay_ms=50.0, name="XE")
    grown.add_population("F", 10, LIFParameters())  # 20 neurons: at most 49 steps now
    with pytest.raises(
        ValueError, match=r"50 ms on connection 'XE' needs 100 steps.*at most 49 steps.*20 neurons"
    ):
        grown.run(np.zeros((1, 6)), active_ms=5, rest_ms=0)
    assert not grown._built and grown.presented == 0

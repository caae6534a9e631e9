"""Weight-dependent (soft-bound) trace STDP, ``TraceSTDP(mu_plus, mu_minus)``, in the compiled engine:
identical to the reference stepper on random small networks, equal to the readable per-synapse
reference, and packed per connection (μ = 0 is the additive rule, see also
``benchmarks/engine_fingerprint.py``)."""

import numpy as np
import pytest

from spikeforge.neurons.lif import LIFParameters
from spikeforge.plasticity.trace_stdp import TraceSTDP, segment_gates, trace_stdp_reference
from spikeforge.sim import Network, ReferenceNetwork
from spikeforge.sim import _kernel as K

FAST = LIFParameters(tau_m_ms=10, v_rest_mv=-60, v_reset_mv=-45, v_thresh_mv=-40, e_inh_mv=-85, refractory_ms=2)
DT = 0.5


def soft_net(seed, nearest, mu_plus, mu_minus, prune=None, norm_total=None):
    """Three plastic connections, one per delivery path of the kernel: X→E excitatory (nearest:
    the flat path; all-to-all or with the decay: per segment), E→F with the triplet factor and
    F→E inhibitory (per segment). Initial weights reach past the bounds of X→E."""
    net = Network(dt_ms=DT, seed=seed)
    net.add_input("X", 40)
    net.add_population("E", 8, FAST)
    net.add_population("F", 4, FAST)
    rule = TraceSTDP(a_plus=0.3, a_minus=0.25, tau_pre_ms=3.0, tau_post_ms=2.0, nearest=nearest, w_min=0.1,
                     w_max=1.2, mu_plus=mu_plus, mu_minus=mu_minus, prune_tau_ms=prune)
    net.connect("X", "E", weight=(0.0, 1.5), delay_ms=(0, 4), plasticity=rule, name="XE", norm_total=norm_total)
    net.connect("E", "F", weight=(0, 2.0), delay_ms=(0, 2), name="EF",
                plasticity=rule.replace(tau_post2_ms=4.0, w_min=0.0, w_max=2.5, prune_tau_ms=None))
    net.connect("F", "E", "all_to_all", weight=(0.2, 1.0), receptor="inh", delay_ms=1.0, name="FE",
                plasticity=rule.replace(w_min=0.0, w_max=1.0, prune_tau_ms=None, mu_plus=mu_minus, mu_minus=mu_plus))
    return net


def random_gates(rng, n_pres):
    """Per-presentation gates of X→E: STDP / All-LTD segments, some neurons with lr1 off."""
    seg = np.repeat(np.arange(4), 2)
    g = np.stack([segment_gates(8, seg, rng.integers(4)) for _ in range(n_pres)])
    g[:, :, 0] *= rng.random((n_pres, 8)) > 0.3
    return {"XE": g, "EF": np.tile([[1.0, 1.0], [1.0, -1.0], [0.5, 1.5], [1.0, 1.0]], (n_pres, 1, 1))}


@pytest.mark.parametrize("nearest", [True, False])
@pytest.mark.parametrize("mu_plus, mu_minus", [(1.0, 1.0), (0.5, 2.0), (0.0, 0.7), (1.3, 0.0)])
def test_soft_bounds_match_the_reference_stepper_exactly(nearest, mu_plus, mu_minus):
    rng = np.random.default_rng(int(10 * mu_plus + mu_minus) + 100 * nearest)
    rates = rng.uniform(0, 300, (4, 40))
    gates = random_gates(rng, 4)
    net = soft_net(3, nearest, mu_plus, mu_minus)
    ref = ReferenceNetwork(net)
    kw = dict(active_ms=100, rest_ms=10, gates=gates)
    a, b = net.run(rates, **kw), ref.run(rates, **kw)
    for name in a.counts:
        np.testing.assert_array_equal(a.counts[name], b.counts[name], err_msg=name)
    assert a.counts["E"].sum() > 50 and a.counts["F"].sum() > 5
    for name in ("XE", "EF", "FE"):
        np.testing.assert_array_equal(net.connections[name].weights, ref.weights(name), err_msg=name)
    # the weight dependence acts: the additive rule learns other weights
    additive = soft_net(3, nearest, 0.0, 0.0)
    additive.run(rates, **kw)
    assert np.abs(additive.connections["XE"].weights - net.connections["XE"].weights).max() > 1e-2


def test_soft_bounds_with_the_decay_and_normalisation_match_the_reference_stepper():
    rng = np.random.default_rng(8)
    rates = rng.uniform(0, 300, (3, 40))
    gates = random_gates(rng, 3)
    net = soft_net(4, True, 1.0, 0.5, prune=300.0, norm_total=12.0)
    ref = ReferenceNetwork(net)
    kw = dict(active_ms=80, rest_ms=40, gates=gates, decay=True, normalize=True)
    a, b = net.run(rates, **kw), ref.run(rates, **kw)
    for name in a.counts:
        np.testing.assert_array_equal(a.counts[name], b.counts[name], err_msg=name)
    for name in ("XE", "EF", "FE"):
        np.testing.assert_array_equal(net.connections[name].weights, ref.weights(name), err_msg=name)


def test_engine_equals_the_readable_per_synapse_reference():
    """Replays the engine's recorded spikes through :func:`trace_stdp_reference` synapse by synapse
    (exact exponentials instead of the engine's tables, which drop traces below 1e-7: close, not
    identical)."""
    rule = TraceSTDP(a_plus=0.2, a_minus=0.15, tau_pre_ms=4.0, tau_post_ms=3.0, w_min=-0.5, w_max=1.5,
                     mu_plus=1.0, mu_minus=2.0)
    net = Network(dt_ms=DT, seed=11)
    net.add_input("X", 12)
    net.add_population("E", 3, FAST)
    xe = net.connect("X", "E", weight=(0.3, 1.4), delay_ms=(0, 3), plasticity=rule, name="XE")
    net.connect("E", "E", "all_but_self", weight=0.5, receptor="inh", delay_ms=1.0)
    w0, delays = xe.weights, xe.delay_steps
    gates = {"XE": np.array([[1.0, 1.0], [1.0, -1.0], [0.6, 1.4]])}
    n_steps = 600
    res = net.run(np.random.default_rng(2).uniform(50, 250, (1, 12)), active_ms=n_steps * DT, rest_ms=0,
                  gates=gates, record_spikes=True)
    assert res.counts["E"].min() > 5
    steps = {name: (np.round(t / DT).astype(int), i) for name, (t, i) in res.spikes.items()}
    want = np.empty_like(w0)
    for j in range(12):
        for k in range(3):
            pre = steps["X"][0][steps["X"][1] == j]
            pre = pre[pre + delays[j, k] < n_steps]  # still in flight at the end: not delivered
            post = steps["E"][0][steps["E"][1] == k]
            want[j, k], _ = trace_stdp_reference(pre, post, w0[j, k], rule, DT, lr1=gates["XE"][k, 0],
                                                 lr2=gates["XE"][k, 1], delay_steps=int(delays[j, k]))
    got = xe.weights
    assert np.abs(got - w0).max() > 0.1
    np.testing.assert_allclose(got, want, atol=1e-7, rtol=0)


def test_rule_parameters_are_packed_per_connection():
    net = soft_net(0, True, 0.5, 2.0)
    net.build()
    c = {name: conn.index for name, conn in net.connections.items()}
    assert K.CP == net._cprm.shape[1]
    assert (net._cprm[c["XE"], K.C_MU_PLUS], net._cprm[c["XE"], K.C_MU_MINUS]) == (0.5, 2.0)
    assert (net._cprm[c["FE"], K.C_MU_PLUS], net._cprm[c["FE"], K.C_MU_MINUS]) == (2.0, 0.5)
    plain = soft_net(0, True, 0.0, 0.0)
    plain.build()
    assert not plain._cprm[:, [K.C_MU_PLUS, K.C_MU_MINUS]].any()

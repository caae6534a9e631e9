"""The compiled training kernel of CorrelationClassifier against the per-synapse references."""

import numpy as np
import pytest

from spikeforge.models import _correlation_kernel as K
from spikeforge.plasticity import (
    MemristiveTanh,
    NNRestrictedSTDP,
    memristive_stdp_reference,
    stdp_nn_restricted_reference,
)


def _random_problem(rng, n_steps=400, rate=0.08, n_inputs=5, n_classes=3, n_samples=7, silent_p=0.3):
    s0 = np.flatnonzero(rng.random(n_steps) < rate).astype(np.int64)
    M = s0.size
    owners = np.full((n_samples, M), -1, dtype=np.int32)
    for n in range(n_samples):
        active = rng.random(n_inputs) > silent_p
        for a in range(M):
            if rng.random() < 0.85 and active.any():
                owners[n, a] = rng.choice(np.flatnonzero(active))
    labels = rng.integers(0, n_classes, n_samples).astype(np.int64)
    return s0, owners, labels


def _explicit_trains(s0, n_steps, owners, labels, d, n_inputs, n_classes):
    pre = [[] for _ in range(n_inputs)]
    post = [[] for _ in range(n_classes)]
    for n in range(owners.shape[0]):
        off = n * n_steps
        for a, j in enumerate(owners[n]):
            if j >= 0:
                pre[j].append(off + int(s0[a]))
        post[labels[n]].extend(off + int(s) + d for s in s0)
    return pre, post


@pytest.mark.parametrize("rule", ["stdp", "stdp_mult", "memristive"])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("chunks", [1, 3])
def test_kernel_matches_reference(rule, seed, chunks):
    rng = np.random.default_rng(seed)
    n_steps = int(rng.integers(150, 500))
    d = int(rng.integers(1, 12))
    dt = 0.5
    n_inputs, n_classes = 5, 3
    s0, owners, labels = _random_problem(rng, n_steps=n_steps, n_inputs=n_inputs, n_classes=n_classes)
    if rule == "memristive":
        params = MemristiveTanh()
        rule_id = K.RULE_MEMRISTIVE
        w = rng.uniform(0.01, 0.3, (n_inputs, n_classes))
        t_last = np.full(n_inputs, K.NO_SPIKE, dtype=np.int64)
    else:
        mu = 1.0 if rule == "stdp_mult" else 0.0
        params = NNRestrictedSTDP(lam=0.05, mu_plus=mu, mu_minus=mu, tau_plus_ms=7.0, tau_minus_ms=11.0)
        rule_id = K.RULE_STDP
        w = rng.uniform(0.2, 0.8, (n_inputs, n_classes))
        t_last = np.zeros(n_inputs, dtype=np.int64)
    w0 = w.copy()
    p = params.as_array()
    tables = K.build_tables(s0, d, dt, rule_id, p)
    a_last = np.zeros(n_inputs, dtype=np.int64)
    cls_off = np.zeros((n_classes, owners.shape[0]), dtype=np.int64)
    cls_cnt = np.zeros(n_classes, dtype=np.int64)
    bounds = np.linspace(0, owners.shape[0], chunks + 1).astype(int)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        K.train_chunk(s0, n_steps, owners[lo:hi], labels[lo:hi], lo, w, t_last, a_last,
                      cls_off, cls_cnt, rule_id, p, d, dt, *tables)
    pre, post = _explicit_trains(s0, n_steps, owners, labels, d, n_inputs, n_classes)
    ref_fn = memristive_stdp_reference if rule == "memristive" else stdp_nn_restricted_reference
    for j in range(n_inputs):
        for c in range(n_classes):
            expected = ref_fn(pre[j], post[c], w0[j, c], params, delay_steps=d, dt_ms=dt)
            assert w[j, c] == pytest.approx(expected, rel=1e-9, abs=1e-12), (j, c)


def test_kernel_changes_weights():
    """Guard against a vacuous comparison: training must move the weights."""
    rng = np.random.default_rng(0)
    s0, owners, labels = _random_problem(rng)
    p = NNRestrictedSTDP(lam=0.05).as_array()
    w = np.full((5, 3), 0.5)
    K.train_chunk(s0, 400, owners, labels, 0, w, np.zeros(5, np.int64), np.zeros(5, np.int64),
                  np.zeros((3, 7), np.int64), np.zeros(3, np.int64), K.RULE_STDP, p, 3, 0.5,
                  *K.build_tables(s0, 3, 0.5, K.RULE_STDP, p))
    assert np.abs(w - 0.5).max() > 0.01

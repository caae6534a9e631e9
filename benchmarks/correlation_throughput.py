"""Fit and predict throughput of CorrelationClassifier (seed 000) on the bundled datasets.

Reports samples/s and reference spikes/s (the events the event-driven kernel processes), and,
for scale, the speed of the readable pure-Python reference rules on the same events.

    python benchmarks/correlation_throughput.py            # all datasets, both rules
    python benchmarks/correlation_throughput.py --json out.json

No peer library implements this model (BindsNET / snnTorch / Norse have no reference-train
coding or probabilistic neuron), so the comparison is against our own reference path and
against the clock-driven cost: a 0.1 ms-step simulation would need `presentation_ms / 0.1`
steps per sample.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from spikeforge.datasets import load_tabular
from spikeforge.encoding import allocate_reference_spikes
from spikeforge.models import CorrelationClassifier
from spikeforge.plasticity import (
    MemristiveTanh,
    NNRestrictedSTDP,
    memristive_stdp_reference,
    stdp_nn_restricted_reference,
)


def _best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def reference_rule_speed(dataset: str, rule: str, n_samples: int = 3) -> float:
    """Pair-events/s of the pure-Python reference rules on the first samples of a dataset."""
    X, y = load_tabular(dataset)
    clf = CorrelationClassifier.from_preset(dataset, plasticity=rule, random_state=0).fit(X, y)
    ref = clf.reference_train_
    L = clf.encode(X[:n_samples])
    owners = allocate_reference_spikes(L, ref, np.random.default_rng(0))
    d = int(round(clf.delay_ms / clf.dt_ms))
    pre = [[] for _ in range(L.shape[1])]
    post = []
    for n in range(n_samples):
        off = n * ref.n_steps
        for a, j in enumerate(owners[n]):
            if j >= 0:
                pre[j].append(off + int(ref.steps[a]))
        post.extend(off + int(s) + d for s in ref.steps)
    fn = stdp_nn_restricted_reference if rule == "stdp" else memristive_stdp_reference
    params = NNRestrictedSTDP() if rule == "stdp" else MemristiveTanh()
    busiest = sorted(range(len(pre)), key=lambda j: -len(pre[j]))[:3]
    t0 = time.perf_counter()
    events = 0
    for j in busiest:
        fn(pre[j], post, 0.5, params, delay_steps=d, dt_ms=clf.dt_ms)
        events += len(pre[j])
    return events / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    # compile once
    X, y = load_tabular("iris")
    for rule in ("stdp", "memristive"):
        CorrelationClassifier.from_preset("iris", plasticity=rule, random_state=0).fit(X, y).predict(X)

    rows = []
    print(f"{'dataset':<14}{'rule':<11}{'n':>6}{'S0/sample':>10}{'fit smp/s':>11}{'fit Mspk/s':>11}"
          f"{'pred smp/s':>11}{'ref-rule ev/s':>14}{'speedup':>9}")
    for dataset in ("iris", "breast_cancer", "digits"):
        X, y = load_tabular(dataset)
        for rule in ("stdp", "memristive"):
            clf = CorrelationClassifier.from_preset(dataset, plasticity=rule, random_state=0)
            fit_s = _best_of(lambda: clf.fit(X, y), args.repeats)
            pred_s = _best_of(lambda: clf.predict(X), args.repeats)
            n_ref = clf.reference_train_.n_spikes
            spikes = len(X) * n_ref
            ref_rate = reference_rule_speed(dataset, rule)
            # events the kernel handles per second, per synapse-event (D inputs × C neurons share one event stream)
            fast_rate = spikes * len(clf.classes_) / fit_s
            row = dict(dataset=dataset, rule=rule, n_samples=len(X), reference_spikes=n_ref,
                       presentation_ms=clf.reference_train_.duration_ms,
                       fit_seconds=fit_s, predict_seconds=pred_s,
                       fit_samples_per_s=len(X) / fit_s, fit_reference_spikes_per_s=spikes / fit_s,
                       predict_samples_per_s=len(X) / pred_s,
                       reference_rule_synapse_events_per_s=ref_rate,
                       kernel_synapse_events_per_s=fast_rate,
                       speedup_vs_reference=fast_rate / ref_rate)
            rows.append(row)
            print(f"{dataset:<14}{rule:<11}{len(X):>6}{n_ref:>10}{row['fit_samples_per_s']:>11.0f}"
                  f"{row['fit_reference_spikes_per_s'] / 1e6:>11.2f}{row['predict_samples_per_s']:>11.0f}"
                  f"{ref_rate:>14.0f}{row['speedup_vs_reference']:>8.0f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()

"""How the CorrelationClassifier settings were chosen (5-fold stratified CV, seed 0).

    python benchmarks/tune_correlation.py presets   # memristive presets: grid per dataset
    python benchmarks/tune_correlation.py defaults  # default settings across nine datasets

`presets` searches the pulse-amplitude factor η (``memristive_scale``), ``min_spikes`` and
the pruning β for the memristive rule on Iris / Breast Cancer / Digits, starting from the
authors' STDP configs with a constant initial weight 1e-3 (spec §A.8: no memristive config was
published). `defaults` compares candidate defaults for *new* tabular data on the bundled Iris,
Breast Cancer, Digits and Wine plus five synthetic problems (moons, circles, a 3-class
10-feature problem, an 85/15 imbalanced problem, anisotropic blobs).
Each line printed is JSON: the setting and its mean accuracy.
"""

from __future__ import annotations

import itertools
import json
import sys
import time

import numpy as np
from sklearn import datasets
from sklearn.model_selection import StratifiedKFold

from spikeforge.datasets import load_tabular
from spikeforge.models import CorrelationClassifier


def cv_accuracy(make, X, y, seed=0, n_splits=5) -> tuple[float, float]:
    accs = []
    for tr, te in StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(X, y):
        accs.append(make().fit(X[tr], y[tr]).score(X[te], y[te]))
    return float(np.mean(accs)), float(np.std(accs))


def presets() -> None:
    grid = dict(memristive_scale=[0.003, 0.01, 0.03, 0.1, 0.3, 1.0], min_spikes=[1, 3, 10], prune_beta=[-0.5, 0.0, 0.25])
    for name in ("iris", "breast_cancer", "digits"):
        X, y = load_tabular(name)
        for vals in itertools.product(*grid.values()):
            over = dict(zip(grid, vals), w_init=1e-3, w_init_spread=0.0)
            t0 = time.perf_counter()
            acc, std = cv_accuracy(lambda: CorrelationClassifier.from_preset(name, "memristive", random_state=0, **over), X, y)
            print(json.dumps(dict(dataset=name, **over, acc=round(acc, 4), std=round(std, 4), s=round(time.perf_counter() - t0, 1))), flush=True)


def suite() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {n: load_tabular(n) for n in ("iris", "breast_cancer", "digits", "wine")}
    out["moons"] = datasets.make_moons(400, noise=0.25, random_state=0)
    out["circles"] = datasets.make_circles(400, noise=0.1, factor=0.5, random_state=0)
    out["clf10"] = datasets.make_classification(600, 10, n_informative=5, n_classes=3, random_state=0)
    out["clf_imb"] = datasets.make_classification(600, 8, n_informative=4, n_classes=2, weights=[0.85, 0.15], random_state=1)
    out["blobs_aniso"] = datasets.make_blobs(500, 4, centers=4, cluster_std=[1, 2, 3, 1.5], random_state=2)[:2]
    return out


CANDIDATES = [
    dict(learning_rate=0.01, prune="global", prune_beta=0.0),  # the authors' generic values
    dict(learning_rate=0.01, prune="per_neuron", prune_beta=0.0),
    dict(learning_rate="auto", prune="global", prune_beta=0.0),
    dict(learning_rate="auto", prune="per_neuron", prune_beta=0.0),
    dict(learning_rate="auto", prune="per_neuron", prune_beta=-0.5),  # chosen default
    dict(learning_rate="auto", prune="per_neuron", prune_beta=0.5),
    dict(learning_rate="auto", prune="per_neuron", prune_beta=-0.5, tau_plus_ms=20.0),
    dict(learning_rate="auto", prune="per_neuron", prune_beta=-0.5, n_fields=15),
    dict(plasticity="memristive"),  # memristive with its defaults (memristive_scale="auto")
]


def defaults() -> None:
    data = suite()
    for cand in CANDIDATES:
        scores = {name: round(cv_accuracy(lambda: CorrelationClassifier(random_state=0, **cand), X, y)[0], 3) for name, (X, y) in data.items()}
        print(json.dumps(dict(setting=cand, mean=round(float(np.mean(list(scores.values()))), 4), **scores)), flush=True)


if __name__ == "__main__":
    {"presets": presets, "defaults": defaults}[sys.argv[1] if len(sys.argv) > 1 else "defaults"]()

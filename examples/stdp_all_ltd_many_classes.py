"""STDP + All-LTD on all ten MNIST digits: how far a smaller All-LTD gain carries seed 001's design.

What it shows
-------------
Seed 001 designed and measured ``STDPAllLTDClassifier`` on three classes. On ten, every image
depresses the input synapses of nine segments by All-LTD (gates ``(1, −1)``) and only one learns
by STDP, so the network falls silent: most test images evoke no excitatory spike, and
``fit`` warns with ``SilentNetworkWarning``. ``ltd_gain`` (not in the seed) scales All-LTD to
``(g, −g)``. This script trains one network per gain on the bundled 5 000-image MNIST subset
(all ten classes) and prints a Markdown table: strict accuracy (a silent image is an error),
the fraction of test images answered, and the excitatory spikes per image over the last 100
training images. Nothing is tuned on the test images beyond the gains listed.

Run
---
    python examples/stdp_all_ltd_many_classes.py [--gains 1 0.1 0.03] [--n-train 800]
        [--n-test 400] [--seeds 0] [--neurons-per-class 10]

Runtime: about 15 s on 2 CPU cores with the defaults (the first run of spikeforge also compiles
the numba kernels, about 40 s more). The table in docs/local_learning.md comes from
``--n-train 2000 --n-test 1000 --seeds 0 1 2 --gains 1 0.1 0.05 0.03 0.02 0.01`` (about 6 min).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from spikeforge.datasets import mnist_subset_split
from spikeforge.models import NoAnswerWarning, SilentNetworkWarning, STDPAllLTDClassifier


def run(gain: float, n_train: int, n_test: int, seed: int, npc: int) -> dict[str, float]:
    """Fit one network with All-LTD gain ``gain`` on ``n_train`` images (data split ``seed``)
    and score it on ``n_test`` held-out images of all ten classes."""
    X_tr, X_te, y_tr, y_te = mnist_subset_split(n_train, n_test, seed=seed)
    clf = STDPAllLTDClassifier(neurons_per_class=npc, ltd_gain=gain, random_state=seed, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SilentNetworkWarning)
        warnings.simplefilter("ignore", NoAnswerWarning)
        clf.fit(X_tr, y_tr)
        pred, answered = clf.predict(X_te, return_answered=True)
    return {
        "accuracy": float(np.mean(pred == y_te)),
        "answered": float(np.mean(answered)),
        "train_spikes": float(clf.train_counts_[-100:].sum(axis=1).mean()),
    }


def _fmt(v: np.ndarray) -> str:
    """Mean (± population std over seeds when there are several)."""
    return f"{v.mean():.3f}" + (f" ± {v.std():.3f}" if v.size > 1 else "")


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run every gain and seed, print the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--gains", type=float, nargs="+", default=[1.0, 0.1, 0.03],
                   help="All-LTD gains to compare (1 is the seed's rule)")
    p.add_argument("--n-train", type=int, default=800, help="training images (one pass)")
    p.add_argument("--n-test", type=int, default=400, help="held-out test images")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds (data split and network)")
    p.add_argument("--neurons-per-class", type=int, default=10)
    a = p.parse_args(argv)
    if any(g < 0 for g in a.gains):
        p.error("--gains must be >= 0")
    print(f"STDP + All-LTD on 10 MNIST classes: {a.n_train} training images (one pass), {a.n_test} test "
          f"images, {a.neurons_per_class} neurons per class, seeds {a.seeds}\n")
    print("| ltd_gain | accuracy (silent = error) | answered | training spikes / image (last 100) |")
    print("|---|---|---|---|")
    t0 = time.time()
    for g in a.gains:
        rows = [run(g, a.n_train, a.n_test, s, a.neurons_per_class) for s in a.seeds]
        cell = {k: np.array([r[k] for r in rows]) for k in rows[0]}
        print(f"| {g:g}{' (seed)' if g == 1 else ''} | {_fmt(cell['accuracy'])} | {_fmt(cell['answered'])} | "
              f"{cell['train_spikes'].mean():.1f} |", flush=True)
    print(f"\nwall time: {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

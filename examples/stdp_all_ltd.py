"""Supervised STDP + All-LTD (seed 001) on three MNIST digits, and "use it or lose it".

What it shows
-------------
1. ``STDPAllLTDClassifier`` (30 excitatory neurons, 10 per class segment, adaptive threshold)
   learns the digits 3, 6 and 8 from only 100 training images of the bundled 5 000-image MNIST
   subset, in one ``partial_fit`` call (one pass, as in the seed's learning curves). It is
   scored on 450 held-out images of the same classes. Scoring is strict: an image that evokes
   no excitatory spike gets the "no answer" label -1 and counts as an error;
   ``predict(X, return_answered=True)`` also gives the mask of answered images (one simulation).
2. "Use it or lose it" (spec §D): a copy of the same model is fitted with
   ``prune_tau_ms="auto"`` (τ_prun = 5 · 3 classes · 500 ms = 7.5 s) and
   ``prune_sweep_ms=0`` (so ``fit`` leaves out the final pruning sweep). Its total
   excitatory spikes on uniform-noise images (scaled to the mean intensity of the digits) are
   measured with ``spike_counts``; then ``set_params(prune_sweep_ms=50.0).prune_sweep()`` drives
   every input for 50 ms with the decay on, which removes the weights of inputs that were not
   used during the last few τ_prun of training, and the noise response is measured again. The
   digits' response and the accuracy are measured before and after the sweep as well.
3. A weight-map PNG: the 784 input weights of two neurons per class segment, before and after
   the sweep (the sweep wipes the never-used border pixels).

Run
---
    python examples/stdp_all_ltd.py [--out DIR]

writes ``stdp_all_ltd_weights.png`` to ``DIR`` (default: the current directory).
Runtime: about 10 s on 2 CPU cores (numba kernels are cached after the first run of spikeforge;
the very first run compiles them, about 40 s more).

Expected output (approximately; exact numbers are fixed by the seeds)::

    STDP + All-LTD on digits [3, 6, 8]: 100 training images, 450 test images
    accuracy: 0.771 (silent images count as errors)
    silent (no answer) fraction: 0.069
    accuracy on answered images: 0.828
    use it or lose it (tau_prun = 7500 ms, sweep 50 ms at 63 Hz):
      noise spikes before sweep: 31551  after: 3934  ratio: 0.125
      digit spikes before sweep: 7749  after: 6244  ratio: 0.806
      accuracy before sweep: 0.771  after: 0.758
    saved stdp_all_ltd_weights.png

(``spikeforge reproduce stdp-all-ltd`` averages 10 class triples: 0.84 ± 0.07 after 100
images. With only 100 training images, the sweep cuts the noise response to about 1/8 here;
the 15 600-presentation training of ``spikeforge reproduce use-it-or-lose-it`` reaches 3 %.)
"""

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.base import clone  # noqa: E402

from spikeforge.datasets import load_mnist_subset  # noqa: E402
from spikeforge.models import NoAnswerWarning, STDPAllLTDClassifier  # noqa: E402
from spikeforge.viz import save  # noqa: E402

CLASSES = [3, 6, 8]
N_TRAIN = 100
N_TEST_PER_CLASS = 150
N_NOISE = 300
SEED = 0


def strict_accuracy(clf, X, y):
    """Accuracy with silent images (label -1, "no answer") counted as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoAnswerWarning)  # we report the silent fraction ourselves
        return float(np.mean(clf.predict(X) == y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="output directory (default: cwd)")
    args = parser.parse_args()

    # ---------------------------------------------------------------- data (bundled, no download)
    X, y = load_mnist_subset()  # uint8 pixels [5000, 784], labels [5000]
    rng = np.random.default_rng(SEED)
    train_idx, test_idx = [], []
    for c in CLASSES:
        idx = rng.permutation(np.flatnonzero(y == c))
        test_idx.append(idx[:N_TEST_PER_CLASS])
        train_idx.append(idx[N_TEST_PER_CLASS:])
    test_idx = np.concatenate(test_idx)
    train_idx = rng.permutation(np.concatenate(train_idx))[:N_TRAIN]  # classes interleaved
    X_train, y_train = X[train_idx], y[train_idx]
    X_test, y_test = X[test_idx], y[test_idx]

    # ---------------------------------------------------------------- 1. supervised STDP + All-LTD
    clf = STDPAllLTDClassifier(neurons_per_class=10, adaptive_threshold=True, random_state=SEED)
    clf.partial_fit(X_train, y_train, classes=CLASSES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoAnswerWarning)  # we report the silent fraction ourselves
        pred, answered = clf.predict(X_test, return_answered=True)  # one simulation for both
    acc = float(np.mean(pred == y_test))
    acc_answered = float(np.mean(pred[answered] == y_test[answered]))
    print(f"STDP + All-LTD on digits {CLASSES}: {clf.n_seen_} training images, {len(y_test)} test images")
    print(f"accuracy: {acc:.3f} (silent images count as errors)")
    print(f"silent (no answer) fraction: {1 - answered.mean():.3f}")
    print(f"accuracy on answered images: {acc_answered:.3f}")

    # ---------------------------------------------------------------- 2. use it or lose it
    # The same model with the decay enabled; prune_sweep_ms=0 makes fit skip the final sweep,
    # so we can measure the network before it. (The decay acts only in the sweep, k_p = 0 in
    # training, as in the seed's notebooks, so this network equals `clf` until the sweep.)
    pruned = clone(clf).set_params(prune_tau_ms="auto", prune_sweep_ms=0)
    pruned.fit(X_train, y_train)
    weights_before = pruned.weights_

    # uniform noise with the mean intensity of the training digits (as `spikeforge reproduce
    # use-it-or-lose-it` does): a pixel-by-pixel input the network never learned
    noise = rng.random((N_NOISE, X.shape[1]))
    noise *= X_train.mean() / noise.mean()
    noise = np.clip(noise, 0, 255)

    noise_before = int(pruned.spike_counts(noise).sum())
    digits_before = int(pruned.spike_counts(X_test).sum())
    acc_before = strict_accuracy(pruned, X_test, y_test)

    pruned.set_params(prune_sweep_ms=50.0).prune_sweep()  # 63 Hz on every input for 50 ms, k_p = 1

    noise_after = int(pruned.spike_counts(noise).sum())
    digits_after = int(pruned.spike_counts(X_test).sum())
    acc_after = strict_accuracy(pruned, X_test, y_test)
    tau = pruned.network_.connections["XE"].plasticity.prune_tau_ms  # "auto" resolved
    print(f"use it or lose it (tau_prun = {tau:.0f} ms, sweep 50 ms at 63 Hz):")
    print(f"  noise spikes before sweep: {noise_before}  after: {noise_after}  "
          f"ratio: {noise_after / max(noise_before, 1):.3f}")
    print(f"  digit spikes before sweep: {digits_before}  after: {digits_after}  "
          f"ratio: {digits_after / max(digits_before, 1):.3f}")
    print(f"  accuracy before sweep: {acc_before:.3f}  after: {acc_after:.3f}")

    # ---------------------------------------------------------------- 3. weight maps
    weights_after = pruned.weights_  # [784, 30], columns grouped by class segment
    neurons = [int(i) for c in range(len(CLASSES)) for i in np.flatnonzero(pruned.segment_ == c)[:2]]
    vmax = pruned.g_max
    fig, axes = plt.subplots(2, len(neurons), figsize=(1.6 * len(neurons) + 1.0, 3.8), layout="constrained")
    for row, (label, w) in enumerate((("before sweep", weights_before), ("after sweep", weights_after))):
        for col, n in enumerate(neurons):
            ax = axes[row, col]
            im = ax.imshow(w[:, n].reshape(28, 28), cmap="hot_r", vmin=0, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"neuron {n}\n(digit {CLASSES[pruned.segment_[n]]})", fontsize=8)
            if col == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.8, label="input weight")
    fig.suptitle("STDP + All-LTD: input weights of two neurons per class segment", fontsize=9)
    path = save(fig, args.out / "stdp_all_ltd_weights.png")
    print(f"saved {path}")


if __name__ == "__main__":
    main()

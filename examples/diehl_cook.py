"""Diehl & Cook (2015): unsupervised STDP on MNIST, label assignment, save and load.

What it shows
-------------
``DiehlCook2015`` with 100 excitatory + 100 inhibitory neurons is trained without labels
(triplet STDP, adaptive thresholds, lateral inhibition, weight normalisation) on 2 000 images
of the bundled 5 000-image MNIST subset for one epoch; the labels are then used only to
assign each neuron to the digit it responds to most. It is scored on 500 held-out images
(silent images, labelled -1, count as errors; ``answered()`` gives their fraction), saved to
a safetensors file with ``save``, loaded back with ``DiehlCook2015.load`` and checked to
predict exactly the same labels. The learned receptive fields are saved as a PNG.

This is a small, fast run: the paper trains on 60 000 images (0.83 with 100 neurons);
``spikeforge reproduce diehl-cook`` (4 000 images, 2 epochs) reaches about 0.78.

Run
---
    python examples/diehl_cook.py [--out DIR] [--n-train N]

writes ``diehl_cook_100.safetensors`` and ``diehl_cook_weights.png`` to ``DIR`` (default:
the current directory). Runtime: about 15–25 s on 2 CPU cores with the default 2 000 training
images (numba kernels are cached after the first run of spikeforge; the very first run compiles
them, about 40 s more).

Expected output (approximately; exact numbers are fixed by the seeds, the times vary)::

    Diehl & Cook, 100 neurons, 2000 training images (1 epoch), 500 test images
    training: 12 s, 0.14 repetitions per image (fewer than 5 spikes -> shown again)
    neurons assigned per digit: [10, 12, 11, 11, 10, 8, 9, 10, 10, 9]
    accuracy: 0.672 (silent images count as errors)
    no-answer fraction: 0.000
    saved diehl_cook_100.safetensors (0.8 MB)
    loaded model predicts the same labels: True
    saved diehl_cook_weights.png
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from spikeforge.datasets import mnist_subset_split
from spikeforge.models import DiehlCook2015, NoAnswerWarning
from spikeforge.viz import plot_input_weights

N_NEURONS = 100
N_TEST = 500
SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="output directory (default: cwd)")
    parser.add_argument("--n-train", type=int, default=2000, help="training images (default 2000)")
    args = parser.parse_args()

    # stratified split of the bundled MNIST subset (uint8 pixels [n, 784]; no download)
    X_train, X_test, y_train, y_test = mnist_subset_split(args.n_train, N_TEST, seed=SEED)

    model = DiehlCook2015(n_neurons=N_NEURONS, n_epochs=1, random_state=SEED)
    t0 = time.perf_counter()
    model.fit(X_train, y_train)  # unsupervised STDP, then label assignment from y_train
    fit_s = time.perf_counter() - t0
    print(f"Diehl & Cook, {N_NEURONS} neurons, {len(y_train)} training images (1 epoch), "
          f"{len(y_test)} test images")
    print(f"training: {fit_s:.0f} s, {model.train_repetitions_:.2f} repetitions per image "
          "(fewer than 5 spikes -> shown again)")
    per_digit = np.bincount(model.assignments_[model.assignments_ >= 0], minlength=len(model.classes_))
    print(f"neurons assigned per digit: {per_digit.tolist()}"
          + (f" ({int(np.sum(model.assignments_ < 0))} never fired)" if np.any(model.assignments_ < 0) else ""))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoAnswerWarning)  # we report the no-answer fraction below
        pred = model.predict(X_test)
    print(f"accuracy: {np.mean(pred == y_test):.3f} (silent images count as errors)")
    print(f"no-answer fraction: {1 - model.answered(X_test).mean():.3f}")

    # save / load round trip (safetensors: weights, thresholds, assignments, parameters)
    path = model.save(args.out / f"diehl_cook_{N_NEURONS}.safetensors")
    print(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB)")
    loaded = DiehlCook2015.load(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoAnswerWarning)
        same = np.array_equal(loaded.predict(X_test), pred)
    print(f"loaded model predicts the same labels: {same}")

    # receptive fields of the 100 excitatory neurons, titled with their assigned digit
    titles = [str(model.classes_[a]) if a >= 0 else "-" for a in model.assignments_]
    path = plot_input_weights(model.weights_, titles=titles, path=args.out / "diehl_cook_weights.png",
                              title="Diehl & Cook: learned input weights (title: assigned digit)")
    print(f"saved {path}")


if __name__ == "__main__":
    main()

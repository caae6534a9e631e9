"""Accuracy runs of the local-learning models (minutes; `pytest -m slow`).

They check the levels the reproductions document (docs/local_learning.md), with margins for the
seed-to-seed spread; the full numbers come from `spikeforge reproduce ...`.
"""

import warnings

import numpy as np
import pytest

from spikeforge.datasets import load_mnist_subset, mnist_subset_split
from spikeforge.models import DiehlCook2015, NoAnswerWarning, STDPAllLTDClassifier

pytestmark = pytest.mark.slow


def _triple(triple, seed, n_test=450):
    X, y = load_mnist_subset()
    m = np.isin(y, triple)
    order = np.random.default_rng(seed).permutation(int(m.sum()))
    Xs, ys = X[m][order], y[m][order]
    return Xs[:-n_test], ys[:-n_test], Xs[-n_test:], ys[-n_test:]


def test_stdp_all_ltd_after_100_images():
    """Seed 001: ≈ 80 % after 100 training images on 3 classes (strict scoring: silence = error)."""
    accs = []
    for i, triple in enumerate([(3, 8, 6), (0, 9, 6), (7, 4, 6), (5, 2, 8), (9, 7, 3)]):
        Xtr, ytr, Xte, yte = _triple(triple, 1000 + i)
        clf = STDPAllLTDClassifier(random_state=i).partial_fit(Xtr[:100], ytr[:100], classes=sorted(triple))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoAnswerWarning)
            accs.append(clf.score(Xte, yte))
    assert np.mean(accs) >= 0.72, accs


def test_diehl_cook_100_neurons_on_the_subset():
    """Diehl & Cook, 100 neurons, 4 000 / 1 000 split, 2 epochs, θ+ = 0.025 mV: ≥ 0.75."""
    Xtr, Xte, ytr, yte = mnist_subset_split(4000, 1000, seed=0)
    clf = DiehlCook2015(n_neurons=100, n_epochs=2, theta_plus_mv=0.025, random_state=0).fit(Xtr, ytr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoAnswerWarning)
        assert clf.score(Xte, yte) >= 0.75

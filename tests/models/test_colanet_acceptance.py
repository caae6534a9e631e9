"""Issue 5's acceptance numbers on the real MNIST subset (slow: run with `pytest -m slow`)."""

import time

import numpy as np
import pytest

from spikeforge.datasets import mnist_subset_split
from spikeforge.experiments.colanet_theory import simulate, theory
from spikeforge.models import CoLaNET, DigitalCoLaNET

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def split():
    return mnist_subset_split(4000, 1000, seed=0)


def test_spiking_accuracy_digital_gap_and_speed(split):
    Xtr, Xte, ytr, yte = split
    CoLaNET(n_epochs=1, random_state=0).fit(Xtr[:100], ytr[:100])  # compile
    t0 = time.perf_counter()
    CoLaNET(n_epochs=1, random_state=0).fit(Xtr, ytr)
    assert time.perf_counter() - t0 < 120.0            # one 4 000-image pass
    spiking = CoLaNET(random_state=0).fit(Xtr, ytr).score(Xte, yte)
    digital = DigitalCoLaNET(random_state=0).fit(Xtr, ytr).score(Xte, yte)
    assert spiking >= 0.85
    assert abs(spiking - digital) <= 0.03


def test_theory_microcolumn_count_three_sigmas():
    for sigma in (0.01, 0.02, 0.03):
        rows = [simulate(sigma, seed, 4000, 50) for seed in range(2)]
        n = np.mean([v for r in rows for v in r["active_per_class"]])
        assert abs(n - theory(sigma, rows[0]["chi"]).n_microcolumns) <= 1


def test_continual_three_tasks_little_forgetting(split):
    from spikeforge.experiments.colanet_continual import run_tasks

    A = np.array(run_tasks(3, 30, 1, 0)["A"])
    assert A[-1].mean() >= 0.80
    assert A[0, 0] - A[-1, 0] <= 0.08

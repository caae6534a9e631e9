"""A tiny plastic model, independent of the MNIST network, that follows the continual-learning
protocol: one layer of weights [n_classes·per_class, n_inputs] in [0, 1], binary inputs,
winner-take-all decision, reward-modulated Hebbian rule applied through
:func:`spikeforge.plasticity.constrained_update` after every sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikeforge.plasticity import WeightConstraint, constrained_update, project


class ToyPlastic:
    """Prototype learner: ``n_out`` units, the unit with the largest ``w·x`` wins; right →
    ``+a`` on active inputs, ``−a`` on silent ones; wrong → the opposite."""

    def __init__(self, n_inputs: int, n_classes: int, per_class: int = 2, rate: float = 0.05, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.w = torch.from_numpy(rng.uniform(0.3, 0.7, (n_classes * per_class, n_inputs)))
        self.per_class, self.rate = per_class, rate
        self.installed: dict[str, WeightConstraint] = {}  # no constraints() getter on purpose
        self.history: list[torch.Tensor] = []  # weights after every update
        self.record = False

    def plastic_weights(self):
        return {"w": self.w}

    def set_constraints(self, constraints):
        for name, c in constraints.items():
            if c is None:
                self.installed.pop(name, None)
            else:
                self.installed[name] = c
                self.w.copy_(project(self.w, c, 0.0, 1.0))

    def partial_fit(self, X, y, **_):
        X = torch.as_tensor(np.asarray(X, dtype=np.float64))
        for x, label in zip(X, np.asarray(y)):
            unit = int(torch.argmax(self.w @ x))
            sign = 1.0 if unit // self.per_class == int(label) else -1.0
            delta = torch.zeros_like(self.w)
            delta[unit] = sign * self.rate * torch.where(x > 0, 1.0, -1.0)
            self.w.copy_(constrained_update(self.w, delta, self.installed.get("w"), w_min=0.0, w_max=1.0))
            if self.record:
                self.history.append(self.w.clone())
        return self

    def predict(self, X):
        X = torch.as_tensor(np.asarray(X, dtype=np.float64))
        return (torch.argmax(X @ self.w.T, dim=1) // self.per_class).numpy()

    def score(self, X, y):
        return float(np.mean(self.predict(X) == np.asarray(y)))


def toy_stream(seed: int = 0, n_inputs: int = 30, n: int = 120):
    """Two domain-incremental tasks of binary patterns: 3 classes each, shared labels,
    class prototypes differ between tasks."""
    from spikeforge.continual import Task

    rng = np.random.default_rng(seed)
    tasks = []
    for t in range(2):
        protos = rng.random((3, n_inputs)) < 0.35

        def draw(m, protos=protos):
            y = rng.integers(0, 3, m)
            X = protos[y] ^ (rng.random((m, n_inputs)) < 0.08)
            return X.astype(np.float64), y

        Xtr, ytr = draw(n)
        Xte, yte = draw(n // 2)
        tasks.append(Task(f"toy {t}", Xtr, ytr, Xte, yte))
    return tasks


@pytest.fixture
def make_toy():
    """The :class:`ToyPlastic` class (tests construct their own instances)."""
    return ToyPlastic


@pytest.fixture
def toy_tasks():
    """:func:`toy_stream`."""
    return toy_stream

"""Forgetting metrics on the accuracy matrix ``R`` of a task stream.

``R[i, j]`` is the test accuracy on task ``j`` after training on tasks ``0…i`` (shape
[n_tasks, n_tasks]; entries with ``j > i`` may be NaN or hold zero-shot accuracies).
Definitions follow Lopez-Paz & Ranzato (2017) and Chaudhry et al. (2018).
"""

from __future__ import annotations

import numpy as np

__all__ = ["average_accuracy", "backward_transfer", "forgetting", "retained_accuracy_ratio"]


def _check(R) -> np.ndarray:
    R = np.asarray(R, dtype=np.float64)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] == 0:
        raise ValueError(f"R must be a square [n_tasks, n_tasks] matrix; got shape {R.shape}")
    return R


def average_accuracy(R, after: int | None = None) -> float:
    """Mean accuracy over tasks ``0…i`` after training task ``i`` (default: the last)."""
    R = _check(R)
    i = R.shape[0] - 1 if after is None else int(after)
    return float(np.mean(R[i, : i + 1]))


def forgetting(R) -> float:
    """Average forgetting: for each task ``j`` but the last, the drop from its best accuracy
    after any earlier training stage to its final accuracy, ``max_{l<n−1} R[l, j] − R[n−1, j]``
    (over ``l ≥ j``), averaged. 0 for a single task."""
    R = _check(R)
    n = R.shape[0]
    if n == 1:
        return 0.0
    return float(np.mean([np.max(R[j : n - 1, j]) - R[n - 1, j] for j in range(n - 1)]))


def backward_transfer(R) -> float:
    """BWT: ``mean_{j<n−1} (R[n−1, j] − R[j, j])``; negative values mean forgetting."""
    R = _check(R)
    n = R.shape[0]
    if n == 1:
        return 0.0
    return float(np.mean([R[n - 1, j] - R[j, j] for j in range(n - 1)]))


def retained_accuracy_ratio(protected_old: float, reference_old: float) -> float:
    """Old-task accuracy kept by a protected learner relative to a reference (seed 001's
    "1.7×": 82.2 % / 48.1 %). ``inf`` if the reference kept nothing."""
    if reference_old < 0 or protected_old < 0:
        raise ValueError("accuracies must be non-negative")
    return float("inf") if reference_old == 0 else float(protected_old / reference_old)

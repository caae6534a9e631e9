"""Forgetting metrics on the accuracy matrix ``R`` of a task stream.

``R[i, j]`` is the test accuracy on task ``j`` after training on tasks ``0…i`` (shape
[n_tasks, n_tasks]; entries with ``j > i`` may be NaN or hold zero-shot accuracies, which
only :func:`forward_transfer` reads). Definitions follow Lopez-Paz & Ranzato (2017) and
Chaudhry et al. (2018).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np

__all__ = ["average_accuracy", "backward_transfer", "forgetting", "forward_transfer", "retained_accuracy_ratio"]


def _check(R) -> np.ndarray:
    R = np.asarray(R, dtype=np.float64)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] == 0:
        raise ValueError(f"R must be a square [n_tasks, n_tasks] matrix; got shape {R.shape}")
    return R


def average_accuracy(R, after: int | None = None) -> float:
    """Mean accuracy over tasks ``0…i`` after training task ``i``.

    Parameters
    ----------
    R : array of shape [n_tasks, n_tasks]
    after : int, optional
        The training stage ``i`` (default: the last). Negative values count from the end, as
        Python indices do (``-1`` is the last stage).

    Raises
    ------
    ValueError
        If ``R`` is not square, or ``after`` is outside ``[-n_tasks, n_tasks)``.
    TypeError
        If ``after`` is not an integer.
    """
    R = _check(R)
    n = R.shape[0]
    if after is None:
        i = n - 1
    else:
        try:
            i = operator.index(after)
        except TypeError:
            raise TypeError(f"after must be an integer; got {after!r}") from None
        if not -n <= i < n:
            raise ValueError(f"after must lie in [{-n}, {n - 1}] for {n} tasks; got {i}")
        i %= n
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


def forward_transfer(R, baseline: Sequence[float]) -> float:
    """FWT (Lopez-Paz & Ranzato 2017): ``mean_{j≥1} (R[j−1, j] − b[j])``, the zero-shot
    accuracy on each task before training on it, relative to the accuracy ``b[j]`` of the
    untrained model (random initialisation) on that task. 0 for a single task.

    Parameters
    ----------
    R : array of shape [n_tasks, n_tasks]
        Needs the entries ``R[j−1, j]`` (e.g. :func:`~spikeforge.continual.run_stream`
        scores every task after every stage).
    baseline : sequence of float, length n_tasks
        ``b[j]``; ``b[0]`` is not used.

    Raises
    ------
    ValueError
        If ``R`` is not square, ``baseline`` does not have one entry per task, or an entry
        ``R[j−1, j]`` or ``b[j]`` (``j ≥ 1``) is NaN.
    """
    R = _check(R)
    n = R.shape[0]
    b = np.asarray(baseline, dtype=np.float64)
    if b.shape != (n,):
        raise ValueError(f"baseline must hold one accuracy per task ({n}); got shape {b.shape}")
    if n == 1:
        return 0.0
    zero_shot = np.array([R[j - 1, j] for j in range(1, n)])
    if np.isnan(zero_shot).any():
        raise ValueError("forward transfer needs the zero-shot accuracies R[j-1, j]; some are NaN")
    if np.isnan(b[1:]).any():
        raise ValueError("baseline holds NaN")
    return float(np.mean(zero_shot - b[1:]))


def retained_accuracy_ratio(protected_old: float, reference_old: float) -> float:
    """Old-task accuracy kept by a protected learner relative to a reference (seed 001's
    "1.7×": 82.2 % / 48.1 %).

    Returns
    -------
    float
        ``protected_old / reference_old``; ``inf`` if only the reference kept nothing, NaN
        (undefined) if both kept nothing.

    Raises
    ------
    ValueError
        If an accuracy is negative, NaN or infinite.
    """
    for v in (protected_old, reference_old):
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"accuracies must be finite and non-negative; got {protected_old}, {reference_old}")
    if reference_old == 0:
        return float("nan") if protected_old == 0 else float("inf")
    return float(protected_old / reference_old)

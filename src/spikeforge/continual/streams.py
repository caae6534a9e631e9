"""Task streams for continual learning: split (domain- or class-incremental), permuted and
rotated MNIST, built from the bundled 5 000-image subset or from any arrays.

A :class:`Task` holds its own training and test arrays; a stream is a list of tasks learned
one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..datasets import mnist_subset_split

__all__ = ["Task", "joint_task", "permuted_mnist", "rotated_mnist", "split_mnist", "split_tasks"]


@dataclass(frozen=True, repr=False)
class Task:
    """One task of a stream.

    Attributes
    ----------
    name : str
    X_train, y_train, X_test, y_test : ndarray
        ``X`` of shape [n, ...] (images [n, H, W] for the MNIST streams), ``y`` of shape [n].
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    def __post_init__(self) -> None:
        if len(self.X_train) != len(self.y_train) or len(self.X_test) != len(self.y_test):
            raise ValueError(f"task {self.name!r}: X and y lengths differ")
        if len(self.X_train) == 0 or len(self.X_test) == 0:
            raise ValueError(f"task {self.name!r} has an empty training or test set")

    def __repr__(self) -> str:
        labels = np.unique(self.y_train).tolist()
        return f"Task({self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, labels={labels})"


def split_tasks(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    groups: Sequence[Sequence[int]],
    *,
    scenario: str = "domain",
    seed: int | None = 0,
    names: Sequence[str] | None = None,
) -> list[Task]:
    """Split a labelled data set into tasks by class groups.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
    groups : sequence of class lists
        Classes of each task, e.g. ``((0, 1, 2, 3, 4), (5, 6, 7, 8, 9))``.
    scenario : {"domain", "class"}
        ``domain``: every task relabels its classes ``0…len(group)−1`` in the order given, so
        all tasks share the same outputs (domain-incremental; seed 001's digits→letters, spec
        §C.5). ``class``: labels are kept (class-incremental).
    seed : int or None
        Shuffles each task's training set once (None keeps the order).
    names : sequence of str, optional

    Returns
    -------
    list of Task
    """
    if scenario not in ("domain", "class"):
        raise ValueError(f"scenario must be 'domain' or 'class'; got {scenario!r}")
    seen: set[int] = set()
    for g in groups:
        if not len(g):
            raise ValueError("every group needs at least one class")
        if seen & set(g):
            raise ValueError(f"class groups overlap: {sorted(seen & set(g))}")
        seen |= set(g)
    if scenario == "domain" and len({len(g) for g in groups}) != 1:
        raise ValueError("domain-incremental groups must all have the same number of classes")
    rng = np.random.default_rng(seed) if seed is not None else None
    tasks = []
    for i, g in enumerate(groups):
        g = [int(c) for c in g]
        mapping = {c: (j if scenario == "domain" else c) for j, c in enumerate(g)}
        tr = np.flatnonzero(np.isin(y_train, g))
        te = np.flatnonzero(np.isin(y_test, g))
        if rng is not None:
            tr = rng.permutation(tr)
        relabel = np.vectorize(mapping.get, otypes=[np.int64])
        name = names[i] if names is not None else "+".join(str(c) for c in g)
        tasks.append(Task(name, X_train[tr], relabel(y_train[tr]), X_test[te], relabel(y_test[te])))
    return tasks


def split_mnist(
    groups: Sequence[Sequence[int]] = ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9)),
    *,
    scenario: str = "domain",
    n_train: int = 4000,
    n_test: int = 1000,
    seed: int = 0,
) -> list[Task]:
    """Split-MNIST on the bundled 5 000-image subset (images [n, 28, 28], 0–255).

    The default is seed 001's offline protocol (spec §C.5): Task 1 = digits 0–4, Task 2 =
    digits 5–9 relabelled ``d − 5`` (domain-incremental, shared outputs). ``seed`` draws the
    stratified train/test split and the presentation order.

    ``n_train`` and ``n_test`` size the whole split *before* it is divided into tasks: with
    two groups of five digits each task gets about ``n_train / 2`` training and
    ``n_test / 2`` test images.
    """
    Xtr, Xte, ytr, yte = mnist_subset_split(n_train, n_test, seed=seed, images=True)
    names = [f"digits {g[0]}-{g[-1]}" if list(g) == list(range(g[0], g[-1] + 1)) else None for g in groups]
    names = None if any(n is None for n in names) else names
    return split_tasks(Xtr, ytr, Xte, yte, groups, scenario=scenario, seed=seed, names=names)


def permuted_mnist(
    n_tasks: int = 2, *, n_train: int = 4000, n_test: int = 1000, seed: int = 0, first_identity: bool = True
) -> list[Task]:
    """Permuted MNIST: every task applies its own fixed pixel permutation to all images
    (labels 0–9 kept). The first task is the original images if ``first_identity``."""
    if n_tasks < 1:
        raise ValueError("n_tasks must be >= 1")
    Xtr, Xte, ytr, yte = mnist_subset_split(n_train, n_test, seed=seed, images=True)
    rng = np.random.default_rng(seed)
    tasks = []
    for i in range(n_tasks):
        perm = np.arange(Xtr[0].size) if (i == 0 and first_identity) else rng.permutation(Xtr[0].size)
        order = rng.permutation(len(ytr))
        Ptr = Xtr.reshape(len(Xtr), -1)[:, perm].reshape(Xtr.shape)
        Pte = Xte.reshape(len(Xte), -1)[:, perm].reshape(Xte.shape)
        tasks.append(Task(f"permutation {i}", Ptr[order], ytr[order], Pte, yte))
    return tasks


def rotated_mnist(
    angles: Sequence[float] = (0.0, 90.0), *, n_train: int = 4000, n_test: int = 1000, seed: int = 0
) -> list[Task]:
    """Rotated MNIST: task ``i`` shows every image rotated by ``angles[i]`` degrees
    (counter-clockwise, bilinear, same size); labels 0–9 kept (spec §C.5 alternative)."""
    from scipy.ndimage import rotate

    Xtr, Xte, ytr, yte = mnist_subset_split(n_train, n_test, seed=seed, images=True)
    rng = np.random.default_rng(seed)

    def rot(X: np.ndarray, a: float) -> np.ndarray:
        if a % 90 == 0:
            return np.rot90(X, k=int(a // 90) % 4, axes=(1, 2)).copy()
        out = rotate(X.astype(np.float32), a, axes=(2, 1), reshape=False, order=1)
        return np.clip(out, 0, 255)

    tasks = []
    for a in angles:
        order = rng.permutation(len(ytr))
        tasks.append(Task(f"rotated {a:g}°", rot(Xtr, a)[order], ytr[order], rot(Xte, a), yte))
    return tasks


def joint_task(tasks: Sequence[Task], *, seed: int | None = 0, name: str = "joint") -> Task:
    """All tasks' training sets together (shuffled) — the joint-training upper bound. The
    test set is the concatenation of the tasks' test sets."""
    X = np.concatenate([t.X_train for t in tasks])
    y = np.concatenate([t.y_train for t in tasks])
    if seed is not None:
        order = np.random.default_rng(seed).permutation(len(y))
        X, y = X[order], y[order]
    Xt = np.concatenate([t.X_test for t in tasks])
    yt = np.concatenate([t.y_test for t in tasks])
    return Task(name, X, y, Xt, yt)

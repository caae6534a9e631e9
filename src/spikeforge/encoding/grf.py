"""Gaussian receptive fields (GRF) and row-wise L1 normalisation (seed 000, spec §A.2)."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import check_features

__all__ = ["GaussianReceptiveFields", "L1Normalizer", "grf_sigma", "l1_normalize"]


def grf_sigma(x_min: np.ndarray, x_max: np.ndarray, n_fields: int) -> np.ndarray:
    """Width of the Gaussian fields: ``σ = (2/3)·(max − min)/(F − 2)`` (Yu et al. 2014).

    Parameters
    ----------
    x_min, x_max : array of shape [n_features]
        Per-column range fitted on training data (feature units).
    n_fields : int
        Number of fields ``F`` per feature; must be ≥ 3.

    Returns
    -------
    numpy.ndarray of shape [n_features] (feature units)
    """
    if n_fields < 3:
        raise ValueError(f"n_fields must be >= 3 (σ divides by F - 2); got {n_fields}")
    return (2.0 / 3.0) * (np.asarray(x_max) - np.asarray(x_min)) / (n_fields - 2)


class GaussianReceptiveFields(TransformerMixin, BaseEstimator):
    """Expand every feature into ``n_fields`` Gaussian responses.

    For feature ``j`` with fitted range ``[m_j, M_j]``, field ``k = 0…F−1`` has centre
    ``μ_k = m_j + k·(M_j − m_j)/(F − 1)`` and width ``σ_j = (2/3)(M_j − m_j)/(F − 2)``;
    the response ``exp(−(x − μ_k)² / (2σ_j²))`` peaks at 1 and is set to 0 below
    ``cutoff``. Output is feature-major: column ``j·F + k`` holds field ``k`` of
    feature ``j`` (spec G.12; the authors' code is field-major).

    Parameters
    ----------
    n_fields : int, default 10
        Fields per feature ``F`` (≥ 3).
    cutoff : float, default 0.09
        Responses below this value become exactly 0 (the authors' value).
    drop_constant : bool, default True
        Constant training columns carry no information and are dropped (spec G.12). The
        authors' code instead sets all fields of such a column to 1; pass
        ``drop_constant=False`` for that behaviour.
    clip : bool, default True
        Clip test values to the fitted ``[min, max]`` range so that an out-of-range value
        still excites the outermost field. The authors' code does not clip (an extreme value
        then produces no response at all).

    Attributes
    ----------
    data_min_, data_max_ : ndarray of shape [n_features_in_]
    keep_ : ndarray of bool, shape [n_features_in_]
        Columns that are used (non-constant, or all when ``drop_constant=False``).
    n_features_in_ : int
    n_output_features_ : int
        ``keep_.sum() * n_fields``.
    """

    def __init__(
        self,
        n_fields: int = 10,
        cutoff: float = 0.09,
        drop_constant: bool = True,
        clip: bool = True,
    ) -> None:
        self.n_fields = n_fields
        self.cutoff = cutoff
        self.drop_constant = drop_constant
        self.clip = clip

    def fit(self, X, y=None) -> GaussianReceptiveFields:
        """Fit per-column ranges on ``X`` of shape [n_samples, n_features].

        Warns (``UserWarning``) when every column is constant and ``drop_constant`` drops
        them all: the transformer then outputs 0 features.

        Raises
        ------
        ValueError
            If ``n_fields`` is not an integer ≥ 3, ``cutoff`` is outside [0, 1), or ``X`` is
            not 2-D or holds NaN or infinity.
        TypeError
            If ``X`` is not numeric.
        """
        X = check_features(X)
        if int(self.n_fields) != self.n_fields or self.n_fields < 3:
            raise ValueError(f"n_fields must be an integer >= 3; got {self.n_fields!r}")
        if not 0.0 <= self.cutoff < 1.0:
            raise ValueError(f"cutoff must lie in [0, 1); got {self.cutoff!r}")
        self.data_min_ = X.min(axis=0)
        self.data_max_ = X.max(axis=0)
        constant = self.data_max_ <= self.data_min_
        self.keep_ = ~constant if self.drop_constant else np.ones(X.shape[1], dtype=bool)
        if not self.keep_.any():
            warnings.warn(
                f"every column of X is constant over the {X.shape[0]} training sample(s): "
                "GaussianReceptiveFields drops them all (drop_constant=True), so transform "
                "returns 0 features; pass drop_constant=False to keep them (all fields = 1)",
                UserWarning,
                stacklevel=2,
            )
        self.n_features_in_ = X.shape[1]
        self.n_output_features_ = int(self.keep_.sum()) * int(self.n_fields)
        return self

    def transform(self, X) -> np.ndarray:
        """Return responses of shape [n_samples, n_kept_features · n_fields] in [0, 1]."""
        check_is_fitted(self, "keep_")
        X = check_features(X, n_features=self.n_features_in_, estimator=type(self).__name__)
        F = int(self.n_fields)
        lo = self.data_min_[self.keep_]
        hi = self.data_max_[self.keep_]
        Xk = X[:, self.keep_]
        if self.clip:
            Xk = np.clip(Xk, lo, hi)
        span = hi - lo
        constant = span <= 0
        safe_span = np.where(constant, 1.0, span)
        centres = lo[:, None] + np.arange(F)[None, :] * (safe_span[:, None] / (F - 1))
        sigma = grf_sigma(lo, lo + safe_span, F)
        # the authors' quirk for constant columns (only reachable with drop_constant=False)
        centres[constant] = lo[constant, None]
        sigma = np.where(constant, 1.0, sigma)
        z = (Xk[:, :, None] - centres[None, :, :]) / sigma[None, :, None]
        resp = np.exp(-0.5 * z * z)
        resp[resp < self.cutoff] = 0.0
        return resp.reshape(X.shape[0], -1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names ``"<feature>_grf<k>"`` in output order."""
        check_is_fitted(self, "keep_")
        if input_features is None:
            input_features = [f"x{i}" for i in range(self.n_features_in_)]
        kept = [f for f, k in zip(input_features, self.keep_) if k]
        return np.array([f"{f}_grf{k}" for f in kept for k in range(int(self.n_fields))])


def l1_normalize(X: np.ndarray) -> np.ndarray:
    """Row-wise L1 normalisation ``x ← x / Σ|x|`` of an array [n_samples, n_features].

    All-zero rows stay zero (no division by zero).
    """
    X = np.asarray(X, dtype=np.float64)
    s = np.abs(X).sum(axis=1, keepdims=True)
    return np.divide(X, s, out=np.zeros_like(X), where=s > 0)


class L1Normalizer(TransformerMixin, BaseEstimator):
    """Stateless scikit-learn transformer wrapping :func:`l1_normalize`."""

    def fit(self, X, y=None) -> L1Normalizer:
        """Record the number of features of ``X`` [n_samples, n_features]."""
        X = check_features(X)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        """Rows of ``X`` scaled to unit L1 norm, shape unchanged."""
        check_is_fitted(self, "n_features_in_")
        return l1_normalize(check_features(X, n_features=self.n_features_in_, estimator=type(self).__name__))

"""Input validation shared by every estimator and encoder.

The goal is a clear ``ValueError`` / ``TypeError`` that names the problem at the public
boundary, never a deep traceback from inside a kernel.
"""

from __future__ import annotations

import numbers
import operator
import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import DataConversionWarning

__all__ = [
    "auto_no_answer_label",
    "check_feature_names",
    "check_int",
    "check_n_steps",
    "check_number",
    "check_features",
    "feature_names_from_meta",
    "feature_names_to_meta",
    "check_random_state",
    "check_targets",
    "labels_with_no_answer",
    "rng_from_seed",
]


def check_features(
    X: Any,
    *,
    name: str = "X",
    n_features: int | None = None,
    allow_negative: bool = True,
    dtype: type = np.float64,
    estimator: str = "this estimator",
    owner: Any = None,
    reset: bool = False,
) -> np.ndarray:
    """Validate a feature matrix and return it as a C-contiguous float array.

    Parameters
    ----------
    X : array-like of shape [n_samples, n_features]
        Numeric features. Lists, NumPy arrays, pandas frames and torch tensors are accepted.
    name : str
        Name used in error messages.
    n_features : int, optional
        Expected number of columns (checked at predict time against the fitted value).
    estimator : str
        Name of the estimator, for the feature-count message.
    allow_negative : bool
        If False, negative entries raise ``ValueError``.
    dtype : type
        Output dtype.
    owner : estimator, optional
        If given, column names of a DataFrame ``X`` are checked as scikit-learn does: with
        ``reset=True`` they are stored in ``owner.feature_names_in_``; otherwise they must
        equal the stored names (same names, same order).
    reset : bool
        True at fit time (see ``owner``).

    Returns
    -------
    numpy.ndarray of shape [n_samples, n_features]

    Raises
    ------
    TypeError
        For non-numeric input (strings, objects) or sparse matrices.
    ValueError
        For 1-D or >2-D input, an empty matrix, NaN or infinite entries, a wrong number
        of features, or DataFrame columns that differ from those seen at fit time.
    """
    if owner is not None:
        check_feature_names(owner, X, reset=reset)
    if X is None:
        raise TypeError(f"{name} is None; expected a 2-D array of shape [n_samples, n_features]")
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError(
            f"{name} is a sparse matrix; spikeforge encoders need dense input, call .toarray() first"
        )
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # torch tensor
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X)
    except Exception as exc:  # pragma: no cover - exotic containers
        raise TypeError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype == object or arr.dtype.kind in "USV":
        try:
            arr = arr.astype(dtype)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be numeric; got dtype {arr.dtype} ({exc})") from exc
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    if arr.ndim == 1:
        raise ValueError(
            f"{name} is 1-D (shape {arr.shape}); expected a 2-D array [n_samples, n_features]. "
            "Reshape your data either using array.reshape(-1, 1) if your data has a single "
            "feature or array.reshape(1, -1) if it contains a single sample."
        )
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D [n_samples, n_features]; got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(
            f"{name} is empty: found array with 0 sample(s) (shape={arr.shape}) while a "
            "minimum of 1 is required."
        )
    if arr.shape[1] == 0:
        raise ValueError(
            f"{name} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required."
        )
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        kind = "NaN" if np.isnan(arr[tuple(bad)]) else "infinity"
        raise ValueError(
            f"{name} contains {kind} (first at row {bad[0]}, column {bad[1]}); "
            "impute or drop non-finite values before fitting"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"{name} has {arr.shape[1]} features, but {estimator} is expecting "
            f"{n_features} features as input."
        )
    if not allow_negative and np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative; found minimum {arr.min()}")
    return arr


def _feature_names(X: Any) -> np.ndarray | None:
    """Column names of a DataFrame-like ``X`` when they are all strings, else None."""
    cols = getattr(X, "columns", None)
    if cols is None or not hasattr(X, "iloc"):
        return None
    names = np.asarray(list(cols), dtype=object)
    return names if names.size and all(isinstance(c, str) for c in names) else None


def feature_names_to_meta(owner: Any) -> list[str] | None:
    """``owner.feature_names_in_`` as a JSON-able list for a model file, None when absent."""
    names = getattr(owner, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def feature_names_from_meta(owner: Any, names: Any) -> None:
    """Restore ``owner.feature_names_in_`` from :func:`feature_names_to_meta`'s value (None: no names)."""
    if names is None:
        if hasattr(owner, "feature_names_in_"):
            del owner.feature_names_in_
        return
    owner.feature_names_in_ = np.asarray(list(names), dtype=object)


def check_feature_names(owner: Any, X: Any, *, reset: bool) -> None:
    """scikit-learn's feature-name contract: store names at fit, compare them afterwards.

    Parameters
    ----------
    owner : estimator
        Gets (``reset=True``) or is checked against (``reset=False``) ``feature_names_in_``.
    X : array-like
        A pandas DataFrame with string column names records or checks them; other input
        clears them at fit time.
    reset : bool
        True at fit time.

    Raises
    ------
    ValueError
        At predict time, if the column names differ from those seen at fit (also when only
        their order differs).
    """
    names = _feature_names(X)
    est = type(owner).__name__
    if reset:
        if names is not None:
            owner.feature_names_in_ = names
        elif hasattr(owner, "feature_names_in_"):
            del owner.feature_names_in_
        return
    fitted = getattr(owner, "feature_names_in_", None)
    if fitted is None:
        if names is not None:
            warnings.warn(f"X has feature names, but {est} was fitted without feature names", UserWarning, stacklevel=4)
        return
    if names is None:
        warnings.warn(f"X does not have valid feature names, but {est} was fitted with feature names",
                      UserWarning, stacklevel=4)
        return
    if len(names) != len(fitted) or np.any(names != fitted):
        unseen = [n for n in names if n not in set(fitted)]
        missing = [n for n in fitted if n not in set(names)]
        detail = (f" Unseen at fit time: {unseen[:5]}." if unseen else "") + (
            f" Seen at fit time, now missing: {missing[:5]}." if missing else "")
        if not detail:
            detail = " The columns are the same but in a different order; reorder them as at fit time."
        raise ValueError(f"The feature names should match those that were passed during fit.{detail}")


def check_targets(
    y: Any, n_samples: int, *, name: str = "y", estimator: str = "this estimator"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate class labels and encode them as integers.

    Parameters
    ----------
    y : array-like of shape [n_samples]
        Class labels of any hashable type (ints, strings, ...). A column vector
        ``[n_samples, 1]`` is accepted and flattened. Object arrays (e.g. from pandas) holding
        numbers are treated as numbers.
    n_samples : int
        Number of rows of the feature matrix, for the length check.
    name : str
        Name used in error messages.
    estimator : str
        Name of the estimator, for the messages.

    Returns
    -------
    classes : numpy.ndarray of shape [n_classes]
        Sorted unique labels.
    y_encoded : numpy.ndarray of shape [n_samples], int64
        Index of each label in ``classes``.

    Raises
    ------
    ValueError
        Wrong length, missing labels (None / NaN, also inside object arrays), continuous
        (regression) targets, or fewer than two classes.
    TypeError
        Labels of mixed, unorderable types (e.g. ints and strings together).
    """
    if y is None:
        raise ValueError(
            f"{estimator} requires y to be passed, but the target y is None"
        )
    if hasattr(y, "detach") and hasattr(y, "cpu"):
        y = y.detach().cpu().numpy()
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the "
            "shape of y to (n_samples,), for example using ravel().",
            DataConversionWarning,
            stacklevel=3,
        )
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D [n_samples]; got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} labels but X has {n_samples} samples; they must match"
        )
    if arr.dtype == object:
        missing = [i for i, v in enumerate(arr) if v is None or (isinstance(v, float) and v != v)]
        if missing:
            raise ValueError(
                f"Input {name} contains missing labels (None or NaN), first at position {missing[0]}"
            )
        if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in arr):
            arr = arr.astype(np.float64)
            if np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"Input {name} contains NaN or infinity.")
        if np.any(arr != np.round(arr)):
            raise ValueError(
                f"Unknown label type: {name} looks continuous (non-integer floats); "
                f"{estimator} is a classifier and needs discrete class labels"
            )
    try:
        classes, y_enc = np.unique(arr, return_inverse=True)
    except TypeError as exc:
        kinds = sorted({type(v).__name__ for v in arr})
        raise TypeError(
            f"{name} mixes label types that cannot be ordered ({', '.join(kinds)}); "
            "use labels of one type"
        ) from exc
    if classes.shape[0] < 2:
        raise ValueError(
            f"{name} contains only one class ({classes[0]!r}); "
            "a classifier needs samples of at least 2 classes"
        )
    return classes, y_enc.astype(np.int64)


def auto_no_answer_label(classes: np.ndarray) -> Any:
    """The label a classifier predicts for "no answer" (a silent network) when the user chose
    ``no_answer_label="auto"``: never one of ``classes``.

    Numeric classes get -1, or ``min(classes) - 1`` when -1 is itself a class; other labels
    (strings, booleans, objects) get the string ``"no answer"``.

    Parameters
    ----------
    classes : numpy.ndarray of shape [n_classes]
        The fitted, sorted class labels.

    Raises
    ------
    ValueError
        If ``"no answer"`` is itself one of the (string) classes.
    """
    if classes.dtype.kind in "iuf":
        if not np.any(classes == -1):
            return -1
        low = classes.min() - 1
        return int(low) if classes.dtype.kind in "iu" else float(low)
    if np.any(classes == "no answer"):
        raise ValueError('"no answer" is a class label; set no_answer_label to another value')
    return "no answer"


def labels_with_no_answer(classes: np.ndarray, idx: np.ndarray, answered: np.ndarray, value: Any) -> np.ndarray:
    """``classes[idx]`` with the unanswered rows set to ``value``, in a dtype that holds both.

    Parameters
    ----------
    classes : numpy.ndarray of shape [n_classes]
    idx : numpy.ndarray of int, shape [n_samples]
        Class index per sample (any value where not answered).
    answered : numpy.ndarray of bool, shape [n_samples]
    value : label
        The no-answer label; integer classes with a string label (or bool classes with -1)
        give an object array.

    Returns
    -------
    numpy.ndarray of shape [n_samples]
    """
    labels = classes[np.clip(idx, 0, classes.shape[0] - 1)]
    if answered.all():
        return labels
    v = np.asarray(value)
    if classes.dtype.kind == "b" or (v.dtype.kind in "USO") != (classes.dtype.kind in "USO"):
        dtype = np.dtype(object)
    else:
        dtype = np.result_type(classes.dtype, v.dtype)
    out = labels.astype(dtype)
    out[~answered] = value
    return out


def check_int(value: object, name: str, *, low: int | None = 1, high: int | None = None,
              allow_none: bool = False) -> int | None:
    """``value`` as a Python int in ``[low, high]``, else ``ValueError`` naming ``name``.

    Integral numbers (``int``, ``numpy.int64``) are accepted; floats (even ``10.0``, which
    ``int()`` would accept and ``10.5``, which it would silently truncate), booleans and
    strings are refused, as scikit-learn's parameter validation does.

    Parameters
    ----------
    value : object
        The parameter value.
    name : str
        Parameter name for the message.
    low, high : int or None
        Inclusive bounds (None: unbounded on that side).
    allow_none : bool
        Accept (and return) None.

    Raises
    ------
    ValueError
        Not an integer, a bool, or out of range.
    """
    if value is None and allow_none:
        return None
    if low in (0, 1) and high is None:
        what = "a positive integer" if low == 1 else "a non-negative integer"
    else:
        what = "an integer" + ("" if low is None else f" >= {low}")
        what += "" if high is None else (" and" if low is not None else "") + f" <= {high}"
    try:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        v = operator.index(value)
    except TypeError:
        extra = " or None" if allow_none else ""
        raise ValueError(f"{name} must be {what}{extra}; got {value!r} ({type(value).__name__})") from None
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name} must be {what}; got {value!r}")
    return int(v)


def check_number(value: object, name: str, *, low: float | None = None, low_inclusive: bool = False,
                 allow_none: bool = False) -> float | None:
    """``value`` as a finite float above ``low`` (``> low``, or ``>= low`` with ``low_inclusive``).

    Parameters
    ----------
    value : object
        The parameter value; a real number that is not a bool.
    name : str
        Parameter name for the message.
    low : float or None
        Lower bound (None: any finite number).
    low_inclusive : bool
        Whether ``low`` itself is allowed.
    allow_none : bool
        Accept (and return) None.

    Raises
    ------
    ValueError
        Not a real number, a bool, NaN or infinite, or not above ``low``.
    """
    if value is None and allow_none:
        return None
    if low is None:
        what = "a finite number"
    else:
        what = f"a finite number {'>=' if low_inclusive else '>'} {low:g}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {what}; got {value!r} ({type(value).__name__})")
    v = float(value)
    if not np.isfinite(v) or (low is not None and (v < low or (v == low and not low_inclusive))):
        raise ValueError(f"{name} must be {what}; got {value!r}")
    return v


def check_n_steps(n_steps: object) -> int:
    """A number of time steps as an int: ``TypeError`` unless an integer (not a bool),
    ``ValueError`` if < 1."""
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral):
        raise TypeError(f"n_steps must be an integer; got {n_steps!r} ({type(n_steps).__name__})")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1; got {n_steps}")
    return int(n_steps)


def check_random_state(seed: Any) -> np.random.Generator:
    """Turn ``None``, an int, a ``SeedSequence`` or a ``Generator`` into a ``numpy.random.Generator``."""
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(0, 2**31 - 1))
    if isinstance(seed, (numbers.Integral, np.random.SeedSequence)):
        return np.random.default_rng(seed)
    raise TypeError(
        f"random_state must be None, an int, a SeedSequence or a numpy Generator; got {type(seed)}"
    )


def rng_from_seed(seed: Any, *stream: int) -> np.random.Generator:
    """A generator for a named sub-stream of ``seed``.

    Parameters
    ----------
    seed : None | int | Generator
        Root seed. ``None`` draws fresh entropy; a ``Generator`` is used to draw a root.
    *stream : int
        Integers naming the sub-stream (e.g. ``(1,)`` for prediction noise).
    """
    if seed is None:
        root = int(np.random.SeedSequence().entropy % (2**63))
    elif isinstance(seed, np.random.Generator):
        root = int(seed.integers(0, 2**63 - 1))
    elif isinstance(seed, np.random.RandomState):
        root = int(seed.randint(0, 2**31 - 1))
    elif isinstance(seed, numbers.Integral):
        root = int(seed)
    else:
        raise TypeError(f"random_state must be None, an int or a numpy Generator; got {type(seed)}")
    return np.random.default_rng(np.random.SeedSequence([root, *stream]))

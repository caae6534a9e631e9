"""Shared machinery of the scikit-learn classifiers built on :class:`spikeforge.sim.Network`
with rate-coded (Poisson) image input: input validation, rate conversion, "no answer"
handling, saving and loading with safetensors."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    auto_no_answer_label,
    check_features,
    check_number,
    feature_names_from_meta,
    feature_names_to_meta,
    labels_with_no_answer,
    rng_from_seed,
)
from ..io import jsonable_params, params_for, read_safetensors

__all__ = [
    "InputScaleWarning",
    "NoAnswerWarning",
    "RateNetworkClassifier",
    "SilentNetworkWarning",
    "warn_if_silent",
    "warn_input_scale",
]


class NoAnswerWarning(UserWarning):
    """Some inputs evoked no spike in the deciding neurons: the network gave no answer."""


class InputScaleWarning(UserWarning):
    """The training data's maximum is far below the intensity scale (``input_max`` or
    ``input_scale``): inputs become near-zero rates and the network stays silent."""


class SilentNetworkWarning(UserWarning):
    """Most training presentations at the end of ``fit`` evoked no spike: the trained network is
    mostly silent and will give no answer to most inputs."""


#: :func:`warn_input_scale` warns when the data's maximum is at most this fraction of the scale
INPUT_SCALE_RATIO = 0.1
#: :func:`warn_if_silent` looks at the last this many training presentations ...
SILENT_WINDOW = 100
#: ... and warns when more than this fraction of them evoked no spike ...
SILENT_FRACTION = 0.5
#: ... if there are at least this many (fewer, e.g. a warm-up fit on 4 images, are too few to judge)
SILENT_MIN_PRESENTATIONS = 20


def warn_input_scale(x_max: float, scale: float, *, estimator: str, param: str = "input_max",
                     stacklevel: int = 3) -> None:
    """Warn (:class:`InputScaleWarning`) when the training data's largest value ``x_max`` is at
    most a tenth of the intensity ``scale`` that maps to the top firing rate.

    Parameters
    ----------
    x_max : float
        Maximum of the training data (intensity units).
    scale : float
        The estimator's intensity scale (e.g. ``input_max = 255``).
    estimator : str
        Name for the message.
    param : str
        Name of the scale parameter, for the advice.
    stacklevel : int
        Passed to :func:`warnings.warn`.
    """
    if x_max > INPUT_SCALE_RATIO * scale:
        return
    if x_max <= 0.0:
        msg = (f"the training data is all zeros: every input rate of {estimator} is 0 and the network "
               "will stay silent")
    else:
        advice = "1.0 (e.g. for images scaled to [0, 1])" if x_max <= 1.0 else f"{x_max:.4g} (the range of your data)"
        msg = (f"the training data's maximum is {x_max:.4g}, but {estimator} has {param}={scale:g} (the "
               f"intensity of the top input rate), so every input is at most {x_max / scale:.1%} of the top "
               f"rate and the network will stay (nearly) silent; pass {param}={advice}")
    warnings.warn(msg, InputScaleWarning, stacklevel=stacklevel)


def warn_if_silent(counts: np.ndarray, *, estimator: str, detail: str = "", stacklevel: int = 3) -> float:
    """Warn (:class:`SilentNetworkWarning`) when more than half of the last ``min(100, n)``
    training presentations evoked no spike (not judged with fewer than 20 presentations).

    Parameters
    ----------
    counts : ndarray [n_presentations, n_neurons]
        Spike counts of the deciding population per training presentation, in order.
    estimator : str
        Name for the message.
    detail : str
        Sentence appended to the message (a likely cause).
    stacklevel : int
        Passed to :func:`warnings.warn`.

    Returns
    -------
    float
        The silent fraction of the last ``min(100, n_presentations)`` presentations (0.0 when
        there are none).
    """
    last = np.asarray(counts)[-SILENT_WINDOW:]
    if last.shape[0] == 0:
        return 0.0
    silent = float((last.sum(axis=1) == 0).mean())
    if silent > SILENT_FRACTION and last.shape[0] >= SILENT_MIN_PRESENTATIONS:
        warnings.warn(
            f"{estimator} is mostly silent after training: {silent:.0%} of the last {last.shape[0]} training "
            f"presentations evoked no excitatory spike, so most inputs will get no answer."
            + (f" {detail}" if detail else ""),
            SilentNetworkWarning,
            stacklevel=stacklevel,
        )
    return silent


class RateNetworkClassifier(ClassifierMixin, BaseEstimator):
    """Base class: subclasses define ``_build_network`` and ``_class_scores``.

    Common parameters (documented in the subclasses): ``max_rate_hz``, ``input_max``,
    ``no_answer_label``, ``n_jobs``, ``verbose``, ``random_state``.
    """

    #: population whose spikes decide the class
    _readout = "E"

    # ------------------------------------------------------------------ input
    def _check_X(self, X: Any, *, reset: bool) -> np.ndarray:
        """Validate images/feature vectors and return them as float64 [n_samples, n_features]."""
        name = type(self).__name__
        if X is not None and not hasattr(X, "toarray"):
            arr = np.asarray(X.detach().cpu().numpy() if hasattr(X, "detach") else X)
            if arr.ndim == 3 and arr.dtype != object:  # a stack of images [n, H, W]
                X = arr.reshape(arr.shape[0], -1)
        X = check_features(
            X, n_features=None if reset else self.n_features_in_, allow_negative=True, estimator=name,
            owner=self, reset=reset,
        )
        if X.min() < 0:
            raise ValueError(
                f"Negative values in data passed to {name}: it encodes intensities as firing rates "
                f"and needs non-negative input (found minimum {X.min():.4g})"
            )
        check_number(self.input_max, "input_max", low=0.0)
        x_max = float(X.max())
        if x_max > self.input_max * (1 + 1e-9):
            raise ValueError(
                f"input intensities must lie in [0, input_max={self.input_max}]; found maximum {x_max:.4g} "
                "(set input_max to the range of your data, e.g. 1.0 for images scaled to [0, 1])"
            )
        if reset:
            self.n_features_in_ = X.shape[1]
            warn_input_scale(x_max, float(self.input_max), estimator=name, stacklevel=4)
        return X

    def _check_common_params(self) -> None:
        """Validate the parameters shared by the rate-coded networks (called at fit)."""
        check_number(self.dt_ms, "dt_ms", low=0.0)
        check_number(self.active_ms, "active_ms", low=0.0)
        check_number(self.rest_ms, "rest_ms", low=0.0, low_inclusive=True)
        check_number(self.max_rate_hz, "max_rate_hz", low=0.0)
        check_number(self.input_max, "input_max", low=0.0)

    def _rates(self, X: np.ndarray) -> np.ndarray:
        """Firing rates (Hz): ``X / input_max · max_rate_hz``."""
        if not self.max_rate_hz > 0:
            raise ValueError(f"max_rate_hz must be positive; got {self.max_rate_hz}")
        return X * (float(self.max_rate_hz) / float(self.input_max))

    # ------------------------------------------------------------------ decisions
    def _no_answer_value(self):
        lab = self.no_answer_label
        if lab is None:
            return None
        if isinstance(lab, str) and lab == "auto":
            return auto_no_answer_label(self.classes_)
        if np.any(self.classes_ == lab):
            raise ValueError(f"no_answer_label={lab!r} is one of the classes")
        return lab

    def _decide(self, scores: np.ndarray, answered: np.ndarray) -> np.ndarray:
        """Labels from class scores; unanswered rows get the no-answer label (or the prior)."""
        idx = np.argmax(scores, axis=1)
        if answered.all():
            return self.classes_[idx]
        n_silent = int((~answered).sum())
        value = self._no_answer_value()
        warnings.warn(
            f"{n_silent} of {answered.size} inputs evoked no spike in the deciding neurons "
            f"(no answer); they are labelled {value!r}" if value is not None else
            f"{n_silent} of {answered.size} inputs evoked no spike (no answer); they get the most "
            "frequent training class",
            NoAnswerWarning,
            stacklevel=3,
        )
        if value is None:
            idx[~answered] = int(np.argmax(self.class_prior_))
            return self.classes_[idx]
        return labels_with_no_answer(self.classes_, idx, answered, value)

    def decision_function(self, X) -> np.ndarray:
        """Class scores [n_samples, n_classes] (see :meth:`_class_scores`).

        With two classes, scikit-learn's convention: one score per sample [n_samples],
        ``score(classes_[1]) - score(classes_[0])`` (positive favours ``classes_[1]``).
        """
        scores, _ = self._scores(X)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def _scores(self, X) -> tuple[np.ndarray, np.ndarray]:
        check_is_fitted(self, "network_")
        X = self._check_X(X, reset=False)
        return self._class_scores(X)

    def predict(self, X, *, return_answered: bool = False):
        """Predicted labels [n_samples]; inputs that evoke no spike get ``no_answer_label``.

        With ``return_answered=True`` also the mask of :meth:`answered` (from the same
        simulation, so one inference instead of two): ``(labels, answered)``.
        """
        scores, answered = self._scores(X)
        labels = self._decide(scores, answered)
        return (labels, answered) if return_answered else labels

    def predict_proba(self, X) -> np.ndarray:
        """Scores normalised to sum to 1 per row [n_samples, n_classes] (uniform when silent)."""
        scores, answered = self._scores(X)
        scores = np.clip(scores, 0, None)
        tot = scores.sum(axis=1, keepdims=True)
        uniform = np.full_like(scores, 1.0 / scores.shape[1])
        return np.where(tot > 0, scores / np.where(tot > 0, tot, 1.0), uniform)

    def answered(self, X) -> np.ndarray:
        """Boolean mask [n_samples]: the network gave an answer (some deciding neuron spiked)."""
        return self._scores(X)[1]

    def _network_seed(self, seed: int | None = None) -> int:
        """The seed of a new network (its delays, initial weights and input streams): drawn from
        ``random_state`` unless given (``load`` passes the saved one). Kept as ``network_seed_``
        so that :meth:`save` can store it whatever ``random_state`` was (None, a Generator)."""
        if seed is None:
            seed = int(rng_from_seed(self.random_state, 0).integers(0, 2**63 - 1))
        self.network_seed_ = int(seed)
        return self.network_seed_

    # ------------------------------------------------------------------ persistence
    def _extra_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _load_extra(self, arrays: dict[str, np.ndarray]) -> None:
        pass

    def save(self, path: str | Path) -> Path:
        """Save the fitted model (weights, thresholds, labels, parameters) to a safetensors file."""
        from safetensors.numpy import save_file

        check_is_fitted(self, "network_")
        path = Path(path).expanduser()
        arrays = {f"net/{k}": np.ascontiguousarray(v) for k, v in self.network_.state_dict().items()}
        arrays.update({f"model/{k}": np.ascontiguousarray(v) for k, v in self._extra_arrays().items()})
        arrays["model/class_prior"] = np.asarray(self.class_prior_, dtype=np.float64)
        params = jsonable_params(self.get_params(deep=False))
        meta = {
            "class": type(self).__name__,
            "params": json.dumps(params),
            "classes": json.dumps(self.classes_.tolist()),
            "n_features_in": str(self.n_features_in_),
            "network_seed": str(self.network_seed_),
        }
        names = feature_names_to_meta(self)
        if names is not None:
            meta["feature_names_in"] = json.dumps(names)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(arrays, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, path: str | Path):
        """Load a model saved with :meth:`save` (ready to predict)."""
        meta, arrays = read_safetensors(path)
        if meta.get("class") != cls.__name__:
            raise ValueError(f"{path} holds a {meta.get('class')}, not a {cls.__name__}")
        model = cls(**params_for(cls, json.loads(meta["params"])))
        model.classes_ = np.asarray(json.loads(meta["classes"]))
        model.n_features_in_ = int(meta["n_features_in"])
        feature_names_from_meta(model, json.loads(meta["feature_names_in"]) if "feature_names_in" in meta else None)
        model.class_prior_ = arrays["model/class_prior"]
        seed = int(meta["network_seed"]) if "network_seed" in meta else None  # older files: from random_state
        model.network_ = model._build_network(model.classes_.shape[0], seed=seed)
        model.network_.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("net/")})
        model._load_extra({k[6:]: v for k, v in arrays.items() if k.startswith("model/")})
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.non_deterministic = self.random_state is None
        return tags

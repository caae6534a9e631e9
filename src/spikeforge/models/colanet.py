"""Kiselev's CoLaNET (seed 002): the spiking columnar network and its digital twin.

Both are scikit-learn classifiers over non-negative intensity features ``X [n, D]`` (e.g.
MNIST pixels 0–255), trained by the synaptic-resource rule of
:mod:`spikeforge.plasticity.resource` (one implementation shared by both, and by
:class:`~spikeforge.models.ConvMatrixLearner`). See ``docs/colanet.md``.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    check_features,
    check_int,
    check_number,
    check_targets,
    feature_names_from_meta,
    feature_names_to_meta,
    rng_from_seed,
)
from ..encoding.accumulator import accumulator_spikes
from ..io import jsonable_params, params_for, read_safetensors
from ..plasticity.resource import SynapticResource, initial_neuron_state, resource_to_weight
from . import _colanet_kernel as K
from ._rate_network import warn_input_scale

__all__ = ["CoLaNET", "DigitalCoLaNET"]

#: the resource-rule parameters shared by both networks: estimator name -> SynapticResource field
_RESOURCE_PARAMS = {
    "w_min": "w_min",
    "w_max": "w_max",
    "hebbian": "d_hebb",
    "dopamine_window": "dopamine_window",
    "contribution_window": "contribution_window",
    "isi_max": "isi_max",
    "stability_ratio": "stability_ratio",
    "n_silent": "n_silent",
    "free_threshold": "free_threshold",
    "one_factor": "one_factor",
    "one_factor_period": "one_factor_period",
}
_STATE = ("resource_", "weights_", "theta_", "neuron_state_", "contributed_", "hebb_done_", "clock_", "rng_state_")


class _CoLaNETBase(ClassifierMixin, BaseEstimator):
    """Shared machinery: validation, state per copy, fit / partial_fit / predict, persistence."""

    _kind: ClassVar[str] = ""

    # ------------------------------------------------------------------ configuration
    def resource_rule(self) -> SynapticResource:
        """The :class:`SynapticResource` parameters of this network."""
        return SynapticResource(**{f: getattr(self, a) for a, f in _RESOURCE_PARAMS.items()})

    #: integer parameters: name -> smallest allowed value (tacts, counts)
    _INT_PARAMS: ClassVar[dict[str, int]] = {
        "n_microcolumns": 1, "n_copies": 1, "n_epochs": 1, "dopamine_window": 1, "contribution_window": 1,
        "isi_max": 1, "one_factor_period": 1,
    }  # fmt: skip
    #: integer parameters that may also be None
    _OPTIONAL_INT_PARAMS: ClassVar[frozenset[str]] = frozenset()

    def _check_common(self) -> None:
        for name, low in self._INT_PARAMS.items():
            check_int(getattr(self, name), name, low=low, allow_none=name in self._OPTIONAL_INT_PARAMS)
        if isinstance(self.input_scale, str):
            if self.input_scale != "auto":
                raise ValueError(f"input_scale must be 'auto' or a positive number; got {self.input_scale!r}")
        else:
            try:
                check_number(self.input_scale, "input_scale", low=0.0)
            except ValueError:
                raise ValueError(f"input_scale must be 'auto' or a positive number; got {self.input_scale!r}") from None
        if self.tie_break not in ("margin", "random"):
            raise ValueError(f"tie_break must be 'margin' or 'random'; got {self.tie_break!r}")
        if self.hebbian > 0:
            raise ValueError(f"hebbian (the anti-Hebbian step d_H) must be <= 0; got {self.hebbian}")
        self.resource_rule()  # validates the rule's own parameters

    def _cfg(self, n_classes: int) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------------ encoding
    def _scale(self, X: np.ndarray) -> np.ndarray:
        return np.clip(X / self.input_scale_, 0.0, 1.0)

    def _check_X(self, X, *, fitted: bool) -> np.ndarray:
        return check_features(
            X, n_features=self.n_features_in_ if fitted else None, allow_negative=False, estimator=type(self).__name__,
            owner=self, reset=not fitted,
        )

    # ------------------------------------------------------------------ state
    def _init_state(self, n_inputs: int, n_classes: int) -> None:
        n_neu = n_classes * int(self.n_microcolumns)
        k = int(self.n_copies)
        rule = self.resource_rule()
        self.resource_ = np.full((k, n_inputs, n_neu), rule.resource_zero)
        self.weights_ = resource_to_weight(self.resource_, rule.w_min, rule.w_max)
        cfg = self._cfg(n_classes)
        self.theta_ = np.full((k, n_neu), cfg[K.C_THETA0])
        for c in range(k):
            K._refresh_all(self.weights_[c], self.theta_[c], cfg)
        self.neuron_state_ = np.stack([initial_neuron_state(n_neu) for _ in range(k)])
        self.contributed_ = np.zeros((k, n_inputs, n_neu), dtype=bool)
        self.hebb_done_ = np.zeros((k, n_inputs, n_neu), dtype=bool)
        self.clock_ = np.zeros(k)
        root = rng_from_seed(self.random_state, 0)
        self.rng_state_ = root.integers(0, 2**63 - 1, size=(k, 1), dtype=np.int64).astype(np.uint64)
        self.predict_seed_ = int(root.integers(0, 2**62))
        self.n_presentations_ = 0
        self.online_correct_ = np.zeros(0, dtype=np.int8)

    def _start(self, X, y, classes) -> tuple[np.ndarray, np.ndarray]:
        """Validate a training batch and initialise the state on the first call."""
        self._check_common()
        first = not hasattr(self, "resource_")
        X = self._check_X(X, fitted=not first)
        if first:
            if classes is not None:
                self.classes_ = np.unique(np.asarray(classes))
                if self.classes_.shape[0] < 2:
                    raise ValueError("classes must name at least 2 classes")
                y_arr = np.asarray(y).ravel()
                if y_arr.shape[0] != X.shape[0]:
                    raise ValueError(f"y has {y_arr.shape[0]} labels but X has {X.shape[0]} samples; they must match")
                if not np.all(np.isin(y_arr, self.classes_)):
                    raise ValueError("y contains labels that are not in classes")
                y_enc = np.searchsorted(self.classes_, y_arr).astype(np.int64)
            else:
                self.classes_, y_enc = check_targets(y, X.shape[0], estimator=type(self).__name__)
            self.n_features_in_ = X.shape[1]
            if self.input_scale != "auto":
                warn_input_scale(float(X.max()), float(self.input_scale), estimator=type(self).__name__,
                                 param="input_scale", stacklevel=4)
            scale = float(X.max()) if self.input_scale == "auto" else float(self.input_scale)
            self.input_scale_ = 1.0 if self.input_scale == "auto" and scale <= 1.0 else scale
            self._init_state(self._n_inputs(X.shape[1]), self.classes_.shape[0])
        else:
            y_arr = np.asarray(y).ravel()
            if y_arr.shape[0] != X.shape[0]:
                raise ValueError(f"y has {y_arr.shape[0]} labels but X has {X.shape[0]} samples; they must match")
            unknown = ~np.isin(y_arr, self.classes_)
            if unknown.any():
                raise ValueError(
                    f"y contains labels unseen at the first fit ({y_arr[unknown][:3].tolist()}); "
                    "pass every class to the first partial_fit with classes=..."
                )
            y_enc = np.searchsorted(self.classes_, y_arr).astype(np.int64)
        return X, y_enc

    def _n_inputs(self, n_features: int) -> int:
        return n_features

    # ------------------------------------------------------------------ training
    def fit(self, X, y) -> _CoLaNETBase:
        """Train from scratch on ``X`` [n_samples, n_features] (non-negative), labels ``y`` [n_samples].

        Runs ``n_epochs`` passes with plasticity on. Returns self.
        """
        for a in _STATE:
            if hasattr(self, a):
                delattr(self, a)
        X, y_enc = self._start(X, y, None)
        self._train(self._events(X), y_enc, int(self.n_epochs))
        return self

    def partial_fit(self, X, y, classes=None) -> _CoLaNETBase:
        """One more pass over ``X, y`` without resetting (continual / incremental learning).

        ``classes`` (all labels that will ever occur) is needed on the first call if ``y`` of
        that call does not contain them all.
        """
        X, y_enc = self._start(X, y, classes)
        self._train(self._events(X), y_enc, 1)
        return self

    def _train(self, events, y_enc: np.ndarray, n_epochs: int) -> None:
        n = y_enc.shape[0]
        cfg = self._cfg(self.classes_.shape[0])
        p = self.resource_rule().as_array()
        k = int(self.n_copies)
        total = n * n_epochs * k
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc=f"fit {type(self).__name__}", unit="img", dynamic_ncols=True)
        online = []
        chunk = 500
        for c in range(k):
            t_pre = np.zeros(self.resource_.shape[1])
            for epoch in range(n_epochs):
                gen = rng_from_seed(self.random_state, 1, c, self.n_presentations_ // max(n, 1) + epoch)
                order = gen.permutation(n) if self.shuffle else np.arange(n)
                for s in range(0, n, chunk):
                    o = order[s : s + chunk].astype(np.int64)
                    pred = np.empty(o.shape[0], dtype=np.int64)
                    self.clock_[c] = self._kernel_train(
                        events, y_enc, o, c, t_pre, cfg, p, pred
                    )
                    if c == 0:
                        online.append((pred == y_enc[o]).astype(np.int8))
                    if bar is not None:
                        bar.update(o.shape[0])
        if bar is not None:
            bar.close()
        self.online_correct_ = np.concatenate([self.online_correct_, *online])
        self.n_presentations_ += n * n_epochs

    # ------------------------------------------------------------------ inference
    def out_counts(self, X) -> np.ndarray:
        """OUT spike counts (spiking) or winner votes (digital) summed over copies: [n_samples, n_classes]."""
        check_is_fitted(self, "resource_")
        X = self._check_X(X, fitted=True)
        return self._counts(self._events(X, inference=True))

    def _counts(self, events) -> np.ndarray:
        for a in ("weights_", "theta_"):  # numba kernels are compiled for writable arrays
            if not getattr(self, a).flags.writeable:
                setattr(self, a, getattr(self, a).copy())
        n = self._n_events_samples(events)
        counts = np.zeros((n, self.classes_.shape[0]), dtype=np.int64)
        cfg = self._cfg(self.classes_.shape[0])
        for c in range(int(self.n_copies)):
            self._kernel_infer(events, n, c, cfg, counts)
        return counts

    def predict_proba(self, X) -> np.ndarray:
        """Share of each class among the OUT spikes: [n_samples, n_classes].

        Samples that evoke no answer get the uniform distribution.
        """
        counts = self.out_counts(X).astype(np.float64)
        tot = counts.sum(axis=1, keepdims=True)
        k = counts.shape[1]
        return np.where(tot > 0, counts / np.where(tot > 0, tot, 1.0), 1.0 / k)

    def predict(self, X) -> np.ndarray:
        """Class with the most OUT spikes (ties → lowest index; no answer → the first class): [n_samples]."""
        counts = self.out_counts(X)  # checks that the model is fitted before classes_ is read
        return self.classes_[np.argmax(counts, axis=1)]

    def answer_rate(self, X) -> float:
        """Fraction of samples that evoke at least one OUT spike (the rest count as errors in the papers)."""
        return float((self.out_counts(X).sum(axis=1) > 0).mean())

    def learning_curve(self, window: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """Online training accuracy of copy 0 (answer before learning, no answer = wrong).

        Returns (samples seen [B], accuracy over consecutive blocks of ``window`` samples [B]).
        """
        check_is_fitted(self, "resource_")
        oc = self.online_correct_.astype(np.float64)
        nb = oc.shape[0] // window
        acc = oc[: nb * window].reshape(nb, window).mean(axis=1)
        return (np.arange(nb) + 1) * window, acc

    def prototypes(self, copy: int = 0) -> np.ndarray:
        """Learned weights as [n_classes, n_microcolumns, n_inputs] (microcolumn prototypes)."""
        check_is_fitted(self, "resource_")
        w = self.weights_[copy]
        return w.T.reshape(self.classes_.shape[0], int(self.n_microcolumns), w.shape[0])

    def recruited(self, copy: int = 0, min_weight: float = 0.0) -> np.ndarray:
        """Number of microcolumns per class whose largest weight exceeds ``min_weight``: [n_classes]."""
        return (self.prototypes(copy).max(axis=2) > min_weight).sum(axis=1)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write parameters and learned state to a ``.safetensors`` file; returns the path."""
        from safetensors.numpy import save_file

        check_is_fitted(self, "resource_")
        path = Path(path).expanduser()
        tensors = {a: np.ascontiguousarray(getattr(self, a)) for a in _STATE}
        tensors["rng_state_"] = tensors["rng_state_"].view(np.int64)
        tensors["online_correct_"] = self.online_correct_
        params = jsonable_params(self.get_params(deep=False))
        params = {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in params.items()}
        params = {k: ("inf" if v is None and k == "free_threshold" else v) for k, v in params.items()}
        meta = {
            "format": "spikeforge.colanet/1",
            "class": type(self).__name__,
            "params": json.dumps(params),
            "classes": json.dumps(self.classes_.tolist()),
            "scalars": json.dumps({
                "n_features_in_": int(self.n_features_in_), "input_scale_": float(self.input_scale_),
                "predict_seed_": int(self.predict_seed_), "n_presentations_": int(self.n_presentations_),
            }),  # fmt: skip
        }
        names = feature_names_to_meta(self)
        if names is not None:
            meta["feature_names_in"] = json.dumps(names)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, path: str | Path) -> _CoLaNETBase:
        """Recreate a fitted network written by :meth:`save`."""
        meta, tensors = read_safetensors(path)
        if not meta or meta.get("format") != "spikeforge.colanet/1":
            raise ValueError(f"{path} is not a spikeforge CoLaNET file")
        if meta["class"] != cls.__name__:
            raise ValueError(f"{path} holds a {meta['class']}, not a {cls.__name__}")
        params = params_for(cls, json.loads(meta["params"]))
        if params.get("free_threshold") == "inf":
            params["free_threshold"] = math.inf
        est = cls(**params)
        for k, v in tensors.items():
            setattr(est, k, v)
        est.rng_state_ = est.rng_state_.view(np.uint64)
        est.classes_ = np.asarray(json.loads(meta["classes"]))
        for k, v in json.loads(meta["scalars"]).items():
            setattr(est, k, v)
        feature_names_from_meta(est, json.loads(meta["feature_names_in"]) if "feature_names_in" in meta else None)
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.non_deterministic = self.random_state is None
        return tags


def _resource_kwargs(self, local: dict) -> None:
    for name in _RESOURCE_PARAMS:
        setattr(self, name, local[name])


class CoLaNET(_CoLaNETBase):
    """The spiking CoLaNET classifier (streamlined variant, spec colanet.md §1.2 and §1.7).

    One column per class, ``n_microcolumns`` plastic L neurons (microcolumns) per column, all
    fed by every input through resource-plastic synapses. Each sample is shown for
    ``image_tacts`` tacts (1 ms each) with accumulator spike coding (a pixel of intensity
    ``x ∈ [0, 1]`` emits ``⌊image_tacts·x⌋`` evenly spaced spikes) and followed by
    ``silent_tacts`` of silence. Per tact every L neuron leaks (``u ← leak·u``), integrates
    its input spikes and uniform noise ``U[0, noise)``, and fires if ``u ≥ θ0 + k_thr·Σ w⁺``
    (adaptive threshold); a winner-take-all lets one spike through (largest margin over
    threshold, or random) and gates the other L neurons for ``wta_gate`` tacts; the winner's
    spike is an OUT spike of its column. The answer is the column with the most OUT spikes.

    Training: the label arrives at tact ``label_tact`` (default: the first silent tact). If the
    true column has not answered, its BIASGATE adds ``forcing_weight`` to the column's L
    neurons ``forcing_delay`` tacts later; the WTA keeps the best-matching one, whose spike is
    *forced* (not counted as an answer). ``dopamine_delay`` tacts after the label every L neuron
    of the true column gets dopamine ``dopamine``. The resource rule (:class:`SynapticResource`)
    does the rest: anti-Hebbian depression on unforced spikes, dopamine potentiation of the
    synapses that contributed, stability. No backpropagation, no Python loop per tact.

    Parameters
    ----------
    n_microcolumns : int, default 30
        L neurons per class (Spiffy: 15; the continual-learning paper: 15 or 45).
    n_copies : int, default 1
        Independent networks whose OUT spikes are summed (the ArNI ``ncopies`` ensemble).
    n_epochs : int, default 3
        Passes over the training set in :meth:`fit`.
    input_scale : "auto" or float, default "auto"
        Intensity that maps to one spike per tact; "auto" is the training maximum (255 for MNIST).
    image_tacts, silent_tacts : int, default 10, 10
        Presentation and silence per sample (tacts); period = their sum.
    threshold : float, default 8.571
        ``θ0`` (KNP BLIFAT).
    threshold_weight_coef : float, default 0.6
        ``k_thr`` of the adaptive threshold (KNP MNIST: 0.218).
    leak : float, default 0.8
        Membrane decay per tact ``λ`` (KNP: 2/3).
    noise : float, default 1.0
        Stochastic stimulation ``S``: ``U[0, S)`` added to each L neuron each tact (KNP: 2.212).
    forcing_weight : float, default 10.0
        BIASGATE → L input (KNP: 10, supra-threshold for an untrained neuron).
    label_tact : int or None, default None
        Local tact of the label spike; None = ``image_tacts``.
    forcing_delay, dopamine_delay : int, default 1, 3
        Delays from the label (tacts).
    dopamine : float, default 0.5
        Reward-synapse weight ``D`` (KNP: 0.18).
    wta_gate : int, default 1
        Tacts for which a winner gates the other L neurons (ArNI: 10). With 1 the WTA lets one
        spike through per tact and the answer is a spike-count vote over the image.
    wta_scope : {"global", "column"}, default "global"
        One winner over all L neurons (reading §7.4) or one per column (KNP).
    tie_break : {"margin", "random"}, default "margin"
        How the WTA picks among neurons that cross threshold in the same tact: the largest
        ``u − θ`` (the best-matching; our reading, see docs) or uniformly (KNP).
    gate_mode : {"suppress", "block"}, default "suppress"
        Gated neurons keep integrating but cannot fire ("suppress"), or ignore their input ("block").
    w_min, w_max, hebbian, dopamine_window, contribution_window, isi_max, stability_ratio, \
n_silent, free_threshold, one_factor, one_factor_period
        The resource rule (:class:`~spikeforge.plasticity.SynapticResource`; ``hebbian`` is
        ``d_H``, default −0.3; KNP: −0.177). Defaults otherwise KNP MNIST.
    shuffle : bool, default True
        Shuffle the training order each epoch.
    random_state : int, Generator or None
        Seeds noise, tie-breaks and shuffling; the same seed gives identical networks.
    verbose : int, default 0
        1 shows a progress bar in :meth:`fit`.

    Defaults were tuned on the MNIST-5k split (``benchmarks/tune_colanet.py``); the KNP
    values are noted per parameter and collected in ``docs/colanet.md``.

    Attributes
    ----------
    classes_ : ndarray [n_classes]
    n_features_in_ : int
    input_scale_ : float
    resource_, weights_ : ndarray [n_copies, n_features, n_classes·n_microcolumns]
    theta_ : ndarray [n_copies, n_neurons]  adaptive thresholds
    neuron_state_ : ndarray [n_copies, n_neurons, 7]  (stability, free resource, spike times, …)
    online_correct_ : ndarray [n_presentations] of {0, 1}  answer before learning (copy 0)
    """

    _kind = "spiking"
    _INT_PARAMS: ClassVar[dict[str, int]] = {
        **_CoLaNETBase._INT_PARAMS, "image_tacts": 1, "silent_tacts": 0, "label_tact": 0, "forcing_delay": 0,
        "dopamine_delay": 0, "wta_gate": 0,
    }  # fmt: skip
    _OPTIONAL_INT_PARAMS: ClassVar[frozenset[str]] = frozenset({"label_tact"})

    def __init__(
        self,
        n_microcolumns: int = 30,
        *,
        n_copies: int = 1,
        n_epochs: int = 3,
        input_scale: float | str = "auto",
        image_tacts: int = 10,
        silent_tacts: int = 10,
        threshold: float = 8.571,
        threshold_weight_coef: float = 0.6,
        leak: float = 0.8,
        noise: float = 1.0,
        forcing_weight: float = 10.0,
        label_tact: int | None = None,
        forcing_delay: int = 1,
        dopamine_delay: int = 3,
        dopamine: float = 0.5,
        wta_gate: int = 1,
        wta_scope: str = "global",
        tie_break: str = "margin",
        gate_mode: str = "suppress",
        w_min: float = -0.253,
        w_max: float = 0.0924,
        hebbian: float = -0.3,
        dopamine_window: int = 10,
        contribution_window: int = 10,
        isi_max: int = 10,
        stability_ratio: float = 0.05,
        n_silent: float = 27.0,
        free_threshold: float = math.inf,
        one_factor: float = 0.0,
        one_factor_period: int = 10,
        shuffle: bool = True,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.n_microcolumns = n_microcolumns
        self.n_copies = n_copies
        self.n_epochs = n_epochs
        self.input_scale = input_scale
        self.image_tacts = image_tacts
        self.silent_tacts = silent_tacts
        self.threshold = threshold
        self.threshold_weight_coef = threshold_weight_coef
        self.leak = leak
        self.noise = noise
        self.forcing_weight = forcing_weight
        self.label_tact = label_tact
        self.forcing_delay = forcing_delay
        self.dopamine_delay = dopamine_delay
        self.dopamine = dopamine
        self.wta_gate = wta_gate
        self.wta_scope = wta_scope
        self.tie_break = tie_break
        self.gate_mode = gate_mode
        _resource_kwargs(self, locals())
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose

    @property
    def period(self) -> int:
        """Tacts per sample (image + silence)."""
        return int(self.image_tacts) + int(self.silent_tacts)

    def _cfg(self, n_classes: int) -> np.ndarray:
        if self.wta_scope not in ("global", "column"):
            raise ValueError(f"wta_scope must be 'global' or 'column'; got {self.wta_scope!r}")
        if self.gate_mode not in ("suppress", "block"):
            raise ValueError(f"gate_mode must be 'suppress' or 'block'; got {self.gate_mode!r}")
        if int(self.image_tacts) < 1 or int(self.silent_tacts) < 0:
            raise ValueError("image_tacts must be >= 1 and silent_tacts >= 0")
        if not 0.0 <= self.leak <= 1.0:
            raise ValueError(f"leak must lie in [0, 1]; got {self.leak}")
        if self.noise < 0:
            raise ValueError(f"noise must be non-negative; got {self.noise}")
        t_label = int(self.image_tacts if self.label_tact is None else self.label_tact)
        if not 0 <= t_label + max(int(self.forcing_delay), int(self.dopamine_delay)) < self.period:
            raise ValueError(
                f"label_tact + delays ({t_label} + {max(self.forcing_delay, self.dopamine_delay)}) must fall "
                f"inside the period of {self.period} tacts; lengthen silent_tacts"
            )
        cfg = np.zeros(K.N_CFG)
        cfg[K.C_NCLS] = n_classes
        cfg[K.C_M] = int(self.n_microcolumns)
        cfg[K.C_PERIOD] = self.period
        cfg[K.C_LEAK] = self.leak
        cfg[K.C_THETA0] = self.threshold
        cfg[K.C_KTHR] = self.threshold_weight_coef
        cfg[K.C_NOISE] = self.noise
        cfg[K.C_UMIN] = 0.0
        cfg[K.C_FORCE_W] = self.forcing_weight
        cfg[K.C_T_LABEL] = t_label
        cfg[K.C_FORCE_DELAY] = int(self.forcing_delay)
        cfg[K.C_DOPAMINE] = self.dopamine
        cfg[K.C_DOP_DELAY] = int(self.dopamine_delay)
        cfg[K.C_GATE] = int(self.wta_gate)
        cfg[K.C_TIE] = K.TIE_MARGIN if self.tie_break == "margin" else K.TIE_RANDOM
        cfg[K.C_SCOPE] = K.SCOPE_GLOBAL if self.wta_scope == "global" else K.SCOPE_COLUMN
        cfg[K.C_GATE_MODE] = K.GATE_SUPPRESS if self.gate_mode == "suppress" else K.GATE_BLOCK
        return cfg

    # spike events -----------------------------------------------------------
    def _events(self, X: np.ndarray, inference: bool = False):
        spikes = accumulator_spikes(self._scale(X), int(self.image_tacts))  # [T, n, D]
        return _raster_to_csr(spikes)

    def fit_spikes(self, spikes, y) -> CoLaNET:
        """Train from scratch on pre-encoded input spikes ``[T_in, n_samples, n_inputs]`` (0/1).

        For front ends that produce their own spike trains (e.g. the convolutional SNN of
        :class:`~spikeforge.models.CSNN`). ``T_in`` must not exceed the period.
        """
        for a in _STATE:
            if hasattr(self, a):
                delattr(self, a)
        spikes = self._check_spikes(spikes, first=True)
        self.classes_, y_enc = check_targets(y, spikes.shape[1], estimator=type(self).__name__)
        self._check_common()
        self.n_features_in_ = spikes.shape[2]
        self.input_scale_ = 1.0
        self._init_state(spikes.shape[2], self.classes_.shape[0])
        self._train(_raster_to_csr(spikes), y_enc, int(self.n_epochs))
        return self

    def predict_spikes(self, spikes) -> np.ndarray:
        """Predictions for pre-encoded spikes ``[T_in, n_samples, n_inputs]``: [n_samples]."""
        check_is_fitted(self, "resource_")
        spikes = self._check_spikes(spikes, first=False)
        counts = self._counts(_raster_to_csr(spikes))
        return self.classes_[np.argmax(counts, axis=1)]

    def _check_spikes(self, spikes, *, first: bool) -> np.ndarray:
        s = np.asarray(spikes)
        if s.ndim != 3:
            raise ValueError(f"spikes must be [T_in, n_samples, n_inputs]; got shape {s.shape}")
        if s.shape[0] > self.period:
            raise ValueError(f"spikes have {s.shape[0]} tacts but the period is {self.period}")
        if not first and s.shape[2] != self.n_features_in_:
            raise ValueError(f"spikes have {s.shape[2]} inputs, but {type(self).__name__} is expecting {self.n_features_in_}")
        if np.any((s != 0) & (s != 1)):
            raise ValueError("spikes must be 0/1")
        return s.astype(np.uint8)

    def _n_events_samples(self, events) -> int:
        return (events[1].shape[0] - 1) // events[2]

    def _kernel_train(self, events, y_enc, order, c, t_pre, cfg, p, pred) -> float:
        idx, ptr, t_in = events
        return K.train_spiking(
            idx, ptr, t_in, y_enc, order, self.resource_[c], self.weights_[c], self.theta_[c],
            self.neuron_state_[c], self.contributed_[c], self.hebb_done_[c], t_pre,
            float(self.clock_[c]), self.rng_state_[c], cfg, p, pred,
        )  # fmt: skip

    def _kernel_infer(self, events, n, c, cfg, counts) -> None:
        idx, ptr, t_in = events
        K.infer_spiking(idx, ptr, t_in, n, self.weights_[c], self.theta_[c], cfg,
                        np.uint64(self.predict_seed_ + c), counts)  # fmt: skip


def _raster_to_csr(spikes: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """[T, n, D] 0/1 → (input indices int64, row pointers int64 [n·T + 1], T), rows sample-major."""
    T, n, D = spikes.shape
    sm = np.ascontiguousarray(np.transpose(spikes, (1, 0, 2))).reshape(n * T, D)
    rows, cols = np.nonzero(sm)
    ptr = np.zeros(n * T + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n * T), out=ptr[1:])
    return cols.astype(np.int64), ptr, T


class DigitalCoLaNET(_CoLaNETBase):
    """The non-spiking approximation of CoLaNET (spec colanet.md §2.2, after Kiselev 2503.17111).

    Each sample becomes input counts ``n_i = ⌊T_p·x_i⌋`` (the accumulator spike count, or
    Poisson with that mean); every microcolumn computes ``U = Σ_i w_i·n_i`` and responds if
    ``U ≥ θ0 + k_thr·Σ w⁺``. The responder with the largest margin (or potential) wins and
    answers. Training uses the same synaptic-resource primitives as :class:`CoLaNET` on a
    virtual time line: the winner's spike is unforced (anti-Hebbian), the best-matching
    microcolumn of the true class is forced when the answer is wrong or missing, and the true
    column gets dopamine ``dopamine_latency`` tacts after the spike.

    Parameters
    ----------
    n_microcolumns, n_copies, n_epochs, input_scale, dopamine, tie_break, resource-rule parameters
        As in :class:`CoLaNET`.
    presentation_tacts : int, default 10
        ``T_p``: counts are ``⌊T_p·x⌋``.
    counts : {"floor", "poisson"}, default "floor"
        Input counts per presentation: the accumulator's ``⌊T_p·x⌋`` or Poisson with that mean.
        At prediction time the Poisson draws of a sample are keyed by its content, so its
        answer does not depend on the batch it comes in.
    threshold : float, default 10.0
        ``θ0`` on the scale of a whole presentation's counts.
    threshold_weight_coef : float, default 1.2
        ``k_thr`` on that scale.
    dopamine_latency : int, default 7
        Virtual tacts from the spike to dopamine (sets the stability gain ``g``).
    forcing_decay : float, default 0.3
        ``ρ``: the forced microcolumn is the one of the true class with the largest
        ``ρ·U − θ``. In the spiking network the forcing comes after the image, when the
        potential has partly decayed while the threshold has not; ``ρ < 1`` models that and is
        what lets untrained microcolumns be recruited.
    """

    _kind = "digital"
    _INT_PARAMS: ClassVar[dict[str, int]] = {
        **_CoLaNETBase._INT_PARAMS, "presentation_tacts": 1, "dopamine_latency": 1,
    }  # fmt: skip

    def __init__(
        self,
        n_microcolumns: int = 30,
        *,
        n_copies: int = 1,
        n_epochs: int = 3,
        input_scale: float | str = "auto",
        presentation_tacts: int = 10,
        counts: str = "floor",
        threshold: float = 10.0,
        threshold_weight_coef: float = 1.2,
        dopamine: float = 0.5,
        dopamine_latency: int = 7,
        forcing_decay: float = 0.3,
        tie_break: str = "margin",
        w_min: float = -0.253,
        w_max: float = 0.0924,
        hebbian: float = -0.3,
        dopamine_window: int = 10,
        contribution_window: int = 10,
        isi_max: int = 10,
        stability_ratio: float = 0.05,
        n_silent: float = 27.0,
        free_threshold: float = math.inf,
        one_factor: float = 0.0,
        one_factor_period: int = 10,
        shuffle: bool = True,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.n_microcolumns = n_microcolumns
        self.n_copies = n_copies
        self.n_epochs = n_epochs
        self.input_scale = input_scale
        self.presentation_tacts = presentation_tacts
        self.counts = counts
        self.threshold = threshold
        self.threshold_weight_coef = threshold_weight_coef
        self.dopamine = dopamine
        self.dopamine_latency = dopamine_latency
        self.forcing_decay = forcing_decay
        self.tie_break = tie_break
        _resource_kwargs(self, locals())
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose

    def _cfg(self, n_classes: int) -> np.ndarray:
        if self.counts not in ("floor", "poisson"):
            raise ValueError(f"counts must be 'floor' or 'poisson'; got {self.counts!r}")
        if int(self.presentation_tacts) < 1:
            raise ValueError("presentation_tacts must be >= 1")
        lat = int(self.dopamine_latency)
        if not 1 <= lat <= int(self.dopamine_window) or int(self.contribution_window) < 2:
            raise ValueError("need 1 <= dopamine_latency <= dopamine_window and contribution_window >= 2")
        cfg = np.zeros(K.N_CFG)
        cfg[K.C_NCLS] = n_classes
        cfg[K.C_M] = int(self.n_microcolumns)
        cfg[K.C_PERIOD] = float(max(2 * int(self.isi_max), lat + 1, 20))
        cfg[K.C_THETA0] = self.threshold
        cfg[K.C_KTHR] = self.threshold_weight_coef
        cfg[K.C_DOPAMINE] = self.dopamine
        cfg[K.C_LATENCY] = lat
        cfg[K.C_FORCE_W] = self.forcing_decay
        cfg[K.C_TIE] = K.TIE_MARGIN if self.tie_break == "margin" else K.TIE_RANDOM
        return cfg

    def _events(self, X: np.ndarray, inference: bool = False):
        mean = int(self.presentation_tacts) * self._scale(X)
        if self.counts == "floor":
            cnt = np.floor(mean + 1e-9)
        elif inference:
            # one stream per sample, keyed by its content: a sample's prediction does not depend
            # on the rest of the batch (or its position in it)
            cnt = np.empty_like(mean)
            for i, row in enumerate(X):
                key = int.from_bytes(hashlib.blake2b(np.ascontiguousarray(row).tobytes(), digest_size=8).digest())
                cnt[i] = np.random.default_rng([self.predict_seed_, 3, key]).poisson(mean[i])
        else:
            gen = rng_from_seed(self.random_state, 2, getattr(self, "n_presentations_", 0), X.shape[0])
            cnt = gen.poisson(mean).astype(np.float64)
        rows, cols = np.nonzero(cnt)
        ptr = np.zeros(X.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=X.shape[0]), out=ptr[1:])
        return cols.astype(np.int64), cnt[rows, cols].astype(np.float64), ptr

    def _n_events_samples(self, events) -> int:
        return events[2].shape[0] - 1

    def _kernel_train(self, events, y_enc, order, c, t_pre, cfg, p, pred) -> float:
        idx, cnt, ptr = events
        return K.train_digital(
            idx, cnt, ptr, y_enc, order, self.resource_[c], self.weights_[c], self.theta_[c],
            self.neuron_state_[c], self.contributed_[c], self.hebb_done_[c], t_pre,
            float(self.clock_[c]), self.rng_state_[c], cfg, p, pred,
        )  # fmt: skip

    def _kernel_infer(self, events, n, c, cfg, counts) -> None:
        idx, cnt, ptr = events
        K.infer_digital(idx, cnt, ptr, n, self.weights_[c], self.theta_[c], cfg,
                        np.uint64(self.predict_seed_ + c), counts)  # fmt: skip

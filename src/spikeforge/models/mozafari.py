"""Mozafari et al. (2018) deep convolutional SNN — the base network of seed 001 (spec §C.1).

Pipeline (one image):

1. front end: six DoG filters (threshold 50 on 0–255 intensities), local normalisation
   (radius 8), rank-order latency coding over ``T = 15`` steps, zero padding 2;
2. **conv1** 6→30, 5×5, threshold 15; max-pool 2×2, pad 1;
3. **conv2** 30→250, 3×3, threshold 10; max-pool 3×3, pad 2;
4. **conv3** 250→``20·n_classes``, 5×5, no threshold: the neuron with the largest potential
   at the last step wins; its feature's class (20 features per class) is the decision.

Training: conv1 and conv2 learn unsupervised with first-spike STDP (stabiliser ``w(1−w)``)
at the winners of pointwise inhibition + k-winners-take-all with a lateral-inhibition
radius (``inhibition_radii``), with ``a+`` doubling every 500 images up to 0.15; conv3 learns
with reward-modulated STDP and Mozafari's adaptive rates. Layers are trained one after the
other, so the outputs of the frozen layers are computed once, in batch, and cached.

The hot loops are compiled (:mod:`spikeforge.models._ttfs_kernel`): each layer is simulated
event by event on latency maps, the 15 time steps being spike buckets inside compiled code.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    auto_no_answer_label,
    check_feature_names,
    check_int,
    check_random_state,
    check_targets,
    feature_names_from_meta,
    feature_names_to_meta,
    labels_with_no_answer,
)
from ..encoding.latency import MOZAFARI_DOG, dog_filter, local_normalization, rank_order_latency
from ..io import jsonable_params, params_for, read_safetensors
from ..plasticity.constraints import WeightConstraint, effective_bounds, project
from ..plasticity.first_spike import RSTDP
from . import _ttfs_kernel as K

__all__ = ["MozafariClassifier"]

LAYERS = ("conv1", "conv2", "conv3")
_INPUT_PAD, _POOL1, _POOL2 = 2, (2, 2, 1), (3, 3, 2)  # (window, stride, pad after pooling)


@contextmanager
def _threads(n: int):
    """Temporarily set numba's thread count (−1: all)."""
    import numba

    old = numba.get_num_threads()
    top = numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(top if n < 0 else max(1, min(int(n), top)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


class _LRU:
    """Byte-bounded cache of arrays (frozen-layer outputs of already-seen inputs)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.items, self.size = max_bytes, OrderedDict(), 0

    def get(self, key):
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        return None

    def put(self, key, value: np.ndarray) -> None:
        if value.nbytes > self.max_bytes:
            return
        self.items[key] = value
        self.size += value.nbytes
        while self.size > self.max_bytes:
            _, old = self.items.popitem(last=False)
            self.size -= old.nbytes


class MozafariClassifier(ClassifierMixin, BaseEstimator):
    """Convolutional STDP network with an R-STDP decision layer (Mozafari et al., 2018).

    Parameters
    ----------
    n_steps : int, default 15
        Time steps of the latency code.
    dog_threshold : float, default 50.0
        DoG responses below this are dropped (intensities 0–255).
    normalization_radius : int, default 8
        Radius of the local normalisation (pixels).
    conv1_features, conv2_features : int, default 30, 250
        Feature maps of the unsupervised layers.
    conv1_threshold, conv2_threshold : float, default 15.0, 10.0
        Firing thresholds.
    conv1_winners, conv2_winners : int, default 5, 8
        ``k`` of k-winners-take-all during STDP.
    inhibition_radii : (int, int), default (3, 1)
        Lateral-inhibition radius of the k-WTA in conv1 and conv2: a winner inhibits every
        feature within ``r`` positions (Chebyshev distance). ``(0, 0)`` only removes the
        winner's feature. Acts during STDP training only.
    features_per_class : int, default 20
        conv3 features per class (conv3 has ``features_per_class · n_classes`` maps).
    stdp_rates : (float, float), default (0.004, -0.003)
        Initial ``(a+, a−)`` of conv1/conv2 STDP.
    stdp_rate_max : float, default 0.15
        Cap of ``a+``; ``a−`` follows as ``a+ · a−₀/a+₀``.
    stdp_rate_every : int, default 500
        ``a+`` doubles every this many training images of a layer (0: never).
    reward_rates, punish_rates : (float, float), default (0.004, -0.003), (-0.004, 0.0005)
        Base R-STDP rates ``(a+, a−)`` for right and wrong decisions.
    decision_bounds : (float, float), default (0.2, 0.8)
        Weight range of conv3.
    adaptive_scale : (float, float), default (1.0, 0.5)
        Mozafari's ``adaptive_int`` on the first task and on later tasks: after each R-STDP
        batch, reward rates ← base · miss-rate · scale, punishment rates ← base · hit-rate · scale.
    adaptation_batch : int or None, default None
        R-STDP samples per adaptation batch, counted across :meth:`partial_fit` calls and
        restarted by :meth:`start_task`; None: every :meth:`partial_fit` call is one batch
        (one epoch in :meth:`fit`, as in the seed's notebooks, whose batch was the whole
        24 000-image training set; ``MozafariDeep.py`` used 1 000).
    conv1_epochs, conv2_epochs, decision_epochs : int, default 2, 4, 50
        Passes over the training set by :meth:`fit` (the seed's schedule).
    weight_mean, weight_std : float, default 0.8, 0.05
        Initial weights ~ N(mean, std), clipped to each layer's range.
    shuffle : bool, default True
        :meth:`fit` and :meth:`start_task` present the images in one random order (the same
        order in every epoch, as the seed's notebooks); :meth:`partial_fit` keeps the order
        it is given.
    cache_mb : int, default 512
        Memory for cached frozen-layer outputs (0 disables the cache).
    n_jobs : int, default 1
        Threads of batch inference (−1: all cores). The default runs single-threaded and
        never starts numba's thread pool: with GNU OpenMP (numba's default layer on Linux) a
        process that has used the pool hangs its forked children, so only raise it in
        processes that will not fork workers afterwards. Training is sequential anyway.
    random_state : int, Generator or None
        Initial weights and presentation order.
    verbose : int, default 0
        1 shows progress bars.

    Attributes
    ----------
    classes_ : ndarray of shape [n_classes]
    image_shape_ : (int, int)
    n_tasks_seen_ : int
        Calls of :meth:`start_task` so far.
    hit_rate_, miss_rate_, silent_rate_ : float
        Outcome fractions of the last R-STDP pass.
    """

    def __init__(
        self,
        *,
        n_steps: int = 15,
        dog_threshold: float = 50.0,
        normalization_radius: int = 8,
        conv1_features: int = 30,
        conv2_features: int = 250,
        conv1_threshold: float = 15.0,
        conv2_threshold: float = 10.0,
        conv1_winners: int = 5,
        conv2_winners: int = 8,
        inhibition_radii: tuple[int, int] = (3, 1),
        features_per_class: int = 20,
        stdp_rates: tuple[float, float] = (0.004, -0.003),
        stdp_rate_max: float = 0.15,
        stdp_rate_every: int = 500,
        reward_rates: tuple[float, float] = (0.004, -0.003),
        punish_rates: tuple[float, float] = (-0.004, 0.0005),
        decision_bounds: tuple[float, float] = (0.2, 0.8),
        adaptive_scale: tuple[float, float] = (1.0, 0.5),
        adaptation_batch: int | None = None,
        conv1_epochs: int = 2,
        conv2_epochs: int = 4,
        decision_epochs: int = 50,
        weight_mean: float = 0.8,
        weight_std: float = 0.05,
        shuffle: bool = True,
        cache_mb: int = 512,
        n_jobs: int = 1,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.n_steps = n_steps
        self.dog_threshold = dog_threshold
        self.normalization_radius = normalization_radius
        self.conv1_features = conv1_features
        self.conv2_features = conv2_features
        self.conv1_threshold = conv1_threshold
        self.conv2_threshold = conv2_threshold
        self.conv1_winners = conv1_winners
        self.conv2_winners = conv2_winners
        self.inhibition_radii = inhibition_radii
        self.features_per_class = features_per_class
        self.stdp_rates = stdp_rates
        self.stdp_rate_max = stdp_rate_max
        self.stdp_rate_every = stdp_rate_every
        self.reward_rates = reward_rates
        self.punish_rates = punish_rates
        self.decision_bounds = decision_bounds
        self.adaptive_scale = adaptive_scale
        self.adaptation_batch = adaptation_batch
        self.conv1_epochs = conv1_epochs
        self.conv2_epochs = conv2_epochs
        self.decision_epochs = decision_epochs
        self.weight_mean = weight_mean
        self.weight_std = weight_std
        self.shuffle = shuffle
        self.cache_mb = cache_mb
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        check_int(self.n_steps, "n_steps", low=1, high=254)
        radii = tuple(self.inhibition_radii)
        if len(radii) != 2:
            raise ValueError(f"inhibition_radii must be two non-negative integers; got {self.inhibition_radii!r}")
        for r in radii:
            try:
                check_int(r, "inhibition_radii", low=0)
            except ValueError:
                raise ValueError(
                    f"inhibition_radii must be two non-negative integers; got {self.inhibition_radii!r}"
                ) from None
        check_int(self.normalization_radius, "normalization_radius", low=0)
        for name in ("conv1_features", "conv2_features", "conv1_winners", "conv2_winners", "features_per_class"):
            check_int(getattr(self, name), name)
        for name in ("conv1_epochs", "conv2_epochs", "decision_epochs", "stdp_rate_every", "cache_mb"):
            check_int(getattr(self, name), name, low=0)
        check_int(self.adaptation_batch, "adaptation_batch", allow_none=True)
        for name in ("conv1_threshold", "conv2_threshold"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number; got {v!r}")
        if not (np.isfinite(self.dog_threshold) and self.dog_threshold >= 0):
            raise ValueError(f"dog_threshold must be a non-negative number; got {self.dog_threshold!r}")
        lo, hi = self.decision_bounds
        if not lo < hi:
            raise ValueError(f"decision_bounds must be increasing; got {self.decision_bounds!r}")
        if len(tuple(self.adaptive_scale)) != 2:
            raise ValueError("adaptive_scale must be (first task, later tasks)")
        if self.stdp_rates[0] == 0:
            raise ValueError("stdp_rates[0] (a+) must be non-zero")

    def _check_images(self, X, *, fitted: bool, names: bool = True) -> np.ndarray:
        if names:  # DataFrame column names: recorded at fit, checked afterwards
            check_feature_names(self, X, reset=not fitted)
        if hasattr(X, "detach"):
            X = X.detach().cpu().numpy()
        X = np.asarray(X)
        if X.dtype == object or X.dtype.kind not in "biuf":
            raise TypeError(f"X must be numeric; got dtype {X.dtype}")
        if X.ndim == 2:
            if fitted:
                h, w = self.image_shape_
            else:
                side = int(round(np.sqrt(X.shape[1])))
                if side * side != X.shape[1]:
                    raise ValueError(
                        f"X has {X.shape[1]} columns, not a square image; pass images as [n, H, W]"
                    )
                h = w = side
            if X.shape[1] != h * w:
                raise ValueError(f"X has {X.shape[1]} features, but this model expects {h * w} ({h}×{w} images)")
            X = X.reshape(-1, h, w)
        if X.ndim != 3:
            raise ValueError(f"X must be [n_samples, H·W] or [n_samples, H, W]; got shape {X.shape}")
        if X.shape[0] == 0:
            raise ValueError("X is empty")
        if fitted and tuple(X.shape[1:]) != tuple(self.image_shape_):
            raise ValueError(f"images are {X.shape[1:]}, but the model was fitted on {self.image_shape_}")
        if min(X.shape[1:]) < 6:
            raise ValueError(f"images must be at least 6×6; got {X.shape[1:]}")
        X = np.ascontiguousarray(X, dtype=np.float32)
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinity")
        if (X < 0).any():
            raise ValueError("X must be non-negative intensities (0–255 for the DoG threshold of 50)")
        return X

    # ------------------------------------------------------------------ front end
    def _key(self, X: np.ndarray, tag: str) -> str:
        h = hashlib.blake2b(X.tobytes(), digest_size=16)
        h.update(str(X.shape).encode())
        return f"{tag}:{h.hexdigest()}"

    def encode(self, X) -> np.ndarray:
        """DoG → local normalisation → rank-order latency → padding.

        Parameters
        ----------
        X : array of shape [n, H, W] or [n, H·W]
            Intensities 0–255.

        Returns
        -------
        uint8 array of shape [n, 6, H + 4, W + 4]: first-spike steps (``n_steps`` = silent).
        """
        fitted = hasattr(self, "image_shape_")
        X = self._check_images(X, fitted=fitted, names=fitted)
        return self._encode(X)

    def _encode(self, X: np.ndarray) -> np.ndarray:
        key = self._key(X, f"enc{self.n_steps},{self.dog_threshold},{self.normalization_radius}")
        hit = self._cache.get(key) if hasattr(self, "_cache") else None
        if hit is not None:
            return hit
        T = int(self.n_steps)
        lat = []
        for s in range(0, X.shape[0], 1000):  # bounded memory
            f = dog_filter(torch.from_numpy(X[s : s + 1000]), MOZAFARI_DOG, threshold=float(self.dog_threshold))
            f = local_normalization(f, int(self.normalization_radius))
            lat.append(rank_order_latency(f, T).numpy())
        lat = np.concatenate(lat)
        p = _INPUT_PAD
        out = np.full((lat.shape[0], lat.shape[1], lat.shape[2] + 2 * p, lat.shape[3] + 2 * p), T, np.uint8)
        out[:, :, p:-p, p:-p] = lat
        if hasattr(self, "_cache"):
            self._cache.put(key, out)
        return out

    def _layer_out(self, lat: np.ndarray, layer: str) -> np.ndarray:
        """Frozen conv1 (or conv2) over a batch: threshold, pool, pad."""
        k, s, p = _POOL1 if layer == "conv1" else _POOL2
        th = float(self.conv1_threshold if layer == "conv1" else self.conv2_threshold)
        wt = self._wt[layer]
        N, _, H, W = lat.shape
        Ho, Wo = H - wt.shape[1] + 1, W - wt.shape[2] + 1
        out = np.empty((N, wt.shape[3], (Ho - k) // s + 1 + 2 * p, (Wo - k) // s + 1 + 2 * p), np.uint8)
        if self.n_jobs in (None, 1):
            K.layer_forward_batch_serial(lat, wt, th, k, s, p, int(self.n_steps), out)
        else:
            with _threads(self.n_jobs):
                K.layer_forward_batch(lat, wt, th, k, s, p, int(self.n_steps), out)
        return out

    def transform(self, X) -> np.ndarray:
        """Input of the decision layer: conv2's pooled, padded latency map.

        Returns
        -------
        uint8 array of shape [n, conv2_features, h, w] (``n_steps`` = silent).
        """
        check_is_fitted(self, "classes_")
        return self._features(self._check_images(X, fitted=True))

    def _feature_tag(self) -> str:
        """What conv2's output depends on besides the images: the conv1/conv2 weights (by
        content, so writes through :meth:`plastic_weights` views, :meth:`set_constraints`
        projections and ``set_params`` all invalidate cached features) and the settings."""
        h = hashlib.blake2b(digest_size=16)
        for name in ("conv1", "conv2"):
            h.update(np.ascontiguousarray(self._wt[name]).data)
        return (f"feat{h.hexdigest()},{self.n_steps},{self.dog_threshold},{self.normalization_radius},"
                f"{self.conv1_threshold},{self.conv2_threshold}")

    def _features(self, X: np.ndarray) -> np.ndarray:
        key = self._key(X, self._feature_tag())
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        out = self._layer_out(self._layer_out(self._encode(X), "conv1"), "conv2")
        self._cache.put(key, out)
        return out

    # ------------------------------------------------------------------ state
    def _init_state(self, X: np.ndarray, classes: np.ndarray) -> None:
        self._check_params()
        self.classes_ = np.asarray(classes)
        self.image_shape_ = tuple(int(v) for v in X.shape[1:])
        self.n_features_in_ = int(np.prod(self.image_shape_))
        self._rng = check_random_state(self.random_state)
        self._cache = _LRU(int(self.cache_mb) * 2**20)
        n_out = int(self.features_per_class) * len(self.classes_)
        shapes = {
            "conv1": (len(MOZAFARI_DOG), 5, 5, int(self.conv1_features)),
            "conv2": (int(self.conv1_features), 3, 3, int(self.conv2_features)),
            "conv3": (int(self.conv2_features), 5, 5, n_out),
        }
        self._wt = {}
        for name in LAYERS:
            lo, hi = self._bounds(name)
            w = self._rng.normal(self.weight_mean, self.weight_std, shapes[name]).astype(np.float32)
            self._wt[name] = np.ascontiguousarray(np.clip(w, lo, hi))
        a_plus, a_minus = self.stdp_rates
        self._stdp_state = {n: np.array([a_plus, a_minus, 0.0]) for n in ("conv1", "conv2")}
        self._constraints: dict[str, WeightConstraint] = {}
        self._kernel_constraints: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.n_tasks_seen_ = 0
        self._reset_decision_rates()
        self.hit_rate_ = self.miss_rate_ = self.silent_rate_ = float("nan")

    def _bounds(self, name: str) -> tuple[float, float]:
        return tuple(float(b) for b in self.decision_bounds) if name == "conv3" else (0.0, 1.0)

    def _reset_decision_rates(self) -> None:
        self._batch = np.zeros(3, dtype=np.int64)  # hits, misses, samples of the current batch
        base = self._rule()
        self._decision_rates = np.array([*base.reward, *base.punish], dtype=np.float64)

    def _rule(self) -> RSTDP:
        lo, hi = self.decision_bounds
        return RSTDP(reward=tuple(self.reward_rates), punish=tuple(self.punish_rates), w_min=lo, w_max=hi)

    def _scale(self) -> float:
        first, later = self.adaptive_scale
        return float(first if self.n_tasks_seen_ <= 1 else later)

    # ------------------------------------------------------------------ continual-learning protocol
    def plastic_weights(self) -> dict[str, torch.Tensor]:
        """Live views of the plastic weights, ``name → [F, C, kh, kw]`` float32 tensors.

        Writing into a view changes the model. Names: ``conv1``, ``conv2``, ``conv3``.
        """
        check_is_fitted(self, "classes_")
        return {n: torch.from_numpy(w).permute(3, 0, 1, 2) for n, w in self._wt.items()}

    def set_constraints(self, constraints: Mapping[str, WeightConstraint | None]) -> None:
        """Install (or, with None, remove) a :class:`~spikeforge.plasticity.WeightConstraint`
        per layer; the current weights are projected into the new bounds. Constraints hold
        until replaced. Langevin noise is supported on ``conv3`` only.
        """
        check_is_fitted(self, "classes_")
        views = self.plastic_weights()
        for name, c in constraints.items():
            if name not in LAYERS:
                raise KeyError(f"unknown plastic tensor {name!r}; this model has {LAYERS}")
            if c is None:
                self._constraints.pop(name, None)
                self._kernel_constraints.pop(name, None)
                continue
            shape = tuple(views[name].shape)
            c.check_shape(shape, name)
            if c.noise_std > 0 and name != "conv3":
                raise ValueError("Langevin noise is supported on conv3 (the R-STDP layer) only")
            lo, hi = self._bounds(name)
            views[name].copy_(project(views[name], c, lo, hi))
            l_eff, h_eff = effective_bounds(shape, lo, hi, c)
            m = torch.ones(shape) if c.plastic is None else torch.as_tensor(c.plastic, dtype=torch.float32).expand(shape)
            to_kernel = lambda t: np.ascontiguousarray(t.permute(1, 2, 3, 0).numpy().astype(np.float32))  # noqa: E731
            self._constraints[name] = c
            self._kernel_constraints[name] = (to_kernel(m.float()), to_kernel(l_eff), to_kernel(h_eff))

    def constraints(self) -> dict[str, WeightConstraint]:
        """The installed constraints."""
        return dict(getattr(self, "_constraints", {}))

    def _kc(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if name in self._kernel_constraints:
            return self._kernel_constraints[name]
        w = self._wt[name]
        lo, hi = self._bounds(name)
        return np.ones_like(w), np.full_like(w, lo), np.full_like(w, hi)

    # ------------------------------------------------------------------ training
    def fit(self, X, y, *, epoch_callback: Callable[[int, MozafariClassifier], None] | None = None):
        """Train from scratch: conv1, conv2 (unsupervised), then ``decision_epochs`` R-STDP
        passes over the training set.

        Parameters
        ----------
        X : array of shape [n, H, W] or [n, H·W]
            Intensities 0–255.
        y : array of shape [n]
        epoch_callback : callable(epoch, model), optional
            Called after every R-STDP epoch (e.g. to record test accuracy).

        Returns
        -------
        self
        """
        X = self._check_images(X, fitted=False)
        classes, y_enc = check_targets(y, X.shape[0], estimator=type(self).__name__)
        y = classes[y_enc]
        self._init_state(X, classes)
        order = self._order(X.shape[0])
        X, y = X[order], y[order]
        self.start_task(X, y, _checked=True)
        self.fit_decision(X, y, epochs=int(self.decision_epochs), epoch_callback=epoch_callback, _checked=True)
        return self

    def _order(self, n: int) -> np.ndarray:
        return self._rng.permutation(n) if self.shuffle else np.arange(n)

    def start_task(self, X, y=None, *, _checked: bool = False):
        """Begin a task: (re)train conv1 for ``conv1_epochs`` and conv2 for ``conv2_epochs``
        on ``X`` (continuing from the current weights; the rate schedules keep their values,
        their image counters restart), and reset the R-STDP rates to their base values.

        An unfitted model is initialised first (``y`` gives the classes).
        """
        if not hasattr(self, "classes_"):
            if y is None:
                raise ValueError("the first task needs y to know the classes")
            X = self._check_images(X, fitted=False)
            self._init_state(X, check_targets(y, X.shape[0], estimator=type(self).__name__)[0])
        elif not _checked:
            X = self._check_images(X, fitted=True)
        self._check_params()
        self.n_tasks_seen_ += 1
        lat = self._encode(X)
        order = self._order(X.shape[0]) if not _checked else np.arange(X.shape[0])
        self._train_stdp("conv1", lat, order, int(self.conv1_epochs), int(self.conv1_winners), self.inhibition_radii[0])
        if int(self.conv2_epochs) > 0:
            out1 = self._layer_out(lat, "conv1")
            self._train_stdp("conv2", out1, order, int(self.conv2_epochs), int(self.conv2_winners), self.inhibition_radii[1])
        self._reset_decision_rates()
        return self

    def fit_features(self, X):
        """Alias of :meth:`start_task` without labels (unsupervised layers only)."""
        return self.start_task(X)

    def _train_stdp(self, name: str, lat: np.ndarray, order: np.ndarray, epochs: int, k: int, radius: int) -> None:
        if epochs == 0:
            return
        state = self._stdp_state[name]
        state[2] = 0.0  # image counter restarts with every task
        a0, am0 = self.stdp_rates
        schedule = np.array([float(self.stdp_rate_every), float(self.stdp_rate_max), am0 / a0])
        th = float(self.conv1_threshold if name == "conv1" else self.conv2_threshold)
        plastic, lower, upper = self._kc(name)
        epochs_it = range(epochs)
        if self.verbose:
            from tqdm.auto import tqdm

            epochs_it = tqdm(epochs_it, desc=f"{name} STDP", unit="epoch", leave=False)
        for _ in epochs_it:
            K.train_stdp_layer(
                lat, order.astype(np.int64), self._wt[name], th, k, int(radius), int(self.n_steps),
                state, schedule, plastic, lower, upper, *self._bounds(name),
            )  # fmt: skip

    def fit_decision(
        self,
        X,
        y,
        *,
        epochs: int | None = None,
        epoch_callback: Callable[[int, MozafariClassifier], None] | None = None,
        _checked: bool = False,
    ):
        """``epochs`` R-STDP passes of conv3 over ``(X, y)`` (conv1/conv2 frozen), adapting
        the rates after each pass."""
        check_is_fitted(self, "classes_")
        if not _checked:
            X = self._check_images(X, fitted=True)
        epochs = int(self.decision_epochs if epochs is None else epochs)
        it = range(epochs)
        if self.verbose:
            from tqdm.auto import tqdm

            it = tqdm(it, desc="conv3 R-STDP", unit="epoch", leave=False)
        for e in it:
            self._partial_fit(X, y, adapt_rates=True)
            if epoch_callback is not None:
                epoch_callback(e, self)
        return self

    def partial_fit(self, X, y, classes=None, *, adapt_rates: bool = True):
        """One R-STDP pass of conv3 over ``(X, y)`` in the given order.

        An unfitted model first runs :meth:`start_task` on ``X`` (``classes`` or ``y`` give
        the label set). With ``adapt_rates`` the reward/punishment rates are re-derived from
        this pass's hit and miss rates afterwards (Mozafari's batch-wise adaptation); pass
        False to keep them (Langevin research phase).

        Returns
        -------
        self
        """
        if not hasattr(self, "classes_"):
            X = self._check_images(X, fitted=False)
            if classes is None:
                labels = check_targets(y, X.shape[0], estimator=type(self).__name__)[0]
            else:
                labels = np.unique(np.asarray(classes))
                if labels.shape[0] < 2:
                    raise ValueError(f"classes must name at least 2 classes; got {labels.tolist()}")
            self._init_state(X, labels)
            self.start_task(X, y, _checked=True)
        else:
            X = self._check_images(X, fitted=True)
        return self._partial_fit(X, y, adapt_rates=adapt_rates)

    def _labels(self, y) -> np.ndarray:
        y = np.asarray(y)
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[idx] == y):
            bad = y[self.classes_[idx] != y][0]
            raise ValueError(f"label {bad!r} is not one of the fitted classes {self.classes_.tolist()}")
        return idx.astype(np.int64)

    def _partial_fit(self, X: np.ndarray, y, *, adapt_rates: bool):
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape [{X.shape[0]}]; got {y.shape}")
        labels = self._labels(y)
        feats = self._features(X)
        wt = self._wt["conv3"]
        plastic, lower, upper = self._kc("conv3")
        c = self._constraints.get("conv3")
        sigma = float(c.noise_std) if c is not None else 0.0
        n = X.shape[0]
        decisions = np.empty(n, dtype=np.int64)
        hits = misses = silent = 0
        per_batch = int(self.adaptation_batch) if self.adaptation_batch else n
        s = 0
        while s < n:
            # segments end at noise chunks (16 samples) and at adaptation-batch boundaries
            stop = min(n, s + (16 if sigma > 0 else n))
            if adapt_rates:
                stop = min(stop, s + max(1, per_batch - int(self._batch[2])))
            order = np.arange(s, stop, dtype=np.int64)
            noise = (
                c.generator.standard_normal((order.size, wt.size), dtype=np.float32)
                if sigma > 0
                else np.zeros((0, 0), np.float32)
            )
            h, m, q = K.train_rstdp(
                feats, labels, order, wt, plastic, lower, upper, self._decision_rates, False,
                int(self.features_per_class), int(self.n_steps), noise, sigma, decisions[s:stop],
                *self._bounds("conv3"),
            )  # fmt: skip
            hits, misses, silent = hits + h, misses + m, silent + q
            if adapt_rates:
                self._batch += (h, m, order.size)
                if self._batch[2] >= per_batch:
                    self._adapt()
            s = stop
        self.hit_rate_, self.miss_rate_, self.silent_rate_ = hits / n, misses / n, silent / n
        return self

    def _adapt(self) -> None:
        """Mozafari's adaptive rates from the outcomes of the finished batch."""
        h, m, total = self._batch
        rule = self._rule().adapted(h / total, m / total, self._scale())
        self._decision_rates = np.array([*rule.reward, *rule.punish], dtype=np.float64)
        self._batch[:] = 0

    # ------------------------------------------------------------------ inference
    def decision_function(self, X) -> np.ndarray:
        """Index of the decided class for each image: int64 [n]; −1 where no conv3 neuron
        has a positive potential (silence)."""
        check_is_fitted(self, "classes_")
        feats = self._features(self._check_images(X, fitted=True))
        out = np.empty(feats.shape[0], dtype=np.int64)
        args = (feats, self._wt["conv3"], int(self.features_per_class), int(self.n_steps), out)
        if self.n_jobs in (None, 1):
            K.decide_batch_serial(*args)
        else:
            with _threads(self.n_jobs):
                K.decide_batch(*args)
        return out

    def predict(self, X) -> np.ndarray:
        """Predicted labels [n]; silent images get a label that is never a fitted class, so that
        they count as errors: −1 for numeric classes (``min(classes) − 1`` if −1 is a class),
        "no answer" for strings and other labels (then the result has dtype object when the
        classes are booleans)."""
        idx = self.decision_function(X)
        answered = idx >= 0
        value = auto_no_answer_label(self.classes_) if not answered.all() else None
        return labels_with_no_answer(self.classes_, idx, answered, value)

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy; silent images count as wrong (spec §C.1)."""
        y = np.asarray(y)
        idx = self.decision_function(X)
        correct = (idx >= 0) & (self.classes_[np.clip(idx, 0, None)] == y)
        if sample_weight is None:
            return float(correct.mean())
        w = np.asarray(sample_weight, dtype=np.float64)
        return float((correct * w).sum() / w.sum())

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write weights and learning state to a safetensors file (parameters as metadata)."""
        from safetensors.numpy import save_file

        check_is_fitted(self, "classes_")
        path = Path(path).expanduser()
        tensors = {f"weight.{n}": np.ascontiguousarray(w) for n, w in self._wt.items()}
        tensors.update({f"stdp_state.{n}": s.copy() for n, s in self._stdp_state.items()})
        tensors["decision_rates"] = self._decision_rates.copy()
        tensors["adaptation_batch_counts"] = self._batch.copy()
        meta = {
            "format": "spikeforge.mozafari/1",
            "class": type(self).__name__,
            "params": json.dumps(jsonable_params(self.get_params(deep=False))),
            "classes": json.dumps(self.classes_.tolist()),
            "image_shape": json.dumps(list(self.image_shape_)),
            "n_tasks_seen": str(self.n_tasks_seen_),
        }
        names = feature_names_to_meta(self)
        if names is not None:
            meta["feature_names_in"] = json.dumps(names)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, path: str | Path) -> MozafariClassifier:
        """Restore a model written by :meth:`save` (constraints are not saved)."""
        meta, tensors = read_safetensors(path)
        # files written before the format marker have params/classes/image_shape only
        if meta.get("class", cls.__name__) != cls.__name__:
            raise ValueError(f"{path} holds a {meta['class']}, not a {cls.__name__}")
        if not {"params", "classes", "image_shape"} <= meta.keys() or "weight.conv3" not in tensors:
            raise ValueError(f"{path} is not a spikeforge MozafariClassifier file")
        params = params_for(cls, json.loads(meta["params"]))
        for k in ("inhibition_radii", "stdp_rates", "reward_rates", "punish_rates", "decision_bounds", "adaptive_scale"):
            params[k] = tuple(params[k])
        model = cls(**{**params, "random_state": None})
        classes = np.asarray(json.loads(meta["classes"]))
        shape = tuple(json.loads(meta["image_shape"]))
        model._init_state(np.zeros((1, *shape), np.float32), classes)
        for n in LAYERS:
            model._wt[n] = np.ascontiguousarray(tensors[f"weight.{n}"].astype(np.float32))
        for n in ("conv1", "conv2"):
            model._stdp_state[n] = tensors[f"stdp_state.{n}"].astype(np.float64)
        model._decision_rates = tensors["decision_rates"].astype(np.float64)
        model._batch = tensors["adaptation_batch_counts"].astype(np.int64)
        model.n_tasks_seen_ = int(meta["n_tasks_seen"])
        feature_names_from_meta(model, json.loads(meta["feature_names_in"]) if "feature_names_in" in meta else None)
        return model

    def __deepcopy__(self, memo):
        """Deep copy that shares the (content-keyed) cache of frozen-layer outputs."""
        cls = type(self)
        new = cls.__new__(cls)
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            setattr(new, k, v if k == "_cache" else copy.deepcopy(v, memo))
        return new

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

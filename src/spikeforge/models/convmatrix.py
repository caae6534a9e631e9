"""Kiselev's fixed convolution matrices and the convolutional SNN (seed 002; spec colanet.md §3).

* :class:`ConvMatrixLearner` learns ``N_C`` convolution matrices ``K×K`` from an image set,
  unsupervised, with the resource mapping ``w = w(W)`` of
  :mod:`spikeforge.plasticity.resource` (§3.3). They depend on the image *domain*, not on the
  task, and are then frozen: no weight sharing is ever trained.
* :class:`SpikingConvFrontEnd` ports them into a spiking layer (§3.4): conv neurons with
  weights ``∝ w`` scaled to a target mean firing rate, then sum pooling by neurons with
  reset by subtraction.
* :class:`CSNN` = front end + :class:`~spikeforge.models.CoLaNET` classifier.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numba import njit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import check_features, check_targets, rng_from_seed
from ..encoding.accumulator import accumulator_spikes
from ..plasticity.resource import resource_at_zero_weight, resource_to_weight
from ._colanet_kernel import _uniform, seed_stream
from .colanet import CoLaNET

__all__ = ["CSNN", "CSNN_COLANET", "ConvMatrixLearner", "SpikingConvFrontEnd", "as_images"]

#: CoLaNET settings of the CSNN, tuned on the pool spikes of MNIST-5k (benchmarks/tune_colanet.py csnn)
CSNN_COLANET = dict(n_microcolumns=60, n_epochs=5, n_copies=3, noise=1.5, dopamine=1.2, hebbian=-0.5,
                    threshold_weight_coef=0.4)


def as_images(X: Any, image_shape: tuple[int, int] | None = None, *, name: str = "X") -> np.ndarray:
    """Validate images: [n, H, W] or [n, H·W] with ``image_shape`` → float64 [n, H, W], non-negative."""
    arr = np.asarray(X.detach().cpu().numpy() if hasattr(X, "detach") else X)
    if arr.ndim == 3:
        flat = check_features(arr.reshape(arr.shape[0], -1), name=name, allow_negative=False)
        return flat.reshape(arr.shape)
    if arr.ndim == 2:
        if image_shape is None:
            side = int(round(np.sqrt(arr.shape[1])))
            if side * side != arr.shape[1]:
                raise ValueError(f"{name} has {arr.shape[1]} columns, not a square image; pass image_shape=(H, W)")
            image_shape = (side, side)
        flat = check_features(arr, name=name, allow_negative=False)
        if flat.shape[1] != image_shape[0] * image_shape[1]:
            raise ValueError(f"{name} has {flat.shape[1]} columns but image_shape is {image_shape}")
        return flat.reshape(-1, *image_shape)
    raise ValueError(f"{name} must be images [n, H, W] or flattened [n, H·W]; got shape {arr.shape}")


# ---------------------------------------------------------------------------- §3.3 kernel
@njit(cache=True, nogil=True)
def _learn_image(g, W, w, K, stride, B, lr, w_min, w_max, rng):
    """One iteration of the convolution-matrix algorithm on image ``g`` [H, W] (in place)."""
    n_c = W.shape[0]
    P = (g.shape[0] - K) // stride + 1
    Q = (g.shape[1] - K) // stride + 1
    c = np.zeros((n_c, P, Q))
    for a in range(n_c):
        for p in range(P):
            for q in range(Q):
                acc = 0.0
                for i in range(K):
                    for j in range(K):
                        acc += w[a, i, j] * g[p * stride + i, q * stride + j]
                c[a, p, q] = acc
    # per-position best response and its multiplicity (c is fixed within one image)
    pos_max = np.full((P, Q), -np.inf)
    pos_ties = np.zeros((P, Q), dtype=np.int64)
    for p in range(P):
        for q in range(Q):
            for a in range(n_c):
                v = c[a, p, q]
                if v > pos_max[p, q]:
                    pos_max[p, q] = v
                    pos_ties[p, q] = 1
                elif v == pos_max[p, q]:
                    pos_ties[p, q] += 1
    claimed = np.zeros((P, Q), dtype=np.bool_)
    in_e = np.zeros(n_c, dtype=np.bool_)
    n_e = 0
    kk = K * K
    tile = np.empty((K, K))
    while n_e < n_c:
        best = -np.inf
        total = 0
        for p in range(P):
            for q in range(Q):
                if claimed[p, q]:
                    continue
                if pos_max[p, q] > best:
                    best = pos_max[p, q]
                    total = pos_ties[p, q]
                elif pos_max[p, q] == best:
                    total += pos_ties[p, q]
        if total == 0 or best < 0.0:
            break
        # a uniformly random entry (a, p, q) among all unclaimed entries equal to the maximum
        r = int(_uniform(rng) * total)
        ba = bp = bq = -1
        for p in range(P):
            for q in range(Q):
                if ba >= 0:
                    break
                if claimed[p, q] or pos_max[p, q] != best:
                    continue
                if r >= pos_ties[p, q]:
                    r -= pos_ties[p, q]
                    continue
                for a in range(n_c):
                    if c[a, p, q] == best:
                        if r == 0:
                            ba, bp, bq = a, p, q
                            break
                        r -= 1
        if not in_e[ba]:
            in_e[ba] = True
            n_e += 1
            for i in range(K):
                for j in range(K):
                    tile[i, j] = g[bp * stride + i, bq * stride + j]
            if best < 1.0:  # weak match: strengthen the bright pixels, zero-sum
                nb = 0
                for i in range(K):
                    for j in range(K):
                        if tile[i, j] > B:
                            nb += 1
                if 0 < nb < kk:
                    dep = lr * nb / (kk - nb)
                    for i in range(K):
                        for j in range(K):
                            W[ba, i, j] += lr if tile[i, j] > B else -dep
            else:  # strong match: strengthen the brightest pixels until their weighted sum reaches 1
                levels = np.unique(tile)[::-1]
                acc = 0.0
                nb = 0
                k = 0
                while acc < 1.0 and k < levels.shape[0]:
                    lv = levels[k]
                    for i in range(K):
                        for j in range(K):
                            if tile[i, j] == lv:
                                acc += lv * w[ba, i, j]
                                W[ba, i, j] += lr
                                w[ba, i, j] = resource_to_weight(W[ba, i, j], w_min, w_max)
                                nb += 1
                    k += 1
                if nb < kk:
                    dep = lr * nb / (kk - nb)
                    cut = levels[k - 1]
                    for i in range(K):
                        for j in range(K):
                            if tile[i, j] < cut:
                                W[ba, i, j] -= dep
            for i in range(K):
                for j in range(K):
                    w[ba, i, j] = resource_to_weight(W[ba, i, j], w_min, w_max)
        claimed[bp, bq] = True


@njit(cache=True, nogil=True)
def _learn_epoch(images, order, W, w, K, stride, B, lr, w_min, w_max, rng):
    for k in range(order.shape[0]):
        _learn_image(images[order[k]], W, w, K, stride, B, lr, w_min, w_max, rng)


class ConvMatrixLearner(TransformerMixin, BaseEstimator):
    """Unsupervised learning of fixed convolution matrices (Kiselev; spec colanet.md §3.3).

    Each iteration convolves one random image ``g`` (brightness in [0, 1]) with the current
    matrices (valid, stride ``s``). Repeatedly the largest response ``c[a, P, Q]`` over the
    positions not yet claimed is taken (random tie-break); if matrix ``a`` has not learned on
    this image yet, it learns on the tile at (P, Q): for a *weak* response (< 1) the resource of
    elements under pixels brighter than ``B`` grows by ``l`` and the others lose
    ``l·n_b/(K² − n_b)`` (zero sum); for a *strong* response the brightest pixels are
    strengthened level by level until their weighted sum reaches 1 and the dimmer ones lose the
    same total. The position is then claimed for every matrix. ``w = w(W)`` throughout, starting
    from ``w = 0``.

    Readings (docs/notes/issue5.md): the slide's loop condition ``max(c) > 0`` would never start
    from ``w = 0`` (every response is 0), so the loop runs while the best unclaimed response is
    ``≥ 0``; claimed positions are excluded rather than zeroed.

    Parameters
    ----------
    n_kernels : int, default 28
        ``N_C``.
    kernel_size : int, default 9
        ``K``.
    stride : int, default 2
        ``s``.
    brightness_threshold : float, default 0.3
        ``B`` (brightness in [0, 1]).
    w_min, w_max : float, default -0.3, 0.3
        Element bounds.
    learning_rate : float, default 0.01
        ``l`` (resource units). With 0.05 the matrices saturate into binary strokes.
    n_epochs : int, default 1
        Passes over the image set.
    input_scale : "auto" or float
        Brightness that maps to 1 ("auto": the maximum of the fitted images, 255 for MNIST).
    random_state : int, Generator or None
    verbose : int

    Attributes
    ----------
    kernels_ : ndarray [N_C, K, K]  the convolution matrices ``w``
    resource_ : ndarray [N_C, K, K]  their resources ``W``
    input_scale_ : float
    """

    def __init__(
        self,
        n_kernels: int = 28,
        kernel_size: int = 9,
        stride: int = 2,
        *,
        brightness_threshold: float = 0.3,
        w_min: float = -0.3,
        w_max: float = 0.3,
        learning_rate: float = 0.01,
        n_epochs: int = 1,
        input_scale: float | str = "auto",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.n_kernels = n_kernels
        self.kernel_size = kernel_size
        self.stride = stride
        self.brightness_threshold = brightness_threshold
        self.w_min = w_min
        self.w_max = w_max
        self.learning_rate = learning_rate
        self.n_epochs = n_epochs
        self.input_scale = input_scale
        self.random_state = random_state
        self.verbose = verbose

    def _scaled(self, X, fitted: bool) -> np.ndarray:
        imgs = as_images(X, getattr(self, "image_shape_", None) if fitted else None)
        if fitted and imgs.shape[1:] != self.image_shape_:
            raise ValueError(f"images are {imgs.shape[1:]}, but {type(self).__name__} was fitted on {self.image_shape_}")
        if not fitted:
            m = float(imgs.max())
            self.input_scale_ = (1.0 if m <= 1.0 else m) if self.input_scale == "auto" else float(self.input_scale)
        return np.clip(imgs / self.input_scale_, 0.0, 1.0)

    def fit(self, X, y=None) -> ConvMatrixLearner:
        """Learn the matrices from images ``X`` [n, H, W] (or [n, H·W] square); ``y`` is ignored."""
        if not (self.w_min < 0 < self.w_max):
            raise ValueError(f"need w_min < 0 < w_max; got {self.w_min}, {self.w_max}")
        if self.kernel_size < 1 or self.stride < 1 or self.n_kernels < 1 or self.n_epochs < 1:
            raise ValueError("n_kernels, kernel_size, stride and n_epochs must be positive")
        imgs = self._scaled(X, fitted=False)
        K = int(self.kernel_size)
        if K > min(imgs.shape[1:]):
            raise ValueError(f"kernel_size {K} exceeds the image size {imgs.shape[1:]}")
        self.image_shape_ = imgs.shape[1:]
        self.n_features_in_ = imgs.shape[1] * imgs.shape[2]
        W0 = resource_at_zero_weight(self.w_min, self.w_max)
        self.resource_ = np.full((int(self.n_kernels), K, K), W0)
        self.kernels_ = resource_to_weight(self.resource_, self.w_min, self.w_max)
        gen = rng_from_seed(self.random_state, 0)
        rng = seed_stream(int(gen.integers(0, 2**62)), 0)
        epochs = range(int(self.n_epochs))
        if self.verbose:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="ConvMatrixLearner", unit="epoch")
        for _ in epochs:
            order = gen.permutation(imgs.shape[0]).astype(np.int64)
            _learn_epoch(imgs, order, self.resource_, self.kernels_, K, int(self.stride),
                         float(self.brightness_threshold), float(self.learning_rate), float(self.w_min),
                         float(self.w_max), rng)  # fmt: skip
        return self

    def transform(self, X) -> np.ndarray:
        """Valid convolution responses (no spikes): [n, N_C, P, Q] float32."""
        check_is_fitted(self, "kernels_")
        imgs = torch.as_tensor(self._scaled(X, fitted=True), dtype=torch.float32)[:, None]
        k = torch.as_tensor(self.kernels_, dtype=torch.float32)[:, None]
        with torch.no_grad():
            return torch.nn.functional.conv2d(imgs, k, stride=int(self.stride)).numpy()


# ---------------------------------------------------------------------------- §3.4 spiking front end
class SpikingConvFrontEnd:
    """Convolution matrices ported into a spiking layer (spec colanet.md §3.4), in PyTorch.

    Input images are accumulator-coded over ``image_tacts``. Conv neuron (a, P, Q) integrates
    ``scale·w[a]`` over its tile every tact (leak ``leak``, threshold 1, reset by subtraction,
    potential floored at 0). ``scale`` is set by :meth:`fit` so that the mean conv firing rate
    is ``target_rate`` spikes per neuron per tact. Pool neurons sum ``pool×pool`` conv neurons
    with weights slightly above their threshold and reset by subtraction, so every input spike
    becomes exactly one output spike (leftovers leave in later tacts, at most one per tact).

    Parameters
    ----------
    kernels : ndarray [N_C, K, K]
    stride : int
    pool : int, default 2
    target_rate : float, default 0.1
        Mean conv spikes per neuron per tact.
    image_tacts : int, default 10
    flush_tacts : int, default 4
        Extra tacts after the image to let pool neurons emit their leftovers.
    leak : float, default 1.0
        Conv membrane decay per tact (1 = integrate-and-fire).
    """

    def __init__(self, kernels: np.ndarray, stride: int, *, pool: int = 2, target_rate: float = 0.1,
                 image_tacts: int = 10, flush_tacts: int = 4, leak: float = 1.0) -> None:  # fmt: skip
        self.kernels = torch.as_tensor(np.asarray(kernels), dtype=torch.float32)[:, None]
        self.stride = int(stride)
        self.pool = int(pool)
        self.target_rate = float(target_rate)
        self.image_tacts = int(image_tacts)
        self.flush_tacts = int(flush_tacts)
        self.leak = float(leak)
        self.scale_: float | None = None

    @property
    def n_tacts(self) -> int:
        """Tacts of output spikes per sample (image + flush)."""
        return self.image_tacts + self.flush_tacts

    def _drive(self, x: np.ndarray) -> torch.Tensor:
        """Unscaled conv input per tact: x [n, H, W] in [0, 1] → [T_img, n, N_C, P, Q]."""
        s_in = torch.as_tensor(accumulator_spikes(x, self.image_tacts), dtype=torch.float32)
        with torch.no_grad():
            drive = torch.nn.functional.conv2d(s_in.reshape(-1, 1, *x.shape[1:]), self.kernels, stride=self.stride)
        return drive.reshape(self.image_tacts, x.shape[0], *drive.shape[1:])

    def _fire(self, drive: torch.Tensor, scale: float) -> torch.Tensor:
        """Conv neurons (leak, threshold 1, reset by subtraction, floor 0): spikes [T, n, N_C, P, Q]."""
        u = torch.zeros_like(drive[0])
        out = torch.zeros((self.n_tacts, *drive.shape[1:]), dtype=torch.float32)
        with torch.no_grad():
            for t in range(self.n_tacts):
                u = u * self.leak + (drive[t] * scale if t < self.image_tacts else 0.0)
                spk = (u >= 1.0).to(torch.float32)
                u = torch.clamp(u - spk, min=0.0)
                out[t] = spk
        return out

    def _conv_spikes(self, x: np.ndarray, scale: float) -> torch.Tensor:
        """x [n, H, W] in [0, 1] → conv spikes [T, n, N_C, P, Q] (T = n_tacts)."""
        return self._fire(self._drive(x), scale)

    def fit(self, X: np.ndarray, *, n_calibration: int = 300, seed: int = 0) -> SpikingConvFrontEnd:
        """Choose ``scale`` by bisection so the mean conv rate on up to ``n_calibration`` images of
        ``X`` [n, H, W] (brightness in [0, 1]) is ``target_rate`` (to 1 % relative)."""
        rng = np.random.default_rng(seed)
        drive = self._drive(X[rng.permutation(X.shape[0])[:n_calibration]])

        def rate(scale: float) -> float:
            return self._fire(drive, scale)[: self.image_tacts].mean().item()

        lo, hi = 0.0, 1.0
        while rate(hi) < self.target_rate and hi < 1e6:
            lo, hi = hi, hi * 2.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            r = rate(mid)
            if abs(r - self.target_rate) <= 0.01 * self.target_rate:
                lo = hi = mid
                break
            if r < self.target_rate:
                lo = mid
            else:
                hi = mid
        self.scale_ = 0.5 * (lo + hi)
        return self

    def transform(self, X: np.ndarray, batch: int = 500) -> np.ndarray:
        """Pool spikes ``[n_tacts, n, N_C·(P/pool)·(Q/pool)]`` (uint8, time-first) of images X [n, H, W]."""
        if self.scale_ is None:
            raise RuntimeError("call fit() first to calibrate the conv scale")
        outs = []
        for s in range(0, X.shape[0], batch):
            conv = self._conv_spikes(X[s : s + batch], self.scale_)  # [T, n, C, P, Q]
            T, n, C, P, Q = conv.shape
            summed = torch.nn.functional.avg_pool2d(conv.reshape(T * n, C, P, Q), self.pool, self.pool) * self.pool**2
            summed = summed.reshape(T, n, -1)
            u = torch.zeros_like(summed[0])
            pool_out = torch.zeros_like(summed, dtype=torch.uint8)
            for t in range(T):
                u = u + summed[t] * 1.0001  # weights slightly above the threshold 1
                spk = u >= 1.0
                u = u - spk.to(u.dtype)
                pool_out[t] = spk.to(torch.uint8)
            outs.append(pool_out.numpy())
        return np.concatenate(outs, axis=1)


class CSNN(ClassifierMixin, BaseEstimator):
    """The convolutional SNN of seed 002: fixed learned convolutions + sum pooling + CoLaNET.

    ``fit`` learns the matrices with :class:`ConvMatrixLearner` on the training images
    (unsupervised; pass ``kernels`` to reuse matrices learned on another image set of the same
    domain), calibrates the :class:`SpikingConvFrontEnd`, and trains a :class:`CoLaNET` on the
    pool spikes.

    Parameters
    ----------
    n_kernels, kernel_size, stride : int, default 28, 9, 2
        As CNN2 of the seed's comparison (spec §3.4 reading).
    pool : int, default 2
    target_rate : float, default 0.05
        Mean conv spikes per neuron per tact (0.03: −10 points, 0.08: −1 point on MNIST-5k).
    conv_params : dict, optional
        Extra :class:`ConvMatrixLearner` parameters.
    colanet_params : dict, optional
        :class:`CoLaNET` parameters, merged over :data:`CSNN_COLANET` (tuned for the pool
        spikes: 60 microcolumns per class, 5 epochs, 3 copies, ...); ``image_tacts`` is set from
        the front end.
    kernels : ndarray [N_C, K, K], optional
        Fixed matrices to use instead of learning them.
    random_state : int or None
    verbose : int

    Attributes
    ----------
    learner_ : ConvMatrixLearner (None if ``kernels`` was given)
    kernels_ : ndarray [N_C, K, K]
    front_end_ : SpikingConvFrontEnd
    colanet_ : CoLaNET
    """

    def __init__(
        self,
        n_kernels: int = 28,
        kernel_size: int = 9,
        stride: int = 2,
        *,
        pool: int = 2,
        target_rate: float = 0.05,
        conv_params: dict | None = None,
        colanet_params: dict | None = None,
        kernels: np.ndarray | None = None,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.n_kernels = n_kernels
        self.kernel_size = kernel_size
        self.stride = stride
        self.pool = pool
        self.target_rate = target_rate
        self.conv_params = conv_params
        self.colanet_params = colanet_params
        self.kernels = kernels
        self.random_state = random_state
        self.verbose = verbose

    def _spikes(self, X, fitted: bool) -> np.ndarray:
        imgs = as_images(X, self.image_shape_ if fitted else None)
        if fitted and imgs.shape[1:] != self.image_shape_:
            raise ValueError(f"images are {imgs.shape[1:]}, but CSNN was fitted on {self.image_shape_}")
        if not fitted:
            m = float(imgs.max())
            self.input_scale_ = 1.0 if m <= 1.0 else m
            self.image_shape_ = imgs.shape[1:]
        x = np.clip(imgs / self.input_scale_, 0.0, 1.0)
        if not fitted:
            self.front_end_ = SpikingConvFrontEnd(
                self.kernels_, self.stride, pool=self.pool, target_rate=self.target_rate
            ).fit(x, seed=0)
        return self.front_end_.transform(x)

    def fit(self, X, y) -> CSNN:
        """Train on images ``X`` [n, H, W] (or [n, H·W] square) with labels ``y`` [n]."""
        imgs = as_images(X)
        self.classes_, _ = check_targets(y, imgs.shape[0], estimator=type(self).__name__)
        self.n_features_in_ = imgs.shape[1] * imgs.shape[2]
        if self.kernels is None:
            params = dict(n_kernels=self.n_kernels, kernel_size=self.kernel_size, stride=self.stride,
                          random_state=rng_from_seed(self.random_state, 7), verbose=self.verbose)  # fmt: skip
            params.update(self.conv_params or {})
            self.learner_ = ConvMatrixLearner(**params).fit(imgs)
            self.kernels_ = self.learner_.kernels_
        else:
            self.learner_ = None
            self.kernels_ = np.asarray(self.kernels, dtype=np.float64)
        spikes = self._spikes(imgs, fitted=False)
        params = dict(CSNN_COLANET, random_state=self.random_state, verbose=self.verbose)
        params.update(self.colanet_params or {})
        params["image_tacts"] = self.front_end_.n_tacts
        self.colanet_ = CoLaNET(**params).fit_spikes(spikes, y)
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted labels for images ``X``: [n]."""
        check_is_fitted(self, "colanet_")
        return self.colanet_.predict_spikes(self._spikes(X, fitted=True))

    def transform(self, X) -> np.ndarray:
        """Pool spike counts per image: [n, n_pool_outputs] (the CoLaNET input, summed over time)."""
        check_is_fitted(self, "colanet_")
        return self._spikes(X, fitted=True).sum(axis=0)

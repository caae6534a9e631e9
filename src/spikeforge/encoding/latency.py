"""Time-to-first-spike (latency) coding and the retina-like image front end of SpykeTorch.

Two representations of the same thing are used throughout:

* a **latency map** ``L`` of integer first-spike steps, shape ``[B, ...]``, with the value
  ``n_steps`` meaning "never fires";
* a **spike wave**, time-first ``[T, B, ...]`` of 0/1. Waves are *cumulative* by default
  (a unit that fired at step ``t`` is 1 at every step ``≥ t``, SpykeTorch's convention,
  which makes convolution of a wave equal to the membrane potential of non-leaky
  integrate-and-fire neurons); ``cumulative=False`` gives one spike per unit.

Encoder (intensity → latency map; larger intensity → earlier spike; zero → no spike):
:func:`rank_order_latency`, SpykeTorch's ``Intensity2Latency``: the positive values of a
sample are sorted and cut into ``n_steps`` bins of equal count. The per-pixel linear and
logarithmic codes are :func:`spikeforge.encoding.latency_times` (same latency-map convention),
and :func:`latency_to_spike_wave` turns any latency map into a wave.

Front end of Mozafari et al. (2018): :func:`dog_kernel` / :func:`dog_filter` (difference
of Gaussians, on- and off-centre) and :func:`local_normalization`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import uniform_filter

__all__ = [
    "MOZAFARI_DOG",
    "dog_filter",
    "dog_kernel",
    "latency_to_spike_wave",
    "local_normalization",
    "rank_order_latency",
    "spike_wave_to_latency",
]

#: The six DoG filters of Mozafari et al. (2018) as ``(window, σ1, σ2)``: on- and
#: off-centre pairs at three scales (spec §C.1).
MOZAFARI_DOG: tuple[tuple[int, float, float], ...] = (
    (3, 3 / 9, 6 / 9),
    (3, 6 / 9, 3 / 9),
    (7, 7 / 9, 14 / 9),
    (7, 14 / 9, 7 / 9),
    (13, 13 / 9, 26 / 9),
    (13, 26 / 9, 13 / 9),
)


def _as_float(x) -> torch.Tensor:
    x = torch.as_tensor(x)
    if not torch.is_floating_point(x):
        x = x.to(torch.float32)
    # a meta tensor (shapes only, no values) has nothing to check
    if not x.is_meta and not torch.isfinite(x).all():
        raise ValueError("intensities must be finite (no NaN or infinity)")
    return x


def _check_steps(n_steps: int) -> int:
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer; got {n_steps!r}")
    return int(n_steps)


def _latency_dtype(n_steps: int) -> torch.dtype:
    return torch.uint8 if n_steps < 255 else torch.int64


def rank_order_latency(x: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Rank-order latency with bins of equal count (SpykeTorch ``Intensity2Latency``).

    For each sample the ``n`` positive values are sorted in decreasing order (ties: lower
    flat index first) and cut into bins of ``b = n // n_steps`` values; the ``k``-th bin
    fires at step ``k``. The ``n − n_steps·b`` weakest positive values, and every value
    ``≤ 0``, never fire. A sample with fewer than ``n_steps`` positive values gets one value
    per step (SpykeTorch raises an error there).

    Parameters
    ----------
    x : Tensor of shape [B, ...]
        Intensities (any units); the first axis indexes samples.
    n_steps : int
        Number of time steps ``T``.

    Returns
    -------
    Tensor of shape [B, ...], uint8 (int64 if ``n_steps ≥ 255``), on the device of ``x``
        First-spike step in ``0…T−1``, or ``T`` for no spike. The sort runs on the CPU.
    """
    x = _as_float(x)
    T = _check_steps(n_steps)
    if x.ndim < 1:
        raise ValueError("x must have a sample axis: shape [B, ...]")
    flat = x.reshape(x.shape[0], -1).detach().cpu().numpy()
    out = np.full(flat.shape, T, dtype=np.int64)
    for b in range(flat.shape[0]):  # one small sort per sample (positive values only)
        idx = np.flatnonzero(flat[b] > 0)
        if idx.size == 0:
            continue
        bin_size = max(idx.size // T, 1)
        n_fire = min(bin_size * T, idx.size)
        # stable sort of -v: ties keep the lower flat index first
        order = idx[np.argsort(-flat[b, idx], kind="stable")][:n_fire]
        out[b, order] = np.arange(n_fire) // bin_size
    out = torch.from_numpy(out)
    return out.reshape(x.shape).to(device=x.device, dtype=_latency_dtype(T))


def latency_to_spike_wave(
    latency: torch.Tensor,
    n_steps: int,
    *,
    cumulative: bool = True,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Turn a latency map ``[B, ...]`` into a time-first spike wave ``[T, B, ...]``.

    Parameters
    ----------
    latency : Tensor of shape [B, ...]
        First-spike steps; values ``≥ n_steps`` never fire.
    n_steps : int
        ``T``.
    cumulative : bool, default True
        SpykeTorch waves: 1 from the first spike onwards. False: a single 1 at the spike step.
    dtype : torch.dtype

    Returns
    -------
    Tensor of shape [T, B, ...] of 0/1, on the device of ``latency``.
    """
    T = _check_steps(n_steps)
    lat = torch.as_tensor(latency).to(torch.int64)
    steps = torch.arange(T, device=lat.device).reshape((T,) + (1,) * lat.ndim)
    wave = (lat.unsqueeze(0) <= steps) if cumulative else (lat.unsqueeze(0) == steps)
    return wave.to(dtype)


def spike_wave_to_latency(spikes: torch.Tensor) -> torch.Tensor:
    """First-spike step of each unit of a time-first wave ``[T, B, ...]``; ``T`` if silent.

    Works for cumulative and single-spike waves alike.
    """
    s = torch.as_tensor(spikes) != 0
    if s.ndim < 1:
        raise ValueError("spikes must be time-first: shape [T, ...]")
    T = s.shape[0]
    first = torch.argmax(s.to(torch.uint8), dim=0)
    return torch.where(s.any(dim=0), first, torch.full_like(first, T)).to(_latency_dtype(T))


def dog_kernel(window: int, sigma1: float, sigma2: float) -> torch.Tensor:
    """Difference-of-Gaussians kernel, zero mean, maximum 1 (SpykeTorch ``DoGKernel``).

    ``g(x, y) = (1/2π)·(e^{−r²/2σ1²}/σ1² − e^{−r²/2σ2²}/σ2²)`` on the integer grid
    ``[−w//2, w//2]²`` (pixels), then ``g ← (g − mean g) / max(g − mean g)``. ``σ1 < σ2`` is
    an on-centre filter, ``σ1 > σ2`` off-centre.

    Returns
    -------
    Tensor of shape [window, window], float32.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd integer; got {window}")
    if sigma1 <= 0 or sigma2 <= 0:
        raise ValueError("sigma1 and sigma2 must be positive")
    h = window // 2
    yy, xx = np.mgrid[-h : h + 1, -h : h + 1]
    r2 = (xx * xx + yy * yy).astype(np.float64)
    g1 = np.exp(-0.5 * r2 / sigma1**2) / sigma1**2
    g2 = np.exp(-0.5 * r2 / sigma2**2) / sigma2**2
    dog = (g1 - g2) / (2 * math.pi)
    dog = dog - dog.mean()
    dog = dog / dog.max()
    return torch.from_numpy(dog).to(torch.float32)


def dog_filter(
    images: torch.Tensor,
    filters: Sequence[tuple[int, float, float]] = MOZAFARI_DOG,
    *,
    padding: int | None = None,
    threshold: float = 50.0,
) -> torch.Tensor:
    """Filter grey images with a bank of DoG kernels and keep the responses ``≥ threshold``.

    Kernels smaller than the largest are zero-padded to its size; responses below
    ``threshold`` (including all negative ones) become 0.

    Parameters
    ----------
    images : Tensor of shape [B, H, W] or [B, 1, H, W]
        Intensities in the units the threshold refers to (0–255 for the MNIST setting).
    filters : sequence of (window, σ1, σ2)
        Default: :data:`MOZAFARI_DOG`.
    padding : int, optional
        Zero padding of the convolution; default ``largest window // 2`` (same size output).
    threshold : float, default 50.0

    Returns
    -------
    Tensor of shape [B, K, H', W'] (float32, or the floating dtype of ``images``),
    ``K = len(filters)``, on the device of ``images``.
    """
    x = _as_float(images)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"images must have shape [B, H, W] or [B, 1, H, W]; got {tuple(x.shape)}")
    if not filters:
        raise ValueError("filters must not be empty")
    size = max(int(f[0]) for f in filters)
    bank = []
    for window, s1, s2 in filters:
        k = dog_kernel(int(window), float(s1), float(s2))
        p = (size - int(window)) // 2
        bank.append(F.pad(k, (p, p, p, p)))
    weight = torch.stack(bank).unsqueeze(1).to(device=x.device, dtype=x.dtype)
    out = F.conv2d(x, weight, padding=size // 2 if padding is None else int(padding))
    return out.masked_fill(out < threshold, 0.0)


def local_normalization(x: torch.Tensor, radius: int, *, eps: float = 1e-12) -> torch.Tensor:
    """Divide every value by the mean of its ``(2r+1)²`` neighbourhood in the same channel.

    Zero padding at the borders, the divisor always ``(2r+1)²`` (SpykeTorch
    ``local_normalization``).

    Parameters
    ----------
    x : Tensor of shape [B, C, H, W]
    radius : int
        ``r`` (pixels), ≥ 0.
    eps : float
        Added to the local mean.

    Returns
    -------
    Tensor of shape [B, C, H, W], on the device of ``x`` (the box means are computed on the
    CPU).
    """
    x = _as_float(x)
    if x.ndim != 4:
        raise ValueError(f"x must have shape [B, C, H, W]; got {tuple(x.shape)}")
    if radius < 0:
        raise ValueError(f"radius must be >= 0; got {radius}")
    k = 2 * int(radius) + 1
    # separable box filter in C (scipy): the mean over the window, zeros outside the image
    means = uniform_filter(x.detach().cpu().numpy(), size=(1, 1, k, k), mode="constant", cval=0.0)
    return x / (torch.from_numpy(means).to(device=x.device, dtype=x.dtype) + eps)

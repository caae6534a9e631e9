"""Spike codes for images (intensities in [0, 1]), time-first ``[T, B, ...]``: time-to-first-spike
(latency) coding, linear or logarithmic, and rate coding.

The seed (004) contrasts the two families: a rate code spends many spikes per bright pixel and is robust;
a temporal (latency) code sends one spike per pixel, earlier for brighter pixels, so it is sparse, but
the information sits in the timing, which deep rate-based networks do not read well.

* :func:`latency_times` / :func:`latency_encode`: one spike per pixel above ``threshold``, at
  ``linear``: ``t = round((1 − x)·(T − 1))`` (x = 1 fires at step 0, x → 0 at step T − 1);
  ``log``: ``t = round((T − 1)·ln x / ln x_min)`` with ``x_min = max(threshold, 1e-3)`` (equal
  intensity *ratios* give equal time differences; x = 1 at step 0, x = x_min at step T − 1).
  Pixels with ``x <= threshold`` (log: ``x < x_min``) never fire.
* :func:`rate_encode`: Bernoulli spikes with probability ``gain·x`` per step (the existing
  :func:`spikeforge.encoding.bernoulli_spikes` applied to an image batch).
"""

from __future__ import annotations

import math

import torch

from .rate import bernoulli_spikes

__all__ = ["LATENCY_MODES", "latency_encode", "latency_times", "rate_encode"]

LATENCY_MODES = ("linear", "log")


def _check_images(x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor with intensities in [0, 1]; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"images must be floating point in [0, 1] (divide uint8 images by 255); got {x.dtype}")
    if x.numel() and (bool(torch.isnan(x).any()) or float(x.min()) < 0 or float(x.max()) > 1):
        raise ValueError("image intensities must lie in [0, 1] and contain no NaN")
    return x


def _check_T(T: int) -> int:
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T (number of time steps) must be an integer >= 1; got {T!r}")
    return T


def _check_amplitude(amplitude: float, dtype: torch.dtype) -> None:
    if dtype.is_floating_point or dtype.is_complex:
        return
    if dtype == torch.bool:
        ok = amplitude == 1
    else:
        info = torch.iinfo(dtype)
        ok = (
            math.isfinite(amplitude)
            and amplitude == int(amplitude)
            and info.min <= amplitude <= info.max
        )
    if not ok:
        raise ValueError(
            f"amplitude {amplitude!r} cannot be stored in {dtype} (spikes would be truncated); "
            "use a floating dtype or an amplitude the dtype holds exactly"
        )


def latency_times(x: torch.Tensor, T: int, *, mode: str = "linear", threshold: float = 0.0) -> torch.Tensor:
    """First-spike step of each pixel (int64, same shape as ``x``); ``T`` means "no spike".

    Parameters
    ----------
    x : Tensor [...], floating, in [0, 1]
        Intensities.
    T : int
        Number of time steps (≥ 1); spikes fall in ``0 .. T − 1``.
    mode : {"linear", "log"}
        Mapping from intensity to time (see the module docstring).
    threshold : float
        In [0, 1): pixels at or below it stay silent. For ``log`` the dimmest firing intensity is
        ``x_min = max(threshold, 1e-3)``.
    """
    x = _check_images(x)
    T = _check_T(T)
    if mode not in LATENCY_MODES:
        raise ValueError(f"mode must be one of {LATENCY_MODES}; got {mode!r}")
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must lie in [0, 1); got {threshold}")
    if mode == "linear":
        t = torch.round((1.0 - x) * (T - 1))
        fires = x > threshold
    else:
        x_min = max(threshold, 1e-3)
        t = torch.round((T - 1) * torch.log(x.clamp(min=x_min)) / math.log(x_min)) if T > 1 else torch.zeros_like(x)
        fires = x >= x_min if threshold < x_min else x > threshold
    t = t.clamp(0, T - 1).to(torch.int64)
    return torch.where(fires, t, torch.full_like(t, T))


def latency_encode(
    x: torch.Tensor,
    T: int,
    *,
    mode: str = "linear",
    threshold: float = 0.0,
    amplitude: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Time-to-first-spike code: one spike per pixel at :func:`latency_times`.

    Parameters
    ----------
    x : Tensor [B, ...] in [0, 1]
        Images.
    T : int
        Time steps.
    mode, threshold :
        See :func:`latency_times`.
    amplitude : float
        Value of a spike (1 for binary spikes). A network calibrated on analog input expects about T
        times more input charge than one unit spike per pixel delivers; ``amplitude=T`` gives each
        spike the charge of a full-intensity pixel over the whole window.
    dtype : torch.dtype
        Output dtype; an integer dtype needs an integer ``amplitude`` in its range, ``bool``
        needs ``amplitude`` 1.

    Returns
    -------
    Tensor [T, B, ...] with at most one non-zero entry per pixel along time.

    Raises
    ------
    ValueError
        If ``amplitude`` is not representable in ``dtype`` (e.g. 0.5 with an integer dtype,
        which would silently give all zeros), besides the errors of :func:`latency_times`.
    """
    _check_amplitude(amplitude, dtype)
    t = latency_times(x, T, mode=mode, threshold=threshold)
    out = torch.zeros((T + 1, *x.shape), dtype=dtype, device=x.device)
    out.scatter_(0, t.unsqueeze(0), amplitude)
    return out[:T]


def rate_encode(
    x: torch.Tensor,
    T: int,
    *,
    gain: float = 1.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Rate code: independent Bernoulli spikes with probability ``gain·x`` per step.

    Parameters
    ----------
    x : Tensor [B, ...] in [0, 1]
        Images.
    T : int
        Time steps.
    gain : float
        In (0, 1]: maximum firing probability per step (1: a white pixel fires at every step, so the
        expected input equals the analog image).
    generator : torch.Generator, optional
        Explicit random state.

    Returns
    -------
    Tensor [T, B, ...] of 0/1.
    """
    x = _check_images(x)
    T = _check_T(T)
    if not 0.0 < gain <= 1.0:
        raise ValueError(f"gain must lie in (0, 1]; got {gain}")
    return bernoulli_spikes(x * gain, T, generator=generator, dtype=dtype)

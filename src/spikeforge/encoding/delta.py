"""Delta (send-on-delta) coding of time series, time-first ``[T, B, ...]``.

Two encoders of a signal that already has a time axis (a sensor reading, a video, a feature
trace), each with a plain reference loop (:func:`delta_encode_reference`,
:func:`delta_modulate_reference`) that the vectorised function equals exactly:

* :func:`delta_encode`, snnTorch's ``spikegen.delta``: compares each step with the *previous
  sample*, ``d_t = x_t − x_{t−1}``, and emits +1 where ``d_t ≥ θ`` and −1 where ``d_t ≤ −θ``.
  A slow drift (less than ``θ`` per step) is never signalled, however far it goes.
* :func:`delta_modulate`, what event sensors (DVS pixels, send-on-delta ADCs) do: every element
  keeps a *reference level*, emits one event each time the signal is ``θ`` or more away from it
  and moves the reference by ``±θ`` towards the signal, so a step may hold several events
  (signed counts) and a slow drift is signalled once it accumulates to ``θ``. The reference
  level is ``base + θ·Σ counts``: decoding is a cumulative sum.

Units: ``x`` in any unit (intensity, log intensity, mV...); ``θ`` (``threshold``) in the same
unit. One time step per row of ``x``; nothing here depends on its duration.
"""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["delta_encode", "delta_encode_reference", "delta_modulate", "delta_modulate_reference"]


# ---------------------------------------------------------------------------- validation
def _check_signal(x: object, fn: str) -> torch.Tensor:
    """``x`` as a floating tensor ``[T, ...]`` (integers and bools as float32), finite, ``T ≥ 1``."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(
                f"{fn}: x must be a tensor (or array) of numbers [T, B, ...]; got {type(x).__name__}"
            ) from exc
    if t.is_complex():
        raise TypeError(f"{fn}: x must be real; got {t.dtype}")
    if not t.is_floating_point():
        t = t.to(torch.float32)
    if t.ndim == 0:
        raise ValueError(f"{fn}: x must be time-first [T, B, ...] (at least 1 dimension, time first); got a 0-d tensor")
    if t.shape[0] == 0:
        raise ValueError(f"{fn}: x has T = 0 time steps (shape {tuple(t.shape)}); expected [T, B, ...] with T >= 1")
    bad = ~torch.isfinite(t)
    if bad.any():
        where = tuple(int(i) for i in torch.nonzero(bad)[0])
        kind = "NaN" if torch.isnan(t[where]) else "an infinity"
        raise ValueError(
            f"{fn}: x must be finite; found {kind} at index {where} ([t, ...] of the time-first [T, B, ...] input)"
        )
    return t


def _check_threshold(threshold: object, fn: str) -> float:
    """``threshold`` as a finite float > 0 (a real number or a one-element tensor, not a bool)."""
    if isinstance(threshold, torch.Tensor) and threshold.numel() == 1 and not threshold.is_complex():
        threshold = threshold.item()
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"{fn}: threshold must be a real number > 0; got {threshold!r} ({type(threshold).__name__})")
    value = float(threshold)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{fn}: threshold must be finite and > 0; got {value}")
    return value


def _check_flag(value: object, name: str, fn: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{fn}: {name} must be True or False; got {value!r}")
    return value


def _theta(threshold: float, x: torch.Tensor, fn: str) -> torch.Tensor:
    """θ as a 0-d tensor of ``x``'s dtype (every comparison is done in that dtype, in both the loop
    and the vectorised code); refuses a θ that rounds to 0 there (float16 underflow)."""
    theta = torch.tensor(threshold, dtype=x.dtype, device=x.device)
    if not (theta > 0 and torch.isfinite(theta)):
        raise ValueError(f"{fn}: threshold {threshold} is {float(theta)} in {x.dtype}; pass float32/float64 data")
    return theta


# ---------------------------------------------------------------------------- delta_encode
def delta_encode(x: torch.Tensor, threshold: float, *, off_spikes: bool = True, padding: bool = False) -> torch.Tensor:
    """Delta spikes: +1 / −1 where a sample differs from the previous one by ``threshold`` or more.

    With ``d_0 = x_0 − 0`` (``padding=False``) or ``d_0 = x_0 − x_0 = 0`` (``padding=True``, the first
    step never spikes) and ``d_t = x_t − x_{t−1}`` for ``t ≥ 1``::

        s_t = +1  if d_t ≥ θ
              −1  if d_t ≤ −θ  and off_spikes
               0  otherwise

    per element, all in ``x``'s floating dtype. This is snnTorch's ``spikegen.delta(x, θ, padding,
    off_spike)`` (there ``off_spike=False`` is the default; here ``off_spikes=True``). Changes are
    taken between consecutive samples only: a drift of less than ``θ`` per step is never signalled
    (:func:`delta_modulate` keeps a reference level instead).

    Parameters
    ----------
    x : Tensor of shape [T, B, ...]
        Time-first signal (any unit; at least one dimension, the first being time, ``T ≥ 1``), finite.
        Integer and bool data are converted to float32.
    threshold : float
        ``θ`` (same unit as ``x``), finite and > 0.
    off_spikes : bool
        Emit −1 for decreases (True) or only +1 for increases (False).
    padding : bool
        Compare the first step with itself (no spike at ``t = 0``) instead of with 0.

    Returns
    -------
    Tensor of shape [T, B, ...], ``x``'s floating dtype and device, values in {−1, 0, +1}
    ({0, 1} with ``off_spikes=False``).

    Raises
    ------
    TypeError
        ``x`` not numeric (or complex), ``threshold`` not a real number, ``off_spikes`` or ``padding``
        not a bool.
    ValueError
        ``x`` 0-d, with ``T = 0`` steps or not finite; ``threshold`` not finite and > 0.
    """
    fn = "delta_encode"
    x = _check_signal(x, fn)
    theta = _theta(_check_threshold(threshold, fn), x, fn)
    off_spikes, padding = _check_flag(off_spikes, "off_spikes", fn), _check_flag(padding, "padding", fn)
    prev = x[:1] if padding else torch.zeros_like(x[:1])
    d = torch.cat((x[:1] - prev, x[1:] - x[:-1]))
    out = (d >= theta).to(x.dtype)
    if off_spikes:
        out -= (d <= -theta).to(x.dtype)
    return out


def delta_encode_reference(x: torch.Tensor, threshold: float, *, off_spikes: bool = True,
                           padding: bool = False) -> torch.Tensor:
    """Element-by-element loop of :func:`delta_encode` (same arguments, result and errors); for tests."""
    fn = "delta_encode_reference"
    x = _check_signal(x, fn)
    theta = _theta(_check_threshold(threshold, fn), x, fn)
    off_spikes, padding = _check_flag(off_spikes, "off_spikes", fn), _check_flag(padding, "padding", fn)
    flat = x.reshape(x.shape[0], -1)
    out = torch.zeros_like(flat)
    for i in range(flat.shape[1]):
        prev = flat[0, i] if padding else torch.zeros((), dtype=x.dtype, device=x.device)
        for t in range(flat.shape[0]):
            d = flat[t, i] - prev
            if d >= theta:
                out[t, i] = 1
            elif off_spikes and d <= -theta:
                out[t, i] = -1
            prev = flat[t, i]
    return out.reshape(x.shape)


# ---------------------------------------------------------------------------- delta_modulate
def _level(base: torch.Tensor, k: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Reference level ``base + k·θ`` in ``theta``'s dtype (one formula for the loop and the vectorised code)."""
    return base + k.to(theta.dtype) * theta


def _check_levels(x: torch.Tensor, threshold: float, fn: str) -> None:
    """Refuse a θ too small for ``x``'s dtype to resolve the levels ``base + k·θ`` near the signal
    (at most ``1/eps`` levels, and 2**29, so that the int32 counts cannot overflow)."""
    if x.numel() == 0:
        return
    limit = min(1.0 / torch.finfo(x.dtype).eps, 2.0**29)
    levels = float(x.abs().max()) / threshold
    if levels > limit:
        raise ValueError(
            f"{fn}: threshold {threshold} is too small for the signal: max |x| = {float(x.abs().max()):.6g} is "
            f"{levels:.3g} thresholds, more than {limit:.3g} levels that {x.dtype} resolves; raise the threshold"
            + (" or pass float64 data" if x.dtype != torch.float64 else "")
        )


def delta_modulate(x: torch.Tensor, threshold: float, *, padding: bool = False) -> torch.Tensor:
    """Send-on-delta modulation with a reference level per element (event-sensor model): signed event counts.

    Each element keeps an integer level ``k`` (0 at the start); its reference is ``r(k) = base + k·θ``
    with ``base = 0`` (``padding=False``) or ``base = x_0`` (``padding=True``: no events at ``t = 0``).
    At each step ``t`` the reference moves by ``n_t`` whole thresholds towards the sample::

        n = 0
        while x_t − r(k + n) ≥ θ:  n += 1      # one ON event per threshold crossed upwards
        while x_t − r(k + n) ≤ −θ: n −= 1      # one OFF event per threshold crossed downwards
        counts_t = n;  k += n

    so afterwards ``|x_t − r(k)| < θ`` and ``r`` tracks the signal however slowly it drifts. In exact
    arithmetic ``n_t = trunc((x_t − r(k))/θ)``; the levels are evaluated in ``x``'s dtype as written
    (``r(k)`` from the integer ``k``, never by repeated addition, so it does not drift). Decoding:
    ``base + θ·counts.cumsum(0)`` is the reference level, within ``θ`` of ``x`` at every step.

    The loop runs over time (``T`` steps), vectorised over the elements.

    Parameters
    ----------
    x : Tensor of shape [T, B, ...]
        Time-first signal (any unit; at least one dimension, time first, ``T ≥ 1``), finite. Integer
        and bool data are converted to float32.
    threshold : float
        ``θ`` (same unit as ``x``), finite and > 0, and not below ``max|x|·eps`` of ``x``'s dtype
        (``max|x|/θ`` at most ``2**23`` levels for float32, ``2**29`` for float64).
    padding : bool
        Start the reference at ``x_0`` (no events at ``t = 0``) instead of at 0.

    Returns
    -------
    Tensor of int32, shape [T, B, ...], on ``x``'s device: signed event counts (> 0: ON events,
    < 0: OFF events).

    Raises
    ------
    TypeError
        ``x`` not numeric (or complex), ``threshold`` not a real number, ``padding`` not a bool.
    ValueError
        ``x`` 0-d, with ``T = 0`` steps or not finite; ``threshold`` not finite and > 0, or too small
        for ``x``'s dtype (see ``threshold``).
    """
    fn = "delta_modulate"
    x = _check_signal(x, fn)
    threshold = _check_threshold(threshold, fn)
    theta = _theta(threshold, x, fn)
    padding = _check_flag(padding, "padding", fn)
    _check_levels(x, threshold, fn)
    base = x[0] if padding else torch.zeros_like(x[0])
    k = torch.zeros(x.shape[1:], dtype=torch.int64, device=x.device)
    counts = torch.empty(x.shape, dtype=torch.int32, device=x.device)

    def gap(t: int, n: torch.Tensor) -> torch.Tensor:  # x_t − r(k + n), decreasing in n
        return x[t] - _level(base, k + n, theta)

    for t in range(x.shape[0]):
        guess = torch.trunc((x[t] - _level(base, k, theta)) / theta).to(torch.int64)
        # the first while loop stops at n_up = min{n >= 0 : gap(n) < θ}; gap is non-increasing in n
        # (rounding is monotone), so search from the guess in both directions
        n_up = guess.clamp(min=0)
        while (m := gap(t, n_up) >= theta).any():
            n_up += m.long()
        while (m := (n_up > 0) & (gap(t, n_up - 1) < theta)).any():
            n_up -= m.long()
        # the second stops at max{n <= n_up : gap(n) > −θ}; where gap(n_up) > −θ already, n = n_up
        n = torch.where(gap(t, n_up) > -theta, n_up, torch.minimum(guess, n_up))
        while (m := gap(t, n) <= -theta).any():
            n -= m.long()
        while (m := (n < n_up) & (gap(t, n + 1) > -theta)).any():
            n += m.long()
        counts[t] = n
        k += n
    return counts


def delta_modulate_reference(x: torch.Tensor, threshold: float, *, padding: bool = False) -> torch.Tensor:
    """Element-by-element loop of :func:`delta_modulate` (same arguments, result and errors); for tests."""
    fn = "delta_modulate_reference"
    x = _check_signal(x, fn)
    threshold = _check_threshold(threshold, fn)
    theta = _theta(threshold, x, fn)
    padding = _check_flag(padding, "padding", fn)
    _check_levels(x, threshold, fn)
    flat = x.reshape(x.shape[0], -1)
    counts = torch.zeros(flat.shape, dtype=torch.int32, device=x.device)
    for i in range(flat.shape[1]):
        base = flat[0, i] if padding else torch.zeros((), dtype=x.dtype, device=x.device)
        k = 0  # the reference level is base + k·θ
        for t in range(flat.shape[0]):
            n = 0
            while flat[t, i] - _level(base, torch.tensor(k + n, device=x.device), theta) >= theta:
                n += 1
            while flat[t, i] - _level(base, torch.tensor(k + n, device=x.device), theta) <= -theta:
                n -= 1
            counts[t, i] = n
            k += n
    return counts.reshape(x.shape)

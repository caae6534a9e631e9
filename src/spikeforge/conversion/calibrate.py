"""Calibration: the activation scale λ of every ReLU / QCFS layer, recorded on data (spec §3.2 step 3).

Three statistics of the post-activation values ``a ≥ 0`` seen on the calibration set:

* ``"max"``: the largest value (Diehl et al. 2015, "MaxNorm");
* ``"robust"``: the ``p``-th percentile over the whole calibration set (Rueckauer et al. 2017,
  "RobustNorm", p = 99.9), zeros included, nearest-rank definition (the smallest value ``a`` with at
  least p % of the values ``≤ a``);
* ``"channel"``: the ``p``-th percentile per channel (dimension 1 of the activation), SpikingJelly's
  ``ChannelVoltageHook`` idea; ``percentile=100`` gives per-channel max.

Percentiles are computed over the whole set, not per batch with an EMA as SpikingJelly does (spec §6
item 9, our reading): two passes over the data, the first for the maximum, the second for a histogram of
``bins`` equal bins on ``[0, max]``, read with linear interpolation inside the bin that holds the
percentile. The result lies in the same bin as the exact nearest-rank percentile (so within
``max / bins`` of it), is deterministic, and needs ``O(bins)`` memory per layer (per channel) however
large the calibration set. A single-pass iterator (e.g. a generator of batches) is buffered in a list
when two passes are needed, so its batches must fit in memory; a ``DataLoader`` or a list is read twice.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .._validation import check_int
from ..nn.qcfs import QCFS

__all__ = [
    "ACTIVATIONS",
    "activation_scales",
    "iter_batches",
    "percentile_from_histogram",
    "read_again",
    "replayable",
    "temporary_mode",
]

#: Activation modules that become IF neurons.
ACTIVATIONS: tuple[type[nn.Module], ...] = (nn.ReLU, QCFS)
METHODS = ("max", "robust", "channel")


@contextmanager
def temporary_mode(model: nn.Module, training: bool = False) -> Iterator[nn.Module]:
    """Put every module of ``model`` in evaluation (or, with ``training=True``, training) mode for the
    ``with`` block, then give each module back its own ``training`` flag (mixed flags included)."""
    flags = [(m, m.training) for m in model.modules()]
    model.train(training)
    try:
        yield model
    finally:
        for m, flag in flags:
            m.training = flag


def replayable(data: object) -> object:
    """``data`` in a form that can be read more than once: a single-pass iterator (``iter(data) is
    data``, e.g. a generator of batches) is buffered in a list; tensors and other iterables (lists,
    ``DataLoader``) are returned as they are."""
    if isinstance(data, Iterator):
        return list(data)
    return data


def iter_batches(data: object, batch_size: int = 256, *, what: str = "calibration data") -> Iterator[torch.Tensor]:
    """Yield input batches ``[b, ...]`` from a tensor ``[N, ...]`` or an iterable of batches.

    An iterable (e.g. a ``DataLoader``) may yield tensors or tuples/lists whose first item is the input.

    Raises
    ------
    ValueError
        ``batch_size`` not a positive integer, empty data, or a batch holding NaN or ±inf (named by its
        index, counted from 0).
    TypeError
        ``data`` not a tensor or an iterable of tensors / ``(x, y)`` tuples.
    """
    n = 0
    for x in _batches(data, check_int(batch_size, "batch_size"), what):
        n += 1
        yield x
    if n == 0:
        raise ValueError(f"{what} is empty")


def _batches(data: object, batch_size: int, what: str) -> Iterator[torch.Tensor]:
    """:func:`iter_batches` without the check for empty data."""

    def checked(i: int, x: torch.Tensor) -> torch.Tensor:
        if (x.is_floating_point() or x.is_complex()) and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{what}: batch {i} (counted from 0) contains NaN or inf values")
        return x

    if isinstance(data, torch.Tensor):
        if data.dim() < 1 or data.shape[0] == 0:
            raise ValueError(f"{what} must be a non-empty [N, ...] tensor; got shape {tuple(data.shape)}")
        for i, start in enumerate(range(0, data.shape[0], batch_size)):
            yield checked(i, data[start : start + batch_size])
        return
    if not isinstance(data, Iterable):
        raise TypeError(f"{what} must be a tensor [N, ...] or an iterable of batches; got {type(data).__name__}")
    for i, batch in enumerate(data):
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{what}: batches must be tensors (or (x, y) tuples); got {type(x).__name__}")
        yield checked(i, x)


def read_again(data: object, batch_size: int, first_pass: int, what: str = "calibration data") -> Iterator[torch.Tensor]:
    """The batches of ``data`` on a later pass; ``ValueError`` if there are not ``first_pass`` of them
    (an iterable that cannot be read twice: pass a tensor, a list of batches or a ``DataLoader``)."""
    n = 0
    for x in _batches(data, batch_size, what):
        n += 1
        yield x
    if n != first_pass:
        raise ValueError(
            f"{what} gave {first_pass} batches on the first pass but {n} on the second pass; it is read more "
            "than once, so pass a tensor, a list of batches or a re-iterable DataLoader"
        )


def percentile_from_histogram(counts: torch.Tensor, upper: torch.Tensor, q: float) -> torch.Tensor:
    """The ``q``-th percentile (0 < q ≤ 100) from histograms on ``[0, upper]``.

    Parameters
    ----------
    counts : Tensor [..., bins] (integer)
        Equal-width bin counts on ``[0, upper]``.
    upper : Tensor [...]
        Upper end of each histogram's range (its maximum value).
    q : float
        Percentile in (0, 100].

    Returns
    -------
    Tensor [...]: the nearest-rank percentile (the smallest value with at least q % of the counts at or
    below it), linearly interpolated inside its bin, so within ``upper/bins`` of the exact value;
    ``upper`` itself for ``q = 100``.
    """
    bins = counts.shape[-1]
    c = counts.to(torch.float64)
    cdf = c.cumsum(-1)
    total = cdf[..., -1:]
    # rank ceil(q·n/100), computed so that 99.9/100·4000 (= 3996.0000000000005 in floating point) is 3996
    target = torch.ceil(total * q / 100.0 - 1e-9 * total).clamp(min=1)
    k = torch.searchsorted(cdf.contiguous(), target.contiguous()).clamp(max=bins - 1)  # first bin with cdf >= target
    below = torch.where(k > 0, cdf.gather(-1, (k - 1).clamp(min=0)), torch.zeros_like(target))
    in_bin = c.gather(-1, k)
    frac = torch.where(in_bin > 0, (target - below) / in_bin.clamp(min=1), torch.ones_like(target)).clamp(0, 1)
    value = (k.to(torch.float64) + frac).squeeze(-1) / bins * upper.to(torch.float64)
    return torch.minimum(value, upper.to(torch.float64)).to(upper.dtype)


def _channels_first(a: torch.Tensor) -> torch.Tensor:
    """``[B, C, ...] -> [C, B·...]``."""
    return a.transpose(0, 1).reshape(a.shape[1], -1)


@torch.no_grad()
def activation_scales(
    model: nn.Module,
    data: object,
    *,
    method: str = "robust",
    percentile: float = 99.9,
    batch_size: int = 256,
    bins: int = 8192,
    names: Iterable[str] | None = None,
) -> dict[str, torch.Tensor]:
    """Record the activation scale λ of each ReLU / QCFS module of ``model`` on ``data``.

    Parameters
    ----------
    model : nn.Module
        The ANN (BatchNorm should already be folded). Run in evaluation mode, flags restored (Notes).
    data : Tensor [N, ...] or iterable of batches
        Calibration inputs (training images, not the test set).
    method : {"max", "robust", "channel"}
        See the module docstring.
    percentile : float
        p in (0, 100] for ``robust`` and ``channel`` (99.9 by default; 100 means max).
    batch_size : int
        Batch size when ``data`` is a tensor.
    bins : int
        Histogram bins for percentiles (resolution ``max / bins``).
    names : iterable of str, optional
        Qualified names of the activation modules to record (default: every ReLU / QCFS).

    Returns
    -------
    dict name -> Tensor: a scalar (``max``, ``robust``) or ``[C]`` (``channel``), in activation units.
    Channels (or layers) that never activate get the layer-wide scale (or 1.0, with a warning).

    Notes
    -----
    The model runs in evaluation mode (no Dropout noise, BatchNorm uses and keeps its running
    statistics); every module's ``training`` flag is restored afterwards. ``robust`` and ``channel`` with
    ``percentile < 100`` read the data twice: a single-pass iterator (``iter(data) is data``, e.g. a
    generator) is first buffered in a list, so its batches must fit in memory.

    Raises
    ------
    ValueError
        Unknown method, bad percentile or ``batch_size``, empty data, a batch or an activation holding
        NaN or inf (the batch index or the layer is named), a module called more than once per forward
        pass (an IF neuron holds state, so each call site needs its own module), activations with fewer
        than 2 dims for ``channel``, or an iterable that gives fewer batches on the second pass.
    TypeError
        ``data`` not a tensor or an iterable of tensors / ``(x, y)`` tuples.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if not (isinstance(percentile, (int, float)) and 0 < percentile <= 100):
        raise ValueError(f"percentile must lie in (0, 100]; got {percentile!r}")
    if bins < 2:
        raise ValueError(f"bins must be >= 2; got {bins}")
    batch_size = check_int(batch_size, "batch_size")
    modules = dict(model.named_modules())
    targets = list(names) if names is not None else [n for n, m in modules.items() if isinstance(m, ACTIVATIONS)]
    if not targets:
        raise ValueError("the model has no ReLU or QCFS activation to calibrate")
    per_channel = method == "channel"
    need_hist = percentile < 100 and method != "max"

    calls: dict[str, int] = {}
    state: dict[str, dict[str, torch.Tensor]] = {n: {} for n in targets}
    phase = {"pass": 1}

    def make_hook(name: str):
        def hook(mod: nn.Module, inputs, output: torch.Tensor) -> None:
            calls[name] = calls.get(name, 0) + 1
            a = output.detach()
            st = state[name]
            if per_channel and a.dim() < 2:
                raise ValueError(f"per-channel scales need [B, C, ...] activations; '{name}' gives {tuple(a.shape)}")
            flat = _channels_first(a) if per_channel else a.reshape(1, -1)
            if phase["pass"] == 1:
                m = flat.amax(dim=1).clamp(min=0)
                if not bool(torch.isfinite(m).all()):  # NaN propagates through amax
                    raise ValueError(
                        f"activation '{name}' is NaN or inf on the calibration data (finite inputs): check the "
                        "weights of the layers before it"
                    )
                st["max"] = m if "max" not in st else torch.maximum(st["max"], m)
                return
            upper = st["max"]
            safe = torch.where(upper > 0, upper, torch.ones_like(upper))
            idx = (flat / safe[:, None] * bins).clamp(0, bins - 1).long()
            idx = idx + torch.arange(flat.shape[0], device=idx.device)[:, None] * bins
            counts = torch.bincount(idx.flatten(), minlength=flat.shape[0] * bins).view(flat.shape[0], bins)
            st["hist"] = counts if "hist" not in st else st["hist"] + counts

        return hook

    if need_hist:
        data = replayable(data)
    handles = [modules[n].register_forward_hook(make_hook(n)) for n in targets]
    first_pass = 0
    try:
        with temporary_mode(model):
            for p in (1, 2) if need_hist else (1,):
                phase["pass"] = p
                batches = iter_batches(data, batch_size) if p == 1 else read_again(data, batch_size, first_pass)
                for x in batches:
                    first_pass += p == 1
                    calls.clear()
                    model(x)
                    for n, c in calls.items():
                        if c > 1:
                            raise ValueError(
                                f"activation module '{n}' is called {c} times per forward pass; an IF neuron keeps "
                                "a membrane state, so give each call site its own nn.ReLU / QCFS module"
                            )
    finally:
        for h in handles:
            h.remove()

    scales: dict[str, torch.Tensor] = {}
    for n in targets:
        st = state[n]
        if "max" not in st:
            raise ValueError(f"activation module '{n}' was never called on the calibration data")
        upper = st["max"]
        value = percentile_from_histogram(st["hist"], upper, percentile) if need_hist else upper.clone()
        layer_value = value.max() if per_channel else value[0]
        if float(layer_value) <= 0 or not math.isfinite(float(layer_value)):
            warnings.warn(f"activation '{n}' is never positive on the calibration data; using scale 1.0", stacklevel=2)
            layer_value = torch.ones_like(layer_value)
        if per_channel:
            scales[n] = torch.where(value > 0, value, layer_value)
        else:
            scales[n] = layer_value.reshape(())
    return scales

"""Running, balancing and fine-tuning a converted SNN.

* :func:`accuracy_over_time`: accuracy and spike counts at several T from one simulation.
* :func:`threshold_balance`: Sengupta et al. 2019 "spike-norm" (spec §3.3): layer by layer, with the
  earlier layers already spiking, set the threshold to the largest input current reaching the layer over
  the data and the T steps (times a factor; Rathi et al. used 0.7 on MNIST).
* :func:`finetune`: hybrid training (Rathi et al. 2020, spec §3.6): start from the converted network and
  train its weights with surrogate-gradient BPTT on the time-averaged output (cross-entropy), for a few
  epochs at a small T.

Every input encoder is a callable ``encode(x [B, ...], T, generator) -> [T, B, ...]``; the default,
:func:`direct`, repeats the analog input at every step (spec §1.5).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from .._validation import check_int
from ..nn.layers import repeat_in_time
from .calibrate import iter_batches, read_again, replayable, temporary_mode
from .snn import ConvertedSNN, SpikingActivation

__all__ = ["Encoder", "accuracy_over_time", "direct", "finetune", "threshold_balance"]

Encoder = Callable[[torch.Tensor, int, "torch.Generator | None"], torch.Tensor]


def direct(x: torch.Tensor, T: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Direct (analog) input: ``x [B, ...]`` at each of ``T`` steps, a stride-0 view ``[T, B, ...]``."""
    return repeat_in_time(x, T)


def _check_xy(X: torch.Tensor, y: torch.Tensor) -> None:
    if not isinstance(X, torch.Tensor) or not X.is_floating_point():
        raise TypeError("X must be a floating-point tensor [N, ...]")
    if not isinstance(y, torch.Tensor) or y.dim() != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be a [N] tensor of class indices matching X; got {getattr(y, 'shape', None)} for X {tuple(X.shape)}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"y must hold integer class indices; got dtype {y.dtype}")
    if X.shape[0] == 0:
        raise ValueError(f"X is empty (shape {tuple(X.shape)}); need at least one sample")


def _check_T(T_list: Sequence[int]) -> list[int]:
    try:
        Ts = sorted({check_int(t, "T") for t in T_list})
    except ValueError:
        Ts = []
    if not Ts:
        raise ValueError(f"time steps must be positive integers; got {list(T_list)}")
    return Ts


@torch.no_grad()
def accuracy_over_time(
    snn: ConvertedSNN,
    X: torch.Tensor,
    y: torch.Tensor,
    T_list: Sequence[int],
    *,
    encode: Encoder = direct,
    prefix: bool = True,
    steps_per_batch: int = 3200,
    generator: torch.Generator | None = None,
) -> dict[str, list[float]]:
    """Accuracy and spikes per image of ``snn`` after each ``T`` in ``T_list``.

    Parameters
    ----------
    snn : ConvertedSNN
    X : Tensor [N, ...]
        Inputs (analog, in the ANN's units).
    y : Tensor [N] (int64)
        Class labels.
    T_list : sequence of int
        Time steps to read out.
    encode : callable
        Input encoder ``(x [B, ...], T, generator) -> [T, B, ...]`` (default: direct input).
    prefix : bool
        True when the code for ``T' < T`` is the first ``T'`` steps of the code for ``T`` (direct and
        rate coding): one simulation of ``max(T_list)`` steps serves every T. False (latency coding,
        whose spike times depend on T) runs one simulation per T.
    steps_per_batch : int
        Memory budget: images per batch = ``max(1, steps_per_batch // T)``.
    generator : torch.Generator, optional
        Random state of the encoder.

    Returns
    -------
    dict with lists aligned with the sorted ``T``: ``T``, ``accuracy`` (fraction), ``spikes_per_image``
    (spikes of all IF layers over the first T steps, averaged over images) and ``input_spikes_per_image``
    (non-zero input entries over the first T steps: the input spikes of a spike encoder; for direct input
    the number of non-zero pixels times T).

    The network runs in evaluation mode with spike recording on; every module's ``training`` flag and
    every layer's ``record`` switch and ``spike_counts`` are restored afterwards.

    Raises
    ------
    TypeError
        ``X`` not a floating-point tensor, ``y`` not integer class indices.
    ValueError
        ``X`` empty, ``y`` not ``[N]``, a time step that is not a positive integer.
    """
    _check_xy(X, y)
    Ts = _check_T(T_list)
    runs = [Ts] if prefix else [[t] for t in Ts]
    out = {"T": Ts, "accuracy": [], "spikes_per_image": [], "input_spikes_per_image": []}
    recording = [(m, m.record, m.spike_counts) for m in snn.spiking_layers().values()]
    try:
        with temporary_mode(snn):
            snn.set_record(True)
            for group in runs:
                Tmax = group[-1]
                correct = [0] * len(group)  # Python numbers: no device mixing, exact counts
                spikes = [0.0] * len(group)
                in_spikes = [0.0] * len(group)
                bs = max(1, steps_per_batch // Tmax)
                for i in range(0, X.shape[0], bs):
                    xb, yb = X[i : i + bs], y[i : i + bs]
                    x_seq = encode(xb, Tmax, generator)
                    outs = snn(x_seq).cumsum(0)
                    nz = (x_seq != 0).flatten(1).sum(1).cumsum(0).to(torch.float64)
                    per_step = sum(c.to(torch.float64) for c in snn.spike_counts().values())
                    per_step = per_step.cumsum(0) if isinstance(per_step, torch.Tensor) else torch.zeros(Tmax, dtype=torch.float64)
                    hits = (outs[[t - 1 for t in group]].argmax(-1) == yb.to(outs.device)).sum(-1).tolist()
                    per_step, nz = per_step.tolist(), nz.tolist()
                    for j, t in enumerate(group):
                        correct[j] += hits[j]
                        spikes[j] += per_step[t - 1]
                        in_spikes[j] += nz[t - 1]
                n = X.shape[0]
                out["accuracy"] += [c / n for c in correct]
                out["spikes_per_image"] += [s / n for s in spikes]
                out["input_spikes_per_image"] += [s / n for s in in_spikes]
    finally:
        for m, record, counts in recording:  # the user's recording switch and last counts
            m.record, m.spike_counts = record, counts
    return out


class _Stop(Exception):
    pass


@torch.no_grad()
def threshold_balance(
    snn: ConvertedSNN,
    data: object,
    T: int,
    *,
    scale_factor: float = 1.0,
    encode: Encoder = direct,
    batch_size: int = 256,
    generator: torch.Generator | None = None,
) -> ConvertedSNN:
    """Spike-norm threshold balancing (Sengupta et al. 2019, as coded by Rathi et al.), in place.

    For each spiking layer in order, with the layers before it already balanced, run the SNN for ``T``
    steps on ``data`` and set the layer's scale (threshold, in input units) to ``scale_factor`` times the
    largest input current it receives over the data and the steps. One scalar per layer.

    Parameters
    ----------
    snn : ConvertedSNN
        A converted network (any method; its scales are overwritten).
    data : Tensor [N, ...] or iterable of batches
        Calibration inputs.
    T : int
        Steps simulated per layer (a positive integer).
    scale_factor : float
        Multiplier of the maximum (≤ 1 lowers the thresholds; 0.7 in Rathi's MNIST runs).
    encode : callable
        Input encoder (default: direct).
    batch_size : int
        Images per batch.
    generator : torch.Generator, optional
        Random state of the encoder.

    Returns
    -------
    The same ``snn`` with new scales. It runs in evaluation mode; every module's ``training`` flag is
    restored afterwards. ``data`` is read once per spiking layer: a single-pass iterator (``iter(data)
    is data``, e.g. a generator) is first buffered in a list, so its batches must fit in memory.

    Raises
    ------
    ValueError
        ``T`` or ``batch_size`` not a positive integer, ``scale_factor`` not positive, empty data, a batch
        holding NaN or inf (named), a layer that receives no positive input, or an iterable that gives
        fewer batches on a later pass.
    TypeError
        ``data`` not a tensor or an iterable of tensors / ``(x, y)`` tuples.
    """
    T = check_int(T, "T")
    batch_size = check_int(batch_size, "batch_size")
    if not scale_factor > 0:
        raise ValueError(f"scale_factor must be positive; got {scale_factor}")
    layers = list(snn.spiking_layers().items())
    if len(layers) > 1:
        data = replayable(data)
    first_pass = None
    with temporary_mode(snn):
        for name, layer in layers:
            peak = [0.0]

            def hook(mod: SpikingActivation, inputs, _peak=peak) -> None:
                _peak[0] = max(_peak[0], float(inputs[0].detach().max()))
                if mod.step_mode == "m":
                    raise _Stop  # later layers do not matter for this one

            handle = layer.register_forward_pre_hook(hook)
            batches = iter_batches(data, batch_size) if first_pass is None else read_again(data, batch_size, first_pass)
            n = 0
            try:
                for x in batches:
                    n += 1
                    try:
                        snn(encode(x, T, generator))
                    except _Stop:
                        pass
            finally:
                handle.remove()
            first_pass = n
            value = peak[0] * scale_factor
            if not value > 0:
                raise ValueError(f"layer '{name}' receives no positive input on the calibration data; cannot balance it")
            layer.scale = torch.tensor(value, dtype=layer.scale.dtype, device=layer.scale.device)
    snn.method = f"spike-norm(x{scale_factor:g})"
    return snn


def finetune(
    snn: ConvertedSNN,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    T: int,
    epochs: float = 1.0,
    lr: float = 1e-4,
    batch_size: int = 32,
    weight_decay: float = 0.0,
    encode: Encoder = direct,
    generator: torch.Generator | None = None,
    callback: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Hybrid training: surrogate-gradient BPTT of a converted SNN at ``T`` steps, in place.

    Loss: cross-entropy of the time-averaged output ``snn(x_seq).mean(0)``; optimiser Adam on every
    trainable parameter (weights and biases; the thresholds are fixed buffers). Gradients pass the IF
    neurons through their surrogate (set at :func:`convert`).

    Parameters
    ----------
    snn : ConvertedSNN
    X : Tensor [N, ...], y : Tensor [N]
        Training data and labels.
    T : int
        Time steps per sample.
    epochs : float
        Passes over the data; a fraction trains on the first part of one shuffled pass.
    lr, weight_decay : float
        Adam settings (Rathi et al. used lr 1e-4 for their MNIST SNN).
    batch_size : int
    encode : callable
        Input encoder (default: direct).
    generator : torch.Generator, optional
        Shuffling and encoder randomness.
    callback : callable, optional
        Called with each epoch's record.

    Returns
    -------
    list of per-epoch records ``{"epoch", "loss", "train_accuracy", "batches"}``. The network trains in
    training mode (Dropout active); every module's ``training`` flag is restored afterwards.

    Raises
    ------
    TypeError
        ``X`` not a floating-point tensor, ``y`` not integer class indices (any integer dtype; cast to
        int64 for the loss).
    ValueError
        ``X`` empty, ``y`` not ``[N]``, ``T`` or ``batch_size`` not a positive integer, ``epochs`` not
        positive, no trainable parameter.
    """
    _check_xy(X, y)
    T = check_int(T, "T")
    batch_size = check_int(batch_size, "batch_size")
    if not epochs > 0:
        raise ValueError(f"epochs must be positive; got {epochs}")
    y = y.long()
    params = [p for p in snn.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the SNN has no trainable parameter")
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    n = X.shape[0]
    per_epoch = math.ceil(n / batch_size)
    total = max(1, math.ceil(epochs * per_epoch))
    history: list[dict] = []
    done = 0
    with temporary_mode(snn, training=True):
        for ep in range(math.ceil(total / per_epoch)):
            perm = torch.randperm(n, generator=generator)
            loss_sum, correct, seen, nb = 0.0, 0, 0, 0
            for i in range(0, n, batch_size):
                if done >= total:
                    break
                idx = perm[i : i + batch_size]
                xb, yb = X[idx], y[idx]
                logits = snn(encode(xb, T, generator)).mean(0)
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss_sum += float(loss.detach()) * len(idx)
                correct += int((logits.detach().argmax(-1) == yb).sum())
                seen += len(idx)
                nb += 1
                done += 1
            rec = {"epoch": ep + 1, "loss": loss_sum / max(seen, 1), "train_accuracy": correct / max(seen, 1), "batches": nb}
            history.append(rec)
            if callback is not None:
                callback(rec)
    return history

"""``convert``: an ANN with ReLU (or QCFS) activations → a spiking network of IF neurons.

Pipeline (spec ``deep_snn.md`` §3.2, §3.5):

1. fold every BatchNorm into the conv/linear before it (:func:`spikeforge.nn.fold_batchnorm`);
2. check that every layer can run on spikes: conv, linear, average pooling, flatten, dropout, identity,
   padding and leftover (evaluation-mode, affine) BatchNorm are linear and kept as they are; ReLU and
   :class:`spikeforge.nn.QCFS` become IF neurons; anything else (max pooling, recurrent layers, other
   non-linearities, functional ``F.relu`` calls in a custom ``forward``) raises
   :class:`UnsupportedLayerError` naming the layer;
3. record the activation scales on calibration data (:func:`activation_scales`: max, percentile, per
   channel), or take λ from the QCFS layers;
4. replace each activation by :class:`SpikingActivation` (IF, threshold λ, soft or hard reset, initial
   membrane ½·λ for QCFS and 0 otherwise).

Max pooling is refused rather than approximated: the max of spike trains is not the max of rates, and
the usual fixes (gating by the running rate) need extra state; retrain the ANN with average pooling.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.batchnorm import fold_batchnorm
from ..nn.surrogate import Surrogate
from .calibrate import ACTIVATIONS, activation_scales
from .snn import ConvertedSNN, SpikingActivation

__all__ = ["CONVERSION_METHODS", "UnsupportedLayerError", "check_convertible", "convert"]

CONVERSION_METHODS = ("max", "robust", "channel", "qcfs")

#: Layers that are linear (or identity at inference) and therefore run unchanged on spikes.
LINEAR_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.Linear,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.Flatten,
    nn.Unflatten,
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.ZeroPad1d,
    nn.ZeroPad2d,
    nn.ZeroPad3d,
    nn.modules.batchnorm._BatchNorm,
)

_MAXPOOL = (
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
    nn.FractionalMaxPool2d,
    nn.FractionalMaxPool3d,
    nn.LPPool1d,
    nn.LPPool2d,
)
_RECURRENT = (nn.RNNBase, nn.RNNCellBase)

#: Functional calls (in a custom ``forward``) that make a network non-convertible, with the reason.
_BAD_FUNCTIONS: dict[object, str] = {}
for _f in (F.relu, F.relu_, torch.relu, torch.relu_, F.relu6, F.hardtanh, F.leaky_relu, F.elu, F.gelu, F.silu,
           F.sigmoid, torch.sigmoid, F.tanh, torch.tanh, F.softplus, F.mish, F.hardswish):
    _BAD_FUNCTIONS[_f] = "a functional activation cannot be replaced by IF neurons; use an nn.ReLU module"
for _f in (F.max_pool1d, F.max_pool2d, F.max_pool3d, F.adaptive_max_pool1d, F.adaptive_max_pool2d,
           F.adaptive_max_pool3d, torch.max_pool1d, torch.max_pool2d, torch.max_pool3d, torch.max, torch.amax,
           torch.maximum, torch.clamp, torch.clip):
    _BAD_FUNCTIONS[_f] = "max pooling / max / clamp of spike trains is not the max of rates; use average pooling"
for _f in (F.softmax, F.log_softmax, torch.softmax, torch.log_softmax):
    _BAD_FUNCTIONS[_f] = "the SNN averages the last layer over time; remove the (log-)softmax from forward()"
_BAD_METHODS = {
    "relu": "a functional activation cannot be replaced by IF neurons; use an nn.ReLU module",
    "relu_": "a functional activation cannot be replaced by IF neurons; use an nn.ReLU module",
    "sigmoid": "only ReLU / QCFS activations can become IF neurons",
    "tanh": "only ReLU / QCFS activations can become IF neurons",
    "clamp": "clamping spike trains is not clamping rates",
    "max": "the max of spike trains is not the max of rates",
    "softmax": "the SNN averages the last layer over time; remove the softmax from forward()",
    "log_softmax": "the SNN averages the last layer over time; remove the log_softmax from forward()",
}


class UnsupportedLayerError(TypeError):
    """A layer (or a functional call) of the ANN that cannot run in the converted SNN; the message names it."""


def _reason(module: nn.Module) -> str | None:
    """Why a leaf module cannot be converted (None when it can)."""
    if isinstance(module, ACTIVATIONS) or isinstance(module, LINEAR_LAYERS):
        return None
    if isinstance(module, _MAXPOOL):
        return (
            "max pooling is not supported: the max of spike trains is not the max of firing rates. "
            "Retrain the ANN with nn.AvgPool (average pooling is linear and converts exactly)"
        )
    if isinstance(module, _RECURRENT):
        return "recurrent layers (RNN/LSTM/GRU) have no IF-neuron equivalent; only feed-forward nets convert"
    if isinstance(module, (nn.Softmax, nn.LogSoftmax)):
        return "the SNN averages the last layer over time; remove the softmax layer (argmax is unchanged)"
    if isinstance(module, (nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)):
        return "data-dependent normalisation (LayerNorm/GroupNorm/InstanceNorm) is not linear; only BatchNorm folds"
    if isinstance(module, nn.MultiheadAttention):
        return "attention is not supported by rate conversion"
    name = type(module).__name__
    if any(k in name.lower() for k in ("relu", "sigmoid", "tanh", "gelu", "silu", "elu", "swish", "softplus", "hardtanh")):
        return f"only ReLU (or spikeforge.nn.QCFS) activations can become IF neurons; {name} cannot"
    return (
        f"{name} is not a layer the converter knows to be linear (conv, linear, average pooling, flatten, "
        "dropout, BatchNorm) or an activation it can replace (ReLU, QCFS)"
    )


class _Tracer(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:  # noqa: D401
        return not m._modules or super().is_leaf_module(m, qualname)


def _check_functional(model: nn.Module) -> None:
    """Refuse functional non-linearities in a custom ``forward`` (best effort: only when FX can trace it)."""
    try:
        graph = _Tracer().trace(model)
    except Exception:  # untraceable forward (data-dependent control flow): modules were checked already
        return
    for node in graph.nodes:
        if node.op == "call_function" and node.target in _BAD_FUNCTIONS:
            fname = getattr(node.target, "__name__", str(node.target))
            raise UnsupportedLayerError(f"cannot convert the call {fname}() in forward() (node '{node.name}'): {_BAD_FUNCTIONS[node.target]}")
        if node.op == "call_method" and node.target in _BAD_METHODS:
            raise UnsupportedLayerError(
                f"cannot convert the call .{node.target}() in forward() (node '{node.name}'): {_BAD_METHODS[node.target]}"
            )


def check_convertible(model: nn.Module, method: str = "robust") -> list[str]:
    """Check every layer of ``model``; return the qualified names of its activation modules.

    Raises
    ------
    UnsupportedLayerError
        Naming the first layer (or functional call) that cannot be converted, with the reason.
    ValueError
        No activation at all, or ``method="qcfs"`` on a network with ReLU activations.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"ann must be a torch.nn.Module; got {type(model).__name__}")
    acts = []
    for name, m in model.named_modules():
        if m._modules:
            continue
        why = _reason(m)
        if why is not None:
            raise UnsupportedLayerError(f"cannot convert layer '{name or type(m).__name__}' ({type(m).__name__}): {why}")
        if isinstance(m, ACTIVATIONS):
            acts.append(name)
            if isinstance(m, nn.ReLU) and method == "qcfs":
                raise ValueError(
                    f"method='qcfs' needs QCFS activations, but layer '{name}' is a ReLU; train with "
                    "spikeforge.nn.QCFS or use method='robust' / 'max' / 'channel'"
                )
    if not acts:
        raise ValueError("the model has no nn.ReLU or QCFS activation to replace by IF neurons")
    _check_functional(model)
    return acts


def _set_module(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, new)


def convert(
    ann: nn.Module,
    calibration_data: object = None,
    method: str = "robust",
    *,
    percentile: float = 99.9,
    reset: str = "soft",
    v0: float | None = None,
    spike_compare: str = ">=",
    surrogate: str | Surrogate | tuple[str, float] = ("triangle", 1.0),
    batch_size: int = 256,
    mode: str = "auto",
    scales: dict[str, torch.Tensor] | None = None,
) -> ConvertedSNN:
    """Convert an ANN into a spiking network of IF neurons (the ANN itself is not modified).

    Parameters
    ----------
    ann : nn.Module
        Trained network with ``nn.ReLU`` or :class:`spikeforge.nn.QCFS` activation modules, average
        pooling, conv / linear layers and optional BatchNorm. Input in the units it was trained on.
    calibration_data : Tensor [N, ...] or iterable of batches
        Training inputs for the activation statistics (not needed for ``method="qcfs"``).
    method : {"max", "robust", "channel", "qcfs"}
        Scale per layer: maximum activation; the ``percentile``-th percentile (RobustNorm); the
        percentile per channel; or the QCFS layers' trained λ.
    percentile : float
        p for ``robust`` / ``channel``, in (0, 100]; default 99.9.
    reset : {"soft", "hard"}
        Reset by subtraction (keeps the residual membrane, RMP) or to zero.
    v0 : float, optional
        Initial membrane in units of the threshold; default ½ for ``qcfs`` (V_0 = ½·λ), else 0.
    spike_compare : {">=", ">"}
        Firing comparison.
    surrogate :
        Surrogate gradient for hybrid fine-tuning (:func:`spikeforge.conversion.finetune`).
    batch_size : int
        Calibration batch size.
    mode : {"auto", "multi", "step"}
        Execution of the returned network (see :class:`ConvertedSNN`).
    scales : dict name -> Tensor, optional
        Precomputed scales (from :func:`activation_scales` on the BN-folded ANN, or an earlier
        :class:`ConvertedSNN`'s ``scales()``) for every activation; skips calibration.

    Returns
    -------
    ConvertedSNN: call it on ``[T, B, ...]`` (``spikeforge.nn.repeat_in_time(x, T)`` for analog input);
    it returns the last layer's output per step ``[T, B, K]``; average over T to classify.

    Raises
    ------
    UnsupportedLayerError
        A layer that cannot be converted (max pooling, LSTM, a non-ReLU activation, …), named.
    ValueError
        Bad arguments, no activation, ``qcfs`` without QCFS layers, missing calibration data.
    """
    if method not in CONVERSION_METHODS:
        raise ValueError(f"method must be one of {CONVERSION_METHODS}; got {method!r}")
    if reset not in ("soft", "hard"):
        raise ValueError(f"reset must be 'soft' or 'hard'; got {reset!r}")
    acts = check_convertible(ann, method)
    folded = fold_batchnorm(ann)  # a deep copy in eval mode
    if scales is not None:
        missing = [n for n in acts if n not in scales]
        if missing:
            raise ValueError(f"scales given for {sorted(scales)} but not for the activations {missing}")
        scales = {n: torch.as_tensor(scales[n]).detach().clone().float() for n in acts}
        if v0 is None:
            v0 = 0.5 if method == "qcfs" else 0.0
    elif method == "qcfs":
        modules = dict(folded.named_modules())
        scales = {n: modules[n].lam.detach().clone().float() for n in acts}
        if v0 is None:
            v0 = 0.5
    else:
        if calibration_data is None:
            raise ValueError(f"method={method!r} needs calibration_data (training inputs)")
        scales = activation_scales(folded, calibration_data, method=method, percentile=percentile, batch_size=batch_size, names=acts)
        if v0 is None:
            v0 = 0.0
    net = copy.deepcopy(folded)
    for n in acts:
        _set_module(net, n, SpikingActivation(scales[n], v0=v0, reset=reset, spike_compare=spike_compare, surrogate=surrogate))
    return ConvertedSNN(net, mode=mode, method=method)

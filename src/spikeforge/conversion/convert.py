"""``convert``: an ANN with ReLU (or QCFS) activations → a spiking network of IF neurons.

Pipeline (spec ``deep_snn.md`` §3.2, §3.5):

1. fold every BatchNorm into the conv/linear before it (:func:`spikeforge.nn.fold_batchnorm`);
2. check that every layer can run on spikes: conv, linear, average pooling, flatten, dropout, identity,
   padding and leftover (evaluation-mode, affine) BatchNorm are linear and kept as they are; ReLU and
   :class:`spikeforge.nn.QCFS` become IF neurons; anything else (max pooling, recurrent layers, other
   non-linearities) raises :class:`UnsupportedLayerError` naming the layer. In a custom ``forward``
   (traced with ``torch.fx`` when possible) every call on the data must be linear (an allowlist: sums,
   scaling by constants, cat, slicing, reshaping, padding, average pooling, mean/sum, F.linear/F.conv*);
   ``F.relu``, ``F.layer_norm``, ``x * x`` and any other call are refused, named. Each activation module
   must sit at one position (an IF neuron holds a membrane state);
3. record the activation scales on calibration data (:func:`activation_scales`: max, percentile, per
   channel), or take λ from the QCFS layers;
4. replace each activation by :class:`SpikingActivation` (IF, threshold λ, soft or hard reset, initial
   membrane ½·λ for QCFS and 0 otherwise).

Max pooling is refused rather than approximated: the max of spike trains is not the max of rates, and
the usual fixes (gating by the running rate) need extra state; retrain the ANN with average pooling.
"""

from __future__ import annotations

import copy
import operator
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.batchnorm import fold_batchnorm
from ..nn.surrogate import Surrogate
from .calibrate import ACTIVATIONS, activation_scales
from .snn import ConvertedSNN, SpikingActivation, check_v0

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

#: Functional calls (in a custom ``forward``) with a specific reason for the refusal; every call on the
#: data that is not in the allowlists below is refused too, with a generic reason.
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
for _f in (F.layer_norm, F.group_norm, F.instance_norm, F.normalize, F.batch_norm, torch.layer_norm):
    _BAD_FUNCTIONS[_f] = "data-dependent normalisation is not linear; use an nn.BatchNorm module (it is folded)"
_BAD_FUNCTIONS[F.dropout] = (
    "functional dropout is random unless training=False; use an nn.Dropout module (or pass "
    "training=self.training and convert the ANN in eval mode)"
)
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
_NOT_LINEAR = (
    "it is not one of the linear operations the converter accepts on activations (sums and differences, "
    "scaling by a constant or a parameter, cat/stack, slicing, view/reshape/flatten/permute, F.pad, average "
    "pooling, mean/sum, F.linear/F.conv*); the SNN would compute something else. Use modules (nn.ReLU, "
    "nn.AvgPool2d, ...) or move the operation out of the network"
)

#: Functions that are linear in each tensor argument taken alone *and* jointly (sums of terms); any
#: number of their arguments may carry data.
_LINEAR_FUNCTIONS: frozenset[object] = frozenset({
    operator.add, operator.iadd, operator.sub, operator.isub, operator.neg, operator.pos, operator.getitem,
    torch.add, torch.sub, torch.subtract, torch.neg, torch.negative,
    torch.cat, torch.concat, torch.concatenate, torch.stack, torch.hstack, torch.vstack,
    torch.flatten, torch.reshape, torch.permute, torch.transpose, torch.swapaxes, torch.movedim,
    torch.squeeze, torch.unsqueeze, torch.narrow, torch.split, torch.chunk, torch.unbind, torch.flip, torch.roll,
    torch.mean, torch.sum,
    F.pad, F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, torch.avg_pool1d,
    F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d, torch.adaptive_avg_pool1d,
    F.linear, F.conv1d, F.conv2d, F.conv3d, F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d,
    F.pixel_shuffle, F.pixel_unshuffle, F.channel_shuffle,
})
_LINEAR_METHODS = frozenset({
    "add", "add_", "sub", "sub_", "neg", "neg_", "__getitem__",
    "view", "view_as", "reshape", "reshape_as", "flatten", "unflatten", "permute", "transpose", "t",
    "contiguous", "squeeze", "unsqueeze", "expand", "expand_as", "repeat", "narrow", "split", "chunk",
    "unbind", "movedim", "flip", "roll", "mean", "sum", "clone", "detach", "to", "float", "double", "type_as",
})
#: Products: linear when at most one factor carries data.
_PRODUCT_FUNCTIONS = frozenset({operator.mul, operator.imul, operator.matmul, torch.mul, torch.multiply, torch.matmul, torch.mm, torch.bmm})
_PRODUCT_METHODS = frozenset({"mul", "mul_", "matmul", "mm", "bmm"})
#: Quotients: linear when only the numerator carries data.
_QUOTIENT_FUNCTIONS = frozenset({operator.truediv, operator.itruediv, torch.div, torch.divide, torch.true_divide})
_QUOTIENT_METHODS = frozenset({"div", "div_", "true_divide"})
#: Calls that read the shape (or type) of a tensor, not its values.
_META_METHODS = frozenset({"size", "dim", "numel", "nelement", "ndimension", "get_device"})
_META_ATTRIBUTES = frozenset({"shape", "ndim", "dtype", "device", "is_cuda", "requires_grad", "layout"})
_LINEAR_ATTRIBUTES = frozenset({"T", "mT", "data"})
#: Calls that make a constant tensor of the data's shape (not its values).
_SHAPE_FUNCTIONS = frozenset({torch.zeros_like, torch.ones_like, torch.full_like, torch.empty_like})
_SHAPE_METHODS = frozenset({"new_zeros", "new_ones", "new_full", "new_empty", "new_tensor"})


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


def _call_name(node: torch.fx.Node) -> str:
    if node.op == "call_method":
        return f".{node.target}()"
    return f"{getattr(node.target, '__name__', str(node.target))}()"


def _refuse(node: torch.fx.Node, reason: str) -> UnsupportedLayerError:
    return UnsupportedLayerError(f"cannot convert the call {_call_name(node)} in forward() (node '{node.name}'): {reason}")


def _check_functional(model: nn.Module) -> None:
    """Check the calls of a custom ``forward`` (best effort: only when FX can trace it).

    Every value is followed from the input: a call on the data (the input or anything computed from it)
    must be a linear operation of the allowlists; calls on parameters, constants and shapes only are free.
    Each activation module must be called once per forward pass.

    Raises
    ------
    UnsupportedLayerError
        A call on the data that is not linear, named.
    ValueError
        An activation module called more than once.
    """
    try:
        graph = _Tracer().trace(model)
    except Exception:  # untraceable forward (data-dependent control flow): modules were checked already
        return
    modules = dict(model.named_modules())
    data: set[torch.fx.Node] = set()  # nodes whose value depends on the input
    calls: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "placeholder":
            data.add(node)
            continue
        if node.op == "call_module":
            if isinstance(modules.get(node.target), ACTIVATIONS):
                calls[node.target] = calls.get(node.target, 0) + 1
                if calls[node.target] > 1:
                    raise ValueError(
                        f"activation module '{node.target}' is called {calls[node.target]} times per forward pass; an "
                        "IF neuron keeps a membrane state, so give each call site its own nn.ReLU / QCFS module"
                    )
            if any(a in data for a in node.all_input_nodes):
                data.add(node)
            continue
        if node.op not in ("call_function", "call_method"):
            continue
        inputs = [a for a in node.all_input_nodes if a in data]
        if not inputs:
            continue  # parameters, constants, shapes: not spike trains
        target, method = node.target, node.op == "call_method"
        if (
            (method and target in _META_METHODS | _SHAPE_METHODS)
            or (not method and target in _SHAPE_FUNCTIONS)
            or (target is getattr and node.args[1] in _META_ATTRIBUTES)
        ):
            continue  # the shape of the data, not its values
        data.add(node)
        if method and target in _BAD_METHODS:
            raise _refuse(node, _BAD_METHODS[target])
        if not method and target in _BAD_FUNCTIONS:
            if target is F.dropout and node.kwargs.get("training", node.args[2] if len(node.args) > 2 else True) is False:
                continue
            raise _refuse(node, _BAD_FUNCTIONS[target])
        if (method and target in _LINEAR_METHODS) or (not method and target in _LINEAR_FUNCTIONS):
            if target in (operator.getitem, "__getitem__") and any(
                a in data for a in node.all_input_nodes if a is not node.args[0]
            ):
                raise _refuse(node, "indexing by values computed from the data is not linear")
            continue
        if target is getattr and node.args[1] in _LINEAR_ATTRIBUTES:
            continue
        factors = [a for a in [*node.args[:2], *node.kwargs.values()] if isinstance(a, torch.fx.Node)]
        if (method and target in _PRODUCT_METHODS) or (not method and target in _PRODUCT_FUNCTIONS):
            if sum(a in data for a in factors) <= 1:
                continue
            raise _refuse(node, "a product of two values computed from the data is not linear")
        if (method and target in _QUOTIENT_METHODS) or (not method and target in _QUOTIENT_FUNCTIONS):
            divisor = node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
            if not (isinstance(divisor, torch.fx.Node) and divisor in data):
                continue
            raise _refuse(node, "dividing by a value computed from the data is not linear")
        raise _refuse(node, _NOT_LINEAR)


def check_convertible(model: nn.Module, method: str = "robust") -> list[str]:
    """Check every layer of ``model``; return the qualified names of its activation modules.

    Raises
    ------
    UnsupportedLayerError
        Naming the first layer (or functional call) that cannot be converted, with the reason. In a
        traceable custom ``forward``, every call on the data must be linear (sums, scaling by constants
        or parameters, cat, slicing, reshaping, F.pad, average pooling, mean/sum, F.linear/F.conv*).
    ValueError
        No activation at all, ``method="qcfs"`` on a network with ReLU activations, or an activation
        module used at more than one position (registered twice, or called twice in ``forward``).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"ann must be a torch.nn.Module; got {type(model).__name__}")
    acts = []
    positions: dict[int, list[str]] = {}
    for name, m in model.named_modules(remove_duplicate=False):
        if m._modules:
            continue
        why = _reason(m)
        if why is not None:
            raise UnsupportedLayerError(f"cannot convert layer '{name or type(m).__name__}' ({type(m).__name__}): {why}")
        if isinstance(m, ACTIVATIONS):
            seen = positions.setdefault(id(m), [])
            seen.append(name)
            if len(seen) > 1:
                raise ValueError(
                    f"activation module {type(m).__name__} is registered at several positions ("
                    + ", ".join(f"'{n}'" for n in seen)
                    + "); an IF neuron keeps a membrane state, so give each position its own nn.ReLU / QCFS module"
                )
            acts.append(name)
            if isinstance(m, nn.ReLU) and method == "qcfs":
                raise ValueError(
                    f"method='qcfs' needs QCFS activations, but layer '{name}' is a ReLU; train with "
                    "spikeforge.nn.QCFS or use method='robust' / 'max' / 'channel'"
                )
    _check_functional(model)  # first: a functional relu() is named even where it is the only activation
    if not acts:
        raise ValueError("the model has no nn.ReLU or QCFS activation to replace by IF neurons")
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
        Training inputs for the activation statistics (not needed for ``method="qcfs"``); finite. A
        single-pass iterator (a generator) is buffered in a list for the percentile methods.
    method : {"max", "robust", "channel", "qcfs"}
        Scale per layer: maximum activation; the ``percentile``-th percentile (RobustNorm); the
        percentile per channel; or the QCFS layers' trained λ.
    percentile : float
        p for ``robust`` / ``channel``, in (0, 100]; default 99.9.
    reset : {"soft", "hard"}
        Reset by subtraction (keeps the residual membrane, RMP) or to zero.
    v0 : float, optional
        Initial membrane in units of the threshold; default ½ for ``qcfs`` (V_0 = ½·λ), else 0. Must be
        finite; a value outside ``[0, 1)`` gives a warning (≥ 1 fires every neuron at the first step).
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
    ConvertedSNN, in evaluation mode: call it on ``[T, B, ...]`` (``spikeforge.nn.repeat_in_time(x, T)``
    for analog input); it returns the last layer's output per step ``[T, B, K]``; average over T to
    classify.

    Raises
    ------
    UnsupportedLayerError
        A layer that cannot be converted (max pooling, LSTM, a non-ReLU activation, …), or a non-linear
        call on the data in a custom ``forward`` (``F.layer_norm``, ``x * x``, …), named.
    ValueError
        Bad arguments (``v0`` not finite, ``batch_size`` < 1, …), no activation, ``qcfs`` without QCFS
        layers, an activation module used at more than one position, missing or empty calibration data,
        calibration data holding NaN / inf (the batch is named).
    TypeError
        ``ann`` not an ``nn.Module``; calibration data not a tensor or an iterable of batches.
    """
    if method not in CONVERSION_METHODS:
        raise ValueError(f"method must be one of {CONVERSION_METHODS}; got {method!r}")
    if reset not in ("soft", "hard"):
        raise ValueError(f"reset must be 'soft' or 'hard'; got {reset!r}")
    if v0 is not None:
        v0 = check_v0(v0)
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
    with warnings.catch_warnings():  # warned once above, not once per layer
        warnings.filterwarnings("ignore", message="v0 = ", category=UserWarning)
        for n in acts:
            act = SpikingActivation(scales[n], v0=v0, reset=reset, spike_compare=spike_compare, surrogate=surrogate)
            _set_module(net, n, act.train(net.training))  # evaluation mode, like the folded network
    return ConvertedSNN(net, mode=mode, method=method)

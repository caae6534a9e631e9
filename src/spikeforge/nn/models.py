"""Directly trained deep SNNs: a small conv SNN for MNIST and the spiking ResNet-19 of tdBN.

Both use direct input encoding (the analog image at every step; the first conv + norm + LIF acts as the
encoder, spec §1.5) and the readout of Zheng et al. (§1.5): the last layer ``M`` is a non-spiking FC and
``Q = (1/T) Σ_t M o_t``. Because ``M`` is affine this equals ``M(mean_t o_t)``, which is what is computed
(T times fewer FLOPs, identical up to rounding).

Direct encoding is exact and cheap: the stem conv and its norm see the same image at every step, so they
run once on ``[B, C, H, W]`` (BatchNorm statistics over T·B repeats equal those over B) and the result is
repeated over time as a stride-0 view that the fused LIF kernel reads without a copy. A ``[T, B, C, H, W]``
input (e.g. Poisson spikes) is processed step by step instead, for its own number of steps ``T'``
(the model's ``T`` sets only how often an image is repeated); it must be time first (a batch-first
``[B, T, ...]`` tensor cannot be told apart from it by its shape).

The per-time-step norms (``norm="bntt"`` / ``"tebn"``) differ from step to step, so only the stem conv runs
once; its norm runs on the repeated ``[T, B, ...]`` tensor (at the front of ``stem_act``), and a sequence
input must have exactly the model's ``T`` steps.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence

import torch
from torch import nn

from .batchnorm import (
    TIME_VARYING_NORMS,
    BatchNormThroughTime1d,
    BatchNormThroughTime2d,
    TemporalEffectiveBatchNorm1d,
    TemporalEffectiveBatchNorm2d,
    ThresholdDependentBatchNorm1d,
    ThresholdDependentBatchNorm2d,
)
from .functional import LIFSpec
from .layers import SeqToANN, repeat_in_time
from .neurons import LIF, PLIF
from .surrogate import Surrogate

__all__ = ["ACTIVATIONS", "STBP_NEURON", "ConvSNN", "SpikingBasicBlock", "SpikingResNet19", "count_parameters",
           "encode", "plif_spec"]

#: The neuron used by the tdBN models by default (spec §1.1 STBP form and §2.6 proposed defaults):
#: ``u_t = τ_decay · u_{t-1} · (1 − o_{t-1}) + x_t``, τ_decay = 0.5, V_th = 0.5, hard reset to 0, reset
#: not detached, strict ``>`` comparison (Wu, Zheng), rectangular surrogate of width 1 (a = 1).
STBP_NEURON = LIFSpec(
    charge="decay",
    decay=0.5,
    decay_input=False,
    v_th=0.5,
    v_reset=0.0,
    reset="hard",
    detach_reset=False,
    spike_compare=">",
    surrogate=Surrogate("rect", 1.0),
)

_NORMS = ("tdbn", "bn", "none", "bntt", "tebn")
_POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def _check_model_args(T: object, norm: str, neuron: object) -> None:
    """Shared checks of the model constructors (see their Raises)."""
    if norm not in _NORMS:
        raise ValueError(f"norm must be one of {_NORMS}; got {norm!r}")
    if isinstance(T, bool) or not isinstance(T, numbers.Integral) or T < 1:
        raise ValueError(f"T must be an integer >= 1; got {T!r}")
    if not isinstance(neuron, LIFSpec):
        raise TypeError(f"neuron must be a LIFSpec; got {type(neuron).__name__}")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _norm2d(kind: str, channels: int, alpha: float, v_th: float, T: int) -> nn.Module:
    if kind == "tdbn":
        return ThresholdDependentBatchNorm2d(channels, alpha=alpha, v_th=v_th)
    if kind == "bn":
        return nn.BatchNorm2d(channels)
    if kind == "bntt":
        return BatchNormThroughTime2d(channels, T)
    if kind == "tebn":
        return TemporalEffectiveBatchNorm2d(channels, T)
    return nn.Identity()


def _norm1d(kind: str, features: int, v_th: float, T: int) -> nn.Module:
    if kind == "tdbn":
        return ThresholdDependentBatchNorm1d(features, alpha=1.0, v_th=v_th)
    if kind == "bn":
        return nn.BatchNorm1d(features)
    if kind == "bntt":
        return BatchNormThroughTime1d(features, T)
    if kind == "tebn":
        return TemporalEffectiveBatchNorm1d(features, T)
    return nn.Identity()


def _layer_norm(layer: nn.Module, norm: nn.Module) -> nn.Module:
    """``layer → norm`` on ``[T, B, ...]``: both in one :class:`SeqToANN` (the norm sees the ``[T·B, ...]``
    batch), except a per-time-step norm (BNTT / TEBN), which needs the time axis and follows ``SeqToANN(layer)``."""
    if isinstance(norm, TIME_VARYING_NORMS):
        return nn.Sequential(SeqToANN(layer), norm)
    return SeqToANN(layer, norm)


def _stem(conv: nn.Module, norm: nn.Module, act: nn.Module) -> tuple[nn.Sequential, nn.Module]:
    """``(stem, stem_act)`` for :func:`encode`: the stem runs once per image before the repeat over time, so a
    per-time-step norm (BNTT / TEBN) moves to the front of ``stem_act``, after the repeat."""
    if isinstance(norm, TIME_VARYING_NORMS):
        return nn.Sequential(conv), nn.Sequential(norm, act)
    return nn.Sequential(conv, norm), act


#: the models' activations: fixed LIF, PLIF (learned τ per layer, initialised to the neuron's) or ReLU (ANN twin)
ACTIVATIONS = ("lif", "plif", "relu")


def plif_spec(spec: LIFSpec) -> LIFSpec:
    """``spec`` in the ``tau`` form that :class:`~spikeforge.nn.PLIF` learns, with the same dynamics: a per-step
    decay ``β`` is ``τ = 1 / (1 − β)`` (``v ← β·v + x`` is ``v ← v·(1 − 1/τ) + x`` with ``decay_input=False``;
    with ``decay_input=True`` the input is scaled by ``1/τ`` in the tau form, as it is by ``(1 − β)`` in the decay
    form). ``ValueError`` for a neuron without a leak (``charge="if"``) or a decay outside (0, 1)."""
    if spec.charge == "tau":
        return spec
    if spec.charge == "decay" and 0.0 < spec.decay < 1.0:
        return dataclasses.replace(spec, charge="tau", tau=1.0 / (1.0 - spec.decay))
    raise ValueError(f"act='plif' learns the leak of the neuron: it needs charge='tau' or a decay in (0, 1); "
                     f"got charge={spec.charge!r}" + (f", decay={spec.decay}" if spec.charge == "decay" else ""))


def _check_activation(act: str, spec: LIFSpec) -> None:
    if act not in ACTIVATIONS:
        raise ValueError(f"act must be one of {ACTIVATIONS}; got {act!r}")
    if act == "plif":
        plif_spec(spec)


def _activation(act: str, spec: LIFSpec, backend: str) -> nn.Module:
    if act == "lif":
        return LIF.from_spec(spec, backend=backend)
    if act == "plif":
        return PLIF.from_spec(plif_spec(spec), backend=backend)
    if act == "relu":
        return nn.ReLU()
    raise ValueError(f"act must be one of {ACTIVATIONS}; got {act!r}")


def _check_image(x: torch.Tensor, in_channels: int) -> bool:
    """True for a static image batch [B, C, H, W], False for a sequence [T, B, C, H, W]."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"input must be floating point (scale images to [0, 1]); got {x.dtype}")
    if x.dim() not in (4, 5):
        raise ValueError(
            f"input must be images [B, C, H, W] (direct encoding) or a sequence [T, B, C, H, W]; got shape {tuple(x.shape)}"
        )
    if x.shape[-3] != in_channels:
        raise ValueError(f"expected {in_channels} input channel(s) at dim -3; got shape {tuple(x.shape)}")
    if x.dim() == 5 and x.shape[0] == 0:
        raise ValueError("input sequence has T = 0 steps")
    return x.dim() == 4


def encode(x: torch.Tensor, stem: nn.Module, act: nn.Module, T: int, in_channels: int) -> torch.Tensor:
    """The encoding layer: ``act(stem(x))`` over time, ``[T, B, C', H', W']``.

    Images ``[B, C, H, W]`` (direct encoding): the stateless ``stem`` (conv + norm) runs once and its output
    is repeated over ``T`` steps as a stride-0 view. Sequences ``[T, B, C, H, W]``: the stem runs on the
    flattened ``[T·B, ...]`` batch.
    """
    if _check_image(x, in_channels):
        return act(repeat_in_time(stem(x), T))
    steps, batch = x.shape[:2]
    return act(stem(x.flatten(0, 1)).unflatten(0, (steps, batch)))


class ConvSNN(nn.Module):
    """Small conv SNN: ``[conv3×3 → norm → LIF → pool2] × len(channels) → [FC → LIF] → FC`` (readout).

    Parameters
    ----------
    in_channels : int
        Image channels (1 for MNIST).
    num_classes : int
    channels : sequence of int
        Output channels of the conv stages; default ``(32, 64)`` (conv32-conv64-fc10).
    hidden : int or None
        Width of an optional spiking FC layer before the readout.
    T : int
        Time steps for static images.
    image_size : int
        Height = width of the input (28 for MNIST, 8 for sklearn digits, 32 for CIFAR).
    norm : {"tdbn", "bn", "none", "bntt", "tebn"}
        tdBN (α = 1, V_th of the neuron), plain BatchNorm over [T·B], none (conv bias instead), BNTT
        (one BatchNorm per step, no shift) or TEBN (BatchNorm over [T·B] times a learnable p_t per step). The
        last two are built for ``T`` steps and need the time axis: they sit after ``SeqToANN(conv)`` (stem:
        at the front of ``stem_act``), and a ``[T', B, ...]`` sequence input must have ``T' = T``.
    neuron : LIFSpec
        Spiking dynamics (default :data:`STBP_NEURON`).
    act : {"lif", "plif", "relu"}
        ``"plif"`` learns each spiking layer's membrane time constant (:class:`~spikeforge.nn.PLIF`, Fang et al.
        2021; one τ per layer, initialised to the neuron's: a decay β becomes τ = 1/(1 − β), see
        :func:`plif_spec`). ``"relu"`` gives the ANN twin with the same layers (for the W2 overhead benchmark).
    pool : {"avg", "max"}
        2×2 pooling after each stage; average pooling (as in Wu et al.'s STBP code) is the default (it is also
        about twice as fast as max pooling on CPU in PyTorch 2.13).
    backend : str
        LIF backend (see :func:`spikeforge.nn.functional.select_backend`).

    Shapes
    ------
    ``[B, C, H, W]`` (repeated over T) or ``[T, B, C, H, W]`` → logits ``[B, num_classes]``. A sequence
    is read time first and runs for its own number of steps (``T`` applies to static images only).

    Raises
    ------
    ValueError
        Unknown ``norm``, ``pool`` or ``act``; ``T`` not an integer ≥ 1; no ``channels``; ``image_size``
        not divisible by ``2**len(channels)``.
    TypeError
        ``neuron`` is not a :class:`~spikeforge.nn.functional.LIFSpec`.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        channels: Sequence[int] = (32, 64),
        hidden: int | None = None,
        T: int = 4,
        image_size: int = 28,
        norm: str = "tdbn",
        neuron: LIFSpec = STBP_NEURON,
        act: str = "lif",
        pool: str = "avg",
        backend: str = "auto",
    ) -> None:
        super().__init__()
        _check_model_args(T, norm, neuron)
        _check_activation(act, neuron)
        if pool not in _POOLS:
            raise ValueError(f"pool must be one of {tuple(_POOLS)}; got {pool!r}")
        if not channels:
            raise ValueError("channels must name at least one conv stage")
        if image_size % (2 ** len(channels)):
            raise ValueError(f"image_size {image_size} must be divisible by 2**{len(channels)} (one pool per stage)")
        self.T = int(T)
        self.in_channels = in_channels
        self.image_size = int(image_size)
        pool_cls = _POOLS[pool]
        v_th = neuron.v_th
        chans = [in_channels, *channels]
        self.stem, self.stem_act = _stem(
            nn.Conv2d(chans[0], chans[1], 3, padding=1, bias=norm == "none"), _norm2d(norm, chans[1], 1.0, v_th, T),
            _activation(act, neuron, backend),
        )
        self.stages = nn.ModuleList()
        for i in range(1, len(channels)):
            self.stages.append(
                nn.ModuleDict(
                    {
                        "pool": SeqToANN(pool_cls(2)),
                        "conv": _layer_norm(
                            nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=norm == "none"),
                            _norm2d(norm, chans[i + 1], 1.0, v_th, T),
                        ),
                        "act": _activation(act, neuron, backend),
                    }
                )
            )
        self.last_pool = SeqToANN(pool_cls(2), nn.Flatten())
        features = chans[-1] * (image_size // 2 ** len(channels)) ** 2
        self.hidden = None
        if hidden:
            norm1d = _norm1d(norm, hidden, v_th, T)
            self.hidden = nn.ModuleDict(
                {"fc": _layer_norm(nn.Linear(features, hidden, bias=norm == "none"), norm1d),
                 "act": _activation(act, neuron, backend)}
            )
            features = hidden
        self.readout = nn.Linear(features, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes (or ReLU activations) of the last hidden layer, ``[T, B, F]``."""
        if isinstance(x, torch.Tensor) and x.dim() >= 2 and tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"this ConvSNN was built for {self.image_size}×{self.image_size} images (image_size); "
                             f"got {x.shape[-2]}×{x.shape[-1]} (input shape {tuple(x.shape)})")
        h = encode(x, self.stem, self.stem_act, self.T, self.in_channels)
        for stage in self.stages:
            h = stage["act"](stage["conv"](stage["pool"](h)))
        h = self.last_pool(h)
        if self.hidden is not None:
            h = self.hidden["act"](self.hidden["fc"](h))
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_classes]`` = readout of the time-averaged last hidden layer."""
        return self.readout(self.features(x).mean(0))


class SpikingBasicBlock(nn.Module):
    """``out = LIF(tdBN_{1/√2}(convB(LIF(tdBN_1(convA(x))))) + shortcut(x))`` (spec §2.5).

    The shortcut is the identity, or ``tdBN_{1/√2}(conv1×1 stride s (x))`` when the shape changes.
    Input and output ``[T, B, C, H, W]``. ``norm="bntt"`` / ``"tebn"`` need ``T`` (the steps of the input).
    ``act="plif"`` makes both spiking layers :class:`~spikeforge.nn.PLIF` (as :class:`ConvSNN`).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, neuron: LIFSpec, norm: str = "tdbn",
                 backend: str = "auto", T: int | None = None, act: str = "lif") -> None:
        super().__init__()
        _check_activation(act, neuron)
        if norm in ("bntt", "tebn") and T is None:
            raise ValueError(f"norm={norm!r} keeps per-time-step parameters: pass T")
        v_th = neuron.v_th
        a2 = 1.0 / math.sqrt(2.0)
        self.conv_a = _layer_norm(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=norm == "none"),
            _norm2d(norm, out_channels, 1.0, v_th, T),
        )
        self.act_a = _activation(act, neuron, backend)
        self.conv_b = _layer_norm(
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=norm == "none"), _norm2d(norm, out_channels, a2, v_th, T)
        )
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = _layer_norm(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=norm == "none"),
                _norm2d(norm, out_channels, a2, v_th, T),
            )
        else:
            self.shortcut = nn.Identity()
        self.act_out = _activation(act, neuron, backend)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, C_in, H, W] -> [T, B, C_out, H/s, W/s]``."""
        return self.act_out(self.conv_b(self.act_a(self.conv_a(x))) + self.shortcut(x))


class SpikingResNet19(nn.Module):
    """The spiking ResNet-19 of Zheng et al. 2021 for 32×32 inputs (spec §2.5), ≈ 12.7 M parameters.

    conv1 3×3 (C_in→128) + tdBN + LIF; 3 blocks of 128; 3 blocks of 256 (the first with stride 2 and a
    1×1 projection shortcut); 2 blocks of 512 (same); global average pool; FC 512→256 + LIF; FC 256→classes
    (non-spiking decoding layer, mean over T). All 3×3 convs have padding 1 and no bias, each followed
    by tdBN (α = 1/√2 on the BN closing a residual branch and on projection shortcuts).

    Parameters
    ----------
    num_classes : int
    in_channels : int
    T : int
        Time steps (the paper: 2, 4, 6 on CIFAR).
    neuron : LIFSpec
        Default :data:`STBP_NEURON`.
    fc_tdbn : bool
        tdBN-1d after the 256-d FC (spec §6 item 5: not in TET's code; off by default).
    norm : {"tdbn", "bn", "none", "bntt", "tebn"}
        As :class:`ConvSNN` (BNTT / TEBN: sequence inputs must have ``T`` steps).
    backend : str
    act : {"lif", "plif", "relu"}
        As :class:`ConvSNN`: fixed LIF (the paper), PLIF (learned τ per layer) or ReLU (ANN twin).

    Shapes
    ------
    ``[B, C, 32, 32]`` (repeated over T) or ``[T, B, C, 32, 32]`` (time first, its own number of steps)
    → logits ``[B, num_classes]``.

    Raises
    ------
    ValueError
        Unknown ``norm`` or ``act``; ``T`` not an integer ≥ 1; ``act="plif"`` with a neuron without a leak.
    TypeError
        ``neuron`` is not a :class:`~spikeforge.nn.functional.LIFSpec`.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        T: int = 4,
        neuron: LIFSpec = STBP_NEURON,
        fc_tdbn: bool = False,
        norm: str = "tdbn",
        backend: str = "auto",
        act: str = "lif",
    ) -> None:
        super().__init__()
        _check_model_args(T, norm, neuron)
        _check_activation(act, neuron)
        self.T = int(T)
        self.in_channels = in_channels
        v_th = neuron.v_th
        self.stem, self.stem_act = _stem(nn.Conv2d(in_channels, 128, 3, padding=1, bias=norm == "none"),
                                         _norm2d(norm, 128, 1.0, v_th, T), _activation(act, neuron, backend))
        blocks: list[nn.Module] = []
        c_in = 128
        for c_out, n, stride in ((128, 3, 1), (256, 3, 2), (512, 2, 2)):
            for i in range(n):
                blocks.append(SpikingBasicBlock(c_in, c_out, stride if i == 0 else 1, neuron, norm, backend, T=T,
                                                act=act))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.pool = SeqToANN(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        fc_norm: nn.Module = ThresholdDependentBatchNorm1d(256, v_th=v_th) if fc_tdbn else nn.Identity()
        self.fc = SeqToANN(nn.Linear(512, 256), fc_norm)
        self.fc_act = _activation(act, neuron, backend)
        self.readout = nn.Linear(256, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, 32, 32]`` (direct encoding) or ``[T, B, C, 32, 32]`` → logits ``[B, num_classes]``."""
        h = encode(x, self.stem, self.stem_act, self.T, self.in_channels)
        h = self.fc_act(self.fc(self.pool(self.blocks(h))))
        return self.readout(h.mean(0))

"""Threshold-dependent batch normalisation (tdBN, Zheng et al. AAAI 2021) and BN folding.

tdBN (spec ``deep_snn.md`` §2.1): for a pre-activation ``X [T, B, C, ...]``, per channel ``c``
(``ThresholdDependentBatchNorm1d`` also takes PyTorch's ``[N, C, L]``; see its ``layout``)::

    μ_c, σ²_c = mean and biased variance of X[:, :, c, ...] over (T, B, spatial)
    Y = λ_c · α · V_th · (X − μ_c) / sqrt(σ²_c + ε) + β_c        (λ = 1, β = 0 at init)

so pre-activations start as N(0, (α V_th)²). ``α = 1`` for serial layers and ``1/√n`` where ``n``
branches are summed before one neuron (1/√2 on the BN closing a residual branch and on a projection
shortcut). ``V_th`` is the threshold of the next spiking layer. Running statistics: EMA of the mean and
the unbiased variance, momentum 0.1, as in PyTorch. Evaluation uses the running statistics.

``parametrization="paper"`` (default) keeps ``α·V_th`` as a constant factor outside the trainable
``λ``. ``parametrization="spikingjelly"`` folds it into the BN weight instead (SpikingJelly's
``ThresholdDependentBatchNorm``: weight initialised to ``α·V_th``): the same forward pass at
initialisation, but gradients and weight decay act on ``γ = α·V_th·λ`` (spec §6 item 3).

Folding (§2.3, Eqs. 9–10): at inference, ``conv → BN`` becomes one conv with
``W' = W · s_c`` and ``B' = (B − μ_c) · s_c + β_c``, ``s_c = γ_eff,c / sqrt(σ²_c + ε)`` and
``γ_eff = λ·α·V_th`` (paper) or ``γ`` (plain BN / SpikingJelly form); see :func:`fold_batchnorm`.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ThresholdDependentBatchNorm1d",
    "ThresholdDependentBatchNorm2d",
    "fold_batchnorm",
    "fold_bn_into",
]

_PARAMETRIZATIONS = ("paper", "spikingjelly")


class _ThresholdDependentBatchNorm(nn.modules.batchnorm._BatchNorm):
    _step_dim: int  # dimensions of one step's input: 2 for [N, C], 4 for [N, C, H, W]

    def __init__(
        self,
        num_features: int,
        alpha: float = 1.0,
        v_th: float = 1.0,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        parametrization: str = "paper",
        device=None,
        dtype=None,
    ) -> None:
        if parametrization not in _PARAMETRIZATIONS:
            raise ValueError(f"parametrization must be one of {_PARAMETRIZATIONS}; got {parametrization!r}")
        if not alpha > 0 or not v_th > 0:
            raise ValueError(f"alpha and v_th must be positive; got alpha={alpha}, v_th={v_th}")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.alpha = float(alpha)
        self.v_th = float(v_th)
        self.parametrization = parametrization
        if parametrization == "spikingjelly" and affine:
            with torch.no_grad():
                self.weight.fill_(self.alpha * self.v_th)

    @property
    def scale(self) -> float:
        """The constant factor ``α·V_th`` applied outside the trainable weight (1 in SpikingJelly's form)."""
        return self.alpha * self.v_th if self.parametrization == "paper" else 1.0

    def effective_weight(self, like: torch.Tensor | None = None) -> torch.Tensor:
        """``γ_eff [C]``, the factor multiplying the normalised input: ``λ·α·V_th`` (paper) or ``γ``.

        Without a trainable weight (``affine=False``) it is the constant ``α·V_th`` in the paper form and 1
        in SpikingJelly's form (whose factor lives in the weight). ``like`` gives dtype and device then.
        """
        if self.weight is not None:
            return self.weight * self.scale
        ref = like if like is not None else self.running_mean
        kw = {} if ref is None else {"dtype": ref.dtype, "device": ref.device}
        return torch.full((self.num_features,), self.scale, **kw)

    def _is_multi_step(self, x: torch.Tensor) -> bool:
        """True for a time-first ``[T, B, C, ...]`` input, False for one (flattened) batch ``[N, C, ...]``."""
        if x.dim() not in (self._step_dim, self._step_dim + 1):
            raise ValueError(
                f"{type(self).__name__} expects [T, B, C, ...] ({self._step_dim + 1}-D, statistics over T and B) "
                f"or a flattened [T*B, C, ...] ({self._step_dim}-D) input; got shape {tuple(x.shape)}"
            )
        return x.dim() == self._step_dim + 1

    def _check_input_dim(self, x: torch.Tensor) -> bool:
        """Validate ``x``; return whether it is multi-step (see :meth:`_is_multi_step`)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__} needs a tensor input; got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{type(self).__name__} needs a floating-point input; got {x.dtype}")
        multi = self._is_multi_step(x)
        channels = x.shape[2 if multi else 1]
        if channels != self.num_features:
            where = "[T, B, C, ...]" if multi else "[N, C, ...]"
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) got {channels} channels at C of {where}; "
                f"input shape {tuple(x.shape)}"
            )
        return multi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` of shape ``[T, B, C, ...]`` (or flattened ``[T·B, C, ...]``)."""
        multi = self._check_input_dim(x)
        shape = x.shape
        if multi:
            x = x.flatten(0, 1)
        # momentum handling as in torch.nn.modules.batchnorm._BatchNorm.forward
        eaf = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            eaf = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        weight = self.weight if self.scale == 1.0 else self.effective_weight(x)
        y = F.batch_norm(
            x,
            self.running_mean if not self.training or self.track_running_stats else None,
            self.running_var if not self.training or self.track_running_stats else None,
            weight,
            self.bias,
            bn_training,
            eaf,
            self.eps,
        )
        return y.view(shape) if multi else y

    def extra_repr(self) -> str:
        return super().extra_repr() + f", alpha={self.alpha:.4g}, v_th={self.v_th:g}, parametrization={self.parametrization}"


_LAYOUTS_1D = ("auto", "tbc", "ncl")


class ThresholdDependentBatchNorm1d(_ThresholdDependentBatchNorm):
    """tdBN for fully connected layers and 1-d convolutions.

    Inputs (statistics over every axis but C):

    * ``[N, C]``: one batch (e.g. the flattened ``[T·B, C]`` that :class:`~spikeforge.nn.SeqToANN` feeds
      a ``Linear → tdBN`` pair);
    * ``[T, B, C, L]``: a multi-step sequence with a length axis (statistics over T, B, L);
    * 3-D: either a multi-step sequence ``[T, B, C]`` (statistics over T and B) or one batch of
      ``[N, C, L]`` as :class:`torch.nn.BatchNorm1d` reads it (what ``SeqToANN(nn.Conv1d(...), tdBN1d)``
      passes). ``layout`` says which: ``"tbc"``, ``"ncl"``, or ``"auto"`` (default), which goes by where
      the ``num_features`` channels are: ``[T, B, C]`` when only the last axis has ``C`` entries,
      ``[N, C, L]`` when only the middle one has. When both have (``B == L == C``) the input is
      ambiguous and ``"auto"`` raises; pass ``layout`` then.

    Parameters
    ----------
    num_features : int
        C.
    alpha : float
        1 for serial layers, ``1/√n`` before a sum of n branches.
    v_th : float
        Threshold of the next spiking layer.
    eps, momentum, affine, track_running_stats : as :class:`torch.nn.BatchNorm1d`.
    parametrization : {"paper", "spikingjelly"}
        Constant ``α·V_th`` factor (paper) or folded into the initial weight (SpikingJelly).
    layout : {"auto", "tbc", "ncl"}
        How a 3-D input is read (see above).

    Raises
    ------
    ValueError
        At construction: unknown ``parametrization`` or ``layout``, ``alpha`` or ``v_th`` not positive.
        In ``forward``: an input that is not 2-, 3- or 4-D, whose channel axis does not hold
        ``num_features`` entries, or a 3-D input that ``layout="auto"`` cannot place.
    TypeError
        In ``forward``: a non-floating input.
    """

    _step_dim = 2

    def __init__(
        self,
        num_features: int,
        alpha: float = 1.0,
        v_th: float = 1.0,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        parametrization: str = "paper",
        device=None,
        dtype=None,
        layout: str = "auto",
    ) -> None:
        if layout not in _LAYOUTS_1D:
            raise ValueError(f"layout must be one of {_LAYOUTS_1D}; got {layout!r}")
        super().__init__(num_features, alpha, v_th, eps, momentum, affine, track_running_stats, parametrization,
                         device=device, dtype=dtype)
        self.layout = layout

    def _is_multi_step(self, x: torch.Tensor) -> bool:
        if x.dim() == 2:
            return False
        if x.dim() == 4:
            return True
        if x.dim() != 3:
            raise ValueError(
                f"{type(self).__name__} expects [N, C], [T, B, C] or [N, C, L] (3-D, see layout), or "
                f"[T, B, C, L]; got shape {tuple(x.shape)}"
            )
        layout = getattr(self, "layout", "auto")  # modules pickled before ``layout`` existed
        if layout != "auto":
            return layout == "tbc"
        c = self.num_features
        last, middle = x.shape[2] == c, x.shape[1] == c
        if last and middle:
            raise ValueError(
                f"{type(self).__name__}: 3-D input of shape {tuple(x.shape)} is ambiguous (both a sequence "
                f"[T, B, C] and a batch [N, C, L] with C = {c}); pass layout='tbc' or layout='ncl'"
            )
        if not (last or middle):
            raise ValueError(
                f"{type(self).__name__}({c}): 3-D input of shape {tuple(x.shape)} has {c} channels neither at "
                "dim 2 ([T, B, C]) nor at dim 1 ([N, C, L])"
            )
        return last

    def extra_repr(self) -> str:
        return super().extra_repr() + f", layout={getattr(self, 'layout', 'auto')}"


class ThresholdDependentBatchNorm2d(_ThresholdDependentBatchNorm):
    """tdBN for convolutions: input ``[T, B, C, H, W]`` (statistics over T, B, H, W) or ``[T·B, C, H, W]``.

    Parameters as :class:`ThresholdDependentBatchNorm1d`.
    """

    _step_dim = 4


# ---------------------------------------------------------------------------- folding
_BN_TYPES = (nn.modules.batchnorm._BatchNorm,)
_FOLDABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def _bn_affine(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scale [C], shift [C])`` with ``bn(x) = x·scale + shift`` in evaluation mode."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("cannot fold a BatchNorm without running statistics (track_running_stats=False)")
    inv = torch.rsqrt(bn.running_var + bn.eps)
    if isinstance(bn, _ThresholdDependentBatchNorm):
        gamma = bn.effective_weight()
    else:
        gamma = bn.weight if bn.weight is not None else torch.ones_like(bn.running_var)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(bn.running_mean)
    scale = gamma * inv
    return scale, beta - bn.running_mean * scale


@torch.no_grad()
def fold_bn_into(layer: nn.Module, bn: nn.modules.batchnorm._BatchNorm) -> nn.Module:
    """A copy of ``layer`` (Conv1d/2d/3d or Linear) with the evaluation-mode ``bn`` folded in.

    ``W'_c = W_c · s_c``, ``B'_c = (B_c − μ_c) · s_c + β_c`` with ``s_c = γ_eff,c / sqrt(σ²_c + ε)``
    (spec §2.3). The result computes ``bn(layer(x))`` of the eval-mode pair (to rounding).
    """
    if not isinstance(layer, _FOLDABLE):
        raise TypeError(f"can fold BatchNorm into Conv1d/2d/3d or Linear, not {type(layer).__name__}")
    if not isinstance(bn, _BN_TYPES):
        raise TypeError(f"expected a BatchNorm layer, got {type(bn).__name__}")
    out_features = layer.out_channels if isinstance(layer, nn.modules.conv._ConvNd) else layer.out_features
    if bn.num_features != out_features:
        raise ValueError(f"BatchNorm has {bn.num_features} features but the layer outputs {out_features}")
    if isinstance(layer, nn.modules.conv._ConvNd) and layer.transposed:
        raise TypeError("transposed convolutions are not supported")
    scale, shift = _bn_affine(bn)
    folded = copy.deepcopy(layer)
    w = folded.weight
    folded.weight.copy_(w * scale.reshape(-1, *([1] * (w.dim() - 1))).to(w.dtype))
    bias = layer.bias if layer.bias is not None else torch.zeros(out_features, dtype=w.dtype, device=w.device)
    new_bias = bias * scale + shift
    if folded.bias is None:
        folded.bias = nn.Parameter(new_bias.to(w.dtype))
    else:
        folded.bias.copy_(new_bias)
    return folded


def fold_batchnorm(model: nn.Module, *, inplace: bool = False) -> nn.Module:
    """Fold every ``(Conv/Linear, BatchNorm)`` pair that follow each other in an ``nn.Sequential``.

    The BN is replaced by ``nn.Identity`` and the conv/linear by its folded copy; thresholds are unchanged
    (§2.3: the deployed SNN has no BN). The model is put in ``eval()`` mode (folding uses the running
    statistics). Returns the folded model (a deep copy unless ``inplace``).
    """
    model = model if inplace else copy.deepcopy(model)
    model.eval()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        keys = list(seq._modules.keys())
        for a, b in zip(keys[:-1], keys[1:]):
            layer, bn = seq._modules[a], seq._modules[b]
            if isinstance(layer, _FOLDABLE) and isinstance(bn, _BN_TYPES):
                seq._modules[a] = fold_bn_into(layer, bn)
                seq._modules[b] = nn.Identity()
    return model

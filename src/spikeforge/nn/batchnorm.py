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

Two time-aware variants take only time-first ``[T, B, C, ...]`` inputs with the ``T`` they were built for
(they cannot run inside :class:`~spikeforge.nn.SeqToANN`, whose flattened ``[T·B, ...]`` batch has lost
the time axis)::

    BNTT (Kim & Panda 2021), one BatchNorm per step t:
        μ_t,c, σ²_t,c = mean and biased variance of X[t, :, c, ...] over (B, spatial)
        Y[t] = γ_t,c · (X[t] − μ_t,c) / sqrt(σ²_t,c + ε) (+ β_t,c with bias=True)
    TEBN (Duan et al. NeurIPS 2022), one BatchNorm over all steps, then a learnable scale per step:
        μ_c, σ²_c as tdBN (over T, B, spatial)
        Y[t] = p_t · (γ_c · (X[t] − μ_c) / sqrt(σ²_c + ε) + β_c)          (p_t = 1 at init)

Neither folds into one convolution (the map ``conv → norm`` differs from step to step): :func:`fold_bn_into`
and :func:`fold_batchnorm` refuse them (:class:`NotFoldableError`, a ``TypeError``), and so does NIR export,
which folds first.
"""

from __future__ import annotations

import copy
import numbers

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BatchNormThroughTime1d",
    "NotFoldableError",
    "BatchNormThroughTime2d",
    "TemporalEffectiveBatchNorm1d",
    "TemporalEffectiveBatchNorm2d",
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


# ---------------------------------------------------------------------------- per-time-step variants
def _check_steps(T: object, owner: str) -> int:
    if isinstance(T, bool) or not isinstance(T, numbers.Integral) or T < 1:
        raise ValueError(f"{owner}: T (number of time steps) must be an integer >= 1; got {T!r}")
    return int(T)


def _check_time_first(module: nn.Module, x: object, dims: tuple[int, ...], layout: str) -> None:
    """Validate a time-first input of ``module`` (which has ``T`` and ``num_features``); raise otherwise."""
    name = type(module).__name__
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} needs a tensor input; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} needs a floating-point input; got {x.dtype}")
    if x.dim() not in dims:
        raise ValueError(
            f"{name} expects a time-first {layout} input ({' or '.join(f'{d}-D' for d in dims)}); got shape "
            f"{tuple(x.shape)}. A flattened [T*B, ...] batch (e.g. inside SeqToANN) has lost the time axis: "
            "apply the norm to the [T, B, ...] tensor"
        )
    if x.shape[0] != module.T:
        raise ValueError(
            f"{name} was built for T={module.T} time steps but got an input with T={x.shape[0]} steps "
            f"(dim 0 of shape {tuple(x.shape)}); it keeps one set of per-step parameters for each of its T steps"
        )
    if x.shape[2] != module.num_features:
        raise ValueError(
            f"{name}({module.num_features}) got {x.shape[2]} channels at C of {layout}; input shape {tuple(x.shape)}"
        )


class _BatchNormThroughTime(nn.Module):
    _bn_cls: type[nn.modules.batchnorm._BatchNorm]
    _dims: tuple[int, ...]  # accepted input dimensions (time axis included)
    _layout: str

    def __init__(
        self,
        num_features: int,
        T: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        T = _check_steps(T, type(self).__name__)
        if bias and not affine:
            raise ValueError(f"{type(self).__name__}: bias=True needs affine=True")
        self.num_features = num_features
        self.T = T
        self.affine = affine
        self.has_bias = bias
        self.bn_list = nn.ModuleList(
            self._bn_cls(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
            for _ in range(T)
        )
        if affine and not bias:
            for bn in self.bn_list:
                bn.bias = None  # γ_t only, as Kim & Panda's code, snnTorch's BatchNormTT and SpikingJelly's BNTT

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``Y[t] = bn_list[t](X[t])`` for ``x [T, B, C, ...]``; same shape out."""
        _check_time_first(self, x, self._dims, self._layout)
        return torch.stack([bn(x[t]) for t, bn in enumerate(self.bn_list)])

    def extra_repr(self) -> str:
        bn = self.bn_list[0]
        return (f"{self.num_features}, T={self.T}, eps={bn.eps}, momentum={bn.momentum}, affine={self.affine}, "
                f"bias={self.has_bias}, track_running_stats={bn.track_running_stats}")


class BatchNormThroughTime1d(_BatchNormThroughTime):
    r"""Batch normalisation through time (BNTT, Kim & Panda, Front. Neurosci. 2021) for FC / 1-d conv layers.

    One :class:`torch.nn.BatchNorm1d` per time step (``bn_list[t]``): separate statistics, running
    statistics and affine parameters for each ``t``::

        μ_t,c, σ²_t,c = mean and biased variance of X[t, :, c, ...] over B (and L)
        Y[t] = γ_t,c · (X[t] − μ_t,c) / sqrt(σ²_t,c + ε)  (+ β_t,c when bias=True)

    Evaluation uses each step's running statistics (EMA of mean and unbiased variance, ``momentum``).
    By default there is no shift β_t, as in the paper's code, snnTorch's ``BatchNormTT1d`` and SpikingJelly's
    ``BatchNormThroughTime1d`` (which all set ``bias = None``); ``bias=True`` adds one per step. The state
    dict keys (``bn_list.{t}.weight``, ``bn_list.{t}.running_mean``, ...) are SpikingJelly's. Unlike
    SpikingJelly's (``T`` first, a step counter to reset), the argument order is snnTorch's and the layer is
    multi-step only.

    Parameters
    ----------
    num_features : int
        C.
    T : int
        Number of time steps; the input must have exactly ``T`` on dim 0.
    eps, momentum, affine, track_running_stats : as :class:`torch.nn.BatchNorm1d`, for every step.
    bias : bool
        Keyword only. A learnable shift β_t per step (needs ``affine``); default False (γ_t only).

    Shapes
    ------
    ``[T, B, C]`` or ``[T, B, C, L]`` → same shape.

    Raises
    ------
    ValueError
        At construction: ``T`` not an integer ≥ 1, ``bias=True`` with ``affine=False``. In ``forward``: an
        input that is not 3- or 4-D (e.g. a flattened ``[T·B, C]``), whose dim 0 is not ``T`` (the message
        gives both), or whose dim 2 is not ``num_features``.
    TypeError
        In ``forward``: a non-tensor or non-floating input.
    """

    _bn_cls = nn.BatchNorm1d
    _dims = (3, 4)
    _layout = "[T, B, C] or [T, B, C, L]"


class BatchNormThroughTime2d(_BatchNormThroughTime):
    r"""BNTT for convolutions: one :class:`torch.nn.BatchNorm2d` per step, input ``[T, B, C, H, W]``.

    ``Y[t] = γ_t,c · (X[t] − μ_t,c) / sqrt(σ²_t,c + ε)`` (+ β_t,c) with statistics over (B, H, W) of step
    ``t`` only. Parameters, defaults and Raises as :class:`BatchNormThroughTime1d`.
    """

    _bn_cls = nn.BatchNorm2d
    _dims = (5,)
    _layout = "[T, B, C, H, W]"


class _TemporalEffectiveBatchNorm(nn.modules.batchnorm._BatchNorm):
    _dims: tuple[int, ...]
    _layout: str

    def __init__(
        self,
        num_features: int,
        T: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        T = _check_steps(T, type(self).__name__)
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.T = T
        self.scale = nn.Parameter(torch.ones(T, device=device, dtype=dtype))  # p_t, SpikingJelly's name

    def _check_input_dim(self, input: torch.Tensor) -> None:  # the flattened batch; checked in forward
        pass

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``Y[t] = p_t · BN(X)[t]`` for ``x [T, B, C, ...]``, BN over the merged ``[T·B, C, ...]``; same shape out."""
        _check_time_first(self, x, self._dims, self._layout)
        y = super().forward(x.flatten(0, 1)).unflatten(0, x.shape[:2])
        return y * self.scale.view(-1, *([1] * (x.dim() - 1))).to(y.dtype)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", T={self.T}"


class TemporalEffectiveBatchNorm1d(_TemporalEffectiveBatchNorm):
    r"""Temporal effective batch normalisation (TEBN, Duan et al., NeurIPS 2022) for FC / 1-d conv layers.

    Plain BatchNorm over the merged time-batch (statistics over T, B and L, as tdBN without the ``α·V_th``
    factor), then a learnable scale ``p_t`` per time step (``scale [T]``, initialised to 1)::

        μ_c, σ²_c = mean and biased variance of X[:, :, c, ...] over (T, B, L)
        Y[t] = p_t · (γ_c · (X[t] − μ_c) / sqrt(σ²_c + ε) + β_c)

    This is the form of SpikingJelly's ``TemporalEffectiveBatchNorm1d/2d``
    (``spikingjelly.activation_based.layer``: ``seq_to_ann_forward(x_seq, bn) * scale.view(-1, 1, ...)``),
    i.e. ``p_t`` multiplies the BN *output*, shift included (the paper's per-step rescaling of the
    presynaptic input). The state dict keys match SpikingJelly's (``weight``, ``bias``, ``running_mean``,
    ``running_var``, ``num_batches_tracked``, ``scale``); the argument order (``num_features, T``) differs.
    ``p_t`` is learnable also with ``affine=False``. Evaluation uses the running statistics, as BN.

    Parameters
    ----------
    num_features : int
        C.
    T : int
        Number of time steps; the input must have exactly ``T`` on dim 0.
    eps, momentum, affine, track_running_stats : as :class:`torch.nn.BatchNorm1d`.

    Shapes
    ------
    ``[T, B, C]`` or ``[T, B, C, L]`` → same shape.

    Raises
    ------
    ValueError
        At construction: ``T`` not an integer ≥ 1. In ``forward``: an input that is not 3- or 4-D (e.g. a
        flattened ``[T·B, C]``), whose dim 0 is not ``T`` (the message gives both), or whose dim 2 is not
        ``num_features``.
    TypeError
        In ``forward``: a non-tensor or non-floating input.
    """

    _dims = (3, 4)
    _layout = "[T, B, C] or [T, B, C, L]"


class TemporalEffectiveBatchNorm2d(_TemporalEffectiveBatchNorm):
    r"""TEBN for convolutions, input ``[T, B, C, H, W]``: BN over (T, B, H, W), then ``Y[t] = p_t · BN(X)[t]``.

    Parameters, form and Raises as :class:`TemporalEffectiveBatchNorm1d`.
    """

    _dims = (5,)
    _layout = "[T, B, C, H, W]"


class NotFoldableError(TypeError, ValueError):
    """A norm that cannot be folded into the preceding layer (BNTT, TEBN; see :func:`fold_batchnorm`).

    A ``TypeError`` (a refusal by layer type, like the NIR exporter's) and a ``ValueError`` (so that
    ``spikeforge export-nir`` reports it as a one-line error).
    """


#: Norms whose affine map changes with the time step: they cannot be folded into a (time-invariant) conv.
TIME_VARYING_NORMS = (_BatchNormThroughTime, _TemporalEffectiveBatchNorm)

_NOT_FOLDABLE = (
    "normalises each time step with its own affine map (BNTT: per-step statistics and γ_t; TEBN: a per-step "
    "scale p_t), so conv → norm is a different affine map at every step, which one time-invariant conv "
    "weight and bias cannot reproduce (nor can a fixed LIF threshold absorb a per-step input scale). Run the "
    "model with the norm in place, or train with norm='tdbn' or 'bn' for a network that folds (and exports "
    "to NIR)"
)


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

    Raises
    ------
    TypeError
        ``layer`` is not Conv1d/2d/3d or Linear (or is transposed) or ``bn`` is not a BatchNorm;
        :class:`NotFoldableError` (also a ``ValueError``) when ``bn`` is a BNTT / TEBN layer (its affine map
        changes with the time step; see :func:`fold_batchnorm`).
    ValueError
        Feature counts differ, or ``bn`` has no running statistics.
    """
    if isinstance(bn, TIME_VARYING_NORMS):
        raise NotFoldableError(f"cannot fold {type(bn).__name__}: it {_NOT_FOLDABLE}")
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

    Raises
    ------
    NotFoldableError
        (a ``TypeError`` and a ``ValueError``) The model holds a BNTT or TEBN layer (:class:`BatchNormThroughTime1d`/``2d``,
        :class:`TemporalEffectiveBatchNorm1d`/``2d``), anywhere: its per-step affine map cannot be folded
        into one conv, and a partly folded model would not be BN-free. Nothing is modified then.
    """
    for name, m in model.named_modules():
        if isinstance(m, TIME_VARYING_NORMS):
            raise NotFoldableError(f"cannot fold {name or '<root>'} ({type(m).__name__}): it {_NOT_FOLDABLE}")
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

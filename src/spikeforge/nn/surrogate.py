"""Surrogate derivatives of the Heaviside spike function.

The forward pass of every spiking layer is a hard threshold ``S = Θ(H − V_th)``; the backward pass
replaces the Dirac delta ``dS/dH`` with a smooth or box-shaped surrogate ``σ'(x)``, ``x = H − V_th``.

Every surrogate here is one shape with one parameter ``alpha`` (the *sharpness*: the width of the
support scales as ``1/alpha``), and a documented peak ``σ'(0)`` (spec ``deep_snn.md`` §1.3):

=================== ========================================= ============== =====================
name                σ'(x)                                      peak σ'(0)     same as
=================== ========================================= ============== =====================
``rect``            α · 1[|x| < 1/(2α)]                        α              SJ ``Rect(alpha)``; STBP h1 with a = 1/α
``triangle``        max(0, α − α²|x|)                          α              SJ ``PiecewiseQuadratic(alpha)``;
                                                                              TET/QCFS triangle with γ = 1/α
``sigmoid``         α · s(αx) · (1 − s(αx)),  s = logistic     α / 4          SJ ``Sigmoid(alpha)``; snnTorch ``sigmoid(slope=α)``
``atan``            (α/2) / (1 + (π α x / 2)²)                 α / 2          SJ ``ATan(alpha)``; snnTorch ``atan(alpha)``
``fast_sigmoid``    1 / (α|x| + 1)²                            1              snnTorch ``fast_sigmoid(slope=α)``;
                                                                              Norse ``SuperSpike`` (α = 100)
``erf``             (α / √π) · exp(−α² x²)                     α / √π         SJ ``Erf(alpha)``
``piecewise_exp``   (α / 2) · exp(−α|x|)                       α / 2          SJ ``PiecewiseExp(alpha)``
=================== ========================================= ============== =====================

``piecewise_quadratic`` (the name STBP and SpikingJelly use: its *primitive* is piecewise quadratic)
and ``triangle`` (the name TET and QCFS use for the *derivative*) are one and the same function;
both names are accepted. ``superspike`` is an alias of ``fast_sigmoid``.

Hyperparameters do not transfer between libraries as they are: snnTorch's ``sigmoid(slope=25)`` has a
peak of 6.25, SpikingJelly's default ``Sigmoid(alpha=4)`` a peak of 1.

**Custom surrogates.** Any elementwise torch function can be the surrogate derivative:
``Surrogate.custom(lambda x: 1 / (1 + (5 * x) ** 2))`` or simply ``LIF(surrogate=my_fn)`` (snnTorch's
``surrogate.custom``, SpikingJelly's ``SurrogateFunctionBase`` subclasses). The compiled CPU and Triton
kernels know only the built-in shapes by id, so a layer with a custom surrogate runs the pure-torch fused
path (``backend="auto"`` picks it; asking for ``"cpu"`` or ``"triton"`` is an error). Give
``primitive=`` too to use ``spiking=False`` (gradient checks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

__all__ = ["SURROGATES", "Surrogate", "heaviside", "spike_fn", "surrogate"]

#: canonical name -> (C/Triton kernel id, default alpha); the peak is :attr:`Surrogate.peak`
SURROGATES: dict[str, tuple[int, float]] = {
    "rect": (0, 1.0),
    "triangle": (1, 1.0),
    "sigmoid": (2, 4.0),
    "atan": (3, 2.0),
    "fast_sigmoid": (4, 25.0),
    "erf": (5, 2.0),
    "piecewise_exp": (6, 1.0),
}
_ALIASES = {
    "rectangular": "rect",
    "piecewise_quadratic": "triangle",
    "superspike": "fast_sigmoid",
    "gaussian": "erf",
}


@dataclass(frozen=True)
class Surrogate:
    """A surrogate derivative: a shape ``name`` and its sharpness ``alpha`` (see the module table).

    Parameters
    ----------
    name : str
        One of ``rect, triangle (= piecewise_quadratic), sigmoid, atan, fast_sigmoid (= superspike),
        erf, piecewise_exp``.
    alpha : float, optional
        Sharpness (> 0); the support scales as ``1/alpha``. Default: the shape's usual default
        (rect 1, triangle 1, sigmoid 4, atan 2, fast_sigmoid 25, erf 2, piecewise_exp 1). None for a
        custom surrogate (:meth:`custom`).
    spiking : bool
        True (always, for training): the forward pass is the Heaviside step. False replaces it with
        the surrogate's primitive ``g`` (``g' = σ'``), which makes a layer smooth so that
        :func:`torch.autograd.gradcheck` can check the backward recurrence against finite
        differences (SpikingJelly's ``spiking=False``).
    fn, fn_primitive : callable, optional
        Set by :meth:`custom` only: a user's derivative ``σ'(x)`` and, optionally, its primitive.
    """

    name: str
    alpha: float | None = float("nan")
    spiking: bool = True
    fn: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)
    fn_primitive: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)

    @classmethod
    def custom(
        cls,
        derivative: Callable[[torch.Tensor], torch.Tensor],
        primitive: Callable[[torch.Tensor], torch.Tensor] | None = None,
        *,
        name: str | None = None,
        spiking: bool = True,
    ) -> Surrogate:
        """A surrogate from a user's function.

        Parameters
        ----------
        derivative : callable Tensor -> Tensor
            ``σ'(x)`` elementwise for ``x = H − V_th`` (dimensionless, same shape and dtype out as in),
            built from torch operations so that it runs on any device. Typically ≥ 0 and peaked at 0.
        primitive : callable Tensor -> Tensor, optional
            A primitive ``g`` with ``g' = σ'``; needed only for ``spiking=False``.
        name : str, optional
            A label for ``repr`` and exports (default: the function's ``__name__``).
        spiking : bool
            As for the built-in shapes; ``False`` needs ``primitive``.

        The function is called once on a small probe tensor here, so that a wrong shape, a non-tensor
        result or non-finite values fail now and not in the middle of a backward pass. The compiled
        kernels do not run custom surrogates (the pure-torch fused path does; see the module docstring).
        """
        if not callable(derivative):
            raise TypeError(f"derivative must be callable (Tensor -> Tensor); got {type(derivative).__name__}")
        if primitive is not None and not callable(primitive):
            raise TypeError(f"primitive must be callable or None; got {type(primitive).__name__}")
        label = name if name is not None else getattr(derivative, "__name__", "custom")
        if not isinstance(label, str) or not label:
            raise ValueError(f"name must be a non-empty string; got {label!r}")
        return cls(f"custom:{label}", None, spiking, derivative, primitive)

    @property
    def is_custom(self) -> bool:
        """True for a surrogate built by :meth:`custom` (not runnable by the compiled kernels)."""
        return self.fn is not None

    def __post_init__(self) -> None:
        if self.fn is not None or self.fn_primitive is not None:
            self._check_custom()
            return
        name = _ALIASES.get(self.name, self.name)
        if name not in SURROGATES:
            raise ValueError(
                f"unknown surrogate {self.name!r}; choose one of "
                f"{sorted(SURROGATES) + sorted(_ALIASES)}"
            )
        object.__setattr__(self, "name", name)
        alpha = SURROGATES[name][1] if math.isnan(self.alpha) else float(self.alpha)
        if not (alpha > 0 and math.isfinite(alpha)):
            raise ValueError(f"surrogate alpha must be a positive finite number; got {self.alpha!r}")
        object.__setattr__(self, "alpha", alpha)

    def _check_custom(self) -> None:
        if self.fn is None:
            raise ValueError("a custom surrogate needs its derivative (use Surrogate.custom)")
        if not (isinstance(self.name, str) and self.name.startswith("custom:")):
            raise ValueError(f"a custom surrogate's name starts with 'custom:'; got {self.name!r}")
        if not self.spiking and self.fn_primitive is None:
            raise ValueError(f"{self.name}: spiking=False needs the surrogate's primitive (Surrogate.custom(..., primitive=g))")
        probe = torch.linspace(-2.0, 2.0, 9)
        for label, f in (("derivative", self.fn), ("primitive", self.fn_primitive)):
            if f is None:
                continue
            try:
                out = f(probe)
            except Exception as err:  # noqa: BLE001 - re-raised with context
                raise ValueError(f"{self.name}: the {label} failed on a probe tensor: {err!r}") from err
            if not isinstance(out, torch.Tensor) or out.shape != probe.shape:
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(
                    f"{self.name}: the {label} must map a tensor to a tensor of the same shape; "
                    f"got {got} for shape {tuple(probe.shape)}"
                )
            if not torch.isfinite(out).all():
                raise ValueError(f"{self.name}: the {label} gave non-finite values on [-2, 2]")

    @property
    def kernel_id(self) -> int:
        """Integer id shared with the compiled CPU and Triton kernels."""
        if self.is_custom:
            raise ValueError(f"{self.name} is a custom surrogate; the compiled kernels run only the built-in shapes")
        return SURROGATES[self.name][0]

    @property
    def peak(self) -> float:
        """``σ'(0)``, the value of the surrogate derivative at the threshold (its largest, for the built-ins)."""
        if self.is_custom:
            return float(self.fn(torch.zeros(1))[0])  # type: ignore[misc]
        a = self.alpha
        return {
            "rect": a,
            "triangle": a,
            "sigmoid": a / 4.0,
            "atan": a / 2.0,
            "fast_sigmoid": 1.0,
            "erf": a / math.sqrt(math.pi),
            "piecewise_exp": a / 2.0,
        }[self.name]

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``σ'(x)`` elementwise, ``x = H − V_th`` (any shape, floating dtype)."""
        if self.fn is not None:
            return self.fn(x)
        a = self.alpha
        n = self.name
        if n == "rect":
            return (x.abs() < 0.5 / a).to(x.dtype) * a
        if n == "triangle":
            return (a - a * a * x.abs()).clamp_min(0)
        if n == "sigmoid":
            s = torch.sigmoid(a * x)
            return (1 - s) * s * a
        if n == "atan":
            z = x * (math.pi / 2 * a)
            return (a / 2) / (1 + z * z)
        if n == "fast_sigmoid":
            z = a * x.abs() + 1
            return 1 / (z * z)
        if n == "erf":
            z = a * x
            return (a / math.sqrt(math.pi)) * torch.exp(-z * z)
        return (a / 2) * torch.exp(-a * x.abs())  # piecewise_exp

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        """A primitive ``g`` of :meth:`derivative` (``g' = σ'``), increasing, with ``g(0) = 1/2``.

        For every shape but ``fast_sigmoid`` it rises from 0 to 1 (a smooth step); the primitive of
        ``fast_sigmoid``, ``1/2 + x/(α|x| + 1)``, only spans ``1/2 ± 1/α`` (its derivative's integral is
        ``2/α``, not 1). A custom surrogate's primitive is the user's ``primitive``.
        """
        if self.is_custom:
            if self.fn_primitive is None:
                raise ValueError(f"{self.name} has no primitive (Surrogate.custom(..., primitive=g))")
            return self.fn_primitive(x)
        a = self.alpha
        n = self.name
        if n == "rect":
            return (a * x + 0.5).clamp(0.0, 1.0)
        if n == "triangle":
            inner = 0.5 + a * x - 0.5 * a * a * x * x.abs()
            return torch.where(x <= -1 / a, torch.zeros_like(x), torch.where(x >= 1 / a, torch.ones_like(x), inner))
        if n == "sigmoid":
            return torch.sigmoid(a * x)
        if n == "atan":
            return torch.atan(math.pi / 2 * a * x) / math.pi + 0.5
        if n == "fast_sigmoid":
            return 0.5 + x / (a * x.abs() + 1)
        if n == "erf":
            return 0.5 * (1 + torch.erf(a * x))
        return torch.where(x >= 0, 1 - 0.5 * torch.exp(-a * x), 0.5 * torch.exp(a * x))

    def __repr__(self) -> str:
        extra = "" if self.spiking else ", spiking=False"
        if self.is_custom:
            return f"Surrogate({self.name!r}, peak={self.peak:.4g}{extra})"
        return f"Surrogate({self.name!r}, alpha={self.alpha:g}, peak={self.peak:.4g}{extra})"


def surrogate(
    spec: str | Surrogate | tuple[str, float] | Callable[[torch.Tensor], torch.Tensor] = "atan",
    alpha: float | None = None,
) -> Surrogate:
    """Build a :class:`Surrogate` from a name, a ``(name, alpha)`` pair, a Surrogate, or a callable
    ``σ'(x)`` (a custom surrogate, :meth:`Surrogate.custom`; ``alpha`` does not apply to it)."""
    if isinstance(spec, Surrogate):
        if alpha is not None and spec.is_custom:
            raise ValueError(f"alpha does not apply to the custom surrogate {spec.name}; close over it in the function")
        return spec if alpha is None else Surrogate(spec.name, alpha, spec.spiking)
    if isinstance(spec, tuple):
        return Surrogate(spec[0], spec[1] if alpha is None else alpha)
    if isinstance(spec, str):
        return Surrogate(spec, float("nan") if alpha is None else alpha)
    if callable(spec):
        if alpha is not None:
            raise ValueError("alpha does not apply to a custom surrogate function; close over it in the function")
        return Surrogate.custom(spec)
    raise TypeError(
        f"surrogate must be a name, a (name, alpha) tuple, a Surrogate or a function; got {type(spec)}"
    )


def heaviside(x: torch.Tensor, ge: bool = True) -> torch.Tensor:
    """``1[x >= 0]`` (``ge=True``) or ``1[x > 0]``, in ``x``'s dtype."""
    return (x >= 0).to(x.dtype) if ge else (x > 0).to(x.dtype)


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, sg: Surrogate, ge: bool) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.sg = sg
        return heaviside(x, ge)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * ctx.sg.derivative(x), None, None


def spike_fn(x: torch.Tensor, sg: Surrogate, ge: bool = True) -> torch.Tensor:
    """Heaviside spikes with a surrogate gradient: forward ``Θ(x)``, backward ``σ'(x)``.

    Parameters
    ----------
    x : Tensor, any shape
        ``H − V_th``.
    sg : Surrogate
    ge : bool
        Fire at ``x >= 0`` (SpikingJelly, QCFS; default) or only at ``x > 0`` (STBP, snnTorch, Norse).

    With ``sg.spiking == False`` the output is the smooth primitive ``g(x)`` instead (gradient checks).
    """
    if not sg.spiking:
        return sg.primitive(x)
    return _SpikeFn.apply(x, sg, ge)

"""The converted network: IF neurons in place of the ANN's activations, run for T steps.

Threshold form of the normalisation (spec §3.2 step 4b, SpikingJelly's
``VoltageScaler(1/λ) → IFNode(v_th=1, v_reset=None) → VoltageScaler(λ)``): a :class:`SpikingActivation`
divides its input current by the layer's scale λ (a scalar or one value per channel), runs
:class:`spikeforge.nn.IF` neurons with threshold 1, and multiplies the spikes by λ. The next layer's
weights are therefore unchanged, and the average output over T steps approximates the ANN's
activation ``clip(a, 0, λ)`` with an error O(1/T) (spec §3.1). The initial membrane ``v0`` is in units
of the threshold: ½ for QCFS (V_0 = ½·λ).

:class:`ConvertedSNN` runs the network over a time-first input ``[T, B, ...]``:

* ``mode="multi"`` (used automatically when the network is a tree of ``nn.Sequential``): layer by
  layer over the whole sequence; stateless layers see ``[T·B, ...]``, the neurons use the fused
  multi-step IF kernel. A direct-encoded input (``spikeforge.nn.repeat_in_time(x, T)``, a stride-0 view)
  passes the layers before the first neuron once instead of T times.
* ``mode="step"`` (any module, e.g. residual nets with a custom ``forward``): the network is called
  once per time step and every neuron keeps its membrane between the calls (reset at the start of each
  sequence). Slower; the readable twin the tests compare the multi-step path with.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from ..nn.functional import check_sequence
from ..nn.neurons import IF, _DetachedStateCopy
from ..nn.surrogate import Surrogate

__all__ = ["ConvertedSNN", "SpikingActivation", "check_v0", "is_sequential_tree"]

_RESETS = ("soft", "hard")


def check_v0(v0: object, *, stacklevel: int = 3) -> float:
    """``v0`` as a float: refuse a non-number or a non-finite value, warn outside ``[0, 1)``.

    Raises
    ------
    ValueError
        ``v0`` is not a real number, or is NaN / ±inf.
    """
    try:
        if isinstance(v0, (bool, str)):
            raise TypeError
        value = float(v0)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"v0 (initial membrane, in units of the threshold) must be a real number; got {v0!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"v0 (initial membrane, in units of the threshold) must be finite; got {value}")
    if not 0.0 <= value < 1.0:
        warnings.warn(
            f"v0 = {value:g} lies outside [0, 1) (units of the threshold): "
            + ("every neuron fires at the first step whatever its input" if value >= 1.0 else "the first spikes are delayed")
            + "; 0 or 0.5 are the usual values",
            UserWarning,
            stacklevel=stacklevel,
        )
    return value


class SpikingActivation(_DetachedStateCopy, nn.Module):
    """``x ↦ λ · IF(x / λ)``: IF neurons (threshold 1 after scaling) that replace a ReLU / QCFS.

    Parameters
    ----------
    scale : float or Tensor [] or [C]
        λ, the activation scale (threshold in input units), per layer or per channel (channel =
        dimension 1 of one step's activation ``[B, C, ...]``). Positive.
    v0 : float
        Initial membrane potential in units of the threshold (0, or ½ for QCFS). Finite; a value
        outside ``[0, 1)`` gives a warning.
    reset : {"soft", "hard"}
        Reset by subtraction (RMP, keeps the residual charge; default) or to zero.
    spike_compare : {">=", ">"}
        Firing comparison (spec §1.1: ``>=`` by default).
    surrogate : str or Surrogate or (name, alpha)
        Surrogate gradient used by hybrid fine-tuning (default: triangle, α = 1: peak 1, support
        ``|H − 1| < 1`` in threshold units).
    step_mode : {"m", "s"}
        ``[T, B, ...]`` sequences (default) or one step ``[B, ...]`` per call with the membrane kept in
        the module until :meth:`reset_state`.

    Attributes
    ----------
    spike_counts : Tensor [T] or None
        After a forward pass with ``record = True``: spikes per time step, summed over the batch and
        the neurons (in ``"s"`` mode: one entry appended per call).

    Raises
    ------
    ValueError
        Bad scale (not positive and finite, or more than one dimension), ``v0`` not finite, unknown
        ``reset`` or ``step_mode``.
    """

    def __init__(
        self,
        scale: float | torch.Tensor,
        *,
        v0: float = 0.0,
        reset: str = "soft",
        spike_compare: str = ">=",
        surrogate: str | Surrogate | tuple[str, float] = ("triangle", 1.0),
        step_mode: str = "m",
    ) -> None:
        super().__init__()
        scale = torch.as_tensor(scale, dtype=torch.float32).detach().clone()
        if scale.dim() > 1 or scale.numel() == 0:
            raise ValueError(f"scale must be a scalar or a [C] vector; got shape {tuple(scale.shape)}")
        if not bool(torch.isfinite(scale).all()) or bool((scale <= 0).any()):
            raise ValueError("scale (λ) must be positive and finite")
        if reset not in _RESETS:
            raise ValueError(f"reset must be one of {_RESETS}; got {reset!r}")
        if step_mode not in ("m", "s"):
            raise ValueError(f"step_mode must be 'm' or 's'; got {step_mode!r}")
        self.register_buffer("scale", scale)
        self.v0 = check_v0(v0)
        self.reset = reset
        self.neuron = IF(
            v_th=1.0,
            v_reset=None if reset == "soft" else 0.0,
            spike_compare=spike_compare,
            surrogate=surrogate,
            step_mode="m",
            return_state=True,
        )
        self.step_mode = step_mode
        self.record = False
        self.spike_counts: torch.Tensor | None = None
        self._v: torch.Tensor | None = None

    _STATE_ATTRS = ("_v", "spike_counts")

    def reset_state(self) -> None:
        """Forget the single-step membrane and the recorded spike counts."""
        self._v = None
        self.spike_counts = None

    def _scale_for(self, x: torch.Tensor, lead: int) -> torch.Tensor:
        """λ shaped to broadcast over ``x`` whose first ``lead`` dims precede the channel dim."""
        s = self.scale.to(x.dtype)
        if s.dim() == 0:
            return s
        if x.dim() <= lead or x.shape[lead] != s.shape[0]:
            raise ValueError(f"per-channel scale of {s.shape[0]} channels does not fit an activation of shape {tuple(x.shape)}")
        return s.reshape(s.shape[0], *([1] * (x.dim() - lead - 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, ...]`` (``"m"``) or ``[B, ...]`` (``"s"``) input current → scaled spikes, same shape."""
        if self.step_mode == "s":
            s = self._scale_for(x, 1)
            if self._v is None or self._v.shape != x.shape:
                self._v = torch.full_like(x, self.v0)
            spikes, self._v = self.neuron((x / s).unsqueeze(0), self._v)
            spikes = spikes[0]
            if self.record:
                c = spikes.detach().sum().reshape(1)
                self.spike_counts = c if self.spike_counts is None else torch.cat([self.spike_counts, c])
        else:
            x = check_sequence(x, name="input current")
            s = self._scale_for(x, 2)
            if x.shape[0] > 1 and x.stride(0) == 0:  # direct encoding: divide one step, keep the view
                xs = (x[0] / s).unsqueeze(0).expand_as(x)
            else:
                xs = x / s
            # the neuron is elementwise: run it on the memory order of the input (e.g. channels_last) so
            # that the kernel reads a contiguous tensor without a copy, then restore the logical order
            order = _memory_order(xs)
            xp = xs.permute(order)
            v0 = None if self.v0 == 0.0 else torch.full(xp.shape[1:], self.v0, dtype=x.dtype, device=x.device)
            spikes, _ = self.neuron(xp, v0)
            spikes = spikes.permute(_inverse(order))
            if self.record:
                self.spike_counts = spikes.detach().sum(dim=tuple(range(1, spikes.dim())))
        if torch.is_grad_enabled():
            return spikes * s
        return spikes.mul_(s)

    def extra_repr(self) -> str:
        sc = self.scale
        lam = f"{float(sc):.4g}" if sc.dim() == 0 else f"[{sc.numel()} channels, {float(sc.min()):.3g}..{float(sc.max()):.3g}]"
        return f"scale={lam}, v0={self.v0:g}, reset={self.reset}, step_mode='{self.step_mode}'"


def _memory_order(x: torch.Tensor) -> list[int]:
    """Dimension order ``[0, ...]`` in which one step of ``x [T, ...]`` is laid out in memory (outermost first)."""
    rest = sorted(range(1, x.dim()), key=lambda d: (-x.stride(d), d))
    return [0, *rest]


def _inverse(order: list[int]) -> list[int]:
    inv = [0] * len(order)
    for i, d in enumerate(order):
        inv[d] = i
    return inv


def is_sequential_tree(module: nn.Module) -> bool:
    """True when every module with children is a plain ``nn.Sequential`` (so the forward pass is the
    leaves in order)."""
    return all(
        isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward
        for m in _containers(module)
    )


def _containers(module: nn.Module):
    """Modules with children, not descending into :class:`SpikingActivation` (a leaf here)."""
    if isinstance(module, SpikingActivation) or not module._modules:
        return
    yield module
    for child in module.children():
        yield from _containers(child)


def _leaves(module: nn.Module):
    """The leaves in forward order of an ``nn.Sequential`` tree (:class:`SpikingActivation` is a leaf).

    A module that appears at several positions (weight tying) is yielded at each of them, as
    ``nn.Sequential.forward`` calls it (``children()`` would list it once)."""
    if isinstance(module, SpikingActivation) or not module._modules:
        yield module
        return
    for child in module._modules.values():
        if child is not None:
            yield from _leaves(child)


def _check_first_layer(net: nn.Module, layers: list[nn.Module], x_seq: torch.Tensor) -> None:
    """Refuse an ``x_seq`` whose step shape does not fit the first conv / linear layer (when only
    shape-preserving layers come before it), naming the layer instead of failing in a matmul."""
    shaped = (nn.Linear, nn.modules.conv._ConvNd)
    passing = (SpikingActivation, nn.Identity, nn.modules.dropout._DropoutNd)
    first = next((m for m in layers if not isinstance(m, passing)), None)
    if not isinstance(first, shaped) or isinstance(first, nn.modules.lazy.LazyModuleMixin):
        return
    if isinstance(first, nn.Linear):
        fits = x_seq.shape[-1] == first.in_features
        want = f"{first.in_features} input features; x_seq must be [T, B, ..., {first.in_features}]"
    else:
        dims = len(first.kernel_size)
        fits = x_seq.dim() == dims + 3 and x_seq.shape[2] == first.in_channels
        want = (
            f"{first.in_channels} input channels; x_seq must be [T, B, {first.in_channels}, ...] with {dims} "
            "spatial dimension(s)"
        )
    if not fits:
        name = next((n for n, m in net.named_modules() if m is first), "?")
        raise ValueError(
            f"x_seq of shape {tuple(x_seq.shape)} does not fit the first layer '{name}' ({type(first).__name__}) "
            f"with {want} (time first)"
        )


class ConvertedSNN(nn.Module):
    """A converted spiking network: ``[T, B, ...]`` input → ``[T, B, K]`` output of the last layer per step.

    The prediction after ``T`` steps is the average output ``out[:T].mean(0)`` (spec §3.2 step 7);
    :func:`spikeforge.conversion.accuracy_over_time` reads every ``T ≤ T_max`` from one run.

    Parameters
    ----------
    net : nn.Module
        The network with :class:`SpikingActivation` in place of the activations. The wrapper takes its
        ``training`` flag (:func:`spikeforge.conversion.convert` returns it in evaluation mode).
    mode : {"auto", "multi", "step"}
        Execution (see the module docstring); ``auto`` picks ``multi`` for ``nn.Sequential`` trees.
    method : str
        How the scales were chosen (informational).
    """

    def __init__(self, net: nn.Module, *, mode: str = "auto", method: str = "") -> None:
        super().__init__()
        if mode not in ("auto", "multi", "step"):
            raise ValueError(f"mode must be 'auto', 'multi' or 'step'; got {mode!r}")
        tree = is_sequential_tree(net)
        if mode == "multi" and not tree:
            raise ValueError("mode='multi' needs a network made of nn.Sequential containers; use mode='step'")
        self.net = net
        self.training = net.training  # not train(): that would overwrite the flags of net's modules
        self.mode = "multi" if (mode == "auto" and tree) or mode == "multi" else "step"
        self.method = method
        for m in self.spiking_layers().values():
            m.step_mode = "m" if self.mode == "multi" else "s"

    def spiking_layers(self) -> dict[str, SpikingActivation]:
        """Qualified name → :class:`SpikingActivation`, in registration order."""
        return {n: m for n, m in self.net.named_modules() if isinstance(m, SpikingActivation)}

    def scales(self) -> dict[str, torch.Tensor]:
        """Name → scale λ (threshold in input units) of each spiking layer (copies)."""
        return {n: m.scale.detach().clone() for n, m in self.spiking_layers().items()}

    def set_record(self, on: bool = True) -> None:
        """Record spikes per step in every spiking layer (see :attr:`SpikingActivation.spike_counts`)."""
        for m in self.spiking_layers().values():
            m.record = on
            m.spike_counts = None

    def spike_counts(self) -> dict[str, torch.Tensor]:
        """Name → spikes per step ``[T]`` (summed over batch and neurons) of the last recorded forward."""
        return {n: m.spike_counts for n, m in self.spiking_layers().items() if m.spike_counts is not None}

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """Run ``T`` steps.

        Parameters
        ----------
        x_seq : Tensor [T, B, ...]
            Input per step: ``repeat_in_time(x, T)`` for analog (direct) input, or spike trains
            (rate or latency coded). Same units as the ANN's input.

        Returns
        -------
        Tensor [T, B, ...]: the last layer's output at each step.

        Raises
        ------
        TypeError
            ``x_seq`` not a floating-point tensor.
        ValueError
            In multi-step mode: ``x_seq`` with fewer than 3 dimensions (e.g. ``[B, F]`` without the time
            axis), or a shape that does not fit the first conv / linear layer (named). In step mode each
            ``x_seq[t]`` goes to the network as it is (``[T, F]`` is one unbatched sample).
        """
        x_seq = check_sequence(x_seq, name="x_seq")
        T, B = x_seq.shape[:2]
        if self.mode == "step":  # each step x_seq[t] goes to net as it is (an unbatched step is allowed)
            for m in self.spiking_layers().values():
                m.reset_state()
            return torch.stack([self.net(x_seq[t]) for t in range(T)])
        if x_seq.dim() < 3:  # multi-step layers see [T·B, ...]: a 2-D input would reach them as 1-D
            raise ValueError(
                f"x_seq must be [T, B, ...] with the time axis first; got shape {tuple(x_seq.shape)}. For an "
                "analog input x [B, ...] use spikeforge.nn.repeat_in_time(x, T)"
            )
        for m in self.spiking_layers().values():
            m.spike_counts = None
        layers = list(_leaves(self.net))
        _check_first_layer(self.net, layers, x_seq)
        h = x_seq
        static = T > 1 and x_seq.stride(0) == 0
        if static:
            h = x_seq[0]
        for layer in layers:
            if isinstance(layer, SpikingActivation):
                if static:
                    h = h.unsqueeze(0).expand(T, *h.shape)
                    static = False
                h = layer(h)
            elif static:
                h = layer(h)
            else:
                h = layer(h.flatten(0, 1)).unflatten(0, (T, B))
        if static:  # no spiking layer at all
            h = h.unsqueeze(0).expand(T, *h.shape)
        return h

    def extra_repr(self) -> str:
        return f"mode='{self.mode}', method='{self.method}'"

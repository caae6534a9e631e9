"""Trace STDP for ``torch.nn.Linear`` / ``torch.nn.Conv2d`` layers (the counterpart of
SpikingJelly's ``STDPLearner``), with exactly the semantics of :class:`~.trace_stdp.TraceSTDP`.

Spikes are time-first 0/1 tensors: ``pre`` [T, B, I] and ``post`` [T, B, O] for a linear layer
with ``weight`` [O, I]; ``pre`` [T, B, C_in, H, W] and ``post`` [T, B, C_out, H', W'] for a
convolution with ``weight`` [C_out, C_in, kH, kW]. Step ``t`` lasts ``dt_ms`` milliseconds. Each
step, for every synapse ``i → o`` (as :func:`~.trace_stdp.trace_stdp_reference` and the engine
:mod:`spikeforge.sim` do; the pre event comes first at equal steps)::

    x  ← x·e^{−dt/τ_pre};   y1 ← y1·e^{−dt/τ_post};   y2 ← y2·e^{−dt/τ_post2}
    pre spike:   x ← bump(x);   Δw −= lr1·A−·y1                  (y1 from before this step's post spike)
    post spike:  Δw += lr2·A+·x·(y2 if triplet else 1);   y1, y2 ← bump(y1), bump(y2)

with ``bump(v) = 1`` (``rule.nearest``) or ``v + 1`` (all-to-all). So a pre and a post spike at
the same step pair with ``Δt = 0`` and potentiate by ``A+``. The decays are exact exponentials,
as in the reference; the engine instead drops a trace once it has decayed below 1e-7 (its
:func:`~.trace_stdp.decay_table`), a difference below ``1e-7·A±`` per pairing. The gates
``lr1`` / ``lr2`` are scalars or one value per postsynaptic neuron / output channel
(``(1, 1)`` STDP, ``(1, −1)`` All-LTD, :data:`~.trace_stdp.GATES`). Presynaptic spikes act at
the step they are given (shift ``pre`` for a transmission delay). The use-it-or-lose-it decay
(``rule.prune_tau_ms``) is not supported here.

**Bounds.** With ``mu_plus = mu_minus = 0`` (the default) the rule is additive; its only weight
dependence is the clipping to ``[w_min, w_max]``. By default the functions return the unclipped
sum of the updates over the sequence (and over the batch: ``reduction``), and
:class:`STDPUpdater` clips once after adding it. The reference and the engine clip after every
event, so the two agree exactly while the weight stays inside the bounds (tested with ``B = 1``);
when a weight reaches a bound mid-sequence the reference loses the updates that would push it
further (a later opposite update then starts from the bound), while the summed form lets them
cancel first. ``online_clip=True`` reproduces the reference's trajectory instead: the weight is
advanced step by step, ``w ← clip(w + Δw_pre)`` then ``w ← clip(w + Δw_post)`` with each phase
reduced over the batch (and, for a convolution, summed over positions), and ``w_T − weight`` is
returned; with ``B = 1`` and a linear layer this equals the reference's total change at the bounds
too. As in the reference, only synapses with an event in a phase are clipped (a pre spike of their
input, resp. a post spike of their output, in any sample of the batch): a weight outside the bounds
that sees no event is left as it is.

**Weight dependence** (``rule.mu_plus`` / ``rule.mu_minus`` > 0, soft bounds) needs the weight at
every step, so it is supported only with ``online_clip=True``: each phase's reduced change is
scaled elementwise by the factor of the current weight before it is added,
``w ← clip(w − Δw_pre·f−(w))``, ``w ← clip(w + Δw_post·f+(w))`` with
``f+(w) = ((w_max − w)/(w_max − w_min))^μ+`` and ``f−(w) = ((w − w_min)/(w_max − w_min))^μ−``
(the ratio clamped to ``[0, 1]``), as in :func:`~.trace_stdp.trace_stdp_reference`; with
``B = 1`` and a linear layer it equals the reference. The summed default refuses such a rule.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .trace_stdp import TraceSTDP

__all__ = ["STDPTraceState", "STDPUpdater", "trace_stdp_conv1d", "trace_stdp_conv2d", "trace_stdp_linear"]

_REDUCTIONS = ("sum", "mean")
#: elements of one chunk of steps: bounds the memory of the traces and of the per-chunk contraction
_CHUNK_ELEMENTS = 1 << 24


@dataclass(frozen=True, eq=False)
class STDPTraceState:
    """Traces after the last step of a call, to continue a sequence in the next call.

    Attributes
    ----------
    x : Tensor
        Presynaptic trace: [B, I] (linear), [B, C_in, L] (conv1d) or [B, C_in, H, W] (conv2d).
    y1 : Tensor
        Postsynaptic trace ``y1`` (``τ_post``): [B, O], [B, C_out, L'] or [B, C_out, H', W'].
    y2 : Tensor or None
        Second postsynaptic trace (``τ_post2``, triplet rules), shaped as ``y1``; None for a rule
        without ``tau_post2_ms``.
    e : Tensor or None
        Eligibility trace of reward-modulated calls (``reward=``), one per sample and synapse:
        [B, *weight.shape] (weight units); None when the call had no reward.
    """

    x: Tensor
    y1: Tensor
    y2: Tensor | None = None
    e: Tensor | None = None


# --------------------------------------------------------------------------- argument checks
def _fmt(shape: Any) -> str:
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def _check_rule(rule: Any, online_clip: bool) -> TraceSTDP:
    if not isinstance(rule, TraceSTDP):
        raise TypeError(f"rule must be a spikeforge.plasticity.TraceSTDP; got {type(rule).__name__}")
    if rule.prune_tau_ms is not None:
        raise ValueError("the use-it-or-lose-it decay (rule.prune_tau_ms) is not supported on torch layers; "
                         "use rule.replace(prune_tau_ms=None), or the spikeforge.sim engine")
    if (rule.mu_plus != 0.0 or rule.mu_minus != 0.0) and not online_clip:
        raise ValueError(f"a weight-dependent rule (mu_plus = {rule.mu_plus}, mu_minus = {rule.mu_minus}) needs the "
                         "weight at every step: pass online_clip=True")
    return rule


def _soft_bound(distance: Tensor, span: float, mu: float) -> Tensor:
    """``(distance/span)^μ`` with the ratio clamped to [0, 1] (:func:`~.trace_stdp.stdp_ltp_factor`,
    :func:`~.trace_stdp.stdp_ltd_factor`); only called for ``μ > 0``."""
    return distance.div_(span).clamp_(0.0, 1.0).pow_(mu)


def _check_dt(dt_ms: Any) -> float:
    if isinstance(dt_ms, bool) or not isinstance(dt_ms, (int, float)) or not (math.isfinite(dt_ms) and dt_ms > 0):
        raise ValueError(f"dt_ms must be a positive finite number (ms); got {dt_ms!r}")
    return float(dt_ms)


def _check_reduction(reduction: Any) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be 'sum' or 'mean'; got {reduction!r}")
    return reduction


def _check_weight(weight: Any, ndim: int, layout: str) -> Tensor:
    if not isinstance(weight, Tensor):
        raise TypeError(f"weight must be a torch.Tensor; got {type(weight).__name__}")
    if weight.dim() != ndim:
        raise ValueError(f"weight must have shape {layout}; got {weight.dim()}-D {_fmt(weight.shape)}")
    if not weight.is_floating_point():
        raise ValueError(f"weight must be a floating-point tensor; got dtype {weight.dtype}")
    return weight


def _spikes(s: Any, name: str, layout: str, expected: tuple[int | None, ...], dtype: torch.dtype,
            device: torch.device) -> Tensor:
    """``s`` as a ``dtype`` tensor on ``device``, checked against ``expected`` (None: any size)."""
    if not isinstance(s, Tensor):
        s = torch.as_tensor(s)
    if s.dim() != len(expected):
        raise ValueError(f"{name} must have shape {layout} (time first); got {s.dim()}-D {_fmt(s.shape)}")
    for size, want, axis in zip(s.shape, expected, layout.strip("[]").split(", ")):
        if want is not None and size != want:
            want_text = "[" + ", ".join("?" if w is None else str(w) for w in expected) + "]"
            raise ValueError(f"{name} must have shape {layout} = {want_text} (time first); got "
                             f"{_fmt(s.shape)} ({axis} = {size}, expected {want})")
    if s.dtype.is_complex:
        raise ValueError(f"{name} must hold real 0/1 spikes; got dtype {s.dtype}")
    if s.dtype != torch.bool:
        bad = (s != 0) & (s != 1)
        if bool(bad.any()):
            if s.is_floating_point() and not bool(torch.isfinite(s).all()):
                raise ValueError(f"{name} contains non-finite values (NaN or inf); spikes must be 0 or 1")
            raise ValueError(f"{name} must hold 0/1 spikes; got the value {s[bad].flatten()[0].item()!r}")
    return s.to(device=device, dtype=dtype)


def _gate(value: Any, name: str, n: int, what: str, shape: tuple[int, ...], dtype: torch.dtype,
          device: torch.device) -> Tensor | float:
    """A gate as a float, or as a tensor [n] reshaped to ``shape`` for broadcasting."""
    if isinstance(value, Tensor) and value.dim() > 0:
        if value.shape != (n,):
            raise ValueError(f"{name} must be a number or a tensor of shape [{n}] (one per {what}); "
                             f"got {_fmt(value.shape)}")
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"{name} must be finite")
        return value.to(device=device, dtype=dtype).reshape(shape)
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a finite number or a tensor of shape [{n}]; got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number or a tensor of shape [{n}]; got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite; got {v}")
    return v


def _initial_state(state: STDPTraceState | None, rule: TraceSTDP, pre_shape: tuple[int, ...],
                   post_shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
                   ) -> tuple[Tensor, Tensor, Tensor | None]:
    """Fresh copies (never aliased to ``state``) of the traces to start from."""
    triplet = rule.tau_post2_ms is not None
    if state is None:
        zeros = lambda shape: torch.zeros(shape, dtype=dtype, device=device)  # noqa: E731
        return zeros(pre_shape), zeros(post_shape), zeros(post_shape) if triplet else None
    if not isinstance(state, STDPTraceState):
        raise TypeError(f"state must be an STDPTraceState or None; got {type(state).__name__}")
    pairs = (("x", state.x, pre_shape), ("y1", state.y1, post_shape))
    if triplet:
        if state.y2 is None:
            raise ValueError("state.y2 is None but the rule has a triplet trace (tau_post2_ms); "
                             "the state was made with another rule")
        pairs += (("y2", state.y2, post_shape),)
    out = []
    for name, value, shape in pairs:
        if not isinstance(value, Tensor) or tuple(value.shape) != tuple(shape):
            got = _fmt(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"state.{name} must have shape {_fmt(shape)} ([B, ...] of this call); got {got} "
                             "(a new batch needs a new state)")
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"state.{name} contains non-finite values")
        out.append(value.detach().to(device=device, dtype=dtype).clone())
    return out[0], out[1], out[2] if triplet else None


def _check_tau_e(tau_e_ms: Any) -> float:
    """The eligibility time constant (ms) as a float; ``ValueError`` unless non-negative and finite."""
    if isinstance(tau_e_ms, (bool, np.bool_)) or not isinstance(tau_e_ms, numbers.Real) or not (
            math.isfinite(tau_e_ms) and tau_e_ms >= 0):
        raise ValueError(f"tau_e_ms must be a non-negative finite number (ms); got {tau_e_ms!r}")
    return float(tau_e_ms)


def _reward(reward: Any, tau_e_ms: Any, dt_ms: float, online_clip: bool, T: int, B: int, n_out: int,
            dtype: torch.dtype, device: torch.device) -> tuple[Tensor | None, float]:
    """The reward as a [T, B, K] tensor (``K = 1``: one per sample, ``K = n_out``: one per output neuron /
    channel; None without a reward) and the eligibility's decay factor per step (``exp(−dt/τ_e)``, 0 for
    ``τ_e = 0``)."""
    tau_e_ms = _check_tau_e(tau_e_ms)
    if reward is None:
        return None, 0.0
    if online_clip:
        raise ValueError("reward-modulated STDP (reward=) returns the summed change; it is not supported with "
                         "online_clip=True")
    r = reward if isinstance(reward, Tensor) else torch.as_tensor(reward)
    if r.dtype == torch.bool or r.dtype.is_complex or r.dim() not in (1, 2, 3) or r.shape[0] != T or (
            r.dim() >= 2 and r.shape[1] != B) or (r.dim() == 3 and r.shape[2] != n_out):
        raise ValueError(f"reward must be a real tensor of shape [T] = [{T}] (one per step), [T, B] = [{T}, {B}] "
                         f"(one per step and sample) or [T, B, n_out] = [{T}, {B}, {n_out}] (one per step, sample and "
                         f"output neuron / channel); got {r.dim()}-D {_fmt(r.shape)} of dtype {r.dtype}")
    r = r.to(device=device, dtype=dtype)
    if not bool(torch.isfinite(r).all()):
        raise ValueError("reward contains non-finite values (NaN or inf)")
    d_e = math.exp(-dt_ms / tau_e_ms) if tau_e_ms > 0 else 0.0
    if r.dim() == 1:
        r = r[:, None].expand(T, B)
    return (r[:, :, None] if r.dim() == 2 else r), d_e


def _initial_eligibility(state: STDPTraceState | None, rewarded: bool, shape: tuple[int, ...], dtype: torch.dtype,
                         device: torch.device) -> Tensor | None:
    """A fresh copy of ``state.e`` (None when there is none); a carried eligibility needs a reward."""
    e = None if state is None else state.e
    if e is None:
        return None
    if not rewarded:
        raise ValueError("state carries an eligibility trace (it comes from a call with reward=): pass reward= "
                         "(zeros for steps without reward), or start a new state")
    if not isinstance(e, Tensor) or tuple(e.shape) != tuple(shape):
        got = _fmt(e.shape) if isinstance(e, Tensor) else type(e).__name__
        raise ValueError(f"state.e must have shape {_fmt(shape)} ([B, *weight.shape] of this call); got {got}")
    if not bool(torch.isfinite(e).all()):
        raise ValueError("state.e contains non-finite values")
    return e.detach().to(device=device, dtype=dtype).clone()


# --------------------------------------------------------------------------- the shared core
#: headroom (a factor 2**_FLUSH_BITS above the smallest normal number) of the denormal flush
_FLUSH_BITS = 26


def _flush_(v: Tensor) -> Tensor:
    """Zero, in place, the entries of ``v`` within ``2**26`` of the dtype's smallest normal number
    (≈ 7.9e-31 in float32): a trace that small contributes nothing, and letting it decay on into the
    denormal range makes CPU arithmetic on it many times slower (``benchmarks/torch_stdp_denormals.py``)."""
    if v.is_floating_point():
        v.masked_fill_(v.abs() < torch.finfo(v.dtype).tiny * 2.0 ** _FLUSH_BITS, 0)
    return v


def _flush_every(dt_ms: float, *taus_ms: float) -> int:
    """Steps between flushes of the traces: an entry at or above the flush level when flushed cannot decay
    below the smallest normal number before the next flush (``2**26`` headroom at the fastest decay)."""
    return max(1, int(_FLUSH_BITS * math.log(2.0) * min(taus_ms) / dt_ms))


def _trace_chunks(pre: Tensor, post: Tensor, rule: TraceSTDP, dt_ms: float, x: Tensor, y1: Tensor,
                  y2: Tensor | None, chunk: int) -> Iterator[tuple[int, Tensor, Tensor, Tensor | None]]:
    """Trace sequences, ``chunk`` steps at a time: yields ``(t0, xs, y1s, y2s)`` for steps
    ``t0 … t0 + len(xs) − 1``, with ``x`` after the step's pre bump [t, B, ...pre] and ``y1`` / ``y2``
    decayed but before the step's post bump [t, B, ...post]. The buffers are reused from chunk to
    chunk (the caller may overwrite them), so memory is bounded by ``chunk``, not by ``T``; ``x``,
    ``y1``, ``y2`` hold the traces after the last step yielded. Every :func:`_flush_every` steps the
    traces are flushed (:func:`_flush_`), so that none ever enters the denormal range."""
    d_pre = math.exp(-dt_ms / rule.tau_pre_ms)
    d_post = math.exp(-dt_ms / rule.tau_post_ms)
    d_post2 = math.exp(-dt_ms / rule.tau_post2_ms) if y2 is not None else 0.0
    T = pre.shape[0]
    n = min(chunk, T)
    xs_buf, y1s_buf = pre.new_empty((n, *pre.shape[1:])), post.new_empty((n, *post.shape[1:]))
    y2s_buf = post.new_empty((n, *post.shape[1:])) if y2 is not None else None
    every = _flush_every(dt_ms, rule.tau_pre_ms, rule.tau_post_ms, *((rule.tau_post2_ms,) if y2 is not None else ()))

    def bump(v: Tensor, s: Tensor) -> None:
        if rule.nearest:  # exact for s in {0, 1}: v·0 + 1 or v·1 + 0
            v.mul_(1.0 - s).add_(s)
        else:
            v.add_(s)

    for t0 in range(0, T, n):
        m = min(n, T - t0)
        xs, y1s = xs_buf[:m], y1s_buf[:m]
        y2s = y2s_buf[:m] if y2s_buf is not None else None
        for k in range(m):
            t = t0 + k
            if t % every == 0:
                for v in (x, y1, y2):
                    if v is not None:
                        _flush_(v)
            x.mul_(d_pre)
            bump(x, pre[t])
            xs[k] = x
            y1.mul_(d_post)
            y1s[k] = y1
            if y2 is not None:
                y2.mul_(d_post2)
                y2s[k] = y2
                bump(y2, post[t])
            bump(y1, post[t])
        yield t0, xs, y1s, y2s


@torch.no_grad()  # a weight change is not part of any autograd graph (gates with requires_grad included)
def _stdp(pre: Tensor, post: Tensor, weight: Tensor, rule: TraceSTDP, dt_ms: float, reduction: str,
          state: STDPTraceState | None, lr1: Any, lr2: Any, online_clip: bool, gate_shape: tuple[int, ...],
          contract, rows_per_step: int, reward: Any = None, tau_e_ms: Any = 0.0,
          want_state: bool = True) -> tuple[Tensor, STDPTraceState]:
    """Both layer types: ``contract(post_side [N, ...post], pre_side [N, ...pre]) -> [*weight.shape]``
    sums ``post_side ⊗ pre_side`` over the rows (and positions). Time is processed in chunks of
    steps that bound the memory of the traces and of the contraction (:data:`_CHUNK_ELEMENTS`).

    With a reward ``r`` [T, B, K] (``K`` = 1 or one per output) the change is ``Σ_t r(t)·e(t)`` with the eligibility
    ``e(t) = d·e(t − 1) + Δ(t)`` (``d = exp(−dt/τ_e)``, ``Δ(t)`` the step's STDP change, per sample),
    computed without materialising ``e(t)``: ``Σ_t r(t)·e(t) = Σ_s R(s)·Δ(s) + c·e(−1)`` with the
    backward-filtered reward ``R(s) = Σ_{t ≥ s} r(t)·d^{t−s}`` and ``c = Σ_t r(t)·d^{t+1}``. The
    eligibility after the last step (``d^T·e(−1) + Σ_s d^{T−1−s}·Δ(s)``) is computed only when
    ``want_state``."""
    T, B = pre.shape[:2]
    dtype = torch.promote_types(weight.dtype, torch.float32)
    device = weight.device
    n_out = weight.shape[0]
    g1 = _gate(lr1, "lr1", n_out, "postsynaptic neuron / output channel", gate_shape, dtype, device)
    g2 = _gate(lr2, "lr2", n_out, "postsynaptic neuron / output channel", gate_shape, dtype, device)
    if B == 0:
        raise ValueError("pre and post must have a batch size B >= 1 (shape [T, B, ...]); got B = 0")
    r, d_e = _reward(reward, tau_e_ms, dt_ms, online_clip, T, B, n_out, dtype, device)
    x, y1, y2 = _initial_state(state, rule, tuple(pre.shape[1:]), tuple(post.shape[1:]), dtype, device)
    e_prev = _initial_eligibility(state, r is not None, (B, *weight.shape), dtype, device)
    e_new = None
    if r is not None and want_state and d_e > 0.0:  # τ_e = 0: the eligibility is the step's change only, never carried
        e_new = e_prev * d_e ** T if e_prev is not None else torch.zeros((B, *weight.shape), dtype=dtype, device=device)
    if T == 0:
        return torch.zeros_like(weight), STDPTraceState(x, y1, y2, e_new)
    # elements per step: the contraction's (``rows_per_step`` per batch element) or the trace buffers (xs, y1s, y2s, pot)
    per_step = max(B * rows_per_step, pre[0].numel() + 3 * post[0].numel())
    chunk = max(1, _CHUNK_ELEMENTS // max(1, per_step))
    chunks = _trace_chunks(pre, post, rule, dt_ms, x, y1, y2, chunk)
    if weight.numel() == 0:  # a layer without synapses (e.g. nn.Linear(3, 0)): only the traces move
        for _ in chunks:
            pass
        return torch.zeros_like(weight), STDPTraceState(x, y1, y2, e_new)
    scale = 1.0 / B if reduction == "mean" else 1.0
    if online_clip:
        if not bool(torch.isfinite(weight).all()):
            raise ValueError("weight contains non-finite values")
        w0 = weight.detach().to(dtype)
        w = w0.clone()
        span = rule.w_max - rule.w_min
        ones_post, ones_pre = None, None
    else:
        dw = torch.zeros(weight.shape, dtype=dtype, device=device)
    if r is not None:
        if d_e == 0.0:  # no eligibility trace: the filter is the identity
            R = r
        else:
            R = torch.empty_like(r)  # backward-filtered reward [T, B, K]
            acc = torch.zeros_like(r[0])
            for t in range(T - 1, -1, -1):
                acc = r[t] + d_e * acc
                R[t] = acc
            _flush_(R)
        steps = torch.arange(T, dtype=dtype, device=device)
        if e_prev is not None:  # what the eligibility carried in from the previous call still earns
            c = (r * (d_e ** (steps + 1))[:, None, None]).sum(0)  # [B, K]
            dw.add_((c.reshape(*c.shape, *([1] * (e_prev.dim() - 2))) * e_prev).sum(0))
        q = _flush_(d_e ** (T - 1 - steps))  # weight of step s in the final eligibility
    for t0, xs, y1s, y2s in chunks:
        # post-side factors of the two phases: depression D (pairs with pre), potentiation P (with x)
        m = xs.shape[0]
        pre_c, post_c = pre[t0:t0 + m], post[t0:t0 + m]
        dep = y1s.mul_(g1 * rule.a_minus)
        pot = post_c * (g2 * rule.a_plus)
        if y2s is not None:
            pot.mul_(y2s)
        if r is not None:
            if e_new is not None:  # per sample: Σ_s d^{T−1−s}·Δ_b(s)
                qc = q[t0:t0 + m].reshape(m, *([1] * (pot.dim() - 2)))
                for b in range(B):
                    e_new[b].add_(contract(pot[:, b] * qc, xs[:, b]))
                    e_new[b].sub_(contract(dep[:, b] * qc, pre_c[:, b]))
            rc = R[t0:t0 + m].reshape(m, B, R.shape[2], *([1] * (pot.dim() - 3)))
            pot.mul_(rc)
            dep = dep * rc
        if not online_clip:  # one contraction over the chunk's steps
            dw.add_(contract(pot.reshape(-1, *pot.shape[2:]), xs.reshape(-1, *xs.shape[2:])))
            dw.sub_(contract(dep.reshape(-1, *dep.shape[2:]), pre_c.reshape(-1, *pre_c.shape[2:])))
            continue
        if ones_post is None:
            ones_post, ones_pre = torch.ones_like(dep[0]), torch.ones_like(xs[0])
        for k in range(m):
            # as the reference, a synapse is clipped at its events only: in the pre phase where its
            # presynaptic neuron spiked, in the post phase where its postsynaptic neuron spiked
            if bool(pre_c[k].any()):
                d = contract(dep[k], pre_c[k])
                if rule.mu_minus != 0.0:  # weight dependence of the weight before this phase
                    d.mul_(_soft_bound(w - rule.w_min, span, rule.mu_minus))
                w.sub_(d, alpha=scale)
                hit = contract(ones_post, pre_c[k]) != 0
                w.copy_(torch.where(hit, w.clamp(rule.w_min, rule.w_max), w))
            if bool(post_c[k].any()):
                p = contract(pot[k], xs[k])
                if rule.mu_plus != 0.0:
                    p.mul_(_soft_bound(rule.w_max - w, span, rule.mu_plus))
                w.add_(p, alpha=scale)
                hit = contract(post_c[k], ones_pre) != 0
                w.copy_(torch.where(hit, w.clamp(rule.w_min, rule.w_max), w))
    new_state = STDPTraceState(x, y1, y2, e_new)
    if online_clip:
        return (w - w0).to(weight.dtype), new_state
    return dw.mul_(scale).to(weight.dtype), new_state


# --------------------------------------------------------------------------- linear
def trace_stdp_linear(
    pre: Tensor,
    post: Tensor,
    weight: Tensor,
    rule: TraceSTDP,
    dt_ms: float,
    *,
    reduction: str = "sum",
    state: STDPTraceState | None = None,
    return_state: bool = False,
    lr1: float | Tensor = 1.0,
    lr2: float | Tensor = 1.0,
    online_clip: bool = False,
    reward: Tensor | None = None,
    tau_e_ms: float = 0.0,
) -> Tensor | tuple[Tensor, STDPTraceState]:
    """Weight change of a ``torch.nn.Linear`` layer under trace STDP over a spike sequence.

    The semantics are those of :class:`~.trace_stdp.TraceSTDP` and
    :func:`~.trace_stdp.trace_stdp_reference` (see the module docstring): per step the traces
    decay by ``e^{−dt/τ}``, a pre spike bumps ``x`` and depresses by ``lr1·A−·y1``, then a post
    spike potentiates by ``lr2·A+·x·(y2 if triplet)`` and bumps ``y1``, ``y2``. Vectorised over
    batch and synapses; one Python iteration per time step.

    Parameters
    ----------
    pre : Tensor [T, B, I]
        Presynaptic (input) spikes, 0/1, float or bool; time first.
    post : Tensor [T, B, O]
        Postsynaptic (output) spikes, 0/1, on the same steps.
    weight : Tensor [O, I]
        The layer's weight (``layer.weight``): gives shape, dtype and device; it is the starting
        weight with ``online_clip=True`` and is otherwise not read. Not modified.
    rule : TraceSTDP
        Amplitudes ``A+`` / ``A−`` (weight units), time constants (ms), nearest or all-to-all
        traces, bounds (weight units), weight-dependence exponents ``mu_plus`` / ``mu_minus``
        (dimensionless; > 0 only with ``online_clip=True``). ``prune_tau_ms`` must be None.
    dt_ms : float
        Duration of one time step (ms).
    reduction : {"sum", "mean"}
        How the batch is combined: the sum of the per-sample changes, or that sum divided by B.
    state : STDPTraceState, optional
        Traces at the end of the previous chunk of the same sequences (``x`` [B, I], ``y1`` and
        ``y2`` [B, O]); None starts from zero traces. Not modified.
    return_state : bool
        Also return the traces after the last step, to pass as ``state`` to the next chunk.
    lr1, lr2 : float or Tensor [O]
        Gates of the pre-event (depression) and post-event (potentiation) updates, one value or
        one per postsynaptic neuron: ``(1, 1)`` STDP, ``(1, −1)`` All-LTD, ``(0, 0)`` off.
    online_clip : bool
        Advance the weight step by step, clipped to ``[rule.w_min, rule.w_max]`` after each
        phase where the synapse had an event (and scaled by the weight dependence of ``rule.mu_plus`` / ``mu_minus``), and return
        ``w_T − weight`` (the reference's semantics at the bounds); by default the unclipped sum
        of the updates. Required for a rule with ``mu_plus`` or ``mu_minus`` > 0.
    reward : Tensor [T], [T, B] or [T, B, O], optional
        Reward-modulated STDP (MSTDP / MSTDPET, Florian 2007; BindsNET's ``MSTDP`` / ``MSTDPET``):
        the change becomes ``Σ_t r(t)·e(t)`` per sample (and per output neuron with ``[T, B, O]``), with the eligibility
        ``e(t) = e(t − 1)·exp(−dt/τ_e) + Δ(t)`` of the step changes ``Δ(t)`` above (so a reward
        credits the pairings of the last ≈ τ_e ms). ``r`` is one value per step (all samples) or per
        step and sample; dimensionless (a reward of 1 on every step with ``tau_e_ms=0`` gives plain
        STDP). Not with ``online_clip`` (the change is the unclipped sum);
        :func:`~.trace_stdp.reward_stdp_reference` is the readable reference.
    tau_e_ms : float
        Time constant of the eligibility trace (ms); 0 (default) leaves none (MSTDP). With
        ``tau_e_ms > 0`` and ``return_state=True`` the eligibility after the last step is returned in
        ``state.e`` ([B, O, I]: ``B·O·I`` numbers) so that chunked calls equal one call (with 0 nothing
        is carried: ``state.e`` is None).

    Returns
    -------
    dw : Tensor [O, I]
        Weight change, in ``weight``'s dtype (computed in at least float32).
    state : STDPTraceState
        Only with ``return_state=True``.

    Raises
    ------
    ValueError
        If ``pre`` / ``post`` are not 3-D, their T or B differ, ``I`` / ``O`` do not match
        ``weight`` [O, I], B is 0, a spike is not 0/1 or is not finite, ``dt_ms`` is not a
        positive finite number, ``reduction`` is unknown, a gate is not finite or not [O],
        ``state`` does not match the batch or the rule, the rule has ``prune_tau_ms``, the rule
        has ``mu_plus`` or ``mu_minus`` > 0 without ``online_clip=True``, ``reward`` is not
        finite or not [T] / [T, B] / [T, B, O], ``reward`` with ``online_clip``, ``tau_e_ms`` negative or not
        finite, or ``state`` carries an eligibility (``state.e``) and ``reward`` is None.
    TypeError
        If ``weight`` is not a tensor, ``rule`` not a TraceSTDP or ``state`` not an STDPTraceState.
    """
    rule = _check_rule(rule, online_clip)
    dt_ms = _check_dt(dt_ms)
    reduction = _check_reduction(reduction)
    weight = _check_weight(weight, 2, "[O, I]")
    n_out, n_in = weight.shape
    dtype = torch.promote_types(weight.dtype, torch.float32)
    pre = _spikes(pre, "pre", "[T, B, I]", (None, None, n_in), dtype, weight.device)
    post = _spikes(post, "post", "[T, B, O]", (pre.shape[0], pre.shape[1], n_out), dtype, weight.device)

    def contract(post_side: Tensor, pre_side: Tensor) -> Tensor:
        return post_side.reshape(-1, n_out).t() @ pre_side.reshape(-1, n_in)

    dw, new_state = _stdp(pre, post, weight, rule, dt_ms, reduction, state, lr1, lr2, online_clip,
                          (n_out,), contract, n_in + n_out, reward, tau_e_ms, return_state)
    return (dw, new_state) if return_state else dw


# --------------------------------------------------------------------------- conv2d
def _ints(value: Any, name: str, minimum: int, n: int) -> tuple[int, ...]:
    """A convolution argument as ``n`` ints >= ``minimum`` (one int is repeated; a tuple must have ``n``)."""
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(vals) != n or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in vals):
        what = "(or a 1-tuple)" if n == 1 else "or a pair of them"
        raise ValueError(f"{name} must be an int >= {minimum} {what}; got {value!r}")
    return vals


def trace_stdp_conv2d(
    pre: Tensor,
    post: Tensor,
    weight: Tensor,
    rule: TraceSTDP,
    dt_ms: float,
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    reduction: str = "sum",
    state: STDPTraceState | None = None,
    return_state: bool = False,
    lr1: float | Tensor = 1.0,
    lr2: float | Tensor = 1.0,
    online_clip: bool = False,
    reward: Tensor | None = None,
    tau_e_ms: float = 0.0,
) -> Tensor | tuple[Tensor, STDPTraceState]:
    """Weight change of a ``torch.nn.Conv2d`` layer (``groups=1``, zero padding) under trace STDP.

    Each output position is a linear layer on its input patch (:func:`trace_stdp_linear`, same
    semantics); the shared kernel receives the sum over positions (and the batch ``reduction``).
    The traces are kept on the input and output maps; each chunk of steps is contracted with the
    convolution's weight gradient (``torch.nn.grad.conv2d_weight``); zero padding has zero traces.

    Parameters
    ----------
    pre : Tensor [T, B, C_in, H, W]
        Input spikes, 0/1, float or bool; time first.
    post : Tensor [T, B, C_out, H', W']
        Output spikes, with ``H' = ⌊(H + 2·padding − dilation·(kH − 1) − 1)/stride⌋ + 1`` (same for W').
    weight : Tensor [C_out, C_in, kH, kW]
        The layer's weight: shape, dtype, device (and the starting weight with ``online_clip``).
    rule : TraceSTDP
        As in :func:`trace_stdp_linear`.
    dt_ms : float
        Duration of one time step (ms).
    stride, padding, dilation : int or (int, int)
        As ``Conv2d``'s.
    reduction : {"sum", "mean"}
        Sum over the batch, or that sum divided by B (positions are always summed).
    state : STDPTraceState, optional
        ``x`` [B, C_in, H, W], ``y1`` / ``y2`` [B, C_out, H', W'] from the previous chunk.
    return_state : bool
        Also return the final traces.
    lr1, lr2 : float or Tensor [C_out]
        Gates, one value or one per output channel.
    online_clip : bool
        Step-by-step clipped weight (after each phase, summed over positions; the weight dependence
        scales each phase's summed change); see :func:`trace_stdp_linear`. Required for a rule
        with ``mu_plus`` or ``mu_minus`` > 0.
    reward : Tensor [T], [T, B] or [T, B, C_out], optional
        Reward-modulated STDP, as in :func:`trace_stdp_linear` (per output channel with ``[T, B, C_out]``;
        eligibility per sample and kernel weight, summed over positions: ``state.e`` [B, C_out, C_in, kH, kW]).
    tau_e_ms : float
        Eligibility time constant (ms); 0 leaves none.

    Returns
    -------
    dw : Tensor [C_out, C_in, kH, kW]
        Weight change, in ``weight``'s dtype.
    state : STDPTraceState
        Only with ``return_state=True``.

    Raises
    ------
    ValueError
        If ``pre`` / ``post`` are not 5-D, their T or B differ, channels or the output size do
        not match ``weight`` and the geometry, ``stride`` / ``padding`` / ``dilation`` are not
        valid, and in the cases listed for :func:`trace_stdp_linear`.
    TypeError
        As for :func:`trace_stdp_linear`.
    """
    rule = _check_rule(rule, online_clip)
    dt_ms = _check_dt(dt_ms)
    reduction = _check_reduction(reduction)
    weight = _check_weight(weight, 4, "[C_out, C_in, kH, kW]")
    stride, padding, dilation = (_ints(stride, "stride", 1, 2), _ints(padding, "padding", 0, 2),
                                 _ints(dilation, "dilation", 1, 2))
    c_out, c_in, kh, kw = weight.shape
    dtype = torch.promote_types(weight.dtype, torch.float32)
    pre = _spikes(pre, "pre", "[T, B, C_in, H, W]", (None, None, c_in, None, None), dtype, weight.device)
    T, B, _, H, W = pre.shape
    out_hw = [(n + 2 * p - d * (k - 1) - 1) // s + 1
              for n, p, d, k, s in zip((H, W), padding, dilation, (kh, kw), stride)]
    if min(out_hw) < 1:
        raise ValueError(f"pre's H x W = {H} x {W} is smaller than the (dilated) {kh} x {kw} kernel with "
                         f"padding {padding}")
    post = _spikes(post, "post", "[T, B, C_out, H', W']", (T, B, c_out, *out_hw), dtype, weight.device)
    n_pos = out_hw[0] * out_hw[1]

    def contract(post_side: Tensor, pre_side: Tensor) -> Tensor:
        # Σ over rows and positions of post ⊗ input patch: the weight gradient of a convolution, which
        # torch computes without materialising the patches (156 → 24 ms against unfold + einsum on
        # benchmarks/stdp_torch_speed.py's conv workload)
        return torch.nn.grad.conv2d_weight(pre_side.reshape(-1, c_in, H, W), tuple(weight.shape),
                                           post_side.reshape(-1, c_out, *out_hw), stride=stride, padding=padding,
                                           dilation=dilation)

    dw, new_state = _stdp(pre, post, weight, rule, dt_ms, reduction, state, lr1, lr2, online_clip,
                          (c_out, 1, 1), contract, n_pos * c_out + c_in * H * W, reward, tau_e_ms, return_state)
    return (dw, new_state) if return_state else dw


# --------------------------------------------------------------------------- conv1d
def _state_1d_to_2d(state: STDPTraceState | None) -> STDPTraceState | None:
    if state is None or not isinstance(state, STDPTraceState):
        return state
    up = lambda t: t.unsqueeze(-2) if isinstance(t, Tensor) else t  # noqa: E731  [B, C, L] -> [B, C, 1, L]
    return STDPTraceState(up(state.x), up(state.y1), up(state.y2), up(state.e))


def _state_2d_to_1d(state: STDPTraceState) -> STDPTraceState:
    down = lambda t: t.squeeze(-2) if t is not None else None  # noqa: E731
    return STDPTraceState(down(state.x), down(state.y1), down(state.y2), down(state.e))


def trace_stdp_conv1d(
    pre: Tensor,
    post: Tensor,
    weight: Tensor,
    rule: TraceSTDP,
    dt_ms: float,
    *,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    reduction: str = "sum",
    state: STDPTraceState | None = None,
    return_state: bool = False,
    lr1: float | Tensor = 1.0,
    lr2: float | Tensor = 1.0,
    online_clip: bool = False,
    reward: Tensor | None = None,
    tau_e_ms: float = 0.0,
) -> Tensor | tuple[Tensor, STDPTraceState]:
    """Weight change of a ``torch.nn.Conv1d`` layer (``groups=1``, zero padding) under trace STDP.

    :func:`trace_stdp_conv2d` on maps of height 1 (same semantics and options).

    Parameters
    ----------
    pre : Tensor [T, B, C_in, L]
        Input spikes, 0/1; time first.
    post : Tensor [T, B, C_out, L']
        Output spikes, ``L' = ⌊(L + 2·padding − dilation·(k − 1) − 1)/stride⌋ + 1``.
    weight : Tensor [C_out, C_in, k]
        The layer's weight.
    rule, dt_ms, reduction, lr1, lr2, online_clip, reward, tau_e_ms :
        As in :func:`trace_stdp_conv2d` (``dt_ms`` in ms, ``tau_e_ms`` in ms).
    stride, padding, dilation : int
        As ``Conv1d``'s.
    state : STDPTraceState, optional
        ``x`` [B, C_in, L], ``y1`` / ``y2`` [B, C_out, L'] (and ``e`` [B, C_out, C_in, k]) of the
        previous chunk.
    return_state : bool
        Also return the final traces (same 1-D shapes).

    Returns
    -------
    dw : Tensor [C_out, C_in, k]
    state : STDPTraceState
        Only with ``return_state=True``.

    Raises
    ------
    ValueError
        If ``pre`` / ``post`` are not 4-D, ``weight`` is not 3-D, or as :func:`trace_stdp_conv2d`.
    TypeError
        As :func:`trace_stdp_linear`.
    """
    weight = _check_weight(weight, 3, "[C_out, C_in, k]")
    (stride,), (padding,), (dilation,) = (_ints(stride, "stride", 1, 1), _ints(padding, "padding", 0, 1),
                                          _ints(dilation, "dilation", 1, 1))
    pre, post = torch.as_tensor(pre), torch.as_tensor(post)
    c_out, c_in, k = weight.shape
    # shapes checked here in 1-D terms (the 2-D path would name H and W)
    if pre.dim() != 4 or pre.shape[2] != c_in:
        raise ValueError(f"pre must have shape [T, B, C_in, L] with C_in = {c_in} (time first); got {_fmt(pre.shape)}")
    T, B, _, L = pre.shape
    L_out = (L + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    if L_out < 1:
        raise ValueError(f"pre's length L = {L} is shorter than the (dilated) kernel of {k} with padding {padding}")
    if tuple(post.shape) != (T, B, c_out, L_out):
        raise ValueError(f"post must have shape [T, B, C_out, L'] = {_fmt((T, B, c_out, L_out))} (time first); got "
                         f"{_fmt(post.shape)}")
    if isinstance(state, STDPTraceState):
        want = {"x": (B, c_in, L), "y1": (B, c_out, L_out), "y2": (B, c_out, L_out), "e": (B, c_out, c_in, k)}
        for name, shape in want.items():
            t = getattr(state, name)
            if isinstance(t, Tensor) and tuple(t.shape) != shape:
                raise ValueError(f"state.{name} must have shape {_fmt(shape)} (of this call's batch); got "
                                 f"{_fmt(t.shape)} (a new batch needs a new state)")
    out = trace_stdp_conv2d(pre.unsqueeze(-2), post.unsqueeze(-2), weight.unsqueeze(-2), rule, dt_ms,
                            stride=(1, stride), padding=(0, padding), dilation=(1, dilation), reduction=reduction,
                            state=_state_1d_to_2d(state), return_state=return_state, lr1=lr1, lr2=lr2,
                            online_clip=online_clip, reward=reward, tau_e_ms=tau_e_ms)
    if return_state:
        dw, new_state = out
        return dw.squeeze(-2), _state_2d_to_1d(new_state)
    return out.squeeze(-2)


# --------------------------------------------------------------------------- updater
class STDPUpdater:
    """Applies trace STDP to a ``torch.nn.Linear``, ``Conv1d`` or ``Conv2d`` layer, chunk by chunk.

    ``step(pre, post)`` computes the weight change of the chunk with :func:`trace_stdp_linear` /
    :func:`trace_stdp_conv1d` / :func:`trace_stdp_conv2d` (traces carried over from the previous ``step`` until ``reset()``)
    and either adds ``lr·dw`` to ``layer.weight`` and clamps it to ``[rule.w_min, rule.w_max]``,
    or, with ``as_grad=True``, sets ``layer.weight.grad = −lr·dw`` for a torch optimizer (then
    call :meth:`clamp_` after ``optimizer.step()`` to keep the bounds). The bias is not touched.
    Mind the bounds: ``TraceSTDP``'s default ``[0, 1]`` clamps a freshly initialised layer's
    negative weights to 0 on the first step; pick the rule's bounds for the layer.

    Parameters
    ----------
    layer : nn.Linear, nn.Conv1d or nn.Conv2d
        The layer whose ``weight`` learns (convolutions: ``groups=1``, ``padding_mode="zeros"``).
    rule : TraceSTDP
        The rule (``prune_tau_ms`` must be None).
    dt_ms : float
        Duration of one time step (ms).
    reduction : {"mean", "sum"}
        Batch reduction of the weight change.
    lr : float
        Factor on ``dw`` (both modes).
    as_grad : bool
        Write ``−lr·dw`` into ``layer.weight.grad`` (replacing it) instead of updating the weight.
    lr1, lr2 : float or Tensor [out_features / out_channels]
        Gates (see :func:`trace_stdp_linear`); may be changed between steps (attributes).
    online_clip : bool
        Compute each chunk's ``dw`` with the step-by-step clipped weight (see
        :func:`trace_stdp_linear`); required for a rule with ``mu_plus`` or ``mu_minus`` > 0.
    tau_e_ms : float
        Eligibility time constant (ms) of reward-modulated steps (``step(pre, post, reward)``);
        the eligibility is carried from step to step with the traces until :meth:`reset`.

    Raises
    ------
    TypeError
        If ``layer`` is not an ``nn.Linear`` / ``nn.Conv2d`` or ``rule`` is not a TraceSTDP.
    ValueError
        For a Conv2d with ``groups != 1``, a padding mode other than zeros or an asymmetric
        ``"same"`` padding, a rule with ``prune_tau_ms``, a rule with ``mu_plus`` or ``mu_minus``
        > 0 without ``online_clip=True``, a bad ``dt_ms``, ``reduction`` or ``lr``.
    """

    def __init__(self, layer: nn.Linear | nn.Conv1d | nn.Conv2d, rule: TraceSTDP, dt_ms: float, *,
                 reduction: str = "mean", lr: float = 1.0, as_grad: bool = False,
                 lr1: float | Tensor = 1.0, lr2: float | Tensor = 1.0, online_clip: bool = False,
                 tau_e_ms: float = 0.0) -> None:
        if not isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            raise TypeError(f"layer must be a torch.nn.Linear, Conv1d or Conv2d; got {type(layer).__name__}")
        self.online_clip = bool(online_clip)
        self.rule = _check_rule(rule, self.online_clip)
        self.dt_ms = _check_dt(dt_ms)
        self.reduction = _check_reduction(reduction)
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr):
            raise ValueError(f"lr must be a finite number; got {lr!r}")
        self.layer, self.lr, self.as_grad = layer, float(lr), bool(as_grad)
        self.lr1, self.lr2 = lr1, lr2
        self.tau_e_ms = _check_tau_e(tau_e_ms)
        self._geometry: dict[str, Any] = {}
        if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
            kind = type(layer).__name__
            if layer.groups != 1:
                raise ValueError(f"{kind} layers with groups != 1 are not supported; got groups={layer.groups}")
            if layer.padding_mode != "zeros":
                raise ValueError(f"only padding_mode='zeros' is supported; got {layer.padding_mode!r}")
            padding = layer.padding
            if isinstance(padding, str):
                if padding == "valid":
                    padding = (0,) * len(layer.kernel_size)
                else:  # "same" (stride 1): symmetric when dilation·(k − 1) is even
                    total = [d * (k - 1) for d, k in zip(layer.dilation, layer.kernel_size)]
                    if any(t % 2 for t in total):
                        raise ValueError("padding='same' with an even dilated kernel is asymmetric; not supported")
                    padding = tuple(t // 2 for t in total)
            self._geometry = {"stride": tuple(layer.stride), "padding": tuple(padding),
                              "dilation": tuple(layer.dilation)}
            if isinstance(layer, nn.Conv1d):
                self._geometry = {k: v[0] for k, v in self._geometry.items()}
        self._state: STDPTraceState | None = None

    @property
    def state(self) -> STDPTraceState | None:
        """The carried traces (None after construction or :meth:`reset`)."""
        return self._state

    def reset(self) -> None:
        """Forget the carried traces (call between independent sequences or batches)."""
        self._state = None

    def step(self, pre: Tensor, post: Tensor, reward: Tensor | None = None) -> Tensor:
        """Learn from one chunk of spikes, continuing the traces of the previous chunk.

        Parameters
        ----------
        pre : Tensor
            The layer's input spikes, [T, B, in_features], [T, B, C_in, L] or [T, B, C_in, H, W] (0/1, time first).
        post : Tensor
            Its output spikes, [T, B, out_features], [T, B, C_out, L'] or [T, B, C_out, H', W'].
        reward : Tensor [T], [T, B] or [T, B, out], optional
            Reward of each step (and sample, and output neuron / channel): reward-modulated STDP with the updater's ``tau_e_ms``
            (see :func:`trace_stdp_linear`). With ``tau_e_ms > 0``, once a step had a reward the
            following steps need one too (zeros where there is none) until :meth:`reset`.

        Returns
        -------
        Tensor
            The weight change ``dw`` of this chunk (before ``lr``), shaped as ``layer.weight``.

        Raises
        ------
        ValueError
            If the shapes do not match the layer (expected vs got, ``[T, B, ...]``), the batch
            size differs from the previous step's without a :meth:`reset`, or a spike is not a
            finite 0/1 value.
        """
        weight = self.layer.weight
        if self._state is not None and isinstance(pre, Tensor) and pre.dim() >= 2 \
                and pre.shape[1] != self._state.x.shape[0]:
            raise ValueError(f"the batch size changed from {self._state.x.shape[0]} to {pre.shape[1]} since the "
                             "last step(); call reset() between independent sequences")
        kwargs = {"reduction": self.reduction, "state": self._state, "return_state": True,
                  "lr1": self.lr1, "lr2": self.lr2, "online_clip": self.online_clip, "reward": reward,
                  "tau_e_ms": self.tau_e_ms}
        if isinstance(self.layer, nn.Conv2d):
            dw, state = trace_stdp_conv2d(pre, post, weight, self.rule, self.dt_ms, **self._geometry, **kwargs)
        elif isinstance(self.layer, nn.Conv1d):
            dw, state = trace_stdp_conv1d(pre, post, weight, self.rule, self.dt_ms, **self._geometry, **kwargs)
        else:
            dw, state = trace_stdp_linear(pre, post, weight, self.rule, self.dt_ms, **kwargs)
        self._state = state
        if self.as_grad:
            weight.grad = (-self.lr * dw).to(dtype=weight.dtype)
        else:
            with torch.no_grad():
                weight.add_(dw, alpha=self.lr)
            self.clamp_()
        return dw

    def config(self) -> dict[str, Any]:
        """The updater's settings as a JSON-able dict (the rule's fields, ``dt_ms``, ``reduction``, ``lr``,
        ``as_grad``, the gates as numbers or lists, ``online_clip``, ``tau_e_ms``); not the layer and not
        the carried traces. :meth:`from_config` builds the updater again on a layer (NIR export stores it
        in the layer's node: :func:`spikeforge.interop.to_nir` with ``plasticity=``)."""

        def gate(g: float | Tensor) -> float | list[float]:
            if isinstance(g, Tensor):
                return [float(v) for v in g.detach().reshape(-1).tolist()] if g.dim() else float(g)
            return float(g)

        return {"format": "spikeforge.STDPUpdater/1", "rule": dataclasses.asdict(self.rule), "dt_ms": self.dt_ms,
                "reduction": self.reduction, "lr": self.lr, "as_grad": self.as_grad, "lr1": gate(self.lr1),
                "lr2": gate(self.lr2), "online_clip": self.online_clip, "tau_e_ms": self.tau_e_ms}

    @classmethod
    def from_config(cls, layer: nn.Linear | nn.Conv1d | nn.Conv2d, config: dict[str, Any]) -> STDPUpdater:
        """An updater for ``layer`` with the settings of :meth:`config` (gates given as lists become tensors
        on the layer's device). ``ValueError`` for a dict that is not such a config."""
        if not isinstance(config, dict) or config.get("format") != "spikeforge.STDPUpdater/1":
            raise ValueError("config must be a dict written by STDPUpdater.config() "
                             "(format 'spikeforge.STDPUpdater/1')")
        known = {"format", "rule", "dt_ms", "reduction", "lr", "as_grad", "lr1", "lr2", "online_clip", "tau_e_ms"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown keys in the STDPUpdater config: {unknown}")
        missing = [k for k in ("rule", "dt_ms") if k not in config]
        if missing:
            raise ValueError(f"the STDPUpdater config lacks {missing}")
        if not isinstance(config["rule"], dict):
            raise ValueError(f"the config's rule must be a dict of TraceSTDP fields; got {type(config['rule']).__name__}")
        try:
            rule = TraceSTDP(**config["rule"])
        except TypeError as err:
            raise ValueError(f"the config's rule is not a TraceSTDP: {err}") from err
        dev = layer.weight.device

        def gate(g: Any) -> float | Tensor:
            return torch.tensor(g, dtype=layer.weight.dtype, device=dev) if isinstance(g, list) else float(g)

        return cls(layer, rule, config["dt_ms"], reduction=config.get("reduction", "mean"), lr=config.get("lr", 1.0),
                   as_grad=config.get("as_grad", False), lr1=gate(config.get("lr1", 1.0)),
                   lr2=gate(config.get("lr2", 1.0)), online_clip=config.get("online_clip", False),
                   tau_e_ms=config.get("tau_e_ms", 0.0))

    def __repr__(self) -> str:
        return (f"STDPUpdater({type(self.layer).__name__}{tuple(self.layer.weight.shape)}, {self.rule}, "
                f"dt_ms={self.dt_ms:g}, reduction={self.reduction!r}, lr={self.lr:g}, online_clip={self.online_clip}, "
                f"tau_e_ms={self.tau_e_ms:g})")

    def clamp_(self) -> None:
        """Clamp ``layer.weight`` in place to ``[rule.w_min, rule.w_max]``."""
        with torch.no_grad():
            self.layer.weight.clamp_(self.rule.w_min, self.rule.w_max)

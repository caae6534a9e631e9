"""Optional Triton kernels of the fused multi-step LIF for CUDA tensors.

Imported only by :func:`spikeforge.nn.functional.select_backend` for CUDA tensors when ``triton`` is
installed; CPU-only machines never import this module. Same API and semantics as the CPU kernel, with
two differences: the forward pass stores the charged potentials ``h_seq`` (float32 ``[T, M]``, like
SpikingJelly's CuPy kernels) instead of recomputing them, and the smooth gradient-check mode
(``Surrogate(spiking=False)``) is not implemented here (those calls use the pure-torch path).

One program handles ``BLOCK`` neurons and walks over time; computation is in float32 whatever the
input dtype (float16/bfloat16 under autocast are accepted; float64 input is computed in float32 too, so
spikes may differ from the CPU kernel where a float64 membrane lies within float32 rounding of the
threshold). The spike comparison (``>=`` or ``>``) is a compile-time constant of the kernels
(``GE``); float scalars reach the kernels as float32.

NOTE: written without access to a GPU; it is exercised by ``tests/nn/test_nn_gpu.py`` (marked ``gpu``)
against the CPU path on a CUDA machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import triton
import triton.language as tl

if TYPE_CHECKING:
    from .functional import LIFSpec

__all__ = ["TritonImpl", "alif_backward", "alif_forward", "izhikevich_backward", "izhikevich_forward", "plif_backward",
           "plif_forward"]

_RESETS = {"hard": 0, "soft": 1, "none": 2, "soft_delayed": 3}


@triton.jit
def _surrogate(x, alpha, SG: tl.constexpr):
    ax = tl.abs(x)
    if SG == 0:  # rect
        out = tl.where(ax < 0.5 / alpha, alpha, 0.0)
    elif SG == 1:  # triangle
        out = tl.maximum(alpha - alpha * alpha * ax, 0.0)
    elif SG == 2:  # sigmoid
        e = 1.0 / (1.0 + tl.exp(-alpha * x))
        out = (1.0 - e) * e * alpha
    elif SG == 3:  # atan
        z = x * (3.141592653589793 / 2.0 * alpha)
        out = (alpha / 2.0) / (1.0 + z * z)
    elif SG == 4:  # fast sigmoid
        z = alpha * ax + 1.0
        out = 1.0 / (z * z)
    elif SG == 5:  # erf
        z = alpha * x
        out = (alpha / 1.7724538509055159) * tl.exp(-z * z)
    else:  # piecewise exp
        out = (alpha / 2.0) * tl.exp(-alpha * ax)
    return out


@triton.jit
def _load_or_zero(ptr, offs, mask, HAS: tl.constexpr, BLOCK: tl.constexpr):
    """One block of a per-neuron tensor as float32, or zeros when the tensor is absent (``HAS`` false)."""
    if HAS:
        out = tl.load(ptr + offs, mask=mask, other=0.0).to(tl.float32)
    else:
        out = tl.zeros([BLOCK], dtype=tl.float32)
    return out


@triton.jit
def _fires(h, vth, GE: tl.constexpr):
    # the comparison is compiled in (a constexpr), not emulated with a nudged threshold: Triton passes
    # Python floats as float32, and float32(nextafter(v_th, inf)) rounds back to v_th (``>`` became ``>=``)
    if GE:
        out = h >= vth
    else:
        out = h > vth
    return out


@triton.jit
def _charge(v, x, a, b, c, tau, vr, CHARGE: tl.constexpr):
    if CHARGE == 0:
        h = a * v + b * x + c
    elif CHARGE == 1:
        h = v + (x - (v - vr)) / tau
    else:
        h = v - (v - vr) / tau + x
    return h


@triton.jit
def _lif_fwd_kernel(x_ptr, v0_ptr, s_ptr, h_ptr, vT_ptr, T, M, xst, a, b, c, tau, vr, vth,
                    CHARGE: tl.constexpr, RESET: tl.constexpr, GE: tl.constexpr, HAS_V0: tl.constexpr,
                    BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    v = _load_or_zero(v0_ptr, offs, mask, HAS_V0, BLOCK)
    for t in range(T):
        xx = tl.load(x_ptr + t * xst + offs, mask=mask, other=0.0).to(tl.float32)
        h = _charge(v, xx, a, b, c, tau, vr, CHARGE)
        if RESET == 3:
            h = h - tl.where(_fires(v, vth, GE), vth, 0.0)
        s = tl.where(_fires(h, vth, GE), 1.0, 0.0)
        tl.store(s_ptr + t * M + offs, s.to(s_ptr.dtype.element_ty), mask=mask)
        tl.store(h_ptr + t * M + offs, h, mask=mask)
        if RESET == 0:
            v = tl.where(s != 0.0, vr, h)
        elif RESET == 1:
            v = h - s * vth
        else:
            v = h
    tl.store(vT_ptr + offs, v.to(vT_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _grad_spikes_at(gs_ptr, gs_scalar, t, M, offs, mask, GS_MODE: tl.constexpr, BLOCK: tl.constexpr):
    """dL/dS_t of a block: read from ``gs`` [T, M] (GS_MODE 0) or the broadcast scalar (1)."""
    if GS_MODE == 0:
        gsv = tl.load(gs_ptr + t * M + offs, mask=mask, other=0.0).to(tl.float32)
    else:
        gsv = tl.full([BLOCK], 1.0, tl.float32) * gs_scalar
    return gsv


@triton.jit
def _grad_h(h, g, corr, gsv, vr, vth, alpha, nd, RESET: tl.constexpr, GE: tl.constexpr, SG: tl.constexpr,
            BLOCK: tl.constexpr):
    """dL/dH_t of a LIF-type step (LIF, PLIF) from dL/dS_t (``gsv``), dL/dV_t (``g``) and the delayed soft reset's
    correction ``corr``: ``gsv·σ' + (g − corr·σ')·dV/dH``."""
    sg = _surrogate(h - vth, alpha, SG)
    gin = g - corr * sg
    if RESET == 0:
        spk = tl.where(_fires(h, vth, GE), 1.0, 0.0)
        dvdh = (1.0 - spk) + (vr - h) * sg * nd
    elif RESET == 1:
        dvdh = 1.0 - vth * sg * nd
    else:
        dvdh = tl.full([BLOCK], 1.0, tl.float32)
    return gsv * sg + gin * dvdh


@triton.jit
def _lif_bwd_kernel(h_ptr, v0_ptr, gs_ptr, gs_scalar, gvT_ptr, gx_ptr, gv0_ptr, T, M, dhdv, dhdx, vr, vth,
                    alpha, nd, sd, RESET: tl.constexpr, GE: tl.constexpr, SG: tl.constexpr, GS_MODE: tl.constexpr,
                    HAS_GVT: tl.constexpr, HAS_V0: tl.constexpr, NEED_GV0: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    g = _load_or_zero(gvT_ptr, offs, mask, HAS_GVT, BLOCK)
    corr = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(T):
        t = T - 1 - i
        h = tl.load(h_ptr + t * M + offs, mask=mask, other=0.0)
        gh = _grad_h(h, g, corr, _grad_spikes_at(gs_ptr, gs_scalar, t, M, offs, mask, GS_MODE, BLOCK), vr, vth, alpha,
                     nd, RESET, GE, SG, BLOCK)
        tl.store(gx_ptr + t * M + offs, (gh * dhdx).to(gx_ptr.dtype.element_ty), mask=mask)
        g = gh * dhdv
        corr = gh * sd
    if NEED_GV0:
        if RESET == 3:
            v_init = _load_or_zero(v0_ptr, offs, mask, HAS_V0, BLOCK)
            g = g - corr * _surrogate(v_init - vth, alpha, SG)
        tl.store(gv0_ptr + offs, g.to(gv0_ptr.dtype.element_ty), mask=mask)


_BLOCK = 1024


def _fwd_args(spec: LIFSpec) -> tuple[tuple[float, ...], dict[str, int | bool]]:
    """The forward kernel's scalar arguments ``(a, b, c, tau, vr, vth)`` and its constexprs.

    The spike comparison is the constexpr ``GE`` (``h >= vth`` or ``h > vth`` in the kernel). The
    threshold is passed as it is: Triton hands Python floats to the kernel as float32, so a ``>``
    emulated as ``h >= nextafter(v_th)`` (the CPU kernel's trick, exact in the kernel's own dtype) would
    round back to ``h >= v_th`` in float32.
    """
    fp, ip = spec.kernel_params()
    return tuple(fp[:6]), {"CHARGE": ip[0], "RESET": ip[1], "GE": bool(ip[2])}


def _bwd_args(spec: LIFSpec) -> tuple[tuple[float, ...], dict[str, int | bool]]:
    """The backward kernel's scalars ``(dhdv, dhdx, vr, vth, alpha, nd, sd)`` and its constexprs
    (``GE``: the comparison that tells the hard reset's backward which steps spiked)."""
    fp, ip = spec.kernel_params()
    vr, vth, alpha, nd = fp[4], fp[5], fp[6], fp[7]
    sd = vth * nd if spec.reset == "soft_delayed" else 0.0
    return (spec.dh_dv, spec.dh_dx, vr, vth, alpha, nd, sd), {"RESET": ip[1], "GE": bool(ip[2]), "SG": ip[3]}


class TritonImpl:
    """Fused LIF on CUDA with Triton (saves ``h_seq`` float32 and ``v0``)."""

    name = "triton"

    @staticmethod
    def forward(x: torch.Tensor, v0, spec, check_nan: bool):
        from .functional import _check_nan, _kernel_layout, _TorchImpl

        if not spec.surrogate.spiking:  # smooth gradient-check mode: torch path
            return _TorchImpl.forward(x, v0, spec, check_nan)
        if check_nan:
            _check_nan(x)
        x = _kernel_layout(x)
        T, M = x.shape[0], x[0].numel()
        xst = 0 if (T > 1 and x.stride(0) == 0) else M
        s = torch.empty(x.shape, dtype=x.dtype, device=x.device)
        h = torch.empty(x.shape, dtype=torch.float32, device=x.device)
        vT = torch.empty(x.shape[1:], dtype=x.dtype, device=x.device)
        if v0 is not None:
            v0 = v0.contiguous()
        scalars, consts = _fwd_args(spec)
        grid = (triton.cdiv(max(M, 1), _BLOCK),)
        _lif_fwd_kernel[grid](x, v0 if v0 is not None else x, s, h, vT, T, M, xst, *scalars,
                              **consts, HAS_V0=v0 is not None, BLOCK=_BLOCK)
        return s, vT, (h, v0, torch.empty(0, dtype=x.dtype, device=x.device))  # last: x's dtype

    # the custom operators' view (see ``functional._CpuImpl``): ``aux`` is ``h`` (float32), or the
    # torch path's ``h_seq`` in the smooth mode; ``v0`` is an input, saved by the autograd formula
    saves_x = False

    @staticmethod
    def aux(saved, x: torch.Tensor) -> torch.Tensor:
        return saved[0]

    @staticmethod
    def aux_like(x: torch.Tensor, spec) -> torch.Tensor:
        return x.new_empty(x.shape, dtype=torch.float32 if spec.surrogate.spiking else x.dtype)

    @staticmethod
    def restore(x, v0, aux, spec, dtype: torch.dtype):
        from .functional import _TorchImpl

        if not spec.surrogate.spiking:
            return _TorchImpl.restore(x, v0, aux, spec, dtype)
        return aux, (None if v0 is None else v0.contiguous()), aux.new_empty(0, dtype=dtype)

    @staticmethod
    def backward(saved, gs, gvT, spec, need_gv0: bool):
        from .functional import _TorchImpl

        if not spec.surrogate.spiking:
            return _TorchImpl.backward(saved, gs, gvT, spec, need_gv0)
        h, v0, like = saved
        T, M = h.shape[0], h[0].numel()
        gs_mode, gs_scalar = 1, 0.0
        if gs is not None:
            if gs.numel() > 0 and all(st == 0 for st in gs.stride()):
                gs_scalar = float(gs[(0,) * gs.dim()].item())
            else:
                gs = gs.contiguous()
                gs_mode = 0
        if gvT is not None:
            gvT = gvT.contiguous()
        gx = torch.empty(h.shape, dtype=like.dtype, device=h.device)
        gv0 = torch.empty(h.shape[1:], dtype=like.dtype, device=h.device) if need_gv0 else None
        scalars, consts = _bwd_args(spec)
        grid = (triton.cdiv(max(M, 1), _BLOCK),)
        _lif_bwd_kernel[grid](h, v0 if v0 is not None else h, gs if gs_mode == 0 else h, gs_scalar,
                              gvT if gvT is not None else h, gx, gv0 if gv0 is not None else gx, T, M, *scalars,
                              **consts, GS_MODE=gs_mode, HAS_GVT=gvT is not None, HAS_V0=v0 is not None,
                              NEED_GV0=need_gv0, BLOCK=_BLOCK)
        return gx, gv0


# ---------------------------------------------------------------------------- PLIF and ALIF (opt-in: backend="triton")
# Same algebra as the CPU kernel's CHARGE_K modes and ALIF functions (``_cpu_kernel.cpp``), in float32; the forward
# passes store H (and ALIF's a) as float32 [T, M] for the backward. Written without access to a GPU and tested
# in Triton's interpreter mode on CPU tensors (``tests/nn/test_nn_gpu.py``); ``backend="auto"`` keeps the
# pure-torch nodes on CUDA until a GPU run has checked these kernels.
@triton.jit
def _v_after(h, s, vr, vth, RESET: tl.constexpr):
    if RESET == 0:
        v = tl.where(s != 0.0, vr, h)
    elif RESET == 1:
        v = h - s * vth
    else:
        v = h
    return v


@triton.jit
def _plif_fwd_kernel(x_ptr, k_ptr, v0_ptr, s_ptr, h_ptr, vT_ptr, T, M, xst, vr, vth, DECAY_INPUT: tl.constexpr,
                     RESET: tl.constexpr, GE: tl.constexpr, HAS_V0: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    k = tl.load(k_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    v = _load_or_zero(v0_ptr, offs, mask, HAS_V0, BLOCK)
    for t in range(T):
        xx = tl.load(x_ptr + t * xst + offs, mask=mask, other=0.0).to(tl.float32)
        if DECAY_INPUT:
            h = v + (xx - (v - vr)) * k
        else:
            h = v - (v - vr) * k + xx
        if RESET == 3:
            h = h - tl.where(_fires(v, vth, GE), vth, 0.0)
        s = tl.where(_fires(h, vth, GE), 1.0, 0.0)
        tl.store(s_ptr + t * M + offs, s.to(s_ptr.dtype.element_ty), mask=mask)
        tl.store(h_ptr + t * M + offs, h, mask=mask)
        v = _v_after(h, s, vr, vth, RESET)
    tl.store(vT_ptr + offs, v.to(vT_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _plif_bwd_kernel(h_ptr, x_ptr, k_ptr, v0_ptr, gs_ptr, gs_scalar, gvT_ptr, gx_ptr, gv0_ptr, gk_ptr, T, M, xst, vr,
                     vth, alpha, nd, sd, DECAY_INPUT: tl.constexpr, RESET: tl.constexpr, GE: tl.constexpr,
                     SG: tl.constexpr, GS_MODE: tl.constexpr, HAS_GVT: tl.constexpr, HAS_V0: tl.constexpr,
                     NEED_GV0: tl.constexpr, NEED_GK: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    k = tl.load(k_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    v_init = _load_or_zero(v0_ptr, offs, mask, HAS_V0, BLOCK)
    g = _load_or_zero(gvT_ptr, offs, mask, HAS_GVT, BLOCK)
    corr = tl.zeros([BLOCK], dtype=tl.float32)
    gk = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(T):
        t = T - 1 - i
        h = tl.load(h_ptr + t * M + offs, mask=mask, other=0.0)
        gh = _grad_h(h, g, corr, _grad_spikes_at(gs_ptr, gs_scalar, t, M, offs, mask, GS_MODE, BLOCK), vr, vth, alpha,
                     nd, RESET, GE, SG, BLOCK)
        if DECAY_INPUT:
            gxv = gh * k
        else:
            gxv = gh
        tl.store(gx_ptr + t * M + offs, gxv.to(gx_ptr.dtype.element_ty), mask=mask)
        if NEED_GK:  # dL/dk += dL/dH_t · (X_t − V_{t−1} + V_r) (decay input) or (V_r − V_{t−1})
            hp = tl.load(h_ptr + tl.maximum(t - 1, 0) * M + offs, mask=mask, other=0.0)  # H_{t-1} (t = 0: unused)
            if RESET == 3:
                vp_h = hp
            else:
                vp_h = _v_after(hp, tl.where(_fires(hp, vth, GE), 1.0, 0.0), vr, vth, RESET)
            vp = tl.where(t > 0, vp_h, v_init)
            if DECAY_INPUT:
                xx = tl.load(x_ptr + t * xst + offs, mask=mask, other=0.0).to(tl.float32)
                gk += gh * (xx - vp + vr)
            else:
                gk += gh * (vr - vp)
        g = gh * (1.0 - k)
        corr = gh * sd
    if NEED_GV0:
        if RESET == 3:
            g = g - corr * _surrogate(v_init - vth, alpha, SG)
        tl.store(gv0_ptr + offs, g.to(gv0_ptr.dtype.element_ty), mask=mask)
    if NEED_GK:
        tl.store(gk_ptr + offs, gk, mask=mask)


@triton.jit
def _alif_fwd_kernel(x_ptr, v0_ptr, a0_ptr, s_ptr, h_ptr, at_ptr, vT_ptr, aT_ptr, T, M, xst, ca, cb, cc, tau, vr,
                     vth, beta, rho, CHARGE: tl.constexpr, RESET: tl.constexpr, GE: tl.constexpr,
                     HAS_V0: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    v = _load_or_zero(v0_ptr, offs, mask, HAS_V0, BLOCK)
    a = tl.load(a0_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    for t in range(T):
        xx = tl.load(x_ptr + t * xst + offs, mask=mask, other=0.0).to(tl.float32)
        h = _charge(v, xx, ca, cb, cc, tau, vr, CHARGE)
        th = a * beta + vth
        s = tl.where(_fires(h, th, GE), 1.0, 0.0)
        tl.store(s_ptr + t * M + offs, s.to(s_ptr.dtype.element_ty), mask=mask)
        tl.store(h_ptr + t * M + offs, h, mask=mask)
        tl.store(at_ptr + t * M + offs, a, mask=mask)
        if RESET == 0:
            v = s * vr + (1.0 - s) * h
        elif RESET == 1:
            v = h - s * th
        else:
            v = h
        a = a * rho + s
    tl.store(vT_ptr + offs, v.to(vT_ptr.dtype.element_ty), mask=mask)
    tl.store(aT_ptr + offs, a.to(aT_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _alif_bwd_kernel(h_ptr, at_ptr, gs_ptr, gs_scalar, gvT_ptr, gaT_ptr, gx_ptr, gv0_ptr, ga0_ptr, T, M, dhdv, dhdx,
                     vr, vth, alpha, nd, beta, rho, m, RESET: tl.constexpr, GE: tl.constexpr, SG: tl.constexpr,
                     GS_MODE: tl.constexpr, HAS_GVT: tl.constexpr, HAS_GAT: tl.constexpr, NEED_GV0: tl.constexpr,
                     NEED_GA0: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    gV = _load_or_zero(gvT_ptr, offs, mask, HAS_GVT, BLOCK)
    gA = _load_or_zero(gaT_ptr, offs, mask, HAS_GAT, BLOCK)
    for i in range(T):
        t = T - 1 - i
        h = tl.load(h_ptr + t * M + offs, mask=mask, other=0.0)
        th = tl.load(at_ptr + t * M + offs, mask=mask, other=0.0) * beta + vth
        sg = _surrogate(h - th, alpha, SG)
        sp = tl.where(_fires(h, th, GE), 1.0, 0.0)
        if RESET == 0:
            d = (vr - h) * sg * nd
            dvdh = (1.0 - sp) + d
            dvda = d * (-beta)
        elif RESET == 1:
            tsn = th * sg * nd
            dvdh = 1.0 - tsn
            dvda = (tsn - sp) * beta
        else:
            dvdh = tl.full([BLOCK], 1.0, tl.float32)
            dvda = tl.zeros([BLOCK], dtype=tl.float32)
        gsig = gA * m + _grad_spikes_at(gs_ptr, gs_scalar, t, M, offs, mask, GS_MODE, BLOCK)
        gh = gV * dvdh + gsig * sg
        ga = gA * rho - gsig * sg * beta + gV * dvda
        tl.store(gx_ptr + t * M + offs, (gh * dhdx).to(gx_ptr.dtype.element_ty), mask=mask)
        gV = gh * dhdv
        gA = ga
    if NEED_GV0:
        tl.store(gv0_ptr + offs, gV.to(gv0_ptr.dtype.element_ty), mask=mask)
    if NEED_GA0:
        tl.store(ga0_ptr + offs, gA.to(ga0_ptr.dtype.element_ty), mask=mask)


def _grad_spikes(gs: torch.Tensor | None) -> tuple[torch.Tensor | None, int, float]:
    """dL/dspikes as the backward kernels read it: ``(tensor or None, GS_MODE, scalar)``."""
    if gs is None:
        return None, 1, 0.0
    if gs.numel() > 0 and all(st == 0 for st in gs.stride()):
        return None, 1, float(gs[(0,) * gs.dim()].item())
    return gs.contiguous(), 0, 0.0


def _layout(x: torch.Tensor) -> tuple[torch.Tensor, int, int, int]:
    from .functional import _kernel_layout

    x = _kernel_layout(x)
    T, M = x.shape[0], x[0].numel()
    return x, T, M, (0 if (T > 1 and x.stride(0) == 0) else M)


def plif_forward(x: torch.Tensor, kv: torch.Tensor, v0: torch.Tensor | None, spec: LIFSpec):
    """PLIF forward (``kv``: k per neuron, one step's shape, contiguous): ``(spikes, v_T, h_seq float32)``."""
    x, T, M, xst = _layout(x)
    s = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    h = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    vT = torch.empty(x.shape[1:], dtype=x.dtype, device=x.device)
    if M == 0:
        return s, vT, h
    fp, ip = spec.kernel_params()
    grid = (triton.cdiv(M, _BLOCK),)
    _plif_fwd_kernel[grid](x, kv, v0 if v0 is not None else x, s, h, vT, T, M, xst, fp[4], fp[5],
                           DECAY_INPUT=spec.decay_input, RESET=ip[1], GE=bool(ip[2]), HAS_V0=v0 is not None,
                           BLOCK=_BLOCK)
    return s, vT, h


def plif_backward(h: torch.Tensor, x: torch.Tensor, kv: torch.Tensor, v0: torch.Tensor | None, gs, gvT, spec: LIFSpec,
                  need_gv0: bool, need_gk: bool, dtype: torch.dtype):
    """PLIF backward: ``(dL/dx, dL/dv0 or None, dL/dk per neuron float32 or None)``."""
    x, T, M, xst = _layout(x)
    gx = torch.empty(h.shape, dtype=dtype, device=h.device)
    gv0 = torch.empty(h.shape[1:], dtype=dtype, device=h.device) if need_gv0 else None
    gk = torch.empty(h.shape[1:], dtype=torch.float32, device=h.device) if need_gk else None
    if M == 0:
        return gx, gv0, gk
    gs, gs_mode, gs_scalar = _grad_spikes(gs)
    gvT = None if gvT is None else gvT.contiguous()
    fp, ip = spec.kernel_params()
    sd = fp[5] * fp[7] if spec.reset == "soft_delayed" else 0.0
    grid = (triton.cdiv(M, _BLOCK),)
    _plif_bwd_kernel[grid](h, x, kv, v0 if v0 is not None else h, gs if gs is not None else h, gs_scalar,
                           gvT if gvT is not None else h, gx, gv0 if gv0 is not None else gx,
                           gk if gk is not None else h, T, M, xst, fp[4], fp[5], fp[6], fp[7], sd,
                           DECAY_INPUT=spec.decay_input, RESET=ip[1], GE=bool(ip[2]), SG=ip[3], GS_MODE=gs_mode,
                           HAS_GVT=gvT is not None, HAS_V0=v0 is not None, NEED_GV0=need_gv0, NEED_GK=need_gk,
                           BLOCK=_BLOCK)
    return gx, gv0, gk


def alif_forward(x: torch.Tensor, v0: torch.Tensor | None, a0: torch.Tensor, spec):
    """ALIF forward: ``(spikes, v_T, a_{T+1}, h_seq float32, a_seq float32)``."""
    x, T, M, xst = _layout(x)
    s = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    h = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    a_seq = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    vT = torch.empty(x.shape[1:], dtype=x.dtype, device=x.device)
    aT = torch.empty(x.shape[1:], dtype=x.dtype, device=x.device)
    if M == 0:
        return s, vT, aT, h, a_seq
    fp, ip = spec.lif.kernel_params()
    grid = (triton.cdiv(M, _BLOCK),)
    _alif_fwd_kernel[grid](x, v0 if v0 is not None else x, a0, s, h, a_seq, vT, aT, T, M, xst, *fp[:6], spec.beta,
                           spec.rho, CHARGE=ip[0], RESET=ip[1], GE=bool(ip[2]), HAS_V0=v0 is not None, BLOCK=_BLOCK)
    return s, vT, aT, h, a_seq


def alif_backward(h: torch.Tensor, a_seq: torch.Tensor, gs, gvT, gaT, spec, need_gv0: bool, need_ga0: bool,
                  dtype: torch.dtype):
    """ALIF backward: ``(dL/dx, dL/dv0 or None, dL/da0 or None)``."""
    T, M = h.shape[0], h[0].numel()
    gx = torch.empty(h.shape, dtype=dtype, device=h.device)
    gv0 = torch.empty(h.shape[1:], dtype=dtype, device=h.device) if need_gv0 else None
    ga0 = torch.empty(h.shape[1:], dtype=dtype, device=h.device) if need_ga0 else None
    if M == 0:
        return gx, gv0, ga0
    gs, gs_mode, gs_scalar = _grad_spikes(gs)
    gvT = None if gvT is None else gvT.contiguous()
    gaT = None if gaT is None else gaT.contiguous()
    lif = spec.lif
    fp, ip = lif.kernel_params()
    grid = (triton.cdiv(M, _BLOCK),)
    _alif_bwd_kernel[grid](h, a_seq, gs if gs is not None else h, gs_scalar, gvT if gvT is not None else h,
                           gaT if gaT is not None else h, gx, gv0 if gv0 is not None else gx,
                           ga0 if ga0 is not None else gx, T, M, lif.dh_dv, lif.dh_dx, fp[4], fp[5], fp[6], fp[7],
                           spec.beta, spec.rho, 0.0 if spec.detach_adaptation else 1.0, RESET=ip[1], GE=bool(ip[2]),
                           SG=ip[3], GS_MODE=gs_mode, HAS_GVT=gvT is not None, HAS_GAT=gaT is not None,
                           NEED_GV0=need_gv0, NEED_GA0=need_ga0, BLOCK=_BLOCK)
    return gx, gv0, ga0


# ---------------------------------------------------------------------------- Izhikevich (opt-in: backend="triton")
# The CPU kernel's scheme (``_cpu_kernel.cpp``, ``izh_*``) with K = v_substeps a compile-time constant: the forward
# stores the states before each step (float32), the backward recomputes each step's substeps (O(K²) per step).
@triton.jit
def _izh_sub(w, g, u, x, h, peak, fl, CLAMP: tl.constexpr, FLOOR: tl.constexpr):
    """One Euler substep: ``(w', g', vn)`` (``g``: the value the surrogate sees, ``vn``: the unclamped step)."""
    vn = w + ((w * w * 0.04 + w * 5.0 + 140.0 - u + x) * h)
    if CLAMP:
        held = w >= peak
        g = tl.where(held, g, vn)
        pre = tl.where(held, w, vn)
        if FLOOR:
            pre = tl.where(pre < fl, fl, pre)
        w = tl.where(pre > peak, peak, pre)
    else:
        if FLOOR:
            w = tl.where(vn < fl, fl, vn)
        else:
            w = vn
    return w, g, vn


@triton.jit
def _izh_fwd_kernel(x_ptr, v0_ptr, u0_ptr, s_ptr, vp_ptr, up_ptr, vT_ptr, uT_ptr, T, M, xst, adt, b, c, d, peak, h,
                    fl, K: tl.constexpr, CLAMP: tl.constexpr, FLOOR: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    v = tl.load(v0_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    u = tl.load(u0_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    for t in range(T):
        xx = tl.load(x_ptr + t * xst + offs, mask=mask, other=0.0).to(tl.float32)
        tl.store(vp_ptr + t * M + offs, v, mask=mask)
        tl.store(up_ptr + t * M + offs, u, mask=mask)
        w = v
        g = v
        for _k in tl.static_range(K):
            w, g, vn = _izh_sub(w, g, u, xx, h, peak, fl, CLAMP, FLOOR)
        un = u + (w * b - u) * adt
        sp = tl.where(w >= peak, 1.0, 0.0)
        tl.store(s_ptr + t * M + offs, sp.to(s_ptr.dtype.element_ty), mask=mask)
        v = sp * c + (1.0 - sp) * w
        u = un + sp * d
    tl.store(vT_ptr + offs, v.to(vT_ptr.dtype.element_ty), mask=mask)
    tl.store(uT_ptr + offs, u.to(uT_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _izh_bwd_kernel(x_ptr, vp_ptr, up_ptr, gs_ptr, gs_scalar, gvT_ptr, guT_ptr, gx_ptr, gv0_ptr, gu0_ptr, T, M, xst,
                    adt, b, c, d, peak, h, fl, vs, alpha, nd, K: tl.constexpr, CLAMP: tl.constexpr,
                    FLOOR: tl.constexpr, SG: tl.constexpr, GS_MODE: tl.constexpr, HAS_GVT: tl.constexpr,
                    HAS_GUT: tl.constexpr, NEED_GV0: tl.constexpr, NEED_GU0: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    zero = tl.zeros([BLOCK], dtype=tl.float32)
    if HAS_GVT:
        gV = tl.load(gvT_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    else:
        gV = zero
    if HAS_GUT:
        gU = tl.load(guT_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    else:
        gU = zero
    for i in range(T):
        t = T - 1 - i
        v = tl.load(vp_ptr + t * M + offs, mask=mask, other=0.0)
        u = tl.load(up_ptr + t * M + offs, mask=mask, other=0.0)
        xx = tl.load(x_ptr + t * xst + offs, mask=mask, other=0.0).to(tl.float32)
        w = v
        g = v
        for _k in tl.static_range(K):
            w, g, vn = _izh_sub(w, g, u, xx, h, peak, fl, CLAMP, FLOOR)
        hv = w
        sp = tl.where(hv >= peak, 1.0, 0.0)
        gst = _grad_spikes_at(gs_ptr, gs_scalar, t, M, offs, mask, GS_MODE, BLOCK) + nd * (gV * (c - hv) + gU * d)
        gz = gst * _surrogate((hv - peak) / vs, alpha, SG) / vs
        if CLAMP:
            fired = hv >= peak
            gw = gV * (1.0 - sp) + gU * b * adt + tl.where(fired, 0.0, gz)
            gg = tl.where(fired, gz, 0.0)
        else:
            gw = gV * (1.0 - sp) + gU * b * adt + gz
            gg = zero
        gu = gU * (1.0 - adt)
        gxx = zero
        for kk in tl.static_range(K):
            wp = v  # w_k with k = K - 1 - kk, recomputed from the step's start
            gp = v
            for _j in tl.static_range(K - 1 - kk):
                wp, gp, vn = _izh_sub(wp, gp, u, xx, h, peak, fl, CLAMP, FLOOR)
            vn = wp + ((wp * wp * 0.04 + wp * 5.0 + 140.0 - u + xx) * h)
            if CLAMP:
                held = wp >= peak
                pre = tl.where(held, wp, vn)
                if FLOOR:
                    passm = (pre >= fl) & (pre <= peak)
                else:
                    passm = pre <= peak
                gpre = tl.where(passm, gw, 0.0)
                gvn = tl.where(held, 0.0, gpre + gg)
                gw = tl.where(held, gpre, 0.0)
                gg = tl.where(held, gg, 0.0)
            else:
                if FLOOR:
                    gvn = tl.where(vn >= fl, gw, 0.0)
                else:
                    gvn = gw
                gw = zero
            gw = gw + gvn * (1.0 + (wp * 0.08 + 5.0) * h)
            gu = gu - gvn * h
            gxx = gxx + gvn * h
        tl.store(gx_ptr + t * M + offs, gxx.to(gx_ptr.dtype.element_ty), mask=mask)
        gV = gw + gg
        gU = gu
    if NEED_GV0:
        tl.store(gv0_ptr + offs, gV.to(gv0_ptr.dtype.element_ty), mask=mask)
    if NEED_GU0:
        tl.store(gu0_ptr + offs, gU.to(gu0_ptr.dtype.element_ty), mask=mask)


def _izh_scalars(spec) -> tuple[float, ...]:
    """``(dt·a, b, c, d, v_peak, h, v_min)`` of the Izhikevich kernels (v_min 0 when there is no floor)."""
    return (spec.dt_ms * spec.a, spec.b, spec.c, spec.d, spec.v_peak, spec.h_ms,
            0.0 if spec.v_min is None else spec.v_min)


def izhikevich_forward(x: torch.Tensor, v0: torch.Tensor, u0: torch.Tensor, spec):
    """Izhikevich forward: ``(spikes, v_T, u_T, v_prev float32 [T, ...], u_prev float32 [T, ...])``."""
    x, T, M, xst = _layout(x)
    s = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    vp = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    up = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    vT = torch.empty(x.shape[1:], dtype=x.dtype, device=x.device)
    uT = torch.empty(x.shape[1:], dtype=x.dtype, device=x.device)
    if M == 0:
        return s, vT, uT, vp, up
    grid = (triton.cdiv(M, _BLOCK),)
    _izh_fwd_kernel[grid](x, v0, u0, s, vp, up, vT, uT, T, M, xst, *_izh_scalars(spec), K=spec.v_substeps,
                          CLAMP=spec.clamp_peak, FLOOR=spec.v_min is not None, BLOCK=_BLOCK)
    return s, vT, uT, vp, up


def izhikevich_backward(x: torch.Tensor, vp: torch.Tensor, up: torch.Tensor, gs, gvT, guT, spec, need_gv0: bool,
                        need_gu0: bool):
    """Izhikevich backward: ``(dL/dx, dL/dv0 or None, dL/du0 or None)``."""
    x, T, M, xst = _layout(x)
    gx = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    gv0 = torch.empty(x.shape[1:], dtype=x.dtype, device=x.device) if need_gv0 else None
    gu0 = torch.empty(x.shape[1:], dtype=x.dtype, device=x.device) if need_gu0 else None
    if M == 0:
        return gx, gv0, gu0
    gs, gs_mode, gs_scalar = _grad_spikes(gs)
    gvT = None if gvT is None else gvT.contiguous()
    guT = None if guT is None else guT.contiguous()
    grid = (triton.cdiv(M, _BLOCK),)
    _izh_bwd_kernel[grid](x, vp, up, gs if gs is not None else vp, gs_scalar, gvT if gvT is not None else vp,
                          guT if guT is not None else vp, gx, gv0 if gv0 is not None else gx,
                          gu0 if gu0 is not None else gx, T, M, xst, *_izh_scalars(spec), spec.v_scale,
                          spec.surrogate.alpha, 0.0 if spec.detach_reset else 1.0, K=spec.v_substeps,
                          CLAMP=spec.clamp_peak, FLOOR=spec.v_min is not None, SG=spec.surrogate.kernel_id,
                          GS_MODE=gs_mode, HAS_GVT=gvT is not None, HAS_GUT=guT is not None, NEED_GV0=need_gv0,
                          NEED_GU0=need_gu0, BLOCK=_BLOCK)
    return gx, gv0, gu0

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

__all__ = ["TritonImpl"]

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
    if HAS_V0:
        v = tl.load(v0_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    else:
        v = tl.zeros([BLOCK], dtype=tl.float32)
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
def _lif_bwd_kernel(h_ptr, v0_ptr, gs_ptr, gs_scalar, gvT_ptr, gx_ptr, gv0_ptr, T, M, dhdv, dhdx, vr, vth,
                    alpha, nd, sd, RESET: tl.constexpr, GE: tl.constexpr, SG: tl.constexpr, GS_MODE: tl.constexpr,
                    HAS_GVT: tl.constexpr, HAS_V0: tl.constexpr, NEED_GV0: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    if HAS_GVT:
        g = tl.load(gvT_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    else:
        g = tl.zeros([BLOCK], dtype=tl.float32)
    corr = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(T):
        t = T - 1 - i
        h = tl.load(h_ptr + t * M + offs, mask=mask, other=0.0)
        sg = _surrogate(h - vth, alpha, SG)
        gin = g - corr * sg
        if RESET == 0:
            spk = tl.where(_fires(h, vth, GE), 1.0, 0.0)
            dvdh = (1.0 - spk) + (vr - h) * sg * nd
        elif RESET == 1:
            dvdh = 1.0 - vth * sg * nd
        else:
            dvdh = tl.full([BLOCK], 1.0, tl.float32)
        if GS_MODE == 0:
            gsv = tl.load(gs_ptr + t * M + offs, mask=mask, other=0.0).to(tl.float32)
        else:
            gsv = tl.full([BLOCK], 1.0, tl.float32) * gs_scalar
        gh = gsv * sg + gin * dvdh
        tl.store(gx_ptr + t * M + offs, (gh * dhdx).to(gx_ptr.dtype.element_ty), mask=mask)
        g = gh * dhdv
        corr = gh * sd
    if NEED_GV0:
        if RESET == 3:
            if HAS_V0:
                v_init = tl.load(v0_ptr + offs, mask=mask, other=0.0).to(tl.float32)
            else:
                v_init = tl.zeros([BLOCK], dtype=tl.float32)
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

"""Build, cache and call the compiled CPU kernel of the fused multi-step LIF (``_cpu_kernel.cpp``).

The kernel is plain C++ with a C ABI and no torch headers, so the system compiler builds it in well
under a second on first use; the shared library is cached under ``$SPIKEFORGE_CACHE_DIR`` (default
``$XDG_CACHE_HOME/spikeforge`` or ``~/.cache/spikeforge``) keyed by a hash of the source, the
compiler, its flags and the CPU, and later processes only ``dlopen`` it.

Set ``SPIKEFORGE_CPU_KERNEL=0`` to disable it (the pure-torch fused path is used instead); set
``CXX`` to choose the compiler. When no compiler is found or the build fails, :func:`load` returns
None and :func:`unavailable_reason` says why; nothing is downloaded.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from importlib import resources
from pathlib import Path

import torch

__all__ = ["backward", "cache_dir", "forward", "load", "two_state_backward", "two_state_forward", "unavailable_reason",
           "variant"]

_FLAGS = [
    "-O2", "-ftree-vectorize", "-fno-unswitch-loops", "-fno-trapping-math", "-march=native", "-ffp-contract=off",
    "-fno-math-errno", "-fPIC", "-shared", "-pthread", "-std=c++17", "-fopenmp",
]
_lock = threading.Lock()
# process-wide handle of the loaded library (a cache of an immutable resource, not model state)
_state: dict[str, object] = {}


def cache_dir() -> Path:
    """Directory where compiled kernels are cached."""
    env = os.environ.get("SPIKEFORGE_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "kernels"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "spikeforge" / "kernels"


def _source() -> str:
    return resources.files("spikeforge.nn").joinpath("_cpu_kernel.cpp").read_text()


def _cpu_signature() -> str:
    """Identify the CPU (``-march=native`` code must not be reused on another CPU model)."""
    sig = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "model name", "Features", "CPU part")):
                    sig += line
                    if line.startswith(("flags", "Features")):
                        break
    except OSError:
        pass
    return sig


def _compiler() -> str | None:
    for cand in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if cand and shutil.which(cand):
            return shutil.which(cand)
    return None


_VARIANTS = {
    # name -> (extra compiler flags, torch dtype)
    "float32": ([], torch.float32),
    "float64": (["-DSF_REAL=double"], torch.float64),
    "float32-smooth": (["-DSF_SMOOTH"], torch.float32),
    "float64-smooth": (["-DSF_REAL=double", "-DSF_SMOOTH"], torch.float64),
}


def _build(cxx: str, src: str, flags: list[str], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        cpp = Path(tmp) / "lif.cpp"
        cpp.write_text(src)
        out = Path(tmp) / target.name
        proc = subprocess.run([cxx, *flags, str(cpp), "-o", str(out)], capture_output=True, text=True)
        for optional in ("-fopenmp", "-march=native"):  # e.g. clang without OpenMP: pthreads instead
            if proc.returncode != 0 and optional in flags:
                flags = [f for f in flags if f != optional]
                proc = subprocess.run([cxx, *flags, str(cpp), "-o", str(out)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{cxx} failed:\n{proc.stderr[-2000:]}")
        os.replace(out, target)  # atomic: concurrent builders never see a half-written library


def variant(dtype: torch.dtype, smooth: bool = False) -> str:
    """Library variant name for a dtype (``float32`` / ``float64``) and mode."""
    base = {torch.float32: "float32", torch.float64: "float64"}.get(dtype)
    if base is None:
        raise ValueError(f"the CPU kernel supports float32 and float64; got {dtype}")
    return base + ("-smooth" if smooth else "")


def load(dtype: torch.dtype = torch.float32, smooth: bool = False) -> ctypes.CDLL | None:
    """The compiled kernel library for ``dtype``, built on first use; None when unavailable.

    ``smooth=True`` loads the test-only build whose forward pass uses the surrogate's primitive.
    """
    name = variant(dtype, smooth)
    if name in _state:
        return _state[name]  # type: ignore[return-value]
    with _lock:
        if name in _state:
            return _state[name]  # type: ignore[return-value]
        lib = None
        if os.environ.get("SPIKEFORGE_CPU_KERNEL", "1").lower() in ("0", "false", "no", "off"):
            _state["reason"] = "disabled by SPIKEFORGE_CPU_KERNEL=0"
        else:
            cxx = _compiler()
            if cxx is None:
                _state["reason"] = "no C++ compiler found (set CXX)"
            else:
                try:
                    lib = _load_or_build(cxx, name)
                except Exception as exc:  # any build/load failure falls back to the torch path
                    _state["reason"] = f"kernel build failed: {exc}"
                    lib = None
        _state[name] = lib
        return lib


def _load_or_build(cxx: str, name: str) -> ctypes.CDLL:
    src = _source()
    extra, dtype = _VARIANTS[name]
    flags = _FLAGS + extra
    key = hashlib.sha256(
        "\0".join([src, cxx, " ".join(flags), _cpu_signature(), str(os.stat(cxx).st_mtime_ns)]).encode()
    ).hexdigest()[:20]
    target = cache_dir() / f"sf_lif_{name}_{key}.so"
    if not target.exists():
        try:
            _build(cxx, src, flags, target)
        except OSError:  # cache directory not writable: build in the temporary directory instead
            target = Path(tempfile.gettempdir()) / f"spikeforge-kernels-{getattr(os, 'getuid', lambda: 0)()}" / target.name
            if not target.exists():
                _build(cxx, src, flags, target)
    lib = ctypes.CDLL(str(target))
    i64, vp, dp, ip = ctypes.c_int64, ctypes.c_void_p, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_int)
    lib.sf_lif_forward.restype = i64
    lib.sf_lif_forward.argtypes = [vp, vp, vp, vp, vp, i64, i64, i64, dp, ip, ctypes.c_int]
    lib.sf_lif_backward.restype = i64
    lib.sf_lif_backward.argtypes = [vp, vp, vp, vp, ctypes.c_double, ctypes.c_int, vp, vp, vp, vp, i64, i64, i64, dp,
                                    ip, ctypes.c_int]
    lib.sf_alif_forward.restype = i64
    lib.sf_alif_forward.argtypes = [vp, vp, vp, vp, vp, vp, i64, i64, i64, dp, ip, ctypes.c_int]
    lib.sf_alif_backward.restype = i64
    lib.sf_alif_backward.argtypes = [vp, vp, vp, vp, ctypes.c_double, ctypes.c_int, vp, vp, vp, vp, vp, i64, i64, i64,
                                     dp, ip, ctypes.c_int]
    lib.sf_izh_forward.restype = i64
    lib.sf_izh_forward.argtypes = lib.sf_alif_forward.argtypes
    lib.sf_izh_backward.restype = i64
    lib.sf_izh_backward.argtypes = lib.sf_alif_backward.argtypes
    if lib.sf_abi_version() != 8 or lib.sf_real_size() != torch.empty((), dtype=dtype).element_size():
        raise RuntimeError("stale kernel library (ABI mismatch)")
    return lib


def unavailable_reason() -> str | None:
    """Why :func:`load` returned None (None when the kernel is loaded or not yet tried)."""
    return _state.get("reason")  # type: ignore[return-value]


def _dims(x: torch.Tensor) -> tuple[int, int, int]:
    """``(T, M, time stride)`` of a kernel input ``[T, ...]``: the stride is ``M`` (contiguous) or 0 (one step
    broadcast over time)."""
    T, M = x.shape[0], x[0].numel()
    return T, M, (0 if (T > 1 and x.stride(0) == 0) else M)


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _params(fp: list[float], ip: list[int]):
    return (ctypes.c_double * len(fp))(*fp), (ctypes.c_int * len(ip))(*ip)


def forward(
    lib: ctypes.CDLL, x: torch.Tensor, v0: torch.Tensor | None, fp: list[float], ip: list[int],
    kv: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Run the forward kernel.

    Parameters
    ----------
    lib : the library of ``x``'s dtype (:func:`load`)
    x : Tensor [T, ...], float32/float64, CPU; contiguous, or stride 0 along time with a contiguous step
    v0 : Tensor [...] or None (zeros), same dtype, contiguous
    fp, ip : kernel parameters (see ``_cpu_kernel.cpp``)
    kv : Tensor [...] or None
        PLIF's charge factor ``k`` per neuron (one step's shape, same dtype, contiguous) for the charge
        modes 3 and 4; None for LIF.

    Returns
    -------
    spikes [T, ...], v_T [...], number of NaN entries seen in ``x``
    """
    T, M, xst = _dims(x)
    s = torch.empty(x.shape, dtype=x.dtype)
    vT = torch.empty(x.shape[1:], dtype=x.dtype)
    if M == 0:  # no neurons (an empty batch): nothing to run (an empty kv would reach the kernel as NULL)
        return s, vT, 0
    fpa, ipa = _params(fp, ip)
    n_nan = lib.sf_lif_forward(
        _ptr(x), _ptr(v0), _ptr(kv), _ptr(s), _ptr(vT), T, M, xst, fpa, ipa,
        torch.get_num_threads(),
    )
    if n_nan < 0:
        raise RuntimeError(f"internal error: unsupported kernel mode {ip}")
    return s, vT, int(n_nan)


def backward(
    lib: ctypes.CDLL,
    x: torch.Tensor,
    v0: torch.Tensor | None,
    gs: torch.Tensor | None,
    gvT: torch.Tensor | None,
    fp: list[float],
    ip: list[int],
    need_gv0: bool,
    kv: torch.Tensor | None = None,
    need_gk: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Run the backward kernel: ``(dL/dx [T, ...], dL/dv0 [...] or None, dL/dk [...] or None)``.

    ``gs`` (dL/dspikes) may be None (zero), contiguous, or a broadcast scalar (all strides 0,
    as produced by ``spikes.sum().backward()``), which is read once instead of materialised.
    ``kv`` as in :func:`forward`; ``need_gk`` (with ``kv``): the per-neuron gradient of the charge factor
    ``k`` (reduce it to the shape of the parameter it was broadcast from).
    """
    T, M, xst = _dims(x)
    gs, gs_mode, gs_scalar = _grad_spikes(gs, x.dtype)
    if gvT is not None:
        gvT = gvT.to(x.dtype).contiguous()
    gx = torch.empty(x.shape, dtype=x.dtype)
    gv0 = torch.empty(x.shape[1:], dtype=x.dtype) if need_gv0 else None
    gk = torch.empty(x.shape[1:], dtype=x.dtype) if need_gk else None
    if M == 0:
        return gx, gv0, gk
    fpa, ipa = _params(fp, ip)
    rc = lib.sf_lif_backward(
        _ptr(x), _ptr(v0), _ptr(kv), _ptr(gs), gs_scalar,
        gs_mode, _ptr(gvT), _ptr(gx), _ptr(gv0), _ptr(gk), T, M, xst, fpa, ipa, torch.get_num_threads(),
    )
    if rc < 0:
        raise RuntimeError(f"internal error: unsupported kernel mode {ip}")
    return gx, gv0, gk


def _grad_spikes(gs: torch.Tensor | None, dtype: torch.dtype) -> tuple[torch.Tensor | None, int, float]:
    """``(gs, gs_mode, gs_scalar)`` as the backward kernels read dL/dspikes: contiguous (mode 0), or a
    broadcast scalar read once (mode 1, also for None: zero)."""
    if gs is None:
        return None, 1, 0.0
    if gs.numel() > 0 and all(st == 0 for st in gs.stride()):
        return None, 1, float(gs[(0,) * gs.dim()].item())
    return gs.to(dtype).contiguous(), 0, 0.0


def two_state_forward(
    lib: ctypes.CDLL, x: torch.Tensor, v0: torch.Tensor | None, a0: torch.Tensor | None, fp: list[float],
    ip: list[int], *, kind: str = "alif",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Run the forward kernel of a two-state neuron: ``(spikes [T, ...], v_T [...], w_T [...], NaN count)``.

    ``kind="alif"``: ``fp`` is LIF's list followed by ``beta``, ``rho`` and ``1 − detach_adaptation``, the second
    state is the adaptation ``a``; ``kind="izhikevich"``: the layout of ``sf_izh_forward`` (see
    ``_cpu_kernel.cpp``), the second state is ``u`` and ``v0`` / ``a0`` must be given. ``v0`` / ``a0`` contiguous
    or None (zeros); ``x`` as in :func:`forward`.
    """
    T, M, xst = _dims(x)
    s = torch.empty(x.shape, dtype=x.dtype)
    vT = torch.empty(x.shape[1:], dtype=x.dtype)
    aT = torch.empty(x.shape[1:], dtype=x.dtype)
    if M == 0:
        return s, vT, aT, 0
    fpa, ipa = _params(fp, ip)
    fn = lib.sf_alif_forward if kind == "alif" else lib.sf_izh_forward
    n_nan = fn(_ptr(x), _ptr(v0), _ptr(a0), _ptr(s), _ptr(vT), _ptr(aT), T, M, xst, fpa, ipa, torch.get_num_threads())
    if n_nan < 0:
        raise RuntimeError(f"internal error: unsupported {kind} kernel mode {ip}")
    return s, vT, aT, int(n_nan)


def two_state_backward(
    lib: ctypes.CDLL, x: torch.Tensor, v0: torch.Tensor | None, a0: torch.Tensor | None, gs: torch.Tensor | None,
    gvT: torch.Tensor | None, gaT: torch.Tensor | None, fp: list[float], ip: list[int], need_gv0: bool,
    need_ga0: bool, *, kind: str = "alif",
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Run the backward kernel of a two-state neuron (``kind`` as in :func:`two_state_forward`): ``(dL/dx [T, ...],
    dL/dv0 [...] or None, dL/d(second state) [...] or None)``; ``gs`` as in :func:`backward`."""
    T, M, xst = _dims(x)
    gs, gs_mode, gs_scalar = _grad_spikes(gs, x.dtype)
    gvT = None if gvT is None else gvT.to(x.dtype).contiguous()
    gaT = None if gaT is None else gaT.to(x.dtype).contiguous()
    gx = torch.empty(x.shape, dtype=x.dtype)
    gv0 = torch.empty(x.shape[1:], dtype=x.dtype) if need_gv0 else None
    ga0 = torch.empty(x.shape[1:], dtype=x.dtype) if need_ga0 else None
    if M == 0:
        return gx, gv0, ga0
    fpa, ipa = _params(fp, ip)
    fn = lib.sf_alif_backward if kind == "alif" else lib.sf_izh_backward
    rc = fn(_ptr(x), _ptr(v0), _ptr(a0), _ptr(gs), gs_scalar, gs_mode, _ptr(gvT), _ptr(gaT), _ptr(gx), _ptr(gv0),
            _ptr(ga0), T, M, xst, fpa, ipa, torch.get_num_threads())
    if rc < 0:
        raise RuntimeError(f"internal error: unsupported {kind} kernel mode {ip}")
    return gx, gv0, ga0


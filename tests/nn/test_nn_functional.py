"""The fused multi-step LIF against the naive per-step autograd loop, gradcheck, and bad input."""

import itertools
import os

import pytest
import torch

from spikeforge.nn import _cpu_kernel
from spikeforge.nn.functional import (
    LIFSpec,
    check_sequence,
    lif_multi_step,
    lif_multi_step_reference,
    lif_step,
    select_backend,
)
from spikeforge.nn.surrogate import SURROGATES, Surrogate

HAVE_KERNEL = _cpu_kernel.load(torch.float32) is not None
FUSED = ["cpu", "torch"] if HAVE_KERNEL else ["torch"]
RESETS = ["hard", "soft", "none", "soft_delayed"]
CHARGES = [
    dict(charge="tau", tau=1.7, decay_input=True),
    dict(charge="tau", tau=3.0, decay_input=False, v_reset=-0.2),
    dict(charge="decay", decay=0.25, decay_input=False),
    dict(charge="decay", decay=0.6, decay_input=True),
    dict(charge="if"),
]


def _run(backend, spec, x, v0, w):
    x = x.detach().clone().requires_grad_(True)
    v0 = v0.detach().clone().requires_grad_(True)
    s, v = lif_multi_step(x, v0, spec, backend=backend)
    gx, gv = torch.autograd.grad((s * w).sum() + (v * v).sum(), (x, v0))
    return s, v, gx, gv


def test_kernel_builds_here():
    """CI machines have a compiler: the compiled path must be the one in use (not silently skipped)."""
    assert HAVE_KERNEL, _cpu_kernel.unavailable_reason()
    assert select_backend(torch.zeros(2, 2)) == "cpu"
    assert select_backend(torch.zeros(2, 2, dtype=torch.float16)) == "torch"


@pytest.mark.parametrize("reset,detach,compare", list(itertools.product(RESETS, [False, True], [">=", ">"])))
def test_fused_equals_naive_loop(reset, detach, compare):
    """Every reset x detach x comparison x surrogate x charge: identical spikes and state, same gradients."""
    gen = torch.Generator().manual_seed(hash((reset, detach, compare)) % 2**31)
    for (name, ch_kw) in itertools.product(sorted(SURROGATES), CHARGES):
        spec = LIFSpec(reset=reset, detach_reset=detach, spike_compare=compare, surrogate=Surrogate(name, 1.5),
                       v_th=0.8, **ch_kw)
        x = torch.randn(6, 3, 21, generator=gen) * 1.5
        x[2, 0, :4] = 0.8  # exactly at threshold for the IF / first-step cases: exercises >= vs >
        v0 = torch.randn(3, 21, generator=gen) * 0.5
        w = torch.randn(6, 3, 21, generator=gen)
        ref = _run("reference", spec, x, v0, w)
        for backend in FUSED:
            got = _run(backend, spec, x, v0, w)
            msg = f"{backend} {spec}"
            assert torch.equal(got[0], ref[0]), msg
            assert torch.equal(got[1], ref[1]), msg
            torch.testing.assert_close(got[2], ref[2], rtol=1e-5, atol=1e-5, msg=msg)
            torch.testing.assert_close(got[3], ref[3], rtol=1e-5, atol=1e-5, msg=msg)


@pytest.mark.parametrize("backend", FUSED)
def test_large_threaded_and_float64(backend):
    """Sizes that use several threads and blocks; float64 path."""
    spec = LIFSpec(surrogate="sigmoid", reset="soft")
    for dtype in (torch.float32, torch.float64):
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(5, 7, 5003, generator=gen, dtype=dtype) * 2
        v0 = torch.zeros(7, 5003, dtype=dtype)
        w = torch.randn(x.shape, generator=gen, dtype=dtype)
        ref = _run("reference", spec, x, v0, w)
        got = _run(backend, spec, x, v0, w)
        assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
        torch.testing.assert_close(got[2], ref[2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", FUSED)
@pytest.mark.parametrize("reset", ["hard", "soft", "none", "soft_delayed"])
@pytest.mark.parametrize("T", [1, 4, 16])
def test_gradcheck_smooth_mode(backend, reset, T):
    """float64 gradcheck of the fused backward recurrence; the forward uses the surrogate's primitive
    (Surrogate(spiking=False)) so that finite differences see the same function the backward differentiates."""
    combos = [("atan", CHARGES[0]), ("sigmoid", CHARGES[1]), ("erf", CHARGES[2]), ("triangle", CHARGES[4])]
    for name, ch_kw in combos if T < 16 else combos[:2]:
        spec = LIFSpec(reset=reset, surrogate=Surrogate(name, 1.3, spiking=False), v_th=0.7, **ch_kw)
        gen = torch.Generator().manual_seed(T)
        x = torch.randn(T, 2, 3 if T < 16 else 1, generator=gen, dtype=torch.float64, requires_grad=True)
        v0 = (0.3 * torch.randn(*x.shape[1:], generator=gen, dtype=torch.float64)).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda a, b, spec=spec: lif_multi_step(a, b, spec, backend=backend), (x, v0))


def test_gradcheck_reference_matches_in_smooth_mode():
    spec = LIFSpec(surrogate=Surrogate("atan", spiking=False))
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: lif_multi_step_reference(a, None, spec), (x,))


@pytest.mark.parametrize("backend", FUSED)
def test_broadcast_grad_and_expanded_input(backend):
    """spikes.sum() gives a stride-0 gradient; a stride-0 time axis (direct encoding) is read as is."""
    spec = LIFSpec(reset="soft")
    base = torch.randn(4, 300)
    x_exp = base.unsqueeze(0).expand(5, 4, 300)
    assert x_exp.stride(0) == 0
    xa = x_exp.clone().requires_grad_(True)
    xb = base.clone().requires_grad_(True)
    sa, _ = lif_multi_step(xa, None, spec, backend=backend)
    sb, _ = lif_multi_step(xb.unsqueeze(0).expand(5, 4, 300), None, spec, backend=backend)
    assert torch.equal(sa, sb)
    sa.sum().backward()
    sb.sum().backward()
    torch.testing.assert_close(xa.grad.sum(0), xb.grad, rtol=1e-5, atol=1e-5)
    # a broadcast gradient gives the same result as a materialised one
    (gc,) = torch.autograd.grad(lif_multi_step(xa, None, spec, backend=backend)[0], xa, torch.ones(5, 4, 300))
    torch.testing.assert_close(gc, xa.grad)


@pytest.mark.parametrize("backend", FUSED + ["reference"])
def test_single_step_loop_equals_multi_step(backend):
    spec = LIFSpec(surrogate="triangle", reset="soft_delayed", v_th=0.5)
    x = torch.randn(7, 2, 9, requires_grad=True)
    s_multi, v_multi = lif_multi_step(x, None, spec, backend=backend)
    (g_multi,) = torch.autograd.grad(s_multi.sum() + v_multi.sum(), x)
    v = torch.zeros(2, 9)
    outs = []
    for t in range(7):
        s, v = lif_step(x[t], v, spec, backend=backend)
        outs.append(s)
    s_single = torch.stack(outs)
    (g_single,) = torch.autograd.grad(s_single.sum() + v.sum(), x)
    assert torch.equal(s_single, s_multi)
    torch.testing.assert_close(g_single, g_multi)


def test_only_input_and_initial_state_are_saved():
    """The compiled path keeps the input and v0 alive for the backward pass, nothing else."""
    if not HAVE_KERNEL:
        pytest.skip("no compiler")
    x = torch.randn(4, 3, 10, requires_grad=True)
    s, v = lif_multi_step(x, None, LIFSpec(), backend="cpu")
    saved = s.grad_fn.saved_tensors
    assert len(saved) == 2 and saved[0].data_ptr() == x.data_ptr() and saved[1] is None


@pytest.mark.parametrize("backend", FUSED + ["reference"])
def test_bad_input(backend):
    spec = LIFSpec()
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        lif_multi_step(torch.zeros(5), None, spec, backend=backend)
    with pytest.raises(TypeError, match="floating-point"):
        lif_multi_step(torch.zeros(3, 4, dtype=torch.int64), None, spec, backend=backend)
    with pytest.raises(TypeError, match="floating-point"):
        lif_multi_step(torch.zeros(3, 4, dtype=torch.bool), None, spec, backend=backend)
    with pytest.raises(ValueError, match="T = 0"):
        lif_multi_step(torch.zeros(0, 4), None, spec, backend=backend)
    x = torch.zeros(3, 4)
    x[1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        lif_multi_step(x, None, spec, backend=backend)
    with pytest.raises(ValueError, match="does not match"):
        lif_multi_step(torch.zeros(3, 4), torch.zeros(5), spec, backend=backend)
    with pytest.raises(TypeError, match="torch.Tensor"):
        lif_multi_step([[0.0]], None, spec, backend=backend)
    with pytest.raises(TypeError):
        check_sequence(torch.zeros(2, 2, dtype=torch.complex64))


def test_bad_spec_and_backend():
    with pytest.raises(ValueError, match="reset"):
        LIFSpec(reset="sometimes")
    with pytest.raises(ValueError, match="tau"):
        LIFSpec(tau=0.5)
    with pytest.raises(ValueError, match="decay"):
        LIFSpec(charge="decay", decay=1.5)
    with pytest.raises(ValueError, match="spike_compare"):
        LIFSpec(spike_compare="=>")
    with pytest.raises(ValueError, match="finite"):
        LIFSpec(v_th=float("nan"))
    with pytest.raises(ValueError, match="backend"):
        lif_multi_step(torch.zeros(2, 2), None, LIFSpec(), backend="cuda-magic")
    with pytest.raises(ValueError, match="float32/float64 CPU"):
        lif_multi_step(torch.zeros(2, 2, dtype=torch.bfloat16), None, LIFSpec(), backend="cpu")


def test_nan_check_can_be_disabled():
    x = torch.full((2, 3), float("nan"))
    s, v = lif_multi_step(x, None, LIFSpec(), check_nan=False)
    assert (s == 0).all()


def test_half_precision_uses_torch_path():
    x = torch.randn(3, 2, 8).to(torch.bfloat16)
    s, v = lif_multi_step(x, None, LIFSpec())
    ref, _ = lif_multi_step_reference(x, None, LIFSpec())
    assert s.dtype == torch.bfloat16 and torch.equal(s, ref)


def test_kernel_cache_is_reused(tmp_path, monkeypatch):
    """A fresh cache directory builds once; a second load of the same variant only opens the library."""
    if not HAVE_KERNEL:
        pytest.skip("no compiler")
    monkeypatch.setenv("SPIKEFORGE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_cpu_kernel, "_state", {})
    assert _cpu_kernel.load(torch.float32) is not None
    built = list((tmp_path / "kernels").glob("sf_lif_float32_*.so"))
    assert len(built) == 1
    mtime = built[0].stat().st_mtime_ns
    monkeypatch.setattr(_cpu_kernel, "_state", {})
    assert _cpu_kernel.load(torch.float32) is not None
    assert built[0].stat().st_mtime_ns == mtime


def test_kernel_disabled_falls_back(monkeypatch):
    monkeypatch.setenv("SPIKEFORGE_CPU_KERNEL", "0")
    monkeypatch.setattr(_cpu_kernel, "_state", {})
    assert _cpu_kernel.load(torch.float32) is None
    assert "disabled" in _cpu_kernel.unavailable_reason()
    assert select_backend(torch.zeros(2, 2)) == "torch"
    s, _ = lif_multi_step(torch.ones(2, 3), None, LIFSpec(charge="if"))
    assert s[0].eq(1).all()


def test_unwritable_cache_falls_back_to_tmp(tmp_path, monkeypatch):
    if not HAVE_KERNEL:
        pytest.skip("no compiler")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if os.access(ro, os.W_OK):  # running as root: permissions are not enforced
        pytest.skip("cannot make a read-only directory here")
    monkeypatch.setenv("SPIKEFORGE_CACHE_DIR", str(ro))
    monkeypatch.setattr(_cpu_kernel, "_state", {})
    assert _cpu_kernel.load(torch.float32) is not None


def test_pthreads_build_matches_openmp_build(tmp_path, monkeypatch):
    """Where the compiler has no OpenMP the kernel falls back to its own pthreads: same results."""
    if not HAVE_KERNEL:
        pytest.skip("no compiler")
    torch.manual_seed(3)
    x = (torch.rand(8, 4, 4096, dtype=torch.float32) * 1.5).requires_grad_(True)  # enough work for 2 threads
    spec = LIFSpec(tau=2.0, surrogate="atan")
    outs = []
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for flags in (_cpu_kernel._FLAGS, [f for f in _cpu_kernel._FLAGS if f != "-fopenmp"]):
            monkeypatch.setenv("SPIKEFORGE_CACHE_DIR", str(tmp_path))
            monkeypatch.setattr(_cpu_kernel, "_FLAGS", flags)
            monkeypatch.setattr(_cpu_kernel, "_state", {})
            s, _ = lif_multi_step(x, None, spec, backend="cpu")
            (g,) = torch.autograd.grad((s * torch.linspace(0, 1, 4096)).sum(), x)
            outs.append((s.detach(), g))
    finally:
        torch.set_num_threads(threads)
    assert len(list((tmp_path / "kernels").glob("sf_lif_float32_*.so"))) == 2
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])


@pytest.mark.parametrize("v_th", [0.0, -1.0, -1e-12])
def test_threshold_must_be_positive(v_th):
    """Regression: v_th <= 0 was accepted; IF(v_th=0) fired at every step on zero input."""
    import spikeforge.nn as sfnn

    with pytest.raises(ValueError, match="v_th must be > 0"):
        LIFSpec(v_th=v_th)
    with pytest.raises(ValueError, match="v_th must be > 0"):
        sfnn.IF(v_th=v_th)
    with pytest.raises(ValueError, match="v_th must be > 0"):
        sfnn.LIF(v_th=v_th, v_reset=None)


def test_spec_accepts_numpy_scalars():
    """Regression: np.float32 thresholds were refused with 'must be a finite number'."""
    import numpy as np

    import spikeforge.nn as sfnn

    spec = LIFSpec(v_th=np.float32(0.5), tau=np.float64(3.0), decay=np.float32(0.25), v_reset=np.int64(0))
    assert spec == LIFSpec(v_th=0.5, tau=3.0, decay=0.25, v_reset=0.0)
    assert all(type(getattr(spec, k)) is float for k in ("v_th", "tau", "decay", "v_reset"))
    assert sfnn.LIF(tau=np.float32(2.0), v_th=np.float32(0.5)).v_th == 0.5
    for bad in (True, "1.0", None, np.float32("inf")):
        with pytest.raises(ValueError, match="v_th must be a finite real number"):
            LIFSpec(v_th=bad)


def test_triton_backend_on_cpu_tensors_is_a_clear_error():
    from spikeforge.nn.functional import LIFSpec, lif_multi_step

    with pytest.raises(ValueError, match="needs CUDA tensors"):
        lif_multi_step(torch.zeros(3, 2), None, LIFSpec(), backend="triton")

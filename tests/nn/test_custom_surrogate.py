"""Custom (user-function) surrogates: same results as the built-in shape they imitate, the pure-torch path
chosen for them, clear errors on bad functions and backends, torch.compile, and NIR round trips."""

import math
import warnings

import pytest
import torch

from spikeforge.nn import ALIF, LIF, PLIF, LIFSpec, Surrogate, surrogate
from spikeforge.nn.functional import lif_multi_step, select_backend


def atan2(x: torch.Tensor) -> torch.Tensor:
    """The built-in ``atan`` with α = 2, written by hand: (α/2) / (1 + (π α x / 2)²)."""
    return 1.0 / (1.0 + (math.pi * x) ** 2)


def atan2_primitive(x: torch.Tensor) -> torch.Tensor:
    return torch.atan(math.pi * x) / math.pi + 0.5


def _grads(layer, x):
    x = x.clone().requires_grad_(True)
    s = layer(x)
    w = torch.linspace(-1.0, 1.0, s.numel(), dtype=x.dtype).reshape(s.shape)
    (s * w).sum().backward()
    return s.detach(), x.grad


@pytest.mark.parametrize("reset", ["hard", "soft", "soft_delayed"])
def test_custom_copy_of_atan_matches_the_builtin_on_the_compiled_kernel(reset):
    torch.manual_seed(0)
    x = torch.randn(12, 3, 7, dtype=torch.float64) * 0.8
    ref = LIF(tau=2.0, reset=reset, surrogate="atan", backend="auto")
    custom = LIF(tau=2.0, reset=reset, surrogate=atan2)
    s0, g0 = _grads(ref, x)
    s1, g1 = _grads(custom, x)
    assert torch.equal(s0, s1)
    assert g0.abs().sum() > 0
    torch.testing.assert_close(g1, g0, rtol=1e-10, atol=1e-12)


def test_custom_surrogate_changes_the_gradient_and_reference_agrees():
    torch.manual_seed(1)
    x = torch.randn(10, 4, 5, dtype=torch.float64)
    narrow = Surrogate.custom(lambda u: torch.exp(-(10 * u) ** 2), name="narrow")
    _, g_wide = _grads(LIF(surrogate="atan"), x)
    _, g_fused = _grads(LIF(surrogate=narrow, backend="torch"), x)
    _, g_ref = _grads(LIF(surrogate=narrow, backend="reference"), x)
    torch.testing.assert_close(g_fused, g_ref, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(g_fused, g_wide)


def test_backend_choice_and_errors():
    x = torch.zeros(3, 2)
    assert select_backend(x, "auto", custom=True) == "torch"
    assert select_backend(x, "reference", custom=True) == "reference"
    spec = LIFSpec(surrogate=atan2)
    for backend in ("cpu", "triton"):
        with pytest.raises(ValueError, match="custom surrogate"):
            lif_multi_step(x, None, spec, backend=backend)
    with pytest.raises(ValueError, match="built-in shapes"):
        _ = spec.surrogate.kernel_id


def test_construction_checks():
    with pytest.raises(TypeError, match="callable"):
        Surrogate.custom(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="primitive"):
        Surrogate.custom(atan2, primitive="g")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same shape"):
        Surrogate.custom(lambda u: u.sum())
    with pytest.raises(ValueError, match="same shape"):
        Surrogate.custom(lambda u: 1.0)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="non-finite"):
        Surrogate.custom(lambda u: 1 / u)
    with pytest.raises(ValueError, match="failed on a probe"):
        Surrogate.custom(lambda u: u.nonexistent())
    with pytest.raises(ValueError, match="primitive"):
        Surrogate.custom(atan2, spiking=False)
    with pytest.raises(ValueError, match="alpha does not apply"):
        surrogate(atan2, 3.0)
    with pytest.raises(ValueError, match="alpha does not apply"):
        surrogate(Surrogate.custom(atan2), 3.0)
    with pytest.raises(ValueError, match="no primitive"):
        Surrogate.custom(atan2).primitive(torch.zeros(2))
    with pytest.raises(ValueError, match="name"):
        Surrogate.custom(atan2, name="")


def test_identity_peak_repr_and_hash():
    a, b = Surrogate.custom(atan2), Surrogate.custom(atan2)
    assert a == b and hash(a) == hash(b) and a.is_custom and not Surrogate("atan").is_custom
    assert a != Surrogate.custom(atan2_primitive)
    assert a.name == "custom:atan2" and a.peak == pytest.approx(1.0)
    assert "custom:atan2" in repr(a) and "peak=1" in repr(a)
    assert LIFSpec(surrogate=atan2) == LIFSpec(surrogate=a)
    assert "custom:atan2" in repr(LIF(surrogate=atan2))


def test_smooth_mode_with_a_primitive_passes_gradcheck():
    sg = Surrogate.custom(atan2, atan2_primitive, spiking=False)
    torch.testing.assert_close(sg.primitive(torch.zeros(1, dtype=torch.float64)), torch.full((1,), 0.5, dtype=torch.float64))
    spec = LIFSpec(tau=2.0, reset="soft", surrogate=sg)
    x = (torch.randn(6, 2, 3, dtype=torch.float64) * 0.7).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda u: lif_multi_step(u, None, spec, backend="torch")[0], (x,))


def test_torch_compile_runs_the_plain_loop_and_agrees():
    torch.manual_seed(2)
    x = torch.randn(8, 3, 4)
    spec = LIFSpec(tau=2.0, surrogate=atan2)

    def f(u):
        return lif_multi_step(u, None, spec)[0]

    xe = x.clone().requires_grad_(True)
    eager = f(xe)
    (eager * torch.arange(eager.numel()).reshape(eager.shape)).sum().backward()
    xc = x.clone().requires_grad_(True)
    compiled = torch.compile(f, backend="aot_eager")(xc)
    (compiled * torch.arange(compiled.numel()).reshape(compiled.shape)).sum().backward()
    assert torch.equal(eager, compiled)
    torch.testing.assert_close(xc.grad, xe.grad)


def test_plif_and_alif_take_custom_surrogates():
    torch.manual_seed(3)
    x = torch.randn(10, 2, 4)
    for layer in (PLIF(surrogate=atan2), ALIF(surrogate=atan2)):
        s, g = _grads(layer, x)
        assert s.sum() > 0 and g.abs().sum() > 0
        assert layer.surrogate.is_custom


def test_nir_round_trip_warns_and_keeps_the_forward():
    pytest.importorskip("nir")
    from spikeforge.interop import from_nir, to_nir

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), LIF(tau=2.0, surrogate=atan2))
    graph = to_nir(model, (4,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        back = from_nir(graph)
    assert any("custom:atan2" in str(w.message) for w in caught)
    x = torch.randn(6, 2, 4)
    torch.testing.assert_close(back(x), model(x))


def test_train_config_with_a_custom_spec_reloads_with_a_warning():
    from spikeforge.nn.train import _spec_from_json, _spec_to_json

    spec = LIFSpec(tau=3.0, surrogate=atan2)
    stored = _spec_to_json(spec)
    assert stored["surrogate"] == ["custom:atan2", None, True]
    with pytest.warns(UserWarning, match="custom:atan2"):
        back = _spec_from_json(stored)
    assert back.tau == 3.0 and back.surrogate == Surrogate("atan")


def test_review_fixes_pickle_equality_and_repeated_warnings():
    import pickle

    a = Surrogate.custom(atan2)
    b = pickle.loads(pickle.dumps(a))
    assert a == b and LIFSpec(surrogate=a) == LIFSpec(surrogate=b) and a.alpha is None
    from spikeforge.nn.functional import _spec_from_key

    key = LIFSpec(surrogate=a)._key
    for _ in range(2):  # every read warns (no cached silent fallback)
        with pytest.warns(UserWarning, match="custom:atan2"):
            assert _spec_from_key(key).surrogate == Surrogate("atan")

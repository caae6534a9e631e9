"""The k-WTA step against its per-sample reference, and WTALayer against a readable step loop:
lateral inhibition, adaptive threshold, normalisation, modes and argument checks."""

import math

import pytest
import torch

from spikeforge.nn import WTALayer, kwta_step, kwta_step_reference


@pytest.mark.parametrize("k", [1, 2, 5, 7])
def test_kwta_step_equals_the_reference(k):
    g = torch.Generator().manual_seed(k)
    for _ in range(20):
        v = torch.randn(6, 7, generator=g, dtype=torch.float64)
        thr = torch.randn(7, generator=g, dtype=torch.float64) * 0.5
        got = kwta_step(v, thr, k)
        torch.testing.assert_close(got, kwta_step_reference(v, thr, k))
        assert (got.sum(1) <= k).all()


def test_kwta_ties_go_to_the_lower_index_and_nothing_below_threshold_fires():
    v = torch.tensor([[1.0, 2.0, 2.0, 2.0], [0.0, 0.1, 0.2, 0.3]])
    torch.testing.assert_close(kwta_step(v, 1.5, 2), torch.tensor([[0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))
    torch.testing.assert_close(kwta_step(v, 1.5, 2), kwta_step_reference(v, 1.5, 2))


def _loop(layer, x, use_theta=True, adapt=True):
    """Readable reference of WTALayer.forward: one sample and neuron at a time (θ shared)."""
    T, B, _ = x.shape
    W = layer.linear.weight.detach().double()
    N = W.shape[0]
    theta = layer.theta.detach().double().clone()
    d_m = math.exp(-layer.dt_ms / layer.tau_m_ms)
    d_th = math.exp(-layer.dt_ms / layer.tau_theta_ms)
    v = [[layer.v_reset] * N for _ in range(B)]
    out = torch.zeros(T, B, N, dtype=torch.float64)
    for t in range(T):
        spikes_t = []
        for b in range(B):
            for n in range(N):
                v[b][n] = v[b][n] * d_m + float(W[n] @ x[t, b].double())
            thr = [layer.v_th + (float(theta[n]) if use_theta else 0.0) for n in range(N)]
            over = sorted(((v[b][n] - thr[n], n) for n in range(N) if v[b][n] - thr[n] >= 0), key=lambda c: (-c[0], c[1]))
            winners = [n for _, n in over[: layer.k]]
            for n in winners:
                out[t, b, n] = 1.0
            if winners:
                for n in (range(N) if layer.reset == "all" else winners):
                    v[b][n] = layer.v_reset
            spikes_t.append(winners)
        if adapt:
            for n in range(N):
                theta[n] = theta[n] * d_th + layer.theta_plus * sum(n in w for w in spikes_t) / B
    return out, theta


@pytest.mark.parametrize("k, reset", [(1, "all"), (2, "winners"), (3, "all")])
def test_layer_equals_the_step_loop(k, reset):
    torch.manual_seed(0)
    layer = WTALayer(12, 6, k=k, reset=reset, tau_m_ms=15.0, dt_ms=1.0, v_th=0.6, v_reset=-0.1, theta_plus=0.05,
                     tau_theta_ms=40.0, w_init=(0.0, 0.3)).double()
    x = (torch.rand(30, 4, 12, generator=torch.Generator().manual_seed(1)) < 0.3).double()
    want, theta = _loop(layer, x)
    got = layer(x)  # training mode: θ adapts
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(layer.theta, theta)
    assert got.sum() > 10 and (got.sum(2) <= k).all()
    before = layer.theta.clone()
    layer.eval()  # no adaptation, θ used
    want, _ = _loop(layer, x, adapt=False)
    torch.testing.assert_close(layer(x), want)
    torch.testing.assert_close(layer.theta, before)
    want, _ = _loop(layer, x, use_theta=False, adapt=False)
    torch.testing.assert_close(layer(x, use_theta=False), want)


def test_homeostasis_spreads_the_wins_and_normalisation_sets_row_sums():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(200, 8, 20, generator=g) < 0.2).float()
    torch.manual_seed(0)
    plain = WTALayer(20, 10, w_init=(0.0, 0.2))
    adaptive = WTALayer(20, 10, w_init=(0.0, 0.2), theta_plus=0.1)
    adaptive.load_state_dict(plain.state_dict())
    wins_plain, wins_adaptive = plain(x).sum((0, 1)), adaptive(x).sum((0, 1))
    # the wins are spread more evenly over the neurons (here 284 : 1 without θ, about 2 : 1 with)
    assert wins_adaptive.max() / wins_adaptive.min() < 0.1 * wins_plain.max() / wins_plain.min().clamp_min(1)
    assert adaptive.theta.max() > 0 and plain.theta.abs().max() == 0
    layer = WTALayer(20, 10, norm_total=3.0)
    torch.testing.assert_close(layer.linear.weight.sum(1), torch.full((10,), 3.0))
    with torch.no_grad():
        layer.linear.weight.mul_(2.0)
    layer.normalize_()
    torch.testing.assert_close(layer.linear.weight.sum(1), torch.full((10,), 3.0))
    assert "theta" in layer.state_dict()


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 0}, "k must be an integer"),
    ({"tau_m_ms": 0.0}, "tau_m_ms"),
    ({"tau_theta_ms": -1.0}, "tau_theta_ms"),
    ({"reset": "none"}, "reset must be"),
    ({"theta_plus": -0.1}, "theta_plus"),
    ({"norm_total": 0.0}, "norm_total"),
    ({"w_init": (1.0, 0.0)}, "w_init"),
])
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WTALayer(4, 3, **kwargs)


def test_bad_input_shape():
    with pytest.raises(ValueError, match=r"\[T, B, 4\]"):
        WTALayer(4, 3)(torch.zeros(5, 4))
    with pytest.raises(ValueError, match=r"\[B, N\]"):
        kwta_step(torch.zeros(3), 0.0)


def test_empty_batch_gives_empty_output_without_touching_theta():
    layer = WTALayer(5, 4, theta_plus=0.1)
    out = layer(torch.rand(4, 0, 5))
    assert out.shape == (4, 0, 4) and bool((layer.theta == 0).all())


def test_jit_trace_in_eval_mode_matches_eager():
    layer = WTALayer(5, 4, k=2, theta_plus=0.1).eval()
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(6, 2, 5, generator=g) < 0.5).float()
    traced = torch.jit.trace(layer, (x,), check_trace=False)
    x2 = (torch.rand(6, 2, 5, generator=g) < 0.5).float()
    assert torch.equal(traced(x2), layer(x2))

"""Delta coding (``spikeforge.encoding.delta``): snnTorch's delta spikes and send-on-delta modulation,
vectorised functions against their element-by-element reference loops."""

import numpy as np
import pytest
import torch

from spikeforge.encoding import (
    delta_encode,
    delta_encode_reference,
    delta_modulate,
    delta_modulate_reference,
)


def _signals(seed, shape=(12, 3, 5), dtype=torch.float32):
    """Random walks with jumps: steps of a few thresholds, some much larger, some tiny (drift)."""
    g = torch.Generator().manual_seed(seed)
    steps = torch.randn(shape, generator=g, dtype=torch.float64) * 0.3
    steps[torch.rand(shape, generator=g) < 0.1] *= 10
    steps[torch.rand(shape, generator=g) < 0.2] *= 0.01
    return steps.cumsum(0).to(dtype)


# ---------------------------------------------------------------------------- delta_encode
def test_encode_examples_of_snntorch_docs():
    """snnTorch's documented ``spikegen.delta(b, threshold=1, off_spike=True)`` example, time being the only axis."""
    b = torch.tensor([1, 2, 0, 2, 2.9])
    assert delta_encode(b, 1).tolist() == [1, 1, -1, 1, 0]
    assert delta_encode(b, 1, padding=True).tolist() == [0, 1, -1, 1, 0]
    assert delta_encode(b, 1, off_spikes=False).tolist() == [1, 1, 0, 1, 0]


def test_encode_sign_and_boundaries():
    """An increase gives +1 and a decrease −1 (a sign flip fails here); a change of exactly θ spikes."""
    x = torch.tensor([[0.0, 0.0], [1.0, -1.0], [0.0, 0.0], [0.5, 0.5], [0.25, 0.25]])  # [T=5, B=2]
    s = delta_encode(x, 0.5)
    np.testing.assert_array_equal(s.numpy(), [[0, 0], [1, -1], [-1, 1], [1, 1], [0, 0]])
    assert s.dtype == torch.float32 and s.shape == x.shape
    # the first step is compared with 0 (padding=False) or with itself (padding=True)
    y = torch.tensor([[-2.0], [-2.0]])
    assert delta_encode(y, 1.0).flatten().tolist() == [-1, 0]
    assert delta_encode(y, 1.0, padding=True).flatten().tolist() == [0, 0]
    # a slow drift is never signalled by delta_encode, but is by delta_modulate
    ramp = torch.arange(10, dtype=torch.float64)[:, None] * 0.3
    assert delta_encode(ramp, 1.0, padding=True).abs().sum() == 0
    assert delta_modulate(ramp, 1.0, padding=True).sum() == 2  # 2.7 above the start: 2 ON events


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("off_spikes", [True, False])
@pytest.mark.parametrize("padding", [True, False])
def test_encode_matches_reference_loop(seed, off_spikes, padding):
    x = _signals(seed)
    for threshold in (0.05, 0.3, 1.7):
        got = delta_encode(x, threshold, off_spikes=off_spikes, padding=padding)
        ref = delta_encode_reference(x, threshold, off_spikes=off_spikes, padding=padding)
        assert torch.equal(got, ref)
        assert got.abs().sum() > 0
        assert (got >= 0).all() if not off_spikes else (got < 0).any()


def test_encode_dtypes_and_shapes():
    x64 = _signals(0, (6, 4), torch.float64)
    assert delta_encode(x64, 0.1).dtype == torch.float64
    ints = torch.tensor([[0, 3], [5, 3], [1, 1]])
    assert delta_encode(ints, 2).dtype == torch.float32
    assert delta_encode(ints, 2).tolist() == [[0, 1], [1, 0], [-1, -1]]
    assert delta_encode(np.array([0.0, 1.0]), 0.5).tolist() == [0, 1]  # array-like input
    assert delta_encode(torch.zeros(3, 0, 2), 0.5).shape == (3, 0, 2)  # no elements
    assert delta_encode(torch.ones(1, 2, 2, 2), 0.5).shape == (1, 2, 2, 2)


# ---------------------------------------------------------------------------- delta_modulate
def test_modulate_counts_events_and_tracks_the_signal():
    x = torch.tensor([0.0, 0.35, 0.36, 0.1, -0.45, 2.05], dtype=torch.float64)
    c = delta_modulate(x, 0.1)
    # 0 → 0.35: 3 ON events (reference 0.3); 0.36: none; 0.1: 2 OFF (0.1); −0.45: 5 OFF (−0.4); 2.05: 24 ON (2.0)
    assert c.tolist() == [0, 3, 0, -2, -5, 24] and c.dtype == torch.int32
    up = delta_modulate(torch.tensor([0.0, 1.0]), 0.25)
    assert up.tolist() == [0, 4]  # an increase gives positive counts (a sign flip fails here)
    assert delta_modulate(-torch.tensor([0.0, 1.0]), 0.25).tolist() == [0, -4]
    # the first step: from 0 (padding=False) or from x_0 (padding=True)
    assert delta_modulate(torch.tensor([[0.95], [1.0]]), 0.3).flatten().tolist() == [3, 0]
    assert delta_modulate(torch.tensor([[0.95], [1.0]]), 0.3, padding=True).flatten().tolist() == [0, 0]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("padding", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_modulate_matches_reference_loop_and_decodes(seed, padding, dtype):
    x = _signals(seed, dtype=dtype)
    for threshold in (0.05, 0.3, 1.7):
        got = delta_modulate(x, threshold, padding=padding)
        ref = delta_modulate_reference(x, threshold, padding=padding)
        assert torch.equal(got, ref)
        if threshold == 0.05:
            assert (got > 1).any() and (got < -1).any()  # several events in one step, both signs
        # the reference level base + θ·Σ counts stays within θ of the signal (in x's dtype)
        theta = torch.tensor(threshold, dtype=dtype)
        base = x[0] if padding else torch.zeros_like(x[0])
        level = base + got.cumsum(0).to(torch.int64).to(dtype) * theta
        gap = x - level
        assert (gap < theta).all() and (gap > -theta).all()


def test_modulate_exact_boundaries_in_float64():
    """Values on the levels: the event is emitted when the signal is exactly θ away (≥ θ)."""
    x = torch.tensor([0.5, 1.0, 0.5, 0.0, 1.5], dtype=torch.float64)  # multiples of θ = 0.5, exact in binary
    assert delta_modulate(x, 0.5).tolist() == [1, 1, -1, -1, 3]
    assert delta_modulate_reference(x, 0.5).tolist() == [1, 1, -1, -1, 3]


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize("fn", [delta_encode, delta_encode_reference, delta_modulate, delta_modulate_reference])
def test_validation(fn):
    x = torch.zeros(3, 2)
    for bad in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="threshold must be finite and > 0"):
            fn(x, bad)
    for bad in ("0.1", None, True, torch.tensor([0.1, 0.2])):
        with pytest.raises(TypeError, match="threshold must be a real number"):
            fn(x, bad)
    assert fn(x, torch.tensor(0.1)).shape == (3, 2)  # a one-element tensor is a number
    with pytest.raises(ValueError, match=r"time-first \[T, B, \.\.\.\].*0-d"):
        fn(torch.tensor(1.0), 0.1)
    with pytest.raises(ValueError, match="T = 0 time steps"):
        fn(torch.zeros(0, 4), 0.1)
    x_nan = torch.zeros(3, 2)
    x_nan[2, 1] = float("nan")
    with pytest.raises(ValueError, match=r"NaN at index \(2, 1\)"):
        fn(x_nan, 0.1)
    with pytest.raises(ValueError, match="infinity"):
        fn(torch.tensor([0.0, float("-inf")]), 0.1)
    with pytest.raises(TypeError, match="real"):
        fn(torch.zeros(2, dtype=torch.complex64), 0.1)
    with pytest.raises(TypeError, match="padding must be True or False"):
        fn(x, 0.1, padding=1)
    with pytest.raises(ValueError, match="float16"):
        fn(x.half(), 1e-9)  # θ is 0 in float16


def test_modulate_refuses_thresholds_below_the_resolution_of_the_dtype():
    """float32 cannot tell levels θ apart near |x| = 1e4 for θ = 2**-13 (2**23 levels at most)."""
    x = torch.tensor([0.0, 1e4])
    with pytest.raises(ValueError, match="too small for the signal.*float64"):
        delta_modulate(x, 2.0**-13)
    assert delta_modulate(x.double(), 2.0**-13).tolist() == [0, 10_000 * 2**13]  # float64 resolves them
    assert delta_encode(x, 2.0**-13).tolist() == [0, 1]  # no levels in delta_encode: nothing to refuse

"""Compiled time-to-first-spike kernels against the readable torch references (SpykeTorch
semantics), plus hand-checked k-WTA radius cases."""

import numpy as np
import pytest
import torch

from spikeforge.encoding import latency_to_spike_wave, spike_wave_to_latency
from spikeforge.models import _ttfs_kernel as K
from spikeforge.models import ttfs
from spikeforge.plasticity import first_spike_stdp_reference

T = 6


def _dyadic(rng, shape, lo=0.0, hi=1.0):
    """Weights that are multiples of 1/64: sums are exact in float32 in any order."""
    return (np.round(rng.uniform(lo, hi, shape) * 64) / 64).astype(np.float32)


def _random_latency(rng, shape, p_fire=0.4):
    lat = rng.integers(0, T, shape).astype(np.uint8)
    lat[rng.random(shape) > p_fire] = T
    return lat


def _to_kernel(w):  # [F, C, kh, kw] -> [C, kh, kw, F]
    return np.ascontiguousarray(np.transpose(w, (1, 2, 3, 0)))


def _reference_layer(lat, w, threshold):
    wave = latency_to_spike_wave(torch.from_numpy(lat), T)
    pot = ttfs.conv_potentials(wave, torch.from_numpy(w))
    return ttfs.fire(pot, threshold)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("threshold", [3.5, None])
def test_conv_first_spikes_matches_reference(seed, threshold):
    rng = np.random.default_rng(seed)
    lat = _random_latency(rng, (3, 9, 8))
    w = _dyadic(rng, (5, 3, 3, 3))
    spikes, thr = _reference_layer(lat, w, threshold)
    t_out = np.empty((7, 6, 5), np.uint8)
    v_out = np.empty((7, 6, 5), np.float32)
    K.conv_first_spikes(lat, _to_kernel(w), 0.0 if threshold is None else threshold, threshold is None, T, t_out, v_out)
    ref_t = spike_wave_to_latency(spikes).numpy()  # [F, Ho, Wo]
    assert np.array_equal(np.transpose(t_out, (2, 0, 1)), ref_t)
    ref_v = thr.gather(0, torch.from_numpy(ref_t.astype(np.int64)).clamp(max=T - 1).unsqueeze(0))[0].numpy()
    ref_v[ref_t == T] = 0
    assert np.array_equal(np.transpose(v_out, (2, 0, 1)), ref_v)
    assert (ref_t < T).any() and (ref_t > 0).any()


@pytest.mark.parametrize("seed", range(4))
def test_pointwise_inhibition_matches_reference(seed):
    rng = np.random.default_rng(10 + seed)
    lat = _random_latency(rng, (2, 8, 8), p_fire=0.6)
    w = _dyadic(rng, (6, 2, 3, 3))
    _, thr = _reference_layer(lat, w, 1.0)
    ref = ttfs.pointwise_inhibition(thr)
    t_out = np.empty((6, 6, 6), np.uint8)
    v_out = np.empty((6, 6, 6), np.float32)
    K.conv_first_spikes(lat, _to_kernel(w), 1.0, False, T, t_out, v_out)
    cand = np.empty((36, 3), np.int64)
    n = K.pointwise_inhibition(t_out, v_out, T, cand)
    ref_t = spike_wave_to_latency(ref > 0).numpy()
    assert np.array_equal(np.transpose(t_out, (2, 0, 1)), ref_t)
    assert n == int((ref_t < T).sum()) and n > 0
    assert ((ref_t < T).sum(axis=0) <= 1).all()  # at most one feature per position


def _kwta_both(t_out, v_out, k, r):
    """Kernel winners and reference winners for the same first-spike maps [Ho, Wo, F]."""
    Ho, Wo, F = t_out.shape
    cand = np.array([(f, y, x) for f in range(F) for y in range(Ho) for x in range(Wo) if t_out[y, x, f] < T], np.int64)
    cand = cand.reshape(-1, 3)
    win = np.empty((k, 3), np.int64)
    n = K.k_winners(cand, len(cand), t_out, v_out, k, r, win)
    # reference input: thresholded potentials [T, F, H, W] with value v from the first spike on
    pot = torch.zeros(T, F, Ho, Wo)
    for f, y, x in cand:
        pot[int(t_out[y, x, f]) :, f, y, x] = float(v_out[y, x, f])
    ref = ttfs.k_winners(pot, k, r)
    return [tuple(int(v) for v in row) for row in win[:n]], ref


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("radius", [0, 1, 2, 3])
def test_k_winners_matches_reference(seed, radius):
    rng = np.random.default_rng(100 + seed)
    Ho, Wo, F = 7, 6, 4
    t_out = rng.integers(0, T + 1, (Ho, Wo, F)).astype(np.uint8)
    v_out = rng.integers(1, 4, (Ho, Wo, F)).astype(np.float32)  # many ties on purpose
    v_out[t_out == T] = 0
    got, ref = _kwta_both(t_out, v_out, 5, radius)
    assert got == ref
    assert len(got) >= 2


def test_k_winners_radius_hand_example():
    # one feature map is not enough to see the radius (the feature is removed anyway), so
    # two features; spikes: f0 at (2, 2) t=0; f1 at (2, 3) t=1 and (5, 5) t=2
    Ho = Wo = 7
    t_out = np.full((Ho, Wo, 2), T, np.uint8)
    v_out = np.zeros((Ho, Wo, 2), np.float32)
    t_out[2, 2, 0], v_out[2, 2, 0] = 0, 1.0
    t_out[2, 3, 1], v_out[2, 3, 1] = 1, 1.0
    t_out[5, 5, 1], v_out[5, 5, 1] = 2, 1.0
    # r = 0: f0 wins, then f1's earliest spike (2, 3)
    assert _kwta_both(t_out, v_out, 3, 0) == ([(0, 2, 2), (1, 2, 3)],) * 2
    # r = 1: (2, 3) lies in the 3x3 square of (2, 2) -> inhibited; f1 wins at (5, 5)
    assert _kwta_both(t_out, v_out, 3, 1) == ([(0, 2, 2), (1, 5, 5)],) * 2
    # r = 3: (5, 5) is at Chebyshev distance 3 -> inhibited too; only one winner
    assert _kwta_both(t_out, v_out, 3, 3) == ([(0, 2, 2)],) * 2
    # potential breaks a tie in time, then the flat index (f, y, x)
    t_out[5, 5, 1] = 1
    v_out[5, 5, 1] = 2.0
    assert _kwta_both(t_out, v_out, 3, 0)[0] == [(0, 2, 2), (1, 5, 5)]


@pytest.mark.parametrize("seed", range(3))
def test_stdp_training_step_matches_reference(seed):
    rng = np.random.default_rng(200 + seed)
    C, F, k, r = 3, 5, 3, 1
    lat = _random_latency(rng, (1, C, 10, 10), p_fire=0.5)
    w = rng.uniform(0.2, 0.9, (F, C, 3, 3)).astype(np.float32)
    # reference: potentials -> fire -> pointwise inhibition -> k winners -> STDP
    _, thr = _reference_layer(lat[0], np.round(w * 64) / 64, 2.0)  # dyadic copy for exact ties
    w = (np.round(w * 64) / 64).astype(np.float32)
    inh = ttfs.pointwise_inhibition(thr)
    winners = ttfs.k_winners(inh, k, r)
    post = [int(spike_wave_to_latency(inh[:, f, y, x] > 0)) for f, y, x in winners]
    ref = first_spike_stdp_reference(
        torch.from_numpy(w), torch.from_numpy(lat[0]), winners, post, a_plus=0.05, a_minus=-0.04,
        stabilizer=True, w_min=0.0, w_max=1.0,
    )  # fmt: skip
    wt = _to_kernel(w)
    rates = np.array([0.05, -0.04, 0.0])
    ones = np.ones_like(wt)
    K.train_stdp_layer(lat, np.array([0]), wt, 2.0, k, r, T, rates, np.array([0.0, 1.0, -0.75]),
                       ones, np.zeros_like(wt), ones)  # fmt: skip
    assert winners
    assert np.allclose(np.transpose(wt, (3, 0, 1, 2)), ref.numpy(), atol=1e-6)
    assert not np.allclose(wt, _to_kernel(w))


def test_rate_schedule_doubles_every_n_images():
    rng = np.random.default_rng(3)
    lat = _random_latency(rng, (7, 2, 6, 6))
    wt = np.full((2, 3, 3, 2), 0.5, np.float32)
    rates = np.array([0.01, -0.0075, 0.0])
    ones = np.ones_like(wt)
    K.train_stdp_layer(lat, np.arange(7), wt, 100.0, 1, 0, T, rates, np.array([3.0, 0.03, -0.75]),
                       ones, np.zeros_like(wt), ones)  # fmt: skip
    # images 3 and 6 trigger a doubling: 0.01 -> 0.02 -> 0.03 (capped)
    assert rates[0] == pytest.approx(0.03) and rates[1] == pytest.approx(-0.0225) and rates[2] == 1


def test_layer_forward_batch_matches_reference_pooling():
    rng = np.random.default_rng(4)
    lat = _random_latency(rng, (3, 2, 11, 11), p_fire=0.5)
    w = _dyadic(rng, (4, 2, 3, 3))
    out = np.empty((3, 4, 3 + 4, 3 + 4), np.uint8)
    K.layer_forward_batch_serial(lat, _to_kernel(w), 1.5, 3, 3, 2, T, out)
    for n in range(3):
        spikes, _ = _reference_layer(lat[n], w, 1.5)
        pooled = ttfs.pool_spikes(spikes, 3, 3, pad=2)
        assert np.array_equal(out[n], spike_wave_to_latency(pooled).numpy())


def test_decision_and_rstdp_step_match_reference():
    rng = np.random.default_rng(5)
    C, F, per_class = 4, 6, 2
    lat = _random_latency(rng, (5, C, 7, 7), p_fire=0.5)
    w = _dyadic(rng, (F, C, 5, 5), 0.2, 0.8)
    wt = _to_kernel(w)
    dec = np.empty(5, np.int64)
    K.decide_batch_serial(lat, wt, per_class, T, dec)
    winners = []
    for n in range(5):
        spikes, thr = _reference_layer(lat[n], w, None)
        wins = ttfs.k_winners(thr, 1, 0)
        winners.append(wins[0])
        assert dec[n] == wins[0][0] // per_class
    # one R-STDP step on sample 0, labelled wrongly on purpose -> punishment rates
    label = np.array([(dec[0] + 1) % (F // per_class)], np.int64)
    rates = np.array([0.004, -0.003, -0.004, 0.0005])
    ones = np.ones_like(wt)
    out = np.empty(1, np.int64)
    h, m, s = K.train_rstdp(lat[:1], label, np.array([0]), wt, ones, np.full_like(wt, 0.2), np.full_like(wt, 0.8),
                            rates, False, per_class, T, np.zeros((0, 0), np.float32), 0.0, out)  # fmt: skip
    assert (h, m, s) == (0, 1, 0)
    ref = first_spike_stdp_reference(torch.from_numpy(w), torch.from_numpy(lat[0]), [winners[0]], [T - 1],
                                     a_plus=-0.004, a_minus=0.0005, stabilizer=False, w_min=0.2, w_max=0.8)  # fmt: skip
    assert np.allclose(np.transpose(wt, (3, 0, 1, 2)), ref.numpy(), atol=1e-7)


def test_silent_input_gives_no_decision():
    lat = np.full((1, 2, 7, 7), T, np.uint8)
    wt = np.full((2, 5, 5, 4), 0.5, np.float32)
    dec = np.empty(1, np.int64)
    K.decide_batch_serial(lat, wt, 2, T, dec)
    assert dec[0] == -1

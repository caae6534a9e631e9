"""Latency coding and the DoG / local-normalisation front end (SpykeTorch semantics)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spikeforge.encoding import (
    MOZAFARI_DOG,
    dog_filter,
    dog_kernel,
    latency_to_spike_wave,
    local_normalization,
    rank_order_latency,
    spike_wave_to_latency,
)


def test_rank_order_equal_count_bins_hand_example():
    # 7 positive values, T = 3 -> bins of 2; the weakest positive value never fires
    x = torch.tensor([[0.0, 5.0, 1.0, 7.0, 3.0, 0.0, 6.0, 2.0, 4.0]])
    lat = rank_order_latency(x, 3)
    # descending: 7 (t0), 6 (t0), 5 (t1), 4 (t1), 3 (t2), 2 (t2), 1 (never)
    assert lat.tolist() == [[3, 1, 3, 0, 2, 3, 0, 2, 1]]
    assert lat.dtype == torch.uint8


def test_rank_order_ties_lower_index_first_and_samples_independent():
    x = torch.tensor([[1.0, 1.0, 1.0, 1.0], [4.0, 3.0, 2.0, 1.0]])
    lat = rank_order_latency(x, 2)
    assert lat[0].tolist() == [0, 0, 1, 1]  # equal values: order by index
    assert lat[1].tolist() == [0, 0, 1, 1]
    # fewer positive values than steps: one value per step
    assert rank_order_latency(torch.tensor([[0.0, 2.0, 1.0]]), 5).tolist() == [[5, 0, 1]]
    assert rank_order_latency(torch.zeros(2, 3), 4).eq(4).all()


def test_rank_order_matches_spyketorch_binning_on_random_maps():
    # SpykeTorch: sort all values, split into bins of nnz // T, the i-th bin fires at step i
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((3, 6, 9, 9)).astype(np.float32))
    x[x < 0.6] = 0
    T = 15
    lat = rank_order_latency(x, T)
    for b in range(3):
        flat = x[b].reshape(-1)
        nnz = int((flat > 0).sum())
        size = nnz // T
        order = torch.argsort(flat, descending=True)  # distinct values: no ties
        expected = torch.full_like(flat, T, dtype=torch.int64)
        for i in range(T):
            expected[order[i * size : (i + 1) * size]] = i
        assert torch.equal(lat[b].reshape(-1).to(torch.int64), expected)


def test_wave_from_per_pixel_latency_codes():
    from spikeforge.encoding import latency_encode, latency_times

    x = torch.tensor([[0.0, 1.0, 0.5, 0.25]])
    lat = latency_times(x, 5)
    assert torch.equal(latency_to_spike_wave(lat, 5, cumulative=False), latency_encode(x, 5))


def test_spike_wave_round_trip_and_cumulative():
    lat = torch.tensor([[0, 2, 4], [3, 1, 4]], dtype=torch.uint8)
    wave = latency_to_spike_wave(lat, 4)
    assert wave.shape == (4, 2, 3)
    assert wave[:, 0, 1].tolist() == [0, 0, 1, 1]  # cumulative from step 2
    assert wave[:, 0, 2].sum() == 0  # latency 4 = T: silent
    single = latency_to_spike_wave(lat, 4, cumulative=False)
    assert single.sum(0).tolist() == [[1, 1, 0], [1, 1, 0]]
    assert torch.equal(spike_wave_to_latency(wave), lat)
    assert torch.equal(spike_wave_to_latency(single), lat)


def test_dog_kernel_properties_and_hand_values():
    k = dog_kernel(3, 3 / 9, 6 / 9)
    assert k.shape == (3, 3)
    assert float(k.sum()) == pytest.approx(0.0, abs=1e-6)
    assert float(k.max()) == pytest.approx(1.0)
    assert float(k[1, 1]) == pytest.approx(1.0)  # on-centre: maximum at the centre
    assert float(dog_kernel(3, 6 / 9, 3 / 9)[1, 1]) < 0  # off-centre
    # hand computation of the centre of the raw kernel before normalisation
    s1, s2 = 3 / 9, 6 / 9
    r = np.array([[2, 1, 2], [1, 0, 1], [2, 1, 2]], dtype=float)
    g = (np.exp(-r / (2 * s1**2)) / s1**2 - np.exp(-r / (2 * s2**2)) / s2**2) / (2 * math.pi)
    g -= g.mean()
    g /= g.max()
    assert np.allclose(k.numpy(), g, atol=1e-6)
    with pytest.raises(ValueError):
        dog_kernel(4, 1.0, 2.0)


def test_dog_filter_threshold_and_shape():
    img = torch.zeros(2, 28, 28)
    img[:, 10:18, 12:14] = 255.0
    out = dog_filter(img)
    assert out.shape == (2, len(MOZAFARI_DOG), 28, 28)
    assert (out == 0).any() and (out >= 50).any()
    assert not ((out > 0) & (out < 50)).any()  # responses below 50 are dropped
    # equals a plain convolution with the centred, zero-padded kernel bank
    bank = torch.stack([F.pad(dog_kernel(w, a, b), ((13 - w) // 2,) * 4) for w, a, b in MOZAFARI_DOG]).unsqueeze(1)
    ref = F.conv2d(img.unsqueeze(1), bank, padding=6)
    ref[ref < 50] = 0
    assert torch.allclose(out, ref, atol=1e-3)


def test_local_normalization_matches_box_mean():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.random((2, 3, 11, 9)).astype(np.float32))
    out = local_normalization(x, 2)
    kernel = torch.full((1, 1, 5, 5), 1 / 25)
    means = F.conv2d(x.reshape(6, 1, 11, 9), kernel, padding=2).reshape(2, 3, 11, 9) + 1e-12
    assert torch.allclose(out, x / means, rtol=1e-5)


def test_wave_and_dog_filter_stay_on_the_input_device():
    """Regression (review #9): ``latency_to_spike_wave`` built its step axis on the CPU (an
    error for any other device) and ``dog_filter`` moved its kernels to the input's dtype but
    not its device. The ``meta`` device stands in for a GPU: no data, but devices are checked."""
    lat = torch.zeros(2, 5, dtype=torch.int64, device="meta")
    for cumulative in (True, False):
        wave = latency_to_spike_wave(lat, 4, cumulative=cumulative)
        assert wave.device.type == "meta" and wave.shape == (4, 2, 5)
    assert spike_wave_to_latency(torch.zeros(4, 2, 5, device="meta")).device.type == "meta"
    out = dog_filter(torch.zeros(2, 28, 28, device="meta"))
    assert out.device.type == "meta" and out.shape == (2, len(MOZAFARI_DOG), 28, 28)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_front_end_on_cuda_matches_cpu():
    """Regression (review #9): rank_order_latency returned a CPU tensor and
    local_normalization divided a CUDA tensor by a CPU one."""
    rng = np.random.default_rng(0)
    img = torch.from_numpy((rng.random((3, 28, 28)) * 255).astype(np.float32))
    d_cpu = dog_filter(img)
    d_gpu = dog_filter(img.cuda())  # cuDNN may round differently (TF32): compare devices only
    assert d_gpu.is_cuda and d_gpu.shape == d_cpu.shape
    f_cpu = local_normalization(d_cpu, 8)
    f_gpu = local_normalization(d_cpu.cuda(), 8)
    assert f_gpu.is_cuda
    torch.testing.assert_close(f_gpu.cpu(), f_cpu)
    lat = rank_order_latency(f_cpu.cuda(), 15)
    assert lat.is_cuda and torch.equal(lat.cpu(), rank_order_latency(f_cpu, 15))
    wave = latency_to_spike_wave(lat, 15)
    assert wave.is_cuda and torch.equal(spike_wave_to_latency(wave).cpu(), lat.cpu())

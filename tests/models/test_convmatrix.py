"""Fixed convolution matrices (§3.3), the spiking front end (§3.4), the CSNN and the CNN baselines."""

import numpy as np
import pytest
import torch

from spikeforge.datasets import mnist_subset_split
from spikeforge.models import CSNN, ConvMatrixLearner, SpikingConvFrontEnd
from spikeforge.models._colanet_kernel import seed_stream
from spikeforge.models.cnn_baselines import make_cnn1, make_cnn2
from spikeforge.models.convmatrix import _learn_image
from spikeforge.plasticity import resource_at_zero_weight, resource_to_weight


def _bars(n=60, size=8, seed=0):
    rng = np.random.default_rng(seed)
    imgs = np.zeros((n, size, size))
    for k in range(n):
        if k % 2:
            imgs[k, rng.integers(size), :] = 1.0
        else:
            imgs[k, :, rng.integers(size)] = 1.0
    return imgs


def test_one_iteration_from_zero_weights_is_a_zero_sum_weak_update():
    # w = 0: every response is 0, so random (a, P, Q) are taken; each learning matrix gets +l on the
    # n_b bright pixels and −l·n_b/(K² − n_b) on the others
    g = np.zeros((6, 6))
    g[2, :] = 1.0
    K, lr = 3, 0.1
    W0 = resource_at_zero_weight(-0.5, 0.5)
    W = np.full((4, K, K), W0)
    w = resource_to_weight(W, -0.5, 0.5)
    _learn_image(g, W, w, K, 1, 0.5, lr, -0.5, 0.5, seed_stream(1, 0))
    dW = W - W0
    changed = [a for a in range(4) if np.any(dW[a] != 0)]
    assert changed, "the weak branch must bootstrap learning from w = 0"
    for a in changed:
        assert dW[a].sum() == pytest.approx(0.0, abs=1e-12)
        nb = int(np.sum(dW[a] > 0))
        np.testing.assert_allclose(dW[a][dW[a] > 0], lr)
        np.testing.assert_allclose(dW[a][dW[a] < 0], -lr * nb / (K * K - nb))
    np.testing.assert_allclose(w, resource_to_weight(W, -0.5, 0.5))


def test_learner_on_bars_is_bounded_deterministic_and_oriented():
    imgs = _bars()
    a = ConvMatrixLearner(n_kernels=4, kernel_size=3, stride=1, learning_rate=0.05, w_min=-0.5, w_max=0.5,
                          n_epochs=3, random_state=0).fit(imgs)
    b = ConvMatrixLearner(n_kernels=4, kernel_size=3, stride=1, learning_rate=0.05, w_min=-0.5, w_max=0.5,
                          n_epochs=3, random_state=0).fit(imgs)
    np.testing.assert_array_equal(a.kernels_, b.kernels_)
    assert a.kernels_.min() >= -0.5 and a.kernels_.max() < 0.5
    assert np.abs(a.kernels_).max() > 0.05
    # learned matrices are line detectors: their positive part is a row or a column
    k = a.kernels_[np.argmax(a.kernels_.max(axis=(1, 2)))]
    pos = k > k.max() / 2
    assert pos.all(axis=1).any() or pos.all(axis=0).any()
    resp = a.transform(imgs[:5])
    assert resp.shape == (5, 4, 6, 6) and resp.dtype == np.float32
    with pytest.raises(ValueError, match="w_min < 0 < w_max"):
        ConvMatrixLearner(w_min=0.1).fit(imgs)
    with pytest.raises(ValueError, match="exceeds the image"):
        ConvMatrixLearner(kernel_size=9).fit(imgs)
    with pytest.raises(ValueError, match="non-negative"):
        ConvMatrixLearner().fit(-imgs)


def test_front_end_sum_pooling_is_exact_and_rate_calibrated():
    rng = np.random.default_rng(0)
    x = rng.random((40, 12, 12))
    kernels = rng.normal(0, 0.2, (3, 3, 3))
    fe = SpikingConvFrontEnd(kernels, 1, pool=2, target_rate=0.1, image_tacts=10, flush_tacts=40).fit(x)
    conv = fe._conv_spikes(x, fe.scale_)
    assert conv[:10].mean().item() == pytest.approx(0.1, abs=0.01)
    out = fe.transform(x)
    assert out.shape == (50, 40, 3 * 5 * 5) and out.max() <= 1
    # every conv spike becomes exactly one pool spike (enough flush tacts)
    T, n, C, P, Q = conv.shape
    per_pool = torch.nn.functional.avg_pool2d(conv.reshape(T * n, C, P, Q), 2, 2).reshape(T, n, -1) * 4
    np.testing.assert_array_equal(out.sum(0), per_pool.sum(0).round().numpy())


def test_csnn_end_to_end_small():
    Xtr, Xte, ytr, yte = mnist_subset_split(400, 100, seed=0, images=True)
    m = CSNN(n_kernels=6, kernel_size=7, stride=3, target_rate=0.1, random_state=0,
             colanet_params=dict(n_microcolumns=5, n_epochs=1)).fit(Xtr, ytr)
    assert m.kernels_.shape == (6, 7, 7)
    assert m.transform(Xte[:3]).shape == (3, 6 * 4 * 4)
    acc = m.score(Xte, yte)
    assert 0.3 < acc <= 1.0
    assert m.predict(Xte.reshape(100, -1)).shape == (100,)    # flattened square images work too


def test_cnn_baseline_shapes_match_the_seed():
    cnn1, cnn2 = make_cnn1((1, 28, 28), 5), make_cnn2((1, 28, 28), 5)
    assert [type(m).__name__ for m in cnn2] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Dropout", "Linear"]
    assert cnn2[0].out_channels == 28 and cnn2[0].kernel_size == (9, 9) and cnn2[0].stride == (2, 2)
    assert cnn2[-1].in_features == 28 * 5 * 5 and cnn2[-1].out_features == 5
    assert cnn1[0].out_channels == 32 and cnn1[0].kernel_size == (4, 4) and cnn1[3].out_channels == 64
    assert cnn1(torch.zeros(2, 1, 28, 28)).shape == (2, 5)

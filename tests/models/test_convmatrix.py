"""Fixed convolution matrices (§3.3), the spiking front end (§3.4), the CSNN and the CNN baselines."""

import warnings

import numpy as np
import pytest
import torch

from spikeforge.datasets import mnist_subset_split
from spikeforge.models import CSNN, ConvMatrixLearner, SpikingConvFrontEnd
from spikeforge.models._colanet_kernel import seed_stream
from spikeforge.models.cnn_baselines import make_cnn1, make_cnn2
from spikeforge.models.convmatrix import _learn_image, as_images
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


# ---------------------------------------------------------------------------- review regressions
def _bar_images(n=20, size=12, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, size, size))
    x[np.arange(n), rng.integers(0, size, n), :] = 1.0  # horizontal bars
    kernels = np.zeros((1, 3, 3))
    kernels[0, 1, :] = 0.3  # a bar detector
    return x, kernels


def _pool_inputs(conv, pool=2):
    T, n, C, P, Q = conv.shape
    return (torch.nn.functional.avg_pool2d(conv.reshape(T * n, C, P, Q), pool, pool) * pool**2).reshape(T, n, -1)


def test_front_end_drains_every_spike_by_default():
    # bug: with the old fixed flush of 4 tacts, pool leftovers were dropped (1500 conv → 1050 pool spikes)
    x, kernels = _bar_images()
    fe = SpikingConvFrontEnd(kernels, 1, pool=2, target_rate=0.07)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is dropped, so no warning
        out = fe.fit_transform(x)
    assert fe.flush_tacts_ > 4 and fe.n_tacts == fe.image_tacts + fe.flush_tacts_ and fe.dropped_fraction_ == 0.0
    assert out.shape == (fe.n_tacts, 20, 25) and out.dtype == np.uint8 and out.max() <= 1
    conv = fe._conv_spikes(x, fe.scale_)
    assert conv.shape[0] == fe.n_tacts and conv.sum().item() == 1500
    np.testing.assert_array_equal(out.sum(0), _pool_inputs(conv).sum(0).round().numpy())
    # the flush is the shortest that drains everything: the last tact carries a spike
    assert out[-1].any()
    # fit() + transform() give the same spikes; fitted n_tacts is kept for new data
    fe2 = SpikingConvFrontEnd(kernels, 1, pool=2, target_rate=0.07).fit(x)
    assert fe2.flush_tacts_ == fe.flush_tacts_
    np.testing.assert_array_equal(fe2.transform(x), out)


def test_front_end_warns_with_counts_when_spikes_are_dropped():
    x, kernels = _bar_images()
    # an explicit flush still works, but the loss is no longer silent
    fe = SpikingConvFrontEnd(kernels, 1, pool=2, target_rate=0.07, flush_tacts=4).fit(x)
    assert fe.n_tacts == 14
    with pytest.warns(UserWarning, match=r"450 of 1500 pool spikes \(30\.0 %\) in 15 of 20 samples"):
        out = fe.transform(x)
    assert out.shape == (14, 20, 25) and out.sum() == 1050 and fe.dropped_fraction_ == pytest.approx(0.3)
    # warn_dropped=False: same spikes, same count, no warning
    quiet = SpikingConvFrontEnd(kernels, 1, pool=2, target_rate=0.07, flush_tacts=4, warn_dropped=False).fit(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(quiet.transform(x), out)
    assert quiet.dropped_fraction_ == pytest.approx(0.3)
    # the automatic flush stops at the cap, and says so
    fe = SpikingConvFrontEnd(kernels, 1, pool=2, target_rate=0.07, max_flush_tacts=5)
    with pytest.warns(UserWarning, match=r"pool spikes .* are dropped.*max_flush_tacts=5"):
        out = fe.fit_transform(x)
    assert fe.flush_tacts_ == 5 and out.shape[0] == 15
    # new images that need a longer flush than the fitted ones: warned, not silently cut
    fe = SpikingConvFrontEnd(kernels, 1, pool=2, target_rate=0.05).fit(x * 0.7)
    with pytest.warns(UserWarning, match="longer flush than the fitted ones"):
        assert fe.transform(x).shape[0] == fe.n_tacts
    with pytest.raises(ValueError, match="flush_tacts"):
        SpikingConvFrontEnd(kernels, 1, flush_tacts=-1).fit(x)
    with pytest.raises(ValueError, match="flush_tacts"):
        SpikingConvFrontEnd(kernels, 1, flush_tacts="long").fit(x)
    with pytest.raises(ValueError, match=r"non-empty images \[n, H, W\]"):
        SpikingConvFrontEnd(kernels, 1, target_rate=0.05).fit(x[:0])


def test_front_end_rejects_an_unreachable_target_rate():
    x, kernels = _bar_images()
    for bad in (0.0, -0.1, 1.5, 2.0, float("nan")):
        with pytest.raises(ValueError, match="0 < target_rate <= 1"):
            SpikingConvFrontEnd(kernels, 1, target_rate=bad).fit(x)
    # most conv neurons never see a bar: a mean rate of 0.5 cannot be reached at any scale
    with pytest.raises(ValueError, match="target_rate 0.5 is unreachable"):
        SpikingConvFrontEnd(kernels, 1, target_rate=0.5).fit(x)


def _crosses():
    rng = np.random.default_rng(0)
    X = np.zeros((40, 12, 12))
    y = np.arange(40) % 2
    for k in range(40):
        r = rng.integers(12)
        X[k, r, :] = 255 if y[k] else 0
        X[k, :, r] = 0 if y[k] else 255
    return X, y


def test_csnn_front_end_uses_the_learner_stride():
    X, y = _crosses()
    m = CSNN(n_kernels=4, kernel_size=3, stride=1, random_state=0, conv_params=dict(stride=3),
             colanet_params=dict(n_microcolumns=2, n_epochs=1)).fit(X, y)
    assert m.learner_.stride == 3 and m.front_end_.stride == 3
    assert m.transform(X[:1]).shape == (1, 4 * 2 * 2)


def test_csnn_colanet_windows_span_the_drained_presentation():
    # with the drained flush the presentation is longer than CoLaNET's 10-tact learning windows;
    # left at 10, the label rewards only the tail and training collapses to chance on MNIST
    X, y = _crosses()
    small = dict(n_microcolumns=2, n_epochs=1)
    m = CSNN(n_kernels=4, kernel_size=3, stride=1, target_rate=0.05, flush_tacts="auto", random_state=0,
             colanet_params=small).fit(X, y)
    T = m.front_end_.n_tacts
    assert T > 14 and m.colanet_.image_tacts == T
    assert m.colanet_.contribution_window == T and m.colanet_.dopamine_window == T
    m = CSNN(n_kernels=4, kernel_size=3, stride=1, target_rate=0.05, flush_tacts="auto", random_state=0,
             colanet_params=dict(small, contribution_window=7)).fit(X, y)
    assert m.colanet_.contribution_window == 7 and m.colanet_.dopamine_window == T
    # a fixed flush is a presentation period: what is queued at its end is dropped by design,
    # counted in dropped_fraction_ without a warning
    m = CSNN(n_kernels=4, kernel_size=3, stride=1, target_rate=0.05, flush_tacts=4, random_state=0,
             colanet_params=small)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.fit(X, y)
        m.predict(X)
    assert m.front_end_.n_tacts == 14 and m.colanet_.contribution_window == 14
    assert 0.0 < m.front_end_.dropped_fraction_ < 1.0


def test_csnn_default_presentation_is_the_seeds_period():
    # seed 002 / spec colanet.md §1.3: 10 image tacts + 10 silent tacts, 20 in all
    assert CSNN().get_params()["flush_tacts"] == 10
    X, y = _crosses()
    m = CSNN(n_kernels=4, kernel_size=3, stride=1, random_state=0,
             colanet_params=dict(n_microcolumns=2, n_epochs=1)).fit(X, y)
    assert m.front_end_.n_tacts == 20 and m.colanet_.image_tacts == 20
    assert m.front_end_.dropped_fraction_ is not None and 0.0 <= m.front_end_.dropped_fraction_ < 1.0


def test_as_images_empty_and_non_square_messages():
    X = np.random.default_rng(0).random((10, 6, 8))
    with pytest.raises(ValueError, match="empty"):
        ConvMatrixLearner(kernel_size=3).fit(X[:0])
    with pytest.raises(ValueError, match="empty"):
        as_images(np.zeros((0, 36)))
    with pytest.raises(ValueError, match=r"not a square image; pass the images as \[n, H, W\]") as e:
        ConvMatrixLearner(kernel_size=3).fit(X.reshape(10, -1))
    assert "image_shape" not in str(e.value)


@pytest.mark.parametrize("bad, match", [
    (dict(input_scale=0), "input_scale"), (dict(input_scale=-1.0), "input_scale"),
    (dict(input_scale="max"), "input_scale"), (dict(input_scale=float("nan")), "input_scale"),
    (dict(brightness_threshold=1.0), "brightness_threshold"), (dict(brightness_threshold=-0.1), "brightness_threshold"),
    (dict(learning_rate=-0.05), "learning_rate"), (dict(learning_rate=0.0), "learning_rate"),
])
def test_learner_rejects_bad_scale_threshold_and_rate(bad, match):
    X = np.zeros((30, 10, 10))
    X[np.arange(30), np.random.default_rng(0).integers(0, 10, 30), :] = 255
    with pytest.raises(ValueError, match=match):
        ConvMatrixLearner(n_kernels=3, kernel_size=3, stride=1, random_state=0, **bad).fit(X)
    # an explicit positive scale is accepted
    m = ConvMatrixLearner(n_kernels=3, kernel_size=3, stride=1, learning_rate=0.05, input_scale=255,
                          random_state=0).fit(X)
    assert m.input_scale_ == 255.0 and np.abs(m.kernels_).max() > 0


def test_csnn_rejects_bad_kernels():
    X = np.random.default_rng(0).random((20, 12, 12))
    y = np.arange(20) % 2
    for k, match in [(np.ones((3, 3)), r"\[N_C, K, K\]"), (np.ones((2, 3, 4)), r"\[N_C, K, K\]"),
                     (np.ones((2, 13, 13)), "exceeds the image"), (np.ones((0, 3, 3)), r"\[N_C, K, K\]")]:
        with pytest.raises(ValueError, match=match):
            CSNN(kernels=k, stride=1, colanet_params=dict(n_microcolumns=2, n_epochs=1)).fit(X, y)


def test_learner_flatten_fits_a_pipeline():
    # transform used to return only [n, N_C, P, Q], which a scikit-learn Pipeline cannot pass on
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = _crosses()
    learner = ConvMatrixLearner(n_kernels=3, kernel_size=3, stride=3, random_state=0).fit(X)
    cube = learner.transform(X)
    assert cube.shape == (40, 3, 4, 4)
    flat = ConvMatrixLearner(n_kernels=3, kernel_size=3, stride=3, flatten=True, random_state=0).fit(X).transform(X)
    np.testing.assert_array_equal(flat, cube.reshape(40, -1))
    pipe = make_pipeline(ConvMatrixLearner(n_kernels=3, kernel_size=3, stride=3, flatten=True, random_state=0),
                         LogisticRegression(max_iter=500)).fit(X, y)
    by_hand = LogisticRegression(max_iter=500).fit(flat, y)
    np.testing.assert_array_equal(pipe.predict(X), by_hand.predict(flat))

"""MozafariClassifier: scikit-learn behaviour, determinism, persistence, input validation,
the continual-learning protocol and the adaptive-rate batches."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from spikeforge.datasets import mnist_subset_split
from spikeforge.models import MozafariClassifier

SMALL = dict(conv1_features=6, conv2_features=12, features_per_class=3, conv1_epochs=1, conv2_epochs=1,
             decision_epochs=2, stdp_rate_every=20)  # fmt: skip


@pytest.fixture(scope="module")
def data():
    Xtr, Xte, ytr, yte = mnist_subset_split(400, 200, seed=0, images=True)
    keep, keep_t = ytr < 3, yte < 3
    return Xtr[keep][:90], ytr[keep][:90], Xte[keep_t][:40], yte[keep_t][:40]


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _, _ = data
    return MozafariClassifier(**SMALL, random_state=0).fit(X, y)


def test_fit_predict_score_and_shapes(fitted, data):
    _, _, Xt, yt = data
    pred = fitted.predict(Xt)
    assert pred.shape == (40,) and set(np.unique(pred)) <= {-1, 0, 1, 2}
    assert list(fitted.classes_) == [0, 1, 2]
    assert fitted.plastic_weights()["conv3"].shape == (9, 12, 5, 5)
    assert fitted.transform(Xt).shape == (40, 12, 8, 8)
    acc = fitted.score(Xt, yt)
    assert acc == pytest.approx(np.mean(pred == yt))
    assert acc > 0.45  # three classes, tiny network and data: well above chance (1/3)
    # flattened images are accepted
    assert np.array_equal(fitted.predict(Xt.reshape(40, -1)), pred)


def test_same_seed_same_model_and_epoch_callback(data):
    X, y, Xt, _ = data
    calls = []
    a = MozafariClassifier(**SMALL, random_state=3).fit(X, y, epoch_callback=lambda e, m: calls.append(e))
    b = MozafariClassifier(**SMALL, random_state=3).fit(X, y)
    c = MozafariClassifier(**SMALL, random_state=4).fit(X, y)
    assert calls == [0, 1]
    for name in ("conv1", "conv2", "conv3"):
        assert torch.equal(a.plastic_weights()[name], b.plastic_weights()[name])
    assert not torch.equal(a.plastic_weights()["conv1"], c.plastic_weights()["conv1"])
    assert np.array_equal(a.predict(Xt), b.predict(Xt))


def test_save_load_round_trip(fitted, data, tmp_path):
    _, _, Xt, _ = data
    path = fitted.save(tmp_path / "net.safetensors")
    back = MozafariClassifier.load(path)
    assert back.get_params()["inhibition_radii"] == fitted.inhibition_radii
    for name, w in fitted.plastic_weights().items():
        assert torch.equal(back.plastic_weights()[name], w)
    assert np.array_equal(back.predict(Xt), fitted.predict(Xt))
    assert np.array_equal(back._decision_rates, fitted._decision_rates)


def test_plastic_weights_are_live_views(data):
    X, y, Xt, _ = data
    m = MozafariClassifier(**SMALL, random_state=0).fit(X, y)
    w = m.plastic_weights()["conv3"]
    w[:3] = 0.2  # class 0's features become weak everywhere
    w[3:] = 0.8
    assert not np.any(m.predict(Xt) == 0)


def test_cached_features_follow_the_feature_weights(data):
    """Writes into conv1/conv2 through the live views, constraint projections and new
    thresholds all change the features; a deep copy sharing the cache keeps its own."""
    import copy

    from spikeforge.plasticity import WeightConstraint

    X, y, Xt, _ = data
    m = MozafariClassifier(**SMALL, random_state=0).fit(X, y)
    before = m.transform(Xt)
    twin = copy.deepcopy(m)
    m.plastic_weights()["conv1"].zero_()
    silent = m.transform(Xt)
    assert np.all(silent == m.n_steps) and not np.array_equal(before, silent)
    np.testing.assert_array_equal(twin.transform(Xt), before)  # the copy's weights are untouched
    twin.set_constraints({"conv2": WeightConstraint(upper=torch.zeros(twin.plastic_weights()["conv2"].shape))})
    assert np.all(twin.transform(Xt) == twin.n_steps)
    third = copy.deepcopy(m)
    third._wt = {k: v.copy() for k, v in MozafariClassifier(**SMALL, random_state=0).fit(X, y)._wt.items()}
    np.testing.assert_array_equal(third.transform(Xt), before)
    third.set_params(conv1_threshold=third.conv1_threshold * 10)
    assert not np.array_equal(third.transform(Xt), before)


def test_input_validation(fitted, data):
    X, y, Xt, _ = data
    with pytest.raises(ValueError, match="non-negative"):
        fitted.predict(-Xt.astype(float))
    bad = Xt.astype(float)
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(bad)
    with pytest.raises(ValueError, match="fitted on"):
        fitted.predict(np.zeros((2, 20, 20)))
    with pytest.raises(ValueError, match="expects 784"):
        fitted.predict(np.zeros((2, 100)))
    with pytest.raises(ValueError, match="square"):
        MozafariClassifier(**SMALL).fit(np.zeros((4, 10)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="one class"):
        MozafariClassifier(**SMALL).fit(X[:5], np.zeros(5))
    with pytest.raises(ValueError, match="not one of the fitted classes"):
        fitted.partial_fit(X[:3], [0, 1, 7])
    with pytest.raises(ValueError, match="inhibition_radii"):
        MozafariClassifier(**{**SMALL, "inhibition_radii": (1,)}).fit(X, y)
    with pytest.raises(TypeError):
        fitted.predict(np.array([["a"] * 784]))
    for name, bad in (("conv1_threshold", 0.0), ("conv2_threshold", -1.0), ("conv1_threshold", np.nan), ("dog_threshold", -5.0)):
        with pytest.raises(ValueError, match=name):
            MozafariClassifier(**{**SMALL, name: bad}).fit(X[:10], y[:10])


def test_adaptation_batch_counts_samples_across_calls(fitted, data):
    X, y, _, _ = data
    import copy

    m = copy.deepcopy(fitted)
    m.set_params(adaptation_batch=50)
    m.start_task(X, y)
    base = m._decision_rates.copy()
    m.partial_fit(X[:30], y[:30])
    assert np.array_equal(m._decision_rates, base)  # 30 < 50 samples: no adaptation yet
    m.partial_fit(X[30:60], y[30:60])  # crosses 50
    assert not np.array_equal(m._decision_rates, base)
    assert int(m._batch[2]) == 10
    # rates scale with the batch's miss (reward) and hit (punishment) rates
    assert np.all(np.abs(m._decision_rates) <= np.abs(base) + 1e-15)
    # adapt_rates=False leaves the rates and the batch alone
    r, b = m._decision_rates.copy(), m._batch.copy()
    m.partial_fit(X[:45], y[:45], adapt_rates=False)
    assert np.array_equal(m._decision_rates, r) and np.array_equal(m._batch, b)


def test_start_task_retrains_features_and_resets_rates(fitted, data):
    import copy

    X, y, Xt, _ = data
    m = copy.deepcopy(fitted)
    w1 = m.plastic_weights()["conv1"].clone()
    w3 = m.plastic_weights()["conv3"].clone()
    m.start_task(X[::-1].copy())
    assert m.n_tasks_seen_ == 2
    assert not torch.equal(m.plastic_weights()["conv1"], w1)
    assert torch.equal(m.plastic_weights()["conv3"], w3)
    assert m._decision_rates.tolist() == [0.004, -0.003, -0.004, 0.0005]
    assert m._scale() == 0.5  # later tasks use adaptive_int = 0.5


def test_parallel_inference_equals_serial():
    # run in a fresh interpreter: the OpenMP pool must not start in the test process
    code = textwrap.dedent(
        """
        import numpy as np
        from spikeforge.datasets import mnist_subset_split
        from spikeforge.models import MozafariClassifier
        Xtr, Xte, ytr, yte = mnist_subset_split(400, 100, seed=0, images=True)
        m = MozafariClassifier(conv1_features=6, conv2_features=12, features_per_class=2, conv1_epochs=1,
                               conv2_epochs=1, decision_epochs=1, random_state=0).fit(Xtr[:60], ytr[:60] % 2)
        a = m.decision_function(Xte[:50]); fa = m.transform(Xte[:50])
        m.set_params(n_jobs=2); m._cache.items.clear()
        b = m.decision_function(Xte[:50]); fb = m.transform(Xte[:50])
        assert np.array_equal(a, b) and np.array_equal(fa, fb)
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


def test_string_and_bool_labels_and_silent_images(data):
    X, y, Xt, _ = data
    names = np.array(["zero", "one", "two"])
    m = MozafariClassifier(**{**SMALL, "decision_epochs": 1}, random_state=0).fit(X, names[y])
    pred = m.predict(np.vstack([np.zeros((1, 28, 28)), Xt[:5]]))  # a blank image is silent
    assert pred[0] == "no answer" and set(pred[1:]) <= {*names, "no answer"}
    assert m.n_features_in_ == 784
    keep = y < 2
    b = MozafariClassifier(**{**SMALL, "decision_epochs": 1}, random_state=0).fit(X[keep], y[keep] == 1)
    pb = b.predict(np.vstack([np.zeros((1, 28, 28)), Xt[:3]]))
    assert pb[0] == "no answer" and all(isinstance(v, (bool, np.bool_)) for v in pb[1:])


def test_fit_validates_labels(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="MozafariClassifier is a classifier"):
        MozafariClassifier(**SMALL).fit(X, y + 0.5)
    with pytest.raises(ValueError, match="missing labels"):
        MozafariClassifier(**SMALL).fit(X[:3], np.array([0, None, 1], dtype=object))
    with pytest.raises(ValueError, match="only one class"):
        MozafariClassifier(**SMALL).partial_fit(X[:3], np.array([1, 1, 1]))


def test_save_with_a_generator_seed_into_a_new_folder_and_load_checks(data, tmp_path):
    X, y, Xt, _ = data
    m = MozafariClassifier(**{**SMALL, "decision_epochs": 1}, random_state=np.random.default_rng(1)).fit(X[:40], y[:40])
    back = MozafariClassifier.load(m.save(tmp_path / "new" / "dir" / "m.safetensors"))
    assert np.array_equal(back.predict(Xt[:10]), m.predict(Xt[:10]))
    from spikeforge.models import CoLaNET

    other = CoLaNET(n_microcolumns=2, n_epochs=1, random_state=0).fit(X[:40].reshape(40, -1), y[:40])
    with pytest.raises(ValueError, match="holds a CoLaNET, not a MozafariClassifier"):
        MozafariClassifier.load(other.save(tmp_path / "colanet.safetensors"))
    with pytest.raises(FileNotFoundError):
        MozafariClassifier.load(tmp_path / "missing.safetensors")

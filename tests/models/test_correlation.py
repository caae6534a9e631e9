"""CorrelationClassifier: scikit-learn contract, bad input, determinism, presets."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import parametrize_with_checks

from spikeforge.models import PRESETS, CorrelationClassifier, prune_and_rescale


@parametrize_with_checks([CorrelationClassifier(random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris_split():
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


@pytest.mark.parametrize("plasticity", ["stdp", "memristive"])
def test_iris_preset_learns(iris_split, plasticity):
    Xtr, Xte, ytr, yte = iris_split
    clf = CorrelationClassifier.from_preset("iris", plasticity=plasticity, random_state=0).fit(Xtr, ytr)
    assert clf.score(Xte, yte) >= 0.9
    assert clf.weights_.shape == (4 * 20, 3)
    assert 0.0 <= clf.weights_.min() and clf.weights_.max() == pytest.approx(1.0)
    proba = clf.predict_proba(Xte)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(Xte))


def test_same_seed_same_predictions(iris_split):
    Xtr, Xte, ytr, _ = iris_split
    a = CorrelationClassifier(random_state=7).fit(Xtr, ytr)
    b = CorrelationClassifier(random_state=7).fit(Xtr, ytr)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    np.testing.assert_array_equal(a.correlations(Xte), b.correlations(Xte))
    np.testing.assert_array_equal(a.predict(Xte), a.predict(Xte))  # predict is repeatable
    c = CorrelationClassifier(random_state=8).fit(Xtr, ytr)
    assert not np.array_equal(a.raw_weights_, c.raw_weights_)


def test_prediction_does_not_depend_on_batch(iris_split):
    Xtr, Xte, ytr, _ = iris_split
    clf = CorrelationClassifier(random_state=0).fit(Xtr, ytr)
    full = clf.correlations(Xte)
    single = np.vstack([clf.correlations(Xte[i : i + 1]) for i in range(5)])
    np.testing.assert_array_equal(full[:5], single)


def test_expected_decoding_is_the_mean_of_sampled(iris_split):
    Xtr, Xte, ytr, _ = iris_split
    clf = CorrelationClassifier(random_state=0, decoding="expected").fit(Xtr, ytr)
    counts = clf.input_spike_counts(Xte)
    np.testing.assert_allclose(clf.correlations(Xte), counts @ clf.weights_)


def test_string_labels(iris_split):
    Xtr, Xte, ytr, yte = iris_split
    names = np.array(["setosa", "versicolor", "virginica"])
    clf = CorrelationClassifier.from_preset("iris", random_state=0).fit(Xtr, names[ytr])
    assert set(clf.predict(Xte)) <= set(names)
    assert clf.score(Xte, names[yte]) >= 0.9


@pytest.mark.parametrize(
    "X, y, exc, msg",
    [
        (np.array([[1.0, np.nan], [2.0, 3.0]]), [0, 1], ValueError, "NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), [0, 1], ValueError, "inf"),
        (np.zeros((0, 3)), [], ValueError, "0 sample"),
        (np.arange(5.0), [0, 1, 0, 1, 0], ValueError, "1-D"),
        (np.random.default_rng(0).random((6, 2)), [1] * 6, ValueError, "only one class"),
        (np.random.default_rng(0).random((6, 2)), [0, 1, 0], ValueError, "3 labels but X has 6"),
        (np.array([["a", "b"], ["c", "d"]]), [0, 1], TypeError, "numeric"),
        (np.random.default_rng(0).random((4, 2)), [0.5, 1.5, 0.2, 0.1], ValueError, "continuous"),
    ],
)
def test_bad_input_clear_errors(X, y, exc, msg):
    with pytest.raises(exc, match=msg):
        CorrelationClassifier(random_state=0).fit(X, y)


def test_wrong_feature_count_at_predict(iris_split):
    Xtr, Xte, ytr, _ = iris_split
    clf = CorrelationClassifier(random_state=0).fit(Xtr, ytr)
    with pytest.raises(ValueError, match="X has 3 features, but CorrelationClassifier is expecting 4"):
        clf.predict(Xte[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(np.full((1, 4), np.nan))


@pytest.mark.parametrize(
    "params, msg",
    [
        (dict(plasticity="hebb"), "plasticity"),
        (dict(decoding="max"), "decoding"),
        (dict(n_fields=2), ">= 3"),
        (dict(delay_ms=0.01), "at least one step"),
        (dict(rate_hz=50_000.0), "> 1"),
        (dict(learning_rate="fast"), "learning_rate"),
        (dict(w_init_spread=2.0), "w_init_spread"),
    ],
)
def test_bad_parameters(iris_split, params, msg):
    Xtr, _, ytr, _ = iris_split
    with pytest.raises(ValueError, match=msg):
        CorrelationClassifier(**params).fit(Xtr, ytr)


def test_constant_features_are_dropped_and_all_constant_falls_back_to_prior():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.random(40), np.full(40, 3.0)])
    y = (X[:, 0] > 0.5).astype(int)
    clf = CorrelationClassifier(random_state=0).fit(X, y)
    assert clf.weights_.shape[0] == clf.n_fields
    with pytest.warns(UserWarning, match="class prior"):
        flat = CorrelationClassifier(random_state=0).fit(np.ones((10, 2)), [0] * 7 + [1] * 3)
    assert set(flat.predict(np.ones((3, 2)))) == {0}


def test_reference_train_cap_warns():
    rng = np.random.default_rng(0)
    X = rng.random((30, 5))
    y = np.arange(30) % 2
    with pytest.warns(UserWarning, match="capped"):
        clf = CorrelationClassifier(max_reference_spikes=50, random_state=0).fit(X, y)
    assert clf.reference_train_.n_spikes < 80


def test_presets():
    for key in ("iris", "breast_cancer", "digits"):
        for rule in ("stdp", "memristive"):
            clf = CorrelationClassifier.from_preset(key, plasticity=rule, random_state=1)
            assert clf.plasticity == rule and clf.random_state == 1
    assert PRESETS["digits"].params["n_fields"] == 10
    assert CorrelationClassifier.from_preset("iris", n_fields=7).n_fields == 7
    with pytest.raises(ValueError, match="unknown preset"):
        CorrelationClassifier.from_preset("mnist")


def test_from_preset_names_a_bad_plasticity_not_the_preset():
    with pytest.raises(ValueError, match=r"plasticity must be one of \['memristive', 'stdp'\]; got 'x'") as exc:
        CorrelationClassifier.from_preset("digits", plasticity="x")
    assert "unknown preset" not in str(exc.value)
    with pytest.raises(ValueError, match=r"unknown preset 'mnist'; known: \['breast_cancer', 'digits', 'iris'\]"):
        CorrelationClassifier.from_preset("mnist", plasticity="memristive")


def test_prune_and_rescale_hand_computed():
    w = np.array([[0.0, 0.2], [0.4, 0.6], [0.8, 1.0]])
    # positive weights 0.2..1.0: mean 0.6, std sqrt(0.08) = 0.2828; beta = 0 -> keep > 0.6
    out = prune_and_rescale(w, 0.0)
    np.testing.assert_allclose(out, [[0, 0], [0, 0], [0.8, 1.0]])
    # beta = -1: threshold 0.3172 -> keep 0.4, 0.6, 0.8, 1.0; min is 0, so divide by the max
    np.testing.assert_allclose(prune_and_rescale(w, -1.0), [[0, 0], [0.4, 0.6], [0.8, 1.0]])
    # a weight exactly at the threshold is pruned (≤, as the authors' code)
    assert prune_and_rescale(np.array([[1.0, 3.0]]), 0.0).tolist() == [[0.0, 1.0]]
    per = prune_and_rescale(np.array([[0.1, 1.0], [0.2, 4.0]]), -10.0, "per_neuron")
    np.testing.assert_allclose(per, [[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError):
        prune_and_rescale(w, 0.0, "sometimes")


def test_progress_bar_and_get_params():
    clf = CorrelationClassifier(verbose=1, random_state=0)
    params = clf.get_params()
    assert params["plasticity"] == "stdp" and params["verbose"] == 1
    clf.set_params(n_fields=5)
    assert clf.n_fields == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.fit(np.random.default_rng(0).random((20, 3)), np.arange(20) % 2)


@pytest.mark.parametrize("preset", ["iris", "breast_cancer", "digits"])
def test_save_load_roundtrip(tmp_path, preset):
    from spikeforge.datasets import load_tabular

    X, y = load_tabular(preset)
    labels = np.array([f"c{v}" for v in y])
    clf = CorrelationClassifier.from_preset(preset, random_state=3).fit(X[::3], labels[::3])
    path = clf.save(tmp_path / "model.safetensors")
    again = CorrelationClassifier.load(path)
    assert again.get_params() == clf.get_params()
    np.testing.assert_array_equal(again.predict(X[1::7]), clf.predict(X[1::7]))
    np.testing.assert_array_equal(again.correlations(X[1::7]), clf.correlations(X[1::7]))
    assert b"pickle" not in path.read_bytes()[:200]


def test_load_errors(tmp_path):
    from spikeforge.io import save_arrays

    with pytest.raises(FileNotFoundError):
        CorrelationClassifier.load(tmp_path / "missing.safetensors")
    save_arrays(tmp_path / "other.safetensors", {"w": np.zeros(2)}, {"class": "Other", "params": {}, "state": {}})
    with pytest.raises(ValueError, match="not a CorrelationClassifier"):
        CorrelationClassifier.load(tmp_path / "other.safetensors")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CorrelationClassifier(random_state=0).save(tmp_path / "unfitted.safetensors")

"""spikeforge._validation and spikeforge.io helpers: label checks, no-answer labels, saving params."""

import json

import numpy as np
import pytest

from spikeforge._validation import (
    auto_no_answer_label,
    check_int,
    check_number,
    check_targets,
    feature_names_from_meta,
    feature_names_to_meta,
    labels_with_no_answer,
)
from spikeforge.io import jsonable_params


def test_check_targets_names_the_estimator_in_the_continuous_message():
    with pytest.raises(ValueError, match="DiehlCook2015 is a classifier"):
        check_targets(np.array([0.5, 1.0, 2.0]), 3, estimator="DiehlCook2015")
    with pytest.raises(ValueError, match="MyNet requires y"):
        check_targets(None, 3, estimator="MyNet")


@pytest.mark.parametrize("y", [
    np.array(["a", None, "b"], dtype=object),
    np.array([1, None, 0], dtype=object),
    np.array([1.0, float("nan"), 0.0], dtype=object),
])
def test_check_targets_rejects_missing_labels_in_object_arrays(y):
    with pytest.raises(ValueError, match="missing labels"):
        check_targets(y, 3)


def test_check_targets_object_numbers_are_numbers():
    classes, enc = check_targets(np.array([1, 0, 1], dtype=object), 3)
    assert classes.dtype.kind == "i" and list(enc) == [1, 0, 1]
    with pytest.raises(ValueError, match="continuous"):
        check_targets(np.array([0.1, 0.7, 0.3], dtype=object), 3)


def test_check_targets_mixed_types_get_a_type_error():
    with pytest.raises(TypeError, match="mixes label types"):
        check_targets(np.array([1, "a", 2], dtype=object), 3)


def test_auto_no_answer_label_never_collides_with_a_class():
    assert auto_no_answer_label(np.array([0, 1, 2])) == -1
    assert auto_no_answer_label(np.array([-1, 0, 3])) == -2
    assert auto_no_answer_label(np.array([-1.0, 2.0])) == -2.0
    assert auto_no_answer_label(np.array(["a", "b"])) == "no answer"
    assert auto_no_answer_label(np.array([False, True])) == "no answer"
    with pytest.raises(ValueError, match="is a class label"):
        auto_no_answer_label(np.array(["no answer", "x"]))


def test_labels_with_no_answer_keeps_both_types():
    out = labels_with_no_answer(np.array(["a", "bb"]), np.array([1, 0, 0]), np.array([True, False, True]), "no answer")
    assert list(out) == ["bb", "no answer", "a"]  # not truncated to the class width
    out = labels_with_no_answer(np.array([False, True]), np.array([1, 0]), np.array([True, False]), "no answer")
    assert out.dtype == object and list(out) == [True, "no answer"]
    out = labels_with_no_answer(np.array([0, 1]), np.array([1, 0]), np.array([True, False]), -1)
    assert out.dtype.kind == "i" and list(out) == [1, -1]


def test_jsonable_params_numpy_scalars_and_generators():
    p = jsonable_params({"n": np.int64(3), "x": np.float32(0.5), "t": (np.int64(1), 2),
                         "a": np.arange(2), "random_state": np.random.default_rng(0)})
    assert json.loads(json.dumps(p)) == {"n": 3, "x": 0.5, "t": [1, 2], "a": [0, 1], "random_state": None}
    assert jsonable_params({"random_state": np.int64(7)})["random_state"] == 7
    with pytest.raises(TypeError, match="parameter f="):
        jsonable_params({"f": object()})


def test_feature_names_are_stored_and_checked_like_sklearn():
    pd = pytest.importorskip("pandas")
    from sklearn.datasets import load_iris

    from spikeforge.models import CorrelationClassifier, DigitalCoLaNET

    X, y = load_iris(return_X_y=True, as_frame=True)
    for est in (CorrelationClassifier(n_fields=5, random_state=0), DigitalCoLaNET(n_microcolumns=2, n_epochs=1, random_state=0)):
        est.fit(X, y)
        assert list(est.feature_names_in_) == list(X.columns)
        est.predict(X)  # same columns: fine
        with pytest.raises(ValueError, match="different order"):
            est.predict(X[X.columns[::-1]])
        with pytest.raises(ValueError, match="Unseen at fit time"):
            est.predict(X.rename(columns={X.columns[0]: "other"}))
        with pytest.warns(UserWarning, match="does not have valid feature names"):
            est.predict(X.to_numpy())
        est.fit(X.to_numpy(), y)
        assert not hasattr(est, "feature_names_in_")
    assert pd is not None


def test_correlation_parameter_checks():
    from sklearn.datasets import load_iris

    from spikeforge.models import CorrelationClassifier

    X, y = load_iris(return_X_y=True)
    for kw, msg in [(dict(w_init=-1e-3), "w_init"), (dict(w_init=2.0), "w_init"), (dict(prune_beta=float("nan")), "prune_beta"),
                    (dict(min_spikes=2.7), "min_spikes"),
                    (dict(plasticity="memristive", memristive_a_minus=-0.2, memristive_scale=5.0), "η")]:
        with pytest.raises(ValueError, match=msg):
            CorrelationClassifier(n_fields=5, random_state=0, **kw).fit(X, y)


@pytest.mark.parametrize("name", ["CorrelationClassifier", "DiehlCook2015", "CoLaNET", "MozafariClassifier"])
def test_loading_junk_or_truncated_files_names_the_file(tmp_path, name):
    import spikeforge.models as M

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a model file at all")
    with pytest.raises(ValueError, match="junk.safetensors is not a valid spikeforge model file"):
        getattr(M, name).load(junk)
    with pytest.raises(FileNotFoundError, match="model file not found"):
        getattr(M, name).load(tmp_path / "missing.safetensors")


def test_truncated_model_file(tmp_path):
    from sklearn.datasets import load_iris

    from spikeforge.models import CorrelationClassifier

    X, y = load_iris(return_X_y=True)
    raw = CorrelationClassifier(n_fields=5, random_state=0).fit(X, y).save(tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "t.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="t.safetensors is not a valid"):
        CorrelationClassifier.load(tmp_path / "t.safetensors")


def test_check_int_refuses_floats_bools_and_out_of_range():
    assert check_int(np.int64(3), "n") == 3 and type(check_int(np.int64(3), "n")) is int
    assert check_int(0, "n", low=0) == 0
    assert check_int(None, "n", allow_none=True) is None
    for bad in (10.5, 10.0, True, np.bool_(True), "3", None):
        with pytest.raises(ValueError, match=r"n must be a positive integer; got"):
            check_int(bad, "n")
    with pytest.raises(ValueError, match=r"n must be a positive integer; got 0$"):
        check_int(0, "n")
    with pytest.raises(ValueError, match=r"n must be an integer >= 1 and <= 5; got 6"):
        check_int(6, "n", high=5)
    with pytest.raises(ValueError, match=r"n must be a non-negative integer; got -1"):
        check_int(-1, "n", low=0)
    with pytest.raises(ValueError, match=r"n must be an integer >= 2 or None; got 1.5 \(float\)"):
        check_int(1.5, "n", low=2, allow_none=True)
    with pytest.raises(ValueError, match=r"n must be an integer <= 3; got 4"):
        check_int(4, "n", low=None, high=3)


def test_check_number_refuses_non_finite_and_bools():
    assert check_number(np.float32(0.5), "x", low=0.0) == 0.5
    assert check_number(0, "x", low=0.0, low_inclusive=True) == 0.0
    assert check_number(None, "x", allow_none=True) is None
    for bad in (float("nan"), float("inf"), True, "1", None, 0.0, -1.0):
        with pytest.raises(ValueError, match="x must be a finite number > 0"):
            check_number(bad, "x", low=0.0)


def test_feature_names_round_trip_through_metadata():
    class Owner:
        pass

    o = Owner()
    assert feature_names_to_meta(o) is None
    o.feature_names_in_ = np.asarray(["a", "b"], dtype=object)
    names = feature_names_to_meta(o)
    assert json.loads(json.dumps(names)) == ["a", "b"]
    back = Owner()
    feature_names_from_meta(back, names)
    np.testing.assert_array_equal(back.feature_names_in_, o.feature_names_in_)
    assert back.feature_names_in_.dtype == object
    feature_names_from_meta(back, None)
    assert not hasattr(back, "feature_names_in_")

"""spikeforge._validation and spikeforge.io helpers: label checks, no-answer labels, saving params."""

import json

import numpy as np
import pytest

from spikeforge._validation import auto_no_answer_label, check_targets, labels_with_no_answer
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

"""Task streams, forgetting metrics and the stream runner."""

import numpy as np
import pytest

from spikeforge.continual import (
    NoProtection,
    average_accuracy,
    backward_transfer,
    forgetting,
    forward_transfer,
    joint_task,
    permuted_mnist,
    retained_accuracy_ratio,
    rotated_mnist,
    run_stream,
    split_mnist,
    split_tasks,
)


def test_split_mnist_domain_incremental_relabels_d_minus_5():
    t1, t2 = split_mnist(n_train=1000, n_test=300, seed=1)
    assert t1.name == "digits 0-4" and t2.name == "digits 5-9"
    assert set(np.unique(t1.y_train)) == set(np.unique(t2.y_train)) == {0, 1, 2, 3, 4}
    assert len(t1.y_train) + len(t2.y_train) == 1000 and len(t1.y_test) + len(t2.y_test) == 300
    assert t1.X_train.shape[1:] == (28, 28)
    # the images of task 2 with label 0 are fives: same pixels as the raw subset's fives
    from spikeforge.datasets import mnist_subset_split

    Xtr, _, ytr, _ = mnist_subset_split(1000, 300, seed=1, images=True)
    fives = {x.tobytes() for x in Xtr[ytr == 5]}
    assert all(x.tobytes() in fives for x in t2.X_train[t2.y_train == 0])
    # class-incremental keeps the labels
    c1, c2 = split_mnist(scenario="class", n_train=1000, n_test=300, seed=1)
    assert set(np.unique(c2.y_test)) == {5, 6, 7, 8, 9}


def test_split_tasks_checks_groups():
    X, y = np.zeros((10, 2)), np.arange(10) % 4
    with pytest.raises(ValueError, match="overlap"):
        split_tasks(X, y, X, y, [(0, 1), (1, 2)])
    with pytest.raises(ValueError, match="same number"):
        split_tasks(X, y, X, y, [(0, 1), (2,)])
    with pytest.raises(ValueError, match="scenario"):
        split_tasks(X, y, X, y, [(0,), (1,)], scenario="task")


def test_permuted_and_rotated_streams():
    p = permuted_mnist(3, n_train=200, n_test=50, seed=0)
    assert len(p) == 3 and p[0].X_train.shape == (200, 28, 28)
    # the same image under two permutations: same multiset of pixels, different layout
    a, b = p[0].X_test[0].ravel(), p[1].X_test[0].ravel()
    assert np.array_equal(np.sort(a), np.sort(b)) and not np.array_equal(a, b)
    assert np.array_equal(p[0].y_test, p[2].y_test)
    r = rotated_mnist((0, 90, 45), n_train=200, n_test=50, seed=0)
    assert np.array_equal(np.rot90(r[0].X_test[0]), r[1].X_test[0])
    assert r[2].X_test.shape == (50, 28, 28) and r[2].X_test.max() <= 255


def test_joint_task_concatenates(toy_tasks):
    tasks = toy_tasks(0)
    j = joint_task(tasks, seed=0)
    assert len(j.y_train) == sum(len(t.y_train) for t in tasks)
    assert len(j.y_test) == sum(len(t.y_test) for t in tasks)


def test_metrics_hand_computed():
    R = np.array([[0.9, 0.1, 0.2], [0.6, 0.8, 0.3], [0.5, 0.7, 0.9]])
    assert average_accuracy(R) == pytest.approx(0.7)
    assert average_accuracy(R, after=1) == pytest.approx(0.7)
    assert average_accuracy(R, after=0) == pytest.approx(0.9)
    # forgetting: task 0: max(0.9, 0.6) - 0.5 = 0.4; task 1: 0.8 - 0.7 = 0.1
    assert forgetting(R) == pytest.approx(0.25)
    # BWT: (0.5 - 0.9 + 0.7 - 0.8) / 2
    assert backward_transfer(R) == pytest.approx(-0.25)
    assert forgetting(np.array([[0.7]])) == 0.0
    assert retained_accuracy_ratio(0.822, 0.481) == pytest.approx(1.709, abs=1e-3)
    assert retained_accuracy_ratio(0.5, 0.0) == float("inf")
    with pytest.raises(ValueError):
        forgetting(np.zeros((2, 3)))


def test_average_accuracy_checks_the_stage_index():
    """Regression: ``after=-1`` gave NaN ("Mean of empty slice") and ``after >= n`` a raw
    IndexError. Negative indices count from the end, as in Python."""
    R = np.array([[0.9, np.nan, np.nan], [0.7, 0.8, np.nan], [0.5, 0.6, 0.9]])
    assert average_accuracy(R, after=-1) == pytest.approx((0.5 + 0.6 + 0.9) / 3)
    assert average_accuracy(R, after=-2) == pytest.approx(0.75)
    assert average_accuracy(R, after=-3) == average_accuracy(R, after=0) == pytest.approx(0.9)
    assert average_accuracy(R, after=np.int64(1)) == pytest.approx(0.75)
    for bad in (3, -4, 10):
        with pytest.raises(ValueError, match="after"):
            average_accuracy(R, after=bad)
    with pytest.raises(TypeError, match="after"):
        average_accuracy(R, after=1.5)


def test_retained_accuracy_ratio_edge_cases():
    assert retained_accuracy_ratio(0.5, 0.0) == float("inf")
    assert np.isnan(retained_accuracy_ratio(0.0, 0.0))  # both kept nothing: undefined
    for bad in ((float("nan"), 0.5), (0.5, float("nan")), (float("inf"), 0.5), (-0.1, 0.5)):
        with pytest.raises(ValueError):
            retained_accuracy_ratio(*bad)


def test_forward_transfer_hand_computed():
    # Lopez-Paz & Ranzato (2017): mean over j >= 1 of R[j-1, j] - b[j]
    R = np.array([[0.9, 0.3, 0.25], [0.6, 0.8, 0.4], [0.5, 0.7, 0.9]])
    b = np.array([0.2, 0.2, 0.3])
    assert forward_transfer(R, b) == pytest.approx(((0.3 - 0.2) + (0.4 - 0.3)) / 2)
    assert forward_transfer(np.array([[0.7]]), [0.1]) == 0.0
    with pytest.raises(ValueError, match="baseline"):
        forward_transfer(R, [0.2, 0.2])
    with pytest.raises(ValueError, match="zero-shot"):
        forward_transfer(np.array([[0.9, np.nan], [0.5, 0.8]]), [0.5, 0.5])


def test_run_stream_records_matrix_and_curves(make_toy, toy_tasks):
    tasks = toy_tasks(2)
    model = make_toy(30, 3, seed=0)
    seen = []
    res = run_stream(model, tasks, NoProtection(), epochs=[2, 3], on_epoch=lambda i, e, acc: seen.append((i, e)))
    assert res.accuracy.shape == (2, 2)
    assert [c.shape for c in res.curves] == [(2, 2), (3, 2)]
    assert np.array_equal(res.accuracy[1], res.curves[1][-1])
    assert seen == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]
    assert res.accuracy[0, 0] > 0.6  # the toy learns its first task
    s = res.summary()
    assert s["forgetting"] == pytest.approx(res.accuracy[0, 0] - res.accuracy[1, 0])
    with pytest.raises(ValueError):
        run_stream(model, tasks, epochs=[1])
    with pytest.raises(ValueError):
        run_stream(model, tasks, epochs=1, first_task=2)


def test_resumed_stream_takes_the_first_rows_from_resume(make_toy, toy_tasks):
    """Branching from a trained copy: resume= fills the rows before first_task, so the
    summary is the one of an uninterrupted stream; without it the summary warns."""
    import copy

    tasks = toy_tasks(2)
    whole = run_stream(make_toy(30, 3, seed=0), tasks, epochs=[2, 3])
    model = make_toy(30, 3, seed=0)
    first = run_stream(model, tasks[:1], epochs=2, eval_tasks=tasks)
    resumed = run_stream(copy.deepcopy(model), tasks, epochs=[2, 3], first_task=1, resume=first)
    np.testing.assert_array_equal(resumed.accuracy, whole.accuracy)
    assert [c.shape for c in resumed.curves] == [(2, 2), (3, 2)]
    assert resumed.summary() == whole.summary()
    bare = run_stream(copy.deepcopy(model), tasks, epochs=[2, 3], first_task=1)
    with pytest.warns(UserWarning, match=r"rows \[0\].*resume="):
        assert np.isnan(bare.summary()["forgetting"])
    narrow = run_stream(make_toy(30, 3, seed=0), tasks[:1], epochs=1)  # scored on task 0 only
    with pytest.raises(ValueError, match="evaluation task"):
        run_stream(copy.deepcopy(model), tasks, epochs=1, first_task=1, resume=narrow)

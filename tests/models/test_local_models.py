"""STDPAllLTDClassifier and DiehlCook2015: scikit-learn contract, bad input, determinism, saving."""

import warnings

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from spikeforge.datasets import load_mnist_subset, mnist_subset_split
from spikeforge.models import (
    DiehlCook2015,
    InputScaleWarning,
    NoAnswerWarning,
    SilentNetworkWarning,
    STDPAllLTDClassifier,
)

# Fast settings for contract tests: short presentations, coarse steps, few neurons.
FAST_AL = dict(neurons_per_class=2, dt_ms=0.5, active_ms=40.0, rest_ms=10.0, input_max=50.0, max_rate_hz=400.0,
               g_max=0.3, no_answer_label=None, n_jobs=1, random_state=0)
FAST_DC = dict(n_neurons=6, dt_ms=0.5, active_ms=40.0, rest_ms=10.0, input_max=50.0, max_rate_hz=400.0,
               min_spikes=0, no_answer_label=None, n_jobs=1, random_state=0)

# Checks that a rate-coded spiking network with a handful of neurons and 40 ms presentations
# cannot pass: accuracy/ranking requirements on sklearn's tiny synthetic blobs.
EXPECTED_FAILURES = {
    "check_classifiers_train": "a 4-12 neuron spiking network does not reach sklearn's accuracy bar on tiny blobs",
    "check_decision_proba_consistency": "feeds negative-valued blobs although the estimator is tagged positive_only",
}


def _expected_failed(est):
    return EXPECTED_FAILURES


@parametrize_with_checks([STDPAllLTDClassifier(**FAST_AL), DiehlCook2015(**FAST_DC)],
                         expected_failed_checks=_expected_failed)
def test_sklearn_estimator_checks(estimator, check):
    # sklearn's data (values of a few units) is far below these settings' input_max=50, so the
    # tiny networks are silent and rightly say so
    with warnings.catch_warnings():
        for category in (NoAnswerWarning, InputScaleWarning, SilentNetworkWarning):
            warnings.simplefilter("ignore", category)
        check(estimator)


@pytest.fixture(scope="module")
def digits01():
    X, y = load_mnist_subset()
    m = np.flatnonzero(np.isin(y, (0, 1)))
    m = np.random.default_rng(0).permutation(m)
    X, y = X[m].astype(np.float64), y[m]
    return X[:160], y[:160], X[160:260], y[160:260]


def test_stdp_all_ltd_learns_zero_vs_one(digits01):
    Xtr, ytr, Xte, yte = digits01
    clf = STDPAllLTDClassifier(neurons_per_class=4, dt_ms=0.5, random_state=0, n_jobs=1).fit(Xtr[:60], ytr[:60])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoAnswerWarning)
        assert clf.score(Xte, yte) >= 0.85
    assert clf.weights_.shape == (784, 8) and clf.n_seen_ == 60
    assert np.all((clf.weights_ >= 0) & (clf.weights_ <= clf.g_max))


def test_diehl_cook_learns_zero_vs_one(digits01):
    Xtr, ytr, Xte, yte = digits01
    clf = DiehlCook2015(n_neurons=10, random_state=0, n_jobs=1).fit(Xtr, ytr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoAnswerWarning)
        assert clf.score(Xte, yte) >= 0.85
    np.testing.assert_allclose(clf.weights_.sum(axis=0), 78.0, rtol=0.05)  # normalised before each image
    assert np.all(clf.theta_ > 20.0)  # θ grew from 20 mV
    assert set(clf.assignments_) <= {-1, 0, 1}


def test_same_seed_same_model_and_predictions_do_not_depend_on_batch(digits01):
    Xtr, ytr, Xte, _ = digits01
    a = STDPAllLTDClassifier(**FAST_AL).fit(Xtr[:20] / 5.1, ytr[:20])
    b = STDPAllLTDClassifier(**FAST_AL).fit(Xtr[:20] / 5.1, ytr[:20])
    np.testing.assert_array_equal(a.weights_, b.weights_)
    full = a.decision_function(Xte[:12] / 5.1)
    np.testing.assert_array_equal(full[[3, 7]], a.decision_function(Xte[[3, 7]] / 5.1))
    c = STDPAllLTDClassifier(**{**FAST_AL, "random_state": 1}).fit(Xtr[:20] / 5.1, ytr[:20])
    assert not np.array_equal(a.weights_, c.weights_)


def test_partial_fit_equals_fit_in_blocks(digits01):
    Xtr, ytr, _, _ = digits01
    one = STDPAllLTDClassifier(**FAST_AL).fit(Xtr[:30] / 5.1, ytr[:30])
    two = STDPAllLTDClassifier(**FAST_AL)
    two.partial_fit(Xtr[:10] / 5.1, ytr[:10], classes=[0, 1])
    two.partial_fit(Xtr[10:30] / 5.1, ytr[10:30])
    np.testing.assert_array_equal(one.weights_, two.weights_)


@pytest.mark.parametrize("Model, kw", [(STDPAllLTDClassifier, FAST_AL), (DiehlCook2015, FAST_DC)])
def test_save_and_load(tmp_path, digits01, Model, kw):
    Xtr, ytr, Xte, _ = digits01
    clf = Model(**kw).fit(Xtr[:20] / 5.1, ytr[:20])
    path = clf.save(tmp_path / "model.safetensors")
    back = Model.load(path)
    np.testing.assert_array_equal(back.weights_, clf.weights_)
    np.testing.assert_array_equal(back.decision_function(Xte[:8] / 5.1), clf.decision_function(Xte[:8] / 5.1))
    assert back.get_params() == clf.get_params()
    with pytest.raises(ValueError, match="holds a"):
        (DiehlCook2015 if Model is STDPAllLTDClassifier else STDPAllLTDClassifier).load(path)


@pytest.mark.parametrize("Model, kw", [(STDPAllLTDClassifier, FAST_AL), (DiehlCook2015, FAST_DC)])
@pytest.mark.parametrize("random_state", [None, "generator"])
def test_save_and_load_without_an_int_seed(tmp_path, digits01, Model, kw, random_state):
    """The network's seed is saved, so a model fitted with random_state=None or a Generator
    comes back with the same delays and the same (stochastic) predictions."""
    Xtr, ytr, Xte, _ = digits01
    rs = np.random.default_rng(5) if random_state == "generator" else None
    clf = Model(**{**kw, "random_state": rs}).fit(Xtr[:20] / 5.1, ytr[:20])
    back = Model.load(clf.save(tmp_path / "model.safetensors"))
    assert back.network_seed_ == clf.network_seed_
    for name, conn in clf.network_.connections.items():
        np.testing.assert_array_equal(back.network_.connections[name].delay_steps, conn.delay_steps)
    np.testing.assert_array_equal(back.decision_function(Xte[:8] / 5.1), clf.decision_function(Xte[:8] / 5.1))


def test_images_accepted_as_3d_stacks(digits01):
    Xtr, ytr, Xte, _ = digits01
    clf = STDPAllLTDClassifier(**{**FAST_AL, "input_max": 255.0}).fit(Xtr[:10].reshape(-1, 28, 28), ytr[:10])
    assert clf.n_features_in_ == 784
    assert clf.predict(Xte[:3].reshape(-1, 28, 28)).shape == (3,)


@pytest.mark.parametrize("Model", [STDPAllLTDClassifier, DiehlCook2015])
def test_bad_input_gets_clear_errors(digits01, Model):
    Xtr, ytr, Xte, _ = digits01
    kw = FAST_AL if Model is STDPAllLTDClassifier else FAST_DC
    clf = Model(**{**kw, "input_max": 255.0}).fit(Xtr[:10], ytr[:10])
    with pytest.raises(ValueError, match="784 features"):
        clf.predict(Xte[:2, :700])  # wrong image size
    with pytest.raises(ValueError, match="784 features"):
        clf.predict(Xte[:2].reshape(2, 28, 28)[:, :20, :20])
    with pytest.raises(ValueError, match="Negative values"):
        clf.predict(-Xte[:2])
    with pytest.raises(ValueError, match="input_max"):
        clf.predict(Xte[:2] * 10.0)
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(np.full((1, 784), np.nan))


def test_labels_outside_the_fitted_classes(digits01):
    Xtr, ytr, _, _ = digits01
    clf = STDPAllLTDClassifier(**FAST_AL).partial_fit(Xtr[:10] / 5.1, ytr[:10], classes=[0, 1])
    with pytest.raises(ValueError, match=r"labels \[7\] are not among the fitted classes"):
        clf.partial_fit(Xtr[:2] / 5.1, np.array([7, 0]))
    with pytest.raises(ValueError, match="differ"):
        clf.partial_fit(Xtr[:2] / 5.1, np.array([1, 0]), classes=[0, 1, 2])
    dc = DiehlCook2015(**FAST_DC).fit(Xtr[:10] / 5.1, ytr[:10])
    with pytest.raises(ValueError, match="not among the fitted classes"):
        dc.assign_labels(Xtr[:3] / 5.1, np.array([0, 1, 5]))


def test_silent_inputs_are_reported_as_no_answer(digits01):
    Xtr, ytr, Xte, _ = digits01
    clf = STDPAllLTDClassifier(**{**FAST_AL, "no_answer_label": "auto"}).fit(Xtr[:10] / 5.1, ytr[:10])
    blank = np.zeros((3, 784))
    with pytest.warns(NoAnswerWarning, match="3 of 3 inputs evoked no spike"):
        pred = clf.predict(blank)
    np.testing.assert_array_equal(pred, -1)
    assert not clf.answered(blank).any()
    with pytest.warns(NoAnswerWarning):
        labels, answered = clf.predict(np.vstack([blank[:1], Xte[:2] / 5.1]), return_answered=True)
    assert labels[0] == -1 and not answered[0]
    np.testing.assert_array_equal(answered[1:], clf.answered(Xte[:2] / 5.1))
    np.testing.assert_allclose(clf.predict_proba(blank), 0.5)
    strings = STDPAllLTDClassifier(**{**FAST_AL, "no_answer_label": "auto"}).fit(
        Xtr[:10] / 5.1, np.where(ytr[:10] == 0, "zero", "one"))
    with pytest.warns(NoAnswerWarning):
        assert list(strings.predict(blank[:1])) == ["no answer"]
    prior = STDPAllLTDClassifier(**{**FAST_AL, "no_answer_label": None}).fit(Xtr[:10] / 5.1, ytr[:10])
    with pytest.warns(NoAnswerWarning, match="most frequent"):
        assert prior.predict(blank[:1])[0] in (0, 1)


def test_use_it_or_lose_it_prunes_unused_inputs(digits01):
    Xtr, ytr, _, _ = digits01
    kw = {**FAST_AL, "input_max": 255.0}
    plain = STDPAllLTDClassifier(**kw).fit(Xtr[:20], ytr[:20])
    pruned = STDPAllLTDClassifier(**kw, prune_tau_ms=300.0).fit(Xtr[:20], ytr[:20])
    never = Xtr[:20].max(axis=0) == 0  # pixels that never fired in training
    assert never.sum() > 100
    # the 63 Hz / 50 ms sweep reaches ≈ 96 % of the silent inputs; their weights collapse
    assert (pruned.weights_[never] < 1e-4).mean() > 0.9
    assert (plain.weights_[never] < 1e-4).mean() < 0.01
    assert pruned._prune_tau(3) == 300.0
    assert STDPAllLTDClassifier(prune_tau_ms="auto")._prune_tau(3) == 7500.0


def test_use_it_or_lose_it_kp0_in_training_decays_only_in_the_sweep(digits01):
    Xtr, ytr, _, _ = digits01
    kw = {**FAST_AL, "input_max": 255.0, "prune_tau_ms": 300.0}
    plain = STDPAllLTDClassifier(**{**kw, "prune_tau_ms": None}).fit(Xtr[:20], ytr[:20])
    # the default is the notebooks' k_p = 0 while training; prune_sweep_ms=0 defers the sweep
    late = STDPAllLTDClassifier(**kw, prune_sweep_ms=0.0).fit(Xtr[:20], ytr[:20])
    # k_p = 0 while training: weights identical to the unregularised network (same random streams)
    np.testing.assert_array_equal(late.weights_, plain.weights_)
    with pytest.raises(ValueError, match="prune_sweep_ms > 0"):
        late.prune_sweep()
    late.set_params(prune_sweep_ms=50.0).prune_sweep()
    never = Xtr[:20].max(axis=0) == 0
    assert (late.weights_[never] < 1e-4).mean() > 0.9  # the sweep still prunes the silent inputs
    # an input used in the last image keeps most of its weight (t − t_last ≪ τ_prun · a few)
    used_last = Xtr[19] > 200
    kept = late.weights_[used_last] / np.maximum(plain.weights_[used_last], 1e-12)
    assert np.median(kept) > 0.5


def test_use_it_or_lose_it_set_params_tau_after_fit_applies_to_the_sweep(digits01):
    Xtr, ytr, _, _ = digits01
    kw = {**FAST_AL, "input_max": 255.0}
    direct = STDPAllLTDClassifier(**kw, prune_tau_ms=100.0).fit(Xtr[:20], ytr[:20])
    late = STDPAllLTDClassifier(**kw, prune_tau_ms=300.0, prune_sweep_ms=0.0).fit(Xtr[:20], ytr[:20])
    late.set_params(prune_tau_ms=100.0, prune_sweep_ms=50.0).prune_sweep()
    np.testing.assert_array_equal(late.weights_, direct.weights_)
    assert late.network_.connections["XE"].plasticity.prune_tau_ms == 100.0 == late.prune_tau_ms_
    assert STDPAllLTDClassifier(**kw, prune_tau_ms="auto").fit(Xtr[:20], ytr[:20]).prune_tau_ms_ == \
        5 * 2 * (kw["active_ms"] + kw["rest_ms"])  # "auto": 5 · classes · presentation
    with pytest.raises(ValueError, match="prune_tau_ms must be positive"):
        late.set_params(prune_tau_ms=-5.0).prune_sweep()


def test_use_it_or_lose_it_kp1_in_training_decays_during_training(digits01):
    Xtr, ytr, _, _ = digits01
    kw = {**FAST_AL, "input_max": 255.0}
    plain = STDPAllLTDClassifier(**kw).partial_fit(Xtr[:20], ytr[:20], classes=[0, 1])
    spec = STDPAllLTDClassifier(**kw, prune_tau_ms=300.0, prune_in_training=True)
    spec.partial_fit(Xtr[:20], ytr[:20], classes=[0, 1])  # no sweep: only the in-training decay
    used = Xtr[:20].max(axis=0) > 0
    # with τ_prun = 300 ms, gaps of one image (500 ms) already cost exp(−(500/300)²) ≈ 6 %
    assert spec.weights_[used].sum() < 0.5 * plain.weights_[used].sum()
    never = ~used  # inputs that never fired have never been decayed
    np.testing.assert_array_equal(spec.weights_[never], plain.weights_[never])


def test_mean_interval_clock_hand_computed(digits01):
    Xtr, ytr, _, _ = digits01
    kw = {**FAST_AL, "input_max": 255.0}
    plain = STDPAllLTDClassifier(**kw).fit(Xtr[:20], ytr[:20])
    pruned = STDPAllLTDClassifier(**kw, prune_clock="mean_interval", prune_tau_ms=200.0).fit(Xtr[:20], ytr[:20])
    assert pruned.pruned_ and not plain.pruned_
    # same random streams, no decay in training: the counts agree, and pixels that are 0 in every
    # training image (rate 0 Hz) never fire
    np.testing.assert_array_equal(pruned.input_spikes_, plain.input_spikes_)
    never = Xtr[:20].max(axis=0) == 0
    assert (pruned.input_spikes_[never] == 0).all() and (pruned.input_spikes_[~never] > 0).mean() > 0.9
    t = 20 * (kw["active_ms"] + kw["rest_ms"])  # training time, ms
    assert plain.network_.time_ms == pytest.approx(t) == plain.train_ms_
    n = pruned.input_spikes_.astype(float)
    with np.errstate(divide="ignore"):
        interval = np.where(n > 0, t / n, np.inf)
    np.testing.assert_allclose(pruned.mean_intervals_ms(), interval)
    expected = plain.weights_ * np.exp(-((interval / 200.0) ** 2))[:, None]
    np.testing.assert_allclose(pruned.weights_, expected, rtol=1e-12, atol=0)
    assert (pruned.weights_[never] == 0).all()


def test_select_prune_tau_picks_the_strongest_within_the_bound(digits01):
    Xtr, ytr, Xte, yte = digits01
    kw = {**FAST_AL, "input_max": 255.0, "prune_clock": "mean_interval"}
    base = STDPAllLTDClassifier(**kw).fit(Xtr[:40], ytr[:40])
    taus = [5.0, 20.0, 60.0, 200.0, 2000.0]
    accs = {}
    for tau in taus:  # by hand: prune copies and score them
        c = STDPAllLTDClassifier(**kw).fit(Xtr[:40], ytr[:40])
        accs[tau] = c.set_params(prune_tau_ms=tau).prune_sweep().score(Xte, yte)
    a0 = base.score(Xte, yte)
    bound = 0.05
    want = min(t for t in taus if a0 - accs[t] <= bound)
    base.select_prune_tau(Xte, yte, taus[::-1], max_accuracy_drop=bound)  # any order
    sel = base.prune_selection_
    assert sel["chosen_ms"] == want == base.prune_tau_ms and base.pruned_
    assert sel["unpruned_accuracy"] == a0
    assert sel["taus_ms"] == sorted(taus)[: len(sel["accuracy"])]
    np.testing.assert_allclose(sel["accuracy"], [accs[t] for t in sel["taus_ms"]])
    ref = STDPAllLTDClassifier(**{**kw, "prune_tau_ms": want}).fit(Xtr[:40], ytr[:40])
    np.testing.assert_array_equal(base.weights_, ref.weights_)
    with pytest.raises(ValueError, match="already pruned"):
        base.select_prune_tau(Xte, yte, taus)
    # nothing qualifies: a warning, and the network stays as it was
    fresh = STDPAllLTDClassifier(**kw).fit(Xtr[:40], ytr[:40])
    if a0 > 0:
        with pytest.warns(UserWarning, match="left unpruned"):
            fresh.select_prune_tau(Xte, yte, [0.001], max_accuracy_drop=0.0)
        assert fresh.prune_selection_["chosen_ms"] is None and not fresh.pruned_
        np.testing.assert_array_equal(fresh.weights_, STDPAllLTDClassifier(**kw).fit(Xtr[:40], ytr[:40]).weights_)
    for bad, msg in (([], "taus_ms"), ([-1.0], "taus_ms"), ([np.nan], "taus_ms")):
        with pytest.raises(ValueError, match=msg):
            fresh.select_prune_tau(Xte, yte, bad)
    for bad in (1.5, -0.1, True, "0.02", np.nan):
        with pytest.raises(ValueError, match="max_accuracy_drop"):
            fresh.select_prune_tau(Xte, yte, [100.0], max_accuracy_drop=bad)


def test_select_prune_tau_with_the_last_spike_clock(digits01):
    Xtr, ytr, Xte, yte = digits01
    kw = {**FAST_AL, "input_max": 255.0}
    clf = STDPAllLTDClassifier(**kw).fit(Xtr[:20], ytr[:20])  # no τ yet: unpruned
    clf.select_prune_tau(Xte, yte, [300.0, 1e6], max_accuracy_drop=1.0)  # any drop qualifies: the smallest τ
    direct = STDPAllLTDClassifier(**kw, prune_tau_ms=300.0).fit(Xtr[:20], ytr[:20])
    assert clf.prune_tau_ms == 300.0 and clf.pruned_
    np.testing.assert_array_equal(clf.weights_, direct.weights_)


def test_mean_interval_counts_survive_save_and_load(tmp_path, digits01):
    Xtr, ytr, _, _ = digits01
    kw = {**FAST_AL, "input_max": 255.0, "prune_clock": "mean_interval"}
    clf = STDPAllLTDClassifier(**kw).fit(Xtr[:20], ytr[:20])
    back = STDPAllLTDClassifier.load(clf.save(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(back.input_spikes_, clf.input_spikes_)
    assert back.pruned_ is False
    for m in (clf, back):
        m.set_params(prune_tau_ms=150.0).prune_sweep()
    np.testing.assert_array_equal(back.weights_, clf.weights_)
    assert STDPAllLTDClassifier.load(clf.save(tmp_path / "p.safetensors")).pruned_ is True
    # the last-spike sweep's arrival times are not in the file: refused rather than a silent no-op
    last = STDPAllLTDClassifier.load(clf.set_params(prune_clock="last_spike").save(tmp_path / "l.safetensors"))
    with pytest.raises(ValueError, match="loaded from a file"):
        last.set_params(prune_tau_ms=300.0).prune_sweep()


@pytest.mark.parametrize("kw, msg", [
    (dict(neurons_per_class=0), "neurons_per_class"),
    (dict(prune_tau_ms="sometimes"), "prune_tau_ms"),
    (dict(prune_tau_ms=-1.0), "prune_tau_ms"),
    (dict(n_epochs=0), "n_epochs"),
    (dict(prune_tau_ms=100.0, prune_sweep_ms=-1.0), "prune_sweep_ms"),
    (dict(max_rate_hz=0.0), "max_rate_hz"),
    (dict(ltd_gain=-0.5), "ltd_gain"),
    (dict(ltd_gain=None), "ltd_gain"),
    (dict(prune_clock="first_spike"), "prune_clock"),
    (dict(prune_clock="mean_interval", prune_tau_ms=300.0, prune_in_training=True), "prune_in_training"),
    (dict(prune_clock="mean_interval", prune_tau_ms="auto"), "needs a number"),
])
def test_bad_parameters(digits01, kw, msg):
    Xtr, ytr, _, _ = digits01
    with pytest.raises(ValueError, match=msg):
        STDPAllLTDClassifier(**{**FAST_AL, **kw}).fit(Xtr[:6] / 5.1, ytr[:6])


@pytest.mark.parametrize("Model, kw", [(STDPAllLTDClassifier, FAST_AL), (DiehlCook2015, FAST_DC)])
def test_save_with_numpy_scalar_params(tmp_path, digits01, Model, kw):
    Xtr, ytr, Xte, _ = digits01
    kw = {**kw, "random_state": np.int64(3), "max_rate_hz": np.float64(400.0)}
    clf = Model(**kw).fit(Xtr[:20] / 5.1, ytr[:20])
    back = Model.load(clf.save(tmp_path / "m.safetensors"))
    assert back.random_state == 3 and back.max_rate_hz == 400.0
    np.testing.assert_array_equal(back.decision_function(Xte[:4] / 5.1), clf.decision_function(Xte[:4] / 5.1))


@pytest.mark.parametrize("Model, kw", [(STDPAllLTDClassifier, FAST_AL), (DiehlCook2015, FAST_DC)])
def test_binary_decision_function_is_one_score_per_sample(digits01, Model, kw):
    Xtr, ytr, Xte, _ = digits01
    clf = Model(**kw).fit(Xtr[:20] / 5.1, ytr[:20])
    d = clf.decision_function(Xte[:6] / 5.1)
    scores, _ = clf._scores(Xte[:6] / 5.1)
    assert d.shape == (6,)
    np.testing.assert_allclose(d, scores[:, 1] - scores[:, 0])


def test_minus_one_as_a_class_gets_another_no_answer_label(digits01):
    Xtr, ytr, _, _ = digits01
    y = np.where(ytr[:10] == 0, -1, 1)
    clf = STDPAllLTDClassifier(**{**FAST_AL, "no_answer_label": "auto"}).fit(Xtr[:10] / 5.1, y)
    with pytest.warns(NoAnswerWarning, match="labelled -2"):
        assert clf.predict(np.zeros((1, 784)))[0] == -2


def test_ltd_gain_zero_leaves_the_other_segments_untouched(digits01):
    Xtr, ytr, _, _ = digits01
    zeros = Xtr[ytr == 0][:8] / 5.1  # FAST_AL takes intensities up to 50
    clf = STDPAllLTDClassifier(**{**FAST_AL, "ltd_gain": 0.0}).partial_fit(zeros, np.zeros(8, int), classes=[0, 1])
    with warnings.catch_warnings():  # a blank image: no spike, so the initial weights
        warnings.simplefilter("ignore", InputScaleWarning)
        w0 = STDPAllLTDClassifier(**FAST_AL).partial_fit(np.zeros((1, 784)), [0], classes=[0, 1])
    seg1 = clf.segment_ == 1
    assert clf.train_counts_[:, seg1].sum() > 0  # the class-1 segment fired, so All-LTD would have acted
    np.testing.assert_array_equal(clf.weights_[:, seg1], w0.weights_[:, seg1])
    assert not np.array_equal(clf.weights_[:, ~seg1], w0.weights_[:, ~seg1])  # STDP in the target segment
    dep = STDPAllLTDClassifier(**FAST_AL).partial_fit(zeros, np.zeros(8, int), classes=[0, 1])
    assert dep.weights_[:, seg1].sum() < w0.weights_[:, seg1].sum()  # the seed's All-LTD depresses them


def test_a_small_ltd_gain_keeps_ten_classes_answering():
    Xtr, Xte, ytr, yte = mnist_subset_split(600, 200, seed=0)
    res = {}
    for gain in (1.0, 0.03):
        clf = STDPAllLTDClassifier(ltd_gain=gain, dt_ms=0.5, n_jobs=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SilentNetworkWarning)
            warnings.simplefilter("ignore", NoAnswerWarning)
            clf.fit(Xtr, ytr)
            pred, answered = clf.predict(Xte, return_answered=True)
        res[gain] = (np.mean(pred == yte), answered.mean())
    assert res[1.0][1] < 0.5 and res[0.03][1] > 0.9  # measured: 0.22 vs 0.99 answered
    assert res[0.03][0] > res[1.0][0] + 0.2  # measured: 0.45 vs 0.09 accuracy

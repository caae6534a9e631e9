"""CoLaNET and DigitalCoLaNET: network mechanics on hand-made inputs, estimator contract,
persistence, and learning on a small MNIST split."""

import numpy as np
import pytest
from sklearn.base import clone

from spikeforge.datasets import mnist_subset_split
from spikeforge.models import CoLaNET, DigitalCoLaNET
from spikeforge.plasticity import SynapticResource


@pytest.fixture(scope="module")
def small_mnist():
    return mnist_subset_split(1000, 300, seed=0)


def test_forced_spike_and_dopamine_hand_values():
    # one sample of class 0; inputs: always on, once (t=9), silent. Fresh network: nobody answers,
    # so BIASGATE forces microcolumn 0 of column 0 at t = 11 and dopamine D = 0.5 arrives at t = 13
    X = np.array([[1.0, 0.1, 0.0]])
    net = CoLaNET(n_microcolumns=1, n_epochs=1, noise=0.0, input_scale=1.0, random_state=0, shuffle=False)
    net.partial_fit(X, [0], classes=[0, 1])
    W0 = SynapticResource(w_min=-0.253, w_max=0.0924).resource_zero
    # contributed inputs (arrival in (1, 11]) get +D·2^0; the silent input and column 1 are unchanged
    np.testing.assert_allclose(net.resource_[0][:, 0], [W0 + 0.5, W0 + 0.5, W0])
    np.testing.assert_allclose(net.resource_[0][:, 1], [W0, W0, W0])
    assert net.neuron_state_[0][0, 0] == 0.0          # forced: s ← max(0, 0 − r·D)
    assert net.neuron_state_[0][1, 0] == 0.0          # column 1 got no dopamine
    assert net.neuron_state_[0][0, 6] == 1.0          # last spike forced
    assert net.online_correct_.tolist() == [0]         # no answer before learning
    # the adaptive threshold followed: θ0 + k_thr·Σ w⁺
    w = net.weights_[0][:, 0]
    assert net.theta_[0][0] == pytest.approx(8.571 + 0.6 * w[w > 0].sum())
    # digital twin, same rule: the forced microcolumn gets the same +D on active inputs
    dig = DigitalCoLaNET(n_microcolumns=1, input_scale=1.0, random_state=0, shuffle=False)
    dig.partial_fit(X, [0], classes=[0, 1])
    np.testing.assert_allclose(dig.resource_[0][:, 0], [W0 + 0.5, W0 + 0.5, W0])


def test_self_response_gets_anti_hebbian_plus_dopamine():
    # pre-train a neuron until it answers by itself, then check one more presentation changes W by d_H + D
    X = np.array([[1.0] * 200 + [0.0] * 4])
    net = CoLaNET(n_microcolumns=1, noise=0.0, input_scale=1.0, random_state=0, shuffle=False, stability_ratio=0.0)
    for _ in range(20):
        net.partial_fit(X, [0], classes=[0, 1])
        if net.online_correct_[-1]:
            break
    assert net.online_correct_[-1] == 1
    before = net.resource_[0][:, 0].copy()
    net.partial_fit(X, [0])
    assert net.online_correct_[-1] == 1
    np.testing.assert_allclose(net.resource_[0][:200, 0] - before[:200], -0.3 + 0.5)   # once per DSS, then +D
    np.testing.assert_allclose(net.resource_[0][200:, 0], before[200:])


@pytest.mark.parametrize("cls, floor", [(CoLaNET, 0.75), (DigitalCoLaNET, 0.75)])
def test_learns_small_mnist(small_mnist, cls, floor):
    Xtr, Xte, ytr, yte = small_mnist
    clf = cls(n_microcolumns=10, n_epochs=2, random_state=0).fit(Xtr, ytr)
    assert clf.score(Xte, yte) >= floor
    assert clf.answer_rate(Xte) > 0.9
    x, curve = clf.learning_curve(window=100)
    assert x[-1] == 2000 and curve[-1] > curve[0]
    proba = clf.predict_proba(Xte[:20])
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert clf.prototypes().shape == (10, 10, 784)


def test_determinism_and_ensembles(small_mnist):
    Xtr, Xte, ytr, _ = small_mnist
    a = CoLaNET(n_microcolumns=5, n_epochs=1, random_state=3).fit(Xtr[:300], ytr[:300])
    b = clone(a).fit(Xtr[:300], ytr[:300])
    np.testing.assert_array_equal(a.resource_, b.resource_)
    np.testing.assert_array_equal(a.out_counts(Xte), b.out_counts(Xte))
    # a sample's answer does not depend on the batch
    np.testing.assert_array_equal(a.out_counts(Xte[:7]), a.out_counts(Xte)[:7])
    c = CoLaNET(n_microcolumns=5, n_epochs=1, random_state=4).fit(Xtr[:300], ytr[:300])
    assert not np.array_equal(a.resource_, c.resource_)
    e = CoLaNET(n_microcolumns=5, n_epochs=1, n_copies=3, random_state=3).fit(Xtr[:300], ytr[:300])
    assert e.resource_.shape[0] == 3 and not np.array_equal(e.resource_[0], e.resource_[1])
    assert e.out_counts(Xte).sum() > a.out_counts(Xte).sum()


@pytest.mark.parametrize("cls", [CoLaNET, DigitalCoLaNET])
def test_save_load_round_trip(tmp_path, small_mnist, cls):
    Xtr, Xte, ytr, _ = small_mnist
    names = np.array(list("abcdefghij"))
    clf = cls(n_microcolumns=4, n_epochs=1, random_state=0).fit(Xtr[:200], names[ytr[:200]])
    path = clf.save(tmp_path / "net.safetensors")
    back = cls.load(path)
    assert back.get_params() == clf.get_params()
    np.testing.assert_array_equal(back.predict(Xte), clf.predict(Xte))
    assert back.predict(Xte[:1])[0] in names
    back.partial_fit(Xtr[200:300], names[ytr[200:300]])     # training continues after loading
    with pytest.raises(ValueError, match="holds a"):
        (DigitalCoLaNET if cls is CoLaNET else CoLaNET).load(path)


@pytest.mark.parametrize(
    "X, y, msg",
    [
        (np.array([[1.0, -2.0], [0.0, 1.0]]), [0, 1], "non-negative"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), [0, 1], "NaN"),
        (np.ones((4, 2)), [1, 1, 1, 1], "only one class"),
        (np.ones((4, 2)), [0, 1], "labels but X has 4"),
        (np.arange(4.0), [0, 1, 0, 1], "1-D"),
    ],
)
def test_clear_input_errors(X, y, msg):
    with pytest.raises(ValueError, match=msg):
        CoLaNET(random_state=0).fit(X, y)


def test_parameter_and_shape_errors(small_mnist):
    Xtr, Xte, ytr, _ = small_mnist
    for params, msg in [(dict(tie_break="coin"), "tie_break"), (dict(wta_scope="layer"), "wta_scope"),
                        (dict(n_microcolumns=0), "positive integer"), (dict(hebbian=0.2), "d_H"),
                        (dict(silent_tacts=1), "inside the period"), (dict(w_min=1.0), "below")]:
        with pytest.raises(ValueError, match=msg):
            CoLaNET(**params).fit(Xtr[:20], ytr[:20])
    clf = CoLaNET(n_microcolumns=2, n_epochs=1, random_state=0).fit(Xtr[:50], ytr[:50])
    with pytest.raises(ValueError, match="784 features"):
        clf.predict(Xte[:, :100])
    with pytest.raises(ValueError, match="unseen"):
        clf.partial_fit(Xtr[:5], [11] * 5)
    with pytest.raises(ValueError, match="T_in, n_samples"):
        clf.predict_spikes(np.zeros((3, 784)))


def test_column_scope_random_tie_and_block_modes_run(small_mnist):
    Xtr, Xte, ytr, yte = small_mnist
    clf = CoLaNET(n_microcolumns=5, n_epochs=1, wta_scope="column", tie_break="random", gate_mode="block",
                  wta_gate=10, random_state=0, free_threshold=0.5, one_factor=-1e-4).fit(Xtr[:300], ytr[:300])
    assert 0.2 < clf.score(Xte, yte) <= 1.0


def test_progress_bar_and_spike_input(small_mnist, capsys):
    Xtr, _, ytr, _ = small_mnist
    spikes = (np.random.default_rng(0).random((12, 60, 30)) < 0.2).astype(np.uint8)
    y = np.arange(60) % 3
    clf = CoLaNET(n_microcolumns=3, n_epochs=1, image_tacts=12, verbose=1, random_state=0).fit_spikes(spikes, y)
    assert clf.predict_spikes(spikes).shape == (60,)
    assert "fit CoLaNET" in capsys.readouterr().err


@pytest.mark.parametrize("cls", [CoLaNET, DigitalCoLaNET])
def test_predict_before_fit_is_not_fitted_error(cls):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        cls().predict(np.ones((2, 4)))


@pytest.mark.parametrize("cls", [CoLaNET, DigitalCoLaNET])
def test_read_only_state_and_numpy_or_generator_params_save(tmp_path, small_mnist, cls):
    Xtr, Xte, ytr, _ = small_mnist
    clf = cls(n_microcolumns=np.int64(2), n_epochs=1, random_state=np.random.default_rng(0)).fit(Xtr[:100], ytr[:100])
    expected = clf.predict(Xte[:20])
    clf.weights_.setflags(write=False)
    clf.theta_.setflags(write=False)
    np.testing.assert_array_equal(clf.predict(Xte[:20]), expected)  # read-only arrays: no numba TypingError
    back = cls.load(clf.save(tmp_path / "sub" / "net.safetensors"))
    assert back.n_microcolumns == 2 and back.random_state is None
    np.testing.assert_array_equal(back.weights_, clf.weights_)


def test_digital_poisson_predictions_do_not_depend_on_the_batch(small_mnist):
    Xtr, Xte, ytr, _ = small_mnist
    clf = DigitalCoLaNET(n_microcolumns=3, n_epochs=1, counts="poisson", random_state=0).fit(Xtr[:200], ytr[:200])
    full = clf.out_counts(Xte[:30])
    np.testing.assert_array_equal(clf.out_counts(Xte[[4, 17]]), full[[4, 17]])
    np.testing.assert_array_equal(clf.out_counts(Xte[:30][::-1]), full[::-1])

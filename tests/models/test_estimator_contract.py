"""Contract of every estimator in spikeforge.models: feature names survive save/load, integer
parameters are checked at fit, badly scaled input and silent networks are reported at fit."""

import warnings

import numpy as np
import pytest

from spikeforge.datasets import load_mnist_subset
from spikeforge.models import (
    CSNN,
    CoLaNET,
    ConvMatrixLearner,
    CorrelationClassifier,
    DiehlCook2015,
    DigitalCoLaNET,
    InputScaleWarning,
    MozafariClassifier,
    SilentNetworkWarning,
    STDPAllLTDClassifier,
)
from spikeforge.models._rate_network import warn_if_silent

pd = pytest.importorskip("pandas")

FAST_AL = dict(neurons_per_class=2, dt_ms=0.5, active_ms=40.0, rest_ms=10.0, input_max=255.0, max_rate_hz=400.0,
               g_max=0.3, no_answer_label=None, n_jobs=1, random_state=0)
FAST_DC = dict(n_neurons=6, dt_ms=0.5, active_ms=40.0, rest_ms=10.0, input_max=255.0, max_rate_hz=400.0,
               min_spikes=0, no_answer_label=None, n_jobs=1, random_state=0)
TINY_MZ = dict(conv1_features=2, conv2_features=4, features_per_class=1, conv1_epochs=1, conv2_epochs=1,
               decision_epochs=1, random_state=0)

#: (estimator, the dataset it gets): "mnist" images [n, 784] with intensities 0-255, "iris" tabular
SAVABLE = [
    (lambda: STDPAllLTDClassifier(**FAST_AL), "mnist"),
    (lambda: DiehlCook2015(**FAST_DC), "mnist"),
    (lambda: CoLaNET(n_microcolumns=2, n_epochs=1, random_state=0), "mnist"),
    (lambda: DigitalCoLaNET(n_microcolumns=2, n_epochs=1, random_state=0), "mnist"),
    (lambda: CorrelationClassifier(n_fields=5, random_state=0), "iris"),
    (lambda: MozafariClassifier(**TINY_MZ), "mnist"),
]


@pytest.fixture(scope="module")
def mnist3():
    X, y = load_mnist_subset()
    m = np.flatnonzero(np.isin(y, (0, 1, 2, 3)))
    m = np.random.default_rng(0).permutation(m)
    return X[m].astype(np.float64), y[m]


def _frame(X: np.ndarray):
    return pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])])


def _data(kind: str, mnist3):
    if kind == "iris":
        from sklearn.datasets import load_iris

        X, y = load_iris(return_X_y=True)
        return _frame(X), y
    X, y = mnist3
    keep = y < 3
    return _frame(X[keep][:30]), y[keep][:30]


# ---------------------------------------------------------------------------------------------- feature names
@pytest.mark.parametrize("make, kind", SAVABLE, ids=lambda v: v if isinstance(v, str) else "")
def test_loaded_model_rejects_reordered_columns(tmp_path, mnist3, make, kind):
    X, y = _data(kind, mnist3)
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no-answer / silent warnings of the tiny networks
        est.fit(X, y)
    assert list(est.feature_names_in_) == list(X.columns) and est.n_features_in_ == X.shape[1]
    back = type(est).load(est.save(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(back.feature_names_in_, est.feature_names_in_)
    assert back.feature_names_in_.dtype == object
    reordered = X[X.columns[::-1]]
    for model in (est, back):
        with pytest.raises(ValueError, match="feature names should match"):
            model.predict(reordered)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(back.predict(X.iloc[:5]), est.predict(X.iloc[:5]))


def test_models_fitted_without_names_load_without_names(tmp_path, mnist3):
    X, y = _data("mnist", mnist3)
    est = DigitalCoLaNET(n_microcolumns=2, n_epochs=1, random_state=0).fit(X.to_numpy(), y)
    back = DigitalCoLaNET.load(est.save(tmp_path / "m.safetensors"))
    assert not hasattr(back, "feature_names_in_")


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_stdp_all_ltd_records_feature_names(mnist3, method):
    X, y = _data("mnist", mnist3)
    est = STDPAllLTDClassifier(**FAST_AL)
    getattr(est, method)(X.iloc[:10], y[:10], **({"classes": [0, 1, 2]} if method == "partial_fit" else {}))
    assert est.n_features_in_ == 784
    assert list(est.feature_names_in_) == list(X.columns)
    with pytest.raises(ValueError, match="different order"):
        est.predict(X.iloc[:3, ::-1])
    est.partial_fit(X.iloc[10:14], y[10:14])  # later batches are checked, not re-recorded
    assert list(est.feature_names_in_) == list(X.columns)
    with pytest.raises(ValueError, match="different order"):
        est.partial_fit(X.iloc[:3, ::-1], y[:3])


# ---------------------------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("Model, base, name, bad", [
    (DiehlCook2015, FAST_DC, "n_neurons", 10.5),
    (DiehlCook2015, FAST_DC, "n_neurons", True),
    (DiehlCook2015, FAST_DC, "n_neurons", 0),
    (DiehlCook2015, FAST_DC, "n_epochs", 1.0),
    (DiehlCook2015, FAST_DC, "min_spikes", -1),
    (DiehlCook2015, FAST_DC, "max_retries", 2.5),
    (DiehlCook2015, FAST_DC, "dt_ms", float("nan")),
    (DiehlCook2015, FAST_DC, "input_max", float("inf")),
    (DiehlCook2015, FAST_DC, "active_ms", 0.0),
    (STDPAllLTDClassifier, FAST_AL, "neurons_per_class", 2.5),
    (STDPAllLTDClassifier, FAST_AL, "neurons_per_class", True),
    (STDPAllLTDClassifier, FAST_AL, "n_epochs", True),
    (STDPAllLTDClassifier, FAST_AL, "max_rate_hz", float("nan")),
    (STDPAllLTDClassifier, FAST_AL, "rest_ms", -1.0),
])
def test_rate_networks_reject_bad_parameters_at_fit(mnist3, Model, base, name, bad):
    X, y = mnist3
    est = Model(**{**base, name: bad})  # sklearn convention: nothing is checked in __init__
    with pytest.raises(ValueError, match=name):
        est.fit(X[:6], y[:6])
    if Model is STDPAllLTDClassifier:
        with pytest.raises(ValueError, match=name):
            Model(**{**base, name: bad}).partial_fit(X[:6], y[:6])


@pytest.mark.parametrize("Model, name, bad", [
    (CoLaNET, "n_microcolumns", True),
    (CoLaNET, "n_epochs", True),
    (CoLaNET, "n_copies", 1.5),
    (CoLaNET, "image_tacts", 10.5),
    (CoLaNET, "silent_tacts", 10.5),
    (CoLaNET, "label_tact", 10.5),
    (CoLaNET, "wta_gate", -1),
    (CoLaNET, "isi_max", 10.5),
    (CoLaNET, "input_scale", float("nan")),
    (CoLaNET, "input_scale", True),
    (DigitalCoLaNET, "presentation_tacts", 2.5),
    (DigitalCoLaNET, "dopamine_latency", True),
    (DigitalCoLaNET, "one_factor_period", 0),
])
def test_colanet_rejects_bad_integers_at_fit(mnist3, Model, name, bad):
    X, y = mnist3
    with pytest.raises(ValueError, match=name):
        Model(**{name: bad}).fit(X[:6], y[:6])


def test_colanet_accepts_numpy_integers_and_optional_label_tact(mnist3):
    X, y = mnist3
    CoLaNET(n_microcolumns=np.int64(2), n_epochs=1, label_tact=None, wta_gate=0, random_state=0).fit(X[:6], y[:6])


@pytest.mark.parametrize("params, msg", [
    (dict(n_fields=10.5), "n_fields"),
    (dict(n_fields=True), "n_fields"),
    (dict(max_reference_spikes=1000.5), "max_reference_spikes"),
    (dict(max_reference_spikes=0), "max_reference_spikes"),
])
def test_correlation_rejects_bad_integers(params, msg):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=msg):
        CorrelationClassifier(**params).fit(X, y)


@pytest.mark.parametrize("params, msg", [
    (dict(n_steps=True), "n_steps"),
    (dict(n_steps=15.5), "n_steps"),
    (dict(conv1_features=2.5), "conv1_features"),
    (dict(features_per_class=True), "features_per_class"),
    (dict(decision_epochs=1.5), "decision_epochs"),
    (dict(inhibition_radii=(1.5, 1)), "inhibition_radii"),
    (dict(adaptation_batch=0), "adaptation_batch"),
])
def test_mozafari_rejects_bad_integers(mnist3, params, msg):
    X, y = mnist3
    with pytest.raises(ValueError, match=msg):
        MozafariClassifier(**{**TINY_MZ, **params}).fit(X[:6], y[:6])


@pytest.mark.parametrize("params, msg", [
    (dict(n_kernels=2.5), "n_kernels"),
    (dict(kernel_size=True), "kernel_size"),
    (dict(stride=0), "stride"),
])
def test_conv_learner_rejects_bad_integers(mnist3, params, msg):
    X, _ = mnist3
    with pytest.raises(ValueError, match=msg):
        ConvMatrixLearner(**params).fit(X[:4])


@pytest.mark.parametrize("params, msg", [(dict(pool=1.5), "pool"), (dict(flush_tacts=2.5), "flush_tacts"),
                                         (dict(flush_tacts="never"), "flush_tacts")])
def test_csnn_rejects_bad_integers(mnist3, params, msg):
    X, y = mnist3
    with pytest.raises(ValueError, match=msg):
        CSNN(**params).fit(X[:4], y[:4])


# ---------------------------------------------------------------------------------------------- input scale
@pytest.mark.parametrize("Model, base", [(DiehlCook2015, FAST_DC), (STDPAllLTDClassifier, FAST_AL)])
def test_unit_scaled_images_warn_at_fit(mnist3, Model, base):
    X, y = mnist3
    with pytest.warns(InputScaleWarning, match=r"maximum is 1\b.*input_max=255.*pass input_max=1\.0"):
        Model(**base).fit(X[:10] / 255.0, y[:10])
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputScaleWarning)
        Model(**{**base, "input_max": 1.0}).fit(X[:10] / 255.0, y[:10])  # told the right range: silent
        Model(**base).fit(X[:10], y[:10])  # 0-255 images with the default: silent
        Model(**{**base, "input_max": 50.0}).fit(X[:10] / 5.1, y[:10])


def test_unit_scaled_images_warn_in_colanet_with_a_numeric_scale(mnist3):
    X, y = mnist3
    with pytest.warns(InputScaleWarning, match=r"input_scale=255.*pass input_scale=1\.0"):
        DigitalCoLaNET(n_microcolumns=2, n_epochs=1, input_scale=255.0, random_state=0).fit(X[:10] / 255.0, y[:10])
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputScaleWarning)
        DigitalCoLaNET(n_microcolumns=2, n_epochs=1, random_state=0).fit(X[:10] / 255.0, y[:10])  # "auto"
        DigitalCoLaNET(n_microcolumns=2, n_epochs=1, input_scale=255.0, random_state=0).fit(X[:10], y[:10])


# ---------------------------------------------------------------------------------------------- silent networks
def test_warn_if_silent_looks_at_the_last_100_presentations():
    active = np.ones((100, 3), dtype=np.int64)
    silent = np.zeros((150, 3), dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SilentNetworkWarning)
        assert warn_if_silent(np.vstack([silent, active]), estimator="Net") == 0.0  # silent early, not at the end
        assert warn_if_silent(silent[:19], estimator="Net") == 1.0  # too few presentations to judge
        half = np.vstack([active[:50], silent[:50]])
        assert warn_if_silent(half, estimator="Net") == 0.5  # not more than half
    with pytest.warns(SilentNetworkWarning, match="60% of the last 100 training presentations.*Reason"):
        warn_if_silent(np.vstack([active, silent[:60], active[:40]]), estimator="Net", detail="Reason.")


def test_stdp_all_ltd_warns_when_silent_and_names_the_3_class_design(mnist3):
    X, y = mnist3
    quiet = {**FAST_AL, "max_rate_hz": 0.5}  # correctly scaled input, but far too weak to drive the network
    with pytest.warns(SilentNetworkWarning, match=r"100% of the last 24 .*designed for and reproduced on 3-class"
                                                  r".*with 4 classes"):
        STDPAllLTDClassifier(**quiet).fit(X[:24], y[:24])
    keep = y < 3
    with pytest.warns(SilentNetworkWarning) as rec:
        STDPAllLTDClassifier(**quiet).fit(X[keep][:24], y[keep][:24])
    assert "3-class" not in str(rec[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SilentNetworkWarning)
        STDPAllLTDClassifier(**quiet).partial_fit(X[:24], y[:24])  # partial_fit does not judge
        STDPAllLTDClassifier(**quiet).fit(X[:12], y[:12])  # too few presentations to judge
        STDPAllLTDClassifier(**FAST_AL).fit(X[keep][:24], y[keep][:24])  # an active network


def test_diehl_cook_warns_when_silent(mnist3):
    X, y = mnist3
    with pytest.warns(SilentNetworkWarning, match=r"DiehlCook2015 is mostly silent after training: 100% of the last 24"):
        with pytest.warns(InputScaleWarning):
            DiehlCook2015(**FAST_DC).fit(X[:24] / 255.0, y[:24])
    with warnings.catch_warnings():
        warnings.simplefilter("error", SilentNetworkWarning)
        DiehlCook2015(**FAST_DC).fit(X[:24], y[:24])


@pytest.mark.parametrize("Model, base, name", [(STDPAllLTDClassifier, FAST_AL, "neurons_per_class"),
                                              (DiehlCook2015, FAST_DC, "n_neurons")])
def test_files_with_integral_float_parameters_still_load(tmp_path, mnist3, Model, base, name):
    # files written before the strict integer checks may hold n_neurons=100.0 (int() accepted it then)
    X, y = _data("mnist", mnist3)
    est = Model(**base).fit(X.to_numpy(), y)
    est.set_params(**{name: float(base[name])})
    back = Model.load(est.save(tmp_path / "m.safetensors"))
    assert getattr(back, name) == base[name] and isinstance(getattr(back, name), int)
    np.testing.assert_array_equal(back.predict(X.to_numpy()), est.predict(X.to_numpy()))

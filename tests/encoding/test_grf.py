"""Gaussian receptive fields and L1 normalisation."""

import math
import warnings

import numpy as np
import pytest
from sklearn.utils.estimator_checks import check_estimator

from spikeforge.encoding import GaussianReceptiveFields, L1Normalizer, grf_sigma, l1_normalize


def test_hand_computed_responses():
    X = np.array([[0.0], [1.0], [0.5]])
    grf = GaussianReceptiveFields(n_fields=3, cutoff=0.09).fit(X)
    # centres 0, 0.5, 1; σ = (2/3)·1/(3 - 2)
    assert grf_sigma(np.array([0.0]), np.array([1.0]), 3)[0] == pytest.approx(2 / 3)
    R = grf.transform(np.array([[0.5], [0.0]]))
    side = math.exp(-(0.5**2) / (2 * (2 / 3) ** 2))  # 0.75484
    np.testing.assert_allclose(R[0], [side, 1.0, side])
    far = math.exp(-(1.0**2) / (2 * (2 / 3) ** 2))  # 0.3247 > cutoff
    np.testing.assert_allclose(R[1], [1.0, side, far])


def test_cutoff_zeroes_small_responses():
    X = np.linspace(0, 1, 11)[:, None]
    grf = GaussianReceptiveFields(n_fields=10, cutoff=0.09).fit(X)
    R = grf.transform(X)
    assert R.shape == (11, 10)
    assert np.all((R == 0) | (R >= 0.09))
    assert np.all(R.max(axis=1) > 0.5)  # every in-range value excites some field


def test_feature_major_order_and_names():
    X = np.array([[0.0, 10.0], [1.0, 20.0]])
    grf = GaussianReceptiveFields(n_fields=4).fit(X)
    R = grf.transform(X)
    # first sample: feature 0 at its minimum -> field 0 of feature 0 (column 0) peaks
    assert R[0, 0] == 1.0 and R[0, 4] == 1.0
    assert R[1, 3] == 1.0 and R[1, 7] == 1.0
    assert list(grf.get_feature_names_out(["a", "b"]))[:2] == ["a_grf0", "a_grf1"]


def test_constant_columns_dropped_or_authors_quirk():
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    grf = GaussianReceptiveFields(n_fields=5).fit(X)
    assert grf.n_output_features_ == 5 and list(grf.keep_) == [True, False]
    quirk = GaussianReceptiveFields(n_fields=5, drop_constant=False).fit(X)
    R = quirk.transform(X)
    np.testing.assert_array_equal(R[:, 5:], 1.0)  # all fields of a constant column are 1


def test_clip_out_of_range():
    X = np.array([[0.0], [1.0]])
    assert GaussianReceptiveFields(n_fields=5, clip=True).fit(X).transform([[10.0]])[0, -1] == 1.0
    assert GaussianReceptiveFields(n_fields=5, clip=False).fit(X).transform([[10.0]]).sum() == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match=">= 3"):
        GaussianReceptiveFields(n_fields=2).fit(np.zeros((3, 1)))
    grf = GaussianReceptiveFields().fit(np.random.default_rng(0).random((5, 3)))
    with pytest.raises(ValueError, match="3 features"):
        grf.transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        grf.transform(np.array([[np.nan, 0, 0]]))


def test_l1_normalize():
    X = np.array([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0]])
    np.testing.assert_allclose(l1_normalize(X), [[0.25, 0.75], [0.0, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(L1Normalizer().fit(X).transform(X).sum(axis=1), [1, 0, 1])


@pytest.mark.parametrize("est", [GaussianReceptiveFields(), L1Normalizer()])
def test_sklearn_transformer_contract(est):
    check_estimator(est)


def test_all_constant_training_data_warns():
    """Regression (review, doubtful): fitting on all-constant columns silently gave 0 features.
    It warns (CorrelationClassifier relies on the empty output to fall back to the class prior)."""
    X = np.array([[1.0, 5.0], [1.0, 5.0]])
    with pytest.warns(UserWarning, match="every column .* is constant"):
        grf = GaussianReceptiveFields(n_fields=4).fit(X)
    assert grf.n_output_features_ == 0 and grf.transform(X).shape == (2, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GaussianReceptiveFields(n_fields=4, drop_constant=False).fit(X)  # the quirk keeps them
        GaussianReceptiveFields(n_fields=4).fit(np.array([[1.0, 5.0], [2.0, 5.0]]))

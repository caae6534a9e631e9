"""CNN baselines of the CSNN comparison: determinism, global RNG untouched, label checks."""

import copy

import numpy as np
import pytest
import torch

from spikeforge.models.cnn_baselines import fit_cnn, make_cnn2, predict_cnn


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.random((32, 1, 28, 28)).astype(np.float32), rng.integers(0, 3, 32)


def test_deterministic_and_global_rng_untouched(data):
    X, y = data
    m0 = make_cnn2((1, 28, 28), 3)
    torch.manual_seed(5)
    expected = torch.rand(1).item()
    torch.manual_seed(5)
    a = fit_cnn(copy.deepcopy(m0), X, y, epochs=1, seed=0)
    assert torch.rand(1).item() == expected
    b = fit_cnn(copy.deepcopy(m0), X, y, epochs=1, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert predict_cnn(a, X[:0]).shape == (0,)


def test_labels_are_checked(data):
    X, y = data
    m = make_cnn2((1, 28, 28), 3)
    with pytest.raises(ValueError, match="out of range"):
        fit_cnn(m, X, y + 1, epochs=1)
    with pytest.raises(ValueError, match="integer class indices"):
        fit_cnn(m, X, y.astype(str), epochs=1)
    with pytest.raises(ValueError, match="shape"):
        fit_cnn(m, X, y[:5], epochs=1)

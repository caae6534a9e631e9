"""Plots: each accepts its documented inputs, writes a PNG, and rejects malformed input clearly."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from spikeforge.viz import (
    plot_confusion,
    plot_curves,
    plot_input_weights,
    plot_raster,
    plot_weight_maps,
)


def _points(fig):
    return sum(len(c.get_offsets()) for ax in fig.axes for c in ax.collections)


def test_raster_dense_pair_and_mapping_draw_the_same_spikes(tmp_path):
    dense = np.zeros((50, 4))
    dense[[3, 10, 40], [0, 2, 3]] = 1
    fig = plot_raster(dense, dt_ms=0.5)
    assert _points(fig) == 3
    off = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(sorted(off[:, 0]), [1.5, 5.0, 20.0])  # steps × dt_ms
    plt.close(fig)
    pair = (np.array([1.5, 5.0, 20.0]), np.array([0, 2, 3]))
    fig = plot_raster(pair, window_ms=(0.0, 10.0))
    assert _points(fig) == 2  # the spike at 20 ms is outside the window
    plt.close(fig)
    recorded = {"X": pair, "E": (np.array([2.0]), np.array([1])), "I": None}
    path = plot_raster(recorded, title="two populations", path=tmp_path / "r.png")
    assert path.stat().st_size > 0


def test_raster_rejects_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        plot_raster((np.array([1.0, 2.0]), np.array([0])))
    with pytest.raises(ValueError, match=r"\[T, N\]"):
        plot_raster(np.zeros(5))
    with pytest.raises(ValueError, match="record_spikes"):
        plot_raster({"E": None})


def test_input_weights_grid_titles_and_errors(tmp_path):
    w = np.random.default_rng(0).random((784, 12))
    fig = plot_input_weights(w, neurons=[0, 5, 7], ncols=2, titles=["a", "b", "c"])
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 3
    np.testing.assert_array_equal(images[1].get_array(), w[:, 5].reshape(28, 28))
    plt.close(fig)
    assert plot_input_weights(w[:64], image_shape=(8, 8), path=tmp_path / "w.png").stat().st_size > 0
    with pytest.raises(ValueError, match="n_inputs = 784"):
        plot_input_weights(w[:100])
    with pytest.raises(ValueError, match="indices"):
        plot_input_weights(w, neurons=[12])
    with pytest.raises(ValueError, match="one label per drawn neuron"):
        plot_input_weights(w, neurons=[0, 1], titles=["a"])


def test_other_plots_write_files(tmp_path):
    rng = np.random.default_rng(1)
    assert plot_weight_maps(rng.random((4, 5, 3)), path=tmp_path / "m.png").stat().st_size > 0
    assert plot_confusion(np.array([[5, 1], [2, 7]]), path=tmp_path / "c.png").stat().st_size > 0
    curves = {"a": ([1, 2, 3], [0.5, 0.6, 0.7], [0.1, 0.1, 0.1]), "b": ([1, 2, 3], [0.4, 0.5, 0.6], None)}
    assert plot_curves(curves, xlabel="x", ylabel="y", path=tmp_path / "k.png").stat().st_size > 0


def test_import_keeps_the_backend_and_pyplot_state(tmp_path):
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('svg'); import spikeforge.viz as v, numpy as np; "
            "import matplotlib.pyplot as plt; assert matplotlib.get_backend() == 'svg', matplotlib.get_backend(); "
            f"v.plot_confusion(np.eye(2), path=r'{tmp_path / 'c.png'}'); v.plot_curves({{'a': ([0, 1], [0, 1], None)}}, "
            "xlabel='x', ylabel='y'); assert plt.get_fignums() == [], plt.get_fignums()")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_signed_weights_and_bad_labels(tmp_path):
    import matplotlib.pyplot as plt

    from spikeforge.viz import plot_confusion, plot_input_weights, plot_weight_maps

    before = plt.get_fignums()  # other tests in this process may have pyplot figures open
    w = -np.random.default_rng(0).random((784, 3))
    assert plot_input_weights(w, path=tmp_path / "w.png").exists()  # all-negative weights used to raise
    assert plot_weight_maps(-np.ones((2, 3, 2)), path=tmp_path / "m.png").exists()
    with pytest.raises(ValueError, match="labels needs 2"):
        plot_confusion(np.eye(2), labels=["a"])
    with pytest.raises(ValueError, match="class_names needs 2"):
        plot_weight_maps(np.ones((2, 3, 2)), class_names=["a"])
    assert plt.get_fignums() == before  # spikeforge.viz never registers figures with pyplot

"""Dataset loaders: bundled data and local files created by the tests."""

import gzip
import pickle
import struct

import numpy as np
import pytest

from spikeforge.datasets import (
    EVENT_DTYPE,
    events_to_frames,
    load_cifar10,
    load_events,
    load_idx,
    load_mnist_idx,
    load_mnist_subset,
    load_tabular,
    mnist_subset_split,
    read_nmnist_bin,
)


def _write_idx(path, arr, code=0x08, gz=False):
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    data = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def test_bundled_tabular_and_mnist_subset():
    X, y = load_tabular("iris")
    assert X.shape == (150, 4) and set(y) == {0, 1, 2}
    with pytest.raises(ValueError, match="bundled"):
        load_tabular("imagenet")
    X, y = load_mnist_subset()
    assert X.shape == (5000, 784) and X.dtype == np.uint8 and X.max() == 255
    assert np.bincount(y).min() >= 450
    Xi, _ = load_mnist_subset(images=True)
    assert Xi.shape == (5000, 28, 28)
    Xtr, Xte, ytr, yte = mnist_subset_split(400, 100, seed=1)
    assert Xtr.shape == (400, 784) and len(yte) == 100 and len(set(ytr)) == 10
    with pytest.raises(ValueError):
        mnist_subset_split(4900, 200)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    ext = ".gz" if gz else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{ext}", images, gz=gz)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{ext}", labels, gz=gz)
    X, y = load_mnist_idx(tmp_path, "train")
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(y, labels)
    floats = rng.random((3, 2)).astype(">f4")
    _write_idx(tmp_path / "f.idx", floats, code=0x0D)
    np.testing.assert_allclose(load_idx(tmp_path / "f.idx"), floats)
    # EMNIST-style prefix and test split naming
    _write_idx(tmp_path / "emnist-letters-test-images-idx3-ubyte", images)
    _write_idx(tmp_path / "emnist-letters-test-labels-idx1-ubyte", labels)
    assert load_mnist_idx(tmp_path, "test", prefix="emnist-letters-")[0].shape == (7, 28, 28)


def test_idx_errors(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="not an IDX"):
        load_idx(tmp_path / "bad")
    _write_idx(tmp_path / "short", np.zeros((4, 2), np.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])
    with pytest.raises(ValueError, match="promises"):
        load_idx(tmp_path / "short")
    with pytest.raises(FileNotFoundError):
        load_mnist_idx(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        load_mnist_idx(tmp_path, "valid")


def test_cifar10_from_tiny_pickles(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in (("data_batch_1", 4), ("data_batch_2", 3), ("test_batch", 2)):
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
        with open(tmp_path / name, "wb") as fh:
            pickle.dump(batch, fh)
    X, y = load_cifar10(tmp_path, "train")
    assert X.shape == (7, 3, 32, 32) and y.shape == (7,) and y.dtype == np.int64
    assert load_cifar10(tmp_path, "test")[0].shape == (2, 3, 32, 32)
    with pytest.raises(FileNotFoundError):
        load_cifar10(tmp_path / "nowhere")


def test_events_nmnist_bin_and_npy(tmp_path):
    # two events: (x=3, y=4, p=1, t=5) and (x=10, y=2, p=0, t=70000)
    def enc(x, y, p, t):
        return bytes([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF])

    (tmp_path / "a.bin").write_bytes(enc(3, 4, 1, 5) + enc(10, 2, 0, 70000))
    ev = read_nmnist_bin(tmp_path / "a.bin")
    assert ev["x"].tolist() == [3, 10] and ev["y"].tolist() == [4, 2]
    assert ev["p"].tolist() == [1, 0] and ev["t"].tolist() == [5, 70000]
    arr = np.zeros(3, dtype=EVENT_DTYPE)
    arr["x"], arr["y"], arr["t"], arr["p"] = [0, 1, 2], [0, 0, 1], [0, 50, 99], [1, 0, 1]
    np.save(tmp_path / "e.npy", arr)
    ev2 = load_events(tmp_path / "e.npy")
    frames = events_to_frames(ev2, sensor_size=(3, 2), n_time_bins=2)
    assert frames.shape == (2, 2, 2, 3) and frames.sum() == 3
    assert frames[0, 1, 0, 0] == 1 and frames[1, 1, 1, 2] == 1
    np.save(tmp_path / "bad.npy", np.zeros(3))
    with pytest.raises(ValueError, match="fields"):
        load_events(tmp_path / "bad.npy")
    with pytest.raises(ValueError, match="outside"):
        events_to_frames(ev2, sensor_size=(2, 2), n_time_bins=2)

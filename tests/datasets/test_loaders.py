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
    sizes = {"data_batch_1": 4, "data_batch_2": 3, "data_batch_3": 1, "data_batch_4": 1, "data_batch_5": 1, "test_batch": 2}
    for name, n in sizes.items():
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
        with open(tmp_path / name, "wb") as fh:
            pickle.dump(batch, fh)
    X, y = load_cifar10(tmp_path, "train")
    assert X.shape == (10, 3, 32, 32) and y.shape == (10,) and y.dtype == np.int64
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


# ---------------------------------------------------------------------------- regressions (review)
def _write_cifar_batches(directory, names=None, n=2, data=None, labels=None):
    directory.mkdir(parents=True, exist_ok=True)
    names = names or [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    rng = np.random.default_rng(0)
    for name in names:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8) if data is None else data,
                 b"labels": list(rng.integers(0, 10, n)) if labels is None else labels}
        with open(directory / name, "wb") as fh:
            pickle.dump(batch, fh)
    return directory


def test_cifar10_missing_training_batch_is_an_error(tmp_path):
    # a missing data_batch_k was silently skipped (training on 4/5 of CIFAR-10 without notice)
    _write_cifar_batches(tmp_path, ["data_batch_1", "data_batch_2", "data_batch_4", "data_batch_5", "test_batch"])
    with pytest.raises(FileNotFoundError, match=r"data_batch_3") as info:
        load_cifar10(tmp_path, "train")
    assert "data_batch_1" not in str(info.value) and str(tmp_path) in str(info.value)
    assert load_cifar10(tmp_path, "test")[0].shape == (2, 3, 32, 32)
    with pytest.raises(FileNotFoundError, match="test_batch"):
        load_cifar10(_write_cifar_batches(tmp_path / "b", ["data_batch_1"]), "test")
    with pytest.raises(NotADirectoryError):
        load_cifar10(tmp_path / "data_batch_1")


@pytest.mark.parametrize(
    "data, labels, match",
    [
        (np.zeros((3, 3072), np.uint8), [0, 1], "3 images but 2 labels"),  # count mismatch
        (np.zeros((2, 3000), np.uint8), [0, 1], r"\[N, 3072\]"),  # wrong row width
        (np.zeros(3072 * 2, np.uint8), [0, 1], r"\[N, 3072\]"),  # flat, not [N, 3072]
        (np.full((2, 3072), 0.5, np.float32), [0, 1], "float32"),  # float pixels would truncate to 0
        (np.full((2, 3072), 300, np.int64), [0, 1], "0-255"),  # would wrap in uint8
        (np.zeros((2, 3072), np.uint8), [0.5, 1.5], "labels"),  # float labels would truncate
    ],
)
def test_cifar10_malformed_batches(tmp_path, data, labels, match):
    _write_cifar_batches(tmp_path, ["test_batch"], data=data, labels=labels)
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path, "test")
    assert "test_batch" in str(info.value)


def test_cifar10_unreadable_pickle(tmp_path):
    (tmp_path / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="test_batch"):
        load_cifar10(tmp_path, "test")
    with open(tmp_path / "test_batch", "wb") as fh:
        pickle.dump([1, 2, 3], fh)
    with pytest.raises(ValueError, match="not a CIFAR-10 batch"):
        load_cifar10(tmp_path, "test")


def test_cifar10_integer_pixels_in_range_are_accepted(tmp_path):
    data = np.arange(2 * 3072).reshape(2, 3072) % 256  # int64, e.g. from a list of lists
    _write_cifar_batches(tmp_path, ["test_batch"], data=data, labels=[3, 4])
    X, y = load_cifar10(tmp_path, "test")
    assert X.dtype == np.uint8 and np.array_equal(X.reshape(2, -1), data) and y.tolist() == [3, 4]


def test_loaders_expand_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    images = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    _write_idx(tmp_path / "train-images-idx3-ubyte", images)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([1, 2], np.uint8))
    np.testing.assert_array_equal(load_idx("~/train-images-idx3-ubyte"), images)
    assert load_mnist_idx("~", "train")[1].tolist() == [1, 2]
    _write_cifar_batches(tmp_path / "cifar")
    assert load_cifar10("~/cifar", "train")[0].shape == (10, 3, 32, 32)
    (tmp_path / "a.bin").write_bytes(bytes([3, 4, 0x80, 0, 5]))
    assert read_nmnist_bin("~/a.bin")["t"].tolist() == [5]
    assert load_events("~/a.bin")["p"].tolist() == [1]
    ev = np.zeros(2, dtype=EVENT_DTYPE)
    np.save(tmp_path / "e.npy", ev)
    assert load_events("~/e.npy").shape == (2,)


def test_idx_gzip_detected_by_content_not_name(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    _write_idx(tmp_path / "compressed-but-no-suffix", arr, gz=True)
    np.testing.assert_array_equal(load_idx(tmp_path / "compressed-but-no-suffix"), arr)
    _write_idx(tmp_path / "plain.gz", arr, gz=False)  # a .gz name on an uncompressed file
    np.testing.assert_array_equal(load_idx(tmp_path / "plain.gz"), arr)


def test_idx_truncated_files_give_clear_errors(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "full", arr)
    raw = (tmp_path / "full").read_bytes()
    (tmp_path / "short-header").write_bytes(raw[:9])  # magic + 1 of the 3 dimension sizes, cut
    with pytest.raises(ValueError, match="truncated IDX header") as info:
        load_idx(tmp_path / "short-header")
    assert "short-header" in str(info.value)
    (tmp_path / "long").write_bytes(raw + b"\x00")  # extra bytes are not silently accepted
    with pytest.raises(ValueError, match="promises 24 values"):
        load_idx(tmp_path / "long")
    wide = np.arange(6, dtype=">i4").reshape(2, 3)
    _write_idx(tmp_path / "wide", wide, code=0x0C)
    (tmp_path / "wide").write_bytes((tmp_path / "wide").read_bytes()[:-2])  # not a whole number of int32
    with pytest.raises(ValueError, match="promises 6 values of 4 byte"):
        load_idx(tmp_path / "wide")
    gz = gzip.compress(raw)
    (tmp_path / "cut.gz").write_bytes(gz[: len(gz) // 2])  # gzip stream cut mid-way: EOFError before
    with pytest.raises(ValueError, match="gzip") as info:
        load_idx(tmp_path / "cut.gz")
    assert "cut.gz" in str(info.value)
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"\xff" * 30)  # gzip magic, garbage after
    with pytest.raises(ValueError, match="bad.gz"):
        load_idx(tmp_path / "bad.gz")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_idx(tmp_path / "nowhere")


def test_mnist_idx_pairs_gz_images_with_plain_labels(tmp_path):
    images = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, gz=True)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([7, 8], np.uint8))
    X, y = load_mnist_idx(tmp_path, "train")
    np.testing.assert_array_equal(X, images)
    assert y.tolist() == [7, 8] and y.dtype == np.int64
    # images without labels: the missing file is named
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist_idx(tmp_path, "test")


@pytest.mark.parametrize(
    "images, labels, match",
    [
        (np.zeros((2, 9), np.uint8), np.zeros(2, np.uint8), "rank 3"),
        (np.zeros((2, 3, 3), np.uint8), np.zeros((2, 1), np.uint8), "rank 1"),
        (np.zeros((2, 3, 3), np.uint8), np.zeros(3, np.uint8), "2 images but .* 3 labels"),
        (np.full((2, 3, 3), 0.5, ">f4"), np.zeros(2, np.uint8), "float32"),  # was silently kept as float
        (np.zeros((2, 3, 3), np.uint8), np.full(2, 1.5, ">f4"), "labels have dtype"),  # was truncated
    ],
)
def test_mnist_idx_shape_and_dtype_checks(tmp_path, images, labels, match):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">f4"): 0x0D}
    _write_idx(tmp_path / "train-images-idx3-ubyte", images, code=codes[images.dtype])
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels, code=codes[labels.dtype])
    with pytest.raises(ValueError, match=match):
        load_mnist_idx(tmp_path, "train")


def _events(x, y, t, p, dtype=None):
    dtype = dtype or [("x", "<i4"), ("y", "<i4"), ("t", "<f8"), ("p", "<i1")]
    arr = np.zeros(len(x), dtype=dtype)
    arr["x"], arr["y"], arr["t"], arr["p"] = x, y, t, p
    return arr


def test_load_events_refuses_lossy_casts(tmp_path):
    np.save(tmp_path / "frac.npy", _events([0, 1], [0, 0], [0.0, 1.5], [1, 0]))
    with pytest.raises(ValueError, match="'t' holds non-integer") as info:
        load_events(tmp_path / "frac.npy")  # was silently truncated to 1
    assert "frac.npy" in str(info.value)
    np.save(tmp_path / "whole.npy", _events([0, 1], [0, 0], [0.0, 2.0], [1, 0]))
    assert load_events(tmp_path / "whole.npy")["t"].tolist() == [0, 2]  # lossless: accepted
    np.save(tmp_path / "wide.npy", _events([0, 40000], [0, 0], [0, 1], [1, 0]))
    with pytest.raises(ValueError, match="'x' ranges from 0 to 40000"):
        load_events(tmp_path / "wide.npy")  # wrapped to -25536 in int16 before


def test_load_events_npz_bin_case_and_shapes(tmp_path):
    ev = _events([0, 1, 2], [0, 1, 0], [0, 5, 9], [1, 0, 1], dtype=EVENT_DTYPE)
    np.savez(tmp_path / "one.npz", events=ev)
    np.testing.assert_array_equal(load_events(tmp_path / "one.npz"), ev)
    np.savez_compressed(tmp_path / "fields.npz", x=ev["x"], y=ev["y"], t=ev["t"], p=ev["p"].astype(bool))
    np.testing.assert_array_equal(load_events(tmp_path / "fields.npz"), ev)
    np.savez(tmp_path / "two.npz", a=ev, b=ev)
    with pytest.raises(ValueError, match=r"\['a', 'b'\]"):
        load_events(tmp_path / "two.npz")
    np.savez(tmp_path / "ragged.npz", x=ev["x"], y=ev["y"][:2], t=ev["t"], p=ev["p"])
    with pytest.raises(ValueError, match="one length"):
        load_events(tmp_path / "ragged.npz")
    (tmp_path / "A.BIN").write_bytes(bytes([3, 4, 0x80, 0, 5]))  # upper-case suffix is still N-MNIST
    assert load_events(tmp_path / "A.BIN")["x"].tolist() == [3]
    np.save(tmp_path / "scalar.npy", ev[0])  # a 0-d structured array
    with pytest.raises(ValueError, match="1-d"):
        load_events(tmp_path / "scalar.npy")
    (tmp_path / "junk.npy").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.npy"):
        load_events(tmp_path / "junk.npy")
    with pytest.raises(FileNotFoundError, match="nowhere.npy"):
        load_events(tmp_path / "nowhere.npy")


@pytest.mark.parametrize("duration", [0, -10, 0.5])
def test_events_to_frames_rejects_non_positive_duration(duration):
    ev = _events([0, 1], [0, 0], [0, 10], [1, 0], dtype=EVENT_DTYPE)
    with pytest.raises(ValueError, match="duration_us"):
        events_to_frames(ev, sensor_size=(2, 1), n_time_bins=2, duration_us=duration)
    assert events_to_frames(ev, sensor_size=(2, 1), n_time_bins=2, duration_us=5).sum() == 1


def _frames_by_loop(ev, sensor_size, bins):
    """Readable reference: one event at a time into frame ``bins[k]``."""
    W, H = sensor_size
    out = np.zeros((max(bins, default=-1) + 1, 2, H, W), dtype=np.float32)
    for k, b in enumerate(bins):
        out[b, int(ev["p"][k] > 0), ev["y"][k], ev["x"][k]] += 1
    return out


def test_events_to_frames_by_time_window_and_by_event_count():
    rng = np.random.default_rng(0)
    n = 200
    ev = _events(rng.integers(0, 5, n), rng.integers(0, 4, n), np.sort(rng.integers(1000, 11000, n)),
                 rng.integers(0, 2, n), dtype=EVENT_DTYPE)
    t = ev["t"] - ev["t"].min()
    # windows of 3 000 µs: ceil(span / 3000) frames, event k in frame t_k // 3000
    frames = events_to_frames(ev, sensor_size=(5, 4), time_window_us=3000)
    span = int(t.max()) + 1
    assert frames.shape == (-(-span // 3000), 2, 4, 5)
    np.testing.assert_array_equal(frames, _frames_by_loop(ev, (5, 4), list(t // 3000)))
    # with a duration: later events dropped, the window count follows the duration
    frames = events_to_frames(ev, sensor_size=(5, 4), time_window_us=2500, duration_us=5000)
    assert frames.shape[0] == 2 and frames.sum() == (t < 5000).sum()
    # 64 events per frame, in time order (shuffled input), the last frame holds the remainder
    shuffled = ev[rng.permutation(n)]
    frames = events_to_frames(shuffled, sensor_size=(5, 4), event_count=64)
    assert frames.shape[0] == 4 and frames.reshape(4, -1).sum(1).tolist() == [64, 64, 64, 8]
    np.testing.assert_array_equal(frames, _frames_by_loop(ev, (5, 4), [k // 64 for k in range(n)]))
    # equal bins unchanged by the new code (the loop reference again)
    frames = events_to_frames(ev, sensor_size=(5, 4), n_time_bins=7)
    np.testing.assert_array_equal(frames, _frames_by_loop(ev, (5, 4), list(np.minimum(t * 7 // span, 6))))
    # empty input
    empty = np.zeros(0, dtype=EVENT_DTYPE)
    assert events_to_frames(empty, (5, 4), n_time_bins=3).shape == (3, 2, 4, 5)
    assert events_to_frames(empty, (5, 4), event_count=3).shape == (0, 2, 4, 5)
    # a fixed window gives a fixed frame count, with or without events (review: it gave 0 frames)
    assert events_to_frames(empty, (5, 4), time_window_us=100, duration_us=1000).shape == (10, 2, 4, 5)
    assert events_to_frames(ev, (5, 4), time_window_us=100, duration_us=1000).shape == (10, 2, 4, 5)
    assert events_to_frames(empty, (5, 4), time_window_us=100).shape == (0, 2, 4, 5)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one of"),
    ({"n_time_bins": 2, "event_count": 3}, "exactly one of"),
    ({"event_count": 0}, "event_count must be an integer >= 1"),
    ({"event_count": 2.5}, "event_count must be an integer >= 1"),
    ({"n_time_bins": True}, "n_time_bins must be an integer >= 1"),
    ({"time_window_us": 0}, "time_window_us must be a positive"),
    ({"time_window_us": float("nan")}, "time_window_us must be a positive"),
    ({"event_count": 2, "duration_us": 10}, "duration_us applies to time bins"),
])
def test_events_to_frames_bad_slicing_is_a_clear_error(kwargs, message):
    ev = _events([0, 1], [0, 0], [0, 10], [1, 0], dtype=EVENT_DTYPE)
    with pytest.raises(ValueError, match=message):
        events_to_frames(ev, sensor_size=(2, 1), **kwargs)


def test_mnist_idx_missing_prefix_names_the_sets_the_folder_holds(tmp_path):
    # review: an EMNIST folder gave only "no train-images-idx3-ubyte[.gz] with matching labels"
    from spikeforge.datasets.files import _idx_prefixes

    images, labels = np.zeros((3, 4, 4), np.uint8), np.array([0, 1, 2], np.uint8)
    for prefix, gz in (("emnist-digits-", True), ("emnist-letters-", False)):
        ext = ".gz" if gz else ""
        _write_idx(tmp_path / f"{prefix}train-images-idx3-ubyte{ext}", images, gz=gz)
        _write_idx(tmp_path / f"{prefix}train-labels-idx1-ubyte{ext}", labels, gz=gz)
    (tmp_path / "notes-train-images-idx3-ubyte").mkdir()  # a folder is no training set
    assert _idx_prefixes(tmp_path) == ["emnist-digits-", "emnist-letters-"]
    with pytest.raises(FileNotFoundError, match="no train-images-idx3-ubyte.*prefix 'emnist-digits-', 'emnist-letters-'"):
        load_mnist_idx(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="prefix 'emnist-letters-'\\)$"):
        load_mnist_idx(tmp_path, "test", prefix="emnist-digits-")
    assert load_mnist_idx(tmp_path, "train", prefix="emnist-digits-")[1].tolist() == [0, 1, 2]
    _write_idx(tmp_path / "train-images-idx3-ubyte", images)
    assert _idx_prefixes(tmp_path)[0] == ""


def test_events_to_frames_refuses_what_it_would_misread():
    # review 2026-12-07 (stop 21): float timestamps in seconds were truncated (every event in bin 0), Tonic's
    # (W, H, P) sensor_size failed to unpack, and a plain [N, 4] array gave a NumPy IndexError
    tonic_dtype = np.dtype([("x", "<i8"), ("y", "<i8"), ("t", "<f8"), ("p", "<i8")])
    ev = _events([0, 1, 2], [0, 1, 0], [0.0, 0.0005, 0.001], [1, 0, 1], dtype=tonic_dtype)
    with pytest.raises(ValueError, match=r"non-integer values.*\(t \* 1e6\)\.round\(\)"):
        events_to_frames(ev, sensor_size=(3, 2), n_time_bins=2)
    ev["t"] = [0.0, 500.0, 1000.0]  # integral floats (µs) are fine
    frames = events_to_frames(ev, sensor_size=(3, 2, 2), n_time_bins=2)  # Tonic's (W, H, P)
    assert frames.shape == (2, 2, 2, 3) and frames.sum() == 3
    with pytest.raises(ValueError, match="structured array"):
        events_to_frames(np.zeros((5, 4)), sensor_size=(3, 2), n_time_bins=2)
    for bad in ((3,), (3, 2, 4), (3.0, 2), (0, 2), "32"):
        with pytest.raises(ValueError, match="sensor_size"):
            events_to_frames(ev, sensor_size=bad, n_time_bins=2)

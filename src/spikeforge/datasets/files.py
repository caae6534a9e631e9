"""Loaders for local files a user points to: MNIST/EMNIST (IDX), CIFAR-10 (python pickles),
and event-camera data (Tonic-style structured arrays, N-MNIST binaries). Nothing is downloaded."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

__all__ = [
    "EVENT_DTYPE",
    "events_to_frames",
    "load_cifar10",
    "load_events",
    "load_idx",
    "load_mnist_idx",
    "read_nmnist_bin",
]

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def load_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (the MNIST/EMNIST format), optionally gzip-compressed.

    Returns
    -------
    ndarray with the file's shape, e.g. [60000, 28, 28] uint8 images or [60000] labels.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"IDX file not found: {path}")
    with _open(path) as fh:
        header = fh.read(4)
        if len(header) < 4 or header[0] != 0 or header[1] != 0 or header[2] not in _IDX_DTYPES:
            raise ValueError(f"{path} is not an IDX file (bad magic number {header!r})")
        ndim = header[3]
        dims = np.frombuffer(fh.read(4 * ndim), dtype=">u4").astype(np.int64)
        dtype = np.dtype(_IDX_DTYPES[header[2]])
        data = np.frombuffer(fh.read(), dtype=dtype)
    expected = int(np.prod(dims))
    if data.size != expected:
        raise ValueError(f"{path}: header promises {expected} values, file holds {data.size}")
    return data.reshape(tuple(dims)).astype(dtype.newbyteorder("="))


def load_mnist_idx(directory: str | Path, split: str = "train", *, prefix: str = "") -> tuple[np.ndarray, np.ndarray]:
    """MNIST-style ``(images [N, 28, 28] uint8, labels [N] int64)`` from a local directory.

    Looks for ``{prefix}{train,t10k,test}-images-idx3-ubyte[.gz]`` and the matching labels.
    For EMNIST pass ``prefix="emnist-letters-"`` (EMNIST images are stored transposed:
    use ``images.transpose(0, 2, 1)`` to view them upright).
    """
    directory = Path(directory)
    stems = {"train": ["train"], "test": ["t10k", "test"]}.get(split)
    if stems is None:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    for stem in stems:
        for ext in ("", ".gz"):
            img = directory / f"{prefix}{stem}-images-idx3-ubyte{ext}"
            lab = directory / f"{prefix}{stem}-labels-idx1-ubyte{ext}"
            if img.exists() and lab.exists():
                images, labels = load_idx(img), load_idx(lab)
                if images.shape[0] != labels.shape[0]:
                    raise ValueError(f"{img.name} has {images.shape[0]} images but {lab.name} {labels.shape[0]} labels")
                return images, labels.astype(np.int64)
    raise FileNotFoundError(
        f"no {prefix}{stems[0]}-images-idx3-ubyte[.gz] with matching labels in {directory}"
    )


def load_cifar10(directory: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 from the official "python version" batches in a local directory.

    Parameters
    ----------
    directory : path
        Folder holding ``data_batch_1`` … ``data_batch_5`` and ``test_batch`` (e.g. the
        extracted ``cifar-10-batches-py``). Only open files you trust: the format is pickle.
    split : {"train", "test"}

    Returns
    -------
    images : ndarray of uint8, shape [N, 3, 32, 32]
    labels : ndarray of int64, shape [N]
    """
    directory = Path(directory)
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    found = [directory / n for n in names if (directory / n).exists()]
    if not found:
        raise FileNotFoundError(f"no CIFAR-10 batches ({names[0]} …) in {directory}")
    xs, ys = [], []
    for path in found:
        with open(path, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")  # noqa: S301 - the dataset's own format
        data = batch.get(b"data", batch.get("data"))
        labels = batch.get(b"labels", batch.get("labels"))
        if data is None or labels is None:
            raise ValueError(f"{path} is not a CIFAR-10 batch (no data/labels keys)")
        xs.append(np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(labels, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


#: Event record layout used by Tonic: x, y (pixels), t (µs), p (polarity 0/1).
EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])


def read_nmnist_bin(path: str | Path) -> np.ndarray:
    """Read an N-MNIST / N-Caltech101 ``.bin`` file (40 bits per event).

    Byte layout per event: x (8 bits), y (8 bits), polarity (1 bit) + timestamp (23 bits, µs).

    Returns
    -------
    structured ndarray of :data:`EVENT_DTYPE`, sorted by time.
    """
    raw = np.fromfile(Path(path), dtype=np.uint8)
    if raw.size % 5:
        raise ValueError(f"{path}: size {raw.size} is not a multiple of 5 bytes")
    raw = raw.reshape(-1, 5).astype(np.int64)
    ev = np.empty(raw.shape[0], dtype=EVENT_DTYPE)
    ev["x"] = raw[:, 0]
    ev["y"] = raw[:, 1]
    ev["p"] = raw[:, 2] >> 7
    ev["t"] = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    return ev


def load_events(path: str | Path) -> np.ndarray:
    """Events from a Tonic-style ``.npy`` structured array (fields x, y, t, p) or an N-MNIST ``.bin``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"event file not found: {path}")
    if path.suffix == ".bin":
        return read_nmnist_bin(path)
    arr = np.load(path, allow_pickle=False)
    missing = {"x", "y", "t", "p"} - set(arr.dtype.names or ())
    if missing:
        raise ValueError(f"{path}: event array lacks fields {sorted(missing)} (needs x, y, t, p)")
    out = np.empty(arr.shape[0], dtype=EVENT_DTYPE)
    for f in ("x", "y", "t", "p"):
        out[f] = arr[f]
    return out


def events_to_frames(
    events: np.ndarray, sensor_size: tuple[int, int], n_time_bins: int, *, duration_us: int | None = None
) -> np.ndarray:
    """Bin events into time-first count frames ``[T, 2, H, W]`` (polarity channels).

    Parameters
    ----------
    events : structured ndarray with fields x, y, t (µs), p
    sensor_size : (width, height) in pixels
    n_time_bins : int
        Number of equal time bins ``T``.
    duration_us : int, optional
        Window length; default is the span of the events.
    """
    W, H = sensor_size
    if n_time_bins < 1:
        raise ValueError("n_time_bins must be >= 1")
    frames = np.zeros((n_time_bins, 2, H, W), dtype=np.float32)
    if events.size == 0:
        return frames
    if events["x"].max() >= W or events["y"].max() >= H or events["x"].min() < 0 or events["y"].min() < 0:
        raise ValueError(f"events fall outside sensor_size {sensor_size}")
    t = events["t"].astype(np.int64) - int(events["t"].min())
    span = int(duration_us) if duration_us is not None else int(t.max()) + 1
    b = np.minimum(t * n_time_bins // max(span, 1), n_time_bins - 1)
    keep = t < span
    p = (events["p"] > 0).astype(np.int64)
    np.add.at(frames, (b[keep], p[keep], events["y"][keep].astype(np.int64), events["x"][keep].astype(np.int64)), 1.0)
    return frames

"""Loaders for local files a user points to: MNIST/EMNIST (IDX), CIFAR-10 (python pickles),
and event-camera data (Tonic-style structured arrays, N-MNIST binaries). Nothing is downloaded.

Paths may start with ``~`` (expanded to the home directory). Malformed files raise
:class:`ValueError` naming the file; missing ones :class:`FileNotFoundError`.
"""

from __future__ import annotations

import gzip
import math
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import IO

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
_GZIP_MAGIC = b"\x1f\x8b"
_CIFAR_ROW = 3 * 32 * 32


def _existing_file(path: str | Path, what: str) -> Path:
    """``path`` with ``~`` expanded; FileNotFoundError / IsADirectoryError if it is not a file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a directory, not a file")
    return path


def _existing_dir(path: str | Path, what: str) -> Path:
    """``path`` with ``~`` expanded; FileNotFoundError / NotADirectoryError if it is not a directory."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    if not path.is_dir():
        raise NotADirectoryError(f"{what} {path} is a file, not a directory")
    return path


def _open(path: Path) -> IO[bytes]:
    """Open for reading, decompressing when the file starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as fh:
        gz = fh.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _as_pixels(a: np.ndarray, path: Path, what: str) -> np.ndarray:
    """``a`` as uint8 when that is lossless: integer values 0..255; float or out-of-range data is an error."""
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind not in "iu":
        raise ValueError(
            f"{path}: {what} have dtype {a.dtype}; expected integer pixel values 0-255 (uint8). Float data "
            "(e.g. normalised to [0, 1]) is not converted, as a uint8 cast would destroy it: convert it "
            "yourself, e.g. (x * 255).round().astype(np.uint8)"
        )
    if a.size and (int(a.min()) < 0 or int(a.max()) > 255):
        raise ValueError(f"{path}: {what} range from {int(a.min())} to {int(a.max())}; expected 0-255 (uint8)")
    return a.astype(np.uint8)


def _as_labels(a: np.ndarray, path: Path) -> np.ndarray:
    """``a`` as int64 class labels; non-integer labels are an error (no silent truncation)."""
    if a.dtype.kind not in "iub" and a.size:
        raise ValueError(f"{path}: labels have dtype {a.dtype}; expected integer class labels")
    if a.ndim != 1:
        raise ValueError(f"{path}: labels must be 1-d; got shape {a.shape}")
    return a.astype(np.int64)


def load_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (the MNIST/EMNIST format), optionally gzip-compressed.

    Compression is detected from the file's first bytes (the gzip magic number), not its name.
    The values keep the dtype the file declares (uint8, int8, int16, int32, float32 or float64, in
    native byte order): float data stays float.

    Parameters
    ----------
    path : path
        The file; ``~`` is expanded.

    Returns
    -------
    ndarray with the file's shape, e.g. [60000, 28, 28] uint8 images or [60000] labels.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    IsADirectoryError
        ``path`` is a directory.
    ValueError
        Not an IDX file (bad magic number), a truncated header or data, extra data after the values,
        or corrupt gzip compression; the message names the file.
    """
    path = _existing_file(path, "IDX file")
    try:
        with _open(path) as fh:
            header = fh.read(4)
            if len(header) < 4 or header[0] != 0 or header[1] != 0 or header[2] not in _IDX_DTYPES:
                raise ValueError(f"{path} is not an IDX file (bad magic number {header!r})")
            ndim = header[3]
            raw_dims = fh.read(4 * ndim)
            if len(raw_dims) != 4 * ndim:
                raise ValueError(
                    f"{path}: truncated IDX header: {ndim} dimension sizes need {4 * ndim} bytes, "
                    f"the file holds {len(raw_dims)}"
                )
            body = fh.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({e})") from e
    dims = tuple(int(d) for d in np.frombuffer(raw_dims, dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[header[2]])
    expected = int(np.prod(dims, dtype=object)) if dims else 1
    if len(body) != expected * dtype.itemsize:
        raise ValueError(
            f"{path}: header promises {expected} values of {dtype.itemsize} byte(s) (shape {dims}), "
            f"i.e. {expected * dtype.itemsize} bytes; the file holds {len(body)} bytes"
        )
    data = np.frombuffer(body, dtype=dtype)
    return data.reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, name: str) -> Path | None:
    """``directory/name`` or ``directory/name.gz``, whichever exists (plain first)."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


_TRAIN_IMAGES = "train-images-idx3-ubyte"


def _idx_prefixes(directory: str | Path) -> list[str]:
    """The file-name prefixes of the IDX training sets in ``directory``, sorted: ``""`` for MNIST's
    ``train-images-idx3-ubyte[.gz]``, ``"emnist-digits-"`` for ``emnist-digits-train-images-idx3-ubyte``...
    (what :func:`load_mnist_idx` takes as ``prefix``; labels are not checked here)."""
    directory = _existing_dir(directory, "MNIST directory")
    found = set()
    for path in directory.iterdir():
        name = path.name[:-3] if path.name.endswith(".gz") else path.name
        if name.endswith(_TRAIN_IMAGES) and path.is_file():
            found.add(name[: -len(_TRAIN_IMAGES)])
    return sorted(found)


def load_mnist_idx(directory: str | Path, split: str = "train", *, prefix: str = "") -> tuple[np.ndarray, np.ndarray]:
    """MNIST-style ``(images [N, H, W] uint8, labels [N] int64)`` from a local directory.

    Looks for ``{prefix}{train,t10k,test}-images-idx3-ubyte[.gz]`` and the matching labels; each file
    may be gzip-compressed or not independently of the other. For EMNIST pass
    ``prefix="emnist-letters-"`` (EMNIST images are stored transposed: use
    ``images.transpose(0, 2, 1)`` to view them upright).

    Parameters
    ----------
    directory : path
        The folder; ``~`` is expanded.
    split : {"train", "test"}
    prefix : str
        Prefix of the file names.

    Returns
    -------
    images : ndarray of uint8, shape [N, H, W]
    labels : ndarray of int64, shape [N]

    Raises
    ------
    FileNotFoundError
        No such directory, no image file of the split there, or the images without their labels
        (or the reverse).
    ValueError
        Unknown ``split``; a malformed IDX file (see :func:`load_idx`); images that are not rank 3 or
        not integers 0-255 (float IDX data: read it with :func:`load_idx`); labels that are not rank 1
        or not integers; image and label counts that differ.
    """
    stems = {"train": ["train"], "test": ["t10k", "test"]}.get(split)
    if stems is None:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    directory = _existing_dir(directory, "MNIST directory")
    for stem in stems:
        img_name, lab_name = f"{prefix}{stem}-images-idx3-ubyte", f"{prefix}{stem}-labels-idx1-ubyte"
        img, lab = _find_idx(directory, img_name), _find_idx(directory, lab_name)
        if img is None and lab is None:
            continue
        if img is None or lab is None:
            have, missing = (img, lab_name) if lab is None else (lab, img_name)
            raise FileNotFoundError(f"found {have} but not {missing}[.gz] in {directory}")
        images, labels = load_idx(img), load_idx(lab)
        if images.ndim != 3:
            raise ValueError(f"{img}: images must be rank 3 [N, H, W]; got shape {images.shape}")
        if labels.ndim != 1:
            raise ValueError(f"{lab}: labels must be rank 1 [N]; got shape {labels.shape}")
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{img} has {images.shape[0]} images but {lab} has {labels.shape[0]} labels")
        return _as_pixels(images, img, "images"), _as_labels(labels, lab)
    others = [p for p in _idx_prefixes(directory) if p != prefix]
    hint = f" (it holds the training sets of prefix {', '.join(map(repr, others))})" if others else ""
    raise FileNotFoundError(f"no {prefix}{stems[0]}-images-idx3-ubyte[.gz] with matching labels in {directory}{hint}")


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 pickle batch as ``(images [n, 3, 32, 32] uint8, labels [n] int64)``, checked."""
    try:
        with open(path, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")  # noqa: S301 - the dataset's own format
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError) as e:
        raise ValueError(f"{path} is not a readable CIFAR-10 pickle batch ({type(e).__name__}: {e})") from e
    if not isinstance(batch, dict):
        raise ValueError(f"{path} is not a CIFAR-10 batch (holds a {type(batch).__name__}, not a dict)")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"{path} is not a CIFAR-10 batch (no data/labels keys)")
    data, labels = np.asarray(data), np.asarray(labels)
    if data.ndim != 2 or data.shape[1] != _CIFAR_ROW:
        raise ValueError(f"{path}: data must have shape [N, {_CIFAR_ROW}] (3x32x32 per row); got {data.shape}")
    labels = _as_labels(labels, path)
    if data.shape[0] != labels.shape[0]:
        raise ValueError(f"{path} holds {data.shape[0]} images but {labels.shape[0]} labels")
    return _as_pixels(data, path, "images").reshape(-1, 3, 32, 32), labels


def load_cifar10(directory: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 from the official "python version" batches in a local directory.

    Parameters
    ----------
    directory : path
        Folder holding ``data_batch_1`` … ``data_batch_5`` and ``test_batch`` (e.g. the
        extracted ``cifar-10-batches-py``); ``~`` is expanded. All five training batches must be
        present for ``split="train"``. Only open files you trust: the format is pickle.
    split : {"train", "test"}

    Returns
    -------
    images : ndarray of uint8, shape [N, 3, 32, 32]
    labels : ndarray of int64, shape [N]

    Raises
    ------
    FileNotFoundError
        No such directory, or one of the split's batch files is missing (the message lists them).
    ValueError
        Unknown ``split``; a file that is not a CIFAR-10 batch (unreadable pickle, no data/labels,
        rows that are not 3072 wide, image and label counts that differ); pixel data that is not
        integers 0-255 (float data is rejected rather than truncated to uint8) or non-integer labels.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    directory = _existing_dir(directory, "CIFAR-10 directory")
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    missing = [n for n in names if not (directory / n).is_file()]
    if missing:
        raise FileNotFoundError(f"CIFAR-10 {split} batch file(s) missing in {directory}: {', '.join(missing)}")
    xs, ys = zip(*(_read_cifar_batch(directory / n) for n in names))
    return np.concatenate(xs), np.concatenate(ys)


#: Event record layout used by Tonic: x, y (pixels), t (µs), p (polarity 0/1).
EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])


def read_nmnist_bin(path: str | Path) -> np.ndarray:
    """Read an N-MNIST / N-Caltech101 ``.bin`` file (40 bits per event).

    Byte layout per event: x (8 bits), y (8 bits), polarity (1 bit) + timestamp (23 bits, µs).

    Parameters
    ----------
    path : path
        The file; ``~`` is expanded.

    Returns
    -------
    structured ndarray of :data:`EVENT_DTYPE`, in file order (the recordings store events in time order).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    IsADirectoryError
        ``path`` is a directory.
    ValueError
        The file size is not a multiple of 5 bytes.
    """
    path = _existing_file(path, "event file")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 5:
        raise ValueError(f"{path}: size {raw.size} is not a multiple of 5 bytes (not an N-MNIST .bin file?)")
    raw = raw.reshape(-1, 5).astype(np.int64)
    ev = np.empty(raw.shape[0], dtype=EVENT_DTYPE)
    ev["x"] = raw[:, 0]
    ev["y"] = raw[:, 1]
    ev["p"] = raw[:, 2] >> 7
    ev["t"] = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    return ev


def _event_field(values: np.ndarray, name: str, path: Path) -> np.ndarray:
    """One event field cast to its :data:`EVENT_DTYPE` type, refusing casts that would change values."""
    target = EVENT_DTYPE[name]
    values = np.asarray(values)
    kind = values.dtype.kind
    if kind == "b":
        return values.astype(target)
    if kind not in "iuf":
        raise ValueError(f"{path}: event field {name!r} has dtype {values.dtype}; expected integers")
    if values.size == 0:
        return values.astype(target)
    if kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            example = values[np.argmax(bad)]
            unit = " (timestamps are integer microseconds: if yours are seconds, use (t * 1e6).round())" if name == "t" else ""
            raise ValueError(
                f"{path}: event field {name!r} holds non-integer values (dtype {values.dtype}, e.g. {example!r}); "
                f"they would be truncated{unit}"
            )
    info = np.iinfo(target)
    lo, hi = values.min(), values.max()
    if lo < info.min or hi > info.max:
        raise ValueError(
            f"{path}: event field {name!r} ranges from {lo} to {hi}, outside {target} "
            f"({info.min}..{info.max}) of EVENT_DTYPE"
        )
    return values.astype(target)


def load_events(path: str | Path) -> np.ndarray:
    """Events from a Tonic-style ``.npy``/``.npz`` array (fields x, y, t, p) or an N-MNIST ``.bin``.

    Parameters
    ----------
    path : path
        ``~`` is expanded. A ``.bin`` file (any letter case) is read by :func:`read_nmnist_bin`;
        anything else with :func:`numpy.load` (no pickles): a 1-d structured array with fields
        ``x, y, t, p``, or an ``.npz`` archive holding either one such array or the four fields as
        separate 1-d arrays named ``x``, ``y``, ``t``, ``p``.

    Returns
    -------
    structured ndarray of :data:`EVENT_DTYPE`.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    IsADirectoryError
        ``path`` is a directory.
    ValueError
        The file is not a NumPy file; the array is not 1-d or lacks a field; an ``.npz`` holds
        neither one event array nor the four field arrays; a value would change in the cast to
        :data:`EVENT_DTYPE` (non-integer floats such as fractional timestamps, or values out of range
        like x > 32767).
    """
    path = _existing_file(path, "event file")
    if path.suffix.lower() == ".bin":
        return read_nmnist_bin(path)
    names = ("x", "y", "t", "p")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                keys = list(loaded.files)
                if set(names) <= set(keys):
                    contents: np.ndarray | dict[str, np.ndarray] | list[str] = {f: np.asarray(loaded[f]) for f in names}
                elif len(keys) == 1:
                    contents = np.asarray(loaded[keys[0]])
                else:
                    contents = keys
        else:
            contents = loaded
    except (ValueError, EOFError, zlib.error, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable .npy/.npz event file ({e})") from e
    if isinstance(contents, list):
        raise ValueError(
            f"{path}: .npz holds arrays {contents}; expected one structured event array, or arrays named x, y, t, p"
        )
    if isinstance(contents, dict):
        return _events_from_fields(contents, path)
    arr = contents
    missing = {"x", "y", "t", "p"} - set(arr.dtype.names or ())
    if missing:
        raise ValueError(f"{path}: event array lacks fields {sorted(missing)} (needs x, y, t, p)")
    if arr.ndim != 1:
        raise ValueError(f"{path}: expected a 1-d array of events; got shape {arr.shape}")
    return _events_from_fields({f: arr[f] for f in names}, path)


def _events_from_fields(fields: dict[str, np.ndarray], path: Path) -> np.ndarray:
    """An :data:`EVENT_DTYPE` array from 1-d x, y, t, p arrays of one length."""
    shapes = {f: np.shape(v) for f, v in fields.items()}
    if any(len(s) != 1 for s in shapes.values()) or len(set(shapes.values())) != 1:
        raise ValueError(f"{path}: fields x, y, t, p must be 1-d arrays of one length; got shapes {shapes}")
    out = np.empty(shapes["x"][0], dtype=EVENT_DTYPE)
    for f, v in fields.items():
        out[f] = _event_field(v, f, path)
    return out


def events_to_frames(
    events: np.ndarray,
    sensor_size: tuple[int, int],
    n_time_bins: int | None = None,
    *,
    duration_us: int | None = None,
    time_window_us: float | None = None,
    event_count: int | None = None,
) -> np.ndarray:
    """Bin events into time-first count frames ``[T, 2, H, W]`` (polarity channels).

    Exactly one way of slicing is given (as Tonic's ``ToFrame``): ``n_time_bins`` equal time
    bins, bins of ``time_window_us`` µs each, or bins of ``event_count`` consecutive events.

    Parameters
    ----------
    events : structured ndarray with fields x, y, t (µs), p
        As :func:`load_events` returns (or Tonic's event arrays). Float fields holding integral values are
        accepted; fractional values (e.g. timestamps in seconds) are refused rather than truncated.
    sensor_size : (width, height) in pixels
        Tonic's ``(width, height, polarities)`` is accepted too (at most 2 polarities).
    n_time_bins : int, optional
        Number of equal time bins ``T`` over the window.
    duration_us : int, optional
        Window length in µs (at least 1), from the first event; later events are dropped.
        Default: the span of the events. Applies to ``n_time_bins`` and ``time_window_us``.
    time_window_us : float, optional
        Length of each bin (µs, > 0) from the first event: ``T = ⌈window / time_window_us⌉``
        (the last bin may be shorter).
    event_count : int, optional
        Events per bin (≥ 1), in time order (stable for equal times): ``T = ⌈N / event_count⌉``,
        the last bin holding the remainder. Frames of equal event count have unequal durations.

    Returns
    -------
    ndarray float32 [T, 2, H, W]
        Event counts per bin, polarity (``p > 0`` → channel 1) and pixel. The incomplete last bin
        is kept (Tonic's ``ToFrame`` drops it by default). With no events: ``n_time_bins`` empty
        frames, ``⌈duration_us / time_window_us⌉`` with both given, else ``T = 0``.

    Raises
    ------
    ValueError
        Not exactly one of ``n_time_bins`` / ``time_window_us`` / ``event_count``; ``n_time_bins``
        or ``event_count`` < 1 or not an integer; ``time_window_us`` not a positive finite number;
        ``duration_us < 1``; ``duration_us`` with ``event_count``; events outside ``sensor_size``; ``events``
        not a 1-d structured array with fields x, y, t, p, or fields that a cast would change (fractional
        timestamps, values out of range); a ``sensor_size`` that is not 2 (or 3) positive integers.
    """
    size = tuple(sensor_size) if isinstance(sensor_size, (tuple, list)) else ()
    if len(size) not in (2, 3) or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
                                          for v in size) or (len(size) == 3 and size[2] > 2):
        raise ValueError(f"sensor_size must be (width, height) or Tonic's (width, height, polarities <= 2) in positive "
                         f"integers; got {sensor_size!r}")
    W, H = int(size[0]), int(size[1])
    names = set(getattr(getattr(events, "dtype", None), "names", None) or ())
    if not isinstance(events, np.ndarray) or not {"x", "y", "t", "p"} <= names or events.ndim != 1:
        got = (f"an array of shape {events.shape} and dtype {events.dtype}" if isinstance(events, np.ndarray)
               else type(events).__name__)
        raise ValueError("events must be a 1-d structured array with fields x, y, t (µs), p (see load_events / "
                         f"EVENT_DTYPE; for a plain [N, 4] array build one with np.rec.fromarrays); got {got}")
    events = _events_from_fields({f: events[f] for f in ("x", "y", "t", "p")}, "events")
    given = [name for name, v in (("n_time_bins", n_time_bins), ("time_window_us", time_window_us),
                                  ("event_count", event_count)) if v is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of n_time_bins, time_window_us and event_count; got "
                         + (", ".join(given) if given else "none"))
    for name, v in (("n_time_bins", n_time_bins), ("event_count", event_count)):
        if v is not None and (isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1):
            raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
    if time_window_us is not None and not (isinstance(time_window_us, (int, float, np.number))
                                           and not isinstance(time_window_us, bool)
                                           and math.isfinite(time_window_us) and time_window_us > 0):
        raise ValueError(f"time_window_us must be a positive finite number of microseconds; got {time_window_us!r}")
    if duration_us is not None and not duration_us >= 1:
        raise ValueError(f"duration_us must be a positive number of microseconds (>= 1); got {duration_us}")
    if duration_us is not None and event_count is not None:
        raise ValueError("duration_us applies to time bins; with event_count slice the events beforehand")
    if events.size and (events["x"].max() >= W or events["y"].max() >= H or events["x"].min() < 0
                        or events["y"].min() < 0):
        raise ValueError(f"events fall outside sensor_size {sensor_size}")
    if events.size == 0:  # as many empty frames as the slicing defines without events
        T = n_time_bins if n_time_bins is not None else (
            math.ceil(duration_us / float(time_window_us)) if time_window_us is not None and duration_us is not None
            else 0)
        return np.zeros((T, 2, H, W), dtype=np.float32)
    t = events["t"].astype(np.int64) - int(events["t"].min())
    if event_count is not None:
        order = np.argsort(t, kind="stable")
        T = -(-events.size // int(event_count))
        b = np.empty(events.size, dtype=np.int64)
        b[order] = np.arange(events.size) // int(event_count)
        keep = np.ones(events.size, dtype=bool)
    else:
        span = int(duration_us) if duration_us is not None else int(t.max()) + 1
        if n_time_bins is not None:
            T = int(n_time_bins)
            b = np.minimum(t * T // max(span, 1), T - 1)
        else:
            T = max(1, math.ceil(span / float(time_window_us)))
            b = np.minimum((t / float(time_window_us)).astype(np.int64), T - 1)
        keep = t < span
    p = (events["p"] > 0).astype(np.int64)
    flat = ((b[keep] * 2 + p[keep]) * H + events["y"][keep].astype(np.int64)) * W + events["x"][keep].astype(np.int64)
    frames = np.bincount(flat, minlength=T * 2 * H * W).astype(np.float32).reshape(T, 2, H, W)
    return frames

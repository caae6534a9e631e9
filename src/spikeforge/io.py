"""Saving and loading models with safetensors (never pickle).

A file holds named arrays plus one JSON document in the safetensors metadata under the key
``"spikeforge"`` (class name, constructor parameters, scalar state, format version). Writes are
atomic: a crash never leaves a truncated file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

__all__ = ["FORMAT_VERSION", "SafetensorsMixin", "jsonable_params", "load_arrays", "read_safetensors", "save_arrays"]

FORMAT_VERSION = 1


def _to_json(value: Any) -> Any:
    """NumPy scalars/arrays and tuples → plain JSON values (recursively)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    return value


def jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    """Constructor parameters made JSON-serialisable for a model file.

    NumPy scalars and arrays become Python numbers and lists (so ``n_neurons=np.int64(10)``
    saves); a ``random_state`` that is not an integer (a ``Generator``, ``RandomState`` or
    ``SeedSequence``) is stored as ``None`` — models keep the seed they drew from it as state
    where it matters. Any other value that JSON cannot hold raises ``TypeError`` naming it.

    Parameters
    ----------
    params : dict
        Output of ``get_params(deep=False)``.

    Returns
    -------
    dict
        A copy with JSON-compatible values (tuples become lists).
    """
    import numbers

    out = {}
    for k, v in params.items():
        if k == "random_state" and not (v is None or isinstance(v, numbers.Integral)):
            v = None
        v = _to_json(v)
        try:
            json.dumps(v)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"parameter {k}={v!r} cannot be saved in a model file: {exc}") from exc
        out[k] = v
    return out


def save_arrays(path: str | Path, arrays: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Atomically write ``arrays`` (numpy arrays or torch tensors) and JSON ``meta`` to ``path``."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for k, v in arrays.items():
        if hasattr(v, "detach"):
            v = v.detach().cpu().numpy()
        a = np.ascontiguousarray(v)
        if a.dtype == bool:
            a = a.astype(np.uint8)
        tensors[k] = a
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".safetensors.tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"spikeforge": json.dumps({"format": FORMAT_VERSION, **meta})})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def params_for(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """Constructor parameters read from a model file, made acceptable to today's checks: a float with an
    integral value (``10.0``) for a parameter whose default is an int becomes that int (files written before
    integer parameters were checked strictly could hold ``n_neurons=100.0``)."""
    import inspect

    defaults = {k: v.default for k, v in inspect.signature(cls.__init__).parameters.items()}
    out = dict(params)
    for k, v in params.items():
        d = defaults.get(k)
        if isinstance(d, int) and not isinstance(d, bool) and isinstance(v, float) and v.is_integer():
            out[k] = int(v)
    return out


def read_safetensors(path: str | Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """Read any safetensors file: ``(metadata, arrays)``, with clear errors.

    Parameters
    ----------
    path : path
        The file; ``~`` is expanded.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not a readable safetensors file (junk, truncated); the message names it.
    """
    from safetensors import SafetensorError

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as fh:
            meta = dict(fh.metadata() or {})
        arrays = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a valid spikeforge model file (safetensors): {exc}") from exc
    return meta, arrays


def load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`save_arrays`: ``(arrays, meta)``.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not a spikeforge model file, unreadable, or written by a newer spikeforge.
    """
    raw_meta, arrays = read_safetensors(path)
    raw = raw_meta.get("spikeforge")
    if raw is None:
        raise ValueError(f"{path} is not a spikeforge model file (no 'spikeforge' metadata)")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: corrupt spikeforge metadata ({exc})") from exc
    if meta.get("format", 0) > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer spikeforge (format {meta['format']})")
    return arrays, meta


class SafetensorsMixin:
    """``save(path)`` / ``load(path)`` for estimators.

    Subclasses implement ``_state()`` → ``(arrays, scalars)`` and ``_set_state(arrays, scalars)``;
    constructor parameters come from ``get_params()`` and must be JSON-serialisable. The
    ``feature_names_in_`` of a model fitted on a DataFrame are saved and restored too, so a
    loaded model rejects reordered or renamed columns as the fitted one does.
    """

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _set_state(self, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to ``path`` (safetensors)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        params = jsonable_params(self.get_params(deep=False))
        arrays, scalars = self._state()
        meta = {"class": type(self).__name__, "params": params, "state": scalars}
        names = getattr(self, "feature_names_in_", None)
        if names is not None:  # DataFrame column names seen at fit, checked again at predict
            meta["feature_names_in"] = [str(n) for n in names]
        return save_arrays(path, arrays, meta)

    @classmethod
    def load(cls, path: str | Path):
        """Read a model written by :meth:`save`."""
        arrays, meta = load_arrays(path)
        if meta.get("class") != cls.__name__:
            raise ValueError(f"{path} holds a {meta.get('class')}, not a {cls.__name__}")
        obj = cls(**params_for(cls, meta["params"]))
        obj._set_state(arrays, meta["state"])
        if meta.get("feature_names_in") is not None:
            obj.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
        return obj

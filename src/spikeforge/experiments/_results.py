"""The results contract shared by every reproduction.

``spikeforge reproduce NAME`` writes ``results/NAME/results.json``::

    {"name", "command", "config", "environment",
     "metrics": [{"key", "value", "std", "n", "paper", "source"}, ...]}

with metric keys ``dataset/method/metric`` in lower case, plus ``results.md`` and plots. A metric
gets an extra ``n_undefined`` field when some runs had no defined value (NaN).
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Metric", "Results", "environment", "fmt_pm"]

_KEY = re.compile(r"^[a-z0-9_.+\-]+/[a-z0-9_.+\-()=,]+/[a-z0-9_.+\-@]+$")


@dataclass
class Metric:
    """One reported number.

    Attributes
    ----------
    key : str
        ``dataset/method/metric``, lower case (e.g. ``iris/stdp/f1_micro``).
    value : float
        Mean over ``n`` runs.
    std : float or None
        Population standard deviation over the runs (None for a single run).
    n : int
        Number of runs (folds × seeds, …) behind ``value``: the runs where the number is
        defined (finite).
    n_undefined : int
        Runs where it is undefined (NaN, e.g. a ratio with a zero denominator); written to
        JSON only when non-zero.
    paper : float or None
        The published number this reproduces, on the same scale as ``value``.
    source : str
        Where ``paper`` comes from (seed slide, repository file, …).
    """

    key: str
    value: float
    std: float | None = None
    n: int = 1
    paper: float | None = None
    source: str = ""
    n_undefined: int = 0

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.key):
            raise ValueError(f"metric key {self.key!r} must be 'dataset/method/metric' in lower case")
        self.value = float(self.value)
        self.std = None if self.std is None else float(self.std)
        self.paper = None if self.paper is None else float(self.paper)
        self.n = int(self.n)
        self.n_undefined = int(self.n_undefined)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this metric (``n_undefined`` only when non-zero)."""
        d = _jsonable(asdict(self))
        if not self.n_undefined:
            del d["n_undefined"]
        return d


def _git_state() -> dict[str, Any]:
    """Commit and dirty flag of the source tree the package runs from (empty outside git)."""
    import subprocess

    root = Path(__file__).resolve().parents[3]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", "src"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit, "git_dirty": dirty}


def environment() -> dict[str, Any]:
    """Machine and library versions (and the git commit of the source, with a flag for
    uncommitted changes under ``src/``), for the ``environment`` field."""
    import numba
    import sklearn
    import torch

    from .. import __version__

    return {
        "spikeforge": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "numba": numba.__version__,
        "scikit-learn": sklearn.__version__,
        "cuda": torch.cuda.is_available(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        **_git_state(),
    }


def fmt_pm(value: float | None, std: float | None = None, digits: int = 3) -> str:
    """``0.960 ± 0.033``; ``—`` for None."""
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if std is None else f"{value:.{digits}f} ± {std:.{digits}f}"


def _jsonable(obj: Any, *, settings: bool = False) -> Any:
    """Plain JSON values. Strict JSON has no NaN / inf: in measured numbers they become null
    (undefined); in ``settings`` (the config) infinities are written as the strings ``"inf"`` /
    ``"-inf"`` so that they stay distinct from a parameter set to None."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(asdict(obj), settings=settings)
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, settings=settings) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, settings=settings) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((_jsonable(v, settings=settings) for v in obj), key=repr)
    if isinstance(obj, np.generic):
        return _jsonable(obj.item(), settings=settings)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist(), settings=settings)
    if isinstance(obj, float) and not np.isfinite(obj):
        if settings and np.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


@dataclass
class Results:
    """Collects metrics and extra records of a reproduction and writes them out.

    Parameters
    ----------
    name : str
        Reproduction name (``results/<name>/``).
    command : str
        The command line that produced the results.
    config : dict
        Every setting of the run.
    out_dir : Path
        Directory to write to (created).
    """

    name: str
    command: str
    config: dict[str, Any]
    out_dir: Path
    metrics: list[Metric] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, values, *, paper: float | None = None, source: str = "") -> Metric:
        """Add a metric from one value or a list of per-run values (mean, population std).

        Runs where the number is undefined (NaN) are left out of the mean and the std and
        counted in ``n_undefined``; if none is defined, the value is NaN (null in JSON), n = 0.

        Raises
        ------
        ValueError
            No values at all, or an infinite value.
        """
        arr = np.atleast_1d(np.asarray(values, dtype=np.float64)).ravel()
        if arr.size == 0:
            raise ValueError(f"metric {key!r}: no values")
        if np.isinf(arr).any():
            raise ValueError(f"metric {key!r}: infinite value among the runs {arr.tolist()}")
        ok = arr[~np.isnan(arr)]
        m = Metric(
            key=key,
            value=float(ok.mean()) if ok.size else float("nan"),
            std=float(ok.std()) if ok.size > 1 else None,
            n=int(ok.size),
            paper=paper,
            source=source,
            n_undefined=int(arr.size - ok.size),
        )
        self.metrics.append(m)
        return m

    def get(self, key: str) -> Metric:
        """The metric with this key."""
        for m in self.metrics:
            if m.key == key:
                return m
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of the results contract (plus ``extra``)."""
        doc = {
            "name": self.name,
            "command": self.command,
            "config": _jsonable(self.config, settings=True),
            "environment": environment(),
            "metrics": [m.to_dict() for m in self.metrics],
        }
        if self.extra:
            doc["extra"] = _jsonable(self.extra)
        return doc

    def write(self, markdown: str) -> Path:
        """Write ``results.json`` (atomically) and ``results.md``; return the JSON path."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / "results.json"
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False)  # fails before any file is touched
        _atomic_write(path, text)
        _atomic_write(self.out_dir / "results.md", markdown)
        return path


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder (never half a file)."""
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    # mode 0666 less the umask, as for any new file (mkstemp would make it 0600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()

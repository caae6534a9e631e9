"""The results contract shared by every reproduction.

``spikeforge reproduce NAME`` writes ``results/NAME/results.json``::

    {"name", "command", "config", "environment",
     "metrics": [{"key", "value", "std", "n", "paper", "source"}, ...]}

with metric keys ``dataset/method/metric`` in lower case, plus ``results.md`` and plots.
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
        Number of runs (folds × seeds, …) behind ``value``.
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

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise ValueError(f"metric key {self.key!r} must be 'dataset/method/metric' in lower case")
        self.value = float(self.value)
        self.std = None if self.std is None else float(self.std)
        self.paper = None if self.paper is None else float(self.paper)
        self.n = int(self.n)


def environment() -> dict[str, Any]:
    """Machine and library versions, for the ``environment`` field."""
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
    }


def fmt_pm(value: float | None, std: float | None = None, digits: int = 3) -> str:
    """``0.960 ± 0.033``; ``—`` for None."""
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if std is None else f"{value:.{digits}f} ± {std:.{digits}f}"


def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None  # strict JSON has no NaN / inf: an undefined number is null
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
        """Add a metric from one value or a list of per-run values (mean, population std)."""
        arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
        m = Metric(
            key=key,
            value=float(arr.mean()),
            std=float(arr.std()) if arr.size > 1 else None,
            n=int(arr.size),
            paper=paper,
            source=source,
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
            "config": _jsonable(self.config),
            "environment": environment(),
            "metrics": [_jsonable(m) for m in self.metrics],
        }
        if self.extra:
            doc["extra"] = _jsonable(self.extra)
        return doc

    def write(self, markdown: str) -> Path:
        """Write ``results.json`` (atomically) and ``results.md``; return the JSON path."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / "results.json"
        tmp = self.out_dir / f".results.{uuid.uuid4().hex}.json.tmp"
        # mode 0666 less the umask, as for any new file (mkstemp would make it 0600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.to_dict(), fh, indent=1, allow_nan=False)
        os.replace(tmp, path)
        (self.out_dir / "results.md").write_text(markdown)
        return path

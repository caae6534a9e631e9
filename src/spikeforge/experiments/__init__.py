"""Reproductions of the seed papers: one module per reproduction, registered by name.

Each module defines ``run(quick: bool, out_dir: Path, seeds: int | None, jobs: int, command: str)``
returning a :class:`~spikeforge.experiments._results.Results`, and registers itself with
:func:`register`. The CLI (`spikeforge list`, `spikeforge reproduce NAME`) reads the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from ._results import Metric, Results, environment, fmt_pm

__all__ = ["EXPERIMENTS", "Experiment", "Metric", "Results", "environment", "fmt_pm", "get", "register"]


@dataclass(frozen=True)
class Experiment:
    """A registered reproduction."""

    name: str
    seed: str
    summary: str
    module: str
    full_minutes: float
    quick_minutes: float

    def runner(self) -> Callable:
        """The module's ``run`` function (imported lazily)."""
        return import_module(self.module).run


#: name -> Experiment; modules are imported only when run.
EXPERIMENTS: dict[str, Experiment] = {}


def register(
    name: str, *, seed: str, summary: str, module: str, full_minutes: float, quick_minutes: float
) -> None:
    """Add a reproduction to the registry."""
    EXPERIMENTS[name] = Experiment(name, seed, summary, module, full_minutes, quick_minutes)


def get(name: str) -> Experiment:
    """Look a reproduction up by name, with a helpful error."""
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown reproduction {name!r}; available: {', '.join(sorted(EXPERIMENTS))}")
    return EXPERIMENTS[name]


register(
    "correlation",
    seed="000",
    summary="probabilistic correlation SNN, STDP vs memristive plasticity on Iris / Breast Cancer / Digits",
    module="spikeforge.experiments.correlation",
    full_minutes=3,
    quick_minutes=0.5,
)

register(
    "continual",
    seed="001",
    summary="catastrophic forgetting in the Mozafari STDP network: inhibition radii, freezing, Langevin ranges (split-MNIST)",
    module="spikeforge.experiments.continual",
    full_minutes=25,
    quick_minutes=2.5,
)

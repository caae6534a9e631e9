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
    seeds: str

    def runner(self) -> Callable:
        """The module's ``run`` function (imported lazily)."""
        return import_module(self.module).run


#: name -> Experiment; modules are imported only when run.
EXPERIMENTS: dict[str, Experiment] = {}


def register(
    name: str, *, seed: str, summary: str, module: str, full_minutes: float, quick_minutes: float, seeds: str
) -> None:
    """Add a reproduction to the registry. ``seeds`` says what ``--seeds N`` repeats, and its defaults
    (shown by ``spikeforge list``)."""
    EXPERIMENTS[name] = Experiment(name, seed, summary, module, full_minutes, quick_minutes, seeds)


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
    full_minutes=1,
    quick_minutes=0.5,
    seeds="seeds 0…N−1, each a stratified 5-fold CV of every dataset and rule (default 3, quick 1)",
)

register(
    "tdbn",
    seed="003",
    summary="STBP-tdBN: conv SNN + tdBN at T=4 on the MNIST subset, and per-layer gradient norms with tdBN / BN / none",
    module="spikeforge.experiments.tdbn",
    full_minutes=12,
    quick_minutes=1.5,
    seeds="seeds 0…N−1 of the gradient-norm part only; the accuracy runs use seed 0 (default 3, quick 1)",
)

register(
    "conversion",
    seed="004",
    summary="ANN→SNN conversion on MNIST-5k: Max/Robust/per-channel/QCFS, soft vs hard reset, hybrid fine-tuning, rate vs latency coding",
    module="spikeforge.experiments.conversion",
    full_minutes=2,
    quick_minutes=1.5,
    seeds="seeds 0…N−1, each its own split, ANN training and conversions (default 1)",
)

register(
    "stdp-all-ltd",
    seed="001",
    summary="supervised STDP + All-LTD on 3 MNIST classes: learning curves, with/without adaptive threshold",
    module="spikeforge.experiments.stdp_all_ltd",
    full_minutes=15,
    quick_minutes=2,
    seeds="number of random class triples, drawn with seed 0 and each trained once (default 10, quick 5)",
)

register(
    "use-it-or-lose-it",
    seed="001",
    summary="'use it or lose it' weight decay: spikes on noise / known / unknown digits, weight maps",
    module="spikeforge.experiments.use_it_or_lose_it",
    full_minutes=12,
    quick_minutes=1,
    seeds="seeds 0…N−1, each its own test digits, training order, noise sets and network (default 8, quick 1)",
)

register(
    "diehl-cook",
    seed="base",
    summary="Diehl & Cook 2015 unsupervised STDP baseline, 100 neurons, MNIST subset 4000/1000",
    module="spikeforge.experiments.diehl_cook",
    full_minutes=2,
    quick_minutes=2,
    seeds="seeds 0…N−1 per arm: network initialisation and input spikes on the one split of seed 0 (default 2, quick 1)",
)

register(
    "colanet",
    seed="002",
    summary="CoLaNET spiking vs digital on MNIST-5k (4000/1000): accuracy, learning curve, prototypes",
    module="spikeforge.experiments.colanet",
    full_minutes=1,
    quick_minutes=0.5,
    seeds="seeds 0…N−1, each its own split and network (default 3, quick 1)",
)

register(
    "csnn",
    seed="002",
    summary="fixed learned convolutions + CoLaNET (CSNN) vs CNN1, CNN2, ULSNN (Diehl & Cook) on MNIST-5k",
    module="spikeforge.experiments.csnn",
    full_minutes=10,
    quick_minutes=2,
    seeds="seeds 0…N−1, each its own split and every network (default 3, quick 1)",
)

register(
    "colanet-theory",
    seed="002",
    summary="Goryunov's analytical model: microcolumn count, incubation, learning curves vs simulation",
    module="spikeforge.experiments.colanet_theory",
    full_minutes=1,
    quick_minutes=0.5,
    seeds="seeds 0…N−1 of the simulation at each σ (default 3, quick 1)",
)

register(
    "colanet-continual",
    seed="002",
    summary="CoLaNET continual learning on 10 permuted-MNIST tasks: accuracy matrix, forgetting",
    module="spikeforge.experiments.colanet_continual",
    full_minutes=2,
    quick_minutes=1,
    seeds="seeds 0…N−1, each its own split, permutations and network (default 1)",
)

register(
    "continual",
    seed="001",
    summary="catastrophic forgetting in the Mozafari STDP network: inhibition radii, freezing, Langevin ranges (split-MNIST)",
    module="spikeforge.experiments.continual",
    full_minutes=18,
    quick_minutes=2.5,
    seeds="seeds 0…N−1, each its own task split and every arm (default 3, quick 1)",
)

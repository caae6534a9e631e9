"""Strategies against catastrophic forgetting (seed 001, spec §C.2–§C.4), for any model that
follows :class:`PlasticModel`.

A strategy is called around every task of a stream by :func:`~spikeforge.continual.run_stream`:
``prepare`` once, then ``before_task`` / ``after_task`` for each task. It acts on the model
only through the protocol (plastic weights, constraints, ``partial_fit``) and scikit-learn's
``set_params``.

A strategy's ``set_constraints`` call replaces whatever constraint the tensor held. Inside a
:class:`Compose` every strategy instead owns its own constraints, and the model gets their
intersection (:func:`~spikeforge.plasticity.merge_constraints`), so that e.g. a freeze mask
and Langevin ranges hold together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from ..plasticity.constraints import WeightConstraint, merge_constraints
from .streams import Task

__all__ = [
    "Compose",
    "FreezeLargest",
    "InhibitionRadius",
    "LangevinRanges",
    "NoProtection",
    "PlasticModel",
    "Strategy",
    "weight_quantiles",
]


@runtime_checkable
class PlasticModel(Protocol):
    """What a model must offer to the continual-learning strategies.

    * ``plastic_weights()`` → ``{name: Tensor}``: **live** views of the weights its local rules
      change (writing into them changes the model);
    * ``set_constraints({name: WeightConstraint | None})``: after every subsequent update the
      learning rule must honour the constraint exactly as
      :func:`~spikeforge.plasticity.constrained_update` specifies (freeze mask, per-synapse
      bounds, Langevin noise), and the current weights are projected into the bounds;
    * ``partial_fit(X, y, **kwargs)``: one learning pass over ``(X, y)`` in the given order;
    * ``score(X, y)``: accuracy.

    Optionally ``start_task(X, y)``, called by :func:`~spikeforge.continual.run_stream` at
    the start of every task (e.g. to retrain unsupervised layers on the new data), and
    ``constraints()`` → ``{name: WeightConstraint}``, the installed constraints
    (:class:`Compose` keeps them in force when it has it).
    """

    def plastic_weights(self) -> Mapping[str, torch.Tensor]: ...

    def set_constraints(self, constraints: Mapping[str, WeightConstraint | None]) -> None: ...

    def partial_fit(self, X, y, **kwargs) -> Any: ...

    def score(self, X, y) -> float: ...


class Strategy:
    """Base class: no protection. Subclasses override the hooks they need."""

    name = "none"

    def prepare(self, model: PlasticModel) -> None:
        """Called once, before the first task."""

    def before_task(self, model: PlasticModel, index: int, tasks: Sequence[Task]) -> None:
        """Called before training on ``tasks[index]``."""

    def after_task(self, model: PlasticModel, index: int, tasks: Sequence[Task]) -> None:
        """Called after training on ``tasks[index]``."""

    def __repr__(self) -> str:
        fields = {k: v for k, v in vars(self).items() if not k.endswith("_")}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in fields.items())})"


class NoProtection(Strategy):
    """Plain sequential training (the catastrophic-forgetting baseline)."""


class Compose(Strategy):
    """Several strategies, hooks called in order.

    Constraints are intersected, not replaced: every strategy sees the model through a view
    whose ``set_constraints`` sets only that strategy's own constraints (None removes only
    its own), and the model receives, per tensor, :func:`~spikeforge.plasticity.merge_constraints`
    of every strategy's constraint and of the constraint the model held when :meth:`prepare`
    ran (read with the model's optional ``constraints()`` getter). Freeze masks multiply,
    bounds intersect, Langevin noise is kept (frozen synapses get none). So in
    ``Compose(FreezeLargest(), LangevinRanges())`` the frozen weights stay frozen through
    the research phase and the following tasks, and the others are confined to their ranges.

    Raises
    ------
    ValueError
        From a hook, if two strategies' bounds on one tensor do not intersect, or two of them
        add Langevin noise to the same tensor at once.
    """

    def __init__(self, *strategies: Strategy) -> None:
        self.strategies = tuple(strategies)
        self.name = "+".join(s.name for s in strategies)
        self.installed_: dict[str, WeightConstraint] = {}
        self.own_: list[dict[str, WeightConstraint]] = [{} for _ in self.strategies]

    def prepare(self, model: PlasticModel) -> None:
        getter = getattr(model, "constraints", None)
        self.installed_ = dict(getter()) if callable(getter) else {}
        self.own_ = [{} for _ in self.strategies]
        for i, s in enumerate(self.strategies):
            s.prepare(_StrategyView(model, self, i))

    def before_task(self, model: PlasticModel, index: int, tasks: Sequence[Task]) -> None:
        for i, s in enumerate(self.strategies):
            s.before_task(_StrategyView(model, self, i), index, tasks)

    def after_task(self, model: PlasticModel, index: int, tasks: Sequence[Task]) -> None:
        for i, s in enumerate(self.strategies):
            s.after_task(_StrategyView(model, self, i), index, tasks)

    def merged_constraints(self) -> dict[str, WeightConstraint]:
        """The constraints the composition has installed, ``{name: WeightConstraint}``."""
        merged = self._merge(self.own_, set(self.installed_).union(*self.own_))
        return {n: c for n, c in merged.items() if c is not None}

    def _merge(self, own: list[dict[str, WeightConstraint]], names) -> dict[str, WeightConstraint | None]:
        """Per tensor in ``names``: the constraint held at :meth:`prepare` merged with every strategy's."""
        return {n: merge_constraints(self.installed_.get(n), *(o.get(n) for o in own)) for n in names}

    def _set_constraints(
        self, model: PlasticModel, index: int, constraints: Mapping[str, WeightConstraint | None]
    ) -> None:
        own = [dict(o) for o in self.own_]
        for name, c in constraints.items():
            if c is None:
                own[index].pop(name, None)
            else:
                own[index][name] = c
        model.set_constraints(self._merge(own, constraints))
        self.own_ = own  # only once the model has accepted them


class _StrategyView:
    """The model as strategy ``index`` of a :class:`Compose` sees it: ``set_constraints``
    sets that strategy's own constraints (the model gets the intersection of all), every
    other attribute is the model's."""

    def __init__(self, model: PlasticModel, compose: Compose, index: int) -> None:
        self._model, self._compose, self._index = model, compose, index

    def set_constraints(self, constraints: Mapping[str, WeightConstraint | None]) -> None:
        self._compose._set_constraints(self._model, self._index, constraints)

    def constraints(self) -> dict[str, WeightConstraint]:
        return self._compose.merged_constraints()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_model", "_compose", "_index"):
            raise AttributeError(name)
        return getattr(self._model, name)


class InhibitionRadius(Strategy):
    """Lateral-inhibition radii of the k-winners-take-all layers (spec §C.2; method 1).

    Sets the model's hyper-parameter ``param`` (scikit-learn ``set_params``) before the first
    task, so that every unsupervised layer trains with it on every task.

    Parameters
    ----------
    radii : tuple of int
        One radius per competitive layer, e.g. ``(5, 2)``.
    param : str, default "inhibition_radii"
    """

    def __init__(self, radii: tuple[int, ...], param: str = "inhibition_radii") -> None:
        if any(int(r) != r or r < 0 for r in radii):
            raise ValueError(f"radii must be non-negative integers; got {radii!r}")
        self.radii = tuple(int(r) for r in radii)
        self.param = param
        self.name = "radius-" + "-".join(str(r) for r in self.radii)

    def prepare(self, model: PlasticModel) -> None:
        if not hasattr(model, "set_params"):
            raise TypeError("InhibitionRadius needs a model with scikit-learn set_params")
        model.set_params(**{self.param: self.radii})


class FreezeLargest(Strategy):
    """Freeze the largest weights after each task (spec §C.3; method 2.1).

    After task ``i`` (all but the last), the ``fraction`` largest of the still-plastic entries
    of each named plastic tensor (ranked by value; ties: lower flat index first) are frozen
    for the rest of the stream: their increments are multiplied by 0, so they stay
    bit-identical. Frozen sets accumulate over tasks: ``round(fraction·size)`` new entries
    per task (fewer once nothing else is left), so after ``k`` tasks up to ``k·fraction`` of
    the tensor is frozen. :meth:`prepare` forgets the frozen sets of a previous stream.

    The installed constraint is the freeze mask alone (it replaces the tensor's constraint);
    combine with other constraint strategies through :class:`Compose`.

    Parameters
    ----------
    fraction : float, default 0.1
        Share of each tensor to freeze, in (0, 1].
    layers : sequence of str, default ("conv3",)
        Names from ``model.plastic_weights()``.
    """

    def __init__(self, fraction: float = 0.1, layers: Sequence[str] = ("conv3",)) -> None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must lie in (0, 1]; got {fraction}")
        self.fraction = float(fraction)
        self.layers = tuple(layers)
        self.name = f"freeze-{self.fraction:g}"
        self.frozen_: dict[str, torch.Tensor] = {}

    def prepare(self, model: PlasticModel) -> None:
        """Start a new stream: nothing is frozen."""
        self.frozen_ = {}

    def after_task(self, model: PlasticModel, index: int, tasks: Sequence[Task]) -> None:
        if index >= len(tasks) - 1:
            return
        weights = model.plastic_weights()
        constraints = {}
        for name in self.layers:
            w = weights[name].detach().reshape(-1).cpu()
            mask = torch.zeros(w.numel(), dtype=torch.bool)
            if name in self.frozen_:
                mask |= self.frozen_[name].reshape(-1)
            n = int(round(self.fraction * w.numel()))
            candidates = torch.nonzero(~mask).reshape(-1)  # ascending: ties keep the lower index
            top = candidates[torch.argsort(-w[candidates], stable=True)[:n]]
            mask[top] = True
            mask = mask.reshape(weights[name].shape)
            self.frozen_[name] = mask
            constraints[name] = WeightConstraint(plastic=(~mask).to(torch.float32))
        model.set_constraints(constraints)


def weight_quantiles(
    snapshots: np.ndarray, probs: Sequence[float], *, alphap: float = 0.4, betap: float = 0.4
) -> np.ndarray:
    """Per-weight quantiles of a weight trajectory, as ``scipy.stats.mstats.mquantiles``.

    Parameters
    ----------
    snapshots : ndarray of shape [S, ...]
        ``S`` snapshots of the weights.
    probs : sequence of float in [0, 1]
    alphap, betap : float
        Plotting positions (scipy's defaults, Cunnane-like).

    Returns
    -------
    ndarray of shape [len(probs), ...]
    """
    x = np.sort(np.asarray(snapshots), axis=0)
    n = x.shape[0]
    if n == 0:
        raise ValueError("no snapshots")
    out = []
    for p in probs:
        if not 0 <= p <= 1:
            raise ValueError(f"probabilities must lie in [0, 1]; got {p}")
        m = alphap + p * (1.0 - alphap - betap)
        aleph = n * p + m
        k = int(np.floor(np.clip(aleph, 1, max(n - 1, 1))))
        gamma = float(np.clip(aleph - k, 0, 1))
        lo = x[min(k, n) - 1]
        hi = x[min(k, n - 1)]
        out.append((1.0 - gamma) * lo + gamma * hi)
    return np.stack(out)


class LangevinRanges(Strategy):
    """Langevin weight ranges (spec §C.4; method 2.2).

    After task ``i`` (all but the last): keep training on that task for ``epochs`` more
    passes with Gaussian noise ``noise_std·N(0, 1)`` added to every weight of ``layers``
    after every update ("research" phase), snapshot the weights every ``snapshot_every``
    samples, and confine every weight to its own ``[q_lo, q_hi]`` quantile range of that
    trajectory for the following tasks.

    The research phase installs the noise and then removes this strategy's constraints; the
    ranges replace the tensor's constraint. To keep a freeze mask (or other constraints) in
    force meanwhile, combine the strategies with :class:`Compose`, which intersects them.

    Parameters
    ----------
    quantiles : (float, float), default (0.1, 0.9)
        ``(0.1, 0.9)`` is D10/D90, ``(0.25, 0.75)`` Q1/Q3.
    noise_std : float, default 4e-4
        ``σ`` (weight units).
    epochs : int, default 5
        Research passes over the task's training set.
    snapshot_every : int, default 100
        Samples between snapshots.
    layers : sequence of str, default ("conv3",)
    fit_kwargs : mapping, optional
        Extra keyword arguments of ``partial_fit`` during the research phase (e.g.
        ``{"adapt_rates": False}`` for :class:`~spikeforge.models.MozafariClassifier`, whose
        learning-rate adaptation the seed froze there).
    random_state : int or None
        Seeds the noise.

    Attributes
    ----------
    bounds_ : dict name → (lower, upper) Tensors
    n_snapshots_ : int
    """

    def __init__(
        self,
        quantiles: tuple[float, float] = (0.1, 0.9),
        *,
        noise_std: float = 4e-4,
        epochs: int = 5,
        snapshot_every: int = 100,
        layers: Sequence[str] = ("conv3",),
        fit_kwargs: Mapping[str, Any] | None = None,
        random_state: int | None = None,
    ) -> None:
        lo, hi = quantiles
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"quantiles must satisfy 0 <= lo < hi <= 1; got {quantiles}")
        if noise_std <= 0 or epochs < 1 or snapshot_every < 1:
            raise ValueError("noise_std must be > 0, epochs and snapshot_every >= 1")
        self.quantiles = (float(lo), float(hi))
        self.noise_std = float(noise_std)
        self.epochs = int(epochs)
        self.snapshot_every = int(snapshot_every)
        self.layers = tuple(layers)
        self.fit_kwargs = dict(fit_kwargs or {})
        self.random_state = random_state
        self.name = f"langevin-q{round(100 * lo)}-q{round(100 * hi)}"
        self.bounds_: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.n_snapshots_ = 0

    def prepare(self, model: PlasticModel) -> None:
        """Start a new stream: forget the ranges of a previous one."""
        self.bounds_ = {}
        self.n_snapshots_ = 0

    def research(self, model: PlasticModel, task: Task) -> dict[str, np.ndarray]:
        """Run the noisy research phase on ``task``; return the snapshots ``{name: [S, ...]}``."""
        gen = np.random.default_rng(self.random_state)
        model.set_constraints({n: WeightConstraint(noise_std=self.noise_std, generator=gen) for n in self.layers})
        X, y = task.X_train, task.y_train
        n, k = len(y), self.snapshot_every
        n_snap = self.epochs * ((n + k - 1) // k)
        views = model.plastic_weights()
        snaps = {name: np.empty((n_snap, *views[name].shape), np.float32) for name in self.layers}
        s = 0
        for _ in range(self.epochs):
            for start in range(0, n, k):
                model.partial_fit(X[start : start + k], y[start : start + k], **self.fit_kwargs)
                for name in self.layers:
                    snaps[name][s] = views[name].detach().numpy()
                s += 1
        model.set_constraints({name: None for name in self.layers})
        return snaps

    def after_task(self, model: PlasticModel, index: int, tasks: Sequence[Task]) -> None:
        if index >= len(tasks) - 1:
            return
        self.install(model, self.research(model, tasks[index]))

    def install(self, model: PlasticModel, snaps: Mapping[str, np.ndarray]) -> None:
        """Confine every weight to its quantile range of the trajectories ``snaps``
        (``{name: [S, ...]}``, e.g. from :meth:`research`; one research phase can serve
        several quantile choices)."""
        constraints = {}
        for name, traj in snaps.items():
            lo, hi = weight_quantiles(traj, self.quantiles)
            self.bounds_[name] = (torch.from_numpy(lo), torch.from_numpy(hi))
            constraints[name] = WeightConstraint(lower=self.bounds_[name][0], upper=self.bounds_[name][1])
            self.n_snapshots_ = traj.shape[0]
        model.set_constraints(constraints)

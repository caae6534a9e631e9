"""Run a model through a task stream with a strategy, recording accuracy after every epoch."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .metrics import average_accuracy, backward_transfer, forgetting
from .strategies import PlasticModel, Strategy
from .streams import Task

__all__ = ["StreamResult", "run_stream"]


@dataclass
class StreamResult:
    """Outcome of :func:`run_stream`.

    Attributes
    ----------
    accuracy : ndarray of shape [n_train_tasks, n_eval_tasks]
        ``R[i, j]``: test accuracy on evaluation task ``j`` after training task ``i``.
    curves : list of ndarray
        ``curves[i]`` has shape [epochs_i, n_eval_tasks]: accuracy on every evaluation task
        after each epoch of task ``i``.
    task_names : list of str
    """

    accuracy: np.ndarray
    curves: list[np.ndarray] = field(default_factory=list)
    task_names: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """Average accuracy, forgetting and backward transfer (square ``R`` only)."""
        R = self.accuracy
        missing = np.flatnonzero(np.isnan(R).all(axis=1))
        if missing.size:
            warnings.warn(f"rows {missing.tolist()} of the accuracy matrix are NaN (a stream resumed with first_task "
                          "but without resume=): the metrics that read them come out NaN", stacklevel=2)
        if R.shape[0] != R.shape[1]:
            return {"average_accuracy": float(np.mean(R[-1]))}
        return {
            "average_accuracy": average_accuracy(R),
            "forgetting": forgetting(R),
            "backward_transfer": backward_transfer(R),
        }


def run_stream(
    model: PlasticModel,
    tasks: Sequence[Task],
    strategy: Strategy | None = None,
    *,
    epochs: int | Sequence[int] = 1,
    eval_tasks: Sequence[Task] | None = None,
    on_epoch: Callable[[int, int, np.ndarray], None] | None = None,
    first_task: int = 0,
    resume: StreamResult | None = None,
) -> StreamResult:
    """Train ``model`` on ``tasks`` in order under ``strategy``.

    For each task ``i``: ``strategy.before_task`` → ``model.start_task(X, y)`` (if the model
    has it) → ``epochs[i]`` × (``model.partial_fit(X, y)``, then ``model.score`` on every
    evaluation task) → ``strategy.after_task``.

    Parameters
    ----------
    model : PlasticModel
    tasks : sequence of Task
        Training stream.
    strategy : Strategy, optional
        Default: no protection.
    epochs : int or sequence of int
        Passes per task.
    eval_tasks : sequence of Task, optional
        Test sets to score after every epoch (default: ``tasks``; e.g. the separate tasks when
        training on a :func:`~spikeforge.continual.joint_task`).
    on_epoch : callable(task_index, epoch, accuracies), optional
        Progress hook.
    first_task : int, default 0
        Resume a stream: the model has already learned ``tasks[:first_task]`` (e.g. a copy of
        a network trained on task 0, to branch several strategies from one network). The
        strategy's ``after_task`` hook of task ``first_task − 1`` runs first; rows of ``R``
        before ``first_task`` are NaN unless ``resume`` is given.
    resume : StreamResult, optional
        The result of the run that trained ``tasks[:first_task]``, evaluated on the same
        evaluation tasks: its first rows of ``R`` and its curves fill those of the result, so
        that :meth:`StreamResult.summary` (forgetting, backward transfer) covers the whole stream.

    Returns
    -------
    StreamResult
    """
    strategy = strategy or Strategy()
    eval_tasks = list(tasks if eval_tasks is None else eval_tasks)
    ep = [int(epochs)] * len(tasks) if np.isscalar(epochs) else [int(e) for e in epochs]
    if len(ep) != len(tasks) or min(ep) < 1:
        raise ValueError("epochs must be a positive int or one positive int per task")
    if not 0 <= first_task < len(tasks):
        raise ValueError(f"first_task must lie in [0, {len(tasks) - 1}]; got {first_task}")
    R = np.full((len(tasks), len(eval_tasks)), np.nan)
    curves = [np.empty((0, len(eval_tasks))) for _ in range(first_task)]
    if resume is not None:
        prev = np.asarray(resume.accuracy)
        if prev.ndim != 2 or prev.shape[1] != len(eval_tasks) or prev.shape[0] < first_task \
                or len(resume.curves) < first_task:
            raise ValueError(f"resume must hold at least {first_task} row(s) over the {len(eval_tasks)} evaluation "
                             f"task(s) with their curves; it has an accuracy matrix of shape {prev.shape} and "
                             f"{len(resume.curves)} curve(s) (evaluate the first run with "
                             "eval_tasks= the same tasks)")
        R[:first_task] = prev[:first_task]
        curves = [np.asarray(c) for c in resume.curves[:first_task]]
    strategy.prepare(model)
    if first_task > 0:
        strategy.after_task(model, first_task - 1, tasks)
    for i, task in enumerate(tasks):
        if i < first_task:
            continue
        strategy.before_task(model, i, tasks)
        if hasattr(model, "start_task"):
            model.start_task(task.X_train, task.y_train)
        curve = np.empty((ep[i], len(eval_tasks)))
        for e in range(ep[i]):
            model.partial_fit(task.X_train, task.y_train)
            curve[e] = [model.score(t.X_test, t.y_test) for t in eval_tasks]
            if on_epoch is not None:
                on_epoch(i, e, curve[e])
        curves.append(curve)
        R[i] = curve[-1]
        strategy.after_task(model, i, tasks)
    return StreamResult(R, curves, [t.name for t in tasks])

"""Continual learning: task streams, strategies against catastrophic forgetting (seed 001)
and forgetting metrics, for any model that exposes its plastic weights.

>>> from spikeforge.continual import split_mnist, run_stream, LangevinRanges
>>> from spikeforge.models import MozafariClassifier
>>> tasks = split_mnist()                       # digits 0–4, then 5–9 relabelled d − 5
>>> model = MozafariClassifier(conv1_epochs=2, conv2_epochs=2, random_state=0)
>>> result = run_stream(model, tasks, LangevinRanges((0.1, 0.9)), epochs=15)  # doctest: +SKIP
>>> result.accuracy                              # R[i, j]: task j after training task i

The protocol a model must follow is :class:`PlasticModel`; the constraints it must honour
are :class:`~spikeforge.plasticity.WeightConstraint` (re-exported here, with
:func:`~spikeforge.plasticity.constrained_update` and
:func:`~spikeforge.plasticity.merge_constraints`).
"""

from ..plasticity.constraints import WeightConstraint, constrained_update, merge_constraints
from .metrics import (
    average_accuracy,
    backward_transfer,
    forgetting,
    forward_transfer,
    retained_accuracy_ratio,
)
from .runner import StreamResult, run_stream
from .strategies import (
    Compose,
    FreezeLargest,
    InhibitionRadius,
    LangevinRanges,
    NoProtection,
    PlasticModel,
    Strategy,
    weight_quantiles,
)
from .streams import Task, joint_task, permuted_mnist, rotated_mnist, split_mnist, split_tasks

__all__ = [
    "Compose",
    "FreezeLargest",
    "InhibitionRadius",
    "LangevinRanges",
    "NoProtection",
    "PlasticModel",
    "Strategy",
    "StreamResult",
    "Task",
    "WeightConstraint",
    "average_accuracy",
    "backward_transfer",
    "constrained_update",
    "forgetting",
    "forward_transfer",
    "joint_task",
    "merge_constraints",
    "permuted_mnist",
    "retained_accuracy_ratio",
    "rotated_mnist",
    "run_stream",
    "split_mnist",
    "split_tasks",
    "weight_quantiles",
]

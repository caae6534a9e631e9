"""Catastrophic forgetting and one remedy, with seed 001's continual-learning toolkit.

What it shows
-------------
A plastic spiking network, ``spikeforge.models.MozafariClassifier`` (convolutional STDP
features + a reward-modulated STDP decision layer ``conv3``), learns a two-task stream from
``spikeforge.continual.split_mnist``: Task 1 = digits 0-4, then Task 2 = digits 5-9
relabelled 0-4 (domain-incremental: both tasks share the same five outputs, so learning
Task 2 overwrites what Task 1 needed).

The network is trained on Task 1 once, copied, and each copy continues on Task 2:

* without protection (``NoProtection``), and
* with ``FreezeLargest(0.25)``: after Task 1, the 25 % largest ``conv3`` weights are frozen.

For both it prints the old-task (digits 0-4) and new-task (digits 5-9) test accuracy after
Task 2 and the forgetting metric (Chaudhry et al.: best earlier accuracy on Task 1 minus its
final accuracy). Freezing should keep clearly more of Task 1 and learn Task 2 somewhat less.

To finish in well under a minute the stream is small: 1 000 training and about 500 test
images per task from the bundled 5 000-image MNIST subset, one STDP epoch for the
unsupervised layers, 100 conv2 maps (default 250) and 6 decision epochs per task. The
library's full protocol (``spikeforge reproduce continual``) uses more of everything.
Nothing is downloaded; seeds are fixed.

How to run
----------
    python examples/continual.py

Files written to the current directory: ``continual_task2.png`` (old- and new-task accuracy
after every Task-2 epoch, both arms).

Runtime: about 20-30 s on 2 CPU cores shared with other jobs (measured: 20 s and 29 s). The
compiled kernels are cached by numba after the first run; a run with an empty numba cache
took 30 s here as well.

Expected output (approximately; measured on the 2-core development machine)::

    Task('digits 0-4', train=1000, test=500, labels=[0, 1, 2, 3, 4])
    Task('digits 5-9', train=1000, test=500, labels=[0, 1, 2, 3, 4])
    after Task 1: accuracy on digits 0-4: 0.780
    no protection      old task (0-4): 0.652  new task (5-9): 0.796  forgetting: 0.128
    FreezeLargest 25%  old task (0-4): 0.770  new task (5-9): 0.702  forgetting: 0.010
    old-task accuracy kept by freezing vs no protection: 1.18x
"""

import copy

from spikeforge.continual import (
    FreezeLargest,
    NoProtection,
    forgetting,
    retained_accuracy_ratio,
    run_stream,
    split_mnist,
)
from spikeforge.models import MozafariClassifier
from spikeforge.viz import plot_curves

SEED = 0
EPOCHS = 6  # decision-layer (R-STDP) passes per task

tasks = split_mnist(n_train=2000, n_test=1000, seed=SEED)  # two tasks of ~1000 / ~500 images
for task in tasks:
    print(task)

model = MozafariClassifier(
    conv1_epochs=1,  # STDP passes of the unsupervised layers at the start of every task
    conv2_epochs=1,
    conv2_features=100,  # default 250; fewer maps make every layer faster
    stdp_rate_every=100,  # double the STDP rate every 100 images (default 500): faster features
    random_state=SEED,
)

# Task 1 once; both arms then branch from a copy of the same trained network
task1 = run_stream(model, tasks[:1], epochs=EPOCHS, eval_tasks=tasks)  # scored on both tasks
print(f"after Task 1: accuracy on digits 0-4: {task1.accuracy[0, 0]:.3f}")

arms = {"no protection": NoProtection(), "FreezeLargest 25%": FreezeLargest(0.25, layers=("conv3",))}
curves, old_accuracy = {}, {}
for label, strategy in arms.items():
    # first_task=1: the copy has already learned tasks[0]; the strategy's after-task hook for
    # Task 1 runs first (FreezeLargest picks the weights to freeze there); resume=task1 fills
    # in the Task-1 row of the accuracy matrix
    result = run_stream(copy.deepcopy(model), tasks, strategy, epochs=EPOCHS, first_task=1, resume=task1)
    R = result.accuracy  # R[i, j]: accuracy on task j after training task i
    old, new = R[1, 0], R[1, 1]
    old_accuracy[label] = old
    print(f"{label:18s} old task (0-4): {old:.3f}  new task (5-9): {new:.3f}  forgetting: {forgetting(R):.3f}")
    epochs = range(1, EPOCHS + 1)
    curves[f"{label}: old task"] = (epochs, result.curves[1][:, 0], None)
    curves[f"{label}: new task"] = (epochs, result.curves[1][:, 1], None)

ratio = retained_accuracy_ratio(old_accuracy["FreezeLargest 25%"], old_accuracy["no protection"])
print(f"old-task accuracy kept by freezing vs no protection: {ratio:.2f}x")

plot_curves(
    curves,
    xlabel="Task-2 epoch",
    ylabel="test accuracy",
    title="split MNIST: digits 0-4, then 5-9",
    path="continual_task2.png",
)

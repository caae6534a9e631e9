"""CoLaNET continual learning on permuted MNIST (spec colanet.md §4; Larionov, Bazenkov, Kiselev 2506.17169).

Ten tasks: task 0 is the MNIST subset as is, tasks 1–9 apply fixed random pixel permutations.
One :class:`~spikeforge.models.CoLaNET` learns them in sequence with ``partial_fit``
(``passes`` passes of 4 000 images per task, plasticity on) and is tested with plasticity off
on every task seen so far (1 000 images each) after each task. Reported: the accuracy matrix
``A[k, j]`` (after task k, on task j), average accuracy after all tasks (AA), forgetting of the
first task ``A[0, 0] − A[9, 0]``, and the average forgetting measure (FM).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from ..datasets import mnist_subset_split
from ..models import CoLaNET
from ._results import Results

PAPER_AA = (0.92, "arXiv 2506.17169: ≈92 % on each of 10 permuted-MNIST tasks (full MNIST, 15/45 microcolumns)")
PAPER_DROP = (0.04, "arXiv 2506.17169: first task degrades by 4 % after the nine later tasks")


def run_tasks(n_tasks: int, n_microcolumns: int, passes: int, seed: int) -> dict:
    """Train on ``n_tasks`` permuted tasks in sequence; returns the accuracy matrix and timings."""
    Xtr, Xte, ytr, yte = mnist_subset_split(4000, 1000, seed=seed)
    rng = np.random.default_rng(1000 + seed)
    perms = [np.arange(Xtr.shape[1])] + [rng.permutation(Xtr.shape[1]) for _ in range(n_tasks - 1)]
    m = CoLaNET(n_microcolumns=n_microcolumns, random_state=seed)
    A = np.full((n_tasks, n_tasks), np.nan)
    fit_s = 0.0
    for k in range(n_tasks):
        t0 = time.perf_counter()
        for _ in range(passes):
            m.partial_fit(Xtr[:, perms[k]], ytr, classes=np.arange(10))
        fit_s += time.perf_counter() - t0
        for j in range(k + 1):
            A[k, j] = m.score(Xte[:, perms[j]], yte)
    return {"seed": seed, "A": A.tolist(), "fit_seconds": fit_s, "recruited": int(m.recruited().sum())}


def run(*, quick: bool = False, out_dir: Path, seeds: int | None = None, jobs: int = 2, command: str = "") -> Results:
    """Run and write ``out_dir/``. ``quick``: 3 tasks, 30 microcolumns per class, 1 pass."""
    n_seeds = seeds if seeds is not None else 1
    n_tasks, n_mc, passes = (3, 30, 1) if quick else (10, 100, 3)
    t0 = time.perf_counter()
    rows = [run_tasks(n_tasks, n_mc, passes, s) for s in range(n_seeds)]
    cfg = {"n_tasks": n_tasks, "n_microcolumns": n_mc, "passes_per_task": passes, "seeds": list(range(n_seeds)),
           "n_train_per_task": 4000, "n_test_per_task": 1000, "quick": quick}  # fmt: skip
    res = Results("colanet-continual", command, cfg, out_dir)
    As = np.array([r["A"] for r in rows])  # [seeds, k, j]
    last = As[:, -1, :]
    res.add("permuted-mnist5k/colanet/average_accuracy", last.mean(axis=1), paper=PAPER_AA[0], source=PAPER_AA[1])
    res.add("permuted-mnist5k/colanet/first_task_drop", As[:, 0, 0] - As[:, -1, 0], paper=PAPER_DROP[0], source=PAPER_DROP[1])
    fm = [np.mean([np.nanmax(A[:-1, j]) - A[-1, j] for j in range(n_tasks - 1)]) for A in As]
    res.add("permuted-mnist5k/colanet/forgetting_measure", fm)
    res.add("permuted-mnist5k/colanet/min_task_accuracy", last.min(axis=1))
    res.add("permuted-mnist5k/colanet/fit_seconds", [r["fit_seconds"] for r in rows])
    res.add("all/colanet-continual/wall_seconds", time.perf_counter() - t0)
    with warnings.catch_warnings():  # entries above the diagonal (tasks not seen yet) are NaN in every seed
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_A = np.nanmean(As, axis=0)
    res.extra["accuracy_matrix_mean"] = mean_A.tolist()
    res.extra["runs"] = rows
    _plot(mean_A, res.out_dir / "accuracy_matrix.png")
    md = markdown(res)
    res.write(md)
    print(md)
    return res


def _plot(A: np.ndarray, path: Path) -> None:
    from ..viz import save, subplots

    n = A.shape[0]
    fig, ax = subplots(figsize=(0.55 * n + 2, 0.5 * n + 1.5))
    ax.imshow(np.nan_to_num(A, nan=0.0), cmap="viridis", vmin=0.5, vmax=1.0)
    for k in range(n):
        for j in range(k + 1):
            ax.text(j, k, f"{100 * A[k, j]:.0f}", ha="center", va="center", fontsize=7, color="w")
    ax.set_xlabel("tested on task j")
    ax.set_ylabel("after training task k")
    ax.set_title("CoLaNET on permuted MNIST-5k: accuracy (%)", fontsize=9)
    save(fig, path)


def markdown(res: Results) -> str:
    """AA, forgetting and the accuracy matrix next to the paper."""
    g = res.get
    aa, drop, fm = (g(f"permuted-mnist5k/colanet/{k}") for k in ("average_accuracy", "first_task_drop", "forgetting_measure"))
    A = np.asarray(res.extra["accuracy_matrix_mean"])
    c = res.config
    lines = [
        "## Seed 002: CoLaNET continual learning (permuted MNIST)",
        "",
        f"Command: `{res.command}`  ",
        f"{c['n_tasks']} tasks × 4 000 training images ({c['passes_per_task']} pass(es) each), 1 000 test images per task; "
        f"{c['n_microcolumns']} microcolumns per class; {len(c['seeds'])} seed(s).",
        "",
        "| metric | ours | published (full MNIST) |",
        "|---|---|---|",
        f"| average accuracy after all tasks | **{aa.value:.3f}** | ≈0.92 |",
        f"| first-task drop | **{drop.value:.3f}** | 0.04 |",
        f"| forgetting measure (mean over tasks 0…n−2) | {fm.value:.3f} | — |",
        "",
        "Accuracy matrix (row: after task k; column: task j):",
        "",
        "| k \\ j | " + " | ".join(str(j) for j in range(A.shape[0])) + " |",
        "|---" * (A.shape[0] + 1) + "|",
    ]
    for k in range(A.shape[0]):
        lines.append(f"| {k} | " + " | ".join(f"{A[k, j]:.3f}" if j <= k else "" for j in range(A.shape[0])) + " |")
    lines += ["", "Plot: accuracy_matrix.png."]
    return "\n".join(lines) + "\n"

"""Reproduction of seed 001, part 2: supervised STDP + All-LTD on 3 MNIST classes (spec §B, G.15, G.16).

Protocol: for each of several random class triples, the triple's images in the 5 000-image MNIST
subset (≈ 1 500) are shuffled; the last ``n_test`` are held out and the network is trained on
consecutive *distinct* blocks of 100 of the others (spec G.15), tested on the held-out images
after every block. Arms: with and without the adaptive threshold; the full run adds the
notebook's protocol (the same first 100 images re-presented every round). Two scorings:
``accuracy`` counts test images that evoke no spike as errors (spec G.17); ``accuracy_nb``
gives them to the first segment, as the authors' notebook did.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from ..datasets import load_mnist_subset
from ._results import Results, fmt_pm
from ._runner import parallel_map

PAPER_ADAPTIVE = 0.800  # ± 0.130
PAPER_PLAIN = 0.749  # ± 0.198
PAPER_SOURCE = "seed 001 slide (Antonov, ITNT-2024): 80.0 ± 13.0 % / 74.9 ± 19.8 % over a series of runs"
NOTEBOOK_RUN = 0.824  # one run, classes (3, 8, 6), after round 1
NOTEBOOK_SOURCE = "AL notebook, classes (3, 8, 6), round 1 (82.4 %)"


@dataclass
class Config:
    """Settings of the reproduction."""

    n_triples: int = 10
    n_train: int = 1000
    block: int = 100
    n_test: int = 450
    notebook_rounds: int = 10
    notebook_triples: int = 5
    seed: int = 0
    jobs: int = 2


def _triples(n: int, seed: int) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    allt = list(combinations(range(10), 3))
    pick = rng.choice(len(allt), size=n, replace=False)
    return [tuple(int(c) for c in rng.permutation(allt[i])) for i in pick]


def _split(triple, n_test: int, seed: int):
    X, y = load_mnist_subset()
    m = np.isin(y, triple)
    Xs, ys = X[m], y[m]
    order = np.random.default_rng(seed).permutation(ys.shape[0])
    Xs, ys = Xs[order], ys[order]
    return Xs[:-n_test], ys[:-n_test], Xs[-n_test:], ys[-n_test:]


def _evaluate(clf, X, y, first) -> dict:
    scores = clf.decision_function(X)
    silent = scores.sum(axis=1) == 0
    pred = clf.classes_[np.argmax(scores, axis=1)]
    correct = (pred == y) & ~silent
    nb_pred = np.where(silent, first, pred)  # notebook: silence goes to the first drawn class
    return {"accuracy": float(correct.mean()), "accuracy_nb": float((nb_pred == y).mean()),
            "silent": float(silent.mean())}


def _task(args) -> dict:
    from ..models import STDPAllLTDClassifier

    triple, arm, run_seed, cfg = args
    Xtr, ytr, Xte, yte = _split(triple, cfg["n_test"], run_seed)
    clf = STDPAllLTDClassifier(adaptive_threshold=arm != "plain", random_state=run_seed, n_jobs=1)
    curve = []
    t0 = time.perf_counter()
    n_blocks = cfg["notebook_rounds"] if arm == "notebook" else cfg["n_train"] // cfg["block"]
    for b in range(n_blocks):
        sl = slice(0, cfg["block"]) if arm == "notebook" else slice(b * cfg["block"], (b + 1) * cfg["block"])
        clf.partial_fit(Xtr[sl], ytr[sl], classes=sorted(triple))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ev = _evaluate(clf, Xte, yte, triple[0])
        ev["n_train"] = (b + 1) * cfg["block"]
        curve.append(ev)
    return {"triple": list(triple), "arm": arm, "seed": run_seed, "curve": curve,
            "seconds": time.perf_counter() - t0, "n_test": int(yte.shape[0])}


def _warmup() -> None:
    from ..models import STDPAllLTDClassifier

    X, y = load_mnist_subset()
    idx = np.concatenate([np.flatnonzero(y == 0)[:2], np.flatnonzero(y == 1)[:2]])
    clf = STDPAllLTDClassifier(random_state=0, n_jobs=1, active_ms=5, rest_ms=2).fit(X[idx], y[idx])
    clf.decision_function(X[idx[:2]])


def run(*, quick: bool = False, out_dir: Path, seeds: int | None = None, jobs: int = 2, command: str = "") -> Results:
    """Run the reproduction and write ``out_dir/{results.json, results.md, learning_curves.png}``.

    ``quick``: 5 triples, 200 training images, 300 test images, both arms, no notebook protocol
    (≈ 2 min on 2 idle cores).
    """
    cfg = Config(jobs=jobs)
    if quick:
        cfg.n_triples, cfg.n_train, cfg.n_test, cfg.notebook_rounds = 5, 200, 300, 0
    if seeds is not None:
        cfg.n_triples = max(int(seeds), 1)
    triples = _triples(cfg.n_triples, cfg.seed)
    arms = ["adaptive", "plain"] + (["notebook"] if cfg.notebook_rounds else [])
    tasks = [(t, arm, 1000 + i, asdict(cfg)) for arm in arms for i, t in enumerate(triples)
             if arm != "notebook" or i < cfg.notebook_triples]
    t0 = time.perf_counter()
    rows = parallel_map(_task, tasks, jobs=jobs, desc="stdp-all-ltd runs", warmup=_warmup)
    wall = time.perf_counter() - t0

    res = Results("stdp-all-ltd", command, asdict(cfg) | {"quick": quick, "triples": triples}, out_dir)
    res.extra["runs"] = rows
    res.extra["wall_seconds"] = wall
    for arm in arms:
        runs = [r for r in rows if r["arm"] == arm]
        method = {"adaptive": "stdp+all-ltd+adaptive-threshold", "plain": "stdp+all-ltd",
                  "notebook": "stdp+all-ltd+adaptive-threshold(notebook-protocol)"}[arm]
        paper = {"adaptive": PAPER_ADAPTIVE, "plain": PAPER_PLAIN, "notebook": NOTEBOOK_RUN}[arm]
        src = NOTEBOOK_SOURCE if arm == "notebook" else PAPER_SOURCE
        first = [r["curve"][0] for r in runs]
        last = [r["curve"][-1] for r in runs]
        res.add(f"mnist-3class/{method}/accuracy@100", [c["accuracy"] for c in first], paper=paper, source=src)
        res.add(f"mnist-3class/{method}/accuracy_nb@100", [c["accuracy_nb"] for c in first], paper=paper, source=src)
        res.add(f"mnist-3class/{method}/silent@100", [c["silent"] for c in first])
        n_last = runs[0]["curve"][-1]["n_train"]
        res.add(f"mnist-3class/{method}/accuracy@{n_last}", [c["accuracy"] for c in last])
        res.add(f"mnist-3class/{method}/accuracy_nb@{n_last}", [c["accuracy_nb"] for c in last])
        res.add(f"mnist-3class/{method}/silent@{n_last}", [c["silent"] for c in last])
        res.add(f"mnist-3class/{method}/best_accuracy", [max(c["accuracy"] for c in r["curve"]) for r in runs])
        res.add(f"mnist-3class/{method}/seconds_per_run", [r["seconds"] for r in runs])
    res.add("all/stdp-all-ltd/wall_seconds", wall)
    _plot(res, rows, arms)
    md = markdown(res, arms)
    res.write(md)
    print(md)
    return res


def _curve_stats(rows, arm, key):
    runs = [r for r in rows if r["arm"] == arm]
    x = [c["n_train"] for c in runs[0]["curve"]]
    vals = np.array([[c[key] for c in r["curve"]] for r in runs])
    return x, vals.mean(axis=0), vals.std(axis=0)


def _plot(res: Results, rows, arms) -> None:
    from ..viz import plot_curves

    labels = {"adaptive": "STDP + All-LTD, adaptive threshold", "plain": "STDP + All-LTD",
              "notebook": "adaptive, same 100 images each round (x = images presented)"}
    curves = {labels[a]: _curve_stats(rows, a, "accuracy") for a in arms}
    plot_curves(curves, xlabel="training images", ylabel="held-out accuracy (silent = error)",
                title="Seed 001: STDP + All-LTD on 3 MNIST classes (mean ± std over class triples)",
                reference={"seed: 80.0 % (adaptive)": PAPER_ADAPTIVE, "seed: 74.9 % (plain)": PAPER_PLAIN},
                path=res.out_dir / "learning_curves.png")
    curves_nb = {labels[a]: _curve_stats(rows, a, "accuracy_nb") for a in arms}
    plot_curves(curves_nb, xlabel="training images", ylabel="held-out accuracy (silent → first class)",
                title="Same runs scored as the notebook (silent images → first segment)",
                reference={"seed: 80.0 %": PAPER_ADAPTIVE}, path=res.out_dir / "learning_curves_notebook_scoring.png")
    curves_s = {labels[a]: _curve_stats(rows, a, "silent") for a in arms}
    plot_curves(curves_s, xlabel="training images", ylabel="fraction of test images with no spike",
                title="Silent test images", path=res.out_dir / "silent_fraction.png")


def markdown(res: Results, arms) -> str:
    """Results next to the seed's numbers."""
    c = res.config
    lines = [
        "## Seed 001: supervised STDP + All-LTD (3 MNIST classes)",
        "",
        f"Command: `{res.command}`  ",
        f"Protocol: {c['n_triples']} random class triples from the 5 000-image MNIST subset; held-out "
        f"{c['n_test']} images per triple; training in distinct blocks of {c['block']} (spec G.15), "
        "test after each block; mean ± population std over triples. `acc` counts silent test images as "
        "errors; `acc (nb)` gives them to the first class of the drawn triple, as the authors' notebook did.",
        "",
        "| arm | acc @100 | acc (nb) @100 | silent @100 | seed | acc @end | acc (nb) @end | silent @end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = {"adaptive": "stdp+all-ltd+adaptive-threshold", "plain": "stdp+all-ltd",
             "notebook": "stdp+all-ltd+adaptive-threshold(notebook-protocol)"}
    for arm in arms:
        m = names[arm]
        a = res.get(f"mnist-3class/{m}/accuracy@100")
        nb = res.get(f"mnist-3class/{m}/accuracy_nb@100")
        s = res.get(f"mnist-3class/{m}/silent@100")
        end_keys = [x.key for x in res.metrics if x.key.startswith(f"mnist-3class/{m}/accuracy@") and not x.key.endswith("@100")]
        end = res.get(end_keys[0]) if end_keys else a
        n_end = end.key.rsplit("@", 1)[1]
        nbe = res.get(f"mnist-3class/{m}/accuracy_nb@{n_end}")
        se = res.get(f"mnist-3class/{m}/silent@{n_end}")
        seed = {"adaptive": "80.0 ± 13.0", "plain": "74.9 ± 19.8", "notebook": "82.4 (one run)"}[arm]
        lines.append(
            f"| {m} | **{fmt_pm(a.value, a.std)}** | {fmt_pm(nb.value, nb.std)} | {fmt_pm(s.value, s.std)} | {seed} | "
            f"{fmt_pm(end.value, end.std)} (@{n_end}) | {fmt_pm(nbe.value, nbe.std)} | {fmt_pm(se.value, se.std)} |"
        )
    lines += ["", f"Wall time: {res.extra['wall_seconds']:.0f} s with {c['jobs']} worker(s). "
              "Plots: `learning_curves.png`, `learning_curves_notebook_scoring.png`, `silent_fraction.png`."]
    return "\n".join(lines) + "\n"

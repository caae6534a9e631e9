"""Reproduction of seed 002's CoLaNET on MNIST: spiking vs digital (spec colanet.md §1, §2, §6 #1–2).

Protocol: the real MNIST subset, stratified 4 000 train / 1 000 test, one split per seed
(split seed = model seed); :class:`~spikeforge.models.CoLaNET` and
:class:`~spikeforge.models.DigitalCoLaNET` with their defaults; test accuracy (no answer =
error), answer rate, fit time; online learning curve; microcolumn prototypes of seed 0.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix

from ..datasets import mnist_subset_split
from ..models import CoLaNET, DigitalCoLaNET
from ._results import Results, fmt_pm
from ._runner import parallel_map

PAPER = {
    "spiking": (0.92, "Spiffy (arXiv 2506.18306): single CoLaNET instance, full MNIST 60k/10k"),
    "digital": (None, "arXiv 2503.17111: 'indistinguishable' from spiking; no number published"),
}
MODELS = {"spiking": CoLaNET, "digital": DigitalCoLaNET}


def _task(args: tuple[str, int, bool]) -> dict:
    kind, seed, quick = args
    Xtr, Xte, ytr, yte = mnist_subset_split(4000, 1000, seed=seed)
    params = dict(random_state=seed)
    if quick:
        params.update(n_epochs=1, n_microcolumns=15)
    clf = MODELS[kind](**params)
    t0 = time.perf_counter()
    clf.fit(Xtr, ytr)
    fit_s = time.perf_counter() - t0
    # one more pass, timed alone: the speed criterion is one 4 000-image training pass
    t0 = time.perf_counter()
    counts = clf.out_counts(Xte)
    pred_s = time.perf_counter() - t0
    pred = clf.classes_[np.argmax(counts, axis=1)]
    answered = counts.sum(axis=1) > 0
    acc = float(np.mean((pred == yte) & answered))
    x, curve = clf.learning_curve(window=200)
    row = {
        "kind": kind, "seed": seed, "accuracy": acc, "answer_rate": float(answered.mean()),
        "fit_s": fit_s, "fit_images_per_s": 4000 * clf.n_epochs / fit_s, "predict_images_per_s": 1000 / pred_s,
        "epochs": int(clf.n_epochs), "curve_x": x.tolist(), "curve": curve.tolist(),
        "recruited": int(clf.recruited().sum()), "confusion": confusion_matrix(yte, pred, labels=range(10)).tolist(),
    }  # fmt: skip
    if seed == 0:
        row["prototypes"] = clf.prototypes().tolist()
    return row


def run(*, quick: bool = False, out_dir: Path, seeds: int | None = None, jobs: int = 2, command: str = "") -> Results:
    """Run and write ``out_dir/{results.json, results.md, *.png}``. ``quick``: 1 seed, 1 epoch, 15 microcolumns."""
    n_seeds = seeds if seeds is not None else (1 if quick else 3)
    tasks = [(k, s, quick) for s in range(n_seeds) for k in MODELS]
    t0 = time.perf_counter()
    rows = parallel_map(_task, tasks, jobs=jobs, desc="colanet")
    wall = time.perf_counter() - t0
    cfg = {"n_train": 4000, "n_test": 1000, "seeds": list(range(n_seeds)), "quick": quick,
           "spiking": CoLaNET().get_params(), "digital": DigitalCoLaNET().get_params()}  # fmt: skip
    if quick:
        for k in ("spiking", "digital"):
            cfg[k].update(n_epochs=1, n_microcolumns=15)
    res = Results("colanet", command, cfg, out_dir)
    for k in MODELS:
        cell = [r for r in rows if r["kind"] == k]
        paper, src = PAPER[k]
        res.add(f"mnist5k/{k}/accuracy", [r["accuracy"] for r in cell], paper=paper, source=src)
        res.add(f"mnist5k/{k}/answer_rate", [r["answer_rate"] for r in cell])
        res.add(f"mnist5k/{k}/fit_seconds", [r["fit_s"] for r in cell])
        res.add(f"mnist5k/{k}/train_images_per_s", [r["fit_images_per_s"] for r in cell])
        res.add(f"mnist5k/{k}/predict_images_per_s", [r["predict_images_per_s"] for r in cell])
        res.add(f"mnist5k/{k}/recruited_microcolumns", [r["recruited"] for r in cell])
    gap = [a["accuracy"] - b["accuracy"] for a, b in zip(
        [r for r in rows if r["kind"] == "spiking"], [r for r in rows if r["kind"] == "digital"])]  # fmt: skip
    res.add("mnist5k/spiking-digital/accuracy_gap", gap, paper=0.0, source=PAPER["digital"][1])
    res.add("all/colanet/wall_seconds", wall)
    res.extra["runs"] = [{k: v for k, v in r.items() if k != "prototypes"} for r in rows]
    _plots(res, rows)
    md = markdown(res)
    res.write(md)
    print(md)
    return res


def _plots(res: Results, rows: list[dict]) -> None:
    from ..viz import plot_confusion, plot_curves, save, subplots

    curves = {}
    for k in MODELS:
        cell = [r for r in rows if r["kind"] == k]
        x = np.asarray(cell[0]["curve_x"])
        ys = np.array([r["curve"][: len(x)] for r in cell])
        curves[f"{k} (online, answer before learning)"] = (x, ys.mean(0), ys.std(0) if len(cell) > 1 else None)
        plot_confusion(np.sum([r["confusion"] for r in cell], axis=0), title=f"CoLaNET {k}: test confusion (summed over seeds)",
                       path=res.out_dir / f"confusion_{k}.png")  # fmt: skip
    plot_curves(curves, xlabel="training presentations", ylabel="accuracy over the last 200",
                title="CoLaNET on MNIST-5k: learning curve", reference={"Spiffy single instance (full MNIST)": 0.92},
                path=res.out_dir / "learning_curve.png")  # fmt: skip
    for r in rows:
        if "prototypes" not in r:
            continue
        P = np.asarray(r["prototypes"])  # [C, M, 784]
        C, M = P.shape[:2]
        m_show = min(M, 15)
        fig, axes = subplots(C, m_show, figsize=(m_show * 0.6, C * 0.6))
        v = np.abs(P).max()
        for c in range(C):
            for m in range(m_show):
                ax = axes[c, m]
                ax.imshow(P[c, m].reshape(28, 28), cmap="RdBu_r", vmin=-v, vmax=v)
                ax.set_xticks([])
                ax.set_yticks([])
                if m == 0:
                    ax.set_ylabel(str(c), fontsize=7)
        fig.suptitle(f"CoLaNET {r['kind']} microcolumn weights (seed 0; rows = digit, red > 0)", fontsize=9)
        save(fig, res.out_dir / f"prototypes_{r['kind']}.png")


def markdown(res: Results) -> str:
    """Results next to the published numbers."""
    cfg = res.config
    lines = [
        "## Seed 002: CoLaNET on MNIST (spiking vs digital)",
        "",
        f"Command: `{res.command}`  ",
        f"Protocol: real MNIST subset, stratified {cfg['n_train']}/{cfg['n_test']} split per seed, "
        f"{len(cfg['seeds'])} seed(s); accuracy counts 'no answer' as an error; mean ± std over seeds.",
        "",
        "| network | test accuracy | answer rate | recruited microcolumns | fit (s) | train img/s | predict img/s | published |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k in MODELS:
        g = lambda m, k=k: res.get(f"mnist5k/{k}/{m}")  # noqa: E731
        a = g("accuracy")
        pub = "92 % (Spiffy, single instance, full MNIST)" if k == "spiking" else "'indistinguishable' (2503.17111, no number)"
        lines.append(
            f"| {k} | **{fmt_pm(a.value, a.std)}** | {fmt_pm(g('answer_rate').value, g('answer_rate').std)} | "
            f"{g('recruited_microcolumns').value:.0f} | {g('fit_seconds').value:.1f} | "
            f"{g('train_images_per_s').value:.0f} | {g('predict_images_per_s').value:.0f} | {pub} |"
        )
    gap = res.get("mnist5k/spiking-digital/accuracy_gap")
    lines += [
        "",
        f"Spiking − digital accuracy: {fmt_pm(gap.value, gap.std)} (must be within 0.03).  ",
        "Training time is for all epochs of `fit` (images/s counts every presentation); "
        f"wall time {res.get('all/colanet/wall_seconds').value:.0f} s. Plots: learning_curve.png, "
        "prototypes_*.png, confusion_*.png.",
    ]
    return "\n".join(lines) + "\n"

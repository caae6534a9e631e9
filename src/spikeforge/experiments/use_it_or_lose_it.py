"""Reproduction of seed 001, part 3: "use it or lose it" weight regularisation (spec §D, G.24–G.26).

Two STDP + All-LTD networks with the adaptive threshold, identical seeds, trained on the known
classes (7, 4, 6) of the 5 000-image MNIST subset in one pass; one with the decay
``w·exp(−((t − t_last)/τ_prun)²)``, τ_prun = 5·3·500 ms = 7 500 ms, and the final 63 Hz / 50 ms
sweep. Both are tested (frozen, threshold −52 mV) on four sets: uniform noise scaled to the mean
MNIST intensity, the same noise blurred per image (σ = 2 px, min–max normalised, rescaled),
held-out known digits and unknown digits (9, 2, 1). We report total excitatory spikes per set,
the unknown-vs-known spike deficit ``1 − mean(unknown)/mean(known)`` and known-digit accuracy.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..datasets import load_mnist_subset
from ._results import Results, fmt_pm
from ._runner import parallel_map

KNOWN = (7, 4, 6)
UNKNOWN = (9, 2, 1)
#: seed 001 slide / UL article: total spikes without / with regularisation (1 500 images per set)
PAPER_SPIKES = {"noise": (3162, 1), "blurred_noise": (3265, 1), "known": (416, 344), "unknown": (346, 240)}
PAPER_SOURCE = "seed 001 slide + UL article (Antonov & Sukhov 2024), total excitatory spikes"
PAPER_DEFICIT = (0.168, 0.302)  # 1 − 346/416, 1 − 240/344
PAPER_ACCURACY = 0.886  # regularised notebook run, known digits
SETS = ("noise", "blurred_noise", "known", "unknown")


@dataclass
class Config:
    """Settings of the reproduction."""

    n_test_per_class: int = 100
    n_noise: int = 300
    n_unknown_per_class: int = 100
    n_train: int | None = None  # None: every remaining known-class image
    seeds: tuple[int, ...] = (0, 1)
    prune_tau_ms: str = "auto"
    long_tau_ms: float | None = 30000.0  # an extra arm with a 4× longer τ_prun (None: skip)
    jobs: int = 2


def _data(cfg: dict, seed: int):
    """Training images, the four test sets and the training mean intensity."""
    from scipy.ndimage import gaussian_filter

    X, y = load_mnist_subset()
    rng = np.random.default_rng(seed)
    tr_idx, te_idx = [], []
    for c in KNOWN:
        idx = rng.permutation(np.flatnonzero(y == c))
        te_idx.extend(idx[: cfg["n_test_per_class"]])
        tr_idx.extend(idx[cfg["n_test_per_class"]:])
    tr_idx = rng.permutation(np.asarray(tr_idx))
    if cfg["n_train"]:
        tr_idx = tr_idx[: cfg["n_train"]]
    unk_idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[: cfg["n_unknown_per_class"]] for c in UNKNOWN])
    Xtr, ytr = X[tr_idx].astype(np.float64), y[tr_idx]
    mean = Xtr.mean()
    noise = rng.random((cfg["n_noise"], 784))
    noise *= mean / noise.mean()
    blurred = np.stack([gaussian_filter(img, sigma=2.0) for img in rng.random((cfg["n_noise"], 28, 28))])
    lo = blurred.min(axis=(1, 2), keepdims=True)
    hi = blurred.max(axis=(1, 2), keepdims=True)
    blurred = ((blurred - lo) / (hi - lo)).reshape(-1, 784)
    blurred *= mean / blurred.mean()
    sets = {
        "noise": (np.clip(noise, 0, 255), None),
        "blurred_noise": (np.clip(blurred, 0, 255), None),
        "known": (X[np.asarray(te_idx)].astype(np.float64), y[np.asarray(te_idx)]),
        "unknown": (X[unk_idx].astype(np.float64), y[unk_idx]),
    }
    return Xtr, ytr, sets, float(mean)


def _task(args) -> dict:
    from ..models import STDPAllLTDClassifier

    seed, reg, cfg = args
    Xtr, ytr, sets, mean = _data(cfg, seed)
    tau = _ARM_TAU[reg](cfg)
    clf = STDPAllLTDClassifier(random_state=seed, prune_tau_ms=tau, prune_in_training=reg != "sweep", n_jobs=1)
    t0 = time.perf_counter()
    clf.fit(Xtr, ytr)
    fit_s = time.perf_counter() - t0
    out = {"seed": seed, "regularised": reg, "prune_tau_ms": tau, "fit_seconds": fit_s,
           "train_spikes_last_100": float(clf.train_counts_[-100:].sum(axis=1).mean()), "n_train": int(Xtr.shape[0]), "mean_intensity": mean}
    for name, (Xs, ys) in sets.items():
        counts = clf.spike_counts(Xs)
        out[f"{name}_spikes"] = int(counts.sum())
        out[f"{name}_per_image"] = float(counts.sum(axis=1).mean())
        out[f"{name}_n"] = int(Xs.shape[0])
        if name == "known":
            scores = np.stack([counts[:, clf.segment_ == c].sum(axis=1) for c in range(3)], axis=1)
            silent = scores.sum(axis=1) == 0
            pred = clf.classes_[scores.argmax(axis=1)]
            out["known_accuracy"] = float(((pred == ys) & ~silent).mean())
            out["known_silent"] = float(silent.mean())
    out["deficit"] = 1.0 - out["unknown_per_image"] / max(out["known_per_image"], 1e-12)
    out["weights"] = clf.weights_.astype(np.float32)
    out["classes"] = clf.classes_.tolist()
    return out


def _warmup() -> None:
    from .stdp_all_ltd import _warmup as w

    w()


def run(*, quick: bool = False, out_dir: Path, seeds: int | None = None, jobs: int = 2, command: str = "") -> Results:
    """Run the reproduction and write ``out_dir/{results.json, results.md, *.png}``.

    ``quick``: one seed, 600 training images, 150 images per test set (≈ 2 min on 2 cores).
    """
    cfg = Config(jobs=jobs)
    if quick:
        cfg.seeds, cfg.n_train, cfg.n_noise, cfg.n_test_per_class, cfg.n_unknown_per_class = (0,), 600, 150, 50, 50
    if seeds is not None:
        cfg.seeds = tuple(range(max(int(seeds), 1)))
    arms = ("none", "spec", "sweep") + (("long",) if cfg.long_tau_ms else ())
    tasks = [(s, reg, asdict(cfg)) for s in cfg.seeds for reg in arms]
    t0 = time.perf_counter()
    rows = parallel_map(_task, tasks, jobs=jobs, desc="use-it-or-lose-it", warmup=_warmup)
    wall = time.perf_counter() - t0
    weights = {(r["seed"], r["regularised"]): r.pop("weights") for r in rows}

    res = Results("use-it-or-lose-it", command, asdict(cfg) | {"quick": quick, "known": KNOWN, "unknown": UNKNOWN}, out_dir)
    res.extra["runs"] = rows
    res.extra["wall_seconds"] = wall
    res.extra["arms"] = {a: _ARM_TAU[a](asdict(cfg)) for a in arms}
    by_arm = {a: sorted((r for r in rows if r["regularised"] == a), key=lambda r: r["seed"]) for a in arms}
    plain = by_arm["none"]
    res.add("mnist-known-vs-unknown/stdp+all-ltd/spike_deficit", [r["deficit"] for r in plain],
            paper=PAPER_DEFICIT[0], source="UL article (17 %)")
    res.add("mnist-known/stdp+all-ltd/accuracy", [r["known_accuracy"] for r in plain])
    for name in SETS:
        res.add(f"mnist-{name}/stdp+all-ltd/total_spikes", [r[f"{name}_spikes"] for r in plain],
                paper=PAPER_SPIKES[name][0], source=PAPER_SOURCE)
    for arm in arms[1:]:
        reg = by_arm[arm]
        m = _method(arm)
        for name in SETS:
            p_without, p_with = PAPER_SPIKES[name]
            res.add(f"mnist-{name}/{m}/total_spikes", [r[f"{name}_spikes"] for r in reg], paper=p_with,
                    source=PAPER_SOURCE)
            res.add(f"mnist-{name}/{m}/spike_ratio", [b[f"{name}_spikes"] / max(a[f"{name}_spikes"], 1)
                                                      for a, b in zip(plain, reg)],
                    paper=p_with / p_without, source=PAPER_SOURCE)
        res.add(f"mnist-known-vs-unknown/{m}/spike_deficit", [r["deficit"] for r in reg],
                paper=PAPER_DEFICIT[1], source="UL article (30 %)")
        res.add(f"mnist-known-vs-unknown/{m}/deficit_growth",
                [b["deficit"] / a["deficit"] if a["deficit"] > 0 else float("nan") for a, b in zip(plain, reg)],
                paper=PAPER_DEFICIT[1] / PAPER_DEFICIT[0], source="seed 001 slide (1.8×)")
        res.add(f"mnist-known/{m}/accuracy", [r["known_accuracy"] for r in reg],
                paper=PAPER_ACCURACY, source="UL notebook, regularised run (88.6 %)")
        res.add(f"mnist-known/{m}/accuracy_change", [b["known_accuracy"] - a["known_accuracy"]
                                                     for a, b in zip(plain, reg)])
        res.add(f"mnist-train/{m}/spikes_per_image_last_100", [r["train_spikes_last_100"] for r in reg])
    res.add("mnist-train/stdp+all-ltd/spikes_per_image_last_100", [r["train_spikes_last_100"] for r in plain])
    res.add("all/use-it-or-lose-it/wall_seconds", wall)
    _plots(res, weights, cfg.seeds[0], arms)
    md = markdown(res)
    res.write(md)
    print(md)
    return res


_ARM_TAU = {"none": lambda c: None, "spec": lambda c: c["prune_tau_ms"], "sweep": lambda c: c["prune_tau_ms"],
            "long": lambda c: c["long_tau_ms"]}
#: short labels of the arms (tables and plots)
_ARM_LABEL = {"none": "without", "spec": "τ_prun = 7.5 s, k_p = 1 in training (spec)",
              "sweep": "τ_prun = 7.5 s, k_p = 0 in training (decay only in the final sweep)",
              "long": "τ_prun = 30 s, k_p = 1 in training"}


def _method(arm: str) -> str:
    return "stdp+all-ltd+use-it-or-lose-it" + {"spec": "", "sweep": "(kp=0-in-training)", "long": "(tau=long)"}[arm]


def _plots(res: Results, weights: dict, seed: int, arms) -> None:
    import matplotlib.pyplot as plt

    from ..viz import save

    w0 = weights[(seed, "none")]
    panels = [("a) without regularisation", w0)] + [
        (f"{'bcd'[k]}) " + {"spec": "τ 7.5 s, k_p = 1", "sweep": "τ 7.5 s, sweep only", "long": "τ 30 s, k_p = 1"}[a],
         weights[(seed, a)])
        for k, a in enumerate(arms[1:])
    ]
    vmax = float(max(w.max() for _, w in panels))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.4), layout="constrained")
    neuron = 0
    for ax, (title, w) in zip(np.ravel(axes), panels):
        im = ax.imshow(w[:, neuron].reshape(28, 28), cmap="hot_r", vmin=0, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.colorbar(im, ax=axes, shrink=0.8, label="weight")
    first_class = sorted(res.config["known"])[0]
    fig.suptitle(f"784 input weights of excitatory neuron {neuron} (segment of digit {first_class})", fontsize=9)
    save(fig, res.out_dir / "weights_one_neuron.png")
    for tag, w in [("without", w0)] + [(f"with_{a}", weights[(seed, a)]) for a in arms[1:]]:
        n = w.shape[1]
        cols = 10
        rows_ = int(np.ceil(n / cols))
        fig, axes = plt.subplots(rows_, cols, figsize=(cols * 0.9, rows_ * 0.95), layout="constrained")
        for i, ax in enumerate(np.ravel(axes)):
            ax.axis("off")
            if i < n:
                ax.imshow(w[:, i].reshape(28, 28), cmap="hot_r", vmin=0, vmax=vmax)
        fig.suptitle(f"All input weights {tag} regularisation (rows = class segments)", fontsize=9)
        save(fig, res.out_dir / f"weights_all_{tag}.png")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(len(SETS))
    width = 0.8 / len(arms)
    for k, arm in enumerate(arms):
        m = "stdp+all-ltd" if arm == "none" else _method(arm)
        vals = [res.get(f"mnist-{s}/{m}/total_spikes") for s in SETS]
        label = _ARM_LABEL[arm]
        ax.bar(x - 0.4 + width * (k + 0.5), [v.value for v in vals], width, yerr=[v.std or 0 for v in vals], label=label)
    ax.set_yscale("symlog")
    ax.set_xticks(x)
    ax.set_xticklabels(["uniform noise", "blurred noise", "known digits", "unknown digits"], fontsize=8)
    ax.set_ylabel("total excitatory spikes")
    ax.legend(fontsize=8)
    ax.set_title("Responses of the trained networks (mean ± std over seeds)", fontsize=9)
    save(fig, res.out_dir / "spike_totals.png")


def _growth(g: float) -> str:
    return "growth undefined: no deficit without" if not np.isfinite(g) else f"growth {g:.2f}×"


def markdown(res: Results) -> str:
    """Results next to the seed's table."""
    c = res.config
    arms = list(res.extra["arms"])
    names = {"spec": f"τ_prun = {c['prune_tau_ms']} (5·3·500 ms = 7.5 s), k_p = 1 in training",
             "sweep": f"τ_prun = {c['prune_tau_ms']}, k_p = 0 in training (final sweep only)",
             "long": f"τ_prun = {c['long_tau_ms'] or 0:.0f} ms, k_p = 1 in training"}
    lines = [
        "## Seed 001: \"use it or lose it\" weight regularisation",
        "",
        f"Command: `{res.command}`  ",
        f"Protocol: known classes {tuple(c['known'])}, unknown {tuple(c['unknown'])}; STDP + All-LTD with adaptive "
        f"threshold trained in one pass on the known classes of the MNIST subset; {len(c['seeds'])} seed(s), mean ± std. "
        f"Test sets: {c['n_noise']} noise images each, {3 * c['n_test_per_class']} known and "
        f"{3 * c['n_unknown_per_class']} unknown digits (the seed used 1 500 per set, so compare ratios, spec G.24).",
        "",
        "Total excitatory spikes per test set (ratio to the unregularised network in brackets):",
        "",
        "| test set | without | " + " | ".join(names[a] for a in arms[1:]) + " | seed without | seed with |",
        "|---|---|" + "---|" * (len(arms) - 1) + "---|---|",
    ]
    for s in SETS:
        a = res.get(f"mnist-{s}/stdp+all-ltd/total_spikes")
        cells = []
        for arm in arms[1:]:
            b = res.get(f"mnist-{s}/{_method(arm)}/total_spikes")
            r = res.get(f"mnist-{s}/{_method(arm)}/spike_ratio")
            cells.append(f"{fmt_pm(b.value, b.std, 0)} (**{r.value:.3f}**)")
        pw, pr = PAPER_SPIKES[s]
        lines.append(f"| {s.replace('_', ' ')} | {fmt_pm(a.value, a.std, 0)} | " + " | ".join(cells) + f" | {pw} | {pr} |")
    d0 = res.get("mnist-known-vs-unknown/stdp+all-ltd/spike_deficit")
    a0 = res.get("mnist-known/stdp+all-ltd/accuracy")
    t0 = res.get("mnist-train/stdp+all-ltd/spikes_per_image_last_100")
    lines += ["", "| quantity | without | " + " | ".join(names[a] for a in arms[1:]) + " | seed |",
              "|---|---|" + "---|" * (len(arms) - 1) + "---|"]
    row_d = [f"{fmt_pm(res.get(f'mnist-known-vs-unknown/{_method(a)}/spike_deficit').value, res.get(f'mnist-known-vs-unknown/{_method(a)}/spike_deficit').std)}"
             f" ({_growth(res.get(f'mnist-known-vs-unknown/{_method(a)}/deficit_growth').value)})" for a in arms[1:]]
    row_a = [f"{fmt_pm(res.get(f'mnist-known/{_method(a)}/accuracy').value, res.get(f'mnist-known/{_method(a)}/accuracy').std)}"
             f" ({res.get(f'mnist-known/{_method(a)}/accuracy_change').value:+.3f})" for a in arms[1:]]
    row_t = [f"{res.get(f'mnist-train/{_method(a)}/spikes_per_image_last_100').value:.1f}" for a in arms[1:]]
    lines += [
        f"| unknown-vs-known spike deficit 1 − unknown/known | {fmt_pm(d0.value, d0.std)} | " + " | ".join(row_d)
        + " | 17 % → 30 % (1.8×) |",
        f"| known-digit accuracy (silent = error) | {fmt_pm(a0.value, a0.std)} | " + " | ".join(row_a) + " | 88.6 % (with) |",
        f"| training spikes per image, last 100 images | {t0.value:.1f} | " + " | ".join(row_t) + " | — |",
        "",
        f"Wall time: {res.extra['wall_seconds']:.0f} s. Figures: `weights_one_neuron.png` (the seed's figure), "
        "`weights_all_*.png`, `spike_totals.png`.",
    ]
    return "\n".join(lines) + "\n"

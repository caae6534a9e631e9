"""Goryunov & Klinshov's analytical model of CoLaNET training vs simulation (spec colanet.md §5).

For several GRF widths σ: a binary task (class 0 on [0, 1], class 1 on [2, 3]), sensory
neurons with Gaussian fields (density 100 per unit, ``f_max·T_p = 20``) and Poisson counts,
classified by :class:`~spikeforge.models.DigitalCoLaNET` with ``d_H = −D = −d``, no stability
and a near-constant threshold. Measured: the number of microcolumns per class that answer
(≥ 2 % of their class's test examples) vs ``N ≈ (b − a)/(2l)``; the incubation time of each
microcolumn vs ``t_0``; the learning curve vs the prediction. The rate constant is our
corrected one (see :mod:`spikeforge.models.goryunov`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..models import DigitalCoLaNET
from ..models.goryunov import GoryunovTheory, grf_binary_task
from ._results import Results

SIGMAS = (0.01, 0.015, 0.02, 0.03)
PEAK_COUNT = 20
DENSITY = 100.0
D = 0.05
THETA = 5.0
W_MIN, W_MAX = -0.5, 0.5
M = 25
SOURCE = "Goryunov, Klinshov, Kiselev (seed 002 talk; DCNA 2025): N ≈ (b − a)/2l"


def _network(seed: int) -> DigitalCoLaNET:
    return DigitalCoLaNET(
        n_microcolumns=M, n_epochs=1, input_scale=1.0, presentation_tacts=PEAK_COUNT, counts="poisson",
        threshold=THETA, threshold_weight_coef=0.01, hebbian=-D, dopamine=D, stability_ratio=0.0,
        forcing_decay=1.0, w_min=W_MIN, w_max=W_MAX, random_state=seed,
    )  # fmt: skip


def _winners(m: DigitalCoLaNET, X: np.ndarray) -> np.ndarray:
    """Winning neuron per example with expected counts (−1: no answer)."""
    pot = (X * PEAK_COUNT) @ m.weights_[0]
    th = m.theta_[0]
    resp = pot >= th
    return np.where(resp.any(1), np.argmax(np.where(resp, pot - th, -np.inf), 1), -1)


def simulate(sigma: float, seed: int, n_train: int, chunk: int) -> dict:
    """Train on ``n_train`` examples in chunks; record test accuracy, microcolumn births and answers."""
    X, y, _, centres = grf_binary_task(n_train, sigma=sigma, density=DENSITY, rng=np.random.default_rng(seed))
    Xt, yt, _, _ = grf_binary_task(2000, sigma=sigma, density=DENSITY, rng=np.random.default_rng(10_000 + seed))
    m = _network(seed)
    n_neu = 2 * M
    born = np.full(n_neu, np.nan)
    answers = np.full(n_neu, np.nan)
    W0 = m.resource_rule().resource_zero
    ts, acc = [], []
    for s in range(0, n_train, chunk):
        m.partial_fit(X[s : s + chunk], y[s : s + chunk], classes=[0, 1])
        t = (s + chunk) / 2  # examples per class
        grown = m.resource_[0].max(axis=0) > W0 + 1e-12
        born[np.isnan(born) & grown] = t
        win = _winners(m, Xt)
        answered = np.isin(np.arange(n_neu), win)
        answers[np.isnan(answers) & answered] = t
        ts.append(t)
        acc.append(float(np.mean((win >= 0) & (win // M == yt))))
    win = _winners(m, Xt)
    share = np.array([np.sum(win == j) / np.sum(yt == j // M) for j in range(n_neu)])
    active = share >= 0.02
    # width χ of each active microcolumn's weight profile (second moment of w⁺ over the centres)
    chis = []
    for j in np.flatnonzero(active):
        wp = np.clip(m.weights_[0][:, j], 0, None)
        mu = np.sum(wp * centres) / wp.sum()
        chis.append(float(np.sqrt(np.sum(wp * (centres - mu) ** 2) / wp.sum())))
    incub = (answers - born)[active]
    return {
        "sigma": sigma, "seed": seed, "t": ts, "accuracy": acc,
        "active_per_class": [int(active[:M].sum()), int(active[M:].sum())],
        "chi": float(np.median(chis)) if chis else float("nan"),
        "incubation": [float(v) for v in incub if np.isfinite(v)],
        "final_accuracy": acc[-1],
    }  # fmt: skip


def theory(sigma: float, chi: float) -> GoryunovTheory:
    """The analytical model for this setting (one class interval of length 1)."""
    return GoryunovTheory(sigma, PEAK_COUNT, 1.0, 0.0, 1.0, DENSITY, THETA, D, W_MIN, W_MAX, chi)


def run(*, quick: bool = False, out_dir: Path, seeds: int | None = None, jobs: int = 2, command: str = "") -> Results:
    """Run and write ``out_dir/``. ``quick``: 1 seed, 2 000 examples."""
    n_seeds = seeds if seeds is not None else (1 if quick else 3)
    n_train, chunk = (2000, 50) if quick else (4000, 20)
    t0 = time.perf_counter()
    rows = [simulate(s, seed, n_train, chunk) for s in SIGMAS for seed in range(n_seeds)]
    cfg = {"sigmas": SIGMAS, "seeds": list(range(n_seeds)), "n_train": n_train, "chunk": chunk, "peak_count": PEAK_COUNT,
           "density": DENSITY, "d": D, "theta": THETA, "w_min": W_MIN, "w_max": W_MAX, "n_microcolumns": M,
           "quick": quick}  # fmt: skip
    res = Results("colanet-theory", command, cfg, out_dir)
    summary = []
    for s in SIGMAS:
        cell = [r for r in rows if r["sigma"] == s]
        chi = float(np.nanmedian([r["chi"] for r in cell]))
        th = theory(s, chi)
        key = f"grf1d-sigma{s:g}"
        n_meas = [v for r in cell for v in r["active_per_class"]]
        res.add(f"{key}/digital/microcolumns", n_meas, paper=th.n_microcolumns, source=SOURCE + " (prediction)")
        res.add(f"{key}/digital/microcolumns_error", [v - th.n_microcolumns for v in n_meas])
        inc = [v for r in cell for v in r["incubation"]]
        res.add(f"{key}/digital/incubation_examples", inc or [np.nan], paper=th.t_0, source="t_0, corrected prefactor")
        res.add(f"{key}/digital/final_accuracy", [r["final_accuracy"] for r in cell])
        res.add(f"{key}/digital/chi", chi)
        summary.append({"sigma": s, "l": th.activity_width, "N_pred": th.n_microcolumns, "chi": chi, "t_0": th.t_0, "t_1": th.t_1,
                        "w_t0": th.w_t0, "w_1": th.w_1, "rate": th.rate})  # fmt: skip
    res.extra["theory"] = summary
    res.extra["runs"] = rows
    res.add("all/colanet-theory/wall_seconds", time.perf_counter() - t0)
    _plots(res, rows)
    md = markdown(res)
    res.write(md)
    print(md)
    return res


def _plots(res: Results, rows: list[dict]) -> None:
    from ..viz import save, subplots

    fig, axes = subplots(1, 2, figsize=(11, 4))
    for s in SIGMAS:
        cell = [r for r in rows if r["sigma"] == s]
        t = np.asarray(cell[0]["t"])
        a = np.mean([r["accuracy"] for r in cell], axis=0)
        chi = float(np.nanmedian([r["chi"] for r in cell]))
        (line,) = axes[0].plot(t, a, label=f"σ={s:g} measured")
        axes[0].plot(t, theory(s, chi).accuracy(t), "--", color=line.get_color(), label=f"σ={s:g} theory")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("training examples per class")
    axes[0].set_ylabel("test accuracy (no answer = error)")
    axes[0].set_title("learning curves: simulation vs Goryunov's model", fontsize=9)
    axes[0].legend(fontsize=6, ncol=2)
    sig = np.asarray(SIGMAS)
    meas = [np.mean([v for r in rows if r["sigma"] == s for v in r["active_per_class"]]) for s in SIGMAS]
    err = [np.std([v for r in rows if r["sigma"] == s for v in r["active_per_class"]]) for s in SIGMAS]
    grid = np.linspace(sig.min() * 0.8, sig.max() * 1.2, 100)
    axes[1].plot(grid, [theory(g, g).n_microcolumns for g in grid], "k--", label="N = (b − a)/2l")
    axes[1].fill_between(grid, [theory(g, g).n_microcolumns - 1 for g in grid],
                         [theory(g, g).n_microcolumns + 1 for g in grid], color="gray", alpha=0.2, label="±1")  # fmt: skip
    axes[1].errorbar(sig, meas, yerr=err, fmt="o", label="measured (per class)")
    axes[1].set_xlabel("σ of the receptive fields")
    axes[1].set_ylabel("microcolumns per class")
    axes[1].legend(fontsize=7)
    axes[1].set_title("number of microcolumns", fontsize=9)
    save(fig, res.out_dir / "theory.png")


def markdown(res: Results) -> str:
    """Measured vs predicted, per σ."""
    lines = [
        "## Seed 002: Goryunov's analytical model of CoLaNET training",
        "",
        f"Command: `{res.command}`  ",
        "1-D binary task, GRF coding (density 100/unit, peak mean count 20), Poisson counts; digital CoLaNET with "
        "d_H = −D; mean ± std over classes × seeds. Prefactor of the resource growth corrected (spec §5.3): "
        "k = d·L/(b − a) with L = ∫P(count ≥ 1)dx ≈ l, used consistently in t_0 and t_1.",
        "",
        "| σ | l | microcolumns predicted (b−a)/2l | measured | within ±1 | χ (measured) | incubation t_0 predicted | measured | final accuracy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for th in res.extra["theory"]:
        key = f"grf1d-sigma{th['sigma']:g}"
        n = res.get(f"{key}/digital/microcolumns")
        inc = res.get(f"{key}/digital/incubation_examples")
        acc = res.get(f"{key}/digital/final_accuracy")
        ok = "yes" if abs(n.value - th["N_pred"]) <= 1 else "no"
        lines.append(
            f"| {th['sigma']:g} | {th['l']:.3f} | {th['N_pred']:.2f} | {n.value:.2f} ± {n.std or 0:.2f} | {ok} | "
            f"{th['chi']:.3f} | {th['t_0']:.0f} | {inc.value:.0f} ± {inc.std or 0:.0f} | {acc.value:.3f} |"
        )
    lines += ["", "Plot: theory.png (learning curves vs prediction; microcolumn count vs σ)."]
    return "\n".join(lines) + "\n"

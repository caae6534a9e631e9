"""Plots for reproductions and users: weight maps, confusion matrices, learning curves, rasters.

Every function draws with matplotlib's non-interactive backend and, given ``path``, saves a
PNG and closes the figure; without ``path`` it returns the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_confusion", "plot_curves", "plot_raster", "plot_weight_maps", "save"]


def save(fig, path: str | Path | None, dpi: int = 120):
    """Save ``fig`` to ``path`` (creating folders) and close it; return the figure if no path."""
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_weight_maps(
    weight_map: np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    title: str = "",
    path: str | Path | None = None,
):
    """Heatmaps of weights over features × receptive fields, one panel per class.

    Parameters
    ----------
    weight_map : ndarray of shape [n_features, n_fields, n_classes]
        e.g. :meth:`spikeforge.models.CorrelationClassifier.weight_map`.
    """
    n_feat, n_fields, n_cls = weight_map.shape
    cols = min(n_cls, 5)
    rows = int(np.ceil(n_cls / cols))
    height = max(2.0, min(0.12 * n_feat + 1.0, 8.0))
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.4 * cols + 0.8, height * rows + 0.6), squeeze=False, layout="constrained"
    )
    vmax = float(weight_map.max()) or 1.0
    for c in range(rows * cols):
        ax = axes[c // cols][c % cols]
        if c >= n_cls:
            ax.axis("off")
            continue
        im = ax.imshow(weight_map[:, :, c], aspect="auto", cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(str(class_names[c]) if class_names is not None else f"class {c}", fontsize=9)
        ax.set_xlabel("GRF field", fontsize=8)
        if c % cols == 0:
            ax.set_ylabel("feature", fontsize=8)
            if feature_names is not None and n_feat <= 32:
                ax.set_yticks(range(n_feat))
                ax.set_yticklabels(feature_names, fontsize=6)
        else:
            ax.set_yticks([])
        ax.tick_params(labelsize=6)
    fig.colorbar(im, ax=axes, shrink=0.8, label="weight")
    if title:
        fig.suptitle(title, fontsize=10)
    return save(fig, path)


def plot_confusion(
    cm: np.ndarray,
    *,
    labels: Sequence[str] | None = None,
    title: str = "",
    path: str | Path | None = None,
):
    """Row-normalised confusion matrix (rows: true class) with counts annotated."""
    cm = np.asarray(cm, dtype=np.float64)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = cm.shape[0]
    fig, ax = plt.subplots(figsize=(0.45 * n + 2.2, 0.45 * n + 1.8))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ticks = labels if labels is not None else [str(i) for i in range(n)]
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(ticks, fontsize=7)
    ax.set_yticklabels(ticks, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title, fontsize=9)
    return save(fig, path)


def plot_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None]],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    reference: Mapping[str, float] | None = None,
    path: str | Path | None = None,
):
    """Line plot of several curves with optional ±std bands.

    Parameters
    ----------
    curves : mapping label -> (x, mean, std or None)
    reference : mapping label -> y, drawn as dashed horizontal lines (e.g. published values)
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (x, mean, std) in curves.items():
        x = np.asarray(x)
        mean = np.asarray(mean)
        (line,) = ax.plot(x, mean, marker="o", ms=3, label=label)
        if std is not None:
            std = np.asarray(std)
            ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    for label, y in (reference or {}).items():
        ax.axhline(y, ls="--", lw=1, color="gray")
        ax.text(ax.get_xlim()[0], y, f" {label}", va="bottom", fontsize=7, color="gray")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return save(fig, path)


def plot_raster(
    spikes: np.ndarray,
    *,
    dt_ms: float = 1.0,
    title: str = "",
    path: str | Path | None = None,
):
    """Spike raster of a time-first 0/1 array ``[T, N]`` (neurons on the y axis)."""
    spikes = np.asarray(spikes)
    t, n = np.nonzero(spikes)
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.scatter(t * dt_ms, n, s=2, marker="|", color="k")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    if title:
        ax.set_title(title, fontsize=10)
    return save(fig, path)

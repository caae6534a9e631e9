"""Plots for reproductions and users: weight maps, confusion matrices, learning curves, rasters.

Figures are plain :class:`matplotlib.figure.Figure` objects, not registered with pyplot: the
module never changes the user's matplotlib backend, and a figure that is dropped (or whose
drawing fails) is freed like any object. Given ``path``, a function saves a PNG and returns
the path; without ``path`` it returns the figure (Jupyter displays it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "plot_confusion",
    "plot_curves",
    "plot_input_weights",
    "plot_raster",
    "plot_weight_maps",
    "save",
    "subplots",
]


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None,
             layout: str | None = None, **kwargs):
    """``(figure, axes)`` like ``matplotlib.pyplot.subplots``, without pyplot's global state.

    ``kwargs`` go to :meth:`matplotlib.figure.Figure.subplots` (``sharex``, ``squeeze``,
    ``width_ratios``, ...).
    """
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save(fig, path: str | Path | None, dpi: int = 120):
    """Save ``fig`` to ``path`` (creating folders) and return the path; return the figure if no path."""
    if path is None:
        return fig
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
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
    weight_map = np.asarray(weight_map, dtype=float)
    if weight_map.ndim != 3:
        raise ValueError(f"weight_map must be [n_features, n_fields, n_classes]; got shape {weight_map.shape}")
    n_feat, n_fields, n_cls = weight_map.shape
    if class_names is not None and len(class_names) != n_cls:
        raise ValueError(f"class_names needs {n_cls} labels; got {len(class_names)}")
    cols = min(n_cls, 5)
    rows = int(np.ceil(n_cls / cols))
    height = max(2.0, min(0.12 * n_feat + 1.0, 8.0))
    fig, axes = subplots(
        rows, cols, figsize=(2.4 * cols + 0.8, height * rows + 0.6), squeeze=False, layout="constrained"
    )
    vmax = float(np.abs(weight_map).max()) or 1.0
    vmin = -vmax if weight_map.min() < 0 else 0.0  # signed weights: a symmetric scale
    for c in range(rows * cols):
        ax = axes[c // cols][c % cols]
        if c >= n_cls:
            ax.axis("off")
            continue
        im = ax.imshow(weight_map[:, :, c], aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
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
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square [n_classes, n_classes] matrix; got shape {cm.shape}")
    n = cm.shape[0]
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels needs {n} entries; got {len(labels)}")
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = subplots(figsize=(0.45 * n + 2.2, 0.45 * n + 1.8))
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
    fig, ax = subplots(figsize=(6, 4))
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
    spikes,
    *,
    dt_ms: float = 1.0,
    window_ms: tuple[float, float] | None = None,
    title: str = "",
    path: str | Path | None = None,
):
    """Spike raster (neurons on the y axis, time in ms on the x axis).

    Parameters
    ----------
    spikes : one of
        * a time-first 0/1 array ``[T, N]`` (step ``t`` drawn at ``t · dt_ms``);
        * a pair ``(times_ms, neuron)`` of equal-length 1-D arrays, as
          ``Network.run(record_spikes=True).spikes[name]`` holds them;
        * a mapping ``name -> (times_ms, neuron)`` (``RunResult.spikes``): one panel per
          population, top to bottom (None entries skipped).
    dt_ms : float
        Step of the dense form (ms); ignored for recorded spike times.
    window_ms : (start, stop), optional
        Only spikes with ``start <= t < stop`` (ms) are drawn.
    """
    if isinstance(spikes, Mapping):
        panels = [(str(k), v) for k, v in spikes.items() if v is not None]
        if not panels:
            raise ValueError("no recorded spikes to draw (was the run made with record_spikes=True?)")
    else:
        panels = [("", spikes)]
    events = [(name, *_spike_events(sp, dt_ms)) for name, sp in panels]
    fig, axes = subplots(len(events), 1, figsize=(7, 1.2 + 1.8 * len(events)), sharex=True, squeeze=False)
    for ax, (name, t, n) in zip(axes[:, 0], events):
        if window_ms is not None:
            keep = (t >= window_ms[0]) & (t < window_ms[1])
            t, n = t[keep], n[keep]
        ax.scatter(t, n, s=2, marker="|", color="k")
        ax.set_ylabel(f"{name} neuron" if name else "neuron")
    axes[-1, 0].set_xlabel("time (ms)")
    if window_ms is not None:
        axes[-1, 0].set_xlim(*window_ms)
    if title:
        axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def _spike_events(spikes, dt_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """``(times_ms, neuron)`` from a dense ``[T, N]`` array or a ``(times_ms, neuron)`` pair."""
    if isinstance(spikes, tuple) and len(spikes) == 2:
        t, n = (np.asarray(a) for a in spikes)
        if t.ndim != 1 or t.shape != n.shape:
            raise ValueError(f"(times_ms, neuron) must be two 1-D arrays of equal length; got {t.shape}, {n.shape}")
        return t.astype(float), n
    arr = np.asarray(spikes)
    if arr.ndim != 2:
        raise ValueError(f"a dense raster must be [T, N]; got shape {arr.shape}")
    t, n = np.nonzero(arr)
    return t * float(dt_ms), n


def plot_input_weights(
    weights: np.ndarray,
    *,
    image_shape: tuple[int, int] = (28, 28),
    neurons: Sequence[int] | None = None,
    ncols: int = 10,
    titles: Sequence[str] | None = None,
    cmap: str = "hot_r",
    title: str = "",
    path: str | Path | None = None,
):
    """The input weights of each neuron drawn as an image (Diehl & Cook style receptive fields).

    Parameters
    ----------
    weights : ndarray [n_inputs, n_neurons]
        E.g. ``model.weights_`` or ``network.connections["XE"].weights``; ``n_inputs`` must equal
        ``image_shape[0] · image_shape[1]``.
    neurons : indices to draw (default: all), in panel order.
    ncols : panels per row.
    titles : one label per drawn neuron (e.g. its assigned class), optional.
    All panels share one colour scale from 0 to the largest drawn weight (symmetric around 0
    when some weights are negative).
    """
    w = np.asarray(weights, dtype=float)
    h, wd = image_shape
    if w.ndim != 2 or w.shape[0] != h * wd:
        raise ValueError(f"weights must be [n_inputs = {h * wd}, n_neurons] for images {image_shape}; got {w.shape}")
    idx = np.arange(w.shape[1]) if neurons is None else np.asarray(neurons, dtype=int)
    if idx.size == 0 or idx.min() < 0 or idx.max() >= w.shape[1]:
        raise ValueError(f"neurons must be indices in [0, {w.shape[1]}); got {idx.tolist()}")
    if titles is not None and len(titles) != idx.size:
        raise ValueError(f"titles needs one label per drawn neuron ({idx.size}); got {len(titles)}")
    ncols = max(1, min(int(ncols), idx.size))
    nrows = int(np.ceil(idx.size / ncols))
    vmax = float(np.abs(w[:, idx]).max()) or 1.0
    vmin = -vmax if w[:, idx].min() < 0 else 0.0
    fig, axes = subplots(nrows, ncols, figsize=(0.95 * ncols + 0.8, 0.95 * nrows + 0.5), squeeze=False,
                             layout="constrained")
    im = None
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k < idx.size:
            im = ax.imshow(w[:, idx[k]].reshape(h, wd), cmap=cmap, vmin=vmin, vmax=vmax)
            if titles is not None:
                ax.set_title(str(titles[k]), fontsize=7)
    fig.colorbar(im, ax=axes, shrink=0.8, label="weight")
    if title:
        fig.suptitle(title, fontsize=9)
    return save(fig, path)

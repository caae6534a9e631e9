"""``spikeforge fit``: train a local-learning model (a scikit-learn estimator of :mod:`spikeforge.models`) on a
bundled or local dataset from the command line, and write the fitted model (safetensors) and a summary.

::

    spikeforge fit correlation --data iris --set rule=memristive
    spikeforge fit stdp-all-ltd --data mnist --n-train 1000 --n-test 500 --set adaptive_threshold=true
    spikeforge fit diehl-cook --data /path/to/mnist-idx --params params.json --out runs/dc
    spikeforge fit --config runs/dc/summary.json --seed 1 --out runs/dc-seed1   # repeat a run

Data: ``iris``, ``breast_cancer``, ``wine``, ``digits`` (scikit-learn's, stratified split), ``mnist`` (the bundled
5 000-image subset, stratified split) or a folder of MNIST/EMNIST IDX files (its train and test files).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

#: model name -> (module, class)
MODELS = {
    "correlation": ("spikeforge.models.correlation", "CorrelationClassifier"),
    "diehl-cook": ("spikeforge.models.diehl_cook", "DiehlCook2015"),
    "stdp-all-ltd": ("spikeforge.models.stdp_all_ltd", "STDPAllLTDClassifier"),
    "colanet": ("spikeforge.models.colanet", "CoLaNET"),
    "digital-colanet": ("spikeforge.models.colanet", "DigitalCoLaNET"),
    "mozafari": ("spikeforge.models.mozafari", "MozafariClassifier"),
}
_TABULAR = ("iris", "breast_cancer", "wine", "digits")
_DEFAULTS = {"seed": 0, "n_train": None, "n_test": None, "params": {}}


def model_class(name: str) -> type:
    """The estimator class of a ``spikeforge fit`` model name."""
    from importlib import import_module

    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    module, cls = MODELS[name]
    return getattr(import_module(module), cls)


def parse_value(text: str) -> Any:
    """A ``--set`` value: JSON if it parses (numbers, true/false, null, lists, strings in quotes), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def load_split(data: str, *, seed: int, n_train: int | None, n_test: int | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``X_train, X_test, y_train, y_test`` of a ``--data`` value (see the module docstring)."""
    from sklearn.model_selection import train_test_split

    from .datasets import load_mnist_idx, load_tabular, mnist_subset_split

    if data.lower() in _TABULAR:
        X, y = load_tabular(data.lower())
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    elif data.lower() == "mnist":
        Xtr, Xte, ytr, yte = mnist_subset_split(n_train or 4000, n_test or 1000, seed=seed)
    else:
        folder = Path(data).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(2, f"--data is neither {', '.join(_TABULAR)}, mnist nor a folder of IDX files",
                                    str(folder))
        Xtr, ytr = load_mnist_idx(folder, "train")
        Xte, yte = load_mnist_idx(folder, "test")
        Xtr, Xte = Xtr.reshape(len(Xtr), -1), Xte.reshape(len(Xte), -1)
    if n_train is not None:
        Xtr, ytr = Xtr[:n_train], ytr[:n_train]
    if n_test is not None:
        Xte, yte = Xte[:n_test], yte[:n_test]
    return Xtr, Xte, ytr, yte


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """The run's config from ``--config FILE`` (a previous ``summary.json``) overridden by the options given."""
    cfg: dict[str, Any] = {**_DEFAULTS, "params": {}}  # a fresh params dict: the defaults are never mutated
    if args.config is not None:
        stored = json.loads(Path(args.config).expanduser().read_text(encoding="utf-8"))
        stored = stored.get("config", stored)
        unknown = sorted(set(stored) - {"model", "data", "seed", "n_train", "n_test", "params"})
        if unknown:
            raise ValueError(f"{args.config}: unknown config key(s) {unknown}")
        cfg.update(stored)
        cfg["params"] = dict(cfg.get("params") or {})
    for key in ("model", "data", "seed", "n_train", "n_test"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if args.params is not None:
        loaded = json.loads(Path(args.params).expanduser().read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError(f"{args.params}: expected a JSON object of estimator parameters")
        cfg["params"].update(loaded)
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes key=value; got {item!r}")
        cfg["params"][key] = parse_value(value)
    missing = [k for k in ("model", "data") if cfg.get(k) is None]
    if missing:
        raise ValueError(f"missing {' and '.join(missing)} (give them, or a --config file that has them)")
    return cfg


def run(args: argparse.Namespace) -> int:
    """Body of ``spikeforge fit``."""
    from .experiments import environment

    cfg = resolve(args)
    cls = model_class(cfg["model"])
    est = cls()
    valid = est.get_params()
    bad = sorted(set(cfg["params"]) - set(valid))
    if bad:
        raise ValueError(f"{', '.join(bad)}: not parameters of {cls.__name__}; its parameters: {', '.join(sorted(valid))}")
    params = dict(cfg["params"])
    if "random_state" in valid and "random_state" not in params:
        params["random_state"] = cfg["seed"]
    est.set_params(**params)
    Xtr, Xte, ytr, yte = load_split(str(cfg["data"]), seed=cfg["seed"], n_train=cfg["n_train"], n_test=cfg["n_test"])
    out = Path(args.out) if args.out else Path("runs") / f"fit-{cfg['model']}-{Path(str(cfg['data'])).name}-seed{cfg['seed']}"
    print(f"fitting {cls.__name__} on {cfg['data']} ({len(ytr)} train / {len(yte)} test) -> {out}/")
    t0 = time.perf_counter()
    est.fit(Xtr, ytr)
    fit_s = time.perf_counter() - t0
    acc = float(est.score(Xte, yte))
    out.mkdir(parents=True, exist_ok=True)
    model_path = est.save(out / "model.safetensors") if hasattr(est, "save") else None
    summary = {
        "config": cfg,  # as given (random_state follows the seed unless params set it)
        "estimator_params": {k: v for k, v in est.get_params().items()},
        "estimator": cls.__name__,
        "n_train": int(len(ytr)),
        "n_test": int(len(yte)),
        "test_accuracy": acc,
        "fit_seconds": fit_s,
        "model": str(model_path) if model_path is not None else None,
        "environment": environment(),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"test accuracy {acc:.4f} (fit {fit_s:.1f} s); {out / 'summary.json'}")
    return 0


def add_parser(sub: Any) -> None:
    """The ``fit`` subcommand of :func:`spikeforge.cli.build_parser`."""
    from .cli import (  # the CLI's integer types (called from build_parser)
        _non_negative_int,
        _positive_int,
    )

    f = sub.add_parser("fit", help="train a local-learning model (scikit-learn estimator) and save it (safetensors)",
                       description=__doc__.split("\n")[0])
    f.add_argument("model", nargs="?", choices=list(MODELS), default=None, help="required unless --config sets it")
    f.add_argument("--data", default=None, help=f"{', '.join(_TABULAR)}, mnist, or a folder of MNIST/EMNIST IDX files")
    f.add_argument("--config", default=None, metavar="PATH", help="a previous run's summary.json (options override it)")
    f.add_argument("--params", default=None, metavar="PATH", help="JSON object of estimator parameters")
    f.add_argument("--set", action="append", metavar="KEY=VALUE", help="one estimator parameter (JSON value); repeatable")
    f.add_argument("--seed", type=_non_negative_int, default=None, help="split and random_state (default 0)")
    f.add_argument("--n-train", type=_positive_int, default=None, help="use the first N training examples")
    f.add_argument("--n-test", type=_positive_int, default=None, help="use the first N test examples")
    f.add_argument("--out", default=None, help="run folder (default runs/fit-MODEL-DATA-seedS)")
    f.set_defaults(fn=run)

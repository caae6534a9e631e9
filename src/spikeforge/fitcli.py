"""``spikeforge fit``: train a local-learning model (a scikit-learn estimator of :mod:`spikeforge.models`) on a
bundled or local dataset from the command line, and write the fitted model (safetensors) and a summary.

::

    spikeforge fit correlation --data iris --set plasticity=memristive
    spikeforge fit stdp-all-ltd --data mnist --classes 7,4,6 --n-train 300 --n-test 150 --set adaptive_threshold=true
    spikeforge fit diehl-cook --data /path/to/mnist-idx --params params.json --out runs/dc
    spikeforge fit --config runs/dc/summary.json --seed 1 --out runs/dc-seed1   # repeat a run

Data: ``iris``, ``breast_cancer``, ``wine``, ``digits`` (scikit-learn's, stratified split), ``mnist`` (the bundled
5 000-image subset, stratified split) or a folder of MNIST/EMNIST IDX files (its train and test files; the
file-name prefix of an EMNIST set, e.g. ``emnist-digits-``, is found when the folder holds one set, else
``--prefix`` chooses). ``--classes`` keeps only the examples of some labels (train and test).
"""

from __future__ import annotations

import argparse
import json
import textwrap
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
_DEFAULTS = {"seed": 0, "n_train": None, "n_test": None, "params": {}, "classes": None, "prefix": None}
#: fraction of the selected examples that the bundled datasets' stratified split holds out for testing
#: (tabular sets; ``mnist`` with ``--classes``)
_TEST_FRACTION = {"tabular": 0.3, "mnist": 0.2}

#: ``spikeforge fit --help``: plain text, wrapped here (argparse prints it as it is, like the examples)
DESCRIPTION = textwrap.fill(
    "Train a local-learning model (a scikit-learn estimator of spikeforge.models) on a bundled dataset "
    "(iris, breast_cancer, wine, digits: 70/30 stratified split; mnist: the bundled 5 000-image MNIST "
    "subset, 4 000/1 000 stratified split) or on a folder of MNIST/EMNIST IDX files (its train and test "
    "files), and write the fitted model (model.safetensors) and summary.json to the run folder. "
    "summary.json repeats the run (--config); options given with it override the file.", width=79
)
#: examples shown after the options by ``spikeforge fit --help`` (the module docstring's, as plain text)
EXAMPLES = "examples:\n" + "\n".join(
    "  " + line.strip() for line in __doc__.split("::", 1)[1].split("\n\n")[1].splitlines() if line.strip()
)


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


def idx_prefix(folder: Path, prefix: str | None) -> str:
    """The file-name prefix of the IDX set to read in ``folder``: ``prefix`` when given, else the prefix of
    the folder's only training set (``""`` for MNIST's ``train-images-idx3-ubyte``, ``"emnist-digits-"``
    for ``emnist-digits-train-images-idx3-ubyte``; ``.gz`` or not).

    Raises
    ------
    ValueError
        ``prefix`` not given and the folder holds several training sets (the message lists them).
    """
    from .datasets.files import _idx_prefixes

    if prefix is not None:
        return prefix
    found = _idx_prefixes(folder)
    if len(found) > 1:
        listed = ", ".join(f"{p or '(none)'} ({p}train-images-idx3-ubyte)" for p in found)
        raise ValueError(f"{folder} holds several IDX training sets, prefixes {listed}; choose one with --prefix "
                         f"(e.g. --prefix {found[-1]})")
    return found[0] if found else ""  # none: load_mnist_idx names the file it looked for


def _keep_classes(X: np.ndarray, y: np.ndarray, classes: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
    """The examples of ``X, y`` whose label is in ``classes`` (all of them for None)."""
    if classes is None:
        return X, y
    keep = np.isin(y, classes)
    return X[keep], y[keep]


def _check_classes(classes: list[int] | None, labels: np.ndarray, data: str) -> None:
    """ValueError naming the ``classes`` that are not ``labels`` of the data."""
    if classes is None:
        return
    present = {int(v) for v in np.unique(labels)}
    missing = [c for c in classes if c not in present]
    if missing:
        raise ValueError(f"--classes {', '.join(map(str, missing))}: not label(s) of {data}; its labels: "
                         f"{', '.join(map(str, sorted(present)))}")


def load_split(data: str, *, seed: int, n_train: int | None, n_test: int | None, classes: list[int] | None = None,
               prefix: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``X_train, X_test, y_train, y_test`` of a ``--data`` value (see the module docstring).

    ``classes`` keeps only the examples of those labels, train and test: a tabular set is split 70/30
    (stratified by ``seed``) after the selection; ``mnist`` is then the bundled subset's images of those
    labels split 80/20 (the 4 000/1 000 proportions). ``n_train`` / ``n_test`` then keep the first examples.
    ``prefix`` is the IDX file-name prefix of a folder (see :func:`idx_prefix`; None: found).

    Raises
    ------
    ValueError
        A label of ``classes`` the data does not have; ``prefix`` given for data that is not a folder; a
        malformed file (see :func:`~spikeforge.datasets.load_mnist_idx`).
    FileNotFoundError
        ``data`` is neither a bundled dataset nor a folder; the folder lacks the IDX files.
    """
    from sklearn.model_selection import train_test_split

    from .datasets import load_mnist_idx, load_mnist_subset, load_tabular, mnist_subset_split

    key = data.lower()
    if prefix is not None and (key in _TABULAR or key == "mnist"):
        raise ValueError(f"--prefix {prefix!r} applies to a folder of IDX files, not to --data {data}")
    if key in _TABULAR:
        X, y = load_tabular(key)
        _check_classes(classes, y, data)
        X, y = _keep_classes(X, y, classes)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=_TEST_FRACTION["tabular"], stratify=y, random_state=seed)
    elif key == "mnist" and classes is None:
        Xtr, Xte, ytr, yte = mnist_subset_split(n_train or 4000, n_test or 1000, seed=seed)
    elif key == "mnist":
        X, y = load_mnist_subset()
        _check_classes(classes, y, data)
        X, y = _keep_classes(X, y, classes)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=_TEST_FRACTION["mnist"], stratify=y, random_state=seed)
    else:
        folder = Path(data).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(2, f"--data is neither {', '.join(_TABULAR)}, mnist nor a folder of IDX files",
                                    str(folder))
        prefix = idx_prefix(folder, prefix)
        Xtr, ytr = load_mnist_idx(folder, "train", prefix=prefix)
        Xte, yte = load_mnist_idx(folder, "test", prefix=prefix)
        _check_classes(classes, np.concatenate([ytr, yte]), f"{folder} ({prefix}... IDX files)")
        Xtr, ytr = _keep_classes(Xtr.reshape(len(Xtr), -1), ytr, classes)
        Xte, yte = _keep_classes(Xte.reshape(len(Xte), -1), yte, classes)
    if n_train is not None:
        Xtr, ytr = Xtr[:n_train], ytr[:n_train]
    if n_test is not None:
        Xte, yte = Xte[:n_test], yte[:n_test]
    return Xtr, Xte, ytr, yte


#: the keys of a ``spikeforge fit`` config (``summary.json``'s ``"config"``)
_CONFIG_KEYS = ("model", "data", "seed", "n_train", "n_test", "params", "classes", "prefix")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_stored(cfg: dict[str, Any], source: str) -> None:
    """ValueError naming ``source`` for a config value of the wrong kind (a hand-edited summary.json)."""
    problems = []
    for key in ("model", "data"):
        if cfg.get(key) is not None and not isinstance(cfg[key], str):
            problems.append(f"{key} must be a string; got {cfg[key]!r}")
    if not (_is_int(cfg.get("seed")) and cfg["seed"] >= 0):
        problems.append(f"seed must be a non-negative integer; got {cfg.get('seed')!r}")
    for key in ("n_train", "n_test"):
        if cfg.get(key) is not None and not (_is_int(cfg[key]) and cfg[key] >= 1):
            problems.append(f"{key} must be a positive integer or null; got {cfg[key]!r}")
    if not isinstance(cfg.get("params"), dict):
        problems.append(f"params must be a JSON object; got {cfg.get('params')!r}")
    classes = cfg.get("classes")
    if classes is not None and not (isinstance(classes, list) and len(classes) >= 2 and all(map(_is_int, classes))):
        problems.append(f"classes must be a list of at least two integer labels or null; got {classes!r}")
    if cfg.get("prefix") is not None and not isinstance(cfg["prefix"], str):
        problems.append(f"prefix must be a string or null; got {cfg['prefix']!r}")
    if problems:
        raise ValueError(f"{source}: {'; '.join(problems)}")


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """The run's config from ``--config FILE`` (a previous ``summary.json``) overridden by the options given.

    Raises
    ------
    ValueError
        The file is not JSON, not a JSON object, has unknown keys or values of the wrong kind; ``--params``
        is not a JSON object; a ``--set`` without ``=``; no model or data.
    """
    cfg: dict[str, Any] = {**_DEFAULTS, "params": {}}  # a fresh params dict: the defaults are never mutated
    if args.config is not None:
        stored = json.loads(Path(args.config).expanduser().read_text(encoding="utf-8"))
        if isinstance(stored, dict) and "config" in stored:
            stored = stored["config"]
        if not isinstance(stored, dict):
            raise ValueError(f"{args.config}: expected a JSON object (a summary.json of spikeforge fit, or its "
                             f"'config' entry); got {type(stored).__name__}")
        unknown = sorted(set(stored) - set(_CONFIG_KEYS))
        if unknown:
            raise ValueError(f"{args.config}: unknown config key(s) {unknown}; known: {', '.join(_CONFIG_KEYS)}")
        cfg.update(stored)
        params = {} if cfg.get("params") is None else cfg["params"]  # null: none
        cfg["params"] = dict(params) if isinstance(params, dict) else params  # a copy; anything else: refused below
        _check_stored(cfg, args.config)
    if args.data is not None and args.prefix is None:
        cfg["prefix"] = None  # the file's prefix belongs to the file's data: found again in the new folder
    for key in ("model", "data", "seed", "n_train", "n_test", "prefix"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if args.classes is not None:
        cfg["classes"] = _classes_of(args.classes)
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


#: value of ``--classes all``: every label (undoes a --config file's selection)
_ALL_CLASSES = "all"


def _class_tokens(text: str) -> list[int] | str:
    """argparse type of one ``--classes`` word: comma-separated integer labels (``7,4,6``), or ``all``."""
    if text.strip().lower() == _ALL_CLASSES:
        return _ALL_CLASSES
    try:
        return [int(t) for t in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integer labels such as 7,4,6 or 7 4 6 (or 'all'); got {text!r}") from None


def _classes_of(words: list[list[int] | str]) -> list[int] | None:
    """The labels of the ``--classes`` words (each a list from :func:`_class_tokens`), in order, without
    repeats; None for ``all``."""
    if any(w == _ALL_CLASSES for w in words):
        if len(words) > 1:
            raise ValueError("--classes all stands alone (every label)")
        return None
    labels = list(dict.fromkeys(label for w in words for label in w))
    if len(labels) < 2:
        raise ValueError(f"--classes needs at least two labels to classify; got {labels}")
    return labels


def _fit_and_score(est: Any, params: dict[str, Any], user_params: dict[str, Any], Xtr: np.ndarray, ytr: np.ndarray,
                   Xte: np.ndarray, yte: np.ndarray) -> tuple[float, float]:
    """Set ``params`` on ``est``, fit it, score it: ``(test accuracy, fit seconds)``.

    Estimators check most parameters only when they fit. A TypeError raised there while the user set
    parameters (``user_params``, from --set / --params / the --config file) is taken for a value of the
    wrong type and becomes a ValueError that names the exception and the parameters; without user
    parameters it is a bug and propagates as it is.
    """
    try:
        est.set_params(**params)
        t0 = time.perf_counter()
        est.fit(Xtr, ytr)
        fit_s = time.perf_counter() - t0
        return float(est.score(Xte, yte)), fit_s
    except TypeError as e:
        if not user_params:
            raise
        given = ", ".join(f"{k}={v!r}" for k, v in user_params.items())
        raise ValueError(f"{type(est).__name__} failed with the parameters given ({given}): "
                         f"TypeError: {e}") from e


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
    data = str(cfg["data"])
    if Path(data).expanduser().is_dir() and data.lower() not in _TABULAR and data.lower() != "mnist":
        cfg["prefix"] = idx_prefix(Path(data).expanduser(), cfg["prefix"])  # recorded: --config repeats it
    Xtr, Xte, ytr, yte = load_split(data, seed=cfg["seed"], n_train=cfg["n_train"], n_test=cfg["n_test"],
                                    classes=cfg["classes"], prefix=cfg["prefix"])
    chosen = f"-classes{'-'.join(map(str, cfg['classes']))}" if cfg["classes"] else ""
    out = Path(args.out) if args.out else Path("runs") / f"fit-{cfg['model']}-{Path(data).name}{chosen}-seed{cfg['seed']}"
    which = f", classes {', '.join(map(str, cfg['classes']))}" if cfg["classes"] else ""
    print(f"fitting {cls.__name__} on {data}{which} ({len(ytr)} train / {len(yte)} test) -> {out}/")
    acc, fit_s = _fit_and_score(est, params, cfg["params"], Xtr, ytr, Xte, yte)
    out.mkdir(parents=True, exist_ok=True)
    model_path = est.save(out / "model.safetensors") if hasattr(est, "save") else None
    summary = {
        "config": cfg,  # as given (random_state follows the seed unless params set it; the IDX prefix used)
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
                       description=DESCRIPTION, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("model", nargs="?", choices=list(MODELS), default=None, help="required unless --config sets it")
    f.add_argument("--data", default=None, help=f"{', '.join(_TABULAR)}, mnist, or a folder of MNIST/EMNIST IDX files")
    f.add_argument("--prefix", default=None, metavar="PREFIX",
                   help="file-name prefix of the IDX set in the --data folder, e.g. emnist-digits- (default: found "
                        "when the folder holds one set)")
    f.add_argument("--classes", nargs="+", type=_class_tokens, default=None, metavar="LABEL",
                   help="keep only these labels, train and test (7,4,6 or 7 4 6; 'all' undoes a --config file's)")
    f.add_argument("--config", default=None, metavar="PATH", help="a previous run's summary.json (options override it)")
    f.add_argument("--params", default=None, metavar="PATH", help="JSON object of estimator parameters")
    f.add_argument("--set", action="append", metavar="KEY=VALUE", help="one estimator parameter (JSON value); repeatable")
    f.add_argument("--seed", type=_non_negative_int, default=None, help="split and random_state (default 0)")
    f.add_argument("--n-train", type=_positive_int, default=None, help="use the first N training examples")
    f.add_argument("--n-test", type=_positive_int, default=None, help="use the first N test examples")
    f.add_argument("--out", default=None, help="run folder (default runs/fit-MODEL-DATA-seedS)")
    f.set_defaults(fn=run)

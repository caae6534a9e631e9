"""The ``spikeforge`` command line.

    spikeforge list                         every reproduction, one line each
    spikeforge reproduce NAME [--quick]     run a reproduction, write results/NAME/ (--quick: results/quick/NAME/)
    spikeforge reproduce all --quick        every reproduction, reduced sizes
    spikeforge report                       refresh README.md tables from results/*/results.md
    spikeforge train MODEL --data NAME|PATH train a deep SNN (spikeforge.nn), checkpoints in runs/
    spikeforge train --config runs/X/summary.json   repeat a run (options given override the file)
    spikeforge fit MODEL --data NAME|PATH   train a local-learning model (scikit-learn estimator), safetensors
    spikeforge env                          versions and hardware, for bug reports

Numeric options are checked when the command line is parsed (argparse usage error, exit status 2).
Bad input found later (a missing or malformed file, an invalid value) ends the command with one line
``spikeforge COMMAND: error: MESSAGE`` on stderr and exit status 2, not a traceback; set the
environment variable ``SPIKEFORGE_TRACEBACK=1`` to see the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import experiments as ex

if TYPE_CHECKING:
    from .nn.train import TrainConfig

__all__ = ["main", "read_train_config", "resolve_train_config"]


def _cmd_list(args: argparse.Namespace) -> int:
    width = max(len(n) for n in ex.EXPERIMENTS)
    print(f"{'name':<{width}}  seed  full     quick    summary")
    for name, e in sorted(ex.EXPERIMENTS.items(), key=lambda kv: (kv[1].seed, kv[0])):
        print(f"{name:<{width}}  {e.seed:<4}  ~{e.full_minutes:<4g}min ~{e.quick_minutes:<4g}min {e.summary}")
        print(f"{'':<{width}}  --seeds N: {e.seeds}")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    names = sorted(ex.EXPERIMENTS) if args.name == "all" else [args.name]
    for name in names:
        if name not in ex.EXPERIMENTS:
            print(f"error: unknown reproduction {name!r}; available: {', '.join(sorted(ex.EXPERIMENTS))}", file=sys.stderr)
            return 2
    if len(names) > 1:
        # one fresh process per reproduction: a process that has run a numba parallel kernel
        # (GNU OpenMP) must not fork workers afterwards, and memory settings stay per run
        failed = []
        for name in names:
            cmd = [sys.executable, "-m", "spikeforge", "reproduce", name, "--jobs", str(args.jobs), "--out", args.out]
            cmd += (["--quick"] if args.quick else []) + (["--seeds", str(args.seeds)] if args.seeds is not None else [])
            if subprocess.run(cmd).returncode != 0:
                failed.append(name)
        if failed:
            print(f"error: failed reproductions: {', '.join(failed)}", file=sys.stderr)
            return 1
        return 0
    name = names[0]
    exp = ex.get(name)
    # reduced-size runs never overwrite the full results that README tables come from
    out = Path(args.out) / "quick" / name if args.quick else Path(args.out) / name
    command = "spikeforge reproduce " + " ".join(
        shlex.quote(a) for a in ([name] + (["--quick"] if args.quick else []) + (["--seeds", str(args.seeds)] if args.seeds is not None else []))
    )
    print(f"== {name} (seed {exp.seed}): {exp.summary}")
    t0 = time.perf_counter()
    exp.runner()(quick=args.quick, out_dir=out, seeds=args.seeds, jobs=args.jobs, command=command)
    print(f"== {name} done in {time.perf_counter() - t0:.0f} s -> {out}/")
    return 0


_MARK = re.compile(r"(<!-- results:(?P<name>[\w-]+) -->\n)(.*?)(<!-- /results:(?P=name) -->)", re.S)


def _cmd_report(args: argparse.Namespace) -> int:
    readme = Path(args.readme)
    text = readme.read_text()

    problems: list[str] = []

    def repl(m: re.Match) -> str:
        folder = Path(args.out) / m.group("name")
        md = folder / "results.md"
        if not md.exists():
            problems.append(f"{md} missing; run `spikeforge reproduce {m.group('name')}`")
            return m.group(0)
        try:
            quick = json.loads((folder / "results.json").read_text()).get("config", {}).get("quick", False)
        except (OSError, ValueError):
            quick = False
        if quick:
            problems.append(f"{folder} holds a --quick run; README tables take full runs only")
            return m.group(0)
        body = md.read_text()
        body = re.sub(r"^## .*\n\n?", "", body, count=1)  # the README has its own heading
        return m.group(1) + body + m.group(4)

    new = _MARK.sub(repl, text)
    if new != text:
        readme.write_text(new)
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    print(f"updated {readme}" if new != text else f"{readme} already up to date")
    return 1 if problems else 0


#: `spikeforge train` options that set a TrainConfig field (argparse dest -> field) and the command's defaults
#: for them. The parser's default for each is None, meaning "not given": the value then comes from
#: --config FILE, else from _TRAIN_DEFAULTS (the defaults the options had before --config existed).
_TRAIN_FLAGS = {**{name: name for name in ("model", "data", "epochs", "batch_size", "lr", "optimizer", "weight_decay",
                                           "schedule", "T", "norm", "seed", "device", "n_train", "n_test",
                                           "amp")}}
_TRAIN_DEFAULTS = {"epochs": 10, "batch_size": 64, "lr": 1e-3, "optimizer": "adam", "weight_decay": 0.0,
                   "schedule": "cosine", "T": 4, "norm": "tdbn", "seed": 0, "device": "auto", "amp": True,
                   "n_train": None, "n_test": None}


def read_train_config(path: str | os.PathLike) -> dict[str, Any]:
    """The training config stored in ``path``, as a dict of :class:`~spikeforge.nn.train.TrainConfig` fields.

    ``path`` is a JSON file holding either a bare config (``{"model": "convsnn", "epochs": 3, ...}``, any
    subset of the fields) or an object with a ``"config"`` entry holding one: a run's ``summary.json``, or
    checkpoint metadata saved as JSON. A run folder (its ``summary.json``, else its checkpoint) and a
    ``checkpoint.safetensors`` of ``spikeforge train`` are read too. Values are checked when the config
    is built (:func:`resolve_train_config`), not here.

    Parameters
    ----------
    path : str or path-like
        The file or run folder (``~`` expanded).

    Returns
    -------
    dict mapping field names to JSON values.

    Raises
    ------
    FileNotFoundError
        Nothing at ``path`` (or a folder without ``summary.json`` and checkpoint).
    ValueError
        The file is not valid JSON (or not a safetensors checkpoint), does not hold a JSON object, its
        ``"config"`` entry is not an object, or the config has keys that are not TrainConfig fields.
    """
    from .nn.train import CHECKPOINT, TrainConfig, _read_meta

    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "summary.json" if (p / "summary.json").exists() else p / CHECKPOINT
    if p.suffix == ".safetensors":
        if not p.exists():
            raise FileNotFoundError(2, "No such file or directory", str(p))
        data = _read_meta(p)  # ValueError naming the file when it is not a (readable) safetensors file
    else:
        text = p.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: expected a JSON object holding a training config; got {type(data).__name__}")
    if "config" in data:  # summary.json or checkpoint metadata
        data = data["config"]
        if not isinstance(data, dict):
            raise ValueError(f"{p}: its 'config' entry must be a JSON object; got {type(data).__name__}")
    known = [f.name for f in fields(TrainConfig)]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{p}: unknown training config key(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(known)}")
    return data


def resolve_train_config(args: argparse.Namespace) -> TrainConfig:
    """The :class:`~spikeforge.nn.train.TrainConfig` of a ``spikeforge train`` command line.

    Each field comes from its option when given on the command line (even with the default's value),
    else from ``--config FILE`` (:func:`read_train_config`) when the file sets it, else from the command's
    defaults (10 epochs, batch 64, lr 1e-3, adam, no weight decay, cosine, T = 4, tdbn, seed 0, device
    auto, amp, all data). ``--amp`` / ``--no-amp`` set ``amp``; ``--n-train all`` / ``--n-test all`` undo a
    file's limit (all the data). A relative ``data`` folder of the file is resolved against the file's
    folder, else (``summary.json`` of runs from before data folders were stored absolute) against the
    working directory; ``--data`` on the command line is relative to the working directory.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by :func:`build_parser` for the ``train`` command (options not given are None).

    Returns
    -------
    TrainConfig

    Raises
    ------
    SystemExit
        (usage error, status 2) Neither the command line nor the file names the model or the data
        (a ``ValueError`` instead when ``args`` does not come from :func:`build_parser`).
    FileNotFoundError, ValueError
        As :func:`read_train_config`; a value of the file that is not valid for TrainConfig (the message
        names the file). ``extra`` model keyword arguments of the file are kept (a custom neuron
        ``LIFSpec`` included).
    """
    from .nn.train import config_from_dict

    values: dict[str, Any] = dict(_TRAIN_DEFAULTS)
    source = getattr(args, "config", None)
    if source is not None:
        values.update(read_train_config(source))
        values["data"] = _data_relative_to(values.get("data"), Path(source).expanduser())
    for dest, name in _TRAIN_FLAGS.items():
        given = getattr(args, dest, None)
        if given is not None:
            values[name] = None if given is _ALL else given
    act = getattr(args, "act", None)
    if act is not None:  # a model keyword argument: kept in the config's extra
        values["extra"] = {**(values.get("extra") or {}), "act": act}
    missing = [flag for flag, name in (("model", "model"), ("--data", "data")) if values.get(name) is None]
    if missing:
        message = f"the following arguments are required: {', '.join(missing)} (or a --config file that sets them)"
        usage_error = getattr(args, "usage_error", None)  # the train parser's error(): exits with status 2
        if usage_error is None:
            raise ValueError(message)
        usage_error(message)
    try:
        return config_from_dict(values)
    except (TypeError, ValueError) as e:  # only file values can be invalid here: the flags are checked by argparse
        raise ValueError(f"{source}: {e}") from None


def _data_relative_to(data: Any, source: Path) -> Any:
    """``data`` of the config file ``source`` (a file or run folder) with a relative folder resolved: against
    the file's folder when it exists there, else against the working directory when it exists there (runs
    saved before data folders were stored absolute), else against the file's folder (the error then names
    that path). ``mnist``, ``digits``, absolute paths and non-strings are returned unchanged."""
    if not isinstance(data, str) or data.lower() in ("mnist", "digits") or Path(data).expanduser().is_absolute():
        return data
    here = (source if source.is_dir() else source.parent) / Path(data).expanduser()
    if here.exists() or not Path(data).expanduser().exists():
        return os.fspath(here)
    return data


def _cmd_train(args: argparse.Namespace) -> int:
    from .nn.train import resolve_device, run_cli  # imports torch only when training

    if args.device is not None:
        try:  # a bad --device is the user's input: report it as such, before any data is loaded
            resolve_device(args.device)
        except RuntimeError as e:
            raise ValueError(f"--device {args.device!r}: {e}") from None
    cfg = resolve_train_config(args)
    if args.device is None:
        try:  # the file's device (a run repeated on a machine without its GPU)
            resolve_device(cfg.device)
        except RuntimeError as e:
            raise ValueError(f"device {cfg.device!r} of {args.config}: {e}") from None
    return run_cli(args, cfg)  # writes cfg (extra model arguments of the file included) to the run folder


def _cmd_export_nir(args: argparse.Namespace) -> int:
    import torch

    from .nn import repeat_in_time
    from .nn.train import NotACheckpointError, model_from_checkpoint

    try:  # the user's file first: a wrong file is reported as such even where the nir extra is missing
        model, meta = model_from_checkpoint(args.checkpoint)
    except NotACheckpointError as e:
        raise ValueError(f"{e}; give the checkpoint.safetensors of a `spikeforge train` run, or its run folder") from None
    import nir

    from .interop import from_nir, to_nir
    cfg = meta["config"]
    size = int(meta["model_args"]["image_size"])
    shape = (int(meta["model_args"]["in_channels"]), size, size)
    graph = to_nir(model, shape, dt=args.dt)
    src = Path(args.checkpoint)
    out = args.out or str(src / "model.nir" if src.is_dir() else src.with_suffix(".nir"))
    nir.write(out, graph)
    # check: the written file, imported again, gives the model's outputs on random images
    x = torch.rand(4, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(x)
        back = from_nir(out)(repeat_in_time(x, model.T)).mean(0)
    err = float((back - ref).abs().max())
    print(f"wrote {out}: {len(graph.nodes)} nodes, {len(graph.edges)} edges ({cfg['model']}, T={model.T}, dt={args.dt:g})")
    print(f"round trip through the file: max |logit difference| = {err:.3g} on 4 random images")
    print("the graph's output is the readout at every step; average it over T steps (metadata spikeforge.readout)")
    return 0 if err <= 1e-4 else 1


def _cmd_env(args: argparse.Namespace) -> int:
    print(json.dumps(ex.environment(), indent=1))
    return 0


def _int(text: str, *, minimum: int) -> int:
    what = "positive" if minimum >= 1 else "non-negative"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {what} integer; got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be a {what} integer; got {value}")
    return value


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int(text, minimum=1)


#: value of ``--n-train all`` / ``--n-test all``: no limit, overriding a config file's (a unique object, so
#: that no other option's value, e.g. a data folder named "all", can be taken for it)
_ALL = object()


def _positive_int_or_all(text: str) -> int | object:
    """argparse type: an integer >= 1, or ``all`` (returned as :data:`_ALL`)."""
    return _ALL if text.strip().lower() == "all" else _int(text, minimum=1)


def _non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int(text, minimum=0)


def _float(text: str, *, allow_zero: bool) -> float:
    what = "non-negative" if allow_zero else "positive"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {what} number; got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise argparse.ArgumentTypeError(f"must be a finite {what} number; got {text}")
    return value


def _positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    return _float(text, allow_zero=False)


def _non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    return _float(text, allow_zero=True)


def _user_path(text: str) -> str:
    """argparse type: a path with ``~`` expanded (the shell does not expand it in ``--opt=~/x``)."""
    return str(Path(text).expanduser())


def _default(name: str) -> str:
    """`` (default: VALUE, or the --config file's)`` for the help of the ``spikeforge train`` option that sets
    the TrainConfig field ``name`` (its parser default is None, see :data:`_TRAIN_FLAGS`)."""
    value = _TRAIN_DEFAULTS[name]
    if value is None:  # n_train, n_test
        shown = "all"
    elif isinstance(value, bool):  # amp
        shown = "on" if value else "off"
    else:
        shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f" (default: {shown}, or the --config file's)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from .experiments._runner import default_jobs

    p = argparse.ArgumentParser(prog="spikeforge", description="Spiking neural networks with local plasticity.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the reproductions").set_defaults(fn=_cmd_list)
    r = sub.add_parser("reproduce", help="run a reproduction and write results/NAME/")
    r.add_argument("name", help="reproduction name (see `spikeforge list`) or 'all'")
    r.add_argument("--quick", action="store_true", help="reduced sizes (minutes at most); written to OUT/quick/NAME")
    r.add_argument("--seeds", type=_positive_int, default=None, help="number of runs: seeds 0..N-1, or class triples for stdp-all-ltd (default: the "
                        "reproduction's; `spikeforge list` says what each repeats)")
    r.add_argument("--jobs", type=_positive_int, default=default_jobs(), help="worker processes (default: CPU cores)")
    r.add_argument("--out", type=_user_path, default="results", help="output root (default: results/)")
    r.set_defaults(fn=_cmd_reproduce)
    rep = sub.add_parser("report", help="refresh the README tables from results/*/results.md")
    rep.add_argument("--readme", type=_user_path, default="README.md")
    rep.add_argument("--out", type=_user_path, default="results")
    rep.set_defaults(fn=_cmd_report)
    sub.add_parser("env", help="print versions and hardware").set_defaults(fn=_cmd_env)
    from .fitcli import add_parser as add_fit_parser

    add_fit_parser(sub)
    t = sub.add_parser("train", help="train a deep SNN (convsnn, resnet19); safetensors checkpoints with resume")
    # options that set a config field default to None ("not given", see _TRAIN_FLAGS): a value given on the
    # command line overrides --config FILE, which overrides the defaults of _TRAIN_DEFAULTS
    t.add_argument("model", nargs="?", choices=("convsnn", "resnet19"), default=None,
                   help="required unless --config sets it")
    t.add_argument("--config", type=_user_path, default=None, metavar="PATH",
                   help="start from the training config in PATH (a JSON config, a run's summary.json, checkpoint "
                        "or run folder); options given on the command line override it")
    t.add_argument("--data", default=None, help="'mnist', 'digits', or a folder of CIFAR-10 python pickles "
                                                "(required unless --config sets it)")
    t.add_argument("--epochs", type=_positive_int, default=None,
                   help=f"training epochs; with --resume, more than the run's extends it{_default('epochs')}")
    t.add_argument("--batch-size", type=_positive_int, default=None, help=f"batch size{_default('batch_size')}")
    t.add_argument("--lr", type=_positive_float, default=None, help=f"peak learning rate{_default('lr')}")
    t.add_argument("--optimizer", choices=("adam", "sgd"), default=None,
                   help=f"adam or sgd (momentum 0.9){_default('optimizer')}")
    t.add_argument("--weight-decay", type=_non_negative_float, default=None, help=f"weight decay{_default('weight_decay')}")
    t.add_argument("--schedule", choices=("cosine", "none"), default=None,
                   help=f"learning-rate schedule: cosine to 0 over the epochs, or none{_default('schedule')}")
    t.add_argument("-T", "--T", type=_positive_int, default=None, help=f"time steps{_default('T')}")
    t.add_argument("--norm", choices=("tdbn", "bn", "none", "bntt", "tebn"), default=None,
                   help=f"tdbn, bn, none, bntt (BN per time step) or tebn (BN times a learnable scale per step)"
                        f"{_default('norm')}")
    t.add_argument("--act", choices=("lif", "plif"), default=None,
                   help="spiking layers: lif (fixed leak, the papers) or plif (each layer learns its membrane time "
                        "constant, Fang et al. 2021); default: the --config file's, else lif")
    t.add_argument("--seed", type=_non_negative_int, default=None,
                   help=f"initialisation, shuffling and MNIST/digits split{_default('seed')}")
    t.add_argument("--device", default=None, help=f"auto (CUDA if present), cpu, cuda, cuda:N{_default('device')}")
    t.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help=f"mixed precision on CUDA{_default('amp')}")
    t.add_argument("--n-train", type=_positive_int_or_all, default=None, metavar="N|all",
                   help=f"use only the first N training images; 'all' undoes a --config file's limit{_default('n_train')}")
    t.add_argument("--n-test", type=_positive_int_or_all, default=None, metavar="N|all",
                   help=f"use only the first N test images; 'all' undoes a --config file's limit{_default('n_test')}")
    t.add_argument("--out", type=_user_path, default=None, help="run folder (default: runs/MODEL-DATA-T<T>-seed<SEED>)")
    t.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.safetensors (from scratch, with a note, when there is none)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(fn=_cmd_train, usage_error=t.error)
    xn = sub.add_parser("export-nir", help="write a trained checkpoint as a NIR graph (needs the 'nir' extra)")
    xn.add_argument("checkpoint", type=_user_path, help="checkpoint.safetensors of `spikeforge train`, or its run folder")
    xn.add_argument("-o", "--out", type=_user_path, default=None, help="output .nir file (default: next to the checkpoint)")
    xn.add_argument("--dt", type=_positive_float, default=1e-3, help="Euler step of the NIR neurons, seconds (default 1e-3)")
    xn.set_defaults(fn=_cmd_export_nir)
    return p


def _describe(e: BaseException) -> str:
    """One line for an error the user can fix: the exception's message, the path for OS errors (the type
    of a safetensors error too)."""
    if type(e).__module__.split(".")[0] == "safetensors":
        return f"{type(e).__name__}: {e}"
    if isinstance(e, OSError) and e.strerror and e.filename is not None:
        where = f"{e.filename} -> {e.filename2}" if e.filename2 is not None else str(e.filename)
        return f"{where}: {e.strerror}"
    if isinstance(e, ModuleNotFoundError) and e.name and e.name.split(".")[0] != "spikeforge":
        package = e.name.split(".")[0]
        hint = " (pip install 'spikeforge[nir]')" if package == "nir" else ""
        return f"{e}; this command needs the package {package!r}{hint}"
    return str(e) or type(e).__name__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spikeforge`` console script; returns the exit status.

    Invalid options are argparse usage errors (``SystemExit(2)``). A :class:`ValueError`,
    :class:`OSError` (missing file, permission...), :class:`ImportError` (optional dependency) or
    safetensors error (a file that is not a safetensors file) raised by the command is printed as
    ``spikeforge COMMAND: error: MESSAGE`` on stderr and gives exit status 2; with
    ``SPIKEFORGE_TRACEBACK=1`` in the environment it propagates instead. Other exceptions
    (programming errors) keep their traceback; where bad input surfaces as another type (a
    ``TypeError`` from an estimator parameter given to ``spikeforge fit``), the command turns it
    into a ValueError that names the exception type and the input.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except Exception as e:
        if not _is_user_error(e) or os.environ.get("SPIKEFORGE_TRACEBACK", "") not in ("", "0"):
            raise
        print(f"spikeforge {args.command}: error: {_describe(e)}", file=sys.stderr)
        return 2


def _is_user_error(e: BaseException) -> bool:
    """Whether ``e`` reports bad input (printed as one line) rather than a bug (kept as a traceback):
    ValueError, OSError, ImportError, and the errors safetensors raises for a file that is not one
    (the commands turn those into ValueErrors where they read a file; this catches any left)."""
    return isinstance(e, (ValueError, OSError, ImportError)) or type(e).__module__.split(".")[0] == "safetensors"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

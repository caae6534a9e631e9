"""The ``spikeforge`` command line.

    spikeforge list                         every reproduction, one line each
    spikeforge reproduce NAME [--quick]     run a reproduction, write results/NAME/ (--quick: results/quick/NAME/)
    spikeforge reproduce all --quick        every reproduction, reduced sizes
    spikeforge report                       refresh README.md tables from results/*/results.md
    spikeforge train MODEL --data NAME|PATH train a deep SNN (spikeforge.nn), checkpoints in runs/
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
from pathlib import Path

from . import experiments as ex

__all__ = ["main"]


def _cmd_list(args: argparse.Namespace) -> int:
    width = max(len(n) for n in ex.EXPERIMENTS)
    print(f"{'name':<{width}}  seed  full     quick    summary")
    for name, e in sorted(ex.EXPERIMENTS.items(), key=lambda kv: (kv[1].seed, kv[0])):
        print(f"{name:<{width}}  {e.seed:<4}  ~{e.full_minutes:<4g}min ~{e.quick_minutes:<4g}min {e.summary}")
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


def _cmd_train(args: argparse.Namespace) -> int:
    from .nn.train import resolve_device, run_cli  # imports torch only when training

    try:  # a bad --device is the user's input: report it as such, before any data is loaded
        resolve_device(args.device)
    except RuntimeError as e:
        raise ValueError(f"--device {args.device!r}: {e}") from None
    return run_cli(args)


def _cmd_export_nir(args: argparse.Namespace) -> int:
    import nir
    import torch

    from .interop import from_nir, to_nir
    from .nn import repeat_in_time
    from .nn.train import model_from_checkpoint

    model, meta = model_from_checkpoint(args.checkpoint)
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from .experiments._runner import default_jobs

    p = argparse.ArgumentParser(prog="spikeforge", description="Spiking neural networks with local plasticity.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the reproductions").set_defaults(fn=_cmd_list)
    r = sub.add_parser("reproduce", help="run a reproduction and write results/NAME/")
    r.add_argument("name", help="reproduction name (see `spikeforge list`) or 'all'")
    r.add_argument("--quick", action="store_true", help="reduced sizes (minutes at most); written to OUT/quick/NAME")
    r.add_argument("--seeds", type=_positive_int, default=None, help="number of seeds (default: the reproduction's)")
    r.add_argument("--jobs", type=_positive_int, default=default_jobs(), help="worker processes (default: CPU cores)")
    r.add_argument("--out", type=_user_path, default="results", help="output root (default: results/)")
    r.set_defaults(fn=_cmd_reproduce)
    rep = sub.add_parser("report", help="refresh the README tables from results/*/results.md")
    rep.add_argument("--readme", type=_user_path, default="README.md")
    rep.add_argument("--out", type=_user_path, default="results")
    rep.set_defaults(fn=_cmd_report)
    sub.add_parser("env", help="print versions and hardware").set_defaults(fn=_cmd_env)
    t = sub.add_parser("train", help="train a deep SNN (convsnn, resnet19); safetensors checkpoints with resume")
    t.add_argument("model", choices=("convsnn", "resnet19"))
    t.add_argument("--data", required=True, help="'mnist', 'digits', or a folder of CIFAR-10 python pickles")
    t.add_argument("--epochs", type=_positive_int, default=10)
    t.add_argument("--batch-size", type=_positive_int, default=64)
    t.add_argument("--lr", type=_positive_float, default=1e-3)
    t.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    t.add_argument("--weight-decay", type=_non_negative_float, default=0.0)
    t.add_argument("--schedule", choices=("cosine", "none"), default="cosine")
    t.add_argument("-T", "--T", type=_positive_int, default=4, help="time steps (default 4)")
    t.add_argument("--norm", choices=("tdbn", "bn", "none"), default="tdbn")
    t.add_argument("--seed", type=_non_negative_int, default=0)
    t.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    t.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    t.add_argument("--n-train", type=_positive_int, default=None, help="use only the first N training images")
    t.add_argument("--n-test", type=_positive_int, default=None, help="use only the first N test images")
    t.add_argument("--out", type=_user_path, default=None, help="run folder (default runs/MODEL-DATA-T-seed)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(fn=_cmd_train)
    xn = sub.add_parser("export-nir", help="write a trained checkpoint as a NIR graph (needs the 'nir' extra)")
    xn.add_argument("checkpoint", type=_user_path, help="checkpoint.safetensors of `spikeforge train`, or its run folder")
    xn.add_argument("-o", "--out", type=_user_path, default=None, help="output .nir file (default: next to the checkpoint)")
    xn.add_argument("--dt", type=_positive_float, default=1e-3, help="Euler step of the NIR neurons, seconds (default 1e-3)")
    xn.set_defaults(fn=_cmd_export_nir)
    return p


def _describe(e: BaseException) -> str:
    """One line for an error the user can fix: the exception's message, the path for OS errors."""
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
    :class:`OSError` (missing file, permission...) or :class:`ImportError` (optional dependency)
    raised by the command is printed as ``spikeforge COMMAND: error: MESSAGE`` on stderr and gives
    exit status 2; with ``SPIKEFORGE_TRACEBACK=1`` in the environment it propagates instead.
    Other exceptions (programming errors) keep their traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except (ValueError, OSError, ImportError) as e:
        if os.environ.get("SPIKEFORGE_TRACEBACK", "") not in ("", "0"):
            raise
        print(f"spikeforge {args.command}: error: {_describe(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

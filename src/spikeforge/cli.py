"""The ``spikeforge`` command line.

    spikeforge list                         every reproduction, one line each
    spikeforge reproduce NAME [--quick]     run a reproduction, write results/NAME/
    spikeforge reproduce all --quick        every reproduction, reduced sizes
    spikeforge report                       refresh README.md tables from results/*/results.md
    spikeforge env                          versions and hardware, for bug reports
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
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
        try:
            exp = ex.get(name)
        except KeyError as err:
            print(f"error: {err.args[0]}", file=sys.stderr)
            return 2
        out = Path(args.out) / name
        command = "spikeforge reproduce " + " ".join(
            shlex.quote(a) for a in ([name] + (["--quick"] if args.quick else []) + (["--seeds", str(args.seeds)] if args.seeds else []))
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

    def repl(m: re.Match) -> str:
        md = Path(args.out) / m.group("name") / "results.md"
        if not md.exists():
            print(f"warning: {md} missing; run `spikeforge reproduce {m.group('name')}`", file=sys.stderr)
            return m.group(0)
        body = md.read_text()
        body = re.sub(r"^## .*\n\n?", "", body, count=1)  # the README has its own heading
        return m.group(1) + body + m.group(4)

    new = _MARK.sub(repl, text)
    readme.write_text(new)
    print(f"updated {readme}" if new != text else f"{readme} already up to date")
    return 0


def _cmd_env(args: argparse.Namespace) -> int:
    print(json.dumps(ex.environment(), indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from .experiments._runner import default_jobs

    p = argparse.ArgumentParser(prog="spikeforge", description="Spiking neural networks with local plasticity.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the reproductions").set_defaults(fn=_cmd_list)
    r = sub.add_parser("reproduce", help="run a reproduction and write results/NAME/")
    r.add_argument("name", help="reproduction name (see `spikeforge list`) or 'all'")
    r.add_argument("--quick", action="store_true", help="reduced sizes (minutes at most)")
    r.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the reproduction's)")
    r.add_argument("--jobs", type=int, default=default_jobs(), help="worker processes (default: CPU cores)")
    r.add_argument("--out", default="results", help="output root (default: results/)")
    r.set_defaults(fn=_cmd_reproduce)
    rep = sub.add_parser("report", help="refresh the README tables from results/*/results.md")
    rep.add_argument("--readme", default="README.md")
    rep.add_argument("--out", default="results")
    rep.set_defaults(fn=_cmd_report)
    sub.add_parser("env", help="print versions and hardware").set_defaults(fn=_cmd_env)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spikeforge`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.fn(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

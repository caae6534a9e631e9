"""Time of torch STDP on a sequence that falls silent, with and without the CPU's flush-to-zero mode.

    python benchmarks/torch_stdp_denormals.py [--T 4000] [--B 16] [--I 784] [--O 100] [--active 100] [--repeats 3]

Random 0/1 spikes (5 % per step) for the first ``--active`` steps, then silence: the float32 traces
(τ = 20 ms, dt = 1 ms) decay for thousands of steps and, unless something stops them, pass through the
denormal range (below 1.2e-38, after ≈ 1.75 s of silence) on their way to 0, where x86 arithmetic is
many times slower. ``trace_stdp_linear`` flushes its traces before they get there
(``torch_stdp._flush_``), so its time should match the same call under ``torch.set_flush_denormal(True)``
(the hardware's flush-to-zero/denormals-are-zero mode) and a control whose every step is active. Each
mode runs in a fresh process (the hardware flag is per process); the median of ``--repeats`` calls is
reported with the ratio to the hardware-flush run and a checksum of ``dw`` (the flush changes it by
less than 1e-30 per step and synapse). Timings are for orientation (2-core machine); nothing here is
asserted by the tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

_CHILD = r"""
import json, sys, time, torch
from spikeforge.plasticity import TraceSTDP
from spikeforge.plasticity.torch_stdp import trace_stdp_linear
T, B, I, O, active, repeats, ftz = (int(a) for a in sys.argv[1:8])
torch.set_num_threads(2)
if ftz:
    assert torch.set_flush_denormal(True), "this CPU has no flush-to-zero mode"
g = torch.Generator().manual_seed(0)
pre = (torch.rand(T, B, I, generator=g) < 0.05).float()
post = (torch.rand(T, B, O, generator=g) < 0.05).float()
pre[active:] = 0
post[active:] = 0
rule = TraceSTDP(tau_pre_ms=20.0, tau_post_ms=20.0)
times = []
for _ in range(repeats):
    t = time.perf_counter()
    dw = trace_stdp_linear(pre, post, torch.zeros(O, I), rule, 1.0)
    times.append(time.perf_counter() - t)
print(json.dumps({"seconds": times, "checksum": float(dw.double().abs().sum())}))
"""


def _run(args: argparse.Namespace, active: int, ftz: bool) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(args.T), str(args.B), str(args.I), str(args.O), str(active),
         str(args.repeats), str(int(ftz))],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=4000)
    ap.add_argument("--B", type=int, default=16)
    ap.add_argument("--I", type=int, default=784)
    ap.add_argument("--O", type=int, default=100)
    ap.add_argument("--active", type=int, default=100, help="active steps before the silence")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args(argv)
    rows = []
    ftz = _run(args, args.active, True)
    for label, active, flag in (("silent tail", args.active, False), ("silent tail, hardware FTZ", args.active, True),
                                ("active throughout (control)", args.T, False)):
        r = ftz if (active, flag) == (args.active, True) else _run(args, active, flag)
        med = statistics.median(r["seconds"])
        rows.append({"run": label, "median_s": med, "ratio_to_ftz": med / statistics.median(ftz["seconds"]),
                     "checksum": r["checksum"]})
    print(f"T={args.T} B={args.B} {args.I}->{args.O}, {args.active} active steps then silence, float32, 2 threads")
    print(f"{'run':32s} {'median s':>9s} {'/ FTZ':>7s} {'checksum':>14s}")
    for r in rows:
        print(f"{r['run']:32s} {r['median_s']:9.3f} {r['ratio_to_ftz']:7.2f} {r['checksum']:14.6g}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()

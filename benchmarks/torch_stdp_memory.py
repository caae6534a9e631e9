"""Peak memory and time of one ``trace_stdp_linear`` call on a long sequence (torch STDP, CPU).

    python benchmarks/torch_stdp_memory.py [--T 1000] [--B 64] [--I 784] [--O 400] [--repeats 3]

Each measurement runs in a fresh process: it builds random 0/1 spikes ``[T, B, I]`` / ``[T, B, O]``
(5 % per step), makes one call with Diehl & Cook's rule and reports the peak RSS during the call minus
the RSS just before it (Linux ``/proc``), beside the size of the spikes. The traces are computed a chunk of steps
at a time (``_CHUNK_ELEMENTS``), so what the call adds should not grow with ``T``; ``--chunk``
sets the chunk size for a comparison (``--chunk 0`` = the whole sequence in one chunk, as the
implementation before 2026-12-06 held it). Timings are for orientation only (2-core machine).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import json, resource, sys, time, torch
import spikeforge.plasticity.torch_stdp as ts
from spikeforge.plasticity import TraceSTDP
T, B, I, O, chunk = (int(a) for a in sys.argv[1:6])
if chunk >= 0:
    ts._CHUNK_ELEMENTS = chunk if chunk > 0 else 1 << 62
g = torch.Generator().manual_seed(0)
pre, post = torch.empty(T, B, I), torch.empty(T, B, O)
for t in range(T):  # step by step: no transient larger than the spikes themselves
    pre[t] = torch.rand(B, I, generator=g) < 0.05
    post[t] = torch.rand(B, O, generator=g) < 0.05
import os
before = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024  # current RSS, KiB
t = time.perf_counter()
dw = ts.trace_stdp_linear(pre, post, torch.zeros(O, I), TraceSTDP.diehl_cook(), 0.5)
sec = time.perf_counter() - t
added = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"spikes_mb": (pre.numel() + post.numel()) * 4 / 2**20, "added_mb": added / 1024, "seconds": sec,
                  "checksum": float(dw.double().abs().sum())}))
"""


def measure(T: int, B: int, I: int, O: int, chunk: int) -> dict:  # noqa: E741
    """One fresh-process measurement (``chunk`` −1: the library's default)."""
    out = subprocess.run([sys.executable, "-c", _CHILD, str(T), str(B), str(I), str(O), str(chunk)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", type=int, default=1000)
    ap.add_argument("--B", type=int, default=64)
    ap.add_argument("--I", type=int, default=784)
    ap.add_argument("--O", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunk", type=int, nargs="*", default=[-1, 0],
                    help="chunk sizes in elements to compare (-1: the default, 0: whole sequence)")
    a = ap.parse_args(argv)
    print(f"T={a.T} B={a.B} I={a.I} O={a.O}; medians of {a.repeats} fresh processes")
    print("| chunk | spikes (MB) | peak RSS added by the call (MB) | seconds | checksum |")
    print("|---|---|---|---|---|")
    for chunk in a.chunk:
        rows = [measure(a.T, a.B, a.I, a.O, chunk) for _ in range(a.repeats)]
        med = lambda k: sorted(r[k] for r in rows)[len(rows) // 2]  # noqa: E731
        label = {-1: "default", 0: "whole sequence"}.get(chunk, str(chunk))
        print(f"| {label} | {rows[0]['spikes_mb']:.0f} | {med('added_mb'):.0f} | {med('seconds'):.2f} | "
              f"{rows[0]['checksum']:.6g} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

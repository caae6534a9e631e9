"""Peak memory and time of one training pass over a long sequence: full BPTT against truncated BPTT with
``spikeforge.nn.carry_state`` / ``detach_states``.

    python benchmarks/tbptt_memory.py [--T 784] [--B 32] [--chunks 784 196 98 49] [--threads 2] [--json F]

Network: Linear(1 → 128) → ALIF(τ = 20, β = 0.2) → Linear(128 → 10) → CubaLIF(α = 0.9), the shape of an
LSNN on pixel-by-pixel MNIST (one input per step, T = 784), random input, loss = cross-entropy of the
time-averaged output. Each chunk length ``k`` runs ``T / k`` forward/backward passes with the states carried
and detached between them (``k = T`` is full BPTT); peak memory is what the torch profiler sees allocated
during the whole pass (the measurement of ``deep_snn_speed.py``), time is the median of ``--repeats``.
The gradients differ by design (truncation); the forward spikes of all chunkings are equal (checked here).
Never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deep_snn_speed import peak_memory_mb  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=784)
    ap.add_argument("--B", type=int, default=32)
    ap.add_argument("--chunks", type=int, nargs="+", default=[784, 196, 98, 49])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import spikeforge.nn as sfnn

    torch.manual_seed(0)
    net = nn.Sequential(sfnn.SeqToANN(nn.Linear(1, 128)), sfnn.ALIF(tau=20.0, beta=0.2),
                        sfnn.SeqToANN(nn.Linear(128, 10)), sfnn.CubaLIF(alpha=0.9, tau=2.0))
    g = torch.Generator().manual_seed(1)
    x = torch.rand(args.T, args.B, 1, generator=g) * 3
    y = torch.randint(0, 10, (args.B,), generator=g)

    def one_pass(k: int) -> torch.Tensor:
        outs = []
        with sfnn.carry_state(net):
            for chunk in x.split(k):
                out = net(chunk)
                loss = nn.functional.cross_entropy(out.mean(0) * 10, y)
                loss.backward()
                sfnn.detach_states(net)
                outs.append(out.detach())
        net.zero_grad(set_to_none=True)
        return torch.cat(outs)

    reference = one_pass(args.T)
    rows = []
    for k in args.chunks:
        assert torch.equal(one_pass(k), reference), "chunked forward differs from the whole sequence"
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            one_pass(k)
            times.append(time.perf_counter() - t)
        rows.append({"chunk": k, "passes": -(-args.T // k), "median_s": statistics.median(times),
                     "peak_mb": peak_memory_mb(lambda k=k: one_pass(k))})
    print(f"T={args.T}, B={args.B}, LSNN-shaped net, {args.threads} thread(s); forward spikes equal for every chunking")
    print(f"{'chunk':>6s} {'passes':>7s} {'median s':>9s} {'peak MiB':>9s}")
    for r in rows:
        print(f"{r['chunk']:6d} {r['passes']:7d} {r['median_s']:9.2f} {r['peak_mb']:9.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "rows": rows, "torch": torch.__version__}, fh, indent=2)


if __name__ == "__main__":
    main()

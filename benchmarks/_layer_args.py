"""Set-up shared by the layer benchmarks (``plif_speed.py``, ``neuron_layers_speed.py``)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch


def setup_layer_bench(argv: list[str] | None, description: str, shape: tuple[int, ...],
                      repeats: int) -> tuple[argparse.Namespace, torch.Tensor, torch.Tensor]:
    """Parse ``--repeats``, ``--threads``, ``--json`` and ``--shape`` (comma-separated input shape ``[T, B, ...]``),
    set torch's threads, and return ``(args, x0, r)``: the input ``x0 ~ N(0.4, 0.8²)`` and the loss weights
    ``r ~ N(0, 1)`` of that shape (seed 0), so that ``(layer(x0) * r).sum()`` is the benchmarks' loss."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--repeats", type=int, default=repeats)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--shape", type=lambda v: tuple(int(d) for d in v.split(",")), default=shape,
                    help=f"input shape, comma-separated (default {','.join(map(str, shape))}; smaller for a smoke test)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(args.shape, generator=g) * 0.8 + 0.4
    return args, x0, torch.randn(args.shape, generator=g)


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall-clock seconds of each call, ``repeats`` rounds in which every function runs once (interleaved, so load
    from other processes hits all of them alike). No warm-up: call the functions once before."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return times

"""Forward + backward time and peak memory of spikeforge's neuron layers: each fused path beside its
readable per-step reference, in one run.

    python benchmarks/neuron_layers_speed.py [--repeats 7] [--threads 2] [--json F]

Workload: x [T=16, B=64, N=4096] float32 (W1 of ``deep_snn_speed.py``), loss = Σ spikes·r with a fixed
random r. Rows: ``LIF`` (compiled CPU kernel, for scale), ``PLIF`` and ``ALIF`` (compiled CPU kernel, i.e.
``backend="auto"``, which falls back to the pure-torch node without a C++ compiler; the fused pure-torch node;
``backend="reference"``), ``CubaLIF`` (its synaptic current as one autograd node, and as the per-step
autograd loop that wrote into slices of a preallocated tensor, the implementation before 2026-12-07, kept
here only as a baseline), ``Izhikevich`` (compiled CPU kernel and ``backend="reference"``). Medians over
``--repeats`` interleaved rounds (every row once per round) after two warm-up calls; peak memory as seen by the torch profiler during one call (the measurement of
``deep_snn_speed.py``). Peer libraries: ``plif_speed.py`` (SpikingJelly's ParametricLIFNode) and
``deep_snn_speed.py`` (LIF). Never asserted in tests.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _layer_args import setup_layer_bench, time_interleaved  # noqa: E402
from deep_snn_speed import peak_memory_mb  # noqa: E402  (one definition of the memory measurement)

SHAPE = (16, 64, 4096)


def _slice_loop_current(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """The synaptic current as it was computed before 2026-12-07: a per-step autograd loop writing slices."""
    out = torch.empty_like(x)
    i = torch.zeros_like(x[0])
    for t in range(x.shape[0]):
        i = alpha * i + x[t]
        out[t] = i
    return out


def main(argv: list[str] | None = None) -> None:
    args, x0, r = setup_layer_bench(argv, __doc__.splitlines()[0], SHAPE, 7)
    shape = args.shape
    import spikeforge.nn as sfnn
    cuba_old = sfnn.CubaLIF(alpha=0.5)

    def old_cuba(x: torch.Tensor) -> torch.Tensor:
        return cuba_old.lif(_slice_loop_current(x, 0.5), None)[0]

    layers: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "LIF (compiled CPU kernel)": sfnn.LIF(tau=2.0),
        "PLIF (compiled CPU kernel)": sfnn.PLIF(2.0),
        "PLIF fused torch": sfnn.PLIF(2.0, backend="torch"),
        "PLIF reference loop": sfnn.PLIF(2.0, backend="reference"),
        "ALIF (compiled CPU kernel)": sfnn.ALIF(tau=2.0),
        "ALIF fused torch": sfnn.ALIF(tau=2.0, backend="torch"),
        "ALIF reference loop": sfnn.ALIF(tau=2.0, backend="reference"),
        "CubaLIF (current as one node)": sfnn.CubaLIF(alpha=0.5),
        "CubaLIF (current as slice loop, before)": old_cuba,
        "Izhikevich (compiled CPU kernel)": sfnn.Izhikevich(),
        "Izhikevich reference loop": sfnn.Izhikevich(backend="reference"),
    }

    with torch.no_grad():  # the two CubaLIF rows compute the same spikes
        assert torch.equal(old_cuba(x0), layers["CubaLIF (current as one node)"](x0))

    def make(f):
        def run():
            x = x0.clone().requires_grad_()
            (f(x) * r).sum().backward()
        return run

    fns = {k: make(f) for k, f in layers.items()}
    for fn in fns.values():
        fn()
        fn()
    times = time_interleaved(fns, args.repeats)
    rows = [{"layer": k, "median_ms": 1e3 * statistics.median(v), "min_ms": 1e3 * min(v), "peak_mb": peak_memory_mb(fns[k])}
            for k, v in times.items()]
    print(f"forward+backward, x {list(shape)} float32, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'layer':42s} {'median ms':>10s} {'min ms':>8s} {'peak MiB':>9s}")
    for row in rows:
        print(f"{row['layer']:42s} {row['median_ms']:10.1f} {row['min_ms']:8.1f} {row['peak_mb']:9.0f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"shape": shape, "threads": args.threads, "repeats": args.repeats, "rows": rows,
                       "torch": torch.__version__, "machine": platform.platform()}, fh, indent=2)


if __name__ == "__main__":
    main()

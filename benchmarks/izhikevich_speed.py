"""Speed and memory of Izhikevich neurons trained through time: spikeforge's compiled CPU kernel, its per-step
reference loop and Norse's ``Izhikevich`` module, forward + backward, side by side in one run.

    PYTHONPATH=src /work/venv-bench/bin/python benchmarks/izhikevich_speed.py [--repeats 7] [--threads 2] [--json F]

(the bench venv whose recipe is in ``deep_snn_speed.py``; without Norse its row is skipped.)

Workload: input current I [T=100, B=32, 1024] float32 in mV/ms (``8·N(0.4, 0.8²) + 10``, regular-spiking range),
RS parameters (a, b, c, d = 0.02, 0.2, −65, 8), loss = Σ spikes·r with a fixed random r. Rows:

* spikeforge with its defaults: Izhikevich's scheme (two Euler half-steps of ``v`` per 1 ms step) with the overflow
  guards (``clamp_peak``, ``v_min``), compiled kernel and ``backend="reference"``;
* spikeforge as one plain Euler step of 0.25 ms without guards (``v_substeps=1, clamp_peak=False, v_min=None,
  dt_ms=0.25``), the scheme of Norse's module (``tau_inv = 250``, ``dt = 0.001``: 0.25 ms per step);
* Norse ``Izhikevich(create_izhikevich_spiking_behavior(0.02, 0.2, −65, 8, −65, −13))``, its SuperSpike surrogate.

The schemes are not identical (Norse updates ``u`` from the old ``v`` and starts at its ``v_rest``/``u_rest``;
spikeforge follows Izhikevich's code), so spike counts are printed, not compared; the timing compares equal step
counts and tensor sizes. Medians over ``--repeats`` interleaved rounds after a warm-up; peak memory as the torch
profiler sees it during one call (``deep_snn_speed.peak_memory_mb``). Never asserted in tests.
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
from deep_snn_speed import peak_memory_mb  # noqa: E402

SHAPE = (100, 32, 1024)


def main(argv: list[str] | None = None) -> None:
    """Time every implementation and print (and optionally write) the table."""
    args, x0, r = setup_layer_bench(argv, __doc__.splitlines()[0], SHAPE, 7)
    x0 = x0 * 8.0 + 10.0
    import spikeforge.nn as sfnn

    def make(layer: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], tuple]:
        def run():
            x = x0.clone().requires_grad_()
            out = layer(x)
            s = out[0] if isinstance(out, tuple) else out
            (s * r).sum().backward()
            return s.detach(), x.grad
        return run

    plain = dict(v_substeps=1, clamp_peak=False, v_min=None, dt_ms=0.25)
    impls: dict[str, Callable[[], tuple]] = {
        "spikeforge, Izhikevich's scheme, CPU kernel": make(sfnn.Izhikevich()),
        "spikeforge, Izhikevich's scheme, reference loop": make(sfnn.Izhikevich(backend="reference")),
        "spikeforge, 1 Euler step of 0.25 ms, CPU kernel": make(sfnn.Izhikevich(**plain)),
        "spikeforge, 1 Euler step of 0.25 ms, reference loop": make(sfnn.Izhikevich(**plain, backend="reference")),
    }
    base = None
    try:
        import norse.torch as norse

        behaviour = norse.create_izhikevich_spiking_behavior(a=0.02, b=0.2, c=-65.0, d=8.0, v_rest=-65.0, u_rest=-13.0)
        impls["Norse Izhikevich (1 Euler step of 0.25 ms)"] = make(norse.Izhikevich(behaviour))
        base = "Norse Izhikevich (1 Euler step of 0.25 ms)"
    except ImportError:
        print("Norse is not installed: its row is skipped")
    spikes = {k: float(fn()[0].sum()) for k, fn in impls.items()}  # warm-up, and the spike counts
    times = time_interleaved(impls, args.repeats)
    rows = []
    for k, fn in impls.items():
        med = statistics.median(times[k])
        rows.append({"implementation": k, "median_ms": 1e3 * med, "peak_mb": peak_memory_mb(fn),
                     "spikes_per_neuron_step": spikes[k] / x0.numel(),
                     "ratio_to_norse": med / statistics.median(times[base]) if base else None})
    print(f"Izhikevich forward+backward, I {list(args.shape)} float32, {args.threads} thread(s), median of "
          f"{args.repeats}")
    print(f"{'implementation':52s} {'median ms':>10s} {'peak MiB':>9s} {'rate':>6s} {'/ Norse':>8s}")
    for row in rows:
        ratio = "" if row["ratio_to_norse"] is None else f"{row['ratio_to_norse']:.2f}"
        print(f"{row['implementation']:52s} {row['median_ms']:10.1f} {row['peak_mb']:9.0f} "
              f"{row['spikes_per_neuron_step']:6.3f} {ratio:>8s}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"shape": list(args.shape), "threads": args.threads, "repeats": args.repeats, "rows": rows,
                       "torch": torch.__version__, "machine": platform.platform()}, fh, indent=2)


if __name__ == "__main__":
    main()

"""Speed and memory of the parametric LIF (learned τ, Fang et al. 2021): our compiled CPU kernel, our fused
pure-torch node, our per-step reference loop and SpikingJelly's ``ParametricLIFNode``, forward + backward,
side by side in one run.

    PYTHONPATH=src /work/venv-bench/bin/python benchmarks/plif_speed.py [--repeats 5] [--threads 2] [--json F]

(the bench venv of ``deep_snn_speed.py``; without SpikingJelly installed its row is skipped.)

Workload: x [T=8, B=32, 64, 16, 16] float32 (a conv feature map), one τ per layer (``w`` scalar) and one
per channel (``w`` [64, 1, 1]; SpikingJelly has only the scalar), τ₀ = 2, decay_input, V_th = 1, hard
reset to 0, ATan surrogate (α = 2), loss = Σ spikes·r with a fixed random r. Before timing, the spikes
and the gradients of x and w of ours (the compiled kernel, what ``backend="auto"`` picks for a scalar w on
CPU, and the pure-torch node) are checked against SpikingJelly's (scalar w). The "CPU kernel" rows run
``backend="auto"``, which falls back to the pure-torch node where no C++ compiler is found. Timings are
medians over ``--repeats`` interleaved rounds (each round runs every implementation once); peak memory
is what the torch profiler sees allocated during one call. Never asserted in tests.
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

SHAPE = (8, 32, 64, 16, 16)


def main(argv: list[str] | None = None) -> None:
    args, x0, r = setup_layer_bench(argv, __doc__.splitlines()[0], SHAPE, 5)
    shape = args.shape
    from spikeforge.nn import PLIF

    def make(layer) -> Callable[[], tuple]:
        def run():
            x = x0.clone().requires_grad_()
            s = layer(x)
            (s * r).sum().backward()
            w = layer.w
            out = (s.detach(), x.grad, w.grad.clone())
            w.grad = None
            return out
        return run

    impls = {
        "spikeforge PLIF, CPU kernel (scalar w)": make(PLIF(2.0)),
        "spikeforge PLIF, fused torch (scalar w)": make(PLIF(2.0, backend="torch")),
        "spikeforge PLIF, CPU kernel (w per channel)": make(PLIF(2.0, shape=(shape[2], 1, 1))),
        "spikeforge PLIF, reference loop (scalar w)": make(PLIF(2.0, backend="reference")),
    }
    check = None
    try:
        from spikingjelly.activation_based import neuron, surrogate

        sj = neuron.ParametricLIFNode(init_tau=2.0, step_mode="m", surrogate_function=surrogate.ATan(alpha=2.0))

        def sj_run(node=sj):
            node.reset()
            return make(node)()

        impls["SpikingJelly ParametricLIFNode (scalar w)"] = sj_run
        theirs = sj_run()
        check = {}
        for name in ("CPU kernel", "fused torch"):
            ours = impls[f"spikeforge PLIF, {name} (scalar w)"]()
            check[name] = {
                "spikes_equal": bool(torch.equal(ours[0], theirs[0])),
                "max_abs_diff_grad_x": float((ours[1] - theirs[1]).abs().max()),
                "rel_diff_grad_w": float((ours[2] - theirs[2]).abs().max() / theirs[2].abs().max()),
            }
    except ImportError:
        print("SpikingJelly is not installed: its row is skipped")
    for fn in impls.values():  # warm-up
        fn()
    times = time_interleaved(impls, args.repeats)
    base = "SpikingJelly ParametricLIFNode (scalar w)"
    rows = []
    for k, fn in impls.items():
        med = statistics.median(times[k])
        rows.append({"implementation": k, "median_ms": 1e3 * med, "peak_mb": peak_memory_mb(fn),
                     "ratio_to_spikingjelly": (med / statistics.median(times[base])) if base in times else None})
    print(f"PLIF forward+backward, x {list(shape)} float32, {args.threads} thread(s), median of {args.repeats}")
    if check:
        print(f"cross-check against SpikingJelly: {check}")
    print(f"{'implementation':45s} {'median ms':>10s} {'peak MiB':>9s} {'/ SJ':>6s}")
    for row in rows:
        ratio = "" if row["ratio_to_spikingjelly"] is None else f"{row['ratio_to_spikingjelly']:.2f}"
        print(f"{row['implementation']:45s} {row['median_ms']:10.1f} {row['peak_mb']:9.0f} {ratio:>6s}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"shape": shape, "threads": args.threads, "repeats": args.repeats, "check": check, "rows": rows,
                       "torch": torch.__version__, "machine": platform.platform()}, fh, indent=2)


if __name__ == "__main__":
    main()

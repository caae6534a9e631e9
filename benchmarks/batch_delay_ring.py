"""Time and peak memory of the engine's batch inference with a long synaptic delay.

    python benchmarks/batch_delay_ring.py [--delay-ms 10000] [--images 40] [--jobs 2]

2 000 Poisson inputs drive 2 000 LIF neurons one to one through a delay of ``--delay-ms`` (at 0.5 ms,
10 s = 20 001 ring slots); ``Network.infer`` runs ``--images`` presentations of 50 ms. Before 2026-12-06
every presentation zero-filled a ``[slots, neurons]`` ring of spikes in flight; run this script on an
older commit to compare. Reports the wall time of ``infer`` (after a warm-up call that compiles the
kernels) and the process's peak RSS, which includes the build-time ring and delivery index that
``MAX_DELAY_BYTES`` caps. Timings depend on the machine; nothing here is asserted in tests.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--delay-ms", type=float, default=10_000.0)
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    from spikeforge.neurons import LIFParameters
    from spikeforge.sim import Network

    net = Network(dt_ms=0.5, seed=0)
    net.add_input("X", 2000)
    net.add_population("E", 2000, LIFParameters())
    net.connect("X", "E", "one_to_one", weight=5.0, delay_ms=a.delay_ms)
    rates = np.full((a.images, 2000), 20.0)
    net.infer(rates[:1], active_ms=50, rest_ms=0, n_jobs=a.jobs)  # build and compile
    t0 = time.perf_counter()
    res = net.infer(rates, active_ms=50, rest_ms=0, n_jobs=a.jobs)
    sec = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"delay {a.delay_ms:g} ms, {a.images} images, {a.jobs} thread(s): infer {sec:.2f} s, "
          f"peak RSS {peak:.0f} MB, E spikes {int(res['E'].sum())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

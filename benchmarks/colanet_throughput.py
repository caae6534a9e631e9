"""Training and inference throughput of CoLaNET (spiking and digital) on the MNIST subset.

    python benchmarks/colanet_throughput.py               # median of 3 repeats
    python benchmarks/colanet_throughput.py --repeats 5 --json out.json

One training pass = 4 000 images × 20 tacts (10 image + 10 silent) with plasticity on, the
default network (30 microcolumns per class, 300 L neurons × 784 synapses). Inference runs in
parallel over samples (numba threads). Kernels are compiled (and cached) by a warm-up run
that is not timed. The load average is printed because the machine is usually shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from spikeforge.datasets import mnist_subset_split
from spikeforge.models import CoLaNET, DigitalCoLaNET


def measure(cls, Xtr, ytr, Xte, repeats: int) -> dict:
    """Median seconds of one training pass and of inference, and images/s."""
    cls(n_epochs=1, random_state=0).fit(Xtr[:200], ytr[:200]).predict(Xte[:50])  # compile / warm up
    fit_s, pred_s = [], []
    for r in range(repeats):
        t0 = time.perf_counter()
        clf = cls(n_epochs=1, random_state=r).fit(Xtr, ytr)
        fit_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        clf.predict(Xte)
        pred_s.append(time.perf_counter() - t0)
    f, p = statistics.median(fit_s), statistics.median(pred_s)
    return {"train_pass_seconds": f, "train_images_per_s": len(Xtr) / f,
            "predict_seconds": p, "predict_images_per_s": len(Xte) / p, "repeats": repeats,
            "train_pass_seconds_all": fit_s, "predict_seconds_all": pred_s}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    Xtr, Xte, ytr, _ = mnist_subset_split(4000, 1000, seed=0)
    out = {"cpu_count": os.cpu_count(), "load_average_before": os.getloadavg()}
    for name, cls in (("spiking", CoLaNET), ("digital", DigitalCoLaNET)):
        out[name] = measure(cls, Xtr, ytr, Xte, args.repeats)
        m = out[name]
        print(f"{name:8s} train: one 4000-image pass {m['train_pass_seconds']:.2f} s "
              f"({m['train_images_per_s']:.0f} img/s) | inference {m['predict_images_per_s']:.0f} img/s "
              f"(median of {args.repeats})")  # fmt: skip
    out["load_average_after"] = os.getloadavg()
    print(f"cores: {out['cpu_count']}, load average before/after: {out['load_average_before'][0]:.1f} / "
          f"{out['load_average_after'][0]:.1f}; criterion: one pass < 120 s -> "
          f"{'PASS' if out['spiking']['train_pass_seconds'] < 120 else 'FAIL'}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()

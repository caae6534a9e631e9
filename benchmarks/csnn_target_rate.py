"""Choose the CSNN's target conv rate on a validation split of the training images.

    python benchmarks/csnn_target_rate.py [--rates 0.02 0.025 0.03 0.04 0.05] [--out benchmarks/results/csnn_target_rate.md]

With the drained sum pooling (every conv spike reaches the pool output, spec colanet.md §3.4),
the conv rate sets how long a presentation lasts: a pool neuron emits at most one spike per
tact. This script fits ``CSNN(target_rate=r)`` on 3 000 of seed 0's 4 000 training images and
scores it on the other 1 000 (the test images of the `csnn` reproduction are never used), and
prints/writes one row per rate: validation accuracy, tacts per sample, fit seconds.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from spikeforge.datasets import mnist_subset_split
from spikeforge.models import CSNN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", type=float, nargs="+", default=[0.02, 0.025, 0.03, 0.04, 0.05])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/csnn_target_rate.md"))
    args = ap.parse_args()
    Xtr, _, ytr, _ = mnist_subset_split(4000, 1000, seed=0, images=True)
    Xa, ya, Xv, yv = Xtr[:3000], ytr[:3000], Xtr[3000:], ytr[3000:]
    rows = ["| target_rate | validation accuracy (1 000 images) | tacts per sample | fit (s) |", "|---|---|---|---|"]
    for rate in args.rates:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dropped-spike counts are reported by the tacts column
            m = CSNN(random_state=0, target_rate=rate).fit(Xa, ya)
            acc = float(np.mean(m.predict(Xv) == yv))
        row = f"| {rate} | {acc:.3f} | {m.front_end_.n_tacts} | {time.perf_counter() - t0:.0f} |"
        print(row, flush=True)
        rows.append(row)
    text = ("Command: `python benchmarks/csnn_target_rate.py`  \n"
            "CSNN on seed 0's MNIST-5k training images: fit on 3 000, scored on the other 1 000 "
            "(standard error of an accuracy ≈ 0.009).\n\n" + "\n".join(rows) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

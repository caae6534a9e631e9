"""Choose the CSNN's target conv rate (and flush) on a validation split of the training images.

    python benchmarks/csnn_target_rate.py [--rates 0.02 0.025 0.03 0.04 0.05] [--flush auto 10]
                                          [--out benchmarks/results/csnn_target_rate.md]

With the drained sum pooling (every conv spike reaches the pool output, spec colanet.md §3.4),
the conv rate sets how long a presentation lasts: a pool neuron emits at most one spike per
tact. This script fits ``CSNN(target_rate=r)`` on 3 000 of seed 0's 4 000 training images and
scores it on the other 1 000 (the test images of the `csnn` reproduction are never used), and
prints/writes one row per (flush, rate): validation accuracy, tacts per sample, share of pool
spikes dropped, fit seconds. ``--flush auto`` drains every pool neuron; an integer fixes the
flush (10 = the seed's silent window: 10 image + 10 silent tacts, spec colanet.md §1.3), and the
spikes still queued after it are dropped.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from spikeforge.datasets import mnist_subset_split
from spikeforge.models import CSNN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", type=float, nargs="+", default=[0.02, 0.025, 0.03, 0.04, 0.05])
    ap.add_argument("--flush", nargs="+", default=["auto"], type=_flush,
                    help="flush tacts after the image: 'auto' (drain every pool neuron) or integers")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/csnn_target_rate.md"))
    args = ap.parse_args()
    Xtr, _, ytr, _ = mnist_subset_split(4000, 1000, seed=0, images=True)
    Xa, ya, Xv, yv = Xtr[:3000], ytr[:3000], Xtr[3000:], ytr[3000:]
    rows = ["| flush | target_rate | validation accuracy (1 000 images) | tacts per sample | pool spikes dropped | fit (s) |",
            "|---|---|---|---|---|---|"]
    for flush in args.flush:
        for rate in args.rates:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the dropped share is measured below
                m = CSNN(random_state=0, target_rate=rate, flush_tacts=flush).fit(Xa, ya)
                acc = float(np.mean(m.predict(Xv) == yv))
            fe = m.front_end_
            x = np.clip(Xv / m.input_scale_, 0.0, 1.0)
            kept, _, dropped = fe._simulate(x, fe.n_tacts - fe.image_tacts)
            n_kept, n_drop = int(kept.sum(dtype=np.int64)), int(dropped.sum())
            row = (f"| {flush} | {rate} | {acc:.3f} | {fe.n_tacts} | {100 * n_drop / max(n_kept + n_drop, 1):.1f} % "
                   f"| {time.perf_counter() - t0:.0f} |")
            print(row, flush=True)
            rows.append(row)
    cmd = "python benchmarks/csnn_target_rate.py " + " ".join(sys.argv[1:])
    text = (f"Command: `{cmd.strip()}`  \n"
            "CSNN on seed 0's MNIST-5k training images: fit on 3 000, scored on the other 1 000 "
            "(standard error of an accuracy ≈ 0.009); pool spikes dropped measured on the validation "
            "images.\n\n" + "\n".join(rows) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


def _flush(s: str) -> int | str:
    return s if s == "auto" else int(s)


if __name__ == "__main__":
    main()

"""Per-image cost of the Mozafari network (seed 001) on the MNIST subset, one core.

Times (median of repeats, milliseconds per image): the front end (DoG, local normalisation,
latency coding), one STDP training pass of conv1 and of conv2, frozen-layer batch inference,
one R-STDP pass of conv3, the Langevin research step (R-STDP + noise on every conv3 weight),
and the readable torch reference of one conv2 training step for scale.

    python benchmarks/mozafari_throughput.py [--images 1000] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from spikeforge.datasets import mnist_subset_split
from spikeforge.encoding import latency_to_spike_wave
from spikeforge.models import MozafariClassifier, ttfs
from spikeforge.plasticity import WeightConstraint


def _median(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return float(np.median(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    X, _, y, _ = mnist_subset_split(4000, 1000, seed=0, images=True)
    X, y = X[: args.images], y[: args.images] % 5
    n = len(y)
    m = MozafariClassifier(conv1_epochs=1, conv2_epochs=1, decision_epochs=1, random_state=0, cache_mb=0)
    m.fit(X[:50], y[:50])  # compile and initialise
    Xf = m._check_images(X, fitted=True)
    lat = m._encode(Xf)
    out1 = m._layer_out(lat, "conv1")
    feats = m._layer_out(out1, "conv2")
    order = np.arange(n)
    res = {
        "front_end": _median(lambda: m._encode(Xf), args.repeats),
        "conv1_stdp": _median(lambda: m._train_stdp("conv1", lat, order, 1, 5, 3), args.repeats),
        "conv2_stdp": _median(lambda: m._train_stdp("conv2", out1, order, 1, 8, 1), args.repeats),
        "conv1_conv2_inference": _median(lambda: m._layer_out(m._layer_out(lat, "conv1"), "conv2"), args.repeats),
    }
    m._features = lambda _X, f=feats: f  # conv3 alone
    res["conv3_rstdp"] = _median(lambda: m._partial_fit(Xf, y, adapt_rates=False), args.repeats)
    gen = np.random.default_rng(0)
    m.set_constraints({"conv3": WeightConstraint(noise_std=4e-4, generator=gen)})
    res["conv3_rstdp_langevin"] = _median(lambda: m._partial_fit(Xf[:200], y[:200], adapt_rates=False), 1) * n / 200
    # readable reference of one conv2 step (potentials over 15 steps + k-WTA), for scale
    w2 = m.plastic_weights()["conv2"].contiguous()

    def ref_step(i: int = 0) -> None:
        wave = latency_to_spike_wave(torch.from_numpy(out1[i]), 15)
        _, thr = ttfs.fire(ttfs.conv_potentials(wave, w2), 10.0)
        ttfs.k_winners(ttfs.pointwise_inhibition(thr), 8, 1)

    ref = _median(ref_step, 3)
    per_image = {k: 1000 * v / n for k, v in res.items()}
    per_image["conv2_reference_step"] = 1000 * ref
    for k, v in per_image.items():
        print(f"{k:>24}: {v:8.3f} ms/image")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"images": n, "ms_per_image": per_image}, fh, indent=1)


if __name__ == "__main__":
    main()

"""Bit-for-bit fingerprint of the compiled engine (for checking that speed work changes no result).

Trains Diehl & Cook's network (benchmark protocol) on the first images of the bundled MNIST subset,
then runs an Antonov-like (STDP + All-LTD, use-it-or-lose-it, snapshot thresholds) and a frozen
inference pass, and writes every weight, threshold, count, attempt and recorded spike to an
``.npz``. ``--compare other.npz`` reports whether two fingerprints are bit-identical::

    python benchmarks/engine_fingerprint.py --out before.npz --images 20
    python benchmarks/engine_fingerprint.py --out after.npz --images 20 --compare before.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diehl_cook_speed import _images  # noqa: E402


def fingerprint(n_images: int) -> dict[str, np.ndarray]:
    from spikeforge.models import DiehlCook2015
    from spikeforge.models.stdp_all_ltd import STDPAllLTDClassifier
    from spikeforge.plasticity.trace_stdp import segment_gates

    out: dict[str, np.ndarray] = {}
    model = DiehlCook2015(random_state=0)
    model.n_features_in_ = 784
    net = model._build_network(10)
    X = _images(n_images)
    rates = X / 4.0
    res = net.run(rates, active_ms=350, rest_ms=150, learning=True, normalize=True, min_spikes=5,
                  retry_population="E", record_spikes=True)
    out["dc_w"] = net.connections["XE"].weights
    out["dc_theta"] = net.theta("E")
    out["dc_v"] = net.potentials("E")
    out["dc_counts"] = res.counts["E"]
    out["dc_attempts"] = res.attempts
    for name, (t, i) in res.spikes.items():
        out[f"dc_spk_t_{name}"], out[f"dc_spk_i_{name}"] = t, i
    out["dc_infer"] = net.infer(rates[:8], active_ms=350, use_thresholds=True, min_spikes=5,
                                retry_population="E", n_jobs=1)["E"]

    al = STDPAllLTDClassifier(random_state=1)
    al.n_features_in_ = 784
    anet = al._build_network(10)
    labels = np.arange(n_images) % 10
    n = anet.populations["E"].n
    seg = np.repeat(np.arange(10), n // 10)
    gates = {"XE": np.stack([segment_gates(n, seg, c) for c in labels])}
    ares = anet.run(X / 255.0 * 63.75, active_ms=350, rest_ms=150, gates=gates, decay=True, record_spikes=True)
    for name in anet.connections:
        out[f"al_w_{name}"] = anet.connections[name].weights
    out["al_theta"] = anet.theta("E")
    out["al_counts"] = ares.counts["E"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--out", required=True)
    ap.add_argument("--compare")
    a = ap.parse_args()
    fp = fingerprint(a.images)
    np.savez(a.out, **fp)
    if a.compare:
        ref = np.load(a.compare)
        bad = [k for k in ref.files if k not in fp or fp[k].shape != ref[k].shape
               or fp[k].tobytes() != ref[k].tobytes()]
        missing = [k for k in fp if k not in ref.files]
        print("IDENTICAL" if not bad and not missing else f"DIFFERENT: {bad} missing {missing}")
        sys.exit(1 if bad or missing else 0)
    print("written", a.out, {k: v.shape for k, v in fp.items()})


if __name__ == "__main__":
    main()

"""What a trained SNN keeps under chip constraints: few-bit weights and device mismatch (Digits, 8×8).

What it shows
-------------
* A ``spikeforge.nn.ConvSNN`` (conv-tdBN-LIF ×2, linear readout, T = 4) trained with surrogate gradients on
  scikit-learn's Digits by ``spikeforge.nn.train.fit`` (a few seconds), then made deployable: the BatchNorms
  folded into the convolutions (``spikeforge.nn.fold_batchnorm``: a chip has no BN).
* ``spikeforge.nn.quantize_weights_``: every weight rounded to a grid of ``2**bits`` levels (symmetric, one
  scale per output channel), from 8 bits down to 2; the test accuracy at each width.
* ``spikeforge.nn.add_weight_mismatch_``: every weight multiplied by ``1 + σ·ε`` (``ε ~ N(0, 1)``, per
  weight), as analog synapses vary from device to device; mean ± std of the test accuracy over ``--draws``
  independent chips (explicit ``torch.Generator`` seeds), for σ from 5 % to 40 %.
* A plot of both curves (``hardware_constraints.png``).

How to run
----------
::

    python examples/hardware_constraints.py              # 8 epochs, 5 mismatch draws per σ
    python examples/hardware_constraints.py --epochs 3 --draws 3

Runtime: about 15–40 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from spikeforge.nn import add_weight_mismatch_, fold_batchnorm, quantize_weights_
from spikeforge.nn.train import TrainConfig, evaluate, fit, load_data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--draws", type=int, default=5, help="mismatch draws (chips) per σ (default 5)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    data = load_data("digits", seed=args.seed)
    cfg = TrainConfig(model="convsnn", data="digits", epochs=args.epochs, batch_size=32, lr=3e-3, T=4,
                      seed=args.seed, device="cpu", extra={"channels": [8, 16], "hidden": 64})
    model = fit(cfg, data=data, progress=False, log=None)["model"]
    deployed = fold_batchnorm(model)  # BN folded into the convolutions (eval mode)
    base = evaluate(deployed, data)["accuracy"]
    print(f"trained ConvSNN on Digits ({len(data.y_train)} / {len(data.y_test)} images, T = 4) in "
          f"{time.perf_counter() - t0:.1f} s; float32, BN folded: test accuracy {base:.3f}")

    print("\nweights quantised (symmetric, per output channel):")
    print("| bits | test accuracy | change |")
    print("|---|---|---|")
    bits_acc = {}
    for bits in (8, 6, 5, 4, 3, 2):
        q = copy.deepcopy(deployed)
        quantize_weights_(q, bits)
        bits_acc[bits] = evaluate(q, data)["accuracy"]
        print(f"| {bits} | {bits_acc[bits]:.3f} | {bits_acc[bits] - base:+.3f} |")

    print(f"\nmultiplicative weight mismatch, {args.draws} chips per σ (mean ± std):")
    print("| σ | test accuracy | change |")
    print("|---|---|---|")
    mis_acc = {}
    for sigma in (0.05, 0.1, 0.2, 0.3, 0.4):
        accs = []
        for draw in range(args.draws):
            m = copy.deepcopy(deployed)
            add_weight_mismatch_(m, sigma, generator=torch.Generator().manual_seed(1000 * args.seed + draw))
            accs.append(evaluate(m, data)["accuracy"])
        mis_acc[sigma] = (statistics.mean(accs), statistics.pstdev(accs))
        print(f"| {sigma:.0%} | {mis_acc[sigma][0]:.3f} ± {mis_acc[sigma][1]:.3f} | {mis_acc[sigma][0] - base:+.3f} |")
    print(f"8-bit weights keep the accuracy within 1 point: {abs(bits_acc[8] - base) <= 0.01}")

    from spikeforge.viz import save, subplots

    fig, (a1, a2) = subplots(1, 2, figsize=(8, 3))
    a1.plot(list(bits_acc), list(bits_acc.values()), "o-")
    a1.axhline(base, color="gray", ls=":", label="float32")
    a1.set_xlabel("bits per weight")
    a1.set_ylabel("test accuracy")
    a1.invert_xaxis()
    a1.legend(fontsize=7)
    xs = [100 * s for s in mis_acc]
    a2.errorbar(xs, [m for m, _ in mis_acc.values()], yerr=[s for _, s in mis_acc.values()], fmt="o-", capsize=3)
    a2.axhline(base, color="gray", ls=":")
    a2.set_xlabel("weight mismatch σ (%)")
    fig.suptitle("ConvSNN on Digits under chip constraints", fontsize=9)
    print(f"plot: {save(fig, 'hardware_constraints.png')}")


if __name__ == "__main__":
    main()

"""Convert a trained ReLU network into a spiking network (ANN→SNN) on scikit-learn's Digits.

What it shows
-------------
1. Train an ordinary small CNN on the 8×8 Digits images: conv-BN-ReLU-avgpool twice and a linear
   readout. Only average pooling: the converter refuses max pooling (shown below, with its message).
2. ``spikeforge.conversion.convert``: fold the BatchNorm layers, calibrate one scale λ per ReLU on the
   training images, and replace each ReLU by integrate-and-fire neurons with threshold λ.
   Three variants are compared: ``"max"`` (largest activation), ``"robust"`` (99.9th percentile,
   soft reset) and ``"robust"`` with the initial membrane at half the threshold (``v0=0.5``).
3. ``spikeforge.conversion.accuracy_over_time``: the SNN's test accuracy after T = 4, 8, 16, 32 steps
   (all read from one 32-step simulation) and the spikes per image it needed; the longer the SNN
   runs, the closer it gets to the ANN.
4. ``spikeforge.nn.count_synops``: synaptic operations and estimated energy per image of two converted
   networks, against the ANN (accumulates for spikes, multiply-accumulates for the analog first layer).
5. ``spikeforge.conversion.finetune``: one epoch of hybrid training (surrogate-gradient BPTT of the
   converted network) at T = 4, which recovers most of the accuracy lost at that short T.

How to run
----------
::

    python examples/ann_to_snn.py
    python examples/ann_to_snn.py --epochs 20 --finetune-epochs 2

Runtime: about 10 s on a 2-core CPU (2–3 s of it for the imports; the first run in a fresh environment
also compiles spikeforge's CPU IF kernel, 2–3 s, cached in ~/.cache/spikeforge). One torch thread by
default (``--threads``). Nothing is downloaded and no file is written.

Expected output (approximately: the digits vary with the CPU, the torch build and ``--threads``)::

    Digits: 1437 training / 360 test images, 8x8
    ANN epoch 5/15  loss 0.133  test accuracy: 0.981
    ANN epoch 10/15  loss 0.042  test accuracy: 0.994
    ANN epoch 15/15  loss 0.020  test accuracy: 0.989
    max pooling refused: cannot convert layer '3' (MaxPool2d): max pooling is not supported: the max of spike train...
    ANN test accuracy: 0.989
    SNN test accuracy (direct input; spikes per image in brackets)
      method                    T=4            T=8            T=16           T=32
      max, soft reset           0.181 (  158)  0.742 (  582)  0.956 ( 1492)  0.983 ( 3355)
      robust 99.9%, soft reset  0.622 (  396)  0.933 ( 1126)  0.978 ( 2629)  0.986 ( 5611)
      robust 99.9%, v0 = 0.5    0.981 (  790)  0.986 ( 1565)  0.989 ( 3041)  0.989 ( 6053)
    scales (thresholds λ) of 'robust': layer 2: 2.93, layer 6: 5.46
    robust SNN, T=32: test accuracy: 0.986 (ANN 0.989)
    energy of 'robust 99.9%, soft reset' at T=32: 761.1k AC + 294.9k MAC = 2041.6 nJ per image, 5.27x the ANN's 387.4 nJ (84.2k MAC)
    energy of 'robust 99.9%, v0 = 0.5' at T=4: 100.0k AC + 36.9k MAC = 259.6 nJ per image, 0.67x the ANN's 387.4 nJ (84.2k MAC)
    hybrid fine-tuning of 'robust' at T=4, 1 epoch(s), train loss 0.196: test accuracy 0.622 -> 0.981

On 360 test images one image is 0.3 points, so an SNN that edges past its ANN at T = 32 is noise. The
max-norm scales are the largest activations, so its neurons need many steps to reach threshold; the
99.9th percentile lowers them, and starting the membrane at half the threshold (``v0=0.5``) rounds
instead of truncating, which is what makes T = 4 work. The energy lines are what makes short T matter:
the first conv reads the analog image, so it costs its dense MACs at every step (32 × 9.2k at T = 32), and
the spikes of the later layers cost one accumulate per spike and target; at T = 32 the SNN is estimated
at 5× the ANN's synaptic energy, at T = 4 (with v0 = ½) at two thirds of it.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from spikeforge.conversion import UnsupportedLayerError, accuracy_over_time, convert, finetune
from spikeforge.nn import count_synops, repeat_in_time
from spikeforge.nn.train import load_data

T_LIST = (4, 8, 16, 32)


def build_ann(pool: type[nn.Module] = nn.AvgPool2d) -> nn.Sequential:
    """A conversion-friendly CNN: ReLU modules (not F.relu), average pooling, no softmax."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), pool(2),   # [B, 16, 4, 4]
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), pool(2),  # [B, 32, 2, 2]
        nn.Flatten(), nn.Linear(128, 10),
    )


def train_ann(ann, X, y, X_te, y_te, epochs: int, generator: torch.Generator) -> None:
    opt = torch.optim.Adam(ann.parameters(), lr=3e-3)
    for epoch in range(1, epochs + 1):
        ann.train()
        perm = torch.randperm(len(X), generator=generator)
        loss_sum = 0.0
        for i in range(0, len(X), 64):
            idx = perm[i : i + 64]
            loss = F.cross_entropy(ann(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
        if epoch % 5 == 0 or epoch == epochs:
            print(f"ANN epoch {epoch}/{epochs}  loss {loss_sum / len(X):.3f}  "
                  f"test accuracy: {ann_accuracy(ann, X_te, y_te):.3f}")


@torch.no_grad()
def ann_accuracy(ann, X, y) -> float:
    ann.eval()
    return float((ann(X).argmax(1) == y).float().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=15, help="ANN training epochs (default 15)")
    p.add_argument("--finetune-epochs", type=float, default=1.0, help="hybrid fine-tuning epochs (0: skip)")
    p.add_argument("--finetune-T", type=int, default=4, help="time steps for fine-tuning (default 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: this network is tiny, and extra threads mostly wait)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    digits = load_data("digits", seed=args.seed)  # uint8 [N, 1, 8, 8], stratified 1 437 / 360 split
    X_tr, X_te = digits.X_train.float() * digits.scale, digits.X_test.float() * digits.scale  # in [0, 1]
    y_tr, y_te = digits.y_train, digits.y_test
    print(f"Digits: {len(X_tr)} training / {len(X_te)} test images, 8x8")

    # ---- 1. the ANN
    ann = build_ann()
    train_ann(ann, X_tr, y_tr, X_te, y_te, args.epochs, gen)
    ann_acc = ann_accuracy(ann, X_te, y_te)

    # max pooling is refused with a message that names the layer (an untrained net suffices to see it)
    try:
        convert(build_ann(pool=nn.MaxPool2d), X_tr)
    except UnsupportedLayerError as err:
        print(f"max pooling refused: {str(err)[:90]}...")

    # ---- 2. conversion (the ANN is copied, not modified) and 3. accuracy over time
    variants = {
        "max, soft reset": dict(method="max"),
        "robust 99.9%, soft reset": dict(method="robust", percentile=99.9, reset="soft"),
        "robust 99.9%, v0 = 0.5": dict(method="robust", percentile=99.9, reset="soft", v0=0.5),
    }
    print(f"ANN test accuracy: {ann_acc:.3f}")
    print("SNN test accuracy (direct input; spikes per image in brackets)")
    print("  " + f"{'method':26s}" + "".join(f"{'T=' + str(t):15s}" for t in T_LIST).rstrip())
    snns = {}
    for name, kw in variants.items():
        snn = convert(ann, X_tr, **kw)  # calibration on the training images
        snns[name] = snn
        r = accuracy_over_time(snn, X_te, y_te, T_LIST)  # one 32-step run, read at every T
        cells = "  ".join(f"{a:.3f} ({s:5.0f})" for a, s in zip(r["accuracy"], r["spikes_per_image"]))
        print(f"  {name:26s}{cells}")
    robust = snns["robust 99.9%, soft reset"]
    print("scales (thresholds λ) of 'robust': "
          + ", ".join(f"layer {n}: {float(s):.2f}" for n, s in robust.scales().items()))

    # a converted SNN is an nn.Module: [T, B, ...] in, [T, B, 10] out (one output per step)
    with torch.no_grad():
        out = robust(repeat_in_time(X_te, 32))
    snn_acc = float((out.mean(0).argmax(1) == y_te).float().mean())
    print(f"robust SNN, T=32: test accuracy: {snn_acc:.3f} (ANN {ann_acc:.3f})")

    # synaptic operations and energy per image (45 nm: 0.9 pJ per AC, 4.6 pJ per MAC): the first conv
    # reads the analog image (dense MACs at every step), the later layers receive spikes (ACs)
    for name, T in (("robust 99.9%, soft reset", 32), ("robust 99.9%, v0 = 0.5", 4)):
        ops = count_synops(snns[name], repeat_in_time(X_te[:100], T))
        print(f"energy of '{name}' at T={T}: {ops.ac_ops / 1e3:.1f}k AC + {ops.mac_ops / 1e3:.1f}k MAC "
              f"= {ops.energy_pj / 1e3:.1f} nJ per image, {ops.energy_ratio:.2f}x the ANN's "
              f"{ops.ann_energy_pj / 1e3:.1f} nJ ({ops.ann_macs / 1e3:.1f}k MAC)")

    # ---- 4. hybrid fine-tuning: surrogate-gradient BPTT of the converted SNN at a short T
    if args.finetune_epochs > 0:
        T = args.finetune_T
        before = accuracy_over_time(robust, X_te, y_te, [T])["accuracy"][0]
        hist = finetune(robust, X_tr, y_tr, T=T, epochs=args.finetune_epochs, lr=1e-3, generator=gen)
        after = accuracy_over_time(robust, X_te, y_te, [T])["accuracy"][0]
        print(f"hybrid fine-tuning of 'robust' at T={T}, {args.finetune_epochs:g} epoch(s), "
              f"train loss {hist[-1]['loss']:.3f}: test accuracy {before:.3f} -> {after:.3f}")


if __name__ == "__main__":
    main()

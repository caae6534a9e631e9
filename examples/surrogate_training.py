"""Train a small spiking network with surrogate gradients on scikit-learn's Digits (8×8 images).

What it shows
-------------
* A spiking network built from ordinary PyTorch layers and :class:`spikeforge.nn.LIF` neurons in
  multi-step mode: tensors are time-first ``[T, B, ...]``; ``spikeforge.nn.SeqToANN`` runs the
  convolution (and its BatchNorm) on all T steps at once by folding time into the batch, ``nn.Linear``
  works on ``[T, B, F]`` as it is, and ``spikeforge.nn.MeanOverTime`` averages the output layer over
  the steps (the readout).
* Direct encoding (``spikeforge.nn.repeat_in_time``: the analog image at every step) or, with
  ``--encoding rate``, Bernoulli spike trains (``spikeforge.encoding.rate_encode``).
* Backpropagation through time with the LIF's surrogate gradient (arctan by default): plain
  ``loss.backward()`` and Adam, nothing spiking-specific in the training loop.
* After training: the spike rate of each LIF layer (forward hooks) and the membrane potential of a
  few neurons, step by step, with the single-step API (``LIF.from_spec(spec, step_mode="s")`` keeps the
  membrane in ``layer.v``), checked against the fused multi-step call.
* ``--compile``: the same model wrapped in ``torch.compile(model, fullgraph=True)``. The fused LIF is
  registered as ``torch.library`` custom operators, so the whole network traces into one graph.

How to run
----------
::

    python examples/surrogate_training.py                  # direct encoding, T = 4, 10 epochs
    python examples/surrogate_training.py --epochs 3
    python examples/surrogate_training.py --encoding rate --T 8
    python examples/surrogate_training.py --compile        # torch.compile(model, fullgraph=True)

Runtime: about 5–10 s on a 2-core CPU with the defaults (2–3 s of it for the imports; the first run in a
fresh environment also compiles spikeforge's CPU LIF kernel, 2–3 s, cached in ~/.cache/spikeforge).
``--compile`` adds inductor's compilation: about 40 s on a 2-core CPU with an empty inductor cache
(three graphs: the training batch, the smaller last batch, evaluation without gradients), a few seconds
once inductor has cached them; afterwards an epoch is faster than eager. The script uses one torch
thread by default (``--threads``): the network is tiny, and on a busy machine a second OpenMP thread
mostly waits. Nothing is downloaded and no file is written (the Digits data ship with scikit-learn).

Expected output (approximately: the digits vary with the CPU, the torch build, ``--threads`` and
``--compile``)::

    Digits: 1437 training / 360 test images, 8x8, T = 4 steps, direct encoding
    epoch 1/10  loss 1.688  train acc 0.626  test accuracy: 0.844  (0.2 s)
    epoch 2/10  loss 0.517  train acc 0.916  test accuracy: 0.925  (0.2 s)
    ...
    epoch 10/10  loss 0.031  train acc 0.997  test accuracy: 0.975  (0.2 s)
    final test accuracy: 0.975  (training + evaluation 1.6 s)
    spike rate per LIF layer (test set, spikes per neuron per step):
      layer 1 (tau=2, v_th=0.5): 0.293
      layer 4 (tau=2, v_th=0.5): 0.442
    membrane of neurons [2, 32, 35] of layer 4 on test image 0 (label 7), single-step API; v after the reset, * = spike:
      t=0  I=+1.13 v=+0.00*  I=+0.92 v=+0.46   I=+1.11 v=+0.00*
      t=1  I=+1.46 v=+0.00*  I=+1.40 v=+0.00*  I=+1.43 v=+0.00*
      t=2  I=+0.96 v=+0.48   I=+1.03 v=+0.00*  I=+0.94 v=+0.47
      t=3  I=+1.43 v=+0.00*  I=+1.46 v=+0.00*  I=+1.44 v=+0.00*
    single-step spikes == multi-step spikes: True

With ``tau=2`` (and ``decay_input=True``, SpikingJelly's form) a neuron charges ``H = V + (I − V)/2``
and fires when ``H >= 0.5``; the hard reset then sets ``v`` to 0, which is why the membrane printed
after a spike is 0.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

import spikeforge.nn as sfnn
from spikeforge.encoding import rate_encode
from spikeforge.nn.train import load_data


def build_model() -> nn.Sequential:
    """conv3×3(16)-BN-LIF-avgpool2 → fc(128)-LIF → fc(10) → mean over T; input ``[T, B, 1, 8, 8]``."""
    return nn.Sequential(
        sfnn.SeqToANN(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)),  # [T, B, 16, 8, 8]
        sfnn.LIF(tau=2.0, v_th=0.5, surrogate="atan", step_mode="m"),
        sfnn.SeqToANN(nn.AvgPool2d(2), nn.Flatten()),  # [T, B, 256]
        nn.Linear(256, 128),  # Linear acts on the last dimension: [T, B, 128]
        sfnn.LIF(tau=2.0, v_th=0.5, surrogate="atan", step_mode="m"),
        nn.Linear(128, 10),  # non-spiking readout layer
        sfnn.MeanOverTime(),  # [T, B, 10] -> [B, 10] logits
    )


def encode(x: torch.Tensor, T: int, how: str, generator: torch.Generator) -> torch.Tensor:
    """``[B, 1, 8, 8] -> [T, B, 1, 8, 8]``."""
    if how == "direct":
        return sfnn.repeat_in_time(x, T)  # a stride-0 view, no copy
    return rate_encode(x, T, generator=generator)


@torch.no_grad()
def accuracy(model, X, y, T, how, generator) -> float:
    model.eval()
    pred = model(encode(X, T, how, generator)).argmax(1)
    return float((pred == y).float().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    p.add_argument("--T", type=int, default=4, help="time steps per image (default 4)")
    p.add_argument("--encoding", choices=("direct", "rate"), default="direct")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--compile", action="store_true", help="wrap the model in torch.compile(fullgraph=True)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: this network is tiny, and extra threads mostly wait)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)  # shuffling and rate-code spikes
    digits = load_data("digits", seed=args.seed)  # uint8 [N, 1, 8, 8], stratified 1 437 / 360 split
    X_tr, X_te = digits.X_train.float() * digits.scale, digits.X_test.float() * digits.scale  # in [0, 1]
    y_tr, y_te = digits.y_train, digits.y_test
    print(f"Digits: {len(X_tr)} training / {len(X_te)} test images, 8x8, T = {args.T} steps, "
          f"{args.encoding} encoding{', torch.compile' if args.compile else ''}")

    model = build_model()
    # the compiled module shares its parameters with `model`; `model` itself still runs eagerly
    net = torch.compile(model, fullgraph=True) if args.compile else model
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)

    acc = 0.0
    t_start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(X_tr), generator=gen)
        loss_sum = correct = 0.0
        for i in range(0, len(X_tr), args.batch_size):
            idx = perm[i : i + args.batch_size]
            logits = net(encode(X_tr[idx], args.T, args.encoding, gen))
            loss = F.cross_entropy(logits, y_tr[idx])
            opt.zero_grad()
            loss.backward()  # BPTT through the LIF layers' surrogate gradient
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += float((logits.argmax(1) == y_tr[idx]).sum())
        acc = accuracy(net, X_te, y_te, args.T, args.encoding, gen)
        print(f"epoch {epoch}/{args.epochs}  loss {loss_sum / len(X_tr):.3f}  train acc {correct / len(X_tr):.3f}  "
              f"test accuracy: {acc:.3f}  ({time.perf_counter() - t0:.1f} s)")
    print(f"final test accuracy: {acc:.3f}  (training + evaluation {time.perf_counter() - t_start:.1f} s)")

    # ---- spike rates per LIF layer: forward hooks on the (eager) model, one pass over the test set
    rates: dict[str, float] = {}
    lif_layers = {name: m for name, m in model.named_children() if isinstance(m, sfnn.LIF)}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: rates.__setitem__(name, float(out.mean())))
             for name, m in lif_layers.items()]
    accuracy(model, X_te, y_te, args.T, args.encoding, gen)
    for h in hooks:
        h.remove()
    print("spike rate per LIF layer (test set, spikes per neuron per step):")
    for name, m in lif_layers.items():
        print(f"  layer {name} (tau={m.spec.tau:g}, v_th={m.v_th:g}): {rates[name]:.3f}")

    # ---- the membrane, step by step: the input current of layer '4' for one test image, fed to a
    # single-step twin of the trained layer (same LIFSpec); the state lives in `step_lif.v`
    with torch.no_grad():
        x_seq = encode(X_te[:1], args.T, args.encoding, gen)
        current = model[3](model[2](model[1](model[0](x_seq))))  # [T, 1, 128], input of LIF layer '4'
        spikes_m = model[4](current)  # the fused multi-step call
        step_lif = sfnn.LIF.from_spec(model[4].spec, step_mode="s")
        counts = spikes_m.sum(0)[0]  # spikes per neuron over the T steps
        # three neurons that fire at some steps but not at all of them (integration shows), else the busiest
        order = sorted(range(counts.numel()), key=lambda n: (not 0 < counts[n] < args.T, -float(counts[n])))
        neurons = order[:3]
        print(f"membrane of neurons {neurons} of layer 4 on test image 0 (label {int(y_te[0])}), "
              "single-step API; v after the reset, * = spike:")
        spikes_s = []
        for t in range(args.T):
            s = step_lif(current[t])  # [1, 128]; membrane kept in step_lif.v
            spikes_s.append(s)
            cells = "  ".join(f"I={float(current[t, 0, n]):+.2f} v={float(step_lif.v[0, n]):+.2f}{'*' if s[0, n] else ' '}"
                              for n in neurons)
            print(f"  t={t}  {cells}".rstrip())
        step_lif.reset_state()  # (or sfnn.reset_states(module) for a whole network) before a new image
        same = torch.equal(torch.stack(spikes_s), spikes_m)
        print(f"single-step spikes == multi-step spikes: {same}")


if __name__ == "__main__":
    main()

"""Export a trained spiking network to NIR, read it back, and check that nothing changed.

What it shows
-------------
* Training a small :class:`spikeforge.nn.ConvSNN` on scikit-learn's Digits with
  :func:`spikeforge.nn.train.fit` (surrogate gradients, tdBN; 3 epochs by default).
* :func:`spikeforge.interop.to_nir`: the network as a ``nir.NIRGraph`` (the Neuromorphic Intermediate
  Representation that snnTorch, Norse, SpikingJelly, Sinabs, Rockpool, Lava and several chips read).
  tdBN is folded into the convolutions; each LIF layer becomes a NIR ``LIF`` node by the forward-Euler
  convention ``β = 1 − dt/τ``; the readout averaged over time is recorded in the graph's metadata.
* ``nir.write`` / :func:`spikeforge.interop.from_nir`: the file read back as a runnable module over
  ``[T, B, ...]`` sequences, with spikeforge's fused LIF kernels, and the same test accuracy.
* What a chip toolchain would see: the node types and the LIF parameters (τ, R, threshold).

How to run
----------
::

    python examples/nir_export.py              # 3 epochs, dt = 1 ms
    python examples/nir_export.py --dt 1e-4    # snnTorch's importer assumes dt = 1e-4 s

Needs the ``nir`` extra (``pip install -e ".[nir]"``; the ``test`` extra includes it). Runtime:
about 5 s on a 2-core CPU. The ``.nir`` file goes to a temporary folder and is deleted at the end.

Expected output (approximately)::

    Digits: 1437 training / 360 test images, ConvSNN T=4; 3 epochs
    test accuracy (PyTorch model): 0.925
    wrote model.nir (192.9 kB): input (Input) -> stem.0 (Conv2d) -> stem_act (LIF) -> stages.0.pool.0 (AvgPool2d) -> ...
    first LIF node: tau = 2 ms, R = 2, v_threshold = 0.5, v_reset = 0 (β = 0.5 per step of 1 ms)
    test accuracy (NIR graph read back): 0.925
    predictions identical: True
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--dt", type=float, default=1e-3, help="Euler step of the NIR neurons, seconds")
    args = ap.parse_args()

    import nir

    from spikeforge.interop import from_nir, to_nir
    from spikeforge.nn import repeat_in_time
    from spikeforge.nn.train import TrainConfig, fit, load_data

    torch.manual_seed(0)
    data = load_data("digits", seed=0)
    cfg = TrainConfig(model="convsnn", data="digits", epochs=args.epochs, batch_size=64, lr=2e-3, T=4, seed=0)
    print(f"Digits: {len(data.y_train)} training / {len(data.y_test)} test images, ConvSNN T={cfg.T}; {cfg.epochs} epochs")
    model = fit(cfg, data=data, progress=False, log=None)["model"].eval()
    X = data.to_float(torch.as_tensor(data.X_test))
    y = torch.as_tensor(data.y_test)
    with torch.no_grad():
        pred_model = model(X).argmax(1)
    print(f"test accuracy (PyTorch model): {float((pred_model == y).float().mean()):.3f}")

    graph = to_nir(model, tuple(X.shape[1:]), dt=args.dt)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.nir")
        nir.write(path, graph)
        size_kb = os.path.getsize(path) / 1e3
        chain = " -> ".join(f"{n} ({type(graph.nodes[n]).__name__})" for n in list(graph.nodes)[:4])
        print(f"wrote model.nir ({size_kb:.1f} kB): {chain} -> ...")
        lif = next(node for node in graph.nodes.values() if isinstance(node, nir.LIF))
        tau, r = float(np.ravel(lif.tau)[0]), float(np.ravel(lif.r)[0])
        print(
            f"first LIF node: tau = {tau * 1e3:g} ms, R = {r:g}, v_threshold = {float(np.ravel(lif.v_threshold)[0]):g}, "
            f"v_reset = {float(np.ravel(lif.v_reset)[0]):g} (β = {1 - args.dt / tau:g} per step of {args.dt * 1e3:g} ms)"
        )
        net = from_nir(path)
    with torch.no_grad():
        pred_nir = net(repeat_in_time(X, cfg.T)).mean(0).argmax(1)  # metadata: readout = mean over time
    print(f"test accuracy (NIR graph read back): {float((pred_nir == y).float().mean()):.3f}")
    print(f"predictions identical: {bool(torch.equal(pred_nir, pred_model))}")


if __name__ == "__main__":
    main()

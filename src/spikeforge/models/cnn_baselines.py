"""The seed 002 comparison's conventional CNNs (spec colanet.md §3.6), in PyTorch.

* **CNN1**: conv 32×4×4 s1 ReLU → maxpool 2 → conv 64×3×3 s1 ReLU → maxpool 2 → flatten,
  dropout 0.5 → FC softmax.
* **CNN2** ("closest in structure to ours"): conv 28×9×9 stride 2 ReLU → maxpool 2 →
  flatten, dropout 0.5 → FC softmax.

The seed has 5 classes (NEOVISION2); here the output size is the number of classes.
Training: Adam, cross-entropy, mini-batches, a fixed number of epochs; CPU is enough.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["fit_cnn", "make_cnn1", "make_cnn2", "predict_cnn"]


def _flat_size(body: nn.Module, in_shape: tuple[int, int, int]) -> int:
    with torch.no_grad():
        return int(body(torch.zeros(1, *in_shape)).numel())


def make_cnn1(in_shape: tuple[int, int, int] = (1, 28, 28), n_classes: int = 10) -> nn.Sequential:
    """CNN1 of the seed's table for inputs ``[C, H, W]``; returns logits ``[B, n_classes]``."""
    body = nn.Sequential(
        nn.Conv2d(in_shape[0], 32, 4, stride=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, stride=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5),
    )  # fmt: skip
    return nn.Sequential(*body, nn.Linear(_flat_size(body, in_shape), n_classes))


def make_cnn2(in_shape: tuple[int, int, int] = (1, 28, 28), n_classes: int = 10) -> nn.Sequential:
    """CNN2 of the seed's table (28×9×9, stride 2, maxpool 2, dropout, FC); logits ``[B, n_classes]``."""
    body = nn.Sequential(
        nn.Conv2d(in_shape[0], 28, 9, stride=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5),
    )
    return nn.Sequential(*body, nn.Linear(_flat_size(body, in_shape), n_classes))


def fit_cnn(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
) -> nn.Module:
    """Train ``model`` on images ``X`` [n, C, H, W] (float, e.g. brightness in [0, 1]) and integer
    labels ``y`` [n] in ``0 … n_classes − 1`` with Adam and cross-entropy.

    Deterministic for a given ``seed`` on CPU (up to thread-count effects in the float sums); the
    global torch RNG is left as it was (training runs inside ``torch.random.fork_rng``).

    Raises
    ------
    ValueError
        Empty data, mismatched lengths, non-integer or negative labels, or labels beyond the
        model's number of outputs.
    """
    y = np.asarray(y)
    if X.shape[0] == 0:
        raise ValueError("X is empty")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape [{X.shape[0]}]; got {y.shape}")
    if y.dtype.kind not in "iu" or y.min() < 0:
        raise ValueError("y must hold integer class indices 0 … n_classes − 1 (encode labels with np.unique(..., return_inverse=True))")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        Xt = torch.as_tensor(X, dtype=torch.float32)
        yt = torch.as_tensor(y, dtype=torch.long)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loss_fn = nn.CrossEntropyLoss()
        model.train()
        for _ in range(int(epochs)):
            perm = torch.randperm(Xt.shape[0], generator=g)
            for s in range(0, Xt.shape[0], batch_size):
                idx = perm[s : s + batch_size]
                opt.zero_grad()
                logits = model(Xt[idx])
                if int(yt.max()) >= logits.shape[1]:
                    raise ValueError(f"label {int(yt.max())} is out of range for a model with {logits.shape[1]} outputs")
                loss = loss_fn(logits, yt[idx])
                loss.backward()
                opt.step()
    model.eval()
    return model


def predict_cnn(model: nn.Module, X: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class indices ``[n]`` for images ``X`` [n, C, H, W] (an empty ``X`` gives an empty array)."""
    model.eval()
    if X.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    out = []
    with torch.no_grad():
        for s in range(0, X.shape[0], batch_size):
            out.append(model(torch.as_tensor(X[s : s + batch_size], dtype=torch.float32)).argmax(1).numpy())
    return np.concatenate(out)

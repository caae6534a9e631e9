"""Time-to-first-spike convolutional building blocks, readable torch versions (SpykeTorch
semantics; spec §C.1). The compiled fast path of :class:`~spikeforge.models.MozafariClassifier`
is tested against these.

Spike waves are time-first and cumulative: ``[T, C, H, W]`` for one sample (a unit is 1 from
its first spike on). Convolving a cumulative wave gives the potentials ``[T, F, Ho, Wo]`` of
non-leaky integrate-and-fire neurons that receive every input spike once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "conv_potentials",
    "fire",
    "k_winners",
    "pointwise_inhibition",
    "pool_spikes",
]


def conv_potentials(spikes: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Potentials of a convolutional layer of non-leaky IF neurons, per time step.

    Parameters
    ----------
    spikes : Tensor of shape [T, C, H, W] or [T, B, C, H, W]
        Cumulative input spike wave (0/1).
    weight : Tensor of shape [F, C, kh, kw]

    Returns
    -------
    Tensor of shape [T, F, Ho, Wo] or [T, B, F, Ho, Wo] (valid convolution, stride 1).
    """
    s = spikes.to(weight.dtype)
    lead = s.shape[:-3]
    out = F.conv2d(s.reshape(-1, *s.shape[-3:]), weight)
    return out.reshape(*lead, *out.shape[-3:])


def fire(potentials: torch.Tensor, threshold: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Threshold potentials ``[T, ...]``: ``(spikes, thresholded potentials)``.

    A neuron spikes at every step where ``V > threshold`` (a cumulative wave, since ``V``
    never decreases). ``threshold=None`` means "infinite": only the last step is kept and
    every neuron with ``V > 0`` there spikes (the decision layer).
    """
    v = potentials.clone()
    if threshold is None:
        v[:-1] = 0
        v = torch.where(v > 0, v, torch.zeros_like(v))
    else:
        v = torch.where(v > threshold, v, torch.zeros_like(v))
    return (v > 0).to(potentials.dtype), v


def pointwise_inhibition(thresholded: torch.Tensor) -> torch.Tensor:
    """At every position keep only the feature that spikes first (ties: larger potential at
    that step, then lower feature index); ``[T, F, H, W]`` → same shape."""
    T, Fn, H, W = thresholded.shape
    out = torch.zeros_like(thresholded)
    spiking = thresholded > 0
    for y in range(H):
        for x in range(W):
            fired = spiking[:, :, y, x]
            if not fired.any():
                continue
            t0 = int(torch.nonzero(fired.any(dim=1))[0])
            vals = torch.where(fired[t0], thresholded[t0, :, y, x], torch.full((Fn,), -1.0))
            f = int(torch.argmax(vals))  # first maximal index on ties
            out[:, f, y, x] = thresholded[:, f, y, x]
    return out


def k_winners(potentials: torch.Tensor, k: int, radius: int = 0) -> list[tuple[int, int, int]]:
    """Up to ``k`` winners of a layer for one sample (SpykeTorch ``get_k_winners``).

    Repeat ``k`` times: among the neurons that spiked and are not yet inhibited, pick the one
    with the earliest spike, then the largest potential at that step, then the lowest flat
    index ``(f, y, x)``; then inhibit its feature map entirely and, if ``radius > 0``, every
    feature in the ``(2r+1)×(2r+1)`` square centred on it (clipped at the borders).

    Parameters
    ----------
    potentials : Tensor of shape [T, F, H, W]
        Thresholded potentials (0 = not spiking).
    k : int
    radius : int

    Returns
    -------
    list of (feature, row, col), in selection order.
    """
    T, Fn, H, W = potentials.shape
    spiking = potentials > 0
    fired = spiking.any(dim=0)
    first = torch.where(fired, torch.argmax(spiking.to(torch.uint8), dim=0), torch.full_like(fired, T, dtype=torch.int64))
    v_first = potentials.gather(0, first.clamp(max=T - 1).unsqueeze(0)).squeeze(0)
    alive = fired.clone()
    winners: list[tuple[int, int, int]] = []
    for _ in range(k):
        best = None
        for f in range(Fn):
            for y in range(H):
                for x in range(W):
                    if not alive[f, y, x]:
                        continue
                    key = (int(first[f, y, x]), -float(v_first[f, y, x]))
                    if best is None or key < best[0]:
                        best = (key, (f, y, x))
        if best is None:
            break
        f, y, x = best[1]
        winners.append((f, y, x))
        alive[f] = False
        if radius > 0:
            alive[:, max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1] = False
    return winners


def pool_spikes(spikes: torch.Tensor, kernel: int, stride: int | None = None, pad: int = 0) -> torch.Tensor:
    """Max-pool a spike wave ``[T, C, H, W]`` (the earliest spike of each window survives;
    floor mode), then zero-pad by ``pad`` on every side."""
    out = F.max_pool2d(spikes, kernel, stride if stride is not None else kernel)
    return F.pad(out, (pad, pad, pad, pad)) if pad else out

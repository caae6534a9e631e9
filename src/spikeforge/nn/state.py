"""Carrying neuron state across calls: truncated backpropagation through time over long sequences.

Multi-step layers are stateless by default: every call starts from rest, and a sequence is one call. For
sequences too long to backpropagate through at once (BPTT memory grows with ``T``), split time into
chunks, let every neuron layer continue from where the previous chunk left it, and cut the graph between
chunks::

    with sfnn.carry_state(net):                      # multi-step layers keep their final state per call
        for chunk in x.split(k):                     # x [T, B, ...] → chunks [k, B, ...]
            loss = criterion(net(chunk), target)
            loss.backward(); opt.step(); opt.zero_grad()
            sfnn.detach_states(net)                  # truncate: the next chunk does not backprop into this one

Inside the context the layers (:class:`~spikeforge.nn.LIF`, ``IF``, ``PLIF``, ``ALIF``, ``Izhikevich``,
``CubaLIF``, ``RecurrentLIF``, ``StochasticLIF``) continue from their carried state when a call gives none, so chunked calls
equal one call over the whole sequence (spikes and states; tested). Leaving the context forgets the carried
states; :func:`~spikeforge.nn.reset_states` forgets them inside it (between independent sequences). The states
are kept beside the layer objects (copies and replicas of a layer do not carry); do not share one model between
threads inside the block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .neurons import _CARRIED, ALIF, LIF, PLIF, Izhikevich
from .recurrent import RecurrentLIF
from .stochastic import StochasticLIF
from .synaptic import CubaLIF

__all__ = ["carry_state", "detach_states"]

_COMPOSITE = (CubaLIF, RecurrentLIF)  # layers that hold their own neuron: only the outer layer carries
_NEURONS = (LIF, PLIF, ALIF, Izhikevich, StochasticLIF, *_COMPOSITE)


def _stateful_layers(model: nn.Module) -> list[nn.Module]:
    inner = {id(sub) for m in model.modules() if isinstance(m, _COMPOSITE) for sub in m.modules() if sub is not m}
    return [m for m in model.modules()
            if (isinstance(m, _NEURONS) or getattr(m, "_has_carried_state", False)) and id(m) not in inner]


@contextmanager
def carry_state(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, every multi-step neuron layer of ``model`` continues from the state its previous call
    left (``[B, ...]`` tensors; a state passed explicitly still wins). On exit the carried states are
    forgotten and the layers are stateless again. A nested block over layers already carried continues their
    states and leaves them to the outer block.

    The carried states are kept beside the layers (keyed by the layer objects), not in them: a copy
    (``copy.deepcopy``, ``fold_batchnorm``, ``torch.save``) or a ``DataParallel`` replica of a layer is
    stateless and does not carry. A neuron module used at two places of one forward pass would share one
    carried state: give each use its own module.

    Raises
    ------
    TypeError
        ``model`` is not an ``nn.Module``.
    ValueError
        (From a layer, inside the block) a carried state for another batch size: call
        :func:`~spikeforge.nn.reset_states` between independent sequences.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
    mine = [m for m in _stateful_layers(model) if m not in _CARRIED]
    for m in mine:
        _CARRIED[m] = [None]
    try:
        yield model
    finally:
        for m in mine:
            _CARRIED.pop(m, None)


def _detach(state):
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple):
        return type(state)(*(_detach(t) for t in state)) if hasattr(state, "_fields") else tuple(
            _detach(t) for t in state)
    return state


def detach_states(model: nn.Module) -> None:
    """Detach every state a neuron layer of ``model`` keeps (carried by :func:`carry_state`, or the
    single-step ``v`` / ``a`` / ``u``) from the autograd graph, in place: the values stay, the history
    behind them is cut (truncated BPTT)."""
    for m in _stateful_layers(model):
        slot = _CARRIED.get(m)
        if slot is not None and slot[0] is not None:
            slot[0] = _detach(slot[0])
        for name in ("v", "a", "u"):
            if isinstance(getattr(m, name, None), torch.Tensor):
                setattr(m, name, getattr(m, name).detach())

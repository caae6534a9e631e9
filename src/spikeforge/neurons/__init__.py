"""Neuron models. Functional forms with explicit state; time-first ``[T, B, ...]``."""

from .lif import LIFParameters, lif_conductance_euler, lif_current_euler, simulate_lif_reference
from .probabilistic import (
    probabilistic_spike_counts,
    probabilistic_step,
    simulate_probabilistic_layer,
)

__all__ = [
    "LIFParameters",
    "lif_conductance_euler",
    "lif_current_euler",
    "probabilistic_spike_counts",
    "probabilistic_step",
    "simulate_lif_reference",
    "simulate_probabilistic_layer",
]

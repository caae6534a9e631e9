"""Neuron models. Functional forms with explicit state; time-first ``[T, B, ...]``."""

from .probabilistic import (
    probabilistic_spike_counts,
    probabilistic_step,
    simulate_probabilistic_layer,
)

__all__ = ["probabilistic_spike_counts", "probabilistic_step", "simulate_probabilistic_layer"]

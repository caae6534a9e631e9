"""The simulation engine for local-learning spiking networks.

Populations of conductance- or current-based LIF neurons (refractoriness, adaptive thresholds
in the live and snapshot readings) and Poisson inputs; connections (all-to-all, one-to-one,
all-but-self or any mask) with per-synapse delays; trace-based STDP with per-neuron gates
(STDP / All-LTD), the use-it-or-lose-it decay and weight normalisation; spike-count, raster
and voltage monitors. The time loop is compiled (numba); :mod:`spikeforge.sim.reference` is
the readable stepper it is tested against. Nothing in here is specific to one model.
"""

from .network import Connection, Network, Population, RunResult, SpikeEvents
from .reference import ReferenceNetwork

__all__ = ["Connection", "Network", "Population", "ReferenceNetwork", "RunResult", "SpikeEvents"]

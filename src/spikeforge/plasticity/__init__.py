"""Local learning rules. Each rule has a readable reference over spike times and a compiled
batch path; the per-pairing formulas (``*_facilitate`` / ``*_depress``) exist once and are
shared by every compiled kernel that uses the rule."""

from .memristive import (
    TANH_CUTOFF,
    MemristiveTanh,
    memristive_depress,
    memristive_facilitate,
    memristive_stdp,
    memristive_stdp_reference,
)
from .resource import (
    NEURON_STATE_FIELDS,
    SynapticResource,
    anti_hebbian_delta,
    dopamine_delta,
    initial_neuron_state,
    resource_at_zero_weight,
    resource_on_dopamine,
    resource_on_spike,
    resource_one_factor,
    resource_plasticity,
    resource_plasticity_reference,
    resource_redistribute,
    resource_to_weight,
    stability_after_dopamine,
    stability_factor,
    weight_to_resource,
)
from .stdp import (
    NNRestrictedSTDP,
    stdp_depress,
    stdp_facilitate,
    stdp_nn_restricted,
    stdp_nn_restricted_reference,
)

__all__ = [
    "TANH_CUTOFF",
    "MemristiveTanh",
    "NEURON_STATE_FIELDS",
    "NNRestrictedSTDP",
    "SynapticResource",
    "anti_hebbian_delta",
    "dopamine_delta",
    "initial_neuron_state",
    "memristive_depress",
    "memristive_facilitate",
    "memristive_stdp",
    "memristive_stdp_reference",
    "resource_at_zero_weight",
    "resource_on_dopamine",
    "resource_on_spike",
    "resource_one_factor",
    "resource_plasticity",
    "resource_plasticity_reference",
    "resource_redistribute",
    "resource_to_weight",
    "stability_after_dopamine",
    "stability_factor",
    "stdp_depress",
    "stdp_facilitate",
    "stdp_nn_restricted",
    "stdp_nn_restricted_reference",
    "weight_to_resource",
]

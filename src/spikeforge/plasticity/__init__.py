"""Local learning rules. Each rule has a readable reference over spike times and a compiled
batch path; the per-pairing formulas (``*_facilitate`` / ``*_depress``) exist once and are
shared by every compiled kernel that uses the rule."""

from .constraints import WeightConstraint, constrained_update, effective_bounds, project
from .first_spike import RSTDP, FirstSpikeSTDP, first_spike_stdp_reference, first_spike_stdp_step
from .memristive import (
    TANH_CUTOFF,
    MemristiveTanh,
    memristive_depress,
    memristive_facilitate,
    memristive_stdp,
    memristive_stdp_reference,
)
from .stdp import (
    NNRestrictedSTDP,
    stdp_depress,
    stdp_facilitate,
    stdp_nn_restricted,
    stdp_nn_restricted_reference,
)
from .trace_stdp import (
    GATES,
    TraceSTDP,
    decay_table,
    normalize_columns,
    segment_gates,
    stdp_post_update,
    stdp_pre_update,
    trace_bump,
    trace_read,
    trace_stdp_reference,
    use_it_or_lose_it,
)

__all__ = [
    "GATES",
    "RSTDP",
    "TANH_CUTOFF",
    "FirstSpikeSTDP",
    "TraceSTDP",
    "decay_table",
    "normalize_columns",
    "segment_gates",
    "stdp_post_update",
    "stdp_pre_update",
    "trace_bump",
    "trace_read",
    "trace_stdp_reference",
    "use_it_or_lose_it",
    "MemristiveTanh",
    "NNRestrictedSTDP",
    "WeightConstraint",
    "constrained_update",
    "effective_bounds",
    "first_spike_stdp_reference",
    "first_spike_stdp_step",
    "memristive_depress",
    "memristive_facilitate",
    "memristive_stdp",
    "memristive_stdp_reference",
    "project",
    "stdp_depress",
    "stdp_facilitate",
    "stdp_nn_restricted",
    "stdp_nn_restricted_reference",
]

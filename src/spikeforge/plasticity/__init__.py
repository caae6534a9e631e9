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
    "TANH_CUTOFF",
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
    "memristive_depress",
    "memristive_facilitate",
    "memristive_stdp",
    "memristive_stdp_reference",
    "stdp_depress",
    "stdp_facilitate",
    "stdp_nn_restricted",
    "stdp_nn_restricted_reference",
]

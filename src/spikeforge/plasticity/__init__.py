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

__all__ = [
    "TANH_CUTOFF",
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

"""Local learning rules. Each rule has a readable reference over spike times and a compiled
batch path; the per-pairing formulas (``*_facilitate`` / ``*_depress``) exist once and are
shared by every compiled kernel that uses the rule."""

from .._lazy import lazy_exports

# every submodule's public names (its __all__) are exported here, the submodule being imported
# on first use (the engine and the local-learning models must not pull in torch this way)
__getattr__, __dir__, __all__ = lazy_exports(__name__, (
    ".constraints",
    ".first_spike",
    ".memristive",
    ".resource",
    ".stdp",
    ".torch_stdp",
    ".trace_stdp",
))

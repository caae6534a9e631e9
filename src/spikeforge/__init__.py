"""spikeforge: spiking neural networks with local plasticity and surrogate gradients.

Subpackages (a layer imports only from the layers above it):

- :mod:`spikeforge.datasets`   bundled and local-file loaders (no downloads)
- :mod:`spikeforge.encoding`   GRF, L1, rate and reference-train coding
- :mod:`spikeforge.neurons`    neuron models (functional, explicit state)
- :mod:`spikeforge.plasticity` learning rules (reference + compiled paths)
- :mod:`spikeforge.sim`        the compiled engine for local-learning networks
- :mod:`spikeforge.nn`         gradient-trained layers (fused LIF, tdBN, deep SNNs)
- :mod:`spikeforge.models`     complete models (scikit-learn estimators)
- :mod:`spikeforge.conversion` ANN→SNN conversion and hybrid training
- :mod:`spikeforge.continual`  continual-learning streams, strategies and metrics
- :mod:`spikeforge.interop`    NIR export and import
- :mod:`spikeforge.experiments` reproductions of the seed papers
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {
    "cli",
    "continual",
    "conversion",
    "datasets",
    "encoding",
    "experiments",
    "interop",
    "io",
    "models",
    "neurons",
    "nn",
    "plasticity",
    "sim",
    "viz",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__"]

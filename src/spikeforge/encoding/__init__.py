"""Encoders: Gaussian receptive fields, L1 normalisation, rate (Bernoulli/Poisson) trains,
image latency (time-to-first-spike: linear / log per pixel, SpykeTorch's rank order) and rate
codes, the DoG / local-normalisation image front end of SpykeTorch, the reference-train
coding of seed 000, and delta coding of time series (snnTorch's ``delta``, and send-on-delta
modulation with a reference level as in event sensors). Outputs are time-first ``[T, B, ...]`` where a
time axis exists; every random function takes an explicit generator."""

from .._lazy import lazy_exports

# every submodule's public names (its __all__) are exported here, the submodule being imported
# on first use (the engine and the local-learning models must not pull in torch this way)
__getattr__, __dir__, __all__ = lazy_exports(__name__, (
    ".accumulator",
    ".delta",
    ".grf",
    ".images",
    ".latency",
    ".poisson",
    ".rate",
    ".reference",
))

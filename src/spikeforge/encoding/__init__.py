"""Encoders: Gaussian receptive fields, L1 normalisation, rate (Bernoulli/Poisson) trains,
the reference-train coding of seed 000, and latency (time-to-first-spike) coding with the
DoG / local-normalisation image front end of SpykeTorch. Outputs are time-first ``[T, B, ...]`` where a
time axis exists; every random function takes an explicit generator."""

from .grf import GaussianReceptiveFields, L1Normalizer, grf_sigma, l1_normalize
from .latency import (
    MOZAFARI_DOG,
    dog_filter,
    dog_kernel,
    latency_to_spike_wave,
    linear_latency,
    local_normalization,
    log_latency,
    rank_order_latency,
    spike_wave_to_latency,
)
from .rate import bernoulli_spikes, poisson_spikes
from .reference import (
    ReferenceTrain,
    allocate_reference_spikes,
    allocation_counts,
    draw_reference_train,
    reference_train_length,
)

__all__ = [
    "MOZAFARI_DOG",
    "GaussianReceptiveFields",
    "L1Normalizer",
    "ReferenceTrain",
    "allocate_reference_spikes",
    "allocation_counts",
    "bernoulli_spikes",
    "dog_filter",
    "dog_kernel",
    "draw_reference_train",
    "grf_sigma",
    "l1_normalize",
    "latency_to_spike_wave",
    "linear_latency",
    "local_normalization",
    "log_latency",
    "poisson_spikes",
    "rank_order_latency",
    "reference_train_length",
    "spike_wave_to_latency",
]

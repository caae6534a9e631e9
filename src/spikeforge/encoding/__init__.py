"""Encoders: Gaussian receptive fields, L1 normalisation, rate (Bernoulli/Poisson) trains,
image latency (time-to-first-spike: linear / log per pixel, SpykeTorch's rank order) and rate
codes, the DoG / local-normalisation image front end of SpykeTorch, and the reference-train
coding of seed 000. Outputs are time-first ``[T, B, ...]`` where a
time axis exists; every random function takes an explicit generator."""

from .accumulator import accumulator_spikes
from .grf import GaussianReceptiveFields, L1Normalizer, grf_sigma, l1_normalize
from .images import LATENCY_MODES, latency_encode, latency_times, rate_encode
from .latency import (
    MOZAFARI_DOG,
    dog_filter,
    dog_kernel,
    latency_to_spike_wave,
    local_normalization,
    rank_order_latency,
    spike_wave_to_latency,
)
from .poisson import counter_uniform, poisson_spike_steps, presentation_key, spike_steps_to_dense
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
    "LATENCY_MODES",
    "ReferenceTrain",
    "accumulator_spikes",
    "allocate_reference_spikes",
    "allocation_counts",
    "bernoulli_spikes",
    "counter_uniform",
    "dog_filter",
    "dog_kernel",
    "draw_reference_train",
    "grf_sigma",
    "l1_normalize",
    "latency_encode",
    "latency_times",
    "latency_to_spike_wave",
    "local_normalization",
    "poisson_spike_steps",
    "poisson_spikes",
    "presentation_key",
    "rank_order_latency",
    "rate_encode",
    "reference_train_length",
    "spike_steps_to_dense",
    "spike_wave_to_latency",
]

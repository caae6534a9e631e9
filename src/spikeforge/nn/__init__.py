"""Gradient-trained spiking layers (PyTorch ``nn.Module``s), time-first ``[T, B, ...]``.

- :class:`LIF`, :class:`IF`: spiking neurons with a fused multi-step forward/backward (compiled CPU
  kernel, optional Triton kernel on CUDA, pure-torch fallback), single- and multi-step modes,
  hard/soft/no reset, ``detach_reset``, ``decay_input``, ``>=``/``>`` firing, seven surrogates and custom ones.
- :class:`CubaLIF`: current-based LIF with an exponential synapse (snnTorch ``Synaptic``, Norse ``LIF``, NIR ``CubaLIF``).
- :class:`RecurrentLIF`: a LIF layer with recurrent weights on its own spikes (snnTorch's ``RLeaky``).
- :class:`PLIF`: LIF with a learned membrane time constant (Fang et al. 2021), one fused autograd node (compiled
  CPU kernel, pure torch elsewhere).
- :class:`ALIF`: adaptive-threshold LIF (Bellec et al. 2018), one fused autograd node, state ``(v, a)``.
- :class:`ProbabilisticNeuron` (seed 000's neuron, for STDP on torch) and :class:`StochasticLIF` (escape noise,
  differentiable) (:mod:`spikeforge.nn.stochastic`).
- :func:`carry_state`, :func:`detach_states` (:mod:`spikeforge.nn.state`): layers continue from their previous
  call's state, for truncated BPTT over long sequences.
- :class:`Izhikevich`: Izhikevich (2003) neurons (presets RS, IB, CH, FS, LTS), compiled CPU kernel, state ``(v, u)``.
- :class:`SequenceDropout`: dropout with one mask per sequence; :func:`rate_cross_entropy`, :func:`rate_mse`,
  :func:`count_mse` (:mod:`spikeforge.nn.losses`): rate and count losses on ``[T, B, C]`` outputs.
- :class:`BatchFirst`, :func:`to_time_first`, :func:`to_batch_first`: batch-first ``[B, T, ...]`` data
  around the time-first layers.
- :mod:`spikeforge.nn.functional`: the functional core (:class:`LIFSpec`, :func:`lif_multi_step`,
  :func:`lif_step`, the naive per-step reference).
- :class:`QCFS`: the quantisation-clip-floor-shift activation for conversion-friendly ANNs
  (:mod:`spikeforge.nn.qcfs`; converted by :func:`spikeforge.conversion.convert`).
- :class:`ThresholdDependentBatchNorm1d` / ``2d`` (tdBN), the per-time-step :class:`BatchNormThroughTime1d` /
  ``2d`` (BNTT) and :class:`TemporalEffectiveBatchNorm1d` / ``2d`` (TEBN), and :func:`fold_batchnorm`.
- :mod:`spikeforge.nn.models`: :class:`ConvSNN` (MNIST) and :class:`SpikingResNet19` (CIFAR).
- :class:`WTALayer` (:mod:`spikeforge.nn.wta`): k-winner-take-all LIF layer with an adaptive threshold and
  weight normalisation, for local (STDP) learning; :func:`kwta_step`.
- :func:`quantize_weights_`, :func:`add_weight_mismatch_` (:mod:`spikeforge.nn.hardware`): few-bit weights and
  device mismatch, to measure what a trained network keeps before it moves to a chip.
- :func:`count_synops` (:mod:`spikeforge.nn.synops`): synaptic operations (AC/MAC) and energy per sample.
- :mod:`spikeforge.nn.train`: the training loop, checkpoints and datasets behind ``spikeforge train``.
"""

from . import functional
from .batchnorm import (
    BatchNormThroughTime1d,
    BatchNormThroughTime2d,
    NotFoldableError,
    TemporalEffectiveBatchNorm1d,
    TemporalEffectiveBatchNorm2d,
    ThresholdDependentBatchNorm1d,
    ThresholdDependentBatchNorm2d,
    fold_batchnorm,
    fold_bn_into,
)
from .dropout import SequenceDropout
from .functional import (
    IZHIKEVICH_PRESETS,
    ALIFSpec,
    IzhikevichSpec,
    LIFSpec,
    alif_multi_step,
    alif_multi_step_reference,
    alif_step,
    izhikevich_multi_step,
    izhikevich_multi_step_reference,
    izhikevich_step,
    lif_multi_step,
    lif_multi_step_reference,
    lif_step,
)
from .hardware import QuantizedLayer, add_weight_mismatch_, quantize_tensor, quantize_weights_
from .layers import (
    BatchFirst,
    MeanOverTime,
    SeqToANN,
    repeat_in_time,
    to_batch_first,
    to_time_first,
)
from .losses import count_mse, rate_cross_entropy, rate_mse
from .models import STBP_NEURON, ConvSNN, SpikingResNet19, count_parameters
from .neurons import ALIF, IF, LIF, PLIF, ALIFState, Izhikevich, IzhikevichState, reset_states
from .qcfs import QCFS, floor_ste
from .recurrent import RecurrentLIF
from .state import carry_state, detach_states
from .stochastic import (
    ProbabilisticNeuron,
    StochasticLIF,
    probabilistic_spikes,
    stochastic_lif_multi_step,
)
from .surrogate import SURROGATES, Surrogate, spike_fn, surrogate
from .synaptic import CubaLIF, synaptic_current
from .synops import E_AC_PJ, E_MAC_PJ, WEIGHT_LAYERS, SynOpsReport, SynOpsRow, count_synops
from .wta import WTALayer, kwta_step, kwta_step_reference

__all__ = [
    "ALIF",
    "ALIFSpec",
    "ALIFState",
    "BatchFirst",
    "BatchNormThroughTime1d",
    "BatchNormThroughTime2d",
    "E_AC_PJ",
    "E_MAC_PJ",
    "IF",
    "IZHIKEVICH_PRESETS",
    "Izhikevich",
    "IzhikevichSpec",
    "IzhikevichState",
    "LIF",
    "LIFSpec",
    "MeanOverTime",
    "NotFoldableError",
    "QCFS",
    "STBP_NEURON",
    "SURROGATES",
    "SeqToANN",
    "SequenceDropout",
    "SpikingResNet19",
    "SynOpsReport",
    "SynOpsRow",
    "ConvSNN",
    "Surrogate",
    "TemporalEffectiveBatchNorm1d",
    "TemporalEffectiveBatchNorm2d",
    "ThresholdDependentBatchNorm1d",
    "ThresholdDependentBatchNorm2d",
    "WEIGHT_LAYERS",
    "count_mse",
    "count_parameters",
    "count_synops",
    "fold_batchnorm",
    "floor_ste",
    "fold_bn_into",
    "functional",
    "alif_multi_step",
    "alif_multi_step_reference",
    "alif_step",
    "izhikevich_multi_step",
    "izhikevich_multi_step_reference",
    "izhikevich_step",
    "lif_multi_step",
    "lif_multi_step_reference",
    "lif_step",
    "repeat_in_time",
    "reset_states",
    "carry_state",
    "detach_states",
    "ProbabilisticNeuron",
    "StochasticLIF",
    "probabilistic_spikes",
    "stochastic_lif_multi_step",
    "spike_fn",
    "surrogate",
    "to_batch_first",
    "add_weight_mismatch_",
    "quantize_tensor",
    "quantize_weights_",
    "synaptic_current",
    "to_time_first",
    "CubaLIF",
    "PLIF",
    "QuantizedLayer",
    "RecurrentLIF",
    "WTALayer",
    "kwta_step",
    "kwta_step_reference",
    "rate_cross_entropy",
    "rate_mse",
]

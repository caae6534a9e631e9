"""ANN→SNN conversion (seed 004; spec ``deep_snn.md`` §3).

- :func:`convert`: fold BatchNorm, calibrate activation scales (max / robust percentile / per channel,
  or the trained λ of :class:`spikeforge.nn.QCFS`), replace each ReLU / QCFS by IF neurons with soft
  (or hard) reset; returns a :class:`ConvertedSNN` that runs ``[T, B, ...] -> [T, B, K]``.
- :func:`accuracy_over_time`: accuracy and spikes per image at several T from one simulation.
- :func:`threshold_balance`: spike-norm threshold balancing (§3.3).
- :func:`finetune`: hybrid training, surrogate-gradient BPTT of the converted network (§3.6).
- :func:`activation_scales`: the calibration statistics on their own.
"""

from .calibrate import activation_scales, percentile_from_histogram
from .convert import CONVERSION_METHODS, UnsupportedLayerError, check_convertible, convert
from .hybrid import accuracy_over_time, direct, finetune, threshold_balance
from .snn import ConvertedSNN, SpikingActivation

__all__ = [
    "CONVERSION_METHODS",
    "ConvertedSNN",
    "SpikingActivation",
    "UnsupportedLayerError",
    "accuracy_over_time",
    "activation_scales",
    "check_convertible",
    "convert",
    "direct",
    "finetune",
    "percentile_from_histogram",
    "threshold_balance",
]

"""The seeds' methods as complete models (scikit-learn estimators for local learning)."""

from ._rate_network import NoAnswerWarning
from .correlation import PRESETS, CorrelationClassifier, prune_and_rescale
from .diehl_cook import DiehlCook2015
from .mozafari import MozafariClassifier
from .stdp_all_ltd import STDPAllLTDClassifier

__all__ = [
    "PRESETS",
    "CorrelationClassifier",
    "DiehlCook2015",
    "MozafariClassifier",
    "NoAnswerWarning",
    "STDPAllLTDClassifier",
    "prune_and_rescale",
]

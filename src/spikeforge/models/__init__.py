"""The seeds' methods as complete models (scikit-learn estimators for local learning)."""

from ._rate_network import NoAnswerWarning
from .colanet import CoLaNET, DigitalCoLaNET
from .convmatrix import CSNN, ConvMatrixLearner, SpikingConvFrontEnd
from .correlation import PRESETS, CorrelationClassifier, prune_and_rescale
from .diehl_cook import DiehlCook2015
from .mozafari import MozafariClassifier
from .stdp_all_ltd import STDPAllLTDClassifier

__all__ = [
    "CSNN",
    "PRESETS",
    "CoLaNET",
    "ConvMatrixLearner",
    "CorrelationClassifier",
    "DiehlCook2015",
    "DigitalCoLaNET",
    "MozafariClassifier",
    "NoAnswerWarning",
    "STDPAllLTDClassifier",
    "SpikingConvFrontEnd",
    "prune_and_rescale",
]

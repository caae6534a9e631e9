"""The seeds' methods as complete models (scikit-learn estimators for local learning)."""

from .colanet import CoLaNET, DigitalCoLaNET
from .convmatrix import CSNN, ConvMatrixLearner, SpikingConvFrontEnd
from .correlation import PRESETS, CorrelationClassifier, prune_and_rescale

__all__ = ["CSNN", "CoLaNET", "ConvMatrixLearner", "SpikingConvFrontEnd", "DigitalCoLaNET", "PRESETS", "CorrelationClassifier", "prune_and_rescale"]

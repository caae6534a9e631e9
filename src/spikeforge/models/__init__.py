"""The seeds' methods as complete models (scikit-learn estimators for local learning)."""

from .colanet import CoLaNET, DigitalCoLaNET
from .correlation import PRESETS, CorrelationClassifier, prune_and_rescale

__all__ = ["CoLaNET", "DigitalCoLaNET", "PRESETS", "CorrelationClassifier", "prune_and_rescale"]

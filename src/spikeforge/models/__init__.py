"""The seeds' methods as complete models (scikit-learn estimators for local learning)."""

from .correlation import PRESETS, CorrelationClassifier, prune_and_rescale
from .mozafari import MozafariClassifier

__all__ = ["PRESETS", "CorrelationClassifier", "MozafariClassifier", "prune_and_rescale"]

"""The seeds' methods as complete models (scikit-learn estimators for local learning)."""

from .correlation import PRESETS, CorrelationClassifier, prune_and_rescale

__all__ = ["PRESETS", "CorrelationClassifier", "prune_and_rescale"]

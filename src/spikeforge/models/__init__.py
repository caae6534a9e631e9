"""The seeds' methods as complete models (scikit-learn estimators for local learning)."""

from .._lazy import lazy_exports

# public name -> submodule; each submodule is imported on first use (the engine and the
# local-learning models must not pull in torch through their package)
_EXPORTS = {
    "._rate_network": (
        "InputScaleWarning",
        "NoAnswerWarning",
        "SilentNetworkWarning",
    ),
    ".colanet": (
        "CoLaNET",
        "DigitalCoLaNET",
    ),
    ".convmatrix": (
        "CSNN",
        "ConvMatrixLearner",
        "SpikingConvFrontEnd",
    ),
    ".correlation": (
        "PRESETS",
        "CorrelationClassifier",
        "prune_and_rescale",
    ),
    ".diehl_cook": (
        "DiehlCook2015",
    ),
    ".mozafari": (
        "MozafariClassifier",
    ),
    ".stdp_all_ltd": (
        "STDPAllLTDClassifier",
    ),
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

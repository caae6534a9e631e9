"""Diehl & Cook (2015): unsupervised STDP with lateral inhibition and label assignment (spec §E).

784 Poisson inputs → ``n_neurons`` excitatory conductance LIF neurons with an adaptive
threshold θ (all-to-all, plastic, random delays up to 10 ms, incoming weights normalised to 78
before each training image) → as many inhibitory neurons (one-to-one, w = 10.4), which inhibit
every excitatory neuron but their partner (w = 17). Images are shown for 350 ms followed by
150 ms of rest; an image that evokes fewer than 5 excitatory spikes is shown again with the
input rates raised by a half of the base rate (intensity 2 → 3 → …). Learning is the original
rule with depression on presynaptic spikes (spec G.27). After training, weights and θ are
frozen, each neuron is assigned the class to which it responded most on the training set, and
an image is classified by the class whose assigned neurons fire most on average.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._validation import check_int, check_number, check_targets, rng_from_seed
from ..neurons.lif import LIFParameters
from ..plasticity.trace_stdp import TraceSTDP
from ..sim import Network
from ._rate_network import NoAnswerWarning, RateNetworkClassifier, warn_if_silent

__all__ = ["DIEHL_COOK_EXC", "DIEHL_COOK_INH", "DiehlCook2015", "NoAnswerWarning"]

#: Excitatory neurons of the reference Brian code (spec §E): threshold ``v > θ − 20 mV − 52 mV``
#: with ``θ`` starting at 20 mV is ``v_thresh = −72 mV``, ``θ_init = 20 mV``; ``v`` is clamped
#: for 5 ms after a spike. (The code's ``timer``, ``dtimer/dt = 100`` with ``timer > 5 ms``, in
#: fact blocks the next spike for 50 ms: ``DiehlCook2015(spike_block_ms=50)``.)
DIEHL_COOK_EXC = LIFParameters(
    synapse="conductance", tau_m_ms=100.0, v_rest_mv=-65.0, v_reset_mv=-65.0, v_thresh_mv=-72.0,
    v_init_mv=-105.0, refractory_ms=5.0, clamp_refractory=True, e_exc_mv=0.0,
    e_inh_mv=-100.0, tau_ge_ms=1.0, tau_gi_ms=2.0, theta_plus_mv=0.05, tau_theta_ms=1e7, theta_init_mv=20.0,
)
#: Inhibitory neurons of the reference Brian code (spec §E).
DIEHL_COOK_INH = LIFParameters(
    synapse="conductance", tau_m_ms=10.0, v_rest_mv=-60.0, v_reset_mv=-45.0, v_thresh_mv=-40.0,
    v_init_mv=-100.0, refractory_ms=2.0, clamp_refractory=True, e_exc_mv=0.0, e_inh_mv=-85.0,
    tau_ge_ms=1.0, tau_gi_ms=2.0,
)


class DiehlCook2015(RateNetworkClassifier):
    """Diehl & Cook's unsupervised spiking network as a scikit-learn classifier.

    Parameters
    ----------
    n_neurons : int, default 100
        Excitatory (and inhibitory) neurons.
    n_epochs : int, default 1
        Passes over the training set.
    dt_ms : float, default 0.5
        Time step (ms), as in the reference code.
    active_ms, rest_ms : float, default 350, 150
        Presentation and rest time per image (ms).
    max_rate_hz : float, default 63.75
        Input rate of the brightest pixel (pixel/4 Hz for 8-bit images, the original
        ``pixel/8 · intensity 2``).
    input_max : float, default 255
        Intensity that maps to ``max_rate_hz``; inputs must lie in ``[0, input_max]``.
    nu_pre, nu_post : float, default 1e-4, 1e-2
        Learning rates of depression (on presynaptic spikes) and potentiation.
    norm_total : float, default 78
        Sum of each excitatory neuron's input weights after normalisation (before every
        training image). ``78/784 ≈ 0.1`` is the mean weight.
    theta_plus_mv, tau_theta_ms : float, default 0.05, 1e7
        Adaptive threshold increment and decay (θ is frozen after training).
    w_exc_inh, w_inh_exc : float, default 10.4, 17.0
        Excitatory→inhibitory (one-to-one) and inhibitory→excitatory (all but self) weights.
    spike_block_ms : float or None, default None
        Minimum interval between two spikes of an excitatory neuron. The reference code's
        ``timer`` quirk amounts to 50 ms (docs/notes/issue3.md); None keeps the 5 ms refractory
        period of the paper and spec §E.
    max_delay_ms : float, default 10
        Input→excitatory delays are uniform in ``[0, max_delay_ms]``.
    w_init_max : float, default 0.3
        Initial input weights are ``(U(0, 1) + 0.01) · w_init_max`` (clipped to [0, 1]).
    min_spikes : int, default 5
        Images evoking fewer excitatory spikes are repeated with stronger input (also at test
        time, as in the reference code); 0 disables.
    retry_gain : float, default 0.5
        Each repetition adds ``retry_gain`` × the base rates.
    max_retries : int, default 20
        Cap on repetitions per image.
    shuffle : bool, default True
        Present training images in a random order in every epoch.
    no_answer_label : "auto", label or None, default "auto"
        Label predicted for images that evoke no spike in any assigned neuron: -1 for numeric
        classes (``min(classes) - 1`` if -1 is a class), "no answer" for other labels
        (``"auto"``); None predicts the most frequent class.
    n_jobs : int, optional
        Threads for inference (default: all cores).
    random_state : int, Generator or None
        Seeds weights, delays, Poisson inputs and the presentation order.
    verbose : int, default 0
        1 shows progress bars.

    Attributes
    ----------
    classes_ : ndarray [n_classes]
    network_ : spikeforge.sim.Network
    assignments_ : ndarray of int [n_neurons]
        Class index of each excitatory neuron (-1: never fired on the training set).
    class_rates_ : ndarray [n_classes, n_neurons]
        Mean spike count of each neuron per training class (frozen network).
    train_repetitions_ : float
        Mean repetitions per training image in the last epoch.
    network_seed_ : int
        Seed of the network (delays, initial weights, input streams); :meth:`save` stores it.
    """

    def __init__(
        self,
        n_neurons: int = 100,
        *,
        n_epochs: int = 1,
        dt_ms: float = 0.5,
        active_ms: float = 350.0,
        rest_ms: float = 150.0,
        max_rate_hz: float = 63.75,
        input_max: float = 255.0,
        nu_pre: float = 1e-4,
        nu_post: float = 1e-2,
        norm_total: float = 78.0,
        theta_plus_mv: float = 0.05,
        tau_theta_ms: float = 1e7,
        w_exc_inh: float = 10.4,
        w_inh_exc: float = 17.0,
        spike_block_ms: float | None = None,
        max_delay_ms: float = 10.0,
        w_init_max: float = 0.3,
        min_spikes: int = 5,
        retry_gain: float = 0.5,
        max_retries: int = 20,
        shuffle: bool = True,
        no_answer_label: Any = "auto",
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.n_neurons = n_neurons
        self.n_epochs = n_epochs
        self.dt_ms = dt_ms
        self.active_ms = active_ms
        self.rest_ms = rest_ms
        self.max_rate_hz = max_rate_hz
        self.input_max = input_max
        self.nu_pre = nu_pre
        self.nu_post = nu_post
        self.norm_total = norm_total
        self.theta_plus_mv = theta_plus_mv
        self.tau_theta_ms = tau_theta_ms
        self.w_exc_inh = w_exc_inh
        self.w_inh_exc = w_inh_exc
        self.spike_block_ms = spike_block_ms
        self.max_delay_ms = max_delay_ms
        self.w_init_max = w_init_max
        self.min_spikes = min_spikes
        self.retry_gain = retry_gain
        self.max_retries = max_retries
        self.shuffle = shuffle
        self.no_answer_label = no_answer_label
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ network
    def _check_params(self) -> None:
        """Validate the parameters (at fit): integers must be integers, not floats or bools."""
        check_int(self.n_neurons, "n_neurons")
        check_int(self.n_epochs, "n_epochs")
        check_int(self.min_spikes, "min_spikes", low=0)
        check_int(self.max_retries, "max_retries", low=0)
        self._check_common_params()
        check_number(self.retry_gain, "retry_gain", low=0.0, low_inclusive=True)

    def _build_network(self, n_classes: int, seed: int | None = None) -> Network:
        check_int(self.n_neurons, "n_neurons")
        if self.max_delay_ms < 0 or self.w_init_max < 0:
            raise ValueError("max_delay_ms and w_init_max must be non-negative")
        n = int(self.n_neurons)
        net = Network(dt_ms=self.dt_ms, seed=self._network_seed(seed))
        net.add_input("X", self.n_features_in_)
        net.add_population("E", n, DIEHL_COOK_EXC.replace(theta_plus_mv=self.theta_plus_mv,
                                                          tau_theta_ms=self.tau_theta_ms,
                                                          spike_block_ms=self.spike_block_ms))
        net.add_population("I", n, DIEHL_COOK_INH)
        w0 = float(self.w_init_max)
        net.connect(
            "X", "E", "all_to_all",
            weight=lambda rng, shape: (rng.random(shape) + 0.01) * w0,
            delay_ms=(0.0, float(self.max_delay_ms)),
            plasticity=TraceSTDP.diehl_cook().replace(a_minus=self.nu_pre, a_plus=self.nu_post),
            norm_total=self.norm_total, name="XE",
        )
        net.connect("E", "I", "one_to_one", weight=self.w_exc_inh, name="EI")
        if n > 1:
            net.connect("I", "E", "all_but_self", weight=self.w_inh_exc, receptor="inh", name="IE")
        return net

    def _protocol(self) -> dict:
        return dict(active_ms=self.active_ms, rest_ms=self.rest_ms, min_spikes=int(self.min_spikes),
                    retry_population="E", retry_gain=self.retry_gain, max_retries=int(self.max_retries))

    # ------------------------------------------------------------------ fit
    def fit(self, X, y) -> DiehlCook2015:
        """Train without labels on ``X`` [n_samples, n_pixels] (or [n, H, W]), then assign each
        neuron to a class using ``y`` [n_samples].

        Raises
        ------
        ValueError
            For invalid input or parameters (e.g. ``n_neurons=10.5`` or ``True``).

        Warns
        -----
        InputScaleWarning
            If the data's maximum is at most ``input_max / 10`` (e.g. images in [0, 1] with the
            default ``input_max=255``).
        SilentNetworkWarning
            If more than half of the last ``min(100, n)`` training presentations (after their
            retries) evoked no excitatory spike.
        """
        self._check_params()
        X = self._check_X(X, reset=True)
        self.classes_, y_enc = check_targets(y, X.shape[0], estimator=type(self).__name__)
        self.class_prior_ = np.bincount(y_enc, minlength=self.classes_.shape[0]) / y_enc.shape[0]
        self.network_ = self._build_network(self.classes_.shape[0])
        rates = self._rates(X)
        order_rng = rng_from_seed(self.random_state, 3)
        for epoch in range(int(self.n_epochs)):
            order = order_rng.permutation(X.shape[0]) if self.shuffle else np.arange(X.shape[0])
            res = self.network_.run(
                rates[order], learning=True, normalize=True, **self._protocol(),
                progress=f"Diehl&Cook epoch {epoch + 1}/{self.n_epochs}" if self.verbose else False,
            )
            self.train_repetitions_ = float(res.attempts.mean())
        warn_if_silent(res.counts["E"], estimator=type(self).__name__)
        self.assign_labels(X, self.classes_[y_enc])
        return self

    def spike_counts(self, X) -> np.ndarray:
        """Excitatory spike counts [n_samples, n_neurons] of the frozen network (350 ms per image)."""
        check_is_fitted(self, "network_")
        X = self._check_X(X, reset=False)
        return self._counts(X)

    def _counts(self, X: np.ndarray) -> np.ndarray:
        return self.network_.infer(
            self._rates(X), use_thresholds=True, n_jobs=self.n_jobs, keys="content", **self._protocol(),
            progress="Diehl&Cook inference" if self.verbose else False,
        )["E"]

    def assign_labels(self, X, y) -> DiehlCook2015:
        """(Re)assign neurons to classes from the frozen network's responses to labelled ``X``."""
        check_is_fitted(self, "network_")
        X = self._check_X(X, reset=False)
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape [{X.shape[0]}]; got {y.shape}")
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"labels {np.unique(y[unknown]).tolist()} are not among the fitted classes "
                             f"{self.classes_.tolist()}")
        y_enc = np.searchsorted(self.classes_, y)
        counts = self._counts(X)
        n_cls = self.classes_.shape[0]
        rates = np.zeros((n_cls, counts.shape[1]))
        for c in range(n_cls):
            if np.any(y_enc == c):
                rates[c] = counts[y_enc == c].mean(axis=0)
        self.class_rates_ = rates
        self.assignments_ = np.where(rates.max(axis=0) > 0, rates.argmax(axis=0), -1)
        return self

    def _class_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        counts = self._counts(X)
        n_cls = self.classes_.shape[0]
        scores = np.zeros((X.shape[0], n_cls))
        for c in range(n_cls):
            members = self.assignments_ == c
            if members.any():
                scores[:, c] = counts[:, members].mean(axis=1)
        return scores, scores.max(axis=1) > 0

    # ------------------------------------------------------------------ introspection
    @property
    def weights_(self) -> np.ndarray:
        """Input weights [n_features, n_neurons]."""
        check_is_fitted(self, "network_")
        return self.network_.connections["XE"].weights

    @property
    def theta_(self) -> np.ndarray:
        """Adaptive thresholds θ (mV) [n_neurons]."""
        check_is_fitted(self, "network_")
        return self.network_.theta("E")

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        return {"assignments": self.assignments_.astype(np.int64), "class_rates": self.class_rates_}

    def _load_extra(self, arrays: dict[str, np.ndarray]) -> None:
        self.assignments_ = arrays["assignments"]
        self.class_rates_ = arrays["class_rates"]

"""Antonov's supervised "STDP + All-LTD" network (seed 001, spec §B) and its "use it or lose it"
regularisation (spec §D).

784 Poisson inputs (pixel/4 Hz) → ``neurons_per_class × n_classes`` excitatory conductance LIF
neurons, split into one segment per class; each excitatory neuron drives its own inhibitory
neuron (w = 3, delay U(0, 10) ms), which inhibits every other excitatory neuron (w = 3/n_e,
delay U(0, 5) ms). While an image of class ``c`` is shown, the input synapses of segment ``c``
learn by STDP (gates ``(lr1, lr2) = (1, 1)``) and those of every other segment by All-LTD
(``(1, −1)``: depression whichever the spike order), so a wrong-class neuron that fires
learns to stay silent on those features. The adaptive threshold (the 80 % version) raises a
neuron's threshold by 3 mV per spike (decay 150 ms), read as a snapshot at each image onset.
The class is the segment with the most spikes during the 350 ms of a test image (threshold
−52 mV, no learning).

With ``prune_tau_ms`` the input synapses decay as ``w·exp(−(k_p·(t − t_last)/τ_prun)²)`` at a
presynaptic spike (use it or lose it). As in the seed's notebooks, k_p is 0 while training and
:meth:`fit` ends with a 50 ms sweep at 63 Hz on every input with k_p = 1, so each input
synapse loses weight according to how long ago its input last fired (``prune_in_training=True``
applies the decay during training too, the spec's reading). ``prune_clock="mean_interval"`` (not
in the seed) measures disuse by each input's mean interval between spikes over the whole training
instead of the time since its last spike, and :meth:`STDPAllLTDClassifier.select_prune_tau`
chooses τ_prun on validation data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._validation import check_int, check_number, check_targets, rng_from_seed
from ..neurons.lif import LIFParameters
from ..plasticity.trace_stdp import TraceSTDP, segment_gates, use_it_or_lose_it
from ..sim import Network
from ._rate_network import NoAnswerWarning, RateNetworkClassifier, warn_if_silent

__all__ = ["ANTONOV_EXC", "ANTONOV_INH", "PRUNE_CLOCKS", "NoAnswerWarning", "STDPAllLTDClassifier"]

#: the clocks of the use-it-or-lose-it decay (see ``STDPAllLTDClassifier(prune_clock=...)``)
PRUNE_CLOCKS = ("last_spike", "mean_interval")

#: Excitatory neurons of Antonov's notebooks (spec §B.1, B.3): Brian 2 refractoriness (``v``
#: integrates, spiking is blocked), threshold snapshot ``v2 ← vt`` at each image onset.
ANTONOV_EXC = LIFParameters(
    synapse="conductance", tau_m_ms=100.0, v_rest_mv=-60.0, v_reset_mv=-65.0, v_thresh_mv=-52.0,
    v_init_mv=-80.0, refractory_ms=5.0, clamp_refractory=False, e_exc_mv=0.0, e_inh_mv=-100.0,
    tau_ge_ms=5.0, tau_gi_ms=10.0, theta_plus_mv=3.0, tau_theta_ms=150.0, theta_init_mv=0.0, theta_snapshot=True,
)
#: Inhibitory neurons of Antonov's notebooks (spec §B.1).
ANTONOV_INH = LIFParameters(
    synapse="conductance", tau_m_ms=10.0, v_rest_mv=-60.0, v_reset_mv=-45.0, v_thresh_mv=-40.0,
    v_init_mv=-80.0, refractory_ms=2.0, clamp_refractory=False, e_exc_mv=0.0, e_inh_mv=-85.0,
    tau_ge_ms=5.0, tau_gi_ms=10.0,
)


class STDPAllLTDClassifier(RateNetworkClassifier):
    """Supervised spiking classifier trained by STDP in the target class segment and All-LTD
    in the others (seed 001).

    The design was made and reproduced for 3-class tasks (triples of MNIST digits). With many
    classes every image depresses the input synapses of all other segments by All-LTD and the
    network falls silent (on all 10 MNIST digits most test images evoke no spike, and more
    training makes it worse); :meth:`fit` then warns with :class:`SilentNetworkWarning`.
    A smaller ``ltd_gain`` (not in the seed) keeps it answering, though it stays well below
    DiehlCook2015 there.

    Parameters
    ----------
    neurons_per_class : int, default 10
        Excitatory neurons per class segment (and as many inhibitory neurons).
    adaptive_threshold : bool, default True
        Use the adaptive threshold (θ+ = ``theta_plus_mv``, decay ``tau_theta_ms``, snapshot at
        each training image onset); False is the 74.9 % version of the seed.
    theta_plus_mv, tau_theta_ms : float, default 3.0, 150.0
    g_max : float, default 0.05
        Upper bound of the input weights; initial weights are U(0, g_max); the STDP
        amplitudes are ``0.01·g_max`` (potentiation) and ``1.05·0.01·g_max`` (depression).
    ltd_gain : float, default 1.0
        Scale of All-LTD in the non-target segments (gates ``(ltd_gain, −ltd_gain)``); 1 is the
        seed's rule. Not part of the seed: with many classes a small gain keeps the network
        from falling silent (10 MNIST classes: ``python examples/stdp_all_ltd_many_classes.py``
        measures the sweep; 0.02–0.03 work best there). 0 is supervised STDP without All-LTD.
    w_exc_inh : float, default 3.0
        Excitatory→inhibitory weight (one-to-one).
    w_inh_exc : float or None, default None
        Inhibitory→excitatory weight (all but self); None means ``w_exc_inh / n_excitatory``.
    delay_exc_inh_ms, delay_inh_exc_ms : float, default 10, 5
        Upper ends of the uniform delays of the two inhibitory pathways (ms).
    prune_tau_ms : None, "auto" or float, default None
        τ_prun of the use-it-or-lose-it decay (spec §D); ``"auto"`` is
        ``5 · n_classes · (active_ms + rest_ms)`` (7 500 ms for 3 classes); None disables it.
        Changing it with ``set_params`` after :meth:`fit` applies to later training and sweeps
        (e.g. to compare sweeps of one trained network; switching it from None to a value
        adds the decay to the fitted network).
    prune_in_training : bool, default False
        k_p during training (spec §D). False (the default) is what Antonov's notebooks do:
        their decay factor is ``exp(−((t − tpre)·test_stop/τ_prun)²)`` with ``test_stop`` a
        per-synapse variable that is only set (to 1) for the final sweep, so it is Brian's
        initial 0 throughout training and the decay acts only in the end-of-training sweep, on
        the time since each synapse's last arrival (inputs silent during the last few τ_prun of
        training collapse, recently used ones keep their weights). True applies the decay at
        every presynaptic arrival while training, as the spec reads the formula (k_p = 1); with
        τ_prun = 7.5 s that silences the network during training. The last-arrival clock runs
        in both cases.
    prune_clock : {"last_spike", "mean_interval"}, default "last_spike"
        What "disuse" is measured by. ``"last_spike"`` is the seed's rule: the sweep decays
        each synapse by ``exp(−((t − t_last)/τ_prun)²)``, ``t_last`` its input's last spike.
        ``"mean_interval"`` (not in the seed) uses the mean interval between the input's
        spikes since the network started, ``t / n`` (``n`` spikes by time ``t``; ∞ for an input
        that never fired), in the same formula: ``w·exp(−((t/n)/τ_prun)²)``. The time since the
        last spike of an input used a few times per tens of images is mostly chance; the mean
        interval is a steadier measure of use. It is applied directly at the end of :meth:`fit`
        (no sweep is simulated; ``prune_sweep_ms`` does not apply: fit with ``prune_tau_ms=None``
        to prune later) and needs a τ_prun of the order of the inputs' mean intervals
        (0.2–1 s on MNIST, not ``"auto"``): pick it with :meth:`select_prune_tau`. Cannot be
        combined with ``prune_in_training``. Measured on seed 001's task by ``spikeforge
        reproduce use-it-or-lose-it``.
    prune_sweep_ms, prune_sweep_rate_hz : float, default 50, 63
        The end-of-training sweep (ms, Hz) that applies the decay to every input.
        ``prune_sweep_ms=0`` makes :meth:`fit` skip it (to measure the network before the
        sweep; call :meth:`prune_sweep` after ``set_params(prune_sweep_ms=50)``).
    n_epochs : int, default 1
        Passes over the training set in :meth:`fit`.
    shuffle : bool, default False
        Shuffle the training set in :meth:`fit` (the notebooks present it in the given order).
    dt_ms : float, default 0.1
        Time step (ms; Brian's default, used by the notebooks).
    active_ms, rest_ms : float, default 350, 150
    max_rate_hz : float, default 63.75
    input_max : float, default 255
    no_answer_label : "auto", label or None, default "auto"
        Label for test images that evoke no excitatory spike (the notebooks silently predicted
        the first class; spec G.17): ``"auto"`` gives -1 for numeric classes (``min(classes) - 1``
        if -1 is a class) and "no answer" for other labels; None predicts the most frequent class.
    n_jobs : int, optional
        Threads for inference.
    random_state : int, Generator or None
    verbose : int, default 0

    Attributes
    ----------
    classes_ : ndarray [n_classes]
    network_ : spikeforge.sim.Network
    segment_ : ndarray of int [n_excitatory]
        Class index of each excitatory neuron's segment.
    n_seen_ : int
        Training images presented so far.
    prune_tau_ms_ : float or None
        The τ_prun (ms) the network uses now (``"auto"`` resolved), None without the decay.
    input_spikes_ : ndarray of int64 [n_features]
        Spikes each input has fired in training so far (the ``"mean_interval"`` clock's ``n``).
    train_ms_ : float
        Training time so far (ms; presentations × (``active_ms`` + ``rest_ms``)), its ``t``.
    pruned_ : bool
        Whether the decay has been applied to the fitted weights (:meth:`prune_sweep`).
    prune_selection_ : dict
        After :meth:`select_prune_tau`: the τ values tried (ms), the validation accuracy of each,
        the unpruned accuracy and the chosen τ (None if none qualified).
    network_seed_ : int
        Seed of the network (delays, initial weights, input streams); :meth:`save` stores it.
    """

    def __init__(
        self,
        neurons_per_class: int = 10,
        *,
        adaptive_threshold: bool = True,
        theta_plus_mv: float = 3.0,
        tau_theta_ms: float = 150.0,
        g_max: float = 0.05,
        ltd_gain: float = 1.0,
        w_exc_inh: float = 3.0,
        w_inh_exc: float | None = None,
        delay_exc_inh_ms: float = 10.0,
        delay_inh_exc_ms: float = 5.0,
        prune_tau_ms: float | str | None = None,
        prune_in_training: bool = False,
        prune_clock: str = "last_spike",
        prune_sweep_ms: float = 50.0,
        prune_sweep_rate_hz: float = 63.0,
        n_epochs: int = 1,
        shuffle: bool = False,
        dt_ms: float = 0.1,
        active_ms: float = 350.0,
        rest_ms: float = 150.0,
        max_rate_hz: float = 63.75,
        input_max: float = 255.0,
        no_answer_label: Any = "auto",
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.neurons_per_class = neurons_per_class
        self.adaptive_threshold = adaptive_threshold
        self.theta_plus_mv = theta_plus_mv
        self.tau_theta_ms = tau_theta_ms
        self.g_max = g_max
        self.ltd_gain = ltd_gain
        self.w_exc_inh = w_exc_inh
        self.w_inh_exc = w_inh_exc
        self.delay_exc_inh_ms = delay_exc_inh_ms
        self.delay_inh_exc_ms = delay_inh_exc_ms
        self.prune_tau_ms = prune_tau_ms
        self.prune_in_training = prune_in_training
        self.prune_clock = prune_clock
        self.prune_sweep_ms = prune_sweep_ms
        self.prune_sweep_rate_hz = prune_sweep_rate_hz
        self.n_epochs = n_epochs
        self.shuffle = shuffle
        self.dt_ms = dt_ms
        self.active_ms = active_ms
        self.rest_ms = rest_ms
        self.max_rate_hz = max_rate_hz
        self.input_max = input_max
        self.no_answer_label = no_answer_label
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ network
    def _prune_tau(self, n_classes: int) -> float | None:
        if self.prune_tau_ms is None:
            return None
        if isinstance(self.prune_tau_ms, str):
            if self.prune_tau_ms != "auto":
                raise ValueError(f"prune_tau_ms must be None, 'auto' or a positive number; got {self.prune_tau_ms!r}")
            if self.prune_clock == "mean_interval":
                raise ValueError("prune_tau_ms='auto' is the seed's τ for prune_clock='last_spike'; the mean-interval "
                                 "clock needs a number of the order of the inputs' mean intervals (ms; e.g. 250 on "
                                 "MNIST) or select_prune_tau")
            return 5.0 * n_classes * (self.active_ms + self.rest_ms)
        if not self.prune_tau_ms > 0:
            raise ValueError(f"prune_tau_ms must be positive; got {self.prune_tau_ms}")
        return float(self.prune_tau_ms)

    def _check_params(self) -> None:
        """Validate the parameters (at fit and at the first partial_fit)."""
        check_int(self.neurons_per_class, "neurons_per_class")
        check_int(self.n_epochs, "n_epochs")
        self._check_common_params()
        check_number(self.g_max, "g_max", low=0.0)
        check_number(self.ltd_gain, "ltd_gain", low=0.0, low_inclusive=True)
        check_number(self.prune_sweep_ms, "prune_sweep_ms", low=0.0, low_inclusive=True)
        self._check_prune_clock()

    def _check_prune_clock(self) -> None:
        if self.prune_clock not in PRUNE_CLOCKS:
            raise ValueError(f"prune_clock must be one of {PRUNE_CLOCKS}; got {self.prune_clock!r}")
        if self.prune_clock == "mean_interval" and self.prune_tau_ms is not None and bool(self.prune_in_training):
            raise ValueError("prune_clock='mean_interval' is applied once after training; it cannot be combined "
                             "with prune_in_training=True")

    def _build_network(self, n_classes: int, seed: int | None = None) -> Network:
        npc = check_int(self.neurons_per_class, "neurons_per_class")
        if not self.g_max > 0:
            raise ValueError(f"g_max must be positive; got {self.g_max}")
        n_e = npc * n_classes
        net = Network(dt_ms=self.dt_ms, seed=self._network_seed(seed))
        net.add_input("X", self.n_features_in_)
        exc = ANTONOV_EXC.replace(
            theta_plus_mv=self.theta_plus_mv if self.adaptive_threshold else 0.0, tau_theta_ms=self.tau_theta_ms
        )
        net.add_population("E", n_e, exc)
        net.add_population("I", n_e, ANTONOV_INH)
        rule = TraceSTDP.stdp_all_ltd(self.g_max, prune_tau_ms=self._prune_tau(n_classes))
        net.connect("X", "E", "all_to_all", weight=(0.0, float(self.g_max)), plasticity=rule, name="XE")
        net.connect("E", "I", "one_to_one", weight=self.w_exc_inh, delay_ms=(0.0, float(self.delay_exc_inh_ms)),
                    name="EI")
        w_ie = self.w_exc_inh / n_e if self.w_inh_exc is None else self.w_inh_exc
        net.connect("I", "E", "all_but_self", weight=w_ie, delay_ms=(0.0, float(self.delay_inh_exc_ms)),
                    receptor="inh", name="IE")
        self.segment_ = np.repeat(np.arange(n_classes), npc)
        return net

    # ------------------------------------------------------------------ training
    def fit(self, X, y) -> STDPAllLTDClassifier:
        """Train from scratch on ``X`` [n_samples, n_pixels] (or [n, H, W]) with labels ``y``
        (``n_epochs`` passes), then run the pruning sweep if the decay is enabled.

        Raises
        ------
        ValueError
            For invalid input or parameters (e.g. ``neurons_per_class=2.5`` or ``True``).

        Warns
        -----
        InputScaleWarning
            If the data's maximum is at most ``input_max / 10`` (e.g. images in [0, 1] with the
            default ``input_max=255``).
        SilentNetworkWarning
            If more than half of the last ``min(100, n)`` training presentations evoked no
            excitatory spike (e.g. with more than 3 classes, see the class docstring).
        """
        self._check_params()
        X = self._check_X(X, reset=True)
        classes, y_enc = check_targets(y, X.shape[0], estimator=type(self).__name__)
        for attr in ("network_", "classes_"):
            self.__dict__.pop(attr, None)
        order_rng = rng_from_seed(self.random_state, 3)
        for _ in range(int(self.n_epochs)):
            order = order_rng.permutation(X.shape[0]) if self.shuffle else np.arange(X.shape[0])
            self._learn(X[order], classes[y_enc[order]], classes)
        self._warn_if_silent()
        if self.prune_tau_ms is not None and (float(self.prune_sweep_ms) > 0 or self.prune_clock == "mean_interval"):
            self.prune_sweep()
        return self

    def _warn_if_silent(self) -> None:
        """:class:`SilentNetworkWarning` from the training counts of the last presentations."""
        n_cls = self.classes_.shape[0]
        detail = ""
        if n_cls > 3:
            detail = (f"This model was designed for and reproduced on 3-class tasks (seed 001); with {n_cls} "
                      f"classes every image depresses the input synapses of {n_cls - 1} segments by All-LTD, "
                      "which silences the network (more training makes it worse). Use it on 3 classes, scale "
                      "All-LTD down (ltd_gain≈0.02 on 10 MNIST classes) or choose another model (e.g. "
                      "DiehlCook2015, CoLaNET) for many classes.")
        elif self.prune_tau_ms is not None and bool(self.prune_in_training):
            detail = "The use-it-or-lose-it decay during training (prune_in_training=True) is known to do this."
        warn_if_silent(self.train_counts_, estimator=type(self).__name__, detail=detail, stacklevel=4)

    def partial_fit(self, X, y, classes=None) -> STDPAllLTDClassifier:
        """Continue training on ``X`` [n_samples, n_pixels] with labels ``y`` (one pass).

        ``classes`` (all labels that will ever be seen) is needed on the first call unless
        ``y`` already contains them all; later labels must be among them.
        """
        first = not hasattr(self, "network_")
        if first:
            self._check_params()
        X = self._check_X(X, reset=first)
        return self._learn(X, y, classes)

    def _learn(self, X: np.ndarray, y, classes) -> STDPAllLTDClassifier:
        """One training pass over validated ``X`` [n_samples, n_features] (builds the network on
        the first call)."""
        first = not hasattr(self, "network_")
        y_arr = np.asarray(y)
        if first:
            if classes is None:
                classes, _ = check_targets(y_arr, X.shape[0], estimator=type(self).__name__)
            classes = np.unique(np.asarray(classes))
            if classes.shape[0] < 2:
                raise ValueError("a classifier needs at least 2 classes")
            self.classes_ = classes
            self.class_prior_ = np.zeros(classes.shape[0])
            self._class_counts = np.zeros(classes.shape[0])
            self.network_ = self._build_network(classes.shape[0])
            self.n_seen_ = 0
            self.input_spikes_ = np.zeros(self.n_features_in_, dtype=np.int64)
            self.train_ms_ = 0.0
            self.pruned_ = False
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes {np.unique(classes).tolist()} differ from the fitted {self.classes_.tolist()}")
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y_arr = y_arr.ravel()
        if y_arr.shape != (X.shape[0],):
            raise ValueError(f"y has shape {y_arr.shape} but X has {X.shape[0]} samples")
        unknown = ~np.isin(y_arr, self.classes_)
        if unknown.any():
            raise ValueError(f"labels {np.unique(y_arr[unknown]).tolist()} are not among the fitted classes "
                             f"{self.classes_.tolist()}")
        y_enc = np.searchsorted(self.classes_, y_arr)
        self._sync_prune_tau()
        n_e = self.segment_.shape[0]
        patterns = np.stack([segment_gates(n_e, self.segment_, c, ltd_gain=self.ltd_gain)
                             for c in range(self.classes_.shape[0])])
        res = self.network_.run(
            self._rates(X), active_ms=self.active_ms, rest_ms=self.rest_ms, learning=True,
            adapt_thresholds=bool(self.adaptive_threshold), use_thresholds=bool(self.adaptive_threshold),
            gates={"XE": patterns[y_enc]},
            decay=self.prune_tau_ms is not None and bool(self.prune_in_training),
            progress="STDP+All-LTD training" if self.verbose else False,
        )
        self.train_counts_ = res.counts["E"]
        self.input_spikes_ += res.counts["X"].sum(axis=0)
        self.train_ms_ += X.shape[0] * (float(self.active_ms) + float(self.rest_ms))
        self._class_counts += np.bincount(y_enc, minlength=self.classes_.shape[0])
        self.class_prior_ = self._class_counts / self._class_counts.sum()
        self.n_seen_ += X.shape[0]
        return self

    def prune_sweep(self) -> STDPAllLTDClassifier:
        """Apply the use-it-or-lose-it decay to the fitted input weights (spec §D).

        With ``prune_clock="last_spike"`` (the seed): drive every input at ``prune_sweep_rate_hz``
        for ``prune_sweep_ms`` with learning off and the decay on; synapses of inputs that have
        not fired for a few τ_prun (and those that never fired) collapse to ≈ 0. With
        ``"mean_interval"``: multiply each input's synapses by ``exp(−((t/n)/τ_prun)²)`` once
        (``n`` = :attr:`input_spikes_`, ``t`` = :attr:`train_ms_`).

        Raises
        ------
        ValueError
            Without ``prune_tau_ms``; for the sweep, a non-positive duration or rate, or a model
            loaded from a file (files keep weights and thresholds, not the last-arrival times the
            sweep needs: prune before saving, or use the mean-interval clock, whose counts are
            saved); for the mean interval, a model loaded from a file saved before input spikes
            were counted.
        """
        check_is_fitted(self, "network_")
        if self.prune_tau_ms is None:
            raise ValueError("prune_sweep needs prune_tau_ms")
        self._check_prune_clock()
        if self.prune_clock == "mean_interval":
            self._sync_prune_tau()
            self._prune_by_mean_interval()
        else:
            if not float(self.prune_sweep_ms) > 0 or not float(self.prune_sweep_rate_hz) > 0:
                raise ValueError(f"prune_sweep needs prune_sweep_ms > 0 and prune_sweep_rate_hz > 0; got "
                                 f"{self.prune_sweep_ms} ms, {self.prune_sweep_rate_hz} Hz")
            if self.n_seen_ > 0 and self.network_.time_ms == 0.0:
                raise ValueError("this model was loaded from a file, which keeps weights and thresholds but not the "
                                 "last-arrival times the last-spike sweep needs: prune before saving, or use "
                                 "prune_clock='mean_interval' (its spike counts are saved)")
            self._sync_prune_tau()
            rates = np.full((1, self.n_features_in_), float(self.prune_sweep_rate_hz))
            self.network_.run(rates, active_ms=self.prune_sweep_ms, rest_ms=0.0, learning=False,
                              adapt_thresholds=bool(self.adaptive_threshold), decay=True)
        self.pruned_ = True
        return self

    def mean_intervals_ms(self) -> np.ndarray:
        """Mean interval between each input's spikes in training, ``t / n`` (ms; ``t`` =
        :attr:`train_ms_`, ``n`` = :attr:`input_spikes_`; ∞ for inputs that never fired): [n_features]."""
        check_is_fitted(self, "network_")
        n = getattr(self, "input_spikes_", None)
        if n is None:
            raise ValueError("this model has no input spike counts (saved by an older spikeforge): train it again "
                             "or use prune_clock='last_spike'")
        t = float(self.train_ms_)
        with np.errstate(divide="ignore"):
            return np.where(n > 0, t / np.maximum(n, 1), np.inf)

    def _prune_by_mean_interval(self) -> None:
        tau = float(self.prune_tau_ms_)
        factor = np.array([use_it_or_lose_it(1.0, float(e), tau, 1.0) for e in self.mean_intervals_ms()])
        conn = self.network_.connections["XE"]
        conn.set_weights(conn.weights * factor[:, None])

    def select_prune_tau(self, X, y, taus_ms, *, max_accuracy_drop: float = 0.02) -> STDPAllLTDClassifier:
        """Choose τ_prun on validation data, then prune with it.

        Each τ of ``taus_ms`` (ms) prunes a copy of this (fitted, not yet pruned) classifier with the
        current ``prune_clock``; the smallest τ (the strongest pruning) whose accuracy on ``X``
        [n_samples, n_pixels], ``y`` is at most ``max_accuracy_drop`` below the unpruned network's is
        set as ``prune_tau_ms`` and applied. If none qualifies the network stays unpruned and a
        ``UserWarning`` says so. Silent images count as errors. :attr:`prune_selection_` records
        the search.

        Raises
        ------
        ValueError
            If already pruned, ``taus_ms`` is empty or holds a non-positive or non-finite value,
            ``max_accuracy_drop`` is outside [0, 1], or ``X``/``y`` are invalid (as :meth:`score`).
        """
        import copy
        import numbers
        import warnings

        check_is_fitted(self, "network_")
        if getattr(self, "pruned_", False):
            raise ValueError("this classifier is already pruned; select_prune_tau needs the network before pruning "
                             "(fit with prune_tau_ms=None, or with prune_sweep_ms=0 for the last-spike clock)")
        taus = np.asarray(taus_ms, dtype=np.float64).ravel()
        if taus.size == 0 or not np.all(np.isfinite(taus)) or np.any(taus <= 0):
            raise ValueError(f"taus_ms must be a non-empty list of positive finite numbers (ms); got {taus_ms!r}")
        if isinstance(max_accuracy_drop, bool) or not isinstance(max_accuracy_drop, numbers.Real) \
                or not 0.0 <= float(max_accuracy_drop) <= 1.0:
            raise ValueError(f"max_accuracy_drop must be a number in [0, 1]; got {max_accuracy_drop!r}")
        taus = np.unique(taus)

        def accuracy(model) -> float:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoAnswerWarning)
                return float(model.score(X, y))

        base = accuracy(self)
        accs = []
        chosen = None
        for tau in taus:
            trial = copy.deepcopy(self)
            trial.set_params(prune_tau_ms=float(tau), prune_in_training=False)
            if trial.prune_clock == "last_spike" and not float(trial.prune_sweep_ms) > 0:
                trial.set_params(prune_sweep_ms=50.0)
            accs.append(accuracy(trial.prune_sweep()))
            if chosen is None and base - accs[-1] <= max_accuracy_drop:
                chosen = float(tau)
                break
        self.prune_selection_ = {"taus_ms": taus[: len(accs)].tolist(), "accuracy": accs,
                                 "unpruned_accuracy": base, "chosen_ms": chosen,
                                 "max_accuracy_drop": float(max_accuracy_drop)}
        if chosen is None:
            warnings.warn(f"select_prune_tau: no τ in {taus.tolist()} ms keeps the validation accuracy within "
                          f"{max_accuracy_drop:g} of the unpruned {base:.3f}; the network is left unpruned",
                          UserWarning, stacklevel=2)
            return self
        self.set_params(prune_tau_ms=chosen)
        if self.prune_clock == "last_spike" and not float(self.prune_sweep_ms) > 0:
            self.set_params(prune_sweep_ms=50.0)
        return self.prune_sweep()

    def _sync_prune_tau(self) -> None:
        """Give the fitted network the current ``prune_tau_ms`` (``set_params`` after ``fit``
        changes the τ_prun of later training and sweeps)."""
        self.prune_tau_ms_ = self._prune_tau(self.classes_.shape[0])
        self.network_.set_prune_tau("XE", self.prune_tau_ms_)

    # ------------------------------------------------------------------ inference
    def spike_counts(self, X) -> np.ndarray:
        """Excitatory spike counts [n_samples, n_excitatory] during 350 ms (frozen, threshold −52 mV)."""
        check_is_fitted(self, "network_")
        return self._counts(self._check_X(X, reset=False))

    def _counts(self, X: np.ndarray) -> np.ndarray:
        return self.network_.infer(self._rates(X), active_ms=self.active_ms, use_thresholds=False,
                                   n_jobs=self.n_jobs, keys="content", progress="STDP+All-LTD inference" if self.verbose else False)["E"]

    def _class_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        counts = self._counts(X)
        n_cls = self.classes_.shape[0]
        scores = np.zeros((X.shape[0], n_cls))
        for c in range(n_cls):
            scores[:, c] = counts[:, self.segment_ == c].sum(axis=1)
        return scores, scores.sum(axis=1) > 0

    @property
    def weights_(self) -> np.ndarray:
        """Input weights [n_features, n_excitatory] (segment-major columns)."""
        check_is_fitted(self, "network_")
        return self.network_.connections["XE"].weights

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        out = {"segment": self.segment_.astype(np.int64), "n_seen": np.array([self.n_seen_], dtype=np.int64),
               "pruned": np.array([int(getattr(self, "pruned_", False))], dtype=np.int64)}
        if getattr(self, "input_spikes_", None) is not None:
            out["input_spikes"] = np.asarray(self.input_spikes_, dtype=np.int64)
            out["train_ms"] = np.array([self.train_ms_], dtype=np.float64)
        return out

    def _load_extra(self, arrays: dict[str, np.ndarray]) -> None:
        self.segment_ = arrays["segment"]
        self.n_seen_ = int(arrays["n_seen"][0])
        # files saved before these were stored: no counts (the mean-interval clock refuses), pruned unknown
        self.input_spikes_ = arrays["input_spikes"].copy() if "input_spikes" in arrays else None
        self.train_ms_ = float(arrays["train_ms"][0]) if "train_ms" in arrays else 0.0
        self.pruned_ = bool(arrays["pruned"][0]) if "pruned" in arrays else self.prune_tau_ms is not None
        self._class_counts = self.class_prior_ * max(self.n_seen_, 1)

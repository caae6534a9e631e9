"""Build your own spiking network with the engine: ``spikeforge.sim.Network``.

What it shows
-------------
The models ``DiehlCook2015`` and ``STDPAllLTDClassifier`` are thin wrappers around the
simulation engine; this script uses the engine directly, as you would for a model of your own:

* a Poisson input population ``X`` (784 inputs, one per MNIST pixel, rate = pixel/4 Hz);
* an excitatory population ``E`` of 40 conductance-based LIF neurons with an adaptive
  threshold θ (+0.05 mV per spike), fed by ``X`` through plastic all-to-all synapses with
  random delays, trace STDP (``spikeforge.plasticity.TraceSTDP``) and weight normalisation;
* an inhibitory population ``I`` (40 neurons): each ``E`` neuron excites its own ``I`` neuron,
  which inhibits every other ``E`` neuron (lateral inhibition, winner-take-all).

It presents 60 training images of the digits 0, 1 and 7 (bundled MNIST subset) with learning
on (350 ms input + 150 ms rest each), records every spike, saves a raster plot of the last
three presentations, and prints spike counts. Then it freezes the network and uses
``Network.infer`` (parallel, from rest) to show which neurons respond to which digit.

Run
---
    python examples/custom_network.py [--out DIR]

writes ``custom_network_raster.png`` to ``DIR`` (default: the current directory).
Runtime: about 5 s on 2 CPU cores (numba kernels are cached after the first run of
spikeforge; the very first run compiles them, about 40 s more).

Expected output (approximately; exact numbers are fixed by the seed, the times vary)::

    Network(dt_ms=0.5, populations: X[784], E[40], I[40]; connections: XE(31360), EI(40), IE(1560))
    trained on 60 presentations (39.5 s of network time) in 0.5 s
    spikes per presentation: X 2193.9  E 9.6  I 9.6
    E neurons active per presentation: 3.1 of 40 (lateral inhibition)
    repetitions (fewer than 5 E spikes -> shown again with stronger input): 0.32 per image
    mean input weight change: 0.0514; theta: 20.00 -> 20.73 mV (mean)
    recorded spikes: 153930 (X), 646 (E), 646 (I)
    frozen responses to 150 new images (mean E spikes per image), 5 most responsive neurons:
      neuron 26: digit 0: 5.5  digit 1: 0.0  digit 7: 0.2
      neuron 25: digit 0: 1.8  digit 1: 0.1  digit 7: 2.3
      neuron  4: digit 0: 2.9  digit 1: 0.0  digit 7: 0.2
      neuron  7: digit 0: 0.4  digit 1: 0.0  digit 7: 0.7
      neuron  1: digit 0: 0.7  digit 1: 0.3  digit 7: 0.1
    saved custom_network_raster.png

(60 presentations plus 19 repetitions make 79 attempts of 500 ms: 39.5 s of network time. In
the raster, an attempt with fewer than 5 E spikes is followed by its repetition with denser
input.)
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from spikeforge.datasets import load_mnist_subset  # noqa: E402
from spikeforge.neurons import LIFParameters  # noqa: E402
from spikeforge.plasticity import TraceSTDP  # noqa: E402
from spikeforge.sim import Network  # noqa: E402
from spikeforge.viz import save  # noqa: E402

SEED = 0
DIGITS = [0, 1, 7]
N_TRAIN = 60
N_EXC = 40
ACTIVE_MS, REST_MS = 350.0, 150.0


def build_network() -> Network:
    net = Network(dt_ms=0.5, seed=SEED)  # the seed fixes weights, delays and Poisson trains
    net.add_input("X", 784)
    # excitatory neurons (Diehl & Cook): spike when v > v_thresh + θ = -72 mV + θ, θ starts at
    # 20 mV and grows by 0.05 mV per spike (homeostasis: a neuron that wins too often gets harder
    # to excite)
    exc = LIFParameters(
        synapse="conductance", tau_m_ms=100.0, v_rest_mv=-65.0, v_reset_mv=-65.0, v_thresh_mv=-72.0,
        refractory_ms=5.0, e_exc_mv=0.0, e_inh_mv=-100.0, tau_ge_ms=1.0, tau_gi_ms=2.0,
        theta_init_mv=20.0, theta_plus_mv=0.05, tau_theta_ms=1e7,
    )
    inh = LIFParameters(
        synapse="conductance", tau_m_ms=10.0, v_rest_mv=-60.0, v_reset_mv=-45.0, v_thresh_mv=-40.0,
        refractory_ms=2.0, e_exc_mv=0.0, e_inh_mv=-85.0, tau_ge_ms=1.0, tau_gi_ms=2.0,
    )
    net.add_population("E", N_EXC, exc)
    net.add_population("I", N_EXC, inh)
    # plastic input synapses: triplet-style trace STDP with nearest-spike traces, weights in
    # [0, 1], incoming weights of each E neuron normalised to sum to 78 before every presentation
    stdp = TraceSTDP(a_plus=1e-2, a_minus=1e-4, tau_pre_ms=20.0, tau_post_ms=20.0, tau_post2_ms=40.0,
                     nearest=True, w_min=0.0, w_max=1.0)
    net.connect("X", "E", "all_to_all", weight=(0.0, 0.3), delay_ms=(0.0, 10.0),
                plasticity=stdp, norm_total=78.0, name="XE")
    # lateral inhibition: E_k -> I_k (one to one), I_k -> every E but E_k
    net.connect("E", "I", "one_to_one", weight=10.4, name="EI")
    net.connect("I", "E", "all_but_self", weight=17.0, receptor="inh", name="IE")
    return net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="output directory (default: cwd)")
    args = parser.parse_args()

    X, y = load_mnist_subset()  # uint8 [5000, 784]
    rng = np.random.default_rng(SEED)
    idx = rng.permutation(np.flatnonzero(np.isin(y, DIGITS)))
    train_idx, test_idx = idx[:N_TRAIN], idx[N_TRAIN:N_TRAIN + 150]
    rates = X / 4.0  # Hz: the brightest pixel fires at 63.75 Hz

    net = build_network()
    print(net)
    w0 = net.connections["XE"].weights  # dense [784, 40] copy
    theta0 = net.theta("E").mean()

    # ------------------------------------------------------------ learning run (sequential)
    t0 = time.perf_counter()
    res = net.run(rates[train_idx], active_ms=ACTIVE_MS, rest_ms=REST_MS, learning=True, normalize=True,
                  min_spikes=5, retry_population="E", record_spikes=True)
    print(f"trained on {N_TRAIN} presentations ({net.time_ms / 1000:.1f} s of network time) "
          f"in {time.perf_counter() - t0:.1f} s")
    c = res.counts  # name -> [n_presentations, n] spikes during the active phase
    print(f"spikes per presentation: X {c['X'].sum(1).mean():.1f}  E {c['E'].sum(1).mean():.1f}  "
          f"I {c['I'].sum(1).mean():.1f}")
    print(f"E neurons active per presentation: {(c['E'] > 0).sum(1).mean():.1f} of {N_EXC} "
          "(lateral inhibition)")
    print(f"repetitions (fewer than 5 E spikes -> shown again with stronger input): "
          f"{res.attempts.mean():.2f} per image")
    dw = np.abs(net.connections["XE"].weights - w0).mean()
    print(f"mean input weight change: {dw:.4f}; theta: {theta0:.2f} -> {net.theta('E').mean():.2f} mV (mean)")
    print("recorded spikes: " + ", ".join(f"{len(t)} ({name})" for name, (t, _) in res.spikes.items()))

    # ------------------------------------------------------------ raster of the last 3 presentations
    # every attempt (a presentation or its repetition) takes ACTIVE_MS + REST_MS of network time,
    # so the last 3 attempts are the last 1.5 s
    t_end = net.time_ms
    t_start = t_end - 3 * (ACTIVE_MS + REST_MS)
    fig, axes = plt.subplots(3, 1, figsize=(8, 6), sharex=True, height_ratios=(3, 1, 1), layout="constrained")
    for ax, name, color in zip(axes, ("X", "E", "I"), ("0.3", "tab:red", "tab:blue")):
        t, i = res.spikes[name]  # spike times (ms, network time) and neuron index within the population
        keep = t >= t_start
        ax.scatter(t[keep], i[keep], s=2 if name == "X" else 6, marker="|", color=color, linewidths=0.6)
        ax.set_ylabel(f"{name} neuron")
        ax.set_ylim(-0.5, net.populations[name].n - 0.5)
    for k in range(3):  # shade the input phases
        onset = t_start + k * (ACTIVE_MS + REST_MS)
        for ax in axes:
            ax.axvspan(onset, onset + ACTIVE_MS, color="0.9", zorder=0)
    axes[-1].set_xlabel("network time (ms)")
    fig.suptitle("last 3 training presentations (attempts): inputs X, excitatory E, inhibitory I (grey: input on)",
                 fontsize=9)
    path = save(fig, args.out / "custom_network_raster.png")

    # ------------------------------------------------------------ frozen responses (parallel)
    counts = net.infer(rates[test_idx], active_ms=ACTIVE_MS, keys="content")["E"]  # [n_test, 40]
    mean_per_digit = np.stack([counts[y[test_idx] == d].mean(0) for d in DIGITS])  # [3, 40]
    top = np.argsort(-mean_per_digit.sum(0))[:5]
    print(f"frozen responses to {len(test_idx)} new images (mean E spikes per image), "
          "5 most responsive neurons:")
    for n in top:
        print(f"  neuron {n:2d}: " + "  ".join(f"digit {d}: {m:.1f}" for d, m in zip(DIGITS, mean_per_digit[:, n])))
    print(f"saved {path}")


if __name__ == "__main__":
    main()

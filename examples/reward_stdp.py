"""Reward-modulated STDP with an eligibility trace solves a distal-reward problem (Izhikevich 2007).

What it shows
-------------
* :class:`spikeforge.plasticity.STDPUpdater` with a reward (``step(pre, post, reward)``) and an
  eligibility trace (``tau_e_ms``): three-factor STDP (MSTDPET, Florian 2007) on a plain
  ``torch.nn.Linear``; the torch path is tested against the step-by-step
  :func:`spikeforge.plasticity.reward_stdp_reference`.
* The credit-assignment problem of Izhikevich (2007), "Solving the distal reward problem through
  linkage of STDP and dopamine signaling": 100 input neurons and one output neuron fire at random
  (5 Hz, dt = 1 ms). Whenever input 0 fires and the output fires 1–10 ms later, a reward arrives
  ``--delay`` ms (default 500) later, by which time hundreds of other, irrelevant pairings have
  happened. The STDP rule is slightly depression-dominated (A− = 1.1·A+), so random pairings earn
  nothing on average.
* With an eligibility trace of τ_e = 1 s the rewarded synapse (0 → out) grows to the upper bound
  while the other 99 stay near their start; with τ_e = 0 (reward times the instantaneous STDP,
  MSTDP) the delayed reward finds no eligibility and nothing is learned. ``--streams`` independent
  copies of the experiment run as a batch and all update the same weights (per-sample rewards
  ``[T, B]``). The weight trajectories are plotted to ``reward_stdp.png``.

How to run
----------
::

    python examples/reward_stdp.py                        # 40 s of simulated time × 16 streams
    python examples/reward_stdp.py --seconds 100 --delay 1000

Runtime: about 10–30 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import time

import torch

from spikeforge.plasticity import STDPUpdater, TraceSTDP

NEVER = -(10**9)


def simulate(tau_e_ms: float, *, seconds: int, streams: int, delay_ms: int, rate: float, seed: int,
             n_inputs: int = 100) -> tuple[list[float], list[float], int]:
    """Run the experiment; return the rewarded weight and the mean other weight after each second,
    and the number of rewards delivered. Spikes are Bernoulli per 1-ms step (``rate`` per step)."""
    gen = torch.Generator().manual_seed(seed)
    layer = torch.nn.Linear(n_inputs, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.5)
    rule = TraceSTDP(a_plus=1.0, a_minus=1.1, tau_pre_ms=20.0, tau_post_ms=20.0, w_min=0.0, w_max=1.0)
    stdp = STDPUpdater(layer, rule, dt_ms=1.0, reduction="sum", lr=0.01, tau_e_ms=tau_e_ms)
    last_pre0 = torch.full((streams,), NEVER)  # last spike step of input 0, per stream
    pending = torch.zeros((0, 2), dtype=torch.long)  # rewards to come: (step, stream)
    target, others, n_rewards = [], [], 0
    for s in range(seconds):  # one chunk of 1 000 steps per simulated second; traces and eligibility carried
        pre = (torch.rand(1000, streams, n_inputs, generator=gen) < rate).float()
        post = (torch.rand(1000, streams, 1, generator=gen) < rate).float()
        steps = (torch.arange(1000) + 1000 * s)[:, None].expand(1000, streams)
        # last spike of input 0 strictly before each step: is an output spike 1–10 ms after one?
        last = torch.cummax(torch.cat([last_pre0[None], torch.where(pre[:, :, 0] > 0, steps, NEVER)]), 0).values
        lag = steps - last[:-1]
        t_idx, b_idx = ((post[:, :, 0] > 0) & (lag >= 1) & (lag <= 10)).nonzero(as_tuple=True)
        pending = torch.cat([pending, torch.stack([steps[t_idx, b_idx] + delay_ms, b_idx], 1)])
        last_pre0 = last[-1]
        due = pending[:, 0] < 1000 * (s + 1)
        reward = torch.zeros(1000, streams)  # [T, B]: one value per step and stream
        hits = pending[due]
        reward.index_put_((hits[:, 0] - 1000 * s, hits[:, 1]), torch.ones(len(hits)), accumulate=True)
        n_rewards += len(hits)
        pending = pending[~due]
        stdp.step(pre, post, reward)
        w = layer.weight.detach()[0]
        target.append(float(w[0]))
        others.append(float(w[1:].mean()))
    return target, others, n_rewards


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=40, help="simulated seconds (default 40)")
    p.add_argument("--streams", type=int, default=16, help="independent copies in the batch (default 16)")
    p.add_argument("--delay", type=int, default=500, help="reward delay after the pairing, ms (default 500)")
    p.add_argument("--tau-e", type=float, default=1000.0, help="eligibility time constant, ms (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    runs = {}
    for tau in (args.tau_e, 0.0):
        t0 = time.perf_counter()
        runs[tau] = simulate(tau, seconds=args.seconds, streams=args.streams, delay_ms=args.delay, rate=0.005,
                             seed=args.seed)
        target, others, n = runs[tau]
        print(f"tau_e = {tau:6.0f} ms: rewarded synapse 0.500 -> {target[-1]:.3f}, other 99 (mean) 0.500 -> "
              f"{others[-1]:.3f}; {n} delayed rewards, {time.perf_counter() - t0:.1f} s")
    learned, control = runs[args.tau_e], runs[0.0]
    print(f"with an eligibility trace the rewarded synapse outgrows the others: {learned[0][-1] > learned[1][-1] + 0.2}")
    print(f"without one the delayed reward teaches nothing: {abs(control[0][-1] - 0.5) < 0.1}")

    from spikeforge.viz import save, subplots

    fig, ax = subplots(1, 1, figsize=(6, 3.5))
    secs = range(1, args.seconds + 1)
    for tau, style in ((args.tau_e, "-"), (0.0, ":")):
        ax.plot(secs, runs[tau][0], style, color="C3", label=f"rewarded synapse, τ_e = {tau:g} ms")
        ax.plot(secs, runs[tau][1], style, color="C0", label=f"other synapses (mean), τ_e = {tau:g} ms")
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("weight")
    ax.set_title(f"distal reward ({args.delay} ms after the pairing), {args.streams} streams", fontsize=9)
    ax.legend(fontsize=7)
    print(f"weight trajectories: {save(fig, 'reward_stdp.png')}")


if __name__ == "__main__":
    main()

"""Trace STDP on torch layers: spikeforge against SpikingJelly's ``STDPLearner``, side by side in one run.

Workloads (CPU, float32, spikes Bernoulli with probability ``--p`` per step)
------------------------------------------------------------------------------
L  ``nn.Linear(784, 400)``: pre [T=100, B=32, 784], post [100, 32, 400]
C  ``nn.Conv2d(2, 16, 5)``: pre [T=20, B=16, 2, 28, 28], post [20, 16, 16, 24, 24]

Both compute the weight change of the whole sequence (summed over steps, batch and positions) with
all-to-all traces and constant amplitudes (SpikingJelly: ``f_pre = A−``, ``f_post = A+``; its trace
decay ``1 − 1/τ`` per step is matched by our ``τ_ms = −dt/ln(1 − 1/τ)``). SpikingJelly's learner is
timed as its users run it: records in its monitors, then ``step(on_grad=False)``, which loops over the
steps in Python. Ours is :func:`spikeforge.plasticity.trace_stdp_linear` / ``trace_stdp_conv2d``.

Cross-check: the rules differ only for a pre and a post spike at the same step (SpikingJelly pairs
them both ways; ours, like Brian and the engine, potentiates only), so on trains where the two never
coincide (pre on even steps, post on odd) both must give the same ``dw``; the script checks that
first (``max |Δ| / max |dw|``).

Timings are medians over ``--repeats`` interleaved rounds (each round runs both, so load from other
processes hits both alike); peak memory is the peak RSS during a call minus the RSS just before it
(inputs already allocated), measured in a fresh process per implementation and workload (Linux). Nothing here is asserted in tests.

How to run (SpikingJelly stays out of the main environment)::

    python3 -m venv /work/venv-bench
    /work/venv-bench/bin/pip install torch==2.13.0
    /work/venv-bench/bin/pip install --no-deps spikingjelly
    /work/venv-bench/bin/pip install numpy scipy tqdm matplotlib safetensors scikit-learn numba
    PYTHONPATH=src /work/venv-bench/bin/python benchmarks/stdp_torch_speed.py [--threads 2]

Without SpikingJelly only our timings are reported. Output: Markdown table on stdout and, with
``--out``, JSON + Markdown files.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

DT = 1.0
TAU_SJ = 20.0  # SpikingJelly's τ in steps (decay 1 − 1/τ)
A_PLUS, A_MINUS = 0.01, 0.0105
WORKLOADS = {
    "L": dict(kind="linear", T=100, B=32, n_in=784, n_out=400),
    "C": dict(kind="conv2d", T=20, B=16, c_in=2, c_out=16, k=5, hw=28),
}


def _rule():
    from spikeforge.plasticity import TraceSTDP

    tau_ms = -DT / math.log(1.0 - 1.0 / TAU_SJ)  # exp(−dt/τ_ms) = 1 − 1/τ_SJ
    return TraceSTDP(a_plus=A_PLUS, a_minus=A_MINUS, tau_pre_ms=tau_ms, tau_post_ms=tau_ms, w_min=-1e9, w_max=1e9)


def make_spikes(w: dict, p: float, seed: int, disjoint: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.nn.Module]:
    """``(pre, post, layer)`` of a workload; ``disjoint``: pre only on even steps, post only on odd."""
    g = torch.Generator().manual_seed(seed)
    if w["kind"] == "linear":
        layer = torch.nn.Linear(w["n_in"], w["n_out"], bias=False)
        pre_shape, post_shape = (w["T"], w["B"], w["n_in"]), (w["T"], w["B"], w["n_out"])
    else:
        layer = torch.nn.Conv2d(w["c_in"], w["c_out"], w["k"], bias=False)
        out = w["hw"] - w["k"] + 1
        pre_shape, post_shape = (w["T"], w["B"], w["c_in"], w["hw"], w["hw"]), (w["T"], w["B"], w["c_out"], out, out)
    pre, post = torch.empty(pre_shape), torch.empty(post_shape)
    for t in range(w["T"]):  # step by step: no transient larger than the spikes (see peak_added_mb)
        pre[t] = torch.rand(pre_shape[1:], generator=g) < p
        post[t] = torch.rand(post_shape[1:], generator=g) < p
    if disjoint:
        pre[1::2] = 0.0
        post[0::2] = 0.0
    return pre, post, layer


def ours(w: dict, pre: torch.Tensor, post: torch.Tensor, layer: torch.nn.Module) -> torch.Tensor:
    from spikeforge.plasticity import trace_stdp_conv2d, trace_stdp_linear

    fn = trace_stdp_linear if w["kind"] == "linear" else trace_stdp_conv2d
    return fn(pre, post, layer.weight, _rule(), DT)


def sj_learner(w: dict, pre: torch.Tensor, post: torch.Tensor, layer: torch.nn.Module) -> torch.Tensor:
    """SpikingJelly's STDPLearner as its users drive it: monitored records, then step()."""
    from spikingjelly.activation_based.learning import STDPLearner

    learner = STDPLearner("m", layer, torch.nn.Identity(), TAU_SJ, TAU_SJ, f_pre=lambda _w: A_MINUS,
                          f_post=lambda _w: A_PLUS)
    learner.in_spike_monitor.records.append(pre)
    learner.out_spike_monitor.records.append(post)
    dw = learner.step(on_grad=False)
    learner.close()
    return dw


IMPLS = {"spikeforge": ours, "spikingjelly": sj_learner}


def available() -> list[str]:
    names = ["spikeforge"]
    try:
        import spikingjelly.activation_based.learning  # noqa: F401

        names.append("spikingjelly")
    except Exception:
        pass
    return names


_CHILD = r"""
import json, resource, sys, torch
sys.path.insert(0, sys.argv[4])
import stdp_torch_speed as b
torch.set_num_threads(int(sys.argv[3]))
w = b.WORKLOADS[sys.argv[2]]
pre, post, layer = b.make_spikes(w, float(sys.argv[5]), 0)
b.IMPLS[sys.argv[1]](w, pre[:2], post[:2], layer)  # warm-up on 2 steps
import os
before = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024  # current RSS, KiB
b.IMPLS[sys.argv[1]](w, pre, post, layer)
print(json.dumps({"added_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}))
"""


def peak_added_mb(impl: str, workload: str, threads: int, p: float) -> float:
    out = subprocess.run([sys.executable, "-c", _CHILD, impl, workload, str(threads), str(Path(__file__).parent), str(p)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["added_mb"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--p", type=float, default=0.05, help="spike probability per step")
    ap.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    ap.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.md")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    impls = available()
    run = {"environment": {"python": platform.python_version(), "torch": torch.__version__, "threads": a.threads,
                           "cpu": platform.processor() or platform.machine()},
           "p": a.p, "repeats": a.repeats, "workloads": {}}
    if "spikingjelly" in impls:
        from importlib.metadata import version

        run["environment"]["spikingjelly"] = version("spikingjelly")
    for name in a.workloads:
        w = WORKLOADS[name]
        res: dict = {"shape": w}
        if "spikingjelly" in impls:  # the cross-check on trains without same-step pairs
            pre, post, layer = make_spikes({**w, "T": min(w["T"], 20)}, 0.2, 1, disjoint=True)
            d_ours, d_sj = ours(w, pre, post, layer), sj_learner(w, pre, post, layer)
            res["cross_check_rel_diff"] = float((d_ours - d_sj).abs().max() / d_sj.abs().max())
        pre, post, layer = make_spikes(w, a.p, 0)
        times: dict[str, list[float]] = {k: [] for k in impls}
        for impl in impls:
            IMPLS[impl](w, pre[:2], post[:2], layer)  # warm-up
        for _ in range(a.repeats):
            for impl in impls:
                t0 = time.perf_counter()
                IMPLS[impl](w, pre, post, layer)
                times[impl].append(time.perf_counter() - t0)
        res["seconds"] = {k: statistics.median(v) for k, v in times.items()}
        res["peak_added_mb"] = {k: peak_added_mb(k, name, a.threads, a.p) for k in impls}
        run["workloads"][name] = res
    md = render(run)
    print(md)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.with_suffix(".json").write_text(json.dumps(run, indent=1))
        a.out.with_suffix(".md").write_text(md + "\n")
    return 0


def render(run: dict) -> str:
    env = run["environment"]
    lines = [f"Trace STDP weight change of one sequence, CPU, {env['threads']} thread(s), torch {env['torch']}"
             + (f", SpikingJelly {env['spikingjelly']}" if "spikingjelly" in env else "")
             + f"; spikes p = {run['p']}, medians of {run['repeats']} interleaved rounds.", "",
             "| workload | implementation | time (ms) | vs SpikingJelly | peak RSS added (MB) | cross-check |",
             "|---|---|---|---|---|---|"]
    for res in run["workloads"].values():
        w = res["shape"]
        label = (f"L: Linear {w['n_in']}→{w['n_out']}, T={w['T']}, B={w['B']}" if w["kind"] == "linear" else
                 f"C: Conv2d {w['c_in']}→{w['c_out']} k{w['k']}, {w['hw']}², T={w['T']}, B={w['B']}")
        sj = res["seconds"].get("spikingjelly")
        for impl, sec in res["seconds"].items():
            if impl == "spikingjelly":
                ratio = "1"
            elif not sj:
                ratio = "—"
            else:
                ratio = f"{sj / sec:.1f}× faster" if sj >= sec else f"{sec / sj:.1f}× slower"
            check = f"max rel. diff {res['cross_check_rel_diff']:.1e}" if "cross_check_rel_diff" in res and \
                impl == "spikeforge" else ""
            lines.append(f"| {label} | {impl} | {1000 * sec:.1f} | {ratio} | {res['peak_added_mb'][impl]:.0f} | {check} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

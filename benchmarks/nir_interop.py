"""Cross-library NIR check: spikeforge ↔ snnTorch and spikeforge → Norse, same weights, same input.

Not a timing benchmark: it runs each library's own NIR importer/exporter on one small two-layer LIF
network and reports how many output spikes agree. Run it in the peer environment (the ``bench`` extra
pulls snnTorch, Norse and their ``nir`` / ``nirtorch`` dependencies)::

    python -m venv /tmp/venv-bench && /tmp/venv-bench/bin/pip install torch==2.13.0 \
        && /tmp/venv-bench/bin/pip install -e ".[bench,nir]"
    /tmp/venv-bench/bin/python benchmarks/nir_interop.py [--json results/nir_interop.json]

Conventions that matter (found by this script): snnTorch's importer fixes ``dt = 1e-4`` s (β = 1 − dt/τ)
and folds ``R·dt/τ`` into the preceding weights; Norse's ``from_nir`` takes ``dt`` (default 1e-3). Both
start the membrane at 0 and reset to ``v_reset`` when ``V > θ``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import warnings

import torch
from torch import nn


def _ours(n_in: int, decay_input: bool = False):
    """Two LIF layers; ``decay_input=True`` gives R = 1 (Norse's importer ignores R)."""
    from spikeforge.nn import LIF, SeqToANN

    torch.manual_seed(0)
    gain = 10.0 if decay_input else 1.0  # keep the firing rates comparable
    net = nn.Sequential(
        SeqToANN(nn.Linear(n_in, 32)),
        LIF(decay=0.9, decay_input=decay_input, v_th=1.0, v_reset=0.0, spike_compare=">"),
        SeqToANN(nn.Linear(32, 8)),
        LIF(decay=0.8, decay_input=decay_input, v_th=1.0, v_reset=0.0, spike_compare=">"),
    ).eval()
    with torch.no_grad():
        net[0][0].weight.mul_(gain)
        net[2][0].weight.mul_(gain * 3)
    return net


def _run_stateful(module, x: torch.Tensor) -> torch.Tensor:
    """Step a stateful NIR-imported module ``(x_t, state) -> (y_t, state)`` over ``x [T, B, ...]``."""
    state, out = None, []
    for t in range(x.shape[0]):
        res = module(x[t], state) if state is not None else module(x[t])
        if isinstance(res, tuple):
            y, state = res
        else:
            y = res
        out.append(y)
    return torch.stack(out)


def _agreement(a: torch.Tensor, b: torch.Tensor) -> dict:
    a, b = a.detach().float(), b.detach().float()
    return {
        "spikes_a": int(a.sum()),
        "spikes_b": int(b.sum()),
        "agreement": float((a == b).float().mean()),
        "identical": bool(torch.equal(a, b)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")

    import nir

    from spikeforge.interop import from_nir, to_nir

    torch.manual_seed(1)
    n_in, T, B = 20, args.steps, 16
    x = (torch.rand(T, B, n_in) < 0.3).float() * 1.5
    ours = _ours(n_in)
    with torch.no_grad():
        ref = ours(x)
    rows = {}

    # spikeforge -> snnTorch (its importer assumes dt = 1e-4 s)
    try:
        from snntorch.import_nir import import_from_nir

        sn = import_from_nir(to_nir(ours, (n_in,), dt=1e-4))
        with torch.no_grad():
            y = _run_stateful(sn, x)
        rows["spikeforge -> snntorch"] = _agreement(ref, y)
    except Exception as err:  # report, do not hide
        rows["spikeforge -> snntorch"] = {"error": f"{type(err).__name__}: {err}"}

    # spikeforge -> Norse
    try:
        import norse.torch as norse

        for di in (False, True):
            net = _ours(n_in, decay_input=di)
            nm = norse.from_nir(to_nir(net, (n_in,), dt=1e-3), dt=1e-3)
            with torch.no_grad():
                y = _run_stateful(nm, x)
                rows[f"spikeforge -> norse (R = {'1' if di else '1/(1-β)'})"] = _agreement(net(x), y)
    except Exception as err:
        rows["spikeforge -> norse"] = {"error": f"{type(err).__name__}: {err}"}

    # snnTorch -> spikeforge
    try:
        import snntorch as snn
        from snntorch.export_nir import export_to_nir

        torch.manual_seed(0)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(n_in, 32)
                self.lif1 = snn.Leaky(beta=0.9, reset_mechanism="zero", init_hidden=True)
                self.fc2 = nn.Linear(32, 8)
                self.lif2 = snn.Leaky(beta=0.8, reset_mechanism="zero", init_hidden=True, output=True)

            def forward(self, xt):
                return self.lif2(self.fc2(self.lif1(self.fc1(xt))))

        sn = Net().eval()
        # snnTorch 1.0.0's exporter writes Leaky nodes with scalar parameters, which fail nir 1.0.8's type
        # inference ("fc1.output: [[32]] -> lif1.input: []"); skip the check, our importer broadcasts scalars
        infer = nir.NIRGraph.infer_types
        nir.NIRGraph.infer_types = lambda self: None
        try:
            g = export_to_nir(sn, x[0, 0])
        finally:
            nir.NIRGraph.infer_types = infer
        mine = from_nir(g, dt=1e-4)
        from snntorch import utils

        utils.reset(sn)
        with torch.no_grad():
            y_sn = torch.stack([sn(x[t])[0] for t in range(T)])
            y = mine(x)
        rows["snntorch -> spikeforge"] = _agreement(y_sn, y)
        rows["snntorch -> spikeforge"]["graph_nodes"] = sorted(type(n).__name__ for n in g.nodes.values())
    except Exception as err:
        rows["snntorch -> spikeforge"] = {"error": f"{type(err).__name__}: {err}"}

    report = {
        "command": "python benchmarks/nir_interop.py" + (f" --json {args.json}" if args.json else ""),
        "environment": {"python": platform.python_version(), "torch": torch.__version__, "nir": nir.__version__},
        "network": f"Linear({n_in},32)-LIF(β=0.9)-Linear(32,8)-LIF(β=0.8), hard reset to 0, V > θ = 1",
        "input": f"Bernoulli(0.3)·1.5, T={T}, B={B}",
        "results": rows,
    }
    for k in ("snntorch", "norse"):
        try:
            report["environment"][k] = __import__(k).__version__
        except Exception:
            pass
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0 if all("error" not in r for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

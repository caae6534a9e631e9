"""The torch STDP speed benchmark runs (our side; SpikingJelly is not in the test environment) and its
cross-check helper builds disjoint trains (no timing asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "stdp_torch_speed.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ not in this checkout")
def test_stdp_torch_speed_benchmark_runs(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--repeats", "1", "--workloads", "L", "--threads", "1",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["workloads"]["L"]["seconds"]["spikeforge"] > 0
    assert "| spikeforge |" in (tmp_path / "run.md").read_text()


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ not in this checkout")
def test_disjoint_trains_have_no_same_step_pairs():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import stdp_torch_speed as b
    finally:
        sys.path.pop(0)
    pre, post, _ = b.make_spikes({**b.WORKLOADS["L"], "T": 10}, 0.5, 0, disjoint=True)
    assert pre.sum() > 0 and post.sum() > 0
    assert (pre.sum(2) > 0)[:, :, None].logical_and(post.sum(2, keepdim=True) > 0).sum() == 0

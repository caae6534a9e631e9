"""The torch STDP memory benchmark runs and every chunk size gives the same weight change (no timing asserted)."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "torch_stdp_memory.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ not in this checkout")
def test_torch_stdp_memory_benchmark_runs_with_equal_results():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--T", "30", "--B", "2", "--I", "20", "--O", "5",
                           "--repeats", "1", "--chunk", "-1", "0", "30"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [ln.split("|")[1:-1] for ln in proc.stdout.splitlines() if ln.startswith("| ") and "chunk" not in ln]
    assert [r[0].strip() for r in rows] == ["default", "whole sequence", "30"]
    checksums = {r[4].strip() for r in rows}
    assert len(checksums) == 1 and float(checksums.pop()) > 0

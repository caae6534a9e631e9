"""The batch delay-ring benchmark runs at a small size (no timing asserted)."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "batch_delay_ring.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ not in this checkout")
def test_batch_delay_ring_benchmark_runs():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--delay-ms", "20", "--images", "3", "--jobs", "1"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "3 images, 1 thread(s): infer" in proc.stdout and "peak RSS" in proc.stdout

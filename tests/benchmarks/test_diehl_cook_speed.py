"""The Diehl & Cook speed benchmark's own engines run, write their JSON and render (no timing asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "diehl_cook_speed.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ not in this checkout")
def test_spikeforge_engines_write_json_and_render(tmp_path):
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--engines", "spikeforge", "spikeforge-infer", "--images", "3",
                           "--max-delay-ms", "2", "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads(out.read_text())
    assert run["max_delay_ms"] == 2.0
    for engine in ("spikeforge", "spikeforge-infer"):
        res = run["engines"][engine]
        assert res["n_images_timed"] == 3 and res["seconds_per_image_median"] > 0, res
        assert res["peak_rss_mb"] > 0
    assert set(run["bars"]) == {"ms_per_image<=3"}  # no peers run: only the absolute bar is checked
    assert "spikeforge-infer" in run["speedup_vs"]
    table = subprocess.run([sys.executable, str(SCRIPT), "--render", str(out)], capture_output=True, text=True,
                           check=True).stdout
    rows = [ln for ln in table.splitlines() if ln.startswith("| spikeforge")]
    assert len(rows) == 2 and "| spikeforge-infer |" in table
    assert "Run 1: ms_per_image<=3" in table

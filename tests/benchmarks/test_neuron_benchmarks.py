"""The neuron-layer, PLIF and STDP-denormal benchmarks run and write their JSON (no timing asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(not BENCH.exists(), reason="benchmarks/ not in this checkout")
def test_neuron_layers_and_plif_benchmarks_write_json(tmp_path):
    proc = _run("neuron_layers_speed.py", "--repeats", "1", "--shape", "4,2,256", "--json", str(tmp_path / "n.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads((tmp_path / "n.json").read_text())["rows"]
    assert {r["layer"] for r in rows} >= {"PLIF (compiled CPU kernel)", "PLIF fused torch", "ALIF (compiled CPU kernel)", "ALIF fused torch",
                                             "ALIF reference loop",
                                             "Izhikevich (compiled CPU kernel)", "Izhikevich reference loop"}
    assert all(r["median_ms"] > 0 and r["peak_mb"] >= 0 for r in rows)
    proc = _run("plif_speed.py", "--repeats", "1", "--shape", "4,2,3,4,4", "--json", str(tmp_path / "p.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads((tmp_path / "p.json").read_text())
    assert {r["implementation"] for r in got["rows"]} >= {"spikeforge PLIF, CPU kernel (scalar w)",
                                                          "spikeforge PLIF, fused torch (scalar w)"}
    proc = _run("izhikevich_speed.py", "--repeats", "1", "--shape", "5,2,16", "--json", str(tmp_path / "i.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads((tmp_path / "i.json").read_text())
    assert "spikeforge, Izhikevich's scheme, CPU kernel" in {r["implementation"] for r in got["rows"]}


@pytest.mark.skipif(not BENCH.exists(), reason="benchmarks/ not in this checkout")
def test_denormal_benchmark_gives_one_checksum_for_the_silent_runs(tmp_path):
    proc = _run("torch_stdp_denormals.py", "--T", "600", "--B", "2", "--I", "30", "--O", "5", "--active", "20",
                "--repeats", "1", "--json", str(tmp_path / "d.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads((tmp_path / "d.json").read_text())["rows"]
    assert [r["run"] for r in rows][:2] == ["silent tail", "silent tail, hardware FTZ"]
    assert rows[0]["checksum"] == pytest.approx(rows[1]["checksum"], rel=1e-6) and rows[0]["checksum"] > 0


@pytest.mark.skipif(not BENCH.exists(), reason="benchmarks/ not in this checkout")
def test_tbptt_benchmark_runs_and_chunked_forward_equals_whole(tmp_path):
    proc = _run("tbptt_memory.py", "--T", "60", "--B", "2", "--chunks", "60", "15", "--repeats", "1",
                "--json", str(tmp_path / "t.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]  # the script asserts the equal forward itself
    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    assert [r["chunk"] for r in rows] == [60, 15] and [r["passes"] for r in rows] == [1, 4]

"""The seed-001 continual-learning reproduction: results contract, artefacts, and (slow) the
acceptance numbers of issue 4."""

import json

import pytest

from spikeforge.experiments import continual
from spikeforge.experiments import get as get_experiment


def _tiny() -> continual.Config:
    return continual.Config(
        train_per_task=60, test_per_task=40, conv1_epochs=1, conv2_epochs=1, task1_epochs=2, task2_epochs=2,
        joint_epochs=1, research_epochs=1, snapshot_every=20, conv2_features=12, seeds=(0,),
        model={"conv1_features": 6, "features_per_class": 3, "stdp_rate_every": 20},
    )  # fmt: skip


def test_reduced_run_writes_the_results_contract(tmp_path):
    assert get_experiment("continual").seed == "001"
    res = continual.run(out_dir=tmp_path, jobs=1, command="test", config=_tiny())
    doc = json.loads((tmp_path / "results.json").read_text())
    assert set(doc) >= {"name", "command", "config", "environment", "metrics"}
    assert doc["name"] == "continual" and doc["command"] == "test"
    for m in doc["metrics"]:
        assert set(m) == {"key", "value", "std", "n", "paper", "source"}
        assert m["key"] == m["key"].lower()
    keys = {m["key"] for m in doc["metrics"]}
    for arm in continual.ARMS:
        assert f"split-mnist/{arm}/old_task_accuracy" in keys and f"split-mnist/{arm}/new_task_accuracy" in keys
    assert "split-mnist/best-protected/retained_ratio" in keys
    m = res.get("split-mnist/radius-0-0/old_task_accuracy")
    assert m.paper == pytest.approx(0.481) and 0.0 <= m.value <= 1.0
    runs = doc["extra"]["runs"]
    assert len(runs) == len(continual.ARMS)
    assert all(len(r["task2_curve"]) == (1 if r["arm"] == "joint" else 2) for r in runs)
    lang = [r for r in runs if r["arm"].startswith("langevin")]
    assert all(r["n_snapshots"] == 3 and r["range_width_mean"] > 0 for r in lang)
    assert [r["frozen_fraction"] for r in runs if r["arm"] == "freeze-top10"] == [pytest.approx(0.1, abs=1e-3)]
    for name in ("results.md", "task2_curves.png", "summary.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "| no protection, r = (0, 0) |" in (tmp_path / "results.md").read_text()


@pytest.mark.slow
def test_full_reproduction_meets_the_issue_thresholds(tmp_path):
    """Issue 4: best protected arm ≥ 1.3× the unprotected old-task accuracy with its new-task
    accuracy within 15 points; radius > 0 retains more than radius 0."""
    res = continual.run(out_dir=tmp_path, jobs=2, command="spikeforge reproduce continual")
    ratio = res.get("split-mnist/best-protected/retained_ratio")
    assert ratio.n >= 3 and ratio.value >= 1.3
    assert res.get("split-mnist/best-protected/new_task_gap").value <= 0.15
    base = res.get("split-mnist/radius-0-0/old_task_accuracy").value
    for arm in ("radius-3-1", "radius-5-1", "radius-5-2"):
        assert res.get(f"split-mnist/{arm}/old_task_accuracy").value > base

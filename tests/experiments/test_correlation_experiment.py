"""The seed-000 reproduction: results contract, artefacts, and (slow) the acceptance numbers."""

import json

import pytest

from spikeforge.experiments import correlation


def test_quick_run_writes_the_results_contract(tmp_path):
    res = correlation.run(quick=True, out_dir=tmp_path, jobs=1, command="test", datasets=("iris",))
    doc = json.loads((tmp_path / "results.json").read_text())
    assert set(doc) >= {"name", "command", "config", "environment", "metrics"}
    assert doc["name"] == "correlation" and doc["command"] == "test"
    keys = {m["key"] for m in doc["metrics"]}
    assert {"iris/stdp/f1_micro", "iris/memristive/f1_micro", "iris/stdp/f1_macro"} <= keys
    for m in doc["metrics"]:
        assert set(m) == {"key", "value", "std", "n", "paper", "source"}
        assert m["key"] == m["key"].lower()
    m = res.get("iris/stdp/f1_micro")
    assert m.n == 5 and m.paper == 0.97 and 0.85 <= m.value <= 1.0
    assert len(doc["extra"]["folds"]) == 10
    for name in ("results.md", "confusion_iris_stdp.png", "weights_iris_memristive.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "| iris | stdp |" in (tmp_path / "results.md").read_text()


@pytest.mark.slow
def test_full_reproduction_meets_the_issue_thresholds(tmp_path):
    """Issue 2: micro-F1 Iris >= 0.95, Breast Cancer >= 0.90, Digits >= 0.86 for both rules."""
    res = correlation.run(out_dir=tmp_path, jobs=2, command="spikeforge reproduce correlation")
    for dataset, bar in (("iris", 0.95), ("breast_cancer", 0.90), ("digits", 0.86)):
        for rule in ("stdp", "memristive"):
            m = res.get(f"{dataset}/{rule}/f1_micro")
            assert m.n == 15
            assert m.value >= bar, (dataset, rule, m.value)
    assert res.extra["wall_seconds"] < 600

"""The shared results writer: keys, statistics, strict JSON."""

import json
import math
import os

import pytest

from spikeforge.experiments._results import Results


def test_results_write_strict_json_with_null_for_undefined_numbers(tmp_path):
    res = Results("demo", "spikeforge reproduce demo", {"a": 1}, tmp_path)
    m = res.add("iris/stdp/f1_micro", [0.9, 1.0], paper=0.97, source="slide")
    assert math.isclose(m.value, 0.95) and math.isclose(m.std, 0.05) and m.n == 2
    res.add("iris/stdp/growth", [float("nan"), 1.0])
    res.extra["ratio"] = float("inf")
    res.write("# demo\n")
    text = (tmp_path / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    doc = json.loads(text)
    growth = next(x for x in doc["metrics"] if x["key"] == "iris/stdp/growth")
    assert growth["value"] is None and doc["extra"]["ratio"] is None
    assert (tmp_path / "results.md").read_text() == "# demo\n"
    umask = os.umask(0)
    os.umask(umask)
    # the usual permissions of a new file, not mkstemp's 0600
    assert (tmp_path / "results.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_metric_keys_must_be_dataset_method_metric():
    res = Results("demo", "", {}, ".")
    with pytest.raises(ValueError, match="dataset/method/metric"):
        res.add("Iris/STDP", 1.0)

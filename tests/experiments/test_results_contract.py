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
    res.add("iris/stdp/growth", [float("nan"), float("nan")])
    res.add("iris/stdp/partly", [float("nan"), 1.0, 3.0])
    res.extra["ratio"] = float("inf")
    res.config["free_threshold"] = float("inf")
    res.config["off"] = None
    res.write("# demo\n")
    text = (tmp_path / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    doc = json.loads(text)
    growth = next(x for x in doc["metrics"] if x["key"] == "iris/stdp/growth")
    assert growth["value"] is None and growth["n"] == 0 and growth["n_undefined"] == 2
    partly = next(x for x in doc["metrics"] if x["key"] == "iris/stdp/partly")
    assert (partly["value"], partly["std"], partly["n"], partly["n_undefined"]) == (2.0, 1.0, 2, 1)
    assert "n_undefined" not in doc["metrics"][0]
    assert doc["extra"]["ratio"] is None
    assert doc["config"]["free_threshold"] == "inf" and doc["config"]["off"] is None  # inf ≠ None
    assert (tmp_path / "results.md").read_text() == "# demo\n"
    umask = os.umask(0)
    os.umask(umask)
    # the usual permissions of a new file, not mkstemp's 0600
    assert (tmp_path / "results.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_metric_keys_must_be_dataset_method_metric():
    res = Results("demo", "", {}, ".")
    with pytest.raises(ValueError, match="dataset/method/metric"):
        res.add("Iris/STDP", 1.0)


def test_key_check_is_a_full_match_and_empty_or_infinite_values_are_refused():
    res = Results("demo", "", {}, ".")
    with pytest.raises(ValueError, match="dataset/method/metric"):
        res.add("iris/stdp/f1\n", 1.0)
    with pytest.raises(ValueError, match="no values"):
        res.add("iris/stdp/f1", [])
    with pytest.raises(ValueError, match="infinite"):
        res.add("iris/stdp/f1", [1.0, float("inf")])


def test_failed_write_leaves_no_temporary_file_and_keeps_old_results(tmp_path):
    res = Results("demo", "", {"a": 1}, tmp_path)
    res.add("iris/stdp/f1", 1.0)
    res.write("# ok\n")
    res.config["bad"] = object()  # not JSON
    with pytest.raises(TypeError):
        res.write("# new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.md"]
    assert (tmp_path / "results.md").read_text() == "# ok\n"


def test_environment_records_the_git_commit():
    from spikeforge.experiments._results import environment

    env = environment()
    if "git_commit" in env:  # running from a git checkout
        assert len(env["git_commit"]) == 40 and isinstance(env["git_dirty"], bool)


def _fail_on_two(x):
    import time

    if x == 2:
        raise ValueError("boom")
    time.sleep(1.0 if x > 2 else 0.0)
    return x


@pytest.mark.parametrize("jobs", [1, 2])
def test_parallel_map_names_the_failing_task_and_does_not_wait_for_the_rest(jobs):
    import time

    from spikeforge.experiments._runner import TaskError, parallel_map

    t0 = time.perf_counter()
    with pytest.raises(TaskError, match=r"demo 2 \(2\) failed: ValueError: boom") as info:
        parallel_map(_fail_on_two, list(range(12)), jobs=jobs, desc="demo")
    assert isinstance(info.value.__cause__, ValueError)
    assert time.perf_counter() - t0 < 3.0  # 9 × 1 s of remaining tasks are not awaited
    assert parallel_map(_fail_on_two, [0, 1], jobs=jobs) == [0, 1]

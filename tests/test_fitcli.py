"""``spikeforge fit``: a local-learning model trained from the command line on bundled and local IDX data,
saved with safetensors, its run repeatable from summary.json; clear one-line errors."""

import json

import numpy as np
import pytest

from spikeforge.cli import main


def test_fit_writes_a_model_and_a_summary_that_repeat(tmp_path, capsys):
    from spikeforge.models import CorrelationClassifier

    out = tmp_path / "run"
    assert main(["fit", "correlation", "--data", "iris", "--set", "plasticity=memristive", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["estimator"] == "CorrelationClassifier" and summary["n_test"] == 45
    assert summary["config"]["params"] == {"plasticity": "memristive"}
    assert summary["estimator_params"]["plasticity"] == "memristive" and summary["estimator_params"]["random_state"] == 0
    assert summary["test_accuracy"] > 0.8
    model = CorrelationClassifier.load(out / "model.safetensors")  # safetensors, not pickle
    from sklearn.model_selection import train_test_split

    from spikeforge.datasets import load_tabular

    X, y = load_tabular("iris")
    _, Xte, _, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    assert model.score(Xte, yte) == pytest.approx(summary["test_accuracy"])
    # the same run again from its summary gives the same accuracy; --seed changes the split and random_state
    again = tmp_path / "again"
    assert main(["fit", "--config", str(out / "summary.json"), "--out", str(again)]) == 0
    assert json.loads((again / "summary.json").read_text())["test_accuracy"] == summary["test_accuracy"]
    assert main(["fit", "--config", str(out / "summary.json"), "--seed", "1", "--out", str(tmp_path / "s1")]) == 0
    s1 = json.loads((tmp_path / "s1" / "summary.json").read_text())
    assert s1["config"]["seed"] == 1 and s1["estimator_params"]["random_state"] == 1


def test_fit_on_a_folder_of_idx_files(tmp_path):
    import struct

    def write_idx(path, arr):
        header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
        path.write_bytes(header + arr.astype(">u1").tobytes())

    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("t10k", 30)):
        y = np.arange(n) % 2
        X = np.zeros((n, 6, 6), dtype=np.uint8)
        X[y == 0, :3] = 200  # class 0 lit at the top, class 1 at the bottom
        X[y == 1, 3:] = 200
        X = np.clip(X.astype(int) + rng.integers(0, 40, X.shape), 0, 255).astype(np.uint8)
        write_idx(tmp_path / f"{split}-images-idx3-ubyte", X)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte", y.astype(np.uint8))
    out = tmp_path / "run"
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"n_fields": 3}))
    assert main(["fit", "correlation", "--data", str(tmp_path), "--params", str(params), "--n-train", "40",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_train"] == 40 and summary["n_test"] == 30 and 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["config"]["params"] == {"n_fields": 3} and summary["estimator_params"]["n_fields"] == 3


@pytest.mark.parametrize("argv, message", [
    (["fit", "correlation", "--data", "iris", "--set", "nope=3"], "nope: not parameters of CorrelationClassifier"),
    (["fit", "correlation", "--data", "iris", "--set", "novalue"], "--set takes key=value"),
    (["fit", "correlation"], "missing data"),
    (["fit", "correlation", "--data", "/nowhere/at/all"], "nowhere"),
])
def test_fit_errors_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_fit_usage_errors():
    for argv in (["fit", "resnet"], ["fit", "correlation", "--data", "iris", "--n-train", "0"],
                 ["fit", "correlation", "--data", "iris", "--seed", "-1"]):
        with pytest.raises(SystemExit):
            main(argv)

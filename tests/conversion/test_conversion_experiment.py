"""The ``spikeforge reproduce conversion`` module: the CNN, the refusal demo, and (slow) the quick run."""

import json

import pytest
import torch

from spikeforge.conversion import convert
from spikeforge.experiments import get
from spikeforge.experiments.conversion import _unsupported_demo, build_cnn
from spikeforge.nn import QCFS, repeat_in_time


def test_cnn_shapes_and_conversion():
    for act in ("relu", "qcfs"):
        net = build_cnn(act).eval()
        x = torch.rand(3, 1, 28, 28)
        assert net(x).shape == (3, 10)
        assert sum(isinstance(m, QCFS) for m in net) == (3 if act == "qcfs" else 0)
        snn = convert(net, x, "qcfs" if act == "qcfs" else "robust")
        assert snn.mode == "multi"
        assert snn(repeat_in_time(x, 2)).shape == (2, 3, 10)
    with pytest.raises(ValueError):
        build_cnn("tanh")


def test_unsupported_demo_names_each_layer():
    msgs = _unsupported_demo()
    assert "MaxPool2d" in msgs["maxpool"] and "'2'" in msgs["maxpool"]
    assert "LSTM" in msgs["lstm"] and "Sigmoid" in msgs["sigmoid"]


def test_registered():
    e = get("conversion")
    assert e.seed == "004" and e.module == "spikeforge.experiments.conversion"


@pytest.mark.slow
def test_quick_reproduction_writes_the_contract(tmp_path):
    get("conversion").runner()(quick=True, out_dir=tmp_path, seeds=None, jobs=2, command="spikeforge reproduce conversion --quick")
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["name"] == "conversion"
    keys = {m["key"] for m in doc["metrics"]}
    for k in ("mnist/ann-relu/accuracy", "mnist/robust-soft/accuracy_t8", "mnist/qcfs-l4-soft/loss_vs_ann_t4",
              "mnist/hybrid-robust-t8/gap_recovered", "mnist/soft-vs-hard/fraction_soft_wins_t_le16"):
        assert k in keys
    for png in ("accuracy_vs_T.png", "coding_tradeoff.png", "ann_training.png"):
        assert (tmp_path / png).stat().st_size > 1000
    assert "Acceptance criteria" in (tmp_path / "results.md").read_text()

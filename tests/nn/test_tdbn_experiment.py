"""`spikeforge reproduce tdbn` at a tiny size: the results contract and the plots."""

import json

import numpy as np
import torch

from spikeforge import experiments as ex
from spikeforge.experiments import tdbn


def test_registered():
    e = ex.get("tdbn")
    assert e.seed == "003" and e.runner() is tdbn.run


def test_tiny_run_writes_the_contract(tmp_path):
    cfg = tdbn.Config(epochs=1, ann_epochs=1, n_train=96, n_test=64, batch_size=48, deep_depth=3, deep_batches=1,
                      deep_train_steps=2, deep_batch_size=4, deep_seeds=(0,))
    threads = torch.get_num_threads()
    try:
        tdbn.run(out_dir=tmp_path, command="spikeforge reproduce tdbn (test)", config=cfg, jobs=1)
    finally:
        torch.set_num_threads(threads)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert set(doc) >= {"name", "command", "config", "environment", "metrics"}
    keys = {m["key"] for m in doc["metrics"]}
    assert {"mnist/stbp-tdbn/accuracy", "mnist/ann-relu/accuracy", "cifar10/resnet19/params_millions",
            "mnist-deep5/tdbn/grad_spread_init_decades", "mnist-deep5/none/accuracy"} <= keys
    acc = next(m for m in doc["metrics"] if m["key"] == "mnist/stbp-tdbn/accuracy")
    assert 0.0 <= acc["value"] <= 1.0 and acc["n"] == 1
    for png in ["learning_curves.png", "grad_norms_init.png", "grad_norms_trained.png", "firing_rates_init.png"]:
        assert (tmp_path / png).stat().st_size > 1000
    md = (tmp_path / "results.md").read_text()
    assert "| conv SNN + tdBN" in md and "0.9292" in md
    deep = doc["extra"]["deep"]
    assert len(deep) == 3 and all(len(r["grad_init"]) == 4 for r in deep)
    assert all(np.isfinite(r["grad_init"]).all() for r in deep)


def test_spread():
    assert tdbn._spread([1.0, 10.0, 100.0]) == 2.0
    assert tdbn._spread([0.0, 1.0, 10.0]) == 1.0 and tdbn._dead([0.0, 1.0, 0.0]) == 2

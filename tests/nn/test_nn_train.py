"""Training: data, determinism, resume, checkpoints (CPU ↔ device mapping), CIFAR pickles, the CLI."""

import pickle

import numpy as np
import pytest
import torch

from spikeforge.cli import main
from spikeforge.nn.train import (
    CHECKPOINT,
    NotACheckpointError,
    TrainConfig,
    build_model,
    fit,
    load_checkpoint,
    load_data,
    model_from_checkpoint,
    resolve_device,
    save_checkpoint,
)

TINY = dict(model="convsnn", data="digits", batch_size=32, lr=2e-3, T=2, n_train=96, n_test=64)


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_digits_data():
    d = load_data("digits", seed=0)
    assert d.X_train.shape == (1437, 1, 8, 8) and d.X_test.shape == (360, 1, 8, 8)
    assert d.X_train.dtype == torch.uint8 and int(d.X_train.max()) <= 16
    x = d.to_float(d.X_train[:4])
    assert x.dtype == torch.float32 and x.shape == (4, 1, 8, 8)


def test_mnist_subset_split_sizes():
    d = load_data("mnist", seed=0)
    assert d.X_train.shape == (4000, 1, 28, 28) and d.X_test.shape == (1000, 1, 28, 28)
    assert np.bincount(d.y_test.numpy()).min() >= 90  # stratified: about 100 per digit


class _Stop(Exception):
    pass


def _stop_after_first(epoch, model, metrics):
    if epoch == 1:
        raise _Stop  # an interruption after the epoch-1 checkpoint was written


def test_fit_is_deterministic_and_resumes_exactly(tmp_path):
    cfg = TrainConfig(epochs=2, **TINY)
    full = fit(cfg, out_dir=tmp_path / "a", progress=False, log=None)
    again = fit(cfg, progress=False, log=None)
    wa, wb = _weights(full["model"]), _weights(again["model"])
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    with pytest.raises(_Stop):
        fit(cfg, out_dir=tmp_path / "b", progress=False, log=None, on_epoch=_stop_after_first)
    resumed = fit(cfg, out_dir=tmp_path / "b", resume=True, progress=False, log=None)
    assert len(resumed["history"]) == 2
    wr = _weights(resumed["model"])
    assert all(torch.equal(wa[k], wr[k]) for k in wa)  # identical to the uninterrupted run
    assert resumed["history"][-1]["test_accuracy"] == full["history"][-1]["test_accuracy"]
    assert (tmp_path / "b" / "metrics.jsonl").read_text().count("\n") == 2


def test_resume_refuses_a_different_config(tmp_path):
    fit(TrainConfig(epochs=1, **TINY), out_dir=tmp_path, progress=False, log=None)
    with pytest.raises(ValueError, match="differs"):
        fit(TrainConfig(epochs=1, **{**TINY, "lr": 0.5}), out_dir=tmp_path, resume=True, progress=False, log=None)


def test_checkpoint_round_trip_and_device_mapping(tmp_path):
    cfg = TrainConfig(epochs=1, **TINY)
    data = load_data("digits", n_train=64, n_test=32)
    torch.manual_seed(0)
    model = build_model(cfg, data)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model(data.to_float(data.X_train[:8])).sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path / "ck.safetensors", model, opt, meta={"epoch": 3, "note": "x"})
    torch.manual_seed(1)
    other = build_model(cfg, data)
    opt2 = torch.optim.Adam(other.parameters(), 1e-3)
    meta = load_checkpoint(path, other, opt2, device="cpu")
    assert meta == {"epoch": 3, "note": "x"}
    a, b = _weights(model), _weights(other)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert opt2.state_dict()["state"][0]["exp_avg"].shape == opt.state_dict()["state"][0]["exp_avg"].shape
    torch.testing.assert_close(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    # the file is device-free: tensors are stored from CPU and mapped on load
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        assert all(fh.get_tensor(k).device.type == "cpu" for k in fh.keys())
    if torch.cuda.is_available():  # CPU -> GPU -> CPU
        gpu = build_model(cfg, data)
        load_checkpoint(path, gpu, device="cuda")
        assert next(gpu.parameters()).is_cuda
        save_checkpoint(tmp_path / "gpu.safetensors", gpu)
        back = build_model(cfg, data)
        load_checkpoint(tmp_path / "gpu.safetensors", back, device="cpu")
        assert all(torch.equal(a[k], v) for k, v in _weights(back).items())
    else:
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            load_checkpoint(path, other, device="cuda")
    with pytest.raises(NotACheckpointError, match="not a spikeforge checkpoint"):
        from safetensors.torch import save_file

        save_file({"w": torch.zeros(1)}, str(tmp_path / "foreign.safetensors"))
        load_checkpoint(tmp_path / "foreign.safetensors", other)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            resolve_device("cuda:0")


def _write_cifar(tmp_path, sizes=(4, 3, 3, 3, 3, 8)):
    """The five training batches and the test batch, ``sizes`` images each (16 train, 8 test)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, n in zip(names, sizes, strict=True):
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, n).tolist()}
        with open(tmp_path / name, "wb") as fh:
            pickle.dump(batch, fh)
    return tmp_path


def test_cifar_pickles_and_cli(tmp_path, capsys):
    root = _write_cifar(tmp_path / "cifar")
    d = load_data(str(root))
    assert d.name == "cifar10" and d.X_train.shape == (16, 3, 32, 32) and d.augment
    out = tmp_path / "run"
    rc = main(["train", "convsnn", "--data", str(root), "--epochs", "1", "--batch-size", "8", "-T", "2",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    assert (out / CHECKPOINT).exists() and (out / "summary.json").exists()
    assert "final test accuracy" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError):
        load_data(str(tmp_path / "missing"))
    # the checkpoint rebuilds its model without the data (sizes are stored), and exports to NIR
    import shutil

    shutil.rmtree(root)
    model, meta = model_from_checkpoint(out)
    assert meta["model_args"] == {"in_channels": 3, "num_classes": 10, "image_size": 32} and not model.training
    with pytest.raises(FileNotFoundError):
        model_from_checkpoint(tmp_path / "nowhere")
    pytest.importorskip("nir")
    assert main(["export-nir", str(out)]) == 0
    text = capsys.readouterr().out
    assert (out / "model.nir").exists() and "max |logit difference| = 0 " in text


def test_config_validation():
    with pytest.raises(ValueError, match="unknown model"):
        TrainConfig(model="vgg")
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)


@pytest.mark.parametrize("field, value", [("n_train", 0), ("n_train", -5), ("n_test", 0), ("n_test", -1),
                                          ("weight_decay", -1e-4), ("lr", float("inf"))])
def test_config_rejects_non_positive_sizes(field, value):
    # n_train=-5 sliced the data to [:-5] and n_train=0 to nothing (then ZeroDivisionError in fit)
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


@pytest.mark.parametrize("kwargs", [{"n_train": 0}, {"n_train": -5}, {"n_test": 0}, {"n_test": -3}])
def test_load_data_rejects_non_positive_sizes(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        load_data("digits", **kwargs)


def test_model_from_checkpoint_expands_home(tmp_path, monkeypatch):
    from dataclasses import asdict

    from spikeforge.nn.train import _model_args

    cfg = TrainConfig(**TINY)
    data = load_data("digits", n_train=8, n_test=8)
    save_checkpoint(tmp_path / "run" / CHECKPOINT, build_model(cfg, data),
                    meta={"config": asdict(cfg), "model_args": _model_args(data)})
    monkeypatch.setenv("HOME", str(tmp_path))
    model, meta = model_from_checkpoint("~/run")
    assert meta["model_args"]["image_size"] == 8 and not model.training


def test_cifar_missing_batch_fails_in_load_data(tmp_path):
    root = _write_cifar(tmp_path / "cifar")
    (root / "data_batch_5").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_5"):
        load_data(str(root))


# ---------------------------------------------------------------------------- review regressions
def test_custom_neuron_round_trips_through_the_checkpoint(tmp_path):
    """Regression: asdict() stored a LIFSpec in extra as a plain dict and ConvSNN(neuron=dict) failed."""
    from dataclasses import asdict

    from spikeforge.nn import LIFSpec
    from spikeforge.nn.train import _model_args, config_from_dict, config_to_dict

    neuron = LIFSpec(charge="decay", decay=0.25, decay_input=False, v_th=0.4, reset="hard", spike_compare=">",
                     surrogate=("rect", 1.0))
    cfg = TrainConfig(epochs=1, **{**TINY, "n_train": 32, "n_test": 16}, extra={"neuron": neuron, "hidden": 8})
    assert config_from_dict(config_to_dict(cfg)) == cfg
    res = fit(cfg, out_dir=tmp_path / "run", progress=False, log=None)
    model, meta = model_from_checkpoint(tmp_path / "run")
    assert model.stem_act.spec == neuron and model.hidden["act"].spec == neuron
    assert meta["config"]["extra"]["neuron"] == {"__lifspec__": config_to_dict(cfg)["extra"]["neuron"]["__lifspec__"]}
    x = res["data"].to_float(res["data"].X_test[:4])
    res["model"].eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), res["model"](x), rtol=0, atol=0)
    # older checkpoints stored dataclasses.asdict(cfg): the neuron as an untagged dict
    data = load_data("digits", n_train=8, n_test=8)
    save_checkpoint(tmp_path / "old" / CHECKPOINT, build_model(cfg, data),
                    meta={"config": asdict(cfg), "model_args": _model_args(data)})
    old, _ = model_from_checkpoint(tmp_path / "old")
    assert old.stem_act.spec == neuron


@pytest.mark.parametrize("value", [object(), {1, 2}, torch.zeros(2), float("nan")])
def test_config_refuses_extra_values_json_cannot_store(value):
    with pytest.raises(TypeError, match="extra"):
        TrainConfig(extra={"hidden": value})
    with pytest.raises(TypeError, match="extra"):
        TrainConfig(extra="hidden=8")


def test_resume_compares_every_field_but_device_and_amp(tmp_path):
    """Regression: weight_decay, extra, n_train and n_test changes were resumed silently."""
    base = {**TINY, "n_train": 32, "n_test": 16, "extra": {"pool": "avg"}}
    with pytest.raises(_Stop):
        fit(TrainConfig(epochs=2, **base), out_dir=tmp_path, progress=False, log=None, on_epoch=_stop_after_first)
    for field, value in [("weight_decay", 0.5), ("extra", {"pool": "max"}), ("extra", {"pool": "avg", "hidden": 8}),
                         ("n_train", 31), ("n_test", 15), ("seed", 1), ("lr", 0.5)]:
        with pytest.raises(ValueError, match=f"differs in \\['{field}'\\]"):
            fit(TrainConfig(epochs=2, **{**base, field: value}), out_dir=tmp_path, resume=True, progress=False, log=None)
    # where it runs may change: device and amp are not compared
    res = fit(TrainConfig(epochs=2, **base, device="cpu", amp=False), out_dir=tmp_path, resume=True,
              progress=False, log=None)
    assert len(res["history"]) == 2


@pytest.mark.parametrize("kwargs, error, match", [
    ({"epochs": 2.5}, TypeError, "epochs must be an integer"),
    ({"epochs": None}, TypeError, "epochs must be an integer"),
    ({"epochs": True}, TypeError, "epochs must be an integer"),
    ({"T": 1.5}, TypeError, "T must be an integer"),
    ({"batch_size": "16"}, TypeError, "batch_size must be an integer"),
    ({"seed": 1.5}, TypeError, "seed must be an integer"),
    ({"seed": -1}, ValueError, "seed must be >= 0"),
    ({"T": 0}, ValueError, "T must be >= 1"),
    ({"norm": "foo"}, ValueError, "norm must be one of"),
    ({"lr": "0.1"}, TypeError, "lr must be a real number"),
    ({"weight_decay": None}, TypeError, "weight_decay must be a real number"),
    ({"amp": "no"}, TypeError, "amp must be a bool"),
    ({"device": "foo"}, ValueError, "device must be"),
    ({"data": 3}, TypeError, "data must be a string"),
])
def test_config_checks_types_at_construction(kwargs, error, match):
    """Regression: epochs=2.5, T=1.5, batch_size='16', seed=1.5 were accepted (crashing or truncating later)
    and norm was checked only after the data had loaded."""
    with pytest.raises(error, match=match):
        TrainConfig(**kwargs)


def test_config_normalises_numpy_numbers():
    cfg = TrainConfig(epochs=np.int64(3), T=np.int32(2), seed=np.int64(0), lr=np.float32(0.5), n_train=np.int64(8))
    assert type(cfg.epochs) is int and type(cfg.T) is int and type(cfg.seed) is int and type(cfg.n_train) is int
    assert type(cfg.lr) is float and cfg.lr == 0.5


def test_grad_scaler_state_round_trips_through_the_checkpoint(tmp_path):
    """Regression: fit() on CUDA with amp did not store the GradScaler, so a resumed run restarted its loss
    scale at 65536. The save/load path, exercised with a CPU GradScaler."""
    from safetensors import safe_open

    model = torch.nn.Linear(2, 2)
    scaler = torch.amp.GradScaler("cpu")
    state = {**scaler.state_dict(), "scale": 1024.0, "_growth_tracker": 7}
    scaler.load_state_dict(state)
    path = save_checkpoint(tmp_path / "ck.safetensors", model, scaler=scaler)
    fresh = torch.amp.GradScaler("cpu")
    load_checkpoint(path, torch.nn.Linear(2, 2), scaler=fresh)
    assert fresh.state_dict() == scaler.state_dict() and fresh.get_scale() == 1024.0
    # a disabled scaler stores nothing; a file without scaler state leaves the scaler as it is
    save_checkpoint(tmp_path / "none.safetensors", model, scaler=torch.amp.GradScaler("cpu", enabled=False))
    with safe_open(str(tmp_path / "none.safetensors"), framework="pt") as fh:
        assert "scaler" not in fh.metadata()
    untouched = torch.amp.GradScaler("cpu")
    load_checkpoint(tmp_path / "none.safetensors", torch.nn.Linear(2, 2), scaler=untouched)
    assert untouched.get_scale() == 65536.0


def test_resume_extends_epochs_and_reads_corrupt_checkpoints_as_value_errors(tmp_path):
    """Review: more epochs on resume were refused; a corrupt checkpoint raised safetensors' own error."""
    from spikeforge.nn.train import _resume_mismatch, config_to_dict

    stored = config_to_dict(TrainConfig(epochs=3, **TINY))
    assert _resume_mismatch(stored, TrainConfig(epochs=4, **TINY)) == []  # may grow
    assert _resume_mismatch(stored, TrainConfig(epochs=2, **TINY)) == ["epochs"]  # not shrink
    # cosine: the extended run's remaining epochs get the rates of a run planned that long
    lines = []
    fit(TrainConfig(epochs=2, **TINY), out_dir=tmp_path / "a", progress=False, log=None)
    ext = fit(TrainConfig(epochs=3, **TINY), out_dir=tmp_path / "a", resume=True, progress=False, log=lines.append)
    planned = fit(TrainConfig(epochs=3, **TINY), progress=False, log=None)
    assert "extending the run from 2 to 3 epochs" in lines[0]
    assert ext["history"][2]["lr"] == planned["history"][2]["lr"] and len(ext["history"]) == 3
    assert ext["history"][1]["lr"] != planned["history"][1]["lr"]  # the epochs done ran on the 2-epoch schedule
    # schedule none: an extended run is the longer run, exactly
    none = {**TINY, "schedule": "none"}
    fit(TrainConfig(epochs=1, **none), out_dir=tmp_path / "n", progress=False, log=None)
    ext = fit(TrainConfig(epochs=3, **none), out_dir=tmp_path / "n", resume=True, progress=False, log=None)
    full = fit(TrainConfig(epochs=3, **none), progress=False, log=None)
    we, wf = _weights(ext["model"]), _weights(full["model"])
    assert all(torch.equal(we[k], wf[k]) for k in we)
    with pytest.raises(ValueError, match="epochs may grow on resume, not shrink"):
        fit(TrainConfig(epochs=2, **none), out_dir=tmp_path / "n", resume=True, progress=False, log=None)
    # no checkpoint: a note, then a fresh run
    lines.clear()
    fit(TrainConfig(epochs=1, **TINY), out_dir=tmp_path / "fresh", resume=True, progress=False, log=lines.append)
    assert lines[0] == f"resume: no checkpoint at {tmp_path / 'fresh' / CHECKPOINT}; starting from scratch"
    # a truncated checkpoint: ValueError naming the file, wherever it is read
    ckpt = tmp_path / "n" / CHECKPOINT
    ckpt.write_bytes(ckpt.read_bytes()[:50])
    with pytest.raises(ValueError, match="cannot resume: .*not a spikeforge checkpoint.*start afresh"):
        fit(TrainConfig(epochs=3, **none), out_dir=tmp_path / "n", resume=True, progress=False, log=None)
    with pytest.raises(NotACheckpointError, match="not a spikeforge checkpoint"):
        model_from_checkpoint(ckpt)
    model = build_model(TrainConfig(**TINY), load_data("digits", n_train=8, n_test=8))
    with pytest.raises(NotACheckpointError, match="not a spikeforge checkpoint"):
        load_checkpoint(ckpt, model)
    assert issubclass(NotACheckpointError, ValueError)

"""The spikeforge command line."""

import subprocess
import sys

import pytest

from spikeforge.cli import main


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "correlation" in out and "000" in out
    # debt: --seeds meant different things per reproduction, undocumented; each now says what it repeats
    from spikeforge.experiments import EXPERIMENTS

    for name, e in EXPERIMENTS.items():
        assert "(default" in e.seeds, name
        assert f"--seeds N: {e.seeds}" in out, name


def test_unknown_reproduction(capsys):
    assert main(["reproduce", "nope"]) == 2
    assert "unknown reproduction" in capsys.readouterr().err


def test_report_updates_marked_tables(tmp_path):
    (tmp_path / "results" / "correlation").mkdir(parents=True)
    (tmp_path / "results" / "correlation" / "results.md").write_text("## Title\n\n| a | b |\n")
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- results:correlation -->\nold\n<!-- /results:correlation -->\ny\n")
    assert main(["report", "--readme", str(readme), "--out", str(tmp_path / "results")]) == 0
    text = readme.read_text()
    assert "| a | b |" in text and "old" not in text and "## Title" not in text


def test_console_entry_point_env():
    out = subprocess.run([sys.executable, "-m", "spikeforge", "env"], capture_output=True, text=True, check=True)
    assert '"torch"' in out.stdout


# ---------------------------------------------------------------------------- regressions (review)
@pytest.mark.parametrize(
    "argv, option",
    [
        (["train", "convsnn", "--data", "digits", "--epochs", "0"], "--epochs"),
        (["train", "convsnn", "--data", "digits", "--batch-size", "-1"], "--batch-size"),
        (["train", "convsnn", "--data", "digits", "-T", "0"], "-T"),
        (["train", "convsnn", "--data", "digits", "--lr", "0"], "--lr"),
        (["train", "convsnn", "--data", "digits", "--lr", "nan"], "--lr"),
        (["train", "convsnn", "--data", "digits", "--weight-decay", "-0.001"], "--weight-decay"),
        (["train", "convsnn", "--data", "digits", "--seed", "-1"], "--seed"),
        (["train", "convsnn", "--data", "digits", "--n-train", "0"], "--n-train"),
        (["train", "convsnn", "--data", "digits", "--n-test", "-5"], "--n-test"),
        (["train", "convsnn", "--data", "digits", "--epochs", "two"], "--epochs"),
        (["export-nir", "run", "--dt", "0"], "--dt"),
        (["reproduce", "correlation", "--seeds", "0"], "--seeds"),
        (["reproduce", "all", "--seeds", "0"], "--seeds"),
    ],
)
def test_bad_numbers_are_parse_errors(argv, option, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the old code went on to train / reproduce: keep runs/ out of the repo
    monkeypatch.setattr("spikeforge.cli.subprocess.run", lambda *a, **k: pytest.fail("must not run"))
    with pytest.raises(SystemExit) as info:
        main([*argv, "--out", str(tmp_path / "out")] if argv[0] != "export-nir" else argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert option in err and "Traceback" not in err


def test_reproduce_all_forwards_seeds(monkeypatch, tmp_path):
    calls = []

    class Done:
        returncode = 0

    monkeypatch.setattr("spikeforge.cli.subprocess.run", lambda cmd, *a, **k: calls.append(cmd) or Done())
    assert main(["reproduce", "all", "--quick", "--seeds", "1", "--out", str(tmp_path)]) == 0
    assert calls and all(c[c.index("--seeds") + 1] == "1" and "--quick" in c for c in calls)
    calls.clear()
    assert main(["reproduce", "all", "--out", str(tmp_path)]) == 0
    assert calls and not any("--seeds" in c for c in calls)


def test_command_errors_are_one_line_not_tracebacks(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "no-such-dir"
    assert main(["train", "convsnn", "--data", str(missing), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikeforge train: error: ") and str(missing) in err and "Traceback" not in err
    assert main(["export-nir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikeforge export-nir: error: ") and "nowhere" in err
    assert main(["report", "--readme", str(tmp_path / "NOPE.md")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikeforge report: error: ") and "NOPE.md" in err
    assert main(["train", "convsnn", "--data", "digits", "--device", "nosuchdevice"]) == 2
    assert "--device 'nosuchdevice'" in capsys.readouterr().err
    monkeypatch.setenv("SPIKEFORGE_TRACEBACK", "1")  # the escape hatch for debugging
    with pytest.raises(FileNotFoundError):
        main(["report", "--readme", str(tmp_path / "NOPE.md")])


def test_paths_expand_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "README.md").write_text("nothing marked\n")
    assert main(["report", "--readme", "~/README.md", "--out", "~/results"]) == 0


def test_quick_runs_do_not_overwrite_full_results(monkeypatch, tmp_path):
    import spikeforge.experiments as ex

    seen = {}

    class Fake:
        seed = "000"
        summary = "fake"

        def runner(self):
            def run(**kw):
                seen.update(kw)
            return run

    monkeypatch.setattr(ex, "get", lambda name: Fake())
    assert main(["reproduce", "correlation", "--quick", "--jobs", "1", "--out", str(tmp_path)]) == 0
    assert seen["out_dir"] == tmp_path / "quick" / "correlation" and seen["quick"] is True
    assert main(["reproduce", "correlation", "--jobs", "1", "--out", str(tmp_path)]) == 0
    assert seen["out_dir"] == tmp_path / "correlation"


def test_report_refuses_quick_results_and_missing_tables(tmp_path):
    import json

    folder = tmp_path / "results" / "correlation"
    folder.mkdir(parents=True)
    (folder / "results.md").write_text("| quick |\n")
    (folder / "results.json").write_text(json.dumps({"config": {"quick": True}}))
    readme = tmp_path / "README.md"
    original = "<!-- results:correlation -->\nold\n<!-- /results:correlation -->\n<!-- results:tdbn -->\nt\n<!-- /results:tdbn -->\n"
    readme.write_text(original)
    assert main(["report", "--readme", str(readme), "--out", str(tmp_path / "results")]) == 1
    assert readme.read_text() == original


def test_jobs_must_be_positive():
    with pytest.raises(SystemExit):
        main(["reproduce", "correlation", "--jobs", "0"])


# ---------------------------------------------------------------------------- train --config FILE
_QUICK_TRAIN = ["--data", "digits", "--epochs", "1", "--batch-size", "8", "-T", "1", "--n-train", "16",
                "--n-test", "8", "--device", "cpu", "--seed", "3", "--no-progress"]


def _train_config(argv):
    from spikeforge.cli import build_parser, resolve_train_config

    return resolve_train_config(build_parser().parse_args(["train", *argv]))


def test_train_config_from_a_previous_run_repeats_it(tmp_path, monkeypatch):
    import json

    from spikeforge.nn.train import config_to_dict

    monkeypatch.chdir(tmp_path)
    first = tmp_path / "first"
    assert main(["train", "convsnn", *_QUICK_TRAIN, "--out", str(first)]) == 0
    summary = json.loads((first / "summary.json").read_text())
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(summary["config"]))
    # summary.json, the checkpoint's metadata, the run folder and a bare config all rebuild the same TrainConfig
    for source in (first / "summary.json", first / "checkpoint.safetensors", first, bare):
        assert config_to_dict(_train_config(["--config", str(source)])) == summary["config"], source
    again = tmp_path / "again"
    assert main(["train", "--config", str(first / "summary.json"), "--out", str(again), "--no-progress"]) == 0
    repeated = json.loads((again / "summary.json").read_text())
    assert repeated["config"] == summary["config"]  # the resolved config is written to the new run folder
    for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
        assert repeated["final"][key] == summary["final"][key]  # the same run, exactly


def test_train_config_file_extra_model_arguments_reach_the_model(tmp_path, monkeypatch):
    # extra model keyword arguments of a file (written by fit(), e.g. a custom neuron) are trained as given
    import json

    seen = []
    monkeypatch.setattr("spikeforge.nn.train.run_cli", lambda args, cfg=None: seen.append(cfg) or 0)
    f = tmp_path / "cfg.json"
    f.write_text(json.dumps({"model": "convsnn", "data": "digits", "extra": {"hidden": 32, "channels": [4, 8]}}))
    assert main(["train", "--config", str(f)]) == 0
    assert seen[0].extra == {"hidden": 32, "channels": [4, 8]} and seen[0].model == "convsnn"


def test_train_config_extra_keys_the_model_does_not_take_are_one_line_errors(tmp_path, capsys, monkeypatch):
    # review bug: a convsnn file's extra={"hidden": 32} with the model flag resnet19 died with a TypeError
    # traceback after the data was loaded
    import json

    from spikeforge.nn.train import TrainConfig

    monkeypatch.setattr("spikeforge.nn.train.run_cli", lambda *a, **k: pytest.fail("must not train"))
    f = tmp_path / "cfg.json"
    f.write_text(json.dumps({"model": "convsnn", "data": "digits", "extra": {"hidden": 32}}))
    assert main(["train", "resnet19", "--config", str(f)]) == 2
    err = capsys.readouterr().err
    assert "'hidden' are not arguments of resnet19" in err and err.count("\n") == 1
    with pytest.raises(ValueError, match="'T' are not arguments"):  # set by the config itself
        TrainConfig(model="convsnn", data="digits", extra={"T": 8})
    assert TrainConfig(model="convsnn", data="digits", extra={"hidden": 32}).extra == {"hidden": 32}


def test_train_flags_override_the_config_file(tmp_path):
    import json

    from spikeforge.nn.train import TrainConfig

    f = tmp_path / "cfg.json"
    f.write_text(json.dumps({"model": "resnet19", "data": "digits", "epochs": 3, "T": 2, "lr": 0.01, "n_train": 50}))
    cfg = _train_config(["convsnn", "--config", str(f), "--epochs", "5", "--lr", "0.5", "--no-amp", "--data", "mnist"])
    assert (cfg.model, cfg.data, cfg.epochs, cfg.lr, cfg.amp) == ("convsnn", "mnist", 5, 0.5, False)  # flags
    assert (cfg.T, cfg.n_train) == (2, 50)  # from the file
    assert (cfg.batch_size, cfg.optimizer, cfg.seed) == (64, "adam", 0)  # neither: the defaults
    # a flag given with the default's value still overrides the file (given, not defaulted)
    assert _train_config(["--config", str(f), "--epochs", "10", "-T", "4"]).epochs == 10
    assert _train_config(["--config", str(f)]).epochs == 3
    # without --config the defaults are those of the command line before --config existed
    assert _train_config(["convsnn", "--data", "digits"]) == TrainConfig(
        model="convsnn", data="digits", epochs=10, batch_size=64, lr=1e-3, optimizer="adam", weight_decay=0.0,
        schedule="cosine", T=4, norm="tdbn", seed=0, device="auto", amp=True, n_train=None, n_test=None)


def test_train_flags_undo_a_config_files_amp_and_data_limits(tmp_path):
    # debt of the previous session: no flag could undo a file's amp: false or its n_train / n_test
    import json

    f = tmp_path / "cfg.json"
    f.write_text(json.dumps({"model": "convsnn", "data": "digits", "amp": False, "n_train": 50, "n_test": 20}))
    cfg = _train_config(["--config", str(f)])
    assert (cfg.amp, cfg.n_train, cfg.n_test) == (False, 50, 20)
    cfg = _train_config(["--config", str(f), "--amp", "--n-train", "all", "--n-test", "ALL"])
    assert (cfg.amp, cfg.n_train, cfg.n_test) == (True, None, None)
    assert _train_config(["--config", str(f), "--n-train", "7"]).n_train == 7
    assert _train_config(["convsnn", "--data", "digits", "--no-amp"]).amp is False
    for bad in ("0", "some", "-1"):
        with pytest.raises(SystemExit):
            _train_config(["convsnn", "--data", "digits", "--n-train", bad])


def test_train_config_file_data_folder_is_relative_to_the_file(tmp_path, monkeypatch):
    # debt of the previous session: a relative data folder of a config file resolved against the cwd
    import json

    from spikeforge.nn.train import TrainConfig

    (tmp_path / "exp" / "cifar").mkdir(parents=True)
    (tmp_path / "work" / "old").mkdir(parents=True)
    f = tmp_path / "exp" / "summary.json"
    f.write_text(json.dumps({"model": "convsnn", "data": "cifar"}))
    monkeypatch.chdir(tmp_path / "work")
    assert _train_config(["--config", str(f)]).data == str(tmp_path / "exp" / "cifar")
    assert _train_config(["--config", str(tmp_path / "exp")]).data == str(tmp_path / "exp" / "cifar")  # a folder
    # a summary.json written before data folders were stored absolute: relative to the cwd it was run from
    f.write_text(json.dumps({"config": {"model": "convsnn", "data": "old"}}))
    assert _train_config(["--config", str(f)]).data == str(tmp_path / "work" / "old")
    # found nowhere: the path next to the file (the data loader's error then names it)
    f.write_text(json.dumps({"model": "convsnn", "data": "missing"}))
    assert _train_config(["--config", str(f)]).data == str(tmp_path / "exp" / "missing")
    # --data on the command line is relative to the working directory; keywords stay keywords
    assert _train_config(["--config", str(f), "--data", "old"]).data == str(tmp_path / "work" / "old")
    f.write_text(json.dumps({"model": "convsnn", "data": "Digits"}))
    assert _train_config(["--config", str(f)]).data == "Digits"
    # a data folder literally named "all" is a folder (review: it was taken for "not given")
    (tmp_path / "work" / "all").mkdir()
    assert _train_config(["convsnn", "--data", "all"]).data == str(tmp_path / "work" / "all")
    # a run resumed from another place (absolute folder differs, same data folder name) is the same run
    from spikeforge.nn.train import _resume_mismatch, config_to_dict

    stored = config_to_dict(TrainConfig(model="convsnn", data="/elsewhere/old"))
    assert _resume_mismatch(stored, TrainConfig(model="convsnn", data="old")) == []
    assert _resume_mismatch(stored, TrainConfig(model="convsnn", data="cifar")) == ["data"]
    # what a run stores is absolute, so its summary repeats the run from any working directory
    assert TrainConfig(model="convsnn", data="old").data == str(tmp_path / "work" / "old")
    assert TrainConfig(model="convsnn", data="mnist").data == "mnist"


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"model": "convsnn", "data": "digits", "epoch": 3}', "unknown training config key(s) 'epoch'"),
        ('{"config": {"model": "convsnn", "learning_rate": 1}, "final": {}}',
         "unknown training config key(s) 'learning_rate'"),
        ('{"model": "convsnn", "data": ', "not valid JSON"),
        ("", "not valid JSON"),
        ('["convsnn"]', "expected a JSON object"),
        ('{"config": "convsnn"}', "'config' entry must be a JSON object"),
        ('{"model": "convsnn", "data": "digits", "epochs": "3"}', "epochs must be an integer"),
        ('{"model": "vgg", "data": "digits"}', "unknown model 'vgg'"),
        ('{"model": "convsnn", "data": "digits", "extra": ["hidden"]}', "extra must be a dict"),
    ],
)
def test_train_bad_config_file_is_a_one_line_error(text, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("spikeforge.nn.train.run_cli", lambda *a, **k: pytest.fail("must not train"))
    f = tmp_path / "cfg.json"
    f.write_text(text)
    assert main(["train", "--config", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"spikeforge train: error: {f}: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_train_config_file_errors_and_required_arguments(tmp_path, capsys, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("spikeforge.nn.train.run_cli", lambda *a, **k: pytest.fail("must not train"))
    assert main(["train", "--config", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: No such file or directory" in capsys.readouterr().err
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    assert main(["train", "--config", str(tmp_path / "junk.safetensors")]) == 2
    assert "not a spikeforge checkpoint" in capsys.readouterr().err
    # a device the file names but this machine lacks is reported with the file; --device overrides it
    f = tmp_path / "gpu.json"
    f.write_text(json.dumps({"model": "convsnn", "data": "digits", "device": "cuda:7"}))
    import torch

    if not torch.cuda.is_available():
        assert main(["train", "--config", str(f)]) == 2
        assert f"device 'cuda:7' of {f}" in capsys.readouterr().err
    assert _train_config(["--config", str(f), "--device", "cpu"]).device == "cpu"
    # model and --data stay required when no file sets them (argparse usage error)
    for argv, missing in ((["train"], "model, --data"), (["train", "convsnn"], "--data")):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2 and f"required: {missing}" in capsys.readouterr().err
    f.write_text(json.dumps({"model": "convsnn"}))
    with pytest.raises(SystemExit):
        main(["train", "--config", str(f)])
    assert "required: --data" in capsys.readouterr().err


# ---------------------------------------------------------------------------- user review: train, export-nir
def test_train_resume_from_a_corrupt_checkpoint_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    # review bug: a truncated checkpoint.safetensors gave a SafetensorError traceback (rc 1) on --resume,
    # while the same file through --config got a clean error
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "t6"
    assert main(["train", "convsnn", *_QUICK_TRAIN, "--out", str(run)]) == 0
    ckpt = run / "checkpoint.safetensors"
    for cut in (100, 0):  # truncated; empty
        ckpt.write_bytes(ckpt.read_bytes()[:cut]) if cut else ckpt.write_bytes(b"")
        capsys.readouterr()
        assert main(["train", "convsnn", *_QUICK_TRAIN, "--out", str(run), "--resume"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("spikeforge train: error: cannot resume: ") and str(ckpt) in err
        assert "not a spikeforge checkpoint" in err and err.count("\n") == 1 and "Traceback" not in err


def test_export_nir_of_a_json_file_is_a_one_line_error(tmp_path, capsys):
    # review bug: `spikeforge export-nir runs/t2/summary.json` died with "header too large" (a traceback)
    summary = tmp_path / "summary.json"
    summary.write_text('{"config": {"model": "convsnn", "data": "digits"}, "final": {}}')
    assert main(["export-nir", str(summary)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"spikeforge export-nir: error: {summary}: not a spikeforge checkpoint")
    assert "run folder" in err and err.count("\n") == 1


def test_safetensors_errors_left_anywhere_are_one_line_errors(tmp_path, capsys, monkeypatch):
    from safetensors import SafetensorError

    def boom(*a, **k):
        raise SafetensorError("Error while deserializing header: header too large")

    monkeypatch.setattr("spikeforge.nn.train.run_cli", boom)
    assert main(["train", "convsnn", "--data", "digits", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err == "spikeforge train: error: SafetensorError: Error while deserializing header: header too large\n"
    monkeypatch.setattr("spikeforge.nn.train.run_cli", lambda *a, **k: 1 + None)  # a bug keeps its traceback
    with pytest.raises(TypeError):
        main(["train", "convsnn", "--data", "digits", "--device", "cpu"])


def test_train_resume_without_a_checkpoint_says_it_starts_fresh(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "convsnn", *_QUICK_TRAIN, "--out", str(tmp_path / "new"), "--resume"]) == 0
    out = capsys.readouterr().out
    assert f"no checkpoint at {tmp_path / 'new' / 'checkpoint.safetensors'}; starting from scratch" in out


def test_train_resume_with_more_epochs_extends_the_run_exactly(tmp_path, capsys, monkeypatch):
    # review: `--resume --epochs 4` on a finished 3-epoch run was refused (config differs in ['epochs'])
    import json

    import torch
    from safetensors.torch import load_file

    monkeypatch.chdir(tmp_path)
    i = _QUICK_TRAIN.index("--epochs")
    quick = _QUICK_TRAIN[:i] + _QUICK_TRAIN[i + 2:]
    assert main(["train", "convsnn", *quick, "--epochs", "1", "--out", "a"]) == 0
    assert main(["train", "convsnn", *quick, "--epochs", "2", "--out", "a", "--resume"]) == 0
    assert "extending the run from 1 to 2 epochs" in capsys.readouterr().out
    assert main(["train", "convsnn", *quick, "--epochs", "2", "--out", "b"]) == 0
    a, b = load_file("a/checkpoint.safetensors"), load_file("b/checkpoint.safetensors")
    assert a.keys() == b.keys() and any(k.startswith("optim.") for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a)  # weights and optimizer state, bit for bit
    ha = [json.loads(line) for line in open("a/metrics.jsonl")]
    hb = [json.loads(line) for line in open("b/metrics.jsonl")]
    for key in ("lr", "train_loss", "test_accuracy"):
        assert [h[key] for h in ha] == [h[key] for h in hb]
    assert json.loads(open("a/summary.json").read())["config"]["epochs"] == 2
    # epochs may only grow; every other field must still match
    capsys.readouterr()
    assert main(["train", "convsnn", *quick, "--epochs", "1", "--out", "a", "--resume"]) == 2
    assert "epochs: 2 in the checkpoint, 1 now (epochs may grow on resume, not shrink)" in capsys.readouterr().err
    assert main(["train", "convsnn", *quick, "--epochs", "3", "--lr", "0.5", "--out", "a", "--resume"]) == 2
    assert "differs in ['lr']" in capsys.readouterr().err


def test_train_help_shows_the_defaults(capsys):
    # review: `spikeforge train --help` showed no defaults (the parser's are None: "not given", see --config)
    from spikeforge.cli import build_parser

    train = next(a for a in build_parser()._actions if a.dest == "command").choices["train"]
    helps = {a.dest: a.help for a in train._actions}
    for dest, default in (("epochs", "10"), ("batch_size", "64"), ("lr", "0.001"), ("optimizer", "adam"),
                          ("weight_decay", "0"), ("schedule", "cosine"), ("T", "4"), ("norm", "tdbn"),
                          ("seed", "0"), ("device", "auto"), ("amp", "on"), ("n_train", "all"), ("n_test", "all")):
        assert helps[dest].endswith(f"(default: {default}, or the --config file's)"), dest
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # unwrapped
    assert "extends it (default: 10, or the --config file's)" in text
    assert "batch size (default: 64," in text and "peak learning rate (default: 0.001," in text


def test_train_act_plif_reaches_the_model_and_the_checkpoint(tmp_path, monkeypatch):
    import json

    import spikeforge.nn as sfnn
    from spikeforge.nn.train import model_from_checkpoint

    monkeypatch.chdir(tmp_path)
    assert main(["train", "convsnn", *_QUICK_TRAIN, "-T", "2", "--act", "plif"]) == 0  # with T = 1, τ has no effect
    run = tmp_path / "runs" / "convsnn-plif-digits-T2-seed3"  # its own default folder, beside a LIF run's
    summary = json.loads((run / "summary.json").read_text())
    assert summary["config"]["extra"]["act"] == "plif"
    model, _ = model_from_checkpoint(run / "checkpoint.safetensors")
    plifs = [m for m in model.modules() if isinstance(m, sfnn.PLIF)]
    assert plifs and not any(type(m) is sfnn.LIF for m in model.modules())
    assert any(float(m.tau) != 2.0 for m in plifs)  # τ was trained (initial 1/(1 − 0.5) = 2 steps)
    # the flag overrides a file's act; without it the file's act is kept
    assert _train_config(["--config", str(run), "--act", "lif"]).extra["act"] == "lif"
    assert _train_config(["--config", str(run)]).extra["act"] == "plif"
    assert "act" not in _train_config(["convsnn", "--data", "digits"]).extra

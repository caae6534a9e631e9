"""The spikeforge command line."""

import subprocess
import sys

import pytest

from spikeforge.cli import main


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "correlation" in out and "000" in out


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

"""The spikeforge command line."""

import subprocess
import sys

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

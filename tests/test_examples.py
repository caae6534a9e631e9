"""Every script in examples/ runs as documented (from an empty directory, default arguments)."""

import re
import runpy
import sys
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = sorted(p.name for p in EXAMPLES.glob("*.py"))


def test_examples_are_found():
    assert {"quickstart.py", "weight_maps.py"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_example_runs(name, tmp_path, monkeypatch, capsys):
    source = (EXAMPLES / name).read_text()
    assert source.lstrip().startswith('"""'), f"{name} needs a module docstring"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [name])  # default arguments, not pytest's
    threads = torch.get_num_threads()
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:  # an example may set torch's thread count for itself; later tests keep theirs
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert re.search(r"\d\.\d", out), f"{name} printed no result"
    # the examples print their own checks (save/load round trips, single- vs multi-step) as "...: True"
    assert not re.search(r":\s*False\b", out), f"{name} reports a failed check:\n{out}"

"""The ```python blocks of README.md and docs/*.md run as written.

Each document's blocks run in order in one namespace (a later block may use names from an earlier
one), from an empty temporary directory, with one torch thread. A block that cannot run here (long
training, CUDA only, a peer library, files the user must provide) carries an HTML comment on the line
directly before its fence::

    <!-- snippet: skip (the reason) -->

and is skipped with that reason. A block that imports an optional extra (``nir``, also through
``spikeforge.interop``) is skipped only where the extra is not installed. docs/api.md (generated) and
docs/notes/ are not checked.
"""

import ast
import importlib.util
import re
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md"] + sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "api.md")

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
MARKER = re.compile(r"^\s*<!--\s*snippet:\s*skip\s*\((?P<reason>.*)\)\s*-->\s*$")
ANY_MARKER = re.compile(r"<!--\s*snippet\b")
# imported module (prefix) -> the module of the optional extra it needs (pyproject: optional-dependencies)
EXTRAS = {"nir": "nir", "spikeforge.interop": "nir"}


class SnippetSkipped(UserWarning):
    """A block of a document whose other blocks ran was skipped (the reason is in the message)."""


@dataclass
class Block:
    index: int  # among the document's python blocks, from 0
    line: int  # 1-based line of the opening fence
    code: str  # padded with blank lines: line numbers are the Markdown file's
    skip: str | None  # the marker's reason, when marked

    @property
    def first_line(self) -> str:
        return next((s.strip() for s in self.code.splitlines() if s.strip()), "")


def _is_python(info: str) -> bool:
    return info.strip().split()[:1] == ["python"]


def fences(lines: list[str]):
    """(opening line index, closing line index, info string, indent) of every fenced block."""
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        fence = m["fence"]
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        yield i, j, m["info"], len(m["indent"])
        i = j + 1


def python_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks = []
    for start, end, info, indent in fences(lines):
        if not _is_python(info):
            continue
        body = [s[indent:] if not s[:indent].strip() else s for s in lines[start + 1 : end]]
        code = "\n" * (start + 1) + "\n".join(body) + "\n"
        m = MARKER.match(lines[start - 1]) if start > 0 else None
        blocks.append(Block(len(blocks), start + 1, code, m["reason"].strip() if m else None))
    return blocks


def marker_problems(text: str) -> list[str]:
    """Skip markers that are malformed, give no reason, or are not directly before a python fence."""
    lines = text.splitlines()
    problems = []
    for i, line in enumerate(lines):
        if not ANY_MARKER.search(line):
            continue
        m = MARKER.match(line)
        if m is None:
            problems.append(f"line {i + 1}: not of the form '<!-- snippet: skip (reason) -->': {line.strip()!r}")
        elif not m["reason"].strip():
            problems.append(f"line {i + 1}: the skip marker gives no reason")
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        fence = FENCE.match(nxt)
        if fence is None or not _is_python(fence["info"]):
            problems.append(f"line {i + 1}: a skip marker must be directly followed by a ```python fence, not {nxt!r}")
    return problems


def missing_extra(code: str) -> str | None:
    """The optional extra that ``code`` imports and that is not installed, if any."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None  # exec reports it
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            for prefix, module in EXTRAS.items():
                if (name == prefix or name.startswith(prefix + ".")) and importlib.util.find_spec(module) is None:
                    return module
    return None


def _snippet_traceback(exc: BaseException, filename: str) -> str:
    """The traceback from the snippet's frame on (the test's own frames left out)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_doc_snippets_run(path, tmp_path, monkeypatch):
    blocks = python_blocks(path.read_text(encoding="utf-8"))
    if not blocks:
        pytest.skip(f"{path.name} has no python blocks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [path.name])
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "__doc_snippet__"}
    skipped = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for block in blocks:
            where = f"{path.name} block {block.index} (line {block.line}: {block.first_line!r})"
            extra = missing_extra(block.code)
            if block.skip is not None or extra is not None:
                reason = block.skip if block.skip is not None else f"needs the optional extra {extra!r}, not installed"
                skipped.append(f"{where}: {reason}")
                continue
            error = None
            try:
                exec(compile(block.code, str(path), "exec"), namespace)
            except (Exception, SystemExit) as exc:  # any failure of the snippet is the report
                error = f"{where} raised:\n{_snippet_traceback(exc, str(path))}"
            if error is not None:  # outside the handler: no "during handling" chain in the report
                pytest.fail(error, pytrace=False)
    finally:  # a snippet may set torch's thread count; later tests keep theirs
        torch.set_num_threads(threads)
    if len(skipped) == len(blocks):
        pytest.skip("; ".join(skipped))
    for s in skipped:
        warnings.warn(f"skipped {s}", SnippetSkipped, stacklevel=1)


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_skip_markers_are_well_formed(path):
    problems = marker_problems(path.read_text(encoding="utf-8"))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_documents_are_found():
    names = {p.name for p in DOCS}
    assert {"README.md", "deep_snn.md", "local_learning.md", "interop.md"} <= names
    assert "api.md" not in names
    assert all(p.parent.name != "notes" for p in DOCS)


SAMPLE = """\
Text.

<!-- snippet: skip (needs a CUDA device) -->
```python
a = 1
```

```bash
echo no
```

- a list item:

  ```python
  b = a
  ```

<!-- snippet: skip () -->
```python
c = 3
```
<!-- snippet: skip (no fence after it) -->
Text.
<!-- snippet: skip (a bash fence) -->
```bash
echo
```
<!-- snippet:skip missing parentheses -->
```python
d = 4
```
"""


def test_block_extraction_and_markers():
    blocks = python_blocks(SAMPLE)
    assert [(b.index, b.line, b.first_line, b.skip) for b in blocks] == [
        (0, 4, "a = 1", "needs a CUDA device"),
        (1, 14, "b = a", None),
        (2, 19, "c = 3", ""),
        (3, 29, "d = 4", None),
    ]
    assert blocks[1].code.splitlines()[14] == "b = a"  # dedented, on its Markdown line (15)
    problems = marker_problems(SAMPLE)
    assert [p.split(":")[0] for p in problems] == ["line 18", "line 22", "line 24", "line 28"]
    assert "no reason" in problems[0] and "directly followed" in problems[1]


def test_missing_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nir" else real(name, *a))
    assert missing_extra("import nir, torch") == "nir"
    assert missing_extra("from spikeforge.interop import to_nir") == "nir"
    assert missing_extra("import torch\nfrom spikeforge.nn import LIF") is None

"""Generate docs/api.md, the Markdown API reference of spikeforge.

Documents every name in the ``__all__`` of each public subpackage (``src/spikeforge/*/__init__.py``)
and top-level module (``src/spikeforge/*.py``), skipping ``spikeforge.experiments`` and private
(``_``) modules: qualified name, kind, signature, the docstring's first paragraph and, for classes,
the public methods. Needs neither a GPU nor optional extras: a name whose import fails for a missing
dependency is listed under "Not documented (optional dependency missing)".

    python tools/gen_api_docs.py           # write docs/api.md
    python tools/gen_api_docs.py --check   # exit 1 if docs/api.md is out of date
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import enum
import functools
import importlib
import inspect
import re
import sys
import sysconfig
import tempfile
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "spikeforge"
OUTPUT = ROOT / "docs" / "api.md"
COMMAND = "python tools/gen_api_docs.py"
EXCLUDED = {"experiments"}
MAX_VALUE_CHARS = 300
WRAP_SIGNATURE = 100  # signatures longer than this get one parameter per line

_ADDRESS = re.compile(r"\s+at\s+0x[0-9a-fA-F]+")
_HEX = re.compile(r"0x[0-9a-fA-F]{6,}")
_ROLE = re.compile(r":(?:\w+:)?\w+:`(~?)([^`<]*?)(?:\s*<([^`>]+)>)?`")  # :class:`~a.B`, :func:`t <a.f>`
_LITERAL = re.compile(r"``(.+?)``")


# ---------------------------------------------------------------------------------------------
# discovery


def public_modules() -> list[str]:
    """``spikeforge.X`` for every public subpackage and top-level module, sorted."""
    pkg_dir = SRC / PACKAGE
    names = {p.parent.name for p in pkg_dir.glob("*/__init__.py")}
    names |= {p.stem for p in pkg_dir.glob("*.py")}
    return [f"{PACKAGE}.{n}" for n in sorted(names) if not n.startswith("_") and n not in EXCLUDED]


def source_all(module: str) -> list[str]:
    """The literal ``__all__`` of ``module``, read from its source without importing it."""
    rel = Path(*module.split("."))
    path = SRC / rel / "__init__.py" if (SRC / rel).is_dir() else SRC / rel.with_suffix(".py")
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            try:
                return sorted(ast.literal_eval(node.value))
            except ValueError:
                break
    return []


# ---------------------------------------------------------------------------------------------
# stable rendering


class _Raw(str):
    """A string that ``inspect`` prints as it is (no quotes) in signatures."""

    def __repr__(self) -> str:
        return str(self)


def _machine_paths() -> list[tuple[str, str]]:
    pairs = [(str(ROOT), "<repo>"), (sys.prefix, "<prefix>"), (sys.base_prefix, "<prefix>"),
             (sysconfig.get_paths().get("purelib", ""), "<site-packages>"),
             (tempfile.gettempdir(), "<tmp>"), (str(Path.home()), "~")]
    # longest first, so that a path inside another is replaced whole
    return sorted({(p, r) for p, r in pairs if p and p != "/"}, key=lambda pr: -len(pr[0]))


_PATHS = _machine_paths()


def sanitize(text: str) -> str:
    """Drop memory addresses and machine-specific paths from a repr."""
    text = _ADDRESS.sub("", text)
    text = _HEX.sub("0x...", text)
    for path, repl in _PATHS:
        text = text.replace(path, repl)
    return text


def stable_repr(value: Any) -> str:
    """A repr that is the same on every machine and run (sorted sets, no addresses)."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, types.ModuleType):
        return value.__name__
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
        name = getattr(value, "__qualname__", None) or value.__name__
        module = getattr(value, "__module__", None) or "builtins"
        if module == "builtins":
            return name
        if not module.startswith(PACKAGE):  # sklearn.datasets._base.load_iris -> sklearn.datasets.load_iris
            parts = module.split(".")
            private = [i for i, part in enumerate(parts) if part.startswith("_")]
            module = ".".join(parts[: private[0]] if private else parts)
        return f"{module}.{name}"
    if isinstance(value, (set, frozenset)):
        items = sorted(stable_repr(v) for v in value)
        if not items:
            return f"{type(value).__name__}()"
        body = "{" + ", ".join(items) + "}"
        return body if type(value) is set else f"{type(value).__name__}({body})"
    if type(value) in (list, tuple):
        items = [stable_repr(v) for v in value]
        if type(value) is tuple:
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "[" + ", ".join(items) + "]"
    if type(value) is dict:
        return "{" + ", ".join(f"{stable_repr(k)}: {stable_repr(v)}" for k, v in value.items()) + "}"
    return sanitize(repr(value))


def _annotation(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    return sanitize(inspect.formatannotation(annotation))


def format_signature(sig: inspect.Signature, name: str) -> str:
    """``name(params) -> ret`` with annotations as strings and stable defaults, wrapped if long."""
    params = [
        p.replace(
            annotation=p.empty if p.annotation is p.empty else _Raw(_annotation(p.annotation)),
            default=p.empty if p.default is p.empty else _Raw(stable_repr(p.default)),
        )
        for p in sig.parameters.values()
    ]
    ret = sig.return_annotation
    sig = sig.replace(parameters=params,
                      return_annotation=sig.empty if ret is sig.empty else _Raw(_annotation(ret)))
    text = f"{name}{sig}"
    if len(text) <= WRAP_SIGNATURE or not params:
        return text
    # one parameter per line: reuse inspect's rendering of the markers "/" and "*"
    inner = str(sig.replace(return_annotation=sig.empty))[1:-1]
    parts = _split_top_level(inner)
    tail = "" if sig.return_annotation is sig.empty else f" -> {sig.return_annotation}"
    return f"{name}(\n" + "".join(f"    {p},\n" for p in parts) + f"){tail}"


def _split_top_level(text: str) -> list[str]:
    """Split ``text`` at commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def first_paragraph(doc: str | None) -> str:
    """The first paragraph of a docstring, on one line."""
    if not doc:
        return ""
    paragraph = inspect.cleandoc(doc).strip().split("\n\n", 1)[0]
    return sanitize(rst_to_markdown(" ".join(line.strip() for line in paragraph.splitlines())))


def rst_to_markdown(text: str) -> str:
    """Sphinx roles and ````literals```` as Markdown code spans."""

    def role(m: re.Match) -> str:
        title, target = m.group(2).strip(), m.group(3)
        if target and title:
            return f"`{title}`"
        target = target or title
        return f"`{target.rsplit('.', 1)[-1] if m.group(1) else target}`"

    return _LITERAL.sub(r"`\1`", _ROLE.sub(role, text))


def own_doc(obj: Any) -> str | None:
    """``obj``'s own docstring: not inherited, and not a dataclass's generated signature."""
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__")
        if dataclasses.is_dataclass(obj) and doc and doc.startswith(obj.__name__ + "("):
            return None
        return doc
    return getattr(obj, "__doc__", None)


# ---------------------------------------------------------------------------------------------
# one symbol


def kind_of(obj: Any) -> str:
    if inspect.isclass(obj):
        return "class"
    if inspect.ismodule(obj):
        return "module"
    if callable(obj) and (inspect.isroutine(obj) or hasattr(obj, "py_func") or hasattr(obj, "__wrapped__")):
        return "function"
    return "constant"


def signature_of(obj: Any, name: str) -> str:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"
    if inspect.isclass(obj):  # the constructor: `-> None` says nothing
        sig = sig.replace(return_annotation=sig.empty)
    return format_signature(sig, name)


def constant_source(module: str, name: str) -> tuple[str, str] | None:
    """``(defining module, its #: comment)`` of the top-level assignment of ``name``, searched in
    ``module``'s files first, then in the whole package."""
    rel = Path(*module.split("."))
    here = sorted((SRC / rel).rglob("*.py")) if (SRC / rel).is_dir() else [SRC / rel.with_suffix(".py")]
    for path in here + sorted((SRC / PACKAGE).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if name not in text:
            continue
        lines = text.splitlines()
        for node in ast.parse(text).body:
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            if any(getattr(t, "id", None) == name for t in targets):
                comment = []
                i = node.lineno - 2
                while i >= 0 and lines[i].lstrip().startswith("#:"):
                    comment.insert(0, lines[i].lstrip()[2:].strip())
                    i -= 1
                parts = path.relative_to(SRC).with_suffix("").parts
                where = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
                return where, " ".join(comment)
    return None


def _methods(cls: type) -> list[tuple[str, str, str]]:
    """``(name, signature or "property", summary)`` of the public methods and properties that
    ``cls`` or its spikeforge bases define, sorted by name."""
    found: dict[str, Any] = {}
    for base in cls.__mro__:
        if not getattr(base, "__module__", "").startswith(PACKAGE):
            continue
        for attr, raw in vars(base).items():
            if not attr.startswith("_") and attr not in found:
                found[attr] = raw
    out = []
    for attr in sorted(found):
        raw = found[attr]
        if isinstance(raw, (property, functools.cached_property)):
            out.append((attr, f"{attr} (property)", first_paragraph(raw.__doc__)))
            continue
        if isinstance(raw, (staticmethod, classmethod)):
            func, bound = raw.__func__, isinstance(raw, classmethod)
        elif inspect.isfunction(raw):
            func, bound = raw, True
        else:
            continue  # class attributes, nested classes, enum members
        try:
            sig = inspect.signature(func)
            if bound and sig.parameters:
                sig = sig.replace(parameters=list(sig.parameters.values())[1:])
            text = format_signature(sig, attr)
            if "\n" in text:  # keep method lines short: no annotations
                text = format_signature(
                    sig.replace(parameters=[p.replace(annotation=p.empty) for p in sig.parameters.values()],
                                return_annotation=sig.empty), attr).replace("\n    ", " ").replace(",\n)", ")")
        except (TypeError, ValueError):
            text = f"{attr}(...)"
        out.append((attr, text, first_paragraph(func.__doc__ or _inherited_doc(cls, attr))))
    return out


def _inherited_doc(cls: type, attr: str) -> str | None:
    """The docstring of ``attr`` in the nearest spikeforge base that documents it (an override
    without a docstring keeps its base's meaning)."""
    for base in cls.__mro__[1:]:
        if getattr(base, "__module__", "").startswith(PACKAGE) and attr in vars(base):
            raw = vars(base)[attr]
            doc = getattr(getattr(raw, "__func__", raw), "__doc__", None)
            if doc:
                return doc
    return None


def document(package: str, name: str, obj: Any) -> list[str]:
    kind = kind_of(obj)
    lines = [f"### `{package}.{name}`", ""]
    where, comment = getattr(obj, "__module__", None), ""
    if kind == "constant":
        where, comment = constant_source(package, name) or (None, "")
    elif kind == "module":
        where = None
    meta = f"*{kind}*"
    if hasattr(obj, "py_func"):
        meta += " (numba-compiled)"
    if where and where != package:
        meta += f" · defined in `{where}`"
    if kind == "class" and issubclass(obj, BaseException):  # what to catch (or filter)
        meta += " · subclass of " + ", ".join(f"`{stable_repr(b)}`" for b in obj.__bases__)
    lines += [meta, ""]
    if kind in ("class", "function"):
        lines += ["```python", signature_of(obj, name), "```", ""]
    elif kind == "constant":
        value = stable_repr(obj)
        if len(value) > MAX_VALUE_CHARS:
            value = value[:MAX_VALUE_CHARS] + " ..."
        # numpy >= 1.25 names a dtype's class after its kind (VoidDType); say numpy.dtype everywhere
        type_name = "numpy.dtype" if type(obj).__module__ == "numpy.dtypes" else type(obj).__name__
        lines += [f"`{type_name}` = `{value}`" if "`" not in value else f"`{type_name}`", ""]
    summary = first_paragraph(comment if kind == "constant" else own_doc(obj))
    if summary:
        lines += [summary, ""]
    if kind == "class":
        methods = _methods(obj)
        if methods:
            lines += ["Methods:", ""]
            for _, text, doc in methods:
                lines.append(f"- `{text}`" + (f" — {doc}" if doc else ""))
            lines.append("")
    return lines


# ---------------------------------------------------------------------------------------------
# the page


def _slug(heading: str, seen: dict[str, int]) -> str:
    """GitHub's anchor for a heading (lower case, punctuation dropped, duplicates numbered)."""
    base = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
    n = seen.get(base, 0)
    seen[base] = n + 1
    return base if n == 0 else f"{base}-{n}"


def collect() -> tuple[dict[str, list[tuple[str, Any]]], dict[str, str], dict[str, str]]:
    """``({module: [(name, object)]}, {module: first paragraph}, {qualified name: why missing})``."""
    documented: dict[str, list[tuple[str, Any]]] = {}
    summaries: dict[str, str] = {}
    missing: dict[str, str] = {}
    for module in public_modules():
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:  # an eagerly imported optional dependency
            for name in source_all(module):
                missing[f"{module}.{name}"] = _why(exc)
            continue
        summaries[module] = first_paragraph(mod.__doc__)
        names = getattr(mod, "__all__", None)
        if names is None:
            continue
        entries = []
        for name in sorted(names):
            try:
                entries.append((name, getattr(mod, name)))
            except ImportError as exc:  # a lazily imported submodule needs an optional dependency
                missing[f"{module}.{name}"] = _why(exc)
        documented[module] = entries
    return documented, summaries, missing


def _why(exc: ImportError) -> str:
    name = getattr(exc, "name", None)
    return f"needs `{name.split('.')[0]}`" if name else sanitize(str(exc).splitlines()[0])


def generate() -> str:
    """The text of docs/api.md."""
    documented, summaries, missing = collect()
    seen: dict[str, int] = {}
    total = sum(len(v) for v in documented.values())
    head = [
        f"<!-- Generated by tools/gen_api_docs.py; do not edit. Refresh with `{COMMAND}`. -->",
        "",
        "# spikeforge API reference",
        "",
        f"The public names ({total}) in the `__all__` of each public subpackage and module, sorted "
        "within a package: kind, signature, the docstring's first paragraph and, for classes, the "
        "public methods. Longer explanations live in the other documents of `docs/`.",
        "",
        "## Contents",
        "",
    ]
    body: list[str] = []
    for module, entries in documented.items():
        heading = f"`{module}`"
        anchor = _slug(heading, seen)
        head.append(f"- [{module}](#{anchor}) ({len(entries)})" +
                    (f" — {summaries[module]}" if summaries.get(module) else ""))
        body += [f"## {heading}", ""]
        if summaries.get(module):
            body += [summaries[module], ""]
        links = []
        item_lines: list[str] = []
        for name, obj in entries:
            lines = document(module, name, obj)
            links.append(f"[{name}](#{_slug(lines[0][4:], seen)})")
            item_lines += lines
        if links:
            body += [" · ".join(links), ""]
        body += item_lines
    if missing:
        anchor = _slug("Not documented (optional dependency missing)", seen)
        head.append(f"- [Not documented (optional dependency missing)](#{anchor}) ({len(missing)})")
        body += ["## Not documented (optional dependency missing)", ""]
        body += [f"- `{q}`: {why}" for q, why in sorted(missing.items())]
        body.append("")
    text = "\n".join(head + [""] + body).rstrip("\n") + "\n"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/api.md differs from what would be generated")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else None
        if current != text:
            print(f"docs/api.md is out of date; regenerate it with `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(SRC))  # a checkout without `pip install -e .`
    raise SystemExit(main())

"""Lazy package exports (PEP 562), so that importing one part of spikeforge does not import
every other part (torch in particular: the local-learning engine needs only numpy/numba)."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

_ALL = re.compile(r"^__all__\s*=\s*(\[.*?\]|\(.*?\))", re.M | re.S)


def module_all(package: str, module: str) -> tuple[str, ...]:
    """The ``__all__`` list of ``package``'s submodule ``module`` (``".lif"``), read from its
    source without importing it."""
    path = Path(sys.modules[package].__path__[0]) / (module.lstrip(".") + ".py")
    m = _ALL.search(path.read_text(encoding="utf-8"))
    if m is None:
        raise ValueError(f"{path} has no literal __all__")
    return tuple(ast.literal_eval(m.group(1)))


def lazy_exports(package: str, exports: dict[str, Sequence[str]] | Sequence[str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package`` whose public names live in
    submodules. ``exports`` maps a relative module (``".lif"``) to the names it provides, or is
    a list of relative modules whose own ``__all__`` is exported (:func:`module_all`). A name's
    submodule is imported on first access and the value cached in the package."""
    if not isinstance(exports, dict):
        exports = {mod: module_all(package, mod) for mod in exports}
    where = {name: mod for mod, names in exports.items() for name in names}
    if len(where) != sum(len(n) for n in exports.values()):
        raise ValueError(f"{package}: a name is exported by two submodules")

    def __getattr__(name: str) -> Any:
        mod = where.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(mod, package), name)
        setattr(import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(import_module(package))) | set(where))

    return __getattr__, __dir__, sorted(where)

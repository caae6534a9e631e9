"""numba's on-disk cache, made aware of spikeforge's cross-module inlining.

numba keys a cached function on the source file that defines it. spikeforge's compiled kernels
inline primitives from other modules (the STDP pairing formulas of ``plasticity/trace_stdp.py``
inside ``sim/_kernel.py``, for example), so editing a primitive left every kernel that inlines it
cached with the old code: a silent stale result until the kernel's own file changed. Importing
this module (each spikeforge module that compiles with ``cache=True`` does, before its
decorators run) puts a locator in front of numba's own ones for functions defined in the
spikeforge package. It caches where numba would (the same folders) but stamps each entry with
the contents of *every* spikeforge source file that uses numba, so an edit to any of them
recompiles the kernels on next use. Functions outside the package are left to numba.

If numba's private cache API changes (it is not public), nothing is installed and numba's
default behaviour applies.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_installed = False


@functools.lru_cache(maxsize=1)
def _numba_sources() -> tuple[Path, ...]:
    """The spikeforge source files that compile with numba (their contents stamp every cached kernel)."""
    out = []
    for path in sorted(_PACKAGE.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        if "njit" in text or "numba.jit" in text:
            out.append(path)
    return tuple(out)


@functools.cache
def _file_digest(path: str, mtime_ns: int, size: int) -> bytes:
    """SHA-256 of a file's contents (memoised on its modification time and size, as numba does)."""
    import hashlib

    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).digest()


def package_stamp() -> bytes:
    """SHA-256 over the contents of the spikeforge sources that compile with numba (re-read when one
    changes: the digests are memoised on modification time and size)."""
    import hashlib

    h = hashlib.sha256()
    for path in _numba_sources():
        st = os.stat(path)
        h.update(str(path.relative_to(_PACKAGE)).encode())
        h.update(_file_digest(str(path), st.st_mtime_ns, st.st_size))
    return h.digest()


def _in_package(py_file: str) -> bool:
    try:
        return Path(py_file).resolve().is_relative_to(_PACKAGE)
    except (OSError, ValueError):
        return False


def install() -> bool:
    """Put the package-aware locators in front of numba's (idempotent). True if installed."""
    global _installed
    if _installed:
        return True
    try:
        from numba.core import caching

        def find(name: str) -> type:  # numba < 0.62 spells these with a leading underscore
            return getattr(caching, name, None) or getattr(caching, "_" + name)

        impl = find("CacheImpl")
        bases = [find("UserProvidedCacheLocator"), find("InTreeCacheLocator"), find("UserWideCacheLocator")]
        impl._locator_classes  # noqa: B018  (the list we extend must exist)
    except (ImportError, AttributeError):  # numba's private API moved: keep its default behaviour
        return False

    def package_aware(base: type) -> type:
        class Locator(base):
            @classmethod
            def from_function(cls, py_func, py_file):
                if not _in_package(py_file):
                    return None
                return super().from_function(py_func, py_file)

            def get_source_stamp(self):
                own = super().get_source_stamp()
                try:
                    return (own, package_stamp())
                except OSError:  # a source file vanished mid-run: numba's own stamp is still valid
                    return own

        Locator.__name__ = Locator.__qualname__ = f"Spikeforge{base.__name__}"
        return Locator

    impl._locator_classes = [*(package_aware(b) for b in bases), *impl._locator_classes]
    _installed = True
    return True


install()

"""numba's disk cache sees spikeforge's cross-module inlining (a kernel inlines primitives of other files)."""

import os

import pytest

numba = pytest.importorskip("numba")


def test_spikeforge_kernels_use_the_package_aware_locator():
    from spikeforge import _numba_cache
    from spikeforge.plasticity import trace_stdp
    from spikeforge.sim import _kernel

    if not _numba_cache.install():
        pytest.skip(f"numba {numba.__version__}: its private cache API differs; numba's default applies")
    for fn in (trace_stdp.stdp_post_update, _kernel._present):
        locator = fn._cache._impl._locator
        assert type(locator).__name__.startswith("Spikeforge"), type(locator)
        stamp = locator.get_source_stamp()
        assert stamp[1] == _numba_cache.package_stamp()  # the package's numba sources are in the stamp


def test_user_functions_keep_numbas_own_locator(tmp_path, monkeypatch):
    from spikeforge import _numba_cache  # noqa: F401

    mod = tmp_path / "user_mod_for_cache_test.py"
    mod.write_text("from numba import njit\n\n@njit(cache=True)\ndef f(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import user_mod_for_cache_test as m

    assert m.f(1) == 2
    assert not type(m.f._cache._impl._locator).__name__.startswith("Spikeforge")


def test_the_stamp_changes_when_any_numba_source_of_the_package_changes(tmp_path, monkeypatch):
    # the bug: editing a primitive in trace_stdp.py left sim/_kernel.py's cached kernel (which inlines it) stale
    from spikeforge import _numba_cache

    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("from numba import njit\nX = 1\n")
    b.write_text("from numba import njit\nY = 2\n")
    monkeypatch.setattr(_numba_cache, "_PACKAGE", tmp_path)
    monkeypatch.setattr(_numba_cache, "_numba_sources", lambda: (a, b))
    before = _numba_cache.package_stamp()
    assert _numba_cache.package_stamp() == before  # stable while nothing changes
    b.write_text("from numba import njit\nY = 3\n")  # the other file (the "primitive") changes
    st = os.stat(b)
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert _numba_cache.package_stamp() != before


def test_the_stamp_does_not_use_numbas_private_hash(monkeypatch):
    # review bug: numba 0.62-0.67 have no caching._hash_source_file; spikeforge failed on import there
    from numba.core import caching

    from spikeforge import _numba_cache

    monkeypatch.delattr(caching, "_hash_source_file", raising=False)
    assert isinstance(_numba_cache.package_stamp(), bytes)
    assert all("njit" in p.read_text() or "numba.jit" in p.read_text() for p in _numba_cache._numba_sources())

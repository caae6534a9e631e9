"""Package exports are lazy: the compiled engine and the local-learning models never import torch."""

import subprocess
import sys

import pytest

from spikeforge._lazy import lazy_exports


def test_engine_and_local_models_do_not_import_torch():
    code = ("import sys; from spikeforge.models import STDPAllLTDClassifier, DiehlCook2015, CorrelationClassifier; "
            "import spikeforge.sim; from spikeforge.plasticity import TraceSTDP; "
            "from spikeforge.encoding import poisson_spike_steps; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lazy_exports_resolve_cache_and_reject():
    import spikeforge.models as models

    assert "STDPAllLTDClassifier" in models.__all__ and "STDPAllLTDClassifier" in dir(models)
    cls = models.STDPAllLTDClassifier
    assert vars(models)["STDPAllLTDClassifier"] is cls  # cached after the first access
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        models.Nope  # noqa: B018
    with pytest.raises(ValueError, match="two submodules"):
        lazy_exports("spikeforge.models", {".a": ("X",), ".b": ("X",)})


@pytest.mark.parametrize("package", ["spikeforge.plasticity", "spikeforge.encoding", "spikeforge.models"])
def test_every_lazy_export_resolves_to_its_submodules_object(package):
    import importlib

    pkg = importlib.import_module(package)
    assert pkg.__all__ and len(set(pkg.__all__)) == len(pkg.__all__)
    for name in pkg.__all__:
        value = getattr(pkg, name)
        assert value is not None
        owner = getattr(value, "__module__", None)
        if owner and owner.startswith(package + "."):
            assert getattr(importlib.import_module(owner), name) is value


def test_module_all_reads_the_literal_list_without_importing():
    from spikeforge._lazy import module_all

    names = module_all("spikeforge.plasticity", ".memristive")
    assert "TANH_CUTOFF" in names and "MemristiveTanh" in names
    with pytest.raises(FileNotFoundError):
        module_all("spikeforge.plasticity", ".no_such_module")

"""The csnn reproduction's row cache is reused only for the same task and the same code."""

import json

from spikeforge.experiments import csnn


def test_cache_is_keyed_on_task_and_code(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(csnn, "_compute", lambda net, seed, quick: calls.append(net) or {"network": net, "seed": seed,
                                                                                        "accuracy": 0.5})
    row = csnn._task(("cnn2", 0, True, str(tmp_path)))
    assert calls == ["cnn2"] and row["cached"] is False
    assert csnn._task(("cnn2", 0, True, str(tmp_path)))["cached"] is True and calls == ["cnn2"]
    # a planted row without the fingerprint (older versions, or edited by hand) is not trusted
    cache = tmp_path / "cnn2_seed0_quick.json"
    cache.write_text(json.dumps({"network": "cnn2", "seed": 0, "accuracy": 0.123}))
    assert csnn._task(("cnn2", 0, True, str(tmp_path)))["accuracy"] == 0.5 and calls == ["cnn2", "cnn2"]
    # a change in the code the row depends on changes the fingerprint
    before = csnn._fingerprint("cnn2", 0, True)
    monkeypatch.setattr(csnn, "_DEPENDS", {**csnn._DEPENDS, "cnn2": ("models/convmatrix.py",)})
    assert csnn._fingerprint("cnn2", 0, True) != before


def test_fingerprint_follows_the_arm_parameters_not_its_label(monkeypatch):
    params, label = csnn.CSNN_ARMS["csnn-drained"]
    before = csnn._fingerprint("csnn-drained", 0, True)
    monkeypatch.setitem(csnn.CSNN_ARMS, "csnn-drained", (params, label + " (renamed)"))
    assert csnn._fingerprint("csnn-drained", 0, True) == before  # a report label is not part of the result
    monkeypatch.setitem(csnn.CSNN_ARMS, "csnn-drained", ({**params, "target_rate": 0.03}, label))
    assert csnn._fingerprint("csnn-drained", 0, True) != before

"""Continual-learning strategies on a tiny model independent of the MNIST network, and on a
small MozafariClassifier (the compiled path must honour the same constraints)."""

import copy

import numpy as np
import pytest
import torch
from scipy.stats.mstats import mquantiles

from spikeforge.continual import (
    Compose,
    FreezeLargest,
    InhibitionRadius,
    LangevinRanges,
    NoProtection,
    PlasticModel,
    Task,
    run_stream,
    split_mnist,
    weight_quantiles,
)
from spikeforge.models import MozafariClassifier
from spikeforge.plasticity import WeightConstraint, constrained_update


def test_models_follow_the_protocol(make_toy):
    assert isinstance(make_toy(4, 2), PlasticModel)
    assert isinstance(MozafariClassifier(), PlasticModel)
    assert not isinstance(object(), PlasticModel)


def test_constrained_update_reference_semantics():
    w = torch.tensor([0.5, 0.5, 0.5, 0.95])
    d = torch.tensor([0.2, -0.2, 0.2, 0.2])
    c = WeightConstraint(plastic=torch.tensor([1.0, 1.0, 0.0, 1.0]), lower=torch.tensor([0.4, 0.4, 0.0, 0.0]),
                         upper=torch.tensor([0.6, 1.0, 1.0, 1.0]))  # fmt: skip
    out = constrained_update(w, d, c, w_min=0.0, w_max=1.0)
    assert out.tolist() == pytest.approx([0.6, 0.4, 0.5, 1.0])  # upper, lower, frozen, rule bound
    # noise: reproducible from the generator, respects the bounds, skips frozen synapses
    cn = WeightConstraint(plastic=torch.tensor([1.0, 0.0, 1.0, 1.0]), noise_std=0.5,
                          generator=np.random.default_rng(0), lower=0.3, upper=0.7)  # fmt: skip
    a = constrained_update(w, torch.zeros(4), cn, w_min=0.0, w_max=1.0)
    cn.generator = np.random.default_rng(0)
    b = constrained_update(w, torch.zeros(4), cn, w_min=0.0, w_max=1.0)
    assert torch.equal(a, b) and a[1] == 0.5 and bool(((a >= 0.3) & (a <= 0.7)).all())
    with pytest.raises(ValueError, match="generator"):
        WeightConstraint(noise_std=0.1)
    with pytest.raises(ValueError, match="exceed"):
        WeightConstraint(lower=torch.tensor([0.5]), upper=torch.tensor([0.4]))


def test_weight_quantiles_match_scipy_mquantiles():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 100):
        snaps = rng.normal(size=(n, 3, 4))
        q = weight_quantiles(snaps, (0.1, 0.25, 0.75, 0.9))
        for i in range(3):
            for j in range(4):
                assert np.allclose(q[:, i, j], mquantiles(snaps[:, i, j], prob=(0.1, 0.25, 0.75, 0.9)))


def test_freezing_keeps_frozen_weights_bit_identical_through_training(make_toy, toy_tasks):
    tasks = toy_tasks(0)
    model = make_toy(30, 3, seed=1)
    run_stream(model, tasks[:1], epochs=3)
    before = model.w.clone()
    strategy = FreezeLargest(0.2, layers=("w",))
    model.record = True
    res = run_stream(model, tasks, strategy, epochs=[1, 4], first_task=1)
    mask = strategy.frozen_["w"]
    assert int(mask.sum()) == round(0.2 * mask.numel())
    assert before[mask].min() >= before[~mask].max()  # the largest ones were frozen
    assert len(model.history) == 4 * len(tasks[1].y_train)
    for w in model.history:  # after every single update
        assert torch.equal(w[mask], before[mask])
    assert (model.w[~mask] != before[~mask]).float().mean() > 0.5  # the rest did learn
    assert res.curves[1].shape == (4, 2) and np.isnan(res.accuracy[0]).all()


def test_freeze_ties_are_broken_by_index_and_sets_accumulate(make_toy, toy_tasks):
    model = make_toy(5, 1, per_class=1)
    model.w.copy_(torch.tensor([[0.9, 0.9, 0.9, 0.1, 0.2]]))
    tasks = [toy_tasks(0, n_inputs=5)[0]] * 3
    s = FreezeLargest(0.4, layers=("w",))
    s.after_task(model, 0, tasks)
    assert s.frozen_["w"].tolist() == [[True, True, False, False, False]]
    model.w.copy_(torch.tensor([[0.0, 0.0, 0.0, 0.8, 0.7]]))
    s.after_task(model, 1, tasks)
    assert s.frozen_["w"].tolist() == [[True, True, False, True, True]]
    s.after_task(model, 2, tasks)  # last task: nothing to protect any more
    assert int(s.frozen_["w"].sum()) == 4


def test_langevin_bounds_are_respected_after_every_update(make_toy, toy_tasks):
    tasks = toy_tasks(1)
    model = make_toy(30, 3, seed=2, rate=0.02)
    run_stream(model, tasks[:1], epochs=3)
    strategy = LangevinRanges((0.25, 0.75), noise_std=0.01, epochs=2, snapshot_every=10, layers=("w",), random_state=0)
    snaps = strategy.research(copy.deepcopy(model), tasks[0])["w"]
    assert snaps.shape == (2 * 12, *model.w.shape)
    assert np.std(snaps, axis=0).mean() > 0  # the noise moves the weights
    model.record = True
    run_stream(model, tasks, strategy, epochs=[1, 3], first_task=1)
    lo, hi = strategy.bounds_["w"]
    assert (lo <= hi).all() and (hi - lo).mean() > 0 and strategy.n_snapshots_ == 24
    n_research = 2 * len(tasks[0].y_train)
    task2 = model.history[n_research:]
    assert len(task2) == 3 * len(tasks[1].y_train)
    for w in task2:
        assert bool(((w >= lo.to(w.dtype)) & (w <= hi.to(w.dtype))).all())
    # wider quantiles give wider ranges from the same trajectory
    d = weight_quantiles(snaps, (0.1, 0.9))
    q = weight_quantiles(snaps, (0.25, 0.75))
    assert ((d[1] - d[0]) >= (q[1] - q[0]) - 1e-12).all()


def test_inhibition_radius_and_compose(make_toy):
    m = MozafariClassifier()
    s = Compose(InhibitionRadius((5, 2)), NoProtection())
    s.prepare(m)
    assert m.inhibition_radii == (5, 2) and s.name == "radius-5-2+none"
    with pytest.raises(TypeError):
        InhibitionRadius((1, 1)).prepare(make_toy(3, 2))
    with pytest.raises(ValueError):
        InhibitionRadius((-1, 0))


def _tiny_mnist_tasks():
    tasks = split_mnist(n_train=1000, n_test=200, seed=0)
    return [Task(t.name, t.X_train[:60], t.y_train[:60], t.X_test[:40], t.y_test[:40]) for t in tasks]


def _tiny_model():
    return MozafariClassifier(conv1_features=6, conv2_features=12, features_per_class=3, conv1_epochs=1,
                              conv2_epochs=1, random_state=0)  # fmt: skip


def test_mozafari_honours_freeze_and_langevin_constraints():
    tasks = _tiny_mnist_tasks()
    base = _tiny_model()
    run_stream(base, tasks[:1], epochs=2)
    # freezing: conv3 entries bit-identical after Task 2 (conv1/conv2 retrain freely)
    m = copy.deepcopy(base)
    w3 = m.plastic_weights()["conv3"].clone()
    w1 = m.plastic_weights()["conv1"].clone()
    s = FreezeLargest(0.3)
    run_stream(m, tasks, s, epochs=[1, 3], first_task=1)
    mask = s.frozen_["conv3"]
    after = m.plastic_weights()["conv3"]
    assert torch.equal(after[mask], w3[mask])
    assert not torch.equal(after[~mask], w3[~mask])
    assert not torch.equal(m.plastic_weights()["conv1"], w1)
    # Langevin: per-weight bounds hold after Task 2; the research phase used the noise
    m = copy.deepcopy(base)
    s = LangevinRanges((0.1, 0.9), epochs=1, snapshot_every=20, fit_kwargs={"adapt_rates": False}, random_state=0)
    snaps = s.research(copy.deepcopy(m), tasks[0])["conv3"]
    assert snaps.shape[0] == 3 and np.ptp(snaps, axis=0).max() > 0
    run_stream(m, tasks, s, epochs=[1, 2], first_task=1)
    lo, hi = s.bounds_["conv3"]
    w = m.plastic_weights()["conv3"]
    assert bool(((w >= lo) & (w <= hi)).all())
    assert bool((lo >= 0.2).all() and (hi <= 0.8).all())


def test_mozafari_composed_freeze_and_langevin():
    """Regression (MozafariClassifier): Compose(FreezeLargest, LangevinRanges) installs the
    freeze mask and the ranges together on conv3; frozen weights stay bit-identical."""
    tasks = _tiny_mnist_tasks()
    m = _tiny_model()
    run_stream(m, tasks[:1], epochs=2)
    w3 = m.plastic_weights()["conv3"].clone()
    freeze = FreezeLargest(0.3)
    langevin = LangevinRanges((0.1, 0.9), epochs=1, snapshot_every=20, fit_kwargs={"adapt_rates": False},
                              random_state=0)  # fmt: skip
    run_stream(m, tasks, Compose(freeze, langevin), epochs=[1, 2], first_task=1)
    mask = freeze.frozen_["conv3"]
    c = m.constraints()["conv3"]
    assert torch.equal(torch.as_tensor(c.plastic) == 0, mask)
    assert c.lower is not None and c.upper is not None and c.noise_std == 0
    w = m.plastic_weights()["conv3"]
    assert torch.equal(w[mask], w3[mask])
    lo, hi = langevin.bounds_["conv3"]
    assert bool(((w[~mask] >= lo[~mask]) & (w[~mask] <= hi[~mask])).all())
    assert not torch.equal(w[~mask], w3[~mask])


def test_mozafari_noise_constraint_needs_conv3():
    m = _tiny_model()
    tasks = _tiny_mnist_tasks()
    m.partial_fit(tasks[0].X_train, tasks[0].y_train)
    with pytest.raises(ValueError, match="conv3"):
        m.set_constraints({"conv1": WeightConstraint(noise_std=0.1, generator=np.random.default_rng(0))})
    with pytest.raises(KeyError):
        m.set_constraints({"fc": WeightConstraint()})
    with pytest.raises(ValueError, match="shape"):
        m.set_constraints({"conv3": WeightConstraint(plastic=torch.ones(3))})


@pytest.mark.parametrize("freeze_first", [True, False])
def test_compose_intersects_the_constraints_of_its_strategies(make_toy, toy_tasks, freeze_first):
    """Regression: in ``Compose(FreezeLargest, LangevinRanges)`` (either order) the Langevin
    strategy's constraints (noise during research, bounds afterwards) used to replace the
    freeze mask, so "frozen" weights moved. The model must get the intersection."""
    tasks = toy_tasks(3)
    model = make_toy(30, 3, seed=4, rate=0.02)
    run_stream(model, tasks[:1], epochs=3)
    before = model.w.clone()
    freeze = FreezeLargest(0.25, layers=("w",))
    langevin = LangevinRanges((0.1, 0.9), noise_std=0.01, epochs=2, snapshot_every=10, layers=("w",), random_state=0)
    strategy = Compose(freeze, langevin) if freeze_first else Compose(langevin, freeze)
    model.record = True
    run_stream(model, tasks, strategy, epochs=[1, 3], first_task=1)
    mask = freeze.frozen_["w"]
    assert int(mask.sum()) == round(0.25 * mask.numel())
    n_research = 2 * len(tasks[0].y_train)
    assert len(model.history) == n_research + 3 * len(tasks[1].y_train)
    if freeze_first:  # frozen before the research phase: bit-identical from then on
        for w in model.history:
            assert torch.equal(w[mask], before[mask])
    after_research = model.history[n_research - 1]
    lo, hi = langevin.bounds_["w"]
    lo, hi = lo.to(model.w.dtype), hi.to(model.w.dtype)
    c = model.installed["w"]
    assert c.plastic is not None and c.lower is not None and c.upper is not None and c.noise_std == 0
    frozen_w = model.history[n_research] if not freeze_first else before
    for w in model.history[n_research:]:  # Task 2: frozen fixed, the rest within the ranges
        assert torch.equal(w[mask], frozen_w[mask])
        assert bool(((w[~mask] >= lo[~mask]) & (w[~mask] <= hi[~mask])).all())
    assert (model.w[~mask] != after_research[~mask]).any()  # the plastic ones did learn


def test_compose_keeps_constraints_installed_before_the_stream(make_toy, toy_tasks):
    """Constraints the model already holds (read with its ``constraints()`` getter, when it
    has one) stay in force under a Compose, intersected with the strategies' ones."""

    class WithGetter(make_toy):
        def constraints(self):
            return dict(self.installed)

    tasks = toy_tasks(3)
    model = WithGetter(30, 3, seed=4, rate=0.02)
    run_stream(model, tasks[:1], epochs=2)
    first_row = torch.zeros_like(model.w, dtype=torch.bool)
    first_row[0] = True
    model.set_constraints({"w": WeightConstraint(plastic=(~first_row).float())})
    before = model.w.clone()
    freeze = FreezeLargest(0.2, layers=("w",))
    s = Compose(freeze, LangevinRanges(epochs=1, snapshot_every=30, noise_std=0.01, layers=("w",), random_state=0))
    model.record = True
    run_stream(model, tasks, s, epochs=[1, 2], first_task=1)
    assert model.history and all(torch.equal(w[0], before[0]) for w in model.history)
    assert (model.w[1:] != before[1:]).any()
    c = model.constraints()["w"]
    assert torch.equal(c.plastic == 0, first_row | freeze.frozen_["w"])
    # a second Compose on the same model starts from what is installed now
    s.prepare(model)
    assert torch.equal(s.installed_["w"].plastic, c.plastic)


def test_freeze_largest_forgets_the_previous_stream_in_prepare(make_toy, toy_tasks):
    """Regression: a FreezeLargest reused for a second stream carried the first stream's
    frozen set into it (``frozen_`` was never reset)."""
    tasks = toy_tasks(0)
    reused = FreezeLargest(0.25, layers=("w",))
    run_stream(make_toy(30, 3, seed=0), tasks, reused, epochs=1)
    first = reused.frozen_["w"].clone()
    fresh = FreezeLargest(0.25, layers=("w",))
    run_stream(make_toy(30, 3, seed=1), tasks, fresh, epochs=1)
    run_stream(make_toy(30, 3, seed=1), tasks, reused, epochs=1)
    assert not torch.equal(first, fresh.frozen_["w"])
    assert torch.equal(reused.frozen_["w"], fresh.frozen_["w"])
    assert int(reused.frozen_["w"].sum()) == round(0.25 * first.numel())


def test_freeze_largest_freezes_the_fraction_among_still_plastic_weights(make_toy, toy_tasks):
    """After a later task the ``fraction`` newly frozen weights are the largest of those
    still plastic (frozen weights stay large, so ranking them again froze fewer new ones)."""
    model = make_toy(5, 1, per_class=1)
    tasks = [toy_tasks(0, n_inputs=5)[0]] * 3
    s = FreezeLargest(0.4, layers=("w",))
    model.w.copy_(torch.tensor([[0.9, 0.8, 0.1, 0.3, 0.2]]))
    s.after_task(model, 0, tasks)
    assert s.frozen_["w"].tolist() == [[True, True, False, False, False]]
    model.w.copy_(torch.tensor([[0.9, 0.8, 0.1, 0.4, 0.2]]))  # frozen ones unchanged, still largest
    s.after_task(model, 1, tasks)
    assert s.frozen_["w"].tolist() == [[True, True, False, True, True]]

"""Train on Iris with both plasticity rules and save the learned weight maps and a raster.

    python examples/weight_maps.py  ->  iris_weights_stdp.png, iris_weights_memristive.png, iris_raster.png
"""

import numpy as np
from sklearn.datasets import load_iris

from spikeforge.encoding import allocate_reference_spikes
from spikeforge.models import CorrelationClassifier
from spikeforge.viz import plot_raster, plot_weight_maps

X, y = load_iris(return_X_y=True)
names = load_iris().target_names
for rule in ("stdp", "memristive"):
    clf = CorrelationClassifier.from_preset("iris", plasticity=rule, random_state=0).fit(X, y)
    plot_weight_maps(clf.weight_map(), class_names=list(names), feature_names=load_iris().feature_names,
                     title=f"Iris, {rule}", path=f"iris_weights_{rule}.png")
    print(rule, "training accuracy", clf.score(X, y))

# the input spike trains of one sample: which reference spikes each GRF input received
ref = clf.reference_train_
owners = allocate_reference_spikes(clf.encode(X[:1]), ref, np.random.default_rng(0))[0]
raster = np.zeros((ref.n_steps, clf.weights_.shape[0]), dtype=bool)
raster[ref.steps[owners >= 0], owners[owners >= 0]] = True
plot_raster(raster, dt_ms=ref.dt_ms, title="input spikes of one Iris sample (GRF inputs)", path="iris_raster.png")

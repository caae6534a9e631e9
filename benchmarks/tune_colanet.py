"""Grid search used to choose the CoLaNET / DigitalCoLaNET defaults (MNIST-5k, 4000/1000, seed 0).

    python benchmarks/tune_colanet.py spiking "dict(leak=[0.7, 0.8], wta_gate=[1, 10])"
    python benchmarks/tune_colanet.py digital "dict(threshold=[8.0, 10.0], forcing_decay=[0.3, 0.6])"
    python benchmarks/tune_colanet.py csnn "dict(n_epochs=[5], dopamine=[0.8, 1.2])"

Each line printed: the parameters, accuracy, answer rate, fit seconds and recruited
microcolumns. ``--split validation`` (the default) fits on 3 000 of the 4 000 training images and
scores on the other 1 000; ``--split test`` scores on seed 0's test images, as the sweeps behind the
older defaults did. For ``csnn`` the convolution matrices and the front-end spikes are computed once
(``--target-rate``, ``--flush``: by default those of :class:`~spikeforge.models.CSNN`) and only
the CoLaNET on top is varied. The defaults in the code are the best
rows of the sweeps recorded in docs/notes/issue5.md; those tuned on the test split of seed 0 carry a
known optimism, which is why the reproductions report seeds 0–2.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import time

import numpy as np

from spikeforge.datasets import mnist_subset_split
from spikeforge.models import CoLaNET, ConvMatrixLearner, DigitalCoLaNET, SpikingConvFrontEnd
from spikeforge.models.convmatrix import CSNN_COLANET


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=["spiking", "digital", "csnn"])
    ap.add_argument("grid", help='a Python dict literal of lists, e.g. "dict(leak=[0.7, 0.8])"')
    ap.add_argument("--target-rate", type=float, default=0.04, help="conv rate of the csnn front end")
    ap.add_argument("--flush", default="10", help="flush tacts of the csnn front end: an int or 'auto'")
    ap.add_argument("--split", choices=["validation", "test"], default="validation",
                    help="score on 1 000 held-out training images (default) or on seed 0's test images")
    args = ap.parse_args()
    node = ast.parse(args.grid, mode="eval").body
    grid = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords} if isinstance(node, ast.Call) else ast.literal_eval(node)
    images = args.model == "csnn"
    Xtr, Xte, ytr, yte = mnist_subset_split(4000, 1000, seed=0, images=images)
    if args.split == "validation":  # the test images are never looked at
        Xtr, Xte, ytr, yte = Xtr[:3000], Xtr[3000:], ytr[:3000], ytr[3000:]
    if images:
        L = ConvMatrixLearner(learning_rate=0.01, random_state=0).fit(Xtr)
        flush = args.flush if args.flush == "auto" else int(args.flush)
        fe = SpikingConvFrontEnd(L.kernels_, 2, target_rate=args.target_rate, flush_tacts=flush,
                                 warn_dropped=flush == "auto").fit(Xtr / 255.0)  # fmt: skip
        Str, Ste = fe.transform(Xtr / 255.0), fe.transform(Xte / 255.0)
    for vals in itertools.product(*grid.values()):
        kw = dict(zip(grid, vals))
        t0 = time.perf_counter()
        if images:
            T = fe.n_tacts  # windows over the whole presentation, as CSNN sets them
            params = {**CSNN_COLANET, "contribution_window": T, "dopamine_window": T, **kw}
            m = CoLaNET(random_state=0, image_tacts=T, **params).fit_spikes(Str, ytr)
            acc, ans = float(np.mean(m.predict_spikes(Ste) == yte)), float("nan")
        else:
            m = (CoLaNET if args.model == "spiking" else DigitalCoLaNET)(random_state=0, **kw).fit(Xtr, ytr)
            acc, ans = m.score(Xte, yte), m.answer_rate(Xte)
        print(f"{args.model} {kw} acc={acc:.3f} answer={ans:.3f} fit={time.perf_counter() - t0:.1f}s "
              f"recruited={m.recruited().sum()}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

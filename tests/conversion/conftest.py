"""Tiny tensors: one torch thread avoids OpenMP hand-offs that cost a scheduler tick per op on a
loaded machine (tens of ms per matmul of a [64, 6] batch)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

"""One torch thread per test process: the suite runs with ``-n 2`` on 2 cores, and two processes
with two OpenMP threads each oversubscribe them (tiny ops then wait milliseconds at barriers)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

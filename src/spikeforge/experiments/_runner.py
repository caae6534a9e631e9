"""Shared machinery for reproductions: parallel task maps with a progress bar."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

__all__ = ["default_jobs", "parallel_map"]


def default_jobs() -> int:
    """Worker processes to use by default: the number of usable CPU cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def parallel_map(
    fn: Callable[[Any], T],
    tasks: Sequence[Any],
    *,
    jobs: int = 1,
    desc: str = "",
    warmup: Callable[[], None] | None = None,
) -> list[T]:
    """``[fn(t) for t in tasks]`` over ``jobs`` processes, in task order, with a progress bar.

    ``warmup`` runs once in the parent first (e.g. to compile numba kernels) so that forked
    workers inherit compiled code. With ``jobs <= 1`` everything runs in this process.
    """
    if warmup is not None:
        warmup()
    results: list[Any] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc=desc, unit="task", dynamic_ncols=True)
    if jobs <= 1 or len(tasks) <= 1:
        for i, t in enumerate(tasks):
            results[i] = fn(t)
            bar.update()
    else:
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                bar.update()
    bar.close()
    return results


def chunks(seq: Iterable[T], n: int) -> list[list[T]]:
    """Split ``seq`` into lists of at most ``n`` items."""
    seq = list(seq)
    return [seq[i : i + n] for i in range(0, len(seq), n)]

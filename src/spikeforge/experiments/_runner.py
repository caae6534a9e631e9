"""Shared machinery for reproductions: parallel task maps with a progress bar."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

__all__ = ["TaskError", "default_jobs", "keep_freed_memory", "parallel_map"]


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

    Raises
    ------
    TaskError
        As soon as a task fails (tasks not yet started are cancelled); the message names the
        task, and the task's own exception is chained as ``__cause__``.
    """
    if warmup is not None:
        warmup()
    results: list[Any] = [None] * len(tasks)
    with tqdm(total=len(tasks), desc=desc, unit="task", dynamic_ncols=True) as bar:
        if jobs <= 1 or len(tasks) <= 1:
            for i, t in enumerate(tasks):
                try:
                    results[i] = fn(t)
                except Exception as exc:
                    raise TaskError(f"{desc or 'task'} {i} ({t!r}) failed: {type(exc).__name__}: {exc}") from exc
                bar.update()
            return results
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)
        failed = True
        try:
            futures = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except Exception as exc:
                    raise TaskError(
                        f"{desc or 'task'} {i} ({tasks[i]!r}) failed: {type(exc).__name__}: {exc}"
                    ) from exc
                bar.update()
            failed = False
        finally:
            # on error: do not wait for the remaining tasks (running ones finish in the background)
            pool.shutdown(wait=not failed, cancel_futures=True)
    return results


class TaskError(RuntimeError):
    """A task of :func:`parallel_map` failed (its exception is the ``__cause__``)."""


def keep_freed_memory() -> None:
    """Let glibc reuse freed large blocks instead of returning them to the OS.

    By default glibc serves allocations above 32 MiB with ``mmap`` and unmaps them at ``free``, so each
    step's fresh ``[T·B, 32, 26, 26]`` spike tensor page-faults its memory in again; on this workload
    that is more than half of the run time. Raising ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` keeps
    the blocks in the heap (the process keeps its peak memory, about 1–2 GB here). Linux/glibc only; a
    no-op elsewhere. Call it at the start of a torch-heavy reproduction (forked workers inherit it).
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: 1 GiB
        libc.mallopt(-1, (1 << 31) - 1)  # M_TRIM_THRESHOLD: never trim
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass

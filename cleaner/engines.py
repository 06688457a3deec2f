"""Engines schedule stage functions; they own no cleaning or dedup logic.

``LocalEngine`` maps a function over items with a pool of worker processes, in order, so
results (and therefore every output byte) are the same whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class LocalEngine:
    """Ordered parallel map over local processes (or in-process with one worker)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or default_workers())
        self._pool: Any = None

    def __enter__(self) -> LocalEngine:
        if self.workers > 1:
            ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
            self._pool = ctx.Pool(self.workers)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate() if exc[0] else self._pool.close()
            self._pool.join()
            self._pool = None

    def map(self, fn: Callable[[T], R], items: Iterable[T], chunksize: int = 8) -> Iterator[R]:
        if self._pool is None:
            return map(fn, items)
        return self._pool.imap(fn, items, chunksize=chunksize)

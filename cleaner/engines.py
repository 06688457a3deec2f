"""Engines schedule stage functions; they own no cleaning or dedup logic.

``LocalEngine`` maps a function over items with a pool of worker processes, in order, so
results (and therefore every output byte) are the same whatever the number of workers.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing as mp
import os
from collections import deque
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
        """``fn`` over ``items``, results in input order.

        At most ``4 * workers`` chunks are in flight. ``Pool.imap`` would read the whole
        input ahead and queue every result the caller has not taken yet, so a driver slower
        than its workers would end up holding the corpus in memory; the window keeps memory
        bounded whatever the input size."""
        if self._pool is None:
            return map(fn, items)
        return self._windowed(fn, items, chunksize)

    def _windowed(self, fn: Callable[[T], R], items: Iterable[T], chunksize: int) -> Iterator[R]:
        run = functools.partial(_run_chunk, fn)
        window: deque[Any] = deque()
        it = iter(items)
        while True:
            chunk = list(itertools.islice(it, chunksize))
            if chunk:
                window.append(self._pool.apply_async(run, (chunk,)))
            if window and (not chunk or len(window) >= 4 * self.workers):
                yield from window.popleft().get()
            elif not chunk:
                return


def _run_chunk(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    return [fn(x) for x in chunk]

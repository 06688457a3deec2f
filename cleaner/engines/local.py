"""Engines schedule stage functions; they own no cleaning or dedup logic.

``LocalEngine`` maps a function over items with a pool of worker processes, in order, so
results (and therefore every output byte) are the same whatever the number of workers.

Workers are forked from the driver on Linux. By the time the pool starts, the driver has
imported cleaner, trafilatura, lxml and numpy and compiled the rule set (the CLI loads it
to validate the rules), and a forked worker inherits all of that for free. A forkserver or
spawned worker starts a fresh interpreter and redoes it: about a second of CPU per worker
(the rule set alone is ~0.7 s of regex compilation and literal extraction), which on a
small run of a few hundred HTML pages is a sixth of the whole run. The driver is single-
threaded when the pool starts (no progress thread, no Ray), which is what makes fork safe.
Elsewhere (macOS, where fork is unsafe with system frameworks, and Windows) the
forkserver or spawn start method is used as before.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import itertools
import multiprocessing as mp
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

# a worker's value from LocalEngine.map_shared, by call
_SHARED: dict[int, Any] = {}
_TOKENS = itertools.count()


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _context() -> Any:
    """The multiprocessing context for workers: fork on Linux (see the module docstring),
    else forkserver where available, else spawn."""
    methods = mp.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods:
        return mp.get_context("fork")
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


def _mallopt(param: int, value: int) -> bool:
    """Set a glibc malloc parameter; False where there is no glibc (macOS, musl)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    try:
        return bool(fn(param, value))
    except Exception:  # pragma: no cover - an unexpected C library
        return False


_LARGE_BLOCK = 128 << 10  # glibc's initial mmap threshold
_driver_threshold = False  # set by driver_malloc: the driver maps large blocks for good


def driver_malloc(parallel: bool) -> None:
    """Memory settings for the driver of a run (glibc only; elsewhere nothing).

    * One arena for the driver's threads. The pool's result thread unpickles everything
      the workers send, and glibc gives each thread an arena of its own; memory the main
      thread later frees there stays with that arena, whose heap only shrinks from the
      top. Python's GIL serialises the threads anyway. Only arenas created later are
      affected, so this runs before the pool starts.
    * With workers (``parallel``), large blocks (128 KiB and more) mapped on their own, so
      they go back to the system when freed. glibc raises that threshold every time such
      a block is freed, up to 32 MiB; after that the template statistics' merges and
      dedup's per-band arrays come from the heap and stay resident when freed, and on a
      1 GB run the driver entered dedup holding a few hundred MB it no longer used. The
      workers get glibc's own steady state back (see ``_worker_malloc``): mapping and
      zeroing every temporary made them about a quarter slower. Without workers the
      driver does the cleaning itself, so only its dedup pass is switched (see
      :func:`large_blocks_returned`)."""
    global _driver_threshold
    _mallopt(_M_ARENA_MAX, 1)
    if parallel:
        _driver_threshold = _mallopt(_M_MMAP_THRESHOLD, _LARGE_BLOCK)


def _worker_malloc() -> None:
    """glibc's adaptive thresholds at their ceiling (mmap at 32 MiB, trim at 64 MiB), where
    a worker's would end up on its own after its first large temporaries; set explicitly
    because a fixed threshold inherited from the driver (see :func:`driver_malloc`) stays
    fixed."""
    if _mallopt(_M_MMAP_THRESHOLD, 32 << 20):
        _mallopt(_M_TRIM_THRESHOLD, 64 << 20)


@contextmanager
def large_blocks_returned() -> Iterator[None]:
    """While inside, large blocks are mapped on their own and go back to the system when
    freed (see :func:`driver_malloc`): around the driver's dedup pass, which allocates and
    frees a few hundred MB of arrays per LSH band."""
    fixed = _mallopt(_M_MMAP_THRESHOLD, _LARGE_BLOCK)
    try:
        yield
    finally:
        if fixed and not _driver_threshold:
            _worker_malloc()


def _worker_init(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    _worker_malloc()
    if initializer is not None:
        initializer(*initargs)


def _fork_pool(workers: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
               ) -> Any:
    """A pool whose forked workers keep sharing the driver's memory. Copy-on-write shares
    pages only until they are written, and the garbage collector writes to every object it
    scans: a worker's first collection would copy each page of the driver's heap that holds
    a tracked object (by the second pass, everything the first left behind). ``gc.freeze``
    moves the driver's objects out of the collector's sight in the children, as the
    ``gc`` documentation advises before a fork; the driver unfreezes its own at once."""
    frozen = _context().get_start_method() == "fork"
    if frozen:
        gc.freeze()
    try:
        return _context().Pool(workers, initializer=_worker_init, initargs=(initializer, initargs))
    finally:
        if frozen:
            gc.unfreeze()


class LocalEngine:
    """Ordered parallel map over local processes (or in-process with one worker)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or default_workers())
        self._pool: Any = None

    def __enter__(self) -> LocalEngine:
        if self.workers > 1:
            self._pool = _fork_pool(self.workers)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate() if exc[0] else self._pool.close()
            self._pool.join()
            self._pool = None

    def release_workers(self) -> None:
        """End the worker processes once the parallel passes are done: idle workers still
        hold what cleaning left in their memory (caches, heap), a few hundred MB on a large
        run, while the driver's dedup pass reaches its own peak. Later maps run in-process."""
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def map_shared(self, fn: Callable[[S, T], R], shared: S, items: Iterable[T], chunksize: int = 8
                   ) -> Iterator[R]:
        """``fn(shared, item)`` over ``items``, results in input order, where ``shared`` is
        a large read-only value every call needs (the corpus-wide template statistics).

        Sending it with every chunk would cost more than the work itself, so the pool is
        forked again with ``shared`` in place: the workers inherit it, copy-on-write, and
        the pages stay shared (with spawn, it is pickled once per worker, not per chunk). The
        driver must be single-threaded here (see the module docstring); the previous pool's
        workers are ended first, and this pool serves later maps until released."""
        if self.workers == 1:
            return map(functools.partial(fn, shared), items)
        self.release_workers()
        token = next(_TOKENS)
        if _context().get_start_method() == "fork":
            # Set in the driver only while the workers fork: the pool keeps no reference, so
            # the value is freed as soon as the caller lets go of it (the pass-2 statistics
            # must be gone before dedup reaches its peak), not when the pool is collected.
            _SHARED[token] = shared
            try:
                self._pool = _fork_pool(self.workers)
            finally:
                del _SHARED[token]
        else:  # pragma: no cover - not Linux: pickled once per worker
            self._pool = _fork_pool(self.workers, initializer=_set_shared, initargs=(token, shared))
        return self._windowed(functools.partial(_call_shared, token, fn), items, chunksize)

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


def _set_shared(token: int, shared: Any) -> None:
    _SHARED.clear()
    _SHARED[token] = shared


def _call_shared(token: int, fn: Callable[[Any, T], R], item: T) -> R:
    return fn(_SHARED[token], item)

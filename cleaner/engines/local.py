"""Engines schedule stage functions; they own no cleaning or dedup logic.

``LocalEngine`` maps a function over items with a pool of worker processes, in order, so
results (and therefore every output byte) are the same whatever the number of workers.

Workers are forked from the driver on Linux. By the time the pool starts, the driver has
imported cleaner and numpy (and trafilatura and lxml when the inputs hold HTML pages), and
compiled the rule set and built the core's rule matcher (the CLI loads the rules to
validate them), and a forked worker inherits all of that for free. A forkserver or
spawned worker starts a fresh interpreter and redoes it: about half a second of CPU per
worker (the rule set's compilation and matcher ~0.4 s, trafilatura's import ~0.16 s),
which on a small run of a few hundred HTML pages is a large share of the whole run. The driver is single-
threaded whenever it forks (no progress thread, no Ray, no thread of its own), which is
what makes fork safe: a fork while another thread imports a module copies that module's
import lock held, and the child that reaches the same import waits for it for ever.
Elsewhere (macOS, where fork is unsafe with system frameworks, and Windows) the
forkserver or spawn start method is used as before.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import itertools
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

# multiprocessing and the process pool (concurrent.futures.process) are imported where a
# pool starts, and where its errors are told apart (see _mp): a run with one worker, which
# cleans in the driver, never loads them (15 ms of its start-up's CPU)

log = logging.getLogger("cleaner")
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


def _mp() -> ModuleType:
    """:mod:`multiprocessing`, imported when first needed (see the imports above)."""
    import multiprocessing
    import multiprocessing.connection

    return multiprocessing


def _broken() -> type[Exception]:
    """``concurrent.futures.process.BrokenProcessPool`` (imported with the pool: see the imports above)."""
    from concurrent.futures.process import BrokenProcessPool

    return BrokenProcessPool


def _context() -> Any:
    """The multiprocessing context for workers: fork on Linux (see the module docstring),
    else forkserver where available, else spawn."""
    mp = _mp()
    methods = mp.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods:
        return mp.get_context("fork")
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


def _glibc(name: str) -> Any:
    """glibc's function ``name``, or None where there is no glibc (macOS, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def _mallopt(param: int, value: int) -> bool:
    """Set a glibc malloc parameter; False where there is no glibc."""
    fn = _glibc("mallopt")
    if fn is None:
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
    """Blocks of 4 MiB and more mapped on their own, and the heap's free top kept up to 64
    MiB (glibc's ceiling for its adaptive trim threshold); set explicitly because a fixed
    threshold inherited from the driver (see :func:`driver_malloc`) stays fixed.

    Mapping every block of 128 KiB and more (the driver's setting) made the workers about a
    quarter slower: each temporary mapped and zeroed. At glibc's adaptive ceiling (32 MiB),
    where a worker's threshold ends up on its own after its first large temporaries, every
    large block came from the heap instead: the core's rule memo and automaton caches
    as their tables doubled, a large document's copies, and once freed they left holes
    that later allocations spread over, so that a pass-1 worker kept about 55 MiB of free
    heap resident (a ``malloc_trim`` gave it back: 232 -> 178 MiB after 12,000 documents
    of the 200 MB crawl in one process). At 4 MiB those blocks are mapped, and go back when
    freed: that process peaked at 209 MiB instead of 232, in the same CPU time."""
    if _mallopt(_M_MMAP_THRESHOLD, 4 << 20):
        _mallopt(_M_TRIM_THRESHOLD, 64 << 20)


def malloc_trim() -> bool:
    """Give the free pages of the heap back to the system (glibc's ``malloc_trim(0)``, which
    also releases whole free pages in the middle of the heap, not only at its top); False
    where there is no glibc."""
    fn = _glibc("malloc_trim")
    return fn is not None and bool(fn(0))


def freed(free: Callable[[], None]) -> None:
    """Call ``free``, which lets go of a large structure built early and kept since (the
    rule set's parsed patterns and matcher), so that its memory goes back to the system, not
    only to the heap it came from.

    The core built that structure on threads of their own (see ``RuleSet``), so it lies in
    their malloc arenas, whose free top glibc returns only past the trim threshold, and that
    is up to 64 MiB by then (glibc raises it as large blocks are freed; the workers fix it
    there): freed under it, 28 of the rule set's 65 MiB stayed resident, even after a
    ``malloc_trim``, which trims only the main heap's top. So the threshold is low while
    ``free`` runs, the heaps are trimmed, and then the threshold is put back where the
    process had it: a driver with workers fixed its mapping threshold (``driver_malloc``),
    which leaves glibc's trim threshold at its initial 128 KiB, the low value itself; a
    process doing the cleaning itself gets the worker's settings (``_worker_malloc``).

    Freed where it was allocated, outside the main heap, the memory leaves no hole there for
    forked workers to fill: a hole they write to becomes a private copy in each of them."""
    low = _mallopt(_M_TRIM_THRESHOLD, _LARGE_BLOCK)
    try:
        free()
        malloc_trim()
    finally:
        if low and not _driver_threshold:
            _worker_malloc()


@contextmanager
def large_blocks_returned() -> Iterator[None]:
    """While inside, large blocks are mapped on their own and go back to the system when
    freed (see :func:`driver_malloc`): around the driver's dedup pass, which allocates and
    frees a few hundred MB of arrays per LSH band.

    The heap's free pages go back first: the passes before leave it riddled with the
    chunks of what the driver received and let go (the workers' pickled results, the
    template statistics' merges, pass 2's records), freed but resident, since a heap only
    shrinks from its top. On a 200 MB crawl that was 23 MiB of the driver's memory
    entering dedup, whose peak is the run's (a trim costs a few milliseconds)."""
    malloc_trim()
    fixed = _mallopt(_M_MMAP_THRESHOLD, _LARGE_BLOCK)
    try:
        yield
    finally:
        if fixed and not _driver_threshold:
            _worker_malloc()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_driver(driver: int) -> None:
    """Have the kernel kill this worker when the driver dies. A ``multiprocessing.Pool``
    worker noticed by itself (it closes its copy of the task pipe's write end, so a dead
    driver is an end of file); an executor's worker keeps waiting on its queue, holding
    its memory and the output folder's lock, and a driver killed with SIGKILL (or by the
    OOM killer) would leave the next run refused with "another cleaner run is writing"."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - an unexpected C library
        return
    if os.getppid() != driver:  # it died before the request was in place
        os._exit(1)


def _worker_init(driver: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    _die_with_driver(driver)
    _worker_malloc()
    if initializer is not None:
        initializer(*initargs)


class WorkersDying(RuntimeError):
    """Worker processes kept dying whatever they were given (the OOM killer ending every new
    worker, a broken installation): the run stops with one line instead of retrying
    without end."""


class WorkerDied(RuntimeError):
    """An item's worker died every time the item ran alone, and the caller gave no ``lost``
    to turn that into the item's result."""


#: An item whose worker died is run again alone; it is given up (its result is
#: ``lost(item, cause)``) once its worker died this many times while it ran alone.
SOLO_TRIES = 2
#: The run stops (:class:`WorkersDying`) once this many workers died in a row, no item
#: done in between: one poison item costs three deaths (its chunk's pool, then two tries
#: alone), so this is two poison items side by side and then some.
DEATHS_IN_A_ROW = 8


def death_cause(exitcode: int | None) -> str:
    """How a worker ended, for a one-line message: ``worker process died (SIGSEGV)``."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"worker process died ({signal.Signals(-exitcode).name})"
        except ValueError:
            return f"worker process died (signal {-exitcode})"
    if exitcode:
        return f"worker process died (exit code {exitcode})"
    return "worker process ended without a result"


class _Deaths:
    """The count of worker deaths in a row; past :data:`DEATHS_IN_A_ROW` the run stops."""

    def __init__(self) -> None:
        self.row = 0

    def done(self) -> None:
        self.row = 0

    def died(self, cause: str) -> None:
        self.row += 1
        if self.row >= DEATHS_IN_A_ROW:
            raise WorkersDying(f"{self.row} worker processes died in a row, the last one: {cause}; out of memory? "
                               "(see dmesg); the run stopped")


@contextmanager
def _forking(shared: tuple[int, Any] | None) -> Iterator[None]:
    """Around a fork of workers. Copy-on-write shares pages only until they are written,
    and the garbage collector writes to every object it scans: a worker's first collection
    would copy each page of the driver's heap that holds a tracked object (by the second
    pass, everything the first left behind). ``gc.freeze`` moves the driver's objects out
    of the collector's sight in the children, as the ``gc`` documentation advises before a
    fork; the driver unfreezes its own at once.

    ``shared`` (a map_shared value and its token) is set in the driver only while the
    workers fork: only the map holds it (to fork again after a worker died), so the value
    is freed as soon as the map is done and the caller lets go of it (the pass-2
    statistics must be gone before dedup reaches its peak), not when a pool is collected."""
    frozen = _context().get_start_method() == "fork"
    if frozen:
        gc.freeze()
        if shared is not None:
            _SHARED[shared[0]] = shared[1]
    try:
        yield
    finally:
        if frozen:
            _SHARED.pop(shared[0], None) if shared is not None else None
            gc.unfreeze()


def _init_args(shared: tuple[int, Any] | None) -> tuple[int, Any, tuple[Any, ...]]:
    """:func:`_worker_init`'s arguments: the driver's pid, and the initializer: none when
    forked (it inherits everything), else the one that sets the map_shared value (pickled
    once per worker)."""
    if shared is None or _context().get_start_method() == "fork":
        return os.getpid(), None, ()
    return os.getpid(), _set_shared, shared  # pragma: no cover - not Linux


#: Seconds between two looks at the workers' processes while the driver waits on its pool.
LOOK = 0.2


def _exitcode(proc: Any) -> int | None:
    """The exit code of a worker process known to have ended. ``exitcode`` is ``None`` for
    a moment when the executor's thread reaps the process at the same time (the driver's
    ``waitpid`` then fails, and the other thread has yet to note the code)."""
    for _ in range(50):
        if (code := proc.exitcode) is not None:
            return code
        time.sleep(0.002)
    return None  # pragma: no cover - a reaping thread that stalled


class _Pool:
    """A process pool whose every wait the driver bounds by the life of its workers.

    A ``ProcessPoolExecutor``, not a ``multiprocessing.Pool``: when a worker dies (killed by
    the OOM killer, a segfault in a C library) the Pool starts another and never fails the
    tasks the dead one held, so the run waits for them forever; the executor fails them
    (``BrokenProcessPool``), which :meth:`LocalEngine._windowed` recovers from. With fork,
    the executor starts all its workers at its first task, from the calling thread.

    The executor notices a death only when its manager thread is free to: a worker killed
    while it sends its result leaves half a message in the result pipe, which the manager
    waits to complete for ever (the other workers hold the pipe open, and wait for the
    write lock the dead one held); a worker killed inside the task queue's read lock after
    the shutdown's sentinels went out leaves the others waiting for that lock, and the
    executor for them; survivors of a death are ended with SIGTERM and waited for, which a
    stopped process never answers. So the driver never waits on the executor alone: it
    looks at the workers' sentinels every :data:`LOOK` seconds, takes a dead worker for a
    broken pool, and ends a broken pool by killing every worker (SIGKILL ends a stopped
    one too) and closing its own copy of the result pipe's write end, which turns a half
    message into an end of file the manager thread gives up on.

    A worker that is stopped (SIGSTOP, a debugger) but alive holds the run until it is
    continued: the engine does not take slowness for death."""

    def __init__(self, workers: int, shared: tuple[int, Any] | None = None):
        from concurrent.futures import ProcessPoolExecutor

        self.executor = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_worker_init,
                                            initargs=_init_args(shared))
        self.seen: dict[int, Any] = {}  # every worker process by pid: the executor forgets those that ended
        with _forking(shared):
            self.executor.submit(os.getpid)
        self._procs()

    def _procs(self) -> list[Any]:
        self.seen.update(getattr(self.executor, "_processes", None) or {})
        return list(self.seen.values())

    def submit(self, fn: Callable[[list[T]], list[R]], chunk: list[T]) -> Future[list[R]]:
        return self.executor.submit(fn, chunk)

    def dead(self) -> list[Any]:
        """The worker processes that have ended."""
        procs = {p.sentinel: p for p in self._procs()}
        return [procs[s] for s in _mp().connection.wait(list(procs), timeout=0)]

    def result(self, future: Future[list[R]] | None) -> list[R]:
        """The future's result, or ``BrokenProcessPool`` once a worker is dead, whether or
        not the executor noticed (``None``: the pool refused the chunk, it was broken)."""
        if future is None:
            raise _broken()("the pool was broken before this chunk was sent")
        # (not future.result(timeout): the function's own TimeoutError would read as a wait's end)
        while not future.done() and not wait_futures([future], timeout=LOOK).done:
            # the executor fails the futures at once when it notices a death: give it that moment
            if self.dead() and not wait_futures([future], timeout=LOOK).done:
                raise _broken()("a worker process died")
        return future.result()

    def cause(self) -> str:
        """How the first dead worker ended (the executor ends the others with SIGTERM)."""
        codes = [code for code in map(_exitcode, self.dead()) if code not in (None, 0, -signal.SIGTERM)]
        return death_cause(codes[0]) if codes else "worker process died"

    def end(self, kill: bool = False) -> None:
        """Shut the pool down and wait for its manager thread, which ends the workers; with
        ``kill`` (the run is failing, or the pool is broken: nobody will take what they are
        working on) the workers are killed first. Also killed: the workers of a pool that
        stays up after one of them died during the shutdown (nonzero exit at once, a clean
        exit after a few seconds), which the manager could wait on for ever."""
        executor = self.executor
        thread = getattr(executor, "_executor_manager_thread", None)
        results = getattr(executor, "_result_queue", None)
        if kill:
            self._kill(results)
        executor.shutdown(wait=False, cancel_futures=kill)
        first_exit = None
        while thread is not None and thread.is_alive():
            thread.join(LOOK)
            if kill or not thread.is_alive():
                continue
            dead = self.dead()
            if dead and first_exit is None:
                first_exit = time.monotonic()
            if any(_exitcode(p) != 0 for p in dead) or (dead and time.monotonic() - first_exit > 25 * LOOK):
                kill = True
                self._kill(results)
        if results is not None:
            results.close()

    def _kill(self, results: Any) -> None:
        for proc in self._procs():
            proc.kill()
        writer = getattr(results, "_writer", None)  # so that a half-sent result ends in an end of file
        if writer is not None:
            writer.close()


class LocalEngine:
    """Ordered parallel map over local processes (or in-process with one worker).

    A worker that dies (a signal, ``os._exit``, ``sys.exit``) at any moment (busy, idle,
    sending its result, as its pool starts or shuts down) costs neither the run nor its
    hanging (see :class:`_Pool`): the chunks it and the others held run again, item by
    item, each in a process of its own; an item whose worker dies every time it runs alone
    is given up and its result is ``lost(item, cause)`` (the steps make it the document's
    ``error``), and the run stops with :class:`WorkersDying` when workers keep dying
    whatever they are given. A worker that died idle, holding nothing, costs a new pool."""

    name = "local"
    shares_files = True  # forked workers on this machine

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or default_workers())
        self._pool: _Pool | None = None

    def __enter__(self) -> LocalEngine:
        if self.workers > 1:
            self._pool = _Pool(self.workers)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.end(kill=exc[0] is not None)
            self._pool = None

    def release_workers(self) -> None:
        """End the worker processes once the parallel passes are done: idle workers still
        hold what cleaning left in their memory (caches, heap), a few hundred MB on a large
        run, while the driver's dedup pass reaches its own peak. Later maps run in-process."""
        if self._pool is not None:
            self._pool.end()
            self._pool = None

    def map_shared(self, fn: Callable[[S, T], R], shared: S, items: Iterable[T], chunksize: int = 8,
                   lost: Callable[[T, str], R] | None = None, split: Callable[[T], list[T]] | None = None
                   ) -> Iterator[R]:
        """``fn(shared, item)`` over ``items``, results in input order, where ``shared`` is
        a large read-only value every call needs (the corpus-wide template statistics).

        Sending it with every chunk would cost more than the work itself, so the pool is
        forked again with ``shared`` in place: the workers inherit it, copy-on-write, and
        the pages stay shared (with spawn, it is pickled once per worker, not per chunk). The
        driver must be single-threaded here (see the module docstring); the previous pool's
        workers are ended first, and this pool serves later maps until released. ``lost``
        and ``split`` as in :meth:`map`."""
        if self.workers == 1:
            return map(functools.partial(fn, shared), items)
        self.release_workers()
        token = next(_TOKENS)
        self._pool = _Pool(self.workers, (token, shared))
        return self._windowed(functools.partial(_call_shared, token, fn), items, chunksize, lost, split,
                              (token, shared))

    def map(self, fn: Callable[[T], R], items: Iterable[T], chunksize: int = 8,
            lost: Callable[[T, str], R] | None = None, split: Callable[[T], list[T]] | None = None
            ) -> Iterator[R]:
        """``fn`` over ``items``, results in input order.

        At most ``4 * workers`` chunks are in flight. ``Pool.imap`` would read the whole
        input ahead and queue every result the caller has not taken yet, so a driver slower
        than its workers would end up holding the corpus in memory; the window keeps memory
        bounded whatever the input size.

        ``lost(item, cause)`` is the result of an item whose worker died every time it ran
        alone (``cause`` as :func:`death_cause` says it); without it, such an item raises
        :class:`WorkerDied`. ``split(item)``, where results are lists, gives the parts of
        such an item (a container's records), each run alone in turn, so that only the
        part that kills its worker is lost; the item's result is theirs concatenated."""
        if self._pool is None:
            return map(fn, items)
        return self._windowed(fn, items, chunksize, lost, split)

    def _windowed(self, fn: Callable[[T], R], items: Iterable[T], chunksize: int, lost: Callable[[T, str], R] | None,
                  split: Callable[[T], list[T]] | None, shared: tuple[int, Any] | None = None) -> Iterator[R]:
        run = functools.partial(_run_chunk, fn)
        window: deque[_Chunk] = deque()
        deaths = _Deaths()
        it = iter(items)
        sizes = _chunk_sizes(chunksize, self.workers)
        while True:
            items_ = list(itertools.islice(it, next(sizes)))
            if items_:
                window.append(self._send(run, _Chunk(items_)))
            if window and (not items_ or len(window) >= 4 * self.workers):
                chunk = window[0]
                if chunk.alone is not None:  # its items ran alone after a death
                    window.popleft()
                    for ok, value in chunk.alone:  # what raises, raises in its turn
                        if not ok:
                            raise value
                        yield value
                    continue
                assert self._pool is not None
                try:
                    results = self._pool.result(chunk.future)
                except _broken():
                    self._recover(run, fn, window, lost, split, shared, deaths)
                    # what a death costs is the items in flight, each run again alone: after
                    # one, the map's chunks stay small (an input that kills a worker seldom
                    # comes alone), at most 4 x workers x FIRST_CHUNK items the next time
                    sizes = itertools.repeat(min(max(1, chunksize), FIRST_CHUNK))
                    continue
                window.popleft()
                deaths.done()
                yield from results
            elif not items_:
                return

    def _send(self, run: Callable[[list[T]], list[R]], chunk: _Chunk) -> _Chunk:
        """Hand ``chunk`` to the pool, unless the pool is broken: the executor refuses it
        once it has noticed a death, and the driver does not hand it to a pool with a dead
        worker that the executor has yet to notice either. The executor would fail such a
        chunk a moment later, and the chunk would then look like one the dead worker may
        have held and run again alone; the death would depend on how soon the manager
        thread looked. Refused here, it goes to the next pool (see :meth:`_recover`)."""
        assert self._pool is not None
        if self._pool.dead():
            chunk.future = None
            return chunk
        try:
            chunk.future = self._pool.submit(run, chunk.items)
        except _broken():  # a worker died since the last chunk was taken: see _recover
            chunk.future = None
        return chunk

    def _recover(self, run: Callable[[list[T]], list[R]], fn: Callable[[T], R], window: deque[_Chunk],
                 lost: Callable[[T, str], R] | None, split: Callable[[T], list[T]] | None,
                 shared: tuple[int, Any] | None, deaths: _Deaths) -> None:
        """A worker died and the pool is broken: which of the chunks in flight it held is
        not known. Those done keep their results; the others run again item by item, each
        alone (:meth:`_alone`), so an item that kills its worker is found and the others'
        results arrive; then a fresh pool takes the chunks the broken one refused (they were
        in no worker) and the rest of the input. A worker that died idle, holding nothing,
        costs only the new pool."""
        assert self._pool is not None
        cause = self._pool.cause()
        self._pool.end(kill=True)
        self._pool = None
        deaths.died(cause)
        held = [c for c in window if c.alone is None and c.future is not None and not _finished(c.future)]
        redo = [x for c in held for x in c.items]
        if redo:
            log.warning("%s; the %d items it and the other workers held run again, each in a process of its own",
                        cause, len(redo))
            again = iter(self._alone(fn, redo, lost, shared, deaths, split))
            for c in held:
                c.alone, c.future = list(itertools.islice(again, len(c.items))), None
        else:
            log.warning("%s while idle; new workers take over", cause)
        self._pool = _Pool(self.workers, shared)
        for c in window:
            if c.alone is None and c.future is None:
                self._send(run, c)

    def _alone(self, fn: Callable[[T], R], items: list[T], lost: Callable[[T, str], R] | None,
               shared: tuple[int, Any] | None, deaths: _Deaths, split: Callable[[T], list[T]] | None
               ) -> list[tuple[bool, Any]]:
        """``fn`` over ``items``, each in a forked process of its own (``workers`` at a
        time), whose exit code says how it ended; an item whose process dies runs again, up
        to :data:`SOLO_TRIES` times, then its parts (``split``) run alone the same way, or
        if it has none its result is ``lost(item, cause)``. Each item's outcome:
        ``(True, result)`` or ``(False, exception)``."""
        ctx = _context()
        results: list[tuple[bool, Any]] = [(True, None)] * len(items)
        tries = [0] * len(items)
        todo = deque(range(len(items)))
        running: dict[Any, tuple[int, Any]] = {}
        init = _init_args(shared)

        def give_up(i: int, cause: str, how: str) -> tuple[bool, Any]:
            """An item that cannot give a result: its parts alone, else ``lost``'s record."""
            if split is not None and len(parts := split(items[i])) > 1:
                return _joined(self._alone(fn, parts, lost, shared, deaths, split))
            if lost is None:
                return (False, WorkerDied(f"{cause}{how}: {items[i]!r:.200}"))
            return (True, lost(items[i], cause))

        try:
            while todo or running:
                while todo and len(running) < self.workers:
                    i = todo.popleft()
                    recv, send = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_run_alone, args=(send, fn, items[i], init), daemon=True)
                    with _forking(shared):
                        proc.start()
                    send.close()
                    running[recv] = (i, proc)
                sentinels = {proc.sentinel: conn for conn, (_, proc) in running.items()}
                ready = {sentinels.get(x, x) for x in _mp().connection.wait([*running, *sentinels])}
                for conn in ready:
                    i, proc = running.pop(conn)
                    outcome: tuple[bool, Any] | None = None
                    unreadable = None
                    if conn.poll():
                        try:
                            outcome = conn.recv()
                        except (EOFError, OSError):  # died before it could send, or while it sent
                            outcome = None
                        except Exception as exc:  # sent whole, but it does not unpickle here (an
                            # exception class whose __init__ wants other arguments than it pickled)
                            unreadable = f"its result could not be read ({type(exc).__name__}: {exc})"
                    conn.close()
                    proc.join(25 * LOOK)  # it has sent all it will: it ends, or is ended
                    if proc.exitcode is None:
                        proc.kill()
                        proc.join()
                    if unreadable is not None:  # the same every time: not run again, not a death
                        deaths.done()
                        results[i] = give_up(i, unreadable, "")
                        continue
                    if outcome is None:
                        cause = death_cause(proc.exitcode)
                        deaths.died(cause)
                        tries[i] += 1
                        if tries[i] < SOLO_TRIES:
                            todo.append(i)
                        else:
                            results[i] = give_up(i, cause, " every time this item ran alone")
                        continue
                    deaths.done()
                    results[i] = outcome  # the function's own exception too, raised in its turn
        finally:
            for conn, (_, proc) in running.items():
                proc.kill()
                proc.join()
                conn.close()
        return results


def _joined(outcomes: list[tuple[bool, Any]]) -> tuple[bool, Any]:
    """The outcome of an item from its parts' (see :meth:`LocalEngine._alone`)."""
    for ok, value in outcomes:
        if not ok:
            return ok, value
    return True, [x for _, value in outcomes for x in value]


#: The first chunks of a map hold at most this many items (see :func:`_chunk_sizes`).
FIRST_CHUNK = 16


def _chunk_sizes(chunksize: int, workers: int) -> Iterator[int]:
    """The sizes of a map's chunks, in order: :data:`FIRST_CHUNK` items (or ``chunksize``
    when smaller), doubled every ``2 * workers`` chunks up to ``chunksize``.

    Why: each chunk costs the driver about 0.4 ms of CPU whatever it holds (the future,
    the executor's threads waking for the call and again for the result, the pickled call;
    measured with the workers busy, as in a run), on the cores the workers need: at 16
    documents a chunk that is 25 us a document, at 64 about 6. But a map's first window
    in chunks of 64 would leave most workers of a many-core machine idle on a small input
    (a few hundred files), and the driver slow to start them on a large one; so chunks
    start small enough for every worker to get one, and grow once all are busy."""
    chunksize = max(1, chunksize)
    size = min(chunksize, FIRST_CHUNK)
    while size < chunksize:
        for _ in range(2 * workers):
            yield size
        size = min(chunksize, 2 * size)
    while True:
        yield chunksize


class _Chunk:
    """A chunk of a map's items in flight: sent to the pool (``future``; ``None`` when the
    pool was broken before it could take it), or, after a death, run item by item alone
    (``alone``: each item's outcome, as :meth:`LocalEngine._alone` gives it)."""

    __slots__ = ("items", "future", "alone")

    def __init__(self, items: list[Any]):
        self.items = items
        self.future: Future[list[Any]] | None = None
        self.alone: list[tuple[bool, Any]] | None = None


def _finished(future: Future[Any] | None) -> bool:
    """A chunk that ended in its worker (a result, or its function's exception), not one
    the pool failed (``BrokenProcessPool``) or never sent."""
    return (future is not None and future.done() and not future.cancelled()
            and not isinstance(future.exception(), _broken()))


def _run_alone(conn: Any, fn: Callable[[T], R], item: T, init: tuple[int, Any, tuple[Any, ...]]) -> None:
    """A process's one item (see :meth:`LocalEngine._alone`): ``(True, result)`` or
    ``(False, exception)`` down ``conn``; a death sends nothing."""
    _worker_init(*init)
    try:
        outcome: tuple[bool, Any] = (True, fn(item))
    except Exception as exc:
        outcome = (False, exc)
    try:
        conn.send(outcome)
    except Exception as exc:  # an exception that does not pickle
        conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    conn.close()


def _run_chunk(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    try:
        return [fn(x) for x in chunk]
    except SystemExit as exc:
        # The function ended its process (``sys.exit`` in a library): a death, as in a lone
        # process (:func:`_run_alone`), with the exit code ``SystemExit`` gives there. The
        # executor would send the exception back, and the driver would end with it.
        code = exc.code
        os._exit(0 if code is None else code if isinstance(code, int) else 1)


def _set_shared(token: int, shared: Any) -> None:
    _SHARED.clear()
    _SHARED[token] = shared


def _call_shared(token: int, fn: Callable[[Any, T], R], item: T) -> R:
    return fn(_SHARED[token], item)

"""The local engine: ordered results, and bounded read-ahead (memory does not grow with the
input when the consumer is slower than the workers)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from typing import Any

import pytest

from cleaner.engines import local
from cleaner.engines.local import LocalEngine, WorkerDied, WorkersDying

from .conftest import ROOT


def square(x: int) -> int:
    return x * x


def test_ordered_results_any_worker_count() -> None:
    for workers in (1, 2, 3):
        with LocalEngine(workers) as engine:
            assert list(engine.map(square, range(100), chunksize=7)) == [x * x for x in range(100)]


def test_read_ahead_is_bounded() -> None:
    read = [0]
    ahead = []

    def items():  # counts how far the engine has read
        for x in range(10_000):
            read[0] += 1
            yield x

    with LocalEngine(2) as engine:
        for n, _ in enumerate(engine.map(square, items(), chunksize=4)):
            time.sleep(0.0005) if n < 50 else None
            ahead.append(read[0] - n - 1)  # items read but not yet returned
            if n == 200:
                break
    # at most 4 * workers chunks of 4 items in flight (plus the chunk being cut); Pool.imap
    # would have read all 10,000
    assert max(ahead) <= 4 * 2 * 4 + 4, max(ahead)
    assert read[0] < 300


def chunk_of(x: int) -> tuple[int, int]:
    return x, os.getpid()


def test_chunks_start_small_and_grow() -> None:
    """A map's chunks start at 16 items, so that a small input reaches every worker, and
    double every 2 x workers chunks up to ``chunksize`` (each chunk costs the driver CPU
    whatever it holds); a ``chunksize`` of 16 or less is used from the start."""
    sizes = local._chunk_sizes(64, 2)
    assert [next(sizes) for _ in range(12)] == [16] * 4 + [32] * 4 + [64] * 4
    sizes = local._chunk_sizes(4, 3)
    assert [next(sizes) for _ in range(5)] == [4] * 5
    sizes = local._chunk_sizes(0, 2)  # never an empty chunk, which would end the map
    assert [next(sizes) for _ in range(3)] == [1] * 3
    # the items of a chunk run in one worker, one after the other: a chunk is a run of
    # consecutive items with one pid (a run of several chunks can share one, never split one)
    with LocalEngine(2) as engine:
        got = list(engine.map(chunk_of, range(400), chunksize=64))
    assert [x for x, _ in got] == list(range(400))
    starts = [0, 16, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384]
    for a, b in zip(starts, [*starts[1:], 400], strict=True):
        assert len({pid for _, pid in got[a:b]}) == 1, (a, b)


def test_worker_errors_propagate() -> None:
    with LocalEngine(2) as engine:
        try:
            list(engine.map(square, ["x", 1], chunksize=1))
        except TypeError:
            return
    raise AssertionError("the worker's TypeError did not reach the caller")


def test_release_workers_ends_the_pool_and_maps_in_process() -> None:
    import multiprocessing as mp

    from cleaner.engines.local import LocalEngine

    with LocalEngine(2) as engine:
        assert list(engine.map(abs, [-1, -2, 3])) == [1, 2, 3]
        assert len(mp.active_children()) >= 2
        engine.release_workers()
        assert engine._pool is None and not mp.active_children()
        assert list(engine.map(abs, [-4, 5])) == [4, 5]


class Unpicklable:
    """A shared value that cannot travel by pickle: map_shared must hand it to forked
    workers by inheritance, once, not with every chunk."""

    def __init__(self, offset: int):
        self.offset = offset

    def __reduce__(self):  # type: ignore[no-untyped-def]
        raise TypeError("shared values are inherited, not pickled")


def add_offset(shared: Unpicklable, x: int) -> tuple[int, int]:
    import os

    return x + shared.offset, os.getpid()


def test_map_shared_gives_each_worker_the_value_once() -> None:
    import os

    for workers in (1, 2):
        with LocalEngine(workers) as engine:
            out = list(engine.map_shared(add_offset, Unpicklable(1000), range(200), chunksize=3))
            assert [x for x, _ in out] == [x + 1000 for x in range(200)]
            pids = {pid for _, pid in out}
            assert (pids == {os.getpid()}) if workers == 1 else (os.getpid() not in pids and len(pids) >= 1)
            # a later plain map runs on the same (new) pool
            assert list(engine.map(square, range(10))) == [x * x for x in range(10)]


def test_both_engines_have_the_engine_shape() -> None:
    """The pipeline relies on :class:`cleaner.engines.Engine` alone; both engines have it
    (constructing the Ray engine starts nothing: Ray is initialised on ``__enter__``)."""
    from cleaner.engines import Engine
    from cleaner.engines.local import LocalEngine
    from cleaner.engines.ray import RayEngine

    assert isinstance(LocalEngine(1), Engine)
    assert isinstance(RayEngine(2), Engine)
    assert not hasattr(RayEngine, "candidates")  # LSH candidates are dedup's (lsh_backend), not the engine's


# --- worker deaths: real processes killed by real signals, no mocks ----------------------

POISON = 13


def square_or_die(x: int) -> int:
    """Kills its own process on the poison item (SIGKILL: what the OOM killer sends)."""
    import os
    import signal

    if x == POISON:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def square_or_segfault(x: int) -> int:
    """A real segmentation fault in C code (a NULL read) on the poison item."""
    import ctypes
    import faulthandler

    if x == POISON:
        faulthandler.disable()  # pytest's would print the worker's stack first
        ctypes.string_at(0)
    return x * x


def square_or_exit(x: int) -> int:
    import os

    if x == POISON:
        os._exit(3)
    return x * x


def always_die(x: int) -> int:
    """Every worker dies, whatever it is given (the OOM killer ending every new worker)."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
    return x


def lost_marker(x: int, cause: str) -> tuple[str, int, str]:
    return ("lost", x, cause)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fn, cause", [(square_or_die, "worker process died (SIGKILL)"),
                                       (square_or_segfault, "worker process died (SIGSEGV)"),
                                       (square_or_exit, "worker process died (exit code 3)")])
def test_a_dead_worker_costs_its_item_not_the_run(fn: Any, cause: str) -> None:
    """The old multiprocessing.Pool replaced a dead worker and never failed its task: this
    waited forever. Now every other item's result arrives, in order, and the item that
    kills its worker every time is given up with the cause."""
    with LocalEngine(2) as engine:
        out = list(engine.map(fn, range(60), chunksize=4, lost=lost_marker))
        assert out == [("lost", x, cause) if x == POISON else x * x for x in range(60)]
        # the engine goes on with a fresh pool
        assert list(engine.map(square, range(20), chunksize=3)) == [x * x for x in range(20)]


def square_or_exit_at_two(x: int) -> int:
    import os

    if x in (40, 2000):
        os._exit(3)
    return x * x


@pytest.mark.timeout(120)
def test_after_a_death_the_chunks_stay_small(caplog: pytest.LogCaptureFixture) -> None:
    """Each item of the chunks in flight at a death runs again alone, in a process of its
    own; chunks grow to 64 items once the workers are busy, so a death could cost 4 x
    workers x 64 forks. After the first death of a map its chunks stay at sixteen: the
    second death costs at most 4 x 2 x 16 items run again."""
    with LocalEngine(2) as engine, caplog.at_level(logging.WARNING, logger="cleaner"):
        out = list(engine.map(square_or_exit_at_two, range(2400), chunksize=64, lost=lost_marker))
    assert out == [("lost", x, "worker process died (exit code 3)") if x in (40, 2000) else x * x
                   for x in range(2400)]
    again = [int(m.group(1)) for r in caplog.records
             if (m := re.search(r"the (\d+) items it and the other workers held run again", r.getMessage()))]
    assert len(again) == 2
    assert again[1] <= 4 * 2 * 16


@pytest.mark.timeout(60)
def test_a_dead_worker_without_lost_is_a_named_error() -> None:
    got = []
    with LocalEngine(2) as engine, pytest.raises(WorkerDied, match=r"worker process died \(SIGKILL\)"):
        for x in engine.map(square_or_die, range(40), chunksize=2):
            got.append(x)
    assert got == [x * x for x in range(POISON)]  # everything before it arrived


@pytest.mark.timeout(60)
def test_map_shared_survives_a_dead_worker() -> None:
    """The items of the lost chunks run again with the shared value inherited (the pool
    and the lone processes are forked with it in place)."""
    with LocalEngine(2) as engine:
        out = list(engine.map_shared(offset_or_die, Unpicklable(1000), range(50), chunksize=3,
                                     lost=lost_marker))
        assert out == [("lost", x, "worker process died (SIGKILL)") if x == POISON else x + 1000
                       for x in range(50)]


def offset_or_die(shared: Unpicklable, x: int) -> int:
    square_or_die(x)
    return x + shared.offset


@pytest.mark.timeout(60)
def test_workers_that_keep_dying_stop_the_run() -> None:
    """Retries are bounded: when every worker dies whatever it runs, the map fails with
    one line instead of giving up each item in turn (or retrying for ever)."""
    from cleaner.engines.local import DEATHS_IN_A_ROW

    with LocalEngine(2) as engine, pytest.raises(WorkersDying, match=f"{DEATHS_IN_A_ROW} worker processes died "
                                                                     r"in a row, the last one: .*SIGKILL"):
        list(engine.map(always_die, range(1000), chunksize=4, lost=lost_marker))


def raise_on_poison(x: int) -> int:
    if x == POISON:
        raise ValueError("not a worker death")
    return square_or_die(x + 1) if x == POISON - 1 else x


@pytest.mark.timeout(60)
def test_a_function_error_still_propagates_after_a_death() -> None:
    with LocalEngine(2) as engine, pytest.raises(ValueError, match="not a worker death"):
        list(engine.map(raise_on_poison, range(40), chunksize=4, lost=lost_marker))


def squares_or_die(xs: list[int]) -> list[int]:
    return [square_or_die(x) for x in xs]


def singles(xs: list[int]) -> list[list[int]]:
    return [[x] for x in xs]


def lost_list(xs: list[int], cause: str) -> list[Any]:
    return [("lost", x, cause) for x in xs]


@pytest.mark.timeout(60)
def test_split_loses_only_the_part_that_kills() -> None:
    """An item of several parts (a container's records) whose worker dies every time is
    tried part by part: only the poison part is lost, the item's result keeps its place."""
    items = [list(range(i, i + 5)) for i in range(0, 50, 5)]
    with LocalEngine(2) as engine:
        out = list(engine.map(squares_or_die, items, chunksize=2, lost=lost_list, split=singles))
    assert out == [[("lost", x, "worker process died (SIGKILL)") if x == POISON else x * x for x in item]
                   for item in items]


_FREED_CHILD = """
import os, sys
def rss():
    for line in open(f"/proc/{os.getpid()}/smaps_rollup"):
        if line.startswith("Rss:"):
            return int(line.split()[1]) >> 10
from cleaner.clean import furniture
from cleaner.clean.stages import CleanSettings
from cleaner.engines import local
furniture.prepare()
before = rss()
cs = CleanSettings()
cs.prepare()  # the rule set, built on the core's threads
built = rss()
local.freed(cs.release_rules)
print(built - before, built - rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heaps, /proc")
def test_freed_gives_the_rule_sets_memory_back_to_the_system() -> None:
    """The rule set lies in the arenas of the core's threads, where glibc kept up to 28 of
    its 65 MiB resident after it was let go, even after a ``malloc_trim`` (in most of the
    runs of a fresh process); ``freed`` lowers the trim threshold while it frees. A fresh
    process each time, three times: at least 85% of what the rule set took comes back."""
    if local._glibc("mallopt") is None:
        pytest.skip("no glibc")
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", _FREED_CHILD], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
        took, back = map(int, out.split())
        assert took > 30 and back >= 0.85 * took, (took, back)


_TRIM_CHILD = """
import ctypes, sys
import numpy as np
from cleaner.engines import local
libc = ctypes.CDLL(None)
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc.mallinfo2.restype = MallInfo2
local.malloc_trim()
local.driver_malloc(parallel=True)
local.freed(lambda: None)
arrays = [np.ones(8000) for _ in range(600)]  # 64 KB each: under the mapping threshold, from the heap
del arrays
print(libc.mallinfo2().arena >> 20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heaps")
def test_freed_leaves_a_drivers_heap_returning_its_free_top() -> None:
    """A driver with workers fixed its mapping threshold, which leaves glibc's trim
    threshold at 128 KiB; ``freed`` must put it back there, not at a worker's 64 MiB: with
    64 MiB, 38 MB of small blocks freed stayed resident at the heap's top (41 MiB of heap,
    against 5 MiB)."""
    if local._glibc("mallinfo2") is None or local._glibc("mallopt") is None:
        pytest.skip("no glibc mallinfo2")
    out = subprocess.run([sys.executable, "-c", _TRIM_CHILD], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert int(out) < 16, out

"""The local engine: ordered results, and bounded read-ahead (memory does not grow with the
input when the consumer is slower than the workers)."""

from __future__ import annotations

import time

from cleaner.engines.local import LocalEngine


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

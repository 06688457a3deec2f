"""The local engine: ordered results, and bounded read-ahead (memory does not grow with the
input when the consumer is slower than the workers)."""

from __future__ import annotations

import time

from cleaner.engines import LocalEngine


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

    from cleaner.engines import LocalEngine

    with LocalEngine(2) as engine:
        assert list(engine.map(abs, [-1, -2, 3])) == [1, 2, 3]
        assert len(mp.active_children()) >= 2
        engine.release_workers()
        assert engine._pool is None and not mp.active_children()
        assert list(engine.map(abs, [-4, 5])) == [4, 5]

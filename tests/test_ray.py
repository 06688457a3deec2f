"""The Ray engine schedules the same stage functions: on the same corpus its duplicates,
manifest and clean texts equal the local engine's byte for byte (local Ray, 2 CPUs).

The first test runs as a user does, with no Ray in the process: the engine starts a local
instance and shuts it down (``no_ray``); the others, like every other test marked ``ray``,
share the session's instance (``ray_local`` in conftest.py), which the engine uses and
leaves running."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import assert_same_run, run_cli
from .test_index import mixed_corpus

pytest.importorskip("ray")


@pytest.mark.ray
@pytest.mark.slow
def test_ray_equals_local(tmp_path: Path, root: Path, no_ray) -> None:
    raw = mixed_corpus(tmp_path / "raw", root / "seeds")
    run_cli("clean", raw, "-o", tmp_path / "local", "--workers", "2")
    run_cli("clean", raw, "-o", tmp_path / "ray", "--engine", "ray", "--workers", "2")
    assert_same_run(tmp_path / "local", tmp_path / "ray")


@pytest.mark.ray
@pytest.mark.slow
def test_ray_shards_equal_local(tmp_path: Path, root: Path, ray_local) -> None:
    """The writer runs on the driver with either engine: parquet shards (several, a tiny
    cap) and their manifest pointers are byte for byte the local engine's."""
    pytest.importorskip("pyarrow")
    raw = mixed_corpus(tmp_path / "raw", root / "seeds")
    shard = ["--output-format", "parquet", "--shard-size", "3000"]
    run_cli("clean", raw, "-o", tmp_path / "local", "--workers", "2", *shard)
    run_cli("clean", raw, "-o", tmp_path / "ray", "--engine", "ray", "--workers", "2", *shard)
    assert_same_run(tmp_path / "local", tmp_path / "ray")
    assert len(list((tmp_path / "ray" / "clean").glob("part-*.parquet"))) > 1


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ray_item_that_kills_its_worker_is_lost_not_retried_for_ever(ray_local) -> None:
    """Ray Data retries a task whose worker died without end: an item that segfaults its
    worker every time hung the run. Now the task is retried a bounded number of times, the
    window's other items come back in order, and the item is given up with its cause (only
    its own part, with ``split``)."""
    from cleaner.engines.ray import RayEngine

    from .test_engines import POISON, lost_list, lost_marker, singles, square_or_segfault, squares_or_die

    with RayEngine(2) as engine:
        out = list(engine.map(square_or_segfault, range(30), chunksize=4, lost=lost_marker))
        assert out == [("lost", x, "worker process died") if x == POISON else x * x for x in range(30)]
        items = [list(range(i, i + 5)) for i in range(10, 20, 5)]
        out = list(engine.map(squares_or_die, items, chunksize=2, lost=lost_list, split=singles))
        assert out == [[("lost", x, "worker process died") if x == POISON else x * x for x in item]
                       for item in items]

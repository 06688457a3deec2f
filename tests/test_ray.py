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


@pytest.mark.ray
@pytest.mark.slow
def test_ray_address_from_the_environment_with_workers(tmp_path: Path, root: Path, ray_local) -> None:
    """A run with ``RAY_ADDRESS`` set and no ``--address`` (a Ray job's entrypoint) uses that
    cluster. The engine passed no address to ``ray.init``, which connected to the cluster and
    then refused the ``num_cpus`` of ``--workers 2``: the run failed before reading a file.
    The cluster here is the session's instance, reached from a second process as a job's
    driver reaches its cluster."""
    import os
    import subprocess
    import sys

    address = ray_local.get_runtime_context().gcs_address
    env = {**os.environ, "RAY_ADDRESS": address}
    raw = mixed_corpus(tmp_path / "raw", root / "seeds")
    run_cli("clean", raw, "-o", tmp_path / "local", "--workers", "2")
    proc = subprocess.run([sys.executable, "-m", "cleaner", "clean", str(raw), "-o", str(tmp_path / "ray"),
                           "--engine", "ray", "--workers", "2", "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_same_run(tmp_path / "local", tmp_path / "ray")


def test_cluster_address_is_local_unless_asked() -> None:
    """No ``--address`` and no ``RAY_ADDRESS``: ``"local"``, never ``None``, which would join
    the last cluster ``ray start`` started on the machine (and refuse ``--workers``)."""
    from cleaner.engines.ray import cluster_address

    assert cluster_address(None, {}) == "local"
    assert cluster_address(None, {"RAY_ADDRESS": ""}) == "local"
    assert cluster_address(None, {"RAY_ADDRESS": "10.0.0.1:6379"}) == "10.0.0.1:6379"
    assert cluster_address("auto", {"RAY_ADDRESS": "10.0.0.1:6379"}) == "auto"

"""The Ray engine schedules the same stage functions: on the same corpus its duplicates,
manifest and clean texts equal the local engine's byte for byte (local Ray, 2 CPUs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import assert_same_run, run_cli
from .test_index import mixed_corpus

pytest.importorskip("ray")


@pytest.mark.ray
@pytest.mark.slow
def test_ray_equals_local(tmp_path: Path, root: Path) -> None:
    raw = mixed_corpus(tmp_path / "raw", root / "seeds")
    run_cli("clean", raw, "-o", tmp_path / "local", "--workers", "2")
    run_cli("clean", raw, "-o", tmp_path / "ray", "--engine", "ray", "--workers", "2")
    assert_same_run(tmp_path / "local", tmp_path / "ray")


@pytest.mark.ray
@pytest.mark.slow
def test_ray_shards_equal_local(tmp_path: Path, root: Path) -> None:
    """The writer runs on the driver with either engine: parquet shards (several, a tiny
    cap) and their manifest pointers are byte for byte the local engine's."""
    pytest.importorskip("pyarrow")
    raw = mixed_corpus(tmp_path / "raw", root / "seeds")
    shard = ["--output-format", "parquet", "--shard-size", "3000"]
    run_cli("clean", raw, "-o", tmp_path / "local", "--workers", "2", *shard)
    run_cli("clean", raw, "-o", tmp_path / "ray", "--engine", "ray", "--workers", "2", *shard)
    assert_same_run(tmp_path / "local", tmp_path / "ray")
    assert len(list((tmp_path / "ray" / "clean").glob("part-*.parquet"))) > 1

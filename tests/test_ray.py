"""The Ray engine schedules the same stage functions: on the same corpus its duplicates,
manifest and clean texts equal the local engine's byte for byte (local Ray, 2 CPUs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_cli, same_tree
from .test_index import ARTICLE, OTHER, THIRD, write

pytest.importorskip("ray")


@pytest.mark.ray
@pytest.mark.slow
def test_ray_equals_local(tmp_path: Path, root: Path) -> None:
    raw = tmp_path / "raw"
    for i, seed in enumerate(sorted((root / "seeds").iterdir())):
        (raw / "seeds").mkdir(parents=True, exist_ok=True)
        (raw / "seeds" / seed.name).write_bytes(seed.read_bytes())
        # a republished copy of each seed in another "site", with its own chrome
        write(raw / "mirror", f"copy{i}.txt", seed.read_text(encoding="utf-8").split("\n")[2:], header="Menu\n")
    write(raw / "blog", "council.txt", ARTICLE)
    write(raw / "blog", "comet.txt", OTHER)
    write(raw / "blog", "football.txt", THIRD)
    write(raw / "blog", "council-again.txt", ARTICLE[:3])
    run_cli("clean", raw, "-o", tmp_path / "local", "--workers", "2")
    run_cli("clean", raw, "-o", tmp_path / "ray", "--engine", "ray", "--workers", "2")
    for name in ("manifest.jsonl", "duplicates.json"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes(), name
    assert same_tree(tmp_path / "local" / "clean", tmp_path / "ray" / "clean")
    dup = (tmp_path / "local" / "duplicates.json").read_text()
    assert "council-again.txt" in dup and "copy0.txt" in dup, "the corpus really has duplicates to agree on"

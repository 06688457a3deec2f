"""The default LSH grouping (numpy) and datasketch's MinHashLSH give the same run, byte for
byte: same candidates, same clusters, same manifest and clean texts."""

from __future__ import annotations

from pathlib import Path

from .conftest import run_cli, same_tree
from .test_index import ARTICLE, OTHER, THIRD, write


def test_numpy_lsh_equals_datasketch(tmp_path: Path, root: Path) -> None:
    raw = tmp_path / "raw"
    for i, seed in enumerate(sorted((root / "seeds").iterdir())):
        (raw / "seeds").mkdir(parents=True, exist_ok=True)
        (raw / "seeds" / seed.name).write_bytes(seed.read_bytes())
        write(raw / "mirror", f"copy{i}.txt", seed.read_text(encoding="utf-8").split("\n")[2:], header="Menu\n")
    write(raw / "blog", "council.txt", ARTICLE)
    write(raw / "blog", "comet.txt", OTHER)
    write(raw / "blog", "football.txt", THIRD)
    write(raw / "blog", "council-again.txt", ARTICLE[:3])
    run_cli("clean", raw, "-o", tmp_path / "np", "--workers", "1")
    run_cli("clean", raw, "-o", tmp_path / "ds", "--workers", "1", "--lsh", "datasketch")
    for name in ("manifest.jsonl", "duplicates.json"):
        assert (tmp_path / "np" / name).read_bytes() == (tmp_path / "ds" / name).read_bytes(), name
    assert same_tree(tmp_path / "np" / "clean", tmp_path / "ds" / "clean")
    dup = (tmp_path / "np" / "duplicates.json").read_text()
    assert "council-again.txt" in dup and "copy0.txt" in dup, "the corpus really has duplicates to agree on"

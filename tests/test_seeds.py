"""Acceptance: the seeds scrape, cleaned with defaults, loses every chrome line and keeps
every content line (tests/data/seeds_acceptance.json, lines compared stripped and with
whitespace collapsed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ROOT, read_manifest, run_cli

ACCEPT = json.loads((ROOT / "tests" / "data" / "seeds_acceptance.json").read_text(encoding="utf-8"))


def norm(s: str) -> str:
    return " ".join(s.split())


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("seeds-out")
    run_cli("clean", ROOT / "seeds", "-o", out, "--workers", "1")
    return out


@pytest.mark.parametrize("name", sorted(ACCEPT))
def test_chrome_gone_content_kept(cleaned: Path, name: str) -> None:
    text = (cleaned / "clean" / name).read_text(encoding="utf-8")
    lines = {norm(ln) for ln in text.splitlines() if ln.strip()}
    labels = ACCEPT[name]
    leaked = [c for c in labels["chrome"] if norm(c) in lines]
    lost = [c for c in labels["content"] if norm(c) not in lines]
    assert not leaked, f"chrome left in {name}: {leaked}"
    assert not lost, f"content lost from {name}: {lost}"


def test_manifest_accounts_for_every_seed(cleaned: Path) -> None:
    records = read_manifest(cleaned)
    assert sorted(r["path"] for r in records) == sorted(p.name for p in (ROOT / "seeds").iterdir())
    for r in records:
        assert r["status"] == "kept"
        assert r["encoding"] == "utf-8"
        assert r["chars_out"] < r["chars_in"] or r["path"].startswith("003")
    by = {r["path"]: r for r in records}
    assert by["004_d51eabd51f3bc1f0.txt"]["removed"], "seed 004 has chrome removed by named rules"


def test_seed_000_subtitle_is_a_duplicate_passage(cleaned: Path) -> None:
    dup = json.loads((cleaned / "duplicates.json").read_text(encoding="utf-8"))
    hits = [c for c in dup["passages"]
            if {m["path"] for m in c["members"]} == {"000_06b319eeb0a5fce2.txt"}
            and any(m["text"].startswith("“We know that") and m["text"].endswith("Alexander Grushko said")
                    for m in c["members"])]
    assert hits, dup["passages"]
    assert dup["documents"] == [], "the seeds are distinct articles"

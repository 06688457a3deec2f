"""``cleaner rules suggest``: label-like lines only, grouped by site with their evidence,
and a pack that ``rules test --rules DIR`` passes and ``clean --rules DIR`` loads as it is."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from cleaner.clean.suggest import check, suggest, why_not

from .conftest import read_manifest, run_cli
from .scrapes import SITES, multi_site_scrape


@pytest.mark.parametrize("line", [
    "said.", "the", "1", "12:30", "—", "2024-05-01", "The", "WE", "In the", "of the",
    "the minister", "Reuters said.", "The ministry said the harvest was late.",
    "\"We're not telling the Central Americans what needs",
    "Farmers in the north said that the harvest of the wheat was",  # half function words
    "Prices, which rose,", "One two three four five six seven eight nine",
])
def test_prose_and_common_words_are_not_suggested(line: str) -> None:
    assert why_not(line) is not None


@pytest.mark.parametrize("line", [
    "Home", "More", "Back to top", "Contact us", "Privacy Policy", "Site Map", "REUTER",
    "E-Edition Login", "Обратная связь", "Startseite", "분야별 뉴스", "Password:",
])
def test_labels_are_suggested(line: str) -> None:
    assert why_not(line) is None


def test_ids_are_unique_and_the_pack_loads() -> None:
    """"Search" and "SEARCH:" used to get one id; a line on two sites is one rule with
    both sites as evidence; the pack passes its own examples."""
    rows = [{"source": "a.example", "text": "Search", "documents": 40, "of": 50},
            {"source": "b.example", "text": "SEARCH", "documents": 9, "of": 12},
            {"source": "a.example", "text": "Search:", "documents": 30, "of": 50},
            {"source": "b.example", "text": "Search!", "documents": 8, "of": 12},
            {"source": "a.example", "text": "the", "documents": 50, "of": 50}]
    found = suggest(rows, None, "xx", 5)
    rules = check(found.toml())
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids)) == 3
    assert found.left_out == {"starts in lower case (a piece of wrapped prose)": 1}
    (search,) = [s for group in found.rules.values() for s in group if s.text == "Search"]
    assert search.evidence == [("a.example", 40, 50), ("b.example", 9, 12)]
    pack = tomllib.loads(found.toml())
    whys = {r["id"]: r["why"] for r in pack["rule"]}
    assert "a.example (40 of 50 documents), b.example (9 of 12 documents)" in whys[search.rule_id]


def test_suggest_on_a_multi_site_scrape_loads_and_cleans(tmp_path: Path) -> None:
    raw = multi_site_scrape(tmp_path / "raw")
    result = run_cli("rules", "suggest", raw, "--workers", "1")
    pack = result.stdout
    rules_dir = tmp_path / "my-rules"
    rules_dir.mkdir()
    (rules_dir / "suggested.toml").write_text(pack, encoding="utf-8")
    data = tomllib.loads(pack)
    rules = data["rule"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    matched = {m.casefold() for r in rules for m in r["match"]}
    # the sites' own menu and footer labels are suggested (those no built-in rule removes) ...
    for label in ("World News", "Shipping Schedules", "Farm Reports", "Harbour Times Archive", "Reader Services"):
        assert label.casefold() in matched, label
    # ... never the pieces of wrapped prose, page numbers or function words every page repeats
    for prose in ("said.", "the", "the minister", "1", "2"):
        assert prose not in matched, prose
    # grouped by site, each rule with its evidence
    for site in SITES:
        assert f"# ---- site {site}:" in pack
    shared = next(r for r in rules if r["match"][0] == "Community Noticeboard")
    for site in ("daily-herald", "harbour-times"):
        assert f"{site} (10 of 10 documents)" in shared["why"]
    # the pack passes `rules test` as it is, and `clean --rules` loads and uses it
    out = run_cli("rules", "test", "--rules", rules_dir).stdout
    assert " 0 failed" in out
    run_cli("clean", raw, "-o", tmp_path / "out", "--rules", rules_dir, "--workers", "1")
    removed = {k for r in read_manifest(tmp_path / "out") for k in r.get("removed", {})}
    assert set(ids) & removed
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["counts"]["error"] == 0

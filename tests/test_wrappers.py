"""Second pass: lines of a page wrapper shared by several documents of one source."""

from __future__ import annotations

from pathlib import Path

from cleaner.pipeline import RunSettings, run

HEADER = ["Example Gazette", "Home | Business | Sport | Weather | Contact"]
# Prose that belongs to the template: the same on every page built from it.
BLURB = [
    "The Example Gazette has served the valley since 1921, and its reporters cover the "
    "council, the courts and the schools of every town along the river for their readers.",
    "Our newsroom is independent of any party, and we welcome letters from readers who want "
    "to tell us about the stories that matter to them and to the people around them.",
]
FOOTER = ["Privacy | Terms | Advertise with us", "© 2024 Example Gazette"]


def figures(company: str, seed: int) -> list[str]:
    """An earnings report: a headline, a dateline and a table of figures, no prose."""
    return [
        f"{company} 1986 YEAR NET",
        f"NEW YORK, March {seed} - Shr {seed}.12 dlrs vs {seed}.01 dlrs",
        f"Net {seed * 3}.4 mln vs {seed * 2}.9 mln",
        f"Revenues {seed * 40}.1 mln vs {seed * 31}.7 mln",
        f"Operating profit {seed * 7}.2 mln vs {seed * 5}.6 mln",
        f"Tax {seed}.8 mln vs {seed}.1 mln",
    ]


def test_table_article_inside_a_wrapper_with_its_own_prose_is_kept(tmp_path: Path) -> None:
    """The furniture classifier prefers the template's prose to a table of figures; once the
    second pass knows that prose is the wrapper's, the table is what the page is about."""
    raw = tmp_path / "raw"
    raw.mkdir()
    companies = ["ACME CORP", "GLOBEX INC", "INITECH CO", "UMBRELLA PLC"]
    for n, company in enumerate(companies):
        lines = [*HEADER, "", *figures(company, n + 2), "", *BLURB, "", *FOOTER]
        (raw / f"page{n}.txt").write_text("\n".join(lines) + "\n")
    run(raw, tmp_path / "out", RunSettings(workers=1))
    for n, company in enumerate(companies):
        text = (tmp_path / "out" / "clean" / f"page{n}.txt").read_text()
        assert f"Net {(n + 2) * 3}.4 mln vs {(n + 2) * 2}.9 mln" in text
        assert f"{company} 1986 YEAR NET" in text
        assert not any(b in text for b in BLURB + HEADER + FOOTER)

"""`cleaner rules explain FILE` runs the code `clean` runs: the lines it shows as kept are
the file's clean text, with rules, page furniture, templates and wrappers, and each removed
line names the mechanism that removed it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from .conftest import read_manifest, run_cli

_VOCAB = ("harbour council budget river railway school market farmers winter bridge museum "
          "engineers hospital village festival students election courts factory weather").split()


def _prose(rng: random.Random, n: int = 22) -> str:
    return " ".join(rng.choice(_VOCAB) for _ in range(n)).capitalize() + "."


def _site(folder: Path, pages: int, seed: int = 5) -> None:
    """Pages of one site: a menu, a story, a blurb of the site's own prose inside the story
    column (the same on every page: template, though furniture statistics keep it), a
    comment thread, a footer."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    blurb = ("The Valley Courier has published independent local reporting for the towns of the "
             "river valley since long before the railway came, and is owned by its readers.")
    for p in range(pages):
        story = [_prose(rng) for _ in range(6)]
        lines = ["Home", "News", "Sport", "Weather", "Contact", f"Story number {p} of the week",
                 *story[:3], blurb, *story[3:],
                 "Leave a Reply", "Your email address will not be published.",
                 f"{_prose(rng, 12)}", "Privacy policy", "Terms of use"]
        (folder / f"page{p}.txt").write_text("\n\n".join(lines) + "\n")


def _explained(*args: object) -> tuple[list[str], list[tuple[str, str]]]:
    """Kept lines and (mark, line) of removed lines, from explain's output."""
    kept, removed = [], []
    for line in run_cli("rules", "explain", *args).stdout.splitlines():
        if line.startswith("- ["):
            mark, _, text = line[3:].partition("] ")
            removed.append((mark.strip(), text))
        elif line.startswith("~ ["):
            kept.append(line.partition("] ")[2])
        elif line.startswith("  "):
            kept.append(line.strip())
    return kept, removed


def _clean_lines(out: Path, rel: str) -> list[str]:
    rec = next(r for r in read_manifest(out) if r["path"] == rel)
    return (out / rec["output"]).read_text(encoding="utf-8").rstrip("\n").split("\n\n")


def test_explain_shows_what_clean_keeps_with_templates(tmp_path: Path) -> None:
    """Before: explain had its own path without templates, and showed the site's blurb as kept."""
    raw = tmp_path / "raw"
    _site(raw / "courier", 7)
    out = tmp_path / "out"
    run_cli("clean", raw, "-o", out, "--no-dedup")
    marks = set()
    for p in range(7):
        kept, removed = _explained(raw / "courier" / f"page{p}.txt")
        assert kept == _clean_lines(out, f"courier/page{p}.txt"), p
        marks |= {m for m, _ in removed}
        assert any(m == "chrome.template" and t.startswith("The Valley Courier") for m, t in removed)
    assert "en.comments.leave-a-reply" in marks or any(m.startswith("en.comments") for m in marks)


def test_explain_with_context_equals_clean_of_the_whole_input(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    _site(raw / "courier", 6, seed=6)
    _site(raw / "other", 3, seed=7)
    out = tmp_path / "out"
    run_cli("clean", raw, "-o", out, "--no-dedup")
    for rel in ("courier/page2.txt", "other/page1.txt"):
        assert _explained(raw / rel, "--context", raw)[0] == _clean_lines(out, rel)
        assert _explained(raw / rel)[0] == _clean_lines(out, rel)


def test_explain_of_a_file_alone_equals_clean_of_a_folder_with_it(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    _site(raw, 1, seed=8)
    out = tmp_path / "out"
    run_cli("clean", raw, "-o", out, "--no-dedup")
    assert _explained(raw / "page0.txt")[0] == _clean_lines(out, "page0.txt")


def test_explain_outside_context_is_an_error(tmp_path: Path) -> None:
    _site(tmp_path / "a", 1)
    (tmp_path / "b").mkdir()
    r = run_cli("rules", "explain", tmp_path / "a" / "page0.txt", "--context", tmp_path / "b", expect=2)
    assert "is not inside" in r.stderr


@pytest.mark.slow
def test_explain_equals_clean_on_syndicated_pages(shared: Path, tmp_path: Path) -> None:
    """Pages with furniture, tail rules and wrappers (00041: a tail rule; before, explain
    marked kept lines as removed on 5 of 120 syndicated pages)."""
    raw = shared / "bench" / "syndicated" / "raw"
    out = tmp_path / "out"
    run_cli("clean", raw, "-o", out, "--no-dedup")
    manifest = {r["path"]: r for r in read_manifest(out)}
    for name in ("00041.txt", "00021.txt", "00133.txt", "00454.txt", "00064.txt"):
        kept, removed = _explained(raw / name)
        assert manifest[name]["status"] == "kept"
        assert kept == _clean_lines(out, name), name
        assert {m for m, _ in removed} <= set(manifest[name]["removed"]), name


def test_template_min_docs_is_a_32_bit_count(tmp_path: Path) -> None:
    """The statistics count documents in 32 bits: a larger --template-min-docs is the
    usage error (exit 2) naming the range, not an OverflowError per document."""
    from .conftest import run_cli

    page = tmp_path / "p.txt"
    page.write_text("A line of text.\n", encoding="utf-8")
    result = run_cli("rules", "explain", page, "--template-min-docs", str(2**31), expect=2)
    assert "2<=x<=2147483647" in result.output
    run_cli("rules", "explain", page, "--template-min-docs", str(2**31 - 1))

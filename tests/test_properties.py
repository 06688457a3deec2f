"""Property tests: cleaning never raises, keeps only input lines, and the manifest has one
record per input, whatever hypothesis throws at it."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.clean.normalise import collapse, normalise_text
from cleaner.clean.stages import CleanSettings, clean
from cleaner.document import Document
from cleaner.pipeline import RunSettings, run

SETTINGS = CleanSettings()
chrome_lines = st.sampled_from([
    "All news", "Search", "Close this search box.", "LEAVE A REPLY", "Please enter your comment!",
    "3 Responses", "Leave a Reply", "Popular Posts", "See also related news:", "READ ALSO: Something happened",
    "© Jane Doe/TASS", "Share this article", "Tags: politics, economy", "Accept all cookies",
])
prose = st.sampled_from([
    "The council met on Tuesday to discuss the budget, and members agreed to review it in spring.",
    "Officials said the new programme would start in May, once contracts had been signed.",
    "Критики заявили, что законопроект не решает главных проблем, о которых говорили эксперты.",
    "Die Regierung kündigte am Montag an, dass die neuen Regeln im Herbst in Kraft treten sollen.",
])
documents = st.lists(st.one_of(chrome_lines, prose, st.text(max_size=80)), max_size=30).map("\n".join)


def is_subsequence(short: list[str], long: list[str]) -> bool:
    it = iter(long)
    return all(any(w == x for x in it) for w in short)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(documents, st.text()), st.sampled_from(["text", "html"]))
def test_cleaning_never_raises_and_keeps_only_input_lines(text: str, kind: str) -> None:
    doc = clean(Document(path="p.txt", kind=kind, text=text, chars_in=len(text)), SETTINGS)
    assert doc.status in ("kept", "empty", "error")
    if kind == "text":
        source = [collapse(ln).split() for ln in normalise_text(text).split("\n")]
        for line in doc.text.split("\n"):
            if line:
                assert any(is_subsequence(line.split(), src) for src in source), line


names = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
                min_size=1, max_size=20).filter(lambda n: n not in (".", ".."))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.tuples(names, st.sampled_from([".txt", ".html", ".jsonl", ".bin", ""])).map("".join),
                       st.binary(max_size=300), max_size=6))
def test_manifest_has_a_record_per_input(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        raw.mkdir()
        written = []
        for name, data in files.items():
            try:
                (raw / name).write_bytes(data)
                written.append(name)
            except OSError:  # a name the filesystem refuses (too long in bytes, ...)
                continue
        result = run(raw, Path(tmp) / "out", RunSettings(workers=1))
        manifest = [json.loads(line) for line in (Path(tmp) / "out" / "manifest.jsonl").open(encoding="utf-8")]
        paths = {r["path"] for r in manifest}
        assert paths == set(written)
        single = [n for n in written if not n.endswith(".jsonl")]
        for name in single:
            assert sum(r["path"] == name for r in manifest) == 1
        assert sum(result.counts.values()) == len(manifest)

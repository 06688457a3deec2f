"""Input formats live in one registry (cleaner.sources.readers.FORMATS): walking, reading,
piecing and output naming all ask it, so a new format is one registered reader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cleaner.document import Document
from cleaner.outputs.writers import output_name
from cleaner.pipeline import RunSettings, run
from cleaner.sources import readers

PROSE = ("The harbour board met on a wet Tuesday to settle the ferry timetable for the winter "
         "months, and after a long argument about the early crossing it agreed to keep it.")


def test_kind_of_matches_the_longest_registered_ending() -> None:
    expected = {"a.warc.wet.gz": "wet", "a.WARC.GZ": "warc", "a.json.zst": "jsonl", "a.parquet": "parquet",
                "a.xhtml": "html", "a.md": "text", "a.warc.wet": "wet", "a.wet.gz": "wet", "a.json": None,
                "a.gz": None}
    assert {n: readers.kind_of(n) for n in expected} == expected
    assert readers.is_container("wet") and readers.is_container("parquet") and not readers.is_container("html")
    assert output_name("x/crawl.warc.wet.gz", True) == "x/crawl.jsonl"


def test_a_registered_toy_format_is_walked_read_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """A container format of one document per paragraph (``.paras.txt``, longer than the
    built-in ``.txt``): registering its reader is all it takes for ``clean`` to read it,
    split it into records and name its output by it (``book.jsonl``: the whole registered
    ending is replaced, not only ``.txt``)."""
    monkeypatch.setattr(readers, "FORMATS", dict(readers.FORMATS))

    @readers.register("paras", (".paras.txt",), container=True)
    def read_paras(item: readers.InputFile, max_bytes: int, fields: readers.Fields) -> Iterator[Document]:
        text = Path(item.abspath).read_text(encoding="utf-8")
        for n, para in enumerate(p for p in text.split("\n\n\n") if p.strip()):
            yield Document(path=item.rel, id=f"p{n}", kind="text", container=True, encoding="utf-8",
                           text=para, chars_in=len(para))

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "book.paras.txt").write_text(f"First. {PROSE}\n\n\nSecond, another day. {PROSE[::-1]}\n",
                                        encoding="utf-8")
    (raw / "plain.txt").write_text(PROSE, encoding="utf-8")
    result = run(raw, tmp_path / "out", RunSettings(workers=2, dedup=None, report_html=False))
    assert result.counts["kept"] == 3
    rows = [json.loads(line) for line in (tmp_path / "out/clean/book.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["p0", "p1"]
    assert rows[0]["text"].startswith("First.")
    assert (tmp_path / "out/clean/plain.txt").read_text().startswith("The harbour board")
    manifest = [json.loads(line) for line in (tmp_path / "out/manifest.jsonl").read_text().splitlines()]
    assert sorted((m["path"], m["id"]) for m in manifest) == \
        [("book.paras.txt", "p0"), ("book.paras.txt", "p1"), ("plain.txt", None)]

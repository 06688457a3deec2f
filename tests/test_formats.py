"""Input formats corpus builders ship: Common Crawl WET, JSONL compressed with zstd or gzip,
Parquet, with custom field names; and the records of one container file spread over the
workers. Every file here is written by the real library (warcio, zstandard, pyarrow)."""

from __future__ import annotations

import gzip
import io
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from warcio.warcwriter import WARCWriter

from cleaner.engines.local import LocalEngine
from cleaner.outputs.writers import output_name
from cleaner.sources import readers as sources
from cleaner.steps import PIECE_RECORDS, pieces

from .conftest import ROOT, assert_same_run, read_manifest, run_cli, same_tree
from .test_bad_inputs import GOOD, one_line_naming

NOUNS = ("harbour council budget ferry school library tram bridge river market mayor teacher museum "
         "station garden festival report committee plan road hospital clinic archive theatre orchestra "
         "farmer bakery railway tunnel island lighthouse").split()
VERBS = "approved delayed opened rebuilt reviewed funded closed visited praised questioned moved".split()
TIMES = "on Monday|last week|in the spring|after the vote|before the winter|this morning|at dawn".split("|")


def prose(rng: random.Random, sentences: int = 6) -> str:
    """A paragraph no other call repeats: sentences of a small grammar over random words."""
    out = []
    for _ in range(sentences):
        n = [rng.choice(NOUNS) for _ in range(5)]
        out.append(f"The {n[0]} of the {n[1]} {rng.choice(VERBS)} the new {n[2]} {rng.choice(TIMES)}, "
                   f"and the {n[3]} said that the {n[4]} was {rng.choice(VERBS)} {rng.choice(TIMES)} as well.")
    return " ".join(out)


SITE_CHROME = {  # lines a site's template puts on every page (the template statistics' case)
    "a.example": ("Harbourside Courier, the paper of the eastern quays", "Quayside weather with Ellen Marsh"),
    "b.example": ("Valley Ledger morning edition", "Ledger puzzles and the reader crossword"),
}


def site_pages(n: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """``(record id, url, text)`` of ``n`` pages of two sites: site chrome lines around new
    prose, and every tenth page a republished copy of an earlier one (near-duplicates)."""
    rng = random.Random(seed)
    pages: list[tuple[str, str, str]] = []
    for i in range(n):
        host = "a.example" if i % 3 else "b.example"
        top, bottom = SITE_CHROME[host]
        if i % 10 == 9:
            body = pages[i - 5][2].split("\n")[1:-1]
        else:
            body = [prose(rng) for _ in range(3)]
        pages.append((f"urn:uuid:{i:08d}-0000-4000-8000-{seed:012d}", f"https://{host}/story/{i}",
                      "\n".join([top, *body, bottom])))
    return pages


def write_wet(path: Path, pages: list[tuple[str, str, str]]) -> None:
    """A Common Crawl style WET file: a warcinfo record, then one ``conversion`` record
    (text/plain) per page, each its own gzip member, as Common Crawl writes them."""
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=path.suffix == ".gz")
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "test"}))
        for rid, url, text in pages:
            data = text.encode("utf-8")
            headers = {"WARC-Record-ID": f"<{rid}>", "WARC-Date": "2024-03-01T10:00:00Z",
                       "WARC-Refers-To": f"<urn:uuid:ref-{rid[-12:]}>"}
            writer.write_record(writer.create_warc_record(url, "conversion", payload=io.BytesIO(data),
                                                          length=len(data), warc_content_type="text/plain",
                                                          warc_headers_dict=headers))


def jsonl_bytes(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def write_parquet(path: Path, columns: dict[str, list]) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table(columns), path, row_group_size=16)


def clean(raw: Path, out: Path, *extra: str, expect: int | None = 0):
    result = run_cli("clean", raw, "-o", out, "--workers", "1", *extra, expect=expect)
    return result, {(r["path"], r["id"]): r for r in read_manifest(out)}


def clean_rows(out: Path, name: str) -> list[dict]:
    return [json.loads(x) for x in (out / "clean" / name).read_text(encoding="utf-8").splitlines()]


# ----------------------------------------------------------------------------- WET


def test_wet_records_are_plain_text_documents_with_ids_and_urls(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    pages = site_pages(24)
    write_wet(raw / "CC-MAIN-2024-10-00000.warc.wet.gz", pages)
    _, m = clean(raw, tmp_path / "out")
    recs = [r for r in read_manifest(tmp_path / "out")]
    assert [r["id"] for r in recs] == [rid for rid, _, _ in pages], "one manifest record per conversion record"
    assert [r["url"] for r in recs] == [url for _, url, _ in pages]
    assert {r["status"] for r in recs} == {"kept", "duplicate"}
    assert sum(r["status"] == "duplicate" for r in recs) >= 2  # the republished copies
    rows = clean_rows(tmp_path / "out", "CC-MAIN-2024-10-00000.jsonl")
    kept = [r for r in recs if r["status"] == "kept"]
    assert [row["id"] for row in rows] == [r["id"] for r in kept]
    # the template statistics worked per site (source = URL host): the chrome lines are gone
    for row in rows:
        assert not any(line in row["text"] for chrome in SITE_CHROME.values() for line in chrome), row
        assert len(row["text"].split()) > 100
    assert all(r["removed"].get("chrome.template", 0) + r["removed"].get("chrome.wrapper", 0) >= 1 for r in kept)
    templates = json.loads((tmp_path / "out" / "duplicates.json").read_text())["templates"]
    assert {t["source"] for t in templates} == {"a.example", "b.example"}


def test_truncated_wet_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "good.txt").write_text(GOOD, encoding="utf-8")
    pages = site_pages(12)
    write_wet(tmp_path / "whole.warc.wet.gz", pages)
    whole = (tmp_path / "whole.warc.wet.gz").read_bytes()
    (raw / "cut.warc.wet.gz").write_bytes(whole[: len(whole) - 200])  # inside the last record's member
    res, m = clean(raw, tmp_path / "out", "--no-dedup", expect=1)
    cut = [r for (p, _), r in m.items() if p == "cut.warc.wet.gz"]
    assert [r["status"] for r in cut[:11]] == ["kept"] * 11, cut
    assert [r["id"] for r in cut[:11]] == [rid for rid, _, _ in pages[:11]]
    assert len(cut) == 12 and cut[11]["status"] == "error" and "truncated" in cut[11]["reason"]
    line = one_line_naming(res.stderr, "cut.warc.wet.gz")
    assert "truncated" in line and "error" in line
    assert len(clean_rows(tmp_path / "out", "cut.jsonl")) == 11
    assert m[("good.txt", None)]["status"] == "kept"


# ----------------------------------------------------------------------------- JSONL: zstd, gzip, fields


def test_compressed_jsonl_and_custom_field_names(tmp_path: Path) -> None:
    pages = site_pages(20, seed=3)
    rows = [{"doc_id": rid, "link": url, "content": text} for rid, url, text in pages]
    raw = tmp_path / "raw"
    for name, data in (("plain.jsonl", jsonl_bytes(rows)),
                       ("z.jsonl.zst", zstandard.ZstdCompressor(level=3).compress(jsonl_bytes(rows))),
                       ("zz.json.zst", b"".join(zstandard.ZstdCompressor().compress(jsonl_bytes(rows[i:i + 7]))
                                               for i in range(0, 20, 7))),  # several frames
                       ("g.json.gz", gzip.compress(jsonl_bytes(rows))),
                       ("gg.jsonl.gz", gzip.compress(jsonl_bytes(rows[:10])) + gzip.compress(jsonl_bytes(rows[10:])))):
        (raw / name[0]).mkdir(parents=True, exist_ok=True)
        (raw / name[0] / name).write_bytes(data)
    _, m = clean(raw, tmp_path / "out", "--no-dedup", "--text-field", "content", "--id-field", "doc_id",
                 "--url-field", "link")
    outputs = {"p": "p/plain.jsonl", "z": "z/z.jsonl", "g": "g/g.jsonl"}
    texts = {}
    for folder, name in (("p", "plain.jsonl"), ("z", "z.jsonl.zst"), ("z", "zz.json.zst"), ("g", "g.json.gz"),
                         ("g", "gg.jsonl.gz")):
        recs = [r for (p, _), r in m.items() if p == f"{folder}/{name}"]
        assert [r["id"] for r in recs] == [rid for rid, _, _ in pages], name
        assert [r["url"] for r in recs] == [url for _, url, _ in pages], name
        assert all(r["status"] == "kept" for r in recs), name
    for folder, name in outputs.items():
        texts[folder] = [r["text"] for r in clean_rows(tmp_path / "out", name)]
    assert texts["p"] == texts["z"] == texts["g"] and len(texts["p"]) == 20
    assert (tmp_path / "out" / "clean" / "z" / "zz.jsonl").read_bytes() == \
        (tmp_path / "out" / "clean" / "z" / "z.jsonl").read_bytes()
    # without the options the records have no 'text' field: each is an error naming its line
    res, m2 = clean(raw, tmp_path / "out2", "--no-dedup", expect=1)
    assert m2[("p/plain.jsonl", "line-3")]["reason"] == "line 3: no string field 'text' or 'html'"


def test_bad_lines_and_truncation_in_zstd_jsonl(tmp_path: Path) -> None:
    good = [{"id": f"r{i}", "text": prose(random.Random(i))} for i in range(6)]
    lines = jsonl_bytes(good[:2]) + b"{not json\n" + jsonl_bytes(good[2:4]) + b'"a string"\n' + jsonl_bytes(good[4:])
    whole = zstandard.ZstdCompressor().compress(lines)
    cut = zstandard.ZstdCompressor().compress(jsonl_bytes(good)) + zstandard.ZstdCompressor().compress(lines)[:40]
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "bad-lines.jsonl.zst").write_bytes(whole)
    (raw / "cut.jsonl.zst").write_bytes(cut)
    (raw / "good.txt").write_text(GOOD, encoding="utf-8")
    res, m = clean(raw, tmp_path / "out", "--no-dedup", expect=1)
    assert m[("bad-lines.jsonl.zst", "line-3")]["reason"].startswith("line 3: invalid JSON")
    assert m[("bad-lines.jsonl.zst", "line-6")]["reason"] == "line 6: not a JSON object"
    assert [r["id"] for r in clean_rows(tmp_path / "out", "bad-lines.jsonl")] == [f"r{i}" for i in range(6)]
    # a zstd frame cut short is an error, not silently shorter data (zstd's stream reader
    # returns the partial frame without a word); the complete frame's records are kept
    assert m[("cut.jsonl.zst", None)]["status"] == "error"
    assert "truncated zstd stream" in m[("cut.jsonl.zst", None)]["reason"]
    assert [r["id"] for r in clean_rows(tmp_path / "out", "cut.jsonl")] == [f"r{i}" for i in range(6)]
    assert "truncated" in one_line_naming(res.stderr, "cut.jsonl.zst")
    assert m[("good.txt", None)]["status"] == "kept"


def test_zstd_bomb_is_bounded(tmp_path: Path) -> None:
    bomb = zstandard.ZstdCompressor(level=19).compress(b"\n" * (200 * 1024 * 1024))  # ~7 KB
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "bomb.jsonl.zst").write_bytes(bomb)
    res, m = clean(raw, tmp_path / "out", "--max-bytes", str(8 * 1024 * 1024), expect=1)
    assert "zstd bomb" in m[("bomb.jsonl.zst", None)]["reason"]
    one_line_naming(res.stderr, "bomb.jsonl.zst")


# ----------------------------------------------------------------------------- Parquet


def test_parquet_rows_and_a_file_missing_its_column(tmp_path: Path) -> None:
    pages = site_pages(30, seed=5)
    raw = tmp_path / "raw"
    raw.mkdir()
    write_parquet(raw / "shard-0.parquet", {
        "content": [t if i != 4 else None for i, (_, _, t) in enumerate(pages)],
        "doc_id": [rid for rid, _, _ in pages], "url": [u for _, u, _ in pages],
        "score": [0.5] * 30})
    write_parquet(raw / "shard-1.parquet", {"text": [t for _, _, t in pages[:3]], "doc_id": ["x", "y", "z"]})
    (raw / "good.txt").write_text(GOOD, encoding="utf-8")
    res, m = clean(raw, tmp_path / "out", "--text-field", "content", "--id-field", "doc_id", expect=1)
    recs = [r for (p, _), r in m.items() if p == "shard-0.parquet"]
    assert [r["id"] for r in recs] == [rid for rid, _, _ in pages]
    assert recs[4]["status"] == "error" and recs[4]["reason"] == "row 4: 'content' is null"
    assert "row 4" in one_line_naming(res.stderr, pages[4][0])
    assert {r["status"] for i, r in enumerate(recs) if i != 4} == {"kept", "duplicate"}
    assert [r["url"] for r in recs] == [u for _, u, _ in pages]
    rows = clean_rows(tmp_path / "out", "shard-0.jsonl")
    assert [row["id"] for row in rows] == [r["id"] for r in recs if r["status"] == "kept"]
    assert not any(line in row["text"] for row in rows for c in SITE_CHROME.values() for line in c)
    # the second file has no 'content' column: one error for the file, naming the column
    bad = m[("shard-1.parquet", None)]
    assert bad["status"] == "error" and "no column 'content'" in bad["reason"]
    line = one_line_naming(res.stderr, "shard-1.parquet")
    assert "'content'" in line and "error" in line
    assert not (tmp_path / "out" / "clean" / "shard-1.jsonl").exists()
    assert m[("good.txt", None)]["status"] == "kept"


def test_parquet_input_without_pyarrow_is_refused(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    write_parquet(raw / "data.parquet", {"text": [GOOD]})
    (raw / "good.txt").write_text(GOOD, encoding="utf-8")
    # pyarrow made unimportable, as on an install without the extra
    code = ("import sys; sys.modules.update({'pyarrow': None, 'pyarrow.parquet': None}); "
            "from cleaner.cli import main; main()")
    res = subprocess.run([sys.executable, "-c", code, "clean", str(raw), "-o", str(tmp_path / "out"),
                          "--workers", "1"], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "data.parquet" in lines[0] and "pyarrow" in lines[0], res.stderr
    assert not (tmp_path / "out" / "manifest.jsonl").exists()


# ----------------------------------------------------------------------------- one big file, many workers


def big_containers(raw: Path) -> Path:
    """One big file of each container kind (several pieces each), and plain files."""
    raw.mkdir(parents=True)
    write_wet(raw / "crawl.warc.wet.gz", site_pages(150, seed=11))
    rows = [{"id": rid, "url": url, "text": text} for rid, url, text in site_pages(120, seed=12)]
    (raw / "data.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(jsonl_bytes(rows)))
    write_parquet(raw / "data.parquet", {k: [r[k] for r in rows[:90]] for k in ("id", "url", "text")})
    for i, (_, _, text) in enumerate(site_pages(8, seed=13)):
        (raw / "pages").mkdir(exist_ok=True)
        (raw / "pages" / f"p{i}.txt").write_text(text, encoding="utf-8")
    return raw


def _clean_piece(piece) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """The pass-1 stage function on a piece: which process cleaned how many records."""
    import os

    from cleaner.clean.stages import CleanSettings
    from cleaner.steps import read_and_clean

    return os.getpid(), len(read_and_clean(piece, CleanSettings(), sources.MAX_BYTES))


def test_one_files_records_spread_over_the_workers(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    write_wet(raw / "crawl.warc.wet.gz", site_pages(200, seed=11))
    items = list(sources.walk(raw))
    cut = list(pieces(items, sources.MAX_BYTES))
    assert len(cut) >= 200 // PIECE_RECORDS and sum(len(p.docs) for p in cut) == 200
    assert [p.last for p in cut] == [False] * (len(cut) - 1) + [True]
    with LocalEngine(2) as engine:
        done = list(engine.map(_clean_piece, pieces(items, sources.MAX_BYTES), chunksize=1))
    assert sum(n for _, n in done) == 200
    assert len({pid for pid, _ in done}) == 2, "both workers cleaned records of the one file"


@pytest.mark.slow
def test_split_containers_give_the_same_output_with_any_worker_count(tmp_path: Path) -> None:
    raw = big_containers(tmp_path / "raw")
    outs = {}
    for workers in ("1", "2"):
        outs[workers] = tmp_path / f"out{workers}"
        run_cli("clean", raw, "-o", outs[workers], "--workers", workers)
    for name in ("manifest.jsonl", "duplicates.json"):
        assert (outs["1"] / name).read_bytes() == (outs["2"] / name).read_bytes(), name
    assert same_tree(outs["1"] / "clean", outs["2"] / "clean")
    manifest = read_manifest(outs["1"])
    assert len(manifest) == 150 + 120 + 90 + 8
    assert sum(r["status"] == "duplicate" for r in manifest) > 20  # copies within and across files
    assert len(clean_rows(outs["1"], "crawl.jsonl")) > 100


@pytest.mark.ray
@pytest.mark.slow
def test_split_containers_on_ray_equal_local(tmp_path: Path, root: Path, ray_local) -> None:
    pytest.importorskip("ray")
    from .test_index import mixed_corpus

    raw = big_containers(tmp_path / "raw")
    mixed_corpus(raw / "mixed", root / "seeds")
    run_cli("clean", raw, "-o", tmp_path / "local", "--workers", "1")
    run_cli("clean", raw, "-o", tmp_path / "ray", "--engine", "ray", "--workers", "2")
    assert_same_run(tmp_path / "local", tmp_path / "ray")


def test_output_names_of_the_new_containers() -> None:
    assert output_name("cc/CC-MAIN-1.warc.wet.gz", True) == "cc/CC-MAIN-1.jsonl"
    assert output_name("d/part.jsonl.zst", True) == "d/part.jsonl"
    assert output_name("d/part.json.zst", True) == "d/part.jsonl"
    assert output_name("d/part.json.gz", True) == "d/part.jsonl"
    assert output_name("d/train-0001.parquet", True) == "d/train-0001.jsonl"
    assert [sources.kind_of(n) for n in ("a.warc.wet.gz", "a.warc.gz", "a.json.zst", "a.parquet", "a.json")] == \
        ["wet", "warc", "jsonl", "parquet", None]


def test_jsonl_lines_end_at_newline_only_and_binary_is_one_error(tmp_path: Path) -> None:
    """JSON strings may hold U+2028 and U+0085 raw: str.splitlines() would cut the record in
    two. A binary file under a JSONL name is one error for the file, not one per chunk."""
    text = "The council met on Monday.\u2028It approved the ferry budget.\u0085The vote was close."
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "seps.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes([{"id": "a", "text": text}])))
    (raw / "image.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 50)
    res, m = clean(raw, tmp_path / "out", "--no-dedup", expect=1)
    assert m[("seps.jsonl.gz", "a")]["status"] == "kept"
    assert [k for k in m if k[0] == "seps.jsonl.gz"] == [("seps.jsonl.gz", "a")]
    assert [k for k in m if k[0] == "image.jsonl"] == [("image.jsonl", None)]
    assert "binary content" in m[("image.jsonl", None)]["reason"]


def test_jsonl_line_numbers_count_every_empty_line(tmp_path: Path) -> None:
    """Runs of empty lines are skipped in bulk (a buffer at a time): every one still counts
    in the numbers of the lines after it (``line-N`` ids, errors) and in the line an error
    that stops the file comes after, across buffer boundaries, after a BOM and CRLF."""
    rec = json.dumps({"text": GOOD}).encode()
    data = (b"\xef\xbb\xbf\n" + b"\n" * 70_000 + rec + b"\n" + b"\r\n\n  \n" + b"\n" * 200_001 + b"{bad\n"
            + b"\n" + rec + b"\n" * 3)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jsonl").write_bytes(data)
    (raw / "b.jsonl.gz").write_bytes(gzip.compress(b"\n" * 300_000 + rec + b"\n" * 5_000_000, 9))
    docs = [d for it in sources.walk(raw) for d in sources.read(it, 4 << 20)]
    got = {(d.path, d.id): (d.status, d.reason, d.encoding) for d in docs}
    assert got == {
        ("a.jsonl", "line-70002"): ("kept", "", "utf-8-sig"),
        ("a.jsonl", "line-270007"): ("error", "line 270007: invalid JSON (Expecting property name enclosed in "
                                     "double quotes at column 2)", "utf-8-sig"),
        ("a.jsonl", "line-270009"): ("kept", "", "utf-8-sig"),
        ("b.jsonl.gz", "line-300001"): ("kept", "", "utf-8"),
        # the limit is --max-bytes (4 MiB; over 20 times the ~5 KB compressed): the lines of
        # the 4 MiB read before it, one of them the record
        ("b.jsonl.gz", None): ("error", "decompresses to more than 4 MB (gzip bomb?; --max-bytes raises the limit) "
                               f"after line {(4 << 20) - len(rec)}", None),
    }


def test_field_names_in_the_gate_and_index_add(tmp_path: Path) -> None:
    """`index add` and `check` read JSONL with other field names as `clean` does: a batch of
    republished copies, read by its `content` field, fails the gate against an index built
    from the originals; without the options its records have no text and the gate cannot
    judge them (every record an error: exit 1, no duplicate named)."""
    pages = site_pages(20, seed=5)
    rows = [{"doc_id": rid, "link": url, "content": text} for rid, url, text in pages]
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.jsonl").write_bytes(jsonl_bytes(rows[:10]))
    (tmp_path / "new").mkdir()
    copies = [dict(r, doc_id=f"copy-{r['doc_id']}") for r in rows[:4]]
    (tmp_path / "new" / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(jsonl_bytes(copies)))
    idx = tmp_path / "corpus.idx"
    names = ("--text-field", "content", "--id-field", "doc_id", "--url-field", "link")
    run_cli("index", "add", idx, tmp_path / "corpus", "--workers", "1", "-q", *names)
    res = run_cli("check", tmp_path / "new", "--index", idx, "--workers", "1", "--format", "json", *names, expect=1)
    report = json.loads(res.output)
    assert report["documents"] == 4 and report["duplicate_ratio"] == 1.0, report
    assert sorted(d["duplicate_of"]["id"] for d in report["duplicates"]) == sorted(r["doc_id"] for r in rows[:4])
    run_cli("check", tmp_path / "new", "--index", idx, "--workers", "1", "-q", expect=1)

"""The bad-input catalogue: each case gives a one-line message naming the file, the run
goes on with the other files, and the manifest accounts for the file."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from cleaner.sources import readers as sources

from .conftest import ROOT, read_manifest, run_cli

GOOD = ("The committee met on Tuesday to discuss the budget for next year, and the members "
        "agreed that the proposal needed more work before it could be approved.\n")


def scrape(tmp_path: Path, files: dict[str, bytes]) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "good.txt").write_text(GOOD, encoding="utf-8")
    for name, data in files.items():
        p = raw / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return raw


def clean(raw: Path, out: Path, *extra: str, expect: int | None = None):
    # duplicate detection is off: the cases reuse one sentence, and are about input handling
    result = run_cli("clean", raw, "-o", out, "--workers", "1", "--no-dedup", *extra, expect=expect)
    return result, {(r["path"], r["id"]): r for r in read_manifest(out)}


def assert_good_survived(out: Path, manifest: dict) -> None:
    assert manifest[("good.txt", None)]["status"] == "kept"
    assert (out / "clean" / "good.txt").read_text(encoding="utf-8").startswith("The committee met")


def one_line_naming(stderr: str, name: str) -> str:
    lines = [ln for ln in stderr.splitlines() if name in ln]
    assert lines, f"no message names {name!r}:\n{stderr}"
    return lines[0]


def test_empty_file(tmp_path: Path) -> None:
    raw = scrape(tmp_path, {"empty.txt": b""})
    res, m = clean(raw, tmp_path / "out", expect=0)
    assert m[("empty.txt", None)]["status"] == "empty"
    assert "empty" in one_line_naming(res.stderr, "empty.txt")
    assert_good_survived(tmp_path / "out", m)


@pytest.mark.parametrize("name, data, cause", [
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "PNG"),
    ("paper.html", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF"),
    ("nul.txt", b"some text\x00with NUL bytes\x00inside it\x00" * 20, "NUL"),
], ids=["png", "pdf", "nul"])
def test_binary_content_under_text_names(tmp_path: Path, name: str, data: bytes, cause: str) -> None:
    raw = scrape(tmp_path, {name: data})
    res, m = clean(raw, tmp_path / "out", expect=1)
    assert m[(name, None)]["status"] == "error"
    assert cause in m[(name, None)]["reason"]
    line = one_line_naming(res.stderr, name)
    assert cause in line and "error" in line
    assert_good_survived(tmp_path / "out", m)


def test_real_binary_files_are_skipped(tmp_path: Path) -> None:
    raw = scrape(tmp_path, {"logo.png": b"\x89PNG\r\n\x1a\n", "doc.pdf": b"%PDF-1.4"})
    res, m = clean(raw, tmp_path / "out", "-v", expect=0)
    assert m[("logo.png", None)]["status"] == "skipped"
    assert m[("doc.pdf", None)]["reason"] == "unsupported file type"
    one_line_naming(res.stderr, "logo.png")


def test_invalid_utf8_is_detected(tmp_path: Path) -> None:
    text = "Ceci est un texte français très complet, écrit à Noël par un élève appliqué. " * 4
    raw = scrape(tmp_path, {"latin1.txt": text.encode("latin-1"),
                            "ru.txt": ("Это русский текст. " * 20).encode("cp1251")})
    res, m = clean(raw, tmp_path / "out", "-v", expect=0)
    assert m[("latin1.txt", None)]["encoding"] == "cp1252"
    assert "écrit à Noël" in (tmp_path / "out" / "clean" / "latin1.txt").read_text(encoding="utf-8")
    assert "Это русский текст." in (tmp_path / "out" / "clean" / "ru.txt").read_text(encoding="utf-8")
    assert any("cp1252" in ln for ln in res.stderr.splitlines() if "latin1.txt" in ln), res.stderr


def test_utf16_without_bom(tmp_path: Path) -> None:
    raw = scrape(tmp_path, {"u16.txt": GOOD.replace("committee", "council").encode("utf-16-le")})
    _, m = clean(raw, tmp_path / "out", expect=0)
    assert m[("u16.txt", None)]["encoding"] == "utf-16-le"
    assert (tmp_path / "out" / "clean" / "u16.txt").read_text(encoding="utf-8").startswith("The council met")


@pytest.mark.slow
def test_200mb_single_line_file(tmp_path: Path) -> None:
    raw = scrape(tmp_path, {})
    with open(raw / "huge.txt", "wb") as f:
        chunk = b"word" * (1 << 20)
        for _ in range(50):
            f.write(chunk)  # 200 MiB, no newline
    res, m = clean(raw, tmp_path / "out", expect=1)
    assert m[("huge.txt", None)]["status"] == "error"
    assert "too large" in one_line_naming(res.stderr, "huge.txt")
    assert_good_survived(tmp_path / "out", m)


def test_deeply_nested_and_malformed_html(tmp_path: Path) -> None:
    nested = b"<html><body>" + b"<div>" * 50000 + b"deep" + b"</div>" * 50000 + b"</body></html>"
    malformed = (b"<html><head><title>x</title><body><p>Unclosed <b>bold <i>and</p> broken </div></span>"
                 b"<p>" + GOOD.encode() + b"<table><tr><td>cell</table></html>")
    raw = scrape(tmp_path, {"nested.html": nested, "malformed.html": malformed})
    res, m = clean(raw, tmp_path / "out")
    assert m[("nested.html", None)]["status"] in ("empty", "error", "kept")
    assert m[("malformed.html", None)]["status"] == "kept"
    assert "committee met" in (tmp_path / "out" / "clean" / "malformed.txt").read_text(encoding="utf-8")
    if m[("nested.html", None)]["status"] != "kept":
        one_line_naming(res.stderr, "nested.html")
    assert_good_survived(tmp_path / "out", m)


def _warc_record(uri: str, html: str) -> bytes:
    payload = ("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html).encode()
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {uri}\r\n"
            f"WARC-Record-ID: <urn:uuid:{abs(hash(uri)):032x}>\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload + b"\r\n\r\n"


def test_truncated_gzip_and_warc(tmp_path: Path) -> None:
    page = f"<html><body><article><p>{GOOD}</p></article></body></html>"
    whole = b"".join(gzip.compress(_warc_record(f"http://a.example/{i}", page)) for i in range(3))
    raw = scrape(tmp_path, {
        "cut.warc.gz": whole[: len(whole) - 40],
        "cut.jsonl.gz": gzip.compress(json.dumps({"text": GOOD}).encode() * 50)[:-30],
    })
    res, m = clean(raw, tmp_path / "out", expect=1)
    assert "truncated" in m[("cut.jsonl.gz", None)]["reason"]
    warc = [r for (p, i), r in m.items() if p == "cut.warc.gz"]
    assert [r["status"] for r in warc] == ["kept", "kept", "error"], warc
    assert "truncated" in warc[2]["reason"]
    assert "committee met" in (tmp_path / "out" / "clean" / "cut.jsonl").read_text(encoding="utf-8"), \
        "the complete records before the cut are still processed"
    assert "truncated" in one_line_naming(res.stderr, "cut.warc.gz")
    assert_good_survived(tmp_path / "out", m)


def newlines_gz(mb: int) -> bytes:
    """A gzip file of ``mb`` MiB of newlines, as ``gzip.compress(..., compresslevel=9)``
    makes one (a single member, ~1 KB a MiB), without deflating ``mb`` MiB (seconds for a
    bomb): after a full flush the compressor starts over, so every further MiB deflates to
    the same bytes, which are repeated; the trailer holds the CRC and size of the whole."""
    chunk = b"\n" * (1 << 20)
    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer
    first = z.compress(chunk) + z.flush(zlib.Z_FULL_FLUSH)
    again = z.compress(chunk) + z.flush(zlib.Z_FULL_FLUSH)
    last = z.flush()[:-8]  # the final (empty) block, without the trailer of 2 MiB
    crc = 0
    for _ in range(mb):
        crc = zlib.crc32(chunk, crc)
    return first + again * (mb - 1) + last + struct.pack("<II", crc, (mb << 20) & 0xFFFFFFFF)


def test_newlines_gz_inflates_to_its_newlines() -> None:
    for mb in (1, 2, 5):
        assert gzip.decompress(newlines_gz(mb)) == b"\n" * (mb << 20)
    assert 250_000 < len(newlines_gz(300)) < 350_000


def test_gzip_bomb_is_bounded(tmp_path: Path) -> None:
    bomb = newlines_gz(300)  # 300 MB of newlines, ~300 KB
    raw = scrape(tmp_path, {"bomb.jsonl.gz": bomb})
    res, m = clean(raw, tmp_path / "out", "--max-bytes", str(16 * 1024 * 1024), expect=1)
    assert "gzip bomb" in m[("bomb.jsonl.gz", None)]["reason"]
    one_line_naming(res.stderr, "bomb.jsonl.gz")


def test_broken_jsonl_lines(tmp_path: Path) -> None:
    lines = [json.dumps({"id": "a", "text": GOOD}), "{not json", json.dumps([1, 2]),
             json.dumps({"id": "b", "url": "http://x.example/b", "text": GOOD.replace("budget", "plan")}),
             json.dumps({"id": "c", "body": "no text field"})]
    raw = scrape(tmp_path, {"recs.jsonl": "\n".join(lines).encode()})
    res, m = clean(raw, tmp_path / "out", "--no-dedup", expect=1)
    assert m[("recs.jsonl", "a")]["status"] == "kept"
    assert m[("recs.jsonl", "b")]["status"] == "kept"
    assert m[("recs.jsonl", "line-2")]["status"] == "error"
    assert "invalid JSON" in m[("recs.jsonl", "line-2")]["reason"]
    assert m[("recs.jsonl", "line-3")]["reason"].endswith("not a JSON object")
    assert "no string field" in m[("recs.jsonl", "c")]["reason"]
    out_records = [json.loads(x) for x in (tmp_path / "out" / "clean" / "recs.jsonl").read_text().splitlines()]
    assert [r["id"] for r in out_records] == ["a", "b"]
    assert "line 2" in one_line_naming(res.stderr, "recs.jsonl#line-2")


def test_unreadable_file(tmp_path: Path) -> None:
    raw = scrape(tmp_path, {"secret.txt": GOOD.encode()})
    os.chmod(raw / "secret.txt", 0)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "cleaner", "clean", str(raw), "-o", str(out), "--workers", "1"]
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that let it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv")
        cmd = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    m = {(r["path"], r["id"]): r for r in read_manifest(out)}
    assert m[("secret.txt", None)]["reason"] == "permission denied"
    assert "permission denied" in one_line_naming(proc.stderr, "secret.txt")
    assert "Traceback" not in proc.stderr
    assert_good_survived(out, m)


def test_symlink_loops(tmp_path: Path) -> None:
    raw = scrape(tmp_path, {})
    os.symlink("b.txt", raw / "a.txt")
    os.symlink("a.txt", raw / "b.txt")
    (raw / "sub").mkdir()
    os.symlink("..", raw / "sub" / "up")
    res, m = clean(raw, tmp_path / "out", expect=0)
    assert m[("a.txt", None)]["reason"] == "symlink loop"
    assert m[("sub/up", None)]["reason"] == "symlink to a directory (not followed)"
    one_line_naming(res.stderr, "a.txt")
    assert_good_survived(tmp_path / "out", m)


def test_file_vanishing_during_the_run(tmp_path: Path) -> None:
    raw = scrape(tmp_path, {"gone.txt": GOOD.encode()})
    items = list(sources.walk(raw))
    (raw / "gone.txt").unlink()  # between listing and reading, as a concurrent scraper would
    docs = [d for it in items for d in sources.read(it)]
    gone = [d for d in docs if d.path == "gone.txt"]
    assert len(gone) == 1 and gone[0].status == "error" and gone[0].reason == "vanished during the run"


def test_odd_names(tmp_path: Path) -> None:
    names = ["new\nline.txt", "ünï cødé – 日本.txt", "tab\tand spaces .txt"]
    raw = scrape(tmp_path, {n: GOOD.replace("budget", f"budget {i}").encode() for i, n in enumerate(names)})
    os.symlink("new\nline.txt", raw / "bad\x01ctl.txt")
    res, m = clean(raw, tmp_path / "out", expect=0)
    for n in names:
        assert m[(n, None)]["status"] == "kept"
        assert (tmp_path / "out" / "clean" / n).exists()
    for line in res.stderr.splitlines():
        assert "\n" not in line


def test_output_inside_input(tmp_path: Path) -> None:
    raw = scrape(tmp_path, {})
    out = raw / "out"
    _, m = clean(raw, out, expect=0)
    _, m2 = clean(raw, out, expect=0)  # second run must not read the first run's output
    assert set(m) == set(m2) == {("good.txt", None)}


def test_malformed_rule_file(tmp_path: Path) -> None:
    raw = scrape(tmp_path, {})
    rules = tmp_path / "myrules"
    rules.mkdir()
    (rules / "bad.toml").write_text('[pack]\ncategory = "share"\n\n[[rule]]\nid = "x.share.a"\nkind = "line\n')
    res = run_cli("clean", raw, "-o", tmp_path / "out", "--rules", rules, expect=2)
    line = one_line_naming(res.stderr, "bad.toml")
    assert "line 6" in line and "invalid TOML" in line


def test_catastrophic_regex_rejected(tmp_path: Path) -> None:
    raw = scrape(tmp_path, {})
    rules = tmp_path / "myrules"
    rules.mkdir()
    (rules / "share.toml").write_text(
        '[pack]\nlanguage = "xx"\ncategory = "share"\n\n[[rule]]\nid = "xx.share.evil"\nkind = "line"\n'
        "pattern = '(a|aa)+(?!x)$'\nmatch = ['aaa']\nno_match = ['b']\n")
    res = run_cli("clean", raw, "-o", tmp_path / "out", "--rules", rules, expect=2)
    assert "backtracks catastrophically" in one_line_naming(res.stderr, "share.toml")


def test_ids_cannot_escape_output(tmp_path: Path) -> None:
    recs = [{"id": "../../escape", "text": GOOD}, {"id": "/etc/passwd", "text": GOOD.replace("budget", "road")}]
    raw = scrape(tmp_path, {"r.jsonl": "\n".join(json.dumps(r) for r in recs).encode()})
    _, m = clean(raw, tmp_path / "out", "--no-dedup", expect=0)
    assert m[("r.jsonl", "../../escape")]["output"] == "clean/r.jsonl"
    assert not (tmp_path / "escape").exists() and not (tmp_path / "out" / "escape").exists()
    files = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*")
                   if p.is_file() and not p.name.startswith("."))
    assert files == ["clean/good.txt", "clean/r.jsonl", "manifest.jsonl", "report.html", "summary.json"]


def test_a_plain_file_is_sized_and_dated_by_the_file_it_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    """A plain file's size (its limit) and date come from one ``fstat`` of the file as
    opened: the path is not looked up and stat'ed again for them (each was a syscall and a
    path walk per file in pass 1)."""
    path = tmp_path / "a.txt"
    path.write_bytes(b"Some text.\n")
    os.utime(path, (1_600_000_000, 1_600_000_000))

    def no_stat(*a: object, **k: object) -> None:
        raise AssertionError("the path was stat'ed again")

    for name in ("getsize", "getmtime"):
        monkeypatch.setattr(sources.os.path, name, no_stat)
    item = sources.InputFile(root=str(tmp_path), rel="a.txt", kind="text")
    doc = next(sources.read(item))
    assert (doc.status, doc.text, doc.date) == ("kept", "Some text.\n", "2020-09-13T12:26:40+00:00")
    big = sources.InputFile(root=str(tmp_path), rel="a.txt", kind="text")
    doc = next(sources.read(big, max_bytes=4))
    assert (doc.status, doc.reason) == ("error", "too large (0.0 MB > limit 0 MB)")


def test_a_file_read_in_short_reads_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file is read through its descriptor: a read that returns fewer bytes than asked
    (a signal, a read over 2 GB on Linux) is followed by more, to the file's end or the
    limit, as a file object's ``read`` does."""
    path = tmp_path / "short.txt"
    path.write_bytes(bytes(range(256)) * 40)
    read = os.read
    monkeypatch.setattr(sources.os, "read", lambda fd, n: read(fd, min(n, 7)))
    assert sources._read_bytes(str(path), 100_000)[0] == bytes(range(256)) * 40
    fstat = os.fstat  # sized small, then grown: read on to the limit in short reads too
    monkeypatch.setattr(sources.os, "fstat", lambda fd: os.stat_result((*fstat(fd)[:6], 100, *fstat(fd)[7:])))
    assert sources._read_bytes(str(path), 100_000)[0] == bytes(range(256)) * 40
    with pytest.raises(sources.InputError, match="too large"):
        sources._read_bytes(str(path), 5000)


def test_a_file_that_grows_after_it_was_sized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file is read to its listed size and one byte more: a file that grew since it was
    sized (still being written by the scraper) is read whole up to the limit, and over the
    limit it is refused as too large, as a file that was large from the start."""
    path = tmp_path / "growing.txt"
    path.write_bytes(b"x" * 5000)
    fstat = os.fstat
    # sized before it grew
    monkeypatch.setattr(sources.os, "fstat", lambda fd: os.stat_result((*fstat(fd)[:6], 100, *fstat(fd)[7:])))
    assert sources._read_bytes(str(path), 10_000)[0] == b"x" * 5000
    with pytest.raises(sources.InputError, match="too large"):
        sources._read_bytes(str(path), 4096)


def test_a_directory_in_place_of_a_file_is_named_as_one(tmp_path: Path) -> None:
    """A file replaced by a directory between the listing and the read: ``open()`` refused
    it ("Is a directory"); ``os.open`` gives a descriptor, so the size test must not speak
    first (a directory's size on disk is not its text's)."""
    folder = tmp_path / "was_a_file"
    folder.mkdir()
    for i in range(200):  # a directory of a few KB on disk
        (folder / f"entry-{i:04d}-with-a-long-name").touch()
    assert folder.stat().st_size > 1000
    for limit in (1000, 100_000_000):
        with pytest.raises(sources.InputError, match="^Is a directory$"):
            sources._read_bytes(str(folder), limit)

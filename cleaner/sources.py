"""Sources: walk a scrape directory and yield documents.

Each input file becomes one :class:`~cleaner.document.Document` (plain text, HTML) or one
per record (JSONL, WARC). Nothing is silently dropped: a file that cannot be read still
yields a document with status ``skipped`` or ``error`` and a one-line reason, so the
manifest accounts for every input. The raw directory is only ever opened for reading.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from .document import Document
from .normalise import DecodeError, decode

TEXT_EXTS = (".txt", ".text", ".md")
HTML_EXTS = (".html", ".htm", ".xhtml")
JSONL_EXTS = (".jsonl", ".jsonl.gz")
WARC_EXTS = (".warc", ".warc.gz")

#: Default largest input (decompressed) we read; larger ones are skipped, by name.
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    """A file found under the scrape root, before it is read."""

    root: str
    rel: str  # POSIX relative path
    kind: str | None  # text | html | jsonl | warc | None (unsupported)
    note: str = ""  # why it is skipped when kind is None

    @property
    def abspath(self) -> str:
        return os.path.join(self.root, *self.rel.split("/"))


def kind_of(name: str) -> str | None:
    lower = name.lower()
    for kind, exts in (("warc", WARC_EXTS), ("jsonl", JSONL_EXTS), ("html", HTML_EXTS), ("text", TEXT_EXTS)):
        if lower.endswith(exts):
            return kind
    return None


def walk(root: str | os.PathLike[str], exclude: list[str] | None = None) -> Iterator[InputFile]:
    """Every file under ``root`` in sorted order (so runs are deterministic).

    Directory symlinks are not followed (that is how symlink loops are avoided); file
    symlinks are read through. Paths in ``exclude`` (an output directory placed inside
    the input) are not entered.
    """
    root = os.fspath(root)
    excluded = {os.path.realpath(p) for p in exclude or []}

    def onerror(err: OSError) -> None:
        raise err

    stack = [""]
    while stack:
        rel_dir = stack.pop()
        full_dir = os.path.join(root, *rel_dir.split("/")) if rel_dir else root
        try:
            entries = sorted(os.scandir(full_dir), key=lambda e: e.name)
        except OSError as exc:
            yield InputFile(root, rel_dir or ".", None, f"unreadable directory: {exc.strerror}")
            continue
        subdirs = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if os.path.realpath(entry.path) in excluded:
                        continue
                    subdirs.append(rel)
                    continue
                if entry.is_symlink():
                    try:
                        st = os.stat(entry.path)
                    except OSError as exc:
                        cause = "symlink loop" if _oserror(exc) == "symlink loop" else f"broken symlink: {exc.strerror}"
                        yield InputFile(root, rel, None, cause)
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        yield InputFile(root, rel, None, "symlink to a directory (not followed)")
                        continue
                elif not entry.is_file(follow_symlinks=False):
                    yield InputFile(root, rel, None, "not a regular file")
                    continue
            except OSError as exc:
                yield InputFile(root, rel, None, f"cannot stat: {exc.strerror}")
                continue
            kind = kind_of(entry.name)
            yield InputFile(root, rel, kind, "" if kind else "unsupported file type")
        stack.extend(reversed(subdirs))


class InputError(Exception):
    """A file-level failure; its message is the one-line cause."""


def _read_bytes(path: str, max_bytes: int) -> bytes:
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise InputError(f"too large ({size / 1e6:.1f} MB > limit {max_bytes / 1e6:.0f} MB)")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise InputError("vanished during the run") from exc
    except PermissionError as exc:
        raise InputError("permission denied") from exc
    except OSError as exc:
        raise InputError(_oserror(exc)) from exc
    if len(data) > max_bytes:
        raise InputError(f"too large (> limit {max_bytes / 1e6:.0f} MB)")
    return data


def _oserror(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return exc.strerror or str(exc)


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress with a bound: a gzip bomb stops at ``max_bytes``, it is not expanded."""
    out = bytearray()
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    buf = data
    while buf:
        chunk = d.decompress(buf, max_bytes + 1 - len(out))
        out += chunk
        if len(out) > max_bytes:
            raise InputError(f"decompresses to more than {max_bytes / 1e6:.0f} MB (gzip bomb?)")
        buf = d.unconsumed_tail
        if d.eof:
            if d.unused_data:  # concatenated gzip members
                buf = d.unused_data
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                break
    if not d.eof:
        raise InputError("truncated gzip stream")
    return bytes(out)


def read(item: InputFile, max_bytes: int = MAX_BYTES) -> Iterator[Document]:
    """Documents of one input file. Never raises for bad input: failures are documents."""
    if item.kind is None:
        yield Document(path=item.rel, status="skipped", reason=item.note)
        return
    try:
        if item.kind in ("text", "html"):
            yield _read_single(item, max_bytes)
        elif item.kind == "jsonl":
            yield from _read_jsonl(item, max_bytes)
        else:
            yield from _read_warc(item, max_bytes)
    except InputError as exc:
        yield Document(path=item.rel, kind=item.kind, status="error", reason=str(exc))


def _read_single(item: InputFile, max_bytes: int) -> Document:
    data = _read_bytes(item.abspath, max_bytes)
    doc = Document(path=item.rel, kind=item.kind or "text", chars_in=0)
    try:
        doc.date = _mtime(item.abspath)
    except OSError:
        pass
    if not data.strip():
        doc.encoding = "utf-8" if data else None
        return doc.fail("empty", "empty file")
    try:
        doc.text, doc.encoding = decode(data, html=doc.kind == "html")
    except DecodeError as exc:
        return doc.fail("error", str(exc))
    doc.chars_in = len(doc.text)
    return doc


def _mtime(path: str) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(os.path.getmtime(path), tz=UTC).isoformat()


def _read_jsonl(item: InputFile, max_bytes: int) -> Iterator[Document]:
    data = _read_bytes(item.abspath, max_bytes)
    if item.rel.lower().endswith(".gz"):
        data = _gunzip(data, max_bytes)
    try:
        text, encoding = decode(data) if data.strip() else ("", "utf-8")
    except DecodeError as exc:
        raise InputError(str(exc)) from exc
    if not text.strip():
        yield Document(path=item.rel, kind="jsonl", encoding=encoding, status="empty", reason="empty file")
        return
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fallback_id = f"line-{lineno}"
        doc = Document(path=item.rel, id=fallback_id, kind="jsonl", container=True, encoding=encoding)
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield doc.fail("error", f"line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            yield doc.fail("error", f"line {lineno}: not a JSON object")
            continue
        rid = record.get("id")
        doc.id = str(rid) if rid is not None and str(rid) else fallback_id
        if doc.id in seen:
            doc.id = f"{doc.id}@line-{lineno}"
        seen.add(doc.id)
        url = record.get("url")
        doc.url = url if isinstance(url, str) else None
        for key in ("date", "timestamp", "published"):
            if isinstance(record.get(key), str):
                doc.date = record[key]
                break
        if isinstance(record.get("text"), str):
            doc.text = record["text"]
        elif isinstance(record.get("html"), str):
            doc.text, doc.kind = record["html"], "html"
        else:
            yield doc.fail("error", f"line {lineno}: no string field 'text' or 'html'")
            continue
        doc.chars_in = len(doc.text)
        if not doc.text.strip():
            doc.fail("empty", "empty text")
        yield doc


def _read_warc(item: InputFile, max_bytes: int) -> Iterator[Document]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    path = item.abspath
    try:
        size = os.path.getsize(path)
        fh = open(path, "rb")
    except FileNotFoundError as exc:
        raise InputError("vanished during the run") from exc
    except OSError as exc:
        raise InputError(_oserror(exc)) from exc
    total = 0
    n = 0
    with fh:
        try:
            for record in ArchiveIterator(fh):
                if record.rec_type not in ("response", "resource"):
                    continue
                n += 1
                rid = record.rec_headers.get_header("WARC-Record-ID") or f"record-{n}"
                rid = rid.strip("<>")
                doc = Document(path=item.rel, id=rid, kind="html", container=True)
                doc.url = record.rec_headers.get_header("WARC-Target-URI")
                doc.date = record.rec_headers.get_header("WARC-Date")
                ctype = ""
                if record.http_headers is not None:
                    ctype = record.http_headers.get_header("Content-Type") or ""
                else:
                    ctype = record.rec_headers.get_header("Content-Type") or ""
                mime = ctype.split(";")[0].strip().lower()
                payload = record.content_stream().read(max_bytes + 1)
                total += len(payload)
                if len(payload) > max_bytes or total > max(max_bytes, 20 * size + 1_000_000):
                    raise InputError(f"record {n} decompresses beyond the size limit (gzip bomb?)")
                missing = getattr(record.raw_stream, "limit", 0) or 0
                if missing > 0:  # the stream ended before the record's Content-Length
                    yield doc.fail("error", f"truncated WARC record ({missing} bytes missing)")
                    continue
                if mime and "html" not in mime and not mime.startswith("text/"):
                    yield doc.fail("skipped", f"not HTML ({mime})")
                    continue
                if mime.startswith("text/") and "html" not in mime:
                    doc.kind = "text"
                try:
                    doc.text, doc.encoding = _decode_http(payload, ctype)
                except DecodeError as exc:
                    yield doc.fail("error", str(exc))
                    continue
                doc.chars_in = len(doc.text)
                if not doc.text.strip():
                    doc.fail("empty", "empty payload")
                yield doc
        except (ArchiveLoadFailed, EOFError, zlib.error, gzip.BadGzipFile, OSError, ValueError) as exc:
            where = f"after {n} records" if n else "at the start"
            raise InputError(f"truncated or malformed WARC {where}: {str(exc).splitlines()[0][:120]}") from exc
    if n == 0:
        yield Document(path=item.rel, kind="warc", status="empty", reason="no response records")


def _decode_http(payload: bytes, ctype: str) -> tuple[str, str]:
    charset = None
    for part in ctype.split(";")[1:]:
        k, _, v = part.partition("=")
        if k.strip().lower() == "charset":
            charset = v.strip().strip("\"'").lower()
    if charset:
        try:
            return payload.decode(charset), charset
        except (LookupError, UnicodeDecodeError):
            pass
    return decode(payload)


def iter_documents(root: str | Path, exclude: list[str] | None = None,
                   max_bytes: int = MAX_BYTES) -> Iterator[Document]:
    """Every document under ``root``: the whole source stage in one call."""
    for item in walk(root, exclude):
        yield from read(item, max_bytes)

"""Sources: walk a scrape directory and yield documents.

Each input file becomes one :class:`~cleaner.document.Document` (plain text, HTML) or one
per record (JSONL, WARC). Nothing is silently dropped: a file that cannot be read still
yields a document with status ``skipped`` or ``error`` and a one-line reason, so the
manifest accounts for every input. The raw directory is only ever opened for reading.

The root may also be an object-store URI (``s3://bucket/prefix``, ``gs://…``, anything
``pyarrow.fs.FileSystem.from_uri`` accepts). Such a tree is listed once, in the same order
and with the same relative paths as a local copy of it, and each object is read through the
same decode and size-limit code as a local file, so the two runs give the same outputs.
Workers and Ray tasks get only the URI string and open the filesystem themselves.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from .document import Document
from .normalise import DecodeError, decode

TEXT_EXTS = (".txt", ".text", ".md")
HTML_EXTS = (".html", ".htm", ".xhtml")
JSONL_EXTS = (".jsonl", ".jsonl.gz")
WARC_EXTS = (".warc", ".warc.gz")

#: Default largest input (decompressed) we read; larger ones are skipped, by name.
MAX_BYTES = 64 * 1024 * 1024


class LocationError(Exception):
    """An input or output location that cannot be used at all (no such bucket, no access,
    an unknown scheme); its message is one line naming the location."""


def is_uri(spec: str | os.PathLike[str]) -> bool:
    """True for ``scheme://…`` (a scheme of two letters or more, so ``C:/x`` stays a path).
    Only strings can be URIs: a :class:`~pathlib.Path` has already folded ``//`` into ``/``."""
    return isinstance(spec, str) and _URI.match(spec) is not None


_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


def location(spec: str | os.PathLike[str]) -> Path | str:
    """A command-line location as the pipeline uses it: a :class:`Path`, or a URI string.

    ``file://`` URIs become paths, so they get the local reader's symlink handling and the
    local writer's lock and atomic renames rather than pyarrow's generic local filesystem."""
    if is_uri(spec):
        parts = urlsplit(str(spec))
        if parts.scheme.lower() != "file":
            return str(spec)
        return Path(unquote(parts.path))
    return Path(spec)


def display(uri: str) -> str:
    """The URI for a message: any ``user:secret@`` part is left out."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def filesystem(uri: str) -> tuple[Any, str]:
    """``(pyarrow filesystem, path without trailing slash)`` for a URI, made once per process.

    The cache is per process id: a worker forked from the driver makes its own client
    instead of sharing the driver's connections (and never destroys the driver's)."""
    return _filesystem(os.getpid(), uri)


@cache
def _filesystem(pid: int, uri: str) -> tuple[Any, str]:
    try:
        from pyarrow import fs as pafs
    except ImportError:
        raise LocationError(f"{display(uri)}: object-store paths need pyarrow: "
                            "pip install 'scrape-cleaner[cloud]'") from None
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as exc:  # ArrowInvalid is a ValueError: unknown scheme, bad option
        raise LocationError(f"{display(uri)}: {error_line(exc)}") from exc
    return fs, path.rstrip("/")


def error_line(exc: BaseException) -> str:
    """The first line of an error's message: pyarrow's and the AWS SDK's run to several."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def check_root(uri: str) -> None:
    """Fail early, with one line, when an input URI is not a listable directory."""
    from pyarrow import fs as pafs

    fs, path = filesystem(uri)
    try:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound and not bucket_exists(fs, path):
            raise LocationError(f"{display(uri)}: no such bucket")
    except OSError as exc:  # no access, bad credentials, unreachable endpoint
        raise LocationError(f"{display(uri)}: {error_line(exc)}") from exc
    if info.type == pafs.FileType.NotFound:
        raise LocationError(f"{display(uri)}: no such directory (no object under this prefix)")
    if info.type != pafs.FileType.Directory:
        raise LocationError(f"{display(uri)}: not a directory")


def bucket_exists(fs: Any, path: str) -> bool:
    """False when ``path``'s bucket is missing on a store with buckets (S3, GCS); in a
    bucket a missing prefix is only an empty folder, a missing bucket is a typo."""
    from pyarrow import fs as pafs

    if fs.type_name not in ("s3", "gcs"):
        return True
    return bool(fs.get_file_info(path.split("/", 1)[0]).type != pafs.FileType.NotFound)


@dataclass(frozen=True)
class InputFile:
    """A file found under the scrape root, before it is read.

    For an object store ``root`` is the URI string, and ``size`` and ``mtime`` come from
    the listing (a stat per object would be a request per object); both are ``None`` for
    local files, which are stat'ed when read, as before."""

    root: str
    rel: str  # POSIX relative path
    kind: str | None  # text | html | jsonl | warc | None (unsupported)
    note: str = ""  # why it is skipped when kind is None
    size: int | None = None
    mtime: str | None = None

    @property
    def remote(self) -> bool:
        return is_uri(self.root)

    @property
    def abspath(self) -> str:
        """The local path, or for an object the path inside its filesystem."""
        if self.remote:
            return f"{filesystem(self.root)[1]}/{self.rel}"
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
    the input) are not entered. A URI root is listed by :func:`walk_uri`.
    """
    if is_uri(root):
        yield from walk_uri(str(root), exclude)
        return
    root = os.fspath(root)
    excluded = {os.path.realpath(p) for p in exclude or [] if not is_uri(p)}

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


def walk_uri(root: str, exclude: list[str] | None = None) -> Iterator[InputFile]:
    """Every object under a URI root, in :func:`walk`'s order: the files of a folder by
    name, then each subfolder in name order. That order is not plain sorted keys
    (``b.txt`` comes before ``a/x.txt``), and it decides which copy of a duplicate is kept
    first, so a local copy of the tree and the store must agree on it.

    One recursive listing (``FileSelector``), not a request per folder. An output URI
    inside the root is left out, as a local output folder inside the input is."""
    from pyarrow import fs as pafs

    fs, base = filesystem(root)
    skip = [f"{p}/" for p in (_same_store_path(root, e) for e in exclude or []) if p is not None]
    try:
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    except FileNotFoundError as exc:
        raise LocationError(f"{display(root)}: no such directory") from exc
    except OSError as exc:
        raise LocationError(f"{display(root)}: cannot list: {error_line(exc)}") from exc
    found = []
    for info in infos:
        if info.type != pafs.FileType.File or any(info.path.startswith(p) for p in skip):
            continue
        rel = info.path[len(base) + 1:] if base else info.path
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts):  # a key no local tree can hold
            found.append((parts, InputFile(root, rel, None, "unusable object name (empty, '.' or '..' part)")))
            continue
        mtime = info.mtime.astimezone(UTC).isoformat() if info.mtime is not None else None
        kind = kind_of(parts[-1])
        found.append((parts, InputFile(root, rel, kind, "" if kind else "unsupported file type",
                                       size=info.size, mtime=mtime)))
    found.sort(key=lambda pf: [(1, d) for d in pf[0][:-1]] + [(0, pf[0][-1])])
    for _, item in found:
        yield item


def _same_store_path(root: str, other: str) -> str | None:
    """``other``'s path inside ``root``'s filesystem, when both are URIs of one store."""
    if not is_uri(other):
        return None
    a, b = urlsplit(root), urlsplit(other)
    if (a.scheme.lower(), a.query) != (b.scheme.lower(), b.query):
        return None
    try:
        return filesystem(other)[1]
    except LocationError:
        return None


class InputError(Exception):
    """A file-level failure; its message is the one-line cause."""


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise InputError(f"too large ({size / 1e6:.1f} MB > limit {max_bytes / 1e6:.0f} MB)")


@contextmanager
def _opening(describe: Callable[[OSError], str]) -> Iterator[None]:
    """Errors opening a local file or an object, as one-line input errors."""
    try:
        yield
    except FileNotFoundError as exc:
        raise InputError("vanished during the run") from exc
    except PermissionError as exc:
        raise InputError("permission denied") from exc
    except OSError as exc:
        raise InputError(describe(exc)) from exc


def _read_bytes(path: str, max_bytes: int) -> bytes:
    with _opening(_oserror):
        _check_size(os.path.getsize(path), max_bytes)
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(f"too large (> limit {max_bytes / 1e6:.0f} MB)")
    return data


def _load(item: InputFile, max_bytes: int) -> bytes:
    """The bytes of a local file or an object, under the same limit and messages."""
    if not item.remote:
        return _read_bytes(item.abspath, max_bytes)
    with _open_object(item) as (f, size):
        _check_size(size, max_bytes)
        try:
            return f.read()
        except OSError as exc:
            raise InputError(f"read failed: {error_line(exc)}") from exc


@contextmanager
def _open_object(item: InputFile, buffer_size: int = 0) -> Iterator[tuple[Any, int]]:
    """An object opened for reading, and its size now (it may have changed since the
    listing). ``open_input_file``, not ``open_input_stream``: the stream would gunzip
    ``.gz`` objects by their name, and the readers here bound decompression themselves.
    With ``buffer_size`` the file is read through a buffer of that size (WARC parsing
    asks for small pieces; unbuffered, each would be a ranged request)."""
    import pyarrow as pa

    fs, _ = filesystem(item.root)
    with _opening(error_line):
        f = fs.open_input_file(item.abspath)
        size = f.size()
    try:
        yield (pa.BufferedInputStream(f, buffer_size) if buffer_size else f), size
    finally:
        f.close()


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
    data = _load(item, max_bytes)
    doc = Document(path=item.rel, kind=item.kind or "text", chars_in=0)
    try:
        doc.date = item.mtime if item.remote else _mtime(item.abspath)
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
    data = _load(item, max_bytes)
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
            # json's messages may end in "at" already ("Unterminated string starting at")
            where = f"{'' if exc.msg.endswith(' at') else ' at'} column {exc.colno}"
            yield doc.fail("error", f"line {lineno}: invalid JSON ({exc.msg}{where})")
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

    opened = _open_object(item, buffer_size=1 << 20) if item.remote else _local_file(item.abspath)
    total = 0
    n = 0
    with opened as (fh, size):
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


@contextmanager
def _local_file(path: str) -> Iterator[tuple[Any, int]]:
    try:
        size = os.path.getsize(path)
        fh = open(path, "rb")
    except FileNotFoundError as exc:
        raise InputError("vanished during the run") from exc
    except OSError as exc:
        raise InputError(_oserror(exc)) from exc
    with fh:
        yield fh, size


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

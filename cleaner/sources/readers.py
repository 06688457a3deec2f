"""Sources: walk a scrape directory and yield documents.

Each input file becomes one :class:`~cleaner.document.Document` (plain text, HTML) or one
per record (JSONL, WARC, Common Crawl WET, Parquet: the *containers*). Nothing is silently
dropped: a file that cannot be read still yields a document with status ``skipped`` or
``error`` and a one-line reason, so the manifest accounts for every input. The raw
directory is only ever opened for reading.

The root may also be an object-store URI (``s3://bucket/prefix``, ``gs://…``, anything
``pyarrow.fs.FileSystem.from_uri`` accepts). Such a tree is listed once, in the same order
and with the same relative paths as a local copy of it, and each object is read through the
same decode and size-limit code as a local file, so the two runs give the same outputs.
Workers and Ray tasks get only the URI string of a plain file and open the filesystem
themselves; containers are streamed by the driver, which hands out their records
(``steps.Piece``).

Containers are read as streams, a record at a time (gzip and zstd inflated as they are
read, Parquet a row group at a time), so what a container costs in memory is the records
being read, not the file: a Common Crawl file is a gigabyte compressed. ``--max-bytes``
bounds a plain file, and each record of a container.
"""

from __future__ import annotations

import codecs
import errno
import gzip
import io
import json
import logging
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from ..clean.normalise import _BOMS, _MAGIC, DecodeError, _utf16_without_bom, decode
from ..document import Document
from .storage import LocationError, display, error_line, filesystem, is_uri

TEXT_EXTS = (".txt", ".text", ".md")
HTML_EXTS = (".html", ".htm", ".xhtml")
JSONL_EXTS = (".jsonl", ".jsonl.gz", ".json.gz", ".jsonl.zst", ".json.zst")
WARC_EXTS = (".warc", ".warc.gz")
#: Common Crawl's plain-text extraction: WARC files of ``conversion`` records.
WET_EXTS = (".warc.wet", ".warc.wet.gz", ".wet", ".wet.gz")
PARQUET_EXTS = (".parquet",)

#: A compressed container may inflate to this many times its size (or ``--max-bytes``,
#: when that is more) before it is taken for a decompression bomb; text compresses 3 to 10
#: times. Streams are read a record at a time, so this guards time, not memory.
INFLATE_RATIO = 20

PARQUET_EXTRA = "pip install 'scrape-cleaner[parquet]'"

#: Default largest input (decompressed) we read; larger ones are skipped, by name.
log = logging.getLogger("cleaner")

MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Fields:
    """Which field of a JSONL record, or column of a Parquet file, holds a document's text,
    id and url (``--text-field``, ``--id-field``, ``--url-field``). Published corpora name
    them differently (``content``, ``raw_content``, ``doc_id``); an ``html`` field is read
    as a page when the text field is absent."""

    text: str = "text"
    id: str = "id"
    url: str = "url"


DEFAULT_FIELDS = Fields()


@dataclass(frozen=True)
class InputFile:
    """A file found under the scrape root, before it is read.

    For an object store ``root`` is the URI string, and ``size`` and ``mtime`` come from
    the listing (a stat per object would be a request per object); both are ``None`` for
    local files, which are stat'ed when read, as before."""

    root: str
    rel: str  # POSIX relative path
    kind: str | None  # text | html | jsonl | warc | wet | parquet | None (unsupported)
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


#: A reader: the documents of one input file (see :func:`read` for the contract: bad input
#: is a document with its fate, never an exception; :class:`InputError` is turned into one).
Reader = Callable[["InputFile", int, Fields], Iterator[Document]]


@dataclass(frozen=True)
class Format:
    """An input format: its kind (the name ``InputFile.kind`` and the manifest use), the
    file name endings that select it, its reader, and whether it is a *container* (many
    documents per file: the driver streams its records to the workers in pieces, and its
    kept records are written to one ``.jsonl`` output named after it)."""

    kind: str
    exts: tuple[str, ...]
    read: Reader
    container: bool = False


#: The input formats by kind: the one place that says which files are read and how. Walking
#: (:func:`kind_of`), reading (:func:`read`), splitting into pieces (``steps.pieces``) and
#: output naming (``outputs.writers.output_name``, via :func:`input_ext`) all consult it.
FORMATS: dict[str, Format] = {}


def register(kind: str, exts: tuple[str, ...], container: bool = False) -> Callable[[Reader], Reader]:
    """Register the decorated function as the reader of files ending in ``exts`` (lower
    case, with the dot). A name is matched against the longest registered ending, so
    ``.warc.wet.gz`` can belong to another format than ``.gz`` would. Readers run in the
    engine's workers: the local engine forks them after registration; Ray workers import
    cleaner afresh, so a format for Ray must be registered in a module they import."""

    def add(fn: Reader) -> Reader:
        FORMATS[kind] = Format(kind, tuple(e.lower() for e in exts), fn, container)
        return fn

    return add


def input_ext(name: str) -> str | None:
    """The registered ending ``name`` has (the longest, compared case-insensitively), or None."""
    lower = name.lower()
    best = None
    for fmt in FORMATS.values():
        if lower.endswith(fmt.exts):  # one call a format: the writer names every kept file
            for ext in fmt.exts:
                if lower.endswith(ext) and (best is None or len(ext) > len(best)):
                    best = ext
    return best


def kind_of(name: str) -> str | None:
    """The kind of format a file name selects (None: not read, "unsupported file type")."""
    ext = input_ext(name)
    if ext is None:
        return None
    return next(fmt.kind for fmt in FORMATS.values() if ext in fmt.exts)


def is_container(kind: str | None) -> bool:
    """Whether files of this kind hold many documents (see :class:`Format`)."""
    return kind is not None and kind in FORMATS and FORMATS[kind].container


def walk(root: str | os.PathLike[str], exclude: list[str] | None = None) -> Iterator[InputFile]:
    """Every file under ``root`` in sorted order (so runs are deterministic).

    Directory symlinks are not followed (that is how symlink loops are avoided); file
    symlinks are read through. Paths in ``exclude`` (this run's output directory placed
    inside the input) are not entered, nor is any other cleaner output folder (see
    :func:`is_output_folder`): a previous run's ``OUT/clean`` holds the same texts again,
    and reading them back would make every document a duplicate of its own output. A URI
    root is listed by :func:`walk_uri`.
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
        if rel_dir and is_output_folder({e.name for e in entries}):
            log.info("%s: a cleaner output folder inside the input; not read", rel_dir)
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


def is_output_folder(names: set[str]) -> bool:
    """Whether a folder holding these names is a cleaner output folder, which is never read
    as input: it holds the lock every local run takes in OUT (so do its staging folders,
    which live in OUT), or what every run publishes (an object-store OUT has no lock): a
    manifest and a summary beside clean/, duplicates.json or report.html. A scrape's own
    ``manifest.jsonl`` alone does not make its folder an output."""
    return ".cleaner.lock" in names or (
        {"manifest.jsonl", "summary.json"} <= names and bool(names & {"clean", "duplicates.json", "report.html"}))


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
    names: dict[str, set[str]] = {}  # the names in each folder, to find cleaner output folders
    for info in infos:
        folder, _, name = info.path.rpartition("/")
        names.setdefault(folder, set()).add(name)
    skip += [f"{folder}/" for folder, held in names.items()
             if folder != base and folder.startswith(f"{base}/" if base else "") and is_output_folder(held)]
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


def _input_error(exc: OSError, describe: Callable[[OSError], str]) -> InputError:
    """An error opening or reading a local file or an object, as a one-line input error."""
    if isinstance(exc, FileNotFoundError):
        return InputError("vanished during the run")
    if isinstance(exc, PermissionError):
        return InputError("permission denied")
    return InputError(describe(exc))


@contextmanager
def _opening(describe: Callable[[OSError], str]) -> Iterator[None]:
    """Errors opening a local file or an object, as one-line input errors."""
    try:
        yield
    except OSError as exc:
        raise _input_error(exc, describe) from exc


def _read_bytes(path: str, max_bytes: int) -> tuple[bytes, float]:
    """The bytes of a local file and its modification time, both from the file as opened:
    one ``fstat`` of the open file, where a ``getsize`` before the open and a ``getmtime``
    after the read each looked the path up again and stat'ed it (pass 1 reads every plain
    file so; those were a tenth of the read's CPU on a crawl of 8 KB pages). The file is
    read to that size and one byte more: one that grew since (still being written) is read
    on, to the limit. The file is read through its descriptor (``os.open``, ``os.read``):
    a file object and its buffer (``open``) cost a third of the read's CPU on a crawl of
    8 KB pages, for a file read whole at once."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_BINARY)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):  # open() refused it; os.open gives a descriptor
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            size = st.st_size
            _check_size(size, max_bytes)
            data = _read_fd(fd, size + 1)
            if len(data) > size:
                data += _read_fd(fd, max_bytes + 1 - len(data))
        finally:
            os.close(fd)
    except OSError as exc:
        raise _input_error(exc, _oserror) from exc
    if len(data) > max_bytes:
        raise InputError(f"too large (> limit {max_bytes / 1e6:.0f} MB)")
    return data, st.st_mtime


_O_BINARY = getattr(os, "O_BINARY", 0)  # (Windows: no newline translation)


def _read_fd(fd: int, n: int) -> bytes:
    """Up to ``n`` bytes from ``fd``, fewer only at the end of the file (``os.read`` may
    return fewer: a signal, or over 2 GB on Linux), as a file object's ``read(n)`` does."""
    data = os.read(fd, n)
    if len(data) == n or not data:
        return data
    parts = [data]
    while n > (got := sum(map(len, parts))):
        more = os.read(fd, n - got)
        if not more:
            break
        parts.append(more)
    return b"".join(parts)


def _load(item: InputFile, max_bytes: int) -> tuple[bytes, str | None]:
    """The bytes of a local file or an object, under the same limit and messages, and its
    modification time (ISO 8601; an object's from the listing)."""
    if not item.remote:
        data, mtime = _read_bytes(item.abspath, max_bytes)
        return data, datetime.fromtimestamp(mtime, tz=UTC).isoformat()
    with _open_object(item) as (f, size):
        _check_size(size, max_bytes)
        try:
            return f.read(), item.mtime
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


class _Inflated(io.RawIOBase):
    """A container's bytes as a stream, gzip or zstd inflated as they are read (``codec``
    None: the bytes as they are), so a record is in memory, never the whole file.

    Members (gzip) and frames (zstd) follow one another, as ``gzip -c a b`` and
    ``zstd`` write them. A stream that stops inside one is *truncated*, an error: zstd's
    own stream reader returns the partial data silently, so this reads through
    ``decompressobj`` and checks its end of frame. A crafted file can inflate thousands of
    times over; ``limit`` bounds what one stream may inflate to. zstd cannot bound the
    output of one call as zlib can, so it is fed ``_ZSTD_FEED`` bytes at a time (at most
    32 MB of output from 1 KB of the worst input: a run-length block)."""

    def __init__(self, fh: Any, codec: str | None, limit: int):
        super().__init__()
        self._fh, self._codec, self._limit = fh, codec, limit
        self._d: Any = None
        self._tail = b""  # compressed bytes read but not yet inflated
        self._out = b""  # inflated bytes not yet returned
        self._pos = 0
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self._pos >= len(self._out):
            if not self._inflate():
                return 0
        n = min(len(b), len(self._out) - self._pos)
        b[:n] = self._out[self._pos:self._pos + n]
        self._pos += n
        return n

    def _inflate(self) -> bool:
        """The next piece of output into ``_out``; False at the clean end of the stream."""
        try:
            if self._codec is None:
                self._out, self._pos = self._fh.read(_READ), 0
                return bool(self._out)
            if self._d is not None and self._d.eof:  # a member ended: more may follow
                self._tail = self._d.unused_data + self._tail
                self._d = None
            if not self._tail:
                self._tail = self._fh.read(_READ)
                if not self._tail:
                    if self._d is None:  # between members, or an empty file
                        return False
                    raise InputError(f"truncated {self._codec} stream")
            if self._d is None:
                self._d = _decompressor(self._codec)
            if self._codec == "gzip":
                out = self._d.decompress(self._tail, _READ * 16)
                self._tail = self._d.unconsumed_tail
            else:
                feed, self._tail = self._tail[:_ZSTD_FEED], self._tail[_ZSTD_FEED:]
                out = self._d.decompress(feed)
        except InputError:
            raise
        except Exception as exc:  # zlib.error, zstandard.ZstdError: corrupt data
            if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile):
                raise InputError(f"read failed: {error_line(exc)}") from exc
            raise InputError(f"corrupt {self._codec} stream ({error_line(exc)})") from exc
        self.total += len(out)
        if self.total > self._limit:
            raise InputError(f"decompresses to more than {self._limit / 1e6:.0f} MB ({self._codec} bomb?; "
                             "--max-bytes raises the limit)")
        self._out, self._pos = out, 0
        return True


_READ = 1 << 16
_ZSTD_FEED = 1 << 10


def _decompressor(codec: str) -> Any:
    if codec == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


def _codec(name: str) -> str | None:
    lower = name.lower()
    return "gzip" if lower.endswith(".gz") else "zstd" if lower.endswith(".zst") else None


@contextmanager
def _container(item: InputFile) -> Iterator[tuple[Any, int]]:
    """A container opened for streaming, and its size: a local file, or an object read
    through a buffer (parsers ask for small pieces; unbuffered, each is a ranged request)."""
    opened = _open_object(item, buffer_size=1 << 20) if item.remote else _local_file(item.abspath)
    with opened as (fh, size):
        yield fh, size


def _inflate_limit(size: int, max_bytes: int) -> int:
    return max(max_bytes, INFLATE_RATIO * size + 1_000_000)


def read(item: InputFile, max_bytes: int = MAX_BYTES, fields: Fields = DEFAULT_FIELDS) -> Iterator[Document]:
    """Documents of one input file. Never raises for bad input: failures are documents.

    A container's records come one at a time as its stream is read; a failure part way
    (a truncated or corrupt file) ends it with a document for the file (``id`` None,
    status ``error``) after the records read before it."""
    if item.kind is None:
        yield Document(path=item.rel, status="skipped", reason=item.note)
        return
    try:
        yield from FORMATS[item.kind].read(item, max_bytes, fields)
    except InputError as exc:
        yield Document(path=item.rel, kind=item.kind, status="error", reason=str(exc))


@register("text", TEXT_EXTS)
@register("html", HTML_EXTS)
def _read_file(item: InputFile, max_bytes: int, fields: Fields) -> Iterator[Document]:
    """A plain file: one document (text or HTML by its kind)."""
    yield _read_single(item, max_bytes)


def _read_single(item: InputFile, max_bytes: int) -> Document:
    data, date = _load(item, max_bytes)
    doc = Document(path=item.rel, kind=item.kind or "text", chars_in=0, date=date)
    if not data or data.isspace():  # (``not data.strip()``, without the copy)
        doc.encoding = "utf-8" if data else None
        return doc.fail("empty", "empty file")
    try:
        doc.text, doc.encoding = decode(data, html=doc.kind == "html")
    except DecodeError as exc:
        return doc.fail("error", str(exc))
    doc.chars_in = len(doc.text)
    return doc


class _Line(NamedTuple):
    number: int
    text: str | None  # None: the line is not text (``error`` says why)
    encoding: str | None
    error: str = ""


def _jsonl_lines(stream: io.BufferedReader, max_bytes: int) -> Iterator[_Line]:
    """The lines of a JSONL stream, decoded, each at most ``max_bytes``.

    JSON Lines is UTF-8 (a BOM is allowed); a line that is not is decoded on its own as any
    text file is (charset detection). A file in UTF-16 or UTF-32 (by its BOM, or UTF-16 by
    its NUL pattern) is decoded as a whole stream. Lines end at ``\\n`` only: JSON strings
    may hold U+2028 or U+0085 raw, which ``str.splitlines`` would cut."""
    head = stream.peek(4096)[:4096]
    wide = next((name for bom, name in _BOMS if head.startswith(bom) and name != "utf-8-sig"), None)
    wide = wide or _utf16_without_bom(head)
    # a binary file under a JSONL name is one error, not an error per "line" of its bytes
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise InputError(f"binary content ({what})")
    if not wide and head.count(0) > max(2, len(head) // 200):
        raise InputError("binary content (NUL bytes in text)")
    if wide:
        text_stream = io.TextIOWrapper(stream, encoding=wide, newline="\n")
        n = 0
        try:
            while line := text_stream.readline(max_bytes + 1):
                n += 1
                if len(line) > max_bytes and not line.endswith("\n"):
                    while (rest := text_stream.readline(_READ)) and not rest.endswith("\n"):
                        pass
                    yield _Line(n, None, wide, f"larger than the limit ({max_bytes / 1e6:.0f} MB)")
                    continue
                yield _Line(n, line.rstrip("\r\n"), wide)
        except UnicodeDecodeError as exc:
            raise InputError(f"invalid {wide} ({exc.reason})") from exc
        return
    encoding = "utf-8"
    n = 0
    while raw := stream.readline(max_bytes + 1):
        n += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            while (rest := stream.readline(_READ)) and not rest.endswith(b"\n"):
                pass
            yield _Line(n, None, encoding, f"larger than the limit ({max_bytes / 1e6:.0f} MB)")
            continue
        if n == 1 and raw.startswith(codecs.BOM_UTF8):
            raw, encoding = raw[len(codecs.BOM_UTF8):], "utf-8-sig"
        if raw == b"\n":
            # The empty lines after this one are counted in bulk, as many as the buffer holds,
            # and come as one empty line numbered as the run's last: a line at a time, a run
            # of millions (a padded export, a newline bomb inflating up to the limit) costs
            # seconds of this loop. The caller skips empty lines, keeping only their number
            # (named when a later error stops the file), so its results are the same. The
            # line is yielded before the peek: a peek may read on and fail (a bomb's limit).
            yield _Line(n, "", encoding)
            buffered = stream.peek()
            run = len(buffered) - len(buffered.lstrip(b"\n"))
            if run:
                stream.read(run)
                n += run
                yield _Line(n, "", encoding)
            continue
        raw = raw.rstrip(b"\r\n")
        try:
            yield _Line(n, raw.decode("utf-8"), encoding)
        except UnicodeDecodeError:
            try:
                text, detected = decode(raw)
            except DecodeError as exc:
                yield _Line(n, None, None, str(exc))
                continue
            yield _Line(n, text, detected)


@register("jsonl", JSONL_EXTS, container=True)
def _read_jsonl(item: InputFile, max_bytes: int, fields: Fields) -> Iterator[Document]:
    codec = _codec(item.rel)
    seen: set[str] = set()
    lineno = 0
    any_line = False
    with _container(item) as (fh, size):
        stream = io.BufferedReader(_Inflated(fh, codec, _inflate_limit(size, max_bytes)), _READ)
        try:
            for lineno, line, encoding, error in _jsonl_lines(stream, max_bytes):
                if line is not None and not line.strip():
                    continue
                any_line = True
                doc = _jsonl_record(item.rel, lineno, line, encoding, error, fields, seen)
                yield doc
        except InputError as exc:
            raise InputError(f"{exc} after line {lineno}" if lineno else str(exc)) from exc
    if not any_line:
        yield Document(path=item.rel, kind="jsonl", encoding="utf-8", status="empty", reason="empty file")


def _jsonl_record(path: str, lineno: int, line: str | None, encoding: str | None, error: str, fields: Fields,
                  seen: set[str]) -> Document:
    fallback_id = f"line-{lineno}"
    doc = Document(path=path, id=fallback_id, kind="jsonl", container=True, encoding=encoding)
    if line is None:
        return doc.fail("error", f"line {lineno}: {error}")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        # json's messages may end in "at" already ("Unterminated string starting at")
        where = f"{'' if exc.msg.endswith(' at') else ' at'} column {exc.colno}"
        return doc.fail("error", f"line {lineno}: invalid JSON ({exc.msg}{where})")
    except RecursionError:
        return doc.fail("error", f"line {lineno}: invalid JSON (nested too deeply)")
    if not isinstance(record, dict):
        return doc.fail("error", f"line {lineno}: not a JSON object")
    if not _take_record(doc, record, fields, f"line-{lineno}", seen):
        return doc.fail("error", f"line {lineno}: no string field '{fields.text}' or 'html'")
    doc.chars_in = len(doc.text)
    if not doc.text.strip():
        doc.fail("empty", "empty text")
    return doc


def _take_record(doc: Document, record: dict[str, Any], fields: Fields, where: str, seen: set[str]) -> bool:
    """Fill ``doc`` from a JSONL record or a Parquet row: id (else ``where``, its place), url,
    date, and its text field, else its ``html`` field read as a page. False when it has
    neither as a string (the caller names the record in the error)."""
    doc.id = _record_id(record.get(fields.id), where, where, seen)
    url = record.get(fields.url)
    doc.url = url if isinstance(url, str) else None
    doc.date = _record_date(record)
    if isinstance(record.get(fields.text), str):
        doc.text = record[fields.text]
    elif isinstance(record.get("html"), str):
        doc.text, doc.kind = record["html"], "html"
    else:
        return False
    return True


def _record_id(value: Any, fallback: str, where: str, seen: set[str]) -> str:
    """A record's id: its own (as a string), else its place; a repeated id gets its place
    appended, so every record keeps a distinct manifest key."""
    rid = str(value) if value is not None and str(value) else fallback
    if rid in seen:
        rid = f"{rid}@{where}"
    seen.add(rid)
    return rid


def _record_date(record: Any) -> str | None:
    for key in ("date", "timestamp", "published"):
        value = record.get(key)
        if isinstance(value, str):
            return value
        if hasattr(value, "isoformat"):  # a Parquet timestamp or date
            return str(value.isoformat())
    return None


@register("parquet", PARQUET_EXTS, container=True)
def _read_parquet(item: InputFile, max_bytes: int, fields: Fields) -> Iterator[Document]:
    """Rows of a Parquet file, a batch at a time (pyarrow reads one row group's columns at
    a time: memory is bounded by the file's row groups, which writers keep to a few hundred
    MB at most). Only the columns a document needs are read. A missing text column (and
    no ``html`` column) fails the file; a row whose text is null fails that row. Rows are
    numbered from 0, as Parquet readers number them."""
    pq = _pyarrow_parquet()
    import pyarrow as pa

    row = 0
    seen: set[str] = set()
    with _parquet_file(item, pq) as pf:
        schema = pf.schema_arrow
        names = set(schema.names)
        text_cols = [c for c in (fields.text, "html") if c in names]
        if not text_cols:
            raise InputError(f"no column '{fields.text}'" + ("" if fields.text == "html" else " or 'html'")
                             + f" (columns: {', '.join(schema.names[:20])})")
        for col in text_cols:
            kind = schema.field(col).type
            if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_string_view(pa, kind)):
                raise InputError(f"column '{col}' holds {kind}, not strings")
        wanted = [*text_cols, *(c for c in (fields.id, fields.url, "date", "timestamp", "published")
                                if c in names and c not in text_cols)]
        wanted = list(dict.fromkeys(wanted))
        try:
            for batch in pf.iter_batches(batch_size=256, columns=wanted):
                columns = batch.to_pydict()
                for i in range(batch.num_rows):
                    yield _parquet_record(item.rel, row, {c: columns[c][i] for c in wanted}, fields, max_bytes,
                                          seen)
                    row += 1
        except (OSError, ValueError, pa.ArrowException) as exc:
            where = f"after {row} rows" if row else "at the start"
            raise InputError(f"unreadable Parquet data {where}: {error_line(exc)}") from exc
    if row == 0:
        yield Document(path=item.rel, kind="parquet", status="empty", reason="no rows")


def _is_string_view(pa: Any, kind: Any) -> bool:
    check = getattr(pa.types, "is_string_view", None)
    return bool(check and check(kind))


def _parquet_record(path: str, row: int, record: dict[str, Any], fields: Fields, max_bytes: int,
                    seen: set[str]) -> Document:
    doc = Document(path=path, id=f"row-{row}", kind="text", container=True, encoding="utf-8")
    if not _take_record(doc, record, fields, f"row-{row}", seen):
        return doc.fail("error", f"row {row}: '{fields.text}' is null")
    if len(doc.text) > max_bytes:
        return doc.fail("error", f"row {row}: larger than the limit ({max_bytes / 1e6:.0f} MB)")
    doc.chars_in = len(doc.text)
    if not doc.text.strip():
        doc.fail("empty", "empty text")
    return doc


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"Parquet input needs pyarrow: {PARQUET_EXTRA}") from None
    return pq


def parquet_missing(items: list[InputFile]) -> str | None:
    """A one-line refusal when Parquet inputs are listed and pyarrow is not installed (the
    run is refused before it starts, as a usage error), else None."""
    first = next((it for it in items if it.kind == "parquet"), None)
    if first is None:
        return None
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return f"{first.rel}: Parquet input needs pyarrow: {PARQUET_EXTRA}"
    return None


@contextmanager
def _parquet_file(item: InputFile, pq: Any) -> Iterator[Any]:
    """A Parquet file opened for reading. Parquet is read from its footer, then by column
    chunks: an object is opened as a random-access file (ranged reads), not as a stream."""
    opened = _open_object(item) if item.remote else _local_file(item.abspath)
    with opened as (fh, _):
        try:
            pf = pq.ParquetFile(fh)
        except (OSError, ValueError) as exc:  # ArrowInvalid: not Parquet (no magic bytes), a bad footer
            raise InputError(f"not a readable Parquet file: {error_line(exc)}") from exc
        yield pf


def _read_warc(item: InputFile, max_bytes: int, wet: bool = False) -> Iterator[Document]:
    """Records of a WARC file: HTML (or text) ``response`` and ``resource`` records; of a
    WET file (Common Crawl's text extraction, ``wet``), its ``conversion`` records, read as
    plain text, so the furniture and template statistics work on them as on a text file
    (their source is the URL's host)."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    wanted = ("conversion",) if wet else ("response", "resource")
    label = "WET" if wet else "WARC"
    total = 0
    n = 0
    with _container(item) as (fh, size):
        try:
            for record in ArchiveIterator(fh):
                if record.rec_type not in wanted:
                    continue
                n += 1
                rid = record.rec_headers.get_header("WARC-Record-ID") or f"record-{n}"
                rid = rid.strip("<>")
                doc = Document(path=item.rel, id=rid, kind="text" if wet else "html", container=True)
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
                if len(payload) > max_bytes or total > _inflate_limit(size, max_bytes):
                    raise InputError(f"record {n} decompresses beyond the size limit (gzip bomb?)")
                missing = getattr(record.raw_stream, "limit", 0) or 0
                if missing > 0:  # the stream ended before the record's Content-Length
                    yield doc.fail("error", f"truncated {label} record ({missing} bytes missing)")
                    continue
                if wet:
                    if mime and not mime.startswith("text/"):
                        yield doc.fail("skipped", f"not text ({mime})")
                        continue
                else:
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
            raise InputError(f"truncated or malformed {label} {where}: {str(exc).splitlines()[0][:120]}") from exc
    if n == 0:
        what = "conversion" if wet else "response"
        yield Document(path=item.rel, kind=item.kind or "warc", status="empty", reason=f"no {what} records")


@register("warc", WARC_EXTS, container=True)
def _read_warc_file(item: InputFile, max_bytes: int, fields: Fields) -> Iterator[Document]:
    """A WARC file's HTML (or text) records."""
    return _read_warc(item, max_bytes)


@register("wet", WET_EXTS, container=True)
def _read_wet_file(item: InputFile, max_bytes: int, fields: Fields) -> Iterator[Document]:
    """A WET file's text records."""
    return _read_warc(item, max_bytes, wet=True)


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


"""Writer: the end of the pipeline. Clean files or shards, the manifest, atomically.

A run builds its whole output in a staging folder inside ``OUT`` and swaps each finished
artefact into place with ``os.replace``; so a run killed at any instant leaves either the
previous run's files or the new ones under their final names, never a half-written file,
and a rerun produces exactly what an uninterrupted run would.

An object store (``OUT`` = ``s3://…``, ``gs://…``) has no rename of a folder, so there the
run is staged in a local folder under ``$TMPDIR`` exactly as above and then uploaded
(:class:`UploadStaging`): every artefact first, ``manifest.jsonl`` last, so a manifest in
the store means a complete run.
"""

from __future__ import annotations

import array
import contextlib
import gzip
import json
import os
import re
import shutil
import struct
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from ..document import Document
from ..sources.readers import input_ext
from ..sources.storage import LocationError, bucket_exists, display, error_line, filesystem, location

#: ``--output-format`` choices: a file per document (the default), or shards of rows.
OUTPUT_FORMATS = ("files", "jsonl", "parquet")

#: Default shard cap: 256 MB of rows (see :class:`ShardWriter` for why a size in bytes).
DEFAULT_SHARD_BYTES = 256_000_000

PARQUET_EXTRA = "pip install 'scrape-cleaner[parquet]' (the cloud and ray extras bring pyarrow too)"


class MissingDependency(ImportError):
    """An optional package an option needs is not installed (a usage error, exit 2)."""


def require_pyarrow() -> None:
    """Fail with a one-line message naming the extra when pyarrow cannot be imported;
    called before a parquet run starts, so a missing package does not cost a whole run."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise MissingDependency(f"--output-format parquet needs pyarrow: {PARQUET_EXTRA}") from None


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def _json_line() -> Callable[[Any], str]:
    """``json.dumps(obj, ensure_ascii=False)``, by one C encoder made once for the run.

    Why: a run encodes a manifest record per input and a row per kept record of a
    container. ``json.dumps`` builds a ``JSONEncoder`` per call (with an argument other than
    its defaults), and ``JSONEncoder.encode`` builds a C encoder per call (its ``iterencode``,
    two Python frames): 7.8 us a manifest record, 4.2 us by the C encoder alone. The same C
    encoder with the same arguments writes the same bytes (``default`` is ``JSONEncoder``'s:
    the same ``TypeError``). One difference: no circle check (the markers ``json`` keeps are
    left behind by an error, so they cannot be shared from call to call); a record holding
    itself, which none does, raises ``RecursionError`` instead of ``ValueError``. Without the
    C encoder (a Python built without ``_json``), ``JSONEncoder.encode``."""
    encoder = json.JSONEncoder(ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    encode = make(None, encoder.default, json.encoder.encode_basestring, None, encoder.key_separator,
                  encoder.item_separator, encoder.sort_keys, encoder.skipkeys, encoder.allow_nan)
    join = "".join

    def json_line(obj: Any) -> str:
        return join(encode(obj, 0))

    return json_line


json_line = _json_line()


def parse_size(text: str) -> int:
    """``"256MB"`` -> 256000000, ``"64MiB"`` -> 67108864, ``"5000"`` -> 5000 (bytes).

    Decimal units (k, KB, M, MB, G, GB, T, TB) and binary ones (KiB, MiB, GiB, TiB),
    case-insensitive; a plain number is bytes. Raises :class:`ValueError` otherwise.
    """
    m = _SIZE.fullmatch(text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (e.g. 256MB, 64MiB, 1G or a number of bytes)")
    n = int(float(m.group(1)) * _UNITS[unit])
    if n < 1:
        raise ValueError(f"not a size: {text!r} (must be at least 1 byte)")
    return n


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write a file so that readers see the old content or the new, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


#: Threads creating the clean files (``--output-format files``, see :meth:`Staging.write_document`).
#: Two: the write step runs in the driver after the workers' passes, so on the two-core
#: machines this is tuned for a core is idle; the kernel's share of a file's creation (an
#: inode allocated, a folder entry added) is the larger part and runs in parallel across
#: threads, and a third thread gained nothing there.
FILE_THREADS = 2

#: Bytes of clean files queued for those threads at most before the driver waits for them:
#: enough that the driver never waits on a slow file, flat however large the run.
FILE_QUEUE_BYTES = 32 << 20


#: ``FS_IOC_GETFLAGS`` and ``FS_IOC_SETFLAGS`` (``_IOR('f', 1, long)`` and ``_IOW('f', 2, long)``
#: in the kernel's generic ioctl encoding, that of x86, arm and riscv: the size of a C ``long``
#: is in the number, though the kernel reads and writes an ``int``) and the flag
#: ``FS_TOPDIR_FL`` (``chattr +T``), of ``<linux/fs.h>``. Architectures with another encoding
#: (powerpc, mips, sparc, alpha) number these ioctls otherwise: there the call fails (ENOTTY),
#: :func:`inode_flags` returns ``None`` and the mark is skipped.
_FS_IOC_GETFLAGS = (2 << 30) | (struct.calcsize("l") << 16) | (ord("f") << 8) | 1
_FS_IOC_SETFLAGS = (1 << 30) | (struct.calcsize("l") << 16) | (ord("f") << 8) | 2
_FS_TOPDIR_FL = 0x00020000


def inode_flags(path: Path | str, set_bits: int = 0, clear_bits: int = 0) -> int | None:
    """The inode flags of ``path`` (``lsattr``) as they were, after setting ``set_bits`` and
    clearing ``clear_bits`` in them (``chattr``; flags already so are not written again), or
    ``None`` when they cannot be read or changed: the path is gone, the file system keeps no
    such flags (not ext2/3/4, not Linux), or it refuses the change.

    The descriptor is closed before it returns: a caller that changes a flag now and takes it
    off later holds nothing open in between (nothing to leak when it never comes back), and
    reads the flags again then, so that only its own bit changes."""
    if sys.platform != "linux":
        return None
    import fcntl  # POSIX only: imported where used, as Staging's lock does

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # as lsattr: a FIFO does not block
    except OSError:
        return None
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags, True)
        before = flags[0]
        after = (before | set_bits) & ~clear_bits
        if after != before:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, array.array("i", [after]))
        return before
    except OSError:
        return None
    finally:
        os.close(fd)


def spread_subfolders(folder: Path) -> Callable[[], None] | None:
    """Mark ``folder`` the top of unrelated hierarchies (``chattr +T``) while its subfolders
    are made, so that ext4's allocator (Orlov's) spreads them over the groups of inodes with
    the most free and fewest folders instead of packing them next to ``folder``; returns the
    call that takes the mark off again (the published tree carries no attribute a run without
    it would not; it clears that one bit and leaves any other flag set meanwhile, and does
    nothing when the folder is gone), or ``None`` when the file system keeps no such mark
    (not ext2/3/4, not Linux) or refuses it, or the folder was marked already (the mark is
    then its owner's, and stays).

    Why: a clean file's inode is taken in its folder's group, and on ext4 without a journal
    the allocator passes over every inode freed in the last minute (six, while its inode
    table block is dirty), checking each by a lookup in the buffer cache, at every creation:
    where the files of an earlier run, or anything else, were just removed, each clean file
    cost hundreds of microseconds of system time (perf: ``recently_deleted``,
    ``find_get_block_common``, 80% of the samples). Groups untouched lately have none. With
    a journal the check is not made and the mark changes nothing but where the folders go,
    which for a tree of unrelated sites is what the mark is for."""
    before = inode_flags(folder, set_bits=_FS_TOPDIR_FL)
    if before is None or before & _FS_TOPDIR_FL:
        return None

    def restore() -> None:
        inode_flags(folder, clear_bits=_FS_TOPDIR_FL)

    return restore


def output_name(rel: str, container: bool) -> str:
    """``a/b/page.html`` -> ``a/b/page.txt``; a container ``a/crawl.warc.gz`` -> ``a/crawl.jsonl``.

    The extension (with the compression after it, and ``.warc`` before ``.wet``) is
    replaced; the relative path is kept as is, so outputs mirror the scrape's layout. Names
    are relative and POSIX by construction (they come from walking the input), so nothing
    can land outside ``OUT/clean``.

    The name is made with string operations when ``rel`` is a plain relative path (no
    empty, ``.`` or ``..`` component, no leading or trailing ``/``: what walking gives),
    for which :class:`PurePosixPath` would return every component unchanged; any other
    ``rel`` goes through ``PurePosixPath``'s normalisation and checks. The write step names
    every kept file, and parsing each path twice cost more than writing most of them.
    """
    suffix = ".jsonl" if container else ".txt"
    if rel and rel[0] not in "/." and rel[-1] != "/" and "//" not in rel and "/." not in rel:
        folder, sep, name = rel.rpartition("/")
        ext = input_ext(name)  # the registry's longest ending: .warc.gz, not .gz
        return folder + sep + (name[: -len(ext)] if ext is not None else name) + suffix
    p = PurePosixPath(rel)
    name = p.name
    ext = input_ext(name)
    if ext is not None:
        name = name[: -len(ext)]
    name += suffix
    out = str(p.parent / name) if str(p.parent) != "." else name
    parts = PurePosixPath(out).parts
    if PurePosixPath(out).is_absolute() or ".." in parts:
        raise ValueError(f"refusing output name outside the output folder: {out!r}")
    return out


def check_output_format(output_format: str, shard_bytes: int = DEFAULT_SHARD_BYTES, compress: bool = False) -> None:
    """Refuse settings no writer can honour (:class:`ValueError`) and a parquet run without
    pyarrow (:class:`MissingDependency`), so that both fail before any work is done."""
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format {output_format!r} (one of {', '.join(OUTPUT_FORMATS)})")
    if shard_bytes < 1:
        raise ValueError(f"shard size must be at least 1 byte, not {shard_bytes}")
    if compress and output_format != "jsonl":
        raise ValueError("--compress applies to --output-format jsonl (parquet shards are always compressed, "
                         "clean files never are)")
    if output_format == "parquet":
        require_pyarrow()


def shard_row(doc: Document) -> dict[str, Any]:
    """The row of a kept document in a shard: where it came from and its clean text.

    ``path`` and ``id`` (``None`` for a plain file) are the manifest's key of the document,
    so a row and its manifest record can be joined; ``url`` is ``None`` when unknown. The
    text is exactly a clean file's content without the final newline."""
    return {"path": doc.path, "id": doc.id, "url": doc.url, "text": doc.text}


class ShardWriter:
    """Rows, in the order given, into ``part-00000<suffix>``, ``part-00001<suffix>``, … of a folder.

    Why shards and why a cap in bytes: corpora for language models and search are read as
    a few hundred files of bounded size, each one unit of work for a loader or a tokenizer
    job; a file per page (millions of small files) is slow to list, copy and open, and one
    file for the corpus cannot be read in parallel. A cap in bytes, not in documents, is what
    datatrove (``max_file_size``) and Dolma (``max_size_in_bytes``) use: web documents range
    from a line to megabytes, so shards of N documents differ in size by orders of magnitude.

    The measure is the UTF-8 size of the row as an uncompressed JSON line, for every format:
    ``jsonl``, ``jsonl.gz`` and ``parquet`` runs cut their shards at the same documents, and a
    compressed shard is smaller on disk than the cap. A row starts a new shard when it would
    take the current one over the cap, so a shard is at most the cap except when it holds a
    single larger document (a document is never split). A shard is opened by its first row:
    a run that keeps nothing writes none. Numbers have 5 digits (more after 99,999 shards).
    """

    suffix = ""

    def __init__(self, folder: Path, shard_bytes: int = DEFAULT_SHARD_BYTES):
        self.folder = Path(folder)
        self.shard_bytes = shard_bytes
        self.names: list[str] = []  # the shards, in order
        self.rows = 0  # rows in the current shard
        self.bytes = 0  # their size (see above)
        self._is_open = False

    def add(self, row: dict[str, Any]) -> tuple[str, int]:
        """Write a row; returns its shard's name and its 0-based row number in that shard."""
        data = (json_line(row) + "\n").encode("utf-8")
        if self._is_open and self.bytes + len(data) > self.shard_bytes:
            self._is_open = False
            self._finish_shard()
        if not self._is_open:
            name = f"part-{len(self.names):05d}{self.suffix}"
            self._open_shard(self.folder / name)
            self.names.append(name)
            self.rows = self.bytes = 0
            self._is_open = True
        self._write(row, data)
        self.rows += 1
        self.bytes += len(data)
        return self.names[-1], self.rows - 1

    def close(self) -> None:
        """Finish the last shard (for Parquet: its last row group and footer)."""
        if self._is_open:
            self._is_open = False
            self._finish_shard()

    def abandon(self) -> None:
        """Close without caring about errors: the staging folder is about to be removed."""
        try:
            self.close()
        except Exception:
            pass

    def _open_shard(self, path: Path) -> None:
        raise NotImplementedError

    def _write(self, row: dict[str, Any], data: bytes) -> None:
        raise NotImplementedError

    def _finish_shard(self) -> None:
        raise NotImplementedError


class JsonlShards(ShardWriter):
    """JSON Lines shards, one row a line (``ensure_ascii=False``: UTF-8 text, not escapes),
    optionally gzip-compressed (``.jsonl.gz``, the form datatrove and Dolma write; every
    JSONL reader of those tools and of Hugging Face ``datasets`` opens it). The gzip header
    carries no name and no time, so a rerun's shards are byte-identical."""

    def __init__(self, folder: Path, shard_bytes: int = DEFAULT_SHARD_BYTES, compress: bool = False):
        super().__init__(folder, shard_bytes)
        self.compress = compress
        self.suffix = ".jsonl.gz" if compress else ".jsonl"
        self._raw: Any = None
        self._fh: Any = None

    def _open_shard(self, path: Path) -> None:
        self._raw = open(path, "wb")
        # level 6, zlib's default: most of level 9's ratio at a fraction of its time
        self._fh = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, compresslevel=6, mtime=0) \
            if self.compress else self._raw

    def _write(self, row: dict[str, Any], data: bytes) -> None:
        self._fh.write(data)

    def _finish_shard(self) -> None:
        fh, raw, self._fh, self._raw = self._fh, self._raw, None, None
        try:
            if fh is not raw:
                fh.close()
        finally:
            raw.close()


class ParquetShards(ShardWriter):
    """Parquet shards (pyarrow), the same rows and shard boundaries as :class:`JsonlShards`.

    Rows are buffered and written as a row group every ``GROUP_ROWS`` rows or
    ``GROUP_BYTES`` bytes of rows, whichever comes first, and at the end of a shard: memory
    holds one row group, never the corpus, and a reader can read a shard a group at a time.
    The byte bound also keeps a group of very long documents under Arrow's 2 GB limit of a
    ``string`` column chunk. Columns ``path`` and ``text`` are never null; ``id`` and ``url``
    may be. Snappy compression (pyarrow's and datatrove's default, readable everywhere);
    dictionary encoding only for ``path`` (repeated by the records of one container) and no
    min/max statistics for ``text`` (a copy of two documents in every footer)."""

    suffix = ".parquet"
    GROUP_ROWS = 2000
    GROUP_BYTES = 64 * 2**20

    def __init__(self, folder: Path, shard_bytes: int = DEFAULT_SHARD_BYTES):
        require_pyarrow()
        import pyarrow as pa

        super().__init__(folder, shard_bytes)
        self.schema = pa.schema([pa.field("path", pa.string(), nullable=False), pa.field("id", pa.string()),
                                 pa.field("url", pa.string()), pa.field("text", pa.string(), nullable=False)])
        self._writer: Any = None
        self._buffer: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        self._buffered = 0

    def _open_shard(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(str(path), self.schema, compression="snappy", use_dictionary=["path"],
                                        write_statistics=["path", "id", "url"])

    def _write(self, row: dict[str, Any], data: bytes) -> None:
        for name, column in self._buffer.items():
            column.append(row[name])
        self._buffered += len(data)
        if len(self._buffer["path"]) >= self.GROUP_ROWS or self._buffered >= self.GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        n = len(self._buffer["path"])
        if n:
            self._writer.write_table(pa.Table.from_pydict(self._buffer, schema=self.schema), row_group_size=n)
            for column in self._buffer.values():
                column.clear()
            self._buffered = 0

    def _finish_shard(self) -> None:
        try:
            self._flush()
        finally:
            for column in self._buffer.values():
                column.clear()
            self._buffered = 0
            writer, self._writer = self._writer, None
            writer.close()


def shards_for(output_format: str, shard_bytes: int, compress: bool, folder: Path) -> ShardWriter | None:
    """The shard writer of an output format, writing into ``folder``; ``None`` for ``files``."""
    check_output_format(output_format, shard_bytes, compress)
    if output_format == "jsonl":
        return JsonlShards(folder, shard_bytes, compress)
    if output_format == "parquet":
        return ParquetShards(folder, shard_bytes)
    return None


class OutputBusy(RuntimeError):
    """Another run holds the output folder."""


class OutputNames:
    """Assigns each input file its output name, resolving collisions deterministically
    (``page.html`` and ``page.txt`` in one folder: the second becomes ``page.txt.txt``).

    Every name given is unused, case-insensitively (a case-insensitive file system would
    make ``Page.txt`` and ``page.txt`` one file): the fallback ``<input name>.txt`` can
    itself be taken (``a.htm.html`` named ``a.htm.txt`` before ``a.htm`` asks), and then a
    counter goes before the ending (``a.htm.2.txt``). Two documents given one name would
    share one file: the last write would win, or with the core's writer threads, either
    text or a mix of both."""

    def __init__(self) -> None:
        self.by_input: dict[str, str] = {}
        self.used: set[str] = set()

    def get(self, rel: str, container: bool) -> str:
        name = self.by_input.get(rel)
        if name is None:
            name = output_name(rel, container)
            if name.casefold() in self.used:
                suffix = ".jsonl" if container else ".txt"
                name, n = rel + suffix, 1
                while name.casefold() in self.used:
                    n += 1
                    name = f"{rel}.{n}{suffix}"
            self.used.add(name.casefold())
            self.by_input[rel] = name
        return name


class Staging:
    """The output of one run, built in ``OUT/.staging-*`` and published at the end."""

    ARTEFACTS = ("clean", "manifest.jsonl", "duplicates.json", "report.html", "summary.json")

    def __init__(self, out: Path, output_format: str = "files", shard_bytes: int = DEFAULT_SHARD_BYTES,
                 compress: bool = False):
        import fcntl

        check_output_format(output_format, shard_bytes, compress)  # before the lock and the staging folder
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        # One run per output folder: a second concurrent run would publish over the first.
        self._lock = open(self.out / ".cleaner.lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise OutputBusy(f"{self.out}: another cleaner run is writing to this output folder") from None
        for stale in self.out.glob(".staging-*"):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
        folder = None
        try:
            folder = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.out))
            self._start(folder, output_format, shard_bytes, compress)
        except BaseException:
            # no Staging to abandon: its folder and lock go here, or the lock stayed held
            # by an object nobody has, and the folder waited for the next run to remove it
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            self._lock.close()
            raise

    def _start(self, folder: Path, output_format: str, shard_bytes: int, compress: bool) -> None:
        self.dir = folder
        self.clean = self.dir / "clean"
        self.clean.mkdir()
        self._clean = str(self.clean)
        self.names = OutputNames()
        self._open: dict[str, Any] = {}
        self._dirs: set[str] = set()  # folders of clean/ made, relative to it
        self._files: Any = None  # the native FileWriter of the clean files, made by the first one
        self.shards = shards_for(output_format, shard_bytes, compress, self.clean)
        # taken off once the clean files are written; shards go straight into clean/, which
        # then has no folders to spread
        self._unspread = spread_subfolders(self.clean) if self.shards is None else None

    def write_document(self, doc: Document) -> dict[str, Any]:
        """Write a kept document; returns the manifest fields that locate it: ``output``
        (a path relative to ``OUT``) and, for shards, ``row`` (0-based, within that file)."""
        if self.shards is not None:
            name, row = self.shards.add(shard_row(doc))
            return {"output": f"clean/{name}", "row": row}
        container = doc.container
        name = self.names.get(doc.path, container)
        if container:
            fh = self._open.get(name)
            if fh is None:
                self._make_folder(name.rpartition("/")[0])
                fh = self._open[name] = open(self.clean / name, "w", encoding="utf-8")
            fh.write(json_line({"id": doc.id, "url": doc.url, "text": doc.text}) + "\n")
        else:
            self._make_folder(name.rpartition("/")[0])
            files = self._files
            if files is None:
                from ..native import core

                files = self._files = core.FileWriter(FILE_THREADS, FILE_QUEUE_BYTES)
            # the UTF-8 bytes the document was unpickled with, when it was and its text is
            # still those (Document.text_utf8: nothing decoded or encoded); the core appends
            # the line end as it copies the bytes (no concatenation here)
            files.submit(f"{self._clean}/{name}", doc.text_utf8(), True)
        return {"output": f"clean/{name}"}

    def _make_folder(self, folder: str) -> None:
        """Make ``clean/<folder>`` (with the folders above it) unless made already: one
        ``mkdir`` per folder, not per file.

        A folder right under ``clean/`` (marked by :func:`spread_subfolders`) is made under a
        random name and renamed: Orlov's allocator starts its search for the group of a top
        folder's inode at a hash of its name, and takes the first group with the fewest
        folders, so the same name went to the same group run after run: the group whose
        inodes the run before had just freed (on ext4 without a journal each of those is
        checked again at every file created there; at 200 MB, back to back, the system time
        of the clean files rose run by run as the folders' names were the same)."""
        if folder in self._dirs:
            return
        top = folder.partition("/")[0]
        target = os.path.join(self._clean, top)
        made = False
        if self._unspread is not None and top and not os.path.lexists(target):
            fresh = os.path.join(self._clean, f".new-{os.urandom(8).hex()}")
            os.mkdir(fresh)
            os.rename(fresh, target)
            made = folder == top
        if folder and not made:
            os.makedirs(os.path.join(self._clean, folder), exist_ok=True)
        self._dirs.add(folder)

    def flush(self) -> None:
        """Wait until every clean file handed over so far is written (the core writes them
        on threads of its own while the driver goes on) and raise the first failure, an
        ``OSError`` naming the file (a full disk), even when :meth:`write_document` raised
        it already (the writer raises it on every close). The write step calls it at its
        end, so that its time and its errors are its own; :meth:`publish` calls it too.

        The writer is forgotten only once its close has returned: a close that raised, or
        was interrupted (Ctrl-C) before its threads ended, leaves it to :meth:`abandon`,
        which must stop the threads before removing the folder they write into (abandoning
        a writer already closed does nothing)."""
        files = self._files
        if files is not None:
            files.close()
            self._files = None
        self._tree_done()

    def _tree_done(self) -> None:
        """The clean tree is complete: the mark that spread its folders comes off.

        A failure to take it off is ignored rather than raised out of :meth:`flush` or
        :meth:`publish`: a ``T`` left on ``clean/`` is harmless (it changes only where ext4
        puts folders made there later, nothing of the files or what reads them), and a
        complete run must not be thrown away for it."""
        unspread, self._unspread = self._unspread, None
        if unspread is not None:
            with contextlib.suppress(OSError):
                unspread()

    def write_json(self, name: str, obj: Any) -> None:
        with open(self.dir / name, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1)
            f.write("\n")

    def open_text(self, name: str) -> TextIO:
        """A file in the staging folder to write as the run goes (published with the rest)."""
        return open(self.dir / name, "w", encoding="utf-8")

    def write_jsonl(self, name: str, rows: Iterable[dict[str, Any]]) -> None:
        with open(self.dir / name, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json_line(row) + "\n")

    def write_text(self, name: str, text: str) -> None:
        (self.dir / name).write_text(text, encoding="utf-8")

    def _close_outputs(self, finish: bool = True) -> None:
        """Close the clean outputs: the clean files being written (all written, or those
        still queued dropped: no file may appear in a folder being removed), containers'
        files, and the shards, finished (the last shard's footer written) or abandoned. Each
        is closed even when closing another raised (the first error is raised)."""
        with contextlib.ExitStack() as stack:
            if self.shards is not None:
                stack.callback(self.shards.close if finish else self.shards.abandon)
            open_files, self._open = list(self._open.values()), {}
            for fh in open_files:
                stack.callback(fh.close)
            if finish:
                self.flush()
            else:
                # after the writer's threads ended, and even when abandoning them raised
                stack.callback(self._tree_done)
                files = self._files
                if files is not None:
                    files.abandon()  # the threads ended, the files queued dropped
                    self._files = None

    def publish(self) -> None:
        """Swap every finished artefact into ``OUT`` (each with one rename)."""
        self._close_outputs()
        for name in self.ARTEFACTS:
            src = self.dir / name
            if not src.exists():
                continue
            dst = self.out / name
            if src.is_dir():
                old = self.out / f".old-{name}"
                shutil.rmtree(old, ignore_errors=True)
                if dst.exists():
                    os.replace(dst, old)
                os.replace(src, dst)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(src, dst)
        shutil.rmtree(self.dir, ignore_errors=True)
        self._lock.close()

    def abandon(self) -> None:
        try:
            self._close_outputs(finish=False)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self._lock.close()


class UploadStaging(Staging):
    """The output of one run for an object-store ``OUT``: staged locally, then uploaded.

    Publication, in this order: the old ``manifest.jsonl`` is deleted (from then on the
    store holds no complete run), the old ``clean/`` is deleted, the new ``clean/``,
    ``duplicates.json``, ``report.html`` and ``summary.json`` are uploaded, and the new
    ``manifest.jsonl`` is uploaded last. Each object is replaced whole, but there is no
    atomic swap of the folder: a reader must wait for the manifest, and a run killed
    during the upload leaves a prefix without one (a rerun completes it). Nothing in the
    store says that a run is writing, so two runs into one ``OUT`` are not refused here.
    """

    MARKER = "manifest.jsonl"

    def __init__(self, uri: str, output_format: str = "files", shard_bytes: int = DEFAULT_SHARD_BYTES,
                 compress: bool = False):
        from pyarrow import fs as pafs

        check_output_format(output_format, shard_bytes, compress)
        self.uri = uri
        self.fs, self.base = filesystem(uri)
        try:  # fail before the run, not after it: a typo in the bucket is the usual mistake
            if not bucket_exists(self.fs, self.base):
                raise LocationError(f"{display(uri)}: no such bucket")
            if self.fs.get_file_info(self.base).type == pafs.FileType.File:
                raise LocationError(f"{display(uri)}: not a directory")
            if self.fs.type_name not in ("s3", "gcs"):  # stores with real folders
                self.fs.create_dir(self.base, recursive=True)
        except OSError as exc:
            raise LocationError(f"{display(uri)}: {error_line(exc)}") from exc
        self._start(Path(tempfile.mkdtemp(prefix="cleaner-staging-")), output_format, shard_bytes, compress)

    def publish(self) -> None:
        from pyarrow import fs as pafs

        self._close_outputs()
        local = pafs.LocalFileSystem()
        names = [n for n in self.ARTEFACTS if n != self.MARKER and (self.dir / n).exists()]
        try:
            if self._exists(self.MARKER):
                self.fs.delete_file(self._dst(self.MARKER))
            for name in names:
                src = self.dir / name
                if src.is_dir():
                    self.fs.delete_dir_contents(self._dst(name), missing_dir_ok=True)
                pafs.copy_files(str(src), self._dst(name), source_filesystem=local,
                                destination_filesystem=self.fs)
            if (self.dir / self.MARKER).exists():
                pafs.copy_files(str(self.dir / self.MARKER), self._dst(self.MARKER),
                                source_filesystem=local, destination_filesystem=self.fs)
        except OSError as exc:
            raise LocationError(f"{display(self.uri)}: upload failed, the run is not published "
                                f"(no {self.MARKER}): {error_line(exc)}") from exc
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def abandon(self) -> None:
        try:
            self._close_outputs(finish=False)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _dst(self, name: str) -> str:
        return f"{self.base}/{name}" if self.base else name

    def _exists(self, name: str) -> bool:
        from pyarrow import fs as pafs

        return bool(self.fs.get_file_info(self._dst(name)).type != pafs.FileType.NotFound)


def open_staging(out: str | os.PathLike[str], output_format: str = "files",
                 shard_bytes: int = DEFAULT_SHARD_BYTES, compress: bool = False) -> Staging:
    """The staging for ``OUT``: a folder inside it, or for a URI one under ``$TMPDIR``
    that is uploaded at the end. ``output_format`` etc.: see :func:`shards_for`."""
    where = location(out)
    if isinstance(where, str):
        return UploadStaging(where, output_format, shard_bytes, compress)
    return Staging(where, output_format, shard_bytes, compress)


"""The work the engines hand to their workers, one function per parallel pass, built from
the stages' own functions (sources read, clean, templates, dedup features).

Each function takes one unit of work and returns small, picklable records for the driver:
the document for the spool (where the worker wrote it, or its pickle: see :func:`spool_out`)
and what the driver counts, logs and hashes. They are
module-level functions so that either engine (a forked pool, Ray tasks) can ship them by
name, and they depend on nothing of the driver's state but what they are given.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import struct
import time
from array import array
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

import numpy as np

from .clean.furniture import TemplateStats, line_keys
from .clean.stages import CleanSettings, Trace, clean_keys, flag_over_cleaned, remove_templates, template_arrays
from .document import Document, doc_key
from .outputs.duplicates import duplicates_json, report_view, write_duplicates
from .outputs.manifest import ManifestDigest
from .outputs.summary import StageStats
from .outputs.writers import json_line
from .sources import readers as sources

if TYPE_CHECKING:  # (the dedup package is imported where dedup runs)
    from .dedup.features import Columns

log = logging.getLogger("cleaner")


class Cleaned(NamedTuple):
    """A document after the first pass, as the driver receives it: the pickled document for
    the spool (or, from a worker on the driver's machine, where it wrote it: see
    :func:`spool_out`), what the driver logs and counts, and its distinct line keys for the
    template statistics (kept documents only). The driver does not unpickle the document,
    nor with the local engine even see it: on two cores, every second of CPU it spends
    receiving and writing texts is one the workers do not get."""

    blob: bytes | Ref
    key: str
    source: str
    status: str
    stage: str
    reason: str
    encoding: str | None
    chars_in: int
    chars_out: int
    removed: int  # lines removed by rules and the furniture classifier
    # the keys' bytes (native uint64, as stages.clean_keys' array holds them), or None when
    # not kept: an array crosses to the driver through numpy's reduce and reconstruct, which
    # cost the worker and the driver several times a bytes object's pickle
    keys: bytes | None


class Piece(NamedTuple):
    """A unit of pass-1 work: a file a worker reads itself (``item``), or a run of records
    of a container that the driver has read (``docs``). ``last`` marks the piece that
    completes input ``index``.

    Containers are cut into pieces so that the records of one big file (a Common Crawl
    WARC or WET file, a dataset shard) spread over all the workers instead of occupying
    one: the driver streams the file (inflating and parsing is a few percent of the cost
    of cleaning a record) and the engine keeps a bounded number of pieces in flight, so
    memory is bounded by those records, not by the file."""

    index: int
    item: sources.InputFile | None
    docs: list[Document]
    last: bool


#: A container piece closes at this many records or characters of text, whichever first.
#: The engine's first chunks hold sixteen pieces (as they do small files, see
#: :data:`PIECE_CHUNK`): about 32 records a chunk, so a file of a hundred records already
#: gives every worker of a small machine work.
PIECE_RECORDS = 2
PIECE_CHARS = 16_000
#: Pieces a chunk of pass-1 work, once every worker is busy (the engine starts at sixteen
#: and doubles, see ``engines.local._chunk_sizes``). Each chunk costs the driver about 0.4 ms
#: of its own CPU whatever it holds (the executor's future, its threads waking for the call
#: and for the result, the pickled call), which the workers then lack: at four plain files
#: a chunk the driver spent 3.6 s of CPU in pass 1 of the 200 MB crawl (25,219 files), at
#: sixteen 2.0 s, at 64 1.2 s (its threads 1.0 -> 0.4 s). A worker death costs the pieces
#: of the chunks in flight, each run again alone: up to 4 x workers x 64 for the first death
#: of a map, after which its chunks stay at sixteen.
PIECE_CHUNK = 64


def pieces(items: list[sources.InputFile], max_bytes: int, fields: sources.Fields = sources.DEFAULT_FIELDS
           ) -> Iterator[Piece]:
    """The pass-1 work, in input order: plain files whole, containers record by record."""
    for index, item in enumerate(items):
        if not sources.is_container(item.kind):
            yield Piece(index, item, [], True)
            continue
        batch: list[Document] = []
        chars = 0
        for doc in sources.read(item, max_bytes, fields):
            batch.append(doc)
            chars += len(doc.text)
            if len(batch) >= PIECE_RECORDS or chars >= PIECE_CHARS:
                yield Piece(index, None, batch, False)
                batch, chars = [], 0
        yield Piece(index, None, batch, True)


def read_and_clean(piece: Piece, settings: CleanSettings, max_bytes: int,
                    fields: sources.Fields = sources.DEFAULT_FIELDS, out: str | None = None) -> list[Cleaned]:
    """Pass 1 for one piece: each document read, cleaned (rules, furniture) and its line
    keys taken for the template statistics; a failure is the document's fate, not the run's.
    ``out``: where the documents go (:func:`spool_out`)."""
    cleaned = []
    docs = sources.read(piece.item, max_bytes, fields) if piece.item is not None else piece.docs
    for doc in docs:
        try:
            doc, keys = clean_keys(doc, settings)
        except Exception as exc:  # a bug must not cost the other files
            doc = doc.fail("error", f"cleaning failed: {type(exc).__name__}: {exc}", "clean")
            keys = None
        blob = spool_out(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL), out)
        cleaned.append(Cleaned(blob, doc.key, doc.source, doc.status, doc.stage, doc.reason, doc.encoding,
                               doc.chars_in, len(doc.text), sum(doc.removed.values()),
                               None if keys is None else keys.tobytes()))
    return cleaned


def lost_piece(piece: Piece, cause: str) -> list[Cleaned]:
    """The pass-1 result of a piece whose worker died every time it cleaned it alone (see
    :meth:`cleaner.engines.local.LocalEngine.map`): its documents are errors naming the
    cause, and the run goes on. A file's document is made from its listing (reading it is
    part of what died); a container's records were read by the driver. It runs in the
    driver, which spools the bytes itself."""
    docs = piece.docs if piece.item is None else [Document(path=piece.item.rel, kind=piece.item.kind or "text")]
    out = []
    for doc in docs:
        doc.fail("error", f"{cause} while cleaning this document", "clean")
        out.append(Cleaned(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL), doc.key, doc.source, doc.status,
                           doc.stage, doc.reason, doc.encoding, doc.chars_in, 0, 0, None))
    return out


def piece_records(piece: Piece) -> list[Piece]:
    """A container piece as pieces of one record each: the engine tries them alone when the
    piece's worker died every time, so that only the record that kills it is lost."""
    if piece.item is not None or len(piece.docs) < 2:
        return [piece]
    n = len(piece.docs)
    return [Piece(piece.index, None, [doc], piece.last and i == n - 1) for i, doc in enumerate(piece.docs)]


@dataclass
class TemplatePass:
    """What the second pass needs from the first: the template lines of each source and
    the statistics they came from (read-only; shared with the workers)."""

    templates: dict[str, np.ndarray]  # each source's template keys, sorted (stages.template_arrays)
    stats: TemplateStats
    wrappers: bool
    dedup: Any
    site_keys: bool = False  # name the lines the index keeps (see _site_keys)
    out: str | None = None  # where the workers put the documents (see spool_out)
    sigs_out: str | None = None  # where they put the documents' signatures (with out)


#: Documents a chunk of pass-2 work, once every worker is busy (as :data:`PIECE_CHUNK`).
#: Each chunk costs the driver about 0.4 ms of its own CPU on the cores the workers need; a
#: result no longer carries its signatures (see :class:`Untemplated`), so a chunk's
#: results are small however many documents it holds. What a larger chunk costs is what a
#: worker death costs: the documents of the chunks in flight run again, each alone (after
#: one death a map's chunks stay at sixteen, see ``LocalEngine._windowed``). The
#: engine alone (2 workers kept busy, bench of 4,096 items): 26 us of the driver's CPU an
#: item at 16 a chunk, 6 at 64, which a run's figures hid in their noise at first.
UNTEMPLATE_CHUNK = 64


class Untemplated(NamedTuple):
    """A document after the second pass, as the driver receives it: the pickled document
    for the spool (or where the worker wrote it, as in :class:`Cleaned`), what the driver
    logs and the duplicate finder records, the dedup features, the texts of its repeated
    lines, and the template lines it lost.

    ``sigs``: where the worker wrote the features' MinHash signatures, when it writes to
    spool files of its own (a ``sigs-<pid>.spool`` beside the documents' ``final-<pid>``;
    the features' signature column is then empty; the driver hands the duplicate finder only where
    they are, the core copies them from the file into the signature stores at
    ``Finder.flush`` without a byte of them passing through Python, and the driver deletes the
    files at the end of the pass, see :class:`Templates`). The signatures are the bulk of the features
    (512 bytes a passage at 128 permutations, more bytes than the text): through the
    result pipe they cost the worker a copy into the pickle and a write, and the driver a
    read of the pipe, the pickle's copies and a large block's page faults, for every
    document, on the cores the workers need; from the page cache they are one ``pread``."""

    blob: bytes | Ref
    key: str
    status: str
    stage: str
    reason: str
    # (path, id, characters, date) of a document with features, which the driver makes
    # the duplicate finder's DocMeta of (numbering it); else None
    meta: tuple[str, str | None, int, str | None] | None
    features: Columns | None  # the bytes of the features' columns (features.counted_feature_columns)
    samples: dict[tuple[str, int], str]
    removals: Removals | None  # what template removal took (see _pack_removals)
    site_keys: Any = None  # numpy uint64 keys for the index (see _site_keys), or None
    sigs: Ref | None = None


#: What template removal took from one document (``TemplateStats.removals`` of its
#: :meth:`~TemplateStats.view`: (source, key, mechanism) -> [lines, text]), packed by
#: :func:`_pack_removals`: the source, the mechanisms' names, and per entry in order its
#: line key (``uint64``), lines (``uint32``) and mechanism (an index into the names) as the
#: bytes of three arrays, and its text.
Removals = tuple[str, tuple[str, ...], bytes, bytes, bytes, list[str]]


def _pack_removals(removals: dict[tuple[str, int, str], list[Any]]) -> Removals | None:
    """A document's removals (all of one source: the document's) as :data:`Removals`: the
    dictionary, a tuple of three and a list per entry (a dozen entries for a document of a
    site with a template), was a sixth of what a pass-2 result cost to pickle and most of
    what it cost the driver to unpickle; packed, a document's keys, counts and mechanisms
    are three bytes objects, and the source and names one string each."""
    if not removals:
        return None
    # columns by zip(*...), each made in C: a loop over the entries cost more than the pickle saved
    sources, keys, marks = zip(*removals, strict=True)
    if sources.count(sources[0]) != len(sources):  # one source is sent for all (a compare each, in C)
        raise ValueError(f"removals of more than one source in one document: {sorted(set(sources))}")
    counts, texts = zip(*removals.values(), strict=True)
    names = {mark: k for k, mark in enumerate(dict.fromkeys(marks))}
    # a mechanism's index is one byte: at most 256 mechanisms in one document (template
    # removal has 2, chrome.template and chrome.wrapper; bytes() raises past 255)
    return (sources[0], tuple(names), array("Q", keys).tobytes(), array("I", counts).tobytes(),
            bytes(map(names.__getitem__, marks)), list(texts))


def _merge_removals(into: dict[tuple[str, int, str], list[Any]], packed: Removals) -> None:
    """Add a document's packed removals (:func:`_pack_removals`) to the driver's
    ``TemplateStats.removals``: the lines counted, the first text of an entry kept, entries
    in the order they came."""
    source, names, keys, counts, marks, texts = packed
    for key, n, mark, text in zip(memoryview(keys).cast("Q"), memoryview(counts).cast("I"), marks, texts,
                                  strict=True):
        k = (source, key, names[mark])
        entry = into.get(k)
        if entry is None:
            into[k] = [n, text]
        else:
            entry[0] += n


def untemplate(shared: TemplatePass, item: bytes | Ref) -> Untemplated:
    """Pass 2 for one spooled document (its pickle, or where pass 1 wrote it, which the
    worker reads itself): template lines removed, dedup features computed. With a spool
    file of its own (``shared.out``) the worker writes the document there, and the
    signatures of its features to another (``shared.sigs_out``), and returns where (see
    :class:`Untemplated`)."""
    doc = pickle.loads(spool_in(item))
    stats = shared.stats.view()
    site_keys = _site_keys(doc, stats) if shared.site_keys and doc.status == "kept" else None
    doc = remove_templates(doc, shared.templates, stats, shared.wrappers)
    doc, features = _features(doc, shared.dedup)
    # The result crosses a pipe (or, from Ray, the object store): plain tuples and bytes,
    # which pickle and unpickle without a call to Python (a DocMeta, a NamedTuple, calls its
    # class, and a Features features._columns); the driver makes its DocMeta and arrays of them.
    meta = None if features is None else (doc.path, doc.id, len(doc.text), doc.date)
    blob = spool_out(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL), shared.out)
    sigs = None
    if shared.sigs_out is not None and features is not None:
        # A worker with files of its own (a process of the local engine) writes the
        # signatures to a file of their own: the core copies them from it once, at the
        # duplicate finder's flush in this pass, and the driver then deletes it, where the
        # documents' files stay until the write step.
        exact, size, num_perm, sig_bytes, *rest = features
        if sig_bytes:
            sigs = _spool_record(shared.sigs_out, sig_bytes)
        features = (exact, size, num_perm, b"", *rest)
    return Untemplated(blob, doc.key, doc.status, doc.stage, doc.reason, meta, features, stats.samples,
                       _pack_removals(stats.removals), site_keys, sigs)


def lost_untemplate(item: bytes | Ref, cause: str) -> Untemplated:
    """The pass-2 result of a document whose worker died every time it ran alone: an error
    naming the cause (see :func:`lost_piece`; the driver reads the document itself)."""
    doc = pickle.loads(read_ref(item))
    doc.fail("error", f"{cause} while removing template lines from this document", "templates")
    return Untemplated(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL), doc.key, doc.status, doc.stage,
                       doc.reason, None, None, {}, None)


def _site_keys(doc: Document, stats: TemplateStats) -> np.ndarray:
    """The lines of a document worth keeping in the index's site statistics: its header
    and footer lines (what rules and the furniture classifier removed around the text), and
    the text lines occurring in exactly the documents of one of those (counting the index;
    one document is a set too). Only such a line can become wrapper when a later page
    of the site arrives: a text line whose document set differs from every header line's
    now differs from it for good, since later documents add to both sets alike. So the
    text of an article on a page whose chrome other pages share is never stored."""
    head = doc.head_keys if doc.head_keys is not None else line_keys(doc.head)
    lines = doc.line_keys if doc.line_keys is not None else line_keys(doc.text.split("\n\n"))
    counts, sums = stats.lookup(doc.source, head)
    sets = set(sums[counts >= 1].tolist())
    _, line_sums = stats.lookup(doc.source, lines)
    worthy = [k for k, s in zip(lines, line_sums.tolist(), strict=True) if s in sets]
    return np.unique(np.array([*head, *worthy], dtype=np.uint64))


def _features(doc: Document, dedup: Any) -> tuple[Document, Columns | None]:
    """The document's dedup features as their columns' bytes (``features.counted_feature_columns``,
    what the duplicate finder takes: see ``Finder.add_meta``), or None: no dedup, or not
    kept. The text's word count that the same core call counted becomes the document's
    (``Document.words_counted``), so that pickling it does not count the words again."""
    features = None
    if dedup is not None and doc.status == "kept":
        try:
            features, words = _features_module().counted_feature_columns(doc.text, dedup)
        except Exception as exc:  # a bug (the native core's included) must not cost the other files
            doc = doc.fail("error", f"dedup features failed: {type(exc).__name__}: {exc}", "features")
        else:
            doc.words_counted(words)  # counted as the core read the text: not again when pickled
    return doc, features


@functools.cache
def _features_module() -> ModuleType:
    """``cleaner.dedup.features``, imported on first use (the dedup package is imported where
    dedup runs) and once: an import statement in :func:`_features` cost a hundredth of a
    pass-2 worker's time, run for every document. (The module, not its function: a test
    replaces the function on the module.)"""
    from .dedup import features

    return features


# ---------------------------------------------------------------------------------------
# The pipeline's steps.
#
# A run is a list of steps, each of which takes the documents the previous one left and
# leaves its own (``run(state)``), keeps its own statistics (``stats``) and can be run alone
# on a few documents. What the steps have to share is in :class:`RunState`. The real
# constraint is the barrier: template lines are known only once every document has been
# cleaned, and duplicates only once every document has been hashed. So a step that needs
# every document consumes its whole input before it returns (the documents go to an on-disk
# :class:`Spool`, and the aggregate to the state: the template statistics, the duplicate
# finder), and the next step starts from there. Per-document work runs where the engine
# puts it (a forked process pool, Ray tasks) through the worker functions above; the
# engine is handed the function and schedules it, owning none of the logic.


class Ref(NamedTuple):
    """Where a worker wrote a document's pickle: ``length`` bytes at ``offset`` of the file
    ``path`` (see :func:`spool_out`). What a worker returns instead of the bytes."""

    path: str
    offset: int
    length: int


class _Appender:
    """This process's spool file of one stage, ``<prefix>-<pid>.spool``: each document's
    pickle (or in pass 2's ``sigs`` stage its signatures' bytes, see :class:`Untemplated`)
    framed by its length as in :class:`Spool`, written with ``os.writev`` (no buffer in the
    process), so the bytes are in the kernel's page cache, where any process reads them,
    before the reference leaves the worker; a process that dies mid-write leaves a partial
    record at the end of its own file, which no reference points to."""

    def __init__(self, prefix: str):
        self.forks = _forks  # this process's: an appender inherited by fork is the parent's
        self.path = f"{prefix}-{os.getpid()}.spool"
        # A dead worker's pid can come again within a run: its file is appended to, after
        # whatever that worker left, and the offsets start at the file's end.
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600)
        self.offset = os.fstat(self.fd).st_size

    def append(self, blob: Any) -> Ref:
        """``blob`` (bytes, or any C-contiguous buffer: a numpy array's rows are written from
        the array itself) as a record, its length and bytes in one ``writev``; its reference."""
        view = memoryview(blob).cast("B")
        header = len(view).to_bytes(8, "little")
        total = len(header) + len(view)
        done = os.writev(self.fd, [header, view])
        if done < total:  # a short write (a regular file rarely gives one): the rest
            rest = header + bytes(view)
            while done < total:
                done += os.write(self.fd, rest[done:])
        ref = Ref(self.path, self.offset + len(header), len(view))
        self.offset += total
        return ref

    def close(self) -> None:
        os.close(self.fd)


_APPENDERS: dict[str, _Appender] = {}  # this process's open spool files, by prefix


def remove_worker_files(prefix: str) -> None:
    """Delete every worker's spool file of ``prefix`` (:class:`_Appender`'s names)."""
    stage = Path(prefix)
    for path in stage.parent.glob(f"{stage.name}-*.spool"):
        path.unlink()


#: Forks this process is down from since the module was loaded: 0 in the process that
#: loaded it, one more in each child of a fork. An object inherited by fork (a descriptor
#: cache, an appender) compares the count it was made at with this one, where it compared
#: its pid with ``os.getpid()``: a system call per read, 65 of the driver's 1,100 py-spy
#: samples of pass 2 on a 200 MB run, one read per document.
_forks = 0


def _after_fork_in_child() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


class _Readers:
    """Read descriptors of spool files, at most :attr:`MAX_OPEN` open at once (the least
    recently used is closed first). A pass reads a few files many times, so they stay
    open between reads; but a worker that dies makes every item it held run again in a
    process of its own, each writing a file of its own, so a run that survives deaths can
    leave thousands of files, and a descriptor held for each would end it at the process's
    limit of open files. After a fork, the parent's descriptors are closed in the child
    (its copies) and the child opens its own."""

    MAX_OPEN = 32

    def __init__(self) -> None:
        self.forks = _forks
        self.fds: OrderedDict[str, int] = OrderedDict()

    def read(self, ref: Ref) -> bytes:
        if self.forks != _forks:  # a fork's child: the descriptors are the parent's copies
            self.close()
            self.forks = _forks
        fd = self.fds.get(ref.path)
        if fd is None:
            if len(self.fds) >= self.MAX_OPEN:
                _close_quietly(self.fds.popitem(last=False)[1])
            fd = self.fds[ref.path] = os.open(ref.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        else:
            self.fds.move_to_end(ref.path)
        return _pread(fd, ref)

    def close(self) -> None:
        for fd in self.fds.values():
            _close_quietly(fd)
        self.fds.clear()


_READERS = _Readers()  # this process's (a worker's) read descriptors of spool files


def spool_out(blob: bytes, prefix: str | None) -> bytes | Ref:
    """A document's pickle as a worker hands it on: the bytes themselves when ``prefix`` is
    ``None`` (the driver spools them), else appended to this process's spool file of the
    stage (``prefix``: ``<work>/<stage>``) and its :class:`Ref`. A failed write (a full
    disk) raises, naming the file, and fails the run as the driver's own write would: the
    document is not lost silently."""
    if prefix is None:
        return blob
    return _spool_record(prefix, blob)


def _spool_record(prefix: str, blob: Any) -> Ref:
    """:func:`spool_out` of ``blob`` (bytes or another buffer) to ``prefix``'s file: its reference."""
    out = _APPENDERS.get(prefix)
    if out is None or out.forks != _forks:  # none yet, or the parent's (inherited by fork)
        if out is not None:
            _close_quietly(out.fd)  # this process's copy of the parent's descriptor
        out = _APPENDERS[prefix] = _Appender(prefix)
    try:
        return out.append(blob)
    except OSError as exc:
        del _APPENDERS[prefix]  # reopened at the file's end if the run goes on
        out.close()
        raise OSError(exc.errno, f"{exc.strerror} (a worker writing the documents' spool)", out.path) from exc


def _pread(fd: int, ref: Ref) -> bytes:
    blob = os.pread(fd, ref.length, ref.offset)
    while len(blob) < ref.length:  # a short read (past 2 GiB on Linux), or the file's end
        more = os.pread(fd, ref.length - len(blob), ref.offset + len(blob))
        if not more:  # a reference past the end: never one a worker returned, so a bug
            raise RuntimeError(f"{ref.path}: spool record at {ref.offset} is short "
                               f"({len(blob)} of {ref.length} bytes)")
        blob += more
    return blob


def spool_in(item: bytes | Ref) -> bytes:
    """A document's pickle as a worker is handed it: the bytes, or read by reference
    (through this process's :class:`_Readers`)."""
    if not isinstance(item, Ref):
        return item
    return _READERS.read(item)


def read_ref(item: bytes | Ref) -> bytes:
    """:func:`spool_in` for the driver (a lost document's record): the file is opened for
    the one read, so the driver holds no descriptor of the working folder's files."""
    if not isinstance(item, Ref):
        return item
    readers = _Readers()
    try:
        return readers.read(item)
    finally:
        readers.close()


class Spool:
    """The ordered documents of a pass, on disk: each a pickle this spool holds itself
    (the driver's own, or one a worker sent as bytes: a Ray worker may be on another
    machine), or a :class:`Ref` to where a worker on this machine wrote it. Either is
    framed by a signed length: ``n >= 0``, ``n`` bytes of pickle follow; ``n < 0``, a
    reference follows (its file is ``-n - 1`` in :attr:`files`, then offset and length).
    A pass hands the entries on (to a worker, to the next spool) without unpickling them,
    and the driver keeps only the names of the workers' files in memory."""

    def __init__(self, path: Path):
        self.path = path
        self.count = 0
        self.files: list[str] = []
        self._file_ids: dict[str, int] = {}
        self._fh = open(path, "wb", buffering=SPOOL_BUFFER)

    def add(self, doc: Document) -> None:
        self.add_pickled(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL))

    def add_pickled(self, entry: bytes | Ref) -> None:
        """A document's pickle, or where a worker wrote it."""
        if isinstance(entry, Ref):
            file_id = self._file_ids.get(entry.path)
            if file_id is None:
                file_id = self._file_ids[entry.path] = len(self.files)
                self.files.append(entry.path)
            self._fh.write(_REF.pack(-file_id - 1, entry.offset, entry.length))
        else:
            self._fh.write(len(entry).to_bytes(8, "little", signed=True))
            self._fh.write(entry)
        self.count += 1

    def close(self) -> None:
        self._fh.close()

    def remove(self) -> None:
        """Delete the spool and the workers' files it refers to (read no more)."""
        self._fh.close()
        for path in (self.path, *self.files):
            Path(path).unlink(missing_ok=True)

    def entries(self) -> Iterator[bytes | Ref]:
        """The documents in order as they were added: pickles, or references. A spool still
        open is flushed first: what its buffer (a mebibyte) holds is not yet in the file. A
        file shorter than its entries say is an error (RuntimeError, as a short reference
        is), never a short or empty entry."""
        if not self._fh.closed:
            self._fh.flush()
        with open(self.path, "rb", buffering=SPOOL_BUFFER) as f:
            for _ in range(self.count):
                n = int.from_bytes(_read_exactly(f, 8, self.path), "little", signed=True)
                if n >= 0:
                    yield _read_exactly(f, n, self.path)
                else:
                    offset, length = _REF_TAIL.unpack(_read_exactly(f, _REF_TAIL.size, self.path))
                    yield Ref(self.files[-n - 1], offset, length)

    def pickled(self) -> Iterator[bytes]:
        """The documents' pickles in order, references read (see :class:`_Readers`)."""
        readers = _Readers()
        try:
            for entry in self.entries():
                yield readers.read(entry) if isinstance(entry, Ref) else entry
        finally:
            readers.close()

    def __iter__(self) -> Iterator[Document]:
        return map(pickle.loads, self.pickled())


#: The buffer of a spool's file, written and read. A document's pickle is larger than the
#: default buffer (8 KiB; 15 KB on average on a crawl of 8 KB pages: its text, the
#: classifier's input and its line keys), so each went to the system in a call of its own,
#: and was read back so: with a mebibyte, a call per seventy documents. Spooling 2,625 such
#: pickles cost 33 ms of CPU, reading them back 11 ms; with this buffer 18 and 5.
SPOOL_BUFFER = 1 << 20
_REF = struct.Struct("<qqq")  # a reference's entry: -(file index + 1), offset, length
_REF_TAIL = struct.Struct("<qq")


def _read_exactly(f: BinaryIO, n: int, path: Path) -> bytes:
    """``n`` bytes of a spool's file ``f``; the file ending before them is an error."""
    data = f.read(n)
    if len(data) != n:
        raise RuntimeError(f"{path}: spool entry at {f.tell() - len(data)} is short ({len(data)} of {n} bytes)")
    return data


def close_spool_files() -> None:
    """Close the spool files this process has open (:func:`spool_out`, :func:`spool_in`):
    the driver's, when a map ran its function in the driver, so that it holds no
    descriptor of the working folder once a step is done. A worker's close with it."""
    for prefix, out in list(_APPENDERS.items()):
        _close_quietly(out.fd)  # ours, or this process's copy of a parent's
        del _APPENDERS[prefix]
    _READERS.close()


def _quote(key: str) -> str:
    """A path safe for a one-line message (newlines and controls escaped)."""
    if key.isprintable():
        return key
    return key.encode("unicode_escape").decode("ascii")


def _no_progress(stage: str, done: int, total: int | None, nbytes: int = 0) -> None:
    pass


@dataclass
class RunState:
    """What the steps of one run share: the settings, the engine, a working folder for the
    spools, and what each step leaves for the next (documents, aggregates, outputs).

    ``docs`` is the documents between steps: a :class:`Spool` after a barrier step, an
    iterator of documents once the driver streams them (dedup to write)."""

    settings: Any  # cleaner.pipeline.RunSettings
    engine: Any  # cleaner.engines.Engine
    work: Path
    items: list[sources.InputFile] = field(default_factory=list)
    progress: Callable[..., None] = _no_progress
    site: Any = None  # cleaner.pipeline.SiteLearning, with a persistent index
    index: Any = None
    staging: Any = None  # cleaner.outputs.writers staging, or None: no output folder
    docs: Any = None  # Spool | Iterator[Document]
    tstats: TemplateStats | None = None
    bytes_in: int = 0
    finder: Any = None  # cleaner.dedup.finder.Finder
    template_report: Any = None
    repeated: list[dict[str, Any]] | None = None
    site_update: Any = None
    dedup_result: Any = None
    count: int = 0  # documents in the last spool (the write step's progress total)
    digest: ManifestDigest | None = None
    manifest_fh: Any = None
    duplicates: dict[str, Any] | None = None
    texts: dict[str, str] = field(default_factory=dict)


def worker_spool(state: RunState, stage: str) -> str | None:
    """Where the workers of ``stage`` put its documents (see :func:`spool_out`): files of
    their own in the run's working folder (``<work>/<stage>-<pid>.spool``) when the engine's
    workers are processes on the driver's machine (``engine.shares_files``) and there are
    several, so the texts never pass through the driver, which spools references; else
    (one worker, which is the driver; Ray workers, which may be on other machines) they
    return the bytes. The files are written and read with ``os.writev`` and ``os.pread``,
    which Windows lacks: there the workers return the bytes too."""
    engine = state.engine
    if engine.shares_files and (engine.workers or 1) > 1 and hasattr(os, "pread") and hasattr(os, "writev"):
        return str(state.work / stage)
    return None


class Step:
    """One step of the pipeline: ``run(state)`` takes ``state.docs`` and leaves the step's
    own documents there (and whatever aggregate it computes in ``state``); ``stats`` is its
    own count of documents in and out and its seconds, which the summary reads by ``name``.

    ``barrier`` says the step sees every document before it returns (its output is spooled):
    the next step can use what it learnt from all of them."""

    name: str = ""
    barrier: bool = False

    def __init__(self) -> None:
        self.stats = StageStats()

    def __call__(self, state: RunState) -> None:
        t0 = time.perf_counter()
        self.run(state)
        self.stats.seconds = time.perf_counter() - t0

    def run(self, state: RunState) -> None:
        raise NotImplementedError


def _input_size(item: sources.InputFile) -> int:
    if item.size is not None:  # an object, sized by the listing
        return item.size
    try:
        return os.stat(item.abspath).st_size  # (not pathlib's: a Path built per input file)
    except OSError:
        return 0


class ReadClean(Step):
    """Pass 1 (parallel, per input file and per :class:`Piece` of a container): read,
    normalise, clean by rules and the furniture classifier (:func:`read_and_clean` in the
    workers); the driver spools each document and counts its lines per source, into
    ``state.tstats``. A barrier: template statistics need every document."""

    name = "read+clean"
    barrier = True

    def run(self, state: RunState) -> None:
        settings, stats, site, items = state.settings, self.stats, state.site, state.items
        tstats = state.tstats
        if tstats is None:
            # the texts of all repeated lines are kept only for `rules suggest`; the report and
            # duplicates.json list the removed lines, whose texts TemplateStats.removals holds
            tstats = state.tstats = TemplateStats(
                sample_at=settings.clean.template_min_docs if settings.repeated_lines else None)
        spool = Spool(state.work / "cleaned.pkl")
        fn = functools.partial(read_and_clean, settings=settings.clean, max_bytes=settings.max_bytes,
                               fields=settings.fields, out=worker_spool(state, "cleaned"))
        state.progress("read+clean", 0, len(items))
        # the engine takes a piece before it returns the piece's result, in order: so
        # the driver notes each piece's input as it goes out and takes it back with it
        sent: deque[tuple[int, bool]] = deque()

        def feed() -> Iterator[Piece]:
            for piece in pieces(items, settings.max_bytes, settings.fields):
                sent.append((piece.index, piece.last))
                yield piece

        for cleaned in state.engine.map(fn, feed(), chunksize=PIECE_CHUNK, lost=lost_piece, split=piece_records):
            position, last = sent.popleft()
            for rec in cleaned:
                stats.docs_in += 1
                if rec.status == "kept":
                    log.debug("%s: clean: kept, %d of %d characters, %d lines removed", _quote(rec.key),
                              rec.chars_out, rec.chars_in, rec.removed)
                    stats.docs_out += 1
                    keys = np.frombuffer(rec.keys, dtype=np.uint64)
                    if site is None:
                        tstats.add_keys(rec.source, keys, rec.key)
                    else:
                        site.count(tstats, rec.source, keys, rec.key)
                elif rec.status == "error":
                    log.error("%s: %s: %s", _quote(rec.key), rec.stage or "read", rec.reason)
                elif rec.reason == "unsupported file type":
                    log.info("%s: read: skipped (%s)", _quote(rec.key), rec.reason)
                else:
                    log.warning("%s: %s: %s (%s)", _quote(rec.key), rec.stage or "read", rec.status, rec.reason)
                if rec.status == "kept" and rec.encoding not in ("utf-8", "utf-8-sig", None):
                    log.info("%s: read: not UTF-8, decoded as %s", _quote(rec.key), rec.encoding)
                spool.add_pickled(rec.blob)
            if last:
                size = _input_size(items[position])
                state.bytes_in += size
                state.progress("read+clean", position + 1, len(items), size)
        spool.close()
        close_spool_files()
        # The pass-1 workers go now, not when pass 2 forks its own: idle, they still hold
        # the rules' automata and their heaps (over 100 MB each), while the driver grows
        # computing the template lines; at 1 GB that overlap was the run's peak memory.
        state.engine.release_workers()
        if settings.free_rules:
            # Nothing after pass 1 matches a rule, and the driver's rule set (about 65 MiB for
            # the built-in packs, more when the driver cleaned: the automata's caches) would
            # otherwise stay through pass 2 (shared with its workers) and dedup (alone), the
            # peaks of a large run. Let go before pass 2 forks its workers (see freed).
            from .engines.local import freed

            freed(settings.clean.release_rules)
        if site is not None:
            site.flush(tstats)
        state.docs, state.count = spool, spool.count


class Templates(Step):
    """Pass 2 (parallel, per document): each source's template lines removed and the dedup
    features computed (:func:`untemplate` in the workers, which are handed the corpus-wide
    line statistics once); the driver hands the features to the duplicate finder
    (``state.finder``) and spools the documents. A barrier: dedup needs every document."""

    name = "templates"
    barrier = True

    def run(self, state: RunState) -> None:
        settings, site, spool = state.settings, state.site, state.docs
        tstats = state.tstats if state.tstats is not None else TemplateStats()
        templates = tstats.templates(settings.clean.template_min_docs, settings.clean.template_min_share)
        if site is not None:  # what the index knows of these sites' lines
            templates = site.merge(tstats, templates)
        spool2 = Spool(state.work / "final.pkl")
        finder = None
        if settings.dedup is not None:
            from .dedup.finder import Finder

            finder = state.finder = Finder(settings.dedup)  # passage signatures go to a file under $TMPDIR
        # Template removal needs the corpus-wide counts: the workers get them once (the
        # engine shares them) and the spooled documents, by reference when they can read
        # the files themselves, else as bytes; the driver keeps a record per document and
        # passes what it is given for the document (reference or bytes) on to the next spool.
        out = worker_spool(state, "final")
        sigs_out = worker_spool(state, "sigs")
        shared = TemplatePass(template_arrays(templates), tstats, settings.clean.wrappers, settings.dedup,
                              site_keys=site is not None and settings.index_update, out=out, sigs_out=sigs_out)
        state.progress("templates", 0, spool.count)
        self._collect(state, finder, spool, spool2, tstats,
                      state.engine.map_shared(untemplate, shared, spool.entries() if out else spool.pickled(),
                                              chunksize=UNTEMPLATE_CHUNK, lost=lost_untemplate))
        if finder is not None:
            finder.flush()  # the signatures it holds still in the workers' files, before they go
        spool2.close()
        close_spool_files()
        # What only this pass read goes now, not with the run's working folder: the first
        # pass's documents and the signatures, each about the input's size on disk.
        spool.remove()
        if sigs_out is not None:
            remove_worker_files(sigs_out)
        del shared
        # The template lines for the report, then the statistics go: a line count per
        # distinct line of the corpus is not needed by dedup, whose peak comes next.
        state.template_report = tstats.removed_report(settings.clean.template_min_docs)
        state.repeated = tstats.report(settings.clean.template_min_docs) if settings.repeated_lines else None
        state.site_update = site.update(tstats) if site is not None and settings.index_update else None
        state.tstats = None
        del tstats, templates
        state.engine.release_workers()  # the rest runs in the driver (or on the Ray cluster)
        state.docs, state.count = spool2, spool2.count

    def _collect(self, state: RunState, finder: Any, spool: Spool, spool2: Spool, tstats: TemplateStats,
                 results: Iterator[Untemplated]) -> None:
        """The driver's part of pass 2, for each document's result in order. The signatures
        a worker wrote to its file are handed to the finder by reference: the core copies
        them from that file to the finder's own (:class:`cleaner.dedup.store.SigSpans`)."""
        stats, site = self.stats, state.site
        if finder is not None:
            from .dedup.features import DocMeta
        for r in results:
            stats.docs_in += 1
            state.progress("templates", stats.docs_in, spool.count)
            if site is not None and r.site_keys is not None:
                site.collect(r.site_keys)
            for sample in r.samples.items():
                tstats.samples.setdefault(*sample)
            if r.removals is not None:
                _merge_removals(tstats.removals, r.removals)
            if r.status == "empty" and r.stage == "templates":
                log.warning("%s: templates: empty (%s)", _quote(r.key), r.reason)
            elif r.status == "error" and r.stage in ("templates", "features"):  # pass 1 named its own
                log.error("%s: %s: %s", _quote(r.key), r.stage, r.reason)
            if r.status == "kept":
                stats.docs_out += 1
                if finder is not None:
                    finder.add_meta(DocMeta(spool2.count, *r.meta), r.features, r.sigs)
            spool2.add_pickled(r.blob)


class Dedup(Step):
    """Pass 3 (driver; LSH on the Ray cluster with ``lsh_backend = "ray"``): candidates,
    confirmed pairs, clusters and keep policy (``state.finder.finish``); the documents then
    stream from the spool through :meth:`DedupResult.apply`, which marks duplicates and cuts
    copied passages. Without a finder (no dedup) the documents pass unchanged."""

    name = "dedup"

    def run(self, state: RunState) -> None:
        from .engines.local import large_blocks_returned

        finder, spool = state.finder, state.docs
        if finder is not None:
            state.progress("dedup", 0, None)
        docs_iter: Iterator[Document] = iter(spool)
        if finder is not None:
            if state.index is not None:
                state.index.replacing((d.path, d.id) for d in finder.docs)
            with large_blocks_returned():
                state.dedup_result = finder.finish(state.index)
            docs_iter = state.dedup_result.apply(docs_iter)
            self.stats.docs_in = finder_docs = len(finder.docs)
            self.stats.docs_out = finder_docs - len(state.dedup_result.dropped)
        state.docs = docs_iter


class Write(Step):
    """Pass 4 (driver): each document's final fate (the over-cleaned flag), its clean text
    staged (files or shards), its manifest record, and duplicates.json; the manifest goes to
    disk record by record, memory keeps a digest (``state.digest``: counts, totals and the
    few records the report shows). Without an output folder only the digest is kept."""

    name = "write"

    def run(self, state: RunState) -> None:
        from .outputs import report

        stats, staging, dedup_result = self.stats, state.staging, state.dedup_result
        digest = state.digest = ManifestDigest(keep_all=staging is None)
        manifest_fh = state.manifest_fh = staging.open_text("manifest.jsonl") if staging is not None else None
        # texts of the members of the largest clusters, for the report's side-by-side diffs
        shown = {doc_key(m["path"], m["id"])
                 for c in (dedup_result.documents if dedup_result else [])[:10] for m in c["members"]}
        texts = state.texts
        # the manifest's lines go to its file MANIFEST_LINES at a time: a write of the text
        # file per record was a Python call and an encode of its own
        lines: list[str] = []
        state.progress("write", 0, state.count)
        for doc in state.docs:
            flag_over_cleaned(doc)  # the text is final: every mechanism has had its say
            if shown and doc.key in shown and doc.text:
                texts[doc.key] = doc.text
            status = doc.status
            if status == "duplicate":
                log.info("%s: dedup: %s", _quote(doc.key), doc.reason)
            record = doc.manifest_record()
            stats.docs_in += 1
            if status == "kept" and staging is not None:
                record.update(staging.write_document(doc))  # output (and row, in a shard)
                stats.docs_out += 1
            if manifest_fh is not None:
                lines.append(json_line(record))
                if len(lines) >= MANIFEST_LINES:
                    _write_lines(manifest_fh, lines)
            digest.add(record)
            state.progress("write", stats.docs_in, state.count)
        if lines and manifest_fh is not None:
            _write_lines(manifest_fh, lines)
        # duplicates.json is written a passage cluster at a time; the result (and the report)
        # get every cluster only when there is no output folder (the commands that print them)
        if dedup_result is not None:
            if staging is None:
                state.duplicates = duplicates_json(dedup_result, state.template_report)
            else:
                with staging.open_text("duplicates.json") as fh:
                    write_duplicates(fh, dedup_result, state.template_report)
                    fh.write("\n")
                state.duplicates = report_view(dedup_result, state.template_report, report.TOP_CLUSTERS)
        state.docs = None
        # the clean files are written by the core's threads: wait for the last (and raise the
        # first failure) only now, so that the files still queued when the documents are done
        # (up to the queue's bound, writers.FILE_QUEUE_BYTES) are written while this thread
        # writes duplicates.json, not after it with a core idle
        if staging is not None:
            staging.flush()


#: Manifest lines the write step joins into one write of its file.
MANIFEST_LINES = 256


def _write_lines(fh: Any, lines: list[str]) -> None:
    """Writes ``lines`` to ``fh``, each ended by a newline, in one write, and empties
    ``lines`` (the write step's batch of manifest lines)."""
    lines.append("")
    fh.write("\n".join(lines))
    lines.clear()


def default_steps() -> list[Step]:
    """The pipeline of ``clean``: read and clean, templates (and dedup features), dedup,
    write. A run takes any list of steps in this shape (see ``pipeline.run``)."""
    return [ReadClean(), Templates(), Dedup(), Write()]


def explain(path: Path | str, settings: CleanSettings, context: Path | str | None = None,
            max_bytes: int = sources.MAX_BYTES) -> list[tuple[Document, Trace]]:
    """What ``clean`` does to each document of the file ``path``, line by line (``rules
    explain``): the functions the :class:`ReadClean` and :class:`Templates` steps run
    (:func:`clean`, then :func:`remove_templates`), fed the same template statistics as a
    run would. It lives beside those steps so that the two cannot drift apart.

    Template and wrapper statistics are per source, and the source of a file is its folder:
    so by default the statistics come from the files beside ``path`` (not its subfolders),
    which are exactly the documents a run over any folder holding them groups with it.
    Records of a container (JSONL, WARC) are grouped by URL host across the whole input:
    for them pass ``context``, the folder the run read, and all of it is read. Duplicate
    detection is not run: ``--passages drop`` cuts are not shown (duplicates.json lists them)."""
    path = Path(path)
    root = Path(context) if context is not None else path.parent
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise ValueError(f"{path} is not inside {root}") from None
    items = [it for it in sources.walk(root) if context is not None or "/" not in it.rel]
    if not any(it.rel == rel for it in items):
        raise ValueError(f"{path}: not an input of {root}")
    settings.prepare()
    stats = TemplateStats(sample_at=settings.template_min_docs)
    targets: list[tuple[Document, Trace]] = []
    for item in items:
        for doc in sources.read(item, max_bytes):
            trace: Trace | None = [] if item.rel == rel else None
            keys = None
            try:
                doc, keys = clean_keys(doc, settings, trace)
            except Exception as exc:  # as in a run: the failure is the document's fate
                doc = doc.fail("error", f"cleaning failed: {type(exc).__name__}: {exc}", "clean")
            if doc.status == "kept" and keys is not None:
                stats.add_keys(doc.source, keys, doc.key)
            if trace is not None:
                targets.append((doc, trace))
    templates = template_arrays(stats.templates(settings.template_min_docs, settings.template_min_share))
    for doc, trace in targets:
        remove_templates(doc, templates, stats.view(), settings.wrappers, trace)
    return targets

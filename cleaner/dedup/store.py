"""The sketches of a run as the driver holds them: columns in memory, signatures in a file."""

from __future__ import annotations

import os
import shutil
import tempfile
from array import array
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..native import core as _native
from .features import PassageFeature, Sketch

EXACT_DTYPE = np.dtype((np.void, 12))


class SigSpans(NamedTuple):
    """Signatures left in other processes' files (pass 2's workers write them, see
    :class:`cleaner.steps.Untemplated`): span ``k`` is ``lengths[k]`` bytes of whole rows
    (little-endian uint32) at byte ``offsets[k]`` of ``files[which[k]]``. What
    :meth:`PassageStore.add_batch` copies into its files without handing the bytes to Python."""

    files: list[str]
    which: np.ndarray  # int32
    offsets: np.ndarray  # int64
    lengths: np.ndarray  # int64


class PassageStore:
    """The passages of a run as the driver holds them: fixed-width columns in memory
    (about 30 bytes a passage) and signatures in files, read back by row.

    Why: a run has tens of passages per document, and a 512-byte signature plus its Python
    objects per passage made the driver the one part whose memory grew with the corpus
    (about 1 KB a passage, 7 MB per MB of input). The files are the native core's
    (``native/src/store.rs``): a document's signatures are one copy into its buffer, written
    in blocks with the GIL released, once whole (read by row: the rows of a batch of pairs,
    see :meth:`sigs`) and once cut into the LSH bands (see :meth:`band`)."""

    def __init__(self, num_perm: int, scratch: Path | None = None, name: str = "passage",
                 layout: Callable[[], tuple[int, int]] | None = None):
        self.num_perm = num_perm
        # LSH reads one band of every signature at a time: with the banding known
        # (``layout()`` gives bands and rows, asked at the first signature), each band is
        # also written to a file of its own, so a band is a read of 4 x rows bytes a text
        # instead of a pass over the whole signature file
        self._layout = layout
        self.bands: tuple[int, int] | None = None
        _sweep(Path(scratch or tempfile.gettempdir()))
        self.dir = Path(tempfile.mkdtemp(prefix=f"{_STORE_PREFIX}{os.getpid()}-", dir=scratch))
        self.path = self.dir / f"{name}-signatures.u32"
        self._writer: Any = None  # the native writer, from the first signature to freeze
        self._reader: Any = None  # the native reader of :attr:`path`, from the first read
        self.rows = 0
        self._frozen = False
        self._cols = {name: array("i") for name in ("line_start", "line_end", "chars", "size")}
        # the doc column as runs (a document's rows come together): a number and a count per document
        self._doc_runs = (array("i"), array("i"))
        self._signed = bytearray()  # per row: 1 if it has a signature (its row in the files: those before it)
        self._exact = bytearray()
        self.doc = self.line_start = self.line_end = self.chars = self.size = np.empty(0, dtype=np.int32)
        self.sig_row = np.empty(0, dtype=np.int32)

    def add(self, doc: int, p: PassageFeature) -> None:
        sig = p.sketch.sig
        self.add_rows(doc, [p.line_start], [p.line_end], [p.chars], [p.sketch.size], p.sketch.exact,
                      np.empty((0, self.num_perm), np.uint32) if sig is None else np.asarray(sig)[None, :],
                      signed=np.array([sig is not None]))

    def add_rows(self, doc: int, line_start: Sequence[int], line_end: Sequence[int], chars: Sequence[int],
                 size: Sequence[int], exact: bytes, sigs: np.ndarray, signed: np.ndarray | None = None) -> None:
        """Passages of document ``doc``, as columns; ``sigs`` holds the signatures of the
        rows that have one (``signed``; by default the rows whose ``size`` is not 0, as
        :class:`Features` has them), in order."""
        self.add_batch([doc], [len(size)], line_start, line_end, chars, size, exact, [sigs], signed)

    def add_batch(self, docs: Sequence[int], counts: Sequence[int], line_start: Sequence[int],
                  line_end: Sequence[int], chars: Sequence[int], size: Sequence[int], exact: bytes,
                  sigs: Sequence[np.ndarray] | SigSpans, signed: np.ndarray | None = None) -> None:
        """Passages of several documents, ``counts[i]`` of document ``docs[i]``, their
        columns concatenated; ``sigs``: arrays of the signatures of the rows that have one,
        in order (a document's, or any other cut of them), or where they are in files
        (:class:`SigSpans`, read by the core).

        Called while the workers compete with the driver for the cores: the driver hands a
        few hundred documents at a time (see :meth:`Finder.add_meta`), so a document costs
        a share of a few numpy calls, and its signatures a copy (into the native writer)."""
        counts = np.asarray(counts, dtype=np.int32)
        n = int(counts.sum())
        if self._frozen:
            raise ValueError("the store is frozen: nothing can be added")
        if len(exact) != n * EXACT_DTYPE.itemsize:
            raise ValueError("exact keys are 12-byte digests")
        size = np.asarray(size, dtype=np.int32)
        if len(size) != n or len(docs) != len(counts):
            raise ValueError("one size per row, one count per document")
        signed = size != 0 if signed is None else np.asarray(signed, dtype=bool)
        k = int(np.count_nonzero(signed))
        if isinstance(sigs, SigSpans):
            spans = sigs
            lengths = np.asarray(spans.lengths, dtype=np.int64)
            width = 4 * self.num_perm
            if (lengths % width).any():
                raise ValueError(f"signatures of {self.num_perm} values")
            got, parts = int(lengths.sum()) // width, []
        else:
            parts = [np.ascontiguousarray(part, dtype="<u4") for part in sigs if len(part)]
            if any(part.ndim != 2 or part.shape[1] != self.num_perm for part in parts):
                raise ValueError(f"signatures of {self.num_perm} values")
            got = sum(len(part) for part in parts)
        if k != got:
            raise ValueError("one signature per passage with shingles")
        if self.rows + k >= 2**31:
            raise ValueError("a signature store holds fewer than 2**31 signatures")
        if k and self._writer is None:
            self._open_writer()
        if isinstance(sigs, SigSpans) and k:
            self._writer.append_spans([str(f) for f in sigs.files], np.asarray(sigs.which, dtype="<i4").tobytes(),
                                      np.asarray(sigs.offsets, dtype="<i8").tobytes(), lengths.astype("<i8").tobytes())
        for part in parts:
            self._writer.append(part.view(np.uint8))  # the files' bytes, as they are in memory
        self.rows += k
        self._doc_runs[0].frombytes(np.asarray(docs, dtype=np.int32).tobytes())
        self._doc_runs[1].frombytes(counts.tobytes())
        for name, col in (("line_start", line_start), ("line_end", line_end), ("chars", chars), ("size", size)):
            self._cols[name].frombytes(np.asarray(col, dtype=np.int32).tobytes())
        self._signed += signed.tobytes()
        self._exact += exact

    def _open_writer(self) -> None:
        if self._layout is not None:
            self.bands = self._layout()
        b, r = self.bands or (0, 0)
        self._writer = _native.SigWriter(self.path, self.num_perm, [self._band_path(k) for k in range(b)], r)

    def _band_path(self, k: int) -> Path:
        return self.dir / f"band-{k}.u32"

    def band_stars(self, k: int, nodes: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:func:`cleaner.dedup.minhash.bucket_stars` of band ``k`` (of :attr:`bands`) of the
        signatures of ``nodes``: positions in ``nodes``, ``(head, member)``. The core reads
        the band from its file into a buffer it keeps (``native/src/buckets.rs``
        ``band_stars``): a band of every passage handed to Python was a fresh block each
        band, mapped and faulted in anew."""
        assert self.bands is not None
        if rows is None:
            rows = self.sig_rows(nodes)
        assert len(rows) == len(nodes), "rows are :meth:`sig_rows` of ``nodes``"
        head, member = _native.band_stars(self._band_path(k), rows, self.bands[1])  # rows read in place
        return (np.frombuffer(head, dtype="<i8").astype(np.int64, copy=False),
                np.frombuffer(member, dtype="<i8").astype(np.int64, copy=False))

    def freeze(self) -> None:
        """Done adding: the signatures are written, the columns become numpy arrays."""
        self._frozen = True
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for name, col in self._cols.items():
            setattr(self, name, _ints(col))
        self.doc = np.repeat(_ints(self._doc_runs[0]), _ints(self._doc_runs[1]))
        signed = np.frombuffer(self._signed, dtype=bool)
        self.sig_row = np.where(signed, np.cumsum(signed, dtype=np.int32) - 1, -1).astype(np.int32)

    def __len__(self) -> int:
        return len(self._signed)

    def exact_keys(self, nodes: np.ndarray) -> np.ndarray:
        return np.frombuffer(self._exact, dtype=EXACT_DTYPE)[nodes]

    def sizes(self, nodes: np.ndarray) -> np.ndarray:
        return self.size[nodes].astype(np.float64)

    def signed(self, nodes: np.ndarray) -> np.ndarray:
        return self.sig_row[nodes] >= 0

    def sig_rows(self, nodes: np.ndarray) -> np.ndarray:
        """The rows of :attr:`path` (and of every band file) that hold the signatures of
        ``nodes`` (int32, contiguous; -1 for a node without a signature), for the core to
        read them itself. The same rows for every band: the band pass makes them once for
        :meth:`band_stars` (at 200 MB of input 3.4 MB a band, each made afresh was mapped
        and faulted in: about 25,000 of the passages' band pass's 42,000 minor faults)."""
        return np.ascontiguousarray(self.sig_row[np.asarray(nodes, dtype=np.int64)])

    def sigs(self, nodes: np.ndarray) -> np.ndarray:
        """Signatures by node, in the order asked, read by the native core in one call: rows
        in file order, a ``pread`` for each span of nearby rows (the passages of one
        document are one).

        Not a memory map: the rows of a batch of candidate pairs are scattered over the whole
        file, and a map that touches them counts every touched page of the file in the
        process's resident memory until it is unmapped (gigabytes on a large run)."""
        rows = self.sig_rows(nodes)
        if len(rows) == 0:
            return np.empty((0, self.num_perm), dtype=np.uint32)
        if self._reader is None:
            self._reader = _native.RowFile(self.path, 4 * self.num_perm)
        return np.frombuffer(self._reader.gather(rows), dtype="<u4").reshape(len(rows), self.num_perm)

    def equal_counts(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """How many signature values nodes ``a[k]`` and ``b[k]`` (signed) share, for every
        ``k``, as int64: ``np.count_nonzero(self.sigs(a) == self.sigs(b), axis=1)`` counted
        by the core as it reads the rows (native/src/prose_rows.rs), without handing the
        signatures to Python (a batch of candidate pairs is 16 MB of them, copied three
        times on the way; confirming LSH's candidates is most of what the driver does
        with its signatures)."""
        ra, rb = self.sig_rows(a), self.sig_rows(b)
        if len(ra) == 0:
            return np.zeros(0, dtype=np.int64)
        counts = _native.equal_counts_rows(self.path, ra.tobytes(), rb.tobytes(), self.num_perm)
        return np.frombuffer(counts, dtype="<u4").astype(np.int64)

    def sketches(self, nodes: Iterable[int]) -> list[Sketch]:
        nodes = np.asarray(list(nodes), dtype=np.int64)
        signed = nodes[self.signed(nodes)] if len(nodes) else nodes
        sig_of = dict(zip(signed.tolist(), self.sigs(signed), strict=True))
        exact = self.exact_keys(nodes)
        return [Sketch(bytes(key), int(self.size[n]), sig_of.get(n))
                for n, key in zip(nodes.tolist(), exact, strict=True)]

    def close(self) -> None:
        self._writer = self._reader = None  # the native objects close their files
        shutil.rmtree(self.dir, ignore_errors=True)


def _ints(col: array) -> np.ndarray:
    return np.frombuffer(col, dtype=np.int32) if len(col) else np.empty(0, np.int32)


_STORE_PREFIX = ".cleaner-dedup-"


def _sweep(scratch: Path) -> None:
    """Remove the stores of runs that died without cleaning up (killed): their folder names
    carry the process id, and a process that no longer exists will not come back for them."""
    for d in scratch.glob(f"{_STORE_PREFIX}*"):
        try:
            pid = int(d.name[len(_STORE_PREFIX):].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            continue  # not ours to judge: another user's process, or not a store

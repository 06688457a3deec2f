"""Dedup: near-duplicate documents and passages with MinHash LSH.

How a pair becomes a duplicate, and why each step is there:

1. **Exact first.** Identical texts (after case and punctuation folding) are grouped by a
   plain hash and collapse onto the first of them; no sketch needed, no estimate error,
   and LSH sees one text per distinct content (a story copied verbatim a thousand times
   is one row in the buckets).
2. **A document's own content.** A document is sketched from its prose (:func:`prose_of`),
   so a wrapper left in its text (a feed, a column of headlines) does not make two pages
   of one site copies, however few pages of that site a run holds.
3. **Candidates from LSH.** MinHash signatures are split into bands, with bands and rows
   chosen by datasketch's own optimal-parameter search for the threshold; two texts are
   candidates when a band is equal, exactly the buckets of datasketch's ``MinHashLSH``
   (which ``lsh_backend="datasketch"`` uses; the default groups the bands with a numpy
   sort, an order of magnitude faster on the driver). A bucket is a star: each member is
   verified against the bucket's first text, so a family costs time linear in its size.
4. **Confirmed before joining.** A candidate pair only becomes an edge when its estimated
   Jaccard reaches the threshold, or the smaller text is mostly contained in the larger one
   (republished copies are often truncated: a 60% prefix of an article has Jaccard 0.6 but
   containment 1.0). Containment is estimated from the Jaccard estimate and the exact
   shingle counts: |A∩B| = J(|A|+|B|)/(1+J).
5. **Clusters.** Documents: the groups the edges connect are split into stars around
   centres chosen by the keep policy (:meth:`Finder._centre_clusters`), so every member
   is a verified duplicate of the document kept for it and a chain of partial matches
   never joins two stories. Passages: connected components of the edges (they report
   where text repeats).

Texts too short to have a single shingle never get a signature (an empty signature is
shared by every short text, the classic way all of them collapse into one cluster): they
are compared exactly, and ``settings`` in the report says so.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..clean import furniture as chrome
from ..document import Document
from . import minhash
from .passages import cut_windows, paragraphs, passage_text, split

PASSAGE_DROP_ID = "dedup.passage"


@dataclass
class DedupSettings:
    threshold: float = 0.5  # document Jaccard threshold (LSH and confirmation)
    containment: float = 0.8  # ... or this much of the smaller document inside the larger
    num_perm: int = 128
    ngram: int = 5  # words per shingle (space-separated scripts)
    char_ngram: int = 5  # characters per shingle (CJK, Thai, ...)
    seed: int = 1
    keep: str = "first"  # first | longest | newest
    passages: str = "flag"  # flag | drop
    passage_threshold: float = 0.7
    passage_containment: float = 0.75  # a subtitle repeating most of the lead sentence
    # Containment only links a passage of some substance to one not much longer: a short
    # stock phrase ("Return to citation in text") sits inside thousands of unrelated
    # paragraphs, and linking each of them to it chains them all into one cluster.
    passage_containment_min: int = 8  # shingles of the smaller passage
    passage_containment_ratio: float = 4.0  # the larger at most this many times the smaller
    passage_min_words: int = 3  # shorter passages are left out entirely
    window: int = 200
    lsh_backend: str = "numpy"  # numpy | datasketch: the same candidates, see confirmed_edges
    # A document is sketched from its prose (see prose_of) when it has this many words of
    # it: a wrapper left in the text (a feed, a list of headlines) is not what makes two
    # pages copies of one story
    prose: bool = True
    prose_min_words: int = 50

    def lsh(self, threshold: float) -> tuple[int, int]:
        return minhash.lsh_params(threshold, self.num_perm)

    def containment_for(self, kind: str) -> float:
        """The containment that confirms a pair of documents (``doc``) or passages."""
        return self.containment if kind == "doc" else self.passage_containment

    def contained(self, kind: str, c: np.ndarray, na: np.ndarray, nb: np.ndarray) -> np.ndarray:
        """Which pairs (estimated containment ``c``, shingle counts ``na``, ``nb``) count as
        one inside the other: for passages, only a smaller side of at least
        ``passage_containment_min`` shingles inside one at most ``passage_containment_ratio``
        times larger (see the field comments)."""
        ok = np.asarray(c) >= self.containment_for(kind)
        if kind != "doc":
            small, large = np.minimum(na, nb), np.maximum(na, nb)
            ok &= (small >= self.passage_containment_min) & (large <= self.passage_containment_ratio * small)
        return ok

    def bands_rows(self, kind: str) -> tuple[int, int]:
        return self.lsh(self.doc_lsh_threshold if kind == "doc" else self.passage_lsh_threshold)

    def describe(self) -> dict[str, Any]:
        b, r = self.lsh(self.doc_lsh_threshold)
        fp, fn = (round(x, 6) for x in minhash.lsh_error_rates(self.doc_lsh_threshold, b, r))
        pb, pr = self.lsh(self.passage_lsh_threshold)
        pfp, pfn = (round(x, 6) for x in minhash.lsh_error_rates(self.passage_lsh_threshold, pb, pr))
        return {
            "scheme": minhash.SCHEME, "minhash_version": minhash.MINHASH_VERSION,
            "num_perm": self.num_perm, "seed": self.seed, "ngram": self.ngram,
            "char_ngram": self.char_ngram,
            "documents": {"threshold": self.threshold, "lsh_threshold": self.doc_lsh_threshold,
                          "sketch": self.doc_sketch,
                          "containment": self.containment,
                          "bands": b, "rows": r, "false_positive": fp, "false_negative": fn},
            "passages": {"threshold": self.passage_threshold, "lsh_threshold": self.passage_lsh_threshold,
                         "containment": self.passage_containment,
                         "containment_min_shingles": self.passage_containment_min,
                         "containment_max_ratio": self.passage_containment_ratio, "bands": pb, "rows": pr,
                         "false_positive": pfp, "false_negative": pfn,
                         "window_words": self.window, "min_words": self.passage_min_words},
            "short_texts": (f"texts with fewer than {self.ngram} words (or {self.char_ngram} characters "
                            "for unsegmented scripts) have no shingles: they are compared exactly; "
                            f"passages under {self.passage_min_words} words are left out"),
            "keep": self.keep, "passage_mode": self.passages,
        }

    @property
    def doc_sketch(self) -> str:
        """What a document's signature is made of (indexes record it: a prose sketch
        compared with a whole-text one would understate every match)."""
        return f"prose-v1 min_words={self.prose_min_words}" if self.prose else "text"

    @property
    def doc_lsh_threshold(self) -> float:
        # Candidates must include copies buried in a longer page (containment high, Jaccard
        # low); confirmation then applies the real threshold or the containment test.
        return round(min(self.threshold, 0.3), 2)

    @property
    def passage_lsh_threshold(self) -> float:
        # LSH must surface contained passages, whose Jaccard is far lower than their
        # containment (16 of 19 shingles inside a 27-shingle paragraph: Jaccard 0.53).
        return round(min(self.passage_threshold, 0.3), 2)


@dataclass(slots=True)
class Sketch:
    """What dedup needs of one text: an exact key, its shingle count and signature."""

    exact: bytes
    size: int  # number of distinct shingles (0: too short, compared exactly)
    sig: np.ndarray | None


@dataclass(slots=True)
class PassageFeature:
    """A passage as dedup holds it: where it is and its sketch. Not its text: the driver
    holds one of these per passage of the corpus, so the text is read back from the
    document (see :meth:`DedupResult.apply`) only for passages that are reported."""

    line_start: int
    line_end: int
    chars: int
    sketch: Sketch


@dataclass
class Features:
    """The sketches of a document (row 0) and of its passages (rows 1..), as columns.

    Workers send these to the driver for every document. As objects (a sketch and a small
    numpy array per passage) pickling them cost the workers about as much as computing them,
    and unpickling them held up the driver; as a handful of arrays they travel as a few
    buffers, and the driver appends them to its store in bulk."""

    exact: bytes  # 12-byte exact keys, row after row
    size: np.ndarray  # int32: distinct shingles per row (0: too short, no signature)
    sigs: np.ndarray  # (rows with size > 0, num_perm) uint32 signatures, in row order
    line_start: np.ndarray  # int32, per passage (rows 1..)
    line_end: np.ndarray
    chars: np.ndarray

    def sketch(self, row: int, sig_row: int | None = None) -> Sketch:
        """Row ``row`` as a Sketch (``sig_row``: its row in ``sigs``, when the caller knows it)."""
        size = int(self.size[row])
        if sig_row is None:
            sig_row = int(np.count_nonzero(self.size[:row]))
        return Sketch(self.exact[12 * row:12 * row + 12], size, self.sigs[sig_row] if size else None)

    @property
    def doc(self) -> Sketch:
        return self.sketch(0)

    @property
    def passages(self) -> list[PassageFeature]:
        sig_rows = np.cumsum(self.size > 0) - (self.size > 0)  # each row's place in sigs
        return [PassageFeature(int(self.line_start[k]), int(self.line_end[k]), int(self.chars[k]),
                               self.sketch(k + 1, int(sig_rows[k + 1]))) for k in range(len(self.line_start))]


def _exact_key(folded: str) -> bytes:
    return hashlib.blake2b(folded.encode(), digest_size=12).digest()


def prose_of(lines: Sequence[str], s: DedupSettings) -> str:
    """What a document is compared by: its lines the furniture classifier reads as prose
    (:func:`cleaner.chrome.classify`: blocks of enough words with enough stopwords of the
    page's language, hard-wrapped lines joined), or its whole text when those hold fewer
    than ``prose_min_words`` words (a page of lists, tables or short lines has no prose to
    speak for it, and a sketch of a sentence or two would match every page repeating them).

    Why: a wrapper that cleaning leaves in the text (a site's feed of posts, a column of
    headlines, a link list) can outweigh a short story, and two different stories in one
    site's wrapper then read as copies. Template statistics cannot remove it when the site
    has only two or three pages in a run, and counting how many documents share a line
    cannot tell it from a story (a story with three copies is in three documents too). What
    tells them apart is what the text is: copies share their prose; the pages of a site
    share their furniture. Two copies of one story in different wrappers still match,
    better than on the whole text, since the wrappers no longer dilute them."""
    classes = chrome.classify(lines)
    prose = [ln for ln, c in zip(lines, classes, strict=True) if c == "good"]
    if sum(len(ln.split()) for ln in prose) < s.prose_min_words:
        return "\n".join(lines)
    return "\n".join(prose)


def features(text: str, s: DedupSettings) -> Features:
    """Per-document work, done in the workers: the document and its passages are shingled
    and signed in one batch (one numpy pass instead of one per passage)."""
    passages = [p for p in split(text, s.window)
                if len(p.text.split()) >= s.passage_min_words or minhash.is_unsegmented(p.text)]
    lines = text.split("\n")
    texts = [prose_of(lines, s) if s.prose else text, *(p.text for p in passages)]
    line_folds = minhash.fold_lines(text)  # a paragraph passage is a line; a window is not
    folded = [" ".join(f for f in line_folds if f),
              *(line_folds[p.line_start - 1] if p.text == lines[p.line_start - 1] else minhash.fold(p.text)
                for p in passages)]
    hashes = minhash.shingle_hashes_many(texts, s.ngram, s.char_ngram)
    size = np.array([len(h) for h in hashes], dtype=np.int32)
    signed = [h for h in hashes if len(h)]
    sigs = minhash.signatures(signed, s.num_perm, s.seed) if signed else np.empty((0, s.num_perm), np.uint32)
    return Features(b"".join(map(_exact_key, folded)), size, np.ascontiguousarray(sigs, dtype=np.uint32),
                    np.array([p.line_start for p in passages], dtype=np.int32),
                    np.array([p.line_end for p in passages], dtype=np.int32),
                    np.array([len(p.text) for p in passages], dtype=np.int32))


def components(edges: np.ndarray) -> list[list[int]]:
    """Connected components of an edge list (``(m, 2)`` ints), as sorted member lists of
    the components with more than one node, ordered by their smallest member.

    Label propagation with pointer jumping in numpy: each node takes the smallest label of
    its neighbours until nothing changes, so a component's label is its smallest node,
    whatever the order of the edges (deterministic), in a few passes over the edge arrays
    instead of a Python dict entry per node."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if len(edges) == 0:
        return []
    nodes, inverse = np.unique(edges, return_inverse=True)
    a, b = inverse.reshape(-1, 2).T
    label = _labels(len(nodes), a, b)
    order = np.lexsort((nodes, label))
    cut = np.flatnonzero(np.diff(label[order])) + 1
    groups = [nodes[part].tolist() for part in np.split(order, cut) if len(part) > 1]
    groups.sort(key=lambda g: g[0])
    return groups


def component_arrays(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`components` as two arrays, ``members`` (every group's members, group after
    group) and ``offsets`` (group ``k`` is ``members[offsets[k]:offsets[k + 1]]``): the same
    groups in the same order, without a Python list per group, for the millions of
    passages a large run can have in duplicate clusters."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if len(edges) == 0:
        return np.empty(0, np.int64), np.zeros(1, np.int64)
    nodes, inverse = np.unique(edges, return_inverse=True)
    a, b = inverse.reshape(-1, 2).T
    label = _labels(len(nodes), a, b)
    order = np.lexsort((nodes, label))
    lab = label[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(lab)) + 1))
    sizes = np.diff(np.concatenate((starts, [len(order)])))
    keep = np.repeat(sizes > 1, sizes)
    members = nodes[order][keep]
    sizes = sizes[sizes > 1]
    # a group's label is its smallest member, so groups sorted by label are sorted by it
    return members, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)


def _labels(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Label propagation with pointer jumping (see :func:`components`)."""
    label = np.arange(n)
    while True:
        low = np.minimum(label[a], label[b])
        np.minimum.at(label, a, low)
        np.minimum.at(label, b, low)
        while True:
            nxt = label[label]
            if np.array_equal(nxt, label):
                break
            label = nxt
        if np.array_equal(label[a], label[b]):
            return label


def similarity(a: Sketch, b: Sketch) -> tuple[float, float]:
    """(Jaccard, containment of the smaller in the larger), estimated from signatures."""
    if a.exact == b.exact:
        return 1.0, 1.0
    if a.sig is None or b.sig is None:
        return 0.0, 0.0
    j = minhash.jaccard(a.sig, b.sig)
    inter = j * (a.size + b.size) / (1 + j)
    return j, min(1.0, inter / max(1, min(a.size, b.size)))


EXACT_DTYPE = np.dtype((np.void, 12))


class PassageStore:
    """The passages of a run as the driver holds them: fixed-width columns in memory
    (36 bytes a passage) and signatures in a file, read back in batches.

    Why: a run has tens of passages per document, and a 512-byte signature plus its Python
    objects per passage made the driver the one part whose memory grew with the corpus
    (about 1 KB a passage, 7 MB per MB of input). The file is written once, in order, and
    read by row: for LSH a band at a time, for confirmation the rows of a batch of pairs
    (see :meth:`sigs`)."""

    def __init__(self, num_perm: int, scratch: Path | None = None, name: str = "passage",
                 layout: Callable[[], tuple[int, int]] | None = None):
        self.num_perm = num_perm
        # LSH reads one band of every signature at a time: with the banding known
        # (``layout()`` gives bands and rows), each band is also written to a file of its
        # own, so a band is one sequential read of 4 x rows bytes a text instead of a pass
        # over the whole signature file
        self._layout = layout
        self.bands: tuple[int, int] | None = None
        self._band_fhs: list[Any] = []
        self._pending: list[np.ndarray] = []  # blocks of signatures not yet written
        self._npending = 0
        _sweep(Path(scratch or tempfile.gettempdir()))
        self.dir = Path(tempfile.mkdtemp(prefix=f"{_STORE_PREFIX}{os.getpid()}-", dir=scratch))
        self.path = self.dir / f"{name}-signatures.u32"
        self._fh: Any = open(self.path, "wb")
        self._fd: int | None = None  # read side, opened on the first read after freeze
        self.rows = 0
        self._cols = {name: array("i") for name in ("doc", "line_start", "line_end", "chars", "size")}
        self._sig_row = array("i")  # int32: a store holds fewer than 2**31 signatures
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
        n = len(size)
        if len(exact) != n * EXACT_DTYPE.itemsize:
            raise ValueError("exact keys are 12-byte digests")
        size = np.asarray(size, dtype=np.int32)
        if signed is None:
            signed = size != 0
        if int(np.count_nonzero(signed)) != len(sigs):
            raise ValueError("one signature per passage with shingles")
        for name, col in (("doc", np.full(n, doc)), ("line_start", line_start), ("line_end", line_end),
                          ("chars", chars), ("size", size)):
            self._cols[name].frombytes(np.asarray(col, dtype=np.int32).tobytes())
        self._exact += exact
        if self.rows + len(sigs) >= 2**31:
            raise ValueError("a signature store holds fewer than 2**31 signatures")
        row = np.full(n, -1, dtype=np.int32)
        row[signed] = np.arange(self.rows, self.rows + len(sigs))
        self._sig_row.frombytes(row.tobytes())
        if len(sigs):
            self._pending.append(sigs)
            self.rows += len(sigs)
            self._npending += len(sigs)
            if self._npending >= 4096:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        block = np.ascontiguousarray(np.concatenate(self._pending), dtype="<u4")
        self._pending = []
        self._npending = 0
        self._fh.write(block)  # the array's buffer: no bytes copy
        if self.bands is None and self._layout is not None:
            self.bands = self._layout()
            self._band_fhs = [open(self.dir / f"band-{k}.u32", "wb") for k in range(self.bands[0])]
        if self.bands is not None:
            rows = self.bands[1]
            for k, fh in enumerate(self._band_fhs):
                fh.write(np.ascontiguousarray(block[:, k * rows:(k + 1) * rows]))

    def band(self, k: int, nodes: np.ndarray) -> np.ndarray:
        """Band ``k`` (of :attr:`bands`) of the signatures of ``nodes``, ``(n, rows)``."""
        assert self.bands is not None
        rows = self.sig_row[nodes]
        if len(rows) > 1 and (np.diff(rows) < 0).any():  # read in file order, then put back
            order = np.argsort(rows, kind="stable")
            out = np.empty((len(rows), self.bands[1]), dtype=np.uint32)
            out[order] = self.band(k, np.asarray(nodes)[order])
            return out
        out = np.empty((len(rows), self.bands[1]), dtype=np.uint32)
        width = 4 * self.bands[1]
        step = 1 << 20  # rows read at a time: the band file is not held whole
        with open(self.dir / f"band-{k}.u32", "rb") as fh:
            for lo in range(0, self.rows, step):
                chunk = np.frombuffer(fh.read(step * width), dtype="<u4").reshape(-1, self.bands[1])
                a, b = np.searchsorted(rows, [lo, lo + len(chunk)])  # rows ascend with the nodes
                out[a:b] = chunk[rows[a:b] - lo]
        return out

    def freeze(self) -> None:
        """Done adding: the columns become numpy arrays."""
        if self._fh is not None:
            self._flush()
            self._fh.close()
            self._fh = None
            for fh in self._band_fhs:
                fh.close()
        for name, col in self._cols.items():
            setattr(self, name, np.frombuffer(col, dtype=np.int32) if len(col) else np.empty(0, np.int32))
        self.sig_row = np.frombuffer(self._sig_row, dtype=np.int32) if len(self._sig_row) else np.empty(0, np.int32)

    def __len__(self) -> int:
        return len(self._sig_row)

    def exact_keys(self, nodes: np.ndarray) -> np.ndarray:
        return np.frombuffer(self._exact, dtype=EXACT_DTYPE)[nodes]

    def sizes(self, nodes: np.ndarray) -> np.ndarray:
        return self.size[nodes].astype(np.float64)

    def signed(self, nodes: np.ndarray) -> np.ndarray:
        return self.sig_row[nodes] >= 0

    def sigs(self, nodes: np.ndarray) -> np.ndarray:
        """Signatures by node, read with ``pread``: one read per run of consecutive rows.

        Not a memory map: the rows of a batch of candidate pairs are scattered over the whole
        file, and a map that touches them counts every touched page of the file in the
        process's resident memory until it is unmapped (gigabytes on a large run)."""
        rows = self.sig_row[np.asarray(nodes, dtype=np.int64)]
        if len(rows) == 0:
            return np.empty((0, self.num_perm), dtype=np.uint32)
        if (rows < 0).any():
            raise ValueError("a text without a signature was asked for its signature")
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        uniq, inverse = np.unique(rows, return_inverse=True)
        out = np.empty((len(uniq), self.num_perm), dtype=np.uint32)
        width = 4 * self.num_perm
        cut = np.flatnonzero(np.diff(uniq) != 1) + 1
        starts = np.concatenate(([0], cut)).tolist()
        ends = np.concatenate((cut, [len(uniq)])).tolist()
        for a, b in zip(starts, ends, strict=True):
            data = os.pread(self._fd, (b - a) * width, int(uniq[a]) * width)
            out[a:b] = np.frombuffer(data, dtype="<u4").reshape(b - a, self.num_perm)
        return out[inverse.reshape(-1)]

    def sketches(self, nodes: Iterable[int]) -> list[Sketch]:
        nodes = np.asarray(list(nodes), dtype=np.int64)
        signed = nodes[self.signed(nodes)] if len(nodes) else nodes
        sig_of = dict(zip(signed.tolist(), self.sigs(signed), strict=True))
        exact = self.exact_keys(nodes)
        return [Sketch(bytes(key), int(self.size[n]), sig_of.get(n))
                for n, key in zip(nodes.tolist(), exact, strict=True)]

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        for fh in self._band_fhs:
            fh.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        shutil.rmtree(self.dir, ignore_errors=True)


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


#: A :class:`PassageStore` (of documents or of passages): what :func:`confirmed_edges` reads.
SketchTable = Any

_BATCH = 16384  # pairs confirmed, or rows read, per step (bounds the temporaries)


def _band_blocks(table: SketchTable, nodes: np.ndarray, bands: int, rows: int) -> Iterator[np.ndarray]:
    """Each band's values for ``nodes``, one ``(n, rows)`` block at a time: from the
    table's band files when it wrote them for this banding, else from the signatures in
    slices, so that at most ``_BATCH`` full rows are in memory at once."""
    if getattr(table, "bands", None) == (bands, rows):
        for band in range(bands):
            yield table.band(band, nodes)
        return
    for band in range(bands):
        block = np.empty((len(nodes), rows), dtype=np.uint32)
        for start in range(0, len(nodes), _BATCH):
            part = table.sigs(nodes[start:start + _BATCH])
            block[start:start + _BATCH] = part[:, band * rows:(band + 1) * rows]
        yield block


def confirmed_edges(table: SketchTable, nodes: Iterable[int], s: DedupSettings, threshold: float,
                    lsh_threshold: float, kind: str, candidates: CandidateFn | None = None,
                    apart: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Edges ``(earlier, later)`` between duplicate items among ``nodes`` of ``table``, as
    an ``(m, 2)`` array, in time linear in the items (not in the pairs of a family).

    1. Exact duplicates collapse first: each links to the first item with the same text
       and takes no further part, so LSH sees one item per distinct text (a story copied
       a thousand times verbatim is one row in the buckets, not a thousand).
    2. The other items with a signature (the representatives) are bucketed band by band,
       and each bucket is a *star*: every member is verified against the bucket's first
       item (its head, the smallest node), never against every other member
       (:func:`cleaner.minhash.bucket_stars`). A bucket of ``k`` costs ``k - 1``
       verifications in each band, so a family of near-copies costs time linear in its
       size. A pair whose ends are already joined is not verified again.

    ``candidates`` supplies the star pairs from elsewhere (the Ray engine groups band keys
    with a shuffle and emits each bucket's head with its other members). By default they
    come from a numpy sort of each band (:func:`cleaner.minhash.bucket_stars`), or with
    ``lsh_backend="datasketch"`` from the buckets of datasketch's ``MinHashLSH``, the
    reference. Every way, the pairs are the same, so the edges and clusters are the same
    (the test suite compares them). The groups these edges connect are *candidate* groups:
    documents are then split around verified centres (:func:`centre_clusters`), so a
    chain of partial matches never makes a cluster.

    ``apart(u, v)`` says, for arrays of node pairs, which pairs may be linked at all (for
    passages: not two windows of one paragraph, which overlap by design).
    """
    nodes = np.sort(np.asarray(list(nodes) if not isinstance(nodes, np.ndarray) else nodes, dtype=np.int64))
    if len(nodes) == 0:
        return np.empty((0, 2), dtype=np.int64)
    # exact: each key's first occurrence (a stable sort keeps equal keys in node order);
    # only the keys that occur twice or more are handled further (most are unique)
    rows, sizes = minhash.shared_rows(table.exact_keys(nodes).view(np.uint32).reshape(len(nodes), -1))
    heads = np.repeat(rows[np.cumsum(sizes) - sizes], sizes)
    later = rows != heads
    linked = later.copy()
    if apart is not None:
        # an identical window of the head's own paragraph is not linked (see apart), but it
        # still collapses: whatever LSH would find for it, it finds for the head
        linked &= apart(nodes[heads], nodes[rows])
    exact_edges = np.stack([nodes[heads[linked]], nodes[rows[linked]]], axis=1)
    exact_edges = exact_edges[np.argsort(exact_edges[:, 1], kind="stable")]  # in node order
    dup = np.zeros(len(nodes), dtype=bool)
    dup[rows[later]] = True
    del rows, sizes, heads, later, linked
    reps = nodes[~dup & table.signed(nodes)]
    if nodes[-1] < 2**31:
        reps = reps.astype(np.int32)  # half the width for the band pass's peak
    del dup, nodes  # the peak of a large run comes next: a band of every text
    b, r = s.lsh(lsh_threshold)
    forest = _Forest(len(reps))
    chunks: Iterable[np.ndarray]
    if candidates is None and s.lsh_backend == "datasketch":
        chunks = _as_chunks(_datasketch_stars(table, reps, s, b, r))
    elif candidates is not None:  # node pairs, in batches: as positions in reps (sorted)
        chunks = (np.searchsorted(reps, np.asarray(c, dtype=np.int64).reshape(-1, 2))
                  for c in candidates(kind, reps.tolist()))
    else:
        chunks = _band_chunks(_band_blocks(table, reps, b, r))
    merged = [np.empty((0, 2), dtype=np.int64)]
    for chunk in chunks:
        for start in range(0, len(chunk), _BATCH):
            batch = chunk[start:start + _BATCH]
            # a pair inside one component already changes nothing: not verified again
            batch = batch[forest.roots(batch[:, 0]) != forest.roots(batch[:, 1])]
            if apart is not None and len(batch):
                batch = batch[apart(reps[batch[:, 0]], reps[batch[:, 1]])]
            if len(batch):
                ok = batch[_passes(reps[batch], table, threshold, s, kind)]
                forest.union(ok[:, 0], ok[:, 1])
                merged.append(reps[ok])
    return np.concatenate([exact_edges, *merged])


def _datasketch_stars(table: SketchTable, reps: np.ndarray, s: DedupSettings, b: int, r: int) -> np.ndarray:
    """The star pairs (see :func:`confirmed_edges`) of the buckets of datasketch's
    ``MinHashLSH``: every text inserted, then each bucket of each band read from its hash
    tables, its smallest key paired with the others."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(num_perm=s.num_perm, params=(b, r))
    for k, sig in enumerate(table.sigs(reps)):
        lsh.insert(k, minhash.to_minhash(sig, s.seed), check_duplication=False)
    found = []
    for table_ in lsh.hashtables:
        for key in table_.keys():
            members = sorted(table_.get(key))
            found.extend((members[0], m) for m in members[1:])
    return np.array(sorted(set(found)), dtype=np.int64).reshape(-1, 2)


def _passes(pairs: np.ndarray, table: SketchTable, threshold: float, s: DedupSettings, kind: str) -> np.ndarray:
    """Which candidate pairs :func:`similarity` confirms, vectorised over a batch of pairs
    (the same arithmetic in the same order, so the same decisions)."""
    sa, sb = table.sigs(pairs[:, 0]), table.sigs(pairs[:, 1])
    j = np.count_nonzero(sa == sb, axis=1) / sa.shape[1]
    na, nb = table.sizes(pairs[:, 0]), table.sizes(pairs[:, 1])
    inter = j * (na + nb) / (1 + j)
    c = np.minimum(1.0, inter / np.maximum(1, np.minimum(na, nb)))
    return (j >= threshold) | s.contained(kind, c, na, nb)


def _as_chunks(pairs: np.ndarray) -> Iterator[np.ndarray]:
    yield pairs


def _band_chunks(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Star candidate pairs (see :func:`cleaner.minhash.bucket_stars`), band by band."""
    for block in blocks:
        head, member = minhash.bucket_stars(block)
        del block
        yield np.stack([head, member], axis=1)


class _Forest:
    """Union-find over ``0 .. n-1`` in numpy, for the confirmation of candidate pairs.

    Why: a family of near-copies puts its members in the same buckets of many bands.
    Components only depend on which pairs connect, so a star pair whose ends are already
    connected (through another band) need not be verified, nor kept: the edges kept are
    fewer than the texts."""

    def __init__(self, n: int):
        self.parent = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)

    def roots(self, x: np.ndarray) -> np.ndarray:
        r = self.parent[x]
        while True:
            nxt = self.parent[r]
            if np.array_equal(nxt, r):
                self.parent[x] = r  # path compression for the nodes asked about
                return r
            r = nxt

    def union(self, a: np.ndarray, b: np.ndarray) -> None:
        """Join the components of each pair ``(a[i], b[i])``."""
        if len(a) == 0:
            return
        roots, inv = np.unique(np.concatenate([self.roots(a), self.roots(b)]), return_inverse=True)
        label = _labels(len(roots), inv[:len(a)], inv[len(a):])
        self.parent[roots] = roots[label]


#: ``candidates(kind, nodes)`` -> batches of pairs ``(a, b)`` (``(m, 2)`` arrays), ``a < b``,
#: of the given nodes that share an LSH band (a pair may come more than once).
CandidateFn = Callable[[str, list[int]], Iterable[np.ndarray]]


def _against_index(index: Any, kind: str, table: SketchTable, nodes: Sequence[int],
                   ref_of: Callable[[int], tuple[str, str | None, int | None]], s: DedupSettings,
                   threshold: float) -> tuple[dict[int, list[tuple[Any, float, str]]], set[int]]:
    """For each node: confirmed matches in the index (only nodes with matches appear), as
    ``(entry, similarity, measure)``, and the nodes that are *themselves* (same batch, path,
    id, line and text) already indexed, which is not a duplicate but a rerun."""
    matches: dict[int, list[tuple[Any, float, str]]] = {}
    itself: set[int] = set()
    if index is None:
        return matches, itself
    nodes = [int(n) for n in nodes]
    for start in range(0, len(nodes), 2000):
        chunk = nodes[start:start + 2000]
        sketches = table.sketches(chunk)
        with_sig = [k for k, sk in enumerate(sketches) if sk.sig is not None]
        found = index.candidates(kind, np.stack([sketches[k].sig for k in with_sig])) if with_sig else []
        cands = dict(zip(with_sig, found, strict=True))
        for k, (node, sk) in enumerate(zip(chunk, sketches, strict=True)):
            path, rid, line = ref_of(node)
            seen = set()
            hits: list[tuple[Any, float, str]] = []
            for e in [*index.find_exact(kind, sk.exact), *cands.get(k, [])]:
                ident = (e.batch, e.path, e.id, e.line_start, e.sketch.exact)
                if ident in seen:
                    continue
                seen.add(ident)
                if (e.batch, e.path, e.id, e.line_start if kind == "passage" else None) == (
                        index.batch, path, rid, line) and e.sketch.exact == sk.exact:
                    itself.add(node)
                    continue
                j, c = similarity(sk, e.sketch)
                if j >= threshold or s.contained(kind, np.array([c]), np.array([sk.size]),
                                                 np.array([e.sketch.size]))[0]:
                    measure = "exact" if e.sketch.exact == sk.exact else "jaccard" if j >= threshold else "containment"
                    hits.append((e, j if j >= threshold else c, measure))
            if node in itself:
                continue  # a rerun of indexed data: never a duplicate of itself
            if hits:
                hits.sort(key=lambda t: (-t[1], t[0].path, str(t[0].id), t[0].line_start or 0))
                matches[node] = hits
    return matches, itself


@dataclass(slots=True)
class DocMeta:
    seq: int
    path: str
    id: str | None
    chars: int
    date: str | None


class Finder:
    """Collects sketches as documents stream by; ``finish`` decides. A document keeps a
    small record in memory (where it is); the sketches of documents and of passages go to
    two :class:`PassageStore` tables (columns in memory, signatures in files), so a
    signature costs no Python object per text. Call :meth:`close` when done (after
    :meth:`index_entries`, which reads the stores)."""

    def __init__(self, settings: DedupSettings, scratch: Path | None = None):
        self.s = settings
        self.docs: list[DocMeta] = []
        self.doc_store = PassageStore(settings.num_perm, scratch, name="document",
                                      layout=lambda: settings.bands_rows("doc"))
        self.store = PassageStore(settings.num_perm, scratch, layout=lambda: settings.bands_rows("passage"))

    def add(self, seq: int, doc: Document, f: Features) -> None:
        self.add_meta(DocMeta(seq, doc.path, doc.id, len(doc.text), doc.date), f)

    def add_meta(self, meta: DocMeta, f: Features) -> None:
        """:meth:`add` of a document known by its record (the pipeline's driver does not
        unpickle the texts the workers hashed)."""
        self.docs.append(meta)
        pos = len(self.docs) - 1
        doc_signed = 1 if f.size[0] else 0
        self.doc_store.add_rows(pos, [0], [0], [meta.chars], f.size[:1], f.exact[:12], f.sigs[:doc_signed])
        self.store.add_rows(pos, f.line_start, f.line_end, f.chars, f.size[1:], f.exact[12:], f.sigs[doc_signed:])

    def close(self) -> None:
        self.doc_store.close()
        self.store.close()

    def finish(self, index: Any = None, candidates: CandidateFn | None = None) -> DedupResult:
        """Decide duplicates; with ``index`` (a :mod:`cleaner.index` backend) documents and
        passages are first compared with what the index already holds."""
        s = self.s
        store = self.store
        store.freeze()
        docs = self.doc_store
        docs.freeze()
        # ---- documents: against the index, then against each other
        idx_doc, self.doc_indexed = _against_index(index, "doc", docs, range(len(self.docs)),
                                                   lambda i: (self.docs[i].path, self.docs[i].id, None),
                                                   s, s.threshold)
        dropped: dict[int, dict[str, Any]] = {}
        by_indexed: dict[tuple[str, str | None, str], list[tuple[int, float, str]]] = {}
        for i in sorted(idx_doc):
            entry, sim, measure = idx_doc[i][0]
            by_indexed.setdefault((entry.path, entry.id, entry.batch), []).append((i, sim, measure))
            dropped[self.docs[i].seq] = {"path": entry.path, "id": entry.id, "batch": entry.batch, "indexed": True}
        items = [i for i in range(len(self.docs)) if i not in idx_doc]
        edges = confirmed_edges(docs, items, s, s.threshold, s.doc_lsh_threshold, "doc", candidates)
        clusters = []
        for (path, rid, bname), hits in sorted(by_indexed.items(),
                                               key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2])):
            rows = [{"path": path, "id": rid, "batch": bname, "similarity": 1.0, "measure": "kept", "indexed": True}]
            rows += [{"path": self.docs[i].path, "id": self.docs[i].id, "similarity": _floor4(sim),
                      "measure": measure} for i, sim, measure in hits]
            clusters.append({"kept": {"path": path, "id": rid, "batch": bname, "indexed": True}, "members": rows})
        for centre, hits in self._centre_clusters(components(edges)):
            kept_meta = self.docs[centre]
            rows = [{"path": kept_meta.path, "id": kept_meta.id, "similarity": 1.0, "measure": "kept"}]
            for m, sim, measure in hits:
                meta = self.docs[m]
                rows.append({"path": meta.path, "id": meta.id, "similarity": sim, "measure": measure})
                dropped[meta.seq] = {"path": kept_meta.path, "id": kept_meta.id}
            clusters.append({"kept": {"path": kept_meta.path, "id": kept_meta.id}, "members": rows})
        clusters.sort(key=lambda c: (-len(c["members"]), c["kept"]["path"], str(c["kept"]["id"])))
        for n, c in enumerate(clusters, 1):
            c["id"] = f"d{n}"
        dropped_pos = np.array([i for i, d in enumerate(self.docs) if d.seq in dropped], dtype=np.int64)
        dropped_set = set(dropped_pos.tolist())
        self.kept_positions = [i for i in range(len(self.docs)) if i not in dropped_set]
        # ---- passages of the documents that stay (numbered by their position in the store)
        live = np.flatnonzero(~np.isin(store.doc, dropped_pos)).astype(np.int64)

        def ref(g: int) -> tuple[str, str | None, int | None]:
            d = self.docs[int(store.doc[g])]
            return d.path, d.id, int(store.line_start[g])

        idx_p, self.passage_indexed = _against_index(index, "passage", store, live, ref, s, s.passage_threshold)
        self.live_passages = live
        pnodes = live[~np.isin(live, np.fromiter(idx_p, dtype=np.int64, count=len(idx_p)))] if idx_p else live
        pedges = confirmed_edges(store, pnodes, s, s.passage_threshold, s.passage_lsh_threshold, "passage",
                                 candidates, apart=functools.partial(_other_paragraph, store))
        # Passage clusters stay arrays (store rows, group after group): a large run has
        # millions of passages in them, too many for a dict per member. Clusters of
        # passages already in the index come first, each with a head row for the indexed one.
        idx_groups: dict[tuple[str, str | None, int | None, str], list[int]] = {}
        for g in sorted(idx_p):
            e = idx_p[g][0][0]
            idx_groups.setdefault((e.path, e.id, e.line_start, e.batch), []).append(g)
        heads: list[dict[str, Any]] = []
        parts: list[np.ndarray] = []
        for (path, rid, ls, bname), members in sorted(
                idx_groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2] or 0, kv[0][3])):
            e = idx_p[members[0]][0][0]
            heads.append({"path": path, "id": rid, "batch": bname, "line_start": ls, "line_end": e.line_end,
                          "text": None, "indexed": True})
            parts.append(np.asarray(members, dtype=np.int64))
        cmembers, coffsets = component_arrays(pedges)
        csizes = np.diff(coffsets)
        members = np.concatenate([*parts, cmembers]) if parts else cmembers
        sizes = np.concatenate([np.array([len(x) for x in parts], dtype=np.int64), csizes])
        offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        # what --passages drop cuts: every member of an index cluster; in the others all
        # but one representative (the earliest document's, then the longest)
        drop = np.ones(len(members), dtype=bool)
        if len(cmembers):
            grp = np.repeat(np.arange(len(csizes)), csizes)
            order = np.lexsort((cmembers, -store.chars[cmembers].astype(np.int64), store.doc[cmembers], grp))
            drop[len(members) - len(cmembers) + order[coffsets[:-1]]] = False
        doc_seq = np.fromiter((d.seq for d in self.docs), dtype=np.int64, count=len(self.docs))
        windows = _window_numbers(store, members)
        clusters_p = PassageClusters(heads, members, offsets, doc_seq[store.doc[members]],
                                     store.doc[members].astype(np.int64), store.line_start[members].copy(),
                                     store.line_end[members].copy(), store.dir / "passage-texts.txt", windows)
        gd = members[drop]
        keys = (doc_seq[store.doc[gd]] << 32) | store.line_start[gd].astype(np.int64)
        windows = windows[drop]
        order = np.lexsort((windows, keys))
        return DedupResult(self.s, clusters, clusters_p, dropped, keys[order], self.docs,
                           windows[order].astype(np.int32))

    def sigs_of(self, kind: str, nodes: list[int]) -> np.ndarray:
        """Signatures of documents or passages by node number (for the Ray engine's shuffle)."""
        table = self.doc_store if kind == "doc" else self.store
        return table.sigs(np.asarray(nodes, dtype=np.int64))

    def index_entries(self) -> Iterator[Any]:
        """Entries for the index: the kept documents and their passages not already in it
        (after :meth:`finish`), so adding the same data twice changes nothing."""
        from .index import Entry

        docs = [i for i in self.kept_positions if i not in self.doc_indexed]
        for start in range(0, len(docs), 4096):
            chunk = docs[start:start + 4096]
            for i, sk in zip(chunk, self.doc_store.sketches(chunk), strict=True):
                d = self.docs[i]
                yield Entry("doc", d.path, d.id, None, None, sk)
        todo = [g for g in self.live_passages.tolist() if g not in self.passage_indexed]
        for start in range(0, len(todo), 4096):
            chunk = todo[start:start + 4096]
            for g, sk in zip(chunk, self.store.sketches(chunk), strict=True):
                d = self.docs[int(self.store.doc[g])]
                yield Entry("passage", d.path, d.id, int(self.store.line_start[g]), int(self.store.line_end[g]), sk)

    def _priority(self, m: int) -> tuple[Any, ...]:
        """Sort key of the keep policy: the document that sorts first is the one kept."""
        if self.s.keep == "longest":
            return (-self.docs[m].chars, m)
        if self.s.keep == "newest":
            return (*_neg_date(self.docs[m].date), m)
        return (m,)

    def _centre_clusters(self, groups: Iterable[list[int]]) -> Iterator[tuple[int, list[tuple[int, float, str]]]]:
        """Split candidate groups (components of verified pairs) into star clusters around
        centres chosen by the keep policy: ``(centre, [(member, similarity, measure)])``
        for every cluster of two or more.

        Why: connected components are transitive where similarity is not. A chain of
        partial matches (A shares a paragraph with B, B shares its wrapper with C) joined
        different stories into one cluster, members at similarity 0 to the kept copy. This
        is CENTER clustering (Haveliwala, Gionis and Indyk 2000; compared in Hassanzadeh
        et al., VLDB 2009) with the centres taken in keep-policy order, as in the leader
        algorithm: the group's first document by that order is a centre and kept; every
        document of the group verified as a duplicate *of it* is a member; the rest form
        a new group, whose first document is the next centre. So every member is a
        verified duplicate of the document kept for it, with the measure that made it
        one, and the kept document is the one the policy prefers. A family of copies is
        one round (time linear in its size); a group costs a round per centre it holds.

        A centre admitted into several documents only by lying inside them, when those are
        not copies of each other, keeps none of them (see the comment in the loop)."""
        table = self.doc_store
        for group in groups:
            order = sorted(group, key=self._priority)
            nodes = np.asarray(order, dtype=np.int64)
            exact = table.exact_keys(nodes)
            size = table.sizes(nodes)
            signed = table.signed(nodes)

            def sigs(pos: np.ndarray, nodes: np.ndarray = nodes, signed: np.ndarray = signed) -> np.ndarray:
                # read as needed, a batch at a time: a family of a million copies is one
                # group, and its signatures are half a gigabyte
                out = np.zeros((len(pos), self.s.num_perm), dtype=np.uint32)
                out[signed[pos]] = table.sigs(nodes[pos][signed[pos]])
                return out

            left = np.arange(len(nodes))
            while len(left) > 1:
                c, rest = left[0], left[1:]
                ok, sim, measure, cont = _verify_against(c, rest, exact, size, signed, sigs, self.s)
                # the documents the centre lies inside of, admitted by containment only:
                # when they are not copies of each other, what the centre holds is what
                # different documents share (a page that is only its site's wrapper, its
                # story lost), not a story they are copies of. Checked against the first
                # of them: a round costs time linear in the group
                hosts = rest[ok & (measure == 2) & (size[rest] > size[c])]
                if len(hosts) >= 2 and not _verify_against(hosts[0], hosts[1:], exact, size, signed, sigs,
                                                           self.s)[0].all():
                    ok &= ~np.isin(rest, hosts)
                if ok.any():
                    yield int(nodes[c]), [(int(nodes[m]), _floor4(float(v)), MEASURES[int(k)])
                                          for m, v, k in zip(rest[ok], sim[ok], measure[ok], strict=True)]
                left = rest[~ok]


#: What made a document a member of its cluster (``measure`` in duplicates.json).
MEASURES = ("exact", "jaccard", "containment")


def _floor4(x: float) -> float:
    """``x`` to 4 decimals, rounded down: a member's similarity is never shown above what
    was measured, so it never reads as passing a threshold it did not pass."""
    return float(np.floor(x * 10000 + 1e-9) / 10000)


def _verify_against(c: int, rest: np.ndarray, exact: np.ndarray, size: np.ndarray, signed: np.ndarray,
                    sigs: Callable[[np.ndarray], np.ndarray], s: DedupSettings
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Which documents ``rest`` are duplicates of document ``c`` (positions in the
    arrays; ``sigs(positions)`` reads signatures), with the similarity, the measure (index
    in :data:`MEASURES`) that decide, and the containment: the arithmetic of
    :func:`similarity` and :func:`_passes`, vectorised, ``_BATCH`` documents at a time."""
    if len(rest) > _BATCH:
        parts = [_verify_against(c, rest[k:k + _BATCH], exact, size, signed, sigs, s)
                 for k in range(0, len(rest), _BATCH)]
        return tuple(np.concatenate(col) for col in zip(*parts, strict=True))  # type: ignore[return-value]
    same = exact[rest] == exact[c]
    both = signed[rest] & signed[c]
    centre = sigs(np.array([c]))[0]
    j = np.where(both, np.count_nonzero(sigs(rest) == centre, axis=1) / s.num_perm, 0.0)
    na, nb = size[rest], np.full(len(rest), size[c])
    inter = j * (na + nb) / (1 + j)
    cont = np.where(both, np.minimum(1.0, inter / np.maximum(1, np.minimum(na, nb))), 0.0)
    by_j = both & (j >= s.threshold)
    by_c = both & ~by_j & s.contained("doc", cont, na, nb)
    ok = same | by_j | by_c
    sim = np.where(same, 1.0, np.where(by_j, j, cont))
    measure = np.where(same, 0, np.where(by_j, 1, 2))
    return ok, sim, measure, cont


def _neg_date(date: str | None) -> tuple[int, str]:
    """Sort key putting the newest ISO date first and undated documents last."""
    if not date:
        return (1, "")
    return (0, "".join(chr(0x10FFFF - ord(ch)) for ch in date))


def _other_paragraph(store: PassageStore, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Which passage pairs are not two windows of one paragraph (same document, same line):
    windows overlap by ``overlap`` words on purpose, so a short last window lies mostly
    inside the one before it; linking them made a paragraph a copy of itself, and
    ``--passages drop`` cut it whole."""
    return (store.doc[u] != store.doc[v]) | (store.line_start[u] != store.line_start[v])


def _window_numbers(store: PassageStore, nodes: np.ndarray) -> np.ndarray:
    """Which window of its paragraph each passage node is: the windows of a long paragraph
    share its line numbers and follow each other in the store, so a node's number is how
    many nodes right before it have the same document and first line."""
    out = np.zeros(len(nodes), dtype=np.int64)
    prev = np.asarray(nodes, dtype=np.int64) - 1
    live = prev >= 0
    while live.any():
        at, before = nodes[live], prev[live]
        same = (store.doc[before] == store.doc[at]) & (store.line_start[before] == store.line_start[at])
        live[live] = same
        out[live] += 1
        prev[live] -= 1
        live &= prev >= 0
    return out


class PassageClusters:
    """Duplicate passage clusters as arrays, one entry per member (group after group),
    with the members' texts in a scratch file once :meth:`DedupResult.apply` has read them.

    Why not a list of dicts: a run of a million documents has millions of passages in
    clusters, and a dict (with its text) per member cost more memory than everything else
    the driver holds. The JSON rows are made one cluster at a time, when written."""

    def __init__(self, heads: list[dict[str, Any]], members: np.ndarray, offsets: np.ndarray, seq: np.ndarray,
                 doc: np.ndarray, line_start: np.ndarray, line_end: np.ndarray, texts: Path,
                 window: np.ndarray):
        self.heads = heads  # the indexed passage heading each of the first len(heads) clusters
        self.members, self.offsets = members, offsets
        self.seq, self.doc, self.line_start, self.line_end = seq, doc, line_start, line_end
        self.window = window  # which window of its paragraph each member is (0: the first, or the only)
        self.text_at = np.full(len(members), -1, dtype=np.int64)
        self.text_len = np.zeros(len(members), dtype=np.int64)
        self.texts = texts
        self._fh: Any = None
        self._written = 0
        self._by_seq = np.argsort(seq, kind="stable")
        self._seq_sorted = seq[self._by_seq]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def sizes(self) -> np.ndarray:
        sizes = np.diff(self.offsets)
        sizes[:len(self.heads)] += 1
        return sizes

    def positions_of(self, seq: int) -> np.ndarray:
        """Member positions whose document is spool item ``seq``."""
        lo, hi = np.searchsorted(self._seq_sorted, [seq, seq + 1])
        return self._by_seq[lo:hi]

    def keep_text(self, k: int, text: str) -> None:
        if self._fh is None:
            self._fh = open(self.texts, "wb")
        data = text.encode("utf-8")
        self.text_at[k], self.text_len[k] = self._written, len(data)
        self._fh.write(data)
        self._written += len(data)

    def done(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def clusters(self, ks: Iterable[int], docs: list[DocMeta], limit: int | None = None
                 ) -> Iterator[tuple[str, int, Iterator[dict[str, Any]]]]:
        """``(id, size, rows)`` of clusters ``ks``: the member rows are made as they are
        read, since one cluster can hold a large share of a run's passages (a chain of
        copies and contained passages); ``limit`` stops each cluster's rows early."""
        fh = open(self.texts, "rb") if self.texts.exists() else None
        try:
            sizes = self.sizes()
            for k in ks:
                yield f"p{k + 1}", int(sizes[k]), self._rows(k, docs, fh, limit)
        finally:
            if fh is not None:
                fh.close()

    def _rows(self, k: int, docs: list[DocMeta], fh: Any, limit: int | None) -> Iterator[dict[str, Any]]:
        n = 0
        if k < len(self.heads):
            yield dict(self.heads[k])
            n += 1
        for j in range(int(self.offsets[k]), int(self.offsets[k + 1])):
            if limit is not None and n >= limit:
                return
            meta = docs[int(self.doc[j])]
            text = None
            if self.text_at[j] >= 0 and fh is not None:
                fh.seek(int(self.text_at[j]))
                text = fh.read(int(self.text_len[j])).decode("utf-8")
            yield {"path": meta.path, "id": meta.id, "line_start": int(self.line_start[j]),
                   "line_end": int(self.line_end[j]), "text": text}
            n += 1


@dataclass
class DedupResult:
    settings: DedupSettings
    documents: list[dict[str, Any]]
    passages: PassageClusters
    dropped: dict[int, dict[str, Any]]  # spool seq -> the document kept instead
    drop_keys: np.ndarray  # sorted (spool seq << 32 | line) of duplicate passages' first lines
    docs: list[DocMeta] = field(default_factory=list)
    # the window number (see passages.split) of each drop key: a long paragraph loses only
    # the words of its copied windows
    drop_windows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    def to_json(self, templates: list[dict[str, Any]]) -> dict[str, Any]:
        """The report, as one dict (for the commands that print it). Passage texts are
        filled in by :meth:`apply` as the documents pass: call it once that is consumed.
        :meth:`write_json` writes the same without holding it."""
        return {"documents": self.documents,
                "passages": [{"members": list(rows), "id": cid}
                             for cid, _n, rows in self.passages.clusters(range(len(self.passages)), self.docs)],
                "templates": templates, "settings": self.settings.describe()}

    def write_json(self, fh: TextIO, templates: list[dict[str, Any]]) -> None:
        """Write :meth:`to_json` as ``json.dump(..., ensure_ascii=False, indent=1)`` would,
        byte for byte, one passage cluster at a time."""
        head = json.dumps({"documents": self.documents}, ensure_ascii=False, indent=1)
        fh.write(head[:-2] + ',\n "passages": [')
        for k, (cid, _n, rows) in enumerate(self.passages.clusters(range(len(self.passages)), self.docs)):
            fh.write(("," if k else "") + '\n  {\n   "members": [')
            for m, row in enumerate(rows):
                body = json.dumps(row, ensure_ascii=False, indent=1)
                fh.write(("," if m else "") + "\n    " + body.replace("\n", "\n    "))
            fh.write('\n   ],\n   "id": ' + json.dumps(cid) + "\n  }")
        fh.write("\n ]" if len(self.passages) else "]")
        tail = json.dumps({"templates": templates, "settings": self.settings.describe()}, ensure_ascii=False,
                          indent=1)
        fh.write("," + tail[1:])

    def report_view(self, templates: list[dict[str, Any]], top: int, members: int = 64) -> dict[str, Any]:
        """What the HTML report reads: :meth:`to_json` with only the ``top`` largest passage
        clusters (the ones it shows), each with its first ``members`` rows and its size
        (``member_count``), and ``passage_count`` for the number of clusters."""
        sizes = self.passages.sizes()
        largest = np.argsort(-sizes, kind="stable")[:top]
        shown = [{"members": list(rows), "id": cid, "member_count": n}
                 for cid, n, rows in self.passages.clusters(largest.tolist(), self.docs, limit=members)]
        return {"documents": self.documents, "passages": shown, "passage_count": len(self.passages),
                "templates": templates, "settings": self.settings.describe()}

    def apply(self, docs: Iterator[Document]) -> Iterator[Document]:
        """Mark duplicates, keep the texts of reported passages, and (with
        ``passages = drop``) cut duplicate passages."""
        pc = self.passages
        for seq, doc in enumerate(docs):
            fill = pc.positions_of(seq)
            paras: dict[int, tuple[int, int, str]] = {}
            if len(fill):
                # a passage is addressed by its paragraph's first line; a long paragraph's
                # windows share it, and the window number says which
                paras = {p[0]: p for p in paragraphs(doc.text)}
                for k in fill.tolist():
                    pc.keep_text(k, passage_text(paras[int(pc.line_start[k])][2], int(pc.window[k]),
                                                 self.settings.window))
            if seq in self.dropped and doc.status == "kept":
                kept = self.dropped[seq]
                doc.status = "duplicate"
                doc.duplicate_of = kept
                doc.reason = "near-duplicate of " + (kept["path"] if kept["id"] is None
                                                      else f"{kept['path']}#{kept['id']}")
                # the text stays on the document for the report; the writer skips it
            elif self.settings.passages == "drop" and doc.status == "kept":
                lo, hi = np.searchsorted(self.drop_keys, [seq << 32, (seq + 1) << 32])
                if hi > lo:
                    cut: dict[int, set[int]] = {}
                    for key, w in zip((self.drop_keys[lo:hi] & 0xFFFFFFFF).tolist(),
                                      self.drop_windows[lo:hi].tolist(), strict=True):
                        cut.setdefault(key, set()).add(w)
                    paras = paras or {p[0]: p for p in paragraphs(doc.text)}
                    kept_lines = []
                    lines = doc.text.split("\n")
                    n = 1
                    while n <= len(lines):
                        ln = lines[n - 1]
                        if n in cut:  # the whole paragraph (hard-wrapped lines and all), less its copies
                            _, end, para = paras[n]
                            ln = cut_windows(para, cut[n], self.settings.window)
                            doc.removed_words[PASSAGE_DROP_ID] += len(para.split()) - len(ln.split())
                            n = end
                        if ln:
                            kept_lines.append(ln)
                        n += 1
                    doc.removed[PASSAGE_DROP_ID] += len(cut)
                    doc.text = "\n\n".join(kept_lines)
                    if not doc.text:
                        doc.fail("empty", "nothing left after duplicate passages were cut", "dedup")
            yield doc
        pc.done()

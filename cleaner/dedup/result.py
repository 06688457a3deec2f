"""What dedup decided, applied to the documents as they stream to the writer: duplicates
marked, reported passage texts kept, and (``--passages drop``) duplicate passages cut."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..document import Document, doc_key
from ..native import core as _native
from .features import DocMeta
from .passages import OVERLAP, cut_windows, paragraphs
from .settings import DedupSettings

PASSAGE_DROP_ID = "dedup.passage"


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
        # where each spool item's members start in _by_seq: one lookup a document, where a
        # searchsorted per document cost more than the rest of the write step's numpy; a
        # list, since indexing an array makes a numpy scalar per lookup
        self._seq_at: list[int] = np.concatenate(([0], np.cumsum(np.bincount(seq)))).tolist() if len(seq) \
            else [0]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def sizes(self) -> np.ndarray:
        sizes = np.diff(self.offsets)
        sizes[:len(self.heads)] += 1
        return sizes

    def positions_of(self, seq: int) -> np.ndarray:
        """Member positions whose document is spool item ``seq``."""
        if seq + 1 >= len(self._seq_at):
            return self._by_seq[:0]
        return self._by_seq[self._seq_at[seq]:self._seq_at[seq + 1]]

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

    def apply(self, docs: Iterator[Document]) -> Iterator[Document]:
        """Mark duplicates, keep the texts of reported passages, and (with
        ``passages = drop``) cut duplicate passages."""
        pc = self.passages
        for seq, doc in enumerate(docs):
            fill = pc.positions_of(seq)
            if len(fill):
                # a passage is its paragraph's lines (which pass 2 found on this very text:
                # nothing is cut before this) and, of a long paragraph, a window of it. One
                # core call, that finds no paragraph again (see native/src/kept_passages.rs)
                ks = fill.tolist()
                wanted = list(zip(pc.line_start[fill].tolist(), pc.line_end[fill].tolist(), pc.window[fill].tolist(),
                                  strict=True))
                for k, text in zip(ks, _native.kept_passage_texts(doc.text, wanted, self.settings.window, OVERLAP),
                                   strict=True):
                    pc.keep_text(k, text)
            if seq in self.dropped and doc.status == "kept":
                kept = self.dropped[seq]
                doc.status = "duplicate"
                doc.duplicate_of = kept
                doc.reason = "near-duplicate of " + doc_key(kept["path"], kept["id"])
                # the text stays on the document for the report; the writer skips it
            elif self.settings.passages == "drop" and doc.status == "kept":
                lo, hi = np.searchsorted(self.drop_keys, [seq << 32, (seq + 1) << 32])
                if hi > lo:
                    cut: dict[int, set[int]] = {}
                    for key, w in zip((self.drop_keys[lo:hi] & 0xFFFFFFFF).tolist(),
                                      self.drop_windows[lo:hi].tolist(), strict=True):
                        cut.setdefault(key, set()).add(w)
                    paras = {p[0]: p for p in paragraphs(doc.text)}
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

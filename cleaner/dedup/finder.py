"""Dedup: near-duplicate documents and passages with MinHash LSH.

How a pair becomes a duplicate, and why each step is there:

1. **Exact first.** Identical texts (after case and punctuation folding) are grouped by a
   plain hash and collapse onto the first of them; no sketch needed, no estimate error,
   and LSH sees one text per distinct content (a story copied verbatim a thousand times
   is one row in the buckets).
2. **A document's own content.** A document is sketched from its prose (:func:`cleaner.dedup.features.features`),
   so a wrapper left in its text (a feed, a column of headlines) does not make two pages
   of one site copies, however few pages of that site a run holds.
3. **Candidates from LSH.** MinHash signatures are split into bands, with bands and rows
   chosen by datasketch's optimal-parameter search for the threshold (``minhash.lsh_params``,
   the same choice without scipy); two texts are
   candidates when a band is equal, exactly the buckets of datasketch's ``MinHashLSH``
   (which ``lsh_backend="datasketch"`` uses; the default groups the bands with a numpy
   sort, an order of magnitude faster on the driver). A bucket is a star: each member is
   verified against the bucket's first text, so a family costs time linear in its size.
4. **Confirmed before joining.** A candidate pair only becomes an edge when its estimated
   Jaccard reaches the threshold, or the smaller text is mostly contained in the larger one
   (republished copies are often truncated: a 60% prefix of an article has Jaccard 0.6 but
   containment 1.0). Containment is estimated from the Jaccard estimate and the exact
   shingle counts: |A∩B| = J(|A|+|B|)/(1+J).
4b. **Copies inside long pages, by their paragraphs.** Documents sharing a prose paragraph
   verbatim are candidates too, confirmed by the share of the smaller one's prose inside
   the larger measured passage by passage (:meth:`Finder._contained_copies`): a story
   above a long comment thread has a Jaccard under any LSH threshold with its copies.
5. **Clusters.** Documents: the groups the edges connect are split into stars around
   centres chosen by the keep policy (:meth:`Finder._centre_clusters`), so every member
   is a verified duplicate of the document kept for it, or of the story its cluster
   holds (the centre and the members inside it, :func:`_grow_story`), and a chain of
   partial matches never joins two stories. Passages: connected components of the edges
   (they report where text repeats), less the passages that are a site's wrapper in
   pages that are different stories (:func:`_without_wrappers`).

Texts too short to have a single shingle never get a signature (an empty signature is
shared by every short text, the classic way all of them collapse into one cluster): they
are compared exactly, and ``settings`` in the report says so.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..document import Document
from ..native import core as _native
from . import minhash
from .candidates import _BATCH, CandidateFn, SketchTable, _passes, confirmed_edges, ray_shuffle
from .clusters import component_arrays, components, distinct
from .features import Columns, DocMeta, Features, similarity
from .result import DedupResult, PassageClusters
from .settings import DedupSettings
from .store import EXACT_DTYPE, PassageStore, SigSpans


class FileSpan(Protocol):
    """Where a worker wrote a document's signatures: ``length`` bytes at ``offset`` of the
    file ``path`` (:class:`cleaner.steps.Ref` is one). A protocol, not an import of it: the
    dedup package does not import the pipeline's modules (tests/test_layout.py)."""

    @property
    def path(self) -> str: ...

    @property
    def offset(self) -> int: ...

    @property
    def length(self) -> int: ...


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
        exact = index.find_exact_many(kind, [sk.exact for sk in sketches])
        for k, (node, sk) in enumerate(zip(chunk, sketches, strict=True)):
            path, rid, line = ref_of(node)
            seen = set()
            hits: list[tuple[Any, float, str]] = []
            for e in [*exact[k], *cands.get(k, [])]:
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


def _joined(feats: list[Columns], column: int, dtype: Any) -> np.ndarray:
    """Column ``column`` of the documents' features (``features.Columns``), one after the
    other: their bytes joined, viewed as ``dtype``."""
    return np.frombuffer(b"".join([f[column] for f in feats]), dtype=dtype)


#: Documents :meth:`Finder.add_meta` holds before it adds their sketches to the stores.
ADD_BATCH = 256


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
        self._passage_prose = bytearray()  # per passage row: part of its document's prose (Features.prose)
        # added, not yet in the stores (add_meta): chars, the features' columns' bytes
        # (features.Columns), their signatures apart from them
        self._pending: list[tuple[int, Columns, np.ndarray | FileSpan]] = []
        self._pending_in_files = False  # the signatures pending are in workers' files (add_meta)
        # pairs passages confirmed one inside the other, by document: (other, share)
        self._covered_at: dict[int, list[tuple[int, float]]] = {}
        self._prose = np.zeros(0, dtype=bool)
        self._rows_at = np.zeros(1, dtype=np.int64)  # document i's passages: rows _rows_at[i]:_rows_at[i + 1]

    def add(self, seq: int, doc: Document, f: Features | Columns) -> None:
        self.add_meta(DocMeta(seq, doc.path, doc.id, len(doc.text), doc.date), f)

    def add_meta(self, meta: DocMeta, f: Features | Columns, sigs: np.ndarray | FileSpan | None = None) -> None:
        """:meth:`add` of a document known by its record (the pipeline's driver does not
        unpickle the texts the workers hashed). ``f``: the features, or the bytes of their
        columns as a worker sends them (``features.feature_columns``); ``sigs``: the
        signatures of ``f``'s rows when they came apart from it, else ``f``'s own: an
        array, or where a worker wrote them (:class:`cleaner.steps.Ref`: ``path``,
        ``offset``, ``length``; see :class:`cleaner.steps.Untemplated`), which the core
        copies from that file into the stores' (:class:`SigSpans`), the bytes never handed
        to Python: the file must stay until :meth:`flush`.

        The sketches go to the stores :data:`ADD_BATCH` documents at a time (and the rest
        at :meth:`flush`): a document's columns one by one were two dozen numpy calls,
        about 18 us of the driver's CPU per document while it shares the cores with the
        workers, for a few hundred bytes. A batch's columns are joined as bytes and viewed
        as arrays once (:func:`_joined`): a worker's columns made into arrays as each
        result was unpickled (``Features``) were five numpy views a document, and
        their concatenation a call per array, for bytes the stores copy anyway."""
        cols = f.columns() if isinstance(f, Features) else f  # (what a Features pickles as)
        if sigs is None:
            sigs = np.frombuffer(cols[3], dtype="<u4").reshape(-1, cols[2])
        in_files = not isinstance(sigs, np.ndarray)
        if (in_files or len(sigs)) and in_files != self._pending_in_files:
            self.flush()  # a batch's signatures are all in files or all arrays (see flush)
            self._pending_in_files = in_files
        self.docs.append(meta)
        self._pending.append((meta.chars, cols, sigs))
        if len(self._pending) >= ADD_BATCH:
            self.flush()

    def flush(self) -> None:
        """The documents :meth:`add_meta` holds, into the stores: row 0 of each to the
        documents', the others (its passages) to the passages'. Signatures in workers'
        files are read from them now: the pipeline calls this before it deletes them."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        feats = [f for _, f, _ in pending]
        counts = np.array([len(f[1]) >> 2 for f in feats], dtype=np.int64)  # int32 sizes: a row each
        heads = np.cumsum(counts) - counts  # each document's own row
        passage = np.ones(int(counts.sum()), dtype=bool)
        passage[heads] = False
        size = _joined(feats, 1, "<i4")
        exact = _joined(feats, 0, EXACT_DTYPE)
        docs = np.arange(len(self.docs) - len(pending), len(self.docs))
        signed = size[heads] != 0  # each document's own row has a signature
        doc_sigs: Sequence[np.ndarray] | SigSpans
        passage_sigs: Sequence[np.ndarray] | SigSpans
        if self._pending_in_files:
            doc_sigs, passage_sigs = self._spans(pending, signed)
        else:
            firsts = [sigs[:1] for (_, _, sigs), yes in zip(pending, signed.tolist(), strict=True) if yes]
            doc_sigs = [np.concatenate(firsts)] if firsts else []
            passage_sigs = [sigs[int(yes):] for (_, _, sigs), yes in zip(pending, signed.tolist(), strict=True)]
        self.doc_store.add_batch(docs, np.ones(len(docs)), np.zeros(len(docs)), np.zeros(len(docs)),
                                 [chars for chars, _, _ in pending], size[heads], exact[heads].tobytes(), doc_sigs)
        self.store.add_batch(docs, counts - 1, _joined(feats, 4, "<i4"), _joined(feats, 5, "<i4"),
                             _joined(feats, 6, "<i4"), size[passage], exact[passage].tobytes(), passage_sigs)
        # a document sketched whole has no prose flags (all False): as many zero bytes
        self._passage_prose += b"".join([f[7] if len(f[7]) << 2 == len(f[4]) else bytes(len(f[4]) >> 2)
                                         for f in feats])

    def _spans(self, pending: list[tuple[int, Columns, np.ndarray | FileSpan]], signed: np.ndarray
               ) -> tuple[SigSpans, SigSpans]:
        """Where the signatures of ``pending`` (each a worker's record of its document's
        rows, or an empty array: no rows) are, cut in two: each document's own row (the
        record's first, when ``signed``) for the documents' store, the rest for the
        passages'."""
        at = [k for k, (_, _, sigs) in enumerate(pending) if not isinstance(sigs, np.ndarray)]
        refs = [sigs for _, _, sigs in pending if not isinstance(sigs, np.ndarray)]
        files = list(dict.fromkeys(r.path for r in refs))
        number = {path: k for k, path in enumerate(files)}
        which = np.array([number[r.path] for r in refs], dtype=np.int32)
        offsets = np.array([r.offset for r in refs], dtype=np.int64)
        lengths = np.array([r.length for r in refs], dtype=np.int64)
        head = np.where(signed[at], 4 * self.s.num_perm, 0)  # bytes of the document's own row
        own = head > 0
        return (SigSpans(files, which[own], offsets[own], head[own]),
                SigSpans(files, which, offsets + head, lengths - head))

    def close(self) -> None:
        self.doc_store.close()
        self.store.close()

    def finish(self, index: Any = None, candidates: CandidateFn | None = None) -> DedupResult:
        """Decide duplicates; with ``index`` (a :mod:`cleaner.dedup.index` backend) documents and
        passages are first compared with what the index already holds. ``candidates``
        overrides the backend ``lsh_backend`` names (see :func:`confirmed_edges`).

        The cyclic garbage collector is off meanwhile: the decisions make and drop many small
        objects (the wrapper test's walks and questions, a tuple per pair), which set off
        collections, full ones over everything the driver holds (20 of 409 py-spy samples
        of this pass in the driver of a 200 MB run; 132 collections, 0.08 s of 3.8 s CPU
        replayed by bench/finish.py); what is made here is freed by reference counting, and
        any cycle is collected once the collector is back on."""
        was = gc.isenabled()
        gc.disable()
        try:
            return self._finish(index, candidates)
        finally:
            _native.release_scratch()  # the core's read buffers (see native/src/scratch.rs)
            if was:
                gc.enable()

    def _finish(self, index: Any, candidates: CandidateFn | None) -> DedupResult:
        s = self.s
        if candidates is None and s.lsh_backend == "ray":
            candidates = ray_shuffle(self.sigs_of, s.bands_rows)
        self.flush()
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
        _native.release_scratch()  # the bands' buffers (see native/src/scratch.rs)
        edges = np.concatenate([edges, self._contained_copies(items)])
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
        live = np.flatnonzero(~np.isin(store.doc, dropped_pos))
        if len(store) < 2**31:
            # held to the end (the index entries), through the LSH band pass, the dedup
            # pass's peak of memory: half the bytes as int32 (18 MB of 4.5 million
            # passages at 1 GB), and confirmed_edges' sorted copy of them too
            live = live.astype(np.int32)

        def ref(g: int) -> tuple[str, str | None, int | None]:
            d = self.docs[int(store.doc[g])]
            return d.path, d.id, int(store.line_start[g])

        idx_p, self.passage_indexed = _against_index(index, "passage", store, live, ref, s, s.passage_threshold)
        self.live_passages = live
        pnodes = live[~np.isin(live, np.fromiter(idx_p, dtype=np.int64, count=len(idx_p)))] if idx_p else live
        pedges = confirmed_edges(store, pnodes, s, s.passage_threshold, s.passage_lsh_threshold, "passage",
                                 candidates, apart=functools.partial(_other_paragraph, store))
        _native.release_scratch()
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
        cmembers, coffsets = _without_wrappers(store, docs, cmembers, coffsets, s, self._prose_shares)
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
        """Signatures of documents or passages by node number (for the Ray shuffle backend)."""
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

    def _admit_covered(self, at: dict[int, int], nodes: np.ndarray, c: int, rest: np.ndarray, ok: np.ndarray,
                       sim: np.ndarray, measure: np.ndarray) -> None:
        """Admit into the cluster of centre ``c`` (in place, as :func:`_grow_story` does) the
        documents that :meth:`_contained_copies` confirmed inside the centre, or the
        centre inside them (measure containment, so the tests on pages holding the centre
        in :meth:`_centre_clusters` apply to them). ``at`` maps the group's documents to
        their positions in ``nodes``; ``rest`` is ascending.

        Why the map is the group's, made once: a map of ``rest`` made each round cost a
        pass over the rest of the group per centre, the square of a group's size when it
        holds many centres; a confirmed document is found in ``rest`` by a search."""
        for h, cover in self._covered_at.get(int(nodes[c]), ()):
            p = at.get(h)
            if p is None:
                continue
            k = int(np.searchsorted(rest, p))
            if k < len(rest) and rest[k] == p and not ok[k]:
                ok[k], sim[k], measure[k] = True, cover, 2

    def _contained_copies(self, items: Sequence[int]) -> np.ndarray:
        """Edges between documents that share a paragraph and are duplicates, found through
        the paragraph: a copy inside a much longer page, and pairs LSH missed.

        Why: LSH finds pairs by Jaccard. A story copied into a page that is five or twenty
        times longer (the story above a long comment thread, which reads as prose) has
        Jaccard 0.05 to 0.2 with its other copies, under any LSH threshold, though all of
        it is inside the page. Documents that share a paragraph verbatim (a passage of at
        least ``passage_containment_min`` shingles, by its exact key) are candidates,
        grouped as stars as LSH buckets are (around the paragraph's first document and
        around its longest), so a paragraph in ``k`` documents gives at most ``2(k - 1)``
        pairs. A candidate is an edge when the document signatures confirm it (as LSH
        candidates are), or else when ``containment`` or more of the smaller document's
        *prose* (what it is compared by, :func:`cleaner.dedup.features.features`) is inside the larger one,
        measured passage by passage: each prose passage counts its shingles times its share
        inside the larger document's passage that holds most of it (1 for a verbatim
        copy). Passages measure this closely where the document signatures cannot: at
        Jaccard 0.05 a 128-value signature estimates containment within about +-0.3, while
        a paragraph is compared with paragraphs of comparable size. Two stories in one
        site's wrapper share its lines, not their prose, and a document with too little
        prose to be sketched by it has no prose passages: neither is found this way. What
        passages confirm is kept in ``self._covered_at`` for :meth:`_centre_clusters`,
        whose signature test would not confirm it again."""
        s, store, docs = self.s, self.store, self.doc_store
        none = np.empty((0, 2), dtype=np.int64)
        self._covered_at = {}
        self._prose = np.frombuffer(bytes(self._passage_prose), dtype=np.uint8).astype(bool)
        # where each document's passages are, found once: a search of the int32 column with
        # int64 keys per page pair copied the column every time, a cost in the corpus's size
        self._rows_at = np.searchsorted(store.doc, np.arange(len(self.docs) + 1, dtype=store.doc.dtype))
        if len(store) == 0 or not len(items):
            return none
        in_items = np.zeros(len(self.docs), dtype=bool)
        in_items[np.asarray(items, dtype=np.int64)] = True
        big = np.flatnonzero((store.size >= s.passage_containment_min) & in_items[store.doc])
        if len(big) < 2:
            return none
        rows, sizes = minhash.shared_rows(store.exact_keys(big).view(np.uint32).reshape(len(big), -1))
        # only paragraphs that are prose in one of their documents at least: the lines of a
        # site's wrapper (menus, link lists) recur over its pages and pair them all, and
        # their share of a page's prose is nothing
        group = np.repeat(np.arange(len(sizes)), sizes)
        prose_group = np.zeros(len(sizes), dtype=bool)
        prose_group[group[self._prose[big[rows]]]] = True
        rows, sizes = rows[prose_group[group]], sizes[prose_group]
        if len(rows) == 0:
            return none
        # two stars per paragraph: around its first document and around its longest (a
        # copy inside a long page is paired with that page, whichever comes first; of the
        # longest, the first). Found by two reductions over each paragraph's rows: a sort of
        # every row by (paragraph, -size, document) was most of this step's own time at 1 GB
        starts = np.cumsum(sizes) - sizes
        db = store.doc[big[rows]].astype(np.int64)
        heads = np.repeat(rows[starts], sizes)
        dsize = docs.size[db]
        top = np.repeat(np.maximum.reduceat(dsize, starts), sizes)
        longest = np.minimum.reduceat(np.where(dsize == top, db, np.iinfo(np.int64).max), starts)
        da = np.concatenate([store.doc[big[heads]].astype(np.int64), np.repeat(longest, sizes)])
        db = np.concatenate([db, db])
        other = da != db
        pairs = _unique_pairs(np.minimum(da[other], db[other]), np.maximum(da[other], db[other]), len(self.docs))
        if len(pairs) == 0:
            return none
        signed = docs.signed(pairs[:, 0]) & docs.signed(pairs[:, 1])
        pairs = pairs[signed]
        by_sig = np.zeros(len(pairs), dtype=bool)
        for k in range(0, len(pairs), _BATCH):
            by_sig[k:k + _BATCH] = _passes(pairs[k:k + _BATCH], docs, s.threshold, s, "doc")
        found = [pairs[by_sig]]
        rest = pairs[~by_sig]
        if len(rest):
            a, b = rest[:, 0], rest[:, 1]
            swap = docs.size[a] > docs.size[b]  # the smaller document's prose inside the larger
            cover = self._prose_shares(np.where(swap, b, a), np.where(swap, a, b))[0]
            hit = cover >= s.containment  # NaN (no prose passages) is not
            for (a, b), c in zip(rest[hit].tolist(), cover[hit].tolist(), strict=True):
                self._covered_at.setdefault(a, []).append((b, c))
                self._covered_at.setdefault(b, []).append((a, c))
            found.append(rest[hit])
        return np.concatenate(found)

    def _prose_shares(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each pair of documents ``(a[k], b[k])``: the share of ``a[k]``'s prose passage
        shingles found in ``b[k]``'s passages and of ``b[k]``'s in ``a[k]``'s (see
        :meth:`_contained_copies`), NaN for a document without prose passages (it is
        sketched whole).

        A passage's share inside the other page is 1 when the other page has its exact
        key, else its share inside the passage that holds most of it, among passages of
        comparable size (a passage's Jaccard with one many times its size is too small for
        the signature to measure). The core compares every pair of signatures of the two
        pages (native/src/prose.rs), for all the pairs at once on its threads with the GIL
        released (native/src/prose_pairs.rs): asked one pair at a time, the comparisons
        ran on one core while the driver had two, and a call and two signature reads a
        pair cost as much again. The core reads the passages' signatures from the store's
        file itself (native/src/prose_rows.rs): read here, they were copied three times on
        this thread, a third of the step's CPU. The pages' passages are read a batch of pairs (:func:`_batches`) at
        a time, each page once (a document's signed passages have consecutive rows), the
        pairs in the order of their pages, so that pairs with a page in common (a site's
        first page, asked about with each of its other pages) share its read."""
        s, store = self.s, self.store
        order = np.lexsort((b, a))
        a, b = np.asarray(a, dtype=np.int64)[order], np.asarray(b, dtype=np.int64)[order]
        ab, ba = np.empty(len(a)), np.empty(len(a))
        for k, end in _batches(a, b, np.diff(self._rows_at)):
            pa, pb = a[k:end], b[k:end]
            pages, inv = np.unique(np.concatenate([pa, pb]), return_inverse=True)
            lo, counts = self._rows_at[pages], self._rows_at[pages + 1] - self._rows_at[pages]
            rows = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
            signed = store.signed(rows)
            rows = rows[signed]
            per_page = np.bincount(np.repeat(np.arange(len(pages)), counts)[signed], minlength=len(pages))
            at = np.concatenate(([0], np.cumsum(per_page)))
            inv = inv.reshape(-1).astype(np.int64)
            # the core reads the signatures from the store's file itself (see store.sig_rows)
            got = _native.prose_shares_rows(store.path, store.sig_rows(rows).tobytes(), store.sizes(rows).tobytes(),
                                            store.exact_keys(rows).tobytes(),
                                            self._prose[rows].astype(np.uint8).tobytes(), at.astype(np.int64).tobytes(),
                                            inv[:len(pa)].tobytes(), inv[len(pa):].tobytes(), s.num_perm,
                                            float(s.passage_containment_ratio))
            ab[k:k + len(pa)], ba[k:k + len(pa)] = (np.frombuffer(g, dtype=np.float64) for g in got)
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return ab[back], ba[back]

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
        groups = list(groups)
        verdicts = self._pair_verdicts([sorted(g, key=self._priority) for g in groups if len(g) == 2])
        for group in groups:
            if len(group) == 2:  # most groups: decided together beforehand (see _pair_verdicts)
                c, m, ok, sim, measure = next(verdicts)
                if ok:
                    yield c, [(m, _floor4(sim), MEASURES[measure])]
                continue
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

            at = {m: k for k, m in enumerate(order)} if self._covered_at else {}
            left = np.arange(len(nodes))  # ascending, as ``rest`` below stays
            while len(left) > 1:
                c, rest = left[0], left[1:]
                ok, sim, measure, cont = _verify_against(c, rest, exact, size, signed, sigs, self.s)
                if self._covered_at:
                    self._admit_covered(at, nodes, c, rest, ok, sim, measure)
                # the documents the centre lies inside of, admitted by containment only:
                # when they are not copies of each other, what the centre holds is what
                # different documents share (a page that is only its site's wrapper, its
                # story lost), not a story they are copies of. Checked against the first
                # of them: a round costs time linear in the group
                hosts = rest[ok & (measure == 2) & (size[rest] > size[c])]
                if len(hosts) >= 2 and not _verify_against(hosts[0], hosts[1:], exact, size, signed, sigs,
                                                           self.s)[0].all():
                    ok &= ~np.isin(rest, hosts)
                # a page the centre lies inside holds the centre's story only if it holds
                # what the centre's own copies share with it: when the centre is mostly
                # its site's wrapper (a comment thread that reads as prose) and the page
                # is another story in the same wrapper, the copies inside the centre are
                # not in the page. Checked with the first copies (bounded work)
                inside = rest[ok & (measure == 2) & (size[rest] < size[c])][:_STORY_PROBES]
                hosts = rest[ok & (measure == 2) & (size[rest] > size[c])] if len(inside) else rest[:0]
                if len(hosts):  # every (copy, page) pair in one call to the core
                    shares = self._prose_shares(np.tile(nodes[inside], len(hosts)),
                                                np.repeat(nodes[hosts], len(inside)))[0]
                    lacking = (shares.reshape(len(hosts), len(inside)) < 0.5).any(axis=1)  # NaN: no prose
                    ok &= ~np.isin(rest, hosts[lacking])
                if signed[c]:
                    _grow_story(c, rest, ok, sim, measure, size, signed, sigs, self.s)
                if ok.any():
                    yield int(nodes[c]), [(int(nodes[m]), _floor4(float(v)), MEASURES[int(k)])
                                          for m, v, k in zip(rest[ok], sim[ok], measure[ok], strict=True)]
                left = rest[~ok]


    def _pair_verdicts(self, pairs: list[list[int]]) -> Iterator[tuple[int, int, bool, float, int]]:
        """For each group of two documents (``[centre, other]``, in keep-policy order) what
        :meth:`_centre_clusters` decides of it: ``(centre, other, ok, similarity, measure)``.
        A group of two is one round whose tests on pages holding the centre need two
        members, and whose story (:func:`_grow_story`) has no one else to admit, so it is
        the verification (:func:`_verdicts`) and the pairs passages confirmed; made for all
        of them at once, ``_BATCH`` pairs a call: one at a time they were most of the
        loop's Python (2,686 of 3,148 groups on a 200 MB crawl)."""
        docs = self.doc_store
        both_ends = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        for k in range(0, len(both_ends), _BATCH):
            c, m = both_ends[k:k + _BATCH, 0], both_ends[k:k + _BATCH, 1]
            both = docs.signed(c) & docs.signed(m)
            equal = np.zeros(len(c), dtype=np.int64)
            equal[both] = docs.equal_counts(c[both], m[both])
            ok, sim, measure, _ = _verdicts(docs.exact_keys(m) == docs.exact_keys(c), both, equal, docs.sizes(m),
                                            docs.sizes(c), self.s)
            for row in zip(c.tolist(), m.tolist(), ok.tolist(), sim.tolist(), measure.tolist(), strict=True):
                if not row[2]:
                    # as _admit_covered: the first time passages confirmed the pair
                    cover = next((v for h, v in self._covered_at.get(row[0], ()) if h == row[1]), None)
                    if cover is not None:
                        row = (row[0], row[1], True, cover, 2)
                yield row


#: Copies inside a centre that a page holding the centre must hold too (see _centre_clusters).
_STORY_PROBES = 8

#: Page pairs whose passages :meth:`Finder._prose_shares` hands the core at once: enough to
#: keep its threads busy, few enough that their signatures are a few tens of MB ...
_PAIRS_AT_ONCE = 1024
#: ... and at most this many passages (their signatures, 512 bytes each with 128 values, are
#: what the core holds for a batch: 16 MiB). A thousand pairs of long pages were 100,000
#: passages, 50 MB held at the dedup pass's peak of memory.
_ROWS_AT_ONCE = 32768


def _batches(a: np.ndarray, b: np.ndarray, rows: np.ndarray) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of the batches of page pairs ``(a[k], b[k])`` (sorted by ``a``) that
    :meth:`Finder._prose_shares` hands the core: at most :data:`_PAIRS_AT_ONCE` pairs, and
    pages of at most :data:`_ROWS_AT_ONCE` passages (``rows[page]`` each; a run of pairs with
    one ``a`` counts its passages once, a ``b`` in several pairs is counted in each: an
    overestimate, so a batch is at most that), or a single pair whatever its size."""
    n = len(a)
    if n == 0:
        return
    first = np.concatenate(([True], a[1:] != a[:-1]))
    cost = np.cumsum(rows[b] + np.where(first, rows[a], 0))
    start = 0
    while start < n:
        before = int(cost[start - 1]) if start else 0
        if not first[start]:  # a batch that starts inside a run of one ``a`` reads that page too
            before -= int(rows[a[start]])
        end = int(np.searchsorted(cost, before + _ROWS_AT_ONCE, side="right"))
        end = min(max(end, start + 1), start + _PAIRS_AT_ONCE, n)
        yield start, end
        start = end

#: What made a document a member of its cluster (``measure`` in duplicates.json).
MEASURES = ("exact", "jaccard", "containment")


def _grow_story(c: int, rest: np.ndarray, ok: np.ndarray, sim: np.ndarray, measure: np.ndarray,
                size: np.ndarray, signed: np.ndarray, sigs: Callable[[np.ndarray], np.ndarray],
                s: DedupSettings) -> None:
    """Admit into the cluster of centre ``c`` (in place: ``ok``, ``sim``, ``measure`` over
    ``rest``) the documents that lie inside the *story* the cluster holds, not only inside
    the centre: the union of the centre and the members that lie inside it.

    Why: republished copies are cut differently (one keeps the first 60% of the story,
    another drops the lead and adds a paragraph). Two such copies of one story can each be
    well inside the longer copy they were cut from and still be under both thresholds with
    each other; when the centre is one of the cut copies, the others were left in a second
    cluster, or alone. The story is the union of what the cluster's copies hold, and a
    copy of it lies inside that union.

    Why it does not chain stories together: the union only grows by members that lie
    mostly inside it already (at least ``containment`` of their own shingles), so each
    step adds a small part of a copy, never another story; a page admitted because the
    centre lies inside it (a copy in a longer page) is a member but adds nothing, since
    the rest of that page is not the story. And a document joins only by lying inside the
    union (``containment`` of its own shingles) or by Jaccard with it, as it would with a
    centre.

    The union's signature is the element-wise minimum of its members' signatures (MinHash
    of a union, exactly); its size is estimated as the old size over the Jaccard of the
    old union with the new one, which contains it."""
    num_perm = s.num_perm
    usig = sigs(np.array([c]))[0].copy()
    usize = float(size[c])
    member = ok.copy()
    todo = np.flatnonzero(ok & signed[rest])  # members whose share of the story is measured
    absorbed = np.zeros(len(rest), dtype=bool)
    while True:
        grow = []
        for k in range(0, len(todo), _BATCH):
            part = todo[k:k + _BATCH]
            own = _inside(sigs(rest[part]), usig, usize, size[rest[part]])[1]
            grow.append(part[own >= s.containment])
        grow_at = np.concatenate(grow) if grow else np.empty(0, np.int64)
        grow_at = grow_at[~absorbed[grow_at]]
        if len(grow_at) == 0:
            return
        absorbed[grow_at] = True
        new = usig.copy()
        for k in range(0, len(grow_at), _BATCH):
            new = np.minimum(new, sigs(rest[grow_at[k:k + _BATCH]]).min(axis=0))
        kept = np.count_nonzero(new == usig) / num_perm  # Jaccard of the old union with the new
        usize /= max(kept, 1 / num_perm)
        usig = new
        cand = np.flatnonzero(~member & signed[rest])
        if len(cand) == 0:
            return
        admitted = []
        for k in range(0, len(cand), _BATCH):
            part = cand[k:k + _BATCH]
            j, own = _inside(sigs(rest[part]), usig, usize, size[rest[part]])
            by_j = j >= s.threshold
            by_c = ~by_j & (own >= s.containment)
            hit = by_j | by_c
            sim[part[hit]] = np.where(by_j, j, own)[hit]
            measure[part[hit]] = np.where(by_j, 1, 2)[hit]
            admitted.append(part[hit])
        todo = np.concatenate(admitted)
        if len(todo) == 0:
            return
        member[todo] = True
        ok[todo] = True


def _inside(sig: np.ndarray, usig: np.ndarray, usize: float, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimated Jaccard of each signature ``sig`` with a union (``usig``, ``usize``
    shingles), and the share of each document's own ``size`` shingles inside the union."""
    j = np.count_nonzero(sig == usig, axis=1) / len(usig)
    inter = j * (size + usize) / (1 + j)
    return j, np.minimum(1.0, inter / np.maximum(1, size))


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
    centre = sigs(np.array([c]))[0]
    return _verdicts(exact[rest] == exact[c], signed[rest] & signed[c], np.count_nonzero(sigs(rest) == centre, axis=1),
                     size[rest], np.full(len(rest), size[c]), s)


def _verdicts(same: np.ndarray, both: np.ndarray, equal: np.ndarray, na: np.ndarray, nb: np.ndarray,
              s: DedupSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Whether each pair of documents is a duplicate, with the similarity, the measure and
    the containment (see :func:`_verify_against`), from whether their exact keys are the
    same (``same``), whether both have a signature (``both``), the signature values they
    share (``equal``) and their shingle counts (``na``, ``nb``)."""
    j = np.where(both, equal / s.num_perm, 0.0)
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


#: The share of a page's prose inside another page from which the two share text of
#: substance (a story or part of one), not only the prose-like lines of a site's wrapper
#: (a comment prompt, a reprint notice: a small part of a page's prose).
SHARED_PROSE = 0.25


def _without_wrappers(store: PassageStore, docs: PassageStore, members: np.ndarray, offsets: np.ndarray,
                      s: DedupSettings, prose_shares: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Passage clusters (``members``, ``offsets`` as :func:`component_arrays` gives them)
    less those that are the wrapper of the pages they are in: template, not a duplicate
    passage.

    A passage is a site's wrapper, not copied text, when it recurs as wrappers do over
    *different stories*: in three stories or more, or in two when it is in the same pages
    as another repeated passage (a block of a page template: "Back to: News | Home" above
    "Purchase this story for reprint."). Two pages are one story when one has
    :data:`SHARED_PROSE` of its prose (:func:`cleaner.dedup.features.features`) inside the other, by the document
    signatures or passage by passage (``prose_shares``: both ways, of arrays of page pairs). A quotation copied
    into two different stories is one passage in two stories, and stays a duplicate; a story's
    paragraphs in copies of it are in one story, and stay duplicates; so does a headline
    in two copies of a story and in a third page's list of links (two stories). Template
    statistics remove the lines a site repeats over many pages; what they leave (a wrapper
    shared by two or three pages of a run, or by pages of one site spread over folders)
    was reported as duplicate passages, one cluster per line, and ``--passages drop`` cut
    it as if it were copied content.

    Why stories, not pages: a site is built from a template, and every story on it gets
    the template's lines, while a story's own paragraphs travel with the story. The test
    counted pages, and called a recurring line copied text as soon as the cluster's first
    page shared its story with *any* other page: on a site of 500 pages, one story
    published twice made a wrapper line of those pages a "duplicate passage", and
    ``--passages drop`` cut it from 499 pages. Counting stories bounds the work too
    (:func:`_stories_reach`): a wrapper line in ``k`` pages of different stories costs one
    comparison, or three, instead of ``k - 1``, which grew with the square of a site's
    pages. Clusters in exactly the same pages (the lines of one wrapper) are decided once.

    The clusters are decided together, in rounds: each round asks every undecided cluster's
    next pair of pages at once (:class:`_OneStory`), so the passage comparisons of a round
    are one call to the core, on its threads. A cluster's answer depends only on the
    answers to its own pairs, so it is the one asking them cluster after cluster gave."""
    n = len(offsets) - 1
    if n == 0:
        return members, offsets
    sizes = np.diff(offsets)
    grp = np.repeat(np.arange(n), sizes)
    pairs = _unique_pairs(grp, store.doc[members].astype(np.int64), len(docs))  # (group, doc)
    ndocs = np.bincount(pairs[:, 0], minlength=n)
    # a cluster's set of pages, as a fingerprint: clusters in exactly the same pages
    fp = np.zeros(n, dtype=np.uint64)
    np.add.at(fp, pairs[:, 0], _mix64(pairs[:, 1]))
    _, inv, counts = np.unique(fp, return_inverse=True, return_counts=True)
    block = counts[inv.reshape(-1)] >= 2
    recurring = (ndocs >= 3) | ((ndocs >= 2) & block)
    if not recurring.any():
        return members, offsets
    starts = np.concatenate(([0], np.cumsum(ndocs)))  # pairs are sorted by group, then page
    same_story = _OneStory(docs, s, prose_shares)
    keys = list(zip(fp[recurring].tolist(), ndocs[recurring].tolist(), strict=True))
    walk_of: dict[tuple[int, int], int] = {}  # the first cluster of a set of pages decides for all of them
    firsts: list[int] = []
    for g, key in zip(np.flatnonzero(recurring).tolist(), keys, strict=True):
        if key not in walk_of:
            walk_of[key] = len(firsts)
            firsts.append(g)
    at = np.asarray(firsts, dtype=np.int64)
    reach = _stories_reach(pairs[:, 1], starts[at], starts[at + 1], np.where(block[at], 2, 3), same_story.answer)
    wrapper = np.zeros(n, dtype=bool)
    wrapper[recurring] = reach[[walk_of[key] for key in keys]]
    keep = ~wrapper[grp]
    kept_sizes = sizes[~wrapper]
    return members[keep], np.concatenate(([0], np.cumsum(kept_sizes))).astype(np.int64)


def _unique_pairs(a: np.ndarray, b: np.ndarray, nb: int) -> np.ndarray:
    """``np.unique(np.stack([a, b], axis=1), axis=0)`` of non-negative ints, ``b`` below
    ``nb``: the distinct pairs sorted by ``a`` then ``b``, as an ``(m, 2)`` int64 array.

    Each pair is one int64 key ``a * nb + b``, whose order is the pairs' order, so the
    distinct numbers (:func:`distinct`, a sort) give what ``axis=0`` does with a comparison
    of raw bytes per element pair (a tenth of the dedup step's CPU on a 200 MB crawl)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if not len(a):
        return np.zeros((0, 2), dtype=np.int64)
    nb = max(int(nb), int(b.max()) + 1)  # ``nb`` too small would decode wrong pairs: never trusted
    if min(int(a.min()), int(b.min())) < 0 or int(a.max()) >= (2**62) // nb:  # keys would not fit
        return np.unique(np.stack([a, b], axis=1), axis=0)
    keys = distinct(a * nb + b)
    return np.stack([keys // nb, keys % nb], axis=1)


def _mix64(x: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each integer (splitmix64's finaliser, a bijection that spreads every
    input bit over the output), vectorised: the fingerprint of a set of pages is the sum of
    its pages' hashes. A BLAKE2b digest per page, in a Python loop, cost a second on a 200
    MB crawl for the same purpose."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)  # uint64 arithmetic wraps
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _stories_reach(pages: np.ndarray, starts: np.ndarray, ends: np.ndarray, need: np.ndarray,
                   same: Callable[[list[tuple[int, int]]], list[bool]]) -> np.ndarray:
    """For each walk ``w``: whether ``pages[starts[w]:ends[w]]`` hold at least ``need[w]``
    different stories. A walk takes its pages in order, compares each with the first page of
    each story found so far, and starts a new story when it is none of them; it stops as
    soon as ``need`` are found. So at most ``need - 1`` comparisons a page, and ``1 + ... +
    (need - 1)`` in all when the first pages are different stories (a wrapper). The first
    pages of the stories found are pairwise different stories, so reaching ``need`` proves
    it; a page put in a story shares prose with its first page.

    All the walks go together, in rounds: each round asks every undecided walk's next pair
    ``(head, page)`` at once (``same`` answers a list of pairs, in one batch: see
    :func:`_without_wrappers`), in the order of the walks, and moves every walk on with its
    answer in arrays. A walk's result depends only on the answers to its own pairs, so it is
    the one asking them walk after walk gave. A generator a walk, stepped in Python once a
    question, was a third of the wrapper test's driver time at 1 GB (103,525 steps)."""
    n = len(starts)
    reached = np.zeros(n, dtype=bool)
    if n == 0:
        return reached
    heads = np.zeros((n, max(int(need.max()), 1)), dtype=np.int64)  # each story's first page
    count = np.zeros(n, dtype=np.int64)  # stories found
    at = np.asarray(starts, dtype=np.int64).copy()  # the page being placed
    probe = np.zeros(n, dtype=np.int64)  # the story it is compared with
    live = at < ends
    heads[live, 0] = pages[at[live]]  # the first page is the first story
    count[live] = 1
    reached[live] = need[live] <= 1
    at[live] += 1
    live &= ~reached & (at < ends)
    w = np.flatnonzero(live)  # the walks still going: a round costs those, not every walk
    while len(w):
        asked = zip(heads[w, probe[w]].tolist(), pages[at[w]].tolist(), strict=True)
        answer = np.asarray(same(list(asked)), dtype=bool)
        placed, other = w[answer], w[~answer]
        probe[other] += 1
        new = other[probe[other] == count[other]]  # none of the stories so far: a new one
        heads[new, count[new]] = pages[at[new]]
        count[new] += 1
        reached[new] = count[new] >= need[new]
        moved = np.concatenate([placed, new[~reached[new]]])
        at[moved] += 1
        probe[moved] = 0
        w = w[~reached[w] & (at[w] < ends[w])]
    return reached


class _OneStory:
    """Whether two pages are one story (see :func:`_without_wrappers`): the document
    signatures first (Jaccard at the threshold, or :data:`SHARED_PROSE` of the smaller
    inside the larger, or the same exact key), else passage by passage both ways
    (``prose_shares``, the costly part). Answers are kept: the lines of one wrapper, and
    clusters of overlapping page sets, ask about the same pairs."""

    def __init__(self, docs: PassageStore, s: DedupSettings,
                 prose_shares: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]):
        self.docs, self.s, self.prose_shares = docs, s, prose_shares
        self.known: dict[tuple[int, int], bool] = {}

    def answer(self, asked: Sequence[tuple[int, int]]) -> list[bool]:
        """Whether each pair of pages ``(a, b)`` is one story: the pairs not known yet are
        measured together, ``_BATCH`` at a time."""
        todo = list(dict.fromkeys(p for p in asked if p not in self.known))
        for k in range(0, len(todo), _BATCH):
            part = todo[k:k + _BATCH]
            self.known.update(zip(part, self._measure(np.array(part, dtype=np.int64).reshape(-1, 2)).tolist(),
                                  strict=True))
        return [self.known[p] for p in asked]

    def _measure(self, pairs: np.ndarray) -> np.ndarray:
        docs, s = self.docs, self.s
        a, b = pairs[:, 0], pairs[:, 1]
        same = (docs.exact_keys(a).view(np.uint8).reshape(-1, 12)
                == docs.exact_keys(b).view(np.uint8).reshape(-1, 12)).all(axis=1)
        by_sig = np.flatnonzero(~same & docs.signed(a) & docs.signed(b))
        if len(by_sig):
            sa, sb = docs.sigs(a[by_sig]), docs.sigs(b[by_sig])
            j = np.count_nonzero(sa == sb, axis=1) / s.num_perm
            na, nb = docs.sizes(a[by_sig]), docs.sizes(b[by_sig])
            c = np.minimum(1.0, j * (na + nb) / (1 + j) / np.maximum(1, np.minimum(na, nb)))
            same[by_sig] = (j >= s.threshold) | (c >= SHARED_PROSE)
        rest = np.flatnonzero(~same)
        if len(rest):
            ab, ba = self.prose_shares(a[rest], b[rest])  # NaN: a page without prose passages shares none
            same[rest] = np.maximum(np.nan_to_num(ab, nan=0.0), np.nan_to_num(ba, nan=0.0)) >= SHARED_PROSE
        return same


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

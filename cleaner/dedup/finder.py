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
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..document import Document
from .candidates import _BATCH, CandidateFn, SketchTable, confirmed_edges, ray_shuffle
from .clusters import component_arrays, components
from .features import DocMeta, Features, similarity
from .result import DedupResult, PassageClusters
from .settings import DedupSettings
from .store import PassageStore


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
        """Decide duplicates; with ``index`` (a :mod:`cleaner.dedup.index` backend) documents and
        passages are first compared with what the index already holds. ``candidates``
        overrides the backend ``lsh_backend`` names (see :func:`confirmed_edges`)."""
        s = self.s
        if candidates is None and s.lsh_backend == "ray":
            candidates = ray_shuffle(self.sigs_of, s.bands_rows)
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

"""Dedup: near-duplicate documents and passages with MinHash LSH.

How a pair becomes a duplicate, and why each step is there:

1. **Exact first.** Identical texts (after case and punctuation folding) are grouped by a
   plain hash; no sketch needed, no estimate error.
2. **Candidates from LSH.** MinHash signatures are split into bands, with bands and rows
   chosen by datasketch's own optimal-parameter search for the threshold; two texts are
   candidates when a band is equal, exactly the buckets of datasketch's ``MinHashLSH``
   (which ``lsh_backend="datasketch"`` uses; the default groups the bands with a numpy
   sort, an order of magnitude faster on the driver).
3. **Confirmed before joining.** A candidate pair only becomes an edge when its estimated
   Jaccard reaches the threshold, or the smaller text is mostly contained in the larger one
   (republished copies are often truncated: a 60% prefix of an article has Jaccard 0.6 but
   containment 1.0). Containment is estimated from the Jaccard estimate and the exact
   shingle counts: |A∩B| = J(|A|+|B|)/(1+J). So one false LSH candidate cannot chain two
   different stories into one cluster.
4. **Clusters** are connected components (union-find) of confirmed edges; the keep policy
   picks the document that stays.

Texts too short to have a single shingle never get a signature (an empty signature is
shared by every short text, the classic way all of them collapse into one cluster): they
are compared exactly, and ``settings`` in the report says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import minhash
from .document import Document
from .passages import split

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
    passage_min_words: int = 3  # shorter passages are left out entirely
    window: int = 200
    lsh_backend: str = "numpy"  # numpy | datasketch: the same candidates, see confirmed_edges

    def lsh(self, threshold: float) -> tuple[int, int]:
        return minhash.lsh_params(threshold, self.num_perm)

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
                          "containment": self.containment,
                          "bands": b, "rows": r, "false_positive": fp, "false_negative": fn},
            "passages": {"threshold": self.passage_threshold, "lsh_threshold": self.passage_lsh_threshold,
                         "containment": self.passage_containment, "bands": pb, "rows": pr,
                         "false_positive": pfp, "false_negative": pfn,
                         "window_words": self.window, "min_words": self.passage_min_words},
            "short_texts": (f"texts with fewer than {self.ngram} words (or {self.char_ngram} characters "
                            "for unsegmented scripts) have no shingles: they are compared exactly; "
                            f"passages under {self.passage_min_words} words are left out"),
            "keep": self.keep, "passage_mode": self.passages,
        }

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
    doc: Sketch
    passages: list[PassageFeature] = field(default_factory=list)


def _exact_key(folded: str) -> bytes:
    return hashlib.blake2b(folded.encode(), digest_size=12).digest()


def features(text: str, s: DedupSettings) -> Features:
    """Per-document work, done in the workers: the document and its passages are shingled
    and signed in one batch (one numpy pass instead of one per passage)."""
    passages = [p for p in split(text, s.window)
                if len(p.text.split()) >= s.passage_min_words or minhash.is_unsegmented(p.text)]
    texts = [text, *(p.text for p in passages)]
    folded = [minhash.fold(t) for t in texts]
    hashes = minhash.shingle_hashes_many(texts, s.ngram, s.char_ngram)
    signed = [i for i, h in enumerate(hashes) if len(h)]
    sigs = minhash.signatures([hashes[i] for i in signed], s.num_perm, s.seed) if signed else None
    sig_of = {i: sigs[k] for k, i in enumerate(signed)} if sigs is not None else {}
    sketches = [Sketch(_exact_key(f), len(h), sig_of.get(i)) for i, (f, h) in enumerate(zip(folded, hashes,
                                                                                             strict=True))]
    out = Features(sketches[0])
    for p, sk in zip(passages, sketches[1:], strict=True):
        out.passages.append(PassageFeature(p.line_start, p.line_end, len(p.text), sk))
    return out


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(x, x) != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # the smaller index stays root: deterministic whatever the edge order
            lo, hi = (ra, rb) if ra < rb else (rb, ra)
            self.parent[hi] = lo
            self.parent.setdefault(lo, lo)

    def groups(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for x in self.parent:
            out.setdefault(self.find(x), []).append(x)
        for members in out.values():
            members.sort()
        return {k: v for k, v in out.items() if len(v) > 1}


def similarity(a: Sketch, b: Sketch) -> tuple[float, float]:
    """(Jaccard, containment of the smaller in the larger), estimated from signatures."""
    if a.exact == b.exact:
        return 1.0, 1.0
    if a.sig is None or b.sig is None:
        return 0.0, 0.0
    j = minhash.jaccard(a.sig, b.sig)
    inter = j * (a.size + b.size) / (1 + j)
    return j, min(1.0, inter / max(1, min(a.size, b.size)))


def confirmed_edges(items: list[tuple[int, Sketch]], s: DedupSettings, threshold: float, lsh_threshold: float,
                    kind: str, candidates: CandidateFn | None = None) -> list[tuple[int, int]]:
    """Edges ``(earlier, later)`` between duplicate items.

    Exact duplicates link to the first item with the same text; the other items with a
    signature (the representatives) get LSH candidates, which are confirmed by
    :func:`similarity`. ``candidates`` supplies candidate pairs from elsewhere (the Ray
    engine groups band keys with a shuffle); by default they come from datasketch's
    ``MinHashLSH``. Either way the candidates are exactly the pairs that share a band, so
    the edges, and the clusters, are the same.
    """
    containment = s.containment if kind == "doc" else s.passage_containment
    first: dict[bytes, int] = {}
    reps: list[int] = []
    edges: list[tuple[int, int]] = []
    sketches = dict(items)
    for node, sk in items:
        f = first.get(sk.exact)
        if f is not None:
            edges.append((f, node))
            continue
        first[sk.exact] = node
        if sk.sig is not None:
            reps.append(node)
    if candidates is None and s.lsh_backend == "datasketch":
        from datasketch import MinHashLSH

        b, r = s.lsh(lsh_threshold)
        lsh = MinHashLSH(num_perm=s.num_perm, params=(b, r))
        pairs = []
        for node in reps:
            mh = minhash.to_minhash(sketches[node].sig, s.seed)
            pairs.extend((cand, node) for cand in sorted(lsh.query(mh)))
            lsh.insert(node, mh, check_duplication=False)
        pairs.sort()
    elif candidates is not None:
        pairs = sorted(candidates(kind, reps))
    else:
        b, r = s.lsh(lsh_threshold)
        rows = minhash.band_pairs(np.stack([sketches[n].sig for n in reps]), b, r) if reps else []
        pairs = [(reps[i], reps[j]) for i, j in np.asarray(rows).tolist()]
    edges.extend(_confirm(pairs, sketches, threshold, containment))
    return edges


def _confirm(pairs: list[tuple[int, int]], sketches: dict[int, Sketch], threshold: float,
             containment: float, batch: int = 65536) -> list[tuple[int, int]]:
    """The candidate pairs whose :func:`similarity` passes, vectorised over batches of pairs
    (the same arithmetic in the same order, so the same decisions)."""
    out: list[tuple[int, int]] = []
    if not pairs:
        return out
    nodes = sorted({x for p in pairs for x in p})
    pos = {n: i for i, n in enumerate(nodes)}
    sigs = np.stack([sketches[n].sig for n in nodes])
    sizes = np.array([sketches[n].size for n in nodes], dtype=np.float64)
    width = sigs.shape[1]
    for start in range(0, len(pairs), batch):
        chunk = pairs[start:start + batch]
        ia = np.fromiter((pos[a] for a, _ in chunk), dtype=np.int64, count=len(chunk))
        ib = np.fromiter((pos[b] for _, b in chunk), dtype=np.int64, count=len(chunk))
        j = np.count_nonzero(sigs[ia] == sigs[ib], axis=1) / width
        sa, sb = sizes[ia], sizes[ib]
        inter = j * (sa + sb) / (1 + j)
        c = np.minimum(1.0, inter / np.maximum(1, np.minimum(sa, sb)))
        keep = np.flatnonzero((j >= threshold) | (c >= containment))
        out.extend(chunk[k] for k in keep.tolist())
    return out


#: ``candidates(kind, nodes)`` -> pairs (a, b), a < b, of the given nodes that share an LSH band.
CandidateFn = Callable[[str, list[int]], Iterable[tuple[int, int]]]


def _against_index(index: Any, kind: str, sketches: list[Sketch],
                   refs: list[tuple[str, str | None, int | None]], s: DedupSettings,
                   threshold: float) -> tuple[list[list[tuple[Any, float]]], list[bool]]:
    """For each sketch: confirmed matches in the index, and whether the item *itself* (same
    path, id, line and text) is already indexed, which is not a duplicate but a rerun."""
    n = len(sketches)
    matches: list[list[tuple[Any, float]]] = [[] for _ in range(n)]
    itself = [False] * n
    if index is None or n == 0:
        return matches, itself
    with_sig = [i for i, sk in enumerate(sketches) if sk.sig is not None]
    cands: dict[int, list[Any]] = {}
    for start in range(0, len(with_sig), 2000):
        chunk = with_sig[start:start + 2000]
        found = index.candidates(kind, np.stack([sketches[i].sig for i in chunk]))
        cands.update(zip(chunk, found, strict=True))
    for i, sk in enumerate(sketches):
        path, rid, line = refs[i]
        seen = set()
        for e in [*index.find_exact(kind, sk.exact), *cands.get(i, [])]:
            ident = (e.path, e.id, e.line_start, e.sketch.exact)
            if ident in seen:
                continue
            seen.add(ident)
            if (e.path, e.id, e.line_start if kind == "passage" else None) == (path, rid, line) \
                    and e.sketch.exact == sk.exact:
                itself[i] = True
                continue
            j, c = similarity(sk, e.sketch)
            if j >= threshold or c >= (s.containment if kind == "doc" else s.passage_containment):
                matches[i].append((e, max(j, c) if j < threshold else j))
        matches[i].sort(key=lambda t: (-t[1], t[0].path, str(t[0].id), t[0].line_start or 0))
        if itself[i]:
            matches[i] = []  # a rerun of indexed data: never a duplicate of itself
    return matches, itself


@dataclass(slots=True)
class DocMeta:
    seq: int
    path: str
    id: str | None
    chars: int
    date: str | None


class Finder:
    """Collects sketches as documents stream by; ``finish`` decides."""

    def __init__(self, settings: DedupSettings):
        self.s = settings
        self.docs: list[DocMeta] = []
        self.doc_sketch: list[Sketch] = []
        self.passages: list[tuple[int, PassageFeature]] = []  # (doc position, passage)

    def add(self, seq: int, doc: Document, f: Features) -> None:
        self.docs.append(DocMeta(seq, doc.path, doc.id, len(doc.text), doc.date))
        self.doc_sketch.append(f.doc)
        pos = len(self.docs) - 1
        self.passages.extend((pos, p) for p in f.passages)

    def finish(self, index: Any = None, candidates: CandidateFn | None = None) -> DedupResult:
        """Decide duplicates; with ``index`` (a :mod:`cleaner.index` backend) documents and
        passages are first compared with what the index already holds."""
        s = self.s
        # ---- documents: against the index, then against each other
        refs = [(d.path, d.id, None) for d in self.docs]
        idx_doc, self.doc_indexed = _against_index(index, "doc", self.doc_sketch, refs, s, s.threshold)
        uf = UnionFind()
        dropped: dict[int, dict[str, Any]] = {}
        by_indexed: dict[tuple[str, str | None], list[tuple[int, float]]] = {}
        for i in range(len(self.doc_sketch)):
            if idx_doc[i]:
                entry, sim = idx_doc[i][0]
                by_indexed.setdefault((entry.path, entry.id), []).append((i, sim))
                dropped[self.docs[i].seq] = {"path": entry.path, "id": entry.id, "indexed": True}
        items = [(i, sk) for i, sk in enumerate(self.doc_sketch) if not idx_doc[i]]
        for a, b in confirmed_edges(items, s, s.threshold, s.doc_lsh_threshold, "doc", candidates):
            uf.union(a, b)
        clusters = []
        for (path, rid), hits in sorted(by_indexed.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
            rows = [{"path": path, "id": rid, "similarity": 1.0, "indexed": True}]
            rows += [{"path": self.docs[i].path, "id": self.docs[i].id, "similarity": round(sim, 4)}
                     for i, sim in hits]
            clusters.append({"kept": {"path": path, "id": rid, "indexed": True}, "members": rows})
        for members in sorted(uf.groups().values()):
            keep = self._keep(members)
            kept_meta = self.docs[keep]
            rows = []
            for m in members:
                j, c = similarity(self.doc_sketch[m], self.doc_sketch[keep])
                meta = self.docs[m]
                rows.append({"path": meta.path, "id": meta.id,
                             "similarity": 1.0 if m == keep else round(max(j, c), 4)})
                if m != keep:
                    dropped[meta.seq] = {"path": kept_meta.path, "id": kept_meta.id}
            clusters.append({"kept": {"path": kept_meta.path, "id": kept_meta.id}, "members": rows})
        clusters.sort(key=lambda c: (-len(c["members"]), c["kept"]["path"], str(c["kept"]["id"])))
        for n, c in enumerate(clusters, 1):
            c["id"] = f"d{n}"
        dropped_pos = {i for i, d in enumerate(self.docs) if d.seq in dropped}
        self.kept_positions = [i for i in range(len(self.docs)) if i not in dropped_pos]
        # ---- passages of the documents that stay (numbered by position in self.passages)
        live_nums = [g for g, (pos, _p) in enumerate(self.passages) if pos not in dropped_pos]
        prefs = [(self.docs[self.passages[g][0]].path, self.docs[self.passages[g][0]].id,
                  self.passages[g][1].line_start) for g in live_nums]
        idx_list, indexed_list = _against_index(index, "passage", [self.passages[g][1].sketch for g in live_nums],
                                                prefs, s, s.passage_threshold)
        idx_p = dict(zip(live_nums, idx_list, strict=True))
        self.passage_indexed = dict(zip(live_nums, indexed_list, strict=True))
        self.live_passages = live_nums
        puf = UnionFind()
        pitems = [(g, self.passages[g][1].sketch) for g in live_nums if not idx_p[g]]
        for a, b in confirmed_edges(pitems, s, s.passage_threshold, s.passage_lsh_threshold, "passage", candidates):
            puf.union(a, b)
        pclusters = []
        drop_lines: dict[int, set[int]] = {}
        fill: dict[int, list[tuple[int, dict[str, Any]]]] = {}

        def member(g: int) -> dict[str, Any]:
            pos, p = self.passages[g]
            meta = self.docs[pos]
            row = {"path": meta.path, "id": meta.id, "line_start": p.line_start, "line_end": p.line_end,
                   "text": None}
            fill.setdefault(meta.seq, []).append((p.line_start, row))
            return row

        idx_groups: dict[tuple[str, str | None, int | None], list[int]] = {}
        for g in live_nums:
            if idx_p[g]:
                e = idx_p[g][0][0]
                idx_groups.setdefault((e.path, e.id, e.line_start), []).append(g)
        for (path, rid, ls), members in sorted(idx_groups.items(),
                                               key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2] or 0)):
            e = idx_p[members[0]][0][0]
            rows = [{"path": path, "id": rid, "line_start": ls, "line_end": e.line_end, "text": None,
                     "indexed": True}]
            for g in members:
                rows.append(member(g))
                drop_lines.setdefault(self.docs[self.passages[g][0]].seq, set()).add(self.passages[g][1].line_start)
            pclusters.append({"members": rows})
        for members in sorted(puf.groups().values()):
            pclusters.append({"members": [member(g) for g in members]})
            rep = min(members, key=lambda g: (self.passages[g][0], -self.passages[g][1].chars, g))
            for g in members:
                if g != rep:
                    pos, p = self.passages[g]
                    drop_lines.setdefault(self.docs[pos].seq, set()).add(p.line_start)
        for n, c in enumerate(pclusters, 1):
            c["id"] = f"p{n}"
        return DedupResult(self.s, clusters, pclusters, dropped, drop_lines, fill)

    def sketch_of(self, kind: str, node: int) -> Sketch:
        return self.doc_sketch[node] if kind == "doc" else self.passages[node][1].sketch

    def index_entries(self) -> Iterator[Any]:
        """Entries for the index: the kept documents and their passages not already in it
        (after :meth:`finish`), so adding the same data twice changes nothing."""
        from .index import Entry

        for i in self.kept_positions:
            if not self.doc_indexed[i]:
                d = self.docs[i]
                yield Entry("doc", d.path, d.id, None, None, self.doc_sketch[i])
        for g in self.live_passages:
            if not self.passage_indexed[g]:
                pos, p = self.passages[g]
                d = self.docs[pos]
                yield Entry("passage", d.path, d.id, p.line_start, p.line_end, p.sketch)

    def _keep(self, members: list[int]) -> int:
        if self.s.keep == "longest":
            return min(members, key=lambda m: (-self.docs[m].chars, m))
        if self.s.keep == "newest":
            return min(members, key=lambda m: (_neg_date(self.docs[m].date), m))
        return members[0]


def _neg_date(date: str | None) -> tuple[int, str]:
    """Sort key putting the newest ISO date first and undated documents last."""
    if not date:
        return (1, "")
    return (0, "".join(chr(0x10FFFF - ord(ch)) for ch in date))


@dataclass
class DedupResult:
    settings: DedupSettings
    documents: list[dict[str, Any]]
    passages: list[dict[str, Any]]
    dropped: dict[int, dict[str, Any]]  # spool seq -> the document kept instead
    drop_lines: dict[int, set[int]]  # spool seq -> clean-file lines of duplicate passages
    fill: dict[int, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)  # seq -> rows to fill

    def to_json(self, templates: list[dict[str, Any]]) -> dict[str, Any]:
        """The report. Passage texts are filled in by :meth:`apply` as the documents pass,
        so the report is complete once ``apply`` has been consumed."""
        return {"documents": self.documents, "passages": self.passages,
                "templates": templates, "settings": self.settings.describe()}

    def apply(self, docs: Iterator[Document]) -> Iterator[Document]:
        """Mark duplicates, fill in the texts of reported passages, and (with
        ``passages = drop``) cut duplicate passages."""
        for seq, doc in enumerate(docs):
            if seq in self.fill:
                texts = {p.line_start: p.text for p in split(doc.text, self.settings.window)}
                for line_start, row in self.fill[seq]:
                    row["text"] = texts[line_start]
            if seq in self.dropped and doc.status == "kept":
                kept = self.dropped[seq]
                doc.status = "duplicate"
                doc.duplicate_of = kept
                doc.reason = "near-duplicate of " + (kept["path"] if kept["id"] is None
                                                      else f"{kept['path']}#{kept['id']}")
                # the text stays on the document for the report; the writer skips it
            elif self.settings.passages == "drop" and seq in self.drop_lines and doc.status == "kept":
                lines = doc.text.split("\n")
                cut = self.drop_lines[seq]
                kept_lines = [ln for n, ln in enumerate(lines, 1) if n not in cut and ln]
                doc.removed[PASSAGE_DROP_ID] += len(cut)
                doc.text = "\n\n".join(kept_lines)
            yield doc

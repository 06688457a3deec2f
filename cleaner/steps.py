"""The work the engines hand to their workers, one function per parallel pass, built from
the stages' own functions (sources read, clean, templates, dedup features).

Each function takes one unit of work and returns small, picklable records for the driver:
the pickled document for the spool and what the driver counts, logs and hashes. They are
module-level functions so that either engine (a forked pool, Ray tasks) can ship them by
name, and they depend on nothing of the driver's state but what they are given.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .clean.furniture import TemplateStats, doc_keys, key_lines, line_key
from .clean.stages import CleanSettings, clean, remove_templates
from .document import Document
from .sources import readers as sources


class Cleaned(NamedTuple):
    """A document after the first pass, as the driver receives it: the pickled document for
    the spool, what the driver logs and counts, and its distinct line keys for the template
    statistics (kept documents only). The driver does not unpickle the document: on two
    cores, every second of CPU it spends is one the workers do not get."""

    blob: bytes
    key: str
    source: str
    status: str
    stage: str
    reason: str
    encoding: str | None
    chars_in: int
    chars_out: int
    removed: int  # lines removed by rules and the furniture classifier
    keys: Any  # numpy uint64 array, or None when not kept


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
#: The engine sends pieces four to a chunk (as it does small files): about 32 records a
#: chunk, so a file of a hundred records already gives every worker of a small machine work.
PIECE_RECORDS = 8
PIECE_CHARS = 64_000


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
                    fields: sources.Fields = sources.DEFAULT_FIELDS) -> list[Cleaned]:
    """Pass 1 for one piece: each document read, cleaned (rules, furniture) and its line
    keys taken for the template statistics; a failure is the document's fate, not the run's."""
    out = []
    docs = sources.read(piece.item, max_bytes, fields) if piece.item is not None else piece.docs
    for doc in docs:
        try:
            doc = key_lines(clean(doc, settings))
            keys = doc_keys(doc) if doc.status == "kept" else None
        except Exception as exc:  # a bug must not cost the other files
            doc = doc.fail("error", f"cleaning failed: {type(exc).__name__}: {exc}", "clean")
            keys = None
        out.append(Cleaned(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL), doc.key, doc.source, doc.status,
                           doc.stage, doc.reason, doc.encoding, doc.chars_in, len(doc.text),
                           sum(doc.removed.values()), keys))
    return out


@dataclass
class TemplatePass:
    """What the second pass needs from the first: the template lines of each source and
    the statistics they came from (read-only; shared with the workers)."""

    templates: dict[str, set[int]]
    stats: TemplateStats
    wrappers: bool
    dedup: Any
    site_keys: bool = False  # name the lines the index keeps (see _site_keys)


class Untemplated(NamedTuple):
    """A document after the second pass, as the driver receives it: the pickled document
    for the spool, what the driver logs and the duplicate finder records, the dedup
    features, the texts of its repeated lines, and the template lines it lost."""

    blob: bytes
    key: str
    status: str
    stage: str
    reason: str
    meta: Any  # cleaner.dedup.DocMeta (the driver sets its seq) or None
    features: Any
    samples: dict[tuple[str, int], str]
    removals: dict[tuple[str, int, str], list[Any]]  # what template removal took (TemplateStats.note_removed)
    site_keys: Any = None  # numpy uint64 keys for the index (see _site_keys), or None


def untemplate(shared: TemplatePass, blob: bytes) -> Untemplated:
    """Pass 2 for one spooled document: template lines removed, dedup features computed."""
    doc = pickle.loads(blob)
    stats = shared.stats.view()
    site_keys = _site_keys(doc, stats) if shared.site_keys and doc.status == "kept" else None
    doc = remove_templates(doc, shared.templates, stats, shared.wrappers)
    doc, features = _features(doc, shared.dedup)
    meta = None
    if features is not None:
        from .dedup.features import DocMeta

        meta = DocMeta(-1, doc.path, doc.id, len(doc.text), doc.date)
    return Untemplated(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL), doc.key, doc.status, doc.stage,
                       doc.reason, meta, features, stats.samples, stats.removals, site_keys)


def _site_keys(doc: Document, stats: TemplateStats) -> np.ndarray:
    """The lines of a document worth keeping in the index's site statistics: its header
    and footer lines (what rules and the furniture classifier removed around the text), and
    the text lines occurring in exactly the documents of one of those (counting the index;
    one document is a set too). Only such a line can become wrapper when a later page
    of the site arrives: a text line whose document set differs from every header line's
    now differs from it for good, since later documents add to both sets alike. So the
    text of an article on a page whose chrome other pages share is never stored."""
    head = doc.head_keys if doc.head_keys is not None else [line_key(ln) for ln in doc.head]
    lines = doc.line_keys if doc.line_keys is not None else [line_key(ln) for ln in doc.text.split("\n\n")]
    counts, sums = stats.lookup(doc.source, head)
    sets = set(sums[counts >= 1].tolist())
    _, line_sums = stats.lookup(doc.source, lines)
    worthy = [k for k, s in zip(lines, line_sums.tolist(), strict=True) if s in sets]
    return np.unique(np.array([*head, *worthy], dtype=np.uint64))


def _features(doc: Document, dedup: Any) -> tuple[Document, Any]:
    features = None
    if dedup is not None and doc.status == "kept":
        from .dedup.features import features as dedup_features

        features = dedup_features(doc.text, dedup)
    return doc, features

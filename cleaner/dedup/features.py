"""What dedup holds of a text: its sketch (exact key, shingle count, MinHash signature),
computed per document in the workers (:func:`features`) for the document and its passages."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ..clean import furniture as chrome
from ..native import core as _native
from . import minhash
from .passages import OVERLAP
from .settings import DedupSettings


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
    # bool, per passage: the passage is part of the prose the document is sketched by (see
    # features); all False when the document has too little prose and is sketched whole
    prose: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as the columns' bytes: a worker sends every document's features to the
        driver, and seven numpy arrays pickled one by one (each with its dtype and
        reconstructor) cost the two of them about 12 ms of CPU per MB of text, eight times
        what their bytes do. Unpickled, the columns are read-only views of those bytes."""
        return _columns, self.columns()

    def columns(self) -> Columns:
        """The bytes of the columns, :func:`_columns`' arguments: what a pass-2 worker sends
        (:func:`feature_columns`) and the duplicate finder takes (``Finder.add_meta``)."""
        return (self.exact, np.asarray(self.size, dtype=np.int32).tobytes(), self.sigs.shape[1],
                np.asarray(self.sigs, dtype=np.uint32).tobytes(),
                *(np.asarray(a, dtype=np.int32).tobytes() for a in (self.line_start, self.line_end, self.chars)),
                np.asarray(self.prose, dtype=bool).tobytes())

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


def _columns(exact: bytes, size: bytes, num_perm: int, sigs: bytes, line_start: bytes, line_end: bytes,
             chars: bytes, prose: bytes) -> Features:
    """:class:`Features` from the bytes of its columns (little-endian int32, uint32 and bool,
    as the core returns them), the arrays viewing them (read-only: nothing writes them)."""
    return Features(exact, np.frombuffer(size, dtype="<i4"), np.frombuffer(sigs, dtype="<u4").reshape(-1, num_perm),
                    np.frombuffer(line_start, dtype="<i4"), np.frombuffer(line_end, dtype="<i4"),
                    np.frombuffer(chars, dtype="<i4"), np.frombuffer(prose, dtype=bool))


def features(text: str, s: DedupSettings) -> Features:
    """Per-document work, done in the workers: the document's sketch and its passages'.

    A document is compared by its *prose*: its lines the furniture classifier reads as
    prose (:func:`cleaner.clean.furniture.classify`: blocks of enough words with enough
    stopwords of the page's language, hard-wrapped lines joined), or its whole text when
    those hold fewer than ``prose_min_words`` words (a page of lists, tables or short lines
    has no prose to speak for it, and a sketch of a sentence or two would match every page
    repeating them). It is keyed (its exact key) by its whole text.

    Why: a wrapper that cleaning leaves in the text (a site's feed of posts, a column of
    headlines, a link list) can outweigh a short story, and two different stories in one
    site's wrapper then read as copies. Template statistics cannot remove it when the site
    has only two or three pages in a run, and counting how many documents share a line
    cannot tell it from a story (a story with three copies is in three documents too). What
    tells them apart is what the text is: copies share their prose; the pages of a site
    share their furniture. Two copies of one story in different wrappers still match,
    better than on the whole text, since the wrappers no longer dilute them.

    The passages are :func:`cleaner.dedup.passages.split`'s, those of ``passage_min_words``
    words or more or in an unsegmented script (:func:`cleaner.dedup.minhash.is_unsegmented`),
    each sketched and keyed by its own text; ``Features.prose`` marks those that are part of
    the prose (a copy is found inside a longer page by them, see ``Finder._contained_copies``).

    All of it is one call to the native core (``native/src/features.rs``), with the GIL
    released. Why: as a classification, a list of passage objects and a batch of passage
    texts handed to the core, the Python steps cost as much as the core's work, and the
    core folded the document twice (its text and its prose) and every passage again; it
    folds the text once now, and every row is a range of it."""
    return _columns(*feature_columns(text, s))


Columns = tuple[bytes, bytes, int, bytes, bytes, bytes, bytes, bytes]


def feature_columns(text: str, s: DedupSettings) -> Columns:
    """:func:`features` as the bytes of its columns, :func:`_columns`' arguments (what a
    :class:`Features` pickles to), for a caller that sends them on without reading them
    (pass 2's worker calls :func:`counted_feature_columns`, which gives the text's word count
    too); the arrays it would make of the bytes (:func:`_columns`) and turn back into bytes
    to pickle them were a twentieth of a worker's Python per document, for nothing it reads."""
    return counted_feature_columns(text, s)[0]


def counted_feature_columns(text: str, s: DedupSettings) -> tuple[Columns, int]:
    """:func:`feature_columns` and the text's word count (``len(text.split())``): the core
    counts the words as it reads the text for the features, and the pass-2 worker hands the
    count to the document (``Document.words_counted``), which counted them again, a pass
    over the text of its own, when it was pickled (a thirtieth of the worker's time)."""
    a, b = minhash._permutation_bytes(s.num_perm, s.seed)
    exact, size, sigs, start, end, chars, prose, words = _native.doc_features(
        minhash._tables(), _classifier() if s.prose else None, text, s.window, OVERLAP,
        s.passage_min_words, s.prose_min_words, s.ngram, s.char_ngram, a, b)
    return (exact, size, s.num_perm, sigs, start, end, chars, prose), words


@lru_cache(maxsize=1)
def _classifier() -> Any:
    """The furniture classifier that picks the prose (the default thresholds'), looked up
    once: finding it by its parameters cost a tenth of a small document's features."""
    return chrome.classifier()


def similarity(a: Sketch, b: Sketch) -> tuple[float, float]:
    """(Jaccard, containment of the smaller in the larger), estimated from signatures."""
    if a.exact == b.exact:
        return 1.0, 1.0
    if a.sig is None or b.sig is None:
        return 0.0, 0.0
    j = minhash.jaccard(a.sig, b.sig)
    inter = j * (a.size + b.size) / (1 + j)
    return j, min(1.0, inter / max(1, min(a.size, b.size)))


@dataclass(slots=True)
class DocMeta:
    seq: int
    path: str
    id: str | None
    chars: int
    date: str | None

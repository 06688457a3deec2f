"""Statistical chrome: what no rule names but the shape of a page gives away.

Two signals, both measured rather than listed:

* **Page furniture inside one document.** A raw text scrape renders every block of a page
  on its own line: menus, bylines, share bars and footers come out as runs of short lines
  with few function words, while the article is long lines of prose dense in stopwords.
  (Short lines can be the text too: tables of figures, announced lists, the entries of a
  forum or a listing; see :func:`furniture`.)
  Lines are classified the way jusText classifies HTML blocks (length and stopword
  density, with short lines taking the class of their neighbours), and the document keeps
  the region that the prose spans. Stopword lists come from jusText (a trafilatura
  dependency), and the language is chosen per document by which list its words hit most.
* **Template lines across one source.** A line repeated in many documents of one site
  (folder or URL host) is template, not content: counted in a first pass by
  :class:`TemplateStats`, removed in the second.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..native import core as _native
from ..scripts import UNSEGMENTED_RANGES
from .normalise import collapse, collapse_lines

#: Languages whose stoplists are tried per document (jusText names).
LANGUAGES = (
    "English", "Russian", "German", "French", "Spanish", "Italian", "Portuguese", "Dutch",
    "Polish", "Croatian", "Czech", "Swedish", "Turkish", "Ukrainian", "Indonesian", "Korean",
)
@lru_cache(maxsize=1)
def stoplists() -> dict[str, frozenset[str]]:
    """jusText's stoplists of :data:`LANGUAGES`, lower-cased. Read from its package data as
    ``justext.get_stoplist`` reads them, without importing jusText: its import is lxml's
    (a tenth of a second), which a run over text files never needs."""
    import importlib.util

    spec = importlib.util.find_spec("justext")
    if spec is None or spec.origin is None or not hasattr(spec.loader, "get_data"):
        raise ModuleNotFoundError("jusText (a dependency of trafilatura) is not installed", name="justext")
    folder = os.path.join(os.path.dirname(spec.origin), "stoplists")
    out = {}
    for lang in LANGUAGES:
        data = spec.loader.get_data(os.path.join(folder, f"{lang}.txt"))  # type: ignore[union-attr]
        # each word decoded and lower-cased as get_stoplist reads them, then lower-cased again
        # (as the classifier was written), all in one call per list: a newline between words
        # is neither cased nor case-ignorable, so a word's lower case (a final sigma's) is
        # the same alone or in the joined list (40,000 words: a twentieth of a start-up)
        lines = data.splitlines()
        out[lang] = frozenset(b"\n".join(lines).decode("utf8").lower().lower().split("\n") if lines else ())
    return out


# --------------------------------------------------------------------------- the core

@lru_cache(maxsize=8)
def _core(params: FurnitureParams) -> _native.Furniture:
    """The core's classifier for these thresholds (built once per process and params). Its
    character properties are the interpreter's (``cleaner.unicode``, installed when the core
    is loaded): the classifier was written with ``re`` and ``str`` methods, and the core
    agrees with them character for character."""
    lists = stoplists()
    values = {name: float(getattr(params, name)) for name in _native.Furniture.param_names()}
    # in any order: the core keeps a set (each word with the lists it is in)
    return _native.Furniture(list(UNSEGMENTED_RANGES), [list(lists[lang]) for lang in LANGUAGES], values)


@lru_cache(maxsize=1)
def classifier() -> _native.Furniture:
    """The core's classifier with the default thresholds: the rules' guards share it (its
    test for hard-wrapped text, and the main prose block the tail guard needs). Cached
    itself, as :func:`region` is: callers ask for it once per document."""
    return _core(FurnitureParams())


@lru_cache(maxsize=8)
def _region(params: FurnitureParams) -> _native.Region:
    """The core's region finder (``native/src/region.rs``) for these thresholds, over the
    classifier of :func:`_core`: :func:`furniture` and :func:`main_block` are one call each
    per document, the per-line values never leaving the core."""
    values = {name: float(getattr(params, name)) for name in _native.Region.param_names()}
    return _native.Region(_core(params), values)


@lru_cache(maxsize=1)
def region() -> _native.Region:
    """The core's region finder with the default thresholds: what ``stages.clean_keys``
    hands the core for a document's furniture. Cached itself, not only :func:`_region`:
    looking that up builds a ``FurnitureParams`` (a frozen dataclass's ``__init__``), hashes
    and compares it, about 2% of pass 1's CPU when done for every document."""
    return _region(FurnitureParams())


def prepare() -> None:
    """Build the core's tables now (see ``CleanSettings.prepare``)."""
    region()


def _stoplist_index(stops: frozenset[str]) -> int | None:
    """Which of :func:`stoplists` ``stops`` is (None for the empty set)."""
    if not stops:
        return None
    for n, lang in enumerate(LANGUAGES):
        if stoplists()[lang] is stops or stoplists()[lang] == stops:
            return n
    raise ValueError("not one of the classifier's stoplists")


def pick_stoplist(words: Iterable[str]) -> frozenset[str]:
    """The stoplist of the language the words most look like (the first in
    :data:`LANGUAGES` order on a tie; none when no word is a stopword)."""
    n = _core(FurnitureParams()).pick(list(words))
    return frozenset() if n is None else stoplists()[LANGUAGES[n]]


@dataclass(frozen=True)
class FurnitureParams:
    """Thresholds of the line classifier and the region finder (measured on the dev pages
    of bench/boiler_eval.py, but each one stands for a property of how pages are built)."""

    good_words: int = 10  # a prose block has at least this many words ...
    good_density: float = 0.25  # ... and at least this share of stopwords
    long_words: int = 30  # a block this long is prose at a lower density
    long_density: float = 0.12
    short_words: int = 4  # below this a block is "short": it follows its neighbours
    max_gap: int = 3  # short blocks between prose are kept if the run is at most this long
    region_penalty: float = 6.0  # cost of a furniture block inside the main region, in words
    cjk_chars_per_word: float = 1.7  # unsegmented scripts: characters that count as one word
    title_lines: int = 2  # lines kept right above the first prose line (headline, standfirst)
    wrap_chars: int = 40  # a hard-wrapped line is at least this long (menus are not) ...
    wrap_width: int = 60  # ... and one that breaks before a capital is as long as a wrap width
    wrap_max: int = 100  # ... and hard-wrapped text is no wider than this
    wrap_slack: float = 1.1  # a line of wrapped text is at most this times the widest line seen ...
    wrap_fill: float = 0.8  # ... and one that breaks mid-sentence at least this share of it
    wrapped_share: float = 0.5  # hard-wrapped text this share of the region's prose is the text
    teaser_words: int = 3  # a headline glued to its summary has at least this many words
    byline_words: int = 15  # a dated line this short is a byline or a timestamp
    post_bylines: int = 2  # this many dated "... said:" headers opening prose make a thread
    thread_entries: int = 3  # a field line recurring between this many entries below a body: a thread
    copy_words: int = 100  # a run of repeated lines this long ...
    copy_share: float = 0.25  # ... and this share of the kept text is a second copy of the text ...
    copy_fields: int = 2  # ... when this many data fields (URL, timestamp, number) sit at its start
    copy_lookback: int = 8  # non-blank lines above a repeated run searched for those fields
    footer_lines: int = 12  # a legal notice among the page's last lines this many starts its footer
    headline_penalty: float = 6.0  # region cost of a lone headline-like line (see scores in native/src/region.rs)
    headline_words: float = 15  # a lone prose line this short, not ending a sentence, is a headline
    min_cards: int = 3  # this many article cards in a row are a teaser list
    card_words: int = 50  # a card's summary is one or two sentences; a section's paragraph is longer
    card_headline_words: int = 5  # a card's headline is at least this long (headings are shorter)
    entries_share: float = 0.25  # a region holding less of the page's prose than this: a page of entries
    record_gap: int = 20  # on a page of entries, this many short lines between two entries are their fields
    announce_words: int = 5  # a line this long ending in a colon announces a list of the text
    announce_items: int = 40  # ... of at most this many lines
    table_rows: int = 3  # this many rows of figures in a row are a table (content: see the note on the core)
    table_figures: float = 1.5  # ... when they hold this many distinct numbers a row
    # a block of records (see keep_records in native/src/region.rs):
    record_repeats: int = 8  # a field line recurring this many times (at most record_gap lines apart) ...
    record_lines: int = 15  # ... once every this many lines on average marks it; it stays when it holds ...
    record_entries: int = 3  # ... or fewer times, at least this many, when ...
    record_fields: int = 3  # ... this many distinct field lines recur in step, one of each per entry
    post_title: int = 1  # such an entry's header starts this many lines above its fields (a name)
    block_share: float = 0.3  # ... this share of the page, and holds what the region finder kept, or ...
    sparse_share: float = 0.2  # ... that is under this share of the page ...
    block_ratio: float = 4.0  # ... and the block outweighs it this many times
    sparse_words: int = 150  # (pages shorter than this are left alone)
    dated_words: int = 25  # a line ending in a year and this short can be an entry of a dated list
    record_stretch: int = 4  # one record may be this many times the block's usual spacing long
    rival_words: float = 150  # a chosen region scoring under this is a close call when ...
    rival_share: float = 0.5  # ... a region outside it scores this share of it (see rival_region in region.rs)


# Lines are classified in the core (native/src/furniture.rs), which documents each test; the
# Python functions below are its interface. What the core computes, per line:
#
# * blocks: a raw text scrape of hard-wrapped text (newswire, <pre>) breaks sentences across
#   lines; a long line that does not end a sentence and is followed by one that starts in
#   lower case continues it (``wraps_into``), and inside text already seen to be wrapped a
#   line that fills the width and breaks after a comma, hyphen or function word continues
#   into a next line of that width (``continues_wrapped``: issue 15, a newswire paragraph
#   must not fall apart into headline-sized fragments). Only long lines join.
# * classes: a block with ``good_words`` words and ``good_density`` stopwords (of the
#   stoplist the page's words hit most) is prose; so is one of ``long_words`` words with
#   ``long_density`` stopwords, or hard-wrapped into whole sentences (a text in a language
#   without a stoplist); unsegmented scripts (CJK, Thai) count words by characters
#   (``cjk_chars_per_word``) and read as prose when they carry their sentence punctuation.
#   Below ``short_words`` words a block is "short"; else "bad". A run of ``table_rows``
#   non-prose lines with ``table_figures`` distinct numbers a line is a table: prose.
# * the predicates of the region finder: bylines, teasers, dated entries, field keys.

_CLASS_NAMES = ("blank", "good", "bad", "short")
_F_BYLINE, _F_ENDS_DATED, _F_TEASER, _F_ENDS_SENTENCE, _F_TERMINAL, _F_TRUNCATED, _F_KEY_DIGIT = (
    1 << n for n in range(7))


@dataclass
class _Lines:
    """What the core computed of a document's collapsed lines (see ``Furniture.analyse``)."""

    text: list[str]
    classes: list[str]
    sizes: list[int]  # lines in the block of each line
    wrapped: list[bool]  # prose lines of hard-wrapped paragraphs
    ntok: list[int]  # \w+ tokens
    nsplit: list[int]  # len(line.split())
    words: list[float]  # words (unsegmented scripts by characters) of the \w+ tokens ...
    split_words: list[float]  # ... and of the whitespace-separated ones
    flags: bytes  # _F_* bits
    keys: list[int]  # field key of each line (see the _field_key note), as a number; 0: none


def _analyse(lines: list[str], params: FurnitureParams) -> _Lines:
    classes, sizes, wrapped, ntok, nsplit, words, split_words, flags, keys = _core(params).analyse(lines)
    return _Lines(lines, [_CLASS_NAMES[c] for c in classes], sizes, [bool(w) for w in wrapped], ntok, nsplit,
                  words, split_words, flags, keys)


def blocks(norm: Sequence[str], stops: frozenset[str], params: FurnitureParams = FurnitureParams()) -> list[list[int]]:
    """Group lines into blocks: lines of hard-wrapped text join (see the note above).
    Classifying the joined block, not its fragments, keeps wrapped articles from looking
    like menus. ``stops``: one of :func:`stoplists` (or none)."""
    return _core(params).blocks(list(norm), _stoplist_index(stops))


def wraps_into(prev: str, line: str, stops: frozenset[str] = frozenset(),
               params: FurnitureParams = FurnitureParams()) -> bool:
    """Whether ``line`` continues the sentence ``prev`` broke off: hard-wrapped text (see
    :func:`blocks`). ``prev`` is as long as a wrap and does not end a sentence, and ``line``
    starts in lower case, or ``prev`` ends in a comma or (at wrap width) a stopword."""
    return _core(params).wraps_into(prev, line, _stoplist_index(stops))


def is_teaser(line: str, params: FurnitureParams = FurnitureParams(), counts: Counter[str] | None = None) -> bool:
    """A headline glued to its summary: the text rendering of a teaser card (a link to
    another article) loses the break between the title and the standfirst, leaving a
    lower-case letter (or ``?!"``) directly followed by a capitalised word, after a few
    title words and before a sentence ("Tape Gaffe Ends Title RaceDenny Hamlin's run ...").
    Brand names are written the same way ("YouTube"), but a brand recurs on the page while
    a glued pair of words occurs once: with ``counts`` (token counts of the document),
    only tokens seen once count as glue."""
    repeated = None if counts is None else [t for t, n in counts.items() if n > 1]
    return _core(params).is_teaser(line, repeated)


def is_byline(line: str, params: FurnitureParams = FurnitureParams()) -> bool:
    """A short line carrying a date or a time: the byline of an article or a comment, a
    timestamp. Measured by digits, so it works in any language."""
    return _core(params).is_byline(line)


def classify(lines: Sequence[str], params: FurnitureParams = FurnitureParams()) -> list[str]:
    """Class of each line: ``good`` (prose), ``bad`` (furniture), ``short``, ``blank``.

    Lines are classified by the block they belong to (see :func:`blocks`). Lines mostly
    in unsegmented scripts have no stoplist; they read as prose when they are long and
    carry the script's sentence punctuation (menus and link lists carry none)."""
    classes, _ = _core(params).classify(list(lines), True)  # collapsed in the core
    return [_CLASS_NAMES[c] for c in classes]


@dataclass(frozen=True)
class Block:
    """The page's main prose block: its first and last line, and its prose words."""

    start: int
    end: int
    words: int


def main_block(lines: Sequence[str], params: FurnitureParams = FurnitureParams(),
               collapsed: bool = False) -> Block | None:
    """The longest run of prose on the page (None when no line reads as prose).

    Prose is the classifier's ``good`` class (see :func:`classify`), so a hard-wrapped
    article counts by its joined blocks, not by fragments that do not end a sentence.
    Blank lines and one non-prose line between prose lines (a subheading, the wrap
    fragment of a newswire sentence) do not break a run; two do: a comment thread
    separates its comments by a name and a date, so one comment is one run, and the
    article above it is a longer one; a dated header (:func:`is_byline`) always starts a
    new run, as a thread may put nothing else between two comments. Rules use it to prove
    a cut safe: what a tail or list rule removes must not be the page's article (see
    ``RuleSet.apply``). One call to the core (``main_block`` in ``native/src/region.rs``)."""
    norm = list(lines) if collapsed else collapse_lines(lines)
    found = _region(params).main_block(norm)
    return None if found is None else Block(*found)


def _ends_sentence(line: str) -> bool:
    """Whether a line ends like a sentence. A closing quote or bracket right after a word
    does not: a headline quotes without the full stop ("Actor teases sequel: "Some really
    cool ideas""), while a sentence closes its quote after one (... ideas.")."""
    return _core(FurnitureParams()).ends_sentence(line)


def furniture(lines: Sequence[str], params: FurnitureParams = FurnitureParams(), collapsed: bool = False) -> list[bool]:
    """True for each line that is page furniture rather than the document's text.

    The region finder runs in the core, one call per document (``native/src/region.rs``,
    whose functions keep the names of the Python helpers they replaced and document each
    mechanism): it finds the main region of the page (the maximum-sum run of line scores,
    see ``scores``), ignoring any comment thread below the text (``comments_start``,
    ``thread_start``) and the site's footer notice (``footer_start``), with card lists
    counted against it (``card_scores``) and cut off its ends (``trim_cards``); keeps the
    prose lines inside it and the short lines (headings, datelines, list items) in the
    gaps between prose; drops everything outside the region (menus above, teasers,
    comment threads and footers below) and long runs of non-prose lines inside it, and
    finally a second copy of the text (``drop_second_copy``).

    Short-line content must not read as furniture, or the classifier takes the page's
    main block for a menu (issue 15). Three guards, each a property of how pages are
    built rather than a list of strings: rows of figures (a table, a timetable, a
    calendar, a results list) read as prose (see the note on the core, above
    :class:`_Lines`); the items of a list the text announces with a colon cost nothing
    and stay (``announced``); and on a page of entries (a forum thread, a listing, a table
    with a sentence per row: no body of adjacent paragraphs, or a region holding under
    ``entries_share`` of the prose) the short fields between entries cost one furniture
    line per gap, so the region spans the entries instead of keeping one
    (``record_scores``); a block of records the region missed stays (``keep_records``).
    ``collapsed``: the caller passes lines already collapsed (the rules' output is).
    """
    lines = list(lines) if collapsed else collapse_lines(lines)
    return _region(params).furniture(lines)


# _field_key (computed in the core, see _Lines.keys): what a record's field line has in
# common with the same field of the other records: its label for a "Label: value" line
# (``^(\w[\w .'-]{0,30}?):\s*\S``), else the whole line when it is short (at most 8 words:
# a field, not a sentence), in lower case; none for a longer line.


# --------------------------------------------------------------------------- templates


def line_key(line: str) -> int:
    """The identity of a line for template statistics: case and spacing folded, hashed to
    64 bits (an int costs less memory than the line or a hex digest, and the statistics
    hold one per distinct line of the corpus): BLAKE2b with an 8-byte digest of the UTF-8 of
    ``collapse(line).casefold()``, read little-endian. See :func:`line_keys`."""
    return line_keys([line])[0]


def line_keys(lines: Iterable[str]) -> list[int]:
    """:func:`line_key` of each line, in one call to the native core (``native/src/
    passages.rs``, with the interpreter's ``str.split`` whitespace and ``str.casefold`` from
    the core's Unicode table): every line of every document is keyed, and
    collapsing, folding and hashing them one by one in Python was a tenth of pass 1."""
    return _native.line_keys(list(lines))


#: The key of every blank line (its collapse is ""): ``line_key("")``. A document's keys for
#: the template statistics leave out blank lines' (``cleaner.clean.stages.clean_keys``).
BLANK_KEY: int = _native.BLANK_KEY


def doc_token_of(name: str) -> int:
    """A document's token in the document-set fingerprints of :class:`TemplateStats`: 64
    bits of a hash of its name (with a persistent index, the batch-qualified name, so that
    documents of two batches never share a token)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


# sorted line keys (uint64), counts (int32; the index's int64), fingerprints (uint64),
# which counts are not 1 (a bit per row, see _frozen) and the keys' directory (_directory)
Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def read_only(a: np.ndarray) -> np.ndarray:
    """``a``, marked read-only (in place). The core's template removal reads arrays in place
    (``native/src/untemplate.rs``) and refuses a writeable one: a slice of memory another
    thread may write is not sound to read. An array unpickled (a Ray worker's copy of the
    statistics) is writeable again, so the arrays are marked where they are handed over."""
    if a.flags.writeable:
        a.flags.writeable = False
    return a


def _frozen(keys: np.ndarray, counts: np.ndarray, sums: np.ndarray) -> Columns:
    """Columns of the statistics, contiguous and read-only (see :func:`read_only`), a bit
    per row, set when its count is not 1 (``np.packbits``, little bit order: row ``i`` is
    bit ``i % 8`` of byte ``i // 8``), and the keys' directory (:func:`_directory`).

    Why the bits: the core's lookup (``native/src/untemplate.rs``) looks every line of a
    page up, and most are the page's own text, in one document, each looked up once: its
    row of the counts is a cache miss (a 200 MB crawl's columns are 27 MB) to read a 1.
    The bits (1/160 of the columns) stay in the cache and say that count without the read.
    Built here, once per merge in the driver, so forked workers share them."""
    counts, keys = np.ascontiguousarray(counts), np.ascontiguousarray(keys)
    return (read_only(keys), read_only(counts), read_only(np.ascontiguousarray(sums)),
            read_only(np.packbits(counts != 1, bitorder="little")), read_only(_directory(keys)))


def _directory(keys: np.ndarray) -> np.ndarray:
    """Where each run of keys with the same top ``b`` bits starts in ``keys`` (sorted
    uint64): ``2**b + 1`` uint32 positions, ``2**b`` between an eighth and a sixteenth of
    the keys (0.25 to 0.5 bytes a row; one run, ``b = 0``, under 16 keys). The core's
    lookup searches only between a key's two positions (a line key is a hash: about 8 to
    16 keys, one or two cache lines), not the whole column, whose binary search missed the
    caches at each of its last levels (a 200 MB crawl's keys are 11 MB, read between the
    features' work). Of 2**32 keys or more (past 32-bit positions) none, and the core
    searches the whole column."""
    n = len(keys)
    if n >= 1 << 32:
        return np.zeros(0, dtype=np.uint32)
    b = (n // 16).bit_length()
    if b == 0:
        return np.array([0, n], dtype=np.uint32)
    starts = np.arange(1 << b, dtype=np.uint64) << np.uint64(64 - b)
    return np.append(np.searchsorted(keys, starts), n).astype(np.uint32)


class TemplateStats:
    """Counts, per source, in how many documents each line occurs (first pass).

    Besides the count, each line keeps an order-independent fingerprint of the *set* of
    documents it occurs in (a sum of hashed document numbers). Lines of one page template
    occur in exactly the same documents as that template's header (the menu above the
    article), so a kept line whose document set equals the set of a header line of the same
    document is wrapper, not content, however few documents share the wrapper. Syndicated
    article text occurs in a different set of documents (its copies) and is left alone.

    Memory grows with the number of distinct lines of the corpus, so the statistics are
    three sorted numpy columns per source (64-bit line key, 32-bit count, 64-bit
    fingerprint: 20 bytes a line, and a bit and a directory of the keys, under a byte: see
    :func:`_frozen`), merged from an append buffer, instead of Python dict entries (~150
    bytes). The text of a line is only kept for lines in ``sample_at`` or
    more documents (what ``rules suggest`` chooses from; None: no texts), recorded by
    :meth:`note_samples` in the second pass, and for the lines the second pass removes
    (:meth:`note_removed`: what the report and duplicates.json list).

    With a persistent index, what the indexed corpus holds of the batch's lines is added
    to every lookup (:meth:`add_known`): a small batch then sees a site's header and
    wrapper lines as a run over the whole corpus would. It is kept apart from the batch's
    own columns, because template decisions (:meth:`templates`) stay per source and per
    run: counting a wire story's copies across the corpus would make its lines template.
    """

    _MERGE_AT = 1 << 20  # buffered (line, document) pairs before a merge into the columns

    def __init__(self, sample_at: int | None = 2) -> None:
        self.sample_at = sample_at
        self.docs: Counter[str] = Counter()
        self._pending: dict[str, tuple[array[int], array[int]]] = {}
        self._npending = 0
        self._cols: dict[str, Columns] = {}
        self.samples: dict[tuple[str, int], str] = {}
        self._known: Columns | None = None  # see add_known
        # what the second pass really removed: (source, key, mechanism) -> [lines, text]
        self.removals: dict[tuple[str, int, str], list[object]] = {}

    def add_keys(self, source: str, keys: np.ndarray, doc_token: str = "") -> None:
        """Count a document's distinct line keys (``stages.clean_keys``' keys, computed where the
        document was cleaned)."""
        self.docs[source] += 1
        token = doc_token_of(doc_token)
        buf_keys, buf_tokens = self._pending.setdefault(source, (array("Q"), array("Q")))
        # the buffer's bytes as they are (no copy through ``tobytes``), and the token repeated
        # in an array (a list of ints was converted one by one: most of this method's time)
        buf_keys.frombytes(np.ascontiguousarray(keys, dtype=np.uint64).view(np.uint8))
        buf_tokens.extend(array("Q", (token,)) * len(keys))
        self._npending += len(keys)
        if self._npending >= self._MERGE_AT:
            self._merge()

    def _merge(self) -> None:
        for source, (buf_keys, buf_tokens) in self._pending.items():
            if not buf_keys:
                continue
            keys = np.frombuffer(buf_keys, dtype=np.uint64)
            sums = np.frombuffer(buf_tokens, dtype=np.uint64)
            # a count of documents fits 32 bits (a run of 2**31 documents is far off): 4 bytes
            # a distinct line less, held by the driver from the end of pass 1 into pass 2,
            # the run's peak on a large corpus (millions of distinct lines at 1 GB)
            counts = np.ones(len(keys), dtype=np.int32)
            if source in self._cols:
                old_keys, old_counts, old_sums, *_ = self._cols[source]
                keys = np.concatenate([old_keys, keys])
                counts = np.concatenate([old_counts, counts])
                sums = np.concatenate([old_sums, sums])
            order = np.argsort(keys, kind="stable")
            keys, counts, sums = keys[order], counts[order], sums[order]
            starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
            # uint64 addition wraps: the fingerprint is the sum modulo 2**64
            self._cols[source] = _frozen(keys[starts], np.add.reduceat(counts, starts, dtype=np.int32),
                                         np.add.reduceat(sums, starts))
        self._pending = {}
        self._npending = 0

    def lookup(self, source: str, keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(documents, fingerprint) of each line key of ``source`` (0, 0 when unseen)."""
        if self._npending:
            self._merge()
        q = np.asarray(keys, dtype=np.uint64)
        counts_q, sums_q = np.zeros(len(q), dtype=np.int64), np.zeros(len(q), dtype=np.uint64)
        cols = self._cols.get(source)
        if len(q) == 0:
            return counts_q, sums_q
        if cols is not None:
            all_keys, counts, sums, *_ = cols
            pos = np.minimum(np.searchsorted(all_keys, q), len(all_keys) - 1)
            found = all_keys[pos] == q
            counts_q = np.where(found, counts[pos], 0).astype(np.int64)
            sums_q = np.where(found, sums[pos], np.uint64(0))
        if self._known is not None and len(self._known[0]):
            k_keys, k_counts, k_sums, *_ = self._known
            kpos = np.minimum(np.searchsorted(k_keys, q), len(k_keys) - 1)
            kfound = k_keys[kpos] == q
            counts_q = counts_q + np.where(kfound, k_counts[kpos], 0)
            sums_q = sums_q + np.where(kfound, k_sums[kpos], np.uint64(0))  # wraps modulo 2**64
        return counts_q, sums_q

    def keys(self) -> dict[str, np.ndarray]:
        """The distinct line keys of each source (sorted)."""
        if self._npending:
            self._merge()
        return {source: cols[0] for source, cols in self._cols.items()}

    def add_known(self, keys: np.ndarray, counts: np.ndarray, sums: np.ndarray) -> None:
        """Lines the persistent index knows (sorted uint64 keys, their indexed document
        counts and set fingerprints), added to every :meth:`lookup` from now on."""
        self._known = _frozen(np.asarray(keys, dtype=np.uint64), np.asarray(counts, dtype=np.int64),
                              np.asarray(sums, dtype=np.uint64))

    def run_totals(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This run's own (documents, fingerprint) of each key, over all its sources and
        without what the index knows: what the run adds to the index."""
        if self._npending:
            self._merge()
        q = np.asarray(keys, dtype=np.uint64)
        counts = np.zeros(len(q), dtype=np.int64)
        sums = np.zeros(len(q), dtype=np.uint64)
        for all_keys, c, s, *_ in self._cols.values():
            if not len(all_keys) or not len(q):
                continue
            pos = np.minimum(np.searchsorted(all_keys, q), len(all_keys) - 1)
            found = all_keys[pos] == q
            counts += np.where(found, c[pos], 0)
            sums += np.where(found, s[pos], np.uint64(0))
        return counts, sums

    def view(self) -> TemplateStats:
        """The same statistics with a fresh, empty :attr:`samples`: what a worker of the
        second pass notes for one document, handed back to the driver (see
        ``pipeline._untemplate``). The counts must be final (no pending merge)."""
        if self._npending:
            raise RuntimeError("merge the statistics before sharing them")
        # Not copy.copy: that goes through __setstate__, which re-marks every source's
        # columns read-only, once per document of the pass (5% of a pass-2 worker's time).
        out = object.__new__(TemplateStats)
        out.__dict__.update(self.__dict__, samples={}, removals={})
        return out

    def note_removed(self, source: str, key: int, mechanism: str, line: str) -> None:
        """Count a line the second pass removed (``chrome.template`` or ``chrome.wrapper``)."""
        entry = self.removals.get((source, key, mechanism))
        if entry is None:
            self.removals[(source, key, mechanism)] = [1, collapse(line)]
        else:
            entry[0] += 1  # type: ignore[operator]

    def note_samples(self, source: str, samples: Iterable[tuple[int, str]]) -> None:
        """Keep the texts of ``samples`` (``(key, collapsed line)``: the lines of a document
        in :attr:`sample_at` or more documents, which ``core.untemplate_page`` picks), the
        first text of a key noted: what ``rules suggest`` chooses from."""
        for key, text in samples:
            self.samples.setdefault((source, key), text)

    def columns(self, source: str) -> tuple[Columns | None, Columns | None]:
        """The columns :meth:`lookup` reads for ``source``: its own (or None), and what the
        index knows (or None): what the core's template removal looks lines up in, without
        a copy (``native/src/untemplate.rs``)."""
        if self._npending:
            self._merge()
        known = self._known if self._known is not None and len(self._known[0]) else None
        return self._cols.get(source), known

    def __setstate__(self, state: dict[str, Any]) -> None:
        """An unpickled copy (a Ray worker's) has writeable arrays again: its columns are
        marked read-only once here, so that :meth:`columns` hands every document's lookup
        the arrays as they are (see :func:`read_only`)."""
        self.__dict__.update(state)
        self._cols = {source: _frozen(*cols[:3]) for source, cols in self._cols.items()}
        if self._known is not None:
            self._known = _frozen(*self._known[:3])

    def set_of(self, source: str, key: int) -> tuple[int, int]:
        counts, sums = self.lookup(source, [key])
        return int(counts[0]), int(sums[0])

    def templates(self, min_docs: int, min_share: float = 0.0) -> dict[str, set[int]]:
        """Line keys that are template in each source: in at least ``min_docs`` documents
        (and at least ``min_share`` of the source's documents)."""
        if self._npending:
            self._merge()
        out: dict[str, set[int]] = {}
        for source, (keys, counts, *_) in self._cols.items():
            need = max(min_docs, int(min_share * self.docs[source] + 0.999))
            found = set(keys[counts >= need].tolist())
            if found:
                out[source] = found
        return out

    def removed_report(self, min_removed: int = 1) -> list[dict[str, object]]:
        """The lines the second pass removed, per source: ``removed`` is how many times
        (lines, summed over documents: the manifest's ``chrome.template`` and
        ``chrome.wrapper`` counts add up to the same totals), ``documents`` how many
        documents of the source hold the line, ``mechanism`` which test removed it. This,
        not every line that repeats, is what the report and duplicates.json list: a line
        in a few percent of a large source's documents (a stock phrase of its articles)
        repeats without being template and stays in the text.

        Lines removed fewer than ``min_removed`` times are counted, not listed: one row per
        source and mechanism with ``text`` null and ``lines`` (how many such lines). Page
        wrappers shared by two or three pages make up most distinct removed lines, and the
        list is held through dedup, the run's peak of memory."""
        rows: list[dict[str, object]] = []
        rest: dict[tuple[str, str], list[int]] = {}
        # the rows' document counts are looked up per source, all its keys at once: a lookup
        # per row (set_of) was most of this method, serial in the driver at the end of pass
        # 2, and grew with the corpus (tens of thousands of rows at 200 MB)
        listed: dict[str, list[tuple[int, dict[str, object]]]] = {}
        for (source, key, mechanism), (n, text) in self.removals.items():
            if n < min_removed:  # type: ignore[operator]
                agg = rest.setdefault((source, mechanism), [0, 0])
                agg[0] += 1
                agg[1] += n  # type: ignore[arg-type]
                continue
            row: dict[str, object] = {"source": source, "text": text, "mechanism": mechanism, "removed": n,
                                      "documents": None}
            rows.append(row)
            listed.setdefault(source, []).append((key, row))
        for source, entries in listed.items():
            counts, _ = self.lookup(source, [key for key, _ in entries])
            for (_, row), count in zip(entries, counts.tolist(), strict=True):
                row["documents"] = count
        for (source, mechanism), (lines, n) in rest.items():
            rows.append({"source": source, "text": None, "mechanism": mechanism, "removed": n,
                         "documents": None, "lines": lines})
        rows.sort(key=lambda r: (str(r["source"]), r["text"] is None, -int(r["removed"]),  # type: ignore[call-overload]
                                 -int(r["documents"] or 0), str(r["text"]), str(r["mechanism"])))  # type: ignore[call-overload]
        return rows

    def report(self, min_docs: int) -> list[dict[str, object]]:
        """Every line in ``min_docs`` or more documents of a source, removed or not (what
        ``rules suggest`` chooses from)."""
        if self.sample_at is None or min_docs < self.sample_at:
            raise ValueError(f"texts are kept for lines in {self.sample_at}+ documents, not {min_docs}")
        rows = []
        for source, keys in sorted(self.templates(min_docs).items()):
            for key in keys:
                rows.append({"source": source, "text": self.samples[(source, key)],
                             "documents": self.set_of(source, key)[0], "of": self.docs[source]})
        rows.sort(key=lambda r: (-int(r["documents"]), str(r["source"]), str(r["text"])))
        return rows

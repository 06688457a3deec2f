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

import copy
import hashlib
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

import numpy as np

from ..document import Document
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
    import justext

    return {lang: frozenset(w.lower() for w in justext.get_stoplist(lang)) for lang in LANGUAGES}


# --------------------------------------------------------------------------- the core

@lru_cache(maxsize=8)
def _core(params: FurnitureParams) -> _native.Furniture:
    """The core's classifier for these thresholds (built once per process and params). Its
    character properties are the interpreter's (``cleaner.unicode``, installed when the core
    is loaded): the classifier was written with ``re`` and ``str`` methods, and the core
    agrees with them character for character."""
    lists = stoplists()
    values = {name: float(getattr(params, name)) for name in _native.Furniture.param_names()}
    return _native.Furniture(list(UNSEGMENTED_RANGES), [sorted(lists[lang]) for lang in LANGUAGES], values)


def prepare() -> None:
    """Build the core's tables now (see ``CleanSettings.prepare``)."""
    _core(FurnitureParams())


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
    headline_penalty: float = 6.0  # region cost of a lone headline-like line (see _scores)
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
    # a block of records (see _keep_records):
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
    rival_share: float = 0.5  # ... a region outside it scores this share of it (see _rival_region)


# a field of structured data rendered as text: a bare URL, an ISO timestamp, a bare number
_DATA_FIELD = re.compile(r"^(?:https?://\S+|\d+|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}\S*)?)$")
# the legal vocabulary site footers are built from (see rules/en/metadata.toml, rights-reserved)
_NOTICE = re.compile(r"©|\(c\)\s*\d{4}|\bcopyright\b|\ball rights reserved\b|\btrademarks?\b|\bdisclaimer\b", re.I)

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


def is_figures_row(line: str) -> bool:
    """A row of a table of figures (prices, results, a timetable) rendered as one line:
    at least three numbers, and numbers in at least half of its cells. No headline, menu
    item or link label is made of numbers (a date has two)."""
    cells = line.split()
    figures = sum(any(ch.isdigit() for ch in c) for c in cells)
    return figures >= 3 and 2 * figures >= len(cells)


def is_byline(line: str, params: FurnitureParams = FurnitureParams()) -> bool:
    """A short line carrying a date or a time: the byline of an article or a comment, a
    timestamp. Measured by digits, so it works in any language."""
    return _core(params).is_byline(line)


def classify(lines: Sequence[str], params: FurnitureParams = FurnitureParams()) -> list[str]:
    """Class of each line: ``good`` (prose), ``bad`` (furniture), ``short``, ``blank``.

    Lines are classified by the block they belong to (see :func:`blocks`). Lines mostly
    in unsegmented scripts have no stoplist; they read as prose when they are long and
    carry the script's sentence punctuation (menus and link lists carry none)."""
    classes, _ = _core(params).classify(collapse_lines(lines))
    return [_CLASS_NAMES[c] for c in classes]


# The private helpers of :func:`furniture` below take the lines collapsed (see
# :func:`cleaner.normalise.collapse`) and analysed once (:class:`_Lines`).
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
    new run, as a thread may put nothing else between two comments. Rules use it to prove a cut safe: what a tail or
    list rule removes must not be the page's article (see ``RuleSet.apply``)."""
    norm = list(lines) if collapsed else collapse_lines(lines)
    f = _analyse(norm, params)
    classes = f.classes
    best: Block | None = None
    start = end = -1
    words = gap = 0
    for i, cls in enumerate(classes):
        if cls == "blank":
            continue
        dated = f.flags[i] & _F_BYLINE
        if cls != "good" or dated:
            gap += 2 if dated else 1
            continue
        if start < 0 or gap > 1:
            start, words = i, 0
        end, gap = i, 0
        words += f.ntok[i]
        if best is None or words > best.words:
            best = Block(start, end, words)
    return best


def _main_region(scores: list[float]) -> tuple[int, int]:
    """Maximum-sum contiguous run (Kadane): the stretch of the page where prose outweighs
    furniture, as in Finn et al.'s Body Text Extraction, with lines instead of tags."""
    best, best_span = float("-inf"), (0, -1)
    run, start = 0.0, 0
    for i, s in enumerate(scores):
        if run <= 0:
            run, start = s, i
        else:
            run += s
        if run > best:
            best, best_span = run, (start, i)
    return best_span


def _ends_sentence(line: str) -> bool:
    """Whether a line ends like a sentence. A closing quote or bracket right after a word
    does not: a headline quotes without the full stop ("Actor teases sequel: "Some really
    cool ideas""), while a sentence closes its quote after one (... ideas.")."""
    return _core(FurnitureParams()).ends_sentence(line)


def _scores(f: _Lines, idx: list[int], params: FurnitureParams) -> list[float]:
    """Region score of each non-blank line. Prose counts its words, furniture a fixed
    penalty. Prose-looking lines that are links to other pages do not count: a teaser card
    (headline glued to its summary, see :func:`is_teaser`) is penalised like furniture,
    and a headline (a short line on its own, not ending a sentence) costs like furniture,
    so that a list of headlines below the article (related, most read) does not pull the
    region down the page. Headings inside the article cost the same but are outweighed by
    the paragraphs around them, and are kept as gaps between prose. So does a lone dated
    line (as short as a byline, see :func:`is_byline`, or ending in a year within
    ``dated_words`` words), sentence or not, in a run of at least ``table_rows`` of them:
    the entries of a dated list below the text (its sources, an archive), whose run would
    otherwise pull the region down over the list. (One or two dated lines may be fragments
    of a hard-wrapped sentence: "June 30, 1991 with ...".)"""
    flags = f.flags
    dated = [flags[i] & _F_BYLINE or flags[i] & _F_ENDS_DATED and f.nsplit[i] <= params.dated_words for i in idx]
    listed: set[int] = set()
    run: list[int] = []
    for p in [*range(len(idx)), -1]:
        if p >= 0 and dated[p]:
            run.append(idx[p])
            continue
        if len(run) >= params.table_rows:
            listed.update(run)
        run = []
    out = []
    classes, sizes = f.classes, f.sizes
    for i in idx:
        words = f.words[i]
        if classes[i] != "good" or flags[i] & _F_TEASER:
            out.append(-params.region_penalty)
        elif sizes[i] == 1 and words <= params.headline_words and not flags[i] & _F_ENDS_SENTENCE:
            out.append(-params.headline_penalty)
        elif sizes[i] == 1 and i in listed:
            out.append(-params.headline_penalty)
        else:
            out.append(words)
    return out


def _footer_start(lines: Sequence[str], classes: list[str], idx: list[int], params: FurnitureParams) -> int:
    """Position in ``idx`` where the site's footer notice starts, or ``len(idx)``. A
    footer closes every page of a site with a block of sentences (who hosts or sponsors
    the site, its copyright and trademarks, a disclaimer) and maybe a last row of links.
    On a page with little prose (an archive of links, a product page of short lines) that
    block is the heaviest run of prose and the region finder takes it for the text (issue
    15). A line with the legal vocabulary of footers (``_NOTICE``) among the page's last
    ``footer_lines`` lines marks it; the footer starts there, or higher over the lines
    right above it that are long but not prose (a notice's other fragments). A prose line
    right above it is not taken: an article's last paragraph often sits directly above
    the site's copyright line. It counts only below some prose, so a page of a notice
    alone keeps it. The region is sought above the footer, as above a comment thread."""
    tail = max(0, len(idx) - params.footer_lines)
    for p in range(tail, len(idx)):
        if classes[idx[p]] != "short" and _NOTICE.search(lines[idx[p]]):
            while p > 0 and classes[idx[p - 1]] == "bad":
                p -= 1
            if any(classes[i] == "good" for i in idx[:p]):
                return p
            return len(idx)
    return len(idx)


def _comments_start(f: _Lines, idx: list[int], params: FurnitureParams) -> int:
    """Position in ``idx`` where a comment thread starts, or ``len(idx)``. Comment threads
    repeat one shape: a short dated header that introduces speech ("Ann on 12 May 2019 at
    4:47 pm said:", "Ann schrieb am 12.05.2019:") and then prose. Plain dated lines are not
    enough: blogs and forums list several dated posts that all belong to the page, so only
    headers ending in a colon (reported speech) count, and only when they recur below
    some prose (the article they comment on)."""
    hits = []
    seen_prose = False
    classes = f.classes
    for p, i in enumerate(idx):
        if classes[i] == "good" and not hits:
            seen_prose = seen_prose or f.nsplit[i] > params.byline_words
        line = f.text[i]
        if not (seen_prose and line.endswith(":") and ". " not in line and f.flags[i] & _F_BYLINE):
            continue
        if any(classes[idx[q]] == "good" for q in range(p + 1, min(p + 4, len(idx)))):
            hits.append(p)
    return hits[0] if len(hits) >= params.post_bylines else len(idx)


def _thread_start(f: _Lines, idx: list[int], scores: list[float], params: FurnitureParams) -> int:
    """Position in ``idx`` where a thread of entries below the page's body starts, or
    ``len(idx)``. A comment thread (or a list of reader posts) renders each entry as some
    prose between the same field lines: the widgets every comment carries ("Reply",
    "Report abuse", "rate up"), a "Label: value" line. A field line that recurs in at
    least ``thread_entries`` of the gaps between prose runs separates entries; the thread
    starts at the prose run right above its first occurrence (the first entry). Summed
    over many entries, a thread outweighs the article it follows, and the region finder
    would keep one comment and drop the article (issue 15); so when a body (adjacent
    paragraphs, see :func:`_longest_body`) lies above the first entry, the region is
    sought above it. A page that is itself a thread (a forum) has no body above its
    first post, and an article's own repeated headings ("Q:") come after its intro,
    which then is the first entry: neither is cut."""
    where: dict[int, list[tuple[int, int]]] = {}  # key -> (gap, position) of each occurrence
    gap = 0
    for p, i in enumerate(idx):
        if scores[p] > 0:
            if p and scores[p - 1] <= 0:
                gap += 1
            continue
        key = f.keys[i]  # see the _field_key note
        if key and not f.flags[i] & _F_KEY_DIGIT:
            where.setdefault(key, []).append((gap, p))
    best = len(idx)
    for seen in where.values():
        # one occurrence per gap: the fields of one entry each, with its prose between them
        at = [p for n, (g, p) in enumerate(seen) if g and (n == 0 or g != seen[n - 1][0])]
        if len(at) < params.thread_entries:
            continue
        start = at[0]
        while start > 0 and scores[start - 1] <= 0:
            start -= 1
        while start > 0 and scores[start - 1] > 0:
            start -= 1
        longest = max(sum(sc for sc in scores[a:b] if sc > 0) for a, b in zip(at, at[1:], strict=False))
        body = _longest_body(scores[:start], set())
        if body >= 2 * params.card_words and body > longest and start < best:
            best = start
    return best


def _drop_second_copy(f: _Lines, drop: list[bool], params: FurnitureParams) -> None:
    """Drop a second rendering of the text that structured data left on the page.

    A page's metadata block (schema.org JSON-LD, OpenGraph or microdata rendered as text)
    carries the article again as its ``articleBody``, among the fields a renderer leaves
    as lines of their own: the page URL, the image URL, its width and height, the
    publication timestamps. So a long run of kept lines that all occurred, in the same
    words, earlier among the kept lines, with at least ``copy_fields`` such data fields
    among the ``copy_lookback`` lines above it or inside it, is that copy, and is dropped.

    Any other repetition is the page's own text and is kept (issue 15): a document that
    repeats its paragraphs (a text given twice, sections with the same paragraph, a
    refrain, a pull quote, a forum post quoting an earlier one) is what the page says,
    and removing repeated text across or within documents is the dedup stage's decision,
    not the furniture classifier's."""
    lines, classes = f.text, f.classes
    kept = [i for i, c in enumerate(classes) if c != "blank" and not drop[i]]
    seen: set[str] = set()
    repeat = []
    for i in kept:
        line = lines[i]
        repeat.append(line in seen)
        seen.add(line)
    total = sum(f.nsplit[i] for i in kept)
    need = max(params.copy_words, params.copy_share * total)
    p = 0
    while p < len(kept):
        if not repeat[p]:
            p += 1
            continue
        q = p
        while q < len(kept) and repeat[q]:
            q += 1
        if sum(f.nsplit[kept[k]] for k in range(p, q)) >= need and _data_block(lines, classes, kept[p],
                                                                                            kept[q - 1], params):
            for k in range(p, q):
                drop[kept[k]] = True
        p = q


def _data_block(lines: Sequence[str], classes: list[str], start: int, end: int, params: FurnitureParams) -> bool:
    """Whether the run of lines ``start``..``end`` is rendered structured data: at least
    ``copy_fields`` bare data fields (URL, ISO timestamp, number; see ``_DATA_FIELD``)
    among the ``copy_lookback`` non-blank lines above it and the lines inside it, kept
    or not."""
    above = [k for k in range(start - 1, -1, -1) if classes[k] != "blank"][: params.copy_lookback]
    span = [*above, *range(start, end + 1)]
    return sum(_DATA_FIELD.match(lines[k].strip()) is not None for k in span) >= params.copy_fields


def _is_card(p: int, f: _Lines, scores: list[float], idx: list[int], params: FurnitureParams,
             max_words: float = float("inf")) -> bool:
    """Whether the prose line at position ``p`` of ``idx`` is the summary of an article
    card (a link to another article in a related, most-read or deals list, a slider).
    A card renders as a headline and a one-paragraph summary, maybe a label or a date: a
    prose line standing alone before a line that does not count as prose (see
    :func:`_scores`), right below a headline-length line that does not end a sentence
    (or asks a question, or ends in the ellipsis of a headline cut to fit its card). An
    article's section headings are shorter than headlines, and a wrapped sentence
    continues in lower case."""
    if p == 0 or scores[p] > max_words or (p + 1 < len(idx) and scores[p + 1] > 0):
        return False
    if scores[p - 1] > 0 and not f.text[idx[p]].lstrip("\"“‘'«")[:1].isupper():
        return False  # a long line above continues into this one: wrapped text
    h = idx[p - 1]
    flags = f.flags[h]
    # the headline does not end a sentence, or asks, or is cut with an ellipsis (\w... or \w…)
    return (f.nsplit[h] >= params.card_headline_words and not flags & _F_BYLINE
            and (not flags & _F_TERMINAL or f.text[h].endswith("?") or bool(flags & _F_TRUNCATED)))


def _announced(f: _Lines, idx: list[int], params: FurnitureParams) -> list[int]:
    """Positions (in ``idx``) of the items of a list the text announces: the short lines
    after a sentence that ends in a colon ("The following reports are available:"), up
    to the next prose line. The text introduces its own lists this way; a menu, a share
    bar or a footer is never introduced by a sentence (a widget's label, "Share this:",
    "Related:", is shorter than ``announce_words``). They cost nothing in the region and
    do not count in a gap between prose lines, however long the list."""
    out: list[int] = []
    classes = f.classes
    p = 0
    while p < len(idx):
        line = f.text[idx[p]]
        nsplit = f.nsplit[idx[p]]
        p += 1
        if not (line.endswith(":") and nsplit >= params.announce_words):
            continue
        q = p
        while q < len(idx) and classes[idx[q]] != "good" and q - p < params.announce_items:
            q += 1
        if q < len(idx) and classes[idx[q]] == "good":
            out.extend(range(p, q))  # only a list the text resumes after
        p = q
    return out


def _record_scores(scores: list[float], fields: list[bool], gap: int) -> list[float]:
    """Region scores of a page of entries: a forum thread, a list of jobs or search
    results, a table whose rows carry a sentence each. Each entry is prose (the post, the
    summary) between short fields (a name, a date, a rank, "Reply", table cells), so the
    region finder, which charges every short line, keeps one entry and drops the rest.
    Here a run of at most ``gap`` field lines between two prose lines costs one furniture
    line in all: the fields of an entry. A longer run (a menu) costs in full, and so
    does a run with a line that reads as prose but scored as a link (a teaser, a card's
    headline: a list of links is not a list of entries). ``fields``: which lines are
    short or non-prose lines by class."""
    out = list(scores)
    p = 0
    while p < len(out):
        if out[p] > 0:
            p += 1
            continue
        q = p
        while q < len(out) and out[q] <= 0:
            q += 1
        if 0 < p and q < len(out) and q - p <= gap and all(fields[p:q]):
            cost = min(out[p:q])
            for k in range(p, q):
                out[k] = cost / (q - p)
        p = q
    return out


def _longest_body(scores: list[float], skip: set[int]) -> float:
    """Words of the longest run of adjacent prose lines, not counting those in ``skip``."""
    best = run = 0.0
    for p, sc in enumerate(scores):
        run = run + sc if sc > 0 and p not in skip else 0.0
        best = max(best, run)
    return best


def _lone_headline(p: int, scores: list[float], params: FurnitureParams) -> bool:
    """A short prose line between non-prose lines: a card's headline that happens to end
    like a sentence ("... What will it cost?"), which does not end a list of cards."""
    return scores[p] <= params.headline_words and all(
        not (0 <= q < len(scores)) or scores[q] <= 0 for q in (p - 1, p + 1))


def _card_scores(scores: list[float], f: _Lines, idx: list[int], params: FurnitureParams) -> list[float]:
    """Region scores with card lists costing what they weigh. A list of article cards
    below the text (related, more from the section, deals) is a run of short prose lines
    that would otherwise pull the main region down the page; each summary in a run of at
    least ``min_cards`` cards counts its words against the region, and its headline costs
    like furniture. Only on a page with a body (adjacent paragraphs outweighing two card
    summaries): a page that is itself a list of entries (a catalogue, a digest) has none,
    and its entries are its text."""
    out = list(scores)
    prose = [p for p in range(len(idx)) if scores[p] > 0]
    cards = {p for p in prose if _is_card(p, f, scores, idx, params, params.card_words)}
    heads = {p - 1 for p in cards}
    if _longest_body(scores, cards | heads) < 2 * params.card_words:
        return out
    run: list[int] = []
    for p in [q for q in prose if q not in heads] + [-1]:
        if p in cards:
            run.append(p)
            continue
        if p >= 0 and _lone_headline(p, scores, params):
            continue
        if len(run) >= params.min_cards:
            for q in run:
                out[q] = -scores[q]
                out[q - 1] = -abs(scores[q - 1])
        run = []
    return out


def _trim_cards(good: list[int], f: _Lines, scores: list[float], idx: list[int],
                params: FurnitureParams) -> list[int]:
    """The region's prose lines without a list of article cards (see :func:`_is_card`)
    at either end, such as a slider above the article. An article body has paragraphs
    next to each other, so a run of at least ``min_cards`` cards at an end of the region,
    with the body still beside it, is cut off."""
    pos = {i: p for p, i in enumerate(idx)}
    prose = [i for i in good if scores[pos[i]] > 0]
    cards = {i for i in prose if _is_card(pos[i], f, scores, idx, params)}
    heads = {idx[pos[i] - 1] for i in cards}
    body = [i for i in prose if i not in cards and i not in heads]
    if not body:
        return good
    lo, hi = body[0], body[-1]
    if sum(i < lo for i in prose) < params.min_cards:
        lo = good[0]
    if sum(i > hi for i in prose) < params.min_cards:
        hi = good[-1]
    return [i for i in good if lo <= i <= hi]


def furniture(lines: Sequence[str], params: FurnitureParams = FurnitureParams(), collapsed: bool = False) -> list[bool]:
    """True for each line that is page furniture rather than the document's text.

    Finds the main region of the page (the maximum-sum run of line scores, see
    :func:`_scores`), ignoring any comment thread below the text (see
    :func:`_comments_start`), with card lists counted against it (see
    :func:`_card_scores`) and cut off its ends (see :func:`_trim_cards`); keeps the prose
    lines inside it and the short lines (headings, datelines, list items) in the gaps
    between prose; drops everything outside
    the region (menus above, teasers, comment threads and footers below) and long runs of
    non-prose lines inside it, and finally a second copy of the text (see :func:`_drop_second_copy`).

    Short-line content must not read as furniture, or the classifier takes the page's
    main block for a menu (issue 15). Three guards, each a property of how pages are
    built rather than a list of strings: rows of figures (a table, a timetable, a
    calendar, a results list) read as prose (see the note on the core, above :class:`_Lines`); the items of a
    list the text announces with a colon cost nothing and stay (see :func:`_announced`);
    and on a page of entries (a forum thread, a listing, a table with a sentence per row:
    no body of adjacent paragraphs, or a region holding under ``entries_share`` of the
    prose) the short fields between entries cost one furniture line per gap, so the
    region spans the entries instead of keeping one (see :func:`_record_scores`).
    ``collapsed``: the caller passes lines already collapsed (the rules' output is).
    """
    lines = list(lines) if collapsed else collapse_lines(lines)
    f = _analyse(lines, params)
    classes, wrapped = f.classes, f.wrapped
    idx = [i for i, c in enumerate(classes) if c != "blank"]
    if not any(classes[i] == "good" for i in idx):
        return [False] * len(lines)  # nothing reads as prose: not our call, keep it all
    scores = _scores(f, idx, params)
    listed = _announced(f, idx, params)
    for p in listed:
        scores[p] = 0.0
    listed_lines = {idx[p] for p in listed}
    stop = min(_comments_start(f, idx, params), _footer_start(lines, classes, idx, params))
    card_scores = _card_scores(scores, f, idx, params)
    region_scores = card_scores[:stop]
    lo, hi = _main_region(region_scores)
    thread = _thread_start(f, idx, scores, params)
    cut_thread = _region_in_thread(card_scores, lo, hi, thread)
    if cut_thread:
        # the region is entries of a thread below the article: seek it above the thread
        # (a thread the region does not reach is left alone)
        stop = thread
        region_scores = card_scores[:stop]
        lo, hi = _main_region(region_scores)
    gap = params.max_gap
    prose = sum(sc for sc in region_scores if sc > 0)
    bodyless = _longest_body(scores, set()) < 2 * params.card_words
    text = _wrapped_text(idx, region_scores, wrapped, lo, hi, params)
    chosen = region_scores
    if text is not None:
        lo, hi = text  # the page's hard-wrapped text, which the region missed
    elif bodyless or sum(sc for sc in region_scores[lo:hi + 1] if sc > 0) < params.entries_share * prose:
        # A page of entries (see _record_scores): it has no body, so its cards and links
        # are its entries too; or it has one, but the region holds little of its prose
        # (one long post of a thread), and only short fields join the entries.
        gap = params.record_gap
        fields = [bodyless or classes[i] != "good" for i in idx[:len(region_scores)]]
        chosen = _record_scores(region_scores, fields, gap)
        lo, hi = _main_region(chosen)
    region = sorted(idx[lo:hi + 1] + _rival_region(lines, idx, chosen, lo, hi, params))
    good = _trim_cards([i for i in region if classes[i] == "good"], f, scores, idx, params)
    drop = [c != "blank" for c in classes]
    if not good:
        return [False] * len(lines)  # all prose reads as teasers: no article to cut around
    for i in good:
        drop[i] = False
    for a, b in zip(good, good[1:], strict=False):
        between = [k for k in range(a + 1, b) if classes[k] != "blank"]
        if sum(k not in listed_lines for k in between) <= gap:
            for k in between:
                drop[k] = False
    # The title and standfirst sit right above the body: short lines with no closing
    # colon (a colon announces a list, not a title), within two lines of the first prose.
    # Above a one-line title, a line of one to three words is the end of the menu.
    above = [k for k in range(good[0] - 1, -1, -1) if classes[k] != "blank"][: params.title_lines]
    for n, k in enumerate(above):
        line = lines[k]
        if f.nsplit[k] > 30 or line.endswith(":") or (n and classes[k] == "short"):
            break
        drop[k] = False
    _drop_second_copy(f, drop, params)
    _keep_records(f, drop, params)
    return drop


def _wrapped_text(idx: list[int], scores: list[float], wrapped: list[bool], lo: int, hi: int,
                  params: FurnitureParams) -> tuple[int, int] | None:
    """The span (positions in ``idx``) of the page's hard-wrapped text, when the region
    ``lo..hi`` missed it; else None.

    Hard line breaks at a fixed width inside a paragraph come from text written or filed
    as plain text: a wire story, a press release, an e-mail, a ``<pre>`` document. A
    site's own blocks (menus, an "about" blurb, an archive's notice, comments) are rendered
    from HTML, a block to a line, and are never wrapped so. When a page holds a run of
    wrapped prose of at least ``card_words`` words, and the region finder chose unwrapped
    prose elsewhere that outweighs it by less than ``1 / wrapped_share`` (a longer blurb
    above a short story, one long comment below it), the wrapped run is the document's
    text (issue 15). A run is wrapped paragraphs (``_Lines.wrapped``: at least two lines as
    long as a wrap, none over ``wrap_max``) with at most ``max_gap`` other lines between
    them (a one-line paragraph, a subheading)."""
    if any(wrapped[idx[p]] and scores[p] > 0 for p in range(lo, hi + 1)):
        return None
    best: tuple[float, int, int] = (0.0, 0, -1)
    start, words, gap = -1, 0.0, 0
    for p in range(len(scores)):
        if not (wrapped[idx[p]] and scores[p] > 0):
            gap += 1
            continue
        if start < 0 or gap > params.max_gap:
            start, words = p, 0.0
        words += scores[p]
        gap = 0
        if words > best[0]:
            best = (words, start, p)
    words, first, last = best
    chosen = sum(sc for sc in scores[lo:hi + 1] if sc > 0)
    if words < params.card_words or words < params.wrapped_share * chosen:
        return None
    return first, last


def _region_in_thread(scores: list[float], lo: int, hi: int, thread: int) -> bool:
    """Whether the region ``lo..hi`` (positions of scored lines) chose the entries of the
    thread that starts at ``thread`` (see :func:`_thread_start`) instead of the body above
    it: the region starts below the body (the longest run of adjacent prose above the
    thread), and its prose words at or below the thread's start outweigh those above it.
    Such a region may start a little above the first entry, at the thread's own prose (a
    note on moderation, a request to use the forum). A region that holds the body as
    well (the article with its comments, a blog's page of posts) is left alone."""
    if thread > hi:
        return False
    body_end, best, run = -1, 0.0, 0.0
    for p, sc in enumerate(scores[:thread]):
        run = run + sc if sc > 0 else 0.0
        if run > best:
            best, body_end = run, p
    above = sum(sc for sc in scores[lo:thread] if sc > 0)
    below = sum(sc for sc in scores[max(lo, thread):hi + 1] if sc > 0)
    return lo > body_end and below > above


_TITLE_PARTS = re.compile(r"\s[|–—»·-]\s|\s::\s")


def _rival_region(lines: Sequence[str], idx: list[int], scores: list[float],
                  lo: int, hi: int, params: FurnitureParams) -> list[int]:
    """Lines of a second region that is more likely the page's text than the chosen one
    (``lo``..``hi``, positions in ``idx``), kept with it. The region finder picks the
    heaviest run of prose; when that run is short (under ``rival_words``: a sidebar's
    answer, a footer notice, one post) and another run outside it weighs at least
    ``rival_share`` as much, the weights do not say which is the text, and the page's
    title does: a page's first line is its title, whose words the text repeats (a
    thread's question, a directory's subject), while a sidebar or a footer is about
    something else. The rival is kept when its prose holds more of the title's words than
    the chosen region's, and at least two (issue 15: a close call must not drop the text)."""
    best = sum(scores[lo:hi + 1])
    if not 0 < best < params.rival_words or not idx:
        return []
    # the title's own part: "Headline | Section | Site" names the site in every page's chrome
    head = max(_TITLE_PARTS.split(lines[idx[0]]), key=lambda part: len(part.split()))
    words = _core(params).words  # the \w+ tokens of a line
    title = {w.lower() for w in words(head) if len(w) > 3 and not w.isdigit()}
    if not title:
        return []

    def hits(a: int, b: int) -> int:
        # words of its prose lines: a "most read" list repeats the page's own headline
        prose = (lines[idx[p]] for p in range(a, b + 1) if p > 0 and scores[p] > 0)
        return len(title & {w.lower() for ln in prose for w in words(ln)})

    out: list[int] = []
    for a, b in ((0, lo), (hi + 1, len(scores))):
        if b <= a:
            continue
        rlo, rhi = _main_region(scores[a:b])
        rlo, rhi = a + rlo, a + rhi
        named = hits(rlo, rhi) if rhi >= rlo else 0
        if sum(scores[rlo:rhi + 1]) >= params.rival_share * best and named >= 2 and named > hits(lo, hi):
            out.extend(idx[rlo:rhi + 1])
    return out


def _keep_records(f: _Lines, drop: list[bool], params: FurnitureParams) -> None:
    """Keep the page's block of records when the region finder would drop it. The finder
    looks for prose; a page whose text is a set of records (a table of contents, a
    directory, an archive table, a forum thread, a results list) has little, so the
    region lands on a stray sentence (a footer notice, one entry's description, one
    post) and the page's other records go as "furniture" (issue 15: when the classifier
    would take the page's main block, it must keep it).

    Records show themselves by a field that recurs: every entry of a directory has its
    "Telephone:" line, every row of an archive its "by date" cells, every post of a
    forum its "Quote" and "Posts:" lines, every chapter of a table of contents its
    "recommendation" line. A menu names each page once (a header and a footer menu
    twice; a mega menu closes each section of many links with the same "More"), so a
    short line or a field label ("Label: ...") recurring at least ``record_repeats``
    times, no more than ``record_gap`` lines apart and every ``record_lines`` lines on
    average, marks a block of records. The block runs from the first to the last field
    of its records (the clusters of other fields that overlap it), and starts a record's
    title above the first field (a name, a heading, a poster's header comes first).

    The largest block stays, when it holds at least ``block_share`` of the page and the
    region finder's choice is a sign it went wrong: what it kept lies inside the block
    (it picked one record of many), or it kept under ``sparse_share`` of the page and the
    block outweighs that ``block_ratio`` times (removing nearly all of a page is the
    signature of a wrong decision; a list of cards with their authors' names below a
    short article does not outweigh it so). The menus and footers around it stay
    removed. Pages under ``sparse_words`` words are left alone.

    A thread of a few posts is too short for ``record_repeats``, but each post's header
    repeats the same fields in the same order ("Joined:", "Posts:", "Posted on:"): at
    least ``record_fields`` field lines in step (one of each per post; see
    :func:`_in_step`), ``record_entries`` times, one of them with values that differ
    from post to post (a menu printed three times repeats its lines word for word),
    mark a thread. Its header fields may read as prose, so all lines count here. It
    stays when the region kept under ``sparse_share`` of the page, all of it in the
    thread: the finder kept one post and dropped the others. Three, not two: a header
    menu and a footer menu repeat a site's links twice."""
    lines, classes = f.text, f.classes
    filled = [i for i, c in enumerate(classes) if c != "blank"]
    size = {i: f.split_words[i] for i in filled}
    total = sum(size.values())
    kept = sum(size[i] for i in filled if not drop[i])
    if total < params.sparse_words:
        return
    where: dict[int, list[int]] = {}  # field lines that do not read as prose
    steps: dict[int, list[int]] = {}  # and all, for fields in step (a post's header may)
    for p, i in enumerate(filled):
        field = f.keys[i]  # see the _field_key note
        if not field:
            continue
        steps.setdefault(field, []).append(p)
        if classes[i] != "good":
            where.setdefault(field, []).append(p)
    # (a cluster is some of a field's occurrences: a field seen fewer times makes none)
    blocks = [at for every in where.values() if len(every) >= params.record_repeats
              for at in _clusters(every, _record_gap(every, params))
              if len(at) >= params.record_repeats and at[-1] - at[0] < params.record_lines * (len(at) - 1)]
    runs = [at for every in steps.values() if len(every) >= params.record_entries
            for at in _clusters(every, _record_gap(every, params)) if len(at) >= params.record_entries]
    stepped: list[list[int]] = []
    for at in runs:
        step = [other for other in runs if _in_step(at, other)]
        # records carry values ("Posts: 240", "Posts: 18"); a menu printed three times
        # (header, mobile, footer) repeats its lines word for word
        valued = any(len({lines[filled[p]] for p in other}) > 1 for other in step)
        if len(step) >= params.record_fields and valued:
            stepped.append(at)
    chosen = [p for p, i in enumerate(filled) if not drop[i]]
    words, lo, hi, _ = _largest_block(blocks, blocks, filled, size)
    inside = bool(chosen) and lo <= chosen[0] and chosen[-1] <= hi
    sparse = kept < params.sparse_share * total
    if (inside or sparse and words >= params.block_ratio * kept) and words >= params.block_share * total:
        for i in filled[lo:hi + 1]:
            drop[i] = False
        return
    # A thread of a few posts, too short for ``record_repeats``: ``record_fields`` field
    # lines in step, ``record_entries`` times. It stays when the region kept under
    # ``sparse_share`` of the page, all of it in the thread (one post: the last record,
    # whose text runs on below its last field line, counts in).
    words, lo, hi, length = _largest_block(stepped, blocks + stepped, filled, size, params.post_title)
    if sparse and chosen and lo <= chosen[0] and chosen[-1] <= hi + length:
        for i in filled[lo:hi + 1]:
            drop[i] = False


def _largest_block(blocks: list[list[int]], others: list[list[int]], filled: list[int],
                   size: dict[int, float], title: int | None = None) -> tuple[float, int, int, int]:
    """The block of records (see :func:`_keep_records`) holding the most words, as its
    words, first and last positions in ``filled`` and its records' usual length in lines;
    ``(0, 0, -1, 0)`` when there is none. A block runs over the fields of its records in
    ``others`` (the clusters that overlap it); its first record starts ``title`` lines
    above its first field when given, else as many as a record has lines besides its fields."""
    best: tuple[float, int, int, int] = (0.0, 0, -1, 0)
    for at in blocks:
        # the other fields of the same records: clusters that overlap this one
        fields = [c for c in others if c[0] <= at[-1] and at[0] <= c[-1]]
        first, last = min(c[0] for c in fields), max(c[-1] for c in fields)
        # a record leads with its title (a name, a heading, a poster's header line) before
        # its fields: the first record starts that many lines above the first field
        length = (at[-1] - at[0]) / (len(at) - 1)
        per_record = sum(len(c) for c in fields) / len(at)
        lead = max(0, round(length - per_record)) if title is None else title
        first = max(0, first - lead)
        words = sum(size[i] for i in filled[first:last + 1])
        if words > best[0]:
            best = (words, first, last, round(length))
    return best


def _in_step(at: list[int], other: list[int]) -> bool:
    """Whether two recurring field lines belong to the same records: they recur as often,
    and one of each sits in every record (each occurrence of one falls between the same
    two occurrences of the other: "Joined:", "Posts:" and "Posted on:" once in every post's
    header). A field compared with itself is in step."""
    if len(at) != len(other):
        return False
    first, second = (at, other) if at[0] <= other[0] else (other, at)
    return all(a <= b for a, b in zip(first, second, strict=True)) and all(
        b < a for b, a in zip(second, first[1:], strict=False))


def _record_gap(at: list[int], params: FurnitureParams) -> int:
    """How far apart two fields of one block of records may be: ``record_gap`` lines, or
    ``record_stretch`` times the field's usual (median) spacing when that is more. Records
    differ in length (one entry of a directory has a description and its opening hours,
    the others an address), and one long record must not split the block in two halves,
    each too small to stand against the region finder's choice."""
    spacing = sorted(b - a for a, b in zip(at, at[1:], strict=False))
    if not spacing:
        return params.record_gap
    return max(params.record_gap, params.record_stretch * spacing[len(spacing) // 2])


def _clusters(at: list[int], gap: int) -> list[list[int]]:
    """Positions split where two neighbours are more than ``gap`` apart: the records of
    one block follow each other, and the same label elsewhere on the page (a section
    name above the article and on every card of a list below it) is another block."""
    out: list[list[int]] = []
    for p in at:
        if out and p - out[-1][-1] <= gap:
            out[-1].append(p)
        else:
            out.append([p])
    return out


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


def key_lines(doc: Document) -> Document:
    """Compute the document's line keys (:func:`line_key` of each line of its text, and of
    its header lines) where it is cleaned, in a worker. Template statistics need them in
    the driver twice (counting, then removing); hashing there was a serial share of the run."""
    if doc.status == "kept":
        doc.line_keys = line_keys(doc.text.split("\n\n"))
        doc.head_keys = line_keys(doc.head)
    return doc


def doc_keys(doc: Document) -> np.ndarray:
    """The distinct keys a document adds to the template statistics: those of its non-empty
    text and header lines, as a sorted ``uint64`` array (from :func:`key_lines`' keys
    when the worker computed them)."""
    lines = [*doc.text.split("\n\n"), *doc.head]
    if doc.line_keys is None or doc.head_keys is None:
        keys = line_keys([c for c in map(collapse, lines) if c])
    else:
        keys = [k for ln, k in zip(lines, chain(doc.line_keys, doc.head_keys), strict=True) if ln.strip()]
    return np.unique(np.array(keys, dtype=np.uint64))


def doc_token_of(name: str) -> int:
    """A document's token in the document-set fingerprints of :class:`TemplateStats`: 64
    bits of a hash of its name (with a persistent index, the batch-qualified name, so that
    documents of two batches never share a token)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


class TemplateStats:
    """Counts, per source, in how many documents each line occurs (first pass).

    Besides the count, each line keeps an order-independent fingerprint of the *set* of
    documents it occurs in (a sum of hashed document numbers). Lines of one page template
    occur in exactly the same documents as that template's header (the menu above the
    article), so a kept line whose document set equals the set of a header line of the same
    document is wrapper, not content, however few documents share the wrapper. Syndicated
    article text occurs in a different set of documents (its copies) and is left alone.

    Memory grows with the number of distinct lines of the corpus, so the statistics are
    three sorted numpy columns per source (64-bit line key, count, fingerprint: 20 bytes a
    line), merged from an append buffer, instead of Python dict entries (~150 bytes). The
    text of a line is only kept for lines in ``sample_at`` or more documents (what
    ``rules suggest`` chooses from; None: no texts), recorded by :meth:`note` in the second
    pass, and for the lines the second pass removes (:meth:`note_removed`: what the report
    and duplicates.json list).

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
        self._cols: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.samples: dict[tuple[str, int], str] = {}
        self._known: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see add_known
        # what the second pass really removed: (source, key, mechanism) -> [lines, text]
        self.removals: dict[tuple[str, int, str], list[object]] = {}

    def add_keys(self, source: str, keys: np.ndarray, doc_token: str = "") -> None:
        """Count a document's distinct line keys (:func:`doc_keys`, computed where the
        document was cleaned)."""
        self.docs[source] += 1
        token = doc_token_of(doc_token)
        buf_keys, buf_tokens = self._pending.setdefault(source, (array("Q"), array("Q")))
        buf_keys.frombytes(keys.astype(np.uint64).tobytes())
        buf_tokens.extend([token] * len(keys))
        self._npending += len(keys)
        if self._npending >= self._MERGE_AT:
            self._merge()

    def _merge(self) -> None:
        for source, (buf_keys, buf_tokens) in self._pending.items():
            if not buf_keys:
                continue
            keys = np.frombuffer(buf_keys, dtype=np.uint64)
            sums = np.frombuffer(buf_tokens, dtype=np.uint64)
            counts = np.ones(len(keys), dtype=np.int64)
            if source in self._cols:
                old_keys, old_counts, old_sums = self._cols[source]
                keys = np.concatenate([old_keys, keys])
                counts = np.concatenate([old_counts, counts])
                sums = np.concatenate([old_sums, sums])
            order = np.argsort(keys, kind="stable")
            keys, counts, sums = keys[order], counts[order], sums[order]
            starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
            # uint64 addition wraps: the fingerprint is the sum modulo 2**64
            self._cols[source] = (keys[starts], np.add.reduceat(counts, starts), np.add.reduceat(sums, starts))
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
            all_keys, counts, sums = cols
            pos = np.minimum(np.searchsorted(all_keys, q), len(all_keys) - 1)
            found = all_keys[pos] == q
            counts_q, sums_q = np.where(found, counts[pos], 0), np.where(found, sums[pos], np.uint64(0))
        if self._known is not None and len(self._known[0]):
            k_keys, k_counts, k_sums = self._known
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
        self._known = (np.asarray(keys, dtype=np.uint64), np.asarray(counts, dtype=np.int64),
                       np.asarray(sums, dtype=np.uint64))

    def run_totals(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This run's own (documents, fingerprint) of each key, over all its sources and
        without what the index knows: what the run adds to the index."""
        if self._npending:
            self._merge()
        q = np.asarray(keys, dtype=np.uint64)
        counts = np.zeros(len(q), dtype=np.int64)
        sums = np.zeros(len(q), dtype=np.uint64)
        for all_keys, c, s in self._cols.values():
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
        out = copy.copy(self)
        out.samples = {}
        out.removals = {}
        return out

    def note_removed(self, source: str, key: int, mechanism: str, line: str) -> None:
        """Count a line the second pass removed (``chrome.template`` or ``chrome.wrapper``)."""
        entry = self.removals.get((source, key, mechanism))
        if entry is None:
            self.removals[(source, key, mechanism)] = [1, collapse(line)]
        else:
            entry[0] += 1  # type: ignore[operator]

    def merge_removals(self, removals: dict[tuple[str, int, str], list[object]]) -> None:
        """Add a worker's :attr:`removals` (from a :meth:`view`) to these."""
        for k, (n, text) in removals.items():
            entry = self.removals.get(k)
            if entry is None:
                self.removals[k] = [n, text]
            else:
                entry[0] += n  # type: ignore[operator]

    def note(self, source: str, keys: Sequence[int], lines: Sequence[str], counts: np.ndarray) -> None:
        """Keep the text of lines in ``sample_at`` or more documents (for ``rules suggest``;
        nothing when ``sample_at`` is None: a run that does not list them saves the memory)."""
        if self.sample_at is None:
            return
        for key, line, count in zip(keys, lines, counts.tolist(), strict=True):
            if count >= self.sample_at:
                self.samples.setdefault((source, key), collapse(line))

    def wrapper_sets(self, source: str, head: Sequence[str], keys: Sequence[int] | None = None) -> set[int]:
        """Document-set fingerprints of the header lines shared with other documents (and
        the header lines noted for the report, see :meth:`note`)."""
        if keys is None:
            keys = line_keys(head)
        counts, sums = self.lookup(source, keys)
        self.note(source, keys, head, counts)
        return set(sums[counts >= 2].tolist())

    def set_of(self, source: str, key: int) -> tuple[int, int]:
        counts, sums = self.lookup(source, [key])
        return int(counts[0]), int(sums[0])

    def templates(self, min_docs: int, min_share: float = 0.0) -> dict[str, set[int]]:
        """Line keys that are template in each source: in at least ``min_docs`` documents
        (and at least ``min_share`` of the source's documents)."""
        if self._npending:
            self._merge()
        out: dict[str, set[int]] = {}
        for source, (keys, counts, _sums) in self._cols.items():
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
        for (source, key, mechanism), (n, text) in self.removals.items():
            if n < min_removed:  # type: ignore[operator]
                agg = rest.setdefault((source, mechanism), [0, 0])
                agg[0] += 1
                agg[1] += n  # type: ignore[arg-type]
                continue
            rows.append({"source": source, "text": text, "mechanism": mechanism, "removed": n,
                         "documents": self.set_of(source, key)[0]})
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

"""The furniture classifier as it was written in plain Python before its per-line work moved to
the core (issue 18): the oracle the property tests in test_furniture_core.py compare the
core against, line by line and page by page. Not used by cleaner itself."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

from cleaner.clean.normalise import collapse
from cleaner.scripts import UNSEGMENTED as _UNSEGMENTED

#: Languages whose stoplists are tried per document (jusText names).
LANGUAGES = (
    "English", "Russian", "German", "French", "Spanish", "Italian", "Portuguese", "Dutch",
    "Polish", "Croatian", "Czech", "Swedish", "Turkish", "Ukrainian", "Indonesian", "Korean",
)
_WORD = re.compile(r"\w+")
_TERMINAL = re.compile(r"[.!?…:;\"'”’»)。！？」』）]\s*$")


@lru_cache(maxsize=1)
def stoplists() -> dict[str, frozenset[str]]:
    import justext

    return {lang: frozenset(w.lower() for w in justext.get_stoplist(lang)) for lang in LANGUAGES}


@lru_cache(maxsize=1)
def _stopword_languages() -> tuple[tuple[frozenset[str], ...], dict[str, tuple[int, ...]]]:
    """The stoplists in order, and for each stopword the stoplists it is in: one lookup per
    distinct word of a page instead of one set intersection per language (16 of them)."""
    lists = tuple(stoplists().values())
    langs: dict[str, list[int]] = {}
    for n, stops in enumerate(lists):
        for w in stops:
            langs.setdefault(w, []).append(n)
    return lists, {w: tuple(ns) for w, ns in langs.items()}


def prepare() -> None:
    """Build the cached stoplist tables now (see ``CleanSettings.prepare``)."""
    _stopword_languages()


def pick_stoplist(words: Iterable[str]) -> frozenset[str]:
    """The stoplist of the language the words most look like (the first in
    :data:`LANGUAGES` order on a tie; none when no word is a stopword)."""
    lists, langs = _stopword_languages()
    hits = [0] * len(lists)
    counts = Counter(words)
    for w in counts.keys() & langs.keys():  # the page's stopwords, found by a set operation in C
        n = counts[w]
        for lang in langs[w]:
            hits[lang] += n
    best = max(hits, default=0)
    return lists[hits.index(best)] if best > 0 else frozenset()


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
    table_rows: int = 3  # this many rows of figures in a row are a table (content, see _table_rows)
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


_CONTINUES = re.compile(r"[\w,\-–(]$")
# Unsegmented scripts: Han, kana, Thai, Lao, Khmer, Myanmar (Hangul uses spaces).
# Sentence punctuation of those scripts: prose has it, menus and link lists do not.
_CJK_PUNCT = re.compile(r"[，。！？；、：\u0e2f\u0e46]|[\u0e00-\u0eff] [\u0e00-\u0eff]")
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
_NUM_DATE = re.compile(r"\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_DAY = re.compile(r"(?<![\d:.,])\b(?:[12]?\d|3[01])\b(?![:.,]?\d)")
# a field of structured data rendered as text: a bare URL, an ISO timestamp, a bare number
_DATA_FIELD = re.compile(r"^(?:https?://\S+|\d+|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}\S*)?)$")
# the legal vocabulary site footers are built from (see rules/en/metadata.toml, rights-reserved)
_NOTICE = re.compile(r"©|\(c\)\s*\d{4}|\bcopyright\b|\ball rights reserved\b|\btrademarks?\b|\bdisclaimer\b", re.I)
_TRUNCATED = re.compile(r"\w(?:\.\.\.|…)$")  # a headline cut to fit its card
# a closing mark right after a word (or a sentence mark) and before the next word: an
# opening quote after a space ("announcing "Super Mario Run," the ...") is not glue
_GLUE_PUNCT = re.compile(r"(?<=[\w.?!…)\]])[?!”\"’]\S")
_ASCII_GLUE = re.compile(r"[a-z][A-Z]")


def _unsegmented_share(line: str) -> float:
    cjk = len(_UNSEGMENTED.findall(line))
    letters = sum(ch.isalpha() for ch in line) if cjk else 0
    return cjk / letters if letters else 0.0  # "・・・": unsegmented, but no letters


def _words(line: str, tokens: list[str], params: FurnitureParams) -> float:
    """Word count, with unsegmented scripts (CJK, Thai) counted by characters: a Chinese
    paragraph is one or two "tokens" between punctuation marks, so its token count says
    nothing about its length."""
    cjk = len(_UNSEGMENTED.findall(line))
    if not cjk:
        return len(tokens)
    other = sum(1 for t in tokens if not _UNSEGMENTED.search(t))
    return other + cjk / params.cjk_chars_per_word


def blocks(norm: Sequence[str], stops: frozenset[str], params: FurnitureParams = FurnitureParams()) -> list[list[int]]:
    """Group lines into blocks. A raw text scrape of hard-wrapped text (newswire, <pre>)
    breaks sentences across lines; a long line that does not end a sentence and is followed
    by one that starts in lower case continues it. Classifying the joined block, not its
    fragments, keeps wrapped articles from looking like menus. Only long lines join: a
    menu item ending in a stopword ("May", "About us") is not a wrapped sentence, and a
    headline that happens to end in a frequent word ("... in the old town") is shorter
    than a wrap width."""
    out: list[list[int]] = []
    current: list[int] = []
    prev = ""
    width = 0  # the wrap width of the hard-wrapped text being read (0: none)
    long, longest = 0, 0  # the current block's lines as long as a wrap, and the longest of them
    for i, ln in enumerate(norm):
        if not ln:
            continue
        joins = bool(current) and (wraps_into(prev, ln, stops, params)
                                   or continues_wrapped(prev, ln, width, stops, params))
        if not joins and current:
            # a run of wrapped blocks keeps its widest line; a block of one line ends it
            ended = _width_of(long, longest, params)
            width = max(width, ended) if ended else 0
            out.append(current)
            current = []
            long, longest = 0, 0
        current.append(i)
        if len(ln) >= params.wrap_chars:  # counted as the block grows: a long block costs linear time
            long, longest = long + 1, max(longest, len(ln))
        if len(current) > 1:
            width = max(width, _width_of(long, longest, params))
        prev = ln
    if current:
        out.append(current)
    return out


def _wrap_width(norm: Sequence[str], block: list[int], params: FurnitureParams) -> int:
    """The wrap width of a block that is hard-wrapped text (its longest line), or 0: the
    width a neighbouring block's lines are read against. A paragraph is seen to be
    wrapped when at least two of its lines are as long as a wrap, and none is longer
    than ``wrap_max`` (text is wrapped for a terminal or a printed column, at 60 to 80
    characters; longer lines are paragraphs or their sentences, broken by markup). A
    headline joined to a one-word line below it ("... names" / "false") is not."""
    long = [len(norm[i]) for i in block if len(norm[i]) >= params.wrap_chars]
    return _width_of(len(long), max(long, default=0), params)


def _width_of(long: int, longest: int, params: FurnitureParams) -> int:
    """:func:`_wrap_width` from a block's count of lines as long as a wrap and the longest."""
    return longest if long >= 2 and longest <= params.wrap_max else 0


def continues_wrapped(prev: str, line: str, width: int, stops: frozenset[str] = frozenset(),
                      params: FurnitureParams = FurnitureParams()) -> bool:
    """Whether ``line`` continues ``prev`` inside hard-wrapped text whose wrap width is
    ``width`` (0: not in wrapped text; see :func:`blocks`).

    :func:`wraps_into` alone cannot see a wrap before a capital ("... talks with the
    central bank and" / "Finance Ministry officials on the new loans, it said."), nor one
    after a stopword in a line shorter than the widest wraps: a newswire paragraph then
    falls apart into lines of a few words, each classed as a headline or a menu item,
    and a site's blurb or one comment below outweighs the article (issue 15). Inside
    text already seen to be hard-wrapped (the block being read, or the one right before
    it, joined lines), a line that fills most of the width (``wrap_fill``) and breaks off
    after a comma, a hyphen or a function word (which end no sentence and no headline)
    continues into the next line when that line is as long as a wrap too and fits the
    same width: hard-wrapped text never runs past its width, while the page's own blocks
    (a single-line paragraph, a comment, a teaser) do. A short line after it (a
    paragraph's last words, or a label, a heading, a "Learn more" below a paragraph) is
    left to :func:`wraps_into`: it adds little to a paragraph's class, and joined in error
    it carries chrome into the text. Chrome is rendered from HTML blocks and is not
    hard-wrapped, so it neither sets a width nor joins."""
    if not (width > 0 and params.wrap_chars <= min(len(prev), len(line))
            and len(line) <= width * params.wrap_slack):
        return False
    # broken off mid-sentence: after a comma, a hyphen or a function word, which end no
    # sentence and no headline (a headline ends in a noun, as a wrapped line may too)
    if not (prev.endswith((",", "-", "–", "(")) or prev.rsplit(" ", 1)[-1].lower() in stops):
        return False
    # a wrapped line fills its width (up to a paragraph's indent); one that ends with
    # room to spare ends its paragraph: a title, the end of a list item
    return len(prev) >= params.wrap_fill * width


def wraps_into(prev: str, line: str, stops: frozenset[str] = frozenset(),
               params: FurnitureParams = FurnitureParams()) -> bool:
    """Whether ``line`` continues the sentence ``prev`` broke off: hard-wrapped text (see
    :func:`blocks`). ``prev`` is as long as a wrap and does not end a sentence, and ``line``
    starts in lower case, or ``prev`` ends in a comma or (at wrap width) a stopword."""
    return len(prev) >= params.wrap_chars and _CONTINUES.search(prev) is not None and (
        line[:1].islower() or prev.endswith(",")
        or (len(prev) >= params.wrap_width and prev.rsplit(" ", 1)[-1].lower() in stops)
    )


def is_teaser(line: str, params: FurnitureParams = FurnitureParams(), counts: Counter[str] | None = None) -> bool:
    """A headline glued to its summary: the text rendering of a teaser card (a link to
    another article) loses the break between the title and the standfirst, leaving a
    lower-case letter (or ``?!"``) directly followed by a capitalised word, after a few
    title words and before a sentence ("Tape Gaffe Ends Title RunDenny Hamlin's run ...").
    Brand names are written the same way ("YouTube"), but a brand recurs on the page while
    a glued pair of words occurs once: with ``counts`` (token counts of the document),
    only tokens seen once count as glue."""
    head_limit = min(len(line), 200)
    # glue in ASCII text needs a lower-case letter right before a capital: most lines
    # have none, and a search in C rules them out before the loop over tokens
    words = not line.isascii() or _ASCII_GLUE.search(line, 0, head_limit) is not None
    for m in _WORD.finditer(line[:head_limit]) if words else ():
        tok = m.group()
        # glue needs an upper-case letter at position 3 or later followed by a lower-case one
        if len(tok) < 5 or tok[3:].islower() or tok.isupper():
            continue
        if counts is not None and counts[tok] > 1:
            continue
        for j in range(3, len(tok) - 1):
            if tok[j].isupper() and tok[j + 1].islower() and tok[j - 3:j].islower() and tok[j - 3:j].isalpha():
                if _glued_at(line, m.start() + j, params):
                    return True
    for m in _GLUE_PUNCT.finditer(line[:head_limit]):
        nxt = line[m.end() - 1]
        if nxt.isupper() and _glued_at(line, m.end() - 1, params):
            return True
    return False


def _glued_at(line: str, pos: int, params: FurnitureParams) -> bool:
    head, tail = line[:pos], line[pos:]
    head_words = len(head.split())
    return (params.teaser_words <= head_words <= 25 and ". " not in head
            and len(tail.split()) >= 5)


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
    if len(line.split()) > params.byline_words:
        return False
    if _TIME.search(line) or _NUM_DATE.search(line):
        return True
    return bool(_YEAR.search(line)) and bool(_DAY.search(_YEAR.sub(" ", line)))


def classify(lines: Sequence[str], params: FurnitureParams = FurnitureParams()) -> list[str]:
    """Class of each line: ``good`` (prose), ``bad`` (furniture), ``short``, ``blank``.

    Lines are classified by the block they belong to (see :func:`blocks`). Lines mostly
    in unsegmented scripts have no stoplist; they read as prose when they are long and
    carry the script's sentence punctuation (menus and link lists carry none)."""
    return _classify([collapse(ln) for ln in lines], params)[0]


# The private helpers of :func:`furniture` below take the lines collapsed (see
# :func:`cleaner.normalise.collapse`): it collapses each line once, not once per helper.


def _classify(norm: Sequence[str], params: FurnitureParams,
              raw: Sequence[list[str]] | None = None,
              wrapped: list[bool] | None = None) -> tuple[list[str], list[int]]:
    """Classes of the lines, and the size of the block each line belongs to (``raw``: the
    lines' words, when the caller has them). With ``wrapped`` (a list as long as
    ``norm``), also marks the prose lines of hard-wrapped paragraphs (see
    :func:`_wrap_width`)."""
    if raw is None:
        raw = [_WORD.findall(ln) for ln in norm]
    # lowered a line at a time: a token has no space and lower() maps no character to one
    # (nor lets a final sigma see past a space), so this equals lowering token by token
    tokens = [" ".join(ws).lower().split(" ") if ws else [] for ws in raw]
    stops = pick_stoplist(chain.from_iterable(tokens))
    classes = ["blank"] * len(norm)
    sizes = [0] * len(norm)
    for block in blocks(norm, stops, params):
        text = " ".join(norm[i] for i in block)
        ws = [w for i in block for w in tokens[i]]
        n = _words(text, ws, params)
        if _unsegmented_share(text) >= 0.5:
            density = 1.0 if _CJK_PUNCT.search(text) else 0.0
        else:
            density = sum(w in stops for w in ws) / len(ws) if ws else 0.0
        if n >= params.good_words and (density >= params.good_density or not stops) or (
            n >= params.long_words and (density >= params.long_density or _wrapped_sentences(norm, block))
        ):
            cls = "good"
        elif n < params.short_words:
            cls = "short"
        else:
            cls = "bad"
        hard = wrapped is not None and cls == "good" and _wrap_width(norm, block, params) > 0
        for i in block:
            classes[i] = cls
            sizes[i] = len(block)
            if hard:
                wrapped[i] = True  # type: ignore[index]
    for run in _table_rows(norm, classes, params):
        for i in run:  # a table is one block of rows: no row is a lone headline
            classes[i] = "good"
            sizes[i] = len(run)
    return classes, sizes


_SENTENCE_END = re.compile(r"\w[.!?](?:\s|$)")


def _wrapped_sentences(norm: Sequence[str], block: list[int]) -> bool:
    """Whether a block reads as prose by its shape alone: lines hard-wrapped into each other
    (see :func:`blocks`: long lines, each continued by the next) that hold sentences, ending
    in one. The stopword density measures prose in the languages we have a stoplist for; a
    text in another one (Latin filler, a language without a list) has few of their
    stopwords and would read as a menu, and the page would lose its text. No menu, link
    list or footer wraps a sentence over lines."""
    if len(block) < 2:
        return False
    text = " ".join(norm[i] for i in block)
    return _TERMINAL.search(text) is not None and len(_SENTENCE_END.findall(text)) >= 2


_NUMBER = re.compile(r"\S*\d\S*")


def _table_rows(norm: Sequence[str], classes: list[str], params: FurnitureParams) -> list[list[int]]:
    """Lines of a table of figures, a timetable, a calendar or a results list: a run of
    at least ``table_rows`` consecutive non-prose lines, each with a number, holding at
    least ``table_figures`` distinct numbers a line. Such lines are short and poor in
    stopwords, like a menu, but they are the page's data: a menu's labels carry no
    numbers or the same one on every line ("Formula 1 news", "Formula 1 results"),
    an archive list one year, an ad block a price or two. They read as prose."""
    out: list[list[int]] = []
    run: list[int] = []
    for i in [*range(len(norm)), -1]:
        if i >= 0 and not norm[i]:
            continue
        nums = _NUMBER.findall(norm[i]) if i >= 0 and classes[i] != "good" else []
        if nums:
            run.append(i)
            continue
        if len(run) >= params.table_rows:
            distinct = {n for k in run for n in _NUMBER.findall(norm[k])}
            if len(distinct) >= params.table_figures * len(run):
                out.append(run)
        run = []
    return out


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
    norm = list(lines) if collapsed else [collapse(ln) for ln in lines]
    raw = [_WORD.findall(ln) for ln in norm]
    classes, _ = _classify(norm, params, raw)
    best: Block | None = None
    start = end = -1
    words = gap = 0
    for i, cls in enumerate(classes):
        if cls == "blank":
            continue
        dated = is_byline(norm[i], params)
        if cls != "good" or dated:
            gap += 2 if dated else 1
            continue
        if start < 0 or gap > 1:
            start, words = i, 0
        end, gap = i, 0
        words += len(raw[i])
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


_QUOTE_END = re.compile(r"\w[\"'”’»)]\s*$")


def _ends_sentence(line: str) -> bool:
    """Whether a line ends like a sentence. A closing quote or bracket right after a word
    does not: a headline quotes without the full stop ("Actor teases sequel: "Some really
    cool ideas""), while a sentence closes its quote after one (... ideas.")."""
    return _TERMINAL.search(line) is not None and _QUOTE_END.search(line) is None


def _scores(lines: Sequence[str], classes: list[str], idx: list[int], sizes: list[int],
            params: FurnitureParams, raw: Sequence[list[str]]) -> list[float]:
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
    counts = Counter(chain.from_iterable(raw[i] for i in idx))
    dated = [is_byline(lines[i], params) or _ENDS_DATED.search(lines[i]) is not None
             and len(lines[i].split()) <= params.dated_words for i in idx]
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
    for i in idx:
        ln = lines[i]
        words = _words(ln, raw[i], params)
        if classes[i] != "good" or is_teaser(ln, params, counts):
            out.append(-params.region_penalty)
        elif sizes[i] == 1 and words <= params.headline_words and not _ends_sentence(ln):
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


def _comments_start(lines: Sequence[str], classes: list[str], idx: list[int], params: FurnitureParams) -> int:
    """Position in ``idx`` where a comment thread starts, or ``len(idx)``. Comment threads
    repeat one shape: a short dated header that introduces speech ("Ann on 12 May 2019 at
    4:47 pm said:", "Ann schrieb am 12.05.2019:") and then prose. Plain dated lines are not
    enough: blogs and forums list several dated posts that all belong to the page, so only
    headers ending in a colon (reported speech) count, and only when they recur below
    some prose (the article they comment on)."""
    hits = []
    seen_prose = False
    for p, i in enumerate(idx):
        if classes[i] == "good" and not hits:
            seen_prose = seen_prose or len(lines[i].split()) > params.byline_words
        line = lines[i]
        if not (seen_prose and line.endswith(":") and ". " not in line and is_byline(line, params)):
            continue
        if any(classes[idx[q]] == "good" for q in range(p + 1, min(p + 4, len(idx)))):
            hits.append(p)
    return hits[0] if len(hits) >= params.post_bylines else len(idx)


def _thread_start(lines: Sequence[str], idx: list[int], scores: list[float], params: FurnitureParams) -> int:
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
    where: dict[str, list[tuple[int, int]]] = {}  # key -> (gap, position) of each occurrence
    gap = 0
    for p, i in enumerate(idx):
        if scores[p] > 0:
            if p and scores[p - 1] <= 0:
                gap += 1
            continue
        key = _field_key(lines[i])
        if key and not any(ch.isdigit() for ch in key):
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


def _drop_second_copy(lines: Sequence[str], classes: list[str], drop: list[bool], params: FurnitureParams) -> None:
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
    kept = [i for i, c in enumerate(classes) if c != "blank" and not drop[i]]
    seen: set[str] = set()
    repeat = []
    for i in kept:
        line = lines[i]
        repeat.append(line in seen)
        seen.add(line)
    total = sum(len(lines[i].split()) for i in kept)
    need = max(params.copy_words, params.copy_share * total)
    p = 0
    while p < len(kept):
        if not repeat[p]:
            p += 1
            continue
        q = p
        while q < len(kept) and repeat[q]:
            q += 1
        if sum(len(lines[kept[k]].split()) for k in range(p, q)) >= need and _data_block(lines, classes, kept[p],
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


def _is_card(p: int, lines: Sequence[str], scores: list[float], idx: list[int], params: FurnitureParams,
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
    if scores[p - 1] > 0 and not lines[idx[p]].lstrip("\"“‘'«")[:1].isupper():
        return False  # a long line above continues into this one: wrapped text
    head = lines[idx[p - 1]]
    return (len(head.split()) >= params.card_headline_words and not is_byline(head, params)
            and (not _TERMINAL.search(head) or head.endswith("?") or _TRUNCATED.search(head) is not None))


def _announced(lines: Sequence[str], classes: list[str], idx: list[int], params: FurnitureParams) -> list[int]:
    """Positions (in ``idx``) of the items of a list the text announces: the short lines
    after a sentence that ends in a colon ("The following reports are available:"), up
    to the next prose line. The text introduces its own lists this way; a menu, a share
    bar or a footer is never introduced by a sentence (a widget's label, "Share this:",
    "Related:", is shorter than ``announce_words``). They cost nothing in the region and
    do not count in a gap between prose lines, however long the list."""
    out: list[int] = []
    p = 0
    while p < len(idx):
        line = lines[idx[p]]
        p += 1
        if not (line.endswith(":") and len(line.split()) >= params.announce_words):
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


def _card_scores(scores: list[float], lines: Sequence[str], idx: list[int], params: FurnitureParams) -> list[float]:
    """Region scores with card lists costing what they weigh. A list of article cards
    below the text (related, more from the section, deals) is a run of short prose lines
    that would otherwise pull the main region down the page; each summary in a run of at
    least ``min_cards`` cards counts its words against the region, and its headline costs
    like furniture. Only on a page with a body (adjacent paragraphs outweighing two card
    summaries): a page that is itself a list of entries (a catalogue, a digest) has none,
    and its entries are its text."""
    out = list(scores)
    prose = [p for p in range(len(idx)) if scores[p] > 0]
    cards = {p for p in prose if _is_card(p, lines, scores, idx, params, params.card_words)}
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


def _trim_cards(good: list[int], lines: Sequence[str], scores: list[float], idx: list[int],
                params: FurnitureParams) -> list[int]:
    """The region's prose lines without a list of article cards (see :func:`_is_card`)
    at either end, such as a slider above the article. An article body has paragraphs
    next to each other, so a run of at least ``min_cards`` cards at an end of the region,
    with the body still beside it, is cut off."""
    pos = {i: p for p, i in enumerate(idx)}
    prose = [i for i in good if scores[pos[i]] > 0]
    cards = {i for i in prose if _is_card(pos[i], lines, scores, idx, params)}
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
    calendar, a results list) read as prose (see :func:`_table_rows`); the items of a
    list the text announces with a colon cost nothing and stay (see :func:`_announced`);
    and on a page of entries (a forum thread, a listing, a table with a sentence per row:
    no body of adjacent paragraphs, or a region holding under ``entries_share`` of the
    prose) the short fields between entries cost one furniture line per gap, so the
    region spans the entries instead of keeping one (see :func:`_record_scores`).
    ``collapsed``: the caller passes lines already collapsed (the rules' output is).
    """
    lines = list(lines) if collapsed else [collapse(ln) for ln in lines]
    raw = [_WORD.findall(ln) for ln in lines]
    wrapped = [False] * len(lines)
    classes, sizes = _classify(lines, params, raw, wrapped)
    idx = [i for i, c in enumerate(classes) if c != "blank"]
    if not any(classes[i] == "good" for i in idx):
        return [False] * len(lines)  # nothing reads as prose: not our call, keep it all
    scores = _scores(lines, classes, idx, sizes, params, raw)
    listed = _announced(lines, classes, idx, params)
    for p in listed:
        scores[p] = 0.0
    listed_lines = {idx[p] for p in listed}
    stop = min(_comments_start(lines, classes, idx, params), _footer_start(lines, classes, idx, params))
    card_scores = _card_scores(scores, lines, idx, params)
    region_scores = card_scores[:stop]
    lo, hi = _main_region(region_scores)
    thread = _thread_start(lines, idx, scores, params)
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
    region = sorted(idx[lo:hi + 1] + _rival_region(lines, raw, idx, chosen, lo, hi, params))
    good = _trim_cards([i for i in region if classes[i] == "good"], lines, scores, idx, params)
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
        if len(line.split()) > 30 or line.endswith(":") or (n and classes[k] == "short"):
            break
        drop[k] = False
    _drop_second_copy(lines, classes, drop, params)
    _keep_records(lines, classes, drop, params)
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
    text (issue 15). A run is wrapped paragraphs (see :func:`_wrap_width`) with at most
    ``max_gap`` other lines between them (a one-line paragraph, a subheading)."""
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


_ENDS_DATED = re.compile(r"\b(?:19|20)\d{2}\W*$")  # an entry of a dated list: "Title, May 31, 2019"
_TITLE_PARTS = re.compile(r"\s[|–—»·-]\s|\s::\s")


def _rival_region(lines: Sequence[str], raw: Sequence[list[str]], idx: list[int], scores: list[float],
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
    title = {w.lower() for w in _WORD.findall(head) if len(w) > 3 and not w.isdigit()}
    if not title:
        return []

    def hits(a: int, b: int) -> int:
        # words of its prose lines: a "most read" list repeats the page's own headline
        return len(title & {w.lower() for p in range(a, b + 1) if p > 0 and scores[p] > 0 for w in raw[idx[p]]})

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


def _keep_records(lines: Sequence[str], classes: list[str], drop: list[bool], params: FurnitureParams) -> None:
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
    filled = [i for i, c in enumerate(classes) if c != "blank"]
    size = {i: _words(lines[i], lines[i].split(), params) for i in filled}
    total = sum(size.values())
    kept = sum(size[i] for i in filled if not drop[i])
    if total < params.sparse_words:
        return
    where: dict[str, list[int]] = {}  # field lines that do not read as prose
    steps: dict[str, list[int]] = {}  # and all, for fields in step (a post's header may)
    for p, i in enumerate(filled):
        field = _field_key(lines[i])
        if not field:
            continue
        steps.setdefault(field, []).append(p)
        if classes[i] != "good":
            where.setdefault(field, []).append(p)
    blocks = [at for every in where.values() for at in _clusters(every, _record_gap(every, params))
              if len(at) >= params.record_repeats and at[-1] - at[0] < params.record_lines * (len(at) - 1)]
    runs = [at for every in steps.values() for at in _clusters(every, _record_gap(every, params))
            if len(at) >= params.record_entries]
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


_FIELD_LABEL = re.compile(r"^(\w[\w .'-]{0,30}?):\s*\S")


def _field_key(line: str) -> str:
    """What a record's field line has in common with the same field of the other records:
    its label for a "Label: value" line, else the whole line when it is short (a field, not
    a sentence), in lower case; "" for a longer line."""
    m = _FIELD_LABEL.match(line)
    if m:
        return m.group(1).lower() + ":"
    return line.lower() if len(line.split()) <= 8 else ""



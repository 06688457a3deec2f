"""Passages: the units of near-duplicate detection below the document.

A cleaned document is one paragraph per line with a blank line between paragraphs (the
writer's format), so a passage is a paragraph, addressed by its line numbers in the clean
file. A very long paragraph is cut into overlapping word windows, because one copied
sentence inside a 2,000-word paragraph would not move that paragraph's Jaccard at all.

The work is done by the native core (``native/src/passages.rs``), one call per document with
the GIL released: split per word and per line in Python, it cost dedup about 0.45 s of CPU per
MB of clean text. What each function decides, and why, is documented here; the core follows
the Python these functions were (kept as the oracle of ``tests/test_passages_native.py``)
character for character, reading the interpreter's own ``str.isspace``, ``islower``,
``isupper``, ``isdigit`` and ``casefold`` from :func:`char_table`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .minhash import _native


@dataclass(frozen=True)
class Passage:
    index: int  # position in the document
    line_start: int  # 1-based line numbers in the clean file
    line_end: int
    text: str
    words: int = 0  # len(text.split())


WRAP_MIN_CHARS = 30  # a hard-wrapped line is at least this long (wrap widths are 60-80)
WRAP_SLACK = 8
WRAP_FULL = 0.85

#: Code points the table covers: no character at or above it is whitespace, cased, a digit
#: or changed by casefold in any Unicode version so far (the highest, U+1FBF9, is a digit);
#: tests/test_passages_native.py checks it against the running interpreter.
TABLE_LIMIT = 0x20000
_SPACE, _LOWER, _UPPER, _DIGIT, _FOLDS = 1, 2, 4, 8, 16


@lru_cache(maxsize=1)
def char_table() -> _native.CharTable:
    """The interpreter's ``str.isspace``, ``islower``, ``isupper``, ``isdigit`` of every code
    point below :data:`TABLE_LIMIT`, and ``str.casefold`` of those it changes, for the core.
    Built once per process (a few tens of ms: one C-level ``map`` per predicate); from the
    interpreter rather than Rust's tables, so that a passage boundary or a line key cannot
    depend on which Unicode version assigned a character."""
    cps = np.arange(TABLE_LIMIT, dtype=np.uint32)
    cps[(cps >= 0xD800) & (cps < 0xE000)] = 0x20  # lone surrogates cannot be decoded
    chars = cps.tobytes().decode("utf-32-le")
    flags = np.zeros(TABLE_LIMIT, dtype=np.uint8)
    for bit, test in ((_SPACE, str.isspace), (_LOWER, str.islower), (_UPPER, str.isupper), (_DIGIT, str.isdigit)):
        flags |= np.frombuffer(bytes(map(test, chars)), dtype=np.uint8) * np.uint8(bit)
    flags[0xD800:0xE000] = 0
    folds = [(i, f) for i, (c, f) in enumerate(zip(chars, map(str.casefold, chars), strict=True))
             if f != c and not 0xD800 <= i < 0xE000]
    keys = np.array([i for i, _ in folds], dtype="<u4")
    flags[keys] |= _FOLDS
    pool = [ord(ch) for _, f in folds for ch in f]
    starts = np.cumsum([0, *(len(f) for _, f in folds)]).astype("<u4")
    return _native.CharTable(flags.tobytes(), keys.tobytes(), starts.tobytes(), np.array(pool, dtype="<u4").tobytes())


def paragraphs(text: str) -> list[tuple[int, int, str]]:
    """The paragraphs of a clean text as ``(line_start, line_end, text)``: a line, or the
    hard-wrapped lines of one paragraph joined by spaces. Line numbers are 1-based lines of
    the clean file, as duplicates.json gives them; blank lines belong to no paragraph.

    A line continues the one above (``prev``) when ``prev`` is a hard-wrapped line (a
    paragraph broken at a fixed width, as plain-text news and mail archives are, one line to
    a paragraph in the clean file) rather than a paragraph of its own. A wrapped line is long
    (at least :data:`WRAP_MIN_CHARS` characters: the width, less a word); the next line's
    first word did not fit after it, so the next line is no longer than the two together
    (give or take :data:`WRAP_SLACK` characters: wrappers count indents and spaces
    differently); and it was broken between two words of a sentence: it does not end one
    (. ! ? … : ; perhaps inside quotes or brackets), and it ends in a lowercase word, a digit
    or a comma-like mark (, - – — ( / &), or the next line starts lowercase or with a digit.
    A headline (capitals, or followed by a longer paragraph), a subtitle above a longer
    lead, or a menu item (short) is not joined to what follows. Inside a wrapped block a
    line that ends a sentence continues too when it is as long as the block's lines
    (:data:`WRAP_FULL` of the longest so far): a paragraph's last line is most often short,
    and one that fills the width was wrapped like the others.

    Why join: a copied paragraph wrapped at another width, or one of whose lines is a
    stock phrase ("the company said."), would otherwise match line by line, and cutting
    such a line cuts a sentence in two."""
    return _native.paragraphs_of(char_table(), text)


def split(text: str, window: int = 200, overlap: int = 50) -> list[Passage]:
    """Paragraphs of a clean text (:func:`paragraphs`), long ones as windows of ``window``
    words overlapping by ``overlap`` (see :func:`window_starts`), joined by single spaces."""
    return [Passage(i, start, end, t, n)
            for i, (start, end, t, n) in enumerate(_native.split_passages(char_table(), text, window, overlap))]


def window_starts(words: int, window: int = 200, overlap: int = 50) -> range:
    """First word of each window of a paragraph of ``words`` words (longer than ``window``)."""
    return range(0, words - overlap, window - overlap)


def passage_text(paragraph: str, number: int, window: int = 200, overlap: int = 50) -> str:
    """The text :func:`split` gives the passage numbered ``number`` (0 for a paragraph that
    is one passage) of ``paragraph``, without splitting the rest of the document."""
    return _native.passage_text_of(char_table(), paragraph, number, window, overlap)


def sentences(words: list[str]) -> list[tuple[int, int]]:
    """Sentences of a paragraph's words (``str.split()``'s), as ``(first, end)`` word ranges
    covering them all.

    A sentence ends at a word ending in . ! ? … (perhaps inside quotes) when the next word
    starts with a capital, a digit or an opening quote. Not at an initial ("J. Howard"),
    an initialism ("U.S. officials" reads on), or a title ("Dr. Smith"): a boundary missed
    makes a cut keep or take a longer run of whole sentences, never half of one."""
    return _native.sentences_of(char_table(), words)


def cut_windows(paragraph: str, windows: Iterable[int], window: int = 200, overlap: int = 50) -> str:
    """``paragraph`` without its windows numbered ``windows`` (as :func:`split` numbers them,
    from 0), or "" when nothing is left. A paragraph of at most ``window`` words is one
    passage, so it goes whole.

    Why not drop the whole paragraph: one copied window of a long paragraph (a quoted
    statement inside a longer report) would take the paragraph's other, original words
    with it. Why whole sentences (:func:`sentences`): a window starts and ends at a word
    count, anywhere in a sentence, and a cut there leaves half a sentence ("…under a complex
    formula,"). So a sentence goes when at least half its words are in the copied windows,
    else it stays whole."""
    return _native.cut_passage_windows(char_table(), paragraph, sorted(windows), window, overlap)


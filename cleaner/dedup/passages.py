"""Passages: the units of near-duplicate detection below the document.

A cleaned document is one paragraph per line with a blank line between paragraphs (the
writer's format), so a passage is a paragraph, addressed by its line numbers in the clean
file. A very long paragraph is cut into overlapping word windows, because one copied
sentence inside a 2,000-word paragraph would not move that paragraph's Jaccard at all.

The work is done by the native core (``native/src/passages.rs``), one call per document with
the GIL released: split per word and per line in Python, it cost dedup about 0.45 s of CPU per
MB of clean text. What each function decides, and why, is documented here; the core follows
the Python these functions were (kept as the oracle of ``tests/test_passages_native.py``)
character for character, with the interpreter's own ``str.isspace``, ``islower``,
``isupper``, ``isdigit`` and ``casefold`` (the core's Unicode table, ``cleaner/unicode.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..native import core as _native


@dataclass(frozen=True)
class Passage:
    index: int  # position in the document
    line_start: int  # 1-based line numbers in the clean file
    line_end: int
    text: str
    words: int = 0  # len(text.split())


OVERLAP = 50  # words two consecutive windows of a long paragraph share
WRAP_MIN_CHARS = 30  # a hard-wrapped line is at least this long (wrap widths are 60-80)
WRAP_SLACK = 8
WRAP_FULL = 0.85

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
    return _native.paragraphs_of(text)


def split(text: str, window: int = 200, overlap: int = OVERLAP) -> list[Passage]:
    """Paragraphs of a clean text (:func:`paragraphs`), long ones as windows of ``window``
    words overlapping by ``overlap`` (see :func:`window_starts`), joined by single spaces."""
    return [Passage(i, start, end, t, n)
            for i, (start, end, t, n) in enumerate(_native.split_passages(text, window, overlap))]


def window_starts(words: int, window: int = 200, overlap: int = OVERLAP) -> range:
    """First word of each window of a paragraph of ``words`` words (longer than ``window``)."""
    return range(0, words - overlap, window - overlap)


def passage_text(paragraph: str, number: int, window: int = 200, overlap: int = OVERLAP) -> str:
    """The text :func:`split` gives the passage numbered ``number`` (0 for a paragraph that
    is one passage) of ``paragraph``, without splitting the rest of the document."""
    return _native.passage_text_of(paragraph, number, window, overlap)


def sentences(words: list[str]) -> list[tuple[int, int]]:
    """Sentences of a paragraph's words (``str.split()``'s), as ``(first, end)`` word ranges
    covering them all.

    A sentence ends at a word ending in . ! ? … (perhaps inside quotes) when the next word
    starts with a capital, a digit or an opening quote. Not at an initial ("J. Howard"),
    an initialism ("U.S. officials" reads on), or a title ("Dr. Smith"): a boundary missed
    makes a cut keep or take a longer run of whole sentences, never half of one."""
    return _native.sentences_of(words)


def cut_windows(paragraph: str, windows: Iterable[int], window: int = 200, overlap: int = OVERLAP) -> str:
    """``paragraph`` without its windows numbered ``windows`` (as :func:`split` numbers them,
    from 0), or "" when nothing is left. A paragraph of at most ``window`` words is one
    passage, so it goes whole.

    Why not drop the whole paragraph: one copied window of a long paragraph (a quoted
    statement inside a longer report) would take the paragraph's other, original words
    with it. Why whole sentences (:func:`sentences`): a window starts and ends at a word
    count, anywhere in a sentence, and a cut there leaves half a sentence ("…under a complex
    formula,"). So a sentence goes when at least half its words are in the copied windows,
    else it stays whole."""
    return _native.cut_passage_windows(paragraph, sorted(windows), window, overlap)


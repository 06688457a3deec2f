"""Passages: the units of near-duplicate detection below the document.

A cleaned document is one paragraph per line with a blank line between paragraphs (the
writer's format), so a passage is a paragraph, addressed by its line numbers in the clean
file. A very long paragraph is cut into overlapping word windows, because one copied
sentence inside a 2,000-word paragraph would not move that paragraph's Jaccard at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Passage:
    index: int  # position in the document
    line_start: int  # 1-based line numbers in the clean file
    line_end: int
    text: str


# A line ends a sentence with a full stop, ? ! … (or : ;), perhaps inside quotes or brackets.
_ENDS_SENTENCE = re.compile(r"""[.!?…:;]["'”’»)\]]*$""")
WRAP_MIN_CHARS = 30  # a hard-wrapped line is at least this long (wrap widths are 60-80)
WRAP_SLACK = 8
WRAP_FULL = 0.85


def continues(prev: str, line: str, width: int = 0) -> bool:
    """Whether ``line`` continues the sentence ``prev`` broke off: ``prev`` is a hard-wrapped
    line (a paragraph broken at a fixed width, as plain-text news and mail archives are,
    one line to a paragraph in the clean file) rather than a paragraph of its own.

    A wrapped line is long (the width, less a word); the next line's first word did not
    fit after it, so the next line is no longer than the two together (give or take
    :data:`WRAP_SLACK` characters: wrappers count indents and spaces differently); and it
    was broken between two words of a sentence: it does not end one, and it ends in a
    lowercase word, a digit or a comma-like mark, or the next line starts lowercase. A
    headline (capitals, or followed by a longer paragraph), a subtitle above a longer lead,
    or a menu item (short) is not joined to what follows.

    Inside a wrapped block (``width``: its longest line so far, 0 at a block's first line)
    a line that ends a sentence continues too when it is as long as the block's lines
    (:data:`WRAP_FULL` of ``width``): a paragraph's last line is most often short, and one
    that fills the width was wrapped like the others."""
    if len(prev) < WRAP_MIN_CHARS:
        return False
    first_word = line.split(" ", 1)[0]
    if len(line) > len(prev) + 1 + len(first_word) + WRAP_SLACK:
        return False
    if _ENDS_SENTENCE.search(prev):
        return bool(width) and len(prev) >= WRAP_FULL * width and len(line) <= width + WRAP_SLACK
    last, first = prev[-1], line[:1]
    return first.islower() or first.isdigit() or last in ",-–—(/&" or last.islower() or last.isdigit()


def paragraphs(text: str) -> list[tuple[int, int, str]]:
    """The paragraphs of a clean text as ``(line_start, line_end, text)``: a line, or the
    hard-wrapped lines of one paragraph (see :func:`continues`) joined by spaces. Line
    numbers are 1-based lines of the clean file, as duplicates.json gives them.

    Why join: a copied paragraph wrapped at another width, or one of whose lines is a
    stock phrase ("the company said."), would otherwise match line by line, and cutting
    such a line cuts a sentence in two."""
    out: list[tuple[int, int, str]] = []
    prev = ""
    width = 0  # the longest line of the current block, once it has two lines
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if out and continues(prev, line, width):
            start, _, joined = out[-1]
            out[-1] = (start, lineno, joined + " " + line)
            width = max(width, len(prev), len(line))
        else:
            out.append((lineno, lineno, line))
            width = 0
        prev = line
    return out


def split(text: str, window: int = 200, overlap: int = 50) -> list[Passage]:
    """Paragraphs of a clean text (:func:`paragraphs`), long ones as windows of ``window`` words."""
    out: list[Passage] = []
    for start, end, para in paragraphs(text):
        words = para.split()
        if len(words) <= window:
            out.append(Passage(len(out), start, end, para))
            continue
        for first in window_starts(len(words), window, overlap):
            out.append(Passage(len(out), start, end, " ".join(words[first:first + window])))
    return out


def window_starts(words: int, window: int = 200, overlap: int = 50) -> range:
    """First word of each window of a paragraph of ``words`` words (longer than ``window``)."""
    return range(0, words - overlap, window - overlap)


def passage_text(paragraph: str, number: int, window: int = 200, overlap: int = 50) -> str:
    """The text :func:`split` gives the passage numbered ``number`` (0 for a paragraph that
    is one passage) of ``paragraph``, without splitting the rest of the document."""
    words = paragraph.split()
    if len(words) <= window:
        return paragraph
    start = window_starts(len(words), window, overlap)[number]
    return " ".join(words[start:start + window])


_WORD_ENDS_SENTENCE = re.compile(r"""[^.]{2,}[.!?…]["'”’»)\]]*$|[!?…]["'”’»)\]]*$""")
_TITLES = frozenset("mr mrs ms dr prof st mt gen sen rep gov lt col sgt capt jr sr vs no".split())


def sentences(words: list[str]) -> list[tuple[int, int]]:
    """Sentences of a paragraph's words, as ``(first, end)`` word ranges covering them all.

    A sentence ends at a word ending in . ! ? … (perhaps inside quotes) when the next word
    starts with a capital, a digit or an opening quote. Not at an initial ("J. Howard"),
    an initialism ("U.S. officials" reads on), or a title ("Dr. Smith"): a boundary missed
    makes a cut keep or take a longer run of whole sentences, never half of one."""
    out = []
    start = 0
    for i, word in enumerate(words[:-1]):
        nxt = words[i + 1].lstrip("\"'“‘«([")
        if not _WORD_ENDS_SENTENCE.search(word) or not nxt or not (nxt[0].isupper() or nxt[0].isdigit()):
            continue
        core = word.rstrip("\"'”’»)]").rstrip(".!?…").lower()
        if core in _TITLES or "." in core:
            continue
        out.append((start, i + 1))
        start = i + 1
    if words:
        out.append((start, len(words)))
    return out


def cut_windows(paragraph: str, windows: set[int], window: int = 200, overlap: int = 50) -> str:
    """``paragraph`` without its windows numbered ``windows`` (as :func:`split` numbers them,
    from 0), or "" when nothing is left. A paragraph of at most ``window`` words is one
    passage, so it goes whole.

    Why not drop the whole paragraph: one copied window of a long paragraph (a quoted
    statement inside a longer report) would take the paragraph's other, original words
    with it. Why whole sentences: a window starts and ends at a word count, anywhere in a
    sentence, and a cut there leaves half a sentence ("…under a complex formula,"). So a
    sentence goes when at least half its words are in the copied windows, else it stays
    whole."""
    words = paragraph.split()
    if len(words) <= window:
        return ""
    starts = window_starts(len(words), window, overlap)
    gone = [False] * len(words)
    for w in windows:
        start = starts[w]
        gone[start:start + window] = [True] * len(words[start:start + window])
    kept: list[str] = []
    for first, end in sentences(words):
        if 2 * sum(gone[first:end]) < end - first:
            kept.extend(words[first:end])
    return " ".join(kept)

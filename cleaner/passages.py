"""Passages: the units of near-duplicate detection below the document.

A cleaned document is one paragraph per line with a blank line between paragraphs (the
writer's format), so a passage is a paragraph, addressed by its line numbers in the clean
file. A very long paragraph is cut into overlapping word windows, because one copied
sentence inside a 2,000-word paragraph would not move that paragraph's Jaccard at all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Passage:
    index: int  # position in the document
    line_start: int  # 1-based line numbers in the clean file
    line_end: int
    text: str


def split(text: str, window: int = 200, overlap: int = 50) -> list[Passage]:
    """Paragraphs of a clean text, long ones as windows of ``window`` words."""
    out: list[Passage] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        words = line.split()
        if len(words) <= window:
            out.append(Passage(len(out), lineno, lineno, line))
            continue
        for start in window_starts(len(words), window, overlap):
            out.append(Passage(len(out), lineno, lineno, " ".join(words[start:start + window])))
    return out


def window_starts(words: int, window: int = 200, overlap: int = 50) -> range:
    """First word of each window of a paragraph of ``words`` words (longer than ``window``)."""
    return range(0, words - overlap, window - overlap)


def passage_text(line: str, number: int, window: int = 200, overlap: int = 50) -> str:
    """The text :func:`split` gives the passage numbered ``number`` (0 for a paragraph that
    is one passage) of the paragraph ``line``, without splitting the rest of the document."""
    words = line.split()
    if len(words) <= window:
        return line
    start = window_starts(len(words), window, overlap)[number]
    return " ".join(words[start:start + window])


def cut_windows(line: str, windows: set[int], window: int = 200, overlap: int = 50) -> str:
    """The paragraph ``line`` without the words of its windows numbered ``windows`` (as
    :func:`split` numbers them, from 0), or "" when nothing is left. A paragraph of at most
    ``window`` words is one passage, so it goes whole.

    Why not drop the whole line: one copied window of a long paragraph (a quoted statement
    inside a longer report) would take the paragraph's other, original words with it."""
    words = line.split()
    if len(words) <= window:
        return ""
    starts = window_starts(len(words), window, overlap)
    gone = [False] * len(words)
    for w in windows:
        start = starts[w]
        gone[start:start + window] = [True] * len(words[start:start + window])
    return " ".join(word for word, g in zip(words, gone, strict=True) if not g)

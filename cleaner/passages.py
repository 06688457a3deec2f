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
        step = window - overlap
        for start in range(0, len(words) - overlap, step):
            out.append(Passage(len(out), lineno, lineno, " ".join(words[start:start + window])))
    return out

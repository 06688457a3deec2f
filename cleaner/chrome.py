"""Statistical chrome: what no rule names but the shape of a page gives away.

Two signals, both measured rather than listed:

* **Page furniture inside one document.** A raw text scrape renders every block of a page
  on its own line: menus, bylines, share bars and footers come out as runs of short lines
  with few function words, while the article is long lines of prose dense in stopwords.
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
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .normalise import collapse

#: Languages whose stoplists are tried per document (jusText names).
LANGUAGES = (
    "English", "Russian", "German", "French", "Spanish", "Italian", "Portuguese", "Dutch",
    "Polish", "Croatian", "Czech", "Swedish", "Turkish", "Ukrainian", "Indonesian",
)
_WORD = re.compile(r"\w+")
_TERMINAL = re.compile(r"[.!?…:;\"'”’»)]\s*$")


@lru_cache(maxsize=1)
def stoplists() -> dict[str, frozenset[str]]:
    import justext

    return {lang: frozenset(w.lower() for w in justext.get_stoplist(lang)) for lang in LANGUAGES}


def pick_stoplist(words: Iterable[str]) -> frozenset[str]:
    """The stoplist of the language the words most look like."""
    bag = Counter(words)
    best, best_hits = frozenset(), 0
    for stops in stoplists().values():
        hits = sum(c for w, c in bag.items() if w in stops)
        if hits > best_hits:
            best, best_hits = stops, hits
    return best


@dataclass(frozen=True)
class FurnitureParams:
    """Thresholds of the line classifier (tuned on held-out dev pages, see bench/)."""

    good_words: int = 10  # a prose line has at least this many words ...
    good_density: float = 0.25  # ... and at least this share of stopwords
    long_words: int = 30  # a line this long is prose at a lower density
    long_density: float = 0.12
    short_words: int = 4  # below this a line is "short": it follows its neighbours
    max_gap: int = 3  # short lines between prose are kept if the run is at most this long


def classify(lines: Sequence[str], params: FurnitureParams = FurnitureParams()) -> list[str]:
    """Class of each line: ``good`` (prose), ``bad`` (furniture), ``short``, ``blank``."""
    norm = [collapse(ln) for ln in lines]
    tokens = [[w.lower() for w in _WORD.findall(ln)] for ln in norm]
    stops = pick_stoplist(w for ws in tokens for w in ws)
    classes = []
    for ln, ws in zip(norm, tokens, strict=True):
        n = len(ws)
        if not ln:
            classes.append("blank")
            continue
        density = sum(w in stops for w in ws) / n if n else 0.0
        if (n >= params.good_words and density >= params.good_density) or (
            n >= params.long_words and density >= params.long_density
        ):
            classes.append("good")
        elif n < params.short_words:
            classes.append("short")
        else:
            classes.append("bad")
    return classes


def furniture(lines: Sequence[str], params: FurnitureParams = FurnitureParams()) -> list[bool]:
    """True for each line that is page furniture rather than the document's text.

    Keeps prose lines, and the short lines (headings, datelines) in the gaps between prose;
    drops everything above the first prose line and below the last, and long runs of
    non-prose lines in between (menus, related lists, share bars).
    """
    classes = classify(lines, params)
    good = [i for i, c in enumerate(classes) if c == "good"]
    if not good:
        return [False] * len(lines)  # nothing reads as prose: not our call, keep it all
    drop = [c != "blank" for c in classes]
    for i in good:
        drop[i] = False
    for a, b in zip(good, good[1:], strict=False):
        between = [k for k in range(a + 1, b) if classes[k] != "blank"]
        if len(between) <= params.max_gap:
            for k in between:
                drop[k] = False
    return drop


# --------------------------------------------------------------------------- templates


def line_key(line: str) -> str:
    """The identity of a line for template statistics: case and spacing folded."""
    return hashlib.blake2b(collapse(line).casefold().encode(), digest_size=8).hexdigest()


class TemplateStats:
    """Counts, per source, in how many documents each line occurs (first pass)."""

    def __init__(self) -> None:
        self.docs: Counter[str] = Counter()
        self.lines: dict[str, Counter[str]] = {}
        self.samples: dict[tuple[str, str], str] = {}

    def add(self, source: str, lines: Iterable[str]) -> None:
        self.docs[source] += 1
        counter = self.lines.setdefault(source, Counter())
        seen = set()
        for ln in lines:
            c = collapse(ln)
            if not c:
                continue
            key = line_key(c)
            if key not in seen:
                seen.add(key)
                counter[key] += 1
                self.samples.setdefault((source, key), c)

    def templates(self, min_docs: int, min_share: float = 0.0) -> dict[str, set[str]]:
        """Line keys that are template in each source: in at least ``min_docs`` documents
        (and at least ``min_share`` of the source's documents)."""
        out: dict[str, set[str]] = {}
        for source, counter in self.lines.items():
            need = max(min_docs, int(min_share * self.docs[source] + 0.999))
            keys = {k for k, c in counter.items() if c >= need}
            if keys:
                out[source] = keys
        return out

    def report(self, min_docs: int) -> list[dict[str, object]]:
        rows = []
        for source, keys in sorted(self.templates(min_docs).items()):
            for key in keys:
                rows.append({"source": source, "text": self.samples[(source, key)],
                             "documents": self.lines[source][key]})
        rows.sort(key=lambda r: (-int(r["documents"]), str(r["source"]), str(r["text"])))
        return rows

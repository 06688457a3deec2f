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
    """Thresholds of the block classifier (measured on dev pages, see bench/boiler_eval.py)."""

    good_words: int = 10  # a prose block has at least this many words ...
    good_density: float = 0.25  # ... and at least this share of stopwords
    long_words: int = 30  # a block this long is prose at a lower density
    long_density: float = 0.12
    short_words: int = 4  # below this a block is "short": it follows its neighbours
    max_gap: int = 3  # short blocks between prose are kept if the run is at most this long
    region_penalty: float = 6.0  # cost of a furniture block inside the main region, in words
    cjk_chars_per_word: float = 1.7  # unsegmented scripts: characters that count as one word
    title_lines: int = 2  # lines kept right above the first prose line (headline, standfirst)


_CONTINUES = re.compile(r"[\w,\-–(]$")


def _words(line: str, tokens: list[str], params: FurnitureParams) -> float:
    """Word count, with unsegmented scripts (CJK, Thai) counted by characters."""
    n = len(tokens)
    if n and len(line) > 2 * n * 6:  # long "words": text written without spaces
        return len(line.replace(" ", "")) / params.cjk_chars_per_word
    return n


def blocks(norm: Sequence[str], stops: frozenset[str]) -> list[list[int]]:
    """Group lines into blocks. A raw text scrape of hard-wrapped text (newswire, <pre>)
    breaks sentences across lines; a line that does not end a sentence and is followed by
    one that starts in lower case continues it. Classifying the joined block, not its
    fragments, keeps wrapped articles from looking like menus."""
    out: list[list[int]] = []
    current: list[int] = []
    prev = ""
    for i, ln in enumerate(norm):
        if not ln:
            continue
        joins = bool(current) and _CONTINUES.search(prev) is not None and (
            ln[:1].islower() or prev.rsplit(" ", 1)[-1].lower() in stops or prev.endswith(",")
        )
        if not joins and current:
            out.append(current)
            current = []
        current.append(i)
        prev = ln
    if current:
        out.append(current)
    return out


def classify(lines: Sequence[str], params: FurnitureParams = FurnitureParams()) -> list[str]:
    """Class of each line: ``good`` (prose), ``bad`` (furniture), ``short``, ``blank``.

    Lines are classified by the block they belong to (see :func:`blocks`)."""
    norm = [collapse(ln) for ln in lines]
    tokens = [[w.lower() for w in _WORD.findall(ln)] for ln in norm]
    stops = pick_stoplist(w for ws in tokens for w in ws)
    classes = ["blank"] * len(norm)
    for block in blocks(norm, stops):
        ws = [w for i in block for w in tokens[i]]
        n = _words(" ".join(norm[i] for i in block), ws, params)
        density = sum(w in stops for w in ws) / len(ws) if ws else 0.0
        if n >= params.good_words and (density >= params.good_density or not stops) or (
            n >= params.long_words and density >= params.long_density
        ):
            cls = "good"
        elif n < params.short_words:
            cls = "short"
        else:
            cls = "bad"
        for i in block:
            classes[i] = cls
    return classes


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


def furniture(lines: Sequence[str], params: FurnitureParams = FurnitureParams()) -> list[bool]:
    """True for each line that is page furniture rather than the document's text.

    Keeps prose lines inside the main region of the page, and the short lines (headings,
    datelines) in the gaps between prose; drops everything outside the region (menus above,
    teasers, comment threads and footers below) and long runs of non-prose lines inside it.
    """
    classes = classify(lines, params)
    idx = [i for i, c in enumerate(classes) if c != "blank"]
    if not any(classes[i] == "good" for i in idx):
        return [False] * len(lines)  # nothing reads as prose: not our call, keep it all
    norm = [collapse(lines[i]) for i in idx]
    scores = [len(ln.split()) if classes[i] == "good" else -params.region_penalty for i, ln in zip(idx, norm)]
    lo, hi = _main_region(scores)
    region = set(idx[lo:hi + 1])
    good = [i for i in idx if classes[i] == "good" and i in region]
    drop = [c != "blank" for c in classes]
    for i in good:
        drop[i] = False
    for a, b in zip(good, good[1:], strict=False):
        between = [k for k in range(a + 1, b) if classes[k] != "blank"]
        if len(between) <= params.max_gap:
            for k in between:
                drop[k] = False
    # The title and standfirst sit right above the body: short lines with no closing
    # colon (a colon announces a list, not a title), within two lines of the first prose.
    above = [k for k in range(good[0] - 1, -1, -1) if classes[k] != "blank"][: params.title_lines]
    for k in above:
        line = collapse(lines[k])
        if len(line.split()) > 30 or line.endswith(":"):
            break
        drop[k] = False
    return drop


# --------------------------------------------------------------------------- templates


def line_key(line: str) -> str:
    """The identity of a line for template statistics: case and spacing folded."""
    return hashlib.blake2b(collapse(line).casefold().encode(), digest_size=8).hexdigest()


class TemplateStats:
    """Counts, per source, in how many documents each line occurs (first pass).

    Besides the count, each line keeps an order-independent fingerprint of the *set* of
    documents it occurs in (a sum of hashed document numbers). Lines of one page template
    occur in exactly the same documents as that template's header (the menu above the
    article), so a kept line whose document set equals the set of a header line of the same
    document is wrapper, not content, however few documents share the wrapper. Syndicated
    article text occurs in a different set of documents (its copies) and is left alone.
    """

    def __init__(self) -> None:
        self.docs: Counter[str] = Counter()
        self.lines: dict[str, Counter[str]] = {}
        self.sets: dict[str, dict[str, int]] = {}
        self.samples: dict[tuple[str, str], str] = {}

    def add(self, source: str, lines: Iterable[str], head: Iterable[str] = (), doc_token: str = "") -> None:
        self.docs[source] += 1
        counter = self.lines.setdefault(source, Counter())
        sets = self.sets.setdefault(source, {})
        token = int.from_bytes(hashlib.blake2b(doc_token.encode(), digest_size=8).digest(), "little")
        seen = set()
        for ln in [*lines, *head]:
            c = collapse(ln)
            if not c:
                continue
            key = line_key(c)
            if key not in seen:
                seen.add(key)
                counter[key] += 1
                sets[key] = (sets.get(key, 0) + token) & 0xFFFFFFFFFFFFFFFF
                self.samples.setdefault((source, key), c)

    def wrapper_sets(self, source: str, head: Iterable[str]) -> set[int]:
        """Document-set fingerprints of the header lines shared with other documents."""
        counter = self.lines.get(source, Counter())
        sets = self.sets.get(source, {})
        out = set()
        for ln in head:
            key = line_key(ln)
            if counter.get(key, 0) >= 2:
                out.add(sets[key])
        return out

    def set_of(self, source: str, key: str) -> tuple[int, int]:
        return self.lines.get(source, Counter()).get(key, 0), self.sets.get(source, {}).get(key, 0)

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

"""What duplicate detection is asked to do: thresholds, sketch sizes, the keep policy,
the passage mode and the candidate backend, in one record every dedup module reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import minhash


@dataclass
class DedupSettings:
    threshold: float = 0.5  # document Jaccard threshold (LSH and confirmation)
    containment: float = 0.8  # ... or this much of the smaller document inside the larger
    num_perm: int = 128
    ngram: int = 5  # words per shingle (space-separated scripts)
    char_ngram: int = 5  # characters per shingle (CJK, Thai, ...)
    seed: int = 1
    keep: str = "first"  # first | longest | newest
    passages: str = "flag"  # flag | drop
    passage_threshold: float = 0.7
    passage_containment: float = 0.75  # a subtitle repeating most of the lead sentence
    # Containment only links a passage of some substance to one not much longer: a short
    # stock phrase ("Return to citation in text") sits inside thousands of unrelated
    # paragraphs, and linking each of them to it chains them all into one cluster.
    passage_containment_min: int = 8  # shingles of the smaller passage
    passage_containment_ratio: float = 4.0  # the larger at most this many times the smaller
    passage_min_words: int = 3  # shorter passages are left out entirely
    window: int = 200
    # numpy | datasketch | ray (a Ray Data shuffle): the same candidates, see confirmed_edges
    lsh_backend: str = "numpy"
    # A document is sketched from its prose (see features.features) when it has this many words of
    # it: a wrapper left in the text (a feed, a list of headlines) is not what makes two
    # pages copies of one story
    prose: bool = True
    prose_min_words: int = 50

    def lsh(self, threshold: float) -> tuple[int, int]:
        return minhash.lsh_params(threshold, self.num_perm)

    def containment_for(self, kind: str) -> float:
        """The containment that confirms a pair of documents (``doc``) or passages."""
        return self.containment if kind == "doc" else self.passage_containment

    def contained(self, kind: str, c: np.ndarray, na: np.ndarray, nb: np.ndarray) -> np.ndarray:
        """Which pairs (estimated containment ``c``, shingle counts ``na``, ``nb``) count as
        one inside the other: for passages, only a smaller side of at least
        ``passage_containment_min`` shingles inside one at most ``passage_containment_ratio``
        times larger (see the field comments)."""
        ok = np.asarray(c) >= self.containment_for(kind)
        if kind != "doc":
            small, large = np.minimum(na, nb), np.maximum(na, nb)
            ok &= (small >= self.passage_containment_min) & (large <= self.passage_containment_ratio * small)
        return ok

    def bands_rows(self, kind: str) -> tuple[int, int]:
        return self.lsh(self.doc_lsh_threshold if kind == "doc" else self.passage_lsh_threshold)

    def describe(self) -> dict[str, Any]:
        b, r = self.lsh(self.doc_lsh_threshold)
        fp, fn = (round(x, 6) for x in minhash.lsh_error_rates(self.doc_lsh_threshold, b, r))
        pb, pr = self.lsh(self.passage_lsh_threshold)
        pfp, pfn = (round(x, 6) for x in minhash.lsh_error_rates(self.passage_lsh_threshold, pb, pr))
        return {
            "scheme": minhash.SCHEME, "minhash_version": minhash.MINHASH_VERSION,
            "num_perm": self.num_perm, "seed": self.seed, "ngram": self.ngram,
            "char_ngram": self.char_ngram,
            "documents": {"threshold": self.threshold, "lsh_threshold": self.doc_lsh_threshold,
                          "sketch": self.doc_sketch,
                          "containment": self.containment,
                          "bands": b, "rows": r, "false_positive": fp, "false_negative": fn},
            "passages": {"threshold": self.passage_threshold, "lsh_threshold": self.passage_lsh_threshold,
                         "containment": self.passage_containment,
                         "containment_min_shingles": self.passage_containment_min,
                         "containment_max_ratio": self.passage_containment_ratio, "bands": pb, "rows": pr,
                         "false_positive": pfp, "false_negative": pfn,
                         "window_words": self.window, "min_words": self.passage_min_words},
            "short_texts": (f"texts with fewer than {self.ngram} words (or {self.char_ngram} characters "
                            "for unsegmented scripts) have no shingles: they are compared exactly; "
                            f"passages under {self.passage_min_words} words are left out"),
            "keep": self.keep, "passage_mode": self.passages,
        }

    @property
    def doc_sketch(self) -> str:
        """What a document's signature is made of (indexes record it: a prose sketch
        compared with a whole-text one would understate every match)."""
        return f"prose-v1 min_words={self.prose_min_words}" if self.prose else "text"

    @property
    def doc_lsh_threshold(self) -> float:
        # Candidates must include copies buried in a longer page (containment high, Jaccard
        # low); confirmation then applies the real threshold or the containment test.
        return round(min(self.threshold, 0.3), 2)

    @property
    def passage_lsh_threshold(self) -> float:
        # LSH must surface contained passages, whose Jaccard is far lower than their
        # containment (16 of 19 shingles inside a 27-shingle paragraph: Jaccard 0.53).
        return round(min(self.passage_threshold, 0.3), 2)

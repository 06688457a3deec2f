"""dedup's per-document features (one core call, ``native/src/features.rs``) against the
Python composition they replaced, kept here as the oracle.

The oracle is ``features`` as it was: the lines classified by the furniture classifier, the
prose picked from them, the passages split and filtered in Python, each row's text made and
handed to the core's batch functions (exact keys, shingle hashes) and the signatures computed
from those hashes. The core instead folds the document once and takes every row as a range
of it, so random texts (every kind of whitespace, blank lines between wrapped lines, case
folds that change a character count, format characters, unsegmented scripts, long
paragraphs cut into windows) must give the same arrays, byte for byte.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from datasketch import MinHash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.clean import furniture as chrome
from cleaner.dedup import minhash
from cleaner.dedup.features import Features, counted_feature_columns, features
from cleaner.dedup.passages import split
from cleaner.dedup.settings import DedupSettings

from .test_minhash import CHINESE, ENGLISH, RUSSIAN, THAI, identity


def oracle(text: str, s: DedupSettings) -> Features:
    """``features(text, s)`` as it was computed in Python."""
    passages = [p for p in split(text, s.window)
                if p.words >= s.passage_min_words or minhash.is_unsegmented(p.text)]
    lines = text.split("\n")
    classes = chrome.classify(lines) if s.prose else []
    prose = None
    if s.prose:
        good = [ln for ln, c in zip(lines, classes, strict=True) if c == "good"]
        prose = good if sum(len(ln.split()) for ln in good) >= s.prose_min_words else None
    doc_text = text if prose is None else "\n".join(prose)
    in_prose = np.array([prose is not None and classes[p.line_start - 1] == "good" for p in passages], dtype=bool)
    texts = [doc_text, *(p.text for p in passages)]
    exact = minhash.exact_keys([text, *texts[1:]])
    hashes = minhash.shingle_hashes_many(texts, s.ngram, s.char_ngram)
    size = np.array([len(h) for h in hashes], dtype=np.int32)
    filled = [h for h in hashes if len(h)]
    sigs = (minhash.signatures(filled, s.num_perm, s.seed) if filled
            else np.empty((0, s.num_perm), dtype=np.uint32))
    return Features(exact, size, sigs,
                    np.array([p.line_start for p in passages], dtype=np.int32),
                    np.array([p.line_end for p in passages], dtype=np.int32),
                    np.array([len(p.text) for p in passages], dtype=np.int32), in_prose)


def assert_same(got: Features, want: Features) -> None:
    assert got.exact == want.exact
    for name in ("size", "sigs", "line_start", "line_end", "chars", "prose"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert np.array_equal(a, b), name


# whitespace of every kind str.split() knows, format characters (deleted by the fold),
# characters whose case fold is longer (ß, ŉ, ﬁ, İ), combining marks, unsegmented scripts
_SPECIAL = list(" \t\x0b\x0c\r\x1c\x85\xa0\u2000\u2028\u3000\xad\u200d\u2060"
                ".!?,;:-–—\"'«»()" "aZßŉﬁİΣσς١²Ⅰ½ǅᾈx\u0301市议会สภา")
_chars = st.one_of(st.sampled_from(_SPECIAL), st.characters(exclude_categories=("Cs",)))
_word = st.one_of(
    st.sampled_from(["the", "council", "said", "of", "and", "it", "was", "in", "a", "budget.", "Straße",
                     "ПРИВЕТ", "и", "в", "市议会星期二召开会议。", "“Yes!”", "co\xadoperate", "5", "ﬁx"]),
    st.text(_chars, min_size=1, max_size=7))
_long = st.lists(_word, min_size=52, max_size=160).map(" ".join)  # cut into windows
_line = st.one_of(st.lists(_word, max_size=30).map(" ".join), st.text(_chars, max_size=60), st.just(""), _long)
_texts = st.one_of(
    st.lists(_line, max_size=25).map("\n".join),
    st.lists(_line, max_size=12).map("\n\n".join),  # the clean text's form: a blank line between paragraphs
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts, st.sampled_from([51, 60, 200]), st.integers(1, 4), st.integers(1, 3), st.integers(0, 40),
       st.booleans())
def test_features_equal_the_python(text: str, window: int, min_words: int, ngram: int, prose_min: int,
                                   prose: bool) -> None:
    """Windows of 51 and 60 words (overlapping by 50, as always) cut the longer paragraphs
    into many windows, a word or ten apart."""
    s = DedupSettings(window=window, passage_min_words=min_words, ngram=ngram, char_ngram=ngram + 1,
                      prose_min_words=prose_min, prose=prose, num_perm=16, seed=7)
    assert_same(features(text, s), oracle(text, s))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts, st.booleans())
def test_the_word_count_is_that_of_str_split(text: str, prose: bool) -> None:
    """The features' word count is ``len(text.split())`` (a pass-2 document pickles it as its
    ``words_out``), whatever spaces and lines the text has, with and without the prose (the
    tokenizer reads the collapsed lines too)."""
    s = DedupSettings(prose=prose, num_perm=16, seed=7)
    _, words = counted_feature_columns(text, s)
    assert words == len(text.split())


def test_real_pages_equal_the_python() -> None:
    """Pages of prose, lists and long paragraphs in several scripts, with the defaults."""
    s = DedupSettings()
    menu = "\n\n".join(["Home", "News", "Sport", "Contact us"])
    long_par = " ".join(f"Word{n} of a long paragraph that is cut into windows, said the council." for n in range(60))
    wrapped = ("The council met on Tuesday to discuss the budget for the coming\n"
               "year, and the members agreed that the roads and the schools would\n"
               "come first, before the new library.")
    for text in [ENGLISH, RUSSIAN, CHINESE, THAI, menu, long_par,
                 "\n\n".join([menu, ENGLISH, wrapped, long_par, CHINESE * 3, RUSSIAN, menu]),
                 "", "\n\n\n", "word"]:
        for prose in (True, False):
            t = dataclasses.replace(s, prose=prose)
            assert_same(features(text, t), oracle(text, t))
    # and the signatures are datasketch's for the same shingles
    f = features(long_par, s)
    for row, text in [(0, long_par), (1, " ".join(long_par.split()[:s.window]))]:  # the text, its first window
        hashes = minhash.shingle_hashes(text, s.ngram, s.char_ngram)
        m = MinHash(num_perm=s.num_perm, seed=s.seed, hashfunc=identity)
        m.update_batch(hashes)
        assert int(f.size[row]) == len(hashes)
        assert np.array_equal(f.sigs[row], m.hashvalues)


def test_features_pickle_as_their_columns() -> None:
    """Workers send features to the driver pickled: the columns come back equal (dtypes,
    shapes, values), also for a document without a signed row."""
    import pickle

    s = DedupSettings()
    for text in [ENGLISH + "\n\n" + RUSSIAN, "a b", ""]:
        f = features(text, s)
        g = pickle.loads(pickle.dumps(f, protocol=pickle.HIGHEST_PROTOCOL))
        assert_same(g, f)
        assert g.sigs.shape == (int((f.size > 0).sum()), s.num_perm)
        assert [p.sketch.exact for p in g.passages] == [p.sketch.exact for p in f.passages]

"""cleaner.dedup.minhash: shingles, signatures and LSH keys, checked against datasketch itself.

The speed check is not a test; run it by hand:

    python -m tests.test_minhash [--naive-mb 1.0]     # from the repository root

It reports MB/s of text for shingle_hashes + signatures on ../shared/bench/syndicated/raw
against datasketch's MinHash updated shingle by shingle with its default SHA-1 hash.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.lsh import _false_negative_probability, _false_positive_probability
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.dedup import minhash as M

ENGLISH = (
    "The city council voted on Tuesday to approve a new budget for the coming year, after a long "
    "debate about spending on public transport, schools and the repair of old bridges. Members of "
    "the opposition said the plan did not go far enough to help families facing higher rents, while "
    "the mayor argued that the budget was balanced and would protect essential services. A final "
    "vote on the transport levy is expected next month, once the regional government has published "
    "its own figures for the next three years."
)
# The same paragraph as republished elsewhere: new quotes, case and dashes, two words changed.
ENGLISH_EDITED = (
    "THE CITY COUNCIL voted on Tuesday to approve a new budget for the coming year — after a long "
    "debate about spending on public transport, schools and the repair of old bridges. Members of "
    "the opposition said the plan “did not go far enough” to help families facing higher rents, while "
    "the mayor argued that the budget was balanced and would protect essential services. A final "
    "vote on the transport levy is expected next month, once the regional government has released "
    "its own figures for the next four years."
)
UNRELATED = (
    "Researchers at the marine institute have tracked a group of humpback whales along the coast for "
    "six weeks, using small satellite tags attached during a calm spell in early spring. The animals "
    "travelled more than two thousand kilometres, feeding on krill near the shelf edge before turning "
    "south, and the data will help shipping companies plan routes that avoid their feeding grounds."
)
RUSSIAN = (
    "Городской совет во вторник утвердил новый бюджет на следующий год после долгого обсуждения "
    "расходов на общественный транспорт, школы и ремонт старых мостов. Представители оппозиции "
    "заявили, что план не помогает семьям, которые сталкиваются с ростом арендной платы, а мэр "
    "ответил, что бюджет сбалансирован и сохраняет основные услуги."
)
CHINESE = (
    "市议会星期二投票通过了明年的新预算，此前就公共交通、学校和旧桥维修的支出进行了长时间的辩论。"
    "反对派成员表示，该计划不足以帮助面临房租上涨的家庭，而市长则认为预算是平衡的，将保护基本服务。"
    "关于交通税的最终投票预计将在下个月举行。"
)
JAPANESE = ("市議会は火曜日、公共交通機関や学校、古い橋の修理への支出について"
            "長い議論の末、来年度の新しい予算を承認した。")
KOREAN = ("시의회는 화요일에 대중교통과 학교, 오래된 다리 수리에 대한 지출을 "
          "두고 긴 토론을 벌인 끝에 내년 예산을 승인했다.")
THAI = "สภาเมืองลงมติเมื่อวันอังคารเพื่ออนุมัติงบประมาณใหม่สำหรับปีหน้าหลังจากการอภิปรายที่ยาวนาน"
TEXTS = {"english": ENGLISH, "russian": RUSSIAN, "chinese": CHINESE, "japanese": JAPANESE,
         "korean": KOREAN, "thai": THAI, "edited": ENGLISH_EDITED}


def identity(v):
    return v


def reference_fold(text: str) -> str:
    """fold() written character by character from its definition."""
    out = []
    for ch in text.casefold():
        cat = unicodedata.category(ch)
        if ch.isspace():
            out.append(" ")
        elif cat[0] in "LMN":
            out.append(ch)
        elif cat != "Cf":
            out.append(" ")
    return " ".join("".join(out).split())


def _reference_kind(ch: str) -> int:
    """A code point's class from its definition: separator, word, unsegmented word, drop."""
    cat = unicodedata.category(ch)
    if ch.isspace() or (cat[0] not in "LMN" and cat != "Cf"):
        return M._SEP
    if cat == "Cf":
        return M._DROP
    return M._UNSEG if any(lo <= ord(ch) <= hi for lo, hi in M._UNSEGMENTED_RANGES) else M._WORD


def reference_unsegmented(text: str) -> bool:
    """is_unsegmented() from its definition."""
    kinds = [_reference_kind(ch) for ch in text.casefold()]
    unseg = kinds.count(M._UNSEG)
    return unseg > 0 and unseg >= 0.3 * (kinds.count(M._WORD) + unseg)


def reference_hashes(text: str, ngram: int = 5, char_ngram: int = 5) -> np.ndarray:
    """shingle_hashes() from the definitions, in Python: reference_fold, then shingle_hash
    of every token n-gram (no call into the native core)."""
    folded = reference_fold(text)
    if reference_unsegmented(text):
        tokens, n = list(folded.replace(" ", "")), char_ngram
    else:
        tokens, n = folded.split(), ngram
    values = {M.shingle_hash(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}
    return np.array(sorted(values), dtype=np.uint32)


# --------------------------------------------------------------------------- folding


@pytest.mark.parametrize(("text", "folded"), [
    ("Hello,   World!", "hello world"),
    ("  «Don't» — stop…\n\tnow ", "don t stop now"),
    ("Straße GROSS", "strasse gross"),
    ("soft\xadhyphen zero\u200bwidth", "softhyphen zerowidth"),
    ("snake_case and kebab-case", "snake case and kebab case"),
    ("ПРИВЕТ, мир!", "привет мир"),
    ("市议会，星期二。", "市议会 星期二"),
    ("हिन्दी भाषा", "हिन्दी भाषा"),  # vowel signs are marks, not separators
    ("price: 12,50 € (approx.)", "price 12 50 approx"),
    ("", ""),
    (" ,.;!? ", ""),
    ("emoji 👍🏽 here 𠀀𠀁", "emoji here 𠀀𠀁"),
    ("lone \ud800 surrogate", "lone surrogate"),
])
def test_fold_examples(text: str, folded: str) -> None:
    assert M.fold(text) == folded


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_fold_matches_reference(text: str) -> None:
    assert M.fold(text) == reference_fold(text)


def test_is_unsegmented() -> None:
    assert M.is_unsegmented(CHINESE)
    assert M.is_unsegmented(JAPANESE)
    assert M.is_unsegmented(THAI)
    assert not M.is_unsegmented(ENGLISH)
    assert not M.is_unsegmented(RUSSIAN)
    assert not M.is_unsegmented(KOREAN)  # Korean is written with spaces
    assert not M.is_unsegmented("")
    assert not M.is_unsegmented("12 345 !!!")
    # a Chinese sentence quoting English names is still Chinese ...
    assert M.is_unsegmented("苹果公司 (Apple Inc.) 今天在加州发布了新款 iPhone 手机和 MacBook 电脑")
    # ... and an English article with one Chinese phrase is still English
    assert not M.is_unsegmented(ENGLISH + " 市议会")


# --------------------------------------------------------------------------- shingles


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_shingle_hashes_match_reference(name: str) -> None:
    text = TEXTS[name]
    h = M.shingle_hashes(text)
    assert h.dtype == np.uint32
    assert len(h) > 10
    assert np.all(h[1:] > h[:-1])  # sorted and unique
    assert np.array_equal(h, reference_hashes(text))


def test_word_and_char_shingles() -> None:
    words = M.iter_shingles(ENGLISH)
    assert words[0] == ("the", "city", "council", "voted", "on")
    assert len(words) == len(M.fold(ENGLISH).split()) - 4
    chars = M.iter_shingles(CHINESE)
    assert chars[0] == ("市", "议", "会", "星", "期")
    assert all(len(s) == 5 and all(len(c) == 1 for c in s) for s in chars)
    assert len(chars) == len(M.fold(CHINESE).replace(" ", "")) - 4  # punctuation left out
    assert M.iter_shingles(CHINESE, char_ngram=3)[0] == ("市", "议", "会")
    assert M.iter_shingles(KOREAN)[0] == ("시의회는", "화요일에", "대중교통과", "학교", "오래된")


def test_short_texts_have_no_shingles() -> None:
    for text in ("", "   ", "!!! ??? ...", "one two three four", "One, two; three — four!", "市议会星",
                 "soft\xadhyphen is one word"):
        h = M.shingle_hashes(text)
        assert h.dtype == np.uint32 and len(h) == 0, text
        assert M.iter_shingles(text) == []
    assert len(M.shingle_hashes("one two three four five")) == 1
    assert len(M.shingle_hashes("市议会星期")) == 1
    assert len(M.shingle_hashes("one two three four", ngram=4)) == 1
    with pytest.raises(ValueError):
        M.shingle_hashes("text", ngram=0)


def test_shingle_hash_pinned() -> None:
    """Pinned values: if these change, signatures in existing indexes change too, so bump
    MINHASH_VERSION along with them."""
    assert M.MINHASH_VERSION == "1"
    assert M.shingle_hash(("the", "quick", "brown", "fox", "jumps")) == 3555434042
    assert M.shingle_hash(("我", "们", "今", "天", "去")) == 1930081321
    assert M.shingle_hashes("The quick brown fox jumps over the lazy dog.").tolist() == [
        432960796, 1863318898, 2917874632, 3555434042, 3883666049]


def test_folding_makes_copies_equal() -> None:
    a = "He said: “It’s DONE.” Then—he left!"
    b = "he said it's done. then -- he left"
    assert np.array_equal(M.shingle_hashes(a, ngram=3), M.shingle_hashes(b, ngram=3))
    assert not np.array_equal(M.shingle_hashes(a, ngram=3), M.shingle_hashes(b + " again", ngram=3))


def test_long_text_and_long_word() -> None:
    """Past 2**16 code points the powers of Q come from the two-level table."""
    rng = np.random.default_rng(7)
    vocab = ENGLISH.split() + RUSSIAN.split()
    text = " ".join(rng.choice(vocab, 12000).tolist())
    assert len(text) > 1 << 16
    assert np.array_equal(M.shingle_hashes(text), reference_hashes(text))
    word = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 70000).tolist())
    text = f"start of text {word} and the end of it"
    assert np.array_equal(M.shingle_hashes(text), reference_hashes(text))


words = st.sampled_from(["a", "b", "the", "Ünïcode", "ß", "市", "议会", "x\u0301", "𠀀", "12", "ДА"])
seps = st.sampled_from([" ", "  ", ", ", "\n", "—", "\xad", "_", "!", "\u200b", "👍"])
texts = st.one_of(st.text(max_size=120), st.lists(st.tuples(words, seps), max_size=40).map(
    lambda parts: "".join(w + s for w, s in parts)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.integers(1, 4), st.integers(1, 4))
def test_shingle_hashes_property(text: str, ngram: int, char_ngram: int) -> None:
    h = M.shingle_hashes(text, ngram, char_ngram)
    assert np.array_equal(h, reference_hashes(text, ngram, char_ngram))
    folded, h2 = M.folded_shingle_hashes(text, ngram, char_ngram)
    assert folded == M.fold(text)
    assert np.array_equal(h2, h)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(texts, max_size=8).map("\n".join))
def test_fold_lines_equal_folding_each_line(text: str) -> None:
    lines = M.fold_lines(text)
    assert lines == [M.fold(line) for line in text.split("\n")]
    assert " ".join(f for f in lines if f) == M.fold(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(texts, max_size=12), st.integers(1, 4))
def test_shingle_hashes_many_property(batch: list[str], ngram: int) -> None:
    got = M.shingle_hashes_many(batch, ngram, 2)
    assert len(got) == len(batch)
    for text, h in zip(batch, got, strict=True):
        assert np.array_equal(h, M.shingle_hashes(text, ngram, 2))


def test_shingle_hashes_many_mixed_batch() -> None:
    """A batch of every kind of text, small (one thread) and large enough for the core's
    thread pool, equals the Python reference text by text."""
    batch = list(TEXTS.values()) + ["", "too short", "soft\xadhyphen " * 5, UNRELATED,
                                    "𠀀𠀁 emoji 👍 text and more words", " ".join([ENGLISH] * 200)]
    want = [reference_hashes(t) for t in batch]
    for copies in (1, 8):  # 8 copies: over the core's threshold for its thread pool
        got = M.shingle_hashes_many(batch * copies)
        assert len(got) == len(batch) * copies
        for w, g in zip(want * copies, got, strict=True):
            assert g.dtype == np.uint32
            assert np.array_equal(w, g)


# --------------------------------------------------------------------------- signatures


def test_permutations_are_datasketchs() -> None:
    for num_perm, seed in ((64, 1), (128, 42), (256, 7)):
        a, b = M.permutations(num_perm, seed)
        ds = MinHash(num_perm=num_perm, seed=seed).permutations
        assert a.dtype == b.dtype == np.uint32
        assert np.array_equal(a, ds[0]) and np.array_equal(b, ds[1])
    assert M.permutations(128, 1)[0] is M.permutations(128, 1)[0]  # cached


@pytest.mark.parametrize("num_perm", [64, 128, 256])
@pytest.mark.parametrize("seed", [1, 42])
def test_signatures_equal_datasketch_update_batch(num_perm: int, seed: int) -> None:
    arrays = [M.shingle_hashes(t) for t in TEXTS.values()]
    sigs = M.signatures(arrays, num_perm, seed)
    assert sigs.shape == (len(arrays), num_perm) and sigs.dtype == np.uint32
    for h, sig in zip(arrays, sigs, strict=True):
        m = MinHash(num_perm=num_perm, seed=seed, hashfunc=identity)
        m.update_batch(h)
        assert np.array_equal(sig, m.hashvalues)
        assert np.array_equal(M.signatures([h], num_perm, seed)[0], sig)  # alone == in bulk


@pytest.mark.parametrize("num_perm", [64, 128, 256])
@pytest.mark.parametrize("seed", [1, 42])
@pytest.mark.parametrize("name", ["english", "russian", "chinese"])
def test_signatures_equal_datasketch_on_shingles(name: str, num_perm: int, seed: int) -> None:
    """What datasketch computes for the same shingles, fed one by one with shingle_hash."""
    text = TEXTS[name]
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=M.shingle_hash)
    for shingle in M.iter_shingles(text):
        m.update(shingle)
    sig = M.signatures([M.shingle_hashes(text)], num_perm, seed)[0]
    assert np.array_equal(sig, m.hashvalues)
    assert not m.is_empty()


def test_signatures_many_sizes() -> None:
    """Sets of one hash to 40,000, alone and in one batch (which the core spreads over its threads)."""
    rng = np.random.default_rng(3)
    arrays = [np.unique(rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32))
              for n in (1, 2, 7, 300, 5000, 40000, 3, 1)]
    want = []
    for h in arrays:
        m = MinHash(num_perm=128, seed=5, hashfunc=identity)
        m.update_batch(h)
        want.append(m.hashvalues)
    assert np.array_equal(M.signatures(arrays, 128, 5), np.array(want))  # large: on the core's threads
    for h, w in zip(arrays, want, strict=True):
        assert np.array_equal(M.signatures([h], 128, 5)[0], w)
    assert M.signatures([], 64).shape == (0, 64)


def test_signatures_reject_bad_input() -> None:
    h = M.shingle_hashes(ENGLISH)
    with pytest.raises(ValueError, match="empty"):
        M.signatures([np.empty(0, dtype=np.uint32)])
    with pytest.raises(ValueError, match="hash array 1 is empty"):
        M.signatures([h, M.shingle_hashes("too short")])
    with pytest.raises(TypeError):
        M.signatures(h)  # a bare array, not a list of arrays
    with pytest.raises(ValueError):
        M.signatures([np.array([-1, 5])])
    with pytest.raises(ValueError):
        M.signatures([np.array([1 << 40])])
    with pytest.raises(ValueError):
        M.signatures([h.reshape(1, -1)])
    # in-range integers of another dtype are fine
    assert np.array_equal(M.signatures([h.astype(np.int64)]), M.signatures([h]))


def test_to_minhash_and_lean() -> None:
    sig_a, sig_b = M.signatures([M.shingle_hashes(ENGLISH), M.shingle_hashes(ENGLISH_EDITED)], 128, 42)
    ma, lb = M.to_minhash(sig_a, 42), M.to_lean(sig_b, 42)
    assert isinstance(ma, MinHash) and isinstance(lb, LeanMinHash)
    assert ma.scheme == lb.scheme == "affine32" == M.SCHEME
    assert ma.hashvalues.dtype == np.uint32
    ref = MinHash(num_perm=128, seed=42, hashfunc=M.shingle_hash)
    for s in M.iter_shingles(ENGLISH):
        ref.update(s)
    assert ma == ref
    assert ma.jaccard(lb) == M.jaccard(sig_a, sig_b)
    extra = "and then the meeting ended with a vote"
    for s in M.iter_shingles(extra):  # a full MinHash keeps working with cleaner's shingles ...
        ma.update(s)
    assert np.array_equal(
        ma.hashvalues,
        M.signatures([np.union1d(M.shingle_hashes(ENGLISH), M.shingle_hashes(extra))], 128, 42)[0])
    assert not np.array_equal(ma.hashvalues, sig_a)  # ... on its own copy of the values
    assert np.array_equal(M.to_minhash(sig_a, 42).hashvalues, sig_a)


# --------------------------------------------------------------------------- similarity


def test_jaccard_estimates() -> None:
    h = [M.shingle_hashes(t) for t in (ENGLISH, ENGLISH_EDITED, UNRELATED)]
    sigs = M.signatures(h, 256)
    near, far = M.jaccard(sigs[0], sigs[1]), M.jaccard(sigs[0], sigs[2])
    assert near > 0.7
    assert far < 0.1
    exact = M.exact_jaccard(h[0], h[1])
    assert 0.7 < exact < 0.95
    assert abs(near - exact) < 0.1
    assert M.exact_jaccard(h[0], h[2]) < 0.02
    assert M.jaccard(sigs[0], sigs[0]) == 1.0
    with pytest.raises(ValueError):
        M.jaccard(sigs[0], sigs[1][:128])


def test_exact_jaccard() -> None:
    a = np.array([1, 2, 3, 4], dtype=np.uint32)
    b = np.array([3, 4, 5, 6, 7, 8], dtype=np.uint32)
    assert M.exact_jaccard(a, b) == 2 / 8
    assert M.exact_jaccard(a, a) == 1.0
    assert M.exact_jaccard(a, b + 10) == 0.0
    assert M.exact_jaccard(np.array([4, 3, 3, 1], dtype=np.uint32), b) == 2 / 7  # unsorted, repeats
    empty = np.empty(0, dtype=np.uint32)
    assert M.exact_jaccard(empty, empty) == 0.0  # no shingles is no evidence of likeness
    assert M.exact_jaccard(a, empty) == 0.0


# --------------------------------------------------------------------------- LSH


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.5, 128), (0.3, 128), (0.8, 64), (0.7, 256)])
def test_lsh_params_match_datasketch(threshold: float, num_perm: int) -> None:
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    assert M.lsh_params(threshold, num_perm) == (lsh.b, lsh.r)


def test_lsh_params_values_and_weights() -> None:
    assert M.lsh_params(0.5, 128) == (MinHashLSH(threshold=0.5, num_perm=128).b,
                                      MinHashLSH(threshold=0.5, num_perm=128).r)
    b, r = M.lsh_params(0.5, 128, (0.9, 0.1))
    lsh = MinHashLSH(threshold=0.5, num_perm=128, weights=(0.9, 0.1))
    assert (b, r) == (lsh.b, lsh.r)
    assert (b, r) != M.lsh_params(0.5, 128)  # weighting against false positives changes them


def test_lsh_error_rates() -> None:
    b, r = M.lsh_params(0.5, 128)
    fp, fn = M.lsh_error_rates(0.5, b, r)
    assert fp == pytest.approx(_false_positive_probability(0.5, b, r), abs=1e-12)
    assert fn == pytest.approx(_false_negative_probability(0.5, b, r), abs=1e-12)
    assert 0 < fp < 0.1 and 0 < fn < 0.1
    # more bands of fewer rows: more false positives, fewer false negatives
    fp2, fn2 = M.lsh_error_rates(0.5, b * 2, max(1, r // 2))
    assert fp2 > fp and fn2 < fn


# The banding search against datasketch's own (scipy's adaptive quadrature), which cleaner no
# longer imports on a run: the same (bands, rows) everywhere, error rates equal to rounding.
_ODD_THRESHOLDS = [0.005, 0.123, 1 / 3, 0.4999, 0.5001, 2 / 3, 0.777, 0.995]
_WEIGHTS = [(0.5, 0.5), (0.9, 0.1), (0.1, 0.9), (0.25, 0.75)]


def _check_against_datasketch(thresholds: list[float], perms: tuple[int, ...],
                              weights: list[tuple[float, float]]) -> int:
    from datasketch.lsh import _optimal_param

    checked = 0
    for num_perm in perms:
        for w in weights:
            for t in thresholds:
                b, r = _optimal_param(t, num_perm, *w)
                assert M.lsh_params(t, num_perm, w) == (b, r), (t, num_perm, w)
                fp, fn = M.lsh_error_rates(t, b, r)
                want_fp, want_fn = _false_positive_probability(t, b, r), _false_negative_probability(t, b, r)
                assert abs(fp - want_fp) < 1e-12 and abs(fn - want_fn) < 1e-12, (t, num_perm, b, r)
                # what duplicates.json reports (settings.describe rounds to 6 places)
                assert (round(fp, 6), round(fn, 6)) == (round(want_fp, 6), round(want_fn, 6))
                checked += 1
    return checked


def test_lsh_params_equal_datasketch_coarse_grid() -> None:
    thresholds = [round(0.05 * i, 2) for i in range(1, 20)] + _ODD_THRESHOLDS
    assert _check_against_datasketch(thresholds, (16, 32, 64, 128), _WEIGHTS[:2]) == 8 * len(thresholds)


def _recorded_grid() -> list[dict[str, Any]]:
    return json.loads((Path(__file__).parent / "data" / "lsh_params.json").read_text(encoding="utf-8"))


def test_lsh_params_equal_datasketch_on_a_dense_recorded_grid() -> None:
    """2140 cases (thresholds 0.01 to 0.99 by 0.01 and a few odd ones, num_perm 16 to 256,
    four weightings): datasketch's bands, rows and error rates, recorded by
    tests/data/make_lsh_params.py (scipy takes minutes to compute them), against cleaner's."""
    cases = _recorded_grid()
    assert len(cases) == 20 * (99 + len(_ODD_THRESHOLDS))
    for c in cases:
        t, num_perm, w = c["threshold"], c["num_perm"], tuple(c["weights"])
        assert M.lsh_params(t, num_perm, w) == (c["bands"], c["rows"]), c
        fp, fn = M.lsh_error_rates(t, c["bands"], c["rows"])
        assert abs(fp - c["fp"]) < 1e-12 and abs(fn - c["fn"]) < 1e-12, c
        assert (round(fp, 6), round(fn, 6)) == (round(c["fp"], 6), round(c["fn"], 6))


def test_the_recorded_grid_is_datasketchs() -> None:
    """A sample of the recorded cases computed again by datasketch: the file says what it says."""
    from datasketch.lsh import _optimal_param

    for c in _recorded_grid()[::107]:
        b, r = _optimal_param(c["threshold"], c["num_perm"], *c["weights"])
        assert (b, r) == (c["bands"], c["rows"])
        assert _false_positive_probability(c["threshold"], b, r) == c["fp"]
        assert _false_negative_probability(c["threshold"], b, r) == c["fn"]


def test_band_keys() -> None:
    sigs = M.signatures([M.shingle_hashes(t) for t in (ENGLISH, ENGLISH_EDITED, UNRELATED)], 128)
    b, r = M.lsh_params(0.5, 128)
    keys = M.band_keys(sigs, b, r)
    assert keys.shape == (3, b) and keys.dtype == np.uint64
    assert np.array_equal(keys, M.band_keys(sigs.copy(), b, r))  # deterministic
    assert np.array_equal(M.band_keys(sigs[1], b, r)[0], keys[1])  # one signature alone
    for i in range(3):
        for j in range(3):
            same_band = [bool(np.array_equal(sigs[i, k * r:(k + 1) * r], sigs[j, k * r:(k + 1) * r]))
                         for k in range(b)]
            assert (keys[i] == keys[j]).tolist() == same_band
    assert (keys[0] == keys[1]).any()  # near duplicates share a band ...
    assert not (keys[0] == keys[2]).any()  # ... unrelated texts do not
    # equal values in different bands give different keys
    flat = np.full((1, 128), 12345, dtype=np.uint32)
    assert len(set(M.band_keys(flat, 16, 8)[0].tolist())) == 16
    # one changed value changes only its band's key
    other = flat.copy()
    other[0, 21] = 1
    diff = M.band_keys(flat, 16, 8)[0] != M.band_keys(other, 16, 8)[0]
    assert diff.tolist() == [k == 2 for k in range(16)]
    # pinned: indexes on disk store these keys
    assert M.band_keys(np.arange(8, dtype=np.uint32)[None, :], 4, 2).tolist() == [
        [2714486797602074777, 7264022304078765665, 13078452016638981497, 12445736599158492855]]
    assert M.band_keys(np.arange(9, dtype=np.uint32)[None, :], 3, 3).tolist() == [
        [5330112104716570384, 449428290484314457, 7605271679550069437]]
    with pytest.raises(ValueError):
        M.band_keys(sigs, 20, 7)


@pytest.mark.parametrize(("num_perm", "params"), [(128, None), (128, (16, 8)), (64, (9, 7))])
def test_datasketch_band_key_matches_minhashlsh(num_perm: int, params: tuple[int, int] | None) -> None:
    b, r = params or M.lsh_params(0.5, num_perm)
    lsh = MinHashLSH(threshold=0.5, num_perm=num_perm, params=(b, r))
    sigs = M.signatures([M.shingle_hashes(t) for t in (ENGLISH, RUSSIAN, CHINESE)], num_perm)
    for name, sig in zip(("en", "ru", "zh"), sigs, strict=True):
        lsh.insert(name, M.to_lean(sig))
    for i, table in enumerate(lsh.hashtables):
        stored = set(table.keys())
        ours = {M.datasketch_band_key(sig, i, r) for sig in sigs}
        assert stored == ours
        for name, sig in zip(("en", "ru", "zh"), sigs, strict=True):
            assert name in table.get(M.datasketch_band_key(sig, i, r))
    edited = M.signatures([M.shingle_hashes(ENGLISH_EDITED)], num_perm)[0]
    assert lsh.query(M.to_lean(edited)) == ["en"]
    assert lsh.query(M.to_minhash(sigs[2])) == ["zh"]


@pytest.mark.parametrize(("threshold", "seed"), [(0.3, 0), (0.5, 1), (0.8, 2)])
def test_band_pairs_equal_minhashlsh_candidates(threshold: float, seed: int) -> None:
    """The numpy grouping finds exactly the pairs that datasketch's MinHashLSH returns
    when each signature queries those inserted before it."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**32, size=(60, 128), dtype=np.uint64).astype(np.uint32)
    sigs = base[rng.integers(0, 60, size=400)].copy()
    noise = rng.random(sigs.shape) < rng.uniform(0.1, 0.9, size=(400, 1))
    sigs[noise] = rng.integers(0, 2**32, size=int(noise.sum()), dtype=np.uint64).astype(np.uint32)
    b, r = M.lsh_params(threshold, 128)
    lsh = MinHashLSH(num_perm=128, params=(b, r))
    expected = set()
    for i, sig in enumerate(sigs):
        mh = M.to_minhash(sig)
        expected.update((c, i) for c in lsh.query(mh))
        lsh.insert(i, mh, check_duplication=False)
    got = M.band_pairs(sigs, b, r)
    assert len(expected) >= 5  # the case has real candidates, and non-candidates
    assert len(expected) < 400 * 399 // 2
    assert set(map(tuple, got.tolist())) == expected
    assert got.tolist() == sorted(got.tolist())
    assert M.band_pairs(sigs[:1], b, r).shape == (0, 2)


# --------------------------------------------------------------------------- speed (by hand)


def _speed(naive_mb: float) -> None:  # pragma: no cover - run by hand
    import re
    import time
    from pathlib import Path

    raw = Path(__file__).resolve().parents[2] / "shared" / "bench" / "syndicated" / "raw"
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(raw.glob("*.txt"))]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"{len(texts)} files, {mb:.2f} MB of text (one core, best of 5)")
    M.signatures([M.shingle_hashes_many(["warm the tables up: one two three four five"])[0]])

    def best(fn, repeat: int = 5) -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    def per_text() -> None:
        for t in texts:
            h = M.shingle_hashes(t)
            if len(h):
                M.signatures([h])

    def bulk() -> None:
        hs = M.shingle_hashes_many(texts)
        M.signatures([h for h in hs if len(h)])

    hs = [h for h in M.shingle_hashes_many(texts) if len(h)]
    rows = [
        ("fold", lambda: [M.fold(t) for t in texts]),
        ("shingle_hashes, text by text", lambda: [M.shingle_hashes(t) for t in texts]),
        ("shingle_hashes_many", lambda: M.shingle_hashes_many(texts)),
        ("signatures, text by text", lambda: [M.signatures([h]) for h in hs]),
        ("signatures, all at once", lambda: M.signatures(hs)),
        ("shingles + signatures, text by text", per_text),
        ("shingles + signatures, batched", bulk),
    ]
    for name, fn in rows:
        print(f"  {name:40s} {mb / best(fn):8.1f} MB/s")

    # naive: regex words, each shingle joined and hashed with SHA-1 by datasketch, one update each
    word = re.compile(r"\w+")
    sample, size = [], 0.0
    for t in texts:
        if size >= naive_mb * 1e6:
            break
        sample.append(t)
        size += len(t.encode("utf-8"))

    def naive() -> None:
        for t in sample:
            words = word.findall(t.lower())
            m = MinHash(num_perm=128)
            for i in range(len(words) - 4):
                m.update(" ".join(words[i:i + 5]).encode("utf-8"))

    def naive_batch() -> None:
        for t in sample:
            words = word.findall(t.lower())
            m = MinHash(num_perm=128)
            m.update_batch([" ".join(words[i:i + 5]).encode("utf-8") for i in range(len(words) - 4)])

    ours = mb / best(bulk)
    for name, fn in (("datasketch update per shingle (sha1)", naive),
                     ("datasketch update_batch (sha1)", naive_batch)):
        speed = size / 1e6 / best(fn, 1)
        print(f"  {name:40s} {speed:8.2f} MB/s  (batched cleaner is {ours / speed:.0f}x)")


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--naive-mb", type=float, default=1.0, help="MB of text for the slow naive path")
    _speed(parser.parse_args().naive_mb)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), max_size=60), st.integers(1, 40))
def test_bucket_pairs_are_the_pairs_of_equal_rows(rows: list[tuple[int, int]], max_pairs: int) -> None:
    """Every pair of equal rows once, in chunks of about ``max_pairs``; anchor pairs are
    those of a group's first row; shared_rows lists the rows that have an equal."""
    block = np.array(rows, dtype=np.uint32).reshape(len(rows), 2)
    got = [(int(p), int(q), bool(a)) for ps, qs, an in M.bucket_pairs(block, max_pairs)
           for p, q, a in zip(ps, qs, an, strict=True)]
    want = [(p, q) for q in range(len(rows)) for p in range(q) if rows[p] == rows[q]]
    assert sorted((p, q) for p, q, _ in got) == sorted(want)
    assert all(a == (p == min(i for i in range(len(rows)) if rows[i] == rows[p])) for p, _, a in got)
    shared, sizes = M.shared_rows(block)
    assert sorted(shared.tolist()) == [i for i in range(len(rows)) if rows.count(rows[i]) > 1]
    assert sizes.sum() == len(shared) and (sizes >= 2).all()


def _shared_rows_by_full_sort(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """shared_rows' answer from an exact stable sort of every row (column 0 first): the
    reference the core's hash-first grouping must equal."""
    order = np.lexsort(values.T[::-1]) if len(values) else np.empty(0, dtype=np.int64)
    ranked = values[order]
    differs = np.ones(len(values), dtype=bool)
    differs[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
    starts = np.flatnonzero(differs)
    sizes = np.diff(starts, append=len(values))
    multi = sizes >= 2
    starts, sizes = starts[multi], sizes[multi]
    pos = np.repeat(starts - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))
    return order[pos], sizes


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3), st.integers(0, 2**32 - 1)), max_size=80))
def test_shared_rows_equal_an_exact_sort_of_every_row(rows: list[tuple[int, int, int]]) -> None:
    """The hash only narrows the rows down: the groups and their order are those of an
    exact sort of every row (a hash that always collides is checked in the core's tests)."""
    block = np.array(rows, dtype=np.uint32).reshape(len(rows), 3)
    block[1::3, 2] = 7  # some rows equal in all columns
    want = _shared_rows_by_full_sort(block)
    got = M.shared_rows(block)
    assert got[0].tolist() == want[0].tolist()
    assert got[1].tolist() == want[1].tolist()


def test_shared_rows_on_a_large_block_uses_the_threads_and_agrees() -> None:
    rng = np.random.default_rng(3)
    block = rng.integers(0, 40, size=(200_000, 3), dtype=np.uint32)  # many groups, many rows each
    block[:, 2] = rng.integers(0, 2**32, size=200_000, dtype=np.uint32) % 3
    got, want = M.shared_rows(block), _shared_rows_by_full_sort(block)
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()


def test_gauss_legendre_rules_are_kept_in_the_cache_bit_for_bit(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule is worked out once and kept in the user's cache: read back, the nodes and
    weights are the very floats ``leggauss`` gave (so the banding and error rates of a run
    are those of a fresh process), and a later process reads them instead of solving."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    n = 41
    x, w = np.polynomial.legendre.leggauss(n)
    want = ((x + 1.0) / 2.0, w / 2.0)
    M._gauss_legendre.cache_clear()
    first = M._gauss_legendre(n)
    kept = tmp_path / "cleaner" / M._rule_file(n)
    assert kept.is_file()
    M._gauss_legendre.cache_clear()  # a new process: the rule comes from the file
    calls = []
    monkeypatch.setattr(np.polynomial.legendre, "leggauss", lambda k: calls.append(k))
    again = M._gauss_legendre(n)
    M._gauss_legendre.cache_clear()
    assert calls == []
    for got in (first, again):
        assert got[0].tobytes() == want[0].tobytes() and got[1].tobytes() == want[1].tobytes()


def _fresh_rule(n: int) -> tuple[list[float], list[float]]:
    x, w = np.polynomial.legendre.leggauss(n)
    return ((x + 1.0) / 2.0).tolist(), (w / 2.0).tolist()


_N = 4  # the rule lsh_params(0.5, 4) integrates with: b * r <= 4, so n = 4 // 2 + 2
_FRESH = _fresh_rule(_N)
_BAD = [list(reversed(_FRESH[0])), _FRESH[1]]  # nodes decreasing
_OUTSIDE = [[v * 2.0 for v in _FRESH[0]], _FRESH[1]]  # nodes beyond 1
_NEGATIVE = [_FRESH[0], [-v for v in _FRESH[1]]]
_HEAVY = [_FRESH[0], [v * (1.0 + 1e-9) for v in _FRESH[1]]]  # weights summing to 1 + 1e-9


@pytest.mark.parametrize("entry", ["not json", "[" * 100_000, '{"key": "other", "value": [[0.5], [1.0]]}',
                                   "KEYED[[0.5], [1.0]]", "KEYED[[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25]]",
                                   "KEYED[[0.1, 0.2, 0.3, NaN], [0.25, 0.25, 0.25, 0.25]]",
                                   'KEYED[[0.1, 0.2, 0.3, "0.4"], [0.25, 0.25, 0.25, 0.25]]',
                                   "KEYED" + json.dumps(_BAD), "KEYED" + json.dumps(_OUTSIDE),
                                   "KEYED" + json.dumps(_NEGATIVE), "KEYED" + json.dumps(_HEAVY),
                                   "KEYED[[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]]"])
def test_a_kept_rule_that_cannot_be_trusted_is_worked_out_again(entry: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry of the very rule the call uses is corrupt (the last one a well-formed rule
    that is not Gauss-Legendre's: increasing nodes, weights summing to 1, yet another
    banding's error rates): the run's banding and rates are those of the rule worked out
    anew, and the file is rewritten with it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "cleaner").mkdir()
    if entry.startswith("KEYED"):
        entry = json.dumps({"key": M._rules_key(), "value": None}).replace("null", entry[len("KEYED"):])
    kept = tmp_path / "cleaner" / M._rule_file(_N)
    kept.write_text(entry)
    for cached in (M._gauss_legendre, M.lsh_params, M.lsh_error_rates):
        cached.cache_clear()
    try:
        x, w = M._gauss_legendre(_N)
        params = M.lsh_params(0.5, 4)
        rates = M.lsh_error_rates(0.5, *params)
    finally:
        for cached in (M._gauss_legendre, M.lsh_params, M.lsh_error_rates):
            cached.cache_clear()
    assert (x.tolist(), w.tolist()) == _FRESH
    assert params == (MinHashLSH(threshold=0.5, num_perm=4).b, MinHashLSH(threshold=0.5, num_perm=4).r)
    want = M._banding_errors(0.5, np.array([params[0]]), np.array([params[1]]))
    assert rates == (float(want[0][0]), float(want[1][0]))
    assert json.loads(kept.read_text()) == {"key": M._rules_key(), "value": list(_FRESH)}


def test_a_deeply_nested_cache_file_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON nested 100,000 deep makes the parser raise RecursionError: ignored like any
    corrupt entry (the cache never fails a run)."""
    from cleaner import cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "cleaner").mkdir()
    (tmp_path / "cleaner" / "deep.json").write_text("[" * 100_000)
    assert cache.read("deep.json", "k") is None


def test_each_numpy_version_keeps_its_own_rule_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two environments sharing one cache: each keeps a file of its own, and neither
    rewrites the other's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    files = {}
    for version in ("1.26.4", "2.1.0"):
        monkeypatch.setattr(np, "__version__", version)
        M._gauss_legendre.cache_clear()
        try:
            M._gauss_legendre(_N)
        finally:
            M._gauss_legendre.cache_clear()
        files[version] = tmp_path / "cleaner" / M._rule_file(_N)
    assert files["1.26.4"] != files["2.1.0"]
    assert all(f.is_file() and version in f.name for version, f in files.items())
    stamp = files["1.26.4"].stat().st_mtime_ns
    monkeypatch.setattr(np, "__version__", "1.26.4")
    try:
        M._gauss_legendre(_N)  # read, not written again
    finally:
        M._gauss_legendre.cache_clear()
    assert files["1.26.4"].stat().st_mtime_ns == stamp

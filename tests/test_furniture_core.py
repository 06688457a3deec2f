"""The furniture classifier's core (native/src/furniture.rs) against the plain-Python
classifier it replaced (tests/furniture_oracle.py): every per-line value the region finder
reads, the classes, and the whole decision, over random lines built from the characters
where Python's ``re``/``str`` semantics are easy to get wrong (final sigma, dotted capital I,
combining marks, non-ASCII digits, unsegmented scripts, closing quotes) and over real pages."""

from __future__ import annotations

import glob
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.clean import furniture as F
from cleaner.clean.normalise import collapse

from . import furniture_oracle as O

PARAMS = F.FurnitureParams()

# Characters with a story: sigma and cased/ignorable neighbours, İ/ı, marks (\w in Rust,
# not in re), digits that are decimal (٣, ３) or only digits (², ①), scripts without spaces,
# the katakana middle dot (unsegmented but not a letter), quotes and sentence marks.
_TRICKY = ("ΣσςΑΩΟΔ İıIiSsſKk \u0301\u0345ʰ'.:_ ٣३３²①½ 中文。，！？ไทย ๆฯ ・〇 …\"'”’»)(-–,;!?/"
           "\u00a0\u2028\t\n0123456789 aAbBzZ éÉßẞǅ \ud800\udfff")  # lone surrogates: a str may hold them
_WORDS = st.sampled_from(["the", "of", "and", "Home", "News", "said:", "2019", "May", "31,", "12.05.2019", "14:00",
                          "RaceDenny", "YouTube", "Posts:", "Joined:", "Reply", "©", "...", "…", "ΟΔΟΣ", "İSTANBUL",
                          "der", "und", "и", "в", "что", "Ann", "wrote", "1991", "20:15", "3", "1/2/2020"])
_LINE = st.lists(st.one_of(_WORDS, st.text(alphabet=_TRICKY, max_size=8)), max_size=30).map(" ".join)
_ANY = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60)


def _core_lines(lines: list[str]) -> F._Lines:
    return F._analyse(lines, PARAMS)


def _oracle_words(line: str, tokens: list[str]) -> float:
    return float(O._words(line, tokens, O.FurnitureParams()))


def _check_lines(lines: list[str]) -> None:
    """Every per-line value of the core equals the oracle's."""
    got = _core_lines(lines)
    raw = [O._WORD.findall(ln) for ln in lines]
    wrapped = [False] * len(lines)
    classes, sizes = O._classify(lines, O.FurnitureParams(), raw, wrapped)
    assert got.classes == classes
    assert got.sizes == sizes
    assert got.wrapped == wrapped
    counts = Counter(t for r in raw for t in r)
    keys: dict[str, int] = {}
    for i, ln in enumerate(lines):
        flags = got.flags[i]
        assert got.ntok[i] == len(raw[i])
        assert got.nsplit[i] == len(ln.split())
        assert got.words[i] == _oracle_words(ln, raw[i])
        assert got.split_words[i] == _oracle_words(ln, ln.split())
        assert bool(flags & F._F_BYLINE) == O.is_byline(ln)
        assert bool(flags & F._F_ENDS_DATED) == (O._ENDS_DATED.search(ln) is not None)
        assert bool(flags & F._F_ENDS_SENTENCE) == O._ends_sentence(ln)
        assert bool(flags & F._F_TERMINAL) == (O._TERMINAL.search(ln) is not None)
        assert bool(flags & F._F_TRUNCATED) == (O._TRUNCATED.search(ln) is not None)
        if classes[i] == "good":
            assert bool(flags & F._F_TEASER) == O.is_teaser(ln, O.FurnitureParams(), counts)
        key = O._field_key(ln)
        assert (got.keys[i] == 0) == (key == "")
        if key:
            assert keys.setdefault(key, got.keys[i]) == got.keys[i]
            assert bool(flags & F._F_KEY_DIGIT) == any(ch.isdigit() for ch in key)
    assert len(set(keys.values())) == len(keys)  # distinct keys, distinct numbers


def _check_page(lines: list[str]) -> None:
    """The decisions equal the oracle's."""
    assert F.furniture(lines, collapsed=True) == O.furniture(lines, collapsed=True)
    assert F.classify(lines) == O.classify(lines)
    a, b = F.main_block(lines, collapsed=True), O.main_block(lines, collapsed=True)
    assert (a and (a.start, a.end, a.words)) == (b and (b.start, b.end, b.words))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINE, max_size=12))
def test_lines_equal_the_oracle(lines: list[str]) -> None:
    _check_lines([collapse(ln) for ln in lines])


@settings(max_examples=200, deadline=None)
@given(st.lists(_ANY, max_size=8))
def test_uncollapsed_unicode_lines_equal_the_oracle(lines: list[str]) -> None:
    """Arbitrary Unicode, not collapsed: \\s, str.split and $ before a final newline too."""
    _check_lines(lines)


@settings(max_examples=300, deadline=None)
@given(_ANY, _LINE)
def test_predicates_equal_the_oracle(text: str, line: str) -> None:
    core = F._core(PARAMS)
    for s in (text, line):
        if not any("\ud800" <= ch <= "\udfff" for ch in s):  # (a Rust string holds no surrogates)
            assert core.lower(s) == s.lower()
        assert core.words(s) == O._WORD.findall(s)
        assert F.is_teaser(s) == O.is_teaser(s)
        assert F.is_byline(s) == O.is_byline(s)
        assert F._ends_sentence(s) == O._ends_sentence(s)
        for prev in (text, line):
            assert F.wraps_into(prev, s) == O.wraps_into(prev, s)
            english = F.stoplists()["English"]
            assert F.wraps_into(prev, s, english) == O.wraps_into(prev, s, O.stoplists()["English"])


_PROSE = ["It was the best of times and it was the worst of times, in the town that we all knew.",
          "The council said on Monday that the new bridge would open in the spring of next year.",
          "Der Rat hat am Montag gesagt, dass die neue Brücke im Frühjahr eröffnet werden soll.",
          "中国的经济在过去一年中增长了百分之五，这是政府公布的数字。"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_LINE, st.sampled_from(_PROSE), st.just("")), max_size=40))
def test_pages_equal_the_oracle(lines: list[str]) -> None:
    lines = [collapse(ln) for ln in lines]
    _check_lines(lines)
    _check_page(lines)


def test_pick_stoplist_equals_the_oracle() -> None:
    for words in (["the", "of", "der", "der"], ["и", "в", "the"], ["xyz"], [], ["de", "la", "de", "que"]):
        assert F.pick_stoplist(words) == O.pick_stoplist(words)


_PAGES = sorted(glob.glob("/work/shared/bench/boiler/*/*.raw.txt"))


@pytest.mark.slow
@pytest.mark.skipif(not _PAGES, reason="the shared boiler pages are not on this machine")
def test_real_pages_equal_the_oracle() -> None:
    for path in _PAGES:
        lines = [collapse(ln) for ln in Path(path).read_text(encoding="utf-8", errors="replace").split("\n")]
        _check_lines(lines)
        _check_page(lines)

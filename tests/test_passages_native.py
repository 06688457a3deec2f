"""The native passages and line keys against the plain-Python code they replaced.

The oracle below is that code as it was (cleaner/dedup/passages.py and
cleaner.clean.furniture.line_key before the port): the core must give the same paragraphs,
passages, windows, sentences, cuts and keys for any text, so property tests feed both random
Unicode (whitespace of every kind, cased letters, digits, sentence marks, quotes).
"""

from __future__ import annotations

import hashlib
import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.clean.furniture import line_key, line_keys
from cleaner.clean.normalise import collapse
from cleaner.dedup import passages
from cleaner.dedup.passages import cut_windows, paragraphs, passage_text, sentences, split
from cleaner.native import core as native

# --------------------------------------------------------------------------- the oracle

_ENDS_SENTENCE = re.compile(r"""[.!?…:;]["'”’»)\]]*$""")


def _continues(prev: str, line: str, width: int = 0) -> bool:
    if len(prev) < 30:
        return False
    first_word = line.split(" ", 1)[0]
    if len(line) > len(prev) + 1 + len(first_word) + 8:
        return False
    if _ENDS_SENTENCE.search(prev):
        return bool(width) and len(prev) >= 0.85 * width and len(line) <= width + 8
    last, first = prev[-1], line[:1]
    return first.islower() or first.isdigit() or last in ",-–—(/&" or last.islower() or last.isdigit()


def py_paragraphs(text: str) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    prev = ""
    width = 0
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if out and _continues(prev, line, width):
            start, _, joined = out[-1]
            out[-1] = (start, lineno, joined + " " + line)
            width = max(width, len(prev), len(line))
        else:
            out.append((lineno, lineno, line))
            width = 0
        prev = line
    return out


def py_split(text: str, window: int = 200, overlap: int = 50) -> list[tuple[int, int, str]]:
    out = []
    for start, end, para in py_paragraphs(text):
        words = para.split()
        if len(words) <= window:
            out.append((start, end, para))
            continue
        for first in range(0, len(words) - overlap, window - overlap):
            out.append((start, end, " ".join(words[first:first + window])))
    return out


def py_passage_text(paragraph: str, number: int, window: int = 200, overlap: int = 50) -> str:
    words = paragraph.split()
    if len(words) <= window:
        return paragraph
    start = range(0, len(words) - overlap, window - overlap)[number]
    return " ".join(words[start:start + window])


_WORD_ENDS_SENTENCE = re.compile(r"""[^.]{2,}[.!?…]["'”’»)\]]*$|[!?…]["'”’»)\]]*$""")
_TITLES = frozenset("mr mrs ms dr prof st mt gen sen rep gov lt col sgt capt jr sr vs no".split())


def py_sentences(words: list[str]) -> list[tuple[int, int]]:
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


def py_cut_windows(paragraph: str, windows: set[int], window: int = 200, overlap: int = 50) -> str:
    words = paragraph.split()
    if len(words) <= window:
        return ""
    starts = range(0, len(words) - overlap, window - overlap)
    gone = [False] * len(words)
    for w in windows:
        start = starts[w]
        gone[start:start + window] = [True] * len(words[start:start + window])
    kept: list[str] = []
    for first, end in py_sentences(words):
        if 2 * sum(gone[first:end]) < end - first:
            kept.extend(words[first:end])
    return " ".join(kept)


def py_line_key(line: str) -> int:
    return int.from_bytes(hashlib.blake2b(collapse(line).casefold().encode(), digest_size=8).digest(), "little")


# --------------------------------------------------------------------------- strategies

# characters the rules above look at, whitespace of every kind str.split() knows, cased
# letters with multi-character folds (ß, ŉ, ﬁ), digits that are not ASCII, and any other
_SPECIAL = list(" \t\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"
                ".!?…:;,-–—(/&\"'”’»)]“‘«[" "aZßŉﬁİΣσς١²①Ⅰ½ǅᾈK")
_chars = st.one_of(st.sampled_from(_SPECIAL), st.characters(exclude_categories=("Cs",)))
_words = st.lists(st.one_of(st.sampled_from(["The", "talks", "said.", "went", "on,", "and", "Dr.", "U.S.", "5",
                                              "“Yes!”", "(up)", "ß", "Ünïcode", "日本語。"]),
                            st.text(_chars, min_size=1, max_size=8)), max_size=60)
_lines = st.lists(st.one_of(_words.map(" ".join), st.text(_chars, max_size=90)), max_size=30)
_texts = _lines.map("\n".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_paragraphs_and_passages_equal_the_python(text: str) -> None:
    assert paragraphs(text) == py_paragraphs(text)
    assert [(p.line_start, p.line_end, p.text) for p in split(text, 12, 4)] == py_split(text, 12, 4)
    assert all(p.words == len(p.text.split()) for p in split(text, 12, 4))
    assert [(p.line_start, p.line_end, p.text) for p in split(text)] == py_split(text)


#: ``_chars`` but for line breaks: excluded, not filtered out (a filter per character made
#: drawing the lines most of the test's time)
_line_chars = st.one_of(st.sampled_from(_SPECIAL), st.characters(exclude_categories=("Cs",), exclude_characters="\n"))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(_line_chars, min_size=25, max_size=90), min_size=1, max_size=3),
       st.text(st.one_of(st.sampled_from([c for c in _SPECIAL if c != " "]),
                         st.characters(exclude_categories=("Cs",), exclude_characters="\n ")), min_size=1, max_size=9),
       st.integers(-3, 3),
       st.sampled_from(["", ".", "!”", "a", ",", "5", "Z"]), st.sampled_from(["", "a", "A", "5", "«"]))
def test_wrap_boundaries_equal_the_python(above: list[str], first: str, delta: int, end: str, start: str) -> None:
    """Lines whose lengths sit at the edges the wrap test draws (the next line exactly as
    long as the line above plus its first word and the slack, give or take a few; lines as
    long as the block's width, or just shorter), random text would seldom reach."""
    prev = above[-1] + end
    target = len(prev) + 1 + len(start + first) + 8 + delta
    line = start + first + " " + "w" * max(0, target - len(start + first) - 1)
    for text in ("\n".join([*above[:-1], prev, line]), "\n".join([prev, line, prev, line[: len(prev) - 2]])):
        assert paragraphs(text) == py_paragraphs(text)


@settings(max_examples=300, deadline=None)
@given(_words, st.sets(st.integers(0, 8)), st.integers(3, 12), st.integers(0, 2))
def test_windows_sentences_and_cuts_equal_the_python(words: list[str], cut: set[int], window: int,
                                                     overlap: int) -> None:
    words = " ".join(words).split()
    para = " ".join(words)
    assert sentences(words) == py_sentences(words)
    n = len(range(0, len(words) - overlap, window - overlap)) if len(words) > window else 1
    for k in range(n):
        assert passage_text(para, k, window, overlap) == py_passage_text(para, k, window, overlap)
    cut = {k for k in cut if k < n}
    assert cut_windows(para, cut, window, overlap) == py_cut_windows(para, cut, window, overlap)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(_chars, max_size=40), max_size=20))
def test_line_keys_equal_blake2b_of_the_casefolded_collapse(lines: list[str]) -> None:
    assert line_keys(lines) == [py_line_key(ln) for ln in lines]
    assert [line_key(ln) for ln in lines] == [py_line_key(ln) for ln in lines]


_ascii = st.text(st.one_of(st.sampled_from(" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x00\x7fAZaz@[`{"),
                          st.characters(max_codepoint=0x7F)), max_size=60)


@settings(max_examples=400, deadline=None)
@given(st.lists(_ascii, max_size=20))
def test_ascii_line_keys_equal_the_python(lines: list[str]) -> None:
    """ASCII lines take the core's byte path (whitespace and lower case by byte): it must
    give the general definition's keys, for every ASCII whitespace and case boundary."""
    assert line_keys(lines) == [py_line_key(ln) for ln in lines]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.text(_chars, max_size=40), st.text(st.characters(exclude_categories=()), max_size=10)),
                max_size=20))
def test_word_counts_equal_str_split(lines: list[str]) -> None:
    """The core's word counts (the manifest's, and template removal's per line), lone
    surrogates too: a str may hold them."""
    assert [native.word_count(ln) for ln in lines] == [len(ln.split()) for ln in lines]


def test_every_character_gets_the_interpreters_answer() -> None:
    """Each character gets the interpreter's answer for its whitespace and case fold
    (checked through the core, one line key per code point and one text of all of them)."""
    chars = [chr(cp) for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp < 0xE000]
    assert line_keys(chars) == [py_line_key(c) for c in chars]
    # a word split at exactly the interpreter's whitespace
    text = "a".join(chars)
    assert [len(p.text.split()) for p in split(text, 10 ** 9)] == [p.words for p in split(text, 10 ** 9)]
    assert paragraphs(text) == py_paragraphs(text)
    assert [native.word_count(t) for t in [text, *chars]] == [len(text.split()), *(len(c.split()) for c in chars)]


def test_known_cases() -> None:
    """Fixed cases each rule decides (so a failure names the rule, not a random text)."""
    wrapped = "The minister said on Tuesday that the talks would go on until\nthe end of the week."
    assert paragraphs(wrapped) == [(1, 2, wrapped.replace("\n", " "))]
    assert paragraphs("A HEADLINE THAT IS LONG ENOUGH TO BE WRAPPED TEXT\nThe story.") == [
        (1, 1, "A HEADLINE THAT IS LONG ENOUGH TO BE WRAPPED TEXT"), (2, 2, "The story.")]
    assert sentences("He met Dr. Smith. Then 5 more came!".split()) == [(0, 4), (4, 8)]
    assert line_key("  Straße \u3000 HOME ") == py_line_key("strasse home")
    with pytest.raises(IndexError):
        passage_text(" ".join(["w"] * 500), 9)
    with pytest.raises(ValueError):
        split(" ".join(["w"] * 500), 50, 50)
    assert passages.window_starts(450) == range(0, 400, 150)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.one_of(st.sampled_from(" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000\u200b\ud800"),
                                  st.characters()), max_size=200))
def test_word_count_is_len_of_split(text: str) -> None:
    from cleaner.native import core

    assert core.word_count(text) == len(text.split())




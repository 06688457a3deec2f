"""Normalisation: encodings come out right, mojibake is repaired, and it is idempotent."""

from __future__ import annotations

import codecs

import ftfy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.clean.normalise import _TRANSLATE, FTFY_CONFIG, DecodeError, _translate, decode, fix_text, normalise_text

RUSSIAN = "Москва — столица России. Привет, мир!\n"
FRENCH = "À Noël, l'élève a reçu un cadeau très spécial.\n"


@pytest.mark.parametrize(
    "data, text, encoding",
    [
        (RUSSIAN.encode("utf-8"), RUSSIAN, "utf-8"),
        (codecs.BOM_UTF8 + RUSSIAN.encode("utf-8"), RUSSIAN, "utf-8-sig"),
        (RUSSIAN.encode("utf-16"), RUSSIAN, "utf-16"),
        (FRENCH.encode("utf-16-le"), FRENCH, "utf-16-le"),
        (FRENCH.encode("utf-16-be"), FRENCH, "utf-16-be"),
    ],
)
def test_decode_exact(data: bytes, text: str, encoding: str) -> None:
    assert decode(data) == (text, encoding)


def test_decode_cp1251_russian() -> None:
    text = (RUSSIAN * 5).encode("cp1251")
    out, enc = decode(text)
    assert out == RUSSIAN * 5
    assert enc in ("cp1251", "windows-1251")


def test_decode_latin1_page() -> None:
    data = (FRENCH * 5).encode("latin-1")
    out, enc = decode(data)
    assert out == FRENCH * 5, enc


@pytest.mark.parametrize(
    "data, cause",
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "PNG"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"hello\x00world\x00\x01\x02 binary\xff\xfe\x00\x00 data" * 3, "NUL"),
    ],
)
def test_decode_rejects_binary(data: bytes, cause: str) -> None:
    with pytest.raises(DecodeError, match=cause):
        decode(data)


def test_mojibake_fixed_quotes_kept() -> None:
    broken = "The NATOâ€™s role â€” “exceptionally destructive”"
    assert normalise_text(broken) == "The NATO’s role — “exceptionally destructive”"


def test_spaces_controls_blank_lines() -> None:
    raw = "READ ALSO:\u00a0The West\u200b is\r\nhere\x07\r\n\r\n\r\n\r\n  next\t line  \n"
    assert normalise_text(raw) == "READ ALSO: The West is\nhere\n\nnext line"


def test_nfc() -> None:
    assert normalise_text("e\u0301te\u0301") == "\u00e9t\u00e9"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_idempotent(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once


MOJIBAKE = st.sampled_from(["â€™", "Ã©", "Ã¨", "â€”", "РІ", "Ð¿Ñ€Ð¸", "Â\xa0", "&amp;", "&lt;", "ﬁ", "\r\n",
                            "\x1b[1m", "\x85", "e\u0301", "\ufeff", "<b>", "’", "“", "—", "Привет", "日本語",
                            "\n", "\n\n", "Ã ", "Â ", "Œ\n",
                            "&", "R&D", "&#233;", "&#x41;", "&eacute;", "&EACUTE;", "&nosuch;", ";"])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.text(), MOJIBAKE, st.text(alphabet=st.characters(max_codepoint=0x2FF))), max_size=12)
       .map("".join))
def test_ftfy_fast_path_equals_ftfy(text: str) -> None:
    """Skipping ftfy on texts without trigger characters must not change any result."""
    assert fix_text(text) == ftfy.fix_text(text, FTFY_CONFIG)


@pytest.mark.parametrize("text", ["plain ascii & entity &amp; here", "caf\u00c3\u00a9", "x\x1b[31mred\x1b[0m",
                                  "Tom &amp; Jerry\n<b>bold</b> &amp;\ncaf\u00c3\u00a9\n",
                                  # non-ASCII, tested as a whole: mojibake only at a line start
                                  "Привет, мир\nÃ la carte\n"])
def test_ftfy_fast_path_triggers(text: str) -> None:
    assert fix_text(text) == ftfy.fix_text(text, FTFY_CONFIG)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.text(), st.sampled_from([chr(c) for c in _TRANSLATE]), MOJIBAKE), max_size=12)
       .map("".join))
def test_translate_equals_str_translate(text: str) -> None:
    """The search-and-substitute fast path replaces exactly what ``str.translate`` would."""
    assert _translate(text) == text.translate(_TRANSLATE)


def test_html_declared_charset() -> None:
    """An HTML page's <meta charset> beats detection; a wrong declaration does not."""
    from cleaner.clean.normalise import declared_charset

    page = '<html><head><meta charset="iso-8859-2"></head><body><p>Zażółć gęślą jaźń w Łodzi.</p></body></html>'
    data = page.encode("iso-8859-2")
    text, enc = decode(data, html=True)
    assert text == page and enc == "iso8859-2"
    # the WHATWG rule: an ISO-8859-1 label means windows-1252 (curly quotes in 0x80-0x9F)
    quoted = ('<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
              '<p>\u201cQuoted\u201d caf\u00e9</p>')
    assert decode(quoted.encode("cp1252"), html=True) == (quoted, "cp1252")
    assert declared_charset(b"<meta charset='no-such-codec'>") is None
    # a declaration the bytes contradict (undefined in it) falls back to detection
    sentence = "\u041f\u0440\u0438\u0432\u0435\u0442! \u042f \u0437\u0434\u0435\u0441\u044c. "
    wrong = '<meta charset="iso-8859-6"><p>' + sentence * 20
    text, enc = decode(wrong.encode("cp1251"), html=True)
    assert enc != "iso8859-6" and "\u041f\u0440\u0438\u0432\u0435\u0442" in text


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.text(), MOJIBAKE, st.text(alphabet=st.characters(max_codepoint=0x2FF))), max_size=12)
       .map("".join))
def test_mojibake_search_around_non_ascii_equals_whole_search(text: str) -> None:
    """Searching only around the non-ASCII characters finds mojibake exactly when a search
    of the whole text does (ftfy's pattern needs a non-ASCII character in every match)."""
    from cleaner.clean.normalise import _badness_lines, _has_mojibake

    pattern, width = _badness_lines()
    assert pattern is not None and width is not None  # the installed ftfy's pattern allows both
    assert _has_mojibake(text) == (pattern.search(text) is not None)


def test_line_local_patterns() -> None:
    """Whole-text search stands for line-by-line search only without lookaround, anchors
    other than ^, or backreferences."""
    import re._parser as sre_parse

    from cleaner.clean.normalise import _line_local

    assert _line_local(sre_parse.parse(r"^[ÃÂ] |a(?:b|[cd])+|x{2,3}"))
    for pattern in (r"a(?=b)", r"(?<!x)y", r"a$", r"\bword", r"(a)\1", r"(?:z|(?!q)r)", r"(?:k|a\Z)"):
        assert not _line_local(sre_parse.parse(pattern)), pattern

"""Normalisation: encodings come out right, mojibake is repaired, and it is idempotent."""

from __future__ import annotations

import codecs
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import ftfy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.clean.normalise import (
    FTFY_CONFIG,
    DecodeError,
    collapse,
    collapse_lines,
    compile_badness,
    decode,
    fix_text,
    normalise_text,
    normaliser,
)
from cleaner.native import core as _native

# ---- plain-Python oracles: normalisation as it was defined before the core ran it

_TRANSLATE = {
    **dict.fromkeys(map(ord, "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
                             "\u200a\u202f\u205f\u3000\t\f\v"), " "),
    **dict.fromkeys([*range(0, 9), *range(14, 32), 0x7F, *range(0x80, 0xA0),
                     0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD]),
    0x0B: " ", 0x0C: " ", 0x2028: "\n", 0x2029: "\n", 0x85: "\n",
}


def reference_normalise(text: str) -> str:
    """normalise_text with ftfy called on every text (no gate), str.translate and regexes."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for _ in range(3):
        fixed = ftfy.fix_text(text, FTFY_CONFIG)
        if not fixed.isascii():
            fixed = unicodedata.normalize("NFC", fixed)
        translated = fixed.translate(_TRANSLATE)
        done = translated == fixed or translated == text
        text = translated
        if done:
            break
    text = re.sub(r" {2,}", " ", text)
    text = re.sub(r"[ ]+\n", "\n", text)
    text = re.sub(r"\n[ ]+", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip(" \n")

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
       .map("".join).filter(lambda t: not any(0xD800 <= ord(c) < 0xE000 for c in t)))
def test_translate_equals_str_translate(text: str) -> None:
    """The core's translation replaces exactly what ``str.translate`` with the table would."""
    assert _native.translate(text) == text.translate(_TRANSLATE)


_DEBRIS = st.sampled_from([*map(chr, _TRANSLATE), "\r", "\r\n", " ", "  ", "\n \n", "\ud800", "\udfff\ud83d",
                           "Ã\u00ad©", "â€\x07™", "\u0301", "\u0cc2", "\u1161", "\u0327\u0301", "Σ"])


def _decoded_bytes() -> st.SearchStrategy[str]:
    return st.tuples(st.binary(max_size=60), st.sampled_from(["utf-8", "cp1252", "latin-1"])).map(
        lambda b: b[0].decode(b[1], "surrogateescape" if b[1] == "utf-8" else "replace"))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.text(), MOJIBAKE, _DEBRIS, _decoded_bytes(),
                          st.text(alphabet=st.characters(max_codepoint=0x2FF))), max_size=12).map("".join))
def test_normalise_text_equals_always_calling_ftfy(text: str) -> None:
    """The core's rounds, gate and whitespace canon give what ftfy on every text, NFC,
    ``str.translate`` and the regular expressions give (random Unicode, controls, lone
    surrogates, random bytes decoded)."""
    assert normalise_text(text) == reference_normalise(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([" ", "  ", "\n", "\n\n", "\t", "\r", "\r\n", "a", "bc", "\u00e9", "\u3000", "\xa0",
                                 "&amp;", "<", "\x07"]), max_size=60).map("".join))
def test_whitespace_runs_and_line_endings_equal_the_reference(text: str) -> None:
    """The core's one pass (line endings, gate, translation) and its canon on bytes, which
    looks for runs eight bytes a step, on texts made mostly of runs of spaces and newlines."""
    assert normalise_text(text) == reference_normalise(text)


@pytest.mark.parametrize("text", ["", "\n\n", "a\x00\u00adb", "Ã\x00©", "x\u2028\u2028\u2028y", "\ud800 a",
                                  "e\u0301\u0327", "\u0cc6\u0cc2", "\u1100\u1161", "a\x85\x85\x85b", "ΑΣ ΣΑ",
                                  "&amp;\n<p>&amp;", "x" * 40 + "\u00c3\u00a9", "\r\r\n \t"])
def test_normalise_text_examples(text: str) -> None:
    assert normalise_text(text) == reference_normalise(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.text(), MOJIBAKE, st.text(alphabet=st.characters(max_codepoint=0x2FF))), max_size=12)
       .map("".join).filter(lambda t: not any(0xD800 <= ord(c) < 0xE000 for c in t)))
def test_core_mojibake_search_is_ftfys(text: str) -> None:
    """The core's automaton, compiled from ftfy's pattern, finds mojibake where ftfy does."""
    from ftfy.badness import is_bad

    assert normaliser().is_bad(text) == is_bad(text)


_TOY = [r"^[ÃÂ] ", r"[a-z]\s?[ÃÂ][ ]", r"[Œœ][^A-Za-z]", r"ГўВЂВ.[A-Za-z ]", r"[à-ñ][¡«]\w", r"x\d\D\S\W"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ Ãœ\nГўВЂ.xà¡«_9٣\u3000b")))
def test_compiled_patterns_search_like_re(text: str) -> None:
    pattern = "|".join(_TOY)
    n = _native.Normaliser([], True, compile_badness(pattern, 0), 1000)
    assert n.is_bad(text) == (re.search(pattern, text) is not None)


def test_patterns_the_automaton_cannot_run_are_refused() -> None:
    for pattern in (r"a(?=b)", r"(?<!x)y", r"a+", r"(a)\1", r"(ab)", r"a$", r"\bword", r"a|"):
        assert compile_badness(pattern, 0) is None, pattern
    assert compile_badness("é", re.IGNORECASE) is None
    # without an automaton every non-ASCII line goes to ftfy: still the same result
    n = _native.Normaliser([], True, None, 1000)
    assert _native.ftfy_spans(n, "abc\ndéf\n") == [(4, 8, True)]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.text(), _DEBRIS, _decoded_bytes()), max_size=8).map("".join))
def test_collapse_is_split_join(line: str) -> None:
    want = " ".join(line.split())
    assert collapse(line) == want
    assert collapse_lines([line, "", line + " x"]) == [want, "", " ".join((line + " x").split())]


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


def test_import_ftfy_imports_it_and_makes_its_first_fix_tables() -> None:
    """``import_ftfy`` (what the driver calls before its workers fork) leaves ftfy imported
    and its sloppy codecs made, in a process that had neither."""
    code = ("import sys, codecs\nfrom cleaner.clean.normalise import import_ftfy\n"
            "assert 'ftfy' not in sys.modules\nimport_ftfy()\n"
            "assert 'ftfy' in sys.modules and 'ftfy.bad_codecs.sloppy' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])

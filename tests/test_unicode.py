"""The core's Unicode tables (native/src/unicode.rs) against the interpreter, code point by
code point: every flag, the general category, ``str.lower`` (with Final_Sigma) and
``str.casefold``. A wrong entry in the embedded tables, or an interpreter whose Unicode
differs from them without its own being installed, fails here."""

from __future__ import annotations

import subprocess
import sys
import unicodedata

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cleaner import unicode as U
from cleaner.native import core as _native

ALL = range(0x110000)
CHARS = [chr(cp) for cp in ALL if not 0xD800 <= cp < 0xE000]  # a Rust str holds no surrogates
SIGMA = "\u03a3"


def _core_flags() -> np.ndarray:
    return np.frombuffer(_native.unicode_flags(), dtype="<u4")


def _bit(name: str) -> int:
    return 1 << U.FLAGS.index(name)


@pytest.mark.parametrize("name, method", [
    ("space", str.isspace), ("alpha", str.isalpha), ("alnum", str.isalnum), ("decimal", str.isdecimal),
    ("digit", str.isdigit), ("numeric", str.isnumeric), ("upper", str.isupper), ("lower", str.islower),
    ("printable", str.isprintable),
])
def test_each_flag_is_the_str_method(name: str, method: object) -> None:
    core = (_core_flags() & _bit(name)) != 0
    want = np.fromiter((method(chr(cp)) for cp in ALL), dtype=bool, count=len(ALL))  # type: ignore[operator]
    wrong = np.flatnonzero(core != want)
    assert wrong.size == 0, f"{name}: {len(wrong)} code points differ, first {int(wrong[0]):#x}"


def test_category_is_unicodedatas() -> None:
    core = (_core_flags() >> U.CATEGORY_SHIFT) & 0x1F
    index = {c: i for i, c in enumerate(U.CATEGORIES)}
    want = np.fromiter((index[unicodedata.category(chr(cp))] for cp in ALL), dtype=np.uint32, count=len(ALL))
    wrong = np.flatnonzero(core != want)
    assert wrong.size == 0, f"{len(wrong)} categories differ, first {int(wrong[0]):#x}"


def test_mapping_flags_say_which_code_points_map() -> None:
    flags = _core_flags()
    for name, method in (("has_lower", str.lower), ("has_fold", str.casefold)):
        core = (flags & _bit(name)) != 0
        want = np.fromiter((method(chr(cp)) != chr(cp) for cp in ALL), dtype=bool, count=len(ALL))
        assert np.array_equal(core, want), name


def test_lower_and_casefold_of_every_code_point() -> None:
    text = "\n".join(CHARS)
    assert _native.unicode_lower(text) == text.lower()
    assert _native.unicode_casefold(text) == text.casefold()


@pytest.mark.parametrize("context", ["{c}" + SIGMA, "A{c}" + SIGMA, "A" + SIGMA + "{c}", "A" + SIGMA + "{c}b"])
def test_final_sigma_next_to_every_code_point(context: str) -> None:
    """Which characters count as cased and which are skipped as case-ignorable, before and
    after a capital sigma (CPython's handle_capital_sigma)."""
    text = "\n".join(context.format(c=c) for c in CHARS)
    assert _native.unicode_lower(text) == text.lower()


_SIGMA_NEIGHBOURS = st.sampled_from("ΣΑσ'.\u0301\u00ad:·ʹ ͅ")


@given(st.text(alphabet=st.one_of(_SIGMA_NEIGHBOURS, st.characters(blacklist_categories=("Cs",)))))
def test_lower_of_random_text(text: str) -> None:
    assert _native.unicode_lower(text) == text.lower()
    assert _native.unicode_casefold(text) == text.casefold()


def test_embedded_tables_are_this_interpreters_version() -> None:
    # the embedded tables are in use exactly when the versions match (else cleaner.unicode installs)
    assert _native.UNICODE_VERSION == "14.0.0"
    if unicodedata.unidata_version != _native.UNICODE_VERSION:
        pytest.skip("this interpreter installs its own tables")


@pytest.mark.slow
def test_installed_tables_answer_like_the_embedded_ones() -> None:
    """The fallback for another Unicode version: the tables built from the interpreter at run
    time, installed in a fresh process, give the answers the embedded ones give."""
    code = """
import numpy as np, sys
from cleaner import unicode as U
from cleaner.dedup.minhash import fold
from cleaner.native import core as _native
before = bytes(_native.unicode_flags())
text = "\\n".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
lower, folded = _native.unicode_lower(text), fold("Straße ÀB Σ x\\u00adY")
flags, lo, fo = U.interpreter_tables()
_native.install_unicode("test", flags, *lo, *fo)
assert bytes(_native.unicode_flags()) == before
assert _native.unicode_lower(text) == lower and fold("Straße ÀB Σ x\\u00adY") == folded == "strasse àb σ xy"
try:
    _native.install_unicode("other", flags, *lo, *fo)
except ValueError as e:
    print("refused:", e)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "refused: Unicode test tables already installed" in out.stdout


def test_combining_class_and_nfc_no_of_every_code_point() -> None:
    flags = _core_flags()
    core = (flags >> U.COMBINING_SHIFT) & 0xFF
    want = np.fromiter((unicodedata.combining(chr(cp)) for cp in ALL), dtype=np.uint32, count=len(ALL))
    assert np.array_equal(core, want)
    no = (flags & _bit("nfc_no")) != 0
    want_no = np.fromiter((unicodedata.normalize("NFC", chr(cp)) != chr(cp) for cp in ALL), dtype=bool,
                          count=len(ALL))
    assert np.array_equal(no, want_no)


def test_nfc_quick_check_never_calls_an_unnormalised_pair_normalised() -> None:
    """Every canonical pair that NFC composes (and every Hangul LV pair) is Maybe or No."""
    pairs = ["\u1100\u1161", "\uac00\u11a8"]
    for c in CHARS:
        d = unicodedata.decomposition(c)
        if d and not d.startswith("<") and len(d.split()) == 2:
            pairs.append("".join(chr(int(x, 16)) for x in d.split()))
    for s in pairs:
        if not unicodedata.is_normalized("NFC", s):
            assert _native.unicode_nfc_quick_check(s) != 0, [hex(ord(c)) for c in s]


_MARKS = st.sampled_from(["e\u0301", "\u0301", "\u0327", "\u0cc6\u0cc2", "\u1100\u1161", "\u00e9", "\u212b",
                          "\u0f73", "\u0345", "a\u0323\u0302", "a\u0302\u0323"])


@given(st.lists(st.one_of(st.text(alphabet=st.characters(blacklist_categories=("Cs",))), _MARKS)).map("".join))
def test_nfc_quick_check_agrees_with_is_normalized(text: str) -> None:
    quick = _native.unicode_nfc_quick_check(text)
    if quick != 2:
        assert (quick == 0) == unicodedata.is_normalized("NFC", text)

"""Short non-UTF-8 texts decode right where their bytes allow one sensible reading.

Cases are kept in tests/data/short_encodings.json, in the style of ftfy's test cases: a
label, the original text, the encoding its bytes are in, and ``expect``: "pass", or
"fail" for a case whose bytes have two sensible readings (recorded, so a change that
fixes or breaks it shows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cleaner.clean.normalise import decode, implausibility, letter_fit

CASES = json.loads((Path(__file__).parent / "data" / "short_encodings.json").read_text(encoding="utf-8"))


def _params() -> list[object]:
    out = []
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason="two sensible readings")] if case["expect"] == "fail" else []
        out.append(pytest.param(case, id=case["label"], marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_short_text_decodes_right(case: dict[str, str]) -> None:
    data = case["original"].encode(case["encoding"])
    text, encoding = decode(data)
    assert text == case["original"], (encoding, text)
    assert data.decode(encoding) == case["original"]


def test_cases_cover_languages_lengths_and_encodings() -> None:
    passing = [c for c in CASES if c["expect"] == "pass"]
    assert {c["encoding"] for c in passing} >= {"cp1251", "koi8_r", "cp1253", "iso8859_7", "latin_1", "cp1252",
                                                "cp1250"}
    lengths = [len(c["original"]) for c in passing]
    assert min(lengths) <= 12 and max(lengths) >= 50 and all(10 <= n <= 60 for n in lengths)


def test_a_wrong_reading_is_less_plausible() -> None:
    right = "Привет, мир! Это короткий текст."
    wrong = right.encode("cp1251").decode("cp1252")  # 'Ïðèâåò, ìèð! ...'
    assert implausibility(right) == 0 < implausibility(wrong)
    latin = "Café crème à la façon"
    assert implausibility(latin) < implausibility(latin.encode("latin_1").decode("cp1251"))
    greek = "Ευχαριστώ πολύ"
    assert letter_fit(greek) > letter_fit(greek.encode("cp1253").decode("cp1251")) + 0.15


def test_long_texts_keep_the_detectors_reading() -> None:
    """The override is for what the detector cannot see: a page of Russian or of French
    text decodes as before."""
    ru = ("Правительство объявило о новых мерах поддержки малого бизнеса. " * 40).encode("cp1251")
    assert decode(ru) == (ru.decode("cp1251"), "cp1251")
    fr = ("Le conseil municipal a voté le budget de l'année prochaine à l'unanimité. " * 40).encode("cp1252")
    assert decode(fr)[0] == fr.decode("cp1252")


def _implausibility_oracle(text: str) -> float:
    """implausibility() as it was before its ASCII words were counted in one step and its
    glued symbols found by scanning for symbols (a lookbehind at every character was most
    of the time of decoding a non-UTF-8 HTML page): the fast version must give the same
    float on every text."""
    import re
    from collections import Counter

    from cleaner.clean.normalise import _WORD_PUNCT, _script

    letters = re.compile(r"[^\W\d_]+")
    glued_symbol = re.compile(r"(?<=[^\W\d_])[^\w\s\x00-\x7f]|[^\w\s\x00-\x7f](?=[^\W\d_])")
    inner_symbol = re.compile(r"(?<=[^\W\d_])[^\w\s\x00-\x7f](?=[^\W\d_])")
    words = letters.findall(text)
    scripts: Counter[str] = Counter()
    word_scripts = []
    for w in words:
        ws = {"LATIN" if c.isascii() else _script(c) for c in w} - {""}
        word_scripts.append(ws)
        for c in w:
            scripts["LATIN" if c.isascii() else _script(c)] += 1
    scripts.pop("", None)
    main = scripts.most_common(1)[0][0] if scripts else "LATIN"
    cost = 0.0
    for w, ws in zip(words, word_scripts, strict=True):
        n = len(w)
        if len(ws) > 1:
            cost += n
            continue
        if not ws:
            continue
        script = next(iter(ws))
        if script != main and not w.isascii():
            cost += n
        if script == "LATIN":
            accented = sum(not c.isascii() for c in w) - 1
            if accented >= 1:
                cost += accented * accented / n
        if n >= 2 and any(a.islower() and b.isupper() and not (a.isascii() and b.isascii())
                          for a, b in zip(w, w[1:], strict=False)):
            cost += n
    cost += sum(1 for m in glued_symbol.finditer(text) if m.group() not in _WORD_PUNCT)
    cost += 2 * sum(1 for _ in inner_symbol.finditer(text))
    return cost


_MIXED = "abcXYZ ,.-\n_1²½ªºÀéßÿŁžПривЕТмиρστΣאבعرب¿³æ¶÷’«»€©…" + "\u0301\u200b\u3000"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.one_of(st.sampled_from(_MIXED), st.characters()), max_size=120))
def test_implausibility_equals_its_oracle(text: str) -> None:
    assert implausibility(text) == _implausibility_oracle(text)


def test_implausibility_equals_its_oracle_on_real_pages_in_every_reading(shared: Path) -> None:
    from cleaner.clean.normalise import _SINGLE_BYTE

    pages = sorted((shared / "bench" / "boiler").glob("*/*.html"))[::25]
    samples = [p.read_bytes()[:65536] for p in pages] + [t.encode(e) for t, e in (
        ("Привет, мир! Это короткий текст.", "cp1251"), ("Καλημέρα κόσμε", "cp1253"),
        ("Zażółć gęślą jaźń", "cp1250"), ("Ça va très bien, naïve façade", "cp1252"))]
    checked = 0
    for data in samples:
        for name in _SINGLE_BYTE:
            try:
                text = data.decode(name)
            except UnicodeDecodeError:
                continue
            assert implausibility(text) == _implausibility_oracle(text), name
            checked += 1
    assert checked >= 4 * len(_SINGLE_BYTE) - 8


# ---- plausible_encoding reads the single-byte readings from their letter runs -------------

_BYTES = st.binary(max_size=160) | st.lists(st.sampled_from(
    [b"a", b"Zo", b"word", b" ", b" ", b"\n", b"1", b"_", b".", b"'", b"\x01", b"\x7f", b"\x80", b"\x9f", b"\xa0",
     b"\xa9", b"\xb2", b"\xb5", b"\xbf", b"\xc0", b"\xd3", b"\xd7", b"\xe9", b"\xf0", b"\xff", b"\xd3\xe9\xf0\xe0",
     b"\xc1\xe0\xea"]), max_size=80).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(_BYTES)
@example(b"Zo Zo Zo \xd3\xd3\xd3")  # the ASCII words left out decide the main script
def test_letter_runs_give_every_single_byte_reading_its_whole_cost(data: bytes) -> None:
    """A reading of the letter runs (:func:`_letter_runs`) fails, has control characters
    and costs exactly as the reading of the whole bytes, in every encoding compared."""
    from cleaner.clean.normalise import _ASCII_CONTROL, _CONTROLS, _SINGLE_BYTE, _letter_runs

    reduced, ascii_letters = _letter_runs(data)
    for name in _SINGLE_BYTE:
        try:
            whole = data.decode(name)
        except UnicodeDecodeError:
            with pytest.raises(UnicodeDecodeError):
                reduced.decode(name)
            continue
        text = reduced.decode(name)
        assert (_CONTROLS.search(whole) is not None) == (
            _ASCII_CONTROL.search(data) is not None or _CONTROLS.search(text) is not None), name
        assert implausibility(text, ascii_letters) == implausibility(whole), name


def _plausible_encoding_oracle(data: bytes, detected: str | None) -> str | None:
    """plausible_encoding() as it was before it read the single-byte readings from their
    letter runs: every reading decoded whole."""
    from cleaner.clean.normalise import (
        _CONTROLS,
        _FIT_MARGIN,
        _OVERRIDE_MIN,
        _OVERRIDE_RATIO,
        _SINGLE_BYTE,
        _TIE,
        _main_script,
    )

    sample = data[:65536]
    readings: dict[str, float] = {}
    texts: dict[str, str] = {}
    for name in dict.fromkeys([*([detected] if detected else []), *_SINGLE_BYTE]):
        try:
            text = sample.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        if name != detected and _CONTROLS.search(text):
            continue
        readings[name], texts[name] = implausibility(text), text
    if not readings:
        return detected
    order = list(readings)
    low = min(readings.values())
    if detected is not None and detected in readings and not (
            low <= _OVERRIDE_RATIO * readings[detected] and readings[detected] - low >= _OVERRIDE_MIN):
        low = readings[detected]
    tied = [n for n in order if readings[n] <= low + _TIE]
    default = detected if detected in tied else tied[0]
    script = _main_script(texts[default])
    if not script:
        return default
    rivals = [n for n in tied if n != default and (script != "LATIN" or _main_script(texts[n]) != script)]
    if not rivals:
        return default
    fit = {n: letter_fit(texts[n]) for n in [default, *rivals]}
    best = max(rivals, key=lambda n: fit[n])
    return best if fit[best] >= fit[default] + _FIT_MARGIN else default


@settings(max_examples=200, deadline=None)
@given(_BYTES, st.sampled_from([None, "cp1252", "cp1251", "koi8_r", "shift_jis", "mac_roman"]))
def test_plausible_encoding_equals_its_oracle(data: bytes, detected: str | None) -> None:
    from cleaner.clean.normalise import plausible_encoding

    assert plausible_encoding(data, detected) == _plausible_encoding_oracle(data, detected)


def test_plausible_encoding_equals_its_oracle_on_real_pages(shared: Path) -> None:
    from cleaner.clean.normalise import plausible_encoding

    pages = [p.read_bytes() for p in sorted((shared / "bench" / "boiler").glob("*/*.html"))]
    legacy = [b for b in pages if not _is_utf8(b)][::6]
    assert len(legacy) >= 10
    for data in legacy:
        for detected in (None, "cp1252"):
            assert plausible_encoding(data, detected) == _plausible_encoding_oracle(data, detected)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True

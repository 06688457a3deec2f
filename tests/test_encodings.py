"""Short non-UTF-8 texts decode right where their bytes allow one sensible reading.

Cases are kept in tests/data/short_encodings.json, in the style of ftfy's test cases: a
label, the original text, the encoding its bytes are in, and ``expect``: "pass", or
"fail" for a case whose bytes have two sensible readings (recorded, so a change that
fixes or breaks it shows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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

"""Pass 1 of a document is one call to the core (``native/src/assemble.rs``, through
``stages.clean_keys``): the rules, the furniture classifier and everything the pipeline keeps
of their decision. These tests hold it to the Python it replaced, kept here as the oracle
(``explain`` + ``clean`` + ``key_lines`` + ``doc_keys`` as they were), on generated pages and
on the shared benchmark's real ones, and check that ``rules explain``'s trace is what
``clean`` decided."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.clean import furniture as chrome
from cleaner.clean.normalise import collapse, html_to_text, normalise_text
from cleaner.clean.rules import RuleSet
from cleaner.clean.stages import CleanSettings, Trace, clean, clean_keys
from cleaner.document import Document
from cleaner.native import core

SETTINGS = CleanSettings()

# --------------------------------------------------------------------------- the oracle
# The Python of cleaner.clean.stages.explain/clean and cleaner.clean.furniture.key_lines/
# doc_keys before they became one call to the core, with its constants written out.

FURNITURE_ID = "chrome.furniture"
HEAD_LINES = 120
BLANK_KEY = 0xB4B2_7974_57A0_A6E4


def py_line_key(line: str) -> int:
    return int.from_bytes(hashlib.blake2b(collapse(line).casefold().encode(), digest_size=8).digest(), "little")


def _explain(text: str, ruleset: RuleSet, furniture: bool) -> tuple[list[str], list[str | None], list[str], list[int]]:
    lines = text.split("\n")
    words = [len(ln.split()) for ln in lines]
    applied = ruleset.apply(lines)
    marks = list(applied.marks)
    body: list[str] = []
    if furniture:
        kept_idx = [i for i, m in enumerate(marks) if m is None]
        body = [applied.lines[i] for i in kept_idx]
        drop = chrome.furniture(body, collapsed=True)
        for i, d in zip(kept_idx, drop, strict=True):
            if d:
                marks[i] = FURNITURE_ID
    for i, rid in applied.edits.items():
        if marks[i] is None:
            marks[i] = f"~{rid}"
    return applied.lines, marks, body, words


def oracle(doc: Document, settings: CleanSettings, trace: Trace | None = None) -> tuple[Document, list[int] | None]:
    """The old ``clean`` (from normalisation on), ``key_lines`` and ``doc_keys``."""
    text = doc.text
    if doc.kind == "html":
        text = html_to_text(text)
    text = normalise_text(text)
    lines, marks, body, words = _explain(text, settings.ruleset(), settings.furniture and doc.kind != "html")
    if trace is not None:
        trace.extend([line, mark] for line, mark in zip(lines, marks, strict=True) if line)
    words_in = doc.words_in = sum(words)
    kept = []
    kept_at = [i for i, m in enumerate(marks) if m is None or m.startswith("~")]
    first_kept = kept_at[0] if kept_at else len(marks)
    last_kept = kept_at[-1] if kept_at else -1
    doc.head = ([ln for ln in lines[:first_kept] if ln][:HEAD_LINES]
                + [ln for ln in lines[last_kept + 1:] if ln][-HEAD_LINES:])
    for line, mark, n in zip(lines, marks, words, strict=True):
        if not line:
            continue
        if mark is None:
            kept.append(line)
        elif mark.startswith("~"):
            kept.append(line)
            doc.removed[mark[1:]] += 1
            doc.removed_words[mark[1:]] += n - len(line.split())
        else:
            doc.removed[mark] += 1
            doc.removed_words[mark] += n
    doc.text = "\n\n".join(ln for ln in kept if ln)
    doc.body = "".join(ln + "\n" for ln in body)
    if not doc.text:
        doc.fail("empty", "nothing left after cleaning" if words_in else "no text", "clean")
        return doc, None
    doc.line_keys = [py_line_key(ln) for ln in doc.text.split("\n\n")]
    doc.head_keys = [py_line_key(ln) for ln in doc.head]
    keys = [*doc.line_keys, *doc.head_keys]
    lines_keyed = [*doc.text.split("\n\n"), *doc.head]
    keys = [k for ln, k in zip(lines_keyed, keys, strict=True) if k != BLANK_KEY or ln.strip()]
    return doc, sorted(set(keys))


def _fields(doc: Document) -> tuple[object, ...]:
    return (doc.text, doc.head, doc.body, list(doc.removed.items()), list(doc.removed_words.items()), doc.words_in,
            doc.status, doc.stage, doc.reason, doc.line_keys, doc.head_keys)


def assert_same(text: str, kind: str = "text", settings: CleanSettings = SETTINGS) -> tuple[Document, Trace]:
    """clean_keys and the oracle agree on every field, the keys and the trace."""
    trace: Trace = []
    want_trace: Trace = []
    got, keys = clean_keys(Document(path="site/p.txt", kind=kind, text=text), settings, trace)
    want, want_keys = oracle(Document(path="site/p.txt", kind=kind, text=text), settings, want_trace)
    assert _fields(got) == _fields(want)
    assert (None if keys is None else keys.tolist()) == want_keys
    assert keys is None or keys.dtype == np.uint64
    assert trace == want_trace
    return got, trace


def test_the_core_constants_are_the_pythons() -> None:
    assert (core.FURNITURE_ID, core.HEAD_LINES, core.BLANK_KEY) == (FURNITURE_ID, HEAD_LINES, BLANK_KEY)
    assert py_line_key("") == BLANK_KEY == chrome.BLANK_KEY


# --------------------------------------------------------------------------- generated pages

PROSE = [
    "The council met on Tuesday to settle the budget for the coming year, and it agreed after a long debate.",
    "Officials met on Monday. [READ MORE: Talks resume in Geneva] The talks ended without a deal.",
    "Residents said the new bridge would cut the drive to the coast by half an hour on most days of the week.",
    "She told the committee that the plan had been drawn up with the help of the town's own engineers.",
    "Die Stadt hat am Dienstag beschlossen, dass die neue Brücke im nächsten Jahr gebaut werden soll.",
    "(Related: What we know about the attack)",
]
CHROME = ["Home", "News", "Sport", "Share this article", "Read more", "Advertisement", "Comments",
          "Sign up for our newsletter", "© 2024 Example Media. All rights reserved.", "Follow us on Twitter",
          "Posted on 12 March 2024 at 10:42", "Related articles", "Leave a comment", "Privacy Policy"]
LINES = st.one_of(st.sampled_from(PROSE), st.sampled_from(CHROME), st.sampled_from(["", " ", "\t", "  \u3000 "]),
                  st.text(st.sampled_from("ab Z.,:-\t\u00a0ßİ1"), max_size=30))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINES, max_size=60))
def test_pass_one_equals_the_python_it_replaced(lines: list[str]) -> None:
    assert_same("\n".join(lines))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINES, max_size=40))
def test_without_furniture_equals_the_python_it_replaced(lines: list[str]) -> None:
    assert_same("\n".join(lines), settings=CleanSettings(furniture=False))


def test_head_is_trimmed_to_head_lines_above_and_below() -> None:
    """Over HEAD_LINES removed lines above and below the text: the first ones above, the
    last ones below; fewer: all of them."""
    above = [f"Menu item number {n}" for n in range(HEAD_LINES + 30)]
    below = [f"Footer link {n}" for n in range(HEAD_LINES + 7)]
    body = [PROSE[0], PROSE[2], PROSE[3]] * 3
    doc, _ = assert_same("\n".join([*above, *body, *below]))
    assert doc.head == above[:HEAD_LINES] + below[-HEAD_LINES:]  # (the last menu items are kept as titles)
    doc, _ = assert_same("\n".join([*above[:5], "", *body, "", *below[:3]]))
    assert doc.head == above[:3] + below[:3]


def test_a_page_of_chrome_is_empty_with_the_reason() -> None:
    doc, trace = assert_same("Home\nShare this article\n\nAdvertisement\nPrivacy Policy\nSkip to content")
    assert (doc.status, doc.reason, doc.stage) == ("empty", "nothing left after cleaning", "clean")
    assert doc.line_keys is None and all(m is not None for _, m in trace)
    doc, trace = assert_same(" \n\t\n")
    assert (doc.status, doc.reason, doc.words_in, trace) == ("empty", "no text", 0, [])


def test_an_inline_cut_is_counted_as_before() -> None:
    doc, trace = assert_same("\n".join([PROSE[0], PROSE[1], PROSE[2], PROSE[3]]))
    assert doc.removed["en.read-also.bracketed"] == 1
    assert doc.removed_words["en.read-also.bracketed"] == 6  # [READ MORE: Talks resume in Geneva]
    assert ["Officials met on Monday. The talks ended without a deal.", "~en.read-also.bracketed"] in trace


def test_html_has_no_furniture_and_no_body() -> None:
    html = "<html><body><nav>Home News</nav><article><p>" + "</p><p>".join(PROSE[:4]) + "</p></article></body></html>"
    doc, _ = assert_same(html, kind="html")
    assert doc.body == "" and FURNITURE_ID not in doc.removed


# --------------------------------------------------------------------------- real pages


def _pages(shared: Path) -> list[tuple[Path, str]]:
    bench = shared / "bench"
    boiler = sorted((bench / "boiler").glob("*/*.raw.txt"))[::3]
    html = sorted((bench / "boiler").glob("*/*.html"))[::8]
    syndicated = sorted((bench / "syndicated" / "raw").rglob("*.txt"))[::6]
    return [(p, "html" if p.suffix == ".html" else "text") for p in [*boiler, *html, *syndicated]]


@pytest.mark.slow
def test_real_pages_equal_the_python_it_replaced(shared: Path) -> None:
    pages = _pages(shared)
    assert len(pages) > 200
    for path, kind in pages:
        assert_same(path.read_text(encoding="utf-8", errors="replace"), kind)


def test_the_trace_is_cleans_decision(shared: Path) -> None:
    """What ``rules explain`` shows (the trace) is what ``clean`` kept and counted: its kept
    lines are the text, and its marks add up to the removals."""
    for path, kind in _pages(shared)[::5]:
        trace: Trace = []
        doc = clean(Document(path="site/p.txt", kind=kind, text=path.read_text(encoding="utf-8", errors="replace")),
                    SETTINGS, trace)
        kept = [line for line, mark in trace if mark is None or str(mark).startswith("~")]
        assert "\n\n".join(kept) == doc.text  # type: ignore[arg-type]
        marks = Counter(str(m).removeprefix("~") for _, m in trace if m is not None)
        assert marks == doc.removed


def test_a_line_with_a_lone_surrogate_is_kept_but_not_keyed() -> None:
    """normalise_text replaces lone surrogates, so none reaches the core from ``clean``;
    given one, the core keeps the line as the ``str`` it was and gives no keys (a line key
    is the hash of UTF-8, which such a line has none of), and ``clean_keys`` fails the
    document rather than count it in the template statistics without them."""
    odd = "Odd \udc80 byte in a line of the story that goes on for a while here."
    text = "\n".join([PROSE[0], odd, PROSE[2]])
    out = core.assemble_page(text, SETTINGS.ruleset().guards, chrome.region(), True)
    assert odd in out[0].split("\n\n") and [odd, None] in [list(e) for e in out[8]]
    assert out[5] is None and out[6] is None and out[7] is None
    doc = clean(Document(path="site/p.txt", text=text), SETTINGS)
    assert "\udc80" not in doc.text and doc.status == "kept"


# --------------------------------------------------------------------------- normalisation in the call

#: pieces of raw text the normalisation changes: line endings, mojibake and HTML entities
#: (ftfy's), decomposed accents (NFC), odd spaces, zero-width and control characters, a soft
#: hyphen, a lone surrogate (a text the core cannot read)
RAW = st.one_of(st.sampled_from(PROSE), st.sampled_from(CHROME),
                st.sampled_from(["\r\n", "\r", "\n\n\n", "CafÃ©", "donâ€™t", "&amp; &lt;b&gt;", "e\u0301", "\u00a0",
                                 "\u200b", "\x07", "\u00ad", "\udc80", " \u2028 ", "\ufeff"]),
                st.text(st.sampled_from("ab Z.,:-\t\u00a0ßİ1\n"), max_size=30))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RAW, max_size=40), st.booleans())
def test_normalising_in_the_call_equals_normalise_text_then_the_call(parts: list[str], trace: bool) -> None:
    """``core.normalise_assemble_page`` (what ``clean_keys`` calls) is ``assemble_page`` of
    ``normalise_text``'s result when the core normalises the text alone; when the text needs
    Python's part (ftfy, NFC, lone surrogates) it returns ``normalise_text``'s step instead,
    from which ``finish_normalising`` gives ``normalise_text``'s result. And ``clean_keys``
    still equals the oracle, which normalises first, on such raw text."""
    from cleaner.clean.normalise import finish_normalising, normaliser

    text = "".join(parts)
    guards, region = SETTINGS.ruleset().guards, chrome.region()
    want = core.assemble_page(normalise_text(text), guards, region, trace)
    got = core.normalise_assemble_page(normaliser(), text, guards, region, trace)
    if len(got) == 3:
        assert got == core.normalise_text(normaliser(), text)
        assert finish_normalising(text, got) == normalise_text(text)
    else:
        assert isinstance(core.normalise_text(normaliser(), text), str)
        assert got == want
    assert_same(text)


def test_a_text_that_needs_ftfy_goes_back_to_python_once() -> None:
    """Only a text ftfy or NFC must fix is normalised in Python: the others are assembled in
    the same call that normalises them."""
    from cleaner.clean.normalise import normaliser

    guards, region = SETTINGS.ruleset().guards, chrome.region()
    plain = "\r\n".join([PROSE[0], "Home", "", "", PROSE[2]])
    assert len(core.normalise_assemble_page(normaliser(), plain, guards, region)) == 9
    step = core.normalise_assemble_page(normaliser(), "The cafÃ© opened.\r\n" + PROSE[0], guards, region)
    assert len(step) == 3 and step[1]  # (text, spans for ftfy, round)
    assert_same("The cafÃ© opened.\r\n" + PROSE[0])

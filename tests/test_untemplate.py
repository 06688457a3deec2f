"""Pass 2's template removal of a document is one call to the core (``native/src/untemplate.rs``,
through ``stages.remove_templates``): the statistics' lookup, the template and wrapper marks,
the removals, the kept text. These tests hold it to the Python it replaced, kept here as the
oracle (``remove_templates``, ``_template_marks``, ``_untemplated``, ``_reclassify`` and
``TemplateStats.note``/``wrapper_sets`` as they were), on generated sites and on the shared
benchmark's real pages, field by field: the document (text, removals, fate), the samples and
removals noted for the report, and ``rules explain``'s trace."""

from __future__ import annotations

import copy
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.clean import furniture as chrome
from cleaner.clean.normalise import collapse
from cleaner.clean.stages import (
    FURNITURE_ID,
    CleanSettings,
    Trace,
    clean_keys,
    remove_templates,
    template_arrays,
)
from cleaner.document import Document
from cleaner.native import core
from cleaner.sources.readers import read, walk

# --------------------------------------------------------------------------- the oracle
# The Python of cleaner.clean.stages.remove_templates and its helpers, and of
# TemplateStats.note/wrapper_sets, before template removal became one call to the core.

TEMPLATE_ID = "chrome.template"
WRAPPER_ID = "chrome.wrapper"
RECLASSIFY_SHARE = 0.5
_TEMPLATE: tuple[str | None, int | None] = (TEMPLATE_ID, None)
_UNMARKED: tuple[str | None, int | None] = (None, None)
Removed = list[tuple[int, str, str]]


def _note(stats: chrome.TemplateStats, source: str, keys: list[int], lines: list[str], counts: np.ndarray) -> None:
    if stats.sample_at is None:
        return
    for key, line, count in zip(keys, lines, counts.tolist(), strict=True):
        if count >= stats.sample_at:
            stats.samples.setdefault((source, key), collapse(line))


def _wrapper_sets(stats: chrome.TemplateStats, source: str, head: list[str], keys: list[int] | None) -> set[int]:
    if keys is None:
        keys = chrome.line_keys(head)
    counts, sums = stats.lookup(source, keys)
    _note(stats, source, keys, head, counts)
    return set(sums[counts >= 2].tolist())


def oracle(doc: Document, templates: dict[str, set[int]], stats: chrome.TemplateStats | None = None,
           wrappers: bool = True, trace: Trace | None = None) -> Document:
    source = doc.source
    keys = templates.get(source, set())
    head, doc.head = doc.head, []
    body, doc.body = doc.body, ""
    line_keys, head_keys, doc.line_keys, doc.head_keys = doc.line_keys, doc.head_keys, None, None
    if doc.status != "kept":
        return doc
    sets = _wrapper_sets(stats, source, head, head_keys) if stats is not None else set()
    if not wrappers:
        sets = set()
    lines = doc.text.split("\n\n")
    if line_keys is None:
        line_keys = chrome.line_keys(lines)
    marks = _template_marks(source, lines, keys, sets, stats, line_keys)
    if not (keys or sets):
        return doc
    before = dict(doc.removed), dict(doc.removed_words)
    kept, body_marks, gone = _untemplated(doc, lines, line_keys, marks, body, keys, stats)
    if not kept and any(m == WRAPPER_ID for m, _ in marks):
        doc.removed, doc.removed_words = Counter(before[0]), Counter(before[1])
        marks = [(m, d) if m == TEMPLATE_ID else (None, None) for m, d in marks]
        kept, body_marks, gone = _untemplated(doc, lines, line_keys, marks, body, keys, stats)
    if stats is not None:
        for key, mark, line in gone:
            stats.note_removed(source, key, mark, line)
    if trace is not None:
        _trace_templates(trace, marks, body_marks)
    doc.text = "\n\n".join(ln for ln in kept if ln)
    if not doc.text:
        doc.fail("empty", "nothing left after template removal", "templates")
    return doc


def _trace_templates(trace: Trace, marks: list[tuple[str | None, int | None]],
                     body_marks: list[str | None] | None) -> None:
    if body_marks is not None:
        redo = [e for e in trace if e[1] is None or e[1] == FURNITURE_ID or str(e[1]).startswith("~")]
        for entry, mark in zip(redo, body_marks, strict=True):
            if mark is not None:
                entry[1] = mark
            elif entry[1] == FURNITURE_ID:
                entry[1] = None
        return
    kept_entries = [e for e in trace if e[1] is None or str(e[1]).startswith("~")]
    for entry, (mark, _) in zip(kept_entries, marks, strict=True):
        if mark is not None:
            entry[1] = mark


def _untemplated(doc: Document, lines: list[str], line_keys: list[int], marks: list[tuple[str | None, int | None]],
                 body: str, keys: set[int], stats: chrome.TemplateStats | None
                 ) -> tuple[list[str], list[str | None] | None, Removed]:
    kept = []
    removed: Counter[str] = Counter()
    matched: set[int] = set()
    removed_by: Counter[str] = Counter()
    gone: Removed = []
    words = [len(ln.split()) for ln in lines]
    for line, key, n, (mark, docset) in zip(lines, line_keys, words, marks, strict=True):
        if mark is None:
            kept.append(line)
            continue
        removed[mark] += 1
        removed_by[mark] += n
        gone.append((key, mark, line))
        if docset is not None:
            matched.add(docset)
    if body and sum(removed_by.values()) >= RECLASSIFY_SHARE * sum(words):
        return _reclassify(doc, body.split("\n")[:-1], keys, matched, stats)
    doc.removed.update(removed)
    doc.removed_words.update(removed_by)
    return kept, None, gone


def _template_marks(source: str, lines: list[str], keys: set[int], wrappers: set[int],
                    stats: chrome.TemplateStats | None, line_keys: list[int] | None = None
                    ) -> list[tuple[str | None, int | None]]:
    if line_keys is None:
        line_keys = chrome.line_keys(lines)
    if stats is None:
        return [_TEMPLATE if k in keys else _UNMARKED for k in line_keys]
    counts, sums = stats.lookup(source, line_keys)
    _note(stats, source, line_keys, lines, counts)
    if not wrappers:
        return [_TEMPLATE if k in keys else _UNMARKED for k in line_keys]
    return [_TEMPLATE if key in keys else (WRAPPER_ID, docset) if count >= 2 and docset in wrappers else _UNMARKED
            for key, count, docset in zip(line_keys, counts.tolist(), sums.tolist(), strict=True)]


def _reclassify(doc: Document, body: list[str], keys: set[int], wrappers: set[int],
                stats: chrome.TemplateStats | None) -> tuple[list[str], list[str | None], Removed]:
    rest = []
    filled = [ln for ln in body if ln]
    filled_keys = chrome.line_keys(filled)
    marks = iter(zip(filled_keys, _template_marks(doc.source, filled, keys, wrappers, stats, filled_keys),
                     strict=True))
    why: list[str | None] = []
    gone: Removed = []
    for line in body:
        key, (mark, _) = next(marks) if line else (0, (None, None))
        if mark is None:
            rest.append(line)
            if line:
                why.append(None)
        else:
            doc.removed[mark] += 1
            doc.removed_words[mark] += len(line.split())
            why.append(mark)
            gone.append((key, mark, line))
    drop = chrome.furniture(rest, collapsed=True)
    dropped = iter([d for ln, d in zip(rest, drop, strict=True) if ln])
    why = [FURNITURE_ID if m is None and next(dropped) else m for m in why]
    doc.removed[FURNITURE_ID] = sum(1 for ln, d in zip(rest, drop, strict=True) if ln and d)
    doc.removed_words[FURNITURE_ID] = sum(len(ln.split()) for ln, d in zip(rest, drop, strict=True) if d)
    if not doc.removed[FURNITURE_ID]:
        del doc.removed[FURNITURE_ID]
        doc.removed_words.pop(FURNITURE_ID, None)
    return [ln for ln, d in zip(rest, drop, strict=True) if ln and not d], why, gone


# --------------------------------------------------------------------------- comparing


def _fields(doc: Document) -> dict[str, object]:
    """Every field of a document, the counters' key order included (it is the manifest's)."""
    out = dict(doc.__dict__)
    out["removed"] = list(doc.removed.items())
    out["removed_words"] = list(doc.removed_words.items())
    return out


def assert_same(doc: Document, templates: dict[str, set[int]], stats: chrome.TemplateStats | None,
                wrappers: bool = True, trace: Trace | None = None) -> Document:
    """The core's removal of ``doc`` equals the oracle's: the document, what the statistics
    noted (samples, removals) and the trace."""
    old_doc, new_doc = copy.deepcopy(doc), copy.deepcopy(doc)
    old_stats = None if stats is None else stats.view()
    new_stats = None if stats is None else stats.view()
    old_trace, new_trace = copy.deepcopy(trace), copy.deepcopy(trace)
    oracle(old_doc, templates, old_stats, wrappers, old_trace)
    remove_templates(new_doc, template_arrays(templates), new_stats, wrappers, new_trace)
    assert _fields(new_doc) == _fields(old_doc)
    if stats is not None:
        assert new_stats is not None and old_stats is not None
        assert list(new_stats.samples.items()) == list(old_stats.samples.items())
        assert list(new_stats.removals.items()) == list(old_stats.removals.items())
    assert new_trace == old_trace
    return new_doc


# --------------------------------------------------------------------------- generated sites

# A small pool of lines, so that documents share them: menus (template), a wrapper's lines,
# prose of a few words to many (so that removals reach half the words or not), whitespace
# and case variants of one line (one key, several texts: the first noted wins).
POOL = [
    "Home", "News", "Sport", "Contact us", "About us", "Subscribe to our newsletter",
    "HOME", "home", "Share this article", "Read more", "Log in", "Advertisement",
    "The council met on Monday to discuss the budget for next year.",
    "A long paragraph of the story goes on and on with many words in it so that it weighs more than the menus do.",
    "Prices rose sharply in the third quarter, the figures show.",
    "Weather: sunny", "© 2024 Example Media", "Ünïcödé line ñ", "x",
]
LINE = st.one_of(st.sampled_from(POOL), st.sampled_from(POOL).map(lambda s: f"{s} {s}"),
                 st.text(st.sampled_from("ab c"), min_size=1, max_size=6).map(lambda s: s.strip() or "z"))


@st.composite
def sites(draw: st.DrawFn) -> tuple[list[tuple[Document, Trace | None]], chrome.TemplateStats, dict[str, set[int]]]:
    """Documents of one or two sources as pass 1 leaves them (text, head, body, keys, and
    the trace ``rules explain`` would pass: None when the text has blank pieces, which pass
    1 never leaves), with the statistics counted from them and the template keys of
    ``templates(min_docs)``."""
    n = draw(st.integers(1, 7))
    docs = []
    stats = chrome.TemplateStats(sample_at=draw(st.sampled_from([None, 2, 3])))
    for i in range(n):
        lines = draw(st.lists(LINE, min_size=1, max_size=12))
        head = draw(st.lists(LINE, max_size=6))
        body_extra = draw(st.lists(st.one_of(LINE, st.just("")), max_size=4))
        if draw(st.booleans()):  # blank pieces: "a\n\n\n\nb" splits to an empty line
            lines.insert(draw(st.integers(0, len(lines))), "")
        text = "\n\n".join(lines)
        folder = draw(st.sampled_from(["site", "site", "other"]))
        classified = draw(st.booleans())
        body = [*body_extra, *lines] if classified else []
        trace: Trace | None = [[ln, None] for ln in lines]
        if classified:  # the classifier's input: the lines it removed, then the text's
            trace[:0] = [[ln, FURNITURE_ID] for ln in body_extra if ln]
        if "" in lines:
            trace = None
        doc = Document(path=f"{folder}/p{i}.txt", text=text, head=head, body="".join(ln + "\n" for ln in body),
                       removed=Counter({"rule.x": 1}), removed_words=Counter({"rule.x": 2}), words_in=50)
        doc.line_keys = chrome.line_keys(text.split("\n\n"))
        doc.head_keys = chrome.line_keys(head)
        keys = {k for k, ln in zip([*doc.line_keys, *doc.head_keys], [*text.split("\n\n"), *head], strict=True)
                if ln.split()}
        stats.add_keys(doc.source, np.array(sorted(keys), dtype=np.uint64), doc.key)
        docs.append((doc, trace))
    if draw(st.booleans()):  # what a persistent index knows of these lines
        every = np.array(sorted({k for d, _ in docs for k in [*(d.line_keys or []), *(d.head_keys or [])]}),
                         np.uint64)
        take = every[draw(st.lists(st.booleans(), min_size=len(every), max_size=len(every)))] if len(every) else every
        stats.add_known(take, np.full(len(take), draw(st.integers(1, 3)), np.int64),
                        np.arange(len(take), dtype=np.uint64) % np.uint64(3))
    templates = stats.templates(draw(st.integers(1, 4)), draw(st.sampled_from([0.0, 0.5])))
    return docs, stats, templates


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sites(), st.booleans(), st.booleans())
def test_template_removal_equals_the_python_it_replaced(site: tuple, wrappers: bool, traced: bool) -> None:
    docs, stats, templates = site
    for doc, trace in docs:
        assert_same(doc, templates, stats, wrappers, trace if traced else None)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sites())
def test_without_statistics_only_template_lines_go(site: tuple) -> None:
    docs, _, templates = site
    for doc, _ in docs:
        assert_same(doc, templates, None)


def _site(texts: list[list[str]], heads: list[list[str]], bodies: list[list[str]] | None = None,
          sample_at: int | None = 2) -> tuple[list[Document], chrome.TemplateStats]:
    stats = chrome.TemplateStats(sample_at=sample_at)
    docs = []
    for i, (lines, head) in enumerate(zip(texts, heads, strict=True)):
        doc = Document(path=f"site/p{i}.txt", text="\n\n".join(lines), head=head,
                       body="" if bodies is None else "".join(ln + "\n" for ln in bodies[i]))
        doc.line_keys, doc.head_keys = chrome.line_keys(lines), chrome.line_keys(head)
        stats.add_keys("site", np.array(sorted(set(doc.line_keys) | set(doc.head_keys)), np.uint64), doc.key)
        docs.append(doc)
    return docs, stats


STORY = "The council met on Monday to discuss the budget for next year, and it agreed on most of it."


def test_a_copy_of_another_page_keeps_its_text_but_loses_template_lines() -> None:
    """Every line in exactly the pages of its header: the fallback (template lines only)."""
    menu = ["Home", "News", "Sport"]
    docs, stats = _site([[*menu, STORY], [*menu, STORY]], [["Site header"], ["Site header"]])
    templates = stats.templates(2)
    trace: Trace = [[ln, None] for ln in [*menu, STORY]]
    doc = assert_same(docs[0], {"site": templates["site"] - {chrome.line_key(STORY)}}, stats, True, trace)
    assert doc.text == STORY and doc.removed == Counter({TEMPLATE_ID: 3})


def test_a_page_mostly_template_is_classified_again() -> None:
    """Template lines taking half the words make the classifier run again on its input
    without them: the header line it had removed is template now, counted and traced so."""
    menu = ["Home", "News", "Sport", "Contact us", "Subscribe to our newsletter today please"]
    stories = [f"Figures for week {i}." for i in range(3)]
    bodies = [["Site header", *menu, "", story] for story in stories]
    docs, stats = _site([[*menu, story] for story in stories], [["Site header"]] * 3, bodies)
    templates = stats.templates(3)
    trace: Trace = [["Site header", FURNITURE_ID], *([ln, None] for ln in [*menu, stories[0]])]
    doc = assert_same(docs[0], templates, stats, True, trace)
    assert doc.removed[TEMPLATE_ID] == 6 and doc.text == stories[0]
    # (the oracle ran on a copy of the trace: this one shows the core's decision)
    new_trace: Trace = [["Site header", FURNITURE_ID], *([ln, None] for ln in [*menu, stories[0]])]
    remove_templates(copy.deepcopy(docs[0]), template_arrays(templates), stats.view(), True, new_trace)
    assert new_trace[0] == ["Site header", TEMPLATE_ID] and new_trace[-1] == [stories[0], None]


def test_lines_the_core_splits_as_str_split() -> None:
    """Blank pieces ("a\\n\\n\\n\\nb", a trailing separator) and lone surrogates."""
    for text in ["a\n\n\n\nb", "a\n\n\nb", "\n\na", "a\n\n", "", "\n", "Home\n\nx \udc80 y"]:
        lines = text.split("\n\n")
        doc = Document(path="site/p.txt", text=text, head=["Home"])
        doc.line_keys = [chrome.line_key(ln) if "\udc80" not in ln else 7 for ln in lines]
        doc.head_keys = [chrome.line_key("Home")]
        stats = chrome.TemplateStats(sample_at=1)
        stats.add_keys("site", np.array(sorted({*doc.line_keys, *doc.head_keys}), np.uint64), "a")
        stats.add_keys("site", np.array(sorted({*doc.line_keys, *doc.head_keys}), np.uint64), "b")
        stats.keys()  # merged, as pass 2 has them
        for templates in [{}, {"site": {chrome.line_key("Home")}}, {"site": {7}}]:
            assert_same(doc, templates, stats)


def test_mismatched_keys_are_an_error() -> None:
    doc = Document(path="site/p.txt", text="a\n\nb", head=[])
    doc.line_keys, doc.head_keys = [1], []
    with pytest.raises(ValueError, match="2 lines but 1 keys"):
        remove_templates(doc, {"site": np.array([1], np.uint64)}, chrome.TemplateStats())


def test_the_columns_must_be_uint64_arrays() -> None:
    with pytest.raises(BufferError):
        core.untemplate_page("a", [1], [], [], np.array([1], np.int32), None, True, None, False)
    with pytest.raises(TypeError):
        core.untemplate_page("a", [1], [], [], {1}, None, True, None, False)


# --------------------------------------------------------------------------- real pages


def _real_site(folder: Path, settings_: CleanSettings, traced: bool
               ) -> tuple[list[tuple[Document, Trace | None]], chrome.TemplateStats]:
    stats = chrome.TemplateStats(sample_at=settings_.template_min_docs)
    out = []
    for item in walk(folder):
        for doc in read(item):
            trace: Trace | None = [] if traced else None
            doc, keys = clean_keys(doc, settings_, trace)
            if doc.status == "kept" and keys is not None:
                stats.add_keys(doc.source, keys, doc.key)
            out.append((doc, trace))
    return out, stats


@pytest.mark.slow
def test_real_pages_equal_the_python_it_replaced(shared: Path) -> None:
    """A syndicated site's pages (830, one folder: its menus are template, its pages'
    wrappers and copies are wrapper): every document, with and without wrappers, traced."""
    settings_ = CleanSettings()
    docs, stats = _real_site(shared / "bench" / "syndicated" / "raw", settings_, True)
    templates = stats.templates(settings_.template_min_docs, settings_.template_min_share)
    fates: Counter[str] = Counter()
    for doc, trace in docs:
        new = assert_same(doc, templates, stats, True, trace)
        fates.update(k for k in new.removed if k.startswith("chrome."))
        assert_same(doc, templates, stats, False, trace)
    assert fates[TEMPLATE_ID] and fates[WRAPPER_ID]  # both mechanisms were exercised


def test_the_core_reads_only_read_only_arrays_in_place() -> None:
    """The core reads the template keys and statistics columns in place: a writeable array
    (memory another thread may write while it reads) is refused; remove_templates marks
    what it is handed (a Ray worker's unpickled copy is writeable again) and works."""
    keys = np.array([1], np.uint64)
    with pytest.raises(ValueError, match="read-only"):
        core.untemplate_page("a", [1], [], [], keys, None, True, None, False)
    doc = Document(path="site/p.txt", text="a\n\nb", head=[])
    doc.line_keys, doc.head_keys = chrome.line_keys(["a", "b"]), []
    templates = pickle.loads(pickle.dumps({"site": template_arrays({"site": {doc.line_keys[0]}})["site"]}))
    assert templates["site"].flags.writeable
    assert remove_templates(doc, templates, chrome.TemplateStats()).text == "b"


def test_unpickled_statistics_hand_the_core_read_only_columns() -> None:
    """A Ray worker's unpickled statistics: their columns are read-only again (the core
    refuses writeable ones), and template removal works on them as on the driver's."""
    docs, stats = _site([["Story one.", "Menu"], ["Story two.", "Menu"]], [["Home"], ["Home"]])
    stats.add_known(np.array([7], np.uint64), np.array([3], np.int64), np.array([5], np.uint64))
    copy_ = pickle.loads(pickle.dumps(stats))
    own, known = copy_.columns("site")
    assert own is not None and known is not None
    assert not any(a.flags.writeable for a in (*own, *known))
    templates = template_arrays(stats.templates(2, 0.3))
    a, b = copy.deepcopy(docs[0]), copy.deepcopy(docs[0])
    assert remove_templates(a, templates, copy_.view()).text == remove_templates(b, templates, stats.view()).text


def test_a_line_in_one_document_of_the_run_and_one_of_the_index_is_wrapper() -> None:
    """The core reads a line's fingerprint only when the line is in two or more documents,
    counting the run's and the index's together: a page's only copy of a wrapper line in
    this run, whose other page is in the index, is wrapper (its set, the run's page and
    the index's, is its header line's), and a line of the page alone is kept."""
    head, wrapper, story = "Site header", "Latest from the site", "The council met on Monday."
    docs, stats = _site([[wrapper, story]], [[head]])
    own_keys, _, own_sums, *_ = stats.columns("site")[0]
    sum_of = dict(zip(own_keys.tolist(), own_sums.tolist(), strict=True))
    other_page = 0x5EED_0F0F_1234_5678  # the index's page: its token in each fingerprint
    known = sorted(chrome.line_keys([head, wrapper]))
    stats.add_known(np.array(known, np.uint64), np.array([1, 1], np.int64),
                    np.array([other_page] * 2, np.uint64))
    assert sum_of[chrome.line_key(head)] == sum_of[chrome.line_key(wrapper)]  # the run's one page
    doc = remove_templates(copy.deepcopy(docs[0]), template_arrays({}), stats.view(), True)
    assert doc.text == story and doc.removed == Counter({WRAPPER_ID: 1})
    assert_same(docs[0], {}, stats, True)
    # the index's page of the wrapper line is not its header's: their sets differ, so the
    # line is the page's own and kept (a lookup that skipped the fingerprint of a line in one
    # document of each table would read both sets as empty, equal, and take it)
    docs, stats = _site([[wrapper, story]], [[head]])
    stats.columns("site")  # merged, as above, before the index's counts are added
    of_key = {chrome.line_key(head): other_page, chrome.line_key(wrapper): 0x1111}
    stats.add_known(np.array(known, np.uint64), np.array([1, 1], np.int64),
                    np.array([of_key[k] for k in known], np.uint64))
    doc = remove_templates(copy.deepcopy(docs[0]), template_arrays({}), stats.view(), True)
    assert doc.text == f"{wrapper}\n\n{story}" and not doc.removed
    assert_same(docs[0], {}, stats, True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-3, 4), max_size=40))
def test_frozen_columns_mark_the_rows_whose_count_is_not_one(counts: list[int]) -> None:
    """The bit per row the core reads instead of a count of 1 (``furniture._frozen``): row
    ``i`` is bit ``i % 8`` of byte ``i // 8``, set exactly when the count is not 1."""
    n = len(counts)
    cols = chrome._frozen(np.arange(n, dtype=np.uint64), np.array(counts, np.int32), np.zeros(n, np.uint64))
    bits = cols[3]
    assert bits.dtype == np.uint8 and len(bits) == (n + 7) // 8 and not bits.flags.writeable
    assert [bool(bits[i // 8] >> (i % 8) & 1) for i in range(n)] == [c != 1 for c in counts]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 2**63, 2**64 - 1])), max_size=200))
def test_the_directory_bounds_each_key_s_search(keys: list[int]) -> None:
    """``furniture._directory``: 2**b + 1 positions (2**b at most an eighth of the rows),
    each run between two of them the keys with one value of the top b bits, which is all
    the core's lookup searches: every key is found there where the whole column has it."""
    arr = np.array(sorted(keys), dtype=np.uint64)
    d = chrome._frozen(arr, np.ones(len(arr), np.int32), np.zeros(len(arr), np.uint64))[4]
    m = len(d) - 1
    assert d.dtype == np.uint32 and m & (m - 1) == 0 and (m == 1 or m <= len(arr) // 8)
    b = m.bit_length() - 1
    assert d[0] == 0 and d[-1] == len(arr) and all(d[:-1] <= d[1:])
    for j in range(m):
        assert all((int(k) >> (64 - b) if b else 0) == j for k in arr[d[j]:d[j + 1]])


def test_a_view_shares_the_columns_and_notes_apart() -> None:
    """A pass-2 worker takes a view of the statistics for every document: it must share
    the columns as they are (not copy or re-mark them per document) and note its samples
    and removals apart from the statistics it came from."""
    _, stats = _site([["Story one.", "Menu"], ["Story two.", "Menu"]], [["Home"], ["Home"]])
    stats.templates(2)  # the counts final, as the driver leaves them
    view = stats.view()
    assert view._cols is stats._cols and view._known is stats._known
    view.note_removed("site", 1, "chrome.template", "Menu")
    assert view.removals and not stats.removals and view.samples is not stats.samples


def test_removed_report_counts_the_documents_of_each_listed_line() -> None:
    """The report's document counts are looked up per source, all its lines at once: each
    row's count is the line's own (``set_of``), in any order of sources and lines, a line
    the statistics never saw counts 0, and rows of lines removed too few times to list
    have none."""
    import random

    from cleaner.clean.furniture import TemplateStats

    rnd = random.Random(5)
    stats = TemplateStats()
    sources = ["a.example", "b.example", "c.example"]
    keys = {s: [rnd.getrandbits(64) for _ in range(40)] for s in sources}
    for _ in range(60):
        s = rnd.choice(sources)
        stats.add_keys(s, np.array(rnd.sample(keys[s], 12), dtype=np.uint64), str(rnd.random()))
    for _ in range(300):
        s = rnd.choice(sources)
        key = rnd.choice(keys[s]) if rnd.random() < 0.9 else rnd.getrandbits(64)  # some never seen
        stats.note_removed(s, key, rnd.choice(["chrome.template", "chrome.wrapper"]), f"line {key}")
    rows = stats.removed_report(min_removed=2)
    listed = [r for r in rows if r["text"] is not None]
    assert len(listed) > 20 and any(r["text"] is None for r in rows)
    by_text = {(r["source"], r["text"], r["mechanism"]): r for r in listed}
    seen = 0
    for (source, key, mechanism), (n, text) in stats.removals.items():
        if n >= 2:
            row = by_text[(source, text, mechanism)]
            assert row["documents"] == stats.set_of(source, key)[0] and type(row["documents"]) is int
            seen += row["documents"] > 0
    assert seen > 10
    assert all(r["documents"] is None for r in rows if r["text"] is None)

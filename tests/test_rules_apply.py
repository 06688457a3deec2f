"""The rules' decision in the core (native/src/guards.rs) against the plain-Python one it
replaced (tests/rules_apply_oracle.py): the same lines, marks and inline edits for random
documents made of the rule packs' own examples, prose, short lines, blank lines and lines
of real pages, for the built-in rule set (every rule on) and for a small set of user rules
that exercises what the packs do not (a short inline rule, a caption credit, a short list,
tail markers in many places)."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.clean.rules import RuleSet, builtin_rules_dir, load_dirs

from . import rules_apply_oracle as O
from .conftest import SHARED

ROOT = Path(__file__).resolve().parents[1]
BUILTIN = RuleSet(load_dirs([builtin_rules_dir()]))  # opt-in rules included
EXAMPLES = [x for r in BUILTIN.rules for x in (*r.match, *r.no_match)]

PACK = """[pack]
language = "xx"
category = "comments"

[[rule]]
id = "xx.comments.tail"
kind = "tail"
pattern = '(leave a reply|\\d+ comments?|discussion)'
match = ["Leave a reply"]
no_match = ["x"]

[[rule]]
id = "xx.comments.list"
kind = "list"
max_items = 3
pattern = '(popular|see also:?|latest)'
match = ["Popular"]
no_match = ["x"]

[[rule]]
id = "xx.comments.credit"
kind = "credit"
caption = true
pattern = '(© [^/]+/[A-Z]+|photo: .*)'
match = ["© Jane Doe/AP"]
no_match = ["x"]

[[rule]]
id = "xx.comments.cut"
kind = "inline"
pattern = '(\\[see: [^\\]]*\\]|read also: .*$|share)'
match = ["[see: x]"]
no_match = ["y"]

[[rule]]
id = "xx.comments.cut-again"
kind = "inline"
long = true
pattern = '(?:more|see): \\S+$'
match = ["more: x"]
no_match = ["y"]

[[rule]]
id = "xx.comments.line"
kind = "line"
pattern = '(home|menu|.*search.*|\\d+ \\S+)'
match = ["Home"]
no_match = ["x"]

[[rule]]
id = "xx.comments.long"
kind = "line"
long = true
pattern = '.*cookies.*'
match = ["We use cookies."]
no_match = ["x"]
"""

PROSE = [
    "The city council voted on Tuesday to approve a budget that raises spending on roads and schools.",
    "Members said the plan would be reviewed again in the spring, after the first quarter's figures arrive.",
    "Officials expect the new road programme to start in May, once contracts have been signed with builders.",
    "The harbour authority has approved the extension of the eastern quay, a project that will let larger "
    "ferries dock in the old port and that has been debated by the council for six years",
    "Local fishermen, who had opposed an earlier version of the plan, said they were satisfied that the new "
    "design keeps a separate basin for their boats.\u201d",
    "We use cookies to give you the best experience on our site, and by continuing you agree to our policy.",
    "PARIS, May 4 - The central bank said on Monday that it would",
    "keep its main interest rate unchanged for a third month, as",
    "inflation eased faster than most economists had expected.",
    "Bridge opens [see: photos] more: gallery and the mayor will share a statement later today, he said.",
]
SHORT = ["Home", "Menu", "Popular", "Latest", "See also:", "Mayor opens bridge", "Budget talks stall again",
         "© Valery Sharifulin/TASS",
         "Jan 412.5 418.0 409.2 415.1", "Month Open High Low Close", "By Jane Doe", "12 May 2021 at 9:14",
         "Reply", "Leave a Reply", "3 Comments", "12 comments", "0 Comments", "Discussion", "© Jane Doe/AP",
         "Photo: Reuters", "The mayor at the opening", "Read also: the archive", "[see: all]", "share",
         "Roads close. more: map", "Search", "Comments (3)", "Readers' comments", "Share this:"]
# whitespace the collapse folds, characters whose tests are easy to get wrong, lone surrogates
TRICKY = st.text(alphabet="ab ZΣς İı\u00a0\u2028\t٣²①…\"'”’»)]*.!?,-–(\ud800\udfff", max_size=20)


def _page_lines() -> list[str]:
    lines: list[str] = []
    for p in sorted((ROOT / "seeds").iterdir()):
        lines += p.read_text(encoding="utf-8").split("\n")
    for p in sorted(glob.glob(str(SHARED / "bench" / "boiler" / "*" / "*.raw.txt")))[::8]:
        lines += Path(p).read_text(encoding="utf-8", errors="replace").split("\n")
    return [ln for ln in lines if ln.strip()]


PAGE_LINES = _page_lines()
# lines of any number of words, ending in any way: the guards' thresholds are word counts
# (a sentence, a headline, a caption) and a sentence's end
VOCAB = ["the", "council", "voted", "on", "Tuesday", "2021", "12", "May", "roads", "and", "of", "a", "bridge",
         "Jan", "418.0", "comments", "reply", "mayor", "said", "which", "in", "Paris", "schools", "to"]
# either side of SENTENCE_WORDS, CAPTION_WORDS, LIST_ITEM_WORDS, TAIL_MIN_WORDS_ABOVE
NEAR = [11, 12, 13, 19, 20, 21, 24, 25, 26, 29, 30, 31]


@st.composite
def wordy(draw: st.DrawFn, near: Sequence[int] = NEAR) -> str:
    """A line of words, often of a length either side of a threshold in ``near``."""
    n = draw(st.sampled_from(near) | st.integers(1, 40))
    words = draw(st.lists(st.sampled_from(VOCAB), min_size=n, max_size=n))
    return " ".join(words) + draw(st.sampled_from(["", ".", "!", "?\"", "…", ",", ":", ".)*"]))


WORDY = wordy()
LINE = (st.sampled_from(EXAMPLES) | st.sampled_from(PROSE) | st.sampled_from(SHORT) | st.just("")
        | st.sampled_from(PAGE_LINES) | TRICKY | WORDY)
# documents: runs of prose (so that tail markers have text above them) and other lines
HEAD = st.sampled_from(SHORT)  # headings, markers, captions, credits
MARKERS = [x for x in SHORT if BUILTIN.line_rule(x) is not None and BUILTIN.line_rule(x).kind == "tail"]


def runs(most: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.lists(LINE, max_size=4) | st.lists(st.sampled_from(PROSE) | WORDY, min_size=1, max_size=6)
                    | st.tuples(HEAD, WORDY, WORDY).map(list) | st.tuples(WORDY, HEAD, WORDY).map(list),
                    max_size=most).map(lambda rs: [ln for run in rs for ln in run])


RUNS, FEW = runs(14), runs(3)
# a tail marker under a few lines of known length: where "enough text above" is decided
TAIL = st.tuples(st.lists(wordy([10, 15, 20, 29, 30, 31]), min_size=1, max_size=3), st.sampled_from(MARKERS),
                 FEW).map(lambda t: [*t[0], t[1], *t[2]])
# a credit under a line of known length: whether that line is its caption
CREDITS = [x for r in BUILTIN.rules if r.caption for x in r.match] + ["© Jane Doe/AP", "Photo: Reuters"]
CAPTION = st.tuples(FEW, wordy([19, 20, 21]), st.sampled_from(CREDITS), FEW).map(
    lambda t: [*t[0], t[1], t[2], *t[3]])
# a list heading over lines of known length: which are headlines
LIST_HEADS = [x for x in SHORT + EXAMPLES if (r := BUILTIN.line_rule(x)) is not None and r.kind == "list"]
LIST = st.tuples(FEW, st.sampled_from(LIST_HEADS), st.lists(wordy([11, 12, 13, 24, 25, 26]) | st.just(""), max_size=4),
                 FEW).map(lambda t: [*t[0], t[1], *t[2], *t[3]])
DOC = RUNS | TAIL | CAPTION | LIST


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "comments.toml").write_text(PACK, encoding="utf-8")
    return RuleSet.load([folder], builtin=False)


def check(rs: RuleSet, doc: list[str]) -> None:
    got, want = rs.apply(doc), O.apply(rs, doc)
    assert got.lines == want.lines
    assert got.marks == want.marks
    assert got.edits == want.edits
    for line in doc[:8]:
        assert rs.line_rule(line) is O.line_rule(rs, line), line


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOC)
def test_builtin_rules_decide_as_the_python_did(doc: list[str]) -> None:
    check(BUILTIN, doc)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(DOC)
def test_user_rules_decide_as_the_python_did(custom: RuleSet, doc: list[str]) -> None:
    check(custom, doc)


def test_the_guards_cases_decide_as_the_python_did(custom: RuleSet) -> None:
    """Documents made to reach each guard: a tail cut, a marker under too little text, a
    per-item count, a list cut short by prose, figures and wrapped text, a caption, inline
    cuts that empty a line, a surrogate in a cut line."""
    docs = [
        PROSE[:3] + ["Leave a Reply", "Great!", "", "Thanks."],
        ["Leave a reply"] + PROSE[:3],
        PROSE[:3] + ["3 comments"] + PROSE[:2] + ["5 comments"] + PROSE[1:3],
        ["Popular", "Mayor opens bridge", "", "Jan 412.5 418.0 409.2 415.1", "Budget"],
        ["Latest", "Budget", *PROSE[6:9]],
        [PROSE[0], "The mayor at the opening", "© Jane Doe/AP", PROSE[1]],
        ["Bridge opens [see: photos] more: gallery", "[see: all]", "share \ud800 [see: x] more: y", PROSE[9]],
        SHORT * 3 + PROSE + SHORT,
    ]
    for rs in (custom, BUILTIN):
        for doc in docs:
            check(rs, doc)


_PAGES = sorted(glob.glob(str(SHARED / "bench" / "boiler" / "*" / "*.raw.txt")))


@pytest.mark.slow
@pytest.mark.skipif(not _PAGES, reason="the shared boiler pages are not on this machine")
def test_real_pages_decide_as_the_python_did() -> None:
    rs = RuleSet.load()
    for path in _PAGES:
        doc = Path(path).read_text(encoding="utf-8", errors="replace").split("\n")
        got, want = rs.apply(doc), O.apply(rs, doc)
        assert (got.lines, got.marks, got.edits) == (want.lines, want.marks, want.edits), path


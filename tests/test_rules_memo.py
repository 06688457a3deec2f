"""The rule matcher remembers its answers for the lines it is asked again (``Memo`` in
``native/src/rules.rs``: a scrape repeats its sites' template lines in every page). A line is
kept from its second time on and answered from the memo from its third: every such answer
must be the one the automata and the rules' own regexes give the line fresh, for whole-line
questions and for the sentence-like lines that only meet ``long`` rules, which the memo keeps
apart.
"""

from __future__ import annotations

import glob
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.clean.normalise import collapse
from cleaner.clean.rules import MAX_RULE_LINE, RuleSet, builtin_rules_dir, load_dirs

from .conftest import SHARED

ROOT = Path(__file__).resolve().parents[1]
RULES = load_dirs([builtin_rules_dir()])


def _dev_lines() -> list[str]:
    """Every line of the seeds and of the shared boiler pages (with their repeats), collapsed."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").iterdir())]
    texts += [Path(p).read_text(encoding="utf-8", errors="replace")
              for p in sorted(glob.glob(str(SHARED / "bench" / "boiler" / "*" / "*.raw.txt")))]
    lines = [collapse(ln) for t in texts for ln in t.split("\n")]
    return [ln for ln in lines if ln and len(ln) <= MAX_RULE_LINE]


def test_repeated_dev_lines_are_answered_as_fresh() -> None:
    lines = _dev_lines()
    distinct = list(dict.fromkeys(lines))
    assert len(distinct) < len(lines)  # the pages repeat lines: the memo is exercised
    cold, warm = RuleSet(RULES), RuleSet(RULES)  # a matcher each, so a memo each
    # each distinct line asked once: every answer worked out, none from the memo
    fresh = {ln: (cold.matcher.line(ln), cold.guards.line_rule(ln)) for ln in distinct}
    for _ in range(3):
        for ln in lines:
            assert (warm.matcher.line(ln), warm.guards.line_rule(ln)) == fresh[ln], ln


_MATCHER = RuleSet(RULES)
_ASKED: set[str] = set()
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_WORDS = st.lists(st.sampled_from(["Share", "this", "Photo:", "Reuters", "comments", "12", "Leave", "a",
                                   "reply", "READ", "ALSO:", "the", "council", "voted", "today."]),
                  min_size=1, max_size=14).map(" ".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TEXT | _WORDS, min_size=1, max_size=4))
def test_generated_lines_are_answered_from_the_memo_as_fresh(lines: list[str]) -> None:
    for line in map(collapse, lines):
        if line in _ASKED or len(line) > MAX_RULE_LINE:
            continue  # its first answer here would not be a fresh one
        _ASKED.add(line)
        first = (_MATCHER.matcher.line(line), _MATCHER.guards.line_rule(line))
        for _ in range(3):  # kept at the second time, answered from the memo at the third
            assert (_MATCHER.matcher.line(line), _MATCHER.guards.line_rule(line)) == first, line

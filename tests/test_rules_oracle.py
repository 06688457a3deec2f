"""The native rule matcher against the ``regex`` module, the engine the packs were written
for: on every rule's examples, on mutations of them and on random lines, the core claims a
line for the same rule, and an inline rule cuts the same span, as ``regex`` says.

``regex`` stays only here, as the oracle. Differences accepted (and excluded below):

- dotted capital I (U+0130) and dotless i (U+0131): case-insensitive ``regex`` matches
  them with ASCII ``i``/``I``, the Rust engines (Unicode simple case folding) do not. Only
  Turkish and Azeri text has them, and no pack is for those languages.
- lone surrogates: the core reads each as U+FFFD (one character, neither word, digit nor
  space, as a surrogate is), so spans and classes agree; they are not generated here.
"""

from __future__ import annotations

import random

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.clean.normalise import collapse
from cleaner.clean.rules import MAX_RULE_LINE, RuleSet, builtin_rules_dir, load_dirs

from .rules_apply_oracle import sentence_like

RULESET = RuleSet(load_dirs([builtin_rules_dir()]))
ORACLE = [regex.compile(r.pattern, regex.V0 | (0 if r.case_sensitive else regex.IGNORECASE)) for r in RULESET.rules]
EXAMPLES = [collapse(x) for r in RULESET.rules for x in (*r.match, *r.no_match)]
EXCLUDED = "\u0130\u0131"


def oracle_span(n: int, line: str) -> tuple[int, int] | None:
    """What the ``regex`` module says of rule ``n`` on ``line`` (a time-out: no match, as
    the old path had it)."""
    rx = ORACLE[n]
    try:
        m = (rx.search if RULESET.rules[n].kind == "inline" else rx.fullmatch)(line, timeout=1.0)
    except TimeoutError:
        return None
    return None if m is None else m.span()


def check_line(line: str) -> None:
    """The core's answers for ``line`` (the set pass and each rule's own regex) against the
    oracle's, rule by rule."""
    line = collapse(line)
    if len(line) > MAX_RULE_LINE:
        return
    first, first_long, inline = RULESET._line_hits(line)
    want_first = want_long = -1
    for n, rule in enumerate(RULESET.rules):
        want = oracle_span(n, line)
        assert rule.hit(line) == want, (rule.id, line)
        if rule.kind == "inline":
            if want is not None:
                assert n in inline, (rule.id, line)
        elif want is not None:
            if want_first < 0:
                want_first = n
            if rule.long and want_long < 0:
                want_long = n
    assert (first, first_long) == (want_first, want_long), line
    prose = sentence_like(line)
    expected = want_long if prose else want_first
    assert RULESET.line_rule(line) is (None if expected < 0 else RULESET.rules[expected]), line


def mutations(text: str, rng: random.Random) -> list[str]:
    """Near misses of an example: a character dropped, doubled, swapped in case, replaced,
    a word added at either end, the line cut short."""
    out = []
    for _ in range(4):
        if not text:
            break
        i = rng.randrange(len(text))
        ch = rng.choice("aZ0 .:-/|»«'’éЖß1")
        out += [text[:i] + text[i + 1:], text[:i] + text[i] + text[i:], text[:i] + text[i].swapcase() + text[i + 1:],
                text[:i] + ch + text[i + 1:], text[:i]]
    out += [text.upper(), text.lower(), "Note: " + text, text + " today", text + "."]
    return [x for x in out if not set(x) & set(EXCLUDED)]


@pytest.mark.slow
def test_examples_and_their_mutations_match_as_the_regex_module_says() -> None:
    rng = random.Random(18)
    for n, rule in enumerate(RULESET.rules):
        for ex in (*rule.match, *rule.no_match):
            for line in (collapse(ex), *map(collapse, mutations(ex, rng))):
                if len(line) <= MAX_RULE_LINE:
                    assert rule.hit(line) == oracle_span(n, line), (rule.id, line)


_ALPHABET = st.characters(blacklist_categories=("Cs",), blacklist_characters=EXCLUDED)
_PIECES = st.sampled_from(EXAMPLES) | st.text(_ALPHABET, max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, min_size=1, max_size=3), st.randoms(use_true_random=False))
def test_random_and_spliced_lines_match_as_the_regex_module_says(pieces: list[str], rng: random.Random) -> None:
    line = " ".join(pieces)
    check_line(line)
    for m in mutations(line, rng)[:6]:
        check_line(m)


def test_the_accepted_case_folding_difference_is_what_the_note_says() -> None:
    """The one difference the note above accepts, shown on a pattern of the packs' kind."""
    from cleaner.native import core as _native

    p = _native.Pattern("share this", False, False)
    assert p.find("SHARE THIS")[0] == (0, 10)
    assert p.find("SHARE THİS")[0] is None and regex.fullmatch("share this", "SHARE THİS", regex.I)

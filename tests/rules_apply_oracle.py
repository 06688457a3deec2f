"""The plain-Python decision of the chrome rules that the core's (``native/src/guards.rs``)
replaced: ``RuleSet.apply`` as it was, kept only as the oracle of the property tests in
``tests/test_rules_apply.py``. It asks the same matcher (``RuleSet.matcher``: which rules
match a line; that one is checked against the ``regex`` module in ``test_rules_oracle.py``)
and the furniture's ``main_block`` and ``wraps_into``; everything else (words, sentences,
the tail, list and caption guards, the inline cuts) is the Python it was."""

from __future__ import annotations

from collections.abc import Sequence

from cleaner.clean.furniture import wraps_into
from cleaner.clean.normalise import collapse, collapse_lines
from cleaner.clean.rules import (
    LIST_ITEM_WORDS,
    MAX_RULE_LINE,
    SENTENCE_WORDS,
    TAIL_MIN_ARTICLE_SHARE,
    TAIL_MIN_SHARE_ABOVE,
    TAIL_MIN_WORDS_ABOVE,
    Application,
    Rule,
    RuleSet,
)

from . import furniture_oracle as F

_TERMINAL = tuple(".!?…")
_CLOSERS = "\"'”’»)]*"

Hits = tuple[int, int, Sequence[int]]
_NO_HITS: Hits = (-1, -1, ())


def word_count(line: str) -> int:
    return len(line.split())


def sentence_like(line: str) -> bool:
    return word_count(line) >= SENTENCE_WORDS and _ends_sentence(line)


def _ends_sentence(line: str) -> bool:
    return line.rstrip(_CLOSERS).endswith(_TERMINAL)


def is_figures_row(line: str) -> bool:
    cells = line.split()
    figures = sum(any(ch.isdigit() for ch in c) for c in cells)
    return figures >= 3 and 2 * figures >= len(cells)


def _wraps_on(norm: Sequence[str], j: int) -> bool:
    nxt = next((ln for ln in norm[j + 1:] if ln), "")
    return bool(nxt) and wraps_into(norm[j], nxt)


def _list_item(norm: Sequence[str], j: int, prose: bool, words: int) -> bool:
    return not (prose or words > LIST_ITEM_WORDS or _wraps_on(norm, j) or is_figures_row(norm[j]))


def _tail_safe(norm: Sequence[str], body: F.Block | None, i: int, words: Sequence[int]) -> bool:
    if body is None or body.end < i:
        return True
    if body.start < i and sum(words[body.start:i]) > sum(words[i:body.end + 1]):
        return True
    above = F.main_block(norm[:i], collapsed=True)
    return above is not None and above.words >= max(TAIL_MIN_WORDS_ABOVE, TAIL_MIN_ARTICLE_SHARE * body.words)


def _line_hits(rs: RuleSet, line: str) -> Hits:
    if len(line) > MAX_RULE_LINE:
        return _NO_HITS
    return rs.matcher.line(line)


def _scan(rs: RuleSet, norm: Sequence[str]) -> dict[int, Hits]:
    return {i: (f, fl, inl) for i, f, fl, inl in rs.matcher.scan("\n".join(norm), MAX_RULE_LINE)}


def _rule_of(rs: RuleSet, hits: Hits | None, prose: bool) -> Rule | None:
    if hits is None:
        return None
    n = hits[1] if prose else hits[0]
    return None if n < 0 else rs.rules[n]


def line_rule(rs: RuleSet, line: str) -> Rule | None:
    line = collapse(line)
    return _rule_of(rs, _line_hits(rs, line), sentence_like(line))


def _per_item(rs: RuleSet, rule: Rule, norm: Sequence[str], prose: Sequence[bool], i: int,
              hits: dict[int, Hits]) -> bool:
    seen_prose = False
    for j in range(i + 1, len(norm)):
        if prose[j]:
            seen_prose = True
        elif (seen_prose and norm[j] and norm[j] != norm[i]
              and _rule_of(rs, hits.get(j), prose[j]) is rule):
            return True
    return False


def apply(rs: RuleSet, lines: Sequence[str]) -> Application:
    """``RuleSet.apply`` as the Python had it."""
    norm = collapse_lines(lines)
    out = list(norm)
    marks: list[str | None] = [None] * len(norm)
    words = [word_count(ln) for ln in norm]
    prose = [w >= SENTENCE_WORDS and _ends_sentence(ln) for ln, w in zip(norm, words, strict=True)]
    total = sum(words)
    hits = _scan(rs, norm)
    block: list[F.Block | None] = []

    def main() -> F.Block | None:
        if not block:
            block.append(F.main_block(norm, collapsed=True))
        return block[0]

    above = 0
    i = 0
    n = len(norm)
    while i < n:
        line = norm[i]
        if not line or marks[i] is not None:
            above += words[i]
            i += 1
            continue
        rule = _rule_of(rs, hits.get(i), prose[i])
        if rule is None:
            above += words[i]
            i += 1
            continue
        if rule.kind == "tail":
            enough = above >= TAIL_MIN_WORDS_ABOVE and above >= TAIL_MIN_SHARE_ABOVE * total
            if enough and not _per_item(rs, rule, norm, prose, i, hits) and _tail_safe(norm, main(), i, words):
                for j in range(i, n):
                    if norm[j]:
                        marks[j] = rule.id
                break
            if enough:
                marks[i] = rule.id
            else:
                above += words[i]
            i += 1
            continue
        marks[i] = rule.id
        if rule.kind == "credit" and rule.caption:
            k = i - 1
            while k >= 0 and not norm[k]:
                k -= 1
            if k >= 0 and marks[k] is None and not prose[k] and 0 < words[k] <= 20:
                marks[k] = rule.id
        if rule.kind == "list":
            items = 0
            j = i + 1
            while j < n and items < rule.max_items:
                if not norm[j]:
                    j += 1
                    continue
                if not _list_item(norm, j, prose[j], words[j]):
                    break
                marks[j] = rule.id
                items += 1
                j += 1
            i = j
            continue
        i += 1
    edits: dict[int, str] = {}
    inline = [n for n, r in enumerate(rs.rules) if r.kind == "inline"]
    for i, line in enumerate(out):
        if marks[i] is not None or not line or len(line) > MAX_RULE_LINE or i not in hits:
            continue
        offered = hits[i][2]
        for n in inline:
            rule = rs.rules[n]
            if n not in offered or (prose[i] and not rule.long):
                continue
            m = rule.hit(line)
            if m is None or m[0] == m[1]:
                continue
            rest = collapse(line[: m[0]] + " " + line[m[1]:])
            if not any(ch.isalnum() for ch in rest):
                marks[i] = rule.id
                break
            out[i] = line = rest
            offered = _line_hits(rs, line)[2]
            edits[i] = rule.id
    return Application(out, marks, edits)

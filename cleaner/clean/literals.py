"""Required literals of a pattern: a cheap test that rules out most lines before any rule runs.

Why: a scrape has millions of lines and a rule set has hundreds of patterns, and almost
every line is prose that no rule matches. A backtracking engine learns that by trying every
alternative of every pattern at the line; a substring test learns it in microseconds. So
for each pattern we derive a set of literal strings such that *every* match contains one of
them (compared case-folded). A line that contains none of a rule's literals cannot match
that rule, and the rule is not run on it. The literals only decide what work to skip; the
pattern alone decides a match, so results are identical to running every rule on every line
(the test suite checks this on every rule example and on the seeds).

When no useful set can be derived (a pattern made only of classes and repeats, or syntax
the standard parser does not read the way ``regex`` does), :func:`required` returns None
and the rule runs on every line.
"""

from __future__ import annotations

import functools
import re
import re._constants as _c  # the parser behind ``re`` (the same grammar ``regex`` V0 extends)
import re._parser as _p
import sys
from collections.abc import Iterable, Sequence

import ahocorasick

_MAX_SET = 64  # largest finite set of strings expanded while concatenating
_EDGE_PUNCT = " \t.,:;!?-'\"()[]"
# ``regex`` syntax that ``re`` parses silently with another meaning: POSIX classes
# ([[:alpha:]]) and fuzzy constraints ({e<=1}). Such patterns get no literals.
_FOREIGN = re.compile(r"\[:\^?[a-z]+:\]|\{[a-zA-Z]")
# Case-insensitive ``re``/``regex`` also match dotted capital I and dotless i with ASCII i.
_FOLD_EXTRA = str.maketrans({"\u0130": "i", "\u0131": "i"})


def fold(text: str) -> str:
    """Case-fold the way literals are compared: any two strings that a case-insensitive
    pattern treats as equal fold to the same string."""
    if text.isascii():
        return text.lower()
    return text.translate(_FOLD_EXTRA).casefold()


def _product(a: set[str], b: set[str]) -> set[str] | None:
    if len(a) * len(b) > _MAX_SET:
        return None
    return {x + y for x in a for y in b}


def _quality(lit: str) -> int:
    """How selective a literal is: its length without edge spaces and punctuation. A lone
    punctuation mark (the ':' of a time) still rules out some lines, so it scores above an
    empty or all-space literal, which rules out none."""
    core = lit.strip(_EDGE_PUNCT)
    if core:
        return 1 + len(core)
    return 1 if lit.strip() else 0


def _best(cands: list[set[str]]) -> set[str] | None:
    best, best_key = None, None
    for s in cands:
        if not s:
            continue
        q = min(_quality(x) for x in s)
        if q == 0:
            continue
        key = (q, -len(s))
        if best_key is None or key > best_key:
            best, best_key = s, key
    return best


class _Node:
    """What a sub-pattern tells us: ``exact`` is the finite set of strings it matches (when
    small), ``req`` a set of literals one of which every match of it contains."""

    __slots__ = ("exact", "req")

    def __init__(self, exact: set[str] | None, req: set[str] | None):
        self.exact = exact
        self.req = req

    def must(self) -> set[str] | None:
        """Literals one of which every match contains: the exact strings themselves when
        they are known (unless one is empty), else ``req``."""
        return self.req if self.exact is None else _nonempty(self.exact)


def _seq(items: Iterable[tuple[object, object]]) -> _Node:
    cur: set[str] = {""}
    cands: list[set[str]] = []
    all_exact = True
    for op, av in items:
        node = _item(op, av)
        if node.exact is not None:
            nxt = _product(cur, node.exact)
            if nxt is not None:
                cur = nxt
                continue
        if node.exact is not None:
            # the product grew too large: what we have so far is a candidate; restart
            if cur and cur != {""}:
                cands.append(cur)
            cur = node.exact
            all_exact = False
            continue
        all_exact = False
        if cur and cur != {""}:
            cands.append(cur)
        if node.req is not None:
            cands.append(node.req)
        cur = {""}
    if cur and cur != {""}:
        cands.append(cur)
    exact = cur if all_exact else None
    return _Node(exact, _best(cands))


def _item(op: object, av: object) -> _Node:
    if op is _c.LITERAL:
        return _Node({chr(av)}, None)  # type: ignore[arg-type]
    if op in (_c.AT, _c.ASSERT_NOT):
        return _Node({""}, None)  # zero-width: neighbours stay contiguous
    if op is _c.ASSERT:
        _direction, sub = av  # type: ignore[misc]
        inner = _seq(sub)
        return _Node({""}, inner.must())
    if op is _c.SUBPATTERN:
        sub = av[-1]  # type: ignore[index]
        return _seq(sub)
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _seq(av)  # type: ignore[arg-type]
    if op is _c.BRANCH:
        _, branches = av  # type: ignore[misc]
        nodes = [_seq(b) for b in branches]
        exact: set[str] | None = set()
        for n in nodes:
            if n.exact is None or exact is None:
                exact = None
                break
            exact |= n.exact
        if exact is not None and len(exact) > _MAX_SET:
            exact = None
        req: set[str] | None = set()
        for n in nodes:
            r = n.must()
            if r is None or req is None:
                req = None
                break
            req |= r
        return _Node(exact, req)
    if op is _c.IN:
        chars = set()
        for kind, val in av:  # type: ignore[attr-defined]
            if kind is not _c.LITERAL:
                return _Node(None, None)
            chars.add(chr(val))
        return _Node(chars if len(chars) <= 8 else None, None)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        lo, hi, sub = av  # type: ignore[misc]
        body = _seq(sub)
        if body.exact is not None and hi is not _c.MAXREPEAT and hi <= 3:
            out: set[str] | None = {""} if lo == 0 else set()
            power: set[str] | None = {""}
            for k in range(1, hi + 1):
                power = _product(power, body.exact) if power is not None else None
                if power is None or out is None:
                    out = None
                    break
                if k >= lo:
                    out |= power
            if out is not None and len(out) <= _MAX_SET:
                return _Node(out, None)
        if lo >= 1:
            return _Node(None, body.must())
        return _Node(None, None)
    return _Node(None, None)  # ANY, NOT_LITERAL, CATEGORY, GROUPREF, ...


def _nonempty(strings: set[str]) -> set[str] | None:
    return None if "" in strings else set(strings)


@functools.lru_cache(maxsize=4096)
def _parsed(pattern: str) -> _p.SubPattern | None:
    """The standard parser's tree of ``pattern``, or None when it has syntax only ``regex``
    knows (\\p{..}, POSIX classes). Parsed once for the three readers below: parsing costs
    more than what they read from the tree, and a rule set is parsed while the workers wait."""
    if _FOREIGN.search(pattern):
        return None
    try:
        return _p.parse(pattern, 0)
    except Exception:
        return None


def required(pattern: str) -> frozenset[str] | None:
    """Folded literals one of which every match of ``pattern`` contains, or None."""
    parsed = _parsed(pattern)
    if parsed is None:
        return None
    node = _seq(parsed)
    lits = node.must()
    if lits is None or min(_quality(x) for x in lits) == 0:
        return None
    folded = {fold(x) for x in lits}
    # a literal that contains another is implied by it
    keep: list[str] = []
    for x in sorted(folded, key=lambda x: (len(x), x)):
        if not any(y in x for y in keep):
            keep.append(x)
    return frozenset(keep)


def pattern_width(pattern: str) -> tuple[int, int]:
    """(shortest, longest) length of a match, from the standard parser; (0, a huge number)
    when it cannot tell. Case folding in ``regex`` V0 is simple (one character for one),
    so lengths are the same as in ``re``."""
    parsed = _parsed(pattern)
    if parsed is None:
        return 0, sys.maxsize
    try:
        lo, hi = parsed.getwidth()
    except Exception:
        return 0, sys.maxsize
    return int(lo), int(min(hi, sys.maxsize))


def first_class(pattern: str, ignore_case: bool) -> re.Pattern[str] | None:
    """A pattern (standard ``re``) for the characters a match of ``pattern`` can start
    with, or None when any character may (or the standard parser cannot tell).

    Why: a few rules have no required literal (a line made only of separators, a row of
    page numbers), so the literal prefilter lets them meet every line, and a ``regex``
    call with a timeout costs microseconds even when it fails at the first character. A
    whole-line match starts with the line's first character, so a rule whose first
    character cannot be the line's is skipped: the same answer, known from a dict lookup
    per distinct first character (see :class:`FirstChars`)."""
    parsed = _parsed(pattern)
    if parsed is None:
        return None
    parts = _first(list(parsed), parsed.state)
    if parts is None or not parts:
        return None
    return re.compile("|".join(sorted(parts)), re.IGNORECASE if ignore_case else 0)


def _class_item(op: object, av: object) -> str | None:
    if op is _c.LITERAL:
        return re.escape(chr(av))  # type: ignore[arg-type]
    if op is _c.RANGE:
        lo, hi = av  # type: ignore[misc]
        return f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
    if op is _c.CATEGORY:
        # \d and \s mean the same Unicode sets in ``re`` and ``regex``; \w does not
        # (``regex`` counts combining marks as word characters), so it is not narrowed
        return {_c.CATEGORY_DIGIT: r"\d", _c.CATEGORY_SPACE: r"\s"}.get(av)  # type: ignore[call-overload]
    return None


def _first(items: list[tuple[object, object]], state: object) -> set[str] | None:
    """Single-character patterns for the first character of a match of the sequence
    ``items`` (None: any character). Zero-width items are stepped over, and an item that
    can match empty lets the next one start the match too."""
    out: set[str] = set()
    for op, av in items:
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue  # zero width: a lookaround only narrows, so stepping over is safe
        if op is _c.LITERAL:
            out.add(re.escape(chr(av)))  # type: ignore[arg-type]
            return out
        if op is _c.IN:
            pieces = [_class_item(o, a) for o, a in av if o is not _c.NEGATE]  # type: ignore[attr-defined]
            if any(x is None for x in pieces):
                return None
            neg = any(o is _c.NEGATE for o, _ in av)  # type: ignore[attr-defined]
            out.add(("[^" if neg else "[") + "".join(pieces) + "]")  # type: ignore[arg-type]
            return out
        if op is _c.BRANCH:
            sub: set[str] = set()
            nullable = False
            for alt in av[1]:  # type: ignore[index]
                f = _first(list(alt), state)
                if f is None:
                    return None
                sub |= f
                nullable = nullable or alt.getwidth()[0] == 0
            out |= sub
            if not nullable:
                return out
            continue
        if op is _c.SUBPATTERN:
            body = av[3]  # type: ignore[index]
            if av[1] or av[2]:  # type: ignore[index]
                return None  # inline flags inside a group: do not guess
            f = _first(list(body), state)
            if f is None:
                return None
            out |= f
            if body.getwidth()[0] > 0:
                return out
            continue
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            lo, _hi, body = av  # type: ignore[misc]
            f = _first(list(body), state)
            if f is None:
                return None
            out |= f
            if lo > 0 and body.getwidth()[0] > 0:
                return out
            continue
        if op is _c.ATOMIC_GROUP if hasattr(_c, "ATOMIC_GROUP") else False:
            f = _first(list(av), state)  # type: ignore[call-overload]
            if f is None:
                return None
            out |= f
            if av.getwidth()[0] > 0:  # type: ignore[attr-defined]
                return out
            continue
        return None  # ANY, NOT_LITERAL, group references, ...: any character may start
    return out  # the whole sequence can match empty: what follows it starts the match


class FirstChars:
    """For each distinct first character of a line, which patterns may start with it."""

    def __init__(self, classes: Sequence[re.Pattern[str] | None]):
        self.classes = list(classes)
        self._free = frozenset(n for n, c in enumerate(self.classes) if c is None)
        self._by_char: dict[str, frozenset[int]] = {}

    def allowed(self, ch: str) -> frozenset[int]:
        out = self._by_char.get(ch)
        if out is None:
            # the case variants too: ``regex`` and ``re`` fold a few characters differently
            variants = {ch, ch.lower(), ch.upper(), ch.casefold()}
            out = self._by_char[ch] = self._free | frozenset(
                n for n, c in enumerate(self.classes) if c is not None and any(c.fullmatch(v) for v in variants))
        return out


class Prefilter:
    """Which of a list of patterns could match a line, from their literals.

    The literals go into one Aho-Corasick automaton (pyahocorasick), which finds every
    literal in a line in a single pass in C, however many rules there are."""

    def __init__(self, literal_sets: Sequence[frozenset[str] | None]):
        self.always = frozenset(n for n, lits in enumerate(literal_sets) if lits is None)
        self._always_order = tuple(sorted(self.always))
        owners: dict[str, list[int]] = {}
        for n, lits in enumerate(literal_sets):
            for lit in lits or ():
                owners.setdefault(lit, []).append(n)
        self._automaton = ahocorasick.Automaton()
        for lit, idx in owners.items():
            self._automaton.add_word(lit, frozenset(idx))
        self._empty = not owners
        if owners:
            self._automaton.make_automaton()

    def order(self, line: str) -> tuple[int, ...]:
        """Indices of the patterns that could match ``line`` (those without literals
        included), ascending, so the first that matches is the first in rule order."""
        if self._empty:
            return self._always_order
        found: set[int] = set()
        for _end, idx in self._automaton.iter(fold(line)):
            found |= idx
        if not found:
            return self._always_order
        return tuple(sorted(found.union(self.always)))

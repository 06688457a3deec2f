"""Declarative chrome rules: load the TOML packs in ``rules/`` and apply them to lines.

Why declarative: chrome strings come from a finite set of CMS themes and widgets, so they
are data, not code. A rule is a pattern plus a *kind* that says what around the match goes
(the line, the section to the end, a heading and its link list, a span, a photo credit and
its caption) and examples that must and must not match, which ``cleaner rules test`` and the
test suite run. See ``rules/README.md`` for the format.

Guards keep prose safe: a sentence-like line is never removed by a rule unless the rule says
``long = true``; a ``tail`` marker only fires with enough of the document above it and when
the cut spares the page's main prose block (else only the marker line goes); a ``list``
takes only lines that can be headlines. See :meth:`RuleSet.apply`; the decision and its
guards are the native core's (``native/src/guards.rs``), one call per document.

The patterns run in the native core (``native/src/rules.rs``): all of a rule set's patterns
in two lazy DFAs (the rules that must meet their own words at the start of a line, and those
that can first run along any text) that name, in one walk of a line each, the rules that can
match it, each then confirmed by its own regex. The ``regex`` crate runs in linear time, so no rule, built-in or
a user's, can hang a run on any line. The few patterns with lookaround run on fancy-regex, a
backtracker with a step limit (over the limit is "no match"); one of a user's folders that
reaches the limit on probe strings is refused when it is loaded. A whole document goes to
the core in one call (:meth:`RuleSet.apply`), the GIL released.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import cache
from ..native import core as _native

# Nothing here imports numpy or ftfy (the furniture classifier and the normaliser are imported
# where they are used): the CLI loads the rule set before anything else, so that the core
# builds its matcher on a thread of its own while the driver imports the rest (see RuleSet).

KINDS = ("line", "tail", "list", "inline", "credit")
CATEGORIES = (
    "comments", "search", "related", "read-also", "credits", "navigation", "share",
    "newsletter", "cookies", "advertisement", "tags", "pagination", "metadata",
)
SENTENCE_WORDS = 12
MAX_RULE_LINE = 2000  # chrome lines are short; longer lines are never tested against rules
TAIL_MIN_WORDS_ABOVE = 30
TAIL_MIN_SHARE_ABOVE = 0.2
LIST_ITEM_WORDS = 25
TAIL_MIN_ARTICLE_SHARE = 0.25  # an article above a thread has this share of its longest comment run
CAPTION_WORDS = 20  # a credit's caption (the line above it) is at most this long
#: the guards' thresholds as the core takes them (see ``Limits`` in ``native/src/guards.rs``)
_LIMITS = {
    "sentence_words": SENTENCE_WORDS, "max_rule_line": MAX_RULE_LINE, "tail_min_words_above": TAIL_MIN_WORDS_ABOVE,
    "tail_min_share_above": TAIL_MIN_SHARE_ABOVE, "list_item_words": LIST_ITEM_WORDS,
    "tail_min_article_share": TAIL_MIN_ARTICLE_SHARE, "caption_words": CAPTION_WORDS,
}
_PROBES = ("a" * 3000 + "!", " " * 3000 + "!", "a " * 1500 + "!", "-" * 3000 + "\x00", "1" * 3000 + "x")
# the ``regex`` module's fuzzy constraints ({e<=1}, {i,d}): the core's parser would read the
# braces as literal text, a silent change of meaning, so such a pattern is refused
_FUZZY = re.compile(r"(?<!\\)\{\s*[eisd]\s*(?:[<=,}])")


class RuleError(ValueError):
    """A rule file or rule is malformed; the message names the file (and line)."""


def builtin_rules_dir() -> Path:
    """The packs shipped with cleaner: inside the installed package, or the repo's ``rules/``."""
    here = Path(__file__).resolve().parent.parent  # the cleaner package
    packaged = here / "_rules"
    return packaged if packaged.is_dir() else here.parent / "rules"


@dataclass
class Rule:
    id: str
    kind: str
    pattern: str
    category: str
    language: str
    why: str = ""
    match: list[str] = field(default_factory=list)
    no_match: list[str] = field(default_factory=list)
    case_sensitive: bool = False
    long: bool = False
    default: bool = True
    max_items: int = 12
    caption: bool = False
    file: str = ""
    compiled: _native.Pattern | None = field(default=None, repr=False, compare=False)

    def definition(self) -> dict[str, object]:
        """What the rule *does* (not its examples): part of the rule-set version."""
        return {k: getattr(self, k) for k in ("id", "kind", "pattern", "case_sensitive", "long",
                                               "max_items", "caption")}

    def hit(self, line: str) -> tuple[int, int] | None:
        """Apply the pattern the way the kind says: the span of the first match a search
        finds for inline, else the whole line when it matches whole; None for no match."""
        assert self.compiled is not None
        return self.compiled.find(line)[0]

    def check_examples(self) -> list[str]:
        """Failures of this rule's own examples, as messages (empty when all pass)."""
        from .normalise import collapse

        problems = []
        for ex in self.match:
            m = self.hit(collapse(ex))
            if m is None:
                problems.append(f"{self.id}: should match {ex!r}")
            elif self.kind == "inline" and m[0] == m[1]:
                problems.append(f"{self.id}: matches an empty span in {ex!r}")
        for ex in self.no_match:
            if self.hit(collapse(ex)) is not None:
                problems.append(f"{self.id}: should not match {ex!r}")
        if not self.match or not self.no_match:
            problems.append(f"{self.id}: needs at least one match and one no_match example")
        return problems


def _compile(pending: Sequence[tuple[Rule, _Where, bool]]) -> None:
    """Compile the rules' patterns in the core, all in one call (on every core: this is most
    of the rule set's loading), in place; :class:`RuleError` for the first rule, in order,
    whose pattern is refused.

    The core parses a pattern here but builds its own automaton on first use (in each
    worker, for the few rules a line needs: building all of them is more than a start-up).
    A rule with the ``probe`` flag (a user's folder) is checked in full now: its automaton
    is built (``Pattern.check``), so that one over the core's size limit (``(a{1000}){1000}``)
    is refused here, with its file and line, rather than never matching a line with a
    non-ASCII character; and a pattern that runs on the backtracker (lookaround) is tried on
    strings made to make it backtrack: long runs of the characters it names and its own
    examples repeated, each followed by a character that makes the match fail at the very
    end. The built-in packs are checked and probed by the test suite, not at every start."""
    todo = [(rule, where, probe) for rule, where, probe in pending if rule.compiled is None]
    compiled = _native.compile_patterns([(r.pattern, r.case_sensitive, r.kind == "inline") for r, _, _ in todo])
    for (rule, where, probe), pattern in zip(todo, compiled, strict=True):
        if _FUZZY.search(rule.pattern):
            raise RuleError(f"{where}: rule {rule.id}: bad pattern: fuzzy matching ({{e<=1}}) is not supported")
        if isinstance(pattern, str):
            cause = " ".join(pattern.split())
            raise RuleError(f"{where}: rule {rule.id}: bad pattern: {cause}")
        if probe and (cause := pattern.check()) is not None:
            raise RuleError(f"{where}: rule {rule.id}: bad pattern: {' '.join(cause.split())}")
        rule.compiled = pattern
        if not probe or not pattern.backtracks:
            continue
        for text in probes(rule):
            if pattern.find(text)[1]:
                raise RuleError(
                    f"{where}: rule {rule.id}: pattern backtracks catastrophically "
                    f"(over {_native.BACKTRACK_LIMIT:,} backtracking steps on a {len(text)}-character probe)"
                )


def probes(rule: Rule) -> list[str]:
    """Strings on which a backtracking pattern shows catastrophic backtracking."""
    chars = sorted({ch for ch in rule.pattern if ch.isalnum()})[:24]
    return [*_PROBES, *(ch * 1500 + "\x00" for ch in chars),
            *((ex * (1 + 1500 // max(1, len(ex))))[:1500] + "\x00" for ex in rule.match[:3])]


@dataclass(frozen=True)
class _Where:
    """A rule's place in its file, for messages: ``path:line``, worked out only when one
    is written (finding each rule's line in its file's text is a tenth of a load)."""

    path: Path
    raw: str
    rid: str

    def __str__(self) -> str:
        idx = self.raw.find(self.rid) if self.rid else -1
        return f"{self.path}:{self.raw.count(chr(10), 0, idx) + 1 if idx >= 0 else 0}"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: cannot read rule file: {exc}") from exc


def _parse(path: Path, raw: str) -> dict[str, object]:
    try:
        return tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{path}: invalid TOML: {exc}") from exc


def _rules_of(path: Path, raw: str, data: dict[str, object], probe: bool,
              into: list[tuple[Rule, _Where, bool]]) -> None:
    """The rules of one parsed pack, appended to ``into`` (not compiled) as they are checked:
    on a :class:`RuleError`, ``into`` holds the rules above the one at fault."""
    pack = data.get("pack", {})
    if not isinstance(pack, dict):
        raise RuleError(f"{path}: [pack] must be a table")
    language = str(pack.get("language", path.parent.name))
    category = str(pack.get("category", path.stem))
    if category not in CATEGORIES:
        raise RuleError(f"{path}: unknown category {category!r} (one of: {', '.join(CATEGORIES)})")
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        raise RuleError(f"{path}: 'rule' must be an array of tables ([[rule]])")
    internal = ("category", "language", "file", "compiled")
    allowed = {f for f in Rule.__dataclass_fields__ if f not in internal}
    for n, entry in enumerate(entries, 1):
        rid = entry.get("id") if isinstance(entry, dict) else None
        where = _Where(path, raw, str(rid) if rid else "")
        if not isinstance(entry, dict) or not isinstance(rid, str) or not rid:
            raise RuleError(f"{where}: rule #{n} has no string 'id'")
        unknown = set(entry) - allowed
        if unknown:
            raise RuleError(f"{where}: rule {rid}: unknown field(s) {', '.join(sorted(unknown))}")
        if entry.get("kind") not in KINDS:
            raise RuleError(f"{where}: rule {rid}: kind must be one of {', '.join(KINDS)}")
        if not isinstance(entry.get("pattern"), str) or not entry["pattern"]:
            raise RuleError(f"{where}: rule {rid}: 'pattern' must be a non-empty string")
        for key in ("match", "no_match"):
            if not isinstance(entry.get(key, []), list) or not all(isinstance(x, str) for x in entry.get(key, [])):
                raise RuleError(f"{where}: rule {rid}: '{key}' must be a list of strings")
        into.append((Rule(**entry, category=category, language=language, file=str(path)), where, probe))


def load_file(path: Path, probe: bool = True) -> list[Rule]:
    """Rules of one TOML pack; :class:`RuleError` names the file and line on any problem.
    ``probe``: refuse a pattern that backtracks catastrophically (see :func:`_compile`)."""
    pending: list[tuple[Rule, _Where, bool]] = []
    try:
        raw = _read(path)
        _rules_of(path, raw, _parse(path, raw), probe, pending)
    except RuleError:
        _compile(pending)  # a bad pattern above the fault is named first, as rule by rule
        raise
    _compile(pending)
    return [rule for rule, _, _ in pending]


def load_dirs(dirs: Sequence[Path]) -> list[Rule]:
    """All rules of the given folders, in order; a later folder's rule replaces an earlier
    rule with the same id (so users can override a built-in rule), duplicates inside one
    folder are an error.

    The patterns are compiled together at the end (:func:`_compile`); the first problem,
    in file and rule order, is the one raised, as when each rule was compiled as it was
    read. A folder's packs are parsed once and kept in the user's cache (see
    :func:`_packs`): TOML parsing in Python was a fifth of a load."""
    by_id: dict[str, Rule] = {}
    pending: list[tuple[Rule, _Where, bool]] = []
    builtin = builtin_rules_dir().resolve()
    try:
        for d in dirs:
            d = Path(d)
            if not d.is_dir():
                raise RuleError(f"{d}: rule folder does not exist")
            seen_here: dict[str, str] = {}
            probe = d.resolve() != builtin
            for path, raw, data in _packs(d):
                start = len(pending)
                _rules_of(path, raw, data, probe, pending)
                for rule, _, _ in pending[start:]:
                    if rule.id in seen_here:
                        raise RuleError(f"{path}: duplicate rule id {rule.id} (also in {seen_here[rule.id]})")
                    seen_here[rule.id] = str(path)
                    by_id[rule.id] = rule
    except RuleError:
        _compile(pending)
        raise
    _compile(pending)
    return list(by_id.values())


#: Bump when what :func:`_packs` keeps changes shape.
_PACKS_CACHE_FORMAT = 2


def _packs(folder: Path) -> Iterator[tuple[Path, str, dict[str, object]]]:
    """Each TOML pack of ``folder`` (recursively, in sorted order): its path, text and
    parsed data; :class:`RuleError` for a pack that cannot be read or parsed, in its turn.

    The parsed data of a whole folder is kept as JSON in the user's cache directory
    (:mod:`cleaner.cache`), under a digest of every pack's path and bytes (and of the Python
    version: ``tomllib`` is its), so an edited, added or removed pack is parsed again."""
    paths = sorted(folder.rglob("*.toml"))
    texts: list[str | RuleError] = []
    digest = hashlib.sha256(repr((_PACKS_CACHE_FORMAT, sys.version_info[:2])).encode())
    for path in paths:
        try:
            raw = _read(path)
        except RuleError as exc:
            texts.append(exc)
            continue
        texts.append(raw)
        digest.update(b"\x00%s\x00%d\x00" % (str(path.relative_to(folder)).encode("utf-8", "surrogatepass"),
                                                len(raw)))
        digest.update(raw.encode("utf-8"))
    key = digest.hexdigest()
    name = f"packs-{hashlib.sha256(str(folder.resolve()).encode('utf-8', 'surrogatepass')).hexdigest()[:24]}.json"
    cached = cache.read(name, key)
    if not (isinstance(cached, list) and len(cached) == len(paths) and all(isinstance(p, dict) for p in cached)):
        cached = None
    parsed: list[dict[str, object]] = []
    for n, (path, raw) in enumerate(zip(paths, texts, strict=True)):
        if isinstance(raw, RuleError):
            raise raw
        data = cached[n] if cached is not None else _parse(path, raw)
        parsed.append(data)
        yield path, raw, data
    if cached is None:
        cache.write(name, key, parsed)


def _selected(rule: Rule, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(rule.id, p) or p in (rule.category, rule.language) for p in patterns)


@dataclass
class Application:
    """What applying a rule set did to one document's lines."""

    lines: list[str]  # the lines after inline edits (removed lines keep their text)
    marks: list[str | None]  # rule id that removed each line, or None when kept
    edits: dict[int, str] = field(default_factory=dict)  # line index -> inline rule that cut a span

    @property
    def kept(self) -> list[str]:
        return [ln for ln, m in zip(self.lines, self.marks, strict=True) if m is None]


#: What the core says of a line: the first whole-line rule that matches it, the first
#: such rule marked ``long`` (the one a sentence-like line meets), -1 for none, and the
#: inline rules that may cut a span of it (each confirmed by :meth:`Rule.hit`).
Hits = tuple[int, int, Sequence[int]]
_NO_HITS: Hits = (-1, -1, ())


#: :meth:`RuleSet.cached`'s rule sets, by (folders, disable, enable)
_LOADED: dict[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], RuleSet] = {}


class RuleSet:
    """The active rules, ready to apply."""

    def __init__(self, rules: Sequence[Rule]):
        self.rules = list(rules)
        self._matcher: _native.Matcher | None = None
        self._guards: _native.Guards | None = None
        # the automaton over every pattern is the largest piece of a start-up and cannot be
        # split: the core builds it on a thread of its own from now on, while the driver
        # imports and lists its inputs, and :attr:`matcher` waits for it
        self._build = _native.MatcherBuild([r.compiled for r in self.rules], [r.long for r in self.rules])

    @functools.cached_property
    def version(self) -> str:
        """A digest of what the rules do (:meth:`Rule.definition`), which a persistent index
        records; worked out when asked (a run without an index never does)."""
        return hashlib.sha256(
            json.dumps([r.definition() for r in sorted(self.rules, key=lambda r: r.id)],
                       sort_keys=True).encode()
        ).hexdigest()[:16]

    @property
    def matcher(self) -> _native.Matcher:
        """All patterns in one automaton (``Matcher``), built by the core on a thread of its
        own from the moment the rule set is made; the first use waits for it, and
        :meth:`CleanSettings.prepare` makes that happen before workers fork (a forked child
        would build its own)."""
        if self._matcher is None:
            self._matcher = self._build.matcher()
        return self._matcher

    @property
    def guards(self) -> _native.Guards:
        """The rules' decision in the core (``native/src/guards.rs``), over :attr:`matcher`."""
        if self._guards is None:
            from . import furniture as chrome

            classifier = chrome.classifier()  # built while the core's thread still builds the matcher
            self._guards = _native.Guards(
                self.matcher, [r.kind for r in self.rules], [r.id for r in self.rules],
                [r.long for r in self.rules], [r.max_items for r in self.rules], [r.caption for r in self.rules],
                _LIMITS, classifier)
        return self._guards

    def prepare(self) -> None:
        """Build the matcher and the guards now (in the driver, before the workers fork)."""
        _ = self.guards

    @classmethod
    def load(cls, extra_dirs: Sequence[Path] = (), disable: Iterable[str] = (),
             enable: Iterable[str] = (), builtin: bool = True) -> RuleSet:
        dirs = ([builtin_rules_dir()] if builtin else []) + [Path(d) for d in extra_dirs]
        disable, enable = list(disable), list(enable)
        rules = [r for r in load_dirs(dirs)
                 if (r.default or _selected(r, enable)) and not _selected(r, disable)]
        return cls(rules)

    def __len__(self) -> int:
        return len(self.rules)

    @classmethod
    def cached(cls, dirs: Sequence[str], disable: Sequence[str], enable: Sequence[str]) -> RuleSet:
        """:meth:`load` once per process and settings (``CleanSettings.ruleset``): a forked
        worker inherits the driver's. The CLI calls it before it imports the pipeline, so
        that the core's thread builds the matcher while the driver imports (see
        ``cli.commands.clean_settings``)."""
        key = (tuple(dirs), tuple(disable), tuple(enable))
        if key not in _LOADED:
            _LOADED[key] = cls.load([Path(d) for d in dirs], disable=disable, enable=enable)
        return _LOADED[key]

    @classmethod
    def forget(cls, dirs: Sequence[str], disable: Sequence[str], enable: Sequence[str]) -> None:
        """Drop :meth:`cached`'s rule set for these settings, so that its memory (the parsed
        patterns and the core's matcher: about 65 MiB for the built-in packs, and in a
        process that cleaned, their automata's caches) goes once nothing else holds it; a
        later :meth:`cached` loads and builds it again (about 0.3 s of CPU)."""
        _LOADED.pop((tuple(dirs), tuple(disable), tuple(enable)), None)

    def _line_hits(self, line: str) -> Hits:
        """:data:`Hits` of one collapsed line (a line over :data:`MAX_RULE_LINE` meets no rule)."""
        if len(line) > MAX_RULE_LINE:
            return _NO_HITS
        return self.matcher.line(line)

    def apply(self, lines: Sequence[str]) -> Application:
        """Mark the lines the rules remove. Order: section markers (tail) first, because
        they remove the most; then headings with lists, credits, whole lines, spans.

        A rule that removes more than its own line must prove the cut safe, whoever wrote
        the rule: a chrome string also occurs where it heads no chrome ("Readers'
        comments" as a link in the top menu, "Latest" as a menu item above the article).
        The page's main prose block (:func:`chrome.main_block`, its longest run of prose)
        is the article; a thread, a headline list or a footer is never it, because their
        prose comes in short pieces (one comment, one teaser) between names, dates and
        links. So a ``tail`` marker above or inside the main block removes only its own
        line (the marker is chrome wherever it stands; see ``tail_safe``), and a
        ``list`` takes only lines that can be headlines (see ``list_item``). The block
        is only computed for a document where a tail marker fires.

        All of it is one call to the core (``native/src/guards.rs``, where each guard is
        documented; the main prose block is the region finder's, ``native/src/region.rs``),
        the GIL released."""
        out, marks, edits = self.guards.apply(list(lines))
        return Application(out, marks, dict(edits))

    def line_rule(self, line: str) -> Rule | None:
        """The first rule that removes ``line`` as a whole (not inline rules), if any: a
        sentence-like line (see ``rules.rs``'s guards) only meets ``long`` rules."""
        n = self.guards.line_rule(line)
        return None if n is None else self.rules[n]

    def self_test(self) -> list[str]:
        problems = []
        for rule in self.rules:
            problems.extend(rule.check_examples())
        return problems

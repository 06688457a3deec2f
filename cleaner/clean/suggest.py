"""``cleaner rules suggest``: turn a scrape's repeated lines into a rule pack that loads as it is.

The template statistics find every line that recurs in many documents of one site (source:
folder, or URL host for records). Most are chrome ("Home", "Contact us", "Privacy Policy"),
but a scrape of hard-wrapped newswire text also repeats pieces of prose ("said.", "the",
"1") and every site repeats its own stock sentences. A rule suggested from such a line
would remove it from every page of every site, so a line is suggested only when it has
the shape of a label (:func:`why_not`): short, not a sentence, not a piece of wrapped
prose, with at least one word that is not a function word or a number. The evidence (in
how many documents of which sites) is written beside each rule, the rules are grouped by
the site they come from, and the pack is checked the way ``cleaner rules test`` checks it
(valid TOML, unique ids, every example passes) before it is printed.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .furniture import pick_stoplist
from .normalise import collapse
from .rules import Rule, RuleError, RuleSet, load_file

MAX_WORDS = 8  # navigation labels, buttons and footer links are a few words long
MAX_CHARS = 80
FUNCTION_WORD_LETTERS = 3  # a stopword this short is a function word ("the", "in", "we")
SITES_SHOWN = 5
_WORD = re.compile(r"[^\W\d_]+")  # runs of letters: "COVID-19" has the word "COVID"
_SENTENCE_END = re.compile(r"[.!?…。！？]['\"”’»)\]]*$")
_BROKEN_END = re.compile(r"[,;(\[{–—-]$")
_QUOTES = "\"'“‘„«‹「『"
PROSE_WORDS = 6  # a line this long that is half function words reads as prose


def why_not(text: str) -> str | None:
    """Why a repeated line is not suggested as a rule, or None when it reads as chrome.

    The tests follow from what a ``line`` rule does: it removes that exact line (case and
    spacing folded) from every document of every site. So the line must be one no article
    could contain as a line of its own text:

    * it has letters (not a count, date, price or separator: "1", "12:30", "-");
    * it is short: at most ``MAX_WORDS`` words and ``MAX_CHARS`` characters;
    * it does not start with a lower-case letter: that is the continuation of a sentence
      broken across lines ("said.", "the"); nor with a quotation mark (a quote);
    * it does not end like a sentence (``.``, ``!``, ``?``) when it has two words or more,
      nor break off on a comma, semicolon, dash or opening bracket: prose, or part of it;
    * not all its words are function words (stopwords of at most three letters in the
      stoplist its words most look like: "The", "WE", "In the"). A longer stopword may be
      a label of its own ("Home", "More", "Next", "About us"); and a line of
      ``PROSE_WORDS`` words or more is not half stopwords, as running text is.
    """
    if not text or any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in text):
        return "control or undecodable characters"
    words = _WORD.findall(text)
    if not words:
        return "no letters (a number, date or separator)"
    n_words = len(text.split())
    if n_words > MAX_WORDS or len(text) > MAX_CHARS:
        return "too long for a label"
    if text[0].islower():
        return "starts in lower case (a piece of wrapped prose)"
    if text[0] in _QUOTES:
        return "starts with a quotation mark"
    if (n_words >= 2 and _SENTENCE_END.search(text)) or _BROKEN_END.search(text):
        return "ends like a sentence, or breaks off like one"
    folded = [w.casefold() for w in words]
    stops = pick_stoplist(folded)
    if all(w in stops and len(w) <= FUNCTION_WORD_LETTERS for w in folded):
        return "function words only"
    if len(folded) >= PROSE_WORDS and 2 * sum(w in stops for w in folded) >= len(folded):
        return "half function words, as prose is"
    return None


def _slug(text: str, limit: int) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")
    return slug


def toml_str(s: str) -> str:
    """A TOML basic string. (``json.dumps`` is not one: it writes U+007F raw and
    non-BMP characters as surrogate pairs, both invalid in TOML.)"""
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def site_name(source: str) -> str:
    return source if source not in ("", ".") else "(top folder)"


@dataclass
class Suggestion:
    text: str
    evidence: list[tuple[str, int, int]]  # (source, documents with the line, documents of the source)
    rule_id: str = ""

    @property
    def site(self) -> str:
        return self.evidence[0][0]


@dataclass
class Suggestions:
    """What ``rules suggest`` found: the rules, grouped by site, and what it left out."""

    language: str
    min_docs: int
    rules: dict[str, list[Suggestion]] = field(default_factory=dict)  # site -> its suggestions
    left_out: Counter[str] = field(default_factory=Counter)  # reason -> lines
    repeated: int = 0

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.rules.values())

    def toml(self) -> str:
        lang = self.language
        sites = len({s for group in self.rules.values() for sug in group for s, _, _ in sug.evidence})
        head = [
            f"# cleaner rules suggest: {self.count} line rules from the lines repeated in {self.min_docs} or more",
            f"# documents of one site ({self.repeated} such lines; {sites} site{'' if sites == 1 else 's'}). "
            "Review them before adopting:",
            "# each removes its line from every document of every site. Save this as DIR/<name>.toml,",
            "# check it with `cleaner rules test --rules DIR`, use it with `cleaner clean --rules DIR`.",
        ]
        if self.left_out:
            head.append("# Left out (not label-like, or already removed by a rule):")
            head += [f"#   {n:>6}  {reason}" for reason, n in sorted(self.left_out.items(), key=lambda kv: -kv[1])]
        out = ["\n".join(head), f'[pack]\nlanguage = {toml_str(lang)}\ncategory = "navigation"']
        for site, group in self.rules.items():
            out.append(f"# ---- site {site_name(site)}: {len(group)} rule{'' if len(group) == 1 else 's'}")
            for sug in group:
                out.append(_rule_toml(sug))
        return "\n\n".join(out) + "\n"


def _evidence(sug: Suggestion) -> str:
    parts = [f"{site_name(s)} ({n} of {of} documents)" for s, n, of in sug.evidence[:SITES_SHOWN]]
    more = len(sug.evidence) - SITES_SHOWN
    return ", ".join(parts) + (f" and {more} more site{'' if more == 1 else 's'}" if more > 0 else "")


def _examples(text: str) -> tuple[list[str], list[str]]:
    # the line as seen, and as a menu would also print it; a sentence that contains it
    # must not match (the rule removes whole lines only)
    match = [text] + ([text.upper()] if text.upper() != text else [])
    return match, [f"This sentence mentions {text} among other words."]


def _rule_toml(sug: Suggestion) -> str:
    match, no_match = _examples(sug.text)
    n_sites = len(sug.evidence)
    why = (f"Repeated line of {n_sites} site{'' if n_sites == 1 else 's'}: {_evidence(sug)}. "
           "Suggested by cleaner rules suggest from line statistics; review before adopting.")
    return (f"# evidence: {_evidence(sug)}\n"
            "[[rule]]\n"
            f"id = {toml_str(sug.rule_id)}\n"
            'kind = "line"\n'
            f"pattern = {toml_str(re.escape(sug.text).replace(chr(92) + ' ', ' '))}\n"
            f"why = {toml_str(why)}\n"
            f"match = [{', '.join(toml_str(x) for x in match)}]\n"
            f"no_match = [{', '.join(toml_str(x) for x in no_match)}]")


def suggest(repeated: Iterable[dict[str, Any]], ruleset: RuleSet | None = None, language: str = "xx",
            min_docs: int = 5) -> Suggestions:
    """Suggestions from ``repeated`` (rows of ``TemplateStats.report``: ``source``,
    ``text``, ``documents``, ``of``), leaving out lines that are not label-like
    (:func:`why_not`) and lines a rule of ``ruleset`` already removes."""
    result = Suggestions(language, min_docs)
    by_text: dict[str, Suggestion] = {}
    for row in repeated:
        result.repeated += 1
        text = collapse(str(row.get("text", "")))
        reason = why_not(text)
        if reason is None and ruleset is not None:
            rule = ruleset.line_rule(text)
            if rule is not None:
                reason = "already removed by a rule"
        if reason is not None:
            result.left_out[reason] += 1
            continue
        # one rule per line as the rule matches it: case and spacing folded
        sug = by_text.setdefault(text.casefold(), Suggestion(text, []))
        sug.evidence.append((str(row.get("source", "")), int(row.get("documents", 0)), int(row.get("of", 0))))
    for sug in by_text.values():
        sug.evidence.sort(key=lambda e: (-e[1], e[0]))
    ordered = sorted(by_text.values(), key=lambda s: (s.site, -s.evidence[0][1], s.text.casefold(), s.text))
    used: set[str] = set()
    for sug in ordered:
        site, line = _slug(site_name(sug.site), 30) or "site", _slug(sug.text, 40) or "line"
        base = f"{language}.navigation.suggested-{site}-{line}"
        rid, n = base, 2
        while rid in used:  # "Search" and "SEARCH:" share a slug; ids must not
            rid, n = f"{base}-{n}", n + 1
        used.add(rid)
        sug.rule_id = rid
        result.rules.setdefault(sug.site, []).append(sug)
    return result


def check(pack: str) -> list[Rule]:
    """Load ``pack`` the way ``--rules DIR`` does and run its examples; :class:`RuleError`
    on any problem. The suggestions are printed only when they pass, so what the user
    saves loads as it is."""
    with tempfile.TemporaryDirectory(prefix="cleaner-suggest-") as tmp:
        path = Path(tmp) / "suggested.toml"
        path.write_text(pack, encoding="utf-8")
        rules = load_file(path)
    ids = Counter(r.id for r in rules)
    dup = [i for i, n in ids.items() if n > 1]
    if dup:
        raise RuleError(f"suggested rules: duplicate ids {', '.join(dup[:5])}")
    problems = [p for r in rules for p in r.check_examples()]
    if problems:
        raise RuleError("suggested rules fail their own examples: " + "; ".join(problems[:5]))
    return rules

"""The per-document stages, as plain functions of (document, settings) -> document.

Engines (local processes, Ray) schedule exactly these functions; they hold no cleaning
logic of their own, which is why a Ray run and a local run give byte-identical output.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..document import Document
from ..native import core
from . import furniture as chrome
from .normalise import finish_normalising, html_to_text, normaliser
from .rules import RuleSet

# over_cleaned (see :func:`flag_over_cleaned`): the shares of a document's words whose loss
# makes it worth a look
OVER_CLEAN_RULES = 1 / 3  # to rules (pattern rules: they are meant to take short chrome lines)
OVER_CLEAN_ALL = 0.9  # to every mechanism together
OVER_CLEAN_MOST = 0.5  # to every mechanism, when fewer than OVER_CLEAN_SHORT words are left
OVER_CLEAN_SHORT = 100
OVER_CLEAN_MIN_WORDS = 50  # a shorter input is not flagged: too little to judge by shares
FURNITURE_ID: str = core.FURNITURE_ID  # "chrome.furniture" (the core counts its removals)
TEMPLATE_ID: str = core.TEMPLATE_ID  # "chrome.template"
WRAPPER_ID: str = core.WRAPPER_ID  # "chrome.wrapper"
# removed lines above (and below) the text kept for wrapper detection (120): a long footer (a list of
# sources, a link directory) is a wrapper too, and its middle lines must be in it
HEAD_LINES: int = core.HEAD_LINES


@dataclass
class CleanSettings:
    """Everything the cleaning stages depend on (picklable, sent to workers)."""

    rule_dirs: list[str] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)
    enable: list[str] = field(default_factory=list)
    furniture: bool = True
    wrappers: bool = True  # drop lines sharing the document set of the page's header
    template_min_docs: int = 5
    template_min_share: float = 0.3

    def ruleset(self) -> RuleSet:
        return RuleSet.cached(self.rule_dirs, self.disable, self.enable)

    def prepare(self) -> None:
        """Build, in the driver, the tables every worker needs (the compiled rule set, the
        furniture classifier's stoplist index): forked workers then inherit them instead
        of each building its own (about a second of CPU per worker)."""
        self.ruleset().prepare()
        if self.furniture:
            chrome.prepare()

    def release_rules(self) -> None:
        """Let this process's rule set go (:meth:`RuleSet.forget`): for a driver whose run
        has no use for it after pass 1 (see ``RunSettings.free_rules``)."""
        RuleSet.forget(self.rule_dirs, self.disable, self.enable)


def body_lines(body: str) -> list[str]:
    """The lines of ``Document.body`` (each is followed by a newline there)."""
    return body.split("\n")[:-1]


def _join(lines: list[str]) -> str:
    """Kept lines as text: one paragraph per line, blank line between paragraphs."""
    return "\n\n".join(ln for ln in lines if ln)


#: What ``rules explain`` shows of a document: ``[line, mark]`` for each non-empty line of
#: its normalised text, in order; the mark names the mechanism that removed the line (a rule
#: id, ``chrome.*``), ``~rule`` for a kept line an inline rule cut a span from, None for kept.
#: :func:`clean` and :func:`remove_templates` fill it as they decide, so it is their decision.
Trace = list[list[str | None]]


def clean(doc: Document, settings: CleanSettings, trace: Trace | None = None) -> Document:
    """:func:`clean_keys`, the document alone (its line keys are set on it all the same)."""
    return clean_keys(doc, settings, trace)[0]


def clean_keys(doc: Document, settings: CleanSettings, trace: Trace | None = None
               ) -> tuple[Document, np.ndarray | None]:
    """normalise -> (HTML main text) -> rules -> furniture. Sets ``doc.text`` to the kept
    lines and records every removal in ``doc.removed``; with ``trace``, also line by line
    (see :data:`Trace`). Returns the document and, when it kept text, the distinct keys it
    adds to the template statistics (sorted ``uint64``: those of its text's and header's
    lines that are not blank; ``doc.line_keys`` and ``doc.head_keys`` are set too).

    Normalisation and everything after it is one call to the core (``native/src/assemble.rs``;
    a text ftfy or NFC must fix goes back to Python for that, then to the core again):
    the rules, the furniture classifier over the lines they left, and what the document
    keeps of that decision (its text, ``head``: the page's own furniture above and below
    the text, ``body``: the classifier's input, the removals by mechanism, the words in,
    the line keys). Assembled in Python, line by line between calls to the core, that
    cost pass 1 more than the furniture classifier itself. ``rules explain`` reads its
    trace from the same call, so it shows the decision this function acts on."""
    if doc.status != "kept":
        return doc, None
    text = doc.text
    if doc.kind == "html":
        try:
            text = html_to_text(text)
        except Exception as exc:  # lxml/trafilatura failures on hostile markup
            return doc.fail("error", f"HTML extraction failed: {type(exc).__name__}: {exc}", "extract"), None
    # trafilatura already chose the main text of an HTML page from its markup, which is a
    # better signal than line statistics; a second, text-only pass would only lose recall.
    region = chrome.region() if settings.furniture and doc.kind != "html" else None
    guards = settings.ruleset().guards
    # normalise_text and the rest in one call, unless the text needs ftfy or NFC (about one
    # in ten of a crawl): then Python's part of normalise_text, and the rest
    out = core.normalise_assemble_page(normaliser(), text, guards, region, trace is not None)
    if len(out) == 3:  # a step of normalise_text, not the assembled page
        out = core.assemble_page(finish_normalising(text, out), guards, region, trace is not None)
    (doc.text, doc.head, doc.body, removed, words_in, line_keys, head_keys, keys, marks) = out
    doc.words_in = words_in
    counts, words_of = doc.removed, doc.removed_words
    for rid, lines, words in removed:  # (dict.get: a Counter's ``+=`` calls ``__missing__`` in Python)
        counts[rid] = counts.get(rid, 0) + lines
        words_of[rid] = words_of.get(rid, 0) + words
    if trace is not None:
        trace.extend([line, mark] for line, mark in marks)
    if not doc.text:
        doc.fail("empty", "nothing left after cleaning" if words_in else "no text", "clean")
        return doc, None
    if keys is None:  # normalisation replaces lone surrogates: no text reaches here with one
        raise ValueError("a kept line holds a lone surrogate, which has no line key")
    doc.line_keys, doc.head_keys = line_keys, head_keys
    return doc, np.frombuffer(keys, dtype=np.uint64)


def flag_over_cleaned(doc: Document) -> Document:
    """Flag ``over_cleaned`` on a kept document that lost more than its share of words, to
    every mechanism together (rules, furniture, templates, wrappers, cut passages): called
    once the text is final, when the run writes the document.

    What is "its share": chrome is most of many scraped pages (on a raw news scrape half
    the words go, and a quarter of the pages keep under 30%), so a share of words alone
    either flags most pages or misses an eaten article. The flag marks the shapes an
    eaten article leaves:

    * rules took over a third of the words: pattern rules are written for short chrome
      lines, so that much is a tail or list rule that took prose;
    * more than half went and fewer than a hundred words are left: what is left is too
      short for an article while the page had one's worth (the article went with the
      chrome, and the text kept is a menu, a caption or a teaser);
    * over nine tenths went, whatever is left: a page that was nearly all chrome is
      possible, but rare enough to be worth a look.

    Shares of the document's own words, not of a run-wide norm, so a document's flag
    does not depend on what else is in the run (or the order the engines finish in).
    Texts under fifty words are never flagged: one line more or less swings any share."""
    words_in = doc.words_in
    if doc.status != "kept" or words_in < OVER_CLEAN_MIN_WORDS or "over_cleaned" in doc.flags:
        return doc
    total = rules = 0
    for rid, n in doc.removed_words.items():  # one pass: every kept document is flagged or not
        total += n
        if not rid.startswith(("chrome.", "dedup.")):
            rules += n
    lost, by_rules = total / words_in, rules / words_in
    # the words left are counted only when the last test needs them (the manifest counts them too)
    if by_rules > OVER_CLEAN_RULES or lost > OVER_CLEAN_ALL or (
            lost > OVER_CLEAN_MOST and doc.words_out < OVER_CLEAN_SHORT):
        doc.flags.append("over_cleaned")
    return doc


def template_arrays(templates: dict[str, set[int]]) -> dict[str, np.ndarray]:
    """Each source's template keys as a sorted ``uint64`` array, what :func:`remove_templates`
    takes: built once in the driver, the workers' core reads them as they are (a ``set`` of
    ints would be converted for every document)."""
    return {source: chrome.read_only(np.array(sorted(keys), dtype=np.uint64)) for source, keys in templates.items()}


_NO_KEYS = chrome.read_only(np.zeros(0, dtype=np.uint64))

#: An outcome of ``core.untemplate_page``: the kept text (None: as it was), (id, lines, words)
#: per mechanism, (key, id, line) per removed line, and the wrapper sets of a re-run of the
#: furniture classifier (None: no re-run; then the other three are None)
Outcome = tuple[str | None, list[tuple[str, int, int]] | None, list[tuple[int, str, str]] | None, list[int] | None]


def remove_templates(doc: Document, templates: dict[str, np.ndarray], stats: chrome.TemplateStats | None = None,
                     wrappers: bool = True, trace: Trace | None = None) -> Document:
    """Second pass: drop lines that are template for the document's source (``templates``:
    each source's keys, see :func:`template_arrays`), and (with ``wrappers``) lines of the
    page wrapper (same document set as the page's header, see :class:`chrome.TemplateStats`).
    Lines in many documents are noted for the report.

    When those take most of the text, the furniture classifier kept the wrong region: a
    page template often carries prose of its own (the site's own story or an "about"
    blurb, the same on every page built from it), which outscores an inserted article
    that is mostly short lines (a table of figures). Knowing now which lines are the
    template's, the classifier runs again on the rest (see :func:`_reclassify`).

    The lines are decided in one call to the core (``native/src/untemplate.rs``): the
    statistics' lookup, the marks, the removals and the kept text. Walked line by line in
    Python (and a numpy lookup of fixed cost twice a document) that was most of the step.
    The re-run stays here (1% of the documents of a 20 MB crawl, 14% of a site whose
    pages are mostly its template): a classifier call of its own anyway."""
    source = doc.source  # a property (a URL's host is parsed each time): read once
    keys = chrome.read_only(templates.get(source, _NO_KEYS))  # (a Ray worker's unpickled copy is not)
    head, doc.head = doc.head, []
    body, doc.body = doc.body, ""
    line_keys, head_keys, doc.line_keys, doc.head_keys = doc.line_keys, doc.head_keys, None, None
    if doc.status != "kept":
        return doc
    if line_keys is None:
        line_keys = chrome.line_keys(doc.text.split("\n\n"))
    if head_keys is None:
        head_keys = chrome.line_keys(head)
    # The lookups run even when nothing can be removed: they note the texts of the lines
    # the report lists (samples: the header's lines, then the text's).
    decided, first, fallback, marks, samples = core.untemplate_page(
        doc.text, line_keys, head, head_keys, keys, None if stats is None else stats.columns(source),
        wrappers, None if stats is None else stats.sample_at, bool(body), trace is not None)
    if stats is not None:
        stats.note_samples(source, samples)
    if not decided:
        return doc
    before = dict(doc.removed), dict(doc.removed_words)  # plain copies: restored only in the rare case below
    text, body_marks, gone = _outcome(doc, first, body, keys, stats)
    if fallback is not None and not text:
        # Every line of the text, and of the first pass's input, occurs in exactly the
        # pages of its header: this page is a copy of another page of the site
        # (republished under a second address, or in the index already), not an article
        # inside a wrapper. Emptying it would hide the copy from duplicate detection (a CI
        # gate would pass it), so it loses only its template lines.
        doc.removed, doc.removed_words = Counter(before[0]), Counter(before[1])
        if marks is not None:
            marks = [m if m == TEMPLATE_ID else None for m in marks]
        text, body_marks, gone = _outcome(doc, fallback, body, keys, stats)
    if stats is not None:  # what was really removed, for the report and duplicates.json
        for key, mark, line in gone:
            stats.note_removed(source, key, mark, line)
    if marks is not None and trace is not None:
        _trace_templates(trace, marks, body_marks)
    doc.text = text
    if not doc.text:
        doc.fail("empty", "nothing left after template removal", "templates")
    return doc


def _outcome(doc: Document, outcome: Outcome, body: str, keys: np.ndarray,
             stats: chrome.TemplateStats | None) -> tuple[str, list[str | None] | None, Removed]:
    """The text an outcome of the core leaves (its removals counted on ``doc.removed`` and
    ``doc.removed_words``), what removed each line of ``body`` when the furniture classifier
    ran again (else None), and the lines removed as template or wrapper."""
    text, removed, gone, matched = outcome
    if matched is not None:
        kept, why, gone = _reclassify(doc, body_lines(body), keys, matched, stats)
        return _join(kept), why, gone
    assert removed is not None and gone is not None
    for mark, lines, words in removed:
        doc.removed[mark] += lines
        doc.removed_words[mark] += words
    return doc.text if text is None else text, None, gone


def _trace_templates(trace: Trace, marks: list[str | None], body_marks: list[str | None] | None) -> None:
    """Record this pass's decisions in ``trace`` (``rules explain``): the template marks of
    the lines the first pass kept or, when the furniture classifier ran again
    (``body_marks``), its new decision on every line of the first pass's input."""
    if body_marks is not None:  # the first pass's furniture lines are decided again too
        redo = [e for e in trace if e[1] is None or e[1] == FURNITURE_ID or str(e[1]).startswith("~")]
        for entry, mark in zip(redo, body_marks, strict=True):
            if mark is not None:
                entry[1] = mark
            elif entry[1] == FURNITURE_ID:
                entry[1] = None  # kept this time
        return
    kept_entries = [e for e in trace if e[1] is None or str(e[1]).startswith("~")]
    for entry, mark in zip(kept_entries, marks, strict=True):
        if mark is not None:
            entry[1] = mark


Removed = list[tuple[int, str, str]]  # (line key, mechanism, line) of each line template removal took


def _reclassify(doc: Document, body: list[str], keys: np.ndarray, wrappers: list[int],
                stats: chrome.TemplateStats | None) -> tuple[list[str], list[str | None], Removed]:
    """The furniture classifier again, on its first-pass input without the template lines.
    Only the wrapper sets that matched the kept text count: the first-pass header may hold
    the article itself (it was left out), whose lines share the set of its copies.
    Returns the kept lines, what removed each non-empty line of ``body`` (None: kept), and
    the lines removed as template or wrapper."""
    rest = []
    filled = [ln for ln in body if ln]
    filled_keys = chrome.line_keys(filled)
    source = doc.source
    found, samples = core.template_marks(filled, filled_keys, keys, None if stats is None else stats.columns(source),
                                         wrappers, None if stats is None else stats.sample_at)
    if stats is not None:
        stats.note_samples(source, samples)
    marks = iter(zip(filled_keys, found, strict=True))
    why: list[str | None] = []
    gone: Removed = []
    for line in body:
        key, mark = next(marks) if line else (0, None)
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
    # the first pass's furniture lines are in ``body``: they are counted again, from scratch
    doc.removed[FURNITURE_ID] = sum(1 for ln, d in zip(rest, drop, strict=True) if ln and d)
    doc.removed_words[FURNITURE_ID] = sum(len(ln.split()) for ln, d in zip(rest, drop, strict=True) if d)
    if not doc.removed[FURNITURE_ID]:
        del doc.removed[FURNITURE_ID]
        doc.removed_words.pop(FURNITURE_ID, None)
    return [ln for ln, d in zip(rest, drop, strict=True) if ln and not d], why, gone

"""The per-document stages, as plain functions of (document, settings) -> document.

Engines (local processes, Ray) schedule exactly these functions; they hold no cleaning
logic of their own, which is why a Ray run and a local run give byte-identical output.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import chrome
from .document import Document
from .normalise import html_to_text, normalise_text
from .rules import RuleSet

OVER_CLEAN_SHARE = 1 / 3  # a document losing more of its words to rules is flagged
FURNITURE_ID = "chrome.furniture"
TEMPLATE_ID = "chrome.template"
WRAPPER_ID = "chrome.wrapper"
HEAD_LINES = 60  # removed lines above the text kept for wrapper detection
RECLASSIFY_SHARE = 0.5  # template lines taking this share of the kept words: the region was wrong


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
        return _ruleset_cache(tuple(self.rule_dirs), tuple(self.disable), tuple(self.enable))

    def prepare(self) -> None:
        """Build, in the driver, the tables every worker needs (the compiled rule set, the
        furniture classifier's stoplist index): forked workers then inherit them instead
        of each building its own (about a second of CPU per worker)."""
        self.ruleset()
        if self.furniture:
            chrome.prepare()


_CACHE: dict[tuple[object, ...], RuleSet] = {}


def _ruleset_cache(dirs: tuple[str, ...], disable: tuple[str, ...], enable: tuple[str, ...]) -> RuleSet:
    key = (dirs, disable, enable)
    if key not in _CACHE:
        _CACHE[key] = RuleSet.load([Path(d) for d in dirs], disable=disable, enable=enable)
    return _CACHE[key]


@dataclass
class Explained:
    """Lines of a document and, for each, the id of what removed it (None = kept)."""

    lines: list[str]
    marks: list[str | None]
    body: list[str] = field(default_factory=list)  # the lines the furniture classifier saw


def explain(text: str, ruleset: RuleSet, furniture: bool = True) -> Explained:
    """Normalised text through the rules and the furniture classifier, line by line."""
    lines = text.split("\n")
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
            marks[i] = f"~{rid}"  # kept, with a span cut by an inline rule
    return Explained(applied.lines, marks, body)


def _join(lines: list[str]) -> str:
    """Kept lines as text: one paragraph per line, blank line between paragraphs."""
    return "\n\n".join(ln for ln in lines if ln)


def clean(doc: Document, settings: CleanSettings) -> Document:
    """normalise -> (HTML main text) -> rules -> furniture. Sets ``doc.text`` to the kept
    lines and records every removal in ``doc.removed``."""
    if doc.status != "kept":
        return doc
    text = doc.text
    if doc.kind == "html":
        try:
            text = html_to_text(text)
        except Exception as exc:  # lxml/trafilatura failures on hostile markup
            return doc.fail("error", f"HTML extraction failed: {type(exc).__name__}: {exc}", "extract")
    text = normalise_text(text)
    # trafilatura already chose the main text of an HTML page from its markup, which is a
    # better signal than line statistics; a second, text-only pass would only lose recall.
    result = explain(text, settings.ruleset(), settings.furniture and doc.kind != "html")
    words_in = sum(len(ln.split()) for ln in result.lines)
    rule_words = 0
    kept = []
    first_kept = next((i for i, m in enumerate(result.marks) if m is None or m.startswith("~")), len(result.marks))
    last_kept = max((i for i, m in enumerate(result.marks) if m is None or m.startswith("~")), default=-1)
    # The page's own furniture above and below the text: its header and its footer.
    doc.head = ([ln for ln in result.lines[:first_kept] if ln][:HEAD_LINES]
                + [ln for ln in result.lines[last_kept + 1:] if ln][-HEAD_LINES:])
    for line, mark in zip(result.lines, result.marks, strict=True):
        if not line:
            continue
        if mark is None or mark.startswith("~"):
            kept.append(line)
            if mark:
                doc.removed[mark[1:]] += 1
        else:
            doc.removed[mark] += 1
            if mark != FURNITURE_ID:
                rule_words += len(line.split())
    if words_in and rule_words / words_in > OVER_CLEAN_SHARE:
        doc.flags.append("over_cleaned")
    doc.text = _join(kept)
    doc.body = result.body
    if not doc.text:
        doc.fail("empty", "nothing left after cleaning" if words_in else "no text", "clean")
    return doc


def remove_templates(doc: Document, templates: dict[str, set[int]], stats: chrome.TemplateStats | None = None,
                     wrappers: bool = True) -> Document:
    """Second pass: drop lines that are template for the document's source, and (with
    ``wrappers``) lines of the page wrapper (same document set as the page's header, see
    :class:`chrome.TemplateStats`). Lines in many documents are noted for the report.

    When those take most of the text, the furniture classifier kept the wrong region: a
    page template often carries prose of its own (the site's own story or an "about"
    blurb, the same on every page built from it), which outscores an inserted article
    that is mostly short lines (a table of figures). Knowing now which lines are the
    template's, the classifier runs again on the rest (see :func:`_reclassify`)."""
    keys = templates.get(doc.source, set())
    head, doc.head = doc.head, []
    body, doc.body = doc.body, []
    line_keys, head_keys, doc.line_keys, doc.head_keys = doc.line_keys, doc.head_keys, None, None
    if doc.status != "kept":
        return doc
    # The lookups run even when nothing can be removed: they note the texts of the lines
    # the report lists (header lines by wrapper_sets, text lines by _template_marks).
    sets = stats.wrapper_sets(doc.source, head, head_keys) if stats is not None else set()
    if not wrappers:
        sets = set()
    lines = doc.text.split("\n\n")
    if line_keys is None:
        line_keys = [chrome.line_key(ln) for ln in lines]
    marks = _template_marks(doc.source, lines, keys, sets, stats, line_keys)
    if not (keys or sets):
        return doc
    kept = []
    removed: Counter[str] = Counter()
    matched: set[int] = set()  # the wrapper sets that kept lines turned out to belong to
    removed_words = 0
    gone = []
    for line, key, (mark, docset) in zip(lines, line_keys, marks, strict=True):
        if mark is None:
            kept.append(line)
            continue
        removed[mark] += 1
        removed_words += len(line.split())
        gone.append((key, mark, line))
        if docset is not None:
            matched.add(docset)
    total = sum(len(ln.split()) for ln in lines)
    if body and removed_words >= RECLASSIFY_SHARE * total:
        kept = _reclassify(doc, body, keys, matched, stats)
    else:
        doc.removed.update(removed)
        if stats is not None:
            for key, mark, line in gone:
                stats.note_removed(doc.source, key, mark, line)
    doc.text = _join(kept)
    if not doc.text:
        doc.fail("empty", "nothing left after template removal", "templates")
    return doc


def _template_marks(source: str, lines: list[str], keys: set[int], wrappers: set[int],
                    stats: chrome.TemplateStats | None, line_keys: list[int] | None = None
                    ) -> list[tuple[str | None, int | None]]:
    """Why each line is template (None: it is not) and, for a wrapper line, its document
    set. One batched lookup per document; lines in many documents are noted for the report.
    ``line_keys`` are the lines' keys when :func:`chrome.key_lines` computed them."""
    if line_keys is None:
        line_keys = [chrome.line_key(ln) for ln in lines]
    if stats is None:
        return [(TEMPLATE_ID if k in keys else None, None) for k in line_keys]
    counts, sums = stats.lookup(source, line_keys)
    stats.note(source, line_keys, lines, counts)
    out: list[tuple[str | None, int | None]] = []
    for key, count, docset in zip(line_keys, counts.tolist(), sums.tolist(), strict=True):
        if key in keys:
            out.append((TEMPLATE_ID, None))
        elif wrappers and count >= 2 and docset in wrappers:
            out.append((WRAPPER_ID, docset))
        else:
            out.append((None, None))
    return out


def _reclassify(doc: Document, body: list[str], keys: set[int], wrappers: set[int],
                stats: chrome.TemplateStats | None) -> list[str]:
    """The furniture classifier again, on its first-pass input without the template lines.
    Only the wrapper sets that matched the kept text count: the first-pass header may hold
    the article itself (it was left out), whose lines share the set of its copies."""
    rest = []
    filled = [ln for ln in body if ln]
    filled_keys = [chrome.line_key(ln) for ln in filled]
    marks = iter(zip(filled_keys, _template_marks(doc.source, filled, keys, wrappers, stats, filled_keys),
                     strict=True))
    for line in body:
        key, (mark, _) = next(marks) if line else (0, (None, None))
        if mark is None:
            rest.append(line)
        else:
            doc.removed[mark] += 1
            if stats is not None:
                stats.note_removed(doc.source, key, mark, line)
    drop = chrome.furniture(rest, collapsed=True)
    doc.removed[FURNITURE_ID] = sum(1 for ln, d in zip(rest, drop, strict=True) if ln and d)
    if not doc.removed[FURNITURE_ID]:
        del doc.removed[FURNITURE_ID]
    return [ln for ln, d in zip(rest, drop, strict=True) if ln and not d]

"""The per-document stages, as plain functions of (document, settings) -> document.

Engines (local processes, Ray) schedule exactly these functions; they hold no cleaning
logic of their own, which is why a Ray run and a local run give byte-identical output.
"""

from __future__ import annotations

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


def explain(text: str, ruleset: RuleSet, furniture: bool = True) -> Explained:
    """Normalised text through the rules and the furniture classifier, line by line."""
    lines = text.split("\n")
    applied = ruleset.apply(lines)
    marks = list(applied.marks)
    if furniture:
        kept_idx = [i for i, m in enumerate(marks) if m is None]
        drop = chrome.furniture([applied.lines[i] for i in kept_idx])
        for i, d in zip(kept_idx, drop, strict=True):
            if d:
                marks[i] = FURNITURE_ID
    for i, rid in applied.edits.items():
        if marks[i] is None:
            marks[i] = f"~{rid}"  # kept, with a span cut by an inline rule
    return Explained(applied.lines, marks)


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
    if not doc.text:
        doc.fail("empty", "nothing left after cleaning" if words_in else "no text", "clean")
    return doc


def remove_templates(doc: Document, templates: dict[str, set[int]], stats: chrome.TemplateStats | None = None
                     ) -> Document:
    """Second pass: drop lines that are template for the document's source, and lines of
    the page wrapper (same document set as the page's header, see :class:`chrome.TemplateStats`)."""
    keys = templates.get(doc.source, set())
    wrappers = stats.wrapper_sets(doc.source, doc.head) if stats is not None else set()
    doc.head = []
    if doc.status != "kept" or not (keys or wrappers):
        return doc
    lines = doc.text.split("\n\n")
    kept = []
    for line in lines:
        key = chrome.line_key(line)
        if key in keys:
            doc.removed[TEMPLATE_ID] += 1
            continue
        if wrappers:
            count, docset = stats.set_of(doc.source, key)  # type: ignore[union-attr]
            if count >= 2 and docset in wrappers:
                doc.removed[WRAPPER_ID] += 1
                continue
        kept.append(line)
    doc.text = _join(kept)
    if not doc.text:
        doc.fail("empty", "nothing left after template removal", "templates")
    return doc

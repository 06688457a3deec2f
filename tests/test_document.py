"""A document's pickle (``Document.__reduce__``): what crosses to the workers and back and
through the spools must come back as the same document, by its fields' values in order."""

from __future__ import annotations

import copy
import pickle
from collections import Counter

from cleaner.document import Document


def _doc() -> Document:
    doc = Document(path="site/page.txt", text="Harbour news\n\nThe board met on Tuesday.", url=None,
                   encoding="utf-8", chars_in=80, words_in=12, head=["Home", "Contact"], body="a\nb\n",
                   line_keys=[1, 2**64 - 1], head_keys=[3, 4], date="2024-01-02T00:00:00+00:00")
    doc.removed["chrome.furniture"] += 2
    doc.removed_words["chrome.furniture"] += 3
    doc.flags.append("x")
    return doc


def _round_trip(doc: Document) -> Document:
    return pickle.loads(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL))


def test_a_document_comes_back_the_same_and_its_pickle_names_no_field() -> None:
    doc = _doc()
    blob = pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)
    got = pickle.loads(blob)
    assert got == doc and got.__dict__ == doc.__dict__
    assert type(got.removed) is Counter and type(got.removed_words) is Counter
    assert got.removed["never"] == 0  # a Counter still
    for name in (b"line_keys", b"removed_words", b"chars_in", b"duplicate_of"):
        assert name not in blob  # fields by position, not a state dictionary
    failed = _round_trip(Document(path="a.bin").fail("skipped", "unsupported file type"))
    assert (failed.status, failed.reason, failed.stage, failed.text) == ("skipped", "unsupported file type", "read", "")


def test_the_word_count_travels_once_templates_are_removed_and_only_of_its_text() -> None:
    doc = _doc()
    assert "_words" not in _round_trip(doc).__dict__  # pass 1: not counted yet
    doc.line_keys = doc.head_keys = None  # pass 2 removed the templates: counted and sent
    blob = pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)
    assert b"_document_with" not in blob  # the count is no attribute besides the fields
    got = pickle.loads(blob)
    assert got.__dict__["_words"] == (got.text, 7) and got.words_out == 7
    got.text = "one two"  # another text: the count is stale, counted again
    assert got.words_out == 2 and _round_trip(got).words_out == 2
    assert _round_trip(doc.fail("empty", "nothing left")).words_out == 0


def test_attributes_besides_the_fields_and_copies() -> None:
    doc = _doc()
    doc.note = "kept too"  # type: ignore[attr-defined]
    blob = pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)
    assert b"_document_with" in blob
    got = pickle.loads(blob)
    assert got.note == "kept too" and got == doc  # type: ignore[attr-defined]
    deep = copy.deepcopy(_doc())
    assert deep == _doc() and deep.head is not _doc().head

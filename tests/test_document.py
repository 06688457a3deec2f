"""A document's pickle (``Document.__reduce__``): what crosses to the workers and back and
through the spools must come back as the same document, by its fields' values in order."""

from __future__ import annotations

import copy
import copyreg
import io
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
    assert got.__dict__ == doc.__dict__ and type(got.removed) is Counter
    orig = _doc()
    deep = copy.deepcopy(orig)
    assert deep == orig and deep.head is not orig.head and deep.removed is not orig.removed
    assert type(deep.removed) is Counter
    shallow = copy.copy(orig)
    assert shallow == orig and shallow is not orig and shallow.head is orig.head


class _Page(Document):
    """A subclass (cleaner has none): it must come back as itself."""


def test_a_subclass_and_a_document_missing_a_field_come_back_as_they_were() -> None:
    page = _Page(path="site/a.txt", text="one two three")
    page.removed["rule.x"] += 1
    page.line_keys = None  # counted and sent
    for got in (_round_trip(page), copy.copy(page), copy.deepcopy(page)):
        assert type(got) is _Page and got == page and got.__dict__ == page.__dict__
        assert type(got.removed) is Counter and got.words_out == 3
    doc = _doc()
    del doc.body  # a field missing (its class default reads in its place)
    got = _round_trip(doc)
    assert "body" not in got.__dict__ and got.__dict__ == doc.__dict__ and got.body == ""
    doc.note = "in its place"  # type: ignore[attr-defined]  # as many attributes as a whole document's
    del doc.removed
    got = _round_trip(doc)
    assert "removed" not in got.__dict__ and got.__dict__ == doc.__dict__


def _old_pickle(doc: Document) -> bytes:
    """``doc`` pickled as checkouts before ``__reduce__`` did: a state dictionary (their
    ``__getstate__``: the Counters as dicts, a kept document's word count as ``_words``
    once templates are removed), restored by the class' ``__setstate__``."""
    state = doc.__dict__.copy()
    state["removed"] = dict(doc.removed)
    state["removed_words"] = dict(doc.removed_words)
    state.pop("_words", None)
    if doc.status == "kept" and doc.line_keys is None:
        state["_words"] = doc.words_out

    class Old(pickle.Pickler):
        def reducer_override(self, obj: object) -> object:
            if isinstance(obj, Document):
                return copyreg.__newobj__, (Document,), state  # type: ignore[attr-defined]
            return NotImplemented

    out = io.BytesIO()
    Old(out, protocol=pickle.HIGHEST_PROTOCOL).dump(doc)
    return out.getvalue()


def test_an_older_checkouts_pickle_still_reads() -> None:
    """bench/pass2.py replays documents an older checkout captured: its pickles carry a
    state dictionary, which ``__setstate__`` reads as that checkout did."""
    doc = _doc()
    got = pickle.loads(_old_pickle(doc))
    assert got == doc and got.__dict__ == doc.__dict__
    assert type(got.removed) is Counter and type(got.removed_words) is Counter
    doc.line_keys = doc.head_keys = None
    got = pickle.loads(_old_pickle(doc))
    assert got.__dict__["_words"] == (got.text, 7) and got.__dict__["_words"][0] is got.text
    assert got.words_out == 7 and got == doc

"""A document's pickle (``Document.__reduce__``): what crosses to the workers and back and
through the spools must come back as the same document, by its fields' values in order."""

from __future__ import annotations

import copy
import copyreg
import io
import pickle
from collections import Counter

import pytest

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
    assert got.words_out == 7 and "text" not in got.__dict__  # counted, and not from the text
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


def test_a_final_pickle_carries_its_text_as_utf8_decoded_only_when_read() -> None:
    """Pass 2's pickle (templates removed) carries the text as UTF-8 with its length and
    word count: the write step reads the bytes for the clean file, the manifest's counts,
    and decodes the text only where something reads it."""
    doc = _doc()
    doc.text = "Harbour news — café\n\nThe board met on Tuesday."
    doc.line_keys = doc.head_keys = None
    blob = pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)
    assert b"_document_utf8" in blob and doc.text.encode("utf-8") in blob
    got = pickle.loads(blob)
    assert "text" not in got.__dict__
    assert (got.words_out, got.chars_out) == (doc.words_out, len(doc.text))
    assert got.manifest_record() == doc.manifest_record()
    data = got.text_utf8()
    assert data == doc.text.encode("utf-8") and "text" not in got.__dict__  # the bytes, nothing decoded
    assert _round_trip(got).text_utf8() == data and "text" not in got.__dict__  # passed on as bytes
    assert got.text == doc.text and got.__dict__["text"] is got.text  # decoded once, kept
    fields = {k: v for k, v in got.__dict__.items() if k not in ("_utf8", "_words")}
    assert got.text_utf8() is data and got == doc and fields == {k: v for k, v in doc.__dict__.items() if k != "_words"}
    got.text = "one two"  # replaced: the bytes and counts are stale for good
    assert (got.text_utf8(), got.chars_out, got.words_out) == (b"one two", 7, 2)
    assert _round_trip(got).text == "one two" and _round_trip(got).words_out == 2
    got.fail("duplicate", "a copy", "dedup")
    assert (got.chars_out, got.words_out, _round_trip(got).text) == (0, 0, "")
    copied = copy.deepcopy(pickle.loads(blob))
    assert copied.text == doc.text and copied == doc
    assert Document.text == "" and Document(path="x").text == ""  # the field's default


def test_a_final_pickle_of_a_text_that_is_not_utf8_carries_a_str() -> None:
    doc = _doc()
    doc.text = "broken \ud800 half"  # a lone surrogate (normalisation replaces them: never in a run)
    doc.line_keys = doc.head_keys = None
    blob = pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)
    assert b"_document_utf8" not in blob
    got = pickle.loads(blob)
    assert got.text == doc.text and got.words_out == doc.words_out and got.chars_out == len(doc.text)


class _Special(Document):
    """A subclass (at module level, so that pickle finds it)."""


def test_an_unread_text_goes_whole_with_a_subclass_or_an_extra_attribute() -> None:
    doc = _doc()
    doc.line_keys = doc.head_keys = None
    got = pickle.loads(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL))
    got.note = "extra"  # type: ignore[attr-defined]
    again = _round_trip(got)
    assert again.text == doc.text and again.note == "extra" and again.words_out == 7  # type: ignore[attr-defined]
    special = pickle.loads(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL))
    special.__class__ = _Special  # its text still unread, as UTF-8
    assert "text" not in special.__dict__
    again = _round_trip(special)
    assert type(again) is _Special and again.text == doc.text and "text" in again.__dict__
    assert "_utf8" not in again.__dict__ and again.words_out == 7 and again.manifest_record() == doc.manifest_record()
    fresh = pickle.loads(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL))
    fresh.status = "duplicate"  # no word count to send: the text goes as a str
    assert _round_trip(fresh).text == doc.text and "text" in _round_trip(fresh).__dict__



def test_cached_bytes_and_counts_never_outlive_their_text() -> None:
    """The UTF-8 bytes and counts an unpickled document keeps describe its text only while
    it is the text decoded from them (or not yet decoded): a text assigned before the first
    read, even ``None``, or assigned and deleted, is not theirs."""
    doc = _doc()
    doc.line_keys = doc.head_keys = None
    blob = pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)
    got = pickle.loads(blob)
    got.text = None  # type: ignore[assignment]  # before the first read
    with pytest.raises(AttributeError):
        got.text_utf8()  # None's, not the unpickled bytes
    for read_first in (False, True):
        got = pickle.loads(blob)
        if read_first:
            assert got.text == doc.text
        got.text = "new"
        assert (got.text_utf8(), got.chars_out, got.words_out) == (b"new", 3, 1)
        del got.text  # the text is gone, not the unpickled one back
        with pytest.raises(AttributeError):
            got.text  # noqa: B018
        assert "_utf8" not in got.__dict__
    got = pickle.loads(blob)
    del got.text  # deleted unread: its bytes go with it
    with pytest.raises(AttributeError):
        got.text  # noqa: B018
    with pytest.raises(AttributeError):
        got.text_utf8()


def test_a_kept_document_without_its_text_goes_whole() -> None:
    """A kept document whose text was deleted has no word count to send: it is pickled with
    its whole dictionary, as any document that is missing a field."""
    doc = _doc()
    doc.line_keys = doc.head_keys = None
    del doc.text
    got = _round_trip(doc)
    assert "text" not in got.__dict__ and got.__dict__ == doc.__dict__
    got = pickle.loads(pickle.dumps(_doc(), protocol=pickle.HIGHEST_PROTOCOL))
    got.line_keys = got.head_keys = None
    got = pickle.loads(pickle.dumps(got, protocol=pickle.HIGHEST_PROTOCOL))  # its text as UTF-8, unread
    del got.text
    again = _round_trip(got)
    assert "text" not in again.__dict__ and "_utf8" not in again.__dict__ and again.status == "kept"

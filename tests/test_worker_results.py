"""What a pass-2 worker hands back when its result crosses a pipe: the features as their
columns' bytes (``features.feature_columns``) and the signatures in a file of its own must reach the
driver as the same :class:`Features` the in-process path gives."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest

from cleaner.clean.furniture import TemplateStats
from cleaner.clean.stages import CleanSettings, clean_keys
from cleaner.dedup.features import feature_columns
from cleaner.dedup.settings import DedupSettings
from cleaner.document import Document
from cleaner.steps import Ref, TemplatePass, close_spool_files, read_ref, untemplate

from .test_steps import STORY, _story


def _blob() -> bytes:
    text = "\n\n".join(_story(n) for n in range(6)) + "\n\n" + STORY * 3
    doc, _ = clean_keys(Document(path="harbour/p1.txt", text=text, chars_in=len(text)), CleanSettings())
    assert doc.status == "kept"
    return pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)


def test_a_worker_with_files_of_its_own_sends_the_same_features(tmp_path: Path) -> None:
    dedup = DedupSettings()
    blob = _blob()
    plain = untemplate(TemplatePass({}, TemplateStats(), True, dedup), blob)
    assert isinstance(plain.features, tuple) and plain.sigs is None
    assert list(plain.features) == list(feature_columns(pickle.loads(blob).text, dedup))
    assert int((np.frombuffer(plain.features[1], dtype="<i4") > 0).sum()) >= 2  # the document and a passage
    try:
        wired = untemplate(TemplatePass({}, TemplateStats(), True, dedup, out=str(tmp_path / "final"),
                                        sigs_out=str(tmp_path / "sigs")), blob)
        assert isinstance(wired.sigs, Ref)
        got = pickle.loads(pickle.dumps(wired))  # as the driver receives it
        sigs = read_ref(got.sigs)
    finally:
        close_spool_files()
    assert sigs == plain.features[3]
    want = list(plain.features)
    want[3] = b""  # the signatures went to the file
    assert list(got.features) == want
    assert (got.key, got.status, got.meta) == (plain.key, plain.status, plain.meta)
    doc = pickle.loads(plain.blob)
    assert plain.meta == (doc.path, doc.id, len(doc.text), doc.date)
    sent = pickle.loads(read_ref(got.blob))
    assert [getattr(sent, f.name) for f in dataclasses.fields(Document)] == \
        [getattr(doc, f.name) for f in dataclasses.fields(Document)]  # (the text may still be UTF-8 bytes)
    assert (sent.words_out, sent.chars_out) == (doc.words_out, doc.chars_out) == (len(doc.text.split()), len(doc.text))


def test_packed_removals_merge_as_the_dictionaries_do() -> None:
    """A pass-2 result's removals travel packed (``steps._pack_removals``); merged into the
    driver's statistics they give what adding the dictionaries gives: counts added, the
    first text of a line kept, entries in order."""
    from cleaner.steps import _merge_removals, _pack_removals

    big = 2**64 - 1  # a line key of 64 bits
    docs = [{("site", 5, "chrome.template"): [1, "Home | News"], ("site", big, "chrome.wrapper"): [2, "About us"]},
            {},
            {("site", 7, "chrome.wrapper"): [1, "Sport"], ("site", 5, "chrome.template"): [3, "Home | News"],
             ("site", big, "chrome.wrapper"): [1, "About us, again"]},
            {("other", 5, "chrome.template"): [1, "Contact"]}]
    want: dict[tuple[str, int, str], list[object]] = {}
    got: dict[tuple[str, int, str], list[object]] = {}
    for removals in docs:
        for k, (n, text) in removals.items():  # the dictionaries added, the oracle
            if k in want:
                want[k][0] += n  # type: ignore[operator]
            else:
                want[k] = [n, text]
        packed = _pack_removals(removals)
        assert (packed is None) == (not removals)
        if packed is not None:
            _merge_removals(got, pickle.loads(pickle.dumps(packed)))
    assert list(got.items()) == list(want.items())
    assert got[("site", big, "chrome.wrapper")] == [3, "About us"]
    # one source is sent for all of a document's entries: two are refused, not merged as one
    with pytest.raises(ValueError, match="more than one source"):
        _pack_removals({("site", 5, "chrome.template"): [1, "Home"], ("other", 6, "chrome.template"): [1, "Top"]})




def test_a_worker_pickles_the_word_count_the_features_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pass-2 worker's document carries the word count of its text that the features'
    core call counted (``Document.words_counted``): the document does not count its words
    again to pickle them, and the count is ``len(text.split())``."""
    import cleaner.document

    def no_count(text: str) -> int:
        raise AssertionError("the words were counted again")

    blob = _blob()
    monkeypatch.setattr(cleaner.document, "_word_count", no_count)
    got = untemplate(TemplatePass({}, TemplateStats(), True, DedupSettings()), blob)
    doc = pickle.loads(got.blob)
    assert doc.status == "kept" and doc.words_out == len(doc.text.split()) > 100  # the count that came with it
    # without dedup there are no features: the document counts its words itself, as before
    with pytest.raises(AssertionError, match="counted again"):
        untemplate(TemplatePass({}, TemplateStats(), True, None), blob)

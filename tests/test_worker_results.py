"""What a pass-2 worker hands back when its result crosses a pipe: the features as their
columns' bytes (``features.Wire``) and the signatures in a file of its own must reach the
driver as the same :class:`Features` the in-process path gives."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from cleaner.clean.furniture import TemplateStats
from cleaner.clean.stages import CleanSettings, clean_keys
from cleaner.dedup.features import Features, Wire, feature_columns, features
from cleaner.dedup.settings import DedupSettings
from cleaner.document import Document
from cleaner.steps import Ref, TemplatePass, close_spool_files, read_ref, untemplate

from .test_steps import STORY, _story


def _blob() -> bytes:
    text = "\n\n".join(_story(n) for n in range(6)) + "\n\n" + STORY * 3
    doc, _ = clean_keys(Document(path="harbour/p1.txt", text=text, chars_in=len(text)), CleanSettings())
    assert doc.status == "kept"
    return pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)


def _columns_of(f: Features) -> list[bytes]:
    return [f.exact, *(np.ascontiguousarray(a).tobytes() for a in (f.size, f.sigs, f.line_start, f.line_end,
                                                                  f.chars, f.prose))]


def test_a_worker_with_files_of_its_own_sends_the_same_features(tmp_path: Path) -> None:
    dedup = DedupSettings()
    blob = _blob()
    plain = untemplate(TemplatePass({}, TemplateStats(), True, dedup), blob)
    assert isinstance(plain.features, Features) and plain.sigs is None
    assert int((plain.features.size > 0).sum()) >= 2  # the document and a passage are signed
    try:
        wired = untemplate(TemplatePass({}, TemplateStats(), True, dedup, out=str(tmp_path / "final"),
                                        sigs_out=str(tmp_path / "sigs")), blob)
        assert isinstance(wired.features, Wire) and isinstance(wired.sigs, Ref)
        got = pickle.loads(pickle.dumps(wired))  # as the driver receives it
        sigs = read_ref(got.sigs)
    finally:
        close_spool_files()
    assert isinstance(got.features, Features)
    assert got.features.sigs.shape == (0, dedup.num_perm)
    assert sigs == plain.features.sigs.tobytes()
    want = _columns_of(plain.features)
    want[2] = b""  # the signatures went to the file
    assert _columns_of(got.features) == want
    assert (got.key, got.status, got.meta.chars) == (plain.key, plain.status, plain.meta.chars)
    assert pickle.loads(read_ref(got.blob)).__dict__ == pickle.loads(plain.blob).__dict__


def test_wire_unpickles_as_the_features_of_its_columns() -> None:
    s = DedupSettings()
    text = "\n\n".join(_story(n) for n in range(4))
    got = pickle.loads(pickle.dumps(Wire(feature_columns(text, s))))
    assert isinstance(got, Features)
    assert _columns_of(got) == _columns_of(features(text, s))

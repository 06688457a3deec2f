"""The native core (``cleaner._native``) against its oracles, on hostile input.

The oracles: ``reference_fold``/``reference_hashes`` (the definitions in plain Python, from
``unicodedata`` and ``str.casefold``), ``hashlib.blake2b`` for the exact keys, and datasketch's
``MinHash`` for the signatures. Inputs are random Unicode (lone surrogates included, which a
Python ``str`` may hold), and random bytes decoded the way a reader may hand them on.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.dedup import minhash as M

from .test_minhash import ENGLISH, identity, reference_fold, reference_hashes

# any code point, surrogates included (hypothesis leaves category Cs out unless asked)
any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
wordy = st.sampled_from(["a", "Straße", "ПРИВЕТ", "市议会", "x\u0301", "𠀀", "12", "ﬁ", "İ", "ǅ", "ΣΑΣ"])
unicode_texts = st.one_of(
    st.text(alphabet=any_char, max_size=200),
    st.lists(st.one_of(wordy, st.text(alphabet=any_char, max_size=3), st.just(" ")), max_size=60).map("".join),
)
slow = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@slow
@given(unicode_texts, st.integers(1, 4), st.integers(1, 4))
def test_fold_and_shingles_equal_the_reference(text: str, ngram: int, char_ngram: int) -> None:
    assert M.fold(text) == reference_fold(text)
    assert M.fold_lines(text) == [reference_fold(line) for line in text.split("\n")]
    assert np.array_equal(M.shingle_hashes(text, ngram, char_ngram), reference_hashes(text, ngram, char_ngram))


@slow
@given(st.binary(max_size=300), st.sampled_from(["surrogateescape", "replace", "ignore"]))
def test_random_bytes(data: bytes, errors: str) -> None:
    """Bytes as a reader may decode them: invalid UTF-8 as lone surrogates (surrogateescape)."""
    text = data.decode("utf-8", errors)
    assert M.fold(text) == reference_fold(text)
    assert np.array_equal(M.shingle_hashes(text, 2, 2), reference_hashes(text, 2, 2))
    assert M.exact_keys([text]) == hashlib.blake2b(reference_fold(text).encode(), digest_size=12).digest()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.integers(0, 0xFFFFFFFF), min_size=1, max_size=50), min_size=1, max_size=6),
       st.sampled_from([1, 16, 128]), st.integers(0, 2**31))
def test_signatures_equal_datasketch(sets: list[list[int]], num_perm: int, seed: int) -> None:
    arrays = [np.array(s, dtype=np.uint32) for s in sets]
    sigs = M.signatures(arrays, num_perm, seed)
    for h, sig in zip(arrays, sigs, strict=True):
        m = MinHash(num_perm=num_perm, seed=seed, hashfunc=identity)
        m.update_batch(h)
        assert np.array_equal(sig, m.hashvalues)


def test_bad_arguments_raise_value_errors() -> None:
    with pytest.raises(ValueError, match="unsegmented range"):
        M._native.Tables([(0x20, 0x10)])
    with pytest.raises(ValueError, match="positive"):
        M.shingle_hashes_many(["a b c"], 0, 5)
    with pytest.raises(ValueError, match="positive"):
        M._native.doc_features(M._tables(), None, "a b", 200, 50, 3, 50, 0, 5, b"\1\0\0\0", b"\1\0\0\0")
    with pytest.raises(ValueError, match="one length"):
        M._native.doc_features(M._tables(), None, "a b", 200, 50, 3, 50, 5, 5, b"\1\0\0\0", b"")
    with pytest.raises(ValueError, match="must differ from overlap"):
        M._native.doc_features(M._tables(), None, " ".join("w" * 300), 50, 50, 3, 50, 5, 5, b"\1\0\0\0",
                               b"\1\0\0\0")
    with pytest.raises(ValueError, match="lengths"):
        M._native.signatures(b"\1\0\0\0", b"\2\0\0\0", b"\1\0\0\0", b"\1\0\0\0")
    with pytest.raises(ValueError, match="multiple of 4"):
        M._native.signatures(b"\1\0\0", b"\1\0\0\0", b"\1\0\0\0", b"\1\0\0\0")


def _big_batch_signatures(_: int) -> bytes:
    return M.signatures(M.shingle_hashes_many([ENGLISH + f" {i}" for i in range(2000)]), 128, 1).tobytes()


def test_thread_pool_survives_fork() -> None:
    """Workers are forked: a child must not wait on the parent's pool threads, which it
    does not have. The parent uses the pool first, then a forked child does."""
    want = _big_batch_signatures(0)  # over the threshold: starts the parent's pool
    with mp.get_context("fork").Pool(1) as pool:
        got = pool.map_async(_big_batch_signatures, [0]).get(timeout=60)
    assert got == [want]


def test_a_failing_sketch_is_that_documents_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The core turns a panic into RuntimeError (its last line of defence); the pipeline
    makes that the document's fate, a one-line error naming the file and the stage, and
    the run goes on. (A panic cannot be provoked from valid calls, so the failure is
    injected where the pipeline calls the core.)"""
    from cleaner.dedup import features as dedup

    from .conftest import read_manifest, run_cli

    real = dedup.counted_feature_columns  # what pass 2 calls (its result crosses as columns' bytes)

    def failing(text: str, s: dedup.DedupSettings) -> tuple[dedup.Columns, int]:
        if "poison" in text:
            raise RuntimeError("native core failed: injected")
        return real(text, s)

    monkeypatch.setattr(dedup, "counted_feature_columns", failing)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "good.txt").write_text(ENGLISH + "\n")
    (raw / "bad.txt").write_text("A poison paragraph with enough words to be kept as it is by cleaning.\n")
    out = tmp_path / "out"
    res = run_cli("clean", raw, "-o", out, "--workers", "1", expect=1)
    fates = {r["path"]: r for r in read_manifest(out)}
    assert fates["good.txt"]["status"] == "kept"
    assert fates["bad.txt"]["status"] == "error"
    assert fates["bad.txt"]["reason"] == "dedup features failed: RuntimeError: native core failed: injected"
    lines = [ln for ln in res.stderr.splitlines() if "bad.txt" in ln]
    assert len(lines) == 1 and "features: dedup features failed: RuntimeError" in lines[0], res.stderr

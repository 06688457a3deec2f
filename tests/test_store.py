"""The passage store (cleaner.dedup.store): what is added is what is read back, whatever
the documents' sizes, which rows have signatures, the banding and the order of the reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from cleaner.dedup.features import PassageFeature, Sketch
from cleaner.dedup.store import PassageStore


def _stars(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The star pairs of a band's block as numpy made them before the core did (the
    oracle of ``band_stars`` and ``bucket_stars``): each group of equal rows' first row
    with each of the others."""
    from cleaner.dedup.minhash import shared_rows

    rows, sizes = shared_rows(block)
    if len(rows) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    head = np.repeat(rows[starts], sizes)
    member = np.ones(len(rows), dtype=bool)
    member[starts] = False
    return head[member].astype(np.int64), rows[member].astype(np.int64)


def test_bucket_stars_are_the_numpy_stars() -> None:
    """The core's star pairs equal the numpy ones, group for group and pair for pair."""
    from cleaner.dedup.minhash import bucket_stars

    rng = np.random.default_rng(11)
    for n, k, values in ((1, 3, 4), (2, 3, 1), (5000, 3, 3), (70_000, 2, 40), (3000, 5, 2)):
        block = rng.integers(0, values, (n, k)).astype(np.uint32)
        got, want = bucket_stars(block), _stars(block)
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
        assert n < 2 or len(got[0]) > 0


@pytest.mark.parametrize("seed", range(6))
def test_store_round_trip_over_random_layouts(tmp_path: Path, seed: int) -> None:
    """Documents of 0 to 60 passages (some of them added one passage at a time, as
    ``add`` does), a random share of them without a signature, several write blocks of
    rows; every column, ``sigs`` of nodes in any order with repeats, and every band of
    any node order equal what was added."""
    rng = np.random.default_rng(seed)
    num_perm = int(rng.choice([6, 12, 128]))
    bands = int(rng.integers(1, num_perm // 3 + 1))
    rows = int(rng.integers(1, num_perm // bands + 1))
    store = PassageStore(num_perm, tmp_path, layout=lambda: (bands, rows))
    want: dict[str, list] = {k: [] for k in ("doc", "line_start", "line_end", "chars", "size", "exact", "sig")}
    # half the signatures are copies of a few, so that bands have buckets
    common = rng.integers(0, 2**32, (5, num_perm), dtype=np.uint64).astype(np.uint32)
    for doc in range(int(rng.integers(50, 400))):
        n = int(rng.integers(0, 61))
        size = rng.integers(1, 500, n).astype(np.int32) * (rng.random(n) < 0.8)
        sigs = rng.integers(0, 2**32, (int(np.count_nonzero(size)), num_perm), dtype=np.uint64).astype(np.uint32)
        copied = rng.random(len(sigs)) < 0.5
        sigs[copied] = common[rng.integers(0, len(common), int(copied.sum()))]
        starts, ends, chars = (rng.integers(0, 10**6, n) for _ in range(3))
        exact = rng.bytes(12 * n)
        if doc % 5 == 0:
            for i, j in zip(range(n), np.cumsum(size != 0) - 1, strict=True):
                sig = sigs[j] if size[i] else None
                store.add(doc, PassageFeature(int(starts[i]), int(ends[i]), int(chars[i]),
                                              Sketch(exact[12 * i:12 * i + 12], int(size[i]), sig)))
        else:
            store.add_rows(doc, starts, ends, chars, size, exact, sigs)
        want["doc"] += [doc] * n
        for k, v in (("line_start", starts), ("line_end", ends), ("chars", chars), ("size", size)):
            want[k] += v.tolist()
        want["exact"] += [exact[12 * i:12 * i + 12] for i in range(n)]
        it = iter(sigs)
        want["sig"] += [next(it) if sz else None for sz in size]
    store.freeze()
    total = len(want["doc"])
    assert len(store) == total and store.rows == sum(s is not None for s in want["sig"])
    for k in ("doc", "line_start", "line_end", "chars", "size"):
        assert getattr(store, k).tolist() == want[k], k
    assert [bytes(x) for x in store.exact_keys(np.arange(total))] == want["exact"]
    signed = np.array([s is not None for s in want["sig"]])
    assert store.signed(np.arange(total)).tolist() == signed.tolist()
    full = np.array([s if s is not None else np.zeros(num_perm, np.uint32) for s in want["sig"]], dtype=np.uint32)
    have = np.flatnonzero(signed)
    for nodes in (have, have[::-1], rng.choice(have, 3000), have[:1], have[5:40], np.sort(rng.choice(have, 700))):
        got = store.sigs(nodes)
        assert got.dtype == np.uint32 and np.array_equal(got, full[nodes])
        got[:] = 0  # the caller's own array
    assert store.bands == (bands, rows)
    for k in range(bands):
        nodes = rng.permutation(have)[: len(have) // 2]
        for part in (nodes, have, have[:1]):
            got = store.band_stars(k, part.astype(np.int32))
            want_stars = _stars(full[part, k * rows:(k + 1) * rows])
            assert all(np.array_equal(g, w) for g, w in zip(got, want_stars, strict=True))
            # the band pass makes the rows once for every band (sig_rows): the same stars
            given = store.band_stars(k, part, store.sig_rows(part))
            assert all(np.array_equal(g, w) for g, w in zip(given, want_stars, strict=True))
        assert len(got[0]) == 0 and len(store.band_stars(k, have)[0]) > 0
    with pytest.raises(AssertionError):  # rows that are not the nodes' own
        store.band_stars(0, have, store.sig_rows(have[:1]))
    with pytest.raises(ValueError):
        store.sigs(np.flatnonzero(~signed)[:1])
    if (~signed).any():  # a passage without a signature has no band
        with pytest.raises(ValueError, match="negative row"):
            store.band_stars(0, np.concatenate([have[:3], np.flatnonzero(~signed)[:1]]))
    with pytest.raises(ValueError):
        store.add_rows(0, [1], [1], [1], [1], b"x" * 12, full[:1])
    store.close()
    assert not store.dir.exists()


def test_store_without_signatures(tmp_path: Path) -> None:
    """Only short passages (no signature): no signature file is needed, reads of nothing
    are empty."""
    store = PassageStore(8, tmp_path, layout=lambda: (2, 4))
    store.add_rows(0, [0, 2], [1, 3], [5, 6], [0, 0], b"a" * 24, np.empty((0, 8), np.uint32))
    store.freeze()
    assert len(store) == 2 and store.rows == 0 and store.sig_row.tolist() == [-1, -1]
    assert store.sigs(np.empty(0, np.int64)).shape == (0, 8)
    store.close()


def test_wrong_signatures_are_refused(tmp_path: Path) -> None:
    store = PassageStore(8, tmp_path)
    with pytest.raises(ValueError):  # a row of the wrong width
        store.add_rows(0, [0], [1], [5], [3], b"a" * 12, np.zeros((1, 7), np.uint32))
    with pytest.raises(ValueError):  # a signature too many
        store.add_rows(0, [0], [1], [5], [3], b"a" * 12, np.zeros((2, 8), np.uint32))
    store.add_rows(0, [0], [1], [5], [3], b"a" * 12, np.ones((1, 8), np.uint32))
    store.freeze()
    assert store.sigs(np.array([0])).tolist() == [[1] * 8]
    store.close()


@pytest.mark.parametrize("seed", range(3))
def test_equal_counts_are_numpy_of_the_signatures(tmp_path: Path, seed: int) -> None:
    """The core's count of equal signature values of node pairs (LSH's confirmation) is
    ``np.count_nonzero(sigs(a) == sigs(b), axis=1)``: signatures drawn from few values (many
    equal), nodes without a signature among the rows, pairs in any order with repeats, more
    pairs than the core reads at once; a node without a signature is refused."""
    rng = np.random.default_rng(seed)
    num_perm = int(rng.choice([4, 128]))
    store = PassageStore(num_perm, tmp_path)
    for doc in range(300):
        n = int(rng.integers(0, 40))
        size = rng.integers(1, 50, n).astype(np.int32) * (rng.random(n) < 0.9)
        sigs = rng.integers(0, 3, (int(np.count_nonzero(size)), num_perm), dtype=np.uint32)
        store.add_rows(doc, np.zeros(n), np.zeros(n), np.zeros(n), size, rng.bytes(12 * n), sigs)
    store.freeze()
    signed = np.flatnonzero(store.signed(np.arange(len(store))))
    for pairs in (1, 9000):
        a, b = rng.choice(signed, pairs), rng.choice(signed, pairs)
        want = np.count_nonzero(store.sigs(a) == store.sigs(b), axis=1)
        got = store.equal_counts(a, b)
        assert got.dtype == np.int64 and np.array_equal(got, want)
        assert np.array_equal(got / num_perm, want / num_perm)
    assert len(store.equal_counts(signed[:0], signed[:0])) == 0
    unsigned = np.flatnonzero(~store.signed(np.arange(len(store))))
    with pytest.raises(ValueError):
        store.equal_counts(unsigned[:1], signed[:1])
    store.close()


def test_the_signature_writer_takes_the_rows_bytes_as_a_worker_wrote_them(tmp_path: Path) -> None:
    """``SigWriter.append`` takes the little-endian bytes of whole rows, from any buffer:
    a ``<u4`` array's bytes, or bytes read back from a worker's file (see
    ``steps.Untemplated.sigs``); the files hold the rows whole and cut into bands, over
    several blocks (the writer reuses their buffers), and part of a row is refused."""
    from cleaner.native import core

    rng = np.random.default_rng(7)
    width, bands, rows = 8, 3, 2
    sigs = rng.integers(0, 2**32, (10_000, width), dtype=np.uint64).astype("<u4")
    paths = [tmp_path / f"band-{k}" for k in range(bands)]
    writer = core.SigWriter(tmp_path / "whole", width, paths, rows)
    for start in range(0, len(sigs), 7):  # as documents come: bytes, then a uint8 view
        part = sigs[start:start + 7]
        writer.append(part.tobytes() if start % 2 else part.view(np.uint8))
    with pytest.raises(ValueError):
        writer.append(sigs[0].tobytes()[:-4])
    writer.close()
    assert (tmp_path / "whole").read_bytes() == sigs.tobytes()
    for k, path in enumerate(paths):
        assert path.read_bytes() == np.ascontiguousarray(sigs[:, k * rows:(k + 1) * rows]).tobytes()


@pytest.mark.parametrize("batch", [1, 3, 256])
def test_the_finder_adds_documents_in_batches_as_one_by_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           batch: int) -> None:
    """``Finder.add_meta`` holds documents and adds them to its stores ``ADD_BATCH`` at a
    time (and the rest when it finishes): the stores' columns and signatures are those of
    adding each document's rows alone (signatures given apart from the features too, as a
    worker's file gives them: as an array, or where a worker wrote them, read by the core
    from files of two workers, batches of either kind cut where they meet), and a batch cut
    anywhere changes nothing. The features are given as a worker sends them (their
    columns' bytes, ``feature_columns``) or as :class:`Features`, alike."""
    from cleaner import steps
    from cleaner.dedup import finder as finder_mod
    from cleaner.dedup.features import DocMeta, feature_columns, features
    from cleaner.dedup.settings import DedupSettings

    monkeypatch.setattr(finder_mod, "ADD_BATCH", batch)
    s = DedupSettings()
    para = "The harbour board met on {n} March to discuss the dredging of the channel and the cost of it. "
    texts = ["", "short", *(para.format(n=n) * (n % 7 + 1) + "\n\n" + para.format(n=n + 1) * 3 for n in range(9))]
    feats = [features(t, s) for t in texts]
    # a document with passages sketched whole has no prose flags (an empty column): given
    # as a Features (an odd seq, below), its passages take as many False
    texts.append(texts[-1])
    feats.append(dataclasses.replace(feats[-1], prose=np.zeros(0, dtype=bool)))
    assert len(texts) % 2 == 0 and len(feats[-1].line_start) and feats[-2].prose.any()
    finder = finder_mod.Finder(s, tmp_path)
    files = [tmp_path / "sigs-1.spool", tmp_path / "sigs-2.spool"]
    for path in files:
        path.write_bytes(b"not a signature")  # what a dead worker left: the offsets start after it

    def where(seq: int, sigs: np.ndarray) -> steps.Ref:
        with open(files[seq % 2], "ab") as fh:  # a worker's record: its length, its bytes
            offset = fh.tell() + 8
            fh.write(len(sigs.tobytes()).to_bytes(8, "little") + sigs.tobytes())
        return steps.Ref(str(files[seq % 2]), offset, len(sigs.tobytes()))

    for seq, (t, f) in enumerate(zip(texts, feats, strict=True)):
        sigs = None if seq % 3 == 0 else np.array(f.sigs) if seq % 3 == 1 or not len(f.sigs) else where(seq, f.sigs)
        given = f if seq % 2 else feature_columns(t, s)
        finder.add_meta(DocMeta(seq, f"d{seq}", None, len(t), None), given, sigs)
    finder.flush()
    want_docs = PassageStore(s.num_perm, tmp_path)
    want = PassageStore(s.num_perm, tmp_path)
    for pos, (t, f) in enumerate(zip(texts, feats, strict=True)):
        d = 1 if f.size[0] else 0
        want_docs.add_rows(pos, [0], [0], [len(t)], f.size[:1], f.exact[:12], f.sigs[:d])
        want.add_rows(pos, f.line_start, f.line_end, f.chars, f.size[1:], f.exact[12:], f.sigs[d:])
    for got, exp in ((finder.doc_store, want_docs), (finder.store, want)):
        got.freeze()
        exp.freeze()
        for col in ("doc", "line_start", "line_end", "chars", "size", "sig_row"):
            assert getattr(got, col).tolist() == getattr(exp, col).tolist(), col
        nodes = np.arange(len(exp))
        assert got.exact_keys(nodes).tolist() == exp.exact_keys(nodes).tolist()
        signed = nodes[exp.signed(nodes)]
        assert len(signed) and (got.sigs(signed) == exp.sigs(signed)).all()
    assert len(finder._passage_prose) == len(want)
    prose = [f.prose if len(f.prose) == len(f.line_start) else np.zeros(len(f.line_start), dtype=bool)
             for f in feats]
    assert bytes(finder._passage_prose) == np.concatenate(prose).astype(np.uint8).tobytes()
    assert any(p.any() for p in prose)
    for store in (finder, want_docs, want):
        store.close()


def test_a_signature_writer_refuses_bands_of_no_rows(tmp_path: Path) -> None:
    """Bands of zero rows (or more band columns than the signature has) are refused when the
    writer is made, not a panic of its thread at the first block."""
    from cleaner.native import core

    for width, bands, rows in ((4, 2, 0), (4, 3, 2), (0, 0, 1)):
        with pytest.raises(ValueError, match="bands of a signature"):
            core.SigWriter(tmp_path / "whole", width, [tmp_path / f"b{k}" for k in range(bands)], rows)


def test_signatures_read_from_workers_files_are_checked(tmp_path: Path) -> None:
    """A store handed signatures where a worker wrote them (SigSpans) copies those bytes;
    a span past its file's end is an error naming the file, one that is not whole rows or
    whose file number is not one of the files is refused, never a panic."""
    from cleaner.dedup.store import SigSpans

    rows = np.arange(3 * 8, dtype="<u4").reshape(3, 8)
    src = tmp_path / "sigs-9.spool"
    src.write_bytes(b"head" + rows.tobytes())
    store = PassageStore(8, tmp_path)
    store.add_batch([0], [3], [0, 1, 2], [0, 1, 2], [5, 5, 5], [4, 4, 4], b"k" * 36,
                    SigSpans([str(src)], np.array([0, 0], np.int32), np.array([4 + 32, 4], np.int64),
                             np.array([64, 32], np.int64)))
    store.freeze()
    assert store.sigs(np.arange(3)).tolist() == [rows[1].tolist(), rows[2].tolist(), rows[0].tolist()]
    store.close()
    for which, offset, length, error in [(0, 4 + 64, 64, OSError), (0, 4, 12, ValueError), (1, 4, 32, ValueError),
                                         (0, -4, 32, ValueError)]:
        bad = PassageStore(8, tmp_path)
        with pytest.raises(error) as got:
            bad.add_batch([0], [length // 32 or 1], [0] * (length // 32 or 1), [0] * (length // 32 or 1),
                          [5] * (length // 32 or 1), [4] * (length // 32 or 1), b"k" * 12 * (length // 32 or 1),
                          SigSpans([str(src)], np.array([which], np.int32), np.array([offset], np.int64),
                                   np.array([length], np.int64)))
        if error is OSError:
            assert str(src) in str(got.value)
        bad.close()


def test_a_failed_copy_of_spans_leaves_the_writer_as_it_was(tmp_path: Path) -> None:
    """``SigWriter.append_spans`` copies all of a call's spans or none: a span that cannot be
    read (a folder, read after a good span), one past its file's end or with a length no file
    has (once ``resize(at + len)`` overflowed: a PanicException) is an OSError naming the file,
    and rows appended after it follow the rows before it, no zeros or half copy between. A
    file that does not open keeps its errno and name (``OSError.errno``, ``.filename``)."""
    import errno

    from cleaner.native import core

    width = 8
    rows = np.arange(4 * width, dtype="<u4").reshape(4, width)
    src = tmp_path / "sigs-1.spool"
    src.write_bytes(rows.tobytes())
    folder = tmp_path / "a-folder"
    folder.mkdir()
    writer = core.SigWriter(tmp_path / "whole", width, [], 0)
    writer.append(rows[0].tobytes())
    i4, i8 = (lambda v: np.array(v, "<i4").tobytes()), (lambda v: np.array(v, "<i8").tobytes())
    bad = [([src, folder], [0, 1], [32, 0], [32, 32], str(folder)),
           ([src], [0, 0], [32, 96], [32, 64], str(src)),
           ([src], [0], [32], [2**63 - 32], str(src)),
           ([src, tmp_path / "gone"], [0, 1], [32, 0], [32, 32], str(tmp_path / "gone"))]
    for files, which, offsets, lengths, name in bad:
        with pytest.raises(OSError) as got:
            writer.append_spans([str(f) for f in files], i4(which), i8(offsets), i8(lengths))
        assert name in str(got.value)
    assert got.value.errno == errno.ENOENT and got.value.filename == name
    writer.append_spans([str(src)], i4([0]), i8([64]), i8([64]))
    writer.close()
    assert (tmp_path / "whole").read_bytes() == rows[[0, 2, 3]].tobytes()

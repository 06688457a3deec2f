"""The default LSH grouping (numpy) and datasketch's MinHashLSH give the same run, byte for
byte: same candidates, same clusters, same manifest and clean texts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cleaner.outputs.duplicates import duplicates_json, report_view, write_duplicates

from .conftest import assert_same_run, run_cli
from .test_index import mixed_corpus


def test_numpy_lsh_equals_datasketch(tmp_path: Path, root: Path) -> None:
    raw = mixed_corpus(tmp_path / "raw", root / "seeds")
    run_cli("clean", raw, "-o", tmp_path / "np", "--workers", "1")
    run_cli("clean", raw, "-o", tmp_path / "ds", "--workers", "1", "--lsh", "datasketch")
    assert_same_run(tmp_path / "np", tmp_path / "ds")


@pytest.mark.ray
@pytest.mark.slow
def test_ray_shuffle_lsh_equals_numpy_on_the_local_engine(tmp_path: Path, root: Path, ray_local,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The candidate backend is a dedup setting, not the engine's: ``--lsh ray`` groups the
    band keys with a Ray Data shuffle while the local engine runs every stage, and the run
    is byte for byte the numpy backend's.

    Here the shuffle hash-partitions the keys, as it does for a run of more than
    ``SORT_SHUFFLE_ROWS`` band rows; the other Ray runs of the suite (small) sort them."""
    pytest.importorskip("ray")
    from cleaner.dedup import candidates

    monkeypatch.setattr(candidates, "SORT_SHUFFLE_ROWS", 0)
    raw = mixed_corpus(tmp_path / "raw", root / "seeds")
    run_cli("clean", raw, "-o", tmp_path / "np", "--workers", "1")
    run_cli("clean", raw, "-o", tmp_path / "ray", "--workers", "1", "--lsh", "ray")
    assert_same_run(tmp_path / "np", tmp_path / "ray")


def _reference_components(edges: list[tuple[int, int]]) -> list[list[int]]:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in parent:
        groups.setdefault(find(x), []).append(x)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def test_components_equal_union_find() -> None:
    import numpy as np

    from cleaner.dedup.clusters import components

    rng = np.random.default_rng(5)
    for n_edges in (0, 1, 10, 500, 3000):
        edges = rng.integers(0, 2000, size=(n_edges, 2)).tolist()
        edges = [(a, b) for a, b in edges if a != b]
        got = components(np.array(edges, dtype=np.int64).reshape(-1, 2))
        assert got == _reference_components(edges)
    # a long chain, edges in reverse order: many propagation rounds
    chain = [(i, i + 1) for i in range(0, 999)][::-1]
    assert components(np.array(chain)) == [list(range(1000))]


def test_passage_store_round_trip(tmp_path: Path) -> None:
    import numpy as np

    from cleaner.dedup.features import PassageFeature, Sketch
    from cleaner.dedup.store import PassageStore

    store = PassageStore(8, tmp_path)
    sigs = np.arange(24, dtype=np.uint32).reshape(3, 8)
    store.add(0, PassageFeature(1, 1, 10, Sketch(b"a" * 12, 4, sigs[0])))
    store.add(0, PassageFeature(3, 4, 20, Sketch(b"b" * 12, 0, None)))
    store.add(2, PassageFeature(1, 1, 30, Sketch(b"c" * 12, 5, sigs[1])))
    store.add(3, PassageFeature(2, 2, 40, Sketch(b"d" * 12, 6, sigs[2])))
    store.freeze()
    assert len(store) == 4 and store.rows == 3
    assert store.doc.tolist() == [0, 0, 2, 3] and store.line_end.tolist() == [1, 4, 1, 2]
    assert store.signed(np.arange(4)).tolist() == [True, False, True, True]
    assert store.sigs(np.array([3, 0])).tolist() == [sigs[2].tolist(), sigs[0].tolist()]
    sk = store.sketches([1, 2])
    assert sk[0].sig is None and sk[0].exact == b"b" * 12
    assert sk[1].size == 5 and sk[1].sig.tolist() == sigs[1].tolist()
    with pytest.raises(ValueError):
        store.sigs(np.array([1]))
    store.close()
    assert not store.dir.exists()


def test_store_of_a_dead_run_is_swept(tmp_path: Path) -> None:
    import subprocess
    import sys

    from cleaner.dedup.store import PassageStore

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".cleaner-dedup-{int(dead.stdout)}-abc"
    stale.mkdir()
    (stale / "passage-signatures.u32").write_bytes(b"\0" * 64)
    alive = tmp_path / ".cleaner-dedup-1-keep"  # pid 1 always exists
    alive.mkdir()
    store = PassageStore(8, tmp_path)
    assert not stale.exists() and alive.exists() and store.dir.exists()
    store.close()


def test_component_arrays_equal_union_find() -> None:
    """The core's union-find (component_arrays, and components made from it) against the
    reference in Python: few nodes (one big component), many (small ones), loops, node
    numbers far apart and negative, edges in any order, an int32 edge array."""
    import numpy as np

    from cleaner.dedup.clusters import component_arrays, components

    rng = np.random.default_rng(11)
    for n_edges, spread, low in ((0, 10, 0), (1, 10, 0), (10, 2000, 0), (500, 2000, 0), (3000, 2000, -50),
                                 (5000, 300, 0), (20000, 40, 0), (4000, 2**40, -2**40)):
        edges = rng.integers(low, spread, size=(n_edges, 2))
        edges[: n_edges // 10, 1] = edges[: n_edges // 10, 0]  # loops: a node alone is no component
        members, offsets = component_arrays(edges)
        want = _reference_components([(a, b) for a, b in edges.tolist()])
        assert [members[offsets[k]:offsets[k + 1]].tolist() for k in range(len(offsets) - 1)] == want
        assert components(edges) == want
        assert members.dtype == np.int64 and offsets.dtype == np.int64 and offsets[0] == 0
        shuffled = edges[rng.permutation(len(edges))][:, ::-1]  # order and direction change nothing
        assert components(shuffled) == want
    assert components(np.array([[3, 7], [7, 9]], dtype=np.int32)) == [[3, 7, 9]]
    assert components(np.array([[5, 5]])) == [] and components(np.empty((0, 2))) == []


def _finished(tmp_path: Path, root: Path, index: object = None):  # type: ignore[no-untyped-def]
    """A real run's dedup result, its documents streamed through ``apply``."""
    from cleaner.clean.stages import CleanSettings, clean
    from cleaner.dedup.features import features
    from cleaner.dedup.finder import Finder
    from cleaner.dedup.settings import DedupSettings
    from cleaner.sources import readers as sources

    raw = mixed_corpus(tmp_path / "raw", root / "seeds")
    s = DedupSettings()
    finder = Finder(s, tmp_path)
    docs = [clean(d, CleanSettings()) for it in sources.walk(raw, []) for d in sources.read(it, sources.MAX_BYTES)]
    docs = [d for d in docs if d.status == "kept"]
    for seq, doc in enumerate(docs):
        finder.add(seq, doc, features(doc.text, s))
    result = finder.finish(index)
    out = list(result.apply(iter(docs)))
    return finder, result, out


def test_streamed_duplicates_json_equals_the_whole_dump(tmp_path: Path, root: Path) -> None:
    """duplicates.json is written a cluster at a time; it must be byte for byte what
    ``json.dump(indent=1)`` of the whole report gives, texts included."""
    import io
    import json

    finder, result, _ = _finished(tmp_path, root)
    templates = [{"source": "blog", "text": "Menu \"quoted\"\nline", "documents": 3}]
    whole = duplicates_json(result, templates)
    assert whole["passages"], "the corpus has duplicate passages"
    assert all(isinstance(m["text"], str) and m["text"] for c in whole["passages"] for m in c["members"])
    buf = io.StringIO()
    write_duplicates(buf, result, templates)
    assert buf.getvalue() == json.dumps(whole, ensure_ascii=False, indent=1)
    # the report's view: the largest clusters, in the order the report ranks them
    view = report_view(result, templates, 2)
    ranked = sorted(whole["passages"], key=lambda c: -len(c["members"]))[:2]
    assert [{**c, "member_count": len(c["members"])} for c in ranked] == view["passages"]
    assert view["passage_count"] == len(whole["passages"])
    # with only the first member of each: the size still says how many there are
    short = report_view(result, templates, 2, members=1)
    assert [len(c["members"]) for c in short["passages"]] == [1] * len(ranked)
    assert [c["member_count"] for c in short["passages"]] == [len(c["members"]) for c in ranked]
    finder.close()


def test_streamed_json_of_an_empty_result(tmp_path: Path) -> None:
    import io
    import json

    from cleaner.dedup.finder import Finder
    from cleaner.dedup.settings import DedupSettings

    finder = Finder(DedupSettings(), tmp_path)
    result = finder.finish()
    list(result.apply(iter([])))
    buf = io.StringIO()
    write_duplicates(buf, result, [])
    assert buf.getvalue() == json.dumps(duplicates_json(result, []), ensure_ascii=False, indent=1)
    assert json.loads(buf.getvalue())["passages"] == []
    finder.close()


def test_confirmed_edges_give_the_components_of_every_star_pair(tmp_path: Path) -> None:
    """Candidate pairs are each bucket's first text with its other members (a star: a
    bucket of k costs k - 1 verifications, not k(k-1)/2), confirmed through a union-find
    that skips pairs already connected. The components must be those of confirming every
    star pair of every band (brute force here, from Python dicts of buckets), with large
    copy families (a bucket of 600) and near misses."""
    import numpy as np

    from cleaner.dedup import minhash
    from cleaner.dedup.candidates import confirmed_edges
    from cleaner.dedup.clusters import components
    from cleaner.dedup.features import PassageFeature, Sketch, similarity
    from cleaner.dedup.settings import DedupSettings
    from cleaner.dedup.store import PassageStore

    s = DedupSettings()
    rng = np.random.default_rng(7)
    store = PassageStore(s.num_perm, tmp_path)
    sigs = []
    for family in range(40):
        base = rng.integers(0, 2**32, size=s.num_perm, dtype=np.uint64).astype(np.uint32)
        for _ in range(600 if family == 0 else int(rng.integers(1, 30))):
            sig = base.copy()
            # a copy differs in a random share of its values: some pass, some do not
            flip = rng.random(s.num_perm) < rng.choice([0.05, 0.3, 0.6, 0.9])
            sig[flip] = rng.integers(0, 2**32, size=int(flip.sum()), dtype=np.uint64).astype(np.uint32)
            sigs.append(sig)
    for n, sig in enumerate(sigs):
        exact = n.to_bytes(12, "little")
        store.add(n, PassageFeature(0, 1, 100, Sketch(exact, 60, sig)))
    store.freeze()
    b, r = s.lsh(s.passage_lsh_threshold)
    cands = set()
    for band in range(b):
        buckets: dict[bytes, list[int]] = {}
        for n, sig in enumerate(sigs):
            buckets.setdefault(minhash.datasketch_band_key(sig, band, r), []).append(n)
        cands |= {(m[0], x) for m in buckets.values() for x in m[1:]}
    sk = store.sketches(range(len(sigs)))
    brute = []
    for x, y in cands:
        j, c = similarity(sk[x], sk[y])
        if j >= s.passage_threshold or s.contained("passage", np.array([c]), np.array([60]), np.array([60]))[0]:
            brute.append((x, y))
    expected = components(np.array(brute, dtype=np.int64).reshape(-1, 2))
    assert max(len(g) for g in expected) > 300, "the test needs a large family"
    edges = confirmed_edges(store, np.arange(len(sigs)), s, s.passage_threshold, s.passage_lsh_threshold, "passage")
    assert components(edges) == expected
    # int32 nodes in any order (a large run's passages, see Finder._finish): the same edges, int64
    narrow = confirmed_edges(store, rng.permutation(len(sigs)).astype(np.int32), s, s.passage_threshold,
                             s.passage_lsh_threshold, "passage")
    assert narrow.dtype == np.int64 and narrow.tolist() == edges.tolist()
    # the pairs and the edges kept grow with the texts, not with the pairs of a family
    assert len(cands) < b * len(sigs) and len(edges) < 2 * len(sigs), (len(cands), len(edges))
    store.close()


def test_a_pair_refused_is_not_verified_again_in_a_later_band(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Near misses (a copy with about half its values changed) share several LSH bands and
    fail verification: each such pair is verified once, not once per band it shares, and
    the edges are those of verifying every star pair (here: none)."""
    import numpy as np

    from cleaner.dedup import candidates, minhash
    from cleaner.dedup.features import PassageFeature, Sketch
    from cleaner.dedup.settings import DedupSettings
    from cleaner.dedup.store import PassageStore

    s = DedupSettings()
    rng = np.random.default_rng(11)
    store = PassageStore(s.num_perm, tmp_path)
    sigs = []
    for _ in range(60):
        base = rng.integers(0, 2**32, size=s.num_perm, dtype=np.uint64).astype(np.uint32)
        near = base.copy()
        flip = rng.random(s.num_perm) < 0.6
        near[flip] = rng.integers(0, 2**32, size=int(flip.sum()), dtype=np.uint64).astype(np.uint32)
        sigs += [base, near]
    for n, sig in enumerate(sigs):
        store.add(n, PassageFeature(0, 1, 100, Sketch(n.to_bytes(12, "little"), 60, sig)))
    store.freeze()
    b, r = s.lsh(s.passage_lsh_threshold)
    shared = np.zeros(len(sigs) // 2, dtype=np.int64)  # bands each pair shares
    for band in range(b):
        head, _member = minhash.bucket_stars(np.array(sigs)[:, band * r:(band + 1) * r])
        np.add.at(shared, head // 2, 1)
    assert (shared >= 2).sum() >= 5, "the test needs pairs that share several bands"
    verified: list[np.ndarray] = []
    real = candidates._passes

    def recording(pairs: np.ndarray, *args: object) -> np.ndarray:
        verified.append(pairs.copy())
        return real(pairs, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(candidates, "_passes", recording)
    edges = candidates.confirmed_edges(store, np.arange(len(sigs)), s, s.passage_threshold,
                                       s.passage_lsh_threshold, "passage")
    pairs = np.concatenate(verified)
    assert len(edges) == 0
    assert len(pairs) == len({tuple(p) for p in pairs.tolist()}) == np.count_nonzero(shared)
    store.close()


def _stock_phrase_corpus(raw: Path) -> Path:
    phrase = "Return to the citation in the text of this article now."
    raw.mkdir(parents=True)
    topics = ["council budget", "comet sighting", "football final", "harbour works", "school exams",
              "river flooding", "museum opening", "train strike"]
    body = "A long paragraph of the {t} story, told in enough words to read as the article text {n}."
    (raw / "notes.txt").write_text(f"Notes\n\n{body.format(t='notes', n=99)}\n\n{phrase}\n", encoding="utf-8")
    for n, t in enumerate(topics):
        (raw / f"p{n}.txt").write_text(f"Story {n}\n\n{body.format(t=t, n=n)}\n\nThe {t} {n} went on. {phrase} "
                                       f"Officials {n} said so.\n", encoding="utf-8")
    return raw


def test_a_stock_phrase_does_not_chain_unrelated_passages(tmp_path: Path) -> None:
    """A short stock line inside many different paragraphs is contained in each of them;
    counting that as duplication would chain all those paragraphs into one cluster."""
    from cleaner.dedup.settings import DedupSettings
    from cleaner.pipeline import RunSettings, run

    raw = _stock_phrase_corpus(tmp_path / "raw")
    sizes = {}
    for name, ds in (("guarded", DedupSettings()),
                     ("unguarded", DedupSettings(passage_containment_min=0, passage_containment_ratio=1e9))):
        result = run(raw, tmp_path / name, RunSettings(workers=1, dedup=ds))
        assert result.duplicates is not None
        sizes[name] = [c["member_count"] for c in result.duplicates["passages"]]
    assert max(sizes["unguarded"], default=0) >= 9, sizes  # the chain the guard prevents is real
    assert max(sizes["guarded"], default=0) < 3, sizes


def test_passage_store_band_files(tmp_path: Path) -> None:
    """With the banding known, every band is also written to its own file; a band read
    from it equals that slice of the signatures, across the store's write batches."""
    import numpy as np

    from cleaner.dedup import minhash
    from cleaner.dedup.features import PassageFeature, Sketch
    from cleaner.dedup.store import PassageStore

    rng = np.random.default_rng(2)
    sigs = rng.integers(0, 2**32, size=(9000, 12), dtype=np.uint64).astype(np.uint32)
    sigs[:, :6] %= 5  # buckets in the first two bands
    store = PassageStore(12, tmp_path, layout=lambda: (4, 3))
    for n, sig in enumerate(sigs):
        store.add(n, PassageFeature(0, 1, 10, Sketch(n.to_bytes(12, "little"), 5, None if n % 7 == 0 else sig)))
    store.freeze()
    assert store.bands == (4, 3)
    nodes = np.array([n for n in range(9000) if n % 7][::5], dtype=np.int64)
    for k in range(4):
        block = sigs[nodes][:, 3 * k:3 * k + 3]
        got, want = store.band_stars(k, nodes), minhash.bucket_stars(block)
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
        assert (len(got[0]) > 0) == (k < 2)
    assert np.array_equal(store.sigs(nodes[::-1]), sigs[nodes[::-1]])
    store.close()


def test_passage_store_band_in_any_node_order(tmp_path: Path) -> None:
    import numpy as np

    from cleaner.dedup import minhash
    from cleaner.dedup.features import PassageFeature, Sketch
    from cleaner.dedup.store import PassageStore

    rng = np.random.default_rng(4)
    sigs = rng.integers(0, 3, size=(500, 6), dtype=np.uint64).astype(np.uint32)  # many buckets
    store = PassageStore(6, tmp_path, layout=lambda: (2, 3))
    for n, sig in enumerate(sigs):
        store.add(n, PassageFeature(0, 1, 10, Sketch(n.to_bytes(12, "little"), 5, sig)))
    store.freeze()
    nodes = rng.permutation(500)[:200]
    got, want = store.band_stars(1, nodes), minhash.bucket_stars(sigs[nodes][:, 3:6])
    assert len(got[0]) > 0 and all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    store.close()


def test_features_columns_equal_per_passage_sketches() -> None:
    """The columnar features equal a sketch computed on its own for the document and for
    each passage (exact key of the folded text, shingle count, signature); the document's
    shingles are those of its prose (its lines the furniture classifier reads as prose), its
    exact key that of its whole text."""
    import numpy as np

    from cleaner.clean import furniture as chrome
    from cleaner.dedup import minhash
    from cleaner.dedup.features import features
    from cleaner.dedup.passages import split
    from cleaner.dedup.settings import DedupSettings

    s = DedupSettings()
    long_par = " ".join(f"word{n} of a long paragraph, cut into windows." for n in range(120))
    text = "\n\n".join(["A title", "Short.", "Ünïcode — «quoted» paragraph with enough words to count here.",
                         long_par, "市议会星期二召开会议，讨论了明年的预算和新的交通计划。" * 3, ""])

    def prose_of(lines: list[str]) -> str:
        good = [ln for ln, c in zip(lines, chrome.classify(lines), strict=True) if c == "good"]
        return "\n".join(good) if sum(len(ln.split()) for ln in good) >= s.prose_min_words else "\n".join(lines)

    f = features(text, s)
    texts = [text] + [p.text for p in split(text, s.window)
                      if len(p.text.split()) >= s.passage_min_words or minhash.is_unsegmented(p.text)]
    assert len(f.passages) == len(texts) - 1 >= 4
    assert prose_of(text.split("\n")) != text  # the title and the short line are not prose
    for n, (got, t) in enumerate(zip([f.doc, *(p.sketch for p in f.passages)], texts, strict=True)):
        h = minhash.shingle_hashes(prose_of(t.split("\n")) if n == 0 else t, s.ngram, s.char_ngram)
        assert got.exact == hashlib.blake2b(minhash.fold(t).encode(), digest_size=12).digest()
        assert got.size == len(h)
        if len(h):
            assert np.array_equal(got.sig, minhash.signatures([h], s.num_perm, s.seed)[0])
        else:
            assert got.sig is None


def _council_prose(tag: str, n: int) -> list[str]:
    """The words of ``n`` sentences of 13 words, each distinct (numbered), for passage tests."""
    words: list[str] = []
    for i in range(n):
        words += f"The council of {tag} district {i} said that the plan was sound and fair.".split()
    return words


def test_a_window_of_a_long_paragraph_is_reported_with_its_own_text(tmp_path: Path) -> None:
    """A paragraph longer than the window is cut into overlapping windows that share its
    line number; a copied window is reported with that window's words, not another's."""
    import json

    from cleaner.dedup.settings import DedupSettings
    from cleaner.pipeline import RunSettings, run

    long = _council_prose("north", 35)  # 455 words: windows at words 0, 150 and 300
    middle = " ".join(long[150:350])
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("Council report\n\n" + " ".join(long) + "\n", encoding="utf-8")
    (raw / "b.txt").write_text("Another report\n\n" + middle + "\n\n" + " ".join(_council_prose("south", 50)) + "\n",
                               encoding="utf-8")
    run(raw, tmp_path / "out", RunSettings(workers=1, dedup=DedupSettings()))
    clusters = json.loads((tmp_path / "out" / "duplicates.json").read_text())["passages"]
    members = [m for c in clusters for m in c["members"] if m["path"] == "a.txt"]
    assert members, clusters
    assert {m["text"] for m in members} == {middle}


def test_the_windows_of_one_paragraph_are_not_duplicates_of_each_other(tmp_path: Path) -> None:
    """Windows overlap by design: a short last window lies mostly inside the one before
    it, which reads as containment. Linking them reported a paragraph as a copy of itself,
    and ``--passages drop`` then cut the whole paragraph."""
    import json

    from cleaner.dedup.settings import DedupSettings
    from cleaner.pipeline import RunSettings, run

    words: list[str] = []
    for i in range(16):  # 208 words: windows of words 0-199 and 150-207
        words += f"The council of district {i} said that the plan was sound and fair.".split()
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("Council report\n\n" + " ".join(words) + "\n", encoding="utf-8")
    # a low passage threshold makes the pair a sure LSH candidate (Jaccard 0.23) and a match
    settings = DedupSettings(passages="drop", passage_threshold=0.1)
    run(raw, tmp_path / "out", RunSettings(workers=1, dedup=settings))
    assert json.loads((tmp_path / "out" / "duplicates.json").read_text())["passages"] == []
    assert " ".join(words) in (tmp_path / "out" / "clean" / "a.txt").read_text(encoding="utf-8")


def test_passages_drop_cuts_only_the_copied_window_of_a_long_paragraph(tmp_path: Path) -> None:
    """``--passages drop`` on a long paragraph whose middle window is a copy: the copied
    window's words go, the paragraph's own words before and after it stay."""
    import json

    from cleaner.dedup.settings import DedupSettings
    from cleaner.pipeline import RunSettings, run

    long = _council_prose("north", 35)  # 455 words: windows at words 0, 150 and 300
    raw = tmp_path / "raw"
    raw.mkdir()
    # a.txt comes first, so its paragraph is the copy that stays
    (raw / "a.txt").write_text("Another report\n\n" + " ".join(long[150:350]) + "\n\n"
                               + " ".join(_council_prose("south", 50)) + "\n", encoding="utf-8")
    (raw / "b.txt").write_text("Council report\n\n" + " ".join(long) + "\n", encoding="utf-8")
    run(raw, tmp_path / "out", RunSettings(workers=1, dedup=DedupSettings(passages="drop")))
    b = (tmp_path / "out" / "clean" / "b.txt").read_text(encoding="utf-8")
    # whole sentences of 14 words: the one across the window's start (words 140-153, 4 of
    # them copied) stays, and the copied window ends at a sentence's end
    assert " ".join(long[:154] + long[350:]) in b.split("\n")
    assert " ".join(long[150:350]) not in b
    a = (tmp_path / "out" / "clean" / "a.txt").read_text(encoding="utf-8")
    assert " ".join(long[150:350]) in a.split("\n")
    manifest = [json.loads(ln) for ln in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    assert next(r for r in manifest if r["path"] == "b.txt")["removed"].get("dedup.passage") == 1


@pytest.mark.parametrize("n_words,cut", [(150, {0}), (208, {0}), (208, {1}), (455, {1}), (455, {0, 2}),
                                         (455, {0, 1, 2}), (601, {3})])
def test_cut_windows_removes_whole_sentences_mostly_in_those_windows(n_words: int, cut: set[int]) -> None:
    """The text left is whole sentences, in order: those with fewer than half their words
    in a cut window of :func:`split` (never a part of one); and passage_text gives each
    window's text as split does."""
    import random

    from cleaner.dedup.passages import cut_windows, passage_text, split

    rng = random.Random(n_words)
    words, spans = [], []
    while len(words) < n_words:  # sentences of 3 to 30 words: "W0 w1 ... w7."
        n = min(rng.randint(3, 30), n_words - len(words))
        spans.append((len(words), len(words) + n))
        words += [f"W{len(words)}", *(f"w{i}" for i in range(len(words) + 1, len(words) + n - 1))]
        words += [f"w{len(words)}."] if n > 1 else []
        words[-1] = words[-1].rstrip(".") + "."
    windows = split(" ".join(words))
    assert [passage_text(" ".join(words), k) for k in range(len(windows))] == [p.text for p in windows]
    covered = {w for k in cut for w in windows[k].text.split()} if n_words > 200 else set(words)
    kept = [words[a:b] for a, b in spans if 2 * sum(w in covered for w in words[a:b]) < b - a]
    assert cut_windows(" ".join(words), cut) == " ".join(w for sentence in kept for w in sentence)


def test_unique_pairs_is_numpy_unique_of_the_rows() -> None:
    """The distinct (a, b) pairs of the dedup step, found as one int64 key a pair, are
    ``np.unique(..., axis=0)`` of the stacked pairs: same rows, same order, same dtype,
    with repeats, empty input, keys too large to combine (the general way), and a ``b``
    at or above the ``nb`` given, or negative (never trusted)."""
    import numpy as np
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from cleaner.dedup.finder import _unique_pairs

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.tuples(st.integers(-3, 40), st.integers(-2, 30)), max_size=60), st.booleans())
    def check(pairs: list[tuple[int, int]], huge: bool) -> None:
        arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        if huge:
            arr[:, 0] += 2**60
        want = np.unique(arr, axis=0)
        got = _unique_pairs(arr[:, 0], arr[:, 1], 10)
        assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)

    check()


def test_admit_covered_finds_confirmed_documents_in_the_rest_as_a_map_of_it_did() -> None:
    """Finder._admit_covered (a map of the group made once, a search of ``rest``) against
    the map of ``rest`` made each round that it replaced: random groups (big ones too),
    centres, rests left by earlier rounds, members already admitted, and confirmed pairs
    in and out of the group."""
    from types import SimpleNamespace

    import numpy as np

    from cleaner.dedup.finder import Finder

    def old(covered: dict, nodes: np.ndarray, c: int, rest: np.ndarray, ok: np.ndarray, sim: np.ndarray,
            measure: np.ndarray) -> None:
        pos = {int(nodes[r]): k for k, r in enumerate(rest.tolist())}
        for h, cover in covered.get(int(nodes[c]), ()):
            k = pos.get(h)
            if k is not None and not ok[k]:
                ok[k], sim[k], measure[k] = True, cover, 2

    rng = np.random.default_rng(23)
    for n in (1, 2, 5, 40, 3000):
        order = rng.permutation(4 * n + 10)[:n].tolist()  # a group's documents, in keep order
        nodes = np.asarray(order, dtype=np.int64)
        covered: dict[int, list[tuple[int, float]]] = {}
        for _ in range(3 * n):
            a, b = (int(x) for x in rng.integers(0, 4 * n + 10, size=2))
            cover = float(rng.random())
            covered.setdefault(a, []).append((b, cover))
            covered.setdefault(b, []).append((a, cover))
        fake = SimpleNamespace(_covered_at=covered)
        at = {m: k for k, m in enumerate(order)}
        left = np.arange(n)
        hits = 0
        while len(left) > 1:
            c, rest = left[0], left[1:]
            ok = rng.random(len(rest)) < 0.2
            sim, measure = rng.random(len(rest)), rng.integers(0, 2, len(rest))
            want = ok.copy(), sim.copy(), measure.copy()
            old(covered, nodes, c, rest, *want)
            Finder._admit_covered(fake, at, nodes, c, rest, ok, sim, measure)  # type: ignore[arg-type]
            for got, expected in zip((ok, sim, measure), want, strict=True):
                assert np.array_equal(got, expected)
            hits += int((measure == 2).sum())
            left = rest[~ok | (rng.random(len(rest)) < 0.5)]
        assert n < 40 or hits  # the big groups admitted some

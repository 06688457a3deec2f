"""Document clusters: every member is a verified duplicate of the document kept for it
(centre clustering, not connected components), and the work on a family of copies grows
linearly with the family."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

_WORDS = ("river council market school bridge harvest engine station garden museum doctor budget "
          "teacher village factory winter summer island forest letter report meeting street harbour "
          "railway library theatre hospital farmer miner driver painter singer writer captain").split()


def _prose(tag: str, n: int) -> str:
    """``n`` sentences of words drawn for ``tag`` (a fixed seed per tag): one paragraph of
    prose sharing no 5-word run with another tag's."""
    rng = np.random.default_rng(sum(map(ord, tag)))
    return " ".join("The " + " ".join(rng.choice(_WORDS, size=12)) + f" was {tag} news." for _ in range(n))


def _run(raw: Path, out: Path, keep: str = "first") -> dict:
    from cleaner.dedup.settings import DedupSettings
    from cleaner.pipeline import RunSettings, run

    run(raw, out, RunSettings(workers=1, dedup=DedupSettings(keep=keep)))
    return json.loads((out / "duplicates.json").read_text(encoding="utf-8"))


def _fates(out: Path) -> dict[str, str]:
    rows = [json.loads(ln) for ln in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    return {r["path"]: r["status"] for r in rows}


@pytest.mark.parametrize("keep", ["first", "longest", "newest"])
def test_a_chain_never_carries_a_document_into_a_cluster_it_does_not_match(tmp_path: Path, keep: str) -> None:
    """A = P+Q, B = Q, C = Q+R: B matches A and C, but A and C are different stories
    (Jaccard about 0.4, neither mostly inside the other). Connected components put all
    three in one cluster and dropped C (or A) as a duplicate of the other; a member must
    be a verified duplicate of the kept document itself, whichever the keep policy."""
    raw = tmp_path / "raw"
    raw.mkdir()
    p, q, r = _prose("harbour", 6), _prose("library", 8), _prose("railway", 7)
    (raw / "a.txt").write_text(f"{p}\n\n{q}\n", encoding="utf-8")
    (raw / "b.txt").write_text(f"{q}\n", encoding="utf-8")
    (raw / "c.txt").write_text(f"{q}\n\n{r}\n", encoding="utf-8")
    for n, name in enumerate(("a.txt", "b.txt", "c.txt")):  # newest: C (file times)
        os.utime(raw / name, (1_700_000_000 + n * 3600, 1_700_000_000 + n * 3600))
    report = _run(raw, tmp_path / "out", keep)
    fates = _fates(tmp_path / "out")
    kept = "a.txt" if keep == "first" else "c.txt"  # C is the longest and the newest
    other = "c.txt" if keep == "first" else "a.txt"
    assert [c["kept"]["path"] for c in report["documents"]] == [kept], report["documents"]
    members = {m["path"]: m for m in report["documents"][0]["members"]}
    assert set(members) == {kept, "b.txt"}
    assert fates == {kept: "kept", "b.txt": "duplicate", other: "kept"}
    # the member's similarity is the measure that made it one, to the kept document
    assert (members["b.txt"]["measure"], members["b.txt"]["similarity"] >= 0.5) == ("jaccard", True)
    assert members[kept] == {"path": kept, "id": None, "similarity": 1.0, "measure": "kept"}


def test_member_similarities_are_never_below_the_threshold(tmp_path: Path, root: Path) -> None:
    """On a corpus with copies, truncated copies and chains: every member names its measure
    and reaches that measure's threshold against the kept document."""
    from cleaner.dedup.finder import MEASURES

    from .test_index import mixed_corpus

    raw = mixed_corpus(tmp_path / "raw", root / "seeds")
    report = _run(raw, tmp_path / "out")
    assert report["documents"]
    need = {"exact": 1.0, "jaccard": report["settings"]["documents"]["threshold"],
            "containment": report["settings"]["documents"]["containment"]}
    for c in report["documents"]:
        head, *rest = c["members"]
        assert head["measure"] == "kept" and head["path"] == c["kept"]["path"]
        for m in rest:
            assert m["measure"] in MEASURES and m["similarity"] >= need[m["measure"]], m


def _store(tmp_path: Path, sigs: list[np.ndarray], exact: list[bytes]):  # noqa: ANN202
    from cleaner.dedup.features import PassageFeature, Sketch
    from cleaner.dedup.settings import DedupSettings
    from cleaner.dedup.store import PassageStore

    s = DedupSettings()
    store = PassageStore(s.num_perm, tmp_path)
    for n, (sig, key) in enumerate(zip(sigs, exact, strict=True)):
        store.add(n, PassageFeature(0, 1, 100, Sketch(key, 60, sig)))
    store.freeze()
    return s, store


def test_a_family_collapses_exact_copies_and_verifies_against_representatives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A family of 400 exact copies and 600 near-copies (a few values edited each), with
    unrelated texts: the exact copies link to the first of them without LSH; the others
    are verified against their bucket's representative, so the pairs verified grow with
    the family (at most one per member and band), not with its square; and the family is
    one component."""
    from cleaner.dedup import candidates as dedup
    from cleaner.dedup import minhash
    from cleaner.dedup.clusters import components
    from cleaner.dedup.settings import DedupSettings
    rng = np.random.default_rng(3)
    num_perm = DedupSettings().num_perm
    base = rng.integers(0, 2**32, size=num_perm, dtype=np.uint64).astype(np.uint32)
    sigs, exact = [], []
    for n in range(1000):
        sig = base.copy()
        if n % 5 >= 2:  # 600 near-copies
            flip = rng.random(num_perm) < 0.05
            sig[flip] = rng.integers(0, 2**32, size=int(flip.sum()), dtype=np.uint64).astype(np.uint32)
        sigs.append(sig)
        exact.append(b"family-copy!" if n % 5 < 2 else n.to_bytes(12, "little"))
    for n in range(1000, 1100):  # unrelated
        sigs.append(rng.integers(0, 2**32, size=num_perm, dtype=np.uint64).astype(np.uint32))
        exact.append(n.to_bytes(12, "little"))
    s, store = _store(tmp_path, sigs, exact)
    verified: list[np.ndarray] = []
    real = dedup._passes

    def counting(pairs: np.ndarray, *args: object) -> np.ndarray:
        verified.append(pairs.copy())
        return real(pairs, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(dedup, "_passes", counting)
    edges = dedup.confirmed_edges(store, np.arange(len(sigs)), s, s.threshold, s.doc_lsh_threshold, "doc")
    pairs = np.concatenate(verified) if verified else np.empty((0, 2), np.int64)
    copies = [n for n in range(1000) if n % 5 < 2]
    # exact copies: linked to the first copy, and never verified or bucketed
    exact_edges = {tuple(e) for e in edges.tolist() if e[0] == copies[0] and e[1] in set(copies)}
    assert exact_edges == {(copies[0], c) for c in copies[1:]}
    assert not np.isin(pairs, copies[1:]).any()
    # one component holds the family, none of the unrelated texts
    groups = components(edges)
    assert [len(g) for g in groups] == [1000] and groups[0] == list(range(1000))
    bands, _rows = s.lsh(s.doc_lsh_threshold)
    assert len(pairs) <= bands * 601, len(pairs)  # all pairs would be ~180,000 per band
    # each verified pair is a bucket's representative (its smallest member) and another member
    b, r = bands, _rows
    reps = np.array([n for n in range(len(sigs)) if n not in set(copies[1:])])
    heads = set()
    for band in range(b):
        h, _m = minhash.bucket_stars(np.array(sigs)[reps][:, band * r:(band + 1) * r])
        heads |= set(reps[h].tolist())
    assert set(pairs[:, 0].tolist()) <= heads
    store.close()


@pytest.mark.parametrize("rows", [[(0, 1), (0, 1), (2, 2), (0, 1), (2, 2), (5, 5)], [(1, 1)] * 7, []])
def test_bucket_stars_pair_each_member_with_the_first(rows: list[tuple[int, int]]) -> None:
    from cleaner.dedup import minhash
    block = np.array(rows, dtype=np.uint32).reshape(len(rows), 2)
    head, member = minhash.bucket_stars(block)
    want = sorted((min(i for i in range(len(rows)) if rows[i] == rows[q]), q)
                  for q in range(len(rows)) if any(rows[p] == rows[q] for p in range(q)))
    assert sorted(zip(head.tolist(), member.tolist(), strict=True)) == want


def _sidebar(site: str, n: int) -> str:
    """A site's sidebar of ``n`` posts from a social feed: short lines with a handle, a tag
    and a link, as a page renders its embedded timeline."""
    rng = np.random.default_rng(sum(map(ord, site)))
    return "\n\n".join(f"{site}_user{k % 7}: #{site} " + " ".join(rng.choice(_WORDS, size=6))
                       + f" http://t.co/{site[:3]}{k:05d}" for k in range(n))


def _story(tag: str, sentences: int = 9) -> str:
    """A short news story: paragraphs of three sentences of prose."""
    rng = np.random.default_rng(sum(map(ord, tag)) * 7)
    out = []
    for p in range(0, sentences, 3):
        out.append(" ".join(f"The {tag} said that the " + " ".join(rng.choice(_WORDS, size=10))
                            + " would be ready by the end of the year." for _ in range(min(3, sentences - p))))
    return "\n\n".join(out)


def _dedup(texts: dict[str, str], tmp_path: Path, **kw: object) -> list[list[str]]:
    """Document clusters (member paths) that dedup finds among these cleaned texts."""
    from cleaner.dedup.features import DocMeta, features
    from cleaner.dedup.finder import Finder
    from cleaner.dedup.settings import DedupSettings

    s = DedupSettings(**kw)  # type: ignore[arg-type]
    tmp_path.mkdir(parents=True, exist_ok=True)
    finder = Finder(s, tmp_path)
    for seq, (path, text) in enumerate(sorted(texts.items())):
        finder.add_meta(DocMeta(seq, path, None, len(text), None), features(text, s))
    result = finder.finish()
    finder.close()
    return [sorted(m["path"] for m in c["members"]) for c in result.documents]


@pytest.mark.parametrize("pages", [2, 3])
def test_a_shared_wrapper_does_not_make_short_stories_duplicates(tmp_path: Path, pages: int) -> None:
    """Different short stories in pages of one site whose big sidebar (a feed of 280 posts)
    is left in their text (it occurs in too few documents for the template statistics):
    the wrapper is nearly all of each page's words, but the pages are not duplicates. Two
    copies of one story, each in the sidebar of another site, are."""
    side = _sidebar("gazette", 280)
    texts = {f"gazette-{k}.txt": f"{_story(f'story{k}')}\n\n{side}" for k in range(pages)}
    copy = _story("syndicated")
    texts["herald.txt"] = f"{_sidebar('herald', 200)}\n\n{copy}"
    texts["tribune.txt"] = f"{copy}\n\n{_sidebar('tribune', 150)}"
    assert _dedup(texts, tmp_path) == [["herald.txt", "tribune.txt"]]
    # what the prose decides: on the whole text, the sidebar made the pages one cluster
    assert ["gazette-0.txt", "gazette-1.txt"] in [c[:2] for c in _dedup(texts, tmp_path, prose=False)]


def test_a_document_that_is_only_a_wrapper_is_not_a_copy_of_the_pages_it_is_in(tmp_path: Path) -> None:
    """A page whose text is only its site's wrapper (an "about this collection" blurb in
    prose; its own story lost) lies inside every page of that site. The pages it lies in
    are different stories, not copies of each other, so what it shares with them is the
    wrapper: it is the duplicate of none of them. A truncated copy inside full copies
    that do match each other still is one."""
    blurb = "\n\n".join(_story(f"archive{k}", 3) for k in range(2))
    texts = {"site-0.txt": blurb}
    texts |= {f"site-{k}.txt": f"{blurb}\n\n{_story(f'event{k}', 9)}" for k in range(1, 4)}
    assert _dedup(texts, tmp_path / "wrapper") == []
    full = _story("wire", 12)
    texts = {"a-short.txt": full[: len(full) // 3].rsplit(" ", 1)[0],
             "b-full.txt": full, "c-full.txt": full.replace("wire said", "wire reported", 1)}
    assert _dedup(texts, tmp_path / "copies") == [["a-short.txt", "b-full.txt", "c-full.txt"]]


def test_a_copy_inside_the_story_the_cluster_holds_joins_it(tmp_path: Path) -> None:
    """Copies of one story cut differently: the kept page A has the story's twelve
    paragraphs; B drops the last and adds E; C keeps paragraphs 6 to 11 with E and F. C
    matches B, but lies only three quarters inside A, so a cluster around A alone left C
    out (a second story, or a page alone). C lies inside the story the cluster holds (A
    with B's E), so it is a member; a different story in the same pages never is."""
    para = [_story(f"part{k}", 3) for k in range(12)]
    extra_e, extra_f = _story("extra-e", 3), _story("extra-f", 3)
    texts = {"a.txt": "\n\n".join(para), "b.txt": "\n\n".join([*para[:11], extra_e]),
             "c.txt": "\n\n".join([*para[5:11], extra_e, extra_f]),
             "d.txt": "\n\n".join([_story(f"other{k}", 3) for k in range(8)] + [extra_f])}
    assert _dedup(texts, tmp_path) == [["a.txt", "b.txt", "c.txt"]]


def _thread(site: str, n: int) -> str:
    """A comment thread of ``n`` comments that read as prose, as a blog page renders it
    under the story."""
    rng = np.random.default_rng(sum(map(ord, site)) * 11)
    return "\n\n".join(f"I think that the {' '.join(rng.choice(_WORDS, size=8))} is what {site} readers "
                       f"wanted to hear, and the {' '.join(rng.choice(_WORDS, size=6))} was not." for _ in range(n))


def test_a_copy_inside_a_much_longer_page_is_found_by_its_paragraphs(tmp_path: Path) -> None:
    """A story copied above a long comment thread (which reads as prose) is a sixth of the
    page: Jaccard about 0.15 with the story's other copies, under the LSH threshold, so the
    page was never a candidate. It shares the story's paragraphs, and the story's prose
    is all inside it: it is a copy."""
    story = _story("wire", 9)
    texts = {"a.txt": f"Wire service\n\n{story}",
             "b.txt": f"{story}\n\nComments\n\n{_thread('blog', 60)}",
             "c.txt": story.replace("wire said", "wire reported", 1) + "\n\nShare this story",
             "d.txt": f"{_story('other', 9)}\n\nComments\n\n{_thread('forum', 60)}"}
    assert _dedup(texts, tmp_path) == [["a.txt", "b.txt", "c.txt"]]


def test_pages_of_one_site_sharing_a_long_thread_are_not_copies(tmp_path: Path) -> None:
    """Two pages of one site, different short stories above the same long comment thread
    (prose; the second page has more of it): the first page lies mostly inside the second
    (containment about 0.9, Jaccard under 0.5), but what it shares is the thread, not its
    story; the copy of its story elsewhere is not in the second page. So the second page
    is not a copy of it, while the story's copy is."""
    thread = _thread("site", 40)
    s1, s2 = _story("first", 6), _story("second", 6)
    texts = {"a.txt": f"{s1}\n\n{thread}", "b.txt": f"{s2}\n\n{thread}\n\n{_thread('more', 60)}",
             "c.txt": f"Elsewhere\n\n{s1}"}
    assert _dedup(texts, tmp_path) == [["a.txt", "c.txt"]]


def test_groups_of_two_are_decided_together_as_a_round_decides_them(tmp_path: Path) -> None:
    """``Finder._pair_verdicts`` (every group of two documents at once, vectorised by
    ``_verdicts``) gives each pair what the scalar definition gives it: the exact keys, then
    :func:`similarity` of the two sketches against the threshold and ``contained``, then the
    pairs passages confirmed (``_admit_covered``: the first one counts): the same verdict,
    similarity and measure, for exact copies, near copies, truncated copies, a copy inside a
    long page and pages that are not copies, either way round. (Not ``_verify_against``,
    which is ``_verdicts`` too.)"""
    from cleaner.dedup import finder as finder_mod
    from cleaner.dedup.features import DocMeta, Sketch, features, similarity
    from cleaner.dedup.settings import DedupSettings

    story, other = _story("wire", 9), _story("other", 9)
    texts = [f"Wire service\n\n{story}", f"{story}\n\nComments\n\n{_thread('blog', 60)}",
             story.replace("wire said", "wire reported", 1) + "\n\nShare this story", f"Wire service\n\n{story}",
             story[: len(story) // 2].rsplit(" ", 1)[0], f"{other}\n\nComments\n\n{_thread('forum', 60)}", other,
             "short"]
    s = DedupSettings()
    finder = finder_mod.Finder(s, tmp_path)
    for seq, text in enumerate(texts):
        finder.add_meta(DocMeta(seq, f"d{seq}.txt", None, len(text), None), features(text, s))
    finder.finish()
    # two different stories (documents 0 and 5) as if their passages had confirmed them
    # (twice: the first counts), which the signatures do not
    finder._covered_at = {0: [(5, 0.875), (5, 0.5)], 5: [(0, 0.875)]}
    table = finder.doc_store
    nodes = np.arange(len(texts))
    exact, size, signed = table.exact_keys(nodes), table.sizes(nodes), table.signed(nodes)
    sketches = [Sketch(exact[k].tobytes(), int(size[k]), table.sigs(nodes[k:k + 1])[0] if signed[k] else None)
                for k in nodes]

    def scalar(c: int, m: int) -> tuple[int, int, bool, float, int]:
        a, b = sketches[c], sketches[m]
        both = a.sig is not None and b.sig is not None
        j, cont = similarity(b, a)
        if a.exact == b.exact:
            ok, sim, measure = True, 1.0, 0
        elif both and j >= s.threshold:
            ok, sim, measure = True, j, 1
        else:
            inside = bool(s.contained("doc", np.array([cont]), np.array([b.size]), np.array([a.size]))[0])
            ok, sim, measure = both and inside, cont, 2
        for h, cover in finder._covered_at.get(c, ()):
            if h == m and not ok:
                ok, sim, measure = True, cover, 2
        return c, m, ok, float(sim), measure

    pairs = [[c, m] for c in range(len(texts)) for m in range(len(texts)) if c != m]
    got = list(finder._pair_verdicts(pairs))
    measures = set()
    for (c, m), verdict in zip(pairs, got, strict=True):
        want = scalar(c, m)
        assert verdict == want, (c, m)
        measures.add(want[4] if want[2] else -1)
    finder.close()
    assert measures == {-1, 0, 1, 2}
    assert got[pairs.index([0, 5])] == (0, 5, True, 0.875, 2) and got[pairs.index([5, 0])][3] == 0.875


@pytest.mark.parametrize("seed", range(4))
def test_the_candidate_forest_joins_what_a_plain_union_find_joins(seed: int) -> None:
    """``_Forest`` (the confirmation's union-find in numpy, its batches joined by the core's
    components) puts two nodes under one root exactly when a plain union-find, fed the same
    pairs one at a time, does, under the same root (its smallest node); after every batch, and
    with pairs whose ends are already one."""
    from cleaner.dedup.clusters import _Forest

    rng = np.random.default_rng(seed)
    n = 400
    forest = _Forest(n)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for size in (0, 1, 5, 40, 120, 300):
        a, b = rng.integers(0, n, size), rng.integers(0, n, size)
        forest.union(a, b)
        for x, y in zip(a.tolist(), b.tolist(), strict=True):
            parent[max(find(x), find(y))] = min(find(x), find(y))
        got = forest.roots(np.arange(n))
        want = np.array([find(x) for x in range(n)])
        assert got.tolist() == want.tolist()  # each component under its smallest node, as the reference's

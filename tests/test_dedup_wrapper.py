"""Duplicate passages: a site's wrapper that the template statistics left in the text is
template, not a duplicate passage; copied text is still reported."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest

from .test_clusters import _story

_WORDS = ("river council market school bridge harvest engine station garden museum doctor budget "
          "teacher village factory winter summer island forest letter report meeting").split()


def _passages(texts: dict[str, str], tmp_path: Path) -> list[list[tuple[str, str]]]:
    """Duplicate passage clusters dedup reports among these cleaned texts, as
    ``(path, text)`` members."""
    from cleaner.dedup.features import DocMeta, features
    from cleaner.dedup.finder import Finder
    from cleaner.dedup.settings import DedupSettings
    from cleaner.document import Document
    from cleaner.outputs.duplicates import duplicates_json

    s = DedupSettings()
    finder = Finder(s, tmp_path)
    names = sorted(texts)
    for seq, path in enumerate(names):
        finder.add_meta(DocMeta(seq, path, None, len(texts[path]), None), features(texts[path], s))
    result = finder.finish()
    list(result.apply(Document(path=p, text=texts[p]) for p in names))  # fills in the texts
    out = [[(m["path"], m["text"]) for m in c["members"]] for c in duplicates_json(result, [])["passages"]]
    finder.close()
    return out


def _wrapper(site: str) -> list[str]:
    """A site's page template around a story: a breadcrumb, a reprint line, a comment prompt
    in prose."""
    return [f"Back to: {site} News | Home", f"Purchase this {site} story for reprint.",
            f"You can follow this conversation by subscribing to the {site} comment feed for this post."]


def _quote(tag: str) -> str:
    rng = np.random.default_rng(sum(map(ord, tag)))
    return "“" + " ".join(rng.choice(_WORDS, size=30)) + f",” the {tag} minister said in a statement."


def test_a_sites_wrapper_is_not_a_duplicate_passage(tmp_path: Path) -> None:
    """Different stories in the pages of one site, each with the site's wrapper left in
    (two or three pages: too few for the template statistics): the wrapper lines are not
    duplicate passages. The paragraphs of two copies of one story, and a quotation copied
    into two different stories, are."""
    wrap = _wrapper("Gazette")
    texts = {f"gazette-{k}.txt": "\n\n".join([wrap[0], _story(f"story{k}"), *wrap[1:]]) for k in range(3)}
    copy = _story("syndicated")
    texts["herald.txt"] = f"Herald front page\n\n{copy}\n\nHerald footer and links"
    texts["tribune.txt"] = f"{copy}\n\nTribune: about us"
    quote = _quote("finance")
    texts["post-a.txt"] = f"{_story('budget')}\n\n{quote}"
    texts["post-b.txt"] = f"{quote}\n\n{_story('election')}"
    clusters = _passages(texts, tmp_path)
    reported = {text for c in clusters for _p, text in c}
    paths = [sorted({p for p, _t in c}) for c in clusters]
    assert not reported & set(wrap), [c for c in clusters if {t for _p, t in c} & set(wrap)]
    assert quote in reported
    assert ["post-a.txt", "post-b.txt"] in paths
    # the copies' paragraphs (the two copies are document duplicates: the dropped one's
    # passages are not compared again) — so no cluster pairs a gazette page with another
    assert not any(sum(p.startswith("gazette") for p in ps) >= 2 for ps in paths)


def test_two_pages_of_a_wrapper_block_are_template_but_a_shared_story_is_not(tmp_path: Path) -> None:
    """Two pages of a site sharing a block of wrapper lines are template; two pages that
    share most of their prose (a republished story with paragraphs added, not a document
    duplicate of the other) keep their shared paragraphs as duplicate passages."""
    wrap = _wrapper("Courier")
    texts = {f"courier-{k}.txt": "\n\n".join([wrap[0], _story(f"event{k}", 6), *wrap[1:]]) for k in range(2)}
    base = _story("harvest", 6)
    texts["farm-a.txt"] = f"{base}\n\n{_story('farm-extra-a', 4)}"
    texts["farm-b.txt"] = f"{base}\n\n{_story('farm-extra-b', 4)}"
    clusters = _passages(texts, tmp_path)
    reported = {text for c in clusters for _p, text in c}
    assert not reported & set(wrap)
    assert set(base.split("\n\n")) <= reported


def _site(name: str, pages: int, first: str | None = None, second: str | None = None) -> dict[str, str]:
    """``pages`` pages of one site, each a different story in the site's wrapper; with
    ``first`` and ``second``, the first two pages' stories instead (their names sort first)."""
    wrap = _wrapper(name)
    stories = [_story(f"{name}{k}") for k in range(pages)]
    if first is not None and second is not None:
        stories[:2] = [first, second]
    return {f"{name.lower()}-{k:03d}.txt": "\n\n".join([wrap[0], stories[k], *wrap[1:]]) for k in range(pages)}


def test_a_wrapper_in_many_pages_with_one_story_published_twice_is_still_the_wrapper(tmp_path: Path) -> None:
    """A site's wrapper in 12 pages, two of which (the first two) share most of a story (one
    republished with paragraphs added, not a document duplicate): the wrapper lines are in
    11 different stories, template, not duplicate passages; the story's shared paragraphs
    are in one story, duplicates. Before, a line was a duplicate passage as soon as the
    cluster's first page shared its story with any other page."""
    base = _story("harvest", 6)
    texts = _site("Ledger", 12, f"{base}\n\n{_story('farm-extra-a')}", f"{base}\n\n{_story('farm-extra-b')}")
    clusters = _passages(texts, tmp_path)
    reported = {text for c in clusters for _p, text in c}
    assert not reported & set(_wrapper("Ledger")), [c for c in clusters if {t for _p, t in c} & set(_wrapper("Ledger"))]
    assert set(base.split("\n\n")) <= reported


def test_the_wrapper_test_of_a_big_site_costs_a_few_comparisons(tmp_path: Path, monkeypatch) -> None:
    """A site's wrapper in 40 pages of different stories is found by comparing three pages
    (three different stories make a wrapper), not the first page with the 39 others: the
    passage-by-passage comparisons it asks for (``prose_shares``) do not grow with the
    pages. Before, they grew with the square of a site's pages."""
    import cleaner.dedup.finder as finder_mod

    calls: list[tuple[int, int]] = []
    real = finder_mod._without_wrappers

    def counted(store, docs, members, offsets, s, prose_shares):  # type: ignore[no-untyped-def]
        def shares(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            calls.extend(zip(a.tolist(), b.tolist(), strict=True))
            return prose_shares(a, b)
        return real(store, docs, members, offsets, s, shares)

    monkeypatch.setattr(finder_mod, "_without_wrappers", counted)
    clusters = _passages(_site("Sentinel", 40), tmp_path)
    assert not {text for c in clusters for _p, text in c} & set(_wrapper("Sentinel"))
    assert 0 < len(calls) <= 3, len(calls)


def _inside_oracle(sx: np.ndarray, na: np.ndarray, sy: np.ndarray, nb: np.ndarray, ratio: float) -> np.ndarray:
    """The numpy the core replaced (``Finder._prose_found``'s loop over blocks of the larger
    page's passages; with ``np.isin`` of the exact keys before it), kept as the oracle of
    ``prose_inside``."""
    share = np.zeros(len(na))
    step = max(1, (1 << 22) // max(1, len(sx) * sx.shape[1]))
    for k in range(0, len(sy), step):
        part, nbp = sy[k:k + step], nb[None, k:k + step]
        j = np.count_nonzero(sx[:, None, :] == part[None, :, :], axis=2) / sx.shape[1]
        inside = np.minimum(1.0, j * (na[:, None] + nbp) / (1 + j) / np.maximum(1, na[:, None]))
        inside[nbp > ratio * na[:, None]] = 0.0
        share = np.maximum(share, inside.max(axis=1))
    return share


def _shares_oracle(sx: np.ndarray, na: np.ndarray, kx: np.ndarray, px: np.ndarray, sy: np.ndarray,
                   nb: np.ndarray, ky: np.ndarray, ratio: float) -> float | None:
    """The share of page x's prose inside page y as ``Finder._prose_shares`` computed it one
    pair at a time in numpy (passages with their exact key in y wholly inside, the others by
    :func:`_inside_oracle`; then the prose passages' sizes weighted by their shares)."""
    from cleaner.dedup.store import EXACT_DTYPE

    if not px.any():
        return None
    if len(sy) == 0:
        return 0.0
    exact = np.isin(kx.view(EXACT_DTYPE).ravel(), ky.view(EXACT_DTYPE).ravel()).astype(np.float64)
    inside = np.maximum(exact, _inside_oracle(sx, na, sy, nb, ratio))
    n = na[px]
    return float((n * inside[px]).sum() / max(1.0, n.sum()))


def test_prose_shares_are_the_numpy_they_replaced(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The core's shares of each page's prose inside the other, for a batch of page pairs,
    with the signatures read by row number from a signature file (rows in another order
    than the passages), are the floats the per-pair numpy computed, bit for bit (NaN where it said None), on
    signatures that share some values, sizes on both sides of the ratio, equal exact keys,
    pages without prose passages or without passages, and pages of more than 128 passages
    (numpy sums those in halves: the order of the additions is in the last bits)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from cleaner.native import core

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.integers(0, 12), min_size=1, max_size=5), st.sampled_from([1, 4, 16, 128]),
           st.integers(0, 2**32 - 1), st.sampled_from([1.5, 4.0]), st.booleans())
    def check(lengths: list[int], perm: int, seed: int, ratio: float, long_page: bool) -> None:
        rng = np.random.default_rng(seed)
        if long_page:
            lengths = [*lengths, int(rng.integers(129, 300))]
        rows = sum(lengths)
        span = int(rng.integers(1, 6))  # few distinct values: many equal ones
        sigs = rng.integers(0, span, size=(rows, perm), dtype=np.uint32)
        size = rng.integers(1, 60, rows).astype(np.float64)
        keys = rng.integers(0, 3, size=(rows, 12), dtype=np.uint8)  # some keys equal across pages
        keys[:, 1:] = 0
        prose = rng.random(rows) < rng.random()
        at = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        pages = len(lengths)
        a = rng.integers(0, pages, 2 * pages + 1).astype(np.int64)
        b = rng.integers(0, pages, 2 * pages + 1).astype(np.int64)
        # the rows stored in another order than asked (the core reads them by number)
        order = rng.permutation(rows)
        path = tmp_path_factory.mktemp("sigs") / "signatures.u32"
        path.write_bytes(sigs[order].tobytes())
        at_row = np.argsort(order).astype(np.int32)  # the file row of each passage
        ab, ba = (np.frombuffer(x, dtype=np.float64) for x in core.prose_shares_rows(
            path, at_row.tobytes(), size.tobytes(), keys.tobytes(), prose.astype(np.uint8).tobytes(), at.tobytes(),
            a.tobytes(), b.tobytes(), perm, ratio))

        def page(p: int) -> tuple[np.ndarray, ...]:
            r = slice(at[p], at[p + 1])
            return sigs[r], size[r], keys[r], prose[r]

        for k in range(len(a)):
            (sx, na, kx, px), (sy, nb, ky, py) = page(int(a[k])), page(int(b[k]))
            if not px.any() and not py.any():
                want: tuple[float | None, float | None] = (None, None)
            else:
                want = (_shares_oracle(sx, na, kx, px, sy, nb, ky, ratio),
                        _shares_oracle(sy, nb, ky, py, sx, na, kx, ratio))
            got = tuple(None if np.isnan(x) else float(x) for x in (ab[k], ba[k]))
            assert got == want, (k, got, want)

    check()


def test_prose_shares_refuses_inconsistent_columns(tmp_path: Path) -> None:
    """Offsets past the rows, a page number past the pages, a negative row number (a
    passage without a signature) or a row past the end of the file are an error, not a read
    out of bounds."""
    from cleaner.native import core

    path = tmp_path / "signatures.u32"
    path.write_bytes(np.zeros(4, np.uint32).tobytes())
    row, size, key, prose = np.zeros(1, np.int32).tobytes(), np.ones(1).tobytes(), bytes(12), b"\x01"
    one = np.zeros(1, np.int64).tobytes()
    at = np.array([0, 1], np.int64).tobytes()
    with pytest.raises(ValueError):
        core.prose_shares_rows(path, row, size, key, prose, np.array([0, 2], np.int64).tobytes(), one, one, 4, 2.0)
    with pytest.raises(ValueError):
        core.prose_shares_rows(path, row, size, key, prose, at, one, np.ones(1, np.int64).tobytes(), 4, 2.0)
    with pytest.raises(ValueError):
        core.prose_shares_rows(path, np.array([-1], np.int32).tobytes(), size, key, prose, at, one, one, 4, 2.0)
    with pytest.raises(OSError, match=f"signature file {path}: "):  # past the end: the file is named
        core.prose_shares_rows(path, np.array([1], np.int32).tobytes(), size, key, prose, at, one, one, 4, 2.0)
    with pytest.raises(OSError, match="signature file .*missing.u32: "):
        core.prose_shares_rows(tmp_path / "missing.u32", row, size, key, prose, at, one, one, 4, 2.0)
    with pytest.raises(OSError, match="signature file .*missing.u32: "):
        core.equal_counts_rows(tmp_path / "missing.u32", row, row, 4)
    for width in (0, 1 << 62):  # no row width whose products overflow
        with pytest.raises(ValueError, match="signatures of 1 to"):
            core.prose_shares_rows(path, row, size, key, prose, at, one, one, width, 2.0)
        with pytest.raises(ValueError, match="signatures of 1 to"):
            core.equal_counts_rows(path, row, row, width)
    ab, ba = core.prose_shares_rows(path, row, size, key, prose, at, one, one, 4, 2.0)
    assert np.frombuffer(ab, dtype=np.float64).tolist() == [1.0]


def _walk(pages: Iterable[int], need: int, same: Callable[[int, int], bool]) -> bool:
    """:func:`cleaner.dedup.finder._stories_reach` of one list of pages."""
    from cleaner.dedup.finder import _stories_reach

    pages = np.asarray(list(pages), dtype=np.int64)
    return bool(_stories_reach(pages, np.array([0]), np.array([len(pages)]), np.array([need]),
                               lambda asked: [same(a, b) for a, b in asked])[0])


def test_stories_are_counted_with_a_comparison_or_two_a_page() -> None:
    """The count of stories stops at what makes a wrapper, and compares a page with one page
    of each story found so far: pages of one story cost a comparison each, pages of
    different stories three in all."""
    asked: list[tuple[int, int]] = []

    def by_tens(a: int, b: int) -> bool:  # pages 0-9 are one story, 10-19 another, ...
        asked.append((a, b))
        return a // 10 == b // 10

    assert not _walk(range(10), 2, by_tens) and len(asked) == 9
    asked.clear()
    assert not _walk(range(20), 3, by_tens) and len(asked) <= 2 * 19
    asked.clear()
    assert _walk(range(0, 500, 10), 3, by_tens) and asked == [(0, 10), (0, 20), (10, 20)]
    asked.clear()
    assert _walk([0, 1, 10], 2, by_tens) and asked == [(0, 1), (0, 10)]
    assert not _walk([], 2, by_tens) and not _walk([7], 2, by_tens) and _walk([7], 1, by_tens)


def _one_walk(pages: list[int], need: int, same: Callable[[int, int], bool], asked: list[tuple[int, int]]) -> bool:
    """The walk of one cluster as a generator asked it, one question at a time (the
    reference of the walks in rounds)."""
    heads: list[int] = []
    for p in pages:
        for h in heads:
            asked.append((h, p))
            if same(h, p):
                break
        else:
            heads.append(p)
            if len(heads) >= need:
                return True
    return False


def test_walks_in_rounds_ask_and_decide_what_one_walk_at_a_time_did() -> None:
    """Many walks at once (``_stories_reach`` in rounds, as the wrapper test runs them)
    against each walk alone: the same results, each walk asking the same pairs in the same
    order, every round's questions in walk order; random stories, small and big walks
    (thousands of pages), empty and one-page walks, needs of 1 to 3."""
    from cleaner.dedup.finder import _stories_reach

    rng = np.random.default_rng(7)
    story = rng.integers(0, 6, size=50_000)  # page -> story; few stories: long walks

    def same(a: int, b: int) -> bool:
        return bool(story[a] == story[b])

    for walks in (0, 1, 5, 300):
        lengths = rng.choice([0, 1, 2, 3, 8, 40, 3000], size=walks, p=[.05, .1, .3, .2, .2, .1, .05])
        need = rng.integers(1, 4, size=walks)
        runs = [rng.choice(len(story), size=k, replace=False) for k in lengths]
        for w, k in enumerate(lengths):  # some walks all one story (never reach 2)
            if k and w % 4 == 0:
                runs[w] = np.flatnonzero(story == story[runs[w][0]])[:k]
        pages = np.concatenate([np.zeros(0, np.int64), *runs]).astype(np.int64)
        ends = np.cumsum(lengths).astype(np.int64)
        starts = ends - lengths
        want_asked: list[list[tuple[int, int]]] = [[] for _ in range(walks)]
        want = [_one_walk(r.tolist(), int(q), same, a) for r, q, a in zip(runs, need, want_asked, strict=True)]
        rounds: list[list[tuple[int, int]]] = []

        def answer(asked: list[tuple[int, int]], rounds: list[list[tuple[int, int]]] = rounds) -> list[bool]:
            rounds.append(asked)
            return [same(a, b) for a, b in asked]

        got = _stories_reach(pages, starts, ends, need, answer)
        assert got.dtype == bool and got.tolist() == want
        # round r asks the r-th question of every walk that has one, in walk order
        expected = [[a[r] for a in want_asked if len(a) > r] for r in range(max(map(len, want_asked), default=0))]
        assert rounds == expected
        assert walks < 300 or (any(want) and not all(want))


def test_prose_share_batches_bound_the_passages_held() -> None:
    """:func:`cleaner.dedup.finder._batches` cuts sorted page pairs into batches, in order
    and covering every pair, each of at most ``_PAIRS_AT_ONCE`` pairs and of pages holding
    at most ``_ROWS_AT_ONCE`` passages (a single pair may be larger): the signatures the
    core holds for a batch are bounded, whatever the pages' sizes. With 1024 pairs a batch
    and no bound on the passages, a batch of long pages held 100,000 signatures."""
    from cleaner.dedup import finder as fm

    rng = np.random.default_rng(7)
    for _ in range(50):
        pages = int(rng.integers(1, 400))
        rows = rng.integers(0, 3 * fm._ROWS_AT_ONCE // 100, pages)
        rows[rng.integers(0, pages)] = fm._ROWS_AT_ONCE + 5  # one page over the bound alone
        n = int(rng.integers(1, 3000))
        a, b = rng.integers(0, pages, n), rng.integers(0, pages, n)
        order = np.lexsort((b, a))
        a, b = a[order], b[order]
        got = list(fm._batches(a, b, rows))
        assert [s for s, _ in got] == [0, *(e for _, e in got[:-1])] and got[-1][1] == n
        for s, e in got:
            assert e - s <= fm._PAIRS_AT_ONCE
            held = int(rows[np.unique(np.concatenate([a[s:e], b[s:e]]))].sum())
            assert held <= fm._ROWS_AT_ONCE or e - s == 1, (s, e, held)


def test_prose_shares_hand_the_core_bounded_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dedup over pages of one site (a wrapper around different stories, whose pairs it
    measures passage by passage) hands the core batches of at most ``_ROWS_AT_ONCE``
    passages (or one pair), and finds the same duplicate passages as with one batch."""
    from cleaner.dedup import finder as fm

    wrap = _wrapper("Courier")
    texts = {f"courier-{k:02d}.txt": "\n\n".join([wrap[0], _story(f"story{k}"), *wrap[1:]]) for k in range(12)}
    copy = _story("syndicated")
    texts["herald.txt"] = f"Herald front page\n\n{copy}\n\nHerald footer and links"
    texts["tribune.txt"] = f"{copy}\n\nTribune: about us"
    (tmp_path / "whole").mkdir()
    (tmp_path / "cut").mkdir()
    whole = _passages(texts, tmp_path / "whole")
    core = fm._native
    calls: list[tuple[int, int]] = []

    class Recording:
        def __getattr__(self, name: str) -> object:
            return getattr(core, name)

        @staticmethod
        def prose_shares_rows(path: Path, rows: bytes, *rest: object) -> object:
            calls.append((len(rows) // 4, len(rest[5]) // 8))  # type: ignore[arg-type]
            return core.prose_shares_rows(path, rows, *rest)

    monkeypatch.setattr(fm, "_native", Recording())
    monkeypatch.setattr(fm, "_ROWS_AT_ONCE", 6)
    assert _passages(texts, tmp_path / "cut") == whole
    assert len(calls) > 1
    assert all(rows <= 6 or pairs == 1 for rows, pairs in calls), calls

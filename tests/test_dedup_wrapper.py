"""Duplicate passages: a site's wrapper that the template statistics left in the text is
template, not a duplicate passage; copied text is still reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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

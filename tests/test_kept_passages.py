"""The reported passages' texts the write step keeps (``DedupResult.apply``): one core call
per document (``kept_passage_texts``, given each paragraph's lines as pass 2 found them)
against what it replaced, the document's paragraphs found again and ``passage_text`` of
the one asked for."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.dedup.passages import paragraphs, passage_text
from cleaner.native import core

_chars = st.one_of(st.sampled_from(list(" \t\xa0\u3000.,aA5é")), st.characters(exclude_categories=("Cs",)))
_words = st.lists(st.one_of(st.sampled_from(["The", "talks", "said.", "went", "on,", "and", "5"]),
                            st.text(_chars, min_size=1, max_size=8)), max_size=40)
_lines = st.lists(st.one_of(_words.map(" ".join), st.text(_chars, max_size=90), st.just("")), max_size=25)


@settings(max_examples=300, deadline=None)
@given(_lines.map("\n".join), st.data(), st.integers(3, 12), st.integers(0, 2))
def test_kept_passage_texts_are_passage_text_of_the_paragraph(text: str, data: st.DataObject, window: int,
                                                               overlap: int) -> None:
    paras = {start: para for start, _end, para in paragraphs(text)}
    wanted = []
    for start, end, para in paragraphs(text):
        words = len(para.split())
        n = len(range(0, words - overlap, window - overlap)) if words > window else 1
        wanted += [(start, end, k) for k in range(n)] + [(start, end, -1)]
    wanted = data.draw(st.permutations(wanted)) if wanted else []
    expected = [passage_text(paras[start], k, window, overlap) for start, _end, k in wanted]
    assert core.kept_passage_texts(text, wanted, window, overlap) == expected


def test_lines_that_hold_no_paragraph_are_a_key_error() -> None:
    text = "Headline\n\nThe minister said on Tuesday that the talks would go on until\nthe end of the week."
    assert core.kept_passage_texts(text, [(3, 4, 0), (1, 1, 0)], 200, 50) == [
        "The minister said on Tuesday that the talks would go on until the end of the week.", "Headline"]
    for start, end in ((2, 2), (0, 1), (4, 3), (3, 5), (9, 9)):
        with pytest.raises(KeyError):
            core.kept_passage_texts(text, [(start, end, 0)], 200, 50)
    with pytest.raises(IndexError):
        core.kept_passage_texts(" ".join(["w"] * 500), [(1, 1, 9)], 200, 50)

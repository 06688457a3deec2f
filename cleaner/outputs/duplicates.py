"""duplicates.json: the duplicate documents, passage clusters and template lines of a run,
written a passage cluster at a time (a large run has millions of passages in clusters)."""

from __future__ import annotations

import json
from typing import Any, TextIO

import numpy as np

from ..dedup.result import DedupResult


def duplicates_json(result: DedupResult, templates: list[dict[str, Any]]) -> dict[str, Any]:
    """The report, as one dict (for the commands that print it). Passage texts are
    filled in by :meth:`DedupResult.apply` as the documents pass: call it once that is consumed.
    :func:`write_duplicates` writes the same without holding it."""
    return {"documents": result.documents,
            "passages": [{"members": list(rows), "id": cid}
                         for cid, _n, rows in result.passages.clusters(range(len(result.passages)), result.docs)],
            "templates": templates, "settings": result.settings.describe()}


def write_duplicates(fh: TextIO, result: DedupResult, templates: list[dict[str, Any]]) -> None:
    """Write :func:`duplicates_json` as ``json.dump(..., ensure_ascii=False, indent=1)`` would,
    byte for byte, one passage cluster at a time."""
    head = indented_json({"documents": result.documents})
    fh.write(head[:-2] + ',\n "passages": [')
    for k, (cid, _n, rows) in enumerate(result.passages.clusters(range(len(result.passages)), result.docs)):
        fh.write(("," if k else "") + '\n  {\n   "members": [')
        for m, row in enumerate(rows):
            fh.write(("," if m else "") + "\n    " + indented_json(row, "\n    "))
        fh.write('\n   ],\n   "id": ' + json.dumps(cid) + "\n  }")
    fh.write("\n ]" if len(result.passages) else "]")
    tail = indented_json({"templates": templates, "settings": result.settings.describe()})
    fh.write("," + tail[1:])


_string = json.encoder.encode_basestring  # json's own (C) string encoder, as ensure_ascii=False uses
_INF = float("inf")


def _float(x: float) -> str:
    if x != x:
        return "NaN"
    if x == _INF:
        return "Infinity"
    if x == -_INF:
        return "-Infinity"
    return float.__repr__(x)


def indented_json(obj: Any, newline: str = "\n") -> str:
    """``json.dumps(obj, ensure_ascii=False, indent=1)``, byte for byte, with every line
    break followed by ``newline``'s indentation (``newline`` is ``"\n"`` and some spaces).

    Why not json.dumps: with ``indent`` the stdlib encodes in Python, a generator per
    container whose every piece is yielded up through each level above it; duplicates.json
    (a dict per cluster member, hundreds of thousands on a large run) cost the write step
    more than its manifest. Here each container is one join, the strings and floats are
    json's own encoders, and any value of another type (a subclass, a non-string key, an
    object ``json`` would refuse) is handed to ``json.dumps`` itself, so the output and the
    errors are json's."""
    t = type(obj)
    if t is str:
        return _string(obj)
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if t is int:
        return int.__repr__(obj)
    if t is float:
        return _float(obj)
    inner = newline + " "
    if t is dict:
        if not obj:
            return "{}"
        if all(type(k) is str for k in obj):
            return "{" + inner + ("," + inner).join(
                [_string(k) + ": " + indented_json(v, inner) for k, v in obj.items()]) + newline + "}"
    elif t is list or t is tuple:
        if not obj:
            return "[]"
        return "[" + inner + ("," + inner).join([indented_json(v, inner) for v in obj]) + newline + "]"
    return json.dumps(obj, ensure_ascii=False, indent=1).replace("\n", newline)


def report_view(result: DedupResult, templates: list[dict[str, Any]], top: int, members: int = 64
                ) -> dict[str, Any]:
    """What the HTML report reads: :func:`duplicates_json` with only the ``top`` largest passage
    clusters (the ones it shows), each with its first ``members`` rows and its size
    (``member_count``), and ``passage_count`` for the number of clusters."""
    sizes = result.passages.sizes()
    largest = np.argsort(-sizes, kind="stable")[:top]
    shown = [{"members": list(rows), "id": cid, "member_count": n}
             for cid, n, rows in result.passages.clusters(largest.tolist(), result.docs, limit=members)]
    return {"documents": result.documents, "passages": shown, "passage_count": len(result.passages),
            "templates": templates, "settings": result.settings.describe()}

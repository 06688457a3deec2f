"""duplicates.json: the duplicate documents, passage clusters and template lines of a run,
written a passage cluster at a time (a large run has millions of passages in clusters)."""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # the C one when built
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
    head = json.dumps({"documents": result.documents}, ensure_ascii=False, indent=1)
    fh.write(head[:-2] + ',\n "passages": [')
    for k, (cid, _n, rows) in enumerate(result.passages.clusters(range(len(result.passages)), result.docs)):
        fh.write(("," if k else "") + '\n  {\n   "members": [')
        for m, row in enumerate(rows):
            fh.write(("," if m else "") + "\n    " + _member_json(row))
        fh.write('\n   ],\n   "id": ' + json.dumps(cid) + "\n  }")
    fh.write("\n ]" if len(result.passages) else "]")
    tail = json.dumps({"templates": templates, "settings": result.settings.describe()}, ensure_ascii=False,
                      indent=1)
    fh.write("," + tail[1:])


#: JSON of the scalar values a member row holds, by exact type (a subclass is not one of them).
_SCALARS: dict[type, Any] = {str: encode_basestring, int: int.__repr__, bool: lambda b: "true" if b else "false",
                             type(None): lambda _: "null"}


def _member_json(row: dict[str, Any]) -> str:
    """``json.dumps(row, ensure_ascii=False, indent=1)`` with every line after the first
    indented by four more spaces (a member's place in duplicates.json), byte for byte.

    A member row is a flat dict of strings, numbers and ``None``: its JSON is made a value
    at a time with the C string encoder, where ``indent`` makes ``json`` run its pure-Python
    encoder, several calls per value (a run writes a row per passage in a cluster, and that
    encoder cost more than the rest of writing duplicates.json). Any other row goes
    through ``json.dumps``."""
    try:
        items = [f"\n     {encode_basestring(k)}: {_SCALARS[type(v)](v)}" for k, v in row.items()]
    except (KeyError, TypeError):  # a value of another type, a key that is not a str
        return json.dumps(row, ensure_ascii=False, indent=1).replace("\n", "\n    ")
    return "{" + ",".join(items) + "\n    }" if items else "{}"


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

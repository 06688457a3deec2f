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
    fh.write('{\n "documents": ' + indented_json(result.documents, 1) + ',\n "passages": [')
    for k, (cid, _n, rows) in enumerate(result.passages.clusters(range(len(result.passages)), result.docs)):
        fh.write(("," if k else "") + '\n  {\n   "members": [')
        for m, row in enumerate(rows):
            fh.write(("," if m else "") + "\n    " + indented_json(row, 4))
        fh.write('\n   ],\n   "id": ' + encode_basestring(cid) + "\n  }")
    fh.write("\n ]" if len(result.passages) else "]")
    tail = indented_json({"templates": templates, "settings": result.settings.describe()})
    fh.write("," + tail[1:])


def _float_json(f: float) -> str:
    """A float as ``json`` writes it (``allow_nan``: ``NaN``, ``Infinity``, ``-Infinity``)."""
    if f != f:
        return "NaN"
    if f == _INF:
        return "Infinity"
    if f == -_INF:
        return "-Infinity"
    return float.__repr__(f)


_INF = float("inf")


def indented_json(obj: Any, level: int = 0) -> str:
    """``json.dumps(obj, ensure_ascii=False, indent=1)`` with every line after the first
    indented by ``level`` more spaces (its place in duplicates.json), byte for byte.

    Why not ``json.dumps``: ``indent`` makes ``json`` run its pure-Python encoder, a
    generator per container and several calls per value, and duplicates.json is indented:
    its document clusters and passage member rows (one per passage in a cluster) cost more
    than the rest of writing it. Here each string goes through the C string encoder and
    each container is one join. The types are tested in ``json``'s order (a ``str`` or
    ``int`` subclass is written as one, a ``bool`` key as ``true``); a value ``json``
    would hand to ``default`` (or refuse) sends the whole object through ``json.dumps``,
    which raises as before."""
    try:
        return _indented(obj, "\n" + " " * level)
    except (_Unhandled, RecursionError):  # a circle too: json names it (ValueError)
        return json.dumps(obj, ensure_ascii=False, indent=1).replace("\n", "\n" + " " * level)


class _Unhandled(Exception):
    """A value :func:`indented_json` leaves to ``json.dumps``."""


def _indented(o: Any, nl: str) -> str:
    if isinstance(o, str):
        return encode_basestring(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        return _float_json(o)
    if isinstance(o, (list, tuple)):
        if not o:
            return "[]"
        inner = nl + " "
        return "[" + ",".join([inner + _indented(v, inner) for v in o]) + nl + "]"
    if isinstance(o, dict):
        if not o:
            return "{}"
        inner = nl + " "
        return "{" + ",".join([inner + _key(k) + ": " + _indented(v, inner) for k, v in o.items()]) + nl + "}"
    raise _Unhandled


def _key(k: Any) -> str:
    """A dict key as ``json`` writes it (a number or ``None`` as a string)."""
    if isinstance(k, str):
        return encode_basestring(k)
    if isinstance(k, float):
        return encode_basestring(_float_json(k))
    if k is True:
        return '"true"'
    if k is False:
        return '"false"'
    if k is None:
        return '"null"'
    if isinstance(k, int):
        return encode_basestring(int.__repr__(k))
    raise _Unhandled


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

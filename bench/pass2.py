#!/usr/bin/env python3
"""Pass 2 (template removal and dedup features) alone, on the documents of a real run.

``capture`` runs ``cleaner clean RAW`` (one worker, in this process) and saves what pass 2
is handed: the shared template statistics and every spooled document, as bytes. ``time``
replays them through the checkout on ``PYTHONPATH`` and prints the CPU per MB of clean
text of the whole worker function (``untemplate``: unpickling, template removal, features,
pickling) and of its parts, and a digest of every result; with ``--save`` it writes every
result, and ``--check`` compares the results with a file saved by another checkout (the
documents' pickles, the features' arrays, the samples and removals), so a change to pass 2
can be shown to give the same answers, document by document, before the slower digests
check.

Capture with the oldest checkout compared: a checkout reads the documents' pickles of
older ones (``Document.__setstate__`` reads the state dictionaries they pickled), but an
older checkout cannot read a newer one's (``cleaner.document._document`` is not in it).

    PYTHONPATH=CHECKOUT python bench/pass2.py capture RAW FILE
    PYTHONPATH=CHECKOUT python bench/pass2.py time FILE [--reps 3] [--save OUT | --check OUT]
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
from pathlib import Path
from typing import Any

from speed import best_cpu, clean_in_process  # bench/, the folder this script runs from


def capture(raw: Path, dest: Path) -> None:
    import cleaner.steps as steps

    got: dict[str, Any] = {"blobs": []}
    real = steps.untemplate

    def record(shared: Any, blob: bytes) -> Any:
        got.setdefault("shared", shared)
        got["blobs"].append(blob)
        return real(shared, blob)

    steps.untemplate = record
    clean_in_process(raw, "cleaner-pass2-")
    with open(dest, "wb") as f:
        pickle.dump(got, f, protocol=pickle.HIGHEST_PROTOCOL)
    print(f"pass2: {len(got['blobs'])} documents saved to {dest}")


def _comparable(r: Any) -> tuple[Any, ...]:
    """An untemplate result as plain values, the same whatever form a checkout's worker
    sends it in: the features as their columns' bytes (a Features, a Wire or the bytes
    themselves), the record as (path, id, chars, date) (a DocMeta or that tuple), the
    removals as a dictionary (or packed, see steps._pack_removals)."""
    f = r.features
    if f is not None and not isinstance(f, tuple):
        f = f.__reduce__()[1] if hasattr(f, "sketch") else f.columns  # a Features, a Wire
    feats = None if f is None else tuple(f)
    meta = r.meta
    if meta is not None and not isinstance(meta, tuple):
        meta = (meta.path, meta.id, meta.chars, meta.date)
    removals = r.removals
    if isinstance(removals, tuple):  # packed: unpacked by the checkout's own driver code
        from cleaner.steps import _merge_removals

        removals, packed = {}, removals
        _merge_removals(removals, packed)
    # the document's attributes in name order: the order they were set in differs between
    # checkouts (a pickle by fields sets the Counters last), and the digest is of the repr;
    # its text and word count as values, not as the form a checkout keeps them in (a str
    # and a (text, count) tuple, or UTF-8 bytes with the counts not yet decoded)
    doc = pickle.loads(r.blob)
    state = {k: v for k, v in doc.__dict__.items() if k not in ("_utf8", "_words")}
    state["text"], state["words_out"] = doc.text, doc.words_out
    return (dict(sorted(state.items())), r.key, r.status, r.stage, r.reason, meta, feats,
            r.samples, list((removals or {}).items()), None if r.site_keys is None else r.site_keys.tobytes())


def replay(path: Path, reps: int, save: Path | None, check: Path | None) -> None:
    import cleaner.steps as steps
    from cleaner.clean.stages import remove_templates
    from cleaner.dedup.features import features

    with open(path, "rb") as f:
        got = pickle.load(f)
    shared, blobs = got["shared"], got["blobs"]
    if any(isinstance(keys, set) for keys in shared.templates.values()):
        try:  # captured by a checkout whose workers took sets; this one takes sorted arrays
            from cleaner.clean.stages import template_arrays
        except ImportError:
            pass
        else:
            shared.templates = template_arrays(shared.templates)
    docs = [pickle.loads(b) for b in blobs]
    kept = [d for d in docs if d.status == "kept"]
    mb = sum(len(d.text.encode()) for d in kept) / 1e6
    texts = [d.text for d in kept]

    def whole() -> list[Any]:
        return [steps.untemplate(shared, b) for b in blobs]

    def templates() -> None:
        for b in blobs:
            d = pickle.loads(b)
            remove_templates(d, shared.templates, shared.stats.view(), shared.wrappers)

    def feats() -> None:
        for t in texts:
            features(t, shared.dedup)

    def unpickle_pickle() -> None:
        for b in blobs:
            pickle.dumps(pickle.loads(b), protocol=pickle.HIGHEST_PROTOCOL)

    results = whole()  # warm, and the results to save or check

    def send() -> None:  # what a worker's result costs on its way to the driver (with 2+ workers)
        for r in results:
            pickle.loads(pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL))

    print(f"pass 2 over {len(blobs)} documents ({len(kept)} kept, {mb:.1f} MB of clean text), "
          f"CPU ms per MB, best of {reps}:")
    for name, fn in [("untemplate (the worker function, all of it)", whole),
                     ("  remove_templates (with unpickling)", templates),
                     ("  dedup features", feats),
                     ("  unpickle + pickle a document", unpickle_pickle),
                     ("result pickled to the driver and back (2+ workers)", send)]:
        print(f"  {name:48s} {best_cpu(fn, reps) / mb * 1000:8.1f}")
    mine = [_comparable(r) for r in results]
    # two checkouts giving the same answers print the same digest (of the values: a pickle
    # would also tell which strings are one object); --check says which results differ
    print(f"  digest of the results {hashlib.blake2b(repr(mine).encode(), digest_size=8).hexdigest()}")
    if save is not None:
        with open(save, "wb") as f:
            pickle.dump(mine, f, protocol=pickle.HIGHEST_PROTOCOL)
        print(f"results saved to {save}")
    if check is not None:
        with open(check, "rb") as f:
            theirs = pickle.load(f)
        bad = [i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b]
        print(f"check against {check}: {len(bad)} of {len(mine)} results differ"
              + (f" (first: {blobs and pickle.loads(blobs[bad[0]]).key})" if bad else ""))
        if bad:
            raise SystemExit(1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("raw", type=Path)
    c.add_argument("dest", type=Path)
    t = sub.add_parser("time")
    t.add_argument("path", type=Path)
    t.add_argument("--reps", type=int, default=3)
    t.add_argument("--save", type=Path)
    t.add_argument("--check", type=Path)
    args = ap.parse_args()
    if args.cmd == "capture":
        capture(args.raw, args.dest)
    else:
        replay(args.path, args.reps, args.save, args.check)
    return 0


if __name__ == "__main__":
    sys.exit(main())

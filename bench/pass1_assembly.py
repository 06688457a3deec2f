#!/usr/bin/env python3
"""CPU per MB of pass 1's cleaning of a document after normalisation: the rules, the
furniture classifier, and what the pipeline keeps of their decision (the text, header,
classifier input, removals, words, the template line keys and a document's distinct keys).

In this checkout that is one call to the core per document (``stages.clean_keys``); in an
older one it is ``clean`` (rules and furniture, each a call to the core, with Python in
between), ``key_lines`` and ``doc_keys``. Each checkout runs in a subprocess of its own over
the same texts (the corpus's ``.txt`` files, normalised before the clock starts, so that
normalisation, which did not change, is not timed), best of ``--reps`` passes, and prints a
digest of every field it produced: two checkouts must print the same digest.

    python bench/pass1_assembly.py --raw DIR [--reps 3] [--compare CHECKOUT] [--limit N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _child(root: Path, raw: Path, reps: int, limit: int) -> dict[str, object]:
    sys.path.insert(0, str(root))
    from cleaner.clean import stages
    from cleaner.clean.normalise import normalise_text
    from cleaner.document import Document

    files = sorted(raw.rglob("*.txt"))[:limit or None]
    texts = [(f.relative_to(raw).as_posix(), normalise_text(f.read_text(encoding="utf-8"))) for f in files]
    mb = sum(f.stat().st_size for f in files) / 1e6
    settings = stages.CleanSettings()
    settings.prepare()
    stages.normalise_text = lambda text: text  # normalised above, outside the clock
    core = stages.core

    class Core:
        """``stages.core`` whose call that normalises and assembles (newer checkouts) only
        assembles: the texts were normalised above, outside the clock."""

        def __getattr__(self, name: str) -> object:
            return getattr(core, name)

        @staticmethod
        def normalise_assemble_page(normaliser: object, text: str, *a: object, **k: object) -> object:
            return core.assemble_page(text, *a, **k)

    stages.core = Core()

    if hasattr(stages, "clean_keys"):
        def pass1(doc: Document) -> object:
            doc, keys = stages.clean_keys(doc, settings)
            return None if keys is None else keys.tolist()
    else:
        from cleaner.clean.furniture import doc_keys, key_lines

        def pass1(doc: Document) -> object:
            doc = key_lines(stages.clean(doc, settings))
            return doc_keys(doc).tolist() if doc.status == "kept" else None

    best, digest = float("inf"), ""
    for _ in range(reps):
        docs = [Document(path=rel, text=text) for rel, text in texts]
        t0 = time.process_time()
        keys = [pass1(doc) for doc in docs]
        best = min(best, time.process_time() - t0)
        h = hashlib.blake2b(digest_size=8)
        for doc, k in zip(docs, keys, strict=True):
            h.update(repr((doc.text, doc.head, doc.body, sorted(doc.removed.items()),
                                   sorted(doc.removed_words.items()), doc.words_in, doc.status, doc.reason,
                                   doc.line_keys, doc.head_keys, k)).encode())  # values, not pickle's object sharing
        digest = h.hexdigest()
    return {"ms_per_mb": best * 1000 / mb, "mb": mb, "docs": len(texts), "digest": digest}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw", type=Path, default=Path("/tmp/cleaner-bench-thjm2frw/raw"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="at most this many files (0: all)")
    ap.add_argument("--compare", type=Path, help="another checkout, timed in the same run")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.raw, args.reps, args.limit)))
        return 0
    roots = [ROOT] + ([args.compare] if args.compare else [])
    for root in roots:
        out = subprocess.run([sys.executable, __file__, "--child", str(root), "--raw", str(args.raw),
                              "--reps", str(args.reps), "--limit", str(args.limit)],
                             check=True, capture_output=True, text=True, cwd="/tmp")
        got = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{str(root):<24} {got['ms_per_mb']:7.1f} ms CPU per MB  ({got['docs']} docs, {got['mb']:.1f} MB, "
              f"best of {args.reps})  digest {got['digest']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

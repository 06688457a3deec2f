#!/usr/bin/env python3
"""What the speed target leaves per megabyte, against the cheapest form of the steps every
document has to go through.

Issue 5 asks for 25 MB/s end to end on this 2-core machine: 2 CPU-seconds per 25 MB, so
80 ms of CPU per MB for everything (reading, ftfy, rules, furniture, templates, MinHash,
LSH, writing). This script measures, on one core, a lower bound for a few of those steps,
each in the cheapest form that still does the step's work, with no per-line Python where
a single C call can do it:

* read: read the bytes, decode UTF-8, split lines;
* ftfy: cleaner's gated ``fix_text`` (a C-speed test, ftfy only where a text can need it);
* tokenise: one ``\\w+`` ``findall`` per document (the furniture classifier's stopword
  density and every word count need the words);
* rules: each *distinct* line (as if every repeat were memoised for free) tested once,
  two ways: against one alternation of every whole-line rule, compiled with the stdlib
  ``re`` and without a timeout; and with cleaner's native matcher (every rule in one lazy
  DFA, linear time, one call per line here). The cheaper counts;
* minhash: one signature per document with cleaner's native core (cleaner also signs
  each passage, which costs more).

Then it times cleaner's own first pass (``stages.clean``, one process) on the same
documents, and dedup's per-document work as the pipeline does it (``dedup.features``: the
passages, the prose, their folds, shingles, signatures and exact keys), whose share of the
whole is what the native core's MinHash port moved. The floor's sum is what no
implementation in CPython with these libraries gets under; the budget line shows what the
target allows.

    python bench/budget.py [--mb 20] [--raw DIR] [--target 25] [--cores 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))  # this repository's cleaner, not an installed one

from speed import build_text_corpus  # noqa: E402

from cleaner.clean import rules  # noqa: E402
from cleaner.clean.normalise import collapse, fix_text, normalise_text  # noqa: E402
from cleaner.clean.stages import CleanSettings, clean  # noqa: E402
from cleaner.dedup import minhash  # noqa: E402
from cleaner.dedup.features import features  # noqa: E402
from cleaner.dedup.settings import DedupSettings  # noqa: E402
from cleaner.sources import readers as sources  # noqa: E402


def _best(fn, reps: int = 2) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(reps):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=20.0, help="corpus size to build (default 20)")
    ap.add_argument("--raw", type=Path, help="measure this scrape folder instead of building one")
    ap.add_argument("--target", type=float, default=25.0, help="target MB/s end to end (default 25)")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="cores the target assumes")
    ap.add_argument("--minhash-only", action="store_true",
                    help="only the MinHash rows (minhash, dedup features): quick, to compare two builds")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="cleaner-budget-") as tmp:
        raw = args.raw
        if raw is None:
            raw = Path(tmp) / "raw"
            build_text_corpus(raw, args.mb)
        items = [it for it in sources.walk(raw, []) if it.kind == "text"]
        blobs = [(raw / it.rel).read_bytes() for it in items]
    mb = sum(map(len, blobs)) / 1e6

    texts: list[str] = []

    def read() -> None:
        texts.clear()
        for b in blobs:
            t = b.decode("utf-8")
            t.splitlines()
            texts.append(t)

    fixed: list[str] = []

    def ftfy_step() -> None:
        fixed[:] = [fix_text(t) for t in texts]

    word = re.compile(r"\w+")

    def tokenise() -> None:
        for t in fixed:
            word.findall(t)

    settings = CleanSettings()
    settings.prepare()
    ruleset = settings.ruleset()
    whole = [r for r in ruleset.rules if r.kind != "inline"]
    combined = re.compile("|".join(f"(?{'' if r.case_sensitive else 'i'}:{r.pattern})" for r in whole))
    distinct: set[str] = set()

    def rules_step() -> None:
        if not distinct:  # the lines as the rules see them (set up once, not timed twice)
            distinct.update(ln for t in fixed for ln in (collapse(x) for x in normalise_text(t).split("\n"))
                            if ln and len(ln) <= rules.MAX_RULE_LINE)
        fm = combined.fullmatch
        for ln in distinct:
            fm(ln)

    def rules_prefiltered() -> None:
        hits = ruleset._line_hits
        for ln in distinct:
            hits(ln)

    def minhash_step() -> None:
        minhash.signatures([h for h in minhash.shingle_hashes_many(fixed) if len(h)])

    docs = [d for it in items for d in sources.read(it, sources.MAX_BYTES)]
    dedup_settings = DedupSettings()

    def dedup_features() -> None:
        for t in fixed:
            features(t, dedup_settings)

    def cleaner_pass1() -> None:
        for d in docs:  # clean() edits its document: each timing gets fresh copies
            clean(dataclasses.replace(d, removed=Counter(), flags=[]), settings)

    steps = [("read (decode, split lines)", read), ("ftfy (gated fix_text)", ftfy_step),
             ("tokenise (one findall per document)", tokenise),
             ("rules (distinct lines, one re alternation)", rules_step),
             ("rules (distinct lines, cleaner's native matcher)", rules_prefiltered),
             ("minhash (one signature per document)", minhash_step)]
    budget = args.cores / args.target * 1000
    print(f"{len(blobs):,} documents, {mb:.1f} MB; target {args.target:g} MB/s on {args.cores} cores "
          f"= {budget:.0f} ms of CPU per MB for the whole run")
    cost: dict[str, float] = {}
    if args.minhash_only:
        read()
        ftfy_step()
        steps = [s for s in steps if s[0].startswith("minhash")]
    for name, fn in steps:
        fn()  # warm: compiled patterns, first-call numpy costs
        cost[name] = _best(fn) / mb * 1000
        print(f"  {name:58s} {cost[name]:7.1f} ms/MB")
    if args.minhash_only:
        dedup_features()  # warm
        ms = _best(dedup_features) / mb * 1000
        print(f"  {'dedup features (passages, prose, shingles, signatures, keys)':58s} {ms:7.1f} ms/MB  "
              f"({ms / budget:.2f}x the budget)")
        return 0
    # the two forms of the rules step are alternatives: the cheaper one counts
    total = sum(ms for name, ms in cost.items() if not name.startswith("rules")) + \
        min(ms for name, ms in cost.items() if name.startswith("rules"))
    print(f"  {'floor, sum of the above':58s} {total:7.1f} ms/MB  ({total / budget:.2f}x the budget)")
    ms = _best(cleaner_pass1, reps=1) / mb * 1000
    print(f"  {'cleaner pass 1 (read excluded: normalise, rules, furniture)':58s} {ms:7.1f} ms/MB  "
          f"({ms / budget:.2f}x the budget)")
    dedup_features()  # warm
    ms = _best(dedup_features) / mb * 1000
    print(f"  {'dedup features (passages, prose, shingles, signatures, keys)':58s} {ms:7.1f} ms/MB  "
          f"({ms / budget:.2f}x the budget)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

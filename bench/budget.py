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
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from speed import best_cpu, build_text_corpus  # noqa: E402


def _use(root: Path) -> None:
    """Import cleaner from checkout ``root`` (this repository's, or the one compared)."""
    sys.path.insert(0, str(root))


# The stages of cleaner's own pipeline, timed inside one whole `cleaner clean` run (one
# worker, in-process, so one clock sees all the CPU). Each row is the exclusive CPU time of
# the functions named (what they call that is a row of its own is not counted twice); a
# name a checkout does not have is skipped and its time falls to the row of its caller.
# (row, module, attribute, generator?) -- "Class.method" patches a method.
PROBES = [
    ("read/decode", "cleaner.sources.readers", "read", True),
    # normalisation moved into pass 1's core call: what is left in Python is ftfy and NFC, for
    # the texts the core's gate says need them (finish_normalising)
    ("normalise + ftfy gate (newer: its ftfy and NFC part alone)", "cleaner.clean.stages", "normalise_text", False),
    ("normalise + ftfy gate (newer: its ftfy and NFC part alone)", "cleaner.clean.stages", "finish_normalising",
     False),
    ("rules", "cleaner.clean.rules", "RuleSet.apply", False),
    ("furniture", "cleaner.clean.furniture", "furniture", False),
    # rules, furniture, the document's text, header, counts and line keys in one call to the
    # core, and (newer checkouts) the normalisation before them
    ("rules + furniture + assembly (one core call; newer: + normalise)", "cleaner.clean.stages",
     "core.assemble_page", False),
    ("rules + furniture + assembly (one core call; newer: + normalise)", "cleaner.clean.stages",
     "core.normalise_assemble_page", False),
    ("pass 1 rest (clean() bookkeeping, pickling, spool, line counts)", "cleaner.steps", "ReadClean.run", False),
    ("template line keys", "cleaner.steps", "key_lines", False),  # (older checkouts: now in the core call)
    ("template line keys", "cleaner.steps", "doc_keys", False),
    ("templates (removal)", "cleaner.steps", "remove_templates", False),
    ("dedup features (prose, passages, sketches)", "cleaner.dedup.features", "features", False),
    # (newer checkouts' pass 2 calls this part of features() alone: the columns' bytes)
    ("dedup features (prose, passages, sketches)", "cleaner.dedup.features", "feature_columns", False),
    # (newer still: the columns and the text's word count, which the document pickles)
    ("dedup features (prose, passages, sketches)", "cleaner.dedup.features", "counted_feature_columns", False),
    ("pass 2 rest (pickling, spool, statistics, finder.add)", "cleaner.steps", "Templates.run", False),
    ("LSH / clusters (driver)", "cleaner.dedup.finder", "Finder.finish", False),
    ("LSH / clusters (driver)", "cleaner.steps", "Dedup.run", False),
    ("write (and passages cut, duplicates.json)", "cleaner.steps", "Write.run", False),
]
ROWS = list(dict.fromkeys(r for r, *_ in PROBES))
#: Probes of functions only older checkouts have (what pass 1's one core call replaced), or
#: only newer ones: not reported missing when a checkout does not have them.
OLDER = {("cleaner.dedup.features", "counted_feature_columns"),
         ("cleaner.steps", "key_lines"), ("cleaner.steps", "doc_keys"), ("cleaner.clean.stages", "normalise_text"),
         ("cleaner.clean.stages", "finish_normalising"), ("cleaner.clean.stages", "core.normalise_assemble_page")}
STARTUP = "start-up (process start to the first document)"
OTHER = "other (listing, summary, report)"


class _Clock:
    """Exclusive CPU time per row: a frame's time less the time of the frames inside it."""

    def __init__(self) -> None:
        self.acc: dict[str, float] = defaultdict(float)
        self.stack: list[list[Any]] = []  # [row, start, time of the frames inside]

    def enter(self, row: str) -> None:
        self.stack.append([row, time.process_time(), 0.0])

    def leave(self) -> None:
        row, start, inner = self.stack.pop()
        spent = time.process_time() - start
        self.acc[row] += spent - inner
        if self.stack:
            self.stack[-1][2] += spent

    def restart(self) -> None:
        """Forget what was counted: the frames open now start here."""
        now = time.process_time()
        self.acc.clear()
        for frame in self.stack:
            frame[1], frame[2] = now, 0.0


def _timed(clock: _Clock, row: str, fn: Callable[..., Any], gen: bool) -> Callable[..., Any]:
    if gen:  # a generator's work happens in next(), between its caller's own work
        @functools.wraps(fn)
        def each(*a: Any, **k: Any) -> Iterator[Any]:
            it = iter(fn(*a, **k))
            while True:
                clock.enter(row)
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    clock.leave()
                yield item
        return each

    @functools.wraps(fn)
    def call(*a: Any, **k: Any) -> Any:
        clock.enter(row)
        try:
            return fn(*a, **k)
        finally:
            clock.leave()
    return call


def probe(raw: Path, out: Path) -> dict[str, Any]:
    """One `cleaner clean RAW -o OUT --workers 1` in this process, its CPU split by row."""
    from startup import on_import  # patches each module as the CLI imports it, in the CLI's order

    clock = _Clock()
    missing: list[str] = []
    first: dict[str, float] = {}

    def first_call(fn: Callable[..., Any]) -> Callable[..., Any]:
        # start-up: the CPU (and wall time since launch) before the first document is cleaned
        @functools.wraps(fn)
        def call(*a: Any, **k: Any) -> Any:
            if not first:
                first["cpu"] = time.process_time()
                first["wall"] = time.time() - float(os.environ.get("BUDGET_LAUNCH", time.time()))
                clock.restart()
            return fn(*a, **k)
        return call

    def patch(module: str) -> Callable[[Any], None]:
        def apply(mod: Any) -> None:
            for _row, name_, attr, gen in PROBES:
                if name_ != module:
                    continue
                owner, _, name = attr.rpartition(".")
                holder = getattr(mod, owner, None) if owner else mod
                if holder is None or not hasattr(holder, name):
                    if (module, attr) not in OLDER:
                        missing.append(f"{module}.{attr}")
                    continue
                setattr(holder, name, _timed(clock, _row, getattr(holder, name), gen))
            if module in ("cleaner.clean.stages", "cleaner.steps"):  # (steps imported the names)
                for name in ("clean", "clean_keys"):  # pass 1's entry: clean_keys where a checkout has it
                    if hasattr(mod, name):
                        setattr(mod, name, first_call(getattr(mod, name)))
        return apply

    on_import({m: patch(m) for m in dict.fromkeys([m for _, m, _, _ in PROBES] + ["cleaner.clean.stages"])})
    from cleaner.cli import main as cli

    try:
        cli(args=["clean", str(raw), "-o", str(out), "-q", "--no-progress", "--workers", "1"],
            prog_name="cleaner", standalone_mode=False)
    except SystemExit as exc:
        if exc.code not in (0, 1, None):
            raise
    total = time.process_time()
    rows = {row: clock.acc.get(row, 0.0) for row in ROWS}
    rows[STARTUP] = first.get("cpu", 0.0)
    rows[OTHER] = total - sum(rows.values())
    return {"rows": rows, "total": total, "startup_wall": first.get("wall", 0.0), "missing": missing}


def stage_table(raw: Path, args: argparse.Namespace) -> None:
    """The stage table of this checkout (and of ``--compare``), each run in its own process,
    alternately, best of ``--reps`` per row."""
    mb = sum(p.stat().st_size for p in raw.rglob("*.txt")) / 1e6
    roots = [("this", ROOT)] + ([("compare", args.compare.resolve())] if args.compare else [])
    best: dict[str, dict[str, float]] = {}
    info: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="cleaner-budget-out-") as tmp:
        for rep in range(args.reps):
            for label, root in roots:
                env = dict(os.environ, BUDGET_LAUNCH=repr(time.time()), PYTHONPATH=str(root))
                done = subprocess.run([sys.executable, __file__, "--probe", str(raw), str(root),
                                       str(Path(tmp) / f"{label}{rep}")], env=env, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"budget: the probe of {root} failed:\n{done.stderr[-3000:]}")
                got = json.loads(done.stdout.strip().splitlines()[-1])
                rows = best.setdefault(label, {})
                for row, secs in got["rows"].items():
                    rows[row] = min(rows.get(row, float("inf")), secs)
                prev = info.get(label)
                if prev is None or got["total"] < prev["total"]:
                    info[label] = got
    head = f"  {'stage (' + f'{mb:.1f} MB, one worker, CPU ms per MB' + ')':64s}"
    if args.compare:
        print(f"\ncleaner's stages, this checkout ({ROOT}) against {args.compare}:")
        print(f"{head} {'compare':>9s} {'this':>9s} {'ratio':>7s}")
    else:
        print(f"\ncleaner's stages, this checkout ({ROOT}):")
        print(f"{head} {'this':>9s}")
    for row in [STARTUP, *ROWS, OTHER, "total"]:
        vals = []
        for label, _ in roots[::-1]:
            secs = info[label]["total"] if row == "total" else best[label][row]
            vals.append(secs / mb * 1000)
        cells = " ".join(f"{v:9.1f}" for v in vals)
        ratio = f" {vals[0] / vals[1]:6.1f}x" if len(vals) == 2 and vals[1] > 0 else ""
        print(f"  {row:64s} {cells}{ratio}")
    for label, _root in roots[::-1]:
        got = info[label]
        print(f"  {label}: start-up {got['rows'][STARTUP] * 1000:.0f} ms of CPU, "
              f"{got['startup_wall'] * 1000:.0f} ms wall from launch to the first document; "
              f"whole run {got['total']:.1f} s of CPU"
              + (f"; not in this checkout (counted in their callers' rows): {', '.join(got['missing'])}"
                 if got["missing"] else ""))
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: CPU time, not wall, is "
          f"compared, but a loaded machine still slows CPU-bound code through shared caches)")


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--probe":  # a child of stage_table: one checkout's run
        _use(Path(sys.argv[3]))
        print(json.dumps(probe(Path(sys.argv[2]), Path(sys.argv[4]))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=20.0, help="corpus size to build (default 20)")
    ap.add_argument("--raw", type=Path, help="measure this scrape folder instead of building one")
    ap.add_argument("--target", type=float, default=25.0, help="target MB/s end to end (default 25)")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="cores the target assumes")
    ap.add_argument("--compare", type=Path, metavar="CHECKOUT",
                    help="another checkout of cleaner (its cleaner/ with its built _native), whose stages are "
                         "timed in the same run on the same corpus: before/after")
    ap.add_argument("--reps", type=int, default=1, help="runs of each checkout's stages, alternately; best per row")
    ap.add_argument("--no-floor", action="store_true", help="only cleaner's stages, not the floor of cheap steps")
    ap.add_argument("--minhash-only", action="store_true",
                    help="only the MinHash rows (minhash, dedup features): quick, to compare two builds")
    args = ap.parse_args()
    _use(ROOT)
    with tempfile.TemporaryDirectory(prefix="cleaner-budget-") as tmp:
        raw = args.raw
        if raw is None:
            raw = Path(tmp) / "raw"
            build_text_corpus(raw, args.mb)
        if not args.no_floor:
            floor(raw, args)
        if not args.minhash_only:
            stage_table(raw, args)
    return 0


def floor(raw: Path, args: argparse.Namespace) -> None:
    """The cheapest form of a few steps, on one core, against the budget; then cleaner's own
    pass 1 and dedup features timed the same way."""
    from cleaner.clean import rules
    from cleaner.clean.normalise import collapse, fix_text, normalise_text
    from cleaner.clean.stages import CleanSettings, clean
    from cleaner.dedup import minhash
    from cleaner.dedup.features import features
    from cleaner.dedup.settings import DedupSettings
    from cleaner.sources import readers as sources

    items = [it for it in sources.walk(raw, []) if it.kind == "text"]
    blobs = [(raw / it.rel).read_bytes() for it in items]
    # read while the corpus exists: read after its folder was gone (as this script did),
    # every document was an error that clean() returns at once, and pass 1 measured 1 ms/MB
    docs = [d for it in items for d in sources.read(it, sources.MAX_BYTES)]
    bad = sum(d.status != "kept" for d in docs)
    if bad:
        raise SystemExit(f"budget: {bad} of {len(docs)} documents could not be read")
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
        cost[name] = best_cpu(fn) / mb * 1000
        print(f"  {name:58s} {cost[name]:7.1f} ms/MB")
    if args.minhash_only:
        dedup_features()  # warm
        ms = best_cpu(dedup_features) / mb * 1000
        print(f"  {'dedup features (passages, prose, shingles, signatures, keys)':58s} {ms:7.1f} ms/MB  "
              f"({ms / budget:.2f}x the budget)")
        return
    # the two forms of the rules step are alternatives: the cheaper one counts
    total = sum(ms for name, ms in cost.items() if not name.startswith("rules")) + \
        min(ms for name, ms in cost.items() if name.startswith("rules"))
    print(f"  {'floor, sum of the above':58s} {total:7.1f} ms/MB  ({total / budget:.2f}x the budget)")
    ms = best_cpu(cleaner_pass1, reps=1) / mb * 1000
    print(f"  {'cleaner pass 1 (read excluded: normalise, rules, furniture)':58s} {ms:7.1f} ms/MB  "
          f"({ms / budget:.2f}x the budget)")
    dedup_features()  # warm
    ms = best_cpu(dedup_features) / mb * 1000
    print(f"  {'dedup features (passages, prose, shingles, signatures, keys)':58s} {ms:7.1f} ms/MB  "
          f"({ms / budget:.2f}x the budget)")


if __name__ == "__main__":
    raise SystemExit(main())

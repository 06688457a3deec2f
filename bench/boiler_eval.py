#!/usr/bin/env python3
"""Main-text quality on the labelled boilerplate pages in ../shared/bench/boiler.

For each set it cleans (a) the plain-text rendering of every dev page (``<id>.raw.txt``)
and (b) the page's HTML, with cleaner's default settings, and scores both with the scorer
shipped beside the data (bag-of-words P/R/F1, macro-averaged), next to the keep-all and
trafilatura baselines computed in the same run.

Beside F1 it prints **pages lost**, with the definition of the bench's ``lost.py``: a page
counts (``n``) when the raw page holds its gold text (gold recall of the raw page >= 0.9),
and is lost when the prediction keeps less than half of the gold words (recall < 0.5).
F1 is an average and hides a page whose article was cut away next to many pages that
gained a little precision; the lost count shows it. The last row sums the lost pages over
all sets (``--lost-ids`` names them).

    python bench/boiler_eval.py [--bench ../shared/bench] [--sets aeb cleaneval ...] [--no-html]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cleaner.clean.normalise import decode  # noqa: E402
from cleaner.clean.stages import CleanSettings, clean  # noqa: E402
from cleaner.document import Document  # noqa: E402

LOST_RECALL = 0.5  # lost.py: the prediction keeps under half of the gold words ...
RAW_RECALL = 0.9  # ... of a page whose raw text holds at least 90% of them


def load_scorer(bench: Path):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(bench))
    import boiler  # type: ignore[import-not-found]

    return boiler


def run(text: str, kind: str, settings: CleanSettings) -> str:
    doc = clean(Document(path="x", kind=kind, text=text), settings)
    return doc.text


def mean_f1(rows: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    ps, rs, fs = zip(*rows, strict=True)
    return statistics.mean(ps), statistics.mean(rs), statistics.mean(fs)


def evaluate(boiler, set_dir: Path, ids: list[str], predict: Callable[[str], str],  # type: ignore[no-untyped-def]
             raw: Callable[[str], str]) -> tuple[list[tuple[float, float, float]], int, list[str]]:
    """Per-page (P, R, F1) for the pages with gold text, the number of pages the lost
    measure counts, and the ids of the lost ones (as ``lost.py`` decides)."""
    rows, counted, lost = [], 0, []
    for i in ids:
        gold = boiler.read(str(set_dir / f"{i}.gold.txt"))
        r = boiler.prf(predict(i), gold)
        if not r:
            continue
        rows.append(r)
        held = boiler.prf(raw(i), gold)
        if held and held[1] >= RAW_RECALL:
            counted += 1
            if r[1] < LOST_RECALL:
                lost.append(i)
    return rows, counted, lost


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "bench")
    ap.add_argument("--sets", nargs="*", default=["aeb", "cleaneval", "readability", "htmltotext"])
    ap.add_argument("--no-html", action="store_true", help="skip the HTML runs (slow part)")
    ap.add_argument("--no-baselines", action="store_true", help="only cleaner, no keep-all or trafilatura")
    ap.add_argument("--lost-ids", action="store_true", help="name the lost pages of each row")
    args = ap.parse_args()
    boiler = load_scorer(args.bench)
    settings = CleanSettings()

    print(f"{'set':<12} {'input':<6} {'method':<12} {'pages':>5} {'P':>6} {'R':>6} {'F1':>6} {'lost':>11}")
    totals: dict[tuple[str, str], list[int]] = {}
    for name in args.sets:
        set_dir = args.bench / "boiler" / name
        ids = boiler.ids_of(str(set_dir), "dev")

        def read(i: str, suffix: str, set_dir: Path = set_dir) -> str:
            # as cleaner reads them: an HTML page's declared charset counts
            return decode((set_dir / f"{i}{suffix}").read_bytes(), html=suffix == ".html")[0]

        def raw(i: str, set_dir: Path = set_dir) -> str:  # as lost.py reads the raw page
            return boiler.read(str(set_dir / f"{i}.raw.txt"))

        methods: dict[tuple[str, str], Callable[[str], str]] = {}
        if not args.no_baselines:
            methods[("text", "keep-all")] = lambda i: read(i, ".raw.txt")
        methods[("text", "cleaner")] = lambda i: run(read(i, ".raw.txt"), "text", settings)
        if not args.no_html:
            if not args.no_baselines:
                import trafilatura

                methods[("html", "trafilatura")] = lambda i: trafilatura.extract(read(i, ".html")) or ""
            methods[("html", "cleaner")] = lambda i: run(read(i, ".html"), "html", settings)
        for (inp, method), predict in methods.items():
            rows, counted, lost = evaluate(boiler, set_dir, ids, predict, raw)
            p, r, f = mean_f1(rows)
            total = totals.setdefault((inp, method), [0, 0])
            total[0] += len(lost)
            total[1] += counted
            share = f"{len(lost)}/{counted}"
            print(f"{name:<12} {inp:<6} {method:<12} {len(rows):>5} {p:6.3f} {r:6.3f} {f:6.3f} {share:>11}"
                  + (f"  {' '.join(lost)}" if args.lost_ids and lost else ""), flush=True)
    for (inp, method), (lost_n, counted) in totals.items():
        share = f"{lost_n}/{counted}"
        print(f"{'all':<12} {inp:<6} {method:<12} {'':>5} {'':>6} {'':>6} {'':>6} {share:>11}"
              f" ({100 * lost_n / max(1, counted):.1f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

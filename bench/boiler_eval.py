#!/usr/bin/env python3
"""Main-text quality on the labelled boilerplate pages in ../shared/bench/boiler.

For each set it cleans (a) the plain-text rendering of every dev page (``<id>.raw.txt``)
and (b) the page's HTML, with cleaner's default settings, and scores both with the scorer
shipped beside the data (bag-of-words P/R/F1, macro-averaged), next to the keep-all and
trafilatura baselines computed in the same run.

    python bench/boiler_eval.py [--bench ../shared/bench] [--sets aeb cleaneval ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cleaner.document import Document  # noqa: E402
from cleaner.normalise import decode  # noqa: E402
from cleaner.stages import CleanSettings, clean  # noqa: E402


def load_scorer(bench: Path):
    sys.path.insert(0, str(bench))
    import boiler  # type: ignore[import-not-found]

    return boiler


def run(text: str, kind: str, settings: CleanSettings) -> str:
    doc = clean(Document(path="x", kind=kind, text=text), settings)
    return doc.text


def mean_f1(rows: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    ps, rs, fs = zip(*rows, strict=True)
    return statistics.mean(ps), statistics.mean(rs), statistics.mean(fs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "bench")
    ap.add_argument("--sets", nargs="*", default=["aeb", "cleaneval", "readability", "htmltotext"])
    ap.add_argument("--no-html", action="store_true", help="skip the HTML runs (slow part)")
    args = ap.parse_args()
    boiler = load_scorer(args.bench)
    settings = CleanSettings()
    import trafilatura

    print(f"{'set':<12} {'input':<6} {'method':<12} {'pages':>5} {'P':>6} {'R':>6} {'F1':>6}")
    for name in args.sets:
        set_dir = args.bench / "boiler" / name
        ids = boiler.ids_of(str(set_dir), "dev")

        def read(i: str, suffix: str, set_dir: Path = set_dir) -> str:
            # as cleaner reads them: an HTML page's declared charset counts
            return decode((set_dir / f"{i}{suffix}").read_bytes(), html=suffix == ".html")[0]

        methods = {
            ("text", "keep-all"): lambda i: read(i, ".raw.txt"),
            ("text", "cleaner"): lambda i: run(read(i, ".raw.txt"), "text", settings),
        }
        if not args.no_html:
            methods[("html", "trafilatura")] = lambda i: trafilatura.extract(read(i, ".html")) or ""
            methods[("html", "cleaner")] = lambda i: run(read(i, ".html"), "html", settings)
        for (inp, method), predict in methods.items():
            rows = boiler.score(str(set_dir), "dev", predict)
            p, r, f = mean_f1(rows)
            print(f"{name:<12} {inp:<6} {method:<12} {len(rows):>5} {p:6.3f} {r:6.3f} {f:6.3f}", flush=True)
        del ids
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""CPU per MB of three core kernels alone, on their inputs as the pipeline hands them over:
``normalise_text`` (normalisation and the ftfy gate), template ``line_keys`` and dedup
``features`` (prose, passages, shingles, signatures, exact keys).

The inputs are recorded once from a whole ``cleaner clean RAW --workers 1`` run of this
checkout (the arguments of every call of the three functions, kept in a pickle under
``--cache``), then each checkout times each kernel over all of them in a subprocess of its
own, best of ``--reps`` passes, and prints a digest of the results: two checkouts must give
the same digest (the kernels' outputs reach the persistent index, so only speed may change).
The figure per kernel is CPU ms per MB of the raw corpus, the unit of ``bench/budget.py``'s
rows, and the kernel's own throughput in MB/s of its input.

    python bench/feature_kernels.py --raw DIR [--reps 5] [--compare CHECKOUT] [--only NAME]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ("normalise", "line_keys", "features")


def _record(raw: Path, dest: Path) -> None:
    """One pipeline run in this process (cleaner from ``sys.path``), keeping the inputs."""
    from speed import clean_in_process  # bench/, on sys.path as this script's folder

    import cleaner.clean.furniture as furniture
    import cleaner.clean.stages as stages
    import cleaner.dedup.features as features

    got: dict[str, list[Any]] = {k: [] for k in KERNELS}
    # Dedup features are recorded where every caller reaches them: pass 2 calls
    # counted_feature_columns (the bytes it sends on and the word count), and
    # feature_columns and features() call it too; an older checkout is recorded at
    # feature_columns, or older still at features().
    feats_name = next(n for n in ("counted_feature_columns", "feature_columns", "features") if hasattr(features, n))
    keys, feats, core = furniture.line_keys, getattr(features, feats_name), stages.core

    class Core:
        """``stages.core``, recording the texts pass 1 normalises: in the core call that
        assembles the page too, so it is recorded there."""

        def __getattr__(self, name: str) -> Any:
            return getattr(core, name)

        @staticmethod
        def normalise_assemble_page(normaliser: Any, text: str, *a: Any, **k: Any) -> Any:
            got["normalise"].append(text)
            return core.normalise_assemble_page(normaliser, text, *a, **k)

    def line_keys(lines: Any) -> list[int]:
        lines = list(lines)
        got["line_keys"].append(lines)
        return keys(lines)

    def features_(text: str, s: Any) -> Any:
        got["features"].append(text)
        return feats(text, s)

    stages.core, furniture.line_keys = Core(), line_keys
    setattr(features, feats_name, features_)
    clean_in_process(raw, "cleaner-kernels-")
    mb = sum(p.stat().st_size for p in raw.rglob("*") if p.is_file()) / 1e6
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps({"mb": mb, **got}, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(dest)


def _size(kernel: str, args: list[Any]) -> float:
    """MB of UTF-8 the kernel reads."""
    def n(s: str) -> int:
        return len(s.encode("utf-8", "surrogatepass"))
    if kernel == "line_keys":
        return sum(n(ln) + 1 for lines in args for ln in lines) / 1e6
    return sum(n(t) for t in args) / 1e6


def _measure(cache: Path, reps: int, only: list[str]) -> dict[str, Any]:
    """In this process (cleaner imported from ``sys.path``): time each kernel over its inputs."""
    from cleaner.clean.furniture import line_keys
    from cleaner.clean.normalise import normalise_text
    from cleaner.dedup.features import features
    from cleaner.dedup.settings import DedupSettings

    data = pickle.loads(cache.read_bytes())
    s = DedupSettings()
    run = {
        "normalise": lambda xs: [normalise_text(t) for t in xs],
        "line_keys": lambda xs: [line_keys(lines) for lines in xs],
        "features": lambda xs: [features(t, s) for t in xs],
    }
    out: dict[str, Any] = {"mb": data["mb"]}
    for k in only:
        xs = data[k]
        res = run[k](xs)  # warm, and the results for the digest
        h = hashlib.sha256()
        for r in res:
            if k == "features":
                r = pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)
            h.update(r if isinstance(r, bytes) else repr(r).encode("utf-8", "surrogatepass"))
        best = float("inf")
        for _ in range(reps):
            t = time.process_time()
            run[k](xs)
            best = min(best, time.process_time() - t)
        out[k] = {"calls": len(xs), "cpu": best, "input_mb": _size(k, xs), "digest": h.hexdigest()[:16]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw", type=Path, default=Path("/tmp/cleaner-bench-thjm2frw/raw"),
                    help="a raw directory (default: the shared 20 MB generated crawl)")
    ap.add_argument("--reps", type=int, default=5, help="passes per kernel; the best counts")
    ap.add_argument("--compare", type=Path, help="another checkout, measured the same way in a subprocess")
    ap.add_argument("--only", choices=KERNELS, action="append", help="time only this kernel (repeatable)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "cleaner-feature-kernels.pickle",
                    help="where the recorded inputs are kept (recorded when missing)")
    ap.add_argument("--record", action="store_true", help="record the inputs again")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # a subprocess' answer
    args = ap.parse_args()
    only = args.only or list(KERNELS)
    if args.json:
        print(json.dumps(_measure(args.cache, args.reps, only)))
        return
    if args.record or not args.cache.exists():
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                        "from feature_kernels import _record; from pathlib import Path; "
                        "_record(Path(sys.argv[2]), Path(sys.argv[3]))",
                        str(ROOT / "bench"), str(args.raw), str(args.cache)], env=env, check=True)
    roots = [("this", ROOT)] + ([("compare", args.compare.resolve())] if args.compare else [])
    rows = []
    for name, root in roots:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--cache", str(args.cache), "--reps", str(args.reps),
               "--json", *(a for k in only for a in ("--only", k))]
        env = dict(os.environ, PYTHONPATH=str(root))
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"feature_kernels: {root} failed:\n{done.stderr[-3000:]}")
        rows.append((name, root, json.loads(done.stdout.strip().splitlines()[-1])))
    mb = rows[0][2]["mb"]
    print(f"{mb:.1f} MB raw; CPU per MB of raw input, best of {args.reps}; kernel throughput in MB/s of its input")
    for k in only:
        for name, root, r in rows:
            x = r[k]
            print(f"  {k:10s} {name:8s} {x['cpu'] * 1000 / mb:7.2f} ms/MB  {x['input_mb'] / x['cpu']:7.1f} MB/s  "
                  f"{x['calls']:6d} calls  {x['digest']}  {root}")
        if len(rows) == 2:
            a, b = rows[1][2][k], rows[0][2][k]
            same = "same results" if a["digest"] == b["digest"] else "RESULTS DIFFER"
            print(f"  {k:10s} ratio    {a['cpu'] / b['cpu']:.2f}x faster  ({same})")
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()

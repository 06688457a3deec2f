#!/usr/bin/env python3
"""The CPU and wall time of the write step alone (``cleaner.steps.Write``: duplicates marked
and passages cut as the documents stream from the spool, the over-cleaned flag, the clean
files, the manifest, duplicates.json), repeated on one run's state.

The pipeline runs once in this process (``--workers`` workers for the passes before), up to
the dedup step; then the write step runs ``--reps`` times on the same final spool and dedup
result, each time into a fresh staging folder, and the script prints the CPU (driver) and
wall seconds of each and the best, per MB of input: ``cpu`` is the process's (the core's
writer threads creating the clean files included, most of it in the kernel), ``main`` the
main thread's alone (the driver's Python, what the write step costs it). ``--profile`` adds
a cProfile of the last repetition (its top functions by the main thread's own CPU). Run it
from two checkouts on the same corpus to compare them: the write step is serial in the driver, so its CPU is its cost.

Each repetition's files are removed only after the last one: on ext4 without a journal
(this development machine's) a new inode is not taken from those freed in the last minute
(six while their inode table block is dirty), and the allocator checks every such free
inode it passes, so a repetition right after the removal of the one before paid for it
(measured: 0.7 s of system time, then 12.9 s). Files removed by other processes in that
time cost the same: compare checkouts in alternating order.

    python bench/write_step.py RAW [--workers 2] [--reps 3] [--profile] [--passages drop]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("raw", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--passages", default=None, help="flag | drop (the clean command's --passages; default flag)")
    ap.add_argument("--checkout", type=Path, default=ROOT,
                    help="the checkout of cleaner to time (default: this one), e.g. a baseline")
    args = ap.parse_args()
    sys.path.insert(0, str(args.checkout.resolve()))

    import numpy as np

    from cleaner import pipeline, steps
    from cleaner.cli import main as cli
    from cleaner.outputs.writers import Staging

    timings: list[tuple[float, float, float, float, float]] = []
    profile_text = ""

    class Stash(steps.Dedup):
        def run(self, state: steps.RunState) -> None:
            state.final_spool = state.docs  # type: ignore[attr-defined]
            super().run(state)

    class RepeatedWrite(steps.Write):
        def run(self, state: steps.RunState) -> None:
            nonlocal profile_text
            spool, result, staging = state.final_spool, state.dedup_result, state.staging  # type: ignore[attr-defined]
            done: list[Staging] = []  # removed after the last rep (see the module's docs)
            with tempfile.TemporaryDirectory(prefix="cleaner-write-bench-") as tmp:
                try:  # every repetition's folder removed, even when one raised
                    for rep in range(args.reps):
                        if rep:  # the same documents again, into a fresh staging folder
                            state.manifest_fh.close()
                            state.staging = Staging(Path(tmp) / f"out{rep}")
                            done.append(state.staging)
                            if result is not None:
                                pc = result.passages
                                pc._written = 0
                                pc.text_at[:] = -1
                                pc.text_len[:] = 0
                                state.docs = result.apply(iter(spool))
                            else:
                                state.docs = iter(spool)
                            state.texts = {}
                        self.stats = steps.StageStats()
                        prof = cProfile.Profile(time.thread_time) if args.profile and rep == args.reps - 1 else None
                        t0, w0, m0 = os.times(), time.perf_counter(), resource.getrusage(resource.RUSAGE_THREAD)
                        if prof is not None:
                            prof.enable()
                        super().run(state)
                        if prof is not None:
                            prof.disable()
                        t1, m1 = os.times(), resource.getrusage(resource.RUSAGE_THREAD)
                        timings.append((t1.user - t0.user, t1.system - t0.system, time.perf_counter() - w0,
                                        m1.ru_utime - m0.ru_utime, m1.ru_stime - m0.ru_stime))
                        if rep:
                            state.manifest_fh.close()
                        if prof is not None:
                            out = io.StringIO()
                            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(30)
                            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(30)
                            profile_text = out.getvalue()
                finally:
                    for staged in done:
                        staged.abandon()
            state.staging = staging
            state.manifest_fh = staging.open_text("manifest.jsonl") if staging is not None else None

    pipeline.default_steps = lambda: [steps.ReadClean(), steps.Templates(), Stash(), RepeatedWrite()]
    mb = sum(p.stat().st_size for p in args.raw.rglob("*") if p.is_file()) / 1e6
    with tempfile.TemporaryDirectory(prefix="cleaner-write-out-") as out:
        argv = ["clean", str(args.raw), "-o", out, "-q", "--no-progress", "--workers", str(args.workers)]
        if args.passages:
            argv += ["--passages", args.passages]
        try:
            cli(args=argv, prog_name="cleaner", standalone_mode=False)
        except SystemExit as exc:
            if exc.code not in (0, 1, None):
                raise
    user = np.array([t[0] for t in timings])
    system = np.array([t[1] for t in timings])
    wall = np.array([t[2] for t in timings])
    main_user = np.array([t[3] for t in timings])
    main_sys = np.array([t[4] for t in timings])
    print(f"write step, {args.checkout}, {mb:.1f} MB, {args.reps} reps")
    for label, secs in (("user s:", user), ("sys s:", system), ("cpu s:", user + system),
                        ("main usr:", main_user), ("main sys:", main_sys), ("main s:", main_user + main_sys)):
        print(f"  {label:9s}" + " ".join(f"{c:6.2f}" for c in secs) + f"   best {secs.min():.2f} s = "
              f"{secs.min() / mb * 1000:.1f} ms/MB")
    print("  wall s:   " + " ".join(f"{w:6.2f}" for w in wall) + f"   best {wall.min():.2f} s")
    if profile_text:
        print(profile_text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Start-up of ``cleaner clean``: what a run costs before its first document, and what a
whole run on a one-document folder costs, for this checkout and (``--compare``) another,
run alternately in one sitting, best and median of ``--reps``.

Each run is a fresh interpreter (``sys.executable -m cleaner``-equivalent: the CLI called
in-process by a small probe, which notes when the first document reaches ``clean()``, in
whichever process that is: the driver or a worker). Printed per checkout:

* first document: wall seconds from the launch of the process to the first ``clean()``, and
  the CPU seconds of the thread that got there (with ``--workers 1``, the driver's main
  thread: the start-up's critical path, which a loaded machine does not stretch);
* run: wall seconds from launch to the end of the process;
* driver CPU: user + system seconds of the driver process (its own threads; not the
  workers'), and tree CPU: the driver and all its workers;
* driver peak RSS (MiB);
* with ``--workers 1``, an estimate of the first document's wall time on two idle cores
  from CPU clocks (see :func:`critical_path`): on a shared machine wall time measures the
  load more than the code.

    python bench/startup.py [--reps 7] [--compare CHECKOUT] [--raw DIR] [--workers N] [--as-is]

Without ``--raw``, the folder holds one plain-text news page (``seeds/``' first). The
machine is shared: compare the two checkouts' figures from one sitting, not across runs.

Bytecode: an installed cleaner has its modules compiled (pip writes the ``.pyc`` files), a
checkout run with ``PYTHONDONTWRITEBYTECODE`` compiles every module at every start (a
tenth of a second and more). By default both checkouts are measured as installed: their
bytecode is written to a temporary ``PYTHONPYCACHEPREFIX`` by one run each that is not
counted (nothing is written into the checkouts). ``--as-is`` keeps the environment's
setting.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def on_import(patches: dict[str, Callable[[ModuleType], None]]) -> None:
    """Call ``patches[name](module)`` right after module ``name`` has run, when the code
    under test imports it (at once if it already has). A probe must not import cleaner's
    modules itself to patch them: the CLI's own order of imports is part of its start-up
    (it loads the rule set before it imports the cleaning stages, so that the core builds
    the matcher while the stages import)."""
    for name in [n for n in patches if n in sys.modules]:
        patches.pop(name)(sys.modules[name])

    class Patcher(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name not in patches:
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.loader is None:
                return spec
            run = spec.loader.exec_module

            def exec_module(module: ModuleType) -> None:
                run(module)
                patches[name](module)

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]
            return spec

    sys.meta_path.insert(0, Patcher())


def probe(raw: str, out: str, marks: str, workers: str) -> None:
    """One run in this process (a child of :func:`measure`), the first ``clean()`` noted."""
    launch = float(os.environ["STARTUP_LAUNCH"])
    seen: list[int] = []
    def first_call(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*a, **k):  # type: ignore[no-untyped-def]
            if not seen:  # once per process (a forked worker inherits the empty list)
                seen.append(os.getpid())
                with open(marks, "a") as fh:  # when, and the CPU of the thread that got there
                    fh.write(f"{time.time() - launch} {time.thread_time()} {os.getpid()}\n")
            return fn(*a, **k)
        return call

    def patch_stages(mod: ModuleType) -> None:
        # pass 1's entry, ``clean_keys`` where a checkout has it (steps imported the names)
        for name in ("clean", "clean_keys"):
            if hasattr(mod, name):
                setattr(mod, name, first_call(getattr(mod, name)))

    # the driver's CPU clocks (this thread's, and the process's) when the rule set is loaded
    # (the core's thread starts building the matcher), when the matcher is first asked
    # for, and when it is there: see critical_path
    clocks: dict[str, tuple[float, float]] = {}

    def patch_rules(rules: ModuleType) -> None:
        load, matcher = rules.RuleSet.load, rules.RuleSet.matcher

        def timed_load(*a: Any, **k: Any) -> Any:
            got = load(*a, **k)
            clocks.setdefault("loaded", (time.thread_time(), time.process_time()))
            return got

        def timed_matcher(self: Any) -> Any:
            clocks.setdefault("asked", (time.thread_time(), time.process_time()))
            got = matcher.fget(self)
            clocks.setdefault("built", (time.thread_time(), time.process_time()))
            return got

        rules.RuleSet.load, rules.RuleSet.matcher = staticmethod(timed_load), property(timed_matcher)

    on_import({"cleaner.clean.stages": patch_stages, "cleaner.steps": patch_stages, "cleaner.clean.rules": patch_rules})
    from cleaner.cli import main as cli

    args = ["clean", raw, "-o", out, "-q", "--no-progress"] + (["--workers", workers] if workers else [])
    try:
        cli(args=args, prog_name="cleaner", standalone_mode=False)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    me = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"driver_cpu": me.ru_utime + me.ru_stime, "driver_rss_kib": me.ru_maxrss,
                      "clocks": clocks}))


def critical_path(first_cpu: float, clocks: dict[str, list[float]]) -> float:
    """The start-up as two idle cores would run it, from CPU clocks, which a loaded machine
    stretches far less than wall time: the main thread's CPU to the first document (its
    thread clock counts the interpreter's start too), plus what it would wait for the
    matcher. The core's thread builds the matcher from the moment the rule set is loaded;
    its CPU is the process's less the main thread's between then and the matcher's arrival;
    the main thread waits only for what of it is left once the main thread asks. (The
    patterns' compilation before that runs on both cores, the main thread taking part: its
    share is in its own clock.)"""
    if not {"loaded", "asked", "built"} <= set(clocks):
        return float("nan")
    (t_loaded, p_loaded), (t_asked, _), (t_built, p_built) = clocks["loaded"], clocks["asked"], clocks["built"]
    matcher_cpu = (p_built - p_loaded) - (t_built - t_loaded)
    return first_cpu + max(0.0, matcher_cpu - (t_asked - t_loaded))


def measure(root: Path, raw: Path, tmp: Path, workers: str, as_is: bool) -> dict[str, float]:
    marks = tmp / "marks.txt"
    marks.unlink(missing_ok=True)
    out = tmp / "out"
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(root))
    if not as_is:  # bytecode of its own per checkout, written once (see the module docstring)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pyc" / root.name)
    env["STARTUP_LAUNCH"] = repr(time.time())
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, __file__, "--probe", str(raw), str(out), str(marks), workers],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - t0
    stdout, stderr = proc.communicate()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"startup: the run of {root} failed:\n{stderr[-3000:]}")
    got = json.loads(stdout.strip().splitlines()[-1])
    firsts = sorted(tuple(map(float, ln.split())) for ln in marks.read_text().splitlines()) if marks.exists() else []
    first = firsts[0] if firsts else (float("nan"), float("nan"), 0.0)
    return {"first document (s)": first[0],
            # meaningful with --workers 1, where the driver's main thread cleans the first document:
            # the CPU on the critical path, which the machine's load does not inflate as it does wall time
            "its thread's CPU (s)": first[1] if int(first[2]) == proc.pid else float("nan"),
            # with --workers 1 too: the critical path on two idle cores (see critical_path)
            "2 idle cores, est. (s)": critical_path(first[1], got["clocks"]) if int(first[2]) == proc.pid
            else float("nan"),
            "run (s)": wall,
            "driver CPU (s)": got["driver_cpu"], "tree CPU (s)": usage.ru_utime + usage.ru_stime,
            "driver peak RSS (MiB)": got["driver_rss_kib"] / 1024}


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "--probe":
        probe(*sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=7, help="runs of each checkout, alternately (default 7)")
    ap.add_argument("--compare", type=Path, metavar="CHECKOUT", help="another checkout, measured in the same sitting")
    ap.add_argument("--raw", type=Path, help="the input folder (default: one document)")
    ap.add_argument("--workers", default="", help="--workers for the runs (default: cleaner's own)")
    ap.add_argument("--as-is", action="store_true",
                    help="bytecode as the environment has it (default: compiled once, as installed)")
    args = ap.parse_args()
    roots = [("this", ROOT)] + ([("compare", args.compare.resolve())] if args.compare else [])
    with tempfile.TemporaryDirectory(prefix="cleaner-startup-") as tmpdir:
        tmp = Path(tmpdir)
        raw = args.raw
        if raw is None:
            raw = tmp / "raw"
            raw.mkdir()
            shutil.copy(sorted((ROOT / "seeds").glob("*.txt"))[0], raw / "page.txt")
        runs: dict[str, list[dict[str, float]]] = {label: [] for label, _ in roots}
        if not args.as_is:
            for _, root in roots:
                measure(root, raw, tmp, args.workers, False)  # writes the bytecode; not counted
        for _ in range(args.reps):
            for label, root in roots:
                runs[label].append(measure(root, raw, tmp, args.workers, args.as_is))
    keys = list(runs["this"][0])
    print(f"start-up of `cleaner clean` on {args.raw or 'a one-document folder'}, {args.reps} runs each, "
          f"alternately, {'bytecode as the environment has it' if args.as_is else 'bytecode compiled'} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs): best / median")
    print(f"  {'':24s}" + "".join(f"{label + ' (' + str(root) + ')':>34s}" for label, root in roots))
    for key in keys:
        cells = []
        for label, _ in roots:
            vals = [r[key] for r in runs[label]]
            cells.append(f"{min(vals):10.3f} / {statistics.median(vals):<10.3f}")
        print(f"  {key:24s}" + "".join(f"{c:>34s}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())

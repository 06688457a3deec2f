"""Where the memory of a run is: a command's process tree (driver and workers) sampled
from /proc every 0.2 s, per process PSS and private memory, over time.

bench/speed.py prints the peak PSS of the whole tree; this says which process holds it and
when it grows (pass 1 in the workers, dedup in the driver, ...):

    python bench/memtree.py -- python -m cleaner clean RAW -o OUT -q --workers 2

Prints about 40 lines of timeline (seconds, the tree's PSS, then pid:PSS/private per
process, MiB), the tree's peak PSS, and each process's peaks. Linux only (smaps_rollup).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (every thread's), from /proc."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(x) for x in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


def tree(pid: int) -> list[int]:
    return [pid, *(q for child in children(pid) for q in tree(child))]


def rollup(pid: int) -> dict[str, int] | None:
    """/proc/PID/smaps_rollup in kB (None once the process is gone)."""
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        return None
    return fields


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the command to run (after --)")
    ap.add_argument("--every", type=float, default=0.2, help="seconds between samples")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    proc = subprocess.Popen(command)
    peaks: dict[int, list[int]] = {}
    timeline: list[str] = []
    tree_peak = 0
    t0 = time.monotonic()
    while proc.poll() is None:
        total, row = 0, []
        for pid in tree(proc.pid):
            r = rollup(pid)
            if r is None:
                continue
            pss, private = r.get("Pss", 0), r.get("Private_Dirty", 0) + r.get("Private_Clean", 0)
            total += pss
            peak = peaks.setdefault(pid, [0, 0, 0])
            peak[0], peak[1], peak[2] = max(peak[0], pss), max(peak[1], r.get("Rss", 0)), max(peak[2], private)
            row.append(f"{pid}:{pss >> 10}/{private >> 10}")
        tree_peak = max(tree_peak, total)
        timeline.append(f"{time.monotonic() - t0:6.1f}s tree {total >> 10:5d} MiB  " + " ".join(row))
        time.sleep(args.every)
    for line in timeline[::max(1, len(timeline) // 40)]:
        print(line)
    print(f"peak PSS of the tree: {tree_peak / 1024:.0f} MiB")
    for pid, (pss, rss, private) in peaks.items():
        print(f"pid {pid}: peak PSS {pss / 1024:.0f} MiB, RSS {rss / 1024:.0f} MiB, private {private / 1024:.0f} MiB")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()

"""The driver side of tests/test_engine_deaths.py: ``python -m tests.deaths_child SCENARIO DIR``
runs the real :class:`~cleaner.engines.local.LocalEngine` on module-level functions that
say, by files in DIR, when a worker is at the moment the test wants; the test then sends
the signal itself. The results go to DIR/out.json, the engine's log lines to stderr.

Each hook fires once (the first process to reach it creates its marker file), so the
items that run again after a death go straight through."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from cleaner.engines.local import LocalEngine

BIG = 32 << 20  # far more than a pipe holds: its sender blocks until the driver reads


def first(d: str, name: str) -> bool:
    """True in the one process that creates ``d/name`` (holding its pid), False after."""
    try:
        fd = os.open(os.path.join(d, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


def wait_for(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.01)


def sized(item: tuple[str, int]) -> bytes:
    """A result of ``i`` bytes; item 3's is BIG, and the first time, its worker says so
    (``sending``) and waits for the test (``go``) before it returns it."""
    d, i = item
    if i == 3:
        if first(d, "sending"):
            wait_for(os.path.join(d, "go"))
        return b"x" * BIG
    return b"x" * i


def held(item: tuple[str, int]) -> tuple[int, int]:
    """Items 0 and 1, the first time, say ``busy-i`` and wait for ``release``."""
    d, i = item
    if i in (0, 1) and first(d, f"busy-{i}"):
        wait_for(os.path.join(d, "release"))
    return i * i, os.getpid()


def held_first(item: tuple[str, int]) -> tuple[int, int]:
    """Item 0, the first time, says ``busy-0`` and waits for ``release``; item 2 says
    ``done-2`` once it is done."""
    d, i = item
    if i == 0 and first(d, "busy-0"):
        wait_for(os.path.join(d, "release"))
    if i == 2:
        first(d, "done-2")
    return i * i, os.getpid()


def square_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _pause(d: str, name: str) -> None:
    """Say ``name`` and wait for ``go-name``."""
    first(d, name)
    wait_for(os.path.join(d, f"go-{name}"))


def main(scenario: str, d: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s: %(message)s")
    out: dict[str, Any] = {}
    if scenario == "mid-send":
        with LocalEngine(2) as engine:
            out["sizes"] = [len(r) for r in engine.map(sized, [(d, i) for i in range(8)], chunksize=1)]
    elif scenario == "held":
        with LocalEngine(2) as engine:
            out["squares"] = [x for x, _ in engine.map(held, [(d, i) for i in range(6)], chunksize=1)]
    elif scenario == "idle-in-map":
        with LocalEngine(2) as engine:
            out["squares"] = [x for x, _ in engine.map(held_first, [(d, i) for i in range(3)], chunksize=1)]
    elif scenario == "idle-between-maps":
        with LocalEngine(2) as engine:
            out["first"] = [x for x, _ in engine.map(square_pid, range(40), chunksize=2)]
            _pause(d, "idle")
            second = list(engine.map(square_pid, range(40), chunksize=2))
            out["second"] = [x for x, _ in second]
            out["second_pids"] = len({pid for _, pid in second})
    elif scenario == "shutdown":
        with LocalEngine(2) as engine:
            out["first"] = [x for x, _ in engine.map(square_pid, range(40), chunksize=2)]
            _pause(d, "idle")
            first(d, "releasing")
            engine.release_workers()
            out["second"] = [x for x, _ in engine.map(square_pid, range(10))]  # in the driver now
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    Path(d, "out.json").write_text(json.dumps(out), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

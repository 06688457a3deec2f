"""A worker of the local engine dying at any moment never hangs a map: not only while it
cleans (test_engines.py), but with its result half sent, while idle, while the pool shuts
down, beside a stopped worker, or by exiting. Each moment is reached on purpose, not by
timing: the map runs in a subprocess (tests/deaths_child.py) whose workers say by files
when they are where the test wants them, and the test sends the signal; a map that hangs
is killed at the timeout and the test fails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cleaner.engines.local import LocalEngine

from .conftest import ROOT
from .deaths_child import BIG

pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked workers, Linux /proc"),
              pytest.mark.timeout(120)]

WARNING = "WARNING: worker process died (SIGKILL); the "  # work was lost and ran again


def _start(scenario: str, d: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(d / "stderr", "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "tests.deaths_child", scenario, str(d)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)


def _finish(proc: subprocess.Popen[bytes], d: Path, timeout: float = 40) -> tuple[dict[str, Any], str]:
    """The child's results and stderr; a child still running at ``timeout`` hung: it is
    killed (its workers die with it) and the test fails."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the map hung (killed after {timeout} s); stderr:\n{(d / 'stderr').read_text()}")
    stderr = (d / "stderr").read_text()
    assert proc.returncode == 0, stderr
    return json.loads((d / "out.json").read_text()), stderr


def _marker(d: Path, name: str, proc: subprocess.Popen[bytes]) -> int:
    """Wait for the child's marker ``name``; the pid in it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return int((d / name).read_text())
        except (OSError, ValueError):  # not there yet, or its pid not yet written
            if proc.poll() is not None:
                pytest.fail(f"the child ended before {name}: {(d / 'stderr').read_text()}")
            time.sleep(0.005)
    proc.kill()
    pytest.fail(f"no {name} in 30 s")


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def _wchan(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""


def _blocked_in(pid: int, word: str) -> None:
    """Wait until ``pid`` sleeps in a kernel function named with ``word``."""
    deadline = time.monotonic() + 10
    while word not in _wchan(pid):
        if time.monotonic() > deadline:
            pytest.skip(f"/proc/{pid}/wchan never said {word} (it says {_wchan(pid)!r})")
        time.sleep(0.005)


def _reaped(pid: int) -> None:
    """Wait until ``pid`` is gone (its parent has collected it)."""
    deadline = time.monotonic() + 10
    while _state(pid) != "gone":
        assert time.monotonic() < deadline, f"{pid} is still {_state(pid)}"
        time.sleep(0.005)


def test_a_worker_killed_with_its_result_half_sent(tmp_path: Path) -> None:
    """The result pipe holds a part of the dead worker's message, which the executor's
    reader waits to complete for ever (every other worker keeps the pipe open, and they
    wait for the write lock the dead one held). The worker is caught in the middle: the
    driver is stopped (a driver busy writing its spool reads late), so a result larger
    than the pipe blocks its sender; it is killed there and the driver resumes."""
    proc = _start("mid-send", tmp_path)
    victim = _marker(tmp_path, "sending", proc)
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        (tmp_path / "go").touch()
        _blocked_in(victim, "pipe_write")
        os.kill(victim, signal.SIGKILL)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    out, stderr = _finish(proc, tmp_path)
    assert out["sizes"] == [BIG if i == 3 else i for i in range(8)]
    assert WARNING in stderr


@pytest.mark.parametrize("first", [signal.SIGSTOP, signal.SIGKILL], ids=["one-stopped", "both-killed"])
def test_a_busy_worker_killed_beside_a_stopped_or_dead_one(tmp_path: Path, first: int) -> None:
    """Two busy workers: one stopped (a debugger, a cgroup freezer) or killed, the other
    killed. The executor ends the survivors with SIGTERM and waits for them, which a
    stopped process never answers; the engine kills them."""
    proc = _start("held", tmp_path)
    a, b = _marker(tmp_path, "busy-0", proc), _marker(tmp_path, "busy-1", proc)
    os.kill(a, first)
    os.kill(b, signal.SIGKILL)
    (tmp_path / "release").touch()
    out, stderr = _finish(proc, tmp_path)
    assert out["squares"] == [i * i for i in range(6)]
    assert WARNING in stderr


def test_an_idle_worker_killed_during_a_map(tmp_path: Path) -> None:
    proc = _start("idle-in-map", tmp_path)
    busy, idle = _marker(tmp_path, "busy-0", proc), _marker(tmp_path, "done-2", proc)
    assert busy != idle
    time.sleep(0.2)  # it hands in item 2 and waits for work that never comes
    os.kill(idle, signal.SIGKILL)
    _reaped(idle)
    (tmp_path / "release").touch()
    out, _ = _finish(proc, tmp_path)
    assert out["squares"] == [0, 1, 4]


def test_an_idle_worker_killed_between_maps_costs_a_new_pool(tmp_path: Path) -> None:
    """Nothing was lost: the next map gets a fresh pool, not a process per item (the
    chunks the broken pool refused at submit used to run alone, as if suspect)."""
    proc = _start("idle-between-maps", tmp_path)
    _marker(tmp_path, "idle", proc)
    victim = _children(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    _reaped(victim)
    (tmp_path / "go-idle").touch()
    out, stderr = _finish(proc, tmp_path)
    assert out["first"] == out["second"] == [x * x for x in range(40)]
    assert out["second_pids"] <= 2, stderr
    assert "WARNING: worker process died (SIGKILL) while idle; new workers take over" in stderr


def test_a_worker_killed_while_the_pool_shuts_down(tmp_path: Path) -> None:
    """The idle worker inside the task queue's read lock dies after the shutdown's
    sentinels were sent: the other worker waits for that lock for ever, and the executor
    for the other worker. Stopping it first holds it at that moment."""
    proc = _start("shutdown", tmp_path)
    _marker(tmp_path, "idle", proc)
    deadline = time.monotonic() + 10
    while not (holder := [k for k in _children(proc.pid) if "pipe_read" in _wchan(k)]):
        if time.monotonic() > deadline:
            pytest.skip(f"no worker of {_children(proc.pid)} said pipe_read in /proc/PID/wchan")
        time.sleep(0.005)
    os.kill(holder[0], signal.SIGSTOP)
    (tmp_path / "go-idle").touch()
    _marker(tmp_path, "releasing", proc)
    time.sleep(0.5)  # the executor sends its sentinels and waits for its workers
    os.kill(holder[0], signal.SIGKILL)
    out, _ = _finish(proc, tmp_path)
    assert out["first"] == [x * x for x in range(40)]
    assert out["second"] == [x * x for x in range(10)]


# --- in-process: deaths that need no outside signal ------------------------------------

POISON = 13


def square_or_sys_exit(x: int) -> int:
    if x == POISON:
        sys.exit(3)
    return x * x


def square_or_exit_0(x: int) -> int:
    if x == POISON:
        os._exit(0)
    return x * x


def square_or_die_last(x: int) -> int:
    if x == 29:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def lost_marker(x: int, cause: str) -> tuple[str, int, str]:
    return ("lost", x, cause)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fn, poison, cause", [
    (square_or_sys_exit, POISON, "worker process died (exit code 3)"),
    (square_or_exit_0, POISON, "worker process ended without a result"),
    (square_or_die_last, 29, "worker process died (SIGKILL)")])
def test_a_worker_that_exits_mid_chunk_or_dies_on_the_last(fn: Any, poison: int, cause: str) -> None:
    """``sys.exit`` in a worker ends the worker, as it does a lone process: a death, not
    an exception that would end the driver with the worker's exit code."""
    with LocalEngine(2) as engine:
        out = list(engine.map(fn, range(30), chunksize=4, lost=lost_marker))
    assert out == [("lost", x, cause) if x == poison else x * x for x in range(30)]


def timeout_on_poison(x: int) -> int:
    if x == POISON:
        raise TimeoutError("the function's own")
    return x


@pytest.mark.timeout(60)
def test_a_function_timeout_is_not_a_wait_timeout() -> None:
    """The driver's bounded waits must not take the function's own ``TimeoutError`` for
    the end of a wait (and wait again for ever)."""
    with LocalEngine(2) as engine, pytest.raises(TimeoutError, match="the function's own"):
        list(engine.map(timeout_on_poison, range(30), chunksize=4))


class Unreadable(Exception):
    """Pickles (as its class and ``args``) but does not unpickle: ``__init__`` wants two."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(a)


def square_or_unreadable(x: int) -> Any:
    return Unreadable(x, x) if x == POISON else x * x


@pytest.mark.timeout(60)
def test_a_result_that_does_not_unpickle_is_lost_not_a_crash() -> None:
    """A worker's result that arrives whole but cannot be unpickled in the driver is that
    item's fate (``lost``, naming the cause), not a traceback ending the run; the other
    items of its chunk keep their results."""
    with LocalEngine(2) as engine:
        out = list(engine.map(square_or_unreadable, range(30), chunksize=4, lost=lost_marker))
    assert out[:POISON] + out[POISON + 1:] == [x * x for x in range(30) if x != POISON]
    tag, x, cause = out[POISON]
    assert (tag, x) == ("lost", POISON)
    assert cause.startswith("its result could not be read (TypeError: ") and "missing 1 required" in cause

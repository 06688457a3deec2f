"""``python3 -m cleaner`` ends without the interpreter's teardown (``cli.program.run``), and
still with its exit status, its whole output, and the ``atexit`` functions run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# a probe process: an object whose finaliser prints (the teardown would call it), an atexit
# function that prints, then the command line run by cli.program.run with the given arguments
_PROBE = """
import atexit, sys, threading, time
from cleaner.cli.program import run
class Torn:
    def __del__(self):
        print("torn down", flush=True)
kept = Torn()
atexit.register(lambda: print("atexit ran"))
if sys.argv[1] == "--thread":
    threading.Thread(target=time.sleep, args=(0.5,)).start()
    del sys.argv[1]
run(sys.argv[1:])
"""


def _probe(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([sys.executable, "-c", _PROBE, *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_program_skips_the_teardown_but_runs_atexit(root: Path) -> None:
    done = _probe(root, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["cleaner, version " + done.stdout.split("version ")[1].split()[0],
                                        "atexit ran"]
    assert "torn down" not in done.stdout


@pytest.mark.parametrize(("args", "code"), [(("bogus-command",), 2), (("clean", "/nonexistent/in", "-o", "x"), 2)])
def test_the_program_keeps_the_exit_status(root: Path, args: tuple[str, ...], code: int) -> None:
    done = _probe(root, *args)
    assert done.returncode == code
    assert done.stderr.strip() and "Traceback" not in done.stderr
    assert "torn down" not in done.stdout


def test_with_another_thread_running_the_program_ends_the_usual_way(root: Path) -> None:
    done = _probe(root, "--thread", "--version")
    assert done.returncode == 0, done.stderr
    assert "atexit ran" in done.stdout and "torn down" in done.stdout


def test_a_run_through_the_program_writes_everything(tmp_path: Path, root: Path) -> None:
    """``python -m cleaner clean``: outputs published, the summary printed whole to a pipe,
    and exit 1 when an input failed."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for seed in sorted((root / "seeds").glob("*.txt"))[:3]:
        (raw / seed.name).write_bytes(seed.read_bytes())
    (raw / "broken.txt").write_bytes(b"\x00\x01\x02" * 400)
    env = dict(os.environ, PYTHONPATH=str(root))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "cleaner", "clean", str(raw), "-o", str(out), "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "4 documents" in done.stderr and "broken.txt" in done.stderr
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == 4 and [r["status"] for r in records].count("error") == 1
    assert (out / "report.html").read_text().rstrip().endswith("</html>")

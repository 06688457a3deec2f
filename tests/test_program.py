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


def _site_probe(tmp_path: Path, root: Path) -> dict[str, str]:
    """An environment whose ``sitecustomize`` keeps an object with a printing finaliser: the
    teardown prints "torn down", ``os._exit`` does not, whatever the main program is."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import builtins\n"
        "class Torn:\n"
        "    def __del__(self):\n"
        "        print('torn down', flush=True)\n"
        "builtins._cleaner_torn = Torn()\n")
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(site)]))


def test_python_m_cleaner_skips_the_teardown(tmp_path: Path, root: Path) -> None:
    env = _site_probe(tmp_path, root)
    done = subprocess.run([sys.executable, "-m", "cleaner", "--version"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "version" in done.stdout and "torn down" not in done.stdout


def test_a_profiler_running_the_module_writes_its_output(tmp_path: Path, root: Path) -> None:
    """``python -m cProfile -o FILE -m cleaner``: the profiler writes FILE after the module
    returns, so the command line ends the usual way there (os._exit lost the file)."""
    env = _site_probe(tmp_path, root)
    prof = tmp_path / "p.prof"
    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "cleaner", "--version"],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert prof.is_file() and prof.stat().st_size > 0
    assert "torn down" in done.stdout


def test_run_called_by_other_code_ends_the_usual_way(root: Path) -> None:
    """Called from a function (not the main program's module level), ``run`` raises
    SystemExit, which its caller may catch."""
    code = ("from cleaner.cli.program import run\n"
            "def call():\n"
            "    try:\n"
            "        run(['--version'])\n"
            "    except SystemExit as exc:\n"
            "        print('caught', exc.code)\n"
            "call()\n")
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(root)),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "caught 0" in done.stdout


def test_the_installed_script_and_python_m_share_one_entry_point(root: Path) -> None:
    import tomllib

    from cleaner.cli import program

    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["cleaner"].partition(":")
    assert (module, name) == ("cleaner.cli.program", "run")
    assert getattr(__import__(module, fromlist=[name]), name) is program.run
    assert "run()" in (root / "cleaner" / "__main__.py").read_text()


# a probe whose command line only exits with the status given (argv[1]); "--bad-stdout"
# first puts a standard output whose flush fails in place; the finaliser writes to fd 2
_STATUS_PROBE = """
import atexit, os, sys
from cleaner.cli import program
class Torn:
    def __del__(self):
        os.write(2, b"torn down\\n")
kept = Torn()
atexit.register(lambda: os.write(2, b"atexit ran\\n"))
if sys.argv[1] == "--bad-stdout":
    class Bad:
        def write(self, text):
            return len(text)
        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")
    sys.stdout = Bad()
    del sys.argv[1]
def exits(args, prog_name):
    sys.exit(int(args[0]))
program.main = exits
program.run(sys.argv[1:])
"""


@pytest.mark.parametrize(("code", "status"), [(0, 0), (3, 3), (-1, 255), (300, 44), (256, 0)])
def test_the_exit_status_is_the_one_the_system_gives(root: Path, code: int, status: int) -> None:
    """``sys.exit(code)`` ends a process with ``code & 0xFF``; the fast exit must too."""
    done = subprocess.run([sys.executable, "-c", _STATUS_PROBE, str(code)], env=dict(os.environ, PYTHONPATH=str(root)),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == status, done.stderr
    assert "atexit ran" in done.stderr and "torn down" not in done.stderr


def test_when_flushing_the_output_fails_the_program_ends_the_usual_way(root: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _STATUS_PROBE, "--bad-stdout", "3"],
                          env=dict(os.environ, PYTHONPATH=str(root)), capture_output=True, text=True, timeout=300)
    assert "atexit ran" in done.stderr and "torn down" in done.stderr
    assert done.returncode != 0

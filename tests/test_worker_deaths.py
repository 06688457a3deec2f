"""A worker process that dies in a real run (a segfault in a C library, the OOM killer)
costs the documents it was cleaning, each an ``error`` naming the cause, never the run:
the run finishes, and exits 1 as for any failed input. The engine's own tests
(test_engines.py) kill workers on chosen items; here the whole CLI runs in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, read_manifest, same_tree
from .test_index import ARTICLE, OTHER, THIRD, mixed_corpus, write

# The test's driver: the real CLI, with cleaning and template removal patched in this
# process only (forked workers inherit it) to read a NULL pointer on a marked document;
# nothing of this is in the package.
DRIVER = """
import ctypes, faulthandler
import cleaner.steps as steps

real_clean, real_templates = steps.clean_keys, steps.remove_templates

def crash(doc, marker):
    if marker in doc.text:
        faulthandler.disable()
        ctypes.string_at(0)

def clean_keys(doc, settings):
    crash(doc, "POISON-CLEAN")
    return real_clean(doc, settings)

def remove_templates(doc, *args):
    crash(doc, "POISON-TEMPLATES")
    return real_templates(doc, *args)

steps.clean_keys, steps.remove_templates = clean_keys, remove_templates
from cleaner.cli.commands import main
main()
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "CI": "1"}


@pytest.mark.timeout(180)
def test_documents_that_kill_their_worker_are_errors_and_the_run_finishes(tmp_path: Path) -> None:
    raw = mixed_corpus(tmp_path / "raw", ROOT / "seeds")
    write(raw / "blog", "crash-clean.txt", [ARTICLE[0], "POISON-CLEAN " + OTHER[1], THIRD[0]])
    write(raw / "blog", "crash-templates.txt", [OTHER[0], "POISON-TEMPLATES " + THIRD[1], ARTICLE[2]])
    rows = [{"id": f"r{i}", "url": f"https://feed.example/{i}",
             "text": (ARTICLE + OTHER + THIRD)[i] + (" POISON-CLEAN" if i == 3 else "")} for i in range(6)]
    (raw / "feed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "driver.py").write_text(DRIVER, encoding="utf-8")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, str(tmp_path / "driver.py"), "clean", str(raw), "-o", str(out),
                          "--workers", "2"], env=_env(), capture_output=True, text=True, timeout=150)
    assert run.returncode == 1, run.stderr  # the exit code of a run with failed inputs
    fates = {(r["path"], r["id"]): r for r in read_manifest(out)}
    died = "worker process died (SIGSEGV) while "
    assert fates["blog/crash-clean.txt", None]["status"] == "error"
    assert fates["blog/crash-clean.txt", None]["reason"] == died + "cleaning this document"
    assert fates["blog/crash-templates.txt", None]["reason"] == died + "removing template lines from this document"
    # only the record that kills its worker is lost, not the others sent with it
    assert [fates["feed.jsonl", f"r{i}"]["status"] for i in range(6)] == ["kept"] * 3 + ["error"] + ["kept"] * 2
    errors = [line for line in run.stderr.splitlines() if line.startswith("cleaner: error: ")]
    assert sorted(errors) == sorted([
        f"cleaner: error: blog/crash-clean.txt: clean: {died}cleaning this document",
        f"cleaner: error: feed.jsonl#r3: clean: {died}cleaning this document",
        f"cleaner: error: blog/crash-templates.txt: templates: {died}removing template lines from this document"])
    assert sum(r["status"] == "error" for r in fates.values()) == 3
    assert sum(r["status"] == "kept" for r in fates.values()) >= 10


@pytest.mark.timeout(180)
def test_workers_that_always_die_stop_the_run_with_one_line(tmp_path: Path) -> None:
    """Every document kills its worker (as when the OOM killer ends every new worker): the
    retries are bounded and the run stops with one line, exit 2, and no output folder."""
    raw = mixed_corpus(tmp_path / "raw", ROOT / "seeds")
    (tmp_path / "driver.py").write_text(DRIVER.replace('crash(doc, "POISON-CLEAN")', 'crash(doc, "")'),
                                        encoding="utf-8")
    run = subprocess.run([sys.executable, str(tmp_path / "driver.py"), "clean", str(raw), "-o",
                          str(tmp_path / "out"), "--workers", "2"], env=_env(), capture_output=True, text=True,
                         timeout=150)
    assert run.returncode == 2, run.stderr
    last = run.stderr.splitlines()[-1]
    assert last.startswith("cleaner: error: 8 worker processes died in a row, the last one: worker process "
                           "died (SIGSEGV)"), run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out" / "manifest.jsonl").exists()


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_worker_killed_from_outside_changes_nothing(tmp_path: Path) -> None:
    """No hook at all: a worker of a real run is sent SIGKILL, as the OOM killer would. The
    documents it held run again in processes of their own, and the outputs are byte for
    byte those of an undisturbed run (the multiprocessing.Pool of before hung here)."""
    raw = tmp_path / "raw"
    for n in range(3000):  # enough work that the workers are still busy 0.05 s in, when one is killed
        paras = [(ARTICLE + OTHER + THIRD)[(n + k) % 9] + f" Report {n}, part {k}." for k in range(6)]
        write(raw / f"site{n % 7}", f"page{n}.txt", paras)
    cmd = [sys.executable, "-m", "cleaner", "clean", str(raw), "--workers", "2"]
    subprocess.run([*cmd, "-o", str(tmp_path / "calm")], env=_env(), check=True, capture_output=True, timeout=240)
    proc = subprocess.Popen([*cmd, "-o", str(tmp_path / "killed")], env=_env(), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # into the first pass's work
        # (the pass-1 workers end with the pass: if it is done already, a pass-2 worker)
        victims = _children(proc.pid)
        while not victims and time.monotonic() < deadline:
            time.sleep(0.002)
            victims = _children(proc.pid)
        assert victims, "the run had no workers to kill"
        os.kill(victims[0], signal.SIGKILL)
        _, stderr = proc.communicate(timeout=240)
    finally:
        proc.kill()  # a run that hung (as with multiprocessing.Pool) must not outlive the test
        proc.wait()
    assert proc.returncode == 0, stderr
    # "; the N items it and the other workers held run again", or, when the driver was the
    # slower and every chunk in flight was done, " while idle; new workers take over"
    assert "cleaner: warning: worker process died (SIGKILL)" in stderr
    calm, killed = tmp_path / "calm", tmp_path / "killed"
    for name in ("manifest.jsonl", "duplicates.json"):
        assert (calm / name).read_bytes() == (killed / name).read_bytes(), name
    assert same_tree(calm / "clean", killed / "clean")


# The test's driver: the real CLI, with the engine's pass-2 start wrapped in this process
# only to kill a worker twice: one of pass 1 between the passes (there is none: the pass-1
# workers are ended when pass 1 ends), and one of the pass-2 pool as it starts (before it
# has any work).
BETWEEN = """
import os, signal, sys, time
from pathlib import Path
from cleaner.engines import local

def kill_a_worker(when):
    me = os.getpid()
    kids = [int(x) for task in Path(f"/proc/{me}/task").iterdir() for x in (task / "children").read_text().split()]
    if not kids:
        print(f"hook: no worker alive {when}", file=sys.stderr, flush=True)
        return
    victim = kids[0]
    os.kill(victim, signal.SIGKILL)
    while True:  # until it is dead (a zombie, or reaped by the pool)
        try:
            if Path(f"/proc/{victim}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX":
                break
        except OSError:
            break
        time.sleep(0.005)
    print(f"hook: killed worker {victim} {when}", file=sys.stderr, flush=True)

real_map_shared = local.LocalEngine.map_shared

def map_shared(self, *args, **kwargs):
    kill_a_worker("between the passes")
    results = real_map_shared(self, *args, **kwargs)
    kill_a_worker("as the pass-2 pool starts")
    return results

local.LocalEngine.map_shared = map_shared
from cleaner.cli.commands import main
main()
"""


@pytest.mark.timeout(300)
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_killed_between_the_passes_change_nothing(tmp_path: Path) -> None:
    """No pass-1 worker is left between the passes (they are ended with pass 1, see
    ``ReadClean.run``), and one killed as the pass-2 pool (forked with the template
    statistics) starts had nothing in its hands: the outputs are byte for byte those of an
    undisturbed run, and no document ran alone."""
    raw = tmp_path / "raw"
    for n in range(300):
        paras = [(ARTICLE + OTHER + THIRD)[(n + k) % 9] + f" Report {n}, part {k}." for k in range(6)]
        write(raw / f"site{n % 7}", f"page{n}.txt", paras)
    (tmp_path / "driver.py").write_text(BETWEEN, encoding="utf-8")
    calm = subprocess.run([sys.executable, "-m", "cleaner", "clean", str(raw), "-o", str(tmp_path / "calm"),
                           "--workers", "2"], env=_env(), capture_output=True, text=True, timeout=120)
    assert calm.returncode == 0, calm.stderr
    run = subprocess.run([sys.executable, str(tmp_path / "driver.py"), "clean", str(raw), "-o",
                          str(tmp_path / "killed"), "--workers", "2"], env=_env(), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "hook: no worker alive between the passes" in run.stderr, run.stderr
    assert run.stderr.count("hook: killed worker ") == 1, run.stderr
    # the pass-2 pool's death cost a new pool; the old engine ran the 8 chunks the broken
    # pool refused (128 documents) each in a process of its own, as if they had killed it
    assert "cleaner: warning: worker process died (SIGKILL) while idle; new workers take over" in run.stderr
    assert "run again" not in run.stderr
    calm_out, killed = tmp_path / "calm", tmp_path / "killed"
    for name in ("manifest.jsonl", "duplicates.json"):
        assert (calm_out / name).read_bytes() == (killed / name).read_bytes(), name
    assert same_tree(calm_out / "clean", killed / "clean")

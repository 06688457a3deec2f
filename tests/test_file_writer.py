"""The core's writer of clean files (``cleaner._native.FileWriter``, behind
:meth:`cleaner.outputs.writers.Staging.write_document`): each file's bytes and permissions
are those of the Python writer it replaced (:func:`write_new_file` below, its oracle), a
failure is raised as that writer's ``OSError`` naming the file, and neither a full queue nor
a failure nor an unclosed writer hangs."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import cleaner
from cleaner.document import Document
from cleaner.native import core
from cleaner.outputs import writers
from cleaner.outputs.writers import Staging

#: The tests of a full disk write to /dev/full (Linux; absent in some sandboxes).
needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")

#: The Python writer the core replaced, kept as the oracle of its semantics.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


def write_new_file(path: str, data: bytes) -> None:
    fd = os.open(path, _NEW_FILE, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        if exc.filename is None:
            exc.filename = path
        raise
    finally:
        os.close(fd)


def _within(seconds: float, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` on a thread, failing the test if it has not returned in time (a
    deadlock is a failure, not a hung test run)."""
    out: list[Any] = []
    err: list[BaseException] = []

    def run() -> None:
        try:
            out.append(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            err.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{fn.__name__} did not return within {seconds} s"
    if err:
        raise err[0]
    return out[0] if out else None


def test_bytes_and_permissions_are_those_of_write_new_file(tmp_path: Path) -> None:
    sizes = [0, 1, 4095, 4096, 70_000, 3 * 2**20]  # past one write of a pipe or page
    payloads = [os.urandom(n) for n in sizes]
    old = os.umask(0o002)  # group-writable: a mode of 0o644 would differ
    try:
        for side in ("oracle", "core"):
            (tmp_path / side).mkdir()
            (tmp_path / side / "old.txt").write_bytes(b"a much longer old content\n" * 1000)
            os.chmod(tmp_path / side / "old.txt", 0o600)  # an existing file keeps its mode
        for i, data in enumerate(payloads):
            write_new_file(str(tmp_path / "oracle" / f"{i}.txt"), data)
        write_new_file(str(tmp_path / "oracle" / "old.txt"), b"short\n")
        w = core.FileWriter(2, 1 << 20)
        for i, data in enumerate(payloads):
            w.submit(str(tmp_path / "core" / f"{i}.txt"), data)
        w.submit(str(tmp_path / "core" / "old.txt"), b"short\n")
        w.close()
    finally:
        os.umask(old)
    for name in [f"{i}.txt" for i in range(len(sizes))] + ["old.txt"]:
        want, got = tmp_path / "oracle" / name, tmp_path / "core" / name
        assert got.read_bytes() == want.read_bytes(), name
        assert stat.S_IMODE(got.stat().st_mode) == stat.S_IMODE(want.stat().st_mode), name
    assert stat.S_IMODE((tmp_path / "core" / "0.txt").stat().st_mode) == 0o664
    assert stat.S_IMODE((tmp_path / "core" / "old.txt").stat().st_mode) == 0o600


@needs_dev_full
def test_a_full_disk_is_raised_naming_the_file() -> None:
    """A full disk fails the write, whose error names no file: the run's one-line error
    must say which file (``cleaner clean`` prints it). Raised by ``close`` at the latest,
    by every ``close`` after, and promptly by the next submits."""
    with pytest.raises(OSError) as oracle:
        write_new_file("/dev/full", b"x" * 10)
    w = core.FileWriter(1, 1 << 20)
    w.submit("/dev/full", b"x" * 10)
    deadline = time.monotonic() + 10
    with pytest.raises(OSError) as caught:
        while time.monotonic() < deadline:  # the thread fails soon; a submit then raises
            w.submit("/dev/null", b"y")
            time.sleep(0.001)
    for exc in (caught.value, oracle.value):
        assert exc.errno == errno.ENOSPC and exc.filename == "/dev/full"
        assert str(exc).endswith("No space left on device: '/dev/full'")
    assert str(caught.value) == str(oracle.value)
    for _ in range(2):
        with pytest.raises(OSError, match="No space left on device: '/dev/full'"):
            w.close()


def test_a_missing_folder_is_a_clean_oserror_naming_the_file(tmp_path: Path) -> None:
    target = str(tmp_path / "no" / "such" / "f.txt")
    w = core.FileWriter(2, 1 << 20)
    w.submit(target, b"x")
    with pytest.raises(FileNotFoundError) as caught:
        w.close()
    assert caught.value.errno == errno.ENOENT and caught.value.filename == target
    with pytest.raises(FileNotFoundError):
        os.open(target, _NEW_FILE)  # the oracle's error: the same class and message
    assert str(caught.value) == f"[Errno 2] No such file or directory: '{target}'"


def test_a_name_that_is_not_utf8_is_written_and_named_as_given(tmp_path: Path) -> None:
    name = str(tmp_path / "caf\udce9.txt")  # the byte 0xe9, as os.listdir gives it back
    w = core.FileWriter(2, 1 << 20)
    w.submit(name, b"x")
    w.submit(str(tmp_path / "gone\udcff" / "f.txt"), b"x")
    with pytest.raises(FileNotFoundError) as caught:
        w.close()
    assert caught.value.filename == str(tmp_path / "gone\udcff" / "f.txt")
    assert os.fsencode(tmp_path) + b"/caf\xe9.txt" in [os.fsencode(tmp_path) + b"/" + n
                                                        for n in os.listdir(os.fsencode(tmp_path))]


def test_a_full_queue_waits_and_does_not_deadlock(tmp_path: Path) -> None:
    """Files far larger in all than the queue's bound: ``submit`` waits for room (the GIL
    released: another Python thread runs meanwhile) and every file is written."""
    for k in range(8):
        (tmp_path / f"d{k}").mkdir()
    w = core.FileWriter(2, 10_000)
    data = {f"d{i % 8}/{i}.txt": bytes([65 + i % 26]) * (i * 13 % 5000) for i in range(1500)}
    ticks = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.0005)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()

    def run() -> None:
        for name, content in data.items():
            w.submit(str(tmp_path / name), content)
        w.close()

    try:
        _within(60, run)
    finally:
        stop.set()
        ticker.join()
    assert ticks
    for name, content in data.items():
        assert (tmp_path / name).read_bytes() == content
    with pytest.raises(ValueError, match="closed"):
        w.submit(str(tmp_path / "late.txt"), b"")


def test_an_unclosed_writer_ends_its_threads(tmp_path: Path) -> None:
    """Dropped or abandoned with files queued: returns (the files queued are dropped), and
    no file appears after: the staging folder is removed right after."""
    def drop() -> None:
        w = core.FileWriter(2, 1 << 16)
        for i in range(300):
            w.submit(str(tmp_path / f"a{i}"), b"q" * 1000)
        del w

    _within(30, drop)
    w = core.FileWriter(2, 1 << 16)
    for i in range(300):
        w.submit(str(tmp_path / f"b{i}"), b"q" * 1000)
    _within(30, w.abandon)
    seen = set(os.listdir(tmp_path))
    time.sleep(0.05)
    assert set(os.listdir(tmp_path)) == seen
    w.close()  # the queue was dropped, not failed: nothing to raise


def _kept(path: str, text: str) -> Document:
    return Document(path=path, id=None, text=text, container=False)


def test_staging_writes_many_files_across_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "FILE_QUEUE_BYTES", 5000)
    staging = Staging(tmp_path / "out")
    texts = {f"s{i % 17}/t{i % 3}/page{i}.html": f"page {i} é\n" * (i % 40) for i in range(1200)}
    outputs = [staging.write_document(_kept(p, t))["output"] for p, t in texts.items()]
    staging.flush()
    staging.publish()
    for out, text in zip(outputs, texts.values(), strict=True):
        assert (tmp_path / "out" / out).read_bytes() == (text + "\n").encode()


@needs_dev_full
def test_staging_raises_a_full_disk_naming_the_clean_file(tmp_path: Path) -> None:
    """The clean file is a link to /dev/full: its write fails, and the error (raised by
    flush, or by the write of a later document) names the clean file, not the device."""
    staging = Staging(tmp_path / "out")
    staging.write_document(_kept("s/first.html", "one"))
    (staging.clean / "s" / "page.txt").symlink_to("/dev/full")
    with pytest.raises(OSError) as caught:
        staging.write_document(_kept("s/page.html", "two"))
        staging.flush()
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == f"{staging.clean}/s/page.txt"
    staging.abandon()
    assert not list((tmp_path / "out").glob(".staging-*"))
    time.sleep(0.05)  # nor does anything appear after
    assert not list((tmp_path / "out").glob(".staging-*"))


#: The child of the close test: a run's clean files, one of which, `victim.txt`, is a link
#: to `argv[2]` (a path known before the run, for strace to fail the close of); prints what
#: flush raised and what is left of the output folder.
_CLOSE_CHILD = """
import json, os, sys
from cleaner.document import Document
from cleaner.outputs.writers import Staging
out, target = sys.argv[1], sys.argv[2]
staging = Staging(out)
os.symlink(target, staging.clean / "victim.txt")
for name in ("a.html", "victim.html", "b.html"):
    staging.write_document(Document(path=name, id=None, text="text", container=False))
try:
    staging.flush()
    staging.publish()
    got = {"raised": None}
except OSError as exc:
    got = {"raised": [exc.errno, exc.filename], "victim": str(staging.clean / "victim.txt")}
    staging.abandon()
got["left"] = sorted(os.listdir(out))
print(json.dumps(got))
"""


def _strace_traces() -> bool:
    """Whether strace is here and may trace (ptrace can be denied in a container)."""
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(["strace", "-qq", "-o", "/dev/null", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _strace_traces(), reason="needs strace, allowed to trace")
def test_a_failed_close_is_raised_naming_the_file_and_nothing_is_published(tmp_path: Path) -> None:
    """NFS, FUSE or a quota can fail a file only at its close, every write having succeeded:
    the error must be raised like a write's (``OSError`` naming the file) and the run not
    published. No local file system fails a close, so strace fails the real one: ``EIO`` for
    the ``close`` of the one file whose path is given (``-P``; the writer's threads are
    traced too, ``-f``), the system call itself not made."""
    out, target = tmp_path / "out", tmp_path / "target.txt"
    env = {**os.environ, "PYTHONPATH": str(Path(cleaner.__file__).parents[1])}
    proc = subprocess.run(
        ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=close", "-e", "inject=close:error=EIO",
         "-P", str(target), sys.executable, "-c", _CLOSE_CHILD, str(out), str(target)],
        capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["raised"] == [errno.EIO, got["victim"]]
    assert got["left"] == [".cleaner.lock"]  # abandoned: no clean/, no manifest published
    assert target.read_bytes() == b"text\n"  # every byte written: only the close failed


class _InterruptedClose:
    """A FileWriter whose close is interrupted (Ctrl-C) before it stops the threads."""

    def __init__(self, inner: Any, folder: Path) -> None:
        self.inner, self.folder = inner, folder
        self.abandoned_with_folder: bool | None = None

    def submit(self, *args: Any) -> None:
        self.inner.submit(*args)

    def close(self) -> None:
        raise KeyboardInterrupt

    def abandon(self) -> None:
        self.abandoned_with_folder = self.folder.exists()
        self.inner.abandon()


def test_an_interrupted_flush_leaves_the_writer_to_abandon(tmp_path: Path) -> None:
    """Ctrl-C while flush waits: the writer's threads still run, so abandon must stop them
    (dropping the files queued) before it removes the folder they write into."""
    staging = Staging(tmp_path / "out")
    staging.write_document(_kept("s/first.html", "one"))
    proxy = staging._files = _InterruptedClose(staging._files, staging.dir)
    for i in range(200):
        staging.write_document(_kept(f"s/p{i}.html", "x" * 1000))
    with pytest.raises(KeyboardInterrupt):
        staging.flush()
    staging.abandon()
    assert proxy.abandoned_with_folder is True
    assert not list((tmp_path / "out").glob(".staging-*"))


def test_staging_writes_the_text_and_one_line_end(tmp_path: Path) -> None:
    """The core appends the line end (submit's newline flag): the bytes of ``text + "\n"``."""
    staging = Staging(tmp_path / "out")
    texts = {"a.html": "", "b.html": "é\n", "c.html": "x" * 70_000}
    outs = [staging.write_document(_kept(p, t))["output"] for p, t in texts.items()]
    staging.publish()
    for out, text in zip(outs, texts.values(), strict=True):
        assert (tmp_path / "out" / out).read_bytes() == (text + "\n").encode()


def test_a_nul_byte_in_a_name_is_a_valueerror_naming_the_file(tmp_path: Path) -> None:
    name = str(tmp_path / "a\x00b.txt")
    with pytest.raises(ValueError, match="embedded null byte"):
        os.open(name, _NEW_FILE)  # the oracle
    w = core.FileWriter(1, 1 << 20)
    with pytest.raises(ValueError, match="embedded null byte") as caught:
        w.submit(name, b"x")
    assert str(tmp_path / "a") in str(caught.value)
    w.submit(str(tmp_path / "ok.txt"), b"x")
    w.close()  # refused at submit: no failure kept
    assert (tmp_path / "ok.txt").read_bytes() == b"x"


def test_a_forked_child_refuses_the_parents_writer(tmp_path: Path) -> None:
    """The child has none of the threads: submit, close and abandon raise RuntimeError
    (close would otherwise return without writing, a full queue block for good)."""
    w = core.FileWriter(1, 100)
    pid = os.fork()
    if pid == 0:  # the child: its exit code says which call misbehaved
        code = 0
        for bit, call in enumerate([lambda: w.submit(str(tmp_path / "c"), b"x" * 1000), w.close, w.abandon]):
            try:
                call()
                code |= 1 << bit
            except RuntimeError as exc:
                if "forked child" not in str(exc):
                    code |= 8 << bit
            except BaseException:
                code |= 8 << bit
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    w.submit(str(tmp_path / "p"), b"y")  # the parent's writer is untouched
    w.close()
    assert (tmp_path / "p").read_bytes() == b"y"
    assert not (tmp_path / "c").exists()

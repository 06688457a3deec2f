"""Documents stay where the workers put them: with the local engine each worker appends the
documents it makes to a spool file of its own in the run's working folder and returns a
reference (``steps.Ref``); the driver's ``Spool`` is the ordered index of references, and
pass 2's workers read their documents by reference. An engine whose workers do not share
the driver's files (Ray) gets and sends the bytes, as one worker in the driver does."""

from __future__ import annotations

import errno
import os
import pickle
import signal
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cleaner.dedup.settings import DedupSettings
from cleaner.document import Document
from cleaner.engines.local import LocalEngine
from cleaner.pipeline import RunSettings
from cleaner.sources import readers
from cleaner.steps import Dedup, ReadClean, Ref, RunState, Spool, Templates, Write, close_spool_files, spool_out

from .test_steps import STORY, TEMPLATE, _story

MARK = "Kestrel-Marker-Line"


class Recording(LocalEngine):
    """The local engine, noting what the driver sends its workers in pass 2 and every
    document entry they return; ``shares_files=False`` makes it stand for an engine whose
    workers may be on other machines (Ray), on real forked workers."""

    def __init__(self, workers: int, shares_files: bool = True):
        super().__init__(workers)
        self.shares_files = shares_files
        self.returned: list[Any] = []
        self.sent: list[Any] = []
        self.results: list[Any] = []  # pass 2's results, whole

    def map(self, fn: Any, items: Iterable[Any], *args: Any, **kw: Any) -> Iterator[Any]:
        for result in super().map(fn, items, *args, **kw):
            self.returned += [rec.blob for rec in result]
            yield result

    def map_shared(self, fn: Any, shared: Any, items: Iterable[Any], *args: Any, **kw: Any) -> Iterator[Any]:
        def noted(items: Iterable[Any]) -> Iterator[Any]:
            for item in items:
                self.sent.append(item)
                yield item

        for result in super().map_shared(fn, shared, noted(items), *args, **kw):
            self.returned.append(result.blob)
            self.results.append(result)
            yield result


def _corpus(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    for site in ("harbour", "rail"):
        (raw / site).mkdir(parents=True)
        for n in range(24):
            text = f"{_story(n)}\n\n{TEMPLATE}\n"
            if n == 5:
                text = f"{MARK}: {STORY}\n\n" + text
            (raw / site / f"p{n}.txt").write_text(text, encoding="utf-8")
    (raw / "rail/copy.txt").write_text(f"{_story(3)}\n\n{TEMPLATE}\n", encoding="utf-8")  # a duplicate
    return raw


def _plain(doc: Document) -> dict[str, Any]:
    """A document's fields as comparable values (a pickle's bytes depend on which of its
    strings are the same object, which is not the same in a worker and in the driver)."""
    return {k: v.tolist() if hasattr(v, "tolist") else v for k, v in vars(doc).items()}


def _run(tmp_path: Path, raw: Path, engine: Any, name: str
         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], RunState, dict[str, Spool]]:
    """The four steps on ``engine``: the final documents (pass 2's spool, as plain values), the
    manifest records (Dedup and Write, which read the spool's references in the driver),
    the state, and the two passes' spools."""
    work = tmp_path / name
    work.mkdir()
    settings = RunSettings(workers=engine.workers, dedup=DedupSettings(), write_corpus=False)
    state = RunState(settings, engine, work, list(readers.walk(raw)))
    spools = {}
    with engine:
        ReadClean()(state)
        spools["cleaned"] = state.docs
        Templates()(state)
        spools["final"] = state.docs
        final = [_plain(pickle.loads(b)) for b in state.docs.pickled()]
        Dedup()(state)
        Write()(state)
    assert state.digest is not None
    return final, state.digest.records, state, spools


def _worker_files(work: Path) -> list[Path]:
    return sorted(work.glob("*-*.spool"))


def test_local_workers_return_references_and_the_outputs_are_the_same(tmp_path: Path) -> None:
    raw = _corpus(tmp_path)
    final1, records1, *_ = _run(tmp_path, raw, LocalEngine(1), "one")
    engine = Recording(2)
    final2, records2, state, spools = _run(tmp_path, raw, engine, "two")
    assert final2 == final1 and records2 == records1  # every document, every field
    assert any(r["status"] == "duplicate" for r in records2)
    # not one document's bytes came to the driver, nor went from it to a worker
    assert len(engine.returned) == 2 * len(records2)
    assert all(isinstance(b, Ref) for b in engine.returned), {type(b) for b in engine.returned}
    assert len(engine.sent) == len(records2) and all(isinstance(x, Ref) for x in engine.sent)
    files = _worker_files(state.work)
    pids = {int(f.stem.rsplit("-", 1)[1]) for f in files}
    # the first pass's files and the signatures' are deleted once pass 2 has read them
    assert {f.name.split("-")[0] for f in files} == {"final"} and os.getpid() not in pids
    assert spools["cleaned"].files and not any(Path(f).exists() for f in spools["cleaned"].files)
    # the driver's spools are the index: a reference (24 bytes) per document, no text
    assert (state.work / "final.pkl").stat().st_size == 24 * len(records2)
    assert not _worker_files(tmp_path / "one")  # one worker is the driver: it spools the bytes


def test_an_engine_without_shared_files_gets_the_bytes(tmp_path: Path) -> None:
    """As the Ray engine: the workers may be on other machines, so they return each
    document's bytes and pass 2 is sent them; the outputs are the same."""
    raw = _corpus(tmp_path)
    final1, records1, *_ = _run(tmp_path, raw, LocalEngine(1), "one")
    engine = Recording(2, shares_files=False)
    final2, records2, state, spools = _run(tmp_path, raw, engine, "two")
    assert final2 == final1 and records2 == records1
    assert engine.returned and all(isinstance(b, bytes) for b in engine.returned)
    assert engine.sent and all(isinstance(x, bytes) for x in engine.sent)
    assert not _worker_files(state.work)


def test_signatures_reach_the_driver_by_reference_or_as_bytes_and_give_the_same_duplicates(
        tmp_path: Path) -> None:
    """Pass 2's workers write each document's MinHash signatures to a spool file of their
    own and return where (``Untemplated.sigs``), the features keeping only their small
    columns; the driver reads the rows back for the duplicate finder and deletes the files
    at the end of the pass. Without shared files the signatures travel in the features.
    Both find the duplicates one worker does."""
    from cleaner.dedup.settings import DedupSettings

    raw = _corpus(tmp_path)
    *_, one, _ = _run(tmp_path, raw, LocalEngine(1), "one")
    by_ref, by_bytes = Recording(2), Recording(2, shares_files=False)
    *_, state_ref, _ = _run(tmp_path, raw, by_ref, "ref")
    *_, state_bytes, _ = _run(tmp_path, raw, by_bytes, "bytes")
    num_perm = DedupSettings().num_perm

    def signed(columns: tuple[Any, ...]) -> int:  # rows with shingles (features.Columns' sizes)
        return int((np.frombuffer(columns[1], dtype="<i4") > 0).sum())

    kept = [r for r in by_ref.results if r.features is not None]
    assert kept and all(isinstance(r.sigs, Ref) and r.features[3] == b"" for r in kept)
    for r in kept:  # one row of num_perm uint32 per row with shingles, in a file now gone
        assert r.sigs.length == 4 * num_perm * signed(r.features)
        assert Path(r.sigs.path).name.startswith("sigs-") and not Path(r.sigs.path).exists()
    sent = [r for r in by_bytes.results if r.features is not None]
    assert sent and all(r.sigs is None and len(r.features[3]) == 4 * num_perm * signed(r.features) for r in sent)
    assert one.duplicates["documents"]
    assert state_ref.duplicates == state_bytes.duplicates == one.duplicates


def _die_mid_write(flag: Path, stage: str) -> Any:
    """An ``os.writev`` that, the first time a worker writes the marked document to its
    ``stage`` spool file, writes half of its record and is killed (SIGKILL, as by the OOM
    killer); the flag file holds the dead worker's file and where the half record starts."""
    real = os.writev

    def writev(fd: int, buffers: list[bytes]) -> int:
        data = b"".join(buffers)
        path = os.readlink(f"/proc/self/fd/{fd}")
        if MARK.encode() in data and Path(path).name.startswith(f"{stage}-"):
            try:
                once = os.open(flag, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                return real(fd, buffers)
            os.write(once, f"{path}\n{os.fstat(fd).st_size}".encode())
            os.close(once)
            os.write(fd, data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return real(fd, buffers)

    return writev


@pytest.mark.timeout(120)
@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("stage", ["cleaned", "final"])
def test_a_worker_killed_mid_write_leaves_no_referenced_partial_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    raw = _corpus(tmp_path)
    final1, records1, *_ = _run(tmp_path, raw, LocalEngine(1), "one")
    flag = tmp_path / "died"
    monkeypatch.setattr(os, "writev", _die_mid_write(flag, stage))  # the forked workers inherit it
    monkeypatch.setattr(Spool, "remove", Spool.close)  # pass 1's files kept, to be read below
    final2, records2, state, spools = _run(tmp_path, raw, LocalEngine(2), "two")
    path, start = flag.read_text().split("\n")  # a worker did die mid-write
    dead, start_at = Path(path), int(start)
    assert dead.stat().st_size > start_at  # its half record is there, at the end of its file
    # the document ran again in another process, which wrote it to its own file; the run is
    # the undisturbed one's
    assert final2 == final1 and records2 == records1
    entries = list(spools[stage].entries())
    assert len(entries) == len(records2) and all(isinstance(e, Ref) for e in entries)
    # no reference reaches into the half record: each is a whole record of its file
    for ref in entries:
        assert not (ref.path == str(dead) and ref.offset + ref.length > start_at)
        with open(ref.path, "rb") as f:
            f.seek(ref.offset - 8)
            assert int.from_bytes(f.read(8), "little") == ref.length


def test_a_write_error_in_a_worker_fails_the_run_naming_the_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk in a worker is the run's failure, as in the driver: never a document
    silently missing from the spool."""
    raw = _corpus(tmp_path)

    def full(fd: int, buffers: list[bytes]) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "writev", full)
    with pytest.raises(OSError) as caught:
        _run(tmp_path, raw, LocalEngine(2), "two")
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename.startswith(str(tmp_path / "two" / "cleaned-"))
    assert "No space left on device" in str(caught.value)


def test_a_spool_keeps_bytes_and_references_in_order(tmp_path: Path) -> None:
    docs = [Document(path=f"d{n}.txt", text=_story(n)) for n in range(5)]
    blobs = [pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL) for d in docs]
    spool = Spool(tmp_path / "index.pkl")
    prefix = str(tmp_path / "stage")
    entries = [blobs[0], spool_out(blobs[1], prefix), blobs[2], spool_out(blobs[3], prefix), spool_out(blobs[4], None)]
    assert [type(e) for e in entries] == [bytes, Ref, bytes, Ref, bytes]
    for e in entries:
        spool.add_pickled(e)
    spool.close()
    assert list(spool.entries()) == entries
    assert list(spool.pickled()) == blobs
    assert [d.path for d in spool] == [d.path for d in docs]
    assert spool.files == [f"{prefix}-{os.getpid()}.spool"]
    close_spool_files()


def test_a_full_disk_is_a_one_line_error_and_nothing_is_published(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``cleaner clean`` on a disk that fills in a worker: exit 2, one line naming the file
    and the cause (not a traceback), and no manifest in OUT."""
    from .conftest import run_cli

    raw = _corpus(tmp_path)

    def full(fd: int, buffers: list[bytes]) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "writev", full)  # the forked workers inherit it
    out = tmp_path / "out"
    result = run_cli("clean", raw, "-o", out, "-q", "--no-progress", "--workers", "2", expect=2)
    errors = [ln for ln in result.output.splitlines() if ln.startswith("cleaner: error:")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert "No space left on device" in errors[0] and "cleaned-" in errors[0] and ".spool" in errors[0]
    assert not (out / "manifest.jsonl").exists()


def test_reading_many_spool_files_holds_a_bounded_number_of_descriptors(tmp_path: Path) -> None:
    """Worker deaths make a spool file per re-run item: reading references to hundreds of
    files (a worker's spool_in, the driver's Spool.pickled) keeps at most _Readers.MAX_OPEN
    of them open, and reads every record right."""
    from cleaner import steps

    n = 3 * steps._Readers.MAX_OPEN
    refs = []
    for i in range(n):
        path = tmp_path / f"final-{i}.spool"
        blob = f"record {i}".encode()
        path.write_bytes(len(blob).to_bytes(8, "little") + blob)
        refs.append(Ref(str(path), 8, len(blob)))

    def open_spools() -> int:
        return sum(1 for fd in Path("/proc/self/fd").iterdir()
                   if str(tmp_path) in os.path.realpath(fd) if fd.exists())

    steps.close_spool_files()
    try:
        for _ in range(2):  # twice: the second round reopens what the first closed
            for i, ref in enumerate(refs):
                assert steps.spool_in(ref) == f"record {i}".encode()
                assert open_spools() <= steps._Readers.MAX_OPEN
        spool = Spool(tmp_path / "index.pkl")
        for ref in refs:
            spool.add_pickled(ref)
        spool.close()
        seen = []
        for blob in spool.pickled():
            seen.append(blob)
            # the driver's reader, this process's worker reader, and the spool's own index file
            assert open_spools() <= 2 * steps._Readers.MAX_OPEN + 1
        assert seen == [f"record {i}".encode() for i in range(n)]
    finally:
        steps.close_spool_files()
    assert open_spools() == 0


def test_a_read_by_reference_makes_no_pid_call_and_a_forked_child_opens_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """_Readers and the workers' appenders notice a fork by a count the fork hook keeps, not
    by ``os.getpid()`` on every read (a system call per document in the driver's pass 2);
    a child of a fork still drops the parent's descriptors and opens its own, and its
    appender writes a file of its own pid."""
    from cleaner import steps

    path = tmp_path / "sigs-1.spool"
    path.write_bytes((5).to_bytes(8, "little") + b"hello")
    ref = Ref(str(path), 8, 5)
    readers = steps._Readers()
    try:
        assert readers.read(ref) == b"hello"
        parent_fd = readers.fds[str(path)]
        calls: list[int] = []
        real = os.getpid
        monkeypatch.setattr(os, "getpid", lambda: calls.append(1) or real())
        for _ in range(50):
            assert readers.read(ref) == b"hello"
        assert calls == []
        monkeypatch.undo()
        prefix = str(tmp_path / "final")
        steps.spool_out(b"parent", prefix)
        r, w = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through the pipe
            ok = 0
            try:
                closed: list[int] = []
                close = steps._close_quietly
                steps._close_quietly = lambda fd: (closed.append(fd), close(fd))  # type: ignore[assignment]
                got = readers.read(ref)
                fresh = closed == [parent_fd] and str(path) in readers.fds
                steps.spool_out(b"child", prefix)
                mine = Path(f"{prefix}-{os.getpid()}.spool").exists()
                ok = int(got == b"hello" and fresh and mine)
            finally:
                os.write(w, bytes([ok]))
                os._exit(0)
        os.close(w)
        assert os.read(r, 1) == b"\x01"
        os.close(r)
        os.waitpid(child, 0)
    finally:
        readers.close()
        steps.close_spool_files()


def test_the_driver_reads_references_in_any_order_and_refuses_a_short_one(tmp_path: Path) -> None:
    """Spool.pickled reads references interleaved across files, backwards, repeated, or
    longer than a read-ahead would be, right; one past the file's end is an error naming
    the file."""
    files, refs = [], []
    for f in range(2):
        path = tmp_path / f"w{f}.spool"
        data, at = b"", 0
        for i in range(6):
            blob = (f"{f}:{i}:" + "x" * (i * 300_000)).encode()  # some longer than the read-ahead
            refs.append((Ref(str(path), at, len(blob)), blob))
            data += blob
            at += len(blob)
        path.write_bytes(data)
        files.append(path)
    order = [0, 6, 1, 7, 2, 3, 11, 10, 5, 4, 0, 0, 9, 8, 8]
    spool = Spool(tmp_path / "index.pkl")
    for k in order:
        spool.add_pickled(refs[k][0])
    spool.add_pickled(b"inline")
    spool.close()
    assert list(spool.pickled()) == [refs[k][1] for k in order] + [b"inline"]
    short = Spool(tmp_path / "short.pkl")
    last = refs[5][0]
    short.add_pickled(Ref(last.path, last.offset, last.length + 1))
    short.close()
    with pytest.raises(RuntimeError, match="w0.spool: spool record at .* is short"):
        list(short.pickled())


def test_a_spool_writes_its_records_in_blocks_and_reads_them_back(tmp_path: Path) -> None:
    """Records larger than a file object's default buffer (a document's pickle is 15 KB on
    a crawl of 8 KB pages) are gathered in the spool's own buffer and reach the system in
    blocks (:data:`cleaner.steps.SPOOL_BUFFER`), not in a write each; read back the same."""
    from cleaner.steps import SPOOL_BUFFER

    blobs = [bytes([n]) * (20_000 + n) for n in range(8)]
    assert sum(len(b) + 8 for b in blobs) < SPOOL_BUFFER
    spool = Spool(tmp_path / "index.pkl")
    for b in blobs:
        spool.add_pickled(b)
    assert os.path.getsize(tmp_path / "index.pkl") == 0  # all still in the buffer
    spool.close()
    assert os.path.getsize(tmp_path / "index.pkl") == sum(len(b) + 8 for b in blobs)
    assert list(spool.entries()) == blobs


def test_a_spool_still_open_reads_back_what_its_buffer_holds(tmp_path: Path) -> None:
    """entries() on a spool not yet closed: the records still in its buffer are flushed
    first (they were read as empty records: a header read short gave n == 0)."""
    blobs = [bytes([n]) * (1000 + n) for n in range(5)]
    spool = Spool(tmp_path / "index.pkl")
    for b in blobs:
        spool.add_pickled(b)
    spool.add_pickled(Ref("w0.spool", 8, 16))
    entries = list(spool.entries())
    assert entries[:5] == blobs and entries[5] == Ref("w0.spool", 8, 16)
    spool.add_pickled(b"later")  # the spool stays open to more
    spool.close()
    assert list(spool.entries())[-1] == b"later"


@pytest.mark.parametrize("cut", [3, 8 + 500, 8 + 1000 + 8 + 4])
def test_a_truncated_spool_file_is_an_error_not_an_empty_record(tmp_path: Path, cut: int) -> None:
    spool = Spool(tmp_path / "index.pkl")
    spool.add_pickled(b"a" * 1000)
    spool.add_pickled(Ref("w0.spool", 8, 16))
    spool.close()
    os.truncate(tmp_path / "index.pkl", cut)
    with pytest.raises(RuntimeError, match="index.pkl: spool entry at .* is short"):
        list(spool.entries())

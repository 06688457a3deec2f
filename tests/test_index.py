"""The persistent index: SQLite and Redis behave the same, reruns are idempotent, settings
are guarded, removal works, the check gate's exit codes, and failures leave the index
as it was."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import ROOT, read_manifest, run_cli

ARTICLE = [
    "The city council voted on Tuesday to approve a budget that raises spending on roads, schools and "
    "public transport by eight percent, the largest increase in a decade.",
    "Members said the plan would be reviewed again in the spring, after the first quarter's figures "
    "arrive and the state confirms its own grants to the region.",
    "Officials expect the new road programme to start in May, once contracts have been signed with "
    "builders and the weather allows work on the northern bypass.",
    "Opposition members criticised the vote, saying the council had ignored warnings from auditors "
    "about the cost of borrowing and the rising price of materials.",
]
OTHER = [
    "Scientists at the northern observatory reported a bright comet that will be visible to the naked "
    "eye for two weeks in early March, weather permitting.",
    "The comet, discovered last autumn by an amateur astronomer, is expected to pass closest to the sun "
    "on the fourth of March before heading back into deep space.",
    "Astronomers recommend looking low on the western horizon shortly after sunset, away from city lights, "
    "and say binoculars will show its long tail clearly.",
]
THIRD = [
    "The national football team announced its squad for the autumn qualifiers on Monday, recalling two "
    "veterans and naming three uncapped players from the second division.",
    "The coach said the young players had earned their places with strong performances this season and "
    "that the squad would meet for training camp next week.",
]


def write(d: Path, name: str, paras: list[str], header: str = "Home\nAll news\n") -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(header + "\n\n".join(paras) + "\n\nLeave a Reply\nGreat piece!\n", encoding="utf-8")


def mixed_corpus(raw: Path, seeds: Path) -> Path:
    """The seeds, a republished copy of each in another "site" with its own chrome, and a
    blog with three stories and a truncated copy of one: a corpus with real duplicates of
    documents and passages, for comparing two ways of running the same pipeline."""
    for i, seed in enumerate(sorted(seeds.iterdir())):
        (raw / "seeds").mkdir(parents=True, exist_ok=True)
        (raw / "seeds" / seed.name).write_bytes(seed.read_bytes())
        write(raw / "mirror", f"copy{i}.txt", seed.read_text(encoding="utf-8").split("\n")[2:], header="Menu\n")
    write(raw / "blog", "council.txt", ARTICLE)
    write(raw / "blog", "comet.txt", OTHER)
    write(raw / "blog", "football.txt", THIRD)
    write(raw / "blog", "council-again.txt", ARTICLE[:3])
    return raw


@pytest.fixture
def batches(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    write(old, "council.txt", ARTICLE)
    write(old, "comet.txt", OTHER)
    # the new batch: a republished copy of the council story (edited), and a new story
    edited = [ARTICLE[0].replace("Tuesday", "Tuesday evening"), *ARTICLE[1:3]]
    write(new, "copy-of-council.txt", edited, header="Menu\nSearch\n")
    write(new, "football.txt", THIRD)
    return old, new


def fates(out: Path) -> dict[str, tuple[str, object]]:
    return {r["path"]: (r["status"], r.get("duplicate_of")) for r in read_manifest(out)}


def run_flow(tmp_path: Path, old: Path, new: Path, index: str) -> dict:
    run_cli("clean", old, "-o", tmp_path / "o1", "--index", index, "--workers", "1", "--create-index")
    run_cli("clean", new, "-o", tmp_path / "o2", "--index", index, "--workers", "1")
    second = fates(tmp_path / "o2")
    # rerunning the old batch: nothing becomes a duplicate of itself
    run_cli("clean", old, "-o", tmp_path / "o3", "--index", index, "--workers", "1")
    rerun = fates(tmp_path / "o3")
    stats = json.loads(run_cli("index", "stats", index).output)
    return {"second": second, "rerun": rerun, "docs": stats["documents"], "passages": stats["passages"]}


def test_sqlite_index_flow(tmp_path: Path, batches) -> None:
    old, new = batches
    got = run_flow(tmp_path, old, new, str(tmp_path / "corpus.idx"))
    assert got["second"]["copy-of-council.txt"] == (
        "duplicate", {"path": "council.txt", "id": None, "batch": "old", "indexed": True})
    assert got["second"]["football.txt"][0] == "kept"
    assert got["rerun"] == {"comet.txt": ("kept", None), "council.txt": ("kept", None)}
    assert got["docs"] == 3  # council, comet, football; the rerun added nothing
    dup = json.loads((tmp_path / "o2" / "duplicates.json").read_text())
    assert dup["documents"][0]["kept"] == {"path": "council.txt", "id": None, "batch": "old", "indexed": True}


@pytest.mark.redis
def test_redis_behaves_like_sqlite(tmp_path: Path, batches, redis_server) -> None:
    old, new = batches
    sqlite = run_flow(tmp_path / "a", old, new, str(tmp_path / "corpus.idx"))
    redis_ = run_flow(tmp_path / "b", old, new, redis_server.url + "?prefix=test")
    assert redis_ == sqlite
    for name in ("o2",):
        a = (tmp_path / "a" / name / "duplicates.json").read_text()
        b = (tmp_path / "b" / name / "duplicates.json").read_text()
        assert a == b


@pytest.mark.redis
def test_redis_band_reads_answer_as_datasketch_query(tmp_path: Path, batches, redis_server) -> None:
    """The Redis index reads the LSH bands itself, in pipelines, from datasketch's key layout
    (not its public interface): for every indexed signature, for copies of them with some
    bands changed, and for unrelated ones, the items equal ``MinHashLSH.query``'s."""
    import numpy as np

    from cleaner.dedup.index import open_index
    from cleaner.dedup.minhash import to_minhash

    old, new = batches
    url = redis_server.url + "?prefix=q"
    run_cli("clean", old, "-o", tmp_path / "o1", "--index", url, "--workers", "1", "--create-index")
    run_cli("clean", new, "-o", tmp_path / "o2", "--index", url, "--workers", "1")
    idx = open_index(url, {}, create=False)
    try:
        rng = np.random.default_rng(7)
        for kind in ("doc", "passage"):
            sigs = np.array([e.sketch.sig for e in idx.export() if e.kind == kind and e.sketch.sig is not None],
                            dtype=np.uint32)
            assert len(sigs) >= 2, kind
            lsh = idx._lsh[kind]
            width = lsh.hashranges[0][1] - lsh.hashranges[0][0]
            changed = sigs.copy()
            changed[:, width:] ^= 1  # only the first band left as indexed
            others = rng.integers(0, 2**32, size=(5, sigs.shape[1]), dtype=np.uint32)
            asked = np.concatenate([sigs, changed, others])
            got = idx.band_items(kind, asked)
            want = [lsh.query(to_minhash(sig, idx.meta["seed"])) for sig in asked]
            want = [[k.decode() if isinstance(k, bytes) else k for k in items] for items in want]
            assert [sorted(g) for g in got] == [sorted(w) for w in want]
            assert all(got[: 2 * len(sigs)]) and not any(got[2 * len(sigs):]), "hits and misses both asked"
    finally:
        idx.close()


@pytest.mark.redis
def test_redis_bands_are_what_datasketch_writes(tmp_path: Path, redis_server) -> None:
    """``index add`` writes each item's LSH bands itself, in the pipeline of its records
    (datasketch's insertion session cost a round trip per item and a transaction per band
    table): the key lists and buckets it writes are exactly those ``MinHashLSH.insert``
    writes for the same items and signatures, and datasketch finds the items by them.
    Removing items, a pipeline too, leaves exactly what ``MinHashLSH.remove`` leaves."""
    import redis
    from datasketch import MinHashLSH

    from cleaner.dedup import minhash
    from cleaner.dedup.index import open_index

    _corpus(tmp_path / "a", 6)
    run_cli("index", "add", redis_server.url + "?prefix=mine", tmp_path / "a")
    r = redis.Redis(port=redis_server.port)
    index = open_index(redis_server.url + "?prefix=mine", {}, create=False)
    records = {k.decode(): json.loads(v) for k, v in r.hgetall("mine:items").items()}

    def dump(prefix: bytes) -> dict[bytes, object]:
        """Every key under ``prefix`` with its value, the prefix taken out of both."""
        out: dict[bytes, object] = {}
        for key in r.scan_iter(match=prefix + b"*"):
            name, kind = key.replace(prefix, b"@", 1), r.type(key)
            if kind == b"hash":
                out[name] = {f: v.replace(prefix, b"@", 1) for f, v in r.hgetall(key).items()}
            elif kind == b"list":
                out[name] = r.lrange(key, 0, -1)
            else:
                out[name] = r.smembers(key)
        return out

    refs = {}
    for kind in ("doc", "passage"):
        ref = MinHashLSH(num_perm=index.meta["num_perm"], params=index.bands_rows(kind), storage_config={
            "type": "redis", "basename": f"ref:{kind}".encode(), "redis": {"port": redis_server.port}})
        signed = [(item, np.frombuffer(bytes.fromhex(rec["sig"]), dtype=np.uint32))
                  for item, rec in sorted(records.items()) if rec["kind"] == kind and rec["sig"]]
        assert len(signed) >= 6, kind
        with ref.insertion_session() as session:
            for item, sig in signed:
                session.insert(item, minhash.to_minhash(sig, index.meta["seed"]))
        stored = dump(f"mine:{kind}_".encode())
        assert stored and stored == dump(f"ref:{kind}_".encode()), kind
        for item, sig in signed[:3]:
            assert item in index._lsh[kind].query(minhash.to_minhash(sig, index.meta["seed"]))
        refs[kind] = ref
    # removing (a document with its passages, several buckets left empty) leaves what
    # MinHashLSH.remove leaves
    gone = sorted(item for item, rec in records.items() if rec["path"] == "0001.txt")
    assert len(gone) > 2
    run_cli("index", "remove", redis_server.url + "?prefix=mine", "0001.txt")
    assert not r.hexists("mine:items", gone[0])
    for item in gone:
        refs[records[item]["kind"]].remove(item)
    for kind in ("doc", "passage"):
        assert dump(f"mine:{kind}_".encode()) == dump(f"ref:{kind}_".encode()), kind

def test_mismatched_settings_refused(tmp_path: Path, batches) -> None:
    old, _ = batches
    idx = str(tmp_path / "corpus.idx")
    run_cli("clean", old, "-o", tmp_path / "o1", "--index", idx, "--workers", "1", "--create-index")
    res = run_cli("clean", old, "-o", tmp_path / "o2", "--index", idx, "--num-perm", "64", expect=2)
    assert "num_perm: index has 128, this run uses 64" in res.stderr
    assert "rebuild" in res.stderr
    res = run_cli("clean", old, "-o", tmp_path / "o3", "--index", idx, "--disable", "en.search.*", expect=2)
    assert "rules_version" in res.stderr


def test_remove_stops_matching(tmp_path: Path, batches) -> None:
    old, new = batches
    idx = str(tmp_path / "corpus.idx")
    run_cli("clean", old, "-o", tmp_path / "o1", "--index", idx, "--create-index")
    assert run_cli("check", new, "--index", idx, expect=1).exit_code == 1
    before = json.loads(run_cli("index", "stats", idx).output)
    run_cli("index", "remove", idx, "council.txt")
    # as the help and README say: the site statistics are kept per line, and stay
    after = json.loads(run_cli("index", "stats", idx).output)
    assert after["documents"] == before["documents"] - 1
    assert (after["site_lines"], after["site_documents"]) == (before["site_lines"], before["site_documents"]) != (0, 0)
    res = run_cli("check", new, "--index", idx, expect=0)
    assert "PASS" in res.output
    exported = [json.loads(x) for x in run_cli("index", "export", idx).output.splitlines()]
    assert {e["path"] for e in exported} == {"comet.txt"}
    assert all(len(e["signature"]) == 128 for e in exported if e["signature"])


def test_check_gate(tmp_path: Path, batches) -> None:
    old, new = batches
    idx = str(tmp_path / "corpus.idx")
    run_cli("index", "add", idx, old)
    before = json.loads(run_cli("index", "stats", idx).output)
    res = run_cli("check", new, "--index", idx, "--format", "github", expect=1)
    lines = res.output.splitlines()
    assert any(ln.startswith("::warning file=") and "copy-of-council.txt" in ln and "duplicates old/council.txt" in ln
               for ln in lines)
    assert lines[-1].startswith("::error title=cleaner check::duplicate ratio 0.500")
    assert json.loads(run_cli("index", "stats", idx).output) == before, "check must not change the index"
    res = run_cli("check", new, "--index", idx, "--max-duplicate-ratio", "0.5", "--format", "json", "--update")
    report = json.loads(res.output)
    assert report["ok"] and report["duplicate_ratio"] == 0.5
    assert json.loads(run_cli("index", "stats", idx).output)["documents"] == before["documents"] + 1
    run_cli("check", new, "--index", idx, "--max-duplicate-ratio", "2", expect=2)  # usage error


def _corpus(d: Path, n: int) -> None:
    import random

    rng = random.Random(3)
    words = [f"w{i}" for i in range(5000)]
    for i in range(n):
        paras = [" ".join(rng.choice(words) for _ in range(60)) + "." for _ in range(6)]
        (d / f"{i:04d}.txt").parent.mkdir(parents=True, exist_ok=True)
        (d / f"{i:04d}.txt").write_text("\n\n".join(paras), encoding="utf-8")


def _export(index: str) -> list[str]:
    """The index's contents, by the real ``index export`` command (in this process: a
    second interpreter only costs its start-up; the index is opened afresh either way)."""
    return sorted(run_cli("index", "export", index).stdout.splitlines())


@pytest.mark.slow
def test_sqlite_killed_mid_run_is_as_before_or_complete(tmp_path: Path) -> None:
    base, extra = tmp_path / "base", tmp_path / "extra"
    _corpus(base, 20)
    _corpus(extra, 400)
    idx = str(tmp_path / "c.idx")
    run_cli("index", "add", idx, base)
    before = _export(idx)
    shutil.copyfile(idx, tmp_path / "base.idx")  # closed cleanly: no WAL file beside it
    cmd = [sys.executable, "-m", "cleaner", "clean", str(extra), "-q"]
    t0 = time.perf_counter()
    subprocess.run([*cmd, "-o", str(tmp_path / "o"), "--index", idx], cwd=ROOT, check=True, timeout=300)
    full = time.perf_counter() - t0
    complete = _export(idx)
    assert len(complete) > len(before)
    outcomes = set()
    # The first kill comes while pass 1 is spooling documents (long before dedup touches
    # the index), found by its spool file rather than by time: a run can be faster than
    # the timed one (warm caches) or slower (a loaded machine). The others are timed, late
    # in the run, where the index may be being written.
    for n, frac in enumerate((None, 0.8, 0.9, 0.97)):
        work, out = tmp_path / f"work{n}.idx", tmp_path / f"o{n}"
        shutil.copyfile(tmp_path / "base.idx", work)
        proc = subprocess.Popen([*cmd, "-o", str(out), "--index", str(work)], cwd=ROOT)
        if frac is None:
            deadline = time.monotonic() + 120
            while not any(out.glob(".staging-*/.work-*/*.spool")):
                assert proc.poll() is None and time.monotonic() < deadline, "the run never spooled"
                time.sleep(0.005)
        else:
            time.sleep(full * frac)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = _export(str(work))
        assert after in (before, complete), f"half-written index after a kill at {frac:.0%} of the run"
        outcomes.add("before" if after == before else "complete")
    assert "before" in outcomes


@pytest.mark.redis
@pytest.mark.slow
def test_two_processes_write_one_redis_index(tmp_path: Path, redis_server) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _corpus(a, 60)
    for p in sorted(a.iterdir())[:30]:  # b shares half of a's documents, under other names
        b.mkdir(exist_ok=True)
        shutil.copyfile(p, b / ("copy-" + p.name))
    url = redis_server.url + "?prefix=shared"
    procs = [subprocess.Popen([sys.executable, "-m", "cleaner", "index", "add", url, str(d), "-q"], cwd=ROOT)
             for d in (a, b)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    stats = json.loads(run_cli("index", "stats", url).output)
    # every document of a is indexed; b's copies were either indexed first or found duplicate
    assert 60 <= stats["documents"] <= 90
    res = run_cli("check", a, "--index", url, "--format", "json", expect=None)
    assert json.loads(res.output)["duplicate_ratio"] <= 0.5


@pytest.mark.redis
@pytest.mark.slow
def test_redis_going_away_mid_run(tmp_path: Path, redis_server) -> None:
    base, extra = tmp_path / "base", tmp_path / "extra"
    _corpus(base, 10)
    _corpus(extra, 300)
    url = redis_server.url + "?prefix=gone"
    run_cli("index", "add", url, base)
    before = _export(url)
    proc = subprocess.Popen([sys.executable, "-m", "cleaner", "clean", str(extra), "-o", str(tmp_path / "o"),
                             "--index", url, "--workers", "1"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    redis_server.kill()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode in (1, 2), err
    assert "Traceback" not in err
    assert "Redis" in err.splitlines()[-1]
    redis_server.start()  # from its append-only file
    after = _export(url)
    assert after == before, "an interrupted run's additions are invisible"


# ---- an index is closed on every failing path, not left to the interpreter's teardown,
# which python -m cleaner skips (os._exit): SQLite would leave its -wal and -shm files,
# and a new index's schema would be in the -wal file only


def _cleaner(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cleaner", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def _closed_cleanly(idx: Path, tmp_path: Path) -> None:
    """No -wal or -shm beside ``idx``, and the file alone (copied without them) opens with
    its schema and settings."""
    import sqlite3

    assert sorted(p.name for p in idx.parent.glob(idx.name + "*")) == [idx.name]
    alone = tmp_path / "alone" / idx.name
    alone.parent.mkdir(exist_ok=True)
    shutil.copyfile(idx, alone)
    db = sqlite3.connect(alone)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"meta", "items"} <= tables
        assert db.execute("SELECT value FROM meta WHERE key='settings'").fetchone() is not None
    finally:
        db.close()


def test_a_busy_output_folder_leaves_a_new_index_closed(tmp_path: Path, batches) -> None:
    import fcntl

    old, _ = batches
    out, idx = tmp_path / "out", tmp_path / "new.sqlite"
    out.mkdir()
    with open(out / ".cleaner.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = _cleaner("clean", old, "-o", out, "--index", idx, "--create-index", "--no-progress")
    assert done.returncode == 2, done.stderr
    _closed_cleanly(idx, tmp_path)


def test_an_index_of_other_settings_is_refused_and_closed(tmp_path: Path, batches) -> None:
    old, _ = batches
    idx = tmp_path / "corpus.sqlite"
    run_cli("clean", old, "-o", tmp_path / "o1", "--index", idx, "--workers", "1", "--create-index")
    done = _cleaner("clean", old, "-o", tmp_path / "o2", "--index", idx, "--num-perm", "64", "--no-progress")
    assert done.returncode == 2 and "num_perm" in done.stderr
    _closed_cleanly(idx, tmp_path)


def test_index_commands_close_the_index_when_they_fail(tmp_path: Path, batches) -> None:
    old, new = batches
    idx = tmp_path / "corpus.sqlite"
    run_cli("index", "add", idx, old, "--batch", "one")
    write(tmp_path / "two", "council.txt", THIRD)  # another document of that path, in batch two
    run_cli("index", "add", idx, tmp_path / "two", "--batch", "two")
    done = _cleaner("index", "remove", idx, "council.txt")  # in two batches: refused
    assert done.returncode == 2 and "--batch" in done.stderr
    _closed_cleanly(idx, tmp_path)
    # a reader that stops at the first line: the rest of the export meets a closed pipe. The
    # export must be far larger than what the pipe and the reader's buffer hold (64 KiB and
    # 8 KiB here), or the exporter may finish writing before the reader closes and rightly
    # exit 0: distinct documents (a repeated batch adds only duplicates), its size checked
    rng = np.random.default_rng(7)
    words = [f"w{k}" for k in range(5000)]
    for k in range(150):
        paras = [" ".join(rng.choice(words, 60)) + "." for _ in range(3)]
        write(tmp_path / "many", f"story{k}.txt", paras)
    run_cli("index", "add", idx, tmp_path / "many", "--batch", "many")
    assert len(run_cli("index", "export", idx).output) > 1 << 19
    proc = subprocess.Popen([sys.executable, "-m", "cleaner", "index", "export", str(idx)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    assert json.loads(proc.stdout.readline())["path"]
    proc.stdout.close()
    assert proc.wait(timeout=300) != 0
    _closed_cleanly(idx, tmp_path)


def test_index_stats_closes_the_index_on_an_error(tmp_path: Path, batches, monkeypatch: pytest.MonkeyPatch) -> None:
    from cleaner.dedup import index as index_module

    old, _ = batches
    idx = tmp_path / "corpus.sqlite"
    run_cli("index", "add", idx, old)
    closed: list[str] = []
    real_close = index_module.SQLiteIndex.close

    def close(self: index_module.SQLiteIndex) -> None:
        closed.append(self.spec)
        real_close(self)

    def stats(self: index_module.SQLiteIndex) -> dict:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(index_module.SQLiteIndex, "close", close)
    monkeypatch.setattr(index_module.SQLiteIndex, "stats", stats)
    assert run_cli("index", "stats", idx, expect=None).exit_code != 0  # (click reports a closed pipe)
    assert closed == [str(idx)]

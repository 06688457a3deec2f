"""A persistent index of what the corpus already holds, so new data is compared with it.

Two backends with one behaviour:

* **Embedded** (``--index PATH``): one SQLite file. SQLite because the index must survive
  being killed mid-run (a run's additions are one transaction: the index is as before or
  fully updated), must be queried without loading it (band keys are an indexed table, a
  10,000-passage query is one join), and needs no server.
* **Redis** (``--index redis://[:password@]host:port/db`` or ``rediss://``): the LSH bands
  live in datasketch's own Redis storage (``MinHashLSH`` with ``storage_config`` type
  ``redis`` and a ``basename`` prefix, so several corpora share a server); item records
  and settings sit in hashes under the same prefix. Redis has no multi-key rollback that
  spans datasketch's pipelines, so a run journals the keys it is adding in a pending set
  and marks the run committed at the end; entries of a run that never committed are
  invisible to queries and are removed the next time the index is opened.

Both store, per document and per passage: path, record id, line range, the exact-text key,
the shingle count and the MinHash signature, so a match always names the real document.
The settings that signatures depend on are recorded, and opening an index with different
settings is refused with a message naming what differs.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from . import minhash
from .dedup import Sketch

KINDS = ("doc", "passage")


class IndexError_(Exception):
    """The index cannot be used (mismatched settings, unreachable, corrupt): exit code 2."""


@dataclass
class Entry:
    kind: str  # doc | passage
    path: str
    id: str | None
    line_start: int | None
    line_end: int | None
    sketch: Sketch

    def ref(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "id": self.id}
        if self.kind == "passage":
            out.update(line_start=self.line_start, line_end=self.line_end)
        return out

    def to_json(self) -> dict[str, Any]:
        sk = self.sketch
        return {"kind": self.kind, "path": self.path, "id": self.id, "line_start": self.line_start,
                "line_end": self.line_end, "exact": sk.exact.hex(), "shingles": sk.size,
                "signature": None if sk.sig is None else [int(x) for x in sk.sig]}


def compatible_meta(settings: Any, rules_version: str) -> dict[str, Any]:
    """Everything a stored signature depends on (``settings`` is a DedupSettings)."""
    from .normalise import NORMALISER_VERSION

    db, dr = settings.bands_rows("doc")
    pb, pr = settings.bands_rows("passage")
    return {
        "scheme": minhash.SCHEME, "minhash_version": minhash.MINHASH_VERSION, "seed": settings.seed,
        "num_perm": settings.num_perm, "ngram": settings.ngram, "char_ngram": settings.char_ngram,
        "window": settings.window, "doc_bands": db, "doc_rows": dr, "passage_bands": pb, "passage_rows": pr,
        "doc_sketch": settings.doc_sketch,
        "normaliser_version": NORMALISER_VERSION, "rules_version": rules_version,
    }


def _diff(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    return [f"{k}: index has {stored.get(k)!r}, this run uses {wanted[k]!r}"
            for k in sorted(wanted) if stored.get(k) != wanted[k]]


def open_index(spec: str, meta: dict[str, Any], create: bool = True) -> BaseIndex:
    """Open (or create) the index named by ``spec``; refuse incompatible settings."""
    if spec.startswith(("redis://", "rediss://")):
        idx: BaseIndex = RedisIndex(spec, meta, create)
    else:
        idx = SQLiteIndex(Path(spec), meta, create)
    return idx


class BaseIndex:
    spec: str
    meta: dict[str, Any]

    def _check(self, stored: dict[str, Any] | None, wanted: dict[str, Any]) -> dict[str, Any]:
        if stored is None:
            return wanted
        if not wanted:
            return stored
        diffs = _diff(stored, wanted)
        if diffs:
            raise IndexError_(
                f"index {self.spec} was built with other settings ({'; '.join(diffs)}). Its signatures "
                "cannot be mixed with this run's: run with the index's settings, or rebuild it: "
                f"move it away and run `cleaner index add <new index> <corpus>` with the new settings"
            )
        return stored

    # The interface the dedup stage and the CLI use:
    def find_exact(self, kind: str, exact: bytes) -> list[Entry]: ...
    def candidates(self, kind: str, sigs: np.ndarray) -> list[list[Entry]]: ...
    def add(self, entries: Iterable[Entry]) -> int: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def remove(self, path: str, rid: str | None = None) -> int: ...
    def stats(self) -> dict[str, Any]: ...
    def export(self) -> Iterator[Entry]: ...
    def close(self) -> None: ...

    def bands_rows(self, kind: str) -> tuple[int, int]:
        return (self.meta["doc_bands"], self.meta["doc_rows"]) if kind == "doc" else (
            self.meta["passage_bands"], self.meta["passage_rows"])


# --------------------------------------------------------------------------- SQLite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
  item INTEGER PRIMARY KEY, kind INTEGER NOT NULL, path TEXT NOT NULL, rid TEXT,
  line_start INTEGER, line_end INTEGER, exact BLOB NOT NULL, size INTEGER NOT NULL, sig BLOB);
CREATE INDEX IF NOT EXISTS items_exact ON items (kind, exact);
CREATE INDEX IF NOT EXISTS items_path ON items (path, rid);
CREATE TABLE IF NOT EXISTS bands (key INTEGER NOT NULL, item INTEGER NOT NULL, PRIMARY KEY (key, item))
  WITHOUT ROWID;
"""


class SQLiteIndex(BaseIndex):
    def __init__(self, path: Path, meta: dict[str, Any], create: bool = True):
        self.spec = str(path)
        if not path.exists() and not create:
            raise IndexError_(f"index {path}: does not exist")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), timeout=60, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='settings'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexError_(f"index {path}: not a usable cleaner index ({exc})") from exc
        stored = json.loads(row[0]) if row else None
        self.meta = self._check(stored, meta)
        if stored is None:
            if not meta:
                raise IndexError_(f"index {path}: empty index and no settings to create it with")
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('settings', ?)", (json.dumps(self.meta),))
        self._in_tx = False

    def _begin(self) -> None:
        if not self._in_tx:
            self.db.execute("BEGIN IMMEDIATE")
            self._in_tx = True

    def _entry(self, row: tuple[Any, ...]) -> Entry:
        kind, path, rid, ls, le, exact, size, sig = row
        arr = None if sig is None else np.frombuffer(sig, dtype=np.uint32)
        return Entry(KINDS[kind], path, rid, ls, le, Sketch(bytes(exact), size, arr))

    _COLS = "kind, path, rid, line_start, line_end, exact, size, sig"

    def find_exact(self, kind: str, exact: bytes) -> list[Entry]:
        rows = self.db.execute(f"SELECT {self._COLS} FROM items WHERE kind=? AND exact=? ORDER BY item",
                               (KINDS.index(kind), exact)).fetchall()
        return [self._entry(r) for r in rows]

    def candidates(self, kind: str, sigs: np.ndarray) -> list[list[Entry]]:
        """LSH candidates for many signatures in one join (band keys include the kind)."""
        if len(sigs) == 0:
            return []
        b, r = self.bands_rows(kind)
        keys = _salted(minhash.band_keys(np.asarray(sigs), b, r), kind)
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS q (n INTEGER, key INTEGER)")
        self.db.execute("DELETE FROM q")
        n_idx = np.repeat(np.arange(len(sigs)), keys.shape[1])
        self.db.executemany("INSERT INTO q VALUES (?, ?)", zip(n_idx.tolist(), keys.ravel().tolist(), strict=True))
        rows = self.db.execute(
            f"SELECT DISTINCT q.n, items.item, {', '.join('items.' + c.strip() for c in self._COLS.split(','))} "
            # CROSS JOIN fixes the loop order: for each query key, a lookup in the bands index
            # (the planner would otherwise scan the whole bands table once per batch).
            "FROM q CROSS JOIN bands ON bands.key = q.key CROSS JOIN items ON items.item = bands.item "
            "ORDER BY q.n, items.item").fetchall()
        out: list[list[Entry]] = [[] for _ in range(len(sigs))]
        for row in rows:
            out[row[0]].append(self._entry(row[2:]))
        return out

    def add(self, entries: Iterable[Entry]) -> int:
        self._begin()
        n = 0
        batch: list[Entry] = []
        for e in entries:
            batch.append(e)
            if len(batch) >= 5000:
                n += self._add_batch(batch)
                batch = []
        if batch:
            n += self._add_batch(batch)
        return n

    def _add_batch(self, batch: list[Entry]) -> int:
        cur = self.db.cursor()
        ids = []
        for e in batch:
            sk = e.sketch
            cur.execute("INSERT INTO items (kind, path, rid, line_start, line_end, exact, size, sig) "
                        "VALUES (?,?,?,?,?,?,?,?)",
                        (KINDS.index(e.kind), e.path, e.id, e.line_start, e.line_end, sk.exact, sk.size,
                         None if sk.sig is None else np.asarray(sk.sig, dtype=np.uint32).tobytes()))
            ids.append(cur.lastrowid)
        for kind in KINDS:
            sel = [(i, e) for i, e in zip(ids, batch, strict=True) if e.kind == kind and e.sketch.sig is not None]
            if not sel:
                continue
            b, r = self.bands_rows(kind)
            keys = _salted(minhash.band_keys(np.stack([e.sketch.sig for _, e in sel]), b, r), kind)
            items = np.repeat(np.array([i for i, _ in sel], dtype=np.int64), keys.shape[1])
            cur.executemany("INSERT OR IGNORE INTO bands VALUES (?, ?)",
                            zip(keys.ravel().tolist(), items.tolist(), strict=True))
        return len(batch)

    def commit(self) -> None:
        if self._in_tx:
            self.db.execute("COMMIT")
            self._in_tx = False

    def rollback(self) -> None:
        if self._in_tx:
            self.db.execute("ROLLBACK")
            self._in_tx = False

    def remove(self, path: str, rid: str | None = None) -> int:
        self._begin()
        if rid is None:
            items = [r[0] for r in self.db.execute("SELECT item FROM items WHERE path=?", (path,))]
        else:
            items = [r[0] for r in self.db.execute("SELECT item FROM items WHERE path=? AND rid=?", (path, rid))]
        for i in range(0, len(items), 500):
            chunk = items[i:i + 500]
            marks = ",".join("?" * len(chunk))
            self.db.execute(f"DELETE FROM bands WHERE item IN ({marks})", chunk)
            self.db.execute(f"DELETE FROM items WHERE item IN ({marks})", chunk)
        return len(items)

    def stats(self) -> dict[str, Any]:
        counts = dict(self.db.execute("SELECT kind, COUNT(*) FROM items GROUP BY kind").fetchall())
        return {"backend": "sqlite", "index": self.spec,
                "documents": counts.get(0, 0), "passages": counts.get(1, 0),
                "bands": self.db.execute("SELECT COUNT(*) FROM bands").fetchone()[0],
                "bytes": Path(self.spec).stat().st_size, "settings": self.meta}

    def export(self) -> Iterator[Entry]:
        for row in self.db.execute(f"SELECT {self._COLS} FROM items ORDER BY item"):
            yield self._entry(row)

    def close(self) -> None:
        self.rollback()
        self.db.close()


def _salted(keys: np.ndarray, kind: str) -> np.ndarray:
    """Band keys as signed 64-bit ints (SQLite INTEGER), separated by kind."""
    salt = np.uint64(0x9E3779B97F4A7C15 if kind == "passage" else 0)
    return (keys.astype(np.uint64) ^ salt).view(np.int64)


# --------------------------------------------------------------------------- Redis


def _redis_config(spec: str) -> tuple[dict[str, Any], str]:
    u = urlsplit(spec)
    cfg: dict[str, Any] = {"host": u.hostname or "localhost", "port": u.port or 6379,
                           "socket_timeout": 10, "socket_connect_timeout": 5}
    db = u.path.strip("/")
    if db:
        if not db.isdigit():
            raise IndexError_(f"index {spec}: the database must be a number (redis://host:port/0)")
        cfg["db"] = int(db)
    if u.password:
        cfg["password"] = unquote(u.password)
    if u.username:
        cfg["username"] = unquote(u.username)
    if u.scheme == "rediss":
        cfg["ssl"] = True
    from urllib.parse import parse_qs

    prefix = parse_qs(u.query).get("prefix", ["cleaner"])[0]
    return cfg, prefix


class RedisIndex(BaseIndex):
    """The index in Redis; bands through datasketch's Redis storage."""

    def __init__(self, spec: str, meta: dict[str, Any], create: bool = True):
        import redis

        self.spec = spec.split("@")[-1] if "@" in spec else spec  # never echo a password
        cfg, self.prefix = _redis_config(spec)
        self.cfg = cfg
        try:
            self.r = redis.Redis(**cfg)
            raw = self.r.get(self._k("settings"))
        except redis.RedisError as exc:
            raise IndexError_(f"index {self.spec}: cannot reach Redis ({exc})") from exc
        stored = json.loads(raw) if raw else None
        if stored is None and not create:
            raise IndexError_(f"index {self.spec}: no cleaner index under prefix {self.prefix!r}")
        self.meta = self._check(stored, meta)
        if stored is None:
            self.r.setnx(self._k("settings"), json.dumps(self.meta))
            self.meta = self._check(json.loads(self.r.get(self._k("settings"))), meta)
        self._lsh = {kind: self._make_lsh(kind) for kind in KINDS}
        self.run = uuid.uuid4().hex
        self._pending: list[str] = []
        self._recover()

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _make_lsh(self, kind: str) -> Any:
        from datasketch import MinHashLSH

        b, r = self.bands_rows(kind)
        return MinHashLSH(num_perm=self.meta["num_perm"], params=(b, r), storage_config={
            "type": "redis", "basename": self._k(kind).encode(), "redis": self.cfg})

    def _recover(self) -> None:
        """Remove entries of runs that never committed (killed, or Redis went away)."""
        for key in self.r.scan_iter(match=self._k("pending", "*")):
            run = key.decode().rsplit(":", 1)[-1]
            if self.r.sismember(self._k("committed"), run):
                self.r.delete(key)
                continue
            started = float(self.r.hget(self._k("runs"), run) or 0)
            if time.time() - started < 6 * 3600:
                continue  # maybe another process still writing: leave it alone, it is invisible anyway
            for item in self.r.smembers(key):
                self._drop_item(item.decode())
            self.r.delete(key)

    def _drop_item(self, item: str) -> None:
        kind = "doc" if item.startswith("d:") else "passage"
        try:
            self._lsh[kind].remove(item)
        except ValueError:
            pass
        self.r.hdel(self._k("items"), item)
        raw = self.r.hget(self._k("exact_of"), item)
        if raw:
            self.r.srem(self._k("exact", kind, raw.decode()), item)
            self.r.hdel(self._k("exact_of"), item)

    def _visible(self, items: list[str]) -> list[Entry]:
        if not items:
            return []
        raws = self.r.hmget(self._k("items"), items)
        runs = {json.loads(raw)["run"] for raw in raws if raw}
        committed = {run for run in runs if self.r.sismember(self._k("committed"), run)} | {self.run}
        out = []
        for _item, raw in sorted(zip(items, raws, strict=True), key=lambda t: t[0]):
            if not raw:
                continue
            rec = json.loads(raw)
            if rec["run"] in committed:
                sig = None if rec["sig"] is None else np.frombuffer(bytes.fromhex(rec["sig"]), dtype=np.uint32)
                out.append(Entry(rec["kind"], rec["path"], rec["id"], rec["ls"], rec["le"],
                                 Sketch(bytes.fromhex(rec["exact"]), rec["size"], sig)))
        out.sort(key=lambda e: (e.path, str(e.id), e.line_start or 0))
        return out

    def find_exact(self, kind: str, exact: bytes) -> list[Entry]:
        items = [x.decode() for x in self.r.smembers(self._k("exact", kind, exact.hex()))]
        return self._visible(items)

    def candidates(self, kind: str, sigs: np.ndarray) -> list[list[Entry]]:
        lsh = self._lsh[kind]
        out = []
        for sig in sigs:
            keys = lsh.query(minhash.to_minhash(sig, self.meta["seed"]))
            out.append(self._visible([k.decode() if isinstance(k, bytes) else k for k in keys]))
        return out

    def add(self, entries: Iterable[Entry]) -> int:
        pend = self._k("pending", self.run)
        if not self._pending:
            self.r.hset(self._k("runs"), self.run, time.time())
        n = 0
        batch: list[Entry] = []
        sessions = {kind: self._lsh[kind].insertion_session(buffer_size=5000) for kind in KINDS}
        try:
            for e in entries:
                batch.append(e)
                if len(batch) >= 1000:
                    n += self._add_batch(batch, pend, sessions)
                    batch = []
            if batch:
                n += self._add_batch(batch, pend, sessions)
        finally:
            for s in sessions.values():
                s.close()
        return n

    def _add_batch(self, batch: list[Entry], pend: str, sessions: dict[str, Any]) -> int:
        items = [("d:" if e.kind == "doc" else "p:") + uuid.uuid4().hex for e in batch]
        self.r.sadd(pend, *items)  # journal first: a crash after this is recoverable
        self._pending.extend(items)
        pipe = self.r.pipeline(transaction=False)
        for item, e in zip(items, batch, strict=True):
            sk = e.sketch
            rec = {"kind": e.kind, "path": e.path, "id": e.id, "ls": e.line_start, "le": e.line_end,
                   "exact": sk.exact.hex(), "size": sk.size, "run": self.run,
                   "sig": None if sk.sig is None else np.asarray(sk.sig, dtype=np.uint32).tobytes().hex()}
            pipe.hset(self._k("items"), item, json.dumps(rec))
            pipe.sadd(self._k("exact", e.kind, sk.exact.hex()), item)
            pipe.hset(self._k("exact_of"), item, sk.exact.hex())
        pipe.execute()
        for item, e in zip(items, batch, strict=True):
            if e.sketch.sig is not None:
                sessions[e.kind].insert(item, minhash.to_minhash(e.sketch.sig, self.meta["seed"]))
        return len(batch)

    def commit(self) -> None:
        if self._pending:
            self.r.sadd(self._k("committed"), self.run)
            self.r.delete(self._k("pending", self.run))
            self._pending = []
            self.run = uuid.uuid4().hex

    def rollback(self) -> None:
        for item in self._pending:
            self._drop_item(item)
        self.r.delete(self._k("pending", self.run))
        self._pending = []

    def remove(self, path: str, rid: str | None = None) -> int:
        n = 0
        for item, raw in self.r.hscan_iter(self._k("items")):
            rec = json.loads(raw)
            if rec["path"] == path and (rid is None or rec["id"] == rid):
                self._drop_item(item.decode())
                n += 1
        return n

    def stats(self) -> dict[str, Any]:
        counts = {"doc": 0, "passage": 0}
        for _item, raw in self.r.hscan_iter(self._k("items")):
            counts[json.loads(raw)["kind"]] += 1
        return {"backend": "redis", "index": self.spec, "prefix": self.prefix,
                "documents": counts["doc"], "passages": counts["passage"], "settings": self.meta}

    def export(self) -> Iterator[Entry]:
        items = sorted(k.decode() for k in self.r.hkeys(self._k("items")))
        for i in range(0, len(items), 1000):
            yield from self._visible(items[i:i + 1000])

    def close(self) -> None:
        self.r.close()

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

Both store, per document and per passage: its batch, path, record id, line range, the
exact-text key, the shingle count and the MinHash signature, so a match always names the
real document. A document's identity is (batch, path, record id): two batches may each hold
a ``story.txt``, and they stay two documents. A run over a batch already in the index
replaces the documents it holds again (they are not compared with their own earlier
versions, and an update swaps them).

Both also keep what the corpus taught about its sites, so that a small batch (a CI gate's)
has a site's template and wrapper lines removed as a run over the whole corpus would:

* **line statistics**: for a bounded set of line keys (:func:`cleaner.clean.furniture.line_key`),
  in how many indexed documents the line occurs and the fingerprint of that set of
  documents (the sum of their tokens, modulo 2**64, stored as two 32-bit halves so that
  additions commute and never overflow). A run adds them to its own
  :class:`cleaner.clean.furniture.TemplateStats` lookups. Only lines that can take part in a
  wrapper decision are kept: a page's header and footer lines, and text lines occurring in
  exactly the documents of one of their page's header lines; the plain text of an article
  whose page chrome is shared with other pages is never stored.
* **template lines** each source's runs decided (a line in ``--template-min-docs``
  documents and 30% of a source's), looked up by source, or in every source when the
  batch's source (folder or URL host) is one the index has not seen.
* **document tokens** of every document counted, so a rerun does not count a page twice.

The settings that signatures and template decisions depend on are recorded, and opening
an index with different settings is refused with a message naming what differs.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from . import minhash
from .features import Sketch

KINDS = ("doc", "passage")
#: Version of the index's layout: 2 added batches to document identities and the site
#: statistics; an index of another format is refused with a message saying how to rebuild it.
INDEX_FORMAT = 2
#: signatures whose bands a Redis index reads in one pipeline (:meth:`RedisIndex.candidates`)
_QUERY_CHUNK = 256
_MASK32 = 0xFFFFFFFF


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
    batch: str = ""  # with path and id, the document's identity (set by the index on add)

    def to_json(self) -> dict[str, Any]:
        sk = self.sketch
        return {"kind": self.kind, "batch": self.batch, "path": self.path, "id": self.id,
                "line_start": self.line_start,
                "line_end": self.line_end, "exact": sk.exact.hex(), "shingles": sk.size,
                "signature": None if sk.sig is None else [int(x) for x in sk.sig]}


@dataclass
class SiteUpdate:
    """A run's addition to the site statistics: per line key (uint64, sorted) the number
    of this run's documents holding it and their fingerprint sum (uint64, modulo 2**64);
    the tokens of the documents counted; the template lines each source's run decided."""

    keys: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    tokens: list[int] = field(default_factory=list)
    templates: dict[str, set[int]] = field(default_factory=dict)


def _signed(values: Iterable[int]) -> list[int]:
    """uint64 values as SQLite's signed 64-bit INTEGER."""
    return np.asarray(list(values), dtype=np.uint64).view(np.int64).tolist()


def _unsigned(values: Iterable[int]) -> np.ndarray:
    return np.asarray(list(values), dtype=np.int64).view(np.uint64)


def compatible_meta(settings: Any, rules_version: str, clean: Any = None) -> dict[str, Any]:
    """Everything a stored signature and the stored site statistics depend on (``settings``
    is a DedupSettings, ``clean`` the CleanSettings: template decisions depend on them)."""
    from ..clean.normalise import NORMALISER_VERSION
    from ..clean.stages import CleanSettings

    clean = clean if clean is not None else CleanSettings()
    db, dr = settings.bands_rows("doc")
    pb, pr = settings.bands_rows("passage")
    return {
        "index_format": INDEX_FORMAT,
        "scheme": minhash.SCHEME, "minhash_version": minhash.MINHASH_VERSION, "seed": settings.seed,
        "num_perm": settings.num_perm, "ngram": settings.ngram, "char_ngram": settings.char_ngram,
        "window": settings.window, "doc_bands": db, "doc_rows": dr, "passage_bands": pb, "passage_rows": pr,
        "doc_sketch": settings.doc_sketch,
        "normaliser_version": NORMALISER_VERSION, "rules_version": rules_version,
        "template_min_docs": clean.template_min_docs, "template_min_share": clean.template_min_share,
        "wrappers": clean.wrappers,
    }


def _diff(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    return [f"{k}: index has {stored.get(k)!r}, this run uses {wanted[k]!r}"
            for k in sorted(wanted) if stored.get(k) != wanted[k]]


def open_index(spec: str, meta: dict[str, Any], create: bool = True, batch: str = "") -> BaseIndex:
    """Open the index named by ``spec`` (creating it only with ``create``); refuse
    incompatible settings. ``batch`` names the documents this run adds (see the module
    docstring)."""
    if spec.startswith(("redis://", "rediss://")):
        idx: BaseIndex = RedisIndex(spec, meta, create)
    else:
        idx = SQLiteIndex(Path(spec), meta, create)
    idx.batch = batch
    return idx


def index_missing(spec: str) -> str:
    """The one-line refusal for an index that does not exist (see ``--create-index``)."""
    return (f"index {spec}: does not exist (a typo, or a cache miss in CI?); build it with "
            "`cleaner index add`, or pass --create-index to start an empty one")


class BaseIndex:
    spec: str
    meta: dict[str, Any]
    batch: str = ""
    #: (path, record id) of this run's documents, whose entries in this run's batch are
    #: earlier versions: hidden from queries and replaced on update (see :meth:`replacing`).
    hidden: frozenset[tuple[str, str | None]] = frozenset()

    def _check(self, stored: dict[str, Any] | None, wanted: dict[str, Any]) -> dict[str, Any]:
        if stored is None:
            return wanted
        if stored.get("index_format") != INDEX_FORMAT:
            raise IndexError_(
                f"index {self.spec} has format {stored.get('index_format', 1)!r}, this cleaner needs "
                f"{INDEX_FORMAT} (documents named by batch, site template statistics); rebuild it: move it "
                "away and run `cleaner index add <new index> <corpus> --batch NAME`")
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
    def find_exact_many(self, kind: str, exacts: Sequence[bytes]) -> list[list[Entry]]:
        """:meth:`find_exact` of each (an index over a network answers them together)."""
        return [self.find_exact(kind, exact) for exact in exacts]

    def candidates(self, kind: str, sigs: np.ndarray) -> list[list[Entry]]: ...
    def add(self, entries: Iterable[Entry]) -> int: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def remove(self, path: str, rid: str | None = None, batch: str | None = None) -> int: ...
    def batches_of(self, path: str, rid: str | None = None) -> list[str]: ...
    def stats(self) -> dict[str, Any]: ...
    def export(self) -> Iterator[Entry]: ...
    def close(self) -> None: ...
    # What the corpus taught about its sites (see the module docstring):
    def line_stats(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
    def known_docs(self, tokens: Sequence[int]) -> set[int]: ...
    def template_keys(self, source: str, keys: np.ndarray) -> set[int]: ...
    def add_site_stats(self, update: SiteUpdate) -> None: ...

    def replacing(self, identities: Iterable[tuple[str, str | None]]) -> None:
        """This run holds these documents (path, record id) of its batch again: entries
        under those identities are earlier versions of them, not other documents. They are
        hidden from queries (a document is never a duplicate of its earlier self) and, when
        the run adds to the index, replaced by the new versions."""
        self.hidden = frozenset(identities)

    def _shown(self, e: Entry) -> bool:
        return not (self.hidden and e.batch == self.batch and (e.path, e.id) in self.hidden)

    def bands_rows(self, kind: str) -> tuple[int, int]:
        return (self.meta["doc_bands"], self.meta["doc_rows"]) if kind == "doc" else (
            self.meta["passage_bands"], self.meta["passage_rows"])


# --------------------------------------------------------------------------- SQLite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
  item INTEGER PRIMARY KEY, kind INTEGER NOT NULL, batch TEXT NOT NULL, path TEXT NOT NULL, rid TEXT,
  line_start INTEGER, line_end INTEGER, exact BLOB NOT NULL, size INTEGER NOT NULL, sig BLOB);
CREATE INDEX IF NOT EXISTS items_exact ON items (kind, exact);
CREATE INDEX IF NOT EXISTS items_ident ON items (path, rid, batch);
CREATE TABLE IF NOT EXISTS bands (key INTEGER NOT NULL, item INTEGER NOT NULL, PRIMARY KEY (key, item))
  WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lines (key INTEGER PRIMARY KEY, n INTEGER NOT NULL, lo INTEGER NOT NULL,
  hi INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tdocs (token INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS templates (key INTEGER NOT NULL, source TEXT NOT NULL, PRIMARY KEY (key, source))
  WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS template_sources (source TEXT PRIMARY KEY);
"""

_CHUNK = 500  # values per SQL IN (...) list


class SQLiteIndex(BaseIndex):
    def __init__(self, path: Path, meta: dict[str, Any], create: bool = True):
        self.spec = str(path)
        if not path.exists() and not create:
            raise IndexError_(index_missing(str(path)))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), timeout=60, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise IndexError_(f"index {path}: not a usable cleaner index ({exc})") from exc
        try:
            self._open(path, meta)
        except BaseException:
            # closed here, not left to the interpreter's teardown (which python -m cleaner
            # skips): its -wal and -shm files would stay beside the index
            self.db.close()
            raise

    def _open(self, path: Path, meta: dict[str, Any]) -> None:
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = self.db.execute("SELECT value FROM meta WHERE key='settings'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexError_(f"index {path}: not a usable cleaner index ({exc})") from exc
        stored = json.loads(row[0]) if row else None
        self.meta = self._check(stored, meta)  # before the schema: an older layout is refused, not altered
        try:
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise IndexError_(f"index {path}: not a usable cleaner index ({exc})") from exc
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
        kind, batch, path, rid, ls, le, exact, size, sig = row
        arr = None if sig is None else np.frombuffer(sig, dtype=np.uint32)
        return Entry(KINDS[kind], path, rid, ls, le, Sketch(bytes(exact), size, arr), batch)

    _COLS = "kind, batch, path, rid, line_start, line_end, exact, size, sig"

    def find_exact(self, kind: str, exact: bytes) -> list[Entry]:
        rows = self.db.execute(f"SELECT {self._COLS} FROM items WHERE kind=? AND exact=? ORDER BY item",
                               (KINDS.index(kind), exact)).fetchall()
        return [e for e in map(self._entry, rows) if self._shown(e)]

    def candidates(self, kind: str, sigs: np.ndarray) -> list[list[Entry]]:
        """LSH candidates for many signatures in one join (band keys include the kind)."""
        if len(sigs) == 0:
            return []
        b, r = self.bands_rows(kind)
        keys = _salted(minhash.band_keys(np.asarray(sigs), b, r), kind)
        # One transaction for the query keys: outside one (the connection autocommits) every
        # row inserted is a transaction of its own, a hundred microseconds each, seconds for
        # the band keys of a few thousand passages. It writes only the connection's temporary
        # table; inside a run's own transaction (adds before a query) that one serves.
        own = not self._in_tx
        if own:
            self.db.execute("BEGIN")
        try:
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS q (n INTEGER, key INTEGER)")
            self.db.execute("DELETE FROM q")
            n_idx = np.repeat(np.arange(len(sigs)), keys.shape[1])
            self.db.executemany("INSERT INTO q VALUES (?, ?)",
                                zip(n_idx.tolist(), keys.ravel().tolist(), strict=True))
            rows = self.db.execute(
                f"SELECT DISTINCT q.n, items.item, {', '.join('items.' + c.strip() for c in self._COLS.split(','))} "
                # CROSS JOIN fixes the loop order: for each query key, a lookup in the bands index
                # (the planner would otherwise scan the whole bands table once per batch).
                "FROM q CROSS JOIN bands ON bands.key = q.key CROSS JOIN items ON items.item = bands.item "
                "ORDER BY q.n, items.item").fetchall()
        except BaseException:
            if own and self.db.in_transaction:  # SQLite may have rolled back already (a full disk)
                self.db.execute("ROLLBACK")
            raise
        if own:
            self.db.execute("COMMIT")
        out: list[list[Entry]] = [[] for _ in range(len(sigs))]
        for row in rows:
            e = self._entry(row[2:])
            if self._shown(e):
                out[row[0]].append(e)
        return out

    def add(self, entries: Iterable[Entry]) -> int:
        self._begin()
        for path, rid in sorted(self.hidden, key=lambda t: (t[0], str(t[1]))):  # earlier versions go
            self._delete(self.db.execute("SELECT item FROM items WHERE batch=? AND path=? AND rid IS ?",
                                         (self.batch, path, rid)))
        self.hidden = frozenset()
        n = 0
        batch: list[Entry] = []
        for e in entries:
            if not e.batch:
                e.batch = self.batch
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
            cur.execute("INSERT INTO items (kind, batch, path, rid, line_start, line_end, exact, size, sig) "
                        "VALUES (?,?,?,?,?,?,?,?,?)",
                        (KINDS.index(e.kind), e.batch, e.path, e.id, e.line_start, e.line_end, sk.exact, sk.size,
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

    def remove(self, path: str, rid: str | None = None, batch: str | None = None) -> int:
        self._begin()
        sql, args = "SELECT item FROM items WHERE path=?", [path]
        if rid is not None:
            sql, args = sql + " AND rid=?", [*args, rid]
        if batch is not None:
            sql, args = sql + " AND batch=?", [*args, batch]
        return self._delete(self.db.execute(sql, args))

    def _delete(self, rows: Iterable[tuple[int]]) -> int:
        items = [r[0] for r in rows]
        for i in range(0, len(items), _CHUNK):
            chunk = items[i:i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            self.db.execute(f"DELETE FROM bands WHERE item IN ({marks})", chunk)
            self.db.execute(f"DELETE FROM items WHERE item IN ({marks})", chunk)
        return len(items)

    def batches_of(self, path: str, rid: str | None = None) -> list[str]:
        sql, args = "SELECT DISTINCT batch FROM items WHERE path=?", [path]
        if rid is not None:
            sql, args = sql + " AND rid=?", [*args, rid]
        return sorted(r[0] for r in self.db.execute(sql, args))

    def stats(self) -> dict[str, Any]:
        counts = dict(self.db.execute("SELECT kind, COUNT(*) FROM items GROUP BY kind").fetchall())
        return {"backend": "sqlite", "index": self.spec,
                "documents": counts.get(0, 0), "passages": counts.get(1, 0),
                "batches": self.db.execute("SELECT COUNT(DISTINCT batch) FROM items").fetchone()[0],
                "bands": self.db.execute("SELECT COUNT(*) FROM bands").fetchone()[0],
                "site_lines": self.db.execute("SELECT COUNT(*) FROM lines").fetchone()[0],
                "template_lines": self.db.execute("SELECT COUNT(*) FROM templates").fetchone()[0],
                "site_documents": self.db.execute("SELECT COUNT(*) FROM tdocs").fetchone()[0],
                "bytes": Path(self.spec).stat().st_size, "settings": self.meta}

    def export(self) -> Iterator[Entry]:
        for row in self.db.execute(f"SELECT {self._COLS} FROM items ORDER BY item"):
            yield self._entry(row)

    def close(self) -> None:
        self.rollback()
        self.db.close()

    # ---- site statistics

    def _in_chunks(self, sql: str, values: list[Any], extra: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        for i in range(0, len(values), _CHUNK):
            chunk = values[i:i + _CHUNK]
            rows += self.db.execute(sql.format(marks=",".join("?" * len(chunk))), [*chunk, *extra]).fetchall()
        return rows

    def line_stats(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = self._in_chunks("SELECT key, n, lo, hi FROM lines WHERE key IN ({marks})", _signed(keys))
        return _line_columns(rows)

    def known_docs(self, tokens: Sequence[int]) -> set[int]:
        rows = self._in_chunks("SELECT token FROM tdocs WHERE token IN ({marks})", _signed(tokens))
        return set(_unsigned(r[0] for r in rows).tolist())

    def template_keys(self, source: str, keys: np.ndarray) -> set[int]:
        known = self.db.execute("SELECT 1 FROM template_sources WHERE source=?", (source,)).fetchone()
        if known:
            rows = self._in_chunks("SELECT key FROM templates WHERE key IN ({marks}) AND source=?",
                                   _signed(keys), (source,))
        else:
            rows = self._in_chunks("SELECT DISTINCT key FROM templates WHERE key IN ({marks})", _signed(keys))
        return set(_unsigned(r[0] for r in rows).tolist())

    def add_site_stats(self, update: SiteUpdate) -> None:
        self._begin()
        sums = np.asarray(update.sums, dtype=np.uint64)
        lo, hi = (sums & np.uint64(_MASK32)).tolist(), (sums >> np.uint64(32)).tolist()
        self.db.executemany(
            "INSERT INTO lines VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET n = n + excluded.n, "
            "lo = lo + excluded.lo, hi = hi + excluded.hi",
            zip(_signed(update.keys), np.asarray(update.counts).tolist(), lo, hi, strict=True))
        self.db.executemany("INSERT OR IGNORE INTO tdocs VALUES (?)", ((t,) for t in _signed(update.tokens)))
        for source, keys in sorted(update.templates.items()):
            self.db.execute("INSERT OR IGNORE INTO template_sources VALUES (?)", (source,))
            self.db.executemany("INSERT OR IGNORE INTO templates VALUES (?, ?)",
                                ((k, source) for k in _signed(sorted(keys))))


def _line_columns(rows: Iterable[tuple[Any, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(key, count, low-half sum, high-half sum) rows as sorted columns: keys (uint64),
    counts (int64) and fingerprints (uint64, the halves recombined modulo 2**64)."""
    rows = sorted(((int(k) & 0xFFFFFFFFFFFFFFFF, int(n), int(lo), int(hi)) for k, n, lo, hi in rows))
    keys = np.array([r[0] for r in rows], dtype=np.uint64)
    counts = np.array([r[1] for r in rows], dtype=np.int64)
    sums = np.array([(r[2] + (r[3] << 32)) & 0xFFFFFFFFFFFFFFFF for r in rows], dtype=np.uint64)
    return keys, counts, sums


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
        if stored is None and not create:  # an index exists when its settings key does
            raise IndexError_(index_missing(f"{self.spec} (prefix {self.prefix!r})"))
        self.meta = self._check(stored, meta)
        if stored is None:
            self.r.setnx(self._k("settings"), json.dumps(self.meta))
            self.meta = self._check(json.loads(self.r.get(self._k("settings"))), meta)
        self._lsh = {kind: self._make_lsh(kind) for kind in KINDS}
        self.run = uuid.uuid4().hex
        self._pending: list[str] = []
        self._site: list[SiteUpdate] = []
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
            self._drop_items([item.decode() for item in self.r.smembers(key)])
            self.r.delete(key)

    def _ident(self, batch: str, path: str, rid: str | None) -> str:
        """The key of the set of items (a document and its passages) under one identity."""
        return self._k("ident", json.dumps([batch, path, rid], ensure_ascii=False))

    def _drop_items(self, items: Sequence[str]) -> None:
        """Remove ``items`` (their records, exact keys, identities and LSH bands) in three
        round trips per thousand: what ``MinHashLSH.remove`` does for each, in a pipeline
        (datasketch's ``remove`` takes three or four round trips per band of each item: a
        replaced or removed document with its passages cost thousands).

        1. each item's band hashes (its key list), record and exact key;
        2. the item out of each band's bucket, then each touched bucket's size;
        3. the now empty buckets out of their table's hash (as ``remove`` drops them), the
           key lists, records, exact keys and identities."""
        items = list(items)
        for start in range(0, len(items), 1000):
            self._drop_chunk(items[start:start + 1000])

    def _drop_chunk(self, items: list[str]) -> None:
        keys = {"doc": self._lsh["doc"].keys, "passage": self._lsh["passage"].keys}
        kinds = ["doc" if item.startswith("d:") else "passage" for item in items]
        pkeys = [self._item_key(kind, item) for item, kind in zip(items, kinds, strict=True)]
        pipe = self.r.pipeline(transaction=False)
        for pk, kind in zip(pkeys, kinds, strict=True):
            pipe.lrange(keys[kind].redis_key(pk), 0, -1)
        pipe.hmget(self._k("items"), items)
        pipe.hmget(self._k("exact_of"), items)
        *bands_of, recs, exacts = pipe.execute()
        touched: list[tuple[Any, bytes]] = []
        for pk, kind, bands in zip(pkeys, kinds, bands_of, strict=True):
            for band, table in zip(bands, self._lsh[kind].hashtables, strict=False):
                pipe.srem(table.redis_key(band), pk)
                touched.append((table, band))
        for table, band in touched:
            pipe.exists(table.redis_key(band))
        left = pipe.execute()[len(touched):]
        for (table, band), n in zip(touched, left, strict=True):
            if not n:
                pipe.hdel(table._name, band)
        for item, pk, kind, bands, raw_rec, raw in zip(items, pkeys, kinds, bands_of, recs, exacts, strict=True):
            if bands:
                pipe.hdel(keys[kind]._name, pk)
                pipe.delete(keys[kind].redis_key(pk))
            if raw_rec:
                rec = json.loads(raw_rec)
                pipe.srem(self._ident(rec["batch"], rec["path"], rec["id"]), item)
            pipe.hdel(self._k("items"), item)
            if raw:
                pipe.srem(self._k("exact", kind, raw.decode()), item)
                pipe.hdel(self._k("exact_of"), item)
        pipe.execute()

    def _visible(self, items: list[str]) -> list[Entry]:
        return self._visible_many([items])[0]

    def _visible_many(self, groups: list[list[str]]) -> list[list[Entry]]:
        """The entries of each group of items that are committed (or this run's), in a
        fixed order: the records of all groups read in one HMGET, each run's commit checked
        once (a round trip per group would be most of a run's time with the index)."""
        every = sorted({item for items in groups for item in items})
        if not every:
            return [[] for _ in groups]
        recs = {item: json.loads(raw) for item, raw in zip(every, self.r.hmget(self._k("items"), every),
                                                           strict=True) if raw}
        runs = sorted({rec["run"] for rec in recs.values()})
        pipe = self.r.pipeline(transaction=False)
        for run in runs:
            pipe.sismember(self._k("committed"), run)
        committed = {run for run, yes in zip(runs, pipe.execute(), strict=True) if yes} | {self.run}
        out = []
        for items in groups:
            entries = [self._record_entry(recs[item]) for item in sorted(items)
                       if item in recs and recs[item]["run"] in committed]
            entries = [e for e in entries if self._shown(e)]
            entries.sort(key=lambda e: (e.path, str(e.id), e.batch, e.line_start or 0))
            out.append(entries)
        return out

    @staticmethod
    def _record_entry(rec: dict[str, Any]) -> Entry:
        sig = None if rec["sig"] is None else np.frombuffer(bytes.fromhex(rec["sig"]), dtype=np.uint32)
        return Entry(rec["kind"], rec["path"], rec["id"], rec["ls"], rec["le"],
                     Sketch(bytes.fromhex(rec["exact"]), rec["size"], sig), rec["batch"])

    def find_exact(self, kind: str, exact: bytes) -> list[Entry]:
        items = [x.decode() for x in self.r.smembers(self._k("exact", kind, exact.hex()))]
        return self._visible(items)

    def candidates(self, kind: str, sigs: np.ndarray) -> list[list[Entry]]:
        """The committed entries of what ``MinHashLSH.query`` answers for each signature
        (see :meth:`band_items`)."""
        out: list[list[Entry]] = []
        for start in range(0, len(sigs), _QUERY_CHUNK):
            out += self._visible_many(self.band_items(kind, sigs[start:start + _QUERY_CHUNK]))
        return out

    def _bands(self, kind: str, sig: np.ndarray) -> list[bytes]:
        """The bucket keys of ``sig``'s bands, as ``MinHashLSH`` (no ``hashfunc``) keys them
        (:func:`minhash.datasketch_band_key`): what its ``insert`` writes and ``query`` reads."""
        b, r = self.bands_rows(kind)
        return [minhash.datasketch_band_key(sig, band, r) for band in range(b)]

    def _item_key(self, kind: str, item: str) -> Any:
        """An item as ``MinHashLSH`` stores it in its buckets and key lists."""
        return pickle.dumps(item) if self._lsh[kind].prepickle else item

    def band_items(self, kind: str, sigs: np.ndarray) -> list[list[str]]:
        """The items sharing a band with each signature: exactly ``MinHashLSH.query`` of it,
        with every band of ``_QUERY_CHUNK`` signatures read in one pipeline. ``query`` reads
        a band per round trip, and a run asks about all its documents and passages,
        thousands of band reads (most of the index's time in a run). The keys are
        datasketch's (its band bytes, see :meth:`_bands`, and its Redis key layout: not its
        public interface): ``tests/test_index.py`` checks these answers against ``query``,
        so a datasketch release that changes them fails there, not in a user's gate."""
        lsh = self._lsh[kind]
        if len(sigs) and np.shape(sigs)[1] != lsh.h:  # what MinHashLSH.query checks
            raise ValueError(f"signatures of {np.shape(sigs)[1]} values for an index of {lsh.h}")
        out: list[list[str]] = []
        for start in range(0, len(sigs), _QUERY_CHUNK):
            pipe = self.r.pipeline(transaction=False)
            chunk = sigs[start:start + _QUERY_CHUNK]
            for sig in chunk:
                for band, table in zip(self._bands(kind, sig), lsh.hashtables, strict=True):
                    pipe.smembers(table.redis_key(band))
            found = pipe.execute()
            per = len(lsh.hashtables)
            for n in range(len(chunk)):
                keys = set().union(*found[n * per:(n + 1) * per])
                items = [pickle.loads(k) if lsh.prepickle else k for k in keys]
                out.append([k.decode() if isinstance(k, bytes) else k for k in items])
        return out

    def find_exact_many(self, kind: str, exacts: Sequence[bytes]) -> list[list[Entry]]:
        out: list[list[Entry]] = []
        for start in range(0, len(exacts), _QUERY_CHUNK):
            pipe = self.r.pipeline(transaction=False)
            for exact in exacts[start:start + _QUERY_CHUNK]:
                pipe.smembers(self._k("exact", kind, exact.hex()))
            out += self._visible_many([[x.decode() for x in found] for found in pipe.execute()])
        return out

    def add(self, entries: Iterable[Entry]) -> int:
        pend = self._k("pending", self.run)
        if not self._pending:
            self.r.hset(self._k("runs"), self.run, time.time())
        n = 0
        batch: list[Entry] = []
        for e in entries:
            batch.append(e)
            if len(batch) >= 1000:
                n += self._add_batch(batch, pend)
                batch = []
        if batch:
            n += self._add_batch(batch, pend)
        return n

    def _add_batch(self, batch: list[Entry], pend: str) -> int:
        """Journal the batch's items, then write their records and their LSH bands in one
        pipeline (one round trip for a thousand entries).

        The bands are written as ``MinHashLSH.insert`` writes them, by datasketch's own
        storage code (``_insert`` of its key list and of each band's table) on this
        pipeline: the index stays datasketch's, which queries and removes them. Its
        insertion session cost more than the rest of an ``index add``: a round trip per item
        (``insert`` checks that the key is new; these are fresh uuids), then a pipeline per
        band table, each a MULTI transaction on a new connection (fsynced one by one under
        ``appendfsync always``), ~40 per kind. A transaction per table bought nothing:
        a crash between the tables leaves partial bands either way, and the journal (the
        pending set, written first) is what makes a run's items invisible until commit and
        removed after a crash."""
        items = [("d:" if e.kind == "doc" else "p:") + uuid.uuid4().hex for e in batch]
        for e in batch:
            e.batch = e.batch or self.batch
        self.r.sadd(pend, *items)  # journal first: a crash after this is recoverable
        self._pending.extend(items)
        pipe = self.r.pipeline(transaction=False)
        for item, e in zip(items, batch, strict=True):
            sk = e.sketch
            rec = {"kind": e.kind, "batch": e.batch, "path": e.path, "id": e.id, "ls": e.line_start,
                   "le": e.line_end,
                   "exact": sk.exact.hex(), "size": sk.size, "run": self.run,
                   "sig": None if sk.sig is None else np.asarray(sk.sig, dtype=np.uint32).tobytes().hex()}
            pipe.hset(self._k("items"), item, json.dumps(rec))
            pipe.sadd(self._k("exact", e.kind, sk.exact.hex()), item)
            pipe.hset(self._k("exact_of"), item, sk.exact.hex())
            pipe.sadd(self._ident(e.batch, e.path, e.id), item)
            if sk.sig is not None:
                self._queue_bands(pipe, e.kind, item, sk.sig)
        pipe.execute()
        return len(batch)

    def _queue_bands(self, pipe: Any, kind: str, item: str, sig: np.ndarray) -> None:
        """Queue on ``pipe`` what ``MinHashLSH.insert(item, minhash)`` writes (see
        :meth:`_add_batch`): the item's band hashes in its key list, and the item in each
        band's bucket."""
        lsh = self._lsh[kind]
        if len(sig) != lsh.h:  # what MinHashLSH.insert checks
            raise ValueError(f"a signature of {len(sig)} values for an index of {lsh.h}")
        key = self._item_key(kind, item)
        bands = self._bands(kind, sig)
        lsh.keys._insert(pipe, key, *bands)
        for band, table in zip(bands, lsh.hashtables, strict=True):
            table._insert(pipe, band, key)

    def commit(self) -> None:
        """Make this run's additions visible: its site statistics in one MULTI transaction,
        then its items (marked committed), then the earlier versions it replaces are dropped
        (a crash between the last two leaves both versions, and the next run over the batch
        replaces them again)."""
        if self._site:
            pipe = self.r.pipeline(transaction=True)
            for up in self._site:
                self._queue_site(pipe, up)
            pipe.execute()
            self._site = []
        mine = set(self._pending)
        if self._pending:
            self.r.sadd(self._k("committed"), self.run)
            self.r.delete(self._k("pending", self.run))
            self._pending = []
            self.run = uuid.uuid4().hex
        replaced = []
        for path, rid in sorted(self.hidden, key=lambda t: (t[0], str(t[1]))):
            replaced += sorted(x for item in self.r.smembers(self._ident(self.batch, path, rid))
                               if (x := item.decode()) not in mine)
        self._drop_items(replaced)
        self.hidden = frozenset()

    def rollback(self) -> None:
        self._drop_items(self._pending)
        self.r.delete(self._k("pending", self.run))
        self._pending = []
        self._site = []

    def remove(self, path: str, rid: str | None = None, batch: str | None = None) -> int:
        found: dict[str, None] = {}  # HSCAN may return an item twice (a rehash during the scan)
        for item, raw in self.r.hscan_iter(self._k("items")):
            rec = json.loads(raw)
            if rec["path"] == path and (rid is None or rec["id"] == rid) and (batch is None or rec["batch"] == batch):
                found[item.decode()] = None
        self._drop_items(list(found))
        return len(found)

    def batches_of(self, path: str, rid: str | None = None) -> list[str]:
        found = set()
        for _item, raw in self.r.hscan_iter(self._k("items")):
            rec = json.loads(raw)
            if rec["path"] == path and (rid is None or rec["id"] == rid):
                found.add(rec["batch"])
        return sorted(found)

    def stats(self) -> dict[str, Any]:
        counts = {"doc": 0, "passage": 0}
        batches = set()
        for _item, raw in self.r.hscan_iter(self._k("items")):
            rec = json.loads(raw)
            counts[rec["kind"]] += 1
            batches.add(rec["batch"])
        templates = sum(self.r.scard(self._k("tpl", src.decode())) for src in self.r.smembers(self._k("tpl-sources")))
        return {"backend": "redis", "index": self.spec, "prefix": self.prefix,
                "documents": counts["doc"], "passages": counts["passage"], "batches": len(batches),
                "site_lines": self.r.hlen(self._k("lines", "n")), "template_lines": templates,
                "site_documents": self.r.scard(self._k("tdocs")), "settings": self.meta}

    # ---- site statistics: hashes lines:n, lines:lo, lines:hi (field: the line key in
    # decimal), the set tdocs, a set tpl:<source> per source and tpl:* for any source.

    def line_stats(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fields = [str(k) for k in np.asarray(keys, dtype=np.uint64).tolist()]
        rows = []
        for i in range(0, len(fields), 1000):
            chunk = fields[i:i + 1000]
            pipe = self.r.pipeline(transaction=False)
            for part in ("n", "lo", "hi"):
                pipe.hmget(self._k("lines", part), chunk)
            n, lo, hi = pipe.execute()
            rows += [(int(f), int(a), int(b), int(c)) for f, a, b, c in zip(chunk, n, lo, hi, strict=True)
                     if a is not None]
        return _line_columns(rows)

    def known_docs(self, tokens: Sequence[int]) -> set[int]:
        tokens = list(tokens)
        found: set[int] = set()
        for i in range(0, len(tokens), 1000):
            chunk = tokens[i:i + 1000]
            hits = self.r.smismember(self._k("tdocs"), [str(t) for t in chunk])
            found.update(t for t, hit in zip(chunk, hits, strict=True) if hit)
        return found

    def template_keys(self, source: str, keys: np.ndarray) -> set[int]:
        known = self.r.sismember(self._k("tpl-sources"), source)
        name = self._k("tpl", source) if known else self._k("tpl*")
        values = np.asarray(keys, dtype=np.uint64).tolist()
        found: set[int] = set()
        for i in range(0, len(values), 1000):
            chunk = values[i:i + 1000]
            hits = self.r.smismember(name, [str(k) for k in chunk])
            found.update(k for k, hit in zip(chunk, hits, strict=True) if hit)
        return found

    def add_site_stats(self, update: SiteUpdate) -> None:
        self._site.append(update)  # applied by commit, in one transaction

    def _queue_site(self, pipe: Any, up: SiteUpdate) -> None:
        sums = np.asarray(up.sums, dtype=np.uint64)
        lo, hi = (sums & np.uint64(_MASK32)).tolist(), (sums >> np.uint64(32)).tolist()
        for key, n, a, b in zip(np.asarray(up.keys, dtype=np.uint64).tolist(), np.asarray(up.counts).tolist(),
                                lo, hi, strict=True):
            pipe.hincrby(self._k("lines", "n"), str(key), n)
            pipe.hincrby(self._k("lines", "lo"), str(key), a)
            pipe.hincrby(self._k("lines", "hi"), str(key), b)
        if up.tokens:
            pipe.sadd(self._k("tdocs"), *[str(t) for t in up.tokens])
        for source, keys in sorted(up.templates.items()):
            if keys:
                pipe.sadd(self._k("tpl-sources"), source)
                pipe.sadd(self._k("tpl", source), *[str(k) for k in sorted(keys)])
                pipe.sadd(self._k("tpl*"), *[str(k) for k in sorted(keys)])

    def export(self) -> Iterator[Entry]:
        items = sorted(k.decode() for k in self.r.hkeys(self._k("items")))
        for i in range(0, len(items), 1000):
            yield from self._visible(items[i:i + 1000])

    def close(self) -> None:
        self.r.close()

"""What cleaner keeps between runs only to start faster, in the user's cache directory.

Each entry is a JSON file holding a key (a digest of everything the value was derived from)
and the value. Everything here only ever saves time: an entry that cannot be read, written
or trusted is ignored and the value is worked out again, so a read-only home, a full disk or
a corrupt file never fails a run.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/cleaner`` (else ``~/.cache/cleaner``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cleaner"


def read(name: str, key: str) -> Any:
    """The value kept under ``name`` for ``key``; None when there is none (or another key's)."""
    try:
        with open(cache_dir() / name, encoding="utf-8") as fh:
            kept = json.load(fh)
        if isinstance(kept, dict) and kept.get("key") == key:
            return kept.get("value")
    except (OSError, ValueError, RecursionError):  # (RecursionError: JSON nested too deep to parse)
        pass
    return None


def write(name: str, key: str, value: Any) -> None:
    """Keep ``value`` under ``name`` for ``key``, atomically, if it is exactly JSON (a TOML
    date, a tuple is not: then nothing is kept), and if the cache directory can be written."""
    try:
        text = json.dumps({"key": key, "value": value}, ensure_ascii=False, allow_nan=False)
        if json.loads(text)["value"] != value:
            return
        path = cache_dir() / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, TypeError, ValueError):
        pass

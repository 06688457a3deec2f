"""What a run returns (:class:`RunResult`) and writes as summary.json (:func:`summary`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import __version__
from ..document import STATUSES
from .manifest import ManifestDigest


@dataclass
class StageStats:
    docs_in: int = 0
    docs_out: int = 0
    seconds: float = 0.0


@dataclass
class RunResult:
    counts: Counter[str]
    errors: list[tuple[str, str]]
    over_cleaned: list[str]
    stats: dict[str, StageStats]
    duplicates: dict[str, Any] | None = None
    manifest: list[dict[str, Any]] = field(default_factory=list)  # every record only without an output folder
    bytes_in: int = 0
    seconds: float = 0.0
    indexed: int = 0
    digest: ManifestDigest | None = None
    repeated: list[dict[str, Any]] | None = None  # with RunSettings.repeated_lines

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0


def summary(result: RunResult) -> dict[str, Any]:
    """summary.json: the run's counts, errors, removals by rule, stage statistics and sizes."""
    digest = result.digest or ManifestDigest()
    if result.digest is None:
        for rec in result.manifest:
            digest.add(rec)
    removed = digest.removed
    chars = {"kept_in": digest.kept_chars_in, "kept_out": digest.kept_chars_out}
    return {
        "version": __version__,
        "counts": {s: result.counts.get(s, 0) for s in STATUSES},
        "errors": [{"key": k, "reason": r} for k, r in result.errors],
        "over_cleaned": result.over_cleaned,
        "removed_by_rule": dict(sorted(removed.items(), key=lambda kv: (-kv[1], kv[0]))),
        "stages": {k: asdict(v) for k, v in result.stats.items()},
        "bytes_in": result.bytes_in,
        "chars": chars,
    }

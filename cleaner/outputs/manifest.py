"""manifest.jsonl: a record per input document with its fate, written as the run goes;
what the run keeps of it in memory is a digest (:class:`ManifestDigest`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..document import doc_key


class ManifestDigest:
    """What a run keeps in memory of its manifest, which it writes to disk as it goes.

    A manifest has a record per input: hundreds of thousands of dicts on a large scrape,
    more memory than everything else the driver holds. The summary, the report and the
    CLI need only totals and a few records: the first ``REPORT_ROWS`` documents not kept
    and the over-cleaned ones (the report's tables show that many). ``keep_all`` keeps
    every record, for the runs that write no output folder (``check``, ``dupes``), whose
    callers read the records themselves."""

    REPORT_ROWS = 50

    def __init__(self, keep_all: bool = False):
        self.keep_all = keep_all
        self.counts: Counter[str] = Counter()
        self.removed: Counter[str] = Counter()
        self.errors: list[tuple[str, str]] = []
        self.over_cleaned: list[str] = []
        self.records: list[dict[str, Any]] = []
        self.kept_chars_in = self.kept_chars_out = 0
        self._not_kept = self._over = 0

    def add(self, record: dict[str, Any]) -> None:
        status = record["status"]
        self.counts[status] += 1
        removed = record.get("removed")
        if removed:  # Counter.update's sum, without its Python-level checks (a call per input)
            counts = self.removed
            for k, n in removed.items():
                counts[k] = counts.get(k, 0) + n
        if status == "kept":
            self.kept_chars_in += record.get("chars_in", 0)
            self.kept_chars_out += record.get("chars_out", 0)
        elif status == "error":
            self.errors.append((doc_key(record["path"], record.get("id")), record.get("reason") or ""))
        over = "over_cleaned" in record.get("flags", ())
        if over:
            self.over_cleaned.append(doc_key(record["path"], record.get("id")))
        keep = self.keep_all
        if status != "kept" and self._not_kept < self.REPORT_ROWS:
            self._not_kept += 1
            keep = True
        if over and self._over < self.REPORT_ROWS:
            self._over += 1
            keep = True
        if keep:
            self.records.append(record)

"""Progress on stderr: the stage, done/total, rate and an ETA; only when asked or on a terminal.

Why hand-written rather than tqdm or rich: the run has four stages of different units
(inputs, then documents twice, and a dedup step with nothing to count), reported through
one callback from the pipeline, and it must print nothing at all unless enabled, and in a
log (``--progress`` with stderr not a terminal) whole lines at a slow pace instead of
carriage-return redraws. That is a few dozen lines over :mod:`time` and :mod:`shutil`; a
library would add a dependency to every install (and to every Ray worker's environment)
for a bar we would still have to drive stage by stage.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

STAGES = ("read+clean", "templates", "dedup", "write")
UNITS = {"read+clean": "files", "templates": "docs", "dedup": "", "write": "docs"}


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """A status line per stage. On a terminal it is redrawn in place (at most every
    ``interval`` seconds) and ends with a line saying what the stage did and how long it
    took; in a log it is printed as whole lines every ``log_interval`` seconds.

    The ETA is the stage's: the remaining items at the stage's average rate so far. Stages
    differ too much in cost per item (reading an HTML page against removing templates from
    its text) for a whole-run estimate from the first stage to mean anything."""

    def __init__(self, enabled: bool, stream: TextIO | None = None, interval: float = 0.2,
                 log_interval: float = 10.0) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if self.tty else log_interval
        self.stage: str | None = None
        self.done = 0
        self.total: int | None = None
        self.bytes = 0
        self.t_stage = self.t0 = time.perf_counter()
        self._last = 0.0
        self._drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled and self.stage is not None:
            self._finish()

    def update(self, stage: str, done: int, total: int | None = None, nbytes: int = 0) -> None:
        """The pipeline's ``on_progress`` callback (see :func:`cleaner.pipeline.run`)."""
        if not self.enabled:
            return
        now = time.perf_counter()
        new = stage != self.stage
        if new:
            if self.stage is not None:
                self._finish()
            self.stage, self.bytes, self.t_stage = stage, 0, now
        self.done, self.total = done, total
        self.bytes += nbytes
        if new or now - self._last >= self.interval:
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        """The status line as it stands (without the carriage return)."""
        now = time.perf_counter() if now is None else now
        stage = self.stage or ""
        n = STAGES.index(stage) + 1 if stage in STAGES else 0
        parts = [f"cleaner: [{n}/{len(STAGES)} {stage}]" if n else f"cleaner: [{stage}]"]
        dt = max(now - self.t_stage, 1e-9)
        unit = UNITS.get(stage, "items")
        if self.total is None:  # dedup: one step with nothing to count
            parts.append(f"working since {_clock(self.t_stage - self.t0)} (no count for this stage)")
        else:
            share = f" ({self.done / self.total:.0%})" if self.total else ""
            parts.append(f"{self.done:,}/{self.total:,} {unit}{share}")
            if self.bytes:
                parts.append(f"{self.bytes / 1e6:,.1f} MB")
            if self.done:
                rate = self.done / dt
                parts.append(f"{rate:,.0f} {unit}/s")
                if self.done < self.total:
                    parts.append(f"ETA {_clock((self.total - self.done) / rate)}")
            parts.append(f"elapsed {_clock(now - self.t0)}")
        return "  ".join(parts)

    def _draw(self, now: float) -> None:
        self._last = now
        text = self.line(now)
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r" + text[:max(width - 1, 20)] + "\x1b[K")
            self._drawn = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _finish(self) -> None:
        """The stage's closing line: what it did, in how long."""
        now = time.perf_counter()
        unit = UNITS.get(self.stage or "", "items")
        what = f"{self.done:,} {unit}" if self.total is not None else "done"
        if self.bytes:
            what += f", {self.bytes / 1e6:,.1f} MB"
        text = f"cleaner: {self.stage}: {what} in {_clock(now - self.t_stage)}"
        self.stream.write(("\r" + text + "\x1b[K" if self.tty else text) + "\n")
        self.stream.flush()
        self._drawn = False

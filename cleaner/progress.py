"""A progress bar with documents/s and MB/s, on stderr, only when asked or on a terminal."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, enabled: bool, total: int | None = None):
        self.enabled = enabled
        self.total = total
        self.files = 0
        self.bytes = 0
        self.t0 = time.perf_counter()
        self._last = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled and self.files:
            self._draw(final=True)

    def update(self, files: int, nbytes: int) -> None:
        self.files = files
        self.bytes += nbytes
        now = time.perf_counter()
        if self.enabled and now - self._last > 0.2:
            self._last = now
            self._draw()

    def _draw(self, final: bool = False) -> None:
        dt = max(time.perf_counter() - self.t0, 1e-9)
        line = (f"\rcleaner: {self.files} files  {self.bytes / 1e6:.1f} MB  "
                f"{self.files / dt:.0f} files/s  {self.bytes / 1e6 / dt:.1f} MB/s")
        sys.stderr.write(line + ("\n" if final else ""))
        sys.stderr.flush()

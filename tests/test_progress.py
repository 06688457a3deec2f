"""Progress: the stage, done/total and an ETA on a terminal; whole lines in a log when
asked; nothing at all otherwise."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cleaner.cli.progress import Progress

from .conftest import ROOT, run_cli


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def drive(bar: Progress) -> None:
    """The calls the pipeline makes (see cleaner.pipeline.run), for 4 inputs."""
    with bar:
        for n in range(5):
            bar.update("read+clean", n, 4, 1_000_000 if n else 0)
        for n in range(5):
            bar.update("templates", n, 4)
        bar.update("dedup", 0, None)
        for n in range(5):
            bar.update("write", n, 4)


def test_terminal_shows_stage_total_and_eta() -> None:
    out = Terminal()
    drive(Progress(True, out, interval=0))
    text = out.getvalue()
    frames = [f.replace("\x1b[K", "") for f in text.replace("\n", "\r").split("\r") if f.strip()]
    assert "cleaner: [1/4 read+clean]  0/4 files (0%)" in frames[0]
    two = next(f for f in frames if "[1/4 read+clean]  2/4 files (50%)" in f)
    assert "2.0 MB" in two and "files/s" in two and "ETA " in two
    assert "cleaner: read+clean: 4 files, 4.0 MB in 0:00" in frames
    assert any(f.startswith("cleaner: [2/4 templates]  3/4 docs (75%)") and "ETA" in f for f in frames)
    assert any(f.startswith("cleaner: [3/4 dedup]  working since") for f in frames)
    assert frames[-1] == "cleaner: write: 4 docs in 0:00"
    # redrawn in place, each stage closed by a line of its own
    assert text.count("\n") == 4 and "\r" in text


def test_log_gets_whole_lines_at_a_slow_pace() -> None:
    out = io.StringIO()  # not a terminal: --progress in CI
    drive(Progress(True, out))
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    # each stage's first line and its closing line; the 10 s pace skips the rest
    assert [ln.split("]")[0] if ln.startswith("cleaner: [") else ln for ln in lines] == [
        "cleaner: [1/4 read+clean", "cleaner: read+clean: 4 files, 4.0 MB in 0:00",
        "cleaner: [2/4 templates", "cleaner: templates: 4 docs in 0:00",
        "cleaner: [3/4 dedup", "cleaner: dedup: done in 0:00",
        "cleaner: [4/4 write", "cleaner: write: 4 docs in 0:00"]


def test_disabled_prints_nothing() -> None:
    out = Terminal()
    drive(Progress(False, out))
    assert out.getvalue() == ""


def test_cli_progress_only_when_asked_in_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    quiet = run_cli("clean", ROOT / "seeds", "-o", tmp_path / "a", "--workers", "1")
    assert "[1/4 read+clean]" not in quiet.stderr
    asked = run_cli("clean", ROOT / "seeds", "-o", tmp_path / "b", "--workers", "1", "--progress")
    n = len([p for p in (ROOT / "seeds").rglob("*") if p.is_file()])
    assert f"cleaner: [1/4 read+clean]  0/{n} files (0%)" in asked.stderr
    assert f"cleaner: read+clean: {n} files" in asked.stderr
    for stage in ("templates", "dedup", "write"):
        assert f"cleaner: {stage}: " in asked.stderr, stage

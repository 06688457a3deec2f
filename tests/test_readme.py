"""Figures and commands the README states, checked against the code and the CI script.

A README that says 42 LSH bands where runs use 37 misleads every reader who sizes a
cluster from it; these tests fail when the code moves and the README does not."""

from __future__ import annotations

import json
import re
import tomllib

from cleaner.clean.stages import CleanSettings
from cleaner.dedup.settings import DedupSettings

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _json_example() -> dict:
    (block,) = [b for b in re.findall(r"```json\n(.*?)```", README, re.S) if '"documents"' in b]
    return json.loads(block)


def test_duplicates_json_example_settings_are_the_defaults() -> None:
    actual = DedupSettings().describe()
    shown = _json_example()["settings"]
    for key in ("scheme", "num_perm", "seed", "ngram", "char_ngram", "keep", "passage_mode"):
        assert shown[key] == actual[key], key
    for key, value in shown["documents"].items():
        assert value == actual["documents"][key], f"documents.{key}: README {value}, code {actual['documents'][key]}"


def test_bands_and_rows_in_the_ray_section() -> None:
    d = DedupSettings().describe()
    m = re.search(r"with the defaults, (\d+)\s+bands of (\d+) rows, for documents and for passages alike", README)
    assert m, "the Ray section states the default bands and rows"
    assert (int(m.group(1)), int(m.group(2))) == (d["documents"]["bands"], d["documents"]["rows"])
    assert (d["passages"]["bands"], d["passages"]["rows"]) == (d["documents"]["bands"], d["documents"]["rows"])


def test_containment_and_windows() -> None:
    d = DedupSettings().describe()
    m = re.search(r"containment \((\S+) for documents, (\S+) for passages\)", README)
    assert m and (float(m.group(1)), float(m.group(2))) == (d["documents"]["containment"],
                                                           d["passages"]["containment"])
    m = re.search(r"long ones as (\d+)-word windows, overlapping by (\d+) words", README)
    assert m and int(m.group(1)) == d["passages"]["window_words"]


def test_template_share_and_min_docs() -> None:
    cs = CleanSettings()
    m = re.search(r"and at least (\d+)% of the documents, of one source", README)
    assert m and int(m.group(1)) / 100 == cs.template_min_share


def test_install_lines_use_the_distribution_name() -> None:
    name = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
    assert name != "cleaner"  # that name on the index is another project
    extras = re.findall(r"""['"]([\w.-]+)\[(\w+(?:,\w+)*)\]['"]""", README)
    assert extras and all(dist in (name, ".") for dist, _ in extras), extras
    assert not re.search(r"pip install cleaner\b", README)
    assert f"pip install {name}" in README
    assert f'pip: ["{name}[ray]"]' in README  # the KubeRay runtime environment


def test_test_command_matches_ci_and_names_the_debian_packages() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = "pip install '.[test,ray]' && python -m pytest -q -rs --durations=20"
    assert command in README
    assert "pip install --quiet '.[test,ray]' && python3 -m pytest -q -rs --durations=20" in ci
    assert "apt-get install redis-server chromium" in README
    for package in ("redis-server", "chromium"):
        assert f"need+=({package})" in ci


def test_jsonl_error_reads_right(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """json's own message ends in "at" for some errors: no "starting at at column"."""
    from .conftest import read_manifest, run_cli

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "recs.jsonl").write_text('{"text": "A line of text."}\n{"text": "never closed\n{"text": 1,}\n',
                                    encoding="utf-8")
    run_cli("clean", raw, "-o", tmp_path / "out", "--workers", "1", "--no-dedup", expect=1)
    reasons = [r["reason"] for r in read_manifest(tmp_path / "out") if r["status"] == "error"]
    assert reasons == ["line 2: invalid JSON (Unterminated string starting at column 10)",
                       "line 3: invalid JSON (Expecting property name enclosed in double quotes at column 12)"]
    assert not any(re.search(r"\b(\w+) \1\b", r) for r in reasons)


def test_the_layout_names_every_module() -> None:
    """"How it is built" names each of the package's modules (cli/program.py was missing)."""
    section = README.split("## How it is built", 1)[1].split("\n## ", 1)[0]
    package = ROOT / "cleaner"
    missing = [str(p.relative_to(package)) for p in sorted(package.rglob("*.py"))
               if p.name != "__init__.py" and p.name not in section]
    assert missing == []

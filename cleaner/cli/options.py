"""Option groups shared by the commands, each handed to a command as one value.

A command used to take every option as a parameter of its own (20 to 26 of them) and
rebuild its settings field by field after constructing them. Here an option group is a set
of click options and a small frozen record of their values (:class:`RuleOptions`,
:class:`DedupOptions`, ...): the command receives one record per group, and
:func:`cleaner.cli.commands.run_settings` builds the run's settings from them in one step.
The records hold what was typed, unchecked: the checks (a rule pack that does not load, an
empty field name) stay where the command makes them, so their order and messages are the
same for every command.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


#: ``--template-min-docs``: a count of documents, at least two (one page is no template),
#: and below 2**31 (the statistics count documents in 32 bits, and the core reads it so)
TEMPLATE_MIN_DOCS = click.IntRange(2, 2**31 - 1)


def option_group(name: str, record: type, options: list[Decorator]) -> Decorator:
    """A decorator adding ``options`` to a command, whose callback then receives one
    keyword argument ``name``: ``record(**values)`` of those options (the record's fields
    name them, so a group's options and its record cannot drift apart)."""
    keys = list(inspect.signature(record).parameters)

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)  # carries the options already added (click's __click_params__)
        def command(*args: Any, **kwargs: Any) -> Any:
            kwargs[name] = record(**{k: kwargs.pop(k) for k in keys})
            return f(*args, **kwargs)

        for option in options:
            command = option(command)
        return command

    return decorate


@dataclass(frozen=True)
class RuleOptions:
    rule_dirs: tuple[Path, ...]
    disable: tuple[str, ...]
    enable: tuple[str, ...]


rule_options = option_group("rules", RuleOptions, [
    click.option("--enable", multiple=True, metavar="ID|CATEGORY|LANG",
                 help="Switch on opt-in rules (those with default = false)."),
    click.option("--disable", multiple=True, metavar="ID|CATEGORY|LANG",
                 help="Switch rules off: a rule id (glob allowed, e.g. 'en.share.*'), a category or a language."),
    click.option("--rules", "rule_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
                 help="Extra rule folder (repeatable); its rules override built-ins with the same id."),
])


@dataclass(frozen=True)
class DedupOptions:
    lsh_backend: str | None
    template_min_docs: int
    passage_mode: str
    keep: str
    char_ngram: int
    ngram: int
    num_perm: int
    threshold: float


dedup_options = option_group("dedup", DedupOptions, [
    click.option("--lsh", "lsh_backend", type=click.Choice(["numpy", "datasketch", "ray"]), default=None,
                 help="How LSH buckets are grouped: a numpy sort of the band bytes, datasketch's "
                      "MinHashLSH (the reference; slower), or a Ray Data shuffle on the cluster. All give "
                      "the same candidates. Default: ray with --engine ray, else numpy."),
    click.option("--template-min-docs", type=TEMPLATE_MIN_DOCS, default=5, show_default=True,
                 help="A line in this many documents of one source (folder or host) is template chrome."),
    click.option("--passages", "passage_mode", type=click.Choice(["flag", "drop"]), default="flag",
                 show_default=True, help="Report duplicate passages, or also drop later copies."),
    click.option("--keep", type=click.Choice(["first", "longest", "newest"]), default="first",
                 show_default=True,
                 help="Which document of a duplicate cluster stays (first = sorted path order)."),
    click.option("--char-ngram", type=click.IntRange(1, 20), default=5, show_default=True,
                 help="Characters per shingle for unsegmented scripts."),
    click.option("--ngram", type=click.IntRange(1, 20), default=5, show_default=True,
                 help="Words per shingle (characters for CJK/Thai use --char-ngram)."),
    click.option("--num-perm", type=click.IntRange(16, 1024), default=128, show_default=True,
                 help="MinHash permutations."),
    click.option("--threshold", type=click.FloatRange(0.05, 1.0), default=0.5, show_default=True,
                 help="Document Jaccard threshold for near-duplicates."),
])


@dataclass(frozen=True)
class RunOptions:
    progress: bool | None
    verbose: bool
    quiet: bool
    no_furniture: bool
    max_bytes: int
    address: str | None
    engine: str
    workers: int | None


run_options = option_group("run", RunOptions, [
    click.option("--progress/--no-progress", default=None,
                 help="Progress bar (default: on when stderr is a terminal and not in CI)."),
    click.option("--verbose", "-v", is_flag=True, help="Say what happens to every file."),
    click.option("--quiet", "-q", is_flag=True, help="Only errors on stderr."),
    click.option("--no-furniture", is_flag=True,
                 help="Do not drop page furniture found by line statistics (rules only)."),
    click.option("--max-bytes", type=click.IntRange(1), default=64 * 1024 * 1024, show_default=True,
                 help="Largest input file, or record of a container (JSONL, Parquet, WARC, WET), that is "
                      "read (after decompression); larger ones are errors."),
    click.option("--address", default=None, metavar="ADDR",
                 help="Ray cluster address (e.g. ray://head:10001, or auto: the cluster `ray start` started "
                      "on this machine); default: $RAY_ADDRESS if set, else start a local Ray."),
    click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                 help="Who schedules the work: local processes, or a Ray cluster "
                      "(pip install 'scrape-cleaner[ray]')."),
    click.option("--workers", type=click.IntRange(1), default=None,
                 help="Worker processes (default: all cores); with --engine ray, CPUs of the local Ray "
                      "instance."),
])


@dataclass(frozen=True)
class InputOptions:
    url_field: str
    id_field: str
    text_field: str


input_options = option_group("inputs", InputOptions, [
    click.option("--url-field", default="url", show_default=True, metavar="NAME",
                 help="JSONL field / Parquet column holding a record's URL (its host is the record's "
                      "source for template statistics)."),
    click.option("--id-field", default="id", show_default=True, metavar="NAME",
                 help="JSONL field / Parquet column holding a record's id (default when absent: line-N, "
                      "row-N)."),
    click.option("--text-field", default="text", show_default=True, metavar="NAME",
                 help="JSONL field / Parquet column holding a record's text (e.g. content, raw_content); "
                      "an 'html' field is read as a page when it is absent."),
])

BATCH_OPTION = click.option(
    "--batch", metavar="NAME", default=None,
    help="Name of this batch in the index: with its path, each document's identity "
         "(BATCH/PATH in matches, `index remove --batch`). Default: the input folder's "
         "name. A rerun with the same name replaces that batch's documents; in CI give "
         "each batch its own (e.g. the pull request number).")


@dataclass(frozen=True)
class BatchOptions:
    batch: str | None


batch_option = option_group("batch", BatchOptions, [BATCH_OPTION])


@dataclass(frozen=True)
class IndexOptions:
    create_index: bool
    batch: str | None


index_options = option_group("index", IndexOptions, [
    click.option("--create-index", is_flag=True,
                 help="Start a new, empty index when --index names none. Without it a missing index is an "
                      "error (exit 2): a typo or a CI cache miss must not compare the data with nothing."),
    BATCH_OPTION,
])

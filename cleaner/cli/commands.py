"""The command line: ``cleaner clean``, ``dupes``, ``check``, ``index``, ``rules``, ``report``.

Exit codes (stable, for scripts and CI):

\b
  0  everything went well
  1  the run finished but some inputs failed (each named on stderr), or a check failed
  2  usage or configuration error (bad option, malformed rule file, unusable index,
     an index that does not exist without --create-index, -o equal to the input)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import click

from .. import __version__
from .options import (
    TEMPLATE_MIN_DOCS,
    BatchOptions,
    DedupOptions,
    IndexOptions,
    InputOptions,
    RuleOptions,
    RunOptions,
    batch_option,
    dedup_options,
    index_options,
    input_options,
    rule_options,
    run_options,
)

if TYPE_CHECKING:  # annotations only: the commands import what they run when they run it
    from ..clean.stages import CleanSettings
    from ..dedup.index import BaseIndex
    from ..outputs.summary import RunResult
    from ..pipeline import RunSettings

log = logging.getLogger("cleaner")
T = TypeVar("T")


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage().replace("\n", "\\n")
        return f"cleaner: {record.levelname.lower()}: {msg}"


def _setup_logging(quiet: bool, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING)


def _fail(msg: str, code: int = 2) -> NoReturn:
    click.echo(f"cleaner: error: {msg}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cleaner")
def main() -> None:
    """Turn a raw web-scrape directory into a clean, deduplicated text corpus.

    \b
    Typical use:
      cleaner clean RAW -o OUT            clean a scrape, write OUT/clean, manifest, reports
      cleaner dupes RAW                   only report near-duplicates
      cleaner check NEW --index IDX       CI gate: fail when new data duplicates the corpus
      cleaner rules list|test|explain     inspect the chrome rules

    Exit codes: 0 ok; 1 some inputs failed (or a check failed); 2 usage/configuration error
    (including a missing index: check and clean --index create one only with --create-index).
    """


# ----------------------------------------------------------------------------- options


def clean_settings(rules: RuleOptions, no_furniture: bool, template_min_docs: int) -> CleanSettings:
    """The cleaning settings of ``clean``, ``dupes``, ``check``, ``index add``, ``rules
    suggest`` and ``rules explain`` alike; a rule pack that does not load is exit 2."""
    from ..clean.rules import RuleError, RuleSet

    # The rule set first, with nothing imported but the core: from the moment it is loaded the
    # core builds its matcher (the largest piece of a start-up) on a thread of its own, and
    # the cleaning stages' imports below (numpy, ftfy: a quarter of the start-up) run beside it.
    dirs, disable, enable = [str(d) for d in rules.rule_dirs], list(rules.disable), list(rules.enable)
    try:
        rs = RuleSet.cached(dirs, disable, enable)
    except RuleError as exc:
        _fail(str(exc))
    from ..clean.stages import CleanSettings

    cs = CleanSettings(rule_dirs=dirs, disable=disable, enable=enable, furniture=not no_furniture,
                       template_min_docs=template_min_docs)
    if len(rs) == 0 and not rules.rule_dirs and not rules.disable:
        log.warning("no rules loaded")
    return cs


def run_settings(rules: RuleOptions, run: RunOptions, dedup: DedupOptions | None, *,
                 template_min_docs: int | None = None, inputs: InputOptions | None = None, write: bool = False,
                 index_spec: str | None = None, index_create: bool = True, batch: str | None = None,
                 index_update: bool = True, output_format: str = "files", shard_size: int | None = None,
                 compress: bool | None = None, repeated_lines: bool = False) -> RunSettings:
    """A command's :class:`~cleaner.pipeline.RunSettings`, built once from its option groups
    (``dedup`` None: no duplicate detection). Whatever cannot work is refused here, before
    the run, with a one-line error (exit 2).

    The rule set is loaded first: the core then builds its matcher on a thread of its own
    while this imports the rest of the pipeline (see ``RuleSet``)."""
    if dedup is not None:
        template_min_docs = dedup.template_min_docs
    cs = clean_settings(rules, run.no_furniture, template_min_docs if template_min_docs is not None else 5)

    from ..dedup.settings import DedupSettings
    from ..outputs.writers import DEFAULT_SHARD_BYTES, MissingDependency, check_output_format
    from ..pipeline import RunSettings
    from ..sources.readers import DEFAULT_FIELDS, Fields

    dd = None
    if dedup is not None:
        lsh_backend = dedup.lsh_backend
        if lsh_backend is None:  # a Ray cluster's shuffle spreads the banding; one machine sorts faster
            lsh_backend = "ray" if run.engine == "ray" else "numpy"
        dd = DedupSettings(threshold=dedup.threshold, num_perm=dedup.num_perm, ngram=dedup.ngram,
                           char_ngram=dedup.char_ngram, keep=dedup.keep, passages=dedup.passage_mode,
                           lsh_backend=lsh_backend)
    if run.engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            _fail("--engine ray needs Ray: pip install 'scrape-cleaner[ray]'")
    fields = DEFAULT_FIELDS
    if inputs is not None:
        for option, name in (("--text-field", inputs.text_field), ("--id-field", inputs.id_field),
                             ("--url-field", inputs.url_field)):
            if not name.strip():
                _fail(f"{option} needs a field name")
        fields = Fields(text=inputs.text_field, id=inputs.id_field, url=inputs.url_field)
    if batch is not None and (not batch.strip() or batch != batch.strip()):
        _fail(f"--batch {batch!r}: a batch name must be non-empty, without leading or trailing spaces")
    if output_format == "files" and shard_size is not None:
        _fail("--shard-size applies to --output-format jsonl or parquet")
    if compress and output_format != "jsonl":
        _fail("--compress applies to --output-format jsonl (parquet shards are always compressed, "
              "clean files never are)")
    shard_bytes = shard_size if shard_size is not None else DEFAULT_SHARD_BYTES
    try:
        check_output_format(output_format, shard_bytes, bool(compress))
    except (ValueError, MissingDependency) as exc:
        _fail(str(exc))
    return RunSettings(clean=cs, workers=run.workers, max_bytes=run.max_bytes, fields=fields, dedup=dd,
                       write_corpus=write, engine=run.engine, address=run.address, index=index_spec,
                       index_update=index_update, index_create=index_create, batch=batch,
                       output_format=output_format, shard_bytes=shard_bytes, compress=bool(compress),
                       repeated_lines=repeated_lines)


class PathOrURI(click.ParamType):
    """A local path (a :class:`Path`, checked like ``click.Path``), or an object-store URI
    (``s3://bucket/prefix``, ``gs://…``; kept as a string: a Path would fold its ``//``)."""

    name = "path_or_uri"

    def __init__(self, file_okay: bool = True):
        self.path = click.Path(file_okay=file_okay, path_type=Path)

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Path | str:
        from ..sources.storage import is_uri, location

        if isinstance(value, str) and is_uri(value):
            return location(value)
        return self.path.convert(value, param, ctx)  # type: ignore[no-any-return]


class ByteSize(click.ParamType):
    """A size in bytes: ``256MB``, ``64MiB``, ``1G`` or a plain number (see ``outputs.writers.parse_size``)."""

    name = "size"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        from ..outputs.writers import parse_size

        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _check_output(input_dir: Path | str, out_dir: Path | str) -> None:
    """Refuse an OUT that is INPUT, or an INPUT inside OUT/clean (which a run replaces): the
    raw data is never written to, and outputs are never read back as input. An OUT inside
    INPUT is fine: it is not read (neither is any other cleaner output folder there)."""
    from ..sources.storage import display

    if isinstance(input_dir, str) or isinstance(out_dir, str):
        if isinstance(input_dir, str) and isinstance(out_dir, str) and \
                input_dir.rstrip("/") == out_dir.rstrip("/"):
            _fail(f"-o {display(out_dir)}: the output is the input folder; write to another folder")
        return
    i, o = input_dir.resolve(), out_dir.resolve()
    if i == o:
        _fail(f"-o {out_dir}: the output is the input folder; write to another folder")
    if i.is_relative_to(o / "clean"):
        _fail(f"-o {out_dir}: the input {input_dir} is inside the output's clean/ folder, which a run replaces")


def _check_input(input_dir: Path | str) -> None:
    if isinstance(input_dir, str):
        from ..sources.storage import LocationError, check_root

        try:
            check_root(input_dir)
        except LocationError as exc:
            _fail(str(exc))
        return
    if not input_dir.exists():
        _fail(f"{input_dir}: no such directory")
    if not input_dir.is_dir():
        _fail(f"{input_dir}: not a directory")


# ----------------------------------------------------------------------------- clean


@main.command()
@click.argument("input_dir", metavar="INPUT", type=PathOrURI())
@click.option("-o", "--out", "out_dir", required=True, type=PathOrURI(file_okay=False), metavar="OUT",
              help="Output folder: clean/, manifest.jsonl, duplicates.json, report.html; or an "
                   "s3:// or gs:// URI (staged locally, uploaded at the end, manifest.jsonl last).")
@click.option("--output-format", type=click.Choice(["files", "jsonl", "parquet"]), default="files",
              show_default=True,
              help="How OUT/clean holds the kept texts: a file per document mirroring INPUT (files), or "
                   "shards part-00000.jsonl, part-00001.jsonl, … (jsonl) or part-00000.parquet, … (parquet; "
                   "needs pyarrow: pip install 'scrape-cleaner[parquet]') of {path, id, url, text} rows, one per kept "
                   "document in manifest order; the manifest's output and row name each one's shard and row.")
@click.option("--shard-size", type=ByteSize(), default=None, metavar="SIZE",
              help="Largest shard, as uncompressed JSON rows: 256MB (the default), 64MiB, 1G, or bytes. A "
                   "document larger than this gets a shard of its own; documents are never split.")
@click.option("--compress/--no-compress", default=None,
              help="gzip the jsonl shards (part-00000.jsonl.gz). Default: off.")
@click.option("--no-dedup", is_flag=True, help="Skip near-duplicate detection.")
@click.option("--index", "index_spec", metavar="PATH|redis://…",
              help="Persistent index: compare with everything indexed before, then add the kept documents. "
                   "A file path (SQLite, no server) or redis://[:password@]host:port/db[?prefix=name] "
                   "(rediss:// for TLS). It must exist unless --create-index is given.")
@index_options
@rule_options
@dedup_options
@run_options
@input_options
def clean(input_dir: Path | str, out_dir: Path | str, output_format: str, shard_size: int | None,
          compress: bool | None, no_dedup: bool, index_spec: str | None, index: IndexOptions, rules: RuleOptions,
          dedup: DedupOptions, run: RunOptions, inputs: InputOptions) -> None:
    """Clean a raw scrape directory INPUT into OUT (either may be an s3:// or gs:// URI).

    \b
    Reads recursively .txt/.text/.md, .html/.htm/.xhtml, JSONL (.jsonl, .jsonl.gz,
    .json.gz, .jsonl.zst, .json.zst; fields text|html, id, url, see --text-field), Parquet
    (.parquet, same columns; needs pyarrow), WARC (.warc, .warc.gz: HTML response records)
    and Common Crawl WET (.warc.wet.gz: conversion records, read as plain text); anything
    else is recorded as skipped. The records of a big file are spread over the workers.
    Writes atomically (to a URI OUT: staged, then uploaded with manifest.jsonl last):
      OUT/clean/<path>.txt     cleaned text of each kept document (extension replaced)
      OUT/clean/<path>.jsonl   for JSONL/WARC/WET/Parquet inputs: {"id", "url", "text"} per
                               kept record
      OUT/clean/part-NNNNN.jsonl[.gz]|.parquet
                               instead, with --output-format jsonl|parquet: {"path", "id",
                               "url", "text"} per kept document, in manifest order
      OUT/manifest.jsonl       one record per input document, with its fate; for a kept
                               one "output" (its file or shard) and, in a shard, "row"
      OUT/duplicates.json      duplicate documents, passages and template lines
      OUT/report.html          the run at a glance
    The INPUT directory is never written to.
    """
    _setup_logging(run.quiet, run.verbose)
    _check_input(input_dir)
    _check_output(input_dir, out_dir)
    if index_spec and no_dedup:
        _fail("--index needs duplicate detection; drop --no-dedup")
    if (index.create_index or index.batch is not None) and not index_spec:
        _fail("--create-index and --batch apply to --index")
    settings = run_settings(rules, run, None if no_dedup else dedup, template_min_docs=dedup.template_min_docs,
                            inputs=inputs, write=True, index_spec=index_spec, index_create=index.create_index,
                            batch=index.batch, output_format=output_format, shard_size=shard_size,
                            compress=compress)
    settings.free_rules = True  # this process's only run: nothing needs the rules after its pass 1
    result = _run(input_dir, out_dir, settings, run.progress)
    _print_summary(result, out_dir, run.quiet)
    sys.exit(result.exit_code)


def _run(input_dir: Path | str, out_dir: Path | str, settings: RunSettings, progress: bool | None) -> RunResult:
    from ..pipeline import run
    from .progress import Progress

    show = progress if progress is not None else (sys.stderr.isatty() and not os.environ.get("CI"))
    with Progress(enabled=bool(show)) as bar:
        settings.progress = bool(show)
        return _guarded(lambda: run(input_dir, out_dir, settings, on_progress=bar.update))


def _guarded(fn: Callable[[], T]) -> T:
    """Run a pipeline call, turning index, Redis and object-store failures, worker
    processes that keep dying, and the system's write errors (a full disk) into one-line
    errors (exit 2). The index module (and
    sqlite3) is only imported when a failure may be one of its errors: a run without an
    index never loads it, and this is on the way to the first document."""
    from ..engines.local import WorkersDying
    from ..outputs.writers import MissingDependency, OutputBusy
    from ..sources.storage import LocationError, error_line

    try:
        return fn()
    except (OutputBusy, LocationError, MissingDependency, WorkersDying) as exc:
        _fail(str(exc))
    except OSError as exc:
        # A system call's failure (it has an errno) is the machine's, not an input's (those
        # are the documents' fates): a full disk under the output or working folder, a
        # folder that cannot be written. The staging folder is abandoned, so OUT holds the
        # last complete run or nothing. Other OSErrors (a library's, a remote task's) are
        # not known to be that, and keep their traceback.
        if exc.errno is None:
            raise
        _fail(f"{error_line(exc)}; stopped, nothing was published")
    except Exception as exc:
        index = sys.modules.get("cleaner.dedup.index")  # an IndexError_ needs its module loaded
        if index is not None and isinstance(exc, index.IndexError_):
            _fail(str(exc))
        try:
            import redis
        except ImportError:  # pragma: no cover
            raise exc from None
        if isinstance(exc, redis.RedisError):
            _fail(f"index: Redis failed mid-run ({type(exc).__name__}: {exc}); this run's index additions "
                  "were not committed and will be discarded; the index is as it was before the run")
        raise


OVER_CLEANED_SHOWN = 20  # over-cleaned documents named on stderr; the rest are counted


def _print_summary(result: RunResult, out_dir: Path | str, quiet: bool) -> None:
    from ..sources.storage import display

    if quiet:
        return
    c = result.counts
    parts = ", ".join(f"{c.get(k, 0)} {k}" for k in ("kept", "duplicate", "empty", "skipped", "error"))
    mb = result.bytes_in / 1e6
    where = display(out_dir) if isinstance(out_dir, str) else out_dir
    click.echo(f"cleaner: {sum(c.values())} documents: {parts}; {mb:.1f} MB in {result.seconds:.1f}s -> {where}",
               err=True)
    if result.over_cleaned:
        n = len(result.over_cleaned)
        click.echo(f"cleaner: warning: {n} documents lost more than their share of words to cleaning "
                   "(flag over_cleaned in the manifest):", err=True)
        for key in result.over_cleaned[:OVER_CLEANED_SHOWN]:
            click.echo(f"  {key}", err=True)
        if n > OVER_CLEANED_SHOWN:
            click.echo(f"  ... and {n - OVER_CLEANED_SHOWN} more (every one is listed in summary.json and "
                       "report.html)", err=True)
    if result.errors:
        click.echo(f"cleaner: {len(result.errors)} inputs failed (see above); exit code 1", err=True)


# ----------------------------------------------------------------------------- dupes


@main.command()
@click.argument("input_dir", metavar="DIR", type=PathOrURI())
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@rule_options
@dedup_options
@run_options
@input_options
def dupes(input_dir: Path | str, fmt: str, rules: RuleOptions, dedup: DedupOptions, run: RunOptions,
          inputs: InputOptions) -> None:
    """Report near-duplicate documents and passages in DIR without writing a corpus.

    The same cleaning and detection as `clean`; `table` is a terminal summary with the
    largest clusters first, `json` is the duplicates.json schema, `csv` one row per member.
    """
    from ..outputs.report import dupes_csv, dupes_table
    from ..pipeline import run as run_pipeline

    _setup_logging(run.quiet, run.verbose)
    _check_input(input_dir)
    settings = run_settings(rules, run, dedup, inputs=inputs)
    result = _guarded(lambda: run_pipeline(input_dir, Path("."), settings))
    dup = result.duplicates or {}
    if fmt == "json":
        click.echo(json.dumps(dup, ensure_ascii=False, indent=1))
    elif fmt == "csv":
        click.echo(dupes_csv(dup), nl=False)
    else:
        click.echo(dupes_table(dup))
    sys.exit(result.exit_code)


# ----------------------------------------------------------------------------- rules


@main.group()
def rules() -> None:
    """Inspect, test and extend the chrome rules (rules/*.toml)."""


@rules.command("list")
@rule_options
@click.option("--all", "show_all", is_flag=True, help="Also list opt-in rules that are off.")
def rules_list(rules: RuleOptions, show_all: bool) -> None:
    """List the active rules: id, kind, category, language and what they match."""
    from ..clean.rules import RuleError, RuleSet

    try:
        rs = RuleSet.load(rules.rule_dirs, disable=rules.disable,
                          enable=(*rules.enable, "*") if show_all else rules.enable)
    except RuleError as exc:
        _fail(str(exc))
    for r in sorted(rs.rules, key=lambda r: r.id):
        flag = "" if r.default else " (opt-in)"
        click.echo(f"{r.id:<48} {r.kind:<7} {r.category:<13} {r.language:<3} {r.pattern}{flag}")
    click.echo(f"{len(rs)} rules", err=True)


@rules.command("test")
@rule_options
def rules_test(rules: RuleOptions) -> None:
    """Run every rule's match / no_match examples; exit 1 on any miss."""
    from ..clean.rules import RuleError, RuleSet

    try:
        rs = RuleSet.load(rules.rule_dirs, disable=rules.disable, enable=(*rules.enable, "*"))
    except RuleError as exc:
        _fail(str(exc))
    problems = rs.self_test()
    for p in problems:
        click.echo(f"FAIL {p}")
    n_ex = sum(len(r.match) + len(r.no_match) for r in rs.rules)
    click.echo(f"{len(rs)} rules, {n_ex} examples: {n_ex - len(problems)} passed, {len(problems)} failed")
    sys.exit(1 if problems else 0)


@rules.command("explain")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--context", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="The folder the run read (for records of JSONL/WARC files, whose template statistics "
                   "span the input); default: the files beside FILE.")
@click.option("--template-min-docs", type=TEMPLATE_MIN_DOCS, default=5, show_default=True,
              help="As for clean: a line in this many documents of one source is template chrome.")
@click.option("--max-bytes", type=click.IntRange(1), default=64 * 1024 * 1024, show_default=True,
              help="As for clean: the largest input file that is read.")
@rule_options
@click.option("--no-furniture", is_flag=True, help="As for clean: without the page-furniture statistics.")
def rules_explain(file: Path, context: Path | None, template_min_docs: int, max_bytes: int, rules: RuleOptions,
                  no_furniture: bool) -> None:
    """Print FILE as clean sees it, each removed line marked by what removed it.

    The same code as clean: decoding, normalisation, rules, page furniture, and the
    template and wrapper lines of FILE's source, counted over the files beside it (the
    documents a run groups with it; give --context DIR for JSONL/WARC records, grouped
    by URL host over the whole input). The kept lines are FILE's clean text, in order,
    with the options given (use the same as for clean). Kept lines start with two spaces;
    removed lines with '-' and, in brackets, a rule id or chrome.furniture,
    chrome.template, chrome.wrapper; '~' marks a kept line an inline rule cut a span
    from. Duplicate passages (clean --passages drop) are not run here: duplicates.json
    lists them.
    """
    from ..pipeline import explain

    settings = clean_settings(rules, no_furniture, template_min_docs)
    try:
        explained = explain(file, settings, context, max_bytes)
    except ValueError as exc:
        _fail(str(exc))
    failed = False
    for doc, trace in explained:
        if doc.container or len(explained) > 1:
            click.echo(f"== {doc.key}")
        if doc.status != "kept":
            click.echo(f"cleaner: {doc.key}: {doc.status}: {doc.reason}", err=True)
            failed = failed or doc.status == "error"
        width = max((len(str(m)) for _, m in trace if m), default=0)
        for line, mark in trace:
            if mark is None:
                click.echo(f"  {'':<{width + 2}} {line}")
            elif str(mark).startswith("~"):
                click.echo(f"~ [{str(mark)[1:]:<{width - 1}}] {line}")
            else:
                click.echo(f"- [{mark:<{width}}] {line}")
    sys.exit(1 if failed else 0)


@rules.command("suggest")
@click.argument("input_dir", metavar="DIR", type=PathOrURI())
@click.option("--template-min-docs", type=TEMPLATE_MIN_DOCS, default=5, show_default=True)
@click.option("--language", default="xx", show_default=True, help="Language code for the suggested pack.")
@rule_options
@run_options
def rules_suggest(input_dir: Path | str, template_min_docs: int, language: str, rules: RuleOptions,
                  run: RunOptions) -> None:
    """Print a TOML rule pack for the chrome lines repeated across the documents of a site in
    DIR, for you to review and adopt.

    \b
    A line is suggested when it recurs in --template-min-docs documents of one site (folder,
    or URL host for records) and reads as a label: short, not a sentence or a piece of one,
    not only numbers or function words, and not already removed by a rule. The rules are
    grouped by site, each with its evidence (in how many documents of which sites) and its
    examples. The pack is checked before it is printed: saved as DIR2/suggested.toml it
    passes `cleaner rules test --rules DIR2` and loads with `cleaner clean --rules DIR2`.
    """
    from ..clean.rules import RuleError
    from ..clean.suggest import check, suggest

    _setup_logging(run.quiet, run.verbose)
    _check_input(input_dir)
    settings = run_settings(rules, run, None, template_min_docs=template_min_docs, repeated_lines=True)
    result = _run(input_dir, Path("."), settings, run.progress)
    found = suggest(result.repeated or [], settings.clean.ruleset(), language, template_min_docs)
    pack = found.toml()
    try:
        check(pack)
    except RuleError as exc:  # a bug here, not the user's: say so rather than print a pack that fails
        _fail(f"internal error: {exc}")
    click.echo(pack, nl=False)
    if not run.quiet:
        click.echo(f"cleaner: {found.count} rules suggested from {found.repeated} repeated lines "
                   f"({sum(found.left_out.values())} left out)", err=True)


# ----------------------------------------------------------------------------- check


@main.command()
@click.argument("input_dir", metavar="DIR", type=PathOrURI())
@click.option("--index", "index_spec", required=True, metavar="PATH|redis://…",
              help="The corpus index to check against.")
@click.option("--max-duplicate-ratio", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Largest share of DIR's documents that may duplicate the corpus (or each other).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True,
              help="github prints workflow annotations (::warning file=…,line=…::…) for pull requests.")
@click.option("--update", is_flag=True, help="Add DIR's kept documents to the index when the check passes.")
@index_options
@rule_options
@dedup_options
@run_options
@input_options
def check(input_dir: Path | str, index_spec: str, max_duplicate_ratio: float, fmt: str, update: bool,
          index: IndexOptions, rules: RuleOptions, dedup: DedupOptions, run: RunOptions,
          inputs: InputOptions) -> None:
    """CI gate: compare new data in DIR with the corpus index IDX.

    Exits 0 when the share of DIR's documents that duplicate indexed documents (or each
    other) is at most --max-duplicate-ratio, 1 when it is over (or inputs failed), 2 on
    usage errors, including an index that does not exist (unless --create-index). The
    index is not changed unless --update is given (and the check passes).
    """
    from ..outputs.report import check_report
    from ..pipeline import run as run_pipeline

    _setup_logging(run.quiet, run.verbose)
    _check_input(input_dir)
    settings = run_settings(rules, run, dedup, inputs=inputs, index_spec=index_spec, index_create=index.create_index,
                            batch=index.batch, index_update=False)
    result = _guarded(lambda: run_pipeline(input_dir, Path("."), settings))
    total = result.counts.get("kept", 0) + result.counts.get("duplicate", 0)
    dups = result.counts.get("duplicate", 0)
    ratio = dups / total if total else 0.0
    ok = ratio <= max_duplicate_ratio
    click.echo(check_report(result.manifest, result.duplicates or {}, ratio, max_duplicate_ratio, ok, fmt,
                            base=input_dir if isinstance(input_dir, Path) else None), nl=False)
    if ok and update:
        updating = dataclasses.replace(settings, index_update=True)
        _guarded(lambda: run_pipeline(input_dir, Path("."), updating))
    sys.exit(0 if ok and not result.errors else 1)


# ----------------------------------------------------------------------------- index


@main.group()
def index() -> None:
    """Manage a persistent index: stats, add, remove, export."""


def _open_existing(spec: str) -> BaseIndex:
    from ..dedup.index import IndexError_, open_index

    try:
        return open_index(spec, {}, create=False)
    except IndexError_ as exc:
        _fail(str(exc))


@index.command("stats")
@click.argument("spec", metavar="IDX")
def index_stats(spec: str) -> None:
    """Counts and settings of index IDX, as JSON."""
    idx = _guarded(lambda: _open_existing(spec))
    try:  # closed on every way out (an error, a closed pipe): SQLite folds its -wal file back
        click.echo(json.dumps(idx.stats(), indent=1))
    finally:
        idx.close()


@index.command("add")
@click.argument("spec", metavar="IDX")
@click.argument("input_dir", metavar="DIR", type=PathOrURI())
@batch_option
@rule_options
@dedup_options
@run_options
@input_options
def index_add(spec: str, input_dir: Path | str, batch: BatchOptions, rules: RuleOptions, dedup: DedupOptions,
              run: RunOptions, inputs: InputOptions) -> None:
    """Clean DIR (as `clean` would) and add its kept documents and passages to IDX,
    creating IDX with these settings if it does not exist. Nothing else is written."""
    from ..pipeline import run as run_pipeline

    _setup_logging(run.quiet, run.verbose)
    _check_input(input_dir)
    settings = run_settings(rules, run, dedup, inputs=inputs, index_spec=spec, batch=batch.batch,
                            index_create=True)  # building an index is this command's job
    result = _guarded(lambda: run_pipeline(input_dir, Path("."), settings))
    click.echo(f"cleaner: added {result.indexed} entries to {spec}; "
               f"{result.counts.get('duplicate', 0)} documents were duplicates", err=True)
    sys.exit(result.exit_code)


@index.command("remove")
@click.argument("spec", metavar="IDX")
@click.argument("path")
@click.option("--id", "rid", default=None, help="Only the record with this id (for JSONL/WARC inputs).")
@click.option("--batch", default=None, metavar="NAME",
              help="The batch the document was added in; needed when PATH is in several batches.")
def index_remove(spec: str, path: str, rid: str | None, batch: str | None) -> None:
    """Remove a document (and its passages) from IDX, so a retracted document stops matching.

    PATH is the document's path in its batch, or BATCH/PATH as matches show it. What the
    document's lines added to the site statistics stays (they are kept per line, not per
    document): its header and footer lines still count towards its site's templates."""
    idx = _guarded(lambda: _open_existing(spec))
    try:  # closed on every way out (see index stats); an uncommitted removal is rolled back
        if batch is None:
            batches = _guarded(lambda: idx.batches_of(path, rid))
            if not batches and "/" in path:  # BATCH/PATH, as check and duplicates.json name it
                head, rest = path.split("/", 1)
                if head in _guarded(lambda: idx.batches_of(rest, rid)):
                    batch, path, batches = head, rest, [head]
            if len(batches) > 1:
                _fail(f"{path} is in {len(batches)} batches of {spec} ({', '.join(batches[:10])}): "
                      "name one with --batch")
        n = _guarded(lambda: idx.remove(path, rid, batch))
        idx.commit()
    finally:
        idx.close()
    click.echo(f"cleaner: removed {n} entries", err=True)
    sys.exit(0 if n else 1)


@index.command("export")
@click.argument("spec", metavar="IDX")
@click.option("--batch", default=None, metavar="NAME", help="Only the entries of this batch.")
def index_export(spec: str, batch: str | None) -> None:
    """Print every entry of IDX as JSON lines (kind, batch, path, id, lines, exact key, signature)."""
    idx = _guarded(lambda: _open_existing(spec))
    try:  # closed on every way out (see index stats): a reader that stops early closes the pipe
        for entry in idx.export():
            if batch is None or entry.batch == batch:
                click.echo(json.dumps(entry.to_json(), ensure_ascii=False))
    finally:
        idx.close()


# ----------------------------------------------------------------------------- report


@main.command("report")
@click.argument("out_dir", metavar="OUT", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report_cmd(out_dir: Path) -> None:
    """(Re)build OUT/report.html from OUT/manifest.jsonl and OUT/duplicates.json."""
    from ..outputs.report import render_html
    from ..outputs.writers import atomic_write

    try:
        manifest = [json.loads(ln) for ln in (out_dir / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
                    if ln.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        _fail(f"{out_dir / 'manifest.jsonl'}: {exc}")
    dup_path = out_dir / "duplicates.json"
    duplicates = json.loads(dup_path.read_text(encoding="utf-8")) if dup_path.exists() else None
    summ_path = out_dir / "summary.json"
    summary = json.loads(summ_path.read_text(encoding="utf-8")) if summ_path.exists() else {}
    atomic_write(out_dir / "report.html", render_html(manifest, duplicates, summary))
    click.echo(str(out_dir / "report.html"))


if __name__ == "__main__":  # pragma: no cover
    main()

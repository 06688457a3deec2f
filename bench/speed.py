#!/usr/bin/env python3
"""End-to-end speed of ``cleaner clean``, against a naive pipeline measured in the same run.

Builds a realistic raw scrape (plain-text renderings of real pages with their chrome, and
real newswire articles republished with edits, from ../shared/bench, spliced and varied so
documents differ, with 15% republished copies) of the requested size, then prints:

* cleaner: input MB, wall seconds, MB/s, docs/s, peak memory of the whole process tree
  (PSS, and RSS summed over the processes);
* the naive reference on the same documents (ftfy.fix_text on every document, then a
  datasketch MinHash updated shingle by shingle and a MinHashLSH insert), and the ratio;
* with ``--peer``, the pipeline a user would build from datatrove
  (``../shared/bench/peers/datatrove_pipeline.py``: ftfy, C4 line filter, MinHash dedup in
  four stages, JSONL writer, two tasks) on the same corpus, in the same run, and the ratio;
  its venv comes from ``peers/setup.sh`` (made once, under $TMPDIR) or ``--peer-python``;
* start-up: the wall time of a whole run on a one-document folder (best of three), an upper
  bound on the time before the first document (bench/budget.py splits it from the rest);
* an HTML run: pages/s through trafilatura and the rest of the pipeline;
* one big container file: the same kind of documents as one Common Crawl style WET file
  (``--one-file wet``, a gzip member per ``conversion`` record, written with warcio) or one
  JSONL file (``jsonl``, ``jsonl.zst``), run with one worker and with two: MB/s of text for
  each, and the speed-up, which shows whether the records of one file spread over the workers.

    python bench/speed.py [--mb 200 [1000 ...]] [--peer] [--html-pages 600] [--workers N]
                          [--naive-mb 20] [--one-file-mb 20] [--one-file wet|jsonl|jsonl.zst]

Issue 18's figures in one command (20 MB, 200 MB and 1 GB, each against the naive reference
and datatrove, memory, HTML pages/s, start-up):

    python bench/speed.py --mb 20 200 1000 --peer --one-file-mb 0

Several ``--mb`` sizes run one after the other, each on its own corpus (the generator is
seeded, so a smaller corpus is the start of a larger one). A size or count of 0 skips that
run. ``CLEANER_SHARED`` points at another shared folder.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CLEANER_SHARED", ROOT.parent / "shared")) / "bench"


def best_cpu(fn: Callable[[], object], reps: int = 2) -> float:
    """The least CPU time (this process's, all threads) of ``reps`` calls of ``fn``: the
    figure the stage tables compare, since wall time on a shared machine is the load's."""
    best = float("inf")
    for _ in range(reps):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def clean_in_process(raw: Path, prefix: str) -> None:
    """``cleaner clean RAW -o <temporary> -q --workers 1`` in this process (the cleaner on
    ``sys.path``), for the scripts that record what the pipeline hands a kernel: one worker,
    so that the pipeline's calls happen here. Exit codes 0 and 1 (some inputs failed) are
    both a finished run; the output is thrown away."""
    from cleaner.cli import main as cli

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        try:
            cli(args=["clean", str(raw), "-o", str(Path(tmp) / "out"), "-q", "--no-progress", "--workers", "1"],
                prog_name="cleaner", standalone_mode=False)
        except SystemExit as exc:
            if exc.code not in (0, 1, None):
                raise


def sources_texts() -> list[str]:
    texts = []
    for p in sorted((SHARED / "syndicated" / "raw").glob("*.txt")):
        texts.append(p.read_text(encoding="utf-8", errors="replace"))
    for s in ("aeb", "cleaneval", "readability", "htmltotext"):
        for p in sorted((SHARED / "boiler" / s).glob("*.raw.txt")):
            texts.append(p.read_text(encoding="utf-8", errors="replace"))
    return texts


def build_text_corpus(dest: Path, mb: float, seed: int = 1, dup_share: float = 0.15,
                      corpus: str = "crawl", sites: int = 50) -> tuple[int, int]:
    """Write ~``mb`` MB of documents into ``sites`` site folders (at most and by default 50;
    fewer sites hold more pages each); returns (bytes, documents).

    ``crawl`` (the default) models a crawl: each site has its own pages (its template
    lines recur across its documents), every new document keeps a page's short lines
    (navigation, headings, bylines, footers) and gets new prose, paragraphs of sentences
    drawn from the whole bench (in the page's script), and a share ``dup_share`` republish
    an earlier document with edits, on another site. So a near-duplicate is one the
    generator made, at any size.

    ``spliced`` is the earlier generator: a bench page with a stretch of another spliced in.
    A file keeps most of one of the ~1,270 bench pages, so at hundreds of MB almost every
    file is a near-duplicate of another (93% at 200 MB): a stress test of duplicate-heavy
    input, not a model of a crawl.
    """
    rng = random.Random(seed)
    texts = [t.split("\n") for t in sources_texts()]
    if corpus == "spliced":
        make = _spliced(texts, rng, dup_share)
    else:
        make = _crawl(texts, rng, dup_share, sites)
    total = n = 0
    target = int(mb * 1e6)
    while total < target:
        site, lines = make(n)
        data = "\n".join(lines).encode("utf-8")
        folder = dest / f"site{site:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{n:07d}.txt").write_bytes(data)
        total += len(data)
        n += 1
    return total, n


_SENTENCE = re.compile(r"(?<=[.!?。])\s+")
PROSE_WORDS = 8  # a line of this many words is prose; shorter lines are kept as the page has them


def _script(line: str) -> str:
    wide = sum(1 for ch in line if ord(ch) > 0x2E7F)
    return "cjk" if wide > len(line) // 4 else ("latin" if line.isascii() else "other")


def _crawl(texts: list[list[str]], rng: random.Random, dup_share: float,  # type: ignore[no-untyped-def]
           sites: int = 50):
    pools: dict[str, list[str]] = {}
    vocab: dict[str, list[str]] = {}
    for lines in texts:
        for line in lines:
            if len(line.split()) >= PROSE_WORDS:
                pools.setdefault(_script(line), []).extend(s for s in _SENTENCE.split(line.strip()) if s)
                vocab.setdefault(_script(line), []).extend(line.split())

    def sentence(script: str) -> str:
        # a bench sentence with a quarter of its words replaced: the pool has some 87,000
        # sentences, and a sentence reused whole in hundreds of unrelated articles would
        # make them share passages as no crawl does
        words = rng.choice(pools[script]).split()
        if script != "cjk":
            words = [rng.choice(vocab[script]) if rng.random() < 0.25 else w for w in words]
        return " ".join(words)

    # each of 50 sites has its own bench pages as templates; the documents go to the first
    # ``sites`` of them, so fewer sites means more pages per site, each site built as before
    pages: list[list[list[str]]] = [[] for _ in range(50)]
    for i, lines in enumerate(texts):
        pages[i % 50].append(lines)
    recent: list[list[str]] = []

    def make(n: int) -> tuple[int, list[str]]:
        site = rng.randrange(sites)
        if recent and rng.random() < dup_share:  # republished elsewhere, with edits
            lines = list(rng.choice(recent))
            for _ in range(rng.randint(0, 3)):
                if len(lines) > 3:
                    del lines[rng.randrange(len(lines))]
        else:
            lines = []
            for line in rng.choice(pages[site]):
                if len(line.split()) < PROSE_WORDS:
                    lines.append(line)
                    continue
                k = max(1, len(_SENTENCE.split(line)) + rng.randint(-1, 1))
                lines.append(" ".join(sentence(_script(line)) for _ in range(k)))
            recent.append(lines)
            if len(recent) > 500:
                recent.pop(rng.randrange(len(recent)))
        lines = list(lines)
        lines.insert(rng.randrange(len(lines) + 1), f"Page {n} reference {rng.getrandbits(40):x} updated.")
        return site, lines

    return make


def _spliced(texts: list[list[str]], rng: random.Random, dup_share: float):  # type: ignore[no-untyped-def]
    recent: list[list[str]] = []

    def make(n: int) -> tuple[int, list[str]]:
        if recent and rng.random() < dup_share:
            lines = list(rng.choice(recent))  # a republished copy
        else:
            lines = list(rng.choice(texts))
            other = rng.choice(texts)
            if len(lines) > 10 and len(other) > 10:
                a = rng.randrange(len(lines) // 2)
                b = rng.randrange(len(other) // 2)
                width = rng.randint(len(lines) // 4, len(lines) // 2)
                lines[a:a + width] = other[b:b + width]
            recent.append(lines)
            if len(recent) > 500:
                recent.pop(rng.randrange(len(recent)))
        # vary the document: drop a few lines and add a unique marker, as different pages would be
        if len(lines) > 10:
            for _ in range(rng.randint(0, 3)):
                del lines[rng.randrange(len(lines))]
        lines.insert(rng.randrange(len(lines) + 1), f"Page {n} reference {rng.getrandbits(40):x} updated.")
        return n % 50, lines

    return make


def iter_crawl_docs(mb: float, seed: int = 1, dup_share: float = 0.15):  # type: ignore[no-untyped-def]
    """``(site, n, text)`` of the ``crawl`` corpus of :func:`build_text_corpus`, in order."""
    rng = random.Random(seed)
    make = _crawl([t.split("\n") for t in sources_texts()], rng, dup_share)
    total = n = 0
    while total < int(mb * 1e6):
        site, lines = make(n)
        text = "\n".join(lines)
        yield site, n, text
        total += len(text.encode("utf-8"))
        n += 1


def build_one_file(dest: Path, mb: float, fmt: str) -> tuple[Path, int, int]:
    """The crawl corpus as one container file: a WET file (a ``conversion`` record per
    document, URL ``https://siteNN.example/N``, so each site's template lines group by
    host as in Common Crawl) or a JSONL file. Returns (path, text bytes, documents)."""
    dest.mkdir(parents=True, exist_ok=True)
    total = docs = 0
    if fmt == "wet":
        import io

        from warcio.warcwriter import WARCWriter

        path = dest / "CC-MAIN-bench-00000.warc.wet.gz"
        with open(path, "wb") as fh:
            writer = WARCWriter(fh, gzip=True)
            writer.write_record(writer.create_warcinfo_record(path.name, {"software": "bench/speed.py"}))
            for site, n, text in iter_crawl_docs(mb):
                data = text.encode("utf-8")
                writer.write_record(writer.create_warc_record(
                    f"https://site{site:02d}.example/{n}", "conversion", payload=io.BytesIO(data), length=len(data),
                    warc_content_type="text/plain",
                    warc_headers_dict={"WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>",
                                       "WARC-Date": "2024-03-01T00:00:00Z"}))
                total += len(data)
                docs += 1
        return path, total, docs
    path = dest / f"corpus.{fmt}"
    lines = []
    for site, n, text in iter_crawl_docs(mb):
        lines.append(json.dumps({"id": f"doc-{n}", "url": f"https://site{site:02d}.example/{n}", "text": text},
                                ensure_ascii=False))
        total += len(text.encode("utf-8"))
        docs += 1
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if fmt == "jsonl.zst":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path, total, docs


def build_html_corpus(dest: Path, pages: int) -> int:
    htmls = []
    for s in ("aeb", "cleaneval", "readability"):
        htmls += sorted((SHARED / "boiler" / s).glob("*.html"))
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(pages):
        shutil.copyfile(htmls[i % len(htmls)], dest / f"{i:06d}.html")
    return pages


class PeakRSS:
    """Peak memory of a process and all its descendants, sampled from /proc: the sum of
    their RSS, and the sum of their PSS (proportional set size). Forked workers share the
    driver's pages, which RSS counts once per process; PSS splits shared pages between the
    processes that map them, so its sum is the memory the run really occupies."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = 0
        self.peak_pss = 0
        self.cpu: dict[int, tuple[int, float]] = {}  # pid -> (start tick, CPU seconds when last seen)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _tree(self) -> list[int]:
        """The process and its descendants, from the kernel's per-thread child lists."""
        out, stack = [], [self.pid]
        while stack:
            p = stack.pop()
            out.append(p)
            try:
                for tid in os.listdir(f"/proc/{p}/task"):
                    with open(f"/proc/{p}/task/{tid}/children") as f:
                        stack.extend(int(c) for c in f.read().split())
            except OSError:
                pass
        return out

    def _run(self) -> None:
        # The sampler must not take CPU from the run it measures (two cores): RSS comes from
        # statm every 50 ms, which is cheap; PSS from smaps_rollup (a walk of every page
        # table) only when the RSS sum reaches the PSS peak so far, since PSS <= RSS, and at
        # most every 0.2 s. The process tree is listed again every second.
        page = os.sysconf("SC_PAGE_SIZE")
        tree: list[int] = []
        listed = last_pss = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now - listed >= 1.0:
                tree, listed = self._tree(), now
            rss = {}
            for p in tree:
                try:
                    with open(f"/proc/{p}/statm") as f:
                        rss[p] = int(f.read().split()[1]) * page
                except (OSError, ValueError, IndexError):
                    pass
            for p in rss:
                self._note_cpu(p)
            total = sum(rss.values())
            self.peak = max(self.peak, total)
            if total > self.peak_pss and now - last_pss >= 0.2:
                last_pss = now
                pss = 0
                for p in rss:
                    try:
                        with open(f"/proc/{p}/smaps_rollup") as f:
                            for line in f:
                                if line.startswith("Pss:"):
                                    pss += int(line.split()[1]) * 1024
                    except OSError:
                        pass
                self.peak_pss = max(self.peak_pss, pss)
            time.sleep(0.05)

    def _note_cpu(self, p: int) -> None:
        """A process's CPU seconds so far (user + system, from /proc/PID/stat), and when it
        started: which process did the work, whatever else runs on the machine."""
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return
        tick = os.sysconf("SC_CLK_TCK")
        self.cpu[p] = (int(fields[19]), (int(fields[11]) + int(fields[12])) / tick)

    def workers_cpu(self) -> list[float]:
        """CPU seconds of each process of the tree but the first (the driver), in start order."""
        return [secs for pid, (_, secs) in sorted(self.cpu.items(), key=lambda kv: kv[1][0]) if pid != self.pid]

    def stop(self) -> tuple[int, int]:
        self._stop.set()
        self._t.join()
        return self.peak, self.peak_pss


def run_cleaner(raw: Path, out: Path, workers: int | None, extra: list[str]) -> tuple[float, tuple[int, int]]:
    cmd = [sys.executable, "-m", "cleaner", "clean", str(raw), "-o", str(out), "-q", "--no-progress", *extra]
    if workers:
        cmd += ["--workers", str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT)
    rss = PeakRSS(proc.pid)
    # wait4, not wait: its resource usage counts the run's CPU seconds, the workers' included
    # (the driver waits for them), which says how much the run used of the cores it had
    _, status, usage = os.wait4(proc.pid, 0)
    rc = proc.returncode = os.waitstatus_to_exitcode(status)
    secs = time.perf_counter() - t0
    peak = rss.stop()
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    LAST_WORKERS[:] = rss.workers_cpu()
    if rc not in (0, 1):
        raise SystemExit(f"cleaner failed with exit code {rc}")
    return secs, peak


LAST_CPU = [0.0]  # CPU seconds of the last run_cleaner call
LAST_WORKERS: list[float] = []  # CPU seconds of each of its worker processes, in start order


def naive(raw: Path, limit_bytes: int) -> tuple[float, int, int]:
    """The reference: ftfy on every document, MinHash updated per shingle, LSH insert."""
    import ftfy
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    t0 = time.perf_counter()
    total = n = 0
    for p in sorted(raw.rglob("*.txt")):
        data = p.read_bytes()
        text = ftfy.fix_text(data.decode("utf-8", errors="replace"))
        words = text.lower().split()
        m = MinHash(num_perm=128)
        for i in range(max(0, len(words) - 4)):
            m.update(" ".join(words[i:i + 5]).encode("utf-8"))
        lsh.insert(str(n), m)
        total += len(data)
        n += 1
        if total >= limit_bytes:
            break
    return time.perf_counter() - t0, total, n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, nargs="+", default=[200.0],
                    help="size(s) of the plain-text corpus, each run in turn (0: no text run)")
    ap.add_argument("--peer", action="store_true",
                    help="run the datatrove peer pipeline on each text corpus too, and print the ratio")
    ap.add_argument("--peer-python", type=Path, default=None,
                    help="python of the datatrove venv (default: the one ../shared/bench/peers/setup.sh makes)")
    ap.add_argument("--startup", type=int, default=3, help="one-document runs timed for start-up (0: none)")
    ap.add_argument("--naive-mb", type=float, default=20.0, help="how much of it the naive reference processes")
    ap.add_argument("--html-pages", type=int, default=600, help="pages of the HTML run (0: no HTML run)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--corpus", choices=("crawl", "spliced"), default="crawl",
                    help="crawl: pages with new prose and 15%% republished copies (default); "
                         "spliced: bench pages spliced together, duplicate-heavy at scale")
    ap.add_argument("--sites", type=int, default=50,
                    help="sites of the crawl corpus (at most 50): fewer sites, more pages each")
    ap.add_argument("--one-file-mb", type=float, default=20.0,
                    help="text in the one-big-file run, run with 1 and with 2 workers (0: no such run)")
    ap.add_argument("--one-file", choices=("wet", "jsonl", "jsonl.zst"), default="wet",
                    help="format of the one big file (jsonl can be read by older versions, for a comparison)")
    ap.add_argument("--keep", action="store_true", help="keep the generated corpus")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cleaner-bench-"))
    try:
        if args.startup > 0:
            startup_run(args, tmp)
        for mb in args.mb:
            if mb > 0:
                text_run(args, tmp / f"text-{mb:g}", mb)
        if args.html_pages > 0:
            html = tmp / "html"
            pages = build_html_corpus(html, args.html_pages)
            hsecs, hpeak = run_cleaner(html, tmp / "hout", args.workers, [])
            print(f"HTML             : {pages} pages in {hsecs:.1f} s = {pages / hsecs:.1f} pages/s  "
                  f"peak memory {hpeak[1] / 2**20:.0f} MiB PSS ({hpeak[0] / 2**20:.0f} MiB RSS summed)")
        if args.one_file_mb > 0:
            one_file_run(args, tmp)
    finally:
        if args.keep:
            print(f"corpus kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def one_file_run(args: argparse.Namespace, tmp: Path) -> None:
    path, size, docs = build_one_file(tmp / "one", args.one_file_mb, args.one_file)
    print(f"one {args.one_file} file : {size / 1e6:.1f} MB of text in {docs} records, "
          f"{path.stat().st_size / 1e6:.1f} MB on disk")
    speeds = {}
    for workers in (1, 2):
        secs, peak = run_cleaner(path.parent, tmp / f"one-out{workers}", workers, [])
        summary = json.loads((tmp / f"one-out{workers}" / "summary.json").read_text())
        counts, pass1 = summary["counts"], summary["stages"]["read+clean"]["seconds"]
        speeds[workers] = size / 1e6 / secs
        cpu = LAST_CPU[0]
        print(f"  --workers {workers}    : {secs:8.1f} s  {speeds[workers]:8.2f} MB/s  {docs / secs:8.0f} docs/s  "
              f"(read+clean {pass1:.1f} s: {size / 1e6 / pass1:.2f} MB/s)  CPU {cpu:.1f} s ({cpu / secs:.2f} cores "
              f"busy)  peak memory {peak[1] / 2**20:4.0f} MiB PSS; {counts.get('kept', 0)} kept, "
              f"{counts.get('duplicate', 0)} duplicates")
        if LAST_WORKERS:
            # the pool is forked for pass 1 (read+clean), then again for pass 2: the first
            # two workers cleaned the file's records, and their shares show how they spread
            print("                     CPU s of each worker process, in start order: "
                  + " ".join(f"{c:.1f}" for c in LAST_WORKERS))
    same = all((tmp / "one-out1" / n).read_bytes() == (tmp / "one-out2" / n).read_bytes()
               for n in ("manifest.jsonl", "duplicates.json"))
    print(f"  two workers / one: {speeds[2] / speeds[1]:.2f}x; manifest and duplicates identical: {same}")
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: other processes share the cores)")


def text_run(args: argparse.Namespace, tmp: Path, mb: float) -> None:
    """The plain-text corpus through cleaner, the naive reference on its first MB, and the
    datatrove peer on all of it; the corpus is deleted afterwards."""
    raw = tmp / "raw"
    size, docs = build_text_corpus(raw, mb, corpus=args.corpus, sites=args.sites)
    print(f"plain text corpus: {size / 1e6:.1f} MB, {docs} documents in {args.sites} sites ({args.corpus})")
    secs, peak = run_cleaner(raw, tmp / "out", args.workers, [])
    summary = json.loads((tmp / "out" / "summary.json").read_text())
    counts = summary["counts"]
    print(f"                   {counts.get('duplicate', 0)} near-duplicate documents, "
          f"{counts.get('kept', 0)} kept; stages: "
          + ", ".join(f"{name} {st['seconds']:.1f} s" for name, st in summary["stages"].items()))
    mbps = size / 1e6 / secs
    print(f"cleaner          : {secs:8.1f} s  {mbps:8.2f} MB/s  {docs / secs:8.0f} docs/s  "
          f"peak memory {peak[1] / 2**20:5.0f} MiB PSS ({peak[0] / 2**20:.0f} MiB RSS summed)")
    nsecs, nbytes, ndocs = naive(raw, int(args.naive_mb * 1e6))
    nmbps = nbytes / 1e6 / nsecs
    print(f"naive reference  : {nsecs:8.1f} s  {nmbps:8.2f} MB/s  {ndocs / nsecs:8.0f} docs/s  "
          f"(on the first {nbytes / 1e6:.1f} MB, one process)")
    print(f"speed-up         : {mbps / nmbps:8.1f}x the naive reference")
    if args.peer:
        psecs, ppeak = run_peer(args, raw, tmp)
        pmbps = size / 1e6 / psecs
        print(f"datatrove peer   : {psecs:8.1f} s  {pmbps:8.2f} MB/s  {docs / psecs:8.0f} docs/s  "
              f"peak memory {ppeak[1] / 2**20:5.0f} MiB PSS (two tasks)")
        print(f"speed-up         : {mbps / pmbps:8.1f}x the datatrove peer")
    print(f"                   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


def peer_python(args: argparse.Namespace) -> str:
    """The datatrove venv's python: ``--peer-python``, or the venv peers/setup.sh makes once."""
    if args.peer_python is not None:
        return str(args.peer_python)
    done = subprocess.run(["bash", str(SHARED / "peers" / "setup.sh")], capture_output=True, text=True)
    if done.returncode or not done.stdout.strip():
        raise SystemExit(f"datatrove peer: setup.sh failed: {done.stderr.strip()}")
    py = done.stdout.strip().splitlines()[-1]
    # setup.sh installs the newest xxhash, and xxhash 4 refuses the str that datatrove 0.10.1
    # hashes its shingles as ("Strings must be encoded before hashing"): the peer then fails
    # in its first stage. xxhash 3 is what datatrove 0.10.1 was released against.
    if subprocess.run([py, "-c", "import xxhash; xxhash.xxh64_intdigest('a')"], capture_output=True).returncode:
        print("datatrove peer   : installing xxhash<4 in its venv (xxhash 4 breaks datatrove 0.10.1)")
        subprocess.run([py, "-m", "pip", "install", "-q", "xxhash<4"], check=True)
    return py


def run_peer(args: argparse.Namespace, raw: Path, tmp: Path) -> tuple[float, tuple[int, int]]:
    """The datatrove pipeline on the same documents. It reads a flat folder of .txt files, so
    the corpus is linked into one (file names are unique across the site folders)."""
    flat = tmp / "flat"
    flat.mkdir()
    for p in raw.rglob("*.txt"):
        os.link(p, flat / p.name)
    cmd = [peer_python(args), str(SHARED / "peers" / "datatrove_pipeline.py"), str(flat), str(tmp / "peer-work")]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rss = PeakRSS(proc.pid)
    rc = proc.wait()
    secs = time.perf_counter() - t0
    peak = rss.stop()
    if rc:
        raise SystemExit(f"datatrove peer failed with exit code {rc}: {' '.join(cmd)}")
    return secs, peak


def startup_run(args: argparse.Namespace, tmp: Path) -> None:
    """Start-up: a whole run on one short document, best of ``--startup`` runs. Everything
    in it but that document is fixed cost (interpreter, imports, rule packs, the native core,
    the output files), so it bounds the time before the first document from above."""
    raw = tmp / "one-doc"
    raw.mkdir()
    (raw / "a.txt").write_text("A short document of one line, so that a run has something to clean.\n")
    best = min(run_cleaner(raw, tmp / f"one-doc-out{i}", args.workers, [])[0] for i in range(args.startup))
    print(f"start-up         : {best:8.2f} s for a whole run on one document (best of {args.startup}; "
          f"bench/budget.py gives the CPU before the first document)")


if __name__ == "__main__":
    raise SystemExit(main())

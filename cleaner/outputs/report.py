"""Reports: duplicates tables for the terminal and the self-contained HTML report."""

from __future__ import annotations

import difflib
import html
import re
from collections import Counter
from typing import Any

from ..document import doc_key


def render_html(manifest: list[dict[str, Any]], duplicates: dict[str, Any] | None,
                summary: dict[str, Any], texts: dict[str, str] | None = None) -> str:
    """One self-contained HTML page showing the run at a glance.

    Why it is built this way: the report is opened from disk, mailed around and archived
    next to the corpus, so it must not depend on the network or on JavaScript (a
    Content-Security-Policy meta forbids both). Every string in it comes from scraped
    pages or their file names, which are hostile, so each one goes through :func:`_e`
    (text and attributes alike) and the markup itself is built only from fixed strings.
    Tables, clusters and diffs are capped so a run of millions of documents still gives
    a page a browser opens at once; the caps are said on the page.

    ``texts`` maps ``path`` or ``path#id`` to a document's clean text; with it the largest
    duplicate clusters are shown side by side with their word differences marked. Without
    it the duplicate passages (which carry their text) are shown side by side instead.
    ``summary`` may be empty (``cleaner report`` on an old folder): the figures are then
    taken from the manifest.
    """
    manifest = [r for r in (manifest or []) if isinstance(r, dict)]
    summary = summary if isinstance(summary, dict) else {}
    dup = duplicates if isinstance(duplicates, dict) else {}
    texts = texts or {}

    counts = _fate_counts(manifest, summary)
    removed = _removed_by_rule(manifest, summary)
    errors = _errors(manifest, summary)
    over = _over_cleaned(manifest, summary)
    doc_clusters = sorted((c for c in _list(dup.get("documents")) if isinstance(c, dict)),
                          key=lambda c: -len(_list(c.get("members"))))
    passages = sorted((c for c in _list(dup.get("passages")) if isinstance(c, dict)), key=lambda c: -_size(c))
    templates = [t for t in _list(dup.get("templates")) if isinstance(t, dict)]
    # the pipeline passes only the largest passage clusters, and how many there are
    n_passages = _int(dup["passage_count"]) if "passage_count" in dup else len(passages)

    # What a user acts on comes first and open: inputs lost, over-cleaned documents, the
    # largest duplicate clusters. The rest is folded (<details>): a run's report used to be
    # some 11,000 pixels tall, with the figures that call for action far down.
    body = [
        _overview(manifest, summary, counts, duplicates is not None, doc_clusters, n_passages, templates,
                  errors, over),
        _section("problems", f"Inputs lost and over-cleaned documents ({len(errors):,} errors, "
                 f"{len(over):,} over-cleaned)", _problems(errors, over, manifest)),
        _section("clusters", f"Largest duplicate clusters (top {TOP_CLUSTERS})",
                 _clusters(doc_clusters, texts, bool(passages))),
        _section("fate", "Inputs by fate",
                 _fate_chart(counts) + _not_kept_table(manifest, sum(counts.values()) - counts.get("kept", 0)),
                 fold=True),
        _section("chrome", "Chrome removed, by rule", _chrome(removed), fold=True),
        _section("templates", "Template lines removed, by site", _templates(templates, duplicates is not None),
                 fold=True),
        _section("dupes", "Duplicates in figures", _dupe_charts(duplicates is not None, doc_clusters, n_passages,
                                                                 dup), fold=True),
        _section("passages", f"Duplicate passages side by side (top {TOP_CLUSTERS})", _passages(passages, n_passages),
                 fold=True),
        _section("stages", "Pipeline stages", _stages(summary), fold=True),
    ]
    version = summary.get("version")
    foot = (f"<footer>cleaner{' ' + _e(version) if version is not None else ''} · a static page: "
            "no scripts, no network; every input string is escaped.</footer>")
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">\n"
        "<meta name=\"referrer\" content=\"no-referrer\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>cleaner report</title>\n<style>{_CSS}</style></head>\n<body><main>\n"
        "<h1>cleaner report</h1>\n" + _NAV + "\n" + "\n".join(body) + "\n" + foot + "\n</main></body></html>\n"
    )


def dupes_table(dup: dict[str, Any]) -> str:
    """A terminal summary: largest document clusters first, then passages and templates."""
    lines = []
    docs = dup.get("documents", [])
    lines.append(f"{len(docs)} duplicate document clusters "
                 f"({sum(len(c['members']) - 1 for c in docs)} documents to drop)")
    for c in docs:
        lines.append(f"  {c['id']}  {len(c['members'])} members, kept {_name(c['kept'])}")
        for m in c["members"]:
            if _name(m) != _name(c["kept"]):
                how = "  ".join(f"{name} {'?' if v is None else f'{v:.4f}'}" for name, v in _measures(m))
                lines.append(f"        {_name(m)}  ({how})")
    ps = dup.get("passages", [])
    lines.append(f"{len(ps)} duplicate passage clusters")
    for c in sorted(ps, key=lambda c: -len(c["members"]))[:50]:
        text = c["members"][0]["text"]
        lines.append(f"  {c['id']}  {len(c['members'])}x  {text[:70]!r}")
        for m in c["members"]:
            lines.append(f"        {_name(m)}:{m['line_start']}")
    ts = dup.get("templates", [])
    if any("removed" in t for t in ts):
        lines.append(f"{sum(_int(t.get('removed')) for t in ts)} template lines removed ({len(ts)} distinct)")
        for t in sorted(ts, key=lambda t: -_int(t.get("removed")))[:30]:
            text = (repr(str(t["text"])[:70]) if t.get("text") is not None
                    else f"({_int(t.get('lines'))} lines, each removed only a few times)")
            lines.append(f"  {_int(t.get('removed')):>5}x in {_int(t.get('documents')):>5} docs  "
                         f"{_site(t.get('source'))}  {text}")
    else:
        lines.append(f"{len(ts)} template lines")
        for t in ts[:30]:
            lines.append(f"  {_int(t.get('documents')):>5} docs  {_site(t.get('source'))}  {str(t.get('text'))[:70]!r}")
    return "\n".join(lines)


def _name(m: dict[str, Any]) -> str:
    """A document as messages name it: ``path`` or ``path#id``, and for an indexed one its
    batch in front (``batch/path``), which is what tells two indexed ``story.txt`` apart."""
    name = doc_key(m["path"], m.get("id"))
    return f"{m['batch']}/{name}" if m.get("batch") else name


def dupes_csv(dup: dict[str, Any]) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["kind", "cluster", "path", "id", "similarity", "measure", "line_start", "line_end", "kept"])
    for c in dup.get("documents", []):
        for m in c["members"]:
            measures = _measures(m)
            w.writerow(["document", c["id"], m["path"], m["id"] or "", m.get("similarity", ""),
                        "; ".join(name for name, _ in measures), "", "", int(_name(m) == _name(c["kept"]))])
    for c in dup.get("passages", []):
        for m in c["members"]:
            w.writerow(["passage", c["id"], m["path"], m["id"] or "", "", "", m["line_start"], m["line_end"], ""])
    return buf.getvalue()


def check_report(manifest: list[dict[str, Any]], dup: dict[str, Any], ratio: float, limit: float, ok: bool,
                 fmt: str, base: Any = None) -> str:
    """The outcome of ``cleaner check`` as text, JSON or GitHub workflow annotations."""
    import json
    import os

    dups = [r for r in manifest if r["status"] == "duplicate"]
    passages = [c for c in dup.get("passages", []) if any(m.get("indexed") for m in c["members"])]
    if fmt == "json":
        return json.dumps({"ok": ok, "duplicate_ratio": ratio, "max_duplicate_ratio": limit,
                           "documents": len([r for r in manifest if r["status"] in ("kept", "duplicate")]),
                           "duplicates": [{"path": r["path"], "id": r["id"], "duplicate_of": r.get("duplicate_of")}
                                          for r in dups],
                           "passages": passages}, ensure_ascii=False, indent=1) + "\n"
    lines = []
    if fmt == "github":
        def gh(s: str) -> str:  # workflow-command escaping
            return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

        def prop(s: str) -> str:
            return gh(s).replace(":", "%3A").replace(",", "%2C")

        for r in dups:
            f = os.path.join(str(base), r["path"]) if base is not None else r["path"]
            of = r.get("duplicate_of") or {}
            lines.append(f"::warning file={prop(f)},line=1,title=near-duplicate document::"
                         f"{gh(r['path'])} duplicates {gh(_name(of) if of else '?')}")
        for c in passages:
            src = next(m for m in c["members"] if m.get("indexed"))
            for m in c["members"]:
                if m.get("indexed"):
                    continue
                f = os.path.join(str(base), m["path"]) if base is not None else m["path"]
                lines.append(f"::notice file={prop(f)},title=duplicate passage::clean line {m['line_start']} "
                             f"repeats {gh(_name(src))} line {src['line_start']}")
        level = "notice" if ok else "error"
        lines.append(f"::{level} title=cleaner check::duplicate ratio {ratio:.3f} "
                     f"({'within' if ok else 'over'} the limit {limit:.3f})")
        return "\n".join(lines) + "\n"
    for r in dups:
        lines.append(f"duplicate  {_name(r)}  of  {_name(r.get('duplicate_of') or {'path': '?'})}")
    for c in passages:
        src = next(m for m in c["members"] if m.get("indexed"))
        for m in c["members"]:
            if not m.get("indexed"):
                lines.append(f"passage    {_name(m)}:{m['line_start']}  repeats  {_name(src)}:{src['line_start']}")
    lines.append(f"{'PASS' if ok else 'FAIL'}: duplicate ratio {ratio:.3f} (limit {limit:.3f}), "
                 f"{len(dups)} duplicate documents")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- HTML report helpers
# Everything below builds pieces of ``render_html``. Convention: a helper returns markup;
# any value that came from the input is passed through ``_e`` right where it is inserted.

_FATES = ("kept", "duplicate", "empty", "skipped", "error")
_FATE_COLOURS = {"kept": "#2f855a", "duplicate": "#c05621", "empty": "#718096", "skipped": "#4c51bf",
                 "error": "#c53030"}
_CAP = 50  # rows per table
TOP_CLUSTERS = 10
_OPEN_CLUSTERS = 3  # clusters shown open at the top of the report; the rest of the top ones folded
_DIFFS_PER_CLUSTER = 3
_DIFF_WORDS = 3000  # tokens per side compared (difflib is quadratic in the worst case)
_DIFF_CONTEXT = 12  # words shown either side of a change; longer equal runs are elided
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; script-src 'none'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_NAV = ("<nav><a href=\"#problems\">Lost and over-cleaned</a><a href=\"#clusters\">Clusters</a>"
        "<a href=\"#fate\">Fate</a><a href=\"#chrome\">Chrome</a><a href=\"#templates\">Templates</a>"
        "<a href=\"#dupes\">Duplicates</a><a href=\"#passages\">Passages</a><a href=\"#stages\">Stages</a></nav>")
_CSS = """
:root{--fg:#1a202c;--muted:#5a6578;--line:#e2e8f0;--bg:#f4f6fa;--card:#fff;--accent:#2b6cb0}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);
 background:var(--bg)}
main{max-width:1200px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:18px;margin:0 0 12px}
h3{font-size:15px;margin:16px 0 8px}
nav{display:flex;flex-wrap:wrap;gap:6px;margin:6px 0 14px}
nav a{color:var(--accent);text-decoration:none;border:1px solid var(--line);background:var(--card);
 border-radius:14px;padding:2px 10px;font-size:13px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:14px 0;
 box-shadow:0 1px 2px rgba(0,0,0,.04)}
table{border-collapse:collapse;width:100%;margin:4px 0 8px}
table.compact{width:auto;min-width:420px}
.wide{overflow-x:auto}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}
th{font-weight:600;color:var(--muted);font-size:12.5px;text-transform:uppercase;letter-spacing:.03em;
 overflow-wrap:normal}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;
 overflow-wrap:anywhere;word-break:break-word}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin-bottom:10px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 14px;min-width:0;
 overflow-wrap:anywhere}
.tile b{display:block;font-size:24px;font-variant-numeric:tabular-nums}
.tile span{color:var(--muted);font-size:12.5px}
.tile small{display:block;font-size:12px;color:var(--muted)}
.tiles.act .tile{border-width:2px}
.tile.alert{border-color:#c53030}.tile.alert b{color:#c53030}
.tile.ok b{color:#2f855a}
h2,h3,p,summary{overflow-wrap:anywhere}
section.folded{padding:10px 20px}
section.folded>details>summary{margin:0}
section.folded>details>summary h2{display:inline;margin:0}
section.folded>details[open]>summary{margin-bottom:12px}
.bars{display:grid;gap:4px;margin:4px 0 8px}
.bar{display:grid;grid-template-columns:minmax(80px,40%) minmax(0,1fr);gap:10px;align-items:center;font-size:12.5px}
.bar .lbl{text-align:right;overflow-wrap:anywhere;min-width:0}
.bar .track{display:flex;align-items:center;gap:6px;min-width:0}
.bar .fill{display:block;height:14px;border-radius:3px;flex:0 1 auto;min-width:0}
.bar .num{font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}
.measure{color:var(--muted);font-size:12px}
.tile.kept b{color:#2f855a}.tile.duplicate b{color:#c05621}.tile.error b{color:#c53030}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(460px,100%),1fr));gap:24px}
.cols>*{min-width:0}
svg{max-width:100%;height:auto;display:block}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:12px;fill:#2d3748}
svg .num{font-variant-numeric:tabular-nums;font-weight:600}
.muted,.more{color:var(--muted)}
.more{font-style:italic;margin:4px 0}
.badge{display:inline-block;border-radius:8px;padding:0 7px;font-size:11.5px;font-weight:600;color:#fff;
 white-space:nowrap}
.cluster{border-top:1px solid var(--line);padding-top:10px;margin-top:10px}
.cluster:first-of-type{border-top:0;margin-top:0}
.diff{display:grid;grid-template-columns:1fr 1fr;gap:8px;margin:6px 0 12px}
.diff .side{background:#fbfcfe;border:1px solid var(--line);border-radius:8px;padding:8px 10px;font-size:13px;
 max-height:360px;overflow:auto;overflow-wrap:anywhere}
.diff .hd{font-size:12px;color:var(--muted);margin-bottom:4px;overflow-wrap:anywhere}
del{background:#fed7d7;color:#822727;text-decoration:line-through;border-radius:2px}
ins{background:#c6f6d5;color:#1c4532;text-decoration:none;border-radius:2px}
.same{color:var(--muted);font-size:13px;margin:4px 0}
.diff.one{grid-template-columns:1fr}
.gap{color:#8a94a6;font-style:italic;font-size:12px;background:#edf2f7;border-radius:6px;padding:0 6px}
details>summary{cursor:pointer;color:var(--accent);margin:4px 0}
footer{color:var(--muted);font-size:12px;margin-top:20px;text-align:center}
"""


def _e(value: Any) -> str:
    """Escape any value for HTML text *and* quoted attributes.

    Lone surrogates (undecodable bytes in file names) are shown as ``\\udcxx`` so writing
    the page as UTF-8 cannot fail on a hostile name."""
    s = "" if value is None else str(value)
    if any("\ud800" <= ch <= "\udfff" for ch in s):
        s = s.encode("utf-8", "backslashreplace").decode("utf-8")
    return html.escape(s, quote=True)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    """A count from JSON that may be missing or malformed: never let it break the page."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def _float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if f == f else None  # NaN


def _key(m: Any) -> str:
    """``path`` or ``path#id`` of a member/record, tolerant of missing fields."""
    if not isinstance(m, dict):
        return str(m)
    return doc_key(m.get("path"), m.get("id"))


def _fmt(n: float) -> str:
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.2f}"


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"  # pragma: no cover


def _more(total: int, shown: int, noun: str) -> str:
    return f"<p class=\"more\">… and {total - shown:,} more {noun} not shown.</p>" if total > shown else ""


def _badge(status: str) -> str:
    """A coloured fate label; the colour comes from a fixed table, never from the input."""
    return f"<span class=\"badge\" style=\"background:{_FATE_COLOURS.get(status, '#4a5568')}\">{_e(status)}</span>"


def _compact(table: str) -> str:
    return table.replace("<table>", "<table class=\"compact\">", 1)


def _section(anchor: str, title: str, inner: str, fold: bool = False) -> str:
    """A card; with ``fold`` its body is a closed <details> under its title (no script
    needed to open it, and the browser's find-in-page opens it on a match)."""
    if fold:
        return (f"<section id=\"{anchor}\" class=\"folded\"><details><summary><h2>{_e(title)}</h2></summary>\n"
                f"{inner}\n</details></section>")
    return f"<section id=\"{anchor}\"><h2>{_e(title)}</h2>\n{inner}\n</section>"


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """``headers`` are fixed strings; ``rows`` hold cells that are already markup."""
    numeric = numeric or set()
    num = ' class="n"'
    head = "".join(f"<th{num if i in numeric else ''}>{_e(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td{num if i in numeric else ''}>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>\n" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


# ---- figures from the summary, or from the manifest when the summary lacks them

def _fate_counts(manifest: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, int]:
    given = summary.get("counts")
    if isinstance(given, dict) and given:
        counts = {str(k): _int(v) for k, v in given.items()}
    else:
        counts = dict(Counter(str(r.get("status")) for r in manifest))
    return {**{f: counts.get(f, 0) for f in _FATES}, **{k: v for k, v in counts.items() if k not in _FATES}}


def _removed_by_rule(manifest: list[dict[str, Any]], summary: dict[str, Any]) -> list[tuple[str, int]]:
    given = summary.get("removed_by_rule")
    removed: Counter[str] = Counter()
    if isinstance(given, dict) and given:
        removed.update({str(k): _int(v) for k, v in given.items()})
    else:
        for r in manifest:
            if isinstance(r.get("removed"), dict):
                removed.update({str(k): _int(v) for k, v in r["removed"].items()})
    return sorted(((k, v) for k, v in removed.items() if v), key=lambda kv: (-kv[1], kv[0]))


def _category(rule_id: str) -> str:
    """``<lang>.<category>.<name>`` -> category; two-part ids (``chrome.furniture``,
    ``chrome.template``, ``dedup.passage``) are a category of their own."""
    parts = rule_id.split(".")
    return parts[1] if len(parts) >= 3 else rule_id


def _errors(manifest: list[dict[str, Any]], summary: dict[str, Any]) -> list[tuple[str, str]]:
    given = summary.get("errors")
    if isinstance(given, list) and given:
        return [(str(x.get("key")), str(x.get("reason") or "")) if isinstance(x, dict) else (str(x), "")
                for x in given]
    return [(_key(r), str(r.get("reason") or "")) for r in manifest if r.get("status") == "error"]


def _over_cleaned(manifest: list[dict[str, Any]], summary: dict[str, Any]) -> list[str]:
    given = summary.get("over_cleaned")
    if isinstance(given, list) and given:
        return [str(x) for x in given]
    return [_key(r) for r in manifest if "over_cleaned" in _list(r.get("flags"))]


# ---- SVG charts

def _hbars(rows: list[tuple[str, float, str]]) -> str:
    """Horizontal bars, each with its label left (whole: a long rule id or file name wraps,
    it is never shortened) and its number right of the bar. HTML rather than SVG, whose
    text cannot wrap; the width is a share of the largest value, the colour from a fixed
    table."""
    if not rows:
        return "<p class=\"muted\">Nothing to show.</p>"
    top = max((v for _, v, _ in rows), default=0) or 1
    parts = ["<div class=\"bars\">"]
    for label, value, colour in rows:
        # at most 85% of the track, so the number beside the longest bar fits too
        width = max(value / top * 85, 0.3 if value else 0)
        parts.append(f"<div class=\"bar\"><span class=\"lbl\">{_e(label)}</span>"
                     f"<span class=\"track\"><span class=\"fill\" style=\"width:{width:.1f}%;background:{colour}\">"
                     f"</span><span class=\"num\">{_fmt(value)}</span></span></div>")
    parts.append("</div>")
    return "".join(parts)


def _histogram(bins: list[tuple[str, int]], xlabel: str, colour: str) -> str:
    """Vertical bars with the count above each bar and the bin below it."""
    if not bins or not any(n for _, n in bins):
        return "<p class=\"muted\">Nothing to show.</p>"
    col, plot_h, left = 44, 150, 10
    width, height = left * 2 + col * len(bins), plot_h + 62
    top = max(n for _, n in bins) or 1
    parts = [f"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" "
             f"height=\"{height}\" role=\"img\">",
             f"<line x1=\"{left}\" y1=\"{plot_h + 20}\" x2=\"{width - left}\" y2=\"{plot_h + 20}\" "
             "stroke=\"#a0aec0\"/>"]
    for i, (label, n) in enumerate(bins):
        x = left + i * col
        h = n / top * plot_h if n else 0
        y = plot_h + 20 - h
        parts.append(
            f"<g><title>{_e(label)}: {n:,}</title>"
            f"<rect x=\"{x + 5}\" y=\"{y:.1f}\" width=\"{col - 10}\" height=\"{h:.1f}\" rx=\"2\" fill=\"{colour}\"/>"
            + (f"<text class=\"num\" x=\"{x + col / 2}\" y=\"{y - 4:.1f}\" text-anchor=\"middle\">{n:,}</text>"
               if n else "")
            + f"<text x=\"{x + col / 2}\" y=\"{plot_h + 36}\" text-anchor=\"middle\">{_e(label)}</text></g>")
    parts.append(f"<text x=\"{width / 2}\" y=\"{plot_h + 56}\" text-anchor=\"middle\" fill=\"#5a6578\">"
                 f"{_e(xlabel)}</text></svg>")
    return "".join(parts)


# ---- sections

def _overview(manifest: list[dict[str, Any]], summary: dict[str, Any], counts: dict[str, int], dedup_ran: bool,
              doc_clusters: list[dict[str, Any]], n_passages: int, templates: list[dict[str, Any]],
              errors: list[tuple[str, str]] | None = None, over: list[str] | None = None) -> str:
    """Two rows of tiles: first the figures that call for action (inputs lost, documents
    over-cleaned, duplicates dropped, the largest cluster), then the run's totals."""
    total = sum(counts.values())
    if isinstance(summary.get("chars"), dict):  # the run's totals (the manifest passed may be a digest)
        chars_in, chars_out = _int(summary["chars"].get("kept_in")), _int(summary["chars"].get("kept_out"))
    else:
        chars_in = sum(_int(r.get("chars_in")) for r in manifest if r.get("status") == "kept")
        chars_out = sum(_int(r.get("chars_out")) for r in manifest if r.get("status") == "kept")
    seconds = sum(_float(s.get("seconds")) or 0.0 for s in (summary.get("stages") or {}).values()
                  if isinstance(s, dict)) if isinstance(summary.get("stages"), dict) else 0.0
    n_err, n_empty = counts.get("error", 0), counts.get("empty", 0)
    n_over = len(over or [])
    act = [("alert" if n_err + n_empty else "ok", f"{n_err + n_empty:,}", "inputs lost",
            f"{n_err:,} failed to read or clean, {n_empty:,} left empty"),
           ("alert" if n_over else "ok", f"{n_over:,}", "over-cleaned documents",
            "lost an unusual share of their words")]
    if dedup_ran:
        act.append(("", f"{counts.get('duplicate', 0):,}", "duplicates dropped",
                    f"in {len(doc_clusters):,} clusters"))
        if doc_clusters:
            big = doc_clusters[0]
            act.append(("", f"{len(_list(big.get('members'))):,}", "largest cluster",
                        f"documents; kept {_key(big.get('kept'))}"))
    tiles = [("", f"{total:,}", "documents", "")]
    tiles += [(f, f"{counts.get(f, 0):,}", f, "") for f in _FATES]
    if "bytes_in" in summary:
        tiles.append(("", _bytes(_int(summary.get("bytes_in"))), "read", ""))
    if chars_in:
        tiles.append(("", f"{(chars_in - chars_out) / chars_in:.1%}", "of kept characters removed", ""))
    if dedup_ran:
        tiles.append(("", f"{len(doc_clusters):,}", "duplicate clusters", ""))
        tiles.append(("", f"{n_passages:,}", "duplicate passages", ""))
        removed = sum(_int(t.get("removed")) for t in templates)
        if removed or not templates:
            tiles.append(("", f"{removed:,}", "template lines removed", ""))
        else:  # an older duplicates.json: lines that repeat, without removal counts
            tiles.append(("", f"{len(templates):,}", "repeated template lines", ""))
    if seconds:
        tiles.append(("", f"{seconds:,.1f} s", "pipeline time", ""))

    def row(cls: str, items: list[tuple[str, str, str, str]]) -> str:
        return (f"<div class=\"tiles {cls}\">" + "".join(
            f"<div class=\"tile {c}\" data-figure=\"{_e(label)}\"><b>{value}</b><span>{_e(label)}</span>"
            + (f"<small>{_e(note)}</small>" if note else "") + "</div>" for c, value, label, note in items)
            + "</div>")

    note = "" if dedup_ran else "<p class=\"muted\">Duplicate detection did not run (or its output is missing).</p>"
    return f"<section id=\"overview\">{row('act', act)}{row('all', tiles)}{note}</section>"


def _fate_chart(counts: dict[str, int]) -> str:
    rows = [(f, float(n), _FATE_COLOURS.get(f, "#4a5568")) for f, n in counts.items()]
    total = sum(counts.values())
    if not total:
        return "<p class=\"muted\">No input documents.</p>"
    return _hbars(rows)


def _not_kept_table(manifest: list[dict[str, Any]], total: int | None = None) -> str:
    """The documents not kept: the first ``_CAP`` rows, and how many there are in all
    (``total``, from the run's counts: the pipeline passes a digest of the manifest that
    holds only the first rows, not one record per input)."""
    rows = [r for r in manifest if r.get("status") != "kept"]
    if not rows:
        return ""
    n = max(len(rows), total or 0)
    cells = []
    for r in rows[:_CAP]:
        status = str(r.get("status"))
        of = r.get("duplicate_of")
        reason = f"near-duplicate of <code>{_e(_key(of))}</code>" if isinstance(of, dict) else _e(r.get("reason"))
        cells.append([f"<code>{_e(_key(r))}</code>", _badge(status), reason])
    return (f"<details><summary>Documents not kept ({n:,})</summary>"
            + _table(["document", "fate", "why"], cells) + _more(n, _CAP, "documents") + "</details>")


def _chrome(removed: list[tuple[str, int]]) -> str:
    if not removed:
        return "<p class=\"muted\">No lines were removed by rules.</p>"
    by_cat: Counter[str] = Counter()
    rules_in: Counter[str] = Counter()
    for rid, n in removed:
        by_cat[_category(rid)] += n
        rules_in[_category(rid)] += 1
    cats = sorted(by_cat.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(by_cat.values())
    cat_table = _table(["category", "rules", "lines", "share"],
                       [[_e(c), f"{rules_in[c]:,}", f"{n:,}", f"{n / total:.1%}"] for c, n in cats[:_CAP]],
                       numeric={1, 2, 3}) + _more(len(cats), _CAP, "categories")
    rule_table = _table(["rule", "category", "lines"],
                        [[f"<code>{_e(r)}</code>", _e(_category(r)), f"{n:,}"] for r, n in removed[:_CAP]],
                        numeric={2}) + _more(len(removed), _CAP, "rules")
    top = 20
    return (f"<p>{total:,} lines removed by {len(removed):,} rules in {len(cats):,} categories "
            "(the category is the middle part of a rule id).</p>"
            "<div class=\"cols\"><div><h3>By category</h3>"
            + _hbars([(c, float(n), "#2b6cb0") for c, n in cats[:top]])
            + _more(len(cats), top, "categories in the chart")
            + "</div><div><h3>By rule</h3>"
            + _hbars([(r, float(n), "#6b46c1") for r, n in removed[:top]])
            + _more(len(removed), top, "rules in the chart") + "</div></div>"
            + "<div class=\"cols\"><div>" + cat_table + "</div><div><details><summary>All rules "
            f"({len(removed):,})</summary>" + rule_table + "</details></div></div>")


def _dupe_charts(dedup_ran: bool, doc_clusters: list[dict[str, Any]], n_passages: int,
                 dup: dict[str, Any]) -> str:
    if not dedup_ran:
        return "<p class=\"muted\">Duplicate detection did not run: no duplicates.json.</p>"
    sizes = [len(_list(c.get("members"))) for c in doc_clusters]
    size_bins = [(str(s), sizes.count(s)) for s in range(2, 11)] + [("11+", sum(1 for s in sizes if s > 10))]
    while len(size_bins) > 4 and size_bins[-1][1] == 0:  # no empty tail, but keep a few bins for scale
        size_bins.pop()
    sims = []
    for c in doc_clusters:
        kept = _key(c.get("kept"))
        for m in _list(c.get("members")):
            sim = max((v for _, v in _measures(m) if v is not None), default=None) if isinstance(m, dict) else None
            if sim is not None and _key(m) != kept:
                sims.append(min(max(sim, 0.0), 1.0))
    sim_bins = [(f"{b / 10:.1f}", sum(1 for s in sims if min(int(s * 10), 9) == b)) for b in range(10)]
    dropped = sum(max(n - 1, 0) for n in sizes)
    settings = dup.get("settings") if isinstance(dup.get("settings"), dict) else {}
    thr = settings.get("documents", {}).get("threshold") if isinstance(settings.get("documents"), dict) else None
    intro = (f"<p>{len(doc_clusters):,} document clusters ({dropped:,} documents dropped as near-duplicates), "
             f"{n_passages:,} duplicate passage clusters"
             + (f"; Jaccard threshold {_e(thr)}" if thr is not None else "") + ".</p>")
    if not doc_clusters:
        return intro + "<p class=\"muted\">No near-duplicate documents.</p>"
    return (intro + "<div class=\"cols\"><div><h3>Cluster sizes</h3>"
            + _histogram(size_bins, "documents per cluster", "#c05621")
            + "</div><div><h3>Similarity to the kept document</h3>"
            + _histogram(sim_bins, "estimated Jaccard or containment (bin start)", "#2c7a7b") + "</div></div>")


# How a member's similarity to the kept document was measured. duplicates.json may carry
# the measure by name (``measure``: "jaccard", "containment", "exact"), or each measure
# as a field of its own; older files have only ``similarity``, the larger of the two.
_MEASURES = {"jaccard": "Jaccard", "containment": "containment", "exact": "exact copy",
             "exact_hash": "exact copy", "hash": "exact copy"}
_MEASURE_NOTE = ("Similarity to the kept document, estimated from MinHash signatures of word 5-grams: "
                 "<b>Jaccard</b> is the share of the two documents' 5-grams they have in common; "
                 "<b>containment</b> the share of one document's 5-grams found in the other (a copy cut "
                 "short, or with a paragraph added); an <b>exact copy</b> has the same text after case and "
                 "punctuation folding. The word diff below measures something else: the share of words "
                 "that match in order.")


def _measures(m: dict[str, Any]) -> list[tuple[str, float | None]]:
    """(name, value) of each similarity measure a cluster member carries."""
    out: list[tuple[str, float | None]] = []
    for field in ("jaccard", "containment"):
        value = _float(m.get(field))
        if value is not None:
            out.append((_MEASURES[field], value))
    if out:
        return out
    name = next((m.get(k) for k in ("measure", "similarity_measure", "method") if isinstance(m.get(k), str)), None)
    sim = _float(m.get("similarity"))
    if name is not None:
        return [(_MEASURES.get(name.lower(), name), sim)]
    return [] if sim is None else [("Jaccard or containment", sim)]


def _measure_cell(m: dict[str, Any]) -> str:
    return "<br>".join(("" if v is None else f"{v:.3f} ") + f"<span class=\"measure\">{_e(name)}</span>"
                       for name, v in _measures(m))


def _member_table(c: dict[str, Any]) -> str:
    kept = _key(c.get("kept"))
    rows = []
    members = [m for m in _list(c.get("members")) if isinstance(m, dict)]
    for m in members[:_CAP]:
        is_kept = _key(m) == kept
        role = ("<span class=\"badge\" style=\"background:#2f855a\">kept</span>" if is_kept
                else "<span class=\"badge\" style=\"background:#c05621\">dropped</span>")
        if m.get("indexed"):
            role += " <span class=\"muted\">(from the index)</span>"
        rows.append([f"<code>{_e(m.get('path'))}</code>", f"<code>{_e(m.get('id') or '')}</code>",
                     "" if is_kept else _measure_cell(m), role])
    headers = ["path", "id", "similarity to kept", ""]
    if not any(m.get("id") is not None for m in members):  # plain files: no id column
        headers, rows = headers[:1] + headers[2:], [r[:1] + r[2:] for r in rows]
    return (_compact(_table(headers, rows, numeric={len(headers) - 2}))
            + _more(len(members), _CAP, "members"))


def _clusters(doc_clusters: list[dict[str, Any]], texts: dict[str, str], have_passages: bool) -> str:
    if not doc_clusters:
        return "<p class=\"muted\">No duplicate document clusters.</p>"
    out = []
    missing_texts = False
    for n, c in enumerate(doc_clusters[:TOP_CLUSTERS]):
        members = [m for m in _list(c.get("members")) if isinstance(m, dict)]
        kept_ref = c.get("kept") if isinstance(c.get("kept"), dict) else {}
        kept = _key(kept_ref)
        head = (f"<h3>{_e(c.get('id') or '')} · {len(members):,} documents · kept "
                f"<code>{_e(kept)}</code></h3>")
        cluster_measure = c.get("measure") if isinstance(c.get("measure"), str) else None
        if cluster_measure:
            head += f"<p class=\"measure\">linked by {_e(_MEASURES.get(cluster_measure.lower(), cluster_measure))}</p>"
        kept_text = _text_of(kept_ref, texts)
        others = sorted((m for m in members if _key(m) != kept),
                        key=lambda m: (_float(m.get("similarity")) or 0.0, _key(m)))
        diffs: list[str] = []
        looked = 0
        if kept_text is not None:
            cands = [(_key(m), _text_of(m, texts)) for m in others[:_DIFFS_PER_CLUSTER * 8]]
            diffs, looked, drawn = _compare(kept, kept_text, [(k, t) for k, t in cands if t is not None])
            if not drawn:  # identical copies (or none with a text): show what is duplicated
                diffs.append(_text_box(kept, kept_text, looked))
        if diffs:
            label = (f"{looked} member{'' if looked == 1 else 's'} compared with the kept document, least similar first"
                     + (f" ({len(others) - looked} more not compared)" if len(others) > looked else ""))
            body = f"<details{' open' if n < 2 else ''}><summary>{_e(label)}</summary>" + "".join(diffs) + "</details>"
        else:
            missing_texts = True
            body = ""
        out.append(f"<div class=\"cluster\">{head}{_member_table(c)}{body}</div>")
    if len(out) > _OPEN_CLUSTERS:  # the largest few open, the rest a click away
        rest = out[_OPEN_CLUSTERS:]
        out = out[:_OPEN_CLUSTERS] + [f"<details><summary>{len(rest)} more of the largest clusters</summary>"
                                      + "".join(rest) + "</details>"]
    note = ""
    if missing_texts:
        note = ("<p class=\"muted\">Member texts were not passed to the report, so clusters are listed without "
                "their texts" + ("; the duplicate passages below are shown side by side instead" if have_passages
                                 else "") + ".</p>")
    return (f"<p class=\"muted\">{_MEASURE_NOTE}</p>" + note + "".join(out)
            + _more(len(doc_clusters), TOP_CLUSTERS, "clusters"))


_TEXT_BOX = 3000  # characters of a duplicated text shown whole


def _text_box(name: str, text: str, identical: int) -> str:
    """The kept document's text, for a cluster whose compared copies are identical to it:
    with nothing to diff, the reader still sees what is duplicated."""
    shown = text[:_TEXT_BOX]
    body = "<br>".join(_e(p) for p in re.split(r"\n\s*\n", shown.strip()))
    more = f" <span class=\"gap\">… {len(text) - _TEXT_BOX:,} more characters</span>" if len(text) > _TEXT_BOX else ""
    what = (f"the text of all {identical + 1} compared copies" if identical else "the kept text")
    return (f"<div class=\"diff one\"><div class=\"side\"><div class=\"hd\">{_e(what)}: <code>{_e(name)}</code>"
            f"</div>{body}{more}</div></div>")


def _compare(ref_name: str, ref: str | None,
             cands: list[tuple[str, str | None]]) -> tuple[list[str], int, int]:
    """Markup comparing ``cands`` (name, text) with the reference text, how many of them it
    covers and how many diffs it draws. Copies identical to the reference are only listed; copies identical to each
    other share one diff; at most ``_DIFFS_PER_CLUSTER`` diffs are drawn."""
    same: list[str] = []
    groups: dict[Any, tuple[str | None, list[str]]] = {}
    looked = 0
    ref_words = ref.split() if ref is not None else None
    for name, text in cands:
        words = tuple(text.split()) if text is not None else ("\0missing", name)
        if ref_words is not None and text is not None and list(words) == ref_words:
            same.append(name)
        elif words in groups:
            groups[words][1].append(name)
        elif len(groups) < _DIFFS_PER_CLUSTER:
            groups[words] = (text, [name])
        else:
            continue
        looked += 1
    out = [_same_note(same)] if same else []
    for text, names in groups.values():
        label = names[0] + (f" (and {len(names) - 1} identical: {', '.join(names[1:4])}"
                            + ("…" if len(names) > 4 else "") + ")" if len(names) > 1 else "")
        out.append(_side_by_side(ref_name, ref, label, text))
    return out, looked, len(groups)


def _same_note(keys: list[str]) -> str:
    """One line for the members whose text equals the reference: no point diffing them."""
    if not keys:
        return ""
    shown = ", ".join(f"<code>{_e(k)}</code>" for k in keys[:8])
    return (f"<p class=\"same\">Identical text: {shown}"
            + (f" and {len(keys) - 8:,} more" if len(keys) > 8 else "") + ".</p>")


def _text_of(ref: Any, texts: dict[str, str]) -> str | None:
    if not isinstance(ref, dict) or not texts:
        return None
    text = texts.get(_key(ref))
    if text is None and ref.get("id") is not None:
        text = texts.get(str(ref.get("path")))
    return text if isinstance(text, str) else None


def _size(cluster: dict[str, Any]) -> int:
    """A passage cluster's size: ``member_count`` when the pipeline passed only its first
    members (see :func:`cleaner.outputs.duplicates.report_view`)."""
    return _int(cluster.get("member_count")) or len(_list(cluster.get("members")))


def _passages(passages: list[dict[str, Any]], total: int) -> str:
    if not passages:
        return "<p class=\"muted\">No duplicate passages.</p>"
    out = []
    for c in passages[:TOP_CLUSTERS]:
        members = [m for m in _list(c.get("members")) if isinstance(m, dict)]
        if not members:
            continue
        n = max(_size(c), len(members))
        ref = next((m for m in members if isinstance(m.get("text"), str)), members[0])
        where = ", ".join(f"<code>{_e(_key(m))}</code>:{_e(m.get('line_start'))}" for m in members[:8])
        where += f" and {n - 8:,} more" if n > 8 else ""
        a = ref.get("text") if isinstance(ref.get("text"), str) else None
        rest = [m for m in members if m is not ref]
        cands = [(f"{_key(m)}:{m.get('line_start')}", m.get("text") if isinstance(m.get("text"), str) else None)
                 for m in rest[:_DIFFS_PER_CLUSTER * 8]]
        pairs, looked, drawn = _compare(f"{_key(ref)}:{ref.get('line_start')}", a, cands)
        if a is not None and not drawn:  # all copies identical: show the text once
            pairs.append(f"<div class=\"diff one\"><div class=\"side\">{_e(a[:2000])}</div></div>")
        if n - 1 > looked:
            pairs.append(f"<p class=\"more\">{n - 1 - looked:,} more copies not compared.</p>")
        out.append(f"<div class=\"cluster\"><h3>{_e(c.get('id') or '')} · {n:,} copies</h3>"
                   f"<p class=\"mono\">{where}</p>{''.join(pairs)}</div>")
    return "".join(out) + _more(total, TOP_CLUSTERS, "passage clusters")


def _side_by_side(a_name: str, a: str | None, b_name: str, b: str | None) -> str:
    """Two columns: ``a`` with the words not in ``b`` struck out, ``b`` with its new words marked."""
    if a is None or b is None:
        left = _e(a) if a is not None else "<span class=\"muted\">(text not in this run: it is in the index)</span>"
        right = _e(b) if b is not None else "<span class=\"muted\">(text not in this run: it is in the index)</span>"
        ratio_note = ""
    else:
        left, right, ratio, cut = _word_diff(a, b)
        ratio_note = (f" · word diff: {ratio:.0%} of words match in order"
                      + (f" · first {_DIFF_WORDS:,} words and marks compared" if cut else ""))
    return (f"<div class=\"diff\"><div class=\"side\"><div class=\"hd\">kept/reference: <code>{_e(a_name)}</code>"
            f"</div>{left}</div><div class=\"side\"><div class=\"hd\"><code>{_e(b_name)}</code>{_e(ratio_note)}"
            f"</div>{right}</div></div>")


_TOKEN = re.compile(r"\n|\w+|[^\w\s]")


def _tokens(text: str) -> list[tuple[str, str]]:
    """Words, punctuation marks and line breaks, each with the space that followed it.

    Punctuation is a token of its own so "analysis." against "analysis" marks just the
    full stop; runs of blank lines collapse to one break so paragraphs stay readable."""
    text = re.sub(r"\n\s*\n+", "\n", text[:_DIFF_WORDS * 40].replace("\r\n", "\n"))  # enough for the cap
    out = []
    for m in _TOKEN.finditer(text):
        t = m.group()
        out.append((t, "" if t == "\n" or text[m.end():m.end() + 1] not in (" ", "\t") else " "))
        if len(out) > _DIFF_WORDS:
            break
    return out


def _render_tokens(tokens: list[tuple[str, str]]) -> str:
    return "".join("<br>" if t == "\n" else _e(t) + sep for t, sep in tokens)


def _render_changed(tag: str, tokens: list[tuple[str, str]]) -> str:
    """A changed span in ``<del>`` or ``<ins>``; one that is only line breaks shows as ¶."""
    inner = "¶" if all(t == "\n" for t, _ in tokens) else _render_tokens(tokens).rstrip(" ")
    return f"<{tag}>{inner}</{tag}>{tokens[-1][1]}"


def _word_diff(a: str, b: str) -> tuple[str, str, float, bool]:
    """Word-level diff of ``a`` and ``b`` with difflib; long equal runs are elided with a
    marker so near-duplicate documents show just their differences with some context."""
    ta, tb = _tokens(a), _tokens(b)
    cut = len(ta) > _DIFF_WORDS or len(tb) > _DIFF_WORDS or max(len(a), len(b)) > _DIFF_WORDS * 40
    ta, tb = ta[:_DIFF_WORDS], tb[:_DIFF_WORDS]
    sm = difflib.SequenceMatcher(None, [t for t, _ in ta], [t for t, _ in tb])
    ops = sm.get_opcodes()
    left: list[str] = []
    right: list[str] = []
    ctx = _DIFF_CONTEXT
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":  # same words; each side keeps its own spacing
            lead = ctx if k > 0 else 0  # context after the previous change
            trail = ctx if k < len(ops) - 1 else 0  # context before the next change
            if len(ops) == 1:  # no change at all: show how the text starts
                lead = 4 * ctx
            for side, run in ((left, ta[i1:i2]), (right, tb[j1:j2])):
                if len(run) > lead + trail + 6:
                    hidden = sum(1 for t, _ in run[lead:len(run) - trail] if t[0].isalnum() or t[0] == "_")
                    gap = f"<span class=\"gap\">… {hidden:,} identical words …</span> "
                    side.append(_render_tokens(run[:lead]) + gap + _render_tokens(run[len(run) - trail:]))
                else:
                    side.append(_render_tokens(run))
            continue
        if i2 > i1:
            left.append(_render_changed("del", ta[i1:i2]))
        if j2 > j1:
            right.append(_render_changed("ins", tb[j1:j2]))
    return "".join(left), "".join(right), sm.ratio(), cut


_MECHANISMS = {"chrome.template": "in many documents of the site",
               "chrome.wrapper": "in the same documents as the page header (page wrapper)"}


def _site(source: Any) -> str:
    return str(source) if source not in (None, "", ".") else "(top folder)"


def _templates(templates: list[dict[str, Any]], dedup_ran: bool) -> str:
    """What template removal took out, per site (source: folder, or URL host): the lines
    and how many times each was removed, so the totals here are the manifest's
    ``chrome.template`` and ``chrome.wrapper`` counts. An older duplicates.json lists
    the lines repeated in many documents instead, removed or not: said so, and shown as
    such."""
    if not templates:
        return ("<p class=\"muted\">No template lines were removed.</p>" if dedup_ran
                else "<p class=\"muted\">Template lines are listed in duplicates.json, which this run lacks.</p>")
    counted = any("removed" in t for t in templates)
    if not counted:
        rows = [[f"{_int(t.get('documents')):,}", f"<code>{_e(_site(t.get('source')))}</code>", _e(t.get("text"))]
                for t in sorted(templates, key=lambda t: -_int(t.get("documents")))[:_CAP]]
        return (f"<p>{len(templates):,} lines repeat across the documents of a source. This duplicates.json "
                "does not say how many of them were removed (it predates removal counts).</p>"
                + _compact(_table(["documents", "source", "line"], rows, numeric={0}))
                + _more(len(templates), _CAP, "lines"))
    by_site: dict[str, list[dict[str, Any]]] = {}
    for t in templates:
        by_site.setdefault(_site(t.get("source")), []).append(t)
    sites = sorted(by_site.items(), key=lambda kv: (-sum(_int(t.get("removed")) for t in kv[1]), kv[0]))
    total = sum(_int(t.get("removed")) for t in templates)
    mech: Counter[str] = Counter()
    for t in templates:
        mech[str(t.get("mechanism") or "")] += _int(t.get("removed"))
    how = "; ".join(f"{n:,} by <code>{_e(m)}</code> ({_e(_MECHANISMS.get(m, m))})"
                    for m, n in sorted(mech.items(), key=lambda kv: -kv[1]) if m)
    def distinct(ts: list[dict[str, Any]]) -> int:  # a row without text counts `lines` lines
        return sum(1 if t.get("text") is not None else _int(t.get("lines")) for t in ts)

    summary_rows = [[f"<code>{_e(site)}</code>", f"{sum(_int(t.get('removed')) for t in ts):,}",
                     f"{distinct(ts):,}"] for site, ts in sites[:_CAP]]
    out = [f"<p>{total:,} lines removed as site template, {distinct(templates):,} distinct lines on {len(sites):,} "
           f"site{'' if len(sites) == 1 else 's'}" + (f": {how}" if how else "") + ".</p>",
           _compact(_table(["site", "lines removed", "distinct lines"], summary_rows, numeric={1, 2}))
           + _more(len(sites), _CAP, "sites")]
    for n, (site, ts) in enumerate(sites[:TOP_CLUSTERS]):
        ts = sorted(ts, key=lambda t: (t.get("text") is None, -_int(t.get("removed")), -_int(t.get("documents")),
                                       str(t.get("text"))))
        rows = [[_e(t.get("text")) if t.get("text") is not None else
                 f"<span class=\"muted\">{_int(t.get('lines')):,} more lines, each removed only a few times "
                 "(counted, not listed)</span>",
                 f"{_int(t.get('removed')):,}", f"{_int(t.get('documents')):,}" if t.get("documents") is not None
                 else "", f"<code>{_e(t.get('mechanism') or '')}</code>"] for t in ts[:_CAP]]
        out.append(f"<details{' open' if n == 0 else ''}><summary>{_e(site)}: "
                   f"{sum(_int(t.get('removed')) for t in ts):,} lines removed, {distinct(ts):,} distinct</summary>"
                   + _table(["line", "times removed", "documents with it", "removed by"], rows, numeric={1, 2})
                   + _more(len(ts), _CAP, "lines") + "</details>")
    out.append(_more(len(sites), TOP_CLUSTERS, "sites with their lines"))
    return "".join(out)


def _problems(errors: list[tuple[str, str]], over: list[str], manifest: list[dict[str, Any]]) -> str:
    out = [f"<h3>Errors ({len(errors):,})</h3>"]
    if errors:
        out.append(_table(["input", "reason"], [[f"<code>{_e(k)}</code>", _e(r)] for k, r in errors[:_CAP]])
                   + _more(len(errors), _CAP, "errors"))
    else:
        out.append("<p class=\"muted\">No errors.</p>")
    out.append(f"<h3>Over-cleaned documents ({len(over):,})</h3>")
    if over:
        by_key = {_key(r): r for r in manifest}
        rows = []
        for k in over[:_CAP]:
            r = by_key.get(k, {})
            status = str(r.get("status") or "")
            kept = status == "kept"
            cin, cout = _int(r.get("chars_in")), _int(r.get("chars_out"))
            win, wout = _int(r.get("words_in")), _int(r.get("words_out"))
            by = r.get("removed_words") if isinstance(r.get("removed_words"), dict) else {}
            top = ", ".join(f"{_e(str(m))} {_int(n):,}" for m, n in
                            sorted(by.items(), key=lambda kv: -_int(kv[1]))[:3])
            rows.append([f"<code>{_e(k)}</code>", _badge(status) if status else "", f"{cin:,}" if r else "",
                         f"{cout:,}" if kept else "", f"{1 - cout / cin:.0%}" if kept and cin else "",
                         f"{1 - wout / win:.0%}" if kept and win else "", top])
        rest = over[_CAP:]
        # every flagged document is named: the first ones with their figures, the rest by name
        listed = (f"<details><summary>The other {len(rest):,} over-cleaned documents</summary><p>"
                  + " ".join(f"<code>{_e(k)}</code>" for k in rest) + "</p></details>") if rest else ""
        out.append("<p class=\"muted\">These documents lost more than their share of words to cleaning (a "
                   "third to rules, or nine tenths in all, or half with under a hundred words left): worth "
                   "a look. Words removed by each mechanism are in the manifest's <code>removed_words</code>."
                   "</p>"
                   # seven columns do not fit a phone's width: the table scrolls inside its card
                   + "<div class=\"wide\">"
                   + _compact(_table(["document", "fate", "chars in", "chars out", "chars removed",
                                      "words removed", "most removed by (words)"], rows, numeric={2, 3, 4, 5}))
                   + "</div>"
                   + listed)
    else:
        out.append("<p class=\"muted\">None.</p>")
    return "".join(out)


def _stages(summary: dict[str, Any]) -> str:
    stages = summary.get("stages")
    if not isinstance(stages, dict) or not stages:
        return "<p class=\"muted\">No stage statistics (summary.json is missing).</p>"
    rows, bars = [], []
    for name, s in stages.items():
        s = s if isinstance(s, dict) else {}
        secs = _float(s.get("seconds")) or 0.0
        rows.append([_e(name), f"{_int(s.get('docs_in')):,}", f"{_int(s.get('docs_out')):,}", f"{secs:,.2f}"])
        bars.append((str(name), round(secs, 2), "#319795"))
    return ("<div class=\"cols\"><div>" + _table(["stage", "documents in", "documents out", "seconds"], rows,
                                                 numeric={1, 2, 3})
            + "</div><div>" + _hbars(bars) + "</div></div>")

"""Reports: duplicates tables for the terminal and the self-contained HTML report."""

from __future__ import annotations

import html
from collections import Counter
from typing import Any


def render_html(manifest: list[dict[str, Any]], duplicates: dict[str, Any] | None,
                summary: dict[str, Any]) -> str:
    """One self-contained HTML page: no scripts, no network; every input string escaped."""
    esc = html.escape
    counts = summary.get("counts", {})
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in counts.items())
    removed = summary.get("removed_by_rule", {})
    rule_rows = "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in list(removed.items())[:50])
    clusters = ""
    if duplicates:
        for c in duplicates.get("documents", [])[:20]:
            members = "".join(f"<li>{esc(str(m['path']))} {esc(str(m.get('id') or ''))} "
                              f"({m.get('similarity', 1.0):.2f})</li>" for m in c["members"])
            clusters += f"<li>kept {esc(str(c['kept']))}<ul>{members}</ul></li>"
    statuses = Counter(r["status"] for r in manifest)
    return f"""<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>cleaner report</title></head><body>
<h1>cleaner report</h1><table>{rows}</table>
<p>{sum(statuses.values())} documents</p>
<h2>Removed by rule</h2><table>{rule_rows}</table>
<h2>Largest duplicate clusters</h2><ol>{clusters}</ol>
</body></html>
"""


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
                lines.append(f"        {m['similarity']:.2f}  {_name(m)}")
    ps = dup.get("passages", [])
    lines.append(f"{len(ps)} duplicate passage clusters")
    for c in sorted(ps, key=lambda c: -len(c["members"]))[:50]:
        text = c["members"][0]["text"]
        lines.append(f"  {c['id']}  {len(c['members'])}x  {text[:70]!r}")
        for m in c["members"]:
            lines.append(f"        {_name(m)}:{m['line_start']}")
    ts = dup.get("templates", [])
    lines.append(f"{len(ts)} template lines")
    for t in ts[:30]:
        lines.append(f"  {t['documents']:>5} docs  {t['source'] or '.'}  {t['text'][:70]!r}")
    return "\n".join(lines)


def _name(m: dict[str, Any]) -> str:
    return m["path"] if m.get("id") is None else f"{m['path']}#{m['id']}"


def dupes_csv(dup: dict[str, Any]) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["kind", "cluster", "path", "id", "similarity", "line_start", "line_end", "kept"])
    for c in dup.get("documents", []):
        for m in c["members"]:
            w.writerow(["document", c["id"], m["path"], m["id"] or "", m["similarity"], "", "",
                        int(_name(m) == _name(c["kept"]))])
    for c in dup.get("passages", []):
        for m in c["members"]:
            w.writerow(["passage", c["id"], m["path"], m["id"] or "", "", m["line_start"], m["line_end"], ""])
    return buf.getvalue()


def suggest_rules(templates: list[dict[str, Any]], language: str = "xx") -> str:
    """TOML ``line`` rules for template lines, ready to review and drop into a rules folder."""
    import re

    out = [f'[pack]\nlanguage = "{language}"\ncategory = "navigation"\n']
    seen = set()
    for t in templates:
        text = t["text"]
        if text in seen:
            continue
        seen.add(text)
        slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "line"
        rid = f"{language}.navigation.site-{slug}"
        why = f"template line of {t['source'] or '.'}: in {t['documents']} documents"
        pattern = re.escape(text).replace("'", "\\x27")
        out.append(
            "[[rule]]\n"
            f"id = {json_str(rid)}\n"
            'kind = "line"\n'
            f"pattern = '''{pattern}'''\n"
            f"why = {json_str(why)}\n"
            f"match = [{json_str(text)}]\n"
            f"no_match = [{json_str(text + ' and more words that make it different')}]\n"
        )
    return "\n".join(out)


def json_str(s: str) -> str:
    import json

    return json.dumps(s, ensure_ascii=False)


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

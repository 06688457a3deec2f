"""The HTML report: figures, charts, side-by-side diffs, caps, hostile input, and a real browser.

The report is opened by people from a corpus built out of scraped pages, so two things
matter beyond "it renders": the figures on the page are the run's figures, and nothing a
scraped page or file name contains can run in the reader's browser. The static tests parse
the page with lxml; the ``browser`` tests load it in headless Chromium and read back the
DOM after rendering (and a screenshot, kept in tests/artifacts/ for a human to look at).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from cleaner.outputs.report import render_html

from .conftest import ROOT, run_cli

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"

# ----------------------------------------------------------------------------- a realistic run

ARTICLE = [
    "WASHINGTON, April 8 - The U.S. Agriculture Department is seeking public comments on the question "
    "of adjusting the Commodity Credit Corporation's discount and premium schedules.",
    "The premiums and discounts schedule are based on quality factors such as moisture content and "
    "kernel damage, and the schedule stipulates the premiums used for valuing grain.",
    "The department said it is possible that producers could be encouraged to deliver higher quality "
    "grain to CCC by adjusting the premiums and discounts.",
    "Comments are due by April 24 and a report to Congress is required by law by May 10.",
]


def _variant(drop: int | None = None, typo: bool = False, extra: str | None = None) -> str:
    paras = [p for i, p in enumerate(ARTICLE) if i != drop]
    if typo:
        paras[0] = paras[0].replace("Agriculture", "Agricultur").replace("seeking", "seekng")
    if extra:
        paras.insert(1, extra)
    return "\n\n".join(paras)


def realistic_run() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], dict[str, str]]:
    """A small run with every fate, rules of several categories, a 4-member and a 2-member
    duplicate cluster, passages, templates, an error and an over-cleaned document."""
    manifest: list[dict[str, Any]] = []

    def rec(path: str, status: str, **kw: Any) -> None:
        r = {"path": path, "id": kw.pop("id", None), "status": status, "reason": kw.pop("reason", ""),
             "encoding": "utf-8", "chars_in": kw.pop("chars_in", 3000), "chars_out": kw.pop("chars_out", 0),
             "removed": kw.pop("removed", {})}
        r.update(kw)
        manifest.append(r)

    rec("news/grain-2024.txt", "kept", chars_out=2100, removed={"en.comments.leave-a-reply": 3,
                                                                 "en.navigation.menu-items": 4},
        output="clean/news/grain-2024.txt")
    for n in range(2, 8):
        rec(f"news/other-{n}.txt", "kept", chars_out=2500, removed={"en.share.share-this": 1,
                                                                    "xx.credits.agency-credit": n % 3},
            output=f"clean/news/other-{n}.txt")
    rec("news/thin.txt", "kept", chars_in=4000, chars_out=300, removed={"chrome.furniture": 30},
        flags=["over_cleaned"], output="clean/news/thin.txt")
    rec("mirror/grain-copy.txt", "duplicate", reason="near-duplicate of news/grain-2024.txt",
        duplicate_of={"path": "news/grain-2024.txt", "id": None}, removed={"en.comments.leave-a-reply": 2})
    rec("mirror/grain-typo.txt", "duplicate", duplicate_of={"path": "news/grain-2024.txt", "id": None})
    rec("feeds/agri.jsonl", "duplicate", id="item-17", duplicate_of={"path": "news/grain-2024.txt", "id": None})
    rec("news/other-3-amp.txt", "duplicate", duplicate_of={"path": "news/other-3.txt", "id": None})
    rec("news/blank.txt", "empty", reason="nothing left after cleaning", removed={"chrome.template": 5})
    rec("assets/logo.png", "skipped", reason="unsupported file type")
    rec("broken/bad.warc.gz", "error", reason="unreadable: truncated gzip member")

    duplicates = {
        "documents": [
            {"id": "d1", "kept": {"path": "news/grain-2024.txt", "id": None},
             "members": [{"path": "news/grain-2024.txt", "id": None, "similarity": 1.0},
                         {"path": "mirror/grain-copy.txt", "id": None, "similarity": 0.93},
                         {"path": "mirror/grain-typo.txt", "id": None, "similarity": 0.81},
                         {"path": "feeds/agri.jsonl", "id": "item-17", "similarity": 0.66}]},
            {"id": "d2", "kept": {"path": "news/other-3.txt", "id": None},
             "members": [{"path": "news/other-3.txt", "id": None, "similarity": 1.0},
                         {"path": "news/other-3-amp.txt", "id": None, "similarity": 0.97}]},
        ],
        "passages": [
            {"id": "p1", "members": [
                {"path": "news/other-2.txt", "id": None, "line_start": 5, "line_end": 5,
                 "text": "Subscribe to our newsletter for the latest grain market analysis every morning."},
                {"path": "news/other-5.txt", "id": None, "line_start": 9, "line_end": 9,
                 "text": "Subscribe to our weekly newsletter for the latest grain market analysis."},
                {"path": "news/other-6.txt", "id": None, "line_start": 2, "line_end": 2,
                 "text": "Subscribe to our newsletter for the latest grain market analysis every morning."}]},
            {"id": "p2", "members": [
                {"path": "archive/old.txt", "id": None, "line_start": 1, "line_end": 1, "text": None,
                 "indexed": True},
                {"path": "news/other-4.txt", "id": None, "line_start": 3, "line_end": 3,
                 "text": "Prices quoted are indicative and subject to change without notice."}]},
        ],
        "templates": [  # what template removal took out (TemplateStats.removed_report)
            {"source": "news", "text": "Home | World | Markets | Contact us", "mechanism": "chrome.template",
             "removed": 5, "documents": 7},
            {"source": "news", "text": "© 2024 Grain Wire. All rights reserved.", "mechanism": "chrome.wrapper",
             "removed": 4, "documents": 6},
            {"source": "", "text": "Back to top", "mechanism": "chrome.template", "removed": 1, "documents": 2},
            # lines removed only a few times each are counted, not listed
            {"source": "news", "text": None, "mechanism": "chrome.wrapper", "removed": 5, "documents": None,
             "lines": 3},
        ],
        "settings": {"documents": {"threshold": 0.5}, "passages": {"threshold": 0.7}},
    }
    summary = {
        "version": "0.1.0",
        "counts": {"kept": 8, "duplicate": 4, "empty": 1, "skipped": 1, "error": 1},
        "errors": [{"key": "broken/bad.warc.gz", "reason": "unreadable: truncated gzip member"}],
        "over_cleaned": ["news/thin.txt"],
        "removed_by_rule": {},  # filled below from the manifest, as pipeline.summary does
        "stages": {"read+clean": {"docs_in": 15, "docs_out": 13, "seconds": 1.25},
                   "templates": {"docs_in": 13, "docs_out": 12, "seconds": 0.31},
                   "dedup": {"docs_in": 12, "docs_out": 8, "seconds": 0.42},
                   "write": {"docs_in": 0, "docs_out": 0, "seconds": 0.05}},
        "bytes_in": 48_211,
    }
    removed: dict[str, int] = {}
    for r in manifest:
        for k, v in r["removed"].items():
            removed[k] = removed.get(k, 0) + v
    summary["removed_by_rule"] = dict(sorted(removed.items(), key=lambda kv: (-kv[1], kv[0])))
    texts = {
        "news/grain-2024.txt": _variant(),
        "mirror/grain-copy.txt": _variant(extra="READ ALSO: Wheat futures climb on export demand"),
        "mirror/grain-typo.txt": _variant(typo=True),
        "feeds/agri.jsonl#item-17": _variant(drop=2),
        "news/other-3.txt": "Corn exports rose in March.\n\nAnalysts expect more.",
        "news/other-3-amp.txt": "Corn exports rose sharply in March.\n\nAnalysts expect more.",
    }
    return manifest, duplicates, summary, texts


def parse(page: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(page)


def figure(doc: lxml.html.HtmlElement, name: str) -> str:
    """The big number of an overview tile."""
    (tile,) = doc.xpath(f'//div[@data-figure="{name}"]/b')
    return tile.text_content().strip()


def section(doc: lxml.html.HtmlElement, anchor: str) -> lxml.html.HtmlElement:
    (sec,) = doc.xpath(f'//section[@id="{anchor}"]')
    return sec


def rows(sec: lxml.html.HtmlElement) -> list[list[str]]:
    return [[td.text_content().strip() for td in tr.xpath("./td")] for tr in sec.xpath(".//tbody/tr")]


# ----------------------------------------------------------------------------- static tests


def test_key_figures_and_charts() -> None:
    manifest, dup, summary, texts = realistic_run()
    doc = parse(render_html(manifest, dup, summary, texts))
    assert doc.findtext(".//title") == "cleaner report"
    assert figure(doc, "documents") == "15"
    assert [figure(doc, f) for f in ("kept", "duplicate", "empty", "skipped", "error")] == ["8", "4", "1", "1", "1"]
    assert figure(doc, "duplicate clusters") == "2"
    assert figure(doc, "read") == "47.1 KB"
    # the fate chart: one bar and one number per fate
    fate_bars = section(doc, "fate").xpath(".//div[@class='bar']")
    assert len(fate_bars) == 5
    assert [b.xpath(".//span[@class='num']")[0].text for b in fate_bars] == ["8", "4", "1", "1", "1"]
    # stages table
    assert rows(section(doc, "stages"))[0] == ["read+clean", "15", "13", "1.25"]
    # errors and over-cleaned documents are listed
    problems = section(doc, "problems").text_content()
    assert "broken/bad.warc.gz" in problems and "truncated gzip member" in problems
    assert "news/thin.txt" in problems and "92%" in problems  # 4000 -> 300 characters
    over_rows = rows(section(doc, "problems"))
    assert ["news/thin.txt", "kept", "4,000", "300", "92%"] in [r[:5] for r in over_rows]
    # templates: what was removed, per site, adding up to the manifest's chrome.template count
    tpl = section(doc, "templates")
    assert "15 lines removed as site template, 6 distinct lines on 2 sites" in tpl.text_content()
    assert rows(tpl)[:2] == [["news", "14", "5"], ["(top folder)", "1", "1"]]
    assert rows(tpl)[2] == ["Home | World | Markets | Contact us", "5", "7", "chrome.template"]
    assert rows(tpl)[4] == ["3 more lines, each removed only a few times (counted, not listed)", "5", "",
                            "chrome.wrapper"]
    assert figure(doc, "template lines removed") == "15"


def test_chrome_by_category_and_rule() -> None:
    manifest, dup, summary, _ = realistic_run()
    sec = section(parse(render_html(manifest, dup, summary)), "chrome")
    tables = sec.xpath(".//table")
    by_cat = {r[0]: r for r in rows(tables[0])}
    # leave-a-reply 3 + 2 = 5 lines in "comments"; menu-items 4 in "navigation";
    # agency-credit sums n % 3 for n in 2..7 = 2+0+1+2+0+1 = 6; two-part ids are their own category
    assert by_cat["comments"][1:3] == ["1", "5"]
    assert by_cat["navigation"][1:3] == ["1", "4"]
    assert by_cat["credits"][1:3] == ["1", "6"]
    assert by_cat["chrome.furniture"][1:3] == ["1", "30"]
    assert by_cat["chrome.template"][1:3] == ["1", "5"]
    by_rule = {r[0]: r for r in rows(tables[1])}
    assert by_rule["en.comments.leave-a-reply"] == ["en.comments.leave-a-reply", "comments", "5"]
    # and both have bars: the largest category first, bars labelled with numbers, labels whole
    cat_bars, rule_bars = sec.xpath(".//div[@class='bars']")
    assert cat_bars.xpath(".//span[@class='lbl']")[0].text == "chrome.furniture"
    assert cat_bars.xpath(".//span[@class='num']")[0].text == "30"
    assert len(rule_bars.xpath(".//div[@class='bar']")) == len(summary["removed_by_rule"])
    assert [x.text for x in rule_bars.xpath(".//span[@class='lbl']")] == list(summary["removed_by_rule"])


def test_duplicate_histograms() -> None:
    manifest, dup, summary, _ = realistic_run()
    sec = section(parse(render_html(manifest, dup, summary)), "dupes")
    sizes_svg, sims_svg = sec.xpath(".//svg")
    bars = {g.findtext("title").split(":")[0]: g.findtext("title").split(": ")[1] for g in sizes_svg.xpath(".//g")}
    assert bars == {"2": "1", "3": "0", "4": "1", "5": "0"}  # sizes 2 and 4; no long empty tail
    sims = {g.findtext("title").split(":")[0]: g.findtext("title").split(": ")[1] for g in sims_svg.xpath(".//g")}
    # the kept documents are not counted: 0.93, 0.81, 0.66 and 0.97 are
    assert sims == {"0.0": "0", "0.1": "0", "0.2": "0", "0.3": "0", "0.4": "0", "0.5": "0", "0.6": "1",
                    "0.7": "0", "0.8": "1", "0.9": "2"}


def test_cluster_diffs_mark_word_changes() -> None:
    manifest, dup, summary, texts = realistic_run()
    doc = parse(render_html(manifest, dup, summary, texts))
    sec = section(doc, "clusters")
    clusters = sec.xpath(".//div[@class='cluster']")
    assert len(clusters) == 2
    first = clusters[0]
    assert "news/grain-2024.txt" in first.xpath(".//h3")[0].text_content()
    member_paths = [r[0] for r in rows(first)]
    assert member_paths == ["news/grain-2024.txt", "mirror/grain-copy.txt", "mirror/grain-typo.txt",
                            "feeds/agri.jsonl"]
    # least similar first: feeds/agri.jsonl#item-17 (paragraph 3 dropped), then the typo copy
    diffs = first.xpath(".//div[@class='diff']")
    assert len(diffs) == 3
    heads = [d.xpath(".//div[@class='hd']")[1].text_content() for d in diffs]
    assert heads[0].startswith("feeds/agri.jsonl#item-17") and heads[1].startswith("mirror/grain-typo.txt")
    dropped = " ".join(d.text_content() for d in diffs[0].xpath(".//del"))
    assert "encouraged to deliver higher quality" in dropped and not diffs[0].xpath(".//ins")
    typo_del = [d.text_content() for d in diffs[1].xpath(".//del")]
    typo_ins = [i.text_content() for i in diffs[1].xpath(".//ins")]
    assert typo_del == ["Agriculture", "seeking"] and typo_ins == ["Agricultur", "seekng"]
    inserted = " ".join(i.text_content() for i in diffs[2].xpath(".//ins"))
    assert inserted == "READ ALSO: Wheat futures climb on export demand"
    # long identical runs are elided, not repeated in full
    assert "identical words" in diffs[1].text_content()
    # the 2-member cluster: one word inserted
    (d2,) = clusters[1].xpath(".//div[@class='diff']")
    assert [i.text_content() for i in d2.xpath(".//ins")] == ["sharply"]


def test_without_texts_passages_are_shown_side_by_side() -> None:
    manifest, dup, summary, _ = realistic_run()
    doc = parse(render_html(manifest, dup, summary))  # no texts, as the pipeline calls it today
    clusters = section(doc, "clusters")
    assert not clusters.xpath(".//div[@class='diff']")
    assert "shown side by side instead" in clusters.text_content()
    passages = section(doc, "passages")
    p1, p2 = passages.xpath(".//div[@class='cluster']")
    diffs = p1.xpath(".//div[@class='diff']")
    assert len(diffs) == 1  # the reworded copy; the exact copy is listed, not diffed
    assert [i.text_content() for i in diffs[0].xpath(".//ins")] == ["weekly"]
    assert [d.text_content() for d in diffs[0].xpath(".//del")] == ["every morning"]  # the "." is shared
    assert p1.xpath(".//p[@class='same']")[0].text_content() == "Identical text: news/other-6.txt:2."
    # two copies reworded the same way share one diff
    dup["passages"][0]["members"].append({**dup["passages"][0]["members"][1], "path": "news/other-7.txt"})
    p1 = section(parse(render_html(manifest, dup, summary)), "passages").xpath(".//div[@class='cluster']")[0]
    (diff,) = p1.xpath(".//div[@class='diff']")
    assert "news/other-5.txt:9 (and 1 identical: news/other-7.txt:9)" in diff.text_content()
    # an indexed member has no text in this run: said so, and its partner's text shown
    assert "in the index" in p2.text_content() and "indicative and subject to change" in p2.text_content()



def test_identical_texts_are_shown_not_hidden() -> None:
    """A copy identical to the kept text is listed as such, and a passage cluster whose copies
    are all identical still shows its text once (not just an "identical words" marker)."""
    manifest, dup, summary, texts = realistic_run()
    texts["mirror/grain-copy.txt"] = texts["news/grain-2024.txt"]
    for m in dup["passages"][0]["members"]:
        m["text"] = "Subscribe to our newsletter for the latest grain market analysis every morning."
    doc = parse(render_html(manifest, dup, summary, texts))
    first = section(doc, "clusters").xpath(".//div[@class='cluster']")[0]
    assert "Identical text: mirror/grain-copy.txt." in first.text_content()
    assert len(first.xpath(".//div[@class='diff']")) == 2
    p1 = section(doc, "passages").xpath(".//div[@class='cluster']")[0]
    assert "latest grain market analysis every morning" in p1.text_content()
    from cleaner.outputs.report import _word_diff

    left, right, ratio, _ = _word_diff("one two three four five six seven", "one two three four five six seven")
    assert ratio == 1.0 and "one two three" in left and "one two three" in right and "identical" not in left


def test_identical_duplicates_show_the_duplicated_text() -> None:
    """Two copies of one story: the cluster shows the story itself, not only "identical"."""
    manifest, dup, summary, texts = realistic_run()
    texts["news/other-3-amp.txt"] = texts["news/other-3.txt"]
    second = section(parse(render_html(manifest, dup, summary, texts)), "clusters").xpath(
        ".//div[@class='cluster']")[1]
    assert "Identical text: news/other-3-amp.txt." in second.text_content()
    (box,) = second.xpath(".//div[@class='diff one']")
    assert "Corn exports rose in March." in box.text_content() and "Analysts expect more." in box.text_content()
    assert "the text of all 2 compared copies" in box.text_content()


def test_identical_duplicates_through_the_pipeline(tmp_path: Path) -> None:
    """The real run: two identical files and a third with one line of chrome more."""
    raw = tmp_path / "raw"
    raw.mkdir()
    story = "\n\n".join(ARTICLE)
    (raw / "a.txt").write_text(story, encoding="utf-8")
    (raw / "b.txt").write_text(story, encoding="utf-8")
    run_cli("clean", raw, "-o", tmp_path / "out", "--workers", "1")
    doc = parse((tmp_path / "out" / "report.html").read_text(encoding="utf-8"))
    (cluster,) = section(doc, "clusters").xpath(".//div[@class='cluster']")
    assert "encouraged to deliver higher quality grain" in cluster.text_content()


def test_similarity_measures_are_named() -> None:
    """Each number says what it measures: a measure named by the member, each measure of
    its own field, or (older files) the larger of the two; the word diff says it is one."""
    manifest, dup, summary, texts = realistic_run()
    members = dup["documents"][0]["members"]
    members[1].update({"measure": "containment"})
    members[2].update({"jaccard": 0.62, "containment": 0.9})
    members[3].update({"measure": "exact"})
    doc = parse(render_html(manifest, dup, summary, texts))
    first = section(doc, "clusters").xpath(".//div[@class='cluster']")[0]
    cells = {r[0]: r[2] for r in rows(first)}  # path, id, similarity, role
    assert cells["mirror/grain-copy.txt"] == "0.930 containment"
    assert cells["mirror/grain-typo.txt"] == "0.620 Jaccard0.900 containment"
    assert cells["feeds/agri.jsonl"] == "0.660 exact copy"
    assert cells["news/grain-2024.txt"] == ""  # the kept document is not compared with itself
    second = section(doc, "clusters").xpath(".//div[@class='cluster']")[1]
    assert {r[0]: r[1] for r in rows(second)}["news/other-3-amp.txt"] == "0.970 Jaccard or containment"
    text = section(doc, "clusters").text_content()
    assert "Jaccard is the share" in text and "containment the share" in text
    assert "word diff: 86% of words match in order" in text
    assert "alike word by word" not in text


def test_template_lines_are_what_was_removed(tmp_path: Path) -> None:
    """The report's template lines are those template removal took out, per site, and
    they add up to the manifest's counts; a line that only repeats (in 5 of a site's 20
    pages, under the 30% share) is not listed, and stays in the text."""
    from .conftest import read_manifest
    from .scrapes import multi_site_scrape

    raw = multi_site_scrape(tmp_path / "raw", per_site=20)
    rare = "Analysts expect grain prices to stay firm through the spring planting season."
    for n in range(5):
        page = raw / "harbour-times" / f"page-{n:02d}.txt"
        lines = page.read_text(encoding="utf-8").split("\n\n")
        page.write_text("\n\n".join(lines[:3] + [rare] + lines[3:]), encoding="utf-8")
    out = tmp_path / "out"
    run_cli("clean", raw, "-o", out, "--workers", "1")
    templates = json.loads((out / "duplicates.json").read_text(encoding="utf-8"))["templates"]
    removed: dict[str, int] = {}
    for r in read_manifest(out):
        for k, v in r.get("removed", {}).items():
            removed[k] = removed.get(k, 0) + v
    assert sum(t["removed"] for t in templates) == removed.get("chrome.template", 0) + removed.get("chrome.wrapper", 0)
    for mech in ("chrome.template", "chrome.wrapper"):
        assert sum(t["removed"] for t in templates if t["mechanism"] == mech) == removed.get(mech, 0)
    assert templates and rare not in {t["text"] for t in templates}
    assert sum(rare in p.read_text(encoding="utf-8") for p in (out / "clean" / "harbour-times").iterdir()) == 5
    doc = parse((out / "report.html").read_text(encoding="utf-8"))
    sec = section(doc, "templates")
    total = sum(t["removed"] for t in templates)
    assert f"{total:,} lines removed as site template" in sec.text_content()
    sites = {r[0]: r[1] for r in rows(sec) if len(r) == 3}
    for site in {t["source"] for t in templates}:
        assert sites[site] == f"{sum(t['removed'] for t in templates if t['source'] == site):,}"
    assert figure(doc, "template lines removed") == f"{total:,}"


def test_pathological_texts_diff_quickly() -> None:
    """Repetitive scraped text (separator rows, "the the the") must not make difflib
    quadratic-per-element: the whole report of such texts renders in well under a second."""
    import time

    manifest, dup, summary, texts = realistic_run()
    texts["news/grain-2024.txt"] = "the " * 20_000
    texts["mirror/grain-copy.txt"] = "the a " * 10_000
    texts["mirror/grain-typo.txt"] = "| " * 20_000
    texts["feeds/agri.jsonl#item-17"] = "x . " * 10_000
    t0 = time.perf_counter()
    page = render_html(manifest, dup, summary, texts)
    assert time.perf_counter() - t0 < 5
    assert "first 3,000 words and marks compared" in page

def test_empty_run_and_missing_duplicates() -> None:
    for page in (render_html([], None, {}), render_html([], {"documents": [], "passages": [], "templates": []},
                                                         {"counts": {}})):
        doc = parse(page)
        assert figure(doc, "documents") == "0"
        assert "No input documents" in section(doc, "fate").text_content()
        assert "No duplicate document clusters" in section(doc, "clusters").text_content()
        assert "No errors" in section(doc, "problems").text_content()
    doc = parse(render_html([], None, {}))
    assert "did not run" in section(doc, "dupes").text_content()


def test_summary_missing_falls_back_to_manifest() -> None:
    """``cleaner report`` on a folder without summary.json passes {}: counts, rules, errors
    and over-cleaned documents come from the manifest."""
    manifest, _, _, _ = realistic_run()
    doc = parse(render_html(manifest, None, {}))
    assert [figure(doc, f) for f in ("kept", "duplicate", "empty", "skipped", "error")] == ["8", "4", "1", "1", "1"]
    problems = section(doc, "problems").text_content()
    assert "broken/bad.warc.gz" in problems and "news/thin.txt" in problems
    assert "comments" in [r[0] for r in rows(section(doc, "chrome").xpath(".//table")[0])]


def test_large_run_is_capped() -> None:
    n_docs = 30_000
    manifest = [{"path": f"site/{i:06d}.txt", "id": None, "status": "error" if i % 7 == 0 else "duplicate",
                 "reason": "x" * 40, "encoding": "utf-8", "chars_in": 1000, "chars_out": 0,
                 "removed": {f"en.cat{i % 40}.rule-{i % 3000}": 1}, "flags": ["over_cleaned"]}
                for i in range(n_docs)]
    long_text = " ".join(f"word{i}" for i in range(20_000))
    texts = {f"site/{i:06d}.txt": long_text + (" changed" if i % 2 else "") for i in range(0, 20 * 30)}
    dup = {"documents": [{"id": f"d{c}", "kept": {"path": f"site/{c * 30:06d}.txt", "id": None},
                          "members": [{"path": f"site/{c * 30 + k:06d}.txt", "id": None, "similarity": 0.9}
                                      for k in range(60)]} for c in range(2000)],
           "passages": [{"id": f"p{c}", "members": [{"path": f"site/{k:06d}.txt", "id": None, "line_start": k,
                                                     "line_end": k, "text": long_text[:3000]} for k in range(40)]}
                        for c in range(3000)],
           "templates": [{"source": "site", "text": f"template line {i}", "documents": i} for i in range(8000)]}
    summary = {"errors": [{"key": r["path"], "reason": r["reason"]} for r in manifest if r["status"] == "error"]}
    page = render_html(manifest, dup, summary, texts)
    assert len(page.encode("utf-8")) < 1_500_000, len(page)
    doc = parse(page)
    text = doc.text_content()
    for more in ("more documents not shown", "more rules not shown", "more templates", "more clusters not shown",
                 "more passage clusters not shown", "more errors not shown", "more members not shown"):
        assert re.search(r"… and [\d,]+ " + more.replace("more templates", "more lines"), text), more
    assert "first 3,000 words and marks compared" in text
    assert len(section(doc, "templates").xpath(".//tbody/tr")) == 50
    assert len(section(doc, "clusters").xpath(".//div[@class='cluster']")) == 10


def test_cli_report_and_pipeline_write_the_report(tmp_path: Path) -> None:
    """The real callers: ``cleaner clean`` writes OUT/report.html and ``cleaner report OUT``
    rebuilds it (here without summary.json, as from an older run)."""
    out = tmp_path / "out"
    run_cli("clean", ROOT / "seeds", "-o", out, "--workers", "1", "--no-dedup")
    doc = parse((out / "report.html").read_text(encoding="utf-8"))
    assert figure(doc, "kept") == "5"
    rules = [r[0] for r in rows(section(doc, "chrome").xpath(".//table")[1])]
    assert "en.related.see-also" in rules
    (out / "report.html").unlink()
    (out / "summary.json").unlink()
    run_cli("report", out)
    doc = parse((out / "report.html").read_text(encoding="utf-8"))
    assert figure(doc, "kept") == "5"
    assert "en.related.see-also" in [r[0] for r in rows(section(doc, "chrome").xpath(".//table")[1])]


# ----------------------------------------------------------------------------- hostile input

PAYLOADS = [
    "<script>document.title='PWNED'</script>",
    "<script>alert(1)</script>",
    "\"><img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">",
    "'><img src=x onerror=alert(1)>",
    "javascript:document.body.setAttribute('data-pwned','1')",
    "</style><script>document.title='PWNED'</script>",
    "</title><svg onload=\"document.body.setAttribute('data-pwned','1')\">",
    "<iframe src=\"javascript:parent.document.body.setAttribute('data-pwned','1')\"></iframe>",
    "</textarea></code></td></table><a href=\"javascript:alert(1)\">x</a>",
    "<![CDATA[<script>alert(1)</script>]]><!--",
]


def hostile_run() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], dict[str, str]]:
    """The realistic run with a payload in every string that comes from the input."""
    manifest, dup, summary, texts = realistic_run()
    p = PAYLOADS
    hostile = [{"path": f"{p[i % len(p)]}/{i}.txt", "id": p[(i + 3) % len(p)] if i % 2 else None,
                "status": "duplicate" if i < 4 else ("error" if i < 6 else "kept"),
                "reason": p[(i + 1) % len(p)], "encoding": p[0], "chars_in": 100, "chars_out": 50,
                "removed": {f"en.{p[i % len(p)]}.{p[(i + 5) % len(p)]}": 2, p[(i + 2) % len(p)]: 1},
                "flags": ["over_cleaned"], "url": p[4],
                "duplicate_of": {"path": p[2], "id": p[5]}} for i in range(len(p))]
    manifest = manifest + hostile
    manifest.append({"path": "weird-status.txt", "id": None, "status": p[0], "reason": p[2], "removed": {}})
    members = [{"path": m["path"], "id": m["id"], "similarity": 0.9} for m in hostile]
    dup["documents"].insert(0, {"id": p[1], "kept": {"path": hostile[0]["path"], "id": hostile[0]["id"]},
                                "members": members})
    dup["passages"].insert(0, {"id": p[6], "members": [
        {"path": m["path"], "id": m["id"], "line_start": p[3], "line_end": 2, "text": f"shared {x} text"}
        for m, x in zip(hostile, p, strict=True)]})
    dup["templates"] = [{"source": x, "text": y, "documents": 3} for x, y in zip(p, reversed(p), strict=True)]
    dup["settings"] = {"documents": {"threshold": p[0]}}
    for m, x in zip(hostile, p, strict=True):
        key = m["path"] if m["id"] is None else f"{m['path']}#{m['id']}"
        texts[key] = f"Common words before {x} and after.\n\n{' '.join(p)}"
    summary["counts"] = {**summary["counts"], p[0]: 1, "kept": p[2]}
    summary["errors"] = summary["errors"] + [{"key": x, "reason": y} for x, y in zip(p, reversed(p), strict=True)]
    summary["over_cleaned"] = list(p)
    summary["removed_by_rule"] = {**summary["removed_by_rule"], **{f"xx.{x}.r": 1 for x in p}}
    summary["stages"] = {**summary["stages"], p[0]: {"docs_in": p[1], "docs_out": 1, "seconds": p[2]}}
    summary["version"] = p[5]
    return manifest, dup, summary, texts


def assert_inert(page: str) -> None:
    """Nothing in ``page`` can run: no script/img/iframe/svg-with-handler elements from the
    input, no event-handler attributes, no javascript: URLs, our one <style> intact."""
    doc = parse(page)
    assert not doc.xpath("//script"), "a script element"
    assert not doc.xpath("//img|//iframe|//object|//embed|//a[@href and not(starts-with(@href, '#'))]")
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue  # comments and processing instructions: only ours, checked below
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), (el.tag, name, value)
            assert "javascript:" not in value.lower() or name == "data-figure", (el.tag, name, value)
    assert len(doc.xpath("//style")) == 1 and "PWNED" not in doc.xpath("//style")[0].text
    assert not doc.xpath("//comment()"), "an input string opened a comment"
    low = page.lower()
    assert "<script" not in low and "<img" not in low and "<iframe" not in low
    assert re.search(r"<[^>]*\sonerror=", low) is None
    assert low.count("</style>") == 1
    assert [t.text for t in doc.xpath("/html/head/title")] == ["cleaner report"]
    # the CSP forbids scripts even if something slipped through
    (csp,) = doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    assert "script-src 'none'" in csp and "default-src 'none'" in csp


def test_hostile_input_is_escaped_everywhere() -> None:
    manifest, dup, summary, texts = hostile_run()
    page = render_html(manifest, dup, summary, texts)
    assert_inert(page)
    text = parse(page).text_content()
    # the payloads are shown, as text, where they came in
    for x in PAYLOADS:
        assert x in text, x
    # texts went through the diff and kept their words, escaped
    assert "onerror=\"document.body.setAttribute('data-pwned','1')\">" in text


def test_assert_inert_can_fail() -> None:
    """The static check catches a page that does not escape (so its passing means something)."""
    manifest, dup, summary, texts = hostile_run()
    page = render_html(manifest, dup, summary, texts)
    for bad in ("<script>x()</script>", "<img src=x onerror=y()>", "<b onmouseover=y()>x</b>",
                "<a href='javascript:y()'>x</a>", "</style><p>"):
        with pytest.raises(AssertionError):
            assert_inert(page.replace("<footer>", "<footer>" + bad, 1))


def test_undecodable_file_names_do_not_break_the_page(tmp_path: Path) -> None:
    name = b"caf\xe9-\xff.txt".decode("utf-8", "surrogateescape")
    manifest = [{"path": name, "id": None, "status": "error", "reason": "bad", "removed": {}}]
    page = render_html(manifest, None, {})
    (tmp_path / "r.html").write_text(page, encoding="utf-8")  # must not raise
    assert "caf\\udce9-\\udcff.txt" in parse(page).text_content()


# ----------------------------------------------------------------------------- real browser

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason=f"{CHROMIUM} is missing (apt-get install chromium)")


def chromium(tmp_path: Path, page: Path, *args: str) -> str:
    """Run headless Chromium on ``page`` and return its stdout (the DOM with --dump-dom)."""
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def screenshot(tmp_path: Path, page: Path, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars")
    assert shot.exists(), "no screenshot written"
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 30_000, f"screenshot only {len(data)} bytes: blank page?"
    return shot


def pwned(dom: str) -> list[str]:
    """Signs that a payload ran: the attribute it sets, or the title it sets."""
    doc = parse(dom)
    signs = [f"data-pwned on <{el.tag}>" for el in doc.xpath("//*[@data-pwned]")]
    if (doc.findtext(".//title") or "").strip() == "PWNED":
        signs.append("title PWNED")
    return signs


@pytest.mark.browser
@needs_chromium
def test_browser_shows_key_figures(tmp_path: Path) -> None:
    manifest, dup, summary, texts = realistic_run()
    page = tmp_path / "report.html"
    page.write_text(render_html(manifest, dup, summary, texts), encoding="utf-8")
    dom = parse(chromium(tmp_path, page, "--dump-dom"))
    assert dom.findtext(".//title") == "cleaner report"
    assert figure(dom, "kept") == "8" and figure(dom, "duplicate") == "4" and figure(dom, "error") == "1"
    clusters = section(dom, "clusters")
    assert "mirror/grain-typo.txt" in clusters.text_content()
    assert [i.text_content() for i in clusters.xpath(".//ins")][:2] == ["Agricultur", "seekng"]
    assert len(section(dom, "fate").xpath(".//div[@class='bar']")) == 5
    shot = screenshot(tmp_path, page, "report.png")
    assert shot.stat().st_size > 30_000


@pytest.mark.browser
@needs_chromium
def test_browser_detects_an_unescaped_payload(tmp_path: Path) -> None:
    """Control: the same payloads pasted raw into a page do run in this browser, so the
    hostile-report test below would see it if the report let them through."""
    page = tmp_path / "raw.html"
    page.write_text("<!doctype html><html><head><title>raw</title></head><body>"
                    + PAYLOADS[0] + PAYLOADS[2] + "</body></html>", encoding="utf-8")
    signs = pwned(chromium(tmp_path, page, "--dump-dom"))
    assert "title PWNED" in signs and any(s.startswith("data-pwned") for s in signs), signs


@pytest.mark.browser
@needs_chromium
def test_browser_hostile_report_runs_nothing(tmp_path: Path) -> None:
    manifest, dup, summary, texts = hostile_run()
    html_text = render_html(manifest, dup, summary, texts)
    page = tmp_path / "hostile.html"
    page.write_text(html_text, encoding="utf-8")
    dom_text = chromium(tmp_path, page, "--dump-dom")
    assert pwned(dom_text) == []
    dom = parse(dom_text)
    assert dom.findtext(".//title") == "cleaner report"
    assert not dom.xpath("//script|//img|//iframe")
    assert PAYLOADS[2] in section(dom, "clusters").text_content()  # shown as text
    # escaping alone is enough: without the CSP meta nothing runs either
    no_csp = tmp_path / "hostile-no-csp.html"
    stripped = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html_text)
    assert stripped != html_text
    no_csp.write_text(stripped, encoding="utf-8")
    assert pwned(chromium(tmp_path, no_csp, "--dump-dom")) == []
    screenshot(tmp_path, page, "report-hostile.png")


def test_artifacts_folder_ignores_screenshots() -> None:
    ignore = ARTIFACTS / ".gitignore"
    assert ignore.exists() and "*.png" in ignore.read_text(encoding="utf-8").split()



# Run in a copy of the report (the report itself has no scripts, and its CSP forbids them):
# the page's height as it opens, where its sections start, then every <details> opened and
# each rendered element checked for content wider than its box.
_LAYOUT_JS = """<script>
(function () {
  var doc = document.documentElement, body = document.body;
  body.setAttribute('data-height', doc.scrollHeight);
  var tops = {};
  document.querySelectorAll('main > section').forEach(function (s) {
    tops[s.id] = Math.round(s.getBoundingClientRect().top + window.scrollY);
  });
  body.setAttribute('data-tops', JSON.stringify(tops));
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  var bad = [];
  document.querySelectorAll('main *').forEach(function (el) {
    if (el.closest('svg') || !el.clientWidth) return;  // inline boxes have no clientWidth
    var cs = getComputedStyle(el);
    if (cs.overflowX === 'auto' || cs.overflowX === 'scroll') return;  // scrolls by design
    if (el.scrollWidth > el.clientWidth + 1) {
      bad.push(el.tagName + '.' + el.className + ' ' + el.scrollWidth + '>' + el.clientWidth + ': '
               + el.textContent.slice(0, 50));
    }
  });
  body.setAttribute('data-overflow', JSON.stringify(bad));
  body.setAttribute('data-page-width', doc.scrollWidth + '/' + doc.clientWidth);
})();
</script>"""

LONG_PATH = ("archive/" + "a_very_long_folder_name_without_spaces_or_hyphens_" * 3  # nowhere to break
             + "story_about_grain_exports_2024_05_01_final_version_copy.txt")
LONG_RULE = "en.navigation." + "an-extremely-long-rule-identifier-that-keeps-going-" * 2 + "menu"
LONG_SITE = "www.a_news_site_with_an_unusually_long_host_name_for_testing.example.com"


def long_names_run() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], dict[str, str]]:
    """The realistic run with a long, unbreakable file name as an over-cleaned document, an
    error, the kept document of the largest cluster and a template site; and a long rule id."""
    manifest, dup, summary, texts = realistic_run()
    manifest.append({"path": LONG_PATH, "id": None, "status": "kept", "reason": "", "chars_in": 5000,
                     "chars_out": 400, "removed": {LONG_RULE: 9}, "flags": ["over_cleaned"]})
    summary["over_cleaned"] = [*summary["over_cleaned"], LONG_PATH]
    summary["errors"] = [*summary["errors"], {"key": LONG_PATH + ".warc.gz", "reason": "unreadable: " + "x" * 150}]
    summary["counts"] = {**summary["counts"], "kept": 9, "error": 2}
    summary["removed_by_rule"] = {LONG_RULE: 99, **summary["removed_by_rule"]}
    first = dup["documents"][0]
    first["kept"] = {"path": LONG_PATH, "id": None}
    first["members"][0]["path"] = LONG_PATH
    texts[LONG_PATH] = texts.pop("news/grain-2024.txt")
    dup["templates"].append({"source": LONG_SITE, "text": "https://" + LONG_SITE + "/" + "x" * 120,
                             "mechanism": "chrome.template", "removed": 50, "documents": 40})
    return manifest, dup, summary, texts


def layout(tmp_path: Path, page_html: str, width: int, name: str = "layout.html") -> lxml.html.HtmlElement:
    stripped = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page_html)
    assert stripped != page_html
    page = tmp_path / name
    page.write_text(stripped.replace("</body>", _LAYOUT_JS + "</body>"), encoding="utf-8")
    return parse(chromium(tmp_path, page, "--dump-dom", f"--window-size={width},1000"))


def test_layout_script_catches_an_overflow(tmp_path: Path) -> None:
    """Control: the check sees a long name that does not wrap, as the report's tiles and
    cells had before their overflow-wrap."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    html = ("<!doctype html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"x\"></head>"
            f"<body><main><section><div style=\"width:200px\"><code>{LONG_PATH}</code></div></section></main>"
            "</body></html>")
    body = layout(tmp_path, html, 800).xpath("//body")[0]
    assert json.loads(body.get("data-overflow")), "an overflowing box went unnoticed"


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("width", [1280, 560])
def test_browser_long_names_wrap_and_the_lead_comes_first(tmp_path: Path, width: int) -> None:
    manifest, dup, summary, texts = long_names_run()
    html_text = render_html(manifest, dup, summary, texts)
    dom = layout(tmp_path, html_text, width)
    body = dom.xpath("//body")[0]
    assert json.loads(body.get("data-overflow")) == []
    page_w, view_w = map(int, body.get("data-page-width").split("/"))
    assert page_w <= view_w, "the page scrolls sideways"
    # shown whole, never shortened
    assert LONG_PATH in section(dom, "problems").text_content()
    assert LONG_PATH in section(dom, "clusters").xpath(".//h3")[0].text_content()
    assert LONG_RULE in [x.text for x in section(dom, "chrome").xpath(".//span[@class='lbl']")]
    assert LONG_SITE in section(dom, "templates").text_content()
    assert LONG_PATH in dom.xpath("//div[@data-figure='largest cluster']")[0].text_content()
    # what a user acts on first: lost inputs and over-cleaned documents, then the clusters;
    # the rest is folded below them
    tops = json.loads(body.get("data-tops"))
    order = sorted(tops, key=tops.get)
    assert order[:3] == ["overview", "problems", "clusters"], order
    assert [figure(dom, f) for f in ("inputs lost", "over-cleaned documents", "duplicates dropped",
                                     "largest cluster")] == ["3", "2", "4", "4"]
    if width == 1280:
        assert int(body.get("data-height")) < 3500, body.get("data-height")
        page = tmp_path / "report-long-names.html"
        page.write_text(html_text, encoding="utf-8")
        screenshot(tmp_path, page, "report-long-names.png")

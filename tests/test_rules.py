"""Rules: every built-in rule's examples (data-driven, one test per rule), the engine's
kinds and guards, and loading errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleaner.clean.rules import MAX_RULE_LINE, RuleError, RuleSet, builtin_rules_dir, load_dirs

from . import rules_apply_oracle as oracle
from .conftest import run_cli

BUILTIN = load_dirs([builtin_rules_dir()])


def test_builtin_packs_exist() -> None:
    langs = {r.language for r in BUILTIN}
    cats = {r.category for r in BUILTIN}
    assert {"en", "ru", "de", "fr", "es", "pt"} <= langs
    assert {"comments", "search", "related", "read-also", "credits", "navigation", "share", "newsletter",
            "cookies", "advertisement", "tags", "pagination", "metadata"} <= cats


@pytest.mark.parametrize("rule", BUILTIN, ids=[r.id for r in BUILTIN])
def test_rule_examples(rule) -> None:
    assert rule.check_examples() == []


def test_ids_unique_and_named() -> None:
    ids = [r.id for r in BUILTIN]
    assert len(ids) == len(set(ids))
    for r in BUILTIN:
        assert r.id.startswith(f"{r.language}.{r.category}."), r.id
        assert r.why, f"{r.id} says nothing about where the string comes from"


def test_rules_test_command() -> None:
    res = run_cli("rules", "test")
    assert " 0 failed" in res.output


def write_pack(folder: Path, category: str, body: str, lang: str = "en") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"{category}.toml"
    p.write_text(f'[pack]\nlanguage = "{lang}"\ncategory = "{category}"\n\n{body}', encoding="utf-8")
    return folder


ARTICLE = [
    "Council approves the new budget",
    "The city council voted on Tuesday to approve a budget that raises spending on roads and schools.",
    "Members said the plan would be reviewed again in the spring, after the first quarter's figures arrive.",
    "Officials expect the new road programme to start in May, once contracts have been signed with builders.",
]


def rs_from(tmp_path: Path, category: str, body: str) -> RuleSet:
    return RuleSet.load([write_pack(tmp_path / "r", category, body)], builtin=False)


def test_line_rule_and_prose_guard(tmp_path: Path) -> None:
    rs = rs_from(tmp_path, "search", '[[rule]]\nid = "en.search.s"\nkind = "line"\npattern = \'.*search.*\'\n'
                                     'match = ["Search"]\nno_match = ["x"]\n')
    lines = ["Search", "Close this search box.",
             "Police continued the search for the missing hikers on Sunday, officials said in a statement."]
    app = rs.apply(lines)
    assert app.marks == ["en.search.s", "en.search.s", None]
    assert oracle.sentence_like(lines[2])


def test_tail_rule_needs_body_above(tmp_path: Path) -> None:
    rs = rs_from(tmp_path, "comments", '[[rule]]\nid = "en.comments.r"\nkind = "tail"\n'
                                       'pattern = \'leave a reply\'\nmatch = ["Leave a Reply"]\nno_match = ["x"]\n')
    doc = ARTICLE + ["Leave a Reply", "Great article!", "Thanks for sharing."]
    assert rs.apply(doc).marks == [None] * 4 + ["en.comments.r"] * 3
    early = ["Leave a Reply"] + ARTICLE
    assert rs.apply(early).marks == [None] * 5, "a marker at the top must not eat the article"


def test_tail_marker_above_the_body_is_metadata(tmp_path: Path) -> None:
    rs = rs_from(tmp_path, "comments", '[[rule]]\nid = "en.comments.r"\nkind = "tail"\n'
                                       'pattern = \'\\d+ comments\'\nmatch = ["0 Comments"]\nno_match = ["x"]\n')
    teasers = ["Mayor opens the new bridge over the river after two years of building work.",
               "Budget talks",
               "Schools reopen after the summer holidays with more teachers than last year."]
    doc = teasers + [ARTICLE[0], "By Jane Doe", "0 Comments"] + ARTICLE[1:] + ARTICLE[1:]
    marks = rs.apply(doc).marks
    assert marks[5] == "en.comments.r", "the count itself is chrome"
    assert marks[:5] + marks[6:] == [None] * (len(doc) - 1), "a comment count in the byline row is not a thread heading"
    thread = teasers + ARTICLE + ["2 Comments", "Great article, thank you for writing it up so clearly."]
    assert rs.apply(thread).marks[-2:] == ["en.comments.r"] * 2


@pytest.mark.parametrize("zero, count", [
    ("0 Comments", "3 Comments"), ("0 Kommentare", "3 Kommentare"), ("Keine Kommentare", "Kommentare (3)"),
    ("0 commentaire", "3 commentaires"), ("Aucun commentaire", "Commentaires (3)"),
    ("0 comentarios", "3 comentarios"), ("Sin comentarios", "Comentarios (3)"),
    ("0 комментариев", "3 комментария"), ("Нет комментариев", "Комментарии (3)"),
    ("0 comentários", "3 comentários"), ("Nenhum comentário", "Comentários (3)"),
])
def test_zero_comment_count_is_only_a_line(zero: str, count: str) -> None:
    """A zero count heads no thread (themes print it in the post meta, possibly above the
    text): in every language it removes itself only, while a non-zero count still ends the page."""
    rs = RuleSet.load()
    doc = ARTICLE + [zero] + ARTICLE[1:]
    marks = rs.apply(doc).marks
    assert marks[len(ARTICLE)] is not None and rs.line_rule(zero).kind == "line", zero
    assert [m for i, m in enumerate(marks) if i != len(ARTICLE)] == [None] * (len(doc) - 1), zero
    thread = ARTICLE + ARTICLE[1:] + [count, "Great article, thank you for writing it up so clearly."]
    assert rs.apply(thread).marks[-2:] == [rs.line_rule(count).id] * 2, count
    assert rs.line_rule(count).kind == "tail", count


def test_list_rule_stops_at_prose(tmp_path: Path) -> None:
    rs = rs_from(tmp_path, "related", '[[rule]]\nid = "en.related.r"\nkind = "list"\n'
                                      'pattern = \'see also:?\'\nmatch = ["See also:"]\nno_match = ["x"]\n')
    doc = ARTICLE[:2] + ["See also:", "Mayor opens bridge", "", "Budget talks stall again in council"] + ARTICLE[2:]
    marks = rs.apply(doc).marks
    assert marks[2:6] == ["en.related.r", "en.related.r", None, "en.related.r"]
    assert marks[6:] == [None, None]


def test_list_rule_stops_at_hard_wrapped_prose(tmp_path: Path) -> None:
    """Newswire text wrapped at a fixed width has no line that reads as a sentence on its
    own; a list heading above it must not take it for headline links."""
    rs = rs_from(tmp_path, "related", '[[rule]]\nid = "en.related.r"\nkind = "list"\n'
                                      'pattern = \'top news\'\nmatch = ["Top News"]\nno_match = ["x"]\n')
    wrapped = ["PARIS, May 4 - The central bank said on Monday that it would",
               "keep its main interest rate unchanged for a third month, as",
               "inflation eased faster than most economists had expected."]
    doc = ["Top News", "Mayor opens bridge", "", "Budget talks stall again", "", *wrapped]
    marks = rs.apply(doc).marks
    assert marks[:4] == ["en.related.r"] * 2 + [None, "en.related.r"]
    assert marks[4:] == [None] * 4


# A site's top navigation: link labels, one a line, as a raw text scrape renders them.
TOP_NAV = ["Home", "World news", "Business and markets", "Science and health", "Sport results",
           "Culture and books", "Travel guides", "Opinion columns", "Weather forecast", "Podcasts",
           "Newsletters", "Events calendar", "Contact the newsroom", "Subscribe to the print edition",
           "Log in to your account"]
SECTION_NAV = ["Politics", "Elections", "Parliament", "Local government", "Courts and justice",
               "Economy", "Companies", "Markets data", "Personal finance", "Property prices",
               "Football", "Cricket", "Tennis", "Motor racing", "Cycling", "Horse racing",
               "Film reviews", "Television listings", "Music", "Theatre and dance"]
# An article whose paragraphs are long prose; the first two do not end in a full stop
# (a standfirst, a paragraph ending in a quotation without punctuation).
LONG_ARTICLE = [
    "Harbour authority approves the eastern quay extension",
    "The harbour authority has approved the extension of the eastern quay, a project that will let "
    "larger ferries dock in the old port and that has been debated by the council for six years",
    "Work on the foundations is due to begin in the spring and the authority expects the first ships "
    "to use the new berth within two years of the start of construction, according to its director",
    "Local fishermen, who had opposed an earlier version of the plan, said they were satisfied that "
    "the new design keeps a separate basin for their boats and leaves the fish market where it is.",
    "The cost of the work, estimated at forty million euros, will be shared between the port, the "
    "regional government and a European fund for transport links between the islands.",
    "Residents of the streets behind the quay have asked for a limit on lorry traffic during the "
    "works, and the authority has promised to publish a traffic plan before the summer.",
]


def test_tail_marker_in_the_top_menu_keeps_the_article() -> None:
    """Issue 15: a comment-section link in the site menu ("Comments (3)", "Readers'
    comments") matches a tail rule, but the page's longest prose is below it: only the
    marker line goes, never the article."""
    rs = RuleSet.load()
    tools = ["Print this page", "Email this page to a friend", "Download as PDF", "Save to your reading list"]
    for marker in ("Comments (3)", "Readers' comments"):
        doc = TOP_NAV + SECTION_NAV + [marker] + tools + LONG_ARTICLE + ["Privacy policy", "Terms of use"]
        marks = rs.apply(doc).marks
        at = doc.index(marker)
        assert marks[at] is not None, marker
        start = doc.index(LONG_ARTICLE[0])
        assert marks[start:start + len(LONG_ARTICLE)] == [None] * len(LONG_ARTICLE), marker


def test_tail_marker_below_the_article_still_ends_the_page() -> None:
    """A real thread after the article: its comments are short runs of prose between
    names and dates, shorter than the article, so the cut is proven safe."""
    rs = RuleSet.load()
    thread = ["3 Comments", "Maria", "12 May 2021 at 9:14", "About time, the old quay has been too small for years.",
              "Reply", "Tom", "12 May 2021 at 10:02",
              "I hope the lorry limit is real this time, the last works were a nightmare for us.", "Reply"]
    doc = TOP_NAV + LONG_ARTICLE + thread
    marks = rs.apply(doc).marks
    n = len(TOP_NAV) + len(LONG_ARTICLE)
    assert marks[len(TOP_NAV):n] == [None] * len(LONG_ARTICLE)
    assert marks[n:] == ["en.comments.n-responses"] * len(thread)


def test_user_tail_rule_is_guarded_too(tmp_path: Path) -> None:
    """The guard is the engine's, not the packs': a user's tail rule cannot eat the
    article either."""
    rs = rs_from(tmp_path, "comments", '[[rule]]\nid = "en.comments.mine"\nkind = "tail"\n'
                                       'pattern = \'discussion\'\nmatch = ["Discussion"]\nno_match = ["x"]\n')
    nav = TOP_NAV + SECTION_NAV
    doc = nav + ["Discussion", "Print this page", "Email this page to a friend", "Download as PDF"] + LONG_ARTICLE
    marks = rs.apply(doc).marks
    assert marks[len(nav)] == "en.comments.mine"
    assert marks[-len(LONG_ARTICLE):] == [None] * len(LONG_ARTICLE)


def test_list_heading_in_a_menu_stops_at_the_article() -> None:
    """"Latest" is a menu item above the article: the list rule takes the menu links
    after it, not the article's first paragraph (which need not end like a sentence,
    but is longer than a headline)."""
    rs = RuleSet.load()
    menu = ["Latest", "Politics", "World", "Sports", "Events"]
    lead = ["The harbour authority has approved the extension of the eastern quay after six years of debate "
            "between the council, the fishermen and the ferry companies of the islands",
            "This will let the larger ferries dock in the old port from the summer of next year"]
    doc = menu + ["By Ann Smith", "May 12, 2021"] + lead + LONG_ARTICLE[3:]
    marks = rs.apply(doc).marks
    assert marks[:len(menu)] == ["en.related.popular"] * len(menu)
    assert marks[len(menu) + 2:] == [None] * (len(doc) - len(menu) - 2)


def test_list_heading_does_not_take_a_table_of_figures() -> None:
    """A headline list is made of words; rows of figures after a heading are a table."""
    rs = RuleSet.load()
    table = ["Month Open High Low Close", "Jan 412.5 418.0 409.2 415.1", "Feb 415.0 421.3 411.8 420.4",
             "Mar 420.1 425.6 417.0 423.9"]
    doc = LONG_ARTICLE[3:] + ["Popular", *table]
    marks = rs.apply(doc).marks
    assert marks[len(LONG_ARTICLE) - 3] == "en.related.popular"
    assert marks[-3:] == [None] * 3


def test_credit_with_caption(tmp_path: Path) -> None:
    rs = rs_from(tmp_path, "credits", '[[rule]]\nid = "xx.credits.c"\nkind = "credit"\ncaption = true\n'
                                      'pattern = \'© [^/]+/[A-Z]+\'\nmatch = ["© Jane Doe/AP"]\nno_match = ["x"]\n')
    doc = [ARTICLE[1], "The mayor at the opening", "© Jane Doe/AP", ARTICLE[2]]
    assert rs.apply(doc).marks == [None, "xx.credits.c", "xx.credits.c", None]


def test_inline_rule_cuts_span(tmp_path: Path) -> None:
    rs = rs_from(tmp_path, "read-also", '[[rule]]\nid = "en.read-also.r"\nkind = "inline"\n'
                                        'pattern = \'read also: .*$\'\nmatch = ["READ ALSO: x"]\nno_match = ["y"]\n')
    app = rs.apply(["READ ALSO: Mayor opens bridge", "Short note. Read also: the archive"])
    assert app.marks == ["en.read-also.r", None]
    assert app.lines[1] == "Short note." and app.edits == {1: "en.read-also.r"}



def test_inline_rules_apply_in_order_on_what_the_last_left(tmp_path: Path) -> None:
    """Inline rules run in rule order, each on the line as the one before left it: the
    second sees the first's cut, and a line the first empties is not offered to the second."""
    rs = rs_from(tmp_path, "read-also",
                 '[[rule]]\nid = "en.read-also.first"\nkind = "inline"\npattern = \'\\[see: [^\\]]*\\]\'\n'
                 'match = ["[see: x]"]\nno_match = ["y"]\n\n'
                 '[[rule]]\nid = "en.read-also.second"\nkind = "inline"\npattern = \'(?:more|see): \\S+$\'\n'
                 'match = ["more: x"]\nno_match = ["y"]\n')
    app = rs.apply(["Bridge opens [see: photos] more: gallery",  # both cut, first then second
                    "[see: all]",  # the first leaves nothing: the line goes, marked by it
                    "Roads close. more: map",  # only the second
                    "[see: a] see: b"])  # the second matches only what the first left
    assert app.lines[0] == "Bridge opens" and app.edits[0] == "en.read-also.second"
    assert app.marks[:3] == [None, "en.read-also.first", None]
    assert app.lines[2] == "Roads close." and app.edits[2] == "en.read-also.second"
    assert app.lines[3] == "see: b" and app.marks[3] == "en.read-also.second"

def test_disable_and_enable(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "r", "metadata",
                        '[[rule]]\nid = "en.metadata.a"\nkind = "line"\npattern = \'by .*\'\n'
                        'match = ["By Jane"]\nno_match = ["x"]\n\n'
                        '[[rule]]\nid = "en.metadata.b"\nkind = "line"\npattern = \'updated .*\'\ndefault = false\n'
                        'match = ["Updated today"]\nno_match = ["x"]\n')
    assert [r.id for r in RuleSet.load([folder], builtin=False).rules] == ["en.metadata.a"]
    assert [r.id for r in RuleSet.load([folder], builtin=False, enable=["en.metadata.b"]).rules] == [
        "en.metadata.a", "en.metadata.b"]
    assert RuleSet.load([folder], builtin=False, disable=["metadata"]).rules == []
    assert RuleSet.load([folder], builtin=False, disable=["en.metadata.*"]).rules == []


def test_user_rule_overrides_builtin(tmp_path: Path) -> None:
    some = BUILTIN[0]
    folder = write_pack(tmp_path / "r", some.category,
                        f'[[rule]]\nid = "{some.id}"\nkind = "line"\npattern = \'zzz\'\n'
                        'match = ["zzz"]\nno_match = ["x"]\n', lang=some.language)
    rs = RuleSet.load([folder])
    assert [r.pattern for r in rs.rules if r.id == some.id] == ["zzz"]


@pytest.mark.parametrize("body, message", [
    ('[[rule]]\nid = "a"\nkind = "nope"\npattern = "x"\n', "kind must be one of"),
    ('[[rule]]\nid = "a"\nkind = "line"\npattern = "(unclosed"\n', "bad pattern"),
    ('[[rule]]\nid = "a"\nkind = "line"\npattern = "x"\ncolour = "red"\n', "unknown field"),
    ('[[rule]]\nkind = "line"\npattern = "x"\n', "no string 'id'"),
    ('[[rule]]\nid = "a"\nkind = "line"\npattern = "(a|aa)+(?!x)$"\n', "backtracks catastrophically"),
    ('[[rule]]\nid = "a"\nkind = "line"\npattern = "\\\\p{Nope}"\n', "bad pattern: Unicode property not found"),
    ('[[rule]]\nid = "a"\nkind = "line"\npattern = "(?:share){e<=1}"\n', "fuzzy matching .* is not supported"),
    # an automaton over the core's size limit: refused at load, not on a worker's first use
    ('[[rule]]\nid = "a"\nkind = "line"\npattern = "((a{1000}){1000}){10}"\n',
     r"share.toml:1: rule a: bad pattern: .*exceeded limit"),
    ('[[rule]]\nid = "a"\nkind = "inline"\npattern = "(?=b)((a{1000}){1000}){10}"\n', "bad pattern: .*NFA"),
])
def test_load_errors_name_the_file(tmp_path: Path, body: str, message: str) -> None:
    folder = write_pack(tmp_path / "r", "share", body)
    with pytest.raises(RuleError, match=message) as info:
        RuleSet.load([folder], builtin=False)
    assert "share.toml" in str(info.value)


def test_explain_marks_lines(tmp_path: Path, root: Path) -> None:
    res = run_cli("rules", "explain", root / "seeds" / "004_d51eabd51f3bc1f0.txt")
    lines = res.output.splitlines()
    assert any(ln.startswith("- [") and ln.endswith("Close this search box.") for ln in lines)
    assert any(ln.startswith("  ") and "Russia’s foreign minister on Thursday" in ln for ln in lines)


def test_core_equals_rule_by_rule(root: Path) -> None:
    """The core's one pass over all rules claims every line for the same rule as trying
    every rule's own regex in order, and offers every inline rule that would cut a span."""
    from cleaner.clean.normalise import collapse

    rs = RuleSet.load(enable=["*"])
    lines = [collapse(x) for r in rs.rules for x in (*r.match, *r.no_match)]
    for seed in (root / "seeds").iterdir():
        lines += [collapse(x) for x in seed.read_text(encoding="utf-8").splitlines() if x.strip()]
    scanned = oracle._scan(rs, lines)
    for i, line in enumerate(lines):
        prose = oracle.sentence_like(line)
        expected = next((r for r in rs.rules if r.kind != "inline" and (r.long or not prose)
                         and len(line) <= MAX_RULE_LINE and r.hit(line) is not None), None)
        assert rs.line_rule(line) is expected, line
        assert oracle._rule_of(rs, scanned.get(i), prose) is expected, line  # a document in one call: the same
        inline = set(rs._line_hits(line)[2])
        for n, r in enumerate(rs.rules):
            if r.kind == "inline" and r.hit(line) is not None:
                assert n in inline, (r.id, line)


def test_a_pattern_that_backtracks_exponentially_elsewhere_runs_in_linear_time(tmp_path: Path) -> None:
    """``(a|aa)+$`` takes exponential time in a backtracking engine on a run of "a" that
    ends in another character (the ``regex`` module needed a time-out and a load-time probe
    to refuse it). The core's engine has no backtracking for a pattern without lookaround:
    the rule loads and answers at once, whatever the line."""
    import time

    rs = rs_from(tmp_path, "share", '[[rule]]\nid = "en.share.a"\nkind = "line"\npattern = "(a|aa)+$"\n'
                                    'match = ["aaa"]\nno_match = ["aab"]\n')
    assert rs.self_test() == []
    line = "a" * (MAX_RULE_LINE - 1) + "!"
    start = time.perf_counter()
    assert rs.line_rule(line) is None and rs.line_rule("a" * 40) is rs.rules[0]
    assert time.perf_counter() - start < 1.0


def test_builtin_patterns_build_within_the_size_limit() -> None:
    """The built-in packs' automata are built on first use, not at load (a user's folder is
    checked in full when it loads): this is that check, for every built-in rule."""
    assert [(r.id, r.compiled.check()) for r in BUILTIN if r.compiled is not None and r.compiled.check()] == []


def test_builtin_backtracking_rules_stay_within_the_limit() -> None:
    """The built-in packs are not probed at every start (a user's folder is): this is the
    probe, for the rules that run on the bounded backtracker (lookaround)."""
    from cleaner.clean.rules import probes

    backtracking = [r for r in BUILTIN if r.compiled is not None and r.compiled.backtracks]
    assert backtracking  # the lookaround rules
    for rule in backtracking:
        for text in probes(rule):
            assert not rule.compiled.find(text)[1], (rule.id, text[:20])


# A blog's front page: posts one after another, each closed by its own comment count.
POSTS = [
    ["Saturday, 12 June 2021", "Harbour works begin", *LONG_ARTICLE[1:3], "Posted at 9:14 | link", "5 comments"],
    ["Friday, 11 June 2021", "The new ferry timetable",
     "The summer timetable of the island ferries was published this morning, with two more crossings a day "
     "on the northern route and a late boat on Fridays and Saturdays for the first time in years.",
     "The operator says that the extra crossings depend on the new berth, and that the late boat will be "
     "dropped again in September if fewer than a hundred passengers use it on an average night.",
     "Posted at 8:02 | link", "12 comments"],
    ["Thursday, 10 June 2021", "Fishermen and the quay", *LONG_ARTICLE[3:5], "Posted at 7:40 | link", "2 comments"],
    ["Wednesday, 9 June 2021", "Who pays for the quay", *LONG_ARTICLE[4:], "Posted at 7:12 | link", "7 comments"],
]


def test_comment_counts_closing_each_post_keep_the_posts_below() -> None:
    """Issue 15: on a front page every post ends with its own "N comments" link, a tail
    marker; below the first, more posts hold more prose than the one above it. The
    marker closes one item of a series (the same rule fires again, on another count),
    so only the marker lines go, never the posts below them."""
    rs = RuleSet.load()
    doc = TOP_NAV[:6] + [line for post in POSTS for line in post] + ["Privacy policy", "Terms of use"]
    marks = rs.apply(doc).marks
    for post in POSTS:
        for line in post[1:-2]:
            assert marks[doc.index(line)] is None, line
        assert marks[doc.index(post[-1])] is not None, post[-1]


def test_a_reply_form_under_every_comment_still_ends_the_article() -> None:
    """A thread whose every comment carries the same reply form: the marker recurs, but
    as the same line, and the comments below are shorter than the article, so the cut
    stands and the thread goes."""
    rs = RuleSet.load()
    thread = ["Leave a Reply", "Maria", "12 May 2021 at 9:14", "About time, the old quay has been too small for years.",
              "Leave a Reply", "Tom", "12 May 2021 at 10:02",
              "I hope the lorry limit is real this time, the last works were a nightmare for us.", "Leave a Reply"]
    doc = TOP_NAV + LONG_ARTICLE + thread
    marks = rs.apply(doc).marks
    n = len(TOP_NAV) + len(LONG_ARTICLE)
    assert marks[len(TOP_NAV):n] == [None] * len(LONG_ARTICLE)
    assert all(m is not None for m in marks[n:])

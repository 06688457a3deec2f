"""Statistical page furniture: small synthetic pages, what is dropped and what is kept."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import cleaner.clean.furniture as C
from cleaner.clean.furniture import classify, furniture, is_byline, is_teaser

MENU = ["Home", "News", "Sport", "Weather", "About us", "Contact"]
ARTICLE = [
    "The city council voted on Tuesday to extend the evening bus service until midnight, "
    "after a year in which the number of late passengers grew faster than expected.",
    "Officials said that the change would cost less than the council had feared, because "
    "the buses that run at night are smaller and the drivers are already on duty.",
    "Some residents who live near the depot were not happy about the decision, and they "
    "asked the council to look again at the noise that the buses make after ten.",
]
FOOTER = ["Privacy policy", "Terms of use", "Cookie settings", "© 2024 Example Media"]


def kept(lines: list[str]) -> list[str]:
    return [ln for ln, d in zip(lines, furniture(lines), strict=True) if ln and not d]


def test_menu_article_footer() -> None:
    lines = [*MENU, "", "Night buses to run until midnight", "", *ARTICLE, "", *FOOTER]
    out = kept(lines)
    assert all(p in out for p in ARTICLE)
    assert "Night buses to run until midnight" in out  # the headline right above the text
    assert not any(m in out for m in MENU + FOOTER)


def test_comment_thread_after_article_is_dropped() -> None:
    comments = [
        "Anna on March 3, 2024 at 9:15 am said:",
        "I take the late bus every week and I am glad that it will run for longer, it was "
        "always full when I used it.",
        "Reply",
        "Tom on March 3, 2024 at 11:02 am said:",
        "It is a good idea, but I wonder who will pay for it in the end, because there is no "
        "word about the fares in the article.",
        "Reply",
    ]
    lines = [*MENU, *ARTICLE, "2 Comments", *comments, *FOOTER]
    out = kept(lines)
    assert all(p in out for p in ARTICLE)
    assert not any(c in out for c in comments)


def test_related_headlines_below_article_are_dropped() -> None:
    related = [
        "Council approves new cycle lanes in the old town",
        "Mayor opens the rebuilt library after two years",
        "Schools to close early on Friday for the festival",
    ]
    lines = [*MENU, *ARTICLE, "Related", *related, *FOOTER]
    out = kept(lines)
    assert all(p in out for p in ARTICLE)
    assert not any(r in out for r in related)


def test_teaser_cards_before_article_are_dropped() -> None:
    teasers = [
        "Harbour Festival Draws Record CrowdsMore than forty thousand people came to the "
        "harbour on Saturday to see the boats and the fireworks over the water.",
        "Storm Closes Coastal RoadThe road along the coast was closed for six hours after "
        "the storm brought down trees and power lines near the bridge.",
    ]
    assert all(is_teaser(t) for t in teasers)
    lines = [*MENU, *teasers, "Latest", "Weather", "Sport", "Culture", *ARTICLE, *FOOTER]
    out = kept(lines)
    assert all(p in out for p in ARTICLE)
    assert not any(t in out for t in teasers)


CARDS = [
    "Harbour festival draws record crowds to the old port",
    "More than forty thousand people came to the harbour on Saturday to see the boats and the fireworks.",
    "Culture",
    "Storm closes the coastal road for six hours",
    "The road along the coast was closed for most of the day after the storm brought down trees.",
    "Weather",
    "School meals to cost less from the autumn term",
    "Parents will pay a third less for lunches after the council agreed to cover part of the cost.",
    "Education",
]


def test_card_list_after_article_is_dropped() -> None:
    lines = [*MENU, "Night buses to run until midnight", *ARTICLE, "More news", *CARDS, *FOOTER]
    out = kept(lines)
    assert all(p in out for p in ARTICLE)
    assert not any(c in out for c in CARDS), "headline + one-paragraph summary, again and again, is a card list"


def test_card_list_above_article_is_dropped() -> None:
    lines = [*MENU, "Top stories", *CARDS, "Night buses to run until midnight", *ARTICLE, *FOOTER]
    out = kept(lines)
    assert all(p in out for p in ARTICLE)
    assert not any(c in out for c in CARDS)


def test_prose_below_a_card_list_is_dropped() -> None:
    promo = ("Our reporters cover the city every day of the year, and the work they do is paid for by "
             "readers like you, so if you value what we do, please think about giving us your support.")
    body = [*ARTICLE, "The first of the new late buses will leave the station on the first Monday of next "
                      "month, and the council will publish the timetable in the library and on its website."]
    lines = [*MENU, "Night buses to run until midnight", *body, "More news", *CARDS, promo, *FOOTER]
    out = kept(lines)
    assert all(p in out for p in body)
    assert promo not in out, "a card list ends the article: what follows it is not the text"


def test_card_list_with_question_headlines_is_dropped() -> None:
    body = [*ARTICLE, "The first of the new late buses will leave the station on the first Monday of next "
                      "month, and the council will publish the timetable in the library and on its website."]
    cards = [
        "Culture", "Will the harbour festival draw record crowds again this year?",
        "Culture", "Will the harbour festival draw record crowds again this year?",
        "More than forty thousand people came to the harbour last year to see the boats and the fireworks.",
        "Weather", "Storm closes the coastal road for six hours",
        "The road along the coast was closed for most of the day after the storm brought down trees.",
        "Education", "Who pays for school meals? The council, from the autumn term",
        "Parents will pay a third less for lunches after the council agreed to cover part of the cost.",
        "Show more",
    ]
    promo = ("Our reporters cover the city every day of the year, and the work they do is paid for by "
             "readers like you, so if you value what we do, please think about giving us your support.")
    out = kept([*MENU, "Night buses to run until midnight", *body, "More news", *cards, promo, *FOOTER])
    assert all(p in out for p in body)
    assert not any(c in out for c in [cards[4], cards[7], cards[10], promo])


def test_page_of_entries_is_kept() -> None:
    """A page that is itself a list of entries (a digest, a catalogue) has no body to cut around."""
    out = kept([*MENU, "This week in brief", *CARDS, *FOOTER])
    assert all(c in out for c in CARDS[1::3])


def test_sections_of_one_paragraph_are_kept() -> None:
    """A how-to with a short heading over each paragraph is not a card list."""
    lines = [*MENU, "Night buses to run until midnight"]
    for heading, para in zip(["Costs", "Drivers", "Residents"], ARTICLE, strict=True):
        lines += [heading, para]
    out = kept(lines + FOOTER)
    assert all(p in out for p in ARTICLE)


def test_chinese_page_keeps_its_article() -> None:
    menu = ["首页", "新闻", "体育", "财经", "科技", "登录"]
    article = [
        "昨天下午，市政府宣布将把夜间公交服务延长到午夜，因为过去一年晚间乘客的数量增长得比预期更快。",
        "官员表示，这项变化的成本比原先担心的要低，因为夜间运行的公交车更小，而且司机本来就在值班。",
        "一些住在车站附近的居民对这个决定并不满意，他们要求政府重新考虑晚上十点以后公交车带来的噪音问题。",
    ]
    footer = ["关于我们", "联系我们", "隐私政策"]
    lines = [*menu, "夜间公交将运行到午夜", *article, *footer]
    classes = classify(lines)
    assert all(classes[lines.index(p)] == "good" for p in article)
    out = kept(lines)
    assert all(p in out for p in article)
    assert not any(m in out for m in menu + footer)


def test_a_line_of_unsegmented_punctuation_alone_does_not_fail_the_page() -> None:
    """A Japanese ellipsis written with katakana middle dots ("・・・") is in an unsegmented
    script's block but holds no letter: its unsegmented share is none, not a division by
    zero (which failed the whole page before)."""
    article = [
        "昨日の午後、市は夜間のバスの運行を深夜まで延長すると発表した。利用者が予想以上に増えたためだ。",
        "担当者によると、夜間に走るバスは小さく、運転手もすでに勤務しているため、費用は心配されたほど高くない。",
    ]
    lines = ["ホーム", "ニュース", "・・・", *article, "・・・", "お問い合わせ"]
    classes = classify(lines)
    assert classes[lines.index("・・・")] in ("short", "bad")
    out = kept(lines)
    assert all(p in out for p in article)


def test_korean_page_keeps_its_article() -> None:
    """Korean is written with spaces: it has a stoplist like any spaced language (without
    one, the English words of the menu pick the English list and no line reads as prose)."""
    menu = ["홈", "뉴스", "IT", "TV", "About us", "로그인"]
    article = [
        "시의회는 화요일에 야간 버스 운행을 자정까지 연장하기로 결정했다고 밝혔다. "
        "지난 한 해 동안 늦은 시간 승객의 수가 예상보다 더 빠르게 늘었기 때문이다.",
        "관계자들은 이번 변화에 드는 비용이 처음 우려했던 것보다 적을 것이라고 말했다. "
        "밤에 다니는 버스는 더 작고 운전사들은 이미 근무 중이기 때문이다.",
        "차고지 근처에 사는 일부 주민들은 이 결정에 만족하지 않았으며, "
        "밤 열 시 이후 버스가 내는 소음 문제를 다시 검토해 달라고 요청했다.",
    ]
    footer = ["회사 소개", "개인정보 처리방침", "이용약관"]
    lines = [*menu, "야간 버스 자정까지 운행", *article, *footer]
    out = kept(lines)
    assert all(p in out for p in article)
    assert not any(m in out for m in menu + footer)


def test_no_prose_keeps_everything() -> None:
    lines = [*MENU, *FOOTER]
    assert furniture(lines) == [False] * len(lines)


def test_second_copy_of_article_in_structured_data_is_dropped() -> None:
    long_article = ARTICLE * 1  # three paragraphs, about ninety words
    extra = [
        "The council will review the service after six months and publish the figures for "
        "the number of passengers on each route, together with the cost of the extension.",
    ]
    body = [*long_article, *extra]
    # schema.org data rendered as text: URLs, image size, timestamps, then the articleBody
    data = ["https://example.org/news/bus-route", "2024-03-01T09:15:00+01:00", "https://example.org/img/bus.jpg",
            "800", "450"]
    lines = [*MENU, *body, *data, *body, *FOOTER]
    drop = furniture(lines)
    first = len(MENU)
    second = first + len(body) + len(data)
    assert not any(drop[first:first + len(body)])
    assert all(drop[second:second + len(body)])


def test_repeated_text_of_the_page_is_kept() -> None:
    # A page whose text repeats (the same paragraphs given again after a heading): what
    # the page says, not a rendering of data; removing repetition is dedup's call (issue 15).
    body = [*ARTICLE, "The council will review the service after six months and publish the figures for "
            "the number of passengers on each route, together with the cost of the extension."]
    lines = [*MENU, *body, "Secondary header", *body, *FOOTER]
    drop = furniture(lines)
    first = len(MENU)
    assert not any(drop[first:first + 2 * len(body) + 1])


def test_byline() -> None:
    assert is_byline("Anna on March 3, 2024 at 9:15 am said:")
    assert is_byline("12.05.2019 14:00")
    assert not is_byline("The council met in 2019 to discuss the plan for the new bus depot in town.")


def _is_teaser_token_loop(line: str) -> bool:
    """is_teaser's glue test over tokens, without the ASCII prefilter: the reference."""
    from . import furniture_oracle as C

    params = C.FurnitureParams()
    head_limit = min(len(line), 200)
    for m in C._WORD.finditer(line[:head_limit]):
        tok = m.group()
        if len(tok) < 5 or tok[3:].islower() or tok.isupper():
            continue
        for j in range(3, len(tok) - 1):
            if tok[j].isupper() and tok[j + 1].islower() and tok[j - 3:j].islower() and tok[j - 3:j].isalpha():
                if C._glued_at(line, m.start() + j, params):
                    return True
    for m in C._GLUE_PUNCT.finditer(line[:head_limit]):
        nxt = line[m.end() - 1]
        if nxt.isupper() and C._glued_at(line, m.end() - 1, params):
            return True
    return False


_GLUE_WORDS = st.sampled_from(["Title", "RunDenny", "endsHere", "the", "and", "YouTube", "cityBright", "ÉtéNous",
                               "straßeGroß", "x", "Hamlin's", "run", "of", "news", "?Next", "!The", "“Quoted”Then"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_GLUE_WORDS, st.text(alphabet="aZ?!’ é", max_size=6)), max_size=40).map(" ".join))
def test_is_teaser_prefilter_changes_nothing(line: str) -> None:
    assert is_teaser(line) == _is_teaser_token_loop(line)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(categories=("Lu", "Ll", "Lt", "Lo", "Nd", "Mn")), min_size=1),
                max_size=8))
def test_lowering_a_line_of_tokens_equals_lowering_each(words: list[str]) -> None:
    """_classify lowers a line's tokens joined by spaces (final sigma, dotted capital I)."""
    words = [w for w in words if " " not in w] + ["ΟΔΟΣ", "İSTANBUL"]
    assert " ".join(words).lower().split(" ") == [w.lower() for w in words]


# Issue 15: short-line content is not furniture. Tables of figures, calendars and lists of
# entries render as runs of short lines poor in stopwords, like a menu; they are the text.

RESULTS = [
    "Team Played Won Lost Points",
    "Harbour Rovers 12 9 3 27",
    "City Athletic 12 8 4 24",
    "Old Town United 12 6 6 18",
    "Riverside 12 4 8 12",
    "Hill Wanderers 12 2 10 6",
]


def test_table_of_figures_inside_an_article_is_kept() -> None:
    lines = [*MENU, "Rovers stay top after the twelfth round", ARTICLE[0], *RESULTS, *ARTICLE[1:], *FOOTER]
    out = kept(lines)
    assert all(r in out for r in RESULTS[1:]), out
    assert all(p in out for p in ARTICLE)
    assert not any(m in out for m in MENU + FOOTER)


def test_page_that_is_a_table_of_figures_keeps_the_table() -> None:
    """A price table with no prose at all (a market report): the rows are the page."""
    prices = ["GOLD CLOSING PRICES 7 APRIL", "MONTH OPEN HIGH LOW CLOSE",
              "APR 420.5 422.5 418.5 422.0", "JUN 425.0 426.5 422.3 425.6", "AUG 429.3 430.7 427.5 430.7",
              "OCT 434.0 435.2 431.4 435.2", "DEC 437.3 439.4 435.5 438.7"]
    menu = ["Home", "Markets", "Commodities", "Currencies", "Bonds", "Funds", "Portfolio", "Alerts",
            "Sign in", "Register", "Subscribe to the print edition"]
    out = kept([*menu, *prices, "Print this article", "E-mail this article", *FOOTER])
    assert all(r in out for r in prices[2:]), out
    assert not any(m in out for m in menu + FOOTER)


def test_calendar_in_an_article_is_kept() -> None:
    calendar = [f"Round {n}: {d} {m} – {place}" for n, (d, m, place) in enumerate([
        ("10", "March", "Northfield"), ("8", "April", "Lakeside"), ("22", "April", "Port Ellen"),
        ("6", "May", "Redcliff"), ("20", "May", "Castlebrook"), ("5", "August", "Northfield")], 1)]
    lines = [*MENU, "Season calendar published", ARTICLE[0], *calendar, ARTICLE[1], *FOOTER]
    out = kept(lines)
    assert all(c in out for c in calendar), out
    assert not any(m in out for m in MENU + FOOTER)


def test_menu_with_a_repeated_number_is_still_furniture() -> None:
    """Menu labels can carry a number, the same on every line; a table's numbers differ."""
    menu = ["Formula 1 news", "Formula 1 standings", "Formula 1 calendar", "Formula 1 drivers",
            "Formula 1 teams", "Formula 1 videos"]
    out = kept([*menu, "Night buses to run until midnight", *ARTICLE, *FOOTER])
    assert all(p in out for p in ARTICLE)
    assert not any(m in out for m in menu)


def test_page_of_entries_keeps_every_entry() -> None:
    """A listing (jobs, classifieds, search results) has no body: each entry is a title,
    a few short fields and a one-sentence summary. All entries are the page's text; the
    menu and footer around them are not."""
    jobs = [("Office assistant", "Harbour Print Ltd", "answer the phones, greet visitors and keep the diary "
             "of a busy team of six people in the town centre."),
            ("Delivery driver", "Fresh Foods", "deliver groceries to customers in the north of the county, "
             "with a van and a fuel card provided by the company."),
            ("Receptionist", "Hill Dental Care", "welcome patients, book their appointments and look after "
             "the waiting room of a family dental practice."),
            ("Warehouse operative", "Northfield Logistics", "pick and pack orders for shops across the "
             "region, working in a clean and heated warehouse.")]
    lines = [*MENU, "Jobs near Northfield", "4 jobs found"]
    summaries = []
    for title, company, duty in jobs:
        summary = f"We are looking for someone to {duty}"
        summaries.append(summary)
        lines += [title, "Job type: Full time", summary, "View full job description", "Save this job",
                  company, "Northfield", "3 days ago"]
    out = kept([*lines, *FOOTER])
    assert all(s in out for s in summaries), out
    assert all(title in out for title, _, _ in jobs[1:])
    assert not any(m in out for m in MENU + FOOTER)


def test_list_announced_by_the_text_is_kept() -> None:
    """A list the article introduces ("... are available:") belongs to it, however many
    items it has; the prose after it is the same text."""
    items = [f"Annual report on bus services, {year}" for year in range(2004, 2030)]
    more = ["The first of the reports described a service that ran only on Fridays and Saturdays, with "
            "two buses that left the main square at eleven and at one in the morning.",
            "Since then the number of routes has grown to six, and the council says that the buses are "
            "now used by more than two thousand people on an ordinary week in the winter."]
    lines = [*MENU, "Night buses to run until midnight", *ARTICLE, *more,
             "The council's earlier reports on the night service are available online:", *items,
             "The new timetable will be published on the council's website before the end of the month, "
             "and printed copies will be available in the libraries.", *FOOTER]
    out = kept(lines)
    assert all(i in out for i in items), out
    assert lines[-len(FOOTER) - 1] in out
    assert not any(m in out for m in MENU + FOOTER)


def test_forum_thread_with_one_long_post_keeps_every_post() -> None:
    """A forum page: posts between the posters' details. One long post must not become
    "the article" and the other posts its furniture."""
    long_post = ("I have run the night bus for six years now and I can tell you that the midnight service "
                 "was always the busiest one of the evening, with people coming back from the cinema and from "
                 "work in the restaurants. The council did the counting last spring and found the same thing. "
                 "What the article does not say is that the drivers asked for this change for a long time, "
                 "and that the union had to push the council twice before anything happened. So it is good "
                 "news, but it took far longer than it should have, and the fares are still too high for "
                 "the people who need the service most, the cleaners and the kitchen staff of the town.")
    posts = ["Does anyone know if the new timetable starts in May or in June this year?", long_post,
             "Thanks, that is useful to know, I had no idea the drivers asked for it first.",
             "The timetable is on the council website now, it starts on the first of June.",
             "Great, I will print a copy for my mother, she does not use the internet at all.",
             "Does the later bus also stop at the hospital, or only at the station and the square?",
             "It stops at the hospital on the way out of town, but not on the way back, sadly.",
             "That is a pity, the nurses on the late shift would use it every night of the week.",
             "Maybe write to the council about it, they said they would review the routes in autumn.",
             "I did write to them last year and never got an answer, but I will try again now.",
             "Good luck, and please tell us here in the forum if they answer you this time."]
    # replies of two sentences each: together they hold most of the thread's words
    posts = [posts[1]] + [f"{a} {b}" for a, b in zip(posts[:1] + posts[2:], posts[3:] + posts[:2], strict=True)]
    lines = [*MENU, "Forum", "Local transport", "Night buses to run until midnight"]
    for n, post in enumerate(posts):
        lines += [f"Post by user{n} » Thu May {n + 2}, 2024 9:{n}5 am", "Regular member", f"Posts: {40 + n}",
                  "Location: Northfield", "Bus routes: 4, 7", post, "Quote", "Report", "Reply with quote", "Top"]
    out = kept([*lines, *FOOTER])
    assert all(p in out for p in posts), out
    assert not any(m in out for m in MENU + FOOTER)


# Issue 15: a page whose text is a set of records (a table of contents, a directory) has
# hardly any prose; the region finder must not keep a stray footer sentence and drop them.

NOTICE = ["This service is provided by the regional archive of the county, and the texts that it "
          "publishes are in the public domain unless a page says otherwise.",
          "Questions about the content of the reports should be sent to the office of the clerk, "
          "which answers letters and e-mail within ten working days."]


def test_table_of_contents_page_keeps_its_records() -> None:
    """A report's table of contents: section titles, each followed by the same field line.
    Nothing in it reads as prose; the only prose is the site's notice at the bottom."""
    sections = ["Roads and bridges", "Public transport", "Parks and gardens", "Street lighting",
                "Waste collection", "Housing repairs", "Libraries and museums", "Sports grounds",
                "Schools maintenance", "Water and drainage", "Market halls", "Cemeteries", "Fire service",
                "Youth clubs", "Care homes", "Harbour works", "Allotments", "Public toilets", "Car parks",
                "Tourist office"]
    toc = ["Table of contents", "Introduction", "Summary of the budget"]
    for n, name in enumerate(sections, 1):
        toc += [f"CHAPTER {n}. {name.upper()}", "Committee recommendation", f"Spending on {name.lower()}"]
    menu = ["Archive home", "Search the archive", "Browse by year", "Browse by committee", "Help",
            "Next document", "Previous document"]
    out = kept([*menu, *toc, NOTICE[0], *FOOTER])
    # every record from its title on (the last record's line after its field is not told
    # apart from the footer that follows it)
    assert all(t in out for t in toc[3:-1]), out
    assert not any(m in out for m in menu + FOOTER)


def test_directory_page_keeps_its_entries() -> None:
    """A business directory: each entry a name, an address and labelled fields; one entry
    has a sentence about the business. The entries are the page, not that one sentence."""
    names = ["Harbour Print Ltd", "Fresh Foods", "Hill Dental Care", "Northfield Logistics", "Old Mill Bakery",
             "River Street Books", "Castle Garage", "Green Lane Florist", "Station Café", "Lakeside Opticians",
             "Market Square Pharmacy", "Bridge Road Tailors", "Hilltop Vets", "Corner Shoe Repairs",
             "Abbey Insurance", "Tower Accountants", "Meadow Nursery", "Quay Fish Bar"]
    entries: list[str] = []
    for n, name in enumerate(names):
        entries += [name, f"{10 + n} Main Street", "Northfield", f"Telephone: 01632 960{100 + n}",
                    f"Email: info@{name.split()[0].lower()}.example"]
        if n == 4:
            entries.append("We have baked bread in the old mill since the war, and our shop is open every "
                           "morning of the week except on the public holidays of the year.")
    menu = ["Home", "About the association", "Business directory", "Events", "News", "Contact us"]
    out = kept([*menu, "Business directory", "Select a category", *entries, *NOTICE, *FOOTER])
    assert all(e in out for e in entries), out
    assert not any(m in out for m in menu[3:] + FOOTER)


def test_related_list_with_repeated_bylines_below_a_short_article_is_dropped() -> None:
    """A blog's list of recent posts repeats its authors' names like a record's field,
    but it does not outweigh the article: it stays furniture, on a page whose menus are
    most of its words."""
    related: list[str] = []
    for n in range(20):
        related += [f"Notes from the council meeting of week {n + 1}", f"By: {['Ann', 'Tom', 'Eve'][n % 3]} (Diary)"]
    menu = [f"{section} {topic}" for section in ("News", "Sport", "Business", "Culture", "Travel", "Opinion",
                                                 "Science", "Life", "Money", "Cars", "Homes", "Jobs")
            for topic in ("today", "archive", "video", "photos", "podcasts", "newsletters", "events",
                          "columns", "letters", "guides", "weekend", "special reports")]
    out = kept([*menu, "Night buses to run until midnight", *ARTICLE, "Recent diaries", *related, *FOOTER])
    assert all(p in out for p in ARTICLE)
    assert not any(r in out for r in related)
    assert not any(m in out for m in menu)


def test_mega_menu_with_a_repeated_label_above_a_short_article_is_dropped() -> None:
    """A site menu with a "More" link closing each section repeats a line too, but once
    per section of many links (a record is shorter than a mega menu's section)."""
    menu: list[str] = []
    for section in ("News", "Sport", "Business", "Culture", "Travel", "Opinion", "Science", "Life",
                    "Money", "Cars", "Homes", "Jobs", "Food", "Music", "Film", "Books", "Games", "Health"):
        menu += [section, *[f"{section} {t}" for t in ("today", "archive", "video", "photos", "podcasts",
                                                         "letters", "guides", "weekend", "events", "columns",
                                                         "special reports", "live", "maps", "quizzes", "puzzles",
                                                         "obituaries")], "More"]
    out = kept([*menu, "Night buses to run until midnight", *ARTICLE, *FOOTER])
    assert all(p in out for p in ARTICLE)
    assert "News today" not in out and "More" not in out


def test_thread_of_short_replies_keeps_them_beside_the_one_long_post() -> None:
    """A forum thread where one post is a long paragraph and the replies are a few words
    each (no prose to the classifier): the region finder keeps the long post, one record
    of many, so the whole block of records stays, and the menu and footer do not."""
    long_post = ("I have run the night bus for six years now and I can tell you that the midnight service "
                 "was always the busiest one of the evening, with people coming back from the cinema and from "
                 "work in the restaurants. The council did the counting last spring and found the same thing, "
                 "and the drivers asked for this change for a long time before anything happened.")
    replies = ["Thanks, good to know", "Same here on route 7", "Starts in June I think", "Great news",
               "Does it stop at the hospital?", "Only on the way out", "Pity about the fares",
               "Write to the council", "I did, no answer yet", "Good luck with that", "Fingers crossed"]
    lines = [*MENU, "Forum", "Night buses to run until midnight"]
    for n, post in enumerate([long_post, *replies]):
        lines += [f"user{n}", "Regular member", f"Posts: {40 + n}", post, "Quote", "Report"]
    out = kept([*lines, *FOOTER])
    assert long_post in out
    assert all(r in out for r in replies), out
    assert not any(m in out for m in MENU + FOOTER)


def test_wrapped_article_above_a_longer_comment_thread_is_kept() -> None:
    """Issue 15: a hard-wrapped article (each paragraph broken into short lines) above a
    comment thread whose entries are separated by the same widget lines. Summed over its
    entries the thread holds more prose than the article, which must still win."""
    wrapped = [
        "LONDON, May 4 - The regional water board said on Monday that",
        "it would raise its charges by four pct from the start of the",
        "next year, to pay for the repair of pipes in the old districts.",
        "The board said that the work would take about three years and",
        "that most of it would be done at night, when the demand for",
        "water is at its lowest and the streets are nearly empty.",
        "It said that a household would pay about two pounds a month",
        "more on average, and that the charge would be reviewed again",
        "once the first part of the work had been finished in the spring.",
        "Reuter",
    ]
    comment_texts = [
        "So they want us to pay more again for the pipes they should have fixed years ago, "
        "and of course nobody at the board will take a cut in their own pay for this one.",
        "I have lived in the old district for twenty years and the water has always been fine, "
        "so I do not see why the whole town has to pay for a repair that only some of us need.",
        "Four pct is not much if it means the leaks stop, because the road outside my house has "
        "been dug up three times this year and every time they said it would be the last time.",
        "The last time they raised the charges they promised new pipes as well, and what we got "
        "was a new logo and a new website that nobody uses, so forgive me if I am not convinced.",
        "At least they are doing the work at night this time, when it was done during the day "
        "the traffic in the centre was a nightmare for weeks and the shops lost a lot of money.",
    ]
    more = " And that is all I have to say about the board and its plans for the town this year."
    comment_texts = [t + more for t in comment_texts]
    thread = ["Add a Comment", "5 Comments"]
    for name, text in zip(["Mark", "Lucy", "Ben", "Olga", "Sam"], comment_texts, strict=True):
        thread += [name, text, "Report abuse", "rate up", "rate down"]
    section = [f"{area} {topic}" for area in ("North", "South", "East", "West", "Coast", "Valley")
               for topic in ("water news", "roads", "schools", "events")]  # a menu of the section
    lines = [*MENU, "", *wrapped, "", "Tags: water, charges, repairs", *section, *thread, *FOOTER]
    out = kept(lines)
    assert all(p in out for p in wrapped[:-1])
    assert not any(c in out for c in comment_texts)


def test_forum_thread_with_repeated_widgets_is_kept() -> None:
    """A page that is itself a thread has no body above its first post: it is not cut."""
    posts = [
        "I have a problem with the boiler in my flat, it makes a loud noise every morning when "
        "the heating starts and then it stops after about ten minutes, is this normal at all?",
        "That sounds like air in the pipes to me, you could try to bleed the radiators first and "
        "see if the noise goes away, it is easy to do and you only need a small key for it.",
        "It could also be the pump, which is what it was in our house, and the man who came to "
        "fix it said that it was a common fault with the older models of that make of boiler.",
        "Thanks to both of you, I bled the radiators this morning and the noise is much quieter "
        "now, so I think it was the air after all, but I will keep an eye on it in any case.",
    ]
    lines = [*MENU]
    for name, text in zip(["Ann", "Bob", "Cy", "Dee"], posts, strict=True):
        lines += [name, text, "Report abuse", "Reply"]
    lines += FOOTER
    out = kept(lines)
    assert all(p in out for p in posts)


# A hard-wrapped newswire story: paragraphs broken at a fixed width, some lines before a
# capital (a name, a place) or after a stopword, as a wire service files them.
WIRE = [
    "MILLBROOK TOWN BOARD APPROVES NEW WATER PLANT",
    "MILLBROOK, June 3 - The town board said on Tuesday it approved",
    "a plan to build a new water treatment plant east of the river,",
    "after two years of talks with the regional authority and",
    "Harbour Engineering Ltd, which will build and run the plant.",
    "The board said the plant would cost about 40 mln dlrs and be",
    "paid for by a bond issue, to be put to the voters in November",
    "and repaid over twenty years from the charges paid by users.",
    "A spokesman for the board said the old plant, built in the",
    "Nineteen Fifties, could no longer meet the rules set by the",
    "State Environment Department for the water it supplies.",
    "Work on the site would start next spring if the voters agree,",
    "and the plant would be ready to supply the town within three",
    "years of that date, the spokesman told reporters on Tuesday.",
    "Reuter",
]


def test_wrapped_paragraph_continues_before_a_capital() -> None:
    """Inside hard-wrapped text a line that fills the width and does not end a sentence
    continues into the next, even when that one starts with a name: the paragraph is one
    prose block, not fragments classed as headlines. Chrome is not wrapped: a headline
    and a button below it are not joined."""
    from cleaner.clean.furniture import blocks, stoplists

    stops = stoplists()["English"]
    wrapped = blocks(WIRE[1:5], stops)
    assert wrapped == [[0, 1, 2, 3]]
    chrome = ["Council votes to extend the late bus service to midnight",
              "Welcome to the new edition of our weekly newsletter for you", "Learn More"]
    assert all(len(b) == 1 for b in blocks([*WIRE[5:8], *chrome], stops)[1:])


def test_wrapped_story_wins_over_a_longer_site_notice() -> None:
    """Issue 15: a site's own notice (an archive's "about this capture" text, an "about
    us" blurb) in single-line paragraphs above the menu outweighs a short wire story below
    it. Text hard-wrapped at a fixed width was filed as plain text, not rendered from the
    site's markup: it is the document's text, and the notice goes."""
    notice = [
        "Organization: Example Archive",
        "These crawls are part of an effort to keep copies of pages as they are published, and "
        "of the pages they point to, so that a link that breaks can still be followed later on.",
        "The copies are kept in the archive for as long as the archive exists, and anyone may look "
        "at them, for free, through the search form on the front page of the archive's own site.",
        "The goal is to keep every page that a reader may want to come back to in a year or ten.",
        "Collection: Outbound links",
        "This collection holds the pages that the articles of a large reference work point to, "
        "saved on the day that the link was added to the work or changed by one of its editors.",
        "The idea is to bring some reliability to those links, so that if the pages they refer to "
        "are changed or go away, a reader can still find what was there when the link was made.",
    ]
    section = [f"{area} {topic}" for area in ("North", "South", "East", "West", "Coast", "Valley")
               for topic in ("news", "sport", "business", "schools", "events")]  # the site's menu
    lines = [*notice, *MENU, *section, *WIRE, "Share this story", *FOOTER]
    out = kept(lines)
    assert all(ln in out for ln in WIRE[1:-1]), out
    assert not any(n in out for n in notice[1:3])


def test_wrapped_story_wins_when_the_region_starts_above_a_thread() -> None:
    """Issue 15: below the story, past a list of links, a comment thread whose entries are
    separated by the same widget line; one comment is longer than the story, and the
    region finder chose it, starting a few lines above the first entry at the thread's own
    notice. The region is sought above the thread: the story is kept, the comments not."""
    long_comment = " ".join([
        "Could somebody please answer this question, because I have been waiting for weeks now",
        "and nobody at the office will tell me when the work on the river will start, whether",
        "the charges will go up for people who live outside the town, and who will pay if the",
        "costs run over, as they did the last time the board built anything at all, which as far",
        "as I remember was the car park that took four years to finish and cost twice the price.",
        "I have written to the board three times and to the paper twice, and the only answer I",
        "ever got was a leaflet about saving water in the garden, which is not what I asked for,",
        "so if anybody here knows who is in charge of this plan then please tell me their name.",
    ])
    replies = [
        "It is good news at last for the town, the water has tasted of the old pipes for years now.",
        "About time too, my neighbours and I have been asking the board for a new plant since the flood.",
        "Who is going to pay for all of this in the end, if the voters say no to the bond in November?",
        "I will vote against the bond, because the board has never once kept to a budget that it set.",
        "Good to see the board doing something for the people on the east side of the river for once.",
    ]
    related = [f"{area} {topic}" for area in ("North", "South", "East", "West", "Coast", "Valley")
               for topic in ("water news", "roads", "schools", "events")]
    thread = ["Leave a comment", "* Email will not be published",
              "If you have a question about your bill or your supply, please use the contact form on "
              "the help page instead, where the staff will answer you within two working days.",
              "Your comment is now in the moderation queue and will appear shortly. Thank you.",
              "42 Responses", "Nash", long_comment, "reply to this comment"]
    for n, text in enumerate(replies):
        thread += [f"user{n}", text, "reply to this comment"]
    lines = [*MENU, *WIRE, "Share this story", *related, *thread, *FOOTER]
    out = kept(lines)
    assert all(ln in out for ln in WIRE[1:-1]), out
    assert long_comment not in out


QUOTING = [
    'The council approved "Night Owl Buses," the scheme that runs the late service, after a '
    'long debate in which the members asked who would pay for the drivers and the fuel.',
    'Residents near the depot said "Quiet Streets First" was the name of their campaign, and '
    'they asked the council to look again at the noise the buses make after ten at night.',
    'The transport office published "Late Travel in the City," a report on how many people '
    'take the bus after nine, and it found that the number had grown every year since 2019.',
]


def test_opening_quote_is_not_a_teaser_glue() -> None:
    """A paragraph that opens a quote after a space ("approved "Night Owl ...") is prose: a
    teaser card glues a headline to its summary with no space, "...Crowds"More than ...".
    The old glue test took every such paragraph for a card and the article was lost."""
    assert not any(is_teaser(p) for p in QUOTING)
    assert is_teaser('Harbour Festival Draws "Record" CrowdsMore than forty thousand people came to '
                     'the harbour on Saturday to see the boats.')
    notice = ("This site is run by the Example Media Group. All the content on these pages is "
              "published under the terms of use, and any reuse needs the written consent of the group.")
    lines = [*MENU, "Night buses approved", *QUOTING, "Related", "Other news", notice, *FOOTER]
    out = kept(lines)
    assert all(p in out for p in QUOTING)


# hard-wrapped text in a made-up language: none of its words is in any stoplist
WRAPPED = [
    "Vorta melinu kasadre tovi ulmar pesto velindra, sumo kaveri dolm astrana",
    "felu marodi. Tunsa vel ormandi kesto, pilu varandi sotem ulvi kadro mesti",
    "lorvandi esko. Brunda tesk ovilmar sunde karvo pelim astro vindu ka mola.",
    "Sefir olman daruvi teska mulvo, kandre ulsi porva mendil astavo runde",
    "kelvi somar tindro valuse. Orvi pand esmaru kolti vestra nemo sulvadi, ka",
    "pelmo vistra undal kosmir. Tavi orlend muska pero vandil esta korvu lim.",
]


def test_wrapped_text_without_stopwords_is_prose() -> None:
    """A text in a language no stoplist covers has a stopword density of zero, like a menu.
    Lines hard-wrapped into each other that hold sentences are prose by their shape, so
    the page keeps its text (issue 15); the menu and footer around it still go."""
    lines = [*MENU, "", "Orvandi kesto pelmar tuvi", "", *WRAPPED[:3], "", *WRAPPED[3:], "", *FOOTER]
    out = kept(lines)
    assert all(w in out for w in WRAPPED)
    assert not any(m in out for m in MENU + FOOTER)


def _directory_entry(n: int, long: bool = False) -> list[str]:
    name = ["Harbour Bakery", "Pine Dental Care", "Riverside Books", "Studio Nine Pottery", "Oak Legal Advice",
            "Blue Door Cafe", "North Street Florist", "Maple Accountants", "Summit Cycles", "Lantern Tailors",
            "Granite Builders", "Willow Yoga"][n]
    lines = [name, f"{100 + 7 * n} Market Street", "Springfield, ST 12345", f"Telephone: (555) 010-{1000 + n}"]
    if long:
        lines += [
            "This is a drop-in studio where anyone can come and paint a plate or a cup of their own, and we "
            "help you with every step of the way until it comes out of the kiln.",
            "We also run classes for children after school and parties at the weekend for groups of up to twenty.",
            "Opening hours:", "Monday closed", "Tuesday 10am - 6pm", "Wednesday 10am - 9pm", "Thursday 10am - 9pm",
            "Friday 10am - 9pm", "Saturday 10am - 9pm", "Sunday noon - 6pm", "Holidays noon - 4pm",
            "Ask about group rates", "Gift cards available", "Free parking behind the shop",
            "Glazes:", "Blue", "Green",
        ]
    elif n in (4, 5):
        lines.append("A family business in the old town since the fifties, known for the work that they do "
                     "and for the friendly welcome that every visitor gets at the door.")
    return [*lines, f"Fax: (555) 020-{1000 + n}", f"Email: info{n}@example.org"]


def test_one_long_record_does_not_split_a_directory() -> None:
    """A directory whose entries share field lines ("Telephone:", "Fax:") is a block of
    records the page keeps, though it has little prose. One entry much longer than the
    others (a description, opening hours) put its neighbouring fields further apart than
    the fixed record gap: the block split in two halves, neither big enough to stand
    against the region finder's choice (the long entry's description), and the page kept
    a few entries of twelve. The allowed gap follows the block's usual spacing."""
    entries = [_directory_entry(n, long=n == 3) for n in range(12)]
    lines = [*MENU, "Business directory", *[ln for e in entries for ln in e], *FOOTER]
    out = kept(lines)
    assert all(f"Telephone: (555) 010-{1000 + n}" in out for n in range(12))
    assert not any(m in out for m in MENU[:-1] + FOOTER)


def test_dated_source_lines_below_the_article_are_not_its_prose() -> None:
    """A list of dated one-line entries below the text (its sources, an archive, a list of
    events: "Council report on the bus services of the city, May 31, 2019") reads as
    prose by its words, and a run of them pulled the region down over the list. A dated
    line this short is a byline or an entry of a dated list: it costs like a headline."""
    sources = [
        line for d in (3, 11, 17, 24) for line in (
            f"City transport office, a report on the late bus services, May {d}, 2019.",
            f"Springfield Herald, Bus Depot Plans, June {d}, 2019.",
        )
    ]
    lines = [*MENU, *ARTICLE, "About this article", "Sources:", *sources, *FOOTER]
    out = kept(lines)
    assert all(p in out for p in ARTICLE)
    assert not any(s in out for s in sources)


def test_close_call_keeps_the_region_the_title_names() -> None:
    """A question thread (three posts between their field lines) beside a sidebar with a
    longer text about something else: the sidebar outweighs the thread, and the page lost
    its posts. Neither region dominates the other, and the page's title (its first line)
    names the thread's subject: both are kept."""
    posts = [
        "Does anyone know whether the night buses in Springfield still run after the festival? I will be "
        "travelling there at the end of next week with my two children, and we would like to stay for "
        "the fireworks if we can get back to the hotel.",
        "From what I understand, the night buses run until midnight on weekdays and until two on the "
        "weekend, and the festival does not change that. The timetable at the depot says the same, and "
        "the drivers told me last year that they add a few buses when the crowds are large.",
        "Thanks, that is good to know, I will take the late bus then and let you know how it went.",
    ]
    sidebar = [
        "Tip of the week: keep your ticket until the end of the journey, because inspectors can ask for "
        "it at any stop, and a missing ticket costs a fine that is far higher than the fare itself, "
        "whatever the reason you give for it, and the fine has to be paid within two weeks of the day.",
        "A season ticket is cheaper for anyone who travels on more than three days of the week, and it "
        "can be bought at the desk in the station or on the website of the company, where it is also "
        "possible to pay for it by the month.",
    ]
    lines = ["Night buses in Springfield | Travel Forum", *MENU, "Night buses in Springfield?",
             "Added by anna_k on 2019-05-03 @ 10:21:11", posts[0], "Late buses",
             "Added by tom_r on 2019-05-03 @ 22:52:16", posts[1], "Thanks!!!",
             "Added by anna_k on 2019-05-04 @ 08:02:37", posts[2],
             "Forum rules", "Search", "Members", "Calendar", "Sections", "Buses", "Trains", "Ferries",
             "Cycling", "Walking", "Airports", "Hotels", "Camping", "Tours", "Maps", "Events", "Help",
             "Tip of the week", *sidebar, *FOOTER]
    out = kept(lines)
    assert all(p in out for p in posts)
    assert not any(m in out for m in FOOTER)


def test_headline_ending_in_a_quote_is_not_a_sentence() -> None:
    """A headline that quotes without a full stop ('Mayor calls new depot "a real gift"')
    is a headline: a list of them below the article must not read as prose that pulls the
    region down over it. A sentence closes its quote after its stop (... gift.")."""
    heads = [
        'Mayor calls the new bus depot "a real gift"', "Opinion",
        'Drivers say the late shift is "worth it"', "Transport",
        'Bakery owner on the festival crowds: "never seen anything like it"', "Local",
        'Council leader on the budget: "we will find the money"', "Politics",
    ]
    lines = [*MENU, *ARTICLE, "More from the city", *heads, *FOOTER]
    out = kept(lines)
    assert all(p in out for p in ARTICLE)
    assert not any(h in out for h in heads[::2])
    assert not C._ends_sentence(heads[0]) and C._ends_sentence('He called it "a real gift."')


def test_footer_notice_does_not_win_over_a_page_of_short_text() -> None:
    # An archive page: short intros over lists of months, then the site's footer notice,
    # whose sentences outweigh each intro. The notice is the footer, not the text (issue 15).
    months = ["January 2006", "February 2006", "March 2006", "April 2006", "May 2006", "June 2006"]
    intros = [
        "Archives of the discussions on the users list are available to the public for review.",
        "Archives of the discussions on the developers list are open to the public as well.",
        "The board has made its discussions available to the public in two formats.",
    ]
    body: list[str] = []
    for intro in intros:
        body += [intro, *months]
    notice = [
        "This web site is hosted by the Example Corporation, which runs it for the project. Copyright",
        "2006, the Example Corporation. The project name and its logo are trademarks of the Example "
        "Corporation, and any other names used on this site may be the trademarks of their owners.",
        "This software was produced for the government under a contract and is subject to the rights in "
        "data clause of that contract, which governs how it may be copied and used by others.",
    ]
    lines = [*MENU, "Discussion Archives", *body, *notice, *FOOTER]
    out = kept(lines)
    assert all(intro in out for intro in intros)
    assert not any(line in out for line in notice)


def test_article_ending_right_above_its_copyright_line_is_kept() -> None:
    # the notice starts the footer, not the article's last paragraphs above it
    lines = [*MENU, *ARTICLE, "Guardian Example © Example News and Media Limited 2006", "Privacy policy"]
    out = kept(lines)
    assert all(p in out for p in ARTICLE)


def test_short_forum_thread_under_long_menus_keeps_every_post() -> None:
    """Issue 15: a thread of three posts is too short for ``record_repeats``, and with
    long menus around it (a forum selector of many boards) and a middle post of links
    that do not read as prose, the region finder keeps the last post only. Each post's
    header carries the same fields in the same order ("Profile", "Joined:", "Posts:",
    "Posted on:"), with values that differ from post to post: field lines in step, three
    times, are a thread, and every post stays; the menus do not. (Fails before: only
    the last post is kept.)"""
    boards = [f"-- {topic} discussion board" for topic in (
        "Gardening", "Cooking", "Travel", "Books", "Films", "Music", "Cycling", "Running",
        "Photography", "Knitting", "Woodwork", "Fishing", "Chess", "Astronomy", "Birdwatching",
        "Pottery", "Painting", "Poetry", "History", "Languages", "Computers", "Cars", "Boats",
        "Camping", "Climbing", "Swimming", "Football", "Tennis", "Golf", "Sailing")]
    posts = [
        ["Does anyone know a good way to keep slugs off young lettuce without using pellets?"],
        ["A quick search turns up these:", "http://example.org/slugs.html", "http://example.net/garden",
         "And many more besides ..."],
        ["Thank you both, I will try the copper tape first and report back in a few weeks."],
    ]
    lines = [*MENU, "Log in", "Forgotten password?", *boards[:10]]
    for n, (name, text) in enumerate(zip(["greenthumb", "allotment_al", "greenthumb"], posts, strict=True)):
        lines += [name, "Profile", f"Re: slugs #{n + 1}", f"{n + 3}0{n} / 50000 words", "Joined:",
                  f"2006/0{n + 1}/1{n} 1{n}:20", f"From town {'abc'[n]}", f"Posts: {12 * n + 7}",
                  f"Posted on: 11/1{n} 0{n}:4{n}:0{n}", *text, "_________________", f"signature {n}"]
    lines += ["Login To Post", "Post Reply", *boards[10:], *FOOTER]
    out = kept(lines)
    assert all(p in out for post in posts for p in post)
    assert "allotment_al" in out and "Posts: 19" in out
    assert not any(b in out for b in boards)

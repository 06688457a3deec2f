//! The chrome rules' decision: which lines of a document the rules remove, with the guards
//! that keep prose safe, in one call per document (`cleaner.clean.rules.RuleSet.apply`).
//!
//! [`crate::rules`] says which rules match a line; this module walks the document and decides
//! what each match removes. The order: section markers (`tail`) first, because they remove the
//! most; then headings with lists, credits, whole lines; spans (`inline`) last, on the lines
//! left. A rule that removes more than its own line must prove the cut safe, whoever wrote the
//! rule: a chrome string also occurs where it heads no chrome ("Readers' comments" as a link
//! in the top menu, "Latest" as a menu item above the article).
//!
//! - a sentence-like line ([`Limits::sentence_words`] words, ending like a sentence) only
//!   meets rules marked `long`;
//! - a `tail` marker needs enough text above it, must not close one item of a series
//!   ([`Guards::per_item`]) and must spare the page's main prose block
//!   ([`Guards::tail_safe`]); else only the marker line goes (or, with too little above to
//!   tell, nothing: left to the furniture);
//! - a `list` takes only lines that can be headlines ([`Guards::list_item`]);
//! - a `credit` with `caption` also takes the short line above it.
//!
//! **The main prose block.** The tail guard needs the page's main prose block (the region
//! finder's [`crate::region::main_block`]: its longest run of prose) of the whole document
//! and of the part above a marker: `main_block(lines, k)` = the block of the first `k` lines,
//! asked only where a tail marker fires with enough text above it (rare), and at most once
//! for the whole document. [`Guards::apply`] takes it as an argument so the guards can be
//! tested on blocks made by hand; [`Guards::apply_page`] answers it with the region finder
//! over [`Guards::furniture`], the classifier built from the same inputs as the furniture
//! stage's, so a document's rules are one call with no way back to Python.
//!
//! Exactness: every test mirrors the Python it replaced (kept in `tests/rules_apply_oracle.py`
//! as the property tests' oracle): words are `str.split()` counts, comparisons of an int with a
//! float product are made in `f64` (exact for these magnitudes), and characters are tested
//! with the interpreter's own Unicode tables ([`crate::unicode`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use crate::furniture::Classifier;
use crate::normalise::collapse;
use crate::rules::{Found, LineHits, Matcher};
use crate::unicode;

/// What `_ends_sentence` strips before looking at the last character: closing quotes,
/// brackets and the asterisk of a footnote.
const CLOSERS: &[char] = &['"', '\'', '”', '’', '»', ')', ']', '*'];
/// A sentence ends in one of these.
const TERMINAL: &[char] = &['.', '!', '?', '…'];

/// What around a rule's match goes (see `rules/README.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Line,
    Tail,
    List,
    Inline,
    Credit,
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind, String> {
        Ok(match s {
            "line" => Kind::Line,
            "tail" => Kind::Tail,
            "list" => Kind::List,
            "inline" => Kind::Inline,
            "credit" => Kind::Credit,
            _ => return Err(format!("unknown rule kind {s:?}")),
        })
    }
}

/// What the decision needs of one rule (its pattern is in the [`Matcher`], same index).
#[derive(Clone, Debug)]
pub struct Rule {
    pub kind: Kind,
    /// the rule also removes sentence-like lines
    pub long: bool,
    /// a `list` takes at most this many items
    pub max_items: usize,
    /// a `credit` also takes the caption above it
    pub caption: bool,
}

/// The guards' thresholds (`cleaner.clean.rules`' constants of the same names, upper case).
#[derive(Clone, Debug)]
pub struct Limits {
    /// a line of this many words that ends like a sentence is prose
    pub sentence_words: usize,
    /// longer lines (in characters) meet no rule
    pub max_rule_line: usize,
    /// a tail marker needs this many words above it ...
    pub tail_min_words_above: usize,
    /// ... and this share of the document's words
    pub tail_min_share_above: f64,
    /// a list item (a headline) has at most this many words
    pub list_item_words: usize,
    /// above a marker inside the main block, an article has this share of the block
    pub tail_min_article_share: f64,
    /// a credit's caption has at most this many words
    pub caption_words: usize,
}

impl Limits {
    pub const NAMES: [&'static str; 7] = [
        "sentence_words",
        "max_rule_line",
        "tail_min_words_above",
        "tail_min_share_above",
        "list_item_words",
        "tail_min_article_share",
        "caption_words",
    ];

    pub fn from_map(m: &HashMap<String, f64>) -> Result<Limits, String> {
        if let Some(k) = m.keys().find(|k| !Limits::NAMES.contains(&k.as_str())) {
            return Err(format!("unknown rules limit {k}"));
        }
        let g = |k: &str| m.get(k).copied().ok_or_else(|| format!("missing rules limit {k}"));
        let count = |k: &str| {
            let v = g(k)?;
            if v >= 0.0 && v.fract() == 0.0 && v < 9.0e15 {
                Ok(v as usize)
            } else {
                Err(format!("rules limit {k} must be a whole number, not {v}"))
            }
        };
        Ok(Limits {
            sentence_words: count("sentence_words")?,
            max_rule_line: count("max_rule_line")?,
            tail_min_words_above: count("tail_min_words_above")?,
            tail_min_share_above: g("tail_min_share_above")?,
            list_item_words: count("list_item_words")?,
            tail_min_article_share: g("tail_min_article_share")?,
            caption_words: count("caption_words")?,
        })
    }
}

/// The page's main prose block: its first and last line, and its prose words
/// (`cleaner.clean.furniture.Block`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub start: usize,
    pub end: usize,
    pub words: usize,
}

/// `main_block(lines, k)`: the main prose block of the first `k` of the collapsed `lines`.
pub type BlockOf<'f, E> = dyn FnMut(&[Line<'_>], usize) -> Result<Option<Block>, E> + 'f;

/// One line as the rules see it: collapsed (`" ".join(line.split())`).
///
/// `text` is what the patterns and the character tests read: UTF-8, each lone surrogate (a
/// Python `str` may hold them; UTF-8 cannot) read as U+FFFD. Both are one character that is
/// no word, digit, space, letter or sentence mark, and both take three bytes, so spans, counts
/// and tests agree. `raw` keeps the line's own bytes (`surrogatepass`) when it has any, for
/// the output and for telling two lines apart.
#[derive(Clone, Debug)]
pub struct Line<'a> {
    pub text: Cow<'a, str>,
    pub raw: Option<Vec<u8>>,
    /// differs from the input line (collapsed or cut)
    pub changed: bool,
}

/// `b` (UTF-8 with lone surrogates in their three-byte `surrogatepass` form) with each
/// surrogate replaced by U+FFFD, which takes as many bytes (one character that is no word,
/// digit or space character either, so offsets and matches stay what they were).
pub(crate) fn fffd(b: &[u8]) -> String {
    let mut v = b.to_vec();
    let mut i = 0;
    while i + 2 < v.len() {
        if v[i] == 0xED && v[i + 1] >= 0xA0 {
            v[i..i + 3].copy_from_slice("\u{FFFD}".as_bytes());
            i += 3;
        } else {
            i += 1;
        }
    }
    match String::from_utf8(v) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

impl<'a> Line<'a> {
    /// The line `raw` (UTF-8; lone surrogates in their `surrogatepass` form), collapsed.
    pub fn new(raw: &'a [u8]) -> Line<'a> {
        let c = collapse(raw);
        let changed = matches!(c, Cow::Owned(_));
        Line::of(c, changed)
    }

    /// [`Line::new`] of a line known to be UTF-8 (no lone surrogate): not validated again.
    pub fn of_str(line: &'a str) -> Line<'a> {
        let text = crate::normalise::collapse_str(line);
        let changed = matches!(text, Cow::Owned(_));
        Line {
            text,
            raw: None,
            changed,
        }
    }

    fn of(c: Cow<'a, [u8]>, changed: bool) -> Line<'a> {
        match c {
            Cow::Borrowed(b) => match std::str::from_utf8(b) {
                Ok(s) => Line {
                    text: Cow::Borrowed(s),
                    raw: None,
                    changed,
                },
                Err(_) => Line {
                    text: Cow::Owned(fffd(b)),
                    raw: Some(b.to_vec()),
                    changed,
                },
            },
            Cow::Owned(o) => match String::from_utf8(o) {
                Ok(s) => Line {
                    text: Cow::Owned(s),
                    raw: None,
                    changed,
                },
                Err(e) => {
                    let b = e.into_bytes();
                    Line {
                        text: Cow::Owned(fffd(&b)),
                        raw: Some(b),
                        changed,
                    }
                }
            },
        }
    }

    /// The line's code points as the `str` holds them, lone surrogates included (what the
    /// region finder reads, as `cleaner._native.Region` does).
    pub fn code_points(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.bytes().len());
        self.push_code_points(&mut out);
        out
    }

    /// [`Line::code_points`], appended to `out` (a page's lines into one buffer).
    pub fn push_code_points(&self, out: &mut Vec<u32>) {
        match &self.raw {
            None if self.text.is_ascii() => out.extend(self.text.bytes().map(u32::from)),
            None => out.extend(self.text.chars().map(|c| c as u32)),
            Some(b) => crate::minhash::decode(b, |c| out.push(c)),
        }
    }

    /// The line's own bytes: two lines are the same `str` exactly when these are equal.
    pub fn bytes(&self) -> &[u8] {
        self.raw.as_deref().unwrap_or(self.text.as_bytes())
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// `len(line.split())` of a collapsed line: its words are one space apart.
    pub fn words(&self) -> usize {
        if self.text.is_empty() {
            0
        } else {
            self.text.bytes().filter(|&b| b == b' ').count() + 1
        }
    }

    /// `len(line) > limit`, in characters.
    fn longer_than(&self, limit: usize) -> bool {
        self.text.len() > limit && self.text.chars().count() > limit
    }

    /// `collapse(line[:a] + " " + line[b:])`, `a..b` a span in bytes (None if it is not one).
    fn cut(&self, a: usize, b: usize) -> Option<Line<'static>> {
        let src = self.bytes();
        let (head, tail) = (src.get(..a)?, src.get(b..)?);
        let mut joined = Vec::with_capacity(src.len() + 1);
        joined.extend_from_slice(head);
        joined.push(b' ');
        joined.extend_from_slice(tail);
        let c = collapse(&joined).into_owned();
        Some(Line::of(Cow::Owned(c), true))
    }
}

/// `line.rstrip(CLOSERS).endswith(TERMINAL)`: the line ends like a sentence.
pub fn ends_sentence(line: &str) -> bool {
    line.trim_end_matches(CLOSERS).ends_with(TERMINAL)
}

/// A row of a table of figures (prices, results, a timetable) rendered as one line: at least
/// three numbers, and numbers in at least half of its cells (`str.isdigit`). No headline,
/// menu item or link label is made of numbers (a date has two).
pub fn is_figures_row(line: &str) -> bool {
    let uni = unicode::props();
    let (mut cells, mut figures) = (0usize, 0usize);
    for cell in line.split(|c| uni.is_space(c)).filter(|c| !c.is_empty()) {
        cells += 1;
        if cell.chars().any(|c| uni.is_digit(c)) {
            figures += 1;
        }
    }
    figures >= 3 && 2 * figures >= cells
}

/// `sum(words[a:b])`, with Python's slice bounds.
fn sum_range(words: &[usize], a: usize, b: usize) -> usize {
    let (a, b) = (a.min(words.len()), b.min(words.len()));
    if a >= b {
        0
    } else {
        words[a..b].iter().sum()
    }
}

/// A document's lines and what the decision reads of them.
struct Doc<'a> {
    lines: Vec<Line<'a>>,
    words: Vec<usize>,
    prose: Vec<bool>,
    /// the matcher's answer for each line as it came in, asked for when first needed (a
    /// thread a tail marker removes is not matched line by line); `None` inside: no rule
    hits: Vec<Option<Option<LineHits>>>,
    max_rule_line: usize,
}

impl Doc<'_> {
    /// What the rules say of line `i` (None: no rule concerns it). An empty line and a line
    /// over the length limit meet no rule; a sentence only meets `long` rules, so only theirs
    /// are confirmed (of its hits, `first_long` and the `long` inline rules are read).
    fn hits(&mut self, m: &Matcher, i: usize) -> Option<&LineHits> {
        if self.hits[i].is_none() {
            let line = &self.lines[i];
            let h = if line.is_empty() || line.longer_than(self.max_rule_line) {
                None
            } else if self.prose[i] {
                Some(m.long_line(&line.text)).filter(|h| !h.is_empty())
            } else {
                Some(m.line(&line.text)).filter(|h| !h.is_empty())
            };
            self.hits[i] = Some(h);
        }
        self.hits[i].as_ref().and_then(|h| h.as_ref())
    }

    /// The rule that removes line `i` as a whole: a sentence only meets `long` rules.
    fn rule_of(&mut self, m: &Matcher, i: usize) -> Option<usize> {
        let prose = self.prose[i];
        self.hits(m, i).and_then(|h| if prose { h.first_long } else { h.first })
    }
}

/// What applying the rules did to a document (`cleaner.clean.rules.Application`).
#[derive(Debug)]
pub struct Applied<'a> {
    /// the lines, collapsed, after inline cuts (removed lines keep their text)
    pub lines: Vec<Line<'a>>,
    /// the rule that removed each line
    pub marks: Vec<Option<usize>>,
    /// the last inline rule that cut a span of each line
    pub edits: Vec<Option<usize>>,
}

/// A rule set's rules as the decision needs them, with the guards' thresholds.
pub struct Guards {
    rules: Vec<Rule>,
    /// the inline rules, in rule order
    inline: Vec<usize>,
    limits: Limits,
    /// the furniture classifier's tests (hard-wrapped text), with its default thresholds
    pub furniture: Arc<Classifier>,
}

impl Guards {
    pub fn new(rules: Vec<Rule>, limits: Limits, furniture: Arc<Classifier>) -> Guards {
        let inline = (0..rules.len()).filter(|&n| rules[n].kind == Kind::Inline).collect();
        Guards {
            rules,
            inline,
            limits,
            furniture,
        }
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// A prose sentence: long enough and ending like a sentence. Rules leave these alone
    /// unless marked `long`. `line` is collapsed.
    pub fn sentence_like(&self, line: &Line<'_>) -> bool {
        line.words() >= self.limits.sentence_words && ends_sentence(&line.text)
    }

    /// The first rule that removes `raw` (a line, collapsed here) as a whole, if any.
    pub fn line_rule(&self, m: &Matcher, raw: &[u8]) -> Option<usize> {
        let line = Line::new(raw);
        if line.longer_than(self.limits.max_rule_line) {
            return None;
        }
        if self.sentence_like(&line) {
            m.long_line(&line.text).first_long
        } else {
            m.line(&line.text).first
        }
    }

    /// [`Guards::apply`] with the page's main prose block from the region finder.
    pub fn apply_page<'a>(&self, matcher: &Matcher, lines: Vec<Line<'a>>) -> Applied<'a> {
        let mut region = |lines: &[Line<'_>], k: usize| -> Result<Option<Block>, Infallible> {
            let cps: Vec<Vec<u32>> = lines[..k.min(lines.len())].iter().map(Line::code_points).collect();
            Ok(
                crate::region::main_block(&self.furniture, &cps).map(|(start, end, words)| Block {
                    start,
                    end,
                    words: words as usize,
                }),
            )
        };
        match self.apply(matcher, lines, &mut region) {
            Ok(applied) => applied,
            Err(never) => match never {},
        }
    }

    /// Mark the lines the rules remove and cut the spans inline rules remove (see the module
    /// note). `matcher`: the rules' patterns, in the same order as the guards' rules;
    /// `main_block(lines, k)`: the main prose block of the first `k` of the (collapsed)
    /// `lines` (see the module note); its error is passed on.
    pub fn apply<'a, E>(
        &self,
        matcher: &Matcher,
        lines: Vec<Line<'a>>,
        main_block: &mut BlockOf<'_, E>,
    ) -> Result<Applied<'a>, E> {
        let n = lines.len();
        let words: Vec<usize> = lines.iter().map(|l| l.words()).collect();
        let prose = lines.iter().map(|l| self.sentence_like(l)).collect();
        let mut doc = Doc {
            lines,
            words,
            prose,
            hits: (0..n).map(|_| None).collect(),
            max_rule_line: self.limits.max_rule_line,
        };
        let mut marks = self.mark(matcher, &mut doc, main_block)?;
        let edits = self.cut_spans(matcher, &mut doc, &mut marks);
        Ok(Applied {
            lines: doc.lines,
            marks,
            edits,
        })
    }

    /// The whole-line decision: tail markers, lists, credits, lines.
    fn mark<E>(
        &self,
        m: &Matcher,
        doc: &mut Doc<'_>,
        main_block: &mut BlockOf<'_, E>,
    ) -> Result<Vec<Option<usize>>, E> {
        let lim = &self.limits;
        let n = doc.lines.len();
        let mut marks: Vec<Option<usize>> = vec![None; n];
        let total: usize = doc.words.iter().sum();
        let mut body: Option<Option<Block>> = None; // the whole page's main block, once asked
        let mut above = 0usize; // words above line i, but for the lines rules took
        let mut i = 0;
        while i < n {
            if doc.lines[i].is_empty() || marks[i].is_some() {
                above += doc.words[i];
                i += 1;
                continue;
            }
            let Some(r) = doc.rule_of(m, i) else {
                above += doc.words[i];
                i += 1;
                continue;
            };
            let Some(rule) = self.rules.get(r) else {
                above += doc.words[i];
                i += 1;
                continue;
            };
            if rule.kind == Kind::Tail {
                let enough =
                    above >= lim.tail_min_words_above && above as f64 >= lim.tail_min_share_above * total as f64;
                if enough && !self.per_item(m, doc, r, i) {
                    let b = match body {
                        Some(b) => b,
                        None => *body.insert(main_block(&doc.lines, n)?),
                    };
                    if self.tail_safe(doc, b, i, main_block)? {
                        for (mark, line) in marks[i..].iter_mut().zip(&doc.lines[i..]) {
                            if !line.is_empty() {
                                *mark = Some(r);
                            }
                        }
                        break;
                    }
                }
                if enough {
                    marks[i] = Some(r); // the article is below: the marker line only
                } else {
                    above += doc.words[i]; // too little above to tell: left to the furniture
                }
                i += 1;
                continue;
            }
            marks[i] = Some(r);
            if rule.kind == Kind::Credit && rule.caption {
                if let Some(k) = (0..i).rev().find(|&k| !doc.lines[k].is_empty()) {
                    if marks[k].is_none() && !doc.prose[k] && doc.words[k] > 0 && doc.words[k] <= lim.caption_words {
                        marks[k] = Some(r);
                    }
                }
            }
            if rule.kind == Kind::List {
                let mut items = 0;
                let mut j = i + 1;
                while j < n && items < rule.max_items {
                    if doc.lines[j].is_empty() {
                        j += 1;
                        continue;
                    }
                    if !self.list_item(doc, j) {
                        break;
                    }
                    marks[j] = Some(r);
                    items += 1;
                    j += 1;
                }
                i = j;
                continue;
            }
            i += 1;
        }
        Ok(marks)
    }

    /// Inline rules cut spans, in rule order. A cut changes only its own line, so the rules
    /// are walked line by line (the same result as rule by rule over all lines), each tried
    /// only where the matcher offers it for the line as it stands; a cut that leaves no
    /// letter or digit removes the line, marked by that rule.
    fn cut_spans(&self, m: &Matcher, doc: &mut Doc<'_>, marks: &mut [Option<usize>]) -> Vec<Option<usize>> {
        let uni = unicode::props();
        let limit = self.limits.max_rule_line;
        let n = doc.lines.len();
        let mut edits = vec![None; n];
        for i in 0..n {
            if marks[i].is_some() || doc.lines[i].is_empty() || doc.lines[i].longer_than(limit) {
                continue;
            }
            let Some(h) = doc.hits(m, i) else {
                continue;
            };
            let mut offered = h.inline.clone(); // the inline rules that could cut this line
            let prose = doc.prose[i];
            for &r in &self.inline {
                if !offered.contains(&r) || (prose && !self.rules[r].long) {
                    continue;
                }
                let Some(p) = m.pattern(r) else {
                    continue;
                };
                let line = &doc.lines[i];
                let Found::Span(a, b) = p.find(&line.text) else {
                    continue;
                };
                if a == b {
                    continue;
                }
                let Some(rest) = line.cut(a, b) else {
                    continue;
                };
                if !rest.text.chars().any(|c| uni.is_alnum(c)) {
                    marks[i] = Some(r);
                    break; // the line is gone: no later rule sees it
                }
                offered = if rest.longer_than(limit) {
                    vec![]
                } else {
                    m.line(&rest.text).inline
                };
                doc.lines[i] = rest;
                edits[i] = Some(r);
            }
        }
        edits
    }

    /// Whether the tail marker at line `i` (rule `r`) closes one item of a series rather than
    /// the text: a blog's front page or an archive closes every post with its own comment
    /// count ("5 comments", "12 comments"), so the same rule fires again below, after more
    /// prose, on a line that differs (each post's own count). A thread heading or a footer
    /// starts once, and a reply form repeated under every comment repeats the same line. A cut
    /// at such a marker would remove every post below it, each as much the page's text as the
    /// one above; only the marker line goes.
    fn per_item(&self, m: &Matcher, doc: &mut Doc<'_>, r: usize, i: usize) -> bool {
        let mut seen_prose = false;
        for j in i + 1..doc.lines.len() {
            if doc.prose[j] {
                seen_prose = true;
            } else if seen_prose
                && !doc.lines[j].is_empty()
                && doc.lines[j].bytes() != doc.lines[i].bytes()
                && doc.rule_of(m, j) == Some(r)
            {
                return true;
            }
        }
        false
    }

    /// Whether a tail cut at line `i` spares the page's article (`body`: the page's main
    /// prose block).
    ///
    /// Safe when the main block ends above the marker (or the page has no prose to lose), or
    /// the marker stands in its last part (a one-line comment right under the marker runs on
    /// from the article's last paragraph, as one non-prose line does not break a run, and it
    /// is the smaller part). A thread can also hold one comment longer than a short article,
    /// so the main block below the marker is still a thread when an article stands above it:
    /// a run of prose above the marker of at least `tail_min_words_above` words and
    /// `tail_min_article_share` of the main block. Above a marker in the site's menu there is
    /// no such run, only link labels.
    fn tail_safe<E>(
        &self,
        doc: &Doc<'_>,
        body: Option<Block>,
        i: usize,
        main_block: &mut BlockOf<'_, E>,
    ) -> Result<bool, E> {
        let lim = &self.limits;
        let words = &doc.words;
        let Some(body) = body else {
            return Ok(true);
        };
        if body.end < i {
            return Ok(true);
        }
        if body.start < i && sum_range(words, body.start, i) > sum_range(words, i, body.end.saturating_add(1)) {
            return Ok(true);
        }
        let share = lim.tail_min_article_share * body.words as f64;
        let least = lim.tail_min_words_above as f64;
        // `max(TAIL_MIN_WORDS_ABOVE, share)`
        let need = if share > least { share } else { least };
        Ok(main_block(&doc.lines, i)?.is_some_and(|above| above.words as f64 >= need))
    }

    /// Whether line `j` can be an item of a headline list under a `list` heading.
    ///
    /// A list item is a link label: a headline, at most `list_item_words` words (headlines
    /// are written to fit a card; a glued teaser is caught by the furniture, not here). A
    /// sentence, a longer line (an article's first paragraph need not end in a full stop:
    /// "Latest" is also a menu item right above an article), hard-wrapped prose and a row of
    /// figures (a table under a heading) end the list.
    fn list_item(&self, doc: &Doc<'_>, j: usize) -> bool {
        !(doc.prose[j]
            || doc.words[j] > self.limits.list_item_words
            || self.wraps_on(doc, j)
            || is_figures_row(&doc.lines[j].text))
    }

    /// Line `j` is the start of hard-wrapped prose (a newswire or `<pre>` text breaks its
    /// sentences across lines, each too short to read as prose on its own): it runs on into
    /// the next non-empty line (the furniture classifier's `wraps_into`, without stopwords).
    /// Headlines of a link list each end where their link ends.
    fn wraps_on(&self, doc: &Doc<'_>, j: usize) -> bool {
        let Some(next) = doc.lines[j + 1..].iter().find(|l| !l.is_empty()) else {
            return false;
        };
        // code points of the U+FFFD reading: a lone surrogate and U+FFFD are both one
        // character that is neither a word character, lower case nor punctuation
        let cps = |l: &Line<'_>| l.text.chars().map(|c| c as u32).collect::<Vec<u32>>();
        self.furniture.wraps_into(&cps(&doc.lines[j]), &cps(next), None)
    }
}

/// The rule set's default limits, for the tests of the modules that run the guards.
#[cfg(test)]
pub(crate) fn default_limits() -> Limits {
    let m: HashMap<String, f64> = [
        ("sentence_words", 12.0),
        ("max_rule_line", 2000.0),
        ("tail_min_words_above", 30.0),
        ("tail_min_share_above", 0.2),
        ("list_item_words", 25.0),
        ("tail_min_article_share", 0.25),
        ("caption_words", 20.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Limits::from_map(&m).expect("limits")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::furniture::{Params, Props};
    use crate::rules::Pattern;
    use std::sync::Arc;

    fn limits() -> Limits {
        default_limits()
    }

    fn classifier() -> Classifier {
        let m: HashMap<String, f64> = Params::NAMES
            .iter()
            .map(|&k| (k.to_string(), if k == "wrap_chars" { 30.0 } else { 1.0 }))
            .collect();
        let props = Props::new(&[]).expect("props");
        Classifier::new(props, &[], Params::from_map(&m).expect("params")).expect("classifier")
    }

    fn setup(rules: &[(&str, Kind, bool)]) -> (Matcher, Guards) {
        let pats = rules
            .iter()
            .map(|&(p, k, _)| Arc::new(Pattern::new(p, false, k == Kind::Inline).expect("pattern")))
            .collect();
        let long = rules.iter().map(|r| r.2).collect();
        let m = Matcher::new(pats, long).expect("matcher");
        let g = rules
            .iter()
            .map(|&(_, kind, long)| Rule {
                kind,
                long,
                max_items: 12,
                caption: true,
            })
            .collect();
        (m, Guards::new(g, limits(), Arc::new(classifier())))
    }

    /// The document's lines and marks; `block(k)`: the main block of the first `k` lines.
    fn run(
        m: &Matcher,
        g: &Guards,
        text: &[&str],
        block: &dyn Fn(usize) -> Option<Block>,
    ) -> (Vec<String>, Vec<Option<usize>>) {
        let lines = text.iter().map(|t| Line::new(t.as_bytes())).collect();
        let mut mb = |_: &[Line<'_>], k: usize| -> Result<Option<Block>, ()> { Ok(block(k)) };
        let a = g.apply(m, lines, &mut mb).expect("no error");
        (a.lines.iter().map(|l| l.text.to_string()).collect(), a.marks)
    }

    const PROSE: &str = "The city council voted on Tuesday to approve a budget that raises spending on roads.";

    #[test]
    fn sentences_meet_only_long_rules() {
        let (m, g) = setup(&[(".*roads.*", Kind::Line, false), ("x", Kind::Line, true)]);
        let (_, marks) = run(&m, &g, &[PROSE, "roads  closed"], &|_| None);
        assert_eq!(marks, vec![None, Some(0)]);
    }

    #[test]
    fn tail_needs_text_above_and_a_safe_cut() {
        let (m, g) = setup(&[("leave a reply", Kind::Tail, false)]);
        let doc = [PROSE, PROSE, PROSE, "Leave a Reply", "Great!", "", "Thanks."];
        let article = |_k: usize| {
            Some(Block {
                start: 0,
                end: 2,
                words: 45,
            })
        };
        let (_, marks) = run(&m, &g, &doc, &article);
        assert_eq!(marks, vec![None, None, None, Some(0), Some(0), None, Some(0)]);
        // the main block below the marker and no run of prose above it: the marker line only
        let below = |k: usize| {
            (k == doc.len()).then_some(Block {
                start: 4,
                end: 6,
                words: 400,
            })
        };
        let (_, marks) = run(&m, &g, &doc, &below);
        assert_eq!(marks[3..], [Some(0), None, None, None]);
        // ... but with an article above that is a share of it, the cut stands
        let both = |k: usize| {
            Some(if k == doc.len() {
                Block {
                    start: 4,
                    end: 6,
                    words: 120,
                }
            } else {
                Block {
                    start: 0,
                    end: 2,
                    words: 30,
                }
            })
        };
        let (_, marks) = run(&m, &g, &doc, &both);
        assert_eq!(marks[3..], [Some(0), Some(0), None, Some(0)]);
        // too little above: nothing
        let (_, marks) = run(&m, &g, &["Leave a reply", PROSE], &|_| None);
        assert_eq!(marks, vec![None, None]);
    }

    #[test]
    fn code_points_keep_lone_surrogates_as_the_str_holds_them() {
        // "a", a lone high surrogate in its surrogatepass form, "b": the region finder reads
        // the surrogate itself, as `cleaner._native.Region` does, not the U+FFFD of `text`
        let line = Line::new(b"a\xed\xa0\xbdb");
        assert_eq!(line.code_points(), vec![0x61, 0xD83D, 0x62]);
        assert_eq!(line.text, "a\u{FFFD}b");
        assert_eq!(Line::new(b"x  y").code_points(), vec![0x78, 0x20, 0x79]);
    }

    #[test]
    fn a_callback_error_is_passed_on() {
        let (m, g) = setup(&[("leave a reply", Kind::Tail, false)]);
        let lines = [PROSE, PROSE, PROSE, "Leave a Reply"]
            .iter()
            .map(|t| Line::new(t.as_bytes()))
            .collect();
        let mut mb = |_: &[Line<'_>], k: usize| -> Result<Option<Block>, usize> { Err(k) };
        assert_eq!(g.apply(&m, lines, &mut mb).err(), Some(4));
    }

    #[test]
    fn list_stops_at_figures_and_prose() {
        let (m, g) = setup(&[("popular", Kind::List, false)]);
        let (_, marks) = run(
            &m,
            &g,
            &["Popular", "Mayor opens bridge", "", "Jan 1 2 3", "Budget"],
            &|_| None,
        );
        assert_eq!(marks, vec![Some(0), Some(0), None, None, None]);
    }

    #[test]
    fn inline_cuts_and_removes() {
        let (m, g) = setup(&[(r"read also: .*$", Kind::Inline, false)]);
        let (lines, marks) = run(
            &m,
            &g,
            &["READ ALSO: x", "Short  note. Read also: the archive"],
            &|_| None,
        );
        assert_eq!(marks, vec![Some(0), None]);
        assert_eq!(lines[1], "Short note.");
    }

    #[test]
    fn collapsed_lines_are_told_as_collapse_tells_them() {
        let cases = [
            "",
            " ",
            "a",
            "a b",
            "a  b",
            " a",
            "a ",
            "a\tb",
            "a\u{1F}b",
            "a\u{1C}",
            "a\u{85}b",
            "a\u{A0}b",
            "a\u{3000}b",
            "a\u{200B}b",
            "при вет",
            "при\u{2009}вет",
            "é ü",
            "a\u{2028}",
        ];
        for s in cases {
            // `" ".join(s.split())`, written out: what collapse must give
            let uni = unicode::props();
            let joined = s
                .split(|c: char| uni.is_space(c))
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let want = joined == s;
            assert_eq!(crate::normalise::is_collapsed(s.as_bytes()), want, "{s:?}");
            assert_eq!(matches!(collapse(s.as_bytes()), Cow::Borrowed(_)), want, "{s:?}");
            assert_eq!(&*collapse(s.as_bytes()), joined.as_bytes(), "{s:?}");
            let line = Line::new(s.as_bytes());
            assert_eq!(line.changed, !want, "{s:?}");
            assert_eq!(line.bytes(), &*collapse(s.as_bytes()), "{s:?}");
            // a line read as a `str` is the line read as bytes
            let of_str = Line::of_str(s);
            assert_eq!(
                (&of_str.text, &of_str.raw, of_str.changed),
                (&line.text, &line.raw, line.changed)
            );
        }
    }

    #[test]
    fn helpers_mirror_python() {
        assert!(ends_sentence("He said \"yes.\"*"));
        assert!(!ends_sentence("Home »"));
        assert!(is_figures_row("Jan 412.5 418.0 409.2"));
        assert!(!is_figures_row("Jan 2 and 3 of the months"));
        assert_eq!(Line::new(b"  a \t b ").words(), 2);
        assert_eq!(sum_range(&[1, 2, 3], 1, 9), 5);
        assert_eq!(sum_range(&[1, 2, 3], 2, 1), 0);
        let s = Line::new(b"a \xED\xA0\x80 b");
        assert_eq!(s.text, "a \u{FFFD} b");
        assert_eq!(s.bytes(), b"a \xED\xA0\x80 b");
    }
}

// ------------------------------------------------------------------------------ Python face

pub mod py {
    use std::collections::HashMap;

    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;
    use pyo3::types::PyString;

    use std::sync::Arc;

    use super::{Guards, Kind, Limits, Line, Rule};
    use crate::furniture::py::PyFurniture;
    use crate::rules::PyMatcher;

    /// `(lines, marks, edits)` of `RuleSet.apply`.
    type Applied<'py> = (
        Vec<Bound<'py, PyString>>,
        Vec<Option<Py<PyString>>>,
        Vec<(usize, Py<PyString>)>,
    );

    /// The decision of a rule set (see the module note), over the set's matcher.
    #[pyclass(frozen, name = "Guards", module = "cleaner._native")]
    pub struct PyGuards {
        pub(crate) core: Guards,
        pub(crate) matcher: Py<PyMatcher>,
        pub(crate) ids: Vec<Py<PyString>>,
    }

    #[pymethods]
    impl PyGuards {
        /// One entry per rule, in the matcher's order: `kinds`, `ids`, `long`, `max_items`,
        /// `caption`; `limits`: the thresholds by name (see `Limits`); `furniture`: the
        /// furniture classifier with its default thresholds (shared, not copied).
        #[new]
        #[allow(clippy::too_many_arguments)]
        fn new(
            matcher: Py<PyMatcher>,
            kinds: Vec<String>,
            ids: Vec<Bound<'_, PyString>>,
            long: Vec<bool>,
            max_items: Vec<usize>,
            caption: Vec<bool>,
            limits: HashMap<String, f64>,
            furniture: Py<PyFurniture>,
        ) -> PyResult<Self> {
            let n = kinds.len();
            if [
                ids.len(),
                long.len(),
                max_items.len(),
                caption.len(),
                matcher.get().0.len(),
            ]
            .iter()
            .any(|&x| x != n)
            {
                return Err(PyValueError::new_err(
                    "one kind, id, long, max_items and caption per rule of the matcher",
                ));
            }
            let mut rules = Vec::with_capacity(n);
            for (k, kind) in kinds.iter().enumerate() {
                rules.push(Rule {
                    kind: Kind::parse(kind).map_err(PyValueError::new_err)?,
                    long: long[k],
                    max_items: max_items[k],
                    caption: caption[k],
                });
            }
            let limits = Limits::from_map(&limits).map_err(PyValueError::new_err)?;
            Ok(PyGuards {
                core: Guards::new(rules, limits, Arc::clone(&furniture.get().0)),
                matcher,
                ids: ids.into_iter().map(|s| s.unbind()).collect(),
            })
        }

        /// Limits' names.
        #[staticmethod]
        fn limit_names() -> Vec<&'static str> {
            Limits::NAMES.to_vec()
        }

        /// `RuleSet.apply`: `(lines, marks, edits)` for a document's lines: the lines
        /// collapsed and cut, the id of the rule that removed each line (None: kept), and
        /// `(index, id)` of each line an inline rule cut a span of (the last such rule).
        fn apply<'py>(&self, py: Python<'py>, lines: Vec<Bound<'py, PyString>>) -> PyResult<Applied<'py>> {
            let raws = lines.iter().map(crate::text_bytes).collect::<PyResult<Vec<_>>>()?;
            let matcher = &self.matcher.get().0;
            let core = &self.core;
            let applied = crate::guarded(py, || {
                let lines = raws.iter().map(|r| Line::new(r)).collect();
                core.apply_page(matcher, lines)
            })?;
            let mut out = Vec::with_capacity(lines.len());
            for (line, orig) in applied.lines.iter().zip(&lines) {
                out.push(match (&line.raw, line.changed) {
                    (_, false) => orig.clone(),
                    (None, true) => PyString::new(py, &line.text),
                    (Some(b), true) => crate::py_str(py, b)?,
                });
            }
            let id = |r: usize| self.ids.get(r).map(|s| s.clone_ref(py));
            let marks = applied.marks.iter().map(|m| m.and_then(id)).collect();
            let edits = applied
                .edits
                .iter()
                .enumerate()
                .filter_map(|(i, e)| e.and_then(id).map(|s| (i, s)))
                .collect();
            Ok((out, marks, edits))
        }

        /// The index of the first rule that removes `line` (collapsed here) as a whole (a
        /// sentence-like line only meets `long` rules), or None.
        fn line_rule(&self, py: Python<'_>, line: Bound<'_, PyString>) -> PyResult<Option<usize>> {
            let raw = crate::text_bytes(&line)?;
            let matcher = &self.matcher.get().0;
            crate::guarded(py, || self.core.line_rule(matcher, &raw))
        }
    }

    pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add_class::<PyGuards>()?;
        Ok(())
    }
}

pub use py::register;

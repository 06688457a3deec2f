//! The furniture classifier's region finder (`cleaner.clean.furniture.furniture` and
//! `main_block`): from the per-line values of [`Classifier::analyse`] to the lines a page
//! keeps, in one call per document. The Python module's docstrings explain each mechanism
//! (why a footer notice, a comment thread, a card list or a block of records moves the
//! region); the functions here keep their names, with a leading underscore dropped.
//!
//! The decisions must not move by one line (the port is checked against the frozen Python
//! classifier, `tests/furniture_oracle.py`), so the arithmetic is Python's, step by step:
//! scores are `f64` summed left to right from zero (CPython 3.11's `sum`), int/int
//! division is a correctly rounded `f64` quotient, `round` rounds half to even, `max`
//! and the best-so-far loops keep the first maximum (strict `>`), and every list the
//! Python code built from a dict keeps the dict's insertion order. Positions follow
//! Python's slices: a region is `lo..=hi` with `hi == -1` for none.
//!
//! Nothing here panics on any input: thresholds are checked when the parameters are read
//! (those a division or an index depends on), and all indexing stays inside the page.

use std::collections::HashMap;

use crate::furniture::{
    Analysis, Classifier, FxSet, Props, BAD, BLANK, DECIMAL, DIGIT, F_BYLINE, F_ENDS_DATED, F_ENDS_SENTENCE,
    F_KEY_DIGIT, F_TEASER, F_TERMINAL, F_TRUNCATED, GOOD, SHORT, SPACE, WORD,
};

/// Thresholds of `FurnitureParams` the region finder reads (see the Python dataclass).
#[derive(Clone, Debug)]
pub struct RegionParams {
    pub max_gap: i64,
    pub region_penalty: f64,
    pub title_lines: i64,
    pub byline_words: i64,
    pub post_bylines: i64,
    pub thread_entries: i64,
    pub copy_words: i64,
    pub copy_share: f64,
    pub copy_fields: i64,
    pub copy_lookback: i64,
    pub footer_lines: i64,
    pub headline_penalty: f64,
    pub headline_words: f64,
    pub min_cards: i64,
    pub card_words: i64,
    pub card_headline_words: i64,
    pub entries_share: f64,
    pub record_gap: i64,
    pub announce_words: i64,
    pub announce_items: i64,
    pub table_rows: i64,
    pub record_repeats: i64,
    pub record_lines: i64,
    pub record_entries: i64,
    pub record_fields: i64,
    pub post_title: i64,
    pub block_share: f64,
    pub sparse_share: f64,
    pub block_ratio: f64,
    pub sparse_words: i64,
    pub dated_words: i64,
    pub record_stretch: i64,
    pub rival_words: f64,
    pub rival_share: f64,
    pub wrapped_share: f64,
}

impl RegionParams {
    pub const NAMES: [&'static str; 35] = [
        "max_gap",
        "region_penalty",
        "title_lines",
        "byline_words",
        "post_bylines",
        "thread_entries",
        "copy_words",
        "copy_share",
        "copy_fields",
        "copy_lookback",
        "footer_lines",
        "headline_penalty",
        "headline_words",
        "min_cards",
        "card_words",
        "card_headline_words",
        "entries_share",
        "record_gap",
        "announce_words",
        "announce_items",
        "table_rows",
        "record_repeats",
        "record_lines",
        "record_entries",
        "record_fields",
        "post_title",
        "block_share",
        "sparse_share",
        "block_ratio",
        "sparse_words",
        "dated_words",
        "record_stretch",
        "rival_words",
        "rival_share",
        "wrapped_share",
    ];

    /// The thresholds from `{name: value}`. Counts must be whole and not negative; those
    /// the finder divides by or indexes with must be large enough that it cannot fail (the
    /// Python code raised on them mid-page: a mean over `record_repeats - 1` spacings, the
    /// first of `post_bylines` headers, the largest of `thread_entries - 1` entries).
    pub fn from_map(m: &HashMap<String, f64>) -> Result<Self, String> {
        let f = |k: &str| {
            m.get(k)
                .copied()
                .ok_or_else(|| format!("missing furniture parameter {k}"))
        };
        let int = |k: &str, least: i64| -> Result<i64, String> {
            let v = f(k)?;
            if !(v.is_finite() && v.fract() == 0.0 && v >= least as f64 && v < 1e15) {
                return Err(format!(
                    "furniture parameter {k} must be a whole number of at least {least}, got {v}"
                ));
            }
            Ok(v as i64)
        };
        Ok(RegionParams {
            max_gap: int("max_gap", 0)?,
            region_penalty: f("region_penalty")?,
            title_lines: int("title_lines", 0)?,
            byline_words: int("byline_words", 0)?,
            post_bylines: int("post_bylines", 1)?,
            thread_entries: int("thread_entries", 2)?,
            copy_words: int("copy_words", 0)?,
            copy_share: f("copy_share")?,
            copy_fields: int("copy_fields", 0)?,
            copy_lookback: int("copy_lookback", 0)?,
            footer_lines: int("footer_lines", 0)?,
            headline_penalty: f("headline_penalty")?,
            headline_words: f("headline_words")?,
            min_cards: int("min_cards", 0)?,
            card_words: int("card_words", 0)?,
            card_headline_words: int("card_headline_words", 0)?,
            entries_share: f("entries_share")?,
            record_gap: int("record_gap", 0)?,
            announce_words: int("announce_words", 0)?,
            announce_items: int("announce_items", 0)?,
            table_rows: int("table_rows", 0)?,
            record_repeats: int("record_repeats", 2)?,
            record_lines: int("record_lines", 0)?,
            record_entries: int("record_entries", 2)?,
            record_fields: int("record_fields", 0)?,
            post_title: int("post_title", 0)?,
            block_share: f("block_share")?,
            sparse_share: f("sparse_share")?,
            block_ratio: f("block_ratio")?,
            sparse_words: int("sparse_words", 0)?,
            dated_words: int("dated_words", 0)?,
            record_stretch: int("record_stretch", 0)?,
            rival_words: f("rival_words")?,
            rival_share: f("rival_share")?,
            wrapped_share: f("wrapped_share")?,
        })
    }
}

/// `sum(sc for sc in v if sc > 0)`.
fn sum_pos(v: &[f64]) -> f64 {
    v.iter().filter(|&&x| x > 0.0).fold(0.0, |a, &x| a + x)
}

/// `sum(v)`.
fn sum(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |a, &x| a + x)
}

/// `v[lo:hi + 1]` for `0 <= lo` and `-1 <= hi` (Python's clamping included).
fn span<T>(v: &[T], lo: isize, hi: isize) -> &[T] {
    let a = lo.max(0) as usize;
    let b = ((hi + 1).max(0) as usize).min(v.len());
    if a >= b {
        &v[..0]
    } else {
        &v[a..b]
    }
}

fn ends_with(s: &[u32], c: char) -> bool {
    s.last() == Some(&(c as u32))
}

/// `_main_region`: Maximum-sum contiguous run (Kadane): the stretch of the page where prose outweighs
/// furniture, as in Finn et al.'s Body Text Extraction, with lines instead of tags.
pub fn main_region(scores: &[f64]) -> (isize, isize) {
    let mut best = f64::NEG_INFINITY;
    let mut out = (0isize, -1isize);
    let mut run = 0.0f64;
    let mut start = 0usize;
    for (i, &s) in scores.iter().enumerate() {
        if run <= 0.0 {
            run = s;
            start = i;
        } else {
            run += s;
        }
        if run > best {
            best = run;
            out = (start as isize, i as isize);
        }
    }
    out
}

/// `_longest_body`: Words of the longest run of adjacent prose lines, not counting those in `skip`.
fn longest_body(scores: &[f64], skip: impl Fn(usize) -> bool) -> f64 {
    let mut best = 0.0f64;
    let mut run = 0.0f64;
    for (p, &sc) in scores.iter().enumerate() {
        run = if sc > 0.0 && !skip(p) { run + sc } else { 0.0 };
        if run > best {
            best = run;
        }
    }
    best
}

/// Case-insensitive match of `c` to the lower-case ASCII letter or space `lit`, as `re`'s
/// IGNORECASE matches it (the Kelvin sign is a k, the long s an s, dotted and dotless I an i).
fn ci(c: u32, lit: u8) -> bool {
    let l = lit as u32;
    if c == l || (lit.is_ascii_lowercase() && c == l - 0x20) {
        return true;
    }
    matches!((lit, c), (b'i', 0x130) | (b'i', 0x131) | (b's', 0x17F) | (b'k', 0x212A))
}

fn word_at(pr: &Props, s: &[u32], i: usize) -> bool {
    s.get(i).is_some_and(|&c| pr.is(c, WORD))
}

/// `re`'s `\b` at `i`.
fn boundary(pr: &Props, s: &[u32], i: usize) -> bool {
    (i > 0 && word_at(pr, s, i - 1)) != word_at(pr, s, i)
}

/// Whether `lit` matches (ignoring case) at `i`; the position after it.
fn lit_at(s: &[u32], i: usize, lit: &str) -> Option<usize> {
    let b = lit.as_bytes();
    let t = s.get(i..i + b.len())?;
    t.iter().zip(b).all(|(&c, &l)| ci(c, l)).then_some(i + b.len())
}

/// Whether `s` holds the legal vocabulary site footers are built from (see
/// rules/en/metadata.toml, rights-reserved): `_NOTICE.search(s)`, ignoring case, of
/// `©|\(c\)\s*\d{4}|\bcopyright\b|\ball rights reserved\b|\btrademarks?\b|\bdisclaimer\b`.
pub fn notice(pr: &Props, s: &[u32]) -> bool {
    let word = |i: usize, w: &str| boundary(pr, s, i) && lit_at(s, i, w).is_some_and(|e| boundary(pr, s, e));
    (0..s.len()).any(|i| {
        if s[i] == 0xA9 {
            return true;
        }
        if s[i] == '(' as u32 && s.get(i + 1).is_some_and(|&c| ci(c, b'c')) && s.get(i + 2) == Some(&(')' as u32)) {
            let mut k = i + 3;
            while s.get(k).is_some_and(|&c| pr.is(c, SPACE)) {
                k += 1;
            }
            if (k..k + 4).all(|j| s.get(j).is_some_and(|&c| pr.is(c, DECIMAL))) {
                return true;
            }
        }
        // every word starts with one of these letters: asked before `\b`, which costs more
        let first = s[i];
        if !(ci(first, b'c') || ci(first, b'a') || ci(first, b'd') || ci(first, b't')) || !boundary(pr, s, i) {
            return false;
        }
        word(i, "copyright")
            || word(i, "all rights reserved")
            || word(i, "disclaimer")
            || lit_at(s, i, "trademark").is_some_and(|e| {
                (s.get(e).is_some_and(|&c| ci(c, b's')) && boundary(pr, s, e + 1)) || boundary(pr, s, e)
            })
    })
}

/// Whether `s` is a field of structured data rendered as text: a bare URL, an ISO
/// timestamp, a bare number. `_DATA_FIELD.match(s.strip())`: `^(?:https?://\S+|\d+|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}\S*)?)$`.
pub fn data_field(pr: &Props, s: &[u32]) -> bool {
    let sp = |c: u32| pr.is(c, SPACE);
    let a = s.iter().position(|&c| !sp(c)).unwrap_or(s.len());
    let b = s.iter().rposition(|&c| !sp(c)).map_or(a, |p| p + 1);
    let s = &s[a..b.max(a)];
    let dec = |i: usize| s.get(i).is_some_and(|&c| pr.is(c, DECIMAL));
    let is = |i: usize, c: char| s.get(i) == Some(&(c as u32));
    let rest_nonspace = |i: usize| s.get(i..).is_some_and(|t| t.iter().all(|&c| !sp(c)));
    // https?://\S+
    if "http".chars().enumerate().all(|(k, c)| is(k, c)) {
        let mut k = 4;
        if is(k, 's') {
            k += 1;
        }
        if is(k, ':') && is(k + 1, '/') && is(k + 2, '/') && k + 3 < s.len() && rest_nonspace(k + 3) {
            return true;
        }
    }
    // \d+
    if !s.is_empty() && (0..s.len()).all(dec) {
        return true;
    }
    // \d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}\S*)?
    let date = (0..4).all(dec) && is(4, '-') && dec(5) && dec(6) && is(7, '-') && dec(8) && dec(9);
    if !date {
        return false;
    }
    s.len() == 10
        || ((is(10, 'T') || is(10, ' '))
            && dec(11)
            && dec(12)
            && is(13, ':')
            && dec(14)
            && dec(15)
            && rest_nonspace(16))
}

/// `_TITLE_PARTS.split(s)`: split at `\s[|–—»·-]\s` and `\s::\s`.
pub fn title_parts<'a>(pr: &Props, s: &'a [u32]) -> Vec<&'a [u32]> {
    let sp = |i: usize| s.get(i).is_some_and(|&c| pr.is(c, SPACE));
    let mut out = Vec::new();
    let (mut from, mut i) = (0, 0);
    while i < s.len() {
        let len = if sp(i) && s.get(i + 1).is_some_and(|&c| "|–—»·-".chars().any(|x| x as u32 == c)) && sp(i + 2)
        {
            3
        } else if sp(i) && s.get(i + 1) == Some(&0x3A) && s.get(i + 2) == Some(&0x3A) && sp(i + 3) {
            4
        } else {
            0
        };
        if len == 0 {
            i += 1;
        } else {
            out.push(&s[from..i]);
            i += len;
            from = i;
        }
    }
    out.push(&s[from..]);
    out
}

/// `_clusters`: Positions split where two neighbours are more than `gap` apart: the records of
/// one block follow each other, and the same label elsewhere on the page (a section
/// name above the article and on every card of a list below it) is another block.
pub fn clusters(at: &[usize], gap: i64) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for &p in at {
        match out.last_mut() {
            Some(last) if last.last().is_some_and(|&q| (p as i64 - q as i64) <= gap) => last.push(p),
            _ => out.push(vec![p]),
        }
    }
    out
}

/// `_in_step`: Whether two recurring field lines belong to the same records: they recur as often,
/// and one of each sits in every record (each occurrence of one falls between the same
/// two occurrences of the other: "Joined:", "Posts:" and "Posted on:" once in every post's
/// header). A field compared with itself is in step.
pub fn in_step(at: &[usize], other: &[usize]) -> bool {
    if at.len() != other.len() || at.is_empty() {
        return at.len() == other.len();
    }
    let (first, second) = if at[0] <= other[0] { (at, other) } else { (other, at) };
    first.iter().zip(second).all(|(a, b)| a <= b) && second.iter().zip(&first[1..]).all(|(b, a)| b < a)
}

/// Python's `round(x)` of a float: half to even.
fn round_half_even(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// One document on its way through the region finder.
struct Page<'a> {
    pr: &'a Props,
    p: &'a RegionParams,
    lines: &'a [&'a [u32]],
    a: &'a Analysis,
}

impl Page<'_> {
    fn good(&self, i: usize) -> bool {
        self.a.classes[i] == GOOD
    }

    /// `_scores`: Region score of each non-blank line. Prose counts its words, furniture a fixed
    /// penalty. Prose-looking lines that are links to other pages do not count: a teaser card
    /// (headline glued to its summary, see `is_teaser`) is penalised like furniture,
    /// and a headline (a short line on its own, not ending a sentence) costs like furniture,
    /// so that a list of headlines below the article (related, most read) does not pull the
    /// region down the page. Headings inside the article cost the same but are outweighed by
    /// the paragraphs around them, and are kept as gaps between prose. So does a lone dated
    /// line (as short as a byline, see `is_byline`, or ending in a year within
    /// `dated_words` words), sentence or not, in a run of at least `table_rows` of them:
    /// the entries of a dated list below the text (its sources, an archive), whose run would
    /// otherwise pull the region down over the list. (One or two dated lines may be fragments
    /// of a hard-wrapped sentence: "June 30, 1991 with ...".)
    fn scores(&self, idx: &[usize]) -> Vec<f64> {
        let (a, p) = (self.a, self.p);
        let dated: Vec<bool> = idx
            .iter()
            .map(|&i| {
                a.flags[i] & F_BYLINE != 0 || (a.flags[i] & F_ENDS_DATED != 0 && a.nsplit[i] as i64 <= p.dated_words)
            })
            .collect();
        let mut listed = vec![false; a.classes.len()];
        let mut run: Vec<usize> = Vec::new();
        for q in 0..=idx.len() {
            if q < idx.len() && dated[q] {
                run.push(idx[q]);
                continue;
            }
            if run.len() as i64 >= p.table_rows {
                for &i in &run {
                    listed[i] = true;
                }
            }
            run.clear();
        }
        idx.iter()
            .map(|&i| {
                let words = a.words[i];
                if a.classes[i] != GOOD || a.flags[i] & F_TEASER != 0 {
                    -p.region_penalty
                } else if a.sizes[i] == 1
                    && ((words <= p.headline_words && a.flags[i] & F_ENDS_SENTENCE == 0) || listed[i])
                {
                    -p.headline_penalty
                } else {
                    words
                }
            })
            .collect()
    }

    /// `_footer_start`: Position in `idx` where the site's footer notice starts, or `len(idx)`. A
    /// footer closes every page of a site with a block of sentences (who hosts or sponsors
    /// the site, its copyright and trademarks, a disclaimer) and maybe a last row of links.
    /// On a page with little prose (an archive of links, a product page of short lines) that
    /// block is the heaviest run of prose and the region finder takes it for the text (issue
    /// 15). A line with the legal vocabulary of footers (`_NOTICE`) among the page's last
    /// `footer_lines` lines marks it; the footer starts there, or higher over the lines
    /// right above it that are long but not prose (a notice's other fragments). A prose line
    /// right above it is not taken: an article's last paragraph often sits directly above
    /// the site's copyright line. It counts only below some prose, so a page of a notice
    /// alone keeps it. The region is sought above the footer, as above a comment thread.
    fn footer_start(&self, idx: &[usize]) -> usize {
        let classes = &self.a.classes;
        let tail = (idx.len() as i64 - self.p.footer_lines).max(0) as usize;
        for p in tail..idx.len() {
            if classes[idx[p]] != SHORT && notice(self.pr, self.lines[idx[p]]) {
                let mut p = p;
                while p > 0 && classes[idx[p - 1]] == BAD {
                    p -= 1;
                }
                if idx[..p].iter().any(|&i| self.good(i)) {
                    return p;
                }
                return idx.len();
            }
        }
        idx.len()
    }

    /// `_comments_start`: Position in `idx` where a comment thread starts, or `len(idx)`. Comment threads
    /// repeat one shape: a short dated header that introduces speech ("Ann on 12 May 2019 at
    /// 4:47 pm said:", "Ann schrieb am 12.05.2019:") and then prose. Plain dated lines are not
    /// enough: blogs and forums list several dated posts that all belong to the page, so only
    /// headers ending in a colon (reported speech) count, and only when they recur below
    /// some prose (the article they comment on).
    fn comments_start(&self, idx: &[usize]) -> usize {
        let a = self.a;
        let mut hits: Vec<usize> = Vec::new();
        let mut seen_prose = false;
        for (p, &i) in idx.iter().enumerate() {
            if self.good(i) && hits.is_empty() {
                seen_prose = seen_prose || a.nsplit[i] as i64 > self.p.byline_words;
            }
            let line = &self.lines[i];
            let speech = ends_with(line, ':') && !line.windows(2).any(|w| w == [0x2E, 0x20]);
            if !(seen_prose && speech && a.flags[i] & F_BYLINE != 0) {
                continue;
            }
            if (p + 1..(p + 4).min(idx.len())).any(|q| self.good(idx[q])) {
                hits.push(p);
            }
        }
        if hits.len() as i64 >= self.p.post_bylines {
            hits[0]
        } else {
            idx.len()
        }
    }

    /// `_thread_start`: Position in `idx` where a thread of entries below the page's body starts, or
    /// `len(idx)`. A comment thread (or a list of reader posts) renders each entry as some
    /// prose between the same field lines: the widgets every comment carries ("Reply",
    /// "Report abuse", "rate up"), a "Label: value" line. A field line that recurs in at
    /// least `thread_entries` of the gaps between prose runs separates entries; the thread
    /// starts at the prose run right above its first occurrence (the first entry). Summed
    /// over many entries, a thread outweighs the article it follows, and the region finder
    /// would keep one comment and drop the article (issue 15); so when a body (adjacent
    /// paragraphs, see `_longest_body`) lies above the first entry, the region is
    /// sought above it. A page that is itself a thread (a forum) has no body above its
    /// first post, and an article's own repeated headings ("Q:") come after its intro,
    /// which then is the first entry: neither is cut.
    fn thread_start(&self, idx: &[usize], scores: &[f64]) -> usize {
        let a = self.a;
        let mut seen_at: Vec<(u32, usize, usize)> = Vec::new(); // (key, gap, position)
        let mut gap = 0usize;
        for (p, &i) in idx.iter().enumerate() {
            if scores[p] > 0.0 {
                if p > 0 && scores[p - 1] <= 0.0 {
                    gap += 1;
                }
                continue;
            }
            let key = a.keys[i];
            if key != 0 && a.flags[i] & F_KEY_DIGIT == 0 {
                seen_at.push((key, gap, p));
            }
        }
        // each key's occurrences in order (a stable sort by key: one vector, not one a key)
        seen_at.sort_by_key(|&(key, _, _)| key);
        let mut best = idx.len();
        let mut at: Vec<usize> = Vec::new();
        // (the answer is the least qualifying start: the keys' order does not matter)
        for seen in seen_at.chunk_by(|x, y| x.0 == y.0) {
            at.clear();
            at.extend(
                seen.iter()
                    .enumerate()
                    .filter(|&(n, &(_, g, _))| g != 0 && (n == 0 || g != seen[n - 1].1))
                    .map(|(_, &(_, _, p))| p),
            );
            if (at.len() as i64) < self.p.thread_entries {
                continue;
            }
            let mut start = at[0];
            while start > 0 && scores[start - 1] <= 0.0 {
                start -= 1;
            }
            while start > 0 && scores[start - 1] > 0.0 {
                start -= 1;
            }
            let mut longest = f64::NEG_INFINITY;
            for w in at.windows(2) {
                let s = sum_pos(&scores[w[0]..w[1]]);
                if s > longest {
                    longest = s;
                }
            }
            let body = longest_body(&scores[..start], |_| false);
            if body >= (2 * self.p.card_words) as f64 && body > longest && start < best {
                best = start;
            }
        }
        best
    }

    /// `_data_block`: Whether the run of lines `start`..`end` is rendered structured data: at least
    /// `copy_fields` bare data fields (URL, ISO timestamp, number; see `_DATA_FIELD`)
    /// among the `copy_lookback` non-blank lines above it and the lines inside it, kept
    /// or not.
    fn data_block(&self, start: usize, end: usize) -> bool {
        let classes = &self.a.classes;
        let above = (0..start)
            .rev()
            .filter(|&k| classes[k] != BLANK)
            .take(self.p.copy_lookback as usize);
        let n = above
            .chain(start..=end)
            .filter(|&k| data_field(self.pr, self.lines[k]))
            .count();
        n as i64 >= self.p.copy_fields
    }

    /// `_drop_second_copy`: Drop a second rendering of the text that structured data left on the page.
    ///
    /// A page's metadata block (schema.org JSON-LD, OpenGraph or microdata rendered as text)
    /// carries the article again as its `articleBody`, among the fields a renderer leaves
    /// as lines of their own: the page URL, the image URL, its width and height, the
    /// publication timestamps. So a long run of kept lines that all occurred, in the same
    /// words, earlier among the kept lines, with at least `copy_fields` such data fields
    /// among the `copy_lookback` lines above it or inside it, is that copy, and is dropped.
    ///
    /// Any other repetition is the page's own text and is kept (issue 15): a document that
    /// repeats its paragraphs (a text given twice, sections with the same paragraph, a
    /// refrain, a pull quote, a forum post quoting an earlier one) is what the page says,
    /// and removing repeated text across or within documents is the dedup stage's decision,
    /// not the furniture classifier's.
    fn drop_second_copy(&self, drop: &mut [bool]) {
        let (a, lines) = (self.a, self.lines);
        let kept: Vec<usize> = (0..lines.len())
            .filter(|&i| a.classes[i] != BLANK && !drop[i])
            .collect();
        let mut seen: FxSet<&[u32]> = FxSet::with_capacity_and_hasher(kept.len(), Default::default());
        let repeat: Vec<bool> = kept.iter().map(|&i| !seen.insert(lines[i])).collect();
        let total: i64 = kept.iter().map(|&i| a.nsplit[i] as i64).sum();
        let share = self.p.copy_share * total as f64;
        let need = if share > self.p.copy_words as f64 {
            share
        } else {
            self.p.copy_words as f64
        };
        let mut p = 0;
        while p < kept.len() {
            if !repeat[p] {
                p += 1;
                continue;
            }
            let mut q = p;
            while q < kept.len() && repeat[q] {
                q += 1;
            }
            let words: i64 = kept[p..q].iter().map(|&i| a.nsplit[i] as i64).sum();
            if words as f64 >= need && self.data_block(kept[p], kept[q - 1]) {
                for &i in &kept[p..q] {
                    drop[i] = true;
                }
            }
            p = q;
        }
    }

    /// `_is_card`: Whether the prose line at position `p` of `idx` is the summary of an article
    /// card (a link to another article in a related, most-read or deals list, a slider).
    /// A card renders as a headline and a one-paragraph summary, maybe a label or a date: a
    /// prose line standing alone before a line that does not count as prose (see
    /// `_scores`), right below a headline-length line that does not end a sentence
    /// (or asks a question, or ends in the ellipsis of a headline cut to fit its card). An
    /// article's section headings are shorter than headlines, and a wrapped sentence
    /// continues in lower case.
    fn is_card(&self, p: usize, scores: &[f64], idx: &[usize], max_words: f64) -> bool {
        let a = self.a;
        if p == 0 || scores[p] > max_words || (p + 1 < idx.len() && scores[p + 1] > 0.0) {
            return false;
        }
        if scores[p - 1] > 0.0 {
            let line = &self.lines[idx[p]];
            let first = line.iter().find(|&&c| !"\"“‘'«".chars().any(|q| q as u32 == c));
            if !first.is_some_and(|&c| self.pr.isupper(&[c])) {
                return false; // a long line above continues into this one: wrapped text
            }
        }
        let h = idx[p - 1];
        let flags = a.flags[h];
        a.nsplit[h] as i64 >= self.p.card_headline_words
            && flags & F_BYLINE == 0
            && (flags & F_TERMINAL == 0 || ends_with(self.lines[h], '?') || flags & F_TRUNCATED != 0)
    }

    /// `_announced`: Positions (in `idx`) of the items of a list the text announces: the short lines
    /// after a sentence that ends in a colon ("The following reports are available:"), up
    /// to the next prose line. The text introduces its own lists this way; a menu, a share
    /// bar or a footer is never introduced by a sentence (a widget's label, "Share this:",
    /// "Related:", is shorter than `announce_words`). They cost nothing in the region and
    /// do not count in a gap between prose lines, however long the list.
    fn announced(&self, idx: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut p = 0;
        while p < idx.len() {
            let i = idx[p];
            p += 1;
            if !(ends_with(self.lines[i], ':') && self.a.nsplit[i] as i64 >= self.p.announce_words) {
                continue;
            }
            let mut q = p;
            while q < idx.len() && !self.good(idx[q]) && ((q - p) as i64) < self.p.announce_items {
                q += 1;
            }
            if q < idx.len() && self.good(idx[q]) {
                out.extend(p..q);
            }
            p = q;
        }
        out
    }

    /// `_card_scores`: Region scores with card lists costing what they weigh. A list of article cards
    /// below the text (related, more from the section, deals) is a run of short prose lines
    /// that would otherwise pull the main region down the page; each summary in a run of at
    /// least `min_cards` cards counts its words against the region, and its headline costs
    /// like furniture. Only on a page with a body (adjacent paragraphs outweighing two card
    /// summaries): a page that is itself a list of entries (a catalogue, a digest) has none,
    /// and its entries are its text.
    fn card_scores(&self, scores: &[f64], idx: &[usize]) -> Vec<f64> {
        let mut out = scores.to_vec();
        let prose: Vec<usize> = (0..idx.len()).filter(|&p| scores[p] > 0.0).collect();
        let mut cards = vec![false; idx.len()];
        let mut heads = vec![false; idx.len()];
        for &p in &prose {
            if self.is_card(p, scores, idx, self.p.card_words as f64) {
                cards[p] = true;
                heads[p - 1] = true;
            }
        }
        if longest_body(scores, |p| cards[p] || heads[p]) < (2 * self.p.card_words) as f64 {
            return out;
        }
        let mut run: Vec<usize> = Vec::new();
        let order = prose.iter().copied().filter(|&q| !heads[q]).map(Some).chain([None]);
        for p in order {
            if let Some(p) = p {
                if cards[p] {
                    run.push(p);
                    continue;
                }
                if self.lone_headline(p, scores) {
                    continue;
                }
            }
            if run.len() as i64 >= self.p.min_cards {
                for &q in &run {
                    out[q] = -scores[q];
                    out[q - 1] = -scores[q - 1].abs();
                }
            }
            run.clear();
        }
        out
    }

    /// `_lone_headline`: A short prose line between non-prose lines: a card's headline that happens to end
    /// like a sentence ("... What will it cost?"), which does not end a list of cards.
    fn lone_headline(&self, p: usize, scores: &[f64]) -> bool {
        scores[p] <= self.p.headline_words
            && (p == 0 || scores[p - 1] <= 0.0)
            && scores.get(p + 1).is_none_or(|&s| s <= 0.0)
    }

    /// `_trim_cards`: The region's prose lines without a list of article cards (see `_is_card`)
    /// at either end, such as a slider above the article. An article body has paragraphs
    /// next to each other, so a run of at least `min_cards` cards at an end of the region,
    /// with the body still beside it, is cut off.
    fn trim_cards(&self, good: Vec<usize>, scores: &[f64], idx: &[usize]) -> Vec<usize> {
        let mut pos = vec![0usize; self.lines.len()];
        for (p, &i) in idx.iter().enumerate() {
            pos[i] = p;
        }
        let prose: Vec<usize> = good.iter().copied().filter(|&i| scores[pos[i]] > 0.0).collect();
        let mut card = vec![false; self.lines.len()];
        let mut head = vec![false; self.lines.len()];
        for &i in &prose {
            if self.is_card(pos[i], scores, idx, f64::INFINITY) {
                card[i] = true;
                head[idx[pos[i] - 1]] = true;
            }
        }
        let body: Vec<usize> = prose.iter().copied().filter(|&i| !card[i] && !head[i]).collect();
        let (Some(&first), Some(&last)) = (body.first(), body.last()) else {
            return good;
        };
        let (mut lo, mut hi) = (first, last);
        if (prose.iter().filter(|&&i| i < lo).count() as i64) < self.p.min_cards {
            lo = good[0];
        }
        if (prose.iter().filter(|&&i| i > hi).count() as i64) < self.p.min_cards {
            hi = good[good.len() - 1];
        }
        good.into_iter().filter(|&i| lo <= i && i <= hi).collect()
    }

    /// `_wrapped_text`: The span (positions in `idx`) of the page's hard-wrapped text, when the region
    /// `lo..hi` missed it; else None.
    ///
    /// Hard line breaks at a fixed width inside a paragraph come from text written or filed
    /// as plain text: a wire story, a press release, an e-mail, a `<pre>` document. A
    /// site's own blocks (menus, an "about" blurb, an archive's notice, comments) are rendered
    /// from HTML, a block to a line, and are never wrapped so. When a page holds a run of
    /// wrapped prose of at least `card_words` words, and the region finder chose unwrapped
    /// prose elsewhere that outweighs it by less than `1 / wrapped_share` (a longer blurb
    /// above a short story, one long comment below it), the wrapped run is the document's
    /// text (issue 15). A run is wrapped paragraphs (`_Lines.wrapped`: at least two lines as
    /// long as a wrap, none over `wrap_max`) with at most `max_gap` other lines between
    /// them (a one-line paragraph, a subheading).
    fn wrapped_text(&self, idx: &[usize], scores: &[f64], lo: isize, hi: isize) -> Option<(isize, isize)> {
        let wrapped = &self.a.wrapped;
        let w = |p: usize| wrapped[idx[p]] && scores[p] > 0.0;
        if lo <= hi && (lo as usize..=hi as usize).any(w) {
            return None;
        }
        let mut best = (0.0f64, 0isize, -1isize);
        let (mut start, mut words, mut gap) = (-1isize, 0.0f64, 0i64);
        for (p, &sc) in scores.iter().enumerate() {
            if !w(p) {
                gap += 1;
                continue;
            }
            if start < 0 || gap > self.p.max_gap {
                start = p as isize;
                words = 0.0;
            }
            words += sc;
            gap = 0;
            if words > best.0 {
                best = (words, start, p as isize);
            }
        }
        let (words, first, last) = best;
        let chosen = sum_pos(span(scores, lo, hi));
        if words < self.p.card_words as f64 || words < self.p.wrapped_share * chosen {
            return None;
        }
        Some((first, last))
    }

    /// `_rival_region`: Lines of a second region that is more likely the page's text than the chosen one
    /// (`lo`..`hi`, positions in `idx`), kept with it. The region finder picks the
    /// heaviest run of prose; when that run is short (under `rival_words`: a sidebar's
    /// answer, a footer notice, one post) and another run outside it weighs at least
    /// `rival_share` as much, the weights do not say which is the text, and the page's
    /// title does: a page's first line is its title, whose words the text repeats (a
    /// thread's question, a directory's subject), while a sidebar or a footer is about
    /// something else. The rival is kept when its prose holds more of the title's words than
    /// the chosen region's, and at least two (issue 15: a close call must not drop the text).
    fn rival_region(&self, idx: &[usize], scores: &[f64], lo: isize, hi: isize) -> Vec<usize> {
        let pr = self.pr;
        let best = sum(span(scores, lo, hi));
        if !(0.0 < best && best < self.p.rival_words) || idx.is_empty() {
            return Vec::new();
        }
        let parts = title_parts(pr, self.lines[idx[0]]);
        let mut head: &[u32] = &[];
        let mut most = None;
        for part in parts {
            let n = pr.split_count(part);
            if most.is_none_or(|m| n > m) {
                most = Some(n);
                head = part;
            }
        }
        let title: FxSet<Vec<u32>> = pr
            .word_spans(head)
            .into_iter()
            .map(|(x, y)| &head[x..y])
            .filter(|w| w.len() > 3 && !w.iter().all(|&ch| pr.is(ch, DIGIT)))
            .map(|w| pr.lower(w))
            .collect();
        if title.is_empty() {
            return Vec::new();
        }
        // how many of the title's words the prose of `a..=b` holds (each word lowered into one
        // buffer and looked up: the set of the title's words found, not of all words seen)
        let hits = |a: isize, b: isize| -> usize {
            let mut found: FxSet<&[u32]> = FxSet::default();
            let mut low = Vec::new();
            for p in a.max(0)..=b {
                let p = p as usize;
                if p > 0 && scores[p] > 0.0 {
                    let ln = &self.lines[idx[p]];
                    for (x, y) in pr.word_spans(ln) {
                        low.clear();
                        pr.lower_into(&ln[x..y], &mut low);
                        if let Some(w) = title.get(low.as_slice()) {
                            found.insert(w.as_slice());
                        }
                    }
                }
            }
            found.len()
        };
        let mut out = Vec::new();
        for (a, b) in [(0isize, lo), (hi + 1, scores.len() as isize)] {
            if b <= a {
                continue;
            }
            let (rlo, rhi) = main_region(&scores[a as usize..b as usize]);
            let (rlo, rhi) = (a + rlo, a + rhi);
            let named = if rhi >= rlo { hits(rlo, rhi) } else { 0 };
            if sum(span(scores, rlo, rhi)) >= self.p.rival_share * best && named >= 2 && named > hits(lo, hi) {
                out.extend_from_slice(span(idx, rlo, rhi));
            }
        }
        out
    }

    /// `_record_gap`: How far apart two fields of one block of records may be: `record_gap` lines, or
    /// `record_stretch` times the field's usual (median) spacing when that is more. Records
    /// differ in length (one entry of a directory has a description and its opening hours,
    /// the others an address), and one long record must not split the block in two halves,
    /// each too small to stand against the region finder's choice.
    fn record_gap(&self, at: &[usize]) -> i64 {
        let mut spacing: Vec<i64> = at.windows(2).map(|w| w[1] as i64 - w[0] as i64).collect();
        if spacing.is_empty() {
            return self.p.record_gap;
        }
        spacing.sort_unstable();
        self.p
            .record_gap
            .max(self.p.record_stretch * spacing[spacing.len() / 2])
    }

    /// `_keep_records`: Keep the page's block of records when the region finder would drop it. The finder
    /// looks for prose; a page whose text is a set of records (a table of contents, a
    /// directory, an archive table, a forum thread, a results list) has little, so the
    /// region lands on a stray sentence (a footer notice, one entry's description, one
    /// post) and the page's other records go as "furniture" (issue 15: when the classifier
    /// would take the page's main block, it must keep it).
    ///
    /// Records show themselves by a field that recurs: every entry of a directory has its
    /// "Telephone:" line, every row of an archive its "by date" cells, every post of a
    /// forum its "Quote" and "Posts:" lines, every chapter of a table of contents its
    /// "recommendation" line. A menu names each page once (a header and a footer menu
    /// twice; a mega menu closes each section of many links with the same "More"), so a
    /// short line or a field label ("Label: ...") recurring at least `record_repeats`
    /// times, no more than `record_gap` lines apart and every `record_lines` lines on
    /// average, marks a block of records. The block runs from the first to the last field
    /// of its records (the clusters of other fields that overlap it), and starts a record's
    /// title above the first field (a name, a heading, a poster's header comes first).
    ///
    /// The largest block stays, when it holds at least `block_share` of the page and the
    /// region finder's choice is a sign it went wrong: what it kept lies inside the block
    /// (it picked one record of many), or it kept under `sparse_share` of the page and the
    /// block outweighs that `block_ratio` times (removing nearly all of a page is the
    /// signature of a wrong decision; a list of cards with their authors' names below a
    /// short article does not outweigh it so). The menus and footers around it stay
    /// removed. Pages under `sparse_words` words are left alone.
    ///
    /// A thread of a few posts is too short for `record_repeats`, but each post's header
    /// repeats the same fields in the same order ("Joined:", "Posts:", "Posted on:"): at
    /// least `record_fields` field lines in step (one of each per post; see
    /// `_in_step`), `record_entries` times, one of them with values that differ
    /// from post to post (a menu printed three times repeats its lines word for word),
    /// mark a thread. Its header fields may read as prose, so all lines count here. It
    /// stays when the region kept under `sparse_share` of the page, all of it in the
    /// thread: the finder kept one post and dropped the others. Three, not two: a header
    /// menu and a footer menu repeat a site's links twice.
    fn keep_records(&self, drop: &mut [bool]) {
        let (a, lines) = (self.a, self.lines);
        let filled: Vec<usize> = (0..lines.len()).filter(|&i| a.classes[i] != BLANK).collect();
        let size = &a.split_words;
        let total = filled.iter().fold(0.0, |s, &i| s + size[i]);
        let kept = filled.iter().filter(|&&i| !drop[i]).fold(0.0, |s, &i| s + size[i]);
        if total < self.p.sparse_words as f64 {
            return;
        }
        // field key -> positions, in the order the keys first occur (a dict's order)
        let nkeys = a.keys.iter().copied().max().unwrap_or(0) as usize + 1;
        let fields = |all: bool| {
            Groups::new(
                filled
                    .iter()
                    .enumerate()
                    .filter(|&(_, &i)| a.keys[i] != 0 && (all || a.classes[i] != GOOD))
                    .map(|(p, &i)| (a.keys[i], p)),
                nkeys,
            )
        };
        let (where_, steps) = (fields(false), fields(true));
        let pp = self.p;
        let mut blocks: Vec<Vec<usize>> = Vec::new();
        for &key in &where_.order {
            let every = where_.of(key);
            if (every.len() as i64) < pp.record_repeats {
                continue;
            }
            for at in clusters(every, self.record_gap(every)) {
                let n = at.len() as i64;
                if n >= pp.record_repeats && ((at[at.len() - 1] - at[0]) as i64) < pp.record_lines * (n - 1) {
                    blocks.push(at);
                }
            }
        }
        let mut runs: Vec<Vec<usize>> = Vec::new();
        for &key in &steps.order {
            let every = steps.of(key);
            if (every.len() as i64) < pp.record_entries {
                continue;
            }
            for at in clusters(every, self.record_gap(every)) {
                if at.len() as i64 >= pp.record_entries {
                    runs.push(at);
                }
            }
        }
        let mut stepped: Vec<Vec<usize>> = Vec::new();
        for at in &runs {
            let step: Vec<&Vec<usize>> = runs.iter().filter(|o| in_step(at, o)).collect();
            let valued = step.iter().any(|o| {
                let first = &lines[filled[o[0]]];
                o.iter().any(|&p| &lines[filled[p]] != first)
            });
            if step.len() as i64 >= pp.record_fields && valued {
                stepped.push(at.clone());
            }
        }
        let chosen: Vec<usize> = (0..filled.len()).filter(|&p| !drop[filled[p]]).collect();
        let within = |lo: isize, hi: isize| {
            chosen.first().is_some_and(|&f| lo <= f as isize) && chosen.last().is_some_and(|&l| l as isize <= hi)
        };
        let keep = |drop: &mut [bool], lo: isize, hi: isize| {
            for &i in span(&filled, lo, hi) {
                drop[i] = false;
            }
        };
        let others: Vec<&Vec<usize>> = blocks.iter().collect();
        let (words, lo, hi, _) = largest_block(&blocks, &others, &filled, size, None);
        let inside = within(lo, hi);
        let sparse = kept < pp.sparse_share * total;
        if (inside || (sparse && words >= pp.block_ratio * kept)) && words >= pp.block_share * total {
            keep(drop, lo, hi);
            return;
        }
        let others: Vec<&Vec<usize>> = blocks.iter().chain(&stepped).collect();
        let (_, lo, hi, length) = largest_block(&stepped, &others, &filled, size, Some(pp.post_title));
        if sparse && within(lo, hi + length as isize) {
            keep(drop, lo, hi);
        }
    }
}

/// Positions grouped by a dense key (`0..nkeys`), without a vector a key: the keys in the
/// order they first occur (a dict's insertion order), and each key's positions in order.
struct Groups {
    order: Vec<u32>,
    pos: Vec<usize>,
    /// each key's positions are `pos[start[key]..start[key + 1]]`
    start: Vec<usize>,
}

impl Groups {
    fn new(items: impl Iterator<Item = (u32, usize)>, nkeys: usize) -> Self {
        let items: Vec<(u32, usize)> = items.collect();
        let mut start = vec![0usize; nkeys + 1];
        let mut order = Vec::new();
        for &(k, _) in &items {
            if start[k as usize + 1] == 0 {
                order.push(k);
            }
            start[k as usize + 1] += 1;
        }
        for k in 0..nkeys {
            start[k + 1] += start[k];
        }
        let mut fill = start.clone();
        let mut pos = vec![0usize; items.len()];
        for &(k, p) in &items {
            pos[fill[k as usize]] = p;
            fill[k as usize] += 1;
        }
        Groups { order, pos, start }
    }

    fn of(&self, key: u32) -> &[usize] {
        &self.pos[self.start[key as usize]..self.start[key as usize + 1]]
    }
}

/// `_largest_block`: The block of records (see `_keep_records`) holding the most words, as its
/// words, first and last positions in `filled` and its records' usual length in lines;
/// `(0, 0, -1, 0)` when there is none. A block runs over the fields of its records in
/// `others` (the clusters that overlap it); its first record starts `title` lines
/// above its first field when given, else as many as a record has lines besides its fields.
fn largest_block(
    blocks: &[Vec<usize>],
    others: &[&Vec<usize>],
    filled: &[usize],
    size: &[f64],
    title: Option<i64>,
) -> (f64, isize, isize, i64) {
    let mut best = (0.0f64, 0isize, -1isize, 0i64);
    for at in blocks {
        let (Some(&a0), Some(&a1)) = (at.first(), at.last()) else {
            continue;
        };
        let fields: Vec<&&Vec<usize>> = others
            .iter()
            .filter(|c| c.first().is_some_and(|&c0| c0 <= a1) && c.last().is_some_and(|&c1| a0 <= c1))
            .collect();
        let first = fields.iter().filter_map(|c| c.first()).min().copied().unwrap_or(a0) as i64;
        let last = fields.iter().filter_map(|c| c.last()).max().copied().unwrap_or(a1);
        let length = (a1 - a0) as f64 / (at.len() as f64 - 1.0);
        let per_record = fields.iter().map(|c| c.len()).sum::<usize>() as f64 / at.len() as f64;
        let lead = match title {
            None => round_half_even(length - per_record).max(0),
            Some(t) => t,
        };
        let first = (first - lead).max(0) as isize;
        let words = span(filled, first, last as isize).iter().fold(0.0, |s, &i| s + size[i]);
        if words > best.0 {
            best = (words, first, last as isize, round_half_even(length));
        }
    }
    best
}

/// `main_block`: (first line, last line, prose words) of the longest run of prose.
pub fn main_block(c: &Classifier, lines: &[Vec<u32>]) -> Option<(usize, usize, u64)> {
    main_block_of(c, &lines.iter().map(Vec::as_slice).collect::<Vec<_>>())
}

/// [`main_block`] of lines given as slices (of one buffer, as the Python face reads them).
pub fn main_block_of(c: &Classifier, lines: &[&[u32]]) -> Option<(usize, usize, u64)> {
    let (classes, bylines, ntok) = c.prose_lines(lines);
    let mut best: Option<(usize, usize, u64)> = None;
    let mut start: Option<usize> = None;
    let (mut words, mut gap) = (0u64, 0u32);
    for (i, &cls) in classes.iter().enumerate() {
        if cls == BLANK {
            continue;
        }
        let dated = bylines[i];
        if cls != GOOD || dated {
            gap += if dated { 2 } else { 1 };
            continue;
        }
        if start.is_none() || gap > 1 {
            start = Some(i);
            words = 0;
        }
        gap = 0;
        words += ntok[i] as u64;
        if best.is_none_or(|b| words > b.2) {
            best = Some((start.unwrap_or(i), i, words));
        }
    }
    best
}

/// `furniture`: True for each line that is page furniture rather than the text.
pub fn furniture(c: &Classifier, rp: &RegionParams, lines: &[&[u32]]) -> Vec<bool> {
    let a = c.analyse(lines);
    let n = lines.len();
    let classes = &a.classes;
    let idx: Vec<usize> = (0..n).filter(|&i| classes[i] != BLANK).collect();
    if !idx.iter().any(|&i| classes[i] == GOOD) {
        return vec![false; n]; // nothing reads as prose: not our call, keep it all
    }
    let pg = Page {
        pr: &c.props,
        p: rp,
        lines,
        a: &a,
    };
    let mut scores = pg.scores(&idx);
    let listed = pg.announced(&idx);
    let mut listed_line = vec![false; n];
    for &p in &listed {
        scores[p] = 0.0;
        listed_line[idx[p]] = true;
    }
    let mut stop = pg.comments_start(&idx).min(pg.footer_start(&idx));
    let card_scores = pg.card_scores(&scores, &idx);
    let (mut lo, mut hi) = main_region(&card_scores[..stop]);
    let thread = pg.thread_start(&idx, &scores);
    if region_in_thread(&card_scores, lo, hi, thread) {
        stop = thread;
        (lo, hi) = main_region(&card_scores[..stop]);
    }
    let region_scores = &card_scores[..stop];
    let mut gap = rp.max_gap;
    let prose = sum_pos(region_scores);
    let bodyless = longest_body(&scores, |_| false) < (2 * rp.card_words) as f64;
    let text = pg.wrapped_text(&idx, region_scores, lo, hi);
    let record;
    let mut chosen: &[f64] = region_scores;
    if let Some((first, last)) = text {
        (lo, hi) = (first, last); // the page's hard-wrapped text, which the region missed
    } else if bodyless || sum_pos(span(region_scores, lo, hi)) < rp.entries_share * prose {
        gap = rp.record_gap;
        let fields: Vec<bool> = idx[..region_scores.len()]
            .iter()
            .map(|&i| bodyless || classes[i] != GOOD)
            .collect();
        record = record_scores(region_scores, &fields, gap);
        chosen = &record;
        (lo, hi) = main_region(chosen);
    }
    let mut region: Vec<usize> = span(&idx, lo, hi).to_vec();
    region.extend(pg.rival_region(&idx, chosen, lo, hi));
    region.sort_unstable();
    let good: Vec<usize> = region.into_iter().filter(|&i| classes[i] == GOOD).collect();
    let good = pg.trim_cards(good, &scores, &idx);
    let mut drop: Vec<bool> = classes.iter().map(|&c| c != BLANK).collect();
    let (Some(&first), Some(_)) = (good.first(), good.last()) else {
        return vec![false; n]; // all prose reads as teasers: no article to cut around
    };
    for &i in &good {
        drop[i] = false;
    }
    for w in good.windows(2) {
        let between = || (w[0] + 1..w[1]).filter(|&k| classes[k] != BLANK);
        if between().filter(|&k| !listed_line[k]).count() as i64 <= gap {
            for k in between() {
                drop[k] = false;
            }
        }
    }
    let above = (0..first)
        .rev()
        .filter(|&k| classes[k] != BLANK)
        .take(rp.title_lines as usize);
    for (m, k) in above.enumerate() {
        if a.nsplit[k] > 30 || ends_with(lines[k], ':') || (m > 0 && classes[k] == SHORT) {
            break;
        }
        drop[k] = false;
    }
    pg.drop_second_copy(&mut drop);
    pg.keep_records(&mut drop);
    drop
}

/// `_region_in_thread`: Whether the region `lo..hi` (positions of scored lines) chose the entries of the
/// thread that starts at `thread` (see `_thread_start`) instead of the body above
/// it: the region starts below the body (the longest run of adjacent prose above the
/// thread), and its prose words at or below the thread's start outweigh those above it.
/// Such a region may start a little above the first entry, at the thread's own prose (a
/// note on moderation, a request to use the forum). A region that holds the body as
/// well (the article with its comments, a blog's page of posts) is left alone.
fn region_in_thread(scores: &[f64], lo: isize, hi: isize, thread: usize) -> bool {
    if thread as isize > hi {
        return false;
    }
    let (mut body_end, mut best, mut run) = (-1isize, 0.0f64, 0.0f64);
    for (p, &sc) in scores[..thread.min(scores.len())].iter().enumerate() {
        run = if sc > 0.0 { run + sc } else { 0.0 };
        if run > best {
            best = run;
            body_end = p as isize;
        }
    }
    let above = sum_pos(span(scores, lo, thread as isize - 1));
    let below = sum_pos(span(scores, lo.max(thread as isize), hi));
    lo > body_end && below > above
}

/// `_record_scores`: Region scores of a page of entries: a forum thread, a list of jobs or search
/// results, a table whose rows carry a sentence each. Each entry is prose (the post, the
/// summary) between short fields (a name, a date, a rank, "Reply", table cells), so the
/// region finder, which charges every short line, keeps one entry and drops the rest.
/// Here a run of at most `gap` field lines between two prose lines costs one furniture
/// line in all: the fields of an entry. A longer run (a menu) costs in full, and so
/// does a run with a line that reads as prose but scored as a link (a teaser, a card's
/// headline: a list of links is not a list of entries). `fields`: which lines are
/// short or non-prose lines by class.
fn record_scores(scores: &[f64], fields: &[bool], gap: i64) -> Vec<f64> {
    let mut out = scores.to_vec();
    let mut p = 0;
    while p < out.len() {
        if out[p] > 0.0 {
            p += 1;
            continue;
        }
        let mut q = p;
        while q < out.len() && out[q] <= 0.0 {
            q += 1;
        }
        if 0 < p && q < out.len() && (q - p) as i64 <= gap && fields[p..q].iter().all(|&f| f) {
            let cost = out[p..q]
                .iter()
                .copied()
                .fold(f64::INFINITY, |m, x| if x < m { x } else { m });
            for v in &mut out[p..q] {
                *v = cost / (q - p) as f64;
            }
        }
        p = q;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props() -> Props {
        Props::new(&[(0x4E00, 0x9FFF)]).unwrap()
    }

    fn cps(s: &str) -> Vec<u32> {
        s.chars().map(|c| c as u32).collect()
    }

    fn defaults() -> HashMap<String, f64> {
        RegionParams::NAMES.iter().map(|&k| (k.to_string(), 3.0)).collect()
    }

    #[test]
    fn kadane_keeps_the_first_best_run() {
        assert_eq!(main_region(&[]), (0, -1));
        assert_eq!(main_region(&[-6.0, -1.0]), (1, 1));
        assert_eq!(main_region(&[5.0, -6.0, 5.0]), (0, 0)); // a tie: the first
        assert_eq!(main_region(&[5.0, -1.0, 5.0, -20.0, 3.0]), (0, 2));
        assert_eq!(main_region(&[0.0, 2.0]), (1, 1)); // a run at zero restarts (run <= 0)
    }

    #[test]
    fn notices_as_re_ignorecase_finds_them() {
        let pr = props();
        let t = |s: &str| notice(&pr, &cps(s));
        assert!(t("© 2020 Example"));
        assert!(t("(C)  2019 Example"));
        assert!(!t("(c) 19 Example"));
        assert!(t("All Rights Reserved."));
        assert!(t("COPYRİGHT 2020")); // dotted capital I is an i to re.I
        assert!(t("Trademarks of Example"));
        assert!(t("a trademark"));
        assert!(!t("trademarked"));
        assert!(!t("copyrighted"));
        assert!(!t("_copyright"));
        assert!(t("Disclaimer: none"));
        assert!(t("diſclaimer")); // long s
    }

    #[test]
    fn data_fields_match_the_pattern() {
        let pr = props();
        let t = |s: &str| data_field(&pr, &cps(s));
        assert!(t(" https://example.com/a "));
        assert!(t("http://x"));
        assert!(!t("https://"));
        assert!(!t("https://a b"));
        assert!(t("640"));
        assert!(t("٣٤")); // a decimal digit of another script
        assert!(!t("²")); // a digit, not a decimal
        assert!(t("2019-05-12"));
        assert!(t("2019-05-12T14:00:00Z"));
        assert!(t("2019-05-12 14:00"));
        assert!(!t("2019-05-12 14"));
        assert!(!t("2019-05-12x"));
        assert!(!t(""));
    }

    #[test]
    fn title_parts_split_like_re_split() {
        let pr = props();
        let s = cps("Headline words | Section :: Site - x");
        let parts: Vec<String> = title_parts(&pr, &s)
            .iter()
            .map(|p| p.iter().filter_map(|&c| char::from_u32(c)).collect())
            .collect();
        assert_eq!(parts, ["Headline words", "Section", "Site", "x"]);
        assert_eq!(title_parts(&pr, &cps("a-b")).len(), 1);
    }

    #[test]
    fn clusters_and_steps() {
        assert_eq!(
            clusters(&[1, 2, 10, 11, 40], 5),
            vec![vec![1, 2], vec![10, 11], vec![40]]
        );
        assert!(in_step(&[1, 5, 9], &[2, 6, 10]));
        assert!(in_step(&[2, 6, 10], &[1, 5, 9]));
        assert!(in_step(&[1, 5, 9], &[1, 5, 9]));
        assert!(!in_step(&[1, 5, 9], &[2, 3, 10]));
        assert!(!in_step(&[1, 5], &[2, 6, 10]));
    }

    #[test]
    fn round_is_half_to_even() {
        assert_eq!(round_half_even(0.5), 0);
        assert_eq!(round_half_even(1.5), 2);
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(-0.5), 0);
        assert_eq!(round_half_even(2.6), 3);
    }

    #[test]
    fn records_cost_one_line_a_gap() {
        let s = [10.0, -6.0, -6.0, 10.0, -6.0];
        assert_eq!(record_scores(&s, &[true; 5], 2), vec![10.0, -3.0, -3.0, 10.0, -6.0]);
        assert_eq!(record_scores(&s, &[true; 5], 1), s.to_vec());
        assert_eq!(record_scores(&s, &[true, true, false, true, true], 2), s.to_vec());
    }

    #[test]
    fn region_in_thread_needs_the_body_above() {
        let s = [50.0, 60.0, -6.0, -6.0, 30.0, -6.0, 30.0, -6.0, 30.0, -6.0, 30.0];
        assert!(region_in_thread(&s, 4, 10, 4));
        assert!(!region_in_thread(&s, 0, 10, 4)); // the region holds the body too
        assert!(!region_in_thread(&s, 4, 10, 11)); // the thread starts below it
    }

    #[test]
    fn parameters_are_checked() {
        assert!(RegionParams::from_map(&defaults()).is_ok());
        let mut m = defaults();
        m.insert("record_repeats".into(), 1.0);
        assert!(RegionParams::from_map(&m).is_err());
        m.insert("record_repeats".into(), 2.5);
        assert!(RegionParams::from_map(&m).is_err());
        m.remove("record_repeats");
        assert!(RegionParams::from_map(&m).is_err());
    }
}

/// The Python face of the region finder: `cleaner._native.Region`.
pub mod py {
    use std::collections::HashMap;

    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;
    use pyo3::types::PyString;

    use super::RegionParams;
    use crate::furniture::py::{Flat, PyFurniture};

    /// A classifier (`cleaner._native.Furniture`) with the region finder's thresholds.
    #[pyclass(frozen, name = "Region", module = "cleaner._native")]
    pub struct PyRegion {
        pub(crate) furniture: Py<PyFurniture>,
        pub(crate) params: RegionParams,
    }

    #[pymethods]
    impl PyRegion {
        /// `furniture`: the page's classifier; `params`: the thresholds named by `param_names`.
        #[new]
        fn new(furniture: Py<PyFurniture>, params: HashMap<String, f64>) -> PyResult<Self> {
            let params = RegionParams::from_map(&params).map_err(PyValueError::new_err)?;
            Ok(PyRegion { furniture, params })
        }

        /// Parameter names the region finder reads.
        #[staticmethod]
        fn param_names() -> Vec<&'static str> {
            RegionParams::NAMES.to_vec()
        }

        /// `furniture(lines)` of collapsed lines: True for each line of furniture (a list,
        /// built here: what the Python function returns).
        fn furniture<'py>(&self, py: Python<'py>, lines: Vec<Bound<'py, PyString>>) -> PyResult<Vec<bool>> {
            let flat = Flat::read(&lines)?;
            let c = &self.furniture.get().0;
            let params = &self.params;
            crate::guarded(py, || super::furniture(c, params, &flat.lines()))
        }

        /// `main_block(lines)` of collapsed lines: (start, end, words), or None.
        fn main_block<'py>(
            &self,
            py: Python<'py>,
            lines: Vec<Bound<'py, PyString>>,
        ) -> PyResult<Option<(usize, usize, u64)>> {
            let flat = Flat::read(&lines)?;
            let c = &self.furniture.get().0;
            crate::guarded(py, || super::main_block_of(c, &flat.lines()))
        }
    }
}

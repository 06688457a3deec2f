//! Normalisation of decoded text: line endings, the ftfy gate, the character translation
//! and the whitespace canon (`cleaner.clean.normalise.normalise_text`), and `collapse`.
//!
//! ftfy itself stays in Python. What the core decides is which segments of a text ftfy could
//! change (ftfy fixes a text segment by segment: its lines, cut at `max_decode_length`
//! characters), so that Python calls it on those alone: a segment no fixer can act on comes
//! back unchanged, so the result is the one of calling ftfy always. A segment needs ftfy
//! when, mirroring ftfy's own early exits:
//!
//! * HTML unescaping is still on (ftfy turns it off for good at the first segment holding
//!   a `<`) and the segment has an entity (ftfy's `&#?[0-9A-Za-z]{1,24};`);
//! * it holds a character one of ftfy's character fixers acts on (C1 controls, ligatures,
//!   line separators, terminal escapes...: the set comes from ftfy's tables, see [`Gate`]);
//! * it is not ASCII and either not NFC (CPython's quick check; `Maybe` counts as not, which
//!   only costs an ftfy call) or ftfy's mojibake pattern matches (`ftfy.badness.is_bad`),
//!   run here as a bit-parallel automaton ([`Badness`]) compiled from the pattern's parse
//!   tree by the Python side, so it is the installed ftfy's pattern, not a copy.
//!
//! The rounds of `normalise_text` (fix, NFC, translate, until the translation changes
//! nothing, at most three) run here as long as no segment needs ftfy; when one does, the
//! core hands the text back ([`Step::Fix`]) and resumes with the fixed text.

use std::borrow::Cow;

use crate::unicode::{self, Props, Quick};

/// Bit-parallel state sets of the mojibake automaton (up to 256 states).
const WORDS: usize = 4;
type Mask = [u64; WORDS];
const ZERO: Mask = [0; WORDS];

/// Character categories a class may hold (Python `re`'s, on `str` patterns).
pub const CAT_WORD: u8 = 1;
pub const CAT_NOT_WORD: u8 = 2;
pub const CAT_SPACE: u8 = 4;
pub const CAT_NOT_SPACE: u8 = 8;
pub const CAT_DIGIT: u8 = 16;
pub const CAT_NOT_DIGIT: u8 = 32;

/// One character of a pattern: in `ranges` (inclusive) or one of `cats`, negated or not.
#[derive(Clone, Debug)]
pub struct CharClass {
    pub negate: bool,
    pub ranges: Vec<(u32, u32)>,
    pub cats: u8,
}

/// One alternative of the pattern: a fixed sequence of characters, anchored at the start
/// of the searched text (`^` without MULTILINE) or not.
#[derive(Clone, Debug)]
pub struct Alternative {
    pub anchored: bool,
    pub classes: Vec<CharClass>,
}

fn set(m: &mut Mask, bit: usize) {
    m[bit / 64] |= 1 << (bit % 64);
}

fn or(a: Mask, b: Mask) -> Mask {
    std::array::from_fn(|i| a[i] | b[i])
}

fn any(a: Mask, b: Mask) -> bool {
    a.iter().zip(&b).any(|(x, y)| x & y != 0)
}

/// ftfy's mojibake pattern as a Shift-And automaton: state `j` of an alternative is "its
/// first `j + 1` characters end here"; a character's mask says which states it can extend.
pub struct Badness {
    ascii: Vec<Mask>,
    /// Sorted interval starts, each with the states whose ranges hold the interval (before
    /// categories and negation).
    intervals: Vec<(u32, Mask)>,
    cat_masks: [(u8, Mask); 6],
    negate: Mask,
    starts: Mask,
    anchored_starts: Mask,
    finals: Mask,
}

/// The `re` categories (`CAT_*` bits) a code point is in: `\w` is `isalnum()` or `_`, `\s`
/// `isspace()`, `\d` `isdecimal()` (Python's definitions for `str` patterns).
#[inline]
fn categories(p: &Props, c: u32) -> u8 {
    let f = p.flags(c);
    let pick = |yes: bool, y: u8, n: u8| if yes { y } else { n };
    pick(c == 0x5F || f & unicode::ALNUM != 0, CAT_WORD, CAT_NOT_WORD)
        | pick(f & unicode::SPACE != 0, CAT_SPACE, CAT_NOT_SPACE)
        | pick(f & unicode::DECIMAL != 0, CAT_DIGIT, CAT_NOT_DIGIT)
}

impl Badness {
    pub fn new(alternatives: &[Alternative]) -> Result<Self, String> {
        let states: usize = alternatives.iter().map(|a| a.classes.len()).sum();
        if states > WORDS * 64 {
            return Err(format!(
                "mojibake pattern has {states} states, more than {}",
                WORDS * 64
            ));
        }
        if alternatives.iter().any(|a| a.classes.is_empty()) {
            return Err("mojibake pattern has an empty alternative".into());
        }
        let (mut starts, mut anchored_starts, mut finals, mut negate) = (ZERO, ZERO, ZERO, ZERO);
        let mut cat_masks = [
            CAT_WORD,
            CAT_NOT_WORD,
            CAT_SPACE,
            CAT_NOT_SPACE,
            CAT_DIGIT,
            CAT_NOT_DIGIT,
        ]
        .map(|c| (c, ZERO));
        let mut bounds = Vec::new();
        let mut classes = Vec::with_capacity(states);
        for alt in alternatives {
            let first = classes.len();
            set(
                if alt.anchored {
                    &mut anchored_starts
                } else {
                    &mut starts
                },
                first,
            );
            for class in &alt.classes {
                let bit = classes.len();
                if class.negate {
                    set(&mut negate, bit);
                }
                for (cat, mask) in cat_masks.iter_mut() {
                    if class.cats & *cat != 0 {
                        set(mask, bit);
                    }
                }
                for &(lo, hi) in &class.ranges {
                    if lo > hi || hi >= 0x11_0000 {
                        return Err(format!("bad range {lo:#x}-{hi:#x} in the mojibake pattern"));
                    }
                    bounds.push(lo);
                    bounds.push(hi + 1);
                }
                classes.push(class);
            }
            set(&mut finals, classes.len() - 1);
        }
        bounds.sort_unstable();
        bounds.dedup();
        let in_ranges = |c: u32| {
            let mut m = ZERO;
            for (bit, class) in classes.iter().enumerate() {
                if class.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) {
                    set(&mut m, bit);
                }
            }
            m
        };
        let intervals = bounds.iter().map(|&b| (b, in_ranges(b))).collect();
        let mut me = Badness {
            ascii: Vec::new(),
            intervals,
            cat_masks,
            negate,
            starts,
            anchored_starts,
            finals,
        };
        me.ascii = (0..128).map(|c| me.mask_slow(unicode::props(), c)).collect();
        Ok(me)
    }

    fn mask_slow(&self, p: &Props, c: u32) -> Mask {
        let i = self.intervals.partition_point(|&(s, _)| s <= c);
        let mut m = if i == 0 { ZERO } else { self.intervals[i - 1].1 };
        let cats = categories(p, c);
        for &(cat, mask) in &self.cat_masks {
            if cats & cat != 0 {
                m = or(m, mask);
            }
        }
        std::array::from_fn(|k| m[k] ^ self.negate[k])
    }

    #[inline]
    fn mask(&self, p: &Props, c: char) -> Mask {
        match self.ascii.get(c as usize) {
            Some(&m) => m,
            None => self.mask_slow(p, c as u32),
        }
    }

    /// Whether the pattern matches anywhere in `text` (Python's `BADNESS_RE.search(text)`).
    pub fn search(&self, text: &str) -> bool {
        let p = unicode::props();
        let mut d = ZERO;
        let mut start = or(self.starts, self.anchored_starts);
        for c in text.chars() {
            // shift every state one character on, then start every alternative afresh
            let mut carry = 0u64;
            for w in d.iter_mut() {
                let next = *w >> 63;
                *w = (*w << 1) | carry;
                carry = next;
            }
            let m = self.mask(p, c);
            d = std::array::from_fn(|k| ((d[k] & !(self.starts[k] | self.anchored_starts[k])) | start[k]) & m[k]);
            if any(d, self.finals) {
                return true;
            }
            start = self.starts;
        }
        false
    }
}

/// What the gate needs to know of ftfy.
pub struct Gate {
    /// Characters one of ftfy's character fixers acts on, as sorted inclusive ranges.
    ftfy_chars: Vec<(u32, u32)>,
    ftfy_ascii: [bool; 128],
    /// ftfy's entity pattern is the one the core checks (`&#?[0-9A-Za-z]{1,24};`); else
    /// every `&` may start one.
    exact_entities: bool,
    /// None: the installed ftfy's mojibake pattern could not be compiled; every non-ASCII
    /// segment then goes to ftfy.
    badness: Option<Badness>,
    /// ftfy's `max_decode_length`, in characters.
    limit: usize,
}

/// A run of `normalise_text`: done, or waiting for ftfy to fix `spans` of a text.
pub enum Step<'a> {
    Done(String),
    Fix {
        /// The text to fix (`Borrowed`: the one the caller gave).
        text: Cow<'a, str>,
        /// `(start, end, html)` in characters: the segments to give ftfy, with whether
        /// HTML unescaping is on for each.
        spans: Vec<(usize, usize, bool)>,
        round: u8,
    },
}

const ROUNDS: u8 = 3;

/// What the translation does with a character (`normalise._TRANSLATE`).
enum Tr {
    Keep,
    Drop,
    Space,
    Newline,
}

#[inline]
fn translation(c: char) -> Tr {
    match c as u32 {
        0x0B | 0x0C | 0x09 => Tr::Space,
        0x00..=0x08 | 0x0E..=0x1F | 0x7F => Tr::Drop,
        0x0A | 0x0D | 0x20..=0x7E => Tr::Keep,
        0x85 | 0x2028 | 0x2029 => Tr::Newline,
        0x80..=0x9F | 0x200B | 0x200C | 0x200D | 0x2060 | 0xFEFF | 0x00AD => Tr::Drop,
        0x00A0 | 0x1680 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000 => Tr::Space,
        _ => Tr::Keep,
    }
}

/// The translation: exotic spaces to spaces, line and paragraph separators to newlines,
/// controls, zero-width characters, the BOM and the soft hyphen deleted.
pub fn translate(text: &str) -> Cow<'_, str> {
    let first = text.char_indices().find(|&(_, c)| !matches!(translation(c), Tr::Keep));
    let Some((at, _)) = first else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..at]);
    for c in text[at..].chars() {
        match translation(c) {
            Tr::Keep => out.push(c),
            Tr::Drop => {}
            Tr::Space => out.push(' '),
            Tr::Newline => out.push('\n'),
        }
    }
    Cow::Owned(out)
}

/// The whitespace canon: runs of spaces become one, spaces next to a newline go, runs of
/// three or more newlines become two, and the text is stripped of spaces and newlines (what
/// the regular expressions of `normalise_text` did in turn).
pub fn canon(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find([' ', '\n']) {
        out.push_str(&rest[..at]);
        let run = &rest[at..];
        let len = run.find(|c| c != ' ' && c != '\n').unwrap_or(run.len());
        let newlines = run[..len].bytes().filter(|&b| b == b'\n').count();
        match newlines {
            0 => out.push(' '),
            n => out.extend(std::iter::repeat_n('\n', n.min(2))),
        }
        rest = &run[len..];
    }
    out.push_str(rest);
    let trimmed = out.trim_matches([' ', '\n']);
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_string()
    }
}

/// The next code point of `b` at `i` and its length in bytes: UTF-8, or the three-byte
/// form of a lone surrogate (a Python `str` encoded with `surrogatepass`); a malformed byte
/// is one code point of its own that is no space.
#[inline]
fn next_cp(b: &[u8], i: usize) -> (u32, usize) {
    let b0 = b[i] as u32;
    let (len, init) = match b0 {
        0x00..=0x7F => return (b0, 1),
        0xC0..=0xDF => (2, b0 & 0x1F),
        0xE0..=0xEF => (3, b0 & 0x0F),
        0xF0..=0xF7 => (4, b0 & 0x07),
        _ => return (0xFFFD, 1),
    };
    match b.get(i + 1..i + len) {
        Some(cont) if cont.iter().all(|&x| x & 0xC0 == 0x80) => {
            (cont.iter().fold(init, |acc, &x| (acc << 6) | (x as u32 & 0x3F)), len)
        }
        _ => (0xFFFD, 1),
    }
}

/// `" ".join(line.split())`: runs of Python whitespace (`str.isspace`) become one space, and
/// the line is stripped. On UTF-8 bytes (lone surrogates in their `surrogatepass` form pass
/// through as they are); borrowed when the line is already collapsed.
pub fn collapse(line: &[u8]) -> Cow<'_, [u8]> {
    let p = unicode::props();
    // the words, as byte spans
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i < line.len() {
        let (space, len) = if line[i] < 0x80 {
            (matches!(line[i], b'\t'..=b'\r' | 0x1C..=b' '), 1)
        } else {
            let (cp, len) = next_cp(line, i);
            (p.flags(cp) & unicode::SPACE != 0, len)
        };
        match (space, start) {
            (false, None) => start = Some(i),
            (true, Some(a)) => {
                words.push((a, i));
                start = None;
            }
            _ => {}
        }
        i += len;
    }
    if let Some(a) = start {
        words.push((a, line.len()));
    }
    // already collapsed: the words fill the line, one plain space apart
    let tight = words.first().map_or(line.is_empty(), |w| w.0 == 0)
        && words.last().is_none_or(|w| w.1 == line.len())
        && words.windows(2).all(|w| w[1].0 == w[0].1 + 1 && line[w[0].1] == b' ');
    if tight {
        return Cow::Borrowed(line);
    }
    let mut out = Vec::with_capacity(line.len());
    for (k, &(a, b)) in words.iter().enumerate() {
        if k > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(&line[a..b]);
    }
    Cow::Owned(out)
}

/// [`collapse`] of a `str`.
pub fn collapse_str(line: &str) -> Cow<'_, str> {
    match collapse(line.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(line),
        // words cut at character boundaries, joined by spaces: still UTF-8
        Cow::Owned(o) => Cow::Owned(String::from_utf8(o).unwrap_or_default()),
    }
}

impl Gate {
    pub fn new(
        ftfy_chars: &[(u32, u32)],
        exact_entities: bool,
        badness: Option<Badness>,
        limit: usize,
    ) -> Result<Self, String> {
        if limit == 0 {
            return Err("max_decode_length must be positive".into());
        }
        let mut ranges = ftfy_chars.to_vec();
        ranges.sort_unstable();
        let mut ftfy_ascii = [false; 128];
        for &(lo, hi) in &ranges {
            if lo > hi {
                return Err(format!("bad range {lo:#x}-{hi:#x} of ftfy characters"));
            }
            for c in lo..=hi.min(127) {
                ftfy_ascii[c as usize] = true;
            }
        }
        Ok(Gate {
            ftfy_chars: ranges,
            ftfy_ascii,
            exact_entities,
            badness,
            limit,
        })
    }

    /// The mojibake automaton, when the installed ftfy's pattern compiled.
    pub fn badness(&self) -> Option<&Badness> {
        self.badness.as_ref()
    }

    #[inline]
    fn ftfy_char(&self, c: char) -> bool {
        let c = c as u32;
        if c < 128 {
            return self.ftfy_ascii[c as usize];
        }
        let i = self.ftfy_chars.partition_point(|&(lo, _)| lo <= c);
        i > 0 && self.ftfy_chars[i - 1].1 >= c
    }

    /// Whether ftfy's HTML entity pattern matches in `seg`.
    fn has_entity(&self, seg: &str) -> bool {
        let b = seg.as_bytes();
        b.iter().enumerate().filter(|&(_, &x)| x == b'&').any(|(i, _)| {
            if !self.exact_entities {
                return true;
            }
            let mut j = i + 1;
            if b.get(j) == Some(&b'#') {
                j += 1;
            }
            let run = b
                .get(j..)
                .unwrap_or(&[])
                .iter()
                .take_while(|x| x.is_ascii_alphanumeric())
                .count();
            (1..=24).contains(&run) && b.get(j + run) == Some(&b';')
        })
    }

    /// Whether ftfy could change this segment (see the module's note).
    fn needs(&self, seg: &str, html: bool) -> bool {
        if html && seg.contains('&') && self.has_entity(seg) {
            return true;
        }
        if seg.chars().any(|c| self.ftfy_char(c)) {
            return true;
        }
        if seg.is_ascii() {
            return false;
        }
        if unicode::props().nfc_quick_check(seg) != Quick::Yes {
            return true;
        }
        match &self.badness {
            Some(b) => b.search(seg),
            None => true,
        }
    }

    /// The segments ftfy works on, as byte spans, with whether HTML unescaping is on.
    fn segments<'t>(&self, text: &'t str) -> impl Iterator<Item = (usize, usize, bool)> + 't {
        let limit = self.limit;
        let mut pos = 0;
        let mut html = true;
        std::iter::from_fn(move || {
            if pos >= text.len() {
                return None;
            }
            let rest = &text[pos..];
            let mut end = rest.find('\n').map_or(rest.len(), |i| i + 1);
            if end > limit {
                // a line longer than `limit` bytes may be longer than `limit` characters
                if let Some((cut, _)) = rest[..end].char_indices().nth(limit) {
                    end = cut;
                }
            }
            let seg = &rest[..end];
            if html && seg.contains('<') {
                html = false;
            }
            let span = (pos, pos + end, html);
            pos += end;
            Some(span)
        })
    }

    /// The segments of `text` that ftfy could change, as `(start, end, html)` in characters.
    pub fn ftfy_spans(&self, text: &str) -> Vec<(usize, usize, bool)> {
        let spans = self
            .segments(text)
            .filter(|&(a, b, html)| self.needs(&text[a..b], html));
        // byte offsets to character offsets, in one pass
        let mut chars = 0;
        let mut at = 0;
        let mut to_chars = |b: usize| {
            chars += text[at..b].chars().count();
            at = b;
            chars
        };
        spans.map(|(a, b, html)| (to_chars(a), to_chars(b), html)).collect()
    }

    /// [`Gate::ftfy_spans`], or None when there are none and the text is NFC (the caller then
    /// has nothing to do in this round).
    fn plan(&self, text: &str) -> Option<Vec<(usize, usize, bool)>> {
        let spans = self.ftfy_spans(text);
        if spans.is_empty() && (text.is_ascii() || unicode::props().nfc_quick_check(text) == Quick::Yes) {
            return None;
        }
        Some(spans)
    }

    /// `normalise_text` from round `round` on, with `text` the text entering it.
    pub fn run<'a>(&self, mut text: Cow<'a, str>, round: u8) -> Step<'a> {
        for r in round..ROUNDS {
            if let Some(spans) = self.plan(&text) {
                return Step::Fix { text, spans, round: r };
            }
            // ftfy would change nothing and the text is NFC: `fixed` is `text`
            let translated = match translate(&text) {
                Cow::Borrowed(_) => break,
                Cow::Owned(t) => t,
            };
            text = Cow::Owned(translated);
        }
        Step::Done(canon(&text))
    }

    /// Goes on after the caller fixed the text of [`Step::Fix`] (ftfy, then NFC) in `round`:
    /// `prev` is the text before the fix (None: one the core cannot read, with lone
    /// surrogates, which no translation equals).
    pub fn resume(&self, prev: Option<&str>, fixed: &str, round: u8) -> Step<'static> {
        let translated = translate(fixed);
        let done = matches!(translated, Cow::Borrowed(_)) || prev == Some(&*translated);
        let text = Cow::Owned(translated.into_owned());
        if done || round + 1 >= ROUNDS {
            return Step::Done(canon(&text));
        }
        self.run(text, round + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(negate: bool, ranges: &[(u32, u32)], cats: u8) -> CharClass {
        CharClass {
            negate,
            ranges: ranges.to_vec(),
            cats,
        }
    }

    #[test]
    fn automaton_finds_sequences_and_honours_anchors() {
        let alts = [
            Alternative {
                anchored: false,
                classes: vec![class(false, &[(0xC3, 0xC3)], 0), class(false, &[(0xA9, 0xA9)], 0)],
            },
            Alternative {
                anchored: true,
                classes: vec![class(false, &[(0xC2, 0xC2)], 0), class(false, &[], CAT_SPACE)],
            },
            Alternative {
                anchored: false,
                classes: vec![class(false, &[(0x153, 0x153)], 0), class(true, &[(0x61, 0x7A)], 0)],
            },
        ];
        let b = Badness::new(&alts).unwrap();
        assert!(b.search("caf\u{C3}\u{A9}"));
        assert!(!b.search("caf\u{C3} \u{A9}"));
        assert!(b.search("\u{C2} x"));
        assert!(!b.search("x\u{C2} x"));
        assert!(b.search("c\u{153}ur\u{153}1"));
        assert!(!b.search("c\u{153}ur"));
    }

    #[test]
    fn canon_and_collapse() {
        assert_eq!(canon("  a  b \n  c\n\n\n\nd \n"), "a b\nc\n\nd");
        assert_eq!(canon(" \n "), "");
        assert_eq!(collapse_str(" a\t\u{3000}b  c "), "a b c");
        assert!(matches!(collapse_str("a b"), Cow::Borrowed(_)));
        assert_eq!(collapse_str("a\u{1c}b"), "a b");
        assert_eq!(collapse_str(""), "");
        assert_eq!(collapse_str(" \n"), "");
        // a lone surrogate (surrogatepass bytes) and a stray byte are no spaces
        assert_eq!(&*collapse(b" \xed\xa0\x80 \x80  x"), b"\xed\xa0\x80 \x80 x");
    }

    #[test]
    fn translation_maps_spaces_separators_and_debris() {
        assert_eq!(translate("a\u{A0}b\u{AD}c\u{2028}d\u{85}\x0b\x01"), "a bc\nd\n ");
        assert!(matches!(translate("plain\r\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn gate_plans_segments_in_characters() {
        let g = Gate::new(&[(0x80, 0x9F)], true, None, 4).unwrap();
        // "é" is not ASCII and there is no mojibake automaton: its segment goes to ftfy; the
        // line is cut after 4 characters, and "p;\n" has no entity
        match g.run(Cow::Borrowed("ab\né&amp;\nx"), 0) {
            Step::Fix { spans, round, .. } => {
                assert_eq!(round, 0);
                assert_eq!(spans, vec![(3, 7, true)]);
            }
            Step::Done(_) => panic!("é needs the mojibake check"),
        }
        // a long line is cut at the limit (in characters)
        assert_eq!(
            g.segments("abcdefghij").map(|s| s.1).collect::<Vec<_>>(),
            vec![4, 8, 10]
        );
        assert!(g.has_entity("x &amp; y") && !g.has_entity("R&D") && !g.has_entity("&;"));
        match g.run(Cow::Borrowed("  a\x0b b \n"), 0) {
            Step::Done(t) => assert_eq!(t, "a b"),
            Step::Fix { .. } => panic!("nothing for ftfy"),
        }
    }
}

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

use crate::unicode::{self, Props};

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
    /// The same for the BMP, one bit a code point (8 KiB): nearly every character of a text.
    ftfy_bmp: Vec<u64>,
    /// What the one pass of [`Gate::scan`] needs of each ASCII byte (`A_*` bits).
    ascii: [u8; 128],
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

/// What [`Gate::scan`] finds in a text.
pub struct Scan {
    /// `(start, end, html)` in characters: the segments ftfy could change.
    pub spans: Vec<(usize, usize, bool)>,
    /// The text is NFC by CPython's quick check (`Yes`, not `Maybe`).
    pub nfc: bool,
    /// The translation changes the text.
    pub translates: bool,
}

/// What [`Gate::scan`] needs of an ASCII byte: `<` (HTML unescaping ends), `&` (an entity may
/// start), a character an ftfy fixer acts on, one the translation changes.
const A_LT: u8 = 1;
const A_AMP: u8 = 2;
const A_FTFY: u8 = 4;
const A_TRANSLATE: u8 = 8;

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
///
/// On bytes (a space and a newline are single bytes, never part of another character's
/// UTF-8): the text is stripped first (a leading or trailing run only ever went with the
/// strip), then copied in stretches between the runs the canon changes. Only a run of two
/// bytes or more can change (a lone space or newline stays), so the copy looks for two run
/// bytes in a row ([`first_pair`], eight bytes a step), and a clean text has few.
pub fn canon(text: &str) -> String {
    let all = text.as_bytes();
    let start = all.iter().position(|&c| !run_byte(c)).unwrap_or(all.len());
    let end = all.iter().rposition(|&c| !run_byte(c)).map_or(start, |i| i + 1);
    let b = &all[start..end];
    let mut out = Vec::with_capacity(b.len());
    let (mut copied, mut pos) = (0, 0);
    while let Some(i) = first_pair(b, pos) {
        // the run starts at i: b[i - 1] is no run byte, or (i - 1, i) were the first pair
        let mut j = i;
        let mut newlines = 0;
        while j < b.len() && run_byte(b[j]) {
            newlines += (b[j] == b'\n') as usize;
            j += 1;
        }
        if &b[i..j] != b"\n\n" {
            out.extend_from_slice(&b[copied..i]);
            out.extend_from_slice(if newlines == 0 {
                b" "
            } else {
                &b"\n\n"[..newlines.min(2)]
            });
            copied = j;
        }
        pos = j;
    }
    out.extend_from_slice(&b[copied..]);
    // cut and joined only at ASCII bytes: still UTF-8
    String::from_utf8(out).unwrap_or_default()
}

/// A byte of the runs the canon rewrites: a space or a newline.
#[inline]
fn run_byte(c: u8) -> bool {
    c == b' ' || c == b'\n'
}

/// The first `i >= from` with `b[i]` and `b[i + 1]` both run bytes ([`run_byte`]), eight bytes
/// a step: the bytes of a word of 64 bits that are a space or a newline are marked without
/// a branch ([`zero_marks`]), and a pair is a mark whose next byte is marked too.
fn first_pair(b: &[u8], from: usize) -> Option<usize> {
    const SPACES: u64 = 0x2020_2020_2020_2020;
    const NEWLINES: u64 = 0x0A0A_0A0A_0A0A_0A0A;
    let mut i = from;
    while let (Some(word), Some(&after)) = (b.get(i..i + 8), b.get(i + 8)) {
        let mut v = [0u8; 8];
        v.copy_from_slice(word);
        let v = u64::from_le_bytes(v);
        let marks = zero_marks(v ^ SPACES) | zero_marks(v ^ NEWLINES);
        let next = (marks >> 8) | if run_byte(after) { 0x80 << 56 } else { 0 };
        let pairs = marks & next;
        if pairs != 0 {
            return Some(i + pairs.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    (i..b.len().saturating_sub(1)).find(|&k| run_byte(b[k]) && run_byte(b[k + 1]))
}

/// 0x80 in each byte of `x` that is zero, 0 in the others (exact: no carry crosses a byte,
/// as `(x & 0x7F) + 0x7F` of a byte is at most 0xFE).
#[inline]
fn zero_marks(x: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
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
    // most lines come collapsed already (the normaliser's canon leaves single spaces): told
    // in one pass, without building the list of words
    if is_collapsed(line) {
        return Cow::Borrowed(line);
    }
    let p = unicode::props();
    // the words, as byte spans
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i < line.len() {
        let (space, len) = if line[i] < 0x80 {
            (unicode::ascii_isspace(u32::from(line[i])), 1)
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
    let mut out = Vec::with_capacity(line.len());
    for (k, &(a, b)) in words.iter().enumerate() {
        if k > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(&line[a..b]);
    }
    Cow::Owned(out)
}

/// Whether [`collapse`] leaves `line` as it is: no whitespace (`str.isspace`) but single
/// plain spaces between words, none at either end (characters read as `collapse` reads them).
///
/// Most lines are told in one pass over their bytes without decoding a character (loops
/// without branches that the compiler vectorises; the character loop was 2.5% of pass 1):
/// an ASCII whitespace byte other than the space, two spaces in a row or a space at either
/// end settle it, and a line with none of those and no byte that can begin a non-ASCII
/// whitespace character ([`may_begin_space`]) is collapsed. Only a line with such a byte
/// (a curly quote or a dash starts with one) is read character by character.
pub fn is_collapsed(line: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (line.first(), line.last()) else {
        return true;
    };
    if first == b' ' || last == b' ' {
        return false;
    }
    let other_space = line.iter().fold(false, |acc, &b| {
        acc | (b != b' ' && unicode::ascii_isspace(u32::from(b)))
    });
    let doubled = line
        .iter()
        .zip(&line[1..])
        .fold(false, |acc, (&a, &b)| acc | ((a == b' ') & (b == b' ')));
    if other_space || doubled {
        return false;
    }
    if !line.iter().fold(false, |acc, &b| acc | may_begin_space(b)) {
        return true;
    }
    is_collapsed_chars(line)
}

/// Whether `b` can be the first byte of a character that [`next_cp`] reads as a non-ASCII
/// `str.isspace` character: U+0085 and U+00A0 begin with 0xC2, U+1680 with 0xE1,
/// U+2000-U+205F with 0xE2, U+3000 with 0xE3; and [`next_cp`] also decodes the overlong
/// forms a malformed line may hold (0xC0/0xC1 for an ASCII space, 0xE0 and 0xF0 for any of
/// these), so those bytes count too. No other byte begins one: a 0xF1-0xF7 sequence is
/// above U+3FFFF, and 0xC3-0xDF, 0xE4-0xEF sequences are between the spaces' ranges.
#[inline]
fn may_begin_space(b: u8) -> bool {
    matches!(b, 0xC0 | 0xC1 | 0xC2 | 0xE0 | 0xE1 | 0xE2 | 0xE3 | 0xF0)
}

/// [`is_collapsed`] character by character, as [`collapse`] reads them.
fn is_collapsed_chars(line: &[u8]) -> bool {
    let p = unicode::props();
    let mut after_space = true; // a space first would be a leading one
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        let (space, len) = if b < 0x80 {
            (unicode::ascii_isspace(u32::from(b)), 1)
        } else {
            let (cp, len) = next_cp(line, i);
            (p.flags(cp) & unicode::SPACE != 0, len)
        };
        if b == b' ' {
            if after_space {
                return false;
            }
            after_space = true;
        } else if space {
            return false;
        } else {
            after_space = false;
        }
        i += len;
    }
    !after_space || line.is_empty()
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
        let mut ftfy_bmp = vec![0u64; 0x1_0000 / 64];
        for &(lo, hi) in &ranges {
            for c in lo..=hi.min(0xFFFF) {
                ftfy_bmp[c as usize / 64] |= 1 << (c % 64);
            }
        }
        let ascii = std::array::from_fn(|c| {
            let ch = c as u8 as char;
            let mut f = 0;
            if ch == '<' {
                f |= A_LT;
            }
            if ch == '&' {
                f |= A_AMP;
            }
            if ftfy_ascii[c] {
                f |= A_FTFY;
            }
            if !matches!(translation(ch), Tr::Keep) {
                f |= A_TRANSLATE;
            }
            f
        });
        Ok(Gate {
            ftfy_chars: ranges,
            ftfy_ascii,
            ftfy_bmp,
            ascii,
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
        if let Some(w) = self.ftfy_bmp.get(c as usize / 64) {
            return w & (1 << (c % 64)) != 0;
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

    /// The segments ftfy works on, as byte spans, with whether HTML unescaping is on: the
    /// definition [`Gate::scan`] follows as it goes, kept for the tests that compare them.
    #[cfg(test)]
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
        self.scan(text).spans
    }

    /// What a round of `normalise_text` asks of a text, in one pass over it: the segments
    /// ftfy could change (the segments of [`Gate::segments`] a fixer could act on, see the module's note, in characters),
    /// whether the text is NFC by CPython's quick check (`Yes`), and whether the translation
    /// changes it. ASCII bytes are answered from a table of 128 entries; the other questions
    /// (the NFC flags, ftfy's characters, the mojibake automaton) are asked of the other
    /// characters, and the automaton only of segments with some. It answers as each question
    /// asked on its own does (the tests compare it with that: `nfc_quick_check`, [`translate`],
    /// a segment's entities, characters and mojibake in turn), which took a pass each.
    pub fn scan(&self, text: &str) -> Scan {
        let p = unicode::props();
        let mut out = Scan {
            spans: Vec::new(),
            nfc: true,
            translates: false,
        };
        let (mut chars, mut whole_ccc) = (0usize, 0u32);
        let mut html = true;
        let bytes = text.as_bytes();
        let mut pos = 0;
        // the segments of `Gate::segments`, found on the way: a line with its newline, cut
        // after `limit` characters
        while pos < bytes.len() {
            let a = pos;
            let (mut ascii_flags, mut ascii) = (0u8, true);
            let (mut seg_chars, mut ftfy, mut seg_nfc, mut seg_ccc) = (0usize, false, true, 0u32);
            while pos < bytes.len() && seg_chars < self.limit {
                // ASCII bytes, a character each, up to a newline (taken) or the limit
                let stop = bytes.len().min(pos + (self.limit - seg_chars));
                let (start, mut newline) = (pos, false);
                while pos < stop {
                    let x = bytes[pos];
                    if x >= 0x80 {
                        break;
                    }
                    ascii_flags |= self.ascii[x as usize];
                    pos += 1;
                    if x == b'\n' {
                        newline = true;
                        break;
                    }
                }
                if pos > start {
                    seg_chars += pos - start;
                    (seg_ccc, whole_ccc) = (0, 0);
                }
                if newline || pos >= stop {
                    if newline {
                        break;
                    }
                    continue;
                }
                let Some(c) = text.get(pos..).and_then(|r| r.chars().next()) else {
                    break; // pos is always at a character: not reached
                };
                ascii = false;
                seg_chars += 1;
                pos += c.len_utf8();
                let f = p.flags(c as u32);
                let ccc = (f >> unicode::COMBINING_SHIFT) & 0xFF;
                let no = f & unicode::NFC_NO != 0;
                if no || f & unicode::NFC_MAYBE != 0 || (ccc != 0 && seg_ccc > ccc) {
                    seg_nfc = false;
                }
                if no || f & unicode::NFC_MAYBE != 0 || (ccc != 0 && whole_ccc > ccc) {
                    out.nfc = false;
                }
                (seg_ccc, whole_ccc) = (ccc, ccc);
                ftfy = ftfy || self.ftfy_char(c);
                if !matches!(translation(c), Tr::Keep) {
                    out.translates = true;
                }
            }
            let seg = &text[a..pos];
            if html && ascii_flags & A_LT != 0 {
                html = false;
            }
            if ascii_flags & A_TRANSLATE != 0 {
                out.translates = true;
            }
            let needs = (html && ascii_flags & A_AMP != 0 && self.has_entity(seg))
                || ftfy
                || ascii_flags & A_FTFY != 0
                || (!ascii
                    && (!seg_nfc
                        || match &self.badness {
                            Some(bad) => bad.search(seg),
                            None => true,
                        }));
            if needs {
                out.spans.push((chars, chars + seg_chars, html));
            }
            chars += seg_chars;
        }
        out
    }

    /// `normalise_text` from round `round` on, with `text` the text entering it.
    pub fn run<'a>(&self, mut text: Cow<'a, str>, round: u8) -> Step<'a> {
        for r in round..ROUNDS {
            let scan = self.scan(&text);
            if !scan.spans.is_empty() || !scan.nfc {
                return Step::Fix {
                    text,
                    spans: scan.spans,
                    round: r,
                };
            }
            // ftfy would change nothing and the text is NFC: `fixed` is `text`
            if !scan.translates {
                break;
            }
            text = Cow::Owned(translate(&text).into_owned());
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
    use crate::unicode::Quick;

    /// [`is_collapsed`]'s byte test skips decoding a line only when no byte of it can begin
    /// a whitespace character as [`next_cp`] reads one: every space of the table (and the
    /// overlong forms of each, which [`next_cp`] decodes too) begins with such a byte.
    #[test]
    fn every_space_begins_with_a_byte_the_collapsed_test_reads() {
        let p = unicode::props();
        let mut spaces = 0;
        for cp in 0x80u32..0x11_0000 {
            if p.flags(cp) & unicode::SPACE == 0 {
                continue;
            }
            spaces += 1;
            let mut buf = [0u8; 4];
            let ch = char::from_u32(cp).expect("a space is a scalar value");
            let lead = ch.encode_utf8(&mut buf).as_bytes()[0];
            assert!(may_begin_space(lead), "U+{cp:04X}");
        }
        assert!(spaces > 10);
        // every line of up to four bytes of an alphabet of spaces, letters and pieces of
        // characters: the byte test answers as the character loop does
        let alphabet = [
            b' ', b'a', 0x09, 0x1F, 0xC2, 0xA0, 0x85, 0xE2, 0x80, 0x8A, 0xC3, 0xA9, 0xE3,
        ];
        // (each length on its own: as digits of one number, a line could never end in the
        // alphabet's first byte, the space)
        let mut line = Vec::new();
        for len in 0..=4u32 {
            for n in 0..alphabet.len().pow(len) {
                line.clear();
                let mut k = n;
                for _ in 0..len {
                    line.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                assert_eq!(is_collapsed(&line), is_collapsed_chars(&line), "{line:?}");
            }
        }
        // overlong forms, which no `str` holds but `next_cp` reads as the space they encode
        for (line, want) in [
            (&[b'a', 0xC0, 0xA0, b'b'][..], false),
            (&[b'a', 0xE0, 0x82, 0x85, b'b'][..], false),
            (&[b'a', 0xF0, 0x80, 0x80, 0xA0, b'b'][..], false),
            (&[b'a', 0xC2, 0xA0, b'b'][..], false),
            (&[b'a', 0xC2, b'b'][..], true),
            (&[b'a', 0xED, 0xA0, 0x80, b' ', b'b'][..], true),
        ] {
            assert_eq!(is_collapsed(line), want, "{line:?}");
            assert_eq!(is_collapsed_chars(line), want, "{line:?}");
        }
    }

    fn class(negate: bool, ranges: &[(u32, u32)], cats: u8) -> CharClass {
        CharClass {
            negate,
            ranges: ranges.to_vec(),
            cats,
        }
    }

    /// "Ã©" anywhere, and "Â" then a space at the start of a line.
    fn two_alternatives() -> Vec<Alternative> {
        vec![
            Alternative {
                anchored: false,
                classes: vec![class(false, &[(0xC3, 0xC3)], 0), class(false, &[(0xA9, 0xA9)], 0)],
            },
            Alternative {
                anchored: true,
                classes: vec![class(false, &[(0xC2, 0xC2)], 0), class(false, &[], CAT_SPACE)],
            },
        ]
    }

    #[test]
    fn automaton_finds_sequences_and_honours_anchors() {
        let mut alts = two_alternatives();
        alts.push(Alternative {
            anchored: false,
            classes: vec![class(false, &[(0x153, 0x153)], 0), class(true, &[(0x61, 0x7A)], 0)],
        });
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

    /// The gate's questions asked one by one, a pass each (what `Gate::scan` answers in one).
    fn needs(g: &Gate, seg: &str, html: bool) -> bool {
        if html && seg.contains('&') && g.has_entity(seg) {
            return true;
        }
        if seg.chars().any(|c| g.ftfy_char(c)) {
            return true;
        }
        if seg.is_ascii() {
            return false;
        }
        if unicode::props().nfc_quick_check(seg) != Quick::Yes {
            return true;
        }
        match &g.badness {
            Some(b) => b.search(seg),
            None => true,
        }
    }

    fn slow_scan(g: &Gate, text: &str) -> (Vec<(usize, usize, bool)>, bool, bool) {
        let spans = g
            .segments(text)
            .filter(|&(a, b, html)| needs(g, &text[a..b], html))
            .map(|(a, b, html)| (text[..a].chars().count(), text[..b].chars().count(), html))
            .collect();
        let nfc = text.is_ascii() || unicode::props().nfc_quick_check(text) == Quick::Yes;
        (spans, nfc, matches!(translate(text), Cow::Owned(_)))
    }

    /// The one pass answers as the questions asked one by one, on random texts of the
    /// characters each question turns on (and lines cut at the segment limit).
    #[test]
    fn scan_answers_as_the_questions_one_by_one() {
        let alts = two_alternatives();
        let alphabet: Vec<char> = "ab Z\n\n&amp;#1;<>\t\x0b\x01\x7f\u{80}\u{85}\u{9f}\u{a0}\u{ad}\u{c2}\u{c3}\u{a9}\u{e9}e\u{301}\u{327}\u{1161}\u{1100}\u{fb01}\u{2028}\u{200b}\u{3000}\u{feff}\u{4e00}\u{1f600}\u{10000}"
            .chars()
            .collect();
        let mut next = crate::xorshift32(0x9E37_79B9);
        for (ftfy, limit) in [
            (vec![(0x80, 0x9F), (0xFB01, 0xFB01), (0x1B, 0x1B)], 1000),
            (vec![(0x10000, 0x10010)], 5),
        ] {
            for bad in [Some(Badness::new(&alts).unwrap()), None] {
                let g = Gate::new(&ftfy, true, bad, limit).unwrap();
                for _ in 0..3000 {
                    let n = next() as usize % 40;
                    let text: String = (0..n).map(|_| alphabet[next() as usize % alphabet.len()]).collect();
                    let s = g.scan(&text);
                    assert_eq!((s.spans, s.nfc, s.translates), slow_scan(&g, &text), "{text:?}");
                }
            }
        }
    }

    /// The canon on bytes gives what its regular expressions gave, applied in turn.
    #[test]
    fn canon_equals_the_runs_replaced_then_stripped() {
        let slow = |text: &str| {
            let mut out = String::new();
            let mut rest = text;
            while let Some(at) = rest.find([' ', '\n']) {
                out.push_str(&rest[..at]);
                let run = &rest[at..];
                let len = run.find(|c| c != ' ' && c != '\n').unwrap_or(run.len());
                match run[..len].matches('\n').count() {
                    0 => out.push(' '),
                    n => out.extend(std::iter::repeat_n('\n', n.min(2))),
                }
                rest = &run[len..];
            }
            out.push_str(rest);
            out.trim_matches([' ', '\n']).to_string()
        };
        let alphabet = [" ", "\n", "a", "\u{e9}", "\u{3000}", "\t"];
        let mut next32 = crate::xorshift32(0x1234_5678);
        let mut next = move || next32() as usize;
        for _ in 0..40000 {
            let n = next() % 40;
            let text: String = (0..n).map(|_| alphabet[next() % alphabet.len()]).collect();
            assert_eq!(canon(&text), slow(&text), "{text:?}");
        }
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

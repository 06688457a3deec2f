//! The furniture classifier's per-line work (`cleaner.clean.furniture`): tokenising,
//! lowering, choosing the stoplist, grouping lines into blocks, classing blocks by length
//! and stopword density, tables of figures, and the per-line predicates the region finder
//! asks about every line (bylines, teasers, dated entries, field keys, sentence ends).
//!
//! Every definition is CPython's, to the character: the Python classifier was written with
//! `re` and `str` methods, and its decisions must not move. So the character properties are
//! the interpreter's (the core's one table, `crate::unicode`), not Rust's:
//! `re`'s `\w` is `str.isalnum() or "_"` (Rust's `is_alphanumeric` differs on marks), `\d`
//! is a decimal digit (`str.isdecimal`), `\s` and `str.split()` split on `str.isspace`,
//! `str.lower()` is the full mapping with Greek final sigma. Each regular expression of the
//! Python code is matched by a small hand-written function named after it; its doc gives the
//! pattern. Lines are slices of code points (a `str` may hold lone surrogates).
//!
//! Nothing here panics on any input: all indexing is bounds-checked or guarded.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::unicode;

/// FxHash (rustc's hasher): the maps here are keyed by short token slices of one document,
/// where SipHash's protection against chosen collisions buys nothing and costs a tenth of
/// the run. Written out rather than taken from a crate: it is a dozen lines.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub type FxSet<K> = std::collections::HashSet<K, BuildHasherDefault<FxHasher>>;

/// The character properties the classifier asks about (see [`Props::is`]).
pub const WORD: u16 = 1; // re \w: isalnum() or "_"
pub const ALPHA: u16 = 2; // str.isalpha
pub const DECIMAL: u16 = 4; // re \d: str.isdecimal
pub const DIGIT: u16 = 8; // str.isdigit
pub const SPACE: u16 = 16; // str.isspace, re \s
pub const UPPER: u16 = 32; // str.isupper of the character
pub const LOWER: u16 = 64; // str.islower of the character
pub const TITLE: u16 = 128; // titlecase letter (category Lt)
pub const CASED: u16 = 256; // Unicode Cased (final sigma context)
pub const IGNORABLE: u16 = 512; // Unicode Case_Ignorable (final sigma context)
pub const UNSEG: u16 = 1024; // cleaner.scripts.UNSEGMENTED

const NO_CP: usize = 0x11_0000;
const SIGMA: u32 = 0x3A3;
/// Index of "Lt" in [`unicode::CATEGORIES`].
const CAT_LT: u32 = 3;

/// The interpreter's character properties (the core's one table, [`unicode::props`]) and
/// the unsegmented scripts' ranges.
pub struct Props {
    uni: &'static unicode::Props,
    /// one bit per code point: in `cleaner.scripts.UNSEGMENTED_RANGES`
    unseg: Vec<u64>,
    /// `uni`'s flags of the ASCII characters, at hand (most characters of most pages)
    ascii: [u32; 128],
    /// the tokeniser's questions about each ASCII character, one byte (`A_*` bits): one
    /// load a character instead of a flags lookup and a bit set for the unsegmented scripts
    ascii_cls: [u8; 128],
    /// the ASCII characters' `\w`, `\s` and `\d` are the usual ones (letters, digits and
    /// `_`; `\t\n\v\f\r\x1c-\x1f` and space; `0-9`) and none is unsegmented: the table
    /// says so for the running interpreter, and [`Classifier::doc_ascii`] may then test
    /// them with arithmetic, many characters at a time
    ascii_std: bool,
}

/// `\w` of an ASCII character, by arithmetic: the usual classes [`Props::ascii_std`] checks
/// the interpreter's table against.
#[inline]
fn std_word(c: u32) -> bool {
    (c.wrapping_sub(0x30) < 10) | ((c | 0x20).wrapping_sub(0x61) < 26) | (c == 0x5F)
}

use crate::unicode::ascii_isspace as std_space;

/// Bits of [`Props::ascii_cls`].
const A_WORD: u8 = 1; // re \w
const A_SPACE: u8 = 2; // str.isspace
const A_DECIMAL: u8 = 4; // str.isdecimal
const A_UNSEG: u8 = 8; // in an unsegmented range (no ASCII character is, but it is asked)

impl Props {
    /// `unsegmented`: inclusive code point ranges of the scripts written without spaces.
    pub fn new(unsegmented: &[(u32, u32)]) -> Result<Self, String> {
        let mut unseg = vec![0u64; NO_CP / 64];
        for &(lo, hi) in unsegmented {
            if lo > hi || hi as usize >= NO_CP {
                return Err(format!(
                    "unsegmented range {lo:#x}..={hi:#x} is not a range of code points"
                ));
            }
            for c in lo..=hi {
                unseg[c as usize / 64] |= 1 << (c % 64);
            }
        }
        let uni = unicode::props();
        let mut ascii = [0u32; 128];
        for (c, f) in ascii.iter_mut().enumerate() {
            *f = uni.flags(c as u32);
        }
        let mut props = Props {
            uni,
            unseg,
            ascii,
            ascii_cls: [0; 128],
            ascii_std: false,
        };
        let mut cls = [0u8; 128];
        for (c, b) in cls.iter_mut().enumerate() {
            let c = c as u32;
            for (bit, a) in [(WORD, A_WORD), (SPACE, A_SPACE), (DECIMAL, A_DECIMAL)] {
                if props.is(c, bit) {
                    *b |= a;
                }
            }
            // (from the ranges: `is` reads this table for UNSEG)
            if props.unseg[c as usize / 64] & (1 << (c % 64)) != 0 {
                *b |= A_UNSEG;
            }
        }
        props.ascii_cls = cls;
        props.ascii_std = cls.iter().enumerate().all(|(c, &b)| {
            let c = c as u32;
            let want = (std_word(c) as u8 * A_WORD)
                | (std_space(c) as u8 * A_SPACE)
                | ((c.wrapping_sub(0x30) < 10) as u8 * A_DECIMAL);
            b == want
        });
        Ok(props)
    }

    /// Whether `c` has the property `bit` (one of the constants above).
    #[inline]
    pub fn is(&self, c: u32, bit: u16) -> bool {
        let f = self.flags(c);
        match bit {
            WORD => f & unicode::ALNUM != 0 || c == 0x5F,
            ALPHA => f & unicode::ALPHA != 0,
            DECIMAL => f & unicode::DECIMAL != 0,
            DIGIT => f & unicode::DIGIT != 0,
            SPACE => f & unicode::SPACE != 0,
            UPPER => f & unicode::UPPER != 0,
            LOWER => f & unicode::LOWER != 0,
            TITLE => c >= 0x80 && self.uni.category_index(c) == CAT_LT,
            CASED => f & unicode::CASED != 0,
            IGNORABLE => f & unicode::CASE_IGNORABLE != 0,
            UNSEG => match self.ascii_cls.get(c as usize) {
                Some(&b) => b & A_UNSEG != 0,
                None => self
                    .unseg
                    .get(c as usize / 64)
                    .is_some_and(|w| w & (1 << (c % 64)) != 0),
            },
            _ => false,
        }
    }

    /// The table's flags of `c` ([`unicode::Props::flags`]).
    #[inline]
    fn flags(&self, c: u32) -> u32 {
        match self.ascii.get(c as usize) {
            Some(&f) => f,
            None => self.uni.flags(c),
        }
    }

    /// `str.lower()` of `s`, appended to `out` (full mapping; capital sigma takes its final
    /// form by CPython's rule: after a cased letter, not before one, case-ignorables skipped).
    /// On code points, not `&str`: a line may hold lone surrogates.
    pub fn lower_into(&self, s: &[u32], out: &mut Vec<u32>) {
        for (i, &c) in s.iter().enumerate() {
            if c < 0x80 {
                out.push(if (0x41..=0x5A).contains(&c) { c + 32 } else { c });
            } else if c == SIGMA {
                out.push(if self.final_sigma(s, i) { 0x3C2 } else { 0x3C3 });
            } else {
                self.uni.lower_cp(c, |m| out.push(m));
            }
        }
    }

    fn final_sigma(&self, s: &[u32], i: usize) -> bool {
        let before = s[..i].iter().rev().find(|&&c| !self.is(c, IGNORABLE));
        if !before.is_some_and(|&c| self.is(c, CASED)) {
            return false;
        }
        match s.get(i + 1..).and_then(|r| r.iter().find(|&&c| !self.is(c, IGNORABLE))) {
            None => true,
            Some(&c) => !self.is(c, CASED),
        }
    }

    pub fn lower(&self, s: &[u32]) -> Vec<u32> {
        let mut out = Vec::with_capacity(s.len());
        self.lower_into(s, &mut out);
        out
    }

    /// `str.islower()`: a cased character and no upper- or titlecase one.
    pub fn islower(&self, s: &[u32]) -> bool {
        let mut cased = false;
        for &c in s {
            if self.is(c, UPPER) || self.is(c, TITLE) {
                return false;
            }
            cased |= self.is(c, LOWER);
        }
        cased
    }

    /// `str.isupper()`: a cased character and no lower- or titlecase one.
    pub fn isupper(&self, s: &[u32]) -> bool {
        let mut cased = false;
        for &c in s {
            if self.is(c, LOWER) || self.is(c, TITLE) {
                return false;
            }
            cased |= self.is(c, UPPER);
        }
        cased
    }

    /// `str.isalpha()`.
    pub fn isalpha(&self, s: &[u32]) -> bool {
        !s.is_empty() && s.iter().all(|&c| self.is(c, ALPHA))
    }

    /// `" ".join(s.split())` (`collapse`), appended to `out`.
    pub fn collapse_into(&self, s: &[u32], out: &mut Vec<u32>) {
        if self.collapsed(s) {
            out.extend_from_slice(s);
            return;
        }
        for (n, w) in self.split(s).enumerate() {
            if n > 0 {
                out.push(0x20);
            }
            out.extend_from_slice(w);
        }
    }

    /// Whether `s` is its own `collapse`: no space but single 0x20 between other characters.
    pub fn collapsed(&self, s: &[u32]) -> bool {
        let mut prev_space = true; // at the start, a space would be a leading one
        for &c in s {
            let space = self.is(c, SPACE);
            if space && (c != 0x20 || prev_space) {
                return false;
            }
            prev_space = space;
        }
        !prev_space || s.is_empty()
    }

    /// `len(s.split())`.
    pub fn split_count(&self, s: &[u32]) -> usize {
        self.split(s).count()
    }

    /// `s.split()`: the runs of non-space characters.
    pub fn split<'a>(&'a self, s: &'a [u32]) -> impl Iterator<Item = &'a [u32]> + 'a {
        s.split(move |&c| self.is(c, SPACE)).filter(|t| !t.is_empty())
    }

    /// The spans of `re.finditer(r"\w+", s)`.
    pub fn word_spans(&self, s: &[u32]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start: Option<usize> = None;
        for (i, &c) in s.iter().enumerate() {
            match (self.is(c, WORD), start) {
                (true, None) => start = Some(i),
                (false, Some(a)) => {
                    out.push((a, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(a) = start {
            out.push((a, s.len()));
        }
        out
    }

    #[inline]
    fn word_at(&self, s: &[u32], i: usize) -> bool {
        s.get(i).is_some_and(|&c| self.is(c, WORD))
    }

    /// `re`'s `\b` at position `i` (between `s[i - 1]` and `s[i]`).
    #[inline]
    fn boundary(&self, s: &[u32], i: usize) -> bool {
        let before = i > 0 && self.word_at(s, i - 1);
        before != self.word_at(s, i)
    }

    #[inline]
    fn dec(&self, s: &[u32], i: usize) -> bool {
        s.get(i).is_some_and(|&c| self.is(c, DECIMAL))
    }

    /// `s` without its trailing `\s` characters.
    fn rstrip<'a>(&self, s: &'a [u32]) -> &'a [u32] {
        let n = s.iter().rposition(|&c| !self.is(c, SPACE)).map_or(0, |p| p + 1);
        &s[..n]
    }

    /// Characters of `s` in unsegmented scripts (`len(UNSEGMENTED.findall(s))`).
    pub fn unseg_count(&self, s: &[u32]) -> usize {
        s.iter().filter(|&&c| self.is(c, UNSEG)).count()
    }
}

/// Whether an ASCII lower-case letter is followed by an ASCII capital in `h` (checked in
/// blocks of 16 pairs without an early exit, which the compiler vectorises).
fn ascii_glue(h: &[u32]) -> bool {
    if h.len() < 2 {
        return false;
    }
    let (a, b) = (&h[..h.len() - 1], &h[1..]);
    let pair = |x: u32, y: u32| (x.wrapping_sub(0x61) < 26) & (y.wrapping_sub(0x41) < 26);
    let mut ac = a.chunks_exact(16);
    let mut bc = b.chunks_exact(16);
    for (x, y) in (&mut ac).zip(&mut bc) {
        if x.iter().zip(y).fold(false, |acc, (&x, &y)| acc | pair(x, y)) {
            return true;
        }
    }
    ac.remainder().iter().zip(bc.remainder()).any(|(&x, &y)| pair(x, y))
}

/// Where the first of `?!”"’` is in `h` (blocks of 16 without an early exit, vectorised).
fn first_glue_punct(h: &[u32]) -> Option<usize> {
    let hit = |c: u32| (c == 0x3F) | (c == 0x21) | (c == 0x22) | (c == 0x201D) | (c == 0x2019);
    let mut chunks = h.chunks_exact(16);
    let mut base = 0;
    for c in &mut chunks {
        if c.iter().fold(false, |acc, &x| acc | hit(x)) {
            return c.iter().position(|&x| hit(x)).map(|k| base + k);
        }
        base += 16;
    }
    chunks.remainder().iter().position(|&x| hit(x)).map(|k| base + k)
}

/// `pattern$` anchored by `re`'s `$`: at the end, or before a final newline.
fn at_end(s: &[u32], f: impl Fn(&[u32]) -> bool) -> bool {
    f(s) || (s.last() == Some(&0x0A) && f(&s[..s.len() - 1]))
}

fn ch(c: char) -> u32 {
    c as u32
}

#[inline]
fn one_of(c: u32, set: &str) -> bool {
    // an ASCII character is one of the set's bytes (a byte of a longer character's UTF-8 is
    // never below 0x80): no decoding of the set for the usual case
    if c < 0x80 {
        return set.as_bytes().contains(&(c as u8));
    }
    set.chars().any(|x| x as u32 == c)
}

/// Thresholds of `FurnitureParams` the per-line work reads.
#[derive(Clone, Debug)]
pub struct Params {
    pub good_words: f64,
    pub good_density: f64,
    pub long_words: f64,
    pub long_density: f64,
    pub short_words: f64,
    pub cjk_chars_per_word: f64,
    pub wrap_chars: f64,
    pub wrap_width: f64,
    pub wrap_max: f64,
    pub wrap_slack: f64,
    pub wrap_fill: f64,
    pub teaser_words: f64,
    pub byline_words: f64,
    pub dated_words: f64,
    pub table_rows: f64,
    pub table_figures: f64,
}

impl Params {
    pub const NAMES: [&'static str; 16] = [
        "good_words",
        "good_density",
        "long_words",
        "long_density",
        "short_words",
        "cjk_chars_per_word",
        "wrap_chars",
        "wrap_width",
        "wrap_max",
        "wrap_slack",
        "wrap_fill",
        "teaser_words",
        "byline_words",
        "dated_words",
        "table_rows",
        "table_figures",
    ];

    pub fn from_map(m: &HashMap<String, f64>) -> Result<Self, String> {
        let g = |k: &str| {
            m.get(k)
                .copied()
                .ok_or_else(|| format!("missing furniture parameter {k}"))
        };
        Ok(Params {
            good_words: g("good_words")?,
            good_density: g("good_density")?,
            long_words: g("long_words")?,
            long_density: g("long_density")?,
            short_words: g("short_words")?,
            cjk_chars_per_word: g("cjk_chars_per_word")?,
            wrap_chars: g("wrap_chars")?,
            wrap_width: g("wrap_width")?,
            wrap_max: g("wrap_max")?,
            wrap_slack: g("wrap_slack")?,
            wrap_fill: g("wrap_fill")?,
            teaser_words: g("teaser_words")?,
            byline_words: g("byline_words")?,
            dated_words: g("dated_words")?,
            table_rows: g("table_rows")?,
            table_figures: g("table_figures")?,
        })
    }
}

/// Line classes, as `_classify` names them.
pub const BLANK: u8 = 0;
pub const GOOD: u8 = 1;
pub const BAD: u8 = 2;
pub const SHORT: u8 = 3;

/// Per-line flags of [`Analysis::flags`].
pub const F_BYLINE: u8 = 1; // is_byline
pub const F_ENDS_DATED: u8 = 2; // _ENDS_DATED.search
pub const F_TEASER: u8 = 4; // is_teaser with the page's token counts (prose lines only)
pub const F_ENDS_SENTENCE: u8 = 8; // _ends_sentence
pub const F_TERMINAL: u8 = 16; // _TERMINAL.search
pub const F_TRUNCATED: u8 = 32; // _TRUNCATED.search
pub const F_KEY_DIGIT: u8 = 64; // the field key holds a digit (str.isdigit)

/// What the region finder needs of a document's lines (see `furniture._Lines`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Analysis {
    pub classes: Vec<u8>,
    pub sizes: Vec<u32>,
    pub wrapped: Vec<bool>,
    /// `len(_WORD.findall(line))`
    pub ntok: Vec<u32>,
    /// `len(line.split())`
    pub nsplit: Vec<u32>,
    /// `_words(line, _WORD.findall(line))`
    pub words: Vec<f64>,
    /// `_words(line, line.split())`
    pub split_words: Vec<f64>,
    pub flags: Vec<u8>,
    /// `_field_key(line)` as a number: 0 for "", else equal numbers for equal keys
    pub keys: Vec<u32>,
}

/// The classifier: stoplists and thresholds, built once per process.
pub struct Classifier {
    pub props: Props,
    /// each stopword (lower case) -> bit set of the stoplists holding it
    stops: FxMap<Vec<u32>, u32>,
    /// the same for the words of at most [`SHORT_WORD`] code points, keyed by [`short_key`]
    /// (a key held in the table itself: a lookup reads no second allocation)
    short_stops: FxMap<u128, u32>,
    /// a Bloom filter of the stopwords ([`stop_bits`]): the lists hold tens of thousands of
    /// words, a table larger than the caches, and most tokens of a page are no stopword;
    /// this 32 KiB answers "no" for most of them without a look in the table (it never
    /// answers "no" for a stopword, so it changes no answer, only the time)
    bloom: Vec<u64>,
    /// the longest stopword, in code points: a longer token is no stopword (`str.lower()`
    /// never shortens a string, so a token is looked up only when short enough)
    longest_stop: usize,
    /// the stopwords of at most [`ASCII_WORD`] ASCII characters, the tokens most pages are made of, in a
    /// table of their own keyed by [`ascii_key`] (see [`AsciiStops`])
    ascii_stops: AsciiStops,
    nlists: usize,
    pub params: Params,
}

/// Tokens of at most this many ASCII characters have an [`ascii_key`].
const ASCII_WORD: usize = 16;

/// A token of at most [`ASCII_WORD`] ASCII characters, lowered, as one number: its bytes,
/// little-endian. One to one because NUL has no key: a word ending in NUL would otherwise
/// be the word without it (`stop_mask` is also asked about space-separated words, not only
/// `\w` tokens), so such a word takes the general path.
#[inline]
fn ascii_key(w: &[u32]) -> Option<u128> {
    if w.is_empty() || w.len() > ASCII_WORD || w.iter().any(|&c| c == 0 || c >= 0x80) {
        return None;
    }
    Some(w.iter().rev().fold(0u128, |k, &c| (k << 8) | ascii_lower(c) as u128))
}

/// `str.lower()` of an ASCII character.
#[inline]
fn ascii_lower(c: u32) -> u32 {
    if (0x41..=0x5A).contains(&c) {
        c + 32
    } else {
        c
    }
}

/// The stopwords keyed by [`ascii_key`]: a Bloom filter that answers "no" for most other
/// tokens from one 64-bit word (it fits the L1 cache), then an open-addressing table
/// (linear probing, at most two thirds full) of the keys with their stoplist masks. One
/// multiply hashes a key: no per-character hashing, no second table of code point vectors.
/// The masks are those of [`Classifier::stops`] for the same words, so no answer changes.
///
/// A key's bytes are ASCII, so the top bit of each of its 16 bytes is free: an entry holds
/// its word's mask (16 stoplists at most; more and the table stays empty, every word then
/// looked up in the general table) in those bits, and a lookup reads one 16-byte entry.
struct AsciiStops {
    /// false with more than 16 stoplists: the table is empty and never asked
    on: bool,
    bloom: Vec<u64>,
    entries: Vec<u128>,
    shift: u32,
}

/// The top bit of each byte of a key.
const HIGH_BITS: u128 = 0x8080_8080_8080_8080_8080_8080_8080_8080;

impl AsciiStops {
    #[inline]
    fn hash(key: u128) -> u64 {
        // one multiply (the second half is 0 for the usual token of at most 8 characters):
        // the table's index is the product's top bits, the Bloom filter's its middle ones
        ((key as u64) ^ ((key >> 64) as u64).rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// `words`: (key, mask) of each stopword with a key; `nlists`: how many stoplists.
    fn new(words: impl Iterator<Item = (u128, u32)>, nlists: usize) -> Self {
        let words: Vec<(u128, u32)> = if nlists <= 16 { words.collect() } else { Vec::new() };
        let mut bits = 4u32;
        while (1usize << bits) < words.len() * 3 / 2 {
            bits += 1;
        }
        let mut t = AsciiStops {
            on: nlists <= 16,
            bloom: vec![0u64; ASCII_BLOOM_WORDS],
            entries: vec![0u128; 1 << bits],
            shift: 64 - bits,
        };
        let size = t.entries.len() - 1;
        for (k, m) in words {
            let h = Self::hash(k);
            t.bloom[Self::bloom_word(h)] |= Self::bloom_bits(h);
            let mut i = (h >> t.shift) as usize;
            while t.entries[i] != 0 && t.entries[i] & !HIGH_BITS != k {
                i = (i + 1) & size;
            }
            let mut e = k | (t.entries[i] & HIGH_BITS);
            for n in 0..16 {
                if m & (1 << n) != 0 {
                    e |= 0x80u128 << (8 * n);
                }
            }
            t.entries[i] = e;
        }
        t
    }

    #[inline]
    fn bloom_bits(h: u64) -> u64 {
        (1u64 << ((h >> 32) & 63)) | (1u64 << ((h >> 38) & 63))
    }

    #[inline]
    fn bloom_word(h: u64) -> usize {
        (h >> 22) as usize & (ASCII_BLOOM_WORDS - 1)
    }

    /// The 16-bit mask held in the top bits of an entry's bytes.
    #[inline]
    fn mask_of(e: u128) -> u32 {
        let gather = |x: u64| (((x & 0x8080_8080_8080_8080) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32;
        gather(e as u64) | (gather((e >> 64) as u64) << 8)
    }

    /// The stoplists holding the word of key `k` (0: none).
    #[inline]
    fn get(&self, k: u128) -> u32 {
        let h = Self::hash(k);
        let bits = Self::bloom_bits(h);
        if self.bloom[Self::bloom_word(h)] & bits != bits {
            return 0;
        }
        let size = self.entries.len() - 1;
        let mut i = (h >> self.shift) as usize;
        loop {
            let e = self.entries[i];
            if e == 0 {
                return 0;
            }
            if e & !HIGH_BITS == k {
                return Self::mask_of(e);
            }
            i = (i + 1) & size;
        }
    }
}

/// 64-bit words of the ASCII stopwords' Bloom filter (8 KiB: it stays in the L1 cache, at
/// a few percent of false positives, which the table answers).
const ASCII_BLOOM_WORDS: usize = 1024;

/// 64-bit words of the stopwords' Bloom filter (32 KiB).
const BLOOM_WORDS: usize = 4096;

/// Where a word sits in the stopwords' Bloom filter: a 64-bit word of it and two bits in that
/// word (one memory access a lookup), from the top bits of an FxHash of the code points.
#[inline]
fn stop_bits(w: &[u32]) -> (usize, u64) {
    let mut h = FxHasher::default();
    for &c in w {
        h.add(c as u64);
    }
    let h = h.0;
    let word = (h >> 52) as usize % BLOOM_WORDS;
    (word, (1u64 << ((h >> 40) & 63)) | (1u64 << ((h >> 34) & 63)))
}

/// Proof that the processor has AVX2: only [`avx2`] makes one, after asking the processor, so
/// a safe function handed an `Avx2` ([`chunk_classes`]) may call a
/// `#[target_feature(enable = "avx2")]` one, and no caller can claim AVX2 by passing `true`.
#[derive(Clone, Copy)]
struct Avx2(());

/// An [`Avx2`] when the processor has AVX2 (for [`chunk_classes`]), asked once per line
/// (`is_x86_feature_detected!` caches its answer).
#[inline]
fn avx2() -> Option<Avx2> {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2").then_some(Avx2(()))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// The classes of a chunk of at most 64 ASCII characters ([`Classifier::doc_ascii`], under
/// [`Props::ascii_std`]): bit `j` of the first mask is character `j` being `\w`, of the
/// second it not being a space; then whether any is a decimal digit. With `simd` (the
/// processor has AVX2: [`avx2`]) eight characters are classed at a time by comparisons
/// ([`chunk_classes_avx2`]): a table load and three shifted bits a character were a sixth
/// of the classifier's reading of a page.
#[inline]
fn chunk_classes(cls: &[u8; 128], chunk: &[u32], simd: Option<Avx2>) -> (u64, u64, bool) {
    let chunk = &chunk[..chunk.len().min(64)];
    debug_assert!(chunk.iter().all(|&c| c < 0x80), "ASCII lines only");
    #[cfg(target_arch = "x86_64")]
    if let Some(Avx2(())) = simd {
        // SAFETY: an `Avx2` exists only where `avx2()` found the processor has AVX2, the
        // one requirement of a `#[target_feature(enable = "avx2")]` function; its loads
        // stay inside `chunk` (see chunk_classes_avx2)
        return unsafe { chunk_classes_avx2(cls, chunk) };
    }
    let _ = simd;
    chunk_classes_table(cls, chunk, 0)
}

/// [`chunk_classes`] by [`Props::ascii_cls`], from character `from` of `chunk` (at most 64
/// characters) on: the bits below `from` are 0.
#[inline]
fn chunk_classes_table(cls: &[u8; 128], chunk: &[u32], from: usize) -> (u64, u64, bool) {
    let (mut wm, mut sm, mut dm) = (0u64, 0u64, 0u64);
    for (j, &c) in chunk.iter().enumerate().skip(from) {
        // (`c` is ASCII: the mask changes no index, and spares a bounds check)
        let b = cls[(c & 0x7F) as usize] as u64;
        wm |= ((b & A_WORD as u64 != 0) as u64) << j;
        sm |= ((b & A_SPACE as u64 == 0) as u64) << j;
        dm |= b & A_DECIMAL as u64;
    }
    (wm, sm, dm != 0)
}

/// [`chunk_classes`] eight characters at a time, the rest by the table: the usual `\w`
/// (`0-9`, `A-Z`, `a-z`, `_`), space (`\t`-`\r`, `\x1c`-`\x1f`, ` `) and decimal digit, as
/// [`Props::ascii_std`] says the table holds them (`std_word`, `std_space`). Signed
/// comparisons of 32-bit lanes are the unsigned ones here: an ASCII code point is below
/// 2^31.
///
/// # Safety
///
/// The processor must have AVX2 (an [`Avx2`] proves it). The loads are in bounds for any
/// `chunk`: eight characters at a time only while eight remain.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn chunk_classes_avx2(cls: &[u8; 128], chunk: &[u32]) -> (u64, u64, bool) {
    use std::arch::x86_64::*;
    let (mut wm, mut sm, mut dm) = (0u64, 0u64, 0u64);
    let groups = chunk.len().min(64) / 8;
    // a < v < b, lane by lane
    let within = |v: __m256i, a: i32, b: i32| {
        _mm256_and_si256(
            _mm256_cmpgt_epi32(v, _mm256_set1_epi32(a)),
            _mm256_cmpgt_epi32(_mm256_set1_epi32(b), v),
        )
    };
    let bits = |m: __m256i| _mm256_movemask_ps(_mm256_castsi256_ps(m)) as u32 as u64;
    for g in 0..groups {
        // SAFETY: `g * 8 + 8 <= chunk.len()`: the eight `u32`s read are `chunk`'s
        let v = unsafe { _mm256_loadu_si256(chunk.as_ptr().add(g * 8).cast::<__m256i>()) };
        let digit = within(v, 0x2F, 0x3A);
        let letter = within(_mm256_or_si256(v, _mm256_set1_epi32(0x20)), 0x60, 0x7B);
        let under = _mm256_cmpeq_epi32(v, _mm256_set1_epi32(0x5F));
        let word = _mm256_or_si256(_mm256_or_si256(digit, letter), under);
        let space = _mm256_or_si256(
            _mm256_or_si256(within(v, 0x08, 0x0E), within(v, 0x1B, 0x20)),
            _mm256_cmpeq_epi32(v, _mm256_set1_epi32(0x20)),
        );
        wm |= bits(word) << (8 * g);
        sm |= (!bits(space) & 0xFF) << (8 * g);
        dm |= bits(digit);
    }
    let (w, s, d) = chunk_classes_table(cls, chunk, groups * 8);
    (wm | w, sm | s, dm != 0 || d)
}

/// Words of at most this many code points have a [`short_key`].
const SHORT_WORD: usize = 6;

/// A word of at most [`SHORT_WORD`] code points as one number, one to one: each code point
/// plus one (never 0, at most 0x110000 < 2^21) in 21 bits, so words of different lengths
/// differ too. None for a longer word, or one holding a number beyond the code points.
#[inline]
fn short_key(w: &[u32]) -> Option<u128> {
    if w.len() > SHORT_WORD || w.iter().any(|&c| c as usize >= NO_CP) {
        return None;
    }
    Some(w.iter().fold(0u128, |k, &c| (k << 21) | (c as u128 + 1)))
}

/// A `\w+` token of a line another reader has tokenised ([`Classifier::classify_known`]):
/// its start in the line, its length, and its characters lowered followed by whatever that
/// reader holds after them.
pub type KnownToken<'k> = (usize, usize, &'k [u8]);

/// Classes, block sizes and wrapped flags of a document's lines.
type Classes = (Vec<u8>, Vec<u32>, Vec<bool>);

/// Whether a token occurs more than once on the page.
pub type Repeated<'a> = &'a dyn Fn(&[u32]) -> bool;

/// The largest vectors of the last document read on this thread, kept for the next one
/// (cleared, their memory kept): a page's code points and tokens are tens of kilobytes,
/// and allocating and freeing them for every page went through the allocator's slow path
/// (large chunks are not cached per thread) for a tenth of the classifier's time.
#[derive(Default)]
pub(crate) struct Spare {
    pub(crate) cps: Vec<u32>,
    spans: Vec<(usize, usize)>,
    masks: Vec<u32>,
}

/// The largest spare vector kept, in elements (a page of a million characters: 4 MB of
/// code points, 16 MB of spans at most).
const SPARE_MAX: usize = 1 << 20;

thread_local! {
    static SPARE: std::cell::RefCell<Spare> = std::cell::RefCell::new(Spare::default());
}

impl Spare {
    /// The spare vector `which` (empty, with room for `n`), or a new one.
    pub(crate) fn take<T>(which: impl Fn(&mut Spare) -> &mut Vec<T>, n: usize) -> Vec<T> {
        let mut v = SPARE
            .try_with(|s| {
                s.try_borrow_mut()
                    .map(|mut s| std::mem::take(which(&mut s)))
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        v.clear();
        v.reserve(n);
        v
    }

    /// Keep `v` as the spare vector `which` (when it is larger than the one kept, and no
    /// larger than [`SPARE_MAX`] elements: one huge page must not leave its buffers held by
    /// the thread for the rest of the run).
    pub(crate) fn give<T>(which: impl Fn(&mut Spare) -> &mut Vec<T>, v: &mut Vec<T>) {
        if v.capacity() > SPARE_MAX {
            return;
        }
        let _ = SPARE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                let kept = which(&mut s);
                if v.capacity() > kept.capacity() {
                    std::mem::swap(kept, v);
                }
            }
        });
    }
}

impl Drop for Doc<'_> {
    fn drop(&mut self) {
        Spare::give(|s| &mut s.spans, &mut self.spans);
        Spare::give(|s| &mut s.masks, &mut self.masks);
    }
}

/// A document's lines with their tokens, each line scanned once: the classifier and the
/// per-line predicates read these instead of tokenising, lowering and looking a line up
/// again (flat vectors, not one per line: a page has hundreds of lines).
struct Doc<'a> {
    lines: &'a [&'a [u32]],
    /// line `i`'s tokens are `first[i]..first[i + 1]` of `spans`, `low` and `masks`
    first: Vec<usize>,
    /// each `\w+` token's span in its line
    spans: Vec<(usize, usize)>,
    /// each lowered token's stoplists (bit set; 0: no stopword)
    masks: Vec<u32>,
    /// each line's characters in unsegmented scripts
    cjk: Vec<usize>,
    /// each line's `len(line.split())`
    nsplit: Vec<usize>,
    /// each line holds a decimal digit (`\d`)
    decimal: Vec<bool>,
    /// each line is ASCII
    ascii: Vec<bool>,
}

impl<'a> Doc<'a> {
    /// An empty reading of `lines` (the large vectors the thread's spare ones).
    fn new(lines: &'a [&'a [u32]]) -> Self {
        let chars: usize = lines.iter().map(|l| l.len()).sum();
        Doc {
            lines,
            first: Vec::with_capacity(lines.len() + 1),
            spans: Spare::take(|s| &mut s.spans, chars / 4),
            masks: Spare::take(|s| &mut s.masks, chars / 4),
            cjk: Vec::with_capacity(lines.len()),
            nsplit: Vec::with_capacity(lines.len()),
            decimal: Vec::with_capacity(lines.len()),
            ascii: Vec::with_capacity(lines.len()),
        }
    }

    /// Ends the reading of a line (its tokens pushed since its [`Doc::first`] entry) with its
    /// per-line columns: the one place each reader ([`Classifier::doc_line`],
    /// [`Classifier::doc_ascii`], [`Classifier::doc_known`]) writes them, so none can miss one.
    fn end_line(&mut self, cjk: usize, nsplit: usize, decimal: bool, ascii: bool) {
        self.cjk.push(cjk);
        self.nsplit.push(nsplit);
        self.decimal.push(decimal);
        self.ascii.push(ascii);
    }

    fn toks(&self, i: usize) -> std::ops::Range<usize> {
        self.first[i]..self.first[i + 1]
    }

    /// Token `t` of line `i`, as it is in the line.
    fn tok(&self, i: usize, t: usize) -> &[u32] {
        let (a, b) = self.spans[t];
        &self.lines[i][a..b]
    }
}

impl Classifier {
    pub fn new(props: Props, stoplists: &[Vec<String>], params: Params) -> Result<Self, String> {
        if stoplists.len() > 32 {
            return Err("at most 32 stoplists".into());
        }
        let mut stops: FxMap<Vec<u32>, u32> = FxMap::default();
        for (n, list) in stoplists.iter().enumerate() {
            for w in list {
                let cps: Vec<u32> = w.chars().map(|c| c as u32).collect();
                *stops.entry(cps).or_insert(0) |= 1 << n;
            }
        }
        let longest_stop = stops.keys().map(Vec::len).max().unwrap_or(0);
        let short_stops = stops
            .iter()
            .filter_map(|(w, &m)| short_key(w).map(|k| (k, m)))
            .collect();
        let mut bloom = vec![0u64; BLOOM_WORDS];
        for w in stops.keys() {
            let (word, bits) = stop_bits(w);
            bloom[word] |= bits;
        }
        // (a key is the lowered word: only lower-case stopwords can be found, as before)
        let ascii_stops = AsciiStops::new(
            stops.iter().filter_map(|(w, &m)| {
                let key = ascii_key(w)?;
                (w.iter().all(|&c| ascii_lower(c) == c)).then_some((key, m))
            }),
            stoplists.len(),
        );
        Ok(Classifier {
            props,
            stops,
            short_stops,
            bloom,
            longest_stop,
            ascii_stops,
            nlists: stoplists.len(),
            params,
        })
    }

    /// `pick_stoplist`: the stoplist (index) the words hit most, the first on a tie; None
    /// when no word is a stopword.
    pub fn pick<'a>(&self, words: impl Iterator<Item = &'a [u32]>) -> Option<usize> {
        self.pick_masks(words.map(|w| self.stop_mask(w)))
    }

    /// [`Classifier::pick`] from the words' stoplist masks ([`Classifier::stop_mask`]).
    fn pick_masks(&self, masks: impl Iterator<Item = u32>) -> Option<usize> {
        let mut hits = [0u64; 32];
        for mut mask in masks {
            while mask != 0 {
                hits[mask.trailing_zeros() as usize] += 1;
                mask &= mask - 1;
            }
        }
        let hits = &hits[..self.nlists];
        let best = hits.iter().copied().max().unwrap_or(0);
        if best == 0 {
            return None;
        }
        hits.iter().position(|&h| h == best)
    }

    /// The stoplists holding the (lower-case) word `w`, as a bit set.
    #[inline]
    fn stop_mask(&self, w: &[u32]) -> u32 {
        if w.len() > self.longest_stop {
            return 0;
        }
        if self.ascii_stops.on && w.iter().all(|&c| c < 0x80 && ascii_lower(c) == c) {
            if let Some(k) = ascii_key(w) {
                return self.ascii_stops.get(k);
            }
        }
        let (word, bits) = stop_bits(w);
        if self.bloom.get(word).is_none_or(|&b| b & bits != bits) {
            return 0;
        }
        match short_key(w) {
            Some(k) => self.short_stops.get(&k).copied().unwrap_or(0),
            None => self.stops.get(w).copied().unwrap_or(0),
        }
    }

    /// `prev.rsplit(" ", 1)[-1].lower() in stops` (`scratch`: a buffer for the lowered word)
    fn last_word_stop(&self, prev: &[u32], lang: Option<usize>, scratch: &mut Vec<u32>) -> bool {
        let Some(l) = lang else {
            return false;
        };
        let start = prev.iter().rposition(|&c| c == 0x20).map_or(0, |p| p + 1);
        let word = &prev[start..];
        if word.len() > self.longest_stop {
            return false;
        }
        scratch.clear();
        self.props.lower_into(word, scratch);
        self.stop_mask(scratch) & (1 << l) != 0
    }

    /// `wraps_into(prev, line, stops)`.
    pub fn wraps_into(&self, prev: &[u32], line: &[u32], lang: Option<usize>) -> bool {
        self.wraps_into_with(prev, line, lang, &mut Vec::new())
    }

    fn wraps_into_with(&self, prev: &[u32], line: &[u32], lang: Option<usize>, scratch: &mut Vec<u32>) -> bool {
        let p = &self.params;
        let n = prev.len() as f64;
        n >= p.wrap_chars
            && self.continues(prev)
            && (line.first().is_some_and(|&c| self.props.is(c, LOWER))
                || prev.last() == Some(&ch(','))
                || (n >= p.wrap_width && self.last_word_stop(prev, lang, scratch)))
    }

    /// `_CONTINUES.search(s)`: `[\w,\-–(]$`.
    fn continues(&self, s: &[u32]) -> bool {
        at_end(s, |t| {
            t.last().is_some_and(|&c| self.props.is(c, WORD) || one_of(c, ",-–("))
        })
    }

    /// `continues_wrapped(prev, line, width, stops)`.
    pub fn continues_wrapped(&self, prev: &[u32], line: &[u32], width: usize, lang: Option<usize>) -> bool {
        self.continues_wrapped_with(prev, line, width, lang, &mut Vec::new())
    }

    fn continues_wrapped_with(
        &self,
        prev: &[u32],
        line: &[u32],
        width: usize,
        lang: Option<usize>,
        scratch: &mut Vec<u32>,
    ) -> bool {
        let p = &self.params;
        let (np, nl, w) = (prev.len() as f64, line.len() as f64, width as f64);
        if !(width > 0 && p.wrap_chars <= np.min(nl) && nl <= w * p.wrap_slack) {
            return false;
        }
        if !(prev.last().is_some_and(|&c| one_of(c, ",-–(")) || self.last_word_stop(prev, lang, scratch)) {
            return false;
        }
        np >= p.wrap_fill * w
    }

    fn width_of(&self, long: usize, longest: usize) -> usize {
        if long >= 2 && longest as f64 <= self.params.wrap_max {
            longest
        } else {
            0
        }
    }

    /// `blocks(norm, stops)`: lines (indices) grouped into blocks of hard-wrapped text.
    pub fn blocks(&self, norm: &[&[u32]], lang: Option<usize>) -> Vec<Vec<usize>> {
        let (lines, ends) = self.blocks_flat(norm, lang);
        let mut start = 0;
        ends.iter()
            .map(|&end| {
                let block = lines[start..end].to_vec();
                start = end;
                block
            })
            .collect()
    }

    /// [`Classifier::blocks`] as the non-empty lines in order and where each block ends
    /// among them (blocks are runs of them): no vector per block.
    fn blocks_flat(&self, norm: &[&[u32]], lang: Option<usize>) -> (Vec<usize>, Vec<usize>) {
        let mut lines: Vec<usize> = Vec::with_capacity(norm.len());
        let mut ends: Vec<usize> = Vec::new();
        let mut start = 0usize; // where the current block starts in `lines`
        let mut prev: &[u32] = &[];
        let mut width = 0usize;
        let (mut long, mut longest) = (0usize, 0usize);
        let scratch = &mut Vec::new();
        for (i, ln) in norm.iter().enumerate() {
            if ln.is_empty() {
                continue;
            }
            let open = lines.len() > start;
            let joins = open
                && (self.wraps_into_with(prev, ln, lang, scratch)
                    || self.continues_wrapped_with(prev, ln, width, lang, scratch));
            if !joins && open {
                let ended = self.width_of(long, longest);
                width = if ended > 0 { width.max(ended) } else { 0 };
                ends.push(lines.len());
                start = lines.len();
                long = 0;
                longest = 0;
            }
            lines.push(i);
            if ln.len() as f64 >= self.params.wrap_chars {
                long += 1;
                longest = longest.max(ln.len());
            }
            if lines.len() - start > 1 {
                width = width.max(self.width_of(long, longest));
            }
            prev = ln;
        }
        if lines.len() > start {
            ends.push(lines.len());
        }
        (lines, ends)
    }

    /// `_words(text, tokens)`: tokens, with unsegmented scripts counted by characters.
    fn words_of<'a>(&self, cjk: usize, tokens: impl Iterator<Item = &'a [u32]>) -> f64 {
        let p = &self.props;
        if cjk == 0 {
            return tokens.count() as f64;
        }
        let other = tokens.filter(|t| !t.iter().any(|&c| p.is(c, UNSEG))).count();
        other as f64 + cjk as f64 / self.params.cjk_chars_per_word
    }

    /// One pass over each line: its `\w+` tokens, its characters in unsegmented scripts and
    /// its `split()` count, and each token's stoplists. An ASCII character is asked about
    /// in one table load ([`Props::ascii_cls`]), and a token of at most [`ASCII_WORD`] ASCII characters
    /// is lowered into its [`ascii_key`] as it is read and looked up in [`AsciiStops`];
    /// other tokens are lowered (`str.lower()`) and looked up in the full table.
    fn doc<'a>(&self, lines: &'a [&'a [u32]]) -> Doc<'a> {
        let mut d = Doc::new(lines);
        let mut scratch: Vec<u32> = Vec::new();
        for l in lines {
            self.doc_line(l, &mut d, &mut scratch);
        }
        d.first.push(d.spans.len());
        d
    }

    /// [`Classifier::doc`]'s reading of one line, appended to `d`.
    fn doc_line(&self, l: &[u32], d: &mut Doc<'_>, scratch: &mut Vec<u32>) {
        let pr = &self.props;
        d.first.push(d.spans.len());
        if pr.ascii_std && l.iter().fold(0, |a, &c| a | c) < 0x80 {
            self.doc_ascii(l, d, scratch);
            return;
        }
        let (mut start, mut cjk, mut nsplit, mut in_split) = (None, 0usize, 0usize, false);
        let (mut decimal, mut all) = (false, 0u32); // a decimal digit seen; code points, or'ed
                                                    // the token being read: its ASCII key so far (None once a character is not ASCII)
        let mut key: Option<u128> = Some(0);
        for (i, &c) in l.iter().enumerate() {
            all |= c;
            let (word, space, dec, unseg) = match pr.ascii_cls.get(c as usize) {
                Some(&b) => (b & A_WORD != 0, b & A_SPACE != 0, b & A_DECIMAL != 0, b & A_UNSEG != 0),
                None => {
                    let f = pr.uni.flags(c);
                    (
                        f & unicode::ALNUM != 0 || c == 0x5F,
                        f & unicode::SPACE != 0,
                        f & unicode::DECIMAL != 0,
                        pr.is(c, UNSEG),
                    )
                }
            };
            decimal |= dec;
            if word {
                let a = *start.get_or_insert(i);
                let n = i - a;
                key = match key {
                    Some(k) if c < 0x80 && n < ASCII_WORD => Some(k | (ascii_lower(c) as u128) << (8 * n)),
                    _ => None,
                };
            } else if let Some(a) = start.take() {
                d.masks.push(self.token_mask(&l[a..i], key, scratch));
                d.spans.push((a, i));
                key = Some(0);
            }
            if !space && !in_split {
                nsplit += 1;
            }
            in_split = !space;
            if unseg {
                cjk += 1;
            }
        }
        if let Some(a) = start {
            d.masks.push(self.token_mask(&l[a..], key, scratch));
            d.spans.push((a, l.len()));
        }
        d.end_line(cjk, nsplit, decimal, all < 0x80);
    }

    /// [`Classifier::doc`]'s reading of an ASCII line (when [`Props::ascii_std`]): the
    /// characters' classes as bit masks of 64 characters at a time (no branch a character),
    /// then the tokens from the masks' edges; no character is unsegmented. The classes are
    /// the usual `\w`, `\s` and `\d` (which [`Props::ascii_std`] says [`Props::ascii_cls`]
    /// holds): eight characters at a time by AVX2 comparisons where the processor has it,
    /// else one table load a character ([`chunk_classes`]); tested by arithmetic a character,
    /// which the compiler did not vectorise, they cost 26 instructions each.
    fn doc_ascii(&self, l: &[u32], d: &mut Doc<'_>, scratch: &mut Vec<u32>) {
        let (mut nsplit, mut decimal) = (0usize, false);
        let cls = &self.props.ascii_cls;
        // the previous chunk's last character was a word character / not a space
        let (mut word_carry, mut split_carry) = (0u64, 0u64);
        let mut start = 0usize;
        let simd = avx2();
        for (ci, chunk) in l.chunks(64).enumerate() {
            let base = ci * 64;
            let (wm, sm, dm) = chunk_classes(cls, chunk, simd);
            decimal |= dm;
            nsplit += (sm & !((sm << 1) | split_carry)).count_ones() as usize;
            let valid = if chunk.len() == 64 {
                u64::MAX
            } else {
                (1u64 << chunk.len()) - 1
            };
            let shifted = (wm << 1) | word_carry;
            // starts of words, and ends (the first character after one)
            let mut edges = (wm ^ shifted) & valid;
            while edges != 0 {
                let j = edges.trailing_zeros() as usize;
                edges &= edges - 1;
                if wm & (1 << j) != 0 {
                    start = base + j;
                } else {
                    d.masks.push(self.ascii_mask(&l[start..base + j], scratch));
                    d.spans.push((start, base + j));
                }
            }
            word_carry = (wm >> (chunk.len() - 1)) & 1;
            split_carry = (sm >> (chunk.len() - 1)) & 1;
        }
        if word_carry != 0 {
            d.masks.push(self.ascii_mask(&l[start..], scratch));
            d.spans.push((start, l.len()));
        }
        d.end_line(0, nsplit, decimal, true);
    }

    /// The stoplists of the ASCII token `tok`.
    #[inline]
    fn ascii_mask(&self, tok: &[u32], scratch: &mut Vec<u32>) -> u32 {
        if tok.len() <= ASCII_WORD && self.ascii_stops.on {
            // [`ascii_key`] without its checks: `tok` is a `\w` token of an ASCII line, so it
            // is neither empty nor holds NUL or a non-ASCII character (calling it cost the
            // classifier 4-9% in bench/furniture_core.py)
            let key = tok.iter().rev().fold(0u128, |k, &c| (k << 8) | ascii_lower(c) as u128);
            return self.ascii_stops.get(key);
        }
        self.token_mask(tok, None, scratch)
    }

    /// The stoplists of the token `tok` ([`Classifier::stop_mask`] of its `str.lower()`);
    /// `key`: its [`ascii_key`] when it has one (read by [`Classifier::doc`]).
    #[inline]
    fn token_mask(&self, tok: &[u32], key: Option<u128>, scratch: &mut Vec<u32>) -> u32 {
        if let Some(k) = key.filter(|_| self.ascii_stops.on) {
            if !tok.is_empty() && tok.len() <= ASCII_WORD {
                return self.ascii_stops.get(k);
            }
        }
        if tok.len() > self.longest_stop {
            return 0; // (`str.lower()` never shortens a string)
        }
        scratch.clear();
        self.props.lower_into(tok, scratch);
        self.stop_mask(scratch)
    }

    /// `_classify(norm, params, wrapped=...)`: classes, block sizes and the prose lines of
    /// hard-wrapped paragraphs.
    fn classify_doc(&self, d: &Doc<'_>) -> Classes {
        let (p, pr) = (&self.params, &self.props);
        let norm = d.lines;
        let lang = self.pick_masks(d.masks.iter().copied());
        let mut classes = vec![BLANK; norm.len()];
        let mut sizes = vec![0u32; norm.len()];
        let mut wrapped = vec![false; norm.len()];
        // the joined text (`" ".join(...)`) is built only for the rare questions that need
        // it; the counts over it are the lines' counts and the joining spaces'
        let space_unseg = pr.is(0x20, UNSEG) as usize;
        let space_alpha = pr.is(0x20, ALPHA) as usize;
        let (members, ends) = self.blocks_flat(norm, lang);
        let mut first = 0;
        for &end in &ends {
            let block = &members[first..end];
            first = end;
            let joins = block.len() - 1;
            let toks = || block.iter().flat_map(|&i| d.toks(i));
            let cjk = block.iter().map(|&i| d.cjk[i]).sum::<usize>() + joins * space_unseg;
            let nws: usize = block.iter().map(|&i| d.toks(i).len()).sum();
            let n = if cjk == 0 {
                nws as f64
            } else {
                // `_words` of the lowered tokens: lowered one at a time, here only
                let mut low = Vec::new();
                let other = block
                    .iter()
                    .flat_map(|&i| d.toks(i).map(move |t| (i, t)))
                    .filter(|&(i, t)| {
                        low.clear();
                        pr.lower_into(d.tok(i, t), &mut low);
                        !low.iter().any(|&c| pr.is(c, UNSEG))
                    })
                    .count();
                other as f64 + cjk as f64 / p.cjk_chars_per_word
            };
            // the unsegmented share counts letters: a block whose unsegmented characters
            // are all punctuation ("・・・", a katakana middle-dot ellipsis) has no share
            // (the Python classifier divided by zero there and the page failed)
            let alpha = if cjk > 0 {
                block
                    .iter()
                    .map(|&i| norm[i].iter().filter(|&&c| pr.is(c, ALPHA)).count())
                    .sum::<usize>()
                    + joins * space_alpha
            } else {
                0
            };
            let density = if alpha > 0 {
                if cjk as f64 / alpha as f64 >= 0.5 {
                    Some(if self.cjk_punct(&join(norm, block)) { 1.0 } else { 0.0 })
                } else {
                    None
                }
            } else {
                None
            };
            let density = density.unwrap_or_else(|| match lang {
                Some(l) if nws > 0 => toks().filter(|&t| d.masks[t] & (1 << l) != 0).count() as f64 / nws as f64,
                _ => 0.0,
            });
            let good = (n >= p.good_words && (density >= p.good_density || lang.is_none()))
                || (n >= p.long_words
                    && (density >= p.long_density || self.wrapped_sentences(block.len(), &join(norm, block))));
            let cls = if good {
                GOOD
            } else if n < p.short_words {
                SHORT
            } else {
                BAD
            };
            let hard = cls == GOOD && {
                let (mut long, mut longest) = (0usize, 0usize);
                for &i in block {
                    let l = norm[i].len();
                    if l as f64 >= p.wrap_chars {
                        long += 1;
                        longest = longest.max(l);
                    }
                }
                self.width_of(long, longest) > 0
            };
            for &i in block {
                classes[i] = cls;
                sizes[i] = block.len() as u32;
                if hard {
                    wrapped[i] = true;
                }
            }
        }
        for run in self.table_rows(norm, &classes, &d.decimal) {
            for &i in &run {
                classes[i] = GOOD;
                sizes[i] = run.len() as u32;
            }
        }
        (classes, sizes, wrapped)
    }

    /// `_CJK_PUNCT.search(text)`: `[，。！？；、：\u0e2f\u0e46]|[\u0e00-\u0eff] [\u0e00-\u0eff]`.
    fn cjk_punct(&self, s: &[u32]) -> bool {
        let thai = |c: u32| (0x0E00..=0x0EFF).contains(&c);
        s.iter().enumerate().any(|(i, &c)| {
            one_of(c, "，。！？；、：\u{0e2f}\u{0e46}")
                || (thai(c) && s.get(i + 1) == Some(&0x20) && s.get(i + 2).is_some_and(|&d| thai(d)))
        })
    }

    /// `_TERMINAL.search(s)`: `[.!?…:;\"'”’»)。！？」』）]\s*$`.
    pub fn terminal(&self, s: &[u32]) -> bool {
        self.props
            .rstrip(s)
            .last()
            .is_some_and(|&c| one_of(c, ".!?…:;\"'”’»)。！？」』）"))
    }

    /// `_ends_sentence(s)`: `_TERMINAL`, and not `_QUOTE_END` (`\w[\"'”’»)]\s*$`).
    pub fn ends_sentence(&self, s: &[u32]) -> bool {
        let t = self.props.rstrip(s);
        let quote_end = t.len() >= 2 && one_of(t[t.len() - 1], "\"'”’»)") && self.props.is(t[t.len() - 2], WORD);
        self.terminal(s) && !quote_end
    }

    /// `_wrapped_sentences`: a block of two or more lines whose text ends a sentence and
    /// holds two sentence ends (`_SENTENCE_END`: `\w[.!?](?:\s|$)`, matches never overlap).
    fn wrapped_sentences(&self, lines: usize, text: &[u32]) -> bool {
        if lines < 2 || !self.terminal(text) {
            return false;
        }
        let pr = &self.props;
        let n = text.len();
        let ends = (0..n)
            .filter(|&i| {
                pr.is(text[i], WORD)
                    && text.get(i + 1).is_some_and(|&c| one_of(c, ".!?"))
                    && (i + 2 == n || text.get(i + 2).is_some_and(|&c| pr.is(c, SPACE)))
            })
            .take(2)
            .count();
        ends >= 2
    }

    /// `_table_rows(norm, classes)`: runs of non-prose lines with numbers (`_NUMBER`:
    /// `\S*\d\S*`, the whitespace-separated cells holding a decimal digit).
    /// `decimal`: each line holds a decimal digit.
    fn table_rows(&self, norm: &[&[u32]], classes: &[u8], decimal: &[bool]) -> Vec<Vec<usize>> {
        let pr = &self.props;
        let mut out = Vec::new();
        let mut run: Vec<usize> = Vec::new();
        for i in (0..norm.len()).map(Some).chain(std::iter::once(None)) {
            if let Some(i) = i {
                if norm[i].is_empty() {
                    continue;
                }
                if classes[i] != GOOD && decimal[i] {
                    run.push(i);
                    continue;
                }
            }
            if run.len() as f64 >= self.params.table_rows {
                let mut distinct: Vec<&[u32]> = run
                    .iter()
                    .flat_map(|&k| pr.split(norm[k]).filter(|t| t.iter().any(|&c| pr.is(c, DECIMAL))))
                    .collect();
                distinct.sort_unstable();
                distinct.dedup();
                if distinct.len() as f64 >= self.params.table_figures * run.len() as f64 {
                    out.push(std::mem::take(&mut run));
                }
            }
            run.clear();
        }
        out
    }

    /// `is_byline(line)`: a short line with a time, a numeric date, or a year and a day.
    pub fn is_byline(&self, s: &[u32], nsplit: usize) -> bool {
        let decimal = s.iter().any(|&c| self.props.is(c, DECIMAL));
        self.byline(s, nsplit, decimal, &mut Vec::new())
    }

    /// [`Classifier::is_byline`] knowing whether the line holds a decimal digit (`decimal`);
    /// `scratch`: a buffer for the line without its years.
    fn byline(&self, s: &[u32], nsplit: usize, decimal: bool, scratch: &mut Vec<u32>) -> bool {
        // every pattern needs a decimal digit: most lines have none
        if nsplit as f64 > self.params.byline_words || !decimal {
            return false;
        }
        // each pattern's literal first: a time has a colon, a numeric date a separator
        if (s.contains(&0x3A) && self.time(s)) || (s.iter().any(|&c| matches!(c, 0x2D..=0x2F)) && self.num_date(s)) {
            return true;
        }
        self.sub_years(s, scratch) && self.day(scratch)
    }

    /// `_TIME.search`: `\b\d{1,2}:\d{2}\b`.
    fn time(&self, s: &[u32]) -> bool {
        let pr = &self.props;
        (0..s.len()).any(|i| {
            pr.boundary(s, i)
                && [2usize, 1].iter().any(|&k| {
                    (i..i + k).all(|j| pr.dec(s, j))
                        && s.get(i + k) == Some(&ch(':'))
                        && pr.dec(s, i + k + 1)
                        && pr.dec(s, i + k + 2)
                        && pr.boundary(s, i + k + 3)
                })
        })
    }

    /// `_NUM_DATE.search`: `\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b`.
    fn num_date(&self, s: &[u32]) -> bool {
        let pr = &self.props;
        let sep = |j: usize| s.get(j).is_some_and(|&c| one_of(c, "./-"));
        let digits = |a: usize, k: usize| (a..a + k).all(|j| pr.dec(s, j));
        (0..s.len()).any(|i| {
            pr.boundary(s, i)
                && (1..=4).any(|a| {
                    digits(i, a)
                        && sep(i + a)
                        && (1..=2).any(|b| {
                            let j = i + a + 1;
                            digits(j, b)
                                && sep(j + b)
                                && (1..=4).any(|c| digits(j + b + 1, c) && pr.boundary(s, j + b + 1 + c))
                        })
                })
        })
    }

    /// Whether `_YEAR` (`\b(?:19|20)\d{2}\b`) matches; `_YEAR.sub(" ", s)` written to `out`.
    fn sub_years(&self, s: &[u32], out: &mut Vec<u32>) -> bool {
        let pr = &self.props;
        out.clear();
        let mut found = false;
        let mut i = 0;
        while i < s.len() {
            let century = matches!(
                (s.get(i), s.get(i + 1)),
                (Some(&0x31), Some(&0x39)) | (Some(&0x32), Some(&0x30))
            );
            if century && pr.boundary(s, i) && pr.dec(s, i + 2) && pr.dec(s, i + 3) && pr.boundary(s, i + 4) {
                out.push(0x20);
                found = true;
                i += 4;
            } else {
                out.push(s[i]);
                i += 1;
            }
        }
        found
    }

    /// `_DAY.search`: `(?<![\d:.,])\b(?:[12]?\d|3[01])\b(?![:.,]?\d)`.
    fn day(&self, s: &[u32]) -> bool {
        let pr = &self.props;
        let at = |j: usize| s.get(j).copied();
        (0..s.len()).any(|i| {
            if i > 0 && (pr.dec(s, i - 1) || one_of(s[i - 1], ":.,")) || !pr.boundary(s, i) {
                return false;
            }
            let mut ends = [None; 3];
            if at(i).is_some_and(|c| c == 0x31 || c == 0x32) && pr.dec(s, i + 1) {
                ends[0] = Some(i + 2);
            }
            if pr.dec(s, i) {
                ends[1] = Some(i + 1);
            }
            if at(i) == Some(0x33) && at(i + 1).is_some_and(|c| c == 0x30 || c == 0x31) {
                ends[2] = Some(i + 2);
            }
            ends.iter().flatten().any(|&e| {
                pr.boundary(s, e) && !(pr.dec(s, e) || (at(e).is_some_and(|c| one_of(c, ":.,")) && pr.dec(s, e + 1)))
            })
        })
    }

    /// `_ENDS_DATED.search`: `\b(?:19|20)\d{2}\W*$`.
    fn ends_dated(&self, s: &[u32]) -> bool {
        let pr = &self.props;
        let t = s.iter().rposition(|&c| pr.is(c, WORD)).map_or(0, |p| p + 1);
        t >= 4 && {
            let i = t - 4;
            matches!((s[i], s[i + 1]), (0x31, 0x39) | (0x32, 0x30))
                && pr.dec(s, i + 2)
                && pr.dec(s, i + 3)
                && pr.boundary(s, i)
        }
    }

    /// `_TRUNCATED.search`: `\w(?:\.\.\.|…)$`.
    fn truncated(&self, s: &[u32]) -> bool {
        let pr = &self.props;
        at_end(s, |t| {
            let n = t.len();
            (n >= 2 && t[n - 1] == ch('…') && pr.is(t[n - 2], WORD))
                || (n >= 4 && t[n - 3..] == [0x2E, 0x2E, 0x2E] && pr.is(t[n - 4], WORD))
        })
    }

    /// `is_teaser(line, params, counts)`; `repeated(token)`: the token occurs more than once
    /// on the page (None: no counts).
    pub fn is_teaser(&self, line: &[u32], repeated: Option<Repeated<'_>>) -> bool {
        let ascii = line.iter().all(|&c| c < 0x80);
        self.teaser(line, &self.props.word_spans(line), ascii, repeated)
    }

    /// [`Classifier::is_teaser`] with the line's `\w+` spans (`spans`) at hand: the tokens
    /// of its first 200 characters are those spans, the one across the cut cut short;
    /// `ascii`: the line is ASCII.
    fn teaser(&self, line: &[u32], spans: &[(usize, usize)], ascii: bool, repeated: Option<Repeated<'_>>) -> bool {
        let pr = &self.props;
        let cut = line.len().min(200);
        let h = &line[..cut];
        let words = !ascii || ascii_glue(h);
        if words {
            for &(a, b) in spans.iter().take_while(|&&(a, _)| a < cut) {
                let tok = &h[a..b.min(cut)];
                // glue needs a capital followed by a lower-case letter inside the token: asked
                // first, since most tokens have none (every test here is pure: the order of
                // the tests changes no answer)
                let pair = |j: usize| pr.is(tok[j], UPPER) && pr.is(tok[j + 1], LOWER);
                if tok.len() < 5 || !(3..tok.len() - 1).any(pair) || pr.islower(&tok[3..]) || pr.isupper(tok) {
                    continue;
                }
                // the glue test first, the page's counts only for a token that has glue
                // (the test reads nothing else: the order changes no answer)
                let glued = (3..tok.len() - 1).any(|j| {
                    let three = &tok[j - 3..j];
                    pr.is(tok[j], UPPER)
                        && pr.is(tok[j + 1], LOWER)
                        && pr.islower(three)
                        && pr.isalpha(three)
                        && self.glued_at(line, a + j)
                });
                if glued && !repeated.is_some_and(|r| r(tok)) {
                    return true;
                }
            }
        }
        // _GLUE_PUNCT: (?<=[\w.?!…)\]])[?!”\"’]\S, matches taken left to right, not overlapping
        // (from the first of those characters: the scan moves one at a time up to it)
        let mut i = match h.get(1..).and_then(first_glue_punct) {
            Some(k) => k + 1,
            None => return false,
        };
        while i + 1 < h.len() {
            let hit = matches!(h[i], 0x3F | 0x21 | 0x201D | 0x22 | 0x2019) // ?!”"’
                && (pr.is(h[i - 1], WORD) || one_of(h[i - 1], ".?!…)]"))
                && !pr.is(h[i + 1], SPACE);
            if hit {
                if pr.is(h[i + 1], UPPER) && self.glued_at(line, i + 1) {
                    return true;
                }
                i += 2;
            } else {
                // on to the next of those characters (none in between can match)
                i = match h.get(i + 1..h.len() - 1).and_then(first_glue_punct) {
                    Some(k) => i + 1 + k,
                    None => return false,
                };
            }
        }
        false
    }

    /// `_glued_at(line, pos)`.
    fn glued_at(&self, line: &[u32], pos: usize) -> bool {
        let pr = &self.props;
        let (head, tail) = line.split_at(pos.min(line.len()));
        let hw = pr.split_count(head) as f64;
        self.params.teaser_words <= hw
            && hw <= 25.0
            && !head.windows(2).any(|w| w == [0x2E, 0x20])
            && pr.split_count(tail) >= 5
    }

    /// `_field_key(line)`: "label:" of a `Label: value` line (`_FIELD_LABEL`:
    /// `^(\w[\w .'-]{0,30}?):\s*\S`), else the line when it has at most 8 words, lowered.
    pub fn field_key(&self, s: &[u32], nsplit: usize) -> Vec<u32> {
        let mut key = Vec::new();
        self.field_key_into(s, nsplit, &mut key);
        key
    }

    /// [`Classifier::field_key`] written to `key` (cleared first; left empty for "").
    fn field_key_into(&self, s: &[u32], nsplit: usize, key: &mut Vec<u32>) {
        let pr = &self.props;
        key.clear();
        if s.first().is_some_and(|&c| pr.is(c, WORD)) {
            let stop = s
                .iter()
                .enumerate()
                .skip(1)
                .take(31)
                .find(|&(_, &c)| !(pr.is(c, WORD) || one_of(c, " .'-")));
            if let Some((k, &0x3A)) = stop {
                if s[k + 1..].iter().any(|&c| !pr.is(c, SPACE)) {
                    pr.lower_into(&s[..k], key);
                    key.push(0x3A);
                    return;
                }
            }
        }
        if nsplit <= 8 {
            pr.lower_into(s, key);
        }
    }

    /// Everything the region finder asks of a document's (collapsed) lines.
    pub fn analyse(&self, lines: &[&[u32]]) -> Analysis {
        let pr = &self.props;
        let d = self.doc(lines);
        let (classes, sizes, wrapped) = self.classify_doc(&d);
        // whether a token occurs more than once on the page, asked only by a teaser test for
        // a token with a capital glued inside it: the first few are answered by looking for
        // a second occurrence among the page's tokens, and a page that asks more often gets
        // the page's token counts
        let asked = std::cell::Cell::new(0u32);
        let counts: std::cell::OnceCell<FxMap<&[u32], u32>> = std::cell::OnceCell::new();
        let repeated = |t: &[u32]| {
            asked.set(asked.get() + 1);
            if asked.get() <= 4 {
                let mut seen = 0;
                for (i, l) in lines.iter().enumerate() {
                    for &(a, b) in &d.spans[d.toks(i)] {
                        if b - a == t.len() && &l[a..b] == t {
                            seen += 1;
                            if seen > 1 {
                                return true;
                            }
                        }
                    }
                }
                return false;
            }
            let counts = counts.get_or_init(|| {
                let mut m: FxMap<&[u32], u32> = FxMap::default();
                for (i, l) in lines.iter().enumerate() {
                    for &(a, b) in &d.spans[d.toks(i)] {
                        *m.entry(&l[a..b]).or_insert(0) += 1;
                    }
                }
                m
            });
            counts.get(t).is_some_and(|&n| n > 1)
        };
        let mut keys_of = Interner::with_capacity(lines.len());
        let (mut key, mut scratch) = (Vec::new(), Vec::new());
        let n = lines.len();
        let mut a = Analysis {
            classes,
            sizes,
            wrapped,
            ntok: Vec::with_capacity(n),
            nsplit: Vec::with_capacity(n),
            words: Vec::with_capacity(n),
            split_words: Vec::with_capacity(n),
            flags: Vec::with_capacity(n),
            keys: Vec::with_capacity(n),
        };
        for (i, l) in lines.iter().enumerate() {
            let (nsplit, cjk) = (d.nsplit[i], d.cjk[i]);
            let spans = &d.spans[d.toks(i)];
            a.ntok.push(spans.len() as u32);
            a.nsplit.push(nsplit as u32);
            if cjk == 0 {
                // `_words` of a line without unsegmented characters: its token count
                a.words.push(spans.len() as f64);
                a.split_words.push(nsplit as f64);
            } else {
                a.words.push(self.words_of(cjk, spans.iter().map(|&(x, y)| &l[x..y])));
                a.split_words.push(self.words_of(cjk, pr.split(l)));
            }
            let mut f = 0u8;
            if self.byline(l, nsplit, d.decimal[i], &mut scratch) {
                f |= F_BYLINE;
            }
            if self.ends_dated(l) {
                f |= F_ENDS_DATED;
            }
            if a.classes[i] == GOOD && self.teaser(l, spans, d.ascii[i], Some(&repeated)) {
                f |= F_TEASER;
            }
            if self.ends_sentence(l) {
                f |= F_ENDS_SENTENCE;
            }
            if self.terminal(l) {
                f |= F_TERMINAL;
            }
            if self.truncated(l) {
                f |= F_TRUNCATED;
            }
            self.field_key_into(l, nsplit, &mut key);
            let id = if key.is_empty() {
                0
            } else {
                if key.iter().any(|&c| pr.is(c, DIGIT)) {
                    f |= F_KEY_DIGIT;
                }
                keys_of.id(&key)
            };
            a.keys.push(id);
            a.flags.push(f);
        }
        a
    }

    /// What `main_block` asks of a document's (collapsed) lines, and no more: classes, the
    /// dated lines (`is_byline`, asked of the non-blank lines only) and `\w+` token counts.
    pub fn prose_lines(&self, lines: &[&[u32]]) -> (Vec<u8>, Vec<bool>, Vec<u32>) {
        let d = self.doc(lines);
        let (classes, _, _) = self.classify_doc(&d);
        let mut scratch = Vec::new();
        let dated = (0..lines.len())
            .map(|i| classes[i] != BLANK && self.byline(lines[i], d.nsplit[i], d.decimal[i], &mut scratch))
            .collect();
        let ntok = (0..lines.len()).map(|i| d.toks(i).len() as u32).collect();
        (classes, dated, ntok)
    }

    /// `classify` alone (classes and block sizes), for callers that need no more.
    pub fn classify(&self, lines: &[&[u32]]) -> (Vec<u8>, Vec<u32>) {
        let d = self.doc(lines);
        let (c, s, _) = self.classify_doc(&d);
        (c, s)
    }

    /// [`Classifier::classify`] of lines some of which another reader has tokenised already
    /// (the dedup features' tokenizer, `crate::features::line_classes`): `known(i)`, for an
    /// ASCII line without `_`, gives its `str.split()` count and each of its `\w+` tokens
    /// (there the runs of ASCII letters and digits) as its start in the line, its length,
    /// and its characters lowered followed by whatever the reader holds after them (the
    /// token is their first `length`; what follows lets its key be read in one load); None
    /// for a line read here. Reading those lines again was a fifth of the features' instructions.
    pub fn classify_known<'k, I>(
        &self,
        lines: &[&[u32]],
        known: impl Fn(usize) -> Option<(usize, I)>,
    ) -> (Vec<u8>, Vec<u32>)
    where
        I: Iterator<Item = KnownToken<'k>>,
    {
        let d = self.doc_known(lines, known);
        let (c, s, _) = self.classify_doc(&d);
        (c, s)
    }

    /// [`Classifier::doc`] with the tokens of the lines `known` gives (see
    /// [`Classifier::classify_known`]); the others read by [`Classifier::doc_line`], into the
    /// same [`Doc`].
    fn doc_known<'a, 'k, I>(&self, lines: &'a [&'a [u32]], known: impl Fn(usize) -> Option<(usize, I)>) -> Doc<'a>
    where
        I: Iterator<Item = KnownToken<'k>>,
    {
        if !self.props.ascii_std {
            return self.doc(lines); // (`\w` of an ASCII character is not the usual one)
        }
        let mut d = Doc::new(lines);
        let mut scratch: Vec<u32> = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let Some((nsplit, tokens)) = known(i) else {
                self.doc_line(l, &mut d, &mut scratch);
                continue;
            };
            debug_assert!(
                l.iter().all(|&c| c < 0x80 && c != 0x5F),
                "a known line is ASCII without _"
            );
            d.first.push(d.spans.len());
            let mut decimal = false;
            for (start, n, low) in tokens {
                let (mask, digit) = self.lowered_mask(low, n, &mut scratch);
                decimal |= digit;
                d.masks.push(mask);
                d.spans.push((start, start + n));
            }
            d.end_line(0, nsplit, decimal, true);
        }
        d.first.push(d.spans.len());
        d
    }

    /// [`Classifier::ascii_mask`] of the token `low[..n]`, given lowered (ASCII letters and
    /// digits), and whether it holds a digit.
    #[inline]
    fn lowered_mask(&self, low: &[u8], n: usize, scratch: &mut Vec<u32>) -> (u32, bool) {
        let low_n = low.get(..n).unwrap_or(low);
        if n <= ASCII_WORD && self.ascii_stops.on {
            // the key: the token's bytes, little-endian, read in one load when 16 bytes
            // follow its start (the rest masked off); a digit's byte is the only one
            // without 0x40 (lower-case letters have it)
            let key = match low.get(..ASCII_WORD) {
                Some(w) => u128::from_le_bytes(w.try_into().unwrap_or([0; ASCII_WORD])),
                None => low_n.iter().rev().fold(0u128, |k, &c| (k << 8) | c as u128),
            };
            let held = u128::MAX.checked_shr(8 * (ASCII_WORD - n) as u32).unwrap_or(0);
            let (key, letters) = (key & held, 0x4040_4040_4040_4040_4040_4040_4040_4040u128 & held);
            return (self.ascii_stops.get(key), key & letters != letters);
        }
        scratch.clear();
        scratch.extend(low_n.iter().map(|&c| u32::from(c)));
        (self.stop_mask(scratch), low_n.iter().any(u8::is_ascii_digit))
    }

    /// Whether [`Classifier::doc_known`] reads `lines` as [`Classifier::doc`] does, field by
    /// field (the features' test of the lines they know).
    #[cfg(test)]
    pub(crate) fn reads_known_as_doc<'k, I>(
        &self,
        lines: &[&[u32]],
        known: impl Fn(usize) -> Option<(usize, I)>,
    ) -> Result<(), String>
    where
        I: Iterator<Item = KnownToken<'k>>,
    {
        let (a, b) = (self.doc(lines), self.doc_known(lines, known));
        // every field named: a new one is a compile error here until it is compared
        let Doc {
            lines: _,
            first,
            spans,
            masks,
            cjk,
            nsplit,
            decimal,
            ascii,
        } = &b;
        let fields = [
            ("first", a.first == *first),
            ("spans", a.spans == *spans),
            ("masks", a.masks == *masks),
            ("cjk", a.cjk == *cjk),
            ("nsplit", a.nsplit == *nsplit),
            ("decimal", a.decimal == *decimal),
            ("ascii", a.ascii == *ascii),
        ];
        match fields.iter().find(|f| !f.1) {
            Some((name, _)) => Err(format!("{name} differ")),
            None => Ok(()),
        }
    }
}

/// Numbers for distinct strings of code points, 1, 2, ... in the order they are first seen:
/// the strings kept one after another in one buffer, found by a 64-bit hash and compared in
/// full (strings with the same hash are chained), so no allocation per string.
struct Interner {
    buf: Vec<u32>,
    /// where string `id - 1` ends in `buf`, and the previous string with its hash (0: none)
    ends: Vec<(usize, u32)>,
    /// hash -> the last string (id) with it
    last: FxMap<u64, u32>,
}

impl Interner {
    fn with_capacity(n: usize) -> Self {
        Interner {
            buf: Vec::new(),
            ends: Vec::with_capacity(n),
            last: FxMap::with_capacity_and_hasher(n, Default::default()),
        }
    }

    fn get(&self, id: u32) -> &[u32] {
        let k = id as usize - 1;
        let start = if k == 0 { 0 } else { self.ends[k - 1].0 };
        &self.buf[start..self.ends[k].0]
    }

    /// The number of `s` (a new one when it was not seen).
    fn id(&mut self, s: &[u32]) -> u32 {
        let mut h = FxHasher::default();
        for &c in s {
            h.add(c as u64);
        }
        h.add(s.len() as u64);
        let hash = h.finish();
        let head = self.last.get(&hash).copied().unwrap_or(0);
        let mut at = head;
        while at != 0 {
            if self.get(at) == s {
                return at;
            }
            at = self.ends[at as usize - 1].1;
        }
        self.buf.extend_from_slice(s);
        self.ends.push((self.buf.len(), head));
        let id = self.ends.len() as u32;
        self.last.insert(hash, id);
        id
    }
}

/// `" ".join(norm[i] for i in block)`.
fn join(norm: &[&[u32]], block: &[usize]) -> Vec<u32> {
    let mut out = Vec::new();
    for (n, &i) in block.iter().enumerate() {
        if n > 0 {
            out.push(0x20);
        }
        out.extend_from_slice(norm[i]);
    }
    out
}

/// `FurnitureParams`' defaults, for the tests of the modules that run the classifier.
#[cfg(test)]
pub(crate) fn default_params() -> HashMap<String, f64> {
    [
        ("good_words", 10.0),
        ("good_density", 0.25),
        ("long_words", 30.0),
        ("long_density", 0.12),
        ("short_words", 4.0),
        ("cjk_chars_per_word", 1.7),
        ("wrap_chars", 40.0),
        ("wrap_width", 60.0),
        ("wrap_max", 100.0),
        ("wrap_slack", 1.1),
        ("wrap_fill", 0.8),
        ("teaser_words", 3.0),
        ("byline_words", 15.0),
        ("dated_words", 25.0),
        ("table_rows", 3.0),
        ("table_figures", 1.5),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier() -> Classifier {
        let props = Props::new(&[(0x0E00, 0x0EFF), (0x4E00, 0x9FFF)]).unwrap();
        let m = default_params();
        let stops = vec![["the", "of", "and", "a", "in", "to", "is", "was", "it", "that", "for"]
            .iter()
            .map(|s| s.to_string())
            .collect()];
        Classifier::new(props, &stops, Params::from_map(&m).unwrap()).unwrap()
    }

    fn cps(s: &str) -> Vec<u32> {
        s.chars().map(|c| c as u32).collect()
    }

    #[test]
    fn bylines() {
        let c = classifier();
        let t = |s: &str| c.is_byline(&cps(s), c.props.split_count(&cps(s)));
        assert!(t("Anna on March 3, 2024 at 9:15 am said:"));
        assert!(t("12.05.2019 14:00"));
        assert!(!t(
            "The council met in 2019 to discuss the plan for the new bus depot in town."
        ));
        assert!(t("May 31, 2019"));
        assert!(!t("In 2019"));
    }

    #[test]
    fn teasers() {
        let c = classifier();
        assert!(c.is_teaser(
            &cps("Tape Gaffe Ends Title RaceDenny Hamlin's run was over in a moment"),
            None
        ));
        assert!(!c.is_teaser(&cps("Watch it on YouTube now"), None));
    }

    #[test]
    fn field_keys() {
        let c = classifier();
        let k = |s: &str| String::from_iter(c.field_key(&cps(s), 9).iter().map(|&x| char::from_u32(x).unwrap()));
        assert_eq!(k("Posts: 240"), "posts:");
        assert_eq!(k("Posts:"), "");
        assert_eq!(k("a b c d e f g h i j"), "");
    }

    #[test]
    fn classes_of_a_page() {
        let c = classifier();
        let prose = "It was the best of times and it was the worst of times, in the town that we knew.";
        let lines: Vec<Vec<u32>> = ["Home", "News", "", prose, prose, "Contact us"]
            .iter()
            .map(|s| cps(s))
            .collect();
        let a = c.analyse(&lines.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert_eq!(a.classes, vec![SHORT, SHORT, BLANK, GOOD, GOOD, SHORT]);
        assert_eq!(a.keys[0], a.keys[0]);
        assert_ne!(a.keys[0], 0);
        assert_eq!(a.keys[3], 0);
    }

    #[test]
    fn every_stopword_is_found_and_no_other_word() {
        let c = classifier();
        for w in ["the", "of", "and", "a", "in", "to", "is", "was", "it", "that", "for"] {
            assert_eq!(c.stop_mask(&cps(w)), 1, "{w}");
        }
        for w in ["thee", "th", "", "Bridge", "x", "forward", "\u{10FFFF}"] {
            assert_eq!(c.stop_mask(&cps(w)), 0, "{w}");
        }
        assert_eq!(c.stop_mask(&[0x74, 0x68, 0x110000]), 0);
    }

    #[test]
    fn short_keys_are_one_to_one() {
        assert_ne!(short_key(&[0]), short_key(&[0, 0]));
        assert_ne!(short_key(&[1, 0]), short_key(&[0, 1]));
        assert_ne!(short_key(&[0x10FFFF; 6]), short_key(&[0x10FFFF; 5]));
        assert_eq!(short_key(&[0x61; 7]), None);
        assert_eq!(short_key(&[0x110000]), None);
    }

    #[test]
    fn collapsed_lines_are_their_own_collapse() {
        let c = classifier();
        for s in ["", "a", "a b", " a", "a ", "a  b", "a\tb", "a\u{a0}b", " ", "\u{3000}"] {
            let line = cps(s);
            let mut out = Vec::new();
            c.props.collapse_into(&line, &mut out);
            let want: Vec<u32> = cps(&s.split_whitespace().collect::<Vec<_>>().join(" "));
            assert_eq!(out, want, "{s:?}");
            assert_eq!(c.props.collapsed(&line), out == line, "{s:?}");
        }
    }

    /// A classifier with these stoplists and the default thresholds.
    fn classifier_with(stops: &[Vec<String>]) -> Classifier {
        let c = classifier();
        Classifier::new(
            Props::new(&[(0x0E00, 0x0EFF), (0x4E00, 0x9FFF)]).unwrap(),
            stops,
            c.params.clone(),
        )
        .unwrap()
    }

    /// The classes of a chunk of ASCII characters, eight at a time by comparisons (AVX2),
    /// are the table's: every ASCII character in every lane (at every seventh place: 7 and 8
    /// share no factor) of chunks of every length up to 64, and random chunks.
    #[test]
    fn chunk_classes_by_comparisons_are_the_tables() {
        let c = classifier();
        let cls = &c.props.ascii_cls;
        assert!(c.props.ascii_std);
        let Some(simd) = avx2() else {
            // (nothing to compare: the table is the only reading; said, not passed silently)
            eprintln!("chunk_classes_by_comparisons_are_the_tables: no AVX2 here, table only");
            return;
        };
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 128) as u32
        };
        let mut chunks: Vec<Vec<u32>> = vec![];
        for len in 0..=64usize {
            for c in 0..128u32 {
                chunks.push(
                    (0..len)
                        .map(|j| if j % 7 == (c as usize) % 7 { c } else { 0x61 })
                        .collect(),
                );
            }
            for _ in 0..50 {
                chunks.push((0..len).map(|_| next()).collect());
            }
        }
        for chunk in &chunks {
            assert_eq!(
                chunk_classes(cls, chunk, Some(simd)),
                chunk_classes_table(cls, chunk, 0),
                "{chunk:?}"
            );
            assert_eq!(chunk_classes(cls, chunk, None), chunk_classes_table(cls, chunk, 0));
        }
    }

    /// The ASCII reading of a line ([`Classifier::doc_ascii`], the packed-key stopword
    /// table) gives what the general one does: `\w+` spans, `split()` counts, digits, and
    /// each token's stoplists as `str.lower()` and the full table give them. Random lines
    /// of ASCII characters (all spaces and controls among them, words across the 64-character
    /// blocks, tokens around the 8- and 16-character key sizes, stopwords in mixed case),
    /// with 16 stoplists and with 17 (where the ASCII table is off).
    #[test]
    fn ascii_reading_equals_the_general_one() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let letters = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
        let word = |len: usize, next: &mut dyn FnMut(usize) -> usize| -> String {
            (0..len).map(|_| letters[next(letters.len())] as char).collect()
        };
        for nlists in [16usize, 17] {
            let lists: Vec<Vec<String>> = (0..nlists)
                .map(|_| {
                    (0..60)
                        .map(|_| word(1 + next(20), &mut next).to_lowercase())
                        .chain(["the".to_string(), "und".to_string()])
                        .collect()
                })
                .collect();
            let c = classifier_with(&lists);
            let all: Vec<&String> = lists.iter().flatten().collect();
            for _ in 0..400 {
                let mut line = String::new();
                for _ in 0..next(40) {
                    let tok = match next(4) {
                        0 => {
                            let w = all[next(all.len())];
                            // in mixed case: the lookup lowers it
                            w.chars()
                                .map(|ch| if next(2) == 0 { ch.to_ascii_uppercase() } else { ch })
                                .collect()
                        }
                        1 => word([7, 8, 9, 15, 16, 17][next(6)], &mut next),
                        _ => word(1 + next(12), &mut next),
                    };
                    line.push_str(&tok);
                    let sep = [
                        " ", " ", ", ", "  ", "\t", "\x0b", "\x0c", "\x1c", "\x1f", "-", ".", "\x7f", "'", "",
                    ];
                    line.push_str(sep[next(sep.len())]);
                }
                let l = cps(&line);
                let lines = [l.as_slice()];
                let d = c.doc(&lines);
                let pr = &c.props;
                assert!(d.ascii[0]);
                let spans = pr.word_spans(&l);
                assert_eq!(d.spans, spans, "{line:?}");
                assert_eq!(d.nsplit[0], pr.split_count(&l), "{line:?}");
                assert_eq!(d.decimal[0], l.iter().any(|&ch| pr.is(ch, DECIMAL)), "{line:?}");
                assert_eq!(d.cjk[0], 0);
                for (t, &(a, b)) in spans.iter().enumerate() {
                    let low = pr.lower(&l[a..b]);
                    let want = c.stops.get(&low).copied().unwrap_or(0);
                    assert_eq!(d.masks[t], want, "{:?}", &line[a..b]);
                    assert_eq!(c.stop_mask(&low), want);
                }
            }
            // a word is not the stopword it starts with, whatever follows it (NUL included:
            // last_word_stop asks about space-separated words, which may hold one)
            for w in ["the", "und"] {
                let mut with_nul = cps(w);
                with_nul.push(0);
                assert_ne!(c.stop_mask(&cps(w)), 0);
                assert_eq!(c.stop_mask(&with_nul), c.stops.get(&with_nul).copied().unwrap_or(0));
                assert_eq!(c.stop_mask(&with_nul), 0, "{w:?} + NUL");
            }
        }
    }

    #[test]
    fn no_panic_on_odd_input() {
        let c = classifier();
        let lines: Vec<&[u32]> = vec![&[0xD800, 0x3A3, 0x10FFFF, 0x110000], &[], &[0x0A]];
        let _ = c.analyse(&lines);
        assert!(!c.ends_dated(&[0x31, 0x39]));
    }
}

/// The Python face of the classifier: `cleaner._native.Furniture`.
pub mod py {
    use std::collections::HashMap;

    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;
    use pyo3::types::{PyBytes, PyString};

    use super::{Analysis, Classifier, Params, Props};

    /// A `str` as code points (lone surrogates included).
    pub(crate) fn cps(s: &Bound<'_, PyString>) -> PyResult<Vec<u32>> {
        match s.to_str() {
            Ok(t) => {
                // sized once (a `str` has at most as many characters as UTF-8 bytes): collect()
                // would grow it from a quarter of that, copying it two or three times
                let mut v = Vec::with_capacity(t.len());
                v.extend(t.chars().map(|c| c as u32));
                Ok(v)
            }
            Err(_) => {
                let b = s.call_method1("encode", ("utf-32-le", "surrogatepass"))?;
                let b = b.cast::<PyBytes>()?.as_bytes();
                Ok(b.chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect())
            }
        }
    }

    fn text(v: &[u32]) -> String {
        v.iter().filter_map(|&c| char::from_u32(c)).collect()
    }

    /// A document's lines as code points, one after another in one buffer (a page has
    /// hundreds of lines: one allocation, not one a line).
    #[derive(Default)]
    pub(crate) struct Flat {
        buf: Vec<u32>,
        /// where each line ends in `buf`
        ends: Vec<usize>,
    }

    impl Drop for Flat {
        fn drop(&mut self) {
            super::Spare::give(|s| &mut s.cps, &mut self.buf);
        }
    }

    impl Flat {
        /// The code points of `lines` (lone surrogates included).
        pub(crate) fn read(lines: &[Bound<'_, PyString>]) -> PyResult<Flat> {
            let mut f = Flat {
                buf: super::Spare::take(|s| &mut s.cps, 0),
                ends: Vec::with_capacity(lines.len()),
            };
            let texts: Vec<PyResult<&str>> = lines.iter().map(|s| s.to_str()).collect();
            // (at most as many characters as UTF-8 bytes: one reservation for the page)
            f.buf
                .reserve(texts.iter().map(|t| t.as_ref().map_or(0, |t| t.len())).sum());
            for (s, t) in lines.iter().zip(texts) {
                match t {
                    Ok(t) if t.is_ascii() => f.buf.extend(t.bytes().map(u32::from)),
                    Ok(t) => f.buf.extend(t.chars().map(|c| c as u32)),
                    Err(_) => f.buf.extend(cps(s)?),
                }
                f.ends.push(f.buf.len());
            }
            Ok(f)
        }

        /// Each line's `collapse` (`" ".join(line.split())`).
        fn collapsed(&self, pr: &Props) -> Flat {
            let mut f = Flat {
                buf: Vec::with_capacity(self.buf.len()),
                ends: Vec::with_capacity(self.ends.len()),
            };
            for l in self.lines() {
                pr.collapse_into(l, &mut f.buf);
                f.ends.push(f.buf.len());
            }
            f
        }

        /// The lines, as slices of the buffer.
        pub(crate) fn lines(&self) -> Vec<&[u32]> {
            let mut start = 0;
            self.ends
                .iter()
                .map(|&end| {
                    let line = self.buf.get(start..end).unwrap_or(&[]);
                    start = end;
                    line
                })
                .collect()
        }
    }

    /// Runs `f` with the GIL released; a panic (a bug) becomes a `RuntimeError`.
    fn guarded<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
        crate::guarded(py, f)
    }

    type Lines = (
        Py<PyBytes>,
        Vec<u32>,
        Py<PyBytes>,
        Vec<u32>,
        Vec<u32>,
        Vec<f64>,
        Vec<f64>,
        Py<PyBytes>,
        Vec<u32>,
    );

    /// The furniture classifier's stoplists, thresholds and Unicode tables, built once.
    #[pyclass(frozen, name = "Furniture", module = "cleaner._native")]
    pub struct PyFurniture(pub(crate) std::sync::Arc<Classifier>);

    #[pymethods]
    impl PyFurniture {
        /// `unsegmented`: the inclusive code point ranges of `cleaner.scripts.UNSEGMENTED_RANGES`;
        /// `stoplists`: lower-case words of each language; `params`: thresholds.
        #[new]
        fn new(
            unsegmented: Vec<(u32, u32)>,
            stoplists: Vec<Vec<String>>,
            params: HashMap<String, f64>,
        ) -> PyResult<Self> {
            let props = Props::new(&unsegmented).map_err(PyValueError::new_err)?;
            let params = Params::from_map(&params).map_err(PyValueError::new_err)?;
            Classifier::new(props, &stoplists, params)
                .map(|c| PyFurniture(std::sync::Arc::new(c)))
                .map_err(PyValueError::new_err)
        }

        /// Parameter names the classifier reads.
        #[staticmethod]
        fn param_names() -> Vec<&'static str> {
            Params::NAMES.to_vec()
        }

        /// Everything the region finder asks of a document's collapsed lines: classes
        /// (bytes: 0 blank, 1 good, 2 bad, 3 short), block sizes, wrapped (bytes), `\w+`
        /// token counts, `split()` counts, words of each (see `_words`), flags (bytes), field
        /// key numbers.
        fn analyse<'py>(&self, py: Python<'py>, lines: Vec<Bound<'py, PyString>>) -> PyResult<Lines> {
            let flat = Flat::read(&lines)?;
            let a: Analysis = guarded(py, || self.0.analyse(&flat.lines()))?;
            let wrapped: Vec<u8> = a.wrapped.iter().map(|&w| w as u8).collect();
            Ok((
                PyBytes::new(py, &a.classes).unbind(),
                a.sizes,
                PyBytes::new(py, &wrapped).unbind(),
                a.ntok,
                a.nsplit,
                a.words,
                a.split_words,
                PyBytes::new(py, &a.flags).unbind(),
                a.keys,
            ))
        }

        /// Classes (bytes, as in `analyse`) and block sizes of the lines; `collapse`: the
        /// lines are collapsed first (`" ".join(line.split())`), as the classifier reads them.
        #[pyo3(signature = (lines, collapse=false))]
        fn classify<'py>(
            &self,
            py: Python<'py>,
            lines: Vec<Bound<'py, PyString>>,
            collapse: bool,
        ) -> PyResult<(Py<PyBytes>, Vec<u32>)> {
            let flat = Flat::read(&lines)?;
            let (c, s) = guarded(py, || {
                if collapse {
                    self.0.classify(&flat.collapsed(&self.0.props).lines())
                } else {
                    self.0.classify(&flat.lines())
                }
            })?;
            Ok((PyBytes::new(py, &c).unbind(), s))
        }

        /// Index of the stoplist the words (lower case) hit most; None when none.
        fn pick(&self, words: Vec<Bound<'_, PyString>>) -> PyResult<Option<usize>> {
            let words = words.iter().map(cps).collect::<PyResult<Vec<_>>>()?;
            Ok(self.0.pick(words.iter().map(|w| w.as_slice())))
        }

        /// The line's `\w+` tokens (`re.findall(r"\w+", line)`).
        fn words(&self, line: Bound<'_, PyString>) -> PyResult<Vec<String>> {
            let line = cps(&line)?;
            Ok(self
                .0
                .props
                .word_spans(&line)
                .iter()
                .map(|&(a, b)| text(&line[a..b]))
                .collect())
        }

        /// `blocks(lines, stoplist)`: line indices grouped into blocks.
        #[pyo3(signature = (lines, stoplist=None))]
        fn blocks<'py>(
            &self,
            py: Python<'py>,
            lines: Vec<Bound<'py, PyString>>,
            stoplist: Option<usize>,
        ) -> PyResult<Vec<Vec<usize>>> {
            let flat = Flat::read(&lines)?;
            guarded(py, || self.0.blocks(&flat.lines(), stoplist))
        }

        /// `wraps_into(prev, line)`, with the stoplist given by index (None: no stopwords).
        #[pyo3(signature = (prev, line, stoplist=None))]
        fn wraps_into(
            &self,
            prev: Bound<'_, PyString>,
            line: Bound<'_, PyString>,
            stoplist: Option<usize>,
        ) -> PyResult<bool> {
            Ok(self.0.wraps_into(&cps(&prev)?, &cps(&line)?, stoplist))
        }

        /// `is_teaser(line)`; `repeated`: the tokens that occur more than once on the page.
        #[pyo3(signature = (line, repeated=None))]
        fn is_teaser(&self, line: Bound<'_, PyString>, repeated: Option<Vec<Bound<'_, PyString>>>) -> PyResult<bool> {
            let line = cps(&line)?;
            let rep = repeated
                .map(|r| r.iter().map(cps).collect::<PyResult<std::collections::HashSet<_>>>())
                .transpose()?;
            let f = |t: &[u32]| rep.as_ref().is_some_and(|r| r.contains(t));
            Ok(self
                .0
                .is_teaser(&line, rep.as_ref().map(|_| &f as &dyn Fn(&[u32]) -> bool)))
        }

        /// `is_byline(line)`.
        fn is_byline(&self, line: Bound<'_, PyString>) -> PyResult<bool> {
            let line = cps(&line)?;
            Ok(self.0.is_byline(&line, self.0.props.split_count(&line)))
        }

        /// `_ends_sentence(line)`.
        fn ends_sentence(&self, line: Bound<'_, PyString>) -> PyResult<bool> {
            Ok(self.0.ends_sentence(&cps(&line)?))
        }

        /// `str.lower()` of the text (the table's mapping, final sigma included).
        fn lower(&self, s: Bound<'_, PyString>) -> PyResult<String> {
            Ok(text(&self.0.props.lower(&cps(&s)?)))
        }
    }
}

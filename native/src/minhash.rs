//! Folding, shingling and MinHash signatures: the pure-Rust half of `cleaner._native`.
//!
//! Everything here is defined to give exactly what cleaner's signatures have always been
//! (`MINHASH_VERSION` 1), so indexes built before the port stay valid and the signatures
//! stay equal to datasketch's `MinHash(num_perm, seed, hashfunc=shingle_hash)`:
//!
//! * a text is case-folded (Python's `str.casefold`), format characters (category Cf) are
//!   deleted, and every character that is not a letter, mark or number is a separator (all
//!   from [`crate::unicode`], the interpreter's own tables, so the core agrees with
//!   `unicodedata` whatever Unicode version it has);
//! * a word's hash is `fmix64(sum_j cp_j * Q**j + len * K)` (wrapping), a shingle's is the top
//!   32 bits of `fmix64` of the words' hashes combined as `acc * P + h` (FNV-64 prime);
//! * signatures use datasketch 2.x's `affine32` scheme: `fmix32` pre-mix, `a*h + b mod 2**32`,
//!   minimum per permutation. The `a`, `b` parameters come from numpy's seeded generator on
//!   the Python side (datasketch's own draws).
//!
//! Nothing here panics on any input: indexing is bounds-checked through `get`, and input
//! text arrives as bytes decoded leniently (lone surrogates, which a Python `str` may hold,
//! arrive encoded as three-byte sequences and are separators).

use blake2::digest::consts::U12;
use blake2::{Blake2b, Digest};

use crate::unicode::{self, Props};

/// Code point classes (the values of the class table).
pub const SEP: u8 = 0;
pub const WORD: u8 = 1;
pub const UNSEG: u8 = 2;
pub const DROP: u8 = 3;

/// Share of a text's letters in unsegmented scripts from which it is shingled by characters.
const UNSEG_SHARE: f64 = 0.3;
const Q: u64 = 0x9E37_79B9_7F4A_7C15;
const K: u64 = 0xD6E8_FEB8_6659_FD93;
const P: u64 = 0x0000_0100_0000_01B3;
const NO_CP: usize = 0x11_0000;

/// The class of every code point, from the process's Unicode tables ([`crate::unicode`])
/// and the unsegmented scripts' ranges (`cleaner.scripts.UNSEGMENTED_RANGES`).
pub struct Tables {
    classes: Vec<u8>,
    /// Each BMP code point's fold and class in one entry (see [`Tables::fold_classed`]):
    /// the class of its case fold in bits 0-1, [`FAST_MULTI`] when the fold is not one code
    /// point, [`FAST_SPACE`] when the code point itself is `str.isspace`, the folded code
    /// point from bit 8. Folding a character was a binary search of the fold mapping and two
    /// table lookups; nearly every character of a text is in the BMP.
    fast: Vec<u32>,
    /// The ASCII characters that are word characters folding to their lower case (`[0-9A-Za-z]`
    /// with the process's tables): [`tokens`] reads runs of them a run at a time. One entry
    /// per byte value (false from 0x80), so a byte indexes it without a bounds check.
    ascii_word: [bool; 256],
    /// Every ASCII character but `[0-9A-Za-z]` separates (is neither a word character nor
    /// dropped), and those are `ascii_word`: so the tokens of an ASCII line are its runs of
    /// letters and digits, lowered (what [`Collapsed::plain`] promises).
    ascii_plain: bool,
    props: &'static Props,
}

const FAST_MULTI: u32 = 1 << 2;
const FAST_SPACE: u32 = 1 << 3;
const FAST_CPS: usize = 0x1_0000;

impl Tables {
    /// Word characters are letters, marks and numbers (categories L, M, N; `UNSEG` inside the
    /// inclusive `unsegmented` ranges), format characters (Cf) are dropped, the rest (and
    /// anything `str.isspace`, so that `str.split` splits a fold where it has spaces) separate.
    pub fn new(unsegmented: &[(u32, u32)]) -> Result<Self, String> {
        let props = unicode::props();
        let mut classes: Vec<u8> = (0..NO_CP as u32)
            .map(|cp| {
                let f = props.flags(cp);
                if f & unicode::SPACE != 0 {
                    SEP
                } else if props.is_letter_mark_number(cp) {
                    WORD
                } else if props.category_index(cp) == unicode::CAT_CF {
                    DROP
                } else {
                    SEP
                }
            })
            .collect();
        for &(lo, hi) in unsegmented {
            let part = classes
                .get_mut(lo as usize..=hi as usize)
                .filter(|_| lo <= hi)
                .ok_or_else(|| format!("unsegmented range {lo:#x}..={hi:#x} is not a range of code points"))?;
            part.iter_mut().filter(|k| **k == WORD).for_each(|k| *k = UNSEG);
        }
        let fast: Vec<u32> = (0..FAST_CPS as u32)
            .map(|cp| {
                let mut folded = [0u32; 2];
                let mut n = 0;
                props.casefold_cp(cp, |f| {
                    if n < 2 {
                        folded[n] = f;
                    }
                    n += 1;
                });
                let space = if props.flags(cp) & unicode::SPACE != 0 {
                    FAST_SPACE
                } else {
                    0
                };
                match n {
                    1 => (folded[0] << 8) | space | classes.get(folded[0] as usize).copied().unwrap_or(SEP) as u32,
                    _ => FAST_MULTI | space,
                }
            })
            .collect();
        let ascii_word = std::array::from_fn(|x| {
            if x >= 0x80 {
                return false;
            }
            let lower = (x as u8).to_ascii_lowercase() as u32;
            fast.get(x)
                .is_some_and(|&e: &u32| e & (FAST_MULTI | FAST_SPACE) == 0 && e >> 8 == lower && (e & 3) as u8 == WORD)
        });
        let ascii_plain = (0..0x80u32).all(|c| {
            let alnum = (c as u8).is_ascii_alphanumeric();
            let sep = fast
                .get(c as usize)
                .is_some_and(|&e| e & FAST_MULTI == 0 && (e & 3) as u8 == SEP);
            ascii_word[c as usize] == alnum && (alnum || sep)
        });
        Ok(Tables {
            classes,
            fast,
            ascii_word,
            ascii_plain,
            props,
        })
    }

    #[inline]
    fn class(&self, cp: u32) -> u8 {
        self.classes.get(cp as usize).copied().unwrap_or(SEP)
    }

    /// Calls `f` with each code point of `cp`'s case fold and its class.
    #[inline]
    fn fold_classed(&self, cp: u32, mut f: impl FnMut(u32, u8)) {
        if let Some(&e) = self.fast.get(cp as usize) {
            if e & FAST_MULTI == 0 {
                return f(e >> 8, (e & 3) as u8);
            }
        }
        self.props.casefold_cp(cp, |c| f(c, self.class(c)))
    }

    /// The fast entry of a BMP code point (see `fast`), None beyond.
    #[inline]
    fn entry(&self, cp: u32) -> Option<u32> {
        self.fast.get(cp as usize).copied()
    }
}

/// Decodes UTF-8 leniently: also the three-byte form of lone surrogates (Python's
/// `surrogatepass`), and any malformed byte as U+FFFD, never failing.
pub fn decode(bytes: &[u8], mut f: impl FnMut(u32)) {
    let mut i = 0;
    let n = bytes.len();
    while i < n {
        let b0 = bytes[i] as u32; // i < n
        if b0 < 0x80 {
            f(b0);
            i += 1;
            continue;
        }
        let (len, init) = match b0 {
            0xC0..=0xDF => (2, b0 & 0x1F),
            0xE0..=0xEF => (3, b0 & 0x0F),
            0xF0..=0xF7 => (4, b0 & 0x07),
            _ => (0, 0),
        };
        let cont = bytes
            .get(i + 1..i + len.max(1))
            .filter(|c| len > 0 && c.iter().all(|&b| b & 0xC0 == 0x80));
        match cont {
            Some(cont) => {
                let cp = cont.iter().fold(init, |acc, &b| (acc << 6) | (b as u32 & 0x3F));
                f(if cp < NO_CP as u32 { cp } else { 0xFFFD });
                i += len;
            }
            None => {
                f(0xFFFD);
                i += 1;
            }
        }
    }
}

/// A text as the shingler sees it: case-folded code points, format characters deleted,
/// each with its class, and whether it is in an unsegmented script.
pub struct Folded {
    pub cps: Vec<u32>,
    pub cls: Vec<u8>,
    pub char_mode: bool,
}

pub fn prepare(text: &[u8], t: &Tables) -> Folded {
    let mut cps = Vec::with_capacity(text.len());
    let mut cls = Vec::with_capacity(text.len());
    let (mut unseg, mut words) = (0usize, 0usize);
    decode(text, |c| {
        t.fold_classed(c, |f, k| {
            if k == DROP {
                return;
            }
            if k != SEP {
                words += 1;
                if k == UNSEG {
                    unseg += 1;
                }
            }
            cps.push(f);
            cls.push(k);
        })
    });
    let char_mode = unseg > 0 && unseg as f64 >= UNSEG_SHARE * words as f64;
    Folded { cps, cls, char_mode }
}

/// The words of a folded text: maximal runs of non-separators, as `(start, end)` indices.
fn words(f: &Folded) -> impl Iterator<Item = (usize, usize)> + '_ {
    let n = f.cls.len();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < n && f.cls[i] == SEP {
            i += 1;
        }
        if i >= n {
            return None;
        }
        let start = i;
        while i < n && f.cls[i] != SEP {
            i += 1;
        }
        Some((start, i))
    })
}

fn push_cps(out: &mut String, cps: &[u32]) {
    out.extend(cps.iter().map(|&c| char::from_u32(c).unwrap_or('\u{FFFD}')));
}

/// `fold(text)`: the words joined by single spaces.
pub fn fold(f: &Folded) -> String {
    let mut out = String::with_capacity(f.cps.len());
    for (a, b) in words(f) {
        if !out.is_empty() {
            out.push(' ');
        }
        push_cps(&mut out, &f.cps[a..b]);
    }
    out
}

/// `[fold(line) for line in text.split("\n")]`: a newline is a separator, so no word spans two lines.
pub fn fold_lines(f: &Folded) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut last_end = 0;
    for (a, b) in words(f) {
        for &c in &f.cps[last_end..a] {
            if c == 0x0A {
                lines.push(String::new());
            }
        }
        let line = lines.last_mut().expect("lines starts with one entry and only grows");
        if !line.is_empty() {
            line.push(' ');
        }
        push_cps(line, &f.cps[a..b]);
        last_end = b;
    }
    lines.extend(f.cps[last_end..].iter().filter(|&&c| c == 0x0A).map(|_| String::new()));
    lines
}

#[inline]
pub fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

#[inline]
pub fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

/// A word's hash: `fmix64(sum_j cp_j * Q**j + len * K)`, wrapping.
#[inline]
pub fn word_hash(cps: &[u32]) -> u64 {
    let mut acc = 0u64;
    let mut q = 1u64;
    for &c in cps {
        acc = acc.wrapping_add((c as u64).wrapping_mul(q));
        q = q.wrapping_mul(Q);
    }
    fmix64(acc.wrapping_add((cps.len() as u64).wrapping_mul(K)))
}

/// Token hashes in text order: words, or in char mode every word character on its own.
pub fn token_hashes(f: &Folded) -> Vec<u64> {
    if f.char_mode {
        return f
            .cps
            .iter()
            .zip(&f.cls)
            .filter(|(_, &k)| k != SEP)
            .map(|(&c, _)| fmix64((c as u64).wrapping_add(K)))
            .collect();
    }
    words(f).map(|(a, b)| word_hash(&f.cps[a..b])).collect()
}

/// Sorted unique 32-bit hashes of the token n-grams (empty when there are fewer than `n` tokens).
pub fn ngram_hashes(ids: &[u64], n: usize) -> Vec<u32> {
    let mut out = ngrams(ids, n);
    out.sort_unstable();
    out.dedup();
    out
}

/// The shingle hashes of a folded text: word `ngram`-grams, or character `char_ngram`-grams
/// for unsegmented scripts.
pub fn shingles(f: &Folded, ngram: usize, char_ngram: usize) -> Vec<u32> {
    let n = if f.char_mode { char_ngram } else { ngram };
    ngram_hashes(&token_hashes(f), n)
}

/// A whole document folded once, for every row of its sketch (see `crate::features`): the
/// document, its prose and its passages are all runs of its lines or of its words, so their
/// folds, token hashes and word-mode shingles are ranges of the document's.
///
/// Tokens are [`prepare`]'s words (runs of word characters of the fold); the document's
/// `str.split()` words (runs of non-`isspace` characters, which passages count and cut
/// windows by) are numbered too, and each token belongs to one of them: a space is a
/// separator of the fold too, and it folds to itself (a test checks every code point).
#[derive(Default)]
pub struct Tokens {
    /// [`fold`] of the text: the tokens joined by single spaces.
    pub fold: String,
    /// Each token's byte range in `fold`.
    pub span: Vec<(u32, u32)>,
    /// Each token's [`word_hash`].
    pub hash: Vec<u64>,
    /// Word characters (non-separators of the fold) before each token, and in all (`n + 1` entries).
    pub chars: Vec<u32>,
    /// The same count of unsegmented-script characters.
    pub unseg: Vec<u32>,
    /// The `str.split()` word (numbered in the whole text, from 0) each token is in.
    pub word: Vec<u32>,
    /// Code points of the `str.split()` words before each word, and in all.
    pub word_chars: Vec<u32>,
    /// First token of each line of `text.split("\n")`, and the number of tokens (one more entry).
    pub line_tok: Vec<u32>,
    /// First `str.split()` word of each line, and the number of words.
    pub line_word: Vec<u32>,
    /// Code points of each line.
    pub line_chars: Vec<u32>,
    /// Where each line starts in the text (bytes), and one past the text's end (the start
    /// of a line after it): the paragraphs read the lines again ([`Tokens::lines`]).
    pub line_byte: Vec<usize>,
}

impl Tokens {
    /// Empties every column, keeping its memory (every field named: a new one is a compile
    /// error here until it is cleared).
    fn clear(&mut self) {
        let Tokens {
            fold,
            span,
            hash,
            chars,
            unseg,
            word,
            word_chars,
            line_tok,
            line_word,
            line_chars,
            line_byte,
        } = self;
        fold.clear();
        span.clear();
        hash.clear();
        chars.clear();
        unseg.clear();
        word.clear();
        word_chars.clear();
        line_tok.clear();
        line_word.clear();
        line_chars.clear();
        line_byte.clear();
    }

    /// The memory the columns hold, in bytes (every field named, as in [`Tokens::clear`]).
    pub fn held(&self) -> usize {
        let Tokens {
            fold,
            span,
            hash,
            chars,
            unseg,
            word,
            word_chars,
            line_tok,
            line_word,
            line_chars,
            line_byte,
        } = self;
        fold.capacity()
            + 8 * (span.capacity() + hash.capacity() + line_byte.capacity())
            + 4 * (chars.capacity()
                + unseg.capacity()
                + word.capacity()
                + word_chars.capacity()
                + line_tok.capacity()
                + line_word.capacity()
                + line_chars.capacity())
    }

    /// The fold of tokens `t0..t1` (the fold of any text made of them, as separators go).
    pub fn fold_of(&self, t0: usize, t1: usize) -> &str {
        let (Some(a), Some(b)) = (self.span.get(t0), t1.checked_sub(1).and_then(|e| self.span.get(e))) else {
            return "";
        };
        self.fold.get(a.0 as usize..b.1 as usize).unwrap_or("")
    }

    /// The lines of `text` (the text these tokens are of), as `text.split("\n")` gives them:
    /// found as the tokens were read, where splitting the text again cost a search per line.
    pub fn lines<'a>(&'a self, text: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        // another text than the tokens' would give wrong lines quietly: caught in tests
        debug_assert_eq!(self.line_byte.last(), Some(&(text.len() + 1)));
        self.line_byte
            .windows(2)
            .map(move |w| text.get(w[0]..w[1].saturating_sub(1)).unwrap_or(""))
    }

    /// (word characters, unsegmented ones) of tokens `t0..t1`.
    pub fn counts(&self, t0: usize, t1: usize) -> (u32, u32) {
        let at = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(0);
        (
            at(&self.chars, t1).wrapping_sub(at(&self.chars, t0)),
            at(&self.unseg, t1).wrapping_sub(at(&self.unseg, t0)),
        )
    }

    /// The char-mode tokens of tokens `t0..t1` (each word character's hash, in order) appended to `out`.
    pub fn char_hashes(&self, t0: usize, t1: usize, out: &mut Vec<u64>) {
        out.extend(
            self.fold_of(t0, t1)
                .chars()
                .filter(|&c| c != ' ')
                .map(|c| fmix64((c as u64).wrapping_add(K))),
        );
    }
}

/// Whether a text with `words` word characters, `unseg` of them in unsegmented scripts, is
/// shingled by characters ([`prepare`]'s rule).
pub fn is_char_mode(words: u32, unseg: u32) -> bool {
    unseg > 0 && unseg as f64 >= UNSEG_SHARE * words as f64
}

struct TokenBuilder<'k> {
    k: &'k mut Tokens,
    /// with the collapsed lines: where each token starts in its collapsed line (`col` is
    /// where the character being added is)
    cols: Option<Vec<u32>>,
    col: u32,
    in_tok: bool,
    acc: u64,
    q: u64,
    len: u64,
    chars: u32,
    unseg: u32,
}

impl TokenBuilder<'_> {
    /// A folded character of class `class`, in the `str.split()` word `word`.
    #[inline(always)]
    fn add(&mut self, f: u32, class: u8, word: u32) {
        match class {
            DROP => {}
            SEP => self.end(),
            _ => self.push(f, class, word),
        }
    }

    /// Open a token (of word number `word`) unless one is open.
    #[inline(always)]
    fn open(&mut self, word: u32) {
        if !self.in_tok {
            if !self.k.fold.is_empty() {
                self.k.fold.push(' ');
            }
            self.k.span.push((self.k.fold.len() as u32, 0));
            self.k.word.push(word);
            if let Some(cols) = self.cols.as_mut() {
                cols.push(self.col);
            }
            self.in_tok = true;
            (self.acc, self.q, self.len) = (0, 1, 0);
        }
    }

    #[inline(always)]
    fn push(&mut self, f: u32, class: u8, word: u32) {
        self.open(word);
        self.acc = self.acc.wrapping_add((f as u64).wrapping_mul(self.q));
        self.q = self.q.wrapping_mul(Q);
        self.len += 1;
        self.k.fold.push(char::from_u32(f).unwrap_or('\u{FFFD}'));
        self.chars += 1;
        if class == UNSEG {
            self.unseg += 1;
        }
    }

    /// [`TokenBuilder::push`] of each of `run`, ASCII word characters, lowered: copied into
    /// the fold at once and lowered there (pushed a character at a time, each with its
    /// capacity check and UTF-8 encoding, they were a fifth of the tokenizer's instructions),
    /// then hashed from the fold.
    #[inline(always)]
    fn push_ascii(&mut self, run: &str, word: u32) {
        self.open(word);
        let at = self.k.fold.len();
        self.k.fold.push_str(run);
        let (mut acc, mut q) = (self.acc, self.q);
        if let Some(lowered) = self.k.fold.get_mut(at..) {
            lowered.make_ascii_lowercase();
            for &f in lowered.as_bytes() {
                acc = acc.wrapping_add((f as u64).wrapping_mul(q));
                q = q.wrapping_mul(Q);
            }
        }
        (self.acc, self.q) = (acc, q);
        self.len += run.len() as u64;
        self.chars += run.len() as u32;
    }

    #[inline(always)]
    fn end(&mut self) {
        if !self.in_tok {
            return;
        }
        self.in_tok = false;
        let end = self.k.fold.len() as u32;
        if let Some(s) = self.k.span.last_mut() {
            s.1 = end;
        }
        self.k
            .hash
            .push(fmix64(self.acc.wrapping_add(self.len.wrapping_mul(K))));
        self.k.chars.push(self.chars);
        self.k.unseg.push(self.unseg);
    }
}

/// The [`Tokens`] of a text.
pub fn tokens(text: &str, t: &Tables) -> Tokens {
    let mut k = Tokens::default();
    tokens_into(text, t, &mut k, None);
    k
}

/// A text's lines collapsed (`" ".join(line.split())`), as the furniture classifier reads
/// them: their code points one after another, and each line's range of them.
#[derive(Default)]
pub struct Collapsed {
    pub cps: Vec<u32>,
    pub spans: Vec<(usize, usize)>,
    /// Each token's start in its collapsed line (a position in its range of `cps`).
    pub tok_col: Vec<u32>,
    /// Each line is ASCII without `_`, and the tables read ASCII plainly
    /// ([`Tables::ascii_plain`]): its tokens are then its runs of ASCII letters and digits,
    /// each folded to its lower case, which are its `\w+` tokens too (what the furniture
    /// classifier reads: `crate::features::line_classes`).
    pub plain: Vec<bool>,
}

impl Collapsed {
    /// Empties every column, keeping its memory (every field named, as in [`Tokens::clear`]).
    fn clear(&mut self) {
        let Collapsed {
            cps,
            spans,
            tok_col,
            plain,
        } = self;
        cps.clear();
        spans.clear();
        tok_col.clear();
        plain.clear();
    }

    /// The memory the columns hold, in bytes.
    pub fn held(&self) -> usize {
        let Collapsed {
            cps,
            spans,
            tok_col,
            plain,
        } = self;
        4 * (cps.capacity() + tok_col.capacity()) + 16 * spans.capacity() + plain.capacity()
    }
}

/// The [`Tokens`] of a text, and its [`Collapsed`] lines, in one pass (see [`tokens_into`]).
pub fn tokens_collapsed(text: &str, t: &Tables) -> (Tokens, Collapsed) {
    let (mut k, mut lines) = (Tokens::default(), Collapsed::default());
    tokens_into(text, t, &mut k, Some(&mut lines));
    (k, lines)
}

/// The [`Tokens`] of a text into `k`, and with `collapsed` its [`Collapsed`] lines, in one
/// pass: both read every character and ask whether it is a space. `k` and `collapsed` are
/// emptied first and their memory reused: the features call keeps them from document to
/// document (`crate::features`), where a dozen columns made and grown for every document
/// were a tenth of its instructions (malloc, realloc's copies, fresh pages).
pub fn tokens_into(text: &str, t: &Tables, k: &mut Tokens, mut collapsed: Option<&mut Collapsed>) {
    // room for a token every six bytes (English averages one every five or six, and the
    // columns grew by doubling, a copy each time); a text of longer words leaves some unused
    let est = text.len() / 6 + 1;
    k.clear();
    k.fold.reserve(text.len());
    for v in [&mut k.chars, &mut k.unseg, &mut k.word_chars] {
        v.reserve(est + 1);
        v.push(0);
    }
    k.span.reserve(est);
    k.hash.reserve(est);
    k.word.reserve(est);
    // and a line every 64 bytes: a start that spares most texts a regrowth, and costs a
    // text of one long line no more than a third of its size (the four columns are 20
    // bytes a line); a text of shorter lines grows them
    k.line_tok.reserve(text.len() / 64 + 2);
    k.line_word.reserve(text.len() / 64 + 2);
    k.line_chars.reserve(text.len() / 64 + 1);
    k.line_byte.reserve(text.len() / 64 + 2);
    let cols = collapsed.as_deref_mut().map(|l| {
        l.clear();
        l.cps.reserve(text.len());
        let mut cols = std::mem::take(&mut l.tok_col);
        cols.reserve(est);
        cols
    });
    let mut b = TokenBuilder {
        k,
        cols,
        col: 0,
        in_tok: false,
        acc: 0,
        q: 1,
        len: 0,
        chars: 0,
        unseg: 0,
    };
    // the lines of `text.split("\n")`, read in one pass over the text (splitting it first
    // cost a search per line, about as much as reading a short line)
    let (mut words, mut word_chars, mut in_word) = (0u32, 0u32, false);
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        b.k.line_byte.push(i);
        b.k.line_tok.push(b.k.hash.len() as u32);
        b.k.line_word.push(words);
        let mut line_chars = 0u32;
        let line_start = collapsed.as_ref().map_or(0, |l| l.cps.len());
        let mut gap = false; // a space after a word of the line, written when another word follows
        let mut plain = t.ascii_plain; // ASCII without `_` so far
        let mut more = false; // the line ended at a newline: another follows
        while let Some(&x) = bytes.get(i) {
            if x == b'\n' {
                i += 1;
                more = true;
                break;
            }
            if t.ascii_word[x as usize] {
                // a run of ASCII word characters: one token's characters, in one
                // `str.split()` word, each folding to its lower case
                let rest = bytes.get(i..).unwrap_or(&[]);
                let run = rest
                    .iter()
                    .position(|&y| !t.ascii_word[y as usize])
                    .unwrap_or(rest.len());
                let part = text.get(i..i + run).unwrap_or(""); // ASCII: at character boundaries
                i += run;
                line_chars += run as u32;
                if let Some(l) = collapsed.as_deref_mut() {
                    if gap {
                        l.cps.push(0x20);
                        gap = false;
                    }
                    b.col = (l.cps.len() - line_start) as u32;
                    l.cps.extend(part.bytes().map(u32::from));
                }
                if !in_word {
                    in_word = true;
                    words += 1;
                }
                word_chars += run as u32;
                b.push_ascii(part, words - 1);
                continue;
            }
            plain &= x != b'_';
            let cp = if x < 0x80 {
                i += 1;
                x as u32
            } else {
                plain = false;
                let Some(c) = text.get(i..).and_then(|r| r.chars().next()) else {
                    break; // i is always at a character: not reached
                };
                i += c.len_utf8();
                c as u32
            };
            line_chars += 1;
            let e = t.entry(cp);
            let space = match e {
                Some(e) => e & FAST_SPACE != 0,
                None => t.props.flags(cp) & unicode::SPACE != 0,
            };
            if let Some(l) = collapsed.as_deref_mut() {
                if space {
                    gap = l.cps.len() > line_start;
                } else {
                    if gap {
                        l.cps.push(0x20);
                        gap = false;
                    }
                    b.col = (l.cps.len() - line_start) as u32;
                    l.cps.push(cp);
                }
            }
            if space {
                b.end();
                if in_word {
                    in_word = false;
                    b.k.word_chars.push(word_chars);
                }
                continue;
            }
            if !in_word {
                in_word = true;
                words += 1;
            }
            word_chars += 1;
            match e {
                Some(e) if e & FAST_MULTI == 0 => b.add(e >> 8, (e & 3) as u8, words - 1),
                _ => t.props.casefold_cp(cp, |f| b.add(f, t.class(f), words - 1)),
            }
        }
        b.end();
        if in_word {
            in_word = false;
            b.k.word_chars.push(word_chars);
        }
        b.k.line_chars.push(line_chars);
        if let Some(l) = collapsed.as_deref_mut() {
            l.spans.push((line_start, l.cps.len()));
            l.plain.push(plain);
        }
        if !more {
            break;
        }
    }
    b.k.line_byte.push(text.len() + 1);
    b.k.line_tok.push(b.k.hash.len() as u32);
    b.k.line_word.push(words);
    if let (Some(l), Some(cols)) = (collapsed, b.cols) {
        l.tok_col = cols;
    }
}

/// The hash of each `n` consecutive token hashes, in text order (none when there are fewer).
pub fn ngrams(ids: &[u64], n: usize) -> Vec<u32> {
    let mut out = Vec::new();
    ngrams_into(ids, n, &mut out);
    out
}

/// [`ngrams`] into `out` (emptied first, its memory reused).
pub fn ngrams_into(ids: &[u64], n: usize, out: &mut Vec<u32>) {
    out.clear();
    if n == 0 || ids.len() < n {
        return;
    }
    out.extend(ids.windows(n).map(ngram_hash));
}

/// The hash of one n-gram of token hashes (see [`ngrams`]).
#[inline]
pub fn ngram_hash(w: &[u64]) -> u32 {
    let acc = w.iter().fold(0u64, |acc, &h| acc.wrapping_mul(P).wrapping_add(h));
    (fmix64(acc) >> 32) as u32
}

/// Leaves in `hashes` each of its values once (its first occurrence, in order), with
/// `seen` as the scratch table (any contents; reused from call to call).
///
/// A row's signature and its distinct count need the set of its shingles, not their order
/// (a minimum is the same in any order): sorting each row to drop its repeats was as much
/// of the features' time as signing it; an open-addressing table of twice the row's size
/// (the values are hashes already, spread by one multiply) finds them in one pass.
pub fn distinct(hashes: &mut Vec<u32>, seen: &mut Vec<u32>) {
    if hashes.len() < 2 {
        return;
    }
    let bits = (2 * hashes.len()).next_power_of_two().trailing_zeros().max(4);
    let mask = (1usize << bits) - 1;
    seen.clear();
    seen.resize(mask + 1, 0); // 0: an empty slot (the value 0 itself is `zero`)
    let mut zero = false;
    let mut kept = 0;
    for i in 0..hashes.len() {
        let h = hashes[i]; // i < len
        let new = if h == 0 {
            !std::mem::replace(&mut zero, true)
        } else {
            let mut at = slot(h, bits);
            loop {
                match seen.get(at).copied() {
                    Some(0) => {
                        if let Some(slot) = seen.get_mut(at) {
                            *slot = h;
                        }
                        break true;
                    }
                    Some(x) if x == h => break false,
                    Some(_) => at = (at + 1) & mask,
                    None => break false, // at <= mask < seen.len(): not reached
                }
            }
        };
        if new {
            hashes[kept] = h; // kept <= i < len
            kept += 1;
        }
    }
    hashes.truncate(kept);
}

/// [`distinct`]'s first slot for `h` in a table of `2^bits` slots: the top `bits` bits of
/// the multiplied hash. Taken in 64 bits so a row of more than 2^31 shingles (`bits` above
/// 32) still spreads over its whole table: in 32 bits `32 - bits` underflowed (a panic with
/// overflow checks, else a shift by 31 that started every probe at slot 0 or 1). For `bits`
/// up to 32 the slot is the 32-bit one's.
#[inline]
fn slot(h: u32, bits: u32) -> usize {
    debug_assert!((1..=64).contains(&bits));
    ((u64::from(h.wrapping_mul(0x9E37_79B1)) << 32) >> (64 - bits)) as usize
}

/// The exact-duplicate key: BLAKE2b with a 12-byte digest of the folded text's UTF-8
/// (what `hashlib.blake2b(folded.encode(), digest_size=12)` gives).
pub fn exact_key(folded: &str) -> [u8; 12] {
    Blake2b::<U12>::digest(folded.as_bytes()).into()
}

/// Folds the minima of `hashes` under the affine32 permutations `(a, b)` into `sig`.
///
/// Most of a sketch's arithmetic: every shingle times every permutation. The permutations
/// are taken 32 at a time, held in registers while every shingle passes (a multiply, an
/// add and a minimum per lane, which vectorise); on a CPU with AVX2 (asked at run time, so
/// a build needs no `target-cpu`) eight lanes a step, else SSE2's four.
pub fn sign_into(hashes: &[u32], a: &[u32], b: &[u32], sig: &mut [u32]) {
    let mut xs = hashes.to_vec();
    sign_into_mixing(&mut xs, a, b, sig)
}

/// [`sign_into`] of `hashes`, which it overwrites with their `fmix32` pre-mix (for a caller
/// done with them: no copy).
pub fn sign_into_mixing(hashes: &mut [u32], a: &[u32], b: &[u32], sig: &mut [u32]) {
    hashes.iter_mut().for_each(|h| *h = fmix32(*h));
    let xs: &[u32] = hashes;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, the only requirement of `sign_avx2`
        unsafe { sign_avx2(xs, a, b, sig) };
        return;
    }
    sign_lanes(xs, a, b, sig)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sign_avx2(xs: &[u32], a: &[u32], b: &[u32], sig: &mut [u32]) {
    sign_lanes(xs, a, b, sig)
}

/// [`sign_into`] of pre-mixed hashes `xs`.
#[inline(always)]
fn sign_lanes(xs: &[u32], a: &[u32], b: &[u32], sig: &mut [u32]) {
    const L: usize = 32;
    let n = sig.len().min(a.len()).min(b.len());
    let (sig, a, b) = (&mut sig[..n], &a[..n], &b[..n]);
    let mut sig_blocks = sig.chunks_exact_mut(L);
    let mut ab = a.chunks_exact(L).zip(b.chunks_exact(L));
    for (s, (ak, bk)) in (&mut sig_blocks).zip(&mut ab) {
        let mut m = [0u32; L];
        let (mut av, mut bv) = ([0u32; L], [0u32; L]);
        m.copy_from_slice(s);
        av.copy_from_slice(ak);
        bv.copy_from_slice(bk);
        for &x in xs {
            for j in 0..L {
                m[j] = m[j].min(av[j].wrapping_mul(x).wrapping_add(bv[j]));
            }
        }
        s.copy_from_slice(&m);
    }
    let rest = n - n % L;
    for ((s, &ak), &bk) in sig_blocks.into_remainder().iter_mut().zip(&a[rest..]).zip(&b[rest..]) {
        for &x in xs {
            *s = (*s).min(ak.wrapping_mul(x).wrapping_add(bk));
        }
    }
}

/// The MinHash signature of a non-empty set of shingle hashes.
pub fn signature(hashes: &[u32], a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut sig = vec![u32::MAX; a.len().min(b.len())];
    sign_into(hashes, a, b, &mut sig);
    sig
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The process's tables, with U+4E00..U+9FFF unsegmented.
    fn tables() -> Tables {
        Tables::new(&[(0x4E00, 0x9FFF)]).unwrap()
    }

    fn prep(s: &str) -> Folded {
        prepare(s.as_bytes(), &tables())
    }

    #[test]
    fn folds_case_separators_and_format_characters() {
        assert_eq!(fold(&prep("  Hello, WORLD!  Stra\u{DF}e  ")), "hello world strasse");
        assert_eq!(fold(&prep("co\u{AD}operate")), "cooperate");
        assert_eq!(fold(&prep("")), "");
        assert_eq!(fold(&prep("--- ...")), "");
    }

    #[test]
    fn fold_lines_keep_one_entry_per_line() {
        assert_eq!(fold_lines(&prep("A b\n\n c,d \n")), vec!["a b", "", "c d", ""]);
        assert_eq!(fold_lines(&prep("")), vec![""]);
        assert_eq!(fold_lines(&prep("\n")), vec!["", ""]);
    }

    #[test]
    fn lone_surrogates_and_bad_bytes_are_separators() {
        // "a", a lone high surrogate as surrogatepass encodes it, "b", a stray continuation byte, "c"
        let f = prepare(b"a\xed\xa0\xbdb\x80c\xf0", &tables());
        assert_eq!(fold(&f), "a b c");
    }

    #[test]
    fn unsegmented_texts_are_shingled_by_characters() {
        let f = prep("\u{4E00}\u{4E01}\u{4E02} abc");
        assert!(f.char_mode);
        assert_eq!(token_hashes(&f).len(), 6);
        assert!(!prep("abc def \u{4E00}").char_mode);
    }

    #[test]
    fn word_hash_matches_the_definition() {
        // the Python reference `_word_hash_int("ab")`
        let acc = 97u64
            .wrapping_add(98u64.wrapping_mul(Q))
            .wrapping_add(2u64.wrapping_mul(K));
        assert_eq!(word_hash(&[97, 98]), fmix64(acc));
        assert_eq!(word_hash(&[97]), fmix64(97u64.wrapping_add(K)));
    }

    #[test]
    fn shingles_need_enough_tokens() {
        assert!(shingles(&prep("one two three four"), 5, 5).is_empty());
        let s = shingles(&prep("one two three four five one two three four five"), 5, 5);
        assert_eq!(s.len(), 5); // six windows, the last repeats the first
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(ngram_hashes(&[1, 2, 3], 0).is_empty());
    }

    #[test]
    fn signature_is_the_minimum_of_the_permutations() {
        let (a, b) = ([3u32, 5], [7u32, 11]);
        let sig = signature(&[1, 2], &a, &b);
        let want: Vec<u32> = (0..2)
            .map(|k| {
                [1u32, 2]
                    .iter()
                    .map(|&h| a[k].wrapping_mul(fmix32(h)).wrapping_add(b[k]))
                    .min()
                    .unwrap()
            })
            .collect();
        assert_eq!(sig, want);
    }

    #[test]
    fn the_fast_table_folds_and_classes_as_the_mappings_do() {
        let t = tables();
        for cp in 0..0x11_0000u32 {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            t.fold_classed(cp, |f, k| fast.push((f, k)));
            t.props.casefold_cp(cp, |f| slow.push((f, t.class(f))));
            assert_eq!(fast, slow, "{cp:#x}");
            // a space folds to itself and separates: no token spans two str.split() words
            if t.props.flags(cp) & unicode::SPACE != 0 {
                assert_eq!(slow, vec![(cp, SEP)], "{cp:#x}");
            }
        }
    }

    /// [`tokens`] and [`tokens_collapsed`] of `text` against their definitions: the fold and
    /// word hashes of [`prepare`], the collapsed lines of `collapse_str`, the lines and words
    /// of `str.split`.
    fn check_tokens(text: &str, t: &Tables) {
        let k = tokens(text, t);
        let (k2, lines) = tokens_collapsed(text, t);
        assert_eq!((&k2.fold, &k2.hash, &k2.line_tok), (&k.fold, &k.hash, &k.line_tok));
        let want: Vec<Vec<u32>> = text
            .split('\n')
            .map(|l| crate::normalise::collapse_str(l).chars().map(|c| c as u32).collect())
            .collect();
        let got: Vec<Vec<u32>> = lines.spans.iter().map(|&(a, b)| lines.cps[a..b].to_vec()).collect();
        assert_eq!(got, want, "{text:?}");
        let f = prepare(text.as_bytes(), t);
        assert_eq!(k.fold, fold(&f));
        let words: Vec<(usize, usize)> = words(&f).collect();
        let want: Vec<u64> = words.iter().map(|&(a, b)| word_hash(&f.cps[a..b])).collect();
        assert_eq!(k.hash, want);
        let (chars, unseg) = k.counts(0, k.hash.len());
        assert_eq!(is_char_mode(chars, unseg), f.char_mode);
        assert_eq!(k.fold_of(0, k.hash.len()), k.fold);
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(k.line_tok.len(), lines.len() + 1);
        let split: usize = lines.iter().map(|l| l.split_whitespace().count()).sum();
        assert_eq!(*k.line_word.last().unwrap() as usize, split);
        assert_eq!(k.word_chars.len(), split + 1);
        assert_eq!(k.lines(text).collect::<Vec<_>>(), lines, "{text:?}");
        assert_eq!(k2.lines(text).collect::<Vec<_>>(), lines, "{text:?}");
        let line_chars: Vec<u32> = lines.iter().map(|l| l.chars().count() as u32).collect();
        assert_eq!(k.line_chars, line_chars, "{text:?}");
    }

    #[test]
    fn tokens_are_the_folded_words() {
        let t = tables();
        for text in [
            "  Hello, WORLD!\n\n Stra\u{DF}e  co\u{AD}operate \u{FB01}x\u{2028}b",
            "\u{4E00}\u{4E01} abc\n\u{4E02}",
            "",
            "\n",
            "-- a-b c\u{0301}",
            " \t a \u{3000}\u{A0} b\u{85}c  \n\n  \u{2028} d ",
        ] {
            check_tokens(text, &t);
        }
        // str.isspace() holds for the separators 0x1C-0x1F (Rust's whitespace does not)
        let (_, lines) = tokens_collapsed(" a\x1c\x1fb \x1d", &t);
        assert_eq!(lines.cps, vec![0x61, 0x20, 0x62]);
        let k = tokens("Ab  c,d\n e", &t);
        assert_eq!((k.word.clone(), k.fold_of(1, 3)), (vec![0, 1, 1, 2], "c d"));
        assert_eq!(
            (k.line_tok, k.line_word, k.line_chars),
            (vec![0, 3, 4], vec![0, 2, 3], vec![7, 2])
        );
    }

    #[test]
    fn tokens_of_random_texts_are_the_folded_words() {
        // the tokenizer reads ASCII word runs, other ASCII characters and the rest each its
        // own way, and lines as it meets their newlines: texts of every mix of them
        let t = tables();
        let pieces = [
            "Word",
            "the",
            "ABC",
            "x9",
            "_",
            "-",
            ", ",
            ".",
            " ",
            "  ",
            "\t",
            "\n",
            "\n\n",
            "\r",
            "\u{a0}",
            "\u{3000}",
            "\u{2028}",
            "\u{85}",
            "\u{ad}",
            "\u{200b}",
            "\u{df}",
            "\u{fb01}",
            "É",
            "é",
            "\u{4E00}\u{4E01}",
            "\u{0301}",
            "\u{1F600}",
            "\u{10400}",
            "’",
            "K\u{212A}",
        ];
        let mut next = crate::xorshift32(0x0BAD_5EED);
        for _ in 0..4000 {
            let n = (next() % 24) as usize;
            let text: String = (0..n).map(|_| pieces[next() as usize % pieces.len()]).collect();
            check_tokens(&text, &t);
        }
    }

    #[test]
    fn signatures_in_blocks_equal_one_lane_at_a_time() {
        let mut next = crate::xorshift32(0x1234_5678);
        for lanes in [1, 31, 32, 100, 128] {
            let a: Vec<u32> = (0..lanes).map(|_| next() | 1).collect();
            let b: Vec<u32> = (0..lanes).map(|_| next()).collect();
            let h: Vec<u32> = (0..77).map(|_| next()).collect();
            let want: Vec<u32> = (0..lanes)
                .map(|k| {
                    h.iter()
                        .map(|&v| a[k].wrapping_mul(fmix32(v)).wrapping_add(b[k]))
                        .min()
                        .unwrap()
                })
                .collect();
            assert_eq!(signature(&h, &a, &b), want);
            let mut portable = vec![u32::MAX; lanes];
            sign_lanes(&h.iter().map(|&v| fmix32(v)).collect::<Vec<_>>(), &a, &b, &mut portable);
            assert_eq!(portable, want);
        }
    }

    #[test]
    fn distinct_slots_cover_tables_past_two_to_the_32() {
        // a row of more than 2^31 shingles has a table of 2^33 slots or more: its first slots
        // spread over all of it, and up to 2^32 slots are the 32-bit multiply's top bits
        for bits in [33u32, 34, 40] {
            let top = (0..10_000u32)
                .map(|i| slot(i.wrapping_mul(0x0101_0101) ^ i, bits))
                .max()
                .unwrap();
            assert!(top < 1 << bits && top >= 1 << (bits - 1), "bits {bits}: {top}");
        }
        for bits in [4u32, 17, 32] {
            for h in [0u32, 1, 0xDEAD_BEEF, u32::MAX] {
                assert_eq!(slot(h, bits), (h.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize);
            }
        }
    }

    #[test]
    fn distinct_keeps_each_value_once_in_first_order() {
        let mut next = crate::xorshift32(0x2545_F491);
        let mut seen = vec![7u32; 3]; // any contents
        for n in [0usize, 1, 2, 3, 17, 200, 5000] {
            for spread in [3u32, 1000, u32::MAX] {
                let v: Vec<u32> = (0..n).map(|_| next() % spread).collect();
                let mut got = v.clone();
                distinct(&mut got, &mut seen);
                let mut want = Vec::new();
                for &h in &v {
                    if !want.contains(&h) {
                        want.push(h);
                    }
                }
                assert_eq!(got, want, "n {n} spread {spread}");
            }
        }
        let mut v = vec![0, 5, 0, u32::MAX, 5, u32::MAX, 0];
        distinct(&mut v, &mut seen);
        assert_eq!(v, vec![0, 5, u32::MAX]);
    }

    #[test]
    fn exact_key_is_blake2b_96() {
        // hashlib.blake2b(b"", digest_size=12).hexdigest()
        let hex: String = exact_key("").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "b8e1dda3ac0aa3820ad2990b");
    }

    #[test]
    fn tables_refuse_bad_ranges() {
        assert!(Tables::new(&[(0x20, 0x10)]).is_err());
        assert!(Tables::new(&[(0x10_FFFF, 0x11_0000)]).is_err());
        let t = tables();
        assert_eq!(
            (t.class(0x41), t.class(0xAD), t.class(0x4E00), t.class(0x3000)),
            (WORD, DROP, UNSEG, SEP)
        );
    }
}

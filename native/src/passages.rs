//! Passages (the units of near-duplicate detection below the document) and template line
//! keys: per-line and per-word work that ran in Python, one call per document here.
//!
//! Everything follows the Python it replaced character for character: lengths are counted
//! in code points, words are `str.split()`'s (split on `str.isspace` characters), and the
//! character tests are `str.islower`, `str.isupper`, `str.isdigit` and `str.casefold` of the
//! running interpreter, read from the core's one Unicode table ([`crate::unicode::props`]), so
//! the answers cannot depend on the Unicode version Rust ships.

use blake2::digest::consts::U8;
use blake2::{Blake2b, Digest};
use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::guarded;

/// The core's Unicode table: every per-character answer below comes from it.
pub use crate::unicode::Props as CharTable;

/// `s.split()`: the runs of characters that are not `str.isspace`.
pub fn words<'a>(t: &'a CharTable, s: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    s.split(move |c: char| t.is_space(c)).filter(|w| !w.is_empty())
}

/// A line ends a sentence with a full stop, ? ! … (or : ;), perhaps inside quotes or brackets.
const ENDS: &[char] = &['.', '!', '?', '…', ':', ';'];
const CLOSERS: &[char] = &['"', '\'', '”', '’', '»', ')', ']'];
pub const WRAP_MIN_CHARS: usize = 30;
pub const WRAP_SLACK: usize = 8;
pub const WRAP_FULL: f64 = 0.85;

fn len(s: &str) -> usize {
    s.chars().count()
}

/// `re.search(r"[.!?…:;]["'”’»)\]]*$", line)`.
fn ends_sentence(line: &str) -> bool {
    line.trim_end_matches(CLOSERS).ends_with(ENDS)
}

/// Whether `line` continues the sentence `prev` broke off (`prev` hard-wrapped): see
/// `cleaner.dedup.passages.continues` for the why. `width`: the longest line of the block
/// so far (0 at its first line).
pub fn continues(t: &CharTable, prev: &str, line: &str, width: usize) -> bool {
    continues_counted(t, (prev, len(prev)), (line, len(line)), width)
}

/// [`continues`] of lines given with their lengths in code points (which a caller that
/// has read the text already knows: counting them again was most of this test's time).
fn continues_counted(t: &CharTable, prev: (&str, usize), line: (&str, usize), width: usize) -> bool {
    let ((prev, prev_len), (line, line_len)) = (prev, line);
    if prev_len < WRAP_MIN_CHARS {
        return false;
    }
    let first_word = line.split(' ').next().unwrap_or("");
    if line_len > prev_len + 1 + len(first_word) + WRAP_SLACK {
        return false;
    }
    if ends_sentence(prev) {
        return width > 0 && prev_len as f64 >= WRAP_FULL * width as f64 && line_len <= width + WRAP_SLACK;
    }
    let (Some(last), Some(first)) = (prev.chars().next_back(), line.chars().next()) else {
        return false;
    };
    t.is_lower(first) || t.is_digit(first) || ",-–—(/&".contains(last) || t.is_lower(last) || t.is_digit(last)
}

/// A paragraph: its first and last line (1-based lines of the text) and its text.
pub type Paragraph = (usize, usize, String);

/// The first and last line (1-based) of each paragraph of a clean text: a line, or the
/// hard-wrapped lines of one paragraph (see [`paragraphs`]). Blank lines (only `str.isspace`
/// characters) belong to no paragraph, but one may lie between two lines of a paragraph.
pub fn paragraph_spans(t: &CharTable, text: &str) -> Vec<(usize, usize)> {
    let counts: Vec<(usize, bool)> = text
        .split('\n')
        .map(|l| (len(l), l.chars().all(|c| t.is_space(c))))
        .collect();
    paragraph_spans_counted(t, text.split('\n'), |i| counts.get(i).copied().unwrap_or((0, true)))
}

/// [`paragraph_spans`] of the text whose lines (`text.split("\n")`) are `lines`, given each
/// line's length in code points and whether it is blank (`counts(i)`, `i` the 0-based
/// line): the dedup features read them as they fold the text ([`crate::minhash::Tokens`]),
/// and reading every line again for them was most of the paragraphs' time there.
pub fn paragraph_spans_counted<'a>(
    t: &CharTable,
    lines: impl Iterator<Item = &'a str>,
    counts: impl Fn(usize) -> (usize, bool),
) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut prev = ("", 0usize);
    let mut width = 0usize;
    for (i, line) in lines.enumerate() {
        let lineno = i + 1;
        let (chars, blank) = counts(i);
        if blank {
            continue;
        }
        let joined = !out.is_empty() && continues_counted(t, prev, (line, chars), width);
        match out.last_mut() {
            Some(last) if joined => {
                last.1 = lineno;
                width = width.max(prev.1).max(chars);
            }
            _ => {
                out.push((lineno, lineno));
                width = 0;
            }
        }
        prev = (line, chars);
    }
    out
}

/// The paragraphs of a clean text: a line, or the hard-wrapped lines of one paragraph
/// joined by spaces (`cleaner.dedup.passages.paragraphs`).
pub fn paragraphs(t: &CharTable, text: &str) -> Vec<Paragraph> {
    let lines: Vec<&str> = text.split('\n').collect();
    paragraph_spans(t, text)
        .into_iter()
        .map(|(start, end)| (start, end, join_paragraph(t, lines.get(start - 1..end).unwrap_or(&[]))))
        .collect()
}

/// A paragraph's text from its lines: those that are not blank, joined by single spaces
/// (a hard-wrapped paragraph may hold blank-looking lines of spaces between its lines).
pub fn join_paragraph(t: &CharTable, part: &[&str]) -> String {
    let mut joined = String::new();
    for (n, line) in part.iter().filter(|l| !l.chars().all(|c| t.is_space(c))).enumerate() {
        if n > 0 {
            joined.push(' ');
        }
        joined.push_str(line);
    }
    joined
}

/// Python's `range(0, words - overlap, window - overlap)`: the first word of each window of
/// a paragraph longer than `window` words. A step of 0 is refused, as `range` refuses it.
pub fn window_starts(words: usize, window: usize, overlap: usize) -> Result<Vec<usize>, String> {
    let (stop, step) = (words as i64 - overlap as i64, window as i64 - overlap as i64);
    if step == 0 {
        return Err(format!("window ({window}) must differ from overlap ({overlap})"));
    }
    if step < 0 {
        return Ok(Vec::new());
    }
    Ok((0..stop.max(0)).step_by(step as usize).map(|s| s as usize).collect())
}

/// Python's indexing of a sequence of `n` items by `i` (negative from the end).
fn py_index(i: i64, n: usize) -> Option<usize> {
    let j = if i < 0 { i + n as i64 } else { i };
    (0..n as i64).contains(&j).then_some(j as usize)
}

/// A passage: its paragraph's first and last line, its text and its number of words.
pub type Passage = (usize, usize, String, usize);

/// `cleaner.dedup.passages.split`: the paragraphs, long ones as windows of `window` words
/// overlapping by `overlap`, each with its word count.
pub fn split(t: &CharTable, text: &str, window: usize, overlap: usize) -> Result<Vec<Passage>, String> {
    let mut out = Vec::new();
    for (start, end, para) in paragraphs(t, text) {
        let words: Vec<&str> = words(t, &para).collect();
        if words.len() <= window {
            let n = words.len();
            out.push((start, end, para, n));
            continue;
        }
        for first in window_starts(words.len(), window, overlap)? {
            let part = &words[first..(first + window).min(words.len())];
            out.push((start, end, part.join(" "), part.len()));
        }
    }
    Ok(out)
}

/// The text `split` gives the passage numbered `number` of `paragraph`.
pub fn passage_text(
    t: &CharTable,
    paragraph: &str,
    number: i64,
    window: usize,
    overlap: usize,
) -> Result<String, Fail> {
    let words: Vec<&str> = words(t, paragraph).collect();
    if words.len() <= window {
        return Ok(paragraph.to_string());
    }
    let starts = window_starts(words.len(), window, overlap).map_err(Fail::Value)?;
    let first = starts[py_index(number, starts.len()).ok_or(Fail::Index)?];
    Ok(words[first..(first + window).min(words.len())].join(" "))
}

/// Why a call fails: a bad argument (`ValueError`) or a window number out of range (`IndexError`).
#[derive(Debug)]
pub enum Fail {
    Value(String),
    Index,
}

const OPENERS: &[char] = &['"', '\'', '“', '‘', '«', '(', '['];
const WORD_ENDS: &[char] = &['.', '!', '?', '…'];
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "mt", "gen", "sen", "rep", "gov", "lt", "col", "sgt", "capt", "jr", "sr",
    "vs", "no",
];

/// `re.search(r"""[^.]{2,}[.!?…]["'”’»)\]]*$|[!?…]["'”’»)\]]*$""", word)`.
fn word_ends_sentence(word: &str) -> bool {
    let core = word.trim_end_matches(CLOSERS);
    let mut rev = core.chars().rev();
    match rev.next() {
        Some('!' | '?' | '…') => true,
        Some('.') => matches!((rev.next(), rev.next()), (Some(a), Some(b)) if a != '.' && b != '.'),
        _ => false,
    }
}

/// Sentences of a paragraph's words as `(first, end)` word ranges covering them all
/// (`cleaner.dedup.passages.sentences`).
pub fn sentences<S: AsRef<str>>(t: &CharTable, words: &[S]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..words.len().saturating_sub(1) {
        let word = words[i].as_ref();
        let Some(c) = words[i + 1].as_ref().trim_start_matches(OPENERS).chars().next() else {
            continue;
        };
        if !word_ends_sentence(word) || !(t.is_upper(c) || t.is_digit(c)) {
            continue;
        }
        let core = word
            .trim_end_matches(CLOSERS)
            .trim_end_matches(WORD_ENDS)
            .to_lowercase();
        if TITLES.contains(&core.as_str()) || core.contains('.') {
            continue;
        }
        out.push((start, i + 1));
        start = i + 1;
    }
    if !words.is_empty() {
        out.push((start, words.len()));
    }
    out
}

/// `paragraph` without its windows numbered `windows`, whole sentences at a time
/// (`cleaner.dedup.passages.cut_windows`).
pub fn cut_windows(
    t: &CharTable,
    paragraph: &str,
    windows: &[i64],
    window: usize,
    overlap: usize,
) -> Result<String, Fail> {
    let words: Vec<&str> = words(t, paragraph).collect();
    if words.len() <= window {
        return Ok(String::new());
    }
    let starts = window_starts(words.len(), window, overlap).map_err(Fail::Value)?;
    let mut gone = vec![false; words.len()];
    for &w in windows {
        let start = starts[py_index(w, starts.len()).ok_or(Fail::Index)?];
        for g in gone.iter_mut().skip(start).take(window) {
            *g = true;
        }
    }
    let mut kept: Vec<&str> = Vec::new();
    for (first, end) in sentences(t, &words) {
        if 2 * gone[first..end].iter().filter(|&&g| g).count() < end - first {
            kept.extend(&words[first..end]);
        }
    }
    Ok(kept.join(" "))
}

/// `cleaner.clean.furniture.line_key`: BLAKE2b (8 bytes, read little-endian) of the UTF-8 of
/// `" ".join(line.split()).casefold()`.
///
/// An ASCII line (nine in ten) takes a path of its own with the same result: its
/// `str.split()` whitespace is the bytes 0x09-0x0D and 0x1C-0x20, and its casefold is its
/// lower case, so it is collapsed and lowered a byte at a time, without decoding characters
/// or looking each one up in the Unicode tables (which is most of the general path's cost).
pub fn line_key(t: &CharTable, line: &str, buf: &mut String) -> u64 {
    buf.clear();
    if line.is_ascii() {
        // `buf` is only ever ASCII here: its bytes are taken and given back as they are
        let mut out = std::mem::take(buf).into_bytes();
        let key = ascii_line_key(line.as_bytes(), &mut out);
        out.clear();
        *buf = String::from_utf8(out).unwrap_or_default();
        return key;
    }
    for (i, w) in words(t, line).enumerate() {
        if i > 0 {
            buf.push(' ');
        }
        t.casefold_into(w, buf);
    }
    u64::from_le_bytes(Blake2b::<U8>::digest(buf.as_bytes()).into())
}

/// [`line_key`] of an ASCII line, collapsed and lowered into `out`. A line that is collapsed
/// already (no whitespace but single spaces between words: most lines of a clean text) is
/// lowered whole, in loops without branches that the compiler vectorises; another one a byte
/// at a time.
fn ascii_line_key(line: &[u8], out: &mut Vec<u8>) -> u64 {
    out.clear();
    let controls = line.iter().fold(false, |acc, &b| acc | (b < 0x20));
    let doubled = line
        .iter()
        .zip(line.iter().skip(1))
        .fold(false, |acc, (&a, &b)| acc | (a == b' ' && b == b' '));
    let tight = !controls && !doubled && line.first() != Some(&b' ') && line.last() != Some(&b' ');
    if tight {
        out.extend(line.iter().map(u8::to_ascii_lowercase));
        return u64::from_le_bytes(Blake2b::<U8>::digest(&out[..]).into());
    }
    out.reserve(line.len());
    let mut gap = false; // a space after a word, written when another word follows
    for &b in line {
        if ascii_space(b) {
            gap = !out.is_empty();
        } else {
            if gap {
                out.push(b' ');
                gap = false;
            }
            out.push(b.to_ascii_lowercase());
        }
    }
    u64::from_le_bytes(Blake2b::<U8>::digest(&out[..]).into())
}

/// `chr(b).isspace()` for an ASCII byte.
#[inline]
fn ascii_space(b: u8) -> bool {
    crate::unicode::ascii_isspace(u32::from(b))
}

/// `len(s.split())` of UTF-8 bytes (lone surrogates in their `surrogatepass` form, which
/// are not spaces): the runs of characters that are not `str.isspace`.
pub fn split_count(t: &CharTable, bytes: &[u8]) -> usize {
    // most lines are ASCII (told in one vectorised pass): a word starts at each byte that is
    // not a space after one that is, counted without branches
    if bytes.is_ascii() {
        let mut prev_space = true;
        return bytes.iter().fold(0, |n, &b| {
            let space = ascii_space(b);
            let starts = usize::from(prev_space & !space);
            prev_space = space;
            n + starts
        });
    }
    let (mut n, mut in_word) = (0, false);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let space = if b < 0x80 {
            i += 1;
            ascii_space(b)
        } else {
            // one character: the lenient decoder reads exactly one from its first bytes
            let len = match b {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            let end = (i + len).min(bytes.len());
            let mut space = false;
            let mut read = 0;
            crate::minhash::decode(bytes.get(i..end).unwrap_or(&[]), |cp| {
                if read == 0 {
                    space = t.flags(cp) & crate::unicode::SPACE != 0;
                }
                read += 1;
            });
            // a malformed sequence is one U+FFFD for its first byte, then its other bytes
            i += if read == 1 { end - i } else { 1 };
            space
        };
        if !space && !in_word {
            n += 1;
        }
        in_word = !space;
    }
    n
}

// ----------------------------------------------------------------------------- Python

pub(crate) fn fail(e: Fail) -> PyErr {
    match e {
        Fail::Value(m) => PyValueError::new_err(m),
        Fail::Index => PyIndexError::new_err("range object index out of range"),
    }
}

/// `[(line_start, line_end, text), ...]`: the paragraphs of a clean text.
#[pyfunction]
fn paragraphs_of(py: Python<'_>, text: &str) -> PyResult<Vec<Paragraph>> {
    let t = crate::unicode::props();
    guarded(py, || paragraphs(t, text))
}

/// `[(line_start, line_end, text, words), ...]`: the passages of a clean text.
#[pyfunction]
fn split_passages(py: Python<'_>, text: &str, window: usize, overlap: usize) -> PyResult<Vec<Passage>> {
    let t = crate::unicode::props();
    guarded(py, || split(t, text, window, overlap))?.map_err(PyValueError::new_err)
}

/// The text of passage `number` of `paragraph`.
#[pyfunction]
fn passage_text_of(py: Python<'_>, paragraph: &str, number: i64, window: usize, overlap: usize) -> PyResult<String> {
    let t = crate::unicode::props();
    guarded(py, || passage_text(t, paragraph, number, window, overlap))?.map_err(fail)
}

/// `paragraph` less its windows `windows`, in whole sentences.
#[pyfunction]
fn cut_passage_windows(
    py: Python<'_>,
    paragraph: &str,
    windows: Vec<i64>,
    window: usize,
    overlap: usize,
) -> PyResult<String> {
    let t = crate::unicode::props();
    guarded(py, || cut_windows(t, paragraph, &windows, window, overlap))?.map_err(fail)
}

/// The sentences of a list of words, as `(first, end)` ranges.
#[pyfunction]
fn sentences_of(py: Python<'_>, words: Vec<String>) -> PyResult<Vec<(usize, usize)>> {
    let t = crate::unicode::props();
    guarded(py, || sentences(t, &words))
}

/// The template key of each line (`cleaner.clean.furniture.line_key`). The lines are read
/// where they are (each `str`'s UTF-8, which CPython keeps for an ASCII string and caches for
/// another), with no copy into a `String` of their own; a line with lone surrogates raises
/// `UnicodeEncodeError`, as converting it would.
#[pyfunction]
fn line_keys(py: Python<'_>, lines: Vec<Bound<'_, PyString>>) -> PyResult<Vec<u64>> {
    let t = crate::unicode::props();
    let lines = lines.iter().map(|l| l.to_str()).collect::<PyResult<Vec<&str>>>()?;
    guarded(py, || {
        let mut buf = String::new();
        lines.iter().map(|ln| line_key(t, ln, &mut buf)).collect()
    })
}

/// `len(text.split())`, without making the words: the manifest counts the words of every
/// document it writes, and Python's split builds a string object per word to count them.
#[pyfunction]
fn word_count(text: Bound<'_, PyString>) -> PyResult<usize> {
    let t = crate::unicode::props();
    let raw = crate::text_bytes(&text)?;
    crate::guarded_short(|| split_count(t, &raw))
}

/// Adds this module's class and functions to `cleaner._native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(paragraphs_of, m)?)?;
    m.add_function(wrap_pyfunction!(split_passages, m)?)?;
    m.add_function(wrap_pyfunction!(passage_text_of, m)?)?;
    m.add_function(wrap_pyfunction!(cut_passage_windows, m)?)?;
    m.add_function(wrap_pyfunction!(sentences_of, m)?)?;
    m.add_function(wrap_pyfunction!(line_keys, m)?)?;
    m.add_function(wrap_pyfunction!(word_count, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_join() {
        let t = crate::unicode::props();
        let text = "Headline\n\nThe minister said on Tuesday that the talks would go on until\nthe end of the week, and that no deal was near.\n\nNext";
        let p = paragraphs(t, text);
        assert_eq!(p.len(), 3);
        assert_eq!((p[1].0, p[1].1), (3, 4));
        assert!(p[1]
            .2
            .ends_with("until the end of the week, and that no deal was near."));
    }

    #[test]
    fn split_count_is_len_of_str_split() {
        let t = crate::unicode::props();
        for s in [
            "",
            "  ",
            "one",
            " two  words ",
            "a\tb\nc\x0bd\x0ce\rf\x1cg\x1dh\x1ei\x1fj",
            "no\u{200B}break\u{3000}ideographic\u{a0}nbsp\u{2028}line\u{85}nel",
            "\u{7f}\u{80}x",
        ] {
            assert_eq!(split_count(t, s.as_bytes()), words(t, s).count(), "{s:?}");
        }
        assert_eq!(split_count(t, "a\x1cb c\u{3000}d\u{200B}e".as_bytes()), 4);
    }

    #[test]
    fn windows_overlap() {
        assert_eq!(window_starts(450, 200, 50).unwrap(), vec![0, 150, 300]);
        assert!(window_starts(450, 50, 50).is_err());
        assert!(window_starts(450, 40, 50).unwrap().is_empty());
    }

    #[test]
    fn sentences_skip_titles_and_initials() {
        let t = crate::unicode::props();
        let words: Vec<&str> = "Dr. Smith came. U.S. officials left. He said so! Yes"
            .split(' ')
            .collect();
        assert_eq!(sentences(t, &words), vec![(0, 3), (3, 6), (6, 9), (9, 10)]);
    }

    #[test]
    fn split_counts_are_str_split_lengths() {
        let t = crate::unicode::props();
        for (s, n) in [
            ("", 0),
            ("  ", 0),
            ("a", 1),
            (" a  b\tc\u{3000}d\x1c e ", 5),
            ("x\u{200B}y", 1),
        ] {
            assert_eq!(split_count(t, s.as_bytes()), n, "{s:?}");
        }
        assert_eq!(split_count(t, b"a\xed\xa0\x80 b"), 2); // a lone surrogate is not a space
                                                           // the ASCII path and the general one agree (an ASCII line with a character appended
                                                           // takes the general path): every ASCII byte, alone and between words
        for b in 0u8..0x80 {
            for s in [vec![b], vec![b'a', b, b'b'], vec![b, b, b'x', b]] {
                let n = split_count(t, &s);
                let mut wide = s.clone();
                wide.extend_from_slice("\u{e9}".as_bytes()); // "é" ends the last word or is one
                let extra = usize::from(s.last().is_some_and(|&c| ascii_space(c)));
                assert_eq!(split_count(t, &wide), n + extra, "{s:?}");
                let words = std::str::from_utf8(&s)
                    .unwrap_or_default()
                    .split_ascii_whitespace()
                    .count();
                if !(0x1C..0x20).contains(&b) && b != 0x0B {
                    assert_eq!(n, words, "{s:?}"); // Rust's ASCII whitespace lacks 0x0B, 0x1C-0x1F
                }
            }
        }
    }

    #[test]
    fn line_key_is_blake2b_64_of_collapsed_fold() {
        let t = crate::unicode::props();
        let mut buf = String::new();
        // int.from_bytes(hashlib.blake2b(b"", digest_size=8).digest(), "little")
        assert_eq!(line_key(t, "  \t ", &mut buf), 0xb4b2_7974_57a0_a6e4);
        assert_eq!(
            line_key(t, " Home  About ", &mut buf),
            line_key(t, "home about", &mut buf)
        );
    }
}

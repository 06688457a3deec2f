//! What dedup holds of a document, in one call per document (`cleaner.dedup.features.features`):
//! the exact key, shingle count and MinHash signature of the document and of each of its
//! passages, and where the passages are.
//!
//! The document is sketched by its prose (its lines the furniture classifier reads as
//! prose, when they hold enough words; see `cleaner.dedup.features.prose_of` for why) and
//! keyed by its whole text; its passages (`cleaner.dedup.passages.split`: paragraphs, long
//! ones as windows of words) each by their own text. In Python this was a classification,
//! a list of passage objects and a batch of texts for the core, every passage's text made,
//! then decoded, folded and hashed again (and the document twice: as its text and as its
//! prose). Here the document is folded once ([`minhash::tokens`]): every row is a run of its
//! lines or of its words, so a row's fold is a slice of the document's, its tokens a range
//! of the document's tokens, and a passage's word shingles a range of the document's.
//!
//! The results are defined to be exactly those of the Python it replaced (the tests compare
//! them, and the shingles and signatures with the plain-Python definitions and datasketch).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::furniture::py::PyFurniture;
use crate::furniture::{Classifier, KnownToken, GOOD};
use crate::minhash::{self, Collapsed, Tables, Tokens};
use crate::{guarded, le_bytes, passages, u32s, unicode, PyTables};

/// What a document's features depend on (`cleaner.dedup.settings.DedupSettings`).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Words per passage window, and the overlap of consecutive windows.
    pub window: usize,
    pub overlap: usize,
    /// Passages with fewer words are left out (unless in an unsegmented script).
    pub passage_min_words: usize,
    /// The document is sketched by its prose when that has this many words.
    pub prose_min_words: usize,
    pub ngram: usize,
    pub char_ngram: usize,
}

/// A document's features as columns: row 0 is the document, rows 1.. its passages.
#[derive(Debug, Default, PartialEq)]
pub struct Features {
    /// 12-byte exact keys, row after row.
    pub exact: Vec<u8>,
    /// Distinct shingles of each row (0: too short, no signature).
    pub size: Vec<i32>,
    /// The signatures of the rows with shingles, row after row.
    pub sigs: Vec<u32>,
    /// Per passage: its paragraph's first and last line (1-based), its length in code
    /// points, and whether it is part of the prose the document is sketched by.
    pub line_start: Vec<i32>,
    pub line_end: Vec<i32>,
    pub chars: Vec<i32>,
    pub prose: Vec<bool>,
    /// The document's `str.split()` words (`len(text.split())`): counted by the tokenizer as
    /// it reads the text, so that the caller need not count them again (the pass-2 worker
    /// pickles a document with its word count, `Document.words_out`).
    pub words: usize,
}

/// The classes of the document's lines (`text.split("\n")`), as the furniture classifier
/// gives them for the collapsed lines (`cleaner.clean.furniture.classify`).
///
/// The lines are collapsed (`" ".join(line.split())`) as the tokens are read
/// ([`minhash::tokens_collapsed`]), all into one buffer: the text is read once, and a line
/// costs no allocation of its own (collapsing and decoding each line apart was a tenth of a
/// document's features). The classifier reads again only the lines whose `\w+` tokens are
/// not the tokenizer's (`k`): of an ASCII line without `_` (most lines of most pages,
/// [`Collapsed::plain`]) they are, each lowered in the fold, and where each starts in its
/// collapsed line was noted as it was read ([`Classifier::classify_known`]).
fn line_classes(c: &Classifier, k: &Tokens, lines: &Collapsed) -> Vec<u8> {
    let views: Vec<&[u32]> = lines
        .spans
        .iter()
        .map(|&(a, b)| lines.cps.get(a..b).unwrap_or(&[]))
        .collect();
    c.classify_known(&views, |i| known_line(k, lines, i)).0
}

/// What [`line_classes`] hands the classifier of line `i` it knows ([`Classifier::classify_known`]):
/// its `str.split()` count and each token's start in the collapsed line, its length and the
/// fold from it on.
fn known_line<'k>(
    k: &'k Tokens,
    lines: &'k Collapsed,
    i: usize,
) -> Option<(usize, impl Iterator<Item = KnownToken<'k>> + 'k)> {
    if !lines.plain.get(i).copied().unwrap_or(false) {
        return None;
    }
    let at = |v: &[u32], j: usize| v.get(j).copied().unwrap_or(0) as usize;
    let words = at(&k.line_word, i + 1).saturating_sub(at(&k.line_word, i));
    let fold = k.fold.as_bytes();
    let tokens = (at(&k.line_tok, i)..at(&k.line_tok, i + 1)).map(move |t| {
        let col = lines.tok_col.get(t).copied().unwrap_or(0) as usize;
        let (a, b) = k.span.get(t).copied().unwrap_or((0, 0));
        (col, b.saturating_sub(a) as usize, fold.get(a as usize..).unwrap_or(&[]))
    });
    Some((words, tokens))
}

/// The shingles of tokens `t0..t1` (in text order, with repeats) into `out`, given `grams`,
/// the word `ngram`s of all the document's tokens.
fn range_shingles(k: &Tokens, grams: &[u32], t0: usize, t1: usize, s: &Settings, out: &mut Vec<u32>) {
    out.clear();
    let (chars, unseg) = k.counts(t0, t1);
    if minhash::is_char_mode(chars, unseg) {
        let mut ids = Vec::new();
        k.char_hashes(t0, t1, &mut ids);
        out.extend(minhash::ngrams(&ids, s.char_ngram));
    } else if t1 >= t0 + s.ngram {
        out.extend_from_slice(grams.get(t0..=t1 - s.ngram).unwrap_or(&[]));
    }
}

/// The shingles of the text made of the lines `lines` (joined by newlines), given `grams`,
/// the word `ngram`s of all the document's tokens.
///
/// In word mode the lines' tokens are runs of the document's (lines in a row, or with only
/// token-less lines between them, are one run), and a shingle inside a run is one of
/// `grams`: only those across the runs' seams are hashed here (hashing every shingle of
/// the prose again was most of this function's time).
fn lines_shingles(k: &Tokens, grams: &[u32], lines: &[usize], s: &Settings, out: &mut Vec<u32>) {
    out.clear();
    let range = |i: usize| {
        let at = |j: usize| k.line_tok.get(j).copied().unwrap_or(0) as usize;
        (at(i), at(i + 1))
    };
    let (mut chars, mut unseg) = (0u32, 0u32);
    for &i in lines {
        let (c, u) = k.counts(range(i).0, range(i).1);
        chars += c;
        unseg += u;
    }
    let mut ids = Vec::new();
    if minhash::is_char_mode(chars, unseg) {
        for &i in lines {
            let (t0, t1) = range(i);
            k.char_hashes(t0, t1, &mut ids);
        }
        minhash::ngrams_into(&ids, s.char_ngram, out);
        return;
    }
    // the runs of tokens, as (first, end) in the document's tokens
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &i in lines {
        let (t0, t1) = range(i);
        match runs.last_mut() {
            Some(last) if last.1 == t0 => last.1 = t1,
            _ if t1 > t0 => runs.push((t0, t1)),
            _ => {}
        }
    }
    for &(t0, t1) in &runs {
        ids.extend_from_slice(k.hash.get(t0..t1).unwrap_or(&[]));
    }
    let n = s.ngram;
    if n == 0 {
        return; // as `ngrams` gives
    }
    let mut at = 0; // where the run starts in `ids`
    for &(t0, t1) in &runs {
        let len = t1 - t0;
        if len >= n {
            out.extend_from_slice(grams.get(t0..=t1 - n).unwrap_or(&[]));
        }
        // the shingles that start in this run and end in a later one
        for p in (at + len).saturating_sub(n - 1).max(at)..at + len {
            if let Some(w) = ids.get(p..p + n) {
                out.push(minhash::ngram_hash(w));
            }
        }
        at += len;
    }
}

impl Features {
    /// Empties every column, keeping its memory (every field named: a new one is a compile
    /// error here until it is cleared).
    fn clear(&mut self) {
        let Features {
            exact,
            size,
            sigs,
            line_start,
            line_end,
            chars,
            prose,
            words,
        } = self;
        *words = 0;
        exact.clear();
        size.clear();
        sigs.clear();
        line_start.clear();
        line_end.clear();
        chars.clear();
        prose.clear();
    }

    /// The memory the columns hold, in bytes (every field named, as in [`Features::clear`]).
    fn held(&self) -> usize {
        let Features {
            exact,
            size,
            sigs,
            line_start,
            line_end,
            chars,
            prose,
            words: _,
        } = self;
        exact.capacity()
            + 4 * (size.capacity() + sigs.capacity() + line_start.capacity() + line_end.capacity() + chars.capacity())
            + prose.capacity()
    }

    /// Adds a row: its exact key (of the fold `key`), and the distinct count and signature of
    /// `shingles` (in any order, with repeats; left unique and mixed). `seen`: scratch for
    /// [`minhash::distinct`].
    fn add_row(&mut self, key: &str, shingles: &mut Vec<u32>, seen: &mut Vec<u32>, a: &[u32], b: &[u32]) {
        self.exact.extend_from_slice(&minhash::exact_key(key));
        minhash::distinct(shingles, seen);
        self.size.push(shingles.len() as i32);
        if !shingles.is_empty() {
            let at = self.sigs.len();
            self.sigs.resize(at + a.len().min(b.len()), u32::MAX);
            minhash::sign_into_mixing(shingles, a, b, &mut self.sigs[at..]);
        }
    }
}

/// Line `i`'s length in code points and whether it is blank, as the tokenizer counted them
/// (`k`, of the text `passages::paragraph_spans_counted` splits): a line is blank (only
/// `str.isspace` characters) when it has no `str.split()` word.
fn line_counts(k: &minhash::Tokens) -> impl Fn(usize) -> (usize, bool) + '_ {
    let line_word = |i: usize| k.line_word.get(i).copied().unwrap_or(0) as usize;
    move |i| {
        let chars = k.line_chars.get(i).copied().unwrap_or(0) as usize;
        (chars, line_word(i + 1) == line_word(i))
    }
}

/// The features of one document (see the module's documentation). `classifier`: the
/// furniture classifier that picks the prose, None to sketch the document by its whole text.
pub fn features(
    text: &str,
    t: &Tables,
    classifier: Option<&Classifier>,
    s: &Settings,
    a: &[u32],
    b: &[u32],
) -> Result<Features, String> {
    let mut out = Features::default();
    features_into(text, t, classifier, s, a, b, &mut out)?;
    Ok(out)
}

/// What a document's features are computed in besides their columns: its tokens, its
/// collapsed lines, its word shingles, a row's shingles and [`minhash::distinct`]'s table.
/// Kept by the thread from document to document ([`SCRATCH`]), as the columns are.
#[derive(Default)]
pub struct Scratch {
    k: Tokens,
    lines: Collapsed,
    grams: Vec<u32>,
    shingles: Vec<u32>,
    seen: Vec<u32>,
}

impl Scratch {
    /// The memory the buffers hold, in bytes.
    fn held(&self) -> usize {
        let Scratch {
            k,
            lines,
            grams,
            shingles,
            seen,
        } = self;
        k.held() + lines.held() + 4 * (grams.capacity() + shingles.capacity() + seen.capacity())
    }
}

/// [`features`] into `out` (cleared first: its columns' memory is reused, see [`SPARE`]),
/// with the thread's [`Scratch`].
pub fn features_into(
    text: &str,
    t: &Tables,
    classifier: Option<&Classifier>,
    s: &Settings,
    a: &[u32],
    b: &[u32],
    out: &mut Features,
) -> Result<(), String> {
    let mut scratch = take_spare(&SCRATCH);
    let done = features_with(text, t, classifier, s, a, b, out, &mut scratch);
    keep_scratch(scratch);
    done
}

/// Keeps `scratch` as the thread's [`Scratch`], unless it holds more than [`SCRATCH_MAX`].
fn keep_scratch(scratch: Scratch) {
    if scratch.held() <= SCRATCH_MAX {
        keep_spare(&SCRATCH, scratch);
    }
}

/// [`features_into`] with the buffers `scratch` (any contents: each is emptied before use).
#[allow(clippy::too_many_arguments)]
pub fn features_with(
    text: &str,
    t: &Tables,
    classifier: Option<&Classifier>,
    s: &Settings,
    a: &[u32],
    b: &[u32],
    out: &mut Features,
    scratch: &mut Scratch,
) -> Result<(), String> {
    out.clear();
    let props = unicode::props();
    let Scratch {
        k,
        lines,
        grams,
        shingles,
        seen,
    } = scratch;
    minhash::tokens_into(text, t, k, classifier.map(|_| &mut *lines));
    let k = &*k;
    let ntok = k.hash.len();
    minhash::ngrams_into(&k.hash, s.ngram, grams);
    let grams = &grams[..];
    let line_tok = |i: usize| k.line_tok.get(i).copied().unwrap_or(0) as usize;
    let line_word = |i: usize| k.line_word.get(i).copied().unwrap_or(0) as usize;
    out.words = line_word(k.line_word.len().saturating_sub(1));

    // the prose: the lines classed good, when they hold prose_min_words words (a text of
    // fewer words has no such lines: its lines are not classed)
    let classes = match classifier {
        Some(c) if out.words >= s.prose_min_words => line_classes(c, k, lines),
        _ => Vec::new(),
    };
    let good: Vec<usize> = (0..classes.len()).filter(|&i| classes[i] == GOOD).collect();
    let prose_words: usize = good.iter().map(|&i| line_word(i + 1) - line_word(i)).sum();
    let prose = classifier.is_some() && prose_words >= s.prose_min_words;

    if prose {
        lines_shingles(k, grams, &good, s, shingles);
    } else {
        range_shingles(k, grams, 0, ntok, s, shingles);
    }
    out.add_row(&k.fold, shingles, seen, a, b);
    for (start, end) in passages::paragraph_spans_counted(props, k.lines(text), line_counts(k)) {
        let (w0, w1) = (line_word(start - 1), line_word(end));
        let in_prose = prose && classes.get(start - 1) == Some(&GOOD);
        let mut add = |t0: usize, t1: usize, words: usize, chars: usize| {
            let (c, u) = k.counts(t0, t1);
            if words < s.passage_min_words && !minhash::is_char_mode(c, u) {
                return;
            }
            range_shingles(k, grams, t0, t1, s, shingles);
            out.add_row(k.fold_of(t0, t1), shingles, seen, a, b);
            out.line_start.push(start as i32);
            out.line_end.push(end as i32);
            out.chars.push(chars as i32);
            out.prose.push(in_prose);
        };
        if w1 - w0 <= s.window {
            // the paragraph's lines that are not blank, joined by spaces
            let (mut filled, mut chars) = (0usize, 0usize);
            for i in (start - 1..end).filter(|&i| line_word(i + 1) > line_word(i)) {
                filled += 1;
                chars += k.line_chars.get(i).copied().unwrap_or(0) as usize;
            }
            add(
                line_tok(start - 1),
                line_tok(end),
                w1 - w0,
                chars + filled.saturating_sub(1),
            );
            continue;
        }
        let words = k.word.get(line_tok(start - 1)..line_tok(end)).unwrap_or(&[]);
        let first_tok = line_tok(start - 1);
        let tok_of = |w: usize| first_tok + words.partition_point(|&x| (x as usize) < w);
        let word_chars = |w: usize| k.word_chars.get(w).copied().unwrap_or(0) as usize;
        for first in passages::window_starts(w1 - w0, s.window, s.overlap)? {
            let (lo, hi) = (w0 + first, w0 + (first + s.window).min(w1 - w0));
            add(
                tok_of(lo),
                tok_of(hi),
                hi - lo,
                word_chars(hi) - word_chars(lo) + (hi - lo).saturating_sub(1),
            );
        }
    }
    Ok(())
}

type Columns<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    usize,
);

/// The features of a document as bytes: exact keys (12 bytes a row), shingle counts (int32),
/// signatures (uint32, rows with shingles), and per passage its first and last line and
/// length (int32) and whether it is prose (one byte, 0 or 1); and the text's word count
/// (`len(text.split())`, see [`Features::words`]). `furniture`: the classifier
/// that picks the prose (None: sketch the whole text); `a`, `b`: the affine32 permutations.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn doc_features<'py>(
    py: Python<'py>,
    tables: &Bound<'py, PyTables>,
    furniture: Option<&Bound<'py, PyFurniture>>,
    text: &str,
    window: usize,
    overlap: usize,
    passage_min_words: usize,
    prose_min_words: usize,
    ngram: usize,
    char_ngram: usize,
    a: &[u8],
    b: &[u8],
) -> PyResult<Columns<'py>> {
    if ngram < 1 || char_ngram < 1 {
        return Err(PyValueError::new_err(format!(
            "shingle sizes must be positive, got ngram={ngram}, char_ngram={char_ngram}"
        )));
    }
    let (a, b) = (u32s(a)?, u32s(b)?);
    if a.len() != b.len() || a.is_empty() {
        return Err(PyValueError::new_err(
            "permutations a and b must be non-empty and of one length",
        ));
    }
    let t = &tables.get().0;
    let classifier = furniture.map(|f| f.get().0.clone());
    let s = Settings {
        window,
        overlap,
        passage_min_words,
        prose_min_words,
        ngram,
        char_ngram,
    };
    let mut f = spare_columns();
    guarded(py, || features_into(text, t, classifier.as_deref(), &s, &a, &b, &mut f))?
        .map_err(PyValueError::new_err)?;
    let prose: Vec<u8> = f.prose.iter().map(|&p| p as u8).collect();
    let columns = (
        le_bytes(py, &f.exact)?,
        le_bytes(py, &f.size)?,
        le_bytes(py, &f.sigs)?,
        le_bytes(py, &f.line_start)?,
        le_bytes(py, &f.line_end)?,
        le_bytes(py, &f.chars)?,
        le_bytes(py, &prose)?,
        f.words,
    );
    keep_columns(f);
    Ok(columns)
}

thread_local! {
    /// The columns of the last document's features on this thread, emptied and filled again
    /// by the next ([`features_into`]): grown from empty for every document (the signatures
    /// are 512 bytes a row), their doubling and copying was 3% of the call's instructions.
    static SPARE: std::cell::RefCell<Features> = std::cell::RefCell::new(Features::default());
}

thread_local! {
    /// The thread's [`Scratch`], kept from document to document as [`SPARE`] is.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// The most memory the spare columns keep, in bytes (a document of about 4,000 passages):
/// one huge document must not leave its columns held by the thread for the rest of the run.
const SPARE_MAX: usize = 4 << 20;

/// The most memory the thread's [`Scratch`] keeps, in bytes: about 16 times the text (the
/// fold, its tokens' columns, the collapsed lines' code points), so a document of up to
/// about 1 MB; a larger one's are let go, as the columns of [`SPARE_MAX`] are.
const SCRATCH_MAX: usize = 16 << 20;

/// What a thread keeps in `cell` (its spare columns, its scratch), taken out, or new: a
/// nested call, or one during the thread's exit, gets new ones.
fn take_spare<T: Default>(cell: &'static std::thread::LocalKey<std::cell::RefCell<T>>) -> T {
    cell.try_with(|c| {
        c.try_borrow_mut()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    })
    .unwrap_or_default()
}

/// Puts `v` back as what the thread keeps in `cell`.
fn keep_spare<T>(cell: &'static std::thread::LocalKey<std::cell::RefCell<T>>, v: T) {
    let _ = cell.try_with(|c| c.try_borrow_mut().map(|mut c| *c = v));
}

/// The thread's spare columns ([`SPARE`]), or new ones.
fn spare_columns() -> Features {
    take_spare(&SPARE)
}

/// Keeps `f`'s columns as the thread's spare ones, unless they hold more than [`SPARE_MAX`].
fn keep_columns(f: Features) {
    if f.held() <= SPARE_MAX {
        keep_spare(&SPARE, f);
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(doc_features, m)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row computed on its own text: the document's whole text, and the passages of
    /// `passages::split` that have enough words, folded and shingled one by one.
    fn one_by_one(text: &str, t: &Tables, s: &Settings, a: &[u32], b: &[u32]) -> Features {
        let props = unicode::props();
        let mut out = Features::default();
        let mut row = |shingled: &str, keyed: &str| {
            out.exact
                .extend_from_slice(&minhash::exact_key(&minhash::fold(&minhash::prepare(
                    keyed.as_bytes(),
                    t,
                ))));
            let h = minhash::shingles(&minhash::prepare(shingled.as_bytes(), t), s.ngram, s.char_ngram);
            out.size.push(h.len() as i32);
            if !h.is_empty() {
                out.sigs.extend(minhash::signature(&h, a, b));
            }
        };
        row(text, text);
        let mut kept = Vec::new();
        for (start, end, para, words) in passages::split(props, text, s.window, s.overlap).unwrap() {
            if words >= s.passage_min_words || minhash::prepare(para.as_bytes(), t).char_mode {
                row(&para, &para);
                kept.push((start as i32, end as i32, para.chars().count() as i32));
            }
        }
        out.line_start = kept.iter().map(|k| k.0).collect();
        out.line_end = kept.iter().map(|k| k.1).collect();
        out.chars = kept.iter().map(|k| k.2).collect();
        out.prose = vec![false; kept.len()];
        out.words = passages::split_count(props, text.as_bytes());
        out
    }

    #[test]
    fn paragraphs_from_the_tokenizers_counts_are_those_of_the_text() {
        // the features split paragraphs with the line lengths and blanks the tokenizer
        // counted (both kinds: with and without the collapsed lines); they must be those
        // `paragraph_spans` reads from the text, whatever spaces, line-like characters
        // (`\r`, `\x1c`, U+2028, U+0085: not line breaks here) and empty lines it has
        let t = Tables::new(&[(0x4E00, 0x9FFF)]).unwrap();
        let props = unicode::props();
        let pieces = [
            "word",
            "Lower",
            "end.",
            "x",
            "9",
            " ",
            "  ",
            "\t",
            "\u{a0}",
            "\u{3000}",
            "\u{2007}",
            "\r",
            "\x1c",
            "\x1f",
            "\u{2028}",
            "\u{2029}",
            "\u{85}",
            "\u{200B}",
            "\n",
            "\n",
            "\n\n",
            "\n \n",
            "é",
            "日本語",
            "-",
            ",",
            "\nand so",
            "\nthe",
            "\n1999",
            "the minister said on Tuesday that the talks would go",
            "the\u{a0}end of the week,\u{3000}and that no deal was near",
        ];
        let mut next = crate::xorshift32(0x9E37_79B9);
        let mut texts: Vec<String> = ["", "\n", "\n\n", "one line", " ", "\r", "\u{2028}", "a\n\nb\n"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for _ in 0..3000 {
            let n = (next() % 40) as usize;
            texts.push((0..n).map(|_| pieces[next() as usize % pieces.len()]).collect());
        }
        let mut joined = 0;
        for text in &texts {
            let want = passages::paragraph_spans(props, text);
            joined += want.iter().filter(|(a, b)| a != b).count();
            let plain = minhash::tokens(text, &t);
            assert_eq!(
                passages::paragraph_spans_counted(props, plain.lines(text), line_counts(&plain)),
                want,
                "{text:?}"
            );
            let (collapsed, _) = minhash::tokens_collapsed(text, &t);
            assert_eq!(
                passages::paragraph_spans_counted(props, collapsed.lines(text), line_counts(&collapsed)),
                want,
                "{text:?}"
            );
            // and the word count the features return is `len(text.split())`
            let words = passages::split_count(props, text.as_bytes());
            for k in [&plain, &collapsed] {
                assert_eq!(k.line_word.last().copied(), Some(words as u32), "{text:?}");
            }
        }
        assert!(joined > 100, "wrapped paragraphs tried: {joined}");
    }

    #[test]
    fn the_classifier_reads_known_lines_as_it_reads_them_itself() {
        // the lines the tokenizer marks plain (ASCII without `_`) are handed to the
        // classifier with its tokens: the classifier's reading of every line must be its
        // own, whatever the line holds (the readers differ on `_`, marks, format and
        // non-ASCII characters, case folds, long words and stopwords in capitals), and the
        // prose classes the features take from it too
        use crate::furniture::{default_params, Params, Props};
        let t = Tables::new(&[(0x4E00, 0x9FFF)]).unwrap();
        let stops: Vec<Vec<String>> = [
            // (a 16-character ASCII word, the longest of the one-load keys, and words ending
            // in a digit, whose key's last byte lacks 0x40)
            "the of and a in to is was it that for 1999 x abcdefghijklmnop a1b2 word9",
            "der die und das ist nicht",
        ]
        .iter()
        .map(|l| l.split(' ').map(String::from).collect())
        .collect();
        // more than 16 stoplists: the ASCII table is off, every token looked up in full
        let many: Vec<Vec<String>> = stops
            .iter()
            .cloned()
            .chain((0..15).map(|n| vec![format!("list{n}"), "and".to_string()]))
            .collect();
        assert!(many.len() > 16);
        for stops in [stops, many] {
            let props = Props::new(&[(0x4E00, 0x9FFF)]).unwrap();
            let c = Classifier::new(props, &stops, Params::from_map(&default_params()).unwrap()).unwrap();
            known_lines_read_as_own(&c, &t);
        }
    }

    /// [`the_classifier_reads_known_lines_as_it_reads_them_itself`] with the classifier `c`.
    fn known_lines_read_as_own(c: &Classifier, t: &Tables) {
        let pieces = [
            "the",
            "The",
            "THE",
            "of",
            "and",
            "Und",
            "der",
            "word",
            "Lower",
            "end.",
            "x",
            "X",
            "9",
            "1999",
            "a1b2",
            "snake_case",
            "_",
            "__init__",
            " ",
            "  ",
            "\t",
            "\u{a0}",
            "\u{3000}",
            "\n",
            "\n",
            "\n\n",
            "\r",
            "\x0b",
            "\x1c",
            "-",
            ",",
            ".",
            "'",
            "(",
            "\u{2019}",
            "\u{201c}",
            "\u{2014}",
            "e\u{301}",
            "\u{200b}",
            "caf\u{e9}",
            "Stra\u{df}e",
            "\u{130}",
            "\u{4E00}\u{4E01}",
            "\u{3002}",
            "internationalisation",
            "Internationalisation1999",
            "abcdefghijklmnop",
            "ABCDEFGHIJKLMNOP",
            "abcdefghijklmnopq",
            "word9",
            "Word9",
            "list3",
            "the minister said on Tuesday that the talks would go on until the end of the week,",
            "and that no deal was near. It was the third round of talks in a year.",
        ];
        let mut next = crate::xorshift32(0x2545_F491);
        let (mut known, mut unknown, mut good) = (0, 0, 0);
        for round in 0..4000 {
            let n = (next() % 60) as usize;
            let text: String = (0..n)
                .map(|_| pieces[next() as usize % pieces.len()])
                .collect::<Vec<_>>()
                .join(if round % 3 == 0 { "" } else { " " });
            let (k, lines) = minhash::tokens_collapsed(&text, t);
            let views: Vec<&[u32]> = lines.spans.iter().map(|&(a, b)| &lines.cps[a..b]).collect();
            for (i, l) in text.split('\n').enumerate() {
                let plain = l.is_ascii() && !l.contains('_');
                assert_eq!(lines.plain[i], plain, "{l:?}");
                if plain {
                    known += 1;
                } else {
                    unknown += 1;
                }
            }
            c.reads_known_as_doc(&views, |i| known_line(&k, &lines, i))
                .unwrap_or_else(|e| panic!("{e}: {text:?}"));
            let classes = line_classes(c, &k, &lines);
            assert_eq!(classes, c.classify(&views).0, "{text:?}");
            good += classes.iter().filter(|&&x| x == GOOD).count();
        }
        assert!(
            known > 3000 && unknown > 3000 && good > 1000,
            "lines known {known}, read {unknown}, good {good}"
        );
    }

    #[test]
    fn prose_shingles_are_those_of_the_lines_tokens_in_a_row() {
        let t = Tables::new(&[(0x4E00, 0x9FFF)]).unwrap();
        let text = [
            "One two three four five six seven.",
            "",
            "eight nine",
            "ten",
            "  ",
            "eleven twelve thirteen fourteen fifteen sixteen",
            "--",
            "a b c d e f g h i j k",
            "l",
            "\u{4E00}\u{4E01}\u{4E02}\u{4E03}",
        ]
        .join("\n");
        let k = minhash::tokens(&text, &t);
        let nlines = k.line_tok.len() - 1;
        for ngram in 1..=6 {
            let s = Settings {
                window: 200,
                overlap: 50,
                passage_min_words: 1,
                prose_min_words: 1,
                ngram,
                char_ngram: 2,
            };
            let grams = minhash::ngrams(&k.hash, ngram);
            // every subset of the lines (in order), as the good lines may be any of them
            for subset in 0u32..1 << nlines {
                let lines: Vec<usize> = (0..nlines).filter(|&i| subset & (1 << i) != 0).collect();
                let mut ids = Vec::new();
                let (mut chars, mut unseg) = (0, 0);
                for &i in &lines {
                    let (t0, t1) = (k.line_tok[i] as usize, k.line_tok[i + 1] as usize);
                    let (c, u) = k.counts(t0, t1);
                    (chars, unseg) = (chars + c, unseg + u);
                }
                let char_mode = minhash::is_char_mode(chars, unseg);
                for &i in &lines {
                    let (t0, t1) = (k.line_tok[i] as usize, k.line_tok[i + 1] as usize);
                    if char_mode {
                        k.char_hashes(t0, t1, &mut ids);
                    } else {
                        ids.extend_from_slice(&k.hash[t0..t1]);
                    }
                }
                let mut want = minhash::ngrams(&ids, if char_mode { 2 } else { ngram });
                let mut got = Vec::new();
                lines_shingles(&k, &grams, &lines, &s, &mut got);
                want.sort_unstable();
                got.sort_unstable();
                assert_eq!(got, want, "ngram {ngram} lines {lines:?}");
            }
        }
    }

    #[test]
    fn rows_are_ranges_of_the_document() {
        let t = Tables::new(&[(0x4E00, 0x9FFF)]).unwrap();
        let (a, b): (Vec<u32>, Vec<u32>) = (0..16u32).map(|k| (2 * k + 1, 7 * k)).unzip();
        let long: Vec<String> = (0..70).map(|n| format!("Word{n} \u{DF}x,")).collect();
        let text = [
            "A title",
            "",
            "The minister said on Tuesday that the talks would go on until",
            "",
            "the end of the week, and that no deal was near.",
            "",
            &(long.join(" ") + " The end."),
            "",
            "\u{4E00}\u{4E01}\u{4E02}\u{4E03}\u{4E04}\u{4E05}",
            "  \t ",
            "Short one.",
        ]
        .join("\n");
        for (window, overlap, min_words) in [(200, 50, 3), (12, 4, 1), (5, 2, 4)] {
            let s = Settings {
                window,
                overlap,
                passage_min_words: min_words,
                prose_min_words: 50,
                ngram: 3,
                char_ngram: 2,
            };
            let got = features(&text, &t, None, &s, &a, &b).unwrap();
            assert_eq!(got, one_by_one(&text, &t, &s, &a, &b), "window {window}");
            assert!(got.line_start.len() >= 3, "{window}: {:?}", got.line_start);
        }
        let s = Settings {
            window: 50,
            overlap: 50,
            passage_min_words: 1,
            prose_min_words: 1,
            ngram: 1,
            char_ngram: 1,
        };
        assert!(features(&text, &t, None, &s, &a, &b).is_err()); // as Python's range() refuses a step of 0
    }

    /// The tables, a classifier with a three-word stoplist, 16 permutations and small
    /// settings: what the two reuse tests run documents of every kind through.
    fn reuse_setup() -> (Tables, Classifier, Vec<u32>, Vec<u32>, Settings) {
        use crate::furniture::{default_params, Params, Props};
        let t = Tables::new(&[(0x4E00, 0x9FFF)]).unwrap();
        let stops = vec![vec!["the".to_string(), "and".to_string(), "of".to_string()]];
        let c = Classifier::new(
            Props::new(&[]).unwrap(),
            &stops,
            Params::from_map(&default_params()).unwrap(),
        )
        .unwrap();
        let (a, b): (Vec<u32>, Vec<u32>) = (0..16u32).map(|k| (2 * k + 1, 7 * k)).unzip();
        let s = Settings {
            window: 12,
            overlap: 4,
            passage_min_words: 2,
            prose_min_words: 5,
            ngram: 3,
            char_ngram: 2,
        };
        (t, c, a, b, s)
    }

    #[test]
    fn features_into_a_reused_output_are_those_of_a_fresh_one() {
        // one output filled document after document (as the thread's spare columns are):
        // nothing of a document may be left in the next one's columns
        let (t, c, a, b, s) = reuse_setup();
        let long = "The minister said on Tuesday that the talks would go on until the end of the week. ".repeat(20);
        let texts = [
            long.as_str(),
            "",
            "One line.",
            "A title\n\nThe talks of the week and the end of the talks.\n\nMenu | Home",
            long.as_str(),
            "\u{4E00}\u{4E01}\u{4E02}\u{4E03}",
            "x",
        ];
        let mut out = Features::default();
        for classifier in [None, Some(&c)] {
            for text in texts {
                features_into(text, &t, classifier, &s, &a, &b, &mut out).unwrap();
                assert_eq!(out, features(text, &t, classifier, &s, &a, &b).unwrap(), "{text:?}");
            }
        }
    }

    #[test]
    fn features_with_a_reused_scratch_are_those_of_a_fresh_one() {
        // one scratch through documents of every kind, with and without the classifier
        // (whose collapsed lines are left as they were when it is not asked for) and after
        // a long document (whose buffers are longer than the next one's): nothing of one
        // document may show in the next one's features
        let (t, c, a, b, s) = reuse_setup();
        let long = "The minister said on Tuesday that the talks of the week would go on.\n".repeat(40);
        let texts = [
            long.as_str(),
            "",
            "One line.",
            "A title\n\nThe talks of the week and the end of the talks.\n\nMenu | Home",
            "\u{4E00}\u{4E01}\u{4E02}\u{4E03}\n\n\u{4E04}\u{4E05}",
            long.as_str(),
            "x\n\ny",
            "caf\u{e9} Stra\u{df}e snake_case\n\nthe end of the talks and of the week",
        ];
        let mut scratch = Scratch::default();
        let mut out = Features::default();
        let mut rows = 0;
        for round in 0..3 {
            for (i, text) in texts.iter().enumerate() {
                let classifier = if (i + round) % 2 == 0 { Some(&c) } else { None };
                features_with(text, &t, classifier, &s, &a, &b, &mut out, &mut scratch).unwrap();
                let mut fresh = Features::default();
                features_with(text, &t, classifier, &s, &a, &b, &mut fresh, &mut Scratch::default()).unwrap();
                assert_eq!(out, fresh, "{text:?}");
                rows += out.size.len();
            }
        }
        assert!(scratch.held() > long.len(), "the scratch keeps its memory");
        assert!(rows > 100, "rows compared: {rows}");
    }

    #[test]
    fn the_thread_keeps_no_scratch_of_a_huge_document() {
        let small = Scratch {
            grams: vec![1; 100],
            ..Scratch::default()
        };
        keep_scratch(small);
        assert!(take_spare(&SCRATCH).held() >= 400, "a small document's scratch is kept");
        let huge = Scratch {
            seen: vec![1; SCRATCH_MAX / 4 + 1],
            ..Scratch::default()
        };
        assert!(huge.held() > SCRATCH_MAX);
        keep_scratch(huge);
        assert_eq!(take_spare(&SCRATCH).held(), 0, "a huge document's scratch is not kept");
        let at_cap = Scratch {
            shingles: Vec::with_capacity(SCRATCH_MAX / 4),
            ..Scratch::default()
        };
        assert_eq!(at_cap.held(), SCRATCH_MAX);
        keep_scratch(at_cap);
        assert_eq!(
            take_spare(&SCRATCH).held(),
            SCRATCH_MAX,
            "a scratch of the cap's size is kept"
        );
    }

    #[test]
    fn the_thread_keeps_no_columns_of_a_huge_document() {
        let small = Features {
            sigs: vec![1; 100],
            ..Features::default()
        };
        keep_columns(small);
        assert!(spare_columns().held() >= 400, "a small document's columns are kept");
        let huge = Features {
            sigs: vec![1; SPARE_MAX / 4 + 1],
            ..Features::default()
        };
        assert!(huge.held() > SPARE_MAX);
        keep_columns(huge);
        assert_eq!(spare_columns().held(), 0, "a huge document's columns are not kept");
        let at_cap = Features {
            prose: Vec::with_capacity(SPARE_MAX),
            ..Features::default()
        };
        assert_eq!(at_cap.held(), SPARE_MAX);
        keep_columns(at_cap);
        assert_eq!(spare_columns().held(), SPARE_MAX, "columns of the cap's size are kept");
    }
}

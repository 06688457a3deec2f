//! Pass 1 of a document in one call (`cleaner.clean.stages.clean`): the normalised text
//! through the rules ([`crate::guards`]) and the furniture classifier ([`crate::region`]),
//! then everything the pipeline keeps of that decision: the kept text, the page's header and
//! footer lines (`head`, for wrapper detection), the furniture classifier's input (`body`,
//! for a re-run in pass 2), the lines and words each mechanism removed, the words of the
//! input, and the template-statistics keys of the kept and header lines
//! ([`crate::passages::line_key`]) with their sorted distinct set.
//!
//! Why one call: each of those was a trip Python -> core -> Python with lists of `str` built
//! in between (the rules' lines, the classifier's input, the marks, the kept lines, the
//! header, the keys), and that per-line glue cost pass 1 more than the furniture kernel.
//! Here the lines stay `&str` slices of the text (or the rules' cut copies) until the
//! answer is built.
//!
//! `rules explain` shows the same call's per-line marks ([`Assembled::marks`]), so the
//! trace is the decision `clean` acts on, not a second implementation of it.

use std::borrow::Cow;

use crate::furniture::Classifier;
use crate::guards::{Guards, Line};
use crate::passages::{line_key, split_count};
use crate::region::RegionParams;
use crate::rules::Matcher;

/// The mechanism id of the furniture classifier (`cleaner.clean.stages.FURNITURE_ID`).
pub const FURNITURE_ID: &str = "chrome.furniture";
/// Removed lines kept above (and below) the text for wrapper detection
/// (`cleaner.clean.stages.HEAD_LINES`): a long footer is a wrapper too.
pub const HEAD_LINES: usize = 120;
/// The template key of a blank line (`line_key("")`, `cleaner.clean.furniture.BLANK_KEY`).
pub const BLANK_KEY: u64 = 0xB4B2_7974_57A0_A6E4;

/// What became of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Kept,
    /// removed by this rule (its index)
    Rule(usize),
    /// removed by the furniture classifier
    Furniture,
    /// kept, with a span cut by this inline rule
    Cut(usize),
}

impl Mark {
    fn kept(self) -> bool {
        matches!(self, Mark::Kept | Mark::Cut(_))
    }
}

/// What a removal is counted against (`doc.removed`'s keys): a rule, or the furniture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    Rule(usize),
    Furniture,
}

/// The furniture classifier of a document (none for HTML, whose main text trafilatura
/// chose already): the classifier and the region finder's thresholds.
pub struct Furniture<'a> {
    pub classifier: &'a Classifier,
    pub params: &'a RegionParams,
}

/// The template keys of a kept document.
#[derive(Debug, PartialEq, Eq)]
pub enum Keys {
    /// nothing kept: the document is empty, no keys
    None,
    /// a kept or header line holds a lone surrogate: the caller keys the lines as before
    /// (`line_keys` of such a `str` raises, and the document fails with that error)
    Surrogates,
    /// (kept lines' keys, header lines' keys, the distinct keys of the lines that are not
    /// blank, sorted)
    Some(Vec<u64>, Vec<u64>, Vec<u64>),
}

/// A document after pass 1.
pub struct Assembled<'a> {
    /// the lines of the text, collapsed, after inline cuts (removed lines keep their text)
    pub lines: Vec<Line<'a>>,
    pub marks: Vec<Mark>,
    /// the furniture classifier's input: the lines the rules left, blank ones included
    /// (empty when the classifier did not run)
    pub body: Vec<usize>,
    /// the non-empty kept lines: the text is these, a blank line between two
    pub kept: Vec<usize>,
    /// the non-empty removed lines above the first kept line (at most [`HEAD_LINES`]), then
    /// those below the last one (at most [`HEAD_LINES`], the last ones)
    pub head: Vec<usize>,
    /// (mechanism, lines, words) removed, in the order each mechanism first removed a line
    /// (a cut line counts one line and the words the cut took, which may be negative)
    pub removed: Vec<(Mechanism, usize, i64)>,
    /// `len(line.split())` of the input's lines, summed
    pub words_in: usize,
    pub keys: Keys,
}

/// Pass 1 of a normalised text (UTF-8; lone surrogates in their `surrogatepass` form): its
/// lines (`text.split("\n")`) through the rules, then the furniture classifier over the
/// lines the rules left, then the accounting of [`Assembled`].
pub fn assemble<'a>(
    guards: &Guards,
    matcher: &Matcher,
    furniture: Option<&Furniture<'_>>,
    text: &'a [u8],
) -> Assembled<'a> {
    // a text without lone surrogates (nearly all) is UTF-8 as a whole, and so each of its
    // lines (cut at a newline, an ASCII byte): told in one pass, not once a line
    let input: Vec<Line<'a>> = match std::str::from_utf8(text) {
        Ok(t) => t.split('\n').map(Line::of_str).collect(),
        Err(_) => text.split(|&b| b == b'\n').map(Line::new).collect(),
    };
    // `len(line.split())` of each input line: a collapsed line's words are its spaces and
    // one (`collapse` is `" ".join(line.split())`), counted without reading characters again
    let words: Vec<usize> = input.iter().map(Line::words).collect();
    let applied = guards.apply_page(matcher, input);
    let lines = applied.lines;
    let mut marks: Vec<Mark> = applied.marks.iter().map(|m| m.map_or(Mark::Kept, Mark::Rule)).collect();
    let mut body = Vec::new();
    if let Some(f) = furniture {
        body = (0..lines.len()).filter(|&i| marks[i] == Mark::Kept).collect();
        let (buf, ends) = code_points(&lines, &body);
        let mut start = 0;
        let slices: Vec<&[u32]> = ends
            .iter()
            .map(|&end| {
                let s = buf.get(start..end).unwrap_or(&[]);
                start = end;
                s
            })
            .collect();
        let drop = crate::region::furniture(f.classifier, f.params, &slices);
        for (&i, &d) in body.iter().zip(&drop) {
            if d {
                marks[i] = Mark::Furniture;
            }
        }
    }
    for (m, e) in marks.iter_mut().zip(&applied.edits) {
        if let (Mark::Kept, Some(r)) = (*m, e) {
            *m = Mark::Cut(*r);
        }
    }
    let words_in = words.iter().sum();
    let filled = |i: &usize| !lines[*i].is_empty();
    let kept: Vec<usize> = (0..lines.len()).filter(|&i| marks[i].kept()).filter(filled).collect();
    let first = marks.iter().position(|m| m.kept()).unwrap_or(marks.len());
    let after = marks.iter().rposition(|m| m.kept()).map_or(0, |last| last + 1);
    let mut head: Vec<usize> = (0..first).filter(filled).take(HEAD_LINES).collect();
    let below: Vec<usize> = (after..lines.len()).filter(filled).collect();
    head.extend_from_slice(&below[below.len().saturating_sub(HEAD_LINES)..]);
    let removed = accounting(&lines, &marks, &words);
    let keys = if kept.is_empty() {
        Keys::None
    } else {
        keys_of(&lines, &kept, &head)
    };
    Assembled {
        lines,
        marks,
        body,
        kept,
        head,
        removed,
        words_in,
        keys,
    }
}

/// The code points of the lines `which` of `lines`, one after another in one buffer (lone
/// surrogates included, as the region finder reads a `str`), and where each line ends.
fn code_points(lines: &[Line<'_>], which: &[usize]) -> (Vec<u32>, Vec<usize>) {
    let mut buf = Vec::with_capacity(which.iter().map(|&i| lines[i].bytes().len()).sum());
    let mut ends = Vec::with_capacity(which.len());
    for &i in which {
        lines[i].push_code_points(&mut buf);
        ends.push(buf.len());
    }
    (buf, ends)
}

/// Lines and words each mechanism removed, in the order it first removed one: a removed
/// line counts its words as the input had them, a cut line the words the cut took.
fn accounting(lines: &[Line<'_>], marks: &[Mark], words: &[usize]) -> Vec<(Mechanism, usize, i64)> {
    let mut out: Vec<(Mechanism, usize, i64)> = Vec::new();
    for ((line, &mark), &n) in lines.iter().zip(marks).zip(words) {
        if line.is_empty() {
            continue;
        }
        let (mech, took) = match mark {
            Mark::Kept => continue,
            Mark::Rule(r) => (Mechanism::Rule(r), n as i64),
            Mark::Furniture => (Mechanism::Furniture, n as i64),
            Mark::Cut(r) => (Mechanism::Rule(r), n as i64 - line.words() as i64),
        };
        match out.iter_mut().find(|e| e.0 == mech) {
            Some(e) => {
                e.1 += 1;
                e.2 += took;
            }
            None => out.push((mech, 1, took)),
        }
    }
    out
}

/// The template keys of the kept lines and of the header, and the distinct keys of those
/// that are not blank (only a line keyed [`BLANK_KEY`] can be blank), sorted.
fn keys_of(lines: &[Line<'_>], kept: &[usize], head: &[usize]) -> Keys {
    if kept.iter().chain(head).any(|&i| lines[i].raw.is_some()) {
        return Keys::Surrogates;
    }
    let t = crate::unicode::props();
    let mut buf = String::new();
    let mut key = |i: &usize| line_key(t, &lines[*i].text, &mut buf);
    let line_keys: Vec<u64> = kept.iter().map(&mut key).collect();
    let head_keys: Vec<u64> = head.iter().map(&mut key).collect();
    let mut distinct: Vec<u64> = kept
        .iter()
        .zip(&line_keys)
        .chain(head.iter().zip(&head_keys))
        .filter(|&(&i, &k)| k != BLANK_KEY || split_count(t, lines[i].bytes()) > 0)
        .map(|(_, &k)| k)
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    Keys::Some(line_keys, head_keys, distinct)
}

impl Assembled<'_> {
    /// The kept text: the kept lines, a blank line between two (UTF-8; lone surrogates in
    /// their `surrogatepass` form).
    pub fn text(&self) -> Cow<'_, [u8]> {
        if let [one] = self.kept[..] {
            return Cow::Borrowed(self.lines[one].bytes());
        }
        let len = self.kept.iter().map(|&i| self.lines[i].bytes().len() + 2).sum();
        let mut out = Vec::with_capacity(len);
        for (n, &i) in self.kept.iter().enumerate() {
            if n > 0 {
                out.extend_from_slice(b"\n\n");
            }
            out.extend_from_slice(self.lines[i].bytes());
        }
        Cow::Owned(out)
    }

    /// The classifier's input (`body`) as one string: each line followed by `\n`, so that
    /// no lines and one blank line differ (`""`, `"\n"`). One `str` is made here, pickled
    /// and unpickled as one copy; as a list of lines it was a `str` per line made, pickled
    /// and unpickled for every document, and read back only for the one in a hundred whose
    /// furniture is decided again in pass 2.
    pub fn body_text(&self) -> Vec<u8> {
        let len = self.body.iter().map(|&i| self.lines[i].bytes().len() + 1).sum();
        let mut out = Vec::with_capacity(len);
        for &i in &self.body {
            out.extend_from_slice(self.lines[i].bytes());
            out.push(b'\n');
        }
        out
    }
}

// ----------------------------------------------------------------------------- Python

mod py {
    use pyo3::exceptions::PyRuntimeError;
    use pyo3::prelude::*;
    use pyo3::types::{PyList, PyString, PyTuple};

    use super::{assemble, Furniture, Keys, Mark, Mechanism, FURNITURE_ID};
    use crate::guards::py::PyGuards;
    use crate::guards::Line;
    use crate::normalise::Step;
    use crate::normalise_py::{first_step, step_to_py, unread_step, PyNormaliser};
    use crate::region::py::PyRegion;

    fn line_str<'py>(py: Python<'py>, line: &Line<'_>) -> PyResult<Bound<'py, PyString>> {
        match &line.raw {
            None => Ok(PyString::new(py, &line.text)),
            Some(b) => crate::py_str(py, b),
        }
    }

    /// Pass 1 of a normalised text (`cleaner.clean.stages.clean`): `guards` the rule set's
    /// (`RuleSet.guards`), `region` the furniture classifier's region finder (None: no
    /// furniture). Returns `(text, head, body, removed, words_in, line_keys, head_keys, keys,
    /// marks)`: the kept text; the header and footer lines; the classifier's input (its
    /// lines, each followed by a newline: see [`Assembled::body_text`]); `(id,
    /// lines, words)` of each mechanism that removed something, in the order it first did;
    /// the input's words; the template keys of the text's lines and of `head` (None when the
    /// text is empty, or when a line holds a lone surrogate: see `Keys::Surrogates`) and
    /// their distinct keys (sorted little-endian uint64 bytes); with `trace`, `(line, mark)`
    /// for each non-empty line (the mark: None kept, a rule id, `chrome.furniture`, or
    /// `~id` for a kept line an inline rule cut a span of), else None.
    #[pyfunction]
    #[pyo3(signature = (text, guards, region, trace=false))]
    fn assemble_page<'py>(
        py: Python<'py>,
        text: Bound<'py, PyString>,
        guards: &Bound<'py, PyGuards>,
        region: Option<&Bound<'py, PyRegion>>,
        trace: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let raw = crate::text_bytes(&text)?;
        assembled(py, &raw, guards, region, trace)
    }

    /// `assemble_page(normalise_text(text), ...)` in one call (`normaliser`: the ftfy gate,
    /// see `normalise_text`), when the core normalises the text alone (most texts): the
    /// normalised text goes from one step to the next as bytes, never made a `str` (nor
    /// that `str` read back as UTF-8, nor a second call made). Returns `assemble_page`'s
    /// tuple, or, when the normalisation needs Python (ftfy on some spans, NFC), the step
    /// `normalise_text` returns, `(text, spans, round)`: the caller finishes it and calls
    /// `assemble_page` with the normalised text.
    #[pyfunction]
    #[pyo3(signature = (normaliser, text, guards, region, trace=false))]
    fn normalise_assemble_page<'py>(
        py: Python<'py>,
        normaliser: &Bound<'py, PyNormaliser>,
        text: Bound<'py, PyString>,
        guards: &Bound<'py, PyGuards>,
        region: Option<&Bound<'py, PyRegion>>,
        trace: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let Ok(t) = text.to_str() else {
            return unread_step(py);
        };
        let gate = &normaliser.get().0;
        match crate::guarded(py, || first_step(gate, t))? {
            Step::Done(norm) => Ok(assembled(py, norm.as_bytes(), guards, region, trace)?.into_any()),
            step => step_to_py(py, step, true),
        }
    }

    /// `assemble_page` of the UTF-8 bytes of a normalised text (lone surrogates in their
    /// `surrogatepass` form: see `crate::text_bytes`).
    fn assembled<'py>(
        py: Python<'py>,
        raw: &[u8],
        guards: &Bound<'py, PyGuards>,
        region: Option<&Bound<'py, PyRegion>>,
        trace: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let g = guards.get();
        let (core, matcher) = (&g.core, &g.matcher.get().0);
        let region = region.map(|r| r.get());
        let (a, joined, body) = crate::guarded(py, || {
            let f = region.map(|r| Furniture {
                classifier: &r.furniture.get().0,
                params: &r.params,
            });
            let a = assemble(core, matcher, f.as_ref(), raw);
            let joined = a.text().into_owned();
            let body = a.body_text();
            (a, joined, body)
        })?;
        // one `str` per line, shared by the header and the trace
        let mut strs: Vec<Option<Bound<'py, PyString>>> = vec![None; a.lines.len()];
        let mut of = |i: usize| -> PyResult<Bound<'py, PyString>> {
            if let Some(s) = &strs[i] {
                return Ok(s.clone());
            }
            let s = line_str(py, &a.lines[i])?;
            strs[i] = Some(s.clone());
            Ok(s)
        };
        let head = PyList::new(py, a.head.iter().map(|&i| of(i)).collect::<PyResult<Vec<_>>>()?)?;
        let body = crate::py_str(py, &body)?;
        // a rule the guards name must have an id: counting it under a made-up one would
        // misreport the removals, so an inconsistent rule set is an error, not a guess
        let id = |m: Mechanism| -> PyResult<Bound<'py, PyString>> {
            match m {
                Mechanism::Rule(r) => g
                    .ids
                    .get(r)
                    .map(|s| s.bind(py).clone())
                    .ok_or_else(|| PyRuntimeError::new_err(format!("rule {r} has no id in this rule set"))),
                Mechanism::Furniture => Ok(pyo3::intern!(py, FURNITURE_ID).clone()),
            }
        };
        let removed = PyList::empty(py);
        for &(m, lines, words) in &a.removed {
            removed.append((id(m)?, lines, words))?;
        }
        let marks = if trace {
            let out = PyList::empty(py);
            for (i, &mark) in a.marks.iter().enumerate() {
                if a.lines[i].is_empty() {
                    continue;
                }
                let m: Option<Bound<'py, PyString>> = match mark {
                    Mark::Kept => None,
                    Mark::Rule(r) => Some(id(Mechanism::Rule(r))?),
                    Mark::Furniture => Some(id(Mechanism::Furniture)?),
                    Mark::Cut(r) => Some(PyString::new(py, &format!("~{}", id(Mechanism::Rule(r))?))),
                };
                out.append((of(i)?, m))?;
            }
            out.into_any()
        } else {
            py.None().into_bound(py)
        };
        let text = crate::py_str(py, &joined)?;
        let (line_keys, head_keys, keys) = match a.keys {
            Keys::Some(l, h, d) => (Some(l), Some(h), Some(crate::le_bytes(py, &d)?)),
            Keys::None | Keys::Surrogates => (None, None, None),
        };
        PyTuple::new(
            py,
            [
                text.into_any(),
                head.into_any(),
                body.into_any(),
                removed.into_any(),
                a.words_in.into_pyobject(py)?.into_any(),
                line_keys.into_pyobject(py)?.into_any(),
                head_keys.into_pyobject(py)?.into_any(),
                keys.into_pyobject(py)?.into_any(),
                marks,
            ],
        )
    }

    pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("FURNITURE_ID", FURNITURE_ID)?;
        m.add("HEAD_LINES", super::HEAD_LINES)?;
        m.add("BLANK_KEY", super::BLANK_KEY)?;
        m.add_function(wrap_pyfunction!(assemble_page, m)?)?;
        m.add_function(wrap_pyfunction!(normalise_assemble_page, m)?)?;
        Ok(())
    }
}

pub use py::register;

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::furniture::{Params, Props};
    use crate::guards::{Kind, Rule};
    use crate::rules::Pattern;

    fn map(kv: &[(&str, f64)]) -> HashMap<String, f64> {
        kv.iter().map(|&(k, v)| (k.to_string(), v)).collect()
    }

    /// The classifier with `FurnitureParams`' defaults and a small English stoplist.
    fn classifier() -> Classifier {
        let params = crate::furniture::default_params();
        let stops: Vec<String> = "the a an and of to in on for with that it was is by at as from this be had"
            .split(' ')
            .map(String::from)
            .collect();
        let props = Props::new(&[]).expect("props");
        Classifier::new(props, &[stops], Params::from_map(&params).expect("params")).expect("classifier")
    }

    fn region_params() -> RegionParams {
        let mut m = map(&[
            ("max_gap", 3.0),
            ("region_penalty", 6.0),
            ("title_lines", 2.0),
            ("byline_words", 15.0),
            ("post_bylines", 2.0),
            ("thread_entries", 3.0),
            ("copy_words", 100.0),
            ("copy_share", 0.25),
            ("copy_fields", 2.0),
            ("copy_lookback", 8.0),
            ("footer_lines", 12.0),
            ("headline_penalty", 6.0),
            ("headline_words", 15.0),
            ("min_cards", 3.0),
            ("card_words", 50.0),
            ("card_headline_words", 5.0),
            ("entries_share", 0.25),
            ("record_gap", 20.0),
            ("announce_words", 5.0),
            ("announce_items", 40.0),
            ("table_rows", 3.0),
            ("record_repeats", 8.0),
            ("record_lines", 15.0),
            ("record_entries", 3.0),
            ("record_fields", 3.0),
            ("post_title", 1.0),
            ("block_share", 0.3),
            ("sparse_share", 0.2),
            ("block_ratio", 4.0),
            ("sparse_words", 150.0),
            ("dated_words", 25.0),
            ("record_stretch", 4.0),
            ("rival_words", 150.0),
            ("rival_share", 0.5),
        ]);
        m.insert("wrapped_share".into(), 0.5);
        RegionParams::from_map(&m).expect("region params")
    }

    struct Setup {
        matcher: Matcher,
        guards: Guards,
        classifier: Classifier,
        params: RegionParams,
    }

    /// Rules 0: whole line "Menu \d+", 1: whole line "Share this", 2: inline "\[Ad\]".
    fn setup() -> Setup {
        let rules = [
            (r"Menu \d+", Kind::Line),
            (r"Share this", Kind::Line),
            (r"\[Ad\]", Kind::Inline),
        ];
        let pats = rules
            .iter()
            .map(|&(p, k)| Arc::new(Pattern::new(p, false, k == Kind::Inline).expect("pattern")))
            .collect();
        let matcher = Matcher::new(pats, vec![false; rules.len()]).expect("matcher");
        let limits = crate::guards::default_limits();
        let g = rules
            .iter()
            .map(|&(_, kind)| Rule {
                kind,
                long: false,
                max_items: 12,
                caption: false,
            })
            .collect();
        Setup {
            matcher,
            guards: Guards::new(g, limits, Arc::new(classifier())),
            classifier: classifier(),
            params: region_params(),
        }
    }

    const PROSE: &str =
        "The council met on the first day of the week to settle the budget for the year, and it agreed.";

    fn run<'a>(s: &Setup, furniture: bool, text: &'a str) -> Assembled<'a> {
        let f = Furniture {
            classifier: &s.classifier,
            params: &s.params,
        };
        assemble(&s.guards, &s.matcher, furniture.then_some(&f), text.as_bytes())
    }

    fn texts<'a>(a: &'a Assembled<'_>, which: &[usize]) -> Vec<&'a str> {
        which.iter().map(|&i| &*a.lines[i].text).collect()
    }

    #[test]
    fn an_empty_text_keeps_nothing_and_has_no_keys() {
        let s = setup();
        let a = run(&s, true, "");
        assert_eq!(a.marks, vec![Mark::Kept]); // "".split("\n") is one empty line
        assert!(a.kept.is_empty() && a.head.is_empty() && a.removed.is_empty());
        assert_eq!((a.words_in, &a.keys, &a.text()[..]), (0, &Keys::None, &b""[..]));
        assert_eq!(a.body, vec![0]); // the classifier saw the one (blank) line
        assert_eq!(a.body_text(), b"\n"); // one blank line is not no line
    }

    #[test]
    fn all_lines_removed_counts_each_rule_and_keeps_every_line_in_the_head() {
        let s = setup();
        let a = run(&s, true, "Menu 1\n  Share   this \nMenu 2 ");
        assert!(a.kept.is_empty() && a.text().is_empty());
        assert_eq!(a.keys, Keys::None);
        assert_eq!(a.words_in, 6);
        assert_eq!(a.removed, vec![(Mechanism::Rule(0), 2, 4), (Mechanism::Rule(1), 1, 2)]);
        // no kept line: the head is every non-empty line, above and again below
        assert_eq!(
            texts(&a, &a.head),
            vec!["Menu 1", "Share this", "Menu 2", "Menu 1", "Share this", "Menu 2"]
        );
        assert!(a.body.is_empty()); // nothing was left to the classifier
        assert_eq!(a.body_text(), b"");
        // a blank line is a kept line (the rules and the classifier keep it) and bounds the
        // head, as the Python did: only the lines above and below it are header and footer
        let a = run(&s, true, "Menu 1\n\n  Share   this \nMenu 2");
        assert!(a.kept.is_empty() && a.keys == Keys::None);
        assert_eq!(texts(&a, &a.head), vec!["Menu 1", "Share this", "Menu 2"]);
        assert_eq!(a.body, vec![1]);
        assert_eq!(a.body_text(), b"\n");
    }

    #[test]
    fn an_inline_cut_counts_a_line_and_the_words_it_took() {
        let s = setup();
        let text = format!("{PROSE}\nOne two [Ad] three four.\n{PROSE}");
        let a = run(&s, false, &text);
        assert_eq!(a.marks, vec![Mark::Kept, Mark::Cut(2), Mark::Kept]);
        assert_eq!(a.removed, vec![(Mechanism::Rule(2), 1, 1)]); // 5 words in, 4 left
        assert_eq!(texts(&a, &a.kept)[1], "One two three four.");
        assert!(a.body.is_empty()); // no classifier: no body
        let Keys::Some(lines, head, distinct) = &a.keys else {
            panic!("a kept text has keys")
        };
        assert_eq!((lines.len(), head.len()), (3, 0));
        assert_eq!(distinct.len(), 2); // the prose line twice: one key
        assert!(distinct.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_cut_that_splits_a_word_takes_negative_words() {
        let s = setup();
        let text = format!("{PROSE}\nfoo[Ad]bar\n{PROSE}");
        let a = run(&s, false, &text);
        assert_eq!(a.marks[1], Mark::Cut(2));
        assert_eq!(a.removed, vec![(Mechanism::Rule(2), 1, -1)]); // "foo[Ad]bar" -> "foo bar"
    }

    #[test]
    fn blank_lines_are_never_kept_nor_in_the_head_nor_keyed() {
        let s = setup();
        let text = format!("Menu 1\n \t\n{PROSE}\n\u{3000}\n\n{PROSE} Again.\n\nMenu 2");
        let a = run(&s, false, &text);
        assert_eq!(texts(&a, &a.kept), vec![PROSE.to_string(), format!("{PROSE} Again.")]);
        assert_eq!(texts(&a, &a.head), vec!["Menu 1", "Menu 2"]);
        assert_eq!(&a.text()[..], format!("{PROSE}\n\n{PROSE} Again.").as_bytes());
        let t = crate::unicode::props();
        let mut buf = String::new();
        assert_eq!(line_key(t, "", &mut buf), BLANK_KEY);
        let Keys::Some(_, _, distinct) = &a.keys else {
            panic!("keys")
        };
        assert_eq!(distinct.len(), 4);
        assert!(!distinct.contains(&BLANK_KEY));
    }

    #[test]
    fn the_head_holds_at_most_head_lines_above_and_below() {
        let s = setup();
        for (above, below) in [(HEAD_LINES + 25, HEAD_LINES + 3), (3, 0), (HEAD_LINES, HEAD_LINES)] {
            let mut lines: Vec<String> = (0..above).map(|n| format!("Menu {n}")).collect();
            lines.extend([PROSE.to_string(), String::new(), PROSE.to_string()]);
            lines.extend((0..below).map(|n| format!("Menu {}", 10_000 + n)));
            let text = lines.join("\n");
            let a = run(&s, false, &text);
            let want: Vec<String> = (0..above.min(HEAD_LINES))
                .map(|n| format!("Menu {n}"))
                .chain((below.saturating_sub(HEAD_LINES)..below).map(|n| format!("Menu {}", 10_000 + n)))
                .collect();
            assert_eq!(texts(&a, &a.head), want, "{above} above, {below} below");
            let Keys::Some(_, head, _) = &a.keys else {
                panic!("keys")
            };
            assert_eq!(head.len(), want.len());
        }
    }

    #[test]
    fn furniture_marks_the_lines_the_region_finder_drops() {
        let s = setup();
        let mut lines = vec!["Sport", "Weather", "Contact us", ""];
        lines.extend([PROSE; 4]);
        lines.extend(["", "About", "Jobs", "Menu 3"]);
        let text = lines.join("\n");
        let a = run(&s, true, &text);
        // the classifier sees what the rules left, blank lines included
        assert_eq!(a.body.len(), lines.len() - 1);
        let f = Mark::Furniture;
        let mut want = vec![f, f, Mark::Kept, Mark::Kept]; // the line above the text is its title
        want.extend([Mark::Kept; 5]);
        want.extend([f, f, Mark::Rule(0)]);
        assert_eq!(a.marks, want);
        assert_eq!(texts(&a, &a.kept), vec!["Contact us", PROSE, PROSE, PROSE, PROSE]);
        assert_eq!(
            a.removed,
            vec![(Mechanism::Furniture, 4, 4), (Mechanism::Rule(0), 1, 2)]
        );
        assert_eq!(texts(&a, &a.head), vec!["Sport", "Weather", "About", "Jobs", "Menu 3"]);
    }
}

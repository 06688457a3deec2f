//! Pass 2's template removal of a document in one call (`cleaner.clean.stages.remove_templates`):
//! its text's lines (`text.split("\n\n")`) marked as template (their key is one of the
//! source's template keys) or wrapper (in two or more documents, exactly the set of
//! documents of one of the page's header lines), then what the document keeps of that: the
//! kept text, the lines and words each mechanism removed, the removed lines (for the
//! report), and the marks (for `rules explain`).
//!
//! Why one call: in Python that was a batched lookup per document in numpy (its fixed cost,
//! a dozen array operations twice a document, was most of it), then a loop over the lines
//! for the marks, another with word counts and counters for the removals, and the join;
//! together more CPU than the rest of the step. The lookup reads the template statistics'
//! columns where they are (numpy arrays, shared with the workers), the rest runs without the
//! GIL on `&[u8]` slices of the text.
//!
//! The re-run of the furniture classifier (`_reclassify`: template lines took half the text;
//! 27 of the 20 MB crawl's 2625 documents, 118 of the syndicated bench's 830, whose pages are
//! mostly one site's template) stays in Python: [`untemplated`] tells the caller
//! when, and the wrapper sets it needs; its marks come from [`marks`] too
//! (`core.template_marks`), so the decision "what is template" has one implementation.

use crate::passages::split_count;

/// The mechanism id of template lines (`cleaner.clean.stages.TEMPLATE_ID`).
pub const TEMPLATE_ID: &str = "chrome.template";
/// The mechanism id of wrapper lines (`cleaner.clean.stages.WRAPPER_ID`).
pub const WRAPPER_ID: &str = "chrome.wrapper";

/// What the template statistics say of one line: whether its key is a template key of the
/// source, and (`TemplateStats.lookup`) in how many documents it occurs and the fingerprint
/// of their set (0, 0 when unseen or without statistics). The fingerprint is read only for a
/// line in two or more documents (else it is 0): nothing reads it of another (a wrapper line
/// and the header lines whose sets it is compared with are in two or more).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineStat {
    pub template: bool,
    pub count: i64,
    pub sum: u64,
}

/// Why a line goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Kept,
    Template,
    /// wrapper: its document set, one of a header line's
    Wrapper(u64),
}

impl Mark {
    pub fn mechanism(self) -> Option<Mechanism> {
        match self {
            Mark::Kept => None,
            Mark::Template => Some(Mechanism::Template),
            Mark::Wrapper(_) => Some(Mechanism::Wrapper),
        }
    }
}

/// What a removal is counted against (`doc.removed`'s keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    Template,
    Wrapper,
}

impl Mechanism {
    pub fn id(self) -> &'static str {
        match self {
            Mechanism::Template => TEMPLATE_ID,
            Mechanism::Wrapper => WRAPPER_ID,
        }
    }
}

/// The lines of a text as `str.split("\n\n")` cuts them: at each blank-line separator, left
/// to right, without overlap (`"a\n\n\nb"` is `["a", "\nb"]`). UTF-8 never holds the byte
/// `\n` inside a character, so the pieces are those of the `str`.
pub fn split_lines(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut start, mut from) = (0, 0);
    // from one line break to the next (a text's lines are tens of bytes): a cut where two follow
    while let Some(at) = text.get(from..).and_then(|rest| memchr::memchr(b'\n', rest)) {
        let i = from + at;
        if text.get(i + 1) == Some(&b'\n') {
            out.push(&text[start..i]);
            start = i + 2;
            from = start;
        } else {
            from = i + 1;
        }
    }
    out.push(&text[start..]);
    out
}

/// The document-set fingerprints of the header lines shared with another document
/// (`set(sums[counts >= 2])`), sorted and distinct.
pub fn wrapper_sets(head: &[LineStat]) -> Vec<u64> {
    let mut sets: Vec<u64> = head.iter().filter(|s| s.count >= 2).map(|s| s.sum).collect();
    sets.sort_unstable();
    sets.dedup();
    sets
}

/// Each line's mark: template when its key is a template key, else wrapper when it occurs in
/// two or more documents whose set is one of `wrappers` (sorted), else kept.
pub fn marks(lines: &[LineStat], wrappers: &[u64]) -> Vec<Mark> {
    lines
        .iter()
        .map(|s| {
            if s.template {
                Mark::Template
            } else if s.count >= 2 && wrappers.binary_search(&s.sum).is_ok() {
                Mark::Wrapper(s.sum)
            } else {
                Mark::Kept
            }
        })
        .collect()
}

/// What the marks make of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `kept`: the lines that stay (blank ones included, as the Python kept them: the text
    /// leaves them out); `removed`: (mechanism, lines, words) in the order each mechanism
    /// first removed a line; `gone`: the removed lines.
    Plain {
        kept: Vec<usize>,
        removed: Vec<(Mechanism, usize, usize)>,
        gone: Vec<(usize, Mechanism)>,
    },
    /// The marked lines hold half the words or more and the furniture classifier had an
    /// input: it runs again without them (in Python), with these wrapper sets (those of the
    /// wrapper lines of the text, sorted and distinct).
    Reclassify { matched: Vec<u64> },
}

/// The lines that stay given their marks, and what each mechanism took (`words(i)`: line
/// `i`'s `len(line.split())`); or, when the marked lines hold at least half the words
/// and `body` (the classifier's input) is not empty, a re-run.
///
/// The words are counted only where the answer depends on them: the marked lines, and the
/// others only until the rule is decided (counting every line of every document was a
/// tenth of the step's time, and most documents have no line marked: then the rule asks
/// only whether the text has a word at all).
pub fn untemplated(words: impl Fn(usize) -> usize, marks: &[Mark], body: bool) -> Outcome {
    let mut kept = Vec::new();
    let mut removed: Vec<(Mechanism, usize, usize)> = Vec::new();
    let mut gone = Vec::new();
    let mut matched = Vec::new();
    let mut took = 0usize;
    for (i, &mark) in marks.iter().enumerate() {
        let Some(mech) = mark.mechanism() else {
            kept.push(i);
            continue;
        };
        let n = words(i);
        took += n;
        gone.push((i, mech));
        if let Mark::Wrapper(set) = mark {
            matched.push(set);
        }
        match removed.iter_mut().find(|e| e.0 == mech) {
            Some(e) => {
                e.1 += 1;
                e.2 += n;
            }
            None => removed.push((mech, 1, n)),
        }
    }
    // took >= 0.5 * total, in integers (exact: the float of a sum of word counts is too):
    // the kept lines' words, counted until they outweigh the marked ones
    let half = || {
        let mut rest = 0usize;
        kept.iter().all(|&i| {
            rest += words(i);
            rest <= took
        })
    };
    if body && half() {
        matched.sort_unstable();
        matched.dedup();
        return Outcome::Reclassify { matched };
    }
    Outcome::Plain { kept, removed, gone }
}

/// A document's template removal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub marks: Vec<Mark>,
    pub first: Outcome,
    /// Every line of the text (and of the classifier's input) is wrapper or template: the
    /// page is a copy of another page of its site, not an article in a wrapper, and emptying
    /// it would hide the copy from duplicate detection. So it loses only its template lines:
    /// this outcome, of the marks without the wrapper ones. Present when some line is
    /// wrapper and `first` kept nothing or is a re-run (whose result the caller knows).
    pub fallback: Option<Outcome>,
}

/// The template removal of a document whose text's lines are `lines`: `stats` those lines',
/// `head` its header lines' ([`LineStat`]), `templates` whether the source has template
/// lines, `wrappers` whether wrapper lines go. None when nothing can go (no template lines
/// in the source, no header line shared with another document).
pub fn decide(
    lines: &[&[u8]],
    stats: &[LineStat],
    head: &[LineStat],
    templates: bool,
    wrappers: bool,
    body: bool,
) -> Option<Decision> {
    let sets = if wrappers { wrapper_sets(head) } else { Vec::new() };
    if !templates && sets.is_empty() {
        return None;
    }
    let t = crate::unicode::props();
    let words = |i: usize| lines.get(i).map_or(0, |l| split_count(t, l));
    let marks = marks(stats, &sets);
    let first = untemplated(words, &marks, body);
    let wrapped = marks.iter().any(|m| matches!(m, Mark::Wrapper(_)));
    let emptied = match &first {
        Outcome::Plain { kept, .. } => kept.is_empty(),
        Outcome::Reclassify { .. } => true,
    };
    let fallback = (wrapped && emptied).then(|| {
        let only: Vec<Mark> = marks
            .iter()
            .map(|&m| if m == Mark::Template { m } else { Mark::Kept })
            .collect();
        untemplated(words, &only, body)
    });
    Some(Decision { marks, first, fallback })
}

/// The kept text (`"\n\n".join(ln for ln in kept if ln)`), or None when it is `lines`
/// joined as they were (nothing removed, no blank line left out): the caller keeps its text.
pub fn join(lines: &[&[u8]], kept: &[usize]) -> Option<Vec<u8>> {
    if kept.len() == lines.len() && lines.iter().all(|l| !l.is_empty()) {
        return None;
    }
    let mut out = Vec::with_capacity(kept.iter().map(|&i| lines[i].len() + 2).sum());
    for &i in kept {
        if lines[i].is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.extend_from_slice(b"\n\n");
        }
        out.extend_from_slice(lines[i]);
    }
    Some(out)
}

/// Where `key` is in `keys` (sorted ascending), as numpy's `searchsorted` then an equality
/// test finds it: the first position not below it, if it holds the key.
pub fn find(keys: &[u64], key: u64) -> Option<usize> {
    let i = keys.partition_point(|&k| k < key);
    (keys.get(i) == Some(&key)).then_some(i)
}

/// [`find`] through `dir` (`furniture._directory`: `2**b + 1` positions, where the keys
/// with each value of the top `b` bits start, then `keys.len()`): the same answer, from a
/// search between the key's two positions (a few keys, one or two cache lines) instead of
/// the whole column. A directory of another shape, not running from 0 to the keys' end
/// (one made for another column), or whose positions are out of order or past the keys, is
/// not used: the whole column is searched.
pub fn find_in(keys: &[u64], dir: &[u32], key: u64) -> Option<usize> {
    let m = dir.len().wrapping_sub(1);
    if !m.is_power_of_two() || dir[0] != 0 || dir[m] as usize != keys.len() {
        return find(keys, key);
    }
    let b = m.trailing_zeros();
    // j < 2**b = m, so j and j + 1 are places of `dir` (m + 1 long)
    let j = if b == 0 { 0 } else { (key >> (64 - b)) as usize };
    let range = (dir[j] as usize)..(dir[j + 1] as usize);
    let Some(run) = keys.get(range.clone()) else {
        return find(keys, key);
    };
    // the keys before the run are below the key (a smaller top), those after it above
    let i = range.start + run.partition_point(|&k| k < key);
    (keys.get(i) == Some(&key)).then_some(i)
}

/// Whether row `at`'s count is not 1, from `bits` (`furniture._frozen`: `np.packbits(counts
/// != 1, bitorder="little")`, row `i` bit `i % 8` of byte `i / 8`); true past its end, so
/// that a short bitmap only costs the count's read.
pub fn not_one(bits: &[u8], at: usize) -> bool {
    bits.get(at / 8).is_none_or(|b| b >> (at % 8) & 1 == 1)
}

/// Row `at`'s count: 1 when its bit says so, without reading `count` (see `lookup`).
pub fn count_at(bits: &[u8], at: usize, count: impl Fn(usize) -> i64) -> i64 {
    if not_one(bits, at) {
        count(at)
    } else {
        1
    }
}

// ----------------------------------------------------------------------------- Python

mod py {
    use std::ptr::NonNull;

    use pyo3::buffer::{Element, PyBuffer};
    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;
    use pyo3::types::{PyList, PyString, PyTuple};

    use super::{count_at, decide, find, find_in, join, marks, split_lines, LineStat, Mark, Outcome};
    use crate::normalise::collapse;

    /// A one-dimensional array's buffer, C-contiguous (numpy's columns are).
    fn column<T: Element>(a: &Bound<'_, PyAny>) -> PyResult<PyBuffer<T>> {
        let b = PyBuffer::<T>::get(a)?;
        if b.dimensions() != 1 || !b.is_c_contiguous() {
            return Err(PyValueError::new_err(
                "a statistics column must be a contiguous 1-d array",
            ));
        }
        if !b.readonly() {
            // see `cells`: memory another thread may write is not read in place
            return Err(PyValueError::new_err(
                "a statistics column must be read-only (furniture.read_only)",
            ));
        }
        Ok(b)
    }

    /// The elements of `b` as a slice, for reading while `_py` (the GIL) is held.
    ///
    /// SAFETY: `as_slice_ptr` points at `item_count()` elements of type `T`: `PyBuffer::get`
    /// checked the format, item size and alignment against `T`, and [`column`] that the
    /// buffer is C-contiguous. The memory stays valid while `b` (the buffer view, which holds
    /// a reference to the exporting array) lives, which the returned lifetime ties the slice
    /// to. Nothing writes to it while the slice is read: [`column`] refused a buffer that is
    /// not read-only, so no writer can get a writable view of it through the buffer protocol
    /// (numpy refuses one for an array whose `writeable` flag is off, and this thread holds
    /// the GIL, so the flag cannot be turned on while the slice lives: every slice here is
    /// read within one call that calls no Python API), and no code of this crate writes to
    /// a buffer it reads.
    fn cells<'a, T: Element>(b: &'a PyBuffer<T>, _py: Python<'a>) -> PyResult<&'a [T]> {
        let p: NonNull<[T]> = b
            .as_slice_ptr()
            .ok_or_else(|| PyValueError::new_err("a statistics column must be contiguous"))?;
        Ok(unsafe { p.as_ref() })
    }

    /// `TemplateStats.columns(source)`: the source's own columns and those the index knows
    /// (keys sorted uint64, counts int32 for a run's own lines and int64 for the index's,
    /// fingerprints uint64, a bit per row set when its count is not 1, uint8 as
    /// `furniture._frozen` packs them, and the keys' directory, uint32, see [`find_in`]),
    /// each or None.
    type Columns<'py> = (
        Bound<'py, PyAny>,
        Bound<'py, PyAny>,
        Bound<'py, PyAny>,
        Bound<'py, PyAny>,
        Bound<'py, PyAny>,
    );

    /// A count column: a run's own counts are int32 (a distinct line of the corpus costs
    /// 20 bytes, not 24), the index's int64 (its counts span every batch indexed).
    enum Counts {
        I32(PyBuffer<i32>),
        I64(PyBuffer<i64>),
    }

    impl Counts {
        fn of(a: &Bound<'_, PyAny>) -> PyResult<Self> {
            match column::<i32>(a) {
                Ok(b) => Ok(Counts::I32(b)),
                Err(_) => Ok(Counts::I64(column::<i64>(a)?)),
            }
        }

        fn item_count(&self) -> usize {
            match self {
                Counts::I32(b) => b.item_count(),
                Counts::I64(b) => b.item_count(),
            }
        }
    }

    struct Table {
        keys: PyBuffer<u64>,
        counts: Counts,
        sums: PyBuffer<u64>,
        not_one: PyBuffer<u8>,
        dir: PyBuffer<u32>,
    }

    fn table(c: &Columns<'_>) -> PyResult<Table> {
        let t = Table {
            keys: column(&c.0)?,
            counts: Counts::of(&c.1)?,
            sums: column(&c.2)?,
            not_one: column(&c.3)?,
            dir: column(&c.4)?,
        };
        let n = t.keys.item_count();
        if t.counts.item_count() != n || t.sums.item_count() != n || t.not_one.item_count() != n.div_ceil(8) {
            return Err(PyValueError::new_err("statistics columns of different lengths"));
        }
        Ok(t)
    }

    /// The [`LineStat`] of each key: `TemplateStats.lookup` (the source's columns, plus what
    /// the index knows, counts and fingerprints added as numpy adds them: the fingerprint
    /// modulo 2**64), and whether the key is in `templates` (sorted uint64).
    ///
    /// The counts first, then the fingerprints of the lines in two or more documents only
    /// (see [`LineStat`]). Why: every line of the corpus is in its source's columns (its own
    /// document counts it), and once the columns outgrow the caches (a 200 MB crawl's are
    /// 27 MB, a 1 GB crawl's five times that) each column read at a line's place is a miss:
    /// the key, the count and the fingerprint, three per line. Most lines of a page are its
    /// own text, in one document, whose fingerprint nothing reads: one miss of three less.
    /// And whose count is 1, which the table's bit per row says ([`count_at`]): the bits are
    /// a 160th of the columns' bytes and stay in the caches, so such a line's one miss
    /// left is its key's (the lines in more documents are the pages' shared lines, looked
    /// up page after page, their rows in the caches).
    fn lookup(py: Python<'_>, keys: &[u64], templates: &PyBuffer<u64>, tables: &[Table]) -> PyResult<Vec<LineStat>> {
        let tk = cells(templates, py)?;
        let mut out: Vec<LineStat> = keys
            .iter()
            .map(|&k| LineStat {
                template: find(tk, k).is_some(),
                ..LineStat::default()
            })
            .collect();
        // each key's place in each table, table after table (None: not in it)
        let mut places: Vec<Option<usize>> = Vec::with_capacity(keys.len() * tables.len());
        for t in tables {
            let ks = cells(&t.keys, py)?;
            let bits = cells(&t.not_one, py)?;
            let dir = cells(&t.dir, py)?;
            let (c32, c64) = match &t.counts {
                Counts::I32(b) => (cells(b, py)?, &[][..]),
                Counts::I64(b) => (&[][..], cells(b, py)?),
            };
            let count = |at: usize| {
                c32.get(at)
                    .map_or_else(|| c64.get(at).copied().unwrap_or(0), |&c| i64::from(c))
            };
            for (s, &k) in out.iter_mut().zip(keys) {
                let at = find_in(ks, dir, k);
                if let Some(at) = at {
                    s.count = s.count.wrapping_add(count_at(bits, at, count));
                }
                places.push(at);
            }
        }
        for (t, places) in tables.iter().zip(places.chunks(keys.len().max(1))) {
            let ss = cells(&t.sums, py)?;
            for (s, at) in out.iter_mut().zip(places) {
                if let (true, Some(&sum)) = (s.count >= 2, at.and_then(|at| ss.get(at))) {
                    s.sum = s.sum.wrapping_add(sum);
                }
            }
        }
        Ok(out)
    }

    fn tables(stats: &Option<(Option<Columns<'_>>, Option<Columns<'_>>)>) -> PyResult<Vec<Table>> {
        let mut out = Vec::new();
        if let Some((own, known)) = stats {
            for c in [own, known].into_iter().flatten() {
                out.push(table(c)?);
            }
        }
        Ok(out)
    }

    fn mark_str<'py>(py: Python<'py>, m: Mark) -> Option<Bound<'py, PyString>> {
        m.mechanism().map(|mech| match mech {
            super::Mechanism::Template => pyo3::intern!(py, super::TEMPLATE_ID).clone(),
            super::Mechanism::Wrapper => pyo3::intern!(py, super::WRAPPER_ID).clone(),
        })
    }

    /// `(key, collapse(line))` of the lines in `sample_at` or more documents, in order: the
    /// texts `TemplateStats.note_samples` keeps for `rules suggest`.
    fn samples<'py>(
        py: Python<'py>,
        out: &Bound<'py, PyList>,
        keys: &[u64],
        stats: &[LineStat],
        sample_at: Option<i64>,
        line: impl Fn(usize) -> PyResult<Vec<u8>>,
    ) -> PyResult<()> {
        let Some(at) = sample_at else { return Ok(()) };
        for (i, (s, &k)) in stats.iter().zip(keys).enumerate() {
            if s.count >= at {
                let raw = line(i)?;
                out.append((k, crate::py_str(py, &collapse(&raw))?))?;
            }
        }
        Ok(())
    }

    fn check(what: &str, lines: usize, keys: usize) -> PyResult<()> {
        if lines != keys {
            return Err(PyValueError::new_err(format!("{lines} {what} but {keys} keys")));
        }
        Ok(())
    }

    /// Template removal of one document (`cleaner.clean.stages.remove_templates`): its
    /// `text` and `line_keys`, its header lines `head` and `head_keys`, the source's template
    /// keys `templates` (sorted uint64), `stats` (`TemplateStats.columns(source)`, None: no
    /// statistics), `wrappers` (whether wrapper lines go), `sample_at`
    /// (`TemplateStats.sample_at`), `body` (whether the classifier had an input), `trace`.
    ///
    /// Returns `(decided, first, fallback, marks, samples)`: `decided` False when nothing
    /// can go; each outcome `(text, removed, gone, matched)`: the kept text (None: the text
    /// as it was), `(id, lines, words)` per mechanism, `(key, id, line)` per removed line,
    /// and None; or for a re-run of the classifier `(None, None, None, matched)` with the
    /// wrapper sets (a sorted list); `fallback` the outcome without wrapper lines (see
    /// [`super::Decision`]) or None; with `trace` each line's mark (None kept,
    /// `chrome.template`, `chrome.wrapper`), else None; `samples` `(key, collapse(line))`
    /// of the header's lines then the text's in `sample_at` or more documents.
    #[pyfunction]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (text, line_keys, head, head_keys, templates, stats, wrappers, sample_at, body, trace=false))]
    fn untemplate_page<'py>(
        py: Python<'py>,
        text: Bound<'py, PyString>,
        line_keys: Vec<u64>,
        head: Vec<Bound<'py, PyString>>,
        head_keys: Vec<u64>,
        templates: &Bound<'py, PyAny>,
        stats: Option<(Option<Columns<'py>>, Option<Columns<'py>>)>,
        wrappers: bool,
        sample_at: Option<i64>,
        body: bool,
        trace: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let raw = crate::text_bytes(&text)?;
        let lines = split_lines(&raw);
        check("lines", lines.len(), line_keys.len())?;
        check("header lines", head.len(), head_keys.len())?;
        let templates = column::<u64>(templates)?;
        let tables = tables(&stats)?;
        let (head_stats, line_stats) = crate::guarded_short(|| -> PyResult<_> {
            Ok((
                lookup(py, &head_keys, &templates, &tables)?,
                lookup(py, &line_keys, &templates, &tables)?,
            ))
        })??;
        let noted = PyList::empty(py);
        samples(py, &noted, &head_keys, &head_stats, sample_at, |i| {
            Ok(crate::text_bytes(&head[i])?.into_owned())
        })?;
        samples(
            py,
            &noted,
            &line_keys,
            &line_stats,
            sample_at,
            |i| Ok(lines[i].to_vec()),
        )?;
        let any_templates = templates.item_count() > 0;
        let decided = crate::guarded(py, || {
            let d = decide(&lines, &line_stats, &head_stats, any_templates, wrappers, body)?;
            let texts = [Some(&d.first), d.fallback.as_ref()].map(|o| match o {
                Some(Outcome::Plain { kept, .. }) => join(&lines, kept),
                _ => None,
            });
            Some((d, texts))
        })?;
        let Some((d, [text1, text2])) = decided else {
            return PyTuple::new(
                py,
                [
                    false.into_pyobject(py)?.to_owned().into_any(),
                    py.None().into_bound(py),
                    py.None().into_bound(py),
                    py.None().into_bound(py),
                    noted.into_any(),
                ],
            );
        };
        let outcome = |o: &Outcome, joined: Option<Vec<u8>>| -> PyResult<Bound<'py, PyTuple>> {
            match o {
                Outcome::Plain { removed, gone, .. } => {
                    let text = joined.map(|t| crate::py_str(py, &t)).transpose()?;
                    let rem = PyList::empty(py);
                    for &(m, n, w) in removed {
                        rem.append((m.id(), n, w))?;
                    }
                    let g = PyList::empty(py);
                    for &(i, m) in gone {
                        g.append((line_keys[i], m.id(), crate::py_str(py, lines[i])?))?;
                    }
                    PyTuple::new(
                        py,
                        [
                            text.into_pyobject(py)?.into_any(),
                            rem.into_any(),
                            g.into_any(),
                            py.None().into_bound(py),
                        ],
                    )
                }
                Outcome::Reclassify { matched } => {
                    let m = PyList::new(py, matched)?;
                    PyTuple::new(
                        py,
                        [
                            py.None().into_bound(py),
                            py.None().into_bound(py),
                            py.None().into_bound(py),
                            m.into_any(),
                        ],
                    )
                }
            }
        };
        let first = outcome(&d.first, text1)?;
        let fallback = match &d.fallback {
            Some(o) => outcome(o, text2)?.into_any(),
            None => py.None().into_bound(py),
        };
        let marks_out = if trace {
            PyList::new(py, d.marks.iter().map(|&m| mark_str(py, m)))?.into_any()
        } else {
            py.None().into_bound(py)
        };
        PyTuple::new(
            py,
            [
                true.into_pyobject(py)?.to_owned().into_any(),
                first.into_any(),
                fallback,
                marks_out,
                noted.into_any(),
            ],
        )
    }

    /// The marks of `lines` (`line_keys` their keys): `chrome.template` when the key is one
    /// of `templates`, `chrome.wrapper` when the line is in two or more documents whose set
    /// is one of `wrappers`, else None (`templates` sorted uint64); and the `(key, collapse(line))`
    /// samples as `untemplate_page` notes them. What `_reclassify` removes from the
    /// classifier's input before it runs again.
    #[pyfunction]
    #[pyo3(signature = (lines, line_keys, templates, stats, wrappers, sample_at))]
    fn template_marks<'py>(
        py: Python<'py>,
        lines: Vec<Bound<'py, PyString>>,
        line_keys: Vec<u64>,
        templates: &Bound<'py, PyAny>,
        stats: Option<(Option<Columns<'py>>, Option<Columns<'py>>)>,
        wrappers: Vec<u64>,
        sample_at: Option<i64>,
    ) -> PyResult<(Marks<'py>, Bound<'py, PyList>)> {
        check("lines", lines.len(), line_keys.len())?;
        let templates = column::<u64>(templates)?;
        let tables = tables(&stats)?;
        let mut sets = wrappers;
        sets.sort_unstable();
        sets.dedup();
        let line_stats = crate::guarded_short(|| lookup(py, &line_keys, &templates, &tables))??;
        let noted = PyList::empty(py);
        samples(py, &noted, &line_keys, &line_stats, sample_at, |i| {
            Ok(crate::text_bytes(&lines[i])?.into_owned())
        })?;
        let m = crate::guarded_short(|| marks(&line_stats, &sets))?;
        Ok((m.into_iter().map(|m| mark_str(py, m)).collect(), noted))
    }

    /// Each line's mark: None (kept), `chrome.template` or `chrome.wrapper`.
    type Marks<'py> = Vec<Option<Bound<'py, PyString>>>;

    pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("TEMPLATE_ID", super::TEMPLATE_ID)?;
        m.add("WRAPPER_ID", super::WRAPPER_ID)?;
        m.add_function(wrap_pyfunction!(untemplate_page, m)?)?;
        m.add_function(wrap_pyfunction!(template_marks, m)?)?;
        Ok(())
    }
}

pub use py::register;

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(template: bool, count: i64, sum: u64) -> LineStat {
        LineStat { template, count, sum }
    }

    const T: LineStat = LineStat {
        template: true,
        count: 9,
        sum: 1,
    };
    const K: LineStat = LineStat {
        template: false,
        count: 1,
        sum: 5,
    };

    #[test]
    fn lines_split_as_str_split_does() {
        let cases: [(&str, &[&str]); 8] = [
            ("", &[""]),
            ("a", &["a"]),
            ("a\n\nb", &["a", "b"]),
            ("a\n\n\nb", &["a", "\nb"]),
            ("a\n\n\n\nb", &["a", "", "b"]),
            ("\n\na\n\n", &["", "a", ""]),
            ("\n", &["\n"]),
            ("é\n\nü\nx", &["é", "ü\nx"]),
        ];
        for (text, want) in cases {
            let got: Vec<&[u8]> = split_lines(text.as_bytes());
            let want: Vec<&[u8]> = want.iter().map(|s| s.as_bytes()).collect();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn lines_of_random_texts_split_as_str_split_does() {
        // texts with single and double breaks anywhere, between ASCII and non-ASCII characters
        let mut next = crate::xorshift32(0x5EED_0A0A);
        let pieces = ["a", "\n", "\n\n", "é", "\u{2028}", " ", "bcdefgh"];
        for _ in 0..3000 {
            let n = (next() % 30) as usize;
            let text: String = (0..n).map(|_| pieces[next() as usize % pieces.len()]).collect();
            let got: Vec<&[u8]> = split_lines(text.as_bytes());
            let want: Vec<&[u8]> = text.split("\n\n").map(str::as_bytes).collect();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn find_is_searchsorted_then_equal() {
        let keys = [2u64, 4, 4, 9, u64::MAX];
        assert_eq!(find(&keys, 4), Some(1)); // the first of equal keys
        assert_eq!(find(&keys, u64::MAX), Some(4));
        for missing in [0, 3, 10, u64::MAX - 1] {
            assert_eq!(find(&keys, missing), None);
        }
        assert_eq!(find(&[], 7), None);
    }

    /// `np.packbits(counts != 1, bitorder="little")`, as `furniture._frozen` builds it.
    fn pack(counts: &[i64]) -> Vec<u8> {
        let mut bits = vec![0u8; counts.len().div_ceil(8)];
        for (i, &c) in counts.iter().enumerate() {
            if c != 1 {
                bits[i / 8] |= 1 << (i % 8);
            }
        }
        bits
    }

    #[test]
    fn a_count_read_through_the_bits_is_the_count() {
        // random sorted tables (empty, one row, duplicate keys, counts 0, 1, 2+ and negative
        // like an index's could be) and keys in and out of them: the count found through
        // the bits is the one read from the column at the place the search found
        let mut next = crate::xorshift32(0x0C0F_FEE1);
        for round in 0..2000 {
            let n = match round % 4 {
                0 => 0,
                1 => 1,
                _ => (next() % 40) as usize,
            };
            let mut keys: Vec<u64> = (0..n).map(|_| u64::from(next() % 64)).collect();
            keys.sort_unstable();
            let counts: Vec<i64> = (0..n)
                .map(|_| match next() % 4 {
                    0 | 1 => 1,
                    2 => i64::from(next() % 5),
                    _ => -i64::from(next() % 3),
                })
                .collect();
            let bits = pack(&counts);
            for key in 0..70u64 {
                let old = find(&keys, key).map(|at| counts[at]);
                let new = find(&keys, key).map(|at| count_at(&bits, at, |i| counts.get(i).copied().unwrap_or(0)));
                assert_eq!(new, old, "{keys:?} {counts:?} {key}");
            }
        }
    }

    /// `furniture._directory` of `keys` with `b` top bits.
    fn directory(keys: &[u64], b: u32) -> Vec<u32> {
        let mut dir: Vec<u32> = (0..1u64 << b)
            .map(|j| {
                let start = if b == 0 { 0 } else { j << (64 - b) };
                keys.partition_point(|&k| k < start) as u32
            })
            .collect();
        dir.push(keys.len() as u32);
        dir
    }

    #[test]
    fn a_search_through_the_directory_finds_what_the_whole_search_finds() {
        // random sorted tables (empty, one row, duplicate keys, keys at the edges of the
        // directory's runs, 0 and u64::MAX) with directories of 0 to 6 bits, and keys in
        // and out of them, near them and at the runs' edges
        let mut next = crate::xorshift32(0xD1EC_7012);
        let mut wide = || (u64::from(next()) << 32) | u64::from(next());
        for round in 0..3000 {
            let n = match round % 5 {
                0 => 0,
                1 => 1,
                _ => (wide() % 50) as usize,
            };
            let b = (round % 7) as u32;
            let edges = [0, 1, u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1, 1 << 60];
            let mut keys: Vec<u64> = (0..n)
                .map(|_| match wide() % 4 {
                    0 => edges[(wide() % 7) as usize],
                    _ => wide(),
                })
                .collect();
            if n > 2 && round % 3 == 0 {
                keys[1] = keys[0]; // a duplicate key
            }
            keys.sort_unstable();
            let dir = directory(&keys, b);
            let mut probes: Vec<u64> = keys
                .iter()
                .flat_map(|&k| [k, k.wrapping_add(1), k.wrapping_sub(1)])
                .collect();
            probes.extend(edges);
            probes.extend((0..20).map(|_| wide()));
            for key in probes {
                assert_eq!(find_in(&keys, &dir, key), find(&keys, key), "{keys:?} {b} {key}");
            }
        }
    }

    #[test]
    fn a_directory_of_another_shape_is_not_used() {
        let keys = [3u64, 9, 1 << 63, u64::MAX];
        let other = [vec![0, 2], vec![1, 4], vec![0, 2, 3]]; // made for another column
        for bad in [vec![], vec![0, 2, 4], vec![0, 9], vec![3, 1, 4], vec![0, 1, 2, 3, 4, 5]]
            .into_iter()
            .chain(other)
        {
            for k in [3, 9, 1 << 63, u64::MAX, 4] {
                assert_eq!(find_in(&keys, &bad, k), find(&keys, k), "{bad:?} {k}");
            }
        }
    }

    #[test]
    fn a_count_of_one_is_not_read_and_past_the_bits_it_is() {
        let counts = [1i64, 7, 1, 1, 1, 1, 1, 1, 1, 2];
        let bits = pack(&counts);
        assert_eq!(bits, vec![0b0000_0010, 0b0000_0010]);
        let read = std::cell::Cell::new(0);
        let count = |i: usize| {
            read.set(read.get() + 1);
            counts[i]
        };
        let got: Vec<i64> = (0..counts.len()).map(|i| count_at(&bits, i, count)).collect();
        assert_eq!(got, counts);
        assert_eq!(read.get(), 2);
        // a bitmap short of the row reads the count
        assert!(not_one(&[], 0) && not_one(&bits, 16));
        assert_eq!(count_at(&[], 3, |_| 1), 1);
    }

    #[test]
    fn wrapper_sets_are_the_sets_of_shared_header_lines() {
        let head = [
            stat(false, 1, 7),
            stat(false, 2, 9),
            stat(false, 3, 4),
            stat(true, 2, 9),
        ];
        assert_eq!(wrapper_sets(&head), vec![4, 9]);
        assert!(wrapper_sets(&[]).is_empty());
    }

    #[test]
    fn a_template_key_wins_and_a_wrapper_needs_two_documents_and_a_header_set() {
        let lines = [
            stat(true, 2, 9),  // template, even in a header's set
            stat(false, 2, 9), // wrapper
            stat(false, 1, 9), // in one document: not a wrapper, whatever its set
            stat(false, 5, 8), // another set
        ];
        assert_eq!(
            marks(&lines, &[4, 9]),
            vec![Mark::Template, Mark::Wrapper(9), Mark::Kept, Mark::Kept]
        );
        assert_eq!(
            marks(&lines, &[]),
            vec![Mark::Template, Mark::Kept, Mark::Kept, Mark::Kept]
        );
    }

    #[test]
    fn removals_are_counted_in_first_seen_order() {
        let m = [
            Mark::Wrapper(3),
            Mark::Kept,
            Mark::Template,
            Mark::Wrapper(3),
            Mark::Kept,
        ];
        let words = [2, 30, 1, 0, 5];
        assert_eq!(
            untemplated(|i| words[i], &m, true),
            Outcome::Plain {
                kept: vec![1, 4],
                removed: vec![(Mechanism::Wrapper, 2, 2), (Mechanism::Template, 1, 1)],
                gone: vec![
                    (0, Mechanism::Wrapper),
                    (2, Mechanism::Template),
                    (3, Mechanism::Wrapper)
                ],
            }
        );
    }

    #[test]
    fn half_the_words_marked_reruns_the_classifier_when_it_had_an_input() {
        let m = [
            Mark::Template,
            Mark::Wrapper(8),
            Mark::Wrapper(3),
            Mark::Wrapper(8),
            Mark::Kept,
        ];
        // 2 + 1 + 1 + 1 of 10 words: exactly half
        let words = [2, 1, 1, 1, 5];
        assert_eq!(
            untemplated(|i| words[i], &m, true),
            Outcome::Reclassify { matched: vec![3, 8] }
        );
        assert!(matches!(untemplated(|i| words[i], &m, false), Outcome::Plain { .. }));
        // one word short of half
        let words = [2, 1, 1, 0, 6];
        assert!(matches!(untemplated(|i| words[i], &m, true), Outcome::Plain { .. }));
        // no words at all: 0 >= 0
        assert!(matches!(
            untemplated(|_| 0, &[Mark::Kept], true),
            Outcome::Reclassify { .. }
        ));
        // the words are counted only until the rule is decided: with nothing marked, the
        // first line with a word decides it
        let asked = std::cell::Cell::new(0);
        let count = |i: usize| {
            asked.set(asked.get() + 1);
            [0, 3, 4, 5][i]
        };
        let none = [Mark::Kept; 4];
        assert!(matches!(untemplated(count, &none, true), Outcome::Plain { .. }));
        assert_eq!(asked.get(), 2);
        // marked: 3 of 12 words, decided when the kept lines' reach 4 (more than 3)
        asked.set(0);
        let m = [Mark::Kept, Mark::Template, Mark::Kept, Mark::Kept];
        assert!(matches!(untemplated(count, &m, true), Outcome::Plain { .. }));
        assert_eq!(asked.get(), 3);
    }

    #[test]
    fn nothing_to_decide_without_templates_or_header_sets() {
        let lines: [&[u8]; 1] = [b"a"];
        assert!(decide(&lines, &[T], &[K], false, true, false).is_none());
        // a shared header line, but wrappers are off
        assert!(decide(&lines, &[K], &[stat(false, 2, 5)], false, false, false).is_none());
        assert!(decide(&lines, &[K], &[stat(false, 2, 5)], false, true, false).is_some());
        assert!(decide(&lines, &[K], &[], true, true, false).is_some());
    }

    #[test]
    fn a_page_all_wrapper_falls_back_to_its_template_lines() {
        let lines: [&[u8]; 3] = [b"Menu", b"Story one", b"Story two"];
        let w = stat(false, 2, 5);
        let d = decide(&lines, &[T, w, w], &[w], true, true, false).expect("decided");
        assert_eq!(d.marks, vec![Mark::Template, Mark::Wrapper(5), Mark::Wrapper(5)]);
        assert!(matches!(&d.first, Outcome::Plain { kept, .. } if kept.is_empty()));
        assert_eq!(
            d.fallback,
            Some(Outcome::Plain {
                kept: vec![1, 2],
                removed: vec![(Mechanism::Template, 1, 1)],
                gone: vec![(0, Mechanism::Template)],
            })
        );
        // something kept: no fallback
        let d = decide(&lines, &[T, w, K], &[w], true, true, false).expect("decided");
        assert!(d.fallback.is_none());
        // a re-run: its result is the caller's, so the fallback is ready
        let d = decide(&lines, &[T, w, K], &[w], true, true, true).expect("decided");
        assert!(matches!(d.first, Outcome::Reclassify { .. }) && d.fallback.is_some());
        // all template, no wrapper: nothing to fall back to
        let d = decide(&lines, &[T, T, T], &[w], true, true, false).expect("decided");
        assert!(d.fallback.is_none());
    }

    #[test]
    fn the_text_joins_kept_lines_and_is_none_when_unchanged() {
        let lines: [&[u8]; 3] = [b"a", b"b", b"c"];
        assert_eq!(join(&lines, &[0, 1, 2]), None);
        assert_eq!(join(&lines, &[0, 2]), Some(b"a\n\nc".to_vec()));
        assert_eq!(join(&lines, &[]), Some(Vec::new()));
        // a blank piece is left out of the text, so the text changes though all lines stay
        let lines: [&[u8]; 3] = [b"a", b"", b"c"];
        assert_eq!(join(&lines, &[0, 1, 2]), Some(b"a\n\nc".to_vec()));
        assert_eq!(join(&lines, &[1]), Some(Vec::new()));
    }

    #[test]
    fn words_are_counted_as_str_split_does() {
        let lines: [&[u8]; 3] = ["Menu\u{3000}x".as_bytes(), b"  ", "one two three".as_bytes()];
        // 2 + 0 template words of 5: under half, so nothing is re-run and the words are counted
        let d = decide(&lines, &[T, T, K], &[], true, true, true).expect("decided");
        assert_eq!(
            d.first,
            Outcome::Plain {
                kept: vec![2],
                removed: vec![(Mechanism::Template, 2, 2)],
                gone: vec![(0, Mechanism::Template), (1, Mechanism::Template)],
            }
        );
    }
}

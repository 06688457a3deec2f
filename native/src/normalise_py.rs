//! The Python face of [`crate::normalise`]: `Normaliser` (the ftfy gate, built once per
//! process from the installed ftfy by `cleaner.clean.normalise`), `normalise_text`,
//! `normalise_resume`, `collapse` and `collapse_lines`.

use std::borrow::Cow;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::normalise::{self, Alternative, Badness, CharClass, Gate, Step};
use crate::{guarded, text_bytes};

#[pyclass(frozen, name = "Normaliser", module = "cleaner._native")]
pub(crate) struct PyNormaliser(pub(crate) Gate);

#[pymethods]
impl PyNormaliser {
    /// `ftfy_chars`: inclusive code point ranges ftfy's character fixers act on;
    /// `exact_entities`: ftfy's entity pattern is `&#?[0-9A-Za-z]{1,24};`; `badness`: ftfy's
    /// mojibake pattern as alternatives `(anchored, [(negate, ranges, categories)])`, or None
    /// when it has a form the automaton cannot run; `limit`: ftfy's `max_decode_length`.
    #[new]
    #[allow(clippy::type_complexity)]
    fn new(
        ftfy_chars: Vec<(u32, u32)>,
        exact_entities: bool,
        badness: Option<Vec<(bool, Vec<(bool, Vec<(u32, u32)>, u8)>)>>,
        limit: usize,
    ) -> PyResult<Self> {
        let badness = badness
            .map(|alts| {
                let alts: Vec<Alternative> = alts
                    .into_iter()
                    .map(|(anchored, classes)| Alternative {
                        anchored,
                        classes: classes
                            .into_iter()
                            .map(|(negate, ranges, cats)| CharClass { negate, ranges, cats })
                            .collect(),
                    })
                    .collect();
                Badness::new(&alts)
            })
            .transpose()
            .map_err(PyValueError::new_err)?;
        Gate::new(&ftfy_chars, exact_entities, badness, limit)
            .map(PyNormaliser)
            .map_err(PyValueError::new_err)
    }

    /// Whether ftfy's mojibake pattern matches in `text` (`ftfy.badness.is_bad`), as the gate
    /// runs it; None without an automaton.
    fn is_bad(&self, py: Python<'_>, text: &str) -> PyResult<Option<bool>> {
        let g = &self.0;
        guarded(py, || g.badness().map(|b| b.search(text)))
    }
}

pub(crate) fn step_to_py<'py>(py: Python<'py>, step: Step<'_>, given: bool) -> PyResult<Bound<'py, PyAny>> {
    match step {
        Step::Done(t) => Ok(PyString::new(py, &t).into_any()),
        Step::Fix { text, spans, round } => {
            let text = match text {
                Cow::Borrowed(_) if given => py.None().into_bound(py),
                t => PyString::new(py, &t).into_any(),
            };
            Ok(PyTuple::new(
                py,
                [
                    text,
                    spans.into_pyobject(py)?.into_any(),
                    round.into_pyobject(py)?.into_any(),
                ],
            )?
            .into_any())
        }
    }
}

/// `normalise_text` of a text, its line endings made `\n` first (`\r\n`, then `\r`): the
/// normalised text (the object given when that is the text itself), or `(text, spans,
/// round)` when ftfy must fix `spans` (`(start, end, html)`, in characters) of `text` (None:
/// the text given, whose line endings are `\n`, or which holds lone surrogates and was not
/// read: then the caller makes them `\n`) in `round` first (`spans` None: the whole text);
/// the caller then NFCs the result and calls `normalise_resume`.
#[pyfunction]
fn normalise_text<'py>(
    py: Python<'py>,
    normaliser: &Bound<'py, PyNormaliser>,
    text: Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    let g = &normaliser.get().0;
    let Ok(t) = text.to_str() else {
        return unread_step(py);
    };
    let step = guarded(py, || first_step(g, t))?;
    match step {
        // a text that was normalised already: no second string
        Step::Done(out) if out == t => Ok(text.clone().into_any()),
        step => step_to_py(py, step, true),
    }
}

/// The step of a text the core cannot read (it holds lone surrogates): `(None, None, 0)`,
/// the whole text for ftfy, whose line endings the caller makes `\n`.
pub(crate) fn unread_step(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let spans = py.None();
    Ok(PyTuple::new(py, [py.None(), spans, 0u8.into_pyobject(py)?.into_any().unbind()])?.into_any())
}

/// The first step of `normalise_text` of `t`: its line endings made `\n`, then the rounds
/// the core runs alone.
pub(crate) fn first_step<'a>(g: &Gate, t: &'a str) -> Step<'a> {
    let lines = match t.contains('\r') {
        true => Cow::Owned(t.replace("\r\n", "\n").replace('\r', "\n")),
        false => Cow::Borrowed(t),
    };
    g.run(lines, 0)
}

/// Goes on after ftfy fixed (and NFC normalised) the text of round `round`: `prev` is that
/// text before the fix, `fixed` after. Same answers as `normalise_text`.
#[pyfunction]
fn normalise_resume<'py>(
    py: Python<'py>,
    normaliser: &Bound<'py, PyNormaliser>,
    prev: Bound<'py, PyString>,
    fixed: Bound<'py, PyString>,
    round: u8,
) -> PyResult<Bound<'py, PyAny>> {
    let g = &normaliser.get().0;
    let prev = prev.to_str().ok();
    let fixed = fixed.to_str().map_err(|_| {
        PyValueError::new_err("normalise_resume: the fixed text holds lone surrogates (ftfy replaces them)")
    })?;
    let step = guarded(py, || g.resume(prev, fixed, round))?;
    step_to_py(py, step, false)
}

/// The segments of `text` ftfy could change, `(start, end, html)` in characters (None: all
/// of it, a text with lone surrogates).
#[pyfunction]
fn ftfy_spans(
    py: Python<'_>,
    normaliser: &Bound<'_, PyNormaliser>,
    text: Bound<'_, PyString>,
) -> PyResult<Option<Vec<(usize, usize, bool)>>> {
    let g = &normaliser.get().0;
    match text.to_str() {
        Ok(t) => guarded(py, || g.ftfy_spans(t)).map(Some),
        Err(_) => Ok(None),
    }
}

/// The translation step of `normalise_text` alone (for the tests).
#[pyfunction]
fn translate(text: &str) -> String {
    normalise::translate(text).into_owned()
}

fn collapse_one<'py>(py: Python<'py>, line: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyString>> {
    let b = text_bytes(line)?;
    match normalise::collapse(&b) {
        Cow::Borrowed(_) => Ok(line.clone()),
        Cow::Owned(o) => crate::py_str(py, &o),
    }
}

/// `" ".join(line.split())`.
#[pyfunction]
fn collapse<'py>(py: Python<'py>, line: Bound<'py, PyString>) -> PyResult<Bound<'py, PyString>> {
    collapse_one(py, &line)
}

/// `[collapse(line) for line in lines]`.
#[pyfunction]
fn collapse_lines<'py>(py: Python<'py>, lines: Vec<Bound<'py, PyString>>) -> PyResult<Vec<Bound<'py, PyString>>> {
    lines.iter().map(|l| collapse_one(py, l)).collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNormaliser>()?;
    m.add_function(wrap_pyfunction!(normalise_text, m)?)?;
    m.add_function(wrap_pyfunction!(normalise_resume, m)?)?;
    m.add_function(wrap_pyfunction!(ftfy_spans, m)?)?;
    m.add_function(wrap_pyfunction!(translate, m)?)?;
    m.add_function(wrap_pyfunction!(collapse, m)?)?;
    m.add_function(wrap_pyfunction!(collapse_lines, m)?)?;
    Ok(())
}

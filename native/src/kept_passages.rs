//! The texts of a document's passages that dedup reports, for duplicates.json: the write
//! step keeps them as the document streams past (`cleaner.dedup.result.DedupResult.apply`).
//!
//! One call per document with reported passages, given each passage's paragraph as its
//! first and last line, which pass 2's features found (`features::features`, through
//! [`crate::passages::paragraph_spans_counted`]; the same spans as
//! [`crate::passages::paragraph_spans`], a test in features.rs says so) on this very text: the write
//! step keeps the texts before it cuts anything. Finding every paragraph again
//! (`paragraphs_of`, the hard-wrap test on every line) to read one or two of them was the
//! largest part of the write step's own time on a run with many copied passages.

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;

use crate::guarded;
use crate::passages::{join_paragraph, passage_text, CharTable, Fail};

/// Why [`texts`] fails: lines that are no paragraph of the text (first, last), or
/// `passage_text`'s failure.
#[derive(Debug)]
pub enum Missing {
    Lines(usize, usize),
    Passage(Fail),
}

/// For each `(first line, last line, window number)`, the text `passages.split` gives that
/// passage of `text`: the paragraph of those 1-based lines, its lines that are not blank
/// joined by spaces by [`join_paragraph`], as [`crate::passages::paragraphs`] joins them (whole, or its numbered
/// window of `window` words overlapping by `overlap`).
pub fn texts(
    t: &CharTable,
    text: &str,
    wanted: &[(usize, usize, i64)],
    window: usize,
    overlap: usize,
) -> Result<Vec<String>, Missing> {
    let lines: Vec<&str> = text.split('\n').collect();
    wanted
        .iter()
        .map(|&(start, end, number)| {
            let part = match start.checked_sub(1).and_then(|s| lines.get(s..end)) {
                Some(part) if start <= end && !part[0].chars().all(|c| t.is_space(c)) => part,
                _ => return Err(Missing::Lines(start, end)),
            };
            passage_text(t, &join_paragraph(t, part), number, window, overlap).map_err(Missing::Passage)
        })
        .collect()
}

/// `[passage_text(paragraph of lines first..=last, number, window, overlap) for first,
/// last, number in wanted]` of a clean text; lines that hold no paragraph (out of range,
/// or a blank first line) are a `KeyError`.
#[pyfunction]
fn kept_passage_texts(
    py: Python<'_>,
    text: &str,
    wanted: Vec<(usize, usize, i64)>,
    window: usize,
    overlap: usize,
) -> PyResult<Vec<String>> {
    let t = crate::unicode::props();
    guarded(py, || texts(t, text, &wanted, window, overlap))?.map_err(|e| match e {
        Missing::Lines(start, end) => PyKeyError::new_err((start, end)),
        Missing::Passage(f) => crate::passages::fail(f),
    })
}

/// Adds this module's function to `cleaner._native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kept_passage_texts, m)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passages_asked_for_are_those_of_the_paragraphs() {
        let t = crate::unicode::props();
        let long: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
        let text = format!(
            "Headline\n\nThe minister said on Tuesday that the talks would go on until\n \nthe end of the week, and that no deal was near.\n\n{}",
            long.join(" ")
        );
        let paras = crate::passages::paragraphs(t, &text);
        assert_eq!(paras.len(), 3);
        let wanted: Vec<(usize, usize, i64)> = paras.iter().map(|p| (p.0, p.1, 0)).collect();
        let got = texts(t, &text, &wanted, 200, 50).unwrap();
        assert_eq!(got[0], "Headline");
        assert_eq!(got[1], paras[1].2);
        assert_eq!(got[1], "The minister said on Tuesday that the talks would go on until the end of the week, and that no deal was near.");
        assert_eq!(got[2], long[..200].join(" "));
        let (s, e) = (paras[2].0, paras[2].1);
        let got = texts(t, &text, &[(s, e, 1), (s, e, -1), (1, 1, 0)], 200, 50).unwrap();
        assert_eq!(
            got,
            [
                long[150..300].join(" "),
                long[150..300].join(" "),
                "Headline".to_string()
            ]
        );
        for bad in [(0, 1), (2, 2), (3, 2), (7, 8), (1, 9)] {
            assert!(
                matches!(texts(t, &text, &[(bad.0, bad.1, 0)], 200, 50), Err(Missing::Lines(..))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            texts(t, &text, &[(s, e, 2)], 200, 50),
            Err(Missing::Passage(Fail::Index))
        ));
        assert!(texts(t, &text, &[], 200, 50).unwrap().is_empty());
    }
}

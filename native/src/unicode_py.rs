//! The Python face of [`crate::unicode`]: installing an interpreter's tables, and the
//! accessors the tests compare with `str` methods over every code point.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::u32s;
use crate::unicode;

/// Installs the tables of an interpreter whose Unicode version is not the embedded one
/// (`cleaner.unicode.install`): `flags` one uint32 per code point, the mappings as
/// `(keys, starts, pool)` uint32 arrays (little-endian bytes).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn install_unicode(
    version: &str,
    flags: &[u8],
    lower_keys: &[u8],
    lower_starts: &[u8],
    lower_pool: &[u8],
    fold_keys: &[u8],
    fold_starts: &[u8],
    fold_pool: &[u8],
) -> PyResult<()> {
    let lower = (u32s(lower_keys)?, u32s(lower_starts)?, u32s(lower_pool)?);
    let fold = (u32s(fold_keys)?, u32s(fold_starts)?, u32s(fold_pool)?);
    unicode::install(version, &u32s(flags)?, lower, fold).map_err(PyValueError::new_err)
}

/// The flags of every code point (uint32, little-endian), as the core reads them.
#[pyfunction]
fn unicode_flags(py: Python<'_>) -> PyResult<Bound<'_, PyBytes>> {
    let p = unicode::props();
    PyBytes::new_with(py, 0x11_0000 * 4, |buf| {
        for (cp, chunk) in buf.chunks_exact_mut(4).enumerate() {
            chunk.copy_from_slice(&p.flags(cp as u32).to_le_bytes());
        }
        Ok(())
    })
}

/// `text.lower()`, as the core computes it.
#[pyfunction]
fn unicode_lower(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    unicode::props().lower_into(text, &mut out);
    out
}

/// `text.casefold()`, as the core computes it.
#[pyfunction]
fn unicode_casefold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    unicode::props().casefold_into(text, &mut out);
    out
}

/// The NFC quick check of `text`: 0 yes, 1 no, 2 maybe.
#[pyfunction]
fn unicode_nfc_quick_check(text: &str) -> u8 {
    match unicode::props().nfc_quick_check(text) {
        unicode::Quick::Yes => 0,
        unicode::Quick::No => 1,
        unicode::Quick::Maybe => 2,
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("UNICODE_VERSION", unicode::data::UNICODE_VERSION)?;
    m.add_function(wrap_pyfunction!(install_unicode, m)?)?;
    m.add_function(wrap_pyfunction!(unicode_flags, m)?)?;
    m.add_function(wrap_pyfunction!(unicode_lower, m)?)?;
    m.add_function(wrap_pyfunction!(unicode_casefold, m)?)?;
    m.add_function(wrap_pyfunction!(unicode_nfc_quick_check, m)?)?;
    Ok(())
}

//! Dedup's comparisons of signatures read from the passage store's signature file by the
//! core: [`crate::prose_pairs::shares_many`] for page pairs
//! (`cleaner.dedup.finder.Finder._prose_shares`), and the equal values of candidate pairs
//! (`cleaner.dedup.store.PassageStore.equal_counts`, LSH's confirmation).
//!
//! The driver asks it of tens of thousands of page pairs on a large run (whether two pages
//! that repeat a line are one story, whether a copy lies inside a long page), each batch
//! needing every passage signature of a thousand or two pages, tens of MB. Read in Python,
//! those bytes were copied four times on the driver's one thread with the GIL held: into a
//! fresh bytearray (zeroed first), into `bytes` (`tobytes`, for the call), and into a vector
//! of numbers; those copies were a third of the dedup step's CPU on a 200 MB crawl. Here
//! the rows are read straight into the numbers the comparison reads, a slice of rows per
//! thread of the pool, with the GIL released.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::prelude::*;

use crate::prose::equal_count;
use crate::prose_pairs::{f64s, indices, shares_many, Pages};
use crate::store::gather;
use crate::{guarded, le_bytes, pool};

/// Rows a thread reads at a time (2 MB of 128-value signatures).
const ROWS_AT_ONCE: usize = 4096;
/// The most values a row may hold: a row of 1 MiB, the widest the store's files take
/// ([`crate::store::SPAN_BYTES`]; so no product of a width and a row count below can overflow).
const MAX_VALUES: usize = (crate::store::SPAN_BYTES / 4) as usize;

/// An error reading signature file `path`, naming it (a short file reads as "failed to
/// fill whole buffer": a row number past its end).
fn in_file(path: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("signature file {}: {e}", path.display()))
}

/// Checks of `num_perm` shared by the entry points.
fn check_width(num_perm: usize) -> PyResult<()> {
    if num_perm == 0 || num_perm > MAX_VALUES {
        return Err(PyValueError::new_err(format!(
            "signatures of 1 to {MAX_VALUES} values, not {num_perm}"
        )));
    }
    Ok(())
}

/// `f` of rows `rows` of `file` (`num_perm` little-endian uint32 values a row) as numbers,
/// row `rows[i]` at `i`: each slice of [`ROWS_AT_ONCE`] rows is read by [`gather`] straight
/// into its place, the slices on the pool's threads. The numbers are in a buffer of the
/// calling thread's, reused from call to call ([`crate::scratch`]): a batch is up to 16 MiB,
/// and a fresh one per batch was most of the dedup pass's page faults.
pub fn with_rows<R>(file: &File, rows: &[u32], num_perm: usize, f: impl FnOnce(&[u32]) -> R) -> io::Result<R> {
    let width = 4 * num_perm;
    crate::scratch::with_words(rows.len() * num_perm, |out| {
        let one = |(dst, part): (&mut [u32], &[u32])| -> io::Result<()> {
            gather(file, width, part, crate::scratch::as_bytes_mut(dst))?;
            for v in dst.iter_mut() {
                *v = u32::from_le(*v); // the file's order; nothing to do on little-endian
            }
            Ok(())
        };
        match pool().filter(|_| rows.len() > ROWS_AT_ONCE) {
            Some(p) => p.install(|| {
                out.par_chunks_mut(ROWS_AT_ONCE * num_perm)
                    .zip(rows.par_chunks(ROWS_AT_ONCE))
                    .try_for_each(one)
            })?,
            None => out
                .chunks_mut(ROWS_AT_ONCE * num_perm)
                .zip(rows.chunks(ROWS_AT_ONCE))
                .try_for_each(one)?,
        }
        Ok(f(out))
    })
}

/// Row numbers from the bytes of a little-endian int32 array (a store's `sig_row`): a
/// negative one is a passage without a signature, which has no row to read.
fn row_numbers(b: &[u8]) -> PyResult<Vec<u32>> {
    if !b.len().is_multiple_of(4) {
        return Err(PyValueError::new_err(
            "an int32 array's byte length must be a multiple of 4",
        ));
    }
    b.chunks_exact(4)
        .map(|c| {
            u32::try_from(i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .map_err(|_| PyValueError::new_err("a negative row number (a passage without a signature)"))
        })
        .collect()
}

/// `prose_shares` of the passages whose signatures are rows `rows` (int32) of the
/// signature file `path` (`num_perm` uint32 values a row, as `PassageStore` writes it):
/// `size` float64 shingle counts, `keys` 12-byte exact keys, `prose` one byte a row
/// (nonzero: prose), `at` int64 page offsets into the rows (pages + 1 of them), `a` and `b`
/// int64 page numbers. Returns the float64 shares `a in b` and `b in a`, NaN for a page
/// with no prose passage.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn prose_shares_rows<'py>(
    py: Python<'py>,
    path: PathBuf,
    rows: &[u8],
    size: &[u8],
    keys: &[u8],
    prose: &[u8],
    at: &[u8],
    a: &[u8],
    b: &[u8],
    num_perm: usize,
    ratio: f64,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let rows = row_numbers(rows)?;
    let (size, at, a, b) = (f64s(size)?, indices(at)?, indices(a)?, indices(b)?);
    let prose: Vec<bool> = prose.iter().map(|&p| p != 0).collect();
    check_width(num_perm)?;
    if rows.len() != size.len() {
        return Err(PyValueError::new_err("one row number per shingle count"));
    }
    let got = guarded(py, || -> io::Result<_> {
        // no rows, no file to read (a store whose passages have no signature has none)
        let shares = |sigs: &[u32]| {
            let pages = Pages {
                sigs,
                size: &size,
                keys,
                prose: &prose,
                at: &at,
                num_perm,
            };
            shares_many(&pages, &a, &b, ratio)
        };
        if rows.is_empty() {
            return Ok(shares(&[]));
        }
        File::open(&path)
            .and_then(|f| with_rows(&f, &rows, num_perm, shares))
            .map_err(in_file(&path))
    })??;
    let (ab, ba) = got.ok_or_else(|| {
        PyValueError::new_err(
            "one 12-byte key and one prose flag per row; page offsets ascending within the rows; \
             page numbers below the pages",
        )
    })?;
    Ok((le_bytes(py, &ab)?, le_bytes(py, &ba)?))
}

/// How many values rows `a[k]` and `b[k]` of `file` share (`num_perm` values a row), for
/// every `k`: both ends read in one [`with_rows`] (a star's head, in many pairs, is read
/// once per span), the counts on the pool's threads.
pub fn equal_counts(file: &File, a: &[u32], b: &[u32], num_perm: usize) -> io::Result<Vec<u32>> {
    let both: Vec<u32> = a.iter().chain(b).copied().collect();
    with_rows(file, &both, num_perm, |sigs| {
        let (sa, sb) = sigs.split_at(a.len() * num_perm);
        let one = |(x, y): (&[u32], &[u32])| equal_count(x, y);
        match pool().filter(|_| a.len() > ROWS_AT_ONCE) {
            Some(p) => p.install(|| {
                sa.par_chunks_exact(num_perm)
                    .zip(sb.par_chunks_exact(num_perm))
                    .map(one)
                    .collect()
            }),
            None => sa
                .chunks_exact(num_perm)
                .zip(sb.chunks_exact(num_perm))
                .map(one)
                .collect(),
        }
    })
}

/// The equal values of candidate pairs: rows `a[k]` and `b[k]` (int32 arrays of one length)
/// of the signature file `path` (`num_perm` uint32 values a row). Returns the counts as
/// uint32 bytes; numpy's `count_nonzero(sa == sb, axis=1)` of the rows, without them.
#[pyfunction]
fn equal_counts_rows<'py>(
    py: Python<'py>,
    path: PathBuf,
    a: &[u8],
    b: &[u8],
    num_perm: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let (a, b) = (row_numbers(a)?, row_numbers(b)?);
    check_width(num_perm)?;
    if a.len() != b.len() {
        return Err(PyValueError::new_err("as many rows on each side"));
    }
    let counts = guarded(py, || -> io::Result<Vec<u32>> {
        if a.is_empty() {
            return Ok(Vec::new());
        }
        File::open(&path)
            .and_then(|f| equal_counts(&f, &a, &b, num_perm))
            .map_err(in_file(&path))
    })??;
    le_bytes(py, &counts)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(prose_shares_rows, m)?)?;
    m.add_function(wrap_pyfunction!(equal_counts_rows, m)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tempdir::Dir;

    /// `values` written as a signature file (little-endian uint32s) in a folder of its own,
    /// opened for reading: the folder (removed when dropped) and the file.
    fn signature_file(values: &[u32]) -> (Dir, File) {
        let dir = Dir::new();
        let path = dir.0.join("sigs");
        std::fs::write(&path, values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
        let file = File::open(&path).unwrap();
        (dir, file)
    }

    #[test]
    fn reads_rows_in_slices_as_one_read_would() {
        let num_perm = 3;
        let n = 3 * ROWS_AT_ONCE + 17;
        let values: Vec<u32> = (0..(n * num_perm) as u32)
            .map(|v| v.wrapping_mul(2_654_435_761))
            .collect();
        let (_dir, file) = signature_file(&values);
        // rows out of order, repeated, across slices
        let rows: Vec<u32> = (0..n as u32).rev().chain([5, 5, 0]).collect();
        let got = with_rows(&file, &rows, num_perm, <[u32]>::to_vec).unwrap();
        for (i, &r) in rows.iter().enumerate() {
            let r = r as usize;
            assert_eq!(
                got[i * num_perm..(i + 1) * num_perm],
                values[r * num_perm..(r + 1) * num_perm]
            );
        }
        assert!(with_rows(&file, &[n as u32], num_perm, |_| ()).is_err()); // past the end
                                                                           // a second read through the same (reused) buffer
        let again = with_rows(&file, &rows[..5], num_perm, <[u32]>::to_vec).unwrap();
        assert_eq!(again, got[..5 * num_perm]);
    }

    #[test]
    fn equal_counts_are_the_pairs_equal_values() {
        let num_perm = 4;
        let n = 2 * ROWS_AT_ONCE + 5;
        // row r holds r % 5 in its first (r % 5) values, 9 after
        let values: Vec<u32> = (0..n)
            .flat_map(|r| (0..num_perm).map(move |i| if i < r % 5 { (r % 5) as u32 } else { 9 }))
            .collect();
        let (_dir, file) = signature_file(&values);
        let a: Vec<u32> = (0..n as u32).collect();
        let b: Vec<u32> = (0..n as u32).rev().collect();
        let got = equal_counts(&file, &a, &b, num_perm).unwrap();
        for (k, (&x, &y)) in a.iter().zip(&b).enumerate() {
            let (rx, ry) = (x as usize * num_perm, y as usize * num_perm);
            let want = (0..num_perm).filter(|&i| values[rx + i] == values[ry + i]).count() as u32;
            assert_eq!(got[k], want);
        }
    }

    #[test]
    fn negative_row_numbers_are_refused() {
        assert!(row_numbers(&(-1i32).to_le_bytes()).is_err());
        assert_eq!(row_numbers(&7i32.to_le_bytes()).ok(), Some(vec![7]));
        assert!(row_numbers(&[0, 0, 0]).is_err());
    }
}

//! `cleaner._native`: the per-document core of cleaner, called from Python through PyO3.
//!
//! What it holds (issue 18): one Unicode table with CPython's semantics (`unicode`), line
//! normalisation and the ftfy gate (`normalise`), the rule patterns (`rules`), the furniture
//! classifier's per-line work (`furniture`), passages and template line keys (`passages`),
//! and folding, shingling, MinHash signatures and exact-duplicate keys (`minhash`). The
//! Python side loads it once (`cleaner.native`) and each module calls it with a document at
//! a time.
//!
//! Every entry point releases the GIL while it works, and a batch large enough to pay for it
//! is spread over a rayon pool. A panic (a bug: no input-dependent path unwraps) is caught at
//! this boundary and raised as `RuntimeError`, an ordinary exception the pipeline reports
//! for the file at hand, instead of pyo3's `PanicException` (a `BaseException`).

pub mod assemble;
pub mod buckets;
pub mod features;
pub mod furniture;
pub mod guards;
pub mod kept_passages;
pub mod minhash;
pub mod normalise;
mod normalise_py;
pub mod passages;
pub mod prose;
pub mod prose_pairs;
pub mod prose_rows;
pub mod region;
pub mod rules;
pub mod rules_build;
pub mod scratch;
pub mod store;
pub mod unicode;
mod unicode_py;
pub mod untemplate;
pub mod writer;

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use rayon::prelude::*;

use minhash::Tables;

/// Below this many bytes of input a batch is processed on the calling thread: handing it to
/// the pool costs more than it saves.
const PARALLEL_BYTES: usize = 1 << 18;

/// The unsegmented-script ranges the fold needs (see `cleaner.dedup.minhash._tables`).
#[pyclass(frozen, name = "Tables", module = "cleaner._native")]
struct PyTables(Tables);

#[pymethods]
impl PyTables {
    /// `unsegmented`: the inclusive code point ranges of unsegmented scripts.
    #[new]
    fn new(unsegmented: Vec<(u32, u32)>) -> PyResult<Self> {
        Tables::new(&unsegmented).map(PyTables).map_err(PyValueError::new_err)
    }
}

pub(crate) fn u32s(b: &[u8]) -> PyResult<Vec<u32>> {
    if !b.len().is_multiple_of(4) {
        return Err(PyValueError::new_err(
            "a uint32 array's byte length must be a multiple of 4",
        ));
    }
    Ok(b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

mod sealed {
    /// Closes [`super::LeNumber`] to the number types it lists.
    pub trait Sealed {}
}

/// The plain number types [`le_bytes`] writes (sealed: only those listed below), each with
/// its little-endian bytes for a big-endian build.
pub(crate) trait LeNumber: Copy + sealed::Sealed {
    /// The number's size in bytes.
    #[cfg_attr(target_endian = "little", allow(dead_code))]
    const SIZE: usize;
    /// Writes the number's little-endian bytes into `out` (`SIZE` bytes long).
    #[cfg_attr(target_endian = "little", allow(dead_code))]
    fn put_le(self, out: &mut [u8]);
}

macro_rules! le_number {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl LeNumber for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline]
            fn put_le(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

le_number!(u8, u32, i32, u64, i64, f64);

/// Numbers as the bytes of a little-endian array (what `np.frombuffer(b, "<u4")` and the
/// like read back): every column the core hands to Python goes through here. On a
/// little-endian machine those are the numbers' bytes in memory, copied into the `bytes`
/// object at once (converting number by number was 4% of the dedup features' instructions,
/// the signatures being most of their output); a big-endian build writes each number's
/// little-endian bytes. A failed allocation is a `MemoryError` (`PyBytes::new` would panic).
pub(crate) fn le_bytes<'py, T: LeNumber>(py: Python<'py>, v: &[T]) -> PyResult<Bound<'py, PyBytes>> {
    #[cfg(target_endian = "little")]
    {
        // SAFETY: `T` is one of the number types `le_number!` lists (the trait is sealed):
        // no padding and every byte initialised, so the `size_of_val(v)` bytes at `v`'s
        // pointer are initialised memory of `v`'s allocation, which `u8` (alignment 1, any
        // bit pattern) may read; on a little-endian target they are the numbers'
        // little-endian bytes; the borrow of `v` outlives the slice (copied at once).
        let bytes = unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) };
        PyBytes::new_with(py, bytes.len(), |buf| {
            buf.copy_from_slice(bytes);
            Ok(())
        })
    }
    #[cfg(not(target_endian = "little"))]
    {
        PyBytes::new_with(py, v.len() * T::SIZE, |buf| {
            for (chunk, &x) in buf.chunks_exact_mut(T::SIZE).zip(v) {
                x.put_le(chunk);
            }
            Ok(())
        })
    }
}

fn u32_bytes<'py>(py: Python<'py>, v: &[u32]) -> PyResult<Bound<'py, PyBytes>> {
    le_bytes(py, v)
}

/// A `str`'s UTF-8 bytes, borrowed when it has no lone surrogates (the usual case); else
/// encoded with `surrogatepass`, which the decoder reads as separators.
pub(crate) fn text_bytes<'a>(s: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, [u8]>> {
    match s.to_str() {
        Ok(t) => Ok(Cow::Borrowed(t.as_bytes())),
        Err(_) => {
            let b = s.call_method1("encode", ("utf-8", "surrogatepass"))?;
            Ok(Cow::Owned(b.cast::<PyBytes>()?.as_bytes().to_vec()))
        }
    }
}

/// A `str` of UTF-8 bytes with lone surrogates in their `surrogatepass` form: what
/// [`text_bytes`] gives, back.
pub(crate) fn py_str<'py>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyString>> {
    match std::str::from_utf8(b) {
        Ok(s) => Ok(PyString::new(py, s)),
        Err(_) => Ok(PyBytes::new(py, b)
            .call_method1("decode", ("utf-8", "surrogatepass"))?
            .cast_into::<PyString>()?),
    }
}

fn texts_bytes<'a>(texts: &'a [Bound<'_, PyString>]) -> PyResult<Vec<Cow<'a, [u8]>>> {
    texts.iter().map(text_bytes).collect()
}

fn check_ngram(ngram: usize, char_ngram: usize) -> PyResult<()> {
    if ngram < 1 || char_ngram < 1 {
        return Err(PyValueError::new_err(format!(
            "shingle sizes must be positive, got ngram={ngram}, char_ngram={char_ngram}"
        )));
    }
    Ok(())
}

/// Runs `f` with the GIL released; a panic becomes a `RuntimeError`.
pub(crate) fn guarded<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    py.detach(|| catch_unwind(AssertUnwindSafe(f))).map_err(panic_error)
}

/// A caught panic as the `RuntimeError` the pipeline reports for the file at hand.
fn panic_error(e: Box<dyn std::any::Any + Send>) -> PyErr {
    PyRuntimeError::new_err(format!("native core failed: {}", panic_message(&*e)))
}

/// Tests' random numbers: Marsaglia's xorshift32 from `seed` (not 0), the same sequence on
/// every run, so that a failing case can be replayed.
#[cfg(test)]
pub(crate) fn xorshift32(mut x: u32) -> impl FnMut() -> u32 {
    move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    }
}

/// A caught panic's message (`panic!` gives a `&str` or a `String`).
pub(crate) fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// [`guarded`] for calls of a few microseconds, which keep the GIL: a call that releases
/// it must take it back, and when another thread of the process holds it by then, the
/// caller waits longer than the call ran (measured with writer threads in the driver: a
/// document's word count took 117 us instead of 20).
pub(crate) fn guarded_short<T>(f: impl FnOnce() -> T) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(panic_error)
}

/// The rayon pool of this process. Worker processes are forked, and a forked child has none
/// of its parent's threads: a pool made before the fork would wait for them forever, so the
/// pool is keyed by process id and a child builds its own (the stale one is leaked, never
/// dropped, since dropping it would signal threads that do not exist).
static POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);

fn pool() -> Option<Arc<rayon::ThreadPool>> {
    // try_lock: a lock held at fork time would otherwise block the child for good
    let mut slot = POOL.try_lock().ok()?;
    let pid = std::process::id();
    if let Some((owner, pool)) = slot.as_ref() {
        if *owner == pid {
            return Some(pool.clone());
        }
    }
    if let Some(stale) = slot.take() {
        std::mem::forget(stale);
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(native_threads())
            .build()
            .ok()?,
    );
    *slot = Some((pid, pool.clone()));
    Some(pool)
}

/// The threads the core works on: `CLEANER_NATIVE_THREADS`, default one per core.
pub(crate) fn native_threads() -> usize {
    std::env::var("CLEANER_NATIVE_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// `items.map(f)`, on the pool when `bytes` of input make it worth it.
fn par_map<T: Sync, R: Send>(items: &[T], bytes: usize, f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    if items.len() > 1 && bytes >= PARALLEL_BYTES {
        if let Some(p) = pool() {
            return p.install(|| items.par_iter().map(&f).collect());
        }
    }
    items.iter().map(f).collect()
}

/// `fold(text)`: case-folded words joined by single spaces.
#[pyfunction]
fn fold(py: Python<'_>, tables: &Bound<'_, PyTables>, text: Bound<'_, PyString>) -> PyResult<String> {
    let t = &tables.get().0;
    let b = text_bytes(&text)?;
    guarded(py, || minhash::fold(&minhash::prepare(&b, t)))
}

/// `[fold(line) for line in text.split("\n")]`, in one pass.
#[pyfunction]
fn fold_lines(py: Python<'_>, tables: &Bound<'_, PyTables>, text: Bound<'_, PyString>) -> PyResult<Vec<String>> {
    let t = &tables.get().0;
    let b = text_bytes(&text)?;
    guarded(py, || minhash::fold_lines(&minhash::prepare(&b, t)))
}

/// Whether the text is shingled by characters (an unsegmented script).
#[pyfunction]
fn is_unsegmented(py: Python<'_>, tables: &Bound<'_, PyTables>, text: Bound<'_, PyString>) -> PyResult<bool> {
    let t = &tables.get().0;
    let b = text_bytes(&text)?;
    guarded(py, || minhash::prepare(&b, t).char_mode)
}

/// Sorted unique shingle hashes of each text, as little-endian uint32 bytes.
#[pyfunction]
fn shingle_hashes_many<'py>(
    py: Python<'py>,
    tables: &Bound<'py, PyTables>,
    texts: Vec<Bound<'py, PyString>>,
    ngram: usize,
    char_ngram: usize,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    check_ngram(ngram, char_ngram)?;
    let t = &tables.get().0;
    let b = texts_bytes(&texts)?;
    let total = b.iter().map(|x| x.len()).sum();
    let out = guarded(py, || {
        par_map(&b, total, |x| {
            minhash::shingles(&minhash::prepare(x, t), ngram, char_ngram)
        })
    })?;
    out.iter().map(|h| u32_bytes(py, h)).collect()
}

/// MinHash signatures of shingle-hash sets: `hashes` holds them one after another (uint32),
/// `lengths` their sizes (uint32, none zero); `a`, `b` the affine32 permutations (uint32).
/// Returns the signatures, row after row (uint32).
#[pyfunction]
fn signatures<'py>(
    py: Python<'py>,
    hashes: &[u8],
    lengths: &[u8],
    a: &[u8],
    b: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let (hashes, lengths, a, b) = (u32s(hashes)?, u32s(lengths)?, u32s(a)?, u32s(b)?);
    if a.len() != b.len() || a.is_empty() {
        return Err(PyValueError::new_err(
            "permutations a and b must be non-empty and of one length",
        ));
    }
    if lengths.contains(&0) || lengths.iter().map(|&n| n as usize).sum::<usize>() != hashes.len() {
        return Err(PyValueError::new_err(
            "lengths must be positive and add up to the number of hashes",
        ));
    }
    let mut spans = Vec::with_capacity(lengths.len());
    let mut pos = 0usize;
    for &n in &lengths {
        spans.push(pos..pos + n as usize);
        pos += n as usize;
    }
    let sigs = guarded(py, || {
        par_map(&spans, 4 * hashes.len() * a.len() / 32, |r| {
            minhash::signature(hashes.get(r.clone()).unwrap_or(&[]), &a, &b)
        })
        .concat()
    })?;
    u32_bytes(py, &sigs)
}

/// The exact-duplicate key (BLAKE2b, 12 bytes) of each text's fold, concatenated.
#[pyfunction]
fn exact_keys<'py>(
    py: Python<'py>,
    tables: &Bound<'py, PyTables>,
    texts: Vec<Bound<'py, PyString>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let t = &tables.get().0;
    let b = texts_bytes(&texts)?;
    let total = b.iter().map(|x| x.len()).sum();
    let keys = guarded(py, || {
        par_map(&b, total, |x| {
            minhash::exact_key(&minhash::fold(&minhash::prepare(x, t)))
        })
    })?;
    Ok(PyBytes::new(py, &keys.concat()))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SOURCE_DIGEST", env!("CLEANER_NATIVE_DIGEST"))?;
    m.add_class::<PyTables>()?;
    m.add_class::<furniture::py::PyFurniture>()?;
    m.add_class::<region::py::PyRegion>()?;
    unicode_py::register(m)?;
    normalise_py::register(m)?;
    m.add_function(wrap_pyfunction!(fold, m)?)?;
    m.add_function(wrap_pyfunction!(fold_lines, m)?)?;
    m.add_function(wrap_pyfunction!(is_unsegmented, m)?)?;
    m.add_function(wrap_pyfunction!(shingle_hashes_many, m)?)?;
    m.add_function(wrap_pyfunction!(signatures, m)?)?;
    m.add_function(wrap_pyfunction!(exact_keys, m)?)?;
    rules::register(m)?;
    rules_build::register(m)?;
    guards::register(m)?;
    passages::register(m)?;
    prose_rows::register(m)?;
    scratch::register(m)?;
    buckets::register(m)?;
    features::register(m)?;
    store::register(m)?;
    assemble::register(m)?;
    untemplate::register(m)?;
    writer::register(m)?;
    kept_passages::register(m)?;
    Ok(())
}

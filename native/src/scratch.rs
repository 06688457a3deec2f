//! Buffers the dedup readers reuse from call to call, one set per thread.
//!
//! The driver's dedup pass reads signatures back a batch at a time (the rows of a batch of
//! LSH candidate pairs, the passages of a batch of page pairs: up to 16 MiB each) hundreds
//! of times. A fresh buffer per batch is above glibc's mmap threshold, which the driver
//! keeps low during dedup so that its large blocks go back to the system
//! (`cleaner.engines.local.large_blocks_returned`): each one was mapped, faulted in a page
//! at a time and unmapped. On a 200 MB crawl that was about 620,000 of the pass's 765,000
//! minor page faults and a second of system CPU. A buffer kept by the thread that reads is
//! faulted in once. [`release`] lets go of the calling thread's buffers when the pass is
//! done; buffers above [`KEEP_BYTES`] are not kept, except by a thread reading LSH bands
//! ([`keeping_bands`]), and such a buffer goes at the thread's next call for one of its
//! kind outside a band pass.

use std::cell::Cell;

/// The largest buffer kept between calls outside a band pass: a batch of 32,768 rows of 128
/// values (16 MiB), read hundreds of times. A band's buffers at 1 GB of input are larger
/// (their sizes: [`keeping_bands`]): kept by whichever thread made them, they lifted the
/// driver's dedup peak (memtree, 1 GB: 534 MiB keeping none, 541 up to 16 MiB, 582 up to
/// 32), so only the band thread keeps them.
pub const KEEP_BYTES: usize = 16 << 20;

thread_local! {
    static WORDS: Cell<Vec<u32>> = const { Cell::new(Vec::new()) };
    static BYTES: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    static WIDE: Cell<Vec<u64>> = const { Cell::new(Vec::new()) };
    static HALVES: Cell<Vec<u16>> = const { Cell::new(Vec::new()) };
    static KEYS: Cell<Vec<u128>> = const { Cell::new(Vec::new()) };
    /// The largest buffer this thread keeps between calls: [`KEEP_BYTES`], or more inside
    /// [`keeping_bands`].
    static KEEP: Cell<usize> = const { Cell::new(KEEP_BYTES) };
}

/// The largest buffer kept inside [`keeping_bands`]: a band of a few tens of millions of
/// passages (12 bytes each, and 8 of sort keys).
pub const BAND_KEEP_BYTES: usize = 1 << 30;

/// Runs `f` with this thread keeping its buffers up to [`BAND_KEEP_BYTES`] between calls,
/// for the LSH band pass (`crate::buckets::band_stars`), whose buffers are the size of a
/// band of every passage (54 MB of values and 36 MB of sort keys at 1 GB of input): made
/// per band, each of the forty bands mapped and faulted them in anew, 750,000 of the 1 GB
/// dedup pass's 1.1 million minor page faults and most of its system CPU. The band pass
/// reads each band on a thread of its own while the driver verifies the band before
/// (`cleaner.dedup.candidates._ahead`). Kept, they raise the pass's peak a little: the
/// sort-key buffer now lives alongside `crate::buckets::grouped_narrow`'s `keyed` (measured
/// +10 MiB, 200 -> 210 MiB RSS peak at 1 GB of input, during the finish). The thread's end,
/// or [`release`] (the pass calls it on every thread after each LSH candidate phase), lets go
/// of them, and so does its next call for a buffer of the same kind outside a band pass.
pub fn keeping_bands<R>(f: impl FnOnce() -> R) -> R {
    /// Puts the thread's limit back when dropped: after `f` returns, and also when it
    /// panics (`crate::guarded` turns the panic into an error and the thread goes on: a
    /// limit left at [`BAND_KEEP_BYTES`] would keep every later buffer of the thread).
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = KEEP.try_with(|k| k.set(self.0));
        }
    }
    let _restore = Restore(KEEP.try_with(|k| k.replace(BAND_KEEP_BYTES)).unwrap_or(KEEP_BYTES));
    f()
}

/// Runs `f` on a buffer of `len` values of this thread's, reused from call to call. Its
/// contents are what an earlier call left (initialised, unspecified): `f` writes what it
/// reads. A nested call on the same thread, or one during the thread's exit, gets a fresh
/// buffer.
pub fn with_words<R>(len: usize, f: impl FnOnce(&mut [u32]) -> R) -> R {
    with(&WORDS, len, f)
}

/// [`with_words`] for 64-bit values.
pub fn with_wide<R>(len: usize, f: impl FnOnce(&mut [u64]) -> R) -> R {
    with(&WIDE, len, f)
}

/// [`with_words`] for 16-bit values (the low halves of a batch's signature values that
/// `crate::prose_pairs::shares_many` prefilters with: 4 MiB for a batch of 16 MiB).
pub fn with_halves<R>(len: usize, f: impl FnOnce(&mut [u16]) -> R) -> R {
    with(&HALVES, len, f)
}

/// [`with_words`] for 128-bit values (a batch's exact keys, `crate::prose::key_words`).
pub fn with_keys<R>(len: usize, f: impl FnOnce(&mut [u128]) -> R) -> R {
    with(&KEYS, len, f)
}

/// [`with_words`] for bytes.
pub fn with_bytes<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    with(&BYTES, len, f)
}

fn with<T: Copy + Default + 'static, R>(
    key: &'static std::thread::LocalKey<Cell<Vec<T>>>,
    len: usize,
    f: impl FnOnce(&mut [T]) -> R,
) -> R {
    let limit = KEEP.try_with(Cell::get).unwrap_or(KEEP_BYTES);
    let size = std::mem::size_of::<T>();
    // taken out while `f` runs: a nested call finds none and makes its own
    let mut buf = if len.saturating_mul(size) <= limit {
        key.try_with(Cell::take).unwrap_or_default()
    } else {
        Vec::new()
    };
    if buf.len() < len {
        buf.resize(len, T::default());
    }
    let got = f(&mut buf[..len]);
    // by the buffer's size, not the call's: a small call that took a band's buffer (kept
    // inside `keeping_bands`) lets go of it
    if buf.capacity().saturating_mul(size) <= limit {
        let _ = key.try_with(|c| c.set(buf));
    }
    got
}

/// Lets go of the calling thread's buffers, and puts its limit back to [`KEEP_BYTES`].
pub fn release() {
    let _ = KEEP.try_with(|k| k.set(KEEP_BYTES));
    let _ = WORDS.try_with(Cell::take);
    let _ = BYTES.try_with(Cell::take);
    let _ = WIDE.try_with(Cell::take);
    let _ = HALVES.try_with(Cell::take);
    let _ = KEYS.try_with(Cell::take);
}

/// `words` as their bytes in memory (native order), for a read that fills them.
pub fn as_bytes_mut(words: &mut [u32]) -> &mut [u8] {
    let len = std::mem::size_of_val(words);
    // SAFETY: the pointer is valid for `len` bytes (the words' own memory) and borrowed
    // mutably for the result's lifetime, so nothing else reads or writes it meanwhile; u8
    // has alignment 1 and every bit pattern is a valid u32, so any bytes written through
    // the view leave valid words.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), len) }
}

/// [`release`] for Python, on the calling thread and on every thread of the core's pool
/// (whose reads of signature rows keep buffers too). The dedup pass calls it after each
/// LSH candidate phase, whose band buffers (tens of MB a thread at 1 GB of input) would
/// otherwise stay through the clustering that follows, and when it is done or fails
/// (`Finder.finish`), so the driver does not hold them through the write pass.
#[pyo3::pyfunction(name = "release_scratch")]
fn release_py(py: pyo3::Python<'_>) {
    py.detach(|| {
        release();
        if let Some(pool) = crate::pool() {
            pool.broadcast(|_| release());
        }
    });
}

pub(crate) fn register(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
    use pyo3::types::PyModuleMethods;
    m.add_function(pyo3::wrap_pyfunction!(release_py, m)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_reused_and_nested_calls_get_their_own() {
        let first = with_words(1000, |b| {
            b.fill(7);
            b.as_ptr() as usize
        });
        let again = with_words(10, |b| {
            assert_eq!(b, &[7; 10]); // what the last call left
            b.as_ptr() as usize
        });
        assert_eq!(first, again);
        with_words(4, |outer| {
            outer.fill(1);
            with_words(4, |inner| {
                inner.fill(2);
                assert_ne!(inner.as_ptr(), outer.as_ptr());
            });
            assert_eq!(outer, &[1; 4]);
        });
        release();
        let big = KEEP_BYTES / 4 + 1;
        with_words(big, |b| assert_eq!(b.len(), big));
        // too large to keep: the next call gets a buffer of its own size
        with_words(3, |b| assert_eq!(b.len(), 3));
        // ... unless the thread keeps a band pass's buffers
        keeping_bands(|| {
            let first = with_words(big, |b| {
                b[big - 1] = 5;
                b.as_ptr() as usize
            });
            let again = with_words(big, |b| {
                assert_eq!(b[big - 1], 5);
                b.as_ptr() as usize
            });
            assert_eq!(first, again);
        });
        assert_eq!(KEEP.with(Cell::get), KEEP_BYTES);
        release();
        with_words(1, |b| assert_eq!(b.len(), 1));
    }

    /// The capacity of this thread's kept buffer of words.
    fn kept_words() -> usize {
        WORDS.with(|c| {
            let buf = c.take();
            let got = buf.capacity();
            c.set(buf);
            got
        })
    }

    #[test]
    fn a_band_buffer_is_dropped_by_the_next_small_call() {
        let big = KEEP_BYTES / 4 + 1;
        keeping_bands(|| with_words(big, |b| b[big - 1] = 5));
        assert!(kept_words() >= big);
        // the small call takes the band's buffer and, outside a band pass, lets go of it
        with_words(3, |b| assert_eq!(b.len(), 3));
        assert!(kept_words() < big);
        with_words(3, |b| assert_eq!(b.len(), 3));
        assert!(kept_words() < big);
        release();
    }

    #[test]
    fn the_limit_is_put_back_after_a_panic_and_by_release() {
        let panicked = std::panic::catch_unwind(|| keeping_bands(|| panic!("in a band")));
        assert!(panicked.is_err());
        assert_eq!(KEEP.with(Cell::get), KEEP_BYTES);
        KEEP.with(|k| k.set(BAND_KEEP_BYTES));
        release();
        assert_eq!(KEEP.with(Cell::get), KEEP_BYTES);
    }

    #[test]
    fn bytes_of_words_are_their_memory() {
        let mut w = [0u32; 2];
        as_bytes_mut(&mut w).copy_from_slice(&[1, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(w.map(u32::from_le), [1, 0x0200_0000]);
    }
}

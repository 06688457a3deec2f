//! Which rows of a block equal another row (`cleaner.dedup.minhash.shared_rows`): the LSH
//! buckets of a band, and the exact duplicates among exact keys.
//!
//! Dedup asks it once per band of every text's signature and once of the exact keys, over
//! every passage of a run (millions of rows). Most rows are unique, so the rows are first
//! narrowed to those whose hash another row has (a sort of `(hash, row)` keys by buckets,
//! [`sort_keys`]), and only those are grouped exactly by their values (a sort on the pool's
//! threads: dedup runs in the driver alone). LSH's star pairs are made here too
//! ([`stars`]), from a block handed over or from a band read from its file
//! ([`band_stars`]). In numpy this was a pass per column for the hash and an argsort, with
//! temporaries of the whole block; the answer is the same, group for group and in the
//! same order.

use std::fs::File;
use std::io;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::slice::ParallelSliceMut;

use crate::store::gather;
use crate::{guarded, le_bytes, pool};

/// The golden-ratio multiplier of Fibonacci hashing.
const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// A 64-bit hash of a row (multiply-xor over its values, then one more multiply and fold).
/// Only a prefilter: equal rows have equal hashes; a collision costs time, never a wrong
/// answer. The final mix matters: the prefilter keeps the hash's high 32 bits, which the
/// last value's xor alone never reaches, so without it every two rows equal but for their
/// last value passed the prefilter together.
fn row_hash(row: &[u32]) -> u64 {
    let mut h = 0u64;
    for &v in row {
        h = h.wrapping_mul(MIX) ^ u64::from(v);
        h ^= h >> 29;
    }
    h = h.wrapping_mul(MIX);
    h ^ (h >> 32)
}

/// The rows of `values` (`k` values a row) that equal another row: `(rows, sizes)`, the
/// row numbers group after group, and each group's size (2 or more). Groups come in the
/// lexicographic order of their values, rows ascending within a group: what a stable
/// sort of every row by its values (column 0 first) would list.
pub fn shared_rows(values: &[u32], k: usize) -> (Vec<i64>, Vec<i64>) {
    shared_rows_by(values, k, row_hash, SMALL_BUCKET..=RADIX_BUCKET)
}

fn shared_rows_by(
    values: &[u32],
    k: usize,
    hash: impl Fn(&[u32]) -> u64 + Sync,
    radix: RangeInclusive<usize>,
) -> (Vec<i64>, Vec<i64>) {
    if k == 0 || values.len() < 2 * k {
        return (Vec::new(), Vec::new());
    }
    let n = values.len() / k;
    let row = |i: u32| &values[i as usize * k..(i as usize + 1) * k];
    // one u64 a row: the hash's high 32 bits above the row number, half the memory of a
    // (hash, row) pair (padded to 16 bytes); the shorter hash only lets a few more unequal
    // rows through to the exact grouping (about n^2 / 2^33 pairs)
    let key = |i: u32| (hash(row(i)) & !0xFFFF_FFFF) | u64::from(i);
    let mut cand: Vec<u32> = Vec::new();
    crate::scratch::with_wide(n, |keyed| {
        let keyed = sort_keys(n, key, keyed, &radix);
        // the rows whose hash another row has
        for run in keyed.chunk_by(|a, b| a >> 32 == b >> 32) {
            if run.len() >= 2 {
                cand.extend(run.iter().map(|&x| x as u32));
            }
        }
    });
    if k <= NARROW {
        return grouped_narrow(&cand, |i| packed(row(i)));
    }
    if k <= PACKED {
        return grouped_packed(&cand, |i| packed(row(i)));
    }
    grouped_by_comparison(&mut cand, row)
}

/// The top bits of a key's hash that choose its bucket ([`sort_keys`]' first pass).
const BUCKET_BITS: u32 = 8;

/// A bucket of [`SMALL_BUCKET`] to this many keys is sorted by
/// [`radix_sort_middle`], with a spare buffer as long as the largest such bucket (2 MiB at
/// most); a larger one (a family of equal rows: one hash) is sorted in place.
const RADIX_BUCKET: usize = 1 << 18;

/// A bucket of fewer keys than this is sorted in place: the radix passes' counts (4,096 a
/// pass) would cost more than the keys.
const SMALL_BUCKET: usize = 1024;

/// The keys `key(0) .. key(n - 1)` (`(hash << 32) | row`, distinct), sorted, in `out` (`n`
/// long), the buckets with a number of keys in `radix` sorted by [`radix_sort_middle`], the
/// others in place: a counting pass over the rows by the top [`BUCKET_BITS`] of the hash, a pass that
/// puts each key in its bucket (in row order), then each bucket sorted by the rest of the
/// hash's bits ([`radix_sort_middle`], stable, so rows stay ascending within equal hashes:
/// the full order of the keys). Returns `out`.
///
/// Why: the keys of every passage of a run (a band's rows, the exact keys) were sorted
/// whole, by a least-significant-digit radix sort needing a second buffer as long as the
/// keys, or past two million rows (a 1 GB run's passages) by a parallel comparison sort in
/// place, to keep that buffer off the dedup pass's peak of memory: that sort was a sixth
/// of the dedup step's CPU at 1 GB (4.5 million keys, 0.11 s a band, forty sorts). Each
/// pass of the radix sort scattered the keys over the whole array, a cache miss a key;
/// here only the bucketing pass does (to 256 places, which stay in cache), and a bucket's
/// passes (18,000 keys at 1 GB) run in the cache, with a spare of a bucket's size, not the
/// array's. The key is computed twice (three multiplications a row) instead of stored.
///
/// From [`PARALLEL_KEYS`] keys the three passes run on the pool's threads
/// ([`sort_keys_parallel`]), with the same result: the band pass of LSH reads and buckets
/// each band on one thread while the driver verifies the band before, and this sort, serial,
/// was that thread's work and the pass's critical path (200 MB crawl: the band thread busy,
/// the other core three-quarters idle for the second the passage bands took).
fn sort_keys<'a>(
    n: usize,
    key: impl Fn(u32) -> u64 + Sync,
    out: &'a mut [u64],
    radix: &RangeInclusive<usize>,
) -> &'a mut [u64] {
    if let Some(p) = pool().filter(|p| n >= PARALLEL_KEYS && p.current_num_threads() > 1) {
        let parts = PARTS_PER_THREAD * p.current_num_threads();
        return p.install(|| sort_keys_parallel(n, &key, out, radix, parts));
    }
    let shift = 64 - BUCKET_BITS;
    let mut count = [0usize; 1 << BUCKET_BITS];
    for i in 0..n as u32 {
        count[(key(i) >> shift) as usize] += 1;
    }
    let mut at = [0usize; 1 << BUCKET_BITS];
    let mut sum = 0;
    for (a, &c) in at.iter_mut().zip(&count) {
        *a = sum;
        sum += c;
    }
    for i in 0..n as u32 {
        let x = key(i);
        let d = (x >> shift) as usize;
        out[at[d]] = x;
        at[d] += 1;
    }
    let longest = count.iter().copied().filter(|c| radix.contains(c)).max().unwrap_or(0);
    let mut spare = vec![0u64; longest];
    let mut start = 0;
    for &c in &count {
        let bucket = &mut out[start..start + c];
        if radix.contains(&c) {
            radix_sort_middle(bucket, &mut spare[..c]);
        } else {
            bucket.sort_unstable();
        }
        start += c;
    }
    &mut out[..n]
}

/// Keys from which [`sort_keys`] runs on the pool: below, a pass is a fraction of a
/// millisecond and the threads' hand-offs would cost about as much.
const PARALLEL_KEYS: usize = 1 << 16;

/// Parts of the rows per pool thread in [`sort_keys_parallel`]'s first two passes: more
/// parts than threads, so a thread slowed down (the driver shares the cores) does not hold
/// the others back.
const PARTS_PER_THREAD: usize = 4;

/// [`sort_keys`] on the current rayon pool: the rows cut into `parts` consecutive parts,
/// each counted by bucket on a thread; each part's keys then go to their own places in
/// their buckets (part after part within a bucket, so each bucket holds its keys in row
/// order, as the serial pass puts them), each part on a thread, through disjoint slices of
/// `out`; then the buckets are sorted on the threads, each as the serial pass sorts it (its
/// spare for the radix passes a buffer of the thread's, [`crate::scratch`]). The same keys
/// in the same places as the serial passes: the sort's result does not depend on the
/// threads.
fn sort_keys_parallel<'a>(
    n: usize,
    key: impl Fn(u32) -> u64 + Sync,
    out: &'a mut [u64],
    radix: &RangeInclusive<usize>,
    parts: usize,
) -> &'a mut [u64] {
    use rayon::prelude::*;

    const BUCKETS: usize = 1 << BUCKET_BITS;
    let shift = 64 - BUCKET_BITS;
    let out = &mut out[..n];
    let step = n.div_ceil(parts.max(1)).max(1);
    let ranges: Vec<std::ops::Range<u32>> = (0..n)
        .step_by(step)
        .map(|lo| lo as u32..(lo + step).min(n) as u32)
        .collect();
    let counts: Vec<[usize; BUCKETS]> = ranges
        .par_iter()
        .map(|r| {
            let mut count = [0usize; BUCKETS];
            for i in r.clone() {
                count[(key(i) >> shift) as usize] += 1;
            }
            count
        })
        .collect();
    // each part's slice of each bucket, bucket after bucket, part after part within one
    let mut places: Vec<Vec<&mut [u64]>> = (0..ranges.len()).map(|_| Vec::with_capacity(BUCKETS)).collect();
    let mut buckets: Vec<usize> = Vec::with_capacity(BUCKETS);
    let mut rest: &mut [u64] = &mut *out;
    for d in 0..BUCKETS {
        let mut total = 0;
        for (part, count) in places.iter_mut().zip(&counts) {
            let (mine, after) = std::mem::take(&mut rest).split_at_mut(count[d]);
            part.push(mine);
            rest = after;
            total += count[d];
        }
        buckets.push(total);
    }
    ranges.par_iter().zip(places.par_iter_mut()).for_each(|(r, slots)| {
        let mut at = [0usize; BUCKETS];
        for i in r.clone() {
            let x = key(i);
            let d = (x >> shift) as usize;
            slots[d][at[d]] = x;
            at[d] += 1;
        }
    });
    drop(places);
    let mut slices: Vec<&mut [u64]> = Vec::with_capacity(BUCKETS);
    let mut rest: &mut [u64] = &mut *out;
    for &c in &buckets {
        let (bucket, after) = std::mem::take(&mut rest).split_at_mut(c);
        slices.push(bucket);
        rest = after;
    }
    slices.into_par_iter().with_max_len(1).for_each(|bucket| {
        let c = bucket.len();
        if radix.contains(&c) {
            crate::scratch::with_wide(c, |spare| radix_sort_middle(bucket, spare));
        } else {
            bucket.sort_unstable();
        }
    });
    out
}

/// `keys` (of one bucket: the same top [`BUCKET_BITS`] bits) sorted by their bits 32 to
/// `64 - BUCKET_BITS`, keys with equal bits in their order before: two stable
/// least-significant-digit passes of 12 bits, through `spare` (as long as `keys`) and back.
fn radix_sort_middle(keys: &mut [u64], spare: &mut [u64]) {
    const DIGIT: u32 = 12;
    const _: () = assert!(32 + 2 * DIGIT == 64 - BUCKET_BITS);
    let mask = (1u64 << DIGIT) - 1;
    for (shift, from_keys) in [(32, true), (32 + DIGIT, false)] {
        let (from, to): (&[u64], &mut [u64]) = if from_keys {
            (&*keys, &mut *spare)
        } else {
            (&*spare, &mut *keys)
        };
        let mut at = [0usize; 1 << DIGIT];
        for &k in from {
            at[((k >> shift) & mask) as usize] += 1;
        }
        let mut sum = 0;
        for a in at.iter_mut() {
            let c = *a;
            *a = sum;
            sum += c;
        }
        for &k in from {
            let d = ((k >> shift) & mask) as usize;
            to[at[d]] = k;
            at[d] += 1;
        }
    }
}

/// The groups of equal rows among `cand` (rows of any length, read by `row`), by a
/// comparison sort of the rows themselves: the general way, and the oracle of
/// [`grouped_packed`] in the tests.
fn grouped_by_comparison<'a>(cand: &mut [u32], row: impl Fn(u32) -> &'a [u32]) -> (Vec<i64>, Vec<i64>) {
    cand.sort_unstable_by(|&a, &b| row(a).cmp(row(b)).then(a.cmp(&b)));
    let mut rows = Vec::new();
    let mut sizes = Vec::new();
    for group in cand.chunk_by(|&a, &b| row(a) == row(b)) {
        if group.len() >= 2 {
            rows.extend(group.iter().map(|&i| i64::from(i)));
            sizes.push(group.len() as i64);
        }
    }
    (rows, sizes)
}

/// Rows of at most this many values are grouped by one 128-bit key each ([`packed`]).
const PACKED: usize = 4;

/// A row of at most [`PACKED`] values as one number whose order is the row's
/// lexicographic order among rows of its length (column 0 in the highest bits).
fn packed(row: &[u32]) -> u128 {
    row.iter().fold(0u128, |key, &v| (key << 32) | u128::from(v))
}

/// Rows of at most this many values are grouped by [`grouped_narrow`]: a band of 3 values,
/// an exact key of 12 bytes.
const NARROW: usize = 3;

/// [`grouped_packed`] of rows of at most [`NARROW`] values: the row number fits below the
/// 96-bit key in one 128-bit number, so the sort moves 16 bytes a row instead of a padded
/// 32-byte pair and compares one number (the same order: key, then row).
fn grouped_narrow(cand: &[u32], key: impl Fn(u32) -> u128 + Sync) -> (Vec<i64>, Vec<i64>) {
    let mut keyed: Vec<u128> = cand.iter().map(|&i| (key(i) << 32) | u128::from(i)).collect();
    match pool().filter(|_| keyed.len() >= 1 << 16) {
        Some(p) => p.install(|| keyed.par_sort_unstable()),
        None => keyed.sort_unstable(),
    }
    let mut rows = Vec::new();
    let mut sizes = Vec::new();
    for group in keyed.chunk_by(|a, b| a >> 32 == b >> 32) {
        if group.len() >= 2 {
            rows.extend(group.iter().map(|&x| i64::from(x as u32)));
            sizes.push(group.len() as i64);
        }
    }
    (rows, sizes)
}

/// The groups of equal rows among `cand` (rows with a shared hash), by their [`packed`]
/// keys: `(key, row)` pairs sorted (on the pool's threads when there are many) and cut where
/// the key changes, so the groups come in value order with rows ascending, as the
/// comparison sort gives them. Why: a band has 3 values a row, and the comparison sort
/// of the candidate rows read two rows elsewhere in the block per comparison, a cache miss
/// or two each: on a 200 MB crawl that sort was most of LSH's CPU (0.1 s a band, 37 bands of
/// 844,000 passages, a quarter of a million candidates each).
fn grouped_packed(cand: &[u32], key: impl Fn(u32) -> u128 + Sync) -> (Vec<i64>, Vec<i64>) {
    let mut keyed: Vec<(u128, u32)> = cand.iter().map(|&i| (key(i), i)).collect();
    match pool().filter(|_| keyed.len() >= 1 << 16) {
        Some(p) => p.install(|| keyed.par_sort_unstable()),
        None => keyed.sort_unstable(),
    }
    let mut rows = Vec::new();
    let mut sizes = Vec::new();
    for group in keyed.chunk_by(|a, b| a.0 == b.0) {
        if group.len() >= 2 {
            rows.extend(group.iter().map(|&(_, i)| i64::from(i)));
            sizes.push(group.len() as i64);
        }
    }
    (rows, sizes)
}

/// [`shared_rows`] of a C-contiguous uint32 array (`k` values a row), read where it is;
/// returns the int64 bytes of `rows` and of `sizes`.
///
/// Read in place, not handed over as bytes: the block is every passage's band (or exact
/// key) at the dedup pass's peak of memory, and its bytes and their decoded copy were two
/// more blocks of that size (12 bytes a passage each, a hundred MB on a 1 GB crawl).
#[pyfunction(name = "shared_rows")]
fn shared_rows_py<'py>(py: Python<'py>, values: PyBuffer<u32>, k: usize) -> PyResult<ColumnBytes<'py>> {
    on_block(py, &values, k, shared_rows)
}

/// Two int64 columns ([`shared_rows`]' rows and sizes, [`stars`]' heads and members).
type Columns = (Vec<i64>, Vec<i64>);
/// [`Columns`] as Python bytes (little-endian).
type ColumnBytes<'py> = (Bound<'py, PyBytes>, Bound<'py, PyBytes>);

/// `f` of a block of rows read where it is ([`block`]), with the GIL released; its two
/// int64 columns as bytes.
fn on_block<'py>(
    py: Python<'py>,
    values: &PyBuffer<u32>,
    k: usize,
    f: fn(&[u32], usize) -> Columns,
) -> PyResult<ColumnBytes<'py>> {
    let data = block(values, k)?;
    let (a, b) = guarded(py, || f(data, k))?;
    Ok((le_bytes(py, &a)?, le_bytes(py, &b)?))
}

/// The candidate pairs of one band as stars (`cleaner.dedup.minhash.bucket_stars`): for
/// every group of equal rows ([`shared_rows`], in its order), the group's first row paired
/// with each of the others, as `(head, member)`.
pub fn stars(values: &[u32], k: usize) -> (Vec<i64>, Vec<i64>) {
    let (rows, sizes) = shared_rows(values, k);
    let pairs = rows.len() - sizes.len();
    let (mut head, mut member) = (Vec::with_capacity(pairs), Vec::with_capacity(pairs));
    let mut at = 0;
    for &size in &sizes {
        let group = &rows[at..at + size as usize];
        for &m in &group[1..] {
            head.push(group[0]);
            member.push(m);
        }
        at += group.len();
    }
    (head, member)
}

/// A block of rows of `k` values each, read where it is (see [`shared_rows_py`]).
fn block(values: &PyBuffer<u32>, k: usize) -> PyResult<&[u32]> {
    let Some(at) = values.as_slice_ptr() else {
        return Err(PyValueError::new_err("a C-contiguous uint32 array"));
    };
    // SAFETY: the buffer stays exported (so allocated and in place) while `values` lives,
    // which outlives the returned slice, and the caller's array is not written while the
    // core reads it (dedup's blocks are read-only from their making on)
    let data: &[u32] = unsafe { at.as_ref() };
    if k == 0 || !data.len().is_multiple_of(k) || data.len() / k >= u32::MAX as usize {
        return Err(PyValueError::new_err(
            "a block of rows of k > 0 values each, fewer than 2**32 rows",
        ));
    }
    Ok(data)
}

/// [`stars`] of a C-contiguous uint32 array (`k` values a row), read where it is; returns
/// the int64 bytes of `head` and of `member`.
#[pyfunction(name = "bucket_stars")]
fn bucket_stars_py<'py>(py: Python<'py>, values: PyBuffer<u32>, k: usize) -> PyResult<ColumnBytes<'py>> {
    on_block(py, &values, k, stars)
}

/// [`stars`] of one band read from its file (`k` little-endian uint32 values a row, as
/// `PassageStore` writes a band): rows `rows` (a C-contiguous int32 array, read where it
/// is: at 1 GB of input it is 18 MB, and its bytes and their decoded copy were two more) in
/// that order, read into a buffer of the thread's (see [`crate::scratch`]).
///
/// Why here and not a block handed over from Python: a band of every passage is a block of
/// 12 bytes a passage (11 MB on a 200 MB crawl, 54 MB at 1 GB), read once per band; as a
/// fresh bytearray each band it was mapped and faulted in anew (a quarter of the dedup
/// pass's page faults), and the block only went on to this function.
#[pyfunction]
fn band_stars<'py>(py: Python<'py>, path: PathBuf, rows: PyBuffer<i32>, k: usize) -> PyResult<ColumnBytes<'py>> {
    let Some(at) = rows.as_slice_ptr() else {
        return Err(PyValueError::new_err("a C-contiguous int32 array of row numbers"));
    };
    // SAFETY: as in `block`: the buffer stays exported while `rows` lives (to the end of
    // this call), and the store's row numbers are not written while the core reads them
    let signed: &[i32] = unsafe { at.as_ref() };
    if signed.iter().any(|&r| r < 0) {
        return Err(PyValueError::new_err(
            "a negative row number (a passage without a signature)",
        ));
    }
    // SAFETY: i32 and u32 have one size and alignment and every bit pattern is valid for
    // both; the numbers are not negative (checked above), so each reads as the same number
    let rows: &[u32] = unsafe { std::slice::from_raw_parts(signed.as_ptr().cast::<u32>(), signed.len()) };
    if k == 0 || 4 * k as u64 > crate::store::SPAN_BYTES {
        return Err(PyValueError::new_err("rows of 1 to 262,144 values"));
    }
    let (head, member) = guarded(py, || -> io::Result<_> {
        if rows.len() < 2 {
            return Ok((Vec::new(), Vec::new()));
        }
        let file = File::open(&path)?;
        // the band's values and sort keys kept from band to band (see scratch::keeping_bands)
        crate::scratch::keeping_bands(|| {
            crate::scratch::with_words(rows.len() * k, |values| {
                gather(&file, 4 * k, rows, crate::scratch::as_bytes_mut(values))?;
                for v in values.iter_mut() {
                    *v = u32::from_le(*v); // the file's order; nothing to do on little-endian
                }
                Ok(stars(values, k))
            })
        })
    })?
    .map_err(|e| io::Error::new(e.kind(), format!("band file {}: {e}", path.display())))?;
    Ok((le_bytes(py, &head)?, le_bytes(py, &member)?))
}

/// Connected components of the graph of the edges `a[i] - b[i]` (any integers as nodes):
/// `(members, offsets)`, the members of each component of two or more nodes ascending,
/// component after component in the order of their smallest members; component `k` is
/// `members[offsets[k]..offsets[k + 1]]` (`cleaner.dedup.clusters.component_arrays`).
///
/// A union-find whose root is always the smallest node of its set (the larger root is
/// linked under the smaller), with path halving: time about linear in the edges. In numpy,
/// label propagation took a pass over every edge per round, and rounds grew with the
/// clusters' spans (0.03 s on a 200 MB crawl's passage edges, 0.5 s at 1 GB).
pub fn components(a: &[i64], b: &[i64]) -> Result<(Vec<i64>, Vec<i64>), &'static str> {
    let mut nodes: Vec<i64> = a.iter().chain(b).copied().collect();
    match pool() {
        Some(p) => p.install(|| nodes.par_sort_unstable()),
        None => nodes.sort_unstable(),
    }
    nodes.dedup();
    if nodes.len() >= u32::MAX as usize {
        return Err("fewer than 2**32 nodes");
    }
    let at = |x: i64| nodes.binary_search(&x).map_or(0, |i| i as u32); // every end is in `nodes`
    let mut parent: Vec<u32> = (0..nodes.len() as u32).collect();
    let find = |parent: &mut Vec<u32>, mut x: u32| {
        while parent[x as usize] != x {
            let up = parent[parent[x as usize] as usize];
            parent[x as usize] = up;
            x = up;
        }
        x
    };
    for (&x, &y) in a.iter().zip(b) {
        let (rx, ry) = (find(&mut parent, at(x)), find(&mut parent, at(y)));
        if rx != ry {
            let (lo, hi) = if rx < ry { (rx, ry) } else { (ry, rx) };
            parent[hi as usize] = lo;
        }
    }
    // roots in node order: a node's root is never after it, so it is final when reached
    let mut count = vec![0u32; nodes.len()];
    for i in 0..nodes.len() {
        let r = parent[parent[i] as usize];
        parent[i] = r;
        count[r as usize] += 1;
    }
    let mut start = vec![0usize; nodes.len()];
    let mut offsets = vec![0i64];
    let mut total = 0usize;
    for (r, &c) in count.iter().enumerate() {
        if c >= 2 {
            start[r] = total;
            total += c as usize;
            offsets.push(total as i64);
        }
    }
    let mut members = vec![0i64; total];
    for (i, &node) in nodes.iter().enumerate() {
        let r = parent[i] as usize;
        if count[r] >= 2 {
            members[start[r]] = node;
            start[r] += 1;
        }
    }
    Ok((members, offsets))
}

/// [`components`] of a C-contiguous `(m, 2)` int64 array of edges, read where it is;
/// returns the int64 bytes of `members` and of `offsets`.
#[pyfunction(name = "components")]
fn components_py<'py>(py: Python<'py>, edges: PyBuffer<i64>) -> PyResult<ColumnBytes<'py>> {
    let Some(at) = edges.as_slice_ptr() else {
        return Err(PyValueError::new_err("a C-contiguous int64 array of edges"));
    };
    // SAFETY: as in `block`: the buffer stays exported while `edges` lives (to the end of
    // this call), and the caller's edges are not written while the core reads them
    let flat: &[i64] = unsafe { at.as_ref() };
    if !flat.len().is_multiple_of(2) {
        return Err(PyValueError::new_err("an (m, 2) array of edges"));
    }
    let (a, b): (Vec<i64>, Vec<i64>) = flat.chunks_exact(2).map(|e| (e[0], e[1])).unzip();
    let (members, offsets) = guarded(py, || components(&a, &b))?.map_err(PyValueError::new_err)?;
    Ok((le_bytes(py, &members)?, le_bytes(py, &offsets)?))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(shared_rows_py, m)?)?;
    m.add_function(wrap_pyfunction!(bucket_stars_py, m)?)?;
    m.add_function(wrap_pyfunction!(band_stars, m)?)?;
    m.add_function(wrap_pyfunction!(components_py, m)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_in_value_order_rows_ascending() {
        // rows: 0 (5,1) 1 (2,9) 2 (5,1) 3 (7,7) 4 (2,9) 5 (5,1) 6 (2,8)
        let v = [5, 1, 2, 9, 5, 1, 7, 7, 2, 9, 5, 1, 2, 8];
        assert_eq!(shared_rows(&v, 2), (vec![1, 4, 0, 2, 5], vec![2, 3]));
        assert_eq!(shared_rows(&[1, 2, 3], 1), (vec![], vec![]));
        assert_eq!(shared_rows(&[4], 1), (vec![], vec![]));
    }

    /// The comparison sort of every candidate, whatever the row length: the oracle of
    /// the packed grouping of short rows.
    fn by_comparison(values: &[u32], k: usize) -> (Vec<i64>, Vec<i64>) {
        let n = values.len() / k;
        let mut cand: Vec<u32> = (0..n as u32).collect();
        grouped_by_comparison(&mut cand, |i: u32| &values[i as usize * k..(i as usize + 1) * k])
    }

    #[test]
    fn packed_rows_group_as_the_comparison_sort() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for k in 1..=PACKED + 1 {
            // values with the high bit set and small ones, few distinct: many equal rows;
            // enough rows for the pool's sort
            let n = 70_000;
            let v: Vec<u32> = (0..k * n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    [0, 1, 7, u32::MAX, 0x8000_0000][(state % 5) as usize]
                })
                .collect();
            let got = shared_rows(&v, k);
            assert!(!got.1.is_empty());
            assert_eq!(got, by_comparison(&v, k), "k = {k}");
        }
    }

    /// `len` values below `modulo` from a xorshift generator seeded with `seed`: few
    /// distinct values, so many rows are equal.
    fn random_values(mut state: u64, len: usize, modulo: u64) -> Vec<u32> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % modulo) as u32
            })
            .collect()
    }

    /// No bucket size is sorted by the radix passes: every bucket is sorted in place.
    #[allow(clippy::reversed_empty_ranges)]
    const NEVER_RADIX: RangeInclusive<usize> = 1..=0;

    #[test]
    fn the_prefilter_sees_every_value_of_a_row() {
        // the prefilter keeps a hash's high 32 bits: rows that differ in their last value
        // only (or one-value rows) must not all share them
        for make in [|x: u32| vec![5, 7, x], |x: u32| vec![x]] {
            let tops: std::collections::HashSet<u64> = (0..1000u32).map(|x| row_hash(&make(x)) >> 32).collect();
            assert!(tops.len() > 990, "{}", tops.len());
        }
    }

    #[test]
    fn buckets_sorted_either_way_group_the_same() {
        // every bucket by the radix passes, or every one in place: the same groups
        let v = random_values(0x9E37_79B9_7F4A_7C15, 3 * 70_000, 40);
        let radix = shared_rows_by(&v, 3, row_hash, 0..=usize::MAX);
        assert!(!radix.1.is_empty());
        assert_eq!(shared_rows_by(&v, 3, row_hash, NEVER_RADIX), radix);
        assert_eq!(shared_rows(&v, 3), radix);
        assert_eq!(radix, by_comparison(&v, 3));
    }

    #[test]
    fn stars_pair_each_group_s_first_row_with_the_others() {
        // rows: 0 (5,1) 1 (2,9) 2 (5,1) 3 (7,7) 4 (2,9) 5 (5,1) 6 (2,8)
        let v = [5, 1, 2, 9, 5, 1, 7, 7, 2, 9, 5, 1, 2, 8];
        assert_eq!(stars(&v, 2), (vec![1, 0, 0], vec![4, 2, 5]));
        assert_eq!(stars(&[1, 2, 3], 1), (vec![], vec![]));
    }

    #[test]
    fn the_bucket_sort_is_the_sort_of_the_keys() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for n in [0usize, 1, 2, 300, 70_000] {
            // hashes from a few values (runs of equal ones, one bucket) or anything; the
            // buckets by the radix passes, in place, or as shared_rows chooses
            for spread in [3u64, u64::MAX] {
                let hashes: Vec<u64> = (0..n)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state % spread).rotate_right(7)
                    })
                    .collect();
                let key = |i: u32| (hashes[i as usize] & !0xFFFF_FFFF) | u64::from(i);
                let mut want: Vec<u64> = (0..n as u32).map(key).collect();
                want.sort_unstable();
                for radix in [0..=usize::MAX, NEVER_RADIX, SMALL_BUCKET..=RADIX_BUCKET] {
                    let mut out = vec![0u64; n];
                    assert_eq!(sort_keys(n, key, &mut out, &radix), &want[..], "n = {n}, {radix:?}");
                }
            }
        }
    }

    #[test]
    fn the_parallel_bucket_sort_puts_every_key_where_the_serial_one_does() {
        // any number of parts (one, fewer rows than parts, many), on a pool of threads; hashes
        // with few distinct values (a bucket of equal hashes: row order must hold) or any
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let mut state = 0x1234_5678_9ABC_DEF1u64;
        for n in [0usize, 1, 5, 3000, 100_000] {
            for spread in [5u64, u64::MAX] {
                let hashes: Vec<u64> = (0..n)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state % spread).rotate_right(9)
                    })
                    .collect();
                let key = |i: u32| (hashes[i as usize] & !0xFFFF_FFFF) | u64::from(i);
                let mut want: Vec<u64> = (0..n as u32).map(key).collect();
                want.sort_unstable();
                for parts in [1, 2, 7, 64] {
                    for radix in [0..=usize::MAX, NEVER_RADIX, 100..=RADIX_BUCKET] {
                        let mut out = vec![u64::MAX; n + 3]; // longer than n: only n written
                        let got = pool.install(|| sort_keys_parallel(n, key, &mut out, &radix, parts));
                        assert_eq!(got, &want[..], "n = {n}, parts = {parts}, {radix:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_hash_that_always_collides_changes_nothing() {
        let v = random_values(0x2545_F491_4F6C_DD1D, 3 * 400, 4);
        let real = shared_rows(&v, 3);
        assert!(!real.1.is_empty());
        assert_eq!(shared_rows_by(&v, 3, |_| 7, 0..=usize::MAX), real);
        assert_eq!(shared_rows_by(&v, 3, |_| 7, NEVER_RADIX), real);
    }

    /// Components by repeated relaxation (every node takes the smallest node it is linked
    /// to, until nothing changes): the oracle of the union-find.
    fn components_by_relaxation(a: &[i64], b: &[i64]) -> (Vec<i64>, Vec<i64>) {
        let mut label: std::collections::BTreeMap<i64, i64> = a.iter().chain(b).map(|&x| (x, x)).collect();
        loop {
            let mut changed = false;
            for (&x, &y) in a.iter().zip(b) {
                let low = label[&x].min(label[&y]);
                for z in [x, y] {
                    if label[&z] > low {
                        label.insert(z, low);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let mut groups: std::collections::BTreeMap<i64, Vec<i64>> = std::collections::BTreeMap::new();
        for (&x, &l) in &label {
            groups.entry(l).or_default().push(x);
        }
        let (mut members, mut offsets) = (Vec::new(), vec![0i64]);
        for g in groups.values().filter(|g| g.len() >= 2) {
            members.extend(g);
            offsets.push(members.len() as i64);
        }
        (members, offsets)
    }

    #[test]
    fn components_are_those_of_relaxation() {
        assert_eq!(components(&[], &[]), Ok((vec![], vec![0])));
        assert_eq!(components(&[4], &[4]), Ok((vec![], vec![0]))); // a loop alone: no component
        assert_eq!(
            components(&[9, -3, 2], &[2, 7, 9]),
            Ok((vec![-3, 7, 2, 9], vec![0, 2, 4]))
        );
        let mut next = crate::xorshift32(0x1357_9BDF);
        for (m, spread) in [(10usize, 8u32), (300, 50), (3000, 400), (5000, 100_000)] {
            // few nodes (one big component, long chains) to many (small ones)
            let a: Vec<i64> = (0..m).map(|_| i64::from(next() % spread)).collect();
            let b: Vec<i64> = (0..m).map(|_| i64::from(next() % spread)).collect();
            assert_eq!(components(&a, &b), Ok(components_by_relaxation(&a, &b)), "m = {m}");
        }
        // a path in descending order: the worst order for relaxation's rounds
        let a: Vec<i64> = (1..2000).rev().collect();
        let b: Vec<i64> = (0..1999).rev().collect();
        let (members, offsets) = components(&a, &b).unwrap();
        assert_eq!((members, offsets), ((0..2000).collect(), vec![0, 2000]));
    }
}

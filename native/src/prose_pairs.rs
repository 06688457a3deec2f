//! The share of each page's prose inside the other page, for many page pairs at once
//! (`cleaner.dedup.finder.Finder._prose_shares`).
//!
//! Dedup asks it of thousands of page pairs (a copy inside a much longer page, whether two
//! pages that repeat a line are one story or two): one call per pair from Python cost a
//! call's overhead and two signature reads per pair, and ran on one core while the driver
//! had two. Here the pairs a step needs are handed over together, with the passages of
//! every page they name, and compared on the pool's threads with the GIL released; each
//! pair's answer is the float the per-pair numpy gave, bit for bit (the per-passage shares
//! of [`crate::prose::best_inside`], then numpy's sums: see [`numpy_sum`]).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::pool;
use crate::prose::{best_inside, key_words, low_halves, Side};

/// The passages of the pages of a batch: page `p` owns rows `at[p]..at[p + 1]` of `sigs`
/// (`num_perm` values a row), `size` (shingle counts), `keys` (12-byte exact keys) and
/// `prose` (whether the passage is part of the prose its page is sketched by). Only the
/// passages that have a signature are given.
pub struct Pages<'a> {
    pub sigs: &'a [u32],
    pub size: &'a [f64],
    pub keys: &'a [u8],
    pub prose: &'a [bool],
    pub at: &'a [usize],
    pub num_perm: usize,
}

impl Pages<'_> {
    /// Whether the columns and offsets agree (checked once, so that the comparisons index
    /// within bounds).
    fn valid(&self) -> bool {
        let rows = self.size.len();
        self.num_perm > 0
            && self.sigs.len() == rows * self.num_perm
            && self.keys.len() == 12 * rows
            && self.prose.len() == rows
            && !self.at.is_empty()
            && self.at.windows(2).all(|w| w[0] <= w[1])
            && self.at.last().is_some_and(|&end| end <= rows)
    }

    fn rows(&self, p: usize) -> std::ops::Range<usize> {
        self.at[p]..self.at[p + 1]
    }
}

/// `a.sum()` of a contiguous float64 array, as numpy computes it: a pairwise sum with
/// eight accumulators in blocks of up to 128 values, halves (rounded down to a multiple of
/// eight) above that, added to the reduction's initial 0. The order of the additions makes
/// the last bits of the float, and a share decides against a threshold and is reported.
pub fn numpy_sum(a: &[f64]) -> f64 {
    0.0 + pairwise(a)
}

fn pairwise(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let whole = n - n % 8;
        for block in a[8..whole].chunks_exact(8) {
            for (acc, &x) in r.iter_mut().zip(block) {
                *acc += x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[whole..] {
            res += x;
        }
        res
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise(&a[..half]) + pairwise(&a[half..])
    }
}

/// The share of one page's prose shingles inside the other page: its prose passages'
/// shingle counts weighted by their shares `inside`, over their total (`NaN` when the page
/// has no prose passage, 0 when the other page has no passage to hold it).
fn found(prose: &[bool], size: &[f64], inside: &[f64], other: usize) -> f64 {
    if !prose.contains(&true) {
        return f64::NAN;
    }
    if other == 0 {
        return 0.0;
    }
    let mine = || {
        prose
            .iter()
            .zip(size.iter().zip(inside))
            .filter(|(&p, _)| p)
            .map(|(_, v)| v)
    };
    let held: Vec<f64> = mine().map(|(&n, &share)| n * share).collect();
    let total: Vec<f64> = mine().map(|(&n, _)| n).collect();
    numpy_sum(&held) / numpy_sum(&total).max(1.0)
}

/// `(a in b, b in a)`: the share of page `a`'s prose inside page `b`, and of `b`'s inside
/// `a`, from one comparison of their passages (`NaN` for a page without prose passages).
/// A passage counts its largest share inside one passage of the other page of comparable
/// size (`ratio`), 1 when the other page has its exact key ([`best_inside`]).
///
/// `low` and `keys` are every row's [`low_halves`] and [`key_words`] (see [`Side`]).
fn shares(pages: &Pages<'_>, low: &[u16], keys: &[u128], a: usize, b: usize, ratio: f64) -> (f64, f64) {
    let (ra, rb) = (pages.rows(a), pages.rows(b));
    let (pa, pb) = (&pages.prose[ra.clone()], &pages.prose[rb.clone()]);
    if !pa.contains(&true) && !pb.contains(&true) {
        return (f64::NAN, f64::NAN);
    }
    let np = pages.num_perm;
    let (na, nb) = (&pages.size[ra.clone()], &pages.size[rb.clone()]);
    let (in_b, in_a) = if ra.is_empty() || rb.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let side = |r: &std::ops::Range<usize>, size| Side {
            sigs: &pages.sigs[r.start * np..r.end * np],
            low: &low[r.start * np..r.end * np],
            size,
            keys: Some(&keys[r.clone()]),
        };
        best_inside(&side(&ra, na), &side(&rb, nb), np, ratio)
    };
    (found(pa, na, &in_b, rb.len()), found(pb, nb, &in_a, ra.len()))
}

/// [`shares`] of every pair `(a[k], b[k])`, on the pool's threads when there are several.
/// `None` when the pages are not valid or a pair names a page that is not there.
pub fn shares_many(pages: &Pages<'_>, a: &[usize], b: &[usize], ratio: f64) -> Option<(Vec<f64>, Vec<f64>)> {
    let n = pages.at.len().saturating_sub(1);
    if !pages.valid() || a.len() != b.len() || a.iter().chain(b).any(|&p| p >= n) {
        return None;
    }
    // the halves and keys in buffers of the calling thread's, reused from batch to batch
    let got = crate::scratch::with_halves(pages.sigs.len(), |low| {
        low_halves(pages.sigs, low);
        crate::scratch::with_keys(pages.size.len(), |keys| {
            // valid: a key per row
            key_words(pages.keys, keys).then(|| {
                let (low, keys) = (&*low, &*keys);
                let one = |(&x, &y): (&usize, &usize)| shares(pages, low, keys, x, y, ratio);
                match pool().filter(|_| a.len() > 1) {
                    // one pair at a time: pairs differ a thousandfold in cost (pages of 3
                    // passages or of 300), so the pool's work stealing balances them, not
                    // fixed chunks
                    Some(p) => p.install(|| a.par_iter().zip(b).with_max_len(1).map(one).collect::<Vec<_>>()),
                    None => a.iter().zip(b).map(one).collect(),
                }
            })
        })
    })?;
    Some(got.into_iter().unzip())
}

pub(crate) fn f64s(b: &[u8]) -> PyResult<Vec<f64>> {
    if !b.len().is_multiple_of(8) {
        return Err(PyValueError::new_err(
            "a float64 array's byte length must be a multiple of 8",
        ));
    }
    Ok(b.chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect())
}

pub(crate) fn indices(b: &[u8]) -> PyResult<Vec<usize>> {
    if !b.len().is_multiple_of(8) {
        return Err(PyValueError::new_err(
            "an int64 array's byte length must be a multiple of 8",
        ));
    }
    b.chunks_exact(8)
        .map(|c| {
            let v = i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            usize::try_from(v).map_err(|_| PyValueError::new_err("offsets and page numbers are not negative"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_sums_in_blocks_of_eight_and_halves() {
        assert_eq!(numpy_sum(&[]), 0.0);
        assert_eq!(numpy_sum(&[1.5, 2.0]), 3.5);
        // 1e16 + 1 + 1 + ...: a left-to-right sum loses every 1; numpy's eight accumulators
        // hold seven of them in the lanes that do not start at 1e16
        let mut v = vec![1.0; 16];
        v[0] = 1e16;
        assert_eq!(numpy_sum(&v), 1e16 + 14.0);
        let big: Vec<f64> = (0..1000).map(|k| f64::from(k) * 0.1).collect();
        let halves = pairwise(&big[..496]) + pairwise(&big[496..]);
        assert_eq!(numpy_sum(&big), halves);
    }

    #[test]
    fn a_page_inside_another_and_pages_without_prose() {
        // page 0: two prose passages (sizes 10 and 30); page 1: a copy of the first only;
        // page 2: no prose passage
        let sigs = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 9, 9, 9, 9];
        let size = [10.0, 30.0, 10.0, 12.0];
        let keys = [[0u8; 12], [1u8; 12], [2u8; 12], [3u8; 12]].concat();
        let prose = [true, true, true, false];
        let at = [0, 2, 3, 4, 4];
        let pages = Pages {
            sigs: &sigs,
            size: &size,
            keys: &keys,
            prose: &prose,
            at: &at,
            num_perm: 4,
        };
        let (ab, ba) = shares_many(&pages, &[0, 1, 2, 0], &[1, 0, 1, 3], 2.0).unwrap_or_default();
        assert_eq!((ab[0], ba[0]), (10.0 / 40.0, 1.0));
        assert_eq!((ab[1], ba[1]), (1.0, 10.0 / 40.0));
        assert!(ab[2].is_nan() && ba[2] == 0.0);
        // page 3 has no passage: page 0 has nothing of itself in it, and it has no prose
        assert!(ab[3] == 0.0 && ba[3].is_nan());
    }

    #[test]
    fn a_batch_after_a_larger_one_reuses_its_buffers_and_gets_its_own_answers() {
        // the halves and keys of a batch are in buffers kept from the batch before: what
        // the larger batch left (its values, unlike the small batch's, all distinct and
        // above 100, so a stale half matches nothing) must not count
        let mut next = crate::xorshift32(77);
        let num_perm = 8;
        let page = |rows: usize, next: &mut dyn FnMut() -> u32| -> (Vec<u32>, Vec<f64>, Vec<u8>) {
            let sigs = (0..rows * num_perm).map(|_| next() % 5).collect();
            let size = (0..rows).map(|_| f64::from(1 + next() % 40)).collect();
            let keys = (0..12 * rows).map(|_| (next() % 3) as u8).collect();
            (sigs, size, keys)
        };
        let ask = |(sigs, size, keys): &(Vec<u32>, Vec<f64>, Vec<u8>), at: &[usize], a: &[usize], b: &[usize]| {
            let prose = vec![true; size.len()];
            let pages = Pages {
                sigs,
                size,
                keys,
                prose: &prose,
                at,
                num_perm,
            };
            shares_many(&pages, a, b, 3.0).unwrap_or_default()
        };
        let mut big = page(60, &mut next);
        big.0 = (0..60 * num_perm as u32).map(|v| 100 + v).collect();
        let mut small = page(9, &mut next);
        // page 0 is one passage whose exact key page 1's sixth row has: all of it inside
        small.2[..12].fill(9);
        small.2[5 * 12..6 * 12].fill(9);
        small.1[5] = small.1[0];
        let at = [0, 1, 9];
        crate::scratch::release();
        let fresh = ask(&small, &at, &[0, 1], &[1, 0]);
        let _ = ask(&big, &[0, 30, 60], &[0], &[1]);
        let again = ask(&small, &at, &[0, 1], &[1, 0]);
        assert_eq!(fresh, again);
        assert_eq!(fresh.0[0], 1.0);
        assert!(fresh.0[1] > 0.0);
    }

    #[test]
    fn bad_offsets_and_pages_are_refused() {
        let sigs = [1, 2];
        let size = [3.0];
        let keys = [0u8; 12];
        let prose = [true];
        let at = [0, 2];
        let pages = Pages {
            sigs: &sigs,
            size: &size,
            keys: &keys,
            prose: &prose,
            at: &at,
            num_perm: 2,
        };
        assert!(shares_many(&pages, &[0], &[0], 2.0).is_none());
        let at = [0, 1];
        let pages = Pages { at: &at, ..pages };
        assert!(shares_many(&pages, &[0], &[1], 2.0).is_none());
        assert!(shares_many(&pages, &[0], &[0], 2.0).is_some());
    }
}

//! How much of one page's prose passages lies inside another page's passages, by their
//! MinHash signatures (`cleaner.dedup.finder.Finder._prose_shares`, through
//! [`crate::prose_pairs`], which hands it the pages of many pairs at once).
//!
//! Dedup asks this of page pairs that the document signatures cannot decide: a copy inside
//! a much longer page, and whether two pages that repeat a line are one story or two (a
//! site's wrapper). Each call compares every prose passage of one page with every passage
//! of the other, all `num_perm` values of both signatures: in numpy a three-dimensional
//! comparison array and a Python loop over blocks of it, about a millisecond a pair, which
//! the wrapper test of a site of hundreds of pages paid thousands of times. The arithmetic
//! is numpy's, operation for operation, so the shares are the same floats.

/// For each passage `x` of one page (`x`: its signatures and shingle counts `na`): the
/// largest share of its shingles inside one passage `y` of the other page (`y`, counts
/// `nb`), among the passages of comparable size
/// (`nb <= ratio * na`: a passage's Jaccard with one many times its size is too small for
/// the signature to measure), 0 when there is none; and the same for each passage `y`
/// inside the first page. Both ways at once: the wrapper test asks both, and the equal
/// values of a pair are counted once.
///
/// The share is the containment estimated from the Jaccard estimate `j` (equal values over
/// `num_perm`) and the exact shingle counts: `min(1, j (na + nb) / (1 + j) / max(1, na))`.
/// Each [`Side`] holds its signatures row after row (`num_perm` values each).
///
/// Every pair is compared, value by value: a search of each value in sorted columns of the
/// other page's values was slower for pages of up to a hundred passages, which is most
/// pages, and only twice as fast at three hundred. The count is what costs (the wrapper
/// test of a 200 MB crawl compares 180 million pairs), so it is compiled for AVX2 too and
/// that build runs when the processor has it (eight lanes instead of SSE2's four: 64 ns a
/// pair of 128 values became about 30); the arithmetic on the count is the same either way
/// (AVX2 does not enable fused multiply-add, and Rust never contracts without it). An
/// AVX-512 build was tried: 1.7x faster alone, no gain in a 1 GB run's dedup (measured).
///
/// With the passages' exact keys (both sides'), a passage whose key the other page has is
/// wholly inside it (share 1), whatever the sizes.
pub fn best_inside(x: &Side<'_>, y: &Side<'_>, num_perm: usize, ratio: f64) -> (Vec<f64>, Vec<f64>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `best_inside_avx2` only differs from `best_inside_with` in being compiled
        // for AVX2, and the processor running this has AVX2 (checked just above), which is
        // the one requirement of calling a `#[target_feature(enable = "avx2")]` function.
        return unsafe { best_inside_avx2(x, y, num_perm, ratio) };
    }
    best_inside_with(x, y, num_perm, ratio)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn best_inside_avx2(x: &Side<'_>, y: &Side<'_>, num_perm: usize, ratio: f64) -> (Vec<f64>, Vec<f64>) {
    best_inside_with(x, y, num_perm, ratio)
}

/// One page's passages as [`best_inside`] reads them: the signatures (`num_perm` values a
/// row), their [`low_halves`], the shingle counts, and the exact keys ([`key_words`]; none:
/// not compared).
///
/// Why the halves and keys are the caller's: a page is compared with many others (a site's
/// first page with each of its other pages, in the wrapper test), and made per comparison
/// they were a tenth of [`best_inside`]'s time; `crate::prose_pairs::shares_many` makes
/// them once for every page of its batch.
pub struct Side<'a> {
    pub sigs: &'a [u32],
    pub low: &'a [u16],
    pub size: &'a [f64],
    pub keys: Option<&'a [u128]>,
}

/// Each 12-byte exact key of `k` as one integer in `out`, so that a pair's keys compare in
/// one instruction (false, `out` untouched, unless `k` holds `out.len()` keys). Into the
/// caller's buffer: a batch's keys are a few hundred KiB, above the driver's mmap threshold
/// during dedup, and a fresh vector per batch was mapped and faulted in every time.
pub fn key_words(k: &[u8], out: &mut [u128]) -> bool {
    if k.len() != 12 * out.len() {
        return false;
    }
    for (w, c) in out.iter_mut().zip(k.chunks_exact(12)) {
        let mut b = [0u8; 16];
        b[..12].copy_from_slice(c);
        *w = u128::from_le_bytes(b);
    }
    true
}

/// How many values of `x` and `y` (of one length) are equal: the compiler turns it into
/// vector compares and adds (eight lanes with AVX2, four without).
#[inline(always)]
pub(crate) fn equal_count(x: &[u32], y: &[u32]) -> u32 {
    x.iter().zip(y).map(|(a, b)| u32::from(a == b)).sum()
}

/// The signature length dedup uses (`num_perm` 128): a fixed length is unrolled whole, the
/// row of one page held in registers while the other page's rows stream past.
const PERM: usize = 128;

/// Whether any value of `x` equals the one at its place in `y` (of one length): sixteen
/// lanes a vector with AVX2, and no count to add up.
#[inline(always)]
fn any_equal(x: &[u16], y: &[u16]) -> bool {
    if let (Ok(x), Ok(y)) = (<&[u16; PERM]>::try_from(x), <&[u16; PERM]>::try_from(y)) {
        return x.iter().zip(y).fold(0u16, |acc, (a, b)| acc | u16::from(a == b)) != 0;
    }
    x.iter().zip(y).fold(0u16, |acc, (a, b)| acc | u16::from(a == b)) != 0
}

/// The low 16 bits of each value of `s`, into `out` (as long): two values that differ
/// there differ, so a pair of signatures with no equal low half has no equal value (most
/// pairs of passages of two different stories), found in half the vector work of the
/// count. Into the caller's buffer: a batch's halves are 4 MiB, and a fresh vector per
/// batch (88 batches on a 200 MB crawl) was mapped and faulted in a page at a time, half
/// the dedup pass's minor faults (see `crate::scratch`).
pub fn low_halves(s: &[u32], out: &mut [u16]) {
    for (h, &v) in out.iter_mut().zip(s) {
        *h = v as u16;
    }
}

#[inline(always)]
fn best_inside_with(x: &Side<'_>, y: &Side<'_>, num_perm: usize, ratio: f64) -> (Vec<f64>, Vec<f64>) {
    let (na, nb) = (x.size, y.size);
    let mut in_y = vec![0.0f64; na.len()];
    let mut in_x = vec![0.0f64; nb.len()];
    if num_perm == 0 {
        return (in_y, in_x);
    }
    let keys = x.keys.zip(y.keys);
    let rows_x = x
        .sigs
        .chunks_exact(num_perm)
        .zip(x.low.chunks_exact(num_perm))
        .zip(na)
        .zip(in_y.iter_mut());
    for (i, (((x, hx), &a), best_x)) in rows_x.enumerate() {
        let rows_y = y
            .sigs
            .chunks_exact(num_perm)
            .zip(y.low.chunks_exact(num_perm))
            .zip(nb)
            .zip(in_x.iter_mut());
        for (k, (((y, hy), &b), best_y)) in rows_y.enumerate() {
            if keys.as_ref().is_some_and(|(kx, ky)| kx[i] == ky[k]) {
                *best_x = 1.0;
                *best_y = 1.0;
                continue;
            }
            let x_fits = b <= ratio * a; // sizes are counts: never NaN
            let y_fits = a <= ratio * b;
            if !x_fits && !y_fits {
                continue;
            }
            // no equal value: a share of 0, never above the best so far (which starts at 0)
            if !any_equal(hx, hy) {
                continue;
            }
            let equal = equal_count(x, y);
            if equal == 0 {
                continue;
            }
            let j = f64::from(equal) / num_perm as f64;
            if x_fits {
                let inside = (j * (a + b) / (1.0 + j) / a.max(1.0)).min(1.0);
                if inside > *best_x {
                    *best_x = inside;
                }
            }
            if y_fits {
                let inside = (j * (b + a) / (1.0 + j) / b.max(1.0)).min(1.0);
                if inside > *best_y {
                    *best_y = inside;
                }
            }
        }
    }
    (in_y, in_x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `build` (best_inside or one of its builds) of two pages given as slices: signatures,
    /// shingle counts and exact keys (12 bytes each, or empty: none).
    #[allow(clippy::too_many_arguments)]
    fn with_pages(
        build: impl Fn(&Side<'_>, &Side<'_>, usize, f64) -> (Vec<f64>, Vec<f64>),
        sx: &[u32],
        na: &[f64],
        kx: &[u8],
        sy: &[u32],
        nb: &[f64],
        ky: &[u8],
        num_perm: usize,
        ratio: f64,
    ) -> (Vec<f64>, Vec<f64>) {
        let (mut lx, mut ly) = (vec![0u16; sx.len()], vec![0u16; sy.len()]);
        low_halves(sx, &mut lx);
        low_halves(sy, &mut ly);
        let words = |k: &[u8], n: usize| {
            let mut w = vec![0u128; n];
            key_words(k, &mut w).then_some(w)
        };
        let (wx, wy) = (words(kx, na.len()), words(ky, nb.len()));
        let x = Side {
            sigs: sx,
            low: &lx,
            size: na,
            keys: wx.as_deref(),
        };
        let y = Side {
            sigs: sy,
            low: &ly,
            size: nb,
            keys: wy.as_deref(),
        };
        build(&x, &y, num_perm, ratio)
    }

    #[allow(clippy::too_many_arguments)]
    fn inside(
        sx: &[u32],
        na: &[f64],
        kx: &[u8],
        sy: &[u32],
        nb: &[f64],
        ky: &[u8],
        num_perm: usize,
        ratio: f64,
    ) -> (Vec<f64>, Vec<f64>) {
        with_pages(best_inside, sx, na, kx, sy, nb, ky, num_perm, ratio)
    }

    #[test]
    fn a_copy_is_all_inside_and_a_stranger_nothing() {
        let x = [1, 2, 3, 4];
        let y = [1, 2, 3, 4, 9, 9, 9, 9];
        let out = inside(&x, &[10.0], &[], &y, &[10.0, 10.0], &[], 4, 2.0);
        assert_eq!(out, (vec![1.0], vec![1.0, 0.0]));
        let out = inside(&x, &[10.0], &[], &[5, 6, 7, 8], &[10.0], &[], 4, 2.0);
        assert_eq!(out, (vec![0.0], vec![0.0]));
    }

    #[test]
    fn a_passage_many_times_larger_is_not_compared() {
        let x = [1, 2, 3, 4];
        let out = inside(&x, &[10.0], &[], &x, &[30.0], &[], 4, 2.0);
        assert_eq!(out.0, vec![0.0]);
        // the small passage is compared inside the large one, not the large one inside it
        let out = inside(&x, &[10.0], &[], &x, &[20.0], &[], 4, 2.0);
        assert_eq!(out, (vec![1.0], vec![30.0 / 2.0 / 20.0]));
    }

    #[test]
    fn an_equal_key_is_wholly_inside_whatever_the_sizes() {
        let (kx, ky) = ([7u8; 12], [[7u8; 12], [8u8; 12]].concat());
        let out = inside(
            &[1, 2, 3, 4],
            &[10.0],
            &kx,
            &[5, 6, 7, 8, 9, 9, 9, 9],
            &[50.0, 10.0],
            &ky,
            4,
            2.0,
        );
        assert_eq!(out, (vec![1.0], vec![1.0, 0.0]));
    }

    #[test]
    fn the_vector_builds_give_the_same_shares() {
        // pages of 37 and 23 passages with values from a small range (so pairs share some),
        // a few equal keys, and a num_perm that is not a multiple of the vector width
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for num_perm in [128usize, 45] {
            let (nx, ny) = (37, 23);
            let sx: Vec<u32> = (0..nx * num_perm).map(|_| next(6) as u32).collect();
            let sy: Vec<u32> = (0..ny * num_perm).map(|_| next(6) as u32).collect();
            let na: Vec<f64> = (0..nx).map(|_| (1 + next(90)) as f64).collect();
            let nb: Vec<f64> = (0..ny).map(|_| (1 + next(90)) as f64).collect();
            let kx: Vec<u8> = (0..12 * nx).map(|_| next(2) as u8).collect();
            let ky: Vec<u8> = (0..12 * ny).map(|_| next(2) as u8).collect();
            let got = inside(&sx, &na, &kx, &sy, &nb, &ky, num_perm, 3.0);
            let plain = with_pages(best_inside_with, &sx, &na, &kx, &sy, &nb, &ky, num_perm, 3.0);
            assert_eq!(got, plain);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the processor has AVX2 (checked just above)
                let avx2 = |x: &Side<'_>, y: &Side<'_>, n, r| unsafe { best_inside_avx2(x, y, n, r) };
                assert_eq!(with_pages(avx2, &sx, &na, &kx, &sy, &nb, &ky, num_perm, 3.0), plain);
            }
            assert!(got.0.iter().any(|&v| v > 0.0 && v < 1.0));
        }
    }

    #[test]
    fn values_equal_in_their_low_half_only_are_not_equal() {
        // the low 16 bits prefilter the pairs; the count is of whole values, at the
        // signature length dedup uses and at another
        for num_perm in [PERM, 4] {
            let x: Vec<u32> = (0..num_perm as u32).map(|k| 0x1_0000 | k).collect();
            let mut y: Vec<u32> = (0..num_perm as u32).map(|k| 0x2_0000 | k).collect();
            let out = inside(&x, &[10.0], &[], &y, &[10.0], &[], num_perm, 2.0);
            assert_eq!(out, (vec![0.0], vec![0.0]));
            y[..num_perm / 2].copy_from_slice(&x[..num_perm / 2]);
            let half = 0.5 * 20.0 / 1.5 / 10.0;
            let out = inside(&x, &[10.0], &[], &y, &[10.0], &[], num_perm, 2.0);
            assert_eq!(out, (vec![half], vec![half]));
        }
    }

    #[test]
    fn half_the_values_estimate_the_containment() {
        // j = 0.5 with sizes 10 and 10: |A∩B| = 0.5 * 20 / 1.5, over 10
        let out = inside(&[1, 2, 3, 4], &[10.0], &[], &[1, 2, 7, 8], &[10.0], &[], 4, 2.0);
        assert_eq!(out, (vec![0.5 * 20.0 / 1.5 / 10.0], vec![0.5 * 20.0 / 1.5 / 10.0]));
    }
}

"""MinHash signatures of web text, equal to datasketch's, computed by the native core.

Folding, shingling, shingle hashing, the signatures and the exact-duplicate keys are done by
``cleaner._native`` (Rust, ``native/``): a batch of texts goes in one call, with the GIL
released, on a rayon pool when the batch is large. This module is its thin Python face: it
calls the core (loaded by :mod:`cleaner.native`, whose Unicode tables are the interpreter's,
so it folds exactly as ``str.casefold`` and ``unicodedata.category`` do), builds
datasketch's permutations (numpy's seeded generator, draw for draw), and turns the
core's bytes into numpy arrays. The LSH side (bands, buckets, candidate pairs) is numpy.

What the core computes (the definitions, unchanged since ``MINHASH_VERSION`` 1):

* **fold**: casefold, delete format characters (category Cf: soft hyphens, zero-width
  joiners), every other character that is not a letter, mark or number is a separator;
  the words are joined by single spaces;
* **tokens**: the words, or for a text in an unsegmented script (:func:`is_unsegmented`)
  each word character on its own; a word's hash is ``fmix64(sum_j cp_j * Q**j + len * K)``
  (murmur3's 64-bit finaliser, wrapping arithmetic);
* **shingles**: ``ngram`` consecutive tokens (``char_ngram`` in char mode), hashed as the top
  32 bits of ``fmix64`` of ``acc = acc * P + h`` over their token hashes (:func:`shingle_hash`
  is the plain-Python definition, and datasketch's ``hashfunc`` in :func:`to_minhash`);
* **signatures**: datasketch 2.x's default ``affine32`` scheme (murmur3 ``fmix32`` pre-mix,
  then ``a*h + b mod 2**32`` with datasketch's own seeded ``a`` and ``b``), minimum per
  permutation.

The signatures are exactly what ``datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)``
computes for the same shingles (the tests check it, with datasketch as the oracle), so they
can be handed to ``MinHashLSH`` as they are and compared with sketches made by any other
datasketch user who shingles the same way.

A text with fewer words than one shingle has *no* shingles and so *no* signature: the
empty signature (all 2**32-1) would be shared by every short text and put them all in one
cluster. :func:`shingle_hashes` returns an empty array for such texts and
:func:`signatures` refuses it; callers compare short texts exactly instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from ..native import core as _native
from ..scripts import UNSEGMENTED_RANGES

if TYPE_CHECKING:  # datasketch is imported lazily: workers that only shingle never load scipy
    from datasketch import LeanMinHash, MinHash

__all__ = [
    "MINHASH_VERSION", "SCHEME", "band_keys", "datasketch_band_key", "exact_jaccard", "exact_keys", "fold",
    "fold_lines", "folded_shingle_hashes", "is_unsegmented", "iter_shingles", "jaccard", "lsh_error_rates",
    "lsh_params", "permutations", "shingle_hash", "shingle_hashes", "shingle_hashes_many", "signatures",
    "to_lean", "to_minhash",
]

#: datasketch's permutation scheme these signatures belong to (recorded by indexes).
SCHEME = "affine32"
#: Bump whenever folding, shingling or hashing changes in a way that could change a signature:
#: persistent indexes record it and refuse to mix sketches made by different versions.
MINHASH_VERSION = "1"

_M64 = (1 << 64) - 1

# Code point classes (the core's; tests read them). Separators become spaces; "drop"
# characters (format controls such as the soft hyphen and zero-width joiners, category Cf)
# are deleted so that they cannot split a word; the remaining word characters are letters,
# marks and numbers (categories L, M, N: unlike the regex ``\w``, marks are included, so
# Devanagari or Thai vowel signs do not cut words in two). Unsegmented word characters
# belong to scripts written without spaces.
_SEP, _WORD, _UNSEG, _DROP = 0, 1, 2, 3

# Scripts written without spaces between words: one definition for cleaning and dedup.
_UNSEGMENTED_RANGES = UNSEGMENTED_RANGES

# Word hash: h(w) = fmix64(sum_j cp_j * Q**j + len(w) * K) mod 2**64 (see shingle_hash).
_Q = 0x9E3779B97F4A7C15
_K = 0xD6E8FEB86659FD93
# Shingle hash: acc = acc * P + h(word) over the n words, then the top 32 bits of fmix64(acc).
_P = 0x100000001B3  # FNV-64 prime: odd, so each step is a bijection of acc


# --------------------------------------------------------------------------- tables


@lru_cache(maxsize=1)
def _tables() -> _native.Tables:
    """The core's class table: each code point's class from the core's Unicode tables
    (:mod:`cleaner.unicode`: the interpreter's ``unicodedata`` and ``str.casefold``, embedded
    or installed at import) and the unsegmented scripts' ranges. Built once per process in
    the core (a few ms; forked workers inherit it). Why the interpreter's Unicode and not a
    Rust crate's: the fold must be ``str.casefold`` and the classes ``unicodedata``'s
    exactly, or a signature would depend on which of two Unicode versions a character was
    assigned in."""
    return _native.Tables(list(_UNSEGMENTED_RANGES))


# --------------------------------------------------------------------------- mixing

_S33, _F64A, _F64B = np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)


def _fmix64(h: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finaliser (a bijection), vectorised: band keys (:func:`band_keys`)."""
    h = h ^ (h >> _S33)
    h *= _F64A
    h ^= h >> _S33
    h *= _F64B
    h ^= h >> _S33
    return h


def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M64
    return h ^ (h >> 33)


# --------------------------------------------------------------------------- folding


def fold(text: str) -> str:
    """Case and punctuation folded text: what shingles see.

    Casefold, delete format characters (soft hyphens, zero-width joiners), turn every other
    character that is not a letter, mark or number into a space, collapse runs of spaces and
    strip. Republishers change quotes, dashes, capitalisation and spacing; none of that should
    make two copies of a text look different.
    """
    return _native.fold(_tables(), text)


def fold_lines(text: str) -> list[str]:
    """``[fold(line) for line in text.split("\n")]``, folded in one pass: a newline is a
    separator, so ``" ".join`` of the non-empty ones is the fold of the whole text."""
    return _native.fold_lines(_tables(), text)


def is_unsegmented(text: str) -> bool:
    """True when at least 30% of the text's letters are in a script written without spaces
    between words (CJK, kana, Thai, Lao, Khmer, Myanmar).

    For such text a "word" is a whole clause, so word n-grams would be nearly all distinct
    and useless; character n-grams are used instead. The share is counted in letters, and
    one ideograph carries about as much as a whole Latin word of ~5 letters, so 30% of the
    letters is already most of the *words*: a Chinese article quoting English names stays
    Chinese. Text with no letters at all is not unsegmented. (Korean is written with spaces
    and is not unsegmented.)
    """
    return _native.is_unsegmented(_tables(), text)


def exact_keys(texts: Sequence[str]) -> bytes:
    """The exact-duplicate key of each text, 12 bytes each, concatenated: BLAKE2b
    (``digest_size=12``) of the UTF-8 of its :func:`fold`. Copies that differ only in case,
    punctuation or spacing share a key."""
    return _native.exact_keys(_tables(), list(texts))


# --------------------------------------------------------------------------- shingles


def _check_ngram(ngram: int, char_ngram: int) -> None:
    if ngram < 1 or char_ngram < 1:
        raise ValueError(f"shingle sizes must be positive, got ngram={ngram}, char_ngram={char_ngram}")


_U32 = np.dtype("<u4")


def _u32(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=_U32).astype(np.uint32, copy=False)


def shingle_hashes(text: str, ngram: int = 5, char_ngram: int = 5) -> np.ndarray:
    """Sorted unique uint32 hashes of the folded text's shingles: word ``ngram``-grams, or
    character ``char_ngram``-grams (spaces left out) for unsegmented scripts.

    A text with fewer tokens than one shingle has *no* shingles and gets an empty array, not
    a shorter shingle: callers treat it as too short and compare it exactly, because any
    signature given to it (empty or padded) would match every other short text.

    Each value equals ``shingle_hash(s)`` for a shingle ``s`` of :func:`iter_shingles`. The
    array is read-only.
    """
    return shingle_hashes_many([text], ngram, char_ngram)[0]


def folded_shingle_hashes(text: str, ngram: int = 5, char_ngram: int = 5) -> tuple[str, np.ndarray]:
    """``(fold(text), shingle_hashes(text, ngram, char_ngram))``."""
    return fold(text), shingle_hashes(text, ngram, char_ngram)


def shingle_hashes_many(texts: Sequence[str], ngram: int = 5, char_ngram: int = 5) -> list[np.ndarray]:
    """``[shingle_hashes(t, ngram, char_ngram) for t in texts]``, in one call to the core
    (spread over its threads when the batch is large). The arrays are read-only."""
    _check_ngram(ngram, char_ngram)
    return [_u32(b) for b in _native.shingle_hashes_many(_tables(), list(texts), ngram, char_ngram)]


def _word_hash_int(word: str) -> int:
    acc = 0
    q = 1
    for ch in word:
        acc = (acc + ord(ch) * q) & _M64
        q = (q * _Q) & _M64
    return _fmix64_int((acc + len(word) * _K) & _M64)


def shingle_hash(shingle_words: Sequence[str]) -> int:
    """The 32-bit hash of one shingle, a sequence of folded words (or of characters, for
    unsegmented scripts), in plain Python.

    The definition the core computes in bulk, one shingle at a time: it is datasketch's
    ``hashfunc`` in :func:`to_minhash`, so ``MinHash(hashfunc=shingle_hash)`` updated with
    the shingles of :func:`iter_shingles` reproduces cleaner's signatures.
    """
    acc = 0
    for word in shingle_words:
        acc = (acc * _P + _word_hash_int(word)) & _M64
    return _fmix64_int(acc) >> 32


def iter_shingles(text: str, ngram: int = 5, char_ngram: int = 5) -> list[tuple[str, ...]]:
    """The shingles themselves, in text order with repeats (slow reference path, for tests
    and for explaining a match to a person)."""
    _check_ngram(ngram, char_ngram)
    folded = fold(text)
    if is_unsegmented(folded):
        tokens, n = list(folded.replace(" ", "")), char_ngram
    else:
        tokens, n = folded.split(), ngram
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


# --------------------------------------------------------------------------- signatures


@lru_cache(maxsize=32)
def _permutation_matrix(num_perm: int, seed: int) -> np.ndarray:
    if num_perm < 1:
        raise ValueError("num_perm must be positive")
    gen = np.random.RandomState(seed)
    # datasketch.MinHash._init_permutations for the affine32 scheme, draw for draw
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    ab = np.array([a, b])
    ab.setflags(write=False)
    return ab


@lru_cache(maxsize=32)
def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters ``(a, b)`` for ``(num_perm, seed)``
    (read-only uint32 arrays, cached: every signature of a run shares them)."""
    ab = _permutation_matrix(num_perm, seed)
    return ab[0], ab[1]


@lru_cache(maxsize=32)
def _permutation_bytes(num_perm: int, seed: int) -> tuple[bytes, bytes]:
    a, b = permutations(num_perm, seed)
    return a.astype(_U32).tobytes(), b.astype(_U32).tobytes()


def _as_hashes(x: np.ndarray, i: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"hash array {i} must be one-dimensional, got shape {arr.shape}")
    if not len(arr):
        raise ValueError(f"hash array {i} is empty: a text without shingles has no signature "
                         "(compare it exactly instead)")
    if arr.dtype != np.uint32:
        if arr.dtype.kind not in "iu" or int(arr.min()) < 0 or int(arr.max()) > 0xFFFFFFFF:
            raise ValueError(f"hash array {i} must hold 32-bit unsigned hashes, got {arr.dtype}")
        arr = arr.astype(np.uint32)
    return arr


def signatures(hash_arrays: Sequence[np.ndarray], num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """MinHash signatures, shape ``(len(hash_arrays), num_perm)`` uint32, of many shingle-hash
    arrays at once (one row per array).

    Row ``i`` equals ``datasketch.MinHash(num_perm, seed, hashfunc=lambda h: h)`` after
    ``update_batch(hash_arrays[i])``: affine32's fmix32 pre-mix, ``a*h + b mod 2**32``, min.

    Raises ``ValueError`` for an empty array rather than returning datasketch's "empty"
    signature (all 2**32-1): every short text would share that signature and land in one
    near-duplicate cluster. Values must fit in 32 bits (as for datasketch's affine32).
    """
    if isinstance(hash_arrays, np.ndarray) and hash_arrays.ndim == 1:
        raise TypeError("signatures() takes a list of hash arrays; wrap a single array in a list")
    a, b = _permutation_bytes(num_perm, seed)
    arrays = [_as_hashes(x, i) for i, x in enumerate(hash_arrays)]
    if not arrays:
        return np.empty((0, num_perm), dtype=np.uint32)
    flat = np.concatenate(arrays).astype(_U32, copy=False).tobytes()
    lengths = np.array([len(x) for x in arrays], dtype=_U32).tobytes()
    return _u32(_native.signatures(flat, lengths, a, b)).reshape(len(arrays), num_perm)


def to_minhash(sig: np.ndarray, seed: int = 1) -> MinHash:
    """A datasketch ``MinHash`` holding signature ``sig`` (affine32, sharing the cached
    permutations), for datasketch APIs that want a full MinHash (to merge, or update).

    Its ``hashfunc`` is :func:`shingle_hash`, so ``update(shingle)`` with a shingle of
    :func:`iter_shingles` extends it exactly as if the shingle had been in the text. The
    hash values are copied: updating it never changes ``sig``."""
    from datasketch import MinHash

    return MinHash(seed=seed, hashfunc=shingle_hash, hashvalues=np.asarray(sig, dtype=np.uint32),
                   permutations=_permutation_matrix(len(sig), seed), scheme=SCHEME)


def to_lean(sig: np.ndarray, seed: int = 1) -> LeanMinHash:
    """A datasketch ``LeanMinHash`` holding ``sig``: what ``MinHashLSH.insert``/``query``
    need, without permutations, and serialisable with datasketch's own byte format."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=seed, hashvalues=np.asarray(sig, dtype=np.uint32), scheme=SCHEME)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity estimated from two signatures: the share of equal positions (what
    ``MinHash.jaccard`` returns)."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"signatures of different shapes: {np.shape(a)} and {np.shape(b)}")
    return float(np.count_nonzero(np.asarray(a) == np.asarray(b))) / len(a)


def exact_jaccard(h1: np.ndarray, h2: np.ndarray) -> float:
    """Exact Jaccard similarity of two shingle-hash sets (up to 32-bit hash collisions).

    Two texts without shingles get 0.0, not 1.0: having no shingles is no evidence that
    texts are alike, and short texts are compared exactly elsewhere.
    """
    h1, h2 = _unique(h1), _unique(h2)
    inter = len(np.intersect1d(h1, h2, assume_unique=True))
    union = len(h1) + len(h2) - inter
    return inter / union if union else 0.0


def _unique(h: np.ndarray) -> np.ndarray:
    h = np.asarray(h)
    if len(h) > 1 and not bool(np.all(h[1:] > h[:-1])):  # shingle_hashes output is already unique
        h = np.unique(h)
    return h


# --------------------------------------------------------------------------- LSH


#: The shape of what :func:`_gauss_legendre` keeps in the user's cache (bump when that changes).
_RULES_FORMAT = 1


def _rules_key() -> str:
    """What a kept rule was derived from: numpy's ``leggauss`` (its eigenvalue solver) of
    this numpy version; another version's rules are worked out again."""
    return f"{_RULES_FORMAT}:numpy {np.__version__}"


def _rule_file(n: int) -> str:
    """The cache file of the ``n``-point rule. numpy's version is in the name, not only in
    the key: two environments sharing one cache (two virtualenvs, one home) keep a file
    each, instead of each replacing the other's on every run."""
    return f"gauss-legendre-{n}.numpy-{np.__version__}.json"


def _kept_rule(entry: object, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A kept ``[nodes, weights]`` entry as arrays, or None unless it is a rule to trust:
    ``n`` finite floats each, the nodes strictly increasing inside (0, 1), the weights
    positive and summing to 1 (the interval's length) within 1e-12, and integrating every
    power ``s**k`` up to ``k = 2n - 1`` to ``1 / (k + 1)`` within 1e-12, which only the
    ``n``-point Gauss-Legendre rule does. The file is only checked JSON: anything else in it
    (a bit flipped, another program's file) would change every banding and error rate
    without a word. (The check costs a few hundredths of a millisecond for the rules of
    128 permutations, against a millisecond or more to solve for the rule.)"""
    if not (isinstance(entry, list) and len(entry) == 2
            and all(isinstance(col, list) and len(col) == n and all(type(v) is float for v in col) for col in entry)):
        return None
    x, w = (np.array(col, dtype=np.float64) for col in entry)
    if not (np.isfinite(x).all() and np.isfinite(w).all()):
        return None
    if not (n > 0 and x[0] > 0.0 and x[-1] < 1.0 and bool(np.all(np.diff(x) > 0.0))):
        return None
    if not (bool(np.all(w > 0.0)) and abs(float(w.sum()) - 1.0) <= 1e-12):
        return None
    moments = w @ np.vander(x, 2 * n, increasing=True)
    if not bool(np.all(np.abs(moments - 1.0 / np.arange(1, 2 * n + 1)) <= 1e-12)):
        return None
    return x, w


@lru_cache(maxsize=512)
def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the ``n``-point Gauss-Legendre rule on [0, 1]. Kept for every
    ``n`` met (one per banding size ``b * r``, up to ``num_perm / 2``; a few KB each): each
    costs an eigenvalue problem, a millisecond, which :func:`lsh_error_rates` would pay on
    every banding of a new size.

    Kept between runs too, a file per ``n`` in the user's cache (:mod:`cleaner.cache`, as
    JSON: a float's ``repr`` reads back as the same float, so the sums are bit for bit those
    of a rule worked out anew): every run with dedup chooses its banding (:func:`lsh_params`)
    and reports its error rates, and the first ``leggauss`` of a process (numpy's polynomial
    package imported, its linear algebra's first call) and the two rules a run needs cost
    10 to 60 ms of the driver's CPU, where the kept rules are read in a fraction of a
    millisecond each."""
    from .. import cache

    name = _rule_file(n)
    rule = _kept_rule(cache.read(name, _rules_key()), n)
    if rule is not None:
        return rule
    x, w = np.polynomial.legendre.leggauss(n)
    x, w = (x + 1.0) / 2.0, w / 2.0
    cache.write(name, _rules_key(), [x.tolist(), w.tolist()])
    return x, w


def _banding_errors(threshold: float, bands: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False positive and false negative mass of each banding ``(bands[i], rows[i])``.

    A pair of Jaccard similarity ``s`` shares a band with probability ``1 - (1 - s**r)**b``;
    the false positives are its integral over ``[0, threshold]``, the false negatives the
    integral of its complement over ``[threshold, 1]``: datasketch's definitions, which it
    integrates with scipy's adaptive quadrature. Both integrands are polynomials in ``s`` of
    degree ``b * r``, and an ``n``-point Gauss-Legendre rule is exact for degree ``2n - 1``,
    so with ``n > max(b * r) / 2`` the sums below are the integrals up to rounding: no
    scipy (and its import, a fifth of a second) on the run's path."""
    n = int(np.max(bands * rows)) // 2 + 2
    x, w = _gauss_legendre(n)
    b, r = bands[:, None].astype(np.float64), rows[:, None].astype(np.float64)
    below = threshold * x
    above = threshold + (1.0 - threshold) * x
    fp = threshold * ((1.0 - (1.0 - below[None, :] ** r) ** b) @ w)
    fn = (1.0 - threshold) * (((1.0 - above[None, :] ** r) ** b) @ w)
    return fp, fn


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
    """``(bands, rows)`` for a Jaccard threshold: the banding of at most ``num_perm`` values
    with the least weighted sum of false positive and false negative mass, searched as
    datasketch's ``MinHashLSH`` searches it (bands outer, rows inner, the first minimum),
    so an index built here buckets exactly like ``MinHashLSH(threshold, num_perm)``; the
    tests check the choice against datasketch over a dense grid of thresholds."""
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    bands, rows = (np.array(col, dtype=np.int64) for col in zip(*pairs, strict=True))
    fp, fn = _banding_errors(float(threshold), bands, rows)
    best = int(np.argmin(fp * weights[0] + fn * weights[1]))
    return pairs[best]


@lru_cache(maxsize=64)
def lsh_error_rates(threshold: float, bands: int, rows: int) -> tuple[float, float]:
    """``(false positive, false negative)`` probability mass of a banding at the threshold:
    the integrals of ``1 - (1 - s**r)**b`` below it and of its complement above it, which
    :func:`lsh_params` minimises (reported so runs are explainable)."""
    fp, fn = _banding_errors(float(threshold), np.array([bands]), np.array([rows]))
    return float(fp[0]), float(fn[0])


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """A 64-bit key per (signature, band), shape ``(n, bands)`` uint64, vectorised.

    Compact band storage for indexes: 8 bytes per band instead of datasketch's ``4 * rows``
    byte string. Two signatures get the same key for a band exactly when that band's values
    are equal, up to 64-bit hash collisions (about one in 10**19 per pair). The band index is
    mixed in, so equal values in different bands give different keys and one table can hold
    all bands. Stable across runs, processes and platforms (pure uint64 arithmetic).
    """
    sigs = np.atleast_2d(np.asarray(sigs, dtype=np.uint32))
    if bands < 1 or rows < 1 or bands * rows > sigs.shape[1]:
        raise ValueError(f"{bands} bands of {rows} rows do not fit in signatures of {sigs.shape[1]} values")
    vals = sigs[:, :bands * rows].reshape(len(sigs), bands, rows).astype(np.uint64)
    salt = np.arange(1, bands + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(rows)
    keys = np.broadcast_to(_fmix64(salt), (len(sigs), bands)).copy()
    for j in range(0, rows, 2):  # two 32-bit values per step: packed exactly into 64 bits
        word = vals[:, :, j] << np.uint64(32)
        if j + 1 < rows:
            word |= vals[:, :, j + 1]
        keys ^= word
        keys = _fmix64(keys)
    return keys


def datasketch_band_key(sig_row: np.ndarray, band: int, rows: int) -> bytes:
    """The bucket key datasketch's ``MinHashLSH`` (without a ``hashfunc``) stores for band
    ``band`` of a signature: ``_H(hashvalues[band*rows:(band+1)*rows])``, i.e. the big-endian
    bytes of the band's uint32 values, so cleaner's buckets can be checked against (or
    written into) a datasketch index."""
    part = np.asarray(sig_row, dtype=np.uint32)[band * rows:(band + 1) * rows]
    return bytes(part.byteswap().data)


def band_pairs(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Every pair of rows of ``sigs`` that share at least one LSH band, as an ``(m, 2)``
    int64 array of ``(i, j)``, ``i < j``, sorted.

    These are exactly the candidates datasketch's ``MinHashLSH`` (built with the same
    bands and rows) returns when each signature queries the ones inserted before it: two
    signatures share a bucket when one band's values are equal, and here a band is compared
    by its raw bytes, so there are no hash collisions to differ by. Grouping is a sort per
    band in numpy instead of a Python dict of sets per band and key, which keeps the
    driver's share of a large run small.
    """
    sigs = np.ascontiguousarray(np.atleast_2d(np.asarray(sigs, dtype=np.uint32)))
    if bands < 1 or rows < 1 or bands * rows > sigs.shape[1]:
        raise ValueError(f"{bands} bands of {rows} rows do not fit in signatures of {sigs.shape[1]} values")
    blocks = (sigs[:, band * rows:(band + 1) * rows] for band in range(bands))
    return pairs_of_bands(blocks, len(sigs))


def pairs_of_bands(blocks: Iterable[np.ndarray], n: int) -> np.ndarray:
    """:func:`band_pairs` from the bands themselves: each block is one band's ``(n, rows)``
    uint32 values, so a caller can stream bands from disk one at a time."""
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.empty(0, dtype=np.int64)
    for block in blocks:
        for p, q, _anchor in bucket_pairs(block):
            # merged band by band: memory holds the distinct pairs, not one copy per band
            pairs = np.union1d(pairs, p * n + q)
    return np.stack([pairs // n, pairs % n], axis=1)


def bucket_pairs(block: np.ndarray, max_pairs: int = 1 << 20) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The pairs ``(p, q)``, ``p < q``, of rows of one band's ``(n, rows)`` values that
    share the band, in chunks of about ``max_pairs`` (a bucket of ``k`` rows has
    ``k(k - 1)/2`` pairs, so a few thousand copies of one text make millions). Each chunk
    also says which pairs are *anchor* pairs, those of a bucket's first row: they connect
    the whole bucket when its rows are alike, which lets a caller skip the rest (see
    :func:`cleaner.dedup.confirmed_edges`)."""
    if len(block) < 2:
        return
    rows, sizes = shared_rows(block)
    del block
    n = len(rows)
    if n == 0:
        return
    # position p pairs with the positions after it in its bucket
    within = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    after = (np.repeat(sizes, sizes) - within - 1).astype(np.int32)
    is_start = within == 0
    del within, sizes
    cum = np.cumsum(after, dtype=np.int64)
    total = int(cum[-1])
    bounds = np.concatenate(([0], np.searchsorted(cum, np.arange(max_pairs, total, max_pairs), side="left") + 1,
                             [n]))
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if hi <= lo:
            continue
        p, q = _pairs_within(after[lo:hi], lo)
        if len(p):
            yield rows[p], rows[q], is_start[p]


def bucket_stars(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs of one band as stars: for every bucket (rows of ``block``, one
    band's ``(n, rows)`` values, that are equal), its first row paired with each of the
    others, as two arrays ``(head, member)``.

    Why not every pair of a bucket: a bucket of ``k`` rows has ``k(k - 1)/2`` pairs, so a
    story republished thousands of times (or a degenerate page of one repeated word, whose
    thousands of identical windows share every band) cost time in the square of the
    family. The ``k - 1`` star pairs connect the same bucket when its rows are alike,
    which is all :func:`cleaner.dedup.confirmed_edges` needs: each member is verified
    against the bucket's head (its representative), never against every other member.

    The groups are :func:`shared_rows`' and the pairs are made in the core
    (``native/src/buckets.rs`` ``stars``), which also reads a band from its file
    (:meth:`cleaner.dedup.store.PassageStore.band_stars`)."""
    n = len(block)
    if n < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    values = np.ascontiguousarray(block, dtype=np.uint32).reshape(n, -1)
    head, member = _native.bucket_stars(values, values.shape[1])  # read in place (no copy)
    return (np.frombuffer(head, dtype="<i8").astype(np.int64, copy=False),
            np.frombuffer(member, dtype="<i8").astype(np.int64, copy=False))


def shared_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of a ``(n, k)`` uint32 array that equal another row: ``rows`` (indices,
    group after group, ascending within a group) and ``sizes`` (rows per group, each 2 or
    more); groups in the order of an exact sort of the rows by their values (column 0
    first). Most rows of a band, or most exact keys, are unique; the callers' work and
    temporaries are then sized by the shared rows, not by all of them.

    One call to the core (``native/src/buckets.rs``): a 64-bit hash of each row narrows
    the rows to those whose hash another row has (a sort of the hashes by buckets, each
    bucket's radix passes in the cache with a buffer of its size), and only those are grouped
    exactly. In numpy, a pass per column for the hash and an argsort of every row
    were the largest share of LSH (0.8 s of CPU per band of 3 million rows)."""
    n = len(values)
    if n < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    values = np.ascontiguousarray(values, dtype=np.uint32).reshape(n, -1)
    rows, sizes = _native.shared_rows(values, values.shape[1])  # read in place (no copy)
    return np.frombuffer(rows, dtype="<i8").astype(np.int64), np.frombuffer(sizes, dtype="<i8").astype(np.int64)


def _pairs_within(after: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(p, q)`` for positions ``offset ..`` where position ``p`` pairs with the
    ``after[p - offset]`` positions right after it: every bucket's pairs at once, with no
    Python loop per bucket."""
    total = int(after.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    p = np.repeat(np.arange(offset, offset + len(after), dtype=np.int64), after)
    first = np.cumsum(after) - after  # where each position's pairs start in the output
    q = p + 1 + (np.arange(total, dtype=np.int64) - np.repeat(first, after))
    return p, q

"""MinHash signatures, computed in bulk with numpy, equal to datasketch's.

Why not call ``datasketch.MinHash.update`` per shingle: it hashes every shingle with SHA-1
in Python, about half a megabyte of text per second. Here each distinct *word* is hashed
once (xxh3), n-gram hashes are combined from word hashes with vectorised arithmetic, and
the permutations (datasketch 2.x's default ``affine32`` scheme: murmur3 ``fmix32`` pre-mix,
then ``a*h + b mod 2**32`` with datasketch's own seeded ``a`` and ``b``) run as one matrix
operation per block of documents. The values are exactly what
``datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)`` computes for the same
shingles (the tests check it), so signatures can be handed to ``MinHashLSH`` as they are.

A text with fewer words than one shingle has *no* shingles: it gets no signature at all,
because the empty signature (all 2**32-1) is shared by every short text and would put them
all in one cluster. Callers compare such texts exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import xxhash

SCHEME = "affine32"
#: Bump when shingling or hashing changes: persistent indexes record it.
MINHASH_VERSION = "1"

_NONWORD = re.compile(r"[\W_]+")
_P = np.uint64(0x100000001B3)  # FNV-64 prime: odd, so the combination is a bijection per step
_M64 = (1 << 64) - 1
_UNSEGMENTED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
)
_BLOCK = 1 << 22  # shingle x permutation cells per vectorised block (16 MB of uint32)


def fold(text: str) -> str:
    """Case and punctuation folded: what shingles see. Republishers change quotes, dashes
    and capitalisation; none of that should make two copies look different."""
    return " ".join(_NONWORD.sub(" ", text.casefold()).split())


def is_unsegmented(text: str) -> bool:
    """True for text mostly in scripts written without spaces (CJK, Thai, Lao, Khmer,
    Myanmar), where word n-grams are meaningless and character n-grams are used."""
    sample = text[:2000]
    letters = sum(ch.isalpha() for ch in sample)
    return letters > 0 and len(_UNSEGMENTED.findall(sample)) / letters > 0.3


def _tokens(text: str, ngram: int, char_ngram: int) -> tuple[list[str], int]:
    folded = fold(text)
    if is_unsegmented(folded):
        return list(folded.replace(" ", "")), char_ngram
    return folded.split(), ngram


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M64
    return h ^ (h >> 33)


def shingle_hash(shingle: Sequence[str]) -> int:
    """The 32-bit hash of one shingle (a tuple of words, or of characters): the reference
    definition that :func:`shingle_hashes` vectorises. Pass it to datasketch as
    ``hashfunc`` to reproduce cleaner's signatures."""
    acc = 0
    for token in shingle:
        acc = (acc * 0x100000001B3 + xxhash.xxh3_64_intdigest(token.encode("utf-8"))) & _M64
    return _fmix64_int(acc) >> 32


def iter_shingles(text: str, ngram: int = 5, char_ngram: int = 5) -> list[tuple[str, ...]]:
    """The shingles themselves (slow reference path, for tests and explanations)."""
    tokens, n = _tokens(text, ngram, char_ngram)
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def shingle_hashes(text: str, ngram: int = 5, char_ngram: int = 5) -> np.ndarray:
    """Sorted unique 32-bit hashes of the text's shingles (empty when it has none)."""
    tokens, n = _tokens(text, ngram, char_ngram)
    if len(tokens) < n:
        return np.empty(0, dtype=np.uint32)
    cache: dict[str, int] = {}
    h = xxhash.xxh3_64_intdigest
    ids = np.fromiter((cache[t] if t in cache else cache.setdefault(t, h(t.encode("utf-8"))) for t in tokens),
                      dtype=np.uint64, count=len(tokens))
    m = len(tokens) - n + 1
    acc = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            acc = acc * _P + ids[k:k + m]
        out = (_fmix64(acc) >> np.uint64(32)).astype(np.uint32)
    return np.unique(out)


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters for (num_perm, seed)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signatures(hash_arrays: Sequence[np.ndarray], num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """MinHash signatures (rows, uint32) of many shingle-hash arrays at once.

    Raises ``ValueError`` for an empty array: an empty text has no signature (see module
    docstring), and silently returning the all-max value would merge every short text.
    """
    a, b = permutations(num_perm, seed)
    out = np.empty((len(hash_arrays), num_perm), dtype=np.uint32)
    if not len(hash_arrays):
        return out
    lengths = np.fromiter((len(x) for x in hash_arrays), dtype=np.int64, count=len(hash_arrays))
    if (lengths == 0).any():
        raise ValueError("cannot sign an empty shingle set (text too short): compare it exactly instead")
    flat = np.concatenate([np.asarray(x, dtype=np.uint32) for x in hash_arrays])
    with np.errstate(over="ignore"):
        mixed = _fmix32(flat)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    # process whole documents in blocks of about _BLOCK cells
    rows_per_block = max(1, _BLOCK // num_perm)
    doc = 0
    while doc < len(hash_arrays):
        end_doc = doc
        cells = 0
        while end_doc < len(hash_arrays) and (cells == 0 or cells + lengths[end_doc] <= rows_per_block):
            cells += int(lengths[end_doc])
            end_doc += 1
        lo = int(starts[doc])
        hi = lo + cells
        with np.errstate(over="ignore"):
            block = np.multiply.outer(mixed[lo:hi], a)
            block += b
        out[doc:end_doc] = np.minimum.reduceat(block, starts[doc:end_doc] - lo, axis=0)
        doc = end_doc
    return out


def to_minhash(sig: np.ndarray, seed: int = 1):  # type: ignore[no-untyped-def]
    """A datasketch ``MinHash`` holding ``sig`` (shares the cached permutations)."""
    from datasketch import MinHash

    a, b = permutations(len(sig), seed)
    return MinHash(seed=seed, hashvalues=np.asarray(sig, dtype=np.uint32), permutations=np.array([a, b]),
                   scheme=SCHEME)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity estimated from two signatures."""
    return float(np.count_nonzero(a == b)) / len(a)


def exact_jaccard(h1: np.ndarray, h2: np.ndarray) -> float:
    if len(h1) == 0 and len(h2) == 0:
        return 1.0
    inter = len(np.intersect1d(h1, h2, assume_unique=True))
    return inter / (len(h1) + len(h2) - inter)


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
    """(bands, rows) from datasketch's own optimal-parameter search for the threshold."""
    from datasketch.lsh import _optimal_param

    b, r = _optimal_param(threshold, num_perm, weights[0], weights[1])
    return int(b), int(r)


@lru_cache(maxsize=64)
def lsh_error_rates(threshold: float, bands: int, rows: int) -> tuple[float, float]:
    """Expected false-positive and false-negative probability mass at the threshold (the
    integrals datasketch minimises when it picks bands and rows)."""
    from datasketch.lsh import _false_negative_probability, _false_positive_probability

    return (round(float(_false_positive_probability(threshold, bands, rows)), 6),
            round(float(_false_negative_probability(threshold, bands, rows)), 6))


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """A 64-bit key per (signature, band), vectorised: compact band storage for indexes.
    Two signatures get the same key for a band exactly when that band's values are equal
    (up to 64-bit hash collisions, about one in 10**19)."""
    sigs = np.atleast_2d(np.asarray(sigs, dtype=np.uint32))
    out = np.empty((sigs.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            acc = np.full(sigs.shape[0], np.uint64(band + 1) * np.uint64(0x9E3779B97F4A7C15), dtype=np.uint64)
            for j in range(band * rows, (band + 1) * rows):
                acc = _fmix64(acc ^ sigs[:, j].astype(np.uint64)) * _P
            out[:, band] = _fmix64(acc)
    return out


def datasketch_band_key(sig: np.ndarray, band: int, rows: int) -> bytes:
    """The bucket key datasketch's ``MinHashLSH`` uses for this band of this signature."""
    return bytes(np.asarray(sig[band * rows:(band + 1) * rows], dtype=np.uint32).byteswap().data)

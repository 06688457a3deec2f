"""MinHash signatures of web text, computed in bulk with numpy, equal to datasketch's.

Why not ``datasketch.MinHash.update`` per shingle: it hashes every shingle with SHA-1 and
applies the permutations one shingle at a time in Python, well under 1 MB of text per
second. Cleaner has to keep up with the rest of the pipeline, so here:

* text is folded and split into words with numpy on its code points (a per-code-point
  class table), not with a regex and Python loops;
* every word's hash is computed for all words at once (a polynomial hash of its code
  points, mixed with the 64-bit murmur3 finaliser), and n-gram hashes are combined from
  word hashes with vectorised arithmetic: no Python work per word or per shingle. (Hashing
  each distinct word with xxhash still costs a dict lookup per word in Python, which alone
  is slower than all of this put together);
* the permutations are datasketch 2.x's default ``affine32`` scheme (murmur3 ``fmix32``
  pre-mix, then ``a*h + b mod 2**32`` with datasketch's own seeded ``a`` and ``b``), applied
  to many documents at once.

The signatures are exactly what ``datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)``
computes for the same shingles (the tests check it for several languages, sizes and seeds),
so they can be handed to ``MinHashLSH`` as they are and compared with sketches made by any
other datasketch user who shingles the same way.

A text with fewer words than one shingle has *no* shingles and so *no* signature: the
empty signature (all 2**32-1) would be shared by every short text and put them all in one
cluster. :func:`shingle_hashes` returns an empty array for such texts and
:func:`signatures` refuses it; callers compare short texts exactly instead.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # datasketch is imported lazily: workers that only shingle never load scipy
    from datasketch import LeanMinHash, MinHash

__all__ = [
    "MINHASH_VERSION", "SCHEME", "band_keys", "datasketch_band_key", "exact_jaccard", "fold",
    "folded_shingle_hashes", "is_unsegmented", "iter_shingles", "jaccard", "lsh_error_rates",
    "lsh_params", "permutations", "shingle_hash", "shingle_hashes", "shingle_hashes_many", "signatures",
    "to_lean", "to_minhash",
]

#: datasketch's permutation scheme these signatures belong to (recorded by indexes).
SCHEME = "affine32"
#: Bump whenever folding, shingling or hashing changes in a way that could change a signature:
#: persistent indexes record it and refuse to mix sketches made by different versions.
MINHASH_VERSION = "1"

_M64 = (1 << 64) - 1
_MAX32 = np.uint32(0xFFFFFFFF)

# Code point classes. Separators become spaces; "drop" characters (format controls such as
# the soft hyphen and zero-width joiners, category Cf) are deleted so that they cannot split
# a word; the remaining word characters are letters, marks and numbers (categories L, M, N:
# unlike the regex ``\w``, marks are included, so Devanagari or Thai vowel signs do not cut
# words in two). Unsegmented word characters belong to scripts written without spaces.
_SEP, _WORD, _UNSEG, _DROP = 0, 1, 2, 3

# Scripts written without spaces between words: CJK ideographs, kana, bopomofo, Thai, Lao,
# Myanmar, Khmer. (Hangul is *not* here: Korean separates words with spaces.)
_UNSEGMENTED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF), (0x19E0, 0x19FF),  # Khmer, Khmer symbols
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3005, 0x3007),  # ideographic iteration mark, closing mark, number zero
    (0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F),  # hiragana, katakana (+ext, halfwidth)
    (0x3100, 0x312F), (0x31A0, 0x31BF),  # bopomofo
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),  # CJK ideographs (ext A, main, compat)
    (0xA9E0, 0xA9FF), (0xAA60, 0xAA7F),  # Myanmar extensions B and A
    (0x20000, 0x323AF),  # CJK ideograph extensions B-H and compatibility supplement
)
# Planes 4-13 are unassigned and 15-16 private use: only these ranges can hold word or drop
# characters, so the table is built from them alone (a fifth of the time of all 1.1M).
_ASSIGNED_RANGES = ((0, 0x40000), (0xE0000, 0xE1000))
_UNSEG_SHARE = 0.3

# Word hash: h(w) = fmix64(sum_j cp_j * Q**j + len(w) * K) mod 2**64. Q is odd, so it has an
# inverse mod 2**64, which lets a word's sum be computed from a running position and then
# shifted back to the word's start with one multiplication per word.
_Q = 0x9E3779B97F4A7C15
_QINV = pow(_Q, -1, 1 << 64)
_K = 0xD6E8FEB86659FD93
# Shingle hash: acc = acc * P + h(word) over the n words, then the top 32 bits of fmix64(acc).
_P = 0x100000001B3  # FNV-64 prime: odd, so each step is a bijection of acc
_POW_BITS = 16  # powers of Q come from two 2**16-entry tables: Q**i = Q**(i % T) * (Q**T)**(i // T)

# Shingles per block in signatures(): the block, its fmix'd copy and one permuted row stay in
# L2 cache (3 x 256 KB), however many documents or permutations; memory is bounded by it.
_SIG_BLOCK = 1 << 16
# Below this many shingles in a block, one (num_perm x n) matrix (at most 8 MB at 128
# permutations) beats a Python loop over the permutations, whose numpy calls per permutation
# dominate for a single text of a few thousand shingles.
_SIG_SMALL = 1 << 14


# --------------------------------------------------------------------------- tables


@lru_cache(maxsize=1)
def _classes() -> np.ndarray:
    """Class of every code point (uint8, 0x110000 entries), built once per process from the
    interpreter's own Unicode database, so folding needs no per-character Python work."""
    table = np.zeros(0x110000, dtype=np.uint8)
    cat = unicodedata.category
    for lo, hi in _ASSIGNED_RANGES:
        cps = np.arange(lo, hi, dtype=np.uint32)
        cps[(cps >= 0xD800) & (cps < 0xE000)] = 0x20  # lone surrogates cannot be decoded
        chars = cps.tobytes().decode("utf-32-le")
        table[lo:hi] = np.fromiter(
            (_WORD if cat(c)[0] in "LMN" else _DROP if cat(c) == "Cf" else _SEP for c in chars),
            dtype=np.uint8, count=hi - lo)
    for lo, hi in _UNSEGMENTED_RANGES:
        part = table[lo:hi + 1]
        part[part == _WORD] = _UNSEG
    # str.split() must split fold()'s output exactly where fold put spaces: no character it
    # treats as whitespace may be a word or drop character (none is, in Unicode 14/15).
    for i in np.flatnonzero(table).tolist():
        if chr(i).isspace():
            table[i] = _SEP
    table.setflags(write=False)
    return table


@lru_cache(maxsize=1)
def _powers() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Q**i and Q**-i for any i < 2**32, as tables for the low and high 16 bits of i."""
    size = 1 << _POW_BITS
    out = []
    for base in (_Q, _QINV):
        for step in (base, pow(base, size, 1 << 64)):
            table = np.empty(size, dtype=np.uint64)
            table[0] = 1
            table[1:] = np.multiply.accumulate(np.full(size - 1, step, dtype=np.uint64))
            table.setflags(write=False)
            out.append(table)
    return out[0], out[1], out[2], out[3]


def _pow_at(low: np.ndarray, high: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """base**idx for an increasing index array, from the two tables of :func:`_powers`."""
    mask = (1 << _POW_BITS) - 1
    if not len(idx) or int(idx[-1]) <= mask:
        return low[idx]
    return low[idx & mask] * high[idx >> _POW_BITS]


# --------------------------------------------------------------------------- mixing

# numpy scalars made once: creating them costs more than the arithmetic on a short text
_S33, _F64A, _F64B = np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
_S16, _S13, _F32A, _F32B = np.uint32(16), np.uint32(13), np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)
_U32, _UP, _UK = np.uint64(32), np.uint64(_P), np.uint64(_K)


def _fmix64(h: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finaliser (a bijection): spreads every input bit over the output."""
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


def _fmix32(h: np.ndarray) -> np.ndarray:
    """murmur3's 32-bit finaliser, as datasketch applies it before the affine32 permutations."""
    h = h ^ (h >> _S16)
    h *= _F32A
    h ^= h >> _S13
    h *= _F32B
    h ^= h >> _S16
    return h


# --------------------------------------------------------------------------- folding


def _encode(folded: str) -> tuple[np.ndarray, np.ndarray]:
    """(code points, classes) of a case-folded string, in the narrowest array that holds it:
    ASCII (most of the web) one byte per code point, the BMP two, anything else four."""
    if folded.isascii():
        cp = np.frombuffer(folded.encode("ascii"), dtype=np.uint8)
        return cp, _classes()[:0x80][cp]
    data = folded.encode("utf-16-le", "surrogatepass")
    if len(data) == 2 * len(folded):  # no astral code point: UTF-16 units are code points
        cp = np.frombuffer(data, dtype=np.uint16)
        return cp, _classes()[:0x10000][cp]
    cp = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return cp, _classes()[cp]


def _unsegmented(unseg: int, words: int) -> bool:
    return unseg > 0 and unseg >= _UNSEG_SHARE * words


def _code_points(text: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """(code points, classes, unsegmented?) of the case-folded text, format characters
    already deleted."""
    folded = text.casefold()
    cp, cls = _encode(folded)
    if cp.dtype == np.uint8:  # ASCII: no unsegmented script, nothing to drop
        return cp, cls, False
    drops = np.count_nonzero(cls == _DROP)
    unseg = np.count_nonzero(cls == _UNSEG)
    char_mode = _unsegmented(unseg, np.count_nonzero(cls) - drops) if unseg else False
    if drops:
        keep = cls != _DROP
        cp, cls = cp[keep], cls[keep]
    return cp, cls, char_mode


_CODECS = {1: "ascii", 2: "utf-16-le", 4: "utf-32-le"}


def _fold_kept(cp: np.ndarray, cls: np.ndarray) -> tuple[str, np.ndarray]:
    """The folded text before its trailing space is stripped, and which code points it
    kept: a separator run keeps its first character, as a space. ``cp`` is not empty."""
    word = cls != _SEP
    keep = word.copy()
    keep[1:] |= word[:-1]
    out = np.where(word, cp, cp.dtype.type(0x20))[keep]
    return out.tobytes().decode(_CODECS[cp.dtype.itemsize]), keep


def _fold_cp(cp: np.ndarray, cls: np.ndarray) -> str:
    if not len(cp):
        return ""
    return _fold_kept(cp, cls)[0].rstrip(" ")  # a trailing separator run leaves no space


def fold(text: str) -> str:
    """Case and punctuation folded text: what shingles see.

    Casefold, delete format characters (soft hyphens, zero-width joiners), turn every other
    character that is not a letter, mark or number into a space, collapse runs of spaces and
    strip. Republishers change quotes, dashes, capitalisation and spacing; none of that should
    make two copies of a text look different. Vectorised over code points (no regex, no
    Python loop per character), because it runs on every document and every passage.
    """
    cp, cls, _ = _code_points(text)
    return _fold_cp(cp, cls)


def fold_lines(text: str) -> list[str]:
    """``[fold(line) for line in text.split("\n")]``, folded in one pass.

    The exact-duplicate keys need the folded text of a document and of each of its
    paragraphs; folding each one on its own pays numpy's fixed cost per call, which on
    short paragraphs is most of the time. A newline is a separator, so folding the whole
    text and cutting the result at the newlines gives each line's fold (trimmed), and
    ``" ".join`` of the non-empty ones is the fold of the whole text."""
    cp, cls, _ = _code_points(text)
    if not len(cp):
        return [""] * (text.count("\n") + 1)
    folded, keep = _fold_kept(cp, cls)
    # where each newline's output would start: the number of characters kept before it
    before = np.cumsum(keep) - keep
    cuts = [0, *before[cp == 0x0A].tolist(), len(folded)]
    return [folded[a:b].strip(" ") for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


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
    return _code_points(text)[2]


# --------------------------------------------------------------------------- shingles


def _token_hashes(cp: np.ndarray, cls: np.ndarray, char_mode: bool) -> tuple[np.ndarray, np.ndarray]:
    """(uint64 hash of every token, index in ``cp`` of its first code point), in text order.

    Tokens are maximal runs of word characters, or in char mode single word characters.
    A word's hash is ``fmix64(sum_j cp_j * Q**j + len * K)``: the sum for every word at once
    is a difference of one running sum of ``cp_i * Q**i`` over the whole text, shifted back to
    the word's start by ``Q**-start``.
    """
    word = cls != _SEP
    if char_mode:  # one-character words: sum = cp, length 1
        pos = word.nonzero()[0]
        chars = cp[pos].astype(np.uint64)
        chars += _UK
        return _fmix64(chars), pos
    n = len(cp)
    edge = np.zeros(n + 1, dtype=bool)  # word starts and ends, alternately
    if n:
        edge[0] = word[0]
        edge[n] = word[n - 1]
        np.not_equal(word[1:], word[:-1], out=edge[1:n])
    e = edge.nonzero()[0]
    starts, ends = e[0::2], e[1::2]
    if not len(starts):
        return np.empty(0, dtype=np.uint64), starts
    qlow, qhigh, ilow, ihigh = _powers()
    terms = cp.astype(np.uint64)
    terms *= qlow[:n] if n <= len(qlow) else _pow_at(qlow, qhigh, np.arange(n))
    run = np.empty(n + 1, dtype=np.uint64)
    run[0] = 0
    np.cumsum(terms, out=run[1:])  # wraps mod 2**64, as intended
    sums = run[ends]
    sums -= run[starts]
    sums *= _pow_at(ilow, ihigh, starts)
    lengths = (ends - starts).astype(np.uint64)
    lengths *= _UK
    sums += lengths
    return _fmix64(sums), starts


def _ngram_hashes(ids: np.ndarray, n: int, inside: np.ndarray | None = None) -> np.ndarray:
    """uint32 hashes of the n-grams of token hashes ``ids`` (all of them, or those where
    ``inside`` is true), in order: top half of ``fmix64(sum_k ids[i+k] * P**(n-1-k))``."""
    m = len(ids) - n + 1
    acc = ids[:m].copy()
    for k in range(1, n):
        acc *= _UP
        acc += ids[k:k + m]
    if inside is not None:
        acc = acc[inside]
    acc = _fmix64(acc)
    acc >>= _U32
    return acc.astype(np.uint32)


def _sorted_unique(h: np.ndarray) -> np.ndarray:
    """``np.unique`` for a fresh array, sorting in place (np.unique is 2-3x slower)."""
    h.sort()
    if len(h) > 1:
        keep = np.empty(len(h), dtype=bool)
        keep[0] = True
        np.not_equal(h[1:], h[:-1], out=keep[1:])
        h = h[keep]
    return h


def _check_ngram(ngram: int, char_ngram: int) -> None:
    if ngram < 1 or char_ngram < 1:
        raise ValueError(f"shingle sizes must be positive, got ngram={ngram}, char_ngram={char_ngram}")


def _shingles_of(cp: np.ndarray, cls: np.ndarray, char_mode: bool, ngram: int, char_ngram: int) -> np.ndarray:
    n = char_ngram if char_mode else ngram
    if np.count_nonzero(cls) < n:  # fewer word characters than tokens needed: none at all
        return np.empty(0, dtype=np.uint32)
    ids = _token_hashes(cp, cls, char_mode)[0]
    if len(ids) < n:
        return np.empty(0, dtype=np.uint32)
    return _sorted_unique(_ngram_hashes(ids, n))


def shingle_hashes(text: str, ngram: int = 5, char_ngram: int = 5) -> np.ndarray:
    """Sorted unique uint32 hashes of the folded text's shingles: word ``ngram``-grams, or
    character ``char_ngram``-grams (spaces left out) for unsegmented scripts.

    A text with fewer tokens than one shingle has *no* shingles and gets an empty array, not
    a shorter shingle: callers treat it as too short and compare it exactly, because any
    signature given to it (empty or padded) would match every other short text.

    Each value equals ``shingle_hash(s)`` for a shingle ``s`` of :func:`iter_shingles`, but is
    computed without any Python work per word or shingle. For many texts at once,
    :func:`shingle_hashes_many` gives the same arrays faster.
    """
    _check_ngram(ngram, char_ngram)
    cp, cls, char_mode = _code_points(text)
    return _shingles_of(cp, cls, char_mode, ngram, char_ngram)


def folded_shingle_hashes(text: str, ngram: int = 5, char_ngram: int = 5) -> tuple[str, np.ndarray]:
    """``(fold(text), shingle_hashes(text, ngram, char_ngram))`` from one pass over the text,
    for callers that need both (an exact-match key and the shingles)."""
    _check_ngram(ngram, char_ngram)
    cp, cls, char_mode = _code_points(text)
    return _fold_cp(cp, cls), _shingles_of(cp, cls, char_mode, ngram, char_ngram)


_EMPTY = np.empty(0, dtype=np.uint32)
_EMPTY.setflags(write=False)
# Texts are hashed together in chunks of about this many code points: big enough to share
# numpy's per-call cost among many short texts, small enough that the sorts stay in cache and
# every position stays within the first power table.
_BATCH_CHARS = 1 << 16


def shingle_hashes_many(texts: Sequence[str], ngram: int = 5, char_ngram: int = 5) -> list[np.ndarray]:
    """``[shingle_hashes(t, ngram, char_ngram) for t in texts]``, computed together.

    Why: on a text of a few KB (a page, or a passage of one) much of the time of
    :func:`shingle_hashes` is numpy's fixed cost per call, not work. Here texts are joined
    (a newline between them, so no word spans two) into chunks of about 64K code points and
    each chunk is classified, split and hashed with one set of numpy calls; n-grams spanning
    two texts are dropped. Texts in unsegmented scripts, and texts longer than a chunk, go
    through :func:`shingle_hashes` one by one. The results are identical (tested). The arrays
    returned for empty or too-short texts are one shared read-only empty array.
    """
    _check_ngram(ngram, char_ngram)
    out: list[np.ndarray] = [_EMPTY] * len(texts)
    folded = [t.casefold() for t in texts]
    chunk: list[int] = []
    size = 0
    for i, f in enumerate(folded):
        if len(f) >= _BATCH_CHARS:
            out[i] = shingle_hashes(texts[i], ngram, char_ngram)
            continue
        if size + len(f) >= _BATCH_CHARS:
            _hash_chunk(chunk, texts, folded, ngram, char_ngram, out)
            chunk, size = [], 0
        chunk.append(i)
        size += len(f) + 1
    if chunk:
        _hash_chunk(chunk, texts, folded, ngram, char_ngram, out)
    return out


def _hash_chunk(idx: list[int], texts: Sequence[str], folded: list[str], ngram: int, char_ngram: int,
                out: list[np.ndarray]) -> None:
    """shingle_hashes_many() for the texts ``idx``, whose case-folded forms are ``folded``."""
    big = "\n".join([folded[i] for i in idx]) + "\n"  # every text ends with a separator
    lens = np.fromiter((len(folded[i]) + 1 for i in idx), dtype=np.intp, count=len(idx))
    starts = np.zeros(len(idx), dtype=np.intp)  # of each text in the chunk
    np.cumsum(lens[:-1], out=starts[1:])
    cp, cls = _encode(big)
    if cp.dtype != np.uint8:
        unseg = cls == _UNSEG
        if unseg.any():  # hash texts in unsegmented scripts on their own, blank them here
            n_unseg = np.add.reduceat(unseg, starts, dtype=np.intp)
            n_words = np.add.reduceat((cls == _WORD) | unseg, starts, dtype=np.intp)
            char_mode = (n_unseg > 0) & (n_unseg >= _UNSEG_SHARE * n_words)
            if char_mode.any():
                for k in char_mode.nonzero()[0].tolist():
                    out[idx[k]] = shingle_hashes(texts[idx[k]], ngram, char_ngram)
                cls = np.where(np.repeat(char_mode, lens), np.uint8(_SEP), cls)
        drop = cls == _DROP
        if drop.any():
            keep = (~drop).nonzero()[0]
            cp, cls = cp[keep], cls[keep]
            starts = np.searchsorted(keep, starts)
    ids, pos = _token_hashes(cp, cls, False)
    if len(ids) < ngram:
        return
    doc = np.searchsorted(starts, pos, side="right") - 1  # text of each word
    inside = doc[:len(ids) - ngram + 1] == doc[ngram - 1:]  # first and last word in one text
    h = _ngram_hashes(ids, ngram, inside)
    doc = doc[:len(inside)][inside]
    bounds = np.cumsum(np.bincount(doc, minlength=len(idx))).tolist()
    lo = 0
    for hi in bounds:  # sort text by text: small sorts stay in L1 and are ~3x faster
        if hi - lo > 1:
            h[lo:hi].sort()
        lo = hi
    if len(h) > 1:
        keep_u = np.empty(len(h), dtype=bool)
        keep_u[0] = True
        np.not_equal(h[1:], h[:-1], out=keep_u[1:])
        keep_u[1:] |= doc[1:] != doc[:-1]  # each text's first hash is kept
        h, doc = h[keep_u], doc[keep_u]
        bounds = np.cumsum(np.bincount(doc, minlength=len(idx))).tolist()
    lo = 0
    for k, hi in enumerate(bounds):
        if hi > lo:
            out[idx[k]] = h[lo:hi]
        lo = hi


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

    This is the reference definition that :func:`shingle_hashes` vectorises; it is also a
    valid datasketch ``hashfunc``, so ``MinHash(hashfunc=shingle_hash)`` updated with the
    shingles of :func:`iter_shingles` reproduces cleaner's signatures.
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


def _sign_block(parts: list[np.ndarray], first_doc: int, a: np.ndarray, b: np.ndarray,
                out_t: np.ndarray) -> None:
    """Fold the minima of one block of shingles into ``out_t`` (num_perm x docs).

    ``parts`` are consecutive documents (or pieces of one) starting at ``first_doc``; a
    document split across blocks is merged by the running minimum.
    """
    x = _fmix32(np.concatenate(parts) if len(parts) > 1 else parts[0])
    cols = slice(first_doc, first_doc + len(parts))
    if len(parts) > 1:
        starts = np.zeros(len(parts), dtype=np.intp)
        np.cumsum([len(p) for p in parts[:-1]], out=starts[1:])
    if len(x) < _SIG_SMALL:
        cells = np.multiply.outer(a, x)
        cells += b[:, None]
        if len(parts) == 1:
            red = cells.min(axis=1)[:, None]
        else:
            red = np.minimum.reduceat(cells, starts, axis=1)
        np.minimum(out_t[:, cols], red, out=out_t[:, cols])
        return
    tmp = np.empty_like(x)
    for k, (ak, bk) in enumerate(zip(a, b, strict=True)):
        np.multiply(x, ak, out=tmp)
        tmp += bk
        row = out_t[k, cols]
        if len(parts) == 1:
            row[0] = min(row[0], tmp.min())
        else:
            np.minimum(row, np.minimum.reduceat(tmp, starts), out=row)


def signatures(hash_arrays: Sequence[np.ndarray], num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """MinHash signatures, shape ``(len(hash_arrays), num_perm)`` uint32, of many shingle-hash
    arrays at once (one row per array).

    Row ``i`` equals ``datasketch.MinHash(num_perm, seed, hashfunc=lambda h: h)`` after
    ``update_batch(hash_arrays[i])``: affine32's fmix32 pre-mix, ``a*h + b mod 2**32``, min.
    Documents are processed together in blocks of a fixed number of shingles, so memory
    stays bounded (a few MB) however many or however long the documents are, and the numpy
    call overhead is shared by all the documents in a block.

    Raises ``ValueError`` for an empty array rather than returning datasketch's "empty"
    signature (all 2**32-1): every short text would share that signature and land in one
    near-duplicate cluster. Values must fit in 32 bits (as for datasketch's affine32).
    """
    if isinstance(hash_arrays, np.ndarray) and hash_arrays.ndim == 1:
        raise TypeError("signatures() takes a list of hash arrays; wrap a single array in a list")
    a, b = permutations(num_perm, seed)
    arrays = [_as_hashes(x, i) for i, x in enumerate(hash_arrays)]
    if len(arrays) == 1 and len(arrays[0]) < _SIG_SMALL:  # one short text: the common call
        cells = np.multiply.outer(a, _fmix32(arrays[0]))
        cells += b[:, None]
        return cells.min(axis=1)[None, :]
    out_t = np.full((num_perm, len(arrays)), _MAX32, dtype=np.uint32)
    parts: list[np.ndarray] = []
    first_doc = 0
    size = 0
    for i, arr in enumerate(arrays):
        pos = 0
        while pos < len(arr):
            if not parts:
                first_doc = i
            take = min(len(arr) - pos, _SIG_BLOCK - size)
            parts.append(arr[pos:pos + take])
            size += take
            pos += take
            if size == _SIG_BLOCK:
                _sign_block(parts, first_doc, a, b, out_t)
                parts, size = [], 0
    if parts:
        _sign_block(parts, first_doc, a, b, out_t)
    return np.ascontiguousarray(out_t.T)


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


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
    """``(bands, rows)`` for a Jaccard threshold, from datasketch's own optimal-parameter
    search, so an index built here buckets exactly like ``MinHashLSH(threshold, num_perm)``.
    Cached: the search computes hundreds of numerical integrals."""
    from datasketch.lsh import _optimal_param

    b, r = _optimal_param(threshold, num_perm, weights[0], weights[1])
    return int(b), int(r)


@lru_cache(maxsize=64)
def lsh_error_rates(threshold: float, bands: int, rows: int) -> tuple[float, float]:
    """``(false positive, false negative)`` probability mass of a banding at the threshold:
    the integrals of ``1 - (1 - s**r)**b`` below it and of its complement above it, which
    datasketch minimises when it picks bands and rows (reported so runs are explainable)."""
    from datasketch.lsh import _false_negative_probability, _false_positive_probability

    return (float(_false_positive_probability(threshold, bands, rows)),
            float(_false_negative_probability(threshold, bands, rows)))


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
    against the bucket's head (its representative), never against every other member."""
    rows, sizes = shared_rows(block)
    if len(rows) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    head = np.repeat(rows[starts], sizes)
    member = np.ones(len(rows), dtype=bool)
    member[starts] = False
    return head[member].astype(np.int64), rows[member].astype(np.int64)


def shared_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of a ``(n, k)`` uint32 array that equal another row: ``rows`` (indices,
    group after group, ascending within a group) and ``sizes`` (rows per group, each 2 or
    more). Most rows of a band, or most exact keys, are unique; the callers' work and
    temporaries are then sized by the shared rows, not by all of them.

    Why a hash first: an exact multi-column sort of every row (``np.lexsort``) was two
    thirds of dedup, while one sort of a 64-bit hash of each row costs a tenth of it. Rows
    whose hash no other row has cannot equal another row; only the rest (the shared rows,
    and the rare row whose hash collides) are grouped exactly by :func:`group_rows`, so
    the result is the same as grouping every row exactly, in the same order."""
    n = len(values)
    if n < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    values = np.asarray(values, dtype=np.uint32).reshape(n, -1)
    h = _row_hash(values)
    order = np.argsort(h)
    h = h[order]
    same = h[1:] == h[:-1]
    del h
    maybe = np.zeros(n, dtype=bool)
    maybe[1:] = same
    maybe[:-1] |= same
    del same
    cand = np.sort(order[maybe])  # ascending: group_rows keeps equal rows in this order
    del order, maybe
    sub, starts = group_rows(values[cand])
    sizes = np.diff(starts, append=len(cand))
    multi = sizes >= 2
    starts, sizes = starts[multi], sizes[multi]
    del multi
    pos = np.repeat(starts - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))
    return cand[sub[pos]], sizes


_MIX = np.uint64(0x9E3779B97F4A7C15)  # the golden-ratio multiplier of Fibonacci hashing


def _row_hash(values: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of a ``(n, k)`` uint32 array (multiply-xor over the
    columns, wrapping). Only a prefilter for :func:`shared_rows`: equal rows have equal
    hashes, and a collision costs time, never a wrong answer."""
    h = values[:, 0].astype(np.uint64)
    for col in range(1, values.shape[1]):
        h *= _MIX
        h ^= values[:, col]
        h ^= h >> np.uint64(29)
    return h


def group_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group equal rows of a ``(n, k)`` uint32 array: ``order`` (row indices sorted by
    value, equal rows in ascending index order) and ``starts`` (where each group of equal
    rows begins in ``order``). A stable multi-key sort on the columns, with temporaries of
    a few bytes a row (a large run sorts millions of rows per band)."""
    if len(values) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    values = np.asarray(values, dtype=np.uint32).reshape(len(values), -1)
    order = np.lexsort(values.T[::-1])
    differs = np.zeros(len(values), dtype=bool)
    differs[0] = True
    for col in range(values.shape[1]):  # a column at a time: no sorted copy of the whole block
        ranked = values[:, col][order]
        differs[1:] |= ranked[1:] != ranked[:-1]
    return order, np.flatnonzero(differs)


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

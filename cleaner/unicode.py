"""The Unicode property tables of the native core, as the running interpreter defines them.

The core (``native/src/unicode.rs``) answers per-character questions with CPython's exact
semantics: ``str.isspace``, ``isalpha``, ``isalnum`` (so ``re``'s ``\\w``), ``isdecimal``,
``isdigit``, ``isnumeric``, ``isupper``, ``islower``, ``isprintable``, the general category,
``str.lower`` (full mappings, with Final_Sigma) and ``str.casefold``. Its answers must be the
interpreter's, or cleaning and dedup would depend on which Unicode version a character was
assigned in. The crate embeds tables generated from Python 3.11's ``unicodedata`` (Unicode
14.0.0, ``native/gen_unicode.py``), which cost nothing to load; an interpreter with another
Unicode version installs its own, built here (a few seconds, once per process, before any
text reaches the core; forked workers inherit them).

This module is the one definition of what the tables hold: the generator and the fallback
both call :func:`interpreter_tables`.
"""

from __future__ import annotations

import sys
import unicodedata
from array import array
from types import ModuleType

#: Flag bits, in the order of ``native/src/unicode.rs`` (bit i is ``1 << i``).
FLAGS = (
    "space",  # str.isspace
    "alpha",  # str.isalpha
    "alnum",  # str.isalnum
    "decimal",  # str.isdecimal
    "digit",  # str.isdigit
    "numeric",  # str.isnumeric
    "upper",  # str.isupper of the character alone
    "lower",  # str.islower of the character alone
    "cased",  # Cased and not Case_Ignorable: ends a Final_Sigma look (CPython's handle_capital_sigma)
    "case_ignorable",  # Case_Ignorable: skipped by the Final_Sigma look
    "printable",  # str.isprintable
    "has_lower",  # str.lower maps it to something else
    "has_fold",  # str.casefold maps it to something else
    "nfc_no",  # NFC_Quick_Check=No: cannot occur in NFC text (unicodedata.normalize("NFC", c) != c)
    "nfc_maybe",  # NFC_Quick_Check=Maybe: may combine with the character before it
)
#: General categories, by their index in bits 16-20 of a code point's flags.
CATEGORIES = ("Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Zs", "Zl", "Zp",
              "Cc", "Cf", "Cs", "Co", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So")
CATEGORY_SHIFT = 16
#: The canonical combining class (``unicodedata.combining``) is in bits 21-28.
COMBINING_SHIFT = 21
_SIGMA = "\u03a3"


def _nfc_maybe() -> set[int]:
    """Code points with NFC_Quick_Check=Maybe: the second character of a canonical pair that
    composes (a primary composite, one that NFC keeps), and the Hangul vowel and trailing
    jamo, which compose algorithmically (Unicode's definition of the property)."""
    maybe = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    for cp in range(0x110000):
        d = unicodedata.decomposition(chr(cp))
        if not d or d.startswith("<"):
            continue
        parts = d.split()
        if len(parts) == 2 and unicodedata.normalize("NFC", chr(cp)) == chr(cp):
            maybe.add(int(parts[1], 16))
    return maybe


def _flags(c: str, cat: int) -> int:
    bits = (c.isspace(), c.isalpha(), c.isalnum(), c.isdecimal(), c.isdigit(), c.isnumeric(), c.isupper(),
            c.islower())
    f = sum(1 << i for i, b in enumerate(bits) if b)
    # Cased/Case_Ignorable are not exposed by Python; str.lower's Final_Sigma rule reads them:
    # after c alone, capital sigma is final iff c is cased and not ignorable; after "A" + c,
    # iff c is ignorable (skipped back to the cased "A") or cased.
    cased = (c + _SIGMA).lower()[-1] == "\u03c2"
    if cased:
        f |= 1 << 8
    elif ("A" + c + _SIGMA).lower()[-1] == "\u03c2":
        f |= 1 << 9
    if c.isprintable():
        f |= 1 << 10
    if c.lower() != c:
        f |= 1 << 11
    if c.casefold() != c:
        f |= 1 << 12
    if unicodedata.normalize("NFC", c) != c:
        f |= 1 << 13
    return f | cat << CATEGORY_SHIFT | unicodedata.combining(c) << COMBINING_SHIFT


def _mapping(pairs: list[tuple[int, str]]) -> tuple[bytes, bytes, bytes]:
    keys, starts, pool = array("I"), array("I", [0]), array("I")
    for cp, m in pairs:
        keys.append(cp)
        pool.extend(map(ord, m))
        starts.append(len(pool))
    if sys.byteorder != "little":
        for a in (keys, starts, pool):
            a.byteswap()
    return keys.tobytes(), starts.tobytes(), pool.tobytes()


def interpreter_tables() -> tuple[bytes, tuple[bytes, bytes, bytes], tuple[bytes, bytes, bytes]]:
    """``(flags, lower, fold)`` of every code point, from the interpreter: ``flags`` one
    little-endian uint32 per code point (0x110000 of them); ``lower`` and ``fold`` the code
    points whose ``str.lower`` / ``str.casefold`` differ from themselves, as ``(keys, starts,
    pool)`` uint32 arrays: key i maps to ``pool[starts[i]:starts[i + 1]]``."""
    cat_index = {c: i for i, c in enumerate(CATEGORIES)}
    category = unicodedata.category
    flags = array("I")
    lower, fold = [], []
    maybe = _nfc_maybe()
    for cp in range(0x110000):
        c = chr(cp)
        f = _flags(c, cat_index[category(c)]) | (1 << 14 if cp in maybe else 0)
        flags.append(f)
        if f & (1 << 11):
            lower.append((cp, c.lower()))
        if f & (1 << 12):
            fold.append((cp, c.casefold()))
    if sys.byteorder != "little":
        flags.byteswap()
    return flags.tobytes(), _mapping(lower), _mapping(fold)


def install(native: ModuleType) -> None:
    """Make the core's tables the interpreter's: nothing to do when the embedded ones were
    generated from this Unicode version, else build and install them (once per process)."""
    if unicodedata.unidata_version == native.UNICODE_VERSION:
        return
    flags, lower, fold = interpreter_tables()
    native.install_unicode(unicodedata.unidata_version, flags, *lower, *fold)

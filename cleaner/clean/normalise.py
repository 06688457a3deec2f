"""Normalise: bytes to text, mojibake and odd characters fixed, HTML to main text.

Why each step exists:

* Scrapes mix encodings. UTF-8 is tried first (a BOM is honoured), UTF-16 without a BOM is
  recognised by its NUL pattern, and anything else goes to charset detection
  (charset-normalizer), because guessing Latin-1 turns cp1251 Russian into garbage. The
  detector needs text to count: on a line or two it reads Russian or Greek as cp1252
  mojibake, so its choice is checked against the common single-byte readings, and a
  reading that is far more plausibly words of one script wins (:func:`plausible_encoding`).
* Text that was decoded wrongly somewhere upstream (mojibake such as ``â€™``) is repaired
  by ftfy. ftfy is the slow part of normalisation, so it is only called on the lines that
  any ftfy fixer could act on (the native core decides which: ``native/src/normalise.rs``);
  the result is identical to always calling it.
* NBSP and other exotic spaces become plain spaces, zero-width and control characters go,
  line endings become ``\\n`` and runs of blank lines collapse to one blank line, so that
  rules and duplicate detection see the same text whatever the page's typography.

``normalise_text`` is idempotent: normalising its output changes nothing.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import importlib.util
import json
import os
import re
import re._constants as _sre_const  # the parser behind re, to read ftfy's mojibake pattern
import re._parser as _sre_parse
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .. import cache
from ..native import core as _native

# ftfy is imported where a text needs it, not here: its import is a tenth of a start-up, and
# the core's gate (built from ftfy's tables, kept in the cache: see _gate_args) lets through
# to ftfy only the rare segment it could change (six plain-text pages in 1,665 of the dev sets).

#: Bump when normalisation output can change: persistent indexes record it.
NORMALISER_VERSION = "2"  # 2: short non-UTF-8 texts read by script plausibility


@functools.lru_cache(maxsize=1)
def _ftfy_configs() -> tuple[Any, Any]:
    """ftfy's configuration for cleaner (:data:`FTFY_CONFIG`), and the same without HTML
    unescaping (for a segment after a ``<``)."""
    import ftfy

    config = ftfy.TextFixerConfig(
        # Typographic quotes and full-width forms are content, not damage: keep them.
        uncurl_quotes=False,
        fix_character_width=False,
        explain=False,
    )
    return config, config._replace(unescape_html=False)


def __getattr__(name: str) -> Any:
    """``FTFY_CONFIG``: ftfy's configuration for cleaner, made (and ftfy imported) when asked."""
    if name == "FTFY_CONFIG":
        return _ftfy_configs()[0]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_SRE = _sre_const
#: Python ``re`` categories the core's automaton knows, by its category bits.
_CATEGORIES = {_SRE.CATEGORY_WORD: 1, _SRE.CATEGORY_NOT_WORD: 2, _SRE.CATEGORY_SPACE: 4,
               _SRE.CATEGORY_NOT_SPACE: 8, _SRE.CATEGORY_DIGIT: 16, _SRE.CATEGORY_NOT_DIGIT: 32}
_Class = tuple[bool, list[tuple[int, int]], int]
_Alternative = tuple[bool, list[_Class]]


def _char_class(op: object, av: object) -> _Class | None:
    """One pattern element that matches one character, as ``(negate, ranges, categories)``
    for the core; None for anything else."""
    c = _SRE
    if op is c.LITERAL:
        return False, [(int(av), int(av))], 0  # type: ignore[call-overload]
    if op is c.NOT_LITERAL:
        return True, [(int(av), int(av))], 0  # type: ignore[call-overload]
    if op is c.ANY:
        return True, [(10, 10)], 0  # without DOTALL: anything but a newline
    if op is not c.IN:
        return None
    negate, ranges, cats = False, [], 0
    for i, (kind, val) in enumerate(av):  # type: ignore[attr-defined]
        if kind is c.NEGATE and i == 0:
            negate = True
        elif kind is c.LITERAL:
            ranges.append((val, val))
        elif kind is c.RANGE:
            ranges.append(val)
        elif kind is c.CATEGORY and val in _CATEGORIES:
            cats |= _CATEGORIES[val]
        else:
            return None
    return negate, ranges, cats


def _sequences(items: list[tuple[object, object]]) -> list[tuple[bool, list[_Class]]] | None:
    r"""The fixed sequences of characters a branch-free element list matches, each with
    whether it is anchored at the start: a bounded repeat is unrolled into one sequence per
    count (``\s?``: with and without). None when an element is not of that kind."""
    out: list[tuple[bool, list[_Class]]] = [(False, [])]
    for k, (op, av) in enumerate(items):
        if op is _SRE.AT and av is _SRE.AT_BEGINNING and k == 0:
            out = [(True, [])]
            continue
        if op is _SRE.MAX_REPEAT or op is _SRE.MIN_REPEAT:
            lo, hi, sub = av  # type: ignore[misc]
            if hi == _SRE.MAXREPEAT or hi > 4 or len(sub) != 1:
                return None
            one = _char_class(*sub[0])
            if one is None:
                return None
            out = [(anc, seq + [one] * n) for anc, seq in out for n in range(lo, hi + 1)]
            continue
        one = _char_class(op, av)
        if one is None:
            return None
        out = [(anc, seq + [one]) for anc, seq in out]
    return out


def compile_badness(pattern: str, flags: int) -> list[_Alternative] | None:
    """A pattern for the core's mojibake automaton (``native/src/normalise.rs``): a list of
    alternatives, each a fixed sequence of one-character classes, possibly anchored at the
    start; None for a pattern that is not of that form (lookaround, unbounded repeats,
    groups, case-insensitive matching...), which the gate then does not try to read.

    The automaton finds a match exactly where ``re.search`` finds one: it asks only whether
    some alternative matches somewhere, for which leftmost-first order does not matter."""
    if flags & (re.IGNORECASE | re.MULTILINE | re.DOTALL | re.ASCII | re.LOCALE):
        return None
    tree = list(_sre_parse.parse(pattern, flags))
    branches = tree[0][1][1] if len(tree) == 1 and tree[0][0] is _SRE.BRANCH else [tree]
    alternatives: list[_Alternative] = []
    for branch in branches:
        seqs = _sequences(list(branch))
        if seqs is None or any(not seq for _, seq in seqs):
            return None
        alternatives.extend(seqs)
    return alternatives


def _ftfy_chars() -> list[tuple[int, int]]:
    """Characters that one of ftfy's character-level fixers (C1 controls, ligatures, line
    breaks, surrogates, terminal escapes, control characters) would change."""
    from ftfy.chardata import CONTROL_CHARS, LIGATURES

    chars = set(CONTROL_CHARS) | set(LIGATURES) | set(map(ord, "\r\u2028\u2029\x1b"))
    chars |= set(range(0x80, 0xA0))
    return [(c, c) for c in sorted(chars)] + [(0xD800, 0xDFFF)]


_GateArgs = tuple[list[tuple[int, int]], bool, list[_Alternative] | None, int]


def _gate_from_ftfy() -> _GateArgs:
    """What the core's gate is built from, read from the installed ftfy: the characters its
    fixers act on, whether its entity pattern is the one the core knows, its mojibake
    pattern, its segment length."""
    from ftfy.badness import BADNESS_RE
    from ftfy.chardata import HTML_ENTITY_RE  # what ftfy's HTML unescaping replaces; nothing else

    exact = HTML_ENTITY_RE.pattern == "&#?[0-9A-Za-z]{1,24};" and not HTML_ENTITY_RE.flags & (
        re.IGNORECASE | re.ASCII | re.LOCALE)
    return (_ftfy_chars(), exact, compile_badness(BADNESS_RE.pattern, BADNESS_RE.flags),
            _ftfy_configs()[0].max_decode_length)


def _gate_from_json(value: Any) -> _GateArgs:
    """:func:`_gate_from_ftfy`'s value from its JSON form (lists for tuples); ValueError,
    TypeError or KeyError for anything else."""
    chars, exact, badness, limit = value
    if not isinstance(exact, bool) or not isinstance(limit, int):
        raise TypeError("not a gate")
    return ([(int(lo), int(hi)) for lo, hi in chars], exact,
            None if badness is None else
            [(bool(anchored), [(bool(negate), [(int(lo), int(hi)) for lo, hi in ranges], int(cats))
                               for negate, ranges, cats in classes])
             for anchored, classes in badness],
            limit)


#: Bump when what the gate's cache keeps changes shape.
_GATE_CACHE_FORMAT = 1


def _gate_key() -> str | None:
    """A digest of everything :func:`_gate_from_ftfy` reads: every file of the installed ftfy
    package, this module's source, the Python version (its ``re`` parser reads ftfy's
    pattern); found without importing ftfy. None when ftfy cannot be found so."""
    try:
        spec = importlib.util.find_spec("ftfy")
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
        if len(folders) != 1:
            return None
        h = hashlib.sha256(repr((_GATE_CACHE_FORMAT, sys.version_info[:3])).encode())
        with open(__file__, "rb") as fh:
            h.update(fh.read())
        for root, dirs, files in os.walk(folders[0]):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                path = os.path.join(root, name)
                with open(path, "rb") as fh:
                    data = fh.read()
                h.update(b"\x00%s\x00%d\x00" % (os.path.relpath(path, folders[0]).encode("utf-8", "surrogateescape"),
                                                  len(data)))
                h.update(data)
        return h.hexdigest()
    except (OSError, ImportError, ValueError):
        return None


def _gate_args() -> _GateArgs:
    """:func:`_gate_from_ftfy`, kept in the user's cache (:mod:`cleaner.cache`) under
    :func:`_gate_key`: a run whose texts need no fixing then never imports ftfy."""
    key = _gate_key()
    if key is not None:
        kept = cache.read("ftfy-gate.json", key)
        if kept is not None:
            try:
                return _gate_from_json(kept)
            except (ValueError, TypeError, KeyError):
                pass
    args = _gate_from_ftfy()
    if key is not None:
        cache.write("ftfy-gate.json", key, json.loads(json.dumps(args)))  # its JSON form: lists for tuples
    return args


@functools.lru_cache(maxsize=1)
def normaliser() -> object:
    """The core's ftfy gate, from the installed ftfy (see :func:`_gate_args`); also handed
    to the core calls that normalise a text themselves (``core.normalise_assemble_page``)."""
    return _native.Normaliser(*_gate_args())


def _fix(text: str, spans: list[tuple[int, int, bool]] | None) -> str:
    """ftfy on the ``(start, end, html)`` segments of ``text`` the core found it could
    change (None: all of it): ftfy fixes each segment on its own, so skipping the segments
    it would return unchanged gives the result of calling it always."""
    if spans is not None and not spans:
        return text
    import ftfy

    config, no_html = _ftfy_configs()
    if spans is None:
        return ftfy.fix_text(text, config)
    out, pos = [], 0
    for start, end, html in spans:
        out.append(text[pos:start])
        out.append(ftfy.fix_and_explain(text[start:end], config if html else no_html).text)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def fix_text(text: str) -> str:
    """``ftfy.fix_text`` with cleaner's configuration, called only on the segments (lines)
    it could change (the core's gate: see ``native/src/normalise.rs``)."""
    return _fix(text, _native.ftfy_spans(normaliser(), text))


def normalise_text(text: str) -> str:
    """Repair and canonicalise text; idempotent.

    In rounds (at most three, almost always one): ftfy where the core's gate says it could
    change something, NFC, then the translation (exotic spaces to spaces, separators to
    newlines, controls, zero-width characters and soft hyphens deleted), until it changes
    nothing (dropping a control or a soft hyphen can bring two mojibake halves together);
    then runs of spaces collapse, spaces around newlines go, runs of blank lines become
    one, and the text is stripped. The core runs all of it, line endings included,
    returning to Python only for ftfy and NFC."""
    return finish_normalising(text, _native.normalise_text(normaliser(), text))  # "\n" line endings there


#: A step of the core's normalisation: the text (done), or ``(text, spans, round)`` to fix
#: with ftfy first (see ``native/src/normalise_py.rs``)
NormaliseStep = str | tuple[str | None, list[tuple[int, int, bool]] | None, int]


def finish_normalising(text: str, step: NormaliseStep) -> str:
    """:func:`normalise_text` of ``text`` from a step the core returned for it: Python's
    part (ftfy on the spans the gate found, NFC) and the core's next rounds, until done.
    ``core.normalise_assemble_page`` (pass 1) returns the same steps."""
    gate = normaliser()
    while not isinstance(step, str):
        current, spans, round_ = step
        if current is None:  # the text as given: "\n" line endings, or lone surrogates
            current = text.replace("\r\n", "\n").replace("\r", "\n")
        fixed = _fix(current, spans)
        if not fixed.isascii():
            fixed = unicodedata.normalize("NFC", fixed)
        step = _native.normalise_resume(gate, current, fixed, round_)
    return step


def collapse(line: str) -> str:
    """A line as rules and statistics see it: stripped, inner whitespace collapsed
    (``" ".join(line.split())``, in the core)."""
    return _native.collapse(line)


def collapse_lines(lines: Sequence[str]) -> list[str]:
    """``[collapse(line) for line in lines]``, in one call to the core."""
    return _native.collapse_lines(list(lines))


# --------------------------------------------------------------------------- bytes


class DecodeError(ValueError):
    """The bytes are not text in any encoding we can trust."""


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"%PDF-", "PDF document"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip data (not a .gz name)"),
    (b"\x7fELF", "ELF executable"),
    (b"RIFF", "RIFF media"),
    (b"OggS", "Ogg media"),
    (b"\x00\x00\x01\x00", "icon"),
    (b"BZh", "bzip2 data"),
    (b"\xfd7zXZ\x00", "xz data"),
)


_BOM_PREFIXES = tuple(bom for bom, _ in _BOMS)
_MAGIC_PREFIXES = tuple(magic for magic, _ in _MAGIC)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text without a BOM shows NULs in every other byte for Latin scripts."""
    sample = data[:4096]
    if len(sample) < 4 or 0 not in sample:  # (no NUL, no reading: without counting by halves)
        return None
    even = sample[0::2].count(0) / (len(sample) / 2)
    odd = sample[1::2].count(0) / (len(sample) / 2)
    if odd > 0.3 and even < 0.05:
        return "utf-16-le"
    if even > 0.3 and odd < 0.05:
        return "utf-16-be"
    return None


_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.I)
# WHATWG encoding labels: browsers decode these labels as windows-1252, and so do pages
_WEB_ALIASES = {"iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
                "us-ascii": "cp1252", "ascii": "cp1252", "l1": "cp1252"}


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in a ``<meta>`` tag near its top, as a Python
    codec name, or None. A page's own declaration beats a statistical guess: detectors
    misread short or mixed pages (Latin text as a Baltic code page, say)."""
    m = _META_CHARSET.search(data[:4096])
    if m is None:
        return None
    label = m.group(1).decode("ascii").lower()
    label = _WEB_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode(data: bytes, html: bool = False) -> tuple[str, str]:
    """Decode bytes to text and say which encoding was used.

    Order: a byte-order mark; UTF-16 without one; UTF-8; for HTML (``html``), the charset
    the page declares, if the bytes decode under it into text that does not look like
    mojibake (``ftfy.badness.is_bad``); else charset detection. Raises
    :class:`DecodeError` for binary content (known magic numbers, NUL bytes in what is not
    UTF-16/32) and for bytes that no detector can read as text.
    """
    # one ``startswith`` of all the prefixes first: most texts have none, and a test of each
    # in turn was fifteen calls per document
    if data.startswith(_BOM_PREFIXES):
        for bom, name in _BOMS:
            if data.startswith(bom):
                try:
                    return data.decode(name), name
                except UnicodeDecodeError as exc:
                    raise DecodeError(f"invalid {name} after its byte-order mark: {exc.reason}") from exc
    if data.startswith(_MAGIC_PREFIXES):
        for magic, what in _MAGIC:
            if data.startswith(magic):
                raise DecodeError(f"binary content ({what})")
    utf16 = _utf16_without_bom(data)
    if utf16:
        try:
            return data.decode(utf16), utf16
        except UnicodeDecodeError:
            pass
    nuls = data.count(0)
    if nuls > max(2, len(data) // 200):  # a stray NUL in a big page is debris, many mean binary
        raise DecodeError("binary content (NUL bytes in text)")
    if nuls:
        data = data.replace(b"\x00", b"")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = declared_charset(data) if html else None
    if declared is not None and declared not in ("utf-8", "utf-16-le", "utf-16-be", "utf-16", "utf-32"):
        from ftfy.badness import is_bad

        try:
            text = data.decode(declared)
        except UnicodeDecodeError:
            text = None  # the declaration is wrong: fall back to detection
        # a wrong single-byte declaration decodes without error but reads as mojibake
        if text is not None and not is_bad(text):
            return text, declared
    try:
        encoding = detect_encoding(data)
    except DecodeError:
        encoding = None  # perhaps one of the single-byte readings is still plain text
    encoding = plausible_encoding(data, encoding)
    if encoding is None:
        raise DecodeError("undecodable bytes (no encoding fits)")
    text = data.decode(encoding, errors="replace")
    if text.count("\ufffd") > max(8, len(text) // 100):
        raise DecodeError(f"undecodable bytes (best guess {encoding} fails)")
    return text, encoding


#: Tie-break among encodings the detector finds equally plausible: how common each is on
#: the web. Short Western-European texts are equally "coherent" in cp1250, cp1252 and
#: iso8859-10 (they differ in a few letters), and picking the rare one garbles them.
_WEB_PREVALENCE = (
    "utf_8", "cp1252", "cp1251", "latin_1", "cp1250", "gb18030", "gb2312", "shift_jis", "euc_jp",
    "euc_kr", "big5", "cp1256", "cp1253", "cp1254", "cp1255", "cp874", "iso8859_2", "iso8859_5",
    "koi8_r", "koi8_u", "cp1257", "iso8859_15", "mac_cyrillic", "mac_roman",
)


#: The single-byte encodings whose readings :func:`plausible_encoding` compares (the web's
#: common code pages for Western and Central European, Cyrillic, Greek, Turkish, Baltic,
#: Hebrew and Arabic text), most common first, for ties. ISO-8859-5 is left out: it is
#: almost unused, and any Greek or KOI8 text reads in it as well-formed Cyrillic
#: gibberish, which a script test cannot tell from Russian.
_SINGLE_BYTE = ("cp1252", "cp1251", "cp1250", "cp1256", "cp1253", "cp1254", "cp1255", "iso8859_2",
                "koi8_r", "iso8859_7", "koi8_u", "cp1257", "iso8859_15")
_LETTERS = re.compile(r"[^\W\d_]+")
_LETTER = re.compile(r"[^\W\d_]")
_SYMBOL = re.compile(r"[^\w\s\x00-\x7f]")  # a non-ASCII sign: neither letter, digit, space nor ASCII
#: non-ASCII punctuation and signs that touch words in real text ("¿Dónde", «mot», 5°C, €5)
_WORD_PUNCT = frozenset("’‘-–—·…«»„“”‚¿¡°ºª€£¥§©®™")
#: an override needs a reading this much less implausible (cost at most half, and a whole
#: letter's worth less): a detector that is right on a long page is never second-guessed
#: by a reading that differs in a letter or two
_OVERRIDE_RATIO, _OVERRIDE_MIN = 0.5, 1.0
#: readings within this cost of the best are told apart by their letters' frequencies, and
#: only a fit better by this margin moves the choice from the detector's (or the commoner
#: encoding's) reading
_TIE, _FIT_MARGIN = 0.5, 0.15


def implausibility(text: str, ascii_letters: int = 0) -> float:
    """How little ``text`` looks like words of one script: 0 for text whose words are each
    of one script with a usual case pattern, growing with every sign of a wrong decoding.

    A wrong single-byte decoding keeps the bytes' letter/non-letter pattern but maps the
    letters to another alphabet, so it shows as: letters of two scripts inside one word
    ("Cafй" from Latin-1 read as cp1251); Latin words made mostly of accented letters
    ("Ïðèâåò" from cp1251 read as cp1252: a real Latin-script word has an accent or two
    among plain letters; the cost grows with the square of the accents after the
    first); symbols glued to letters ("¶ëëï", "÷òî"); a lowercase letter followed by a
    capital ("пРИВЕТ": cp1251 and KOI8-R swap the cases); letters of a minority script
    outside the text's main one. The cost is per letter, so it compares
    readings of the same bytes; texts of unrelated lengths are not comparable.

    ``ascii_letters``: the letters of ASCII words left out of ``text`` (see
    :func:`_letter_runs`), counted towards LATIN after the words of ``text``; one ASCII
    word must be in ``text`` where the first of them stood, for the scripts' order."""
    words = _LETTERS.findall(text)
    scripts: Counter[str] = Counter()
    mixed = []  # the shape (see _word_shape) of each word with a non-ASCII letter
    for w in words:
        if w.isascii():
            # an ASCII word only counts towards LATIN (it has one script, no accent and no
            # non-ASCII case change, so it costs nothing): one count, not a pass per letter;
            # the main script below is the same (Counter keeps first-seen order for ties)
            scripts["LATIN"] += len(w)
            continue
        shape = _word_shape(w)
        mixed.append(shape)
        for script, k in shape[1]:
            scripts[script] += k
    if ascii_letters:
        scripts["LATIN"] += ascii_letters
    scripts.pop("", None)
    main = scripts.most_common(1)[0][0] if scripts else "LATIN"
    cost = 0.0
    for n, _, script, accents, case in mixed:
        if script is None:  # letters of two scripts
            cost += n
            continue
        if not script:
            continue
        if script != main:
            cost += n
        if accents:
            cost += accents
        if case:
            cost += n
    # a symbol between two letters ("Za¿ó³æ") is a letter of another code page; at a word's
    # edge it may be punctuation of a language. Found by scanning for the symbols (rare in
    # any reading) and looking at their neighbours, not by a lookbehind at every character
    glued = inner = 0
    last = len(text) - 1
    for m in _SYMBOL.finditer(text):
        i = m.start()
        before = i > 0 and _LETTER.match(text, i - 1) is not None
        after = i < last and _LETTER.match(text, i + 1) is not None
        if (before or after) and m.group() not in _WORD_PUNCT:
            glued += 1
        if before and after:
            inner += 1
    cost += glued
    cost += 2 * inner
    return cost


@functools.lru_cache(maxsize=16384)
def _word_shape(w: str) -> tuple[int, tuple[tuple[str, int], ...], str | None, float, bool]:
    """What :func:`implausibility` reads of a word with a non-ASCII letter, which does not
    depend on the rest of the text: its length; its letters' scripts with their counts, in
    order of first appearance ("" for a letter of no script); its one script (None for
    several, "" for none); the cost of its accents when it is Latin (0 for one accent,
    then growing with the square of the others); and whether a capital follows a small
    letter, one of them not ASCII ("iPhone" and "VisualCafé" are names). Cached: a page
    repeats its words, and every reading of it is read."""
    n = len(w)
    counts: Counter[str] = Counter("LATIN" if c.isascii() else _script(c) for c in w)
    scripts = set(counts) - {""}
    script = None if len(scripts) > 1 else next(iter(scripts), "")
    accents = 0.0
    if script == "LATIN":
        accented = sum(not c.isascii() for c in w) - 1  # one accent is any language's
        if accented >= 1:
            accents = accented * accented / n
    case = n >= 2 and any(a.islower() and b.isupper() and not (a.isascii() and b.isascii())
                          for a, b in zip(w, w[1:], strict=False))
    return n, tuple(counts.items()), script, accents, case


@functools.lru_cache(maxsize=1)
def _letter_ranks() -> tuple[dict[str, float], ...]:
    """Per language of charset-normalizer's frequency tables, each letter's weight: 1 for
    the most frequent, falling linearly to the least frequent listed."""
    from charset_normalizer.constant import FREQUENCIES

    return tuple({c: 1 - i / len(letters) for i, c in enumerate(letters)} for letters in FREQUENCIES.values())


def letter_fit(text: str) -> float:
    """How well the non-ASCII letters of ``text`` fit the letter frequencies of its best
    matching language (0 to 1; 0 without such letters). Two readings can both be words of
    one script (Greek read as cp1251 is Cyrillic, lowercase and all): the real one uses
    its language's frequent letters, the other an arbitrary mix. ASCII letters read the
    same in every candidate encoding, so they do not count."""
    letters = Counter(c for c in text.lower() if not c.isascii() and c.isalpha())
    total = sum(letters.values())
    if not total:
        return 0.0
    return max(sum(ranks.get(c, 0.0) * k for c, k in letters.items()) for ranks in _letter_ranks()) / total


@functools.lru_cache(maxsize=4096)
def _script(ch: str) -> str:
    """The script of a letter, as the first word of its Unicode name (LATIN, CYRILLIC, ...),
    or "" for a letter of no script (the ordinal indicators º and ª, in "1º")."""
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if " LETTER " in name else ""


_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_ASCII_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # _CONTROLS' ASCII part, on bytes
_LETTER_RUN = re.compile(rb"[A-Za-z\x80-\xff]+")


def _letter_runs(data: bytes) -> tuple[bytes, int]:
    """What :func:`implausibility` needs of a reading of ``data`` in an encoding of
    :data:`_SINGLE_BYTE`, the same for all of them: its runs of ASCII letters and
    non-ASCII bytes that hold a non-ASCII byte, and the first all-ASCII run, in order,
    joined by spaces; and the count of the other all-ASCII runs' letters.

    Why it gives the same cost: those encodings read every byte below 0x80 as ASCII, so
    in each of them a word (a run of letters) or a sign glued to one lies inside such a
    run, and every non-ASCII character is in one. A run of ASCII letters alone is a word
    every reading counts the same, a number of LATIN letters. The first one keeps its
    place, because the order the scripts are first seen in breaks ties. A page is mostly
    ASCII, so thirteen readings of 64 KB became thirteen of a few hundred bytes."""
    parts = []
    ascii_letters = 0
    first = True
    for run in _LETTER_RUN.findall(data):
        if not run.isascii():
            parts.append(run)
        elif first:
            parts.append(run)
            first = False
        else:
            ascii_letters += len(run)
    return b" ".join(parts), ascii_letters


def plausible_encoding(data: bytes, detected: str | None) -> str | None:
    """The detector's encoding, unless a single-byte reading of the bytes is far more
    plausible text (:func:`implausibility`); None when nothing decodes.

    Why: statistical detectors need text to count; on a line or two their language
    models have nothing to go on, and charset-normalizer reads short cp1251 Russian,
    Greek or KOI8-R as cp1252 mojibake ("Ïðèâåò, ìèð!"). Which reading is words of one
    script does not need length: in a wrong reading every word shows it. Only readings
    without control characters take part; ties go to the detector, then to the more
    common encoding."""
    sample = data[:65536]
    readings: dict[str, float] = {}
    texts: dict[str, str] = {}
    runs: tuple[bytes, int, bool] | None = None
    for name in dict.fromkeys([*([detected] if detected else []), *_SINGLE_BYTE]):
        if name in _SINGLE_BYTE:  # read from its letter runs: the same cost (see _letter_runs)
            if runs is None:
                runs = (*_letter_runs(sample), _ASCII_CONTROL.search(sample) is not None)
            reduced, ascii_letters, ascii_control = runs
            try:
                text = reduced.decode(name)
            except UnicodeDecodeError:
                continue
            if name != detected and (ascii_control or _CONTROLS.search(text)):
                continue
            readings[name] = implausibility(text, ascii_letters)
            continue
        try:
            text = sample.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        readings[name], texts[name] = implausibility(text), text
    if not readings:
        return detected
    order = list(readings)
    low = min(readings.values())
    if detected is not None and detected in readings and not (
            low <= _OVERRIDE_RATIO * readings[detected] and readings[detected] - low >= _OVERRIDE_MIN):
        low = readings[detected]  # no reading is far better: the detector's stays in the running
    tied = [n for n in order if readings[n] <= low + _TIE]
    default = detected if detected in tied else tied[0]  # the detector's, else the commonest
    def text_of(name: str) -> str:  # whole readings only where a tie needs them
        if name not in texts:
            texts[name] = sample.decode(name)
        return texts[name]

    # Letter frequencies decide between scripts (Greek or Cyrillic?) and within an alphabet
    # of its own (KOI8-R and cp1251 map Russian letters onto each other, swapping the case:
    # "СРОЧНО" or "япнвмн"?), where every letter counts. Within the Latin script they would
    # hinge on an accent or two, which several languages share ("Não", and Romanian "Năo"
    # is as well-formed): there the detector or prevalence decides.
    script = _main_script(text_of(default))
    if not script:  # no letter of the default reading is at stake (its bytes were symbols: "£", "©")
        return default
    rivals = [n for n in tied if n != default and (script != "LATIN" or _main_script(text_of(n)) != script)]
    if not rivals:
        return default
    fit = {n: letter_fit(text_of(n)) for n in [default, *rivals]}
    best = max(rivals, key=lambda n: fit[n])  # the first of equals: the commoner encoding
    return best if fit[best] >= fit[default] + _FIT_MARGIN else default


def _main_script(text: str) -> str:
    """The script of most of the non-ASCII letters of ``text`` ("" without any)."""
    scripts = Counter(_script(c) for c in text if not c.isascii() and c.isalpha())
    scripts.pop("", None)
    return scripts.most_common(1)[0][0] if scripts else ""


def detect_encoding(data: bytes) -> str:
    """Charset detection (charset-normalizer) with a prevalence tie-break."""
    from charset_normalizer import from_bytes

    results = list(from_bytes(data[:262144]))
    if not results:
        raise DecodeError("undecodable bytes (no encoding fits)")
    chaos = min(m.chaos for m in results)
    tied = [m for m in results if m.chaos <= chaos + 0.01]
    coherence = max(m.coherence for m in tied)
    names = [m.encoding for m in tied if m.coherence >= coherence - 0.01]
    if coherence == 0 and "cp1252" not in names:
        try:  # the detector has no language signal at all: the web's default applies
            data.decode("cp1252")
            names.append("cp1252")
        except UnicodeDecodeError:
            pass

    def rank(name: str) -> int:
        return _WEB_PREVALENCE.index(name) if name in _WEB_PREVALENCE else len(_WEB_PREVALENCE)

    return min(names, key=lambda n: (rank(n), names.index(n)))


# --------------------------------------------------------------------------- HTML


def import_ftfy() -> None:
    """Import ftfy and make what it makes on its first fix (its configuration, the sloppy
    codec its encoding repair looks up) now. The driver of a local run with several workers
    calls this before it forks them, and they inherit it: each would otherwise do it again
    on the first text the core's gate hands to ftfy (about 35 ms of CPU, most of it
    compiling ftfy's and wcwidth's regular expressions), which in a crawl comes within the
    first few dozen pages (one in ten has a line ftfy could change). A run in one process
    still imports ftfy only when a text needs it."""
    try:
        _fix("CafÃ©", None)
    except ImportError:  # reported where a text needs it, as without this call
        pass


def import_html() -> None:
    """Import trafilatura (and with it lxml) now. The driver of a local run whose inputs
    include HTML pages calls this before it forks its workers, which inherit the import
    instead of each doing it again (a sixth of a second of CPU each); a run of text files
    never imports it. Called while the core still builds the rules' matcher, it mostly
    costs no wall time either."""
    try:
        import trafilatura  # noqa: F401
    except ImportError:  # reported page by page, as without this call (see stages.clean)
        pass


def html_to_text(html: str) -> str:
    """Main text of an HTML page, one block per line, via trafilatura.

    trafilatura removes the page furniture it can see in the markup (nav, aside, footer,
    comment blocks); what it leaves still goes through the same chrome rules as plain text.
    """
    import trafilatura

    if not html.strip():
        return ""
    text = trafilatura.extract(
        html,
        include_comments=True,
        include_tables=True,
        include_images=False,
        include_links=False,
        with_metadata=False,
        deduplicate=False,
    )
    return text or ""

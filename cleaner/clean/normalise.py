"""Normalise: bytes to text, mojibake and odd characters fixed, HTML to main text.

Why each step exists:

* Scrapes mix encodings. UTF-8 is tried first (a BOM is honoured), UTF-16 without a BOM is
  recognised by its NUL pattern, and anything else goes to charset detection
  (charset-normalizer), because guessing Latin-1 turns cp1251 Russian into garbage. The
  detector needs text to count: on a line or two it reads Russian or Greek as cp1252
  mojibake, so its choice is checked against the common single-byte readings, and a
  reading that is far more plausibly words of one script wins (:func:`plausible_encoding`).
* Text that was decoded wrongly somewhere upstream (mojibake such as ``â€™``) is repaired
  by ftfy. ftfy is the slow part of normalisation, so it is only called when the text has
  a character that any ftfy fixer could act on; the result is identical to always calling it.
* NBSP and other exotic spaces become plain spaces, zero-width and control characters go,
  line endings become ``\\n`` and runs of blank lines collapse to one blank line, so that
  rules and duplicate detection see the same text whatever the page's typography.

``normalise_text`` is idempotent: normalising its output changes nothing.
"""

from __future__ import annotations

import codecs
import functools
import re
import re._constants as _sre_const  # the parser behind re, to read ftfy's mojibake pattern
import re._parser as _sre_parse
import unicodedata
from collections import Counter
from collections.abc import Iterator

import ftfy
from ftfy.chardata import HTML_ENTITY_RE  # what ftfy's HTML unescaping replaces; nothing else

#: Bump when normalisation output can change: persistent indexes record it.
NORMALISER_VERSION = "2"  # 2: short non-UTF-8 texts read by script plausibility

FTFY_CONFIG = ftfy.TextFixerConfig(
    # Typographic quotes and full-width forms are content, not damage: keep them.
    uncurl_quotes=False,
    fix_character_width=False,
    explain=False,
)

_SPACES = dict.fromkeys(
    map(ord, "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
        "\u200a\u202f\u205f\u3000\t\f\v"),
    " ",
)
_DROP = dict.fromkeys(
    [*range(0, 9), *range(14, 32), 0x7F, *range(0x80, 0xA0),
     0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD],
    None,
)
_DROP[0x0B] = " "
_DROP[0x0C] = " "
_TRANSLATE = {**_SPACES, **_DROP, 0x2028: "\n", 0x2029: "\n", 0x85: "\n"}
# Zero-width joiners are meaningful inside emoji and Indic scripts, but in scraped prose
# they are almost always invisible debris; we drop ZWSP/ZWNJ/ZWJ/WJ/BOM/soft hyphen.
_TRANSLATE_CHARS = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_TRANSLATE)) + "]")


def _translate(text: str) -> str:
    """``text.translate(_TRANSLATE)``, faster: ``str.translate`` with a dict looks up every
    character (about 40 ns each on non-ASCII text, a twentieth of the whole cost of an HTML
    page), while a character-class search skips the text at a few ns a character and only
    the few characters to replace (typically NBSPs) go through the table."""
    if _TRANSLATE_CHARS.search(text) is None:
        return text
    return _TRANSLATE_CHARS.sub(lambda m: _TRANSLATE[ord(m.group())] or "", text)


_BLANK_RUNS = re.compile(r"\n{3,}")
_TRAILING = re.compile(r"[ ]+\n")
_LEADING_SPACES = re.compile(r"\n[ ]+")
_INNER_SPACES = re.compile(r" {2,}")
def _needs_class() -> re.Pattern[str]:
    """Characters that one of ftfy's character-level fixers (C1 controls, ligatures, line
    breaks, surrogates, terminal escapes, control characters) would change."""
    from ftfy.chardata import CONTROL_CHARS, LIGATURES

    chars = set(map(chr, CONTROL_CHARS)) | set(map(chr, LIGATURES)) | set("\r\u2028\u2029\x1b")
    chars |= {chr(c) for c in range(0x80, 0xA0)}
    ranges = "".join(re.escape(c) for c in sorted(chars))
    return re.compile(f"[{ranges}\ud800-\udfff]")


_FTFY_CHARS = _needs_class()


def _segments(text: str) -> Iterator[tuple[str, bool]]:
    """The segments ftfy fixes one at a time (lines, cut at ``max_decode_length``), each
    with whether HTML unescaping is still on: ftfy turns it off for good at the first
    segment that contains '<', so the answer depends on the segments before."""
    limit = FTFY_CONFIG.max_decode_length
    html = FTFY_CONFIG.unescape_html == "auto"
    pos = 0
    while pos < len(text):
        brk = text.find("\n", pos) + 1
        if brk == 0:
            brk = len(text)
        if brk - pos > limit:
            brk = pos + limit
        segment = text[pos:brk]
        if html and "<" in segment:
            html = False
        yield segment, html
        pos = brk


def _segment_needs(segment: str, html: bool) -> bool:
    """Whether ftfy could change this segment; mirrors ftfy's own early exits: HTML
    unescaping only acts on what its entity pattern matches (``&amp;``, ``&#233;``; a bare
    '&' in "R&D" or "Q&A", common in prose, is left alone); encoding repair only when ``ftfy.badness.is_bad`` finds
    mojibake; the character fixers only on the characters in :data:`_FTFY_CHARS`; and NFC
    only on unnormalised text."""
    if html and HTML_ENTITY_RE.search(segment) is not None:
        return True
    if _FTFY_CHARS.search(segment) is not None:
        return True
    if segment.isascii():
        return False
    if not unicodedata.is_normalized("NFC", segment):
        return True
    from ftfy.badness import is_bad

    return is_bad(segment)


@functools.lru_cache(maxsize=1)
def _badness_lines() -> tuple[re.Pattern[str] | None, int | None]:
    """ftfy's mojibake pattern with ``^`` matching at every line start, and the longest
    match it can make when every one of its alternatives needs a non-ASCII character
    (None otherwise): then only the stretches around non-ASCII characters need a search.

    A match in a line is then a match in the whole text as long as ``^`` is the pattern's
    only anchor and it has no lookaround or backreference, which the parse tree is checked
    for; a pattern with more (a later ftfy's) gives None, and texts go line by line."""
    from ftfy.badness import BADNESS_RE

    tree = _sre_parse.parse(BADNESS_RE.pattern, BADNESS_RE.flags)
    if not _line_local(tree):
        return None, None
    pattern = re.compile(BADNESS_RE.pattern, BADNESS_RE.flags | re.MULTILINE)
    items = list(tree)
    alternatives = items[0][1][1] if len(items) == 1 and items[0][0] is _sre_const.BRANCH else [items]
    local = not BADNESS_RE.flags & re.IGNORECASE and all(
        any(_non_ascii_only(op, av) for op, av in alt) for alt in alternatives)
    return pattern, (int(tree.getwidth()[1]) if local else None)


def _line_local(tree: object) -> bool:
    """No anchor but ``^`` (line start), no lookaround, no backreference, anywhere."""
    c = _sre_const
    for op, av in tree:  # type: ignore[attr-defined]
        if op in (c.ASSERT, c.ASSERT_NOT, c.GROUPREF, c.GROUPREF_EXISTS):
            return False
        if op is c.AT and av is not c.AT_BEGINNING:
            return False
        if not all(_line_local(sub) for sub in _nested(av)):
            return False
    return True


def _nested(av: object) -> Iterator[object]:
    """The sub-patterns inside an element's argument (a group's, a branch's, a repeat's)."""
    if isinstance(av, _sre_parse.SubPattern):
        yield av
    elif isinstance(av, (tuple, list)):
        for part in av:
            yield from _nested(part)


def _non_ascii_only(op: object, av: object) -> bool:
    """Whether a pattern element matches one character, never an ASCII one."""
    c = _sre_const
    if op is c.LITERAL:
        return int(av) >= 128  # type: ignore[call-overload]
    if op is c.IN:
        for kind, val in av:  # type: ignore[attr-defined]
            if kind is c.LITERAL and val >= 128:
                continue
            if kind is c.RANGE and val[0] >= 128:
                continue
            return False  # NEGATE, CATEGORY, an ASCII member
        return True
    return False


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _has_mojibake(text: str) -> bool:
    """``_badness_lines()[0].search(text) is not None``, searching only around the text's
    non-ASCII characters when ftfy's pattern allows it (a page of English prose with a few
    curly quotes is then a handful of short searches, not a scan of the whole text). Only
    for a line-local pattern (one :func:`_badness_lines` returns)."""
    pattern, width = _badness_lines()
    assert pattern is not None
    if width is None:
        return pattern.search(text) is not None
    for m in _NON_ASCII.finditer(text):
        if pattern.search(text, max(0, m.start() - width + 1), m.end() + width - 1) is not None:
            return True
    return False


def _unchanged_whole(text: str) -> bool:
    """Text that no segment of needs ftfy (see :func:`_segment_needs`), decided on the
    whole text at once: ASCII without an entity or a character ftfy acts on (most of a
    scrape), and a page in a non-Latin script or with typographic quotes, which would
    otherwise go through ftfy's tests line by line. Each test holds for the whole text
    only if it holds for every line: NFC never composes across a line break, and the
    mojibake search sees every line start (texts longer than ftfy's segment limit, whose
    lines ftfy cuts, and a pattern that is not line-local take the line-by-line way)."""
    if HTML_ENTITY_RE.search(text) is not None or _FTFY_CHARS.search(text) is not None:
        return False
    if text.isascii():
        return True
    return (len(text) <= FTFY_CONFIG.max_decode_length and _badness_lines()[0] is not None
            and unicodedata.is_normalized("NFC", text) and not _has_mojibake(text))


_FTFY_NO_HTML = FTFY_CONFIG._replace(unescape_html=False)  # after a segment with '<'


def fix_text(text: str) -> str:
    """``ftfy.fix_text`` with cleaner's configuration, called only on the segments (lines)
    it could change: ftfy fixes each line on its own, so skipping the lines it would
    return unchanged gives the same result, and most lines of a scrape need nothing."""
    if _unchanged_whole(text):
        return text
    out = []
    changed = False
    for segment, html in _segments(text):
        if _segment_needs(segment, html):
            fixed = ftfy.fix_and_explain(segment, FTFY_CONFIG if html else _FTFY_NO_HTML).text
            changed = changed or fixed != segment
            out.append(fixed)
        else:
            out.append(segment)
    return "".join(out) if changed else text


def normalise_text(text: str) -> str:
    """Repair and canonicalise text; idempotent."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for _ in range(3):
        # Dropping a control or soft hyphen can bring two mojibake halves together, so
        # repeat until the text is a fixed point (almost always after one round).
        fixed = fix_text(text)
        if not fixed.isascii():
            fixed = unicodedata.normalize("NFC", fixed)
        translated = _translate(fixed)
        done = translated == fixed or translated == text
        text = translated
        if done:
            break
    # a substring test is a fraction of a regex scan, and most texts need few of these
    if "  " in text:
        text = _INNER_SPACES.sub(" ", text)
    if " \n" in text:
        text = _TRAILING.sub("\n", text)
    if "\n " in text:
        text = _LEADING_SPACES.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip(" \n")


def collapse(line: str) -> str:
    """A line as rules and statistics see it: stripped, inner whitespace collapsed."""
    return " ".join(line.split())


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


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text without a BOM shows NULs in every other byte for Latin scripts."""
    sample = data[:4096]
    if len(sample) < 4:
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
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError as exc:
                raise DecodeError(f"invalid {name} after its byte-order mark: {exc.reason}") from exc
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
_GLUED_SYMBOL = re.compile(r"(?<=[^\W\d_])[^\w\s\x00-\x7f]|[^\w\s\x00-\x7f](?=[^\W\d_])")
_INNER_SYMBOL = re.compile(r"(?<=[^\W\d_])[^\w\s\x00-\x7f](?=[^\W\d_])")
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


def implausibility(text: str) -> float:
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
    readings of the same bytes; texts of unrelated lengths are not comparable."""
    words = _LETTERS.findall(text)
    scripts: Counter[str] = Counter()
    word_scripts = []
    for w in words:
        ws = {"LATIN" if c.isascii() else _script(c) for c in w} - {""}
        word_scripts.append(ws)
        for c in w:
            scripts["LATIN" if c.isascii() else _script(c)] += 1
    scripts.pop("", None)
    main = scripts.most_common(1)[0][0] if scripts else "LATIN"
    cost = 0.0
    for w, ws in zip(words, word_scripts, strict=True):
        n = len(w)
        if len(ws) > 1:
            cost += n
            continue
        if not ws:
            continue
        script = next(iter(ws))
        if script != main and not w.isascii():
            cost += n
        if script == "LATIN":
            accented = sum(not c.isascii() for c in w) - 1  # one accent is any language's
            if accented >= 1:
                cost += accented * accented / n
        # a capital after a small letter, one of them not ASCII ("iPhone", "VisualCafé" are names)
        if n >= 2 and any(a.islower() and b.isupper() and not (a.isascii() and b.isascii())
                          for a, b in zip(w, w[1:], strict=False)):
            cost += n
    # a symbol between two letters ("Za¿ó³æ") is a letter of another code page; at a word's
    # edge it may be punctuation of a language
    cost += sum(1 for m in _GLUED_SYMBOL.finditer(text) if m.group() not in _WORD_PUNCT)
    cost += 2 * sum(1 for _ in _INNER_SYMBOL.finditer(text))
    return cost


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
    for name in dict.fromkeys([*([detected] if detected else []), *_SINGLE_BYTE]):
        try:
            text = sample.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        if name != detected and _CONTROLS.search(text):
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
    # Letter frequencies decide between scripts (Greek or Cyrillic?) and within an alphabet
    # of its own (KOI8-R and cp1251 map Russian letters onto each other, swapping the case:
    # "СРОЧНО" or "япнвмн"?), where every letter counts. Within the Latin script they would
    # hinge on an accent or two, which several languages share ("Não", and Romanian "Năo"
    # is as well-formed): there the detector or prevalence decides.
    script = _main_script(texts[default])
    if not script:  # no letter of the default reading is at stake (its bytes were symbols: "£", "©")
        return default
    rivals = [n for n in tied if n != default and (script != "LATIN" or _main_script(texts[n]) != script)]
    if not rivals:
        return default
    fit = {n: letter_fit(texts[n]) for n in [default, *rivals]}
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

"""Scripts written without spaces between words, the one definition cleaning and dedup share.

Why it matters to both: a Chinese or Thai paragraph is one or two whitespace "tokens", so
the furniture classifier counts its words by characters (a long paragraph must not read as
a one-word menu line) and MinHash shingles it by characters (word shingles of one token
would match nothing or everything). If the two disagreed on which characters are such
script, a text could be prose to cleaning and one token to dedup, or the reverse.
"""

from __future__ import annotations

import re

#: Inclusive code point ranges: CJK ideographs, kana, bopomofo, Thai, Lao, Myanmar, Khmer.
#: Hangul is *not* here: Korean separates words with spaces.
UNSEGMENTED_RANGES: tuple[tuple[int, int], ...] = (
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

#: One character of those scripts.
UNSEGMENTED = re.compile("[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in UNSEGMENTED_RANGES) + "]")

//! Unicode properties with CPython's exact semantics: the one table of the core.
//!
//! Rules, furniture, normalisation and folding all ask per-character questions that the
//! Python code answered with `str` methods (`isspace`, `isalnum` for `re`'s `\w`, `lower`,
//! `casefold`...). The answers here are the running interpreter's, so the core behaves as
//! the Python it replaced whatever Unicode version that interpreter has:
//!
//! * the crate embeds tables generated from Python 3.11's `unicodedata` (Unicode
//!   [`data::UNICODE_VERSION`], `native/gen_unicode.py`, defined by `cleaner/unicode.py`),
//!   read in place: nothing to build at start-up;
//! * an interpreter of another Unicode version installs its own once per process, before any
//!   text reaches the core ([`install`], called by `cleaner.unicode.install`).
//!
//! API (all `#[inline]`, lookups never panic; a `u32` that is not a code point has no flags):
//!
//! ```text
//! let p = unicode::props();           // the process's tables (&'static Props)
//! p.flags(cp) & unicode::SPACE != 0   // raw flags: SPACE ALPHA ALNUM DECIMAL DIGIT NUMERIC
//!                                     //   UPPER LOWER PRINTABLE (str.isX of the char alone)
//! p.is_space(c) p.is_alpha(c) p.is_alnum(c) p.is_word(c)   // word: re's \w (alnum or '_')
//! p.is_decimal(c) p.is_digit(c) p.is_numeric(c) p.is_upper(c) p.is_lower(c)
//! p.category(cp)                      // "Lu", "Cf"... as unicodedata.category
//! p.combining(cp)                     // unicodedata.combining
//! p.nfc_quick_check(&str)             // Quick::{Yes, No, Maybe}: unicodedata.is_normalized("NFC", s)
//!                                     //   is True for Yes, False for No (Maybe: normalise to know)
//! p.lower_cp(cp, |c| ..)  p.casefold_cp(cp, |c| ..)   // full mappings, code point by code point
//! p.lower_into(&str, &mut String)     // str.lower(), Final_Sigma included
//! p.casefold_into(&str, &mut String)  // str.casefold()
//! ```

#[rustfmt::skip]
#[path = "unicode_data.rs"]
pub mod data;

use std::sync::OnceLock;

/// Flag bits of a code point (the order of `cleaner.unicode.FLAGS`).
pub const SPACE: u32 = 1 << 0;
pub const ALPHA: u32 = 1 << 1;
pub const ALNUM: u32 = 1 << 2;
pub const DECIMAL: u32 = 1 << 3;
pub const DIGIT: u32 = 1 << 4;
pub const NUMERIC: u32 = 1 << 5;
pub const UPPER: u32 = 1 << 6;
pub const LOWER: u32 = 1 << 7;
/// Cased and not Case_Ignorable (what ends CPython's Final_Sigma look).
pub const CASED: u32 = 1 << 8;
pub const CASE_IGNORABLE: u32 = 1 << 9;
pub const PRINTABLE: u32 = 1 << 10;
pub const HAS_LOWER: u32 = 1 << 11;
pub const HAS_FOLD: u32 = 1 << 12;
/// NFC_Quick_Check No and Maybe.
pub const NFC_NO: u32 = 1 << 13;
pub const NFC_MAYBE: u32 = 1 << 14;
pub const CATEGORY_SHIFT: u32 = 16;
/// The canonical combining class is in bits 21-28.
pub const COMBINING_SHIFT: u32 = 21;
const CATEGORY_MASK: u32 = 0x1F << CATEGORY_SHIFT;
/// General categories by index (bits 16-20 of the flags).
pub const CATEGORIES: [&str; 30] = [
    "Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co",
    "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So",
];
/// Index of "Cf" in [`CATEGORIES`].
pub const CAT_CF: u32 = 16;
/// Categories L*, M* and N* are indices 1..=11.
const CAT_LMN: std::ops::RangeInclusive<u32> = 1..=11;

const NO_CP: usize = 0x11_0000;
const SIGMA: u32 = 0x3A3;

/// The answer of a quick check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quick {
    Yes,
    No,
    Maybe,
}

/// A code point mapping (lower case, case fold): the code points whose mapping differs from
/// themselves, sorted, each mapped to `pool[starts[i]..starts[i + 1]]`.
#[derive(Clone, Copy)]
pub struct Mapping {
    keys: &'static [u32],
    starts: &'static [u32],
    pool: &'static [u32],
}

impl Mapping {
    fn new(keys: &'static [u32], starts: &'static [u32], pool: &'static [u32]) -> Result<Self, String> {
        if starts.len() != keys.len() + 1 || starts.first().is_some_and(|&s| s != 0) {
            return Err("mapping: starts must have one entry more than keys, from 0".into());
        }
        if starts.windows(2).any(|w| w[0] > w[1]) || starts.last().is_some_and(|&s| s as usize != pool.len()) {
            return Err("mapping: starts must rise to the pool's length".into());
        }
        if keys.windows(2).any(|w| w[0] >= w[1]) {
            return Err("mapping: keys must be sorted and unique".into());
        }
        if keys.iter().chain(pool).any(|&c| c as usize >= NO_CP) {
            return Err("mapping: a key or a mapped value is not a code point".into());
        }
        Ok(Mapping { keys, starts, pool })
    }

    /// The mapping of `cp`, or None when it maps to itself.
    #[inline]
    fn get(&self, cp: u32) -> Option<&'static [u32]> {
        let i = self.keys.binary_search(&cp).ok()?;
        let (lo, hi) = (*self.starts.get(i)?, *self.starts.get(i + 1)?);
        self.pool.get(lo as usize..hi as usize)
    }
}

/// The Unicode tables: per-code-point flags in a two-stage table, and the lower-case and
/// case-fold mappings.
pub struct Props {
    version: &'static str,
    stage1: &'static [u16],
    stage2: &'static [u32],
    lower: Mapping,
    fold: Mapping,
}

static EMBEDDED: Props = Props {
    version: data::UNICODE_VERSION,
    stage1: &data::STAGE1,
    stage2: &data::STAGE2,
    lower: Mapping {
        keys: &data::LOWER_KEYS,
        starts: &data::LOWER_STARTS,
        pool: &data::LOWER_POOL,
    },
    fold: Mapping {
        keys: &data::FOLD_KEYS,
        starts: &data::FOLD_STARTS,
        pool: &data::FOLD_POOL,
    },
};
static INSTALLED: OnceLock<Props> = OnceLock::new();

/// The tables of this process: those [`install`]ed, else the embedded ones.
#[inline]
pub fn props() -> &'static Props {
    INSTALLED.get().unwrap_or(&EMBEDDED)
}

/// The Unicode version of [`props`].
pub fn version() -> &'static str {
    props().version
}

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

/// Installs the interpreter's tables (`flags`: one per code point; the mappings as in
/// [`Mapping`]), for an interpreter whose Unicode version is not the embedded one. Once per
/// process; a second install must bring the same version. The tables live for the process.
pub fn install(
    version: &str,
    flags: &[u32],
    lower: (Vec<u32>, Vec<u32>, Vec<u32>),
    fold: (Vec<u32>, Vec<u32>, Vec<u32>),
) -> Result<(), String> {
    if let Some(p) = INSTALLED.get() {
        return if p.version == version {
            Ok(())
        } else {
            Err(format!("Unicode {} tables already installed, not {version}", p.version))
        };
    }
    let props = Props::build(leak(version.as_bytes().to_vec()), flags, lower, fold)?;
    // a concurrent install of the same tables may win: either is right
    let _ = INSTALLED.set(props);
    Ok(())
}

impl Props {
    /// Tables from flat per-code-point flags, compressed into two stages like the embedded ones.
    fn build(
        version: &'static [u8],
        flags: &[u32],
        lower: (Vec<u32>, Vec<u32>, Vec<u32>),
        fold: (Vec<u32>, Vec<u32>, Vec<u32>),
    ) -> Result<Props, String> {
        if flags.len() != NO_CP {
            return Err(format!("flag table has {} entries, not {NO_CP}", flags.len()));
        }
        if flags
            .iter()
            .any(|&f| (f & CATEGORY_MASK) >> CATEGORY_SHIFT >= CATEGORIES.len() as u32)
        {
            return Err("flag table: unknown general category".into());
        }
        let version = std::str::from_utf8(version).map_err(|e| e.to_string())?;
        let mut seen = std::collections::HashMap::new();
        let mut stage1 = Vec::with_capacity(NO_CP / data::BLOCK);
        let mut stage2 = Vec::new();
        for block in flags.chunks(data::BLOCK) {
            let next = seen.len();
            let i = *seen.entry(block).or_insert_with(|| {
                stage2.extend_from_slice(block);
                next
            });
            stage1.push(u16::try_from(i).map_err(|_| "flag table: too many distinct blocks")?);
        }
        Ok(Props {
            version,
            stage1: leak(stage1),
            stage2: leak(stage2),
            lower: Mapping::new(leak(lower.0), leak(lower.1), leak(lower.2))?,
            fold: Mapping::new(leak(fold.0), leak(fold.1), leak(fold.2))?,
        })
    }

    /// The flags of a code point (0 for a value that is not one).
    #[inline]
    pub fn flags(&self, cp: u32) -> u32 {
        let cp = cp as usize;
        let Some(&block) = self.stage1.get(cp / data::BLOCK) else {
            return 0;
        };
        self.stage2
            .get(block as usize * data::BLOCK + cp % data::BLOCK)
            .copied()
            .unwrap_or(0)
    }

    #[inline]
    fn has(&self, c: char, flag: u32) -> bool {
        self.flags(c as u32) & flag != 0
    }

    /// `c.isspace()`.
    #[inline]
    pub fn is_space(&self, c: char) -> bool {
        self.has(c, SPACE)
    }
    /// `c.isalpha()`.
    #[inline]
    pub fn is_alpha(&self, c: char) -> bool {
        self.has(c, ALPHA)
    }
    /// `c.isalnum()`.
    #[inline]
    pub fn is_alnum(&self, c: char) -> bool {
        self.has(c, ALNUM)
    }
    /// Python `re`'s `\w` on a `str` pattern: `c.isalnum() or c == "_"`.
    #[inline]
    pub fn is_word(&self, c: char) -> bool {
        c == '_' || self.has(c, ALNUM)
    }
    /// `c.isdecimal()` (`re`'s `\d`).
    #[inline]
    pub fn is_decimal(&self, c: char) -> bool {
        self.has(c, DECIMAL)
    }
    /// `c.isdigit()`.
    #[inline]
    pub fn is_digit(&self, c: char) -> bool {
        self.has(c, DIGIT)
    }
    /// `c.isnumeric()`.
    #[inline]
    pub fn is_numeric(&self, c: char) -> bool {
        self.has(c, NUMERIC)
    }
    /// `c.isupper()` of the character alone.
    #[inline]
    pub fn is_upper(&self, c: char) -> bool {
        self.has(c, UPPER)
    }
    /// `c.islower()` of the character alone.
    #[inline]
    pub fn is_lower(&self, c: char) -> bool {
        self.has(c, LOWER)
    }
    /// `c.isprintable()`.
    #[inline]
    pub fn is_printable(&self, c: char) -> bool {
        self.has(c, PRINTABLE)
    }

    /// The general category index (see [`CATEGORIES`]) of a code point.
    #[inline]
    pub fn category_index(&self, cp: u32) -> u32 {
        (self.flags(cp) & CATEGORY_MASK) >> CATEGORY_SHIFT
    }

    /// `unicodedata.category(chr(cp))`.
    #[inline]
    pub fn category(&self, cp: u32) -> &'static str {
        CATEGORIES
            .get(self.category_index(cp) as usize)
            .copied()
            .unwrap_or("Cn")
    }

    /// `unicodedata.combining(chr(cp))`, the canonical combining class.
    #[inline]
    pub fn combining(&self, cp: u32) -> u32 {
        (self.flags(cp) >> COMBINING_SHIFT) & 0xFF
    }

    /// CPython's NFC quick check (`is_normalized_quickcheck`): `No` at a combining mark out
    /// of canonical order or a character that cannot occur in NFC; `Maybe` when one may
    /// compose with the character before it; else `Yes`. `unicodedata.is_normalized("NFC",
    /// text)` is the answer for `Yes` and `No`, and normalises to compare for `Maybe`.
    pub fn nfc_quick_check(&self, text: &str) -> Quick {
        let mut result = Quick::Yes;
        let mut prev = 0;
        for c in text.chars() {
            let f = self.flags(c as u32);
            let ccc = (f >> COMBINING_SHIFT) & 0xFF;
            if ccc != 0 && prev > ccc {
                return Quick::No;
            }
            prev = ccc;
            if f & NFC_NO != 0 {
                return Quick::No;
            }
            if f & NFC_MAYBE != 0 {
                result = Quick::Maybe;
            }
        }
        result
    }

    /// Whether the category is a letter, mark or number (L*, M*, N*).
    #[inline]
    pub fn is_letter_mark_number(&self, cp: u32) -> bool {
        CAT_LMN.contains(&self.category_index(cp))
    }

    /// Calls `f` with each code point of `cp`'s full lower-case mapping (no context: the
    /// Final_Sigma rule needs the text, see [`Props::lower_into`]).
    #[inline]
    pub fn lower_cp(&self, cp: u32, mut f: impl FnMut(u32)) {
        match (self.flags(cp) & HAS_LOWER != 0).then(|| self.lower.get(cp)).flatten() {
            Some(m) => m.iter().for_each(|&c| f(c)),
            None => f(cp),
        }
    }

    /// Calls `f` with each code point of `str.casefold` of `cp`.
    #[inline]
    pub fn casefold_cp(&self, cp: u32, mut f: impl FnMut(u32)) {
        match (self.flags(cp) & HAS_FOLD != 0).then(|| self.fold.get(cp)).flatten() {
            Some(m) => m.iter().for_each(|&c| f(c)),
            None => f(cp),
        }
    }

    /// Appends `text.lower()` to `out`: full mappings, and capital sigma as final sigma
    /// where CPython's `handle_capital_sigma` puts one (after a cased letter, skipping
    /// case-ignorables, and not before one).
    pub fn lower_into(&self, text: &str, out: &mut String) {
        if text.is_ascii() {
            out.extend(text.chars().map(|c| c.to_ascii_lowercase()));
            return;
        }
        for (i, c) in text.char_indices() {
            let cp = c as u32;
            if cp == SIGMA {
                out.push(if self.final_sigma(text, i) {
                    '\u{3C2}'
                } else {
                    '\u{3C3}'
                });
            } else {
                self.lower_cp(cp, |m| out.push(char::from_u32(m).unwrap_or('\u{FFFD}')));
            }
        }
    }

    /// Whether the capital sigma at byte `i` of `text` is final (CPython's rule).
    fn final_sigma(&self, text: &str, i: usize) -> bool {
        let before = text.get(..i).unwrap_or("");
        let after = text.get(i + 'Σ'.len_utf8()..).unwrap_or("");
        let ignorable = |c: &char| self.flags(*c as u32) & CASE_IGNORABLE != 0;
        let cased = |c: Option<char>| c.is_some_and(|c| self.flags(c as u32) & CASED != 0);
        cased(before.chars().rev().find(|c| !ignorable(c))) && !cased(after.chars().find(|c| !ignorable(c)))
    }

    /// Appends `text.casefold()` to `out`.
    pub fn casefold_into(&self, text: &str, out: &mut String) {
        for c in text.chars() {
            self.casefold_cp(c as u32, |m| out.push(char::from_u32(m).unwrap_or('\u{FFFD}')));
        }
    }
}

/// `chr(c).isspace()` for an ASCII code point (`c < 0x80`), by arithmetic: 0x09-0x0D, 0x1C-0x1F
/// and the space. The ASCII fast paths of several kernels ask it of every character; this is
/// their one definition (the tests check it against the table's [`SPACE`] flag).
#[inline]
pub fn ascii_isspace(c: u32) -> bool {
    (c == 0x20) | (c.wrapping_sub(0x09) < 5) | (c.wrapping_sub(0x1C) < 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower(s: &str) -> String {
        let mut out = String::new();
        props().lower_into(s, &mut out);
        out
    }

    #[test]
    fn embedded_flags_answer_like_python() {
        let p = props();
        assert!(p.is_space(' ') && p.is_space('\u{3000}') && p.is_space('\x1c') && !p.is_space('\u{200B}'));
        assert!(p.is_word('_') && p.is_word('é') && p.is_word('²') && !p.is_word('-'));
        assert!(p.is_digit('²') && !p.is_decimal('²') && p.is_decimal('٣'));
        assert!(p.is_upper('A') && !p.is_upper('ǅ') && p.is_lower('ß'));
        assert_eq!(p.category(0xAD), "Cf");
        assert_eq!(p.category(0x41), "Lu");
        assert_eq!(p.category(0x110000), "Cn");
        assert!(p.is_letter_mark_number(0x0301) && !p.is_letter_mark_number(0x2D));
    }

    #[test]
    fn ascii_isspace_is_the_tables_space() {
        let p = props();
        for c in 0u32..0x80 {
            let ch = char::from_u32(c).expect("ASCII");
            assert_eq!(ascii_isspace(c), p.is_space(ch), "{c:#x}");
        }
    }

    #[test]
    fn lower_and_casefold_are_full_mappings() {
        assert_eq!(lower("ABC déF"), "abc déf");
        assert_eq!(lower("\u{130}"), "i\u{307}");
        let mut out = String::new();
        props().casefold_into("Straße ﬁ", &mut out);
        assert_eq!(out, "strasse fi");
    }

    #[test]
    fn final_sigma_follows_cpython() {
        // "ΟΔΟΣ".lower() == "οδος"; a lone Σ, or one before a letter, stays σ
        assert_eq!(lower("ΟΔΟΣ"), "οδος");
        assert_eq!(lower("Σ"), "σ");
        assert_eq!(lower("ΣΑ"), "σα");
        assert_eq!(lower("Α'Σ'"), "α'ς'");
        assert_eq!(lower("ΑΣ'Α"), "ασ'α");
        assert_eq!(lower("ΑΣ."), "ας.");
    }

    #[test]
    fn install_refuses_bad_tables() {
        let none = || (vec![], vec![0], vec![]);
        assert!(Props::build(b"x", &[0; 10], none(), none()).is_err());
        assert!(Props::build(b"x", &vec![31 << CATEGORY_SHIFT; NO_CP], none(), none()).is_err());
        assert!(Props::build(b"x", &vec![0; NO_CP], (vec![65], vec![0], vec![]), none()).is_err());
        assert!(Props::build(b"x", &vec![0; NO_CP], (vec![66, 65], vec![0, 1, 2], vec![1, 2]), none()).is_err());
        let p = Props::build(b"x", &vec![HAS_LOWER; NO_CP], (vec![65], vec![0, 1], vec![97]), none()).unwrap();
        let mut out = vec![];
        p.lower_cp(65, |c| out.push(c));
        p.lower_cp(66, |c| out.push(c));
        assert_eq!(out, vec![97, 66]);
    }
}

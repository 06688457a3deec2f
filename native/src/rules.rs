//! The chrome rules' matcher: every rule pattern of a rule set, tested against a line in one
//! pass.
//!
//! A rule is a pattern (Python `re` syntax, as the TOML packs write it) applied as a whole-line
//! match or, for the `inline` kind, as a search. Patterns are parsed once, by fancy-regex's
//! parser, and written back out in the `regex` crate's syntax:
//!
//! - the **exact** form, when the pattern needs nothing a finite automaton cannot do: it runs
//!   on `regex` (linear time: no pattern or line can make it hang);
//! - an **approximation** for every pattern: the same tree with its zero-width assertions that
//!   a DFA cannot run cheaply (lookaround, word boundaries) dropped and atomic groups opened.
//!   Dropping a zero-width assertion only lets more lines match, so a line the approximation
//!   rejects cannot match the rule.
//!
//! All approximations go into two lazy DFAs (regex-automata, anchored at both ends; see
//! [`Matcher`]): a walk of each over a line names the rules that can match it. A rule
//! whose approximation is its exact form is then decided; the others (a word boundary, a
//! lookaround) are confirmed by their own regex: `regex` for a word boundary, fancy-regex
//! (a backtracker bounded by a step limit; over the limit is "no match") for lookaround.

use std::borrow::Cow;
use std::sync::OnceLock;

use fancy_regex::internal::FLAG_CASEI;
use fancy_regex::{Assertion, Expr, LookAround};
use std::sync::Mutex;

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::meta;
use regex_automata::nfa::thompson;
use regex_automata::{Anchored, Input, MatchError, MatchKind};
use regex_syntax::hir::Hir;

/// Steps fancy-regex may backtrack on one line before giving up (no match): the bound that
/// replaces the `regex` module's time-out, deterministic where a time-out is not.
pub const BACKTRACK_LIMIT: usize = 1_000_000;
/// The compiled size a pattern (or the set of all of them) may take: the packs' bounded
/// repeats of Unicode classes (`[^.]{0,400}`) are large automata, but a user's
/// `((a{1000}){1000}){10}` is refused at load instead of eating memory (see
/// [`Pattern::check`]).
const SIZE_LIMIT: usize = 256 << 20;
/// Memory for each set's lazy DFA (per thread): enough that the packs' states are built once
/// and kept, rather than the cache being cleared and rebuilt line after line.
const DFA_LIMIT: usize = 64 << 20;
/// [`DFA_LIMIT`] of the sets of the `long` rules alone ([`Matcher::long_line`]): a thread
/// has those caches too, beside the whole sets', and they hold 72 of the packs' 412 rules
/// (a smaller automaton, fewer states to keep), so a quarter bounds them, and a thread's
/// caches to 1.25 times what they were before the `long` sets, not twice. (A cache that fills
/// is cleared and its states built again: slower, never another answer.)
const DFA_LONG_LIMIT: usize = 16 << 20;

/// Bounded repeats above this many copies are unbounded in the approximations.
const RELAX_ABOVE: usize = 16;

/// How a rule's own regex runs.
enum Exact {
    /// linear time, `regex`'s engines (see [`Pattern::compiled`])
    Linear(meta::Regex),
    /// bounded backtracking, fancy-regex
    Backtrack(fancy_regex::Regex),
}

/// One rule's pattern, as it is applied (whole line or search).
pub struct Pattern {
    /// the pattern in `regex` syntax when `regex` can run it exactly; `None`: fancy-regex
    exact_src: Option<String>,
    /// the pattern as fancy-regex takes it (with the case and anchoring applied)
    fancy_src: String,
    /// the approximation that goes into the set (`None`: every line is a candidate), parsed
    pub approx: Option<Hir>,
    /// whether the approximation is the pattern itself (a set hit is a match)
    pub approx_exact: bool,
    /// the longest line (in characters) on which the approximation decides the rule: when
    /// it differs from the pattern only in the long bounded repeats it loops instead
    /// ([`RELAX_ABOVE`]), a line too short for any of them to run past its bound (see
    /// [`unrelaxed_upto`]); 0 otherwise
    pub exact_upto: usize,
    /// a search (inline kind) rather than a whole-line match
    pub search: bool,
    case_sensitive: bool,
    exact: OnceLock<Result<Exact, String>>,
    /// the linear form for ASCII lines (see [`ascii_only`]); `None`: the full form serves
    ascii: OnceLock<Option<meta::Regex>>,
    /// a whole-line pattern whose every alternative is free of lookaround or opens with a
    /// lookahead, `(?!X)Y` or `(?=X)Y` with X and Y free of it: those alternatives, each run
    /// on linear regexes (see [`Branch`]); empty for any other pattern
    branches: Vec<Branch>,
}

/// An alternative of a whole-line pattern, run as linear regexes of its own (see
/// [`Pattern::branches`]): `\A(?:(?!X)Y)\z` matches a line exactly when `\A(?:X)` finds no
/// match at its start (`(?=X)`: finds one) and `\A(?:Y)\z` matches it, the lookahead being
/// tried at that one position; a pattern matches a whole line when one of its alternatives
/// does. Each part is a linear regex with its ASCII form, where fancy-regex compiled the
/// whole pattern into delegates each with every engine of `regex` (a reverse automaton, a
/// literal prefilter): the packs' lookahead rules (a cookie notice that is no quote, a
/// comment count that is not 0) cost a worker tens of milliseconds each to compile. The
/// answers are fancy-regex's wherever its backtracker finishes, as it does in a few steps a
/// line on the packs' rules of this shape. Where it would give up ([`BACKTRACK_LIMIT`]; a
/// `Y` that nests repeats, `(?!x)(?:a+)+b`), these linear parts still answer, and truly:
/// such a user rule is no longer refused at load as backtracking catastrophically, since
/// nothing here backtracks.
struct Branch {
    /// the lookahead: whether it is negative, and `\A(?:X)` as a search
    lead: Option<(bool, Pattern)>,
    /// `\A(?:Y)\z`
    rest: Pattern,
}

/// Result of one regex run: a match span (byte offsets), no match, or the backtracking limit
/// reached (counted as no match).
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    Span(usize, usize),
    None,
    Exceeded,
}

impl Pattern {
    /// Parse `pattern`; the error is the cause, worded for a rule author.
    pub fn new(pattern: &str, case_sensitive: bool, search: bool) -> Result<Pattern, String> {
        let flags = if case_sensitive { 0 } else { FLAG_CASEI };
        let tree = Expr::parse_tree_with_flags(pattern, flags).map_err(|e| e.to_string())?;
        let body = write(&tree.expr, Mode::Exact, !case_sensitive);
        let approx = write(&tree.expr, Mode::Approx, !case_sensitive);
        let wrap = |s: &str| {
            if search {
                s.to_string()
            } else {
                format!(r"\A(?:{s})\z")
            }
        };
        let approx_exact = body.is_some() && body == approx;
        // the approximation with its long repeats kept is the pattern: it differs from it
        // in those alone
        let only_looped = body.is_some() && !approx_exact && write(&tree.expr, Mode::Bounded, !case_sensitive) == body;
        let exact_upto = if only_looped { unrelaxed_upto(&tree.expr) } else { 0 };
        // (the pattern has lookaround, so `body` is None and the set never decides it: its
        // branches are always run)
        let branches = if search || body.is_some() {
            vec![]
        } else {
            Branch::of(&tree.expr, !case_sensitive).unwrap_or_default()
        };
        let exact_src = body.as_deref().map(wrap);
        let p = Pattern {
            exact_src,
            fancy_src: if search {
                pattern.to_string()
            } else {
                format!(r"\A(?:{pattern})\z")
            },
            case_sensitive,
            approx: approx.as_deref().map(wrap).as_deref().map(parse).transpose()?,
            approx_exact,
            exact_upto,
            search,
            exact: OnceLock::new(),
            ascii: OnceLock::new(),
            branches,
        };
        // what the parser took must also be what the engines take: the approximation is
        // parsed above, and the exact form differs from it only in what this module writes
        // (word boundaries, repeat bounds); a pattern with lookaround is checked when it
        // first runs, by fancy-regex, which parsed it already
        if let (None, Some(e)) = (&p.approx, &p.exact_src) {
            parse(e)?;
        }
        for b in &p.branches {
            for part in b.lead.iter().map(|(_, t)| t).chain([&b.rest]) {
                parse(part.exact_src.as_deref().unwrap_or_default())?;
            }
        }
        Ok(p)
    }

    /// Whether the rule runs on the bounded backtracker (it has lookaround or the like).
    pub fn backtracks(&self) -> bool {
        self.exact_src.is_none() && self.branches.is_empty()
    }

    /// Whether the approximation's answer (a set's) on `line` is the rule's own: always
    /// when it is the pattern itself, and on a line of at most [`Pattern::exact_upto`]
    /// characters when it only loops where the pattern counts. Such a line needs no regex of
    /// the rule's own, whose build (the pattern's long repeats, each as many copies of its
    /// body as its bound) was most of what a worker spent compiling its rules.
    pub fn decided_by_set(&self, line: &str) -> bool {
        let upto = self.exact_upto;
        // `upto` 0 is "never": an empty line is no shorter than that bound, it has none
        self.approx_exact
            || (upto > 0
                && (line.len() <= upto || (line.len() <= upto.saturating_mul(4) && line.chars().count() <= upto)))
    }

    /// The engines' configuration for a rule's own regex: only the engines that need no
    /// more than the forward automaton (a rule's own regex runs on the few lines the set
    /// names, which do not pay back building a lazy DFA, a reverse automaton and a literal
    /// prefilter for each of 400 rules).
    fn linear_config() -> meta::Config {
        meta::Config::new()
            .hybrid(false)
            .dfa(false)
            .onepass(false)
            .auto_prefilter(false)
            .which_captures(thompson::WhichCaptures::Implicit)
            .nfa_size_limit(Some(SIZE_LIMIT))
    }

    /// The linear form of the pattern for a line of ASCII characters only: its parsed form
    /// with each class cut to its ASCII part and Unicode word boundaries made ASCII ones
    /// ([`ascii_only`]). The automaton of a Unicode class is hundreds of states, one copy per
    /// repeat (`[\w-]{2,63}` is 63 copies): building it is most of what a worker spends on
    /// its rules before its lines are matched, while an ASCII line can only meet a class's
    /// ASCII part.
    fn ascii_form(&self) -> Option<&meta::Regex> {
        self.ascii
            .get_or_init(|| {
                let src = self.exact_src.as_ref()?;
                // when the approximation is the pattern, its parsed form (kept for the set)
                // is the one `src` parses to: the same text (see `Pattern::new`), and a
                // parse, with its Unicode case folding, is most of a build
                let parsed;
                let hir = match &self.approx {
                    Some(h) if self.approx_exact => h,
                    _ => {
                        parsed = regex_syntax::Parser::new().parse(src).ok()?;
                        &parsed
                    }
                };
                meta::Regex::builder()
                    .configure(Pattern::linear_config())
                    .build_from_hir(&ascii_only(hir))
                    .ok()
            })
            .as_ref()
    }

    fn compiled(&self) -> Result<&Exact, String> {
        self.exact
            .get_or_init(|| match &self.exact_src {
                // only the engines that need no more than the forward automaton: a rule's own
                // regex runs on the few lines the set names, which do not pay back building a
                // lazy DFA, a reverse automaton and a literal prefilter for each of 400 rules
                Some(src) => meta::Regex::builder()
                    .configure(Pattern::linear_config())
                    .build(src)
                    .map(Exact::Linear)
                    .map_err(|e| with_sources(&e)),
                None => fancy_regex::RegexBuilder::new(&self.fancy_src)
                    .case_insensitive(!self.case_sensitive)
                    .backtrack_limit(BACKTRACK_LIMIT)
                    .delegate_size_limit(SIZE_LIMIT)
                    .build()
                    .map(Exact::Backtrack)
                    .map_err(|e| with_sources(&e)),
            })
            .as_ref()
            .map_err(|e| e.clone())
    }

    /// Compile the rule's own regex now, in its full (Unicode) form; the cause if the engines
    /// refuse it. [`Pattern::new`] parses a pattern but leaves its automaton to its first use
    /// (a worker's, for most patterns; the built-in packs' are checked by the test suite):
    /// one over [`SIZE_LIMIT`] would only show, on that first use, as a rule that never
    /// matches a line with a non-ASCII character. The loader calls this for a user's rules,
    /// so that such a pattern is refused when it is loaded, with its file and line. The form
    /// for ASCII lines ([`Pattern::ascii_form`]) is never the larger: each class is cut to
    /// its ASCII part (and were it refused, the full form would serve).
    pub fn check(&self) -> Result<(), String> {
        if !self.branches.is_empty() {
            for b in &self.branches {
                if let Some((_, test)) = &b.lead {
                    test.check()?;
                }
                b.rest.check()?;
            }
            return Ok(());
        }
        self.compiled().map(|_| ())
    }

    /// The match of the rule in `line` (whole line, or the first span found by a search).
    pub fn find(&self, line: &str) -> Found {
        if !self.branches.is_empty() {
            let whole = self.branches.iter().any(|b| {
                b.lead
                    .as_ref()
                    .is_none_or(|(negative, test)| matches!(test.find(line), Found::Span(..)) != *negative)
                    && matches!(b.rest.find(line), Found::Span(..))
            });
            return if whole { Found::Span(0, line.len()) } else { Found::None };
        }
        if self.exact_src.is_some() && line.is_ascii() {
            if let Some(re) = self.ascii_form() {
                return match re.find(line) {
                    Some(m) => Found::Span(m.start(), m.end()),
                    None => Found::None,
                };
            }
        }
        match self.compiled() {
            Err(_) => Found::None,
            Ok(Exact::Linear(re)) => match re.find(line) {
                Some(m) => Found::Span(m.start(), m.end()),
                None => Found::None,
            },
            Ok(Exact::Backtrack(re)) => match re.find(line) {
                Ok(Some(m)) => Found::Span(m.start(), m.end()),
                Ok(None) => Found::None,
                Err(_) => Found::Exceeded,
            },
        }
    }
}

impl Branch {
    /// The alternatives of a whole-line pattern (its tree, under case-insensitivity
    /// `casei`) when each is free of lookaround or opens with a lookahead whose parts are
    /// (see [`Branch`]); None for any other pattern.
    fn of(expr: &Expr, casei: bool) -> Option<Vec<Branch>> {
        match expr {
            Expr::Group(child) => Branch::of(child, casei),
            Expr::Alt(items) => items.iter().map(|e| Branch::one(e, casei)).collect(),
            other => Some(vec![Branch::one(other, casei)?]),
        }
    }

    fn one(expr: &Expr, casei: bool) -> Option<Branch> {
        if let Some(y) = write(expr, Mode::Exact, casei) {
            return Some(Branch {
                lead: None,
                rest: Pattern::linear(format!(r"\A(?:{y})\z"), false, casei),
            });
        }
        let items = match expr {
            Expr::Concat(items) => items,
            Expr::Group(child) => return Branch::one(child, casei),
            _ => return None,
        };
        let (Some(Expr::LookAround(x, kind)), rest) = (items.first(), &items[1..]) else {
            return None;
        };
        let negative = match kind {
            LookAround::LookAhead => false,
            LookAround::LookAheadNeg => true,
            _ => return None,
        };
        let x = write(x, Mode::Exact, casei)?;
        let y = write(&Expr::Concat(rest.to_vec()), Mode::Exact, casei)?;
        Some(Branch {
            lead: Some((negative, Pattern::linear(format!(r"\A{x}"), true, casei))),
            rest: Pattern::linear(format!(r"\A(?:{y})\z"), false, casei),
        })
    }
}

impl Pattern {
    /// A pattern of `regex` syntax, run on its linear regex alone (a part of a [`Branch`]).
    fn linear(src: String, search: bool, casei: bool) -> Pattern {
        Pattern {
            exact_src: Some(src),
            fancy_src: String::new(),
            approx: None,
            approx_exact: false,
            exact_upto: 0,
            search,
            case_sensitive: !casei,
            exact: OnceLock::new(),
            ascii: OnceLock::new(),
            branches: vec![],
        }
    }
}

/// `h` as it can match a haystack of ASCII characters: each class cut to its ASCII part and
/// each Unicode word boundary made the ASCII one. On such a haystack it matches exactly
/// where `h` does, with the same spans: a character of the haystack is in a class exactly
/// when it is in the class's ASCII part, a literal with a non-ASCII character matches in
/// neither, and `\w` (which word boundaries test) holds for the same ASCII characters in
/// Unicode and in ASCII (letters, digits, `_`); the structure, and so which match a search
/// prefers, is unchanged.
fn ascii_only(h: &Hir) -> Hir {
    use regex_syntax::hir::{
        Capture, Class, ClassBytes, ClassBytesRange, ClassUnicode, ClassUnicodeRange, HirKind, Look, Repetition,
    };
    match h.kind() {
        HirKind::Empty | HirKind::Literal(_) => h.clone(),
        HirKind::Class(Class::Unicode(c)) => {
            let mut c = c.clone();
            c.intersect(&ClassUnicode::new([ClassUnicodeRange::new('\0', '\x7F')]));
            Hir::class(Class::Unicode(c))
        }
        HirKind::Class(Class::Bytes(c)) => {
            let mut c = c.clone();
            c.intersect(&ClassBytes::new([ClassBytesRange::new(0, 0x7F)]));
            Hir::class(Class::Bytes(c))
        }
        HirKind::Look(look) => Hir::look(match look {
            Look::WordUnicode => Look::WordAscii,
            Look::WordUnicodeNegate => Look::WordAsciiNegate,
            Look::WordStartUnicode => Look::WordStartAscii,
            Look::WordEndUnicode => Look::WordEndAscii,
            Look::WordStartHalfUnicode => Look::WordStartHalfAscii,
            Look::WordEndHalfUnicode => Look::WordEndHalfAscii,
            other => *other,
        }),
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            min: r.min,
            max: r.max,
            greedy: r.greedy,
            sub: Box::new(ascii_only(&r.sub)),
        }),
        HirKind::Capture(c) => Hir::capture(Capture {
            index: c.index,
            name: c.name.clone(),
            sub: Box::new(ascii_only(&c.sub)),
        }),
        HirKind::Concat(items) => Hir::concat(items.iter().map(ascii_only).collect()),
        HirKind::Alternation(items) => Hir::alternation(items.iter().map(ascii_only).collect()),
    }
}

/// An error with its causes (`regex`'s build error says "error building NFA", its source
/// what went wrong: the size limit exceeded).
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `regex`'s own parser on a pattern we wrote: catches what fancy-regex's parser passes
/// through unread (a class body, an escape) without building any automaton.
fn parse(src: &str) -> Result<Hir, String> {
    // the cause alone: the text we wrote is not the pattern the rule's author wrote
    regex_syntax::Parser::new().parse(src).map_err(|e| match e {
        regex_syntax::Error::Parse(e) => e.kind().to_string(),
        regex_syntax::Error::Translate(e) => e.kind().to_string(),
        e => e.to_string(),
    })
}

/// Several patterns in one lazy DFA that reports every pattern matching a line (the
/// automaton's states are built as lines need them and kept, in a cache per thread).
struct Set {
    dfa: DFA,
    /// the rule of each pattern of the set
    ids: Vec<usize>,
    /// boxed: a cache is a large struct, taken out and put back for every line
    #[allow(clippy::vec_box)]
    caches: Mutex<Vec<Box<Cache>>>,
}

impl Set {
    fn new(hirs: &[Cow<'_, Hir>], ids: Vec<usize>, cache: usize) -> Result<Option<Set>, String> {
        if hirs.is_empty() {
            return Ok(None);
        }
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .which_captures(thompson::WhichCaptures::None)
                    .nfa_size_limit(Some(SIZE_LIMIT)),
            )
            .build_many_from_hir(hirs)
            .map_err(|e| e.to_string())?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(cache)
                    .skip_cache_capacity_check(true),
            )
            .build_from_nfa(nfa)
            .map_err(|e| e.to_string())?;
        Ok(Some(Set {
            dfa,
            ids,
            caches: Mutex::new(vec![]),
        }))
    }

    /// Add the rules of the patterns that match in `line` to `out`; false if the DFA could
    /// not tell (then every pattern of the set is a candidate).
    fn matches(&self, line: &str, out: &mut Vec<usize>) -> bool {
        // try_lock: a lock held at fork time (workers are forked) must not block a child
        let mut cache = self
            .caches
            .try_lock()
            .ok()
            .and_then(|mut c| c.pop())
            .unwrap_or_else(|| Box::new(self.dfa.create_cache()));
        let mark = out.len();
        let ok = self.scan(&mut cache, line, out).is_ok();
        if let Ok(mut c) = self.caches.try_lock() {
            c.push(cache);
        }
        if !ok {
            out.truncate(mark);
            out.extend(&self.ids);
        }
        ok
    }

    /// One walk of the DFA over `line`, byte by byte (what an overlapping search does,
    /// without its bookkeeping per match). The set's patterns run from `\A` to `\z`, so
    /// they can only match at the end of the line: the walk stops where the automaton dies
    /// (for the short-lived set, most lines a few bytes in) and reads the patterns of the
    /// state at the end.
    fn scan(&self, cache: &mut Cache, line: &str, out: &mut Vec<usize>) -> Result<(), MatchError> {
        let dfa = &self.dfa;
        let input = Input::new(line).anchored(Anchored::Yes);
        let mut sid = dfa.start_state_forward(cache, &input)?;
        let gave_up = |at: usize| move |_| MatchError::gave_up(at);
        for (at, &b) in line.as_bytes().iter().enumerate() {
            sid = dfa.next_state(cache, sid, b).map_err(gave_up(at))?;
            if sid.is_tagged() {
                if sid.is_dead() {
                    return Ok(());
                }
                if sid.is_quit() {
                    return Err(MatchError::quit(b, at));
                }
            }
        }
        sid = dfa.next_eoi_state(cache, sid).map_err(gave_up(line.len()))?;
        if sid.is_match() {
            self.collect(cache, sid, out);
        }
        Ok(())
    }

    /// The rules of the patterns of match state `sid`.
    fn collect(&self, cache: &Cache, sid: LazyStateID, out: &mut Vec<usize>) {
        for i in 0..self.dfa.match_len(cache, sid) {
            if let Some(&n) = self.ids.get(self.dfa.match_pattern(cache, sid, i).as_usize()) {
                out.push(n);
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// the pattern itself; `None` when it needs more than `regex` can do
    Exact,
    /// lookaround and word boundaries dropped (each only narrows a match), and long bounded
    /// repeats looped ([`relaxed`])
    Approx,
    /// [`Mode::Approx`] with the long bounded repeats kept: what the approximation would be
    /// without them
    Bounded,
}

impl Mode {
    /// Lookaround, word boundaries and atomic groups are dropped (opened).
    fn drops(self) -> bool {
        self != Mode::Exact
    }
}

/// Whether the approximation loops a repeat of `child` at most `hi` times: a bounded repeat
/// over [`RELAX_ABOVE`] copies (but of a literal, a string of a few states a copy).
fn relaxed(child: &Expr, hi: usize) -> bool {
    hi != usize::MAX && hi > RELAX_ABOVE && !matches!(child, Expr::Literal { .. })
}

/// The longest line, in characters, on which no repeat the approximation loops
/// ([`relaxed`]) can be taken more times than its bound: each time takes at least its
/// body's [`min_chars`], so `hi` times that many characters leave no room for one time more.
/// 0 where that cannot be told: a body that can match nothing, or a repeat whose lower bound
/// the approximation lowered too. `usize::MAX` when no repeat is looped.
fn unrelaxed_upto(expr: &Expr) -> usize {
    match expr {
        Expr::Concat(items) | Expr::Alt(items) => items.iter().map(unrelaxed_upto).min().unwrap_or(usize::MAX),
        Expr::Group(child) | Expr::AtomicGroup(child) | Expr::LookAround(child, _) => unrelaxed_upto(child),
        Expr::Repeat { child, lo, hi, .. } => {
            let inner = unrelaxed_upto(child);
            if !relaxed(child, *hi) {
                inner
            } else if *lo > RELAX_ABOVE {
                0
            } else {
                inner.min(hi.saturating_mul(min_chars(child)))
            }
        }
        Expr::Conditional {
            condition,
            true_branch,
            false_branch,
        } => unrelaxed_upto(condition)
            .min(unrelaxed_upto(true_branch))
            .min(unrelaxed_upto(false_branch)),
        _ => usize::MAX,
    }
}

/// A lower bound of the characters any match of `expr` takes (Unicode simple case folding,
/// which `(?i)` applies, maps a character to one character: a literal's case variants are
/// as long as it). What is not known counts 0.
fn min_chars(expr: &Expr) -> usize {
    match expr {
        Expr::Any { .. } => 1,
        Expr::Literal { val, .. } => val.chars().count(),
        // a class or an escape: one character (`size`, which fancy-regex sets to what the
        // delegate matches, is at least that when it is not 0)
        Expr::Delegate { size, .. } => (*size).min(1),
        Expr::Concat(items) => items.iter().map(min_chars).fold(0, usize::saturating_add),
        Expr::Alt(items) => items.iter().map(min_chars).min().unwrap_or(0),
        Expr::Group(child) | Expr::AtomicGroup(child) => min_chars(child),
        Expr::Repeat { child, lo, .. } => lo.saturating_mul(min_chars(child)),
        _ => 0,
    }
}

/// `expr` in `regex` syntax (see [`Mode`]). Groups are written non-capturing: only whether
/// and where the whole pattern matches is ever asked.
fn write(expr: &Expr, mode: Mode, casei: bool) -> Option<String> {
    let mut out = String::from(if casei { "(?i:" } else { "(?:" });
    let ok = write_into(expr, mode, casei, &mut out);
    out.push(')');
    ok.then_some(out)
}

/// `atom` under case-insensitivity `casei`, in a context where it is `ctx`: a flag group only
/// where they differ (each one is work for the parser, and the packs have thousands).
fn push_cased(buf: &mut String, atom: &str, casei: bool, ctx: bool) {
    if casei == ctx {
        buf.push_str(atom);
    } else {
        buf.push_str(if casei { "(?i:" } else { "(?-i:" });
        buf.push_str(atom);
        buf.push(')');
    }
}

fn write_into(expr: &Expr, mode: Mode, ctx: bool, buf: &mut String) -> bool {
    match expr {
        Expr::Empty => true,
        Expr::Any { newline } => {
            buf.push_str(if *newline { "(?s:.)" } else { "." });
            true
        }
        Expr::Literal { val, casei } => {
            push_cased(buf, &format!("(?:{})", regex::escape(val)), *casei, ctx);
            true
        }
        Expr::Assertion(a) => {
            let s = match a {
                Assertion::StartText => r"\A",
                Assertion::EndText => r"\z",
                Assertion::StartLine { crlf: false } => "(?m:^)",
                Assertion::EndLine { crlf: false } => "(?m:$)",
                Assertion::StartLine { crlf: true } => "(?Rm:^)",
                Assertion::EndLine { crlf: true } => "(?Rm:$)",
                _ if mode.drops() => "",
                Assertion::WordBoundary => r"\b",
                Assertion::NotWordBoundary => r"\B",
                Assertion::LeftWordBoundary => r"\b{start}",
                Assertion::RightWordBoundary => r"\b{end}",
            };
            buf.push_str(s);
            true
        }
        Expr::Concat(children) => {
            buf.push_str("(?:");
            let ok = children.iter().all(|c| write_into(c, mode, ctx, buf));
            buf.push(')');
            ok
        }
        Expr::Alt(children) => {
            buf.push_str("(?:");
            for (i, c) in children.iter().enumerate() {
                if i > 0 {
                    buf.push('|');
                }
                if !write_into(c, mode, ctx, buf) {
                    return false;
                }
            }
            buf.push(')');
            true
        }
        Expr::Group(child) => {
            buf.push_str("(?:");
            let ok = write_into(child, mode, ctx, buf);
            buf.push(')');
            ok
        }
        Expr::Repeat { child, lo, hi, greedy } => {
            buf.push_str("(?:");
            if !write_into(child, mode, ctx, buf) {
                return false;
            }
            buf.push(')');
            let relax = mode == Mode::Approx && relaxed(child, *hi);
            if *hi == usize::MAX || relax {
                // a long bounded repeat is as many copies of its body in the automaton (of a
                // Unicode class, hundreds of states each): the approximation loops instead
                buf.push_str(&format!(
                    "{{{},}}",
                    if *hi == usize::MAX { *lo } else { (*lo).min(RELAX_ABOVE) }
                ));
            } else {
                buf.push_str(&format!("{{{lo},{hi}}}"));
            }
            if !greedy {
                buf.push('?');
            }
            true
        }
        Expr::Delegate { inner, casei, .. } => {
            push_cased(buf, inner, *casei, ctx);
            true
        }
        Expr::LookAround(..) => mode.drops(),
        Expr::AtomicGroup(child) if mode.drops() => {
            buf.push_str("(?:");
            let ok = write_into(child, mode, ctx, buf);
            buf.push(')');
            ok
        }
        _ => false,
    }
}

/// What the rules say about one line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineHits {
    /// the first whole-line rule (in rule order) that matches
    pub first: Option<usize>,
    /// the first whole-line rule marked `long` that matches (the one a sentence meets)
    pub first_long: Option<usize>,
    /// the inline rules that can cut a span of the line (a superset of those that do)
    pub inline: Vec<usize>,
}

impl LineHits {
    pub fn is_empty(&self) -> bool {
        self.first.is_none() && self.first_long.is_none() && self.inline.is_empty()
    }
}

/// The rules of a rule set, in order, ready to test lines against.
///
/// The patterns go into two lazy DFAs, not one. Most whole-line patterns must meet their
/// own words at the start of a line, so on most lines their automaton dies a few bytes in; a
/// few (a credit after a caption's full stop, a line that ends "in your inbox") may first
/// run along any text ([`roams`]), so they live to the end of every line, as do the inline
/// rules (a span anywhere in the line: `\A.*(?:pattern).*\z`). In one automaton, each state
/// would be a mix of both kinds, and each line's own mix a new state to build: tens of
/// megabytes of states per worker, built line after line. Apart, the short-lived set's
/// states stay few (the patterns' common beginnings) and the roaming set's are those of a
/// score of patterns; a line is walked once by each.
///
/// A sentence-like line ([`Matcher::long_line`]) is walked by two more of them, made of the
/// rules marked `long` only (a sixth of the packs'), the only ones that can remove or cut
/// it. Prose is a third of a page's bytes, and each of its lines runs to its end in the
/// roaming set: in sets of all the rules that walk went through states of patterns whose
/// answer is then thrown away, in automata too large for the processor's caches (a read of
/// the transition table a byte was most of the matcher's time), where the `long` rules'
/// states stay few.
pub struct Matcher {
    patterns: Vec<std::sync::Arc<Pattern>>,
    long: Vec<bool>,
    /// `[all the rules, the rules marked long]`
    sets: [Sets; 2],
    /// the answers already given, by line (see [`Memo`])
    memo: Mutex<Memo>,
}

/// Some of a matcher's rules as automata: the short-lived set, then the roaming one (see
/// [`Matcher`]), and the rules with no approximation (a candidate on every line).
struct Sets {
    sets: Vec<Set>,
    always: Vec<usize>,
}

impl Sets {
    /// The sets of the rules `n` of `patterns` for which `which(n)`, each with a lazy DFA
    /// cache of `cache` bytes a thread at most.
    fn new(patterns: &[std::sync::Arc<Pattern>], which: impl Fn(usize) -> bool, cache: usize) -> Result<Sets, String> {
        let (mut short, mut short_ids, mut roaming, mut roaming_ids) = (vec![], vec![], vec![], vec![]);
        let mut always = vec![];
        for (n, p) in patterns.iter().enumerate().filter(|&(n, _)| which(n)) {
            match (&p.approx, p.search) {
                (Some(a), false) if roams(a).0 => {
                    roaming.push(Cow::Borrowed(a));
                    roaming_ids.push(n);
                }
                (Some(a), false) => {
                    short.push(Cow::Borrowed(a));
                    short_ids.push(n);
                }
                (Some(a), true) => {
                    roaming.push(Cow::Owned(somewhere(a)));
                    roaming_ids.push(n);
                }
                (None, _) => always.push(n),
            }
        }
        let sets = [
            Set::new(&short, short_ids, cache)?,
            Set::new(&roaming, roaming_ids, cache)?,
        ];
        Ok(Sets {
            sets: sets.into_iter().flatten().collect(),
            always,
        })
    }
}

/// Lines longer than this (in bytes) are not remembered: a template line (a menu item, a
/// footer notice, a cookie banner) is shorter.
const MEMO_LINE: usize = 2000;
/// What the remembered lines may take (their bytes and the maps' own), per process; past it
/// the memo starts again empty.
const MEMO_BYTES: usize = 16 << 20;

/// The answers [`Matcher::line`] and [`Matcher::long_line`] gave, by line. A scrape repeats
/// its sites' template lines in every page (on a generated 20 MB crawl, 358k lines to match
/// are 137k distinct ones), and a line's answer depends on nothing but the line: a repeat is
/// answered from here instead of walking the automata and running the rules' own regexes
/// again. A line is kept from its second time on (most lines of a page's text come once:
/// only the hash of a line seen once is kept, to tell its repeat). FxHash: the keys are this
/// process' own lines and the hash reaches no output (a collision in `seen` only makes a
/// line kept a time early; in the maps, an answer is given only for a kept line equal to
/// the one asked, and a line whose hash is another kept line's is not kept).
///
/// The kept lines and their answers are records in one arena ([`Memo::arena`]), the maps
/// holding where each starts: a line kept as a `Box<str>` with its [`LineHits`] beside it
/// was an allocation each and about a hundred bytes over the line's own (the line's box,
/// the answer's two options and vector, the map's slot), so that [`MEMO_BYTES`] held half
/// as many lines, and starting again freed each of them one by one.
#[derive(Default)]
struct Memo {
    /// `[line, long_line]`: where the record of the question (see [`Memo::key`]) starts in
    /// `arena`; a hit is a record whose line is equal to the one asked
    maps: [crate::furniture::FxMap<u64, u32>; 2],
    /// the hashes of the lines asked once (with the kind of question)
    seen: crate::furniture::FxSet<u64>,
    /// the records, one after another: `u32`s (little-endian) the line's length in bytes,
    /// `first` and `first_long` ([`NONE`] for None), the number of inline rules and the
    /// rules, then the line's bytes
    arena: Vec<u8>,
    /// the bytes of the maps' and `seen`'s slots: with the arena's capacity, at most
    /// [`MEMO_BYTES`]
    bytes: usize,
}

/// `None` of a rule number in a [`Memo`] record.
const NONE: u32 = u32::MAX;
/// What a map slot (key, record start and the table's control byte, at its load factor)
/// and a `seen` slot are counted as in [`MEMO_BYTES`].
const SLOT_BYTES: usize = 24;
const SEEN_BYTES: usize = 16;

/// The `u32` at `at` of a [`Memo`] record, and where the next one starts.
fn word_at(arena: &[u8], at: usize) -> Option<(u32, usize)> {
    let b = arena.get(at..at.checked_add(4)?)?;
    Some((u32::from_le_bytes([b[0], b[1], b[2], b[3]]), at + 4))
}

impl Memo {
    /// The hash of a question: the line and its kind.
    fn key(line: &str, only_long: bool) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = crate::furniture::FxHasher::default();
        (line, only_long).hash(&mut h);
        h.finish()
    }

    fn get(&self, key: u64, line: &str, only_long: bool) -> Option<LineHits> {
        let at = *self.maps[usize::from(only_long)].get(&key)? as usize;
        let a = &self.arena[..];
        let (len, at) = word_at(a, at)?;
        let (first, at) = word_at(a, at)?;
        let (first_long, at) = word_at(a, at)?;
        let (n, mut at) = word_at(a, at)?;
        let mut inline = Vec::new();
        for _ in 0..n {
            let (r, next) = word_at(a, at)?;
            inline.push(r as usize);
            at = next;
        }
        if a.get(at..at.checked_add(len as usize)?)? != line.as_bytes() {
            return None;
        }
        let rule = |r: u32| (r != NONE).then_some(r as usize);
        Some(LineHits {
            first: rule(first),
            first_long: rule(first_long),
            inline,
        })
    }

    /// Remember `hits`, the answer for `line`, if the line was asked before (a line whose
    /// hash is another kept line's is not kept: it is matched each time).
    fn insert(&mut self, key: u64, line: &str, only_long: bool, hits: &LineHits) {
        let repeat = self.seen.contains(&key);
        let record = 4 * (4 + hits.inline.len()) + line.len();
        let (slot, grown) = if repeat {
            (SLOT_BYTES, self.arena.len() + record)
        } else {
            (SEEN_BYTES, 0)
        };
        // the arena counts as its capacity (what it has allocated), not its length
        if self.bytes + slot + grown.max(self.arena.capacity()) > MEMO_BYTES {
            *self = Memo::default();
        }
        self.bytes += slot;
        if !repeat {
            self.seen.insert(key);
            return;
        }
        let word = |r: Option<usize>| match r {
            None => Some(NONE),
            Some(r) => u32::try_from(r).ok().filter(|&r| r != NONE),
        };
        // (a line over `MEMO_LINE` is never asked here, and no rule set has 2^32 rules: what
        // does not fit a record is not kept)
        let (Ok(len), Some(first), Some(first_long), Ok(n), Ok(at)) = (
            u32::try_from(line.len()),
            word(hits.first),
            word(hits.first_long),
            u32::try_from(hits.inline.len()),
            u32::try_from(self.arena.len()),
        ) else {
            return;
        };
        let Some(inline) = hits.inline.iter().map(|&r| word(Some(r))).collect::<Option<Vec<u32>>>() else {
            return;
        };
        let std::collections::hash_map::Entry::Vacant(slot) = self.maps[usize::from(only_long)].entry(key) else {
            return;
        };
        slot.insert(at);
        let need = self.arena.len() + record;
        if need > self.arena.capacity() {
            // doubling, as `Vec` grows, but never past what the memo may hold: a `Vec`
            // doubled on its own could hold up to twice the bytes counted
            let cap = (2 * self.arena.capacity())
                .max(need)
                .min(MEMO_BYTES - self.bytes)
                .max(need);
            self.arena.reserve_exact(cap - self.arena.len());
        }
        for w in [len, first, first_long, n].into_iter().chain(inline) {
            self.arena.extend_from_slice(&w.to_le_bytes());
        }
        self.arena.extend_from_slice(line.as_bytes());
    }
}

impl Matcher {
    pub fn new(patterns: Vec<std::sync::Arc<Pattern>>, long: Vec<bool>) -> Result<Matcher, String> {
        if long.len() != patterns.len() {
            return Err("one 'long' flag per pattern".into());
        }
        let sets = [
            Sets::new(&patterns, |_| true, DFA_LIMIT)?,
            Sets::new(&patterns, |n| long[n], DFA_LONG_LIMIT)?,
        ];
        Ok(Matcher {
            sets,
            patterns,
            long,
            memo: Mutex::new(Memo::default()),
        })
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Rule `n`'s pattern.
    pub fn pattern(&self, n: usize) -> Option<&Pattern> {
        self.patterns.get(n).map(|p| p.as_ref())
    }

    /// Whole-line rules that may match `line` and inline rules that may cut it.
    pub fn line(&self, line: &str) -> LineHits {
        self.line_of(line, false)
    }

    /// [`Matcher::line`] of a line that only rules marked `long` may remove or cut (a
    /// sentence): only those rules are tried (`first` is `first_long`, `inline` the `long`
    /// inline rules that may cut it).
    pub fn long_line(&self, line: &str) -> LineHits {
        self.line_of(line, true)
    }

    fn line_of(&self, line: &str, only_long: bool) -> LineHits {
        if line.len() > MEMO_LINE {
            return self.match_line(line, only_long);
        }
        // try_lock: a lock held at fork time (workers are forked), or by another thread,
        // leaves this line to be matched without the memo
        let Ok(mut memo) = self.memo.try_lock() else {
            return self.match_line(line, only_long);
        };
        let key = Memo::key(line, only_long);
        if let Some(h) = memo.get(key, line, only_long) {
            return h;
        }
        let h = self.match_line(line, only_long);
        memo.insert(key, line, only_long, &h);
        h
    }

    fn match_line(&self, line: &str, only_long: bool) -> LineHits {
        let sets = &self.sets[usize::from(only_long)];
        let mut cands: Vec<usize> = sets.always.clone();
        for set in &sets.sets {
            set.matches(line, &mut cands);
        }
        cands.sort_unstable();
        let mut hits = LineHits::default();
        let mut decided = false;
        for n in cands {
            let p = &self.patterns[n];
            if p.search {
                hits.inline.push(n);
                continue;
            }
            if decided || ((only_long || hits.first.is_some()) && !self.long[n]) {
                continue;
            }
            if !p.decided_by_set(line) && !matches!(p.find(line), Found::Span(..)) {
                continue;
            }
            if hits.first.is_none() {
                hits.first = Some(n);
            }
            if self.long[n] {
                hits.first_long = Some(n);
                decided = true;
            }
        }
        hits
    }
}

/// `\A(?s:.)*(?:a)(?s:.)*\z`: a line with a match of `a` anywhere, as a whole-line pattern.
fn somewhere(a: &Hir) -> Hir {
    use regex_syntax::hir::{Dot, Look};
    let any = || {
        Hir::repetition(regex_syntax::hir::Repetition {
            min: 0,
            max: None,
            greedy: true,
            sub: Box::new(Hir::dot(Dot::AnyChar)),
        })
    };
    Hir::concat(vec![
        Hir::look(Look::Start),
        any(),
        a.clone(),
        any(),
        Hir::look(Look::End),
    ])
}

/// Whether a pattern (its approximation) can first run along any text: `(roams, can be
/// empty)` of `h` at the start of what it matches. It roams when a loop over a broad class
/// (one that takes most letters: `.`, `\w`, `[^.!?]`) can come before anything narrower
/// must match. Only a matter of speed: either set gives the same answers.
fn roams(h: &Hir) -> (bool, bool) {
    use regex_syntax::hir::{Class, HirKind};
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => (false, true),
        HirKind::Literal(_) => (false, false),
        HirKind::Class(_) => (false, false),
        HirKind::Repetition(r) => {
            let (inner, empty) = roams(&r.sub);
            let looped = r.max.is_none_or(|m| m as usize > RELAX_ABOVE);
            let broad = match r.sub.kind() {
                HirKind::Class(Class::Unicode(c)) => {
                    let letters = |lo: char, hi: char| {
                        c.ranges()
                            .iter()
                            .map(|r| {
                                let (a, b) = (r.start().max(lo), r.end().min(hi));
                                if a <= b {
                                    b as usize - a as usize + 1
                                } else {
                                    0
                                }
                            })
                            .sum::<usize>()
                    };
                    letters('a', 'z') + letters('A', 'Z') >= 20
                }
                HirKind::Class(Class::Bytes(c)) => {
                    c.ranges()
                        .iter()
                        .map(|r| {
                            let (a, b) = (r.start().max(b'a'), r.end().min(b'z'));
                            if a <= b {
                                (b - a) as usize + 1
                            } else {
                                0
                            }
                        })
                        .sum::<usize>()
                        >= 10
                }
                _ => false,
            };
            (inner || (looped && broad), empty || r.min == 0)
        }
        HirKind::Capture(c) => roams(&c.sub),
        HirKind::Concat(items) => {
            let mut any = false;
            for item in items {
                let (r, empty) = roams(item);
                any |= r;
                if !empty {
                    return (any, false);
                }
            }
            (any, true)
        }
        HirKind::Alternation(items) => items
            .iter()
            .map(roams)
            .fold((false, false), |(r, e), (r2, e2)| (r || r2, e || e2)),
    }
}

/// Byte offset `b` of `s` as a count of characters (a Python `str` index).
pub fn char_index(s: &str, b: usize) -> usize {
    s.get(..b).map_or(0, |p| p.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_with_its_arena_stays_within_its_bytes() {
        // each line asked twice (kept the second time), until the memo starts again a few
        // times: the arena's capacity (which a `Vec` doubles) counts, so the memory it holds
        // never passes MEMO_BYTES
        let mut memo = Memo::default();
        let hits = LineHits {
            first: Some(3),
            first_long: None,
            inline: vec![1, 2],
        };
        let mut resets = 0;
        for n in 0..400_000u32 {
            let line = format!(
                "a template line of a site's menu, number {n} {}",
                "x".repeat(n as usize % 97)
            );
            for _ in 0..2 {
                let key = Memo::key(&line, false);
                let before = memo.arena.len();
                memo.insert(key, &line, false, &hits);
                resets += usize::from(memo.arena.len() < before);
                assert!(memo.bytes + memo.arena.capacity() <= MEMO_BYTES, "{n}");
            }
            assert_eq!(
                memo.get(Memo::key(&line, false), &line, false).map(|h| h.first),
                Some(Some(3))
            );
        }
        assert!(resets >= 2, "{resets}");
    }
    use std::sync::Arc;

    fn pat(p: &str, cs: bool, search: bool) -> Arc<Pattern> {
        Arc::new(Pattern::new(p, cs, search).expect("pattern compiles"))
    }

    #[test]
    fn whole_line_and_case() {
        let p = pat("leave a (reply|comment)", false, false);
        assert!(p.approx_exact && !p.backtracks());
        assert_eq!(p.find("LEAVE A REPLY"), Found::Span(0, 13));
        assert_eq!(p.find("please leave a reply"), Found::None);
        let cs = pat("By [A-Z]\\w+", true, false);
        assert_eq!(cs.find("by smith"), Found::None);
        assert_eq!(cs.find("By Smith"), Found::Span(0, 8));
    }

    #[test]
    fn lookaround_is_confirmed_and_bounded() {
        // a lookahead the pattern opens with is a linear test of its own (see `Branch`)
        let p = pat(r"(?!0 )\d{1,5} comments?", false, false);
        assert!(!p.backtracks() && !p.approx_exact && p.branches.len() == 1);
        assert_eq!(p.find("0 comments"), Found::None);
        assert_eq!(p.find("12 comments"), Found::Span(0, 11));
        // elsewhere, the bounded backtracker
        let p = pat(r"by \w+(?! said)", false, false);
        assert!(p.backtracks() && p.branches.is_empty());
        assert_eq!(p.find("by jane"), Found::Span(0, 7));
        let evil = pat(r"(?=x)(a+)+$", false, false);
        assert_eq!(evil.find(&("a".repeat(40) + "!")), Found::None);
        let bad = pat(r"(a+)+(?!x)b", false, true);
        assert_eq!(bad.find(&"a".repeat(60)), Found::Exceeded);
    }

    #[test]
    fn a_leading_lookahead_answers_as_the_backtracker_does() {
        let pats = [
            (
                r"(?!.*\b(?:said|says|according to)\b)(?:this (?:web)?site|we) uses? cookies.*",
                false,
            ),
            (r"(?=[A-Z])(?:by|from) [\w ]{1,30}", true),
            (r"(?!0 )\d{1,5} (?:comments?|réponses?)", false),
            (r"((?!x)(?:Share|Tweet)(?: this)?)", false),
            (r"(?!фото)[а-яё]+: .{1,40}", false),
            // alternatives, some without a lookahead
            (
                r"(?!0 )\d{1,5} comments?|(?!no )(?:one|two) (?:comments?|replies)|no comments yet",
                false,
            ),
            (r"(?:share|tweet) this|(?!x)[a-z]+ this", false),
        ];
        let lines = [
            "This site uses cookies to improve your visit",
            "We use cookies, according to the law",
            "we use cookies. He said so",
            "WE USE COOKIES",
            "By Jane Doe",
            "by jane doe",
            "From The Desk",
            "0 comments",
            "12 comments",
            "3 RÉPONSES",
            "Share this",
            "Tweet",
            "x",
            "",
            "фото: Иван",
            "ФОТО: Иван",
            "автор: Иван Петров",
            "saidsays \u{212A}",
            "one comment",
            "two replies",
            "No comments yet",
            "07 comments",
            "0 comment",
            "xshare this",
            "Share this",
            "read this",
            "x this",
        ];
        for (p, cs) in pats {
            let lead = Pattern::new(p, cs, false).expect("pattern compiles");
            assert!(!lead.branches.is_empty() && !lead.backtracks(), "{p}");
            let fancy = fancy_regex::RegexBuilder::new(&format!(r"\A(?:{p})\z"))
                .case_insensitive(!cs)
                .build()
                .expect("fancy-regex takes it");
            for line in lines {
                let want = fancy
                    .find(line)
                    .expect("within the limit")
                    .map(|m| (m.start(), m.end()));
                assert_eq!(
                    lead.find(line),
                    want.map_or(Found::None, |(a, b)| Found::Span(a, b)),
                    "{p} on {line:?}"
                );
            }
        }
        // a search keeps the backtracker (its lookahead is tried at every position)
        assert!(pat(r"(?!x)share", false, true).backtracks());
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(Pattern::new("(unclosed", false, false).is_err());
        assert!(Pattern::new(r"\p{NoSuchClass}", false, false).is_err());
    }

    #[test]
    fn an_automaton_over_the_size_limit_is_refused_when_checked() {
        // parsed at once, compiled on first use: `check` compiles it
        let huge = Pattern::new("((a{1000}){1000}){10}", false, false).expect("it parses");
        let cause = huge.check().expect_err("over the size limit");
        assert!(cause.contains("exceeded limit"), "{cause}");
        assert!(pat("(a{10}){10}", false, false).check().is_ok());
        assert!(pat(r"(?=a)(a{10}){10}", false, false).check().is_ok());
    }

    #[test]
    fn matcher_orders_and_filters() {
        let pats = vec![
            pat(r"\bshare\b", false, true),
            pat("share( this)?", false, false),
            pat(r"(?!x).*this", false, false),
            pat("share this", false, false),
        ];
        let m = Matcher::new(pats, vec![false, false, false, true]).expect("set builds");
        let h = m.line("Share this");
        assert_eq!(h.first, Some(1));
        assert_eq!(h.first_long, Some(3));
        assert_eq!(h.inline, vec![0]);
        // a sentence: only the `long` rules are tried (the whole-line one is also `first`;
        // the inline rule is not `long`, so it may not cut a sentence)
        let h = m.long_line("Share this");
        assert_eq!((h.first, h.first_long, h.inline), (Some(3), Some(3), vec![]));
        assert_eq!(m.long_line("Share").first, None);
        assert!(m.line("nothing here").is_empty());
        assert_eq!(m.line("x this").first, None);
        // a `long` inline rule and a `long` rule with lookaround are offered on sentences too
        let pats = vec![
            pat(r"\bshare\b", false, true),
            pat(r"\[ad\]", false, true),
            pat(r"(?!x).*this", false, false),
            pat("share this", false, false),
        ];
        let m = Matcher::new(pats, vec![false, true, true, false]).expect("set builds");
        let h = m.long_line("Share [ad] this");
        assert_eq!((h.first, h.first_long, h.inline), (Some(2), Some(2), vec![1]));
        let h = m.line("Share [ad] this");
        assert_eq!((h.first, h.first_long, h.inline), (Some(2), Some(2), vec![0, 1]));
        assert_eq!(m.long_line("x this").first, None);
    }

    #[test]
    fn roaming_patterns_are_told_apart() {
        let roaming = |p: &str| roams(pat(p, false, false).approx.as_ref().expect("approximation")).0;
        // a loop over a broad class before anything narrower: runs along any line
        assert!(roaming(r".{2,300}?[.!?] (?:photo|foto) ?: ?[^.!?]{2,80}"));
        assert!(roaming(r"[^.!?]{0,80}\b(?:news|newsletter)\b[^.!?]{0,60}in your inbox"));
        assert!(roaming(r"(?:https?://)?(?:www\.)?[\w-]{2,63}\.(?:com|org)"));
        // its own words first, or a narrow class (digits, dashes), or a short count: dies early
        assert!(!roaming("leave a (reply|comment)"));
        assert!(!roaming(r"(?:[-–—]+ ?)?(?:anzeige|werbung)"));
        assert!(!roaming(r"\d{1,2} de (?:enero|febrero) de \d{4}"));
        assert!(!roaming(r"by [a-z]\w+(?: [a-z]\w+){0,3}"));
    }

    #[test]
    fn both_whole_line_sets_answer_in_rule_order() {
        let pats = vec![
            pat(r".{2,300}?[.!?] photo ?: ?[^.!?]{2,80}", false, false),
            pat("share( this)?", false, false),
            pat(r"[^.!?]{0,80}\bnewsletter\b[^.!?]{0,60}", false, false),
            pat(r"(?:our )?(?:weekly )?newsletter(?: \w+){0,3}", false, false),
            pat("newsletter", false, true),
        ];
        assert!(roams(pats[0].approx.as_ref().expect("approx")).0);
        assert!(!roams(pats[3].approx.as_ref().expect("approx")).0);
        let m = Matcher::new(pats, vec![false, false, false, true, false]).expect("set builds");
        assert_eq!(m.sets[0].sets.len(), 2);
        // a roaming rule (2) and a short-lived one (3) match: the first in rule order is
        // the roaming set's, the first `long` one the other set's
        let h = m.line("our weekly newsletter");
        assert_eq!((h.first, h.first_long), (Some(2), Some(3)));
        let h = m.line("Get our newsletter today");
        assert_eq!((h.first, h.first_long), (Some(2), None));
        let h = m.line("Big storm. Photo: Jane Doe");
        assert_eq!((h.first, h.first_long), (Some(0), None));
        assert_eq!(m.line("Share").first, Some(1));
        // an inline rule that matches twice in a line is named once
        assert_eq!(m.line("newsletter and newsletter").inline, vec![4]);
        assert!(m.line("nothing here").is_empty());
    }

    #[test]
    fn the_ascii_form_answers_ascii_lines_as_the_full_one() {
        let pats = [
            (
                r"(?:https?://)?(?:www\.)?[\w-]{2,63}(?:\.[\w-]{2,63}){0,3}\.(?:com|org)/?",
                false,
                false,
            ),
            (r"\bshare\b", false, true),
            (r"\bsk\w+", false, true),
            (r"read (?:also|more): .*$", false, true),
            (r"[^.!?]{0,80}\bnews\b[^.!?]{0,60}", false, false),
            (r"by [A-ZÁÉ][\w.'’-]+(?: [A-Z][\w.'’-]+){0,3}", true, false),
            (r"фото: .*", false, false),
            (r"\d+\s+comments?", false, false),
        ];
        let lines = [
            "www.example.com",
            "a.b",
            "Share this",
            "reshare it, share",
            "SKY and Kelvin",
            "Big storm. Read more: the archive",
            "the news today",
            "x!news",
            "By Jane O'Neil Smith",
            "by jane",
            "12  comments",
            "",
            "sk_8 sk",
            &"a".repeat(70),
        ];
        for (p, cs, search) in pats {
            let pat = Pattern::new(p, cs, search).expect("pattern compiles");
            let full = match pat.compiled() {
                Ok(Exact::Linear(re)) => re,
                _ => panic!("a linear pattern: {p}"),
            };
            let ascii = pat.ascii_form().expect("an ASCII form");
            for line in lines {
                let want = full.find(line).map(|m| (m.start(), m.end()));
                assert_eq!(ascii.find(line).map(|m| (m.start(), m.end())), want, "{p} on {line:?}");
                assert_eq!(pat.find(line), want.map_or(Found::None, |(a, b)| Found::Span(a, b)));
            }
        }
    }

    #[test]
    fn an_empty_line_is_decided_by_the_set_only_when_the_approximation_is_the_pattern() {
        // exact_upto 0 (lookaround, a word boundary, a backreference: no shortcut) must not
        // let the empty line, of length 0, pass as short enough
        for p in [r"\ba?", r"(?=\S).*", r"(?![\d\s]*$).{0,40}", r"(a)\1", r"(?<=x)y?"] {
            let p = pat(p, false, false);
            assert_eq!(p.exact_upto, 0);
            assert!(!p.decided_by_set(""));
            let m = Matcher::new(vec![p.clone()], vec![false]).expect("set builds");
            assert_eq!(m.line("").first, None, "{:?}", p.fancy_src);
            assert_eq!(p.find(""), Found::None);
        }
    }

    #[test]
    fn a_lookahead_rule_answers_where_the_backtracker_would_give_up() {
        // `(?:a+)+b` after a lookahead: fancy-regex exceeded its limit on a run of a's with
        // no b; the linear parts say what is true, a match of the second alternative
        let p = pat(r"(?!x)(?:a+)+b|a*", false, false);
        assert!(!p.backtracks());
        let line = "a".repeat(30);
        assert_eq!(p.find(&line), Found::Span(0, 30));
        assert_eq!(p.find(&format!("{line}x")), Found::None);
        assert_eq!(p.find(&format!("{line}b")), Found::Span(0, 31));
    }

    #[test]
    fn a_line_too_short_to_pass_a_looped_bound_is_decided_without_the_rules_regex() {
        // `{0,20}` is looped in the set; a time takes at least 3 characters ("ab "), so no
        // line of at most 60 can take it more than 20 times
        let p = pat(r"(?:ab ){0,20}end", false, false);
        assert!(!p.approx_exact);
        assert_eq!(p.exact_upto, 60);
        let m = Matcher::new(vec![p.clone()], vec![false]).expect("set builds");
        let short = format!("{}end", "ab ".repeat(5));
        assert_eq!(m.line(&short).first, Some(0));
        assert_eq!(m.line("ab ab en").first, None);
        // neither the rule's own regex nor its ASCII form was built for them
        assert!(p.exact.get().is_none() && p.ascii.get().is_none());
        // past the bound the rule's regex decides: 20 times match, 21 do not
        let twenty = format!("{}end", "ab ".repeat(20));
        assert_eq!(m.line(&twenty).first, Some(0));
        assert_eq!(m.line(&format!("{}end", "ab ".repeat(21))).first, None);
        assert!(p.ascii.get().is_some());
        // characters, not bytes: 20 times of a two-byte letter fit, 21 do not
        let q = pat(r"(?:я ){0,20}", false, false);
        assert_eq!(q.exact_upto, 40);
        let mq = Matcher::new(vec![q.clone()], vec![false]).expect("set builds");
        assert_eq!(mq.line(&"я ".repeat(20)).first, Some(0));
        assert!(q.exact.get().is_none());
        assert_eq!(mq.line(&"я ".repeat(21)).first, None);
        // what else the approximation drops (a word boundary), a body that can be empty, or a
        // lower bound it lowered: always the rule's regex
        assert_eq!(pat(r"\bx(?:ab ){0,20}", false, false).exact_upto, 0);
        assert_eq!(pat(r"(?:(?:ab )?){0,20}", false, false).exact_upto, 0);
        assert_eq!(pat(r"(?:ab ){18,20}", false, false).exact_upto, 0);
        // the tightest of several; a literal or short repeat is not looped
        assert_eq!(pat(r"[a-z]{2,63}\.(?:\w{1,30}\.){0,3}com", false, false).exact_upto, 30);
        assert!(pat(r"x{0,40}(?:ab){0,5}", false, false).approx_exact);
    }

    #[test]
    fn the_memo_keeps_a_repeated_line_with_its_answer_and_gives_it_for_that_line_only() {
        let mut memo = Memo::default();
        let hits = LineHits {
            first: Some(3),
            first_long: None,
            inline: vec![0, 7],
        };
        let key = Memo::key("Share this", false);
        memo.insert(key, "Share this", false, &hits); // the first time: only its hash is kept
        assert_eq!(memo.get(key, "Share this", false), None);
        memo.insert(key, "Share this", false, &hits);
        assert_eq!(memo.get(key, "Share this", false), Some(hits.clone()));
        // the same hash, another line (or question): not this record's answer
        assert_eq!(memo.get(key, "Share that", false), None);
        assert_eq!(memo.get(key, "Share this!", false), None);
        assert_eq!(memo.get(key, "Share this", true), None);
        let empty = LineHits::default();
        let k2 = Memo::key("", true);
        memo.insert(k2, "", true, &empty);
        memo.insert(k2, "", true, &empty);
        assert_eq!(memo.get(k2, "", true), Some(empty));
        assert_eq!(memo.get(key, "Share this", false), Some(hits)); // the first record stays
    }

    #[test]
    fn char_index_counts_characters() {
        assert_eq!(char_index("приве", 4), 2);
        assert_eq!(char_index("ab", 9), 0);
    }
}

// ------------------------------------------------------------------------------ Python face

mod py {
    use std::borrow::Cow;
    use std::sync::Arc;

    use pyo3::exceptions::PyValueError;
    use pyo3::prelude::*;
    use pyo3::types::PyString;

    use super::{char_index, Found, LineHits, Matcher, Pattern};

    /// A `str` as UTF-8, each lone surrogate (which UTF-8 cannot hold) read as U+FFFD: both
    /// are one character that is no word, digit or space character, and both take three
    /// bytes, so offsets stay what they were.
    fn text<'a>(s: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, str>> {
        if let Ok(t) = s.to_str() {
            return Ok(Cow::Borrowed(t));
        }
        Ok(Cow::Owned(crate::guards::fffd(&crate::text_bytes(s)?)))
    }

    /// One rule's pattern, compiled (`search`: the inline kind; else a whole-line match).
    #[pyclass(frozen, name = "Pattern", module = "cleaner._native")]
    pub struct PyPattern(pub Arc<Pattern>);

    #[pymethods]
    impl PyPattern {
        /// Raises `ValueError` with the cause when the engines cannot take the pattern.
        #[new]
        fn new(py: Python<'_>, pattern: &str, case_sensitive: bool, search: bool) -> PyResult<Self> {
            let p = crate::guarded(py, || Pattern::new(pattern, case_sensitive, search))?;
            p.map(|p| PyPattern(Arc::new(p))).map_err(PyValueError::new_err)
        }

        /// Whether the pattern runs on the bounded backtracker (lookaround).
        #[getter]
        fn backtracks(&self) -> bool {
            self.0.backtracks()
        }

        /// Build the rule's own regex in full now (see `Pattern::check`): None, or the cause
        /// the engines refuse it for (an automaton over the size limit).
        fn check(&self, py: Python<'_>) -> PyResult<Option<String>> {
            crate::guarded(py, || self.0.check().err())
        }

        /// The match's span (`str` indices), or None; `exceeded` is True when the
        /// backtracking limit cut the search short (also no match).
        fn find(&self, py: Python<'_>, line: Bound<'_, PyString>) -> PyResult<(Option<(usize, usize)>, bool)> {
            let t = text(&line)?;
            let p = &self.0;
            guarded_find(py, p, &t)
        }
    }

    fn guarded_find(py: Python<'_>, p: &Pattern, t: &str) -> PyResult<(Option<(usize, usize)>, bool)> {
        crate::guarded(py, || match p.find(t) {
            Found::Span(s, e) => (Some((char_index(t, s), char_index(t, e))), false),
            Found::None => (None, false),
            Found::Exceeded => (None, true),
        })
    }

    type Hits = (i64, i64, Vec<usize>);
    /// `Hits` of one line of a document, with its index.
    type LineOf = (usize, i64, i64, Vec<usize>);

    fn hits(h: LineHits) -> Hits {
        let id = |x: Option<usize>| x.map_or(-1, |n| n as i64);
        (id(h.first), id(h.first_long), h.inline)
    }

    /// The patterns of a rule set, in rule order, with each rule's `long` flag.
    #[pyclass(frozen, name = "Matcher", module = "cleaner._native")]
    pub struct PyMatcher(pub(crate) Matcher);

    #[pymethods]
    impl PyMatcher {
        #[new]
        fn new(py: Python<'_>, patterns: Vec<PyRef<'_, PyPattern>>, long: Vec<bool>) -> PyResult<Self> {
            let pats: Vec<Arc<Pattern>> = patterns.iter().map(|p| p.0.clone()).collect();
            crate::guarded(py, || Matcher::new(pats, long))?
                .map(PyMatcher)
                .map_err(PyValueError::new_err)
        }

        /// `(first, first_long, inline)` for one line: the first whole-line rule that
        /// matches it (-1: none), the first such rule marked `long`, and the inline rules
        /// that may cut a span of it.
        fn line(&self, py: Python<'_>, line: Bound<'_, PyString>) -> PyResult<Hits> {
            let t = text(&line)?;
            crate::guarded(py, || hits(self.0.line(&t)))
        }

        /// `line()` for each line of `text` (lines split at "\n") that is at most
        /// `max_chars` characters long, as `(index, first, first_long, inline)` for the lines
        /// some rule may concern; the others are left out.
        fn scan(&self, py: Python<'_>, text: Bound<'_, PyString>, max_chars: usize) -> PyResult<Vec<LineOf>> {
            let t = super::py::text(&text)?;
            crate::guarded(py, || {
                let mut out = vec![];
                for (i, line) in t.split('\n').enumerate() {
                    if line.len() > max_chars && line.chars().count() > max_chars {
                        continue;
                    }
                    let h = self.0.line(line);
                    if !h.is_empty() {
                        let (f, l, inl) = hits(h);
                        out.push((i, f, l, inl));
                    }
                }
                out
            })
        }
    }

    pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("BACKTRACK_LIMIT", super::BACKTRACK_LIMIT)?;
        m.add_class::<PyPattern>()?;
        m.add_class::<PyMatcher>()?;
        Ok(())
    }
}

pub use py::register;
pub(crate) use py::{PyMatcher, PyPattern};

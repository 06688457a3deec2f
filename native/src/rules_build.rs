//! Building a rule set at start-up, where the driver of a run spends most of the time before
//! its first document: the patterns, each parsed and approximated ([`Pattern::new`]), compiled
//! on every core in one call; and the matcher, whose automaton over all the approximations is
//! the largest single piece of that work and cannot be split, built on a thread of its own
//! while the interpreter goes on with what it has to do anyway (importing the pipeline, listing
//! the inputs). The driver asks for the matcher before it forks its workers, which inherit it.
//!
//! What is built is exactly what [`Pattern::new`] and [`Matcher::new`] build when called one
//! by one; only where and when differs.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::rules::{Matcher, Pattern};

/// A pattern as a rule gives it: its source, whether it is case sensitive, whether it is a
/// search (the inline kind) rather than a whole-line match.
pub type Spec = (String, bool, bool);

/// [`Pattern::new`] of each spec, in order, on up to `threads` threads (each takes the next
/// pattern not yet taken: their costs differ a hundredfold). A thread that cannot be started
/// leaves its share to the others, and to the calling thread, which always takes part.
pub fn compile_all(specs: &[Spec], threads: usize) -> Vec<Result<Pattern, String>> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = vec![];
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((pattern, case_sensitive, search)) = specs.get(i) else {
                return done;
            };
            done.push((i, Pattern::new(pattern, *case_sensitive, *search)));
        }
    };
    let threads = threads.clamp(1, specs.len().max(1));
    let mut parts = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        let mut parts = work();
        for helper in helpers {
            match helper.join() {
                Ok(part) => parts.extend(part),
                Err(panic) => resume_unwind(panic),
            }
        }
        parts
    });
    parts.sort_unstable_by_key(|(i, _)| *i);
    parts.into_iter().map(|(_, p)| p).collect()
}

type Built = Result<Matcher, String>;

/// [`Matcher::new`] with a panic (a bug) turned into an error.
fn build(patterns: Vec<Arc<Pattern>>, long: Vec<bool>) -> Built {
    catch_unwind(AssertUnwindSafe(|| Matcher::new(patterns, long))).unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(format!("native core failed: {msg}"))
    })
}

/// A matcher being built on a thread of its own, started by [`MatcherBuild::start`].
pub struct MatcherBuild {
    patterns: Vec<Arc<Pattern>>,
    long: Vec<bool>,
    /// the process that started the thread: a forked child has none of its parent's threads,
    /// and waits for nothing but builds its own
    pid: u32,
    thread: Mutex<Option<JoinHandle<Built>>>,
}

impl MatcherBuild {
    /// Start building the matcher of `patterns` (in rule order, with each rule's `long` flag).
    /// Where no thread can be started, [`MatcherBuild::finish`] builds it.
    pub fn start(patterns: Vec<Arc<Pattern>>, long: Vec<bool>) -> MatcherBuild {
        let (p, l) = (patterns.clone(), long.clone());
        let thread = std::thread::Builder::new()
            .name("cleaner-rules".into())
            .spawn(move || build(p, l))
            .ok();
        MatcherBuild {
            patterns,
            long,
            pid: std::process::id(),
            thread: Mutex::new(thread),
        }
    }

    /// The matcher: the thread's, once it is done, or built now (in a forked child, where
    /// no thread was started, or by a second caller while the first waits for the thread).
    pub fn finish(&self) -> Built {
        let thread = if std::process::id() == self.pid {
            // try_lock: a lock held at fork time must not block a child
            self.thread.try_lock().ok().and_then(|mut t| t.take())
        } else {
            None
        };
        match thread.map(JoinHandle::join) {
            Some(Ok(built)) => built,
            Some(Err(panic)) => resume_unwind(panic),
            None => build(self.patterns.clone(), self.long.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<Spec> {
        [
            (r"\bshare\b", false, true),
            ("share( this)?", false, false),
            (r"(?!x).*this", false, false),
            ("share this", false, false),
        ]
        .iter()
        .map(|(p, c, s)| (p.to_string(), *c, *s))
        .collect()
    }

    #[test]
    fn compiled_in_order_on_any_number_of_threads() {
        let mut bad = specs();
        bad.insert(2, ("(unclosed".into(), false, false));
        for threads in [0, 1, 2, 3, 16] {
            let got = compile_all(&bad, threads);
            assert_eq!(got.len(), 5);
            assert!(got[2].is_err());
            for (spec, p) in bad.iter().zip(&got) {
                if let Ok(p) = p {
                    let one = Pattern::new(&spec.0, spec.1, spec.2).expect("compiles alone");
                    assert_eq!(
                        (p.search, p.approx_exact, p.backtracks()),
                        (one.search, one.approx_exact, one.backtracks())
                    );
                }
            }
        }
        assert!(compile_all(&[], 4).is_empty());
    }

    #[test]
    fn the_thread_builds_what_matcher_new_builds() {
        let pats: Vec<Arc<Pattern>> = compile_all(&specs(), 2)
            .into_iter()
            .map(|p| Arc::new(p.expect("compiles")))
            .collect();
        let long = vec![false, false, false, true];
        let build = MatcherBuild::start(pats.clone(), long.clone());
        let m = build.finish().expect("set builds");
        let direct = Matcher::new(pats, long).expect("set builds");
        for line in ["Share this", "nothing here", "x this", "share"] {
            assert_eq!(m.line(line), direct.line(line));
        }
        // a second call (the thread already taken) builds it again, the same
        assert_eq!(
            build.finish().expect("set builds").line("Share this"),
            direct.line("Share this")
        );
    }
}

// ------------------------------------------------------------------------------ Python face

mod py {
    use std::sync::{Arc, OnceLock};

    use pyo3::exceptions::{PyRuntimeError, PyValueError};
    use pyo3::prelude::*;

    use super::{compile_all, MatcherBuild, Spec};
    use crate::rules::{Pattern, PyMatcher, PyPattern};

    /// Each spec `(pattern, case_sensitive, search)` compiled, in order, on every core: a
    /// `Pattern`, or the cause (a `str`) when the engines cannot take it, as `Pattern()`'s
    /// `ValueError` would say it.
    #[pyfunction]
    fn compile_patterns(py: Python<'_>, specs: Vec<Spec>) -> PyResult<Vec<Py<PyAny>>> {
        let threads = crate::native_threads();
        let compiled = crate::guarded(py, || compile_all(&specs, threads))?;
        compiled
            .into_iter()
            .map(|p| match p {
                Ok(p) => Ok(Py::new(py, PyPattern(Arc::new(p)))?.into_any()),
                Err(cause) => Ok(cause.into_pyobject(py)?.into_any().unbind()),
            })
            .collect()
    }

    /// The matcher of a rule set (`Matcher(patterns, long)`), built on a thread of its own from
    /// the moment this is made; `matcher()` waits for it.
    #[pyclass(frozen, name = "MatcherBuild", module = "cleaner._native")]
    pub struct PyMatcherBuild {
        build: MatcherBuild,
        done: OnceLock<Result<Py<PyMatcher>, String>>,
    }

    #[pymethods]
    impl PyMatcherBuild {
        #[new]
        fn new(patterns: Vec<PyRef<'_, PyPattern>>, long: Vec<bool>) -> Self {
            let pats: Vec<Arc<Pattern>> = patterns.iter().map(|p| p.0.clone()).collect();
            PyMatcherBuild {
                build: MatcherBuild::start(pats, long),
                done: OnceLock::new(),
            }
        }

        /// The `Matcher`, the same object at every call; `ValueError` with the cause when the
        /// engines cannot take the set (as `Matcher()` raises it).
        fn matcher(&self, py: Python<'_>) -> PyResult<Py<PyMatcher>> {
            if self.done.get().is_none() {
                let built = crate::guarded(py, || self.build.finish())?;
                let made = match built {
                    Ok(m) => Ok(Py::new(py, PyMatcher(m))?),
                    Err(cause) => Err(cause),
                };
                let _ = self.done.set(made);
            }
            match self.done.get() {
                Some(Ok(m)) => Ok(m.clone_ref(py)),
                Some(Err(cause)) if cause.starts_with("native core failed") => {
                    Err(PyRuntimeError::new_err(cause.clone()))
                }
                Some(Err(cause)) => Err(PyValueError::new_err(cause.clone())),
                None => Err(PyRuntimeError::new_err("native core failed: no matcher")),
            }
        }
    }

    pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add_function(wrap_pyfunction!(compile_patterns, m)?)?;
        m.add_class::<PyMatcherBuild>()?;
        Ok(())
    }
}

pub use py::register;

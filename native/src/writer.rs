//! The write step's clean files (`cleaner.outputs.writers.Staging`, `--output-format
//! files`), created by threads of the core's own while the driver goes on with the next
//! document.
//!
//! Why: a run writes one small file per kept document (about 130,000 per GB of input), and
//! most of a file's cost is the kernel's, in `open` (the file system allocating an inode),
//! not the copy of its bytes. In the driver that cost is serial, while the worker
//! processes, done with their passes, leave a core idle. Threads of Python's would contend
//! for the GIL with the driver's per-document work (tried: the write step went from 13.5 to
//! 23 s per GB); these threads never take it. The driver hands over a path and the bytes (a
//! copy, with the GIL held: a page is a few kilobytes) and goes on; it waits, with the GIL
//! released, only when the files queued hold more than a bound of bytes, so memory stays
//! flat however far the driver runs ahead.
//!
//! A file is created exactly as `open(path, "wb")` and a write do: `O_WRONLY | O_CREAT |
//! O_TRUNC | O_CLOEXEC`, mode 0o666 less the umask, every byte written (a short write is
//! continued, an interrupted one retried), and closed by an explicit `close(2)` whose error
//! is a failure like a write's (`with open(path, "wb")` raises it too; a `File`'s drop would
//! ignore it, and NFS or FUSE may report only there that the data was not stored). The first
//! failure is kept, with the file it names, and raised by the next `submit` or by `close` as
//! the `OSError` Python would have raised; the files queued after it are not written (the
//! run stops and its staging folder is removed).
//!
//! A forked child has none of the threads: its copy of a writer refuses every call with a
//! `RuntimeError` (its queued files would never be written, and a full queue would block it
//! for good), and only its drop forgets the threads silently.
//!
//! Not interruptible: a `submit` waiting for room and `close` wait with the GIL released
//! and do not look at signals, so Ctrl-C takes effect once they return; while a thread is
//! stuck in `open` or `write` (a hung network file system) they wait as long. Accepted: the
//! wait is the kernel's, and an `os.write` in the driver would hang the same way.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::IntoRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// What a queued file costs beyond its bytes and its path (the job's own allocations), so
/// that a queue of empty files is bounded too.
const JOB_OVERHEAD: usize = 64;

/// Jobs queued before an idle thread is woken (or half the queue's bound of bytes): the
/// driver hands over a file every hundred microseconds or so, and the threads write one in
/// less, so a thread woken per file would sleep again at once, a futex call and a context
/// switch each way per file (a wake-up per file measured 2 futex calls a file).
const BATCH_JOBS: usize = 64;

/// `EIO`: the errno given to a failure the system reported without one (a write that
/// wrote nothing), so that it is an `OSError` of the machine like the others.
const EIO: i32 = 5;

/// Creates (or truncates) `path` and writes `data` to it, with the flags and permissions of
/// `open(path, "wb")` (std's `OpenOptions` adds `O_CLOEXEC` and its default mode is 0o666,
/// less the umask); `write_all` continues a short write and retries an interrupted one.
/// The file is closed by [`close_file`], whose error counts as a write's.
pub fn write_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o666)
        .open(path)?;
    let written = file.write_all(data);
    let closed = close_file(file);
    #[cfg(test)]
    let closed = fault_at_close(path, closed);
    // the write's error when it failed (what went wrong first), else the close's: NFS, FUSE
    // and CIFS send the data (or check a quota) only at close, so a file whose writes all
    // succeeded may still be incomplete, and a run must not publish it
    written.and(closed)
}

/// `close(2)` of `file`, its error returned: dropping a `File` closes it the same way but
/// ignores the error. The same one system call as the drop, so no cost. Not retried on any
/// error, `EINTR` included: Linux releases the descriptor before it reports an error, and a
/// second close could close a descriptor another thread has since opened.
fn close_file(file: File) -> io::Result<()> {
    let fd = file.into_raw_fd();
    // SAFETY: `fd` is open and owned by nobody else: `into_raw_fd` took it out of the
    // `File` (which therefore will not close it) and it is not copied anywhere; this is
    // its only close, and it is not used after (not even when the close fails, see above).
    // `libc::close` takes a plain integer and touches no memory of ours.
    if unsafe { libc::close(fd) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A file to write.
struct Job {
    path: PathBuf,
    data: Vec<u8>,
}

impl Job {
    /// The bytes the job holds, as the queue counts them.
    fn cost(&self) -> usize {
        self.data.len() + self.path.as_os_str().len() + JOB_OVERHEAD
    }
}

/// Why the files stopped being written: the system's error creating or writing `path`, or
/// a panic of a writing thread (a bug), writing `path` when it was in a file's write.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    Io { path: PathBuf, errno: i32, message: String },
    Panic { path: Option<PathBuf>, message: String },
}

impl Failure {
    fn io(path: PathBuf, e: &io::Error) -> Self {
        Failure::Io {
            path,
            errno: e.raw_os_error().unwrap_or(EIO),
            message: e.to_string(),
        }
    }

    /// The exception: `OSError(errno, strerror, filename)`, as `os.open`/`os.write` raise it
    /// (`str()` is `[Errno 28] No space left on device: '/path'`; the errno picks the
    /// subclass, `FileNotFoundError` for a missing folder); `filename` is the `str` the
    /// caller gave (`os.fsdecode` of the path's bytes).
    fn to_py(&self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Io { path, errno, message } => {
                let os = match py.import("os") {
                    Ok(os) => os,
                    Err(e) => return e,
                };
                let strerror = os
                    .call_method1("strerror", (*errno,))
                    .and_then(|s| s.extract::<String>())
                    .unwrap_or_else(|_| message.clone());
                let name = match os.call_method1("fsdecode", (PyBytes::new(py, path.as_os_str().as_bytes()),)) {
                    Ok(name) => name,
                    Err(e) => return e,
                };
                PyOSError::new_err((*errno, strerror, name.unbind()))
            }
            Failure::Panic { path, message } => PyRuntimeError::new_err(match path {
                Some(path) => format!(
                    "{}: native core failed: a file writer panicked: {message}",
                    path.display()
                ),
                None => format!("native core failed: a file writer panicked: {message}"),
            }),
        }
    }
}

/// Why a submit was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Refused {
    Failed(Failure),
    Closed,
}

/// The queue the threads take files from.
struct Queue {
    jobs: VecDeque<Job>,
    /// The bytes of the jobs queued or being written ([`Job::cost`]).
    bytes: usize,
    /// No more jobs: a thread ends when the queue is empty.
    closed: bool,
    /// The jobs left are dropped unwritten (abandoned, or a failure).
    discard: bool,
    failure: Option<Failure>,
    /// Threads waiting for work, and submitters waiting for room: nobody is signalled
    /// when nobody waits (a signal is a system call even then).
    idle: usize,
    waiting: usize,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a job is queued or the queue is closed.
    work: Condvar,
    /// Signalled when half the queue's bytes are free, or a failure stops the writing.
    room: Condvar,
    /// At most this many bytes queued ([`Job::cost`]), except a single job larger than it.
    limit: usize,
}

impl Shared {
    /// The queue; a panic while it was held (none can: nothing in those sections panics)
    /// leaves it usable.
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A thread's loop: the next job, written, until the queue is closed and empty.
    fn run(&self) {
        let _guard = ThreadGuard(self);
        loop {
            let job = {
                let mut q = self.lock();
                loop {
                    if let Some(job) = q.jobs.pop_front() {
                        if !q.discard {
                            break job;
                        }
                        q.bytes -= job.cost();
                        continue;
                    }
                    if q.closed {
                        return;
                    }
                    q.idle += 1;
                    q = self.work.wait(q).unwrap_or_else(PoisonError::into_inner);
                    q.idle -= 1;
                }
            };
            let cost = job.cost();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                #[cfg(test)]
                fault(&job.path, "panic-in-write");
                write_file(&job.path, &job.data)
            }));
            let failure = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(Failure::io(job.path, &e)),
                Err(panic) => Some(Failure::Panic {
                    path: Some(job.path),
                    message: crate::panic_message(&*panic),
                }),
            };
            #[cfg(test)]
            if let Some(Failure::Io { path, .. }) = &failure {
                fault(path, "panic-in-loop");
            }
            let mut q = self.lock();
            q.bytes -= cost;
            if let Some(f) = failure {
                if q.failure.is_none() {
                    q.failure = Some(f);
                }
                q.discard = true;
            }
            // a waiting submitter goes on once half the queue is free, not at every file: it
            // would otherwise sleep again after one file, a context switch each way per file
            let wake = q.waiting > 0 && (q.bytes <= self.limit / 2 || q.discard);
            drop(q);
            if wake {
                self.room.notify_all();
            }
        }
    }
}

/// Tests' fault injection: a panic when the file's name is `name` (a bug, simulated).
#[cfg(test)]
fn fault(path: &Path, name: &str) {
    if path.file_name() == Some(std::ffi::OsStr::new(name)) {
        panic!("injected {name}");
    }
}

/// Tests' fault injection at close: the close of a file named `eio-at-close` (done, so no
/// descriptor leaks) is reported as failed with `EIO`, as NFS reports data it could not
/// write back. No local file system fails a close, so the flow of a close's error is tested
/// this way.
#[cfg(test)]
fn fault_at_close(path: &Path, closed: io::Result<()>) -> io::Result<()> {
    if path.file_name() == Some(std::ffi::OsStr::new("eio-at-close")) {
        return Err(io::Error::from_raw_os_error(EIO));
    }
    closed
}

/// Ends a thread's loop: when it ends by a panic past `run`'s `catch_unwind` (a bug in the
/// queue's accounting, say), the failure is recorded, the files left are discarded and
/// everyone waiting is woken, or a `submit` waiting for room would wait for good.
struct ThreadGuard<'a>(&'a Shared);

impl Drop for ThreadGuard<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let mut q = self.0.lock();
        if q.failure.is_none() {
            q.failure = Some(Failure::Panic {
                path: None,
                message: "a writing thread died".into(),
            });
        }
        q.discard = true;
        drop(q);
        self.0.work.notify_all();
        self.0.room.notify_all();
    }
}

/// The queue and its threads, without Python.
pub struct Pool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The process that started the threads: a forked child has none of them, so it must
    /// neither wait for them nor signal them (see `Drop`), and refuses every call.
    pid: u32,
}

/// The error of a forked child's call ([`Pool::forked`]).
const FORKED: &str = "FileWriter used in a forked child process";

impl Pool {
    pub fn new(threads: usize, limit: usize) -> io::Result<Pool> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                bytes: 0,
                closed: false,
                discard: false,
                failure: None,
                idle: 0,
                waiting: 0,
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            limit,
        });
        let pool = Pool {
            shared,
            threads: Mutex::new(Vec::new()),
            pid: std::process::id(),
        };
        for i in 0..threads.max(1) {
            let shared = pool.shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("cleaner-files-{i}"))
                .spawn(move || shared.run());
            match spawned {
                Ok(t) => pool.threads.lock().unwrap_or_else(PoisonError::into_inner).push(t),
                Err(e) => {
                    pool.abandon(); // the threads started so far end
                    return Err(e);
                }
            }
        }
        Ok(pool)
    }

    /// Whether this is a forked child's copy of the pool, which has no threads.
    pub fn forked(&self) -> bool {
        self.pid != std::process::id()
    }

    /// Queues a file when there is room (or the queue is empty), and wakes an idle thread
    /// when a batch is ready; `Ok(Some(job))` when the caller must wait for room.
    fn try_push(&self, q: &mut Queue, job: Job) -> Result<Option<Job>, Refused> {
        if let Some(f) = &q.failure {
            return Err(Refused::Failed(f.clone()));
        }
        if q.closed {
            return Err(Refused::Closed);
        }
        let cost = job.cost();
        if q.bytes > 0 && q.bytes + cost > self.shared.limit {
            return Ok(Some(job));
        }
        q.bytes += cost;
        q.jobs.push_back(job);
        if q.idle > 0 && (q.jobs.len() >= BATCH_JOBS || q.bytes >= self.shared.limit / 2) {
            self.shared.work.notify_one();
        }
        Ok(None)
    }

    /// Queues a file, without waiting: `Ok(Some(..))` gives it back when the queue is full
    /// (then [`Pool::submit`] waits). The caller holds the GIL: this never blocks on
    /// anything but the queue's lock, which the threads hold for a few instructions.
    fn submit_now(&self, path: PathBuf, data: Vec<u8>) -> Result<Option<(PathBuf, Vec<u8>)>, Refused> {
        let mut q = self.shared.lock();
        match self.try_push(&mut q, Job { path, data })? {
            None => Ok(None),
            Some(job) => Ok(Some((job.path, job.data))),
        }
    }

    /// Queues a file, waiting while the queue holds more than its bound of bytes.
    pub fn submit(&self, path: PathBuf, data: Vec<u8>) -> Result<(), Refused> {
        let mut job = Job { path, data };
        let mut q = self.shared.lock();
        loop {
            match self.try_push(&mut q, job)? {
                None => break,
                Some(back) => {
                    job = back;
                    // every thread to work (a batch may be short of BATCH_JOBS), then wait
                    self.shared.work.notify_all();
                    q.waiting += 1;
                    q = self.shared.room.wait(q).unwrap_or_else(PoisonError::into_inner);
                    q.waiting -= 1;
                }
            }
        }
        Ok(())
    }

    /// Ends the threads (stopping them without writing the jobs left when `discard`) and
    /// waits for them; in a forked child, whose copy has no threads, only forgets them.
    fn stop(&self, discard: bool) {
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        if self.forked() {
            std::mem::forget(threads);
            return;
        }
        {
            let mut q = self.shared.lock();
            q.closed = true;
            q.discard |= discard;
        }
        self.shared.work.notify_all();
        self.shared.room.notify_all();
        for t in threads {
            if t.join().is_err() {
                // run() catches a write's panic; one here is past that (a bug in the loop)
                let mut q = self.shared.lock();
                if q.failure.is_none() {
                    q.failure = Some(Failure::Panic {
                        path: None,
                        message: "a writing thread died".into(),
                    });
                }
            }
        }
    }

    /// Writes every file queued, ends the threads and returns the first failure, if any
    /// (again on every call: the queue stays closed).
    pub fn close(&self) -> Result<(), Failure> {
        self.stop(false);
        match &self.shared.lock().failure {
            Some(f) => Err(f.clone()),
            None => Ok(()),
        }
    }

    /// Drops the files queued unwritten and ends the threads (after the file each is
    /// writing): the output is about to be removed.
    pub fn abandon(&self) {
        self.stop(true);
    }
}

impl Drop for Pool {
    /// Dropped unclosed: as [`Pool::abandon`], so no file is created after its folder is
    /// removed and no thread outlives the writer.
    fn drop(&mut self) {
        self.stop(true);
    }
}

/// Writes files on threads of its own (see the module's docs): `submit(path, data)` queues
/// one and returns, `close()` waits for all of them and raises the first failure.
#[pyclass(frozen, name = "FileWriter", module = "cleaner._native")]
pub struct FileWriter {
    pool: Pool,
}

fn refused(py: Python<'_>, r: Refused) -> PyErr {
    match r {
        Refused::Failed(f) => f.to_py(py),
        Refused::Closed => PyValueError::new_err("the file writer is closed"),
    }
}

impl FileWriter {
    /// A forked child's copy has no threads: its files would never be written, and a full
    /// queue would block it for good.
    fn check_process(&self) -> PyResult<()> {
        if self.pool.forked() {
            return Err(PyRuntimeError::new_err(FORKED));
        }
        Ok(())
    }
}

#[pymethods]
impl FileWriter {
    /// `threads` writing threads; at most `max_bytes` of files queued before `submit` waits
    /// (no defaults: Python's `FILE_THREADS` and `FILE_QUEUE_BYTES` are the only ones).
    #[new]
    fn new(threads: usize, max_bytes: usize) -> PyResult<Self> {
        if threads == 0 || max_bytes == 0 {
            return Err(PyValueError::new_err(
                "a file writer needs at least one thread and one byte of queue",
            ));
        }
        let pool = crate::guarded_short(|| Pool::new(threads, max_bytes))??;
        Ok(FileWriter { pool })
    }

    /// Queues the file `path` with the content `data`, followed by a `\n` when `newline`
    /// (a clean file's text and its line end in one copy, not a concatenation in Python
    /// copied again here), and returns; waits, with the GIL released, while the queue is
    /// full. Raises the first failure of an earlier file, if any; a name with a NUL byte is
    /// the `ValueError` `os.open` raises, naming the file.
    #[pyo3(signature = (path, data, newline = false))]
    fn submit(&self, py: Python<'_>, path: PathBuf, data: &[u8], newline: bool) -> PyResult<()> {
        self.check_process()?;
        if path.as_os_str().as_bytes().contains(&0) {
            return Err(PyValueError::new_err(format!("{}: embedded null byte", path.display())));
        }
        let mut owned = Vec::with_capacity(data.len() + usize::from(newline));
        owned.extend_from_slice(data);
        if newline {
            owned.push(b'\n');
        }
        let data = owned;
        let pool = &self.pool;
        let back = crate::guarded_short(|| pool.submit_now(path, data))?.map_err(|r| refused(py, r))?;
        if let Some((path, data)) = back {
            // the queue is full: wait for room without the GIL (the driver's other threads,
            // if any, go on)
            crate::guarded(py, || pool.submit(path, data))?.map_err(|r| refused(py, r))?;
        }
        Ok(())
    }

    /// Waits for every file queued to be written, ends the threads and raises the first
    /// failure (on every call).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.check_process()?;
        let pool = &self.pool;
        crate::guarded(py, || pool.close())?.map_err(|f| f.to_py(py))
    }

    /// Drops the files queued unwritten and ends the threads; raises nothing (but in a
    /// forked child).
    fn abandon(&self, py: Python<'_>) -> PyResult<()> {
        self.check_process()?;
        let pool = &self.pool;
        crate::guarded(py, || pool.abandon())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FileWriter>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cleaner-writer-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// Whether `/dev/full` (a file whose writes fail with ENOSPC) is there; says the test
    /// is skipped when it is not.
    fn dev_full() -> bool {
        let there = Path::new("/dev/full").exists();
        if !there {
            eprintln!("skipped: no /dev/full");
        }
        there
    }

    /// The failure the pool refuses a submit of `path` with, once its thread has failed
    /// (submits are taken until then).
    fn first_refusal(pool: &Pool, path: PathBuf, data: &[u8]) -> Failure {
        loop {
            match pool.submit(path.clone(), data.to_vec()) {
                Ok(()) => std::thread::yield_now(),
                Err(Refused::Failed(f)) => return f,
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    #[test]
    fn many_files_across_folders_with_a_small_queue() {
        let d = scratch("many");
        let pool = Pool::new(3, 1000).unwrap(); // far fewer bytes than the files: submit waits
        for f in 0..8 {
            fs::create_dir(d.join(format!("f{f}"))).unwrap();
        }
        for i in 0..400usize {
            let data = vec![b'a' + (i % 26) as u8; i * 7];
            pool.submit(d.join(format!("f{}/{i}.txt", i % 8)), data).unwrap();
        }
        pool.close().unwrap();
        for i in 0..400usize {
            let got = fs::read(d.join(format!("f{}/{i}.txt", i % 8))).unwrap();
            assert_eq!(got, vec![b'a' + (i % 26) as u8; i * 7]);
        }
        assert_eq!(pool.shared.lock().bytes, 0);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_larger_than_the_queue_is_written() {
        let d = scratch("large");
        let pool = Pool::new(1, 10).unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        pool.submit(d.join("big"), data.clone()).unwrap();
        pool.submit(d.join("small"), b"x".to_vec()).unwrap();
        pool.close().unwrap();
        assert_eq!(fs::read(d.join("big")).unwrap(), data);
        assert_eq!(fs::read(d.join("small")).unwrap(), b"x");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn truncates_and_uses_the_mode_of_open() {
        let d = scratch("mode");
        let p = d.join("f");
        fs::write(&p, vec![b'z'; 10_000]).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        write_file(&p, b"short").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"short");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600); // kept
        let q = d.join("g");
        write_file(&q, b"").unwrap();
        let reference = d.join("r");
        fs::File::create(&reference).unwrap(); // 0o666 less the umask
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&q), mode(&reference));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_first_failure_is_kept_and_stops_the_writing() {
        if !dev_full() {
            return;
        }
        let d = scratch("fail");
        let pool = Pool::new(1, 1 << 20).unwrap();
        pool.submit(PathBuf::from("/dev/full"), vec![b'x'; 10]).unwrap();
        // the next submits are refused with it, as soon as the thread has failed
        let failure = first_refusal(&pool, d.join("after"), b"y");
        match &failure {
            Failure::Io { path, errno, .. } => {
                assert_eq!(path, Path::new("/dev/full"));
                assert_eq!(*errno, 28); // ENOSPC
            }
            f => panic!("{f:?}"),
        }
        assert_eq!(pool.close(), Err(failure.clone()));
        assert_eq!(pool.close(), Err(failure)); // again
        assert_eq!(
            pool.submit(d.join("x"), vec![]),
            Err(Refused::Failed(match pool.close() {
                Err(f) => f,
                Ok(()) => unreachable!(),
            }))
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_missing_folder_names_the_file() {
        let d = scratch("missing");
        let pool = Pool::new(2, 1 << 20).unwrap();
        let p = d.join("no/such/folder/f.txt");
        pool.submit(p.clone(), b"x".to_vec()).unwrap();
        match pool.close() {
            Err(Failure::Io { path, errno, .. }) => {
                assert_eq!(path, p);
                assert_eq!(errno, 2); // ENOENT
            }
            r => panic!("{r:?}"),
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dropped_or_abandoned_unclosed_ends_the_threads() {
        let d = scratch("drop");
        {
            let pool = Pool::new(2, 1 << 16).unwrap();
            for i in 0..200 {
                pool.submit(d.join(format!("{i}")), vec![b'q'; 1000]).unwrap();
            }
        } // dropped: returns once the threads have ended
        let pool = Pool::new(2, 1 << 16).unwrap();
        pool.submit(d.join("a"), vec![b'q'; 10]).unwrap();
        pool.abandon();
        assert_eq!(pool.submit(d.join("b"), vec![]), Err(Refused::Closed));
        assert_eq!(pool.close(), Ok(()));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_panic_in_a_write_names_the_file_and_stops_the_writing() {
        let d = scratch("panic");
        let pool = Pool::new(2, 1 << 20).unwrap();
        let p = d.join("panic-in-write");
        pool.submit(p.clone(), b"x".to_vec()).unwrap();
        match pool.close() {
            Err(Failure::Panic { path, message }) => {
                assert_eq!(path, Some(p));
                assert!(message.contains("injected"), "{message}");
            }
            r => panic!("{r:?}"),
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_failed_close_is_a_write_failure_naming_the_file() {
        // the close of `eio-at-close` fails (injected: see `fault_at_close`) after its bytes
        // were all written: the failure is the file's, the files after it are not written
        let d = scratch("close");
        let pool = Pool::new(1, 1 << 20).unwrap();
        pool.submit(d.join("before"), b"a".to_vec()).unwrap();
        let p = d.join("eio-at-close");
        pool.submit(p.clone(), b"b".to_vec()).unwrap();
        let failure = first_refusal(&pool, d.join("after"), b"c");
        match &failure {
            Failure::Io { path, errno, message } => {
                assert_eq!(path, &p);
                assert_eq!(*errno, EIO);
                assert!(message.contains("Input/output error"), "{message}");
            }
            f => panic!("{f:?}"),
        }
        assert_eq!(pool.close(), Err(failure));
        assert_eq!(fs::read(d.join("before")).unwrap(), b"a");
        assert_eq!(fs::read(&p).unwrap(), b"b"); // written, but its close failed
        assert!(!d.join("after").exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_write_error_wins_over_the_close_error() {
        // a write that fails (a full disk, through a link named to fail its close too): the
        // write's error is the one reported, the first thing that went wrong
        if !dev_full() {
            return;
        }
        let d = scratch("both");
        let p = d.join("eio-at-close");
        std::os::unix::fs::symlink("/dev/full", &p).unwrap();
        assert_eq!(write_file(&p, b"x").unwrap_err().raw_os_error(), Some(28)); // ENOSPC
        assert_eq!(write_file(&p, b"").unwrap_err().raw_os_error(), Some(EIO)); // no write
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_thread_dying_past_catch_unwind_wakes_a_waiting_submit() {
        // one thread, which dies after failing on a missing folder; the submitter waits for
        // room behind a queue it alone would drain: without the guard it would wait for good.
        // The waiting runs on a thread of its own, so that a regression fails this test
        // within seconds instead of hanging `cargo test` (the stuck thread is left behind).
        let d = scratch("died");
        let (tx, rx) = std::sync::mpsc::channel();
        let dir = d.clone();
        std::thread::spawn(move || {
            let pool = Pool::new(1, 1000).unwrap();
            pool.submit(dir.join("missing/panic-in-loop"), vec![b'a'; 10]).unwrap();
            let outcome = (0..1000).try_for_each(|i| pool.submit(dir.join(format!("{i}")), vec![b'b'; 500]));
            let closed = pool.close();
            let _ = tx.send((outcome, closed));
        });
        let (outcome, closed) = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("a submit waiting for room was not woken when the writing thread died (hung for 20 s)");
        match outcome {
            Err(Refused::Failed(Failure::Panic { path: None, .. })) => {}
            r => panic!("{r:?}"),
        }
        assert!(matches!(closed, Err(Failure::Panic { path: None, .. })));
        fs::remove_dir_all(&d).unwrap();
    }
}

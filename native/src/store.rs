//! The signature files of dedup's passage store (`cleaner.dedup.store.PassageStore`): the
//! writer the driver appends every document's signatures to, and the reader of rows by
//! number.
//!
//! A run holds a 128-value signature for each of about 4,000 passages per MB of text, too
//! many for the driver's memory, so they go to files: the whole rows in one (read back by
//! row for confirmation), and each LSH band's columns in a file of its own (read back band
//! by band). In Python, the writes cost the driver a numpy concatenation and a strided copy
//! per band of every block, during the pass where it shares the cores with the workers; the
//! reads cost a `pread`, an array and a copy per run of consecutive rows, several million
//! rows per 200 MB. Here a document's signatures are one copy into a buffer, a block's
//! bands are cut from it with the GIL released, and a read of any rows is one call.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyByteArray;

use crate::guarded;

/// Rows buffered before they are handed to the writing thread (about 2 MB of signatures).
const BLOCK_ROWS: usize = 4096;

/// Blocks waiting for the writing thread, at most, before `append` waits for it.
const QUEUED: usize = 2;

/// Rows closer than this many bytes in the file are read by one `pread`, the bytes between
/// them read and dropped: a page-cache copy of a few kilobytes costs less than a call.
const GAP_BYTES: u64 = 16 << 10;

/// At most this many bytes are read by one `pread` (the buffer a read holds).
pub(crate) const SPAN_BYTES: u64 = 1 << 20;

/// Where signatures go: `whole` gets every row, `bands[k]` the columns
/// `k * band_rows .. (k + 1) * band_rows` of every row, both in the order rows arrive.
struct Files {
    whole: File,
    bands: Vec<File>,
    band_rows: usize,
    width: usize,
    /// A block's bands, cut, one after the other: kept between blocks, so that cutting
    /// allocates nothing.
    cut: Vec<u8>,
}

impl Files {
    /// Writes a block of whole rows (little-endian uint32, as the caller's array holds
    /// them) to every file.
    fn write(&mut self, block: &[u8]) -> io::Result<()> {
        self.whole.write_all(block)?;
        if self.bands.is_empty() {
            return Ok(());
        }
        let piece = 4 * self.band_rows;
        let n = block.len() / (4 * self.width);
        self.cut.resize(self.bands.len() * n * piece, 0);
        // a band's piece of a row is a few bytes (12 at 3 rows a band): copied as an array
        // of that size, it is a move the compiler inlines, not a call of memmove per piece
        // (37 bands of 4096 rows a block, a sixth of the writing thread's time)
        match piece {
            8 => cut_bands::<8>(block, &mut self.cut, self.bands.len(), self.width),
            12 => cut_bands::<12>(block, &mut self.cut, self.bands.len(), self.width),
            16 => cut_bands::<16>(block, &mut self.cut, self.bands.len(), self.width),
            20 => cut_bands::<20>(block, &mut self.cut, self.bands.len(), self.width),
            _ => cut_pieces(block, &mut self.cut, self.bands.len(), self.width, piece),
        }
        for (fh, band) in self.bands.iter_mut().zip(self.cut.chunks_exact(n * piece)) {
            fh.write_all(band)?;
        }
        Ok(())
    }
}

/// [`cut_pieces`] with the piece's size known to the compiler: each piece is a fixed-size
/// move.
fn cut_bands<const P: usize>(block: &[u8], out: &mut [u8], bands: usize, width: usize) {
    cut_pieces(block, out, bands, width, P);
}

/// [`Files::write`]'s cut of `block` (rows of `width` uint32) into `bands` bands of
/// `piece` bytes (> 0), band after band, into `out`.
#[inline(always)]
fn cut_pieces(block: &[u8], out: &mut [u8], bands: usize, width: usize, piece: usize) {
    let n = block.len() / (4 * width);
    for (i, row) in block.chunks_exact(4 * width).enumerate() {
        for (k, part) in row.chunks_exact(piece).take(bands).enumerate() {
            let at = (k * n + i) * piece;
            out[at..at + piece].copy_from_slice(part);
        }
    }
}

/// The writer's state: rows not yet handed over, the thread that writes the blocks, and
/// the blocks it has written, back for reuse.
///
/// Why reuse: a block is 2 MB, and the driver maps every block that large afresh (see
/// `engines.local.driver_malloc`), so a new block per hand-over cost a page fault per
/// 4 KiB of signatures, in the pass where the driver shares the cores with the workers.
struct Writer {
    row_bytes: usize,
    pending: Vec<u8>,
    blocks: Option<SyncSender<Vec<u8>>>,
    spare: Option<Receiver<Vec<u8>>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Writer {
    /// Hands the pending rows to the writing thread (waiting while it has [`QUEUED`] blocks).
    fn hand_over(&mut self) -> PyResult<()> {
        let next = self
            .spare
            .as_ref()
            .and_then(|rx| rx.try_recv().ok())
            .unwrap_or_else(|| Vec::with_capacity(BLOCK_ROWS * self.row_bytes));
        let block = std::mem::replace(&mut self.pending, next);
        let sent = self.blocks.as_ref().is_some_and(|tx| tx.send(block).is_ok());
        if !sent {
            self.finish()?; // the thread stopped: its error
            return Err(PyOSError::new_err("signature writer is closed"));
        }
        Ok(())
    }

    /// Ends the thread (after the blocks it was handed) and returns its outcome.
    fn finish(&mut self) -> PyResult<()> {
        self.blocks = None;
        self.spare = None;
        match self.thread.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e.into()),
            Some(Err(_)) => Err(PyRuntimeError::new_err(
                "native core failed: the signature writer panicked",
            )),
        }
    }
}

/// Appends signatures (`width` uint32 a row) to a file of whole rows and to one file per
/// band. The files are written by a thread of the writer's own, a block of [`BLOCK_ROWS`]
/// rows at a time: the caller (the driver, while it feeds the workers) only copies a
/// document's rows into the block, and never waits on the disk unless [`QUEUED`] blocks
/// are waiting already. `close` writes the rest; nothing is read back before.
#[pyclass(frozen, module = "cleaner._native")]
pub struct SigWriter {
    state: Mutex<Writer>,
}

impl SigWriter {
    /// The writer, locked, for an append: refused once closed.
    fn open_writer(&self) -> PyResult<MutexGuard<'_, Writer>> {
        let guard = self
            .state
            .lock()
            .map_err(|_| PyOSError::new_err("signature writer poisoned"))?;
        if guard.blocks.is_none() {
            return Err(PyValueError::new_err("signature writer is closed"));
        }
        Ok(guard)
    }
}

#[pymethods]
impl SigWriter {
    /// `bands`: the band files, each taking the next `band_rows` columns (their columns
    /// past the last band are in the whole file only).
    #[new]
    fn new(whole: PathBuf, width: usize, bands: Vec<PathBuf>, band_rows: usize) -> PyResult<Self> {
        let banded = bands.len().checked_mul(band_rows);
        if width == 0 || (!bands.is_empty() && band_rows == 0) || banded.is_none_or(|b| b > width) {
            return Err(PyValueError::new_err(
                "bands of a signature's columns (at least one row a band), width > 0",
            ));
        }
        let mut files = Files {
            whole: File::create(whole)?,
            bands: bands.into_iter().map(File::create).collect::<io::Result<_>>()?,
            band_rows,
            width,
            cut: Vec::new(),
        };
        let (tx, rx) = sync_channel::<Vec<u8>>(QUEUED);
        // room for every block there can be: the writing thread never waits to give one back
        let (back, spare) = sync_channel::<Vec<u8>>(QUEUED + 2);
        let thread = std::thread::Builder::new()
            .name("cleaner-signatures".into())
            .spawn(move || {
                rx.iter().try_for_each(|mut block| {
                    files.write(&block)?;
                    block.clear();
                    let _ = back.try_send(block);
                    Ok(())
                })
            })?;
        Ok(SigWriter {
            state: Mutex::new(Writer {
                row_bytes: 4 * width,
                pending: Vec::with_capacity(BLOCK_ROWS * 4 * width),
                blocks: Some(tx),
                spare: Some(spare),
                thread: Some(thread),
            }),
        })
    }

    /// Appends the rows of `sigs`: the bytes of whole rows of little-endian uint32 (a
    /// C-contiguous buffer of bytes: a `<u4` array's `view(np.uint8)`, or the bytes
    /// a worker wrote).
    fn append(&self, py: Python<'_>, sigs: &Bound<'_, PyAny>) -> PyResult<()> {
        let buf = PyBuffer::<u8>::get(sigs)?;
        let mut guard = self.open_writer()?;
        let w: &mut Writer = &mut guard;
        let n = buf.item_count();
        if n % w.row_bytes != 0 {
            return Err(PyValueError::new_err("signatures must be whole rows"));
        }
        let at = w.pending.len();
        w.pending.resize(at + n, 0);
        buf.copy_to_slice(py, &mut w.pending[at..])?;
        if w.pending.len() >= BLOCK_ROWS * w.row_bytes {
            py.detach(|| w.hand_over())?;
        }
        Ok(())
    }

    /// Appends the signatures other processes wrote to files (pass 2's workers, see
    /// `cleaner.steps.Untemplated`): span `k` is `lengths[k]` bytes of whole rows at byte
    /// `offsets[k]` of `files[which[k]]` (`which` int32, `offsets` and `lengths` int64, as
    /// bytes), read in that order straight into the block being filled, with the GIL
    /// released.
    ///
    /// Why: read in Python, each document's signatures were a `pread` into a fresh `bytes`,
    /// an array over it and a copy into the block, with a few numpy calls to cut the
    /// document's own row from its passages' (two stores), on the driver's thread while it
    /// shares the cores with the workers.
    fn append_spans(
        &self,
        py: Python<'_>,
        files: Vec<PathBuf>,
        which: &[u8],
        offsets: &[u8],
        lengths: &[u8],
    ) -> PyResult<()> {
        let spans = spans_of(which, offsets, lengths, files.len())?;
        let mut guard = self.open_writer()?;
        let w: &mut Writer = &mut guard;
        if spans.iter().any(|&(_, _, len)| !len.is_multiple_of(w.row_bytes as u64)) {
            return Err(PyValueError::new_err("signatures must be whole rows"));
        }
        // the rows of this call before any block was handed over: what an error takes back
        let mut kept = w.pending.len();
        let copied = guarded(py, || copy_spans(w, &files, &spans, &mut kept)).and_then(|r| r);
        if copied.is_err() {
            w.pending.truncate(kept);
        }
        copied
    }

    /// Writes what is buffered, waits for the files to be written and closes them (again:
    /// nothing). An error writing any block is raised here if `append` did not raise it.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let mut guard = self
            .state
            .lock()
            .map_err(|_| PyOSError::new_err("signature writer poisoned"))?;
        let w: &mut Writer = &mut guard;
        py.detach(|| {
            if w.blocks.is_some() && !w.pending.is_empty() {
                w.hand_over()?;
            }
            w.finish()
        })
    }
}

/// [`SigWriter::append_spans`]' copying, after its checks: each span is checked against its
/// file's size before anything is copied (a corrupt offset or length is an error naming the
/// file, not a huge allocation), then read straight into the block being filled. `kept` is
/// lowered to 0 when a block is handed over: the rows in it are the writing thread's, the
/// caller can only take back what is still pending.
fn copy_spans(w: &mut Writer, files: &[PathBuf], spans: &[(usize, u64, u64)], kept: &mut usize) -> PyResult<()> {
    let open = |p: &PathBuf| -> io::Result<(File, u64)> {
        let f = File::open(p)?;
        let size = f.metadata()?.len();
        Ok((f, size))
    };
    let opened: Vec<(File, u64)> = files
        .iter()
        .map(|p| open(p).map_err(|e| named(p, e)))
        .collect::<PyResult<_>>()?;
    for &(f, offset, len) in spans {
        if offset.checked_add(len).is_none_or(|end| end > opened[f].1) {
            return Err(PyOSError::new_err(format!(
                "signature file {}: {len} bytes at {offset} are past its end ({} bytes)",
                files[f].display(),
                opened[f].1
            )));
        }
    }
    for &(f, offset, len) in spans {
        let at = w.pending.len();
        // within the file's size, which is in memory's reach when it was written
        let len = usize::try_from(len).map_err(|_| PyValueError::new_err("a span too long"))?;
        w.pending.resize(at + len, 0);
        opened[f]
            .0
            .read_exact_at(&mut w.pending[at..], offset)
            .map_err(|e| named(&files[f], e))?;
        if w.pending.len() >= BLOCK_ROWS * w.row_bytes {
            *kept = 0;
            w.hand_over()?;
        }
    }
    Ok(())
}

/// An error reading `path` as Python's own `OSError(errno, strerror, filename)` when the
/// system gave a code (so `errno`, the subclass and `filename` are there to inspect), a
/// message naming the file otherwise.
fn named(path: &std::path::Path, e: io::Error) -> PyErr {
    let file = path.display().to_string();
    match e.raw_os_error() {
        Some(code) => {
            let text = e.to_string();
            let text = text
                .strip_suffix(&format!(" (os error {code})"))
                .unwrap_or(&text)
                .to_string();
            PyOSError::new_err((code, text, file))
        }
        None => PyOSError::new_err(format!("signature file {file}: {e}")),
    }
}

/// [`SigWriter::append_spans`]' spans as `(file, offset, length)`, checked: one file
/// number, offset and length each, file numbers below `files`, no negative number.
fn spans_of(which: &[u8], offsets: &[u8], lengths: &[u8], files: usize) -> PyResult<Vec<(usize, u64, u64)>> {
    let n = which.len() / 4;
    if !which.len().is_multiple_of(4) || offsets.len() != 8 * n || lengths.len() != 8 * n {
        return Err(PyValueError::new_err(
            "one int32 file number, int64 offset and int64 length per span",
        ));
    }
    let wide = |b: &[u8]| u64::try_from(i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
    which
        .chunks_exact(4)
        .zip(offsets.chunks_exact(8).zip(lengths.chunks_exact(8)))
        .map(|(f, (o, l))| {
            let f = usize::try_from(i32::from_le_bytes([f[0], f[1], f[2], f[3]]))
                .ok()
                .filter(|&f| f < files);
            match (f, wide(o), wide(l)) {
                (Some(f), Ok(o), Ok(l)) => Ok((f, o, l)),
                _ => Err(PyValueError::new_err(
                    "a span's file number is one of the files, its offset and length not negative",
                )),
            }
        })
        .collect()
}

impl Drop for SigWriter {
    /// Dropped unclosed (a run that failed): the thread is ended and waited for, so no write
    /// lands after the store's folder is removed.
    fn drop(&mut self) {
        if let Ok(w) = self.state.get_mut() {
            let _ = w.finish();
        }
    }
}

/// Reads rows of `width` bytes of `file` by number into `out` (row `rows[i]` at `i`).
///
/// The rows are visited in file order and read in spans: rows less than [`GAP_BYTES`] apart
/// share one read of at most [`SPAN_BYTES`] (the passages of a document, a band of most
/// texts), rows far apart are a read each. A row past the end of the file is an error.
pub fn gather(file: &File, width: usize, rows: &[u32], out: &mut [u8]) -> io::Result<()> {
    let w = width as u64;
    // file order: rows that ascend already (a band, a document) need no permutation
    let order: Option<Vec<u32>> = (!rows.is_sorted()).then(|| {
        let mut o: Vec<u32> = (0..rows.len() as u32).collect();
        o.sort_by_key(|&i| rows[i as usize]); // stable: equal rows keep their order
        o
    });
    let at = |i: usize| order.as_ref().map_or(i, |o| o[i] as usize);
    // one span buffer of the thread's, kept from call to call (see crate::scratch)
    crate::scratch::with_bytes(SPAN_BYTES.max(w) as usize, |span| {
        gather_spans(file, w, rows, at, span, out)
    })
}

/// [`gather`]'s reads, row `rows[at(i)]` after row, each span through `span`.
fn gather_spans(
    file: &File,
    w: u64,
    rows: &[u32],
    at: impl Fn(usize) -> usize,
    span: &mut [u8],
    out: &mut [u8],
) -> io::Result<()> {
    let width = w as usize;
    let mut i = 0;
    while i < rows.len() {
        let first = u64::from(rows[at(i)]);
        let mut last = first;
        let mut j = i + 1;
        while j < rows.len() {
            let r = u64::from(rows[at(j)]);
            if (r - last) * w > GAP_BYTES + w || (r - first + 1) * w > SPAN_BYTES {
                break;
            }
            last = r;
            j += 1;
        }
        let span = &mut span[..((last - first + 1) * w) as usize];
        file.read_exact_at(span, first * w)?;
        for p in (i..j).map(&at) {
            let off = ((u64::from(rows[p]) - first) * w) as usize;
            out[p * width..(p + 1) * width].copy_from_slice(&span[off..off + width]);
        }
        i = j;
    }
    Ok(())
}

/// A file of fixed-width rows, read by row number.
#[pyclass(frozen, module = "cleaner._native")]
pub struct RowFile {
    file: File,
    width: usize,
}

#[pymethods]
impl RowFile {
    #[new]
    fn new(path: PathBuf, width: usize) -> PyResult<Self> {
        if width == 0 || width as u64 > SPAN_BYTES {
            return Err(PyValueError::new_err("rows of 1 byte to 1 MiB"));
        }
        Ok(RowFile {
            file: File::open(path)?,
            width,
        })
    }

    /// The rows numbered by `rows` (a C-contiguous int32 array: a store holds fewer than
    /// 2**31 rows), in that order, as one bytearray of `len(rows) * width` bytes (writable,
    /// as numpy arrays over it are then).
    fn gather<'py>(&self, py: Python<'py>, rows: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyByteArray>> {
        let buf = PyBuffer::<i32>::get(rows)?;
        let rows: Vec<u32> = buf
            .to_vec(py)?
            .into_iter()
            .map(u32::try_from)
            .collect::<Result<_, _>>()
            .map_err(|_| PyValueError::new_err("a negative row number (a text without a signature)"))?;

        let len = rows
            .len()
            .checked_mul(self.width)
            .ok_or_else(|| PyValueError::new_err("too many rows"))?;
        PyByteArray::new_with(py, len, |out| {
            guarded(py, || gather(&self.file, self.width, &rows, out))?.map_err(PyErr::from)
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SigWriter>()?;
    m.add_class::<RowFile>()
}

/// A folder of its own for a test's files (this process and thread), removed when dropped.
#[cfg(test)]
pub(crate) mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            let p = std::env::temp_dir().join(format!(
                "store-test-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(rows: usize, width: usize) -> (tempdir::Dir, File) {
        let dir = tempdir::Dir::new();
        let path = dir.0.join("rows");
        let data: Vec<u8> = (0..rows * width).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let f = File::open(&path).unwrap();
        (dir, f)
    }

    #[test]
    fn gathers_rows_in_any_order_near_and_far() {
        let width = 12;
        let rows_in_file = 20_000;
        let (_d, f) = file_of(rows_in_file, width);
        let want = |r: u32| -> Vec<u8> {
            (r as usize * width..(r as usize + 1) * width)
                .map(|i| (i % 251) as u8)
                .collect()
        };
        let rows: Vec<u32> = vec![5, 3, 3, 19_999, 0, 4, 10_000, 6, 6, 1];
        let mut out = vec![0u8; rows.len() * width];
        gather(&f, width, &rows, &mut out).unwrap();
        for (i, &r) in rows.iter().enumerate() {
            assert_eq!(out[i * width..(i + 1) * width], want(r)[..]);
        }
    }

    #[test]
    fn gathers_ascending_rows_across_spans() {
        let width = 512;
        let (_d, f) = file_of(5000, width);
        let rows: Vec<u32> = (0..5000).filter(|r| r % 3 != 0 || r % 700 < 400).collect();
        let mut out = vec![0u8; rows.len() * width];
        gather(&f, width, &rows, &mut out).unwrap();
        for (i, &r) in rows.iter().enumerate() {
            let want: Vec<u8> = (r as usize * width..(r as usize + 1) * width)
                .map(|i| (i % 251) as u8)
                .collect();
            assert_eq!(out[i * width..(i + 1) * width], want[..]);
        }
    }

    #[test]
    fn blocks_go_whole_and_cut_into_bands_reusing_the_band_buffer() {
        // pieces of 8 bytes (a size copied as an array) and of 12 bytes of 3 bands of 9
        // columns, one of 36 (copied by slice)
        for (width, band_rows, bands) in [(6, 2, 2), (9, 3, 3), (20, 9, 2)] {
            cut_and_compare(width, band_rows, bands);
        }
    }

    fn cut_and_compare(width: usize, band_rows: usize, bands: usize) {
        let dir = tempdir::Dir::new();
        let mut files = Files {
            whole: File::create(dir.0.join("whole")).unwrap(),
            bands: (0..bands)
                .map(|k| File::create(dir.0.join(format!("band-{k}"))).unwrap())
                .collect(),
            band_rows,
            width,
            cut: Vec::new(),
        };
        let rows: Vec<Vec<u32>> = (0..5u32)
            .map(|r| (0..width as u32).map(|c| r * 100 + c).collect())
            .collect();
        let bytes = |rows: &[Vec<u32>]| -> Vec<u8> { rows.iter().flatten().flat_map(|v| v.to_le_bytes()).collect() };
        files.write(&bytes(&rows[..3])).unwrap();
        files.write(&bytes(&rows[3..])).unwrap();
        drop(files);
        assert_eq!(std::fs::read(dir.0.join("whole")).unwrap(), bytes(&rows));
        for k in 0..bands {
            let cut: Vec<Vec<u32>> = rows
                .iter()
                .map(|r| r[k * band_rows..(k + 1) * band_rows].to_vec())
                .collect();
            assert_eq!(std::fs::read(dir.0.join(format!("band-{k}"))).unwrap(), bytes(&cut));
        }
    }

    #[test]
    fn spans_are_checked() {
        let le = |v: &[i64]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let which: Vec<u8> = [0i32, 1].iter().flat_map(|x| x.to_le_bytes()).collect();
        let got = spans_of(&which, &le(&[8, 0]), &le(&[512, 1024]), 2).ok();
        assert_eq!(got, Some(vec![(0, 8, 512), (1, 0, 1024)]));
        assert!(spans_of(&which, &le(&[8, 0]), &le(&[512, 1024]), 1).is_err()); // file 1 of 1
        assert!(spans_of(&which, &le(&[8, -1]), &le(&[512, 1024]), 2).is_err());
        assert!(spans_of(&which, &le(&[8]), &le(&[512, 1024]), 2).is_err());
        assert!(spans_of(&which[..3], &le(&[]), &le(&[]), 2).is_err());
    }

    #[test]
    fn a_row_past_the_end_is_an_error() {
        let (_d, f) = file_of(10, 8);
        let mut out = vec![0u8; 8];
        assert!(gather(&f, 8, &[10], &mut out).is_err());
    }
}

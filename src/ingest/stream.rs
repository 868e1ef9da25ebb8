//! Large xlsx sheets, read as a stream of rows rather than into memory.
//!
//! A workbook with a worksheet of at least `STREAM_FROM_BYTES` of XML has only the head of
//! each sheet read with the other files (enough rows to find the header and the context) and
//! its merged ranges. Its data rows are read later, when the walk in processing order reaches
//! the sheet (see `dedup`): one thread parses the XML into rows, the others validate chunks
//! of rows, and the results are judged and handed on in row order. Memory stays flat in the
//! number of rows: a few chunks in flight, not the sheet.
//!
//! Rows come out exactly as the in-memory reader would give them: rows missing from the XML
//! between two rows are blank rows; merged ranges are filled from their top-left cell, which
//! is kept for as long as a range reaches down from it.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use calamine::{Reader, Xlsx};

use super::layout::{Filled, HEADER_SCAN_ROWS, Layout, Merged};
use super::read::{self, Merge, RawSheet, ReadError, Visibility};
use super::rows::RowContext;
use super::sheet::{RowsJob, RowsOutcome};
use super::xlsx_scan;
use crate::config::forms::FormConfig;
use crate::normalize::value::Cell;

/// Workbooks with a worksheet of at least this much XML (about 30,000 rows of 16 columns) are
/// streamed.
pub const STREAM_FROM_BYTES: u64 = 16 << 20;

/// Rows validated as one piece.
const CHUNK_ROWS: usize = 1024;

/// Rejected rows of a streamed sheet whose cells are kept for its 退回修改 workbook; past
/// this many (a sheet of the wrong form, say) the workbook reads the sheet again instead of
/// holding them all.
pub const KEEP_REJECTED_ROWS: usize = 10_000;

/// Whether a file is an xlsx/xlsm package with a worksheet of at least `threshold` bytes of
/// XML (read from the zip directory, without inflating anything).
pub fn is_large(path: &Path, threshold: u64) -> bool {
    let Ok(mut file) = File::open(path) else { return false };
    let mut magic = [0u8; 4];
    if file.read_exact(&mut magic).is_err() || &magic != b"PK\x03\x04" {
        return false;
    }
    let Ok(mut zip) = zip::ZipArchive::new(BufReader::new(file)) else { return false };
    (0..zip.len()).any(|i| {
        zip.by_index_raw(i).is_ok_and(|e| {
            e.size() >= threshold
                && e.name().is_ok_and(|name| name.starts_with("xl/worksheets/") && name.ends_with(".xml"))
        })
    })
}

/// A large workbook, open on its file (never read whole into memory): its shared strings are
/// parsed once, for the head and the rows. It is closed when the last of its sheets has been
/// read.
pub type Workbook = Arc<Large>;

/// A large workbook as the fast reader (`xlsx_scan`) reads it if it can, and as calamine does
/// (opened only when needed: opening parses the shared strings).
pub struct Large {
    path: PathBuf,
    fast: Option<xlsx_scan::Package>,
    xlsx: Mutex<Option<Xlsx<BufReader<File>>>>,
}

impl Large {
    /// The workbook at `path` with the fast reader's shared parts read, if it can read them;
    /// calamine is opened later, if needed.
    fn open(path: &Path) -> Large {
        let fast = read::guarded(|| Ok(xlsx_scan::Package::open(path))).ok().flatten();
        Large { path: path.to_path_buf(), fast, xlsx: Mutex::new(None) }
    }
}

/// What is left to read of a sheet whose head was read: its data rows.
#[derive(Clone)]
pub struct Pending {
    pub workbook: Workbook,
    pub layout: Layout,
    pub merges: Vec<Merge>,
    /// The rows above the data (title and header), as read ahead.
    pub head: Vec<Vec<Cell>>,
    /// The first (0-based) row below the header.
    pub first_data: usize,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("first_data", &self.first_data).finish_non_exhaustive()
    }
}

/// Every sheet of a large package with only its first `HEADER_SCAN_ROWS` rows read, and all
/// its merged ranges. Hidden sheets are listed, never read.
pub fn read_head(path: &Path) -> Result<(Vec<RawSheet>, Workbook), ReadError> {
    // The merged ranges sit after all the cells: scanning for them takes as long as opening
    // the workbook (its shared strings), so both happen at once.
    std::thread::scope(|scope| {
        let merges = scope.spawn(|| {
            let file = File::open(path).ok()?;
            super::xlsx_merges::by_sheet_of(BufReader::new(file))
        });
        let large = Large::open(path);
        let mut sheets = match large.fast.as_ref().and_then(fast_head) {
            Some(sheets) => sheets,
            None => {
                let (sheets, xlsx) = read_head_rows(path)?;
                *large.xlsx.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(xlsx);
                sheets
            }
        };
        let merges = merges.join().ok().flatten().unwrap_or_default();
        for sheet in &mut sheets {
            sheet.merged = merges.get(&sheet.name).cloned().unwrap_or_default();
        }
        Ok((sheets, Arc::new(large)))
    })
}

/// The heads of the sheets from the fast reader; `None` if it stops in one.
fn fast_head(package: &xlsx_scan::Package) -> Option<Vec<RawSheet>> {
    let mut sheets = Vec::new();
    for (name, visibility) in package.sheets() {
        let mut rows: Vec<Vec<Cell>> = Vec::new();
        if visibility == Visibility::Visible {
            let read = read::guarded(|| {
                Ok(package.each_row(name, |r, cells| {
                    if r >= HEADER_SCAN_ROWS {
                        return false;
                    }
                    rows.resize_with(r, Vec::new);
                    rows.push(cells);
                    true
                }))
            });
            read.ok()?.ok()?;
        }
        sheets.push(RawSheet { name: name.to_string(), visibility, rows, merged: Vec::new() });
    }
    Some(sheets)
}

fn open(path: &Path) -> Result<Xlsx<BufReader<File>>, ReadError> {
    let file = File::open(path).map_err(|e| ReadError::Corrupt(e.to_string()))?;
    Xlsx::new(BufReader::new(file)).map_err(|e| ReadError::Corrupt(e.to_string()))
}

fn read_head_rows(path: &Path) -> Result<(Vec<RawSheet>, Xlsx<BufReader<File>>), ReadError> {
    let mut xlsx = open(path)?;
    let mut sheets = Vec::new();
    for meta in xlsx.sheets_metadata().to_vec() {
        let visibility = read::sheet_visibility(&meta);
        let mut rows: Vec<Vec<Cell>> = Vec::new();
        if visibility == Visibility::Visible {
            each_row(&mut xlsx, &meta.name, |r, cells| {
                if r >= HEADER_SCAN_ROWS {
                    return false;
                }
                rows.resize_with(r, Vec::new);
                rows.push(cells);
                true
            })?;
        }
        sheets.push(RawSheet { name: meta.name, visibility, rows, merged: Vec::new() });
    }
    Ok((sheets, xlsx))
}

/// Only the given rows (0-based) of a sheet of a large workbook, read as a stream: what a
/// 退回修改 workbook needs of it. Other rows are left empty.
pub fn read_rows(path: &Path, sheet: &str, wanted: &std::collections::BTreeSet<usize>) -> Option<RawSheet> {
    let last = *wanted.last()?;
    let mut rows: Vec<Vec<Cell>> = vec![Vec::new(); last + 1];
    let workbook = Large::open(path);
    let read = read::guarded(|| {
        rows_of(&workbook, sheet, |r, cells| {
            if wanted.contains(&r) {
                rows[r] = cells;
            }
            r < last
        })
    });
    read.ok()?;
    Some(RawSheet { name: sheet.to_string(), visibility: Visibility::Visible, rows, merged: Vec::new() })
}

/// Calls `each` with every row of a sheet of a large workbook that has a value, in order: from
/// the fast reader, and from calamine after the last row it handed on if it stopped.
pub fn rows_of(workbook: &Large, sheet: &str, mut each: impl FnMut(usize, Vec<Cell>) -> bool) -> Result<(), ReadError> {
    let after = match &workbook.fast {
        Some(fast) => {
            // Should the fast reader panic, calamine still reads the rows it did not hand on.
            let mut handed_on = None;
            let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                fast.each_row(sheet, |r, cells| {
                    handed_on = Some(r);
                    each(r, cells)
                })
            }));
            match read {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(stopped)) => stopped.last_row,
                Err(_) => handed_on,
            }
        }
        None => None,
    };
    let mut xlsx = workbook.xlsx.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if xlsx.is_none() {
        *xlsx = Some(open(&workbook.path)?);
    }
    let xlsx = xlsx.as_mut().expect("opened above");
    each_row(xlsx, sheet, |r, cells| after.is_some_and(|last| r <= last) || each(r, cells))
}

/// Every row of a sheet with a value, as calamine's streaming reader gives them: what the fast
/// reader (`xlsx_scan`) must give too.
pub fn calamine_rows(path: &Path, sheet: &str) -> Result<Vec<(usize, Vec<Cell>)>, ReadError> {
    let mut xlsx = open(path)?;
    let mut rows = Vec::new();
    each_row(&mut xlsx, sheet, |r, cells| {
        rows.push((r, cells));
        true
    })?;
    Ok(rows)
}

/// Calls `each` with every row that has a value, in order: (0-based row, cells up to the last
/// value). Stops when `each` returns false.
fn each_row<RS: Read + Seek>(
    xlsx: &mut Xlsx<RS>,
    name: &str,
    mut each: impl FnMut(usize, Vec<Cell>) -> bool,
) -> Result<(), ReadError> {
    let corrupt = |e: calamine::XlsxError| ReadError::Corrupt(format!("sheet `{name}`: {e}"));
    let mut reader = xlsx.worksheet_cells_reader(name).map_err(corrupt)?;
    let mut current: Option<(usize, Vec<Cell>)> = None;
    while let Some(cell) = reader.next_cell().map_err(corrupt)? {
        let Some(value) = read::cell_of(cell.get_value()) else { continue };
        let (r, c) = (cell.get_position().0 as usize, cell.get_position().1 as usize);
        match &current {
            Some((row, _)) if *row == r => {}
            Some((row, _)) if r < *row => {
                return Err(ReadError::Corrupt(format!("sheet `{name}`: row {} comes after row {}", r + 1, row + 1)));
            }
            _ => {
                if let Some((row, cells)) = current.take()
                    && !each(row, cells)
                {
                    return Ok(());
                }
                current = Some((r, Vec::new()));
            }
        }
        let cells = &mut current.as_mut().expect("a current row").1;
        if cells.len() <= c {
            cells.resize(c + 1, Cell::Empty);
        }
        cells[c] = value;
    }
    if let Some((row, cells)) = current {
        each(row, cells);
    }
    Ok(())
}

/// Consecutive rows, with the earlier rows that merged ranges reach into them from.
struct Chunk {
    first: usize,
    rows: Vec<Vec<Cell>>,
    anchors: HashMap<usize, Vec<Cell>>,
}

/// Cuts a stream of rows into chunks, keeping merge anchors while ranges reach down from them.
struct Chunker<'a> {
    merged: &'a Merged,
    next_row: usize,
    rows: Vec<Vec<Cell>>,
    /// Anchor rows already passed, still reaching into rows to come.
    live: BTreeMap<usize, Vec<Cell>>,
    sent: usize,
    out: &'a mpsc::SyncSender<(usize, Chunk)>,
}

impl Chunker<'_> {
    /// Adds row `r` (and blank rows before it); false once nobody takes chunks any more.
    fn push(&mut self, r: usize, cells: Vec<Cell>) -> bool {
        while self.next_row < r {
            if !self.add(Vec::new()) {
                return false;
            }
        }
        self.add(cells)
    }

    fn add(&mut self, cells: Vec<Cell>) -> bool {
        if self.merged.anchors().contains_key(&self.next_row) {
            self.live.insert(self.next_row, cells.clone());
        }
        self.rows.push(cells);
        self.next_row += 1;
        self.rows.len() < CHUNK_ROWS || self.flush()
    }

    fn flush(&mut self) -> bool {
        if self.rows.is_empty() {
            return true;
        }
        let rows = std::mem::take(&mut self.rows);
        let first = self.next_row - rows.len();
        let anchors = self
            .live
            .range(..first)
            .filter(|(r, _)| self.merged.anchors().get(r).is_some_and(|last| *last >= first))
            .map(|(r, cells)| (*r, cells.clone()))
            .collect();
        let merged = self.merged;
        let next = self.next_row;
        self.live.retain(|r, _| merged.anchors().get(r).is_some_and(|last| *last >= next));
        let sent = self.sent;
        self.sent += 1;
        self.out.send((sent, Chunk { first, rows, anchors })).is_ok()
    }
}

/// Validates the data rows of a pending sheet: chunks are validated on `threads` workers while
/// the XML is read, and handed to `each` in row order. Returns the sheet's height (its rows
/// read), or what `each` failed with; a file that cannot be read part-way is an error.
pub(super) fn validate_rows<E>(
    pending: &Pending,
    sheet: &str,
    form: &FormConfig,
    ctx: &RowContext<'_>,
    key: &[u8],
    threads: usize,
    mut each: impl FnMut(RowsOutcome) -> Result<(), E>,
) -> Result<Result<usize, E>, ReadError> {
    let merged = Merged::new(&pending.merges);
    let layout = &pending.layout;
    let stop = AtomicBool::new(false);
    let threads = threads.max(1);
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<(usize, Chunk)>(threads);
    let chunk_rx = Mutex::new(chunk_rx);
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::sync_channel::<(usize, RowsOutcome)>(2 * threads);
        let (merged, stop) = (&merged, &stop);
        let reader = scope.spawn(move || {
            read::guarded(|| {
                let mut chunker = Chunker {
                    merged,
                    next_row: pending.first_data,
                    rows: Vec::new(),
                    live: BTreeMap::new(),
                    sent: 0,
                    out: &chunk_tx,
                };
                // Title and header rows that merged ranges reach down into the data from.
                for (r, cells) in pending.head.iter().enumerate() {
                    if merged.anchors().get(&r).is_some_and(|last| *last >= pending.first_data) {
                        chunker.live.insert(r, cells.clone());
                    }
                }
                rows_of(&pending.workbook, sheet, |r, cells| {
                    r < pending.first_data || (!stop.load(Ordering::Relaxed) && chunker.push(r, cells))
                })?;
                chunker.flush();
                Ok(chunker.next_row)
            })
        });
        for _ in 0..threads {
            let (chunk_rx, done_tx) = (&chunk_rx, done_tx.clone());
            scope.spawn(move || {
                loop {
                    let next = chunk_rx.lock().expect("no worker panics holding the lock").recv();
                    let Ok((seq, chunk)) = next else { break };
                    let filled = Filled::window(&chunk.rows, chunk.first, &chunk.anchors, merged);
                    let job = RowsJob { filled: &filled, layout, form, ctx, key };
                    let mut outcome = job.run(chunk.first..chunk.first + chunk.rows.len());
                    outcome.rejected_cells = outcome
                        .rejects
                        .iter()
                        .filter_map(|r| Some((r.row, chunk.rows.get(r.row.checked_sub(1 + chunk.first)?)?.clone())))
                        .collect();
                    if done_tx.send((seq, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut waiting: BTreeMap<usize, RowsOutcome> = BTreeMap::new();
        let mut next = 0;
        let mut failure = None;
        for (seq, outcome) in done_rx {
            waiting.insert(seq, outcome);
            while let Some(outcome) = waiting.remove(&next) {
                next += 1;
                if failure.is_none()
                    && let Err(e) = each(outcome)
                {
                    failure = Some(e);
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
        let height = reader.join().unwrap_or_else(|_| Err(ReadError::Panicked("the sheet reader stopped".into())))?;
        Ok(match failure {
            Some(e) => Err(e),
            None => Ok(height),
        })
    })
}

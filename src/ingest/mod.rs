//! Ingest: every file of the inbox read, every sheet recognised, every row accounted for
//! (accepted, rejected with a reason, or skipped with a reason).
//!
//! Files are read in parallel; rows are then validated in one fixed order so that duplicate
//! detection is deterministic: the grid registry first (other forms resolve grids against it),
//! then the other rosters, then the daily forms; within each, files in byte order of their path
//! relative to the inbox, sheets in workbook order, rows top to bottom. This module never
//! prints and never reads the clock: the run date comes in.

pub mod context;
pub mod dedup;
mod hierarchy;
pub mod layout;
pub mod limits;
mod profile;
mod properties;
pub mod read;
pub mod rows;
mod sheet;
pub mod stream;
mod suggest;
mod xlsb;
mod xlsx_merges;
mod xlsx_parts;
pub mod xlsx_scan;
mod xlsx_xml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::config::forms::FormConfig;
use crate::digest::hex;
use crate::normalize;
use crate::normalize::grid::Registry;
use context::Source;
use layout::Filled;
use read::{FileKind, RawSheet, Visibility};
use rows::{Record, SkipReason};
use sheet::{RowsOutcome, process_sheet};
pub use suggest::Suggestion;

/// What to ingest.
pub struct IngestRequest<'a> {
    /// Paths are reported relative to this folder.
    pub inbox: &'a Path,
    pub files: Vec<PathBuf>,
    pub forms: &'a [FormConfig],
    pub run_date: NaiveDate,
    /// The registry already in the warehouse; replaced by a registry in this batch.
    pub registry: Registry,
    /// Worker threads for reading files.
    pub threads: usize,
    /// The workspace's pseudonymisation key: identities are stored keyed, never in clear.
    pub key: &'a [u8],
    /// Workbooks with a worksheet of at least this many bytes of XML are streamed (see
    /// `stream`); `stream::STREAM_FROM_BYTES` unless testing.
    pub stream_from_bytes: u64,
    /// What a file may make wangge allocate (see `limits`).
    pub limits: limits::Limits,
}

/// What became of a sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SheetStatus {
    Read,
    Hidden,
    /// Matches no form; the closest form and the required fields it misses.
    Unrecognised {
        closest: Option<String>,
        missing: Vec<String>,
        /// When the closest form misses one required field: its name, and the headers of the
        /// sheet's columns no field took (see `SheetResult::suggestions`).
        hint: Option<(String, Vec<String>)>,
    },
    /// No cells at all.
    Empty,
    /// Its rows could not be read past its head (a large workbook damaged part-way); none of
    /// them are kept.
    Unreadable(String),
    /// Not a worksheet (a chart, dialog or macro sheet): reported, not read.
    NotAWorksheet(&'static str),
}

impl SheetStatus {
    /// For an unrecognised sheet: `matches no form`, and the closest form and what it lacks.
    pub fn unrecognised(&self) -> Option<String> {
        let SheetStatus::Unrecognised { closest, missing, .. } = self else { return None };
        Some(match (closest, missing.is_empty()) {
            (None, _) => "matches no form".to_string(),
            (Some(form), false) => format!("matches no form; closest is `{form}`, which needs {}", missing.join("、")),
            // Its required columns are there, but too few columns in all: a summary or lookup
            // table naming a community and a grid is not a registry.
            (Some(form), true) => format!(
                "matches no form; closest is `{form}`, but fewer than {} of its columns are recognised",
                layout::MIN_COLUMNS
            ),
        })
    }

    pub fn code(&self) -> &'static str {
        match self {
            SheetStatus::Read => "read",
            SheetStatus::Hidden => "hidden",
            SheetStatus::Unrecognised { .. } => "unrecognised",
            SheetStatus::Empty => "empty",
            SheetStatus::Unreadable(_) => "error",
            SheetStatus::NotAWorksheet(_) => "not_a_worksheet",
        }
    }
}

/// A row that points at another: the first occurrence of a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub sheet: String,
    pub row: usize,
}

/// A rejected row.
#[derive(Debug, Clone)]
pub struct Reject {
    /// 1-based row.
    pub row: usize,
    /// 0-based column.
    pub column: usize,
    pub header: String,
    pub field: String,
    pub reason: &'static str,
    pub message: String,
    pub raw: String,
    pub kept: Option<Location>,
}

/// A warning on an accepted row.
#[derive(Debug, Clone)]
pub struct Warning {
    pub row: usize,
    pub column: usize,
    pub field: String,
    pub code: &'static str,
    pub message: String,
    pub raw: String,
}

/// Counts of one sheet; `rows_read = accepted + rejected + skipped`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: BTreeMap<&'static str, u64>,
    pub skipped: BTreeMap<&'static str, u64>,
    pub warnings: BTreeMap<&'static str, u64>,
}

impl Counts {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// A column of a sheet's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderColumn {
    pub label: String,
    /// The form's field the column holds.
    pub field: Option<String>,
    /// How the field was decided (`Evidence::describe`: `synonym`, `pattern`,
    /// `content: 95% citizen IDs`).
    pub decided_by: Option<layout::Evidence>,
}

/// One sheet's outcome.
#[derive(Debug, Clone)]
pub struct SheetResult {
    pub name: String,
    pub index: usize,
    pub status: SheetStatus,
    /// The form's id, for read sheets.
    pub form: Option<String>,
    pub report_date: NaiveDate,
    pub date_source: Source,
    /// Where the report date's year came from, when `date_source` gave only a month and day.
    pub date_year_from: Option<Source>,
    pub community: Option<String>,
    /// 1-based header rows.
    pub header_rows: Vec<usize>,
    /// Every column of the header as the sheet labels it (0-based index), with the field it
    /// holds if any: the community's own columns, for messages and 退回修改 workbooks.
    pub headers: BTreeMap<usize, HeaderColumn>,
    pub counts: Counts,
    /// Accepted rows (1-based row, record).
    pub records: Vec<(usize, Record)>,
    pub rejects: Vec<Reject>,
    /// The cells of rejected rows (1-based) of a streamed sheet, as read, up to
    /// `stream::KEEP_REJECTED_ROWS` of them: what its 退回修改 workbook shows, without reading
    /// the sheet again. Rows rejected as duplicates are not among them.
    pub rejected_cells: BTreeMap<usize, Vec<normalize::value::Cell>>,
    pub warnings: Vec<Warning>,
    pub skips: Vec<(usize, SkipReason)>,
    /// The data rows still to read, for a sheet of a streamed workbook (see `stream`).
    pub pending: Option<stream::Pending>,
    /// For a grid registry sheet: whether it replaced the district's registry or updated only
    /// the communities it lists.
    pub registry_scope: Option<RegistryScope>,
}

/// What a grid registry (网格台账) in force replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryScope {
    /// The whole district's registry: it covers every town the previous one had.
    District,
    /// Only the communities it lists; the rest of the district keeps the previous registry.
    Community,
}

impl RegistryScope {
    /// As written to the warehouse's `grids.registry_scope`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistryScope::District => "district",
            RegistryScope::Community => "community",
        }
    }
}

impl SheetResult {
    /// A sheet read, with nothing in it yet.
    pub(crate) fn new(
        name: String,
        index: usize,
        dated: context::ReportDate,
        community: Option<String>,
    ) -> SheetResult {
        SheetResult {
            name,
            index,
            status: SheetStatus::Read,
            form: None,
            report_date: dated.date,
            date_source: dated.source,
            date_year_from: dated.year_from,
            community,
            header_rows: Vec::new(),
            headers: BTreeMap::new(),
            counts: Counts::default(),
            records: Vec::new(),
            rejects: Vec::new(),
            rejected_cells: BTreeMap::new(),
            warnings: Vec::new(),
            skips: Vec::new(),
            pending: None,
            registry_scope: None,
        }
    }

    /// Each column given a field and how, for the ledger: `B 身份证号=citizen_id (synonym)`.
    pub fn column_fields(&self) -> String {
        self.headers
            .iter()
            .filter_map(|(c, h)| {
                let (field, how) = (h.field.as_deref()?, h.decided_by?.describe());
                Some(format!("{} {}={field} ({how})", crate::normalize::text::column_letter(*c), h.label))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Where the report date came from, for the ledger and the summary: `file name`, or
    /// `file name, year from folder`.
    pub fn date_from(&self) -> String {
        context::ReportDate { date: self.report_date, source: self.date_source, year_from: self.date_year_from }
            .describe()
    }

    /// Counts and keeps a run of validated rows; returns its accepted records.
    fn absorb(&mut self, part: RowsOutcome) -> Vec<(usize, Record)> {
        for (row, reason) in part.skips {
            *self.counts.skipped.entry(reason.code()).or_default() += 1;
            self.skips.push((row, reason));
        }
        for reject in part.rejects {
            *self.counts.rejected.entry(reject.reason).or_default() += 1;
            self.rejects.push(reject);
        }
        for (row, cells) in part.rejected_cells {
            if self.rejected_cells.len() < stream::KEEP_REJECTED_ROWS {
                self.rejected_cells.insert(row, cells);
            }
        }
        for warning in part.warnings {
            *self.counts.warnings.entry(warning.code).or_default() += 1;
            self.warnings.push(warning);
        }
        self.counts.accepted += part.records.len() as u64;
        part.records
    }
}

/// One file's outcome.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// Relative to the inbox, `/`-separated.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub kind: Option<FileKind>,
    /// Why the file could not be read at all.
    pub error: Option<String>,
    /// Whether it was a large workbook read as a stream of rows (see `stream`).
    pub streamed: bool,
    pub sheets: Vec<SheetResult>,
}

/// Everything an ingest produced.
pub struct IngestOutcome {
    pub files: Vec<FileResult>,
    pub registry: Registry,
}

impl IngestOutcome {
    /// The report dates of every sheet read: the warehouse partitions this run can touch.
    pub fn report_dates(&self) -> std::collections::BTreeSet<NaiveDate> {
        self.files.iter().flat_map(|f| f.sheets.iter()).map(|s| s.report_date).collect()
    }
}

struct Loaded {
    path: String,
    sha256: String,
    bytes: u64,
    read: Result<(FileKind, Vec<RawSheet>), String>,
    /// A large workbook, open: only the head of each sheet is in `read`.
    streamed: Option<stream::Workbook>,
    /// The date the workbook says it was saved (see `properties`).
    modified: Option<chrono::NaiveDate>,
}

/// Ingests the files of a request.
pub fn ingest(mut request: IngestRequest<'_>) -> IngestOutcome {
    let mut loaded =
        read_all(request.inbox, &request.files, request.threads, request.stream_from_bytes, &request.limits);
    loaded.sort_by(|a, b| a.path.cmp(&b.path));

    // Recognise every sheet first; the order of validation depends on the forms found.
    let index = layout::SynonymIndex::new(request.forms);
    let all: Vec<(usize, usize, &RawSheet)> = loaded
        .iter()
        .enumerate()
        .filter_map(|(f, file)| file.read.as_ref().ok().map(|(_, raw)| (f, raw)))
        .flat_map(|(f, raw)| raw.iter().enumerate().map(move |(s, sheet)| (f, s, sheet)))
        .collect();
    let threads = request.threads.max(1).min(all.len().max(1));
    let chunk = all.len().div_ceil(threads).max(1);
    type Found = Option<Result<layout::Layout, layout::NoForm>>;
    let sheets: Vec<(usize, usize, Result<Found, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = all
            .chunks(chunk)
            .map(|part| {
                let index = &index;
                scope.spawn(move || {
                    part.iter()
                        .map(|(f, s, sheet)| {
                            // A panic on one file's cells fails that file alone (see `guard`).
                            let found = crate::guard::catch(|| {
                                (sheet.visibility == Visibility::Visible && !sheet.rows.is_empty())
                                    .then(|| layout::find_layout(&Filled::new(sheet), request.forms, index))
                            });
                            (*f, *s, found)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("header detection catches its panics")).collect()
    });
    // Files whose reading panicked part-way: the place it happened, by file.
    let mut failed: BTreeMap<usize, String> = BTreeMap::new();
    let sheets: Vec<(usize, usize, Found)> = sheets
        .into_iter()
        .filter_map(|(f, s, found)| match found {
            Ok(found) => Some((f, s, found)),
            Err(at) => {
                failed.entry(f).or_insert(at);
                None
            }
        })
        .collect();
    let sheets: Vec<_> = sheets.into_iter().filter(|(f, _, _)| !failed.contains_key(f)).collect();
    let priority = |found: &Option<Result<layout::Layout, layout::NoForm>>| match found {
        Some(Ok(l)) => dedup::priority(request.forms, Some(&request.forms[l.form].form)),
        _ => 2,
    };
    let mut order: Vec<usize> = (0..sheets.len()).collect();
    order.sort_by_key(|&i| (priority(&sheets[i].2), sheets[i].0, sheets[i].1));

    let mut registry = std::mem::take(&mut request.registry);
    let mut results: BTreeMap<(usize, usize), SheetResult> = BTreeMap::new();
    let is_registry = |i: &usize| matches!(&sheets[*i].2, Some(Ok(l)) if request.forms[l.form].is_grid_registry());
    let (registry_sheets, others): (Vec<usize>, Vec<usize>) = order.into_iter().partition(is_registry);
    let process = |i: usize, registry: &Registry| {
        let (f, s, found) = &sheets[i];
        let file = &loaded[*f];
        let raw = &file.read.as_ref().expect("only read files have sheets").1[*s];
        let result = crate::guard::catch(|| {
            let origin = sheet::Origin { path: &file.path, modified: file.modified, streamed: file.streamed.as_ref() };
            process_sheet(&origin, raw, *s, found.as_ref(), &request, registry)
        });
        ((*f, *s), result)
    };
    // The registry sheets of this batch, read first: every other sheet resolves grids with them.
    let mut registry_keys = Vec::new();
    for i in registry_sheets {
        let (key, result) = process(i, &registry);
        let result = match result {
            Ok(result) => result,
            Err(at) => {
                failed.entry(key.0).or_insert(at);
                continue;
            }
        };
        // A registry dated after the run would resolve today's grids by tomorrow's plan.
        if result.report_date > request.run_date {
            let why = format!(
                "grid registry dated {}, after the run date {}; not applied",
                result.report_date, request.run_date
            );
            results.insert(key, sheet::refused(result, why));
            continue;
        }
        registry_keys.push(key);
        results.insert(key, result);
    }
    if let Some(form) = request.forms.iter().find(|f| f.is_grid_registry()) {
        registry = sheet::apply_registries(registry, form, &registry_keys, &mut results);
    }
    // Every other sheet depends only on the registry, now complete: they are validated in
    // parallel (duplicates are judged afterwards, in the fixed order).
    let threads = request.threads.max(1).min(others.len().max(1));
    let chunk = others.len().div_ceil(threads).max(1);
    let registry_ref = &registry;
    let done: Vec<((usize, usize), Result<SheetResult, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = others
            .chunks(chunk)
            .map(|part| {
                let process = &process;
                scope.spawn(move || part.iter().map(|i| process(*i, registry_ref)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("validation catches its panics")).collect()
    });
    for (key, result) in done {
        match result {
            Ok(result) => {
                results.insert(key, result);
            }
            Err(at) => {
                failed.entry(key.0).or_insert(at);
            }
        }
    }
    // A file that failed part-way keeps none of its sheets: half a file is worse than none.
    results.retain(|(f, _), _| !failed.contains_key(f));

    let files = loaded
        .into_iter()
        .enumerate()
        .map(|(f, file)| {
            let (kind, error) = match (&file.read, failed.get(&f)) {
                (Ok((kind, _)), Some(at)) => (
                    Some(*kind),
                    Some(format!("reading the file failed unexpectedly ({at}); the file is probably damaged")),
                ),
                (Ok((kind, _)), None) => (Some(*kind), None),
                (Err(e), _) => (None, Some(e.clone())),
            };
            // Moved out, not cloned: a sheet's records can be hundreds of thousands of rows.
            let keys: Vec<(usize, usize)> = results.range((f, 0)..(f + 1, 0)).map(|(k, _)| *k).collect();
            let sheets = keys.iter().filter_map(|k| results.remove(k)).collect();
            let streamed = file.streamed.is_some();
            FileResult { path: file.path, sha256: file.sha256, bytes: file.bytes, kind, error, streamed, sheets }
        })
        .collect();
    IngestOutcome { files, registry }
}

fn read_all(
    inbox: &Path,
    files: &[PathBuf],
    threads: usize,
    stream_from_bytes: u64,
    limits: &limits::Limits,
) -> Vec<Loaded> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out = std::sync::Mutex::new(Vec::with_capacity(files.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1).min(files.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let loaded = load(inbox, path, stream_from_bytes, limits);
                    out.lock().expect("no reader panics while holding the lock").push(loaded);
                }
            });
        }
    });
    out.into_inner().expect("readers finished")
}

fn load(inbox: &Path, path: &Path, stream_from_bytes: u64, limits: &limits::Limits) -> Loaded {
    let relative = path.strip_prefix(inbox).unwrap_or(path).to_string_lossy().replace('\\', "/");
    if stream::is_large(path, stream_from_bytes)
        && let Some(loaded) = load_large(&relative, path, limits)
    {
        return loaded;
    }
    // A file too large to hold is refused before it is read into memory.
    if let Ok(meta) = std::fs::metadata(path)
        && let Err(e) = limits::check_file_size(meta.len(), limits)
    {
        let sha256 = std::fs::File::open(path)
            .ok()
            .and_then(|mut f| {
                let mut hasher = Sha256::new();
                std::io::copy(&mut f, &mut hasher).ok()?;
                Some(hex(&hasher.finalize()))
            })
            .unwrap_or_default();
        return Loaded {
            path: relative,
            sha256,
            bytes: meta.len(),
            read: Err(e.to_string()),
            streamed: None,
            modified: None,
        };
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let read = Err(format!("cannot open: {e}"));
            return Loaded { path: relative, sha256: String::new(), bytes: 0, read, streamed: None, modified: None };
        }
    };
    let sha256 = hex(&Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_string();
    let modified = package_modified(std::io::Cursor::new(&bytes));
    let read = read::read(bytes, &extension, limits).map_err(|e| e.to_string());
    Loaded { path: relative, sha256, bytes: size, read, streamed: None, modified }
}

/// A large workbook: hashed from its file and only the head of each sheet read (see `stream`).
/// Its declared sizes are checked like any package's.
fn load_large(relative: &str, path: &Path, limits: &limits::Limits) -> Option<Loaded> {
    let mut file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).ok()?;
    let sha256 = hex(&hasher.finalize());
    let path_string = relative.to_string();
    let checked = read::guarded(|| {
        let file = std::fs::File::open(path).map_err(|e| read::ReadError::Corrupt(e.to_string()))?;
        limits::check_package(std::io::BufReader::new(file), limits)
    });
    if let Err(e) = checked {
        let read = Err(e.to_string());
        return Some(Loaded { path: path_string, sha256, bytes: size, read, streamed: None, modified: None });
    }
    let modified = std::fs::File::open(path).ok().and_then(|f| package_modified(std::io::BufReader::new(f)));
    Some(match read::guarded(|| stream::read_head(path)) {
        Ok((sheets, workbook)) => {
            let read = Ok((FileKind::Package, sheets));
            Loaded { path: path_string, sha256, bytes: size, read, streamed: Some(workbook), modified }
        }
        Err(e) => Loaded { path: path_string, sha256, bytes: size, read: Err(e.to_string()), streamed: None, modified },
    })
}

/// A package's saved date; nothing for other files, or when reading it fails in any way.
fn package_modified<R: std::io::Read + std::io::Seek>(mut file: R) -> Option<chrono::NaiveDate> {
    let mut magic = [0u8; 2];
    file.read_exact(&mut magic).ok()?;
    file.rewind().ok()?;
    if &magic != b"PK" {
        return None;
    }
    crate::guard::catch(|| properties::modified(file)).ok().flatten()
}

/// HMAC-SHA256 of `text` under `key`, in hex: how identities and person keys are stored.
pub fn keyed(key: &[u8], text: &str) -> String {
    Keyer::new(key).keyed(text)
}

/// HMAC-SHA256 under one key, the key's padding hashed once rather than once per value.
#[derive(Clone)]
pub struct Keyer(hmac::Hmac<Sha256>);

impl Keyer {
    pub fn new(key: &[u8]) -> Keyer {
        use hmac::Mac;
        Keyer(hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length"))
    }

    pub fn keyed(&self, text: &str) -> String {
        use hmac::Mac;
        let mut mac = self.0.clone();
        mac.update(text.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

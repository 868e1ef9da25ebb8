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
pub mod layout;
pub mod read;
pub mod rows;
pub mod stream;
mod xlsb;
mod xlsx_merges;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::config::forms::{Dedup, FormConfig};
use crate::normalize::grid::{Registry, RegistryCommunity};
use context::{ContextTexts, Source};
use layout::Filled;
use read::{FileKind, RawSheet, Visibility};
use rows::{Record, RowContext, SkipReason, Value};

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
    },
    /// No cells at all.
    Empty,
}

impl SheetStatus {
    pub fn code(&self) -> &'static str {
        match self {
            SheetStatus::Read => "read",
            SheetStatus::Hidden => "hidden",
            SheetStatus::Unrecognised { .. } => "unrecognised",
            SheetStatus::Empty => "empty",
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
    pub warnings: Vec<Warning>,
    pub skips: Vec<(usize, SkipReason)>,
    /// The data rows still to read, for a sheet of a streamed workbook (see `stream`).
    pub pending: Option<stream::Pending>,
}

impl SheetResult {
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

struct Loaded {
    path: String,
    sha256: String,
    bytes: u64,
    read: Result<(FileKind, Vec<RawSheet>), String>,
    /// A large workbook, open: only the head of each sheet is in `read`.
    streamed: Option<stream::Workbook>,
}

/// Ingests the files of a request.
pub fn ingest(mut request: IngestRequest<'_>) -> IngestOutcome {
    let mut loaded = read_all(request.inbox, &request.files, request.threads, request.stream_from_bytes);
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
    let sheets: Vec<(usize, usize, Option<Result<layout::Layout, layout::NoForm>>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = all
            .chunks(chunk)
            .map(|part| {
                let index = &index;
                scope.spawn(move || {
                    part.iter()
                        .map(|(f, s, sheet)| {
                            let found = (sheet.visibility == Visibility::Visible && !sheet.rows.is_empty())
                                .then(|| layout::find_layout(&Filled::new(sheet), request.forms, index));
                            (*f, *s, found)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("header detection does not panic")).collect()
    });
    let priority = |found: &Option<Result<layout::Layout, layout::NoForm>>| match found {
        Some(Ok(l)) => dedup::priority(request.forms, Some(&request.forms[l.form].form)),
        _ => 2,
    };
    let mut order: Vec<usize> = (0..sheets.len()).collect();
    order.sort_by_key(|&i| (priority(&sheets[i].2), sheets[i].0, sheets[i].1));

    let mut registry = std::mem::take(&mut request.registry);
    let mut registry_replaced = false;
    let mut results: BTreeMap<(usize, usize), SheetResult> = BTreeMap::new();
    let is_registry = |i: &usize| matches!(&sheets[*i].2, Some(Ok(l)) if request.forms[l.form].form == "grids");
    let (registry_sheets, others): (Vec<usize>, Vec<usize>) = order.into_iter().partition(is_registry);
    let process = |i: usize, registry: &Registry| {
        let (f, s, found) = &sheets[i];
        let file = &loaded[*f];
        let raw = &file.read.as_ref().expect("only read files have sheets").1[*s];
        ((*f, *s), process_sheet(&file.path, raw, *s, found.as_ref(), file.streamed.as_ref(), &request, registry))
    };
    for i in registry_sheets {
        let (key, result) = process(i, &registry);
        // The registry in this batch replaces the warehouse's before any other form is read.
        let form = request.forms.iter().find(|f| f.form == "grids").expect("grids form");
        if !registry_replaced {
            registry = Registry::default();
            registry_replaced = true;
        }
        add_to_registry(&mut registry, form, &result);
        results.insert(key, result);
    }
    // Every other sheet depends only on the registry, now complete: they are validated in
    // parallel (duplicates are judged afterwards, in the fixed order).
    let threads = request.threads.max(1).min(others.len().max(1));
    let chunk = others.len().div_ceil(threads).max(1);
    let registry_ref = &registry;
    let done: Vec<((usize, usize), SheetResult)> = std::thread::scope(|scope| {
        let handles: Vec<_> = others
            .chunks(chunk)
            .map(|part| {
                let process = &process;
                scope.spawn(move || part.iter().map(|i| process(*i, registry_ref)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("validation does not panic")).collect()
    });
    results.extend(done);

    let files = loaded
        .into_iter()
        .enumerate()
        .map(|(f, file)| {
            let (kind, error) = match &file.read {
                Ok((kind, _)) => (Some(*kind), None),
                Err(e) => (None, Some(e.clone())),
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

fn read_all(inbox: &Path, files: &[PathBuf], threads: usize, stream_from_bytes: u64) -> Vec<Loaded> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out = std::sync::Mutex::new(Vec::with_capacity(files.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1).min(files.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let loaded = load(inbox, path, stream_from_bytes);
                    out.lock().expect("no reader panics while holding the lock").push(loaded);
                }
            });
        }
    });
    out.into_inner().expect("readers finished")
}

fn load(inbox: &Path, path: &Path, stream_from_bytes: u64) -> Loaded {
    let relative = path.strip_prefix(inbox).unwrap_or(path).to_string_lossy().replace('\\', "/");
    if stream::is_large(path, stream_from_bytes) {
        if let Some(loaded) = load_large(&relative, path) {
            return loaded;
        }
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let read = Err(format!("cannot open: {e}"));
            return Loaded { path: relative, sha256: String::new(), bytes: 0, read, streamed: None };
        }
    };
    let sha256 = hex(&Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_string();
    let read = read::read(bytes, &extension).map_err(|e| e.to_string());
    Loaded { path: relative, sha256, bytes: size, read, streamed: None }
}

/// A large workbook: hashed from its file and only the head of each sheet read (see `stream`).
fn load_large(relative: &str, path: &Path) -> Option<Loaded> {
    let mut file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).ok()?;
    let sha256 = hex(&hasher.finalize());
    let path_string = relative.to_string();
    Some(match read::guarded(|| stream::read_head(path)) {
        Ok((sheets, workbook)) => {
            let read = Ok((FileKind::Package, sheets));
            Loaded { path: path_string, sha256, bytes: size, read, streamed: Some(workbook) }
        }
        Err(e) => Loaded { path: path_string, sha256, bytes: size, read: Err(e.to_string()), streamed: None },
    })
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

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

fn process_sheet(
    path: &str,
    raw: &RawSheet,
    index: usize,
    found: Option<&Result<layout::Layout, layout::NoForm>>,
    streamed: Option<&stream::Workbook>,
    request: &IngestRequest<'_>,
    registry: &Registry,
) -> SheetResult {
    let file_name = path.rsplit('/').next().unwrap_or(path);
    let file_stem = file_name.rsplit_once('.').map_or(file_name, |(stem, _)| stem);
    let folders: Vec<&str> =
        path.split('/').collect::<Vec<_>>().split_last().map(|(_, f)| f.to_vec()).unwrap_or_default();
    let filled = Filled::new(raw);
    let first_header = match found {
        Some(Ok(l)) => l.header_rows[0],
        _ => 0,
    };
    let title: Vec<String> = (0..first_header)
        .flat_map(|r| (0..filled.width(r)).map(move |c| (r, c)))
        .map(|(r, c)| filled.label(r, c))
        .filter(|t| !t.is_empty())
        .collect();
    let texts = ContextTexts { title: title.join(" "), sheet_name: &raw.name, file_stem, folders };
    let (report_date, date_source) = texts.report_date(request.run_date);
    let community = texts.community(registry).map(|(code, _)| code);
    let mut result = SheetResult {
        name: raw.name.clone(),
        index,
        status: SheetStatus::Read,
        form: None,
        report_date,
        date_source,
        community,
        header_rows: Vec::new(),
        headers: BTreeMap::new(),
        counts: Counts::default(),
        records: Vec::new(),
        rejects: Vec::new(),
        warnings: Vec::new(),
        skips: Vec::new(),
        pending: None,
    };
    let layout = match (raw.visibility, found) {
        (Visibility::Hidden | Visibility::VeryHidden, _) => {
            result.status = SheetStatus::Hidden;
            return result;
        }
        (_, None) => {
            result.status = SheetStatus::Empty;
            return result;
        }
        (_, Some(Err(no_form))) => {
            result.status = SheetStatus::Unrecognised {
                closest: no_form.closest.as_ref().map(|(f, _)| request.forms[*f].form.clone()),
                missing: no_form.closest.as_ref().map(|(_, m)| m.clone()).unwrap_or_default(),
            };
            return result;
        }
        (_, Some(Ok(layout))) => layout,
    };
    let form = &request.forms[layout.form];
    result.form = Some(form.form.clone());
    result.header_rows = layout.header_rows.iter().map(|r| r + 1).collect();
    let width = layout.header_rows.iter().map(|r| filled.width(*r)).max().unwrap_or(0);
    result.headers = (0..width)
        .map(|c| {
            let mapped = layout.columns.iter().find(|(col, _, _)| *col == c);
            let label = match mapped {
                Some((_, _, label)) => label.clone(),
                None => layout
                    .header_rows
                    .iter()
                    .rev()
                    .map(|r| filled.label(*r, c))
                    .find(|l| !l.is_empty())
                    .unwrap_or_default(),
            };
            (c, HeaderColumn { label, field: mapped.map(|(_, f, _)| form.fields[*f].name.clone()) })
        })
        .collect();
    let community = result.community.clone();
    let ctx = RowContext { registry, community: community.as_deref(), run_date: request.run_date };
    let skip = |result: &mut SheetResult, row: usize, reason: SkipReason| {
        *result.counts.skipped.entry(reason.code()).or_default() += 1;
        result.skips.push((row + 1, reason));
    };
    for row in 0..layout.header_rows[0] {
        let blank = (0..filled.width(row)).all(|c| filled.label(row, c).is_empty());
        skip(&mut result, row, if blank { SkipReason::Blank } else { SkipReason::Title });
    }
    for &row in &layout.header_rows {
        skip(&mut result, row, SkipReason::Header);
    }
    let first_data = layout.header_rows.last().expect("header") + 1;
    if let Some(workbook) = streamed {
        let pending = stream::Pending {
            workbook: workbook.clone(),
            layout: layout.clone(),
            merges: raw.merged.clone(),
            head: raw.rows[..first_data.min(raw.rows.len())].to_vec(),
            first_data,
        };
        if form.form != "grids" {
            // Read when the walk in processing order reaches the sheet (see `dedup`).
            result.pending = Some(pending);
            return result;
        }
        // The registry is needed whole before any other sheet is validated: read it now.
        let streamed = stream::validate_rows(&pending, &raw.name, form, &ctx, request.key, request.threads, |part| {
            let records = result.absorb(part);
            result.records.extend(records);
            Ok::<(), std::convert::Infallible>(())
        });
        match streamed {
            Ok(Ok(height)) => result.counts.rows_read = height as u64,
            Ok(Err(never)) => match never {},
            Err(e) => result.status = SheetStatus::Unrecognised { closest: None, missing: vec![e.to_string()] },
        }
        result.skips.sort_by_key(|(row, _)| *row);
        return result;
    }
    let height = filled.height();
    // Rows are independent once the registry and context are known: a big sheet's rows are
    // validated in chunks on every worker thread, then put back in row order.
    let threads = if height - first_data.min(height) >= PARALLEL_ROWS { request.threads.max(1) } else { 1 };
    let chunk = (height.saturating_sub(first_data)).div_ceil(threads).max(1);
    let rows = RowsJob { filled: &filled, layout, form, ctx: &ctx, key: request.key };
    let parts: Vec<RowsOutcome> = if threads == 1 {
        vec![rows.run(first_data..height)]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (first_data..height)
                .step_by(chunk)
                .map(|start| {
                    let rows = &rows;
                    scope.spawn(move || rows.run(start..(start + chunk).min(height)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("row validation does not panic")).collect()
        })
    };
    for part in parts {
        let records = result.absorb(part);
        result.records.extend(records);
    }
    result.skips.sort_by_key(|(row, _)| *row);
    result.counts.rows_read = filled.height() as u64;
    result
}

/// Sheets with at least this many data rows are validated on several threads.
const PARALLEL_ROWS: usize = 4096;

/// What validating a run of rows gives; rows are 1-based.
#[derive(Default)]
struct RowsOutcome {
    skips: Vec<(usize, SkipReason)>,
    rejects: Vec<Reject>,
    warnings: Vec<Warning>,
    records: Vec<(usize, Record)>,
}

/// Everything needed to validate the data rows of one sheet.
struct RowsJob<'a> {
    filled: &'a Filled<'a>,
    layout: &'a layout::Layout,
    form: &'a FormConfig,
    ctx: &'a RowContext<'a>,
    key: &'a [u8],
}

impl RowsJob<'_> {
    fn run(&self, rows: std::ops::Range<usize>) -> RowsOutcome {
        let (filled, layout, form) = (self.filled, self.layout, self.form);
        let mut out = RowsOutcome::default();
        let keyer = Keyer::new(self.key);
        let mut memo = rows::Memo::default();
        let header_of = |column: usize| {
            layout.columns.iter().find(|(c, _, _)| *c == column).map(|(_, _, h)| h.clone()).unwrap_or_default()
        };
        for row in rows {
            if let Some(reason) = rows::classify(filled, row, layout) {
                out.skips.push((row + 1, reason));
                continue;
            }
            match rows::validate(filled, row, layout, form, self.ctx, &mut memo) {
                Err(issue) => out.rejects.push(Reject {
                    row: row + 1,
                    column: issue.column,
                    header: header_of(issue.column),
                    field: form.fields[issue.field].name.clone(),
                    reason: issue.reason,
                    message: issue.message,
                    raw: issue.raw,
                    kept: None,
                }),
                Ok(mut record) => {
                    record.identity = dedup_key(form, &record).map(|(key, field)| {
                        let column = layout.columns.iter().find(|(_, f, _)| *f == field).map_or(0, |(c, _, _)| *c);
                        rows::Identity { key: keyer.keyed(&key), field, column, raw: filled.get(row, column).display() }
                    });
                    for w in &record.warnings {
                        out.warnings.push(Warning {
                            row: row + 1,
                            column: w.column,
                            field: form.fields[w.field].name.clone(),
                            code: w.reason,
                            message: w.message.clone(),
                            raw: w.raw.clone(),
                        });
                    }
                    out.records.push((row + 1, record));
                }
            }
        }
        out
    }
}

/// The identity a form deduplicates on, and the field reported for a duplicate.
fn dedup_key(form: &FormConfig, record: &Record) -> Option<(String, usize)> {
    let field = |name: &str| form.fields.iter().position(|f| f.name == name);
    let value = |name: &str| field(name).map(|i| &record.values[i]);
    let text = |name: &str| match value(name) {
        Some(Value::Text(t)) => Some(t.clone()),
        Some(Value::Grid(g)) => Some(g.grid_code.clone()),
        _ => None,
    };
    let id = || match value("citizen_id") {
        Some(Value::Id(id)) => Some(id.number.clone()),
        _ => None,
    };
    match form.dedup {
        Dedup::CitizenId => Some((format!("id:{}", id()?), field("citizen_id")?)),
        Dedup::CitizenIdAndCategory => {
            Some((format!("id:{}:{}", id()?, text("category").unwrap_or_default()), field("citizen_id")?))
        }
        Dedup::CitizenIdOrPhone => match id() {
            Some(id) => Some((format!("id:{id}"), field("citizen_id")?)),
            None => match value("phone") {
                Some(Value::Phones(p)) if !p.is_empty() => Some((format!("phone:{}", p[0]), field("phone")?)),
                _ => None,
            },
        },
        Dedup::GridAddressHouseholdHead => Some((
            format!("{}|{}|{}", text("grid")?, text("address").unwrap_or_default(), text("household_head")?),
            field("household_head")?,
        )),
        Dedup::OrderId => Some((text("order_id")?, field("order_id")?)),
        Dedup::SubGridCode => Some((text("sub_grid_code")?, field("sub_grid_code")?)),
    }
}

/// Adds a grid registry sheet's accepted rows to the registry.
fn add_to_registry(registry: &mut Registry, form: &FormConfig, sheet: &SheetResult) {
    let index = |name: &str| form.fields.iter().position(|f| f.name == name);
    let (Some(town), Some(community), Some(community_code), Some(grid_code), Some(sub_grid_code)) =
        (index("town"), index("community"), index("community_code"), index("grid_code"), index("sub_grid_code"))
    else {
        return;
    };
    let text = |record: &Record, i: usize| match &record.values[i] {
        Value::Text(t) => t.clone(),
        _ => String::new(),
    };
    for (_, record) in &sheet.records {
        let code = text(record, community_code);
        let grid = text(record, grid_code);
        if code.len() != 12 || grid.len() != 17 {
            continue;
        }
        registry.communities.entry(code.clone()).or_insert_with(|| RegistryCommunity {
            code: code.clone(),
            name: text(record, community),
            town_code: code[..9].to_string(),
            town_name: text(record, town),
        });
        let number = grid[12..15].parse().unwrap_or(0);
        registry.grids.insert(grid.clone(), (code, number));
        registry.sub_grids.insert(text(record, sub_grid_code), grid);
    }
}

//! The ingest ledger (`ingest_files`): one row per sheet of every file ingested (one row for a
//! file that could not be read), written last so that a file counts as ingested only when all
//! of its rows are in place.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;

use super::{LEDGER, Warehouse, WarehouseError, compact, short};
use crate::ingest::FileResult;

/// Where the ledger rows of each source file are: (report date, ledger file) by the first 16
/// hex digits of its sha256 (a part file once for each of the file's days in it). A run learns what is already ingested from this and reads only
/// the entries of the files it is given (profiled: reading the whole ledger, three times, was
/// three quarters of a day's ingest over 30 days of history).
#[derive(Debug, Default)]
pub struct LedgerIndex {
    pub files: HashMap<String, Vec<(String, PathBuf)>>,
    /// The files (by their whole sha256) ingested for good: all their entries are in compacted
    /// files, and none says the file could not be read or matched no form (those are tried
    /// again when the forms change). A run with nothing new learns this from the index alone,
    /// without reading each day's ledger again (a year of history: 366 reads).
    settled: HashSet<String>,
    /// The files (by their whole sha256) whose entries are all in compacted files but not
    /// settled: the (status, forms fingerprint, path) of each entry that says the file could not be read
    /// or matched no form. What a run needs to know whether to try one again, from the index
    /// alone (a year of the sample: 2,928 files with a sheet no form matches; reading their
    /// entries back from the year's ledger was a third of a run with nothing new).
    retried: HashMap<String, Vec<(String, String, String)>>,
    /// The entries of the ledger files read last, by sha256. A month's ledger is in one file, and
    /// the inbox is listed day by day, so the files of one folder find their entries here (over
    /// a year of history, reading a day's ledger again for each of its files took 16 s of a
    /// run; looking through a month's entries for each file, a tenth of a run with nothing new).
    recent: RefCell<Vec<(PathBuf, Arc<HashMap<String, Vec<LedgerEntry>>>)>>,
}

const RECENT: usize = 8;

impl LedgerIndex {
    /// Whether the file with this sha256 was ingested for good (see `settled`): then its
    /// ledger entries need not be read to know it is done.
    pub fn is_settled(&self, sha256: &str) -> bool {
        self.settled.contains(sha256)
    }
}

/// What the ledger says of a source file a run is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// Never ingested.
    New,
    /// Ingested: nothing to do.
    Done,
    /// Ingested, but it could not be read or a sheet matched no form, with other forms than
    /// those of this run: tried again (the path it had).
    Retry(String),
}

/// Whether entries with these (status, forms fingerprint, path) ask for the file to be tried
/// again with the forms of `forms_sha256`.
fn retry<'a>(mut entries: impl Iterator<Item = (&'a str, &'a str, &'a str)>, forms_sha256: &str) -> Option<String> {
    entries
        .find(|(status, forms, _)| is_retried(Some(status)) && *forms != forms_sha256)
        .map(|(_, _, path)| path.to_string())
}

/// A text column of a ledger batch, if it is there.
fn text<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a StringArray> {
    batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<StringArray>())
}

/// Row `i` of a text column, if the column is there and the value not null.
fn value(column: Option<&StringArray>, i: usize) -> Option<&str> {
    column.filter(|c| !c.is_null(i)).map(|c| c.value(i))
}

/// Row `i` of a count column, 0 if the column is missing or the value null.
fn number(column: Option<&Int64Array>, i: usize) -> i64 {
    column.filter(|c| !c.is_null(i)).map_or(0, |c| c.value(i))
}

/// An entry of a file that could not be read or whose sheet matched no form (or that does not
/// say): such a file is tried again when the forms change.
fn is_retried(status: Option<&str>) -> bool {
    status.is_none_or(|s| matches!(s, "error" | "unrecognised"))
}

impl Warehouse {
    /// The index of the ledger: a file of one source file is known by its name, a day's
    /// compacted file by its `sha256` column (read alone).
    pub fn ledger_index(&self) -> LedgerIndex {
        let mut index = LedgerIndex::default();
        let mut unsettled = HashSet::new();
        for path in self.table_files(LEDGER) {
            if compact::is_part(&path) {
                let Ok(batches) = super::dated::read(&path, &["sha256", "status", "forms_sha256", "path"]) else {
                    continue;
                };
                // Borrowed from the batches, and owned once per source file and day, not per
                // entry: a year's ledger has 56,387 entries of 19,052 files, and this index was a
                // third of a run with nothing new (perf), much of it allocating those strings.
                let mut shas: BTreeSet<(&str, chrono::NaiveDate)> = BTreeSet::new();
                for batch in &batches {
                    let Some(sha) = text(batch, "sha256") else { continue };
                    // A file without the column is still indexed, only never settled by it.
                    let (status, forms, from) =
                        (text(batch, "status"), text(batch, "forms_sha256"), text(batch, "path"));
                    let dates = super::dated::row_dates(batch);
                    for i in (0..sha.len()).filter(|i| !sha.is_null(*i)) {
                        let Some(date) = dates[i] else { continue };
                        let whole = sha.value(i);
                        shas.insert((short(whole), date));
                        let status = value(status, i);
                        if is_retried(status) {
                            if !unsettled.contains(whole) {
                                unsettled.insert(whole.to_string());
                            }
                            index.retried.entry(whole.to_string()).or_default().push((
                                status.unwrap_or_default().to_string(),
                                value(forms, i).unwrap_or_default().to_string(),
                                value(from, i).unwrap_or_default().to_string(),
                            ));
                        } else if !index.settled.contains(whole) {
                            index.settled.insert(whole.to_string());
                        }
                    }
                }
                for (sha, date) in shas {
                    index.files.entry(sha.to_string()).or_default().push((date.to_string(), path.clone()));
                }
            } else {
                // `<date>-<sha16>.parquet`: one source file's entries of one day (in an earlier
                // layout, `<sha16>.parquet` in the day's folder).
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let (date, sha16) = match super::dated::split_name(&stem) {
                    Some((date, sha16)) => (date.to_string(), sha16.to_string()),
                    None => match super::dated::folder_date(&path) {
                        Some(date) => (date, stem),
                        None => continue,
                    },
                };
                index.files.entry(sha16).or_default().push((date, path.clone()));
            }
        }
        // A file with an entry outside the compacted files (an earlier layout's, or one a
        // compaction left) is looked up the long way.
        let in_parts = |files: &HashMap<String, Vec<(String, PathBuf)>>, sha: &str| {
            files.get(short(sha)).is_some_and(|at| at.iter().all(|(_, p)| compact::is_part(p)))
        };
        index.settled.retain(|sha| !unsettled.contains(sha) && in_parts(&index.files, sha));
        index.retried.retain(|sha, _| in_parts(&index.files, sha));
        index
    }

    /// What the ledger says of the source file with this sha256, for a run with the forms of
    /// `forms_sha256`: from the index when it knows, from its entries otherwise.
    pub fn known(&self, index: &LedgerIndex, sha256: &str, forms_sha256: &str) -> Result<Known, WarehouseError> {
        if index.is_settled(sha256) {
            return Ok(Known::Done);
        }
        if let Some(entries) = index.retried.get(sha256) {
            let entries = entries.iter().map(|(status, forms, path)| (status.as_str(), forms.as_str(), path.as_str()));
            return Ok(retry(entries, forms_sha256).map_or(Known::Done, Known::Retry));
        }
        let entries = self.ledger_of(index, sha256)?;
        if let Some(path) =
            retry(entries.iter().map(|e| (e.status.as_str(), e.forms_sha256.as_str(), e.path.as_str())), forms_sha256)
        {
            return Ok(Known::Retry(path));
        }
        Ok(if entries.is_empty() { Known::New } else { Known::Done })
    }

    /// The ledger entries of one source file, by its SHA-256 (none if it was never ingested).
    fn ledger_of(&self, index: &LedgerIndex, sha256: &str) -> Result<Vec<LedgerEntry>, WarehouseError> {
        let mut out = Vec::new();
        // A part file is listed once for each day it holds the source file on.
        let mut paths: Vec<&PathBuf> = index.files.get(short(sha256)).into_iter().flatten().map(|(_, p)| p).collect();
        paths.sort();
        paths.dedup();
        for path in paths {
            let cached = index.recent.borrow().iter().find(|(p, _)| p == path).map(|(_, e)| e.clone());
            let all = match cached {
                Some(all) => all,
                None => {
                    let mut all: HashMap<String, Vec<LedgerEntry>> = HashMap::new();
                    for batch in super::dated::read(path, ENTRY_COLUMNS)? {
                        for e in entries(&batch) {
                            all.entry(e.sha256.clone()).or_default().push(e);
                        }
                    }
                    let all = Arc::new(all);
                    let mut recent = index.recent.borrow_mut();
                    if recent.len() == RECENT {
                        recent.remove(0);
                    }
                    recent.push((path.clone(), all.clone()));
                    all
                }
            };
            out.extend(all.get(sha256).into_iter().flatten().cloned());
        }
        Ok(out)
    }
}

impl Warehouse {
    /// What each ledger entry says a table's rows of its day were made from, for the
    /// incremental steps' fingerprints: `each(form, report date, the entry's identity and
    /// counts, rows read)`, entry by entry (a year holds tens of thousands: no string is kept
    /// for each). Only the columns that say so are read (the path a file had does not: a file
    /// moved in the inbox gives the same rows).
    pub fn ledger_identities(
        &self,
        each: &mut dyn FnMut(Option<&str>, NaiveDate, &str, u64),
    ) -> Result<(), WarehouseError> {
        const COLUMNS: &[&str] =
            &["sha256", "sheet", "status", "forms_sha256", "form", "rows_read", "accepted", "rejected", "skipped"];
        let mut name = String::with_capacity(256);
        for path in self.table_files(LEDGER) {
            for batch in super::dated::read(&path, COLUMNS)? {
                identities(&batch, &mut name, each);
            }
        }
        Ok(())
    }
}

/// `ledger_identities` of one batch, each identity written into one reused buffer (over a
/// year's 56,387 entries, a `String` for each, and before that `{:?}` of each sheet name, which
/// escapes every Chinese character, were half of the time it took to read them); a text is
/// prefixed by its length, so that no sheet name can pass for two fields.
fn identities(batch: &RecordBatch, name: &mut String, each: &mut dyn FnMut(Option<&str>, NaiveDate, &str, u64)) {
    use std::fmt::Write;
    let count = |n: &str| batch.column_by_name(n).and_then(|c| c.as_any().downcast_ref::<Int64Array>());
    let dates = super::dated::row_dates(batch);
    let (sha, sheet, status, forms, form) = (
        text(batch, "sha256"),
        text(batch, "sheet"),
        text(batch, "status"),
        text(batch, "forms_sha256"),
        text(batch, "form"),
    );
    let (rows_read, accepted, rejected, skipped) =
        (count("rows_read"), count("accepted"), count("rejected"), count("skipped"));
    for i in 0..batch.num_rows() {
        let Some(date) = dates[i] else { continue };
        name.clear();
        for field in [value(sha, i), value(sheet, i), value(status, i), value(forms, i)] {
            let field = field.unwrap_or_default();
            let _ = write!(name, "{}:{field} ", field.len());
        }
        let _ = write!(name, "{}/{}/{} ", number(accepted, i), number(rejected, i), number(skipped, i));
        each(value(form, i), date, name, number(rows_read, i).max(0) as u64);
    }
}

/// A ledger row, as far as later runs (and run manifests) need it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LedgerEntry {
    pub path: String,
    pub sha256: String,
    pub sheet: String,
    pub form: Option<String>,
    pub community_code: Option<String>,
    pub report_date: String,
    pub status: String,
    /// Fingerprint of the form declarations the file was read with (empty if unknown).
    pub forms_sha256: String,
    pub rows_read: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub skipped: i64,
}

const TEXT: &[&str] = &[
    "path",
    "sha256",
    "kind",
    "sheet",
    "status",
    "form",
    "community_code",
    "date_source",
    "header_rows",
    "message",
    "forms_sha256",
    "columns",
];
const COUNTS: &[&str] = &["bytes", "sheet_index", "rows_read", "accepted", "rejected", "skipped", "warnings"];

pub fn schema() -> Arc<Schema> {
    let mut fields: Vec<Field> = TEXT.iter().map(|n| Field::new(*n, DataType::Utf8, true)).collect();
    fields.extend(COUNTS.iter().map(|n| Field::new(*n, DataType::Int64, true)));
    Arc::new(Schema::new(fields))
}

/// One row of a ledger batch before it becomes Arrow columns.
struct Row {
    text: [Option<String>; 12],
    counts: [i64; 7],
}

/// The ledger rows of one file for one report date.
pub fn batch(file: &FileResult, report_date: &str, file_date: &str, forms_sha256: &str) -> RecordBatch {
    let mut rows = Vec::new();
    let kind = file.kind.map(|k| k.label().to_string());
    if let Some(error) = &file.error {
        if report_date == file_date {
            rows.push(Row {
                text: [
                    Some(file.path.clone()),
                    Some(file.sha256.clone()),
                    kind.clone(),
                    None,
                    Some("error".into()),
                    None,
                    None,
                    None,
                    None,
                    // A reader's error can quote the file: masked like every message.
                    Some(crate::privacy::redact(error).into_owned()),
                    Some(forms_sha256.to_string()),
                    None,
                ],
                counts: [file.bytes as i64, 0, 0, 0, 0, 0, 0],
            });
        }
    }
    for s in file
        .sheets
        .iter()
        .filter(|s| s.report_date.to_string() == report_date || (s.status.code() != "read" && report_date == file_date))
    {
        let message = match &s.status {
            crate::ingest::SheetStatus::Unrecognised { .. } => s.status.unrecognised(),
            crate::ingest::SheetStatus::Hidden => Some("hidden sheet, not read".into()),
            crate::ingest::SheetStatus::NotAWorksheet(what) => Some(format!("{what}, not read")),
            crate::ingest::SheetStatus::Unreadable(e) => Some(crate::privacy::redact(e).into_owned()),
            _ => None,
        };
        let c = &s.counts;
        rows.push(Row {
            text: [
                Some(file.path.clone()),
                Some(file.sha256.clone()),
                kind.clone(),
                Some(s.name.clone()),
                Some(s.status.code().into()),
                s.form.clone(),
                s.community.clone(),
                Some(s.date_from()),
                Some(s.header_rows.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(",")),
                message,
                Some(forms_sha256.to_string()),
                // Header labels come from the file: masked like every other text.
                Some(crate::privacy::redact(&s.column_fields()).into_owned()).filter(|t| !t.is_empty()),
            ],
            counts: [
                file.bytes as i64,
                s.index as i64,
                c.rows_read as i64,
                c.accepted as i64,
                c.rejected_total() as i64,
                c.skipped_total() as i64,
                c.warnings.values().sum::<u64>() as i64,
            ],
        });
    }
    let mut columns: Vec<ArrayRef> = Vec::new();
    for i in 0..TEXT.len() {
        columns.push(Arc::new(rows.iter().map(|r| r.text[i].clone()).collect::<StringArray>()));
    }
    for i in 0..COUNTS.len() {
        columns.push(Arc::new(rows.iter().map(|r| Some(r.counts[i])).collect::<Int64Array>()));
    }
    RecordBatch::try_new(schema(), columns).expect("ledger columns match the schema")
}

/// The columns `entries` reads (not the long texts: messages, header labels).
pub const ENTRY_COLUMNS: &[&str] = &[
    "path",
    "sha256",
    "sheet",
    "form",
    "community_code",
    "status",
    "forms_sha256",
    "rows_read",
    "accepted",
    "rejected",
    "skipped",
];

/// Ledger entries from a batch read back (`ENTRY_COLUMNS` and `report_date`).
pub fn entries(batch: &RecordBatch) -> Vec<LedgerEntry> {
    let dates = super::dated::row_dates(batch);
    let col = |name: &str| batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
    let (Some(path), Some(sha), Some(sheet), Some(form), Some(community), Some(status)) =
        (col("path"), col("sha256"), col("sheet"), col("form"), col("community_code"), col("status"))
    else {
        return Vec::new();
    };
    let fingerprint = col("forms_sha256");
    let count = |name: &str, i: usize| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>().map(|a| if a.is_null(i) { 0 } else { a.value(i) }))
            .unwrap_or(0)
    };
    let get = |a: &StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_string());
    (0..batch.num_rows())
        .filter_map(|i| Some((i, dates[i]?.to_string())))
        .map(|(i, report_date)| LedgerEntry {
            path: get(&path, i).unwrap_or_default(),
            sha256: get(&sha, i).unwrap_or_default(),
            sheet: get(&sheet, i).unwrap_or_default(),
            form: get(&form, i),
            community_code: get(&community, i),
            report_date,
            status: get(&status, i).unwrap_or_default(),
            forms_sha256: fingerprint.as_ref().and_then(|f| get(f, i)).unwrap_or_default(),
            rows_read: count("rows_read", i),
            accepted: count("accepted", i),
            rejected: count("rejected", i),
            skipped: count("skipped", i),
        })
        .collect()
}

/// The report dates a file's rows fall on (every read sheet's), plus the file's own date.
pub fn dates(file: &FileResult, file_date: &str) -> BTreeSet<String> {
    let mut dates: BTreeSet<String> =
        file.sheets.iter().filter(|s| s.status.code() == "read").map(|s| s.report_date.to_string()).collect();
    dates.insert(file_date.to_string());
    dates
}

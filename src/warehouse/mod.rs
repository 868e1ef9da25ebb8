//! The warehouse: partitioned Parquet that analysts read directly (docs/warehouse.md).
//!
//! Layout: `warehouse/<table>/report_year=YYYY/`, a few files per table and year in tiers (the
//! open month's part, the year's other months' part: `tiers`, `compact`), every row carrying
//! its `report_date` (`dated`). Ingest writes one file per source file and report date
//! (`<date>-<first 16 hex of the source file's sha256>.parquet`), the unit a batch commits, and
//! compacts the years it touched once the batch's ledger is written. Rosters are dated snapshots. Every file is written under a
//! temporary name and renamed; the ledger (`ingest_files`) is written last, and a data file
//! whose source is not in the ledger is an orphan of an interrupted run, removed by `reconcile`
//! before the next run writes anything. A warehouse of an earlier layout (a folder per day) is
//! moved into years by the first run (`migrate`). This module knows nothing of SQL steps.

mod by_county;
pub mod columns;
pub mod compact;
pub mod dated;
mod journal;
pub mod ledger;
mod legacy;
mod merge;
pub mod parquet_io;
mod registry;
mod rejects;
pub mod replace;
mod runs;
pub mod streamed;
pub mod tiers;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use chrono::NaiveDate;

use crate::config::forms::FormConfig;
use crate::ingest::dedup::Prior;
use crate::ingest::{FileResult, IngestOutcome, Location};
use crate::privacy::Privacy;
use columns::RowRef;
pub use ledger::LedgerEntry;
pub use replace::Replaced;

/// Tables that are not forms.
pub const REJECTS: &str = "rejects";
pub const LEDGER: &str = "ingest_files";
/// The folder of the pipelines' materialised steps, beside the tables.
pub const MARTS: &str = "marts";

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("cannot write or read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Parquet error in `{}`", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("Arrow error in `{}`", path.display())]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow::error::ArrowError,
    },
}

/// What a write did.
#[derive(Debug, Clone, Default)]
pub struct WriteSummary {
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    pub files_written: usize,
    /// Earlier source files replaced by corrected ones (path, sha256).
    pub replaced: Vec<Replaced>,
    /// The partitions compacted after the write.
    pub compacted: compact::Compacted,
}

pub struct Warehouse {
    pub root: PathBuf,
}

pub use ledger::{Known, LedgerIndex};

/// The first 16 hex digits of a sha256, the whole text if it is shorter (or not hex: a ledger
/// file is read back, and a byte index must not split a character).
fn short(sha256: &str) -> &str {
    sha256.get(..16).unwrap_or(sha256)
}

impl Warehouse {
    pub fn new(root: impl Into<PathBuf>) -> Warehouse {
        Warehouse { root: root.into() }
    }

    /// Every table of the warehouse with the schema of its files (`report_date` last): the
    /// analysts' contract, also what SQL is planned against.
    pub fn schemas(forms: &[FormConfig], privacy: &Privacy) -> Vec<(String, arrow::datatypes::SchemaRef)> {
        let mut out: Vec<(String, arrow::datatypes::SchemaRef)> =
            forms.iter().map(|f| (f.form.clone(), columns::schema(&columns::columns(f, privacy)))).collect();
        out.push((REJECTS.to_string(), rejects::schema()));
        out.push((LEDGER.to_string(), ledger::schema()));
        out.into_iter().map(|(t, s)| (t, dated::schema(&s))).collect()
    }

    /// The folder of a table's rows of a report date's year.
    pub fn partition(&self, table: &str, report_date: &str) -> PathBuf {
        self.root.join(table).join(dated::year_folder(report_date))
    }

    /// The file of one source file's rows of one report date, until compaction merges it.
    pub(crate) fn file(&self, table: &str, report_date: &str, sha256: &str) -> PathBuf {
        self.partition(table, report_date).join(format!("{report_date}-{}.parquet", short(sha256)))
    }

    /// Every Parquet file of a table, by path: its years', and those of an earlier layout's
    /// month and day folders not yet moved into years (see `migrate`).
    pub fn table_files(&self, table: &str) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.root.join(table)) else { return Vec::new() };
        let mut dirs: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                tiers::year_of(&e.path()).is_some() || tiers::legacy_month(&name).is_some()
            })
            .map(|e| e.path())
            .collect();
        dirs.sort();
        dirs.iter().flat_map(|d| list_finished(d)).collect()
    }

    /// The Parquet files of a table that may hold rows of some report dates: of their years,
    /// those whose name (a day's file, the open month's part) or footer (a year's part) says
    /// they may, so that a run's cost does not grow with the history (a backlog is written in
    /// batches, each looking up its own dates). Rows of other days come with them: readers keep
    /// the dates they need.
    fn files_on(&self, table: &str, dates: &BTreeSet<NaiveDate>) -> Vec<PathBuf> {
        let years: BTreeSet<String> = dates.iter().map(|d| dated::year_folder(&d.to_string())).collect();
        years
            .iter()
            .flat_map(|y| list_finished(&self.root.join(table).join(y)))
            .filter(|p| tiers::may_hold(p, dates))
            .collect()
    }

    /// The Parquet files that may hold rows of `date` (see `files_on`), by name.
    pub(crate) fn partition_files(&self, table: &str, date: &str) -> Vec<PathBuf> {
        match NaiveDate::parse_from_str(date, "%Y-%m-%d") {
            Ok(d) => self.files_on(table, &BTreeSet::from([d])),
            Err(_) => list_finished(&self.partition(table, date)),
        }
    }

    /// The tables of the warehouse: its folders, but for the marts' and hidden ones.
    pub(crate) fn tables(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.root) else { return Vec::new() };
        let mut tables: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|t| t != MARTS && !t.starts_with(['.', '_']))
            .collect();
        tables.sort();
        tables
    }

    /// The ledger: every sheet of every file ingested so far.
    pub fn ledger(&self) -> Result<Vec<LedgerEntry>, WarehouseError> {
        Self::ledger_entries(self.table_files(LEDGER))
    }

    /// The ledger's entries of some report dates only (their partitions).
    pub fn ledger_on(&self, dates: &BTreeSet<NaiveDate>) -> Result<Vec<LedgerEntry>, WarehouseError> {
        Self::ledger_entries(self.files_on(LEDGER, dates))
    }

    fn ledger_entries(files: Vec<PathBuf>) -> Result<Vec<LedgerEntry>, WarehouseError> {
        let mut entries = Vec::new();
        for path in files {
            for batch in dated::read(&path, ledger::ENTRY_COLUMNS)? {
                entries.extend(ledger::entries(&batch));
            }
        }
        Ok(entries)
    }

    /// Finishes what a killed run left half done, before the ledger is listed: a compaction's
    /// removals (see `compact`), then undoes the half-written ledger of a batch (see
    /// `journal`). Returns the files removed.
    fn undo_unfinished_batch(&self) -> Result<Vec<PathBuf>, WarehouseError> {
        let mut removed = compact::recover(&self.root)?;
        removed.extend(journal::undo_unfinished(&self.root)?);
        Ok(removed)
    }

    /// Everything a run does first: finishes or undoes what a killed run left
    /// (`undo_unfinished_batch`), then lists the ledger and removes the orphans (`reconcile`).
    /// Returns the files removed and the ledger's index.
    pub fn recover(&self) -> Result<(Vec<PathBuf>, LedgerIndex), WarehouseError> {
        let (removed, index) = self.recover_in_place()?;
        // Orphans are gone: what is left of an earlier layout's folders moves into years.
        if self.migrate()?.files_in > 0 {
            return Ok((removed, self.ledger_index()));
        }
        Ok((removed, index))
    }

    /// `recover`, but an earlier layout's folders stay where they are (`wangge compact`
    /// moves them itself, and counts them).
    pub fn recover_in_place(&self) -> Result<(Vec<PathBuf>, LedgerIndex), WarehouseError> {
        let mut removed = self.undo_unfinished_batch()?;
        let index = self.ledger_index();
        removed.extend(self.reconcile(&index)?);
        Ok((removed, index))
    }

    /// Makes the warehouse fit to read (a pipeline, a query): finishes a compaction a killed
    /// run left half done (it would show rows twice), and moves an earlier layout's folders
    /// into years (`recover`), as SQL reads each row's date from the row.
    pub fn ready_to_read(&self) -> Result<(), WarehouseError> {
        compact::recover(&self.root)?;
        if self.tables().iter().any(|t| compact::has_legacy_folders(&self.root, t)) {
            self.recover()?;
        }
        Ok(())
    }

    /// Moves the month and day folders of an earlier layout (`report_month=YYYY-MM/`,
    /// `report_date=YYYY-MM-DD/`) into year folders (see `compact`): the ledger first, as the other tables' rows of a still earlier
    /// layout look up their source's whole sha256 in it.
    fn migrate(&self) -> Result<compact::Compacted, WarehouseError> {
        let mut tables: Vec<String> =
            self.tables().into_iter().filter(|t| compact::has_legacy_folders(&self.root, t)).collect();
        tables.sort_by_key(|t| t != LEDGER);
        let mut total = compact::Compacted::default();
        for table in tables {
            for chunk in compact::partitions(&self.root, &table).chunks(1) {
                total.absorb(self.compact_dirs(chunk, true)?);
            }
        }
        Ok(total)
    }

    /// Removes what an interrupted run left: temporary files, and data files whose source is
    /// not in the ledger (`index`, listed at the start of the run). Returns the paths removed.
    pub fn reconcile(&self, index: &LedgerIndex) -> Result<Vec<PathBuf>, WarehouseError> {
        let mut removed = Vec::new();
        for table in self.tables() {
            let Ok(partitions) = std::fs::read_dir(self.root.join(&table)) else { continue };
            for p in partitions.flatten() {
                let Ok(files) = std::fs::read_dir(p.path()) else { continue };
                for f in files.flatten() {
                    let name = f.file_name().to_string_lossy().into_owned();
                    let stem = name.trim_end_matches(".parquet");
                    // A source file's rows of a day are `<date>-<sha16>.parquet`.
                    let source = dated::source_of_stem(stem);
                    // A part file holds only rows of committed files: compaction runs after the
                    // ledger is written.
                    let orphan = table != LEDGER
                        && name.ends_with(".parquet")
                        && !name.starts_with(compact::PART)
                        && !index.files.contains_key(source);
                    if name.ends_with(".tmp") || orphan {
                        std::fs::remove_file(f.path())
                            .map_err(|source| WarehouseError::Io { path: f.path(), source })?;
                        removed.push(f.path());
                    }
                }
            }
        }
        Ok(removed)
    }

    /// The sheets already in the warehouse that this ingest's sheets replace: same form,
    /// community and report date, from a file with other content. The files of one ingest call
    /// (`call`, by sha256; it may be written in several batches) never replace one another.
    pub fn superseded(
        &self,
        outcome: &IngestOutcome,
        call: &BTreeSet<String>,
    ) -> Result<BTreeSet<Replaced>, WarehouseError> {
        let ledger = self.ledger_on(&outcome.report_dates())?;
        let new: BTreeSet<&str> =
            outcome.files.iter().map(|f| f.sha256.as_str()).chain(call.iter().map(String::as_str)).collect();
        let mut superseded = BTreeSet::new();
        for file in &outcome.files {
            for s in file.sheets.iter().filter(|s| s.status.code() == "read" && s.community.is_some()) {
                for e in &ledger {
                    if e.status == "read"
                        && e.form == s.form
                        && e.community_code == s.community
                        && e.report_date == s.report_date.to_string()
                        && !new.contains(e.sha256.as_str())
                    {
                        superseded.insert(Replaced {
                            path: e.path.clone(),
                            sha256: e.sha256.clone(),
                            report_date: e.report_date.clone(),
                            form: e.form.clone(),
                            sheet: Some(e.sheet.clone()),
                        });
                    }
                }
            }
        }
        Ok(superseded)
    }

    /// Each identity already kept in the warehouse on one of `dates`, by form, report date and
    /// key, with where it was kept; rows of the files this run corrects (`excluded`) do not count.
    pub fn prior_identities(
        &self,
        forms: &[FormConfig],
        excluded: &BTreeSet<Replaced>,
        dates: &BTreeSet<NaiveDate>,
    ) -> Result<Prior, WarehouseError> {
        let mut prior = Prior::new();
        for form in forms {
            // A duplicate is the same person on the same form and report date: only the dates
            // this run ingests can hold one, however long the history.
            for path in self.files_on(&form.form, dates) {
                // Files of an earlier layout are named by their source file's hash.
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                let stem = dated::source_of_stem(stem).to_string();
                let columns = ["row_key", "source_file", columns::SOURCE_SHA, "source_sheet", "source_row"];
                for batch in dated::read(&path, &columns)? {
                    let text = |n: &str| {
                        batch.column_by_name(n).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
                    };
                    let rows = batch
                        .column_by_name("source_row")
                        .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned());
                    let (Some(key), Some(file), Some(sheet), Some(row)) =
                        (text("row_key"), text("source_file"), text("source_sheet"), rows)
                    else {
                        continue;
                    };
                    let sha = text(columns::SOURCE_SHA);
                    let sha = |i: usize| sha.as_ref().filter(|a| !a.is_null(i)).map_or(stem.as_str(), |a| a.value(i));
                    for (i, report_date) in dated::row_dates(&batch).into_iter().enumerate() {
                        // A part file holds other days too.
                        let Some(report_date) = report_date.filter(|d| dates.contains(d)) else { continue };
                        if key.is_null(i) {
                            continue;
                        }
                        let date = report_date.to_string();
                        // A replaced sheet's rows do not count against its correction.
                        if excluded.iter().any(|r| r.takes(Some(&form.form), &date, sha(i), sheet.value(i))) {
                            continue;
                        }
                        let location = Location {
                            file: file.value(i).to_string(),
                            sheet: sheet.value(i).to_string(),
                            row: row.value(i) as usize,
                        };
                        prior.entry((form.form.clone(), report_date, key.value(i).to_string())).or_insert(location);
                    }
                }
            }
        }
        Ok(prior)
    }

    /// Writes one file's data tables and rejects for one report date; returns (table, rows)
    /// of each Parquet file written.
    fn write_file_date(
        &self,
        file: &FileResult,
        date: &str,
        forms: &[FormConfig],
        privacy: &Privacy,
    ) -> Result<Vec<(String, u64, PathBuf)>, WarehouseError> {
        let mut written = Vec::new();
        for form in forms {
            let rows: Vec<RowRef<'_>> = file
                .sheets
                .iter()
                .filter(|s| s.form.as_deref() == Some(form.form.as_str()) && s.report_date.to_string() == date)
                .flat_map(|s| {
                    s.records.iter().map(move |(row, r)| RowRef {
                        values: &r.values,
                        identity: r.identity.as_ref().map(|i| i.key.as_str()),
                        file: &file.path,
                        sha256: &file.sha256,
                        sheet: &s.name,
                        row: *row,
                        registry_scope: s.registry_scope.map(|scope| scope.as_str()),
                    })
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            let cols = columns::columns(form, privacy);
            let schema = columns::schema(&cols);
            let arrays = cols.iter().map(|c| columns::build(c, &rows, privacy)).collect();
            let batch = RecordBatch::try_new(schema.clone(), arrays).expect("columns match the schema");
            let path = self.file(&form.form, date, &file.sha256);
            let batch = stamped(&path, &batch, date)?;
            parquet_io::write_unsynced(&path, batch.schema(), &batch)?;
            written.push((form.form.clone(), rows.len() as u64, path));
        }
        if let Some(batch) = rejects::batch(file, date, forms, privacy) {
            let path = self.file(REJECTS, date, &file.sha256);
            let batch = stamped(&path, &batch, date)?;
            parquet_io::write_unsynced(&path, batch.schema(), &batch)?;
            written.push((REJECTS.to_string(), batch.num_rows() as u64, path));
        }
        Ok(written)
    }

    /// Writes an ingest's results: data tables, rejects, then the ledger. The `superseded`
    /// files (see [`Warehouse::superseded`]) leave every table first; the `streamed` files,
    /// already written, are put in place before the ledger.
    pub fn write(
        &self,
        outcome: &IngestOutcome,
        forms: &[FormConfig],
        privacy: &Privacy,
        run_date: &str,
        superseded: &BTreeSet<Replaced>,
        forms_sha256: &str,
        streamed: Vec<streamed::StreamedFile>,
    ) -> Result<WriteSummary, WarehouseError> {
        let mut summary = WriteSummary::default();
        replace::apply(self, superseded)?;
        summary.replaced = superseded.iter().cloned().collect();

        // Every (file, report date) is written on its own: in parallel, then counted in order.
        let jobs: Vec<(&FileResult, String)> = outcome
            .files
            .iter()
            .flat_map(|file| ledger::dates(file, &file_date(file, run_date)).into_iter().map(move |d| (file, d)))
            .collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len()).max(1);
        let mut results: Vec<(usize, Result<Vec<(String, u64, PathBuf)>, WarehouseError>)> =
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut done = Vec::new();
                            loop {
                                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let Some((file, date)) = jobs.get(i) else { break };
                                done.push((i, self.write_file_date(file, date, forms, privacy)));
                            }
                            done
                        })
                    })
                    .collect();
                handles.into_iter().flat_map(|h| h.join().expect("writers do not panic")).collect()
            });
        results.sort_by_key(|(i, _)| *i);
        let mut written = Vec::new();
        for (_, result) in results {
            for (table, rows, path) in result? {
                *summary.rows.entry(table).or_default() += rows;
                written.push(path);
            }
        }
        for file in streamed {
            parquet_io::put_in_place(&file.tmp, &file.path)?;
            *summary.rows.entry(file.table).or_default() += file.rows;
            written.push(file.path);
        }
        summary.files_written += written.len();
        // The ledger last: a file counts as ingested only once all its rows are on disk.
        parquet_io::sync_written(&self.root, &written)?;
        let mut ledger_batches = Vec::new();
        for file in &outcome.files {
            let file_date = file_date(file, run_date);
            for date in ledger::dates(file, &file_date) {
                let batch = ledger::batch(file, &date, &file_date, forms_sha256);
                if batch.num_rows() > 0 {
                    let path = self.file(LEDGER, &date, &file.sha256);
                    let batch = stamped(&path, &batch, &date)?;
                    ledger_batches.push((path, batch));
                }
            }
        }
        // All of the batch's ledger files, or none (see `journal`).
        let ledger_files: Vec<PathBuf> = ledger_batches.iter().map(|(p, _)| p.clone()).collect();
        journal::begin(&self.root, &ledger_files)?;
        for (path, batch) in &ledger_batches {
            *summary.rows.entry(LEDGER.into()).or_default() += batch.num_rows() as u64;
            parquet_io::write_unsynced(path, batch.schema(), batch)?;
            crate::failpoint::hit("warehouse.ledger");
        }
        summary.files_written += ledger_files.len();
        parquet_io::sync_written(&self.root, &ledger_files)?;
        journal::finish(&self.root)?;

        // The batch is committed: the years it wrote become their tiers again, and those it
        // corrected are checked for parts the correction changed.
        let dirs: BTreeSet<PathBuf> =
            written.iter().chain(&ledger_files).filter_map(|p| p.parent().map(PathBuf::from)).collect();
        let replaced_dates: BTreeSet<&str> = superseded.iter().map(|r| r.report_date.as_str()).collect();
        let mut corrected = BTreeSet::new();
        for table in self.tables() {
            corrected.extend(replaced_dates.iter().filter(|d| !d.is_empty()).map(|d| self.partition(&table, d)));
        }
        let dirs: Vec<PathBuf> = dirs.difference(&corrected).cloned().collect();
        summary.compacted = self.compact_dirs(&dirs, false)?;
        summary.compacted.absorb(self.compact_dirs(&corrected.into_iter().collect::<Vec<_>>(), true)?);
        Ok(summary)
    }

    /// Compacts the given year folders (see `compact`).
    fn compact_dirs(&self, dirs: &[PathBuf], verify: bool) -> Result<compact::Compacted, WarehouseError> {
        // Files of an earlier layout name their source by 16 hex digits; the ledger has the
        // whole hash. Read only if such a file is met.
        let shas: std::cell::OnceCell<HashMap<String, String>> = std::cell::OnceCell::new();
        let sha_of = |sha16: &str| {
            shas.get_or_init(|| {
                let ledger = self.ledger().unwrap_or_default();
                compact::sha_lookup(ledger.into_iter().map(|e| e.sha256))
            })
            .get(sha16)
            .cloned()
        };
        compact::compact(&self.root, dirs, verify, &sha_of)
    }

    /// Rewrites every year of every table in the compacted layout (`wangge compact`): a
    /// warehouse written by an earlier version, one file per source file, per day or per
    /// month, becomes a few files per table and year. Idempotent: a compacted year is left alone.
    pub fn compact_all(&self) -> Result<compact::Compacted, WarehouseError> {
        let mut dirs = Vec::new();
        for table in self.tables() {
            dirs.extend(compact::partitions(&self.root, &table));
        }
        let mut total = compact::Compacted::default();
        // A year at a time: memory stays that of the largest year's tier, and a run stopped
        // half-way keeps what it finished.
        for chunk in dirs.chunks(1) {
            total.absorb(self.compact_dirs(chunk, true)?);
        }
        Ok(total)
    }
}

/// `batch` with its rows' report date (see `dated`).
fn stamped(path: &std::path::Path, batch: &RecordBatch, date: &str) -> Result<RecordBatch, WarehouseError> {
    dated::stamp(batch, date).map_err(|source| WarehouseError::Arrow { path: path.to_path_buf(), source })
}

/// The finished Parquet files of a folder, by name.
fn list_finished(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(files) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = files.flatten().map(|f| f.path()).filter(|p| parquet_io::is_finished(p)).collect();
    paths.sort();
    paths
}

/// The date a file is filed under in the ledger: its first read sheet's report date, else
/// the run date.
fn file_date(file: &FileResult, run_date: &str) -> String {
    file.sheets
        .iter()
        .find(|s| s.status.code() == "read")
        .map(|s| s.report_date.to_string())
        .unwrap_or_else(|| run_date.to_string())
}

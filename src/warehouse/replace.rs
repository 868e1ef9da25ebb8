//! Corrected files: a sheet with new content for the same community, form and report date as a
//! sheet already in the warehouse replaces that sheet, and only that sheet. The earlier file's
//! other sheets (other forms, other communities, other days) stay.
//!
//! Order of a replacement, so that a crash never counts a row twice: the earlier sheet's data
//! rows leave first, then its rejects, then its ledger rows become `superseded`. A crash in
//! between leaves the ledger still saying `read`, and the next run (which ingests the
//! corrected file again, as it is not in the ledger yet) repeats the same, idempotent steps.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow::compute::filter_record_batch;

use super::columns::SOURCE_SHA;
use super::{LEDGER, REJECTS, Warehouse, WarehouseError, parquet_io};

/// A sheet of an earlier file that a newer file replaces; `sheet: None` replaces the whole
/// earlier file (a file read again because it could not be read before).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Replaced {
    pub path: String,
    pub sha256: String,
    pub report_date: String,
    pub form: Option<String>,
    pub sheet: Option<String>,
}

impl Replaced {
    /// Whether a row on `date` from sheet `sheet` of the file `sha` (its full sha256, or the 16
    /// hex digits an earlier layout named files by) goes with this: a row of form `form`'s
    /// table, or with `None`, a row of any form (rejects, the ledger).
    pub fn takes(&self, form: Option<&str>, date: &str, sha: &str, sheet: &str) -> bool {
        self.sha256.starts_with(sha)
            && (self.sheet.is_none()
                || (self.report_date == date
                    && form.is_none_or(|f| self.form.as_deref() == Some(f))
                    && self.sheet.as_deref() == Some(sheet)))
    }
}

/// Removes what `replaced` names from the warehouse: rows of data tables, then of rejects,
/// then the ledger's (a whole file's ledger rows go, a sheet's become `superseded`), so that a
/// crash half-way leaves the ledger still naming the earlier file, and the next run, which
/// reads the correction again, repeats the same idempotent steps.
pub fn apply(warehouse: &Warehouse, replaced: &BTreeSet<Replaced>) -> Result<(), WarehouseError> {
    if replaced.is_empty() {
        return Ok(());
    }
    // The partitions holding rows of the replaced files: a sheet's own date, every date of a
    // whole file (from the ledger).
    let mut dates: BTreeSet<String> =
        replaced.iter().filter(|r| r.sheet.is_some()).map(|r| r.report_date.clone()).collect();
    if replaced.iter().any(|r| r.sheet.is_none()) {
        let index = warehouse.ledger_index();
        for r in replaced.iter().filter(|r| r.sheet.is_none()) {
            dates.extend(index.files.get(super::short(&r.sha256)).into_iter().flatten().map(|(d, _)| d.clone()));
        }
    }
    let tables: Vec<String> = warehouse.tables().into_iter().filter(|t| t != LEDGER && t != REJECTS).collect();
    // A part file once, whichever of its days are named.
    let files = |table: &str| -> BTreeSet<std::path::PathBuf> {
        dates.iter().flat_map(|d| warehouse.partition_files(table, d)).collect()
    };
    let forms = tables.iter().map(|t| (t.as_str(), Some(t.as_str())));
    for (table, form) in forms.chain([(REJECTS, None)]) {
        for path in files(table) {
            keep_rows(&path, |date, sha, sheet| !replaced.iter().any(|r| r.takes(form, date, sha, sheet)))?;
        }
    }
    for path in files(LEDGER) {
        let whole = |sha: &str| replaced.iter().any(|r| r.sheet.is_none() && r.sha256.starts_with(sha));
        keep_rows(&path, |_, sha, _| !whole(sha))?;
        mark_superseded(&path, |date, sha, sheet| {
            replaced.iter().any(|r| r.sheet.is_some() && r.takes(None, date, sha, sheet))
        })?;
    }
    Ok(())
}

/// Each row's report date as text (empty for a row without one).
fn dates_of(batch: &RecordBatch) -> Vec<String> {
    super::dated::row_dates(batch).into_iter().map(|d| d.map(|d| d.to_string()).unwrap_or_default()).collect()
}

/// The source file of each row of `batch`: its `source_sha256` (data tables, rejects) or
/// `sha256` (ledger) column, or, in a file of an earlier layout, the file's name.
fn shas(batch: &RecordBatch, path: &Path) -> Vec<String> {
    let column = [SOURCE_SHA, "sha256"]
        .iter()
        .find_map(|c| batch.column_by_name(c).and_then(|a| a.as_any().downcast_ref::<StringArray>()).cloned());
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = super::dated::source_of_stem(&stem).to_string();
    (0..batch.num_rows())
        .map(|i| match &column {
            Some(a) if !a.is_null(i) => a.value(i).to_string(),
            _ => stem.clone(),
        })
        .collect()
}

fn sheets(batch: &RecordBatch) -> Option<StringArray> {
    ["source_sheet", "sheet"]
        .iter()
        .find_map(|c| batch.column_by_name(c).and_then(|a| a.as_any().downcast_ref::<StringArray>()).cloned())
}

/// Rewrites a Parquet file keeping the rows `keep(date, sha, sheet)` says; removes the file if
/// no row is left. A file losing nothing is left alone. A year's part is hundreds of thousands
/// of rows: the rows to drop are found from the source columns alone, and the file is
/// rewritten a batch at a time, not held.
fn keep_rows(path: &Path, keep: impl Fn(&str, &str, &str) -> bool) -> Result<(), WarehouseError> {
    let arrow = |source| WarehouseError::Arrow { path: path.to_path_buf(), source };
    let kept_of = |batch: &RecordBatch| -> BooleanArray {
        let shas = shas(batch, path);
        let dates = dates_of(batch);
        let sheet = sheets(batch);
        (0..batch.num_rows())
            .map(|i| {
                let name = sheet.as_ref().filter(|s| !s.is_null(i)).map_or("", |s| s.value(i));
                Some(keep(&dates[i], &shas[i], name))
            })
            .collect()
    };
    let (mut kept, mut dropped) = (0, 0);
    for batch in super::dated::read(path, &[SOURCE_SHA, "sha256", "source_sheet", "sheet"])? {
        let mask = kept_of(&batch);
        dropped += mask.false_count();
        kept += mask.true_count();
    }
    if dropped == 0 {
        return Ok(());
    }
    if kept == 0 {
        return std::fs::remove_file(path).map_err(|source| WarehouseError::Io { path: path.to_path_buf(), source });
    }
    let mut writer = None;
    for batch in super::dated::batches(path, 16_384)? {
        let batch = batch?;
        let filtered = filter_record_batch(&batch, &kept_of(&batch)).map_err(arrow)?;
        if writer.is_none() {
            writer = Some(parquet_io::create_part(path, &filtered.schema(), kept)?);
        }
        let (tmp, w) = writer.as_mut().expect("opened above");
        w.write(&filtered).map_err(|source| WarehouseError::Parquet { path: tmp.clone(), source })?;
    }
    let (tmp, w) = writer.expect("a file with rows kept has a batch");
    parquet_io::close_in_place(w.into_inner(), &tmp, path, true)
}

/// Sets `status` to `superseded` on the ledger rows that were `read` and
/// `replaced(date, sha, sheet)`.
fn mark_superseded(path: &Path, replaced: impl Fn(&str, &str, &str) -> bool) -> Result<(), WarehouseError> {
    if !path.exists() {
        return Ok(()); // every row of it went with a whole file
    }
    let mut out = Vec::new();
    let mut changed = false;
    for batch in super::dated::read(path, &[])? {
        let shas = shas(&batch, path);
        let dates = dates_of(&batch);
        let text = |n: &str| batch.column_by_name(n).and_then(|c| c.as_any().downcast_ref::<StringArray>()).cloned();
        let (Some(sheet), Some(status), Some(index)) =
            (text("sheet"), text("status"), batch.schema().index_of("status").ok())
        else {
            return Ok(());
        };
        let new_status: StringArray = (0..batch.num_rows())
            .map(|i| {
                let hit =
                    !sheet.is_null(i) && status.value(i) == "read" && replaced(&dates[i], &shas[i], sheet.value(i));
                changed |= hit;
                Some(if hit { "superseded" } else { status.value(i) })
            })
            .collect();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns[index] = Arc::new(new_status);
        out.push(
            RecordBatch::try_new(batch.schema(), columns)
                .map_err(|source| WarehouseError::Arrow { path: path.to_path_buf(), source })?,
        );
    }
    let Some(first) = out.first().filter(|_| changed) else { return Ok(()) };
    let schema = first.schema();
    let batch = arrow::compute::concat_batches(&schema, &out)
        .map_err(|source| WarehouseError::Arrow { path: path.to_path_buf(), source })?;
    parquet_io::write(path, schema, &batch)
}

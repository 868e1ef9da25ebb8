//! Corrected files: a sheet with new content for the same community, form and report date as a
//! sheet already in the warehouse replaces that sheet, and only that sheet. The earlier file's
//! other sheets (other forms, other communities, other days) stay.
//!
//! Order of a replacement, so that a crash never counts a row twice: the earlier sheet's data
//! rows leave first, then its rejects, then its ledger rows become `superseded`. A crash in
//! between leaves the ledger still saying `read`, and the next run (which ingests the
//! corrected file again, as it is not in the ledger yet) repeats the same, idempotent steps.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow::compute::filter_record_batch;

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
    /// Whether a data file of `table` on `date` from the file `sha16` loses rows to this.
    pub fn touches(&self, table: &str, date: &str, sha16: &str) -> bool {
        self.sha256.starts_with(sha16)
            && (self.sheet.is_none() || (self.report_date == date && self.form.as_deref() == Some(table)))
    }
}

/// Removes what `replaced` names from the warehouse.
pub fn apply(warehouse: &Warehouse, replaced: &BTreeSet<Replaced>) -> Result<(), WarehouseError> {
    // Whole files: the ledger first, so that a crash leaves their rows as orphans of no ledger
    // row, which the next run's `reconcile` removes.
    for r in replaced.iter().filter(|r| r.sheet.is_none()) {
        for table in std::iter::once(LEDGER.to_string()).chain(warehouse.tables()) {
            for (date, _) in warehouse.table_files(&table) {
                let path = warehouse.file(&table, &date, &r.sha256);
                if path.exists() {
                    std::fs::remove_file(&path).map_err(|source| WarehouseError::Io { path: path.clone(), source })?;
                }
            }
        }
    }
    // Single sheets, grouped by the earlier file's data file.
    let mut by_file: BTreeMap<(&str, &str, &str), HashSet<&str>> = BTreeMap::new();
    for r in replaced {
        if let (Some(form), Some(sheet)) = (&r.form, &r.sheet) {
            by_file.entry((r.sha256.as_str(), r.report_date.as_str(), form.as_str())).or_default().insert(sheet);
        }
    }
    let mut sheets_of: BTreeMap<(&str, &str), HashSet<&str>> = BTreeMap::new();
    for ((sha, date, form), sheets) in &by_file {
        let data = warehouse.file(form, date, sha);
        keep_rows(&data, "source_sheet", |sheet| !sheets.contains(sheet))?;
        sheets_of.entry((sha, date)).or_default().extend(sheets.iter().copied());
    }
    for ((sha, date), sheets) in &sheets_of {
        keep_rows(&warehouse.file(REJECTS, date, sha), "source_sheet", |sheet| !sheets.contains(sheet))?;
        mark_superseded(&warehouse.file(LEDGER, date, sha), sheets)?;
    }
    Ok(())
}

/// Rewrites a Parquet file keeping the rows whose `column` passes `keep`; removes the file if
/// no row is left. A missing file is left missing.
fn keep_rows(path: &Path, column: &str, keep: impl Fn(&str) -> bool) -> Result<(), WarehouseError> {
    if !path.exists() {
        return Ok(());
    }
    let batches = parquet_io::read(path, &[])?;
    let mut kept = Vec::new();
    let mut dropped = 0;
    for batch in &batches {
        let Some(values) = batch.column_by_name(column).and_then(|c| c.as_any().downcast_ref::<StringArray>()) else {
            return Ok(());
        };
        let mask: BooleanArray =
            (0..batch.num_rows()).map(|i| Some(values.is_null(i) || keep(values.value(i)))).collect();
        dropped += mask.false_count();
        let filtered = filter_record_batch(batch, &mask)
            .map_err(|source| WarehouseError::Arrow { path: path.to_path_buf(), source })?;
        if filtered.num_rows() > 0 {
            kept.push(filtered);
        }
    }
    if dropped == 0 {
        return Ok(());
    }
    match kept.first() {
        None => std::fs::remove_file(path).map_err(|source| WarehouseError::Io { path: path.to_path_buf(), source }),
        Some(first) => {
            let schema = first.schema();
            let batch = arrow::compute::concat_batches(&schema, &kept)
                .map_err(|source| WarehouseError::Arrow { path: path.to_path_buf(), source })?;
            parquet_io::write(path, schema, &batch)
        }
    }
}

/// Sets `status` to `superseded` on the ledger rows of `sheets` that were `read`.
fn mark_superseded(path: &Path, sheets: &HashSet<&str>) -> Result<(), WarehouseError> {
    if !path.exists() {
        return Ok(());
    }
    let mut out = Vec::new();
    for batch in parquet_io::read(path, &[])? {
        let text = |n: &str| batch.column_by_name(n).and_then(|c| c.as_any().downcast_ref::<StringArray>()).cloned();
        let (Some(sheet), Some(status), Some(index)) =
            (text("sheet"), text("status"), batch.schema().index_of("status").ok())
        else {
            return Ok(());
        };
        let new_status: StringArray = (0..batch.num_rows())
            .map(|i| {
                let replaced = !sheet.is_null(i) && sheets.contains(sheet.value(i)) && status.value(i) == "read";
                Some(if replaced { "superseded" } else { status.value(i) })
            })
            .collect();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns[index] = Arc::new(new_status);
        out.push(
            RecordBatch::try_new(batch.schema(), columns)
                .map_err(|source| WarehouseError::Arrow { path: path.to_path_buf(), source })?,
        );
    }
    let Some(first) = out.first() else { return Ok(()) };
    let schema = first.schema();
    let batch = arrow::compute::concat_batches(&schema, &out)
        .map_err(|source| WarehouseError::Arrow { path: path.to_path_buf(), source })?;
    parquet_io::write(path, schema, &batch)
}

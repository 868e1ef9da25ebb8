//! The layouts of earlier versions, moved into years by compaction (`compact`): a folder per
//! month (`report_month=YYYY-MM/`, the rows carrying their date), a folder per day
//! (`report_date=YYYY-MM-DD/`, the date in the path alone), files named by their source's 16
//! hex digits with rows that lack `source_sha256`. Nothing here is written by this version but
//! the files it moves.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};

use super::columns::SOURCE_SHA;
use super::compact::{LEAVE_FROM_BYTES, PART, Pending, arrow_err, finished, io};
use super::dated::{self, DAY_FOLDER, REPORT_MONTH, folder_date};
use super::{WarehouseError, parquet_io, short, tiers};

/// The folders of an earlier layout (`report_month=`, `report_date=`) that belong to the year
/// folder `dir`, each with its month.
pub(super) fn legacy_folders(dir: &Path) -> Vec<(PathBuf, String)> {
    let (Some(table), Some(year)) = (dir.parent(), tiers::year_of(dir)) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(table) else { return Vec::new() };
    let mut folders: Vec<(PathBuf, String)> = entries
        .flatten()
        .filter_map(|e| {
            let month = tiers::legacy_month(&e.file_name().to_string_lossy())?;
            (month.get(..4) == Some(year.as_str()) && e.path().is_dir()).then(|| (e.path(), month))
        })
        .collect();
    folders.sort();
    folders
}

/// The files of the year folder `dir`'s folders of an earlier layout too big to merge: they
/// move on their own.
pub(super) fn big_legacy_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = legacy_folders(dir)
        .iter()
        .flat_map(|(folder, _)| finished(folder))
        .filter(|(_, len)| *len >= LEAVE_FROM_BYTES)
        .map(|(p, _)| p)
        .collect();
    out.sort();
    out
}

/// A file of a folder of an earlier layout rewritten on its own into its year folder `dir`,
/// batch by batch, each row of a day folder given the folder's date: a file too big to merge,
/// or one that disagrees with the others on a column's type. A day folder's file is named by
/// its date (`<date>-<name>`, `part-<date>-<rest>`), a month folder's keeps its name.
pub(super) fn moved(
    dir: &Path,
    path: &Path,
    sha_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Pending, WarehouseError> {
    let date = folder_date(path).unwrap_or_default();
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match stem.strip_prefix(PART) {
        _ if date.is_empty() => format!("{stem}.parquet"),
        Some(rest) => format!("{PART}{date}-{rest}.parquet"),
        None => format!("{date}-{stem}.parquet"),
    };
    let target = dir.join(name);
    let mut writer = None;
    for batch in Rows::open(path, sha_of, 16_384)?.batches {
        let batch = batch?;
        if writer.is_none() {
            writer = Some(parquet_io::create(&target, batch.schema(), 131_072)?);
        }
        let (tmp, w) = writer.as_mut().expect("opened above");
        w.write(&batch).map_err(|source| WarehouseError::Parquet { path: tmp.clone(), source })?;
    }
    let Some((tmp, w)) = writer else {
        // No rows: nothing to move; the empty file goes with its folder.
        return Ok(Pending { tmp: PathBuf::new(), part: PathBuf::new(), inputs: vec![path.to_path_buf()] });
    };
    w.into_inner().map_err(|source| WarehouseError::Parquet { path: tmp.clone(), source })?;
    Ok(Pending { tmp, part: target, inputs: vec![path.to_path_buf()] })
}

/// A table's file read batch by batch as the current layout has its rows: a day folder's rows
/// given the folder's date, rows without `source_sha256` given it from the file's name.
pub(super) struct Rows {
    /// The rows in the file (from its footer).
    pub rows: u64,
    /// The schema of its batches.
    pub schema: arrow::datatypes::SchemaRef,
    pub batches: Box<dyn Iterator<Item = Result<RecordBatch, WarehouseError>>>,
}

impl Rows {
    pub(super) fn open(
        path: &Path,
        sha_of: &dyn Fn(&str) -> Option<String>,
        batch_rows: usize,
    ) -> Result<Rows, WarehouseError> {
        let file = std::fs::File::open(path).map_err(io(path))?;
        let pq = |source| WarehouseError::Parquet { path: path.to_path_buf(), source };
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq)?;
        let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
        let date = folder_date(path).unwrap_or_default();
        let sha = sha_of_name(path, sha_of);
        let owned = path.to_path_buf();
        let as_now = move |batch: RecordBatch| -> Result<RecordBatch, WarehouseError> {
            let batch = with_source_sha(batch, &sha).map_err(arrow_err(&owned))?;
            if date.is_empty() { Ok(batch) } else { dated::stamp(&batch, &date).map_err(arrow_err(&owned)) }
        };
        let schema = as_now(RecordBatch::new_empty(builder.schema().clone()))?.schema();
        let reader = builder.with_batch_size(batch_rows).build().map_err(pq)?;
        let owned = path.to_path_buf();
        let batches = reader.map(move |b| b.map_err(arrow_err(&owned)).and_then(&as_now));
        Ok(Rows { rows, schema, batches: Box::new(batches) })
    }
}

/// The sha256 the rows of a file written before rows named their source get (see
/// `with_source_sha`): the full hash of its name's 16 hex digits where the ledger knows it.
fn sha_of_name(path: &Path, sha_of: &dyn Fn(&str) -> Option<String>) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = dated::source_of_stem(&stem).to_string();
    sha_of(&stem).unwrap_or(stem)
}

/// A batch of a file written before rows named their source file's sha256 gets the column,
/// `sha` (see `sha_of_name`).
pub(super) fn with_source_sha(batch: RecordBatch, sha: &str) -> Result<RecordBatch, arrow::error::ArrowError> {
    let schema = batch.schema();
    if schema.column_with_name("source_file").is_none() || schema.column_with_name(SOURCE_SHA).is_some() {
        return Ok(batch);
    }
    let index = schema.index_of("source_file")? + 1;
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    fields.insert(index, Arc::new(Field::new(SOURCE_SHA, arrow::datatypes::DataType::Utf8, true)));
    let mut columns = batch.columns().to_vec();
    columns.insert(index, Arc::new(StringArray::from(vec![sha; batch.num_rows()])));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// Folders of an earlier layout left empty go (a folder still holding a file stays).
pub(super) fn remove_empty_legacy_folders<'a>(pending: impl Iterator<Item = &'a Pending>) {
    let mut folders: Vec<&Path> = pending
        .flat_map(|p| p.inputs.iter())
        .filter_map(|i| i.parent())
        .filter(|f| f.file_name().is_some_and(|n| tiers::legacy_month(&n.to_string_lossy()).is_some()))
        .collect();
    folders.sort();
    folders.dedup();
    for folder in folders {
        let _ = std::fs::remove_dir(folder);
    }
}

/// The year folders of `table` under `root`, by name, with those an earlier layout's month and
/// day folders belong to (not yet made).
pub fn partitions(root: &Path, table: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join(table)) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if tiers::year_of(&e.path()).is_some() {
                Some(e.path())
            } else {
                tiers::legacy_month(&name).map(|m| root.join(table).join(dated::year_folder(&m)))
            }
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Whether `table` still has month or day folders of an earlier layout.
pub fn has_legacy_folders(root: &Path, table: &str) -> bool {
    std::fs::read_dir(root.join(table)).into_iter().flatten().flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.starts_with(DAY_FOLDER) || name.starts_with(&format!("{REPORT_MONTH}="))
    })
}

/// Maps 16 hex digits to the full sha256 among `shas`.
pub fn sha_lookup(shas: impl IntoIterator<Item = String>) -> HashMap<String, String> {
    shas.into_iter().map(|s| (short(&s).to_string(), s)).collect()
}

//! Compaction: each table's month (`<table>/report_month=YYYY-MM/`) holds one file,
//! `part-<first 16 hex of its sha256>.parquet`, instead of one file per source file and day. Opening
//! files is what a year of history cost (82,568 files: an analyst's first DuckDB query took
//! seconds, the daily run five times longer on day 366 than on day 10), not reading rows.
//!
//! Ingest still writes one file per source file and day (its unit of commit, see `journal`);
//! at the end of each batch the months it touched are compacted. A month's rows come out
//! sorted by report date (so that a reader of one day skips the rest by the row groups' and
//! pages' statistics), source (file, sha256, sheet, row) and then every column, so the same rows
//! give the same bytes whichever history of files they arrived in. Rows keep their source in
//! `source_sha256`, so a corrected sheet replaces rows, not files (`replace`).
//!
//! Files of `LEAVE_FROM_BYTES` or more (a streamed workbook of a few hundred thousand rows)
//! are left as they are: they are already big enough that opening them costs nothing next to
//! reading them, and merging them would hold them in memory.
//!
//! A warehouse of an earlier layout has a folder per day (`report_date=YYYY-MM-DD/`, no
//! `report_date` column): compacting a month takes in its days' folders too, each row given
//! the date of its folder, and removes them (`migrate`).
//!
//! Crash safety: the new files are written under temporary names and synced; then
//! `_compact_pending` lists each new file with the files it replaces (synced); then the new
//! files are renamed into place and the old ones removed; then the list goes. A run that finds
//! the list finishes the removals of every new file that is in place (`recover`); a new file
//! not yet in place is a temporary file, which `reconcile` removes, and its inputs stay.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, UInt32Array, new_null_array};
use arrow::datatypes::{Field, Schema};
use arrow::row::{RowConverter, SortField};
use sha2::{Digest, Sha256};

use super::columns::SOURCE_SHA;
use super::dated::{self, DAY_FOLDER, REPORT_DATE, folder_date};
use super::{WarehouseError, journal, parquet_io, short};

/// The name of a compacted file starts with this.
pub const PART: &str = "part-";
const PENDING: &str = "_compact_pending";
/// Files this big are left as they are (see the module comment).
const LEAVE_FROM_BYTES: u64 = 64 << 20;
/// Columns a partition is sorted by first, those of them the table has: the source of each row.
const SOURCE_ORDER: &[&str] =
    &[REPORT_DATE, "source_file", "path", SOURCE_SHA, "sha256", "source_sheet", "sheet_index", "sheet", "source_row"];

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WarehouseError + '_ {
    move |source| WarehouseError::Io { path: path.to_path_buf(), source }
}

fn arrow_err(path: &Path) -> impl FnOnce(arrow::error::ArrowError) -> WarehouseError + '_ {
    move |source| WarehouseError::Arrow { path: path.to_path_buf(), source }
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compacted {
    pub partitions: usize,
    pub files_in: usize,
    pub files_out: usize,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub rows: u64,
    /// Partitions left as they were because their files disagree on a column's type: (folder,
    /// column). Readers see them as before; nothing is lost.
    pub conflicts: Vec<(PathBuf, String)>,
}

impl Compacted {
    /// Adds another compaction's figures to these.
    pub fn absorb(&mut self, other: Compacted) {
        self.partitions += other.partitions;
        self.files_in += other.files_in;
        self.files_out += other.files_out;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.rows += other.rows;
        self.conflicts.extend(other.conflicts);
    }
}

pub fn is_part(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(PART))
}

/// The files of a month folder that compaction merges (finished Parquet files under
/// `LEAVE_FROM_BYTES`, and every file of the month's day folders of an earlier layout), by
/// name, if they need it: two or more, or one that is not yet a part file (a file of a single
/// source) or no longer holds the bytes its name says (a correction took rows out of it).
fn inputs(dir: &Path) -> Vec<(PathBuf, u64)> {
    let finished = |dir: &Path| -> Vec<(PathBuf, u64)> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| parquet_io::is_finished(p))
            .filter_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m.len())))
            .collect()
    };
    let mut files: Vec<(PathBuf, u64)> = finished(dir);
    let days = day_folders(dir);
    for day in &days {
        files.extend(finished(day));
    }
    files.retain(|(_, len)| *len < LEAVE_FROM_BYTES);
    files.sort();
    let needed = match files.as_slice() {
        [] => false,
        _ if !days.is_empty() => true,
        [(only, _)] => !is_part(only) || !named_by_content(only),
        _ => true,
    };
    if needed { files } else { Vec::new() }
}

/// The files of the month folder `dir`'s day folders (an earlier layout) too big to merge:
/// they move on their own.
fn big_day_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for day in day_folders(dir) {
        let Ok(entries) = std::fs::read_dir(&day) else { continue };
        out.extend(
            entries.flatten().map(|e| e.path()).filter(|p| {
                parquet_io::is_finished(p) && std::fs::metadata(p).is_ok_and(|m| m.len() >= LEAVE_FROM_BYTES)
            }),
        );
    }
    out.sort();
    out
}

/// A file of a day folder (an earlier layout) rewritten on its own into its month folder
/// `dir`, batch by batch, each row given the folder's date: a file too big to merge, or one
/// that disagrees with the others on a column's type.
fn moved(dir: &Path, path: &Path, sha_of: &dyn Fn(&str) -> Option<String>) -> Result<Pending, WarehouseError> {
    let date = folder_date(path).unwrap_or_default();
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match stem.strip_prefix(PART) {
        Some(rest) => format!("{PART}{date}-{rest}.parquet"),
        None => format!("{date}-{stem}.parquet"),
    };
    let target = dir.join(name);
    let file = std::fs::File::open(path).map_err(io(path))?;
    let pq = |source| WarehouseError::Parquet { path: path.to_path_buf(), source };
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(pq)?
        .with_batch_size(16_384)
        .build()
        .map_err(pq)?;
    let mut writer = None;
    for batch in reader {
        let batch = batch.map_err(arrow_err(path))?;
        let batch = with_source_sha(batch, path, sha_of).map_err(arrow_err(path))?;
        let batch = dated::stamp(&batch, &date).map_err(arrow_err(path))?;
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

/// The day folders of an earlier layout that belong to the month folder `dir`.
fn day_folders(dir: &Path) -> Vec<PathBuf> {
    let (Some(table), Some(name)) = (dir.parent(), dir.file_name()) else { return Vec::new() };
    let Some(month) = name.to_string_lossy().strip_prefix(&format!("{}=", dated::REPORT_MONTH)).map(String::from)
    else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(table) else { return Vec::new() };
    let mut days: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().strip_prefix(DAY_FOLDER).is_some_and(|d| d.starts_with(&month)))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    days.sort();
    days
}

fn named_by_content(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else { return true };
    path.file_name().is_some_and(|n| n.to_string_lossy() == part_name(&bytes))
}

/// The name of a part file holding `bytes`: the first 16 hex digits of their sha256.
fn part_name(bytes: &[u8]) -> String {
    format!("{PART}{}.parquet", short(&crate::digest::hex(&Sha256::digest(bytes))))
}

/// A new file in waiting: its temporary path, where it goes, and the files it replaces.
struct Pending {
    tmp: PathBuf,
    part: PathBuf,
    inputs: Vec<PathBuf>,
}

/// Compacts each partition folder in `dirs` that needs it. `sha_of` gives the full sha256 of
/// a source file from the 16 hex digits an earlier layout named its files by (rows written
/// before `source_sha256` existed get it from their file's name).
pub fn compact(
    root: &Path,
    dirs: &[PathBuf],
    sha_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Compacted, WarehouseError> {
    let mut done = Compacted::default();
    let mut pending = Vec::new();
    for dir in dirs {
        let files = inputs(dir);
        let mut alone = big_day_files(dir);
        if !files.is_empty() {
            match merged(dir, &files, sha_of, &mut done.conflicts)? {
                Some(batch) => {
                    let template = dir.join(format!("{PART}.parquet"));
                    let tmp = parquet_io::write_temporary(&template, batch.schema(), &batch)?;
                    let bytes = std::fs::read(&tmp).map_err(io(&tmp))?;
                    let part = dir.join(part_name(&bytes));
                    done.partitions += 1;
                    done.files_in += files.len();
                    done.files_out += 1;
                    done.bytes_in += files.iter().map(|(_, len)| len).sum::<u64>();
                    done.bytes_out += bytes.len() as u64;
                    done.rows += batch.num_rows() as u64;
                    pending.push(Pending { tmp, part, inputs: files.into_iter().map(|(p, _)| p).collect() });
                }
                // Files that disagree stay apart; those of day folders still move.
                None => alone.extend(files.into_iter().map(|(p, _)| p).filter(|p| folder_date(p).is_some())),
            }
        }
        for path in alone {
            let moved = moved(dir, &path, sha_of)?;
            done.files_in += 1;
            if !moved.tmp.as_os_str().is_empty() {
                done.files_out += 1;
            }
            pending.push(moved);
        }
    }
    if pending.is_empty() {
        return Ok(done);
    }
    // An empty file of a day folder has no new file: it just goes.
    let (empty, pending): (Vec<Pending>, Vec<Pending>) =
        pending.into_iter().partition(|p| p.tmp.as_os_str().is_empty());
    let tmps: Vec<PathBuf> = pending.iter().map(|p| p.tmp.clone()).collect();
    parquet_io::sync_written(root, &tmps)?;
    begin(root, &pending)?;
    for p in &pending {
        std::fs::rename(&p.tmp, &p.part).map_err(io(&p.part))?;
    }
    sync_dirs(&pending)?;
    crate::failpoint::hit("warehouse.compact");
    for p in pending.iter().chain(&empty) {
        remove_inputs(&p.part, &p.inputs)?;
    }
    journal::remove_list(root, PENDING)?;
    remove_empty_day_folders(pending.iter().chain(&empty));
    Ok(done)
}

/// The rows of a partition's files in one batch, in the merged schema (a column some files
/// lack is null in their rows), sorted; none if the files disagree on a column's type.
fn merged(
    dir: &Path,
    files: &[(PathBuf, u64)],
    sha_of: &dyn Fn(&str) -> Option<String>,
    conflicts: &mut Vec<(PathBuf, String)>,
) -> Result<Option<RecordBatch>, WarehouseError> {
    let mut batches = Vec::new();
    for (path, _) in files {
        // A day folder's rows get its date (`dated::read`).
        for batch in dated::read(path, &[])? {
            batches.push(with_source_sha(batch, path, sha_of).map_err(arrow_err(path))?);
        }
    }
    // The union of the files' columns, in order of first appearance (files by name).
    let mut fields: Vec<Arc<Field>> = Vec::new();
    for batch in &batches {
        for field in batch.schema().fields() {
            match fields.iter().find(|f| f.name() == field.name()) {
                None => fields.push(Arc::new(field.as_ref().clone().with_nullable(true))),
                Some(f) if f.data_type() != field.data_type() => {
                    conflicts.push((dir.to_path_buf(), field.name().clone()));
                    return Ok(None);
                }
                Some(_) => {}
            }
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let conformed = batches
        .iter()
        .map(|b| {
            let columns: Vec<ArrayRef> = schema
                .fields()
                .iter()
                .map(|f| {
                    b.column_by_name(f.name()).cloned().unwrap_or_else(|| new_null_array(f.data_type(), b.num_rows()))
                })
                .collect();
            RecordBatch::try_new(schema.clone(), columns)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(arrow_err(dir))?;
    let all = arrow::compute::concat_batches(&schema, &conformed).map_err(arrow_err(dir))?;
    sorted(&all).map(Some).map_err(arrow_err(dir))
}

/// A batch of a file written before rows named their source file's sha256 gets the column,
/// from the file's name (`<16 hex>.parquet`): the full hash where the ledger knows it.
fn with_source_sha(
    batch: RecordBatch,
    path: &Path,
    sha_of: &dyn Fn(&str) -> Option<String>,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let schema = batch.schema();
    if schema.column_with_name("source_file").is_none() || schema.column_with_name(SOURCE_SHA).is_some() {
        return Ok(batch);
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = dated::source_of_stem(&stem).to_string();
    let sha = sha_of(&stem).unwrap_or(stem);
    let index = schema.index_of("source_file")? + 1;
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    fields.insert(index, Arc::new(Field::new(SOURCE_SHA, arrow::datatypes::DataType::Utf8, true)));
    let mut columns = batch.columns().to_vec();
    columns.insert(index, Arc::new(StringArray::from(vec![sha.as_str(); batch.num_rows()])));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// `batch` sorted by its source columns, then by every column: a total order on the rows'
/// content, so the bytes do not depend on the order the files were read in.
fn sorted(batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
    let schema = batch.schema();
    let mut order: Vec<usize> = SOURCE_ORDER.iter().filter_map(|c| schema.index_of(c).ok()).collect();
    let rest: Vec<usize> = (0..schema.fields().len()).filter(|i| !order.contains(i)).collect();
    order.extend(rest);
    let converter =
        RowConverter::new(order.iter().map(|i| SortField::new(schema.field(*i).data_type().clone())).collect())?;
    let rows = converter.convert_columns(&order.iter().map(|i| batch.column(*i).clone()).collect::<Vec<_>>())?;
    let mut indices: Vec<u32> = (0..batch.num_rows() as u32).collect();
    indices.sort_by(|a, b| rows.row(*a as usize).cmp(&rows.row(*b as usize)));
    arrow::compute::take_record_batch(batch, &UInt32Array::from(indices))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned()
}

/// Lists every new file and the files it replaces, durably, before any is renamed into place.
fn begin(root: &Path, pending: &[Pending]) -> Result<(), WarehouseError> {
    let mut text = String::new();
    for p in pending {
        text.push_str(&relative(root, &p.part));
        for input in &p.inputs {
            text.push('\t');
            text.push_str(&relative(root, input));
        }
        text.push('\n');
    }
    journal::write_list(root, PENDING, &text)
}

/// The renames are on disk before any input is removed.
fn sync_dirs(pending: &[Pending]) -> Result<(), WarehouseError> {
    let mut dirs: Vec<&Path> = pending.iter().filter_map(|p| p.part.parent()).collect();
    dirs.dedup();
    for dir in dirs {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    Ok(())
}

fn remove_inputs(part: &Path, inputs: &[PathBuf]) -> Result<(), WarehouseError> {
    for input in inputs.iter().filter(|i| i.as_path() != part) {
        match std::fs::remove_file(input) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(input)(e)),
            _ => {}
        }
    }
    Ok(())
}

/// Day folders of an earlier layout left empty go (a folder still holding a file stays).
fn remove_empty_day_folders<'a>(pending: impl Iterator<Item = &'a Pending>) {
    let mut folders: Vec<&Path> =
        pending.flat_map(|p| p.inputs.iter()).filter(|i| folder_date(i).is_some()).filter_map(|i| i.parent()).collect();
    folders.sort();
    folders.dedup();
    for folder in folders {
        let _ = std::fs::remove_dir(folder);
    }
}

/// Finishes a compaction a killed run left half done (see the module comment). A path in the
/// list is followed only to a Parquet file of the same table as its new file, inside `root`.
/// Returns the files removed.
pub fn recover(root: &Path) -> Result<Vec<PathBuf>, WarehouseError> {
    let Some(text) = journal::read_list(root, PENDING)? else { return Ok(Vec::new()) };
    let inside = |relative: &str| {
        let p = Path::new(relative);
        let ok = p.components().all(|c| matches!(c, std::path::Component::Normal(_)))
            && p.extension().is_some_and(|e| e == "parquet");
        ok.then(|| root.join(p))
    };
    let mut removed = Vec::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        let Some(part) = fields.next().and_then(inside) else { continue };
        if !part.exists() {
            continue; // never renamed into place: its inputs stand
        }
        for input in fields.filter_map(inside) {
            // A month's new file replaces files of its folder or of its days' folders.
            let table = |p: &Path| p.parent().and_then(Path::parent).map(Path::to_path_buf);
            if table(&input) == table(&part) && input != part && input.exists() {
                std::fs::remove_file(&input).map_err(io(&input))?;
                removed.push(input);
            }
        }
    }
    journal::remove_list(root, PENDING)?;
    Ok(removed)
}

/// The month folders of `table` under `root`, by name, with those an earlier layout's day
/// folders belong to (not yet made).
pub fn partitions(root: &Path, table: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join(table)) else { return Vec::new() };
    let month_prefix = format!("{}=", dated::REPORT_MONTH);
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&month_prefix) {
                Some(e.path())
            } else {
                name.strip_prefix(DAY_FOLDER).map(|d| root.join(table).join(dated::month_folder(d)))
            }
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Whether `table` still has day folders of an earlier layout.
pub fn has_day_folders(root: &Path, table: &str) -> bool {
    std::fs::read_dir(root.join(table))
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(DAY_FOLDER))
}

/// Maps 16 hex digits to the full sha256 among `shas`.
pub fn sha_lookup(shas: impl IntoIterator<Item = String>) -> HashMap<String, String> {
    shas.into_iter().map(|s| (short(&s).to_string(), s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_removes_only_the_old_files_of_part_files_in_place_in_their_own_table() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let x = root.join("t/report_month=2022-05");
        let day = root.join("t/report_date=2022-05-11");
        let y = root.join("u/report_month=2022-05");
        for d in [&x, &day, &y] {
            std::fs::create_dir_all(d).unwrap();
        }
        for f in [
            x.join("a.parquet"),
            x.join("b.parquet"),
            x.join("part-1.parquet"),
            day.join("c.parquet"),
            y.join("e.parquet"),
        ] {
            std::fs::write(f, b"x").unwrap();
        }
        std::fs::write(root.join("outside.parquet"), b"x").unwrap();
        let list = "t/report_month=2022-05/part-1.parquet\tt/report_month=2022-05/a.parquet\t../outside.parquet\t\
                    outside.parquet\tu/report_month=2022-05/e.parquet\tt/report_date=2022-05-11/c.parquet\t\
                    t/report_month=2022-05/part-1.parquet\n\
                    u/report_month=2022-05/part-2.parquet\tu/report_month=2022-05/e.parquet\n";
        std::fs::write(root.join(PENDING), list).unwrap();
        assert_eq!(recover(root).unwrap(), [x.join("a.parquet"), day.join("c.parquet")]);
        // A part file not in place (never renamed) leaves its inputs; nothing outside its table goes.
        for kept in [x.join("b.parquet"), x.join("part-1.parquet"), y.join("e.parquet"), root.join("outside.parquet")] {
            assert!(kept.exists(), "{}", kept.display());
        }
        assert!(!root.join(PENDING).exists());
        assert_eq!(recover(root).unwrap(), Vec::<PathBuf>::new());
    }

    #[test]
    fn day_folders_whose_files_disagree_on_a_type_still_move_into_their_month_file_by_file() {
        use arrow::array::Int64Array;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |day: &str, name: &str, column: ArrayRef| {
            let batch = RecordBatch::try_from_iter([("x", column)]).unwrap();
            let path = root.join("t").join(format!("{DAY_FOLDER}{day}")).join(name);
            parquet_io::write(&path, batch.schema(), &batch).unwrap();
        };
        write("2022-05-10", "aaaa.parquet", Arc::new(Int64Array::from(vec![1, 2])));
        write("2022-05-11", "bbbb.parquet", Arc::new(StringArray::from(vec!["1"])));
        let month = root.join("t/report_month=2022-05");
        assert_eq!(partitions(root, "t"), [month.clone()]);
        let done = compact(root, std::slice::from_ref(&month), &|_| None).unwrap();
        assert_eq!(done.conflicts.len(), 1, "{done:?}");
        assert_eq!((done.files_in, done.files_out), (2, 2));
        assert!(!has_day_folders(root, "t"), "the day folders are gone");
        for (name, day, rows) in
            [("2022-05-10-aaaa.parquet", "2022-05-10", 2), ("2022-05-11-bbbb.parquet", "2022-05-11", 1)]
        {
            let batches = parquet_io::read(&month.join(name), &[]).unwrap();
            let dates: Vec<_> = batches.iter().flat_map(dated::row_dates).map(|d| d.unwrap().to_string()).collect();
            assert_eq!(dates, vec![day.to_string(); rows], "{name}");
        }
        // Nothing left to do, and the files stay apart.
        assert_eq!(compact(root, &[month], &|_| None).unwrap().files_out, 0);
    }

    #[test]
    fn rows_sort_by_source_then_content_whatever_order_they_come_in() {
        use arrow::array::Int64Array;
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", arrow::datatypes::DataType::Utf8, true),
            Field::new("source_file", arrow::datatypes::DataType::Utf8, true),
            Field::new("source_row", arrow::datatypes::DataType::Int64, true),
        ]));
        let batch = |names: Vec<Option<&str>>, files: Vec<&str>, rows: Vec<i64>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(names)),
                    Arc::new(StringArray::from(files)),
                    Arc::new(Int64Array::from(rows)),
                ],
            )
            .unwrap()
        };
        let a = batch(vec![Some("乙"), None, Some("甲")], vec!["b.xlsx", "a.xlsx", "a.xlsx"], vec![4, 10, 9]);
        let b = batch(vec![Some("甲"), Some("乙"), None], vec!["a.xlsx", "b.xlsx", "a.xlsx"], vec![9, 4, 10]);
        let (a, b) = (sorted(&a).unwrap(), sorted(&b).unwrap());
        assert_eq!(a, b);
        let files = a.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        let rows = a.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
        let order: Vec<(&str, i64)> = (0..3).map(|i| (files.value(i), rows.value(i))).collect();
        assert_eq!(order, [("a.xlsx", 9), ("a.xlsx", 10), ("b.xlsx", 4)]);
    }
}

//! Merging a group of a year folder's files into one part (`compact`), holding a bounded part
//! of it at a time. Holding the whole group (every file's rows, concatenated, then sorted) cost
//! about two copies of it: 532 MiB closing a month into one district's year, 317 MiB for 4
//! districts' 35 days ingested in one call, and it grew with the city.
//!
//! The part's rows are in one total order: by their county, by the source columns
//! (`runs::SOURCE_ORDER`), then every other column, in the merged schema's order, nulls first.
//! Parts written by compaction are already in that order, so they are read as they are, a batch
//! at a time (a part of an earlier version, sorted by date first, is found out of order below). The other files (a
//! day's files from ingest, files of an earlier layout) are gathered up to `LIMITS.buffer_bytes`,
//! sorted, and kept as one sorted run, written to a temporary Arrow file when another follows.
//! Then the runs are merged, `LIMITS.max_runs` at a time, and the part is written in whole `CHUNK`s,
//! so that its bytes depend on its rows alone, not on how they were split into files and runs.
//!
//! A part is trusted to be sorted, and checked as it is read: one that is not (rows that tie
//! on the source columns, in a part whose columns came in another order) is found out, and the
//! merge begins again with that file sorted like the others.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, new_null_array};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::row::{OwnedRow, Rows};

use super::WarehouseError;
use super::compact::arrow_err;
use super::legacy;
use super::parquet_io::{self, CHUNK};
use super::runs::{Buffer, Order, READ_ROWS, Run, Spill, Temporary};
use super::tiers::{self, Kind};

/// How much a merge holds at once.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Unsorted rows gathered before they are sorted into a run (Arrow's count of their
    /// memory; their sort keys take about as much again while they are sorted).
    buffer_bytes: usize,
    /// Runs merged at once; more are merged into fewer first.
    max_runs: usize,
}

const LIMITS: Limits = Limits { buffer_bytes: 16 << 20, max_runs: 16 };

/// What merging a group gave.
pub(super) enum Merged {
    /// The part, under its temporary name, and its rows.
    Written { tmp: PathBuf, rows: u64 },
    /// The files disagree on this column's type: they are left apart.
    Conflict(String),
}

/// One input of a group.
struct Input {
    path: PathBuf,
    rows: u64,
    schema: SchemaRef,
    /// Written by compaction, so already in order (checked as it is read).
    sorted: bool,
}

/// Merges `files` of the year folder `dir` into one part written under the temporary name of
/// `template`. `sha_of`: see `compact::compact`.
pub(super) fn merge(
    dir: &Path,
    template: &Path,
    files: &[(PathBuf, u64)],
    sha_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Merged, WarehouseError> {
    merge_within(dir, template, files, sha_of, LIMITS)
}

fn merge_within(
    dir: &Path,
    template: &Path,
    files: &[(PathBuf, u64)],
    sha_of: &dyn Fn(&str) -> Option<String>,
    limits: Limits,
) -> Result<Merged, WarehouseError> {
    let mut inputs = Vec::new();
    for (path, _) in files {
        let rows = legacy::Rows::open(path, sha_of, READ_ROWS)?;
        let sorted = path.parent() == Some(dir) && matches!(tiers::kind_of(path), Kind::Open(_) | Kind::Year);
        inputs.push(Input { path: path.clone(), rows: rows.rows, schema: rows.schema, sorted });
    }
    let schema = match union(&inputs) {
        Ok(schema) => schema,
        Err(column) => return Ok(Merged::Conflict(column)),
    };
    let order = Order::new(&schema).map_err(arrow_err(dir))?;
    let rows: u64 = inputs.iter().map(|i| i.rows).sum();
    loop {
        match attempt(dir, template, &inputs, &schema, &order, rows, sha_of, limits)? {
            Ok(tmp) => return Ok(Merged::Written { tmp, rows }),
            // Not in order after all: sorted like the other files this time.
            Err(input) => inputs[input].sorted = false,
        }
    }
}

/// The union of the inputs' columns, in order of first appearance (files by name), each
/// nullable (a column some files lack is null in their rows); or the column whose type they
/// disagree on. Files without rows add no columns.
fn union(inputs: &[Input]) -> Result<SchemaRef, String> {
    let mut fields: Vec<Arc<Field>> = Vec::new();
    for input in inputs.iter().filter(|i| i.rows > 0) {
        for field in input.schema.fields() {
            match fields.iter().find(|f| f.name() == field.name()) {
                None => fields.push(Arc::new(field.as_ref().clone().with_nullable(true))),
                Some(f) if f.data_type() != field.data_type() => return Err(field.name().clone()),
                Some(_) => {}
            }
        }
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// `batch` in `schema`: its columns in the schema's order, null where it lacks one.
fn conform(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, arrow::error::ArrowError> {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| {
            batch.column_by_name(f.name()).cloned().unwrap_or_else(|| new_null_array(f.data_type(), batch.num_rows()))
        })
        .collect();
    RecordBatch::try_new(schema.clone(), columns)
}

/// One try at the merge: the part's temporary path, or the input found out of order.
#[allow(clippy::too_many_arguments)]
fn attempt(
    dir: &Path,
    template: &Path,
    inputs: &[Input],
    schema: &SchemaRef,
    order: &Order,
    rows: u64,
    sha_of: &dyn Fn(&str) -> Option<String>,
    limits: Limits,
) -> Result<Result<PathBuf, usize>, WarehouseError> {
    let mut runs = Vec::new();
    let mut spills = Vec::new();
    // Spills are numbered by when they were made: a name is never used twice in one merge.
    let mut made = 0;
    let mut name = || {
        made += 1;
        made
    };
    let mut buffer = Buffer::default();
    for (n, input) in inputs.iter().enumerate().filter(|(_, i)| i.rows > 0) {
        let read = legacy::Rows::open(&input.path, sha_of, READ_ROWS)?;
        let path = input.path.clone();
        let target = schema.clone();
        let batches = read.batches.map(move |b| b.and_then(|b| conform(b, &target).map_err(arrow_err(&path))));
        if input.sorted && runs.len() < limits.max_runs / 2 {
            runs.push(Run { batches: Box::new(batches), input: Some(n) });
            continue;
        }
        for batch in batches {
            buffer.push(batch?);
            if buffer.bytes >= limits.buffer_bytes {
                let sorted = std::mem::take(&mut buffer).sorted(order, dir).map_err(arrow_err(&input.path))?;
                spills.push(Spill::of(dir, name(), schema, sorted)?);
            }
        }
    }
    if buffer.rows > 0 {
        runs.push(Run { batches: Box::new(buffer.sorted(order, dir).map_err(arrow_err(dir))?), input: None });
    }
    // Too many runs for one merge: the first spills are merged into one, until few enough are left.
    while spills.len() + runs.len() > limits.max_runs {
        let take = (spills.len() + runs.len() - limits.max_runs + 1).min(limits.max_runs);
        let merged: Vec<Run> = spills.drain(..take).map(Spill::run).collect::<Result<_, _>>()?;
        let mut sink = Spill::create(dir, name(), schema)?;
        merged_into(merged, order, dir, &mut |b| sink.write(b))?.map_err(|_| spilled_out_of_order(dir))?;
        spills.push(sink.finish()?);
    }
    for spill in spills {
        runs.push(spill.run()?);
    }
    let (tmp, mut writer) = parquet_io::create_part(template, schema, rows as usize)?;
    let guard = Temporary(tmp.clone());
    let parquet = |source| WarehouseError::Parquet { path: tmp.clone(), source };
    if let Err(input) = merged_into(runs, order, dir, &mut |b| writer.write(b).map_err(parquet))? {
        return Ok(Err(input));
    }
    writer.into_inner().close().map_err(parquet)?;
    Ok(Ok(guard.keep()))
}

fn spilled_out_of_order(dir: &Path) -> WarehouseError {
    let source = arrow::error::ArrowError::ComputeError("a sorted run came out of order".into());
    WarehouseError::Arrow { path: dir.to_path_buf(), source }
}

/// A run being merged: its current batch, that batch's sort keys, the next row, and where the
/// batch is among those the chunk being gathered takes rows from.
struct Cursor {
    run: Run,
    batch: RecordBatch,
    keys: Rows,
    pos: usize,
    slot: Option<usize>,
}

/// A run found out of order: the input it reads, or none for a run this module sorted (a bug).
type OutOfOrder = Option<usize>;

impl Cursor {
    /// The run at its first row; none if it has no rows.
    fn start(mut run: Run, order: &Order, dir: &Path) -> Result<Option<Cursor>, WarehouseError> {
        for batch in run.batches.by_ref() {
            let batch = batch?;
            if batch.num_rows() > 0 {
                let keys = order.keys(&batch).map_err(arrow_err(dir))?;
                return Ok(Some(Cursor { run, batch, keys, pos: 0, slot: None }));
            }
        }
        Ok(None)
    }

    /// Moves past the current row: whether the run has rows left, or that it is out of order.
    fn advance(&mut self, order: &Order, dir: &Path) -> Result<Result<bool, OutOfOrder>, WarehouseError> {
        self.pos += 1;
        if self.pos < self.batch.num_rows() {
            let in_order = self.keys.row(self.pos - 1) <= self.keys.row(self.pos);
            return Ok(if in_order { Ok(true) } else { Err(self.run.input) });
        }
        let last: OwnedRow = self.keys.row(self.pos - 1).owned();
        for batch in self.run.batches.by_ref() {
            let batch = batch?;
            if batch.num_rows() == 0 {
                continue;
            }
            self.keys = order.keys(&batch).map_err(arrow_err(dir))?;
            self.batch = batch;
            self.pos = 0;
            self.slot = None;
            return Ok(if last.row() <= self.keys.row(0) { Ok(true) } else { Err(self.run.input) });
        }
        Ok(Ok(false))
    }
}

/// Merges sorted `runs` into `sink`, in whole `CHUNK`s (the last one shorter); or names the
/// input found out of order.
fn merged_into(
    runs: Vec<Run>,
    order: &Order,
    dir: &Path,
    sink: &mut dyn FnMut(&RecordBatch) -> Result<(), WarehouseError>,
) -> Result<Result<(), usize>, WarehouseError> {
    let mut cursors = Vec::new();
    for run in runs {
        cursors.extend(Cursor::start(run, order, dir)?);
    }
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut chunk: Vec<(usize, usize)> = Vec::with_capacity(CHUNK);
    let mut emit = |batches: &mut Vec<RecordBatch>, chunk: &mut Vec<(usize, usize)>| {
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        let out = arrow::compute::interleave_record_batch(&refs, chunk).map_err(arrow_err(dir))?;
        batches.clear();
        chunk.clear();
        sink(&out)
    };
    while !cursors.is_empty() {
        let mut min = 0;
        for i in 1..cursors.len() {
            if cursors[i].keys.row(cursors[i].pos) < cursors[min].keys.row(cursors[min].pos) {
                min = i;
            }
        }
        let cursor = &mut cursors[min];
        let slot = match cursor.slot {
            Some(slot) => slot,
            None => {
                batches.push(cursor.batch.clone());
                cursor.slot = Some(batches.len() - 1);
                batches.len() - 1
            }
        };
        chunk.push((slot, cursor.pos));
        match cursor.advance(order, dir)? {
            Ok(true) => {}
            Ok(false) => {
                cursors.remove(min);
            }
            Err(Some(input)) => return Ok(Err(input)),
            Err(None) => return Err(spilled_out_of_order(dir)),
        }
        if chunk.len() == CHUNK {
            emit(&mut batches, &mut chunk)?;
            cursors.iter_mut().for_each(|c| c.slot = None);
        }
    }
    if !chunk.is_empty() {
        emit(&mut batches, &mut chunk)?;
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::columns::SOURCE_SHA;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::DataType;

    fn batch(names: &[Option<&str>], files: &[&str], rows: &[i64]) -> RecordBatch {
        RecordBatch::try_from_iter([
            ("name", Arc::new(StringArray::from(names.to_vec())) as ArrayRef),
            ("source_file", Arc::new(StringArray::from(files.to_vec()))),
            (SOURCE_SHA, Arc::new(StringArray::from(vec!["0"; rows.len()]))),
            ("source_row", Arc::new(Int64Array::from(rows.to_vec()))),
        ])
        .unwrap()
    }

    /// Merges the files into a part and returns its bytes, the part removed.
    fn merged(dir: &Path, files: &[PathBuf], limits: Limits) -> Vec<u8> {
        let files: Vec<(PathBuf, u64)> = files.iter().map(|p| (p.clone(), 0)).collect();
        let Merged::Written { tmp, .. } =
            merge_within(dir, &dir.join("part-x.parquet"), &files, &|_| None, limits).unwrap()
        else {
            panic!("no conflict here")
        };
        let bytes = std::fs::read(&tmp).unwrap();
        std::fs::remove_file(tmp).unwrap();
        bytes
    }

    fn rows_of(bytes: Vec<u8>) -> Vec<(Option<String>, String, i64)> {
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap();
        let mut out = Vec::new();
        for b in reader.build().unwrap() {
            let b = b.unwrap();
            let text = |c: &str| b.column_by_name(c).unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
            let (names, files) = (text("name"), text("source_file"));
            let rows = b.column_by_name("source_row").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().clone();
            for i in 0..b.num_rows() {
                let name = (!arrow::array::Array::is_null(&names, i)).then(|| names.value(i).to_string());
                out.push((name, files.value(i).to_string(), rows.value(i)));
            }
        }
        out
    }

    #[test]
    fn rows_sort_by_source_then_content_whatever_files_they_come_in() {
        let dir = tempfile::tempdir().unwrap();
        let year = dir.path().join("t/report_year=2022");
        let write = |name: &str, b: RecordBatch| {
            let path = year.join(name);
            parquet_io::write(&path, b.schema(), &b).unwrap();
            path
        };
        let a = write(
            "2022-05-01-a.parquet",
            batch(&[Some("乙"), None, Some("甲")], &["b.xlsx", "a.xlsx", "a.xlsx"], &[4, 10, 9]),
        );
        let b = write(
            "2022-05-02-b.parquet",
            batch(&[Some("甲"), Some("乙"), None], &["a.xlsx", "b.xlsx", "a.xlsx"], &[9, 4, 10]),
        );
        let rows = rows_of(merged(&year, &[a.clone()], LIMITS));
        let files: Vec<(&str, i64)> = rows.iter().map(|(_, f, r)| (f.as_str(), *r)).collect();
        assert_eq!(files, [("a.xlsx", 9), ("a.xlsx", 10), ("b.xlsx", 4)]);
        assert_eq!(merged(&year, &[a.clone()], LIMITS), merged(&year, &[b.clone()], LIMITS));
        // Rows tying on their source are ordered by the rest, nulls first.
        let both = rows_of(merged(&year, &[a, b], LIMITS));
        let names: Vec<Option<&str>> = both.iter().map(|(n, _, _)| n.as_deref()).collect();
        assert_eq!(names, [Some("甲"), Some("甲"), None, None, Some("乙"), Some("乙")]);
    }

    #[test]
    fn a_table_with_codes_is_sorted_by_county_before_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let year = dir.path().join("t/report_year=2022");
        let day = |name: &str, grids: &[Option<&str>], files: &[&str]| {
            let b = RecordBatch::try_from_iter([
                ("grid_code", Arc::new(StringArray::from(grids.to_vec())) as ArrayRef),
                ("source_file", Arc::new(StringArray::from(files.to_vec()))),
                (SOURCE_SHA, Arc::new(StringArray::from(vec!["0"; files.len()]))),
            ])
            .unwrap();
            let path = year.join(name);
            parquet_io::write(&path, b.schema(), &b).unwrap();
            path
        };
        let a = day("2022-05-01-a.parquet", &[Some("130203001"), Some("130202001"), None], &["a", "b", "c"]);
        let b = day("2022-05-02-b.parquet", &[Some("130202002"), Some("130203002")], &["a", "b"]);
        let bytes = bytes::Bytes::from(merged(&year, &[a, b], LIMITS));
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let batch = reader.build().unwrap().next().unwrap().unwrap();
        let grids = batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let valid = |i| !arrow::array::Array::is_null(grids, i);
        let grids: Vec<Option<&str>> = (0..batch.num_rows()).map(|i| valid(i).then(|| grids.value(i))).collect();
        // No county first, then each county's rows by their source.
        assert_eq!(grids, [None, Some("130202002"), Some("130202001"), Some("130203001"), Some("130203002")]);
    }

    /// Days of rows from many sources, each day's file in no order, with a column that only
    /// later files have (null in the earlier files' rows).
    fn days(year: &Path, n: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|day| {
                let rows: Vec<i64> = (0..300).map(|i| ((i * 7919 + day * 31) % 300) as i64).collect();
                let files: Vec<String> = rows.iter().map(|r| format!("f{}.xlsx", (r + day as i64) % 5)).collect();
                let mut columns: Vec<(&str, ArrayRef)> = vec![
                    (SOURCE_SHA, Arc::new(StringArray::from(files.clone()))),
                    ("source_file", Arc::new(StringArray::from(files))),
                    ("source_row", Arc::new(Int64Array::from(rows.clone()))),
                    (
                        "name",
                        Arc::new(StringArray::from(rows.iter().map(|r| Some(format!("n{r}"))).collect::<Vec<_>>())),
                    ),
                ];
                if day >= n / 2 {
                    columns.push(("late", Arc::new(Int64Array::from(vec![day as i64; 300]))));
                }
                let b = RecordBatch::try_from_iter(columns).unwrap();
                let path = year.join(format!("2022-05-{:02}-{day:016x}.parquet", day + 1));
                parquet_io::write(&path, b.schema(), &b).unwrap();
                path
            })
            .collect()
    }

    #[test]
    fn spilling_and_merging_in_several_passes_give_the_bytes_of_one_sort_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let year = dir.path().join("t/report_year=2022");
        let files = days(&year, 24);
        let whole = merged(&year, &files, LIMITS);
        // A run per file's batch, merged three at a time: several passes through spills.
        let tight = merged(&year, &files, Limits { buffer_bytes: 1, max_runs: 3 });
        assert!(whole == tight, "the same rows gave other bytes");
        let rows = rows_of(whole);
        assert_eq!(rows.len(), 24 * 300);
        assert!(rows.windows(2).all(|w| (&w[0].1, w[0].2) <= (&w[1].1, w[1].2)), "by source file, then row");
        // The spills are gone; only the inputs are left.
        let mut names: Vec<String> =
            std::fs::read_dir(&year).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.retain(|n| !n.starts_with("2022-05-"));
        assert_eq!(names, Vec::<String>::new());
        let late = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(tight))
            .unwrap()
            .schema()
            .field_with_name("late")
            .map(|f| f.data_type().clone());
        assert_eq!(late.unwrap(), DataType::Int64);
    }

    #[test]
    fn a_part_found_out_of_order_is_sorted_like_any_other_file() {
        let dir = tempfile::tempdir().unwrap();
        let year = dir.path().join("t/report_year=2022");
        let files = days(&year, 4);
        let expected = merged(&year, &files, LIMITS);
        // The first two days' rows, unsorted, under the name of the open month's part.
        let mut inputs = files[2..].to_vec();
        let rows: Vec<RecordBatch> = files[..2].iter().flat_map(|p| parquet_io::read(p, &[]).unwrap()).collect();
        let schema = rows[0].schema();
        let part = year.join(tiers::part_name(Some("2022-05"), &"0".repeat(64)));
        let all = arrow::compute::concat_batches(&schema, &rows).unwrap();
        parquet_io::write(&part, schema, &all).unwrap();
        inputs.insert(0, part);
        assert!(merged(&year, &inputs, LIMITS) == expected, "a part out of order was merged as if sorted");
    }
}

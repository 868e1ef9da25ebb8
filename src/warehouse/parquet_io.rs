//! Writing and reading Parquet files, written under a temporary name and renamed into place so
//! that a reader never sees half a file. Large files are compressed with zstd; small ones (most
//! files: one community's sheet of a day, a day's mart) are not, because reading thousands of
//! them spent its time creating a zstd context per column chunk, not reading data (profiled:
//! context setup and its allocations were a third of a 30-day pipeline run).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::WarehouseError;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WarehouseError + '_ {
    move |source| WarehouseError::Io { path: path.to_path_buf(), source }
}

fn pq(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> WarehouseError + '_ {
    move |source| WarehouseError::Parquet { path: path.to_path_buf(), source }
}

/// Files with fewer rows than this are written uncompressed (see the module comment).
const COMPRESS_FROM_ROWS: usize = 5_000;

/// Columns with a value of their own on (nearly) every row. A dictionary of them only costs:
/// interning each value before the dictionary overflows and the writer falls back to plain
/// values took a tenth of ingesting a 200,000-row sheet.
fn one_value_per_row(column: &str) -> bool {
    matches!(column, "person_key" | "id_masked" | "row_key" | "source_row") || column.ends_with("_masked")
}

fn properties(schema: &Schema, compression: Compression, row_group_rows: Option<usize>) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(compression)
        .set_created_by(format!("wangge {}", env!("CARGO_PKG_VERSION")));
    for field in schema.fields().iter().filter(|f| one_value_per_row(f.name())) {
        let column = ColumnPath::from(field.name().as_str());
        builder = builder.set_column_dictionary_enabled(column.clone(), false);
        // Nor min/max statistics for the text ones: nobody filters on a range of hashes or
        // masked numbers, and comparing every value to find them is not free.
        if field.data_type() == &arrow::datatypes::DataType::Utf8 {
            builder = builder.set_column_statistics_enabled(column, EnabledStatistics::None);
        }
    }
    match row_group_rows {
        Some(rows) => builder.set_max_row_group_row_count(Some(rows)).build(),
        None => builder.build(),
    }
}

/// The zstd level of the warehouse's files, which analysts read for years.
const ZSTD_LEVEL: i32 = 3;

/// The zstd level of a pipeline's marts: rewritten every day and read by the day's steps and
/// reports, they are written for speed. On a year of the sample, level 1 wrote the 61,532
/// keys of `stg_returnees_seen` in 25 ms against level 3's 45 ms, and in fewer bytes (hashes
/// give level 3's search nothing to find); LZ4 and Snappy did not compress them at all.
const MART_ZSTD_LEVEL: i32 = 1;

fn zstd(level: i32) -> Compression {
    Compression::ZSTD(ZstdLevel::try_new(level).expect("valid zstd level"))
}

/// Writes a batch to `path` atomically (temporary name in the same folder, then rename), on
/// disk before it returns.
pub fn write(path: &Path, schema: Arc<Schema>, batch: &RecordBatch) -> Result<(), WarehouseError> {
    write_file(path, schema, batch, true, ZSTD_LEVEL)
}

/// `write`, for a pipeline's mart (see `MART_ZSTD_LEVEL`).
pub fn write_mart(path: &Path, schema: Arc<Schema>, batch: &RecordBatch) -> Result<(), WarehouseError> {
    write_file(path, schema, batch, true, MART_ZSTD_LEVEL)
}

/// `write`, without waiting for the disk: for the hundreds of files of one ingest, which
/// `sync_written` makes durable together before the ledger counts them. (Waiting for each
/// file was a quarter of ingesting the sample district.)
pub fn write_unsynced(path: &Path, schema: Arc<Schema>, batch: &RecordBatch) -> Result<(), WarehouseError> {
    write_file(path, schema, batch, false, ZSTD_LEVEL)
}

fn write_file(
    path: &Path,
    schema: Arc<Schema>,
    batch: &RecordBatch,
    sync: bool,
    level: i32,
) -> Result<(), WarehouseError> {
    let dir = path.parent().expect("warehouse files live in a folder");
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp: PathBuf = crate::atomic_file::temporary_name(path);
    let file = File::create(&tmp).map_err(io(&tmp))?;
    let compression = if batch.num_rows() < COMPRESS_FROM_ROWS { Compression::UNCOMPRESSED } else { zstd(level) };
    let properties = properties(&schema, compression, None);
    let mut writer = ArrowWriter::try_new(file, schema, Some(properties)).map_err(pq(&tmp))?;
    writer.write(batch).map_err(pq(&tmp))?;
    let file = writer.into_inner().map_err(pq(&tmp))?;
    if sync {
        file.sync_all().map_err(io(&tmp))?;
    }
    drop(file);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    crate::failpoint::hit("warehouse.file");
    Ok(())
}

/// Writes a batch to the temporary name of `path` and leaves it there, not synced (see
/// `sync_written`): for a file whose final name is known only from its bytes (`compact`).
pub fn write_temporary(path: &Path, schema: Arc<Schema>, batch: &RecordBatch) -> Result<PathBuf, WarehouseError> {
    let tmp = crate::atomic_file::temporary_name(path);
    let dir = path.parent().expect("warehouse files live in a folder");
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let file = File::create(&tmp).map_err(io(&tmp))?;
    let compression = if batch.num_rows() < COMPRESS_FROM_ROWS { Compression::UNCOMPRESSED } else { zstd(ZSTD_LEVEL) };
    let properties = properties(&schema, compression, Some(ROW_GROUP_ROWS));
    let mut writer = ArrowWriter::try_new(file, schema, Some(properties)).map_err(pq(&tmp))?;
    writer.write(batch).map_err(pq(&tmp))?;
    writer.into_inner().map_err(pq(&tmp))?;
    Ok(tmp)
}

/// Row groups of a compacted file: big enough that a year of a table is a few hundred of them,
/// small enough that a reader skips most by their statistics.
const ROW_GROUP_ROWS: usize = 131_072;

/// Whether `path` is a finished Parquet file, not a temporary one that `write` (or a killed
/// run) left under a hidden name: the files a table is read from.
pub fn is_finished(path: &Path) -> bool {
    let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
    path.extension().is_some_and(|e| e == "parquet") && !hidden
}

/// Makes files written by `write_unsynced` (or put in place by `put_in_place`) under `root`
/// durable: on Linux one `syncfs` of the filesystem holding `root` (its contents and the
/// renames), elsewhere, or if that fails, each file's own fsync.
pub fn sync_written(root: &Path, written: &[PathBuf]) -> Result<(), WarehouseError> {
    if written.is_empty() {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let dir = File::open(root).map_err(io(root))?;
        // SAFETY: `syncfs` only reads the descriptor, which `dir` keeps open for the call.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } == 0 {
            return Ok(());
        }
    }
    for path in written {
        File::open(path).and_then(|f| f.sync_all()).map_err(io(path))?;
    }
    Ok(())
}

/// Opens a zstd writer for `path` under its temporary name, for a file filled batch by batch
/// (a large sheet's rows): row groups of `row_group_rows`, zstd level 1, which encodes while
/// the sheet is still being read at a fraction of level 3's cost (and, on 200,000 returnee
/// rows, made a file 3% smaller). Returns the temporary path.
pub fn create(
    path: &Path,
    schema: Arc<Schema>,
    row_group_rows: usize,
) -> Result<(PathBuf, ArrowWriter<File>), WarehouseError> {
    let dir = path.parent().expect("warehouse files live in a folder");
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp: PathBuf = crate::atomic_file::temporary_name(path);
    let file = File::create(&tmp).map_err(io(&tmp))?;
    let level1 = Compression::ZSTD(ZstdLevel::try_new(1).expect("valid zstd level"));
    let properties = properties(&schema, level1, Some(row_group_rows));
    let writer = ArrowWriter::try_new(file, schema, Some(properties)).map_err(pq(&tmp))?;
    Ok((tmp, writer))
}

/// Puts a file written by `create` in place.
pub fn put_in_place(tmp: &Path, path: &Path) -> Result<(), WarehouseError> {
    std::fs::rename(tmp, path).map_err(io(path))?;
    crate::failpoint::hit("warehouse.file");
    Ok(())
}

/// Reads the named columns of a Parquet file (all of them when `columns` is empty).
pub fn read(path: &Path, columns: &[&str]) -> Result<Vec<RecordBatch>, WarehouseError> {
    let file = File::open(path).map_err(io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq(path))?;
    let builder = if columns.is_empty() {
        builder
    } else {
        let schema = builder.parquet_schema();
        let indices: Vec<usize> =
            (0..schema.num_columns()).filter(|i| columns.contains(&schema.column(*i).name())).collect();
        let mask = ProjectionMask::leaves(schema, indices);
        builder.with_projection(mask)
    };
    let reader = builder.build().map_err(pq(path))?;
    reader.collect::<Result<Vec<_>, _>>().map_err(|e| WarehouseError::Arrow { path: path.to_path_buf(), source: e })
}

//! Writing and reading Parquet files, written under a temporary name and renamed into place so
//! that a reader never sees half a file. Large files are compressed with zstd; small ones (most
//! files: one community's sheet of a day, a day's mart) are not, because reading thousands of
//! them spent its time creating a zstd context per column chunk, not reading data (profiled:
//! context setup and its allocations were a third of a 30-day pipeline run).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::Schema;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::WarehouseError;
use super::by_county::ByCounty;
pub use super::by_county::Span;

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

/// The compression of a file of `rows` rows: none under `COMPRESS_FROM_ROWS`, zstd at `level`.
fn compression_for(rows: usize, level: i32) -> Compression {
    if rows < COMPRESS_FROM_ROWS { Compression::UNCOMPRESSED } else { zstd(level) }
}

/// Writes a batch to `path` atomically (temporary name in the same folder, then rename), on
/// disk before it returns.
pub fn write(path: &Path, schema: Arc<Schema>, batch: &RecordBatch) -> Result<(), WarehouseError> {
    write_file(path, schema, batch, true, ZSTD_LEVEL)
}

/// A pipeline's mart (see `MART_ZSTD_LEVEL`), written from its batches as the engine gives
/// them, atomically and on disk when `finish` returns. Holding a step's whole result to write
/// it in one call held it three times (the engine's batches, their text recast, and one
/// concatenation), a cost that grows with the city: a mart is held a chunk at a time instead.
/// (On the 14-district city's `headline` alone, 94,284 rows, the step's peak went from
/// 152-159 to 151-155 MB: its sort, which holds every row, is most of it.)
///
/// The bytes depend on the rows alone, not on how the engine batched them: the writer gets
/// whole `MART_CHUNK`s (the parquet writer lays out pages by the calls it gets: a call whose
/// values of a column are all null or all present is written in larger mini-batches), and the
/// compression is chosen as `write` chooses it, once `COMPRESS_FROM_ROWS` rows are seen. A
/// mart under `COMPRESS_FROM_ROWS` rows is one call, as before. Its rows come county by county
/// (`sql::run` sorts them so), and its row groups hold a county at a time (`ByCounty`).
pub struct MartWriter {
    path: PathBuf,
    tmp: PathBuf,
    schema: Arc<Schema>,
    held: std::collections::VecDeque<RecordBatch>,
    held_rows: usize,
    writer: Option<ArrowWriter<File>>,
    groups: ByCounty,
    rows: usize,
    /// On disk when `finish` returns; not for a file read back in the same run and removed.
    durable: bool,
}

/// Rows per call to the writer (see `MartWriter`): the engine's batch size, a whole number of
/// the writer's mini-batches and of its row group.
pub const CHUNK: usize = 8 * parquet::file::properties::DEFAULT_WRITE_BATCH_SIZE;
const _: () = assert!(parquet::file::properties::DEFAULT_MAX_ROW_GROUP_ROW_COUNT % CHUNK == 0);
const _: () = assert!(ROW_GROUP_ROWS % CHUNK == 0);

/// Rows per call to a mart's writer (see `MartWriter`): one of the writer's mini-batches. A
/// chunk put together from several batches is held twice while it is (the pieces and their
/// concatenation), beside the writer's own buffers: in chunks of `CHUNK` rows, that was the
/// heap's peak of a 14-district city's pipeline under a budget of 8 MiB (its split steps'
/// parts, read back and concatenated into the mart: 4.2 MiB of rows held, 2.8 of writer).
pub const MART_CHUNK: usize = parquet::file::properties::DEFAULT_WRITE_BATCH_SIZE;
const _: () = assert!(CHUNK % MART_CHUNK == 0);

impl MartWriter {
    pub fn new(path: &Path, schema: Arc<Schema>) -> MartWriter {
        let tmp = crate::atomic_file::temporary_name(path);
        MartWriter {
            path: path.to_path_buf(),
            tmp,
            schema,
            held: Default::default(),
            held_rows: 0,
            writer: None,
            groups: ByCounty::bounded(),
            rows: 0,
            durable: true,
        }
    }

    /// A file read back in the same run and then removed (a part of a split step): not waited
    /// for on disk, as nothing outlives the run. (On this machine's disk the 135 waits of a
    /// 14-district city's split steps cost no measurable time; on a slow disk each is one.)
    /// Its row groups end at every change of county (`ByCounty::scratch`).
    pub fn scratch(path: &Path, schema: Arc<Schema>) -> MartWriter {
        let mut writer = MartWriter::new(path, schema);
        writer.durable = false;
        writer.groups = ByCounty::scratch();
        writer
    }

    /// A scratch file of rows in no order (a step's rows before they are sorted: `sql::sorting`):
    /// its groups are a mart's, as ending one at every change of county would cut rows in no
    /// order into groups of a few rows.
    pub fn unsorted_scratch(path: &Path, schema: Arc<Schema>) -> MartWriter {
        let mut writer = MartWriter::new(path, schema);
        writer.durable = false;
        writer
    }

    pub fn write(&mut self, batch: RecordBatch) -> Result<(), WarehouseError> {
        self.rows += batch.num_rows();
        self.held_rows += batch.num_rows();
        self.held.push_back(batch);
        if self.writer.is_none() && self.held_rows >= COMPRESS_FROM_ROWS {
            self.writer = Some(self.open()?);
        }
        while self.writer.is_some() && self.held_rows >= MART_CHUNK {
            let chunk = self.take(MART_CHUNK)?;
            self.put(&chunk)?;
        }
        Ok(())
    }

    /// The county keys of the first and last row given (`crate::county`), if it has code
    /// columns and rows.
    pub fn span(&self) -> Option<Span> {
        let key = |batch: &RecordBatch, row: usize| {
            let keys = crate::county::keys(&batch.slice(row, 1))?;
            Some(keys.is_valid(0).then(|| keys.value(0).to_string()))
        };
        let first = match &self.groups.first {
            Some(first) => first.clone(),
            None => key(self.held.iter().find(|b| b.num_rows() > 0)?, 0)?,
        };
        let last = match self.held.iter().rev().find(|b| b.num_rows() > 0) {
            Some(batch) => key(batch, batch.num_rows() - 1)?,
            None => self.groups.last.clone()?,
        };
        Some((first, last))
    }

    /// Writes what is held, and puts the file in place. Returns its rows.
    pub fn finish(mut self) -> Result<usize, WarehouseError> {
        if self.writer.is_none() {
            // Fewer rows than COMPRESS_FROM_ROWS in all (an empty mart too): one call, as `write`.
            self.writer = Some(self.open()?);
        }
        let rest = self.take(self.held_rows)?;
        self.put(&rest)?;
        let writer = self.writer.take().expect("opened above");
        close_in_place(writer, &self.tmp, &self.path, self.durable)?;
        Ok(self.rows)
    }

    fn open(&self) -> Result<ArrowWriter<File>, WarehouseError> {
        // A scratch file is not compressed: each column chunk read of a zstd file makes a
        // compression context and a decompression context (parquet's codec holds both), and a
        // split step reads its parts a county at a time.
        let compression = match self.durable {
            true => compression_for(self.held_rows, MART_ZSTD_LEVEL),
            false => Compression::UNCOMPRESSED,
        };
        open_temporary(&self.path, &self.tmp, &self.schema, properties(&self.schema, compression, None))
    }

    /// The first `n` rows held, as one batch.
    fn take(&mut self, n: usize) -> Result<RecordBatch, WarehouseError> {
        let mut parts = Vec::new();
        let mut left = n;
        while left > 0 {
            let first = &self.held[0];
            if first.num_rows() <= left {
                left -= first.num_rows();
                parts.extend(self.held.pop_front());
            } else {
                parts.push(first.slice(0, left));
                self.held[0] = first.slice(left, first.num_rows() - left);
                left = 0;
            }
        }
        self.held_rows -= n;
        arrow::compute::concat_batches(&self.schema, &parts)
            .map_err(|source| WarehouseError::Arrow { path: self.tmp.clone(), source })
    }

    fn put(&mut self, batch: &RecordBatch) -> Result<(), WarehouseError> {
        let writer = self.writer.as_mut().expect("opened before rows are put");
        self.groups.write(writer, batch).map_err(pq(&self.tmp))
    }
}

impl Drop for MartWriter {
    /// A mart given up on (its step failed) leaves no temporary file behind.
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
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
    let tmp: PathBuf = crate::atomic_file::temporary_name(path);
    let compression = compression_for(batch.num_rows(), level);
    let mut writer = open_temporary(path, &tmp, &schema, properties(&schema, compression, None))?;
    writer.write(batch).map_err(pq(&tmp))?;
    close_in_place(writer, &tmp, path, sync)
}

/// A writer of `path`'s temporary name `tmp`, its folder made if need be.
fn open_temporary(
    path: &Path,
    tmp: &Path,
    schema: &Arc<Schema>,
    properties: WriterProperties,
) -> Result<ArrowWriter<File>, WarehouseError> {
    let dir = path.parent().expect("warehouse files live in a folder");
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let file = File::create(tmp).map_err(io(tmp))?;
    ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(pq(tmp))
}

/// Closes a writer of `tmp` and puts the file in place as `path` (on disk first when `sync`).
pub(super) fn close_in_place(
    writer: ArrowWriter<File>,
    tmp: &Path,
    path: &Path,
    sync: bool,
) -> Result<(), WarehouseError> {
    let file = writer.into_inner().map_err(pq(tmp))?;
    if sync {
        file.sync_all().map_err(io(tmp))?;
    }
    drop(file);
    put_in_place(tmp, path)
}

/// Opens a writer of a warehouse file of `rows` rows rewritten a batch at a time (a compacted
/// part, a part that lost a corrected sheet's rows) under the temporary name of `path`: zstd
/// from `COMPRESS_FROM_ROWS` rows, row groups of `ROW_GROUP_ROWS`. A compacted part is left
/// there unsynced when it is closed (see `sync_written`): its final name is known only from its
/// bytes (`compact`), and its rows come in whole `CHUNK`s (see `MartWriter`), so that its bytes
/// depend on its rows alone.
pub fn create_part(path: &Path, schema: &Arc<Schema>, rows: usize) -> Result<(PathBuf, PartWriter), WarehouseError> {
    let tmp = crate::atomic_file::temporary_name(path);
    let properties = properties(schema, compression_for(rows, ZSTD_LEVEL), Some(ROW_GROUP_ROWS));
    let writer = open_temporary(path, &tmp, schema, properties)?;
    Ok((tmp, PartWriter { writer, groups: ByCounty::default() }))
}

/// A writer of a warehouse part, whose row groups hold a county at a time (`ByCounty`).
pub struct PartWriter {
    writer: ArrowWriter<File>,
    groups: ByCounty,
}

impl PartWriter {
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), parquet::errors::ParquetError> {
        self.groups.write(&mut self.writer, batch)
    }

    /// The writer, to be closed.
    pub fn into_inner(self) -> ArrowWriter<File> {
        self.writer
    }
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
    let tmp: PathBuf = crate::atomic_file::temporary_name(path);
    let properties = properties(&schema, zstd(1), Some(row_group_rows));
    let writer = open_temporary(path, &tmp, &schema, properties)?;
    Ok((tmp, writer))
}

/// Puts a file written by `create` in place.
pub fn put_in_place(tmp: &Path, path: &Path) -> Result<(), WarehouseError> {
    std::fs::rename(tmp, path).map_err(io(path))?;
    crate::failpoint::hit("warehouse.file");
    Ok(())
}

/// A reader of a Parquet file's rows, `batch_rows` at a time.
pub fn reader(
    path: &Path,
    batch_rows: usize,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, WarehouseError> {
    let file = File::open(path).map_err(io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq(path))?;
    builder.with_batch_size(batch_rows).build().map_err(pq(path))
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field};

    /// `n` rows whose text column is null in runs (the shape that makes the parquet writer's
    /// layout depend on the calls it gets) and a number on every row.
    fn rows(n: usize) -> (Arc<Schema>, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("code", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
        ]));
        let code: StringArray = (0..n).map(|i| (i % 20_000 >= 9_000).then(|| format!("G{:05}", i % 700))).collect();
        let n: Int64Array = (0..n as i64).collect();
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(code) as ArrayRef, Arc::new(n)]).unwrap();
        (schema, batch)
    }

    /// Writes `batch` to a mart at `path` in batches of `cut` rows, then the rest: its rows and bytes.
    pub(in crate::warehouse) fn written(
        path: &Path,
        schema: &Arc<Schema>,
        batch: &RecordBatch,
        cut: &[usize],
    ) -> (usize, Vec<u8>) {
        let mut file = MartWriter::new(path, schema.clone());
        let mut at = 0;
        for &len in cut.iter().chain(std::iter::once(&usize::MAX)) {
            let len = len.min(batch.num_rows() - at);
            file.write(batch.slice(at, len)).unwrap();
            at += len;
        }
        (file.finish().unwrap(), std::fs::read(path).unwrap())
    }

    #[test]
    fn a_mart_s_bytes_depend_on_its_rows_not_on_how_they_were_batched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m").join("part-0.parquet");
        for n in [0, 10, 4_999, 5_000, 8_192, 30_001] {
            let (schema, batch) = rows(n);
            let (whole_rows, whole) = written(&path, &schema, &batch, &[]);
            let (cut_rows, cut) = written(&path, &schema, &batch, &[1, 8_191, 3, 5_000, 8_192, 700]);
            assert_eq!((whole_rows, cut_rows), (n, n));
            assert!(whole == cut, "{n} rows: the same rows in other batches gave other bytes");
            let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
            let metadata = reader.metadata().clone();
            let back: Vec<RecordBatch> = reader.build().unwrap().collect::<Result<_, _>>().unwrap();
            let back = arrow::compute::concat_batches(&schema, &back).unwrap();
            assert_eq!(back, batch, "{n} rows read back");
            if n > 0 {
                let compression = metadata.row_group(0).column(1).compression();
                let expected = if n < COMPRESS_FROM_ROWS { Compression::UNCOMPRESSED } else { zstd(MART_ZSTD_LEVEL) };
                assert_eq!(compression, expected, "{n} rows");
            }
        }
        // Only the finished file is left in the folder: no temporary one.
        let names: Vec<_> =
            std::fs::read_dir(path.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, ["part-0.parquet"]);
    }

    #[test]
    fn a_mart_given_up_on_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-0.parquet");
        let (schema, batch) = rows(20_000);
        let mut file = MartWriter::new(&path, schema);
        file.write(batch).unwrap(); // over COMPRESS_FROM_ROWS: the temporary file is open
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(file);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

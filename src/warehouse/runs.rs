//! Sorted runs of a part's rows, for `merge`: the order they are sorted in, unsorted rows
//! gathered and sorted in memory, and sorted runs kept in temporary Arrow files.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use arrow::row::{RowConverter, Rows, SortField};

use super::WarehouseError;
use super::compact::{arrow_err, io};
use super::dated::REPORT_DATE;
use super::tiers;

/// Columns a part is sorted by first, those of them the table has, after the row's county
/// (`crate::county`: a part's row groups hold a county at a time): the source of each row.
pub(super) const SOURCE_ORDER: &[&str] = &[
    REPORT_DATE,
    "source_file",
    "path",
    super::columns::SOURCE_SHA,
    "sha256",
    "source_sheet",
    "sheet_index",
    "sheet",
    "source_row",
];

/// Rows per batch read from a run: each run being merged holds one batch and its sort keys.
pub(super) const READ_ROWS: usize = 2_048;

/// The sort keys of a part's rows (see `merge`): comparable across batches.
pub(super) struct Order {
    converter: RowConverter,
    /// Whether the rows are sorted by their county key first (a table with a code column).
    by_county: bool,
    columns: Vec<usize>,
}

impl Order {
    pub(super) fn new(schema: &SchemaRef) -> Result<Order, arrow::error::ArrowError> {
        let by_county = !crate::county::code_columns(schema).is_empty();
        let mut columns: Vec<usize> = SOURCE_ORDER.iter().filter_map(|c| schema.index_of(c).ok()).collect();
        let source = columns.clone();
        columns.extend((0..schema.fields().len()).filter(|i| !source.contains(i)));
        let mut fields: Vec<SortField> = by_county.then(|| SortField::new(DataType::Utf8)).into_iter().collect();
        fields.extend(columns.iter().map(|i| SortField::new(schema.field(*i).data_type().clone())));
        Ok(Order { converter: RowConverter::new(fields)?, by_county, columns })
    }

    pub(super) fn keys(&self, batch: &RecordBatch) -> Result<Rows, arrow::error::ArrowError> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.columns.len() + 1);
        if self.by_county {
            let keys = crate::county::keys(batch).unwrap_or_else(|| StringArray::new_null(batch.num_rows()));
            columns.push(Arc::new(keys));
        }
        columns.extend(self.columns.iter().map(|i| batch.column(*i).clone()));
        self.converter.convert_columns(&columns)
    }
}

pub(super) type Batches = Box<dyn Iterator<Item = Result<RecordBatch, WarehouseError>>>;

/// A sorted sequence of rows being merged: where it comes from, and for a file that is only
/// trusted to be sorted, which input it is.
pub(super) struct Run {
    pub(super) batches: Batches,
    pub(super) input: Option<usize>,
}

/// Unsorted rows gathered (see `Limits`).
#[derive(Default)]
pub(super) struct Buffer {
    batches: Vec<RecordBatch>,
    pub(super) rows: usize,
    pub(super) bytes: usize,
}

impl Buffer {
    pub(super) fn push(&mut self, batch: RecordBatch) {
        self.rows += batch.num_rows();
        self.bytes += batch.get_array_memory_size();
        self.batches.push(batch);
    }

    /// The rows in order, as an iterator of batches of `READ_ROWS`.
    pub(super) fn sorted(self, order: &Order, dir: &Path) -> Result<Sorted, arrow::error::ArrowError> {
        let keys: Vec<Rows> = self.batches.iter().map(|b| order.keys(b)).collect::<Result<_, _>>()?;
        let mut at: Vec<(usize, usize)> =
            self.batches.iter().enumerate().flat_map(|(n, b)| (0..b.num_rows()).map(move |i| (n, i))).collect();
        at.sort_unstable_by(|a, b| keys[a.0].row(a.1).cmp(&keys[b.0].row(b.1)));
        Ok(Sorted { batches: self.batches, at, next: 0, dir: dir.to_path_buf() })
    }
}

/// A buffer's rows in order, taken out `READ_ROWS` at a time.
pub(super) struct Sorted {
    batches: Vec<RecordBatch>,
    at: Vec<(usize, usize)>,
    next: usize,
    dir: PathBuf,
}

impl Iterator for Sorted {
    type Item = Result<RecordBatch, WarehouseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.at.get(self.next..(self.next + READ_ROWS).min(self.at.len())).filter(|a| !a.is_empty())?;
        self.next += at.len();
        let batches: Vec<&RecordBatch> = self.batches.iter().collect();
        Some(arrow::compute::interleave_record_batch(&batches, at).map_err(arrow_err(&self.dir)))
    }
}

/// A temporary file removed when dropped, unless kept: a part given up on, a spill.
pub(super) struct Temporary(pub(super) PathBuf);

impl Temporary {
    /// The file stays: its path.
    pub(super) fn keep(mut self) -> PathBuf {
        std::mem::take(&mut self.0)
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// A sorted run written to a temporary Arrow file in the year folder (`.…tmp`, which a killed
/// run's successor removes: `reconcile`).
pub(super) struct Spill {
    file: Temporary,
    writer: Option<FileWriter<BufWriter<File>>>,
}

impl Spill {
    pub(super) fn create(dir: &Path, n: usize, schema: &SchemaRef) -> Result<Spill, WarehouseError> {
        let path = crate::atomic_file::temporary_name(&dir.join(format!("{}spill-{n}.arrow", tiers::PART)));
        let file = File::create(&path).map_err(io(&path))?;
        let writer = FileWriter::try_new(BufWriter::new(file), schema).map_err(arrow_err(&path))?;
        Ok(Spill { file: Temporary(path), writer: Some(writer) })
    }

    pub(super) fn write(&mut self, batch: &RecordBatch) -> Result<(), WarehouseError> {
        let writer = self.writer.as_mut().expect("open until finished");
        writer.write(batch).map_err(arrow_err(&self.file.0))
    }

    pub(super) fn finish(mut self) -> Result<Spill, WarehouseError> {
        if let Some(mut writer) = self.writer.take() {
            writer.finish().map_err(arrow_err(&self.file.0))?;
        }
        Ok(self)
    }

    /// `sorted` written to a new spill.
    pub(super) fn of(dir: &Path, n: usize, schema: &SchemaRef, sorted: Sorted) -> Result<Spill, WarehouseError> {
        let mut spill = Spill::create(dir, n, schema)?;
        for batch in sorted {
            spill.write(&batch?)?;
        }
        spill.finish()
    }

    /// The spill read back, batch by batch; the file goes when the run is done.
    pub(super) fn run(self) -> Result<Run, WarehouseError> {
        let path = self.file.0.clone();
        let file = File::open(&path).map_err(io(&path))?;
        let reader = FileReader::try_new(BufReader::new(file), None).map_err(arrow_err(&path))?;
        let guard = self.file;
        let batches = reader.map(move |b| b.map_err(arrow_err(&guard.0)));
        Ok(Run { batches: Box::new(batches), input: None })
    }
}

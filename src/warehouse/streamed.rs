//! The data files of streamed sheets (see `ingest::stream`), written as their rows arrive:
//! one Parquet file per source file, table and report date, as for every other file, but
//! filled a chunk at a time in row groups, under a temporary name until `Warehouse::write`
//! puts it in place with the rest (before the ledger).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;

use arrow::array::RecordBatch;
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;

use super::columns::{self, Column, RowRef};
use super::{Warehouse, WarehouseError, parquet_io};
use crate::config::forms::FormConfig;
use crate::ingest::dedup::AcceptedRows;
use crate::ingest::rows::Record;
use crate::privacy::Privacy;

/// Rows per row group: bounds what the writer holds before it encodes a group.
const ROW_GROUP_ROWS: usize = 16_384;

/// A finished data file of a streamed sheet, not yet in place.
#[derive(Debug)]
pub struct StreamedFile {
    pub table: String,
    pub tmp: PathBuf,
    pub path: PathBuf,
    pub rows: u64,
}

struct Open {
    table: String,
    tmp: PathBuf,
    path: PathBuf,
    columns: Vec<Column>,
    schema: arrow::datatypes::SchemaRef,
    writer: ArrowWriter<File>,
    rows: u64,
}

/// Accepted rows of streamed sheets → Parquet files under temporary names.
pub struct StreamedTables<'a> {
    warehouse: &'a Warehouse,
    privacy: &'a Privacy,
    /// (source sha256, table, report date) → its open file.
    open: BTreeMap<(String, String, String), Open>,
}

impl<'a> StreamedTables<'a> {
    pub fn new(warehouse: &'a Warehouse, privacy: &'a Privacy) -> StreamedTables<'a> {
        StreamedTables { warehouse, privacy, open: BTreeMap::new() }
    }

    /// Closes every file; they are put in place, and synced, by `Warehouse::write`.
    pub fn finish(self) -> Result<Vec<StreamedFile>, WarehouseError> {
        let mut out = Vec::new();
        for (_, open) in self.open {
            // Made durable with the other files of the ingest (`parquet_io::sync_written`).
            open.writer.into_inner().map_err(|source| WarehouseError::Parquet { path: open.tmp.clone(), source })?;
            out.push(StreamedFile { table: open.table, tmp: open.tmp, path: open.path, rows: open.rows });
        }
        Ok(out)
    }
}

impl AcceptedRows for StreamedTables<'_> {
    type Error = WarehouseError;

    fn accept(
        &mut self,
        path: &str,
        sha256: &str,
        sheet: &str,
        form: &FormConfig,
        report_date: NaiveDate,
        rows: &[(usize, Record)],
    ) -> Result<(), WarehouseError> {
        if rows.is_empty() {
            return Ok(());
        }
        let date = report_date.to_string();
        let key = (sha256.to_string(), form.form.clone(), date.clone());
        if !self.open.contains_key(&key) {
            let final_path = self.warehouse.file(&form.form, &date, sha256);
            let columns = columns::columns(form, self.privacy);
            let schema = columns::schema(&columns);
            // The file's rows carry their report date (`dated::stamp` in `accept`).
            let (tmp, writer) = parquet_io::create(&final_path, super::dated::schema(&schema), ROW_GROUP_ROWS)?;
            let open = Open { table: form.form.clone(), tmp, path: final_path, columns, schema, writer, rows: 0 };
            self.open.insert(key.clone(), open);
        }
        let open = self.open.get_mut(&key).expect("opened above");
        let refs: Vec<RowRef<'_>> = rows
            .iter()
            .map(|(row, r)| RowRef {
                values: &r.values,
                identity: r.identity.as_ref().map(|i| i.key.as_str()),
                file: path,
                sha256,
                sheet,
                row: *row,
                // The registry is never streamed: it is read whole before any other sheet.
                registry_scope: None,
            })
            .collect();
        let arrays = open.columns.iter().map(|c| columns::build(c, &refs, self.privacy)).collect();
        let batch = RecordBatch::try_new(open.schema.clone(), arrays).expect("columns match the schema");
        let batch = super::dated::stamp(&batch, &report_date.to_string())
            .map_err(|source| WarehouseError::Arrow { path: open.tmp.clone(), source })?;
        open.writer.write(&batch).map_err(|source| WarehouseError::Parquet { path: open.tmp.clone(), source })?;
        open.rows += rows.len() as u64;
        crate::failpoint::hit("warehouse.rows");
        Ok(())
    }

    fn discard(&mut self, sha256: &str) {
        let gone: Vec<_> = self.open.keys().filter(|(sha, _, _)| sha == sha256).cloned().collect();
        for key in gone {
            if let Some(open) = self.open.remove(&key) {
                drop(open.writer);
                let _ = std::fs::remove_file(&open.tmp);
            }
        }
    }
}

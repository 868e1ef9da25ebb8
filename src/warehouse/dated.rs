//! The report date of every row, kept in the row itself (`report_date`, the last column of
//! every table): a table's files are per year (`report_year=YYYY/`, see `tiers`), so that a
//! year of history is a few files per table, not 366 (an analyst's first DuckDB query opened
//! every file: 0.09 s over a year of daily files, 0.006 s over monthly ones, 0.003 s over one
//! file). Readers in Rust take each row's date from the column; SQL sees the same column it saw
//! as a partition column before.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Date32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;

pub const REPORT_DATE: &str = "report_date";
/// The partition key of the warehouse's tables (marts keep `report_date=`: one file a day).
pub const REPORT_YEAR: &str = "report_year";
/// The partition key of an earlier layout: a folder per month.
pub const REPORT_MONTH: &str = "report_month";

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
}

/// `schema` with `report_date` appended, as every table's files have it.
pub fn schema(schema: &SchemaRef) -> SchemaRef {
    if schema.column_with_name(REPORT_DATE).is_some() {
        return schema.clone();
    }
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(REPORT_DATE, DataType::Date32, false));
    Arc::new(Schema::new(fields))
}

/// `batch` with the column `report_date` = `date` (`YYYY-MM-DD`) appended (if it lacks it).
pub fn stamp(batch: &RecordBatch, date: &str) -> Result<RecordBatch, arrow::error::ArrowError> {
    if batch.schema().column_with_name(REPORT_DATE).is_some() {
        return Ok(batch.clone());
    }
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| arrow::error::ArrowError::ParseError(format!("`{date}` is not a report date")))?;
    let days = (date - epoch()).num_days() as i32;
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(Date32Array::from(vec![days; batch.num_rows()])));
    RecordBatch::try_new(schema(&batch.schema()), columns)
}

/// The report date of each row of `batch`, or none for a row without one (or a batch without
/// the column).
pub fn row_dates(batch: &RecordBatch) -> Vec<Option<NaiveDate>> {
    let column = batch.column_by_name(REPORT_DATE).and_then(|c| c.as_any().downcast_ref::<Date32Array>());
    match column {
        Some(a) => {
            (0..a.len()).map(|i| (!a.is_null(i)).then(|| epoch() + chrono::Duration::days(a.value(i) as i64))).collect()
        }
        None => vec![None; batch.num_rows()],
    }
}

/// The year folder's name of a report date (`YYYY-MM-DD`): `report_year=YYYY`.
pub fn year_folder(report_date: &str) -> String {
    format!("{REPORT_YEAR}={}", report_date.get(..4).unwrap_or(report_date))
}

/// The month (`YYYY-MM`) of a report date (`YYYY-MM-DD`).
pub fn month_of(report_date: &str) -> &str {
    report_date.get(..7).unwrap_or(report_date)
}

/// The report date a file's name starts with (`YYYY-MM-DD-<sha16>.parquet`, how ingest names
/// the file of one source file and day), and the rest of the name's stem.
pub fn split_name(stem: &str) -> Option<(NaiveDate, &str)> {
    let (date, rest) = (stem.get(..10)?, stem.get(11..)?);
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    (stem.as_bytes().get(10) == Some(&b'-')).then_some((date, rest))
}

/// The folders of an earlier layout: one per day, the date in the path alone.
pub const DAY_FOLDER: &str = "report_date=";

/// The report date of a file in a day folder of an earlier layout.
pub fn folder_date(path: &std::path::Path) -> Option<String> {
    let folder = path.parent()?.file_name()?.to_string_lossy().into_owned();
    folder.strip_prefix(DAY_FOLDER).map(String::from)
}

/// Reads the named columns of a table's file (all when `columns` is empty) with each row's
/// report date: from the rows, or for a file of an earlier layout's day folder, from the folder
/// (read before `migrate` moves it: the ledger's index, `reconcile`).
pub fn read(path: &std::path::Path, columns: &[&str]) -> Result<Vec<RecordBatch>, super::WarehouseError> {
    let with_date: Vec<&str> = if columns.is_empty() { Vec::new() } else { [columns, &[REPORT_DATE]].concat() };
    let batches = super::parquet_io::read(path, &with_date)?;
    match folder_date(path) {
        Some(date) => batches
            .iter()
            .map(|b| stamp(b, &date))
            .collect::<Result<_, _>>()
            .map_err(|source| super::WarehouseError::Arrow { path: path.to_path_buf(), source }),
        None => Ok(batches),
    }
}

/// `read`, a batch of `batch_rows` at a time.
pub fn batches(
    path: &std::path::Path,
    batch_rows: usize,
) -> Result<impl Iterator<Item = Result<RecordBatch, super::WarehouseError>>, super::WarehouseError> {
    let owned = path.to_path_buf();
    let date = folder_date(path);
    let reader = super::parquet_io::reader(path, batch_rows)?;
    Ok(reader.map(move |batch| {
        let batch = match &date {
            Some(date) => batch.and_then(|b| stamp(&b, date)),
            None => batch,
        };
        batch.map_err(|source| super::WarehouseError::Arrow { path: owned.clone(), source })
    }))
}

/// The source a file's name gives, its date taken off: `<sha16>` of `<date>-<sha16>`.
pub fn source_of_stem(stem: &str) -> &str {
    split_name(stem).map_or(stem, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_go_into_rows_and_names_and_come_back() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(arrow::array::Int64Array::from(vec![1, 2]))]).unwrap();
        let d = NaiveDate::from_ymd_opt(2022, 5, 10).unwrap();
        let stamped = stamp(&batch, "2022-05-10").unwrap();
        assert_eq!(stamped.schema().fields().last().unwrap().name(), REPORT_DATE);
        assert_eq!(row_dates(&stamped), vec![Some(d), Some(d)]);
        assert_eq!(row_dates(&batch), vec![None, None]);
        assert_eq!(stamp(&stamped, "2022-05-11").unwrap().num_columns(), 2, "stamped once");
        assert!(stamp(&batch, "2022-05").is_err());
        assert_eq!(year_folder("2022-05-10"), "report_year=2022");
        assert_eq!(month_of("2022-05-10"), "2022-05");
        assert_eq!(split_name("2022-05-10-0123abcd"), Some((d, "0123abcd")));
        assert_eq!(split_name("part-0123abcd"), None);
        assert_eq!(split_name("2022-13-10-x"), None);
        assert_eq!(split_name("2022-05-10"), None);
    }
}

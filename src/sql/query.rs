//! Ad-hoc queries for analysts (`wangge query`): results as an aligned table, CSV, JSON Lines,
//! Parquet or an xlsx workbook. Text from data is always written as text: a value starting with
//! `=` never becomes a formula.

use std::io::Write;
use std::path::Path;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;

use super::SqlError;
use super::engine::TableInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Parquet,
    Xlsx,
}

/// Runs a query; a "table not found" error lists the tables there are.
pub async fn run(
    ctx: &SessionContext,
    sql: &str,
    tables: &[TableInfo],
) -> Result<(SchemaRef, Vec<RecordBatch>), SqlError> {
    let listed = || tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ");
    let df = ctx.sql(sql).await.map_err(|e| {
        let message = e.to_string();
        let context = if message.contains("not found") {
            format!("the query; the tables are: {}", listed())
        } else {
            "the query".into()
        };
        SqlError::Engine { context, error: e }
    })?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await.map_err(SqlError::engine("running the query"))?;
    Ok((schema, batches))
}

fn cell_text(array: &dyn Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    let options = FormatOptions::default();
    ArrayFormatter::try_new(array, &options).ok().map(|f| f.value(row).to_string())
}

/// Writes results in a text format to `out`.
pub fn write_text(
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Table => {
            let table = arrow::util::pretty::pretty_format_batches(batches).map_err(std::io::Error::other)?;
            if batches.is_empty() {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(out, "{}\n(0 rows)", names.join(" | "))
            } else {
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                writeln!(out, "{table}\n({rows} rows)")
            }
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(schema.fields().iter().map(|f| f.name()))?;
            for batch in batches {
                for row in 0..batch.num_rows() {
                    writer
                        .write_record(batch.columns().iter().map(|c| cell_text(c.as_ref(), row).unwrap_or_default()))?;
                }
            }
            writer.flush()
        }
        Format::Json => {
            // JSON Lines: one object per row; numbers and booleans as JSON values.
            for batch in batches {
                for row in 0..batch.num_rows() {
                    // Columns in the query's order (a JSON map would sort them).
                    let mut members: Vec<String> = Vec::new();
                    for (field, column) in schema.fields().iter().zip(batch.columns()) {
                        let value = match cell_text(column.as_ref(), row) {
                            None => serde_json::Value::Null,
                            Some(text) => match field.data_type() {
                                t if t.is_numeric() || *t == DataType::Boolean => {
                                    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
                                }
                                _ => serde_json::Value::String(text),
                            },
                        };
                        members.push(format!("{}:{value}", serde_json::Value::String(field.name().clone())));
                    }
                    writeln!(out, "{{{}}}", members.join(","))?;
                }
            }
            Ok(())
        }
        Format::Parquet | Format::Xlsx => Err(std::io::Error::other("a binary format needs `--output FILE`")),
    }
}

/// Writes results to a file in any format.
pub fn write_file(format: Format, schema: &SchemaRef, batches: &[RecordBatch], path: &Path) -> Result<(), SqlError> {
    let io = |source| SqlError::Io { path: path.to_path_buf(), source };
    match format {
        Format::Parquet => {
            let batch = arrow::compute::concat_batches(schema, batches).map_err(|e| SqlError::Engine {
                context: "the query's result".into(),
                error: datafusion::error::DataFusionError::ArrowError(Box::new(e), None),
            })?;
            Ok(crate::warehouse::parquet_io::write(path, schema.clone(), &batch)?)
        }
        Format::Xlsx => write_xlsx(schema, batches, path).map_err(|e| io(std::io::Error::other(e))),
        _ => {
            let mut file = std::fs::File::create(path).map_err(io)?;
            write_text(format, schema, batches, &mut file).map_err(io)
        }
    }
}

/// From this many rows on, a query's workbook is written in rust_xlsxwriter's constant-memory
/// mode: rows stream to a temporary file beside the output instead of being held until saved.
const CONSTANT_MEMORY_FROM_ROWS: usize = 5_000;

fn write_xlsx(schema: &SchemaRef, batches: &[RecordBatch], path: &Path) -> Result<(), rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format as CellFormat, Workbook};
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let large = rows >= CONSTANT_MEMORY_FROM_ROWS;
    let mut workbook = Workbook::new();
    let sheet = if large {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        workbook.set_tempdir(dir)?;
        workbook.add_worksheet_with_constant_memory()?
    } else {
        workbook.add_worksheet()
    };
    sheet.set_name("查询结果")?;
    let bold = CellFormat::new().set_bold();
    // Widths from the header and the first rows: autofit sees only rows still in memory.
    let mut widths: Vec<usize> =
        schema.fields().iter().map(|f| crate::normalize::text::display_width(f.name())).collect();
    for (c, field) in schema.fields().iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, field.name(), &bold)?;
    }
    let mut r = 1u32;
    for batch in batches {
        for row in 0..batch.num_rows() {
            for (c, (field, column)) in schema.fields().iter().zip(batch.columns()).enumerate() {
                let Some(text) = cell_text(column.as_ref(), row) else { continue };
                if r <= 200 {
                    widths[c] = widths[c].max(crate::normalize::text::display_width(&text));
                }
                let numeric = field.data_type().is_numeric();
                match text.parse::<f64>() {
                    Ok(n) if numeric => sheet.write_number(r, c as u16, n)?,
                    // write_string never turns `=…` into a formula.
                    _ => sheet.write_string(r, c as u16, &text)?,
                };
            }
            r += 1;
        }
    }
    if large {
        for (c, w) in widths.iter().enumerate() {
            sheet.set_column_width(c as u16, (*w).min(50) as f64 + 1.0)?;
        }
    } else {
        sheet.autofit();
    }
    workbook.save(path)
}

/// `wangge query --tables`: each table with its columns and types.
pub fn describe(tables: &[TableInfo]) -> String {
    let mut out = String::new();
    for t in tables {
        out.push_str(&format!("{}\n", t.name));
        for f in t.schema.fields() {
            out.push_str(&format!("  {:<28} {}\n", f.name(), f.data_type()));
        }
    }
    out
}

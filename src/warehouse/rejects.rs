//! The `rejects` table: every rejected row and every warning, with file, sheet, row, column
//! letter and header, the raw value (masked for IDs and phones unless the workspace keeps
//! them), the reason code and a message in Chinese; numbers in messages masked the same way
//! (`privacy`).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use crate::config::forms::FormConfig;
use crate::ingest::FileResult;
use crate::normalize::text::column_letter;
use crate::privacy::Privacy;

const TEXT: &[&str] = &[
    "source_file",
    "source_sha256",
    "source_sheet",
    "column",
    "header",
    "form",
    "field",
    "community_code",
    "severity",
    "reason",
    "raw_value",
    "message",
    "kept_file",
    "kept_sheet",
];
const INTS: &[&str] = &["source_row", "kept_row"];

pub fn schema() -> Arc<Schema> {
    let mut fields: Vec<Field> = TEXT.iter().map(|n| Field::new(*n, DataType::Utf8, true)).collect();
    fields.extend(INTS.iter().map(|n| Field::new(*n, DataType::Int64, true)));
    Arc::new(Schema::new(fields))
}

/// The rejects and warnings of one file for one report date, if any.
pub fn batch(file: &FileResult, report_date: &str, forms: &[FormConfig], privacy: &Privacy) -> Option<RecordBatch> {
    let mut text_rows: Vec<[Option<String>; 14]> = Vec::new();
    let mut int_rows: Vec<[Option<i64>; 2]> = Vec::new();
    for s in file.sheets.iter().filter(|s| s.report_date.to_string() == report_date) {
        let form = forms.iter().find(|f| Some(&f.form) == s.form.as_ref());
        let kind = |field: &str| form.and_then(|f| f.fields.iter().find(|x| x.name == field)).map(|x| x.kind);
        for r in &s.rejects {
            text_rows.push([
                Some(file.path.clone()),
                Some(file.sha256.clone()),
                Some(s.name.clone()),
                Some(column_letter(r.column)),
                Some(r.header.clone()),
                s.form.clone(),
                Some(r.field.clone()),
                s.community.clone(),
                Some("reject".into()),
                Some(r.reason.into()),
                Some(privacy.show(&r.raw, kind(&r.field))),
                Some(privacy.redact(&r.message).into_owned()),
                r.kept.as_ref().map(|k| k.file.clone()),
                r.kept.as_ref().map(|k| k.sheet.clone()),
            ]);
            int_rows.push([Some(r.row as i64), r.kept.as_ref().map(|k| k.row as i64)]);
        }
        for w in &s.warnings {
            text_rows.push([
                Some(file.path.clone()),
                Some(file.sha256.clone()),
                Some(s.name.clone()),
                Some(column_letter(w.column)),
                s.headers.get(&w.column).map(|h| h.label.clone()),
                s.form.clone(),
                Some(w.field.clone()),
                s.community.clone(),
                Some("warning".into()),
                Some(w.code.into()),
                Some(privacy.show(&w.raw, kind(&w.field))),
                Some(privacy.redact(&w.message).into_owned()),
                None,
                None,
            ]);
            int_rows.push([Some(w.row as i64), None]);
        }
    }
    if text_rows.is_empty() {
        return None;
    }
    let mut columns: Vec<ArrayRef> = Vec::new();
    for i in 0..TEXT.len() {
        columns.push(Arc::new(text_rows.iter().map(|r| r[i].clone()).collect::<StringArray>()));
    }
    for i in 0..INTS.len() {
        columns.push(Arc::new(int_rows.iter().map(|r| r[i]).collect::<Int64Array>()));
    }
    Some(RecordBatch::try_new(schema(), columns).expect("reject columns match the schema"))
}

//! The columns of each warehouse table, derived from the form declarations: the analysts'
//! contract (docs/warehouse.md). Codes are strings, dates are dates, times are timestamps;
//! a citizen ID becomes a pseudonymous `person_key`, a masked ID, the birth date and gender it
//! encodes; phones are masked. Raw IDs and phones are kept only when the workspace says so.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, Date32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::{NaiveDate, NaiveDateTime};

use crate::config::forms::{FieldType, FormConfig};
use crate::ingest::rows::Value;
use crate::privacy::{Privacy, mask_id, mask_phone};

/// The column of every table (form tables, rejects) naming the source file by its sha256.
pub const SOURCE_SHA: &str = "source_sha256";

/// One output column and how it is filled from a record.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
    pub source: Source,
}

#[derive(Debug, Clone)]
pub enum Source {
    /// The value of field `i` as it is.
    Field(usize),
    /// Part of the grid of field `i`.
    Grid(usize, GridPart),
    /// Part of the citizen ID of field `i`.
    Id(usize, IdPart),
    /// Part of the phones of field `i`.
    Phone(usize, PhonePart),
    /// The form's gender field, overridden by the gender the ID encodes.
    Gender {
        field: Option<usize>,
        id: usize,
    },
    /// The keyed identity duplicates are detected on.
    RowKey,
    SourceFile,
    /// The sha256 of the source file: which rows a corrected file replaces, once a partition's
    /// files are compacted into one and file names no longer say it.
    SourceSha,
    SourceSheet,
    SourceRow,
    /// For the grid registry: `district` or `community` (see `ingest::RegistryScope`).
    RegistryScope,
    /// The lifecycle stage of enum field `i`'s canonical value.
    Stage(usize, std::collections::BTreeMap<String, &'static str>),
}

#[derive(Debug, Clone, Copy)]
pub enum GridPart {
    Town,
    Community,
    Grid,
    SubGrid,
}

#[derive(Debug, Clone, Copy)]
pub enum IdPart {
    PersonKey,
    Masked,
    BirthDate,
    Raw,
}

#[derive(Debug, Clone, Copy)]
pub enum PhonePart {
    Masked,
    OthersMasked,
    Raw,
}

fn column(name: impl Into<String>, data_type: DataType, source: Source) -> Column {
    Column { name: name.into(), data_type, source }
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

/// The columns of a form's table.
pub fn columns(form: &FormConfig, privacy: &Privacy) -> Vec<Column> {
    let mut out = Vec::new();
    let gender_field = form.fields.iter().position(|f| f.kind == FieldType::Gender);
    if let Some(g) = form.fields.iter().position(|f| f.kind == FieldType::Grid) {
        out.push(column("town_code", DataType::Utf8, Source::Grid(g, GridPart::Town)));
        out.push(column("community_code", DataType::Utf8, Source::Grid(g, GridPart::Community)));
        out.push(column("grid_code", DataType::Utf8, Source::Grid(g, GridPart::Grid)));
        out.push(column("sub_grid_code", DataType::Utf8, Source::Grid(g, GridPart::SubGrid)));
    }
    for (i, field) in form.fields.iter().enumerate() {
        let name = field.name.as_str();
        match field.kind {
            FieldType::Grid => {}
            FieldType::Gender if form.fields.iter().any(|f| f.kind == FieldType::CitizenId) => {}
            FieldType::Text | FieldType::Code | FieldType::Enum | FieldType::Gender => {
                out.push(column(name, DataType::Utf8, Source::Field(i)));
                if let Some(stages) = form.stages_of(field) {
                    let stages = stages.iter().map(|(value, stage)| (value.clone(), stage.as_str())).collect();
                    out.push(column(format!("{name}_stage"), DataType::Utf8, Source::Stage(i, stages)));
                }
            }
            FieldType::Integer | FieldType::Hours => out.push(column(name, DataType::Int64, Source::Field(i))),
            FieldType::Boolean => out.push(column(name, DataType::Boolean, Source::Field(i))),
            FieldType::Date => out.push(column(name, DataType::Date32, Source::Field(i))),
            FieldType::Datetime => out.push(column(name, timestamp(), Source::Field(i))),
            FieldType::CitizenId => {
                out.push(column("person_key", DataType::Utf8, Source::Id(i, IdPart::PersonKey)));
                out.push(column("id_masked", DataType::Utf8, Source::Id(i, IdPart::Masked)));
                out.push(column("gender", DataType::Utf8, Source::Gender { field: gender_field, id: i }));
                out.push(column("birth_date", DataType::Date32, Source::Id(i, IdPart::BirthDate)));
                if privacy.store_raw_ids {
                    out.push(column(name, DataType::Utf8, Source::Id(i, IdPart::Raw)));
                }
            }
            FieldType::Phone => {
                out.push(column(format!("{name}_masked"), DataType::Utf8, Source::Phone(i, PhonePart::Masked)));
                out.push(column(
                    format!("{name}_others_masked"),
                    DataType::Utf8,
                    Source::Phone(i, PhonePart::OthersMasked),
                ));
                if privacy.store_raw_phones {
                    out.push(column(name, DataType::Utf8, Source::Phone(i, PhonePart::Raw)));
                }
            }
        }
    }
    if form.is_grid_registry() {
        out.push(column("registry_scope", DataType::Utf8, Source::RegistryScope));
    }
    out.push(column("row_key", DataType::Utf8, Source::RowKey));
    out.push(column("source_file", DataType::Utf8, Source::SourceFile));
    out.push(column(SOURCE_SHA, DataType::Utf8, Source::SourceSha));
    out.push(column("source_sheet", DataType::Utf8, Source::SourceSheet));
    out.push(column("source_row", DataType::Int64, Source::SourceRow));
    out
}

pub fn schema(columns: &[Column]) -> Arc<Schema> {
    Arc::new(Schema::new(columns.iter().map(|c| Field::new(&c.name, c.data_type.clone(), true)).collect::<Vec<_>>()))
}

/// A row to write: the record's values and where it came from.
pub struct RowRef<'a> {
    pub values: &'a [Value],
    pub identity: Option<&'a str>,
    pub file: &'a str,
    pub sha256: &'a str,
    pub sheet: &'a str,
    pub row: usize,
    pub registry_scope: Option<&'static str>,
}

/// HMAC-SHA256 of the normalised ID under the workspace key, in hex.
pub fn person_key(key: &[u8], id: &str) -> String {
    crate::ingest::keyed(key, id)
}

fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

fn millis(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

/// Builds one Arrow column from rows.
pub fn build(column: &Column, rows: &[RowRef<'_>], privacy: &Privacy) -> ArrayRef {
    match column.data_type {
        DataType::Utf8 => {
            let mut b = StringBuilder::new();
            let keyer = crate::ingest::Keyer::new(&privacy.key);
            for r in rows {
                b.append_option(text(column, r, &keyer, privacy));
            }
            Arc::new(b.finish())
        }
        DataType::Int64 => {
            let mut b = Int64Builder::new();
            for r in rows {
                b.append_option(match column.source {
                    Source::SourceRow => Some(r.row as i64),
                    Source::Field(i) => match &r.values[i] {
                        Value::Int(n) => Some(*n),
                        _ => None,
                    },
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        DataType::Boolean => {
            let mut b = BooleanBuilder::new();
            for r in rows {
                b.append_option(match column.source {
                    Source::Field(i) => match &r.values[i] {
                        Value::Bool(v) => Some(*v),
                        _ => None,
                    },
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        DataType::Date32 => {
            let mut b = Date32Builder::new();
            for r in rows {
                b.append_option(match column.source {
                    Source::Field(i) => match &r.values[i] {
                        Value::Date(d) => Some(days(*d)),
                        Value::DateTime(t) => Some(days(t.date())),
                        _ => None,
                    },
                    Source::Id(i, IdPart::BirthDate) => match &r.values[i] {
                        Value::Id(id) => Some(days(id.birth_date)),
                        _ => None,
                    },
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        _ => {
            let mut b = TimestampMillisecondBuilder::new();
            for r in rows {
                b.append_option(match column.source {
                    Source::Field(i) => match &r.values[i] {
                        Value::DateTime(t) => Some(millis(*t)),
                        Value::Date(d) => Some(millis(d.and_time(chrono::NaiveTime::MIN))),
                        _ => None,
                    },
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
    }
}

/// A text cell of `column` for row `r`, borrowed from the row where it can be (profiled: copying
/// every string before Arrow copies it again showed in a 200,000-row ingest).
///
/// Free text is masked like any output (`privacy`): a 备注 or 诉求内容 that quotes an ID or a
/// mobile number must not put it in the warehouse.
fn text<'a>(
    column: &Column,
    r: &'a RowRef<'_>,
    keyer: &crate::ingest::Keyer,
    privacy: &Privacy,
) -> Option<Cow<'a, str>> {
    match column.source {
        Source::RowKey => r.identity.map(Cow::Borrowed),
        Source::SourceFile => Some(Cow::Borrowed(r.file)),
        Source::SourceSha => Some(Cow::Borrowed(r.sha256)),
        Source::SourceSheet => Some(Cow::Borrowed(r.sheet)),
        Source::SourceRow => None,
        Source::RegistryScope => r.registry_scope.map(Cow::Borrowed),
        Source::Stage(i, ref stages) => match &r.values[i] {
            Value::Text(value) => stages.get(value.as_str()).map(|s| Cow::Borrowed(*s)),
            _ => None,
        },
        Source::Field(i) => match &r.values[i] {
            Value::Text(t) => Some(privacy.redact(t)),
            Value::Null => None,
            other => Some(Cow::Owned(format!("{other:?}"))),
        },
        Source::Grid(i, part) => match &r.values[i] {
            Value::Grid(g) => match part {
                GridPart::Town => Some(Cow::Borrowed(&g.town_code)),
                GridPart::Community => Some(Cow::Borrowed(&g.community_code)),
                GridPart::Grid => Some(Cow::Borrowed(&g.grid_code)),
                GridPart::SubGrid => g.sub_grid_code.as_deref().map(Cow::Borrowed),
            },
            _ => None,
        },
        Source::Id(i, part) => match &r.values[i] {
            Value::Id(id) => match part {
                IdPart::PersonKey => Some(Cow::Owned(keyer.keyed(&id.number))),
                IdPart::Masked => Some(Cow::Owned(mask_id(&id.number))),
                IdPart::Raw => Some(Cow::Borrowed(&id.number)),
                IdPart::BirthDate => None,
            },
            _ => None,
        },
        Source::Gender { field, id } => match (&r.values[id], field.map(|f| &r.values[f])) {
            (Value::Id(id), _) => Some(Cow::Borrowed(id.gender.label())),
            (_, Some(Value::Text(t))) => Some(Cow::Borrowed(t)),
            _ => None,
        },
        Source::Phone(i, part) => match &r.values[i] {
            Value::Phones(p) if !p.is_empty() => match part {
                PhonePart::Masked => Some(Cow::Owned(mask_phone(&p[0]))),
                PhonePart::OthersMasked => (p.len() > 1)
                    .then(|| Cow::Owned(p[1..].iter().map(|n| mask_phone(n)).collect::<Vec<_>>().join("、"))),
                PhonePart::Raw => Some(Cow::Owned(p.join("、"))),
            },
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_keys() {
        assert_eq!(mask_id("130203198506123020"), "130203********3020");
        let a = person_key(b"k1", "130203198506123020");
        assert_eq!(a.len(), 64);
        assert_ne!(a, person_key(b"k2", "130203198506123020"));
    }
}

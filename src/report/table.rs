//! Plain report tables: what the workbook and HTML writers take. Built from Arrow batches here,
//! so that neither writer knows about the query engine.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use chrono::NaiveDate;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Date(NaiveDate),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// Named columns and rows of values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn index(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }

    /// The rows whose `column` equals `value` (a unit's rows).
    pub fn filtered(&self, column: &str, value: &str) -> Table {
        let Some(i) = self.index(column) else { return Table { columns: self.columns.clone(), rows: Vec::new() } };
        Table {
            columns: self.columns.clone(),
            rows: self.rows.iter().filter(|r| r[i].as_text() == Some(value)).cloned().collect(),
        }
    }

    pub fn from_batches(batches: &[RecordBatch]) -> Table {
        let Some(first) = batches.first() else { return Table::default() };
        let columns = first.schema().fields().iter().map(|f| f.name().clone()).collect();
        let mut rows = Vec::new();
        for batch in batches {
            for r in 0..batch.num_rows() {
                rows.push(batch.columns().iter().map(|c| value(c.as_ref(), r)).collect());
            }
        }
        Table { columns, rows }
    }
}

fn value(array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Int64 => Value::Int(array.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => Value::Float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::Text(array.as_string::<i32>().value(row).to_string()),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(row);
            Value::Date(NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(days.into()))
        }
        _ => {
            let formatter = arrow::util::display::ArrayFormatter::try_new(array, &Default::default());
            formatter.map(|f| Value::Text(f.value(row).to_string())).unwrap_or(Value::Null)
        }
    }
}

//! Plain report tables: what the workbook and HTML writers take. Built from Arrow batches here,
//! so that neither writer knows about the query engine.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use std::collections::HashMap;

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

    /// The row numbers of each value of `column`, in row order: one pass to scope a table to
    /// every unit, instead of one scan per unit (784 grids). With `prefix` not 0, by the value's
    /// first `prefix` bytes (a value shorter than that is in no group).
    pub fn row_groups(&self, column: &str, prefix: usize) -> HashMap<&str, Vec<usize>> {
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        if let Some(i) = self.index(column) {
            for (r, row) in self.rows.iter().enumerate() {
                let value = row[i].as_text().and_then(|v| if prefix == 0 { Some(v) } else { v.get(..prefix) });
                if let Some(value) = value {
                    groups.entry(value).or_default().push(r);
                }
            }
        }
        groups
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

//! A report as both writers see it: sections with their headers, rows already scoped to the
//! unit and projected to the section's columns, a 合计 row and chart data.

use std::collections::BTreeMap;

use super::definition::{ColumnDef, Section};
use super::table::{Table, Value};

#[derive(Debug, Clone)]
pub struct SectionView {
    pub title: String,
    pub columns: Vec<ColumnDef>,
    /// Neighbouring columns sharing a group: (group or none, number of columns).
    pub groups: Vec<(Option<String>, usize)>,
    pub rows: Vec<Vec<Value>>,
    pub total: Option<Vec<Value>>,
    pub chart: Option<Chart>,
}

impl SectionView {
    pub fn has_groups(&self) -> bool {
        self.groups.iter().any(|(g, _)| g.is_some())
    }
}

/// Series summed by their x value, in x order.
#[derive(Debug, Clone)]
pub struct Chart {
    pub labels: Vec<String>,
    /// (header, values) per series.
    pub series: Vec<(String, Vec<f64>)>,
}

/// Builds a section's view from its step's rows for one unit: `rows` are the unit's row numbers
/// in `table`, or none for all of them (the district), so the table is never copied whole.
pub fn section(def: &Section, table: &Table, rows: Option<&[usize]>) -> SectionView {
    let picked: Vec<&Vec<Value>> = match rows {
        None => table.rows.iter().collect(),
        Some(rows) => rows.iter().map(|&r| &table.rows[r]).collect(),
    };
    let indices: Vec<Option<usize>> = def.columns.iter().map(|c| table.index(&c.column)).collect();
    let rows: Vec<Vec<Value>> =
        picked.iter().map(|r| indices.iter().map(|i| i.map_or(Value::Null, |i| r[i].clone())).collect()).collect();
    let mut groups: Vec<(Option<String>, usize)> = Vec::new();
    for c in &def.columns {
        match groups.last_mut() {
            Some((g, n)) if g.is_some() && *g == c.group => *n += 1,
            _ => groups.push((c.group.clone(), 1)),
        }
    }
    let total = def.total.then(|| {
        let mut total: Vec<Value> = def
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let numeric = rows.iter().any(|r| matches!(r[i], Value::Int(_)));
                // Rates are not summed; medians neither.
                if c.format.is_some() || !numeric {
                    Value::Null
                } else {
                    Value::Int(rows.iter().filter_map(|r| r[i].as_f64()).sum::<f64>() as i64)
                }
            })
            .collect();
        total[0] = Value::Text("合计".into());
        total
    });
    let chart = def.chart.as_ref().map(|chart| {
        let x = table.index(&chart.x);
        let mut by_x: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in &picked {
            let label = x.map(|i| label(&r[i])).unwrap_or_default();
            let sums = by_x.entry(label).or_insert_with(|| vec![0.0; chart.series.len()]);
            for (k, s) in chart.series.iter().enumerate() {
                sums[k] += table.index(s).and_then(|i| r[i].as_f64()).unwrap_or(0.0);
            }
        }
        let header = |column: &str| {
            def.columns.iter().find(|c| c.column == column).map_or(column.to_string(), |c| c.header.clone())
        };
        Chart {
            labels: by_x.keys().cloned().collect(),
            series: chart
                .series
                .iter()
                .enumerate()
                .map(|(k, s)| (header(s), by_x.values().map(|v| v[k]).collect()))
                .collect(),
        }
    });
    SectionView { title: def.title.clone(), columns: def.columns.clone(), groups, rows, total, chart }
}

/// A value as text for HTML and chart labels.
pub fn label(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:.2}"),
        Value::Text(t) => t.clone(),
        Value::Date(d) => d.to_string(),
    }
}

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
    /// The most rows the HTML page shows (the section's top N); the workbook has them all.
    pub limit: Option<usize>,
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
    let mut picked: Vec<&Vec<Value>> = match rows {
        None => table.rows.iter().collect(),
        Some(rows) => rows.iter().map(|&r| &table.rows[r]).collect(),
    };
    filter_and_sort(def, table, &mut picked);
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
    // No rows, no chart: a workbook's chart over an empty range is an error, and an empty
    // chart says nothing the empty table does not.
    let chart = def.chart.as_ref().filter(|_| !picked.is_empty()).map(|chart| {
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
    SectionView { title: def.title.clone(), columns: def.columns.clone(), groups, rows, total, chart, limit: def.limit }
}

/// Applies a section's filter and sort to its rows. A column the step does not have is blank in
/// every row: `not_equals`, `above` and `below` fail on it, and `equals` holds only for "".
fn filter_and_sort(def: &Section, table: &Table, rows: &mut Vec<&Vec<Value>>) {
    let at = |column: &str| table.index(column);
    for condition in &def.filter {
        let i = at(&condition.column);
        rows.retain(|r| {
            let value = i.map_or(&Value::Null, |i| &r[i]);
            let text = label(value);
            match (&condition.equals, &condition.not_equals, condition.above, condition.below) {
                (Some(want), ..) => text == *want,
                (_, Some(other), ..) => !text.is_empty() && text != *other,
                (_, _, Some(floor), _) => value.as_f64().is_some_and(|v| v > floor),
                (_, _, _, Some(ceiling)) => value.as_f64().is_some_and(|v| v < ceiling),
                _ => true,
            }
        });
    }
    if !def.sort.is_empty() {
        let keys: Vec<(Option<usize>, bool)> = def.sort.iter().map(|k| (at(&k.column), k.descending)).collect();
        // Stable: rows equal on every key keep the step's order (deterministic output).
        rows.sort_by(|a, b| {
            keys.iter()
                .map(|&(i, descending)| {
                    let (x, y) = i.map_or((&Value::Null, &Value::Null), |i| (&a[i], &b[i]));
                    compare(x, y, descending)
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
}

/// Orders two values of a column: numbers as numbers, dates as dates, text as text; a blank
/// value after any other, whichever the direction.
fn compare(a: &Value, b: &Value, descending: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ordered = match (a, b) {
        (Value::Null, Value::Null) => return Ordering::Equal,
        (Value::Null, _) => return Ordering::Greater,
        (_, Value::Null) => return Ordering::Less,
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => label(a).cmp(&label(b)),
        },
    };
    if descending { ordered.reverse() } else { ordered }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn def(toml: &str) -> Section {
        toml::from_str(&format!("title = \"t\"\nstep = \"s\"\nscopes = [\"district\"]\ncolumns = [{{ column = \"name\", header = \"n\" }}]\n{toml}")).unwrap()
    }

    #[test]
    fn a_section_filters_sorts_and_keeps_every_row_for_the_workbook() {
        let text = |s: &str| Value::Text(s.into());
        let table = Table {
            columns: vec!["name".into(), "status".into(), "days".into()],
            rows: vec![
                vec![text("a"), text("已报"), Value::Int(5)],
                vec![text("b"), text("应报未报"), Value::Null],
                vec![text("c"), text("零报告"), Value::Int(2)],
                vec![text("d"), Value::Null, Value::Int(9)],
                vec![text("e"), text("应报未报"), Value::Int(2)],
            ],
        };
        let names = |v: &SectionView| v.rows.iter().map(|r| label(&r[0])).collect::<Vec<_>>();
        // Not 已报 and not blank; by days, most first, blanks last; ties keep the step's order.
        let exceptions = def("filter = [{ column = \"status\", not_equals = \"已报\" }]\n\
             sort = [{ column = \"days\", descending = true }]\nlimit = 2");
        let view = section(&exceptions, &table, None);
        assert_eq!(names(&view), ["c", "e", "b"]);
        assert_eq!(view.limit, Some(2));
        assert_eq!(crate::report::html::section(&view, 1000).rows_omitted, 1, "the page shows the top 2");
        // Numbers compare as numbers, a unit's rows only.
        let above = def("filter = [{ column = \"days\", above = 2 }]\nsort = [{ column = \"days\" }]");
        assert_eq!(names(&section(&above, &table, Some(&[0, 2, 3]))), ["a", "d"]);
        let missing = def("filter = [{ column = \"no_such_column\", below = 100 }]");
        assert!(section(&missing, &table, None).rows.is_empty());
    }

    #[test]
    fn a_unit_with_no_rows_for_a_charted_section_gets_no_chart_and_its_workbook_is_written() {
        let table = Table {
            columns: vec!["name".into(), "day".into(), "visits".into()],
            rows: vec![vec![Value::Text("a".into()), Value::Text("2022-05-10".into()), Value::Int(3)]],
        };
        let trend = def("chart = { x = \"day\", series = [\"visits\"] }");
        assert_eq!(section(&trend, &table, None).chart.map(|c| c.labels.len()), Some(1));
        let none = section(&trend, &table, Some(&[]));
        assert!(none.chart.is_none(), "no rows, no chart");
        let dir = tempfile::tempdir().unwrap();
        let options = crate::report::xlsx::Options { constant_memory_from_rows: 5_000, temp_dir: dir.path() };
        let date = chrono::NaiveDate::from_ymd_opt(2022, 5, 10).unwrap();
        crate::report::xlsx::write(&dir.path().join("u.xlsx"), "t", &[none], date, &options)
            .expect("a workbook whose charted section is empty");
    }
}

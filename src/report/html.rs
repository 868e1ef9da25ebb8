//! A report as one self-contained HTML file, rendered by the workspace's tera templates
//! (escaping always on). Charts are inline SVG drawn here, from escaped text only.

use serde::Serialize;

use super::definition::{Alert, Format as ColumnFormat};
use super::table::Value;
use super::view::{Chart, SectionView, label};

#[derive(Debug, Serialize)]
pub struct Cell {
    pub text: String,
    pub class: &'static str,
}

#[derive(Debug, Serialize)]
pub struct HeaderCell {
    pub text: String,
    pub colspan: usize,
    pub rowspan: usize,
}

#[derive(Debug, Serialize)]
pub struct SectionContext {
    pub title: String,
    /// One or two header rows.
    pub header_rows: Vec<Vec<HeaderCell>>,
    pub rows: Vec<Vec<Cell>>,
    /// Rows beyond the page's limit, shown only in the workbook.
    pub rows_omitted: usize,
    pub total: Option<Vec<Cell>>,
    /// An inline SVG chart, built from escaped text (the template marks it safe).
    pub chart_svg: Option<String>,
    pub empty: bool,
}

/// A section for the template, with at most `max_rows` rows (or the section's own top N).
pub fn section(view: &SectionView, max_rows: usize) -> SectionContext {
    let max_rows = view.limit.map_or(max_rows, |n| n.min(max_rows));
    let mut header_rows = vec![Vec::new()];
    if view.has_groups() {
        header_rows.push(Vec::new());
        let mut c = 0;
        for (group, span) in &view.groups {
            match group {
                Some(g) => {
                    header_rows[0].push(HeaderCell { text: g.clone(), colspan: *span, rowspan: 1 });
                    for k in 0..*span {
                        header_rows[1].push(HeaderCell {
                            text: view.columns[c + k].header.clone(),
                            colspan: 1,
                            rowspan: 1,
                        });
                    }
                }
                None => {
                    for k in 0..*span {
                        header_rows[0].push(HeaderCell {
                            text: view.columns[c + k].header.clone(),
                            colspan: 1,
                            rowspan: 2,
                        });
                    }
                }
            }
            c += span;
        }
    } else {
        header_rows[0] =
            view.columns.iter().map(|c| HeaderCell { text: c.header.clone(), colspan: 1, rowspan: 1 }).collect();
    }
    let cells = |values: &Vec<Value>| -> Vec<Cell> {
        values
            .iter()
            .zip(&view.columns)
            .map(|(v, c)| {
                let numeric = v.as_f64();
                let text = match (v, c.format) {
                    (Value::Int(_) | Value::Float(_), Some(ColumnFormat::Percent)) => {
                        format!("{:.1}%", numeric.unwrap_or(0.0) * 100.0)
                    }
                    _ => label(v),
                };
                let alert = match (c.alert, numeric) {
                    (Some(Alert::RedIfPositive), Some(n)) if n > 0.0 => "num overdue",
                    (Some(Alert::AmberBelow), Some(n)) if n < c.target.unwrap_or(0.0) => "num below",
                    (_, Some(_)) => "num",
                    _ => "",
                };
                Cell { text, class: alert }
            })
            .collect()
    };
    SectionContext {
        title: view.title.clone(),
        header_rows,
        rows: view.rows.iter().take(max_rows).map(cells).collect(),
        rows_omitted: view.rows.len().saturating_sub(max_rows),
        total: view.total.as_ref().map(cells),
        chart_svg: view.chart.as_ref().map(svg),
        empty: view.rows.is_empty(),
    }
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

const COLORS: &[&str] = &["#0969da", "#1a7f37", "#bf8700", "#cf222e", "#8250df"];

/// Line charts as inline SVG, one per series (small multiples): each on its own scale, so that
/// 3 new returnees a day read as clearly beside 2,000 visits as the visits do. Each has its
/// name, its x labels (MM-DD) and its maximum.
fn svg(chart: &Chart) -> String {
    chart
        .series
        .iter()
        .enumerate()
        .map(|(s, (name, values))| one_series(&chart.labels, name, values, COLORS[s % COLORS.len()]))
        .collect()
}

fn one_series(labels: &[String], name: &str, values: &[f64], color: &str) -> String {
    let (w, h, left, bottom, top) = (640.0, 150.0, 48.0, 28.0, 24.0);
    let n = labels.len().max(1);
    let max = values.iter().copied().fold(1.0f64, f64::max);
    let x = |i: usize| left + (w - left - 10.0) * if n > 1 { i as f64 / (n - 1) as f64 } else { 0.5 };
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / max);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-label=\"{}\">\
<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#8c959f\"/>\
<text x=\"4\" y=\"{}\" font-size=\"11\">{}</text>\
<rect x=\"{left}\" y=\"6\" width=\"10\" height=\"10\" fill=\"{color}\"/>\
<text x=\"{}\" y=\"15\" font-size=\"12\">{}</text>",
        escape(name),
        h - bottom,
        w - 10.0,
        h - bottom,
        top + 4.0,
        max as i64,
        left + 14.0,
        escape(name)
    );
    for (i, label) in labels.iter().enumerate() {
        if n <= 8 || i % 2 == 0 || i == n - 1 {
            let short = label.get(5..).unwrap_or(label);
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                x(i),
                h - 10.0,
                escape(short)
            ));
        }
    }
    let points: Vec<String> = values.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v))).collect();
    out.push_str(&format!(
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
        points.join(" ")
    ));
    out.push_str("</svg>");
    out
}

//! The sample district's files as data: sheets of cells with the outcome each row must have,
//! and the writers that turn them into `.xlsx` workbooks and GBK CSV files.

use chrono::{NaiveDate, NaiveDateTime};
use rust_xlsxwriter::{DocProperties, Format, FormatAlign, Workbook, XlsxError};

pub use crate::normalize::text::column_letter;

/// One cell as an office would have typed it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// A date cell (a serial with a date format, which readers see as a date).
    Date(NaiveDate),
    /// A date-time cell.
    DateTime(NaiveDateTime),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// How the cell reads when shown as text (for `raw` in truth.json).
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => crate::normalize::text::number_text(*n),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::DateTime(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        }
    }
}

/// A column of a form as one office labels it.
#[derive(Debug, Clone)]
pub struct Column {
    /// Canonical field name (`citizen_id`, `arrival_date`, ...); `seq` for 序号.
    pub field: &'static str,
    pub header: String,
    /// Parent of a two-row merged header ("基本信息" over "姓名").
    pub parent: Option<&'static str>,
}

/// Why a row is skipped rather than read as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Title,
    Header,
    RepeatedHeader,
    Blank,
    Total,
    Note,
    ZeroReport,
}

/// What a correct ingest must do with a data row, decided where the row was made.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Accepted, with the warnings it must carry (e.g. `invalid_phone`).
    Accept { warnings: Vec<(&'static str, &'static str)> },
    /// Rejected for `reason` because of the cell in column `field`; `detail` narrows it.
    Reject { reason: &'static str, field: &'static str, detail: Option<&'static str> },
}

/// A row and what must happen to it.
#[derive(Debug, Clone)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub kind: RowKind,
}

#[derive(Debug, Clone)]
pub enum RowKind {
    Data {
        expect: Expect,
        /// Identity for duplicate detection (same person, same form, same report date); the
        /// truth builder keeps the first occurrence in processing order and rejects the rest.
        dedup_key: Option<String>,
        /// Grid the accepted row counts for in the daily figures.
        grid_code: String,
        /// Facts the daily figures need beyond the row's form and grid (a work order's
        /// `order_id`, `received` and `closed` dates).
        facts: Vec<(&'static str, String)>,
    },
    Skip(SkipReason),
}

/// What becomes of a whole sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SheetStatus {
    /// Read as `form`.
    Read,
    /// Hidden: skipped and reported, never read.
    Hidden,
    /// Matches no form (an instructions sheet): reported with the closest form.
    Unrecognised,
}

/// A sheet of a sample file.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub name: String,
    pub status: SheetStatus,
    pub form: Option<&'static str>,
    /// Title rows above the header, each merged across the table ("XX社区来唐返唐人员登记表").
    pub titles: Vec<String>,
    pub columns: Vec<Column>,
    /// Whether the header has a parent row above the column names.
    pub two_row_header: bool,
    pub rows: Vec<Row>,
    /// Free lines of an instructions sheet (no table).
    pub lines: Vec<String>,
}

impl Sheet {
    pub fn header_row_count(&self) -> usize {
        if self.columns.is_empty() {
            0
        } else if self.two_row_header {
            2
        } else {
            1
        }
    }

    /// 1-based Excel row number of the first data row.
    pub fn first_data_row(&self) -> usize {
        self.titles.len() + self.header_row_count() + 1
    }

    pub fn column_index(&self, field: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.field == field)
    }
}

/// Writes sheets to an `.xlsx` file's bytes. `created` fixes the document's creation time so
/// that the same data always gives the same bytes.
pub fn write_xlsx(sheets: &[Sheet], created: NaiveDate) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    workbook.set_properties(&DocProperties::new().set_author("网格员").set_creation_datetime(&created));
    let title_format = Format::new().set_bold().set_font_size(14).set_align(FormatAlign::Center);
    let header_format = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_border(rust_xlsxwriter::FormatBorder::Thin);
    let date_format = Format::new().set_num_format("yyyy/m/d");
    let datetime_format = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let note_format = Format::new().set_align(FormatAlign::Left);
    for sheet in sheets {
        let ws = workbook.add_worksheet();
        ws.set_name(&sheet.name)?;
        if sheet.status == SheetStatus::Hidden {
            ws.set_hidden(true);
        }
        for (i, line) in sheet.lines.iter().enumerate() {
            ws.write_string(i as u32, 0, line)?;
        }
        if !sheet.lines.is_empty() {
            ws.set_column_width(0, 80)?;
        }
        let last_col = sheet.columns.len().saturating_sub(1) as u16;
        let mut row = 0u32;
        for title in &sheet.titles {
            if last_col > 0 {
                ws.merge_range(row, 0, row, last_col, title, &title_format)?;
            } else {
                ws.write_string_with_format(row, 0, title, &title_format)?;
            }
            row += 1;
        }
        if !sheet.columns.is_empty() {
            write_header(ws, sheet, row, &header_format)?;
            row += sheet.header_row_count() as u32;
        }
        for (c, column) in sheet.columns.iter().enumerate() {
            let width = column.header.chars().count().max(4) as f64 * 2.2 + 2.0;
            ws.set_column_width(c as u16, width.min(30.0))?;
        }
        for data in &sheet.rows {
            match &data.kind {
                RowKind::Skip(SkipReason::Note) if last_col > 0 => {
                    let text = data.cells.first().map(Cell::display).unwrap_or_default();
                    ws.merge_range(row, 0, row, last_col, &text, &note_format)?;
                }
                _ => {
                    for (c, cell) in data.cells.iter().enumerate() {
                        let c = c as u16;
                        match cell {
                            Cell::Empty => {}
                            Cell::Text(s) => {
                                ws.write_string(row, c, s)?;
                            }
                            Cell::Number(n) => {
                                ws.write_number(row, c, *n)?;
                            }
                            Cell::Date(d) => {
                                ws.write_date_with_format(row, c, d, &date_format)?;
                            }
                            Cell::DateTime(t) => {
                                ws.write_datetime_with_format(row, c, t, &datetime_format)?;
                            }
                        }
                    }
                }
            }
            row += 1;
        }
    }
    workbook.save_to_buffer()
}

fn write_header(
    ws: &mut rust_xlsxwriter::Worksheet,
    sheet: &Sheet,
    row: u32,
    format: &Format,
) -> Result<(), XlsxError> {
    if !sheet.two_row_header {
        for (c, column) in sheet.columns.iter().enumerate() {
            ws.write_string_with_format(row, c as u16, &column.header, format)?;
        }
        return Ok(());
    }
    // Two-row header: a parent merged across its children; a column without a parent is
    // merged over both rows.
    let mut c = 0usize;
    while c < sheet.columns.len() {
        let column = &sheet.columns[c];
        match column.parent {
            None => {
                ws.merge_range(row, c as u16, row + 1, c as u16, &column.header, format)?;
                c += 1;
            }
            Some(parent) => {
                let mut end = c;
                while end + 1 < sheet.columns.len() && sheet.columns[end + 1].parent == Some(parent) {
                    end += 1;
                }
                if end > c {
                    ws.merge_range(row, c as u16, row, end as u16, parent, format)?;
                } else {
                    ws.write_string_with_format(row, c as u16, parent, format)?;
                }
                for (k, child) in sheet.columns[c..=end].iter().enumerate() {
                    ws.write_string_with_format(row + 1, (c + k) as u16, &child.header, format)?;
                }
                c = end + 1;
            }
        }
    }
    Ok(())
}

/// Writes one sheet as a CSV file encoded in GBK, as the hotline system exports it: header on
/// the first line, CRLF line ends, no BOM.
pub fn write_gbk_csv(sheet: &Sheet) -> Vec<u8> {
    let mut text = String::new();
    let line = |cells: Vec<String>| -> String {
        let quoted: Vec<String> = cells
            .into_iter()
            .map(|s| if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s })
            .collect();
        quoted.join(",") + "\r\n"
    };
    text.push_str(&line(sheet.columns.iter().map(|c| c.header.clone()).collect()));
    for row in &sheet.rows {
        text.push_str(&line(row.cells.iter().map(csv_text).collect()));
    }
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
    debug_assert!(!unmappable, "sample CSV text must be representable in GBK");
    bytes.into_owned()
}

fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::DateTime(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        other => other.display(),
    }
}

#[cfg(test)]
mod tests {
    use super::column_letter;

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
    }
}

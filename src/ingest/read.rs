//! Reading one file into sheets of neutral cells: workbooks through calamine (xlsx, xlsm,
//! xlsb, xls, ods), CSV/TXT in UTF-8 or GBK/GB18030, and the HTML tables that older systems
//! save as `.xls`. The format is sniffed from the bytes, not trusted from the extension
//! (domain.md §3.6–3.7). A file that cannot be read is an error naming what was expected;
//! a panic inside a reader is caught and becomes such an error too.

use std::io::Cursor;

use calamine::{Data, DataRef, Reader, SheetType, SheetVisible, Sheets, open_workbook_auto_from_rs};

use super::limits::Limits;
use crate::normalize::value::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Visible,
    Hidden,
    VeryHidden,
    /// A chart, dialog or macro sheet: listed and reported, never read, so that a community
    /// that adds a chart to its workbook loses nothing of its worksheets.
    NotAWorksheet(&'static str),
}

/// A merged range, 0-based and inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    pub first_row: usize,
    pub first_col: usize,
    pub last_row: usize,
    pub last_col: usize,
}

/// One sheet: cells from Excel row 1 and column A, so that row numbers are the user's.
#[derive(Debug, Clone)]
pub struct RawSheet {
    pub name: String,
    pub visibility: Visibility,
    pub rows: Vec<Vec<Cell>>,
    pub merged: Vec<Merge>,
}

/// What the bytes of a file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A zip package: xlsx, xlsm, xlsb or ods.
    Package,
    /// An OLE compound file: BIFF `.xls`.
    Ole,
    /// An OLE compound file holding an encrypted OOXML package (a password-protected workbook).
    EncryptedPackage,
    Csv,
    Html,
    SpreadsheetMl,
    Unknown,
}

impl FileKind {
    pub fn label(self) -> &'static str {
        match self {
            FileKind::Package => "workbook",
            FileKind::Ole => "xls",
            FileKind::EncryptedPackage => "encrypted workbook",
            FileKind::Csv => "csv",
            FileKind::Html => "html table",
            FileKind::SpreadsheetMl => "SpreadsheetML 2003",
            FileKind::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadError {
    #[error("the file is empty")]
    Empty,
    #[error("the workbook is password-protected; save an unprotected copy")]
    Encrypted,
    #[error("the file is an Excel 2003 XML (SpreadsheetML) table, not a workbook; open it and save it as .xlsx")]
    SpreadsheetMl,
    #[error("not a spreadsheet: expected .xlsx, .xlsm, .xlsb, .xls, .ods, .csv or .txt, found {0}")]
    Unsupported(String),
    #[error("cannot read the workbook: {0}")]
    Corrupt(String),
    #[error(
        "the .xlsb uses compact cell records (in `{0}`) that the reader cannot place; open it and save it as .xlsx"
    )]
    XlsbShortRecords(String),
    #[error("sheet `{sheet}` is too large: {cells} cells, over the budget of {budget}")]
    TooLarge { sheet: String, cells: u64, budget: u64 },
    #[error("the reader failed unexpectedly ({0}); the file is probably damaged")]
    Panicked(String),
    #[error("refused before reading: {0}")]
    Limit(String),
}

/// Sniffs the kind of a file from its first bytes and its extension.
pub fn sniff(bytes: &[u8], extension: &str) -> FileKind {
    let ext = extension.to_ascii_lowercase();
    if bytes.starts_with(b"PK\x03\x04") {
        return FileKind::Package;
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        let marker: Vec<u8> = "EncryptedPackage".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        return if bytes.windows(marker.len()).any(|w| w == marker.as_slice()) {
            FileKind::EncryptedPackage
        } else {
            FileKind::Ole
        };
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    if head.starts_with('<') {
        if head.contains("urn:schemas-microsoft-com:office:spreadsheet") {
            return FileKind::SpreadsheetMl;
        }
        if head.contains("<table") || head.contains("<html") {
            return FileKind::Html;
        }
    }
    if matches!(ext.as_str(), "csv" | "txt" | "tsv") {
        return FileKind::Csv;
    }
    FileKind::Unknown
}

/// Reads a file's sheets. Never panics: a panic in a reader becomes `ReadError::Panicked`;
/// sizes the file declares inside itself are checked against `limits` first (see `limits`).
pub fn read(bytes: Vec<u8>, extension: &str, limits: &Limits) -> Result<(FileKind, Vec<RawSheet>), ReadError> {
    if bytes.is_empty() {
        return Err(ReadError::Empty);
    }
    super::limits::check_file_size(bytes.len() as u64, limits)?;
    let kind = sniff(&bytes, extension);
    let sheets = match kind {
        FileKind::Package => {
            guarded(|| super::limits::check_package(Cursor::new(&bytes), limits))?;
            if let Some(part) = super::xlsb::worksheet_with_short_records(&bytes) {
                return Err(ReadError::XlsbShortRecords(part));
            }
            guarded(|| read_workbook(bytes, limits))?
        }
        FileKind::Ole => {
            guarded(|| super::limits::check_xls(&bytes, limits))?;
            guarded(|| read_workbook(bytes, limits))?
        }
        FileKind::Csv => vec![read_csv(&bytes)],
        FileKind::Html => guarded(|| Ok(vec![read_html_table(&bytes)]))?,
        FileKind::EncryptedPackage => return Err(ReadError::Encrypted),
        FileKind::SpreadsheetMl => return Err(ReadError::SpreadsheetMl),
        FileKind::Unknown => return Err(ReadError::Unsupported(format!("`.{extension}` content"))),
    };
    Ok((kind, sheets))
}

/// Runs a reader; a panic becomes `ReadError::Panicked` with where it happened, never its
/// message (which may quote a cell: see `guard`).
pub(super) fn guarded<T>(f: impl FnOnce() -> Result<T, ReadError>) -> Result<T, ReadError> {
    crate::guard::catch(f).unwrap_or_else(|at| Err(ReadError::Panicked(at)))
}

fn read_workbook(bytes: Vec<u8>, limits: &Limits) -> Result<Vec<RawSheet>, ReadError> {
    // An xlsx keeps its merged ranges at the end of each sheet's XML, so calamine parses the
    // sheet a second time to find them; do that on another thread while this one reads the
    // cells.
    let merges_of_xlsx = bytes.starts_with(b"PK").then(|| bytes.clone());
    std::thread::scope(|scope| {
        let merges = merges_of_xlsx.map(|copy| scope.spawn(move || xlsx_merges(copy)));
        let mut sheets = read_cells(bytes, limits.max_cells)?;
        if let Some(Ok(Some(by_sheet))) = merges.map(|h| h.join()) {
            for sheet in &mut sheets {
                if let Some(m) = by_sheet.get(&sheet.name) {
                    sheet.merged = m.clone();
                }
            }
        }
        Ok(sheets)
    })
}

/// Merged ranges of every sheet of an xlsx/xlsm package, by sheet name.
fn xlsx_merges(bytes: Vec<u8>) -> Option<std::collections::HashMap<String, Vec<Merge>>> {
    super::xlsx_merges::by_sheet(&bytes)
}

fn read_cells(bytes: Vec<u8>, budget: u64) -> Result<Vec<RawSheet>, ReadError> {
    let is_xlsx = bytes.starts_with(b"PK");
    let mut workbook = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| ReadError::Corrupt(e.to_string()))?;
    let metadata = workbook.sheets_metadata().to_vec();
    let mut sheets = Vec::new();
    for meta in metadata {
        let visibility = sheet_visibility(&meta);
        if visibility != Visibility::Visible {
            // Hidden sheets and chart sheets are reported, never read.
            sheets.push(RawSheet { name: meta.name, visibility, rows: Vec::new(), merged: Vec::new() });
            continue;
        }
        let name = meta.name.as_str();
        let rows = match &mut workbook {
            // xlsx and xlsb cells straight from the file, never a second copy in a `Range`, and
            // counted against the budget as they come: a cell at XFD1048576 must not make a
            // reader allocate the whole sheet.
            Sheets::Xlsx(xlsx) => {
                let corrupt = |e: calamine::XlsxError| ReadError::Corrupt(format!("sheet `{name}`: {e}"));
                let mut reader = xlsx.worksheet_cells_reader(name).map_err(corrupt)?;
                collect_cells(name, budget, || {
                    reader.next_cell().map_err(corrupt).map(|c| c.map(|c| (c.get_position(), cell_of(c.get_value()))))
                })?
            }
            Sheets::Xlsb(xlsb) => {
                let corrupt = |e: calamine::XlsbError| ReadError::Corrupt(format!("sheet `{name}`: {e}"));
                let mut reader = xlsb.worksheet_cells_reader(name).map_err(corrupt)?;
                collect_cells(name, budget, || {
                    reader.next_cell().map_err(corrupt).map(|c| c.map(|c| (c.get_position(), cell_of(c.get_value()))))
                })?
            }
            _ => {
                let range =
                    workbook.worksheet_range(name).map_err(|e| ReadError::Corrupt(format!("sheet `{name}`: {e}")))?;
                range_rows(name, &range, budget)?
            }
        };
        // xlsx merges come from the other thread (see `read_workbook`).
        let merged = if is_xlsx { Vec::new() } else { merged_regions(&mut workbook, &meta.name) };
        sheets.push(RawSheet { name: meta.name, visibility, rows, merged });
    }
    Ok(sheets)
}

/// The cells a streaming cell reader gives, placed in rows; `next` gives each cell's position
/// and value (`None` for an empty one), and `None` at the end.
fn collect_cells(
    name: &str,
    budget: u64,
    mut next: impl FnMut() -> Result<Option<((u32, u32), Option<Cell>)>, ReadError>,
) -> Result<Vec<Vec<Cell>>, ReadError> {
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let (mut height, mut width) = (0u64, 0u64);
    while let Some(((r, c), value)) = next()? {
        let Some(value) = value else { continue };
        height = height.max(u64::from(r) + 1);
        width = width.max(u64::from(c) + 1);
        if height.saturating_mul(width) > budget {
            return Err(ReadError::TooLarge { sheet: name.to_string(), cells: height.saturating_mul(width), budget });
        }
        let (r, c) = (r as usize, c as usize);
        if rows.len() <= r {
            rows.resize_with(r + 1, Vec::new);
        }
        let row = &mut rows[r];
        if row.len() <= c {
            row.resize(c + 1, Cell::Empty);
        }
        row[c] = value;
    }
    for row in &mut rows {
        while row.last().is_some_and(|c| *c == Cell::Empty) {
            row.pop();
        }
    }
    while rows.last().is_some_and(|r| r.is_empty()) {
        rows.pop();
    }
    Ok(rows)
}

pub(super) fn sheet_visibility(meta: &calamine::Sheet) -> Visibility {
    match meta.typ {
        SheetType::WorkSheet => visibility(meta.visible),
        SheetType::ChartSheet => Visibility::NotAWorksheet("chart sheet"),
        SheetType::DialogSheet => Visibility::NotAWorksheet("dialog sheet"),
        SheetType::MacroSheet => Visibility::NotAWorksheet("macro sheet"),
        SheetType::Vba => Visibility::NotAWorksheet("VBA module"),
    }
}

pub(super) fn visibility(visible: SheetVisible) -> Visibility {
    match visible {
        SheetVisible::Visible => Visibility::Visible,
        SheetVisible::Hidden => Visibility::Hidden,
        SheetVisible::VeryHidden => Visibility::VeryHidden,
    }
}

/// A cell from calamine's streaming reader; `None` for an empty one.
pub(super) fn cell_of(value: &DataRef<'_>) -> Option<Cell> {
    Some(match value {
        DataRef::Empty => return None,
        DataRef::SharedString(s) => Cell::Text((*s).to_string()),
        DataRef::String(s) => Cell::Text(s.clone()),
        DataRef::Float(f) => Cell::Number(*f),
        DataRef::Int(i) => Cell::Number(*i as f64),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(dt) => to_cell(&Data::DateTime(*dt)),
        DataRef::DateTimeIso(s) => to_cell(&Data::DateTimeIso(s.clone())),
        DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::Error(e) => Cell::Error(e.to_string()),
    })
}

/// The cells of a sheet read into a `Range` (xls, xlsb, ods).
fn range_rows(name: &str, range: &calamine::Range<Data>, budget: u64) -> Result<Vec<Vec<Cell>>, ReadError> {
    let (height, width) = range.get_size();
    let cells = (height as u64).saturating_mul(width as u64);
    if cells > budget {
        return Err(ReadError::TooLarge { sheet: name.to_string(), cells, budget });
    }
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    if let Some((r0, c0)) = range.start() {
        let (r0, c0) = (r0 as usize, c0 as usize);
        rows.resize_with(r0, Vec::new);
        for row in range.rows() {
            let mut cells: Vec<Cell> = Vec::with_capacity(c0 + row.len());
            cells.resize(c0, Cell::Empty);
            cells.extend(row.iter().map(to_cell));
            while cells.last().is_some_and(|c| *c == Cell::Empty) {
                cells.pop();
            }
            rows.push(cells);
        }
    }
    while rows.last().is_some_and(|r| r.is_empty()) {
        rows.pop();
    }
    Ok(rows)
}

fn merged_regions(workbook: &mut Sheets<Cursor<Vec<u8>>>, sheet: &str) -> Vec<Merge> {
    let dims = match workbook {
        Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(sheet).unwrap_or_default(),
        Sheets::Xls(x) => x.merge_cells_by_sheet_name(sheet).unwrap_or_default(),
        // xlsb and ods merged ranges are not exposed by calamine; headers still match on
        // their child labels.
        _ => Vec::new(),
    };
    dims.into_iter()
        .map(|d| Merge {
            first_row: d.start.0 as usize,
            first_col: d.start.1 as usize,
            last_row: d.end.0 as usize,
            last_col: d.end.1 as usize,
        })
        .collect()
}

fn to_cell(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Float(f) => Cell::Number(*f),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) => Cell::DateTime(t),
            None => Cell::Number(dt.as_f64()),
        },
        Data::DateTimeIso(s) => chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
            .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| d.and_time(chrono::NaiveTime::MIN)))
            .map(Cell::DateTime)
            .unwrap_or_else(|_| Cell::Text(s.clone())),
        Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Error(e.to_string()),
    }
}

/// Decodes CSV text: a UTF-8 BOM means UTF-8; otherwise strict UTF-8 if it is valid, else
/// GB18030 (a superset of GBK, what Chinese Excel and WPS write).
pub fn decode_text(bytes: &[u8]) -> (String, &'static str) {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return (String::from_utf8_lossy(rest).into_owned(), "utf-8-bom");
    }
    // Excel's "Unicode text" export is UTF-16 (little-endian, with a BOM); a UTF-16 text
    // without one shows as a NUL byte after most ASCII characters.
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return (encoding_rs::UTF_16LE.decode_without_bom_handling(rest).0.into_owned(), "utf-16le");
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return (encoding_rs::UTF_16BE.decode_without_bom_handling(rest).0.into_owned(), "utf-16be");
    }
    let head = &bytes[..bytes.len().min(4096)];
    let odd_nuls = head.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    if head.len() >= 8 && odd_nuls * 3 > head.len() / 2 {
        return (encoding_rs::UTF_16LE.decode_without_bom_handling(bytes).0.into_owned(), "utf-16le");
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), "utf-8"),
        Err(_) => (encoding_rs::GB18030.decode_without_bom_handling(bytes).0.into_owned(), "gb18030"),
    }
}

fn read_csv(bytes: &[u8]) -> RawSheet {
    let (text, _) = decode_text(bytes);
    // The delimiter from the first lines, not the first alone: a title line above the header
    // (as Excel's text exports keep) has neither.
    let head: Vec<&str> = text.lines().take(20).collect();
    let count = |c: char| head.iter().map(|l| l.matches(c).count()).sum::<usize>();
    let delimiter = if count('\t') > count(',') { b'\t' } else { b',' };
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let row: Vec<Cell> = match record {
            Ok(r) => r.iter().map(|v| if v.is_empty() { Cell::Empty } else { Cell::Text(v.to_string()) }).collect(),
            Err(_) => vec![Cell::Error("#CSV!".into())],
        };
        rows.push(row);
    }
    while rows.last().is_some_and(|r: &Vec<Cell>| r.iter().all(Cell::is_blank)) {
        rows.pop();
    }
    RawSheet { name: String::new(), visibility: Visibility::Visible, rows, merged: Vec::new() }
}

/// Reads the first `<table>` of an HTML export saved as `.xls`: rows of `<td>`/`<th>` text.
fn read_html_table(bytes: &[u8]) -> RawSheet {
    let (text, _) = decode_text(bytes);
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<table").unwrap_or(0);
    let end = lower[start..].find("</table>").map_or(text.len(), |e| start + e);
    let (table, table_lower) = (&text[start..end], &lower[start..end]);
    let mut rows = Vec::new();
    for (row_at, _) in table_lower.match_indices("<tr") {
        let row_end = table_lower[row_at + 3..].find("<tr").map_or(table.len(), |e| row_at + 3 + e);
        let (row_text, row_lower) = (&table[row_at..row_end], &table_lower[row_at..row_end]);
        let mut cells = Vec::new();
        let mut pos = 0;
        while let Some(open) = row_lower[pos..].find("<t").map(|i| pos + i) {
            // Compared as bytes: `<t` may be followed by any character, of any length.
            let tag = &row_lower.as_bytes()[open..];
            if !tag.starts_with(b"<td") && !tag.starts_with(b"<th") {
                pos = open + 2;
                continue;
            }
            let content_start = row_lower[open..].find('>').map_or(row_lower.len(), |i| open + i + 1);
            let content_end = row_lower[content_start..].find("</t").map_or(row_lower.len(), |i| content_start + i);
            let value = html_text(&row_text[content_start..content_end]);
            cells.push(if value.is_empty() { Cell::Empty } else { Cell::Text(value) });
            pos = content_end;
        }
        rows.push(cells);
    }
    RawSheet { name: String::new(), visibility: Visibility::Visible, rows, merged: Vec::new() }
}

fn html_text(fragment: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in fragment.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_csv_and_html_xls() {
        let (gbk, _, _) = encoding_rs::GBK.encode("工单编号,所属社区\r\nRX1,荣馨园社区\r\n");
        let (kind, sheets) = read(gbk.into_owned(), "csv", &Limits::default()).unwrap();
        assert_eq!(kind, FileKind::Csv);
        assert_eq!(sheets[0].rows[1][1], Cell::Text("荣馨园社区".into()));
        let html = "<html><body><table><tr><th>姓名</th><th>身份证号</th></tr><tr><td>张&nbsp;伟</td><td>11010519491231002X</td></tr></table></body></html>";
        let (kind, sheets) = read(html.as_bytes().to_vec(), "xls", &Limits::default()).unwrap();
        assert_eq!(kind, FileKind::Html);
        assert_eq!(sheets[0].rows[1], vec![Cell::Text("张 伟".into()), Cell::Text("11010519491231002X".into())]);
    }

    #[test]
    fn damaged_and_empty_files_are_errors() {
        let limits = Limits::default();
        assert!(matches!(read(Vec::new(), "xlsx", &limits), Err(ReadError::Empty)));
        assert!(matches!(
            read(b"PK\x03\x04garbage".to_vec(), "xlsx", &limits),
            Err(ReadError::Corrupt(_) | ReadError::Panicked(_))
        ));
        assert!(matches!(read(b"hello".to_vec(), "docx", &limits), Err(ReadError::Unsupported(_))));
    }
}

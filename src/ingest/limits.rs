//! Bounds on what a file may make wangge allocate, checked before anything is inflated or
//! parsed. A workbook declares sizes inside itself (zip entry sizes, a shared-string count,
//! a sheet's dimension record) and readers trust them: calamine reserves a `Vec` of the
//! declared shared-string count, and an `.xls` dimension record's rows × columns. A declared
//! size past what memory can hold aborts the process (an allocation failure cannot be caught),
//! so such a file is refused here, by name, and the other files go on.

use std::io::{Cursor, Read};

use super::read::ReadError;

/// The limits of `[ingest]` (`wangge.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file read, in bytes.
    pub max_file_bytes: u64,
    /// Largest total a workbook package may inflate to, in bytes.
    pub max_inflated_bytes: u64,
    /// Most cells (rows × columns of the used range) of one sheet, and most shared strings.
    pub max_cells: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_file_bytes: 512 << 20, max_inflated_bytes: 1 << 30, max_cells: 30_000_000 }
    }
}

/// Deflate cannot inflate more than about 1,032 bytes per compressed byte: an entry that
/// declares more is lying about its size.
const MAX_DEFLATE_RATIO: u64 = 1_100;

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// Checks a file's size before it is read.
pub fn check_file_size(bytes: u64, limits: &Limits) -> Result<(), ReadError> {
    if bytes > limits.max_file_bytes {
        return Err(ReadError::Limit(format!(
            "the file is {}, over the limit of {} (`[ingest] max_file_mib`)",
            mib(bytes),
            mib(limits.max_file_bytes)
        )));
    }
    Ok(())
}

/// Checks a zip package (xlsx, xlsm, xlsb, ods) from its directory, inflating nothing: the
/// sizes its parts declare, and the shared-string count. A part that inflates past the size it
/// declares is stopped by the zip reader itself ("larger than its declared uncompressed
/// size"), so the declared sizes bound what any reader can be made to hold.
pub fn check_package<R: Read + std::io::Seek>(package: R, limits: &Limits) -> Result<(), ReadError> {
    let Ok(mut zip) = zip::ZipArchive::new(package) else {
        // Not a zip the reader can open either: its own error says so.
        return Ok(());
    };
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_raw(i) else { continue };
        let (size, compressed) = (entry.size(), entry.compressed_size());
        let name = entry.name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
        if size > compressed.saturating_mul(MAX_DEFLATE_RATIO).saturating_add(1 << 20) {
            return Err(ReadError::Limit(format!(
                "part `{name}` declares {} from {} compressed, more than compression allows (a damaged or hostile package)",
                mib(size),
                mib(compressed)
            )));
        }
        total = total.saturating_add(size);
    }
    if total > limits.max_inflated_bytes {
        return Err(ReadError::Limit(format!(
            "the package inflates to {}, over the limit of {} (`[ingest] max_inflated_mib`)",
            mib(total),
            mib(limits.max_inflated_bytes)
        )));
    }
    if zip.index_for_name("content.xml").is_some() && zip.index_for_name("xl/workbook.xml").is_none() {
        check_ods(&mut zip, limits)?;
    }
    if let Some(count) = shared_string_count(&mut zip) {
        if count.unique > limits.max_cells || count.unique > count.part_size / 4 + 16 {
            return Err(ReadError::Limit(format!(
                "the shared strings declare {} entries in {} of XML, over the limit of {} (`[ingest] max_cells`) or more than the part can hold",
                count.unique,
                mib(count.part_size),
                limits.max_cells
            )));
        }
    }
    Ok(())
}

struct SharedStrings {
    unique: u64,
    part_size: u64,
}

/// The `uniqueCount` (or `count`) the shared-strings part declares, from its first bytes.
fn shared_string_count<R: Read + std::io::Seek>(zip: &mut zip::ZipArchive<R>) -> Option<SharedStrings> {
    let name = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.to_string()))
        .find(|n| n.to_ascii_lowercase().ends_with("sharedstrings.xml"))?;
    let entry = zip.by_name(&name).ok()?;
    let part_size = entry.size();
    let mut head = Vec::new();
    entry.take(64 << 10).read_to_end(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head);
    let start = text.find("<sst")?;
    let tag_end = text[start..].find('>').map_or(text.len(), |e| start + e);
    let tag = &text[start..tag_end];
    let value = |attr: &str| -> Option<u64> {
        let at = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
        let digits: String = tag.get(at..)?.chars().take_while(char::is_ascii_digit).take(20).collect();
        // A number too long for u64 is as absurd as the largest one.
        Some(digits.parse().unwrap_or(u64::MAX))
    };
    let unique = value("uniqueCount").or_else(|| value("count"))?;
    Some(SharedStrings { unique, part_size })
}

/// Checks an OpenDocument spreadsheet's repeated cells. `table:number-rows-repeated` and
/// `table:number-columns-repeated` let a few bytes stand for a million rows; calamine expands
/// a repeated non-empty cell or row into its `Range`, for every sheet at once when the file is
/// opened (fuzzing found a 40 KiB file that made it build and clone tens of millions of cells).
/// The area from the first to the last non-empty cell of each table, repeats expanded, is
/// counted here with a streaming parse, against `max_cells` per sheet and for the workbook.
fn check_ods<R: Read + std::io::Seek>(zip: &mut zip::ZipArchive<R>, limits: &Limits) -> Result<(), ReadError> {
    use quick_xml::events::Event;
    let Ok(entry) = zip.by_name("content.xml") else { return Ok(()) };
    let mut reader = quick_xml::Reader::from_reader(std::io::BufReader::new(entry));
    let mut buf = Vec::new();
    let mut table = OdsArea::default();
    let mut total: u64 = 0;
    // The cell being read: its first column, repeats and whether it holds anything yet.
    let mut cell: Option<(u64, u64, bool)> = None;
    // Tables begun and not yet ended: calamine 0.38 reads a table until its end tag and loops
    // forever on a part that ends first (found by fuzzing), so such a part is refused here.
    let mut open_tables = 0u32;
    loop {
        let event = match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) | Err(_) if open_tables > 0 => {
                return Err(ReadError::Corrupt(
                    "the .ods part `content.xml` ends inside a sheet (a damaged file)".into(),
                ));
            }
            // Elsewhere a damaged part is named by calamine's own error.
            Ok(Event::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        match event {
            Event::Start(e) if e.name().as_ref() == "table:table" => {
                open_tables += 1;
                table = OdsArea::default();
            }
            Event::Start(e) if e.name().as_ref() == "table:table-row" => {
                table.start_row(repeats(&e, "table:number-rows-repeated"));
            }
            Event::Empty(e) if e.name().as_ref() == "table:table-row" => {
                table.start_row(repeats(&e, "table:number-rows-repeated"));
                table.end_row();
            }
            Event::End(e) if e.name().as_ref() == "table:table-row" => table.end_row(),
            Event::Start(e) | Event::Empty(e)
                if matches!(e.name().as_ref(), "table:table-cell" | "table:covered-table-cell") =>
            {
                let n = repeats(&e, "table:number-columns-repeated");
                let valued = e
                    .attributes()
                    .flatten()
                    .any(|a| matches!(a.key.as_ref(), "office:value-type" | "table:formula" | "calcext:value-type"));
                let start = table.column;
                table.column = table.column.saturating_add(n).min(u64::from(calamine_max::COLUMNS));
                if valued {
                    table.mark(start);
                }
                cell = Some((start, n, valued));
            }
            Event::Text(t) if cell.is_some_and(|(_, _, v)| !v) && t.chars().any(|c| !c.is_whitespace()) => {
                if let Some((start, _, valued)) = cell.as_mut() {
                    *valued = true;
                    table.mark(*start);
                }
            }
            Event::End(e) if matches!(e.name().as_ref(), "table:table-cell" | "table:covered-table-cell") => {
                cell = None;
            }
            Event::End(e) if e.name().as_ref() == "table:table" => {
                open_tables = open_tables.saturating_sub(1);
                let cells = table.cells();
                total = total.saturating_add(cells);
                if cells > limits.max_cells || total > limits.max_cells {
                    return Err(ReadError::Limit(format!(
                        "the sheets' repeated rows and cells expand to {} cells, over the limit of {} (`[ingest] max_cells`)",
                        total.max(cells),
                        limits.max_cells
                    )));
                }
            }
            _ => {}
        }
        buf.clear();
    }
    Ok(())
}

/// calamine's caps on an OpenDocument sheet.
mod calamine_max {
    pub const ROWS: u32 = 1_048_576;
    pub const COLUMNS: u32 = 16_384;
}

fn repeats(e: &quick_xml::events::BytesStart<'_>, attribute: &str) -> u64 {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == attribute)
        .and_then(|a| a.value.trim().parse::<u64>().ok())
        .unwrap_or(1)
        .max(1)
}

/// The non-empty area of one OpenDocument table, with repeats expanded as calamine does.
#[derive(Default)]
struct OdsArea {
    /// First row of the current row element, its repeats, and the next free column.
    row: u64,
    row_repeats: u64,
    column: u64,
    row_has_value: bool,
    first_row: Option<u64>,
    end_row: u64,
    first_column: u64,
    end_column: u64,
}

impl OdsArea {
    fn start_row(&mut self, repeats: u64) {
        self.row_repeats = repeats.min(u64::from(calamine_max::ROWS).saturating_sub(self.row));
        self.column = 0;
        self.row_has_value = false;
    }

    /// A non-empty cell starting at `column`, spanning to the current column.
    fn mark(&mut self, column: u64) {
        if self.first_row.is_none() {
            self.first_row = Some(self.row);
            self.first_column = column;
        }
        self.first_column = self.first_column.min(column);
        self.end_column = self.end_column.max(self.column);
        self.row_has_value = true;
    }

    fn end_row(&mut self) {
        let end = self.row.saturating_add(self.row_repeats);
        if self.row_has_value {
            self.end_row = end;
        }
        self.row = end;
        self.row_repeats = 0;
    }

    fn cells(&self) -> u64 {
        let Some(first) = self.first_row else { return 0 };
        self.end_row.saturating_sub(first).saturating_mul(self.end_column.saturating_sub(self.first_column))
    }
}

/// Checks an OLE `.xls` workbook's dimension records: calamine reserves rows × columns cells
/// for each before reading a cell.
///
/// The compound file is opened with the `cfb` crate first, which checks its sector chains: a
/// chain that loops (found by fuzzing) makes calamine's own reader run forever, growing a
/// buffer until memory runs out. A file `cfb` cannot open is refused by name.
pub fn check_xls(bytes: &[u8], limits: &Limits) -> Result<(), ReadError> {
    let mut compound = cfb::CompoundFile::open(Cursor::new(bytes))
        .map_err(|e| ReadError::Corrupt(format!("the .xls compound file is damaged ({e})")))?;
    let stream = ["/Workbook", "/Book", "/WORKBOOK", "/BOOK"].into_iter().find(|p| compound.is_stream(p));
    let Some(stream) = stream else { return Ok(()) };
    let mut data = Vec::new();
    let Ok(mut reader) = compound.open_stream(stream) else { return Ok(()) };
    // The stream cannot be longer than the file that holds it.
    if reader.by_ref().take(bytes.len() as u64).read_to_end(&mut data).is_err() {
        return Ok(());
    }
    let mut at = 0usize;
    while at + 4 <= data.len() {
        let typ = u16::from_le_bytes([data[at], data[at + 1]]);
        let len = usize::from(u16::from_le_bytes([data[at + 2], data[at + 3]]));
        let body = &data[at + 4..(at + 4 + len).min(data.len())];
        if typ == 0x0200 {
            let u32_at =
                |i: usize| body.get(i..i + 4).map_or(0, |b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
            let u16_at = |i: usize| body.get(i..i + 2).map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])));
            let (rows, cols) = match body.len() {
                10 => (u16_at(2).saturating_sub(u16_at(0)), u16_at(6)),
                14 | 16 => (u32_at(4).saturating_sub(u32_at(0)), u16_at(10)),
                _ => (0, 0),
            };
            let cells = rows.saturating_mul(cols);
            if cells > limits.max_cells {
                return Err(ReadError::Limit(format!(
                    "a sheet declares {rows} rows × {cols} columns, over the limit of {} cells (`[ingest] max_cells`)",
                    limits.max_cells
                )));
            }
        }
        at += 4 + len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn package(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in parts {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(body).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn absurd_shared_string_counts_are_refused() {
        let limits = Limits::default();
        let ok = package(&[(
            "xl/sharedStrings.xml",
            br#"<sst xmlns="x" count="2" uniqueCount="2"><si><t>a</t></si><si><t>b</t></si></sst>"#,
        )]);
        assert!(check_package(Cursor::new(ok), &limits).is_ok());
        let bad = package(&[(
            "xl/sharedStrings.xml",
            br#"<sst xmlns="x" count="4000000000" uniqueCount="4000000000"><si><t>a</t></si></sst>"#,
        )]);
        assert!(matches!(check_package(Cursor::new(bad), &limits), Err(ReadError::Limit(_))));
    }

    #[test]
    fn a_part_that_inflates_past_its_declared_size_is_stopped_by_the_zip_reader() {
        // Declares 10 bytes, holds 5,000: the reader stops, it does not hand on 5,000.
        let mut bytes = package(&[("xl/worksheets/sheet1.xml", &vec![b'a'; 5000])]);
        let (local, central) = (22, bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap() + 24);
        for at in [local, central] {
            bytes[at..at + 4].copy_from_slice(&10u32.to_le_bytes());
        }
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut out = Vec::new();
        assert!(zip.by_index(0).unwrap().read_to_end(&mut out).is_err());
        assert!(out.len() <= 10 + 8192, "{} bytes handed on", out.len());
    }

    #[test]
    fn repeated_ods_rows_and_cells_are_counted_before_calamine_expands_them() {
        let limits = Limits { max_cells: 1_000_000, ..Limits::default() };
        let content = |rows: &str| {
            format!(
                r#"<office:document-content><office:body><office:spreadsheet><table:table table:name="a">{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
            )
        };
        let ods = |rows: &str| {
            package(&[
                ("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
                ("content.xml", content(rows).as_bytes()),
            ])
        };
        // What LibreOffice writes: empty cells and rows repeated to the sheet's end.
        let normal = ods(concat!(
            r#"<table:table-row><table:table-cell office:value-type="string"><text:p>姓名</text:p></table:table-cell>"#,
            r#"<table:table-cell table:number-columns-repeated="16383"/></table:table-row>"#,
            r#"<table:table-row table:number-rows-repeated="1048575"><table:table-cell table:number-columns-repeated="16384"/></table:table-row>"#,
        ));
        assert!(check_package(Cursor::new(normal), &limits).is_ok());
        // A value repeated over 2,000 columns of 1,000 rows: two million cells.
        let cells = ods(concat!(
            r#"<table:table-row table:number-rows-repeated="1000"><table:table-cell table:number-columns-repeated="2000">"#,
            r#"<text:p>x</text:p></table:table-cell></table:table-row>"#,
        ));
        assert!(matches!(check_package(Cursor::new(cells), &limits), Err(ReadError::Limit(_))));
        // Two values far apart: the area between them is what calamine builds.
        let apart = ods(concat!(
            r#"<table:table-row><table:table-cell office:value-type="float" office:value="1"/></table:table-row>"#,
            r#"<table:table-row table:number-rows-repeated="100000"><table:table-cell/></table:table-row>"#,
            r#"<table:table-row><table:table-cell table:number-columns-repeated="99"/><table:table-cell office:value-type="float" office:value="1"/></table:table-row>"#,
        ));
        assert!(matches!(check_package(Cursor::new(apart), &limits), Err(ReadError::Limit(_))));
        // A part that ends inside a table, on which calamine would loop forever.
        let cut = package(&[("content.xml", br#"<office:spreadsheet><table:table table:name="a"><table:table-row><table:table-cell/></table:table-row>"#)]);
        assert!(matches!(check_package(Cursor::new(cut), &limits), Err(ReadError::Corrupt(_))));
    }

    #[test]
    fn packages_past_the_inflated_limit_are_refused() {
        let limits = Limits { max_inflated_bytes: 1000, ..Limits::default() };
        let big = vec![b'a'; 5000];
        let bad = package(&[("xl/worksheets/sheet1.xml", &big)]);
        assert!(matches!(check_package(Cursor::new(bad), &limits), Err(ReadError::Limit(_))));
        assert!(check_file_size(10, &limits).is_ok());
        assert!(check_file_size(u64::MAX, &limits).is_err());
    }
}

//! The rows of a large xlsx sheet, read straight from its XML bytes.
//!
//! calamine's cell reader goes through quick-xml's general event loop and checks every
//! attribute of every element: on a 200,000-row sheet that single thread took 2.8 s of CPU,
//! longer than the validation and Parquet work it feeds on the other core. A worksheet's
//! `sheetData` holds few kinds of element (`row`, `c`, `v`, `f`, `is` and its runs), so this
//! reader parses them in one pass over the bytes (`xlsx_xml`) and gives exactly the cells
//! calamine gives: the same value types, the same shared strings and date formats
//! (`xlsx_parts`, read by calamine's rules). It took 0.9-1.3 s for that sheet.
//!
//! Anything it does not expect stops it: a row or cell without its reference, a comment,
//! CDATA, an Excel escape (`_x000D_`), a carriage return, an unknown cell type, a value
//! calamine would reject. `stream::rows_of` then lets calamine read the rest of the sheet,
//! after the last row handed on: this reader is a shortcut, never a second opinion.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use calamine::{CellErrorType, DataRef, ExcelDateTime, ExcelDateTimeType};

use super::read::{self, Visibility};
use super::xlsx_parts::{self, NumberKind, Parts, WorkbookInfo};
use super::xlsx_xml::{Bytes, Cursor, Halt, Parse, Tag, cell_ref, decode, float, inline_string, local, number};
use crate::normalize::value::Cell;

/// A package's shared parts, read once for all its sheets.
#[derive(Debug)]
pub struct Package {
    path: PathBuf,
    parts: Parts,
    workbook: WorkbookInfo,
}

/// The fast reader stopped; calamine is to read the sheet's rows after `last_row` (0-based),
/// the last row handed on, or all of them.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsupported {
    pub last_row: Option<usize>,
}

impl Package {
    /// The shared parts of the package at `path`; `None` if any is not read the way calamine
    /// reads it (calamine then reads the package alone).
    pub fn open(path: &Path) -> Option<Package> {
        let mut zip = zip::ZipArchive::new(BufReader::new(File::open(path).ok()?)).ok()?;
        let workbook = xlsx_parts::workbook_info(&mut zip)?;
        // Chart and dialog sheets are worksheets to nobody but calamine's error messages.
        if !workbook.sheets.iter().all(|s| s.path.starts_with("xl/worksheets/")) {
            return None;
        }
        let parts = xlsx_parts::read(&mut zip)?;
        Some(Package { path: path.to_path_buf(), parts, workbook })
    }

    /// The sheets in workbook order: name and visibility.
    pub fn sheets(&self) -> impl Iterator<Item = (&str, Visibility)> {
        self.workbook.sheets.iter().map(|s| (s.name.as_str(), s.visibility))
    }

    /// Calls `each` with every row of `sheet` that has a value, in order: (0-based row, cells
    /// up to the last value), as `stream::each_row` does with calamine. Stops when `each`
    /// returns false.
    pub fn each_row(&self, sheet: &str, mut each: impl FnMut(usize, Vec<Cell>) -> bool) -> Result<(), Unsupported> {
        let mut last_row: Option<usize> = None;
        match self.scan(sheet, &mut last_row, &mut each) {
            Some(()) => Ok(()),
            None => Err(Unsupported { last_row }),
        }
    }

    /// `each_row`, keeping in `last_row` the last row handed on.
    fn scan(
        &self,
        sheet: &str,
        last_row: &mut Option<usize>,
        each: &mut impl FnMut(usize, Vec<Cell>) -> bool,
    ) -> Option<()> {
        let entry = self.workbook.sheets.iter().find(|s| s.name == sheet)?;
        let mut zip = zip::ZipArchive::new(BufReader::new(File::open(&self.path).ok()?)).ok()?;
        let mut bytes = Bytes::new(zip.by_name(&entry.path).ok()?);
        if !bytes.skip_to(b"sheetData")? {
            return Some(());
        }
        let mut width = 0;
        while let Some((row, cells)) = bytes.next(|cursor| self.row(cursor, width))? {
            if cells.is_empty() {
                continue;
            }
            width = cells.len();
            // A row out of order, or split in two, is left to calamine.
            if last_row.is_some_and(|p| row <= p) {
                return None;
            }
            *last_row = Some(row);
            crate::failpoint::hit("fast_reader.row");
            if !each(row, cells) {
                return Some(());
            }
        }
        Some(())
    }

    /// The next row (0-based) and its cells up to the last with a value; `None` at the end of
    /// `sheetData`. `width` is the previous row's, most likely this one's too.
    fn row(&self, cursor: &mut Cursor<'_>, width: usize) -> Parse<Option<(usize, Vec<Cell>)>> {
        let Some(tag) = cursor.child(b"sheetData", b"row")? else { return Ok(None) };
        let row = tag.attribute(b"r").flatten().and_then(number).and_then(|r| r.checked_sub(1));
        let row = row.ok_or(Halt::Unsupported)?;
        let mut cells: Vec<Cell> = Vec::with_capacity(width);
        if tag.empty {
            return Ok(Some((row, cells)));
        }
        loop {
            cursor.skip_whitespace();
            let c = cursor.tag()?;
            if c.end {
                return if c.name == tag.name { Ok(Some((row, cells))) } else { Err(Halt::Unsupported) };
            }
            if local(c.name) != b"c" {
                return Err(Halt::Unsupported);
            }
            let (mut reference, mut style, mut typ) = (None, None, None);
            c.each_attribute(|key, value| match key {
                b"r" => reference = Some(value),
                b"s" => style = Some(value),
                b"t" => typ = Some(value),
                _ => {}
            })
            .ok_or(Halt::Unsupported)?;
            let (cell_row, col) = reference.and_then(cell_ref).ok_or(Halt::Unsupported)?;
            if cell_row != row {
                return Err(Halt::Unsupported);
            }
            if c.empty {
                continue;
            }
            let kind = match style {
                None => Some(NumberKind::Other),
                Some(s) => self.parts.kinds.get(number(s).ok_or(Halt::Unsupported)?).copied(),
            };
            if let Some(value) = self.cell_value(cursor, &c, typ, kind)? {
                if cells.len() <= col {
                    cells.resize(col + 1, Cell::Empty);
                }
                cells[col] = value;
            }
        }
    }

    /// A cell's value from its children (`<f>`, `<v>`, `<is>`), through its end tag: the last
    /// child decides, as in calamine. `None` for an empty cell.
    fn cell_value(
        &self,
        cursor: &mut Cursor<'_>,
        c: &Tag<'_>,
        typ: Option<&[u8]>,
        kind: Option<NumberKind>,
    ) -> Parse<Option<Cell>> {
        let mut value = None;
        loop {
            cursor.skip_whitespace();
            let child = cursor.tag()?;
            if child.end {
                return if child.name == c.name { Ok(value) } else { Err(Halt::Unsupported) };
            }
            value = match local(child.name) {
                b"v" => {
                    let text = cursor.text_of(&child)?;
                    self.v(text, typ, kind).ok_or(Halt::Unsupported)?
                }
                b"f" => {
                    cursor.body_of(&child)?;
                    None
                }
                b"is" => {
                    let body = cursor.body_of(&child)?;
                    Some(Cell::Text(inline_string(body).ok_or(Halt::Unsupported)?))
                }
                _ => return Err(Halt::Unsupported),
            };
        }
    }

    /// calamine's `read_v`.
    fn v(&self, text: &[u8], typ: Option<&[u8]>, kind: Option<NumberKind>) -> Option<Option<Cell>> {
        let raw = || -> Option<&str> {
            // calamine takes these types' text as it stands, up to an entity.
            (!text.iter().any(|b| matches!(b, b'&' | b'<' | b'\r'))).then_some(())?;
            std::str::from_utf8(text).ok()
        };
        let value = match typ {
            Some(b"inlineStr" | b"is") => return Some(None),
            Some(b"s") => {
                let v = raw()?;
                if v.is_empty() {
                    return Some(None);
                }
                DataRef::SharedString(self.parts.strings.get(number(v.as_bytes())?)?.as_str())
            }
            Some(b"b") => match raw()?.trim() {
                "" => return Some(None),
                v if v == "0" || v.eq_ignore_ascii_case("false") => DataRef::Bool(false),
                v if v == "1" || v.eq_ignore_ascii_case("true") => DataRef::Bool(true),
                _ => return None,
            },
            Some(b"e") => {
                let v = raw()?;
                if v.is_empty() {
                    return Some(None);
                }
                DataRef::Error(v.parse::<CellErrorType>().ok()?)
            }
            Some(b"n") | None => {
                let v = raw()?;
                if v.is_empty() {
                    return Some(None);
                }
                let n = float(v)?;
                let date = |t| DataRef::DateTime(ExcelDateTime::new(n, t, self.workbook.is_1904));
                match kind {
                    Some(NumberKind::DateTime) => date(ExcelDateTimeType::DateTime),
                    Some(NumberKind::TimeDelta) => date(ExcelDateTimeType::TimeDelta),
                    _ => DataRef::Float(n),
                }
            }
            Some(b"str") => DataRef::String(decode(text)?),
            Some(b"d") => DataRef::DateTimeIso(decode(text)?),
            Some(_) => return None,
        };
        Some(read::cell_of(&value))
    }
}

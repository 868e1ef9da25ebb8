//! A guard for `.xlsb` workbooks whose cells calamine would silently drop.
//!
//! MS-XLSB has "short" cell records (BrtShortBlank … BrtShortIsst, types 0x0C–0x12) that leave
//! out the column, meaning "the cell right of the previous one". SheetJS and some other writers
//! use them; calamine 0.38 skips them, so every cell after the first of a row would vanish. A
//! file that has them is named as unreadable instead of being read with cells missing.

use std::io::{Cursor, Read};

/// Record types of the short cell records.
const SHORT_CELLS: std::ops::RangeInclusive<u32> = 0x0C..=0x12;

/// The first worksheet part of an `.xlsb` package that holds short cell records, if any.
/// Returns `None` for other packages and for anything it cannot parse (the reader reports those).
pub fn worksheet_with_short_records(bytes: &[u8]) -> Option<String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    zip.by_name("xl/workbook.bin").ok()?;
    let mut parts: Vec<String> = zip
        .file_names()
        .flatten()
        .filter(|n| n.starts_with("xl/worksheets/") && n.ends_with(".bin"))
        .map(|n| n.into_owned())
        .collect();
    parts.sort();
    for part in parts {
        let mut data = Vec::new();
        zip.by_name(&part).ok()?.read_to_end(&mut data).ok()?;
        if has_short_cells(&data) {
            return Some(part);
        }
    }
    None
}

/// Walks the record stream: a 1–2 byte varint type, a 1–4 byte varint size, the body.
fn has_short_cells(data: &[u8]) -> bool {
    let mut at = 0;
    while at < data.len() {
        let Some((kind, next)) = varint(data, at, 2) else { return false };
        let Some((size, next)) = varint(data, next, 4) else { return false };
        if SHORT_CELLS.contains(&kind) {
            return true;
        }
        // 0x0092 is BrtEndSheetData: no cells after it.
        if kind == 0x92 {
            return false;
        }
        at = next + size as usize;
    }
    false
}

fn varint(data: &[u8], mut at: usize, max_bytes: usize) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for i in 0..max_bytes {
        let byte = *data.get(at)?;
        at += 1;
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            break;
        }
    }
    Some((value, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_short_cell_records_in_a_record_stream() {
        // BrtRowHdr (type 0, 2 bytes), BrtCellSt (type 6, 3 bytes), BrtShortSt (0x11, 1 byte).
        let full = [0x00, 0x02, 0, 0, 0x06, 0x03, 1, 2, 3, 0x92, 0x01, 0x00];
        assert!(!has_short_cells(&full));
        let short = [0x00, 0x02, 0, 0, 0x11, 0x01, 9, 0x92, 0x01, 0x00];
        assert!(has_short_cells(&short));
        // A body that happens to contain 0x11 is not a record type.
        let body = [0x06, 0x02, 0x11, 0x11, 0x92, 0x01, 0x00];
        assert!(!has_short_cells(&body));
    }
}

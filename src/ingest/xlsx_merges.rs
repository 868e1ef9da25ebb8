//! Merged ranges of the sheets of an xlsx package, found by scanning each sheet's XML for its
//! `<mergeCells>` element, which sits after all the cells.
//!
//! calamine's `merge_cells_by_sheet_name` parses every element of the sheet a second time to
//! get there: 15% of the CPU of ingesting a 200,000-row sheet. Inflating and scanning the bytes
//! costs a fraction of that, and runs on its own thread while the cells are read.

use std::collections::HashMap;
use std::io::{Cursor, Read, Seek};
use std::sync::LazyLock;

use regex::Regex;

use super::read::Merge;
use super::xlsx_parts;

static MERGE_REF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"mergeCell\s+ref="([A-Za-z]+[0-9]+)(?::([A-Za-z]+[0-9]+))?""#).expect("valid regex"));

/// Merged ranges by sheet name; `None` if the package cannot be understood (the cell reader
/// reports that), an empty list for a sheet without merges.
pub fn by_sheet(bytes: &[u8]) -> Option<HashMap<String, Vec<Merge>>> {
    by_sheet_of(Cursor::new(bytes))
}

/// `by_sheet` of a package read from anywhere (a large workbook is read from its file).
pub fn by_sheet_of<R: Read + Seek>(package: R) -> Option<HashMap<String, Vec<Merge>>> {
    let mut zip = zip::ZipArchive::new(package).ok()?;
    let mut out = HashMap::new();
    for (name, path) in xlsx_parts::sheet_paths(&mut zip)? {
        let Some(tail) = merge_cells_tail(&mut zip, &path) else { continue };
        let merges = MERGE_REF
            .captures_iter(&tail)
            .filter_map(|c| {
                let (first_row, first_col) = cell_ref(&c[1])?;
                let (last_row, last_col) = c.get(2).map_or(Some((first_row, first_col)), |m| cell_ref(m.as_str()))?;
                Some(Merge { first_row, first_col, last_row, last_col })
            })
            .collect();
        out.insert(name, merges);
    }
    Some(out)
}

/// The sheet XML from its `mergeCells` element to the end (empty if it has none), read in
/// chunks so the whole sheet is never held in memory.
fn merge_cells_tail<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, path: &str) -> Option<String> {
    const NEEDLE: &[u8] = b"mergeCells";
    let mut entry = zip.by_name(path).ok()?;
    let mut chunk = vec![0u8; 256 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    let mut tail: Option<Vec<u8>> = None;
    loop {
        let n = entry.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        match &mut tail {
            Some(t) => t.extend_from_slice(&chunk[..n]),
            None => {
                carry.extend_from_slice(&chunk[..n]);
                if let Some(at) = memchr::memmem::find(&carry, NEEDLE) {
                    tail = Some(carry[at..].to_vec());
                } else {
                    let keep = carry.len().saturating_sub(NEEDLE.len());
                    carry.drain(..keep);
                }
            }
        }
    }
    Some(tail.map(|t| String::from_utf8_lossy(&t).into_owned()).unwrap_or_default())
}

/// `B12` → (11, 1), 0-based; `None` past Excel's last row (1,048,576) or column (XFD), where
/// a reference can only come from a damaged or hostile file.
pub(super) fn cell_ref(text: &str) -> Option<(usize, usize)> {
    const MAX_ROW: usize = 1 << 20;
    const MAX_COL: usize = 1 << 14;
    let split = text.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = text.split_at(split);
    if letters.is_empty() || letters.len() > 3 || digits.len() > 7 {
        return None;
    }
    let col = letters.bytes().try_fold(0usize, |acc, b| {
        let v = b.to_ascii_uppercase().checked_sub(b'A').filter(|v| *v < 26)?;
        acc.checked_mul(26)?.checked_add(v as usize + 1)
    })?;
    let row: usize = digits.parse().ok()?;
    if row > MAX_ROW || col > MAX_COL {
        return None;
    }
    Some((row.checked_sub(1)?, col.checked_sub(1)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references() {
        assert_eq!(cell_ref("A1"), Some((0, 0)));
        assert_eq!(cell_ref("AB12"), Some((11, 27)));
        assert_eq!(cell_ref("A0"), None);
        assert_eq!(cell_ref("XFD1048576"), Some((1_048_575, 16_383)));
        assert_eq!(cell_ref("B9223372036854775808"), None);
        assert_eq!(cell_ref("XFE1"), None);
        assert_eq!(cell_ref("ZZZZZZZZZZZZZZZ1"), None);
        assert_eq!(cell_ref("A"), None);
    }
}

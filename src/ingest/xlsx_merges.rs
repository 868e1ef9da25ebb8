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

static SHEET: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<(?:\w+:)?sheet\s[^>]*>").expect("valid regex"));
static RELATIONSHIP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<(?:\w+:)?Relationship\s[^>]*>").expect("valid regex"));
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
    let workbook = entry_text(&mut zip, "xl/workbook.xml")?;
    let rels = entry_text(&mut zip, "xl/_rels/workbook.xml.rels")?;
    let targets: HashMap<String, String> = RELATIONSHIP
        .find_iter(&rels)
        .filter_map(|m| Some((attribute(m.as_str(), "Id")?, attribute(m.as_str(), "Target")?)))
        .collect();
    let mut out = HashMap::new();
    for m in SHEET.find_iter(&workbook) {
        let (Some(name), Some(id)) = (attribute(m.as_str(), "name"), attribute(m.as_str(), "r:id")) else { continue };
        let Some(target) = targets.get(&id) else { continue };
        let path = match target.strip_prefix('/') {
            Some(absolute) => absolute.to_string(),
            None => format!("xl/{target}"),
        };
        let Some(tail) = merge_cells_tail(&mut zip, &path) else { continue };
        let merges = MERGE_REF
            .captures_iter(&tail)
            .filter_map(|c| {
                let (first_row, first_col) = cell_ref(&c[1])?;
                let (last_row, last_col) = c.get(2).map_or(Some((first_row, first_col)), |m| cell_ref(m.as_str()))?;
                Some(Merge { first_row, first_col, last_row, last_col })
            })
            .collect();
        out.insert(unescape(&name), merges);
    }
    Some(out)
}

fn entry_text<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, name: &str) -> Option<String> {
    let mut text = String::new();
    zip.by_name(name).ok()?.read_to_string(&mut text).ok()?;
    Some(text)
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

/// The value of `name="…"` in an element's text.
fn attribute(element: &str, name: &str) -> Option<String> {
    let mut rest = element;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().last();
        let after = &rest[at + name.len()..];
        if before.is_some_and(char::is_whitespace) {
            if let Some(value) = after.trim_start().strip_prefix('=') {
                let value = value.trim_start();
                let quote = value.chars().next()?;
                if quote == '"' || quote == '\'' {
                    let end = value[1..].find(quote)?;
                    return Some(value[1..1 + end].to_string());
                }
            }
        }
        rest = after;
    }
    None
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// `B12` → (11, 1), 0-based.
fn cell_ref(text: &str) -> Option<(usize, usize)> {
    let split = text.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = text.split_at(split);
    let col = letters
        .bytes()
        .try_fold(0usize, |acc, b| b.to_ascii_uppercase().checked_sub(b'A').map(|v| acc * 26 + v as usize + 1))?;
    let row: usize = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col.checked_sub(1)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references_and_attributes() {
        assert_eq!(cell_ref("A1"), Some((0, 0)));
        assert_eq!(cell_ref("AB12"), Some((11, 27)));
        assert_eq!(cell_ref("A0"), None);
        let sheet = r#"<sheet name="来返登记 &amp; 随访" sheetId="1" r:id="rId3"/>"#;
        assert_eq!(attribute(sheet, "name").as_deref(), Some("来返登记 &amp; 随访"));
        assert_eq!(attribute(sheet, "r:id").as_deref(), Some("rId3"));
        assert_eq!(attribute(sheet, "id"), None, "`r:id` is not `id`");
        assert_eq!(unescape("a &amp; b"), "a & b");
    }
}

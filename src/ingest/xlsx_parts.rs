//! The workbook-wide parts of an xlsx package that its cells refer to: the shared strings
//! (scanned as `xlsx_scan` scans inline strings), which cell formats show numbers as dates,
//! and the sheets with where each one's XML is. Read for
//! `xlsx_scan`, by the same rules as calamine 0.38 (`xlsx/mod.rs`, `formats.rs`, MIT): the
//! fast reader must give exactly the cells calamine gives, and a part it cannot read the same
//! way is `None`, so the whole package is left to calamine.

use std::collections::HashMap;
use std::io::{BufReader, Read, Seek};
use std::sync::LazyLock;

use quick_xml::events::{BytesStart, Event};
use regex::Regex;
use zip::ZipArchive;

use super::read::Visibility;
use super::xlsx_xml;

/// How a number in a cell of a format is shown (calamine's `CellFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    Other,
    DateTime,
    TimeDelta,
}

/// What the cells of every sheet of a package refer to.
#[derive(Debug, Default)]
pub struct Parts {
    pub strings: Vec<String>,
    /// By cell format (`s` attribute) index.
    pub kinds: Vec<NumberKind>,
}

pub fn read<R: Read + Seek>(zip: &mut ZipArchive<R>) -> Option<Parts> {
    let strings = match zip.by_name("xl/sharedStrings.xml") {
        Ok(entry) => xlsx_xml::shared_strings(entry)?,
        Err(zip::result::ZipError::FileNotFound) => Vec::new(),
        Err(_) => return None,
    };
    Some(Parts { strings, kinds: number_kinds(zip)? })
}

/// A sheet as the workbook lists it.
#[derive(Debug, Clone)]
pub struct SheetEntry {
    pub name: String,
    /// Its XML's path in the package.
    pub path: String,
    pub visibility: Visibility,
}

/// The workbook's sheets, in order, and whether its dates count from 1904.
#[derive(Debug, Clone)]
pub struct WorkbookInfo {
    pub sheets: Vec<SheetEntry>,
    pub is_1904: bool,
}

static SHEET: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<(?:\w+:)?sheet\s[^>]*>").expect("valid regex"));
static RELATIONSHIP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<(?:\w+:)?Relationship\s[^>]*>").expect("valid regex"));
static WORKBOOK_PR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<(?:\w+:)?workbookPr\s[^>]*>").expect("valid regex"));

/// Each sheet's name and the path of its XML in the package, in workbook order.
pub fn sheet_paths<R: Read + Seek>(zip: &mut ZipArchive<R>) -> Option<Vec<(String, String)>> {
    Some(workbook_info(zip)?.sheets.into_iter().map(|s| (s.name, s.path)).collect())
}

/// The sheets (visibility as calamine reads `state`) and the 1904 flag (`date1904`).
pub fn workbook_info<R: Read + Seek>(zip: &mut ZipArchive<R>) -> Option<WorkbookInfo> {
    let workbook = entry_text(zip, "xl/workbook.xml")?;
    let rels = entry_text(zip, "xl/_rels/workbook.xml.rels")?;
    let targets: HashMap<String, String> = RELATIONSHIP
        .find_iter(&rels)
        .filter_map(|m| Some((attribute(m.as_str(), "Id")?, attribute(m.as_str(), "Target")?)))
        .collect();
    let mut out = Vec::new();
    for m in SHEET.find_iter(&workbook) {
        let (Some(name), Some(id)) = (attribute(m.as_str(), "name"), attribute(m.as_str(), "r:id")) else { continue };
        let Some(target) = targets.get(&id) else { continue };
        let path = match target.strip_prefix('/') {
            Some(absolute) => absolute.to_string(),
            None => format!("xl/{target}"),
        };
        let visibility = match attribute(m.as_str(), "state").as_deref() {
            None | Some("visible") => Visibility::Visible,
            Some("hidden") => Visibility::Hidden,
            Some("veryHidden") => Visibility::VeryHidden,
            Some(_) => return None,
        };
        out.push(SheetEntry { name: unescape(&name), path, visibility });
    }
    let is_1904 = WORKBOOK_PR
        .find_iter(&workbook)
        .filter_map(|m| attribute(m.as_str(), "date1904"))
        .last()
        .is_some_and(|v| v == "1" || v == "true");
    Some(WorkbookInfo { sheets: out, is_1904 })
}

fn entry_text<R: Read + Seek>(zip: &mut ZipArchive<R>, name: &str) -> Option<String> {
    let mut text = String::new();
    zip.by_name(name).ok()?.read_to_string(&mut text).ok()?;
    Some(text)
}

/// The value of `name="…"` in an element's text.
fn attribute(element: &str, name: &str) -> Option<String> {
    let mut rest = element;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().last();
        let after = &rest[at + name.len()..];
        if before.is_some_and(char::is_whitespace)
            && let Some(value) = after.trim_start().strip_prefix('=')
        {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            if quote == '"' || quote == '\'' {
                let end = value[1..].find(quote)?;
                return Some(value[1..1 + end].to_string());
            }
        }
        rest = after;
    }
    None
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

type XmlReader<'a, R> = quick_xml::Reader<BufReader<zip::read::ZipFile<'a, R>>>;

/// A part read as calamine reads it; `Some(None)` when the package has no such part.
fn xml<'a, R: Read + Seek>(zip: &'a mut ZipArchive<R>, name: &str) -> Option<Option<XmlReader<'a, R>>> {
    match zip.by_name(name) {
        Ok(entry) => {
            let mut reader = quick_xml::Reader::from_reader(BufReader::new(entry));
            let config = reader.config_mut();
            config.check_end_names = false;
            config.trim_text(false);
            config.check_comments = false;
            config.expand_empty_elements = true;
            Some(Some(reader))
        }
        Err(zip::result::ZipError::FileNotFound) => Some(None),
        Err(_) => None,
    }
}

fn raw_attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.as_ref() == name).map(|a| a.value.into_owned())
}

/// Which cell formats (`cellXfs`) show numbers as dates or durations.
fn number_kinds<R: Read + Seek>(zip: &mut ZipArchive<R>) -> Option<Vec<NumberKind>> {
    let Some(mut xml) = xml(zip, "xl/styles.xml")? else { return Some(Vec::new()) };
    let mut custom: HashMap<String, String> = HashMap::new();
    let mut kinds = Vec::new();
    let mut buf = Vec::new();
    let mut inner = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == "numFmts" => loop {
                inner.clear();
                match xml.read_event_into(&mut inner).ok()? {
                    Event::Start(e) if e.local_name().as_ref() == "numFmt" => {
                        if let (Some(id), Some(code)) = (raw_attr(&e, "numFmtId"), raw_attr(&e, "formatCode")) {
                            custom.insert(id, quick_xml::escape::unescape(&code).ok()?.into_owned());
                        }
                    }
                    Event::End(e) if e.local_name().as_ref() == "numFmts" => break,
                    Event::Eof => return None,
                    _ => (),
                }
            },
            Event::Start(e) if e.local_name().as_ref() == "cellXfs" => loop {
                inner.clear();
                match xml.read_event_into(&mut inner).ok()? {
                    Event::Start(e) if e.local_name().as_ref() == "xf" => {
                        kinds.push(raw_attr(&e, "numFmtId").map_or(NumberKind::Other, |id| match custom.get(&id) {
                            Some(code) => custom_format_kind(code),
                            None => builtin_format_kind(&id),
                        }));
                    }
                    Event::End(e) if e.local_name().as_ref() == "cellXfs" => break,
                    Event::Eof => return None,
                    _ => (),
                }
            },
            Event::End(e) if e.local_name().as_ref() == "styleSheet" => return Some(kinds),
            Event::Eof => return None,
            _ => (),
        }
    }
}

/// calamine's `detect_custom_number_format`: whether a format code shows a date or time.
fn custom_format_kind(format: &str) -> NumberKind {
    let mut escaped = false;
    let mut is_quote = false;
    let mut brackets = 0u8;
    let mut prev = ' ';
    let mut hms = false;
    let mut ap = false;
    for s in format.chars() {
        match (s, escaped, is_quote, ap, brackets) {
            (_, true, ..) => escaped = false,
            ('_' | '\\' | '*', ..) => escaped = true,
            ('"', _, true, _, _) => is_quote = false,
            (_, _, true, _, _) => (),
            ('"', _, _, _, _) => is_quote = true,
            (';', ..) => return NumberKind::Other,
            ('[', ..) => brackets += 1,
            (']', .., 1) if hms => return NumberKind::TimeDelta,
            (']', ..) => brackets = brackets.saturating_sub(1),
            ('a' | 'A', _, _, false, 0) => ap = true,
            ('p' | 'm' | '/' | 'P' | 'M', _, _, true, 0) => return NumberKind::DateTime,
            ('d' | 'm' | 'h' | 'y' | 's' | 'D' | 'M' | 'H' | 'Y' | 'S', _, _, false, 0) => {
                return NumberKind::DateTime;
            }
            _ => {
                if !(hms && s.eq_ignore_ascii_case(&prev)) {
                    hms = prev == '[' && matches!(s, 'm' | 'h' | 's' | 'M' | 'H' | 'S');
                }
            }
        }
        prev = s;
    }
    NumberKind::Other
}

/// calamine's `builtin_format_by_id`, East Asian date formats (27–36, 50–58) included.
fn builtin_format_kind(id: &str) -> NumberKind {
    match id {
        "14" | "15" | "16" | "17" | "18" | "19" | "20" | "21" | "22" | "45" | "47" => NumberKind::DateTime,
        "27" | "28" | "29" | "30" | "31" | "32" | "33" | "34" | "35" | "36" | "50" | "51" | "52" | "53" | "54"
        | "55" | "56" | "57" | "58" => NumberKind::DateTime,
        "46" => NumberKind::TimeDelta,
        _ => NumberKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_codes_as_calamine_reads_them() {
        assert_eq!(custom_format_kind("yyyy/m/d"), NumberKind::DateTime);
        assert_eq!(custom_format_kind("[h]:mm:ss"), NumberKind::TimeDelta);
        assert_eq!(custom_format_kind("0.00_);[Red]\\(0.00\\)"), NumberKind::Other);
        assert_eq!(custom_format_kind("\"年\"0"), NumberKind::Other);
        assert_eq!(builtin_format_kind("31"), NumberKind::DateTime, "Chinese 年月日");
        assert_eq!(builtin_format_kind("49"), NumberKind::Other);
    }

    #[test]
    fn attributes_of_an_element() {
        let sheet = r#"<sheet name="来返登记 &amp; 随访" sheetId="1" r:id="rId3"/>"#;
        assert_eq!(attribute(sheet, "name").as_deref(), Some("来返登记 &amp; 随访"));
        assert_eq!(attribute(sheet, "r:id").as_deref(), Some("rId3"));
        assert_eq!(attribute(sheet, "id"), None, "`r:id` is not `id`");
        assert_eq!(unescape("a &amp; b"), "a & b");
    }
}

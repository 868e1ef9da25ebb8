//! A workbook's own date: when it says it was last saved (`dcterms:modified` in an xlsx's
//! `docProps/core.xml`, `dc:date` in an ods's `meta.xml`, else when it was created). The last
//! source of a report date's year, after every name the sheet and file have (see `context`).
//! Read from the first 64 KiB of the part: a package's properties are a few hundred bytes.

use std::io::{Read, Seek};

use chrono::NaiveDate;

/// The saved (or created) date a zip package declares, if any.
pub fn modified<R: Read + Seek>(package: R) -> Option<NaiveDate> {
    let mut zip = zip::ZipArchive::new(package).ok()?;
    for (part, elements) in [
        ("docProps/core.xml", ["dcterms:modified", "dcterms:created"]),
        ("meta.xml", ["dc:date", "meta:creation-date"]),
    ] {
        let Ok(entry) = zip.by_name(part) else { continue };
        let mut head = Vec::new();
        entry.take(64 << 10).read_to_end(&mut head).ok()?;
        let text = String::from_utf8_lossy(&head);
        if let Some(date) = elements.iter().find_map(|e| element_date(&text, e)) {
            return Some(date);
        }
    }
    None
}

/// The date at the start of `<name ...>2022-05-10T08:00:00Z</name>`.
fn element_date(xml: &str, name: &str) -> Option<NaiveDate> {
    let open = xml.find(&format!("<{name}"))?;
    let body = &xml[open..];
    let start = body.find('>')? + 1;
    let value = body.get(start..start + 10)?;
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn package(name: &str, body: &str) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn saved_dates_of_xlsx_and_ods() {
        let core = r#"<cp:coreProperties><dcterms:created xsi:type="dcterms:W3CDTF">2021-01-02T00:00:00Z</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">2021-05-11T09:30:00Z</dcterms:modified></cp:coreProperties>"#;
        assert_eq!(modified(Cursor::new(package("docProps/core.xml", core))), NaiveDate::from_ymd_opt(2021, 5, 11));
        let meta = "<office:meta><meta:creation-date>2020-03-04T10:00:00</meta:creation-date></office:meta>";
        assert_eq!(modified(Cursor::new(package("meta.xml", meta))), NaiveDate::from_ymd_opt(2020, 3, 4));
        assert_eq!(
            modified(Cursor::new(package("docProps/core.xml", "<dcterms:modified>昨天</dcterms:modified>"))),
            None
        );
        assert_eq!(modified(Cursor::new(b"not a zip".to_vec())), None);
    }
}

//! Who receives which reports: a TOML file (`[[recipient]]` tables) or an Excel roster (columns
//! 姓名, 邮箱, 范围, 格式), loaded strictly with every problem reported at once.
//!
//! A scope is `district` (区, 全区 in a roster) or the code of a unit with reports (a town, community, grid…); a recipient
//! receives only the reports of that unit.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::config::ConfigError;
use crate::config::strict;

/// What a recipient receives: the HTML report as the body, the workbook attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Html,
    Xlsx,
}

/// The unit whose reports a recipient receives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    District,
    /// A unit's code (town, community, grid…), as in the report file names.
    Code(String),
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::District => f.write_str("district"),
            Scope::Code(code) => f.write_str(code),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub name: String,
    pub address: lettre::message::Mailbox,
    pub scope: Scope,
    pub formats: Vec<Format>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipientsFile {
    #[serde(default)]
    recipient: Vec<Spanned<Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    address: String,
    scope: String,
    #[serde(default = "both_formats")]
    formats: Vec<Format>,
}

fn both_formats() -> Vec<Format> {
    vec![Format::Html, Format::Xlsx]
}

/// Loads the recipients of a workspace from `path` (`.toml`, or an `.xlsx`/`.xls` roster).
pub fn load(path: &Path) -> Result<Vec<Recipient>, Vec<ConfigError>> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    match extension.as_str() {
        "toml" => load_toml(path),
        "xlsx" | "xlsm" | "xls" | "ods" => load_roster(path),
        _ => Err(vec![ConfigError::whole_file(
            path,
            "the recipient list must be a `.toml` file or an Excel roster (`.xlsx`, `.xls`, `.ods`)",
        )]),
    }
}

fn load_toml(path: &Path) -> Result<Vec<Recipient>, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![ConfigError::whole_file(path, cannot_read(path, &e))])?;
    let file: RecipientsFile = strict::from_toml(path, &text)?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for entry in file.recipient {
        let at = entry.span().start;
        let e = entry.into_inner();
        match recipient(&e.name, &e.address, &e.scope, e.formats) {
            Ok(r) => out.push(r),
            Err(message) => errors.push(ConfigError::at(path, &text, at, message)),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

fn cannot_read(path: &Path, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!(
            "no recipient list at `{}`; write one (see README, 'Delivery') or set `delivery.recipients`",
            path.display()
        )
    } else {
        format!("cannot read: {e}")
    }
}

/// One recipient from its fields, or what is wrong with them.
fn recipient(name: &str, address: &str, scope: &str, mut formats: Vec<Format>) -> Result<Recipient, String> {
    // A name becomes a header line (`To: 名 <a@b>`) and a folder's log line: a line break or
    // another control character in it (an Excel roster's Alt+Enter) is a space.
    let cleaned: String = name.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let name: String = cleaned.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(100).collect();
    let name = name.as_str();
    let mailbox: lettre::Address =
        address.trim().parse().map_err(|_| format!("`{address}` is not an email address (recipient {name})"))?;
    let scope = match scope.trim() {
        "district" | "区" | "全区" => Scope::District,
        code if !code.is_empty() && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
            Scope::Code(code.to_string())
        }
        other => {
            return Err(format!(
                "scope `{other}` of {name} must be `district` or the code of a unit with reports: a county, town, community, grid… (e.g. \"130273101\")"
            ));
        }
    };
    if formats.is_empty() {
        return Err(format!("{name} receives no format; `formats` takes \"html\" and/or \"xlsx\""));
    }
    formats.sort();
    formats.dedup();
    Ok(Recipient {
        name: name.trim().to_string(),
        address: lettre::message::Mailbox::new(Some(name.trim().to_string()), mailbox),
        scope,
        formats,
    })
}

/// Header texts of a roster's columns.
const NAME: &[&str] = &["姓名", "名称", "name"];
const ADDRESS: &[&str] = &["邮箱", "电子邮箱", "邮件地址", "电子邮件", "email", "e-mail"];
const SCOPE: &[&str] = &["范围", "接收范围", "报表范围", "scope"];
const FORMATS: &[&str] = &["格式", "报表格式", "formats"];

fn load_roster(path: &Path) -> Result<Vec<Recipient>, Vec<ConfigError>> {
    use calamine::Reader;
    let fail = |m: String| vec![ConfigError::whole_file(path, m)];
    let mut workbook = calamine::open_workbook_auto(path).map_err(|e| fail(format!("cannot read the roster: {e}")))?;
    let sheet = workbook.sheet_names().first().cloned().ok_or_else(|| fail("the roster has no sheet".into()))?;
    let range = workbook.worksheet_range(&sheet).map_err(|e| fail(format!("cannot read sheet `{sheet}`: {e}")))?;
    let rows: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(cell_text).collect()).collect();
    let find = |header: &[String], names: &[&str]| {
        header.iter().position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    let Some((header_row, header)) =
        rows.iter().enumerate().take(10).find(|(_, r)| find(r, ADDRESS).is_some() && find(r, SCOPE).is_some())
    else {
        return Err(fail(format!(
            "sheet `{sheet}`: no header row with an address column ({}) and a scope column ({}) in the first 10 rows",
            ADDRESS.join("/"),
            SCOPE.join("/")
        )));
    };
    let (address, scope) = (find(header, ADDRESS).expect("found"), find(header, SCOPE).expect("found"));
    let (name, formats) = (find(header, NAME), find(header, FORMATS));
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, row) in rows.iter().enumerate().skip(header_row + 1) {
        let get = |c: Option<usize>| c.and_then(|c| row.get(c)).map(|s| s.trim()).unwrap_or_default();
        if get(Some(address)).is_empty() && get(Some(scope)).is_empty() {
            continue;
        }
        let wanted = parse_formats(get(formats));
        let who = if get(name).is_empty() { get(Some(address)) } else { get(name) };
        match recipient(who, get(Some(address)), get(Some(scope)), wanted) {
            Ok(r) => out.push(r),
            Err(m) => errors.push(ConfigError::whole_file(path, format!("sheet `{sheet}` row {}: {m}", i + 1))),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// `Excel、HTML`, `html,xlsx`, blank (both).
fn parse_formats(text: &str) -> Vec<Format> {
    let lower = text.to_lowercase();
    if lower.trim().is_empty() {
        return both_formats();
    }
    let mut out = Vec::new();
    if lower.contains("html") || lower.contains("网页") {
        out.push(Format::Html);
    }
    if lower.contains("xlsx") || lower.contains("excel") || lower.contains("表格") {
        out.push(Format::Xlsx);
    }
    out
}

/// A roster cell as text; codes that Excel stored as numbers come back without `.0`.
fn cell_text(cell: &calamine::Data) -> String {
    match cell {
        calamine::Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        calamine::Data::Int(i) => i.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_recipients_are_checked_all_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recipients.toml");
        std::fs::write(
            &path,
            "[[recipient]]\nname = \"甲\"\naddress = \"not-an-address\"\nscope = \"district\"\n\n\
             [[recipient]]\nname = \"乙\"\naddress = \"yi@example.cn\"\nscope = \"../x\"\n\n\
             [[recipient]]\nname = \"丙\"\naddress = \"bing@example.cn\"\nscope = \"130273101\"\nformats = [\"xlsx\"]\n",
        )
        .unwrap();
        let errors = load(&path).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].line, Some(1));
        assert!(errors[1].message.contains("must be `district` or the code"), "{}", errors[1]);
        std::fs::write(&path, "[[recipient]]\nname = \"丙\"\naddress = \"bing@example.cn\"\nscope = \"130273101\"\n")
            .unwrap();
        let ok = load(&path).unwrap();
        assert_eq!(ok[0].scope, Scope::Code("130273101".into()));
        assert_eq!(ok[0].formats, vec![Format::Html, Format::Xlsx]);
    }

    #[test]
    fn a_name_with_line_breaks_and_control_characters_is_cleaned_and_builds_a_message_header() {
        let r = recipient(
            "王主任\r\nBcc: x@evil.example\u{7}\t（区办）",
            "wang@example.cn",
            "district",
            vec![Format::Html],
        )
        .unwrap();
        assert_eq!(r.name, "王主任 Bcc: x@evil.example （区办）");
        assert!(!r.name.chars().any(char::is_control));
        let header = r.address.to_string();
        assert!(!header.contains('\n') && !header.contains('\r'), "{header}");
        let long = recipient(&"名".repeat(500), "a@example.cn", "district", vec![Format::Html]).unwrap();
        assert_eq!(long.name.chars().count(), 100);
    }

    #[test]
    fn an_excel_roster_with_a_title_row_and_codes_typed_as_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("接收人名单.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "高新区日报接收人名单").unwrap();
        for (c, h) in ["序号", "姓名", "电子邮箱", "接收范围", "格式"].iter().enumerate() {
            sheet.write_string(1, c as u16, *h).unwrap();
        }
        sheet.write_number(2, 0, 1).unwrap();
        sheet.write_string(2, 1, "王主任").unwrap();
        sheet.write_string(2, 2, "wang@example.cn").unwrap();
        sheet.write_string(2, 3, "全区").unwrap();
        sheet.write_number(3, 0, 2).unwrap();
        sheet.write_string(3, 1, "李站长").unwrap();
        sheet.write_string(3, 2, "li@example.cn").unwrap();
        sheet.write_number(3, 3, 130273101.0).unwrap();
        sheet.write_string(3, 4, "Excel").unwrap();
        sheet.write_string(4, 1, "赵").unwrap();
        sheet.write_string(4, 2, "zhao at example").unwrap();
        sheet.write_string(4, 3, "全区").unwrap();
        book.save(&path).unwrap();
        let errors = load(&path).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("row 5") && errors[0].message.contains("zhao at example"), "{}", errors[0]);
        std::fs::write(&path, b"").unwrap();
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in ["姓名", "邮箱", "范围", "格式"].iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        sheet.write_string(1, 0, "李站长").unwrap();
        sheet.write_string(1, 1, "li@example.cn").unwrap();
        sheet.write_number(1, 2, 130273101.0).unwrap();
        sheet.write_string(1, 3, "Excel").unwrap();
        book.save(&path).unwrap();
        let list = load(&path).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].scope, Scope::Code("130273101".into()));
        assert_eq!(list[0].formats, vec![Format::Xlsx]);
        assert_eq!(list[0].address.to_string(), "李站长 <li@example.cn>");
    }

    #[test]
    fn roster_formats_read_in_chinese() {
        assert_eq!(parse_formats("Excel、HTML"), vec![Format::Html, Format::Xlsx]);
        assert_eq!(parse_formats("表格"), vec![Format::Xlsx]);
        assert_eq!(parse_formats(""), vec![Format::Html, Format::Xlsx]);
        assert_eq!(cell_text(&calamine::Data::Float(130273101.0)), "130273101");
    }
}

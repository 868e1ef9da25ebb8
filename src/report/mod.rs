//! Reports for people: workbooks and (later) HTML. Report code takes plain data, never
//! DataFusion types, writes text from data as text (never as a formula), and keeps every
//! file name derived from data inside the reports folder.

pub mod daily;
pub mod definition;
mod html;

pub use html::escape as escape_html;
pub mod returns;
pub mod table;
pub mod view;
pub mod xlsx;

/// A file-name component from data: path separators, `..`, control and Windows-reserved
/// characters are replaced, so a name can never leave its folder.
/// A worksheet name Excel accepts, from any text (a section title, a community's own sheet
/// name): none of `[]:*?/\`, no apostrophe at either end, at most 31 characters, not empty,
/// and unique among `used` ignoring case, as Excel compares names.
pub fn sheet_name(title: &str, used: &[String]) -> String {
    let clean: String = title
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) || c.is_control() { '_' } else { c })
        .collect::<String>()
        .trim_matches('\'')
        .chars()
        .take(28)
        .collect();
    let base = if clean.trim().is_empty() { "表".to_string() } else { clean };
    let taken = |name: &str| used.iter().any(|u| u.to_lowercase() == name.to_lowercase());
    let mut name = base.clone();
    let mut n = 2;
    while taken(&name) {
        name = format!("{base}{n}");
        n += 1;
    }
    name
}

/// Text as a workbook cell can hold it: Excel keeps at most 32,767 characters in a cell, and a
/// longer one (a 诉求内容 pasted whole) is cut with a note rather than failing the workbook.
pub fn cell_text(text: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 32_000;
    if text.len() <= MAX || text.chars().count() <= MAX {
        return std::borrow::Cow::Borrowed(text);
    }
    let kept: String = text.chars().take(MAX).collect();
    std::borrow::Cow::Owned(format!("{kept}…（超出单元格长度，已截断）"))
}

pub fn safe_file_component(name: &str) -> String {
    let cleaned: String =
        name.chars()
            .map(|c| {
                if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
    let trimmed = cleaned.trim().trim_matches('.').replace("..", "_");
    let limited: String = trimmed.chars().take(60).collect();
    if limited.is_empty() { "_".to_string() } else { limited }
}

#[cfg(test)]
mod tests {
    use super::safe_file_component;

    #[test]
    fn names_from_data_stay_in_their_folder() {
        assert_eq!(safe_file_component("../../x"), "_.._x".replace("..", "_"));
        assert!(!safe_file_component("../../etc/passwd").contains('/'));
        assert!(!safe_file_component("a\\..\\b").contains(".."));
        assert_eq!(safe_file_component("荣馨园社区"), "荣馨园社区");
        assert_eq!(safe_file_component(""), "_");
        assert_eq!(
            super::cell_text(&"很".repeat(40_000)).chars().count(),
            32_000 + "…（超出单元格长度，已截断）".chars().count()
        );
        assert_eq!(super::cell_text("短"), "短");
        assert_eq!(super::sheet_name("'x", &[]), "x");
        assert_eq!(super::sheet_name("''", &[]), "表");
        assert_eq!(super::sheet_name("SHEET1", &["Sheet1".to_string()]), "SHEET12");
        assert_eq!(super::sheet_name("a/b[c]", &[]), "a_b_c_");
        assert_eq!(super::sheet_name(&"长".repeat(40), &[]).chars().count(), 28);
    }
}

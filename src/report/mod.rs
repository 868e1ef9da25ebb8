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
    }
}

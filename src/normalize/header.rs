//! Header text as it is compared with a form's synonyms (domain.md §1.1): full-width folded,
//! all whitespace (including line breaks inside a cell) removed, and, as a second chance,
//! a trailing bracketed annotation dropped ("性别(男/女)" → "性别", "身份证件号码（18位）" →
//! "身份证件号码"). The annotation is only dropped for the second comparison, because some real
//! headers are themselves bracketed ("镇(办事处)").

use super::text;

/// The comparable form of a header cell.
pub fn normalize(header: &str) -> String {
    text::compact(header)
}

/// `normalize`d text without a trailing `(...)` annotation, if it has one.
pub fn strip_annotation(normalized: &str) -> Option<&str> {
    let open = normalized.rfind('(')?;
    (normalized.ends_with(')') && open > 0).then(|| &normalized[..open])
}

/// Whether a header cell names the field with this synonym.
pub fn matches(header: &str, synonym: &str) -> bool {
    let h = normalize(header);
    let s = normalize(synonym);
    h == s || strip_annotation(&h) == Some(s.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_width_and_spaces() {
        assert!(matches("性别(男/女)", "性别"));
        assert!(matches("身份证件号码（18位）", "身份证件号码"));
        assert!(matches(" 联系\n电话 ", "联系电话"));
        assert!(matches("镇（办事处）", "镇(办事处)"));
        assert!(!matches("镇(办事处)", "办事处"));
    }
}

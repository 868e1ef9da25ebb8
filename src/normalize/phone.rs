//! Phone numbers (domain.md §2.4): mobiles `^1[3-9]\d{9}$` after stripping spaces, dashes and
//! a +86 prefix; Tangshan landlines `0315-\d{7}` or a bare 7-digit local number; other
//! landlines with an area code. A cell may hold several numbers.

use super::text;

/// The numbers in one cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phones {
    /// Valid numbers, normalised (`13812345678`, `0315-2802605`), in the order written.
    pub valid: Vec<String>,
    /// Parts that are not valid numbers, as written.
    pub invalid: Vec<String>,
}

/// Splits a cell into numbers and checks each.
pub fn parse(raw: &str) -> Phones {
    // Most cells hold one number in plain digits: nothing to fold, split or join.
    let plain = raw.trim();
    if (7..=12).contains(&plain.len())
        && plain.bytes().all(|b| b.is_ascii_digit())
        && let Some(n) = normalise_one(plain)
    {
        return Phones { valid: vec![n], invalid: Vec::new() };
    }
    let folded = text::fold_width(&text::clean(raw));
    let mut phones = Phones::default();
    for part in folded.split(['/', '、', ',', '，', ';', '；', '\n', '|']) {
        // Inner spaces group digits ("138 1234 5678") unless they separate two numbers.
        let pieces: Vec<&str> = part.split_whitespace().collect();
        let joined: String = pieces.concat();
        if pieces.len() > 1 && normalise_one(&joined).is_none() && pieces.iter().all(|p| normalise_one(p).is_some()) {
            phones.valid.extend(pieces.iter().filter_map(|p| normalise_one(p)));
            continue;
        }
        if joined.is_empty() {
            continue;
        }
        match normalise_one(&joined) {
            Some(n) => phones.valid.push(n),
            None => phones.invalid.push(part.trim().to_string()),
        }
    }
    phones
}

/// A number read from a numeric cell (`13912345678.0`).
pub fn from_number(value: f64) -> Phones {
    if value.fract() == 0.0 && value > 0.0 {
        parse(&format!("{value:.0}"))
    } else {
        Phones { valid: Vec::new(), invalid: vec![value.to_string()] }
    }
}

fn normalise_one(s: &str) -> Option<String> {
    let s: String = s.chars().filter(|c| !matches!(c, '-' | '(' | ')' | '（' | '）')).collect();
    let s = s.strip_suffix(".0").unwrap_or(&s);
    let digits = s.strip_prefix('+').unwrap_or(s);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mobile = |d: &str| d.len() == 11 && d.starts_with('1') && (b'3'..=b'9').contains(&d.as_bytes()[1]);
    for prefix in ["0086", "86"] {
        if let Some(rest) = digits.strip_prefix(prefix) {
            if mobile(rest) {
                return Some(rest.to_string());
            }
        }
    }
    if mobile(digits) {
        return Some(digits.to_string());
    }
    // Tangshan local number without the area code.
    if digits.len() == 7 && !digits.starts_with('0') {
        return Some(format!("0315-{digits}"));
    }
    // Landline with a 3- or 4-digit area code and a 7- or 8-digit number.
    if digits.starts_with('0') && (10..=12).contains(&digits.len()) {
        let area = if digits.starts_with("01") || digits.starts_with("02") { 3 } else { 4 };
        let rest = &digits[area..];
        if (7..=8).contains(&rest.len()) {
            return Some(format!("{}-{rest}", &digits[..area]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_and_two_numbers() {
        assert_eq!(parse("138 1234 5678").valid, vec!["13812345678"]);
        assert_eq!(parse("+86 13812345678").valid, vec!["13812345678"]);
        assert_eq!(parse("１３８１２３４５６７８").valid, vec!["13812345678"]);
        assert_eq!(parse("138-1234-5678").valid, vec!["13812345678"]);
        assert_eq!(parse("13812345678/13987654321").valid, vec!["13812345678", "13987654321"]);
        assert_eq!(parse("13812345678、0315-2802605").valid, vec!["13812345678", "0315-2802605"]);
        assert_eq!(parse("13812345678 13987654321").valid, vec!["13812345678", "13987654321"]);
        assert_eq!(parse("2802605").valid, vec!["0315-2802605"]);
        assert_eq!(from_number(13912345678.0).valid, vec!["13912345678"]);
    }

    #[test]
    fn wrong_numbers_are_reported() {
        assert_eq!(parse("1381234567").invalid, vec!["1381234567"]);
        assert_eq!(parse("12345678901").invalid, vec!["12345678901"]);
        assert_eq!(parse("").valid.len() + parse("").invalid.len(), 0);
    }
}

//! Text clean-up for cells typed by hand: full-width forms, odd spaces, zero-width characters.

/// Folds full-width ASCII forms (U+FF01..U+FF5E) and the ideographic space (U+3000) to their
/// half-width counterparts. This is the part of NFKC that matters for IDs, phones, codes and
/// dates in spreadsheets (domain.md §3.5), without pulling in the whole Unicode tables.
pub fn fold_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// Trims every kind of Unicode whitespace at both ends and removes zero-width characters and
/// BOMs anywhere in the text.
pub fn clean(s: &str) -> String {
    clean_str(s).into_owned()
}

/// `clean` without allocating when there is nothing invisible to remove (the common case: it
/// runs on every cell).
pub fn clean_str(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(is_invisible) {
        let without: String = s.chars().filter(|c| !is_invisible(*c)).collect();
        std::borrow::Cow::Owned(without.trim().to_string())
    } else {
        std::borrow::Cow::Borrowed(s.trim())
    }
}

/// Width-folds, cleans and removes all inner whitespace: the form in which an ID, phone or
/// code is compared.
pub fn compact(s: &str) -> String {
    let cleaned = clean_str(s);
    if cleaned.is_ascii() && !cleaned.bytes().any(|b| b.is_ascii_whitespace()) {
        return cleaned.into_owned();
    }
    let mut out = String::with_capacity(cleaned.len());
    for c in cleaned.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        };
        // The ideographic space (U+3000) is whitespace too.
        if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// A number as Excel shows it in a General cell widened to fit: integers in full up to 15
/// significant digits, and beyond that the 15 digits Excel keeps followed by zeros (Excel
/// stores no more, so `130203198506123020` typed as a number reads `130203198506123000`).
pub fn number_text(value: f64) -> String {
    if value.fract() != 0.0 || !value.is_finite() {
        return value.to_string();
    }
    if value.abs() < 1e15 {
        return format!("{value:.0}");
    }
    let sci = format!("{:.14e}", value.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: usize = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = if value < 0.0 { String::from("-") } else { String::new() };
    out.push_str(&digits);
    out.push_str(&"0".repeat((exponent + 1).saturating_sub(digits.len())));
    out
}

/// Excel column letters for a 0-based column index (0 → A, 26 → AA).
pub fn column_letter(mut index: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII letters")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width_digits_letters_and_space() {
        assert_eq!(fold_width("１３０２０３ｘ（注）"), "130203x(注)");
        assert_eq!(compact(" 1302\u{3000}03 \u{200B}"), "130203");
        assert_eq!(number_text(130203198506123000.0), "130203198506123000");
        assert_eq!(number_text(13812345678.0), "13812345678");
        assert_eq!(number_text(1.5), "1.5");
    }
}

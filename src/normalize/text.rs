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

/// Display width of text in a spreadsheet column: CJK (any non-ASCII) characters count double.
pub fn display_width(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
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
    // Every invisible character is encoded with a lead byte 0xE2 or 0xEF: most cells have
    // neither, and a byte search is far cheaper than decoding characters.
    // A plain loop for the short text of most cells: memchr's setup costs more there.
    let bytes = s.as_bytes();
    let lead = if bytes.len() < 64 {
        bytes.iter().any(|b| *b == 0xE2 || *b == 0xEF)
    } else {
        memchr::memchr2(0xE2, 0xEF, bytes).is_some()
    };
    if lead && s.chars().any(is_invisible) {
        let without: String = s.chars().filter(|c| !is_invisible(*c)).collect();
        std::borrow::Cow::Owned(without.trim().to_string())
    } else {
        std::borrow::Cow::Borrowed(s.trim())
    }
}

/// Width-folds, cleans and removes all inner whitespace: the form in which an ID, phone or
/// code is compared.
pub fn compact(s: &str) -> String {
    compact_cow(s).into_owned()
}

/// `compact` without allocating when the cleaned text is already compact (most cells).
pub fn compact_cow(s: &str) -> std::borrow::Cow<'_, str> {
    let cleaned = clean_str(s);
    if !needs_compacting(&cleaned) {
        return cleaned;
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
    std::borrow::Cow::Owned(out)
}

/// Whether cleaned text compacts to `compacted`, without building the compact form when the
/// first characters already differ (how a data row is told from a repeated header row).
pub fn compacts_to(cleaned: &str, compacted: &str) -> bool {
    match (cleaned.as_bytes().first(), compacted.as_bytes().first()) {
        (Some(a), Some(b)) if a != b && !needs_compacting(&cleaned[..cleaned.ceil_char_boundary(1)]) => false,
        _ => compact_cow(cleaned) == compacted,
    }
}

/// Whether `compact` has anything to change in cleaned text: ASCII whitespace, or a character
/// with one of the lead bytes of full-width forms (0xEF), the ideographic space (0xE3 0x80 0x80)
/// or other Unicode whitespace (0xC2, 0xE1, 0xE2). Chinese text mostly uses lead bytes
/// 0xE4..0xE9, so this is a byte scan with no decoding for nearly every cell.
fn needs_compacting(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C | 0xC2 | 0xE1 | 0xE2 | 0xE3 | 0xEF))
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
        assert_eq!(compact("荣馨园\u{3000}３号楼\u{a0}2单元"), "荣馨园3号楼2单元");
        assert_eq!(compact("荣馨园社区第3网格"), "荣馨园社区第3网格");
        assert_eq!(clean_str("\u{feff}王\u{200b}伟 "), "王伟");
        assert!(compacts_to("身份 证号", "身份证号") && compacts_to("ＩＤ号", "ID号"));
        assert!(!compacts_to("王伟", "姓名") && !compacts_to("", "姓名"));
        assert_eq!(number_text(130203198506123000.0), "130203198506123000");
        assert_eq!(number_text(13812345678.0), "13812345678");
        assert_eq!(number_text(1.5), "1.5");
    }
}

//! Privacy: what personal data may leave wangge, and how it is hidden. Every output goes
//! through here: the warehouse's raw values and messages, the 退回修改 workbooks, the manifest,
//! log lines, error texts and email.
//!
//! Masking works on characters, never bytes, so text of any script is safe to pass in; and it
//! finds an ID or a mobile number inside longer text (`（已迁出）110105…`, `电话13812345678`),
//! written in ASCII or full-width digits, with spaces or dashes between groups. Hashes (64 hex
//! characters) are left alone: their digit runs are not numbers anyone typed.

use std::borrow::Cow;

use crate::config::forms::FieldType;

/// What personal data may be written, and the key person keys are made with.
#[derive(Debug, Clone)]
pub struct Privacy {
    /// HMAC-SHA256 key for `person_key`.
    pub key: Vec<u8>,
    pub store_raw_ids: bool,
    pub store_raw_phones: bool,
}

impl Privacy {
    /// A raw cell value as it may be shown outside ingest. In an ID or phone column every long
    /// run of digits is masked, valid or not (a mistyped ID still gives away 17 digits of
    /// someone's number); in any other column the IDs and mobile numbers found in the text are.
    /// Raw values stay only where the workspace asks for them.
    pub fn show(&self, raw: &str, kind: Option<FieldType>) -> String {
        match kind {
            Some(FieldType::CitizenId) if !self.store_raw_ids => {
                self.redact(&mask_runs(raw, 7, RunMask::Id)).into_owned()
            }
            Some(FieldType::Phone) if !self.store_raw_phones => {
                self.redact(&mask_runs(raw, 7, RunMask::Phone)).into_owned()
            }
            _ => self.redact(raw).into_owned(),
        }
    }

    /// `text` with every ID-like number and mobile number in it masked, as the workspace's
    /// settings allow. For messages, log lines, errors and manifests.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let policy = Policy { ids: !self.store_raw_ids, phones: !self.store_raw_phones };
        redact_with(text, policy)
    }
}

/// `text` with every ID-like number and mobile number masked: the default for anything that
/// leaves wangge when no workspace settings are at hand (log lines, panics, CLI errors).
pub fn redact(text: &str) -> Cow<'_, str> {
    redact_with(text, Policy { ids: true, phones: true })
}

/// `130203********3020`: the first 6 and last 4 characters of an ID, counted in characters.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let n = chars.len();
    if n <= 10 {
        return "*".repeat(n);
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[n - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(n - 10))
}

/// `138****5678`: the first 3 and last 4 digits of a mobile; a landline keeps its area code
/// and last 4 digits (`0315-***2605`).
pub fn mask_phone(normalised: &str) -> String {
    let chars: Vec<char> = normalised.chars().collect();
    if let Some(dash) = chars.iter().position(|c| *c == '-') {
        let rest = &chars[dash + 1..];
        if rest.len() > 4 {
            let area: String = chars[..dash].iter().collect();
            let tail: String = rest[rest.len() - 4..].iter().collect();
            return format!("{area}-{}{tail}", "*".repeat(rest.len() - 4));
        }
    }
    let n = chars.len();
    if n >= 11 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[n - 4..].iter().collect();
        return format!("{head}{}{tail}", "*".repeat(n - 7));
    }
    "*".repeat(n)
}

/// What to mask. ID-shaped numbers are masked whether or not their check character is right:
/// a mistyped ID still gives away 17 digits of someone's number.
#[derive(Debug, Clone, Copy)]
struct Policy {
    ids: bool,
    phones: bool,
}

/// A digit of any width as its ASCII value.
fn digit(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '０'..='９' => Some((c as u32 - '０' as u32) as u8),
        _ => None,
    }
}

fn is_check_x(c: char) -> bool {
    matches!(c, 'X' | 'x' | 'Ｘ' | 'ｘ')
}

/// One space or dash may stand between groups of digits (`138 1234 5678`, `138-1234-5678`).
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\u{3000}' | '-' | '－' | '\u{00A0}')
}

/// A group of consecutive digits: its byte span in the text and its ASCII digits.
#[derive(Debug)]
struct Group {
    start: usize,
    end: usize,
    digits: String,
    /// The group is followed directly by an `X` (an ID's check character); `end` excludes it.
    x_end: Option<usize>,
}

/// The groups of digits in `text`, split into runs: groups of one run are separated by exactly
/// one separator character. Digits inside a long hex token (a hash) are not groups.
fn runs(text: &str) -> Vec<Vec<Group>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let hashes = hex_tokens(&chars);
    let mut runs: Vec<Vec<Group>> = Vec::new();
    let mut current: Vec<Group> = Vec::new();
    let mut i = 0;
    // The hex tokens are in order and apart: the next one that may hold `i`. (Looking through
    // all of them at every character took 1.9 s of a year's run, on its 1.2 MB manifest.)
    let mut next = 0;
    while i < chars.len() {
        while hashes.get(next).is_some_and(|(_, b)| *b <= i) {
            next += 1;
        }
        if let Some((_, b)) = hashes.get(next).filter(|(a, _)| *a <= i) {
            if !current.is_empty() {
                runs.push(std::mem::take(&mut current));
            }
            i = *b;
            continue;
        }
        let Some(_) = digit(chars[i].1) else {
            if !current.is_empty() {
                runs.push(std::mem::take(&mut current));
            }
            i += 1;
            continue;
        };
        let start = chars[i].0;
        let mut digits = String::new();
        while i < chars.len() && digit(chars[i].1).is_some() {
            digits.push((b'0' + digit(chars[i].1).unwrap_or(0)) as char);
            i += 1;
        }
        let end = chars.get(i).map_or(text.len(), |(at, _)| *at);
        let x_end = chars.get(i).filter(|(_, c)| is_check_x(*c)).map(|(at, c)| at + c.len_utf8());
        current.push(Group { start, end, digits, x_end });
        // The run goes on only over a single separator followed by another digit.
        let continues = i + 1 < chars.len() && is_separator(chars[i].1) && digit(chars[i + 1].1).is_some();
        if continues {
            i += 1;
        } else if !current.is_empty() {
            runs.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// Char-index spans of hex tokens of at least 32 characters that hold a letter (hashes, keys).
fn hex_tokens(chars: &[(usize, char)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].1.is_ascii_hexdigit() {
            let start = i;
            while i < chars.len() && chars[i].1.is_ascii_hexdigit() {
                i += 1;
            }
            let letters = chars[start..i].iter().any(|(_, c)| c.is_ascii_alphabetic());
            let bounded = chars.get(i).is_none_or(|(_, c)| !c.is_ascii_alphanumeric());
            if i - start >= 32 && letters && bounded {
                out.push((start, i));
            }
        } else {
            i += 1;
        }
    }
    out
}

/// What a sequence of digits is, if it is something to mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Id,
    Mobile,
}

fn plausible_ymd(y: u32, m: u32, d: u32, years: std::ops::RangeInclusive<u32>) -> bool {
    years.contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d)
}

fn num(s: &str) -> u32 {
    s.bytes().fold(0u32, |acc, b| acc.saturating_mul(10).saturating_add(u32::from(b - b'0')))
}

/// Classifies ASCII `digits` (with a trailing `X` when `x`).
fn classify(digits: &str, x: bool, policy: Policy) -> Option<Kind> {
    let n = digits.len() + usize::from(x);
    if policy.ids && n == 18 {
        let d = &digits[..digits.len().min(18)];
        if plausible_ymd(num(&d[6..10]), num(&d[10..12]), num(&d[12..14]), 1850..=2100) {
            return Some(Kind::Id);
        }
    }
    if policy.ids
        && n == 15
        && !x
        && plausible_ymd(1900 + num(&digits[6..8]), num(&digits[8..10]), num(&digits[10..12]), 1900..=1999)
    {
        return Some(Kind::Id);
    }
    // The other ID-length numbers with a birth date in place (one digit too many or too few)
    // give away nearly all of an ID too.
    if policy.ids && (16..=19).contains(&n) && n != 18 && digits.len() >= 14 {
        if plausible_ymd(num(&digits[6..10]), num(&digits[10..12]), num(&digits[12..14]), 1850..=2100) {
            return Some(Kind::Id);
        }
    }
    if policy.phones && !x {
        let mobile = |d: &str| d.len() == 11 && d.starts_with('1') && (b'3'..=b'9').contains(&d.as_bytes()[1]);
        if mobile(digits)
            || digits.strip_prefix("86").is_some_and(mobile)
            || digits.strip_prefix("0086").is_some_and(mobile)
        {
            return Some(Kind::Mobile);
        }
    }
    None
}

fn masked(digits: &str, x: bool, kind: Kind) -> String {
    let all = if x { format!("{digits}X") } else { digits.to_string() };
    match kind {
        Kind::Id => mask_id(&all),
        Kind::Mobile => {
            let (prefix, mobile) = all.split_at(all.len() - 11);
            format!("{prefix}{}", mask_phone(mobile))
        }
    }
}

fn redact_with(text: &str, policy: Policy) -> Cow<'_, str> {
    // Nothing to find in text without 11 digits (most log lines, names, dates).
    if text.chars().filter(|c| digit(*c).is_some()).count() < 11 || !(policy.ids || policy.phones) {
        return Cow::Borrowed(text);
    }
    // Byte spans to replace, in order.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for run in runs(text) {
        let mut i = 0;
        while i < run.len() {
            // The longest stretch of groups from `i` that is an ID or a mobile.
            let mut found: Option<(usize, Kind, bool)> = None;
            let mut joined = String::new();
            for (j, group) in run.iter().enumerate().skip(i) {
                joined.push_str(&group.digits);
                if joined.len() > 19 {
                    break;
                }
                let x = group.x_end.is_some() && j + 1 == run.len();
                if let Some(kind) = classify(&joined, x, policy) {
                    found = Some((j, kind, x));
                } else if x && let Some(kind) = classify(&joined, false, policy) {
                    found = Some((j, kind, false));
                }
            }
            match found {
                Some((j, kind, x)) => {
                    let joined: String = run[i..=j].iter().map(|g| g.digits.as_str()).collect();
                    let end = if x { run[j].x_end.unwrap_or(run[j].end) } else { run[j].end };
                    edits.push((run[i].start, end, masked(&joined, x, kind)));
                    i = j + 1;
                }
                None => {
                    // Digits glued together (an ID typed straight after a phone number): look
                    // for an ID inside a long group.
                    let g = &run[i];
                    if policy.ids && g.digits.len() > 18 {
                        let mut k = 0;
                        let mut inner: Vec<(usize, usize)> = Vec::new();
                        while k + 18 <= g.digits.len() {
                            if classify(&g.digits[k..k + 18], false, policy) == Some(Kind::Id) {
                                inner.push((k, k + 18));
                                k += 18;
                            } else {
                                k += 1;
                            }
                        }
                        if !inner.is_empty() {
                            // Byte offsets: digits of one width per group are not guaranteed,
                            // so mask the whole group.
                            edits.push((g.start, g.end, mask_id(&g.digits)));
                        }
                    }
                    i += 1;
                }
            }
        }
    }
    if edits.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, replacement) in edits {
        out.push_str(&text[at..start]);
        out.push_str(&replacement);
        at = end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// How `mask_runs` masks a run of digits in an ID or phone column.
#[derive(Debug, Clone, Copy)]
enum RunMask {
    Id,
    Phone,
}

/// Masks every run of at least `min` digits (counted over one-separator gaps) in `text`: an ID
/// keeps its first 6 and last 4, a phone its first 3 and last 4 (only the last 4 when short);
/// shorter runs are left as they are.
fn mask_runs(text: &str, min: usize, how: RunMask) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for run in runs(text) {
        let digits: String = run.iter().map(|g| g.digits.as_str()).collect();
        if digits.len() < min {
            continue;
        }
        let last = run.last().expect("a run has a group");
        let (end, shown) = match how {
            RunMask::Id => {
                let x = last.x_end.is_some();
                let all = if x { format!("{digits}X") } else { digits };
                (last.x_end.unwrap_or(last.end), mask_id(&all))
            }
            RunMask::Phone => {
                let n = digits.len();
                let shown =
                    if n >= 11 { mask_phone(&digits) } else { format!("{}{}", "*".repeat(n - 4), &digits[n - 4..]) };
                (last.end, shown)
            }
        };
        out.push_str(&text[at..run[0].start]);
        out.push_str(&shown);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Privacy {
        Privacy { key: vec![0; 16], store_raw_ids: false, store_raw_phones: false }
    }

    #[test]
    fn masks_by_characters_not_bytes() {
        assert_eq!(mask_id("130203198506123020"), "130203********3020");
        assert_eq!(mask_id("外籍人员暂无身份证号码"), "外籍人员暂无*份证号码");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("0315-2802605"), "0315-***2605");
        assert_eq!(mask_phone("号码"), "**");
    }

    #[test]
    fn id_columns_mask_every_long_run_and_keep_words() {
        let p = strict();
        let id = Some(FieldType::CitizenId);
        assert_eq!(p.show("外籍人员暂无身份证号码", id), "外籍人员暂无身份证号码");
        assert_eq!(p.show("(已迁出)11010519491231002X", id), "(已迁出)110105********002X");
        assert_eq!(p.show("130205197310060490", id), "130205********0490");
        assert_eq!(p.show("１３０２０５ １９７３１００６ ０４９０", id), "130205********0490");
        assert_eq!(p.show("1302051973", id), "**********");
        assert_eq!(p.show("13812345678", Some(FieldType::Phone)), "138****5678");
        assert_eq!(p.show("2802605", Some(FieldType::Phone)), "***2605");
    }

    #[test]
    fn finds_ids_and_mobiles_inside_text() {
        let cases = [
            ("身份证号“130205197310060490”无效", "身份证号“130205********0490”无效"),
            ("电话13812345678、0315-2802605", "电话138****5678、0315-2802605"),
            ("138 1234 5678", "138****5678"),
            ("+86 138-1234-5678", "+86138****5678"),
            ("１３８１２３４５６７８", "138****5678"),
            ("11010519491231002x号", "110105********002X号"),
            ("旧号130203850612302", "旧号130203*****2302"),
            ("Excel 130203198506123000", "Excel 130203********3000"),
        ];
        for (text, want) in cases {
            assert_eq!(redact(text), want, "{text}");
        }
    }

    #[test]
    fn leaves_codes_dates_and_hashes() {
        for text in [
            "130273101001",
            "13027310100100101",
            "2022-05-10 14:30",
            "a3f1381234567812345678901234567890abcdef1234567890abcdef12345678",
            "行 12，列 C",
            "0315-2802605",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn a_mistyped_id_is_masked_as_well_as_a_valid_one() {
        assert_eq!(redact("130205197310060490"), "130205********0490");
        assert_eq!(redact("11010519491231002X"), "110105********002X");
    }

    #[test]
    fn raw_values_stay_only_where_the_workspace_asks_for_them() {
        let p = Privacy { key: vec![0; 16], store_raw_ids: true, store_raw_phones: false };
        assert_eq!(p.show("11010519491231002X", Some(FieldType::CitizenId)), "11010519491231002X");
        assert_eq!(p.show("电话13812345678", None), "电话138****5678");
        assert_eq!(p.redact("11010519491231002X 13812345678"), "11010519491231002X 138****5678");
    }

    #[test]
    fn never_panics_on_odd_text() {
        for text in ["", "X", "1X", "１", "－1", "1 ", " 1-", "𝟙𝟚", "12345678901234567890123456789012345678901", "0x"]
        {
            let _ = redact(text);
            let _ = strict().show(text, Some(FieldType::CitizenId));
            let _ = strict().show(text, Some(FieldType::Phone));
        }
    }
}

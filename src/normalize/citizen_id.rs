//! GB 11643-1999 citizen ID numbers (公民身份号码): check character, birth date, gender, the
//! legacy 15-digit form, and the damage Excel does to IDs stored as numbers (domain.md §2.1, §3.3).

use chrono::NaiveDate;

use super::text;

/// Weights of positions 1..=17 for the ISO 7064 MOD 11-2 check character.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for `S mod 11` = index.
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// Gender as encoded by the parity of the 17th character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    /// The Chinese label used in forms and reports.
    pub fn label(self) -> &'static str {
        match self {
            Gender::Male => "男",
            Gender::Female => "女",
        }
    }
}

/// A checked 18-character citizen ID with the facts it encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenId {
    /// The 18 characters, upper-case `X`.
    pub number: String,
    pub birth_date: NaiveDate,
    pub gender: Gender,
    /// True when the input was a legacy 15-digit ID that was upgraded.
    pub upgraded_from_15: bool,
}

/// Why a text is not a valid citizen ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("身份证号应为18位（或旧版15位），实际为{0}位")]
    WrongLength(usize),
    #[error("身份证号含有非法字符")]
    BadCharacters,
    // The messages say what is wrong without the number: they reach logs, the rejects table
    // and the 退回修改 workbooks, and a message that names the expected check character next
    // to the other 17 digits would give the whole ID away.
    #[error("身份证号中的出生日期不是有效日期")]
    BadBirthDate,
    #[error("身份证号中的出生日期晚于当前日期")]
    FutureBirthDate,
    #[error("身份证号校验位错误（末位与前面各位不符）")]
    BadChecksum,
}

impl IdError {
    /// A short stable code for the detail of an `invalid_id` reject.
    pub fn detail_code(&self) -> &'static str {
        match self {
            IdError::WrongLength(_) => "wrong_length",
            IdError::BadCharacters => "bad_characters",
            IdError::BadBirthDate => "bad_birth_date",
            IdError::FutureBirthDate => "future_birth_date",
            IdError::BadChecksum => "bad_checksum",
        }
    }
}

/// The check character for the first 17 digits (any byte that is not an ASCII digit counts
/// as 0, so no input can make it panic; callers pass digits).
pub fn check_char(first17: &str) -> char {
    let sum: u32 = first17.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b.wrapping_sub(b'0') % 10) * w).sum();
    CHECK_CHARS[(sum % 11) as usize] as char
}

/// Builds a valid ID from its parts: a 6-digit address code, a birth date and a 3-digit
/// sequence (odd = male, even = female).
pub fn compose(address: &str, birth: NaiveDate, sequence: u16) -> String {
    let first17 = format!("{address}{}{sequence:03}", birth.format("%Y%m%d"));
    let check = check_char(&first17);
    format!("{first17}{check}")
}

/// Upgrades a legacy 15-digit ID (YYMMDD birth date, no check character) by inserting "19"
/// and computing the check character. People born in 1900 or earlier cannot be told apart;
/// that is inherent in the legacy format.
pub fn upgrade_15(legacy: &str) -> String {
    // By characters: callers pass 15 ASCII digits, but no text may make this panic.
    let head: String = legacy.chars().take(6).collect();
    let rest: String = legacy.chars().skip(6).collect();
    let first17 = format!("{head}19{rest}");
    let check = check_char(&first17);
    format!("{first17}{check}")
}

/// Parses and checks an ID typed as text: trims, folds full-width characters, drops inner
/// spaces and a leading apostrophe (Excel's "store as text" trick), upper-cases `x`, upgrades
/// the 15-digit form, then checks the birth date (a real date, not after `today`) and the check
/// character.
pub fn parse(raw: &str, today: NaiveDate) -> Result<CitizenId, IdError> {
    let compacted = text::compact(raw);
    let s = compacted.trim_start_matches(['\'', '‘', '’']).to_ascii_uppercase();
    // Lengths in characters, not bytes: text of any script must neither panic nor read as an
    // ID of the wrong length.
    let (number, upgraded) = match s.chars().count() {
        15 if s.bytes().all(|b| b.is_ascii_digit()) => (upgrade_15(&s), true),
        15 => return Err(IdError::BadCharacters),
        18 if s.is_ascii() => (s, false),
        18 => return Err(IdError::BadCharacters),
        n => return Err(IdError::WrongLength(n)),
    };
    let bytes = number.as_bytes();
    if !bytes[..17].iter().all(u8::is_ascii_digit) || !(bytes[17].is_ascii_digit() || bytes[17] == b'X') {
        return Err(IdError::BadCharacters);
    }
    let birth_text = &number[6..14];
    let birth_date = NaiveDate::parse_from_str(birth_text, "%Y%m%d").map_err(|_| IdError::BadBirthDate)?;
    if birth_date > today {
        return Err(IdError::FutureBirthDate);
    }
    if check_char(&number[..17]) != bytes[17] as char {
        return Err(IdError::BadChecksum);
    }
    let gender = if (bytes[16] - b'0') % 2 == 1 { Gender::Male } else { Gender::Female };
    Ok(CitizenId { number, birth_date, gender, upgraded_from_15: upgraded })
}

/// What a numeric spreadsheet cell in an ID column can still tell us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumericId {
    /// The digits are exact: a 15-digit legacy ID fits in Excel's 15 significant digits.
    Exact(String),
    /// Excel keeps 15 significant digits, so an 18-digit ID stored as a number has lost its
    /// last digits. The damage cannot be undone and the ID must never be guessed.
    PrecisionLost(String),
    /// Not an ID-shaped number at all (fraction, negative, too short).
    NotAnId(String),
}

/// Classifies a number read from an ID column (domain.md §3.3).
pub fn classify_numeric(value: f64) -> NumericId {
    let shown = text::number_text(value);
    if value.fract() != 0.0 || value < 0.0 {
        return NumericId::NotAnId(shown);
    }
    match shown.len() {
        15 => NumericId::Exact(shown),
        16..=18 => NumericId::PrecisionLost(shown),
        _ => NumericId::NotAnId(shown),
    }
}

/// What Excel stores when an 18-digit ID is typed into a cell formatted as a number: the value
/// rounded to 15 significant digits.
pub fn excel_numeric_value(id_digits: &str) -> f64 {
    let value: f64 = id_digits.parse().unwrap_or(0.0);
    let rounded = format!("{value:.14e}");
    rounded.parse().unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2022, 5, 10).unwrap()
    }

    #[test]
    fn accepts_published_test_vectors() {
        for id in [
            "11010519491231002X",
            "440524188001010014",
            "120223198902021249",
            "130132199210293822",
            "130203198506123020",
            "130208195611030043",
        ] {
            assert!(parse(id, today()).is_ok(), "{id}");
        }
    }

    #[test]
    fn rejects_published_invalid_vector() {
        assert!(matches!(parse("130402198207290622", today()), Err(IdError::BadChecksum)));
    }

    #[test]
    fn normalises_case_width_spaces_and_apostrophe() {
        let id = parse("'１１０１０５ 19491231002x ", today()).unwrap();
        assert_eq!(id.number, "11010519491231002X");
        assert_eq!(id.gender, Gender::Female);
        assert_eq!(id.birth_date, NaiveDate::from_ymd_opt(1949, 12, 31).unwrap());
    }

    #[test]
    fn upgrades_legacy_15_digit_ids() {
        let full = compose("130203", NaiveDate::from_ymd_opt(1956, 11, 3).unwrap(), 4);
        let legacy = format!("{}{}", &full[..6], &full[8..17]);
        let id = parse(&legacy, today()).unwrap();
        assert_eq!(id.number, full);
        assert!(id.upgraded_from_15);
    }

    #[test]
    fn rejects_impossible_and_future_birth_dates() {
        let bad = format!("13020319850230{}", "123");
        let bad = format!("{bad}{}", check_char(&bad));
        assert!(matches!(parse(&bad, today()), Err(IdError::BadBirthDate)));
        let future = compose("130203", NaiveDate::from_ymd_opt(2023, 1, 1).unwrap(), 11);
        assert!(matches!(parse(&future, today()), Err(IdError::FutureBirthDate)));
    }

    #[test]
    fn text_of_any_script_is_an_error_not_a_panic() {
        assert_eq!(parse("外籍人员暂无身份证号码", today()), Err(IdError::WrongLength(11)));
        assert_eq!(parse("(已迁出)11010519491231002X", today()), Err(IdError::WrongLength(23)));
        assert_eq!(parse("身份证号码身份证号码身份证号码身份证", today()), Err(IdError::BadCharacters));
        assert_eq!(parse("一二三四五六七八九十一二三四五", today()), Err(IdError::BadCharacters));
        assert_eq!(check_char("1234567890abcdefg").len_utf8(), 1);
        assert_eq!(upgrade_15("甲乙").chars().count(), 5);
    }

    #[test]
    fn messages_never_carry_the_number() {
        let id = "130205197310060490";
        for e in [parse(id, today()).unwrap_err(), IdError::BadBirthDate, IdError::FutureBirthDate] {
            assert!(!e.to_string().chars().any(|c| c.is_ascii_digit()), "{e}");
        }
    }

    #[test]
    fn numbers_from_excel_lose_digits() {
        let v = excel_numeric_value("130203198506123020");
        assert_eq!(v, 130203198506123000.0);
        assert_eq!(classify_numeric(v), NumericId::PrecisionLost("130203198506123000".into()));
        assert_eq!(classify_numeric(130203850612302.0), NumericId::Exact("130203850612302".into()));
    }
}

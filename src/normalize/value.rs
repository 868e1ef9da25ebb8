//! One cell of a declared field turned into a typed value, or the reason it cannot be
//! (domain.md §2–3). Cells arrive as `Cell`, the neutral form every reader produces.

use chrono::{NaiveDate, NaiveDateTime};

use super::citizen_id::{self, CitizenId, NumericId};
use super::{date, phone, text};

/// A spreadsheet cell as read, before any field type is applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Bool(bool),
    /// A cell Excel formats as a date or time.
    DateTime(NaiveDateTime),
    /// An Excel error value such as `#DIV/0!`.
    Error(String),
}

impl Cell {
    /// Whether the cell holds nothing but whitespace.
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => text::clean_str(s).is_empty(),
            _ => false,
        }
    }

    /// `display`, borrowed when the cell is text (nearly always): it runs on every cell.
    pub fn as_text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Text(s) => std::borrow::Cow::Borrowed(s),
            other => std::borrow::Cow::Owned(other.display()),
        }
    }

    /// The cell as text, as a user would read it.
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => text::number_text(*n),
            Cell::Bool(b) => {
                if *b {
                    "TRUE".into()
                } else {
                    "FALSE".into()
                }
            }
            Cell::DateTime(t) if t.time() == chrono::NaiveTime::MIN => t.date().format("%Y-%m-%d").to_string(),
            Cell::DateTime(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            Cell::Error(e) => e.clone(),
        }
    }

    /// The cleaned text of the cell (trimmed, invisible characters removed).
    pub fn text(&self) -> String {
        match self {
            Cell::Text(s) => text::clean(s),
            Cell::Empty => String::new(),
            other => text::clean(&other.display()),
        }
    }
}

/// Why a value was not accepted; the reason codes of the rejects table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    InvalidId(citizen_id::IdError),
    IdPrecisionLost(String),
    InvalidDate,
    InvalidPhone(Vec<String>),
    InvalidInteger,
    InvalidDuration,
    UnknownValue { allowed: Vec<String> },
}

impl ValueError {
    pub fn reason(&self) -> &'static str {
        match self {
            ValueError::InvalidId(_) => "invalid_id",
            ValueError::IdPrecisionLost(_) => "id_precision_lost",
            ValueError::InvalidDate => "invalid_date",
            ValueError::InvalidPhone(_) => "invalid_phone",
            ValueError::InvalidInteger => "invalid_integer",
            ValueError::InvalidDuration => "invalid_duration",
            ValueError::UnknownValue { .. } => "unknown_value",
        }
    }

    /// The message for a data officer, in Chinese.
    pub fn message(&self, label: &str, raw: &str) -> String {
        match self {
            // Neither the ID nor what Excel left of it: both give away most of the number.
            ValueError::InvalidId(e) => format!("{label}无效：{e}"),
            ValueError::IdPrecisionLost(_) => {
                format!("{label}被Excel存成了数字，末几位已丢失，无法还原；请将该列设为文本格式后重新填写")
            }
            ValueError::InvalidDate => format!("{label}“{raw}”不是有效日期"),
            ValueError::InvalidPhone(parts) if parts.len() > 1 => {
                format!("{label}中有{}个号码不是有效的手机号或座机号", parts.len())
            }
            ValueError::InvalidPhone(_) => format!("{label}不是有效的手机号或座机号"),
            ValueError::InvalidInteger => format!("{label}“{raw}”不是整数"),
            ValueError::InvalidDuration => format!("{label}“{raw}”不是有效时限（如 48、48小时、2天）"),
            ValueError::UnknownValue { allowed } => format!("{label}“{raw}”不在可选值中：{}", allowed.join("、")),
        }
    }
}

/// A citizen ID cell: text is parsed; a number is exact only with 15 digits (Excel keeps 15
/// significant digits, so an 18-digit number has lost its last digits and is never guessed).
pub fn citizen_id(cell: &Cell, today: NaiveDate) -> Result<CitizenId, ValueError> {
    match cell {
        Cell::Number(n) => match citizen_id::classify_numeric(*n) {
            NumericId::Exact(digits) => citizen_id::parse(&digits, today).map_err(ValueError::InvalidId),
            NumericId::PrecisionLost(shown) => Err(ValueError::IdPrecisionLost(shown)),
            NumericId::NotAnId(shown) => {
                Err(ValueError::InvalidId(citizen_id::IdError::WrongLength(shown.chars().count())))
            }
        },
        other => citizen_id::parse(&other.display(), today).map_err(ValueError::InvalidId),
    }
}

/// A date cell: a date-formatted cell, a serial, or text in any spelling.
/// A date cell; `reference` (the sheet's report date) gives the year of one written without.
pub fn date(cell: &Cell, reference: NaiveDate) -> Result<date::ParsedDate, ValueError> {
    match cell {
        Cell::DateTime(t) => {
            let time = (t.time() != chrono::NaiveTime::MIN).then_some(t.time());
            Ok(date::ParsedDate { date: t.date(), time, inferred_year: false })
        }
        Cell::Number(n) => date::parse_serial(*n).ok_or(ValueError::InvalidDate),
        other => date::parse_text(&other.as_text(), reference).ok_or(ValueError::InvalidDate),
    }
}

/// A phone cell; invalid parts are reported, valid ones kept.
pub fn phones(cell: &Cell) -> phone::Phones {
    match cell {
        Cell::Number(n) => phone::from_number(*n),
        other => phone::parse(&other.as_text()),
    }
}

/// An integer, allowing a unit after it ("3人", "45户").
pub fn integer(cell: &Cell) -> Result<i64, ValueError> {
    match cell {
        Cell::Number(n) if n.fract() == 0.0 => Ok(*n as i64),
        other => {
            let t = text::compact_cow(&other.as_text()).into_owned();
            // Counting words offices put after a number: 3人, 2户, 4处 (hazards), 5辆 (vehicles).
            let digits = t
                .trim_end_matches(['人', '户', '个', '名', '次', '天', '小', '时', '处', '辆', '项', '件', '起', '栋']);
            digits.parse().map_err(|_| ValueError::InvalidInteger)
        }
    }
}

/// A time limit in whole hours: `48`, `48h`, `48小时`, `2天`, `2日`, `1.5天`, `3个工作日` (a
/// working day counted as a day: where the export has a 截止时间, that is exact). A bare number
/// is in days when the column's header says so (`办理时限(天)`: `days`), else in hours.
pub fn hours(cell: &Cell, days: bool) -> Result<i64, ValueError> {
    let text = match cell {
        Cell::Number(n) => n.to_string(),
        other => text::compact_cow(&other.as_text()).to_lowercase(),
    };
    let day_units = ["个工作日", "工作日", "天", "日", "d"];
    let hour_units = ["个小时", "小时", "hrs", "hr", "h", "时"];
    let (number, per) = if let Some(n) = day_units.iter().find_map(|u| text.strip_suffix(u)) {
        (n, 24.0)
    } else if let Some(n) = hour_units.iter().find_map(|u| text.strip_suffix(u)) {
        (n, 1.0)
    } else {
        (text.as_str(), if days { 24.0 } else { 1.0 })
    };
    let n: f64 = number.parse().map_err(|_| ValueError::InvalidDuration)?;
    let hours = (n * per).round();
    // Ten years is no time limit a case has.
    if !hours.is_finite() || !(0.0..=87_600.0).contains(&hours) {
        return Err(ValueError::InvalidDuration);
    }
    Ok(hours as i64)
}

/// 男/女 from the usual spellings.
pub fn gender(cell: &Cell) -> Result<&'static str, ValueError> {
    match text::compact_cow(&cell.as_text()).as_ref() {
        "男" | "男性" | "1" | "M" | "m" => Ok("男"),
        "女" | "女性" | "2" | "F" | "f" => Ok("女"),
        _ => Err(ValueError::UnknownValue { allowed: vec!["男".into(), "女".into()] }),
    }
}

/// 是/否 from 是, 否, √, ×, 有, 无, 1, 0, Y, N.
pub fn boolean(cell: &Cell) -> Result<bool, ValueError> {
    if let Cell::Bool(b) = cell {
        return Ok(*b);
    }
    match text::compact_cow(&cell.as_text()).to_uppercase().as_str() {
        "是" | "√" | "✓" | "有" | "1" | "Y" | "YES" | "TRUE" => Ok(true),
        "否" | "×" | "✗" | "X" | "无" | "0" | "N" | "NO" | "FALSE" => Ok(false),
        _ => Err(ValueError::UnknownValue { allowed: vec!["是".into(), "否".into()] }),
    }
}

/// Maps a spelling to its canonical value through a synonym map (canonical → spellings).
pub fn enumeration<'a>(
    cell: &Cell,
    map: impl IntoIterator<Item = (&'a String, &'a Vec<String>)> + Clone,
) -> Result<String, ValueError> {
    let shown = cell.as_text();
    let t = text::compact_cow(&shown);
    for (canonical, spellings) in map.clone() {
        if canonical.as_str() == t || spellings.iter().any(|s| text::compact_cow(s) == t) {
            return Ok(canonical.clone());
        }
    }
    Err(ValueError::UnknownValue { allowed: map.into_iter().map(|(c, _)| c.clone()).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2022, 5, 10).unwrap()
    }

    #[test]
    fn ids_from_numbers_and_text() {
        assert!(matches!(
            citizen_id(&Cell::Number(130203198506123000.0), today()),
            Err(ValueError::IdPrecisionLost(_))
        ));
        assert!(citizen_id(&Cell::Text("'11010519491231002x".into()), today()).is_ok());
    }

    #[test]
    fn integers_with_units_and_booleans() {
        assert_eq!(integer(&Cell::Text("3人".into())), Ok(3));
        assert_eq!(integer(&Cell::Number(4.0)), Ok(4));
        assert!(integer(&Cell::Text("三".into())).is_err());
        assert_eq!(boolean(&Cell::Text("√".into())), Ok(true));
        assert_eq!(boolean(&Cell::Text("无".into())), Ok(false));
    }

    #[test]
    fn time_limits_in_hours_or_days() {
        let t = |s: &str| hours(&Cell::Text(s.into()), false);
        for (text, want) in [
            ("48", 48),
            ("48h", 48),
            ("48小时", 48),
            ("2天", 48),
            ("2日", 48),
            ("1.5天", 36),
            ("3个工作日", 72),
            ("24 小时", 24),
        ] {
            assert_eq!(t(text), Ok(want), "{text}");
        }
        assert_eq!(hours(&Cell::Number(2.0), true), Ok(48), "a bare number under 办理时限(天)");
        assert_eq!(hours(&Cell::Number(24.0), false), Ok(24));
        for bad in ["两天", "-1", "1e9", "NaN", "尽快"] {
            assert_eq!(t(bad), Err(ValueError::InvalidDuration), "{bad}");
        }
    }
}

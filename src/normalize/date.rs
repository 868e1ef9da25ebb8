//! Dates as offices write them (domain.md §3.4): Excel date cells and serials, `2022.5.10`,
//! `2022/5/10`, `2022-05-10`, `2022年5月10日`, `5月10日` and `5.10` without a year, `20220510`,
//! and date-times. A date without a year takes the year that puts it closest to, and not
//! after, the reference date (the run date), and says so.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::text;

/// A date read from a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDate {
    pub date: NaiveDate,
    /// The time of day, when the cell had one.
    pub time: Option<NaiveTime>,
    /// True when the text had no year and the year was inferred.
    pub inferred_year: bool,
}

impl ParsedDate {
    fn day(date: NaiveDate) -> ParsedDate {
        ParsedDate { date, time: None, inferred_year: false }
    }

    pub fn datetime(&self) -> NaiveDateTime {
        self.date.and_time(self.time.unwrap_or(NaiveTime::MIN))
    }
}

/// Excel's 1900 date system: serial 1 is 1900-01-01, but Excel counts a 1900-02-29 that never
/// existed, so from serial 61 on the epoch is 1899-12-30.
pub fn from_excel_serial(serial: f64) -> Option<NaiveDateTime> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.trunc() as i64;
    let epoch = if days < 61 { NaiveDate::from_ymd_opt(1899, 12, 31)? } else { NaiveDate::from_ymd_opt(1899, 12, 30)? };
    let date = epoch + Duration::days(days);
    let seconds = ((serial.fract() * 86_400.0).round() as i64).min(86_399);
    Some(date.and_time(NaiveTime::MIN) + Duration::seconds(seconds))
}

/// Parses a serial number found in a date column (a date cell without a date format).
pub fn parse_serial(serial: f64) -> Option<ParsedDate> {
    // 20220510 typed as a number is a date too, not a serial.
    if serial.fract() == 0.0 && (19_000_101.0..=21_001_231.0).contains(&serial) {
        return parse_text(&format!("{serial:.0}"), NaiveDate::MAX);
    }
    let dt = from_excel_serial(serial)?;
    let time = (dt.time() != NaiveTime::MIN).then_some(dt.time());
    Some(ParsedDate { date: dt.date(), time, inferred_year: false })
}

/// Parses date text; a date without a year takes the one that puts it nearest to `reference`
/// (the sheet's report date).
pub fn parse_text(raw: &str, reference: NaiveDate) -> Option<ParsedDate> {
    let s = text::fold_width(&text::clean(raw));
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    // Split off a time part: "2022-05-10 14:30", "2022-05-10T14:30:00", "2022/5/10 上午".
    let (date_part, time_part) = match s.find([' ', 'T']) {
        Some(i) if i >= 3 => (s[..i].trim(), Some(s[i..].trim_start_matches('T').trim())),
        _ => (s, None),
    };
    let time = match time_part {
        None | Some("") => None,
        Some(t) => Some(parse_time(t)?),
    }
    .flatten();
    let mut parsed = parse_date_part(date_part, reference)?;
    parsed.time = time;
    Some(parsed)
}

/// `Some(None)` for a part of day without a clock time ("上午"), `None` when unreadable.
fn parse_time(t: &str) -> Option<Option<NaiveTime>> {
    let t = t.trim();
    if ["上午", "下午", "中午", "晚上", "AM", "PM", "am", "pm"].contains(&t) {
        return Some(None);
    }
    for format in ["%H:%M:%S", "%H:%M", "%H:%M:%S%.f", "%H时%M分", "%H点%M分", "%H点"] {
        if let Ok(time) = NaiveTime::parse_from_str(t, format) {
            return Some(Some(time));
        }
    }
    None
}

fn parse_date_part(s: &str, reference: NaiveDate) -> Option<ParsedDate> {
    // 20220510
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        let (y, m, d) = (s[..4].parse().ok()?, s[4..6].parse().ok()?, s[6..].parse().ok()?);
        return NaiveDate::from_ymd_opt(y, m, d).map(ParsedDate::day);
    }
    // 2022年5月10日, 5月10日, 5月10号
    if let Some(rest) = s.strip_suffix('日').or_else(|| s.strip_suffix('号')) {
        let (year, md) = match rest.split_once('年') {
            Some((y, md)) => (Some(y.parse::<i32>().ok()?), md),
            None => (None, rest),
        };
        let (m, d) = md.split_once('月')?;
        return build(year, m.parse().ok()?, d.parse().ok()?, reference);
    }
    // 2022.5.10, 2022/5/10, 2022-05-10, 5.10, 5/10
    for sep in ['.', '/', '-'] {
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() < 2 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        return match parts.as_slice() {
            [y, m, d] if y.len() == 4 => build(Some(y.parse().ok()?), m.parse().ok()?, d.parse().ok()?, reference),
            [m, d] if m.len() <= 2 && d.len() <= 2 => build(None, m.parse().ok()?, d.parse().ok()?, reference),
            _ => None,
        };
    }
    None
}

fn build(year: Option<i32>, month: u32, day: u32, reference: NaiveDate) -> Option<ParsedDate> {
    match year {
        Some(y) => NaiveDate::from_ymd_opt(y, month, day).map(ParsedDate::day),
        None => {
            month_day_nearest(month, day, reference).map(|date| ParsedDate { date, time: None, inferred_year: true })
        }
    }
}

/// A month and day in the year that puts it nearest to `reference`, before or after: a cell
/// `5月24日` on a sheet of 2022-05-10 is a measure ending that month, `12月30日` on a sheet of
/// 2022-01-02 an arrival four days before.
pub fn month_day_nearest(month: u32, day: u32, reference: NaiveDate) -> Option<NaiveDate> {
    let year = reference.year();
    [year.checked_sub(1), Some(year), year.checked_add(1)]
        .into_iter()
        .flatten()
        .filter_map(|y| NaiveDate::from_ymd_opt(y, month, day))
        .min_by_key(|d| (d.signed_duration_since(reference).num_days().abs(), *d > reference))
        // 2月29日 far from a leap year: the last one before the reference.
        .or_else(|| month_day_not_after(month, day, reference))
}

/// A month and day in the closest year that does not put it after `reference`; a 2月29日 looks
/// back to the last leap year.
pub fn month_day_not_after(month: u32, day: u32, reference: NaiveDate) -> Option<NaiveDate> {
    (0..8).find_map(|back| {
        let date = NaiveDate::from_ymd_opt(reference.year().checked_sub(back)?, month, day)?;
        (date <= reference).then_some(date)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_missing_year_is_the_nearest_to_the_reference() {
        let day = |t: &str, r: NaiveDate| parse_text(t, r).map(|p| p.date);
        assert_eq!(day("5月24日", d(2022, 5, 10)), Some(d(2022, 5, 24)), "a measure ending later that month");
        assert_eq!(day("12.30", d(2022, 1, 2)), Some(d(2021, 12, 30)), "an arrival before new year");
        assert_eq!(day("1月3日", d(2021, 12, 30)), Some(d(2022, 1, 3)));
        assert_eq!(day("2月29日", d(2022, 3, 1)), Some(d(2020, 2, 29)), "the last leap day");
        assert_eq!(month_day_not_after(5, 24, d(2022, 5, 10)), Some(d(2021, 5, 24)));
    }

    #[test]
    fn every_spelling_of_section_3_4() {
        let run = d(2022, 5, 10);
        for text in [
            "2022.5.10",
            "2022/5/10",
            "2022-05-10",
            "2022年5月10日",
            "5月10日",
            "20220510",
            "5.10",
            "２０２２．５．１０",
            " 2022-5-10 上午",
            "2022-05-10 14:30",
            "2022/5/10 9:05",
        ] {
            assert_eq!(parse_text(text, run).map(|p| p.date), Some(run), "{text}");
        }
        assert_eq!(parse_text("2022-05-10 14:30", run).unwrap().time, NaiveTime::from_hms_opt(14, 30, 0));
        assert!(parse_text("5月10日", run).unwrap().inferred_year);
    }

    #[test]
    fn year_is_inferred_not_after_the_run_date() {
        assert_eq!(parse_text("12月30日", d(2022, 1, 3)).unwrap().date, d(2021, 12, 30));
        assert_eq!(parse_text("1月2日", d(2022, 1, 3)).unwrap().date, d(2022, 1, 2));
        assert_eq!(parse_text("2月29日", d(2022, 5, 10)).unwrap().date, d(2020, 2, 29));
    }

    #[test]
    fn impossible_dates_are_none() {
        for text in [
            "5月32日",
            "2022.13.5",
            "2022-02-30",
            "待定",
            "2022.5.",
            "昨天",
            "2022-05-32 25:10:00",
            "2022-05-10 25:10:00",
        ] {
            assert_eq!(parse_text(text, d(2022, 5, 10)), None, "{text}");
        }
    }

    #[test]
    fn excel_serials() {
        assert_eq!(parse_serial(44691.0).unwrap().date, d(2022, 5, 10));
        assert_eq!(parse_serial(20220510.0).unwrap().date, d(2022, 5, 10));
        assert_eq!(from_excel_serial(44691.5).unwrap().time(), NaiveTime::from_hms_opt(12, 0, 0).unwrap());
    }
}

//! Where a sheet's report date and community come from when its rows do not say: the title
//! rows above the header, then the sheet name, then the file name, then the folders above it
//! (first source that has one wins). "临江社区3.4.xlsx", "3月5日 东坪村 来返登记.xlsx",
//! "河湾社区（3.6）.xls", a folder `2022-03-06/`. A date without a year ("5.11", "（5月11日）")
//! takes it from the most specific source that has a whole date (title, sheet, file name, the
//! folders from the nearest up, then the workbook's own modified date, then the run date): the
//! year that puts it nearest to, and not more than a week after, that date. So a year's backlog ingested in one
//! call files every sheet where ingesting it day by day does.

use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use regex::Regex;

use crate::normalize::date;
use crate::normalize::grid::Registry;
use crate::normalize::text;

/// Where a piece of context was found, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Title,
    SheetName,
    FileName,
    Folder,
    /// The workbook's own properties (its modified date).
    Workbook,
    RunDate,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Title => "title",
            Source::SheetName => "sheet name",
            Source::FileName => "file name",
            Source::Folder => "folder",
            Source::Workbook => "workbook properties",
            Source::RunDate => "run date",
        }
    }
}

/// The texts a sheet's context can come from, in order of precedence.
pub struct ContextTexts<'a> {
    pub title: String,
    pub sheet_name: &'a str,
    /// File name without its extension.
    pub file_stem: &'a str,
    /// Folder names from the inbox down to the file.
    pub folders: Vec<&'a str>,
    /// The date the workbook says it was last saved, if it says.
    pub modified: Option<NaiveDate>,
}

/// A file's name without its extension and its folders from the inbox down, from its
/// `/`-separated path relative to the inbox.
pub fn path_parts(path: &str) -> (&str, Vec<&str>) {
    let mut parts: Vec<&str> = path.split('/').collect();
    let file_name = parts.pop().unwrap_or(path);
    let file_stem = file_name.rsplit_once('.').map_or(file_name, |(stem, _)| stem);
    (file_stem, parts)
}

/// The report date a file's path alone gives (its name, then its folders), if it gives one:
/// what a backlog is put in order by before any file is read.
pub fn path_date(path: &str, run_date: NaiveDate) -> Option<NaiveDate> {
    let (file_stem, folders) = path_parts(path);
    let texts = ContextTexts { title: String::new(), sheet_name: "", file_stem, folders, modified: None };
    let dated = texts.report_date(run_date);
    (dated.source != Source::RunDate).then_some(dated.date)
}

/// A sheet's report date and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportDate {
    pub date: NaiveDate,
    pub source: Source,
    /// Where the year came from, when `source` gave only a month and day.
    pub year_from: Option<Source>,
}

impl ReportDate {
    /// For the ledger and the summary: `file name`, or `file name, year from folder`.
    pub fn describe(&self) -> String {
        match self.year_from {
            Some(year) => format!("{}, year from {}", self.source.label(), year.label()),
            None => self.source.label().to_string(),
        }
    }
}

/// A date in a text: whole, or a month and day whose year the context gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Date(NaiveDate),
    MonthDay(u32, u32),
}

impl ContextTexts<'_> {
    fn ordered(&self) -> Vec<(Source, &str)> {
        let mut v = vec![
            (Source::Title, self.title.as_str()),
            (Source::SheetName, self.sheet_name),
            (Source::FileName, self.file_stem),
        ];
        v.extend(self.folders.iter().rev().map(|f| (Source::Folder, *f)));
        v
    }

    /// The report date and where it came from; the run date when no text has one.
    pub fn report_date(&self, run_date: NaiveDate) -> ReportDate {
        let found: Vec<(Source, Found)> =
            self.ordered().into_iter().filter_map(|(source, text)| Some((source, found_in(text, run_date)?))).collect();
        // The year of a month and day: from the most specific whole date, whichever text has it.
        let anchor = found
            .iter()
            .find_map(|(source, f)| match f {
                Found::Date(d) => Some((*d, *source)),
                Found::MonthDay(..) => None,
            })
            .or(self.modified.filter(|d| plausible(*d, run_date)).map(|d| (d, Source::Workbook)))
            .unwrap_or((run_date, Source::RunDate));
        for (source, f) in found {
            match f {
                Found::Date(date) => return ReportDate { date, source, year_from: None },
                Found::MonthDay(month, day) => {
                    // A week's grace: a sheet for 5.11 is often made the evening before, in a
                    // workbook saved on 5.10 or a folder named for the day it was collected.
                    let latest =
                        anchor.0.checked_add_signed(chrono::Duration::days(ANCHOR_GRACE_DAYS)).unwrap_or(anchor.0);
                    if let Some(date) =
                        date::month_day_not_after(month, day, latest).filter(|d| plausible(*d, run_date))
                    {
                        return ReportDate { date, source, year_from: Some(anchor.1) };
                    }
                }
            }
        }
        ReportDate { date: run_date, source: Source::RunDate, year_from: None }
    }

    /// The community named in the texts, by registry code.
    pub fn community(&self, registry: &Registry) -> Option<(String, Source)> {
        self.ordered()
            .into_iter()
            .find_map(|(source, text)| registry.community_in_text(text).map(|c| (c.code.clone(), source)))
    }
}

fn patterns() -> &'static [Regex] {
    static PATTERNS: OnceLock<Vec<Regex>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        [
            r"(\d{4})年(\d{1,2})月(\d{1,2})[日号]?",
            r"(\d{4})[./-](\d{1,2})[./-](\d{1,2})",
            r"(?:^|\D)((?:19|20)\d{2})(\d{2})(\d{2})(?:\D|$)",
            // Not after 年: "1022年5月10日" is an implausible date, not a 5月10日.
            r"(?:^|[^\d年])(\d{1,2})月(\d{1,2})[日号]?",
            r"(?:^|[^\d.])(\d{1,2})\.(\d{1,2})(?:[^\d.]|$)",
        ]
        .iter()
        .map(|p| Regex::new(p).expect("valid pattern"))
        .collect()
    })
}

/// How many days after its anchor a month and day may fall (see `report_date`).
const ANCHOR_GRACE_DAYS: i64 = 7;

/// A context date is as plausible as a field's (1950 to a year after the run): a title reading
/// `1022年5月10日` must not file a sheet under the year 1022.
fn plausible(date: NaiveDate, run_date: NaiveDate) -> bool {
    date.year() >= 1950 && date <= run_date.checked_add_signed(chrono::Duration::days(366)).unwrap_or(run_date)
}

/// The first date in free text (a title, sheet, file or folder name): whole dates first.
fn found_in(raw: &str, run_date: NaiveDate) -> Option<Found> {
    let t = text::fold_width(raw).replace(['（', '）'], " ");
    for re in patterns() {
        for caps in re.captures_iter(&t) {
            let parts: Vec<u32> = caps.iter().skip(1).flatten().filter_map(|m| m.as_str().parse().ok()).collect();
            match parts.as_slice() {
                &[y, m, d] => {
                    if let Some(date) = i32::try_from(y)
                        .ok()
                        .and_then(|y| NaiveDate::from_ymd_opt(y, m, d))
                        .filter(|d| plausible(*d, run_date))
                    {
                        return Some(Found::Date(date));
                    }
                }
                // Any year will do to check the day exists (2月29日 in a leap year).
                &[m, d] if NaiveDate::from_ymd_opt(2020, m, d).is_some() => return Some(Found::MonthDay(m, d)),
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first date in free text, a month and day taking the year nearest to, and not after,
    /// `reference`.
    pub fn first_date(raw: &str, reference: NaiveDate) -> Option<NaiveDate> {
        match found_in(raw, reference)? {
            Found::Date(d) => Some(d),
            Found::MonthDay(m, d) => date::month_day_not_after(m, d, reference),
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dates_in_names_and_titles() {
        let run = d(2022, 5, 10);
        for (text, want) in [
            ("临江社区3.4", d(2022, 3, 4)),
            ("3月5日 东坪村 来返登记", d(2022, 3, 5)),
            ("河湾社区（3.6）", d(2022, 3, 6)),
            ("填报单位：荣馨园社区（盖章）        填报日期：2022年5月10日", d(2022, 5, 10)),
            ("新景楼社区_20220510", d(2022, 5, 10)),
            ("2022-05-09", d(2022, 5, 9)),
            ("5.10来返", d(2022, 5, 10)),
            ("高新区网格台账（2022.5.7）", d(2022, 5, 7)),
            ("网格员花名册2022.5.7", d(2022, 5, 7)),
            ("老庄子镇网格划分台账（截至2022年5月7日）", d(2022, 5, 7)),
        ] {
            assert_eq!(first_date(text, run), Some(want), "{text}");
        }
        assert_eq!(first_date("荣馨园社区来唐返唐人员登记表", run), None);
        assert_eq!(first_date("Sheet1", run), None);
        assert_eq!(first_date("1022年5月10日", run), None, "implausible");
        assert_eq!(first_date("13.45", run), None, "no such month");
    }

    fn texts<'a>(title: &str, sheet: &'a str, file: &'a str, folders: Vec<&'a str>) -> ContextTexts<'a> {
        ContextTexts { title: title.to_string(), sheet_name: sheet, file_stem: file, folders, modified: None }
    }

    #[test]
    fn a_year_comes_from_the_most_specific_whole_date_not_from_the_run() {
        // A backlog from 2021 ingested in 2026: "5.11" is 2021-05-11, as its folder says.
        let run = d(2026, 12, 2);
        let got = texts("", "Sheet1", "荣馨园社区5.11", vec!["2021-05-11"]).report_date(run);
        assert_eq!((got.date, got.source, got.year_from), (d(2021, 5, 11), Source::FileName, Some(Source::Folder)));
        assert_eq!(got.describe(), "file name, year from folder");
        // The title's month and day, the year of the file name's whole date.
        let got = texts("来返登记（5月11日）", "Sheet1", "荣馨园社区2021.5.12", vec![]).report_date(run);
        assert_eq!((got.date, got.source, got.year_from), (d(2021, 5, 11), Source::Title, Some(Source::FileName)));
        // Nearest and not after: 12月31日 in a folder of 2022-01-02 is the last day of 2021.
        let got = texts("", "12.31", "登记", vec!["2022-01-02"]).report_date(run);
        assert_eq!(got.date, d(2021, 12, 31));
        // No whole date anywhere: the workbook's modified date, then the run date.
        let mut t = texts("", "Sheet1", "5.11", vec!["收件箱"]);
        t.modified = Some(d(2023, 6, 1));
        assert_eq!(t.report_date(run).date, d(2023, 5, 11));
        assert_eq!(t.report_date(run).year_from, Some(Source::Workbook));
        t.modified = None;
        let got = t.report_date(run);
        assert_eq!((got.date, got.year_from), (d(2026, 5, 11), Some(Source::RunDate)));
        // A whole date wins over any month and day below it; a week after it is its year.
        let got = texts("", "5.11", "2021-05-09", vec![]).report_date(run);
        assert_eq!((got.date, got.source), (d(2021, 5, 11), Source::SheetName));
        let got = texts("", "5.30", "2021-05-09", vec![]).report_date(run);
        assert_eq!(got.date, d(2020, 5, 30), "three weeks after its anchor: the year before");
        let got = texts("填报日期：2021年5月8日", "5.11", "x", vec![]).report_date(run);
        assert_eq!((got.date, got.source, got.year_from), (d(2021, 5, 8), Source::Title, None));
    }
}

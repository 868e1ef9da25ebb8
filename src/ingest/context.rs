//! Where a sheet's report date and community come from when its rows do not say: the title
//! rows above the header, then the sheet name, then the file name, then the folders above it
//! (first source that has one wins). "临江社区3.4.xlsx", "3月5日 东坪村 来返登记.xlsx",
//! "河湾社区（3.6）.xls", a folder `2022-03-06/`. A date without a year takes the year that puts
//! it closest to, and not after, the run date.

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
    RunDate,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Title => "title",
            Source::SheetName => "sheet name",
            Source::FileName => "file name",
            Source::Folder => "folder",
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
    pub fn report_date(&self, run_date: NaiveDate) -> (NaiveDate, Source) {
        for (source, text) in self.ordered() {
            if let Some(d) = first_date(text, run_date) {
                return (d, source);
            }
        }
        (run_date, Source::RunDate)
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
            r"(\d{1,2})月(\d{1,2})[日号]?",
            r"(?:^|[^\d.])(\d{1,2})\.(\d{1,2})(?:[^\d.]|$)",
        ]
        .iter()
        .map(|p| Regex::new(p).expect("valid pattern"))
        .collect()
    })
}

/// The first date found in free text (a title, sheet, file or folder name).
pub fn first_date(raw: &str, run_date: NaiveDate) -> Option<NaiveDate> {
    let t = text::fold_width(raw).replace(['（', '）'], " ");
    for re in patterns() {
        for caps in re.captures_iter(&t) {
            let parts: Vec<&str> = caps.iter().skip(1).flatten().map(|m| m.as_str()).collect();
            let spelled = match parts.as_slice() {
                [y, m, d] => format!("{y}-{m}-{d}"),
                [m, d] => format!("{m}月{d}日"),
                _ => continue,
            };
            // A context date is as plausible as a field's (1950 to a year after the run): a
            // title reading `1022年5月10日` must not file a sheet under the year 1022.
            if let Some(parsed) = date::parse_text(&spelled, run_date)
                && parsed.date.year() >= 1950
                && parsed.date <= run_date.checked_add_signed(chrono::Duration::days(366)).unwrap_or(run_date)
            {
                return Some(parsed.date);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}

//! The files of a table's year folder (`<table>/report_year=YYYY/`), in tiers:
//!
//! - `YYYY-MM-DD-<first 16 hex of the source file's sha256>.parquet`: one source file's rows of
//!   one report date, as ingest writes them (its unit of commit), until compaction merges them;
//! - `part-YYYY-MM-<16 hex>.parquet`: the rows of the table's open month, its latest, which each
//!   day's ingest rewrites;
//! - `part-<16 hex>.parquet`: the rows of the year's other months, rewritten when a month closes
//!   (the first rows of a later month arrive), when a late file for a closed month comes, and
//!   when a correction changes them. A past year is this one file.
//! - files of 64 MiB or more (`compact::LEAVE_FROM_BYTES`), left as they are.
//!
//! Why years and tiers, not a file per month: over a year of the sample, DuckDB's first count of
//! `visits` took 2.2 times as long over 13 month files as over one file, and 1.35 times over these
//! three (2021's months, 2022's closed months, the open month; BENCHMARKS.md); opening files,
//! not reading rows, is what a long history costs a reader. The day's ingest still rewrites only
//! its month, and a month's close rewrites its year once.
//!
//! Which file holds which rows is known from names (a day file's date, an open part's month)
//! and, for a year's part, from its footer's statistics of `report_date`: readers of some dates
//! (`Warehouse::files_on`) open only the files that may hold them.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDate;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;

use super::dated::{self, DAY_FOLDER, REPORT_DATE, REPORT_MONTH, REPORT_YEAR};

/// The name of a compacted file starts with this.
pub const PART: &str = "part-";

/// What a file of a year folder is, by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// One source file's rows of one report date.
    Day(NaiveDate),
    /// The open month's part (`YYYY-MM`).
    Open(String),
    /// The part of the year's other months.
    Year,
    /// Anything else: a file an earlier layout moved here as it was.
    Other,
}

fn is_hex16(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A month as `YYYY-MM`, if `s` is one.
fn month(s: &str) -> Option<&str> {
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").ok().filter(|_| s.len() == 7).map(|_| s)
}

/// What the file named `name` is.
pub fn kind(name: &str) -> Kind {
    let Some(stem) = name.strip_suffix(".parquet") else { return Kind::Other };
    if let Some(rest) = stem.strip_prefix(PART) {
        if is_hex16(rest) {
            return Kind::Year;
        }
        return match (rest.get(..7).and_then(month), rest.as_bytes().get(7), rest.get(8..)) {
            (Some(m), Some(b'-'), Some(hash)) if is_hex16(hash) => Kind::Open(m.to_string()),
            _ => Kind::Other,
        };
    }
    match dated::split_name(stem) {
        Some((date, _)) => Kind::Day(date),
        None => Kind::Other,
    }
}

/// The kind of the file at `path`.
pub fn kind_of(path: &Path) -> Kind {
    path.file_name().map_or(Kind::Other, |n| kind(&n.to_string_lossy()))
}

/// The month of a file's rows its name tells: a day file's or an open part's.
pub fn named_month(path: &Path) -> Option<String> {
    match kind_of(path) {
        Kind::Day(d) => Some(dated::month_of(&d.to_string()).to_string()),
        Kind::Open(m) => Some(m),
        Kind::Year | Kind::Other => None,
    }
}

/// The name of a part file whose bytes' sha256 (hex) is `sha`: of the open month `open`, or of
/// a year's others.
pub fn part_name(open: Option<&str>, sha: &str) -> String {
    let short = super::short(sha);
    match open {
        Some(m) => format!("{PART}{m}-{short}.parquet"),
        None => format!("{PART}{short}.parquet"),
    }
}

/// The year (`YYYY`) of a year folder.
pub fn year_of(dir: &Path) -> Option<String> {
    let name = dir.file_name()?.to_string_lossy().into_owned();
    name.strip_prefix(&format!("{REPORT_YEAR}=")).map(String::from)
}

/// The month a folder of an earlier layout holds (`report_month=YYYY-MM`, `report_date=YYYY-MM-DD`).
pub fn legacy_month(folder_name: &str) -> Option<String> {
    if let Some(m) = folder_name.strip_prefix(&format!("{REPORT_MONTH}=")) {
        return month(m).map(String::from);
    }
    folder_name.strip_prefix(DAY_FOLDER).and_then(|d| d.get(..7)).and_then(month).map(String::from)
}

/// The open month of the table in `table_dir`: the latest month a file's name or an earlier
/// layout's folder tells. A year's part tells none, so a table whose every file is compacted
/// into years has none, and its latest year's part stays as it is.
pub fn open_month(table_dir: &Path) -> Option<String> {
    let Ok(entries) = std::fs::read_dir(table_dir) else { return None };
    let mut latest: Option<String> = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let months: Vec<String> = if name.starts_with(&format!("{REPORT_YEAR}=")) {
            let Ok(files) = std::fs::read_dir(entry.path()) else { continue };
            files.flatten().filter_map(|f| named_month(&f.path())).collect()
        } else {
            legacy_month(&name).into_iter().collect()
        };
        for m in months {
            if latest.as_ref().is_none_or(|l| m > *l) {
                latest = Some(m);
            }
        }
    }
    latest
}

/// The first and last report date of a file's rows, from its footer's statistics; none when
/// the footer cannot tell (no statistics, no such column, not readable).
pub fn date_range(path: &Path) -> Option<(NaiveDate, NaiveDate)> {
    let file = std::fs::File::open(path).ok()?;
    let reader = SerializedFileReader::new(file).ok()?;
    let meta = reader.metadata();
    let column = meta.file_metadata().schema_descr().columns().iter().position(|c| c.name() == REPORT_DATE)?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let day = |d: i32| epoch.checked_add_signed(chrono::Duration::days(i64::from(d)));
    let mut range: Option<(NaiveDate, NaiveDate)> = None;
    for group in meta.row_groups() {
        let Some(Statistics::Int32(s)) = group.column(column).statistics() else { return None };
        let (lo, hi) = (day(*s.min_opt()?)?, day(*s.max_opt()?)?);
        range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }
    range
}

/// Whether the file at `path` may hold rows of one of `dates`: by its name, or its footer.
pub fn may_hold(path: &Path, dates: &BTreeSet<NaiveDate>) -> bool {
    match kind_of(path) {
        Kind::Day(d) => dates.contains(&d),
        Kind::Open(m) => dates.iter().any(|d| dated::month_of(&d.to_string()) == m),
        Kind::Year | Kind::Other => match date_range(path) {
            Some((first, last)) => dates.range(first..=last).next().is_some(),
            None => true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tell_the_tier_and_the_month() {
        let d = NaiveDate::from_ymd_opt(2022, 5, 10).unwrap();
        assert_eq!(kind("2022-05-10-0123456789abcdef.parquet"), Kind::Day(d));
        assert_eq!(kind("part-0123456789abcdef.parquet"), Kind::Year);
        assert_eq!(kind("part-2022-05-0123456789abcdef.parquet"), Kind::Open("2022-05".into()));
        // An earlier layout's big file moved as it was, a temporary file, nonsense.
        for other in ["part-2022-05-10-abc.parquet", "part-2022-13-0123456789abcdef.parquet", "x.parquet", "part-.tmp"]
        {
            assert_eq!(kind(other), Kind::Other, "{other}");
        }
        assert_eq!(part_name(Some("2022-05"), &"a".repeat(64)).len(), "part-2022-05-".len() + 16 + ".parquet".len());
        assert_eq!(kind(&part_name(Some("2022-05"), &"a".repeat(64))), Kind::Open("2022-05".into()));
        assert_eq!(kind(&part_name(None, &"b".repeat(64))), Kind::Year);
        assert_eq!(legacy_month("report_month=2022-05").as_deref(), Some("2022-05"));
        assert_eq!(legacy_month("report_date=2022-05-10").as_deref(), Some("2022-05"));
        assert_eq!(legacy_month("report_year=2022"), None);
        assert_eq!(year_of(Path::new("t/report_year=2022")).as_deref(), Some("2022"));
    }

    #[test]
    fn the_open_month_is_the_latest_named_and_a_footer_tells_a_years_dates() {
        use arrow::array::{Date32Array, RecordBatch};
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("t");
        let year = table.join("report_year=2021");
        std::fs::create_dir_all(&year).unwrap();
        std::fs::create_dir_all(table.join("report_month=2021-11")).unwrap();
        assert_eq!(open_month(&table).as_deref(), Some("2021-11"));
        // 2021-12-01 and 2021-12-31 as days since 1970.
        let batch = RecordBatch::try_from_iter([(
            REPORT_DATE,
            std::sync::Arc::new(Date32Array::from(vec![18962, 18992])) as arrow::array::ArrayRef,
        )])
        .unwrap();
        let part = year.join(part_name(None, &"c".repeat(64)));
        super::super::parquet_io::write(&part, batch.schema(), &batch).unwrap();
        assert_eq!(open_month(&table).as_deref(), Some("2021-11"), "a year's part names no month");
        std::fs::write(year.join(part_name(Some("2021-12"), &"d".repeat(64))), b"").unwrap();
        assert_eq!(open_month(&table).as_deref(), Some("2021-12"));
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(date_range(&part), Some((day("2021-12-01"), day("2021-12-31"))));
        let dates = |v: &[&str]| v.iter().map(|s| day(s)).collect::<BTreeSet<_>>();
        assert!(may_hold(&part, &dates(&["2021-12-15"])));
        assert!(!may_hold(&part, &dates(&["2021-11-30", "2022-01-01"])));
        assert!(may_hold(&year.join("2021-12-03-0123456789abcdef.parquet"), &dates(&["2021-12-03"])));
        assert!(!may_hold(&year.join("2021-12-03-0123456789abcdef.parquet"), &dates(&["2021-12-04"])));
        // A file whose footer cannot be read may hold anything.
        assert!(may_hold(&year.join(part_name(None, &"e".repeat(64))), &dates(&["2030-01-01"])));
    }
}

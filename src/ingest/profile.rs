//! What a column's values are, whatever its header says: the share of its first data cells
//! that are citizen IDs (valid, or the 15 digits Excel left of one), phone numbers, dates or
//! genders. The layout uses it to give a field to a column whose header names none, when the
//! values leave no doubt (see `layout::assign_by_content`).

use chrono::NaiveDate;

use super::layout::Filled;
use crate::config::forms::FieldType;
use crate::normalize::value::Cell;
use crate::normalize::{citizen_id, date, phone, text};

/// How many non-empty cells below the header are looked at.
const SAMPLE: usize = 30;
/// How many rows below the header are searched for them.
const SCAN_ROWS: usize = 200;

/// The share of a column's values that must be of a kind for the column to be told by them.
pub const THRESHOLD: f64 = 0.8;

/// The kinds of value a column can be recognised by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CitizenId,
    Phone,
    Date,
    Gender,
}

impl Kind {
    /// The kind of value a field of this type holds, if values can tell it.
    pub fn of(field: FieldType) -> Option<Kind> {
        match field {
            FieldType::CitizenId => Some(Kind::CitizenId),
            FieldType::Phone => Some(Kind::Phone),
            FieldType::Date | FieldType::Datetime => Some(Kind::Date),
            FieldType::Gender => Some(Kind::Gender),
            _ => None,
        }
    }

    /// How many values it takes to tell: one ID with its check digit, or one 男/女 in a column
    /// no header explains, is already unlikely by chance; a phone number or a date less so.
    fn min_cells(self) -> usize {
        match self {
            Kind::CitizenId | Kind::Gender => 1,
            Kind::Phone | Kind::Date => 2,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::CitizenId => "citizen IDs",
            Kind::Phone => "phone numbers",
            Kind::Date => "dates",
            Kind::Gender => "genders",
        }
    }
}

/// The shares of one column's sampled values that are of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Profile {
    pub cells: usize,
    pub ids: f64,
    pub phones: f64,
    pub dates: f64,
    pub genders: f64,
}

impl Profile {
    pub fn share(&self, kind: Kind) -> f64 {
        if self.cells < kind.min_cells() {
            return 0.0;
        }
        match kind {
            Kind::CitizenId => self.ids,
            Kind::Phone => self.phones,
            Kind::Date => self.dates,
            Kind::Gender => self.genders,
        }
    }
}

/// Profiles column `col` from row `first` (0-based) down.
pub fn profile(filled: &Filled<'_>, first: usize, col: usize) -> Profile {
    let mut counts = [0usize; 4];
    let mut cells = 0;
    for row in first..filled.height().min(first.saturating_add(SCAN_ROWS)) {
        // A merged note or total row (填表人：…) shows its text in every column it covers: it
        // says nothing of this column's values.
        let cell = filled.get(row, col);
        if cell.is_blank() || filled.is_covered(row, col) {
            continue;
        }
        cells += 1;
        for (i, hit) in [is_id(cell), is_phone(cell), is_date(cell), is_gender(cell)].into_iter().enumerate() {
            counts[i] += usize::from(hit);
        }
        if cells == SAMPLE {
            break;
        }
    }
    let share = |n: usize| if cells == 0 { 0.0 } else { n as f64 / cells as f64 };
    Profile {
        cells,
        ids: share(counts[0]),
        phones: share(counts[1]),
        dates: share(counts[2]),
        genders: share(counts[3]),
    }
}

fn is_id(cell: &Cell) -> bool {
    match cell {
        // 15 significant digits are what Excel keeps of an 18-digit ID typed as a number.
        Cell::Number(n) => (1e14..1e18).contains(n),
        other => {
            let t = other.as_text();
            t.chars().count() <= 24 && citizen_id::parse(&t, NaiveDate::MAX).is_ok()
        }
    }
}

fn is_phone(cell: &Cell) -> bool {
    let t = cell.as_text();
    if t.chars().count() > 40 {
        return false;
    }
    let phones = phone::parse(&t);
    !phones.valid.is_empty() && phones.invalid.is_empty()
}

/// Excel's serial numbers of 1950-01-01 and 2100-12-31: a whole number between them in a date
/// column is a date whose cell lost its format (counts and codes are far from this range).
const SERIALS: std::ops::RangeInclusive<f64> = 18_264.0..=73_415.0;

fn is_date(cell: &Cell) -> bool {
    match cell {
        Cell::DateTime(_) => true,
        Cell::Number(n) => n.fract() == 0.0 && SERIALS.contains(n),
        other => {
            let t = other.as_text();
            t.chars().count() <= 24
                && date::parse_text(&t, NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date")).is_some()
        }
    }
}

fn is_gender(cell: &Cell) -> bool {
    matches!(text::compact_cow(&cell.as_text()).as_ref(), "男" | "女" | "男性" | "女性")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::read::{RawSheet, Visibility};

    #[test]
    fn columns_are_told_by_their_values() {
        let t = |s: &str| Cell::Text(s.into());
        let rows = vec![
            vec![t("甲"), t("乙"), t("丙"), t("丁")],
            vec![t("11010519491231002X"), t("13812345678"), t("2022-05-10"), t("男")],
            vec![Cell::Number(130203199001011234.0), t("0315-2802605"), t("5月9日"), t("女")],
            vec![t("130203198507153029"), t("139 1234 5678"), t("2022/5/8"), t("女")],
            vec![t("110105194912310021"), t("无"), t("2022.5.7"), t("男")],
        ];
        let sheet = RawSheet { name: "s".into(), visibility: Visibility::Visible, rows, merged: Vec::new() };
        let filled = Filled::new(&sheet);
        let p: Vec<Profile> = (0..4).map(|c| profile(&filled, 1, c)).collect();
        assert_eq!(p[0].share(Kind::CitizenId), 0.75, "three valid or Excel-damaged IDs, one bad check digit");
        assert_eq!(p[1].share(Kind::Phone), 0.75);
        assert_eq!(p[2].share(Kind::Date), 1.0);
        assert_eq!(p[3].share(Kind::Gender), 1.0);
        assert_eq!(p[2].share(Kind::CitizenId), 0.0);
        assert_eq!(profile(&filled, 4, 1).share(Kind::Phone), 0.0, "too few cells to tell");
        assert_eq!(profile(&filled, 4, 2).share(Kind::Date), 0.0, "too few cells to tell");
    }
}

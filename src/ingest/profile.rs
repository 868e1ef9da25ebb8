//! What a column's values are, whatever its header says: the share of its first data cells
//! that are citizen IDs (valid, or the 15 digits Excel left of one), phone numbers, dates,
//! genders, grids (named 网格, or a national grid code), person names (2–4 characters, a
//! common surname first), or values of one of a form's lists (a status, a channel); and, from
//! those shares,
//! the field of a column whose header names none, when the values leave no doubt
//! (`assign_by_content`, called by the layout).

use chrono::NaiveDate;

use std::collections::HashMap;

use super::layout::{Evidence, Filled};
use crate::config::forms::{FieldConfig, FieldType, FormConfig, Values};
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
    /// A grid's name (第3网格, 幸福里一网格) or its 17-digit national code. Told by their shape,
    /// not by the registry: a backlog ingested in one call must read a sheet as day by day does,
    /// whichever batch brought the registry.
    Grid,
    /// A person's name: 2–4 Chinese characters, a common surname first (or masked: 张*).
    PersonName,
    /// Values of the list (enum) a field declares.
    Listed,
}

impl Kind {
    /// The kind of value a field holds, if values can tell it.
    pub fn of(field: &FieldConfig) -> Option<Kind> {
        match (field.kind, field.values) {
            (FieldType::CitizenId, _) => Some(Kind::CitizenId),
            (FieldType::Phone, _) => Some(Kind::Phone),
            (FieldType::Date | FieldType::Datetime, _) => Some(Kind::Date),
            (FieldType::Gender, _) => Some(Kind::Gender),
            (FieldType::Grid, _) => Some(Kind::Grid),
            (_, Some(Values::PersonNames)) => Some(Kind::PersonName),
            _ => None,
        }
    }

    /// How many values it takes to tell: one ID with its check digit, or one 男/女 in a column
    /// no header explains, is already unlikely by chance; a phone number or a date less so.
    fn min_cells(self) -> usize {
        match self {
            Kind::CitizenId | Kind::Gender => 1,
            Kind::Phone | Kind::Date | Kind::Grid => 2,
            // Two-character words are everywhere (备注, 正常): names take more cells.
            Kind::PersonName => 3,
            // 已办结 or 微信 once could be a remark; three times in a column is its list.
            Kind::Listed => 3,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::CitizenId => "citizen IDs",
            Kind::Phone => "phone numbers",
            Kind::Date => "dates",
            Kind::Gender => "genders",
            Kind::Grid => "grids",
            Kind::PersonName => "person names",
            Kind::Listed => "values of its list",
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
    pub grids: f64,
    pub names: f64,
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
            Kind::Grid => self.grids,
            Kind::PersonName => self.names,
            // Per field, not per column: see `listed_share`.
            Kind::Listed => 0.0,
        }
    }
}

/// The first non-empty cells of column `col` from row `first` (0-based) down.
fn sample<'a>(filled: &'a Filled<'_>, first: usize, col: usize) -> impl Iterator<Item = &'a Cell> {
    (first..filled.height().min(first.saturating_add(SCAN_ROWS)))
        // A merged note or total row (填表人：…) shows its text in every column it covers: it
        // says nothing of this column's values.
        .filter(move |row| !filled.is_covered(*row, col))
        .map(move |row| filled.get(row, col))
        .filter(|cell| !cell.is_blank())
        .take(SAMPLE)
}

/// The share of column `col`'s sampled values that are values of a field's list (`list`: each
/// canonical value and its synonyms), or 0 when too few cells tell.
pub fn listed_share<'a>(
    filled: &Filled<'_>,
    first: usize,
    col: usize,
    list: impl Iterator<Item = (&'a String, &'a Vec<String>)> + Clone,
) -> f64 {
    let (mut cells, mut hits) = (0usize, 0usize);
    for cell in sample(filled, first, col) {
        cells += 1;
        hits += usize::from(crate::normalize::value::enumeration(cell, list.clone()).is_ok());
    }
    if cells < Kind::Listed.min_cells() { 0.0 } else { hits as f64 / cells as f64 }
}

/// Profiles column `col` from row `first` (0-based) down.
pub fn profile(filled: &Filled<'_>, first: usize, col: usize) -> Profile {
    let mut counts = [0usize; 6];
    let mut cells = 0;
    for cell in sample(filled, first, col) {
        cells += 1;
        let kinds = [is_id(cell), is_phone(cell), is_date(cell), is_gender(cell), is_grid(cell), is_person_name(cell)];
        for (i, hit) in kinds.into_iter().enumerate() {
            counts[i] += usize::from(hit);
        }
    }
    let share = |n: usize| if cells == 0 { 0.0 } else { n as f64 / cells as f64 };
    Profile {
        cells,
        ids: share(counts[0]),
        phones: share(counts[1]),
        dates: share(counts[2]),
        genders: share(counts[3]),
        grids: share(counts[4]),
        names: share(counts[5]),
    }
}

fn is_id(cell: &Cell) -> bool {
    match cell {
        // 15 significant digits are what Excel keeps of an 18-digit ID typed as a number.
        Cell::Number(n) => (1e14..1e18).contains(n),
        // A mistyped check digit is a mistyped ID, still evidence of an ID column (the rows
        // are rejected for it later): the shape and the birth date tell, not the checksum.
        other => {
            let t = other.as_text();
            t.chars().count() <= 24
                && matches!(citizen_id::parse(&t, NaiveDate::MAX), Ok(_) | Err(citizen_id::IdError::BadChecksum))
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

fn is_grid(cell: &Cell) -> bool {
    let Cell::Text(t) = cell else { return false };
    let t = text::compact_cow(t);
    let n = t.chars().count();
    (n <= 30 && t.contains("网格")) || (n == 17 && t.bytes().all(|b| b.is_ascii_digit()))
}

/// Single-character surnames, the hundred or so that most people bear, and compound ones.
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏\
魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤\
常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗\
谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏\
席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝";
const COMPOUND_SURNAMES: [&str; 10] = ["欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐"];

/// A person's name: 2–4 Chinese characters (a 3-character masked name 张** included) whose
/// first character, or first two, is a surname.
fn is_person_name(cell: &Cell) -> bool {
    let Cell::Text(t) = cell else { return false };
    let t = text::compact_cow(t);
    let chars: Vec<char> = t.chars().take(5).collect();
    let han = |c: &char| ('\u{4e00}'..='\u{9fff}').contains(c);
    if !(2..=4).contains(&chars.len()) || !han(&chars[0]) || !chars[1..].iter().all(|c| han(c) || *c == '*') {
        return false;
    }
    // 李家村, 王庄镇, 张楼: places named after families.
    if chars.last().is_some_and(|c| "村镇乡区街路巷号楼组队屯庄店".contains(*c)) {
        return false;
    }
    SURNAMES.contains(chars[0]) || COMPOUND_SURNAMES.iter().any(|s| t.starts_with(s))
}

/// Gives a field to columns whose headers name none, by their values: for each kind of value
/// (IDs, phones, dates, genders, grids, person names), when the form has exactly one unassigned
/// field of that kind (of dates and names, a required one) and exactly one unassigned column
/// below the header holds mostly values of it. Anything less certain is left unassigned: a
/// wrong column is worse than none.
pub(super) fn assign_by_content(
    filled: &Filled<'_>,
    form: &FormConfig,
    rows: &[usize],
    columns: &mut Vec<(usize, usize, String)>,
    evidence: &mut Vec<Evidence>,
    profiles: &mut HashMap<(usize, usize), Profile>,
) {
    let first = rows.last().map_or(0, |r| r + 1);
    let width = rows.iter().map(|r| filled.width(*r)).max().unwrap_or(0);
    let free_columns: Vec<usize> = (0..width).filter(|c| !columns.iter().any(|(col, _, _)| col == c)).collect();
    let mut added: Vec<(usize, usize, Evidence)> = Vec::new();
    for kind in [Kind::CitizenId, Kind::Phone, Kind::Date, Kind::Gender, Kind::Grid, Kind::PersonName] {
        // Dates and names are in many columns a form does not declare (填报日期, 填表人): only a
        // required field of them is looked for by its values.
        let fields: Vec<usize> = (0..form.fields.len())
            .filter(|i| Kind::of(&form.fields[*i]) == Some(kind))
            .filter(|i| !matches!(kind, Kind::Date | Kind::PersonName) || form.fields[*i].required)
            .filter(|i| !columns.iter().any(|(_, f, _)| f == i))
            .collect();
        let [field] = fields[..] else { continue };
        let hits: Vec<(usize, f64)> = free_columns
            .iter()
            .filter(|c| !added.iter().any(|(col, ..)| col == *c))
            .map(|&c| (c, profiles.entry((first, c)).or_insert_with(|| profile(filled, first, c)).share(kind)))
            .filter(|(_, share)| *share >= THRESHOLD)
            .collect();
        if let [(column, share)] = hits[..] {
            let percent = (share * 100.0).round() as u8;
            added.push((column, field, Evidence::Content { kind, percent }));
        }
    }
    // A field with a list (a status, a channel): the one free column whose values are mostly
    // in it.
    for (field, fd) in form.fields.iter().enumerate() {
        let Some(list) = fd.enum_name.as_ref().and_then(|name| form.enums.get(name)) else { continue };
        if columns.iter().any(|(_, f, _)| *f == field) || added.iter().any(|(_, f, _)| *f == field) {
            continue;
        }
        let hits: Vec<(usize, f64)> = free_columns
            .iter()
            .filter(|c| !added.iter().any(|(col, ..)| col == *c))
            .map(|&c| (c, listed_share(filled, first, c, list.iter())))
            .filter(|(_, share)| *share >= THRESHOLD)
            .collect();
        if let [(column, share)] = hits[..] {
            let percent = (share * 100.0).round() as u8;
            added.push((column, field, Evidence::Content { kind: Kind::Listed, percent }));
        }
    }
    for (column, field, how) in added {
        let label = rows.iter().rev().map(|r| filled.label(*r, column)).find(|l| !l.is_empty()).unwrap_or_default();
        let at = columns.partition_point(|(c, _, _)| *c < column);
        columns.insert(at, (column, field, label));
        evidence.insert(at, how);
    }
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
            vec![t("1101051949123"), t("13912345678"), t("2022.5.6"), t("男")],
        ];
        let sheet = RawSheet { name: "s".into(), visibility: Visibility::Visible, rows, merged: Vec::new() };
        let filled = Filled::new(&sheet);
        let p: Vec<Profile> = (0..4).map(|c| profile(&filled, 1, c)).collect();
        assert_eq!(p[0].share(Kind::CitizenId), 0.8, "valid, Excel-damaged, a mistyped check digit; not 13 digits");
        assert_eq!(p[1].share(Kind::Phone), 0.8);
        assert_eq!(p[2].share(Kind::Date), 1.0);
        assert_eq!(p[3].share(Kind::Gender), 1.0);
        assert_eq!(p[2].share(Kind::CitizenId), 0.0);
        assert_eq!(profile(&filled, 5, 1).share(Kind::Phone), 0.0, "too few cells to tell");
        let column = |values: &[&str]| {
            let rows = values.iter().map(|v| vec![t(v)]).collect();
            let sheet = RawSheet { name: "s".into(), visibility: Visibility::Visible, rows, merged: Vec::new() };
            let filled = Filled::new(&sheet);
            profile(&filled, 0, 0)
        };
        let names = column(&["张伟", "欧阳娜娜", "李*", "王秀英", "备注"]);
        assert_eq!(names.share(Kind::PersonName), 0.8, "four names and a word");
        assert_eq!(column(&["李家村", "王庄村", "张楼", "正常"]).share(Kind::PersonName), 0.0, "places, a word");
        assert_eq!(column(&["张伟", "李娜"]).share(Kind::PersonName), 0.0, "too few cells to tell");
        let grids = column(&["第3网格", "幸福里一网格", "13027300100100300", "3"]);
        assert_eq!(grids.share(Kind::Grid), 0.75, "named, coded, and a bare number that could be anything");
        assert_eq!(profile(&filled, 5, 2).share(Kind::Date), 0.0, "too few cells to tell");
    }
}

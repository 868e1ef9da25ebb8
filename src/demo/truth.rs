//! `truth.json`: what a correct ingest of the sample district must produce, derived from the
//! outcome planted in every row. Duplicates are decided here, by one rule, so that the truth
//! cannot disagree with itself: rosters first, then files in byte order of their path relative
//! to the inbox, sheets in workbook order, rows top to bottom; the first accepted occurrence of
//! a (form, report date, identity) is kept and later ones are rejected as `duplicate`.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use super::sheet::{Expect, RowKind, Sheet, SheetStatus, SkipReason, column_letter};

/// A file of the sample district as generated.
pub struct SampleFile {
    /// Path relative to the inbox, with `/` separators.
    pub path: String,
    pub format: &'static str,
    pub encoding: Option<&'static str>,
    pub roster: bool,
    pub community_code: Option<String>,
    pub report_date: NaiveDate,
    pub sheets: Vec<Sheet>,
}

#[derive(Serialize)]
pub struct Truth {
    pub generator: BTreeMap<&'static str, String>,
    pub rules: BTreeMap<&'static str, &'static str>,
    pub district: BTreeMap<&'static str, u64>,
    pub submissions: BTreeMap<String, SubmissionTruth>,
    pub totals: Counts,
    pub files: Vec<FileTruth>,
    /// report date → grid code → figure → value; only non-zero figures are listed.
    pub daily: BTreeMap<String, BTreeMap<String, BTreeMap<&'static str, u64>>>,
    /// The workflows' figures (消防, 核酸, 巡查), summed from what each accepted row says:
    /// report date → grid code → figure → value.
    pub workflows: Figures,
}

/// report date → grid code → figure → value.
pub type Figures = BTreeMap<String, BTreeMap<String, BTreeMap<&'static str, u64>>>;

#[derive(Serialize, Default)]
pub struct SubmissionTruth {
    pub expected: Vec<String>,
    pub missing: Vec<String>,
    pub zero_report: Vec<String>,
}

#[derive(Serialize, Default, Clone)]
pub struct Counts {
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: BTreeMap<&'static str, u64>,
    pub skipped: BTreeMap<SkipReason, u64>,
    pub warnings: BTreeMap<&'static str, u64>,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.rows_read += other.rows_read;
        self.accepted += other.accepted;
        for (k, v) in &other.rejected {
            *self.rejected.entry(k).or_default() += v;
        }
        for (k, v) in &other.skipped {
            *self.skipped.entry(*k).or_default() += v;
        }
        for (k, v) in &other.warnings {
            *self.warnings.entry(k).or_default() += v;
        }
    }
}

#[derive(Serialize)]
pub struct FileTruth {
    pub path: String,
    pub format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
    pub roster: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community_code: Option<String>,
    pub report_date: String,
    pub sheets: Vec<SheetTruth>,
}

#[derive(Serialize)]
pub struct SheetTruth {
    pub name: String,
    pub index: usize,
    pub status: SheetStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<&'static str>,
    pub header_rows: Vec<usize>,
    /// Canonical field → column letter.
    pub columns: BTreeMap<&'static str, String>,
    #[serde(flatten)]
    pub counts: Counts,
    pub rejects: Vec<RejectTruth>,
    pub skips: Vec<SkipTruth>,
    pub warning_rows: Vec<WarningTruth>,
}

#[derive(Serialize, Clone)]
pub struct RejectTruth {
    pub row: usize,
    pub column: String,
    pub field: &'static str,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
    pub raw: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<Location>,
}

#[derive(Serialize, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub sheet: String,
    pub row: usize,
}

#[derive(Serialize)]
pub struct SkipTruth {
    pub row: usize,
    pub reason: SkipReason,
}

#[derive(Serialize)]
pub struct WarningTruth {
    pub row: usize,
    pub column: String,
    pub code: &'static str,
}

/// Accounts every row of every file and works out the daily figures.
pub fn account(files: &mut [SampleFile]) -> (Counts, Vec<FileTruth>, Figures, Figures) {
    files.sort_by(|a, b| (!a.roster, &a.path).cmp(&(!b.roster, &b.path)));
    let mut kept: HashMap<(&'static str, NaiveDate, String), Location> = HashMap::new();
    let mut daily = Figures::new();
    let mut workflows = Figures::new();
    // Work orders: the latest accepted appearance of each order wins.
    let mut orders: BTreeMap<String, (String, Vec<(&'static str, String)>)> = BTreeMap::new();
    let mut totals = Counts::default();
    let mut out = Vec::new();
    for file in files.iter() {
        let mut sheets = Vec::new();
        for (index, sheet) in file.sheets.iter().enumerate() {
            let mut t = SheetTruth {
                name: sheet.name.clone(),
                index,
                status: sheet.status,
                // Only a read sheet has a form; a hidden one is never looked at.
                form: if sheet.status == SheetStatus::Read { sheet.form } else { None },
                header_rows: Vec::new(),
                columns: sheet
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.field != "seq")
                    .map(|(i, c)| (c.field, column_letter(i)))
                    .collect(),
                counts: Counts::default(),
                rejects: Vec::new(),
                skips: Vec::new(),
                warning_rows: Vec::new(),
            };
            if sheet.status != SheetStatus::Read {
                sheets.push(t);
                continue;
            }
            let skip = |t: &mut SheetTruth, row: usize, reason: SkipReason| {
                *t.counts.skipped.entry(reason).or_default() += 1;
                t.skips.push(SkipTruth { row, reason });
            };
            for r in 1..=sheet.titles.len() {
                skip(&mut t, r, SkipReason::Title);
            }
            for r in sheet.titles.len() + 1..sheet.first_data_row() {
                t.header_rows.push(r);
                skip(&mut t, r, SkipReason::Header);
            }
            let form = sheet.form.unwrap_or_default();
            for (i, row) in sheet.rows.iter().enumerate() {
                let excel_row = sheet.first_data_row() + i;
                match &row.kind {
                    RowKind::Skip(reason) => skip(&mut t, excel_row, *reason),
                    RowKind::Data { expect: Expect::Reject { reason, field, detail }, .. } => {
                        let col = sheet.column_index(field).expect("planted error in a column the sheet has");
                        *t.counts.rejected.entry(reason).or_default() += 1;
                        t.rejects.push(RejectTruth {
                            row: excel_row,
                            column: column_letter(col),
                            field,
                            reason,
                            detail: *detail,
                            raw: row.cells[col].display(),
                            kept: None,
                        });
                    }
                    RowKind::Data { expect: Expect::Accept { warnings }, dedup_key, grid_code, facts } => {
                        let here = Location { file: file.path.clone(), sheet: sheet.name.clone(), row: excel_row };
                        if let Some(key) = dedup_key {
                            let slot = kept.entry((form, file.report_date, key.clone()));
                            if let std::collections::hash_map::Entry::Occupied(first) = slot {
                                let field = if key.starts_with("phone:") { "phone" } else { dedup_field(form) };
                                let col = sheet.column_index(field).unwrap_or(0);
                                *t.counts.rejected.entry("duplicate").or_default() += 1;
                                t.rejects.push(RejectTruth {
                                    row: excel_row,
                                    column: column_letter(col),
                                    field,
                                    reason: "duplicate",
                                    detail: None,
                                    raw: row.cells[col].display(),
                                    kept: Some(first.get().clone()),
                                });
                                continue;
                            }
                            slot.or_insert(here);
                        }
                        t.counts.accepted += 1;
                        for (code, field) in warnings {
                            *t.counts.warnings.entry(code).or_default() += 1;
                            let col = sheet.column_index(field).unwrap_or(0);
                            t.warning_rows.push(WarningTruth { row: excel_row, column: column_letter(col), code });
                        }
                        if form == "work_orders" {
                            let id = facts
                                .iter()
                                .find(|(k, _)| *k == "order_id")
                                .map(|(_, v)| v.clone())
                                .unwrap_or_default();
                            // An order whose grid cannot be told is kept with no grid (未定网格).
                            let unplaced =
                                warnings.iter().any(|(code, _)| matches!(*code, "unknown_grid" | "ambiguous_grid"));
                            let grid = if unplaced { String::new() } else { grid_code.clone() };
                            orders.insert(id, (grid, facts.clone()));
                        } else if !file.roster {
                            *daily
                                .entry(file.report_date.to_string())
                                .or_default()
                                .entry(grid_code.clone())
                                .or_default()
                                .entry(form)
                                .or_default() += 1;
                            for (figure, value) in facts {
                                let value: u64 = value.parse().expect("a workflow fact is a count");
                                if value > 0 {
                                    *workflows
                                        .entry(file.report_date.to_string())
                                        .or_default()
                                        .entry(grid_code.clone())
                                        .or_default()
                                        .entry(*figure)
                                        .or_default() += value;
                                }
                            }
                        }
                    }
                }
            }
            t.counts.rows_read = (sheet.first_data_row() - 1 + sheet.rows.len()) as u64;
            totals.add(&t.counts);
            sheets.push(t);
        }
        out.push(FileTruth {
            path: file.path.clone(),
            format: file.format,
            encoding: file.encoding,
            roster: file.roster,
            community_code: file.community_code.clone(),
            report_date: file.report_date.to_string(),
            sheets,
        });
    }
    for (grid, facts) in orders.values() {
        for (fact, figure) in [("received", "work_orders_received"), ("closed", "work_orders_closed")] {
            if let Some((_, date)) = facts.iter().find(|(k, _)| *k == fact) {
                *daily.entry(date.clone()).or_default().entry(grid.clone()).or_default().entry(figure).or_default() +=
                    1;
            }
        }
    }
    (totals, out, daily, workflows)
}

/// The column a duplicate is reported against: the identity the form deduplicates on.
fn dedup_field(form: &str) -> &'static str {
    match form {
        "work_orders" => "order_id",
        "visits" => "household_head",
        // Forms whose identity is a list of fields report its first.
        "fire_safety" | "testing" => "grid",
        "patrols" => "team",
        "grids" => "sub_grid_code",
        _ => "citizen_id",
    }
}

//! Duplicates: the same identity in the same form on the same report date is kept once, the
//! first in processing order (the grid registry, other rosters, daily forms; files in byte
//! order of their path; sheets in workbook order; rows top to bottom), and counted against
//! rows already in the warehouse, so that no row is ever counted twice, whichever run brings
//! it.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{IngestOutcome, Location, Reject};
use crate::config::forms::FormConfig;

/// Identities already in the warehouse: (form, report date, keyed identity) → the kept row.
pub type Prior = HashMap<(String, NaiveDate, String), Location>;

/// Processing priority of a form: the registry first, then rosters, then daily forms.
pub fn priority(forms: &[FormConfig], form: Option<&str>) -> u8 {
    match forms.iter().find(|f| Some(f.form.as_str()) == form) {
        Some(f) if f.form == "grids" => 0,
        Some(f) if f.roster => 1,
        _ => 2,
    }
}

/// Moves every duplicate record of `outcome` to its sheet's rejects.
pub fn deduplicate(outcome: &mut IngestOutcome, forms: &[FormConfig], prior: &Prior) {
    let mut order: Vec<(u8, usize, usize)> = Vec::new();
    for (f, file) in outcome.files.iter().enumerate() {
        for (s, sheet) in file.sheets.iter().enumerate() {
            order.push((priority(forms, sheet.form.as_deref()), f, s));
        }
    }
    order.sort();
    let mut seen: HashMap<(String, NaiveDate, String), Location> = HashMap::new();
    for (_, f, s) in order {
        let path = outcome.files[f].path.clone();
        let sheet = &mut outcome.files[f].sheets[s];
        let Some(form_id) = sheet.form.clone() else { continue };
        let Some(form) = forms.iter().find(|x| x.form == form_id) else { continue };
        let mut kept_records = Vec::with_capacity(sheet.records.len());
        for (row, record) in std::mem::take(&mut sheet.records) {
            let Some(identity) = &record.identity else {
                kept_records.push((row, record));
                continue;
            };
            let slot = (form_id.clone(), sheet.report_date, identity.key.clone());
            let first = prior.get(&slot).or_else(|| seen.get(&slot)).cloned();
            let Some(first) = first else {
                seen.insert(slot, Location { file: path.clone(), sheet: sheet.name.clone(), row });
                kept_records.push((row, record));
                continue;
            };
            sheet.counts.accepted -= 1;
            for w in sheet.warnings.iter().filter(|w| w.row == row) {
                if let Some(n) = sheet.counts.warnings.get_mut(w.code) {
                    *n -= 1;
                }
            }
            sheet.counts.warnings.retain(|_, n| *n > 0);
            sheet.warnings.retain(|w| w.row != row);
            *sheet.counts.rejected.entry("duplicate").or_default() += 1;
            sheet.rejects.push(Reject {
                row,
                column: identity.column,
                header: sheet.headers.get(&identity.column).map(|h| h.label.clone()).unwrap_or_default(),
                field: form.fields[identity.field].name.clone(),
                reason: "duplicate",
                message: format!(
                    "与{}「{}」第{}行重复（同一对象、同一表单、同一报告日期），已保留第一条",
                    first.file, first.sheet, first.row
                ),
                raw: identity.raw.clone(),
                kept: Some(first),
            });
        }
        sheet.records = kept_records;
        sheet.rejects.sort_by_key(|r| r.row);
    }
}

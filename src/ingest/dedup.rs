//! Duplicates: the same identity in the same form on the same report date is kept once, the
//! first in processing order (the grid registry, other rosters, daily forms; files in byte
//! order of their path; sheets in workbook order; rows top to bottom), and counted against
//! rows already in the warehouse, so that no row is ever counted twice, whichever run brings
//! it.
//!
//! The walk in that order is also when large sheets are read (see `stream`): their rows are
//! judged as they arrive and the accepted ones handed to a sink, so that a sheet of hundreds
//! of thousands of rows is never held in memory. Every identity seen is kept, compactly: the
//! first 16 bytes of its keyed hash (HMAC-SHA256: two different identities share them with a
//! chance of about 2^-128 per pair) and a row, not strings.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::rows::{Record, RowContext};
use super::{IngestOutcome, Location, Reject, SheetResult, stream};
use crate::config::forms::FormConfig;
use crate::normalize::grid::Registry;

/// Identities already in the warehouse: (form, report date, keyed identity) → the kept row.
pub type Prior = HashMap<(String, NaiveDate, String), Location>;

/// Processing priority of a form: the registry first, then rosters, then daily forms.
pub fn priority(forms: &[FormConfig], form: Option<&str>) -> u8 {
    match forms.iter().find(|f| Some(f.form.as_str()) == form) {
        Some(f) if f.is_grid_registry() => 0,
        Some(f) if f.roster => 1,
        _ => 2,
    }
}

/// Where the accepted rows of streamed sheets go, in order, once judged.
pub trait AcceptedRows {
    type Error;
    /// Rows of one sheet of one file (`path` relative to the inbox), 1-based row numbers.
    fn accept(
        &mut self,
        path: &str,
        sha256: &str,
        sheet: &str,
        form: &FormConfig,
        report_date: NaiveDate,
        rows: &[(usize, Record)],
    ) -> Result<(), Self::Error>;
    /// Forgets every row accepted from a file that turned out unreadable part-way.
    fn discard(&mut self, sha256: &str);
}

/// For outcomes with no streamed sheets.
struct NoStreams;

impl AcceptedRows for NoStreams {
    type Error = std::convert::Infallible;
    fn accept(
        &mut self,
        _: &str,
        _: &str,
        _: &str,
        _: &FormConfig,
        _: NaiveDate,
        _: &[(usize, Record)],
    ) -> Result<(), Self::Error> {
        Ok(())
    }
    fn discard(&mut self, _: &str) {}
}

/// What streamed sheets are validated with.
pub struct Streaming<'a> {
    pub forms: &'a [FormConfig],
    pub registry: &'a Registry,
    pub run_date: NaiveDate,
    pub key: &'a [u8],
    pub threads: usize,
}

/// Moves every duplicate record of an outcome read wholly into memory to its sheet's rejects.
pub fn deduplicate(outcome: &mut IngestOutcome, forms: &[FormConfig], prior: &Prior) {
    let registry = std::mem::take(&mut outcome.registry);
    let streaming = Streaming { forms, registry: &registry, run_date: NaiveDate::MIN, key: &[], threads: 1 };
    let Ok(()) = judge_all(outcome, &streaming, prior, &mut NoStreams);
    outcome.registry = registry;
}

/// Walks every sheet in processing order: records in memory are judged in place; streamed
/// sheets are read now, judged as their rows arrive, and their accepted rows go to `sink`.
pub fn judge_all<S: AcceptedRows>(
    outcome: &mut IngestOutcome,
    streaming: &Streaming<'_>,
    prior: &Prior,
    sink: &mut S,
) -> Result<(), S::Error> {
    let forms = streaming.forms;
    let mut order: Vec<(u8, usize, usize)> = Vec::new();
    for (f, file) in outcome.files.iter().enumerate() {
        for (s, sheet) in file.sheets.iter().enumerate() {
            order.push((priority(forms, sheet.form.as_deref()), f, s));
        }
    }
    order.sort();
    let mut claims = Claims::new(forms, prior);
    let mut failed: Vec<usize> = Vec::new();
    for (_, f, s) in order {
        if failed.contains(&f) {
            continue;
        }
        let file = &mut outcome.files[f];
        let (path, sha256) = (file.path.clone(), file.sha256.clone());
        let sheet = &mut file.sheets[s];
        let Some(form_index) = sheet.form.as_ref().and_then(|id| forms.iter().position(|x| x.form == *id)) else {
            continue;
        };
        let form = &forms[form_index];
        let place = claims.place(&path, &sheet.name);
        let Some(pending) = sheet.pending.take() else {
            let records = std::mem::take(&mut sheet.records);
            sheet.records = claims.judge(sheet, form_index, form, place, records);
            sheet.rejects.sort_by_key(|r| r.row);
            continue;
        };
        let community = sheet.community.clone();
        let ctx = RowContext {
            registry: streaming.registry,
            community: community.as_deref(),
            run_date: streaming.run_date,
            report_date: sheet.report_date,
        };
        let name = sheet.name.clone();
        let streamed = stream::validate_rows(&pending, &name, form, &ctx, streaming.key, streaming.threads, |part| {
            let records = sheet.absorb(part);
            let kept = claims.judge(sheet, form_index, form, place, records);
            sink.accept(&path, &sha256, &name, form, sheet.report_date, &kept)
        });
        match streamed {
            Ok(Ok(height)) => {
                sheet.counts.rows_read = height as u64;
                sheet.skips.sort_by_key(|(row, _)| *row);
                sheet.rejects.sort_by_key(|r| r.row);
            }
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                // Unreadable part-way: the file fails as a whole, as if it had failed at once;
                // sheets judged after it do not count its rows as kept.
                sink.discard(&sha256);
                claims.forget_file(&path);
                file.error = Some(e.to_string());
                file.kind = None;
                failed.push(f);
            }
        }
    }
    for f in failed {
        outcome.files[f].sheets.clear();
    }
    Ok(())
}

/// Every identity kept so far, and those already in the warehouse.
struct Claims {
    /// (form, report date, identity) → (place, 1-based row).
    kept: HashMap<(u16, NaiveDate, u128), (u32, u32)>,
    /// (file, sheet) of each place.
    places: Vec<(String, String)>,
    /// Rows already in the warehouse: never kept again, found in `kept` with these places.
    prior_places: usize,
}

impl Claims {
    fn new(forms: &[FormConfig], prior: &Prior) -> Claims {
        let mut claims = Claims { kept: HashMap::new(), places: Vec::new(), prior_places: 0 };
        let mut places: HashMap<(String, String), u32> = HashMap::new();
        for ((form, date, key), at) in prior {
            let Some(f) = forms.iter().position(|x| x.form == *form) else { continue };
            let next = places.len() as u32;
            let place = *places.entry((at.file.clone(), at.sheet.clone())).or_insert(next);
            claims.kept.insert((f as u16, *date, digest(key)), (place, at.row as u32));
        }
        claims.places = vec![(String::new(), String::new()); places.len()];
        for ((file, sheet), i) in places {
            claims.places[i as usize] = (file, sheet);
        }
        claims.prior_places = claims.places.len();
        claims
    }

    fn place(&mut self, file: &str, sheet: &str) -> u32 {
        // A sheet's place is looked up once per sheet, not per row: a linear search of this
        // run's places is enough.
        let start = self.prior_places;
        match self.places[start..].iter().position(|(f, s)| f == file && s == sheet) {
            Some(i) => (start + i) as u32,
            None => {
                self.places.push((file.to_string(), sheet.to_string()));
                (self.places.len() - 1) as u32
            }
        }
    }

    /// Forgets every identity kept from a file.
    fn forget_file(&mut self, file: &str) {
        let places: std::collections::HashSet<u32> =
            (self.prior_places..self.places.len()).filter(|p| self.places[*p].0 == file).map(|p| p as u32).collect();
        self.kept.retain(|_, (place, _)| !places.contains(place));
    }

    /// Keeps the records whose identity is new; moves the others to the sheet's rejects.
    fn judge(
        &mut self,
        sheet: &mut SheetResult,
        form_index: usize,
        form: &FormConfig,
        place: u32,
        records: Vec<(usize, Record)>,
    ) -> Vec<(usize, Record)> {
        let mut kept_records = Vec::with_capacity(records.len());
        for (row, record) in records {
            let Some(identity) = &record.identity else {
                kept_records.push((row, record));
                continue;
            };
            let slot = (form_index as u16, sheet.report_date, digest(&identity.key));
            let first = match self.kept.get(&slot) {
                None => {
                    self.kept.insert(slot, (place, row as u32));
                    kept_records.push((row, record));
                    continue;
                }
                Some(&(p, r)) => {
                    let (file, sheet_name) = &self.places[p as usize];
                    Location { file: file.clone(), sheet: sheet_name.clone(), row: r as usize }
                }
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
        kept_records
    }
}

/// The first 16 bytes of a keyed identity (64 hex digits); anything else is hashed first.
fn digest(key: &str) -> u128 {
    let bytes = key.as_bytes();
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    if bytes.len() == 64 {
        let parsed = bytes[..32].iter().try_fold(0u128, |acc, b| nibble(*b).map(|n| acc << 4 | n as u128));
        if let Some(value) = parsed {
            return value;
        }
    }
    use sha2::Digest;
    let hash = sha2::Sha256::digest(key.as_bytes());
    u128::from_be_bytes(hash[..16].try_into().expect("16 bytes"))
}

//! One sheet, once its table is found: context (report date, community), the title and header
//! rows skipped, and the data rows validated into records, rejects, warnings and skips. Rows
//! of a big sheet are validated in chunks on every thread; a streamed workbook's rows are
//! left for later (see `stream`), except the grid registry's, which every other sheet needs.

use std::collections::BTreeMap;

use super::context::ContextTexts;
use super::layout::{self, Filled};
use super::read::{RawSheet, Visibility};
use super::rows::{self, Record, RowContext, SkipReason, Value};
use super::{
    Counts, HeaderColumn, IngestRequest, Keyer, RegistryScope, Reject, SheetResult, SheetStatus, Warning, stream,
};
use crate::config::forms::{Dedup, DedupRule, FormConfig};
use crate::normalize::grid::{Registry, RegistryRow};
use crate::normalize::in_force::towns_missing;

/// The file a sheet is in, as far as its validation needs it.
pub(super) struct Origin<'a> {
    /// Relative to the inbox.
    pub(super) path: &'a str,
    /// The date the workbook says it was saved.
    pub(super) modified: Option<chrono::NaiveDate>,
    /// The open workbook, for a sheet of a streamed one.
    pub(super) streamed: Option<&'a stream::Workbook>,
}

pub(super) fn process_sheet(
    origin: &Origin<'_>,
    raw: &RawSheet,
    index: usize,
    found: Option<&Result<layout::Layout, layout::NoForm>>,
    request: &IngestRequest<'_>,
    registry: &Registry,
) -> SheetResult {
    let (path, modified, streamed) = (origin.path, origin.modified, origin.streamed);
    let (file_stem, folders) = super::context::path_parts(path);
    let filled = Filled::new(raw);
    let first_header = match found {
        Some(Ok(l)) => l.header_rows[0],
        _ => 0,
    };
    let title: Vec<String> = (0..first_header)
        .flat_map(|r| (0..filled.width(r)).map(move |c| (r, c)))
        .map(|(r, c)| filled.label(r, c))
        .filter(|t| !t.is_empty())
        .collect();
    let texts = ContextTexts { title: title.join(" "), sheet_name: &raw.name, file_stem, folders, modified };
    let dated = texts.report_date(request.run_date);
    let community = texts.community(registry).map(|(code, _)| code);
    let mut result = SheetResult::new(raw.name.clone(), index, dated, community);
    let layout = match (raw.visibility, found) {
        (Visibility::Hidden | Visibility::VeryHidden, _) => {
            result.status = SheetStatus::Hidden;
            return result;
        }
        (Visibility::NotAWorksheet(what), _) => {
            result.status = SheetStatus::NotAWorksheet(what);
            return result;
        }
        (_, None) => {
            result.status = SheetStatus::Empty;
            return result;
        }
        (_, Some(Err(no_form))) => {
            let closest = no_form.closest.as_ref().map(|(f, _)| &request.forms[*f]);
            result.status = SheetStatus::Unrecognised {
                closest: closest.map(|f| f.form.clone()),
                missing: no_form.closest.as_ref().map(|(_, m)| m.clone()).unwrap_or_default(),
                hint: closest
                    .zip(no_form.hint.as_ref())
                    .map(|(form, (field, headers))| (form.fields[*field].name.clone(), headers.clone())),
            };
            return result;
        }
        (_, Some(Ok(layout))) => layout,
    };
    let form = &request.forms[layout.form];
    result.form = Some(form.form.clone());
    result.header_rows = layout.header_rows.iter().map(|r| r + 1).collect();
    let width = layout.header_rows.iter().map(|r| filled.width(*r)).max().unwrap_or(0);
    result.headers = (0..width)
        .map(|c| {
            let at = layout.columns.iter().position(|(col, _, _)| *col == c);
            let mapped = at.map(|i| &layout.columns[i]);
            let label = match mapped {
                Some((_, _, label)) => label.clone(),
                None => layout
                    .header_rows
                    .iter()
                    .rev()
                    .map(|r| filled.label(*r, c))
                    .find(|l| !l.is_empty())
                    .unwrap_or_default(),
            };
            let field = mapped.map(|(_, f, _)| form.fields[*f].name.clone());
            let decided_by = at.and_then(|i| layout.evidence.get(i)).copied();
            (c, HeaderColumn { label, field, decided_by })
        })
        .collect();
    let community = result.community.clone();
    let ctx = RowContext {
        registry,
        community: community.as_deref(),
        run_date: request.run_date,
        report_date: result.report_date,
    };
    let skip = |result: &mut SheetResult, row: usize, reason: SkipReason| {
        *result.counts.skipped.entry(reason.code()).or_default() += 1;
        result.skips.push((row + 1, reason));
    };
    for row in 0..layout.header_rows[0] {
        let blank = (0..filled.width(row)).all(|c| filled.label(row, c).is_empty());
        skip(&mut result, row, if blank { SkipReason::Blank } else { SkipReason::Title });
    }
    for &row in &layout.header_rows {
        skip(&mut result, row, SkipReason::Header);
    }
    let first_data = layout.header_rows.last().expect("header") + 1;
    if let Some(workbook) = streamed {
        let pending = stream::Pending {
            workbook: workbook.clone(),
            layout: layout.clone(),
            merges: raw.merged.clone(),
            head: raw.rows[..first_data.min(raw.rows.len())].to_vec(),
            first_data,
        };
        if !form.is_grid_registry() {
            // Read when the walk in processing order reaches the sheet (see `dedup`).
            result.pending = Some(pending);
            return result;
        }
        // The registry is needed whole before any other sheet is validated: read it now.
        let streamed = stream::validate_rows(&pending, &raw.name, form, &ctx, request.key, request.threads, |part| {
            let records = result.absorb(part);
            result.records.extend(records);
            Ok::<(), std::convert::Infallible>(())
        });
        match streamed {
            Ok(Ok(height)) => result.counts.rows_read = height as u64,
            Ok(Err(never)) => match never {},
            Err(e) => {
                // Half a registry would resolve grids wrongly: keep none of it.
                result = refused(result, e.to_string());
            }
        }
        result.skips.sort_by_key(|(row, _)| *row);
        return result;
    }
    let height = filled.height();
    // Rows are independent once the registry and context are known: a big sheet's rows are
    // validated in chunks on every worker thread, then put back in row order.
    let threads = if height - first_data.min(height) >= PARALLEL_ROWS { request.threads.max(1) } else { 1 };
    let chunk = (height.saturating_sub(first_data)).div_ceil(threads).max(1);
    let rows = RowsJob { filled: &filled, layout, form, ctx: &ctx, key: request.key };
    let parts: Vec<RowsOutcome> = if threads == 1 {
        vec![rows.run(first_data..height)]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (first_data..height)
                .step_by(chunk)
                .map(|start| {
                    let rows = &rows;
                    scope.spawn(move || rows.run(start..(start + chunk).min(height)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("row validation does not panic")).collect()
        })
    };
    for part in parts {
        let records = result.absorb(part);
        result.records.extend(records);
    }
    result.skips.sort_by_key(|(row, _)| *row);
    result.counts.rows_read = filled.height() as u64;
    result
}

/// A registry row naming a community and no grid (its leader's or its office's row, above its
/// grids): the community's own row, skipped as a unit, not a grid with its name missing. A
/// row with a grid or sub-grid code is a grid, and is rejected if its name is missing.
fn community_row(filled: &Filled<'_>, row: usize, layout: &layout::Layout, form: &FormConfig) -> Option<SkipReason> {
    if !form.is_grid_registry() {
        return None;
    }
    let cell = |name: &str| {
        layout.columns.iter().find(|(_, f, _)| form.fields[*f].name == name).map(|(c, _, _)| filled.get(row, *c))
    };
    let blank = |name: &str| cell(name).is_none_or(|c| c.is_blank());
    let named = cell("community").is_some_and(|c| !c.is_blank());
    (named && blank("grid_name") && blank("grid_code") && blank("sub_grid_code")).then_some(SkipReason::Unit)
}

/// A sheet none of whose rows are kept, and why (an unreadable part, a registry not applied).
pub(super) fn refused(result: SheetResult, why: String) -> SheetResult {
    SheetResult {
        status: SheetStatus::Unreadable(why),
        records: Vec::new(),
        rejects: Vec::new(),
        rejected_cells: BTreeMap::new(),
        warnings: Vec::new(),
        skips: Vec::new(),
        counts: Counts::default(),
        ..result
    }
}

/// Sheets with at least this many data rows are validated on several threads.
const PARALLEL_ROWS: usize = 4096;

/// What validating a run of rows gives; rows are 1-based.
#[derive(Default)]
pub(super) struct RowsOutcome {
    pub(super) skips: Vec<(usize, SkipReason)>,
    pub(super) rejects: Vec<Reject>,
    /// Streamed rows only: the cells of each rejected row (1-based), as read.
    pub(super) rejected_cells: Vec<(usize, Vec<crate::normalize::value::Cell>)>,
    pub(super) warnings: Vec<Warning>,
    pub(super) records: Vec<(usize, Record)>,
}

/// Everything needed to validate the data rows of one sheet.
pub(super) struct RowsJob<'a> {
    pub(super) filled: &'a Filled<'a>,
    pub(super) layout: &'a layout::Layout,
    pub(super) form: &'a FormConfig,
    pub(super) ctx: &'a RowContext<'a>,
    pub(super) key: &'a [u8],
}

impl RowsJob<'_> {
    pub(super) fn run(&self, rows: std::ops::Range<usize>) -> RowsOutcome {
        let (filled, layout, form) = (self.filled, self.layout, self.form);
        let mut out = RowsOutcome::default();
        let keyer = Keyer::new(self.key);
        let mut memo = rows::Memo::default();
        let header_of = |column: usize| {
            layout.columns.iter().find(|(c, _, _)| *c == column).map(|(_, _, h)| h.clone()).unwrap_or_default()
        };
        for row in rows {
            if let Some(reason) =
                rows::classify(filled, row, layout).or_else(|| community_row(filled, row, layout, form))
            {
                out.skips.push((row + 1, reason));
                continue;
            }
            match rows::validate(filled, row, layout, form, self.ctx, &mut memo) {
                Err(issue) => out.rejects.push(Reject {
                    row: row + 1,
                    column: issue.column,
                    header: header_of(issue.column),
                    field: form.fields[issue.field].name.clone(),
                    reason: issue.reason,
                    message: issue.message,
                    raw: issue.raw,
                    kept: None,
                }),
                Ok(mut record) => {
                    record.identity = dedup_key(form, &record).map(|(key, field)| {
                        let column = layout.columns.iter().find(|(_, f, _)| *f == field).map_or(0, |(c, _, _)| *c);
                        rows::Identity { key: keyer.keyed(&key), field, column, raw: filled.get(row, column).display() }
                    });
                    for w in &record.warnings {
                        out.warnings.push(Warning {
                            row: row + 1,
                            column: w.column,
                            field: form.fields[w.field].name.clone(),
                            code: w.reason,
                            message: w.message.clone(),
                            raw: w.raw.clone(),
                        });
                    }
                    out.records.push((row + 1, record));
                }
            }
        }
        out
    }
}

/// The identity a form deduplicates on, and the field reported for a duplicate.
fn dedup_key(form: &FormConfig, record: &Record) -> Option<(String, usize)> {
    let field = |name: &str| form.fields.iter().position(|f| f.name == name);
    let value = |name: &str| field(name).map(|i| &record.values[i]);
    let text = |name: &str| match value(name) {
        Some(Value::Text(t)) => Some(t.clone()),
        Some(Value::Grid(g)) => Some(g.grid_code.clone()),
        _ => None,
    };
    let id = || match value("citizen_id") {
        Some(Value::Id(id)) => Some(id.number.clone()),
        _ => None,
    };
    let rule = match &form.dedup {
        Dedup::Rule(rule) => *rule,
        Dedup::Fields(names) => return fields_key(form, record, names),
    };
    match rule {
        DedupRule::CitizenId => Some((format!("id:{}", id()?), field("citizen_id")?)),
        DedupRule::CitizenIdAndCategory => {
            Some((format!("id:{}:{}", id()?, text("category").unwrap_or_default()), field("citizen_id")?))
        }
        DedupRule::CitizenIdOrPhone => match id() {
            Some(id) => Some((format!("id:{id}"), field("citizen_id")?)),
            None => match value("phone") {
                Some(Value::Phones(p)) if !p.is_empty() => Some((format!("phone:{}", p[0]), field("phone")?)),
                _ => None,
            },
        },
        DedupRule::GridAddressHouseholdHead => Some((
            format!("{}|{}|{}", text("grid")?, text("address").unwrap_or_default(), text("household_head")?),
            field("household_head")?,
        )),
        DedupRule::OrderId => Some((text("order_id")?, field("order_id")?)),
        DedupRule::SubGridCode => Some((text("sub_grid_code")?, field("sub_grid_code")?)),
    }
}

/// The identity of a declared list of fields: each field's normalised value (a grid by its
/// code, an ID by its number, phones by the main one), blank when absent, joined with a
/// separator no cell holds after normalisation; none when every listed field is blank. The
/// field reported for a duplicate is the first listed.
fn fields_key(form: &FormConfig, record: &Record, names: &[String]) -> Option<(String, usize)> {
    let mut key = String::from("fields");
    let mut reported = None;
    let mut any = false;
    for name in names.iter().filter(|n| n.as_str() != "report_date") {
        let i = form.fields.iter().position(|f| &f.name == name)?;
        reported.get_or_insert(i);
        let part = match &record.values[i] {
            Value::Null => String::new(),
            Value::Text(t) => t.clone(),
            Value::Int(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Date(d) => d.to_string(),
            Value::DateTime(t) => t.to_string(),
            Value::Id(id) => id.number.clone(),
            Value::Phones(p) => p.first().cloned().unwrap_or_default(),
            Value::Grid(g) => g.grid_code.clone(),
        };
        any |= !part.is_empty();
        key.push('\u{1f}');
        key.push_str(&part);
    }
    any.then_some((key, reported?))
}

/// The registry the batch's other sheets are read with: the batch's registry sheets applied to
/// the district's, date by date (`normalize::in_force`). A sheet whose counties the date's
/// sheets cover (every town the registry had in them) replaces those counties' grids
/// (`RegistryScope::District`): one district of a city sending its registry replaces that
/// district's alone. One that does not (a community sending its own grid plan) updates only the
/// communities it lists and says so (`Community`), so that one community's file never makes
/// every other community's grids unknown.
pub(super) fn apply_registries(
    previous: Registry,
    form: &FormConfig,
    sheets: &[(usize, usize)],
    results: &mut BTreeMap<(usize, usize), SheetResult>,
) -> Registry {
    let mut by_date: BTreeMap<chrono::NaiveDate, Vec<(usize, usize)>> = BTreeMap::new();
    for key in sheets {
        if let Some(result) = results.get(key) {
            by_date.entry(result.report_date).or_default().push(*key);
        }
    }
    let mut registry = previous;
    for keys in by_date.values() {
        let mut own: Vec<((usize, usize), Registry)> = Vec::new();
        let mut incoming = Registry::default();
        for key in keys {
            if let Some(sheet) = results.get_mut(key) {
                super::hierarchy::resolve(form, sheet);
                let mut sheet_registry = Registry::default();
                add_to_registry(&mut sheet_registry, form, sheet);
                incoming.merge(sheet_registry.clone());
                own.push((*key, sheet_registry));
            }
        }
        if incoming.is_empty() {
            continue;
        }
        let (mut whole, mut partial) = (Registry::default(), Registry::default());
        let (has, before) = (incoming.towns_by_part(), registry.towns_by_part());
        for (key, sheet_registry) in own {
            let Some(result) = results.get_mut(&key) else { continue };
            let missing = towns_missing(&has, &before, &sheet_registry.parts());
            let scope = if missing == 0 { RegistryScope::District } else { RegistryScope::Community };
            result.registry_scope = Some(scope);
            if scope == RegistryScope::Community {
                let names: Vec<&str> = sheet_registry.communities.values().map(|c| c.name.as_str()).collect();
                result.warnings.push(Warning {
                    row: result.header_rows.first().copied().unwrap_or(1),
                    column: 0,
                    field: String::new(),
                    code: "partial_registry",
                    message: format!(
                        "网格台账只含{}个社区（{}{}），未覆盖全区（缺少{}个镇街）：只更新这些社区的网格，其余社区沿用原台账",
                        names.len(),
                        names.iter().take(10).copied().collect::<Vec<_>>().join("、"),
                        if names.len() > 10 { "等" } else { "" },
                        missing,
                    ),
                    raw: String::new(),
                });
                *result.counts.warnings.entry("partial_registry").or_default() += 1;
            }
            match scope {
                RegistryScope::District => whole.merge(sheet_registry),
                RegistryScope::Community => partial.merge(sheet_registry),
            }
        }
        // In this order, as `Warehouse::registry` reads a date's snapshots back.
        registry.replace_parts(whole);
        registry.overlay(partial);
    }
    registry
}

/// Adds a grid registry sheet's accepted rows to the registry. Codes the sheet does not have
/// are derived from names (see `RegistryRow::codes`) and written into its records, so that the
/// warehouse files every grid under the code the other sheets are resolved to; the sheet says
/// so once.
fn add_to_registry(registry: &mut Registry, form: &FormConfig, sheet: &mut SheetResult) {
    let index = |name: &str| form.fields.iter().position(|f| f.name == name);
    let (Some(community), Some(grid_name)) = (index("community"), index("grid_name")) else { return };
    let (town, community_code, grid_code, sub_grid_name, sub_grid_code) =
        (index("town"), index("community_code"), index("grid_code"), index("sub_grid_name"), index("sub_grid_code"));
    let text = |record: &Record, i: Option<usize>| match i.map(|i| &record.values[i]) {
        Some(Value::Text(t)) => t.clone(),
        _ => String::new(),
    };
    let mut derived = 0;
    for (_, record) in &mut sheet.records {
        let (t, c, cc, g, gc, sn, sg) = (
            text(record, town),
            text(record, Some(community)),
            text(record, community_code),
            text(record, Some(grid_name)),
            text(record, grid_code),
            text(record, sub_grid_name),
            text(record, sub_grid_code),
        );
        let row = RegistryRow {
            town: &t,
            community: &c,
            community_code: Some(cc.as_str()),
            grid_name: &g,
            grid_code: Some(gc.as_str()),
            sub_grid_name: &sn,
            sub_grid_code: Some(sg.as_str()),
        };
        let Some(codes) = registry.add_row(&row) else { continue };
        derived += usize::from(codes.derived);
        for (field, code) in
            [(community_code, Some(codes.community)), (grid_code, Some(codes.grid)), (sub_grid_code, codes.sub_grid)]
        {
            if let (Some(i), Some(code)) = (field, code) {
                record.values[i] = Value::Text(code);
            }
        }
    }
    if derived > 0 {
        sheet.warnings.push(Warning {
            row: sheet.header_rows.first().copied().unwrap_or(1),
            column: 0,
            field: String::new(),
            code: "derived_codes",
            message: format!(
                "网格台账中{derived}行没有社区或网格编码：已按镇街、社区、网格名称生成固定编码（同名每次相同）；如有正式编码请补充"
            ),
            raw: String::new(),
        });
        *sheet.counts.warnings.entry("derived_codes").or_default() += 1;
    }
}

//! Rows below the header: skipped with a reason (blank, repeated header, 合计, notes, a 无 row)
//! or validated field by field into a record, or rejected with the first problem found.

use chrono::{NaiveDate, NaiveDateTime};

use super::layout::{Filled, Layout};
use crate::config::forms::{FieldType, FormConfig, OnInvalid};
use crate::normalize::citizen_id::CitizenId;
use crate::normalize::grid::{GridError, Registry, ResolvedGrid};
use crate::normalize::text;
use crate::normalize::value::{self, Cell, ValueError};

/// Why a row is not data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    Title,
    Header,
    RepeatedHeader,
    Blank,
    Total,
    Note,
    ZeroReport,
    /// A registry row naming a town or community (the parent of other rows, or a community's
    /// own row with no grid), not a grid.
    Unit,
}

impl SkipReason {
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::Title => "title",
            SkipReason::Header => "header",
            SkipReason::RepeatedHeader => "repeated_header",
            SkipReason::Blank => "blank",
            SkipReason::Total => "total",
            SkipReason::Note => "note",
            SkipReason::ZeroReport => "zero_report",
            SkipReason::Unit => "unit",
        }
    }
}

/// A validated value of one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    // Boxed: a sheet holds a value per field per row, and these two are several times the
    // size of the others.
    Id(Box<CitizenId>),
    /// Valid numbers, normalised; the first is the main one.
    Phones(Vec<String>),
    Grid(Box<ResolvedGrid>),
}

/// A problem with one cell: a reject reason or a warning.
#[derive(Debug, Clone)]
pub struct Issue {
    /// Field index in the form.
    pub field: usize,
    /// 0-based column.
    pub column: usize,
    pub reason: &'static str,
    /// For a data officer, in Chinese.
    pub message: String,
    pub raw: String,
}

/// An accepted row.
#[derive(Debug, Clone)]
pub struct Record {
    /// One value per field of the form, in declared order.
    pub values: Vec<Value>,
    pub warnings: Vec<Issue>,
    /// The identity duplicates are detected on, if the record has one.
    pub identity: Option<Identity>,
}

/// What a record is the same as another by.
#[derive(Debug, Clone)]
pub struct Identity {
    /// HMAC of the identity under the workspace key, so that it can be stored.
    pub key: String,
    /// The field a duplicate is reported against, its column and raw value.
    pub field: usize,
    pub column: usize,
    pub raw: String,
}

/// What the rows of a sheet are validated against.
pub struct RowContext<'a> {
    pub registry: &'a Registry,
    /// The file's community (registry code), when known.
    pub community: Option<&'a str>,
    pub run_date: NaiveDate,
    /// The sheet's report date: a date cell without a year takes the year nearest to it.
    pub report_date: NaiveDate,
}

const NOTE_PREFIXES: &[&str] = &[
    "填表说明",
    "说明",
    "注:",
    "注：",
    "注",
    "备注:",
    "备注：",
    "填表人",
    "审核人",
    "制表人",
    "制表",
    "联系人:",
    "联系人：",
];
const ZERO_WORDS: &[&str] = &["无", "暂无", "零报告", "无人员", "本日无"];

/// Decides whether a row below the header is data or skipped, and why. Runs on every row, so
/// it looks at as few cells as it can and allocates only for short texts.
pub fn classify(filled: &Filled<'_>, row: usize, layout: &Layout) -> Option<SkipReason> {
    let width = filled.width(row);
    let Some(first_col) = (0..width).find(|c| !filled.get(row, *c).is_blank()) else {
        return Some(SkipReason::Blank);
    };
    // Borrowed where the text is already compact, as most cells are: this runs on every row.
    let short_text = |c: usize| match filled.get(row, c) {
        Cell::Text(t) if t.len() <= 64 => Some(text::compact_cow(t)),
        _ => None,
    };
    if (0..width.min(2)).filter_map(short_text).any(|t| ["合计", "小计", "总计"].iter().any(|k| t.contains(k))) {
        return Some(SkipReason::Total);
    }
    let first = match filled.get(row, first_col) {
        Cell::Text(t) => text::compact_cow(t),
        _ => std::borrow::Cow::Borrowed(""),
    };
    if (NOTE_PREFIXES.iter().any(|p| first.starts_with(p)) || is_signature(&first))
        && !is_data_like(filled, row, layout)
    {
        return Some(SkipReason::Note);
    }
    let zero = (first_col..width)
        .filter(|c| !filled.get(row, *c).is_blank())
        .all(|c| short_text(c).is_some_and(|t| ZERO_WORDS.contains(&t.as_ref())));
    if zero {
        return Some(SkipReason::ZeroReport);
    }
    let is_header = |c: usize, normalized: &str, as_written: &str| {
        let Cell::Text(t) = filled.get(row, c) else { return false };
        let cleaned = text::clean_str(t);
        !cleaned.is_empty()
            && (cleaned == as_written
                || (cleaned.len() <= 2 * normalized.len() + 8 && text::compacts_to(&cleaned, normalized)))
    };
    // A repeated header needs at least two cells, and half the mapped ones, to read as their
    // header: stop looking once that can no longer happen (a data row, nearly always).
    let total = layout.columns.len();
    let mut same = 0;
    for (i, ((c, _, _), (normalized, as_written))) in layout.columns.iter().zip(&layout.header_texts).enumerate() {
        if (same + total - i) * 2 < total || same + total - i < 2 {
            break;
        }
        same += usize::from(is_header(*c, normalized, as_written));
    }
    if same >= 2 && same * 2 >= total {
        return Some(SkipReason::RepeatedHeader);
    }
    None
}

/// A signature line below a table, in whatever words the office signs with: `填报人：张三`,
/// `报送人: 李四`, `单位负责人签字：`, `报送日期：3月5日`: a short label naming a role, a
/// signature or a date, then a colon.
fn is_signature(first: &str) -> bool {
    let Some((label, _)) = first.split_once(['：', ':']) else { return false };
    let chars = label.chars().count();
    (2..=8).contains(&chars)
        && ["人", "签字", "签名", "签章", "盖章", "日期", "时间", "电话", "单位"].iter().any(|end| label.ends_with(end))
}

/// A row starting with a note word is data if it fills several mapped columns with different
/// values (a person named 注 is unlikely, but a merged note fills every column the same).
fn is_data_like(filled: &Filled<'_>, row: usize, layout: &Layout) -> bool {
    let values: std::collections::BTreeSet<String> =
        layout.columns.iter().map(|(c, _, _)| filled.label(row, *c)).filter(|t| !t.is_empty()).collect();
    values.len() >= 3
}

/// A grid cell's text with the row's community and town.
type GridQuery = (String, Option<String>, Option<String>);

/// What validating earlier rows of a sheet already worked out: a sheet names the same few grids
/// and communities on thousands of rows, and resolving a name searches the registry.
#[derive(Default)]
pub struct Memo {
    grids: std::collections::HashMap<GridQuery, Result<ResolvedGrid, GridError>>,
    communities: std::collections::HashMap<String, Option<String>>,
}

impl Memo {
    /// Entries kept before the memo starts again, so that a sheet of all-different names
    /// cannot grow it without bound.
    const LIMIT: usize = 4096;

    fn grid(
        &mut self,
        registry: &Registry,
        raw: &str,
        community: Option<&str>,
        town: Option<&str>,
    ) -> Result<ResolvedGrid, GridError> {
        let key = (raw.to_string(), community.map(str::to_string), town.map(str::to_string));
        if let Some(known) = self.grids.get(&key) {
            return known.clone();
        }
        if self.grids.len() >= Self::LIMIT {
            self.grids.clear();
        }
        let resolved = registry.resolve(raw, community, town);
        self.grids.insert(key, resolved.clone());
        resolved
    }

    fn community(&mut self, registry: &Registry, name: &str) -> Option<String> {
        if let Some(known) = self.communities.get(name) {
            return known.clone();
        }
        if self.communities.len() >= Self::LIMIT {
            self.communities.clear();
        }
        let named = registry.communities_named(name);
        let code = (named.len() == 1).then(|| named[0].code.clone());
        self.communities.insert(name.to_string(), code.clone());
        code
    }
}

/// Validates a data row: every field in declared order; the first rejecting problem wins.
pub fn validate(
    filled: &Filled<'_>,
    row: usize,
    layout: &Layout,
    form: &FormConfig,
    ctx: &RowContext<'_>,
    memo: &mut Memo,
) -> Result<Record, Issue> {
    let mut values = vec![Value::Null; form.fields.len()];
    let mut warnings = Vec::new();
    // Fields that give context to others (a work order's community and town) come first.
    let column_of = |field: usize| layout.columns.iter().find(|(_, f, _)| *f == field).map(|(c, _, _)| *c);
    let cell_of = |name: &str| -> Option<&Cell> {
        let i = form.fields.iter().position(|f| f.name == name)?;
        column_of(i).map(|c| filled.get(row, c))
    };
    let community_cell = cell_of("community");
    let row_community: Option<String> =
        community_cell.map(|c| c.text()).filter(|t| !t.is_empty()).and_then(|t| memo.community(ctx.registry, &t));
    let row_town: Option<String> = cell_of("town").map(|c| c.text()).filter(|t| !t.is_empty());
    // Rows that name their community in a column but leave it empty have no community: the
    // file's community is only the context of files that belong to one community.
    let community = if community_cell.is_some() { row_community.as_deref() } else { ctx.community };

    for (i, field) in form.fields.iter().enumerate() {
        // A blank or missing cell reads its fallback's (a grid given by name, not code); an
        // issue then names the column the value came from.
        let own = column_of(i).filter(|c| !filled.get(row, *c).is_blank());
        let fallback = || {
            let other = form.fields.iter().position(|f| Some(&f.name) == field.fallback.as_ref())?;
            column_of(other).filter(|c| !filled.get(row, *c).is_blank())
        };
        let Some(col) = own.or_else(fallback).or_else(|| column_of(i)) else { continue };
        let cell = filled.get(row, col);
        // Most cells are text: borrow it rather than copy it. Other cells (dates, numbers) are
        // spelled out only for a message, not for every field of every row.
        let raw = || match cell {
            Cell::Text(t) => std::borrow::Cow::Borrowed(t.as_str()),
            other => std::borrow::Cow::Owned(other.display()),
        };
        let issue = |reason: &'static str, message: String| Issue {
            field: i,
            column: col,
            reason,
            message,
            raw: raw().into_owned(),
        };
        if cell.is_blank() {
            if field.required {
                return Err(issue("missing_required", format!("必填项“{}”为空", field.label)));
            }
            continue;
        }
        let result: Result<Value, (&'static str, String)> = match field.kind {
            FieldType::Text => Ok(Value::Text(cell.text())),
            // Codes name report files and folders (`grid/<code>-…`): only letters, digits, `-`
            // and `_`, so that no code can be a path (`../`, `/`, a control character).
            FieldType::Code => {
                let code = text::compact(&raw());
                if code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                    Ok(Value::Text(code))
                } else {
                    Err(("invalid_code", format!("{}只能由字母、数字、“-”和“_”组成，且不超过64个字符", field.label)))
                }
            }
            FieldType::Integer => {
                value::integer(cell).map(Value::Int).map_err(|e| (e.reason(), e.message(&field.label, &raw())))
            }
            FieldType::Hours => {
                // `办理时限(天)`: the header gives the unit of bare numbers.
                let header = layout.columns.iter().find(|(c, _, _)| *c == col).map_or("", |(_, _, h)| h.as_str());
                let days = (header.contains('天') || header.contains('日')) && !header.contains("小时");
                value::hours(cell, days).map(Value::Int).map_err(|e| (e.reason(), e.message(&field.label, &raw())))
            }
            FieldType::Boolean => {
                value::boolean(cell).map(Value::Bool).map_err(|e| (e.reason(), e.message(&field.label, &raw())))
            }
            FieldType::Gender => value::gender(cell)
                .map(|g| Value::Text(g.into()))
                .map_err(|e| (e.reason(), e.message(&field.label, &raw()))),
            FieldType::Date | FieldType::Datetime => match value::date(cell, ctx.report_date) {
                Err(e) => Err((e.reason(), e.message(&field.label, &raw()))),
                // A date that parses is not yet a date: `1022/5/10` or `10000年1月1日` would be
                // accepted, then break every report that shows it.
                Ok(d) => {
                    let (earliest, latest) = field.date_range(ctx.run_date);
                    if d.date < earliest || d.date > latest {
                        Err((
                            "invalid_date",
                            format!("{}“{}”不在合理范围内（应在{earliest}至{latest}之间）", field.label, raw()),
                        ))
                    } else if field.kind == FieldType::Date {
                        Ok(Value::Date(d.date))
                    } else {
                        Ok(Value::DateTime(d.datetime()))
                    }
                }
            },
            FieldType::CitizenId => value::citizen_id(cell, ctx.run_date)
                .map(|id| Value::Id(Box::new(id)))
                .map_err(|e| (e.reason(), e.message(&field.label, &raw()))),
            FieldType::Phone => {
                let phones = value::phones(cell);
                if phones.invalid.is_empty() {
                    Ok(Value::Phones(phones.valid))
                } else {
                    let e = ValueError::InvalidPhone(phones.invalid.clone());
                    if phones.valid.is_empty() || field.on_invalid == OnInvalid::Reject {
                        Err((e.reason(), e.message(&field.label, &raw())))
                    } else {
                        // Keep the valid numbers and warn about the rest.
                        warnings.push(issue(e.reason(), e.message(&field.label, &raw())));
                        Ok(Value::Phones(phones.valid))
                    }
                }
            }
            FieldType::Grid => memo
                .grid(ctx.registry, &raw(), community, row_town.as_deref())
                .map(|g| Value::Grid(Box::new(g)))
                .map_err(|e| (e.reason(), e.to_string())),
            FieldType::Enum => {
                let map = field.enum_name.as_ref().and_then(|n| form.enums.get(n));
                match map {
                    Some(map) => value::enumeration(cell, map.iter())
                        .map(Value::Text)
                        .map_err(|e| (e.reason(), e.message(&field.label, &raw()))),
                    None => Ok(Value::Text(cell.text())),
                }
            }
        };
        match result {
            Ok(v) => values[i] = v,
            Err((reason, message)) => match field.on_invalid {
                OnInvalid::Reject => return Err(issue(reason, message)),
                OnInvalid::Warn => warnings.push(issue(reason, message)),
            },
        }
    }
    // A group of which one is required (a grid by code or by name): the first column of it
    // the sheet has is the one to fill in.
    for group in &form.required_one_of {
        let fields: Vec<usize> = group.iter().filter_map(|n| form.fields.iter().position(|f| &f.name == n)).collect();
        if fields.iter().all(|i| matches!(values[*i], Value::Null)) {
            let at = fields.iter().find_map(|i| column_of(*i).map(|c| (*i, c)));
            let labels: Vec<&str> = fields.iter().map(|i| form.fields[*i].label.as_str()).collect();
            let (field, column) = at.unwrap_or((fields[0], 0));
            return Err(Issue {
                field,
                column,
                reason: "missing_required",
                message: format!("必填项“{}”为空", labels.join("”或“")),
                raw: String::new(),
            });
        }
    }
    Ok(Record { values, warnings, identity: None })
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_lines_are_told_by_their_label() {
        for line in ["填报人：张三", "审核人:李四", "单位负责人签字：", "报送日期：3月5日", "联系电话：13800000000"]
        {
            assert!(super::is_signature(line), "{line}");
        }
        for line in ["张三", "北京市朝阳区：某小区", "：", "这是一段很长的说明文字而不是签字人：x"]
        {
            assert!(!super::is_signature(line), "{line}");
        }
    }
}

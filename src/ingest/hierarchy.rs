//! A grid registry kept as a tree: each row names a unit and its parent (上级网格, 上级单位), as
//! grid-management systems export them: the town under the district, each community under its
//! town, each grid under its community, and each sub-grid (微网格) under its grid. The rows that
//! are another row's parent are towns, communities or grids: they are skipped (`unit`) and give
//! the rows below them their grid, community and town. A leaf is a sub-grid when its parent is a
//! grid (its name says 网格, or its own parent is a community), a grid otherwise. Names repeat
//! across a tree (every community has a 第1网格), so a row's parent is the nearest row above it
//! of that name, as a tree export lists children after their parent. A registry with community
//! and town columns passes through unchanged; either way, a grid row left without a community
//! is rejected.

use super::rows::{SkipReason, Value};
use super::{Reject, SheetResult};
use crate::config::forms::FormConfig;
use crate::normalize::text;

/// Longest chain of parents followed: a tree deeper than district, town, community, grid and
/// sub-grid, or a cycle (a unit its own ancestor), stops there.
const MAX_DEPTH: usize = 8;

fn ends_with_any(name: &str, suffixes: &[&str]) -> bool {
    suffixes.iter().any(|s| name.ends_with(s) && name.len() > s.len())
}

/// A community's name (幸福里社区, 李家村, 东风居委会).
fn is_community_name(name: &str) -> bool {
    ends_with_any(name, &["社区", "村", "居委会", "村委会", "社区居委会", "嘎查"])
}

/// A town's or sub-district's name (东城街道, 西湖镇, 城关办事处).
fn is_town_name(name: &str) -> bool {
    ends_with_any(name, &["街道", "镇", "乡", "办事处", "街道办事处", "苏木"])
}

/// A grid's name (第3网格, 幸福里一网格), not a sub-grid's (第1微网格).
fn is_grid_name(name: &str) -> bool {
    name.contains("网格") && !name.contains("微网格") && !name.contains("子网格") && !is_community_name(name)
}

/// Fills in the grid, community and town of a registry sheet's leaf rows from their parents,
/// skips the rows that are parents, and rejects the rows no community can be found for.
pub fn resolve(form: &FormConfig, sheet: &mut SheetResult) {
    let index = |name: &str| form.fields.iter().position(|f| f.name == name);
    let (Some(grid), Some(community)) = (index("grid_name"), index("community")) else { return };
    let (town, parent, sub_grid) = (index("town"), index("parent"), index("sub_grid_name"));
    let get = |values: &[Value], i: Option<usize>| match i.map(|i| &values[i]) {
        Some(Value::Text(t)) => text::compact(t),
        _ => String::new(),
    };
    let names: Vec<String> = sheet.records.iter().map(|(_, r)| get(&r.values, Some(grid))).collect();
    let ups: Vec<String> = sheet.records.iter().map(|(_, r)| get(&r.values, parent)).collect();
    // The row each row's parent names: the nearest above it, else the first below.
    let parent_row: Vec<Option<usize>> = (0..names.len())
        .map(|i| {
            let up = &ups[i];
            if up.is_empty() {
                return None;
            }
            (0..i).rev().find(|j| &names[*j] == up).or_else(|| (i + 1..names.len()).find(|j| &names[*j] == up))
        })
        .collect();
    let mut is_parent = vec![false; names.len()];
    for p in parent_row.iter().flatten() {
        is_parent[*p] = true;
    }
    // A row's ancestors' names, nearest first: a named parent with no row of its own ends it.
    let ancestors = |i: usize| {
        let mut out = Vec::new();
        let mut at = i;
        while out.len() < MAX_DEPTH && !ups[at].is_empty() {
            out.push(ups[at].clone());
            match parent_row[at] {
                Some(p) if p != i => at = p,
                _ => break,
            }
        }
        out
    };
    let column_of =
        |field: &str| sheet.headers.iter().find(|(_, h)| h.field.as_deref() == Some(field)).map(|(c, _)| *c);
    let community_column = column_of("community").or_else(|| column_of("parent")).or_else(|| column_of("grid_name"));
    let label = |field: usize| form.fields[field].label.clone();
    let mut kept = Vec::with_capacity(sheet.records.len());
    for (i, (row, mut record)) in std::mem::take(&mut sheet.records).into_iter().enumerate() {
        let up = ancestors(i);
        let name = &names[i];
        // A parent, or a community listed with no grid under it.
        let unit = is_parent[i] || (is_community_name(name) && up.first().is_some_and(|p| is_town_name(p)));
        if unit {
            sheet.counts.accepted -= 1;
            *sheet.counts.skipped.entry(SkipReason::Unit.code()).or_default() += 1;
            sheet.skips.push((row, SkipReason::Unit));
            continue;
        }
        // A leaf under a grid: the sub-grid field it fills, its grid the parent's name.
        let sub = sub_grid.filter(|_| {
            get(&record.values, sub_grid).is_empty()
                && matches!(up.as_slice(), [parent, grand, ..] if !is_community_name(parent)
                    && (is_grid_name(parent) || is_community_name(grand)))
        });
        // The names above the row's grid: its community, then its town.
        let above: &[String] = match (sub, up.split_first()) {
            (Some(field), Some((parent, rest))) => {
                record.values[field] = Value::Text(name.clone());
                record.values[grid] = Value::Text(parent.clone());
                rest
            }
            _ => &up,
        };
        if get(&record.values, Some(community)).is_empty()
            && let Some(c) = above.first()
        {
            record.values[community] = Value::Text(c.clone());
        }
        if get(&record.values, Some(community)).is_empty() {
            sheet.counts.accepted -= 1;
            *sheet.counts.rejected.entry("missing_required").or_default() += 1;
            let column = community_column.unwrap_or(0);
            sheet.rejects.push(Reject {
                row,
                column,
                header: sheet.headers.get(&column).map(|h| h.label.clone()).unwrap_or_default(),
                field: form.fields[community].name.clone(),
                reason: "missing_required",
                message: format!(
                    "必填项“{}”为空：网格台账的每个网格须有所属{}或上级网格",
                    label(community),
                    label(community)
                ),
                raw: String::new(),
                kept: None,
            });
            continue;
        }
        if let Some(t) = town
            && get(&record.values, Some(t)).is_empty()
            && let Some(town_name) = above.get(1)
        {
            record.values[t] = Value::Text(town_name.clone());
        }
        kept.push((row, record));
    }
    sheet.records = kept;
    sheet.skips.sort_by_key(|(row, _)| *row);
    sheet.rejects.sort_by_key(|r| r.row);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::rows::Record;

    fn form() -> FormConfig {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/forms");
        crate::config::forms::load_forms(&dir).unwrap().into_iter().find(|f| f.is_grid_registry()).unwrap()
    }

    fn text(form: &FormConfig, r: &Record, field: &str) -> String {
        match &r.values[form.fields.iter().position(|f| f.name == field).unwrap()] {
            Value::Text(t) => t.clone(),
            _ => String::new(),
        }
    }

    /// A registry sheet of (name, parent) rows, from row 2, resolved.
    fn resolved(form: &FormConfig, rows: &[(&str, &str)]) -> SheetResult {
        let at = |name: &str| form.fields.iter().position(|f| f.name == name).unwrap();
        let row = |name: &str, parent: &str| {
            let mut values = vec![Value::Null; form.fields.len()];
            values[at("grid_name")] = Value::Text(name.into());
            if !parent.is_empty() {
                values[at("parent")] = Value::Text(parent.into());
            }
            Record { values, warnings: Vec::new(), identity: None }
        };
        let dated = crate::ingest::context::ReportDate {
            date: chrono::NaiveDate::from_ymd_opt(2024, 3, 4).unwrap(),
            source: crate::ingest::context::Source::RunDate,
            year_from: None,
        };
        let mut sheet = SheetResult::new("网格".into(), 0, dated, None);
        sheet.form = Some(form.form.clone());
        sheet.records = rows.iter().enumerate().map(|(i, (n, p))| (i + 2, row(n, p))).collect();
        sheet.counts.accepted = rows.len() as u64;
        resolve(form, &mut sheet);
        sheet
    }

    #[test]
    fn a_tree_of_units_gives_each_grid_its_community_and_town() {
        let form = form();
        let rows = [
            ("东城街道", "清河区"),
            ("幸福里社区", "东城街道"),
            ("第1网格", "幸福里社区"),
            ("第2网格", "幸福里社区"),
            ("孤立网格", ""),
            ("光明社区", "东城街道"),
        ];
        let sheet = resolved(&form, &rows);
        let grids: Vec<(usize, String, String, String)> = sheet
            .records
            .iter()
            .map(|(row, r)| (*row, text(&form, r, "grid_name"), text(&form, r, "community"), text(&form, r, "town")))
            .collect();
        assert_eq!(
            grids,
            [
                (4, "第1网格".into(), "幸福里社区".into(), "东城街道".into()),
                (5, "第2网格".into(), "幸福里社区".into(), "东城街道".into())
            ]
        );
        // 光明社区 lists no grid: a unit, not a grid of 东城街道.
        assert_eq!(sheet.skips, [(2, SkipReason::Unit), (3, SkipReason::Unit), (7, SkipReason::Unit)]);
        assert_eq!(sheet.rejects.iter().map(|r| (r.row, r.reason)).collect::<Vec<_>>(), [(6, "missing_required")]);
        assert_eq!(sheet.counts.accepted, 2);
    }

    #[test]
    fn sub_grids_take_the_grid_above_them_even_where_names_repeat() {
        let form = form();
        let rows = [
            ("清河区", ""),
            ("东城街道", "清河区"),
            ("幸福里社区", "东城街道"),
            ("第1网格", "幸福里社区"),
            ("第1微网格", "第1网格"),
            ("第2微网格", "第1网格"),
            ("第2网格", "幸福里社区"),
            ("光明社区", "东城街道"),
            ("第1网格", "光明社区"),
            ("第1微网格", "第1网格"),
            // A grid with no sub-grids is a leaf grid.
            ("第2网格", "光明社区"),
        ];
        let sheet = resolved(&form, &rows);
        let got: Vec<(usize, String, String, String, String)> = sheet
            .records
            .iter()
            .map(|(row, r)| {
                let t = |f: &str| text(&form, r, f);
                (*row, t("sub_grid_name"), t("grid_name"), t("community"), t("town"))
            })
            .collect();
        let want = |row: usize, sub: &str, grid: &str, community: &str| {
            (row, sub.to_string(), grid.to_string(), community.to_string(), "东城街道".to_string())
        };
        assert_eq!(
            got,
            [
                want(6, "第1微网格", "第1网格", "幸福里社区"),
                want(7, "第2微网格", "第1网格", "幸福里社区"),
                want(8, "", "第2网格", "幸福里社区"),
                want(11, "第1微网格", "第1网格", "光明社区"),
                want(12, "", "第2网格", "光明社区"),
            ]
        );
        let units: Vec<usize> = sheet.skips.iter().map(|(row, _)| *row).collect();
        assert_eq!(units, [2, 3, 4, 5, 9, 10]);
    }
}

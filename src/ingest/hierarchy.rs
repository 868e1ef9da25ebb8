//! A grid registry kept as a tree: each row names a unit and its parent (上级网格, 上级单位), as
//! grid-management systems export them: the town under the district, each community under its
//! town, each grid under its community. The rows that are another row's parent are towns and
//! communities, not grids: they are skipped (`unit`) and give the grids below them their
//! community and town. A registry with community and town columns passes through unchanged;
//! either way, a grid row left without a community is rejected.

use std::collections::{BTreeMap, BTreeSet};

use super::rows::{SkipReason, Value};
use super::{Reject, SheetResult};
use crate::config::forms::FormConfig;
use crate::normalize::text;

/// Fills in the community and town of a registry sheet's grid rows from their parents, skips
/// the rows that are parents, and rejects the grid rows no community can be found for.
pub fn resolve(form: &FormConfig, sheet: &mut SheetResult) {
    let index = |name: &str| form.fields.iter().position(|f| f.name == name);
    let (Some(grid), Some(community)) = (index("grid_name"), index("community")) else { return };
    let (town, parent) = (index("town"), index("parent"));
    let get = |values: &[Value], i: Option<usize>| match i.map(|i| &values[i]) {
        Some(Value::Text(t)) => text::compact(t),
        _ => String::new(),
    };
    // Every unit named as a parent, and the parent each named row gives.
    let parents: BTreeSet<String> =
        sheet.records.iter().map(|(_, r)| get(&r.values, parent)).filter(|p| !p.is_empty()).collect();
    let parent_of: BTreeMap<String, String> = sheet
        .records
        .iter()
        .map(|(_, r)| (get(&r.values, Some(grid)), get(&r.values, parent)))
        .filter(|(name, p)| !name.is_empty() && !p.is_empty())
        .collect();
    let column_of =
        |field: &str| sheet.headers.iter().find(|(_, h)| h.field.as_deref() == Some(field)).map(|(c, _)| *c);
    let community_column = column_of("community").or_else(|| column_of("parent")).or_else(|| column_of("grid_name"));
    let label = |field: usize| form.fields[field].label.clone();
    let mut kept = Vec::with_capacity(sheet.records.len());
    for (row, mut record) in std::mem::take(&mut sheet.records) {
        let name = get(&record.values, Some(grid));
        if parents.contains(&name) {
            sheet.counts.accepted -= 1;
            *sheet.counts.skipped.entry(SkipReason::Unit.code()).or_default() += 1;
            sheet.skips.push((row, SkipReason::Unit));
            continue;
        }
        let mut community_name = get(&record.values, Some(community));
        let up = get(&record.values, parent);
        if community_name.is_empty() && !up.is_empty() {
            community_name = up.clone();
            record.values[community] = Value::Text(up);
        }
        if community_name.is_empty() {
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
            && let Some(town_name) = parent_of.get(&community_name)
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

    #[test]
    fn a_tree_of_units_gives_each_grid_its_community_and_town() {
        let form = form();
        let at = |name: &str| form.fields.iter().position(|f| f.name == name).unwrap();
        let row = |name: &str, parent: &str| {
            let mut values = vec![Value::Null; form.fields.len()];
            values[at("grid_name")] = Value::Text(name.into());
            if !parent.is_empty() {
                values[at("parent")] = Value::Text(parent.into());
            }
            Record { values, warnings: Vec::new(), identity: None }
        };
        let rows = [
            ("东城街道", "清河区"),
            ("幸福里社区", "东城街道"),
            ("第1网格", "幸福里社区"),
            ("第2网格", "幸福里社区"),
            ("孤立网格", ""),
        ];
        let dated = crate::ingest::context::ReportDate {
            date: chrono::NaiveDate::from_ymd_opt(2024, 3, 4).unwrap(),
            source: crate::ingest::context::Source::RunDate,
            year_from: None,
        };
        let mut sheet = SheetResult::new("网格".into(), 0, dated, None);
        sheet.form = Some(form.form.clone());
        sheet.records = rows.iter().enumerate().map(|(i, (n, p))| (i + 2, row(n, p))).collect();
        sheet.counts.accepted = 5;
        resolve(&form, &mut sheet);
        let text = |r: &Record, f: &str| match &r.values[at(f)] {
            Value::Text(t) => t.clone(),
            _ => String::new(),
        };
        let grids: Vec<(usize, String, String, String)> = sheet
            .records
            .iter()
            .map(|(row, r)| (*row, text(r, "grid_name"), text(r, "community"), text(r, "town")))
            .collect();
        assert_eq!(
            grids,
            [
                (4, "第1网格".into(), "幸福里社区".into(), "东城街道".into()),
                (5, "第2网格".into(), "幸福里社区".into(), "东城街道".into())
            ]
        );
        assert_eq!(sheet.skips, [(2, SkipReason::Unit), (3, SkipReason::Unit)]);
        assert_eq!(sheet.rejects.iter().map(|r| (r.row, r.reason)).collect::<Vec<_>>(), [(6, "missing_required")]);
        assert_eq!(sheet.counts.accepted, 2);
    }
}

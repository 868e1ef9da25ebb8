//! Grid registry (网格台账) updates: a registry that covers the district replaces it; one from a
//! single community updates that community alone, says so, and leaves every other community's
//! grids and figures as they were, whether it arrives with the district's registry or after it.

use std::collections::BTreeSet;
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use rust_xlsxwriter::Workbook;

use crate::common::{query_csv, scratch, text, wangge, wangge_expect};
use crate::daily::{DATE, daily, manifest};
use crate::hostile::other_communities;
use crate::warehouse::sample_copy;

const COMMUNITY: &str = "130273001001";
const DISTRICT_REGISTRY: &str = "台账/高新区网格台账（2022.5.7）.xlsx";
const PARTIAL: &str = "台账/荣馨园社区网格台账（2022.5.9）.xlsx";
/// The grid the community's new plan drops, and the one it adds.
const DROPPED: &str = "13027300100100300";
const ADDED: &str = "13027300100103500";

/// A registry workbook in the sample's layout (`序号, 镇(办事处), 村(社区), 社区编码, 网格名称,
/// 网格编码, 微网格名称, 微网格编码, …`), every sheet's: its header and its data rows, as text.
pub fn registry_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut book = open_workbook_auto(path).unwrap();
    let (mut header, mut rows) = (Vec::new(), Vec::new());
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        for row in range.rows() {
            let cells: Vec<String> = row
                .iter()
                .map(|c| match c {
                    Data::Float(f) => format!("{f}"),
                    Data::Int(i) => i.to_string(),
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect();
            if cells.get(1).map(String::as_str) == Some("镇(办事处)") {
                header = cells;
            } else if cells.get(3).is_some_and(|c| c.len() == 12) {
                rows.push(cells);
            }
        }
    }
    assert!(header.len() == 14 && !rows.is_empty(), "{}: {} rows", path.display(), rows.len());
    (header, rows)
}

/// Writes a registry of one sheet: a title row, the header and the rows.
pub fn write_registry(path: &Path, title: &str, header: &[String], rows: &[Vec<String>]) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, title).unwrap();
    for (r, row) in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)).enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, v).unwrap();
        }
    }
    book.save(path).unwrap();
}

/// Writes 荣馨园社区's own registry: the district's rows of that community without its grid 3,
/// with a new grid 35 of two sub-grids; the same columns as the district's registry.
fn write_partial_registry(ws: &Path) -> BTreeSet<String> {
    let (header, rows) = registry_rows(&ws.join("inbox").join(DISTRICT_REGISTRY));
    let mut rows: Vec<Vec<String>> = rows.into_iter().filter(|r| r[3] == COMMUNITY && r[5] != DROPPED).collect();
    assert!(rows.len() > 10, "荣馨园社区 in the district's registry: {} rows", rows.len());
    let template = rows[0].clone();
    for sub in ["01", "02"] {
        let mut row = template.clone();
        (row[4], row[5]) = ("第35网格".into(), ADDED.into());
        (row[6], row[7]) = (format!("第35网格{sub}号微网格"), format!("{}{sub}", &ADDED[..15]));
        rows.push(row);
    }
    write_registry(&ws.join("inbox").join(PARTIAL), "荣馨园社区网格划分台账（调整后）", &header, &rows);
    rows.iter().map(|r| r[5].clone()).collect()
}

/// The day's grids of `daily_grid` by community, as CSV lines.
fn grids(ws: &Path, community: &str, equal: bool) -> Vec<String> {
    let op = if equal { "=" } else { "<>" };
    let sql = format!(
        "SELECT * FROM daily_grid WHERE report_date = DATE '{DATE}' AND community_code {op} '{community}' \
         ORDER BY grid_code"
    );
    query_csv(ws, &sql).lines().skip(1).map(str::to_string).collect()
}

fn grid_codes(lines: &[String]) -> BTreeSet<String> {
    // grid_code is the fifth column of daily_grid (town_code, town, community_code, community, grid_code, …).
    lines.iter().map(|l| l.split(',').nth(4).unwrap_or_default().to_string()).collect()
}

#[test]
fn a_registry_from_one_community_updates_that_community_alone() {
    let dir = scratch();
    let reference = sample_copy(&dir.path().join("reference"));
    assert!(daily(&reference, &[]).status.success());
    let baseline = other_communities(&reference);
    let other_grids = grids(&reference, COMMUNITY, false);
    let old = grid_codes(&grids(&reference, COMMUNITY, true));
    assert!(old.contains(DROPPED) && !old.contains(ADDED), "{old:?}");

    // Together with the district's registry, in one batch.
    let together = sample_copy(&dir.path().join("together"));
    let want = write_partial_registry(&together);
    // After it: the district's registry and the partial one ingested first, the day's files after.
    let after = sample_copy(&dir.path().join("after"));
    write_partial_registry(&after);
    let day = after.join("inbox").join(DATE);
    let aside = dir.path().join("aside");
    std::fs::rename(&day, &aside).unwrap();
    wangge_expect(&["--workspace", after.to_str().unwrap(), "ingest", "--date", "2022-05-09", "--brief"], 0);
    std::fs::rename(&aside, &day).unwrap();

    let mut marts = Vec::new();
    for ws in [&together, &after] {
        let out = daily(ws, &[]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out.stderr));
        // The community's grids are its own registry's; nobody else's changed.
        let mine = grids(ws, COMMUNITY, true);
        assert_eq!(grid_codes(&mine), want, "{}", ws.display());
        assert_eq!(grids(ws, COMMUNITY, false), other_grids, "other communities' grids");
        assert!(other_communities(ws) == baseline, "another community's figures changed");
        // Every community of the registry in force is still expected to report, not only the
        // one whose registry came last.
        let sql =
            format!("SELECT count(DISTINCT community_code) AS n FROM completeness WHERE report_date = DATE '{DATE}'");
        assert_eq!(query_csv(ws, &sql).trim(), "n\n40", "{}", ws.display());
        marts.push(mine);
    }
    assert_eq!(marts[0], marts[1], "the same registry whichever way it arrived");

    // The partial registry says what it did, in the manifest and the summary.
    let m = manifest(&together);
    let problems = m["ingest"]["problems"].as_array().unwrap();
    let note = problems
        .iter()
        .find(|p| p["file"] == PARTIAL && p["reason"] == "partial_registry")
        .unwrap_or_else(|| panic!("no partial_registry note: {problems:?}"));
    let message = note["message"].as_str().unwrap();
    assert!(message.contains("荣馨园社区") && message.contains("其余社区沿用原台账"), "{message}");
    // And the warehouse records each snapshot's scope for analysts.
    let out = wangge(&[
        "--workspace",
        together.to_str().unwrap(),
        "query",
        "SELECT registry_scope, count(DISTINCT community_code) AS communities FROM grids \
         GROUP BY registry_scope ORDER BY registry_scope",
        "--format",
        "csv",
    ]);
    assert_eq!(
        text(&out.stdout).trim(),
        "registry_scope,communities\ncommunity,1\ndistrict,40",
        "{}",
        text(&out.stderr)
    );
}

/// Writes a workbook of one sheet: a title row, then `rows` (the first is the header).
fn workbook(path: &Path, title: &str, rows: &[&[&str]]) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, title).unwrap();
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    book.save(path).unwrap();
}

/// A district whose registry has no codes at all, one row per grid, and a grid named rather
/// than numbered: its grids get stable codes from their names, the registry says so, and the
/// communities' rows resolve against it on the day and on later days.
#[test]
fn a_registry_without_codes_gets_stable_codes_and_the_district_is_read_against_it() {
    let dir = scratch();
    let ws = dir.path().join("ws");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    let inbox = ws.join("inbox");
    workbook(
        &inbox.join("registry/幸福镇网格划分（2024.3.1）.xlsx"),
        "幸福镇网格划分表",
        &[
            &["街道", "社区", "网格", "网格长", "户数"],
            &["幸福镇", "幸福里社区", "第1网格", "王一", "40"],
            &["幸福镇", "幸福里社区", "第2网格", "王二", "38"],
            &["幸福镇", "幸福里社区", "滨河网格", "王三", "35"],
            &["幸福镇", "和平社区", "第1网格", "李一", "42"],
        ],
    );
    let returnees = |day: &str, name: &str, grid: &str, id: &str| {
        workbook(
            &inbox.join(format!("2024-03-0{day}/幸福里社区来返登记.xlsx")),
            &format!("幸福里社区来返人员登记（3月{day}日）"),
            &[&["姓名", "身份证号", "所属网格", "返乡日期"], &[name, id, grid, "2024-03-01"]],
        )
    };
    returnees("2", "赵一", "滨河网格", "11010519491231002X");
    let out = wangge(&["--workspace", ws.to_str().unwrap(), "ingest", "--date", "2024-03-02"]);
    let said = text(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("derived_codes"), "the registry says its codes are derived: {said}");
    let grids = query_csv(&ws, "SELECT community, grid_name, grid_code FROM grids ORDER BY community, grid_name");
    let codes: Vec<&str> = grids.lines().skip(1).map(|l| l.rsplit(',').next().unwrap()).collect();
    assert_eq!(codes.len(), 4, "{grids}");
    assert!(codes.iter().all(|c| c.starts_with('T') && c.len() > 9), "{grids}");
    // The same names give the same codes: a second workspace files them identically.
    let again = dir.path().join("again");
    wangge_expect(&["init", again.to_str().unwrap()], 0);
    std::fs::create_dir_all(again.join("inbox/registry")).unwrap();
    std::fs::copy(
        inbox.join("registry/幸福镇网格划分（2024.3.1）.xlsx"),
        again.join("inbox/registry/幸福镇网格划分（2024.3.1）.xlsx"),
    )
    .unwrap();
    wangge_expect(&["--workspace", again.to_str().unwrap(), "ingest", "--date", "2024-03-02"], 0);
    assert_eq!(
        query_csv(&again, "SELECT community, grid_name, grid_code FROM grids ORDER BY community, grid_name"),
        grids
    );

    // The next day, against the registry in the warehouse: a numbered grid in Chinese numerals.
    returnees("3", "钱二", "第二网格", "130203198507153029");
    let out = wangge(&["--workspace", ws.to_str().unwrap(), "ingest", "--date", "2024-03-03"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let people = query_csv(
        &ws,
        "SELECT r.name, g.grid_name FROM returnees r JOIN grids g ON g.grid_code = r.grid_code ORDER BY r.name",
    );
    assert_eq!(people.trim(), "name,grid_name\n赵一,滨河网格\n钱二,第2网格", "{people}");
}

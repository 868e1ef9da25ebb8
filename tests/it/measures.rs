//! The daily measures on cases the sample district does not have, against numbers worked out by
//! hand (docs/metrics.md): a returnee re-listed three days running is new once; one who comes
//! back after the window is new again; a key person pushed yesterday and missing from today's
//! list without a follow-up is overdue; a special-population visit recorded in a daily visit
//! sheet clears that person's overdue visit. A fresh workspace holds the sample's registry and
//! only the files written here, so every figure can be counted on one's fingers.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use wangge::normalize::citizen_id::compose;

use crate::common::{query_csv, repo, scratch, wangge_expect};

/// 荣馨园社区's 第1网格 in the sample's registry.
const GRID: &str = "13027300100100100";
const COMMUNITY: &str = "荣馨园社区";

/// A valid ID for person `n` (born 1980 + n).
fn id(n: u16) -> String {
    compose("130203", NaiveDate::from_ymd_opt(1980 + i32::from(n), 3, 4).unwrap(), 100 + n)
}

fn workspace(dir: &Path) -> PathBuf {
    let ws = dir.join("ws");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    let registry = "台账/高新区网格台账（2022.5.7）.xlsx";
    let to = ws.join("inbox").join(registry);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(repo().join("sample-data/inbox").join(registry), to).unwrap();
    ws
}

/// Writes a CSV under the inbox's `folder` (a date folder, or 台账).
fn csv(ws: &Path, folder: &str, name: &str, header: &str, rows: &[String]) {
    let dir = ws.join("inbox").join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = format!("{header}\n");
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(dir.join(name), text).unwrap();
}

/// Ingests the inbox and runs the daily pipeline for each date.
fn run(ws: &Path, dates: &[&str]) {
    let w = ws.to_str().unwrap();
    wangge_expect(&["--workspace", w, "ingest"], 0);
    for date in dates {
        let out = crate::common::wangge(&["--workspace", w, "run", "daily", "--date", date]);
        // Exit 1: checks failed (communities of the registry that sent nothing), never an error.
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", crate::common::text(&out.stderr));
    }
}

/// One row of a query's CSV, as text fields.
fn row(ws: &Path, sql: &str) -> Vec<String> {
    let csv = query_csv(ws, sql);
    let line = csv.lines().nth(1).unwrap_or_else(|| panic!("no row: {sql}\n{csv}"));
    line.split(',').map(str::to_string).collect()
}

fn grid_figures(ws: &Path, date: &str, columns: &str) -> Vec<String> {
    row(ws, &format!("SELECT {columns} FROM daily_grid WHERE report_date = DATE '{date}' AND grid_code = '{GRID}'"))
}

#[test]
fn a_returnee_is_new_once_however_often_listed_and_again_after_the_window() {
    let dir = scratch();
    let ws = workspace(dir.path());
    let header = "姓名,身份证号码,所属网格,返乡时间";
    let person = |n: u16, arrived: &str| format!("返乡{n},{},第1网格,{arrived}", id(n));
    // P4 came back on 04-20 and again on 05-10 (20 days: beyond the 14-day window); P5 on 04-30
    // and 05-10 (10 days: within it). P1 is listed three days running, P2 two.
    let days: [(&str, Vec<String>); 5] = [
        ("2022-04-20", vec![person(4, "2022-04-19")]),
        ("2022-04-30", vec![person(5, "2022-04-29")]),
        ("2022-05-08", vec![person(1, "2022-05-07"), person(2, "2022-05-07")]),
        ("2022-05-09", vec![person(1, "2022-05-07"), person(2, "2022-05-07")]),
        (
            "2022-05-10",
            vec![person(1, "2022-05-07"), person(3, "2022-05-09"), person(4, "2022-05-09"), person(5, "2022-04-29")],
        ),
    ];
    for (date, rows) in &days {
        csv(&ws, date, &format!("{COMMUNITY}来返登记{date}.csv"), header, rows);
    }
    run(&ws, &["2022-05-08", "2022-05-09", "2022-05-10"]);
    // (new, cumulative): 05-08 P1 and P2 new, four people so far (P4, P5 earlier); 05-09 nobody
    // new; 05-10 P3 (first time) and P4 (back after 20 days), five people in all.
    let figures = |date| grid_figures(&ws, date, "returnees_new, returnees_cumulative");
    assert_eq!(figures("2022-05-08"), ["2", "4"]);
    assert_eq!(figures("2022-05-09"), ["0", "4"]);
    assert_eq!(figures("2022-05-10"), ["2", "5"]);
    // The trend counts the same people per day, not rows: 2, 0, 2.
    let trend = query_csv(
        &ws,
        "SELECT day, sum(returnees_new) FROM trend WHERE report_date = DATE '2022-05-10' \
         AND day >= DATE '2022-05-08' GROUP BY day ORDER BY day",
    );
    let got: Vec<&str> = trend.lines().skip(1).collect();
    assert_eq!(got, ["2022-05-08,2", "2022-05-09,0", "2022-05-10,2"], "{trend}");
    // The headline: today 2, yesterday 0, +2, and the average of the days before that have a
    // report (05-08: 2, 05-09: 0) 1.0; for the grid and for the district alike.
    for scope in ["grid", "district"] {
        let headline = row(
            &ws,
            &format!(
                "SELECT today, yesterday, change, avg_7d FROM headline WHERE report_date = DATE '2022-05-10' \
                 AND scope = '{scope}' AND figure = '新增来返人员' AND (grid_code = '{GRID}' OR grid_code IS NULL)"
            ),
        );
        assert_eq!(headline, ["2", "0", "2", "1.0"], "{scope}");
    }
    let page = report_page(&ws, "grid");
    assert!(
        crate::common::heading_at(&page, "今日要点").unwrap()
            < crate::common::heading_at(&page, "超时未随访与联系不上").unwrap(),
        "the key figures first"
    );
}

#[test]
fn a_key_person_dropped_from_todays_list_without_a_follow_up_is_overdue() {
    let dir = scratch();
    let ws = workspace(dir.path());
    let header = "推送日期,姓名,身份证号,手机号,所属网格,随访方式,是否联系上,核查状态,责任网格员";
    let person = |n: u16, pushed: &str, way: &str, reached: &str, status: &str| {
        format!("{pushed},重点{n},{},1390000{n:04},第1网格,{way},{reached},{status},王网格", id(n))
    };
    // 05-09: F1 pushed, no follow-up (and missing from 05-10's list); F2 followed up by phone; F3
    // called, not reached. 05-10: F3 still not reached; F4 pushed today; F5 (pushed 05-08)
    // followed up and reached today.
    csv(
        &ws,
        "2022-05-09",
        &format!("{COMMUNITY}重点人员随访.csv"),
        header,
        &[
            person(11, "2022-05-09", "", "", ""),
            person(12, "2022-05-09", "电话", "是", "已核实在辖区"),
            person(13, "2022-05-09", "", "否", "联系不上"),
        ],
    );
    csv(
        &ws,
        "2022-05-10",
        &format!("{COMMUNITY}重点人员随访.csv"),
        header,
        &[
            person(13, "2022-05-09", "", "否", "联系不上"),
            person(14, "2022-05-10", "", "", ""),
            person(15, "2022-05-08", "电话", "是", "已核实在辖区"),
        ],
    );
    run(&ws, &["2022-05-10"]);
    // Listed today F3, F4, F5; reached today F5; unreachable as last listed F3; overdue F1
    // (dropped, never followed up) and F3 (pushed yesterday, no follow-up recorded).
    assert_eq!(
        grid_figures(
            &ws,
            "2022-05-10",
            "followups_pushed, followups_reached, followups_unreachable, followups_overdue"
        ),
        ["3", "1", "1", "2"]
    );
    // The exception list names them, masked, with their grid worker; F3 for both reasons.
    let list = query_csv(
        &ws,
        "SELECT grid_code, name_masked, pushed_on, days_since_push, issue, worker FROM followups_exceptions \
         WHERE report_date = DATE '2022-05-10' ORDER BY pushed_on, issue",
    );
    assert_eq!(
        list.lines().skip(1).collect::<Vec<_>>(),
        [
            format!("{GRID},重***,2022-05-09,1,超时未随访,王网格"),
            format!("{GRID},重***,2022-05-09,1,超时未随访、联系不上,王网格"),
        ],
        "{list}"
    );
    // Exceptions first: the district's report opens with them, before its tables, and no
    // name is written whole.
    let page = report_page(&ws, "district");
    let at = |title: &str| crate::common::heading_at(&page, title).unwrap_or_else(|| panic!("no section {title}"));
    assert!(at("超时未随访与联系不上") < at("超期工单") && at("超期工单") < at("各镇街汇总"), "sections out of order");
    let section = &page[at("超时未随访与联系不上")..at("超期工单")];
    assert!(section.contains("重***") && section.contains("超时未随访、联系不上") && section.contains("王网格"));
    assert!(!page.contains("重点11") && !page.contains("重点13"), "a name written whole");
}

/// The HTML report of the scope's (only or first) unit on 2022-05-10.
fn report_page(ws: &Path, scope: &str) -> String {
    let dir = ws.join("reports/2022-05-10").join(scope);
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    pages.sort();
    std::fs::read_to_string(&pages[0]).unwrap()
}

#[test]
fn a_visit_in_a_daily_sheet_clears_a_special_population_visit_due() {
    let dir = scratch();
    let ws = workspace(dir.path());
    let register = "人员类别,姓名,身份证号,住址,网格编码,走访频次,最近走访日期";
    let person =
        |n: u16, interval: u32| format!("独居老人,特殊{n},{},荣馨园{n}号楼101,第1网格,{interval},2022-04-25", id(n));
    // Every register date says 04-25: 15 days before 05-10.
    csv(
        &ws,
        "台账",
        &format!("{COMMUNITY}特殊人群台账2022.5.7.csv"),
        register,
        &[person(21, 7), person(22, 7), person(23, 7), person(24, 30)],
    );
    // S21 visited 05-09 (by name); S22's household visited 05-06 (by address, another head);
    // S23 visited 05-01, 9 days before 05-10: still beyond the 7 days; S24 is due every 30 days.
    csv(
        &ws,
        "2022-05-09",
        &format!("{COMMUNITY}入户走访.csv"),
        "走访日期,网格员,户主姓名,地址,所属网格",
        &[
            "2022-05-09,王网格,特殊21,别处1号楼,第1网格".into(),
            "2022-05-06,王网格,李家人,荣馨园22号楼101,第1网格".into(),
            "2022-05-01,王网格,特殊23,荣馨园23号楼101,第1网格".into(),
        ],
    );
    run(&ws, &["2022-05-10"]);
    let overdue = query_csv(
        &ws,
        "SELECT name, last_visit_date, days_overdue FROM special_overdue \
         WHERE report_date = DATE '2022-05-10' ORDER BY name",
    );
    assert_eq!(overdue.lines().skip(1).collect::<Vec<_>>(), ["特殊23,2022-05-01,2"], "{overdue}");
    // Grids without a visit for 3 days: every grid of the registry but 第1网格 (visited 05-09),
    // none of them ever visited.
    let idle = row(
        &ws,
        &format!(
            "SELECT count(*) AS idle, count(last_visit) AS visited, count(CASE WHEN grid_code = '{GRID}' THEN 1 END) AS ours, \
             (SELECT count(*) FROM daily_grid WHERE report_date = DATE '2022-05-10') AS grids FROM grids_without_visits WHERE report_date = DATE '2022-05-10'"
        ),
    );
    let registry: usize = idle[3].parse().unwrap();
    assert_eq!(idle[..3], [(registry - 1).to_string(), "0".into(), "0".into()], "{idle:?}");
}

//! Work orders are counted by the lifecycle stage their form declares for each status, never by
//! a status wording: `已结案`, `已撤销`, `已归档` are not open; `待核查` is open and handled;
//! `退回` and `办理中` past their deadline are overdue. Time limits in hours or days.

use std::path::Path;

use crate::common::{query_csv, scratch, text, wangge};
use crate::daily::{DATE, daily};
use crate::warehouse::sample_copy;

const GRID: &str = "13027300100100100";

/// (open, overdue) of the grid on the day.
fn standing(ws: &Path) -> (i64, i64) {
    let sql = format!(
        "SELECT work_orders_open, work_orders_overdue FROM daily_grid \
         WHERE report_date = DATE '{DATE}' AND grid_code = '{GRID}'"
    );
    let csv = query_csv(ws, &sql);
    let line = csv.lines().nth(1).unwrap_or_else(|| panic!("no row for the grid: {csv}"));
    let (open, overdue) = line.split_once(',').unwrap();
    (open.parse().unwrap(), overdue.parse().unwrap())
}

#[test]
fn open_and_overdue_orders_are_counted_by_stage() {
    let dir = scratch();
    let reference = sample_copy(&dir.path().join("reference"));
    assert!(daily(&reference, &[]).status.success());
    let before = standing(&reference);

    let ws = sample_copy(&dir.path().join("ws"));
    let header = "工单编号,来源渠道,受理时间,诉求人,所属镇街,所属社区,所属网格,事件类别,诉求内容,派单时间,办理时限,截止时间,办结时间,工单状态\n";
    // (id, status, time limit, deadline): received the day before, due by 08:00 on the day
    // unless said otherwise.
    let orders = [
        ("LC01", "已结案", "24", "2022-05-10 08:00:00"),
        ("LC02", "已撤销", "24", "2022-05-10 08:00:00"),
        ("LC03", "待核查", "24", "2022-05-10 08:00:00"),
        ("LC04", "退回", "24", "2022-05-10 08:00:00"),
        ("LC05", "办理中", "24小时", "2022-05-10 08:00:00"),
        ("LC06", "已归档", "1天", "2022-05-10 08:00:00"),
        ("LC07", "作废", "24", "2022-05-10 08:00:00"),
        ("LC08", "已受理", "3天", "2022-05-12 08:00:00"),
    ];
    let mut csv = header.to_string();
    for (id, status, limit, deadline) in orders {
        csv.push_str(&format!(
            "{id},12345热线,2022-05-09 08:00:00,张三,街道办事处,荣馨园社区,第1网格,咨询,路灯不亮,2022-05-09 09:00:00,{limit},{deadline},,{status}\n"
        ));
    }
    std::fs::write(ws.join("inbox").join(DATE).join("工单_生命周期.csv"), csv).unwrap();
    let out = daily(&ws, &[]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out.stderr));
    let after = standing(&ws);
    // Open: 待核查, 退回, 办理中, 已受理. Overdue: 退回 and 办理中 (待核查 is handled, 已受理 not due).
    assert_eq!((after.0 - before.0, after.1 - before.1), (4, 2), "before {before:?}, after {after:?}");

    let out = wangge(&[
        "--workspace",
        ws.to_str().unwrap(),
        "query",
        "SELECT order_id, status, status_stage, time_limit_hours FROM work_orders \
         WHERE order_id LIKE 'LC%' ORDER BY order_id",
        "--format",
        "csv",
    ]);
    assert_eq!(
        text(&out.stdout).trim(),
        "order_id,status,status_stage,time_limit_hours\n\
         LC01,已结案,closed,24\n\
         LC02,已撤销,cancelled,24\n\
         LC03,待核查,awaiting_check,24\n\
         LC04,退回,returned,24\n\
         LC05,处置中,in_progress,24\n\
         LC06,已结案,closed,24\n\
         LC07,已撤销,cancelled,24\n\
         LC08,已受理,received,72",
        "{}",
        text(&out.stderr)
    );
}

/// An order whose grid cannot be told is kept with a warning, counted under 未定网格 in the
/// district's figures and lists, and in no town's report.
#[test]
fn an_order_of_no_known_grid_is_counted_under_its_own_row_not_lost() {
    let dir = scratch();
    // The sample's own export has orders of no known grid too: the two below add to them.
    let unplaced = |ws: &Path| -> Vec<i64> {
        let row = query_csv(
            ws,
            &format!(
                "SELECT work_orders_received, work_orders_open, work_orders_overdue FROM daily_town \
                 WHERE report_date = DATE '{DATE}' AND town_code IS NULL AND town = '未定网格'"
            ),
        );
        row.lines()
            .nth(1)
            .unwrap_or_else(|| panic!("no 未定网格 row: {row}"))
            .split(',')
            .map(|n| n.parse().unwrap())
            .collect()
    };
    let reference = sample_copy(&dir.path().join("reference"));
    assert!(matches!(daily(&reference, &[]).status.code(), Some(0 | 1)));
    let before = unplaced(&reference);
    let ws = sample_copy(&dir.path().join("ws"));
    let header = "工单编号,来源渠道,受理时间,诉求人,所属镇街,所属社区,所属网格,事件类别,诉求内容,派单时间,办理时限,截止时间,办结时间,工单状态\n";
    let csv = format!(
        "{header}UG01,12345热线,2022-05-09 08:00:00,张三,街道办事处,荣馨园社区,第99网格,咨询,路灯不亮,2022-05-09 09:00:00,24,2022-05-10 08:00:00,,办理中\n\
         UG02,12345热线,2022-05-10 09:00:00,李四,,,第2网格,咨询,井盖缺失,2022-05-10 09:30:00,24,2022-05-11 09:00:00,,已受理\n"
    );
    std::fs::write(ws.join("inbox").join(DATE).join("工单_未定网格.csv"), csv).unwrap();
    let out = daily(&ws, &[]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out.stderr));
    // Kept, with no grid, and warned about: one unknown grid, one bare 第2网格 of several towns.
    let kept = query_csv(
        &ws,
        "SELECT order_id, grid_code IS NULL AS unplaced FROM work_orders WHERE order_id LIKE 'UG%' ORDER BY order_id",
    );
    assert_eq!(kept.lines().skip(1).collect::<Vec<_>>(), ["UG01,true", "UG02,true"], "{kept}");
    let warned = query_csv(
        &ws,
        "SELECT sum(warnings) FROM ingest_files WHERE path LIKE '%工单_未定网格.csv' AND status = 'read'",
    );
    assert_eq!(warned.lines().nth(1), Some("2"), "{warned}");
    // 未定网格 in the district's figures: received today +1 (UG02), open +2, overdue +1 (UG01).
    let after = unplaced(&ws);
    let added: Vec<i64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(added, [1, 2, 1], "before {before:?}, after {after:?}");
    // The district's report shows the row and the overdue order; no town report is made for it.
    let day = ws.join("reports").join(DATE);
    let district = std::fs::read_dir(day.join("district"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "html"))
        .unwrap();
    let page = std::fs::read_to_string(district).unwrap();
    // (cells carry their style inline: `<td style="…">未定网格</td>`)
    assert!(page.contains("\">未定网格</td>"), "the district shows its 未定网格 row");
    let listed = query_csv(
        &ws,
        &format!(
            "SELECT grid_name, town_code IS NULL FROM work_orders_overdue_list \
             WHERE report_date = DATE '{DATE}' AND order_id = 'UG01'"
        ),
    );
    assert_eq!(listed.lines().nth(1), Some("未定网格,true"), "UG01 among the overdue orders: {listed}");
    let towns: Vec<String> = std::fs::read_dir(day.join("town"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(towns.iter().all(|t| !t.contains("未定网格") && !t.starts_with('-')), "{towns:?}");
}

//! Incremental steps (`incremental = true`: stg_returnees_seen, stg_returnees_latest,
//! stg_work_orders_as_of, stg_special_visits, stg_fire_places): a day's mart built from the day
//! before's and the rows reported since equals, byte for byte, the mart the full SQL makes from
//! the whole history (or its window's); a late file for an earlier day makes the next run build
//! from the last mart still true to the warehouse, and the bytes are still those of a full run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{copy_dir, query_csv, scratch, text, wangge, wangge_expect};
use crate::compaction::files;
use crate::warehouse::{ingest, sample_copy};

const DAYS: [&str; 3] = ["2022-05-08", "2022-05-09", "2022-05-10"];
/// A community's daily workbook (returnees, key persons and visits) and the hotline's export
/// of the middle day.
const LATE: &[&str] =
    &["inbox/2022-05-09/5月9日 南河村 来返登记.xlsx", "inbox/2022-05-09/民生诉求工单导出_20220509.csv"];

fn run(ws: &Path, date: &str) -> String {
    let out = wangge(&["--workspace", ws.to_str().unwrap(), "run", "daily", "--no-reports", "--date", date]);
    // 1: a community left out fails the completeness check, nothing else.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{date}: {:?}\n{}", out.status, text(&out.stderr));
    text(&out.stderr)
}

/// Every mart file of one report date.
fn marts_of(ws: &Path, date: &str) -> BTreeMap<PathBuf, Vec<u8>> {
    let partition = format!("report_date={date}");
    files(&ws.join("warehouse/marts"))
        .into_iter()
        .filter(|(path, _)| path.iter().any(|c| c.to_string_lossy() == partition))
        .collect()
}

fn built_from(stderr: &str, step: &str) -> Option<String> {
    let line = stderr.lines().find(|l| l.trim_start().starts_with(&format!("{step}:")))?;
    line.split("from its mart of ").nth(1).map(|d| d.trim_end_matches(')').to_string())
}

#[test]
fn marts_built_day_by_day_equal_the_full_history_s_and_a_late_file_rebuilds_from_the_last_true_day() {
    let dir = scratch();
    // Day by day as cron runs it, two files of the middle day held back.
    let ws = sample_copy(&dir.path().join("daily"));
    let held = |f: &str| dir.path().join(Path::new(f).file_name().unwrap());
    for f in LATE {
        std::fs::rename(ws.join(f), held(f)).unwrap();
    }
    ingest(&ws);
    for (i, day) in DAYS.iter().enumerate() {
        let stderr = run(&ws, day);
        let want = (i > 0).then(|| DAYS[i - 1].to_string());
        for step in [
            "stg_returnees_seen",
            "stg_returnees_latest",
            "stg_work_orders_as_of",
            "stg_special_visits",
            "stg_fire_places",
        ] {
            assert_eq!(built_from(&stderr, step), want, "{day} {step}: {stderr}");
        }
    }
    // The hotline's export arrives late: the work-order marts of the 9th and 10th no longer
    // describe the warehouse, the 8th's still does; the returnee and visit marts of the 9th do.
    let arrive = |f: &str| {
        std::fs::rename(held(f), ws.join(f)).unwrap();
        ingest(&ws);
        run(&ws, DAYS[2])
    };
    let stderr = arrive(LATE[1]);
    assert_eq!(built_from(&stderr, "stg_work_orders_as_of").as_deref(), Some(DAYS[0]), "{stderr}");
    for step in ["stg_returnees_seen", "stg_returnees_latest", "stg_special_visits", "stg_fire_places"] {
        assert_eq!(built_from(&stderr, step).as_deref(), Some(DAYS[1]), "{step}: {stderr}");
    }
    // Then the community's workbook (returnees and visits among its sheets): every step
    // builds on the 8th.
    let stderr = arrive(LATE[0]);
    for step in ["stg_returnees_seen", "stg_returnees_latest", "stg_work_orders_as_of", "stg_special_visits"] {
        assert_eq!(built_from(&stderr, step).as_deref(), Some(DAYS[0]), "{step}: {stderr}");
    }

    // The same warehouse without any state: every step from its full SQL, the same bytes.
    let full = dir.path().join("full");
    copy_dir(&ws, &full);
    std::fs::remove_dir_all(full.join("warehouse/_state")).unwrap();
    let stderr = run(&full, DAYS[2]);
    assert_eq!(built_from(&stderr, "stg_returnees_latest"), None, "{stderr}");
    let expected = marts_of(&full, DAYS[2]);
    assert!(expected.keys().any(|p| p.starts_with("stg_work_orders_as_of")), "{:?}", expected.keys());
    let got = marts_of(&ws, DAYS[2]);
    assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (path, bytes) in &got {
        assert!(bytes == &expected[path], "{} differs from the full run's", path.display());
    }

    // A mart changed behind the run's back (not as the state recorded it) is not built on.
    let day9 = ws.join("warehouse/marts/stg_work_orders_as_of/report_date=2022-05-09/part-0.parquet");
    let run9 = run(&ws, DAYS[1]);
    assert_eq!(built_from(&run9, "stg_work_orders_as_of").as_deref(), Some(DAYS[0]), "{run9}");
    std::fs::copy(ws.join("warehouse/marts/stg_work_orders_as_of/report_date=2022-05-08/part-0.parquet"), &day9)
        .unwrap();
    let stderr = run(&ws, DAYS[2]);
    assert_eq!(built_from(&stderr, "stg_work_orders_as_of").as_deref(), Some(DAYS[0]), "{stderr}");
    // (The other marts of the 10th now differ from `full`'s: the 9th's were run again with the
    // late file, and the headline compares with the day before.)
    for (path, bytes) in marts_of(&ws, DAYS[2]) {
        if path.starts_with("stg_work_orders_as_of") || path.starts_with("work_orders_overdue_list") {
            assert!(bytes == expected[&path], "{} differs after a tampered mart", path.display());
        }
    }
}

/// `stg_fire_places` carries each place's latest check of a window of days (92 in the sample's
/// pipeline), and its incremental SQL drops the places whose check left the window. The
/// sample's three days never leave 92, so the window is made one day long here (the SQL does
/// not depend on its length): built day by day, places leave the mart, and each day's mart
/// equals the one its full SQL makes, byte for byte.
#[test]
fn fire_places_whose_check_left_the_window_leave_the_incremental_mart_as_the_full_sql_says() {
    let dir = scratch();
    let ws = sample_copy(&dir.path().join("daily"));
    let sql = ws.join("pipelines/daily/sql");
    for file in [sql.join("stg_fire_safety.sql"), sql.join("incremental/stg_fire_places.sql")] {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("$report_date - 92"), "{}", file.display());
        std::fs::write(&file, text.replace("$report_date - 92", "$report_date - 1")).unwrap();
    }
    ingest(&ws);
    for (i, day) in DAYS.iter().enumerate() {
        let stderr = run(&ws, day);
        assert_eq!(built_from(&stderr, "stg_fire_places"), (i > 0).then(|| DAYS[i - 1].to_string()), "{stderr}");
    }
    // Places checked on the 8th only have left by the 10th.
    let left = count(
        &ws,
        "SELECT count(*) FROM (SELECT DISTINCT grid_code, address FROM fire_safety WHERE report_date = DATE '2022-05-08' \
         EXCEPT SELECT DISTINCT grid_code, address FROM fire_safety WHERE report_date > DATE '2022-05-08')",
    );
    assert!(left > 0, "no place checked on the 8th alone: the window is never left");
    let kept_from_the_8th = format!(
        "SELECT count(*) FROM stg_fire_places WHERE report_date = DATE '{0}' AND reported_on < DATE '{0}' - 1",
        DAYS[2]
    );
    assert_eq!(count(&ws, &kept_from_the_8th), 0);

    let full = dir.path().join("full");
    copy_dir(&ws, &full);
    std::fs::remove_dir_all(full.join("warehouse/_state")).unwrap();
    let stderr = run(&full, DAYS[2]);
    assert_eq!(built_from(&stderr, "stg_fire_places"), None, "{stderr}");
    let mart = |ws: &Path| {
        let fire_places = |(path, _): &(PathBuf, Vec<u8>)| path.starts_with("stg_fire_places");
        marts_of(ws, DAYS[2]).into_iter().filter(fire_places).collect::<Vec<_>>()
    };
    let incremental = mart(&ws);
    assert_eq!(incremental.len(), 1, "{:?}", incremental.iter().map(|m| &m.0).collect::<Vec<_>>());
    assert!(incremental == mart(&full), "the 10th's stg_fire_places differs from its full SQL's");
}

/// The one number a `SELECT count(*) …` gives.
fn count(ws: &Path, sql: &str) -> u64 {
    let csv = query_csv(ws, sql);
    csv.lines().nth(1).and_then(|l| l.parse().ok()).unwrap_or_else(|| panic!("{sql}: {csv}"))
}

/// A month of the generated district in which two communities list again returnees they
/// registered on the 11th: one on the 20th (inside the `new_window_days` window: not new
/// again) and one on the 27th (after it: new again, a second trip). By the 26th the latter have
/// left the returnees still current (`stg_returnees_latest`, which stays the size of the
/// window, not of the history), so the 27th's mart, built on the 26th's, must tell they are
/// new from their absence alone; `stg_returnees_seen` still counts them once in 累计. Built
/// across gaps of days as a cron that missed some would, every returnee mart equals the full
/// history's, byte for byte.
#[test]
fn returnees_who_left_the_current_list_and_came_back_are_new_again_as_the_full_history_says() {
    let dir = scratch();
    let ws = dir.path().join("month");
    let w = ws.to_str().unwrap();
    wangge_expect(&["demo-data", w, "--days", "30", "--end-date", "2021-06-09"], 0);
    // The workbooks of the 11th, listed again: each takes the place of the community's own
    // workbook of that day, its title dated that day (the title says which day a sheet is).
    let script = r#"
import openpyxl, sys
inbox = sys.argv[1]
for community, day in (("三女河社区", 27), ("建华社区", 20)):
    wb = openpyxl.load_workbook(f"{inbox}/2021-05-11/5月11日 {community} 来返登记.xlsx")
    sheet = wb["来返登记"]
    assert "（5月11日）" in sheet["A1"].value, sheet["A1"].value
    sheet["A1"].value = sheet["A1"].value.replace("（5月11日）", f"（5月{day}日）")
    wb.save(f"{inbox}/2021-05-{day}/5月{day}日 {community} 来返登记.xlsx")
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, ws.join("inbox").to_str().unwrap()])
        .output()
        .expect("python3 with openpyxl (installed by .ci/run)");
    assert!(out.status.success(), "{}", text(&out.stderr));
    wangge_expect(&["--workspace", w, "ingest", "--date", "2021-06-09", "--brief"], 0);
    let listed_on_11th = "SELECT person_key FROM returnees WHERE report_date = DATE '2021-05-11'";
    let again = |day: &str| {
        count(
            &ws,
            &format!(
                "SELECT count(DISTINCT person_key) FROM returnees \
                 WHERE report_date = DATE '{day}' AND person_key IN ({listed_on_11th})"
            ),
        )
    };
    let (again_20th, again_27th) = (again("2021-05-20"), again("2021-05-27"));
    assert!(again_20th > 0 && again_27th > 0, "listed again: {again_20th} on the 20th, {again_27th} on the 27th");

    let days = ["2021-05-20", "2021-05-26", "2021-05-27", "2021-06-09"];
    for (i, day) in days.iter().enumerate() {
        let stderr = run(&ws, day);
        let want = (i > 0).then(|| days[i - 1].to_string());
        for step in ["stg_returnees_seen", "stg_returnees_latest"] {
            assert_eq!(built_from(&stderr, step), want, "{day} {step}: {stderr}");
        }
    }
    let mart = |step: &str, day: &str, filter: &str| {
        count(&ws, &format!("SELECT count(*) FROM {step} WHERE report_date = DATE '{day}' AND {filter}"))
    };
    // The 26th: the 27th's returnees of the 11th are no longer current, and still seen.
    let of_27th_again = format!(
        "person_key IN ({listed_on_11th}) AND person_key IN \
         (SELECT person_key FROM returnees WHERE report_date = DATE '2021-05-27')"
    );
    assert!(mart("stg_returnees_latest", "2021-05-26", &of_27th_again) < again_27th, "some left the current list");
    assert_eq!(mart("stg_returnees_seen", "2021-05-26", &of_27th_again), again_27th);
    // New again on the 27th; not on the 20th, six days after the 11th.
    let new_on = |day: &str| {
        format!("registered_on = DATE '{day}' AND new_on_registration AND person_key IN ({listed_on_11th})")
    };
    assert_eq!(mart("stg_returnees_latest", "2021-05-27", &new_on("2021-05-27")), again_27th);
    assert_eq!(mart("stg_returnees_latest", "2021-05-20", &new_on("2021-05-20")), 0);
    // 累计 counts every person once, whatever became of them; the current list is smaller.
    for day in days {
        let people =
            count(&ws, &format!("SELECT count(DISTINCT person_key) FROM returnees WHERE report_date <= DATE '{day}'"));
        assert_eq!(mart("stg_returnees_seen", day, "true"), people, "{day}");
        let cumulative =
            count(&ws, &format!("SELECT sum(returnees_cumulative) FROM daily_grid WHERE report_date = DATE '{day}'"));
        assert_eq!(cumulative, people, "{day}: 累计 of the grids");
    }
    assert!(mart("stg_returnees_latest", "2021-06-09", "true") < mart("stg_returnees_seen", "2021-06-09", "true"));

    // The same warehouse without state: each date's marts from the full history.
    let full = dir.path().join("full");
    copy_dir(&ws, &full);
    for day in ["2021-06-09", "2021-05-27"] {
        std::fs::remove_dir_all(full.join("warehouse/_state")).unwrap();
        let stderr = run(&full, day);
        assert_eq!(built_from(&stderr, "stg_returnees_latest"), None, "{stderr}");
        let (got, expected) = (marts_of(&ws, day), marts_of(&full, day));
        assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
        for (path, bytes) in &got {
            assert!(bytes == &expected[path], "{day}: {} differs from the full run's", path.display());
        }
    }
}

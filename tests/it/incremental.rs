//! Incremental steps (`incremental = true`: stg_returnees_latest, stg_work_orders_as_of,
//! stg_special_visits): a day's mart built from the day before's and the
//! rows reported since equals, byte for byte, the mart the full SQL makes from the whole
//! history; a late file for an earlier day makes the next run build from the last mart still
//! true to the warehouse, and the bytes are still those of a full run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{scratch, text, wangge};
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
        for step in ["stg_returnees_latest", "stg_work_orders_as_of", "stg_special_visits"] {
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
    for step in ["stg_returnees_latest", "stg_special_visits"] {
        assert_eq!(built_from(&stderr, step).as_deref(), Some(DAYS[1]), "{step}: {stderr}");
    }
    // Then the community's workbook (returnees and visits among its sheets): every step
    // builds on the 8th.
    let stderr = arrive(LATE[0]);
    for step in ["stg_returnees_latest", "stg_work_orders_as_of", "stg_special_visits"] {
        assert_eq!(built_from(&stderr, step).as_deref(), Some(DAYS[0]), "{step}: {stderr}");
    }

    // The same warehouse without any state: every step from its full SQL, the same bytes.
    let full = dir.path().join("full");
    assert!(std::process::Command::new("cp").arg("-a").arg(&ws).arg(&full).status().unwrap().success());
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

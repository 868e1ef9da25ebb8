//! Ingest reproduces `truth.json` on the sample district: per file and sheet, the same status,
//! form, report date, header rows and counts; row by row, the same rejects (reason, column,
//! the row kept for a duplicate), skips and warnings; and the same daily figures per grid.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::{Value as Json, json};
use wangge::config::forms::load_forms;
use wangge::ingest::rows::Value;
use wangge::ingest::{self, IngestOutcome, IngestRequest};
use wangge::normalize::grid::Registry;
use wangge::normalize::text::column_letter as letter;

use crate::common::{repo, truth};

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() { out.extend(files_under(&p)) } else { out.push(p) }
    }
    out.sort();
    out
}

/// Ingests every file of a sample's inbox in one call, with `run_date` as the run's date.
pub fn ingest_sample(sample: &Path, run_date: NaiveDate) -> IngestOutcome {
    let forms = load_forms(&sample.join("pipelines/forms")).unwrap();
    let inbox = sample.join("inbox");
    let mut outcome = ingest::ingest(IngestRequest {
        inbox: &inbox,
        files: files_under(&inbox),
        forms: &forms,
        run_date,
        registry: Registry::default(),
        threads: 2,
        key: b"test key",
        stream_from_bytes: u64::MAX,
        limits: wangge::ingest::limits::Limits::default(),
    });
    ingest::dedup::deduplicate(&mut outcome, &forms, &Default::default());
    outcome
}

/// The parts of truth.json that ingest must reproduce, built from an ingest outcome.
fn as_truth(outcome: &IngestOutcome) -> (Json, BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>) {
    let mut files = Vec::new();
    let mut daily: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>> = BTreeMap::new();
    let mut orders: BTreeMap<String, (String, Option<NaiveDate>, Option<NaiveDate>)> = BTreeMap::new();
    for file in &outcome.files {
        assert!(file.error.is_none(), "{}: {:?}", file.path, file.error);
        let mut sheets = Vec::new();
        for s in &file.sheets {
            let read = s.status.code() == "read";
            sheets.push(json!({
                "name": s.name,
                "status": s.status.code(),
                "form": s.form,
                "report_date": if read { Some(s.report_date.to_string()) } else { None },
                "header_rows": s.header_rows,
                "rows_read": if read { s.counts.rows_read } else { 0 },
                "accepted": s.counts.accepted,
                "rejected": s.counts.rejected,
                "skipped": s.counts.skipped,
                "warnings": s.counts.warnings,
                "rejects": s.rejects.iter().map(|r| json!({
                    "row": r.row, "column": letter(r.column), "reason": r.reason,
                    "kept": r.kept.as_ref().map(|k| json!({"file": k.file, "sheet": k.sheet, "row": k.row})),
                })).collect::<Vec<_>>(),
                "skips": s.skips.iter().map(|(row, reason)| json!({"row": row, "reason": reason.code()})).collect::<Vec<_>>(),
                "warning_rows": s.warnings.iter().map(|w| json!({"row": w.row, "column": letter(w.column), "code": w.code})).collect::<Vec<_>>(),
            }));
            let Some(form) = s.form.as_deref() else { continue };
            for (_, record) in &s.records {
                let grid = record
                    .values
                    .iter()
                    .find_map(|v| if let Value::Grid(g) = v { Some(g.grid_code.clone()) } else { None });
                if matches!(form, "returnees" | "followups" | "visits" | "fire_safety" | "testing" | "patrols") {
                    *daily
                        .entry(s.report_date.to_string())
                        .or_default()
                        .entry(grid.unwrap())
                        .or_default()
                        .entry(form.into())
                        .or_default() += 1;
                } else if form == "work_orders" {
                    let text =
                        |i: usize| if let Value::Text(t) = &record.values[i] { t.clone() } else { String::new() };
                    let date =
                        |i: usize| if let Value::DateTime(t) = &record.values[i] { Some(t.date()) } else { None };
                    // Latest wins: files are in date order.
                    // An order of no known grid is kept with none (未定网格), as truth.json has it.
                    orders.insert(text(0), (grid.unwrap_or_default(), date(2), date(15)));
                }
            }
        }
        files.push(json!({"path": file.path, "sheets": sheets}));
    }
    for (grid, received, closed) in orders.values() {
        for (date, figure) in [(received, "work_orders_received"), (closed, "work_orders_closed")] {
            if let Some(d) = date {
                *daily
                    .entry(d.to_string())
                    .or_default()
                    .entry(grid.clone())
                    .or_default()
                    .entry(figure.into())
                    .or_default() += 1;
            }
        }
    }
    (Json::Array(files), daily)
}

/// truth.json reduced to the same shape.
fn expected(t: &Json) -> Json {
    let files = t["files"].as_array().unwrap().iter().map(|f| {
        let sheets = f["sheets"].as_array().unwrap().iter().map(|s| {
            let read = s["status"] == "read";
            json!({
                "name": s["name"], "status": s["status"], "form": s.get("form").cloned().unwrap_or(Json::Null),
                "report_date": if read { f["report_date"].clone() } else { Json::Null },
                "header_rows": s["header_rows"], "rows_read": s["rows_read"], "accepted": s["accepted"],
                "rejected": s["rejected"], "skipped": s["skipped"], "warnings": s["warnings"],
                "rejects": s["rejects"].as_array().unwrap().iter().map(|r| json!({
                    "row": r["row"], "column": r["column"], "reason": r["reason"], "kept": r.get("kept").cloned().unwrap_or(Json::Null),
                })).collect::<Vec<_>>(),
                "skips": s["skips"], "warning_rows": s["warning_rows"],
            })
        }).collect::<Vec<_>>();
        (f["path"].as_str().unwrap().to_string(), json!({"path": f["path"], "sheets": sheets}))
    });
    let by_path: BTreeMap<String, Json> = files.collect();
    Json::Array(by_path.into_values().collect())
}

#[test]
fn ingest_reproduces_truth_json_on_the_sample_district() {
    let sample = repo().join("sample-data");
    let outcome = ingest_sample(&sample, NaiveDate::from_ymd_opt(2022, 5, 10).unwrap());
    check_against_truth(&outcome, &truth(&sample), 3);
}

/// A month of backlog ingested in one call, years after (as an officer catching up would, with
/// no `--date`): every sheet gets the report date its folder and names give, not one in the
/// run's year, and every row the fate truth.json gives it, as day by day. The call goes through
/// the workspace's runner, which takes the 1,230 files in batches, each written to the
/// warehouse before the next is read: duplicates are judged across batches through it.
#[test]
fn a_month_of_backlog_in_one_call_reproduces_truth_json() {
    let dir = crate::common::scratch();
    let sample = dir.path().join("month");
    crate::common::wangge_expect(
        &["demo-data", sample.to_str().unwrap(), "--days", "30", "--end-date", "2021-06-09"],
        0,
    );
    let ws = wangge::config::Workspace::load(&sample).unwrap();
    let report = wangge::runner::ingest(&ws, NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(), &[], 2).unwrap();
    assert!(report.batches > 1, "a month is more than one batch: {}", report.batches);
    check_against_truth(&report.outcome, &truth(&sample), 30);
}

/// The same backlog ingested in one call and day by day, each day's folder on its own as the
/// daily job would, leaves byte-identical warehouses and 退回修改 workbooks. The eight days
/// cross a new year: day by day, December is the open month until January's files arrive, then
/// 2021 closes into one part; in one call it is that part from the start.
#[test]
fn a_backlog_in_one_call_writes_what_day_by_day_writes() {
    let dir = crate::common::scratch();
    let (batched, daily) = (dir.path().join("batched"), dir.path().join("daily"));
    for ws in [&batched, &daily] {
        crate::common::wangge_expect(
            &["demo-data", ws.to_str().unwrap(), "--days", "8", "--end-date", "2022-01-03"],
            0,
        );
    }
    let run = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    let report =
        wangge::runner::ingest_each(&wangge::config::Workspace::load(&batched).unwrap(), run, &[], 2, &mut |_| {})
            .unwrap();
    assert!(report.batches > 1, "eight days of 41 files are more than one batch");
    let ws = wangge::config::Workspace::load(&daily).unwrap();
    let mut days: Vec<PathBuf> = std::fs::read_dir(daily.join("inbox")).unwrap().flatten().map(|e| e.path()).collect();
    days.sort();
    // The registry is not in a dated folder: it comes with the first day.
    let registry = days.pop().unwrap();
    assert!(registry.ends_with("台账"), "{registry:?}");
    for (i, day) in days.iter().enumerate() {
        let paths = if i == 0 { vec![registry.clone(), day.clone()] } else { vec![day.clone()] };
        wangge::runner::ingest_each(&ws, run, &paths, 2, &mut |_| {}).unwrap();
    }
    for sub in ["warehouse", "reports"] {
        let (a, b) = (crate::common::tree(&batched.join(sub)), crate::common::tree(&daily.join(sub)));
        assert_eq!(a, b, "{sub}: the same files");
        let least = if sub == "warehouse" { 10 } else { 100 };
        assert!(a.len() > least, "{sub}: {} files", a.len());
        if sub == "warehouse" {
            assert_tiers(&batched.join(sub), "2022-01");
        }
        for file in a.iter().filter(|f| batched.join(sub).join(f).is_file()) {
            assert!(
                std::fs::read(batched.join(sub).join(file)).unwrap()
                    == std::fs::read(daily.join(sub).join(file)).unwrap(),
                "{sub}/{}: differs",
                file.display()
            );
        }
    }
}

/// Each table's year folder holds one file: the open month's part (`open`) in its year, one
/// part of a past year's months, or the open part of a table that had no rows since.
fn assert_tiers(warehouse: &std::path::Path, open: &str) {
    let mut years = 0;
    for table in std::fs::read_dir(warehouse).unwrap().flatten().filter(|e| e.path().is_dir()) {
        if table.file_name() == "marts" {
            continue;
        }
        let mut latest = true;
        let mut folders: Vec<PathBuf> = std::fs::read_dir(table.path()).unwrap().flatten().map(|e| e.path()).collect();
        folders.sort();
        for folder in folders.iter().rev() {
            let name = folder.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.starts_with("report_year="), "{}: not a year folder", folder.display());
            let files: Vec<String> = std::fs::read_dir(folder)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(files.len(), 1, "{}: {files:?}", folder.display());
            let kind = wangge::warehouse::tiers::kind(&files[0]);
            if latest {
                assert!(matches!(kind, wangge::warehouse::tiers::Kind::Open(_)), "{}: {files:?}", folder.display());
            } else {
                assert_eq!(kind, wangge::warehouse::tiers::Kind::Year, "{}: a closed year", folder.display());
                years += 1;
            }
            latest = false;
        }
        if folders.len() == 2 {
            let files = std::fs::read_dir(&folders[1]).unwrap().flatten().next().unwrap().file_name();
            assert!(files.to_string_lossy().starts_with(&format!("part-{open}-")), "{files:?}");
        }
    }
    assert!(years >= 5, "the tables with rows in both years: {years}");
}

/// Every file, sheet and row of `outcome` has the fate `t` (truth.json) gives it, and the
/// daily figures per grid of its `days` days are the truth's.
pub fn check_against_truth(outcome: &IngestOutcome, t: &Json, days: usize) {
    let (got, daily) = as_truth(outcome);
    let want = expected(t);
    let (got, want) = (got.as_array().unwrap(), want.as_array().unwrap());
    assert_eq!(got.len(), want.len(), "number of files");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g["path"], w["path"]);
        assert_eq!(
            g["sheets"].as_array().unwrap().len(),
            w["sheets"].as_array().unwrap().len(),
            "{}: sheets",
            g["path"]
        );
        for (gs, ws) in g["sheets"].as_array().unwrap().iter().zip(w["sheets"].as_array().unwrap()) {
            for key in [
                "name",
                "status",
                "form",
                "report_date",
                "header_rows",
                "rows_read",
                "accepted",
                "rejected",
                "skipped",
                "warnings",
                "skips",
                "rejects",
                "warning_rows",
            ] {
                assert_eq!(gs[key], ws[key], "{} [{}]: `{key}` differs", g["path"], gs["name"]);
            }
        }
    }
    // rows read = accepted + rejected + skipped, for every sheet.
    for file in &outcome.files {
        for s in &file.sheets {
            let c = &s.counts;
            let read = if s.status.code() == "read" { c.rows_read } else { 0 };
            assert_eq!(read, c.accepted + c.rejected_total() + c.skipped_total(), "{} [{}]", file.path, s.name);
        }
    }
    let want_daily: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>> =
        serde_json::from_value(t["daily"].clone()).unwrap();
    assert!(
        want_daily.len() == days && want_daily.values().all(|grids| grids.len() > 700),
        "truth has figures for {days} days"
    );
    assert_eq!(daily, want_daily, "daily figures per grid");
}

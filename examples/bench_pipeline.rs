//! Pipeline benchmark: the bundled `daily` pipeline over 10 and 30 days of the sample district,
//! beside DuckDB running the same SQL files on the same Parquet; and ingesting the last day's
//! files into a warehouse already holding the days before (the cron job's ingest as history
//! grows). Prints figures and writes its sections of BENCHMARKS.md. Not a test.
//!
//!     cargo run --example bench_pipeline
//!
//! Each measurement runs in a fresh process (best of three); peak memory is the process's
//! VmHWM for wangge, and ru_maxrss of the Python process for DuckDB (which includes Python).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::NaiveDate;

const END: &str = "2022-05-10";
/// The steps DuckDB runs: every SQL file of the pipeline but `trend` (DataFusion's
/// `generate_series` column is `value`, DuckDB's is `generate_series`) and the generated
/// completeness step.
const DUCKDB_STEPS: &[&str] = &[
    "stg_registry:mart",
    "stg_work_orders:mart",
    "stg_work_orders_as_of:mart",
    "stg_returnee_days",
    "stg_returnees_seen:mart",
    "stg_returnees_latest:mart",
    "stg_returnees_grid",
    "stg_followups_people:mart",
    "stg_followups_grid",
    "stg_visits_grid",
    "stg_work_orders_grid",
    "stg_special_visits:mart",
    "special_overdue:mart",
    "daily_grid:mart",
    "daily_community:mart",
    "daily_town:mart",
    "daily_county:mart",
    "daily_district:mart",
    "work_orders_breakdown:mart",
    "idle_workers:mart",
    "ranking_grid:mart",
    "followups_exceptions:mart",
    "work_orders_overdue_list:mart",
    "grids_without_visits:mart",
    "headline:mart",
    "stg_fire_safety",
    "stg_fire_places:mart",
    "fire_safety_grid:mart",
    "fire_safety_community:mart",
    "fire_hazards_open:mart",
    "stg_testing",
    "testing_buildings:mart",
    "testing_community:mart",
    "patrols_team:mart",
    "patrol_findings:mart",
];

#[path = "common/mod.rs"]
mod common;
use common::peak_rss_mib;

fn child(ws: &Path) {
    let workspace = wangge::config::Workspace::load(ws).expect("workspace");
    let start = Instant::now();
    let outcome =
        wangge::runner::run_pipeline(&workspace, "daily", NaiveDate::parse_from_str(END, "%Y-%m-%d").unwrap()).unwrap();
    let rows: usize = outcome.materialised.iter().map(|(_, n, _)| n).sum();
    println!("{} {} {}", start.elapsed().as_secs_f64(), rows, peak_rss_mib());
}

/// Ingests the last day's folder, as `wangge ingest --date END inbox/END` does.
fn child_ingest(ws: &Path) {
    let workspace = wangge::config::Workspace::load(ws).expect("workspace");
    let start = Instant::now();
    let date = NaiveDate::parse_from_str(END, "%Y-%m-%d").unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let report = wangge::runner::ingest(&workspace, date, &[workspace.inbox().join(END)], threads).unwrap();
    let rows: u64 = report.outcome.files.iter().flat_map(|f| f.sheets.iter()).map(|s| s.counts.rows_read).sum();
    println!("{} {} {}", start.elapsed().as_secs_f64(), rows, peak_rss_mib());
}

/// The last day's ingest over `days - 1` days already in the warehouse: best of three, each
/// on a fresh copy of the workspace as it was before that day.
fn ingest_over_history(root: &Path, bin: &Path, days: usize) -> (f64, f64, f64) {
    let before = root.join(format!("before-last-day-{days}"));
    if !before.join("warehouse/ingest_files").exists() {
        let _ = std::fs::remove_dir_all(&before);
        run(Command::new(bin).args([
            "demo-data",
            before.to_str().unwrap(),
            "--days",
            &days.to_string(),
            "--end-date",
            END,
        ]));
        let earlier: Vec<PathBuf> = std::fs::read_dir(before.join("inbox"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| !p.ends_with(END))
            .collect();
        run(Command::new(bin)
            .args(["--workspace", before.to_str().unwrap(), "ingest", "--date", END, "--brief"])
            .args(&earlier));
    }
    let mut best = (f64::MAX, 0.0, 0.0);
    for i in 0..3 {
        let copy = root.join(format!("scratch-ingest-{days}-{}-{i}", std::process::id()));
        run(Command::new("cp").arg("-r").arg(&before).arg(&copy));
        let out = Command::new(std::env::current_exe().unwrap()).arg("--child-ingest").arg(&copy).output().unwrap();
        let v: Vec<f64> =
            String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|x| x.parse().ok()).collect();
        assert_eq!(v.len(), 3, "child failed: {}", String::from_utf8_lossy(&out.stderr));
        if v[0] < best.0 {
            best = (v[0], v[1], v[2]);
        }
    }
    best
}

fn best_of_three(mut run: impl FnMut() -> (f64, f64)) -> (f64, f64) {
    (0..3).map(|_| run()).fold((f64::MAX, 0.0), |best, m| if m.0 < best.0 { m } else { best })
}

fn ours(ws: &Path) -> (f64, f64) {
    best_of_three(|| {
        let out = Command::new(std::env::current_exe().unwrap()).arg("--child").arg(ws).output().unwrap();
        let v: Vec<f64> =
            String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|x| x.parse().ok()).collect();
        assert_eq!(v.len(), 3, "child failed: {}", String::from_utf8_lossy(&out.stderr));
        (v[0], v[2])
    })
}

fn duckdb(ws: &Path) -> (f64, f64) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/bench_pipeline_duckdb.py");
    best_of_three(|| {
        let out = Command::new("python3")
            .arg(&script)
            .arg(ws.join("warehouse"))
            .arg(ws.join("pipelines/daily"))
            .arg(END)
            .args(DUCKDB_STEPS)
            .output()
            .unwrap();
        assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (v["seconds"].as_f64().unwrap(), v["peak_mib"].as_f64().unwrap())
    })
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn main() {
    wangge::configure_allocator();
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "--child" {
        return child(Path::new(&args[2]));
    }
    if args.len() == 3 && args[1] == "--child-ingest" {
        return child_ingest(Path::new(&args[2]));
    }
    let root = std::env::temp_dir().join("wangge-bench-pipeline");
    let bin = common::wangge_bin();
    let mut rows = Vec::new();
    for days in [10, 30] {
        let ws = root.join(format!("days-{days}"));
        if !ws.join("warehouse/ingest_files").exists() {
            let _ = std::fs::remove_dir_all(&ws);
            run(Command::new(&bin).args([
                "demo-data",
                ws.to_str().unwrap(),
                "--days",
                &days.to_string(),
                "--end-date",
                END,
            ]));
            run(Command::new(&bin).args(["--workspace", ws.to_str().unwrap(), "ingest", "--date", END, "--brief"]));
        }
        common::with_current_pipelines(&ws);
        let (t, m) = ours(&ws);
        let (dt, dm) = duckdb(&ws);
        let line = format!("| {days} days | {t:.2} s | {m:.0} MiB | {dt:.2} s | {dm:.0} MiB | {:.2}× |", t / dt);
        println!("{line}");
        rows.push(line);
    }
    let section = format!(
        "## Daily pipeline\n\n`cargo run --example bench_pipeline`: `wangge run daily --date {END}` (all 36 steps, 28 marts \
written to Parquet, 49 checks) over the sample district generated for 10 and 30 days, beside DuckDB running the \
same SQL files (all but `trend` and the generated completeness step, as in-memory tables) on the same Parquet. \
Best of three, each in a fresh process; DuckDB's time excludes Python's start-up, its memory includes Python.\n\n\
| input | wangge (DataFusion) | peak | DuckDB | peak | ratio |\n|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    common::write_section("## Daily pipeline", &section);

    let mut lines = Vec::new();
    for days in [10, 30] {
        let (t, rows, m) = ingest_over_history(&root, &bin, days);
        let line = format!("| {} days | {rows:.0} | {t:.2} s | {m:.0} MiB |", days - 1);
        println!("{line}");
        lines.push(line);
    }
    // The scratch copies go after measuring: deleting thousands of files just before creating
    // others slows file creation on some file systems (see bench_reports).
    for e in std::fs::read_dir(&root).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("scratch-ingest-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let section = format!(
        "## Ingest over a growing history\n\n`cargo run --example bench_pipeline` also ingests the last day's 41 files \
of the sample district ({END}) into a warehouse that already holds the days before it, as the daily job does: \
what is already ingested comes from the ledger's file names, and only the run's report dates are read for \
duplicates and corrections, so the time should not grow with the history. Best of \
three, each in a fresh process on a fresh copy.\n\n| history in the warehouse | rows read | ingest | peak |\n\
|---|---|---|---|\n{}\n",
        lines.join("\n")
    );
    print!("{section}");
    common::write_section("## Ingest over a growing history", &section);
}

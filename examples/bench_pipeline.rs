//! Pipeline benchmark: the bundled `daily` pipeline over 10 and 30 days of the sample district,
//! beside DuckDB running the same SQL files on the same Parquet. Prints figures and appends them
//! to BENCHMARKS.md (replacing an earlier pipeline section). Not a test.
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
    "stg_registry",
    "stg_work_orders",
    "stg_work_orders_as_of",
    "stg_returnees_latest:mart",
    "stg_returnees_grid",
    "stg_followups_grid",
    "stg_visits_grid",
    "stg_work_orders_grid",
    "daily_grid:mart",
    "daily_community:mart",
    "daily_town:mart",
    "work_orders_breakdown:mart",
    "special_overdue:mart",
    "idle_workers:mart",
    "ranking_grid:mart",
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
    let root = std::env::temp_dir().join("wangge-bench-pipeline");
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/debug/wangge");
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
        // The pipeline files of this checkout, not those the workspace was made with.
        let _ = std::fs::remove_dir_all(ws.join("pipelines/daily"));
        run(Command::new("cp")
            .arg("-r")
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pipelines/daily"))
            .arg(ws.join("pipelines/")));
        let (t, m) = ours(&ws);
        let (dt, dm) = duckdb(&ws);
        let line = format!("| {days} days | {t:.2} s | {m:.0} MiB | {dt:.2} s | {dm:.0} MiB | {:.2}× |", t / dt);
        println!("{line}");
        rows.push(line);
    }
    let section = format!(
        "## Daily pipeline\n\n`cargo run --example bench_pipeline`: `wangge run daily --date {END}` (all 18 steps, 11 marts \
written to Parquet, 18 checks) over the sample district generated for 10 and 30 days, beside DuckDB running the \
same SQL files (all but `trend` and the generated completeness step, as in-memory tables) on the same Parquet. \
Best of three, each in a fresh process; DuckDB's time excludes Python's start-up, its memory includes Python.\n\n\
| input | wangge (DataFusion) | peak | DuckDB | peak | ratio |\n|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    common::write_section("## Daily pipeline", &section);
}

//! Report benchmark: the time and peak memory to render every report of one day of the sample
//! district (1 district, 4 town and 784 grid reports, Excel and HTML), beside the time to ingest
//! that day's files; and the whole daily job (`wangge daily`: ingest, pipeline, reports, .eml
//! delivery, manifest) from an empty warehouse and again with nothing new. Prints figures and
//! writes its sections of BENCHMARKS.md. Not a test.
//!
//!     cargo run --example bench_reports

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::NaiveDate;

const DATE: &str = "2022-05-10";

#[path = "common/mod.rs"]
mod common;
use common::{peak_rss_mib, write_section};

fn child(mode: &str, ws: &Path) {
    let workspace = wangge::config::Workspace::load(ws).expect("workspace");
    let date = NaiveDate::parse_from_str(DATE, "%Y-%m-%d").unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let start = Instant::now();
    let count = match mode {
        "daily" => {
            let options = wangge::runner::daily::Options {
                date,
                resend: wangge::deliver::Resend::None,
                threads,
                run_id: "bench",
                started: wangge::clock::now(),
            };
            let m = wangge::runner::daily::daily(&workspace, &options, &mut |_| {});
            assert!(m.exit_status <= 1, "{:?}", m.error);
            m.deliveries.len()
        }
        "render" => wangge::runner::render_reports(&workspace, "daily", date, threads).unwrap().len(),
        _ => {
            let day = workspace.inbox().join(DATE);
            let report = wangge::runner::ingest(&workspace, date, &[day], threads).unwrap();
            report.outcome.files.len()
        }
    };
    println!("{} {} {}", start.elapsed().as_secs_f64(), count, peak_rss_mib());
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    let ok = Command::new("cp").arg("-r").arg(from).arg(to).status().unwrap().success();
    assert!(ok);
}

fn measure(mode: &str, base: &Path, scratch: &Path) -> (f64, usize, f64) {
    let mut best = (f64::MAX, 0, 0.0);
    for _ in 0..3 {
        copy_dir(base, scratch);
        let out = Command::new(std::env::current_exe().unwrap()).args(["--child", mode]).arg(scratch).output().unwrap();
        let v: Vec<f64> =
            String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|x| x.parse().ok()).collect();
        assert_eq!(v.len(), 3, "child {mode}: {}", String::from_utf8_lossy(&out.stderr));
        if v[0] < best.0 {
            best = (v[0], v[1] as usize, v[2]);
        }
    }
    best
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn main() {
    wangge::configure_allocator();
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "--child" {
        return child(&args[2], Path::new(&args[3]));
    }
    let root = std::env::temp_dir().join("wangge-bench-reports");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/debug/wangge");
    // For ingest: the registry and rosters in the warehouse, the day's files not yet.
    let before_day = root.join("before-day");
    run(Command::new(&bin).args(["demo-data", before_day.to_str().unwrap()]));
    run(Command::new(&bin)
        .args(["--workspace", before_day.to_str().unwrap(), "ingest", "--date", DATE, "--brief"])
        .arg(before_day.join("inbox/台账")));
    // For rendering: everything ingested and the pipeline run.
    let ready = root.join("ready");
    copy_dir(&before_day, &ready);
    run(Command::new(&bin).args(["--workspace", ready.to_str().unwrap(), "ingest", "--date", DATE, "--brief"]));
    run(Command::new(&bin).args(["--workspace", ready.to_str().unwrap(), "run", "daily", "--date", DATE]));
    // Rendering is measured from nothing on disk (an unchanged file is not rewritten); the
    // 退回修改 workbooks stay, as ingest wrote them.
    let day = ready.join("reports").join(DATE);
    for scope in ["district", "town", "grid"] {
        std::fs::remove_dir_all(day.join(scope)).unwrap();
    }
    std::fs::remove_file(day.join("index.html")).unwrap();

    // For the daily job: nothing ingested yet; and a workspace whose day has run.
    let fresh = root.join("fresh");
    run(Command::new(&bin).args(["demo-data", fresh.to_str().unwrap()]));
    let done = root.join("done");
    copy_dir(&fresh, &done);
    run(Command::new(&bin).args(["--workspace", done.to_str().unwrap(), "daily", "--date", DATE]));

    let ingest = measure("ingest", &before_day, &root.join("scratch-ingest"));
    let render = measure("render", &ready, &root.join("scratch-render"));
    let report = format!(
        "## Reports\n\n`cargo run --example bench_reports`: rendering every report of {DATE} on the sample district \
({} files: 789 workbooks, 789 HTML pages and the index) beside ingesting that day's {} files (the rosters already in \
the warehouse). Best of three, each in a fresh process.\n\n| | time | peak |\n|---|---|---|\n\
| render all reports of the day | {:.2} s | {:.0} MiB |\n| ingest the day's files | {:.2} s | {:.0} MiB |\n",
        render.1, ingest.1, render.0, render.2, ingest.0, ingest.2
    );
    print!("{report}");
    write_section("## Reports", &report);
    let first = measure("daily", &fresh, &root.join("scratch-daily"));
    let again = measure("daily", &done, &root.join("scratch-again"));
    let daily = format!(
        "## Daily job\n\n`cargo run --example bench_reports` also times `wangge daily --date {DATE}` on the sample \
district (the README's first command, in-process): ingest the 125 files, run the daily pipeline and its checks, \
render the 789 reports, write {} messages to the outbox and the run manifest; then the same again with nothing new \
(every file already ingested, every message already delivered). Best of three, each in a fresh process.\n\n\
| | time | peak |\n|---|---|---|\n| first run of the day | {:.2} s | {:.0} MiB |\n| re-run, nothing new | {:.2} s | {:.0} MiB |\n",
        first.1, first.0, first.2, again.0, again.2
    );
    print!("{daily}");
    write_section("## Daily job", &daily);
}

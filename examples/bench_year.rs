//! Year benchmark: the sample district generated for a year and brought in day by day, as cron
//! would: each morning that day's folder arrives in the inbox and is ingested. Then measures what
//! a year does to the warehouse: files and MiB per table, `wangge daily` on the 10th and on the
//! last day (seconds and peak memory, which should not grow with the history), and an
//! analyst's first three queries in DuckDB against the same queries on one Parquet file per
//! table (the floor). Prints figures and writes its section of BENCHMARKS.md. Not a test.
//!
//!     cargo run --example bench_year              # 366 days (about 15 minutes on 2 cores)
//!     cargo run --example bench_year -- 40        # a shorter history

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{Duration, NaiveDate};

#[path = "common/mod.rs"]
mod common;

use common::timed;

const END: &str = "2022-05-10";

/// Parquet files and bytes per table of the warehouse (marts apart).
fn files_per_table(warehouse: &Path) -> BTreeMap<String, (usize, u64)> {
    let mut tables = BTreeMap::new();
    for e in std::fs::read_dir(warehouse).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() && !name.starts_with('_') {
            let parquet: Vec<_> = common::files_under(&e.path())
                .into_iter()
                .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
                .collect();
            let bytes = parquet.iter().map(|p| std::fs::metadata(p).map_or(0, |m| m.len())).sum();
            tables.insert(name, (parquet.len(), bytes));
        }
    }
    tables
}

fn main() {
    let days: i64 = std::env::args().nth(1).map_or(366, |d| d.parse().expect("a number of days"));
    assert!(days >= 11, "at least 11 days, to compare the 10th with the last");
    let bin = common::wangge_bin();
    let root = std::env::temp_dir().join(format!("wangge-bench-year-{days}"));
    let generated = root.join("generated");
    if !generated.join("truth.json").exists() {
        let _ = std::fs::remove_dir_all(&root);
        let (s, _) = timed(Command::new(&bin).args([
            "demo-data",
            generated.to_str().unwrap(),
            "--days",
            &days.to_string(),
            "--end-date",
            END,
        ]));
        println!("generated {days} days in {s:.1} s");
    }
    // The office's workspace starts with the rosters only; each day's folder arrives that morning.
    let ws = root.join("ws");
    let _ = std::fs::remove_dir_all(&ws);
    std::fs::create_dir_all(ws.join("inbox")).unwrap();
    for entry in std::fs::read_dir(&generated).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !matches!(name.as_str(), "inbox" | "warehouse" | "reports" | "outbox" | "runs") {
            run(Command::new("cp").arg("-r").arg(entry.path()).arg(&ws));
        }
    }
    run(Command::new("cp").arg("-r").arg(generated.join("inbox/台账")).arg(ws.join("inbox/")));
    common::with_current_pipelines(&ws);
    let end = NaiveDate::parse_from_str(END, "%Y-%m-%d").unwrap();
    let first = end - Duration::days(days - 1);
    let w = ws.to_str().unwrap().to_string();
    let ws10 = root.join("ws-day10");
    let ws100 = root.join("ws-day100");
    let mut daily = Vec::new();
    let mut ingest_seconds = Vec::new();
    let mut ingest_peak = (String::new(), 0.0, 0.0);
    // Timed: the 10th day, the 100th (the 92-day windows of the fire-safety and visit steps
    // are full by then: what is left to grow is the history itself) and the last.
    let mut timed_days = vec![10, 100, days];
    timed_days.retain(|d| *d <= days);
    timed_days.dedup();
    let start = Instant::now();
    for i in 0..days {
        let day = (first + Duration::days(i)).to_string();
        run(Command::new("cp").arg("-r").arg(generated.join("inbox").join(&day)).arg(ws.join("inbox/")));
        if timed_days.contains(&(i + 2)) {
            // The morning before: as cron runs it every day, it leaves the marts that the next
            // morning's incremental steps build on.
            run(Command::new(&bin).args(["--workspace", &w, "daily", "--date", &day]));
        } else if timed_days.contains(&(i + 1)) {
            // The whole morning job: ingest, pipeline, reports, delivery (to .eml files).
            // Best of three (this VM's steal time moves a single run by a second): the first
            // ingests the day, the others find it ingested and redo the rest.
            let (s, m) = best_of_3(|| timed(Command::new(&bin).args(["--workspace", &w, "daily", "--date", &day])));
            println!("day {}: wangge daily {s:.2} s, peak {m:.0} MiB", i + 1);
            daily.push((i + 1, s, m));
            if i + 1 == 10 || i + 1 == 100 {
                // Kept to run the day again beside the last day at the end (see below).
                let copy = if i + 1 == 10 { &ws10 } else { &ws100 };
                let _ = std::fs::remove_dir_all(copy);
                run(Command::new("cp").arg("-a").arg(&ws).arg(copy));
            }
        } else {
            let mut cmd = Command::new(&bin);
            cmd.args(["--workspace", &w, "ingest", "--brief", "--date", &day]);
            if i == 0 {
                cmd.arg(ws.join("inbox/台账"));
            }
            cmd.arg(ws.join("inbox").join(&day));
            let (s, m) = timed(&mut cmd);
            ingest_seconds.push(s);
            // The slowest and largest days: a month's first, when the month before closes into
            // its year's part.
            if m > ingest_peak.1 {
                ingest_peak = (day.clone(), m, s);
            }
        }
    }
    let brought_in = start.elapsed().as_secs_f64();
    // Day 10, day 100 and the last day again, in turns, five times each: this VM's speed drifts
    // by up to 2× within the hour, so a day timed in the first minutes and one timed 15 minutes
    // later differ by the machine as much as by the history. In turns, the drift falls on all.
    let day10 = (first + Duration::days(9)).to_string();
    let day100 = (first + Duration::days(99)).to_string();
    let turns: Vec<(i64, PathBuf, String)> =
        vec![(10, ws10.clone(), day10), (100, ws100.clone(), day100), (days, ws.clone(), END.to_string())]
            .into_iter()
            .filter(|(_, w, _)| w.exists())
            .collect();
    let mut in_turns: Vec<Vec<(f64, f64)>> = vec![Vec::new(); turns.len()];
    for _ in 0..5 {
        for ((_, w, d), runs) in turns.iter().zip(in_turns.iter_mut()) {
            runs.push(timed(Command::new(&bin).args(["--workspace", w.to_str().unwrap(), "daily", "--date", d])));
        }
    }
    let median = |runs: &mut Vec<(f64, f64)>| {
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        runs[runs.len() / 2]
    };
    // Each day's stages (`durations_ms` of its five runs' manifests), medians: where a gap is.
    let stages = |w: &Path, d: &str| -> BTreeMap<String, u64> {
        let mut manifests: Vec<PathBuf> = std::fs::read_dir(w.join("runs").join(d))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        manifests.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        let mut by: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for m in manifests.iter().rev().take(5) {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(m).unwrap()).unwrap();
            for (k, ms) in v["durations_ms"].as_object().into_iter().flatten() {
                by.entry(k.clone()).or_default().push(ms.as_u64().unwrap_or(0));
            }
        }
        by.into_iter()
            .map(|(k, mut v)| {
                v.sort();
                (k, v[v.len() / 2])
            })
            .collect()
    };
    let mut turn_rows = Vec::new();
    let first_median = median(&mut in_turns[0].clone()).0;
    for ((day, w, d), runs) in turns.iter().zip(in_turns.iter_mut()) {
        let (s, m) = median(runs);
        let st = stages(w, d);
        let ms = |k: &str| st.get(k).copied().unwrap_or(0) as f64 / 1000.0;
        println!("in turns, median of 5: day {day} {s:.2} s {m:.0} MiB, stages {st:?}");
        turn_rows.push(format!(
            "| day {day} again, in turns (median of 5, on a copy of the workspace as it was that day; {:.2}× day 10) | {s:.2} s | {m:.0} MiB | {:.2} s | {:.2} s | {:.2} s |",
            s / first_median,
            ms("ingest"),
            ms("pipeline"),
            ms("reports")
        ));
    }
    // The last day's SQL alone, built on the day before's marts and then from the whole history
    // (no state): the incremental steps' saving, and the same bytes both ways.
    let sql_only = || {
        let (s, m) = best_of_3(|| {
            timed(Command::new(&bin).args(["--workspace", &w, "run", "daily", "--no-reports", "--date", END]))
        });
        let marts: BTreeMap<PathBuf, Vec<u8>> = common::files_under(&ws.join("warehouse/marts"))
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(&format!("report_date={END}")))
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect();
        (s, m, marts)
    };
    let (inc_s, inc_m, inc_marts) = sql_only();
    let state = ws.join("warehouse/_state");
    // (each of the three full runs writes state for END, which the next does not build on: it
    // looks for an earlier date, and there is none)
    let _ = std::fs::remove_dir_all(&state);
    let (full_s, full_m, full_marts) = sql_only();
    assert!(inc_marts.len() >= 20 && inc_marts == full_marts, "incremental and full marts differ");
    println!(
        "day {days}, run daily --no-reports: incremental {inc_s:.2} s {inc_m:.0} MiB; full {full_s:.2} s {full_m:.0} MiB; {} marts identical",
        inc_marts.len()
    );
    // A second morning run with nothing new (cron retrying, or an office re-sending nothing):
    // every file of the inbox is recognised as already ingested.
    let (again, again_peak) = timed(Command::new(&bin).args(["--workspace", &w, "ingest", "--brief", "--date", END]));
    println!("ingest with nothing new: {again:.2} s, peak {again_peak:.0} MiB");
    let tables = files_per_table(&ws.join("warehouse"));
    let (files, bytes): (usize, u64) = tables.values().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    println!("warehouse: {files} Parquet files, {:.0} MiB", bytes as f64 / 1048576.0);

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/bench_year_duckdb.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(ws.join("warehouse"))
        .arg(root.join("floor"))
        .output()
        .expect("python3 with duckdb");
    assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
    let q: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("{q}");

    let table_rows: Vec<String> = tables
        .iter()
        .filter(|(name, _)| name.as_str() != "marts")
        .map(|(name, (n, b))| format!("| `{name}` | {n} | {:.1} |", *b as f64 / 1048576.0))
        .collect();
    let daily_rows: Vec<String> =
        daily.iter().map(|(d, s, m)| format!("| day {d} | {s:.2} s | {m:.0} MiB |")).collect();
    let daily_rows: Vec<String> = daily_rows.into_iter().map(|r| format!("{r} | | |")).collect();
    let mut daily_rows = daily_rows;
    daily_rows.extend(turn_rows);
    daily_rows.push(format!(
        "| day {days}, `wangge ingest` again with nothing new | {again:.2} s | {again_peak:.0} MiB | | | |"
    ));
    daily_rows.push(format!(
        "| day {days}, `wangge run daily --no-reports` (the SQL alone), built on day {}'s marts | {inc_s:.2} s | {inc_m:.0} MiB | | | |",
        days - 1
    ));
    daily_rows.push(format!(
        "| day {days}, the same from the whole history (`warehouse/_state` removed; the same {} mart files, byte for byte) | {full_s:.2} s | {full_m:.0} MiB | | | |",
        inc_marts.len()
    ));
    let query_rows: Vec<String> = q["warehouse"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, s)| {
            let (s, f) = (s.as_f64().unwrap(), q["floor"][name].as_f64().unwrap());
            format!("| {name} | {} | {s:.4} s | {f:.4} s | {:.1}× |", q["rows"][name], s / f)
        })
        .collect();
    let mut sorted = ingest_seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let (peak_day, peak_mib, peak_s) = &ingest_peak;
    println!("ingest: median {median:.2} s; largest peak {peak_mib:.0} MiB on {peak_day} ({peak_s:.2} s)");
    let section = format!(
        "## A year, day by day\n\n`cargo run --example bench_year -- {days}`: `wangge demo-data --days {days}` (ending {END}), \
brought in as cron would: each day's folder arrives in the inbox that morning and is ingested (`wangge ingest --date D`; \
median {median:.2} s a day, {brought_in:.0} s for the {days} days; the largest peak {peak_mib:.0} MiB, on {peak_day}, in {peak_s:.2} s), with the whole morning job (`wangge daily --date D`: \
ingest, the daily pipeline, every unit's reports, delivery to `.eml`) on the 9th and 10th, the 99th and 100th and the last two days (timed, best of three, on \
the 10th, the 100th and the last: the morning before leaves the marts the incremental steps build on, as a daily cron does; by the 100th the \
92-day windows of the fire-safety and visit steps are full, so what still grows after it grows with the history). Then an analyst's \
first queries in DuckDB, each in a fresh connection (the median of fifteen, warehouse and floor in turns), on the warehouse (`read_parquet` over its hive partitions, with `union_by_name`) and on \
one Parquet file per table (the floor). The warehouse is compacted as it is written, in tiers: a table's year folder holds its open month's part and \
one part of the year's other months, a past year one file, each row carrying its report date (docs/warehouse.md). Before compaction (commit 46a0bc3, the same year and machine) it was 82,568 files in 713 MiB; \
`wangge daily` took 36.8 s and 602 MiB on day 366; an ingest with nothing new 16.0 s; the three queries 3.81 s, \
3.98 s and 5.56 s. With one file per table and day (commit cffaab4) it was 3,298 files in 213 MiB (files under 5,000 rows are written uncompressed, and a day's were), \
and the three queries took 0.12, 0.13 and 0.15 s, 32×, 21× and 12× the floor: DuckDB opened 366 files a table. \
With one file per table and month (commit 923cbd2) it was 13 files a table, and the three queries 2.2×, 2.0× and 1.5× the floor (a median of 15 by hand): \
opening a file costs about 0.25 ms when the floor itself is a few milliseconds. What is left between the warehouse and the floor is opening three files a table instead of one. Before the incremental steps (commit 4d46c1b, measured on an earlier machine) day 366 took 11.37 s against 5.49 s on day 10; \
with them, but with the sample's orders left open for ever (40,000 standing after a year) and every inbox file hashed on every run, 7.47 s against 4.83 s \
(commit 0c7c584); with the orders closed late instead (commit a202fc7, the year below), 7.92 s against 4.13 s, of which 0.9 s was hashing the \
inbox's 19,052 files to find nothing new (now remembered by size, modification and change time in `runs/inbox-hashes.tsv`). The first run with tiers (commit 64243a2) timed the SQL its data had been generated with, from before the windows' range form: 5.94 s on day 366 against 4.20 s on day 10, 1.41×; a benchmark now takes its build's pipelines, and an ingest with nothing new no longer reads the year's ledger back for the 2,928 files with an unrecognised sheet (0.32 s, now 0.16 s). Until commit bfe97e4 the returnee measures read one mart of every returnee ever registered, rewritten each day (`stg_returnees_latest`, 61,532 rows on day 366 and 0.33 s of its SQL, against 0.04 s on day 10); it now holds the returnees still current (2,400), and 累计 counts a two-column mart of everyone (`stg_returnees_seen`). From the 100th day on the peak stays level and the time grows little (two runs on 2026-12-04, in turns: day 366 took 1.01× and 1.10× day 100's time, at a peak of 151 and 149 MiB against 156): what day 10 lacks is full windows, not a short history. The largest ingest peak was 532 MiB, on 2021-12-01, until compaction merged a bounded part of a group at a time (commit 34fdac2): closing November into the year's part held every row of both, concatenated, then sorted. What still grows with the history is the ingest's look through the inbox, which stats every file it holds (19,052 after a year; 0.08 s on day 100, 0.24 to 0.28 s on day 366) to find what is new, and the two-column mart of everyone seen. DuckDB's count of the visits moves between 1.3× and 1.7× the floor over runs on the same files (a floor of 2 to 3 ms; `union_by_name`'s pass over the three files' schemas is about 0.7 ms of it, measured by hand). This VM's speed moves between runs: compare rows of one run, \
and the stages' own times (`durations_ms` in `runs/<date>/*.json`): identical `wangge daily` runs of one day have spent from 2.3 to 5 s in their reports alone.\n\n\
| | `wangge daily` | peak | ingest | pipeline | reports |\n|---|---|---|---|---|---|\n{}\n\n\
| table | Parquet files | MiB |\n|---|---|---|\n{}\n\n\
| query | result | warehouse | one file per table | ratio |\n|---|---|---|---|---|\n{}\n",
        daily_rows.join("\n"),
        table_rows.join("\n"),
        query_rows.join("\n")
    );
    print!("{section}");
    common::write_section("## A year, day by day", &section);
}

/// The fastest of three runs, with its peak.
fn best_of_3(mut once: impl FnMut() -> (f64, f64)) -> (f64, f64) {
    (0..3).map(|_| once()).min_by(|a, b| a.0.total_cmp(&b.0)).expect("three runs")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

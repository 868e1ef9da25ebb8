//! Ingest benchmark: prints figures and writes BENCHMARKS.md. Not a test: speed targets live
//! here, measured, never in timed unit tests.
//!
//!     cargo run --example bench_ingest            # writes BENCHMARKS.md
//!
//! Each measurement runs in a child process of its own so that its peak memory (VmHWM) is
//! its own: a plain calamine read of a sheet into a `Range`, calamine's and wangge's streaming
//! readers, and wangge's whole ingest (reading, header detection, validation, deduplication,
//! Parquet) of the same files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use calamine::{Reader, open_workbook_auto};
use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook};

const BIG_ROWS: usize = 200_000;

#[path = "common/mod.rs"]
mod common;
use common::peak_rss_mib;

/// Child mode: run one measurement and print "seconds rows peak_mib".
fn child(mode: &str, target: &Path) {
    let start = Instant::now();
    let rows = match mode {
        "plain" => {
            let mut rows = 0;
            for path in files(target) {
                let Ok(mut wb) = open_workbook_auto(&path) else { continue };
                for name in wb.sheet_names() {
                    if let Ok(range) = wb.worksheet_range(&name) {
                        rows += range.height();
                    }
                }
            }
            rows as u64
        }
        "stream" => {
            // calamine's streaming cell reader: cells visited, nothing kept.
            let mut rows = 0;
            for path in files(target) {
                let Ok(mut wb) = calamine::open_workbook::<calamine::Xlsx<_>, _>(&path) else { continue };
                for name in wb.sheet_names() {
                    let Ok(mut cells) = wb.worksheet_cells_reader(&name) else { continue };
                    let mut height = 0;
                    while let Ok(Some(cell)) = cells.next_cell() {
                        height = height.max(cell.get_position().0 as usize + 1);
                    }
                    rows += height;
                }
            }
            rows as u64
        }
        "fast" => {
            // wangge's own reader of large sheets (`ingest::xlsx_scan`): rows built, nothing kept.
            let mut rows = 0;
            for path in files(target) {
                let Some(package) = wangge::ingest::xlsx_scan::Package::open(&path) else { continue };
                let names: Vec<String> = package.sheets().map(|(n, _)| n.to_string()).collect();
                for name in names {
                    let _ = package.each_row(&name, |_, _| {
                        rows += 1;
                        true
                    });
                }
            }
            rows
        }
        _ => {
            let ws = wangge::config::Workspace::load(target).expect("workspace");
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            let report = wangge::runner::ingest(&ws, NaiveDate::from_ymd_opt(2022, 5, 10).unwrap(), &[], threads)
                .expect("ingest");
            report.outcome.files.iter().flat_map(|f| f.sheets.iter()).map(|s| s.counts.rows_read).sum()
        }
    };
    println!("{} {} {}", start.elapsed().as_secs_f64(), rows, peak_rss_mib());
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p))
        } else if p.extension().is_some_and(|x| x == "xlsx") {
            out.push(p)
        }
    }
    out.sort();
    out
}

/// Runs a measurement three times in fresh processes; returns the best time and its peak.
fn measure(mode: &str, target: &Path, fresh: impl Fn(&Path) -> PathBuf) -> (f64, u64, f64) {
    measure_in_turn(&[(mode, target)], 3, fresh)[0]
}

/// One measurement in a fresh process: (seconds, rows, peak MiB).
fn once(mode: &str, target: &Path) -> (f64, u64, f64) {
    let out = Command::new(std::env::current_exe().unwrap()).args(["--child", mode]).arg(target).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    assert_eq!(v.len(), 3, "child {mode} failed: {}", String::from_utf8_lossy(&out.stderr));
    (v[0], v[1] as u64, v[2])
}

fn better(a: (f64, u64, f64), b: (f64, u64, f64)) -> (f64, u64, f64) {
    if b.0 < a.0 { b } else { a }
}

/// Several measurements taken in turn, `rounds` times, best of each: on a shared machine
/// whose speed drifts over a minute, a ratio between two of them is only fair if each had
/// the same chances. `fresh` gives each run the folder it works on.
fn measure_in_turn(modes: &[(&str, &Path)], rounds: usize, fresh: impl Fn(&Path) -> PathBuf) -> Vec<(f64, u64, f64)> {
    let mut best = vec![(f64::MAX, 0, 0.0); modes.len()];
    for _ in 0..rounds {
        for (i, (mode, target)) in modes.iter().enumerate() {
            let target = if *mode == "ingest" { fresh(target) } else { target.to_path_buf() };
            best[i] = better(best[i], once(mode, &target));
        }
    }
    best
}

/// A 200,000-row, 16-column returnee sheet as an office would fill it, one ID in a thousand
/// mistyped.
fn write_big_sheet(path: &Path) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("来返登记").unwrap();
    let headers = [
        "序号",
        "姓名",
        "性别",
        "身份证号",
        "联系电话",
        "现居住地址",
        "所属网格",
        "来源地",
        "抵唐时间",
        "交通方式",
        "风险类别",
        "管控措施",
        "管控开始",
        "管控结束",
        "报备方式",
        "登记人",
    ];
    ws.write_string(0, 0, "荣馨园社区来唐返唐人员登记表（2022年5月10日）").unwrap();
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(1, c as u16, *h).unwrap();
    }
    let date = Format::new().set_num_format("yyyy/m/d");
    let day = NaiveDate::from_ymd_opt(2022, 5, 10).unwrap();
    for i in 0..BIG_ROWS {
        let r = (i + 2) as u32;
        // Unique, valid IDs: 20,000 birth dates times 10 sequence numbers.
        let birth = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap() + chrono::Duration::days((i % 20_000) as i64);
        let mut id = wangge::normalize::citizen_id::compose("130203", birth, (i / 20_000 + 1) as u16);
        if i % 1000 == 999 {
            // One ID in a thousand mistyped (its check digit wrong): rejected, and sent back.
            let check = if id.ends_with('0') { "1" } else { "0" };
            id.replace_range(17.., check);
        }
        ws.write_number(r, 0, (i + 1) as f64).unwrap();
        ws.write_string(r, 1, format!("王{}", i % 9973)).unwrap();
        ws.write_string(r, 2, if i % 2 == 0 { "男" } else { "女" }).unwrap();
        ws.write_string(r, 3, &id).unwrap();
        ws.write_string(r, 4, format!("138{:08}", i)).unwrap();
        ws.write_string(r, 5, format!("荣馨园{}号楼{}单元{}", i % 200 + 1, i % 3 + 1, 101 + i % 6)).unwrap();
        ws.write_string(r, 6, format!("荣馨园社区第{}网格", i % 3 + 1)).unwrap();
        ws.write_string(r, 7, "北京市朝阳区").unwrap();
        ws.write_date_with_format(r, 8, day, &date).unwrap();
        ws.write_string(r, 9, "自驾").unwrap();
        ws.write_string(r, 10, "低风险").unwrap();
        ws.write_string(r, 11, "居家健康监测").unwrap();
        ws.write_date_with_format(r, 12, day, &date).unwrap();
        ws.write_string(r, 13, "2022.5.17").unwrap();
        ws.write_string(r, 14, "主动报备").unwrap();
        ws.write_string(r, 15, "杨雪").unwrap();
    }
    wb.save(path).unwrap();
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{:?}: {}", cmd, String::from_utf8_lossy(&out.stderr));
}

fn main() {
    wangge::configure_allocator();
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "--child" {
        return child(&args[2], Path::new(&args[3]));
    }
    // Each ingest runs on a fresh copy of its workspace, and the last run's files are deleted
    // only after measuring: on this machine's journal-less ext4, creating files soon after
    // deleting thousands makes the kernel skip every recently freed inode (`recently_deleted`,
    // a tenth of the sample district's ingest when its warehouse was deleted before each run).
    // A daily job does not delete anything before it ingests.
    let root = std::env::temp_dir().join("wangge-bench");
    let old = std::env::temp_dir().join(format!("wangge-bench.old-{}", std::process::id()));
    let _ = std::fs::rename(&root, &old);
    std::fs::create_dir_all(&root).unwrap();
    let copies = root.join("copies");
    let copied = std::sync::atomic::AtomicUsize::new(0);
    let fresh = |ws: &Path| {
        let n = copied.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let to = copies.join(format!("{n}"));
        std::fs::create_dir_all(&copies).unwrap();
        run(Command::new("cp").arg("-r").arg(ws).arg(&to));
        to
    };
    let wangge_bin = common::wangge_bin();
    let bin = if wangge_bin.exists() { wangge_bin } else { PathBuf::from("wangge") };

    // 1. The sample district (3 days).
    let sample = root.join("sample");
    run(Command::new(&bin).args(["demo-data", sample.to_str().unwrap()]));
    let sample_inbox = sample.join("inbox");
    let sample_plain = measure("plain", &sample_inbox, &fresh);
    let sample_ingest = measure("ingest", &sample, &fresh);

    // 2. One 200,000-row, 16-column returnee sheet (with the registry it refers to).
    let big = root.join("big");
    run(Command::new(&bin).args(["init", big.to_str().unwrap()]));
    std::fs::create_dir_all(big.join("inbox/台账")).unwrap();
    std::fs::copy(
        sample_inbox.join("台账/高新区网格台账（2022.5.7）.xlsx"),
        big.join("inbox/台账/网格台账2022.5.7.xlsx"),
    )
    .unwrap();
    let big_file = big.join("inbox/荣馨园社区5.10.xlsx");
    write_big_sheet(&big_file);
    let big_only = root.join("big-only");
    std::fs::create_dir_all(&big_only).unwrap();
    std::fs::copy(&big_file, big_only.join("big.xlsx")).unwrap();
    let modes = [("plain", big_only.as_path()), ("stream", &big_only), ("fast", &big_only), ("ingest", &big)];
    let [big_plain, big_stream, big_fast, big_ingest] =
        measure_in_turn(&modes, 5, &fresh).try_into().expect("four measurements");

    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let row = |name: &str, m: (f64, u64, f64), plain: (f64, u64, f64)| {
        format!(
            "| {name} | {} | {:.2} s | {:.0} rows/s | {:.0} MiB | {:.2} s, {:.0} MiB | {:.2}× |",
            m.1,
            m.0,
            m.1 as f64 / m.0,
            m.2,
            plain.0,
            plain.2,
            m.0 / plain.0
        )
    };
    let report = format!(
        "# Benchmarks\n\nMeasured by `cargo run --example bench_ingest` (dev profile: dependencies and wangge \
at opt-level 2), {cpus} CPUs. Best of three runs, each in a fresh process (the 200,000-row sheet: best of five \
rounds, each reader and the ingest in turn, as this shared machine's speed drifts); peak memory is the \
process's VmHWM.\n\n\
## Ingest\n\nThe whole ingest (read, find header and form, validate, deduplicate, write Parquet, rejects, ledger and \
退回修改 workbooks) against a plain calamine read of the same files into a `Range` (`open_workbook_auto` + \
`worksheet_range`, no processing).\n\n| input | rows read | ingest | rows/s | peak | plain calamine read | ratio |\n|---|---|---|---|---|---|---|\n{}\n{}\n\n\
For the 200,000-row sheet, calamine's streaming cell reader (`worksheet_cells_reader`, cells visited \
and dropped) took {:.2} s with a {:.0} MiB peak. wangge reads a workbook this large as a stream of rows \
(`[ingest] stream_from_mib`) with its own scanner of the sheet XML (`ingest::xlsx_scan`: calamine's cells, \
and calamine reads on wherever it meets XML it does not expect): {:.2} s and {:.0} MiB with the rows built and \
dropped. The whole ingest took {:.2}× the streaming cell reader's time.\n\n\
Targets (issue 3): at most 1.0× the plain read and under 100 MiB peak for the 200,000-row sheet.\n",
        row("sample district, 3 days, 125 files", sample_ingest, sample_plain),
        row("one returnee sheet, 200,000 × 16, 200 IDs mistyped (+ registry)", big_ingest, big_plain),
        big_stream.0,
        big_stream.2,
        big_fast.0,
        big_fast.2,
        big_ingest.0 / big_stream.0,
    );
    print!("{report}");
    // The file's introduction once; then only this section, keeping the others' figures.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    let (intro, section) = report.split_at(report.find("## Ingest").expect("the section heading"));
    if !std::fs::read_to_string(&path).unwrap_or_default().starts_with("# Benchmarks") {
        std::fs::write(&path, intro).unwrap();
    }
    common::write_section("## Ingest", section);
    let _ = std::fs::remove_dir_all(&old);
}

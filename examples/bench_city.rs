//! City benchmark: `wangge demo-data --districts N` writes several districts of 唐山市 into one
//! workspace (the article's 高新区 first, then the city's other counties and districts); each is
//! ingested, then the daily pipeline's SQL (`wangge run daily --no-reports`: every step and
//! check, marts written to Parquet) runs on the local engine with its memory limited
//! (`[engine] memory_mib`, sorts and groups spill), for a growing number of districts; for the
//! largest city also unlimited, and on Apache Ballista with a scheduler and two executors
//! started from wangge's own binary on 127.0.0.1, whose marts must equal the local engine's
//! byte for byte. Prints figures and writes its section of BENCHMARKS.md. Not a test.
//!
//!     cargo build && cargo run --example bench_city                 # 1, 4 and 14 districts, 7 days
//!     cargo run --example bench_city -- 14 7 96                     # districts, days, MiB limit

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/mod.rs"]
mod common;

use common::timed;

const END: &str = "2022-05-10";

/// Best of `n` runs: the least time, and the peak of that run.
fn best(n: usize, mut make: impl FnMut() -> Command) -> (f64, f64) {
    (0..n).map(|_| timed(&mut make())).min_by(|a, b| a.0.total_cmp(&b.0)).unwrap()
}

fn set_memory(ws: &Path, mib: u64) {
    let path = ws.join("wangge.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let out: Vec<String> = text
        .lines()
        .map(|l| if l.starts_with("memory_mib") { format!("memory_mib = {mib}") } else { l.to_string() })
        .collect();
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
}

/// Every mart file of a workspace (relative to the marts folder) and its bytes.
fn marts(ws: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let root = ws.join("warehouse/marts");
    common::files_under(&root)
        .into_iter()
        .map(|p| (p.strip_prefix(&root).unwrap().to_path_buf(), std::fs::read(&p).unwrap()))
        .collect()
}

/// A scheduler and two executors, each a `wangge ballista` process, killed on drop.
struct Cluster {
    scheduler: String,
    children: Vec<(String, Child)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Cluster {
    fn start(bin: &Path, dir: &Path, executor_mib: u64) -> Cluster {
        let port = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let wait = |p: u16| {
            let start = Instant::now();
            while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
                assert!(start.elapsed() < Duration::from_secs(30), "nothing listens on {p}");
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        let spawn = |args: &[&str], log: &str| {
            Command::new(bin)
                .args(args)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join(log)).unwrap())
                .spawn()
                .unwrap()
        };
        std::fs::create_dir_all(dir).unwrap();
        let p = port();
        let scheduler = format!("127.0.0.1:{p}");
        let mut cluster = Cluster { scheduler: scheduler.clone(), children: Vec::new() };
        let child = spawn(&["ballista", "scheduler", "--bind", &scheduler], "scheduler.log");
        cluster.children.push(("scheduler".into(), child));
        wait(p);
        for i in 0..2 {
            let (flight, grpc) = (port(), port());
            let work = dir.join(format!("executor{i}"));
            let child = spawn(
                &[
                    "ballista",
                    "executor",
                    "--scheduler",
                    &scheduler,
                    "--flight-port",
                    &flight.to_string(),
                    "--grpc-port",
                    &grpc.to_string(),
                    "--work-dir",
                    work.to_str().unwrap(),
                    "--cores",
                    "1",
                    "--memory-mib",
                    &executor_mib.to_string(),
                ],
                &format!("executor{i}.log"),
            );
            cluster.children.push((format!("executor {i}"), child));
            wait(flight);
        }
        cluster
    }

    /// Each process's peak resident memory so far (VmHWM), in MiB.
    fn peaks(&self) -> Vec<(String, f64)> {
        self.children.iter().map(|(name, child)| (name.clone(), common::peak_rss_mib_of(child.id()))).collect()
    }
}

struct City {
    districts: u32,
    ws: PathBuf,
    rows: u64,
    grids: u64,
    ingest: (f64, f64),
}

fn city(bin: &Path, root: &Path, districts: u32, days: u32) -> City {
    let ws = root.join(format!("city-{districts}"));
    let _ = std::fs::remove_dir_all(&ws);
    let out = Command::new(bin)
        .args(["demo-data", ws.to_str().unwrap(), "--districts", &districts.to_string()])
        .args(["--days", &days.to_string(), "--end-date", END])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let w = ws.to_str().unwrap();
    let ingest = timed(Command::new(bin).args(["--workspace", w, "ingest", "--brief", "--date", END]));
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(ws.join("truth.json")).unwrap()).unwrap();
    City {
        districts,
        ws,
        rows: truth["totals"]["accepted"].as_u64().unwrap(),
        grids: truth["district"]["grids"].as_u64().unwrap(),
        ingest,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<u32> = match args.first() {
        Some(n) => vec![n.parse().expect("a number of districts")],
        None => vec![1, 4, 14],
    };
    let days: u32 = args.get(1).map_or(7, |d| d.parse().expect("a number of days"));
    let limit: u64 = args.get(2).map_or(96, |m| m.parse().expect("MiB"));
    let bin = common::wangge_bin();
    let root = std::env::temp_dir().join("wangge-bench-city");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();

    let run = |ws: &Path, engine: &str| {
        let w = ws.to_str().unwrap().to_string();
        let engine = engine.to_string();
        let bin = bin.clone();
        move || {
            let mut cmd = Command::new(&bin);
            cmd.args(["--workspace", &w, "run", "daily", "--no-reports", "--date", END, "--engine", &engine]);
            cmd
        }
    };
    let mut rows = Vec::new();
    let mut last = None;
    for &n in &sizes {
        let c = city(&bin, &root, n, days);
        println!(
            "{n} district(s): {} rows accepted, {} grids; ingest {:.1} s, {:.0} MiB",
            c.rows, c.grids, c.ingest.0, c.ingest.1
        );
        set_memory(&c.ws, limit);
        let (s, m) = best(3, run(&c.ws, "local"));
        let (data, code) = common::sampled_memory(&mut run(&c.ws, "local")());
        println!("  local, memory_mib = {limit}: {s:.2} s, peak {m:.0} MiB (data {data:.0} MiB, code {code:.0} MiB)");
        rows.push(format!(
            "| {n} | {} | {} | {:.1} s, {:.0} MiB | {s:.2} s | {m:.0} MiB | {data:.0} MiB | {code:.0} MiB |",
            c.rows, c.grids, c.ingest.0, c.ingest.1
        ));
        last = Some(c);
    }
    let c = last.expect("at least one city");
    set_memory(&c.ws, 1024);
    let (free_s, free_m) = best(3, run(&c.ws, "local"));
    println!("  local, memory_mib = 1024: {free_s:.2} s, peak {free_m:.0} MiB");
    let local_marts = marts(&c.ws);

    set_memory(&c.ws, limit);
    let cluster = Cluster::start(&bin, &root.join("cluster"), limit);
    let engine = format!("ballista://{}", cluster.scheduler);
    // The first run on a new cluster pays for the executors' first connections; best of three.
    let (b_s, b_m) = best(3, run(&c.ws, &engine));
    let peaks = cluster.peaks();
    println!("  Ballista, 2 executors: {b_s:.2} s, client peak {b_m:.0} MiB, {peaks:?}");
    let ballista_marts = marts(&c.ws);
    assert_eq!(ballista_marts.len(), local_marts.len());
    let same = ballista_marts.iter().all(|(p, b)| local_marts.get(p) == Some(b));
    assert!(same, "Ballista's marts differ from the local engine's");
    drop(cluster);

    let peak_text: Vec<String> = peaks.iter().map(|(n, m)| format!("{n} {m:.0} MiB")).collect();
    let section = format!(
        "## A city of districts\n\n`cargo run --example bench_city` (after `cargo build`): `wangge demo-data --districts N \
--days {days}` writes N districts of 唐山市 into one workspace (the article's 高新区, then the city's other counties and \
districts, each with its own towns, communities, grids, rosters, daily workbooks, patrols and hotline export), ingested \
in one call; then `wangge run daily --no-reports --date {END}`: every step and check of the daily pipeline, marts \
written to Parquet, no report files. Best of three, each a fresh process; peak is the process's VmHWM. The local engine \
runs with `[engine] memory_mib = {limit}` (sorts and groups spill to `runs/spill`). A fourth run is sampled every 2 ms \
for the two parts of its resident memory at their largest (not always at the same moment): data (anonymous memory: what the queries allocate) and code \
(file-backed: the binary's pages as it runs them, the same for any input).\n\n\
| districts | rows accepted | grids | ingest | daily pipeline, local | peak | data | code |\n\
|---|---|---|---|---|---|---|---|\n{}\n\n\
For {n} districts: the local engine with `memory_mib = 1024` took {free_s:.2} s with a {free_m:.0} MiB peak; on Apache \
Ballista (a scheduler and two executors started by `wangge ballista` on 127.0.0.1, one core and {limit} MiB each, the \
client submitting every step) {b_s:.2} s, the client's peak {b_m:.0} MiB, the cluster's processes' peaks: {}. Ballista's \
marts equal the local engine's byte for byte. The city's ingest in one call grows with the districts for \
another reason: heaptrack (a glibc build, 14 districts, 2026-12-04) put its 292 MiB heap peak in the cells of the \
workbooks being read (109 MiB) and their validated rows (84 MiB), a batch of a day's 560 files being up to 512 \
of them; compaction, which held each group whole until commit 34fdac2 (374 MiB for 14 districts then), no longer \
shows. Before `stg_visits_grid` counted distinct households as distinct \
(grid, household) rows instead of `count(DISTINCT …)` per grid, the 14-district peak under the same limit was 330 MiB \
(1 district: 135 MiB): heaptrack put 250 MiB of it in per-grid hash sets that DataFusion's memory pool does not \
bound. What grows with the districts is data; the code is 91-93 MiB of every peak, for 1 district as for 14 (pages of \
the binary, which the kernel can drop and read again). The data is the largest steps' own work, measured on 2026-12-04 \
with each step's SQL run alone as a query on the 14-district city (`wangge query`; `SELECT 1` has 9 MiB of data): \
`stg_special_visits` 61-64 MiB (the 91,000-person register held by its name join and its address join), `headline` \
66-68 MiB with its 94,284 rows sorted and collected (39-43 MiB unsorted), `daily_grid` 51-57 MiB and `stg_visits_grid` 42-53 MiB (the window's \
200,000 distinct households, grouped). The memory limit does not bound it: `stg_visits_grid` had 45, 50 and 46 MiB of \
data under 96, 32 and 16 MiB (heaptrack: a 30 MiB heap under 16 MiB, DataFusion's group builders growing by doubling \
past what they reserved, and Parquet's decoding buffers, which its pool does not count), and the whole pipeline under \
48 MiB peaked at 159-162 MiB against 168-175 MiB under 96 (under 32 MiB, sorts can no longer merge their spills). \
Tried and not kept: the allocator giving freed memory back at once while queries run (mimalloc's arena purge without \
delay) took 8-10 MiB off the 14-district peak for 0.25 s more system time; counting the households by one sorted \
sequence instead of a grouping took more (56-58 MiB of data, against 42-53) and longer. `stg_fire_places` ranked each place's checks in a \
window partitioned by place (57 MiB of data as a query on 14 districts); it now takes the first of each place's rows in \
one sequence ordered by place (23 MiB).\n",
        rows.join("\n"),
        peak_text.join(", "),
        n = c.districts,
    );
    print!("{section}");
    common::write_section("## A city of districts", &section);
}

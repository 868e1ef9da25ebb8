//! Apache Ballista, for real: `wangge ballista scheduler` and executors started as separate
//! processes on 127.0.0.1, the daily pipeline and `wangge query` run through them, every mart
//! compared byte for byte with the local engine's; and an executor killed mid-run fails the run
//! cleanly (exit 3, naming the engine) without spoiling the next run on the local engine.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{scratch, text, wangge};
use crate::daily::DATE;
use crate::warehouse::{ingest, sample_copy};

/// Processes killed when the test ends, however it ends.
struct Cluster {
    scheduler: String,
    children: Vec<Child>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "{what} is not listening on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn(args: &[&str], log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// A scheduler and `executors` executors, each its own `wangge ballista` process.
fn start(dir: &Path, executors: usize, executor_timeout_seconds: u64) -> Cluster {
    let port = free_port();
    let scheduler = format!("127.0.0.1:{port}");
    let timeout = executor_timeout_seconds.to_string();
    let mut cluster = Cluster { scheduler: scheduler.clone(), children: Vec::new() };
    let args = ["ballista", "scheduler", "--bind", &scheduler, "--executor-timeout-seconds", &timeout];
    cluster.children.push(spawn(&args, &dir.join("scheduler.log")));
    wait_for_port(port, "the scheduler");
    for i in 0..executors {
        let (flight, grpc) = (free_port().to_string(), free_port().to_string());
        let work = dir.join(format!("executor{i}"));
        let args = [
            "ballista",
            "executor",
            "--scheduler",
            &scheduler,
            "--flight-port",
            &flight,
            "--grpc-port",
            &grpc,
            "--work-dir",
            work.to_str().unwrap(),
            "--cores",
            "2",
            "--memory-mib",
            "512",
            "--heartbeat-seconds",
            "1",
        ];
        cluster.children.push(spawn(&args, &dir.join(format!("executor{i}.log"))));
        wait_for_port(flight.parse().unwrap(), "an executor");
    }
    cluster
}

/// Every mart file of a workspace and its bytes.
fn marts(ws: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    crate::compaction::files(&ws.join("warehouse/marts"))
}

fn run_daily(ws: &Path, engine: &str) -> std::process::Output {
    wangge(&["--workspace", ws.to_str().unwrap(), "run", "daily", "--date", DATE, "--engine", engine])
}

#[test]
fn the_daily_pipeline_and_queries_on_a_ballista_cluster_give_the_local_engines_marts_byte_for_byte() {
    let dir = scratch();
    let local = sample_copy(&dir.path().join("local"));
    ingest(&local);
    let want = run_daily(&local, "local");
    assert!(want.status.success(), "{}", text(&want.stderr));
    let expected = marts(&local);
    assert!(expected.len() >= 20, "{} marts", expected.len());

    let cluster = start(dir.path(), 2, 20);
    let ws = sample_copy(&dir.path().join("ballista"));
    ingest(&ws);
    let engine = format!("ballista://{}", cluster.scheduler);
    let got = run_daily(&ws, &engine);
    assert_eq!(got.status.code(), want.status.code(), "{}", text(&got.stderr));
    assert_eq!(text(&got.stderr).lines().count(), text(&want.stderr).lines().count(), "{}", text(&got.stderr));
    let got_marts = marts(&ws);
    assert_eq!(got_marts.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (path, bytes) in &got_marts {
        assert!(
            *bytes == expected[path],
            "{}: the Ballista run wrote other bytes than the local engine",
            path.display()
        );
    }

    // An analyst's query, a join and a window over the warehouse, through the cluster.
    let sql = "SELECT r.community_code, count(*) AS n, count(DISTINCT r.person_key) AS people, \
               rank() OVER (ORDER BY count(*) DESC, r.community_code) AS rank \
               FROM returnees r JOIN daily_grid g ON g.grid_code = r.grid_code AND g.report_date = r.report_date \
               GROUP BY r.community_code ORDER BY r.community_code";
    let query = |ws: &Path, engine: &str| {
        let out = wangge(&["--workspace", ws.to_str().unwrap(), "query", sql, "--format", "csv", "--engine", engine]);
        assert!(out.status.success(), "{engine}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let answer = query(&local, "local");
    assert!(answer.lines().count() > 30, "{answer}");
    assert_eq!(query(&ws, &engine), answer);
}

#[test]
fn an_executor_killed_mid_run_fails_the_run_naming_the_engine_and_the_local_engine_then_succeeds() {
    let dir = scratch();
    let ws = sample_copy(&dir.path().join("ws"));
    ingest(&ws);
    let mut cluster = start(dir.path(), 1, 4);
    let engine = format!("ballista://{}", cluster.scheduler);
    let mut run = Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(["--workspace", ws.to_str().unwrap(), "run", "daily", "--date", DATE, "--engine", &engine])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the run has written its first mart, the executor dies without warning.
    let marts = ws.join("warehouse/marts");
    let started = Instant::now();
    let written = |marts: &Path| {
        marts.exists()
            && crate::common::tree(marts).iter().filter(|f| f.extension().is_some_and(|e| e == "parquet")).count() >= 2
    };
    while !written(&marts) {
        assert!(run.try_wait().unwrap().is_none(), "the run ended before the executor was killed");
        assert!(started.elapsed() < Duration::from_secs(120), "no mart written through the cluster");
        std::thread::sleep(Duration::from_millis(20));
    }
    let executor = cluster.children.last_mut().unwrap();
    executor.kill().unwrap();
    executor.wait().unwrap();
    let killed_at = Instant::now();
    let out = run.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("Ballista engine") && stderr.contains(&cluster.scheduler), "{stderr}");
    assert!(killed_at.elapsed() < Duration::from_secs(60), "the run took {:?} to fail", killed_at.elapsed());
    drop(cluster);

    let out = run_daily(&ws, "local");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

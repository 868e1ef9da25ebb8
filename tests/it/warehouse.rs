//! `wangge ingest` into the warehouse: DuckDB reads it with hive partitioning and finds the
//! counts of truth.json; no raw ID leaves ingest; a second run changes nothing; runs killed
//! while writing leave no duplicates or half files once the next run completes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{query_csv, repo, scratch, text, tree, truth, wangge_expect};

/// A copy of the committed sample workspace without any outputs.
pub fn sample_copy(dir: &Path) -> std::path::PathBuf {
    let ws = dir.join("ws");
    for f in tree(&repo().join("sample-data")) {
        let to = ws.join(&f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo().join("sample-data").join(&f), &to).unwrap();
    }
    ws
}

pub fn ingest(ws: &Path) -> std::process::Output {
    wangge_expect(&["--workspace", ws.to_str().unwrap(), "ingest", "--date", "2022-05-10", "--brief"], 0)
}

/// Every warehouse file and its bytes.
fn snapshot(ws: &Path) -> BTreeMap<String, Vec<u8>> {
    let root = ws.join("warehouse");
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap());
            }
        }
    }
    walk(&root, &root, &mut out);
    out
}

fn duckdb_counts(ws: &Path) -> Value {
    let out = Command::new("python3")
        .arg(repo().join("tests/it/py/warehouse_counts.py"))
        .arg(ws.join("warehouse"))
        .output()
        .expect("python3 runs (installed by .ci/run with duckdb)");
    assert!(out.status.success(), "duckdb script failed:\n{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn duckdb_reads_the_warehouse_with_the_counts_of_truth_json() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    ingest(&ws);
    let got = duckdb_counts(&ws);
    let t = truth(&repo().join("sample-data"));
    // Accepted rows per form and report date, from truth.json.
    let mut want: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for f in t["files"].as_array().unwrap() {
        for s in f["sheets"].as_array().unwrap() {
            if let Some(form) = s["form"].as_str()
                && s["accepted"].as_u64().unwrap() > 0
            {
                *want.entry(form.into()).or_default().entry(f["report_date"].as_str().unwrap().into()).or_default() +=
                    s["accepted"].as_u64().unwrap();
            }
            for key in ["rejected", "warnings"] {
                for (reason, n) in s[key].as_object().unwrap() {
                    *reasons.entry(reason.clone()).or_default() += n.as_u64().unwrap();
                }
            }
        }
    }
    for (form, dates) in &want {
        let got_dates: BTreeMap<String, u64> = serde_json::from_value(got["rows"][form].clone()).unwrap();
        assert_eq!(&got_dates, dates, "rows of `{form}` per report date");
    }
    let got_reasons: BTreeMap<String, u64> = serde_json::from_value(got["reasons"].clone()).unwrap();
    assert_eq!(got_reasons, reasons);
    // Dates are dates, codes are strings; no raw ID anywhere.
    for (column, ty) in [
        ("report_date", "DATE"),
        ("arrival_date", "DATE"),
        ("birth_date", "DATE"),
        ("grid_code", "VARCHAR"),
        ("source_row", "BIGINT"),
    ] {
        assert_eq!(got["types"][column], ty, "returnees.{column}");
    }
    assert_eq!(got["raw_ids"], serde_json::json!([]), "raw citizen IDs in the warehouse");
}

#[test]
fn a_second_ingest_changes_nothing_and_a_fresh_one_gives_the_same_bytes() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    ingest(&ws);
    let first = snapshot(&ws);
    // The sample's 156 files, eight days of May 2022, compacted into one per table: the open
    // month's part of its year.
    assert!(first.len() >= 10, "{} warehouse files", first.len());
    let mut per_partition: BTreeMap<String, usize> = BTreeMap::new();
    for name in first.keys() {
        let (partition, file) = name.rsplit_once('/').unwrap();
        assert!(partition.ends_with("/report_year=2022"), "{name}: not in its year's folder");
        assert!(file.starts_with("part-2022-05-") && file.ends_with(".parquet"), "{name}: not the open month's part");
        *per_partition.entry(partition.to_string()).or_default() += 1;
    }
    assert!(per_partition.values().all(|n| *n == 1), "{per_partition:?}");
    let out = ingest(&ws);
    let files = truth(&repo().join("sample-data"))["files"].as_array().unwrap().len();
    assert!(files > 150, "{files} files");
    let skipped = format!("Skipped {files} file(s) already ingested");
    assert!(text(&out.stderr).contains(&skipped), "{skipped}: {}", text(&out.stderr));
    assert!(snapshot(&ws) == first, "the second run changed the warehouse");
    let other = scratch();
    let ws2 = sample_copy(other.path());
    ingest(&ws2);
    assert!(snapshot(&ws2) == first, "the same inputs gave different warehouse bytes");

    // A file with a sheet that matched no form (or that could not be read) is read again once
    // the forms change, when a form may have been added for it; the others stay done. (A run
    // knows the others from the ledger's index alone, without reading their entries.)
    let retried = query_csv(
        &ws,
        "SELECT count(DISTINCT sha256) AS n FROM ingest_files WHERE status IN ('error', 'unrecognised')",
    );
    let retried: usize = retried.lines().nth(1).unwrap().parse().unwrap();
    assert!(retried > 0 && retried < files, "{retried} files to try again");
    let form = ws.join("pipelines/forms/visits.toml");
    let declared = std::fs::read_to_string(&form).unwrap();
    std::fs::write(&form, declared + "\n# edited: the forms' fingerprint changes\n").unwrap();
    let out = ingest(&ws);
    let skipped = format!("Skipped {} file(s) already ingested", files - retried);
    assert!(text(&out.stderr).contains(&skipped), "{skipped}: {}", text(&out.stderr));
}

#[test]
fn an_ingest_killed_while_writing_is_completed_by_the_next_run() {
    let dir = scratch();
    let reference_ws = sample_copy(&dir.path().join("reference"));
    ingest(&reference_ws);
    let reference = snapshot(&reference_ws);
    for (attempt, kill_after_files) in [1usize, 40, 200, 480].into_iter().enumerate() {
        let ws = sample_copy(&dir.path().join(format!("killed{attempt}")));
        let mut child = Command::new(env!("CARGO_BIN_EXE_wangge"))
            .args(["--workspace", ws.to_str().unwrap(), "ingest", "--date", "2022-05-10", "--brief"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the run is writing, then kill it without warning.
        let warehouse = ws.join("warehouse");
        loop {
            let written = walkdir_count(&warehouse);
            if written >= kill_after_files || child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let _ = child.kill();
        let _ = child.wait();
        ingest(&ws);
        let after = snapshot(&ws);
        let missing: Vec<_> = reference.keys().filter(|k| !after.contains_key(*k)).collect();
        let extra: Vec<_> = after.keys().filter(|k| !reference.contains_key(*k)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "after a kill at {kill_after_files} files: missing {missing:?}, extra {extra:?}"
        );
        for (k, v) in &reference {
            assert!(after[k] == *v, "{k} differs after a killed run was completed");
        }
    }
}

fn walkdir_count(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { walkdir_count(&e.path()) } else { 1 }).sum()
}

//! A district wangge was not written against (tests/other_district/generate.py: its own
//! program, wordings, registry layout and work-order export, files from openpyxl and
//! LibreOffice) ingested with the bundled forms unchanged: every sheet and every row gets the
//! fate the generator's own truth gives it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde_json::{Value as Json, json};
use wangge::config::Workspace;
use wangge::runner;

use crate::common::{query_csv, repo, scratch, wangge_expect};

/// The run date: the day after the district's last day of files.
const RUN_DATE: (i32, u32, u32) = (2024, 3, 7);

/// The other district generated with `args` into a scratch folder (inbox/ and truth.json).
fn generate(args: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = scratch();
    let path = dir.path().join("qinghe");
    let out = std::process::Command::new("python3")
        .arg(repo().join("tests/other_district/generate.py"))
        .arg(&path)
        .args(args)
        .output()
        .expect("python3");
    assert!(out.status.success(), "generate.py: {}", String::from_utf8_lossy(&out.stderr));
    (dir, path)
}

/// The other district with its registry's merged town and community cells, generated once.
fn generated() -> &'static Path {
    static DISTRICT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DISTRICT.get_or_init(|| generate(&[])).1
}

/// Every header wording the bundled forms declare as a synonym, normalised.
fn our_synonyms() -> BTreeSet<String> {
    let forms = wangge::config::forms::load_forms(&repo().join("pipelines/forms")).unwrap();
    forms
        .iter()
        .flat_map(|f| f.fields.iter().flat_map(|field| field.synonyms.iter()))
        .map(|s| wangge::normalize::header::normalize(s))
        .collect()
}

#[test]
fn the_other_district_words_no_header_as_our_forms_declare_it() {
    let vocabulary: Vec<String> =
        serde_json::from_slice(&std::fs::read(generated().join("vocabulary.json")).unwrap()).unwrap();
    assert!(vocabulary.len() >= 25, "{vocabulary:?}");
    let ours = our_synonyms();
    let shared: Vec<&String> =
        vocabulary.iter().filter(|w| ours.contains(&wangge::normalize::header::normalize(w))).collect();
    assert!(shared.is_empty(), "wordings the forms declare as synonyms: {shared:?}");
}

/// Each row's fate as the truth writes it: `ok`, `reject:<reason>`, `skip:<reason>`.
fn fates_of(sheet: &wangge::ingest::SheetResult) -> Vec<String> {
    let mut rows: Vec<(usize, String)> = Vec::new();
    rows.extend(sheet.records.iter().map(|(r, _)| (*r, "ok".to_string())));
    rows.extend(sheet.rejects.iter().map(|r| (r.row, format!("reject:{}", r.reason))));
    rows.extend(sheet.skips.iter().map(|(r, why)| (*r, format!("skip:{}", why.code()))));
    rows.sort();
    rows.into_iter().map(|(_, f)| f).collect()
}

fn truth_fates(sheet: &Json) -> Vec<String> {
    let rows = sheet["rows_read"].as_u64().unwrap() as usize;
    let mut fates = vec!["ok".to_string(); rows];
    for r in sheet["rejects"].as_array().unwrap() {
        fates[r["row"].as_u64().unwrap() as usize - 1] = format!("reject:{}", r["reason"].as_str().unwrap());
    }
    for k in sheet["skips"].as_array().unwrap() {
        fates[k["row"].as_u64().unwrap() as usize - 1] = format!("skip:{}", k["reason"].as_str().unwrap());
    }
    fates
}

#[test]
fn an_unseen_district_is_read_as_its_own_truth_says() {
    check_against_own_truth(generated());
}

/// The same district with its registry exported as a tree of units (上级区域): the towns' and
/// communities' rows are skipped as units and give the grids below them their community.
#[test]
fn an_unseen_district_keeping_its_registry_as_a_tree_is_read_as_its_truth_says() {
    let (_dir, district) = generate(&["--registry", "tree", "--seed", "8"]);
    check_against_own_truth(&district);
}

/// Its registry as a tree down to sub-grids (微网格) whose names repeat under every grid: the
/// grids are units, each sub-grid is filed under its grid, community and town.
#[test]
fn an_unseen_district_with_sub_grids_in_its_tree_is_read_as_its_truth_says() {
    let (_dir, district) = generate(&["--registry", "subtree", "--seed", "9"]);
    let ws = check_against_own_truth(&district);
    let counts = query_csv(
        &ws,
        "SELECT count(DISTINCT sub_grid_code), count(DISTINCT grid_code), count(*) FROM grids WHERE sub_grid_code IS NOT NULL",
    );
    let counts: Vec<u64> = counts.lines().nth(1).unwrap().split(',').map(|n| n.parse().unwrap()).collect();
    // Every sub-grid row its own code; the grids with sub-grids: 22 grids less the 6 leaves.
    assert_eq!((counts[0], counts[1]), (counts[2], 16), "sub-grids, their grids, rows: {counts:?}");
}

/// Ingests the district into a fresh workspace, checks every sheet and row against its truth and
/// returns the workspace (kept for the caller's queries until the test process ends).
fn check_against_own_truth(district: &Path) -> PathBuf {
    let ws = district.with_file_name("ws");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    let copy = std::process::Command::new("cp").arg("-r").arg(district.join("inbox")).arg(&ws).status().unwrap();
    assert!(copy.success());
    let truth: Json = serde_json::from_slice(&std::fs::read(district.join("truth.json")).unwrap()).unwrap();
    let run = NaiveDate::from_ymd_opt(RUN_DATE.0, RUN_DATE.1, RUN_DATE.2).unwrap();
    let report = runner::ingest(&Workspace::load(&ws).unwrap(), run, &[], 2).unwrap();

    let (mut sheets, mut sheets_as_truth, mut rows, mut rows_as_truth) = (0, 0, 0, 0);
    let mut differences = Vec::new();
    let files = truth["files"].as_array().unwrap();
    assert_eq!(report.outcome.files.len(), files.len(), "every file read");
    for want in files {
        let path = want["path"].as_str().unwrap();
        let file = report.outcome.files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{path} not read"));
        assert!(file.error.is_none(), "{path}: {:?}", file.error);
        for ws in want["sheets"].as_array().unwrap() {
            let name = ws["name"].as_str().unwrap();
            let got = file.sheets.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{path} [{name}]"));
            sheets += 1;
            let status_and_form = json!({"status": got.status.code(), "form": got.form});
            let wanted = json!({"status": ws["status"], "form": ws.get("form").cloned().unwrap_or(Json::Null)});
            // A registry that no file, title or folder dates is filed under the run date.
            let date_ok = ws["status"] != "read"
                || match ws["report_date"].as_str() {
                    Some(d) => got.report_date.to_string() == d,
                    None => got.report_date == run,
                };
            if status_and_form == wanted && date_ok {
                sheets_as_truth += 1;
            } else {
                differences
                    .push(format!("{path} [{name}]: got {status_and_form} on {}, want {wanted}", got.report_date));
            }
            if ws["status"] != "read" {
                continue;
            }
            let (g, w) = (fates_of(got), truth_fates(ws));
            assert_eq!(
                got.counts.rows_read as usize,
                got.counts.accepted as usize
                    + got.counts.rejected_total() as usize
                    + got.counts.skipped_total() as usize,
                "{path} [{name}]: rows add up"
            );
            rows += w.len();
            for (i, want_fate) in w.iter().enumerate() {
                match g.get(i) {
                    Some(f) if f == want_fate => rows_as_truth += 1,
                    other => {
                        differences.push(format!("{path} [{name}] row {}: got {other:?}, want {want_fate}", i + 1))
                    }
                }
            }
        }
    }
    eprintln!(
        "other district: {sheets_as_truth} of {sheets} sheets and {rows_as_truth} of {rows} rows as its truth says"
    );
    assert!(differences.is_empty(), "{} differences:\n{}", differences.len(), differences.join("\n"));
    assert!(rows > 300 && sheets > 40, "{rows} rows, {sheets} sheets");
    // The roster names grids, the registry has no codes: each worker's grid is still resolved
    // to the code the registry's grid got, so measures join workers to grids by code.
    let unresolved = query_csv(
        &ws,
        "SELECT count(*) AS workers, count(w.grid_code) AS with_code, count(g.grid_code) AS in_registry \
         FROM workers w LEFT JOIN (SELECT DISTINCT grid_code, grid_name FROM grids) g \
         ON g.grid_code = w.grid_code AND g.grid_name = w.grid_name",
    );
    let counts: Vec<u64> = unresolved.lines().nth(1).unwrap().split(',').map(|n| n.parse().unwrap()).collect();
    assert!(
        counts[0] > 10 && counts.iter().all(|n| *n == counts[0]),
        "workers, with a code, in the registry: {counts:?}"
    );
    ws
}

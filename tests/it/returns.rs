//! 退回修改 workbooks: one per community and report date with rejected rows, opening in
//! openpyxl, holding exactly the rejected rows with their bad cell highlighted, and no raw ID.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::common::{repo, scratch, text, truth};
use crate::warehouse::{ingest, sample_copy};

#[test]
fn every_community_gets_its_rejected_rows_back_with_the_bad_cells_marked() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    ingest(&ws);
    let out = Command::new("python3")
        .arg(repo().join("tests/it/py/returns_view.py"))
        .arg(ws.join("reports"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let books: BTreeMap<String, BTreeMap<String, Value>> = serde_json::from_slice(&out.stdout).unwrap();

    // Rejected rows per (report date, community) from truth.json. The rows of a file that
    // serves several communities (the hotline's export) go each to the community its grid
    // names, or to 未归属社区: counted here as a pool per date.
    let t = truth(&repo().join("sample-data"));
    let mut want: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut pool: BTreeMap<String, u64> = BTreeMap::new();
    for f in t["files"].as_array().unwrap() {
        let rejected: u64 =
            f["sheets"].as_array().unwrap().iter().map(|s| s["rejects"].as_array().unwrap().len() as u64).sum();
        let date = f["report_date"].as_str().unwrap().to_string();
        match f["community_code"].as_str() {
            _ if rejected == 0 => {}
            Some(community) => *want.entry((date, community.to_string())).or_default() += rejected,
            None => *pool.entry(date).or_default() += rejected,
        }
    }
    let mut got: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (path, sheets) in &books {
        let (date, rest) = path.split_once('/').unwrap();
        let file = rest.trim_start_matches("returns/");
        let community =
            if file.starts_with("未归属") { String::new() } else { file.split('-').next().unwrap().to_string() };
        for (sheet, v) in sheets {
            let rows = v["rows"].as_u64().unwrap();
            assert_eq!(v["highlighted"].as_u64().unwrap(), rows, "{path} [{sheet}]: one highlighted cell per row");
            for cell in v["first_row"].as_array().unwrap() {
                let s = cell.as_str().unwrap();
                assert!(
                    !(s.len() == 18 && s.is_ascii() && s[..17].bytes().all(|b| b.is_ascii_digit())),
                    "{path}: raw ID {s}"
                );
            }
            *got.entry((date.to_string(), community.clone())).or_default() += rows;
        }
    }
    // Every community's own rows, and the pool spread over communities and 未归属社区.
    let mut spread: BTreeMap<String, u64> = BTreeMap::new();
    for ((date, community), rows) in &got {
        let own = want.get(&(date.clone(), community.clone())).copied().unwrap_or(0);
        assert!(*rows >= own, "{date} {community}: {rows} rows, fewer than its own {own}");
        *spread.entry(date.clone()).or_default() += rows - own;
    }
    for key in want.keys() {
        assert!(got.contains_key(key), "{key:?}: no 退回修改 workbook");
    }
    assert_eq!(spread, pool, "the rows of files that serve several communities, per date");
    let unassigned: u64 = got.iter().filter(|((_, c), _)| c.is_empty()).map(|(_, n)| n).sum();
    assert!(unassigned < pool.values().sum(), "rows whose grid names a community go back to it");
}

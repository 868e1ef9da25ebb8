//! `wangge explain`: what ingest makes of files and why, writing nothing.

use crate::common::{repo, scratch, text, truth, wangge};
use crate::warehouse::sample_copy;

#[test]
fn explain_gives_every_sheet_its_mapping_evidence_context_and_first_rows_and_writes_nothing() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    let inbox = ws.join("inbox");
    let file = inbox.join("2022-05-10/荣馨园社区5.10.xlsx");
    let out = wangge(&[
        "--workspace",
        ws.to_str().unwrap(),
        "explain",
        "--date",
        "2022-05-10",
        inbox.join("台账/高新区网格台账（2022.5.7）.xlsx").to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    let said = text(&out.stderr);
    assert!(out.status.success(), "{said}");
    for want in [
        "form `returnees`",
        "report date 2022-05-10 (from title)",
        "community 130273001001 荣馨园社区",
        "citizen_id (synonym)",
        "row 1 skipped: title",
        "accepted",
    ] {
        assert!(said.contains(want), "`{want}` not in:\n{said}");
    }
    // Nothing was written: no warehouse file, no ledger.
    let written: Vec<_> = walk(&ws.join("warehouse"));
    assert!(written.is_empty(), "{written:?}");

    // Every file of the sample: every sheet truth.json reads gets its form and mapping.
    let mut args = vec!["--workspace".to_string(), ws.to_str().unwrap().into(), "explain".into()];
    args.extend(["--date".into(), "2022-05-10".into(), "--rows".into(), "3".into()]);
    args.extend(crate::ingest::files_under(&inbox).iter().map(|p| p.to_string_lossy().into_owned()));
    let out = wangge(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let said = text(&out.stderr);
    assert!(out.status.success(), "{said}");
    let t = truth(&repo().join("sample-data"));
    let read = t["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["sheets"].as_array().unwrap())
        .filter(|s| s["status"] == "read");
    assert_eq!(said.matches(", header row(s) ").count(), read.count(), "{said}");
    assert!(!said.contains("(pattern)") && !said.contains("(content"), "the sample's headers are all synonyms");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

//! Every input format through ingest, with fixtures written by other programs: the same
//! returnee sheet saved by openpyxl (.xlsx) and converted by LibreOffice (.xls, .ods), a GBK CSV,
//! an HTML table saved as .xls, a header-only sheet, and broken files (empty, corrupt,
//! password-protected) that get a clear error while every other file goes on.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use wangge::config::Workspace;
use wangge::ingest::{FileResult, SheetResult};
use wangge::runner;

use crate::common::{repo, scratch, text, wangge, wangge_expect};

fn workspace_with_fixtures(dir: &Path) -> PathBuf {
    let ws = dir.join("ws");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    let fixtures = repo().join("tests/fixtures");
    for entry in std::fs::read_dir(&fixtures).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".py") && entry.path().is_file() {
            std::fs::copy(entry.path(), ws.join("inbox").join(&name)).unwrap();
        }
    }
    // The grid registry the rows refer to.
    std::fs::create_dir_all(ws.join("inbox/台账")).unwrap();
    std::fs::copy(
        repo().join("sample-data/inbox/台账/高新区网格台账（2022.5.7）.xlsx"),
        ws.join("inbox/台账/网格台账2022.5.7.xlsx"),
    )
    .unwrap();
    ws
}

fn file<'a>(files: &'a [FileResult], name: &str) -> &'a FileResult {
    files.iter().find(|f| f.path == name).unwrap_or_else(|| panic!("{name} not ingested"))
}

fn sheet<'a>(f: &'a FileResult, name: &str) -> &'a SheetResult {
    f.sheets.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{}: no sheet {name}", f.path))
}

#[test]
fn every_format_is_read_and_broken_files_do_not_stop_the_run() {
    let dir = scratch();
    let ws_path = workspace_with_fixtures(dir.path());
    let ws = Workspace::load(&ws_path).unwrap();
    let report = runner::ingest(&ws, NaiveDate::from_ymd_opt(2022, 5, 10).unwrap(), &[], 2).unwrap();
    let files = &report.outcome.files;

    // The same sheet from three programs: title rows, a merged two-row header, an ID typed as a
    // number, a 合计 and a note row, a hidden sheet of stale rows.
    for name in ["returnees_libreoffice.ods", "returnees_libreoffice.xls", "returnees_openpyxl.xlsx"] {
        let f = file(files, name);
        assert!(f.error.is_none(), "{name}: {:?}", f.error);
        let s = sheet(f, "来返登记");
        assert_eq!(s.form.as_deref(), Some("returnees"), "{name}");
        assert_eq!(s.header_rows, vec![3, 4], "{name}");
        assert_eq!(s.report_date.to_string(), "2022-05-10", "{name}: date from the title");
        assert_eq!(s.community.as_deref(), Some("130273001001"), "{name}: community from the title");
        assert_eq!(s.counts.rows_read, 8, "{name}");
        assert_eq!(
            s.skips.iter().map(|(r, why)| (*r, why.code())).collect::<Vec<_>>(),
            vec![(1, "title"), (2, "title"), (3, "header"), (4, "header"), (7, "total"), (8, "note")],
            "{name}"
        );
        assert_eq!((s.rejects[0].row, s.rejects[0].reason), (5, "id_precision_lost"), "{name}");
        assert_eq!(sheet(f, "旧表").status.code(), "hidden", "{name}");
    }
    // 李娜 is in all three: kept in the first file in path order, a duplicate in the others.
    assert_eq!(sheet(file(files, "returnees_libreoffice.ods"), "来返登记").counts.accepted, 1);
    for name in ["returnees_libreoffice.xls", "returnees_openpyxl.xlsx"] {
        let dup = &sheet(file(files, name), "来返登记").rejects[1];
        assert_eq!((dup.row, dup.reason), (6, "duplicate"), "{name}");
        assert_eq!(dup.kept.as_ref().map(|k| (k.file.as_str(), k.row)), Some(("returnees_libreoffice.ods", 6)));
    }

    let csv = &file(files, "work_orders_gbk.csv").sheets[0];
    assert_eq!((csv.form.as_deref(), csv.counts.accepted), (Some("work_orders"), 2), "GBK CSV: {:?}", csv.rejects);

    let html = &file(files, "returnees_html_export.xls").sheets[0];
    assert_eq!((html.form.as_deref(), html.counts.accepted), (Some("returnees"), 1));
    assert_eq!(html.rejects.iter().map(|r| (r.row, r.reason)).collect::<Vec<_>>(), vec![(3, "invalid_id")]);

    let empty_form = &file(files, "returnees_header_only.xlsx").sheets[0];
    assert_eq!((empty_form.status.code(), empty_form.counts.rows_read, empty_form.counts.accepted), ("read", 2, 0));

    for (name, message) in [
        ("broken_empty.xlsx", "empty"),
        ("broken_corrupt.xlsx", "cannot read"),
        ("broken_encrypted.xlsx", "password-protected"),
    ] {
        let error = file(files, name).error.as_deref().unwrap_or_default();
        assert!(error.contains(message), "{name}: {error}");
    }

    // Through the command line: the broken files are named, the exit status says data problems.
    let other = scratch();
    let ws2 = workspace_with_fixtures(other.path());
    let out = wangge(&["--workspace", ws2.to_str().unwrap(), "ingest", "--date", "2022-05-10"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for name in ["broken_empty.xlsx", "broken_corrupt.xlsx", "broken_encrypted.xlsx"] {
        assert!(stderr.lines().any(|l| l.starts_with("error:") && l.contains(name)), "{name} not reported:\n{stderr}");
    }
    assert!(stderr.contains("work_orders_gbk.csv"), "{stderr}");
}

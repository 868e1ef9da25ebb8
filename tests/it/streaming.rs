//! Large workbooks are read as a stream of rows (`[ingest] stream_from_mib`, see
//! `ingest::stream`): the warehouse, every count and the 退回修改 workbooks must come out
//! exactly as when each workbook is read whole. Both tests ingest the same inbox twice, once
//! with streaming forced for every workbook, and compare.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook};

use crate::common::{repo, scratch, text, wangge_expect};
use crate::warehouse::sample_copy;

fn stream_every_workbook(ws: &Path) {
    let config = ws.join("wangge.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text.lines().find(|l| l.starts_with("stream_from_mib")).expect("the setting is in every new workspace");
    std::fs::write(config, text.replace(line, "stream_from_mib = 0")).unwrap();
}

/// What `wangge ingest` says, with the workspace's own path taken out.
fn ingest(ws: &Path) -> String {
    ingest_expect(ws, 0)
}

fn ingest_expect(ws: &Path, code: i32) -> String {
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "ingest", "--date", "2022-05-10"], code);
    text(&out.stderr).replace(ws.to_str().unwrap(), "WS")
}

/// `ingest_expect` with a failpoint set (see `wangge::failpoint`); the lines a panic prints are
/// taken out and returned apart.
fn ingest_with_failpoint(ws: &Path, failpoint: &str) -> (String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(["--workspace", ws.to_str().unwrap(), "ingest", "--date", "2022-05-10"])
        .env_remove("WANGGE_WORKSPACE")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .env("WANGGE_FAILPOINT", failpoint)
        // The panic is caught and its message withheld (it could quote a cell); here, on the
        // sample's invented data, it is shown, to prove the panic happened.
        .env("WANGGE_PANIC_DETAIL", "1")
        .output()
        .unwrap();
    let said = text(&out.stderr).replace(ws.to_str().unwrap(), "WS");
    assert_eq!(out.status.code(), Some(0), "{said}");
    // The panic's report: a blank line, its `panicked at` line, the message and the backtrace
    // note, wherever they fell among the summary's lines.
    let mut lines: Vec<&str> = said.lines().collect();
    let at = lines.iter().position(|l| l.contains("panicked at")).unwrap_or(lines.len());
    let start = if at > 0 && lines[at - 1].is_empty() { at - 1 } else { at };
    let mut end = (at + 2).min(lines.len());
    while end < lines.len() && (lines[end].starts_with("note: run with") || lines[end].is_empty()) {
        end += 1;
    }
    let panic: String = lines.drain(start..end).map(|l| format!("{l}\n")).collect();
    (lines.iter().map(|l| format!("{l}\n")).collect(), panic)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            files_under(&e.path(), out);
        } else {
            out.push(e.path());
        }
    }
}

/// Every warehouse file as text (its rows in order), by path: row groups and compression may
/// differ, the rows may not.
fn warehouse_rows(ws: &Path) -> BTreeMap<String, String> {
    let root = ws.join("warehouse");
    let mut files = Vec::new();
    files_under(&root, &mut files);
    files
        .into_iter()
        .map(|p| {
            let batches = wangge::warehouse::parquet_io::read(&p, &[]).unwrap();
            let shown = arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
            (p.strip_prefix(&root).unwrap().to_string_lossy().into_owned(), shown)
        })
        .collect()
}

/// The 退回修改 workbooks, by path, with their bytes.
fn returns(ws: &Path) -> BTreeMap<String, Vec<u8>> {
    let root = ws.join("reports");
    let mut files = Vec::new();
    files_under(&root, &mut files);
    files
        .into_iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "returns"))
        .map(|p| (p.strip_prefix(&root).unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

/// Ingests `whole` as it is and `streamed` with every workbook streamed; asserts that they
/// agree and returns what the streamed ingest said.
fn assert_same_ingest(whole: &Path, streamed: &Path) -> String {
    assert_same_ingest_exiting(whole, streamed, 0)
}

fn assert_same_ingest_exiting(whole: &Path, streamed: &Path, code: i32) -> String {
    stream_every_workbook(streamed);
    let said_whole = ingest_expect(whole, code);
    let said_streamed = ingest_expect(streamed, code);
    assert_same_outcome(whole, streamed, &said_whole, &said_streamed)
}

/// The warehouse, the summary and the 退回修改 workbooks of two ingests of the same inbox, one
/// of them streamed, are the same; returns what the streamed one said.
fn assert_same_outcome(whole: &Path, streamed: &Path, said_whole: &str, said_streamed: &str) -> String {
    let note = said_streamed.lines().find(|l| l.contains("as a stream of rows")).map(str::to_string);
    assert!(note.is_some(), "nothing was streamed:\n{said_streamed}");
    assert!(!said_whole.contains("as a stream of rows"), "{said_whole}");
    let without_note: String =
        said_streamed.lines().filter(|l| Some(l.to_string()) != note).map(|l| format!("{l}\n")).collect();
    assert_eq!(said_whole, without_note, "the ingest summaries differ");
    let (a, b) = (warehouse_rows(whole), warehouse_rows(streamed));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "the warehouse files differ");
    for (path, rows) in &a {
        let first = rows.lines().zip(b[path].lines()).position(|(x, y)| x != y);
        assert!(
            first.is_none() && rows.lines().count() == b[path].lines().count(),
            "rows of `{path}` differ, first at line {first:?}:\n{}\n{}",
            first.and_then(|i| rows.lines().nth(i)).unwrap_or_default(),
            first.and_then(|i| b[path].lines().nth(i)).unwrap_or_default(),
        );
    }
    assert_eq!(returns(whole), returns(streamed), "the 退回修改 workbooks differ");
    said_streamed.to_string()
}

/// A panic in the fast reader of large sheets (`ingest::xlsx_scan`) while the rows of a sheet
/// are read costs only speed: calamine reads on after the last row it handed over.
#[test]
fn a_panic_in_the_fast_reader_leaves_the_rest_of_the_sheet_to_calamine() {
    let (a, b) = (scratch(), scratch());
    let (whole, streamed) = (sample_copy(a.path()), sample_copy(b.path()));
    stream_every_workbook(&streamed);
    let said_whole = ingest_expect(&whole, 0);
    // Past the heads of all the sheets (at most 21 rows each), in the middle of the data rows.
    let (said_streamed, panic) = ingest_with_failpoint(&streamed, "fast_reader.row@6000:panic");
    assert!(panic.contains("failpoint `fast_reader.row`"), "no panic:\n{said_streamed}");
    assert_same_outcome(&whole, &streamed, &said_whole, &said_streamed);
}

#[test]
fn the_sample_district_streamed_gives_the_same_warehouse() {
    let (a, b) = (scratch(), scratch());
    let said = assert_same_ingest(&sample_copy(a.path()), &sample_copy(b.path()));
    let note = said.lines().find(|l| l.contains("as a stream of rows")).unwrap();
    let streamed: usize = note.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(streamed >= 100, "most of the sample's workbooks are .xlsx: {note}");
}

const HEADERS: [&str; 16] = [
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

/// Data rows of the large sheet.
const ROWS: usize = 3000;

fn id_of(i: usize) -> String {
    let birth = NaiveDate::from_ymd_opt(1960, 1, 1).unwrap() + chrono::Duration::days(i as i64);
    wangge::normalize::citizen_id::compose("130203", birth, 7)
}

/// A returnee sheet of several chunks of rows with the quirks that cross chunk boundaries: a
/// title and a two-row header merged over several columns, a grid merged down across the
/// boundary between two chunks, missing (blank) rows, a 合计 row, a repeated header, a
/// duplicate far from its first row, invalid IDs, and a note at the end.
fn write_large_sheet(path: &Path) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("来返登记").unwrap();
    let merged = Format::new();
    ws.merge_range(0, 0, 0, 15, "荣馨园社区来唐返唐人员登记表（2022年5月10日）", &merged).unwrap();
    for (c, h) in HEADERS.iter().enumerate() {
        if (11..=13).contains(&c) {
            ws.write_string(2, c as u16, *h).unwrap();
        } else {
            ws.merge_range(1, c as u16, 2, c as u16, h, &merged).unwrap();
        }
    }
    ws.merge_range(1, 11, 1, 13, "管控情况", &merged).unwrap();
    let date = Format::new().set_num_format("yyyy/m/d");
    let day = NaiveDate::from_ymd_opt(2022, 5, 10).unwrap();
    // The first data row is sheet row 3; chunks are 1,024 rows, so rows 1027 and 2051 start
    // chunks: the merged grid runs from 1000 to 1100.
    let (grid_from, grid_to) = (1000u32, 1100u32);
    ws.merge_range(grid_from, 6, grid_to, 6, "荣馨园社区第2网格", &merged).unwrap();
    for i in 0..ROWS {
        let r = (i + 3) as u32;
        if (1500..1511).contains(&r) {
            continue;
        }
        if r == 2000 {
            ws.write_string(r, 0, "合计").unwrap();
            ws.write_number(r, 1, 1996.0).unwrap();
            continue;
        }
        if r == 2500 {
            for (c, h) in HEADERS.iter().enumerate() {
                ws.write_string(r, c as u16, *h).unwrap();
            }
            continue;
        }
        let id = if i % 97 == 5 {
            let good = id_of(i);
            let wrong = if good.ends_with('0') { '1' } else { '0' };
            format!("{}{wrong}", &good[..17])
        } else if r == 2800 {
            id_of(10)
        } else {
            id_of(i)
        };
        ws.write_number(r, 0, (i + 1) as f64).unwrap();
        ws.write_string(r, 1, format!("王{i}")).unwrap();
        ws.write_string(r, 2, if i % 2 == 0 { "男" } else { "女" }).unwrap();
        ws.write_string(r, 3, &id).unwrap();
        ws.write_string(r, 4, format!("138{:08}", i)).unwrap();
        ws.write_string(r, 5, format!("荣馨园{}号楼", i % 20 + 1)).unwrap();
        if !(grid_from..=grid_to).contains(&r) {
            ws.write_string(r, 6, format!("第{}网格", i % 3 + 1)).unwrap();
        }
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
    ws.write_string((ROWS + 3) as u32, 0, "填表人：杨雪  审核人：李明").unwrap();
    wb.save(path).unwrap();
}

/// A CSV of the same form and day repeating the person of data row `i` of the large sheet.
fn write_csv_repeating(path: &Path, i: usize) {
    let line = format!(
        "1,张{i},男,{},13900000000,荣馨园1号楼,第1网格,北京市朝阳区,2022-05-10,自驾,低风险,居家健康监测,2022-05-10,2022-05-17,主动报备,杨雪",
        id_of(i)
    );
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("{}\n{line}\n", HEADERS.join(","))).unwrap();
}

fn large_workspace(dir: &Path) -> PathBuf {
    let ws = dir.join("ws");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    let registry = "台账/高新区网格台账（2022.5.7）.xlsx";
    std::fs::create_dir_all(ws.join("inbox/台账")).unwrap();
    std::fs::copy(repo().join("sample-data/inbox").join(registry), ws.join("inbox").join(registry)).unwrap();
    write_large_sheet(&ws.join("inbox/荣馨园社区5.10.xlsx"));
    // Before the large sheet in processing order (its path sorts first), and after it.
    write_csv_repeating(&ws.join("inbox/0补报/荣馨园社区5.10.csv"), 20);
    write_csv_repeating(&ws.join("inbox/荣馨园社区5.10补报.csv"), 30);
    ws
}

/// The same workspace, pseudonymisation key included, under `dir`.
fn copy_workspace(ws: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join("ws");
    crate::common::copy_dir(ws, &copy);
    copy
}

fn query(ws: &Path, sql: &str) -> String {
    text(&wangge_expect(&["--workspace", ws.to_str().unwrap(), "query", "--format", "csv", sql], 0).stdout)
}

#[test]
fn a_sheet_of_many_chunks_streamed_gives_the_same_rows_and_counts() {
    let (a, b) = (scratch(), scratch());
    let whole = large_workspace(a.path());
    let streamed = copy_workspace(&whole, b.path());
    assert_same_ingest(&whole, &streamed);

    // And what both agree on is right: every row accounted for, the merged grid filled down
    // across the chunk boundary, duplicates judged in processing order.
    let ledger = query(
        &streamed,
        "select rows_read, accepted, rejected, skipped from ingest_files where path = '荣馨园社区5.10.xlsx'",
    );
    let invalid = (0..ROWS).filter(|i| i % 97 == 5 && !(1497..1508).contains(i) && *i != 1997 && *i != 2497).count();
    // Sheet rows: title, two header rows, the data rows, the note.
    let rows_read = 3 + ROWS + 1;
    // Skipped: title, 2 header rows, 11 blank, 合计, repeated header, note.
    let skipped = 3 + 11 + 1 + 1 + 1;
    // Rejected: the invalid IDs and two duplicates (of the first CSV, and row 2800 of row 13).
    let rejected = invalid + 2;
    let accepted = rows_read - skipped - rejected;
    assert_eq!(ledger.lines().nth(1).unwrap(), format!("{rows_read},{accepted},{rejected},{skipped}"), "{ledger}");
    let kinds = query(
        &streamed,
        "select reason, source_row, message from rejects where source_file = '荣馨园社区5.10.xlsx' and reason = 'duplicate' order by source_row",
    );
    let lines: Vec<&str> = kinds.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{kinds}");
    assert!(lines[0].starts_with("duplicate,24,") && lines[0].contains("0补报/荣馨园社区5.10.csv"), "{kinds}");
    assert!(lines[1].starts_with("duplicate,2801,") && lines[1].contains("第14行"), "{kinds}");
    let later = query(
        &streamed,
        "select count(*) as n from rejects where source_file = '荣馨园社区5.10补报.csv' and reason = 'duplicate'",
    );
    assert_eq!(later.lines().nth(1), Some("1"), "{later}");
    let grids = query(
        &streamed,
        "select grid_code, count(*) as n from returnees where source_file = '荣馨园社区5.10.xlsx' and source_row between 1001 and 1101 group by grid_code",
    );
    let lines: Vec<&str> = grids.lines().skip(1).collect();
    // Data row i is Excel row i + 4; the merged rows less those with an invalid ID.
    let merged_accepted = (997..=1097).filter(|i| i % 97 != 5).count();
    assert_eq!(lines.len(), 1, "the merged grid fills all its rows: {grids}");
    assert!(lines[0].ends_with(&format!("00200,{merged_accepted}")), "{grids}");
}

#[test]
fn a_streamed_ingest_killed_mid_sheet_is_completed_by_the_next_run() {
    let (a, b) = (scratch(), scratch());
    let reference = large_workspace(a.path());
    stream_every_workbook(&reference);
    let killed = copy_workspace(&reference, b.path());
    ingest(&reference);

    // Killed (SIGKILL) once the second chunk of the large sheet's rows is written.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(["--workspace", killed.to_str().unwrap(), "ingest", "--date", "2022-05-10"])
        .env("WANGGE_FAILPOINT", "warehouse.rows@2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), None, "the run was to be killed: {}", text(&out.stderr));
    let mut left = Vec::new();
    files_under(&killed.join("warehouse"), &mut left);
    let names: Vec<String> = left.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert!(names.iter().any(|n| n.ends_with(".tmp")), "killed mid-sheet, a temporary file is left: {names:?}");
    assert!(
        !left.iter().any(|p| p.components().any(|c| c.as_os_str() == "ingest_files")),
        "nothing is in the ledger before every row is in place: {names:?}"
    );

    let said = ingest(&killed);
    assert!(said.contains("left by an interrupted run"), "{said}");
    let (want, got) = (warehouse_rows(&reference), warehouse_rows(&killed));
    assert_eq!(want.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
    for (path, rows) in &want {
        assert!(rows == &got[path], "`{path}` differs after the killed run was completed");
    }
}

/// Rewrites a workbook with text cell `cell` of its first sheet pointing past the end of the
/// shared strings, as a damaged file would have it.
fn damage(path: &Path, cell: &str) {
    use std::io::{Read, Write};
    let bytes = std::fs::read(path).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            let xml = String::from_utf8(content).unwrap();
            let at = xml.find(&format!("r=\"{cell}\"")).expect("the cell is in the sheet");
            let open = at + xml[at..].find("<v>").unwrap() + 3;
            let close = open + xml[open..].find("</v>").unwrap();
            assert!(xml[at..open].contains("t=\"s\""), "a shared-string cell");
            content = format!("{}99999999{}", &xml[..open], &xml[close..]).into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(&content).unwrap();
    }
    std::fs::write(path, out.finish().unwrap().into_inner()).unwrap();
}

#[test]
fn a_large_workbook_damaged_past_its_first_chunk_fails_as_a_whole_and_the_others_go_on() {
    let (a, b) = (scratch(), scratch());
    let whole = large_workspace(a.path());
    // Row 2004 is in the second chunk: by then the first chunk's rows were judged and written.
    damage(&whole.join("inbox/荣馨园社区5.10.xlsx"), "B2004");
    let streamed = copy_workspace(&whole, b.path());
    let said = assert_same_ingest_exiting(&whole, &streamed, 1);
    assert!(said.contains("error: `荣馨园社区5.10.xlsx`: cannot read the workbook: sheet `来返登记`"), "{said}");
    let returnees =
        query(&streamed, "select source_file, count(*) as n from returnees group by source_file order by 1");
    assert_eq!(
        returnees.lines().skip(1).collect::<Vec<_>>(),
        ["0补报/荣馨园社区5.10.csv,1", "荣馨园社区5.10补报.csv,1"],
        "the damaged file's rows are gone, and rows after it are not duplicates of them"
    );
}

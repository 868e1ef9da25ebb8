//! A corrected file replaces the earlier file's sheet for the same community, form and day, and
//! nothing else of it: the earlier file's other forms stay, its rows do not count as duplicates
//! of the correction, its rejects leave with it, and its ledger rows say `superseded`.

use std::path::Path;

use rust_xlsxwriter::Workbook;
use wangge::warehouse::{Warehouse, parquet_io};

use crate::common::{repo, scratch, text, wangge_expect};

const HEADER: [&str; 6] = ["姓名", "身份证号", "联系电话", "所属网格", "抵唐时间", "管控措施"];
const ZHANG: &str = "130203198506123012";
const LI: &str = "130203199001014026";
const WANG: &str = "130203197511115039";

fn workbook(path: &Path, returnees: &[[&str; 6]], followups: bool) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet().set_name("来返登记").unwrap();
    ws.write_string(0, 0, "荣馨园社区来唐返唐人员登记表（2022年5月10日）").unwrap();
    for (r, row) in std::iter::once(&HEADER).chain(returnees).enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    if followups {
        let ws = wb.add_worksheet().set_name("随访").unwrap();
        ws.write_string(0, 0, "荣馨园社区重点人员随访（2022年5月10日）").unwrap();
        for (c, v) in ["推送日期", "姓名", "手机号", "所属网格"].iter().enumerate() {
            ws.write_string(1, c as u16, *v).unwrap();
        }
        for (c, v) in ["2022-05-09", "赵六", "13912345670", "第2网格"].iter().enumerate() {
            ws.write_string(2, c as u16, *v).unwrap();
        }
    }
    wb.save(path).unwrap();
}

/// (source_file, rows) of a table, from the Parquet files.
fn rows_by_file(ws: &Path, table: &str) -> Vec<(String, usize)> {
    let warehouse = Warehouse::new(ws.join("warehouse"));
    let mut out: std::collections::BTreeMap<String, usize> = Default::default();
    for path in warehouse.table_files(table) {
        for batch in parquet_io::read(&path, &["source_file"]).unwrap() {
            let files = batch.column(0).as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
            for i in 0..batch.num_rows() {
                *out.entry(files.value(i).to_string()).or_default() += 1;
            }
        }
    }
    out.into_iter().collect()
}

#[test]
fn a_corrected_sheet_replaces_only_that_sheet_of_the_earlier_file() {
    let dir = scratch();
    let ws = dir.path().join("ws");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    std::fs::create_dir_all(ws.join("inbox/台账")).unwrap();
    std::fs::copy(repo().join("tests/fixtures/quirks/registry.xlsx"), ws.join("inbox/台账/registry.xlsx")).unwrap();
    let bad_id = "13020319850612301X";
    workbook(
        &ws.join("inbox/荣馨园社区5.10.xlsx"),
        &[
            ["张伟", ZHANG, "13812345678", "第1网格", "2022.5.10", "居家健康监测"],
            ["李娜", LI, "13912345678", "第2网格", "2022.5.10", "三天两检"],
            ["错号", bad_id, "", "第2网格", "2022.5.10", ""],
        ],
        true,
    );
    let ingest = || wangge_expect(&["--workspace", ws.to_str().unwrap(), "ingest", "--date", "2022-05-10"], 0);
    ingest();
    assert_eq!(rows_by_file(&ws, "returnees"), [("荣馨园社区5.10.xlsx".to_string(), 2)]);
    assert_eq!(rows_by_file(&ws, "rejects"), [("荣馨园社区5.10.xlsx".to_string(), 1)]);

    // The correction: the returnee sheet only, fixed, with one more person.
    workbook(
        &ws.join("inbox/荣馨园社区5.10（更正）.xlsx"),
        &[
            ["张伟", ZHANG, "13812345678", "第1网格", "2022.5.10", "居家健康监测"],
            ["李娜", LI, "13912345678", "第2网格", "2022.5.10", "三天两检"],
            ["王强", WANG, "13712345678", "第3网格", "2022.5.9", "居家健康监测"],
        ],
        false,
    );
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "ingest", "--date", "2022-05-10"], 0);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "Replaced sheet `来返登记` (returnees, 2022-05-10) of `荣馨园社区5.10.xlsx` with a corrected file"
        ),
        "{stderr}"
    );
    // Its people are not duplicates of the rows they replace.
    assert_eq!(rows_by_file(&ws, "returnees"), [("荣馨园社区5.10（更正）.xlsx".to_string(), 3)]);
    // The earlier file's follow-up sheet stays; its returnee reject has gone with its sheet.
    assert_eq!(rows_by_file(&ws, "followups"), [("荣馨园社区5.10.xlsx".to_string(), 1)]);
    assert_eq!(rows_by_file(&ws, "rejects"), []);
    let ledger = Warehouse::new(ws.join("warehouse")).ledger().unwrap();
    let mut statuses: Vec<(&str, &str, &str)> = ledger
        .iter()
        .filter(|e| !e.path.starts_with("台账"))
        .map(|e| (e.path.as_str(), e.sheet.as_str(), e.status.as_str()))
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("荣馨园社区5.10.xlsx", "来返登记", "superseded"),
            ("荣馨园社区5.10.xlsx", "随访", "read"),
            ("荣馨园社区5.10（更正）.xlsx", "来返登记", "read"),
        ]
    );
    // A third run changes nothing.
    let before = rows_by_file(&ws, "returnees");
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "ingest", "--date", "2022-05-10"], 0);
    assert!(text(&out.stderr).contains("Skipped 3 file(s) already ingested"), "{}", text(&out.stderr));
    assert_eq!(rows_by_file(&ws, "returnees"), before);
}

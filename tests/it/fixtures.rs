//! Fixture workbooks written by other programs than ours (openpyxl, LibreOffice), since real
//! inputs do not come from rust_xlsxwriter. They are made by `tests/fixtures/make_fixtures.py`.

use calamine::{Data, DataType, Reader, SheetVisible, open_workbook_auto};

use crate::common::repo;

#[test]
fn fixtures_from_other_programs_read_back_with_their_quirks() {
    let dir = repo().join("tests/fixtures");
    for name in ["returnees_openpyxl.xlsx", "returnees_libreoffice.xls", "returnees_libreoffice.ods"] {
        let mut wb = open_workbook_auto(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let meta = wb.sheets_metadata().to_vec();
        assert_eq!(meta[0].name, "来返登记", "{name}");
        // The hidden sheet of stale rows stays hidden through every program.
        assert!(meta.iter().any(|m| m.name == "旧表" && m.visible == SheetVisible::Hidden), "{name}: {meta:?}");
        let range = wb.worksheet_range("来返登记").unwrap();
        let cell = |r: u32, c: u32| range.get_value((r, c)).cloned().unwrap_or(Data::Empty);
        assert_eq!(cell(0, 0).to_string(), "荣馨园社区来唐返唐人员登记表", "{name}: title row");
        assert_eq!(cell(2, 1).to_string(), "基本信息", "{name}: merged parent header");
        assert_eq!(cell(3, 1).to_string(), "姓名", "{name}: child header");
        // The ID typed as a number lost its last digits in every format.
        let id = cell(4, 3);
        assert!(matches!(id, Data::Float(f) if f == 130203198506123000.0), "{name}: {id:?}");
        // Dates: a real date cell and a text spelling.
        assert!(cell(4, 5).is_datetime() || matches!(cell(4, 5), Data::DateTimeIso(_)), "{name}: {:?}", cell(4, 5));
        assert_eq!(cell(5, 5).to_string(), "2022.5.10", "{name}");
    }
    let csv = std::fs::read(dir.join("work_orders_gbk.csv")).unwrap();
    assert!(std::str::from_utf8(&csv).is_err());
    let (text, _, bad) = encoding_rs::GBK.decode(&csv);
    assert!(!bad && text.contains("荣馨园社区"));
}

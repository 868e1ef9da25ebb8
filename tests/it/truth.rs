//! `truth.json` agrees with the files: every sheet is re-read with calamine (or decoded from
//! GBK) and every row's stated fate is checked against the cells themselves.

use std::collections::BTreeMap;
use std::path::Path;

use calamine::{Data, Range, Reader, SheetVisible, open_workbook_auto};
use chrono::NaiveDate;
use serde_json::Value;
use wangge::config::forms::{FormConfig, load_forms};
use wangge::normalize::citizen_id::{self, NumericId};

use crate::common::{generated_sample, repo, truth};

/// A sheet's cells as (1-based row, column letter) → cell.
struct Grid {
    cells: BTreeMap<(usize, usize), Data>,
    last_row: usize,
}

impl Grid {
    fn from_range(range: &Range<Data>) -> Grid {
        let mut cells = BTreeMap::new();
        let mut last_row = 0;
        if let Some((r0, c0)) = range.start() {
            for (r, row) in range.rows().enumerate() {
                for (c, cell) in row.iter().enumerate() {
                    if *cell != Data::Empty {
                        let at = (r0 as usize + r + 1, c0 as usize + c);
                        last_row = last_row.max(at.0);
                        cells.insert(at, cell.clone());
                    }
                }
            }
        }
        Grid { cells, last_row }
    }

    fn from_csv(text: &str) -> Grid {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
        let mut cells = BTreeMap::new();
        let mut last_row = 0;
        for (r, record) in reader.records().enumerate() {
            last_row = r + 1;
            for (c, value) in record.unwrap().iter().enumerate() {
                if !value.is_empty() {
                    cells.insert((r + 1, c), Data::String(value.to_string()));
                }
            }
        }
        Grid { cells, last_row }
    }

    fn get(&self, row: usize, col: usize) -> &Data {
        self.cells.get(&(row, col)).unwrap_or(&Data::Empty)
    }

    fn row_text(&self, row: usize) -> Vec<String> {
        self.cells.range((row, 0)..(row + 1, 0)).map(|(_, d)| d.to_string()).collect()
    }
}

fn col(letter: &str) -> usize {
    letter.bytes().fold(0, |acc, b| acc * 26 + (b - b'A' + 1) as usize) - 1
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2022, 5, 10).unwrap()
}

/// The ID a cell holds, or why it is not valid.
fn check_id(cell: &Data) -> Result<String, &'static str> {
    match cell {
        Data::Float(f) => match citizen_id::classify_numeric(*f) {
            NumericId::Exact(s) => citizen_id::parse(&s, today()).map(|id| id.number).map_err(|e| e.detail_code()),
            NumericId::PrecisionLost(_) => Err("precision_lost"),
            NumericId::NotAnId(_) => Err("not_an_id"),
        },
        Data::String(s) => citizen_id::parse(s, today()).map(|id| id.number).map_err(|e| e.detail_code()),
        _ => Err("empty"),
    }
}

#[test]
fn truth_json_agrees_with_every_file_row_by_row() {
    let sample = generated_sample();
    let forms: BTreeMap<String, FormConfig> =
        load_forms(&repo().join("pipelines/forms")).unwrap().into_iter().map(|f| (f.form.clone(), f)).collect();
    let t = truth(sample);
    let mut checked_rejects: BTreeMap<String, usize> = BTreeMap::new();
    let mut accepted_ids = 0;
    let mut seen = Seen::default();
    for file in t["files"].as_array().unwrap() {
        let path = sample.join("inbox").join(file["path"].as_str().unwrap());
        check_file(&path, file, &forms, &mut checked_rejects, &mut accepted_ids, &mut seen);
    }
    // A duplicate holds the same identity as the row it points at.
    for d in &seen.duplicates {
        let (kept_grid, kept_columns) = &seen.sheets[&(d.kept_file.clone(), d.kept_sheet.clone())];
        let fields: &[&str] = match d.field.as_str() {
            "household_head" => &["household_head", "address"],
            other => &[other],
        };
        for field in fields {
            let dup = seen.sheets[&(d.file.clone(), d.sheet.clone())]
                .0
                .get(d.row, seen.sheets[&(d.file.clone(), d.sheet.clone())].1[*field])
                .clone();
            let kept = kept_grid.get(d.kept_row, kept_columns[*field]).clone();
            let same = match *field {
                "citizen_id" => check_id(&dup).is_ok() && check_id(&dup) == check_id(&kept),
                "phone" => {
                    wangge::normalize::text::compact(&dup.to_string())
                        == wangge::normalize::text::compact(&kept.to_string())
                }
                _ => dup.to_string() == kept.to_string() && dup != Data::Empty,
            };
            assert!(
                same,
                "duplicate {}:{} row {} `{field}` {dup:?} differs from kept {}:{} row {}: {kept:?}",
                d.file, d.sheet, d.row, d.kept_file, d.kept_sheet, d.kept_row
            );
        }
    }
    assert!(!seen.duplicates.is_empty());
    // Every kind of planted problem is present in the sample and was checked against its cell.
    for reason in [
        "invalid_id",
        "id_precision_lost",
        "missing_required",
        "invalid_date",
        "unknown_grid",
        "unknown_value",
        "duplicate",
    ] {
        assert!(
            checked_rejects.get(reason).copied().unwrap_or(0) > 0,
            "no `{reason}` reject in the sample: {checked_rejects:?}"
        );
    }
    // A work order whose grid cannot be told is kept with a warning (未定网格), not rejected.
    for warning in ["ambiguous_grid", "unknown_grid"] {
        let planted: u64 = t["files"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| f["sheets"].as_array().unwrap())
            .filter(|s| s["form"] == "work_orders")
            .filter_map(|s| s["warnings"][warning].as_u64())
            .sum();
        assert!(planted > 0, "no work order kept with `{warning}` in the sample");
    }
    assert!(accepted_ids > 5_000, "only {accepted_ids} accepted IDs checked");
}

/// Sheets read so far and the duplicates found, for the cross-file check of duplicates.
#[derive(Default)]
struct Seen {
    sheets: BTreeMap<(String, String), (Grid, BTreeMap<String, usize>)>,
    duplicates: Vec<Duplicate>,
}

struct Duplicate {
    file: String,
    sheet: String,
    row: usize,
    field: String,
    kept_file: String,
    kept_sheet: String,
    kept_row: usize,
}

fn check_file(
    path: &Path,
    file: &Value,
    forms: &BTreeMap<String, FormConfig>,
    rejects: &mut BTreeMap<String, usize>,
    accepted_ids: &mut usize,
    seen: &mut Seen,
) {
    let name = file["path"].as_str().unwrap();
    let mut grids: Vec<(String, Option<SheetVisible>, Grid)> = Vec::new();
    if file["format"] == "csv" {
        let bytes = std::fs::read(path).unwrap();
        let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
        assert!(!bad, "{name}: not GBK");
        grids.push((String::new(), None, Grid::from_csv(&text)));
    } else {
        let mut wb = open_workbook_auto(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let meta = wb.sheets_metadata().to_vec();
        for m in meta {
            let range = wb.worksheet_range(&m.name).unwrap();
            grids.push((m.name.clone(), Some(m.visible), Grid::from_range(&range)));
        }
    }
    let sheets = file["sheets"].as_array().unwrap();
    assert_eq!(sheets.len(), grids.len(), "{name}: sheet count");
    // Rows are located by their 1-based row within the grid for CSV and by Excel row otherwise.
    for (sheet, (sheet_name, visible, grid)) in sheets.iter().zip(grids) {
        let here = format!("{name} [{sheet_name}]");
        if file["format"] != "csv" {
            assert_eq!(sheet["name"].as_str().unwrap(), sheet_name, "{here}: sheet order");
        }
        let status = sheet["status"].as_str().unwrap();
        assert_eq!(status == "hidden", visible == Some(SheetVisible::Hidden), "{here}: visibility");
        if status != "read" {
            assert_eq!(sheet["rows_read"].as_u64(), Some(0), "{here}");
            continue;
        }
        let rows_read = sheet["rows_read"].as_u64().unwrap() as usize;
        assert_eq!(grid.last_row, rows_read, "{here}: rows_read is the last used row");
        let accepted = sheet["accepted"].as_u64().unwrap() as usize;
        let sum = |k: &str| sheet[k].as_object().unwrap().values().map(|v| v.as_u64().unwrap() as usize).sum::<usize>();
        assert_eq!(accepted + sum("rejected") + sum("skipped"), rows_read, "{here}: accepted + rejected + skipped");

        let form = &forms[sheet["form"].as_str().unwrap()];
        let columns: BTreeMap<&str, usize> =
            sheet["columns"].as_object().unwrap().iter().map(|(k, v)| (k.as_str(), col(v.as_str().unwrap()))).collect();
        let header_rows: Vec<usize> =
            sheet["header_rows"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        // Every column's header (the lowest non-empty header cell) names its field in the declared form.
        for (field, &c) in &columns {
            let header = header_rows
                .iter()
                .rev()
                .map(|&r| grid.get(r, c))
                .find(|d| **d != Data::Empty)
                .map(|d| d.to_string())
                .unwrap_or_default();
            let named = form.field_for_header(&header).map(|f| f.name.as_str());
            assert_eq!(named, Some(*field), "{here}: header `{header}` should name `{field}`");
        }

        let mut fate: BTreeMap<usize, &str> = BTreeMap::new();
        for skip in sheet["skips"].as_array().unwrap() {
            let row = skip["row"].as_u64().unwrap() as usize;
            let reason = skip["reason"].as_str().unwrap();
            fate.insert(row, "skip");
            let cells = grid.row_text(row);
            let first = cells.first().cloned().unwrap_or_default();
            match reason {
                "blank" => assert!(cells.is_empty(), "{here} row {row}: blank row has {cells:?}"),
                "total" => assert!(
                    ["合计", "小计", "总计"].iter().any(|k| cells.iter().take(2).any(|c| c.contains(k))),
                    "{here} row {row}: {cells:?}"
                ),
                "note" => assert!(["填表", "注"].iter().any(|k| first.starts_with(k)), "{here} row {row}: {cells:?}"),
                "zero_report" => assert_eq!(cells, vec!["无".to_string()], "{here} row {row}"),
                "title" => assert!(!first.is_empty() && row < header_rows[0], "{here} row {row}"),
                "header" => assert!(header_rows.contains(&row) && !cells.is_empty(), "{here} row {row}"),
                "repeated_header" => {
                    for (field, &c) in &columns {
                        let named = form.field_for_header(&grid.get(row, c).to_string()).map(|f| f.name.as_str());
                        assert_eq!(named, Some(*field), "{here} row {row}: repeated header");
                    }
                }
                other => panic!("{here}: unknown skip reason {other}"),
            }
        }
        for reject in sheet["rejects"].as_array().unwrap() {
            let row = reject["row"].as_u64().unwrap() as usize;
            let c = col(reject["column"].as_str().unwrap());
            let cell = grid.get(row, c);
            let reason = reject["reason"].as_str().unwrap();
            fate.insert(row, "reject");
            *rejects.entry(reason.to_string()).or_default() += 1;
            let raw = reject["raw"].as_str().unwrap();
            let shown = match cell {
                Data::Float(f) => wangge::normalize::text::number_text(*f),
                Data::Empty => String::new(),
                other => other.to_string(),
            };
            if !matches!(cell, Data::DateTime(_)) {
                assert_eq!(shown, raw, "{here} row {row}: raw value");
            }
            match reason {
                "invalid_id" => assert_eq!(check_id(cell).err(), reject["detail"].as_str(), "{here} row {row}: {raw}"),
                "id_precision_lost" => {
                    assert_eq!(check_id(cell).err(), Some("precision_lost"), "{here} row {row}: {raw}")
                }
                "missing_required" => {
                    assert_eq!(*cell, Data::Empty, "{here} row {row}");
                    let field = reject["field"].as_str().unwrap();
                    assert!(
                        form.fields.iter().any(|f| f.name == field && f.required),
                        "{here}: `{field}` is not required"
                    );
                }
                "invalid_date" => assert!(matches!(cell, Data::String(_)), "{here} row {row}: a bad date is text"),
                "unknown_grid" | "ambiguous_grid" | "unknown_value" => assert!(!raw.is_empty(), "{here} row {row}"),
                "invalid_integer" => {
                    assert!(!raw.is_empty(), "{here} row {row}");
                    assert!(raw.trim().parse::<i64>().is_err(), "{here} row {row}: {raw} is a number");
                }
                "duplicate" => {
                    let kept = &reject["kept"];
                    seen.duplicates.push(Duplicate {
                        file: name.to_string(),
                        sheet: sheet["name"].as_str().unwrap().to_string(),
                        row,
                        field: reject["field"].as_str().unwrap().to_string(),
                        kept_file: kept["file"].as_str().unwrap().to_string(),
                        kept_sheet: kept["sheet"].as_str().unwrap().to_string(),
                        kept_row: kept["row"].as_u64().unwrap() as usize,
                    });
                }
                other => panic!("{here}: unexpected reason {other}"),
            }
        }
        // Accepted rows: required cells present, IDs valid.
        let data_rows = (header_rows.last().copied().unwrap_or(0) + 1)..=rows_read;
        let mut accepted_seen = 0;
        for row in data_rows {
            if fate.contains_key(&row) {
                continue;
            }
            accepted_seen += 1;
            for field in form.fields.iter().filter(|f| f.required) {
                if let Some(&c) = columns.get(field.name.as_str()) {
                    assert_ne!(
                        *grid.get(row, c),
                        Data::Empty,
                        "{here} row {row}: required `{}` empty in an accepted row",
                        field.name
                    );
                }
            }
            if let Some(&c) = columns.get("citizen_id") {
                let cell = grid.get(row, c);
                if *cell != Data::Empty {
                    assert!(
                        check_id(cell).is_ok(),
                        "{here} row {row}: accepted ID {cell:?} fails GB 11643: {:?}",
                        check_id(cell)
                    );
                    *accepted_ids += 1;
                }
            }
        }
        assert_eq!(accepted_seen, accepted, "{here}: accepted rows");
        let owned_columns = columns.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        seen.sheets.insert((name.to_string(), sheet["name"].as_str().unwrap().to_string()), (grid, owned_columns));
    }
}

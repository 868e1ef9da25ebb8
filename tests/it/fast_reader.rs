//! Large xlsx sheets are read by wangge's own scanner of the sheet XML (`ingest::xlsx_scan`),
//! which must give exactly the rows calamine's streaming reader gives, and hand over to
//! calamine where it meets XML it does not expect.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use calamine::Reader;
use rust_xlsxwriter::{Color, Format, Formula, Workbook};
use wangge::ingest::read::Visibility;
use wangge::ingest::stream::calamine_rows;
use wangge::ingest::xlsx_scan::{Package, Unsupported};
use wangge::normalize::value::Cell;

use crate::common::{repo, scratch};

type Rows = Vec<(usize, Vec<Cell>)>;

/// The sheets as calamine lists them: name and visibility.
fn sheets_of(path: &Path) -> Vec<(String, Visibility)> {
    let xlsx: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
    let visibility = |v: calamine::SheetVisible| match v {
        calamine::SheetVisible::Visible => Visibility::Visible,
        calamine::SheetVisible::Hidden => Visibility::Hidden,
        calamine::SheetVisible::VeryHidden => Visibility::VeryHidden,
    };
    xlsx.sheets_metadata().iter().map(|s| (s.name.clone(), visibility(s.visible))).collect()
}

/// The rows the fast reader gives before it stops, and whether it stopped.
fn fast_rows(package: &Package, sheet: &str) -> (Rows, Result<(), Unsupported>) {
    let mut rows = Vec::new();
    let result = package.each_row(sheet, |r, cells| {
        rows.push((r, cells));
        true
    });
    (rows, result)
}

/// What the ingest reads of a large workbook: its sheets' names, and one sheet's rows as the
/// fast reader and, where it stops, calamine give them.
fn ingest_rows(path: &Path, sheet: &str) -> (Vec<String>, Rows) {
    let (heads, workbook) = wangge::ingest::stream::read_head(path).unwrap();
    let mut rows = Vec::new();
    wangge::ingest::stream::rows_of(&workbook, sheet, |r, cells| {
        rows.push((r, cells));
        true
    })
    .unwrap();
    (heads.into_iter().map(|h| h.name).collect(), rows)
}

fn xlsx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            xlsx_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "xlsx" || x == "xlsm") && !p.to_string_lossy().contains("broken") {
            out.push(p);
        }
    }
}

/// Every committed xlsx workbook (fixtures and the sample district) and one with every kind
/// of cell: the fast reader reads each sheet to the end and gives calamine's rows.
#[test]
fn the_fast_reader_gives_calamines_rows_for_every_committed_workbook() {
    let dir = scratch();
    let mut files = Vec::new();
    xlsx_files(&repo().join("tests/fixtures"), &mut files);
    // The hostile corpus is made to break readers, not to be read the same by two of them.
    files.retain(|p| !p.starts_with(repo().join("tests/fixtures/hostile")));
    xlsx_files(&repo().join("sample-data/inbox"), &mut files);
    let every_kind = dir.path().join("every_kind.xlsx");
    write_every_kind(&every_kind, false);
    let streamed = dir.path().join("every_kind_constant_memory.xlsx");
    write_every_kind(&streamed, true);
    let long = dir.path().join("long.xlsx");
    write_long(&long);
    files.extend([every_kind, streamed, long]);
    assert!(files.len() > 100, "{} workbooks", files.len());
    let mut sheets_read = 0;
    for path in &files {
        let sheets = sheets_of(path);
        let package = Package::open(path).unwrap_or_else(|| panic!("{}: shared parts", path.display()));
        let listed: Vec<(String, Visibility)> = package.sheets().map(|(n, v)| (n.to_string(), v)).collect();
        assert_eq!(listed, sheets, "{}", path.display());
        for (name, _) in sheets {
            let expected = calamine_rows(path, &name).unwrap();
            let (rows, result) = fast_rows(&package, &name);
            assert_eq!(result, Ok(()), "{} `{name}`: the fast reader stopped", path.display());
            assert_eq!(rows, expected, "{} `{name}`", path.display());
            sheets_read += 1;
        }
    }
    assert!(sheets_read > files.len());
}

/// A row whose cell has no reference stops the fast reader; calamine reads on from there and
/// the rows are still calamine's.
#[test]
fn xml_the_fast_reader_does_not_expect_is_read_by_calamine_after_its_last_row() {
    let dir = scratch();
    // Row 6's cell B6 loses its reference (allowed: it is the cell after A6).
    let odd = every_kind_changed(dir.path(), "odd.xlsx", "xl/worksheets/sheet1.xml", |xml| {
        assert!(xml.contains(r#"<c r="B6""#), "{xml}");
        xml.replacen(r#"<c r="B6""#, "<c", 1)
    });
    let names: Vec<String> = sheets_of(&odd).into_iter().map(|(n, _)| n).collect();
    let package = Package::open(&odd).unwrap();
    let (rows, result) = fast_rows(&package, &names[0]);
    assert_eq!(result, Err(Unsupported { last_row: Some(4) }), "it stops at row 6 (index 5)");
    assert_eq!(rows.last().map(|(r, _)| *r), Some(4));

    let expected = calamine_rows(&odd, &names[0]).unwrap();
    assert!(expected.len() > 6);
    // What the ingest does with such a sheet: the fast reader's rows, then calamine's.
    let (names_streamed, combined) = ingest_rows(&odd, &names[0]);
    assert_eq!(names_streamed[0], names[0]);
    assert_eq!(combined, expected);
}

/// The same sheet written the ways other programs write XML: pretty-printed, with a namespace
/// prefix, with a comment or CDATA in it. Wherever the fast reader stops, the rows the ingest
/// reads are still calamine's.
#[test]
fn other_spellings_of_the_sheet_xml_give_calamines_rows() {
    let dir = scratch();
    let written = dir.path().join("written.xlsx");
    write_every_kind(&written, false);
    let name = sheets_of(&written)[0].0.clone();
    let data = |xml: &str| {
        let start = xml.find("<sheetData>").expect("sheetData");
        let end = xml.find("</sheetData>").expect("sheetData's end") + "</sheetData>".len();
        (start, end)
    };
    type Spelling = (&'static str, fn(&str) -> String, bool);
    let spellings: [Spelling; 4] = [
        ("pretty-printed", |rows| rows.replace("><", ">\n  <"), true),
        (
            "prefixed",
            |rows| {
                let mut out = rows.to_string();
                for tag in ["sheetData", "row", "c", "v", "f", "is", "t", "r", "rPr"] {
                    out = out.replace(&format!("<{tag}>"), &format!("<x:{tag}>"));
                    out = out.replace(&format!("<{tag} "), &format!("<x:{tag} "));
                    out = out.replace(&format!("</{tag}>"), &format!("</x:{tag}>"));
                }
                out
            },
            true,
        ),
        ("a comment", |rows| rows.replacen("<row r=\"8\"", "<!-- 第8行 --><row r=\"8\"", 1), false),
        ("CDATA", |rows| rows.replacen("<v>", "<v><![CDATA[]]>", 40), false),
    ];
    for (label, spell, read_to_the_end) in spellings {
        let path = dir.path().join(format!("{label}.xlsx"));
        rewrite_part(&written, &path, "xl/worksheets/sheet1.xml", |xml| {
            let (start, end) = data(&xml);
            let mut out = xml[..start].to_string();
            out.push_str(&spell(&xml[start..end]));
            out.push_str(&xml[end..]);
            if label == "prefixed" {
                out = out.replacen(
                    "<worksheet ",
                    "<worksheet xmlns:x=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" ",
                    1,
                );
            }
            out
        });
        let expected = calamine_rows(&path, &name).unwrap();
        assert!(expected.len() > 10, "{label}");
        let (_, result) = fast_rows(&Package::open(&path).unwrap(), &name);
        assert_eq!(result.is_ok(), read_to_the_end, "{label}: {result:?}");
        let (_, combined) = ingest_rows(&path, &name);
        assert_eq!(combined, expected, "{label}");
    }
}

/// A workbook whose dates count from 1904 (older Mac Excel): both readers shift them alike.
#[test]
fn dates_counted_from_1904_are_read_as_calamine_reads_them() {
    let dir = scratch();
    let written = dir.path().join("written.xlsx");
    write_every_kind(&written, false);
    let mac = every_kind_changed(dir.path(), "mac.xlsx", "xl/workbook.xml", |xml| {
        assert!(xml.contains("<workbookPr"), "{xml}");
        xml.replacen("<workbookPr", r#"<workbookPr date1904="1""#, 1)
    });
    let name = &sheets_of(&mac)[0].0;
    let (rows, result) = fast_rows(&Package::open(&mac).unwrap(), name);
    assert_eq!(result, Ok(()));
    assert_eq!(rows, calamine_rows(&mac, name).unwrap());
    let (rows_1900, _) = fast_rows(&Package::open(&written).unwrap(), name);
    assert_ne!(rows, rows_1900, "the dates moved");
}

/// Text with markup characters, spaces and line breaks, rich text, numbers, dates in several
/// formats (Chinese built-in ones too), times, durations, booleans, errors, formulas with
/// their results, blank formatted cells, a second and a hidden sheet.
fn write_every_kind(path: &Path, constant_memory: bool) {
    let mut wb = Workbook::new();
    let ws = if constant_memory { wb.add_worksheet_with_constant_memory().unwrap() } else { wb.add_worksheet() };
    ws.set_name("来返登记").unwrap();
    let date = Format::new().set_num_format("yyyy/m/d");
    let chinese_date = Format::new().set_num_format_index(31);
    let date_time = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let time = Format::new().set_num_format("h:mm");
    let duration = Format::new().set_num_format("[h]:mm:ss");
    let money = Format::new().set_num_format("#,##0.00_);[Red](#,##0.00)");
    let red = Format::new().set_font_color(Color::Red).set_bold();
    let texts = [
        "荣馨园社区",
        "a & b < c > d \"e\" 'f'",
        "  两端有空格  ",
        "第一行\n第二行",
        "=SUM(A1:A2)",
        "0013",
        "110101199003077777",
        "",
    ];
    for (i, text) in texts.iter().enumerate() {
        ws.write_string(i as u32, 0, *text).unwrap();
    }
    for r in 0..12u32 {
        let day = chrono::NaiveDate::from_ymd_opt(2022, 5, 1).unwrap() + chrono::Duration::days(r as i64);
        ws.write_number(r, 1, r as f64 * 1.5 - 3.0).unwrap();
        ws.write_date_with_format(r, 2, day, &date).unwrap();
        ws.write_date_with_format(r, 3, day, &chinese_date).unwrap();
        ws.write_number_with_format(r, 4, 44691.5 + r as f64 / 7.0, &date_time).unwrap();
        ws.write_number_with_format(r, 5, (r as f64) / 24.0, &time).unwrap();
        ws.write_number_with_format(r, 6, 1.25 + r as f64, &duration).unwrap();
        ws.write_number_with_format(r, 7, -1234.5678 * r as f64, &money).unwrap();
        ws.write_boolean(r, 8, r % 2 == 0).unwrap();
        ws.write_formula(r, 9, Formula::new(format!("=B{}*2", r + 1)).set_result(format!("{}", r as f64 * 3.0 - 6.0)))
            .unwrap();
        ws.write_formula(r, 10, Formula::new("=\"网格\"&ROW()").set_result(format!("网格{}", r + 1))).unwrap();
        ws.write_formula(r, 11, Formula::new("=NA()").set_result("#N/A")).unwrap();
        ws.write_blank(r, 12, &red).unwrap();
        ws.write_number(r, 13, [1e-7, 1e20, 0.1 + 0.2, 123456789012.0][r as usize % 4]).unwrap();
    }
    ws.write_rich_string(12, 0, &[(&red, "荣"), (&Format::default(), "馨园 "), (&red, "3 网格")]).unwrap();
    ws.write_string(13, 20, "far right").unwrap();
    ws.write_string(40, 2, "after a gap").unwrap();
    ws.merge_range(41, 0, 42, 3, "合并单元格", &Format::default()).unwrap();
    let second = wb.add_worksheet();
    second.set_name("第二页 & 说明").unwrap();
    second.write_string(0, 0, "说明：本表").unwrap();
    second.write_number(3, 1, 7.0).unwrap();
    let hidden = wb.add_worksheet();
    hidden.set_name("隐藏").unwrap();
    hidden.write_string(0, 0, "隐藏的表").unwrap();
    hidden.set_hidden(true);
    wb.save(path).unwrap();
}

/// A sheet whose XML and shared strings are several times the reader's 1 MiB pieces, so that
/// rows and strings are cut at the end of a piece and parsed again with the next.
fn write_long(path: &Path) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let date = Format::new().set_num_format("yyyy/m/d");
    let day = chrono::NaiveDate::from_ymd_opt(2022, 5, 10).unwrap();
    for r in 0..20_000u32 {
        ws.write_string(r, 0, format!("居民{r} 荣馨园{}号楼", r % 97)).unwrap();
        ws.write_string(r, 1, format!("1302031985{:08}", r)).unwrap();
        ws.write_number(r, 2, r as f64 / 3.0).unwrap();
        ws.write_date_with_format(r, 3, day + chrono::Duration::days((r % 400) as i64), &date).unwrap();
        ws.write_string(r, 4, format!("第{}网格 & 备注 <{r}>", r % 7)).unwrap();
        if r % 5 != 0 {
            ws.write_string(r, 7, format!("{r:x}")).unwrap();
        }
    }
    wb.save(path).unwrap();
    let sheet = crate::common::zip_part(path, "xl/worksheets/sheet1.xml");
    let strings = crate::common::zip_part(path, "xl/sharedStrings.xml");
    assert!(sheet.len() > 3 << 20 && strings.len() > 2 << 20, "{} and {} bytes", sheet.len(), strings.len());
}

/// `write_every_kind`'s workbook, as `name` in `dir`, with one part's XML changed.
fn every_kind_changed(dir: &Path, name: &str, part: &str, change: impl Fn(String) -> String) -> PathBuf {
    let written = dir.join(format!("{name}.written.xlsx"));
    write_every_kind(&written, false);
    let changed = dir.join(name);
    rewrite_part(&written, &changed, part, change);
    changed
}

/// Copies a package with one part's XML changed.
fn rewrite_part(from: &Path, to: &Path, part: &str, change: impl Fn(String) -> String) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if name == part {
            bytes = change(String::from_utf8(bytes).unwrap()).into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap();
}

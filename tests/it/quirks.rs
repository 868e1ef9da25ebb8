//! One committed fixture per spreadsheet quirk (tests/fixtures/quirks, made by make_quirks.py),
//! each ingested against the fixtures' own small grid registry, with the fate of every row
//! checked: accepted (and the value it became), rejected with its reason, or skipped with its
//! reason.

use chrono::NaiveDate;
use wangge::config::Workspace;
use wangge::config::forms::FormConfig;
use wangge::ingest::rows::Value;
use wangge::ingest::{FileResult, SheetResult};
use wangge::runner::{self, IngestReport};

use crate::common::{repo, scratch, wangge_expect};

struct Ingested {
    _dir: tempfile::TempDir,
    report: IngestReport,
    forms: Vec<FormConfig>,
}

impl Ingested {
    fn file(&self, name: &str) -> &FileResult {
        let files = &self.report.outcome.files;
        files.iter().find(|f| f.path == name).unwrap_or_else(|| {
            panic!("{name} not ingested; files: {:?}", files.iter().map(|f| &f.path).collect::<Vec<_>>())
        })
    }

    /// The first sheet of a file that was read as a form.
    fn sheet(&self, name: &str) -> &SheetResult {
        let f = self.file(name);
        assert!(f.error.is_none(), "{name}: {:?}", f.error);
        f.sheets.iter().find(|s| s.status.code() == "read").unwrap_or_else(|| panic!("{name}: no sheet read"))
    }

    /// A field's value in an accepted row.
    fn value<'a>(&self, sheet: &'a SheetResult, row: usize, field: &str) -> &'a Value {
        let form = self.forms.iter().find(|f| Some(&f.form) == sheet.form.as_ref()).expect("form");
        let i = form.fields.iter().position(|f| f.name == field).unwrap_or_else(|| panic!("no field {field}"));
        let (_, record) =
            sheet.records.iter().find(|(r, _)| *r == row).unwrap_or_else(|| panic!("row {row} not accepted"));
        &record.values[i]
    }
}

/// Ingests `files` (paths under tests/fixtures/quirks) with the quirks' registry.
fn ingest(files: &[&str], run_date: &str) -> Ingested {
    let dir = scratch();
    let ws = dir.path().join("ws");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    let quirks = repo().join("tests/fixtures/quirks");
    std::fs::create_dir_all(ws.join("inbox/台账")).unwrap();
    std::fs::copy(quirks.join("registry.xlsx"), ws.join("inbox/台账/registry.xlsx")).unwrap();
    for name in files {
        let to = ws.join("inbox").join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(quirks.join(name), &to).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let workspace = Workspace::load(&ws).unwrap();
    let forms = runner::load_forms(&workspace).unwrap();
    let date = NaiveDate::parse_from_str(run_date, "%Y-%m-%d").unwrap();
    let report = runner::ingest(&workspace, date, &[], 2).unwrap();
    let registry = report.outcome.files.iter().find(|f| f.path == "台账/registry.xlsx").unwrap();
    assert_eq!(registry.sheets[0].counts.accepted, 8, "the quirks' registry: 8 sub-grids");
    Ingested { _dir: dir, report, forms }
}

/// Every row of a sheet, in order: `ok`, `reject:<reason>` or `skip:<reason>`; and a check that
/// they add up to the rows read.
fn fates(sheet: &SheetResult) -> Vec<String> {
    let mut rows: Vec<(usize, String)> = Vec::new();
    rows.extend(sheet.records.iter().map(|(r, _)| (*r, "ok".to_string())));
    rows.extend(sheet.rejects.iter().map(|r| (r.row, format!("reject:{}", r.reason))));
    rows.extend(sheet.skips.iter().map(|(r, why)| (*r, format!("skip:{}", why.code()))));
    rows.sort();
    let numbers: Vec<usize> = rows.iter().map(|(r, _)| *r).collect();
    assert_eq!(numbers, (1..=sheet.counts.rows_read as usize).collect::<Vec<_>>(), "every row once: {rows:?}");
    rows.into_iter().map(|(_, f)| f).collect()
}

fn grid(v: &Value) -> &str {
    match v {
        Value::Grid(g) => &g.grid_code,
        other => panic!("not a grid: {other:?}"),
    }
}

fn date(v: &Value) -> String {
    match v {
        Value::Date(d) => d.to_string(),
        other => panic!("not a date: {other:?}"),
    }
}

fn reject(sheet: &SheetResult, row: usize) -> &wangge::ingest::Reject {
    sheet.rejects.iter().find(|r| r.row == row).unwrap_or_else(|| panic!("row {row} not rejected"))
}

const RYY: &str = "130273001001"; // 荣馨园社区
const LJ: &str = "130273001002"; // 临江社区

#[test]
fn title_blank_repeated_header_total_and_note_rows_are_skipped_with_their_reason() {
    let got = ingest(&["rows_title_blank_total_note.xlsx"], "2022-05-10");
    let s = got.sheet("rows_title_blank_total_note.xlsx");
    assert_eq!(
        fates(s),
        [
            "skip:title",
            "skip:title",
            "skip:header",
            "ok",
            "skip:blank",
            "ok",
            "skip:repeated_header",
            "ok",
            "skip:total",
            "skip:total",
            "skip:total",
            "skip:note",
            "skip:note",
            "skip:note"
        ]
    );
    assert_eq!((s.counts.rows_read, s.counts.accepted, s.counts.skipped_total()), (14, 3, 11));
    assert_eq!((s.community.as_deref(), s.report_date.to_string().as_str()), (Some(RYY), "2022-05-10"));
    assert_eq!(grid(got.value(s, 8, "grid")), "13027300100100300", "第3网格 in 荣馨园社区");
}

#[test]
fn header_synonyms_annotations_and_full_width_are_matched() {
    let got = ingest(&["header_synonyms_annotations.xlsx"], "2022-05-10");
    let s = got.sheet("header_synonyms_annotations.xlsx");
    let fields: Vec<(usize, &str, Option<&str>)> =
        s.headers.iter().map(|(c, h)| (*c, h.label.as_str(), h.field.as_deref())).collect();
    assert_eq!(
        fields,
        [
            (0, "编号", None),
            (1, "姓　名", Some("name")),
            (2, "公民身份号码（必填）", Some("citizen_id")),
            (3, "手机号码(11位)", Some("phone")),
            (4, "网格名称", Some("grid")),
            (5, "返乡时间", Some("arrival_date")),
            (6, "管控措施（居家/集中）", Some("measure")),
            (7, "ＢＺ", None),
        ]
    );
    assert_eq!(fates(s), ["skip:title", "skip:header", "ok"]);
    assert_eq!(got.value(s, 3, "measure"), &Value::Text("居家健康监测".into()), "居家监测 through the synonym map");
}

#[test]
fn a_header_wording_no_form_lists_is_read_through_its_words_and_a_synonym_suggested() {
    let got = ingest(&["header_new_variant.xlsx"], "2022-05-10");
    let s = got.sheet("header_new_variant.xlsx");
    assert_eq!((s.form.as_deref(), s.counts.accepted), (Some("returnees"), 1), "{:?}", s.status);
    // 到唐日期 is 到 + 日期: the arrival date, by pattern, and the ledger and summary say so.
    let arrival = s.headers.values().find(|h| h.field.as_deref() == Some("arrival_date")).unwrap();
    assert_eq!(
        (arrival.label.as_str(), arrival.decided_by.map(|e| e.describe())),
        ("到唐日期", Some("pattern".into()))
    );
    assert_eq!(
        s.suggestions().iter().map(|x| x.line()).collect::<Vec<_>>(),
        [
            "pipelines/forms/returnees.toml, field `arrival_date`: add \"到唐日期\" to `synonyms` (recognised by pattern)"
        ]
    );
    assert!(s.column_fields().contains("E 到唐日期=arrival_date (pattern)"), "{}", s.column_fields());
    assert!(s.column_fields().contains("B 姓名=name (synonym)"), "{}", s.column_fields());
}

#[test]
fn a_new_header_wording_is_one_synonym_line_in_the_form() {
    let got = ingest(&["header_unknown_wording.xlsx"], "2022-05-10");
    let sheet = &got.file("header_unknown_wording.xlsx").sheets[0];
    match &sheet.status {
        wangge::ingest::SheetStatus::Unrecognised { closest, missing, .. } => {
            assert_eq!((closest.as_deref(), missing.as_slice()), (Some("returnees"), &["到达时间".to_string()][..]));
        }
        other => panic!("expected unrecognised, got {other:?}"),
    }
    // The columns no field took are the candidates for the one it lacks: the line to add.
    let lines: Vec<String> = sheet.suggestions().iter().map(|s| s.line()).collect();
    assert!(
        lines.contains(
            &"pipelines/forms/returnees.toml, field `arrival_date`: add \"落地时间\" to `synonyms` (if that column holds it: the sheet matches no form without it)"
                .to_string()
        ),
        "{lines:#?}"
    );
    // Run again with the forms unchanged: nothing is read again.
    let ws = got._dir.path().join("ws");
    let date = NaiveDate::from_ymd_opt(2022, 5, 10).unwrap();
    let unchanged = runner::ingest(&Workspace::load(&ws).unwrap(), date, &[], 1).unwrap();
    assert!(unchanged.outcome.files.is_empty(), "{:?}", unchanged.outcome.files);
    assert_eq!(unchanged.already_ingested, ["header_unknown_wording.xlsx", "台账/registry.xlsx"]);
    // The data officer adds 落地时间 to the form's synonyms and runs again.
    let form = ws.join("pipelines/forms/returnees.toml");
    let text = std::fs::read_to_string(&form).unwrap();
    let edited = text.replace(r#""抵达日期"]"#, r#""抵达日期", "落地时间"]"#);
    assert_ne!(edited, text, "the arrival_date synonyms line");
    std::fs::write(&form, edited).unwrap();
    // The same file is read again (the sheet matched no form last time), and replaces its
    // earlier ledger rows.
    let again = runner::ingest(&Workspace::load(&ws).unwrap(), date, &[], 1).unwrap();
    assert_eq!(again.already_ingested, ["台账/registry.xlsx"]);
    let s = &again.outcome.files[0].sheets[0];
    assert_eq!((s.form.as_deref(), s.counts.accepted), (Some("returnees"), 1), "{:?}", s.status);
    let ledger = wangge::warehouse::Warehouse::new(ws.join("warehouse")).ledger().unwrap();
    let rows: Vec<(&str, &str)> = ledger
        .iter()
        .filter(|e| e.path == "header_unknown_wording.xlsx")
        .map(|e| (e.status.as_str(), e.sheet.as_str()))
        .collect();
    assert_eq!(rows, [("read", "来返登记")], "one ledger row, the new one");
}

#[test]
fn a_header_over_two_merged_rows_joins_parent_and_child() {
    let got = ingest(&["header_two_rows_merged.xlsx"], "2022-05-10");
    let s = got.sheet("header_two_rows_merged.xlsx");
    assert_eq!(s.header_rows, [2, 3]);
    assert_eq!(fates(s), ["skip:title", "skip:header", "skip:header", "ok"]);
    assert_eq!(s.community.as_deref(), Some(LJ));
    assert_eq!(grid(got.value(s, 4, "grid")), "13027300100200200", "所属网格 merged over both header rows");
    assert_eq!(date(got.value(s, 4, "arrival_date")), "2022-05-10", "返唐时间 under the 返唐信息 parent");
}

#[test]
fn unrecognised_sheets_name_the_closest_form_and_hidden_sheets_are_reported() {
    let got = ingest(&["sheets_unrecognised_and_hidden.xlsx"], "2022-05-10");
    let f = got.file("sheets_unrecognised_and_hidden.xlsx");
    let statuses: Vec<(&str, String)> = f
        .sheets
        .iter()
        .map(|s| {
            let detail = match &s.status {
                wangge::ingest::SheetStatus::Unrecognised { closest, missing, .. } => {
                    format!("unrecognised {} missing {}", closest.as_deref().unwrap_or("-"), missing.join(","))
                }
                other => other.code().to_string(),
            };
            (s.name.as_str(), detail)
        })
        .collect();
    assert_eq!(
        statuses,
        [
            // Its one known header, 日期, is a date of several forms: the closest is the one that
            // misses the fewest required fields (消防安全检查: 地址 and 所属网格).
            ("值班表", "unrecognised fire_safety missing 地址,所属网格".to_string()),
            ("旧表", "hidden".to_string()),
            ("半张表", "unrecognised returnees missing 所属网格,到达时间".to_string()),
        ]
    );
    assert!(f.sheets.iter().all(|s| s.records.is_empty()), "nothing read from them");
}

#[test]
fn citizen_ids_are_normalised_checked_upgraded_and_never_guessed() {
    let got = ingest(&["ids.xlsx"], "2022-05-10");
    let s = got.sheet("ids.xlsx");
    assert_eq!(
        fates(s),
        [
            "skip:title",
            "skip:header",
            "ok",
            "reject:duplicate",
            "ok",
            "reject:duplicate",
            "ok",
            "ok",
            "reject:invalid_id",
            "reject:invalid_id",
            "reject:id_precision_lost",
            "reject:missing_required",
            "reject:invalid_id"
        ]
    );
    let id = |row| match got.value(s, row, "citizen_id") {
        Value::Id(id) => (**id).clone(),
        other => panic!("{other:?}"),
    };
    let first = id(3);
    assert_eq!((first.birth_date.to_string(), first.gender.label()), ("1985-06-12".into(), "男"));
    // Full-width digits, and spaces with a lower-case x, normalise to the rows above.
    assert_eq!(reject(s, 4).kept.as_ref().map(|k| k.row), Some(3));
    assert_eq!(reject(s, 6).kept.as_ref().map(|k| k.row), Some(5));
    assert_eq!(id(5).number, "11010519491231002X", "upper-case X");
    assert_eq!(id(7).number, "13020319600202007X", "a leading apostrophe dropped");
    let upgraded = id(8);
    assert_eq!((upgraded.number.as_str(), upgraded.upgraded_from_15), ("130203196203030311", true));
    assert!(reject(s, 9).message.contains("校验位"), "{}", reject(s, 9).message);
    assert!(reject(s, 10).message.contains("晚于"), "{}", reject(s, 10).message);
    let lost = reject(s, 11);
    assert!(lost.message.contains("无法还原") && lost.raw.starts_with("1302031970070"), "{lost:?}");
    assert_eq!((reject(s, 12).header.as_str(), reject(s, 12).column), ("身份证号", 2));
}

#[test]
fn phones_are_normalised_and_a_bad_one_is_a_warning_not_a_reject() {
    let got = ingest(&["phones.xlsx"], "2022-05-10");
    let s = got.sheet("phones.xlsx");
    assert_eq!(s.counts.accepted, 8);
    let phones = |row| match got.value(s, row, "phone") {
        Value::Phones(p) => p.join("/"),
        Value::Null => String::new(),
        other => panic!("{other:?}"),
    };
    let got_phones: Vec<String> = (3..=10).map(phones).collect();
    assert_eq!(
        got_phones,
        ["13812345678", "13812345678", "13812345678", "0315-2345678", "13812345678/13987654321", "13812345678", "", ""]
    );
    let warnings: Vec<(usize, &str, &str)> = s.warnings.iter().map(|w| (w.row, w.code, w.raw.as_str())).collect();
    assert_eq!(warnings, [(9, "invalid_phone", "1381234567"), (10, "invalid_phone", "12812345678")]);
}

#[test]
fn dates_in_every_spelling_and_a_year_inferred_not_after_the_run_date() {
    let got = ingest(&["dates.xlsx"], "2022-05-10");
    let s = got.sheet("dates.xlsx");
    let dates: Vec<String> = (3..=12).map(|row| date(got.value(s, row, "arrival_date"))).collect();
    assert_eq!(
        dates,
        [
            "2022-05-09",
            "2022-05-10",
            "2022-05-08",
            "2022-05-07",
            "2022-05-06",
            "2022-05-05",
            "2022-05-04",
            "2022-05-03",
            "2022-05-02",
            "2021-12-30"
        ]
    );
    let rejects: Vec<(usize, &str, &str)> = s.rejects.iter().map(|r| (r.row, r.reason, r.raw.as_str())).collect();
    assert_eq!(
        rejects,
        [(13, "invalid_date", "昨天"), (14, "invalid_date", "2022.2.30"), (15, "missing_required", "")]
    );
}

#[test]
fn enumerations_go_through_their_synonym_map() {
    let got = ingest(&["enums.xlsx"], "2022-05-10");
    let s = got.sheet("enums.xlsx");
    let measure = |row| got.value(s, row, "measure").clone();
    let text = |t: &str| Value::Text(t.into());
    assert_eq!(
        [measure(3), measure(4), measure(5), measure(6), measure(8)],
        [text("居家健康监测"), text("居家健康监测"), text("居家隔离"), text("三天两检"), Value::Null]
    );
    let bad = reject(s, 7);
    assert_eq!((bad.reason, bad.raw.as_str()), ("unknown_value", "自行隔离"));
    assert!(bad.message.contains("居家健康监测"), "the message lists the valid values: {}", bad.message);
}

#[test]
fn booleans_and_integers_from_the_usual_spellings() {
    let got = ingest(&["booleans_integers.xlsx"], "2022-05-10");
    let s = got.sheet("booleans_integers.xlsx");
    assert_eq!(s.form.as_deref(), Some("followups"));
    assert_eq!(s.counts.accepted, 7);
    let reached: Vec<Value> = (3..=9).map(|row| got.value(s, row, "reached").clone()).collect();
    let b = Value::Bool;
    assert_eq!(reached, [b(true), b(false), b(true), b(false), b(true), b(false), Value::Null]);
    let times: Vec<Value> = (3..=9).map(|row| got.value(s, row, "followup_times").clone()).collect();
    let i = Value::Int;
    assert_eq!(times, [i(1), i(2), i(3), Value::Null, i(0), Value::Null, i(1)]);
    let warnings: Vec<(usize, &str, &str)> = s.warnings.iter().map(|w| (w.row, w.code, w.raw.as_str())).collect();
    assert_eq!(warnings, [(8, "invalid_integer", "两次"), (9, "unknown_value", "不确定")]);
}

#[test]
fn grids_resolve_by_code_or_by_name_in_the_community_and_unknown_names_list_the_candidates() {
    let got = ingest(&["grids_by_code_and_name.xlsx"], "2022-05-10");
    let s = got.sheet("grids_by_code_and_name.xlsx");
    assert_eq!(fates(s)[2..], ["ok", "ok", "ok", "ok", "ok", "ok", "ok", "reject:unknown_grid", "ok"]);
    let grids: Vec<&str> = [3, 4, 5, 6, 7, 8, 9, 11].iter().map(|row| grid(got.value(s, *row, "grid"))).collect();
    let g = |n: u32| format!("{RYY}{n:03}00");
    assert_eq!(grids, [g(2), g(3), g(3), g(3), g(2), g(3), g(3), "13027300100200100".into()]);
    match got.value(s, 8, "grid") {
        Value::Grid(resolved) => assert_eq!(resolved.sub_grid_code.as_deref(), Some("13027300100100301")),
        other => panic!("{other:?}"),
    }
    let unknown = reject(s, 10);
    assert_eq!(unknown.raw, "第9网格");
    assert!(unknown.message.contains("第1网格、第2网格、第3网格"), "{}", unknown.message);

    let got = ingest(&["grids_ambiguous.xlsx"], "2022-05-10");
    let s = got.sheet("grids_ambiguous.xlsx");
    assert_eq!(s.community, None, "no community in title, sheet, file or folder");
    assert_eq!(fates(s), ["skip:title", "skip:header", "reject:ambiguous_grid", "ok"]);
    let ambiguous = reject(s, 3);
    for candidate in ["荣馨园社区第2网格", "临江社区第2网格", "东坪村第2网格"] {
        assert!(ambiguous.message.contains(candidate), "{}", ambiguous.message);
    }
    assert_eq!(grid(got.value(s, 4, "grid")), "13027310120100200");
}

#[test]
fn duplicates_are_kept_once_within_a_file_and_across_communities() {
    let got = ingest(&["duplicates_a_荣馨园社区.xlsx", "duplicates_b_临江社区.xlsx"], "2022-05-10");
    let a = got.sheet("duplicates_a_荣馨园社区.xlsx");
    let b = got.sheet("duplicates_b_临江社区.xlsx");
    assert_eq!(fates(a), ["skip:title", "skip:header", "ok", "ok", "reject:duplicate"]);
    assert_eq!(fates(b), ["skip:title", "skip:header", "reject:duplicate"]);
    for (sheet, row) in [(a, 5), (b, 3)] {
        let kept = reject(sheet, row).kept.clone().expect("points at the kept row");
        assert_eq!((kept.file.as_str(), kept.row), ("duplicates_a_荣馨园社区.xlsx", 3));
    }
    assert_eq!(got.report.written.rows.get("returnees"), Some(&2), "two people in the warehouse");
}

/// A duplicate of a row kept by an earlier run on the same report date is rejected too: the
/// warehouse's identities of the run's report dates count, not only the run's own files.
#[test]
fn duplicates_count_against_rows_an_earlier_run_kept_on_the_same_day() {
    let first = ingest(&["duplicates_a_荣馨园社区.xlsx"], "2022-05-10");
    let ws = first._dir.path().join("ws");
    let name = "duplicates_b_临江社区.xlsx";
    std::fs::copy(repo().join("tests/fixtures/quirks").join(name), ws.join("inbox").join(name)).unwrap();
    let date = NaiveDate::from_ymd_opt(2022, 5, 10).unwrap();
    let report = runner::ingest(&Workspace::load(&ws).unwrap(), date, &[], 2).unwrap();
    assert_eq!(report.outcome.files.len(), 1, "only the new file is read");
    let b = report.outcome.files[0].sheets.iter().find(|s| s.status.code() == "read").unwrap();
    assert_eq!(fates(b), ["skip:title", "skip:header", "reject:duplicate"]);
    let kept = reject(b, 3).kept.clone().expect("points at the kept row");
    assert_eq!((kept.file.as_str(), kept.row), ("duplicates_a_荣馨园社区.xlsx", 3));
}

#[test]
fn report_date_and_community_come_from_title_sheet_file_name_or_folder() {
    let files = [
        "context/临江社区3.4.xlsx",
        "context/3月5日 东坪村 来返登记.xlsx",
        "context/登记表.xlsx",
        "context/河湾社区（3.6）.xls",
        "context/2022-03-07/荣馨园社区/来返登记.xlsx",
        "context/东坪村年末.xlsx",
    ];
    // The run after the registry's date (2022-05-07): a registry dated after its run is refused.
    let got = ingest(&files, "2022-05-10");
    let seen: Vec<(String, String, &str, String)> = files
        .iter()
        .map(|f| {
            let s = got.sheet(f);
            assert_eq!(s.counts.accepted, 1, "{f}: {:?}", s.rejects);
            (
                s.report_date.to_string(),
                format!("{:?}", s.date_source),
                s.community.as_deref().unwrap_or("-"),
                f.to_string(),
            )
        })
        .collect();
    let want = [
        ("2022-03-04", "FileName", "130273001002"),
        ("2022-03-05", "FileName", "130273101201"),
        ("2022-03-06", "SheetName", "130273001003"),
        ("2022-03-06", "FileName", "130273001003"),
        ("2022-03-07", "Folder", RYY),
        ("2021-12-28", "Title", "130273101201"),
    ];
    for ((date, source, community, file), (d, src, c)) in seen.iter().zip(want) {
        assert_eq!((date.as_str(), source.as_str(), *community), (d, src, c), "{file}");
    }
}

#[test]
fn tab_separated_txt_utf8_bom_csv_xlsm_and_xlsb_are_read() {
    for name in ["work_orders_tab.txt", "work_orders_utf8_bom.csv"] {
        let got = ingest(&[name], "2022-05-10");
        let s = got.sheet(name);
        assert_eq!(s.form.as_deref(), Some("work_orders"), "{name}");
        assert_eq!(fates(s), ["skip:header", "ok", "ok"], "{name}");
        assert_eq!(got.value(s, 2, "channel"), &Value::Text("12345".into()), "{name}: 12345热线");
        assert_eq!(grid(got.value(s, 3, "grid")), "13027300100200200", "{name}: 临江社区第2网格");
    }
    for name in ["format_macro.xlsm", "format_binary.xlsb"] {
        let got = ingest(&[name], "2022-05-10");
        let s = got.sheet(name);
        assert_eq!(fates(s)[2..], ["ok"], "{name}");
        assert_eq!(s.community.as_deref(), Some("130273001003"), "{name}");
    }
    // An .xlsb with records the reader would skip is named, not read with cells missing.
    let got = ingest(&["format_binary_short_records.xlsb"], "2022-05-10");
    let short = got.file("format_binary_short_records.xlsb");
    let error = short.error.as_deref().unwrap_or_default();
    assert!(error.contains("save it as .xlsx") && error.contains("sheet1.bin"), "{error}");
}

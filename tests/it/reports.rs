//! The daily reports on the sample district: one for the district, each town and each grid, in
//! Excel and HTML; each holds only its own unit's rows; the same data gives the same bytes;
//! openpyxl opens the workbooks; hostile text stays inert; chromium renders the district page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::{Reader, open_workbook_auto};

use crate::common::{repo, scratch, text, wangge_expect, zip_part};
use crate::warehouse::{ingest, sample_copy};

const DATE: &str = "2022-05-10";

pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == ext)).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// The cells of a sheet as text, rows below the header rows, without the 合计 row.
pub fn data_rows(path: &Path, sheet: &str, header_rows: usize) -> Vec<Vec<String>> {
    let mut wb = open_workbook_auto(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let range = wb.worksheet_range(sheet).unwrap_or_else(|e| panic!("{}: {sheet}: {e}", path.display()));
    range
        .rows()
        .skip(1 + header_rows)
        .map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<_>>())
        .filter(|r| r.first().is_some_and(|c| c != "合计"))
        .collect()
}

fn query_counts(ws: &Path, sql: &str) -> BTreeMap<String, usize> {
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "query", sql, "--format", "csv"], 0);
    text(&out.stdout)
        .lines()
        .skip(1)
        .map(|l| {
            let (k, v) = l.rsplit_once(',').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// The folders of a day's reports, one per scope of the bundled reports.toml, the district first.
pub const SCOPE_FOLDERS: &[&str] = &["district", "town", "community", "grid", "building"];

fn snapshot_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for scope in SCOPE_FOLDERS {
        for ext in ["xlsx", "html"] {
            for f in files(&dir.join(scope), ext) {
                out.insert(f.clone(), std::fs::read(&f).unwrap());
            }
        }
    }
    out.insert(dir.join("index.html"), std::fs::read(dir.join("index.html")).unwrap());
    out
}

#[test]
fn run_writes_every_report_each_with_only_its_own_rows_and_the_same_bytes_twice() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    ingest(&ws);
    let ws_arg = ws.to_str().unwrap();
    let out = wangge_expect(&["--workspace", ws_arg, "run", "daily", "--date", DATE], 0);
    let day = ws.join("reports").join(DATE);
    // One building report per building of the day's testing turnout (scope `building`).
    let buildings =
        query_counts(&ws, &format!("SELECT building_code, 1 FROM testing_buildings WHERE report_date = DATE '{DATE}'"))
            .len();
    assert!(buildings > 50, "{buildings} buildings");
    let written = format!("Wrote {} report workbook(s)", 1 + 4 + 40 + 784 + buildings);
    assert!(text(&out.stderr).contains(&written), "{written}: {}", text(&out.stderr));
    for (scope, n) in [("district", 1), ("town", 4), ("community", 40), ("grid", 784), ("building", buildings)] {
        assert_eq!(files(&day.join(scope), "xlsx").len(), n, "{scope} workbooks");
        assert_eq!(files(&day.join(scope), "html").len(), n, "{scope} pages");
    }
    assert!(!day.join("county").exists(), "a district alone has no county (区县) reports: its own is that");
    // (tera escapes `/` in attributes as `&#x2F;`, which browsers read as `/`)
    let index = std::fs::read_to_string(day.join("index.html")).unwrap().replace("&#x2F;", "/");
    assert!(index.contains("town/130273101-老庄子镇.xlsx") && index.contains("grid/13027300100100100-"), "{index}");
    assert!(index.contains("returns/") && index.contains("退回修改"), "the 退回修改 workbooks are listed");
    // The index is the district's command centre: its key figures, its units with their
    // exceptions in a sortable table (every community), the trend chart, then the links.
    let at =
        |title: &str| crate::common::heading_at(&index, title).unwrap_or_else(|| panic!("no {title} in the index"));
    assert!(at("今日要点") < at("各村(社区)异常一览") && at("各村(社区)异常一览") < at("14日趋势"));
    assert!(at("14日趋势") < at("全区"), "the links come after the overview");
    let communities = &index[at("各村(社区)异常一览")..at("14日趋势")];
    assert_eq!(communities.matches("<tr>").count(), 1 + 40, "a header row and the 40 communities");
    assert!(index.contains("table class=\"sortable\"") && index[at("14日趋势")..].contains("<svg"));
    assert!(!index.contains("src=\"http") && !index.contains("href=\"http"), "nothing external");

    // Scope: a town's workbook holds only its town's communities and completeness rows.
    let towns = files(&day.join("town"), "xlsx");
    for town in &towns {
        let name = town.file_stem().unwrap().to_string_lossy().split_once('-').unwrap().1.to_string();
        for sheet in ["各村(社区)汇总", "报送情况"] {
            let header_rows = if sheet == "报送情况" { 1 } else { 2 };
            let rows = data_rows(town, sheet, header_rows);
            assert!(!rows.is_empty(), "{}: {sheet} is empty", town.display());
            assert!(rows.iter().all(|r| r[0] == name), "{}: {sheet} holds another town's rows", town.display());
        }
    }
    // A grid's workbook: its own grid row only, and exactly its own people under measure.
    let under_measure = query_counts(
        &ws,
        &format!(
            "SELECT grid_code, count(*) FROM returnees_under_measure WHERE report_date = DATE '{DATE}' GROUP BY grid_code"
        ),
    );
    let grid_names = query_counts(
        &ws,
        &format!(
            "SELECT grid_code || '|' || community || grid_name, 1 FROM daily_grid WHERE report_date = DATE '{DATE}'"
        ),
    );
    let names: BTreeMap<&str, &str> = grid_names.keys().map(|k| k.split_once('|').unwrap()).collect();
    for grid in files(&day.join("grid"), "xlsx") {
        let code = grid.file_stem().unwrap().to_string_lossy().split_once('-').unwrap().0.to_string();
        let rows = data_rows(&grid, "各网格", 2);
        assert_eq!(rows.len(), 1, "{}", grid.display());
        assert_eq!(format!("{}{}", rows[0][0], rows[0][1]), names[code.as_str()], "{}", grid.display());
        let people = data_rows(&grid, "在管来返人员", 1);
        assert_eq!(
            people.len(),
            under_measure.get(&code).copied().unwrap_or(0),
            "{}: people under measure",
            grid.display()
        );
        assert!(people.iter().all(|p| p[1].contains("********")), "{}: IDs masked", grid.display());
    }

    // The same data gives the same bytes.
    let first = snapshot_bytes(&day);
    wangge_expect(&["--workspace", ws_arg, "run", "daily", "--date", DATE], 0);
    let second = snapshot_bytes(&day);
    assert_eq!(first.len(), (1 + 4 + 40 + 784 + buildings) * 2 + 1);
    for (path, bytes) in &first {
        assert!(second.get(path) == Some(bytes), "{} changed on a second run", path.display());
    }

    // openpyxl opens the district and town workbooks and finds the print setup and chart.
    let district = files(&day.join("district"), "xlsx").remove(0);
    let script = format!(
        "import openpyxl, json\n\
         out = {{}}\n\
         for p in {paths:?}:\n\
         \x20   wb = openpyxl.load_workbook(p)\n\
         \x20   ws = wb['各镇街汇总'] if '各镇街汇总' in wb.sheetnames else wb.worksheets[0]\n\
         \x20   out[p] = [wb.sheetnames, ws.freeze_panes, ws.print_title_rows, ws.page_setup.orientation, ws.page_setup.paperSize, ws.oddFooter.center.text, sum(len(s._charts) for s in wb.worksheets), str(wb.properties.created)]\n\
         print(json.dumps(out, ensure_ascii=False))",
        paths = std::iter::once(&district).chain(&towns).map(|p| p.to_string_lossy().into_owned()).collect::<Vec<_>>()
    );
    let out = Command::new("python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &got[district.to_string_lossy().as_ref()];
    // The day's key figures, then the exception lists, then the tables.
    assert_eq!(
        d[0],
        serde_json::json!([
            "今日要点",
            "应报未报与零报告",
            "超时未随访与联系不上",
            "超期工单（最早受理在前）",
            "特殊人群超期未走访",
            "连续未走访网格",
            "消防隐患未整改",
            "核酸检测参检率低于90%的楼栋",
            "巡查发现问题",
            "各镇街汇总",
            "各村(社区)汇总",
            "报送情况",
            "工单分类",
            "14日趋势",
            "消防安全检查（各村(社区)）",
            "核酸检测参检情况（各村(社区)）",
            "专属网格巡查队伍"
        ])
    );
    assert_eq!(
        (d[1].as_str(), d[2].as_str(), d[3].as_str(), d[4].as_u64()),
        (Some("A4"), Some("$1:$3"), Some("landscape"), Some(9))
    );
    assert!(d[5].as_str().unwrap().contains("第 &P 页 共 &N 页"), "{d}");
    assert_eq!(d[6], 3, "the trend: one chart per measure");
    assert_eq!(d[7], "2022-05-10 00:00:00", "created at the report date");

    // HTML: self-contained, escaped, with the title; chromium renders it to a non-blank PNG.
    let page = std::fs::read_to_string(district.with_extension("html")).unwrap();
    assert!(page.contains("唐山高新区网格化管理日报（2022年5月10日）"), "the title");
    assert_eq!(page.matches("<svg").count(), 3, "the trend: one chart per measure, each on its own scale");
    for external in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(!page.contains(external), "external or active content: {external}");
    }
    let png = dir.path().join("district.png");
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,1400"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", district.with_extension("html").display()))
        .output()
        .expect("chromium (installed by .ci/run)");
    assert!(png.exists(), "no screenshot: {}", text(&out.stderr));
    let shot = repo().join("target/report-screenshots");
    std::fs::create_dir_all(&shot).unwrap();
    std::fs::copy(&png, shot.join("district-2022-05-10.png")).unwrap();
    let script = format!(
        "import zlib, struct, json\n\
         data = open('{}', 'rb').read()\n\
         w, h = struct.unpack('>II', data[16:24])\n\
         idat = b''.join(data[i+8:i+8+struct.unpack('>I', data[i:i+4])[0]] for i in [j-4 for j in range(len(data)) if data[j:j+4] == b'IDAT'])\n\
         raw = zlib.decompress(idat)\n\
         print(json.dumps({{'w': w, 'h': h, 'distinct': len(set(raw[::97]))}}))",
        png.display()
    );
    let out = Command::new("python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(got["distinct"].as_u64().unwrap() > 8, "the screenshot looks blank: {got}");

    // At a phone's width and a desktop's, no page is wider than the window: wide tables scroll
    // inside their own box. Measured by chromium on a copy of each page with a probe script
    // added (the reports themselves have none); headless chromium's narrowest window is 500 px.
    let town = towns[0].with_extension("html");
    let grid = files(&day.join("grid"), "html").remove(0);
    // A mail client that drops the <style> block (webmail, Outlook) is played by a copy of the
    // district and grid pages without it: still no wider than the window, and every overdue
    // count still red (the probe counts `td.overdue` cells whose computed colour is #cf222e).
    let pages = [district.with_extension("html"), town, grid.clone(), day.join("index.html")];
    let stripped = [district.with_extension("html"), grid];
    let runs = pages.iter().map(|p| (p, false)).chain(stripped.iter().map(|p| (p, true)));
    for (page, strip) in runs {
        let probe = dir.path().join("probe.html");
        let mut html = std::fs::read_to_string(page).unwrap();
        if strip {
            let (start, end) = (html.find("<style>").unwrap(), html.find("</style>").unwrap() + "</style>".len());
            html.replace_range(start..end, "");
        }
        let html = html.replace(
            "</body>",
            "<script>var od = document.querySelectorAll('td.overdue'); var red = Array.prototype.filter.call(od, function (td) { return getComputedStyle(td).color === 'rgb(207, 34, 46)'; }).length; document.body.setAttribute('data-width', document.documentElement.scrollWidth + ' ' + window.innerWidth + ' ' + red + ' ' + od.length);</script></body>",
        );
        std::fs::write(&probe, html).unwrap();
        for width in [390, 1000] {
            let out = Command::new("chromium")
                .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
                .arg(format!("--window-size={width},900"))
                .arg(format!("file://{}", probe.display()))
                .output()
                .unwrap();
            let dom = text(&out.stdout);
            let at = dom.find("data-width=\"").unwrap_or_else(|| panic!("no probe: {}", text(&out.stderr))) + 12;
            let measured: Vec<u32> =
                dom[at..].split('"').next().unwrap().split(' ').map(|n| n.parse().unwrap()).collect();
            assert!(
                measured[0] <= measured[1],
                "{} at {width} px (stylesheet dropped: {strip}): the page is {} px wide in a {} px window",
                page.display(),
                measured[0],
                measured[1]
            );
            assert_eq!(
                measured[2],
                measured[3],
                "{} (stylesheet dropped: {strip}): overdue counts not red",
                page.display()
            );
            if page == &stripped[0] {
                assert!(measured[3] > 0, "the district page has overdue counts to check");
            }
        }
        let suffix = if strip { "phone-without-stylesheet" } else { "phone" };
        let png = shot.join(format!("{}-{suffix}.png", page.file_stem().unwrap().to_string_lossy()));
        Command::new("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=390,1600"])
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", if strip { probe.display() } else { page.display() }))
            .output()
            .unwrap();
        assert!(png.exists(), "no phone screenshot of {}", page.display());
    }
    // The command centre's table sorts on a click: by 新增来返, most first, then fewest first.
    let probe = dir.path().join("sort-probe.html");
    let click = "<script>(function () {\
        var h = Array.prototype.find.call(document.querySelectorAll('h2'), function (e) { return e.textContent.indexOf('各村(社区)异常一览') === 0; });\
        var table = h.nextElementSibling.querySelector('table');\
        var column = function () { return Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.cells[2].textContent; }).join(','); };\
        var th = table.tHead.rows[0].cells[2];\
        th.click(); var down = column(); th.click(); var up = column();\
        document.body.setAttribute('data-sorted', down + ';' + up);\
    })();</script></body>";
    let html = std::fs::read_to_string(day.join("index.html")).unwrap().replace("</body>", click);
    std::fs::write(&probe, html).unwrap();
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    let dom = text(&out.stdout);
    let at =
        dom.find("data-sorted=\"").unwrap_or_else(|| panic!("the sort probe did not run: {}", text(&out.stderr))) + 13;
    let (down, up) = dom[at..].split('"').next().unwrap().split_once(';').unwrap();
    let numbers = |s: &str| s.split(',').map(|n| n.parse::<i64>().unwrap()).collect::<Vec<_>>();
    let (down, up) = (numbers(down), numbers(up));
    assert_eq!(down.len(), 40);
    assert!(down.windows(2).all(|w| w[0] >= w[1]) && up.windows(2).all(|w| w[0] <= w[1]), "{down:?} {up:?}");
    assert!(down[0] > up[0], "sorted both ways: {down:?}");
}

#[test]
fn hostile_names_and_values_come_out_inert() {
    let dir = scratch();
    let ws = dir.path().join("ws");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    // A registry whose names are hostile: a path, a script, formulas.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet().set_name("网格台账").unwrap();
    let header = ["镇(办事处)", "村(社区)", "社区编码", "网格名称", "网格编码", "微网格名称", "微网格编码", "网格户数"];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let rows = [
        [
            "../../x",
            "<script>alert(1)</script>社区",
            "130273001001",
            "=HYPERLINK(\"http://evil\",\"点我\")",
            "13027300100100100",
            "1号",
            "13027300100100101",
            "40",
        ],
        [
            "../../x",
            "<script>alert(1)</script>社区",
            "130273001001",
            "@SUM(1+1)",
            "13027300100100200",
            "1号",
            "13027300100100201",
            "40",
        ],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    std::fs::create_dir_all(ws.join("inbox/台账")).unwrap();
    wb.save(ws.join("inbox/台账/网格台账2022.5.7.xlsx")).unwrap();
    let ws_arg = ws.to_str().unwrap();
    wangge_expect(&["--workspace", ws_arg, "ingest", "--date", DATE], 0);
    // The community sent nothing: the run reports 应报未报 (exit 1) and still writes reports.
    wangge_expect(&["--workspace", ws_arg, "run", "daily", "--date", DATE], 1);

    let reports = ws.join("reports");
    let mut written = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().is_dir() { walk(&e.path(), out) } else { out.push(e.path()) }
        }
    }
    walk(&ws, &mut written);
    let outside: Vec<&PathBuf> = written
        .iter()
        .filter(|p| {
            p.to_string_lossy().contains("x")
                && !p.starts_with(&reports)
                && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("13027300"))
        })
        .collect();
    assert!(outside.is_empty(), "report files outside the reports folder: {outside:?}");
    let town = files(&reports.join(DATE).join("town"), "xlsx");
    assert_eq!(town.len(), 1);
    assert!(town[0].starts_with(reports.join(DATE).join("town")), "{}", town[0].display());

    let grids = files(&reports.join(DATE).join("grid"), "html");
    assert_eq!(grids.len(), 2);
    for page in grids.iter().chain(files(&reports.join(DATE).join("town"), "html").iter()) {
        let html = std::fs::read_to_string(page).unwrap();
        assert!(!html.contains("<script>"), "{}: a script from the data", page.display());
        assert!(html.contains("&lt;script&gt;"), "{}: the name is shown, escaped", page.display());
    }
    let script = format!(
        "import openpyxl, json, glob\n\
         out = []\n\
         for p in sorted(glob.glob('{}/*.xlsx')):\n\
         \x20   wb = openpyxl.load_workbook(p)\n\
         \x20   for ws in wb.worksheets:\n\
         \x20       for row in ws.iter_rows():\n\
         \x20           for c in row:\n\
         \x20               if isinstance(c.value, str) and c.value[:1] in '=@+-' and len(c.value) > 1:\n\
         \x20                   out.append([c.value, c.data_type])\n\
         print(json.dumps(out, ensure_ascii=False))",
        reports.join(DATE).join("grid").display()
    );
    let out = Command::new("python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cells: Vec<(String, String)> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        cells.iter().any(|(v, _)| v.starts_with("=HYPERLINK")),
        "the formula-like name is in a grid report: {cells:?}"
    );
    assert!(cells.iter().all(|(_, kind)| kind == "s"), "a formula-like value became a formula: {cells:?}");
}

#[test]
fn report_snapshots_and_libreoffice_opens_the_workbooks() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    ingest(&ws);
    wangge_expect(&["--workspace", ws.to_str().unwrap(), "run", "daily", "--date", DATE], 0);
    let day = ws.join("reports").join(DATE);
    let snapshots = repo().join("tests/snapshots/reports");
    let update = crate::common::update_snapshots();
    let picks = [
        ("district", day.join("district/130273-唐山高新区")),
        ("town-130273101", day.join("town/130273101-老庄子镇")),
        ("grid-13027300100100100", day.join("grid/13027300100100100-荣馨园社区第1网格")),
    ];
    for (name, stem) in &picks {
        let view = Command::new("python3")
            .arg(repo().join("tests/it/py/workbook_view.py"))
            .arg(stem.with_extension("xlsx"))
            .output()
            .unwrap();
        assert!(view.status.success(), "{}", text(&view.stderr));
        for (file, got) in [
            (format!("{name}.xlsx.txt"), text(&view.stdout)),
            (format!("{name}.html"), std::fs::read_to_string(stem.with_extension("html")).unwrap()),
        ] {
            let path = snapshots.join(&file);
            if update {
                std::fs::create_dir_all(&snapshots).unwrap();
                std::fs::write(&path, &got).unwrap();
            }
            let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
                panic!("no snapshot {}; run with WANGGE_UPDATE_SNAPSHOTS=1 and review it", path.display())
            });
            assert!(
                got == want,
                "{file} differs from its snapshot; run with WANGGE_UPDATE_SNAPSHOTS=1 and review the diff"
            );
        }
    }
    // openpyxl opens every workbook of the day (the reports and the 退回修改 workbooks).
    let script = format!(
        "import openpyxl, glob\n\
         paths = sorted(glob.glob('{}/*/*.xlsx'))\n\
         bad = [p for p in paths if not openpyxl.load_workbook(p).sheetnames]\n\
         print(len(paths), len(bad))",
        day.display()
    );
    let out = Command::new("python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let returns = files(&day.join("returns"), "xlsx").len();
    assert!(returns > 0, "the day's 退回修改 workbooks");
    let reports: usize = SCOPE_FOLDERS.iter().map(|s| files(&day.join(s), "xlsx").len()).sum();
    assert!(reports > 829, "{reports} reports");
    assert_eq!(text(&out.stdout).trim(), format!("{} 0", reports + returns), "reports and 退回修改 workbooks opened");

    // LibreOffice (headless) converts, in one process, the district and every town workbook,
    // one grid workbook of each of the 40 communities (the layouts differ with their data: empty
    // lists, long lists) and every 退回修改 workbook, each to a PDF (print setup included).
    let mut chosen: Vec<PathBuf> = files(&day.join("district"), "xlsx");
    chosen.extend(files(&day.join("town"), "xlsx"));
    let mut communities = std::collections::BTreeSet::new();
    for grid in files(&day.join("grid"), "xlsx") {
        let code = grid.file_name().unwrap().to_string_lossy()[..12].to_string();
        if communities.insert(code) {
            chosen.push(grid);
        }
    }
    assert_eq!(communities.len(), 40);
    chosen.extend(files(&day.join("returns"), "xlsx"));
    let out_dir = dir.path().join("pdf");
    let out = Command::new("soffice")
        .arg("--headless")
        .arg(format!("-env:UserInstallation=file://{}/lo-profile", dir.path().display()))
        .args(["--convert-to", "pdf", "--outdir"])
        .arg(&out_dir)
        .args(&chosen)
        .output()
        .expect("LibreOffice (installed by .ci/run)");
    assert!(out.status.success(), "{}", text(&out.stderr));
    for workbook in &chosen {
        let pdf = out_dir.join(workbook.with_extension("pdf").file_name().unwrap());
        let bytes =
            std::fs::read(&pdf).unwrap_or_else(|_| panic!("no PDF for {}: {}", workbook.display(), text(&out.stderr)));
        assert!(bytes.starts_with(b"%PDF") && bytes.len() > 2000, "{}", pdf.display());
    }
}

/// Sections at or over `constant_memory_from_rows` are written as constant-memory sheets, and read
/// back exactly as the in-memory sheets do (the same snapshots); `html_max_rows` cuts long
/// sections in the HTML page, which says how many rows the workbook holds beyond it.
#[test]
fn constant_memory_sheets_match_the_snapshots_and_html_pages_say_what_they_leave_out() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    ingest(&ws);
    let definitions = ws.join("pipelines/daily/reports.toml");
    let toml = std::fs::read_to_string(&definitions).unwrap();
    let toml = toml.replacen("\ntitle = ", "\nconstant_memory_from_rows = 1\nhtml_max_rows = 3\ntitle = ", 1);
    assert!(toml.contains("html_max_rows = 3"));
    std::fs::write(&definitions, toml).unwrap();
    wangge_expect(&["--workspace", ws.to_str().unwrap(), "run", "daily", "--date", DATE], 0);
    let day = ws.join("reports").join(DATE);
    let snapshots = repo().join("tests/snapshots/reports");
    for (name, stem) in [
        ("district", day.join("district/130273-唐山高新区")),
        ("town-130273101", day.join("town/130273101-老庄子镇")),
        ("grid-13027300100100100", day.join("grid/13027300100100100-荣馨园社区第1网格")),
    ] {
        let workbook = stem.with_extension("xlsx");
        let view =
            Command::new("python3").arg(repo().join("tests/it/py/workbook_view.py")).arg(&workbook).output().unwrap();
        assert!(view.status.success(), "{}", text(&view.stderr));
        let want = std::fs::read_to_string(snapshots.join(format!("{name}.xlsx.txt"))).unwrap();
        assert!(text(&view.stdout) == want, "{name}: a constant-memory workbook differs from the in-memory snapshot");
        let sheet = zip_part(&workbook, "xl/worksheets/sheet1.xml");
        assert!(sheet.contains("t=\"inlineStr\""), "{name}: the first sheet was written in constant-memory mode");
    }
    // The district's sections: 4 towns and the 未定网格 row, 40 communities, cut to 3 rows each.
    let html = std::fs::read_to_string(day.join("district/130273-唐山高新区.html")).unwrap();
    assert!(html.contains("另有 2 行未显示，完整名单见 Excel 报表。"), "4 towns and 未定网格, 3 shown");
    assert!(html.contains("另有 37 行未显示，完整名单见 Excel 报表。"), "40 communities, 3 shown");
    for table in html.split("<tbody>").skip(1) {
        let body = &table[..table.find("</tbody>").unwrap()];
        let rows = body.matches("<tr>").count();
        assert!(rows <= 3, "at most 3 data rows (the 合计 row apart): {rows}");
    }
    // The workbook keeps every community.
    let mut book = open_workbook_auto(day.join("district/130273-唐山高新区.xlsx")).unwrap();
    let communities = book.worksheet_range("各村(社区)汇总").unwrap();
    assert_eq!(communities.height(), 3 + 40 + 1, "title, two header rows, 40 communities and 合计");
}

//! The bundled `daily` pipeline on the sample district: its figures per grid equal truth.json,
//! completeness names exactly the communities left out (and the 零报告 ones), DuckDB running the
//! same SQL files on the same Parquet agrees, every mart's result is snapshot-tested, and a
//! second run writes the same bytes. `wangge validate` finds every problem of broken pipelines
//! at once.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{repo, scratch, text, tree, truth, wangge, wangge_expect, zip_part};
use crate::warehouse::{ingest, sample_copy};

const MARTS: &[&str] = &[
    "completeness",
    "stg_registry",
    "stg_fire_places",
    "stg_returnees_seen",
    "stg_returnees_latest",
    "stg_work_orders",
    "stg_work_orders_as_of",
    "returnees_under_measure",
    "daily_grid",
    "daily_community",
    "daily_town",
    "daily_county",
    "daily_district",
    "work_orders_breakdown",
    "stg_special_visits",
    "stg_followups_people",
    "special_overdue",
    "idle_workers",
    "trend",
    "ranking_grid",
    "followups_exceptions",
    "work_orders_overdue_list",
    "grids_without_visits",
    "headline",
    "fire_safety_grid",
    "fire_safety_community",
    "fire_hazards_open",
    "testing_buildings",
    "testing_community",
    "patrols_team",
    "patrol_findings",
];

const VIEWS: &[&str] = &[
    "stg_returnee_days",
    "stg_returnees_grid",
    "stg_followups_grid",
    "stg_visits_grid",
    "stg_work_orders_grid",
    "stg_fire_safety",
    "stg_testing",
];

fn query_json(ws: &Path, sql: &str) -> Vec<Value> {
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "query", sql, "--format", "json"], 0);
    text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The last of `steps` (`name` or `name:mart`, in dependency order) as DuckDB computes it from the
/// daily pipeline's own SQL files over the workspace's Parquet (`py/pipeline_duckdb.py`), sorted.
pub fn duckdb_rows(ws: &Path, date: &str, steps: &[&str]) -> Vec<Value> {
    let out = Command::new("python3")
        .arg(repo().join("tests/it/py/pipeline_duckdb.py"))
        .arg(ws.join("warehouse"))
        .arg(ws.join("pipelines/daily"))
        .arg(date)
        .args(steps)
        .output()
        .expect("python3 with duckdb (installed by .ci/run)");
    assert!(out.status.success(), "{steps:?}: {}", text(&out.stderr));
    text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn run_daily(ws: &Path, date: &str) -> std::process::Output {
    wangge(&["--workspace", ws.to_str().unwrap(), "run", "daily", "--date", date])
}

#[test]
fn the_daily_pipeline_matches_truth_completeness_duckdb_and_its_snapshots() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    ingest(&ws);
    let truth = truth(&repo().join("sample-data"));
    let submissions = truth["submissions"].as_object().unwrap();
    for (date, expected) in submissions {
        let missing: BTreeSet<String> =
            expected["missing"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        let out = run_daily(&ws, date);
        // A day with a community missing fails the completeness check: exit status 1.
        assert_eq!(out.status.code(), Some(if missing.is_empty() { 0 } else { 1 }), "{date}: {}", text(&out.stderr));

        // Completeness: exactly the communities truth.json leaves out, and the 零报告 ones.
        let rows = query_json(
            &ws,
            &format!(
                "SELECT community_code, status FROM completeness WHERE report_date = DATE '{date}' AND form = 'returnees'"
            ),
        );
        let with = |status: &str| -> BTreeSet<String> {
            rows.iter()
                .filter(|r| r["status"] == status)
                .map(|r| r["community_code"].as_str().unwrap().into())
                .collect()
        };
        assert_eq!(with("应报未报"), missing, "{date}: 应报未报");
        let zero: BTreeSet<String> =
            expected["zero_report"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        assert_eq!(with("零报告"), zero, "{date}: 零报告");
        assert_eq!(rows.len(), expected["expected"].as_array().unwrap().len(), "{date}: every community once");
        if !missing.is_empty() {
            let stderr = text(&out.stderr);
            assert!(stderr.contains("check failed: completeness (应报未报)"), "{stderr}");
        }

        // Per grid: the daily figures of truth.json.
        let measures = ["returnees_new", "followups_pushed", "visits", "work_orders_received", "work_orders_closed"];
        let truth_names = ["returnees", "followups", "visits", "work_orders_received", "work_orders_closed"];
        let grids = query_json(
            &ws,
            &format!("SELECT grid_code, {} FROM daily_grid WHERE report_date = DATE '{date}'", measures.join(", ")),
        );
        assert_eq!(grids.len(), 784, "{date}: every grid of the registry");
        let daily = truth["daily"][date].as_object().unwrap();
        for g in &grids {
            let code = g["grid_code"].as_str().unwrap();
            for (measure, name) in measures.iter().zip(truth_names) {
                let want = daily.get(code).and_then(|d| d.get(name)).and_then(Value::as_u64).unwrap_or(0);
                assert_eq!(g[*measure].as_u64(), Some(want), "{date} grid {code}: {measure}");
            }
        }
    }

    // DuckDB runs the same SQL files on the same Parquet and gets the same town figures.
    let steps = [
        "stg_registry:mart",
        "stg_work_orders:mart",
        "stg_work_orders_as_of:mart",
        "stg_returnee_days",
        "stg_returnees_seen:mart",
        "stg_returnees_latest:mart",
        "stg_returnees_grid",
        "stg_followups_people:mart",
        "stg_followups_grid",
        "stg_special_visits:mart",
        "special_overdue:mart",
        "stg_visits_grid",
        "stg_work_orders_grid",
        "daily_grid:mart",
        "daily_town:mart",
    ];
    let duck = duckdb_rows(&ws, "2022-05-10", &steps);
    let ours = query_json(
        &ws,
        "SELECT * EXCLUDE (report_date) FROM daily_town WHERE report_date = DATE '2022-05-10' ORDER BY town_code",
    );
    // Four towns and the 未定网格 row of orders whose grid could not be told.
    assert_eq!(ours.len(), 5);
    assert_eq!(ours[4]["town"], "未定网格", "{:?}", ours[4]);
    assert_eq!(ours, duck, "DataFusion and DuckDB disagree on daily_town");

    // Snapshots of every mart on the last day (tests/snapshots/daily/<mart>.csv).
    let snapshots = repo().join("tests/snapshots/daily");
    let update = crate::common::update_snapshots();
    for mart in MARTS {
        let out = wangge_expect(
            &[
                "--workspace",
                ws.to_str().unwrap(),
                "query",
                &format!("SELECT * EXCLUDE (report_date) FROM {mart} WHERE report_date = DATE '2022-05-10'"),
                "--format",
                "csv",
            ],
            0,
        );
        let got = text(&out.stdout);
        let path = snapshots.join(format!("{mart}.csv"));
        if update {
            std::fs::create_dir_all(&snapshots).unwrap();
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!("no snapshot {}; run with WANGGE_UPDATE_SNAPSHOTS=1 and review it", path.display())
        });
        assert!(got == want, "{mart} differs from {}:\n{}", path.display(), first_difference(&want, &got));
    }

    // Snapshots of every view step too, as a run on the last day sees them (rows sorted: a
    // view has no order of its own).
    for view in VIEWS {
        let out = wangge_expect(
            &[
                "--workspace",
                ws.to_str().unwrap(),
                "query",
                "--pipeline",
                "daily",
                "--date",
                "2022-05-10",
                &format!("SELECT * FROM {view}"),
                "--format",
                "csv",
            ],
            0,
        );
        let csv = text(&out.stdout);
        let mut lines: Vec<&str> = csv.lines().collect();
        lines[1..].sort();
        let got = lines.join("\n") + "\n";
        let path = snapshots.join(format!("{view}.csv"));
        if update {
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!("no snapshot {}; run with WANGGE_UPDATE_SNAPSHOTS=1 and review it", path.display())
        });
        assert!(got == want, "{view} differs from {}:\n{}", path.display(), first_difference(&want, &got));
    }

    // The same inputs give the same mart bytes.
    let mart = ws.join("warehouse/marts/daily_grid/report_date=2022-05-10/part-0.parquet");
    let before = std::fs::read(&mart).unwrap();
    run_daily(&ws, "2022-05-10");
    assert!(std::fs::read(&mart).unwrap() == before, "a second run wrote different bytes");
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("line {}:\n  snapshot: {w}\n  now:      {g}", i + 1);
        }
    }
    format!("{} lines in the snapshot, {} now", want.lines().count(), got.lines().count())
}

#[test]
fn validate_reports_every_problem_of_broken_pipelines_at_once() {
    let dir = scratch();
    let ws = dir.path().join("ws");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    let write = |relative: &str, content: &str| {
        let path = ws.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    };
    write("pipelines/broken/pipeline.toml", "[steps.typo]\nmaterialize = \"parquet\"\n");
    write("pipelines/broken/sql/typo.sql", "SELECT grid_code,\n       nmae\nFROM returnees\n");
    write("pipelines/broken/sql/unknown.sql", "SELECT count(*) AS n\nFROM returnes\n");
    // Incremental steps: other columns than the full SQL's; no incremental file; a view that
    // says incremental; an incremental file no step uses.
    write("pipelines/growing/pipeline.toml", "[steps.latest]\nmaterialize = \"parquet\"\nincremental = true\n");
    write(
        "pipelines/misdeclared/pipeline.toml",
        "[steps.missing]\nmaterialize = \"parquet\"\nincremental = true\n[steps.view]\nincremental = true\n",
    );
    write(
        "pipelines/growing/sql/latest.sql",
        "SELECT person_key, max(report_date) AS last_on FROM returnees GROUP BY person_key\n",
    );
    write(
        "pipelines/growing/sql/incremental/latest.sql",
        "SELECT person_key FROM latest WHERE report_date = $previous_date\n",
    );
    write("pipelines/misdeclared/sql/missing.sql", "SELECT 1 AS one\n");
    write("pipelines/misdeclared/sql/view.sql", "SELECT 1 AS one\n");
    write("pipelines/misdeclared/sql/incremental/stray.sql", "SELECT 1 AS one\n");
    // A view cannot be split; a split step cannot read a table with no code column, or without
    // the key it is split by; a split is by county or by a key.
    write(
        "pipelines/split/pipeline.toml",
        "[steps.counted]\nmaterialize = \"parquet\"\n[steps.by_county]\nmaterialize = \"parquet\"\nsplit = \"county\"\n\
         [steps.by_key]\nmaterialize = \"parquet\"\nsplit = { key = \"person_key\" }\n",
    );
    write(
        "pipelines/split/sql/by_key.sql",
        "SELECT r.person_key, v.grid_code FROM returnees r JOIN visits v USING (grid_code)\n",
    );
    write("pipelines/split_kind/pipeline.toml", "[steps.by_town]\nmaterialize = \"parquet\"\nsplit = \"town\"\n");
    write("pipelines/split_kind/sql/by_town.sql", "SELECT grid_code FROM returnees\n");
    write("pipelines/split/sql/counted.sql", "SELECT count(*) AS n FROM returnees\n");
    write("pipelines/split/sql/by_county.sql", "SELECT c.n, r.grid_code FROM counted c CROSS JOIN returnees r\n");
    write("pipelines/split_view/pipeline.toml", "[steps.narrowed]\nsplit = \"county\"\n");
    write("pipelines/split_view/sql/narrowed.sql", "SELECT grid_code FROM returnees\n");
    write("pipelines/cyclic/pipeline.toml", "");
    write("pipelines/cyclic/sql/first.sql", "SELECT * FROM second\n");
    write("pipelines/cyclic/sql/second.sql", "SELECT * FROM first\n");
    write("report-templates/bad.html", "{% if %}\n");
    let out = wangge(&["--workspace", ws.to_str().unwrap(), "validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for expected in [
        "pipelines/broken/sql/typo.sql:2:",
        "nmae",
        "pipelines/broken/sql/unknown.sql",
        "returnes",
        "the tables are: fire_safety, followups, grids",
        "cyclic dependency: first → second → first",
        "incremental/latest.sql: the incremental SQL must give the full SQL's columns, in order: expected (person_key Utf8, last_on Date32), found (person_key Utf8)",
        "`[steps.missing]` says `incremental = true`: cannot read",
        "`[steps.view]`: `incremental = true` builds on the step's own mart",
        "incremental/stray.sql: not used",
        "pipelines/split/sql/by_county.sql: split by county, but it reads `counted`, with no code column",
        "`[steps.narrowed]`: `split` runs a step in parts and writes their rows as one mart",
        "pipelines/split/sql/by_key.sql: split by key `person_key`, but it reads `visits`, with no column `person_key`",
        "pipelines/split_kind/pipeline.toml",
        "unknown variant `town`, expected `county` or `key`",
        "bad.html",
    ] {
        assert!(stderr.contains(expected), "`{expected}` not reported:\n{stderr}");
    }
    // The bundled pipelines themselves plan cleanly.
    let clean = scratch();
    let ws = clean.path().join("ws");
    wangge_expect(&["init", ws.to_str().unwrap()], 0);
    let out = wangge_expect(&["--workspace", ws.to_str().unwrap(), "validate"], 0);
    assert!(text(&out.stderr).contains("Planned 38 SQL step(s) of 1 pipeline(s)"), "{}", text(&out.stderr));
}

#[test]
fn query_writes_every_format_and_duckdb_and_openpyxl_open_the_files() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    ingest(&ws);
    let ws_arg = ws.to_str().unwrap();
    let sql = "SELECT town_code, count(*) AS returnees, min(arrival_date) AS first_arrival, '=1+1' AS formula_like \
               FROM returnees GROUP BY town_code ORDER BY town_code";
    let csv = text(&wangge_expect(&["--workspace", ws_arg, "query", sql, "--format", "csv"], 0).stdout);
    assert_eq!(csv.lines().next(), Some("town_code,returnees,first_arrival,formula_like"));
    assert_eq!(csv.lines().count(), 5, "{csv}");
    let table = text(&wangge_expect(&["--workspace", ws_arg, "query", sql, "--format", "table"], 0).stdout);
    assert!(table.contains("| town_code") && table.contains("(4 rows)"), "{table}");
    let json = text(&wangge_expect(&["--workspace", ws_arg, "query", sql, "--format", "json"], 0).stdout);
    let first: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert!(first["returnees"].is_u64(), "numbers stay numbers: {first}");
    let total: u64 = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap()).sum();

    let parquet = dir.path().join("out.parquet");
    let xlsx = dir.path().join("out.xlsx");
    for (format, path) in [("parquet", &parquet), ("xlsx", &xlsx)] {
        wangge_expect(
            &["--workspace", ws_arg, "query", sql, "--format", format, "--output", path.to_str().unwrap()],
            0,
        );
    }
    let script = format!(
        "import duckdb, openpyxl, json\n\
         n = duckdb.sql(\"select sum(returnees) from read_parquet('{}')\").fetchall()[0][0]\n\
         ws = openpyxl.load_workbook('{}').active\n\
         rows = list(ws.iter_rows(values_only=True))\n\
         kinds = [c.data_type for c in ws[2]]\n\
         print(json.dumps({{'duckdb': int(n), 'header': list(rows[0]), 'xlsx_total': sum(r[1] for r in rows[1:]), 'kinds': kinds, 'formula_like': rows[1][3]}}))",
        parquet.display(),
        xlsx.display()
    );
    let out = Command::new("python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["duckdb"].as_u64(), Some(total));
    assert_eq!(got["xlsx_total"].as_u64(), Some(total));
    assert_eq!(got["header"], serde_json::json!(["town_code", "returnees", "first_arrival", "formula_like"]));
    assert_eq!(got["formula_like"], "=1+1", "text, not a formula");
    assert_eq!(got["kinds"][3], "s", "the cell is a string cell");

    // A large result streams through a constant-memory sheet: every row arrives, text stays text.
    let large = dir.path().join("large.xlsx");
    let sql = "SELECT value AS n, concat('=', value) AS formula_like, '临江社区' AS community FROM generate_series(1, 12000) ORDER BY n";
    wangge_expect(&["--workspace", ws_arg, "query", sql, "--format", "xlsx", "--output", large.to_str().unwrap()], 0);
    let mut book = calamine::open_workbook_auto(&large).unwrap();
    let range = calamine::Reader::worksheet_range(&mut book, "查询结果").unwrap();
    assert_eq!(range.height(), 12_001, "header and every row");
    let last: Vec<String> = range.rows().next_back().unwrap().iter().map(|c| c.to_string()).collect();
    assert_eq!(last, ["12000", "=12000", "临江社区"]);
    let sheet = zip_part(&large, "xl/worksheets/sheet1.xml");
    assert!(sheet.contains("t=\"inlineStr\""), "a constant-memory sheet writes its strings inline");
    assert!(!sheet.contains("<f>"), "no formula");

    // Errors name what is wrong and list the valid choices.
    let out = wangge(&["--workspace", ws_arg, "query", "SELECT * FROM returnes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the tables are: fire_safety, followups, grids, patrols, returnees"),
        "{}",
        text(&out.stderr)
    );
    let out = wangge(&["--workspace", ws_arg, "query", "SELECT nmae FROM returnees"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("returnees.name"), "{}", text(&out.stderr));
    let tables = text(&wangge_expect(&["--workspace", ws_arg, "query", "--tables"], 0).stdout);
    assert!(
        tables.contains("returnees\n") && tables.contains("  arrival_date") && tables.contains("Date32"),
        "{tables}"
    );
}

#[test]
fn a_mart_left_with_only_a_temporary_file_by_a_killed_run_does_not_stop_the_next() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    ingest(&ws);
    // What a run killed while writing its first mart leaves: the partition folder and a
    // hidden, half-written temporary file.
    let partition = ws.join("warehouse/marts/stg_returnees_latest/report_date=2022-05-10");
    std::fs::create_dir_all(&partition).unwrap();
    std::fs::write(partition.join(".0123456789abcdef.parquet.tmp"), b"PAR1 half").unwrap();
    let out = run_daily(&ws, "2022-05-10");
    assert!(
        matches!(out.status.code(), Some(0 | 1)) && !text(&out.stderr).contains("registering mart"),
        "{:?}\n{}",
        out.status,
        text(&out.stderr)
    );
    let rows = query_json(&ws, "select count(*) as n from stg_returnees_latest");
    assert!(rows[0]["n"].as_i64().unwrap() > 0, "{rows:?}");
}

/// The sample workspace's `pipelines/` and `report-templates/` are the bundled ones, which
/// `wangge init` and `demo-data` write: the quick start runs the SQL a new workspace gets, and
/// an edit made to one copy alone fails here instead of drifting.
#[test]
fn the_sample_workspace_carries_the_bundled_pipelines_and_templates() {
    let sample = repo().join("sample-data");
    let bundled: BTreeSet<&str> = wangge::config::init::BUNDLED_FILES.iter().map(|(relative, _)| *relative).collect();
    for (relative, bytes) in wangge::config::init::BUNDLED_FILES {
        let copy = std::fs::read(sample.join(relative)).unwrap_or_default();
        assert!(copy == *bytes, "sample-data/{relative} differs from the bundled {relative}");
    }
    for file in tree(&sample) {
        let relative = file.to_string_lossy().replace('\\', "/");
        if relative.starts_with("pipelines/") || relative.starts_with("report-templates/") {
            assert!(bundled.contains(relative.as_str()), "sample-data/{relative} is not bundled");
        }
    }
}

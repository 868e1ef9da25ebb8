//! The founding article's other workflows, declared and nothing else: fire-safety visits (消防),
//! testing turnout building by building (核酸) and the inspection teams (巡查). Their figures per
//! grid and day equal truth.json's `workflows`, DuckDB running the same SQL agrees, and the
//! scopes declared in `reports.toml` (村/社区, 楼栋) give each unit a report of only its rows,
//! which a recipient with that unit's code receives.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common::{query_csv, repo, scratch, text, truth, wangge, wangge_expect};
use crate::warehouse::{ingest, sample_copy};

type Figures = BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>;

/// Adds `figure` per (report date, grid) from a query whose rows are `report_date,grid_code,value`.
fn add(into: &mut Figures, ws: &Path, figure: &str, sql: &str) {
    let csv = query_csv(ws, sql);
    for line in csv.lines().skip(1) {
        let parts: Vec<&str> = line.split(',').collect();
        let value: u64 = parts[2].parse().unwrap_or(0);
        if value > 0 {
            into.entry(parts[0].to_string())
                .or_default()
                .entry(parts[1].to_string())
                .or_default()
                .insert(figure.to_string(), value);
        }
    }
}

#[test]
fn the_three_workflows_match_truth_per_grid_and_day_and_duckdb_agrees() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    ingest(&ws);
    let t = truth(&repo().join("sample-data"));
    let dates: Vec<String> = t["submissions"].as_object().unwrap().keys().cloned().collect();
    for date in &dates {
        // Day 2 lacks a community (应报未报): the run says so with exit status 1.
        let out = wangge(&["--workspace", ws.to_str().unwrap(), "run", "daily", "--date", date]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{date}: {}", text(&out.stderr));
    }
    let mut got = Figures::new();
    for (figure, sql) in [
        ("fire_hazard_places", "SELECT report_date, grid_code, hazard_places FROM fire_safety_grid"),
        ("fire_ebikes", "SELECT report_date, grid_code, ebikes FROM fire_safety_grid"),
        (
            "testing_residents",
            "SELECT report_date, grid_code, sum(residents) FROM testing_buildings GROUP BY report_date, grid_code",
        ),
        (
            "testing_tested",
            "SELECT report_date, grid_code, sum(tested) FROM testing_buildings GROUP BY report_date, grid_code",
        ),
        (
            "patrol_problems",
            "SELECT report_date, grid_code, sum(problems) FROM patrol_findings GROUP BY report_date, grid_code",
        ),
    ] {
        add(&mut got, &ws, figure, sql);
    }
    let want: Figures = serde_json::from_value(t["workflows"].clone()).unwrap();
    assert_eq!(want.len(), dates.len(), "truth has the workflows of every day");
    for figure in ["fire_hazard_places", "fire_ebikes", "testing_tested", "patrol_problems"] {
        let total: u64 = want.values().flat_map(|g| g.values()).filter_map(|f| f.get(figure)).sum();
        assert!(total > 10, "the sample has {figure}: {total}");
    }
    assert_eq!(got, want, "workflow figures per grid and day");

    // Every point a team checked is in its team's row; buildings are one spelling each.
    let teams = query_csv(&ws, "SELECT count(*), sum(stops) FROM patrols_team WHERE report_date = DATE '2022-05-10'");
    let rows = query_csv(&ws, "SELECT count(*) FROM patrols WHERE report_date = DATE '2022-05-10'");
    let (teams, stops) = teams.lines().nth(1).unwrap().split_once(',').unwrap();
    assert!(teams.parse::<u32>().unwrap() >= 9, "most of the 12 teams report: {teams}");
    assert_eq!(stops, rows.lines().nth(1).unwrap(), "every accepted patrol row is a team's stop");
    let spellings = query_csv(
        &ws,
        "SELECT DISTINCT building FROM testing_buildings WHERE building NOT LIKE '%号楼' ORDER BY building",
    );
    assert_eq!(spellings.lines().count(), 1, "3#, 3栋, 3号 and a bare 3 are all 3号楼: {spellings}");

    // DuckDB runs the same SQL files on the same Parquet and gets the same rows.
    let sorted = |mut rows: Vec<Value>| {
        rows.sort_by_key(|r| r.to_string());
        rows
    };
    for (steps, mart) in [
        (
            &["stg_registry:mart", "stg_fire_safety", "stg_fire_places:mart", "fire_safety_grid:mart"][..],
            "fire_safety_grid",
        ),
        (
            &["stg_registry:mart", "stg_fire_safety", "stg_fire_places:mart", "fire_hazards_open:mart"][..],
            "fire_hazards_open",
        ),
        (&["stg_registry:mart", "stg_testing", "testing_buildings:mart"][..], "testing_buildings"),
        (&["stg_registry:mart", "patrol_findings:mart"][..], "patrol_findings"),
        (&["patrols_team:mart"][..], "patrols_team"),
    ] {
        // Rows in one order on both sides: by their text.
        let duck = sorted(crate::pipelines::duckdb_rows(&ws, "2022-05-10", steps));
        let out = wangge_expect(
            &[
                "--workspace",
                ws.to_str().unwrap(),
                "query",
                &format!("SELECT * EXCLUDE (report_date) FROM {mart} WHERE report_date = DATE '2022-05-10'"),
                "--format",
                "json",
            ],
            0,
        );
        let ours: Vec<Value> = sorted(text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect());
        assert!(!ours.is_empty(), "{mart} has rows");
        assert_eq!(ours, duck, "DataFusion and DuckDB disagree on {mart}");
    }
}

#[test]
fn declared_scopes_give_communities_and_buildings_their_own_reports_and_mail() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    ingest(&ws);
    let w = ws.to_str().unwrap();
    wangge_expect(&["--workspace", w, "run", "daily", "--date", "2022-05-10"], 0);
    let day = ws.join("reports/2022-05-10");

    // A community's report: its own headline, its grids only, its buildings only.
    let community = "130273001002";
    let page = std::fs::read_to_string(
        std::fs::read_dir(day.join("community"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name().unwrap().to_string_lossy().starts_with(&format!("{community}-"))
                    && p.extension().is_some_and(|x| x == "html")
            })
            .expect("the community's page"),
    )
    .unwrap();
    assert!(page.contains("今日要点") && page.contains("核酸检测各楼栋"), "community sections");
    let grids = query_csv(
        &ws,
        &format!("SELECT community_code, grid_name FROM daily_grid WHERE report_date = DATE '2022-05-10'"),
    );
    let (own, others): (Vec<&str>, Vec<&str>) =
        grids.lines().skip(1).partition(|l| l.starts_with(&format!("{community},")));
    assert!(own.len() > 5);
    let other_community = query_csv(
        &ws,
        "SELECT community FROM daily_community WHERE report_date = DATE '2022-05-10' AND community_code = '130273001001'",
    );
    let other_name = other_community.lines().nth(1).unwrap();
    assert!(!page.contains(other_name), "another community's rows in {community}'s report");
    assert!(!others.is_empty());

    // A building's report holds its own building's row, and nothing of the others.
    let buildings = query_csv(
        &ws,
        "SELECT building_code, community, building, tested FROM testing_buildings WHERE report_date = DATE '2022-05-10' ORDER BY building_code",
    );
    let list: Vec<Vec<&str>> = buildings.lines().skip(1).map(|l| l.split(',').collect()).collect();
    for b in list.iter().take(20) {
        let path = day.join("building").join(format!("{}-{}{}.html", b[0], b[1], b[2]));
        let html = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{}", path.display()));
        assert_eq!(html.matches("<td class=\"num\"").count() > 0, true, "{}", path.display());
        assert!(html.contains(&format!(">{}<", b[2])), "{}: its building", path.display());
        let others_here =
            list.iter().filter(|o| o[1] == b[1] && o[2] != b[2]).filter(|o| html.contains(&format!(">{}<", o[2])));
        assert_eq!(others_here.count(), 0, "{}: another building's row", path.display());
    }

    // The index links every scope declared, under its label.
    let index = std::fs::read_to_string(day.join("index.html")).unwrap().replace("&#x2F;", "/");
    for label in ["村(社区)", "楼栋"] {
        assert!(crate::common::heading_at(&index, &format!("{label}（")).is_some(), "{label} links");
    }
    assert!(index.contains(&format!("community/{community}-")), "community links");

    // A recipient with a community's code receives that community's report, and no grid's; every
    // other recipient its own unit's (`check_scopes`).
    wangge_expect(&["--workspace", w, "deliver", "--date", "2022-05-10"], 0);
    let messages: Vec<Value> = crate::daily::eml_summaries(&ws.join("outbox")).into_values().collect();
    let got = crate::daily::check_scopes(&ws, &messages);
    let secretary = "community130273001001@gxq.example.cn".to_string();
    let theirs: Vec<&String> = got.keys().filter(|(a, _)| *a == secretary).map(|(_, r)| r).collect();
    assert_eq!(theirs.len(), 1, "{got:?}");
    assert!(theirs[0].starts_with("community/130273001001-"), "{}", theirs[0]);

    // An undeclared scope is a configuration error that names the section and the scopes.
    let reports = ws.join("pipelines/daily/reports.toml");
    let broken =
        std::fs::read_to_string(&reports).unwrap().replacen("scopes = [\"community\"]", "scopes = [\"village\"]", 1);
    std::fs::write(&reports, broken).unwrap();
    let out = wangge(&["--workspace", w, "validate"]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("scope `village` is not declared") && stderr.contains("community"), "{stderr}");
}

#[test]
fn a_building_that_tested_more_people_than_it_had_fails_the_expression_check() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    // A community's own CSV of the day: one building with 12 tested of 10 due.
    std::fs::write(
        ws.join("inbox/2022-05-10/荣馨园社区核酸检测5.10.csv"),
        "检测日期,所属网格,楼栋,应检人数,实检人数\n2022-05-10,荣馨园社区第1网格,99号楼,10,12\n",
    )
    .unwrap();
    ingest(&ws);
    let out = wangge(&["--workspace", ws.to_str().unwrap(), "run", "daily", "--date", "2022-05-10"]);
    assert_eq!(out.status.code(), Some(1), "a failed check is a data problem: {}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("expression(tested <= residents)") && stderr.contains("99号楼"), "{stderr}");
    // The other buildings' check passes: only this one row fails.
    assert!(stderr.contains("expression(tested <= residents) on `testing_buildings`: 1 row(s)"), "{stderr}");
}

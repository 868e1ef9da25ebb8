//! A city of several districts in one workspace (`demo-data --districts`): the first district is
//! the sample district's files unchanged, every row meets the fate the city's truth.json gives
//! it, and the daily pipeline covers every district's towns and grids. And the local engine's
//! memory limit, when a step cannot fit under it, is named with the setting that raises it.

use chrono::NaiveDate;

use crate::common::{query_csv, scratch, text, tree, truth, wangge, wangge_expect};
use crate::warehouse::{ingest, sample_copy};

#[test]
fn a_city_of_three_districts_ingests_to_its_truth_and_its_pipeline_covers_every_district() {
    let dir = scratch();
    let (city, alone) = (dir.path().join("city"), dir.path().join("alone"));
    wangge_expect(&["demo-data", city.to_str().unwrap(), "--districts", "3", "--days", "2"], 0);
    wangge_expect(&["demo-data", alone.to_str().unwrap(), "--days", "2"], 0);

    // The article's district is the same files whether generated alone or as the city's first.
    let own = tree(&alone.join("inbox"));
    let all = tree(&city.join("inbox"));
    assert!(all.len() > 2 * own.len(), "{} files in the city, {} in the district", all.len(), own.len());
    for f in &own {
        assert!(
            std::fs::read(alone.join("inbox").join(f)).ok() == std::fs::read(city.join("inbox").join(f)).ok(),
            "{} differs in the city",
            f.display()
        );
    }
    let t = truth(&city);
    assert_eq!(t["district"]["districts"].as_u64(), Some(3));
    let config = std::fs::read_to_string(city.join("wangge.toml")).unwrap();
    assert!(config.contains("code = \"130200\""), "the workspace reports for the city: {config}");

    // Every row of every district meets its fate, row by row.
    let outcome = crate::ingest::ingest_sample(&city, NaiveDate::from_ymd_opt(2022, 5, 10).unwrap());
    crate::ingest::check_against_truth(&outcome, &t, 2);

    // The daily pipeline: every grid of the three registries, under its own district's code.
    ingest(&city);
    let run = wangge(&["--workspace", city.to_str().unwrap(), "run", "daily", "--no-reports", "--date", "2022-05-10"]);
    assert!(run.status.code().is_some_and(|c| c <= 1), "{}", text(&run.stderr));
    assert!(!city.join("reports/2022-05-10/index.html").exists(), "--no-reports wrote reports");
    let got = query_csv(
        &city,
        "SELECT substr(grid_code, 1, 6) AS district, count(*) AS grids, count(DISTINCT town_code) AS towns \
         FROM daily_grid WHERE report_date = DATE '2022-05-10' GROUP BY 1 ORDER BY 1",
    );
    let rows: Vec<&str> = got.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{got}");
    assert!(rows[0].starts_with("130202,") && rows[2].starts_with("130273,"), "{got}");
    let (grids, towns): (u64, u64) = rows.iter().fold((0, 0), |(g, w), r| {
        let v: Vec<u64> = r.split(',').skip(1).map(|x| x.parse().unwrap()).collect();
        (g + v[0], w + v[1])
    });
    assert_eq!(grids, t["district"]["grids"].as_u64().unwrap(), "{got}");
    assert_eq!(towns, t["district"]["towns"].as_u64().unwrap(), "{got}");
}

#[test]
fn a_step_that_does_not_fit_the_local_memory_limit_names_the_setting() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    let config = std::fs::read_to_string(ws.join("wangge.toml")).unwrap();
    assert!(config.contains("memory_mib = 1024"), "the default is stated: {config}");
    std::fs::write(ws.join("wangge.toml"), config.replace("memory_mib = 1024", "memory_mib = 1")).unwrap();
    ingest(&ws);
    let out = wangge(&["--workspace", ws.to_str().unwrap(), "run", "daily", "--no-reports", "--date", "2022-05-10"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("[engine] memory_mib = 1 in wangge.toml: raise it"), "{stderr}");
}

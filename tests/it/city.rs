//! A city of several districts in one workspace (`demo-data --districts`): the first district is
//! the sample district's files unchanged, every row meets the fate the city's truth.json gives
//! it, and the daily pipeline covers every district's towns and grids. And the local engine's
//! memory limit, when a step cannot fit under it, is named with the setting that raises it. Each
//! county (区县) of a city gets its own daily report, holding only its own towns.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::common::{query_csv, scratch, text, tree, truth, wangge, wangge_expect};
use crate::daily::eml_summaries;
use crate::registry::{registry_rows, write_registry};
use crate::reports::{data_rows, files};
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
    only_data_checks_fail(&run);
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

/// Under a budget smaller than one sort's default merge reservation (10 MiB), the daily
/// pipeline still runs: its sorts and groups spill, and what cannot spill finds room (see
/// `sql::memory`). DataFusion's greedy pool failed the sample district below 24 MiB. The marts
/// are the same bytes as with memory to spare.
#[test]
fn under_a_budget_of_8_mib_the_pipeline_spills_and_gives_the_same_marts() {
    let dir = scratch();
    let ws = sample_copy(dir.path());
    ingest(&ws);
    let config = std::fs::read_to_string(ws.join("wangge.toml")).unwrap();
    let run =
        |mib: u64| fresh_marts(&ws, &config.replace("memory_mib = 1024", &format!("memory_mib = {mib}")), "warn").0;
    let spared = run(1024);
    let tight = run(8);
    assert_same_marts(&tight, &spared, "under 8 MiB");
}

/// Runs the daily pipeline afresh (no marts, no incremental state) with `config` as
/// `wangge.toml` and `WANGGE_LOG=log`: every mart file with its bytes, and the log without the
/// colours it is written in.
fn fresh_marts(ws: &Path, config: &str, log: &str) -> (BTreeMap<PathBuf, Vec<u8>>, String) {
    std::fs::write(ws.join("wangge.toml"), config).unwrap();
    for stale in ["warehouse/marts", "warehouse/_state"] {
        let _ = std::fs::remove_dir_all(ws.join(stale));
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(["--workspace", ws.to_str().unwrap(), "run", "daily", "--no-reports", "--date", "2022-05-10"])
        .env_remove("WANGGE_WORKSPACE")
        .env("WANGGE_LOG", log)
        .output()
        .unwrap();
    only_data_checks_fail(&out);
    let raw = text(&out.stderr);
    let mut segments = raw.split('\x1b');
    let mut plain = segments.next().unwrap_or_default().to_string();
    for segment in segments {
        plain.push_str(segment.split_once('m').map_or(segment, |(_, rest)| rest));
    }
    (crate::compaction::files(&ws.join("warehouse/marts")), plain)
}

/// The same mart files, byte for byte; `how` says what differed of the second run.
fn assert_same_marts(got: &BTreeMap<PathBuf, Vec<u8>>, want: &BTreeMap<PathBuf, Vec<u8>>, how: &str) {
    assert!(want.len() > 20, "{} mart files", want.len());
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for ((file, a), b) in got.iter().zip(want.values()) {
        assert!(a == b, "{} differs {how}", file.display());
    }
}

/// A city's steps marked `split = "county"` run one county at a time (`sql::scope`), and once
/// over the rows of no county, and those split by a key run in buckets of it under a small
/// budget; they give the same mart bytes as the steps run whole (`[engine] split_by_county =
/// false` with room to spare, as a Ballista cluster runs them too).
#[test]
fn a_city_s_steps_run_one_county_at_a_time_give_the_marts_of_the_steps_run_whole() {
    let dir = scratch();
    let city = dir.path().join("city");
    wangge_expect(&["demo-data", city.to_str().unwrap(), "--districts", "3", "--days", "2"], 0);
    ingest(&city);
    let config = std::fs::read_to_string(city.join("wangge.toml")).unwrap();
    assert!(config.contains("split_by_county = true"), "the default is stated: {config}");
    assert!(config.contains("memory_mib = 1024"), "the default is stated: {config}");
    let run = |split: bool| {
        let setting = format!("split_by_county = {split}");
        let budget = if split { "memory_mib = 8" } else { "memory_mib = 1024" };
        let config = config.replace("split_by_county = true", &setting).replace("memory_mib = 1024", budget);
        let marts = fresh_marts(&city, &config, "wangge::sql::split=debug,wangge::sql::sorting=debug");
        assert!(!city.join("warehouse/_parts").read_dir().is_ok_and(|mut d| d.next().is_some()), "parts left");
        marts
    };
    let (whole, quiet) = run(false);
    let (parts, log) = run(true);
    assert!(!quiet.contains("part="), "split though told not to:\n{quiet}");
    for part in ["part=county 130202", "part=county 130203", "part=county 130273", "part=rows of no county"] {
        assert!(log.contains(&format!("step=\"headline\" {part}")), "headline did not run `{part}`:\n{log}");
    }
    for step in ["stg_special_visits", "special_overdue", "daily_grid", "stg_fire_places", "testing_buildings"] {
        assert!(log.contains(&format!("step=\"{step}\" part=county 130203")), "{step} ran whole:\n{log}");
    }
    // (2 days of 3 districts: 1,100 registrations of returnees, two buckets' worth under 8 MiB)
    for step in ["stg_returnees_latest", "stg_returnees_seen"] {
        assert!(log.contains(&format!("step=\"{step}\" part=person_key bucket 2 of")), "{step} ran whole:\n{log}");
        // Its buckets' rows, of every county, sorted at once, as the budget holds them (a
        // county at a time when it does not: `sql::split`'s unit tests hold the bytes the same).
        let sorted = format!("parts sorted at once step=\"{step}\" rows=");
        let rows = log.lines().find_map(|l| l.split_once(&sorted)?.1.trim().parse::<usize>().ok());
        assert!(rows.is_some_and(|n| n > 1_000), "{step} sorted a county at a time:\n{log}");
    }
    assert_same_marts(&parts, &whole, "when split by county");
}

/// A district of a city sends its 网格台账 again on a later day, alone: it replaces that
/// district's grids (a community it no longer lists is gone) and is no partial registry, while
/// the other district's grids, sent days before, stay in force; the communities expected to
/// report are the registry's; and the registry worked out a county at a time is the whole
/// city's, byte for byte.
#[test]
fn a_district_sending_its_registry_alone_replaces_its_own_grids_and_no_other_district_s() {
    let dir = scratch();
    let city = dir.path().join("city");
    wangge_expect(&["demo-data", city.to_str().unwrap(), "--districts", "2", "--days", "2"], 0);
    let registries = city.join("inbox/台账");
    let sent = |district: &str| {
        let found = std::fs::read_dir(&registries)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("{district}网格台账")));
        found.unwrap_or_else(|| panic!("no registry of {district}"))
    };
    let (header, rows) = registry_rows(&sent("路南区"));
    let (_, others) = registry_rows(&sent("高新区"));
    let dropped = rows.last().unwrap()[3].clone();
    let kept: Vec<Vec<String>> = rows.into_iter().filter(|r| r[3] != dropped).collect();
    // Ingested on a later day than the first registries, against the registry read back.
    let aside = dir.path().join("aside.xlsx");
    write_registry(&aside, "路南区网格划分台账（截至2022年5月10日）", &header, &kept);
    let day = city.join("inbox/2022-05-10");
    std::fs::rename(&day, dir.path().join("day")).unwrap();
    wangge_expect(&["--workspace", city.to_str().unwrap(), "ingest", "--date", "2022-05-09", "--brief"], 0);
    std::fs::rename(dir.path().join("day"), &day).unwrap();
    std::fs::rename(&aside, registries.join("路南区网格台账（2022.5.10）.xlsx")).unwrap();
    ingest(&city);
    let scopes = query_csv(
        &city,
        "SELECT report_date, registry_scope, count(DISTINCT substr(grid_code, 1, 6)) AS counties FROM grids \
         GROUP BY 1, 2 ORDER BY 1, 2",
    );
    let dates: Vec<&str> = scopes.lines().skip(1).collect();
    assert!(dates.len() == 2 && dates[1] == "2022-05-10,district,1", "no partial registry:\n{scopes}");

    let config = std::fs::read_to_string(city.join("wangge.toml")).unwrap();
    let (whole, _) = fresh_marts(&city, &config.replace("split_by_county = true", "split_by_county = false"), "");
    let (parts, log) = fresh_marts(&city, &config, "wangge::sql::split=debug");
    assert!(log.contains("step=\"stg_registry\" part=county 130202"), "stg_registry ran whole:\n{log}");
    assert_same_marts(&parts, &whole, "with the registry worked out a county at a time");

    // In force: 路南区's new registry and 高新区's of days before, and nothing else.
    let want: std::collections::BTreeSet<String> = kept.iter().chain(&others).map(|r| r[5].clone()).collect();
    let grids = query_csv(&city, "SELECT grid_code FROM stg_registry WHERE report_date = DATE '2022-05-10'");
    let got: std::collections::BTreeSet<String> = grids.lines().skip(1).map(str::to_string).collect();
    assert!(!got.iter().any(|g| g.starts_with(&dropped)), "the dropped community's grids are in force");
    assert_eq!(got, want);
    let on_the_day = "WHERE report_date = DATE '2022-05-10'";
    let expected = query_csv(
        &city,
        &format!(
            "SELECT (SELECT count(DISTINCT community_code) FROM completeness {on_the_day}) AS expected, \
             (SELECT count(DISTINCT community_code) FROM stg_registry {on_the_day}) AS in_force, \
             (SELECT count(*) FROM completeness {on_the_day} AND community_code = '{dropped}') AS dropped"
        ),
    );
    let n: Vec<u64> = expected.lines().nth(1).unwrap().split(',').map(|v| v.parse().unwrap()).collect();
    assert!(n.len() == 3 && n[0] == n[1] && n[0] > 40 && n[2] == 0, "communities expected to report:\n{expected}");
}

#[test]
fn a_city_gets_a_report_per_county_holding_only_its_own_towns() {
    let dir = scratch();
    let city = dir.path().join("city");
    wangge_expect(&["demo-data", city.to_str().unwrap(), "--districts", "2", "--days", "1"], 0);
    let config = std::fs::read_to_string(city.join("wangge.toml")).unwrap();
    assert!(config.contains("{ code = \"130202\", name = \"路南区\" }"), "the counties are named: {config}");
    ingest(&city);
    let run = wangge(&["--workspace", city.to_str().unwrap(), "run", "daily", "--date", "2022-05-10"]);
    only_data_checks_fail(&run);

    let day = city.join("reports/2022-05-10");
    let workbooks = files(&day.join("county"), "xlsx");
    let stems: Vec<String> = workbooks.iter().map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(stems, ["130202-路南区", "130273-高新区"], "one report per county, named from wangge.toml");
    assert_eq!(files(&day.join("county"), "html").len(), 2);
    let page = std::fs::read_to_string(day.join("county/130202-路南区.html")).unwrap();
    assert!(page.contains("唐山市路南区网格化管理日报"), "the title names the city and the county");

    // Each county's towns, and their new returnees, as the pipeline has them.
    let towns = query_csv(
        &city,
        "SELECT substr(town_code, 1, 6) AS county, town, returnees_new FROM daily_town \
         WHERE report_date = DATE '2022-05-10' AND town_code IS NOT NULL ORDER BY 1, 2",
    );
    let towns: Vec<Vec<&str>> = towns.lines().skip(1).map(|l| l.split(',').collect()).collect();
    for (workbook, code) in workbooks.iter().zip(["130202", "130273"]) {
        let own: Vec<&str> = towns.iter().filter(|t| t[0] == code).map(|t| t[1]).collect();
        assert!(own.len() >= 3, "{code}: {own:?}");
        // The table of towns (a step with no county_code: cut by the towns' codes) and the
        // communities' table hold exactly this county's towns.
        let rows = data_rows(workbook, "各镇街汇总", 2);
        let mut shown: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        shown.sort();
        assert_eq!(shown, own, "{}: 各镇街汇总", workbook.display());
        let communities = data_rows(workbook, "各村(社区)汇总", 2);
        assert!(!communities.is_empty() && communities.iter().all(|r| own.contains(&r[0].as_str())));
        // Its key figures are its own: new returnees are its towns' sum.
        let new: f64 = towns.iter().filter(|t| t[0] == code).map(|t| t[2].parse::<f64>().unwrap()).sum();
        let headline = data_rows(workbook, "今日要点", 1);
        let figure = headline.iter().find(|r| r[0] == "新增来返人员").expect("新增来返人员 in 今日要点");
        assert_eq!(figure[1].parse::<f64>().unwrap(), new, "{}: {headline:?}", workbook.display());
    }

    // The county's office (a recipient whose scope is its code) gets its report, and only it.
    wangge_expect(&["--workspace", city.to_str().unwrap(), "deliver", "--date", "2022-05-10"], 0);
    let mail = eml_summaries(&city.join("outbox/2022-05-10/county130202@gxq.example.cn"));
    assert_eq!(mail.len(), 1, "{mail:?}");
    let message = mail.values().next().unwrap();
    let attached: Vec<&str> =
        message["attachments"].as_array().unwrap().iter().map(|a| a["filename"].as_str().unwrap()).collect();
    assert_eq!(attached, ["130202-路南区.xlsx"], "{message}");
    assert_eq!(message["report"].as_str(), Some("130202-路南区"), "{message}");
}

/// A city's run passes every check but those that report on the data sent (a community that
/// did not report is a finding, exit 1): a check on the pipeline's own shape, such as the
/// headline's one row per place and figure, must hold for several counties as for one.
fn only_data_checks_fail(run: &std::process::Output) {
    let stderr = text(&run.stderr);
    assert!(run.status.code().is_some_and(|c| c <= 1), "{stderr}");
    let failed: Vec<&str> =
        stderr.lines().filter(|l| l.starts_with("check failed:") && !l.contains("on `completeness`")).collect();
    assert!(failed.is_empty(), "{failed:?}\n{stderr}");
}

//! `wangge demo-data`: the synthetic sample district of the founding article, written as the
//! files its offices would send, with `truth.json` beside them saying what a correct ingest
//! must make of every row.
//!
//! Deterministic: the same options give byte-identical files (our own PRNG, fixed creation
//! times in workbooks, sorted output). Never reads the clock.

mod city;
mod daily;
mod district;
mod names;
mod orders;
mod people;
mod returnees;
mod rng;
mod rosters;
pub mod sheet;
mod style;
mod truth;
mod workflows;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate};

use crate::config::init::{self, DistrictIdentity, InitError, KeySource};
use daily::{DayContext, DayPool, Submission};
use people::PersonFactory;
use rng::Rng;
use style::STYLES;
use truth::{SampleFile, SubmissionTruth, Truth};

pub use city::MAX_DISTRICTS;
pub use district::{GRIDS, SUB_GRIDS, WORKERS};

/// Options of `wangge demo-data`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Number of daily submissions, ending at `end_date`.
    pub days: u32,
    /// Multiplies the daily volumes (returnees, key persons, visits, work orders).
    pub scale: u64,
    pub seed: u64,
    pub end_date: NaiveDate,
    /// Districts of the city to generate (1: the founding article's district alone).
    pub districts: u32,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            days: 3,
            scale: 1,
            seed: 1,
            end_date: NaiveDate::from_ymd_opt(2022, 5, 10).unwrap(),
            districts: 1,
        }
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub files: usize,
    pub bytes: u64,
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub truth_path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Init(#[from] InitError),
    #[error("cannot write workbook `{path}`")]
    Workbook {
        path: String,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("`--days` must be at least 1, `--scale` at least 1, and `--districts` 1 to {}", city::MAX_DISTRICTS)]
    BadOptions,
}

/// Communities with a special part to play in the sample, by name.
const MISSING_ON_SECOND_DAY: &str = "华岩社区"; // 应报未报
const ZERO_REPORT_NONE_ROW: &str = "东坪村"; // 零报告 with a single 无 row
const ZERO_REPORT_EMPTY: &str = "高家庄村"; // 零报告 with a header and no rows
const HIDDEN_STALE_SHEET: &str = "世纪花园社区"; // hidden sheet of last week's rows

/// Writes the sample district into `dir`, which becomes a workspace.
pub fn generate(dir: &Path, options: &DemoOptions) -> Result<DemoSummary, DemoError> {
    if options.days == 0 || options.scale == 0 || !(1..=city::MAX_DISTRICTS).contains(&options.districts) {
        return Err(DemoError::BadOptions);
    }
    let root = Rng::new(options.seed);
    // The sample's pseudonymisation key is derived from the seed so that the sample is
    // reproducible; it protects nothing, as every person in the sample is invented.
    let mut key_rng = root.fork("key");
    let mut key = [0u8; 32];
    for chunk in key.chunks_mut(8) {
        chunk.copy_from_slice(&key_rng.next_u64().to_le_bytes());
    }
    let territories = city::territories(&root, options.districts);
    let identity = if territories.len() == 1 {
        DistrictIdentity::default()
    } else {
        DistrictIdentity {
            name: city::CITY_NAME.into(),
            short_name: city::CITY_NAME.into(),
            code: city::CITY_CODE.into(),
            counties: territories.iter().map(|t| (t.code.clone(), t.short_name.clone())).collect(),
        }
    };
    init::init_workspace(dir, &identity, KeySource::Fixed(key))?;

    let days: Vec<NaiveDate> =
        (0..options.days).rev().map(|i| options.end_date - Duration::days(i64::from(i))).collect();
    let mut people = PersonFactory::default();
    let mut files = Vec::new();
    let mut submissions: BTreeMap<String, SubmissionTruth> = BTreeMap::new();
    let mut districts = Vec::new();
    for (d, territory) in territories.iter().enumerate() {
        // The article's district draws from the root stream, so that it is the same files
        // whether it is generated alone or as the first district of a city.
        let droot = if d == 0 { root.clone() } else { root.fork(&format!("district/{}", territory.code)) };
        let district = district::build(&droot, &mut people, options.end_date, territory);
        district_files(&droot, &district, &days, options, &mut people, &mut files, &mut submissions);
        districts.push(district);
    }

    let inbox = dir.join("inbox");
    let mut bytes = 0u64;
    for file in &files {
        let data = match file.format {
            "csv" => sheet::write_gbk_csv(&file.sheets[0]),
            _ => sheet::write_xlsx(&file.sheets, file.report_date)
                .map_err(|source| DemoError::Workbook { path: file.path.clone(), source })?,
        };
        bytes += data.len() as u64;
        init::write_file(&inbox.join(&file.path), &data)?;
    }

    let (totals, file_truths, daily_figures, workflow_figures) = truth::account(&mut files);
    let truth = Truth {
        generator: BTreeMap::from([
            (
                "command",
                format!(
                    "wangge demo-data --days {} --scale {} --seed {} --end-date {}{}",
                    options.days,
                    options.scale,
                    options.seed,
                    options.end_date,
                    if districts.len() > 1 { format!(" --districts {}", districts.len()) } else { String::new() },
                ),
            ),
            ("version", env!("CARGO_PKG_VERSION").to_string()),
        ]),
        rules: rules(),
        district: district_counts(&districts, &files),
        submissions,
        totals: totals.clone(),
        files: file_truths,
        daily: daily_figures,
        workflows: workflow_figures,
    };
    init::write_file(&dir.join("recipients.toml"), recipients_toml(&districts).as_bytes())?;
    let truth_path = dir.join("truth.json");
    let mut json = serde_json::to_string_pretty(&truth).expect("truth serialises");
    json.push('\n');
    init::write_file(&truth_path, json.as_bytes())?;
    Ok(DemoSummary {
        files: files.len(),
        bytes,
        rows_read: totals.rows_read,
        accepted: totals.accepted,
        rejected: totals.rejected.values().sum(),
        skipped: totals.skipped.values().sum(),
        truth_path,
    })
}

/// Appends one district's files (rosters, each community's daily workbooks, patrol records
/// and the hotline's work-order exports) and its submissions to the city's.
fn district_files(
    root: &Rng,
    district: &district::District,
    days: &[NaiveDate],
    options: &DemoOptions,
    people: &mut PersonFactory,
    files: &mut Vec<SampleFile>,
    submissions: &mut BTreeMap<String, SubmissionTruth>,
) {
    // Rosters: the snapshot the district office holds on the day before the window.
    let as_of = days[0] - Duration::days(1);
    let stamp = format!("{}.{}.{}", as_of.year(), as_of.month(), as_of.day());
    let short = &district.short_name;
    // The article's district alone keeps the names it always had.
    let office = if district.code == district::ARTICLE_CODE { String::new() } else { short.clone() };
    let mut roster_rng = root.fork("rosters");
    for (name, sheets) in [
        (format!("台账/{short}网格台账（{stamp}）.xlsx"), rosters::grid_registry(district, as_of)),
        (format!("台账/{office}网格员花名册{stamp}.xlsx"), rosters::worker_roster(&mut roster_rng, district)),
        (
            format!("台账/{office}特殊人群台账{stamp}.xlsx"),
            rosters::special_population(&mut roster_rng, people, district, as_of),
        ),
    ] {
        files.push(SampleFile {
            path: name,
            format: "xlsx",
            encoding: None,
            roster: true,
            community_code: None,
            report_date: as_of,
            sheets,
        });
    }

    let missing_day = days[days.len().min(2) - 1];
    let zero_day = days[days.len() - 1];
    for &day in days {
        let mut pool = DayPool::default();
        let record = submissions.entry(day.to_string()).or_default();
        for (k, community) in district.communities().enumerate() {
            record.expected.push(community.code.clone());
            if day == missing_day && community.name == MISSING_ON_SECOND_DAY {
                record.missing.push(community.code.clone());
                continue;
            }
            let submission = match community.name.as_str() {
                ZERO_REPORT_NONE_ROW if day == zero_day => Submission::ZeroNone,
                ZERO_REPORT_EMPTY if day == zero_day => Submission::ZeroEmpty,
                _ => Submission::Normal,
            };
            if submission != Submission::Normal {
                record.zero_report.push(community.code.clone());
            }
            let style = STYLES[k % STYLES.len()];
            let mut rng = root.fork(&format!("daily/{day}/{}", community.code));
            let mut ctx = DayContext { day, community, style, people: &mut *people, scale: options.scale };
            let mut sheets = daily::community_sheets(&mut rng, &mut ctx, &mut pool, submission);
            if community.name == HIDDEN_STALE_SHEET && day == days[0] {
                sheets.push(daily::stale_hidden_sheet(&mut rng, &mut ctx));
            }
            // The workflows some communities add, from a stream of their own so that the other
            // sheets stay as they were.
            let mut extra = root.fork(&format!("workflows/{day}/{}", community.code));
            if workflows::sends_fire_safety(k) {
                sheets.push(workflows::fire_safety_sheet(&mut extra, &mut ctx));
            }
            if workflows::sends_testing(k, community) {
                sheets.push(workflows::testing_sheet(&mut extra, &mut ctx));
            }
            files.push(SampleFile {
                path: format!("{day}/{}", style.file_name(community, day)),
                format: "xlsx",
                encoding: None,
                roster: false,
                community_code: Some(community.code.clone()),
                report_date: day,
                sheets,
            });
        }
    }
    let mut patrol_rng = root.fork("patrols");
    for &day in days {
        for (path, sheet) in workflows::patrol_files(&mut patrol_rng, district, day) {
            files.push(SampleFile {
                path,
                format: "xlsx",
                encoding: None,
                roster: false,
                community_code: None,
                report_date: day,
                sheets: vec![sheet],
            });
        }
    }
    let mut order_rng = root.fork("orders");
    for (day, sheet) in days.iter().zip(orders::exports(&mut order_rng, people, district, days, options.scale)) {
        files.push(SampleFile {
            path: format!("{day}/{office}民生诉求工单导出_{}.csv", day.format("%Y%m%d")),
            format: "csv",
            encoding: Some("gbk"),
            roster: false,
            community_code: None,
            report_date: *day,
            sheets: vec![sheet],
        });
    }
}

fn rules() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("paths", "file paths are relative to the workspace's inbox, with / separators"),
        (
            "rows",
            "row numbers are 1-based Excel row numbers (CSV: line numbers); rows_read counts every row from 1 to the last used row of a read sheet, and rows_read = accepted + rejected + skipped",
        ),
        (
            "sheets",
            "hidden sheets (status hidden) and sheets matching no form (status unrecognised) are reported, not read: their rows are not counted",
        ),
        (
            "order",
            "rosters first, then files in byte order of their path, sheets in workbook order, rows top to bottom",
        ),
        (
            "duplicates",
            "the first accepted occurrence of a (form, report date, identity) is kept; later ones are rejected as duplicate with `kept` pointing at the first; identity: citizen ID (returnees, workers), citizen ID or else phone (followups), grid + address + household head (visits), order id (work_orders), grid + address (fire_safety), grid + building + test date (testing), team + grid + checkpoint + patrol date (patrols)",
        ),
        (
            "work_orders",
            "an order appearing in several daily exports takes its latest accepted state; work_orders_received and work_orders_closed count orders by the date of received_at and closed_at",
        ),
        (
            "daily",
            "daily figures count accepted rows per report date and grid code: returnees, followups, visits, fire_safety, testing, patrols",
        ),
        (
            "workflows",
            "per report date and grid code, summed over accepted rows: fire_hazard_places (a place with any item found unsafe or a hazard count above 0), fire_ebikes, testing_residents, testing_tested, patrol_problems",
        ),
        (
            "report_date",
            "daily files: the day they report on (from title, sheet name, file name or folder); rosters: the date in their file name",
        ),
    ])
}

/// The units of the sample, summed over its districts (`districts` only for a city).
fn district_counts(districts: &[district::District], files: &[SampleFile]) -> BTreeMap<&'static str, u64> {
    let grids: Vec<_> = districts.iter().flat_map(|d| d.grids()).collect();
    let special: u64 = files
        .iter()
        .filter(|f| f.roster)
        .flat_map(|f| f.sheets.iter())
        .filter(|s| s.form == Some("special_population"))
        .map(|s| s.rows.iter().filter(|r| matches!(r.kind, sheet::RowKind::Data { .. })).count() as u64)
        .sum();
    let mut counts = BTreeMap::from([
        ("towns", districts.iter().map(|d| d.towns.len() as u64).sum()),
        ("communities", districts.iter().map(|d| d.communities().count() as u64).sum()),
        ("grids", grids.len() as u64),
        ("sub_grids", grids.iter().map(|(_, g)| g.sub_grids.len() as u64).sum()),
        ("workers", grids.iter().map(|(_, g)| g.workers.len() as u64).sum()),
        ("households", grids.iter().map(|(_, g)| g.households()).sum()),
        ("residents", grids.iter().map(|(_, g)| g.residents).sum()),
        ("special_population", special),
    ]);
    if districts.len() > 1 {
        counts.insert("districts", districts.len() as u64);
    }
    counts
}

/// The sample's recipients: the district's (or city's) office, a city's county offices, each
/// town's leader, and in the first district a community's secretary and two grid workers, at
/// invented addresses (`wangge daily` writes their messages to the outbox).
fn recipients_toml(districts: &[district::District]) -> String {
    let district = &districts[0];
    let mut out = String::from(
        "# Who receives the daily reports (`wangge daily`). scope: \"district\" or the code of a town,\n\
         # community, grid or building (a unit with reports of its own); formats: \"html\" (the message body) and/or \"xlsx\" (attached). All addresses are invented.\n",
    );
    let entry = |name: &str, address: &str, scope: &str, formats: &str| {
        format!(
            "\n[[recipient]]\nname = \"{name}\"\naddress = \"{address}\"\nscope = \"{scope}\"\nformats = {formats}\n"
        )
    };
    let office = if districts.len() > 1 { "市网格化服务管理中心" } else { "区网格化管理办公室" };
    out.push_str(&entry(office, "wgb@gxq.example.cn", "district", "[\"html\", \"xlsx\"]"));
    // A city's counties and districts (区县): each office receives its own report.
    if districts.len() > 1 {
        for d in districts {
            out.push_str(&entry(
                &format!("{}网格化管理办公室", d.short_name),
                &format!("county{}@gxq.example.cn", d.code),
                &d.code,
                "[\"html\", \"xlsx\"]",
            ));
        }
    }
    for town in districts.iter().flat_map(|d| d.towns.iter()) {
        let Some(first) = town.communities.first() else { continue };
        let code = &first.code[..9];
        out.push_str(&entry(
            &format!("{}网格办", town.name),
            &format!("town{code}@gxq.example.cn"),
            code,
            "[\"html\", \"xlsx\"]",
        ));
    }
    // A community's secretary (村/社区书记) receives the community's report.
    if let Some(c) = district.communities().next() {
        out.push_str(&entry(
            &format!("{}书记", c.name),
            &format!("community{}@gxq.example.cn", c.code),
            &c.code,
            "[\"html\", \"xlsx\"]",
        ));
    }
    for town in district.towns.iter().take(2) {
        if let Some((c, g)) = town.communities.first().and_then(|c| c.grids.first().map(|g| (c, g))) {
            out.push_str(&entry(
                &format!("{}第{}网格网格员", c.name, g.number),
                &format!("grid{}@gxq.example.cn", g.code),
                &g.code,
                "[\"xlsx\"]",
            ));
        }
    }
    out
}

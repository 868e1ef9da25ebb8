//! The three workflows of the founding article beyond returnees, follow-ups and visits:
//! fire-safety visits (消防), testing organised building by building (核酸) and the dedicated
//! inspection teams (巡查). Some communities send the first two as extra sheets of their daily
//! workbook; each team sends its own file. Every row carries the facts truth.json's
//! `workflows` figures are summed from.

use chrono::{Datelike, Duration, NaiveDate};

use super::daily::{DayContext, Fields, Record, address_for, data_sheet};
use super::district::{Community, District, Grid};
use super::rng::Rng;
use super::sheet::{Cell, Column, Expect, Row, RowKind, Sheet, SheetStatus, SkipReason};
use super::style::{DailyForm, Style, chinese_number};

/// Whether the `k`-th community sends fire-safety checks (a quarter of them, every style).
pub fn sends_fire_safety(k: usize) -> bool {
    k % 4 == 1
}

/// Whether the `k`-th community organises testing building by building and reports it.
pub fn sends_testing(k: usize, c: &Community) -> bool {
    c.urban && k % 4 == 2
}

/// Header wording of the workflow forms in a community's style (`None` for the other forms).
pub fn columns(form: DailyForm, style: Style) -> Option<Vec<Column>> {
    let spec: &[(&'static str, &'static str, Option<&'static str>)] = match (form, style) {
        (DailyForm::FireSafety, Style::MergedHeader) => &[
            ("seq", "序号", None),
            ("check_date", "检查日期", None),
            ("grid", "所属网格", None),
            ("place", "场所名称", Some("检查对象")),
            ("place_kind", "场所类型", Some("检查对象")),
            ("address", "地址", Some("检查对象")),
            ("extinguisher_ok", "灭火器", Some("检查项目")),
            ("exits_clear", "安全通道", Some("检查项目")),
            ("ebike_indoor", "电动车", Some("检查项目")),
            ("wiring_unsafe", "电线私拉乱接", Some("检查项目")),
            ("clutter", "杂物堆放", Some("检查项目")),
            ("fix_way", "整改方式", Some("隐患整改")),
            ("fix_deadline", "整改期限", Some("隐患整改")),
            ("inspector", "检查人", None),
        ],
        (DailyForm::FireSafety, Style::Bare) => &[
            ("check_date", "日期", None),
            ("grid", "网格名称", None),
            ("inspector", "检查人员", None),
            ("place", "户主/场所", None),
            ("address", "住址", None),
            ("extinguisher_ok", "灭火器", None),
            ("exits_clear", "安全通道", None),
            ("ebike_indoor", "电动车", None),
            ("hazard_count", "隐患数", None),
            ("fix_way", "整改情况", None),
        ],
        (DailyForm::FireSafety, Style::Messy) => &[
            ("seq", "序号", None),
            ("check_date", "检查时间", None),
            ("grid", "网格", None),
            ("inspector", "网格员", None),
            ("place", "被检查单位/户主", None),
            ("address", "详细地址", None),
            ("place_kind", "场所类别", None),
            ("extinguisher_ok", "灭火器是否有效", None),
            ("exits_clear", "通道是否畅通", None),
            ("ebike_indoor", "电动车入户/飞线充电", None),
            ("wiring_unsafe", "私拉乱接电线", None),
            ("clutter", "杂物堆放", None),
            ("hazard_count", "发现隐患(处)", None),
            ("hazard", "隐患情况", None),
            ("fix_way", "整改措施", None),
            ("fix_deadline", "整改时限", None),
            ("fixed", "复查结果", None),
        ],
        (DailyForm::FireSafety, _) => &[
            ("seq", "序号", None),
            ("check_date", "检查日期", None),
            ("inspector", "检查人", None),
            ("place", "场所名称", None),
            ("place_kind", "场所类型", None),
            ("address", "地址", None),
            ("grid", "所属网格", None),
            ("extinguisher_ok", "灭火器配备有效", None),
            ("exits_clear", "疏散通道畅通", None),
            ("ebike_indoor", "电动车楼道停放充电", None),
            ("wiring_unsafe", "电线私拉乱接", None),
            ("clutter", "楼道杂物堆放", None),
            ("hazard_count", "隐患数", None),
            ("hazard", "隐患描述", None),
            ("fix_way", "整改方式", None),
            ("fix_deadline", "整改期限", None),
            ("fixed", "是否整改完成", None),
        ],
        (DailyForm::Testing, Style::MergedHeader) => &[
            ("seq", "序号", None),
            ("test_date", "日期", None),
            ("grid", "网格", None),
            ("building", "楼号", None),
            ("residents", "应检", Some("人数")),
            ("tested", "已检", Some("人数")),
            ("untested", "未检", Some("人数")),
            ("reason", "备注", None),
        ],
        (DailyForm::Testing, Style::Messy) => &[
            ("test_date", "采样日期", None),
            ("grid", "网格", None),
            ("building", "楼栋号", None),
            ("residents", "在住人数", None),
            ("tested", "已采样人数", None),
            ("untested", "未采人数", None),
            ("reason", "原因", None),
            ("site", "采样点", None),
        ],
        (DailyForm::Testing, _) => &[
            ("seq", "序号", None),
            ("test_date", "检测日期", None),
            ("grid", "所属网格", None),
            ("building", "楼栋", None),
            ("building_leader", "楼栋长", None),
            ("residents", "应检人数", None),
            ("tested", "实检人数", None),
            ("untested", "未检人数", None),
            ("reason", "未检原因", None),
        ],
        _ => return None,
    };
    Some(spec.iter().map(|&(field, header, parent)| Column { field, header: header.to_string(), parent }).collect())
}

/// 是/否 as this office ticks it.
fn yes_no(rng: &mut Rng, style: Style, value: bool) -> Cell {
    let (yes, no) = match style {
        Style::MergedHeader => ("√", "×"),
        Style::Bare => ("有", "无"),
        Style::Messy if rng.chance(500) => ("√", "×"),
        _ => ("是", "否"),
    };
    Cell::text(if value { yes } else { no })
}

/// A day's fire-safety checks of one community: a place or two per grid.
pub fn fire_safety_sheet(rng: &mut Rng, ctx: &mut DayContext<'_>) -> Sheet {
    let c = ctx.community;
    let mut records = Vec::new();
    for grid in &c.grids {
        let n = rng.around(1.2 * ctx.scale as f64);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..n {
            let address = address_for(rng, c, grid);
            if !seen.insert(address.clone()) {
                continue; // a place is checked once a day
            }
            records.push(fire_record(rng, ctx, grid, address));
        }
    }
    data_sheet(rng, ctx, DailyForm::FireSafety, records, true)
}

fn fire_record(rng: &mut Rng, ctx: &mut DayContext<'_>, grid: &Grid, address: String) -> Record {
    let (c, style) = (ctx.community, ctx.style);
    let kind = *rng.pick(&["居民住户", "居民住户", "居民住户", "出租屋", "九小场所", "沿街商铺"]);
    let place = match kind {
        "九小场所" | "沿街商铺" => {
            format!(
                "{}记{}",
                ctx.people.name(rng).chars().next().unwrap_or('王'),
                rng.pick(&["便利店", "餐馆", "理发店", "五金店"])
            )
        }
        _ => ctx.people.name(rng),
    };
    // What was found: each hazard now and then.
    let ebike = rng.chance(120);
    let blocked = rng.chance(60);
    let no_extinguisher = kind != "居民住户" && rng.chance(150);
    let wiring = rng.chance(50);
    let clutter = rng.chance(80);
    let hazards = [ebike, blocked, no_extinguisher, wiring, clutter].iter().filter(|h| **h).count();
    let checked = if rng.chance(900) { ctx.day } else { ctx.day - Duration::days(1) };
    let on_the_spot = hazards > 0 && rng.chance(600);
    let mut f = Fields::new();
    f.set("check_date", style.date_cell(rng, checked));
    f.set("inspector", Cell::text(grid.workers[0].person.name.clone()));
    f.set("place", Cell::text(place));
    f.set("place_kind", Cell::text(if style == Style::Messy && kind == "沿街商铺" { "门店" } else { kind }));
    f.set("address", Cell::text(address.clone()));
    f.set("grid", style.grid_cell(rng, c, grid));
    f.set("extinguisher_ok", yes_no(rng, style, !no_extinguisher));
    f.set("exits_clear", yes_no(rng, style, !blocked));
    f.set("ebike_indoor", yes_no(rng, style, ebike));
    f.set("wiring_unsafe", yes_no(rng, style, wiring));
    f.set("clutter", yes_no(rng, style, clutter));
    f.set(
        "hazard_count",
        if style == Style::Messy { Cell::text(format!("{hazards}处")) } else { Cell::Number(hazards as f64) },
    );
    let described: Vec<&str> = [
        (ebike, "电动车楼道充电"),
        (blocked, "疏散通道堵塞"),
        (no_extinguisher, "未配备灭火器"),
        (wiring, "电线私拉乱接"),
        (clutter, "楼道堆放杂物"),
    ]
    .iter()
    .filter(|(h, _)| *h)
    .map(|(_, d)| *d)
    .collect();
    f.set("hazard", Cell::text(if described.is_empty() { "无".to_string() } else { described.join("、") }));
    let fix_way = match (hazards, on_the_spot) {
        (0, _) => "无需整改",
        (_, true) => "当场整改",
        _ => "限期整改",
    };
    f.set("fix_way", Cell::text(fix_way));
    if fix_way == "限期整改" {
        let deadline = checked + Duration::days(rng.range(1, 5));
        f.set("fix_deadline", style.date_cell(rng, deadline));
    }
    f.set("fixed", yes_no(rng, style, hazards == 0 || on_the_spot));
    let mut expect = Expect::Accept { warnings: Vec::new() };
    let mut ebike_fact = ebike;
    match rng.below(1000) {
        0..15 => {
            f.set("address", Cell::Empty);
            expect = Expect::Reject { reason: "missing_required", field: "address", detail: None };
        }
        15..25 => {
            f.set("check_date", Cell::text(*rng.pick(&["5月32日", "待定", "2022.13.1"])));
            expect = Expect::Reject { reason: "invalid_date", field: "check_date", detail: None };
        }
        25..35 => {
            let number = c.grids.len() as u32 + rng.range(3, 20) as u32;
            f.set("grid", style.unknown_grid_cell(c, number));
            expect = Expect::Reject { reason: "unknown_grid", field: "grid", detail: None };
        }
        // An office's own tick that is neither yes nor no: kept, the item unknown.
        35..60 if style == Style::Messy => {
            f.set("ebike_indoor", Cell::text("不清楚"));
            ebike_fact = false;
            expect = Expect::Accept { warnings: vec![("unknown_value", "ebike_indoor")] };
        }
        _ => {}
    }
    // A column the style lacks is not in the sheet: its item is unknown, not false.
    let columns = columns(DailyForm::FireSafety, style).unwrap_or_default();
    let has = |field: &str| columns.iter().any(|c| c.field == field);
    let found = [
        (ebike_fact, "ebike_indoor"),
        (blocked, "exits_clear"),
        (no_extinguisher, "extinguisher_ok"),
        (wiring, "wiring_unsafe"),
        (clutter, "clutter"),
    ]
    .iter()
    .filter(|(h, field)| *h && has(field))
    .count();
    // A place has a hazard when any item says so or the count is above zero.
    let hazard_place = found > 0 || (has("hazard_count") && hazards > 0);
    let facts = vec![
        ("fire_hazard_places", u64::from(hazard_place).to_string()),
        ("fire_ebikes", u64::from(ebike_fact && has("ebike_indoor")).to_string()),
    ];
    let dedup_key = Some(format!("fire:{}:{}", grid.code, address));
    Record { fields: f, expect, dedup_key, grid_code: grid.code.clone(), facts }
}

/// A day's testing turnout of one community, building by building: the buildings called that
/// day, two or three per grid.
pub fn testing_sheet(rng: &mut Rng, ctx: &mut DayContext<'_>) -> Sheet {
    let (c, style) = (ctx.community, ctx.style);
    let mut records = Vec::new();
    for grid in &c.grids {
        let first = (grid.number - 1) * 6 + 1;
        let mut called: Vec<u32> = (first..first + 6).collect();
        super::district::shuffle(rng, &mut called);
        called.truncate(rng.range(2, 3) as usize);
        called.sort_unstable();
        for b in called {
            let building = match style {
                Style::MergedHeader => format!("{b}#楼"),
                Style::Bare => b.to_string(),
                Style::Messy => {
                    rng.pick(&[format!("{b}号楼"), format!("{b}栋"), format!("{b}#"), format!("{b}号")]).clone()
                }
                _ => format!("{b}号楼"),
            };
            let residents = rng.range(40, 160);
            let untested = rng.below((residents / 8 + 1) as u64) as i64;
            let tested = residents - untested;
            let mut f = Fields::new();
            f.set("test_date", style.date_cell(rng, ctx.day));
            f.set("grid", style.grid_cell(rng, c, grid));
            f.set("building", Cell::text(building.clone()));
            f.set("building_leader", Cell::text(ctx.people.name(rng)));
            f.set(
                "residents",
                if style == Style::Messy {
                    Cell::text(format!("{residents}人"))
                } else {
                    Cell::Number(residents as f64)
                },
            );
            f.set("tested", Cell::Number(tested as f64));
            f.set("untested", Cell::Number(untested as f64));
            if untested > 0 {
                f.set(
                    "reason",
                    Cell::text(*rng.pick(&["外出务工", "婴幼儿", "卧床老人已上门采样", "居家隔离单独采样"])),
                );
            }
            f.set("site", Cell::text(format!("{}{}号采样点", c.short_name(), grid.number)));
            let mut expect = Expect::Accept { warnings: Vec::new() };
            let mut counted = true;
            match rng.below(1000) {
                0..15 => {
                    f.set("building", Cell::Empty);
                    expect = Expect::Reject { reason: "missing_required", field: "building", detail: None };
                }
                15..30 => {
                    f.set("tested", Cell::text("未统计"));
                    expect = Expect::Reject { reason: "invalid_integer", field: "tested", detail: None };
                }
                30..40 => {
                    let number = c.grids.len() as u32 + rng.range(3, 20) as u32;
                    f.set("grid", style.unknown_grid_cell(c, number));
                    expect = Expect::Reject { reason: "unknown_grid", field: "grid", detail: None };
                }
                _ => {}
            }
            if !matches!(expect, Expect::Accept { .. }) {
                counted = false;
            }
            let facts = if counted {
                vec![("testing_residents", residents.to_string()), ("testing_tested", tested.to_string())]
            } else {
                Vec::new()
            };
            let dedup_key = Some(format!("testing:{}:{building}", grid.code));
            records.push(Record { fields: f, expect, dedup_key, grid_code: grid.code.clone(), facts });
        }
    }
    data_sheet(rng, ctx, DailyForm::Testing, records, true)
}

/// The inspection teams: three per town, each with its own grids (专属网格), each sending a
/// file a day of the points it checked. Returns (file name, sheet) per team that reported.
pub fn patrol_files(rng: &mut Rng, district: &District, day: NaiveDate) -> Vec<(String, Sheet)> {
    let mut out = Vec::new();
    for town in &district.towns {
        for k in 1..=3u32 {
            let team = format!("{}巡查{}队", town.name, chinese_number(k));
            if rng.chance(80) {
                continue; // a team that sent nothing today
            }
            let grids: Vec<(&Community, &Grid)> = town
                .communities
                .iter()
                .enumerate()
                .filter(|(i, _)| *i as u32 % 3 == k - 1)
                .flat_map(|(_, c)| c.grids.iter().map(move |g| (c, g)))
                .collect();
            if grids.is_empty() {
                continue;
            }
            let style = [Style::Standard, Style::Messy, Style::Bare][(k - 1) as usize];
            let name = format!("{day}/{team}巡查记录（{}.{}）.xlsx", day.month(), day.day());
            out.push((name, patrol_sheet(rng, (&district.short_name, &team), style, &grids, day)));
        }
    }
    out
}

/// `who`: the district's short name and the team's.
fn patrol_sheet(
    rng: &mut Rng,
    (district, team): (&str, &str),
    style: Style,
    grids: &[(&Community, &Grid)],
    day: NaiveDate,
) -> Sheet {
    let spec: &[(&'static str, &'static str)] = match style {
        Style::Messy => &[
            ("seq", "序号"),
            ("patrol_date", "检查日期"),
            ("team", "巡查组"),
            ("grid", "巡查网格"),
            ("checkpoint", "卡口"),
            ("three_items", "三件套"),
            ("freight_checked", "检查货车"),
            ("freight_issues", "不合规货车"),
            ("returnees_checked", "核查来返人员"),
            ("problem", "发现问题"),
            ("handling", "处置情况"),
            ("leader", "带队领导"),
        ],
        Style::Bare => &[
            ("patrol_date", "日期"),
            ("team", "队伍名称"),
            ("grid", "专属网格"),
            ("checkpoint", "检查点"),
            ("three_items", "三件套落实情况"),
            ("freight_checked", "货运车辆检查数"),
            ("problems", "问题数"),
            ("problem", "存在问题"),
        ],
        _ => &[
            ("seq", "序号"),
            ("patrol_date", "巡查日期"),
            ("team", "巡查队伍"),
            ("leader", "带队人"),
            ("grid", "专属网格"),
            ("checkpoint", "巡查点位"),
            ("three_items", "三件套落实"),
            ("freight_checked", "货运车辆检查数"),
            ("freight_issues", "货运车辆问题数"),
            ("returnees_checked", "来返人员核查数"),
            ("problems", "发现问题数"),
            ("problem", "存在问题"),
            ("handling", "处置方式"),
        ],
    };
    let columns: Vec<Column> =
        spec.iter().map(|&(field, header)| Column { field, header: header.to_string(), parent: None }).collect();
    let titles = match style {
        Style::Bare => Vec::new(),
        _ => vec![format!("{district}专属网格巡查记录表（{}年{}月{}日）", day.year(), day.month(), day.day())],
    };
    let mut rows = Vec::new();
    let stops = rng.range(4, 6) as usize;
    let mut seen = std::collections::HashSet::new();
    let leader = {
        let (_, g) = grids[0];
        g.workers[0].person.name.clone()
    };
    for i in 0..stops {
        let (c, g) = *rng.pick(grids);
        let point = format!("{}{}", c.short_name(), rng.pick(&["北门", "东口", "主路口卡口", "物流园入口"]));
        if !seen.insert((g.code.clone(), point.clone())) {
            continue;
        }
        let problems = if rng.chance(250) { rng.range(1, 2) } else { 0 };
        let mut f = Fields::new();
        f.set("seq", Cell::Number((i + 1) as f64));
        f.set("patrol_date", style.date_cell(rng, day));
        f.set("team", Cell::text(team));
        f.set("leader", Cell::text(leader.clone()));
        // Teams cross communities: a grid is named in full or by its code.
        f.set("grid", if style == Style::Bare { Cell::text(g.code.clone()) } else { Cell::text(c.grid_name(g)) });
        f.set("checkpoint", Cell::text(point.clone()));
        let three = match (problems > 0, style) {
            (false, Style::Messy) => "到位",
            (false, _) => "已落实",
            (true, Style::Messy) => "部分到位",
            (true, _) => "部分落实",
        };
        f.set("three_items", Cell::text(three));
        f.set("freight_checked", Cell::Number(rng.range(0, 30) as f64));
        f.set("freight_issues", Cell::Number(0.0));
        f.set("returnees_checked", Cell::Number(rng.range(0, 12) as f64));
        f.set("problems", Cell::Number(problems as f64));
        f.set(
            "problem",
            Cell::text(if problems > 0 {
                *rng.pick(&["扫码测温未落实", "货车司机未查验核酸证明", "卡口值守人员脱岗"])
            } else {
                "无"
            }),
        );
        f.set("handling", Cell::text(if problems > 0 { *rng.pick(&["当场整改", "移交网格"]) } else { "无" }));
        let mut expect = Expect::Accept { warnings: Vec::new() };
        let mut counted = true;
        match rng.below(1000) {
            0..25 => {
                f.set("grid", Cell::text(format!("{}第{}网格", c.name, c.grids.len() + 7)));
                expect = Expect::Reject { reason: "unknown_grid", field: "grid", detail: None };
                counted = false;
            }
            25..50 if style != Style::Bare => {
                f.set("freight_checked", Cell::text("约十辆"));
                expect = Expect::Accept { warnings: vec![("invalid_integer", "freight_checked")] };
            }
            _ => {}
        }
        let cells = columns.iter().map(|col| f.get(col.field)).collect();
        // Problems are counted where the sheet says how many: a column of them, or none.
        let has_problems = spec.iter().any(|(field, _)| *field == "problems");
        let facts = if counted && has_problems { vec![("patrol_problems", problems.to_string())] } else { Vec::new() };
        rows.push(Row {
            cells,
            kind: RowKind::Data {
                expect,
                dedup_key: Some(format!("patrol:{team}:{}:{point}", g.code)),
                grid_code: g.code.clone(),
                facts,
            },
        });
    }
    if style != Style::Bare {
        let mut cells = vec![Cell::Empty; columns.len()];
        cells[0] = Cell::text("合计");
        cells[1] = Cell::text(format!("共{}处", rows.len()));
        rows.push(Row { cells, kind: RowKind::Skip(SkipReason::Total) });
    }
    Sheet {
        name: match style {
            Style::Bare => "Sheet1".into(),
            _ => format!("{}.{}巡查", day.month(), day.day()),
        },
        status: SheetStatus::Read,
        form: Some("patrols"),
        titles,
        two_row_header: false,
        columns,
        rows,
        lines: Vec::new(),
    }
}

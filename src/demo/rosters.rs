//! The rosters an office keeps: 网格台账 (grid registry), 网格员花名册 (worker roster) and the
//! 特殊人群 register. Their data is clean (every grid, sub-grid and worker must load, so the
//! article's totals hold); their layout has the title rows, merged headers and synonyms of
//! real rosters.

use chrono::{Datelike, Duration, NaiveDate};

use super::district::District;
use super::people::PersonFactory;
use super::rng::Rng;
use super::sheet::{Cell, Column, Expect, Row, RowKind, Sheet, SheetStatus, SkipReason};

fn columns(spec: &[(&'static str, &'static str, Option<&'static str>)]) -> Vec<Column> {
    spec.iter().map(|&(field, header, parent)| Column { field, header: header.to_string(), parent }).collect()
}

fn accepted(cells: Vec<Cell>, key: String, grid_code: &str) -> Row {
    Row {
        cells,
        kind: RowKind::Data {
            expect: Expect::Accept { warnings: Vec::new() },
            dedup_key: Some(key),
            grid_code: grid_code.to_string(),
            facts: Vec::new(),
        },
    }
}

fn sheet(name: &str, form: &'static str, titles: Vec<String>, columns: Vec<Column>) -> Sheet {
    Sheet {
        name: name.to_string(),
        status: SheetStatus::Read,
        form: Some(form),
        titles,
        two_row_header: columns.iter().any(|c| c.parent.is_some()),
        columns,
        rows: Vec::new(),
        lines: Vec::new(),
    }
}

/// 网格台账: one sheet per town, one row per sub-grid.
pub fn grid_registry(district: &District, as_of: NaiveDate) -> Vec<Sheet> {
    let cols = columns(&[
        ("seq", "序号", None),
        ("town", "镇(办事处)", None),
        ("community", "村(社区)", None),
        ("community_code", "社区编码", None),
        ("grid_name", "网格名称", None),
        ("grid_code", "网格编码", None),
        ("sub_grid_name", "微网格名称", None),
        ("sub_grid_code", "微网格编码", None),
        ("grid_type", "网格类型", None),
        ("sub_grid_households", "微网格户数", None),
        ("households", "网格户数", None),
        ("residents", "常住人口", None),
        ("scope", "包含楼栋/小组", None),
        ("grid_leader", "网格长", None),
    ]);
    let mut sheets = Vec::new();
    for town in &district.towns {
        let mut s = sheet(
            &town.name,
            "grids",
            vec![format!("{}网格划分台账（截至{}年{}月{}日）", town.name, as_of.year(), as_of.month(), as_of.day())],
            cols.clone(),
        );
        let mut seq = 0;
        for c in &town.communities {
            for g in &c.grids {
                for sg in &g.sub_grids {
                    seq += 1;
                    let cells = vec![
                        Cell::Number(seq as f64),
                        Cell::text(town.name.clone()),
                        Cell::text(c.name.clone()),
                        Cell::text(c.code.clone()),
                        Cell::text(format!("第{}网格", g.number)),
                        Cell::text(g.code.clone()),
                        Cell::text(format!("第{}网格{}号微网格", g.number, sg.number)),
                        Cell::text(sg.code.clone()),
                        Cell::text(if c.urban { "城市社区网格" } else { "农村网格" }),
                        Cell::Number(sg.households as f64),
                        Cell::Number(g.households() as f64),
                        Cell::Number(g.residents as f64),
                        Cell::text(sg.scope.clone()),
                        Cell::text(g.workers[0].person.name.clone()),
                    ];
                    s.rows.push(accepted(cells, format!("sub_grid:{}", sg.code), &g.code));
                }
            }
        }
        s.rows.push(Row {
            cells: vec![Cell::text("填表说明：网格编码=社区编码+3位网格序号+2位微网格序号。")],
            kind: RowKind::Skip(SkipReason::Note),
        });
        sheets.push(s);
    }
    sheets
}

/// 网格员花名册: one sheet with a two-row merged header.
pub fn worker_roster(rng: &mut Rng, district: &District) -> Vec<Sheet> {
    let cols = columns(&[
        ("seq", "序号", None),
        ("town", "镇(办事处)", Some("所在单位")),
        ("community", "村(社区)", Some("所在单位")),
        ("grid", "网格编号", Some("网格信息")),
        ("grid_name", "网格名称", Some("网格信息")),
        ("sub_grid", "微网格", Some("网格信息")),
        ("role", "职务", Some("网格信息")),
        ("name", "姓名", Some("个人信息")),
        ("gender", "性别", Some("个人信息")),
        ("birth_month", "出生年月", Some("个人信息")),
        ("citizen_id", "身份证号码", Some("个人信息")),
        ("party", "政治面貌", Some("个人信息")),
        ("education", "文化程度", Some("个人信息")),
        ("phone", "联系电话", None),
        ("scope", "负责楼栋", None),
        ("households", "负责户数", None),
    ]);
    let mut s = sheet(
        "花名册",
        "workers",
        vec![format!("{}网格员花名册", district.name), format!("填报单位：{}网格化服务管理中心", district.short_name)],
        cols,
    );
    let mut seq = 0;
    for c in district.communities() {
        for g in &c.grids {
            for w in &g.workers {
                seq += 1;
                let p = &w.person;
                let sub = w.sub_grid.map(|n| &g.sub_grids[(n - 1) as usize]);
                let phone = if rng.chance(60) {
                    format!("{}、{}", p.phone, super::people::random_phone(rng))
                } else {
                    p.phone.clone()
                };
                let cells = vec![
                    Cell::Number(seq as f64),
                    Cell::text(c.town_name.clone()),
                    Cell::text(c.name.clone()),
                    Cell::text(g.code.clone()),
                    Cell::text(c.grid_name(g)),
                    sub.map_or(Cell::Empty, |s| Cell::text(format!("{}号微网格", s.number))),
                    Cell::text(w.role),
                    Cell::text(p.name.clone()),
                    Cell::text(p.gender.label()),
                    Cell::text(format!("{}.{:02}", p.birth.year(), p.birth.month())),
                    Cell::text(p.id.clone()),
                    Cell::text(w.party),
                    Cell::text(w.education),
                    Cell::text(phone),
                    Cell::text(sub.map_or_else(|| "全网格".to_string(), |s| s.scope.clone())),
                    Cell::Number(sub.map_or(g.households(), |s| s.households) as f64),
                ];
                s.rows.push(accepted(cells, format!("id:{}", p.id), &g.code));
            }
        }
    }
    vec![s]
}

/// 特殊人群台账: elderly living alone, disabled residents, and households lifted out of
/// poverty or under monitoring (villages only).
pub fn special_population(
    rng: &mut Rng,
    people: &mut PersonFactory,
    district: &District,
    as_of: NaiveDate,
) -> Vec<Sheet> {
    let cols = columns(&[
        ("seq", "序号", None),
        ("category", "人员类别", None),
        ("name", "姓名", None),
        ("gender", "性别", None),
        ("citizen_id", "身份证号", None),
        ("disability_cert", "残疾人证号", None),
        ("disability_kind", "残疾类别", None),
        ("disability_grade", "残疾等级", None),
        ("monitor_category", "监测对象类别", None),
        ("address", "住址", None),
        ("phone", "联系电话", None),
        ("grid_code", "网格编码", None),
        ("helper", "帮扶责任人", None),
        ("visit_interval_days", "走访频次(天)", None),
        ("last_visit_date", "最近走访日期", None),
    ]);
    let kinds = ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"];
    let mut elderly = sheet("独居老人", "special_population", vec!["独居老人台账".into()], cols.clone());
    let mut disabled = sheet("残疾人", "special_population", vec!["残疾人台账".into()], cols.clone());
    let mut poor = sheet("脱贫户监测户", "special_population", vec!["脱贫户及防返贫监测户台账".into()], cols);
    for c in district.communities() {
        for g in &c.grids {
            // About 10% of the 60+ (22% of residents) live alone; 2% hold a disability card.
            let n_elderly = rng.around(g.residents as f64 * 0.22 * 0.1);
            let n_disabled = rng.around(g.residents as f64 * 0.02);
            let n_poor = if c.urban { 0 } else { rng.around(0.4) };
            for (target, n, category) in
                [(&mut elderly, n_elderly, "独居老人"), (&mut disabled, n_disabled, "残疾人"), (&mut poor, n_poor, "")]
            {
                for _ in 0..n {
                    let (min_age, max_age) = if category == "独居老人" { (60, 95) } else { (5, 85) };
                    let p = people.person(rng, as_of, min_age, max_age);
                    let helper = &g.workers[rng.below(g.workers.len() as u64) as usize].person.name;
                    let mut cells = vec![Cell::Empty; target.columns.len()];
                    let mut put = |field: &str, cell: Cell| cells[target.column_index(field).unwrap()] = cell;
                    let (category, interval) = match category {
                        "" => (*rng.pick(&["脱贫户", "监测户"]), 30),
                        "残疾人" => ("残疾人", 14),
                        other => (other, 7),
                    };
                    put("seq", Cell::Number((target.rows.len() + 1) as f64));
                    put("category", Cell::text(category));
                    put("name", Cell::text(p.name.clone()));
                    put("gender", Cell::text(p.gender.label()));
                    put("citizen_id", Cell::text(p.id.clone()));
                    if category == "残疾人" {
                        let kind = rng.range(1, 7);
                        let grade = rng.range(1, 4);
                        put("disability_cert", Cell::text(format!("{}{kind}{grade}", p.id)));
                        put("disability_kind", Cell::text(kinds[(kind - 1) as usize]));
                        put(
                            "disability_grade",
                            Cell::text(format!("{}级", ["一", "二", "三", "四"][(grade - 1) as usize])),
                        );
                    }
                    if category == "监测户" {
                        put(
                            "monitor_category",
                            Cell::text(*rng.pick(&["脱贫不稳定户", "边缘易致贫户", "突发严重困难户"])),
                        );
                    }
                    put("address", Cell::text(super::daily::address_for(rng, c, g)));
                    put("phone", Cell::text(p.phone.clone()));
                    put("grid_code", Cell::text(g.code.clone()));
                    put("helper", Cell::text(helper.clone()));
                    put("visit_interval_days", Cell::Number(interval as f64));
                    put("last_visit_date", Cell::Date(as_of - Duration::days(rng.range(0, interval + 5))));
                    target.rows.push(accepted(cells, format!("id:{}:{category}", p.id), &g.code));
                }
            }
        }
    }
    vec![elderly, disabled, poor]
}

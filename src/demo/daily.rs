//! One community's daily workbook: the returnee, key-person and household-visit sheets in the
//! community's house style, with its title, total, note, blank and repeated-header rows.

use chrono::{Duration, NaiveDate};

use super::district::{Community, Grid};
use super::names::{CHECK_STATUS, KEY_CATEGORIES, MEASURES, PUSH_SOURCES, VISIT_KINDS, VISIT_PROBLEMS, VISIT_WAYS};
use super::people::{Person, PersonFactory};
use super::returnees::{self, Returnee};
use super::rng::Rng;
use super::sheet::{Cell, Expect, Row, RowKind, Sheet, SheetStatus, SkipReason};
use super::style::{DailyForm, Style};

/// What one community's day is made of.
pub struct DayContext<'a> {
    pub day: NaiveDate,
    pub community: &'a Community,
    pub style: Style,
    pub people: &'a mut PersonFactory,
    /// Multiplies the daily volumes.
    pub scale: u64,
}

/// People registered by more than one community on the same day (a returnee who lives in
/// one community and works in another; a key person pushed to two communities).
#[derive(Default)]
pub struct DayPool {
    pub returnees: Vec<Returnee>,
    pub key_persons: Vec<KeyPerson>,
}

/// How a community submits on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    Normal,
    /// 零报告: the returnee sheet has a header and no rows.
    ZeroEmpty,
    /// 零报告: the returnee sheet has a single 无 row.
    ZeroNone,
}

/// A form's field values for one row, by canonical field name.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(&'static str, Cell)>);

impl Fields {
    pub fn new() -> Fields {
        Fields::default()
    }

    pub fn set(&mut self, field: &'static str, cell: Cell) {
        match self.0.iter_mut().find(|(f, _)| *f == field) {
            Some(slot) => slot.1 = cell,
            None => self.0.push((field, cell)),
        }
    }

    pub fn get(&self, field: &str) -> Cell {
        self.0.iter().find(|(f, _)| *f == field).map_or(Cell::Empty, |(_, c)| c.clone())
    }
}

/// A data row before it is laid out in a sheet.
pub struct Record {
    pub fields: Fields,
    pub expect: Expect,
    pub dedup_key: Option<String>,
    pub grid_code: String,
    /// What the row adds to truth.json's figures beyond being counted (see `RowKind::Data`).
    pub facts: Vec<(&'static str, String)>,
}

/// A key person pushed from above for telephone follow-up.
#[derive(Debug, Clone)]
pub struct KeyPerson {
    pub person: Person,
    /// Pushed lists are often phone-only.
    pub has_id: bool,
    pub category: &'static str,
    pub source: &'static str,
    pub pushed: NaiveDate,
}

pub fn pick_grid<'c>(rng: &mut Rng, c: &'c Community) -> &'c Grid {
    rng.pick(&c.grids)
}

pub fn grid_of(c: &Community, number: u32) -> &Grid {
    &c.grids[(number - 1) as usize]
}

/// A home address inside a grid: building/unit/room in a community, group/number in a village.
pub fn address_for(rng: &mut Rng, c: &Community, g: &Grid) -> String {
    if c.urban {
        let building = (g.number - 1) * 6 + rng.range(1, 6) as u32;
        format!("{}{}号楼{}单元{}0{}", c.short_name(), building, rng.range(1, 3), rng.range(1, 6), rng.range(1, 2))
    } else {
        format!("{}{}组{}号", c.name, (g.number - 1) * 3 + rng.range(1, 3) as u32, rng.range(1, 80))
    }
}

/// The sheets of one community's workbook for one day.
pub fn community_sheets(
    rng: &mut Rng,
    ctx: &mut DayContext<'_>,
    pool: &mut DayPool,
    submission: Submission,
) -> Vec<Sheet> {
    let mut sheets = Vec::new();
    if ctx.style == Style::WithInstructions {
        sheets.push(instructions_sheet());
    }
    let returnee_records = match submission {
        Submission::Normal => returnee_records(rng, ctx, pool),
        _ => Vec::new(),
    };
    let mut returnees = data_sheet(rng, ctx, DailyForm::Returnees, returnee_records, true);
    if submission == Submission::ZeroNone {
        let mut cells = vec![Cell::Empty; returnees.columns.len()];
        cells[returnees.column_index("name").unwrap()] = Cell::text("无");
        // The 无 row stands where the data would, above any 合计 or note rows.
        returnees.rows.insert(0, Row { cells, kind: RowKind::Skip(SkipReason::ZeroReport) });
    }
    sheets.push(returnees);
    let followups = followup_records(rng, ctx, pool);
    sheets.push(data_sheet(rng, ctx, DailyForm::Followups, followups, false));
    let visits = visit_records(rng, ctx);
    sheets.push(data_sheet(rng, ctx, DailyForm::Visits, visits, false));
    sheets
}

fn returnee_records(rng: &mut Rng, ctx: &mut DayContext<'_>, pool: &mut DayPool) -> Vec<Record> {
    let n = rng.around(5.0 * ctx.scale as f64 * if ctx.community.urban { 1.3 } else { 0.7 });
    let mut records = Vec::new();
    for _ in 0..n {
        let mut r = returnees::new_returnee(rng, ctx);
        // Now and then a person another community registered today shows up here too.
        if !pool.returnees.is_empty() && rng.chance(40) {
            r.person = rng.pick(&pool.returnees).person.clone();
        } else {
            pool.returnees.push(r.clone());
        }
        let (fields, expect) = returnees::spell(rng, ctx, &r);
        let grid_code = grid_of(ctx.community, r.grid_number).code.clone();
        records.push(Record {
            fields,
            expect,
            dedup_key: Some(format!("id:{}", r.person.id)),
            grid_code,
            facts: Vec::new(),
        });
    }
    records
}

fn followup_records(rng: &mut Rng, ctx: &mut DayContext<'_>, pool: &mut DayPool) -> Vec<Record> {
    let n = rng.around(1.2 * ctx.scale as f64);
    let mut records = Vec::new();
    for _ in 0..n {
        let key = if !pool.key_persons.is_empty() && rng.chance(100) {
            rng.pick(&pool.key_persons).clone()
        } else {
            let k = KeyPerson {
                person: ctx.people.person(rng, ctx.day, 16, 75),
                has_id: rng.chance(600),
                category: *rng.pick(KEY_CATEGORIES),
                source: *rng.pick(PUSH_SOURCES),
                pushed: ctx.day - Duration::days(rng.range(0, 1)),
            };
            pool.key_persons.push(k.clone());
            k
        };
        let grid = pick_grid(rng, ctx.community);
        let mut f = Fields::new();
        f.set("push_date", ctx.style.date_cell(rng, key.pushed));
        f.set("push_source", Cell::text(key.source));
        f.set("name", Cell::text(key.person.name.clone()));
        f.set("citizen_id", if key.has_id { Cell::text(key.person.id.clone()) } else { Cell::Empty });
        f.set("phone", Cell::text(key.person.phone.clone()));
        f.set("category", Cell::text(key.category));
        f.set("check_status", Cell::text(*rng.pick(CHECK_STATUS)));
        f.set("followup_way", Cell::text(*rng.pick(&["电话", "电话", "入户"])));
        f.set("measure", Cell::text(rng.pick(MEASURES).0));
        f.set("grid", ctx.style.grid_cell(rng, ctx.community, grid));
        f.set("worker", Cell::text(grid.workers[0].person.name.clone()));
        // The phone is required here: pushed lists identify phone-only persons by it.
        let mut expect = Expect::Accept { warnings: Vec::new() };
        let roll = rng.below(1000);
        if key.has_id && roll < 30 {
            let id = &key.person.id;
            let wrong = if id.ends_with('1') { '2' } else { '1' };
            let wrong = if crate::normalize::citizen_id::check_char(&id[..17]) == wrong { 'X' } else { wrong };
            f.set("citizen_id", Cell::text(format!("{}{wrong}", &id[..17])));
            expect = Expect::Reject { reason: "invalid_id", field: "citizen_id", detail: Some("bad_checksum") };
        } else if (30..50).contains(&roll) {
            f.set("phone", Cell::Empty);
            expect = Expect::Reject { reason: "missing_required", field: "phone", detail: None };
        }
        let dedup_key =
            if key.has_id { format!("id:{}", key.person.id) } else { format!("phone:{}", key.person.phone) };
        records.push(Record {
            fields: f,
            expect,
            dedup_key: Some(dedup_key),
            grid_code: grid.code.clone(),
            facts: Vec::new(),
        });
    }
    records
}

fn visit_records(rng: &mut Rng, ctx: &mut DayContext<'_>) -> Vec<Record> {
    let mut records = Vec::new();
    let c = ctx.community;
    for grid in &c.grids {
        let n = rng.around(3.0 * ctx.scale as f64);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..n {
            let address = address_for(rng, c, grid);
            if !seen.insert(address.clone()) {
                continue; // one visit per household per day
            }
            let worker = &grid.workers[rng.below(grid.workers.len() as u64) as usize].person;
            let head = ctx.people.name(rng);
            let family: i64 = rng.range(1, 6);
            let mut f = Fields::new();
            let visited = if rng.chance(900) { ctx.day } else { ctx.day - Duration::days(1) };
            f.set("visit_date", ctx.style.date_cell(rng, visited));
            f.set("worker", Cell::text(worker.name.clone()));
            f.set("household_head", Cell::text(head.clone()));
            f.set("address", Cell::text(address.clone()));
            f.set("grid", ctx.style.grid_cell(rng, c, grid));
            f.set("visit_way", Cell::text(*rng.pick(VISIT_WAYS)));
            f.set("visit_kind", Cell::text(*rng.pick(VISIT_KINDS)));
            f.set(
                "family_size",
                if ctx.style == Style::Messy {
                    Cell::text(format!("{family}人"))
                } else {
                    Cell::Number(family as f64)
                },
            );
            f.set("at_home", Cell::Number(rng.range(0, family) as f64));
            f.set("away_plan", Cell::text(if rng.chance(150) { "子女在北京工作，暂无返唐计划" } else { "无" }));
            let problem = *rng.pick(VISIT_PROBLEMS);
            f.set("problem", Cell::text(problem));
            f.set("handling", Cell::text(if problem == "无" { "" } else { "已登记，跟进处理" }));
            let mut expect = Expect::Accept { warnings: Vec::new() };
            match rng.below(1000) {
                0..8 => {
                    f.set("household_head", Cell::Empty);
                    expect = Expect::Reject { reason: "missing_required", field: "household_head", detail: None };
                }
                8..12 => {
                    f.set("visit_date", Cell::text(*rng.pick(&["5月32日", "2022.5.", "昨天"])));
                    expect = Expect::Reject { reason: "invalid_date", field: "visit_date", detail: None };
                }
                12..15 => {
                    let number = c.grids.len() as u32 + rng.range(3, 20) as u32;
                    f.set("grid", ctx.style.unknown_grid_cell(c, number));
                    expect = Expect::Reject { reason: "unknown_grid", field: "grid", detail: None };
                }
                _ => {}
            }
            let dedup_key = Some(format!("visit:{}:{}:{}", grid.code, address, head));
            records.push(Record { fields: f, expect, dedup_key, grid_code: grid.code.clone(), facts: Vec::new() });
        }
    }
    records
}

/// Lays records out in the community's style, with the non-data rows that style adds.
pub fn data_sheet(
    rng: &mut Rng,
    ctx: &DayContext<'_>,
    form: DailyForm,
    records: Vec<Record>,
    may_duplicate: bool,
) -> Sheet {
    let style = ctx.style;
    let columns = style.columns(form);
    let mut sheet = Sheet {
        name: style.sheet_name(form, ctx.day),
        status: SheetStatus::Read,
        form: Some(form.id()),
        titles: style.titles(ctx.community, form, ctx.day),
        two_row_header: columns.iter().any(|c| c.parent.is_some()),
        columns,
        rows: Vec::new(),
        lines: Vec::new(),
    };
    let header_cells: Vec<Cell> = sheet.columns.iter().map(|c| Cell::text(c.header.clone())).collect();
    let repeat_header_at =
        if style == Style::Messy && records.len() >= 6 && rng.chance(400) { records.len() / 2 } else { usize::MAX };
    let mut records = records;
    // Offices paste a row twice now and then; the copy must come out as a duplicate.
    if may_duplicate && records.len() >= 3 && rng.chance(150) {
        let i = rng.below(records.len() as u64) as usize;
        if matches!(records[i].expect, Expect::Accept { .. }) {
            let copy = Record {
                fields: records[i].fields.clone(),
                expect: records[i].expect.clone(),
                dedup_key: records[i].dedup_key.clone(),
                grid_code: records[i].grid_code.clone(),
                facts: records[i].facts.clone(),
            };
            records.push(copy);
        }
    }
    let mut seq = 0;
    for (i, record) in records.into_iter().enumerate() {
        if i == repeat_header_at {
            sheet.rows.push(Row { cells: header_cells.clone(), kind: RowKind::Skip(SkipReason::RepeatedHeader) });
        }
        if style == Style::Messy && i > 0 && rng.chance(120) {
            sheet.rows.push(Row { cells: Vec::new(), kind: RowKind::Skip(SkipReason::Blank) });
        }
        seq += 1;
        let cells = sheet
            .columns
            .iter()
            .map(|c| if c.field == "seq" { Cell::Number(seq as f64) } else { record.fields.get(c.field) })
            .collect();
        let kind = RowKind::Data {
            expect: record.expect,
            dedup_key: record.dedup_key,
            grid_code: record.grid_code,
            facts: record.facts,
        };
        sheet.rows.push(Row { cells, kind });
    }
    append_footer(&mut sheet, style, seq);
    sheet
}

/// 合计 / 小计 / 总计 rows and notes under the data, as each style has them.
fn append_footer(sheet: &mut Sheet, style: Style, count: usize) {
    let width = sheet.columns.len();
    let mut total = |label: &str| {
        let mut cells = vec![Cell::Empty; width];
        cells[0] = Cell::text(label);
        cells[1] = Cell::text(format!("共{count}人"));
        sheet.rows.push(Row { cells, kind: RowKind::Skip(SkipReason::Total) });
    };
    match style {
        Style::Standard => total("合计"),
        Style::MergedHeader => total("合计"),
        Style::WithInstructions => total("总计"),
        Style::Messy => total("小计"),
        Style::Bare => {}
    }
    let note = match style {
        Style::Standard => Some("填表说明：身份证号请以文本格式录入，每日18时前报送。"),
        Style::MergedHeader => Some("填表人：          审核人：          联系电话："),
        Style::Messy => Some("注：以上信息已逐户核实。"),
        _ => None,
    };
    if let Some(note) = note {
        sheet.rows.push(Row { cells: vec![Cell::text(note)], kind: RowKind::Skip(SkipReason::Note) });
    }
}

fn instructions_sheet() -> Sheet {
    Sheet {
        name: "填表说明".into(),
        status: SheetStatus::Unrecognised,
        form: None,
        titles: Vec::new(),
        columns: Vec::new(),
        two_row_header: false,
        rows: Vec::new(),
        lines: vec![
            "填表说明".into(),
            "1. 本表每日18时前报送至街道（镇）网格办。".into(),
            "2. 身份证号请填写18位，末位X请大写。".into(),
            "3. 管控措施按防控办最新通告填写。".into(),
            "4. 无来返人员请填写“无”（零报告）。".into(),
        ],
    }
}

/// A hidden sheet of stale rows left over from an earlier week; never to be read.
pub fn stale_hidden_sheet(rng: &mut Rng, ctx: &mut DayContext<'_>) -> Sheet {
    let old_day = ctx.day - Duration::days(7);
    let mut old_ctx =
        DayContext { day: old_day, community: ctx.community, style: ctx.style, people: ctx.people, scale: 1 };
    let mut pool = DayPool::default();
    let records = returnee_records(rng, &mut old_ctx, &mut pool);
    let mut sheet = data_sheet(rng, &old_ctx, DailyForm::Returnees, records, false);
    sheet.name = "旧表（勿删）".into();
    sheet.status = SheetStatus::Hidden;
    sheet
}

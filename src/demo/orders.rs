//! The hotline system's daily work-order export (民生诉求工单): a GBK CSV holding every order
//! received or changed that day, so that an order appears again when its state changes and
//! the latest appearance wins.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::district::{Community, District, Grid};
use super::names::{CHANNELS, ORDER_CATEGORIES};
use super::people::{PersonFactory, random_phone};
use super::rng::Rng;
use super::sheet::{Cell, Column, Expect, Row, RowKind, Sheet, SheetStatus};

/// An order's life, decided when it is received.
#[derive(Debug, Clone)]
struct Order {
    id: String,
    channel: &'static str,
    received: NaiveDateTime,
    requester: String,
    phone: String,
    community: usize,
    grid: usize,
    category: &'static str,
    content: &'static str,
    urgent: bool,
    dispatched: NaiveDateTime,
    assignee: String,
    limit_hours: i64,
    closed: NaiveDateTime,
}

const HEADERS: &[(&str, &str)] = &[
    ("order_id", "工单编号"),
    ("channel", "来源渠道"),
    ("received_at", "受理时间"),
    ("requester", "诉求人"),
    ("phone", "联系电话"),
    ("town", "所属镇街"),
    ("community", "所属社区"),
    ("grid", "所属网格"),
    ("category", "事件类别"),
    ("content", "诉求内容"),
    ("urgency", "紧急程度"),
    ("dispatched_at", "派单时间"),
    ("assignee", "承办人"),
    ("time_limit_hours", "办理时限(小时)"),
    ("deadline", "截止时间"),
    ("closed_at", "办结时间"),
    ("status", "工单状态"),
    ("satisfaction", "满意度"),
];

/// A draw of each planted case of `order_row`: ambiguous grid, unknown grid, unknown channel,
/// impossible time, missing status.
const PLANTED: [u64; 5] = [0, 10, 16, 22, 26];

/// An order's first line in the exports, where problems are planted (`forced`: this case), or
/// a later one.
#[derive(Debug, Clone, Copy)]
enum Appearance {
    First { forced: Option<u64> },
    Later,
}

/// One export per day, oldest first.
pub fn exports(
    rng: &mut Rng,
    people: &mut PersonFactory,
    district: &District,
    days: &[NaiveDate],
    scale: u64,
) -> Vec<Sheet> {
    let communities: Vec<&Community> = district.communities().collect();
    let mut orders: Vec<Order> = Vec::new();
    let mut sheets = Vec::new();
    let mut late = rng.fork("late-closures");
    for &day in days {
        let first_new = orders.len();
        let n = rng.around(110.0 * scale as f64);
        for i in 0..n {
            let community = rng.below(communities.len() as u64) as usize;
            let c = communities[community];
            let grid = rng.below(c.grids.len() as u64) as usize;
            let received = day.and_time(
                NaiveTime::from_hms_opt(rng.range(7, 21) as u32, rng.range(0, 59) as u32, rng.range(0, 59) as u32)
                    .unwrap(),
            );
            let (category, contents) = rng.pick(ORDER_CATEGORIES);
            let urgent = rng.chance(150);
            let dispatched = received + Duration::minutes(rng.range(5, 90));
            let limit_hours = if urgent {
                24
            } else if rng.chance(500) {
                72
            } else {
                168
            };
            // Three in four are closed within the limit (or a little after); the rest late, not
            // never: a hotline escalates an overdue order until it is closed, so the orders
            // standing stay a few weeks' worth however long the history (orders left open for
            // ever piled up 40,000 standing after a year). The late ones draw from their own
            // stream so that the district's other files are unchanged.
            let closed = if rng.chance(750) {
                dispatched + Duration::minutes(rng.range(30, limit_hours * 60 * 5 / 4))
            } else {
                let late_hours = if late.chance(800) { late.range(1, 7 * 24) } else { late.range(7 * 24, 60 * 24) };
                dispatched + Duration::hours(limit_hours + late_hours)
            };
            orders.push(Order {
                id: format!("{}{}{:04}", district.order_prefix, day.format("%Y%m%d"), i + 1),
                channel: *rng.pick(CHANNELS),
                received,
                requester: if rng.chance(150) { "匿名".into() } else { people.name(rng) },
                phone: random_phone(rng),
                community,
                grid,
                category,
                content: *rng.pick(contents),
                urgent,
                dispatched,
                assignee: c.grids[grid].workers[1].person.name.clone(),
                limit_hours,
                closed,
            });
        }
        let end_of_day = day.and_hms_opt(23, 59, 59).unwrap();
        let mut sheet = Sheet {
            // A CSV file has no sheets; its one table has an empty sheet name everywhere.
            name: String::new(),
            status: SheetStatus::Read,
            form: Some("work_orders"),
            titles: Vec::new(),
            columns: HEADERS.iter().map(|(f, h)| Column { field: f, header: h.to_string(), parent: None }).collect(),
            two_row_header: false,
            rows: Vec::new(),
            lines: Vec::new(),
        };
        for (i, order) in orders.iter().enumerate() {
            let new_today = i >= first_new;
            let closed_today = order.closed.date() == day;
            if !new_today && !closed_today {
                continue;
            }
            let c = communities[order.community];
            // The first day's first new orders carry one planted problem each, so that every
            // case is in a sample of any length and seed (left to chance, a rare one such as
            // `unknown_grid` went missing when an unrelated change moved the stream).
            let appearance = if new_today {
                Appearance::First { forced: if day == days[0] { PLANTED.get(i - first_new).copied() } else { None } }
            } else {
                Appearance::Later
            };
            let row = order_row(rng, order, c, &c.grids[order.grid], end_of_day, appearance, &sheet);
            sheet.rows.push(row);
        }
        // The export repeats a line now and then; the copy is a duplicate of the first.
        if rng.chance(600) && !sheet.rows.is_empty() {
            let i = rng.below(sheet.rows.len() as u64) as usize;
            if matches!(&sheet.rows[i].kind, RowKind::Data { expect: Expect::Accept { .. }, .. }) {
                let copy = sheet.rows[i].clone();
                sheet.rows.push(copy);
            }
        }
        sheets.push(sheet);
    }
    sheets
}

fn timestamp(rng: &mut Rng, t: NaiveDateTime) -> Cell {
    // Most lines use the system's format; hand-edited ones use Excel's.
    if rng.chance(900) {
        Cell::text(t.format("%Y-%m-%d %H:%M:%S").to_string())
    } else {
        Cell::text(t.format("%Y/%-m/%-d %-H:%M").to_string())
    }
}

fn order_row(
    rng: &mut Rng,
    o: &Order,
    c: &Community,
    g: &Grid,
    end_of_day: NaiveDateTime,
    appearance: Appearance,
    sheet: &Sheet,
) -> Row {
    let closed = Some(o.closed).filter(|t| *t <= end_of_day);
    let status = match closed {
        Some(_) => "已办结",
        None if o.dispatched <= end_of_day => "处置中",
        None => "已派单",
    };
    let mut values: Vec<(&str, Cell)> = vec![
        ("order_id", Cell::text(o.id.clone())),
        ("channel", Cell::text(o.channel)),
        ("received_at", timestamp(rng, o.received)),
        ("requester", Cell::text(o.requester.clone())),
        ("phone", Cell::text(o.phone.clone())),
        ("town", Cell::text(c.town_name.clone())),
        ("community", Cell::text(c.name.clone())),
        ("grid", if rng.chance(500) { Cell::text(g.code.clone()) } else { Cell::text(format!("第{}网格", g.number)) }),
        ("category", Cell::text(o.category)),
        ("content", Cell::text(o.content)),
        ("urgency", Cell::text(if o.urgent { "紧急" } else { "一般" })),
        ("dispatched_at", timestamp(rng, o.dispatched)),
        ("assignee", Cell::text(o.assignee.clone())),
        ("time_limit_hours", Cell::text(o.limit_hours.to_string())),
        ("deadline", timestamp(rng, o.dispatched + Duration::hours(o.limit_hours))),
        ("closed_at", closed.map_or(Cell::Empty, |t| timestamp(rng, t))),
        ("status", Cell::text(status)),
        (
            "satisfaction",
            Cell::text(if closed.is_some() {
                *rng.pick(&["满意", "满意", "基本满意", "不满意"])
            } else {
                ""
            }),
        ),
    ];
    let mut set = |field: &str, cell: Cell| values.iter_mut().find(|(f, _)| *f == field).unwrap().1 = cell;
    let mut expect = Expect::Accept { warnings: Vec::new() };
    // Errors are planted only in a first appearance, so a later state never undoes one.
    if let Appearance::First { forced } = appearance {
        let reject = |reason, field| Expect::Reject { reason, field, detail: None };
        // (the draw is taken even when the case is forced, so that the stream stays the same)
        let draw = rng.below(1000);
        match forced.unwrap_or(draw) {
            0..10 => {
                // No community and a bare grid number: every community of the town has one.
                set("community", Cell::Empty);
                set("grid", Cell::text(format!("第{}网格", g.number.min(3))));
                // Kept with a warning and no grid: counted under 未定网格, never lost.
                expect = Expect::Accept { warnings: vec![("ambiguous_grid", "grid")] };
            }
            10..16 => {
                set("grid", Cell::text(format!("{}第{}网格", c.name, c.grids.len() + 40)));
                expect = Expect::Accept { warnings: vec![("unknown_grid", "grid")] };
            }
            16..22 => {
                set("channel", Cell::text(*rng.pick(&["抖音", "信访"])));
                expect = reject("unknown_value", "channel");
            }
            22..26 => {
                set("received_at", Cell::text(format!("{} 25:10:00", o.received.date().format("%Y-%m-%d"))));
                expect = reject("invalid_date", "received_at");
            }
            26..30 => {
                set("status", Cell::Empty);
                expect = reject("missing_required", "status");
            }
            _ => {}
        }
    }
    let cells =
        sheet.columns.iter().map(|col| values.iter().find(|(f, _)| *f == col.field).unwrap().1.clone()).collect();
    let mut facts = vec![("order_id", o.id.clone()), ("received", o.received.date().to_string())];
    if let Some(t) = closed {
        facts.push(("closed", t.date().to_string()));
    }
    Row {
        cells,
        kind: RowKind::Data { expect, dedup_key: Some(format!("order:{}", o.id)), grid_code: g.code.clone(), facts },
    }
}

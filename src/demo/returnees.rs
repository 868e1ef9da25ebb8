//! Rows of the 来唐返唐人员登记 sheet, with the realistic errors of domain.md §3 planted in
//! them and the outcome each must have.

use chrono::{Datelike, Duration, NaiveDate};

use super::daily::{DayContext, Fields, address_for, grid_of, pick_grid};
use super::names::{MEASURE_SYNONYMS, MEASURES, ORIGINS, REPORT_WAYS, TRANSPORT};
use super::people::{Person, random_phone};
use super::rng::Rng;
use super::sheet::{Cell, Expect};
use super::style::Style;
use crate::normalize::citizen_id;

/// A returnee as registered, before an office spells it.
#[derive(Debug, Clone)]
pub struct Returnee {
    pub person: Person,
    pub grid_number: u32,
    pub origin: (&'static str, &'static str),
    pub arrival: NaiveDate,
}

/// Makes a returnee of this community for this day (not yet spelled).
pub fn new_returnee(rng: &mut Rng, ctx: &mut DayContext<'_>) -> Returnee {
    let person = ctx.people.person(rng, ctx.day, 1, 85);
    let grid_number = pick_grid(rng, ctx.community).number;
    Returnee { person, grid_number, origin: *rng.pick(ORIGINS), arrival: ctx.day - Duration::days(rng.range(0, 2)) }
}

/// Spells a returnee as this community's office writes it, planting at most one error that
/// rejects the row, and returns the fields with the expected outcome.
pub fn spell(rng: &mut Rng, ctx: &DayContext<'_>, r: &Returnee) -> (Fields, Expect) {
    let style = ctx.style;
    let c = ctx.community;
    let grid = grid_of(c, r.grid_number);
    let mut warnings = Vec::new();
    let mut reject: Option<Expect> = None;
    let mut f = Fields::new();

    let (measure, days) = if r.origin.1 == "低风险" { *rng.pick(&MEASURES[..2]) } else { *rng.pick(&MEASURES[2..]) };
    let start = r.arrival;
    let end = start + Duration::days(days);

    f.set("name", Cell::text(r.person.name.clone()));
    f.set("gender", Cell::text(r.person.gender.label()));
    f.set("citizen_id", id_cell(rng, style, &r.person));
    f.set("phone", phone_cell(rng, style, &r.person.phone, &mut warnings));
    f.set("address", Cell::text(address_for(rng, c, grid)));
    f.set("grid", style.grid_cell(rng, c, grid));
    f.set("origin", Cell::text(r.origin.0));
    f.set("arrival_date", style.date_cell(rng, r.arrival));
    f.set("transport", Cell::text(*rng.pick(TRANSPORT)));
    f.set("origin_risk", Cell::text(r.origin.1));
    let measure_text = MEASURE_SYNONYMS
        .iter()
        .find(|(canonical, _)| *canonical == measure && rng.chance(300))
        .map_or(measure, |(_, synonym)| synonym);
    f.set("measure", Cell::text(measure_text));
    f.set("measure_start", style.date_cell(rng, start));
    f.set("measure_end", style.date_cell(rng, end));
    f.set("report_way", Cell::text(*rng.pick(REPORT_WAYS)));
    f.set("registered_by", Cell::text(grid.workers[0].person.name.clone()));
    f.set("remark", Cell::Empty);

    // Excel keeps 15 significant digits: offices whose ID column is "General" lose the last
    // digits of every 18-digit ID typed as a number (domain.md §3.3). IDs ending in X survive
    // as text.
    if style == Style::Bare && !r.person.id.ends_with('X') && rng.chance(150) {
        f.set("citizen_id", Cell::Number(citizen_id::excel_numeric_value(&r.person.id)));
        reject = Some(Expect::Reject { reason: "id_precision_lost", field: "citizen_id", detail: None });
    }
    if reject.is_none() {
        reject = plant_error(rng, ctx, &mut f, r);
    }
    let expect = reject.unwrap_or(Expect::Accept { warnings });
    (f, expect)
}

/// Plants at most one error that rejects the row.
fn plant_error(rng: &mut Rng, ctx: &DayContext<'_>, f: &mut Fields, r: &Returnee) -> Option<Expect> {
    let roll = rng.below(1000);
    let reject = |reason, field, detail| Some(Expect::Reject { reason, field, detail });
    match roll {
        0..15 => {
            // A typo in the last digit: the check character no longer matches.
            let id = &r.person.id;
            let wrong = (0..=9).map(|d| char::from(b'0' + d)).find(|ch| *ch != id.chars().last().unwrap()).unwrap();
            let wrong = if citizen_id::check_char(&id[..17]) == wrong { 'X' } else { wrong };
            f.set("citizen_id", Cell::text(format!("{}{wrong}", &id[..17])));
            reject("invalid_id", "citizen_id", Some("bad_checksum"))
        }
        15..21 => {
            // An impossible birth date with a check character that fits, so only the date is wrong.
            let id = &r.person.id;
            let first17 = format!("{}{}0230{}", &id[..6], r.person.birth.year(), &id[14..17]);
            f.set("citizen_id", Cell::text(format!("{first17}{}", citizen_id::check_char(&first17))));
            reject("invalid_id", "citizen_id", Some("bad_birth_date"))
        }
        21..26 => {
            // A digit dropped while typing.
            let id = &r.person.id;
            f.set("citizen_id", Cell::text(format!("{}{}", &id[..9], &id[10..])));
            reject("invalid_id", "citizen_id", Some("wrong_length"))
        }
        26..46 => {
            let field = *rng.pick(&["name", "citizen_id", "arrival_date", "grid"]);
            f.set(field, Cell::Empty);
            reject("missing_required", field, None)
        }
        46..54 => {
            let bad = *rng.pick(&["5月32日", "2022.13.5", "2022-02-30", "待定"]);
            f.set("arrival_date", Cell::text(bad));
            reject("invalid_date", "arrival_date", None)
        }
        54..66 => {
            let number = ctx.community.grids.len() as u32 + rng.range(3, 20) as u32;
            f.set("grid", ctx.style.unknown_grid_cell(ctx.community, number));
            reject("unknown_grid", "grid", None)
        }
        66..74 => {
            f.set("measure", Cell::text(*rng.pick(&["其他", "待定措施", "观察"])));
            reject("unknown_value", "measure", None)
        }
        _ => None,
    }
}

/// The ID cell, with the harmless noise each style adds (all of it must be normalised away).
fn id_cell(rng: &mut Rng, style: Style, p: &Person) -> Cell {
    let id = &p.id;
    // Elderly residents sometimes still give their first-generation 15-digit number.
    if p.birth.year() < 1960 && rng.chance(80) && matches!(style, Style::Standard | Style::Messy) {
        return Cell::text(format!("{}{}", &id[..6], &id[8..17]));
    }
    match style {
        Style::Bare if rng.chance(60) => Cell::text(format!("'{id}")),
        Style::Messy => match rng.below(6) {
            0 => Cell::text(to_full_width(id)),
            1 => Cell::text(format!("{} {} {}", &id[..6], &id[6..14], &id[14..])),
            2 => Cell::text(format!("{id}\u{3000}")),
            3 => Cell::text(id.to_lowercase()),
            _ => Cell::text(id.clone()),
        },
        _ => Cell::text(id.clone()),
    }
}

/// The phone cell: sometimes two numbers, spaces or dashes, a float artefact, or a wrong
/// number (which keeps the row but warns).
pub fn phone_cell(
    rng: &mut Rng,
    style: Style,
    primary: &str,
    warnings: &mut Vec<(&'static str, &'static str)>,
) -> Cell {
    let phone = primary.to_string();
    let roll = rng.below(1000);
    match roll {
        0..15 => {
            warnings.push(("invalid_phone", "phone"));
            Cell::text(phone[..10].to_string())
        }
        15..45 => {
            let second = random_phone(rng);
            let sep = *rng.pick(&["/", "、", "，", " ", ";"]);
            Cell::text(format!("{phone}{sep}{second}"))
        }
        45..60 => Cell::Empty,
        _ => match style {
            Style::Bare => Cell::Number(phone.parse().unwrap()),
            Style::Messy if roll % 3 == 0 => Cell::text(format!("{} {} {}", &phone[..3], &phone[3..7], &phone[7..])),
            Style::Messy if roll % 3 == 1 => Cell::text(to_full_width(&phone)),
            Style::MergedHeader if roll % 4 == 0 => Cell::text(format!("+86 {phone}")),
            _ => Cell::text(phone),
        },
    }
}

fn to_full_width(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_graphic() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c }).collect()
}

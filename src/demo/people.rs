//! Synthetic people: names, GB 11643-valid ID numbers that belong to no one, and phones.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};

use super::names::{GIVEN, ID_ADDRESS_CODES, SURNAMES};
use super::rng::Rng;
use crate::normalize::citizen_id::{self, Gender};

/// A synthetic person.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub id: String,
    pub gender: Gender,
    pub birth: NaiveDate,
    pub phone: String,
}

/// Hands out people whose ID numbers and phones are unique within the district, so that the
/// only duplicates in the sample are the ones planted on purpose.
#[derive(Debug, Default)]
pub struct PersonFactory {
    ids: HashSet<String>,
    phones: HashSet<String>,
}

const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "156", "157",
    "158", "159", "166", "173", "176", "177", "180", "181", "182", "183", "185", "186", "187", "188", "189", "191",
    "195", "198", "199",
];

impl PersonFactory {
    /// A person aged between `min_age` and `max_age` on `today`.
    pub fn person(&mut self, rng: &mut Rng, today: NaiveDate, min_age: i64, max_age: i64) -> Person {
        let gender = if rng.chance(500) { Gender::Male } else { Gender::Female };
        let name = self.name(rng);
        let birth = loop {
            let age = rng.range(min_age, max_age);
            let year = today.year() - age as i32;
            let day = rng.range(1, 365);
            if let Some(d) = NaiveDate::from_yo_opt(year, day as u32) {
                if d <= today {
                    break d;
                }
            }
        };
        let id = self.unique_id(rng, birth, gender);
        let phone = self.unique_phone(rng);
        Person { name, id, gender, birth, phone }
    }

    pub fn name(&mut self, rng: &mut Rng) -> String {
        let mut name = rng.pick(SURNAMES).to_string();
        name.push_str(*rng.pick(GIVEN));
        if rng.chance(700) {
            name.push_str(*rng.pick(GIVEN));
        }
        name
    }

    fn unique_id(&mut self, rng: &mut Rng, birth: NaiveDate, gender: Gender) -> String {
        let weights: Vec<u64> = ID_ADDRESS_CODES.iter().map(|(_, w)| *w).collect();
        loop {
            let address = ID_ADDRESS_CODES[rng.weighted(&weights)].0;
            // Sequence 001..999 with the parity of the gender; 000 is never issued.
            let mut seq = rng.range(1, 999) as u16;
            let want_odd = gender == Gender::Male;
            if (seq % 2 == 1) != want_odd {
                seq = if seq == 999 { 998 } else { seq + 1 };
            }
            let id = citizen_id::compose(address, birth, seq);
            if self.ids.insert(id.clone()) {
                return id;
            }
        }
    }

    pub fn unique_phone(&mut self, rng: &mut Rng) -> String {
        loop {
            let phone = random_phone(rng);
            if self.phones.insert(phone.clone()) {
                return phone;
            }
        }
    }
}

/// A mobile number that passes `^1[3-9]\d{9}$` (not checked for uniqueness).
pub fn random_phone(rng: &mut Rng) -> String {
    format!("{}{:08}", rng.pick(MOBILE_PREFIXES), rng.below(100_000_000))
}

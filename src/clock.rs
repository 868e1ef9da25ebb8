//! The one place that reads the wall clock. Everything else takes the run date as an input,
//! so that the same inputs give the same outputs.

use chrono::{FixedOffset, NaiveDate, Utc};

/// Today's date in China Standard Time (UTC+8, no daylight saving), the offices' calendar.
#[allow(clippy::disallowed_methods)] // the single sanctioned clock read
pub fn today() -> NaiveDate {
    let china = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    Utc::now().with_timezone(&china).date_naive()
}

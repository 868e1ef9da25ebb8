//! The one place that reads the wall clock. Everything else takes the run date (and, for run
//! records, the start time) as an input, so that the same inputs give the same outputs.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// China Standard Time (UTC+8, no daylight saving), the offices' calendar.
fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// The current time in China Standard Time.
#[allow(clippy::disallowed_methods)] // the single sanctioned clock read
pub fn now() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&china())
}

/// Today's date in China Standard Time.
pub fn today() -> NaiveDate {
    now().date_naive()
}

/// A monotonic start point, for measuring how long a stage took.
#[allow(clippy::disallowed_methods)]
pub fn stopwatch() -> std::time::Instant {
    std::time::Instant::now()
}

//! Value normalisation shared by ingest and the sample-district generator.
//!
//! This module only turns raw cell text into checked values; it never reads files, prints or
//! reads the clock (the run date comes in as an argument where it matters).

pub mod citizen_id;
pub mod date;
pub mod grid;
pub mod header;
pub mod in_force;
pub mod phone;
pub mod text;
pub mod value;

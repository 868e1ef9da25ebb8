//! The one integration-test binary: every test module is declared here so the suite links once.

mod common;
mod compaction;
mod corrections;
mod daily;
mod daily_recovery;
mod demo_data;
mod explain;
mod fast_reader;
mod fixtures;
mod formats;
mod hostile;
mod ingest;
mod leave_one_out;
mod measures;
mod other_district;
mod pipelines;
mod quirks;
mod registry;
mod reports;
mod returns;
mod streaming;
mod truth;
mod warehouse;
mod work_orders;
mod workflows;
mod workspace;

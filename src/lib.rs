//! wangge (网格): a batch data pipeline and reporting toolkit for grid-based community
//! management offices.
//!
//! Data flows one way through rooms that never print and never read the clock:
//! `config` (workspace and pipeline files) → `normalize` (values) → … ; `demo` writes the
//! synthetic sample district; `cli` is the only place that talks to the user.

pub mod atomic_file;
pub mod cli;
pub mod clock;
pub mod config;
pub mod deliver;
pub mod demo;
pub mod failpoint;
pub mod ingest;
pub mod normalize;
pub mod report;
pub mod runner;
pub mod sql;
pub mod warehouse;

/// One allocator for every program built on this crate (the binary, its tests and benchmarks),
/// so that the benchmarks measure what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

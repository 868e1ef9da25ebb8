//! wangge (网格): a batch data pipeline and reporting toolkit for grid-based community
//! management offices.
//!
//! Data flows one way through rooms that never print and never read the clock:
//! `config` (workspace and pipeline files) → `normalize` (values) → … ; `demo` writes the
//! synthetic sample district; `cli` is the only place that talks to the user.

pub mod atomic_file;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod county;
pub mod deliver;
pub mod demo;
pub mod digest;
pub mod failpoint;
pub mod guard;
pub mod ingest;
pub mod normalize;
pub mod privacy;
pub mod report;
pub mod runner;
pub mod sql;
pub mod warehouse;

/// One allocator for every program built on this crate (the binary, its tests and benchmarks),
/// so that the benchmarks measure what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Makes the allocator give freed memory back to the system after 10 ms instead of mimalloc 3's
/// default second: a streamed 200,000-row ingest peaked at 96-97 MiB with the default and
/// 71-77 MiB with this, in the same time (`bench_ingest`). Programs call it first thing.
pub fn configure_allocator() {
    // `mi_option_purge_delay`: the 16th member of `mi_option_t` in the `mimalloc.h` of the
    // mimalloc 3 that libmimalloc-sys 0.1.49 builds (pinned by Cargo.lock).
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    // SAFETY: mimalloc's options are atomics; setting one takes two plain integers.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 10) }
}

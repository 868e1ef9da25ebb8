//! `wangge compact`: rewrite the warehouse in the compacted layout, a few Parquet files per
//! table and year (its open month's, its other months'). Ingest compacts what it writes, and
//! the first run on a warehouse of an earlier version (a folder per month or per day, or a file
//! per source file and day) moves it into years; this does the same on its own, says what it
//! did, and is safe to run again.

use std::path::Path;

use clap::Args;

use super::{CommandResult, ExitStatus, Failure};
use crate::config::Workspace;
use crate::runner::RunError;

#[derive(Debug, Args)]
pub struct CompactArgs {}

pub fn run(workspace: &Path, _args: CompactArgs) -> CommandResult {
    let ws = Workspace::load(workspace).map_err(|e| Failure::usage(RunError::Config(e)))?;
    let _lock = crate::runner::lock::acquire(&ws.path(&ws.config.paths.runs), "`wangge compact`")
        .map_err(|e| Failure::run(e.into()))?;
    let clock = crate::clock::stopwatch();
    let (removed, done) = crate::runner::compact(&ws).map_err(Failure::run)?;
    if !removed.is_empty() {
        say!("Finished what an interrupted run left: removed {} file(s)", removed.len());
    }
    for (dir, column) in &done.conflicts {
        say!("warning: `{}` left as it is: its files disagree on the type of column `{column}`", dir.display());
    }
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    if done.files_in == 0 {
        say!("The warehouse is already compacted ({:.1} s)", clock.elapsed().as_secs_f64());
    } else {
        say!(
            "Compacted {} partition(s): {} file(s) ({:.1} MiB) became {} ({:.1} MiB), {} rows, in {:.1} s",
            done.partitions,
            done.files_in,
            mib(done.bytes_in),
            done.files_out,
            mib(done.bytes_out),
            done.rows,
            clock.elapsed().as_secs_f64()
        );
    }
    Ok(ExitStatus::Success)
}

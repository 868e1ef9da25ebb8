//! `wangge demo-data DIR`.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;

use super::{CommandResult, ExitStatus, Failure};
use crate::config::init::InitError;
use crate::demo::{self, DemoError, DemoOptions};

#[derive(Debug, Args)]
pub struct DemoDataArgs {
    /// Folder to write the sample workspace to (must not hold a workspace yet).
    dir: PathBuf,
    /// Number of daily submissions, ending at `--end-date`.
    #[arg(long, default_value_t = 3)]
    days: u32,
    /// Multiplies the daily volumes (returnees, key persons, visits, work orders).
    #[arg(long, default_value_t = 1)]
    scale: u64,
    /// Seed of the generator: the same arguments give byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Last day of the sample (the founding article's date by default).
    #[arg(long, default_value = "2022-05-10")]
    end_date: NaiveDate,
    /// Districts of a city to generate into one workspace (up to 15: the article's 高新区 and
    /// the other counties and districts of 唐山市); the workspace then reports for the city.
    #[arg(long, default_value_t = 1)]
    districts: u32,
}

pub fn run(args: DemoDataArgs) -> CommandResult {
    let options = DemoOptions {
        days: args.days,
        scale: args.scale,
        seed: args.seed,
        end_date: args.end_date,
        districts: args.districts,
    };
    let summary = demo::generate(&args.dir, &options).map_err(|e| match e {
        DemoError::BadOptions | DemoError::Init(InitError::AlreadyExists(_)) => Failure::usage(e),
        other => Failure::output(
            anyhow::Error::new(other)
                .context(format!("failed to write the sample district to `{}`", args.dir.display())),
        ),
    })?;
    say!(
        "Wrote the sample district to `{}`: {} files ({:.1} MiB), {} rows ({} to accept, {} to reject, {} to skip)",
        args.dir.display(),
        summary.files,
        summary.bytes as f64 / 1_048_576.0,
        summary.rows_read,
        summary.accepted,
        summary.rejected,
        summary.skipped,
    );
    say!("  what a correct ingest must produce: `{}`", summary.truth_path.display());
    Ok(ExitStatus::Success)
}

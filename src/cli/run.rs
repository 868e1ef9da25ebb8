//! `wangge run [PIPELINE] --date D`: a declared pipeline's steps and checks for a report date.

use std::path::Path;

use chrono::NaiveDate;
use clap::Args;

use super::{CommandResult, ExitStatus, Failure};
use crate::config::Workspace;
use crate::runner::{self, RunError};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline (a folder under `pipelines/` with a `pipeline.toml`).
    #[arg(default_value = "daily")]
    pipeline: String,
    /// The report date (default: today).
    #[arg(long)]
    date: Option<NaiveDate>,
    /// The engine for this run: `local`, `ballista` (`[engine] scheduler`) or
    /// `ballista://host:port`; overrides `[engine] kind` in `wangge.toml`.
    #[arg(long)]
    engine: Option<String>,
    /// Materialise the marts and run the checks only: no report workbooks or HTML (a data
    /// centre that reads the marts, or a benchmark of the SQL alone).
    #[arg(long)]
    no_reports: bool,
}

pub fn run(workspace: &Path, args: RunArgs) -> CommandResult {
    let mut ws = Workspace::load(workspace).map_err(|e| Failure::usage(RunError::Config(e)))?;
    super::choose_engine(&mut ws, args.engine.as_deref())?;
    let date = args.date.unwrap_or_else(crate::clock::today);
    let _lock = crate::runner::lock::acquire(&ws.path(&ws.config.paths.runs), "`wangge run`")
        .map_err(|e| Failure::run(e.into()))?;
    let outcome = runner::run_pipeline(&ws, &args.pipeline, date).map_err(Failure::run)?;
    for (step, rows, path) in &outcome.materialised {
        let took = outcome.durations.iter().find(|(s, _)| s == step).map_or(0.0, |(_, d)| d.as_secs_f64());
        let built_on = outcome.incremental.iter().find(|(s, _)| s == step);
        let from = built_on.map(|(_, d)| format!(", from its mart of {d}")).unwrap_or_default();
        say!("  {step}: {rows} row(s) → `{}` ({took:.2} s{from})", path.display());
    }
    let failed: Vec<_> = outcome.failed_checks().collect();
    for check in &failed {
        say!("check failed: {} on `{}`: {} row(s)", check.check, check.step, check.failing_rows);
        if let Ok(table) = arrow::util::pretty::pretty_format_batches(&check.sample) {
            for line in table.to_string().lines() {
                say!("    {line}");
            }
        }
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let reports = if args.no_reports {
        Vec::new()
    } else {
        runner::render_reports(&ws, &args.pipeline, date, threads).map_err(Failure::run)?
    };
    if let Some(index) = reports.last() {
        let workbooks = reports.iter().filter(|p| p.extension().is_some_and(|e| e == "xlsx")).count();
        say!("Wrote {workbooks} report workbook(s) and their HTML; index: `{}`", index.display());
    }
    say!(
        "Ran pipeline `{}` for {date}: {} step(s) materialised, {} check(s), {} failed",
        args.pipeline,
        outcome.materialised.len(),
        outcome.checks.len(),
        failed.len()
    );
    Ok(if failed.is_empty() { ExitStatus::Success } else { ExitStatus::DataProblems })
}

//! `wangge ingest`: read what the communities sent into the warehouse, accounting for every
//! row, and say what happened per file and sheet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::Args;

use super::{CommandResult, ExitStatus, Failure};
use crate::config::Workspace;
use crate::runner::{self, RunError};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Run date (YYYY-MM-DD): dates without a year are read as the closest date not after it.
    /// Default: today in China Standard Time.
    #[arg(long)]
    date: Option<NaiveDate>,
    /// Reading threads (default: the number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Print one line per file instead of one per sheet.
    #[arg(long)]
    brief: bool,
    /// Files or folders to ingest (default: the whole inbox).
    paths: Vec<PathBuf>,
}

pub fn run(workspace: &Path, args: IngestArgs) -> CommandResult {
    let ws = Workspace::load(workspace).map_err(|e| Failure::usage(RunError::Config(e)))?;
    let run_date = args.date.unwrap_or_else(crate::clock::today);
    let _lock = crate::runner::lock::acquire(&ws.path(&ws.config.paths.runs), "`wangge ingest`")
        .map_err(|e| Failure::run(e.into()))?;
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let mut totals = crate::ingest::Counts::default();
    let mut problems = 0;
    let mut streamed = 0;
    // Headers read only through patterns or values: the lines that would make them certain.
    let mut suggestions = std::collections::BTreeSet::new();
    // Each file is said as soon as its batch is written, and forgotten.
    let report = runner::ingest_each(&ws, run_date, &args.paths, threads, &mut |file| {
        if let Some(error) = &file.error {
            problems += 1;
            say!("error: `{}`: {error}", file.path);
            return;
        }
        streamed += usize::from(file.streamed);
        if args.brief {
            let accepted: u64 = file.sheets.iter().map(|s| s.counts.accepted).sum();
            let rejected: u64 = file.sheets.iter().map(|s| s.counts.rejected_total()).sum();
            say!("{}: {} sheet(s), {accepted} accepted, {rejected} rejected", file.path, file.sheets.len());
        } else {
            say!("{}", file.path);
        }
        for s in &file.sheets {
            suggestions.extend(s.suggestions());
            let c = &s.counts;
            totals.rows_read += c.rows_read;
            totals.accepted += c.accepted;
            for (k, v) in &c.rejected {
                *totals.rejected.entry(k).or_default() += v;
            }
            for (k, v) in &c.skipped {
                *totals.skipped.entry(k).or_default() += v;
            }
            for (k, v) in &c.warnings {
                *totals.warnings.entry(k).or_default() += v;
            }
            if !args.brief {
                say!("  [{}] {}", if s.name.is_empty() { "csv" } else { &s.name }, sheet_line(s));
            }
        }
    })
    .map_err(Failure::run)?;
    for path in &report.reconciled {
        say!("Removed `{}`, left by an interrupted run", path.display());
    }
    if streamed > 0 {
        say!("Read {streamed} large workbook(s) as a stream of rows ([ingest] stream_from_mib)");
    }
    if !report.already_ingested.is_empty() {
        say!("Skipped {} file(s) already ingested (same content)", report.already_ingested.len());
    }
    for r in &report.written.replaced {
        match (&r.sheet, &r.form) {
            (Some(sheet), Some(form)) => {
                say!("Replaced sheet `{sheet}` ({form}, {}) of `{}` with a corrected file", r.report_date, r.path)
            }
            _ => say!("Read `{}` again: last time it could not be read or a sheet matched no form", r.path),
        }
    }
    say!(
        "Ingested {} file(s) for run date {run_date}: {} rows = {} accepted + {} rejected{} + {} skipped{}",
        report.files_read,
        totals.rows_read,
        totals.accepted,
        totals.rejected_total(),
        breakdown(&totals.rejected),
        totals.skipped_total(),
        if totals.warnings.is_empty() { String::new() } else { format!(", warnings{}", breakdown(&totals.warnings)) },
    );
    for suggestion in &suggestions {
        say!("Suggest: {}", suggestion.line());
    }
    if let Some(first) = report.returns.first() {
        say!("Wrote {} 退回修改 workbook(s) for the communities, e.g. `{}`", report.returns.len(), first.display());
    }
    let tables: Vec<String> = report.written.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
    let c = &report.written.compacted;
    say!(
        "Warehouse `{}`: {}{}",
        ws.path(&ws.config.paths.warehouse).display(),
        if tables.is_empty() { "nothing new".into() } else { tables.join(", ") },
        if c.partitions == 0 {
            String::new()
        } else {
            format!("; {} partition(s) compacted, {} file(s) into {}", c.partitions, c.files_in, c.files_out)
        }
    );
    for (dir, column) in &c.conflicts {
        say!("warning: `{}` not compacted: its files disagree on the type of column `{column}`", dir.display());
    }
    Ok(if problems > 0 { ExitStatus::DataProblems } else { ExitStatus::Success })
}

/// What became of a sheet, on one line.
fn sheet_line(s: &crate::ingest::SheetResult) -> String {
    let c = &s.counts;
    match &s.status {
        crate::ingest::SheetStatus::Read => format!(
            "{} {} (date from {}, community {}): {} rows = {} accepted + {} rejected{} + {} skipped",
            s.form.as_deref().unwrap_or_default(),
            s.report_date,
            s.date_from(),
            s.community.as_deref().unwrap_or("-"),
            c.rows_read,
            c.accepted,
            c.rejected_total(),
            breakdown(&c.rejected),
            c.skipped_total(),
        ),
        crate::ingest::SheetStatus::Hidden => "hidden sheet, not read".to_string(),
        crate::ingest::SheetStatus::NotAWorksheet(what) => format!("{what}, not read"),
        crate::ingest::SheetStatus::Empty => "empty sheet".to_string(),
        crate::ingest::SheetStatus::Unreadable(e) => format!("cannot be read, no row kept: {e}"),
        // Reported, not counted as a problem: workbooks carry instructions and lookup sheets.
        crate::ingest::SheetStatus::Unrecognised { .. } => s.status.unrecognised().unwrap_or_default(),
    }
}

fn breakdown(counts: &BTreeMap<&'static str, u64>) -> String {
    if counts.is_empty() {
        return String::new();
    }
    format!(" ({})", counts.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "))
}

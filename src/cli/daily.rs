//! `wangge daily [--date D]`: the cron job. Takes the workspace lock, runs everything
//! (`runner::daily`), prints a short account and where things are, and exits with the status
//! cron alerting needs (README, 'Exit codes').

use std::io::IsTerminal;
use std::path::Path;

use chrono::NaiveDate;
use clap::Args;

use super::{CommandResult, ExitStatus, Failure};
use crate::config::Workspace;
use crate::deliver::Status;
use crate::runner::daily::{self, Progress};
use crate::runner::{RunError, lock, manifest::Manifest};

#[derive(Debug, Args)]
pub struct DailyArgs {
    /// The report date (default: today in China Standard Time).
    #[arg(long)]
    date: Option<NaiveDate>,
    /// Send every report again, even those already delivered.
    #[arg(long)]
    resend: bool,
    /// Send the messages an earlier run was killed while sending (listed as unconfirmed), once
    /// you know they did not arrive.
    #[arg(long, conflicts_with = "resend")]
    resend_unconfirmed: bool,
    /// Threads for reading and rendering (default: the number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// The engine for this run: `local`, `ballista` (`[engine] scheduler`) or
    /// `ballista://host:port`; overrides `[engine] kind` in `wangge.toml`.
    #[arg(long)]
    engine: Option<String>,
}

pub fn run(workspace: &Path, args: DailyArgs) -> CommandResult {
    let mut ws = Workspace::load(workspace).map_err(|e| Failure::usage(RunError::Config(e)))?;
    super::choose_engine(&mut ws, args.engine.as_deref())?;
    let started = crate::clock::now();
    let date = args.date.unwrap_or_else(|| started.date_naive());
    let run_id = daily::run_id(started);
    let _lock = lock::acquire(
        &ws.path(&ws.config.paths.runs),
        &format!("`wangge daily --date {date}`, started {}", started.format("%Y-%m-%d %H:%M:%S")),
    )
    .map_err(|e| Failure::run(e.into()))?;
    let runs = daily::runs_dir(&ws, date);
    if let Err(e) = super::logging::record_to(&runs.join(format!("{run_id}.log.jsonl"))) {
        return Err(Failure::output(anyhow::anyhow!("cannot write the run log in `{}`: {e}", runs.display())));
    }
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let options = daily::Options {
        date,
        resend: super::resend(args.resend, args.resend_unconfirmed),
        threads,
        run_id: &run_id,
        started,
    };
    let terminal = std::io::stderr().is_terminal();
    let mut delivered = 0usize;
    let manifest = daily::daily(&ws, &options, &mut |p| {
        if !terminal {
            return;
        }
        match p {
            Progress::Stage { name, n, of } => eprint!("\r\x1b[K[{n}/{of}] {name}…"),
            Progress::Delivered(_) => {
                delivered += 1;
                eprint!("\r\x1b[K[4/4] deliver: {delivered} message(s)…");
            }
        }
    });
    if terminal {
        eprint!("\r\x1b[K");
    }
    print_account(&ws, &manifest, &runs.join(format!("{run_id}.json")));
    let status = ExitStatus::from(manifest.verdict);
    match &manifest.error {
        Some(error) => Err(Failure { status, error: anyhow::anyhow!("{error}") }),
        None => Ok(status),
    }
}

fn print_account(ws: &Workspace, m: &Manifest, manifest_path: &Path) {
    let i = &m.ingest;
    say!(
        "Ingested {} new file(s) ({} already ingested, {} unreadable): {} rows = {} accepted + {} rejected + {} skipped",
        i.files_read,
        i.files_already_ingested,
        i.unreadable.len(),
        i.rows_read,
        i.accepted,
        i.rejected.values().sum::<u64>(),
        i.skipped.values().sum::<u64>()
    );
    for (path, error) in &i.unreadable {
        say!("error: `{path}`: {error}");
    }
    let failed: Vec<_> = m.checks.iter().filter(|c| c.failing_rows > 0).collect();
    if !m.checks.is_empty() {
        say!("Checks: {} run, {} failed", m.checks.len(), failed.len());
    }
    for c in failed {
        say!("  check failed: {} on `{}`: {} row(s)", c.check, c.step, c.failing_rows);
    }
    let reports = ws.path(&ws.config.paths.reports).join(&m.date);
    let workbooks = m.outputs.iter().filter(|o| o.path.ends_with(".xlsx") && o.rows.is_none()).count();
    if workbooks > 0 {
        say!("Reports: {workbooks} workbook(s) and their HTML in `{}` (open index.html)", reports.display());
    }
    for p in &m.problems {
        say!("data problem: {p}");
    }
    let count = |s: Status| m.deliveries.iter().filter(|d| d.status == s).count();
    let (sent, written, unchanged) = (count(Status::Sent), count(Status::Written), count(Status::Unchanged));
    let missed: Vec<_> = m.deliveries.iter().filter(|d| d.status.is_failure()).collect();
    if !m.deliveries.is_empty() {
        let mut parts = Vec::new();
        if sent > 0 {
            parts.push(format!("{sent} sent"));
        }
        if written > 0 {
            let outbox = ws.path(&ws.config.paths.outbox).join(&m.date);
            parts.push(format!("{written} written as .eml to `{}`", outbox.display()));
        }
        if unchanged > 0 {
            parts.push(format!("{unchanged} already delivered"));
        }
        if !missed.is_empty() {
            parts.push(format!("{} missed", missed.len()));
        }
        say!("Deliveries: {}", parts.join(", "));
    }
    let blank = m.problems.iter().any(|p| p.starts_with("没有收到"));
    if m.deliveries.is_empty() && m.error.is_none() && !blank {
        say!(
            "warning: `{}` lists no recipients; nothing was delivered",
            ws.path(&ws.config.delivery.recipients).display()
        );
    }
    for d in &missed {
        say!(
            "  missed: {} <{}> {}: {}",
            d.recipient,
            d.address,
            d.report.as_deref().unwrap_or(&d.scope),
            d.error.as_deref().unwrap_or("")
        );
    }
    let total = m.durations_ms.get("total").copied().unwrap_or_default() as f64 / 1000.0;
    say!("Run {} for {} took {total:.1} s; manifest: `{}`", m.run_id, m.date, manifest_path.display());
}

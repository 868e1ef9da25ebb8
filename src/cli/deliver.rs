//! `wangge deliver [--date D] [--dry-run] [--resend]`: deliver reports already rendered, on
//! their own (after fixing the SMTP settings, say). `--dry-run` writes the messages to
//! `outbox/dry-run/` and records nothing.

use std::path::Path;

use chrono::NaiveDate;
use clap::Args;

use super::{CommandResult, ExitStatus, Failure};
use crate::config::Workspace;
use crate::deliver::Status;
use crate::runner::manifest::{Manifest, Verdict};
use crate::runner::{RunError, daily, lock};

#[derive(Debug, Args)]
pub struct DeliverArgs {
    /// The report date (default: today in China Standard Time).
    #[arg(long)]
    date: Option<NaiveDate>,
    /// Write the messages to `outbox/dry-run/<date>/` instead of sending them.
    #[arg(long)]
    dry_run: bool,
    /// Send every report again, even those already delivered.
    #[arg(long)]
    resend: bool,
    /// Send the messages an earlier run was killed while sending (listed as unconfirmed), once
    /// you know they did not arrive.
    #[arg(long, conflicts_with = "resend")]
    resend_unconfirmed: bool,
}

pub fn run(workspace: &Path, args: DeliverArgs) -> CommandResult {
    let ws = Workspace::load(workspace).map_err(|e| Failure::usage(RunError::Config(e)))?;
    let started = crate::clock::now();
    let date = args.date.unwrap_or_else(|| started.date_naive());
    let run_id = daily::run_id(started);
    let _lock = lock::acquire(&ws.path(&ws.config.paths.runs), &format!("`wangge deliver --date {date}`"))
        .map_err(|e| Failure::run(e.into()))?;
    let recipients = daily::recipients(&ws).map_err(Failure::run)?;
    let route = daily::route(&ws, args.dry_run).map_err(Failure::run)?;
    let options = daily::Options {
        date,
        resend: super::resend(args.resend, args.resend_unconfirmed),
        threads: 1,
        run_id: &run_id,
        started,
    };
    let notices = daily::latest_problems(&ws, date);
    let deliveries = daily::deliver_reports(&ws, &route, &recipients, &options, &notices, &mut |d| {
        let what = d.report.as_deref().unwrap_or(&d.scope);
        match (&d.status, &d.eml) {
            (_, Some(eml)) => say!("{} <{}> {what}: `{}`", d.recipient, d.address, eml.display()),
            (status, _) => say!(
                "{} <{}> {what}: {status:?}{}",
                d.recipient,
                d.address,
                d.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
            ),
        }
    })
    .map_err(Failure::run)?;
    let failed = deliveries.iter().filter(|d| d.status.is_failure()).count();
    if !args.dry_run {
        let mut m = Manifest::new("deliver", &run_id, &date.to_string(), &started.to_rfc3339());
        m.verdict = if failed > 0 { Verdict::OutputFailure } else { Verdict::Success };
        m.exit_status = m.verdict.exit_status();
        m.deliveries = deliveries.clone();
        m.write(&daily::runs_dir(&ws, date)).map_err(Failure::output)?;
    }
    let done = deliveries.iter().filter(|d| matches!(d.status, Status::Sent | Status::Written)).count();
    say!(
        "Delivered {done} message(s) for {date}, {failed} missed, {} already delivered",
        deliveries.iter().filter(|d| d.status == Status::Unchanged).count()
    );
    Ok(if failed > 0 { ExitStatus::OutputFailure } else { ExitStatus::Success })
}

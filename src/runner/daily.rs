//! `wangge daily`: the unattended job. Ingest the inbox, run the pipeline and its checks,
//! render the reports, judge the day's data against the configured thresholds, deliver, and
//! leave a manifest, whatever happens. The caller holds the workspace lock.

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::manifest::{self, CheckRecord, Manifest, Verdict};
use super::{RunError, ingest_each, render_reports, run_pipeline};
use crate::config::Workspace;
use crate::config::workspace::DeliveryMode;
use crate::deliver::{self, DeliverError, Delivery, Route};
use crate::warehouse::Warehouse;

pub struct Options<'a> {
    pub date: NaiveDate,
    pub resend: deliver::Resend,
    pub threads: usize,
    pub run_id: &'a str,
    pub started: DateTime<FixedOffset>,
}

/// What the caller may show while the run goes on.
pub enum Progress<'a> {
    /// Stage `n` of `of` begins.
    Stage {
        name: &'static str,
        n: usize,
        of: usize,
    },
    Delivered(&'a Delivery),
}

/// Where messages go for this workspace: the SMTP server, or the outbox when none is set.
pub fn route(ws: &Workspace, dry_run: bool) -> Result<Route, RunError> {
    let outbox = ws.path(&ws.config.paths.outbox);
    if dry_run {
        return Ok(Route::DryRun(outbox.join("dry-run")));
    }
    Ok(match (ws.config.delivery.mode, &ws.config.delivery.smtp) {
        (DeliveryMode::Smtp, Some(smtp)) => {
            Route::Smtp(deliver::transport::Smtp::new(smtp, &ws.root).map_err(DeliverError::from)?)
        }
        _ => Route::Outbox(outbox),
    })
}

pub fn recipients(ws: &Workspace) -> Result<Vec<deliver::recipients::Recipient>, RunError> {
    deliver::recipients::load(&ws.path(&ws.config.delivery.recipients))
        .map_err(|e| RunError::Deliver(DeliverError::Recipients(e)))
}

/// A run's id: its start time, then the process id (sorts by start time). The `p` keeps the
/// id from reading as a mobile number to the privacy filter every manifest passes through:
/// `135512-34567` (a run at 13:55:12 by process 34567) is 11 digits in dash-separated groups,
/// and was masked in the manifest, so the id in it no longer named its files.
pub fn run_id(started: DateTime<FixedOffset>) -> String {
    format_run_id(started, std::process::id())
}

fn format_run_id(started: DateTime<FixedOffset>, pid: u32) -> String {
    format!("{}-p{pid}", started.format("%Y%m%dT%H%M%S"))
}

/// The folder of a date's run records.
pub fn runs_dir(ws: &Workspace, date: NaiveDate) -> PathBuf {
    ws.path(&ws.config.paths.runs).join(date.to_string())
}

/// The data problems the latest `daily` run of `date` found (its manifest), so that messages
/// sent later by `wangge deliver` carry the same notice; none if there was no such run.
pub fn latest_problems(ws: &Workspace, date: NaiveDate) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(runs_dir(ws, date)) else { return Vec::new() };
    let mut manifests: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    // Run ids start with the start time, so the newest sorts last.
    manifests.sort();
    manifests
        .iter()
        .rev()
        .filter_map(|p| serde_json::from_slice::<serde_json::Value>(&std::fs::read(p).ok()?).ok())
        .find(|m| m["command"] == "daily")
        .and_then(|m| serde_json::from_value(m["problems"].clone()).ok())
        .unwrap_or_default()
}

/// Delivers the reports already rendered for `date`.
pub fn deliver_reports(
    ws: &Workspace,
    route: &Route,
    recipients: &[deliver::recipients::Recipient],
    options: &Options,
    notices: &[String],
    observe: &mut dyn FnMut(&Delivery),
) -> Result<Vec<Delivery>, RunError> {
    let from: lettre::message::Mailbox =
        ws.config.delivery.from.parse().map_err(|_| DeliverError::From(ws.config.delivery.from.clone()))?;
    let day_dir = ws.path(&ws.config.paths.reports).join(options.date.to_string());
    let ledger = ws.path(&ws.config.paths.runs).join("deliveries.jsonl");
    let request = deliver::Request {
        day_dir: &day_dir,
        date: options.date,
        recipients,
        from: &from,
        notices,
        resend: options.resend,
        run_id: options.run_id,
        started: options.started,
        ledger: &ledger,
    };
    Ok(deliver::deliver(&request, route, observe)?)
}

/// Runs the whole day and returns its manifest (also written to `runs/<date>/`).
pub fn daily(ws: &Workspace, options: &Options, progress: &mut dyn FnMut(Progress)) -> Manifest {
    let mut m = Manifest::new("daily", options.run_id, &options.date.to_string(), &options.started.to_rfc3339());
    let total = crate::clock::stopwatch();
    let result = stages(ws, options, &mut m, progress);
    m.durations_ms.insert("total", total.elapsed().as_millis());
    let delivery_failed = m.deliveries.iter().any(|d| d.status.is_failure());
    m.verdict = match &result {
        Err(e) => e.verdict(),
        Ok(()) if delivery_failed => Verdict::OutputFailure,
        Ok(()) if !m.problems.is_empty() => Verdict::DataProblems,
        Ok(()) => Verdict::Success,
    };
    if let Err(e) = result {
        m.error = Some(super::error_chain(&e));
    }
    m.exit_status = m.verdict.exit_status();
    if let Err(e) = m.write(&runs_dir(ws, options.date)) {
        m.verdict = Verdict::OutputFailure;
        m.exit_status = m.verdict.exit_status();
        m.error.get_or_insert_with(|| format!("cannot write the run manifest: {e}"));
    }
    m
}

fn stages(
    ws: &Workspace,
    options: &Options,
    m: &mut Manifest,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), RunError> {
    const STAGES: usize = 4;
    // Configuration problems stop the run before it touches anything.
    let recipients = recipients(ws)?;
    let route = route(ws, false)?;
    let pipeline = ws.config.daily.pipeline.clone();
    let date = options.date;

    progress(Progress::Stage { name: "ingest", n: 1, of: STAGES });
    let clock = crate::clock::stopwatch();
    let removed = crate::atomic_file::remove_leftovers(&ws.path(&ws.config.paths.reports));
    let report = ingest_each(ws, date, &[], options.threads, &mut |file| summarise_file(m, &file))?;
    m.durations_ms.insert("ingest", clock.elapsed().as_millis());
    summarise_ingest(m, &report, removed);
    for (path, error) in &m.ingest.unreadable {
        tracing::warn!(file = %path, %error, "unreadable file");
    }
    tracing::info!(files = m.ingest.files_read, rows = m.ingest.rows_read, accepted = m.ingest.accepted, "ingested");
    crate::failpoint::hit("ingested");
    let warehouse = Warehouse::new(ws.path(&ws.config.paths.warehouse));
    m.inputs = warehouse.ledger_on(&[date].into())?.into_iter().filter(|e| e.status != "superseded").collect();

    progress(Progress::Stage { name: "pipeline", n: 2, of: STAGES });
    let clock = crate::clock::stopwatch();
    let outcome = run_pipeline(ws, &pipeline, date)?;
    m.durations_ms.insert("pipeline", clock.elapsed().as_millis());
    for (_, rows, path) in &outcome.materialised {
        m.outputs.push(manifest::output(&ws.root, path, Some(*rows)));
    }
    m.checks = outcome
        .checks
        .iter()
        .map(|c| CheckRecord { step: c.step.clone(), check: c.check.clone(), failing_rows: c.failing_rows })
        .collect();
    tracing::info!(marts = outcome.materialised.len(), failed_checks = outcome.failed_checks().count(), "pipeline ran");
    crate::failpoint::hit("pipeline.done");

    progress(Progress::Stage { name: "reports", n: 3, of: STAGES });
    let clock = crate::clock::stopwatch();
    let written = render_reports(ws, &pipeline, date, options.threads)?;
    m.durations_ms.insert("reports", clock.elapsed().as_millis());
    for path in &written {
        m.outputs.push(manifest::output(&ws.root, path, None));
    }
    tracing::info!(files = written.len(), "reports rendered");
    crate::failpoint::hit("reports.done");

    m.problems = super::problems::judge(&ws.config.daily, date, m, &outcome);
    let blank = !m.inputs.iter().any(|i| i.status == "read");
    progress(Progress::Stage { name: "deliver", n: 4, of: STAGES });
    if blank {
        m.problems.push(format!("没有收到{}的任何报送材料，报告未发送。", date.format("%Y年%-m月%-d日")));
        return Ok(());
    }
    let clock = crate::clock::stopwatch();
    let notices = m.problems.clone();
    let deliveries = deliver_reports(ws, &route, &recipients, options, &notices, &mut |d| {
        tracing::info!(recipient = %d.address, report = d.report.as_deref().unwrap_or_default(), status = ?d.status, error = d.error.as_deref().unwrap_or_default(), "delivery");
        progress(Progress::Delivered(d));
    });
    m.durations_ms.insert("deliver", clock.elapsed().as_millis());
    m.deliveries = deliveries?;
    Ok(())
}

fn summarise_ingest(m: &mut Manifest, report: &super::IngestReport, mut removed: Vec<PathBuf>) {
    let i = &mut m.ingest;
    i.files_read = report.files_read;
    i.files_already_ingested = report.already_ingested.len();
    removed.extend(report.reconciled.iter().cloned());
    i.leftovers_removed = removed;
}

/// Adds one ingested file's counts and problems to the manifest.
fn summarise_file(m: &mut Manifest, file: &crate::ingest::FileResult) {
    let i = &mut m.ingest;
    if let Some(error) = &file.error {
        i.unreadable.push((file.path.clone(), error.to_string()));
    }
    for s in &file.sheets {
        let mut note = |severity: &'static str, at: Option<(usize, usize)>, reason: &str, message: &str| {
            if i.problems.len() >= super::manifest::LISTED_PROBLEMS {
                i.problems_not_listed += 1;
                return;
            }
            i.problems.push(super::manifest::RowProblem {
                file: file.path.clone(),
                sheet: s.name.clone(),
                row: at.map(|(row, _)| row),
                column: at.map(|(_, column)| crate::normalize::text::column_letter(column)),
                severity,
                reason: reason.to_string(),
                message: crate::privacy::redact(message).into_owned(),
            });
        };
        match &s.status {
            crate::ingest::SheetStatus::Unreadable(why) => note("sheet", None, s.status.code(), why),
            crate::ingest::SheetStatus::NotAWorksheet(what) => {
                note("sheet", None, s.status.code(), &format!("{what}, not read"))
            }
            _ => {}
        }
        for r in &s.rejects {
            note("reject", Some((r.row, r.column)), r.reason, &r.message);
        }
        for w in &s.warnings {
            note("warning", Some((w.row, w.column)), w.code, &w.message);
        }
        for suggestion in s.suggestions() {
            if !i.suggestions.contains(&suggestion) {
                i.suggestions.push(suggestion);
            }
        }
        i.rows_read += s.counts.rows_read;
        i.accepted += s.counts.accepted;
        for (k, v) in &s.counts.rejected {
            *i.rejected.entry(k.to_string()).or_default() += v;
        }
        for (k, v) in &s.counts.skipped {
            *i.skipped.entry(k.to_string()).or_default() += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_run_id_passes_the_privacy_filter_unchanged_at_any_hour_and_process() {
        let tz = FixedOffset::east_opt(8 * 3600).unwrap();
        for hour in 0..24 {
            let started = tz.with_ymd_and_hms(2026, 12, 2, hour, 55, 12).unwrap();
            for pid in [7, 813, 34567, 234567, 4_194_304] {
                let id = format_run_id(started, pid);
                assert_eq!(crate::privacy::redact(&id), id.as_str(), "{id}");
            }
        }
    }
}

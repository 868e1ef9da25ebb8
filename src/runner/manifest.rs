//! The record of one run (`runs/<date>/<run-id>.json` and a short `.txt` beside it): what came
//! in, what was rejected, which checks failed, what was written (with hashes) and who was sent
//! what. It answers "what did leadership get, from which files?" long after the run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::deliver::{Delivery, Status};

/// How a run ended, from best to worst; the exit status follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Success,
    /// Data problems beyond the configured thresholds; everything was written and delivered.
    DataProblems,
    /// Bad configuration or arguments.
    UsageOrConfig,
    /// Something was not written or not delivered.
    OutputFailure,
}

impl Verdict {
    /// The process exit status (README, 'Exit codes').
    pub fn exit_status(self) -> u8 {
        match self {
            Verdict::Success => 0,
            Verdict::DataProblems => 1,
            Verdict::UsageOrConfig => 2,
            Verdict::OutputFailure => 3,
        }
    }
}

/// A row of a file that was rejected or warned about, or a sheet that was not read: where it
/// is and why, for the data officer who reads the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct RowProblem {
    pub file: String,
    pub sheet: String,
    /// 1-based row; none for a whole sheet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    /// Column letter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub severity: &'static str,
    pub reason: String,
    pub message: String,
}

/// How many row problems a manifest lists; the counts above them cover the rest.
pub const LISTED_PROBLEMS: usize = 2_000;

#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    pub files_read: usize,
    pub files_already_ingested: usize,
    pub unreadable: Vec<(String, String)>,
    /// Rejected and warned rows and sheets not read, file by file in processing order (at most
    /// `LISTED_PROBLEMS`; `problems_not_listed` counts the others).
    pub problems: Vec<RowProblem>,
    pub problems_not_listed: usize,
    /// Columns recognised only by a pattern of words or by their values, once per form, field
    /// and header: the synonym lines that would make them certain.
    pub suggestions: Vec<crate::ingest::Suggestion>,
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: BTreeMap<String, u64>,
    pub skipped: BTreeMap<String, u64>,
    pub leftovers_removed: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckRecord {
    pub step: String,
    pub check: String,
    pub failing_rows: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub path: String,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub wangge_version: &'static str,
    pub command: String,
    pub run_id: String,
    pub date: String,
    pub started: String,
    pub verdict: Verdict,
    pub exit_status: u8,
    /// Why the run did not succeed, one line each (data problems, failures), in Chinese for the
    /// messages and in English for the log where they come from wangge itself.
    pub problems: Vec<String>,
    pub error: Option<String>,
    pub durations_ms: BTreeMap<&'static str, u128>,
    /// Every sheet the day's figures come from (this run's and earlier runs'), from the ledger.
    pub inputs: Vec<crate::warehouse::LedgerEntry>,
    pub ingest: IngestSummary,
    pub reject_share: Option<f64>,
    pub checks: Vec<CheckRecord>,
    pub outputs: Vec<Output>,
    pub deliveries: Vec<Delivery>,
}

impl Manifest {
    pub fn new(command: &str, run_id: &str, date: &str, started: &str) -> Manifest {
        Manifest {
            wangge_version: env!("CARGO_PKG_VERSION"),
            command: command.to_string(),
            run_id: run_id.to_string(),
            date: date.to_string(),
            started: started.to_string(),
            verdict: Verdict::Success,
            exit_status: 0,
            problems: Vec::new(),
            error: None,
            durations_ms: BTreeMap::new(),
            inputs: Vec::new(),
            ingest: IngestSummary::default(),
            reject_share: None,
            checks: Vec::new(),
            outputs: Vec::new(),
            deliveries: Vec::new(),
        }
    }

    /// The short human summary written beside the JSON.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "wangge {} {} for {} (run {}, started {}): {:?}, exit status {}\n",
            self.wangge_version, self.command, self.date, self.run_id, self.started, self.verdict, self.exit_status
        );
        if let Some(e) = &self.error {
            s.push_str(&format!("error: {e}\n"));
        }
        for p in &self.problems {
            s.push_str(&format!("problem: {p}\n"));
        }
        let i = &self.ingest;
        let rejected: u64 = i.rejected.values().sum();
        s.push_str(&format!(
            "ingest: {} file(s) read, {} already ingested, {} unreadable; {} rows = {} accepted + {rejected} rejected + {} skipped\n",
            i.files_read,
            i.files_already_ingested,
            i.unreadable.len(),
            i.rows_read,
            i.accepted,
            i.skipped.values().sum::<u64>()
        ));
        for (path, error) in &i.unreadable {
            s.push_str(&format!("  unreadable: {path}: {error}\n"));
        }
        for suggestion in &i.suggestions {
            s.push_str(&format!("  suggest: {}\n", suggestion.line()));
        }
        // One line per file with its rows (the first 20): the manifest has every message.
        const ROWS_SHOWN: usize = 20;
        let mut by_file: Vec<(&str, Vec<&RowProblem>)> = Vec::new();
        for p in &i.problems {
            match by_file.last_mut() {
                Some((file, list)) if *file == p.file => list.push(p),
                _ => by_file.push((&p.file, vec![p])),
            }
        }
        for (file, list) in by_file {
            let shown: Vec<String> = list
                .iter()
                .take(ROWS_SHOWN)
                .map(|p| {
                    let sheet = if p.sheet.is_empty() { String::new() } else { format!("[{}] ", p.sheet) };
                    match (p.row, &p.column) {
                        (Some(row), Some(col)) => format!("{sheet}row {row} column {col} {}", p.reason),
                        (Some(row), None) => format!("{sheet}row {row} {}", p.reason),
                        _ => format!("{sheet}{}: {}", p.reason, p.message),
                    }
                })
                .collect();
            let more =
                if list.len() > ROWS_SHOWN { format!("; … {} more", list.len() - ROWS_SHOWN) } else { String::new() };
            s.push_str(&format!("  {file}: {}{more}\n", shown.join("; ")));
        }
        if i.problems_not_listed > 0 {
            s.push_str(&format!("  … and {} more rows (the rejects table has them all)\n", i.problems_not_listed));
        }
        s.push_str(&format!("inputs for the day: {} sheet(s)\n", self.inputs.len()));
        let failed = self.checks.iter().filter(|c| c.failing_rows > 0).count();
        s.push_str(&format!("checks: {} run, {failed} failed\n", self.checks.len()));
        for c in self.checks.iter().filter(|c| c.failing_rows > 0) {
            s.push_str(&format!("  failed: {} on {} ({} row(s))\n", c.check, c.step, c.failing_rows));
        }
        s.push_str(&format!("outputs: {} file(s)\n", self.outputs.len()));
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        for d in &self.deliveries {
            *by_status.entry(format!("{:?}", d.status).to_lowercase()).or_default() += 1;
        }
        s.push_str(&format!(
            "deliveries: {}\n",
            by_status.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ")
        ));
        for d in self.deliveries.iter().filter(|d| d.status.is_failure()) {
            s.push_str(&format!(
                "  missed: {} <{}> {}: {}\n",
                d.recipient,
                d.address,
                d.report.as_deref().unwrap_or(&d.scope),
                d.error.as_deref().unwrap_or("")
            ));
        }
        for d in self.deliveries.iter().filter(|d| d.status == Status::Sent || d.status == Status::Written) {
            s.push_str(&format!(
                "  {}: {} <{}> {}{}\n",
                if d.status == Status::Sent { "sent" } else { "written" },
                d.recipient,
                d.address,
                d.report.as_deref().unwrap_or_default(),
                if d.correction { " (更正)" } else { "" }
            ));
        }
        for (stage, ms) in &self.durations_ms {
            s.push_str(&format!("{stage}: {:.2} s\n", *ms as f64 / 1000.0));
        }
        s
    }

    /// Writes `<dir>/<run-id>.json` and `<run-id>.txt`; returns the JSON's path.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let json = dir.join(format!("{}.json", self.run_id));
        // Errors and problems quote files (sheet names, reader errors): whatever IDs or mobile
        // numbers they hold are masked here, the last step before the disk.
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let text = format!("{}\n", crate::privacy::redact(&text));
        crate::atomic_file::write(&json, text.as_bytes())?;
        let summary = self.summary();
        crate::atomic_file::write(
            &dir.join(format!("{}.txt", self.run_id)),
            crate::privacy::redact(&summary).as_bytes(),
        )?;
        Ok(json)
    }
}

/// The sha256 of a file, for the outputs list.
pub fn output(root: &Path, path: &Path, rows: Option<usize>) -> Output {
    let sha256 = super::sha256_of(path).unwrap_or_default();
    Output { path: path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned(), sha256, rows }
}

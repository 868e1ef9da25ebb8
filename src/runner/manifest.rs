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

#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    pub files_read: usize,
    pub files_already_ingested: usize,
    pub unreadable: Vec<(String, String)>,
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
        let mut bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        crate::atomic_file::write(&json, &bytes)?;
        crate::atomic_file::write(&dir.join(format!("{}.txt", self.run_id)), self.summary().as_bytes())?;
        Ok(json)
    }
}

/// The sha256 of a file, for the outputs list.
pub fn output(root: &Path, path: &Path, rows: Option<usize>) -> Output {
    let sha256 = super::sha256_of(path).unwrap_or_default();
    Output { path: path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned(), sha256, rows }
}

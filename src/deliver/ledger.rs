//! The delivery ledger (`runs/deliveries.jsonl`): one JSON line per event, appended and
//! flushed to disk before the run goes on, so that a run killed at any point leaves a record
//! the next run can trust.
//!
//! Sending is recorded twice: `sending` before the message goes to the SMTP server, then
//! `sent` or `failed`. A `sending` with nothing after it means the run died while sending: the
//! message may or may not have arrived, so it is not sent again without `--resend` (never
//! twice is the promise) and the run says so. A partial last line (killed mid-write) is ignored.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// About to hand the message to the SMTP server.
    Sending,
    /// The server accepted it.
    Sent,
    /// Written to the outbox as an `.eml` file.
    Written,
    /// Not delivered (the error says why).
    Failed,
}

/// How a message travelled; the ledger of one transport does not count for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Smtp,
    Eml,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub date: String,
    pub address: String,
    /// The report, as its path under the day's folder without extension (`town/130273101-老庄子镇`).
    pub report: String,
    /// sha256 of what the recipient receives (the report files of its formats).
    pub sha256: String,
    pub message_id: String,
    pub transport: Transport,
    pub event: Event,
    pub correction: bool,
    pub run_id: String,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the ledger knows about one (date, address, report).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// The last event.
    pub last: Option<Event>,
    /// The content and message id last delivered (sent or written).
    pub delivered: Option<(String, String)>,
}

pub struct Ledger {
    path: PathBuf,
    history: HashMap<(String, String, String), History>,
    /// The file ends in a line cut short by a crash: the next record starts on a fresh line.
    torn: bool,
}

impl Ledger {
    /// Reads the ledger at `path` (none yet is an empty ledger), keeping `transport`'s records.
    pub fn open(path: &Path, transport: Transport) -> std::io::Result<Ledger> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let mut history: HashMap<_, History> = HashMap::new();
        for line in text.lines() {
            let Ok(record) = serde_json::from_str::<Record>(line) else { continue };
            if record.transport != transport {
                continue;
            }
            let h = history.entry((record.date, record.address, record.report)).or_default();
            h.last = Some(record.event);
            if matches!(record.event, Event::Sent | Event::Written) {
                h.delivered = Some((record.sha256, record.message_id));
            }
        }
        let torn = !text.is_empty() && !text.ends_with('\n');
        Ok(Ledger { path: path.to_path_buf(), history, torn })
    }

    pub fn history(&self, date: &str, address: &str, report: &str) -> History {
        self.history.get(&(date.to_string(), address.to_string(), report.to_string())).cloned().unwrap_or_default()
    }

    /// Appends a record and flushes it to disk before returning.
    pub fn append(&mut self, record: &Record) -> std::io::Result<()> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        line.push('\n');
        // A line cut short by a crash would glue onto the next record; start on a fresh line.
        if self.torn {
            line.insert(0, '\n');
        }
        file.write_all(line.as_bytes())?;
        file.sync_data()?;
        self.torn = false;
        let h = self.history.entry((record.date.clone(), record.address.clone(), record.report.clone())).or_default();
        h.last = Some(record.event);
        if matches!(record.event, Event::Sent | Event::Written) {
            h.delivered = Some((record.sha256.clone(), record.message_id.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event: Event, sha: &str) -> Record {
        Record {
            date: "2022-05-10".into(),
            address: "a@b.cn".into(),
            report: "district/130273-高新区".into(),
            sha256: sha.into(),
            message_id: format!("<{sha}@wangge>"),
            transport: Transport::Smtp,
            event,
            correction: false,
            run_id: "r".into(),
            at: "t".into(),
            error: None,
        }
    }

    #[test]
    fn history_survives_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deliveries.jsonl");
        let mut ledger = Ledger::open(&path, Transport::Smtp).unwrap();
        ledger.append(&record(Event::Sending, "x")).unwrap();
        ledger.append(&record(Event::Sent, "x")).unwrap();
        // A crash in the middle of the next line.
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"date\":\"2022-").unwrap();
        let mut again = Ledger::open(&path, Transport::Smtp).unwrap();
        let h = again.history("2022-05-10", "a@b.cn", "district/130273-高新区");
        assert_eq!(h.last, Some(Event::Sent));
        assert_eq!(h.delivered.as_ref().map(|d| d.0.as_str()), Some("x"));
        again.append(&record(Event::Sending, "y")).unwrap();
        let third = Ledger::open(&path, Transport::Smtp).unwrap();
        assert_eq!(third.history("2022-05-10", "a@b.cn", "district/130273-高新区").last, Some(Event::Sending));
        assert_eq!(Ledger::open(&path, Transport::Eml).unwrap().history.len(), 0);
    }
}

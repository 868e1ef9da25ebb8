//! Logs: readable lines on stderr (`WANGGE_LOG`, default `warn`), and, once a run has a folder,
//! JSON lines of wangge's own events at `info` into `runs/<date>/<run-id>.log.jsonl`.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

static RUN_LOG: Mutex<Option<File>> = Mutex::new(None);

/// Writes into the run's log file, or nowhere before a run has one.
struct RunLog;

struct RunLogWriter;

impl Write for RunLogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match RUN_LOG.lock().ok().as_mut().and_then(|f| f.as_mut()) {
            Some(file) => file.write_all(&redacted(buf)).map(|()| buf.len()),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for RunLog {
    type Writer = RunLogWriter;
    fn make_writer(&'a self) -> RunLogWriter {
        RunLogWriter
    }
}

/// A log line with its IDs and mobile numbers masked: a line can quote a file's text (a sheet
/// name, an error). The formatter writes each event whole, so a number is never split.
fn redacted(buf: &[u8]) -> Vec<u8> {
    crate::privacy::redact(&String::from_utf8_lossy(buf)).into_owned().into_bytes()
}

/// Stderr, masked like the run log.
struct Terminal;

impl Write for Terminal {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stderr().write_all(&redacted(buf)).map(|()| buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

pub fn init() {
    let filter = EnvFilter::try_from_env("WANGGE_LOG").unwrap_or_else(|_| "warn".into());
    let terminal = tracing_subscriber::fmt::layer().with_writer(|| Terminal).with_filter(filter);
    let json = tracing_subscriber::fmt::layer().json().with_writer(RunLog).with_filter(EnvFilter::new("wangge=info"));
    let _ = tracing_subscriber::registry().with(terminal).with(json).try_init();
}

/// From now on, JSON log lines also go to `path`.
pub fn record_to(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    if let Ok(mut slot) = RUN_LOG.lock() {
        *slot = Some(file);
    }
    Ok(())
}

//! Crash-test hooks. With `WANGGE_FAILPOINT=<point>` the process kills itself with SIGKILL (no
//! destructors, no flushing: what a power cut or `kill -9` does) when it reaches the named
//! point; `<point>@N` waits for the N-th time, `<point>:stop` stops itself (SIGSTOP) instead,
//! so a test can hold a run at that point, and `<point>:panic` panics there (a bug's way out).
//! Unset (always, outside the tests) it does nothing.
//!
//! Points: `locked` (workspace lock taken), `warehouse.file` (a warehouse file written),
//! `warehouse.rows` (a chunk of a streamed sheet's rows written to its temporary file),
//! `warehouse.compact` (a compaction's new files renamed into place, the old ones not removed),
//! `ingested`, `pipeline.done`, `reports.file` (a report file written), `reports.done`,
//! `delivery.sending` (the intent to send recorded, nothing sent yet), `delivery.recorded`
//! (a delivery's outcome recorded), `fast_reader.row` (a row parsed by `ingest::xlsx_scan`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

struct Spec {
    point: String,
    nth: u32,
    stop: bool,
    panic: bool,
    hits: AtomicU32,
}

fn spec() -> Option<&'static Spec> {
    static SPEC: OnceLock<Option<Spec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let raw = std::env::var("WANGGE_FAILPOINT").ok().filter(|v| !v.is_empty())?;
        let (rest, stop) = match raw.strip_suffix(":stop") {
            Some(rest) => (rest.to_string(), true),
            None => (raw.clone(), false),
        };
        let (rest, panic) = match rest.strip_suffix(":panic") {
            Some(rest) => (rest.to_string(), true),
            None => (rest, false),
        };
        let (point, nth) = match rest.split_once('@') {
            Some((p, n)) => (p.to_string(), n.parse().unwrap_or(1)),
            None => (rest, 1),
        };
        Some(Spec { point, nth, stop, panic, hits: AtomicU32::new(0) })
    })
    .as_ref()
}

/// Marks that the run reached `point`.
pub fn hit(point: &str) {
    let Some(spec) = spec() else { return };
    if spec.point != point || spec.hits.fetch_add(1, Ordering::SeqCst) + 1 != spec.nth {
        return;
    }
    if spec.panic {
        panic!("failpoint `{point}`");
    }
    #[cfg(unix)]
    // SAFETY: sending a signal to our own process id has no memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), if spec.stop { libc::SIGSTOP } else { libc::SIGKILL });
    }
    #[cfg(not(unix))]
    std::process::abort();
}

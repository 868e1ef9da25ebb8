//! `wangge explain`: what ingest would make of some files, without writing anything: each
//! sheet's format, header rows, every column with the field chosen and the evidence, the
//! context found (community, report date and where each part came from), and the fate of its
//! first rows.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::{RunError, load_forms, privacy};
use crate::config::Workspace;
use crate::ingest::{self, IngestOutcome, IngestRequest, SheetResult};
use crate::warehouse::Warehouse;

/// Reads `paths` as `wangge ingest` would on `run_date`, against the warehouse's registry, and
/// writes nothing. Paths inside the inbox keep their folders as context.
pub fn explain(ws: &Workspace, run_date: NaiveDate, paths: &[PathBuf]) -> Result<IngestOutcome, RunError> {
    let forms = load_forms(ws)?;
    let privacy = privacy(ws)?;
    let registry = Warehouse::new(ws.path(&ws.config.paths.warehouse)).registry()?;
    let inbox = std::path::absolute(ws.inbox()).unwrap_or_else(|_| ws.inbox());
    let files: Vec<PathBuf> = paths.iter().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())).collect();
    // Files outside the inbox are read from their own folder, which then gives no context.
    let root: PathBuf = if files.iter().all(|f| f.starts_with(&inbox)) {
        inbox
    } else {
        files.first().and_then(|f| f.parent()).unwrap_or(Path::new(".")).to_path_buf()
    };
    let mut outcome = ingest::ingest(IngestRequest {
        inbox: &root,
        files,
        forms: &forms,
        run_date,
        registry,
        threads: 1,
        key: &privacy.key,
        // Read whole: the fate of rows is what is asked.
        stream_from_bytes: u64::MAX,
        limits: ws.ingest_limits(),
    });
    ingest::dedup::deduplicate(&mut outcome, &forms, &Default::default());
    Ok(outcome)
}

/// The fate of a sheet's first `rows` rows (1-based), in order: `3 skipped: header`,
/// `5 rejected: invalid_id (C)`, `6 accepted`.
pub fn first_rows(sheet: &SheetResult, rows: usize) -> Vec<String> {
    let mut fates: Vec<(usize, String)> = Vec::new();
    for (row, reason) in &sheet.skips {
        fates.push((*row, format!("skipped: {}", reason.code())));
    }
    for r in &sheet.rejects {
        let column = crate::normalize::text::column_letter(r.column);
        fates.push((r.row, format!("rejected: {} ({column} {}): {}", r.reason, r.header, r.message)));
    }
    for (row, _) in &sheet.records {
        let warnings: Vec<&str> = sheet.warnings.iter().filter(|w| w.row == *row).map(|w| w.code).collect();
        let note = if warnings.is_empty() { String::new() } else { format!(" with warnings {}", warnings.join(", ")) };
        fates.push((*row, format!("accepted{note}")));
    }
    fates.sort();
    fates.into_iter().take(rows).map(|(row, fate)| format!("row {row} {fate}")).collect()
}

//! `wangge explain FILE...`: what ingest makes of each sheet of some files, and why, without
//! writing anything: the first thing to run on a file from a district wangge has not seen.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::Args;

use super::{CommandResult, ExitStatus, Failure};
use crate::config::Workspace;
use crate::ingest::SheetStatus;
use crate::runner::{self, RunError};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Run date (YYYY-MM-DD), as `wangge ingest --date`. Default: today in China Standard Time.
    #[arg(long)]
    date: Option<NaiveDate>,
    /// How many rows of each sheet to give the fate of.
    #[arg(long, default_value_t = 12)]
    rows: usize,
    /// The files to explain.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(workspace: &Path, args: ExplainArgs) -> CommandResult {
    let ws = Workspace::load(workspace).map_err(|e| Failure::usage(RunError::Config(e)))?;
    let run_date = args.date.unwrap_or_else(crate::clock::today);
    let outcome = runner::explain(&ws, run_date, &args.files).map_err(Failure::run)?;
    let registry = &outcome.registry;
    let mut problems = 0;
    for file in &outcome.files {
        let kind = file.kind.map_or("unknown", |k| k.label());
        say!("`{}` ({kind}, {} bytes)", file.path, file.bytes);
        if let Some(error) = &file.error {
            problems += 1;
            say!("  cannot be read: {error}");
            continue;
        }
        for s in &file.sheets {
            let name = if s.name.is_empty() { "csv" } else { &s.name };
            match &s.status {
                SheetStatus::Read => {}
                // Not a problem by itself: workbooks carry instructions and lookup sheets.
                SheetStatus::Unrecognised { missing, .. } => {
                    let hint =
                        if missing.is_empty() { "" } else { " (add the sheet's wording to that field's synonyms)" };
                    say!("  [{name}] {}{hint}", s.status.unrecognised().unwrap_or_default());
                    continue;
                }
                other => {
                    say!("  [{name}] {}", other.code());
                    continue;
                }
            }
            let community = s.community.as_deref().map_or("none found".to_string(), |code| {
                let named = registry.communities.get(code).map(|c| c.name.as_str()).unwrap_or_default();
                format!("{code} {named}")
            });
            say!(
                "  [{name}] form `{}`, header row(s) {}, report date {} (from {}), community {community}",
                s.form.as_deref().unwrap_or_default(),
                s.header_rows.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("+"),
                s.report_date,
                s.date_from(),
            );
            for (c, h) in &s.headers {
                let letter = crate::normalize::text::column_letter(*c);
                let field = match (&h.field, &h.decided_by) {
                    (Some(f), Some(how)) => format!("{f} ({})", how.describe()),
                    (Some(f), None) => f.clone(),
                    (None, _) => "-".into(),
                };
                say!("    {letter:>3} {:<24} {field}", crate::privacy::redact(&h.label));
            }
            let c = &s.counts;
            say!(
                "    rows: {} = {} accepted + {} rejected + {} skipped",
                c.rows_read,
                c.accepted,
                c.rejected_total(),
                c.skipped_total()
            );
            for line in runner::first_rows(s, args.rows) {
                say!("    {}", crate::privacy::redact(&line));
            }
            for suggestion in s.suggestions() {
                say!("    suggest: {}", suggestion.line());
            }
        }
    }
    Ok(if problems > 0 { ExitStatus::DataProblems } else { ExitStatus::Success })
}

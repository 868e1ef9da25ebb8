//! `wangge query "SQL"`: analysts' queries over every warehouse table and mart.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CommandResult, ExitStatus, Failure};
use crate::config::Workspace;
use crate::runner::{self, RunError};
use crate::sql::query::{self, Format};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  wangge query \"SELECT town_code, count(*) FROM returnees GROUP BY 1\"\n  wangge query --tables\n  \
wangge query \"SELECT * FROM rejects\" --format xlsx --output rejects.xlsx"
)]
pub struct QueryArgs {
    /// The SQL (DataFusion dialect); every table has a `report_date` column.
    sql: Option<String>,
    /// List the tables with their columns and types.
    #[arg(long, conflicts_with = "sql")]
    tables: bool,
    /// Output format (default: an aligned table on a terminal, CSV otherwise).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write to a file instead of standard output (required for parquet and xlsx).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Also offer this pipeline's view steps (`stg_*`), as a run for `--date` sees them.
    #[arg(long, requires = "date")]
    pipeline: Option<String>,
    /// The report date for `--pipeline`.
    #[arg(long)]
    date: Option<chrono::NaiveDate>,
    /// The engine for this run: `local`, `ballista` (`[engine] scheduler`) or
    /// `ballista://host:port`; overrides `[engine] kind` in `wangge.toml`.
    #[arg(long)]
    engine: Option<String>,
}

pub fn run(workspace: &Path, args: QueryArgs) -> CommandResult {
    let mut ws = Workspace::load(workspace).map_err(|e| Failure::usage(RunError::Config(e)))?;
    super::choose_engine(&mut ws, args.engine.as_deref())?;
    if !args.tables && args.sql.is_none() {
        return Err(Failure::usage(anyhow::anyhow!("give a query (`wangge query \"SELECT …\"`) or `--tables`")));
    }
    let pipeline = args.pipeline.as_deref().zip(args.date);
    let (tables, result) = runner::query(&ws, args.sql.as_deref(), pipeline).map_err(|e| match e {
        // A query the engine rejects is the user's to fix.
        RunError::Sql(crate::sql::SqlError::Engine { .. }) => Failure::usage(e),
        e => Failure::run(e),
    })?;
    let Some((schema, batches)) = result else {
        print!("{}", query::describe(&tables));
        return Ok(ExitStatus::Success);
    };
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() { Format::Table } else { Format::Csv });
    match &args.output {
        Some(path) => {
            query::write_file(format, &schema, &batches, path).map_err(Failure::output)?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            say!("Wrote {rows} row(s) to `{}`", path.display());
        }
        None if matches!(format, Format::Parquet | Format::Xlsx) => {
            return Err(Failure::usage(anyhow::anyhow!("`--format {format:?}` needs `--output FILE`")));
        }
        None => {
            let mut out = std::io::stdout().lock();
            query::write_text(format, &schema, &batches, &mut out).map_err(Failure::output)?;
        }
    }
    Ok(ExitStatus::Success)
}

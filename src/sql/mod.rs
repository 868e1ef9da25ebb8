//! SQL over the warehouse: the engine factory, pipelines declared as files (TOML + one SQL file
//! per step), their checks, and ad-hoc queries. Never prints and never reads the clock: the
//! report date comes in as a typed parameter.

pub mod checks;
pub mod completeness;
pub mod engine;
pub mod incremental;
mod local_files;
pub mod memory;
pub mod pipeline;
pub mod query;
pub mod run;
pub mod scope;
mod sorting;
mod split;

use std::path::{Path, PathBuf};

use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use crate::config::forms::FormConfig;
use crate::privacy::Privacy;
use crate::warehouse::Warehouse;
use engine::{EngineSettings, TableInfo};

/// The folder of materialised pipeline steps inside the warehouse.
pub const MARTS: &str = "marts";

/// The file a run writes a materialised step's rows to for a report date.
pub fn mart_file(warehouse_root: &Path, step: &str, report_date: chrono::NaiveDate) -> PathBuf {
    warehouse_root.join(MARTS).join(step).join(format!("{}={report_date}", engine::PARTITION)).join("part-0.parquet")
}

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The engine's message already holds its causes, so it is shown whole, not as a chain.
    #[error("{context}: {error}")]
    Engine { context: String, error: DataFusionError },
    #[error("cannot read or write `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Warehouse(#[from] crate::warehouse::WarehouseError),
}

impl SqlError {
    /// Wraps an engine error with what was being done.
    pub fn engine(context: &str) -> impl FnOnce(DataFusionError) -> SqlError + '_ {
        move |error| SqlError::Engine { context: context.to_string(), error }
    }

    /// Whether the engine gave up for want of memory under its limit (a sort's merge, a join's
    /// build side or a group table that could not spill).
    pub fn is_out_of_memory(&self) -> bool {
        let SqlError::Engine { error, .. } = self else { return false };
        // The cause may be wrapped (a step's context, a shared error from another partition).
        let text = error.to_string();
        matches!(error.find_root(), DataFusionError::ResourcesExhausted(_))
            || text.contains("Resources exhausted")
            || text.contains("Not enough memory to continue external sort")
    }
}

/// A session over a workspace's warehouse: every form table, `rejects`, `ingest_files`, and
/// every materialised mart.
pub async fn warehouse_session(
    warehouse_root: &Path,
    forms: &[FormConfig],
    privacy: &Privacy,
    settings: &EngineSettings,
) -> Result<(SessionContext, Vec<TableInfo>), SqlError> {
    let ctx = engine::session(settings).await?;
    let mut tables = Vec::new();
    for (name, schema) in Warehouse::schemas(forms, privacy) {
        tables.push(engine::register_parquet_table(&ctx, &name, &warehouse_root.join(&name), schema).await?);
    }
    let marts = warehouse_root.join(MARTS);
    let mut names: Vec<String> = std::fs::read_dir(&marts)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    for name in names {
        if let Some(info) = pipeline::register_mart(&ctx, &marts.join(&name), &name).await? {
            tables.push(info);
        }
    }
    Ok((ctx, tables))
}

/// A table's (or mart's) rows for one report date.
pub async fn rows_for_date(
    ctx: &SessionContext,
    table: &str,
    report_date: chrono::NaiveDate,
) -> Result<Vec<arrow::array::RecordBatch>, SqlError> {
    use datafusion::prelude::{col, lit};
    let context = format!("reading `{table}` for {report_date}");
    let df = ctx
        .table(table)
        .await
        .and_then(|df| df.filter(col(engine::PARTITION).eq(lit(pipeline::date_scalar(report_date)))))
        .map_err(SqlError::engine(&context))?;
    df.collect().await.map_err(SqlError::engine(&context))
}

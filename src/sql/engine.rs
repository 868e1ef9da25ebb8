//! The one place that chooses and configures the query engine: DataFusion in this process, or
//! an Apache Ballista cluster running the same DataFusion plans (`Engine`).
//!
//! Every setting is stated here (partitions, memory limit, spill folder); every warehouse table
//! is registered here as a listing table over its Parquet files with the hive partition column
//! `report_date`; functions of our own would be registered here too (and in `crate::cluster`,
//! on the scheduler and executors). Nothing else builds a `SessionContext`, so the pipelines
//! run unchanged on either engine: table paths are absolute (the scheduler lists them, the
//! executors read them) and materialised steps go through Parquet, never in-memory tables
//! (a Ballista plan cannot carry one).
//!
//! Local files are read through [`super::local_files::LocalFiles`], which reads on the calling
//! thread instead of tokio's blocking pool; the settings below that depart from DataFusion's
//! defaults each say why. Together they took the 30-day daily pipeline from 2.0× DuckDB's time
//! to about 1.0× (`cargo run --example bench_pipeline`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::TrackConsumersPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::SqlError;

/// The partition column of every table.
pub const PARTITION: &str = "report_date";

/// How the engine runs. Defaults suit an office PC; a city's server raises them.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Parallel partitions per query (default: the CPU count).
    pub target_partitions: usize,
    /// Memory the engine may use before it spills sorts and joins to disk.
    pub memory_limit: usize,
    /// Where spilled data goes.
    pub spill_dir: PathBuf,
    /// Memory for Parquet footers kept between scans. None by default: the warehouse's footers
    /// are small and decoding one again cost no measurable time, while keeping them made a
    /// 30-day pipeline's peak grow by 50 MiB with the days (`bench_pipeline`).
    pub footer_cache: usize,
    /// Whether steps marked `split = "county"` run one county at a time (`super::scope`).
    pub split_by_county: bool,
    pub engine: Engine,
}

/// Where the SQL runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// DataFusion in this process.
    Local,
    /// An Apache Ballista cluster: its scheduler (`host:port`), and how long a first query may
    /// take to come back before the cluster counts as unreachable.
    Ballista { scheduler: String, connect_timeout: std::time::Duration },
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Engine::Local => write!(f, "the local engine"),
            Engine::Ballista { scheduler, .. } => write!(f, "the Ballista engine (scheduler {scheduler})"),
        }
    }
}

impl EngineSettings {
    pub fn for_workspace(spill_dir: PathBuf) -> EngineSettings {
        EngineSettings {
            target_partitions: std::thread::available_parallelism().map_or(2, |n| n.get()),
            memory_limit: 1024 * 1024 * 1024,
            spill_dir,
            footer_cache: 0,
            split_by_county: true,
            engine: Engine::Local,
        }
    }
}

/// A table as SQL sees it: its columns, `report_date` included.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub name: String,
    pub schema: SchemaRef,
    /// Where its files are, for tables read from disk.
    pub location: Option<PathBuf>,
}

/// Builds a session with every setting stated, on the chosen engine. A Ballista session is
/// first asked `SELECT 1`: a scheduler that is down, or has no executor, fails here by name.
pub async fn session(settings: &EngineSettings) -> Result<SessionContext, SqlError> {
    let (config, runtime) = session_parts(
        settings,
        match settings.engine {
            // Scans that a split step narrows (`super::scope`): local only.
            Engine::Local => {
                SessionConfig::new().with_extension(Arc::new(super::scope::Scope::new(settings.split_by_county)))
            }
            Engine::Ballista { .. } => {
                use ballista::prelude::SessionConfigExt;
                // The adaptive planner (Ballista 55's default) left a job waiting for ever on
                // `stg_registry`: a UNION ALL of an empty join and a NOT IN (observed on the sample;
                // each side alone ran). The static planner runs every pipeline step.
                SessionConfig::new_with_ballista()
                    .with_ballista_job_name("wangge")
                    .set_bool("ballista.planner.adaptive.enabled", false)
            }
        },
    )?;
    match &settings.engine {
        Engine::Local => {
            super::local_files::LocalFiles::install(&runtime);
            Ok(SessionContext::new_with_config_rt(config, runtime))
        }
        Engine::Ballista { scheduler, connect_timeout } => {
            use ballista::prelude::SessionContextExt;
            let unreachable = |error| SqlError::Engine { context: settings.engine.to_string(), error };
            let state = SessionStateBuilder::new()
                .with_config(config)
                .with_runtime_env(runtime)
                .with_default_features()
                .build();
            let ctx =
                SessionContext::remote_with_state(&format!("df://{scheduler}"), state).await.map_err(unreachable)?;
            let probe = async { ctx.sql("SELECT 1").await?.collect().await };
            match tokio::time::timeout(*connect_timeout, probe).await {
                Ok(Ok(_)) => Ok(ctx),
                Ok(Err(e)) => Err(unreachable(e)),
                Err(_) => Err(unreachable(datafusion::error::DataFusionError::Execution(format!(
                    "no answer to a first query within {} s: is the scheduler running, with an executor registered?",
                    connect_timeout.as_secs()
                )))),
            }
        }
    }
}

/// A local session for planning only (`wangge validate`): no data is read, on any engine.
pub fn planning_session(settings: &EngineSettings) -> Result<SessionContext, SqlError> {
    let (config, runtime) = session_parts(settings, SessionConfig::new())?;
    Ok(SessionContext::new_with_config_rt(config, runtime))
}

/// The settings every session gets, on top of `config` (the engine's own defaults).
fn session_parts(
    settings: &EngineSettings,
    config: SessionConfig,
) -> Result<(SessionConfig, Arc<datafusion::execution::runtime_env::RuntimeEnv>), SqlError> {
    std::fs::create_dir_all(&settings.spill_dir)
        .map_err(|source| SqlError::Io { path: settings.spill_dir.clone(), source })?;
    let config = config
        .with_target_partitions(partitions(settings))
        .with_batch_size(batch_rows(settings.memory_limit))
        .with_information_schema(true)
        // Results in a stable order where the engine would otherwise be free to reorder.
        .with_repartition_file_scans(false)
        // The warehouse is many small files (one per source file and day): reading every
        // file's statistics to plan each scan cost more than the scans (profiled). Compacted,
        // with them on, the 14-district city's pipeline took the same time (1.9-2.0 s against
        // 2.0-2.2 s), and DataFusion 55 failed an internal assertion estimating the filter
        // `$report_date - push_date < $followup_days` (Int64 against Duration(Second)). Without
        // them a join holds its left side as written: the steps put the smaller table first.
        .with_collect_statistics(false);
    // Filters that joins and top-k push into the scans as they run are checked against every
    // file opened: with hundreds of small files per table that cost more than it saved (a
    // third of the 30-day pipeline's CPU, profiled). Set by key: that also turns off the
    // join, top-k and aggregate variants.
    let mut config = config.set_bool("datafusion.optimizer.enable_dynamic_filter_pushdown", false);
    // Each sort holds back memory to merge what it spilled: DataFusion's 10 MiB a sort left a
    // plan of several sorts without room under small budgets (the sample district's pipeline
    // failed under 24 MiB, a 14-district city's under 56). A 32nd of the budget (1 to 10 MiB),
    // with the pool below, runs them at 8 and 32 MiB (`bench_city`'s workspaces).
    let execution = &mut config.options_mut().execution;
    execution.sort_spill_reservation_bytes = (settings.memory_limit / 32).clamp(1 << 20, 10 << 20);
    // A sort is one sequence, not one per partition then merged: the merge cannot spill, and
    // counted whole the buffers its batches share (10 MB held for one batch of a city's
    // register, failing the city at 40 MiB). The city's pipeline took the same time.
    config.options_mut().optimizer.repartition_sorts = false;
    // Small files: no page indexes or bloom filters worth a second read per file; one read
    // fetches the footer.
    let parquet = &mut config.options_mut().execution.parquet;
    parquet.enable_page_index = false;
    parquet.bloom_filter_on_read = false;
    // Text read as plain strings, not views: a filter keeps a view's rows pointing into the
    // page they were decoded from, so the few rows of one county a split step keeps (`super::
    // scope`) held whole pages of the city alive. The 14-district city's pipeline under 32 MiB:
    // 61-66 MiB of data against 76-89, in the same time.
    parquet.schema_force_view_types = false;
    // Operators that can spill leave room to those that cannot (`super::memory` says how and
    // why), the five largest consumers named when a query does not fit.
    let pool = TrackConsumersPool::new(
        super::memory::SpillFirst::new(settings.memory_limit),
        std::num::NonZeroUsize::new(5).expect("5 is not zero"),
    );
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(pool))
        .with_temp_file_path(&settings.spill_dir)
        .with_metadata_cache_limit(settings.footer_cache)
        .build_arc()
        .map_err(SqlError::engine("configuring the engine"))?;
    Ok((config, runtime))
}

/// Parallel partitions: the CPU count (or as set), but one per [`PARTITION_BUDGET`] of the
/// memory budget at most. What the pool does not count is held once per partition: the batches
/// each partition's scans decode and its operators pass on, a hash join's build side while it
/// is concatenated (a mart's writer is one per step whatever the partitions). Under a small
/// budget that is much of the process, and it grew with the largest county, whose two
/// partitions' joins overlapped or not from run to run: the 14-district city's heap under 8 MiB
/// peaked at 8.5 to 9.8 MiB over five runs of two partitions (one district: 7.3), and at 8.5 in
/// every run of one.
fn partitions(settings: &EngineSettings) -> usize {
    let most = (settings.memory_limit / PARTITION_BUDGET).max(1);
    settings.target_partitions.clamp(1, most)
}

/// The memory budget per parallel partition, at least: below twice this, a query runs in one.
const PARTITION_BUDGET: usize = 16 << 20;

/// Rows per batch: DataFusion's 8,192 from a 32 MiB budget up, fewer under less. What the
/// budget does not count scales with a batch: the batches each scan decodes, a merge's batch of
/// each spill file it reads back. Under 8 MiB, 2,048 rows took the heap's peak (heaptrack, a
/// glibc build) from 9.2 to 6.9 MiB for one district and from 29.9 to 22.9 for 14, in the same
/// time or less (7.6 s against 8.2-8.6 for 14); under 32 and 1024 MiB, 2,048 and 8,192 rows
/// took the same time.
fn batch_rows(memory_limit: usize) -> usize {
    (memory_limit / 4096).clamp(1024, 8192)
}

/// The schema a table has in SQL: its file columns plus the partition column.
pub fn with_partition(schema: &SchemaRef) -> SchemaRef {
    if schema.column_with_name(PARTITION).is_some() {
        return schema.clone(); // a warehouse table's files have it
    }
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(PARTITION, DataType::Date32, false));
    Arc::new(Schema::new(fields))
}

/// How every mart is laid out: `report_date=YYYY-MM-DD/*.parquet` (a warehouse table's files
/// carry their dates: `register_parquet_table`).
pub fn partitioned_parquet(ctx: &SessionContext) -> ListingOptions {
    // The format carries its own copy of the Parquet read options; without the session's, the
    // settings made in `session` would not reach the scans.
    let format = ParquetFormat::default().with_options(ctx.state().table_options().parquet.clone());
    ListingOptions::new(Arc::new(format))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![(PARTITION.to_string(), DataType::Date32)])
}

/// Registers a warehouse table's folder (`report_year=YYYY/*.parquet`, `report_date` in the
/// files: see `warehouse::dated`) as a table. No partition column is declared: the engine lists
/// the year folders and skips row groups by the files' `report_date` statistics. The folder is
/// created if missing, so that a table with no files yet is an empty table, not an error.
pub async fn register_parquet_table(
    ctx: &SessionContext,
    name: &str,
    folder: &Path,
    file_schema: SchemaRef,
) -> Result<TableInfo, SqlError> {
    std::fs::create_dir_all(folder).map_err(|source| SqlError::Io { path: folder.to_path_buf(), source })?;
    let folder = std::path::absolute(folder).map_err(|source| SqlError::Io { path: folder.to_path_buf(), source })?;
    let format = ParquetFormat::default().with_options(ctx.state().table_options().parquet.clone());
    let options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
    let schema = with_partition(&file_schema);
    let url = format!("{}/", folder.display());
    ctx.register_listing_table(name, &url, options, Some(schema.clone()), None)
        .await
        .map_err(SqlError::engine(&format!("registering table `{name}`")))?;
    super::scope::narrowable(ctx, name).map_err(SqlError::engine(&format!("registering table `{name}`")))?;
    Ok(TableInfo { name: name.to_string(), schema, location: Some(folder) })
}

/// Registers an empty table with a schema: for planning SQL without reading any data.
pub fn register_empty_table(ctx: &SessionContext, name: &str, file_schema: &SchemaRef) -> Result<TableInfo, SqlError> {
    let schema = with_partition(file_schema);
    let table = MemTable::try_new(schema.clone(), vec![vec![]]).map_err(SqlError::engine("an empty table"))?;
    ctx.register_table(name, Arc::new(table)).map_err(SqlError::engine(&format!("registering table `{name}`")))?;
    Ok(TableInfo { name: name.to_string(), schema, location: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_budget_runs_fewer_partitions_than_the_cpus() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = EngineSettings::for_workspace(dir.path().join("spill"));
        let partitions_under = |settings: &mut EngineSettings, cpus: usize, mib: usize| {
            settings.target_partitions = cpus;
            settings.memory_limit = mib << 20;
            let (config, _) = session_parts(settings, SessionConfig::new()).unwrap();
            config.target_partitions()
        };
        assert_eq!(partitions_under(&mut settings, 2, 8), 1);
        assert_eq!(partitions_under(&mut settings, 2, 31), 1);
        assert_eq!(partitions_under(&mut settings, 2, 32), 2);
        assert_eq!(partitions_under(&mut settings, 2, 1024), 2);
        assert_eq!(partitions_under(&mut settings, 8, 64), 4);
        assert_eq!(partitions_under(&mut settings, 0, 1024), 1);
    }
}

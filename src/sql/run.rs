//! Planning and running a pipeline's steps.
//!
//! Planning (`plan_all`, what `wangge validate` does) registers every warehouse table empty with
//! its declared schema and plans each step in order, so a misspelt column or an unknown table is
//! found before a cron run touches data. Running (`run`) executes each step against the
//! warehouse, writes materialised steps to Parquet and reads them back from there, then runs
//! the step's checks.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use chrono::NaiveDate;
use datafusion::prelude::{DataFrame, SessionContext, col};
use datafusion::scalar::ScalarValue;
use futures::StreamExt;

use super::engine::{self, PARTITION};
use super::pipeline::{self, Materialize, Pipeline};
use super::{MARTS, SqlError};
use crate::config::ConfigError;
use crate::warehouse::parquet_io;

/// The parameters of a run: the pipeline's defaults and `$report_date`.
pub fn params(pipeline: &Pipeline, report_date: NaiveDate) -> HashMap<String, ScalarValue> {
    let mut map: HashMap<String, ScalarValue> = pipeline.params.clone().into_iter().collect();
    map.insert("report_date".into(), pipeline::date_scalar(report_date));
    map
}

async fn dataframe(
    ctx: &SessionContext,
    sql: &str,
    params: &HashMap<String, ScalarValue>,
) -> Result<DataFrame, String> {
    let df = ctx.sql(sql).await.map_err(|e| e.to_string())?;
    df.with_param_values(params.clone()).map_err(|e| e.to_string())
}

/// A step's plan, analysed and optimised now, so that type errors surface when planning (in
/// `wangge validate`), not mid-run.
async fn planned(ctx: &SessionContext, sql: &str, params: &HashMap<String, ScalarValue>) -> Result<DataFrame, String> {
    let df = dataframe(ctx, sql, params).await?;
    df.clone().into_optimized_plan().map_err(|e| e.to_string())?;
    Ok(df)
}

/// Plans every step against empty tables of the declared schemas; returns every problem, each
/// placed in its SQL file. A step that depends on a failed step is not planned again.
pub async fn plan_all(
    pipeline: &Pipeline,
    tables: &[(String, arrow::datatypes::SchemaRef)],
    report_date: NaiveDate,
) -> Result<Vec<ConfigError>, SqlError> {
    let settings = engine::EngineSettings::for_workspace(std::env::temp_dir());
    let ctx = engine::planning_session(&settings)?;
    for (name, schema) in tables {
        engine::register_empty_table(&ctx, name, schema)?;
    }
    let params = params(pipeline, report_date);
    let mut problems = Vec::new();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for step in &pipeline.steps {
        let file = step.file.clone().unwrap_or_else(|| pipeline.dir.join("pipeline.toml"));
        if let Some(upstream) = step.depends_on.iter().find(|d| failed.contains(*d)) {
            failed.insert(step.name.clone());
            problems.push(ConfigError::whole_file(&file, format!("not planned: it reads `{upstream}`, which failed")));
            continue;
        }
        match planned(&ctx, &step.sql, &params).await {
            Ok(df) => {
                match step.materialize {
                    Materialize::View => {
                        ctx.register_table(step.name.as_str(), df.into_view())
                            .map_err(SqlError::engine("registering a step"))?;
                    }
                    // Later steps will read it as a mart: its columns and the partition column.
                    Materialize::Parquet => {
                        let fields: Vec<arrow::datatypes::Field> = df
                            .schema()
                            .fields()
                            .iter()
                            .filter(|f| f.name() != PARTITION)
                            .map(|f| f.as_ref().clone())
                            .collect();
                        let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(fields));
                        if let Some(split) = &step.split {
                            let plan = df.clone().into_optimized_plan().map_err(SqlError::engine("planning a step"))?;
                            if let Some(problem) = super::split::unsplittable(&ctx, &plan, split).await {
                                problems.push(ConfigError::whole_file(&file, problem));
                            }
                        }
                        engine::register_empty_table(&ctx, &step.name, &schema)?;
                        if let Some(inc) = &step.incremental {
                            if let Err(problem) = plan_incremental(&ctx, inc, &schema, &params, report_date).await {
                                failed.insert(step.name.clone());
                                problems.push(problem);
                            }
                        }
                    }
                }
                for check in &step.checks {
                    let plan = async { ctx.sql(&check.sql).await?.with_param_values(params.clone()) };
                    if let Err(e) = plan.await {
                        problems.push(ConfigError::whole_file(
                            &pipeline.dir.join("pipeline.toml"),
                            format!("check `{}` of step `{}`: {e}", check.name, step.name),
                        ));
                    }
                }
            }
            Err(message) => {
                failed.insert(step.name.clone());
                problems.push(pipeline::sql_error(&file, &step.sql, &with_valid_tables(&message, &ctx)));
            }
        }
    }
    Ok(problems)
}

/// Plans a step's incremental SQL (with `$previous_date` the day before), which must give the
/// columns and types of its full SQL, in order.
async fn plan_incremental(
    ctx: &SessionContext,
    inc: &pipeline::IncrementalSql,
    full: &arrow::datatypes::Schema,
    params: &HashMap<String, ScalarValue>,
    report_date: NaiveDate,
) -> Result<(), ConfigError> {
    let params = with_previous_date(params, report_date - chrono::Duration::days(1));
    let df = planned(ctx, &inc.sql, &params)
        .await
        .map_err(|message| pipeline::sql_error(&inc.file, &inc.sql, &with_valid_tables(&message, ctx)))?;
    let describe = |fields: Vec<(String, arrow::datatypes::DataType)>| {
        fields.into_iter().map(|(n, t)| format!("{n} {t}")).collect::<Vec<_>>().join(", ")
    };
    let columns = |schema: &arrow::datatypes::Schema| {
        schema
            .fields()
            .iter()
            .filter(|f| f.name() != PARTITION)
            // Text is written as `Utf8` whichever way the engine typed it (see `materialise`).
            .map(|f| match f.data_type() {
                arrow::datatypes::DataType::Utf8View => (f.name().clone(), arrow::datatypes::DataType::Utf8),
                t => (f.name().clone(), t.clone()),
            })
            .collect::<Vec<_>>()
    };
    let (want, got) = (columns(full), columns(df.schema().as_arrow()));
    if want != got {
        return Err(ConfigError::whole_file(
            &inc.file,
            format!(
                "the incremental SQL must give the full SQL's columns, in order: expected ({}), found ({})",
                describe(want),
                describe(got)
            ),
        ));
    }
    Ok(())
}

/// A run's parameters and `$previous_date`, the date of the mart an incremental step builds on.
fn with_previous_date(params: &HashMap<String, ScalarValue>, previous: NaiveDate) -> HashMap<String, ScalarValue> {
    let mut params = params.clone();
    params.insert("previous_date".into(), pipeline::date_scalar(previous));
    params
}

/// Adds the valid table names to a "table not found" message.
fn with_valid_tables(message: &str, ctx: &SessionContext) -> String {
    if !message.contains("not found") {
        return message.to_string();
    }
    let mut names: Vec<String> =
        ctx.catalog("datafusion").and_then(|c| c.schema("public")).map(|s| s.table_names()).unwrap_or_default();
    names.sort();
    format!("{message}; the tables are: {}", names.join(", "))
}

/// Registers a pipeline's view steps for `report_date` in a warehouse session, so that
/// analysts can query `stg_*` steps as a run sees them (`wangge query --pipeline`).
pub async fn register_views(ctx: &SessionContext, pipeline: &Pipeline, report_date: NaiveDate) -> Result<(), SqlError> {
    let params = params(pipeline, report_date);
    for step in pipeline.steps.iter().filter(|s| s.materialize == Materialize::View) {
        let df = dataframe(ctx, &step.sql, &params).await.map_err(|message| SqlError::Engine {
            context: format!("step `{}`", step.name),
            error: datafusion::error::DataFusionError::Plan(message),
        })?;
        let _ = ctx.deregister_table(step.name.as_str());
        ctx.register_table(step.name.as_str(), df.into_view())
            .map_err(SqlError::engine(&format!("step `{}`", step.name)))?;
    }
    Ok(())
}

/// The outcome of one check.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub step: String,
    pub check: String,
    pub failing_rows: usize,
    /// Up to 20 failing rows.
    pub sample: Vec<RecordBatch>,
}

/// What a pipeline run did.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    /// (step, rows) of each materialised step, and where it was written.
    pub materialised: Vec<(String, usize, PathBuf)>,
    /// How long each step took with its checks (a view's own cost shows in the steps that
    /// read it): to find the step a growing history slows down.
    pub durations: Vec<(String, std::time::Duration)>,
    /// Incremental steps built on their mart of an earlier date: (step, that date).
    pub incremental: Vec<(String, NaiveDate)>,
    pub checks: Vec<CheckOutcome>,
}

impl RunOutcome {
    pub fn failed_checks(&self) -> impl Iterator<Item = &CheckOutcome> {
        self.checks.iter().filter(|c| c.failing_rows > 0)
    }
}

/// Runs every step for `report_date` in a session over the warehouse (see
/// [`super::warehouse_session`]).
pub async fn run(
    ctx: &SessionContext,
    pipeline: &Pipeline,
    warehouse_root: &Path,
    report_date: NaiveDate,
) -> Result<RunOutcome, SqlError> {
    let params = params(pipeline, report_date);
    let mut outcome = RunOutcome::default();
    let ledger = std::cell::OnceCell::new();
    for step in &pipeline.steps {
        let clock = crate::clock::stopwatch();
        tracing::info!(step = %step.name, "step");
        // The parts a split step ran in, if it did not run whole.
        let mut parts = Vec::new();
        let plan = step.incremental.is_some().then(|| {
            let ledger = ledger.get_or_init(|| super::incremental::Ledger::read(warehouse_root));
            super::incremental::plan(warehouse_root, ledger, pipeline, step, report_date)
        });
        let df = match (&step.incremental, plan.as_ref().and_then(|p| p.previous)) {
            (Some(inc), Some(previous)) => {
                tracing::info!(step = %step.name, %previous, "built on its mart of an earlier date");
                outcome.incremental.push((step.name.clone(), previous));
                dataframe(ctx, &inc.sql, &with_previous_date(&params, previous)).await
            }
            _ => dataframe(ctx, &step.sql, &params).await,
        }
        .map_err(|message| SqlError::Engine {
            context: format!("step `{}`", step.name),
            error: datafusion::error::DataFusionError::Plan(message),
        })?;
        match step.materialize {
            Materialize::View => {
                let _ = ctx.deregister_table(step.name.as_str());
                ctx.register_table(step.name.as_str(), df.into_view())
                    .map_err(SqlError::engine(&format!("step `{}`", step.name)))?;
            }
            Materialize::Parquet => {
                let path = super::mart_file(warehouse_root, &step.name, report_date);
                if plan.is_some() {
                    super::incremental::forget(warehouse_root, &step.name, report_date)?;
                }
                let rows = match &step.split {
                    Some(split) => {
                        let (rows, ran_in) =
                            super::split::materialise_split(ctx, df, &path, &step.name, warehouse_root, split).await?;
                        parts = ran_in;
                        rows
                    }
                    None => super::sorting::materialise_whole(ctx, df, &path, &step.name, warehouse_root).await?,
                };
                if let Some(plan) = &plan {
                    super::incremental::remember(warehouse_root, &step.name, report_date, plan, &path)?;
                }
                pipeline::register_mart(ctx, &warehouse_root.join(MARTS).join(&step.name), &step.name).await?;
                outcome.materialised.push((step.name.clone(), rows, path));
            }
        }
        for check in &step.checks {
            tracing::info!(step = %step.name, check = %check.name, "check");
            let batches = super::checks::run(ctx, check, &params, &parts).await?;
            let failing_rows = batches.iter().map(|b| b.num_rows()).sum();
            let sample = limit(&batches, 20);
            outcome.checks.push(CheckOutcome {
                step: step.name.clone(),
                check: check.name.clone(),
                failing_rows,
                sample,
            });
        }
        outcome.durations.push((step.name.clone(), clock.elapsed()));
    }
    Ok(outcome)
}

/// Writes a step's result for one report date: sorted by every column so that the same inputs
/// give the same bytes, without the `report_date` column (it is the partition).
pub(super) async fn materialise(df: DataFrame, path: &Path, name: &str) -> Result<usize, SqlError> {
    Ok(write_mart(df, path, name, Written::Mart).await?.0)
}

/// What `write_mart` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Written {
    /// A step's mart, sorted (see `materialise`), on disk when written.
    Mart,
    /// A part of a split step (`super::split`), sorted as a mart is, read back in the same
    /// run and removed.
    Part,
}

/// Writes a step's rows as `written` says: their count, and the county keys of the first and
/// last row written (`parquet_io::MartWriter::span`).
pub(super) async fn write_mart(
    df: DataFrame,
    path: &Path,
    name: &str,
    written: Written,
) -> Result<(usize, Option<parquet_io::Span>), SqlError> {
    let (df, schema) = sorted(df, name)?;
    let mut file = match written {
        Written::Mart => parquet_io::MartWriter::new(path, schema.clone()),
        Written::Part => parquet_io::MartWriter::scratch(path, schema.clone()),
    };
    write_into(df, &schema, &mut file, name).await?;
    let span = file.span();
    Ok((file.finish()?, span))
}

/// A step's rows sorted as a mart's are (without the partition column), and the schema they
/// are written with.
pub(super) fn sorted(df: DataFrame, name: &str) -> Result<(DataFrame, arrow::datatypes::SchemaRef), SqlError> {
    let context = format!("step `{name}`");
    let (df, schema) = as_written(df, name)?;
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    // County by county first, so that the mart's row groups hold a county at a time
    // (`parquet_io::MartWriter`), then by every column.
    let county = super::scope::county_key(&schema).map(|key| key.sort(true, true));
    let df = df
        .sort(county.into_iter().chain(columns.iter().map(|c| col(format!("\"{c}\"")).sort(true, true))).collect())
        .map_err(SqlError::engine(&context))?;
    Ok((df, schema))
}

/// A step's rows as a mart holds them, in the order they come: without the partition column,
/// and the schema they are written with.
pub(super) fn as_written(df: DataFrame, name: &str) -> Result<(DataFrame, arrow::datatypes::SchemaRef), SqlError> {
    let columns: Vec<String> =
        df.schema().fields().iter().map(|f| f.name().clone()).filter(|n| n != PARTITION).collect();
    let df = df
        .select(columns.iter().map(|c| col(format!("\"{c}\""))).collect::<Vec<_>>())
        .map_err(SqlError::engine(&format!("step `{name}`")))?;
    // Text as `Utf8` whichever engine made it: DataFusion's local session casts to VARCHAR as
    // `Utf8View`, a Ballista session as `Utf8`, and the same rows must give the same bytes.
    let fields: Vec<arrow::datatypes::Field> = df
        .schema()
        .as_arrow()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            arrow::datatypes::DataType::Utf8View => f.as_ref().clone().with_data_type(arrow::datatypes::DataType::Utf8),
            _ => f.as_ref().clone(),
        })
        .collect();
    Ok((df, std::sync::Arc::new(arrow::datatypes::Schema::new(fields))))
}

/// Writes the rows of `df` (`sorted`) to `file` as they come, not held whole first
/// (`parquet_io::MartWriter` says why).
pub(super) async fn write_into(
    df: DataFrame,
    schema: &arrow::datatypes::SchemaRef,
    file: &mut parquet_io::MartWriter,
    name: &str,
) -> Result<(), SqlError> {
    let context = format!("step `{name}`");
    let arrow_error = |e| SqlError::Engine {
        context: context.clone(),
        error: datafusion::error::DataFusionError::ArrowError(Box::new(e), None),
    };
    // The physical plan at trace level (`WANGGE_LOG=wangge::sql::run=trace`): what a step's
    // memory and time go to.
    let task = std::sync::Arc::new(df.task_ctx());
    let plan = df.create_physical_plan().await.map_err(SqlError::engine(&context))?;
    tracing::trace!(step = name, "plan:\n{}", datafusion::physical_plan::displayable(plan.as_ref()).indent(true));
    let mut stream =
        datafusion::physical_plan::execute_stream(plan.clone(), task).map_err(SqlError::engine(&context))?;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(SqlError::engine(&context))?;
        let columns = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(c, f)| arrow::compute::cast(c, f.data_type()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(arrow_error)?;
        file.write(RecordBatch::try_new(schema.clone(), columns).map_err(arrow_error)?)?;
    }
    let (files, bytes) = spilled(plan.as_ref());
    if files > 0 {
        tracing::debug!(step = name, files, bytes, "spilled");
    }
    Ok(())
}

/// The spill files a run of `plan` wrote, and their bytes, in all its operators.
fn spilled(plan: &dyn datafusion::physical_plan::ExecutionPlan) -> (usize, usize) {
    let own = plan.metrics().map_or((0, 0), |m| (m.spill_count().unwrap_or(0), m.spilled_bytes().unwrap_or(0)));
    plan.children().into_iter().map(|c| spilled(c.as_ref())).fold(own, |a, b| (a.0 + b.0, a.1 + b.1))
}

/// The first `n` rows of some batches.
pub fn limit(batches: &[RecordBatch], n: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut left = n;
    for b in batches {
        if left == 0 {
            break;
        }
        let take = b.num_rows().min(left);
        out.push(b.slice(0, take));
        left -= take;
    }
    out
}

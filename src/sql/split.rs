//! Running a step split by county (`split = "county"`; `super::scope` says why and how its scans
//! are narrowed).
//!
//! The step's SQL runs once per county found in the tables it reads, and once over the rows of
//! no county if there are any; each run's rows go to a file of their own, unsorted, and the
//! mart is those files' rows sorted by every column, as every mart is. So its bytes are those
//! of the step run whole: the integration tests hold the two equal, on one district and on a
//! city.

use std::collections::BTreeSet;
use std::path::Path;

use arrow::array::{Array, StringArray};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext};

use super::SqlError;
use super::run::{materialise, write_mart};
use super::scope::{Part, Scope, ScopedTable, is_county};

/// More counties than this, and the step runs whole: a code column of garbage must not turn
/// one step into a million runs (a province has a few hundred counties).
const MOST_PARTS: usize = 1024;

/// The folder inside the warehouse where a split step's parts are written while it runs.
pub const PARTS: &str = "_parts";

/// Writes `df`, the SQL of step `name`, to its mart at `path`: one county at a time when the
/// session can narrow its scans and the tables hold more than one part, whole otherwise.
pub async fn materialise_split(
    ctx: &SessionContext,
    df: DataFrame,
    path: &Path,
    name: &str,
    warehouse_root: &Path,
) -> Result<usize, SqlError> {
    let Some(scope) = Scope::of(ctx) else { return materialise(df, path, name).await };
    let parts = parts(ctx, &df, name).await?;
    // One county (and perhaps rows of none): as little to gain as a whole run holds.
    if parts.iter().filter(|p| matches!(p, Part::County(_))).count() <= 1 {
        return materialise(df, path, name).await;
    }
    let folder = warehouse_root.join(PARTS).join(name);
    let io = |source| SqlError::Io { path: folder.clone(), source };
    match std::fs::remove_dir_all(&folder) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    std::fs::create_dir_all(&folder).map_err(io)?;
    let written = run_parts(ctx, &scope, df, &parts, &folder, path, name).await;
    // Removed whether or not the step ran: nothing of a part outlives its step.
    let removed = std::fs::remove_dir_all(&folder).map_err(io);
    let _ = std::fs::remove_dir(warehouse_root.join(PARTS)); // if no other step's parts are there
    let rows = written?;
    removed?;
    Ok(rows)
}

/// Runs each part into `folder`, then writes their rows, sorted, to the mart at `path`.
async fn run_parts(
    ctx: &SessionContext,
    scope: &std::sync::Arc<Scope>,
    df: DataFrame,
    parts: &[Part],
    folder: &Path,
    path: &Path,
    name: &str,
) -> Result<usize, SqlError> {
    for (i, part) in parts.iter().enumerate() {
        tracing::debug!(step = name, %part, "part");
        let _narrowed = scope.enter(part.clone());
        write_mart(df.clone(), &folder.join(format!("part-{i:04}.parquet")), name, false).await?;
    }
    let context = format!("step `{name}`: its parts in `{}`", folder.display());
    let absolute = std::path::absolute(folder).map_err(|source| SqlError::Io { path: folder.to_path_buf(), source })?;
    // (read with the session's Parquet options, as every table is)
    let all = ctx
        .read_parquet(format!("{}/", absolute.display()), ParquetReadOptions::default())
        .await
        .map_err(SqlError::engine(&context))?;
    materialise(all, path, name).await
}

/// The parts a step runs in: each county of the tables it reads, then the rows of none.
async fn parts(ctx: &SessionContext, df: &DataFrame, name: &str) -> Result<Vec<Part>, SqlError> {
    let context = format!("step `{name}`: finding its counties");
    let plan = df.clone().into_optimized_plan().map_err(SqlError::engine(&context))?;
    let mut counties = BTreeSet::new();
    let mut rest = false;
    for table in scanned_tables(&plan) {
        let provider = ctx.table_provider(table.as_str()).await.map_err(SqlError::engine(&context))?;
        let Some(scoped) = provider.downcast_ref::<ScopedTable>() else { return Ok(Vec::new()) };
        let Some(key) = scoped.key() else {
            let error = datafusion::error::DataFusionError::Plan(no_code_column(&[table]));
            return Err(SqlError::Engine { context, error });
        };
        let keys = match scoped.known_keys() {
            Some(keys) => keys,
            None => scoped.remember_keys(county_keys(ctx, scoped, key, &context).await?),
        };
        for key in keys.iter() {
            match key {
                Some(key) if is_county(key) => {
                    counties.insert(key.clone());
                }
                _ => rest = true,
            }
        }
        if counties.len() > MOST_PARTS {
            tracing::warn!(step = name, counties = counties.len(), "too many counties to split by: run whole");
            return Ok(Vec::new());
        }
    }
    let mut parts: Vec<Part> = counties.iter().cloned().map(Part::County).collect();
    if rest {
        parts.push(Part::Rest(counties.into_iter().collect()));
    }
    Ok(parts)
}

/// Why a step cannot be split: `tables` it reads have no column that tells a row's county.
fn no_code_column(tables: &[String]) -> String {
    let tables: Vec<String> = tables.iter().map(|t| format!("`{t}`")).collect();
    format!(
        "split by county, but it reads {}, with no code column ({}): a step split by county sees only each \
         county's rows, told by those columns",
        tables.join(", "),
        super::scope::CODE_COLUMNS.join(", ")
    )
}

/// For `wangge validate`: a step split by county must read, through its views and subqueries,
/// only tables with a code column (`plan` is the step's, over tables of the declared schemas).
pub async fn unsplittable(ctx: &SessionContext, plan: &LogicalPlan) -> Option<String> {
    let mut without = Vec::new();
    for table in scanned_tables(plan) {
        let provider = ctx.table_provider(table.as_str()).await.ok()?;
        if super::scope::county_key(&provider.schema()).is_none() {
            without.push(table);
        }
    }
    (!without.is_empty()).then(|| no_code_column(&without))
}

/// The distinct county keys of a table's rows (`None` for rows with no code).
async fn county_keys(
    ctx: &SessionContext,
    table: &ScopedTable,
    key: &datafusion::logical_expr::Expr,
    context: &str,
) -> Result<Vec<Option<String>>, SqlError> {
    let batches = ctx
        .read_table(table.inner())
        .and_then(|t| t.select(vec![key.clone().alias("county")]))
        .and_then(|t| t.distinct())
        .map_err(SqlError::engine(context))?
        .collect()
        .await
        .map_err(SqlError::engine(context))?;
    let mut keys = Vec::new();
    for batch in batches {
        let column = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)
            .map_err(|e| SqlError::engine(context)(e.into()))?;
        let column = column.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        keys.extend((0..column.len()).map(|i| column.is_valid(i).then(|| column.value(i).to_string())));
    }
    Ok(keys)
}

/// The tables a plan scans, its subqueries' too (views are inlined by then).
pub fn scanned_tables(plan: &LogicalPlan) -> BTreeSet<String> {
    let mut tables = BTreeSet::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            tables.insert(scan.table_name.table().to_string());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    tables
}

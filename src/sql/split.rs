//! Running a split step (`super::scope` says why and how its scans are narrowed).
//!
//! `split = "county"`: the step's SQL runs once per county found in the tables it reads, and
//! once over the rows of no county if there are any. `split = { key = "person_key" }`: it runs
//! once per bucket of that key, as many buckets as the rows of its tables need for each to hold
//! a fraction of the memory budget (`buckets`): a returnee's registrations in every county
//! fall in one bucket, so a step keyed by person gives the same rows, and its memory is a
//! bucket's whatever the city's size. Each run's rows go to a file of their own, and the mart
//! is those files' rows sorted as every mart is (`run_parts`). So its bytes are those of the
//! step run whole: the integration tests hold the two equal, on one district and
//! on a city.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use arrow::array::{Array, StringArray};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionContext};

use super::SqlError;
use super::pipeline::Split;
use super::run::{Written, materialise, write_mart};
use super::scope::{MOST_BUCKETS, Part, Scope, ScopedTable, is_county};
use super::sorting::{in_scratch, sorted_from};
use crate::warehouse::parquet_io::{self, Span};

/// More counties than this, and the step runs whole: a code column of garbage must not turn
/// one step into a million runs (a province has a few hundred counties).
pub(super) const MOST_PARTS: usize = 1024;

/// The memory a row of a step's tables is taken to need when held (a hash table's entry, its
/// text, the batch it came in): generous, so that a bucket fits with room to spare.
const ROW_BYTES: usize = 512;

/// Writes `df`, the SQL of step `name`, to its mart at `path`, in the parts `split` says when
/// the session can narrow its scans and the tables hold more than one part, whole otherwise.
/// Gives the rows written and the parts it ran in (none if it ran whole), which hold every
/// row between them: its checks may run in them too (`super::run`).
pub async fn materialise_split(
    ctx: &SessionContext,
    df: DataFrame,
    path: &Path,
    name: &str,
    warehouse_root: &Path,
    split: &Split,
) -> Result<(usize, Vec<Part>), SqlError> {
    let whole = |rows| (rows, Vec::new());
    let Some(scope) = Scope::of(ctx) else { return materialise(df, path, name).await.map(whole) };
    let parts = match split {
        Split::County if scope.by_county => parts(ctx, &df, name).await?,
        Split::County => Vec::new(),
        Split::Key(key) => buckets(ctx, &df, name, key).await?,
    };
    // One county (and perhaps rows of none), or one bucket: as little to gain as a whole run
    // holds.
    if parts.iter().filter(|p| !matches!(p, Part::Rest(_))).count() <= 1 {
        return materialise(df, path, name).await.map(whole);
    }
    let rows =
        in_scratch(warehouse_root, name, async |folder| run_parts(ctx, &scope, df, &parts, folder, path, name).await)
            .await?;
    Ok((rows, for_checks(ctx, rows, parts)))
}

/// The parts a split step's checks run in, given the `rows` it wrote: none (whole) if the
/// budget holds them (`fits_whole`); else its counties and the rows of none; or as few buckets
/// of its key as the budget holds each of (`held`): a check groups its rows once, where a
/// step's SQL may hold them many times over (its buckets hold a sixteenth of the budget), and
/// each bucket reads all of the mart. Checked in its 19 buckets, the 14-district city's
/// `unique(person_key)` took 0.24 s, against 0.01 s whole.
fn for_checks(ctx: &SessionContext, rows: usize, parts: Vec<Part>) -> Vec<Part> {
    let Some((bytes, budget)) = held(ctx, rows).filter(|(bytes, budget)| bytes > budget) else { return Vec::new() };
    match parts.first() {
        Some(Part::Bucket { key, .. }) => {
            let count = bytes.div_ceil(budget.max(1)).clamp(1, MOST_BUCKETS);
            (0..count).map(|index| Part::Bucket { key: key.clone(), index, count }).collect()
        }
        _ => covering(parts),
    }
}

/// Whether `rows` of a step fit its session's memory budget held at once: then its parts are
/// sorted together and its checks run whole. A part at a time reads every part once a part
/// (its county's groups, or all of a bucket's), and under 96 MiB, where the 14-district city's
/// key steps fit twice over, that made them twice as slow.
pub(super) fn fits_whole(ctx: &SessionContext, rows: usize) -> bool {
    held(ctx, rows).is_none_or(|(bytes, budget)| bytes <= budget)
}

/// What `rows` of a step take held by a sort or a grouping, at [`ROW_BYTES`] a row
/// [`HELD_COPIES`] times, and the session's budget, if it has one.
fn held(ctx: &SessionContext, rows: usize) -> Option<(usize, usize)> {
    Some((rows.saturating_mul(ROW_BYTES).saturating_mul(HELD_COPIES), budget(ctx)?))
}

/// The session's memory budget, if it has one.
pub(super) fn budget(ctx: &SessionContext) -> Option<usize> {
    use datafusion::execution::memory_pool::MemoryLimit;
    match ctx.runtime_env().memory_pool.memory_limit() {
        MemoryLimit::Finite(budget) => Some(budget),
        _ => None,
    }
}

/// How many times over a sort or a grouping of a step's rows holds them: the batches it
/// gathers, their sorted copy, and those it reads and writes beside. At one copy, the
/// 14-district city's `stg_work_orders` (10,786 rows) was sorted at once under 8 MiB, spilled,
/// and its merge held the heap's peak of the pipeline (10.5 MiB; 8.6 with it sorted a county at
/// a time).
const HELD_COPIES: usize = 4;

/// `parts` with the rows of no county among them if they are of counties: a county's run may
/// give rows of no county (a figure with no code) though every row it read had one.
fn covering(mut parts: Vec<Part>) -> Vec<Part> {
    let counties: Vec<String> =
        parts.iter().filter_map(|p| if let Part::County(code) = p { Some(code.clone()) } else { None }).collect();
    if !counties.is_empty() && !parts.iter().any(|p| matches!(p, Part::Rest(_))) {
        parts.push(Part::Rest(counties));
    }
    parts
}

/// Runs each part into `folder`, then writes their rows, sorted, to the mart at `path`.
///
/// A mart is sorted by its rows' counties first (`super::run`), and so is each part, with a
/// row group per county. A county's run gives rows of that county (or of none: a figure with
/// no code), so when the parts' counties do not overlap, the mart is those parts one after the
/// other. Sorting the city's rows again at the end merged a run of every few thousand of them:
/// the 14-district city's `headline` (94,284 rows) held the heap's peak of the whole pipeline
/// under 8 MiB there. The buckets of a key hold rows of any county: they are sorted together
/// when the budget holds their rows (`fits_whole`), and read back a county at a time when it
/// does not (`county_after_county`).
async fn run_parts(
    ctx: &SessionContext,
    scope: &std::sync::Arc<Scope>,
    df: DataFrame,
    parts: &[Part],
    folder: &Path,
    path: &Path,
    name: &str,
) -> Result<usize, SqlError> {
    let mut written = Vec::new();
    let mut rows = 0;
    for (i, part) in parts.iter().enumerate() {
        tracing::debug!(step = name, %part, "part");
        let _narrowed = scope.enter(part.clone());
        let file = folder.join(format!("part-{i:04}.parquet"));
        let (part_rows, span) = write_mart(df.clone(), &file, name, Written::Part).await?;
        rows += part_rows;
        written.push((file, part_rows, span));
    }
    if let Some(files) = one_after_another(written) {
        tracing::debug!(step = name, parts = files.len(), "parts written one after another");
        return concatenated(&files, path);
    }
    sorted_from(ctx, scope, folder, path, name, rows).await
}

/// The sorted parts with rows, in the order of their counties, if each part's counties all
/// come before the next's (a row with no county first, as the sort puts it); `None` if some
/// overlap, or a part has rows and no code column.
fn one_after_another(written: Vec<(PathBuf, usize, Option<Span>)>) -> Option<Vec<PathBuf>> {
    let mut spans = Vec::new();
    for (file, rows, span) in written {
        if rows > 0 {
            spans.push((span?, file));
        }
    }
    if spans.is_empty() {
        return None; // an empty mart: written by the sort, with the step's schema
    }
    spans.sort();
    // `Option`'s order puts `None` first, and text compares by its bytes, as the engine's sort.
    let apart = spans.windows(2).all(|w| w[0].0.1 < w[1].0.0);
    apart.then(|| spans.into_iter().map(|(_, file)| file).collect())
}

/// Writes the rows of `files` in turn to the mart at `path`.
fn concatenated(files: &[PathBuf], path: &Path) -> Result<usize, SqlError> {
    let mut mart = None;
    for file in files {
        for batch in parquet_io::reader(file, parquet_io::MART_CHUNK)? {
            let batch = batch.map_err(|e| crate::warehouse::WarehouseError::Arrow { path: file.clone(), source: e })?;
            mart.get_or_insert_with(|| parquet_io::MartWriter::new(path, batch.schema())).write(batch)?;
        }
    }
    Ok(mart.expect("one part has rows at least").finish()?)
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
            let error = datafusion::error::DataFusionError::Plan(no_split_column(&Split::County, &[table]));
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

/// The buckets of `key` a step runs in: enough for each to hold a sixteenth of the memory
/// budget's worth of the rows it reads (at most [`MOST_BUCKETS`]; none under no budget): of
/// each table, the most one of its scans reads, counted with that scan's filters. Counted whole,
/// a year's 75,746 orders gave `stg_work_orders`, which reads 14 days of them, 64 buckets under
/// 8 MiB; summed over scans, a step joining a table to itself ran in four times the buckets it
/// needs (each reading its tables again).
async fn buckets(ctx: &SessionContext, df: &DataFrame, name: &str, key: &str) -> Result<Vec<Part>, SqlError> {
    let Some(budget) = budget(ctx) else { return Ok(Vec::new()) };
    let context = format!("step `{name}`: counting its rows");
    let plan = df.clone().into_optimized_plan().map_err(SqlError::engine(&context))?;
    let mut most: std::collections::BTreeMap<String, usize> = Default::default();
    for (table, filters) in scans(&plan) {
        let provider = ctx.table_provider(table.as_str()).await.map_err(SqlError::engine(&context))?;
        let Some(scoped) = provider.downcast_ref::<ScopedTable>() else { return Ok(Vec::new()) };
        if provider.schema().index_of(key).is_err() {
            let error = datafusion::error::DataFusionError::Plan(no_split_column(&Split::Key(key.into()), &[table]));
            return Err(SqlError::Engine { context, error });
        }
        // (named as the scan names it: its filters' columns are qualified so)
        let mut read =
            ctx.read_table(scoped.inner()).and_then(|t| t.alias(&table)).map_err(SqlError::engine(&context))?;
        if let Some(filter) = datafusion::logical_expr::utils::conjunction(filters) {
            read = read.filter(filter).map_err(SqlError::engine(&context))?;
        }
        let read = read.count().await.map_err(SqlError::engine(&context))?;
        let held = most.entry(table).or_default();
        *held = (*held).max(read);
    }
    let rows: usize = most.values().sum();
    let per_bucket = (budget / 16 / ROW_BYTES).max(1);
    let count = rows.div_ceil(per_bucket).clamp(1, MOST_BUCKETS);
    tracing::debug!(step = name, rows, buckets = count, "buckets");
    Ok((0..count).map(|index| Part::Bucket { key: key.to_string(), index, count }).collect())
}

/// Why a step cannot be split: `tables` it reads have no column that tells a row's part.
fn no_split_column(split: &Split, tables: &[String]) -> String {
    let tables: Vec<String> = tables.iter().map(|t| format!("`{t}`")).collect();
    match split {
        Split::County => format!(
            "split by county, but it reads {}, with no code column ({}): a step split by county sees only each \
             county's rows, told by those columns",
            tables.join(", "),
            super::scope::CODE_COLUMNS.join(", ")
        ),
        Split::Key(key) => format!(
            "split by key `{key}`, but it reads {}, with no column `{key}`: a step split by a key sees only some \
             of its values in each run, so every table it reads must have it",
            tables.join(", ")
        ),
    }
}

/// For `wangge validate`: a split step must read, through its views and subqueries, only
/// tables with the columns it is split by (`plan` is the step's, over tables of the declared
/// schemas).
pub async fn unsplittable(ctx: &SessionContext, plan: &LogicalPlan, split: &Split) -> Option<String> {
    let mut without = Vec::new();
    for table in scanned_tables(plan) {
        let provider = ctx.table_provider(table.as_str()).await.ok()?;
        let schema = provider.schema();
        let has = match split {
            Split::County => super::scope::county_key(&schema).is_some(),
            Split::Key(key) => schema.index_of(key).is_ok(),
        };
        if !has {
            without.push(table);
        }
    }
    (!without.is_empty()).then(|| no_split_column(split, &without))
}

/// The distinct county keys of a table's rows (`None` for rows with no code).
pub(super) async fn county_keys(
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
    scans(plan).into_iter().map(|(table, _)| table).collect()
}

/// Each scan of a plan and its subqueries: the table and the filters it reads with.
fn scans(plan: &LogicalPlan) -> Vec<(String, Vec<datafusion::logical_expr::Expr>)> {
    let mut scans = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            scans.push((scan.table_name.table().to_string(), scan.filters.clone()));
        }
        Ok(TreeNodeRecursion::Continue)
    });
    scans
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::SessionConfig;

    /// A step's checks run whole when the budget holds its rows, and in as few buckets of its
    /// key as hold a budget's rows each when it does not.
    #[test]
    fn checks_run_whole_when_the_budget_holds_the_rows_and_else_in_few_buckets() {
        let runtime = RuntimeEnvBuilder::new().with_memory_limit(8 << 20, 1.0).build_arc().unwrap();
        let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime);
        let key = |index, count| Part::Bucket { key: "person_key".into(), index, count };
        let buckets: Vec<Part> = (0..19).map(|i| key(i, 19)).collect();
        let fit = (8 << 20) / ROW_BYTES / HELD_COPIES;
        assert_eq!(for_checks(&ctx, fit, buckets.clone()), Vec::new());
        assert_eq!(for_checks(&ctx, fit + 1, buckets.clone()), vec![key(0, 2), key(1, 2)]);
        assert_eq!(for_checks(&ctx, 5 * fit, buckets), (0..5).map(|i| key(i, 5)).collect::<Vec<_>>());
        let counties = vec![Part::County("130202".into()), Part::County("130203".into())];
        let covered = [&counties[..], &[Part::Rest(vec!["130202".into(), "130203".into()])]].concat();
        assert_eq!(for_checks(&ctx, fit + 1, counties), covered);
    }
}

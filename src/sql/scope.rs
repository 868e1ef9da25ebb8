//! Steps run one county at a time (`split = "county"` in `pipeline.toml`).
//!
//! A city's daily pipeline holds, in each step, the rows of every district at once: a join of
//! the special-population register holds the city's register, a grouping every grid of it. The
//! engine's budget spills sorts and groups, but a hash join's build side cannot spill, so the
//! process grew with the number of districts (30, 50 and 85 MiB of data for 1, 4 and 14 under
//! the same 32 MiB budget). A step whose rows never mix counties (each grid, community and town
//! lies in one county: GB/T 10114 codes begin with the county's six digits) gives the same rows
//! whether it reads the whole city at once or one county after another, so such a step is run
//! once per county, each time seeing only that county's rows of every table it reads, and once
//! more over the rows no county claims (no code, or a code that is not six digits). Its memory
//! is then that of the largest county, not of the city.
//!
//! How a table is narrowed: every warehouse table and mart of a local session is registered
//! as a [`ScopedTable`], which reads the session's [`Scope`] when a scan is planned. With no
//! part set it is its table unchanged; with one, its scan keeps the rows whose county key (the
//! first six characters of the first of `grid_code`, `sub_grid_code`, `community_code`,
//! `town_code` and `county_code` the row has: `crate::county`) is that part's, and skips the
//! row groups of other counties by their codes' statistics (`in_range`). Views read the tables under
//! them, so they are narrowed too. A Ballista session has no scope (a plan sent to executors
//! cannot carry this provider): there a split step runs whole, and gives the same rows.
//!
//! A step keyed by a person or an order mixes counties but never keys: it is split into
//! buckets of its key instead ([`Part::Bucket`], `super::split` says how many), each run
//! seeing the rows whose key falls in its bucket, in every table it reads.

use std::sync::{Arc, RwLock};

use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, Result, plan_err};
use datafusion::functions::expr_fn::md5;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::limit::GlobalLimitExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::prelude::{SessionContext, cast, col, left, lit, when};

pub use crate::county::{CODE_COLUMNS, is_county};

/// One run of a split step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// The rows of one county (its six digits).
    County(String),
    /// The rows of none of these counties: no code, or one that is not a county's.
    Rest(Vec<String>),
    /// The rows whose `key` falls in bucket `index` of `count`, by the first two hex digits of
    /// its MD5 (stable across runs, machines and engines; a null key falls in the first).
    Bucket { key: String, index: usize, count: usize },
}

/// The most buckets a step is split into: each reads its tables again (`super::split`).
pub const MOST_BUCKETS: usize = 64;

impl Part {
    /// The filter that keeps this part's rows of a table of `schema` (whose county key is
    /// `county`), and the columns it reads; `None` if the table has none of them.
    fn predicate(&self, schema: &SchemaRef, county: Option<&Expr>) -> Option<(Expr, Vec<String>)> {
        let codes = || CODE_COLUMNS.iter().filter(|c| schema.index_of(c).is_ok()).map(|c| c.to_string()).collect();
        match self {
            Part::County(code) => Some((county?.clone().eq(lit(code.clone())), codes())),
            Part::Rest(counties) => {
                let key = county?.clone();
                let listed = counties.iter().map(|c| lit(c.clone())).collect();
                Some((key.clone().is_null().or(key.in_list(listed, true)), codes()))
            }
            Part::Bucket { key, index, count } => {
                schema.index_of(key).ok()?;
                let value = col(format!("\"{key}\""));
                // (a CASE, not `coalesce`: see `county_key`)
                let digits = when(value.clone().is_null(), lit("00"))
                    .otherwise(left(md5(cast(value, DataType::Utf8)), lit(2i64)))
                    .ok()?;
                // Buckets are ranges of the 256 two-digit prefixes (lower-case hex sorts as
                // the numbers do), so every row falls in exactly one.
                let (count, index) = ((*count).clamp(1, MOST_BUCKETS), *index);
                let bound = |i: usize| lit(format!("{:02x}", i * 256 / count));
                let mut predicate = digits.clone().gt_eq(bound(index));
                if index + 1 < count {
                    predicate = predicate.and(digits.lt(bound(index + 1)));
                }
                Some((predicate, vec![key.clone()]))
            }
        }
    }
}

impl Part {
    /// Whether rows of a table of `schema` that are equal on `columns` always fall in this
    /// same part, so that a check of groups of such rows (`unique`) finds the same groups run
    /// a part at a time. A county's rows are told by their first code column, so the columns
    /// must hold every code column the table has (two rows with no grid code but different
    /// towns are equal on `grid_code` alone, and lie in two counties); a bucket's by its key.
    pub fn keeps_together(&self, columns: &[String], schema: &SchemaRef) -> bool {
        let has = |name: &str| columns.iter().any(|c| c == name);
        match self {
            Part::County(_) | Part::Rest(_) => {
                let codes = crate::county::code_columns(schema);
                !codes.is_empty() && codes.iter().all(|c| has(c))
            }
            Part::Bucket { key, .. } => has(key) && schema.index_of(key).is_ok(),
        }
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::County(code) => write!(f, "county {code}"),
            Part::Rest(_) => write!(f, "rows of no county"),
            Part::Bucket { key, index, count } => write!(f, "{key} bucket {} of {count}", index + 1),
        }
    }
}

/// The part a local session's scans are narrowed to now, if any. Kept in the session's config
/// (`SessionConfig::get_extension`), so that registering a table and running a step find it.
#[derive(Debug, Default)]
pub struct Scope {
    part: RwLock<Option<Part>>,
    /// Whether steps split by county run one county at a time: only in a workspace of several
    /// counties (`[engine] split_by_county`); finding a step's counties costs a read of its
    /// tables' codes, for nothing in one district.
    pub by_county: bool,
}

impl Scope {
    pub fn new(by_county: bool) -> Scope {
        Scope { part: RwLock::new(None), by_county }
    }

    /// The session's scope; `None` for a session that cannot narrow its scans (Ballista's).
    pub fn of(ctx: &SessionContext) -> Option<Arc<Scope>> {
        ctx.state().config().get_extension::<Scope>()
    }

    fn current(&self) -> Option<Part> {
        self.part.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Narrows the scans planned until the guard is dropped.
    pub fn enter(self: &Arc<Self>, part: Part) -> ScopeGuard {
        *self.part.write().unwrap_or_else(|e| e.into_inner()) = Some(part);
        ScopeGuard(self.clone())
    }
}

/// Widens the scope again when dropped, on every path out of a part's run.
pub struct ScopeGuard(Arc<Scope>);

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        *self.0.part.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// A table's county key: the first six characters of the first code column a row has; `None`
/// for a table with no code column (which a split step cannot read).
pub fn county_key(schema: &SchemaRef) -> Option<Expr> {
    let codes = crate::county::code_columns(schema);
    // A CASE, not `coalesce`: the scan plans it as it is, and the engine plans `coalesce` only
    // after its optimiser has rewritten it into this.
    let code = |name: &str| col(format!("\"{name}\""));
    let prefix = |name: &str| left(code(name), lit(crate::county::COUNTY_DIGITS as i64));
    let (first, others) = codes.split_first()?;
    let mut key = when(code(first).is_not_null(), prefix(first));
    for name in others {
        key = key.when(code(name).is_not_null(), prefix(name));
    }
    key.end().ok()
}

/// A filter that the rows of county `code` (six digits) pass, in terms a scan can check
/// against a row group's statistics, as it cannot the county key itself: one of the code
/// columns lies between the county's code and the next. The warehouse's and the marts' row
/// groups hold a county at a time (`crate::county`), so a county's run skips the others'.
fn in_range(schema: &SchemaRef, code: &str) -> Option<Expr> {
    let mut next = code.as_bytes().to_vec();
    *next.last_mut()? += 1; // '9' + 1 is ':', still above every code that begins with `code`
    let next = String::from_utf8(next).ok()?;
    crate::county::code_columns(schema)
        .into_iter()
        .map(|name| {
            let column = col(format!("\"{name}\""));
            column.clone().gt_eq(lit(code.to_string())).and(column.lt(lit(next.clone())))
        })
        .reduce(Expr::or)
}

/// A table whose scans keep only the rows of the session's current part.
#[derive(Debug)]
pub struct ScopedTable {
    inner: Arc<dyn TableProvider>,
    scope: Arc<Scope>,
    key: Option<Expr>,
    /// The county keys its rows have, once a split step has asked (`super::split`): a table is
    /// registered again when its files change, so the answer holds as long as this provider.
    keys: std::sync::OnceLock<Arc<Vec<Option<String>>>>,
}

impl ScopedTable {
    pub fn new(inner: Arc<dyn TableProvider>, scope: Arc<Scope>) -> ScopedTable {
        let key = county_key(&inner.schema());
        ScopedTable { inner, scope, key, keys: Default::default() }
    }

    /// The table as registered, unnarrowed.
    pub fn inner(&self) -> Arc<dyn TableProvider> {
        self.inner.clone()
    }

    /// The table's county key, if it has one.
    pub fn key(&self) -> Option<&Expr> {
        self.key.as_ref()
    }

    /// The county keys of its rows, if already found.
    pub fn known_keys(&self) -> Option<Arc<Vec<Option<String>>>> {
        self.keys.get().cloned()
    }

    /// Remembers the county keys of its rows.
    pub fn remember_keys(&self, keys: Vec<Option<String>>) -> Arc<Vec<Option<String>>> {
        self.keys.get_or_init(|| Arc::new(keys)).clone()
    }
}

#[async_trait]
impl TableProvider for ScopedTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(part) = self.scope.current() else {
            return self.inner.scan(state, projection, filters, limit).await;
        };
        let schema = self.schema();
        let Some((predicate, needed)) = part.predicate(&schema, self.key.as_ref()) else {
            return plan_err!(
                "a split step read a table with no column to split it by ({}): its columns are {}",
                match &part {
                    Part::Bucket { key, .. } => key.clone(),
                    _ => CODE_COLUMNS.join(", "),
                },
                schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
            );
        };
        // The scan reads the columns asked for and those the part is told by; the filter keeps
        // the part's rows; the projection gives back the columns asked for, in their order.
        let mut columns: Vec<usize> = projection.cloned().unwrap_or_else(|| (0..schema.fields().len()).collect());
        let asked = columns.len();
        for name in &needed {
            if let Ok(i) = schema.index_of(name) {
                if !columns.contains(&i) {
                    columns.push(i);
                }
            }
        }
        // A county's rows pass `in_range` too; in the filter it reaches the scan (the engine
        // pushes a filter's predicate into the Parquet scan under it, and a listing table
        // drops the filters handed to `scan`), so that a county's run skips the row groups of
        // the others instead of decoding the whole city to filter it.
        let predicate = match &part {
            Part::County(code) => match in_range(&schema, code) {
                Some(range) => predicate.and(range),
                None => predicate,
            },
            _ => predicate,
        };
        let mut pushed = filters.to_vec();
        pushed.push(predicate.clone());
        let input = self.inner.scan(state, Some(&columns), &pushed, None).await?;
        let input_schema = input.schema();
        let physical = state.create_physical_expr(predicate, &DFSchema::try_from(input_schema.as_ref().clone())?)?;
        let filtered: Arc<dyn ExecutionPlan> = Arc::new(FilterExec::try_new(physical, input)?);
        let back = (0..asked).map(|i| {
            let name = input_schema.field(i).name().clone();
            (Arc::new(Column::new(&name, i)) as Arc<dyn datafusion::physical_plan::PhysicalExpr>, name)
        });
        let plan: Arc<dyn ExecutionPlan> = Arc::new(ProjectionExec::try_new(back, filtered)?);
        Ok(match limit {
            Some(n) => Arc::new(GlobalLimitExec::new(plan, 0, Some(n))),
            None => plan,
        })
    }
}

/// Registers `name` again as a [`ScopedTable`] over what it is now, in a session with a scope.
pub fn narrowable(ctx: &SessionContext, name: &str) -> Result<()> {
    let Some(scope) = Scope::of(ctx) else { return Ok(()) };
    let Some(inner) = ctx.deregister_table(name)? else { return Ok(()) };
    ctx.register_table(name, Arc::new(ScopedTable::new(inner, scope)))?;
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionConfig;

    /// A session with a scope and a table `t` (`town_code`, `grid_code`, `n`) of `rows`, narrowable.
    pub(in crate::sql) fn session_with(rows: &[(Option<&str>, Option<&str>, i64)]) -> (SessionContext, Arc<Scope>) {
        city_session(rows, false, None)
    }

    /// The same, in a city (`Scope::by_county`) or not, under a memory budget of `budget` bytes or none.
    pub(in crate::sql) fn city_session(
        rows: &[(Option<&str>, Option<&str>, i64)],
        by_county: bool,
        budget: Option<usize>,
    ) -> (SessionContext, Arc<Scope>) {
        let scope = Arc::new(Scope::new(by_county));
        let mut runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new();
        if let Some(budget) = budget {
            runtime = runtime.with_memory_limit(budget, 1.0);
        }
        let config = SessionConfig::new().with_extension(scope.clone());
        let ctx = SessionContext::new_with_config_rt(config, runtime.build_arc().unwrap());
        let schema = Arc::new(Schema::new(vec![
            Field::new("town_code", DataType::Utf8, true),
            Field::new("grid_code", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
                Arc::new(Int64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
            ],
        )
        .unwrap();
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())).unwrap();
        narrowable(&ctx, "t").unwrap();
        (ctx, scope)
    }

    async fn sum(ctx: &SessionContext, sql: &str) -> Option<i64> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let column = batches[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap().clone();
        (!column.is_null(0)).then(|| column.value(0))
    }

    #[tokio::test]
    async fn a_part_sees_its_county_by_the_first_code_a_row_has_and_the_rest_sees_every_other_row() {
        let (ctx, scope) = session_with(&[
            (Some("130202001"), Some("13020200100100100"), 1),
            (None, Some("13020300100100100"), 2), // no town: its grid places it
            (Some("130203002"), None, 4),
            (None, None, 8),          // no code: no county's
            (Some("未知"), None, 16), // not a county's code
        ]);
        let query = "SELECT sum(n) FROM (SELECT n FROM t WHERE n > 0) x";
        assert_eq!(sum(&ctx, query).await, Some(31));
        {
            let _in = scope.enter(Part::County("130203".into()));
            assert_eq!(sum(&ctx, query).await, Some(6));
            // A projection without the code columns still narrows.
            assert_eq!(sum(&ctx, "SELECT sum(n) FROM t").await, Some(6));
        }
        {
            let _in = scope.enter(Part::Rest(vec!["130202".into(), "130203".into()]));
            assert_eq!(sum(&ctx, query).await, Some(24));
        }
        // Left, the scope no longer narrows.
        assert_eq!(sum(&ctx, query).await, Some(31));
    }

    #[tokio::test]
    async fn the_buckets_of_a_key_hold_every_row_once_and_each_key_in_one() {
        // Keys of every sort, a null among them; n = 2^i, so each bucket's sum names its rows.
        let keys = ["a", "b", "130203198506123020", "张三", "", "GD-2022-0001", "x", "y", "z", "q"];
        let mut rows: Vec<(Option<&str>, Option<&str>, i64)> =
            keys.iter().enumerate().map(|(i, k)| (Some(*k), None, 1i64 << i)).collect();
        rows.push((None, None, 1 << 10));
        rows.push((Some("a"), None, 1 << 11)); // the same key again
        let (ctx, scope) = session_with(&rows);
        let all = (1i64 << 12) - 1;
        for count in [1, 2, 3, 7, MOST_BUCKETS] {
            let (mut seen, mut used) = (0i64, 0);
            for index in 0..count {
                let _in = scope.enter(Part::Bucket { key: "town_code".into(), index, count });
                let sum = sum(&ctx, "SELECT sum(n) FROM t").await.unwrap_or(0);
                assert_eq!(seen & sum, 0, "a row in two buckets of {count}");
                // A key's rows stay together: "a" twice, bits 0 and 11.
                assert!(sum & 1 == (sum >> 11) & 1, "the key `a` split across buckets of {count}");
                seen |= sum;
                used += (sum != 0) as usize;
            }
            assert_eq!(seen, all, "a row in no bucket of {count}");
            assert!(count == 1 || used > 1, "every row in one bucket of {count}");
        }
        // The null key falls in the first bucket.
        let _in = scope.enter(Part::Bucket { key: "town_code".into(), index: 0, count: 4 });
        assert!(sum(&ctx, "SELECT sum(n) FROM t").await.unwrap_or(0) & (1 << 10) != 0);
        // A table without the key cannot be read in a bucket.
        drop(_in);
        let _in = scope.enter(Part::Bucket { key: "person_key".into(), index: 0, count: 4 });
        let err = ctx.sql("SELECT * FROM t").await.unwrap().collect().await.unwrap_err();
        assert!(err.to_string().contains("no column to split it by (person_key)"), "{err}");
    }

    #[tokio::test]
    async fn a_county_s_scan_skips_the_row_groups_of_the_others() {
        // Two row groups of two rows, one county each.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("grid_code", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
        ]));
        let grids = ["13020200100100100", "13020200100100101", "13020300100100100", "13020300100100101"];
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(grids.to_vec())), Arc::new(Int64Array::from(vec![1, 2, 4, 8]))],
        )
        .unwrap();
        let props = parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(2)).build();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let scope = Arc::new(Scope::default());
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_extension(scope.clone()));
        ctx.register_parquet("t", path.to_str().unwrap(), Default::default()).await.unwrap();
        narrowable(&ctx, "t").unwrap();
        let _in = scope.enter(Part::County("130203".into()));
        let plan = ctx.sql("SELECT sum(n) FROM t").await.unwrap().create_physical_plan().await.unwrap();
        let batches = datafusion::physical_plan::collect(plan.clone(), ctx.task_ctx()).await.unwrap();
        assert_eq!(batches[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0), 12);
        // The rows the scan decoded: the county's group only, not both then filtered.
        fn scanned(plan: &Arc<dyn ExecutionPlan>) -> Option<usize> {
            match plan.children().as_slice() {
                [] => plan.metrics()?.output_rows(),
                children => children.iter().find_map(|c| scanned(c)),
            }
        }
        assert_eq!(scanned(&plan), Some(2));
    }

    #[tokio::test]
    async fn a_table_with_no_code_column_cannot_be_read_in_a_part() {
        let scope = Arc::new(Scope::default());
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_extension(scope.clone()));
        ctx.sql("CREATE TABLE plain AS VALUES (1)").await.unwrap().collect().await.unwrap();
        narrowable(&ctx, "plain").unwrap();
        let _in = scope.enter(Part::County("130203".into()));
        let err = ctx.sql("SELECT * FROM plain").await.unwrap().collect().await.unwrap_err();
        assert!(err.to_string().contains("no column to split it by (grid_code"), "{err}");
        assert!(is_county("130203") && !is_county("13020") && !is_county("13020a"));
    }

    #[test]
    fn rows_equal_on_every_code_column_or_on_the_key_stay_in_one_part() {
        let schema: SchemaRef = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("town_code", DataType::Utf8, true),
            arrow::datatypes::Field::new("grid_code", DataType::Utf8, true),
            arrow::datatypes::Field::new("person_key", DataType::Utf8, true),
        ]));
        let columns = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let county = Part::County("130203".into());
        let rest = Part::Rest(vec!["130203".into()]);
        let bucket = Part::Bucket { key: "person_key".into(), index: 0, count: 4 };
        for part in [&county, &rest] {
            assert!(part.keeps_together(&columns(&["grid_code", "town_code", "person_key"]), &schema));
            // Two rows with no grid code, of two towns, lie in two counties.
            assert!(!part.keeps_together(&columns(&["grid_code"]), &schema));
        }
        assert!(bucket.keeps_together(&columns(&["person_key", "grid_code"]), &schema));
        assert!(!bucket.keeps_together(&columns(&["grid_code", "town_code"]), &schema));
        let no_codes: SchemaRef = Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
            "person_key",
            DataType::Utf8,
            true,
        )]));
        assert!(!county.keeps_together(&columns(&["person_key"]), &no_codes));
    }
}

//! Checks declared next to a pipeline's tables, each compiled to a query that returns the
//! failing rows: `not_null`, `unique`, `accepted_values`, `relationships`, `expressions`,
//! `freshness`, and the completeness of submissions (see `completeness::completeness_sql`).

use std::collections::{BTreeMap, HashMap};

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use serde::Deserialize;

use super::SqlError;
use super::scope::{Part, Scope};

/// The checks of one step, as declared in `pipeline.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksConfig {
    /// Columns that must never be null.
    #[serde(default)]
    pub not_null: Vec<String>,
    /// Column sets that must be unique (each entry a list of columns).
    #[serde(default)]
    pub unique: Vec<Vec<String>>,
    /// Column → the only values it may hold (nulls allowed; add the column to `not_null`).
    #[serde(default)]
    pub accepted_values: BTreeMap<String, Vec<String>>,
    /// Column → `table.column` every non-null value must exist in.
    #[serde(default)]
    pub relationships: BTreeMap<String, String>,
    /// SQL conditions every row must meet (`tested <= residents`): a row for which one is false
    /// fails; one for which it is null (a blank count) passes, as in dbt's `expression_is_true`.
    /// Planned by `validate` like the step itself.
    #[serde(default)]
    pub expressions: Vec<String>,
    /// The newest `report_date` must be the run's report date.
    #[serde(default)]
    pub fresh: bool,
}

/// One check, ready to run: a query whose rows are the failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub step: String,
    /// What is checked, as shown to the user (`not_null(grid_code)`).
    pub name: String,
    pub sql: String,
    /// For a `unique` check, its columns: its failures are groups of rows equal on them, so
    /// it can run a part at a time when no such group spans two parts of a split step
    /// (`super::scope::Part::keeps_together`).
    pub unique: Option<Vec<String>>,
}

/// Quotes an identifier for SQL (declared names may hold any character).
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The queries of a step's declared checks. A materialised step's mart holds every report date
/// run so far: its checks look at the run's date only, and so does a relationship to another
/// materialised step (`is_mart`): a grid of last month's registry is not in today's.
pub fn compile(step: &str, config: &ChecksConfig, partitioned: bool, is_mart: &dyn Fn(&str) -> bool) -> Vec<Check> {
    let of_the_day = |name: &str| format!("(SELECT * FROM {} WHERE report_date = $report_date)", ident(name));
    let table = if partitioned { of_the_day(step) } else { ident(step) };
    let mut out = Vec::new();
    let check = |name: String, sql: String| Check { step: step.to_string(), name, sql, unique: None };
    for column in &config.not_null {
        out.push(check(
            format!("not_null({column})"),
            format!("SELECT * FROM {table} WHERE {} IS NULL", ident(column)),
        ));
    }
    for columns in &config.unique {
        let list = columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        out.push(Check {
            unique: Some(columns.clone()),
            ..check(
                format!("unique({})", columns.join(", ")),
                format!("SELECT {list}, count(*) AS copies FROM {table} GROUP BY {list} HAVING count(*) > 1"),
            )
        });
    }
    for (column, values) in &config.accepted_values {
        let allowed = values.iter().map(|v| literal(v)).collect::<Vec<_>>().join(", ");
        out.push(check(
            format!("accepted_values({column})"),
            format!("SELECT * FROM {table} WHERE {c} IS NOT NULL AND {c} NOT IN ({allowed})", c = ident(column)),
        ));
    }
    for (column, target) in &config.relationships {
        let (other, other_column) = target.split_once('.').unwrap_or((target.as_str(), column.as_str()));
        out.push(check(
            format!("relationships({column} → {target})"),
            format!(
                "SELECT * FROM {table} s WHERE s.{c} IS NOT NULL AND s.{c} NOT IN (SELECT t.{oc} FROM {ot} t WHERE t.{oc} IS NOT NULL)",
                c = ident(column),
                oc = ident(other_column),
                ot = if is_mart(other) { of_the_day(other) } else { ident(other) }
            ),
        ));
    }
    for expression in &config.expressions {
        out.push(check(format!("expression({expression})"), format!("SELECT * FROM {table} WHERE NOT ({expression})")));
    }
    if config.fresh {
        out.push(check(
            "fresh(report_date)".into(),
            format!(
                "SELECT max(report_date) AS newest FROM {table} HAVING max(report_date) IS NULL OR max(report_date) < $report_date"
            ),
        ));
    }
    out
}

/// Runs a check: its failing rows. A `unique` check of a step that ran in `parts`
/// (`super::split`) runs in those parts too when rows equal on its columns never lie in two
/// of them: it then holds a part's groups at a time, not the city's (the 14-district city's
/// `headline` check held 13 MiB of hash tables under an 8 MiB budget, the peak of its whole
/// pipeline). It finds the same groups, a part's after another's.
pub async fn run(
    ctx: &SessionContext,
    check: &Check,
    params: &HashMap<String, ScalarValue>,
    parts: &[Part],
) -> Result<Vec<RecordBatch>, SqlError> {
    let context = format!("check `{}` of step `{}`", check.name, check.step);
    let scope = Scope::of(ctx);
    let mut runs: Vec<Option<&Part>> = vec![None];
    if let (Some(columns), Some(_), false) = (&check.unique, &scope, parts.is_empty()) {
        let schema = ctx.table_provider(check.step.as_str()).await.map_err(SqlError::engine(&context))?.schema();
        if parts.iter().all(|p| p.keeps_together(columns, &schema)) {
            runs = parts.iter().map(Some).collect();
        }
    }
    let mut batches = Vec::new();
    for part in runs {
        // (narrowed while planned and run: a scan is narrowed when its plan is made)
        let _narrowed = part.zip(scope.as_ref()).map(|(part, scope)| scope.enter(part.clone()));
        let df = ctx
            .sql(&check.sql)
            .await
            .and_then(|df| df.with_param_values(params.clone()))
            .map_err(SqlError::engine(&context))?;
        batches.extend(df.collect().await.map_err(SqlError::engine(&context))?);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_checks_compile_to_queries_of_failing_rows() {
        let config = ChecksConfig {
            not_null: vec!["grid_code".into()],
            unique: vec![vec!["report_date".into(), "grid_code".into()]],
            accepted_values: [("status".to_string(), vec!["已报".to_string(), "O'Neil".to_string()])].into(),
            relationships: [("grid_code".to_string(), "stg_registry.grid_code".to_string())].into(),
            expressions: vec!["tested <= residents".into()],
            fresh: false,
        };
        let checks = compile("daily_grid", &config, false, &|_| false);
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "not_null(grid_code)",
                "unique(report_date, grid_code)",
                "accepted_values(status)",
                "relationships(grid_code → stg_registry.grid_code)",
                "expression(tested <= residents)"
            ]
        );
        assert!(checks[4].sql.ends_with("WHERE NOT (tested <= residents)"), "{}", checks[4].sql);
        assert!(checks[2].sql.contains("'O''Neil'"), "{}", checks[2].sql);
        assert!(
            checks[3].sql.ends_with("FROM \"stg_registry\" t WHERE t.\"grid_code\" IS NOT NULL)"),
            "{}",
            checks[3].sql
        );
        let scoped = compile("daily_grid", &config, true, &|name| name == "stg_registry");
        assert!(scoped[0].sql.contains("WHERE report_date = $report_date"), "{}", scoped[0].sql);
        // The registry of the run's date, not every date's.
        assert!(
            scoped[3].sql.contains("FROM (SELECT * FROM \"stg_registry\" WHERE report_date = $report_date) t"),
            "{}",
            scoped[3].sql
        );
    }

    /// A city's duplicates, in two counties and among rows of none, and rows equal on a grid
    /// code of none across two counties: each check finds the same groups whether its step
    /// ran whole or in parts.
    #[tokio::test]
    async fn a_unique_check_finds_the_same_groups_run_in_a_split_step_s_parts() {
        let rows: [(Option<&str>, Option<&str>, i64); 9] = [
            (Some("130202001"), Some("13020200100100100"), 0),
            (Some("130202001"), Some("13020200100100100"), 1),
            (Some("130203002"), Some("13020300200100100"), 2),
            (Some("130203002"), Some("13020300200100100"), 3),
            (Some("130203002"), Some("13020300200100101"), 4),
            (None, None, 5),
            (None, None, 6),
            (Some("130202001"), None, 7), // no grid: in 130202 by its town
            (Some("130203002"), None, 8),
        ];
        let (ctx, _) = super::super::scope::tests::session_with(&rows);
        let parts = [
            Part::County("130202".into()),
            Part::County("130203".into()),
            Part::Rest(vec!["130202".into(), "130203".into()]),
        ];
        let groups = |batches: Vec<RecordBatch>| {
            let text = arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
            let mut lines: Vec<String> = text.lines().filter(|l| l.starts_with("| ")).map(String::from).collect();
            lines.sort();
            lines
        };
        // (a header, then a line a failing group: 3 groups, the nulls of `grid_code` 4 copies)
        for (columns, want) in [(&["town_code", "grid_code"][..], 4), (&["grid_code"][..], 4)] {
            let config =
                ChecksConfig { unique: vec![columns.iter().map(|c| c.to_string()).collect()], ..Default::default() };
            let check = &compile("t", &config, false, &|_| false)[0];
            let whole = groups(run(&ctx, check, &HashMap::new(), &[]).await.unwrap());
            let split = groups(run(&ctx, check, &HashMap::new(), &parts).await.unwrap());
            assert_eq!(whole.len(), want, "{columns:?}: {whole:#?}");
            assert_eq!(split, whole, "{columns:?}");
        }
    }
}

//! Pipelines declared as files: `pipelines/<name>/pipeline.toml` and one `sql/<step>.sql` per
//! step, the file stem being the table the step makes (`stg_*` for cleaned sources, plain names
//! for marts). Steps depend on the tables they name; they run in dependency order, as views or
//! materialised to Parquet under `warehouse/marts/<step>/report_date=…/`, and take typed
//! parameters (`$report_date` and those declared under `[params]`), never spliced text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use datafusion::sql::parser::DFParser;
use serde::Deserialize;

use super::SqlError;
use super::checks::{self, Check, ChecksConfig};
use super::engine::TableInfo;
use crate::config::ConfigError;
use crate::config::strict;

/// `pipeline.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    pub description: Option<String>,
    /// Parameters besides `report_date`, with their default values (integers, decimals,
    /// booleans, dates as `YYYY-MM-DD` text, or text).
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
    /// Per step: how it is stored and what is checked. Steps not listed are views.
    #[serde(default)]
    pub steps: BTreeMap<String, StepConfig>,
    pub completeness: Option<CompletenessConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    pub description: Option<String>,
    #[serde(default)]
    pub materialize: Materialize,
    /// Built on the step's own mart of an earlier date, with `sql/incremental/<step>.sql`,
    /// when the history that mart was made from is unchanged (see `super::incremental`).
    #[serde(default)]
    pub incremental: bool,
    /// Tables of snapshots (a register) an incremental step reads: a new one since the earlier
    /// mart means the step runs its full SQL, as the rows it carries belonged to the old one.
    #[serde(default)]
    pub rebuild_on_new: Vec<String>,
    /// Run in parts, each over some of its tables' rows (`super::scope`): once per county, for
    /// a materialised step whose rows never mix counties; or in buckets of a key, for one whose
    /// rows never mix keys.
    pub split: Option<Split>,
    #[serde(default)]
    pub checks: ChecksConfig,
}

/// How a step is split into runs over parts of its tables.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// `split = "county"`: one run per county (区县), by the codes of its rows.
    County,
    /// `split = { key = "person_key" }`: runs over buckets of that column's values (its hash),
    /// as many as its tables' rows need under the memory budget (`super::split`).
    Key(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Materialize {
    /// Computed when read.
    #[default]
    View,
    /// Written to `warehouse/marts/<step>/report_date=<date>/` for the run's date.
    Parquet,
}

/// Which forms every community of the registry submits each day.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletenessConfig {
    pub forms: Vec<String>,
}

/// A loaded pipeline, its steps in dependency order.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub dir: PathBuf,
    pub description: Option<String>,
    pub params: BTreeMap<String, ScalarValue>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    /// The SQL file, or `None` for a generated step (completeness).
    pub file: Option<PathBuf>,
    pub sql: String,
    pub materialize: Materialize,
    pub checks: Vec<Check>,
    /// Earlier steps it reads.
    pub depends_on: Vec<String>,
    /// Every table its SQL (and its incremental SQL) names, steps and warehouse tables alike,
    /// but itself.
    pub reads: BTreeSet<String>,
    /// `sql/incremental/<step>.sql`: the step for the report date from its own mart of
    /// `$previous_date` and the rows reported after that date.
    pub incremental: Option<IncrementalSql>,
    pub split: Option<Split>,
}

#[derive(Debug, Clone)]
pub struct IncrementalSql {
    pub file: PathBuf,
    pub sql: String,
    /// `rebuild_on_new`: tables whose new partition since the earlier mart means the full SQL.
    pub rebuild_on_new: Vec<String>,
}

/// The folder of steps' incremental SQL, under `sql/`.
pub const INCREMENTAL_DIR: &str = "incremental";

/// The name of the generated completeness step.
pub const COMPLETENESS: &str = "completeness";

/// Every pipeline under `pipelines/` (each folder with a `pipeline.toml`), by name.
pub fn pipeline_dirs(pipelines: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(pipelines)
        .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.join("pipeline.toml").is_file()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Loads a pipeline; `forms` are the forms completeness may name (id, Chinese label). Every
/// problem is reported at once, each with its file and, where it has one, line.
pub fn load(dir: &Path, forms: &[(String, String)]) -> Result<Pipeline, Vec<ConfigError>> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let toml_path = dir.join("pipeline.toml");
    let text = std::fs::read_to_string(&toml_path)
        .map_err(|e| vec![ConfigError::whole_file(&toml_path, format!("cannot read: {e}"))])?;
    let file: PipelineFile = strict::from_toml(&toml_path, &text)?;
    let mut errors = Vec::new();
    let at = |needle: &str| text.find(needle).unwrap_or(0);

    let mut sql_files: BTreeMap<String, PathBuf> = BTreeMap::new();
    let sql_dir = dir.join("sql");
    for entry in std::fs::read_dir(&sql_dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "sql") {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if !stem.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                errors.push(ConfigError::whole_file(
                    &path,
                    "a step's file name is its table name: use lower-case letters, digits and `_`",
                ));
            }
            sql_files.insert(stem, path);
        }
    }
    if sql_files.is_empty() {
        errors.push(ConfigError::whole_file(&sql_dir, "no steps: expected one `<step>.sql` file per step here"));
    }
    for step in file.steps.keys() {
        if !sql_files.contains_key(step) {
            let valid = sql_files.keys().cloned().collect::<Vec<_>>().join(", ");
            errors.push(ConfigError::at(
                &toml_path,
                &text,
                at(&format!("[steps.{step}")),
                format!("`[steps.{step}]` has no `sql/{step}.sql`; the steps are: {valid}"),
            ));
        }
    }

    let mut params = BTreeMap::new();
    for (key, value) in &file.params {
        match param_value(value) {
            Some(v) => {
                params.insert(key.clone(), v);
            }
            None => errors.push(ConfigError::at(
                &toml_path,
                &text,
                at(key),
                format!("parameter `{key}`: expected an integer, a decimal, a boolean, a date or text"),
            )),
        }
    }

    let mut steps = Vec::new();
    for (step, path) in &sql_files {
        let sql = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                errors.push(ConfigError::whole_file(path, format!("cannot read: {e}")));
                continue;
            }
        };
        let config = file.steps.get(step).cloned().unwrap_or_default();
        if config.split.is_some() && config.materialize != Materialize::Parquet {
            errors.push(ConfigError::at(
                &toml_path,
                &text,
                at(&format!("[steps.{step}")),
                format!(
                    "`[steps.{step}]`: `split` runs a step in parts and writes their rows as one mart: add `materialize = \"parquet\"` (a view is narrowed with the step that reads it)"
                ),
            ));
        }
        let incremental = if config.incremental {
            incremental_sql(&sql_dir, step, config.materialize, &toml_path, &text, &mut errors)
                .map(|inc| IncrementalSql { rebuild_on_new: config.rebuild_on_new.clone(), ..inc })
        } else {
            if !config.rebuild_on_new.is_empty() {
                errors.push(ConfigError::at(
                    &toml_path,
                    &text,
                    at(&format!("[steps.{step}")),
                    format!("`[steps.{step}]`: `rebuild_on_new` is for an incremental step: add `incremental = true`"),
                ));
            }
            None
        };
        steps.push(Step {
            name: step.clone(),
            file: Some(path.clone()),
            sql,
            materialize: config.materialize,
            checks: checks::compile(step, &config.checks, config.materialize == Materialize::Parquet, &|other| {
                file.steps.get(other).is_some_and(|c| c.materialize == Materialize::Parquet)
            }),
            depends_on: Vec::new(),
            reads: BTreeSet::new(),
            incremental,
            split: config.split,
        });
    }
    if let Some(completeness) = &file.completeness {
        let mut named = Vec::new();
        for form in &completeness.forms {
            match forms.iter().find(|(id, _)| id == form) {
                Some(pair) => named.push(pair.clone()),
                None => errors.push(ConfigError::at(
                    &toml_path,
                    &text,
                    at(&format!("\"{form}\"")),
                    format!(
                        "completeness: unknown form `{form}`; the forms are: {}",
                        forms.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )),
            }
        }
        steps.push(Step {
            name: COMPLETENESS.into(),
            file: None,
            sql: super::completeness::completeness_sql(&named),
            materialize: Materialize::Parquet,
            checks: vec![Check {
                step: COMPLETENESS.into(),
                name: "completeness (应报未报)".into(),
                sql: "SELECT town, community_code, community, form FROM completeness \
                      WHERE report_date = $report_date AND status = '应报未报'"
                    .into(),
                unique: None,
            }],
            depends_on: Vec::new(),
            reads: BTreeSet::new(),
            incremental: None,
            split: None,
        });
    }
    // An incremental file without `incremental = true` would never run: say so.
    for entry in std::fs::read_dir(sql_dir.join(INCREMENTAL_DIR)).into_iter().flatten().flatten() {
        let stem = entry.path().file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if !file.steps.get(&stem).is_some_and(|c| c.incremental) {
            errors.push(ConfigError::whole_file(
                &entry.path(),
                format!("not used: `[steps.{stem}]` in pipeline.toml does not say `incremental = true`"),
            ));
        }
    }

    // Dependencies: the other steps a step's SQL names.
    let names: BTreeSet<String> = steps.iter().map(|s| s.name.clone()).collect();
    for step in &mut steps {
        let mut sources = vec![(step.file.clone().unwrap_or_else(|| toml_path.clone()), step.sql.clone())];
        if let Some(inc) = &step.incremental {
            sources.push((inc.file.clone(), inc.sql.clone()));
        }
        for (path, sql) in sources {
            match referenced_tables(&sql) {
                Ok(tables) => step.reads.extend(tables.into_iter().filter(|t| *t != step.name)),
                Err(message) => errors.push(sql_error(&path, &sql, &message)),
            }
        }
        step.depends_on = step.reads.iter().filter(|t| names.contains(*t)).cloned().collect();
        for table in step.incremental.iter().flat_map(|inc| &inc.rebuild_on_new) {
            if !step.reads.contains(table) || names.contains(table) {
                errors.push(ConfigError::at(
                    &toml_path,
                    &text,
                    at(&format!("[steps.{}", step.name)),
                    format!(
                        "`[steps.{}]` rebuild_on_new: `{table}` is not a warehouse table the step reads; it reads: {}",
                        step.name,
                        step.reads.iter().filter(|t| !names.contains(*t)).cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
    }
    let steps = match order(steps) {
        Ok(s) => s,
        Err(cycle) => {
            errors.push(ConfigError::whole_file(&sql_dir, format!("cyclic dependency: {}", cycle.join(" → "))));
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Pipeline { name, dir: dir.to_path_buf(), description: file.description, params, steps })
}

/// Reads `sql/incremental/<step>.sql` for a step that says `incremental = true`.
fn incremental_sql(
    sql_dir: &Path,
    step: &str,
    materialize: Materialize,
    toml_path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<IncrementalSql> {
    let at = text.find(&format!("[steps.{step}")).unwrap_or(0);
    if materialize != Materialize::Parquet {
        errors.push(ConfigError::at(
            toml_path,
            text,
            at,
            format!(
                "`[steps.{step}]`: `incremental = true` builds on the step's own mart: add `materialize = \"parquet\"`"
            ),
        ));
        return None;
    }
    let file = sql_dir.join(INCREMENTAL_DIR).join(format!("{step}.sql"));
    match std::fs::read_to_string(&file) {
        Ok(sql) => Some(IncrementalSql { file, sql, rebuild_on_new: Vec::new() }),
        Err(e) => {
            errors.push(ConfigError::at(
                toml_path,
                text,
                at,
                format!("`[steps.{step}]` says `incremental = true`: cannot read `{}`: {e}", file.display()),
            ));
            None
        }
    }
}

fn param_value(value: &toml::Value) -> Option<ScalarValue> {
    Some(match value {
        toml::Value::Integer(i) => ScalarValue::Int64(Some(*i)),
        toml::Value::Float(f) => ScalarValue::Float64(Some(*f)),
        toml::Value::Boolean(b) => ScalarValue::Boolean(Some(*b)),
        toml::Value::String(s) => match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => date_scalar(d),
            Err(_) => ScalarValue::Utf8(Some(s.clone())),
        },
        _ => return None,
    })
}

/// A date as a SQL `DATE` value.
pub fn date_scalar(date: chrono::NaiveDate) -> ScalarValue {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    ScalarValue::Date32(Some((date - epoch).num_days() as i32))
}

/// The tables a SQL text reads (CTE names excluded), lower-cased.
pub fn referenced_tables(sql: &str) -> Result<BTreeSet<String>, String> {
    let statements = DFParser::parse_sql(sql).map_err(|e| e.to_string())?;
    if statements.len() != 1 {
        return Err(format!("expected exactly one SELECT statement, found {}", statements.len()));
    }
    let state = SessionContext::new().state();
    let references = state.resolve_table_references(&statements[0]).map_err(|e| e.to_string())?;
    Ok(references.into_iter().map(|r| r.table().to_lowercase()).collect())
}

/// Orders steps so that each comes after the steps it reads; on a cycle, returns it.
fn order(steps: Vec<Step>) -> Result<Vec<Step>, Vec<String>> {
    let mut remaining: BTreeMap<String, Step> = steps.into_iter().map(|s| (s.name.clone(), s)).collect();
    let mut done: Vec<Step> = Vec::new();
    while !remaining.is_empty() {
        let ready: Vec<String> = remaining
            .values()
            .filter(|s| s.depends_on.iter().all(|d| done.iter().any(|x| &x.name == d)))
            .map(|s| s.name.clone())
            .collect();
        if ready.is_empty() {
            // Follow dependencies from any remaining step until one repeats: that is a cycle.
            let mut path: Vec<String> = vec![remaining.keys().next().expect("non-empty").clone()];
            loop {
                let last = path.last().expect("non-empty").clone();
                let next = remaining[&last].depends_on.iter().find(|d| remaining.contains_key(*d)).expect("blocked");
                if let Some(start) = path.iter().position(|p| p == next) {
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next.clone());
                    return Err(cycle);
                }
                path.push(next.clone());
            }
        }
        for name in ready {
            done.push(remaining.remove(&name).expect("ready step"));
        }
    }
    Ok(done)
}

/// A SQL problem placed at the line of the first name the message quotes, when there is one.
pub fn sql_error(path: &Path, sql: &str, message: &str) -> ConfigError {
    let mut quoted: Vec<&str> = message.split(['\'', '`', '"']).skip(1).step_by(2).collect();
    // "No field named nmae." names the column without quotes.
    if let Some(at) = message.find("field named ") {
        let name = message[at + 12..].split(|c: char| c.is_whitespace() || c == '.').next().unwrap_or_default();
        quoted.insert(0, name);
    }
    let position = quoted.iter().filter(|q| q.len() > 1).find_map(|q| {
        let bare = q.rsplit('.').next().unwrap_or(q);
        sql.find(bare)
    });
    let line = message.find("Line: ").and_then(|at| message[at + 6..].split(',').next()?.trim().parse::<usize>().ok());
    match (line, position) {
        (Some(line), _) => {
            ConfigError { file: path.to_path_buf(), line: Some(line), column: None, message: message.into() }
        }
        (None, Some(offset)) => ConfigError::at(path, sql, offset, message),
        (None, None) => ConfigError::whole_file(path, message),
    }
}

/// Registers a mart folder as a table, its schema taken from its files; `None` if it has none.
/// Only finished files count: a run killed while writing a mart leaves its partition folder
/// holding nothing but a hidden temporary file, which the engine does not list.
pub async fn register_mart(ctx: &SessionContext, folder: &Path, name: &str) -> Result<Option<TableInfo>, SqlError> {
    let finished = |f: std::fs::DirEntry| crate::warehouse::parquet_io::is_finished(&f.path());
    let has_files = std::fs::read_dir(folder)
        .map(|d| d.flatten().any(|p| std::fs::read_dir(p.path()).is_ok_and(|f| f.flatten().any(finished))))
        .unwrap_or(false);
    if !has_files {
        return Ok(None);
    }
    let folder = std::path::absolute(folder).map_err(|source| SqlError::Io { path: folder.to_path_buf(), source })?;
    let options = super::engine::partitioned_parquet(ctx);
    let _ = ctx.deregister_table(name);
    ctx.register_listing_table(name, format!("{}/", folder.display()), options, None, None)
        .await
        .map_err(SqlError::engine(&format!("registering mart `{name}`")))?;
    super::scope::narrowable(ctx, name).map_err(SqlError::engine(&format!("registering mart `{name}`")))?;
    let schema = ctx.table_provider(name).await.map_err(SqlError::engine(&format!("reading mart `{name}`")))?.schema();
    Ok(Some(TableInfo { name: name.to_string(), schema, location: Some(folder) }))
}

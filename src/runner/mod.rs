//! Runs the stages in order for a workspace: the glue between the command line and the rooms
//! (`ingest`, `warehouse`, `sql`, `report`, `deliver`). Never prints; returns what happened.

pub mod daily;
mod explain;
mod hash_cache;
mod ingest;
pub use ingest::{IngestReport, ingest, ingest_each};
pub mod lock;
pub use explain::{explain, first_rows};
pub mod manifest;
mod problems;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::config::forms::{self, FormConfig};
use crate::config::{ConfigError, Workspace};

use crate::privacy::Privacy;
use crate::warehouse::{Warehouse, WarehouseError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid configuration:\n{}", .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Config(Vec<ConfigError>),
    #[error("cannot read the pseudonymisation key `{}`: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("cannot list `{}`", path.display())]
    Inbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(transparent)]
    Returns(#[from] crate::report::returns::ReturnsError),
    #[error(transparent)]
    Sql(#[from] crate::sql::SqlError),
    #[error("no pipeline `{name}` in `{}`; the pipelines are: {}", dir.display(), if valid.is_empty() { "none".to_string() } else { valid.join(", ") })]
    UnknownPipeline { name: String, dir: PathBuf, valid: Vec<String> },
    #[error("cannot start the query engine's runtime")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Report(#[from] crate::report::daily::ReportError),
    #[error("cannot load the report templates in `{}`", dir.display())]
    Templates {
        dir: PathBuf,
        #[source]
        source: tera::Error,
    },
    #[error(transparent)]
    Deliver(#[from] crate::deliver::DeliverError),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    /// The engine's message already holds its causes (see `SqlError::Engine`).
    #[error("on {engine}: {error}")]
    OnEngine { engine: String, error: crate::sql::SqlError },
    #[error("{engine} did not finish within [engine] run_timeout_minutes = {minutes}")]
    EngineTimeout { engine: String, minutes: u64 },
    /// What could not spill ran out of the local engine's memory: the fix is the setting.
    #[error(
        "{error}\n  the local engine ran out of its memory limit, [engine] memory_mib = {mib} in wangge.toml: raise it"
    )]
    MemoryLimit { mib: u64, error: crate::sql::SqlError },
}

impl RunError {
    /// Whose problem this is: the user's to fix (configuration, arguments) or the output's.
    pub fn verdict(&self) -> manifest::Verdict {
        use crate::deliver::DeliverError as D;
        use manifest::Verdict;
        match self {
            RunError::Config(_) | RunError::Key { .. } | RunError::Inbox { .. } | RunError::UnknownPipeline { .. } => {
                Verdict::UsageOrConfig
            }
            RunError::Templates { .. } => Verdict::UsageOrConfig,
            RunError::Deliver(D::Recipients(_) | D::From(_) | D::Credentials(_)) => Verdict::UsageOrConfig,
            RunError::Warehouse(_)
            | RunError::Returns(_)
            | RunError::Sql(_)
            | RunError::MemoryLimit { .. }
            | RunError::Runtime(_)
            | RunError::Report(_)
            | RunError::Deliver(_)
            | RunError::Lock(_)
            | RunError::OnEngine { .. }
            | RunError::EngineTimeout { .. } => Verdict::OutputFailure,
        }
    }
}

/// An error and its causes on one line, for the manifest.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Loads the forms and the privacy settings of a workspace.
pub fn load_forms(ws: &Workspace) -> Result<Vec<FormConfig>, RunError> {
    forms::load_forms(&ws.path(&ws.config.paths.pipelines).join("forms")).map_err(RunError::Config)
}

pub fn privacy(ws: &Workspace) -> Result<Privacy, RunError> {
    let path = ws.path(&ws.config.privacy.key_file);
    let text =
        std::fs::read_to_string(&path).map_err(|e| RunError::Key { path: path.clone(), reason: e.to_string() })?;
    let hex = text.trim();
    let key: Option<Vec<u8>> = (hex.len() >= 32 && hex.len() % 2 == 0)
        .then(|| (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect())
        .flatten();
    let key = key.ok_or_else(|| RunError::Key { path, reason: "expected at least 16 bytes in hex".into() })?;
    Ok(Privacy {
        key,
        store_raw_ids: ws.config.privacy.store_raw_ids,
        store_raw_phones: ws.config.privacy.store_raw_phones,
    })
}

/// A file found under a folder, with what its folder entry said of it.
#[derive(Debug)]
pub struct Listed {
    pub path: PathBuf,
    /// The file's metadata as read through its folder (a plain file; `None` for a link, which
    /// is looked at by its path, followed): over a year's inbox of 19,052 files, a look by the
    /// whole path walked every folder of it again, a third more system time than through the
    /// folder already open (measured with `os.stat` against `dir_fd`: 66-95 ms against 45 ms).
    pub metadata: Option<std::fs::Metadata>,
}

/// Every file under `dir`, sorted; skips dot files and Excel's `~$` owner files.
pub fn list_files(dir: &Path) -> Result<Vec<Listed>, RunError> {
    let mut out = Vec::new();
    list_into(dir, &mut out)?;
    Ok(out)
}

/// Each folder's entries by name, a subfolder's files in its place: the paths come out in
/// `Path`'s order (component by component) without sorting them whole, which comparing the
/// 19,052 paths of a year's inbox component by component made a visible part of a run with
/// nothing new.
fn list_into(dir: &Path, out: &mut Vec<Listed>) -> Result<(), RunError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RunError::Inbox { path: dir.to_path_buf(), source })?;
    let mut entries: Vec<std::fs::DirEntry> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with("~$") {
            continue;
        }
        let path = entry.path();
        // The entry's own type (no stat of every file of a year's inbox); a link is followed.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir() || (t.is_symlink() && path.is_dir()));
        if is_dir {
            list_into(&path, out)?;
        } else {
            let metadata = entry.metadata().ok().filter(std::fs::Metadata::is_file);
            out.push(Listed { path, metadata });
        }
    }
    Ok(())
}

/// Fingerprint of the form declarations: sha256 over their file names and bytes, in name order.
fn forms_fingerprint(ws: &Workspace) -> String {
    let dir = ws.path(&ws.config.paths.pipelines).join("forms");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.file_name().unwrap_or_default().as_encoded_bytes());
        hasher.update(std::fs::read(&file).unwrap_or_default());
    }
    crate::digest::hex(&hasher.finalize())
}

pub(crate) use crate::digest::sha256_of;

/// A runtime for the query engine's async API; the rest of wangge is synchronous.
fn block_on<T>(future: impl std::future::Future<Output = T>) -> Result<T, RunError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(RunError::Runtime)?;
    Ok(runtime.block_on(future))
}

fn engine_settings(ws: &Workspace) -> crate::sql::engine::EngineSettings {
    use crate::config::workspace::EngineKind;
    let mut settings = crate::sql::engine::EngineSettings::for_workspace(ws.path(&ws.config.paths.runs).join("spill"));
    let engine = &ws.config.engine;
    settings.memory_limit = usize::try_from(engine.memory_mib.max(1).saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    // Only a workspace of several counties (a city's, which lists them for its county reports):
    // elsewhere finding a step's counties would read its tables' codes for nothing (0.1 s of
    // the sample district's 0.5 s pipeline).
    settings.split_by_county = engine.split_by_county && ws.config.district.counties.len() > 1;
    if engine.kind == EngineKind::Ballista {
        settings.engine = crate::sql::engine::Engine::Ballista {
            scheduler: engine.scheduler.clone(),
            connect_timeout: std::time::Duration::from_secs(engine.connect_timeout_seconds),
        };
    }
    settings
}

/// Runs engine work to its end, or to `[engine] run_timeout_minutes`: cron is never held by a
/// cluster that stopped answering. An error from a cluster names it.
fn on_engine<T>(
    ws: &Workspace,
    settings: &crate::sql::engine::EngineSettings,
    work: impl std::future::Future<Output = Result<T, crate::sql::SqlError>>,
) -> Result<T, RunError> {
    let minutes = ws.config.engine.run_timeout_minutes;
    let engine = settings.engine.to_string();
    // The timer is made inside the runtime: tokio's clock exists only there.
    let limit = std::time::Duration::from_secs(minutes * 60);
    match block_on(async move { tokio::time::timeout(limit, work).await })? {
        Err(_) => Err(RunError::EngineTimeout { engine, minutes }),
        Ok(Err(source)) if settings.engine != crate::sql::engine::Engine::Local => {
            Err(RunError::OnEngine { engine, error: source })
        }
        Ok(Err(error @ crate::sql::SqlError::Engine { .. })) if error.is_out_of_memory() => {
            Err(RunError::MemoryLimit { mib: ws.config.engine.memory_mib, error })
        }
        Ok(result) => result.map_err(RunError::from),
    }
}

/// The pipelines of a workspace that load, and the problems of those that do not.
pub fn load_pipelines(ws: &Workspace, forms: &[FormConfig]) -> (Vec<crate::sql::pipeline::Pipeline>, Vec<ConfigError>) {
    let form_ids: Vec<(String, String)> = forms.iter().map(|f| (f.form.clone(), f.label.clone())).collect();
    let mut pipelines = Vec::new();
    let mut errors = Vec::new();
    for dir in crate::sql::pipeline::pipeline_dirs(&ws.path(&ws.config.paths.pipelines)) {
        match crate::sql::pipeline::load(&dir, &form_ids) {
            Ok(p) => pipelines.push(p),
            Err(e) => errors.extend(e),
        }
    }
    (pipelines, errors)
}

/// Plans every step of every pipeline against the warehouse's declared schemas, reading no
/// data; returns (pipelines, steps planned, problems).
pub fn plan_pipelines(ws: &Workspace, report_date: NaiveDate) -> Result<(usize, usize, Vec<ConfigError>), RunError> {
    let forms = load_forms(ws)?;
    let privacy = privacy(ws)?;
    let (pipelines, mut problems) = load_pipelines(ws, &forms);
    let tables = Warehouse::schemas(&forms, &privacy);
    let mut steps = 0;
    for p in &pipelines {
        steps += p.steps.len();
        problems.extend(block_on(crate::sql::run::plan_all(p, &tables, report_date))??);
        // Its reports: declared strictly, and showing only steps the pipeline has.
        match crate::report::definition::load(&p.dir) {
            Ok(Some(definition)) => {
                let names: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
                problems.extend(definition.unknown_steps(&p.dir.join("reports.toml"), &names));
            }
            Ok(None) => {}
            Err(errors) => problems.extend(errors),
        }
    }
    Ok((pipelines.len(), steps, problems))
}

/// The loaded pipeline `name`; an unknown name lists the pipelines there are.
fn find_pipeline(ws: &Workspace, forms: &[FormConfig], name: &str) -> Result<crate::sql::pipeline::Pipeline, RunError> {
    let (pipelines, errors) = load_pipelines(ws, forms);
    if !errors.is_empty() {
        return Err(RunError::Config(errors));
    }
    let valid = pipelines.iter().map(|p| p.name.clone()).collect();
    pipelines.into_iter().find(|p| p.name == name).ok_or_else(|| RunError::UnknownPipeline {
        name: name.to_string(),
        dir: ws.path(&ws.config.paths.pipelines),
        valid,
    })
}

/// Rewrites the workspace's warehouse in the compacted layout, a few files per table and year
/// (`wangge compact`), after finishing what a killed run left; idempotent.
pub fn compact(ws: &Workspace) -> Result<(Vec<PathBuf>, crate::warehouse::compact::Compacted), RunError> {
    let warehouse = Warehouse::new(ws.path(&ws.config.paths.warehouse));
    let (removed, _) = warehouse.recover_in_place()?;
    Ok((removed, warehouse.compact_all()?))
}

/// Runs one pipeline for a report date over the workspace's warehouse.
pub fn run_pipeline(
    ws: &Workspace,
    name: &str,
    report_date: NaiveDate,
) -> Result<crate::sql::run::RunOutcome, RunError> {
    let forms = load_forms(ws)?;
    let privacy = privacy(ws)?;
    let pipeline = find_pipeline(ws, &forms, name)?;
    let pipeline = &pipeline;
    let root = ws.path(&ws.config.paths.warehouse);
    // A compaction a killed ingest left half done would show its rows twice.
    Warehouse::new(&root).ready_to_read()?;
    let settings = engine_settings(ws);
    on_engine(ws, &settings, async {
        let (ctx, _) = crate::sql::warehouse_session(&root, &forms, &privacy, &settings).await?;
        crate::sql::run::run(&ctx, pipeline, &root, report_date).await
    })
}

/// Runs an ad-hoc query over every warehouse table and mart; `sql: None` only lists the tables.
pub fn query(
    ws: &Workspace,
    sql: Option<&str>,
    pipeline: Option<(&str, NaiveDate)>,
) -> Result<
    (Vec<crate::sql::engine::TableInfo>, Option<(arrow::datatypes::SchemaRef, Vec<arrow::array::RecordBatch>)>),
    RunError,
> {
    let forms = load_forms(ws)?;
    let privacy = privacy(ws)?;
    let root = ws.path(&ws.config.paths.warehouse);
    Warehouse::new(&root).ready_to_read()?;
    let settings = engine_settings(ws);
    let selected = match pipeline {
        Some((name, _)) => Some(find_pipeline(ws, &forms, name)?),
        None => None,
    };
    on_engine(ws, &settings, async {
        let (ctx, mut tables) = crate::sql::warehouse_session(&root, &forms, &privacy, &settings).await?;
        if let Some(p) = &selected {
            crate::sql::run::register_views(&ctx, p, pipeline.expect("selected from it").1).await?;
            for step in p.steps.iter().filter(|s| s.materialize == crate::sql::pipeline::Materialize::View) {
                if let Ok(provider) = ctx.table_provider(step.name.as_str()).await {
                    tables.push(crate::sql::engine::TableInfo {
                        name: step.name.clone(),
                        schema: provider.schema(),
                        location: None,
                    });
                }
            }
        }
        let result = match sql {
            Some(sql) => Some(crate::sql::query::run(&ctx, sql, &tables).await?),
            None => None,
        };
        Ok::<_, crate::sql::SqlError>((tables, result))
    })
}

/// Renders a pipeline's reports (`reports.toml` beside its `pipeline.toml`) for a report date:
/// the district and each declared scope's units, Excel and HTML, and the day's index. Returns the paths written
/// (none if the pipeline declares no reports).
pub fn render_reports(
    ws: &Workspace,
    name: &str,
    report_date: NaiveDate,
    threads: usize,
) -> Result<Vec<PathBuf>, RunError> {
    let forms = load_forms(ws)?;
    let privacy = privacy(ws)?;
    let pipeline = find_pipeline(ws, &forms, name)?;
    let Some(definition) = crate::report::definition::load(&pipeline.dir).map_err(RunError::Config)? else {
        return Ok(Vec::new());
    };
    let root = ws.path(&ws.config.paths.warehouse);
    let settings = engine_settings(ws);
    // Each section's step, and each scope's list of units.
    let steps: std::collections::BTreeSet<String> = definition
        .sections
        .iter()
        .map(|s| s.step.clone())
        .chain(definition.scopes.iter().map(|s| s.step.clone()))
        .collect();
    let tables = on_engine(ws, &settings, async {
        let (ctx, _) = crate::sql::warehouse_session(&root, &forms, &privacy, &settings).await?;
        let mut tables = std::collections::BTreeMap::new();
        for step in steps {
            let batches = crate::sql::rows_for_date(&ctx, &step, report_date).await?;
            tables.insert(step, crate::report::table::Table::from_batches(&batches));
        }
        Ok::<_, crate::sql::SqlError>(tables)
    })?;
    let templates_dir = ws.path(&ws.config.paths.report_templates);
    let templates = tera::Tera::new(&format!("{}/**/*.html", templates_dir.display()))
        .map_err(|source| RunError::Templates { dir: templates_dir.clone(), source })?;
    let out_dir = ws.path(&ws.config.paths.reports).join(report_date.to_string());
    let mut returns: Vec<PathBuf> = std::fs::read_dir(out_dir.join(crate::report::returns::FOLDER))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    returns.sort();
    let district = &ws.config.district;
    let unit_names = district.county_names();
    let reports = crate::report::daily::DailyReports {
        definition: &definition,
        tables: &tables,
        district: crate::report::daily::Unit {
            scope: crate::report::definition::DISTRICT.to_string(),
            code: district.code.get_ref().clone(),
            name: district.short_name.clone().unwrap_or_else(|| district.name.clone()),
        },
        unit_names: &unit_names,
        report_date,
        out_dir: &out_dir,
        templates: &templates,
        returns: &returns,
        threads,
    };
    Ok(reports.write_all()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inbox_is_listed_in_path_order_without_hidden_or_owner_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // `a` before `a-b` and `a.xlsx` by component, though `-` and `.` sort before `/`.
        for f in [
            "a/x.csv",
            "a/b/y.csv",
            "a-b",
            "a.xlsx",
            "5月10日/南河村.xlsx",
            "5月9日/z.csv",
            "b/.hidden",
            "b/~$owner.xlsx",
        ] {
            let path = root.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, f).unwrap();
        }
        let listed: Vec<PathBuf> = list_files(root).unwrap().into_iter().map(|l| l.path).collect();
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);
        let names: Vec<String> =
            listed.iter().map(|p| p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/")).collect();
        assert_eq!(names, ["5月10日/南河村.xlsx", "5月9日/z.csv", "a/b/y.csv", "a/x.csv", "a-b", "a.xlsx"]);
    }
}

//! `wangge validate`: check configuration without touching data.

use std::path::Path;

use clap::Args;

use super::{CommandResult, ExitStatus, Failure};
use crate::config::Workspace;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Treat warnings as errors (for CI and cron).
    #[arg(long)]
    deny_warnings: bool,
}

pub fn run(workspace: &Path, args: ValidateArgs) -> CommandResult {
    let ws = match Workspace::load(workspace) {
        Ok(ws) => ws,
        Err(errors) => {
            for e in &errors {
                say!("error: {e}");
            }
            return Err(Failure::usage(anyhow::anyhow!("{} problem(s) in the workspace configuration", errors.len())));
        }
    };
    let mut problems = 0;
    let forms_dir = ws.path(&ws.config.paths.pipelines).join("forms");
    match crate::config::forms::load_forms(&forms_dir) {
        Ok(forms) => say!("Checked {} form declaration(s) in `{}`", forms.len(), forms_dir.display()),
        Err(errors) => {
            for e in &errors {
                say!("error: {e}");
            }
            problems += errors.len();
        }
    }
    // Every step of every pipeline planned against the declared schemas, no data read.
    match crate::runner::plan_pipelines(&ws, crate::clock::today()) {
        Ok((pipelines, steps, found)) => {
            for e in &found {
                say!("error: {e}");
            }
            problems += found.len();
            if found.is_empty() {
                say!("Planned {steps} SQL step(s) of {pipelines} pipeline(s)");
            }
        }
        Err(crate::runner::RunError::Config(errors)) => {
            for e in &errors {
                say!("error: {e}");
            }
            problems += errors.len();
        }
        Err(e) => return Err(Failure::run(e)),
    }
    let templates = ws.path(&ws.config.paths.report_templates);
    match tera::Tera::new(&format!("{}/**/*.html", templates.display())) {
        Ok(t) => {
            say!("Checked {} report template(s) in `{}`", t.get_template_names().count(), templates.display())
        }
        Err(e) => {
            say!("error: {}: {e}", templates.display());
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                say!("  Caused by: {cause}");
                source = cause.source();
            }
            problems += 1;
        }
    }
    match crate::runner::daily::recipients(&ws) {
        Ok(list) => {
            say!("Checked {} recipient(s) in `{}`", list.len(), ws.path(&ws.config.delivery.recipients).display())
        }
        Err(crate::runner::RunError::Deliver(crate::deliver::DeliverError::Recipients(errors))) => {
            for e in &errors {
                say!("error: {e}");
            }
            problems += errors.len();
        }
        Err(e) => return Err(Failure::run(e)),
    }
    if problems > 0 {
        return Err(Failure::usage(anyhow::anyhow!(
            "{problems} problem(s) in the workspace's pipelines, templates and recipients"
        )));
    }
    let warnings = ws.warnings();
    for w in &warnings {
        say!("warning: {w}");
    }
    if args.deny_warnings && !warnings.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!("{} warning(s) and `--deny-warnings` is set", warnings.len())));
    }
    say!("Checked `{}`: no problems", ws.root.join(crate::config::CONFIG_FILE).display());
    Ok(ExitStatus::Success)
}

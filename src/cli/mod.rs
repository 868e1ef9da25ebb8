//! The command line: argument parsing, messages to the user, and exit statuses. The only
//! module that prints.

/// Everything the command line tells the user on stderr: file and sheet names, messages and
/// errors can hold text from the files, so IDs and mobile numbers are masked on the way out.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::privacy::redact(&format!($($arg)*)))
    };
}

mod ballista;
mod compact;
mod daily;
mod deliver;
mod demo_data;
mod explain;
mod ingest;
mod init;
mod logging;
mod query;
mod run;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit statuses, documented in the README for cron alerting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything asked for was done.
    Success = 0,
    /// The data has problems beyond the configured thresholds (missing submissions, reject
    /// share, failed checks); outputs were written.
    DataProblems = 1,
    /// Bad arguments or invalid configuration; nothing was done.
    UsageOrConfig = 2,
    /// Something could not be written or delivered.
    OutputFailure = 3,
    /// Another run holds the workspace lock.
    Busy = 4,
}

impl From<crate::runner::manifest::Verdict> for ExitStatus {
    fn from(verdict: crate::runner::manifest::Verdict) -> ExitStatus {
        use crate::runner::manifest::Verdict as V;
        match verdict {
            V::Success => ExitStatus::Success,
            V::DataProblems => ExitStatus::DataProblems,
            V::UsageOrConfig => ExitStatus::UsageOrConfig,
            V::OutputFailure => ExitStatus::OutputFailure,
        }
    }
}

/// A failed command: what to say and which status to exit with.
pub struct Failure {
    pub status: ExitStatus,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure { status: ExitStatus::UsageOrConfig, error: error.into() }
    }

    pub fn output(error: impl Into<anyhow::Error>) -> Failure {
        Failure { status: ExitStatus::OutputFailure, error: error.into() }
    }

    /// A stage's error: the user's to fix (configuration, arguments), another run's lock, or
    /// the output's.
    pub fn run(error: crate::runner::RunError) -> Failure {
        use crate::runner::RunError as E;
        use crate::runner::lock::LockError;
        if let E::Lock(LockError::Busy { .. }) = error {
            return Failure { status: ExitStatus::Busy, error: error.into() };
        }
        Failure { status: ExitStatus::from(error.verdict()), error: error.into() }
    }
}

pub type CommandResult = Result<ExitStatus, Failure>;

/// Applies `--engine` to the workspace's `[engine]`.
fn choose_engine(ws: &mut crate::config::Workspace, engine: Option<&str>) -> Result<(), Failure> {
    match engine {
        Some(engine) => ws.config.engine.choose(engine).map_err(|e| Failure::usage(anyhow::anyhow!(e))),
        None => Ok(()),
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "wangge",
    version,
    about = "Batch pipeline and daily reports for grid-based community management (网格化管理)"
)]
#[command(
    after_help = "Examples:\n  wangge demo-data sample --days 3\n  wangge --workspace sample daily --date 2022-05-10\n  wangge --workspace sample validate\n  wangge init my-district"
)]
struct Cli {
    /// The workspace folder (holds `wangge.toml`).
    #[arg(long, global = true, env = "WANGGE_WORKSPACE", default_value = ".")]
    workspace: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a workspace: `wangge.toml`, folders, bundled pipelines and report templates, and a
    /// private pseudonymisation key.
    Init(init::InitArgs),
    /// Write the synthetic sample district (the founding article's 784 grids) into a new
    /// workspace, with `truth.json` saying what a correct ingest must make of every row.
    DemoData(demo_data::DemoDataArgs),
    /// Read the inbox into the warehouse, accounting for every row (accepted, rejected with a
    /// reason, or skipped with a reason).
    Ingest(ingest::IngestArgs),
    /// Check the workspace's configuration without touching data; report every problem at once.
    Validate(validate::ValidateArgs),
    /// Say what ingest makes of some files and why, writing nothing: every sheet's header
    /// rows, each column's field and the evidence for it, the report date and community and
    /// where they came from, and the fate of the first rows.
    Explain(explain::ExplainArgs),
    /// Run a declared pipeline (SQL steps and checks) for a report date.
    Run(run::RunArgs),
    /// Query the warehouse and marts with SQL.
    Query(query::QueryArgs),
    /// The cron job: ingest, run the daily pipeline and its checks, render and deliver the
    /// reports, and record the run in `runs/<date>/`. One run at a time per workspace.
    Daily(daily::DailyArgs),
    /// Deliver the reports already rendered for a date (email, or `.eml` files in the outbox).
    Deliver(deliver::DeliverArgs),
    /// Rewrite the warehouse as a few Parquet files per table and year (ingest does this for what
    /// it writes, and the first run on a warehouse of an earlier version moves it into years).
    Compact(compact::CompactArgs),
    /// Run a role of an Apache Ballista cluster (scheduler or executor), for the pipelines of
    /// a city that outgrows one PC (`[engine] kind = "ballista"` or `--engine`).
    Ballista(ballista::BallistaArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    crate::configure_allocator();
    crate::guard::install_hook();
    logging::init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Init(args) => init::run(args),
        Command::DemoData(args) => demo_data::run(args),
        Command::Ingest(args) => ingest::run(&cli.workspace, args),
        Command::Validate(args) => validate::run(&cli.workspace, args),
        Command::Explain(args) => explain::run(&cli.workspace, args),
        Command::Run(args) => run::run(&cli.workspace, args),
        Command::Query(args) => query::run(&cli.workspace, args),
        Command::Daily(args) => daily::run(&cli.workspace, args),
        Command::Deliver(args) => deliver::run(&cli.workspace, args),
        Command::Compact(args) => compact::run(&cli.workspace, args),
        Command::Ballista(args) => ballista::run(args),
    };
    let status = match outcome {
        Ok(status) => status,
        Err(failure) => {
            print_error(&failure.error);
            failure.status
        }
    };
    ExitCode::from(status as u8)
}

fn resend(all: bool, unconfirmed: bool) -> crate::deliver::Resend {
    match (all, unconfirmed) {
        (true, _) => crate::deliver::Resend::All,
        (false, true) => crate::deliver::Resend::Unconfirmed,
        (false, false) => crate::deliver::Resend::None,
    }
}

/// uv-style error output: `error:` head, one `Caused by:` line per cause.
fn print_error(error: &anyhow::Error) {
    say!("error: {error}");
    for cause in error.chain().skip(1) {
        say!("  Caused by: {cause}");
    }
}
